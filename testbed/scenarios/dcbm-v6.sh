# What the v6 interface adds (a kernel built with --series v6):
#  - per-folio fallback: one failed descriptor sends exactly the folios it
#    touched to the CPU, the others keep their DMA copy, every byte intact;
#  - the reason mask, read and written with the kernel's names, "all",
#    "none" and numbers, one value in both sysfs layouts, and obeyed by
#    the core: move_pages batches are not offered when syscall_or_cpuset
#    is masked out; compaction's are offered when compaction is in.
#
#   dcbm-v6.sh [SWDMA_PARAM=VALUE...]   e.g. iommu=1 (with vm/run --iommu:
#   a descriptor then spans several 4 KiB folios)
. ./lib.sh
D=/sys/module/dcbm
P=/sys/module/swdma/parameters
offload_on 10000 "$@"
# 1, 3 per page size, 1, the reason mask's 13, compaction's 3, the
# personality's, offload_off's.
plan $((1 + 6 + 1 + 13 + 3 + $(personality_plan "$@") + OFFLOAD_OFF_CHECKS))
check "interface reads v6" test "$(cat $D/interface)" = v6

# --- Per-folio fallback --------------------------------------------------
for page in 4k thp; do
  echo 0 > $D/folios_failures; echo 0 > $D/folios_migrated
  fb0=$(cat $P/failed_bytes)
  echo 1 > $P/fail_transfer
  if migrate run --size-mib 8 --page $page --rounds 1; then
    f=$(cat $D/folios_failures) m=$(cat $D/folios_migrated)
    fb=$(( $(cat $P/failed_bytes) - fb0 ))
    # The failed descriptor's bytes lie on page boundaries (dcbm cuts its
    # copies there): over 4 KiB folios it touched fb/4096 of them; a THP
    # is cut over the channels, so it touched one.
    if [ $page = 4k ]; then want=$((fb / 4096)); else want=1; fi
    pass "$page one failed descriptor ($fb bytes): bytes intact"
    check "$page exactly the $want folios it touched fell back (folios_failures=$f)" test "$f" = "$want"
    check "$page the other folios kept their DMA copy (folios_migrated=$m)" test "$m" -gt 0
  else
    fail "$page one failed descriptor: migration lost or corrupted data"
  fi
  echo 0 > $P/fail_transfer
done
check "the log names the folios that fell back" dmesg_has "folios failed (error -5), copying them on the CPU"

# --- The reason mask -------------------------------------------------------
all=$(cat $D/reasons_available)
check "reasons_available has the kernel's names" \
  sh -c "echo '$all' | grep -q 'compaction,memory_failure,memory_hotplug,syscall_or_cpuset,mempolicy_mbind,numa_misplaced,contig_range,longterm_pin,demotion,damon'"
check "reason_mask defaults to every reason" test "$(cat $D/reason_mask)" = "$all"
mask_is() { # mask_is WRITE EXPECTED [FILE]
  f=${3:-$D/reason_mask}
  if echo "$1" > "$f" 2>/tmp/err && [ "$(cat $D/reason_mask)" = "$2" ] &&
    [ "$(cat $D/parameters/reason_mask)" = "$2" ]; then
    pass "reason_mask <- '$1' reads '$2' in both layouts"
  else
    fail "reason_mask <- '$1': $(cat /tmp/err) reads '$(cat $D/reason_mask)' / '$(cat $D/parameters/reason_mask)', want '$2'"
  fi
}
mask_is none none
mask_is "demotion,compaction" "compaction,demotion"
mask_is 0x9 "compaction,syscall_or_cpuset"
mask_is "all,none,numa_misplaced" numa_misplaced $D/parameters/reason_mask
mask_is all "$all"
bad_mask() {
  before=$(cat $D/reason_mask)
  if echo "$1" > $D/reason_mask 2>/tmp/err; then fail "reason_mask <- '$1' accepted"
  elif [ "$(cat $D/reason_mask)" != "$before" ]; then fail "reason_mask <- '$1' changed it"
  else pass "reason_mask <- '$1' rejected ($(sed 's/.*: //' /tmp/err)), unchanged"; fi
}
bad_mask bogus
bad_mask "compaction,bogus"
bad_mask 0x100000
bad_mask ""

# syscall_or_cpuset masked out: move_pages batches never reach dcbm.
echo "compaction,numa_misplaced,demotion" > $D/reason_mask
b0=$(cat $D/timing/batches) d0=$(cat $D/folios_declined) m0=$(cat $D/folios_migrated)
if migrate run --size-mib 8 --page thp --rounds 1; then
  check "syscall_or_cpuset masked out: no move_pages batch offered" \
    sh -c "test $(cat $D/timing/batches) = $b0 && test $(cat $D/folios_declined) = $d0 && test $(cat $D/folios_migrated) = $m0"
else
  fail "migration with syscall_or_cpuset masked out lost or corrupted data"
fi
echo all > $D/reason_mask
if migrate run --size-mib 8 --page thp --rounds 1; then
  check "syscall_or_cpuset back in: move_pages batches offloaded" test "$(cat $D/folios_migrated)" -gt "$m0"
else
  fail "migration with every reason lost or corrupted data"
fi

# compaction: /proc/sys/vm/compact_memory moves the pages compact-check
# keeps (every other page), offloaded only with compaction in. 64 MiB is
# often taken from the top of the zone, where the free scanner works and
# nothing is moved (moved 0 in three tries once, 1 page another time):
# each try takes more of the free memory, down into the part that the
# migration scanner walks.
compact() { # compact MASK: compacts until compaction moved some of the pages
  echo "$1" > $D/reason_mask
  echo 0 > $D/folios_migrated
  for size in 64 20% 50%; do
    out=$(compact-check $size 2 0 sh -c 'echo 1 > /proc/sys/vm/compact_memory')
    rc=$?
    RESULT=$(echo "$out" | sed -n 's/^RESULT //p')
    [ $rc = 0 ] || { fail "compaction under mask '$1' corrupted pages: $RESULT"; return; }
    echo "compaction under mask '$1' ($size): $RESULT folios_migrated=$(cat $D/folios_migrated)"
    [ "$(json_num moved)" -gt 0 ] && return
  done
}
compact "syscall_or_cpuset,numa_misplaced,demotion"
moved_out=$(json_num moved) got_out=$(cat $D/folios_migrated)
compact "compaction"
moved_in=$(json_num moved) got_in=$(cat $D/folios_migrated)
check "compaction moved pages ($moved_out, $moved_in)" sh -c "test '$moved_out' -gt 0 && test '$moved_in' -gt 0"
check "compaction masked out: nothing offloaded ($got_out)" test "$got_out" = 0
check "compaction in the mask: its batches offloaded ($got_in)" test "$got_in" -gt 0
echo all > $D/reason_mask
echo "engine: descriptors=$(cat $D/engine/descriptors) batches=$(cat $D/timing/batches)"
personality_checks "$@"
offload_off
finish
