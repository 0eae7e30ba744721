#!/usr/bin/env bash
# The real daemon's control socket: mode 0666, rights checked per request;
# garbage, malformed JSON and an oversized request get error replies (the
# oversized one also a closed connection) and the daemon keeps serving, its
# cluster unharmed; a uid outside the control group reads every view
# (status, vms, leases, hosts, metrics) but changes nothing: exec is refused
# (123) and its command never runs, unregister and host add are refused
# with the daemon's sentence. The metrics file is written for
# node_exporter; SIGHUP re-reads log_level.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

dl_format
DL_N=1
dl_config 1 1 "metrics_file = $T/h1/fencelock.prom"
dl_start 1
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 not quorate alone"
# Quorum alone comes first; status is OK once the delta lease is held too.
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "d.get(\"lease_valid\")")" = True ]' || fail "h1's delta lease not valid"
[ "$(stat -c %a "$(dl_sock 1)")" = 666 ] || fail "socket mode $(stat -c %a "$(dl_sock 1)"), expected 666"
python3 "$FL_ROOT/tests/lib/ctl_garbage.py" "$(dl_sock 1)" || fail "garbage exchange failed"
kill -0 "${DPID[1]}" || fail "the daemon died"
wait_for 3 grep -qx "fencelock_quorate 1" "$T/h1/fencelock.prom" || fail "metrics file: $(head -5 "$T/h1/fencelock.prom" 2>&1)"
kill -HUP "${DPID[1]}"
wait_for 3 grep -q "SIGHUP: log level now" "$T/h1/log" || fail "SIGHUP not handled"
expect_rc 0 "$FL" -s "$(dl_sock 1)" status

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    expect_fail() { out=$("$@" 2>&1) && fail "'$*' succeeded; output: $out"; true; }
    chmod 0755 "$T"
    if as_nobody test -x "$FL"; then
        touch "$T/disk.img"
        expect_rc 0 "$FL" -s "$(dl_sock 1)" exec --vm vm-r --volume "$T/disk.img" -- true
        expect_rc 0 as_nobody "$FL" -s "$(dl_sock 1)" status
        for v in vms leases hosts metrics; do expect_rc 0 as_nobody "$FL" -s "$(dl_sock 1)" "$v"; done
        grep -q "vm-r" < <(as_nobody "$FL" -s "$(dl_sock 1)" vms) || fail "nobody does not see vm-r"
        # (an operator-given identity: nobody cannot even resolve a path under $T)
        expect_rc 123 as_nobody "$FL" -s "$(dl_sock 1)" exec --vm vm-p --volume "$T/disk.img.2:id=control-test" -- touch "$T/ran"
        grep -q "needs root or the control group; uid 65534 may only read" <<<"$out" || fail "perm message: $out"
        [ ! -e "$T/ran" ] || fail "CMD ran for an unauthorized uid"
        expect_fail as_nobody "$FL" -s "$(dl_sock 1)" vm unregister vm-r
        grep -q "may only read" <<<"$out" || fail "unregister by nobody: $out"
        expect_fail as_nobody "$FL" -s "$(dl_sock 1)" host add 9 h9 127.0.0.1:9
        grep -q "may only read" <<<"$out" || fail "host add by nobody: $out"
        grep -q "vm-r" < <("$FL" -s "$(dl_sock 1)" vms) || fail "vm-r is gone after nobody's unregister"
    fi
fi
expect_rc 0 "$FL" -s "$(dl_sock 1)" status
exit 0
