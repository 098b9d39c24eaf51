#!/usr/bin/env bash
# The kernel upgrade, end to end, as a user meets it, in the Debian 12 +
# systemd image of build.sh:
#   1. kernel A's packages (linux-image-A, linux-headers-A from
#      testbed/build-kernel.sh --packages) are installed with apt in a
#      chroot of the image, then dcbm-dkms and dcbm-config: DKMS builds dcbm
#      for A from A's headers package (no kernel build tree anywhere);
#      the VM boots A's /boot/vmlinuz from the image: the policy is in
#      effect, pages migrate by DMA (scenario boot-upgrade);
#   2. bad input, each time the kernel install must succeed and say why
#      dcbm was not built: B's image with a headers package stripped of
#      its Rust artifacts; B's packages with no rustc of the kernel's
#      version installed; both purged again;
#   3. kernel B's packages are installed with apt: their postinst hooks run
#      DKMS, which builds dcbm for B from B's headers; the VM boots B's
#      /boot/vmlinuz from the image: `dcbm-config check` exits 0, pages
#      migrate by DMA;
#   4. kernel B's packages are purged: DKMS's build for B is gone, A's stays.
#
#   upgrade.sh PKG_DIR_A PKG_DIR_B DCBM_DKMS_DEB DCBM_CONFIG_DEB MIGRATE_CHECK
#
# Prints one PASS/FAIL line per check (those of the guest prefixed with the
# boot) and "N passed, N failed"; exits non-zero if one failed. Needs root
# and the base root of build.sh (cached; built here when absent). The image's extra
# packages (dkms and what it needs to build a module: gcc, make, libelf1)
# are installed once from the Debian mirror and cached as
# $DCBM_CACHE/rootfs-dkms-<key>.tar.
#
# The rustc: a module must be compiled by the rustc that built the kernel
# (1.95.0, from rustup; Debian 12 has none so recent). The user installs it
# with rustup, as the pre-build check says; here the host's toolchain of
# that version is bind-mounted read-only at /root/.rustup/toolchains/ in
# the chroot while apt runs, the test bed's stand-in for that install. The
# booted image needs no rustc. swdma, the test engine, stands in for the DMA
# engine driver a real kernel package carries (built on the host).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/testbed/lib.sh"

