#!/usr/bin/env bash
# exec propagates CMD's exit status (code, or 128+signal), reports started,
# exited and releases the leases (the guard file goes away), and forwards
# SIGTERM / SIGINT to CMD.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start -F 2000 -K 500 -R 200
touch "$T/disk.img"
expect_rc 7 "$FL" -s "$SOCK" exec --vm vm-e --volume "$T/disk.img" --restart never -- sh -c 'exit 7'
for e in "register vm-e volumes=1 restart=never" "release vm-e"; do
    has_event "$e" || fail "missing event '$e': $(cat "$EVENTS")"
done
grep -qE '^exited vm-e [0-9]+ code=7$' "$EVENTS" || fail "exit code not reported: $(cat "$EVENTS")"
[ ! -e "$T/guard/vm-e" ] || fail "guard file left after release"

expect_rc 138 "$FL" -s "$SOCK" exec --vm vm-s --volume "$T/disk.img" -- sh -c 'kill -USR1 $$'
grep -qE '^exited vm-s [0-9]+ signal=10$' "$EVENTS" || fail "signal not reported: $(cat "$EVENTS")"

# SIGTERM and SIGINT to exec reach CMD, which may exit on its own terms.
for sig in TERM INT; do
    "$FL" -s "$SOCK" exec --vm "vm-$sig" --volume "$T/disk.img" -- \
        sh -c "trap 'exit 42' $sig; while :; do sleep 0.05; done" > "$T/exec.out" 2>&1 &
    EXEC=$!
    wait_for 5 grep -q "^started vm-$sig " "$EVENTS" || fail "vm-$sig not started: $(cat "$T/exec.out")"
    sleep 0.2
    kill -"$sig" "$EXEC"
    wait "$EXEC"; rc=$?
    [ "$rc" -eq 42 ] || fail "after SIG$sig exec exited $rc, expected CMD's 42: $(cat "$T/exec.out")"
    has_event "release vm-$sig" || fail "vm-$sig not released: $(cat "$EVENTS")"
done
exit 0
