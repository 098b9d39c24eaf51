# The harness of tests/run (sourced): how checks are counted, bounded and
# named. tests/harness-check tests it.
#
# Before sourcing: top (the repository), logdir (where logs go), and
# optionally only (a --only pattern); testbed/lib.sh sourced.
only=${only:-}
passed=0 failed=0
mkdir -p "$logdir"
run_start=$SECONDS
budget=${DCBM_BUDGET_S:-4800}
left() { echo $((budget - (SECONDS - run_start))); }
record() { # record STATUS TEXT
  if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  printf '%s %s\n' "$1" "$2"
}
selected() { [ -z "$only" ] || [[ $1 == *$only* ]]; }
spent() { # spent NAME: true (and NAME fails as not run) when the budget is gone
  (($(left) > 0)) && return 1
  record FAIL "$1: not run, the run's budget of ${budget}s is spent"
}

# Phases: the time each part of the run took, printed before the summary.
phase_names=() phase_secs=() phase_t0=$SECONDS
phase() { # phase NAME: from now on the time counts for NAME
  if ((${#phase_names[@]})); then phase_secs+=($((SECONDS - phase_t0))); fi
  phase_names+=("$1") phase_t0=$SECONDS
}
# Each step, group and boot's own time, for the slowest ones' table.
took=()
took() { took+=("$(($SECONDS - $1)) $2"); }
phase_table() {
  phase_secs+=($((SECONDS - phase_t0)))
  local i secs name
  # (every one of them, slowest first, in the logs)
  ((${#took[@]})) && printf '%s\n' "${took[@]}" | sort -rn >"$logdir/times.txt"
  printf '%-44s %7s\n' "slowest steps and boots" seconds
  ((${#took[@]})) && printf '%s\n' "${took[@]}" | sort -rn | head -12 |
    while read -r secs name; do printf '%-44s %7d\n' "${name:0:44}" "$secs"; done
  printf '%-44s %7s\n' phase seconds
  for ((i = 0; i < ${#phase_names[@]}; i++)); do
    printf '%-44s %7d\n' "${phase_names[i]}" "${phase_secs[i]}"
  done
  printf '%-44s %7d\n' total $((SECONDS - run_start))
}
summary() {
  phase_table
  echo "$passed passed, $failed failed"
}

# bounded SECS CMD...: CMD (a command or a function, in a subshell of its
# own process group, stdin from /dev/null), stopped with its children
# after SECS (TERM, then KILL 5 s later); CMD's exit status (143 or 137
# when stopped).
bounded() {
  local secs=$1 pid w rc
  shift
  set -m
  ("$@") </dev/null &
  pid=$!
  set +m
  (
    s=""
    trap 'kill $s 2>/dev/null; exit 0' TERM
    sleep "$secs" & s=$!; wait $s
    echo "stopped after ${secs}s: the run's budget is spent" >&2
    kill -TERM -- -"$pid" 2>/dev/null
    sleep 5 & s=$!; wait $s
    kill -KILL -- -"$pid" 2>/dev/null
  ) &
  w=$!
  wait "$pid"
  rc=$?
  kill -TERM "$w" 2>/dev/null
  wait "$w" 2>/dev/null
  return $rc
}

# record_lines PREFIX: each "PASS ..." or "FAIL ..." line of stdin is a
# check, named PREFIX plus its text; the counts are left in lines_passed
# and lines_failed.
record_lines() {
  local line
  lines_passed=0 lines_failed=0
  while IFS= read -r line; do
    case $line in
      PASS\ *) record PASS "$1${line#PASS }"; lines_passed=$((lines_passed + 1)) ;;
      FAIL\ *) record FAIL "$1${line#FAIL }"; lines_failed=$((lines_failed + 1)) ;;
    esac
  done
}

# step NAME CMD...: one check; output kept in a log, shown on failure.
step() {
  local name=$1
  shift
  selected "$name" || return 0
  spent "$name" && return 1
  local log="$logdir/step-${name//[^a-zA-Z0-9_-]/_}.log" t0=$SECONDS rc=0
  bounded "$(left)" "$@" >"$log" 2>&1 || rc=1
  took $t0 "$name"
  if ((rc == 0)); then record PASS "$name"; return 0; fi
  record FAIL "$name (log: $log)"
  tail -20 "$log" | sed 's/^/    /'
  return 1
}

# group NAME LOG CMD...: a script that prints its own PASS/FAIL lines and
# ends with "N passed, N failed": each of its lines counts as a check. A
# script that cannot run, stops before its summary, prints a summary that
# disagrees with its lines, or exits with a status that disagrees with it
# fails too.
group() {
  local name=$1 log=$2 rc np nf last
  shift 2
  spent "$name" && return 1
  if [ ! -x "$1" ]; then
    record FAIL "$name: $1 is not an executable script"
    return 1
  fi
  local t0=$SECONDS
  bounded "$(left)" "$@" >"$log" 2>&1
  rc=$?
  took $t0 "$name"
  record_lines "$name: " <"$log"
  np=$lines_passed nf=$lines_failed
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ "$last" != "$np passed, $nf failed" ]; then
    record FAIL "$name: $1 stopped (exit $rc) before its summary, or its summary '${last:-none}' is not its $np PASS and $nf FAIL lines (log: $log)"
    tail -5 "$log" | sed 's/^/    /'
  elif [ "$rc" = 0 ] && [ "$nf" != 0 ] || [ "$rc" != 0 ] && [ "$nf" = 0 ]; then
    record FAIL "$name: $1 exited $rc with $nf failed checks (log: $log)"
  fi
}

# boot NAME PREFIX RUNNER-ARGS...: one guest (testbed/vm/run with vm_opts);
# every check it prints counts, named PREFIX plus the check (guest_checks:
# fewer checks than the scenario planned fail too).
boot() {
  local name=$1 prefix=$2 rc t i kernel=""
  shift 2
  spent "vm:$name" && return 1
  for ((i = 0; i < ${#vm_opts[@]}; i++)); do
    [ "${vm_opts[i]}" = --kernel ] && kernel=${vm_opts[i + 1]}
  done
  if [ ! -f "$kernel/arch/x86/boot/bzImage" ]; then
    record FAIL "vm:$name: not run, no kernel at '$kernel' (its build failed)"
    return 1
  fi
  local log="$logdir/vm-$name.log"
  t=${VM_TIMEOUT:-900}
  (($(left) < t)) && t=$(left)
  local t0=$SECONDS
  testbed/vm/run --timeout "$t" --log "$log" "${vm_opts[@]}" "$@" >"$log.host" 2>&1
  rc=$?
  took $t0 "vm:$name"
  record_lines "$prefix" < <(guest_checks "$log")
  if [ $rc != 0 ]; then
    record FAIL "vm:$name: runner exit $rc (console: $log)"
    sed 's/^/    /' "$log.host" | tail -25
  fi
}
# vm NAME [RUNNER OPTIONS] SCENARIO [ARGS]: one boot for one scenario.
vm() {
  local name=$1
  shift
  selected "vm:$name" || return 0
  boot "$name" "vm:$name: " "$@"
}
# vm_series NAME [RUNNER OPTIONS] -- PART SCENARIO [ARGS] [-- PART ...]:
# one boot for several scenarios in turn (scenarios/series.sh), each
# PART's checks named vm:PART as if it had a boot of its own; only the
# selected parts run.
vm_series() {
  local name=$1 opts=() parts=() cur=()
  shift
  while (($#)) && [ "$1" != -- ]; do opts+=("$1"); shift; done
  # Each "--" (and the end, a last one appended) closes the part before it.
  set -- "$@" --
  while (($#)); do
    if [ "$1" != -- ]; then
      cur+=("$1")
    elif ((${#cur[@]})); then
      if selected "vm:${cur[0]}"; then parts+=(-- "${cur[@]}"); fi
      cur=()
    fi
    shift
  done
  ((${#parts[@]})) || return 0
  boot "$name" "vm:" ${opts[@]+"${opts[@]}"} series "${parts[@]:1}"
}
# kernel_tree BUILD-KERNEL-ARGS...: the cached tree that build-kernel.sh
# builds for these arguments, only if it is built (never an older one).
kernel_tree() {
  local key
  key=$(testbed/build-kernel.sh "$@" --print-key 2>/dev/null) || return 1
  [ -f "$DCBM_CACHE/linux-$key/.dcbm-built" ] && echo "$DCBM_CACHE/linux-$key"
}

