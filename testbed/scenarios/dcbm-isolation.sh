# Batches are isolated from each other: two processes migrate at once and
# the engine fails only the first one's descriptors (swdma fault_pid). The
# second one's batches are copied by DMA, counted in folios_migrated, and
# none of them waits anywhere near timeout_ms.
#
#   dcbm-isolation.sh [SWDMA_PARAM=VALUE...]   the engine's personality
. ./lib.sh
# 4 isolations of 5 lines each, then offload_off's.
plan $((4 * 5 + OFFLOAD_OFF_CHECKS))
D=/sys/module/dcbm
P=/sys/module/swdma/parameters
timeout_ms=6000
offload_on $timeout_ms "$@"
# What is tested here is that one batch's failure never touches another
# batch on the engine (leases, aborts). With the health model on, the
# faulty process's first failure would take the channels out of the pool
# and the healthy process would be declined to the CPU, which dcbm-health
# tests: off here.
echo 0 > $D/health_strikes
# And the healthy process's batches are not cut short by a limit fitted
# to the engine's pace while the faulty one loads the host: at least a
# second each (a quarter of timeout_ms is the bound checked).
echo 1000 > $D/min_timeout_ms

# isolate NAME PAGE KNOB=VALUE...: the faulty process sets fault_pid to its
# own pid and the knobs, then migrates (and loops, so its failing batches
# overlap the healthy process's); the healthy one migrates meanwhile.
isolate() {
  name=$1 page=$2; shift 2
  size=8; [ $page = 4k ] && size=4
  for c in folios_migrated folios_failures; do echo 0 > $D/$c; done
  echo 0 > $D/timing/wait_ns; echo 0 > $D/timing/batches
  # A stalled engine is restarted once the faulty batch has timed out and
  # dcbm has handled it (aborted, or on a provider that cannot abort kept
  # waiting until then): lib.sh hang_watch, from before the faulty process
  # sets the hang.
  hung=0
  case " $* " in *" hang=1 "*) hung=1; hang_watch ;; esac
  sh -c "echo \$\$ > $P/fault_pid; for kv in $*; do echo \${kv#*=} > $P/\${kv%%=*}; done
         exec migrate-check loop --seconds 6 --size-mib 4 --page $page" \
    >/tmp/faulty.out 2>/tmp/faulty.err &
  faulty=$!
  # Let the faulty process get its first batch onto the engine (a failure
  # counted, or descriptors queued), however loaded the host; bounded.
  end=$(( $(date +%s) + 30 ))
  while [ "$(cat $D/folios_failures)" = 0 ] && [ "$(queued)" = 0 ]; do
    if [ "$(date +%s)" -ge $end ]; then
      fail "$name: the faulty process got no batch onto the engine within 30 s"
      break
    fi
    sleep 0.1
  done
  before=$(cat $D/folios_migrated)
  if migrate run --size-mib $size --page $page --chunk-pages 512 --rounds 1; then
    moved=$(json_num folios_moved) secs=$(json_num seconds)
    got=$(( $(cat $D/folios_migrated) - before ))
    echo "$name: healthy process moved $moved folios in ${secs}s; folios_migrated +$got (timeout_ms=$timeout_ms)"
    if [ "$got" -ge "$moved" ]; then pass "$name: the healthy process's folios went by DMA ($got >= $moved)"
    else fail "$name: only $got of the healthy process's $moved folios went by DMA"; fi
    # Each move_pages call is one batch (512 pages: 1 THP or 512 4 KiB
    # folios); none may wait anywhere near the timeout: a quarter at most.
    per=1; [ $page = 4k ] && per=512
    calls=$((moved / per))
    if awk -v s="$secs" -v c=$calls -v t=$timeout_ms 'BEGIN { exit !(c > 0 && s * 1000 / c < t / 4) }'; then
      pass "$name: the healthy process never waited near timeout_ms (${secs}s for its $calls batches)"
    else fail "$name: the healthy process took ${secs}s for $calls batches, timeout_ms is $timeout_ms"; fi
  else
    fail "$name: the healthy process's migration lost or corrupted data"
  fi
  # The faulty batch may still be stalled: wait for the watcher.
  if [ $hung = 1 ] && ! hang_watch_end wait; then fail "$name: $hang_why"; fi
  if wait $faulty; then pass "$name: the faulty process's bytes are intact"
  else fail "$name: the faulty process's migration lost or corrupted data"; cat /tmp/faulty.err; fi
  f=$(cat $D/folios_failures)
  [ "$f" -gt 0 ] && pass "$name: the faulty process's batches failed over to the CPU ($f folios)" ||
    fail "$name: no failure counted for the faulty process"
  for kv in "$@"; do echo 0 > $P/${kv%%=*}; done
  echo 1 > $P/fail_result
  echo 0 > $P/fault_pid
  check "$name: nothing left queued on the engine" test "$(queued)" = 0
  echo "$name: busy_declines=$(cat $D/engine/busy_declines) aborted=$(cat $D/engine/aborted) waited_out=$(cat $D/engine/waited_out)"
}

isolate "transfer errors" thp fail_transfer=-1
isolate "transfer errors" 4k fail_transfer=-1
isolate "hung engine" thp hang=1
isolate "late completions" thp late_ms=9000

offload_off
finish
