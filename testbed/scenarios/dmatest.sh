# The kernel's own dmatest client against the software engine with N
# channels, with and without DMA_PRIVATE (see testbed/swdma/dmatest.sh).
# The arguments are the harness's; a "+" starts another run in the same
# boot (e.g. a personality's clean run, then its refusal of copies it must
# not take). Arguments hold no spaces: lists are comma-separated.
. ./lib.sh
# counts ARGS...: how many channel counts N one run of dmatest-run.sh is
# given; it prints one PASS or FAIL line per N. Its options (getopts
# k:d:p:i:t:w:IT:o:D:x:H:h) come first, then the Ns.
counts() {
  while [ $# -gt 0 ]; do
    case $1 in
      -[kdpitwToDxH]) shift; [ $# -gt 0 ] && shift ;;
      -[kdpitwToDxH]?*) shift ;;
      -I|-h) shift ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  echo $#
}
status=0
lines=0
run() {
  # shellcheck disable=SC2086 # one word per argument
  sh ./dmatest-run.sh -k /modules/swdma.ko -d /modules/dmatest.ko -p "1 0" $1 ||
    status=1
}
# Every run's lines, planned before the first one.
args=
for a in "$@"; do
  # shellcheck disable=SC2086 # one word per argument
  if [ "$a" = + ]; then lines=$((lines + $(counts $args))); args=; else args="$args $a"; fi
done
# shellcheck disable=SC2086
plan $((lines + $(counts $args)))
args=
for a in "$@"; do
  if [ "$a" = + ]; then run "$args"; args=; else args="$args $a"; fi
done
run "$args"
exit $status
