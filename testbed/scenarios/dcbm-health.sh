# Engine health (driver/health.rs): a channel in trouble leaves the pool at
# once, a device whose channels keep failing is benched, offloading pauses
# when no channel is left and resumes by itself once a probe passes; the
# batch time limit fits the batch, so a hung engine is found long before
# timeout_ms. Every transition is in engine/health, the counters and the
# kernel log. Prints the figures it checks.
#
#   dcbm-health.sh [figure]   (the default engine: it can abort a hung
#   copy; "figure": also the 256 MiB move on a hung engine, printed)
. ./lib.sh
figure=0
[ "${1:-}" = figure ] && figure=1
D=/sys/module/dcbm
E=$D/engine
P=/sys/module/swdma/parameters
# (each line below that prints PASS or FAIL, and offload_off's)
plan $((32 + OFFLOAD_OFF_CHECKS))
# The default timeout_ms: the fitted limit must find a hang long before it.
offload_on 10000

# states: the channels' states, sorted, e.g. "in-pool in-pool out out"
states() { awk '{ print $2 }' $E/health | sort | tr '\n' ' ' | sed 's/ $//'; }
# until_ok SECS CMD...: waits until CMD succeeds; false after SECS
until_ok() {
  n=$(($1 * 10)); shift
  while ! "$@"; do
    n=$((n - 1)); [ $n -gt 0 ] || return 1
    sleep 0.1
  done
}
all_in_pool() { [ "$(states)" = "in-pool in-pool in-pool in-pool" ]; }
none_in_pool() { ! grep -q ' in-pool ' $E/health; }
reset_counters() {
  for c in folios_migrated folios_failures folios_declined; do echo 0 > $D/$c; done
  for c in channels_out health_declines probes probe_failures; do echo 0 > $E/$c; done
}

# --- Healthy ---------------------------------------------------------------
check "four channels, all in the pool" all_in_pool
check "offloading not paused" test "$(cat $E/paused)" = 0
reset_counters
if migrate run --size-mib 8 --page thp --rounds 1 && [ "$(cat $D/folios_migrated)" -gt 0 ]; then
  pass "healthy engine: THPs copied by DMA ($(cat $D/folios_migrated) folios); rates: $(sed -n 's/.*rate_mbps=\([0-9]*\).*/\1/p' $E/health | tr '\n' ' ')MB/s"
else
  fail "healthy engine: no THP copied by DMA (folios_migrated=$(cat $D/folios_migrated))"
fi

# --- The engine hangs ------------------------------------------------------
reset_counters
echo 1 > $P/hang
if migrate run --size-mib 8 --page thp --rounds 1; then
  secs=$(json_num seconds)
  pass "hung engine: bytes intact, the batch fell back to the CPU (folios_failures=$(cat $D/folios_failures))"
  # 4 THPs in one batch; timeout_ms is 10 s: the fitted limit is about
  # 50 ms plus four times the copy time at the measured rate.
  check "hung engine found by the fitted limit: migration took ${secs}s, timeout_ms is 10 s" \
    awk -v s="$secs" 'BEGIN { exit !(s < 2) }'
else
  fail "hung engine: migration lost or corrupted data"
  pass "hung engine: (no timing, the migration failed)"
fi
# (A probe may be running by now: a channel reads out or probing.)
check "no channel left in the pool: $(states)" none_in_pool
check "the hung batch's channels timed out, and their device was benched (log)" \
  sh -c "dmesg | grep -q 'timed out: out of the pool' && dmesg | grep -q 'device benched'"
check "channels_out counts four: $(cat $E/channels_out)" test "$(cat $E/channels_out)" = 4
check "offloading paused" test "$(cat $E/paused)" = 1
f0=$(cat $D/folios_failures)
b0=$(cat $D/timing/batches) w0=$(cat $D/timing/wait_ns)
if migrate run --size-mib 8 --page thp --rounds 1; then
  secs=$(json_num seconds)
  check "paused: the next batch is declined, not failed (folios_failures $f0 -> $(cat $D/folios_failures), health_declines=$(cat $E/health_declines))" \
    sh -c "test $(cat $D/folios_failures) = $f0 && test $(cat $E/health_declines) -gt 0"
  # Counted, not timed: a CPU move of 8 MiB took 0.13-1.07 s under TCG
  # on a loaded host, and a wait for the engine shows in the counters.
  b1=$(cat $D/timing/batches) w1=$(cat $D/timing/wait_ns)
  check "paused: the CPU copy waits for nothing: no batch reached the engine (batches $b0 -> $b1, wait_ns $w0 -> $w1; ${secs}s)" \
    test "$b1" = "$b0" -a "$w1" = "$w0"
else
  fail "paused: migration lost or corrupted data"
  fail "paused: (no timing)"
fi
# Probes run after the back-off (100 ms, doubling) and fail while it hangs.
check "probes fail while the engine hangs (probes=$(cat $E/probes))" \
  until_ok 10 sh -c "test \$(cat $E/probe_failures) -ge 2"
