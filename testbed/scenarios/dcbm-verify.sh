# Verify-after-copy (driver/verify.rs) and completion reports that lie.
# An engine that corrupts silently (swdma corrupt=N: one wrong byte, a
# success reported) is invisible without verify, and found with it: the
# folio goes to the CPU, verify_mismatches counts it, the channel leaves
# the pool with cause mismatch. With null_result=1 (as ptdma: a NULL
# result, which dmaengine turns into success) a failed transfer is
# invisible too, and verify finds it; with junk_residue=1 (as idxd: the
# residue is never set, and the device says so) successful copies still
# count as successes.
#
#   dcbm-verify.sh [null_result=1] [junk_residue=1]
. ./lib.sh
D=/sys/module/dcbm
E=$D/engine
P=/sys/module/swdma/parameters
null=0
case " $* " in *" null_result=1 "*) null=1 ;; esac
# 3 bad writes, 2 verify=auto (on swdma: none), 4 verify=all, 2 sampled, 2 more with
# null_result, offload_off's.
plan $((3 + 2 + 4 + 2 + 2 * null + OFFLOAD_OFF_CHECKS))
offload_on 10000 "$@"

fresh() { # fresh channels, all in the pool, counters at 0
  echo 0 > $D/offloading; echo 1 > $D/offloading
  for c in folios_migrated folios_failures; do echo 0 > $D/$c; done
  for c in verified_batches verify_mismatches channels_out; do echo 0 > $E/$c; done
  echo 0 > $D/timing/batches
}

for bad in sometimes ALL ""; do
  if echo "$bad" > $D/verify 2>/dev/null; then
    fail "verify <- '$bad' accepted"
  elif [ "$(cat $D/verify)" != auto ]; then
    fail "verify <- '$bad' changed it to $(cat $D/verify)"
  else
    pass "verify <- '$bad' rejected, unchanged"
  fi
done

# corrupt_run KNOB=N: one migration with the engine misbehaving N times.
# Each run writes its own pattern (--seed): a failed transfer leaves part
# of the destination as it was, and a THP freed by an earlier run of the
# same pattern, reused as this run's destination, already held the right
# bytes there (nothing for verify to find; seen once in a cold run).
seed=100
corrupt_run() {
  fresh
  seed=$((seed + 1))
  echo "${1#*=}" > $P/${1%%=*}
  migrate run --size-mib 8 --page thp --rounds 1 --seed $seed
  rc=$?
  echo 0 > $P/${1%%=*}
}

# Without verify the corruption reaches the pages: migrate-check sees it.
# (This shows the engine really corrupts; dcbm cannot know.)
echo auto > $D/verify
corrupt_run corrupt=1
cw=$(json_num corrupt_words)
# (auto, the default, verifies nothing on swdma: it reports its errors)
check "verify=auto on an engine that reports errors: nothing checked ($(cat $E/verified_batches) batches)" test "$(cat $E/verified_batches)" = 0
check "verify=auto: a silent corruption reaches the page (migrate-check exit $rc, corrupt_words=${cw:-none})" \
  sh -c "test $rc != 0 && test '${cw:-0}' != 0"

echo all > $D/verify
corrupt_run corrupt=1
check "verify=all: every byte intact (migrate-check exit $rc)" test $rc = 0
check "verify=all: the mismatch counted ($(cat $E/verify_mismatches)) and the folio copied by the CPU (folios_failures=$(cat $D/folios_failures))" \
  sh -c "test $(cat $E/verify_mismatches) -ge 1 && test $(cat $D/folios_failures) -ge 1"
check "verify=all: the channels left the pool with cause mismatch" grep -q 'cause=mismatch' $E/health
check "verify=all: the log says so" dmesg_has "copied wrong bytes and said done"

if [ $null = 1 ]; then
  # A failed transfer (half copied) reported as a success.
  echo off > $D/verify
  corrupt_run fail_transfer=1
  cw=$(json_num corrupt_words)
  check "null_result, verify=off: a failed transfer looks like a success, the page is wrong (exit $rc, corrupt_words=${cw:-none})" \
    sh -c "test $rc != 0 && test '${cw:-0}' != 0"
  echo all > $D/verify
  corrupt_run fail_transfer=1
  check "null_result, verify=all: the failed transfer is found, every byte intact (exit $rc, verify_mismatches=$(cat $E/verify_mismatches))" \
    sh -c "test $rc = 0 && test $(cat $E/verify_mismatches) -ge 1"
fi

# Sampled: one batch in 16 is checked, and a healthy engine's copies
# count (with junk_residue=1 too: its residue is not a failure).
echo sampled > $D/verify
fresh
migrate run --size-mib 32 --page thp --rounds 1
rc=$?
b=$(cat $D/timing/batches) v=$(cat $E/verified_batches)
check "sampled: bytes intact and copied by DMA (exit $rc, folios_migrated=$(cat $D/folios_migrated), folios_failures=$(cat $D/folios_failures))" \
  sh -c "test $rc = 0 && test $(cat $D/folios_migrated) -gt 0 && test $(cat $D/folios_failures) = 0"
check "sampled: $v of $b batches checked" sh -c "test $v -ge 1 && test $v -le $(( (b + 15) / 16 ))"
echo auto > $D/verify
offload_off
finish
