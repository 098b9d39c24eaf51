#!/usr/bin/env bash
# A kernel for real hardware (AMD PTDMA, Intel DSA/IAA, Intel I/OAT):
# installable packages of the patched Linux 7.3 built from YOUR kernel
# config merged with what dcbm needs (testbed/hw-kernel.config: Rust, the
# copy-offload interface, the DMA engine drivers as modules).
#
#   testbed/hw-kernel.sh [--config FILE] [--localversion S] [--localmodconfig] [--rpm] [--out DIR]
#       FILE defaults to /boot/config-$(uname -r). Builds linux-image-* and
#       linux-headers-* .debs (--rpm: kernel and kernel-devel .rpms) in DIR
#       (default ./dcbm-kernel). --localmodconfig first drops the modules
#       not loaded now (a much shorter build; load your DMA engine's driver
#       first). Install: sudo apt install ./DIR/linux-image-*.deb
#       ./DIR/linux-headers-*.deb, with dcbm-dkms installed (before or after).
#   testbed/hw-kernel.sh --check [--config FILE]
#       Only merges and checks the config, without building: every option
#       of the fragment holds, and every option the config had on that the
#       merge turned off is listed (an option turned off beyond those the
#       merge must change, MUST_CHANGE below, fails the check).
#
# The source is the test bed's pinned linux-source-7.3 with testbed/patches
# (the interface) and testbed/patches-pkg (the headers package carries the
# Rust artifacts DKMS needs). The headers package names the rustc that must
# build dcbm: the one on PATH here (rustup's; see testbed/setup-host.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Options the merge may turn off: they conflict with what dcbm needs (Rust
# cannot be built with them) or with a local build (a distribution's key).
MUST_CHANGE="CONFIG_RANDSTRUCT CONFIG_RANDSTRUCT_FULL CONFIG_RANDSTRUCT_PERFORMANCE CONFIG_GCC_PLUGIN_RANDSTRUCT
  CONFIG_MODVERSIONS CONFIG_DEBUG_INFO_BTF CONFIG_DEBUG_INFO_BTF_MODULES CONFIG_CFI CONFIG_CFI_CLANG"

main() {
config=/boot/config-$(uname -r) localversion=-dcbm localmod=0 rpm=0 check=0 out=$PWD/dcbm-kernel
while (($#)); do
  case $1 in
    --config) config=$2; shift 2 ;;
    --localversion) localversion=$2; shift 2 ;;
    --localmodconfig) localmod=1; shift ;;
    --rpm) rpm=1; shift ;;
    --check) check=1; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -r "$config" ] || die "no kernel config $config: pass --config FILE (e.g. /boot/config-<release>)"
config=$(readlink -f "$config")
src_sha=$(sed -n 's/^SRC_SHA256=//p' "$here/build-kernel.sh")
src_ver=$(sed -n 's/^SRC_VER=//p' "$here/build-kernel.sh")
deb=$DCBM_CACHE/linux-source-7.3_${src_ver}_all.deb
if [ ! -f "$deb" ]; then
  mkdir -p "$DCBM_CACHE"
  (cd "$DCBM_CACHE" && apt-get download "linux-source-7.3=$src_ver" >/dev/null 2>&1) ||
    die "apt-get download linux-source-7.3=$src_ver failed: add trixie-backports (testbed/setup-host.sh)"
fi
echo "$src_sha  $deb" | sha256sum -c --quiet - || die "$deb does not match the pinned SHA-256"

# --check is cached by its inputs (the config, the fragment, the patches,
# this script, the toolchain Kconfig tests).
ckey=$( { cat "$config" "$here/hw-kernel.config" "$here"/patches/*.patch "$here"/patches-pkg/*.patch "$0"
  echo "$src_sha"; rustc --version; bindgen --version; gcc --version | head -1; } 2>&1 | sha256sum | cut -c1-16)
stamp=$DCBM_CACHE/hw-check-$ckey.out
if ((check)) && [ -f "$stamp" ]; then
  cat "$stamp"; log "config check cached: $stamp"; exit 0
fi

work=${DCBM_HW_WORK:-$DCBM_CACHE/hw-kernel}/linux
((check)) && work=$(mktemp -d)/linux
log "unpacking linux-source-7.3 $src_ver into $work"
rm -rf "$work"
((check)) && trap 'rm -rf "$(dirname "$work")"' EXIT
source_copy "$deb" "$src_sha" "$work" || die "cannot unpack $deb"
cd "$work"
for p in "$here"/patches/*.patch "$here"/patches-pkg/*.patch; do
  patch -p1 -s --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not apply"
done

# The user's config as 7.3 reads it (olddefconfig alone), then merged.
cp "$config" .config
make -s olddefconfig >/dev/null
cp .config "$work/../user.config"
if ((localmod)); then
  make -s LSMOD="${LSMOD:-/proc/modules}" localmodconfig </dev/null >/dev/null
fi
./scripts/kconfig/merge_config.sh -m .config "$here/hw-kernel.config" >/dev/null
scripts/config --set-str LOCALVERSION "$localversion" --disable LOCALVERSION_AUTO
make -s olddefconfig >/dev/null

release=$(make -s kernelversion)$(sed -n 's/^CONFIG_LOCALVERSION="\(.*\)"$/\1/p' .config)
bad=0
report=$work/../report
exec 8>&1 >"$report"
while IFS= read -r line; do
  case $line in '#'*|'') continue ;; esac
  if grep -qx "$line" .config; then echo "on: $line"; else echo "MISSING: $line (have: $(grep "^${line%%=*}=" .config || echo 'not set'))"; bad=1; fi
done < "$here/hw-kernel.config"
((localmod)) || {
  turned_off=$(grep -E '^CONFIG_[A-Za-z0-9_]+=[ym]$' "$work/../user.config" | cut -d= -f1 | while read -r opt; do
    grep -qE "^$opt=[ym]$" .config || echo "$opt"; done)
  for opt in $turned_off; do
    if [[ " $(echo $MUST_CHANGE) " == *" $opt "* ]]; then echo "turned off (must be, for Rust or a local build): $opt"
    else echo "TURNED OFF by the merge: $opt"; bad=1; fi
  done
  echo "options the config had on and the merge turned off: $(echo $turned_off | wc -w)"
}
exec >&8 8>&-
cat "$report"
((bad == 0)) || die "the merged config does not hold (see above)"
log "merged config OK: $(grep -c '=m$' .config) modules, release $release"
if ((check)); then
  echo "config check passed ($(grep -c '=m$' .config) modules, release $release)" >>"$report"
  tail -1 "$report"
  cp "$report" "$stamp"
  exit 0
fi

jobs=$(( $(nproc) + 1 ))
start=$SECONDS
log "building (make -j$jobs bindeb-pkg$( ((rpm)) && echo ' binrpm-pkg')); see $work/build.log"
make -j"$jobs" bindeb-pkg >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; die "make bindeb-pkg failed"; }
((rpm == 0)) || make -j"$jobs" binrpm-pkg >>"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; die "make binrpm-pkg failed"; }
mkdir -p "$out"
mv "$work"/../linux-image-*.deb "$work"/../linux-headers-*.deb "$out/"
((rpm == 0)) || find rpmbuild/RPMS -name '*.rpm' -exec mv {} "$out/" \;
log "built in $(( (SECONDS - start) / 60 )) min: $(ls "$out" | tr '\n' ' ')"
echo "Install: sudo apt install $out/linux-image-*.deb $out/linux-headers-*.deb (then reboot into $release)"
}

main "$@"; exit
