# Boot as installed, for real: a Debian 12 root with systemd and udev
# (testbed/rootfs/build.sh) where the dcbm-config .deb was installed with
# dpkg, dcbm.ko sits where DKMS puts it and the DMA engine's driver is
# loaded at boot. Run by dcbm-testbed-check.service after
# dcbm-config.service: with no manual step, the policy is in effect.
# (Booted with testbed/vm/run --initramfs; in the busybox guest it fails
# with a message.) Then, on the booted system, what `dcbm-config off` and a
# disabled unit mean over hot-plug, and the unit's two ways of not
# switching offload on: a dcbm that fails to load (a fault: a failed unit,
# exit 6), and no dcbm module for the running kernel (DKMS skipped it, as
# on every stock kernel: exit 11, which the unit counts as success, with a
# status line saying why; no failed unit).
#
#   boot-systemd.sh [short]   (short: the policy in effect after boot only)
. ./lib.sh
mode=${1:-full}
if [ "$mode" = short ]; then plan 10; else plan 28; fi
D=/sys/module/dcbm
if [ ! -d /run/systemd/system ]; then
  fail "boot-systemd needs the systemd root of testbed/rootfs/build.sh (vm/run --initramfs)"
  finish
fi
# udev has handled the events and the unit's jobs (the package's udev
# rules `systemctl --no-block try-restart` it) are done.
unit_idle() {
  udevadm settle --timeout=60
  n=0
  while [ -n "$(systemctl list-jobs --no-legend dcbm-config.service 2>/dev/null)" ] && [ $n -lt 60 ]; do
    sleep 1; n=$((n + 1))
  done
}
# The uevent of dcbm's load makes the package's udev rule re-run the
# service: let udev and that job finish before looking.
unit_idle
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
status_text() { systemctl show -p StatusText --value dcbm-config.service 2>&1; }
status_says() { status_text | grep -q "$1"; } # status_says PATTERN
check "the unit's status line says offload is on (sd_notify STATUS)" \
  status_says '^offload on: policy applied, 4 DMA channel'
if migrate run --size-mib 8 --page thp --rounds 1; then
  check "pages migrate by DMA after boot" test "$(cat $D/folios_migrated 2>/dev/null || echo 0)" -gt 0
else
  fail "migration after boot"
fi
[ "$mode" = short ] && finish

# `dcbm-config off` holds over hot-plug until `dcbm-config apply`, and the
# udev rules never start a unit the administrator disabled and stopped.
# When the unit's ExecStart last started: changes with every run.
unit_started() { systemctl show -p ExecMainStartTimestampMonotonic --value dcbm-config.service; }
offloading() { cat $D/offloading 2>/dev/null; }

check "dcbm-config off: offloading=0, recorded in /run/dcbm/off" \
  sh -c "dcbm-config off && test \"\$(cat $D/offloading)\" = 0 && test -f /run/dcbm/off"

# Hot-plug: a DMA channel added. Every add event try-restarts the unit
# (active: a oneshot with RemainAfterExit), whose `apply --unless-off`
# writes nothing and says why.
started=$(unit_started)
udevadm trigger --action=add --subsystem-match=dma
unit_idle
check "a DMA channel added (udev add events): offloading still 0" test "$(offloading)" = 0
check "the unit re-ran (try-restart): active, exit 0, status line says dcbm-config off holds" \
  sh -c "test \"\$(systemctl show -p ExecMainStartTimestampMonotonic --value dcbm-config.service)\" != '$started' &&
    systemctl -q is-active dcbm-config.service &&
    test \"\$(systemctl show -p ExecMainStatus --value dcbm-config.service)\" = 0 &&
    systemctl show -p StatusText --value dcbm-config.service |
      grep -q '^offload off: switched off by .dcbm-config off. at .*; .dcbm-config apply. turns it on'"

# Hot-plug: the dcbm module unloaded and loaded again (not by apply: the
# module's add event try-restarts the unit).
started=$(unit_started)
dcbm-config off >/dev/null
rmmod dcbm
udevadm settle --timeout=60
modprobe dcbm
unit_idle
check "dcbm unloaded and loaded again: offloading still 0" test "$(offloading)" = 0
check "the module's add event re-ran the unit, which kept offload off" \
  sh -c "test \"\$(systemctl show -p ExecMainStartTimestampMonotonic --value dcbm-config.service)\" != '$started' &&
    systemctl -q is-active dcbm-config.service &&
    systemctl show -p StatusText --value dcbm-config.service | grep -q '^offload off: switched off by .dcbm-config off.'"

