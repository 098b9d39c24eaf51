# Helpers for guest scenarios (busybox sh). Each check prints one line
# "PASS name" or "FAIL name: why"; the host counts them.
failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() { # check NAME CMD...: PASS if CMD succeeds
  name=$1; shift
  if "$@"; then pass "$name"; else fail "$name: '$*' exited $?"; fi
}
finish() { [ "$failures" = 0 ]; exit $?; }
# plan N: the number of PASS/FAIL lines the scenario prints when it runs
# through with its arguments. Once, near the top, before the first check.
# The host adds up every PLAN line of a guest and fails the scenario when
# fewer lines were printed (a check skipped, a script that stopped early);
# a script run by another plans its own lines, the caller does not count
# them.
plan() { echo "PLAN $1"; }

# offload_on TIMEOUT_MS [SWDMA_PARAM=VALUE...]: swdma with 4 channels and
# the given personality, dcbm on all 4 with no thresholds.
offload_on() {
  t=$1; shift
  load swdma channels=4 "$@"
  echo "swdma personality: ${*:-default}"
  load dcbm
  echo 0 > /sys/module/dcbm/min_batch_bytes
  echo 0 > /sys/module/dcbm/min_folio_bytes
  echo 4 > /sys/module/dcbm/nr_dma_chan
  echo "$t" > /sys/module/dcbm/timeout_ms
  echo 1 > /sys/module/dcbm/offloading
}

# offload_off: the checks that end a scenario started with offload_on:
# disabling releases every channel and descriptor, both modules unload,
# the kernel log is clean. OFFLOAD_OFF_CHECKS lines, for plan.
# shellcheck disable=SC2034 # used by the scenarios
OFFLOAD_OFF_CHECKS=5
offload_off() {
  check "disable" sh -c "echo 0 > /sys/module/dcbm/offloading"
  check "no descriptor left once the channels are released" test "$(cat /sys/module/swdma/parameters/descriptors)" = 0
  check "rmmod dcbm" rmmod dcbm
  check "rmmod swdma" rmmod swdma
  check "kernel log clean" kernel_log_clean
}

# Descriptors queued or running on the software engine, all channels.
queued() {
  sed -n 's/.* queued \([0-9]*\)$/\1/p' /sys/kernel/debug/swdma/stats | awk '{ n += $1 } END { print n + 0 }'
}

load() { # load MODULE [PARAMS...]
  m=$1; shift
  insmod "/modules/$m.ko" "$@" || { fail "insmod $m $*"; finish; }
}

# Runs migrate-check and keeps its RESULT json in $RESULT.
migrate() {
  out=$(migrate-check "$@" 2>/tmp/migrate.err); rc=$?
  RESULT=$(echo "$out" | sed -n 's/^RESULT //p' | tail -1)
  [ $rc = 0 ] || { cat /tmp/migrate.err; echo "$out"; }
  return $rc
}

json_num() { # json_num KEY: number from $RESULT
  echo "$RESULT" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

sysfs_read() { cat "/sys/module/dcbm/$1"; }

dmesg_has() { dmesg | grep -q "$1"; }

# loops_start SIZE_MIB: two migrate-check loops in the background, of
# 4 KiB pages and of THPs, each checking every byte of every round, until
# loops_end.
loops_start() {
  migrate-check loop --seconds 600 --size-mib "$1" --page 4k >/tmp/loop4k.out 2>&1 &
  loop4k=$!
  migrate-check loop --seconds 600 --size-mib "$1" --page thp >/tmp/loopthp.out 2>&1 &
  loopthp=$!
}

# loops_end [WHILE]: stops them and prints their results; two checks.
loops_end() {
  kill -TERM "$loop4k" "$loopthp"
  wait "$loop4k"; r4k=$?
  wait "$loopthp"; rthp=$?
  for f in /tmp/loop4k.out /tmp/loopthp.out; do sed -n 's/^RESULT /loop: /p' $f; done
  check "4 KiB loop kept every byte${1:+ $1} (exit $r4k)" test $r4k = 0
  check "THP loop kept every byte${1:+ $1} (exit $rthp)" test $rthp = 0
}

# Fails when the kernel log shows a bug, warning, lockdep or sleep report.
kernel_log_clean() {
  ! dmesg | grep -E 'BUG:|WARNING:|Oops|possible circular locking|sleeping function called from invalid context|inconsistent lock state|DMA-API: .*(driver|leak|error)'
}

# personality_plan SWDMA_PARAM=VALUE...: how many lines personality_checks
# prints for the same arguments (keep the two in step).
personality_plan() {
  pp=0
  for kv in "$@"; do
    case $kv in
      pool=*|iommu=1) pp=$((pp + 2)) ;;
      max_xfer=*|copy_align=*|max_seg=*|null_result=1) pp=$((pp + 1)) ;;
      driver=swdma) ;;
      driver=ioatdma) pp=$((pp + 1)) ;;
      driver=*) pp=$((pp + 2)) ;;
    esac
  done
  echo $pp
}

