# The demo: the software DMA engine and dcbm load, dcbm-config applies the
# test-bed policy, pages migrate between the NUMA nodes, counters show it.
. ./lib.sh
plan 4
say() { printf '\n=== %s\n' "$*"; }
say "NUMA nodes of this guest"
migrate-check nodes
say "loading the software DMA engine (4 channels) and dcbm"
load swdma channels=4
load dcbm
cp /etc/dcbm/testbed-swdma.toml /etc/dcbm.toml
say "dcbm-config providers"
dcbm-config providers
say "dcbm-config apply (policy: examples/testbed-swdma.toml)"
check "dcbm-config apply" dcbm-config apply
say "dcbm-config apply again: nothing to write"
dcbm-config apply
for page in thp 4k; do
  say "move 64 MiB of $page pages to node 1 and back, with offload"
  check "migrate $page with offload, bytes intact" migrate run --size-mib 64 --page $page --rounds 1
  echo "$RESULT"
done
say "dcbm-config status"
dcbm-config status
check "folios were copied by DMA" test "$(cat /sys/module/dcbm/folios_migrated)" -gt 0
finish
