#!/usr/bin/env bash
# The operator's commands asked on a follower, on three loopback daemons.
# The follower's daemon forwards each to the leader over the authenticated
# Raft channel, the leader runs it as its own and the answer comes back:
# `host drain` moves the VM off the drained host with no overlap, `vm move`
# hands it back, `host fence` / `host unfence` go through the mailbox,
# `quarantine clear` of a host that is not quarantined and `host remove` of
# the leader come back as the leader's own refusals, `host add` / `host
# remove` change membership, `leader transfer` hands leadership over. The
# leader logs each with the caller's uid and the host it was asked on; the
# follower logs that it forwarded it; the event history records the uid.
# A forwarded request from a host that is not a member (flraftatk, holding
# the key) is refused and counted, and fences nothing. With no leader, the
# follower says so at once.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ATK=$FL_BUILD/tools/flraftatk
[ -x "$ATK" ] || fail "$ATK not built"

ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }
st() { dl_json "$1" status || true; } # its exit code is Nagios'
host_field() { dl_json "$1" hosts | jq -r --argjson id "$2" ".hosts[] | select(.id == \$id) | .$3"; }
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }
# no_overlap UID A B: every line host B wrote for UID comes after A's last one.
no_overlap() {
    local last_a first_b
    last_a=$(grep " $(dl_sock "$2") " "$T/vm-$1.log" | tail -1 | awk '{print $4}')
    first_b=$(grep "^start $1 $(dl_sock "$3") " "$T/vm-$1.log" | tail -1 | awk '{print $4}')
    [ -n "$last_a" ] && [ -n "$first_b" ] && [ "$first_b" -gt "$last_a" ] ||
        fail "$1: h$3 started at ${first_b:-never}, h$2 last wrote at ${last_a:-never}"
}
U=$(id -u)
dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))   # F: the follower asked; R: the other follower
dl_exec "$R" vm-a
wait_for 10 dl_vm_started_on vm-a "$R" || fail "vm-a did not start on h$R"

# Drain R, asked on F: vm-a leaves R for a host that is not R, never overlapping.
expect_rc 0 ctl "$F" host drain "h$R" --wait-s 30
B=$(dl_vm_host vm-a)
[ -n "$B" ] && [ "$B" != "$R" ] || fail "vm-a still on h$R after the drain"
wait_for 5 dl_vm_alive_on vm-a "$B" || fail "vm-a not alive on h$B"
no_overlap vm-a "$R" "$B"
[ "$(host_field "$L" "$R" drained)" = true ] || fail "h$R not drained: $(dl_json "$L" hosts)"
grep -q "operator uid $U (pid [0-9]*) on host $F asks: drain host $R" "$T/h$L/log" ||
    fail "the leader's notice does not name the caller and h$F: $(grep operator "$T/h$L/log")"
grep -q "operator uid $U (pid [0-9]*) asks host.drain: forwarded to the leader, host $L" "$T/h$F/log" ||
    fail "h$F did not log the forwarding: $(grep operator "$T/h$F/log")"
expect_rc 0 ctl "$F" host undrain "$R"
[ "$(host_field "$L" "$R" drained)" = false ] || fail "h$R still drained"

# Move it back, asked on the other follower.
expect_rc 0 ctl "$R" vm move vm-a --to "$R" --wait-s 30
wait_for 5 dl_vm_alive_on vm-a "$R" || fail "vm-a not alive on h$R after the move"
no_overlap vm-a "$B" "$R"
out=$(ctl "$L" events -o json)
jq -e --argjson r "$R" --argjson u "$U" '[.events[] | select(.type == "vm-placed" and .vm == "vm-a" and
       .host == $r and .by_uid == $u and .by_host == $r)] | length >= 1' <<<"$out" >/dev/null ||
    fail "the move does not name the caller and the host it was asked on: $out"

# The leader's refusals come back as they are.
expect_rc 6 ctl "$F" quarantine clear "$R"
grep -q "host $R (h$R) is not quarantined" <<<"$out" || fail "quarantine clear refusal: $out"
expect_rc 2 ctl "$F" host fence "$L"
grep -q "host $L leads the cluster and cannot fence itself" <<<"$out" || fail "fence refusal: $out"
expect_rc 2 ctl "$F" host remove "$L"
grep -q "the leader cannot remove itself" <<<"$out" || fail "host remove refusal: $out"