# (--prefetch: only the cached image with DKMS, from the network, so that
# tests/run can fetch it while it builds kernels.)
prefetch=0
[ "${1:-}" = --prefetch ] && prefetch=1
((prefetch)) || (($# == 5)) || { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (chroot, mounts)"
# One run at a time: the prefetch (--prefetch, from tests/run) and a test
# run build in the same stage directory.
mkdir -p "$DCBM_CACHE"
exec 9>"$DCBM_CACHE/.upgrade.lock"
flock 9
if ((prefetch == 0)); then
pkg_a=$1 pkg_b=$2 dkms_deb=$3 cfg_deb=$4 migrate=$5
rel_a=$(cat "$pkg_a/release") rel_b=$(cat "$pkg_b/release") || die "no kernel packages in $pkg_a / $pkg_b"
deb() { ls "$1"/"$2"_*.deb 2>/dev/null | head -1; }
img_a=$(deb "$pkg_a" "linux-image-$rel_a") hdr_a=$(deb "$pkg_a" "linux-headers-$rel_a")
img_b=$(deb "$pkg_b" "linux-image-$rel_b") hdr_b=$(deb "$pkg_b" "linux-headers-$rel_b")
for f in "$img_a" "$hdr_a" "$img_b" "$hdr_b" "$dkms_deb" "$cfg_deb" "$migrate"; do
  [ -f "$f" ] || die "missing input: '$f'"
done
fi
mirror=${DCBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
out=$top/testbed/out/upgrade
stage=$out/root
log=$out/log
mkdir -p "$out"
: >"$log"

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@" >>"$log" 2>&1; then ok "$what"; else ko "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; ((fail == 0)); exit; }

# in_root [--rustc] CMD...: CMD in a chroot of the stage, with /proc, /dev
# and /sys, in a private mount namespace (every mount goes away with it);
# --rustc also binds the kernel's rustc toolchain read-only.
toolchain=""
in_root() {
  local bind=""
  if [ "$1" = --rustc ]; then bind=$toolchain; shift; fi
  unshare --mount --propagation private -- /bin/bash -c '
    set -e; r=$1 tc=$2; shift 2
    mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"; mount -t sysfs sys "$r/sys"
    if [ -n "$tc" ]; then
      d=$r/root/.rustup/toolchains/$(basename "$tc"); mkdir -p "$d"
      mount --bind "$tc" "$d"; mount -o remount,bind,ro "$d"
    fi
    exec chroot "$r" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"' in_root "$stage" "$bind" "$@"
}

# --- the image with DKMS (cached) -------------------------------------------
base=$("$here/build.sh") || die "no base root: testbed/rootfs/build.sh failed"
layer_key=$( { basename "$base"; sed -n '/^# --- the image with DKMS/,/^# --- end of the image/p' "$0"; } | sha256sum | cut -c1-16)
layer=$DCBM_CACHE/rootfs-dkms-$layer_key.tar
rm -rf "$stage" && mkdir -p "$stage" || die "cannot empty $stage"
if [ ! -f "$layer" ]; then
  log "adding dkms, gcc, make, libelf1, openssh-server, python3, sudo to the image (apt, from $mirror)"
  tar -C "$stage" --numeric-owner -xf "$base"
  cp /etc/resolv.conf "$stage/etc/resolv.conf"
  echo "deb $mirror bookworm main" > "$stage/etc/apt/sources.list"
  # (sshd, python3, python3-apt and sudo: an Ansible managed node, for
  # the collection's test in boot A; sudo for plays with become)
  in_root apt-get update >>"$log" 2>&1 &&
    in_root apt-get install -y --no-install-recommends dkms libelf1 \
      openssh-server python3 python3-apt sudo >>"$log" 2>&1 ||
    { tail -20 "$log" >&2; die "apt-get install dkms in the image failed"; }
  in_root apt-get clean
  # QEMU's user network (vm/run --ssh-port): the guest is 10.0.2.15. (No
  # LLDP: it needs packet sockets, which the test-bed kernel leaves out,
  # and networkd fails the link when it cannot start it.)
  mkdir -p "$stage/etc/systemd/network"
  printf '[Match]\nName=e*\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nLLDP=no\nEmitLLDP=no\n' \
    > "$stage/etc/systemd/network/10-qemu-user.network"
  in_root systemctl enable systemd-networkd.service >>"$log" 2>&1 ||
    die "systemctl enable systemd-networkd in the image failed"
  rm -rf "$stage"/var/lib/apt/lists/* "$stage/etc/resolv.conf"
  tar -C "$stage" --numeric-owner -cf "$layer.tmp" . && mv "$layer.tmp" "$layer"
  for old in "$DCBM_CACHE"/rootfs-dkms-*.tar; do [ "$old" = "$layer" ] || rm -f "$old"; done
  log "image with DKMS cached: $layer ($(du -h "$layer" | cut -f1))"
  rm -rf "$stage" && mkdir -p "$stage"
fi
# --- end of the image ---------------------------------------------------------
if ((prefetch)); then
  rm -rf "$stage"
  log "image with DKMS: $layer"
  exit 0
fi
tar -C "$stage" --numeric-owner -xf "$layer"
printf '#!/bin/sh\nexit 101\n' > "$stage/usr/sbin/policy-rc.d"
# No fsync per unpacked file (as Debian's container images do): the image
# is thrown away after the test, and the headers packages are thousands of
# files.
echo force-unsafe-io > "$stage/etc/dpkg/dpkg.cfg.d/testbed-unsafe-io"
chmod +x "$stage/usr/sbin/policy-rc.d"
mkdir -p "$stage/tmp/debs"
cp "$img_a" "$hdr_a" "$img_b" "$hdr_b" "$dkms_deb" "$cfg_deb" "$stage/tmp/debs/"
in_deb() { echo "/tmp/debs/$(basename "$1")"; }

# The kernel's rustc on the host (the headers package names it).
hdr_desc=$(dpkg-deb -f "$hdr_a" Description)
want_rustc=$(sed -n 's/^ *External Rust modules must be built with \(.*\)\.$/\1/p' <<<"$hdr_desc")
check "linux-headers-$rel_a's description names its rustc ($want_rustc)" test -n "$want_rustc"
check "linux-headers-$rel_a ships the Rust metadata, proc macros, target.json, .config" sh -c "
  dpkg-deb -c '$hdr_a' | awk '{print \$6}' > '$out/hdr_a.list' &&
  for f in rust/libkernel.rmeta rust/libcore.rmeta rust/libmacros.so rust/libpin_init_internal.so scripts/target.json include/generated/rustc_cfg .config; do
    grep -qx './usr/src/linux-headers-$rel_a/'\$f '$out/hdr_a.list' || { echo missing \$f; exit 1; }
  done"
for t in "$HOME"/.rustup/toolchains/*/; do
  if [ "$("$t/bin/rustc" --version 2>/dev/null)" = "$want_rustc" ]; then toolchain=${t%/}; break; fi
done
[ -n "$toolchain" ] || { ko "a rustup toolchain on the host is '$want_rustc'"; finish; }

# apt_step STEP CMD...: an apt run in the chroot, its output kept as STEP.out
apt_step() {
  local step=$1; shift
  in_root "$@" >"$out/$step.out" 2>&1
}
# dkms_for REL: what dkms status says about dcbm for REL
dkms_for() { in_root dkms status -m dcbm -k "$1" 2>/dev/null; }

# swdma_for REL: the test engine under /lib/modules/REL/extra, loaded at
# boot. It stands in for an in-tree engine driver (it includes dmaengine's
# private drivers/dma/dmaengine.h, as they do), so it is built against the
# kernel's build tree, $DCBM_CACHE/current-<localversion>, on the host.
swdma_for() {
  local rel=$1 tree
  tree=$(readlink -f "$DCBM_CACHE/current-${rel#*-}") && [ -f "$tree/.dcbm-built" ] || return 1
  ext_module_build "$top/testbed/swdma" "$out/swdma-$rel" "$tree" >>"$log" 2>&1 || return 1
  mkdir -p "$stage/lib/modules/$rel/extra"
  cp "$out/swdma-$rel/swdma.ko" "$stage/lib/modules/$rel/extra/swdma.ko"
  depmod -b "$stage" "$rel"
}

# The Ansible collection's test (deploy/ansible/tests/vm/check-collection)
# shares boot A: once the guest's own checks are done it says
# DCBM-ANSIBLE-READY and waits; the collection's playbooks run from here
# over SSH (QEMU's user network, port 22 forwarded to the host's
# loopback, a key made for this run), which tell the guest when they are
# done.
ansible_check=$top/deploy/ansible/tests/vm/check-collection
ansible_key=$out/ansible-key
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# ansible_run PORT VM_PID CONSOLE: the collection's checks, once the guest is ready
ansible_run() {
  local port=$1 vm=$2 console=$3 line summary=""
  while kill -0 "$vm" 2>/dev/null && ! grep -q '^DCBM-ANSIBLE-READY' "$console" 2>/dev/null; do sleep 1; done
  if ! grep -q '^DCBM-ANSIBLE-READY' "$console" 2>/dev/null; then
    ko "boot A: ansible: the guest ended before it was ready for Ansible"
    return
  fi
  while IFS= read -r line; do
    case $line in
      PASS\ *) ok "boot A: ansible: ${line#PASS }" ;;
      FAIL\ *) ko "boot A: ansible: ${line#FAIL }" ;;
      *\ passed,\ *\ failed) summary=$line ;;
      *) echo "  $line" >>"$log" ;;
    esac
  done < <("$ansible_check" "$port" "$ansible_key" "$out/ansible" 2>&1)
  [ -n "$summary" ] || ko "boot A: ansible: $ansible_check stopped before its summary (see $log)"
}

