#!/bin/sh
# VM scenario for dcbm-config against the real dcbm module (run as root inside
# the testbed guest, where the swdma software DMA engine provides channels).
#
#   sh scenario.sh [path/to/dcbm-config] [path/to/examples]
#
# For each policy it applies the policy, checks the live sysfs values against
# it, applies again and requires "nothing to write", then runs `check`.
# Prints one "ok: ..." or "FAIL: ..." line per check and runs every check
# whatever failed before; prints "N passed, N failed" at the end and exits
# non-zero if any check failed. testbed/scenarios/dcbm-config.sh plans the
# number of those lines (51 on a v5 kernel, 58 on v6): change it with them.
set -u
BIN=${1:-dcbm-config}
EX=${2:-$(dirname "$0")/../../../examples}
M=/sys/module/dcbm
pass=0 fail=0
# Policies live in a private directory: as root, dcbm-config refuses a policy
# in a directory others can write (such as /tmp itself).
PD=$(mktemp -d) || exit 1
trap 'rm -rf "$PD"' EXIT
n=0
policy() { # copy $1 to a fresh file in $PD, print its name
    n=$((n + 1)); cp "$1" "$PD/p$n.toml"; chmod 0644 "$PD/p$n.toml"; echo "$PD/p$n.toml"
}

ok()  { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
val() { cat "$M/$1"; }
expect() { # attr value label
    if [ "$(val "$1")" = "$2" ]; then ok "$3: $1=$2"; else bad "$3: $1=$(val "$1"), want $2"; fi
}

run_policy() { # file, then expected "attr=value" pairs
    f=$1; shift
    tmp=$(policy "$f")
    if "$BIN" --config "$tmp" apply; then ok "apply $f"; else bad "apply $f exited $?"; fi
    for kv in "$@"; do expect "${kv%%=*}" "${kv#*=}" "$(basename "$f")"; done
    out=$("$BIN" --config "$tmp" apply)
    case $out in *"nothing to write"*) ok "second apply of $f writes nothing" ;;
        *) bad "second apply of $f: $out" ;; esac
    if "$BIN" --config "$tmp" check >/dev/null; then ok "check $f"; else bad "check $f exited $?"; fi
    rm -f "$tmp"
}

run_policy "$EX/testbed-swdma.toml" offloading=1 nr_dma_chan=4 timeout_ms=10000 \
    min_batch_bytes=262144 min_folio_bytes=0
held() { wc -w < "$M/channels" | tr -d ' '; }
[ "$(held)" = 4 ] && ok "channels lists 4 held" || bad "channels: '$(cat "$M/channels")', want 4 names"

# Channel change while offloading is on: one nr_dma_chan write, no toggle.
tmp=$PD/resize.toml
sed 's/^channels = 4/channels = 2/; s/^min_channels = 4/min_channels = 2/' \
    "$EX/testbed-swdma.toml" > "$tmp"; chmod 0644 "$tmp"
out=$("$BIN" --config "$tmp" apply)
case $out in *"wrote nr_dma_chan: 4 -> 2"*) ok "resize wrote nr_dma_chan" ;;
    *) bad "resize: $out" ;; esac
case $out in *offloading*) bad "resize toggled offloading: $out" ;;
    *) ok "resize left offloading alone" ;; esac
expect offloading 1 resize
[ "$(held)" = 2 ] && ok "channels lists 2 held" || bad "channels after resize: '$(cat "$M/channels")'"
"$BIN" providers | grep -q '(dcbm)' && ok "providers marks dcbm's channels" || bad "providers: no (dcbm) mark"
rm -f "$tmp"
run_policy "$EX/testbed-swdma.toml" offloading=1 nr_dma_chan=4
run_policy "$EX/disabled.toml" offloading=0
[ -z "$(cat "$M/channels")" ] && ok "channels empty when off" || bad "channels when off: '$(cat "$M/channels")'"
run_policy "$EX/testbed-swdma.toml" offloading=1 nr_dma_chan=4
"$BIN" status --interval 0 && ok status || bad status

# The way back, against the real module: off releases the channels, revert
# restores what the last change found, both idempotent.
tmp=$(policy "$EX/testbed-swdma.toml")
"$BIN" --config "$tmp" off >/dev/null && ok off || bad "off exited $?"
expect offloading 0 off
[ -z "$(cat "$M/channels")" ] && ok "off released the channels" || bad "channels after off: '$(cat "$M/channels")'"
case $("$BIN" --config "$tmp" off) in *"nothing to write"*) ok "off twice writes nothing" ;;
    *) bad "second off wrote" ;; esac
