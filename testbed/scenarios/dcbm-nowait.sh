# The caller-context rule (the test bed's patch 6 of either series, or
# dcbm's own on the series as posted): a
# migration from reclaim or direct compaction is a no-wait call, which
# must return within MIGRATE_OFFLOAD_NOWAIT_MS (100 ms) with nothing left
# running, whatever the engine does. Here the engine hangs while
# compact-check fragments memory and faults in THPs, so the page allocator
# compacts directly; dcbm must abort after a quarter of it (25 ms), or, on a
# provider that cannot abort, decline before submitting anything.
#
#   dcbm-nowait.sh [SWDMA_PARAM=VALUE...]   e.g. terminate=0
. ./lib.sh
D=/sys/module/dcbm
E=$D/engine
P=/sys/module/swdma/parameters
offload_on 2000 "$@"
noterm=0
case "$(cat $P/terminate)" in N|0) noterm=1 ;; esac
# 5 checks, 1 (cannot abort) or 2 (can) for the abort, offload_off's.
plan $((5 + 2 - noterm + OFFLOAD_OFF_CHECKS))
# Who states the rule: the kernel's header (the test bed's patch 6), or,
# on a series as posted (release -dcbm-posted, -dcbm-v6-posted), dcbm
# itself from the task's PF_MEMALLOC.
case "$(uname -r)" in *-posted) rule=dcbm ;; *) rule=kernel ;; esac
check "the caller-context rule comes from the $rule" test "$(cat $D/caller_rule)" = $rule
echo always > /sys/kernel/mm/transparent_hugepage/defrag
# NUMA balancing (hinting faults on compact-check's pages, which spill to
# the other node) and kcompactd's proactive compaction are may-wait
# callers: on the hung engine each of their batches would wait out
# timeout_ms. Both off, so that direct compaction does the migrating here.
echo 0 > /proc/sys/kernel/numa_balancing
echo 0 > /proc/sys/vm/compaction_proactiveness
# Progress on the console while it runs.
(while sleep 20; do
  echo "progress: nowait_batches=$(cat $E/nowait_batches) nowait_declines=$(cat $E/nowait_declines) aborted=$(cat $E/aborted) batches=$(cat $D/timing/batches) failures=$(cat $D/folios_failures)"
done) &
progress=$!
for c in batches setup_ns wait_ns teardown_ns; do echo 0 > $D/timing/$c; done
# The engine stalls once memory is fragmented, before the THP faults.
out=$(compact-check 92% 256 256 sh -c "echo 1 > $P/hang")
rc=$?
kill $progress
echo 0 > $P/hang
RESULT=$(echo "$out" | sed -n 's/^RESULT //p')
nb=$(cat $E/nowait_batches) max=$(cat $E/nowait_max_us) nd=$(cat $E/nowait_declines)
echo "direct compaction with a hung engine: $RESULT nowait_batches=$nb nowait_max_us=$max nowait_declines=$nd aborted=$(cat $E/aborted) waited_out=$(cat $E/waited_out)"
echo "timing: batches=$(cat $D/timing/batches) setup_ns=$(cat $D/timing/setup_ns) wait_ns=$(cat $D/timing/wait_ns) teardown_ns=$(cat $D/timing/teardown_ns)"
check "every page kept its contents" test "$rc" = 0
check "direct compaction offered no-wait batches ($nb)" test "$nb" -gt 0
if [ $noterm = 1 ]; then
  check "cannot abort: every no-wait batch declined ($nd of $nb)" test "$nd" = "$nb"
else
  check "no-wait batches on the hung engine were aborted" test "$(cat $E/aborted)" -gt 0
  check "no no-wait batch waited for the engine" test "$(cat $E/waited_out)" = 0
fi
check "the longest no-wait call took $max us, within the series' 100 ms" test "$max" -le 100000
# (The series as posted does not time these calls: vacuous there.)
check "the core saw no no-wait overrun" sh -c "! dmesg | grep -q 'over a no-wait copy'"
offload_off
finish