# boot TAG REL [short]: boot REL's /boot/vmlinuz from the image, the whole
# image as the initramfs, scenario boot-upgrade (short: boot-systemd's
# checks of the policy in effect only); the guest's checks count.
boot() {
  local tag=$1 rel=$2 kdir=$out/kernel-$2 cpio=$out/root.cpio.gz rc line port="" vm
  echo "${3:-full}" > "$stage/usr/lib/dcbm-testbed/boot-systemd-mode"
  mkdir -p "$kdir/arch/x86/boot"
  cp "$stage/boot/vmlinuz-$rel" "$kdir/arch/x86/boot/bzImage"
  echo "$rel" > "$stage/usr/lib/dcbm-testbed/expect-release"
  rm -f "$stage/usr/lib/dcbm-testbed/ansible-wait" "$stage/root/.ssh/authorized_keys"
  if [ "$tag" = A ]; then
    rm -f "$ansible_key" "$ansible_key.pub"
    ssh-keygen -q -t ed25519 -N "" -C dcbm-testbed -f "$ansible_key"
    install -d -m 0700 "$stage/root/.ssh"
    install -m 0600 "$ansible_key.pub" "$stage/root/.ssh/authorized_keys"
    touch "$stage/usr/lib/dcbm-testbed/ansible-wait"
    port=$(free_port)
  fi
  # (the headers packages' files stay out: nothing reads them at run time,
  # and 200 MiB each would make the TCG boot unpack for minutes; dpkg's
  # database still lists them. So does the compiler DKMS used, 140 MiB
  # unpacked: gcc's own files, lto-dump, the sanitizer runtimes.)
  (cd "$stage" && find . \( -path ./tmp/debs -o -path ./usr/sbin/policy-rc.d \
      -o -path './usr/src/linux-headers-*' -o -path ./usr/lib/gcc \
      -o -path './usr/bin/*-lto-dump-*' -o -path './usr/lib/*-linux-gnu/lib*san.so*' \) -prune -o -print |
    cpio -o -H newc --quiet | gzip -1) > "$cpio"
  log "boot $tag: $rel, image $(du -h "$cpio" | cut -f1)"
  # (2 GiB per node: the image, with the headers packages, is unpacked in RAM)
  rm -f "$out/boot-$tag.log"
  "$top/testbed/vm/run" --kernel "$kdir" --initramfs "$cpio" --timeout "${VM_TIMEOUT:-900}" --mem-mib 2048 \
    ${port:+--ssh-port "$port"} --log "$out/boot-$tag.log" boot-upgrade >"$out/boot-$tag.host" 2>&1 &
  vm=$!
  [ -z "$port" ] || ansible_run "$port" "$vm" "$out/boot-$tag.log"
  wait "$vm"
  rc=$?
  while IFS= read -r line; do
    case $line in
      PASS\ *) ok "boot $tag: ${line#PASS }" ;;
      FAIL\ *) ko "boot $tag: ${line#FAIL }" ;;
    esac
  done < <(guest_checks "$out/boot-$tag.log")
  [ $rc = 0 ] || { ko "boot $tag: runner exit $rc (console: $out/boot-$tag.log)"; tail -25 "$out/boot-$tag.host"; }
}

