# Every fault mode of the software engine: the batch falls back to the
# CPU, folios_failures rises, every byte stays intact, the kernel log
# stays clean. Out-of-order completion and slow copies still succeed.
#
#   dcbm-faults.sh [quick] [SWDMA_PARAM=VALUE...]   the engine's
#   personality, e.g. terminate=0 (cannot abort, as ioatdma), pool=8,
#   max_xfer=65536; "quick": THP migrations only (for the slow sanitizer
#   kernel: a 4 KiB batch is 512 descriptors)
. ./lib.sh
D=/sys/module/dcbm
P=/sys/module/swdma/parameters
quick=0
[ "${1:-}" = quick ] && { quick=1; shift; }
offload_on 300 "$@"

# mode NAME EXPECT(fail|ok|any) KNOB=VALUE...: knobs are set before each
# migration (countdowns run out) and cleared after; $extra goes to
# migrate-check (--writer: a thread writes to every page while it moves,
# and a lost write counts as corruption).
extra=""
# A provider that cannot abort (terminate=0; a bool parameter reads N).
noterm=0
case "$(cat $P/terminate 2>/dev/null)" in N|0) noterm=1 ;; esac
mode() {
  name=$1 expect=$2; shift 2
  pages="4k thp"
  [ $quick = 1 ] && pages=thp
  # Waiting out a 1 s late completion per 4 KiB descriptor would take
  # minutes: on a provider that cannot abort, the THP batches show it.
  [ $noterm = 1 ] && case "$*" in *late_ms=*) pages=thp ;; esac
  # A mode that must succeed gets time to, whatever the host's load; a
  # failing one times out quickly.
  if [ $expect != fail ]; then echo 10000 > $D/timeout_ms; else echo 300 > $D/timeout_ms; fi
  for page in $pages; do
    for kv in "$@"; do echo "${kv#*=}" > $P/${kv%%=*}; done
    # A stalled engine is restarted after a while: a provider that cannot
    # abort makes the batch wait for it (never free what it still uses).
    clear_hang=""
    case "$*" in *hang=1*) (sleep 3; echo 0 > $P/hang) & clear_hang=$! ;; esac
    echo 0 > $D/folios_failures; echo 0 > $D/folios_migrated
    # shellcheck disable=SC2086 # $extra is empty or one option
    migrate run --size-mib 8 --page $page --rounds 1 $extra
    rc=$?
    # With a writer the core may leave a busy page where it was (exit 4,
    # "not migrated"): no loss. Corruption, a lost write included, is 1.
    [ $expect = any ] && [ $rc = 4 ] && [ "$(json_num corrupt_words)" = 0 ] && rc=0
    if [ $rc = 0 ]; then
      f=$(cat $D/folios_failures) m=$(cat $D/folios_migrated)
      if [ $expect = fail ] && [ "$f" -gt 0 ]; then
        pass "$name $page: bytes intact, folios_failures=$f"
      elif [ $expect = ok ] && [ "$m" -gt 0 ] && [ "$f" = 0 ]; then
        pass "$name $page: bytes intact, folios_migrated=$m"
      elif [ $expect = any ]; then
        pass "$name $page: bytes and every concurrent write intact, folios_migrated=$m folios_failures=$f"
      else
        fail "$name $page: expected $expect, folios_failures=$f folios_migrated=$m"
      fi
    else
      fail "$name $page: migration lost or corrupted data"
    fi
    for kv in "$@"; do
      case ${kv%%=*} in fail_result) echo 1 ;; *) echo 0 ;; esac > $P/${kv%%=*}
    done
    [ -z "$clear_hang" ] || wait $clear_hang
  done
  # After a failed batch dcbm has terminated its channels or waited for
  # them: nothing of it may still be queued or running on the engine.
  queued=$(queued)
  [ "$queued" = 0 ] && pass "$name: nothing left queued on the engine" || fail "$name: $queued descriptors still queued"
}

mode "fail prep" fail fail_prep=-1
mode "fail submit" fail fail_submit=-1
mode "transfer error (read)" fail fail_transfer=-1 fail_result=1
mode "transfer error (write)" fail fail_transfer=-1 fail_result=2
mode "transfer aborted" fail fail_transfer=-1 fail_result=3
mode "one bad descriptor per batch" fail fail_transfer=1
mode "engine hangs (timeout)" fail hang=1
mode "completes after the timeout" fail late_ms=1000
mode "completes out of order" ok out_of_order=1
mode "slow engine" ok delay_us=200
# Concurrent writers lose no write, whether DMA or the CPU fallback copies
# (pages being written may be left to the CPU by the core: "any").
extra=--writer
mode "a writer while the engine copies" any
mode "a writer while copies fail over to the CPU" any fail_transfer=-1
extra=""
echo "engine: descriptors=$(cat $D/engine/descriptors) batches=$(cat $D/timing/batches) pool_waits=$(cat $D/engine/pool_waits) aborted=$(cat $D/engine/aborted) waited_out=$(cat $D/engine/waited_out) max_outstanding=$(cat $P/max_outstanding 2>/dev/null)"
personality_checks "$@"
# The timeouts (hang, late completion) were handled as the provider
# allows: aborted when it can terminate, waited out when it cannot.
if [ $noterm = 1 ]; then
  check "timeouts waited out, none aborted (provider cannot terminate)" \
    sh -c "test \$(cat $D/engine/waited_out) -ge 3 && test \$(cat $D/engine/aborted) = 0"
else
  check "timeouts aborted (provider can terminate)" test "$(cat $D/engine/aborted)" -ge 4
fi
offload_off
finish
