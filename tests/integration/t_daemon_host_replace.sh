#!/usr/bin/env bash
# Replacing a host (docs/operations.md, "Replacing a host"): h_R's machine
# dies; `host remove R` on the leader, then `host add 5` at R's old address.
# h5's [peers] names ONE follower and itself, never the leader: it learns
# the members from that follower (the join handshake). Started before it
# is added, and all the while it is not a caught-up voter, its `status` and
# `quorum` are WARNING with the reason, never OK; it ends a voter with the
# leader's commit, UP on the leader, quorate, OK. Then `host forget R`:
# the LEFT row disappears from hosts, status and quorum on every host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

# member_is I M: host I's status says it is M (voter, learner, joining,
# removed); status exits non-zero unless OK, hence no pipe into jq.
member_is() { local j; j=$(dl_json "$1" status); [ "$(jq -r '.member // empty' <<<"$j")" = "$2" ]; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
dl_kill "$R"
expect_rc 0 "$FL" -s "$(dl_sock "$L")" host remove "$R"

# h5 at R's address; [peers]: F (a follower) and itself only.
dl_config 0 5
sed -i "s/^listen = .*/listen = 127.0.0.1:$(dl_port "$R")/" "$T/h5/fencelock.conf"
printf '%s = 127.0.0.1:%s\n5 = 127.0.0.1:%s\n' "$F" "$(dl_port "$F")" "$(dl_port "$R")" >> "$T/h5/fencelock.conf"
"$FLD" -c "$T/h5/fencelock.conf" -f -j >> "$T/h5/log" 2>&1 &
DPID[5]=$!
wait_for 10 test -S "$(dl_sock 5)" || fail "h5 did not start"

# Not added yet: WARNING (exit 1) naming why, in status and quorum.
wait_for 10 member_is 5 joining || fail "h5 not 'joining': $(dl_json 5 status)"
expect_rc 1 "$FL" -s "$(dl_sock 5)" status
grep -q "^FENCELOCK WARNING - joining: this host is not yet a member" <<<"$out" || fail "h5 status before add: $out"
expect_rc 1 "$FL" -s "$(dl_sock 5)" quorum
grep -q "^FENCELOCK WARNING - joining" <<<"$out" || fail "h5 quorum before add: $out"

expect_rc 0 "$FL" -s "$(dl_sock "$L")" host add 5 h5 "127.0.0.1:$(dl_port "$R")"
# Until it is a voter, every answer is a WARNING; then OK.
ok=0 warned=0
for _ in $(seq 200); do
    j=$(dl_json 5 status); rc=0; "$FL" -s "$(dl_sock 5)" status >/dev/null 2>&1 || rc=$?
    m=$(jq -r '.member // empty' <<<"$j")
    if [ "$m" != voter ]; then
        [ "$rc" -ne 0 ] || fail "h5 status OK while member=$m: $j"
        warned=$((warned + 1))
    elif [ "$rc" -eq 0 ]; then ok=1; break
    fi
    sleep 0.1
done
[ "$ok" = 1 ] || fail "h5 never became a voter with status OK: $(dl_json 5 status)"
echo "h5: $warned non-OK answers while not a voter, then OK"
grep -q "says host $L is at" "$T/h5/log" || fail "h5 did not learn the leader's address from h$F"
dl_json "$L" hosts | jq -e '.hosts[] | select(.id == 5 and .state == "UP" and .voter == true)' >/dev/null ||
    fail "h5 not an UP voter on the leader: $(dl_json "$L" hosts)"
commit_of() { local j; j=$(dl_json "$1" status); jq .commit <<<"$j"; }
caught_up() { [ "$(commit_of 5)" -ge "$(commit_of "$L")" ]; }
wait_for 10 caught_up || fail "h5 commit behind the leader's: $(commit_of 5) < $(commit_of "$L")"
expect_rc 0 "$FL" -s "$(dl_sock 5)" quorum
grep -q "3/3 votes" <<<"$out" || fail "h5 quorum: $out"

# Forget: a member is refused; the LEFT host goes from every view.
out=$("$FL" -s "$(dl_sock "$L")" host forget "$F" 2>&1) && fail "forgot a member: $out"
grep -q "only a removed (LEFT) host can be forgotten" <<<"$out" || fail "refusal: $out"
dl_json "$L" hosts | jq -e --argjson r "$R" '.hosts[] | select(.id == $r and .state == "LEFT")' >/dev/null ||
    fail "h$R not LEFT before forget: $(dl_json "$L" hosts)"
expect_rc 0 "$FL" -s "$(dl_sock "$L")" host forget "$R"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: forget host $R" "$T/h$L/log" || fail "forget not logged with the caller"
gone_everywhere() {
    local i j o
    for i in "$L" "$F" 5; do
        for j in hosts status quorum; do
            o=$("$FL" -s "$(dl_sock "$i")" "$j" -o json 2>/dev/null) # non-zero unless OK: no pipe
            [ -n "$o" ] || return 1
            jq -e --argjson r "$R" '[.. | objects | select(has("id") and .id == $r)] | length == 0' <<<"$o" >/dev/null ||
                return 1
        done
    done
}
listed() { local i j o; for i in "$L" "$F" 5; do for j in hosts status quorum; do o=$("$FL" -s "$(dl_sock "$i")" "$j" -o json 2>/dev/null)
    jq -c --arg w "h$i $j" --argjson r "$R" '[paths(type == "object" and has("id") and .id == $r)] | select(length > 0) | [$w, .]' <<<"$o"
    done; done; }
wait_for 5 gone_everywhere || fail "h$R still listed after forget: $(listed)"
exit 0
