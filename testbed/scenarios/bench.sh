# Benchmark (not a test): CPU copy vs dcbm on the software engine, side by
# side in one boot. Run by testbed/bench, which parses the lines:
#   BENCH PHASE CONFIG REP {json}      one migrate-check RESULT line
#   BENCH-TIMING PHASE CONFIG REP PAGE SIZE CHUNK k=v...   dcbm counter deltas
#   BENCH-INFO k=v...
# PHASE: main (whole region per move_pages call; min_batch_bytes=0 for the
# raw comparison), sweep (--chunk-pages varies the batch size), default
# (the module's default min_batch_bytes and nr_dma_chan, never written).
# Configurations of one (page, size, chunk) are interleaved within each
# repetition so that host noise hits them alike.
#
#   bench.sh SIZES REPS SWEEP_MIB SWEEP_REPS   (SIZES: MiB, comma-separated)
. ./lib.sh
sizes=$(echo "${1:-64,128}" | tr , ' ')
reps=${2:-2}
sweep_mib=${3:-8}
sweep_reps=${4:-$reps}
d=/sys/module/dcbm

# NUMA balancing would move the region back to node 0 behind our back (hinting
# faults while the region is verified on node 1: one-folio MR_NUMA_MISPLACED
# batches, outside the timed calls, counted in timing/*).
echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null
load swdma channels=16
load dcbm
def_mbb=$(cat $d/min_batch_bytes)
def_mfb=$(cat $d/min_folio_bytes)
def_chan=$(cat $d/nr_dma_chan)
echo "BENCH-INFO numa_balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null) default_min_batch_bytes=$def_mbb default_min_folio_bytes=$def_mfb default_nr_dma_chan=$def_chan cpus=$(nproc) thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled | sed 's/.*\[\(.*\)\].*/\1/') sizes=$(echo $sizes | tr ' ' ,) reps=$reps sweep_mib=$sweep_mib sweep_reps=$sweep_reps"
# The regions ask for THP with MADV_HUGEPAGE; let faults compact if needed.
echo always > /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null

setconf() { # setconf CONFIG
  case $1 in
    cpu) echo 0 > $d/offloading ;;
    dcbm-*)
      echo 0 > $d/min_batch_bytes
      echo 0 > $d/min_folio_bytes
      echo "${1#dcbm-}" > $d/nr_dma_chan
      echo 1 > $d/offloading ;;
    default)
      echo "$def_mbb" > $d/min_batch_bytes
      echo "$def_mfb" > $d/min_folio_bytes
      echo "$def_chan" > $d/nr_dma_chan
      echo 1 > $d/offloading ;;
  esac || { fail "configure $1"; finish; }
}

counters="timing/batches timing/setup_ns timing/wait_ns timing/teardown_ns folios_migrated folios_failures folios_declined bytes_migrated"

# one PHASE CONFIG REP PAGE SIZE CHUNK: one migrate-check bench (1 rep: a
# timed move there and one back), its RESULT lines and the counter deltas.
one() {
  phase=$1 conf=$2 rep=$3 page=$4 size=$5 chunk=$6
  setconf "$conf"
  for c in $counters; do echo 0 > "$d/$c"; done
  copt=""; [ "$chunk" = all ] || copt="--chunk-pages $chunk"
  out=$(migrate-check bench --sizes "$size" --page "$page" --reps 1 --seed $((rep + 1)) $copt 2>/tmp/bench.err)
  rc=$?
  echo "$out" | sed -n "s/^RESULT /BENCH $phase $conf $rep /p"
  t="BENCH-TIMING $phase $conf $rep $page $size $chunk"
  for c in $counters; do t="$t ${c#timing/}=$(cat $d/$c)"; done
  echo "$t"
  if [ $rc != 0 ]; then
    fail "$phase $conf $page $size MiB chunk $chunk rep $rep: migrate-check exited $rc"
    tail -5 /tmp/bench.err
  fi
  case $conf in dcbm-*)
    [ "$(cat $d/folios_migrated)" -gt 0 ] || fail "$phase $conf $page $size: nothing offloaded" ;;
  esac
}

t0=$(date +%s)
for page in 4k thp; do
  for size in $sizes; do
    r=0
    while [ $r -lt "$reps" ]; do
      for conf in cpu dcbm-1 dcbm-2 dcbm-4 dcbm-16 default; do
        one main $conf $r $page $size all
      done
      r=$((r + 1))
    done
    echo "BENCH-INFO done main $page $size after $(($(date +%s) - t0)) s"
  done
done

# Batch size: 4 KiB folios at 1..512 pages per call (batches of 4 KiB to
# 2 MiB); THP at 1 and 8 THPs per call and the whole region.
for spec in 4k:1 4k:8 4k:64 4k:512 thp:512 thp:4096 thp:all; do
  page=${spec%%:*} chunk=${spec#*:}
  r=0
  while [ $r -lt "$sweep_reps" ]; do
    for conf in cpu dcbm-2 dcbm-4 default; do
      one sweep $conf $r $page "$sweep_mib" "$chunk"
    done
    r=$((r + 1))
  done
  echo "BENCH-INFO done sweep $spec after $(($(date +%s) - t0)) s"
done

echo 0 > $d/offloading
check "rmmod dcbm" rmmod dcbm
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
echo "BENCH-INFO total $(($(date +%s) - t0)) s"
finish
