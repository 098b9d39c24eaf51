# Several scenarios in one boot (a boot and its set-up cost seconds under
# TCG): each part runs as `sh ./SCENARIO.sh ARGS`, in order, after a line
# "DCBM-PART NAME" by which the host names its checks (and counts its
# PLAN), and ends with "DCBM-PART-EXIT NAME STATUS SECONDS" (the part's
# wall time, for whoever keeps the suite's time in bounds). Between parts,
# whatever a failed part left loaded is unloaded, so that the next one
# starts as on a fresh boot; numa_balancing and THP defrag are restored.
#
#   series.sh NAME SCENARIO [ARGS...] [-- NAME SCENARIO [ARGS...]]...
# (ARGS are words without spaces, as for testbed/vm/run.)
rc=0
nb=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null)
defrag=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null)
proactive=$(cat /proc/sys/vm/compaction_proactiveness 2>/dev/null)
while [ $# -ge 2 ]; do
  name=$1 scenario=$2
  shift 2
  args=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args="$args $1"; shift; done
  [ $# -gt 0 ] && shift
  echo "DCBM-PART $name"
  t0=$(cut -d' ' -f1 /proc/uptime)
  # shellcheck disable=SC2086 # the arguments are words
  sh "./$scenario.sh" $args
  status=$?
  echo "DCBM-PART-EXIT $name $status $(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)"
  [ "$status" = 0 ] || rc=1
  [ -e /sys/module/dcbm/offloading ] && echo 0 > /sys/module/dcbm/offloading 2>/dev/null
  for m in dcbm dmatest pubclient swdma; do
    grep -q "^$m " /proc/modules && rmmod "$m" 2>/dev/null
  done
  [ -z "$nb" ] || echo "$nb" > /proc/sys/kernel/numa_balancing 2>/dev/null
  [ -z "$defrag" ] || echo "$defrag" > /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null
  [ -z "$proactive" ] || echo "$proactive" > /proc/sys/vm/compaction_proactiveness 2>/dev/null
done
[ $# = 0 ] || { echo "FAIL series: a part without a scenario ($*)"; rc=1; }
exit $rc
