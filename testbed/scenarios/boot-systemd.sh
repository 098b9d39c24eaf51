# Boot as installed, for real: a Debian 12 root with systemd and udev
# (testbed/rootfs/build.sh) where the dcbm-config .deb was installed with
# dpkg, dcbm.ko sits where DKMS puts it and the DMA engine's driver is
# loaded at boot. Run by dcbm-testbed-check.service after
# dcbm-config.service: with no manual step, the policy is in effect.
# (Booted with testbed/vm/run --initramfs; in the busybox guest it fails
# with a message.)
. ./lib.sh
plan 9
D=/sys/module/dcbm
if [ ! -d /run/systemd/system ]; then
  fail "boot-systemd needs the systemd root of testbed/rootfs/build.sh (vm/run --initramfs)"
  finish
fi
# The uevent of dcbm's load makes the package's udev rule restart the
# service: let udev and that job finish before looking.
udevadm settle --timeout=60
n=0
while [ -n "$(systemctl list-jobs --no-legend dcbm-config.service 2>/dev/null)" ] && [ $n -lt 60 ]; do
  sleep 1; n=$((n + 1))
done
check "dcbm-config.service enabled by the package's postinst" \
  test "$(systemctl is-enabled dcbm-config.service 2>&1)" = enabled
check "dcbm-config.service is active after boot" \
  test "$(systemctl is-active dcbm-config.service 2>&1)" = active
# (-t, not -u: a message of a process that has exited by the time journald
# reads it carries no unit.)
check "systemd-modules-load loaded the DMA engine driver (swdma)" \
  sh -c "grep -q '^swdma ' /proc/modules && systemctl -q is-active systemd-modules-load.service &&
    journalctl -b --no-pager -t systemd-modules-load | grep -q \"Inserted module 'swdma'\""
check "dcbm loaded from the DKMS location" \
  sh -c "grep -q '^dcbm ' /proc/modules && modinfo -F filename dcbm | grep -q '/updates/dkms/dcbm.ko'"
check "offloading=1 after boot" test "$(cat $D/offloading 2>/dev/null)" = 1
check "channels = auto resolved to 4" test "$(cat $D/nr_dma_chan 2>/dev/null)" = 4
check "dcbm-config check: in sync" dcbm-config check
check "journal: dcbm-config.service loaded dcbm and applied the policy" \
  sh -c "journalctl -b --no-pager -u dcbm-config.service > /tmp/unit.log &&
    grep -q 'loading the dcbm module' /tmp/unit.log && grep -q 'applied [0-9]* write' /tmp/unit.log"
if migrate run --size-mib 8 --page thp --rounds 1; then
  check "pages migrate by DMA after boot" test "$(cat $D/folios_migrated 2>/dev/null || echo 0)" -gt 0
else
  fail "migration after boot"
fi
if [ "$failures" != 0 ]; then
  systemctl --no-pager status dcbm-config.service 2>&1 | sed 's/^/  /'
  journalctl -b --no-pager -u dcbm-config.service 2>&1 | sed 's/^/  /'
  journalctl -b --no-pager -t systemd-modules-load 2>&1 | sed 's/^/  /'
fi
finish
