# A provider that goes away while dcbm holds its channels and batches run
# (driver/removal.rs): first one channel alone, as idxd does when a work
# queue is disabled (it frees the channel at once); then the whole device,
# unbound through sysfs. dcbm must let go before the memory goes: the other
# channels keep offloading, with none left offloading turns off, the
# migrations running meanwhile keep every byte, and once the device is
# back dcbm takes it again. With release=0 swdma frees its device in
# remove, as ptdma's devm memory: a late touch is a KASAN report on the
# sanitizer kernel.
#
#   dcbm-removal.sh [SWDMA_PARAM=VALUE...]
. ./lib.sh
D=/sys/module/dcbm
E=$D/engine
P=/sys/module/swdma/parameters
# A channel removed alone is idxd's way, and idxd has a device_release:
# with release=0 (ptdma's way) only the whole device goes.
per_chan=1
case " $* " in *" release=0 "*) per_chan=0 ;; esac
plan $((9 + 6 * per_chan + OFFLOAD_OFF_CHECKS))
offload_on 10000 unbind=1 "$@"
migrated() { cat $D/folios_migrated; }
nchan() { wc -w < $D/channels; }
# grows WHAT SECS: folios_migrated grows within SECS (DMA goes on)
grows() {
  before=$(migrated) n=$(($2 * 10))
  while [ "$(migrated)" = "$before" ]; do
    n=$((n - 1)); [ $n -gt 0 ] || { fail "$1: folios_migrated stayed at $before for $2 s"; return 1; }
    sleep 0.1
  done
  pass "$1: folios_migrated $before -> $(migrated)"
}

check "four channels held: $(cat $D/channels)" test "$(nchan)" = 4
# Migrations of 4 KiB pages and of THPs over the whole scenario.
loops_start 8
grows "before any removal, pages migrate by DMA" 20

# --- one channel goes, as an idxd work queue disabled -----------------------
if [ $per_chan = 1 ]; then
  if echo 1 > $P/remove_chan; then
    pass "swdma removed channel 1 while batches ran"
  else
    fail "swdma remove_chan=1"
  fi
  check "dcbm let it go: 3 channels held ($(cat $D/channels))" test "$(nchan)" = 3
  check "engine/channels_removed = 1" test "$(cat $E/channels_removed)" = 1
  check "the kernel log names it" dmesg_has "its DMA engine is going away: releasing it (3 channel(s) left)"
  check "offloading still on" test "$(cat $D/offloading)" = 1
  grows "the other channels keep offloading" 20
fi

# --- the whole device goes: unbound from its driver ------------------------
# (the driver's name is swdma's, or the one a personality gives it)
drv=/sys/bus/platform/drivers/$(cat $P/driver)
dev=$(basename "$(find "$drv"/ -maxdepth 1 -type l -name "$(cat $P/driver)*" | head -1)")
if echo "$dev" > "$drv/unbind"; then
  pass "unbound $dev from its driver while batches ran"
else
  fail "unbind $dev"
fi
check "dcbm let every channel go and turned offloading off" \
  sh -c "[ \"\$(cat $D/offloading)\" = 0 ] && [ -z \"\$(cat $D/channels)\" ]"
check "engine/channels_removed = 4" test "$(cat $E/channels_removed)" = 4
check "the core saw no client at unregistration (no 'clients hold a reference')" \
  sh -c '! dmesg | grep -q "clients hold a reference"' 
sleep 2

# --- the device comes back ---------------------------------------------------
echo "$dev" > "$drv/bind"
if echo 1 > $D/offloading; then
  grows "bound again: offloading on, pages migrate by DMA" 20
else
  fail "offloading=1 after the device came back"
fi

loops_end "through the removals"
offload_off
finish
