# /sys/module/dcbm/: bad writes fail and change nothing; counters reset on
# write; enabling with no channel fails ENODEV; load-time parameters;
# channels are held while enabled, not per batch; resize while enabled.
. ./lib.sh
D=/sys/module/dcbm
long=$(head -c 4096 /dev/zero | tr '\0' x)

# bad ATTR VALUE: the write fails and the value stays as it was
bad() {
  before=$(cat $D/$1)
  if echo "$2" > $D/$1 2>/tmp/err; then
    fail "$1 <- '$(echo "$2" | cut -c1-12)': write accepted"
  elif [ "$(cat $D/$1)" != "$before" ]; then
    fail "$1 <- '$(echo "$2" | cut -c1-12)': value changed to $(cat $D/$1)"
  else
    pass "$1 <- '$(echo "$2" | cut -c1-12)' rejected ($(sed 's/.*: //' /tmp/err)), still $before"
  fi
}
in_use() { cat /sys/class/dma/dma0chan*/in_use | grep -c 1; }

load dcbm
# The interface (v5 or v6, the kernel's) decides some of the checks: 85
# lines on v5, 83 on v6.
iface=$(cat $D/interface)
case $iface in v5) plan 85 ;; *) plan 83 ;; esac
check "offloading starts at 0" test "$(cat $D/offloading)" = 0
if echo 1 > $D/offloading 2>/tmp/err; then fail "enable without a DMA provider succeeded"
else
  grep -q "No such device" /tmp/err && pass "enable without a provider fails ENODEV" || fail "enable without provider: $(cat /tmp/err)"
fi
check "offloading stays 0 after ENODEV" test "$(cat $D/offloading)" = 0
rmmod dcbm

load swdma channels=4
load dcbm
for v in "" maybe 0 17 -1 abc "$long"; do bad nr_dma_chan "$v"; done
for v in "" maybe abc -1 "$long"; do bad offloading "$v"; done
for v in "" 0 -1 abc 600001 "$long"; do bad timeout_ms "$v"; done
for v in "" -1 abc 1073741825 "$long"; do bad min_batch_bytes "$v"; done
for v in "" -1 abc 1073741825 "$long"; do bad min_folio_bytes "$v"; done

# The v6 driver's files: module parameters, one value with the top-level
# file of the same name, whichever is written.
for k in offloading nr_dma_chan reason_mask timeout_ms min_batch_bytes min_folio_bytes folios_migrated folios_failures; do
  check "parameters/$k is the same value as $k" test "$(cat $D/parameters/$k)" = "$(cat $D/$k)"
done
check "parameters/nr_dma_chan <- 2 reads 2 at the top level" sh -c "echo 2 > $D/parameters/nr_dma_chan && test \$(cat $D/nr_dma_chan) = 2"
check "timeout_ms <- 1234 reads 1234 in parameters/" sh -c "echo 1234 > $D/timeout_ms && test \$(cat $D/parameters/timeout_ms) = 1234"
for v in 0 17 abc; do bad parameters/nr_dma_chan "$v"; done
bad parameters/offloading maybe
echo 4 > $D/nr_dma_chan; echo 10000 > $D/timeout_ms
v5_reasons=compaction,syscall_or_cpuset,numa_misplaced,demotion
case $(cat $D/interface) in
  v5)
    check "v5: reason_mask reads the fixed set" test "$(cat $D/reason_mask)" = $v5_reasons
    check "v5: reasons_available is the fixed set" test "$(cat $D/reasons_available)" = $v5_reasons
    for v in all none compaction 0x1; do bad reason_mask "$v"; done
    check "v5: a reason_mask write says it is not supported" grep -q "not supported" /tmp/err ;;
  v6)
    check "v6: reason_mask is every reason the kernel has" test "$(cat $D/reason_mask)" = "$(cat $D/reasons_available)"
    for v in bogus 0x100000 "compaction,,x"; do bad reason_mask "$v"; done ;;
  *) fail "interface reads '$(cat $D/interface)'" ;;
