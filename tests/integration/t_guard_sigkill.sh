#!/usr/bin/env bash
# A VM that ignores SIGTERM is killed with SIGKILL K after its deadline when
# the daemon dies (SIGKILL of the stub): exec exits 128+9, and SIGKILL came
# no earlier than K after SIGTERM.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start -F 1000 -K 700 -R 200
touch "$T/disk.img"
cat > "$T/vm.sh" <<'VM'
#!/bin/sh
trap 'echo TERM >> "$1"' TERM
while :; do sleep 0.05; done
VM
chmod +x "$T/vm.sh"
"$FL" -s "$SOCK" exec --vm vm-k --volume "$T/disk.img" -- "$T/vm.sh" "$T/vm.log" > "$T/exec.out" 2>&1 &
EXEC=$!
on_exit "kill -9 $EXEC"
wait_for 5 grep -q '^started vm-k ' "$EVENTS" || fail "VM not started: $(cat "$T/exec.out")"
kill -9 "$STUB_PID"; STUB_PID=
died=$(now_ms)
wait "$EXEC"; rc=$?
took=$(( $(now_ms) - died ))
[ "$rc" -eq 137 ] || fail "exec exited $rc, expected 137 (SIGKILL): $(cat "$T/exec.out")"
grep -q TERM "$T/vm.log" || fail "the VM never saw SIGTERM"
grep -q "kill grace over; sending SIGKILL" "$T/exec.out" || fail "no SIGKILL message: $(cat "$T/exec.out")"
[ "$took" -ge 700 ] && [ "$took" -le 4000 ] || fail "SIGKILL came $took ms after the daemon died (F + K = 1700 ms)"
exit 0
