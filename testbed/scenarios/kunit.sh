# The KUnit suite for the copy offload registration rules.
. ./lib.sh
load migrate_copy_offload_kunit
res=/sys/kernel/debug/kunit/migrate_copy_offload/results
if [ -f $res ]; then
  cat $res
  summary=$(grep -E '^# migrate_copy_offload: pass:' $res)
else
  summary=$(dmesg | grep -E '# migrate_copy_offload: pass:' | tail -1)
fi
case "$summary" in
  *"pass:7 fail:0 skip:0 total:7"*) pass "kunit migrate_copy_offload: $summary" ;;
  *) fail "kunit migrate_copy_offload: ${summary:-no summary}" ;;
esac
finish
