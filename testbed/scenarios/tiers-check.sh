# The tiered machine (vm/run --tiered): QEMU's ACPI HMAT makes node 1 (no
# CPU, 4x the latency, 1/4 the bandwidth) a lower memory tier than node 0,
# its demotion target. Without --tiered both nodes share one tier.
# dcbm-config's tier conditions against each: a policy that wants a lower
# tier and demotion (min_memory_tiers = 2, require_demotion) is applied
# on the tiered machine with demotion on, held off without it, and held
# off on the flat one, each failed condition named.
#   tiers-check.sh tiered|flat
. ./lib.sh
T=/sys/devices/virtual/memory_tiering
want=${1:-tiered}
plan 5
# tier_of NODE: the memory tier (its number) whose nodelist holds NODE
tier_of() {
  for d in "$T"/memory_tier*; do
    # nodelist is a range list (0, 1, 0-1): node N is in it
    awk -v n="$1" -F, '{ for (i = 1; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1]; if (n >= r[1] && n <= r[2]) f = 1 } } END { exit !f }' "$d/nodelist" &&
      { echo "${d##*memory_tier}"; return; }
  done
}
t0=$(tier_of 0) t1=$(tier_of 1)
echo "memory tiers: $(for d in "$T"/memory_tier*; do printf '%s=%s ' "${d##*/}" "$(cat "$d/nodelist")"; done)"
check "memory tiers are reported ($T)" test -n "$t0" -a -n "$t1"
if [ "$want" = tiered ]; then
  check "node 1 is in a lower tier than node 0 (memory_tier$t1 after memory_tier$t0)" test "${t1:-0}" -gt "${t0:-0}"
  check "the HMAT gave node 1 its access latency" sh -c "test -r /sys/devices/system/node/node1/access0/initiators/read_latency"
else
  check "without the HMAT both nodes share a tier (memory_tier$t0)" test "$t0" = "$t1"
  check "no HMAT latency for node 1" sh -c "! test -e /sys/devices/system/node/node1/access0/initiators/read_latency"
fi

printf '[offload]\nenabled = true\n[conditions]\nmin_memory_tiers = 2\nrequire_demotion = true\n' > /etc/dcbm-tiers.toml
load swdma channels=4
load dcbm
# apply_strict: dcbm-config apply --strict of that policy; sets rc, err
apply_strict() {
  dcbm-config --config /etc/dcbm-tiers.toml apply --no-dropins --strict >/tmp/apply.out 2>/tmp/apply.err
  rc=$?
  err=$(grep 'condition failed' /tmp/apply.err | head -1)
}
if [ "$want" = tiered ]; then
  echo 1 > /sys/kernel/mm/numa/demotion_enabled
  apply_strict
  check "a policy wanting a lower tier and demotion is applied (exit $rc, offloading $(cat /sys/module/dcbm/offloading))" \
    sh -c "test $rc = 0 && test $(cat /sys/module/dcbm/offloading) = 1"
  echo 0 > /sys/kernel/mm/numa/demotion_enabled
  apply_strict
  check "with demotion off it is held off, the condition named (exit $rc: $err)" \
    sh -c "test $rc = 9 && test $(cat /sys/module/dcbm/offloading) = 0 && grep -q 'condition failed: require_demotion' /tmp/apply.err"
else
  apply_strict
  check "on the flat machine the policy is held off (exit $rc, offloading $(cat /sys/module/dcbm/offloading))" \
    sh -c "test $rc = 9 && test $(cat /sys/module/dcbm/offloading) = 0"
  check "the condition named: $err" grep -q 'condition failed: min_memory_tiers: need 2 memory tier(s), found 1' /tmp/apply.err
fi
echo 0 > /sys/module/dcbm/offloading
rmmod dcbm && rmmod swdma || fail "unload dcbm and swdma"
finish
