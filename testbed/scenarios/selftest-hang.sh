# A guest that never finishes: the runner must kill it at its timeout and
# say so (tests/run checks the message and the exit status).
. ./lib.sh
plan 0 # no check: it never finishes
echo "hanging on purpose"
while :; do sleep 60; done
