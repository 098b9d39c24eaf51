#!/usr/bin/env bash
# Fetches the pinned Debian linux-source-7.3, applies testbed/patches and
# testbed/patches-pkg (the packaging fixes kernel-packages.sh needs),
# merges testbed/kernel.config onto tinyconfig and builds bzImage and
# modules. The built tree is cached under $DCBM_CACHE keyed by a hash of
# every input, and doubles as the "kernel headers" for out-of-tree and
# DKMS builds. Prints the tree's path on stdout.
#
#   build-kernel.sh [--variant san|bench] [--series v6|v5-posted|v6-posted] [--localversion SUFFIX] [--print-key]
#   build-kernel.sh --packages [--rpm] [options]   (testbed/kernel-packages.sh)
#   build-kernel.sh --fetch-source   (only download and unpack the source,
#                                     once; setup-host.sh runs it beside apt)
#
# The main kernel (gcc) is linked as $DCBM_CACHE/current. --variant san
# builds the same source, patches and fragment with clang (LLVM=-19) plus
# testbed/kernel-san.config (KASAN and kCFI), linked as current-san; its
# release ends in -dcbm-san. Out-of-tree modules for a tree must be built
# with the make flags saved in its .dcbm-make-flags (ext_module_build in
# testbed/lib.sh does that). --variant bench builds the main kernel (gcc)
# plus testbed/kernel-bench.config (the debugging options off), release
# -dcbm-bench, linked as current-bench; only testbed/bench/run builds it.
#
# --series v6 applies testbed/patches-v6 (the RFC v6 interface) instead of
# testbed/patches (v5): release -dcbm-v6 (-dcbm-san-v6), linked as
# current-v6 (current-san-v6). When the v5 tree of the same variant is
# built, it is an incremental build of a copy of that tree with the v5
# patches reversed and the v6 ones applied.
#
# --series v5-posted and v6-posted are the two series as posted: without
# the test bed's patch 6 (the caller-context rule, which neither posting
# carries), release -dcbm-posted (-dcbm-v6-posted). Built incrementally
# from the tree of the same series with patch 6 reversed, when that is
# built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# The build recipe's version: part of the cache key in place of this file's
# text, so that editing the script (options, messages) keeps every cached
# tree. Bump it when a change alters what a build produces.
RECIPE=4

main() {

SRC_PKG=linux-source-7.3
SRC_VER=7.3.4-1~bpo13+1
SRC_SHA256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
deb="$DCBM_CACHE/${SRC_PKG}_${SRC_VER}_all.deb"
# fetch_source: $deb, downloaded once and checked against the pin
fetch_source() {
  mkdir -p "$DCBM_CACHE"
  if [ ! -f "$deb" ]; then
    log "downloading $SRC_PKG $SRC_VER"
    (cd "$DCBM_CACHE" && apt-get download "$SRC_PKG=$SRC_VER" >/dev/null 2>&1) ||
      die "apt-get download $SRC_PKG=$SRC_VER failed: is trixie-backports in the apt sources? (testbed/setup-host.sh adds it)"
    mv "$DCBM_CACHE"/${SRC_PKG}_*"${SRC_VER#*:}"*_all.deb "$deb" 2>/dev/null || true
  fi
  echo "$SRC_SHA256  $deb" | sha256sum -c --quiet - || die "$deb does not match the pinned SHA-256"
}
variant="" series="" localversion="" print_key=0 fetch_only=0
# --packages [--rpm]: installable packages of the tree (kernel-packages.sh)
case " $* " in *" --packages "*) exec "$here/kernel-packages.sh" "$@" ;; esac
while (($#)); do
  case $1 in
    --variant) variant=$2; shift 2 ;;
    --series) series=$2; shift 2 ;;
    --localversion) localversion=$2; shift 2 ;;
    --print-key) print_key=1; shift ;;
    --fetch-source) fetch_only=1; shift ;;
    *) die "unknown option $1" ;;
  esac
done
if ((fetch_only)); then
  fetch_source
  source_unpack "$deb" "$SRC_SHA256" || die "cannot unpack $deb"
  exit 0
