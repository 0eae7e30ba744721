#!/usr/bin/env bash
# The guard deadline survives a daemon restart: the daemon (stub, F = 1.5 s)
# is killed with SIGKILL and started again; the new instance adopts the VM's
# guard file from the run dir and extends it, so the VM runs on well past F.
# A new instance that does not adopt the file lets the deadline pass, and the
# guard kills the VM within F + K.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start -F 1500 -K 500 -R 200
touch "$T/disk.img"
"$FL" -s "$SOCK" exec --vm vm-r --volume "$T/disk.img" -- sleep 60 > "$T/exec.out" 2>&1 &
EXEC=$!
on_exit "kill -9 $EXEC"
wait_for 5 grep -q '^started vm-r ' "$EVENTS" || fail "VM not started: $(cat "$T/exec.out")"
VM=$(awk '/^started vm-r /{print $3}' "$EVENTS")

kill -9 "$STUB_PID"; wait "$STUB_PID" 2>/dev/null; STUB_PID=
sleep 0.5
stub_start -F 1500 -K 500 -R 200 -a
has_event "adopt vm-r" || fail "the restarted daemon did not adopt vm-r: $(cat "$EVENTS")"
sleep 3
kill -0 "$VM" 2>/dev/null || fail "VM died across a daemon restart: $(cat "$T/exec.out")"

# Restarted without adopting: nobody extends the deadline any more.
kill -9 "$STUB_PID"; wait "$STUB_PID" 2>/dev/null; STUB_PID=
stub_start -F 1500 -K 500 -R 200
gone=$(now_ms)
wait_for 6 eval '! kill -0 '"$VM"' 2>/dev/null' || fail "VM $VM still alive although nobody extends its deadline"
took=$(( $(now_ms) - gone ))
[ "$took" -le 3000 ] || fail "VM killed only after $took ms (F + K = 2000 ms)"
wait "$EXEC"; rc=$?
[ "$rc" -eq 143 ] || fail "exec exited $rc, expected 143: $(cat "$T/exec.out")"
exit 0