# personality_checks SWDMA_PARAM=VALUE...: what each provider personality
# of swdma must have made dcbm do, once migrations have run.
personality_checks() {
  E=/sys/module/dcbm/engine P=/sys/module/swdma/parameters
  block=0
  case " $* " in *" pool_block=1 "*) block=1 ;; esac
  for kv in "$@"; do
    case $kv in
      pool=*)
        check "the pool of ${kv#pool=} was never exceeded" test "$(cat $P/max_outstanding)" -le "${kv#pool=}"
        if [ $block = 1 ]; then
          check "a full pool made prep wait (idxd-style)" test "$(cat $P/pool_waits)" -gt 0
        else
          check "a full pool made batches wait, not fail" test "$(cat $E/pool_waits)" -gt 0
        fi ;;
      max_xfer=*)
        check "copies cut to the engine's limit" dmesg_has "refuses longer copies" ;;
      copy_align=*)
        check "no copy broke the engine's alignment" test "$(cat $P/align_rejects)" = 0 ;;
      max_seg=*)
        # The mapping limit is not a copy limit: a THP batch over its two
        # leased channels is two descriptors per THP, not one per
        # max_seg bytes (32 per THP at 64 KiB).
        echo 0 > /sys/module/dcbm/offloading; echo 1 > /sys/module/dcbm/offloading
        echo 0 > $E/descriptors; echo 0 > /sys/module/dcbm/folios_migrated
        migrate run --size-mib 8 --page thp --rounds 1
        n=$(cat $E/descriptors) m=$(cat /sys/module/dcbm/folios_migrated)
        check "THP copies not cut at the ${kv#max_seg=}-byte mapping limit: $n descriptors for $m THPs" \
          sh -c "test $m -gt 0 && test $n -le $((2 * m))" ;;
      driver=swdma) ;;
      driver=*)
        # dcbm trusts no abort but swdma's: an untrusted channel is waited
        # for, never terminated (its terminate may stop nothing).
        check "no abort on a provider whose abort is not trusted (${kv}): terminates=$(cat $P/terminates)" \
          test "$(cat $P/terminates)" = 0
        # Only ioatdma (and swdma) call back a descriptor that asked for no
        # interrupt (driver/providers.rs): on any other each asks for one.
        if [ "$kv" != driver=ioatdma ]; then
          n=$(cat $P/interrupt_requests) m=$(cat $P/preps)
          check "every descriptor asked for an interrupt on ${kv#driver=} ($n of $m)" \
            sh -c "test $m -gt 0 && test $n = $m"
        fi ;;
      null_result=1)
        # The engine hides its errors (a NULL result reads as success): only
        # verify-after-copy, on by default for such a provider, finds them.
        check "the engine's hidden errors found by verify ($(cat $E/verify_mismatches) mismatches in $(cat $E/verified_batches) verified batches)" \
          test "$(cat $E/verify_mismatches)" -gt 0 ;;
      iommu=1)
        check "mapped through the IOMMU (segments merged)" test "$(cat $E/merged_maps)" -gt 0
        check "the engine translated IOVAs" test "$(cat $P/iova_translations)" -gt 0 ;;
    esac
  done
}

