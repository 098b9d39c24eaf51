#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Guest-side check of the swdma engine with the kernel's own dmatest client
# (busybox sh). For every channel count N given, and every DMA_PRIVATE
# setting asked for: loads swdma channels=N (plus the -o parameters, e.g. a
# personality), loads dmatest, runs it on all swdma channels (interrupt
# mode, then polled mode unless -I), checks that every dmatest thread
# reports "summary <iterations> tests, 0 failures", that swdma cannot be
# removed while dmatest holds its channels, that no descriptor is leaked,
# that the engine's limits held (max_outstanding <= pool, no align_rejects,
# no errors_injected) and that swdma unloads afterwards.
#
# usage: dmatest.sh [-k swdma.ko] [-d dmatest.ko] [-p "1 0"] [-i iterations]
#                   [-t timeout_ms] [-w wait_s] [-I] [-T threads]
#                   [-o swdma_params] [-D dmatest_params] [-x counter]
#                   [-H seconds] N [N...]
#   -k  path of swdma.ko (default: next to this script or in /modules,
#       else modprobe swdma)
#   -d  path of dmatest.ko (default: as for -k, else modprobe dmatest)
#   -p  DMA_PRIVATE settings to test, "1", "0" or "1 0" (default "1")
#   -i  dmatest iterations per channel (default 10)
#   -t  dmatest per-transfer timeout in ms (default 2000)
#   -w  seconds to wait for one run to finish (default 120)
#   -I  interrupt mode only (skip the polled pass)
#   -T  dmatest threads per channel (default 1)
#   -o  more swdma parameters, comma-separated: -o pool=8,pool_block=1
#   -D  dmatest parameters, comma-separated: -D test_buf_size=32768
#   -x  the opposite check, for a personality that must refuse dmatest's
#       copies: every test fails with "prep error", nothing is copied, and
#       swdma's COUNTER (e.g. align_rejects; "-" for none) is not 0
#   -H  the engine is loaded hung (-o hang=1): after SECONDS, check that
#       nothing was copied and dmatest still waits, then clear the hang
#       (hang=0) and expect a clean finish (use -t -1 and -I: no timeout)
# Prints "PASS dmatest channels=N [swdma_params]" or "FAIL ...: why" per N;
# exits 0 if all passed, 1 otherwise.

here=$(cd "$(dirname "$0")" && pwd)
swdma_ko=
dmatest_ko=
privs=1
iterations=10
timeout=2000
wait_s=120
modes="irq polled"
threads=1
expect=
hold=
swdma_opts=
dmatest_opts=

usage() { sed -n '3,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

while getopts k:d:p:i:t:w:IT:o:D:x:H:h opt; do
	case $opt in
	k) swdma_ko=$OPTARG ;;
	d) dmatest_ko=$OPTARG ;;
	p) privs=$OPTARG ;;
	i) iterations=$OPTARG ;;
	t) timeout=$OPTARG ;;
	w) wait_s=$OPTARG ;;
	I) modes=irq ;;
	T) threads=$OPTARG ;;
	o) swdma_opts=$(echo "$OPTARG" | tr , ' ') ;;
	D) dmatest_opts=$(echo "$OPTARG" | tr , ' ') ;;
	x) expect=$OPTARG ;;
	H) hold=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
# default: a module next to this script or in /modules (testbed/vm/run)
for d in "$here" /modules; do
	[ -n "$swdma_ko" ] || [ ! -f "$d/swdma.ko" ] || swdma_ko=$d/swdma.ko
	[ -n "$dmatest_ko" ] || [ ! -f "$d/dmatest.ko" ] || dmatest_ko=$d/dmatest.ko
done

P=/sys/module/dmatest/parameters
S=/sys/module/swdma/parameters
runid=0

note() { echo "# $*"; }
kmsg() { echo "$*" > /dev/kmsg 2>/dev/null; }

unload_all() {
	[ -d /sys/module/dmatest ] && rmmod dmatest
	[ -d /sys/module/swdma ] && rmmod swdma
	[ ! -d /sys/module/dmatest ] && [ ! -d /sys/module/swdma ]
}

