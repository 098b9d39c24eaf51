# Shared helpers for the test-bed scripts (sourced, not run).
log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
# Where built kernels are cached, keyed by the hash of their inputs.
DCBM_CACHE=${DCBM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dcbm-testbed}

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
