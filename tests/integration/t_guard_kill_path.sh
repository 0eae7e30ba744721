#!/usr/bin/env bash
# At the kill deadline the guard runs the daemon's kill path as
# KILL_PATH UID PID next to SIGTERM (e.g. to ask the VMM to shut down), and
# never while the deadline keeps moving.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

cat > "$T/killpath" <<KP
#!/bin/sh
echo "\$1 \$2" >> "$T/killpath.log"
KP
chmod +x "$T/killpath"
stub_start -F 1000 -K 500 -R 200 -k "$T/killpath"
touch "$T/disk.img"
"$FL" -s "$SOCK" exec --vm vm-kp --volume "$T/disk.img" -- sleep 60 > "$T/exec.out" 2>&1 &
EXEC=$!
on_exit "kill -9 $EXEC"
wait_for 5 grep -q '^started vm-kp ' "$EVENTS" || fail "VM not started: $(cat "$T/exec.out")"
VM=$(awk '/^started vm-kp /{print $3}' "$EVENTS")
sleep 2
[ ! -e "$T/killpath.log" ] || fail "kill path ran while the deadline was being extended"
kill -STOP "$STUB_PID"
wait_for 5 eval '! kill -0 '"$VM"' 2>/dev/null' || fail "VM $VM not killed after the daemon was paused"
kill -CONT "$STUB_PID"   # so that exec's exit report does not wait for its timeout
wait "$EXEC"; rc=$?
[ "$rc" -eq 143 ] || fail "exec exited $rc, expected 143: $(cat "$T/exec.out")"
wait_for 3 test -s "$T/killpath.log" || fail "kill path never ran"
[ "$(cat "$T/killpath.log")" = "vm-kp $VM" ] || fail "kill path got '$(cat "$T/killpath.log")', expected 'vm-kp $VM'"
exit 0