# Fence and unfence R from F: the mailbox, the VM moves, the fence stays until unfenced.
expect_rc 0 ctl "$F" host fence "$R" --wait-s 30
[ "$(host_field "$L" "$R" fence)" = fenced ] || fail "h$R not fenced: $(dl_json "$L" hosts)"
out=$(ctl "$L" events -o json)
jq -e --argjson r "$R" --argjson u "$U" '[.events[] | select(.type == "fence-requested" and .host == $r and
       .cause == "operator" and .by_uid == $u)] | length == 1' <<<"$out" >/dev/null || fail "fence event: $out"
expect_rc 0 ctl "$F" host unfence "$R"
[ "$(host_field "$L" "$R" fence)" = none ] || fail "h$R still fenced: $(dl_json "$L" hosts)"
wait_for 15 eval "st $R | jq -e '.fenced == false and .quorate and .lease_valid' >/dev/null" ||
    fail "h$R not back: $(dl_json "$R" status)"

# Membership from a follower: add a host 4 (never started: a learner), remove it.
expect_rc 0 ctl "$F" host add 4 h4 "127.0.0.1:$(dl_port 4)"
dl_json "$L" hosts | jq -e '.hosts[] | select(.id == 4)' >/dev/null || fail "h4 not added: $(dl_json "$L" hosts)"
expect_rc 0 ctl "$F" host remove 4
wait_for 5 eval "dl_json $L hosts | jq -e '[.hosts[] | select(.id == 4 and .state != \"LEFT\")] == []' >/dev/null" ||
    fail "h4 not removed: $(dl_json "$L" hosts)"

# Hosts that are not members, holding the key, forward a fence: host 7 (never
# configured: the transport refuses it at the handshake) and host 4 (removed
# above: the transport knows its address, the arbiter refuses it). Counted;
# nothing is fenced.
UUID=$("$FL" direct dump "$DL_IMG" -o json | jq -r '.fencelock.uuid')
fw0=$(metric "$L" 'fencelock_arbiter_rejected_total{reason="forward"}')
hs0=$(metric "$L" 'fencelock_transport_rejected_total{reason="handshake"}')
for from in 7 4; do
    "$ATK" forge "$(dl_port "$L")" "$UUID" "$from" "$L" opfence key "$DL_KEY" "$F" > "$T/atk-$from.out" 2>&1 || true
    echo "request from host $from: $(cat "$T/atk-$from.out")"
done
refused() {
    [ "$(metric "$L" 'fencelock_arbiter_rejected_total{reason="forward"}')" -gt "$fw0" ] &&
        [ "$(metric "$L" 'fencelock_transport_rejected_total{reason="handshake"}')" -gt "$hs0" ]
}
wait_for 5 refused || fail "the leader did not count the non-members' requests"
sleep 1
[ "$(host_field "$L" "$F" fence)" = none ] || fail "a non-member's request fenced h$F"
echo "arbiter_rejected forward $fw0 -> $(metric "$L" \
    'fencelock_arbiter_rejected_total{reason="forward"}'), transport handshake $hs0 -> $(metric "$L" \
    'fencelock_transport_rejected_total{reason="handshake"}')"

# Leadership to F, asked on F.
expect_rc 0 ctl "$F" leader transfer --to "$F"
wait_for 10 eval "[ \"\$(dl_leader $F)\" = $F ]" || fail "h$F did not become leader: $(dl_json "$F" status)"
grep -q "operator uid $U (pid [0-9]*) on host $F asks: transfer leadership to host $F" "$T/h$L/log" ||
    fail "no notice of the transfer in h$L's log"

# No leader: the last host up says so at once.
kill -TERM "$EXEC_PID" 2>/dev/null; wait "$EXEC_PID" 2>/dev/null
dl_kill "$F" TERM; dl_kill "$R" TERM
t0=$(now_ms)
wait_for 20 eval "st $L | jq -e '.quorate == false' >/dev/null" ||
    fail "h$L still quorate: $(dl_json "$L" status | jq -c "{leader, quorate, term}")"
echo "h$L not quorate $(( $(now_ms) - t0 )) ms after the others stopped"
t0=$(now_ms)
expect_rc 1 ctl "$L" host drain "$F" --no-wait
grep -q "no leader is known" <<<"$out" || fail "no-leader refusal: $out"
[ $(( $(now_ms) - t0 )) -lt 3000 ] || fail "the no-leader refusal took $(( $(now_ms) - t0 )) ms"
exit 0
