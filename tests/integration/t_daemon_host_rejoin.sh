#!/usr/bin/env bash
# A host whose state_dir was lost (docs/operations.md, "Lost state_dir"):
# h_R is killed and its state_dir wiped. Started as before, it refuses to
# found anything (its host id has a generation on the device but it has no
# Raft state: as a founding voter it could vote twice in a term) and says
# to use --rejoin, exit 1. Started with --rejoin, it asks the leader, which
# removes the old voter from the Raft configuration and adds it back as a
# learner (both logged at notice); it catches up and is promoted: UP voter
# on the leader, OK in its own status, its commit the leader's.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
dl_kill "$R"
rm -rf "$T/h$R/state"

rc=0; "$FLD" -c "$T/h$R/fencelock.conf" -f > "$T/refused.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a host with a lost state_dir started without --rejoin: exit $rc: $(tail -3 "$T/refused.out")"
grep -q "holds no Raft state, but host id $R has been used on .* before .*--rejoin" "$T/refused.out" ||
    fail "refusal message: $(cat "$T/refused.out")"

"$FLD" -c "$T/h$R/fencelock.conf" -f --rejoin >> "$T/h$R/log" 2>&1 &
DPID[$R]=$!
wait_for 10 test -S "$(dl_sock "$R")" || fail "h$R --rejoin did not start"
voter_ok() { "$FL" -s "$(dl_sock "$R")" status > /dev/null 2>&1 &&
    dl_json "$L" hosts | jq -e --argjson r "$R" '.hosts[] | select(.id == $r and .state == "UP" and .voter == true)' >/dev/null; }
wait_for 20 voter_ok || fail "h$R did not rejoin as an UP voter: $(dl_json "$L" hosts | jq -c .hosts) / $(dl_json "$R" status | jq -c '{member, member_reason}')"
grep -q "notice: host $L: host $R (h$R) lost its Raft state and asks to rejoin" "$T/h$L/log" ||
    fail "the leader did not log the rejoin request"
grep -q "notice: host $L: host $R (h$R) added again as a learner (rejoin)" "$T/h$L/log" ||
    fail "the leader did not log the re-add"
commit_of() { local j; j=$(dl_json "$1" status); jq .commit <<<"$j"; }
caught_up() { [ "$(commit_of "$R")" -ge "$(commit_of "$L")" ]; }
wait_for 10 caught_up || fail "h$R commit behind the leader's"
exit 0
