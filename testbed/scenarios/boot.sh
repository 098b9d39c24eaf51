# Boot with dcbm and dcbm-config laid out as the packages install them
# (see tests/run: the dcbm-config .deb unpacked, its unit enabled, the
# DKMS-built dcbm.ko under /lib/modules): after the steps systemd would
# take at boot, the policy is in effect with no manual step.
. ./lib.sh
D=/sys/module/dcbm
check "depmod" depmod
# udev coldplug: the DMA engine's driver loads as hardware appears.
check "DMA engine driver loads" modprobe swdma channels=4
check "dcbm is not loaded yet" test ! -d $D
# multi-user.target: start every enabled unit as systemd would.
units=$(ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null)
check "dcbm-config.service is enabled" sh -c "echo '$units' | grep -qx dcbm-config.service"
for u in $units; do
  unit=/etc/systemd/system/multi-user.target.wants/$u
  mkdir -p /run/dcbm # RuntimeDirectory=
  cmd=$(sed -n 's/^ExecStart=//p' "$unit")
  check "unit $u: $cmd" sh -c "$cmd"
done
check "dcbm loaded from the DKMS location" sh -c "modinfo -F filename dcbm 2>/dev/null | grep -q updates/dkms || grep -q '^dcbm ' /proc/modules"
check "offloading=1 after boot" test "$(cat $D/offloading 2>/dev/null)" = 1
check "channels = auto resolved to 4" test "$(cat $D/nr_dma_chan 2>/dev/null)" = 4
check "dcbm-config check: in sync" dcbm-config check
if migrate run --size-mib 8 --page thp --rounds 1; then
  check "pages migrate by DMA after boot" test "$(cat $D/folios_migrated)" -gt 0
else
  fail "migration after boot"
fi
finish
