#!/usr/bin/env bash
# Membership through the control socket (a Raft membership change, one server
# at a time, on the leader): asked on a follower it is forwarded to the
# leader, whose refusal to remove itself comes back; removing a host that still has a VM placed on it is refused;
# removing an idle host marks it LEFT and the two others stay quorate and
# can start VMs; a new host id is added as a learner (not yet a voter), and
# its daemon, started with -j (join: [peers] only gives addresses), catches
# up, is promoted to voter and becomes UP and quorate with a valid lease.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
expect_rc 2 "$FL" -s "$(dl_sock "$F")" host remove "$L"
grep -q "the leader cannot remove itself" <<<"$out" || fail "the leader's refusal, through h$F: $out"

dl_exec "$F" vm-m
wait_for 10 dl_vm_started_on vm-m "$F" || fail "vm-m did not start on h$F"
out=$("$FL" -s "$(dl_sock "$L")" host remove "$F" 2>&1) && fail "removed h$F with vm-m placed on it: $out"
grep -q "VMs are still placed on host $F" <<<"$out" || fail "refusal message: $out"

expect_rc 0 "$FL" -s "$(dl_sock "$L")" host remove "$R"
dl_json "$L" hosts | jq -e --argjson r "$R" '.hosts[] | select(.id == $r and .state == "LEFT")' >/dev/null ||
    fail "h$R not LEFT: $(dl_json "$L" hosts)"
sleep 2
dl_json "$L" status | jq -e '.quorate' >/dev/null || fail "h$L not quorate after the removal"
dl_json "$F" status | jq -e '.quorate' >/dev/null || fail "h$F not quorate after the removal"
dl_exec "$L" vm-n
wait_for 10 dl_vm_started_on vm-n "$L" || fail "vm-n did not start on h$L after the removal"

expect_rc 0 "$FL" -s "$(dl_sock "$L")" host add 4 h4 "127.0.0.1:$(dl_port 4)"
dl_json "$L" hosts | jq -e '.hosts[] | select(.id == 4 and .name == "h4" and .voter == false)' >/dev/null ||
    fail "h4 not listed as a learner: $(dl_json "$L" hosts)"
expect_rc 3 "$FL" -s "$(dl_sock "$L")" host add 4 h4 "127.0.0.1:$(dl_port 4)"
dl_config 4 4
"$FLD" -c "$T/h4/fencelock.conf" -f -j >> "$T/h4/log" 2>&1 &
DPID[4]=$!
wait_for 20 eval "dl_json $L hosts | jq -e '.hosts[] | select(.id == 4 and .state == \"UP\" and .voter == true)' >/dev/null" ||
    fail "h4 did not join as a voter: $(dl_json "$L" hosts)"
wait_for 10 eval "dl_json 4 status | jq -e '.quorate and .lease_valid and .leader == $L' >/dev/null" ||
    fail "h4 not quorate under leader $L: $(dl_json 4 status)"
exit 0
