# A generic engine without DMA_PRIVATE whose channels are in public use
# (a dmaengine_get() client is loaded): private requests fail, as they
# would for the C driver; dcbm shares a public channel and still offloads.
. ./lib.sh
plan 10
D=/sys/module/dcbm
load swdma channels=4 private=0
load pubclient
load dcbm
echo 0 > $D/min_batch_bytes
echo 0 > $D/min_folio_bytes
echo 4 > $D/nr_dma_chan
check "enable with a public-only provider" sh -c "echo 1 > $D/offloading"
echo "channels: $(cat $D/channels)"
# Private requests fail (what the C driver relies on); one shared channel.
check "private requests failed, one public channel shared" test "$(cat $D/channels | wc -w)" = 1
if migrate run --size-mib 8 --page thp --rounds 1; then
  m=$(cat $D/folios_migrated)
  [ "$m" -gt 0 ] && pass "public channel: folios_migrated=$m, bytes intact" || fail "public channel: nothing offloaded"
else
  fail "public channel migration"
fi
# A public channel carries other clients' transactions: a timed-out batch
# never terminates it (that would abort theirs) but waits for its own
# descriptors, here until the stalled engine is restarted: once dcbm has
# handled the timeout (engine/waited_out rose; lib.sh hang_watch).
P=/sys/module/swdma/parameters
echo 300 > $D/timeout_ms
echo 0 > $D/folios_failures
echo 1 > $P/hang
hang_watch
migrate run --size-mib 2 --page thp --rounds 1
rc=$?
hang_why=""
hang_watch_end now
if [ -n "$hang_why" ]; then
  fail "public channel, engine stalled: $hang_why"
elif [ $rc = 0 ]; then
  pass "public channel, engine stalled past the timeout: bytes intact"
else
  fail "public channel, engine stalled: migration lost or corrupted data (migrate-check exit $rc)"
fi
check "public channel: the timed-out batch waited, nothing aborted" \
  sh -c "test \$(cat $D/engine/waited_out) -ge 1 && test \$(cat $D/engine/aborted) = 0 && test \$(cat $D/folios_failures) -gt 0"
check "disable" sh -c "echo 0 > $D/offloading"
check "rmmod dcbm" rmmod dcbm
check "rmmod pubclient" rmmod pubclient
check "rmmod swdma" rmmod swdma
check "kernel log clean" kernel_log_clean
finish
