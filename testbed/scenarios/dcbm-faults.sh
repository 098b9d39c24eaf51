# Every fault mode of the software engine: the batch falls back to the
# CPU, folios_failures rises, every byte stays intact, the kernel log
# stays clean. Out-of-order completion and slow copies still succeed.
. ./lib.sh
D=/sys/module/dcbm
P=/sys/module/swdma/parameters
load swdma channels=4
load dcbm
echo 0 > $D/min_batch_bytes
echo 0 > $D/min_folio_bytes
echo 4 > $D/nr_dma_chan
echo 300 > $D/timeout_ms
echo 1 > $D/offloading

# mode NAME EXPECT(fail|ok) KNOB=VALUE...: knobs are set before each
# migration (countdowns run out) and cleared after.
mode() {
  name=$1 expect=$2; shift 2
  for page in 4k thp; do
    for kv in "$@"; do echo "${kv#*=}" > $P/${kv%%=*}; done
    echo 0 > $D/folios_failures; echo 0 > $D/folios_migrated
    if migrate run --size-mib 8 --page $page --rounds 1; then
      f=$(cat $D/folios_failures) m=$(cat $D/folios_migrated)
      if [ $expect = fail ] && [ "$f" -gt 0 ]; then
        pass "$name $page: bytes intact, folios_failures=$f"
      elif [ $expect = ok ] && [ "$m" -gt 0 ] && [ "$f" = 0 ]; then
        pass "$name $page: bytes intact, folios_migrated=$m"
      else
        fail "$name $page: expected $expect, folios_failures=$f folios_migrated=$m"
      fi
    else
      fail "$name $page: migration lost or corrupted data"
    fi
    for kv in "$@"; do
      case ${kv%%=*} in fail_result) echo 1 ;; *) echo 0 ;; esac > $P/${kv%%=*}
    done
  done
  # After a failed batch dcbm has terminated its channels: nothing of it
  # may still be queued or running on the engine.
  queued=$(sed -n 's/.* queued \([0-9]*\)$/\1/p' /sys/kernel/debug/swdma/stats | awk '{ n += $1 } END { print n + 0 }')
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
check "disable" sh -c "echo 0 > $D/offloading"
check "no descriptor left once the channels are released" test "$(cat $P/descriptors)" = 0
check "rmmod dcbm" rmmod dcbm
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
finish