load_swdma() { # channels private
	# shellcheck disable=SC2086 # one word per parameter
	if [ -n "$swdma_ko" ]; then
		insmod "$swdma_ko" channels="$1" private="$2" $swdma_opts
	else
		modprobe swdma channels="$1" private="$2" $swdma_opts
	fi
}

# "value" of swdma parameter $1 (0 when the module has no such parameter)
swdma_param() { cat "$S/$1" 2>/dev/null || echo 0; }

load_dmatest() {
	[ -d /sys/module/dmatest ] && return 0
	if [ -n "$dmatest_ko" ]; then
		insmod "$dmatest_ko"
	else
		modprobe dmatest
	fi
}

# Names (dmaXchanY) of the channels bound to the swdma driver.
swdma_channels() {
	for c in /sys/class/dma/*; do
		[ -e "$c/device/driver" ] || continue
		drv=$(readlink "$c/device/driver")
		[ "${drv##*/}" = swdma ] && echo "${c##*/}"
	done
}

# One dmatest run over all swdma channels: n private mode id -> 0 if passed.
# (runs in a subshell: $4 numbers the run and $$ the invocation, so its
# log marker is unique in the boot)
run_once() {
	n=$1 priv=$2 mode=$3 runid=$4
	tag="swdma-dmatest: run $$.$runid channels=$n private=$priv mode=$mode"

	unload_all || { echo "cannot unload swdma/dmatest"; return 1; }
	load_swdma "$n" "$priv" || { echo "loading swdma failed"; return 1; }
	chans=$(swdma_channels)
	got=$(echo "$chans" | grep -c chan)
	[ "$got" -eq "$n" ] ||
		{ echo "$got channels bound to swdma, expected $n"; return 1; }
	load_dmatest || { echo "loading dmatest failed"; return 1; }

	polled=N
	[ "$mode" = polled ] && polled=Y
	echo "$timeout" > $P/timeout
	echo "$iterations" > $P/iterations
	echo "$threads" > $P/threads_per_chan
	echo 0 > $P/max_channels
	echo "$polled" > $P/polled
	for o in $dmatest_opts; do
		echo "${o#*=}" > "$P/${o%%=*}" ||
			{ echo "cannot set dmatest $o"; return 1; }
	done
	# the device of the channels: "swdma", or a PCI device with iommu=1
	c=$(echo "$chans" | head -n 1)
	dev=$(readlink "/sys/class/dma/$c/device")
	echo "${dev##*/}" > $P/device
	kmsg "$tag"
	# "" selects every channel of the device (requests them now)
	echo "" > $P/channel || { echo "dmatest found no channel"; return 1; }

	# the dmaengine core must hold module references for the client
	if rmmod swdma 2>/dev/null || [ ! -d /sys/module/swdma ]; then
		echo "swdma could be removed while dmatest held its channels"
		return 1
	fi

	echo 1 > $P/run
	if [ -n "$hold" ]; then
		sleep "$hold"
		v=$(cat $S/copies_done)
		if [ "$(cat $P/run)" != Y ] || [ "$v" != 0 ]; then
			echo "not hung after ${hold}s: copies_done=$v"
			echo 0 > $S/hang
			return 1
		fi
		note "hung ${hold}s with nothing copied; hang=0"
		echo 0 > $S/hang
	fi
	t=0   # tenths of a second: a run often takes less than one
	while [ "$(cat $P/run)" != N ]; do
		t=$((t + 1))
		if [ $t -gt $((wait_s * 10)) ]; then
			echo 0 > $P/run
			echo "dmatest still running after ${wait_s}s"
			return 1
		fi
		sleep 0.1
	done

	log=$(dmesg | sed -n "/$tag/,\$p")
	rc=0
	want="summary $iterations tests, 0 failures"
	[ -z "$expect" ] || want="summary $iterations tests, $iterations failures"
	for c in $chans; do
		# thread names are cut to 15 characters: dma0chan10-copy
		lines=$(echo "$log" | grep -E "dmatest: $c-copy[0-9]*: summary")
		got=$(echo "$lines" | grep -c summary)
		bad=$(echo "$lines" |
		      grep -v "$want" |
		      head -n 1)
		if [ "$got" -ne "$threads" ]; then
			echo "$c: $got dmatest summaries, expected $threads"
			rc=1
		elif [ -n "$bad" ]; then
			echo "$c: ${bad#*summary }"
			rc=1
		fi
	done
	errs=$(echo "$log" | grep -E "dmatest: .*(result|error|timed out)|BUG|WARNING|lockdep|circular|sleeping function" | head -n 5)
	if [ -n "$expect" ]; then
		# only the refused preps may show
		echo "$log" | grep -q "prep error" ||
			{ echo "no dmatest prep error"; rc=1; }
		errs=$(echo "$errs" | grep -v "prep error")
	fi
	if [ -n "$errs" ]; then
		echo "kernel log: $errs"
		rc=1
	fi

	rmmod dmatest || { echo "rmmod dmatest failed"; return 1; }
	left=$(cat $S/descriptors)
	[ "$left" = 0 ] || { echo "$left descriptors leaked"; rc=1; }
	# the engine's limits held and no fault reached dmatest
	pool=$(swdma_param pool)
	most=$(swdma_param max_outstanding)
	if [ "$pool" != 0 ] && [ "$most" -gt "$pool" ]; then
		echo "$most descriptors outstanding on a channel, pool=$pool"
		rc=1
	fi
	if [ -z "$expect" ]; then
		for k in align_rejects errors_injected; do
			v=$(swdma_param $k)
			[ "$v" = 0 ] || { echo "$k=$v"; rc=1; }
		done
	else
		v=$(cat $S/copies_done)
		[ "$v" = 0 ] || { echo "copies_done=$v, expected 0"; rc=1; }
		if [ "$expect" != - ]; then
			v=$(swdma_param "$expect")
			[ "$v" != 0 ] || { echo "$expect=0"; rc=1; }
			note "$expect=$v"
		fi
	fi
	# a write of 0 resets the high-water mark, any other value is refused
	if echo 0 > $S/max_outstanding && [ "$(cat $S/max_outstanding)" = 0 ]; then
		! (echo 5 > $S/max_outstanding) 2>/dev/null ||
			{ echo "max_outstanding took 5"; rc=1; }
	else
		echo "max_outstanding did not reset"
		rc=1
	fi
	note "copies_done=$(cat $S/copies_done) bytes_copied=$(cat $S/bytes_copied)" \
	     "max_outstanding=$most pool_waits=$(swdma_param pool_waits)" \
	     "iova_translations=$(swdma_param iova_translations)"
	rmmod swdma || { echo "rmmod swdma failed"; return 1; }
	return $rc
}

status=0
for n in "$@"; do
	failed=
	for priv in $privs; do
		for mode in $modes; do
			runid=$((runid + 1))
			why=$(run_once "$n" "$priv" "$mode" $runid)
			rc=$?
			echo "$why" | grep '^#'
			why=$(echo "$why" | grep -v '^#' | tr '\n' ' ')
			if [ $rc -eq 0 ]; then
				note "ok channels=$n private=$priv mode=$mode"
			else
				note "not ok channels=$n private=$priv mode=$mode: $why"
				failed="$failed private=$priv mode=$mode: $why;"
			fi
		done
	done
	name="dmatest channels=$n"
	[ "$threads" = 1 ] || name="$name threads=$threads"
	name="$name${swdma_opts:+ $swdma_opts}${dmatest_opts:+ (dmatest $dmatest_opts)}"
	[ -z "$expect" ] || name="$name refuses every copy"
	[ -z "$hold" ] || name="$name finishes once the hang is cleared"
	if [ -z "$failed" ]; then
		echo "PASS $name"
	else
		echo "FAIL $name:$failed"
		status=1
	fi
done
unload_all >/dev/null 2>&1
exit $status
