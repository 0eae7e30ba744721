#!/usr/bin/env bash
# Garbage, malformed JSON and an oversized request on the control socket get
# error replies (or a closed connection for the oversized one) and the daemon
# keeps serving: status still answers afterwards.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"
command -v python3 >/dev/null || skip "python3 missing"
stub_start
python3 "$FL_ROOT/tests/lib/ctl_garbage.py" "$SOCK" || fail "garbage exchange failed"
kill -0 "$STUB_PID" || fail "the daemon died"
expect_rc 0 "$FL" -s "$SOCK" status
exit 0