# --- 1. kernel A, then the dcbm packages -------------------------------------
if apt_step apt-a --rustc apt-get install -y "$(in_deb "$img_a")" "$(in_deb "$hdr_a")"; then
  ok "apt install linux-image-$rel_a linux-headers-$rel_a"
else
  ko "apt install kernel A (see $out/apt-a.out)"; tail -20 "$out/apt-a.out"
fi
if apt_step apt-dcbm --rustc apt-get install -y "$(in_deb "$dkms_deb")" "$(in_deb "$cfg_deb")"; then
  ok "apt install dcbm-dkms dcbm-config (DKMS builds dcbm for $rel_a from its headers package)"
else
  ko "apt install dcbm-dkms dcbm-config (see $out/apt-dcbm.out)"; tail -20 "$out/apt-dcbm.out"
fi
check "dkms status: dcbm installed for $rel_a" grep -q ': installed' <(dkms_for "$rel_a")
check "/lib/modules/$rel_a/build is the headers package (no build tree)" \
  test "$(readlink "$stage/lib/modules/$rel_a/build")" = "/usr/src/linux-headers-$rel_a"
check "A's dcbm.ko carries vermagic $rel_a" sh -c "modinfo -F vermagic '$stage/lib/modules/$rel_a/updates/dkms/dcbm.ko' | grep -q '^$rel_a '"
check "swdma (the test engine) for $rel_a" swdma_for "$rel_a"
echo swdma > "$stage/etc/modules-load.d/swdma.conf"
install -m 0755 "$migrate" "$stage/usr/bin/migrate-check"
lib=$stage/usr/lib/dcbm-testbed
mkdir -p "$lib"
cp "$top/testbed/scenarios/lib.sh" "$top/testbed/scenarios/boot-systemd.sh" "$top/testbed/scenarios/boot-upgrade.sh" "$lib/"
echo boot-upgrade > "$lib/scenario"
install -m 0755 "$here/dcbm-testbed-check" "$lib/dcbm-testbed-check"
cp "$here/dcbm-testbed-check.service" "$stage/etc/systemd/system/"
ln -sfn /etc/systemd/system/dcbm-testbed-check.service \
  "$stage/etc/systemd/system/multi-user.target.wants/dcbm-testbed-check.service"
