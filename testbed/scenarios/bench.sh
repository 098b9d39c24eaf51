# Benchmark (not a test): CPU copy vs dcbm on the software engine, side by
# side in one boot. Run by testbed/bench/run, which parses the lines:
#   BENCH PHASE CONFIG REP {json}      one migrate-check RESULT line
#   BENCH-TIMING PHASE CONFIG REP PAGE SIZE FOLIOS k=v...   dcbm counter deltas
#   BENCH-INFO k=v...
# PHASE main: throughput, the whole region in one move_pages call, with the
# migrating thread's CPU time (migrate-check bench); PHASE latency: the time
# of one move_pages call of N folios (migrate-check latency).
# CONFIG: cpu (offloading off); dcbm-N (N channels, min_batch_bytes and
# min_folio_bytes 0: offload forced); default (the module's defaults, never
# written); c-N (the C reference driver, module dcbm_c, on N channels: it
# has no thresholds).
# Every configuration of one (page, size) runs once per repetition, in an
# order rotated from one repetition to the next, so that host noise and
# drift hit them alike and a CPU sample can be paired with the offload
# sample of the same repetition.
#
# With /modules/bench_sampler.ko (bench/run --profile) each main-phase
# and demotion run is sampled: BENCH-PROFILE PHASE CONFIG REP PAGE SIZE
# lines, the sampler's report (testbed/bench/sampler).
#
# PHASE tiering (the tiered machine, vm/run --tiered): demotion under
# memory pressure (migrate-check pressure: a region of 3/8 of node 0,
# written to all along, then 5/8 of it more bound to node 0, so reclaim
# demotes to node 1) and promotion (numa_balancing=2, migrate-check stall
# on a region placed on node 1), configurations cpu, dcbm-4, default and,
# when loaded, the C reference on 4 channels (c-4); the workload runs in a
# cgroup of its own, whose memory.pressure gives the time it stalled on
# memory.
#
#   bench.sh SIZES REPS LAT_REPS LAT_SPECS CONFIGS [ENGINE [TIER_REPS]]
#     SIZES     region sizes in MiB for the main phase, comma-separated
#     REPS      repetitions of the main phase (each: a move there and back)
#     LAT_REPS  repetitions of the latency phase (each: 2 timed round trips)
#     LAT_SPECS page:folios,... (e.g. 4k:1,4k:8,thp:1)
#     CONFIGS   main-phase configurations, comma-separated
#     ENGINE    swdma's speed per channel: cpu (default: calibrated after
#               the warm-up to the CPU path's THP migration rate), raw
#               (unpaced), or MB/s
#     TIER_REPS repetitions of the tiering phase (default 0: none)
. ./lib.sh
# A benchmark: its closing checks (a failed run adds a FAIL of its own).
plan 3
sizes=$(echo "${1:-64}" | tr , ' ')
reps=${2:-5}
lat_reps=${3:-5}
lat_specs=$(echo "${4:-4k:1,4k:8,4k:64,4k:512,thp:1,thp:8,thp:64}" | tr , ' ')
configs=$(echo "${5:-cpu,dcbm-1,dcbm-2,dcbm-4,dcbm-16,default}" | tr , ' ')
engine=${6:-cpu}
tier_reps=${7:-0}
lat_configs="cpu dcbm-4 default"
d=/sys/module/dcbm
c=/sys/module/dcbm_c

# NUMA balancing would move the region back to node 0 behind our back (hinting
# faults while the region is verified on node 1: one-folio MR_NUMA_MISPLACED
# batches, outside the timed calls, counted in timing/*).
echo 0 > /proc/sys/kernel/numa_balancing 2>/dev/null
t0w=$(date +%s)
load swdma channels=16
load dcbm
if [ -f /modules/dcbm_c.ko ]; then
  load dcbm_c
  lat_configs="$lat_configs c-4"
fi
def_mbb=$(cat $d/min_batch_bytes)
def_mfb=$(cat $d/min_folio_bytes)
def_chan=$(cat $d/nr_dma_chan)
echo "BENCH-INFO kernel=$(uname -r) numa_balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null) default_min_batch_bytes=$def_mbb default_min_folio_bytes=$def_mfb default_nr_dma_chan=$def_chan cpus=$(nproc) thp=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled) sizes=$(echo $sizes | tr ' ' ,) reps=$reps lat_reps=$lat_reps lat_specs=$(echo $lat_specs | tr ' ' ,) configs=$(echo $configs | tr ' ' ,)"
echo "BENCH-INFO dcbm_files $(cd $d && ls -d * timing/* engine/* 2>/dev/null | tr '\n' ' ')"
# The regions ask for THP with MADV_HUGEPAGE; let faults compact if needed.
echo always > /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null

setconf() { # setconf CONFIG
  # One migrator at a time: the other one off first.
  case $1 in
    c-*) echo 0 > $d/offloading ;;
    *) [ ! -d $c ] || echo 0 > $c/offloading ;;
  esac
  case $1 in
    cpu) echo 0 > $d/offloading ;;
    c-*)
      [ -d $c ] || { fail "configure $1: the C reference driver is not loaded"; finish; }
      echo "${1#c-}" > $c/nr_dma_chan
      echo 1 > $c/offloading ;;
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

