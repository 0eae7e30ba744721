#!/usr/bin/env bash
# A removed host learns it (docs/operations.md, "Membership"): `host remove
# R` on the leader while h_R runs. Raft alone never tells it (the leader
# stops sending to it once the configuration without it is in its log);
# the leader answers its next message with a removal notice. h_R logs the
# removal at notice, releases its delta lease (its record's timestamp is 0
# on the device) and exits with status 4; the two others stay quorate.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
expect_rc 0 "$FL" -s "$(dl_sock "$L")" host remove "$R"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: remove host $R" "$T/h$L/log" ||
    fail "the leader did not log who asked for the removal"

exited() { ! kill -0 "${DPID[$R]}" 2>/dev/null; }
wait_for 15 exited || fail "h$R still runs after its removal: $(dl_json "$R" status | jq -c '{member, member_reason}')"
rc=0; wait "${DPID[$R]}" || rc=$?
DPID[$R]=
[ "$rc" = 4 ] || fail "h$R exited $rc, expected 4 (removed)"
grep -q "notice: host $R (h$R) was removed from the cluster (told by the leader, host $L): releasing its delta lease and stopping" \
    "$T/h$R/log" || fail "h$R did not log its removal at notice"
grep -q "delta lease of host $R released" "$T/h$R/log" || fail "h$R did not release its delta lease"
ts=$("$FL" direct read-leader -s "t:$R:$DL_IMG:0" -o json | jq .timestamp)
[ "$ts" = 0 ] || fail "h$R's delta record still has timestamp $ts"
for i in "$L" "$F"; do
    dl_json "$i" status | jq -e '.quorate and .lease_valid' >/dev/null || fail "h$i not quorate after the removal"
done
exit 0