# A hung engine (swdma hang=1) is restarted once dcbm has handled the
# timeout, not after a fixed delay: on a loaded host setting up the
# migration can take longer than any delay, and the timeout under test
# would never happen. Handled means engine/aborted rose (the provider can
# terminate: the batch was aborted) or engine/waited_out rose (it cannot:
# the batch now waits for its descriptors, and keeps waiting until the
# hang is cleared). Both are counted as soon as the timeout is handled,
# before that wait (driver/batch.rs copy(); Tracker::settle's "still
# running after the timeout ... waiting for them" comes timeout_ms later).
#
# One more event: on an idxd-style provider (swdma pool_block=1) the
# prep of a descriptor sleeps while the pool is full, so on a hung engine
# the batch sleeps inside the provider's prep, where no timeout of dcbm's
# can run, for as long as the engine hangs. Once swdma's pool_waits shows
# such a prep and twice the batch's timeout has passed in it, the engine
# is restarted: the batch then finds its deadline passed and fails over.
HANG_WATCH_S=120
hang_handled() {
  [ "$(cat /sys/module/dcbm/engine/aborted)" != "$hw_aborted" ] ||
    [ "$(cat /sys/module/dcbm/engine/waited_out)" != "$hw_waited" ] ||
    prep_blocked_past_timeout
}
# Centiseconds since boot: `date +%s` counts whole seconds, and with a
# 300 ms timeout_ms its "2 x timeout" came to 0 s, so the watcher could
# clear the hang within a tick of the pool filling, before dcbm's limit
# ran out (a hang run that then saw no timeout at all).
uptime_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
prep_blocked_past_timeout() {
  if [ -z "$hw_blocked" ]; then
    [ "$(cat /sys/module/swdma/parameters/pool_waits 2>/dev/null || echo 0)" != "$hw_pool_waits" ] || return 1
    hw_blocked=$(uptime_cs)
  fi
  [ $(($(uptime_cs) - hw_blocked)) -gt $((2 * $(cat /sys/module/dcbm/timeout_ms) / 10)) ]
}
# hang_watch: before the migration that is to time out (nothing running on
# the engine yet). A background watcher clears the hang once the timeout
# is handled, or after HANG_WATCH_S seconds anyway (exit 1), so that a
# guest never hangs; hang_watch_end says which.
hang_watch() {
  hw_aborted=$(cat /sys/module/dcbm/engine/aborted)
  hw_waited=$(cat /sys/module/dcbm/engine/waited_out)
  hw_pool_waits=$(cat /sys/module/swdma/parameters/pool_waits 2>/dev/null || echo 0)
  hw_blocked=""
  (
    end=$(( $(date +%s) + HANG_WATCH_S ))
    rc=0
    until hang_handled; do
      if [ "$(date +%s)" -ge $end ]; then rc=1; break; fi
      sleep 0.1
    done
    echo 0 > /sys/module/swdma/parameters/hang
    exit $rc
  ) &
  hw_pid=$!
}
# hang_watch_end now|wait: waits for the watcher. "now": the migration
# that was to time out has returned, so no timeout can come any more: the
# watcher is stopped first unless the timeout was handled. "wait": the
# batch is another process's, which may still be waiting for the engine.
# The hang is cleared either way. Returns 0 if dcbm handled the timeout;
# otherwise sets $hang_why.
hang_watch_end() {
  [ "$1" = now ] && ! hang_handled && kill "$hw_pid" 2>/dev/null
  wait "$hw_pid"; hw_rc=$?
  echo 0 > /sys/module/swdma/parameters/hang
  # shellcheck disable=SC2034 # read by the caller
  case $hw_rc in
    0) return 0 ;;
    1) hang_why="dcbm did not handle the engine's timeout within ${HANG_WATCH_S}s (engine/aborted and engine/waited_out unchanged; hang cleared anyway)" ;;
    *) hang_why="the migration returned and dcbm never handled the engine's timeout (engine/aborted and engine/waited_out unchanged)" ;;
  esac
  return 1
}