counters="timing/batches timing/setup_ns timing/wait_ns timing/teardown_ns timing/submit_wait_ns timing/map_ns folios_migrated folios_failures folios_declined bytes_migrated engine/descriptors engine/pool_waits engine/busy_declines"

# The kernel's own view of each run: THPs split or failed on migration,
# direct compaction, pages migrated (deltas over the run).
vmkeys='^(thp_migration_success|thp_migration_fail|thp_migration_split|compact_stall|pgmigrate_success|pgmigrate_fail|pgdemote_kswapd|pgdemote_direct|pgpromote_success|allocstall_normal|allocstall_movable|pgscan_kswapd|pgscan_direct) '
# The engine's (swdma's, whichever driver runs): its completion
# interrupts, the descriptors that asked for one, and its hand-offs (a
# doorbell on an idle engine to its work starting, an interrupt to its
# callbacks running: what a hardware engine does not pay).
swdma_counters="interrupts interrupt_requests wake_ns wakes irq_ns irqs_timed"
# The tiering phase runs in the cgroup $wl: the time its tasks stalled on
# memory, in µs (PSI's "some" and "full" totals; kswapd is not in it).
wl=/sys/fs/cgroup/workload
snapshot() { # the kernel's and the engine's counters, "KEY VALUE" lines
  grep -E "$vmkeys" /proc/vmstat
  [ ! -f $wl/memory.pressure ] ||
    sed -n 's/^\([a-z]*\) .*total=\([0-9]*\)/psi_\1_us \2/p' $wl/memory.pressure
  (cd /sys/module/swdma/parameters && grep -H . $swdma_counters) | sed 's/^/swdma_/; s/:/ /'
}
deltas() { # deltas BEFORE: KEY=DELTA... against now
  { echo "$1"; snapshot; } |
    awk '{ if ($1 in a) printf "%s=%d ", $1, $2 - a[$1]; else a[$1] = $2 }'
}

# rotate N WORDS...: the words, starting at the (N mod count)-th.
rotate() {
  n=$1; shift
  k=$((n % $#)) i=0 head="" tail=""
  for w in "$@"; do
    if [ $i -lt $k ]; then tail="$tail $w"; else head="$head $w"; fi
    i=$((i + 1))
  done
  echo $head $tail
}

# one PHASE CONFIG REP PAGE SIZE FOLIOS ARGS...: one migrate-check run, its
# RESULT lines and the dcbm counter deltas.
one() {
  phase=$1 conf=$2 rep=$3 page=$4 size=$5 folios=$6
  shift 6
  setconf "$conf"
  for k in $counters; do echo 0 > "$d/$k"; done
  [ ! -d $c ] || { echo 0 > $c/folios_migrated; echo 0 > $c/folios_failures; }
  vm0=$(snapshot)
  profiled=""
  case $phase in main | tiering) sampled=1 ;; *) sampled="" ;; esac
  if [ -n "$sampled" ] && [ -f /modules/bench_sampler.ko ]; then
    insmod /modules/bench_sampler.ko && profiled=1 || fail "insmod bench_sampler"
  fi
  out=$(migrate-check "$@" --page "$page" --seed $((rep + 1)) 2>/tmp/bench.err)
  rc=$?
  if [ -n "$profiled" ]; then
    sed "s/^/BENCH-PROFILE $phase $conf $rep $page $size /" /sys/kernel/debug/bench_sampler/report
    rmmod bench_sampler
  fi
  vm=$(deltas "$vm0")
  echo "$out" | grep -v '"cmd":"[a-z]*_summary"' | sed -n "s/^RESULT /BENCH $phase $conf $rep /p"
  # one grep for all counters: under TCG every fork counts
  echo "BENCH-TIMING $phase $conf $rep $page $size $folios" $(cd $d && grep -H . $counters | sed 's#^.*/##; s/:/=/') $vm
  if [ $rc != 0 ]; then
    fail "$phase $conf $page $size MiB $folios folios rep $rep: migrate-check exited $rc"
    tail -5 /tmp/bench.err
  fi
  case $conf in
    dcbm-*) [ "$(cat $d/folios_migrated)" -gt 0 ] || fail "$phase $conf $page $size MiB $folios folios: nothing offloaded" ;;
    c-*)
      echo "BENCH-C $phase $conf $rep folios_migrated=$(cat $c/folios_migrated) folios_failures=$(cat $c/folios_failures)"
      [ "$(cat $c/folios_migrated)" -gt 0 ] || fail "$phase $conf $page $size MiB $folios folios: nothing offloaded by the C driver" ;;
  esac
}

# Warm-up, untimed: a large region of each kind there and back, so that
# the host has backed both nodes' memory and the first measured runs do
# not pay for it.
setconf cpu
for page in 4k thp; do
  migrate-check run --size-mib 384 --page $page >/dev/null 2>/tmp/bench.err ||
    { echo "warm-up $page:"; tail -3 /tmp/bench.err; }
