# The kernel's own dmatest client against the software engine with N
# channels, with and without DMA_PRIVATE (see testbed/swdma/dmatest.sh).
# The arguments are the harness's; a "+" starts another run in the same
# boot (e.g. a personality's clean run, then its refusal of copies it must
# not take). Arguments hold no spaces: lists are comma-separated.
status=0
run() {
  # shellcheck disable=SC2086 # one word per argument
  sh ./dmatest-run.sh -k /modules/swdma.ko -d /modules/dmatest.ko -p "1 0" $1 ||
    status=1
}
args=
for a in "$@"; do
  if [ "$a" = + ]; then run "$args"; args=; else args="$args $a"; fi
done
run "$args"
exit $status
