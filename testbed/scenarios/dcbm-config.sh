# dcbm-config against the real module: applies the example policies,
# checks the live values, re-applies (nothing to write), runs check.
. ./lib.sh
load swdma channels=4
load dcbm
# config-scenario.sh (dcbm-config/tests/vm/scenario.sh) prints 51 "ok:"
# or "FAIL:" lines on a v5 kernel, 58 on v6 (its reason-mask part differs);
# then rmmod and the kernel log here.
case $(cat /sys/module/dcbm/interface) in v6) plan $((58 + 2)) ;; *) plan $((51 + 2)) ;; esac
sh ./config-scenario.sh dcbm-config /etc/dcbm > /tmp/config.out 2>&1
rc=$?
sed -n 's/^ok: /PASS /p; s/^FAIL: /FAIL /p' /tmp/config.out
grep -v '^ok: \|^FAIL: ' /tmp/config.out | tail -20
[ $rc = 0 ] || fail "config scenario exited $rc"
grep -q '^FAIL' /tmp/config.out && failures=$((failures + 1))
echo 0 > /sys/module/dcbm/offloading
check "rmmod dcbm" rmmod dcbm
check "kernel log clean" kernel_log_clean
finish
