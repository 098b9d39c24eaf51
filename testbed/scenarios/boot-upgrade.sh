# The kernel upgrade as a user meets it (testbed/rootfs/upgrade.sh): the
# Debian 12 + systemd image runs a kernel installed from its packages
# (linux-image-<release>, linux-headers-<release>), dcbm built for it by
# DKMS from the headers package, the policy applied by dcbm-config.service.
# Booted once on kernel A, then, after apt installed kernel B's packages in
# the image (their hooks ran DKMS), on kernel B. The release the image must
# run is in ./expect-release. Runs the checks of boot-systemd.sh, then:
# the running kernel is the expected package's, dcbm is DKMS's build for it
# from the headers package, and no kernel build tree is present.
. ./lib.sh
# This script's own checks; boot-systemd.sh, run below, plans its own.
plan 5
want=$(cat ./expect-release 2>/dev/null)
if [ ! -d /run/systemd/system ] || [ -z "$want" ]; then
  fail "boot-upgrade needs the image of testbed/rootfs/upgrade.sh"
  finish
fi
check "running kernel $want, installed from linux-image-$want" \
  sh -c "test \"\$(uname -r)\" = '$want' &&
    dpkg-query -W -f='\${db:Status-Status}' linux-image-$want | grep -qx installed &&
    dpkg -S /boot/vmlinuz-$want >/dev/null"
# (./boot-systemd-mode: "short" on the first boot; the second runs all)
sh ./boot-systemd.sh "$(cat ./boot-systemd-mode 2>/dev/null)"
rc=$?
[ "$rc" = 0 ] || failures=$((failures + 1))
check "dkms status: dcbm installed for $want" \
  sh -c "dkms status -m dcbm -k $want 2>/dev/null | grep -q ': installed'"
check "the loaded dcbm is DKMS's build for $want" \
  sh -c "test \"\$(modinfo -F filename dcbm)\" = /lib/modules/$want/updates/dkms/dcbm.ko &&
    modinfo -F vermagic dcbm | grep -q '^$want '"
# (the headers' files are left out of the booted image: dpkg's database)
check "/lib/modules/$want/build is linux-headers-$want's, with the Rust metadata" \
  sh -c "test \"\$(readlink /lib/modules/$want/build)\" = /usr/src/linux-headers-$want &&
    dpkg -S /usr/src/linux-headers-$want/rust/libkernel.rmeta | grep -q '^linux-headers-$want:'"
check "no kernel build tree in the image (no vmlinux, no object files)" \
  sh -c "! find /usr/src /lib/modules -name vmlinux -o -name '*.o' 2>/dev/null | grep -q ."
finish
