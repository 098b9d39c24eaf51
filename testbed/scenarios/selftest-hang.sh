# A guest that never finishes: the runner must kill it at its timeout and
# say so (tests/run checks the message and the exit status).
echo "hanging on purpose"
while :; do sleep 60; done
