#!/usr/bin/env bash
# Through a world-connectable socket, an unprivileged uid (nobody) may read
# the status but may not change state: exec is refused with exit 123 and the
# daemon's message, and CMD never runs; the operator's commands and vm show
# are refused with exit 7.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to run a client as another uid"
command -v setpriv >/dev/null || skip "setpriv missing (util-linux)"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 0755 "$T"
as_nobody test -x "$FL" || skip "$FL is not executable by uid 65534 here"

stub_start
touch "$T/disk.img"
expect_rc 0 as_nobody "$FL" -s "$SOCK" status
expect_rc 123 as_nobody "$FL" -s "$SOCK" exec --vm vm-p --volume "$T/disk.img" -- touch "$T/ran"
grep -q "needs root or the control group; uid 65534 may only read" <<<"$out" || fail "perm message: $out"
[ ! -e "$T/ran" ] || fail "CMD ran for an unauthorized uid"
# The operator's commands, and vm show (a spec may hold secrets), likewise.
for cmd in "host fence 2" "host drain 2" "vm move vm-p --to 2" "quarantine clear 2" "leader transfer" "vm show vm-p"; do
    # shellcheck disable=SC2086 # the command's words
    expect_rc 7 as_nobody "$FL" -s "$SOCK" $cmd
    grep -q "uid 65534 may only read" <<<"$out" || fail "$cmd: perm message: $out"
done
expect_rc 0 "$FL" -s "$SOCK" exec --vm vm-p --volume "$T/disk.img" -- true
exit 0
