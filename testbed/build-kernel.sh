#!/usr/bin/env bash
# Fetches the pinned Debian linux-source-7.3, applies testbed/patches,
# merges testbed/kernel.config onto tinyconfig and builds bzImage and
# modules. The built tree is cached under $DCBM_CACHE keyed by a hash of
# every input, and doubles as the "kernel headers" for out-of-tree and
# DKMS builds. Prints the tree's path on stdout.
#
#   build-kernel.sh [--localversion SUFFIX] [--print-key]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SRC_PKG=linux-source-7.3
SRC_VER=7.3.4-1~bpo13+1
SRC_SHA256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
localversion=-dcbm print_key=0
while (($#)); do
  case $1 in
    --localversion) localversion=$2; shift 2 ;;
    --print-key) print_key=1; shift ;;
    *) die "unknown option $1" ;;
  esac
done

for tool in make gcc flex bison bc rustc bindgen clang-19 xz; do
  command -v "$tool" >/dev/null || die "missing tool '$tool': run testbed/setup-host.sh"
done

mkdir -p "$DCBM_CACHE"
deb="$DCBM_CACHE/${SRC_PKG}_${SRC_VER}_all.deb"
if [ ! -f "$deb" ]; then
  log "downloading $SRC_PKG $SRC_VER"
  (cd "$DCBM_CACHE" && apt-get download "$SRC_PKG=$SRC_VER" >/dev/null 2>&1) ||
    die "apt-get download $SRC_PKG=$SRC_VER failed: is trixie-backports in the apt sources? (testbed/setup-host.sh adds it)"
  mv "$DCBM_CACHE"/${SRC_PKG}_*"${SRC_VER#*:}"*_all.deb "$deb" 2>/dev/null || true
fi
echo "$SRC_SHA256  $deb" | sha256sum -c --quiet - || die "$deb does not match the pinned SHA-256"

# Everything that changes the result is part of the key.
key=$( {
  echo "$SRC_SHA256 $localversion"
  cat "$here"/patches/*.patch "$here/kernel.config" "$here/build-kernel.sh"
  rustc --version; bindgen --version; gcc --version | head -1; clang-19 --version | head -1
} | sha256sum | cut -c1-16)
tree="$DCBM_CACHE/linux-$key"
((print_key)) && { echo "$key"; exit 0; }
if [ -f "$tree/.dcbm-built" ]; then
  ln -sfn "$tree" "$DCBM_CACHE/current$localversion"
  [ "$localversion" = -dcbm ] && ln -sfn "$tree" "$DCBM_CACHE/current"
  log "kernel cached: $tree"
  echo "$tree"
  exit 0
fi

# Another release string of a tree already built from the same inputs is
# an incremental build of a copy: only what carries the release changes.
base=""
if [ "$localversion" != -dcbm ]; then
  base_key=$("$here/build-kernel.sh" --print-key)
  [ -f "$DCBM_CACHE/linux-$base_key/.dcbm-built" ] && base="$DCBM_CACHE/linux-$base_key"
fi
rm -rf "$tree" "$tree.tmp"
if [ -n "$base" ]; then
  log "building kernel $key from $base with LOCALVERSION=$localversion"
  cp -a "$base" "$tree.tmp"
  cd "$tree.tmp"
  rm -f .dcbm-built
  scripts/config --set-str LOCALVERSION "$localversion"
  make -s olddefconfig
else
  log "building kernel $key (a cold build takes several minutes)"
  mkdir -p "$tree.tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/$SRC_PKG.tar.xz | tar -xJ -C "$tree.tmp" --strip-components=1
  cd "$tree.tmp"
  for p in "$here"/patches/*.patch; do
    patch -p1 -s --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not apply"
  done
  make -s tinyconfig
  ./scripts/kconfig/merge_config.sh -m .config "$here/kernel.config" >/dev/null
  scripts/config --set-str LOCALVERSION "$localversion" --disable LOCALVERSION_AUTO
  make -s olddefconfig
  make -s rustavailable >/dev/null || die "the Rust toolchain is not usable for this kernel (make rustavailable)"
  # merge_config only warns; a silently dropped option would make a
  # different kernel than the one the tests assume.
  missing=0
  while IFS= read -r line; do
    case $line in CONFIG_*=n|'#'*|'') continue ;; esac
    grep -qx "$line" .config || { log "config option not set: $line"; missing=1; }
  done < "$here/kernel.config"
  ((missing == 0)) || die "the config fragment did not apply (see above)"
fi
jobs=$(( $(nproc) + 1 ))
make -s -j"$jobs" bzImage modules >build.log 2>&1 || { tail -40 build.log >&2; die "kernel build failed (log: $tree.tmp/build.log)"; }
touch .dcbm-built
cd /
mv "$tree.tmp" "$tree"
ln -sfn "$tree" "$DCBM_CACHE/current$localversion"
[ "$localversion" = -dcbm ] && ln -sfn "$tree" "$DCBM_CACHE/current"
log "kernel built: $tree ($(cat "$tree/include/config/kernel.release"))"
echo "$tree"
