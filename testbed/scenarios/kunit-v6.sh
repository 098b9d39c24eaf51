# The KUnit suites of the v6 kernel series (build-kernel.sh --series v6):
# registration, reason mask and caller-context rules of the copy offload,
# and the parsing and formatting of reason masks. Boot the v6 kernel with
# its own migrate_copy_offload_kunit.ko (vm/run --kernel, --module).
. ./lib.sh
plan 4
# suite NAME COUNT: the suite ran COUNT cases and all passed
suite() {
  summary=$(dmesg | grep -E "# $1: pass:" | tail -1 | sed 's/.*# /# /')
  case "$summary" in
    *"pass:$2 fail:0 skip:0 total:$2"*) pass "kunit $1: $summary" ;;
    *) fail "kunit $1: ${summary:-no summary}"; dmesg | grep -E "^\[.*\] +(not ok|# )" | tail -20 ;;
  esac
}
case $(uname -r) in
  *-v6) pass "kernel $(uname -r) is a v6 series kernel" ;;
  *) fail "kernel $(uname -r) is not a v6 series kernel (build-kernel.sh --series v6)" ;;
esac
load migrate_copy_offload_kunit
suite migrate_copy_offload 12
suite migrate_copy_offload_mask 5
check "kernel log clean" kernel_log_clean
finish