esac

# The defaults decline 4 KiB-folio batches (slower on DMA in every
# measurement) and offload THP ones.
echo 1 > $D/offloading
for c in folios_migrated folios_declined; do echo 0 > $D/$c; done
check "defaults: 4 KiB migration, bytes intact" migrate run --size-mib 8 --page 4k --rounds 1
check "defaults: 4 KiB folios declined" test "$(cat $D/folios_declined)" -gt 0
check "defaults: no 4 KiB folio offloaded" test "$(cat $D/folios_migrated)" = 0
check "defaults: THP migration, bytes intact" migrate run --size-mib 8 --page thp --rounds 1
check "defaults: THP offloaded" test "$(cat $D/folios_migrated)" -gt 0
echo 0 > $D/offloading
check "channels is read-only" sh -c "! echo x > $D/channels 2>/dev/null"
check "writing the current value is a no-op" sh -c "echo 0 > $D/offloading && test \$(cat $D/offloading) = 0"
check "nr_dma_chan accepts 16" sh -c "echo 16 > $D/nr_dma_chan && test \$(cat $D/nr_dma_chan) = 16"

echo 2 > $D/nr_dma_chan
check "no channel held while disabled" test "$(in_use)" = 0
echo 1 > $D/offloading
check "enabled: 2 channels held" test "$(in_use)" = 2
check "channels lists them" test "$(cat $D/channels | wc -w)" = 2
echo 4 > $D/nr_dma_chan
check "resize while enabled to 4" test "$(in_use)" = 4
echo 1 > $D/nr_dma_chan
check "resize while enabled to 1" test "$(in_use)" = 1
echo 0 > $D/min_batch_bytes
echo 0 > $D/min_folio_bytes
check "4 KiB migration with 1 channel, bytes intact" migrate run --size-mib 8 --page 4k --rounds 1
check "channel still held between batches" test "$(in_use)" = 1
check "folios migrated with 1 channel" test "$(cat $D/folios_migrated)" -gt 0
check "bytes_migrated counts them" test "$(cat $D/bytes_migrated)" -ge $(( $(cat $D/folios_migrated) * 4096 ))
for c in folios_migrated folios_failures folios_declined bytes_migrated; do
  check "$c resets on write" sh -c "echo 7 > $D/$c && test \$(cat $D/$c) = 0"
done
echo 0 > $D/offloading
check "disabled: channels released" test "$(in_use)" = 0
rmmod dcbm

if insmod /modules/dcbm.ko nr_dma_chan=17 2>/dev/null; then fail "insmod nr_dma_chan=17 accepted"; rmmod dcbm
else pass "insmod nr_dma_chan=17 refused"; fi
# Load-time parameters (also what modprobe.d gives): the same checks.
if insmod /modules/dcbm.ko reason_mask=bogus 2>/dev/null; then fail "insmod reason_mask=bogus accepted"; rmmod dcbm
else pass "insmod reason_mask=bogus refused"; fi
load dcbm offloading=1 nr_dma_chan=3
check "load-time offloading=1" test "$(cat $D/offloading)" = 1
check "load-time nr_dma_chan=3" test "$(cat $D/nr_dma_chan)" = 3
check "3 channels held" test "$(in_use)" = 3
# The interface holds a reference on the module while registered.
check "rmmod refused while offloading" sh -c "! rmmod dcbm 2>/dev/null"
check "still enabled after refused rmmod" test "$(cat $D/offloading)" = 1
echo 0 > $D/offloading
check "rmmod once disabled" rmmod dcbm
check "rmmod released channels" test "$(in_use)" = 0
if [ "$iface" = v6 ]; then
  load dcbm reason_mask=compaction,demotion offloading=1
  check "v6: load-time reason_mask" test "$(cat $D/reason_mask)" = compaction,demotion
  echo 0 > $D/offloading
  rmmod dcbm
fi
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
finish