# (what `off`, hot-plug, a disabled unit and a missing or broken module do
# is checked on B, the v6 module)
boot A "$rel_a" short
# (deploy/ansible/try-on-testbed: a newcomer's playbook against boot A is
# all that was asked for)
[ -z "${DCBM_TRY_PLAYBOOK:-}" ] || finish

# --- 2. bad input: the kernel installs, dcbm is skipped, saying why ----------
# B's headers without the Rust artifacts (a stock headers package)
norust=$out/norust
rm -rf "$norust" && mkdir -p "$norust"
dpkg-deb -R "$hdr_b" "$norust/pkg" &&
  rm -f "$norust/pkg/usr/src/linux-headers-$rel_b"/rust/*.rmeta "$norust/pkg/usr/src/linux-headers-$rel_b"/rust/*.so &&
  sed -i '/^Version:/s/$/+norust/' "$norust/pkg/DEBIAN/control" &&
  (cd "$norust/pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs -r md5sum > DEBIAN/md5sums) &&
  dpkg-deb -Zgzip -b "$norust/pkg" "$stage/tmp/debs/hdr-norust.deb" >>"$log" 2>&1
if apt_step bad-norust --rustc apt-get install -y "$(in_deb "$img_b")" /tmp/debs/hdr-norust.deb; then
  ok "bad input: kernel $rel_b with a headers package without Rust artifacts installs (exit 0)"
else
  ko "bad input: kernel install with a Rust-less headers package failed"; tail -20 "$out/bad-norust.out"
fi
check "bad input: dcbm skipped for $rel_b, saying the headers lack the Rust artifacts and what to install" \
  grep -q "dcbm: not building for kernel $rel_b: .*has no Rust build artifacts.*install the kernel's headers package built with" "$out/bad-norust.out"
check "bad input: no dcbm build for $rel_b" sh -c "test ! -e '$stage/lib/modules/$rel_b/updates/dkms/dcbm.ko' && ! ls -d '$stage'/var/lib/dkms/dcbm/*/'$rel_b' 2>/dev/null | grep -q ."
check "bad input: apt purge of that kernel" in_root apt-get purge -y "linux-image-$rel_b" "linux-headers-$rel_b"
# B's real packages, but no rustc of the kernel's version installed
if apt_step bad-rustc apt-get install -y "$(in_deb "$img_b")" "$(in_deb "$hdr_b")"; then
  ok "bad input: kernel $rel_b with no matching rustc installs (exit 0)"