check "dcbm-config apply ends the off: offloading=1, /run/dcbm/off gone" \
  sh -c "dcbm-config apply && test \"\$(cat $D/offloading)\" = 1 && test ! -e /run/dcbm/off"

# Off across reboots is a disabled unit. Stopping it writes nothing (no
# ExecStop): offload stays as it is.
systemctl disable --now dcbm-config.service 2>/dev/null
check "systemctl disable --now: the unit inactive, offloading still 1" \
  sh -c "test \"\$(systemctl is-active dcbm-config.service)\" = inactive && test \"\$(cat $D/offloading)\" = 1"
# Offload off by hand (not `dcbm-config off`: only the rule is at stake
# here), so that dcbm can be unloaded; then loaded again: try-restart
# leaves the inactive unit alone (restart would start it and apply).
echo 0 > $D/offloading
rmmod dcbm
udevadm settle --timeout=60
modprobe dcbm
unit_idle
check "dcbm loaded with the unit disabled: the unit stays inactive" \
  test "$(systemctl is-active dcbm-config.service 2>&1)" = inactive
check "dcbm loaded with the unit disabled: offloading=0 (the module's default)" \
  test "$(offloading)" = 0

systemctl enable --now dcbm-config.service 2>/dev/null
unit_idle
check "systemctl enable --now: offloading=1 again, the policy applied" \
  sh -c "test \"\$(cat $D/offloading)\" = 1 && systemctl -q is-active dcbm-config.service &&
    systemctl show -p StatusText --value dcbm-config.service | grep -q '^offload on: policy applied'"

# The unit when offload cannot come on. Offload off and dcbm unloaded first
# (the offload interface holds the module while offloading is on). The
# record of the `off` goes too, as a reboot would drop it: while it exists
# the unit writes nothing and loads no module.
check "dcbm-config off; rmmod dcbm" sh -c "dcbm-config off && rmmod dcbm && udevadm settle --timeout=60 && rm /run/dcbm/off"
rel=$(uname -r)
# A dcbm that exists but fails to load (here modprobe's install hook
# fails): a fault, so a failed unit.
echo "install dcbm /bin/false" > /etc/modprobe.d/dcbm-testbed-fail.conf
systemctl restart dcbm-config.service 2>/dev/null
check "a dcbm that fails to load fails the unit (exit 6)" \
  sh -c "systemctl -q is-failed dcbm-config.service &&
    test \"\$(systemctl show -p ExecMainStatus --value dcbm-config.service)\" = 6"
rm -f /etc/modprobe.d/dcbm-testbed-fail.conf
systemctl reset-failed dcbm-config.service
# No dcbm module for the running kernel, as DKMS leaves a kernel it skipped.
mkdir -p /var/tmp/dcbm-away
mv "/lib/modules/$rel/updates/dkms/dcbm.ko" /var/tmp/dcbm-away/ && depmod "$rel"
check "no dcbm module for $rel: systemctl restart dcbm-config succeeds" \
  systemctl restart dcbm-config.service
check "no dcbm module: the unit is active, its apply exited 11" \
  sh -c "systemctl -q is-active dcbm-config.service &&
    test \"\$(systemctl show -p ExecMainStatus --value dcbm-config.service)\" = 11"
check "no dcbm module: the status line says why offload is off" \
  status_says "^offload off: no dcbm module for kernel $rel (DKMS did not build it)"
check "no dcbm module: the journal names the kernel and where DKMS says why" \
  sh -c "journalctl -b --no-pager -u dcbm-config.service |
    grep 'no dcbm module for the running kernel $rel' | grep -q 'dkms status dcbm'"
check "no dcbm module: dcbm-config.service is not a failed unit" \
  sh -c "! systemctl --failed --no-legend --plain | grep -q dcbm-config"
check "systemctl --failed lists no unit" \
  sh -c "test -z \"\$(systemctl --failed --no-legend --plain)\""
mv /var/tmp/dcbm-away/dcbm.ko "/lib/modules/$rel/updates/dkms/" && depmod "$rel"
if [ "$failures" != 0 ]; then
  echo "  StatusText: $(status_text)"
  systemctl --no-pager --failed 2>&1 | sed 's/^/  /'
  systemctl --no-pager status dcbm-config.service 2>&1 | sed 's/^/  /'
  journalctl -b --no-pager -u dcbm-config.service 2>&1 | sed 's/^/  /'
  journalctl -b --no-pager -t systemd-modules-load 2>&1 | sed 's/^/  /'
fi
finish
