#!/bin/sh
# VM scenario for dcbm-config against the real dcbm module (run as root inside
# the testbed guest, where the swdma software DMA engine provides channels).
#
#   sh scenario.sh [path/to/dcbm-config] [path/to/examples]
#
# For each policy it applies the policy, checks the live sysfs values against
# it, applies again and requires "nothing to write", then runs `check`.
# Exits non-zero on the first failure; prints "N passed, N failed" at the end.
set -u
BIN=${1:-dcbm-config}
EX=${2:-$(dirname "$0")/../../../examples}
M=/sys/module/dcbm
pass=0 fail=0

ok()  { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
val() { cat "$M/$1"; }
expect() { # attr value label
    if [ "$(val "$1")" = "$2" ]; then ok "$3: $1=$2"; else bad "$3: $1=$(val "$1"), want $2"; fi
}

run_policy() { # file, then expected "attr=value" pairs
    f=$1; shift
    tmp=$(mktemp); cp "$f" "$tmp"; chmod 0644 "$tmp"
    if "$BIN" --config "$tmp" apply; then ok "apply $f"; else bad "apply $f exited $?"; fi
    for kv in "$@"; do expect "${kv%%=*}" "${kv#*=}" "$(basename "$f")"; done
    out=$("$BIN" --config "$tmp" apply)
    case $out in *"nothing to write"*) ok "second apply of $f writes nothing" ;;
        *) bad "second apply of $f: $out" ;; esac
    if "$BIN" --config "$tmp" check >/dev/null; then ok "check $f"; else bad "check $f exited $?"; fi
    rm -f "$tmp"
}

run_policy "$EX/testbed-swdma.toml" offloading=1 nr_dma_chan=4 timeout_ms=10000 min_batch_bytes=262144
run_policy "$EX/disabled.toml" offloading=0
run_policy "$EX/testbed-swdma.toml" offloading=1 nr_dma_chan=4
"$BIN" status --interval 0 && ok status || bad status
"$BIN" metrics | grep -q '^dcbm_offloading 1$' && ok metrics || bad metrics

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
