#!/usr/bin/env bash
# fencelock status/hosts/leases/vms/metrics against a stub daemon: text and
# JSON shapes, socket from -s and FENCELOCK_SOCKET, Nagios exit codes (OK,
# WARNING for a host not UP, CRITICAL when not quorate or the lease is
# invalid, UNKNOWN when the daemon is unreachable or paused).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

stub_start
expect_rc 0 "$FL" -s "$SOCK" status
[ "$(head -1 <<<"$out")" = "FENCELOCK OK - quorate, leader 1, term 3, 1/1 hosts UP | quorate=1 hosts_up=1 hosts=1 vms=0 term=3" ] ||
    fail "summary line: $out"
grep -q '^Quorate: *yes' <<<"$out" || fail "no Quorate line: $out"

export FENCELOCK_SOCKET=$SOCK
expect_rc 0 "$FL" status -o json
jq -e '(.quorate == true) and (.leader == 1) and (.term | type == "number")
       and (.hosts[0] | (.id == 1) and (.name == "h1") and (.state == "UP") and (.since_s | type == "number"))
       and (.vms | type == "array") and (has("v") | not)' <<<"$out" >/dev/null || fail "status JSON shape: $out"

# A VM shows in vms and leases, as a table and as JSON.
touch "$T/disk.img"
expect_rc 0 "$FL" exec --vm vm-a --volume "$T/disk.img:ro" -- true
expect_rc 0 "$FL" vms
grep -qE '^\| vm-a +\| 1 +\| STOPPED' <<<"$out" || fail "vms table: $out"
expect_rc 0 "$FL" leases -o json
jq -e '.leases[0] | (.vm == "vm-a") and (.mode == "ro")' <<<"$out" >/dev/null || fail "leases JSON: $out"
expect_rc 0 "$FL" hosts
grep -qE '^\| ID +\| NAME +\| ADDRESS +\| STATE' <<<"$out" || fail "hosts header: $out"
expect_rc 0 "$FL" status -o json
jq -e '.vms[0] | (.uid == "vm-a") and (.host == 1) and (.state == "STOPPED")' <<<"$out" >/dev/null || fail "status vms: $out"
expect_rc 0 "$FL" metrics
grep -q '^fencelock_raft_term 3$' <<<"$out" || fail "metrics: $out"
expect_rc 2 "$FL" hosts -o yaml
expect_rc 3 "$FL" status -o yaml

# WARNING: a host not UP (LEFT hosts do not count).
echo '{"hosts":[{"id":1,"name":"h1","state":"UP","since_s":9},{"id":2,"name":"h2","state":"PARTITIONED","since_s":3},{"id":3,"name":"h3","state":"LEFT","since_s":99}]}' > "$T/warn.json"
stub_stop; stub_start -S "$T/warn.json"
expect_rc 1 "$FL" status
[ "$(head -1 <<<"$out")" = "FENCELOCK WARNING - quorate, leader 1, term 3, 1/2 hosts UP; host 2 (h2) is PARTITIONED | quorate=1 hosts_up=1 hosts=3 vms=0 term=3" ] ||
    fail "warning line: $out"
grep -q '^Hosts by state: *UP 1, PARTITIONED 1, LEFT 1$' <<<"$out" || fail "state counts: $out"
expect_rc 1 "$FL" status -o json   # JSON output keeps the plugin exit code

# WARNING: a voter catching up (a member_reason with member "voter").
echo '{"member":"voter","member_reason":"this voter is catching up: commit 10, the leader'"'"'s 900"}' > "$T/lag.json"
stub_stop; stub_start -S "$T/lag.json"
expect_rc 1 "$FL" status
grep -q "^FENCELOCK WARNING - voter: this voter is catching up: commit 10" <<<"$out" || fail "catching-up line: $out"

# CRITICAL: not quorate, or our delta lease invalid.
stub_stop; stub_start -n
expect_rc 2 "$FL" status
grep -q '^FENCELOCK CRITICAL - not quorate: no contact with a leader' <<<"$out" || fail "critical line: $out"
echo '{"lease_valid":false}' > "$T/lease.json"
stub_stop; stub_start -S "$T/lease.json"
expect_rc 2 "$FL" status
grep -q "delta lease is not valid" <<<"$out" || fail "lease line: $out"

# UNKNOWN: a paused daemon (bounded by -t), and no daemon at all.
kill -STOP "$STUB_PID"
start=$(now_ms)
expect_rc 3 "$FL" status -t 500
grep -q '^FENCELOCK UNKNOWN - .*did not answer within 500 ms' <<<"$out" || fail "paused: $out"
[ $(( $(now_ms) - start )) -lt 3000 ] || fail "status took too long against a paused daemon"
kill -CONT "$STUB_PID"
stub_stop
expect_rc 3 "$FL" status
grep -q '^FENCELOCK UNKNOWN - fencelockd unreachable at' <<<"$out" || fail "unreachable: $out"
expect_rc 9 "$FL" hosts
exit 0
