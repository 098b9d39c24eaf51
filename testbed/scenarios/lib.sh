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
# the kernel log is clean.
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

# Fails when the kernel log shows a bug, warning, lockdep or sleep report.
kernel_log_clean() {
  ! dmesg | grep -E 'BUG:|WARNING:|Oops|possible circular locking|sleeping function called from invalid context|inconsistent lock state|DMA-API: .*(driver|leak|error)'
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
      iommu=1)
        check "mapped through the IOMMU (segments merged)" test "$(cat $E/merged_maps)" -gt 0
        check "the engine translated IOVAs" test "$(cat $P/iova_translations)" -gt 0 ;;
    esac
  done
}
