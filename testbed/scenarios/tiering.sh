# The tiered machine's own migrations through dcbm (vm/run --tiered):
# demotion under memory pressure (kswapd and direct reclaim: no-wait
# calls), promotion by NUMA balancing's tiering mode, kcompactd's
# proactive compaction. Each shows in its reason's row under
# /sys/module/dcbm/reasons/, with every byte and every write intact.
# Demotion runs on a healthy engine, and with `engines` on a failing and
# a hung one too; on a v6 kernel the reason mask is checked: with demotion
# masked off, demotion goes on by the CPU and its row stays 0. Last,
# demotion while every allocation kswapd would make inside dcbm fails:
# no batch is declined for memory.
#   tiering.sh [engines]
. ./lib.sh
D=/sys/module/dcbm
R=$D/reasons
P=/sys/module/swdma/parameters

# vm NAME: a /proc/vmstat counter
vm() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
demoted() { echo $(($(vm pgdemote_kswapd) + $(vm pgdemote_direct))); }
# row REASON FIELD: one value of a reason's row
row() { awk -v k="$2" '$1 == k { print $2 }' "$R/$1"; }
row_line() { tr '\n' ' ' < "$R/$1"; }
reset_row() { echo 0 > "$R/$1"; }

offload_on 10000
iface=$(cat $D/interface)
engines=${1:-}
n=18
[ "$engines" = engines ] && n=$((n + 8))
[ "$iface" = v6 ] && n=$((n + 3))
plan $((n + OFFLOAD_OFF_CHECKS))
echo 1 > /sys/kernel/mm/numa/demotion_enabled

# demote LABEL: the pressure workload (a 384 MiB region on node 0, written
# to all along, while 640 MiB more are bound to node 0); sets rc, out,
# RESULT, moved (pages the kernel demoted), and the reclaim stall.
demote() {
  before=$(demoted) st0=$(vm allocstall_normal)
  out=$(migrate-check pressure --size-mib 384 --hot-mib 640 --page 4k --from-node 0 --to-node 1 2>/tmp/pressure.err)
  rc=$?
  moved=$(($(demoted) - before)) stalls=$(($(vm allocstall_normal) - st0))
  RESULT=$(echo "$out" | sed -n 's/^RESULT //p' | tail -1)
  [ $rc = 0 ] || { tail -5 /tmp/pressure.err; echo "$out"; }
  echo "$1: $RESULT; pages demoted $moved, direct reclaim stalls $stalls"
  echo "$1: demotion row: $(row_line demotion)"
}
intact() {
  check "$1: every byte and every write intact (migrate-check exit $rc, lost writes $(json_num lost_writes), $(json_num pages_on_to_node) of the written region's pages demoted)" \
    sh -c "test $rc = 0 && test $(json_num lost_writes) = 0"
}

