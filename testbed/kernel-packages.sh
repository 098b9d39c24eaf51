#!/usr/bin/env bash
# Builds installable packages of a test-bed kernel: `make bindeb-pkg`
# (linux-image-<release>, linux-headers-<release>) and, with --rpm, `make
# binrpm-pkg` (kernel, kernel-devel), from the tree testbed/build-kernel.sh
# built, which carries the kernel packaging patches of testbed/patches-pkg/,
# so that the headers package carries what an out-of-tree Rust module is
# compiled against (rust/*.rmeta, the proc-macro libraries, .config; see
# those patches) and names its rustc. Prints the directory of the packages.
#
#   kernel-packages.sh [--rpm] [build-kernel.sh options]
#   (also: build-kernel.sh --packages [--rpm] [options])
#
# The packages are cached as $DCBM_CACHE/pkg-<key>/, keyed by the tree's
# key (build-kernel.sh --print-key, which covers the packaging patches) and
# PKG_RECIPE. The build runs in the cached tree itself, under the same lock
# as the kernel builds: everything is built there, so make only packages
# (a copy in another directory recompiled the Rust crates and relinked).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Bump when a change alters the packages built from the same tree.
PKG_RECIPE=4

main() {
rpm=0 args=()
while (($#)); do
  case $1 in
    --rpm) rpm=1; shift ;;
    --packages) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
# (rsync: headers_install, for linux-libc-dev)
for tool in dpkg-buildpackage dh_testdir rsync; do
  command -v "$tool" >/dev/null || apt-get install -y dpkg-dev debhelper rsync >&2 ||
    die "missing tool '$tool': apt-get install dpkg-dev debhelper rsync"
done
((rpm == 0)) || command -v rpmbuild >/dev/null || die "missing tool 'rpmbuild': apt-get install rpm"

tree=$("$here/build-kernel.sh" "${args[@]}") || die "the kernel build failed"
tkey=$("$here/build-kernel.sh" "${args[@]}" --print-key)
release=$(cat "$tree/include/config/kernel.release")
key=$( {
  echo "tree $tkey pkg-recipe $PKG_RECIPE rpm 0"   # (the .rpms go in the same directory)
  cat "$here"/patches-pkg/*.patch
} | sha256sum | cut -c1-16)
out=$DCBM_CACHE/pkg-$key
# done: the .debs are there, and the .rpms if asked for
have_all() { [ -f "$out/.dcbm-packages" ] && { ((rpm == 0)) || [ -f "$out/.dcbm-rpms" ]; }; }
if have_all; then
  log "kernel packages cached: $out"
  echo "$out"
  exit 0
fi

exec 9>"$DCBM_CACHE/.build.lock"
if ! flock -n 9; then
  log "waiting for another kernel build to finish"
  flock 9
fi
if have_all; then
  log "kernel packages cached: $out"
  echo "$out"
  exit 0
fi
# make bindeb-pkg leaves the packages in the tree's parent directory:
# collected from there into $out, with the files of the same build that
# are not kept (linux-libc-dev, .buildinfo, .changes).
work=$(dirname "$tree")
leftovers() {
  rm -f "$work"/linux-image-"$release"_*.deb "$work"/linux-headers-"$release"_*.deb \
    "$work"/linux-image-"$release"-dbg_*.deb "$work"/linux-libc-dev_*.deb \
    "$work"/linux-upstream_*.buildinfo "$work"/linux-upstream_*.changes
}
leftovers
rm -rf "$out.tmp"
trap 'cd /; leftovers; rm -rf "$out.tmp"' EXIT
log "packaging kernel $release ($tkey) as $out"
start=$SECONDS
cd "$tree"
grep -q rustc_version_text scripts/package/mkdebian ||
  die "$tree lacks testbed/patches-pkg (built by an older build-kernel.sh): remove it and build again"
# shellcheck disable=SC2046 # the flags are words
read -r -a make_flags <<<"$(kernel_make_flags "$tree")"
jobs=$(( $(nproc) + 1 ))
kver=$(make -s kernelversion 2>/dev/null) || kver=${release%%-*}
# The package revision is the tree's build number: the same version string
# as the cached build, so vmlinux is not relinked for a new one.
rev=$(cat .version 2>/dev/null || echo 1)
# Not compressed (dpkg-deb's default xz, and even gzip at its default
# level, spend about 25 s on one core on the headers package, which carries
# the Rust metadata); these packages go no further than the test bed's
# cache and image. No -dbg package
# (DEBUG_INFO is off anyway). -d: the tree is built, so the
# source package's Build-Depends (libdw-dev, rsync, ...) are not needed.
if [ ! -f "$out/.dcbm-packages" ]; then
  make -s -j"$jobs" "${make_flags[@]}" KDEB_PKGVERSION="$kver-$rev" KDEB_CHANGELOG_DIST=bookworm KDEB_COMPRESS=none \
    DPKG_FLAGS="-d -Ppkg.linux-upstream.nokerneldbg" bindeb-pkg >"$tree/bindeb-pkg.log" 2>&1 ||
    { tail -30 "$tree/bindeb-pkg.log" >&2; die "make bindeb-pkg failed (log above)"; }
  log "bindeb-pkg took $((SECONDS - start))s"
  mkdir -p "$out.tmp"
  mv "$work"/linux-image-"$release"_*.deb "$work"/linux-headers-"$release"_*.deb "$out.tmp/"
  echo "$release" > "$out.tmp/release"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  touch "$out/.dcbm-packages"
fi
if ((rpm)); then
  # (the build number goes up: vmlinux is relinked with it, in the cached
  # tree, whose kernel then reports the next build number)
  t=$SECONDS
  make -s -j"$jobs" "${make_flags[@]}" RPMOPTS="--nodeps" binrpm-pkg >"$tree/binrpm-pkg.log" 2>&1 ||
    { tail -30 "$tree/binrpm-pkg.log" >&2; die "make binrpm-pkg failed (log above)"; }
  log "binrpm-pkg took $((SECONDS - t))s"
  find rpmbuild/RPMS -name '*.rpm' ! -name 'kernel-headers-*' -exec mv {} "$out/" \;
  touch "$out/.dcbm-rpms"
fi
cd /
log "kernel packages for $release in $((SECONDS - start))s: $(cd "$out" && ls ./*.deb ./*.rpm 2>/dev/null | tr '\n' ' ')"
echo "$out"
}

main "$@"; exit
