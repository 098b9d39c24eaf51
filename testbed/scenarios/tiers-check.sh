# The tiered machine (vm/run --tiered): QEMU's ACPI HMAT makes node 1 (no
# CPU, 4x the latency, 1/4 the bandwidth) a lower memory tier than node 0,
# its demotion target. Without --tiered both nodes share one tier.
#   tiers-check.sh tiered|flat
. ./lib.sh
T=/sys/devices/virtual/memory_tiering
want=${1:-tiered}
plan 3
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
finish
