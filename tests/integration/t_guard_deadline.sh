#!/usr/bin/env bash
# The guard of `fencelock exec` against a stub daemon that extends the VM's
# deadline every 200 ms with F = 1.5 s, K = 0.5 s: the VM keeps running while
# extensions continue (well past F), and is killed with SIGTERM within F + K
# of the last extension once the daemon is paused with SIGSTOP; exec exits
# 128+15 and reports the exit when the daemon is back.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start -F 1500 -K 500 -R 200
touch "$T/disk.img"
"$FL" -s "$SOCK" exec --vm vm-g --volume "$T/disk.img" -- sleep 60 > "$T/exec.out" 2>&1 &
EXEC=$!
on_exit "kill -9 $EXEC"
wait_for 5 has_event "started vm-g [0-9]*" || wait_for 5 grep -q '^started vm-g ' "$EVENTS" || fail "VM not started: $(cat "$T/exec.out")"
VM=$(awk '/^started vm-g /{print $3}' "$EVENTS")
[ -f "$T/guard/vm-g" ] || fail "no guard file $T/guard/vm-g"

# Extensions continue: alive after 3 s = 2F.
sleep 3
kill -0 "$VM" 2>/dev/null || fail "VM $VM died although the daemon kept extending its deadline: $(cat "$T/exec.out")"

# The daemon is paused: killed within F + K (+ slack), never before the deadline.
kill -STOP "$STUB_PID"
paused=$(now_ms)
wait_for 6 eval '! kill -0 '"$VM"' 2>/dev/null' || fail "VM $VM still alive 6 s after the daemon was paused"
took=$(( $(now_ms) - paused ))
[ "$took" -le 3000 ] || fail "VM killed only after $took ms (F + K = 2000 ms)"
[ "$took" -ge 1000 ] || fail "VM killed after $took ms, before its deadline could have passed"
kill -CONT "$STUB_PID"
wait "$EXEC"; rc=$?
[ "$rc" -eq 143 ] || fail "exec exited $rc, expected 143 (SIGTERM): $(cat "$T/exec.out")"
grep -q "killed by its guard" "$T/exec.out" || fail "no guard message: $(cat "$T/exec.out")"
wait_for 5 grep -q "^exited vm-g $VM signal=15$" "$EVENTS" || fail "exit not reported: $(cat "$EVENTS")"
echo "killed $took ms after the daemon was paused"
exit 0
