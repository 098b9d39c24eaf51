# Shared helpers for the test-bed scripts (sourced, not run).
log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
# Where built kernels are cached, keyed by the hash of their inputs.
DCBM_CACHE=${DCBM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dcbm-testbed}
