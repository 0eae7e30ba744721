#!/usr/bin/env bash
# The quorum view (fencelock quorum, and the "quorum" object of status) on
# three loopback daemons: with h3 configured but not started, the leader
# counts 2 of 3 votes (threshold 2), lists h3 as a configured peer never
# seen and answers WARNING; once h3 runs, 3 of 3 and OK, every peer heard
# within a second over a connected link, match indexes on the leader only,
# and h3's placeholder name (recorded before it was seen) replaced by its own.
# A host added but not started is a learner with its lag (WARNING). vm show
# gives a VM's spec, volumes with identity and ro flag, state, host and
# history; leader transfer hands leadership to the host asked for.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

q() { "$FL" -s "$(dl_sock "$1")" quorum -o json 2>/dev/null || true; }
dl_setup 3
dl_start 1
dl_start 2
wait_for 20 eval "q 1 | jq -e '.quorate and .leader != null' >/dev/null" || fail "h1+h2 not quorate: $(q 1)"
L=$(q 1 | jq -r .leader)
wait_for 10 eval "q $L | jq -e '.total_votes == 2' >/dev/null" || fail "2 votes with h3 down: $(q "$L")"
out=$(q "$L")
jq -e '.expected_votes == 3 and .total_votes == 2 and .threshold == 2 and .schema_version == 1' <<<"$out" >/dev/null ||
    fail "votes with h3 down: $out"
jq -e '[.never_seen[].id] == [3] and (.never_seen[0].addr | endswith(":'"$(dl_port 3)"'"))' <<<"$out" >/dev/null ||
    fail "h3 not listed as never seen: $out"
jq -e '[.voters[] | select(.present) | .id] | sort == [1,2]' <<<"$out" >/dev/null || fail "present voters: $out"
expect_rc 1 "$FL" -s "$(dl_sock "$L")" quorum
grep -q "^FENCELOCK WARNING - quorate, 2/3 votes (threshold 2)" <<<"$out" || fail "quorum text: $out"
grep -q "^Expected votes: *3" <<<"$out" || fail "quorum text lacks expected votes: $out"

dl_start 3
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 ))
wait_for 10 eval "q $L | jq -e '.total_votes == 3 and .never_seen == []' >/dev/null" || fail "3 votes: $(q "$L")"
# h3 was recorded before it was seen ("host3"); its real name replaces that.
wait_for 5 eval "dl_json $L hosts | jq -e '[.hosts[].name] | sort == [\"h1\",\"h2\",\"h3\"]' >/dev/null" ||
    fail "host names: $(dl_json "$L" hosts)"
out=$(q "$L")
jq -e '.view == "leader" and .witness_holder == null and .learners == [] and
       ([.voters[] | select(.kind == "host" and .match_index > 0)] | length) == 3' <<<"$out" >/dev/null ||
    fail "leader's view: $out"
jq -e '[.peers[] | select(.link == "connected" and .last_heard_ms < 1500)] | length == 2' <<<"$out" >/dev/null ||
    fail "peers not heard or not connected: $out"
# The leader's Raft round trip to each follower (loopback: well under 100 ms); null for itself.
jq -e --argjson l "$L" '[.peers[] | select(.id != $l) | .rtt_ms | select(type == "number" and . > 0 and . < 100)]
       | length == 2' <<<"$out" >/dev/null || fail "leader's rtt_ms: $out"
jq -e --argjson l "$L" '.peers[] | select(.id == $l) | .rtt_ms == null' <<<"$out" >/dev/null || fail "own rtt_ms: $out"
q "$F" | jq -e '.view == "follower" and ([.voters[].match_index] | all(. == null)) and ([.peers[].rtt_ms] | all(. == null))' >/dev/null ||
    fail "follower's view: $(q "$F")"
expect_rc 0 "$FL" -s "$(dl_sock "$L")" quorum
dl_json "$F" status | jq -e '.quorum.expected_votes == 3 and .quorum.total_votes == 3' >/dev/null ||
    fail "status lacks the quorum object: $(dl_json "$F" status)"

# vm show: spec, volumes (identity, ro), state, host, history.
dl_exec "$F" vm-q
wait_for 10 dl_vm_started_on vm-q "$F" || fail "vm-q did not start on h$F"
wait_for 5 eval "\"$FL\" -s $(dl_sock "$L") vm show vm-q -o json | jq -e '.state == \"RUNNING\"' >/dev/null" ||
    fail "vm show: $("$FL" -s "$(dl_sock "$L")" vm show vm-q -o json 2>&1)"
out=$("$FL" -s "$(dl_sock "$L")" vm show vm-q -o json)
jq -e --argjson f "$F" '.host == $f and .host_name == "h\($f)" and .volumes[0].ro == false and
       (.volumes[0].id | startswith("file:")) and .volumes[0].path == "'"$T"'/vol-vm-q.img" and
       .history_events >= 2 and .spec != null and .schema_version == 1' <<<"$out" >/dev/null || fail "vm show: $out"
wait_for 5 eval "\"$FL\" -s $(dl_sock "$F") vm show vm-q | grep -q '^State: *RUNNING'" ||
    fail "vm show text on h$F: $("$FL" -s "$(dl_sock "$F")" vm show vm-q 2>&1)"
expect_rc 6 "$FL" -s "$(dl_sock "$F")" vm show no-such-vm

# A host added but not running: a learner with its lag; WARNING.
expect_rc 0 "$FL" -s "$(dl_sock "$L")" host add 4 h4 "127.0.0.1:$(dl_port 4)"
out=$(q "$L")
jq -e '([.learners[] | select(.id == 4 and .name == "h4" and .lag > 0)] | length) == 1 and .expected_votes == 3' \
    <<<"$out" >/dev/null || fail "learner h4: $out"
expect_rc 1 "$FL" -s "$(dl_sock "$L")" quorum

# Leadership to the host asked for (asked on a follower, the leader answers).
expect_rc 2 "$FL" -s "$(dl_sock "$F")" leader transfer --to "$L"
grep -q "host $L is not another host voter" <<<"$out" || fail "the leader's refusal, through h$F: $out"
expect_rc 0 "$FL" -s "$(dl_sock "$L")" leader transfer --to "h$F"
wait_for 10 eval "[ \"\$(dl_leader $F)\" = $F ]" || fail "h$F did not become leader: $(dl_json "$F" status)"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: transfer leadership to host $F" "$T/h$L/log" ||
    fail "no notice naming the caller in h$L's log"
exit 0
