#!/usr/bin/env bash
# fencelock host add|remove and vm inquire|release|unregister reach the
# daemon with validated arguments; usage errors exit 2, daemon refusals map
# to the CLI exit codes (6 unknown VM, 3 still held).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start
expect_rc 0 "$FL" -s "$SOCK" host add 4 h4 127.0.0.1:7404
[ "$out" = "host 4 (h4, 127.0.0.1:7404) added" ] || fail "host add output: $out"
has_event "host.add 4" || fail "host.add not sent: $(cat "$EVENTS")"
expect_rc 0 "$FL" -s "$SOCK" host remove 4
has_event "host.remove 4" || fail "host.remove not sent: $(cat "$EVENTS")"
expect_rc 2 "$FL" -s "$SOCK" host add 0 h0 127.0.0.1:1
expect_rc 2 "$FL" -s "$SOCK" host add 5 h5
expect_rc 2 "$FL" -s "$SOCK" host add 5 h5 localhost:7405   # refused before it is sent
grep -q "field 'addr' must be IPv4:PORT" <<<"$out" || fail "address message: $out"

expect_rc 6 "$FL" -s "$SOCK" vm inquire nosuchvm
grep -q "VM nosuchvm is not registered" <<<"$out" || fail "unknown VM message: $out"
touch "$T/disk.img"
"$FL" -s "$SOCK" exec --vm vm-i --volume "$T/disk.img" -- sleep 30 > "$T/exec.out" 2>&1 &
EXEC=$!
on_exit "kill -9 $EXEC"
wait_for 5 grep -q '^started vm-i ' "$EVENTS" || fail "VM not started: $(cat "$T/exec.out")"
expect_rc 0 "$FL" -s "$SOCK" vm inquire vm-i
[ "$out" = "stub:held:1" ] || fail "inquire output: $out"
expect_rc 3 "$FL" -s "$SOCK" vm unregister vm-i
grep -q "still holds its leases" <<<"$out" || fail "unregister message: $out"
kill "$EXEC"; wait "$EXEC"
expect_rc 0 "$FL" -s "$SOCK" vm unregister vm-i
has_event "unregister vm-i" || fail "unregister not sent: $(cat "$EVENTS")"
expect_rc 2 "$FL" -s "$SOCK" vm explode vm-i
exit 0
