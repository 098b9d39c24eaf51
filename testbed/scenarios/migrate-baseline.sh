# Page migration without a migrator keeps every byte: 4 KiB and THP,
# move_pages(2) and migrate_pages(2), node 0 -> node 1 -> node 0.
. ./lib.sh
plan 5
check "guest sees two NUMA nodes" test -d /sys/devices/system/node/node1
for page in 4k thp; do
  for api in move_pages migrate_pages; do
    if migrate run --size-mib 64 --page $page --api $api --rounds 2; then
      pass "baseline $page $api: $(json_num pages_moved) pages moved, $(json_num gbps) GB/s, bytes intact"
    else
      fail "baseline $page $api"
    fi
  done
done
finish
