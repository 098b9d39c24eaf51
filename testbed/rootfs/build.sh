#!/usr/bin/env bash
# Builds the base root of the boot tests, cached: a minimal Debian 12
# (bookworm) with real systemd 252 and udev (debootstrap --variant=minbase
# + systemd, udev, kmod, trimmed), as $DCBM_CACHE/rootfs-<hash of this
# script>.tar. Prints its path. testbed/rootfs/upgrade.sh composes each
# test image on it (the kernel and dcbm installed from packages, as an
# administrator would), delivered as the initramfs (the test-bed kernel
# has no block devices).
#
#   build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/testbed/lib.sh"

(($# == 0)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, device nodes)"
mirror=${DCBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# --- The cached base system -------------------------------------------------
mkdir -p "$DCBM_CACHE"
key=$(sha256sum < "$here/build.sh" | cut -c1-16)
base="$DCBM_CACHE/rootfs-$key.tar"
# One build at a time (tests/run prefetches it, and its upgrade step asks
# for it again).
exec 9>"$DCBM_CACHE/.rootfs.lock"
flock 9
# work_cleanup: debootstrap mounts /proc in the root it builds; a build
# stopped half-way (tests/run stops its prefetches at its end) leaves it
# mounted, and nothing may stay mounted under the cache.
work_cleanup() {
  local m
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf "$work"
}
if [ ! -f "$base" ]; then
  command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2 ||
    die "cannot install debootstrap"
  log "building the Debian 12 base root (debootstrap minbase + systemd, udev, kmod)"
  work=$(mktemp -d "$DCBM_CACHE/rootfs-build.XXXXXX")
  trap work_cleanup EXIT
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
  work_cleanup
  trap - EXIT
  log "base root cached: $base ($(du -h "$base" | cut -f1))"
fi

echo "$base"