fi

tools=(make gcc flex bison bc rustc bindgen clang-19 xz)
fragments=("$here/kernel.config")
case $variant in
  "") make_flags=() default_lv=-dcbm link=current ;;
  san)
    make_flags=(LLVM=-19) default_lv=-dcbm-san link=current-san
    fragments+=("$here/kernel-san.config")
    tools+=(ld.lld-19 llvm-ar-19 llvm-nm-19 llvm-objcopy-19 llvm-strip-19 llvm-readelf-19) ;;
  bench)
    make_flags=() default_lv=-dcbm-bench link=current-bench
    fragments+=("$here/kernel-bench.config") ;;
  *) die "unknown variant '$variant' (have: san, bench)" ;;
esac
# series_patches SERIES: the patches of a series, in order
series_patches() {
  case $1 in
    "") printf '%s\n' "$here"/patches/*.patch ;;
    v6) printf '%s\n' "$here"/patches-v6/*.patch ;;
    v5-posted) series_patches "" | grep -v '/0006-' ;;
    v6-posted) series_patches v6 | grep -v '/0006-' ;;
    *) return 1 ;;
  esac
}
mapfile -t patches < <(series_patches "$series") && ((${#patches[@]})) ||
  die "unknown series '$series' (have: v6, v5-posted, v6-posted)"
# The series an incremental build starts from (see the header).
base_series=""
case $series in
  v6) default_lv=$default_lv-v6 link=$link-v6 ;;
  v5-posted) default_lv=$default_lv-posted link=$link-posted ;;
  v6-posted) default_lv=$default_lv-v6-posted link=$link-v6-posted base_series=v6 ;;
esac
localversion=${localversion:-$default_lv}
# The release suffix goes to make as LOCALVERSION, not into the config: the
# .config of every series and release suffix of a variant is then the same,
# and an incremental build recompiles what the patches touch instead of the
# whole Rust tree (rustc's --cfg set is the config, CONFIG_LOCALVERSION
# included). Saved with the other make flags (.dcbm-make-flags): every make
# in the tree, bindeb-pkg's included, gets the same release.
make_flags+=(LOCALVERSION="$localversion")
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "missing tool '$tool': run testbed/setup-host.sh"
done

fetch_source

# Everything that changes the result is part of the key.
key=$( {
  echo "$SRC_SHA256 $localversion"
  echo "recipe $RECIPE"
  cat "${patches[@]}" "$here"/patches-pkg/*.patch "${fragments[@]}"
  rustc --version; bindgen --version; gcc --version | head -1; clang-19 --version | head -1
  [ -z "$variant" ] || { echo "variant $variant ${make_flags[*]}"; ld.lld-19 --version; }
} | sha256sum | cut -c1-16)
tree="$DCBM_CACHE/linux-$key"
((print_key)) && { echo "$key"; exit 0; }
link_tree() {
  ln -sfn "$tree" "$DCBM_CACHE/current$localversion"
  if [ "$localversion" = "$default_lv" ]; then ln -sfn "$tree" "$DCBM_CACHE/$link"; fi
}
if [ -f "$tree/.dcbm-built" ]; then
  link_tree
  log "kernel cached: $tree"
  echo "$tree"
  exit 0
fi

# Another release string of a tree already built from the same inputs is
# an incremental build of a copy: only what carries the release changes.
base="" base_patches=()
if [ "$localversion" != "$default_lv" ]; then
  base_key=$("$here/build-kernel.sh" ${variant:+--variant "$variant"} ${series:+--series "$series"} --print-key)
  [ -f "$DCBM_CACHE/linux-$base_key/.dcbm-built" ] && base="$DCBM_CACHE/linux-$base_key"
elif [ -n "$series" ]; then
  # Another series: the base series' tree, its patches past the ones both
  # share reversed, this series' applied.
  base_key=$("$here/build-kernel.sh" ${variant:+--variant "$variant"} ${base_series:+--series "$base_series"} --print-key)
  if [ -f "$DCBM_CACHE/linux-$base_key/.dcbm-built" ]; then
    base="$DCBM_CACHE/linux-$base_key"
    mapfile -t base_patches < <(series_patches "$base_series")
  fi
fi
# One kernel build at a time (2 cores); a second caller of the same key
# finds the tree built when it gets the lock.
exec 9>"$DCBM_CACHE/.build.lock"
if ! flock -n 9; then
  log "waiting for another kernel build to finish"
  flock 9
fi
if [ -f "$tree/.dcbm-built" ]; then
  link_tree
  log "kernel cached: $tree"
  echo "$tree"
  exit 0
fi
rm -rf "$tree" "$tree.tmp"
if [ -n "$base" ]; then
  log "building kernel $key from $base with LOCALVERSION=$localversion"
  cp -a "$base" "$tree.tmp"
  cd "$tree.tmp"
  rm -f .dcbm-built
  if ((${#base_patches[@]})); then
    # The patches both series share, from the start, stay applied.
    same=0
    while ((same < ${#base_patches[@]} && same < ${#patches[@]})) &&
      cmp -s "${base_patches[same]}" "${patches[same]}"; do
      same=$((same + 1))
    done
    for ((i = ${#base_patches[@]} - 1; i >= same; i--)); do
      p=${base_patches[i]}
      patch -R -p1 -s --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not reverse"
    done
    for p in "${patches[@]:same}"; do
      patch -p1 -s --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not apply"
    done
  fi
  make -s "${make_flags[@]}" olddefconfig
else
  log "building kernel $key (a cold build takes several minutes)"
  source_copy "$deb" "$SRC_SHA256" "$tree.tmp" || die "cannot unpack $deb"
  cd "$tree.tmp"
  # The series, then the kernel packaging patches (scripts/package only:
  # nothing they change is compiled), so that kernel-packages.sh can
  # package this very tree.
  for p in "${patches[@]}" "$here"/patches-pkg/*.patch; do
    patch -p1 -s --no-backup-if-mismatch < "$p" || die "patch $(basename "$p") does not apply"
  done
  # make_flags go to every make: Kconfig itself tests the compiler.
  make -s "${make_flags[@]}" tinyconfig
  ./scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
  scripts/config --set-str LOCALVERSION "" --disable LOCALVERSION_AUTO
  make -s "${make_flags[@]}" olddefconfig
  make -s "${make_flags[@]}" rustavailable >/dev/null || die "the Rust toolchain is not usable for this kernel (make rustavailable)"
  # merge_config only warns; a silently dropped option would make a
  # different kernel than the one the tests assume.
  # A later fragment overrides an earlier one; an option set to n must
  # not stay on (selected by another).
  missing=0
  declare -A want=()
  while IFS= read -r line; do
    case $line in CONFIG_*=*) want[${line%%=*}]=${line#*=} ;; esac
  done < <(cat "${fragments[@]}")
  for opt in "${!want[@]}"; do
    if [ "${want[$opt]}" = n ]; then
      ! grep -q "^$opt=" .config || { log "config option not off: $(grep "^$opt=" .config)"; missing=1; }
    else
      grep -qx "$opt=${want[$opt]}" .config || { log "config option not set: $opt=${want[$opt]}"; missing=1; }
    fi
  done
  ((missing == 0)) || die "the config fragment did not apply (see above)"
fi
echo "${make_flags[*]}" > .dcbm-make-flags
jobs=$(( $(nproc) + 1 ))
start=$SECONDS
make -s -j"$jobs" "${make_flags[@]}" bzImage modules >build.log 2>&1 || { tail -40 build.log >&2; die "kernel build failed (log: $tree.tmp/build.log)"; }
touch .dcbm-built
cd /
mv "$tree.tmp" "$tree"
link_tree
log "make took $((SECONDS - start))s"
log "kernel built: $tree ($(cat "$tree/include/config/kernel.release"))"
echo "$tree"
}

# Bash reads a script as it runs: the whole body is one function so that
# editing this file during a build cannot change the running build.
main "$@"; exit
