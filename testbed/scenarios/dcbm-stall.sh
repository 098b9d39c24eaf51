# What a hung engine costs a working task: a task touches (writes) a
# 32 MiB THP region placed on node 1 while NUMA balancing moves it to the
# task's node 0 (MR_NUMA_MISPLACED, hinting faults, offloaded to dcbm).
# Healthy, then with the engine hung from the start: the longest gap
# between two of the task's page touches at most 1 s, the time lost to
# gaps of 10 ms or more at most 2 s in 12 s, the pages still moving (the
# CPU copies once the engine is out of use), every byte intact.
. ./lib.sh
D=/sys/module/dcbm
P=/sys/module/swdma/parameters
plan $((6 + OFFLOAD_OFF_CHECKS))
offload_on 10000
echo 1 > /proc/sys/kernel/numa_balancing
# Scan often, so that the region moves within the run.
S=/sys/kernel/debug/sched/numa_balancing
if [ -d $S ]; then
  echo 100 > $S/scan_delay_ms
  echo 100 > $S/scan_period_min_ms
fi
stall_run() {
  out=$(migrate-check stall --seconds 12 --size-mib 32 --page thp --from-node 1 --to-node 0 2>/tmp/stall.err)
  rc=$?
  RESULT=$(echo "$out" | sed -n 's/^RESULT //p' | tail -1)
  [ $rc = 0 ] || { cat /tmp/stall.err; echo "$out"; }
  longest=$(json_num longest_gap_ms) lost=$(json_num stall_ms) on=$(json_num pages_on_to_node)
  echo "$1: $RESULT"
}

echo 0 > $D/folios_migrated
stall_run healthy
check "healthy engine: NUMA balancing moved the pages to the task's node (${on:-?} of $(json_num pages)), by DMA (folios_migrated=$(cat $D/folios_migrated)); longest gap ${longest} ms, ${lost} ms lost" \
  sh -c "test $rc = 0 && test ${on:-0} -gt 0 && test $(cat $D/folios_migrated) -gt 0"

echo 0 > $D/folios_failures; echo 0 > $D/folios_declined
echo 1 > $P/hang
stall_run hung
echo 0 > $P/hang
check "hung engine: every byte intact (migrate-check exit $rc)" test $rc = 0
check "hung engine: the longest gap between two touches ${longest:-?} ms, at most 1000" \
  awk -v g="${longest:-99999}" 'BEGIN { exit !(g <= 1000) }'
check "hung engine: ${lost:-?} ms lost to stalls in 12 s, at most 2000" \
  awk -v g="${lost:-99999}" 'BEGIN { exit !(g <= 2000) }'
check "hung engine: the pages still moved (${on:-?} on the task's node), by the CPU (folios_failures=$(cat $D/folios_failures), folios_declined=$(cat $D/folios_declined))" \
  sh -c "test ${on:-0} -gt 0"
check "hung engine: the engine is out of use (paused=$(cat $D/engine/paused))" test "$(cat $D/engine/paused)" = 1
offload_off
finish