else
  ko "bad input: kernel install without the kernel's rustc failed"; tail -20 "$out/bad-rustc.out"
fi
check "bad input: dcbm skipped for $rel_b, naming the rustc to install" \
  grep -q "dcbm: not building for kernel $rel_b: .*'$want_rustc'.*rustup toolchain install $(set -- $want_rustc; echo "$2")" "$out/bad-rustc.out"
check "bad input: nothing said of $rel_a, for which dcbm is built (its rustc gone too)" \
  sh -c '! grep -q "not building for kernel $1:" "$2"' _ "$rel_a" "$out/bad-rustc.out"
check "bad input: no dcbm build for $rel_b" test ! -e "$stage/lib/modules/$rel_b/updates/dkms/dcbm.ko"
check "bad input: apt purge of that kernel" in_root apt-get purge -y "linux-image-$rel_b" "linux-headers-$rel_b"

# --- 3. the upgrade: kernel B's packages --------------------------------------
if apt_step apt-b --rustc apt-get install -y "$(in_deb "$img_b")" "$(in_deb "$hdr_b")"; then
  ok "apt install linux-image-$rel_b linux-headers-$rel_b (their hooks run DKMS)"
else
  ko "apt install kernel B (see $out/apt-b.out)"; tail -20 "$out/apt-b.out"
fi
check "DKMS built dcbm for $rel_b from the hooks of B's packages" \
  grep -q "dcbm/.*$rel_b\|dcbm.ko.*$rel_b\|Installing to /lib/modules/$rel_b/updates/dkms" "$out/apt-b.out"
check "dkms status: dcbm installed for $rel_b" grep -q ': installed' <(dkms_for "$rel_b")
check "dkms status: dcbm still installed for $rel_a" grep -q ': installed' <(dkms_for "$rel_a")
check "B's dcbm.ko carries vermagic $rel_b" sh -c "modinfo -F vermagic '$stage/lib/modules/$rel_b/updates/dkms/dcbm.ko' | grep -q '^$rel_b '"
check "swdma (the test engine) for $rel_b" swdma_for "$rel_b"
boot B "$rel_b"

# --- 4. purge kernel B ---------------------------------------------------------
rm -f "$stage/lib/modules/$rel_b/extra/swdma.ko"   # the engine "package" goes first
check "apt purge linux-image-$rel_b linux-headers-$rel_b" in_root apt-get purge -y "linux-image-$rel_b" "linux-headers-$rel_b"
st=$(in_root dkms status -m dcbm 2>&1)
check "purged: dkms status knows no dcbm for $rel_b" sh -c '! printf "%s\n" "$1" | grep -q -- "$2"' _ "$st" "$rel_b"
check "purged: no dcbm build for $rel_b left (/var/lib/dkms, /lib/modules/$rel_b)" sh -c "
  ! ls -d '$stage'/var/lib/dkms/dcbm/*/'$rel_b' 2>/dev/null | grep -q . &&
  ! find '$stage/lib/modules/$rel_b' -name 'dcbm.ko*' 2>/dev/null | grep -q ."
check "purged: /boot/vmlinuz-$rel_b and /usr/src/linux-headers-$rel_b gone" \
  test ! -e "$stage/boot/vmlinuz-$rel_b" -a ! -e "$stage/usr/src/linux-headers-$rel_b"
check "purged: dcbm for $rel_a still installed" grep -q ': installed' <(dkms_for "$rel_a")
finish
