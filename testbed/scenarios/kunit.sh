# The KUnit suites: the copy offload registration rules (kernel series)
# and dcbm's own (a DCBM_KUNIT=1 build of the module, /modules/dcbm-kunit.ko).
. ./lib.sh
plan 8
# suite NAME COUNT: the suite ran COUNT cases and all passed
suite() {
  summary=$(dmesg | grep -E "# $1: pass:" | tail -1 | sed 's/.*# /# /')
  case "$summary" in
    *"pass:$2 fail:0 skip:0 total:$2"*) pass "kunit $1: $summary" ;;
    *) fail "kunit $1: ${summary:-no summary}"; dmesg | grep -E "^\[.*\] +(not ok|# )" | tail -20 ;;
  esac
}
load migrate_copy_offload_kunit
suite migrate_copy_offload 10
if [ -f /modules/dcbm-kunit.ko ]; then
  insmod /modules/dcbm-kunit.ko || fail "insmod dcbm-kunit"
  suite dcbm_segments 11
  suite dcbm_coverage 4
  suite dcbm_health 3
  suite dcbm_verify 2
  suite dcbm_providers 3
  suite dcbm_sgtable 2
  suite dcbm_inflight 2
  rmmod dcbm
else
  fail "dcbm-kunit.ko missing"
fi
finish