check "still none in the pool after failed probes: $(states)" none_in_pool
check "a failed probe is the cause now" until_ok 10 grep -q 'cause=probe-failed' $E/health

# --- The engine recovers ---------------------------------------------------
echo 0 > $P/hang
t0=$(cut -d' ' -f1 /proc/uptime)
# The back-off after a few failed probes is well under 10 s (it doubles
# from 100 ms per failure).
if until_ok 40 all_in_pool; then
  t1=$(cut -d' ' -f1 /proc/uptime)
  pass "recovered: every channel back in the pool $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the engine did, by probes (probes=$(cat $E/probes))"
else
  fail "not recovered within 40 s: $(states)"
fi
check "offloading resumed" test "$(cat $E/paused)" = 0
# (While it hung, each probe's descriptor was queued until its time
# limit aborted it.)
check "nothing of the hung batch or its probes left queued" test "$(queued)" = 0
m0=$(cat $D/folios_migrated)
if migrate run --size-mib 8 --page thp --rounds 1 && [ "$(cat $D/folios_migrated)" -gt "$m0" ]; then
  pass "resumed: THPs copied by DMA again"
else
  fail "resumed: no DMA copy after the recovery (folios_migrated=$(cat $D/folios_migrated))"
fi

# --- One transfer error ----------------------------------------------------
reset_counters
echo 1 > $P/fail_transfer
if migrate run --size-mib 8 --page thp --rounds 1; then
  pass "transfer error: bytes intact"
else
  fail "transfer error: migration lost or corrupted data"
fi
echo 0 > $P/fail_transfer
# (Its probe may have brought it back already: the cause stays.)
check "transfer error: its channel left the pool, with cause error" \
  test "$(grep -c ' cause=error' $E/health)" = 1
check "transfer error: one channel out, the device not benched (channels_out=$(cat $E/channels_out))" \
  test "$(cat $E/channels_out)" = 1
check "transfer error: not paused" test "$(cat $E/paused)" = 0
check "transfer error: back in the pool after its probe" until_ok 10 all_in_pool

# --- A large move_pages on a hung engine: a figure, not a check ---------
# 256 MiB of THPs there and back, by the CPU alone and with the engine
# hanging from the start of the move (one batch waits out its fitted
# limit, the rest are declined while offloading is paused); the best of
# two runs each, memory compacted before each. Printed for the record:
# a ratio of two timings under TCG is a benchmark's figure, too noisy
# for a pass or a fail (a THP move that must compact its target first
# takes seconds, whichever run meets it).
best256() { # best256 ON: the best time of two runs, with offloading ON
  b=""
  for i in 1 2; do
    echo 0 > $D/offloading
    echo 1 > /proc/sys/vm/compact_memory
    echo "$1" > $D/offloading
    migrate run --size-mib 256 --page thp --rounds 1 >/dev/null || echo "256 MiB run: migrate-check failed" >&2
    t=$(json_num seconds)
    b=$(awk -v a="$b" -v t="${t:-999}" 'BEGIN { print (a == "" || t < a) ? t : a }')
  done
  echo "$b"
}
# (Once per run of the suite: the figure is the same on every kernel.)
if [ $figure = 1 ]; then
  cpu=$(best256 0)
  echo 1 > $P/hang
  hung=$(best256 1)
  echo 0 > $P/hang
  echo "figure: 256 MiB of THPs there and back: ${hung}s with the engine hung, ${cpu}s by the CPU alone (best of two each); ratio $(awk -v h="$hung" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.2f", h / c; else print "?" }')"
  echo 0 > $D/offloading; echo 1 > $D/offloading
fi

# --- health_strikes --------------------------------------------------------
# bad_writes KNOB VALUE...: each write fails and leaves KNOB as it was
bad_writes() {
  knob=$1; shift
  was=$(cat $D/$knob)
  for bad in "$@"; do
    if echo "$bad" > $D/$knob 2>/dev/null; then
      fail "$knob <- '$bad' accepted"
    elif [ "$(cat $D/$knob)" != "$was" ]; then
      fail "$knob <- '$bad' changed it to $(cat $D/$knob)"
    else
      pass "$knob <- '$bad' rejected, unchanged"
    fi
  done
}
bad_writes health_strikes 1001 -1 abc ""
bad_writes min_timeout_ms 0 600001 abc
echo 0 > $D/health_strikes
reset_counters
echo 1 > $P/fail_transfer
migrate run --size-mib 8 --page thp --rounds 1 >/dev/null
echo 0 > $P/fail_transfer
check "health_strikes=0: a failed batch (folios_failures=$(cat $D/folios_failures)) takes no channel out: $(states)" \
  sh -c "test $(cat $D/folios_failures) -gt 0 && test $(cat $E/channels_out) = 0"
echo 1 > $D/health_strikes

check "the kernel log has each transition, once per line" sh -c "dmesg | grep -q 'timed out: out of the pool' &&
  dmesg | grep -q 'offloading paused' &&
  dmesg | grep -q 'offloading resumed' && dmesg | grep -q 'probe passed, back in the pool' &&
  dmesg | grep -q 'engine error: out of the pool'"
offload_off
finish
