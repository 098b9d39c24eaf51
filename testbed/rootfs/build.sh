#!/usr/bin/env bash
# Composes the root of the "boot as installed" VM test: a minimal Debian 12
# (bookworm) with real systemd 252 and udev, delivered as the initramfs
# (the test-bed kernel has no block devices). Prints the cpio.gz's path.
#
#   build.sh KERNEL_TREE DCBM_KO SWDMA_KO DCBM_CONFIG_DEB MIGRATE_CHECK
#
# The base system (debootstrap --variant=minbase + systemd, udev, kmod,
# trimmed) is cached as $DCBM_CACHE/rootfs-<hash of this script>.tar; each
# run composes on top of it, as an administrator would install:
#   - `dpkg -i` of the dcbm-config .deb in a chroot, so its postinst
#     (deb-systemd-helper) enables dcbm-config.service;
#   - DCBM_KO at /lib/modules/<release>/updates/dkms/dcbm.ko (where DKMS
#     installs it), SWDMA_KO at .../extra/swdma.ko, `depmod -b`;
#   - /etc/modules-load.d/swdma.conf (stands in for the DMA engine driver
#     udev would autoload for real hardware);
#   - MIGRATE_CHECK as /usr/bin/migrate-check;
#   - the test unit dcbm-testbed-check.service (After=dcbm-config.service,
#     WantedBy=multi-user.target): runs testbed/scenarios/boot-systemd.sh,
#     prints the runner's markers to the console and powers off.
# Boot it with: testbed/vm/run --initramfs FILE boot-systemd
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/testbed/lib.sh"

# (--base-only: only the cached base system, from the network, so that
# tests/run can fetch it while it builds kernels.)
base_only=0
[ "${1:-}" = --base-only ] && base_only=1
((base_only)) || (($# == 5)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, device nodes)"
if ((base_only == 0)); then
  kernel=$1 dcbm_ko=$2 swdma_ko=$3 deb=$4 migrate=$5
  for f in "$kernel/include/config/kernel.release" "$dcbm_ko" "$swdma_ko" "$deb" "$migrate"; do
    [ -f "$f" ] || die "$f not found"
  done
  release=$(cat "$kernel/include/config/kernel.release")
fi
mirror=${DCBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# --- The cached base system -------------------------------------------------
mkdir -p "$DCBM_CACHE"
key=$(sha256sum < "$here/build.sh" | cut -c1-16)
base="$DCBM_CACHE/rootfs-$key.tar"
if [ ! -f "$base" ]; then
  command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2 ||
    die "cannot install debootstrap"
  log "building the Debian 12 base root (debootstrap minbase + systemd, udev, kmod)"
  work=$(mktemp -d "$DCBM_CACHE/rootfs-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include=systemd,systemd-sysv,udev,kmod \
    bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  r=$work/root
  # Trim what a test boot never reads: package caches and lists, docs,
  # manuals, translations, the hwdb (no real hardware here).
  rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/usr/lib/udev/hwdb.d "$r"/usr/lib/udev/hwdb.bin "$r"/etc/udev/hwdb.bin \
    "$r"/var/log/*.log "$r"/var/cache/debconf/*-old
  # Keep dpkg from putting them back for the packages installed later.
  cat > "$r/etc/dpkg/dpkg.cfg.d/01-dcbm-testbed-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  echo dcbm-testbed > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tdcbm-testbed\n' > "$r/etc/hosts"
  # A fixed machine id: not a "first boot" (no systemd-firstboot prompt on
  # the console, no preset-all).
  echo 0123456789abcdef0123456789abcdef > "$r/etc/machine-id"
  # The kernel runs /init from an initramfs; the root stays the initramfs.
  ln -sfn /lib/systemd/systemd "$r/init"
  # Quiet, quick test boots: no login prompts on the console, no timers.
  for u in getty.target serial-getty@ttyS0.service systemd-firstboot.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
    systemd-timesyncd.service systemd-logind.service e2scrub_reap.service \
    dpkg-db-backup.timer; do
    ln -sfn /dev/null "$r/etc/systemd/system/$u"
  done
  ln -sfn /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
  # Time-stamped journal on the console would interleave with the checks.
  mkdir -p "$r/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' > "$r/etc/systemd/journald.conf.d/dcbm-testbed.conf"
  tar -C "$r" --numeric-owner -cf "$base.tmp" . && mv "$base.tmp" "$base"
  for old in "$DCBM_CACHE"/rootfs-*.tar; do [ "$old" = "$base" ] || rm -f "$old"; done
  rm -rf "$work"
  trap - EXIT
  log "base root cached: $base ($(du -h "$base" | cut -f1))"
fi

((base_only == 0)) || { echo "$base"; exit 0; }

# --- Compose this run's root ------------------------------------------------
out="$top/testbed/out/rootfs"
mkdir -p "$out"
stage="$out/root"
rm -rf "$stage" && mkdir -p "$stage"
tar -C "$stage" --numeric-owner -xf "$base"

# Install the package as an administrator would. In the chroot /run is
# empty, so the postinst's systemctl/deb-systemd-invoke steps are skipped;
# policy-rc.d refuses service starts in any case.
printf '#!/bin/sh\nexit 101\n' > "$stage/usr/sbin/policy-rc.d"
chmod +x "$stage/usr/sbin/policy-rc.d"
cp "$deb" "$stage/tmp/dcbm-config.deb"
chroot "$stage" dpkg -i /tmp/dcbm-config.deb >"$out/dpkg.log" 2>&1 ||
  { cat "$out/dpkg.log" >&2; die "dpkg -i $(basename "$deb") failed in the image"; }
rm -f "$stage/tmp/dcbm-config.deb" "$stage/usr/sbin/policy-rc.d"
[ -L "$stage/etc/systemd/system/multi-user.target.wants/dcbm-config.service" ] ||
  die "the dcbm-config postinst did not enable dcbm-config.service"

# The modules where DKMS and a driver package would put them.
mods="$stage/lib/modules/$release"
mkdir -p "$mods/updates/dkms" "$mods/extra"
cp "$dcbm_ko" "$mods/updates/dkms/dcbm.ko"
cp "$swdma_ko" "$mods/extra/swdma.ko"
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [ -f "$kernel/$f" ] && cp "$kernel/$f" "$mods/"
done
depmod -b "$stage" "$release"
echo swdma > "$stage/etc/modules-load.d/swdma.conf"

# The workload and the test unit.
install -m 0755 "$migrate" "$stage/usr/bin/migrate-check"
lib="$stage/usr/lib/dcbm-testbed"
mkdir -p "$lib"
cp "$top/testbed/scenarios/lib.sh" "$top/testbed/scenarios/boot-systemd.sh" "$lib/"
install -m 0755 "$here/dcbm-testbed-check" "$lib/dcbm-testbed-check"
cp "$here/dcbm-testbed-check.service" "$stage/etc/systemd/system/"
ln -sfn /etc/systemd/system/dcbm-testbed-check.service \
  "$stage/etc/systemd/system/multi-user.target.wants/dcbm-testbed-check.service"

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/root.cpio.gz.tmp"
mv "$out/root.cpio.gz.tmp" "$out/root.cpio.gz"
rm -rf "$stage"
log "root for $release: $out/root.cpio.gz ($(du -h "$out/root.cpio.gz" | cut -f1))"
echo "$out/root.cpio.gz"