"$BIN" --config "$tmp" revert >/dev/null && ok revert || bad "revert exited $?"
expect offloading 1 revert
[ "$(held)" = 4 ] && ok "revert took 4 channels again" || bad "channels after revert: '$(cat "$M/channels")'"
case $("$BIN" --config "$tmp" revert) in *"nothing to write"*) ok "revert twice writes nothing" ;;
    *) bad "second revert wrote" ;; esac

# --json: one object, with the result.
"$BIN" --config "$tmp" check --json | grep -q '"result": "in-sync"' && ok "check --json in sync" || bad "check --json"
"$BIN" --config "$EX/disabled.toml" --lock-timeout-ms 1000 apply --json --dry-run \
    | grep -q '"result": "planned"' && ok "apply --json --dry-run" || bad "apply --json --dry-run"
rm -f "$tmp"
"$BIN" metrics | grep -q '^dcbm_offloading 1$' && ok metrics || bad metrics

# Drop-ins, against the real module: a drop-in overrides one key, validate
# names the file it came from, and without it the policy's value returns.
DD=$(mktemp -d) || exit 1
chmod 0755 "$DD"
printf '[offload]\ntimeout_ms = 5000\n' > "$DD/50-timeout.toml"
chmod 0644 "$DD/50-timeout.toml"
tmp=$(policy "$EX/testbed-swdma.toml")
"$BIN" --config "$tmp" --dropin-dir "$DD" apply >/dev/null && ok "apply with a drop-in" || bad "apply with a drop-in exited $?"
expect timeout_ms 5000 "drop-in"
"$BIN" --config "$tmp" --dropin-dir "$DD" validate | grep -q "50-timeout.toml" &&
    ok "validate names the drop-in" || bad "validate does not name the drop-in"
rm -f "$DD/50-timeout.toml"
"$BIN" --config "$tmp" --dropin-dir "$DD" apply >/dev/null && ok "apply without the drop-in" || bad "apply without the drop-in"
expect timeout_ms 10000 "drop-in removed"
rm -rf "$DD" "$tmp"

# The reason mask, on the kernel this runs on.
reasons_policy() { # a policy like testbed-swdma.toml with offload.reasons = $1
    tmp=$PD/reasons.toml
    sed "s/^\[offload\]\$/[offload]\nreasons = $1/" "$EX/testbed-swdma.toml" > "$tmp"
    chmod 0644 "$tmp"; echo "$tmp"
}
case $(val interface) in
v5)
    # The fixed set, read-only; a policy asking for another fails its
    # condition, says why, and writes no reason_mask.
    expect reason_mask "compaction,syscall_or_cpuset,numa_misplaced,demotion" "v5 reasons"
    if echo all > "$M/reason_mask" 2>/dev/null; then bad "v5 reason_mask accepted a write"; else ok "v5 reason_mask refuses writes"; fi
    out=$("$BIN" --config "$(reasons_policy '["compaction"]')" apply 2>&1)
    case $out in *reasons*v5*|*v5*reasons*) ok "v5: a policy asking other reasons says why" ;;
        *) bad "v5 reasons policy: $out" ;; esac
    expect reason_mask "compaction,syscall_or_cpuset,numa_misplaced,demotion" "v5 reasons unchanged"
    "$BIN" status | grep -q "v5" && ok "status shows the interface" || bad "status does not show the interface" ;;
v6)
    expect reason_mask "$(val reasons_available)" "v6 default: every reason"
    run_policy "$(reasons_policy '["demotion", "compaction"]')" reason_mask=compaction,demotion
    before=$(val reason_mask)
    out=$("$BIN" --config "$(reasons_policy '["compaction", "bogus"]')" apply 2>&1); rc=$?
    case "$rc $out" in "3 "*reasons.toml:*bogus*) ok "v6: an unknown reason is a policy error at file:line:column" ;;
        *) bad "v6 unknown reason: exit $rc: $out" ;; esac
    expect reason_mask "$before" "v6 bad policy changed nothing"
    run_policy "$(reasons_policy '"all"')" reason_mask="$(val reasons_available)"
    st=$("$BIN" status)
    echo "$st" | grep -q "v6" && ok "status shows the interface v6" || bad "status does not show v6: $st" ;;
*) bad "interface reads '$(val interface)'" ;;
esac

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
