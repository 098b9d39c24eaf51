# Shared helpers for the test-bed scripts (sourced, not run).
log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
# Where built kernels are cached, keyed by the hash of their inputs.
DCBM_CACHE=${DCBM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dcbm-testbed}
# Resolved through symlinks, so "mkdir -p" creates a symlinked cache's
# target when it is gone (an operator who moved the cache away and deleted
# it gets a cold run, not "File exists").
DCBM_CACHE=$(readlink -m -- "$DCBM_CACHE")

# The make flags a kernel tree was built with (LLVM=-19 for the san
# variant; empty for the main kernel): out-of-tree modules must use them.
kernel_make_flags() { cat "$1/.dcbm-make-flags" 2>/dev/null || true; }

# ext_module_build SRC OUT KDIR [MAKE ARGS...]: builds the out-of-tree module
# whose sources (Kbuild, Makefile, *.c, *.h, *.rs) are in SRC in a fresh copy
# at OUT, against the tree KDIR with that tree's make flags; the .ko files
# land in OUT, so a build for another kernel never clobbers SRC's.
ext_module_build() {
  local src=$1 out=$2 kdir=$3 f
  shift 3
  rm -rf "$out" && mkdir -p "$out" || return 1
  for f in "$src"/Kbuild "$src"/Makefile "$src"/*.c "$src"/*.h "$src"/*.rs; do
    if [ -f "$f" ]; then cp "$f" "$out/" || return 1; fi
  done
  # shellcheck disable=SC2046 # the flags are words
  make -s -j"$(( $(nproc) + 1 ))" -C "$kdir" M="$(cd "$out" && pwd)" $(kernel_make_flags "$kdir") "$@" modules
}

# needs_symbol KO SYMBOL: the module links against SYMBOL; 2 if nm cannot
# read it. (Not "nm | grep -q" under pipefail: grep stops at the match, nm
# dies of SIGPIPE once its output outgrows the pipe, and the pipeline fails
# on a module that has the symbol.)
needs_symbol() {
  local syms
  syms=$(nm -u "$1") || return 2
  grep -qx " *U $2" <<<"$syms"
}
# built_for_v5 KO: the module links against the offload interface, and not
# against the calls only v6 has.
built_for_v5() {
  needs_symbol "$1" migrate_offload_register && ! needs_symbol "$1" migrate_offload_set_reason_mask
}

# guest_checks LOG: the checks of a guest's console log (testbed/vm/run),
# one "PASS NAME" or "FAIL NAME: why" line each, NAME prefixed with its
# part's name when the guest ran several (scenarios/series.sh). A scenario
# or part that printed fewer checks than its "PLAN N" lines add up to, or
# declared none, adds a FAIL line; so does a part that exited non-zero. A
# console cut short (a crash, a timeout) ends the last part there.
guest_checks() {
  sed -n '/^DCBM-SCENARIO-START/,/^DCBM-DMESG-BEGIN/p' "$1" 2>/dev/null | awk '
    # (what precedes the first part of a series is no segment of its own)
    function close_seg(part_follows) {
      if (!started || (pfx == "" && part_follows && n == 0 && !planned)) return
      if (!planned) print "FAIL " pfx "declared no PLAN (how many checks it runs)"
      else if (n < plan) printf "FAIL %sonly %d of its %d planned checks ran\n", pfx, n, plan
    }
    /^DCBM-SCENARIO-START/ { started = 1; next }
    /^DCBM-PART-EXIT / { if ($3 != "0") print "FAIL " $2 ": exited " $3; next }
    /^DCBM-PART / { close_seg(1); pfx = $2 ": "; n = 0; plan = 0; planned = 0; next }
    /^PLAN [0-9]+$/ { plan += $2; planned = 1; next }
    /^PASS / { n++; print "PASS " pfx substr($0, 6); next }
    /^FAIL / { n++; print "FAIL " pfx substr($0, 6); next }
    /^DCBM-DMESG-BEGIN/ { close_seg(); started = 0 }
    END { close_seg() }'
}

# source_copy DEB SHA256 DEST: DEST (new) becomes a copy of the pristine
# Linux source in DEB (linux-source-7.3), which is unpacked only once, into
# $DCBM_CACHE/src-<sha>: xz takes most of a minute on one core for each
# tree, a copy takes seconds. The caller has checked DEB against SHA256.
source_copy() {
  local deb=$1 sha=$2 dest=$3
  source_unpack "$deb" "$sha" || return 1
  mkdir -p "$dest" && cp -a "$DCBM_CACHE/src-${sha:0:16}/." "$dest/" && rm -f "$dest/.dcbm-complete"
}
# source_unpack DEB SHA256: the unpacking of source_copy alone (once).
source_unpack() {
  local deb=$1 sha=$2
  local src=$DCBM_CACHE/src-${sha:0:16}
  mkdir -p "$DCBM_CACHE" || return 1
  (
    flock 8
    [ -f "$src/.dcbm-complete" ] && exit 0
    rm -rf "$src" && mkdir -p "$src" || exit 1
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-7.3.tar.xz |
      tar -xJ -C "$src" --strip-components=1 && touch "$src/.dcbm-complete"
  ) 8>"$DCBM_CACHE/.source.lock"
}
