#!/usr/bin/env bash
# Fencing a host by hand, and quarantine, on three loopback daemons. Asked
# on a follower, `host fence` of the leader comes back as the leader's own
# refusal (the follower forwards it; t_daemon_ops_any_host.sh has the rest). On the leader
# it commits an operator's fence: the host obeys its mailbox (its VM stops,
# answers FENCED), the VM runs on another host with no overlap, and the
# fence stays (the leader never clears an operator's fence by itself) until
# `host unfence`, after which the host is UP and quorate again. Each change
# is logged at notice with the caller's uid. Three fences within the hour
# quarantine the host (flap damping): `quarantine list` shows it and
# `quarantine clear HOST` lifts it.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }
st() { dl_json "$1" status || true; } # its exit code is Nagios'
host_field() { dl_json "$1" hosts | jq -r --argjson id "$2" ".hosts[] | select(.id == \$id) | .$3"; }
dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 ))
dl_exec "$F" vm-f
wait_for 10 dl_vm_started_on vm-f "$F" || fail "vm-f did not start on h$F"

expect_rc 2 ctl "$F" host fence "$L"
grep -q "host $L leads the cluster and cannot fence itself" <<<"$out" || fail "the leader's refusal, through h$F: $out"
expect_rc 2 ctl "$L" host fence "$L"
expect_rc 0 ctl "$L" host fence "h$F" --wait-s 30
[ "$(host_field "$L" "$F" fence)" = fenced ] || fail "h$F not fenced: $(dl_json "$L" hosts)"
[ "$(host_field "$L" "$F" fence_reason)" = operator ] || fail "fence reason: $(dl_json "$L" hosts)"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: fence host $F" "$T/h$L/log" || fail "no notice naming the caller"
out=$(ctl "$L" events -o json)
jq -e --argjson f "$F" --argjson u "$(id -u)" '[.events[] | select(.type == "fence-requested" and .host == $f and
       .state == "operator" and .cause == "operator" and .by_uid == $u)] | length == 1' <<<"$out" >/dev/null ||
    fail "the event history lacks the operator's fence: $out"
st "$F" | jq -e '.fenced' >/dev/null || fail "h$F does not say it is fenced: $(st "$F")"
# The VM ran elsewhere, never at the same time as on h$F.
NEW=$(dl_vm_host vm-f)
[ -n "$NEW" ] && [ "$NEW" != "$F" ] || fail "vm-f runs on h$NEW"
last_old=$(grep " $(dl_sock "$F") " "$T/vm-vm-f.log" | tail -1 | awk '{print $4}')
first_new=$(grep "^start vm-f $(dl_sock "$NEW") " "$T/vm-vm-f.log" | head -1 | awk '{print $4}')
[ "$first_new" -gt "$last_old" ] || fail "overlap: h$NEW started vm-f at $first_new, h$F wrote at $last_old"
sleep 3
[ "$(host_field "$L" "$F" fence)" = fenced ] || fail "the operator's fence of h$F was cleared by itself"
out=$(ctl "$L" quarantine list -o json)
jq -e --argjson f "$F" '[.hosts[] | select(.id == $f and .fence == "fenced")] | length == 1' <<<"$out" >/dev/null ||
    fail "quarantine list lacks the fenced h$F: $out"

expect_rc 0 ctl "$L" host unfence "$F"
[ "$(host_field "$L" "$F" fence)" = none ] || fail "h$F still fenced: $(dl_json "$L" hosts)"
wait_for 15 eval "st $F | jq -e '.fenced == false and .quorate and .lease_valid' >/dev/null" ||
    fail "h$F not back: $(st "$F")"
expect_rc 6 ctl "$L" host unfence "$F"

# Two more fences within the hour: flap damping quarantines h$F.
for _ in 1 2; do
    expect_rc 0 ctl "$L" host fence "$F" --wait-s 30
    expect_rc 0 ctl "$L" host unfence "$F"
done
wait_for 10 eval "[ \"\$(host_field $L $F quarantined)\" = true ]" || fail "h$F not quarantined: $(dl_json "$L" hosts)"
out=$(ctl "$L" quarantine list -o json)
jq -e --argjson f "$F" '[.hosts[] | select(.id == $f and .quarantine_left_s > 3600 and .drained == false)] | length == 1' \
    <<<"$out" >/dev/null || fail "quarantine list: $out"
expect_rc 0 ctl "$L" quarantine list
grep -q "quarantined" <<<"$out" || fail "quarantine list text: $out"
out=$(ctl "$L" metrics)
grep -q '^fencelock_hosts_marked{mark="quarantined"} 1$' <<<"$out" || fail "metrics lack the quarantine: $out"
expect_rc 0 ctl "$L" quarantine clear "h$F"
[ "$(host_field "$L" "$F" quarantined)" = false ] || fail "h$F still quarantined: $(dl_json "$L" hosts)"
expect_rc 6 ctl "$L" quarantine clear "$F"
expect_rc 6 ctl "$L" quarantine clear no-such-vm
grep -q "operator uid $(id -u) (pid [0-9]*) asks: lift the quarantine of host $F" "$T/h$L/log" ||
    fail "no notice for the quarantine clear"
exit 0