# 1. Healthy engine. (Each phase resets the row it checks.)
for f in "$R"/*; do echo 0 > "$f"; done
echo 0 > $D/engine/nowait_max_us
demote healthy
intact "demotion, healthy engine"
check "the kernel demoted pages to node 1 ($moved), some of them written to while they moved ($(json_num pages_on_to_node))" \
  sh -c "test $moved -gt 0 && test $(json_num pages_on_to_node) -gt 0"
check "demotion went through dcbm: $(row demotion batches) batches offered, $(row demotion folios_copied) folios copied by DMA" \
  sh -c "test $(row demotion folios_copied) -gt 0"
check "demotion batches were no-wait calls, the longest $(cat $D/engine/nowait_max_us) us (at most 100 ms)" \
  sh -c "test $(cat $D/engine/nowait_batches) -gt 0 && test $(cat $D/engine/nowait_max_us) -le 100000"
check "no demotion batch declined for memory (declined_memory $(row demotion declined_memory))" \
  test "$(row demotion declined_memory)" = 0
# (A healthy engine may still miss a no-wait call's 25 ms under TCG on a
# busy host: those batches go to the CPU, and the channel comes back.)
check "most of it by DMA: $(row demotion folios_copied) of $(row demotion folios) folios offered, at least 90%" \
  sh -c "test $(( $(row demotion folios_copied) * 10 )) -ge $(( $(row demotion folios) * 9 ))"

# 2. Promotion: NUMA balancing's tiering mode moves the hot pages of the
# lower tier back to node 0.
echo 2 > /proc/sys/kernel/numa_balancing
S=/sys/kernel/debug/sched/numa_balancing
if [ -d $S ]; then
  echo 100 > $S/scan_delay_ms
  echo 100 > $S/scan_period_min_ms
fi
reset_row numa_misplaced
p0=$(vm pgpromote_success)
out=$(migrate-check stall --seconds 6 --size-mib 32 --page 4k --from-node 1 --to-node 0 2>/tmp/stall.err)
rc=$?
promoted=$(($(vm pgpromote_success) - p0))
RESULT=$(echo "$out" | sed -n 's/^RESULT //p' | tail -1)
echo "promotion: $RESULT; pages promoted $promoted"
echo "promotion: numa_misplaced row: $(row_line numa_misplaced)"
check "promotion: every byte intact (migrate-check exit $rc)" test $rc = 0
check "the kernel promoted pages to node 0 ($promoted; $(json_num pages_on_to_node) of $(json_num pages) there at the end)" \
  sh -c "test $promoted -gt 0"
check "promotion went through dcbm (numa_misplaced: $(row numa_misplaced folios_copied) folios copied by DMA)" \
  sh -c "test $(row numa_misplaced folios_copied) -gt 0"
echo 0 > /proc/sys/kernel/numa_balancing

# 3. kcompactd's proactive compaction: holes in part of free memory (not
# so much that kswapd runs: kcompactd then leaves the node alone), then
# proactiveness 100 (the write wakes kcompactd), until kcompactd moved one
# of the kept pages. Where the pages land is up to the allocator: taken
# from the top of the zone, where the free scanner works, none of them is
# moved (the kernel compacts other pages: its own, the page cache; a CI
# run once saw kcompactd scan 383487 pages in 5 s and dcbm offered none);
# each try takes more of the free memory, down into the part that the
# migration scanner walks.
echo 0 > /sys/kernel/mm/numa/demotion_enabled
reset_row compaction
k0=$(vm compact_daemon_migrate_scanned)
old=$(cat /proc/sys/vm/compaction_proactiveness)
crc=0 tries=""
for size in 25% 40% 55%; do
  echo "$old" > /proc/sys/vm/compaction_proactiveness
  out=$(compact-check --wait-moved 20 $size 2 0 sh -c 'echo 100 > /proc/sys/vm/compaction_proactiveness' 2>/tmp/compact.err)
  rc=$?
  [ $rc = 0 ] || crc=$rc
  RESULT=$(echo "$out" | sed -n 's/^RESULT //p')
  echo "compaction ($size): $RESULT"
  tries="$tries $size: $(json_num moved) of $(json_num pages);"
  [ "$(json_num moved)" -gt 0 ] && break
done
echo "$old" > /proc/sys/vm/compaction_proactiveness
scanned=$(($(vm compact_daemon_migrate_scanned) - k0))
echo "compaction: kcompactd scanned $scanned pages; row: $(row_line compaction)"
check "compaction: every page intact (compact-check exit $crc)" test $crc = 0
check "kcompactd moved kept pages (moved of kept, per try:$tries scanned $scanned)" \
  test "$(json_num moved)" -gt 0
check "compaction went through dcbm ($(row compaction folios_copied) folios copied by DMA; row: $(row_line compaction))" \
  sh -c "test $(row compaction folios_copied) -gt 0"
# What an operator sees of the three (the README's example).
dcbm-config status --interval 0 | sed -n '/^by reason:/,/^providers:/p'
# The files: one per reason the kernel offers, and `unknown`; a write
# resets a row.
missing=""
for r in $(tr , ' ' < $D/reasons_available) unknown; do [ -f "$R/$r" ] || missing="$missing $r"; done
check "reasons/ has a file for each reason the kernel offers and unknown (missing:${missing:- none})" test -z "$missing"
reset_row demotion
check "a write resets a reason's row ($(row_line demotion))" \
  sh -c "! grep -v ' 0$' $R/demotion"
echo 1 > /sys/kernel/mm/numa/demotion_enabled

# 4. A failing engine (every transfer fails): demotion falls back to the
# CPU, nothing lost.
if [ "$engines" = engines ]; then
  reset_row demotion
  echo -1 > $P/fail_transfer
  demote failing
  echo 0 > $P/fail_transfer
  intact "demotion, failing engine"
  check "failing engine: the kernel still demoted ($moved pages)" test "$moved" -gt 0
  check "failing engine: dcbm saw the failures or paused (folios_failed $(row demotion folios_failed), declined_unhealthy $(row demotion declined_unhealthy))" \
    sh -c "test $(($(row demotion folios_failed) + $(row demotion declined_unhealthy))) -gt 0"
  wait_healthy() {
    # The prober brings the channels back after its back-off.
    for _ in $(seq 60); do [ "$(cat $D/engine/paused)" = 0 ] && ! grep -qv in-pool $D/engine/health && return 0; sleep 1; done
    return 1
  }
  check "the engine back in use after the failures ($(tr '\n' ';' < $D/engine/health))" wait_healthy

  # 5. A hung engine during demotion: no-wait calls give up within their
  # bound, the CPU copies, nothing lost.
  reset_row demotion; echo 0 > $D/engine/nowait_max_us
  echo 1 > $P/hang
  demote hung
  echo 0 > $P/hang
  intact "demotion, hung engine"
  check "hung engine: the kernel still demoted ($moved pages)" test "$moved" -gt 0
  check "hung engine: the longest no-wait call $(cat $D/engine/nowait_max_us) us (at most 100 ms)" \
    test "$(cat $D/engine/nowait_max_us)" -le 100000
  check "the engine back in use after the hang" wait_healthy
fi

# 6. v6: the reason mask. With demotion masked off, demotion goes on by
# the CPU and dcbm never sees it.
if [ "$iface" = v6 ]; then
  echo compaction,syscall_or_cpuset,numa_misplaced > $D/reason_mask
  reset_row demotion
  demote masked
  intact "demotion masked off"
  check "demotion masked off: the kernel demoted ($moved pages) by the CPU" test "$moved" -gt 0
  check "demotion masked off: dcbm was offered no demotion batch ($(row demotion batches))" \
    test "$(row demotion batches)" = 0
  echo all > $D/reason_mask
fi

# 7. kswapd without memory: demotion while every allocation kswapd would
# make inside dcbm fails. A batch allocates nothing (its channel's
# workspace), so none is declined for memory. Last: the kernel's DMA-API
# debugging allocates under dcbm's frames too (its cacheline tracking,
# for the mappings dcbm asks for) and turns itself off at the first
# failure.
# failslab (FAILSLAB with its stack filter) fails the slab allocations of
# the tasks marked make-it-fail that have a dcbm frame on their stack and
# no swdma one (the engine driver's own allocations are its business).
F=/sys/kernel/debug/failslab
INJECT=1000000
# text_range MODULE: a range that holds MODULE's code and no other
# module's: from its base (/proc/modules) to the next module's base or to
# its size (all its sections), whichever comes first. The module area's
# addresses share their upper 32 bits; only the lower ones are computed.
text_range() {
  set -- $(awk -v m="$1" '$1 == m { print $2, $6 }' /proc/modules)
  [ $# = 2 ] || return 1
  base=$2 hi=${2%????????}
  lo=$((0x${2#"$hi"}))
  end=$((lo + $1))
  for b in $(awk '{ print $6 }' /proc/modules); do
    [ "${b%????????}" = "$hi" ] || continue
    b=$((0x${b#"$hi"}))
    [ $b -gt $lo ] && [ $b -lt $end ] && end=$b
  done
  [ $end -le $((0xffffffff)) ] || return 1
  printf '%s %s%08x\n' "$base" "$hi" $end
}
failslab_arm() {
  set -- $(text_range dcbm) $(text_range swdma)
  [ $# = 4 ] || return 1
  echo "$1" > $F/require-start && echo "$2" > $F/require-end &&
    echo "$3" > $F/reject-start && echo "$4" > $F/reject-end &&
    echo 32 > $F/stacktrace-depth && echo Y > $F/task-filter &&
    echo N > $F/ignore-gfp-wait && echo 0 > $F/verbose && echo 1 > $F/interval &&
    echo $INJECT > $F/times && echo 100 > $F/probability
}
injected() { echo $((INJECT - $(cat $F/times))); }
kswapds() { for p in /proc/[0-9]*; do case $(cat $p/comm 2>/dev/null) in kswapd*) echo "${p#/proc/}" ;; esac; done; }

reset_row demotion
# The injection reaches dcbm: a channel resize by a task whose every
# allocation in dcbm fails is refused with ENOMEM and changes nothing.
failslab_arm || echo "failslab: cannot arm it"
chans=$(cat $D/nr_dma_chan)
err=$(sh -c "echo 1 > /proc/self/make-it-fail && echo 3 > $D/nr_dma_chan" 2>&1)
check "failslab reaches dcbm's allocations: a resize is refused ($err), nr_dma_chan still $(cat $D/nr_dma_chan), $(injected) failures injected" \
  sh -c "echo '$err' | grep -qi 'out of memory\|cannot allocate memory' && test $(cat $D/nr_dma_chan) = $chans && test $(injected) -gt 0"
echo $INJECT > $F/times
for p in $(kswapds); do echo 1 > /proc/$p/make-it-fail; done
k0=$(vm pgdemote_kswapd)
demote nomem
for p in $(kswapds); do echo 0 > /proc/$p/make-it-fail; done
echo 0 > $F/probability
intact "demotion, kswapd without memory"
# (The failures injected are the test kernel's DMA-API debugging, which
# allocates under dcbm's frames when dcbm maps: booted with dma_debug=off,
# none is.)
check "kswapd demoted pages ($(($(vm pgdemote_kswapd) - k0))) while every allocation it made in dcbm failed ($(injected) did)" \
  test $(($(vm pgdemote_kswapd) - k0)) -gt 0
check "kswapd without memory: no demotion batch declined for memory (declined_memory $(row demotion declined_memory)), $(row demotion folios_copied) of $(row demotion folios) folios copied by DMA" \
  sh -c "test $(row demotion declined_memory) = 0 && test $(row demotion folios_copied) -gt 0"

echo 0 > /sys/kernel/mm/numa/demotion_enabled
offload_off
finish