done
echo "BENCH-INFO warmed up in $(($(date +%s) - t0w)) s"

# The engine's speed. Unpaced, swdma's kworker copies with the CPU of the
# emulator it runs on, so the ratios measure the emulator. Paced (mbps),
# each channel is as fast as the CPU path migrates THPs here (median of
# five 64 MiB moves, migration overhead included, so no faster than the
# CPU's copy) and takes no CPU time, as a hardware queue takes none.
case $engine in
  raw) mbps=0 ;;
  cpu)
    rates=""
    for i in 1 2 3 4 5; do
      migrate run --size-mib 64 --page thp --api move_pages --rounds 1 ||
        { fail "engine calibration: migrate-check failed"; finish; }
      rates="$rates $(json_num gbps)"
    done
    mbps=$(echo $rates | awk '{ n = split($0, v); for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j] < v[j-1]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }; printf "%d", v[int((n + 1) / 2)] * 1000 }')
    echo "BENCH-INFO engine_calibration_gbps=$(echo $rates | tr ' ' ,)" ;;
  *) mbps=$engine ;;
esac
[ "$mbps" -ge 0 ] 2>/dev/null && echo "$mbps" > /sys/module/swdma/parameters/mbps ||
  { fail "set swdma mbps=$mbps"; finish; }
echo "BENCH-INFO engine=$engine engine_mbps=$mbps"

t0=$(date +%s)
for page in 4k thp; do
  for size in $sizes; do
    r=0
    while [ $r -lt "$reps" ]; do
      for conf in $(rotate $r $configs); do
        one main $conf $r $page $size all bench --sizes "$size" --reps 1
      done
      r=$((r + 1))
    done
    echo "BENCH-INFO done main $page $size after $(($(date +%s) - t0)) s"
  done
done

# Latency: one move_pages call moving N folios, CPU against offload forced
# (dcbm-4: the default channels, no thresholds) and the default policy.
for spec in $lat_specs; do
  page=${spec%%:*} n=${spec#*:}
  r=0
  while [ $r -lt "$lat_reps" ]; do
    for conf in $(rotate $r $lat_configs); do
      one latency $conf $r $page - $n latency --folios "$n" --reps 2 --warmup 1
    done
    r=$((r + 1))
  done
  echo "BENCH-INFO done latency $spec after $(($(date +%s) - t0)) s"
done

# Tiering: demotion under pressure and promotion, CPU against offload.
if [ "$tier_reps" -gt 0 ]; then
  if [ "$(ls -d /sys/devices/virtual/memory_tiering/memory_tier* 2>/dev/null | wc -l)" -ge 2 ]; then
    echo 1 > /sys/kernel/mm/numa/demotion_enabled
    node0=$(awk '/MemTotal/ { print int($4 / 1024) }' /sys/devices/system/node/node0/meminfo)
    cold=$((node0 * 3 / 8)) hot=$((node0 * 5 / 8))
    echo "BENCH-INFO tiering node0_mib=$node0 cold_mib=$cold hot_mib=$hot tier_reps=$tier_reps"
    # This shell and so every workload in its own cgroup, for its PSI.
    grep -q cgroup2 /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup
    mkdir -p $wl && echo $$ > $wl/cgroup.procs || fail "tiering: no cgroup for the workload"
    [ -f $wl/memory.pressure ] || echo "BENCH-INFO tiering: no memory.pressure (kernel without CONFIG_PSI): no stall time"
    tier_configs="cpu dcbm-4 default"
    [ ! -d $c ] || tier_configs="$tier_configs c-4"
    S=/sys/kernel/debug/sched/numa_balancing
    r=0
    while [ $r -lt "$tier_reps" ]; do
      for conf in $(rotate $r $tier_configs); do
        echo 0 > /proc/sys/kernel/numa_balancing
        one tiering $conf $r 4k $((cold + hot)) all pressure --size-mib $cold --hot-mib $hot --from-node 0 --to-node 1
        # Promotion: the pages of a region on node 1 that a task keeps
        # touching, moved to node 0 by NUMA balancing's tiering mode.
        echo 2 > /proc/sys/kernel/numa_balancing
        [ -d $S ] && { echo 100 > $S/scan_delay_ms; echo 100 > $S/scan_period_min_ms; }
        one promotion $conf $r 4k 64 all stall --seconds 10 --size-mib 64 --from-node 1 --to-node 0
      done
      r=$((r + 1))
    done
    echo 0 > /proc/sys/kernel/numa_balancing
    echo 0 > /sys/kernel/mm/numa/demotion_enabled
    echo "BENCH-INFO done tiering after $(($(date +%s) - t0)) s"
  else
    fail "tiering phase: node 1 is not a lower memory tier (boot with vm/run --tiered)"
  fi
fi

echo 0 > $d/offloading
[ ! -d $c ] || { echo 0 > $c/offloading; rmmod dcbm_c; }
check "rmmod dcbm" rmmod dcbm
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
echo "BENCH-INFO total $(($(date +%s) - t0)) s"
finish
