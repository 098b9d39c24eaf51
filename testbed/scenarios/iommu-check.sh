# The IOMMU machine (vm/run --iommu): QEMU's Intel IOMMU is on and
# translating, the edu device (1234:11e8) that swdma can take as its DMA
# device sits in an IOMMU group with a strict translated domain ("DMA"; a
# lazy one reads "DMA-FQ", passthrough "identity"), and q35 keeps the two
# NUMA nodes, node 1 with memory and no CPU.
. ./lib.sh
plan 9
edu=""
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then edu=$d; fi
done
check "edu device 1234:11e8 present (${edu##*/})" test -n "$edu"
check "an Intel IOMMU is registered: $(ls /sys/class/iommu | tr '\n' ' ')" sh -c 'ls /sys/class/iommu | grep -q dmar'
check "the IOMMU translates (DMAR: IOMMU enabled)" sh -c 'dmesg | grep -q "DMAR: IOMMU enabled"'
group=""
[ -n "$edu" ] && [ -e "$edu/iommu_group" ] && group=/sys/kernel/iommu_groups/$(basename "$(readlink "$edu/iommu_group")")
check "edu is in ${group:-no IOMMU group}" test -n "$group" -a -e "$group/devices/${edu##*/}"
type=$(cat "$group/type" 2>/dev/null)
check "its default domain is strict translated (type: ${type:-none})" test "$type" = DMA
echo "IOMMU groups: $(ls /sys/kernel/iommu_groups | wc -l)"
for g in /sys/kernel/iommu_groups/*; do
  echo "  ${g##*/}: $(cat "$g/type") $(ls "$g/devices" | tr '\n' ' ')"
done
check "two NUMA nodes" test -d /sys/devices/system/node/node0 -a -d /sys/devices/system/node/node1
check "node 1 has no CPU" test -z "$(cat /sys/devices/system/node/node1/cpulist)"
mem1=$(sed -n 's/.*MemTotal: *\([0-9]*\) kB/\1/p' /sys/devices/system/node/node1/meminfo)
check "node 1 has memory (${mem1:-0} kB)" test "${mem1:-0}" -gt 0
check "kernel log clean" kernel_log_clean
finish
