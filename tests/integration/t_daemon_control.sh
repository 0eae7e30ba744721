#!/usr/bin/env bash
# The real daemon's control socket: mode 0660 (root and the control group);
# garbage, malformed JSON and an oversized request get error replies (the
# oversized one also a closed connection) and the daemon keeps serving, its
# cluster unharmed; a uid outside the group cannot even connect: status is
# UNKNOWN (3), exec is refused (120) and its command never runs. The
# metrics file is written for node_exporter; SIGHUP re-reads log_level.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_format
DL_N=1
dl_config 1 1 "metrics_file = $T/h1/fencelock.prom"
dl_start 1
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 not quorate alone"
[ "$(stat -c %a "$(dl_sock 1)")" = 660 ] || fail "socket mode $(stat -c %a "$(dl_sock 1)"), expected 660"
python3 "$FL_ROOT/tests/lib/ctl_garbage.py" "$(dl_sock 1)" || fail "garbage exchange failed"
kill -0 "${DPID[1]}" || fail "the daemon died"
wait_for 3 grep -qx "fencelock_quorate 1" "$T/h1/fencelock.prom" || fail "metrics file: $(head -5 "$T/h1/fencelock.prom" 2>&1)"
kill -HUP "${DPID[1]}"
wait_for 3 grep -q "SIGHUP: log level now" "$T/h1/log" || fail "SIGHUP not handled"
expect_rc 0 "$FL" -s "$(dl_sock 1)" status

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    chmod 0755 "$T"
    if as_nobody test -x "$FL"; then
        touch "$T/disk.img"
        expect_rc 3 as_nobody "$FL" -s "$(dl_sock 1)" status
        expect_rc 120 as_nobody "$FL" -s "$(dl_sock 1)" exec --vm vm-p --volume "$T/disk.img" -- touch "$T/ran"
        [ ! -e "$T/ran" ] || fail "CMD ran for an unauthorized uid"
    fi
fi
expect_rc 0 "$FL" -s "$(dl_sock 1)" status
exit 0
