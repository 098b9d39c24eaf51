# Toggle offloading and nr_dma_chan 100 times while migrations run; then
# insmod (enabled) and rmmod (after disabling: registration pins the
# module) 20 times under load. Bytes intact, log clean.
. ./lib.sh
plan 7
D=/sys/module/dcbm
load swdma channels=4
load dcbm
echo 0 > $D/min_batch_bytes
echo 0 > $D/min_folio_bytes

loops_start 16
# One line per loop: PASS only if no write of any iteration failed, else
# one FAIL naming the iterations (and what failed in each).
i=0 bad=""
while [ $i -lt 100 ]; do
  echo $((i % 2 == 0)) > $D/offloading || bad="$bad $i:offloading"
  echo $((i % 16 + 1)) > $D/nr_dma_chan || bad="$bad $i:nr_dma_chan"
  i=$((i + 1))
done
if [ -z "$bad" ]; then pass "toggled offloading and nr_dma_chan 100 times under load"
else fail "toggling offloading and nr_dma_chan 100 times under load: failed in iterations$bad"; fi
echo 1 > $D/offloading
sleep 2
echo 0 > $D/offloading
check "rmmod dcbm under load" rmmod dcbm
i=0 bad=""
while [ $i -lt 20 ]; do
  insmod /modules/dcbm.ko offloading=1 nr_dma_chan=$((i % 4 + 1)) min_batch_bytes=0 min_folio_bytes=0 || bad="$bad $i:insmod"
  sleep 1
  echo 0 > $D/offloading || bad="$bad $i:disable"
  rmmod dcbm || bad="$bad $i:rmmod"
  i=$((i + 1))
done
if [ -z "$bad" ]; then pass "insmod/rmmod 20 times under load"
else fail "insmod/rmmod 20 times under load: failed in iterations$bad"; fi
loops_end
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
finish
