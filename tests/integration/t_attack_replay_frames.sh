#!/usr/bin/env bash
# Replayed and reordered Raft frames: a man in the middle on the connections
# of hosts 2 and 3 to host 1 (their [peers] entry for host 1 names the
# attacker's port, and h1 starts last so that the cluster's address of host 1
# is that one; tests/tools/flraftatk relays to h1) captures their sealed
# traffic and (1) sends a captured frame a second time, (2) swaps two frames,
# (3) replays a host's whole captured session (HELLO, FINISH, frames) on a
# connection of its own. h1 drops the connection each time, counts the
# refusals (fencelock_transport_rejected_total reason frame for 1 and 2, auth
# for 3), and the cluster does not notice: the hosts reconnect through the
# relay, every host stays UP and quorate, and nobody fences itself.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ATK=$FL_BUILD/tools/flraftatk
[ -x "$ATK" ] || fail "$ATK not built"
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }
rej() { metric "$1" "fencelock_transport_rejected_total{reason=\"$2\"}"; }

dl_setup 3
PROXY=$(dl_port 10)
sed -i "s|^1 = 127.0.0.1:.*|1 = 127.0.0.1:$PROXY|" "$T/h2/fencelock.conf" "$T/h3/fencelock.conf"
"$ATK" proxy "$PROXY" "$(dl_port 1)" 40 > "$T/proxy.out" 2>&1 &
APID=$!
on_exit "kill $APID 2>/dev/null"
wait_for 5 grep -q listening "$T/proxy.out" || fail "proxy did not start: $(cat "$T/proxy.out")"
dl_start 2; dl_start 3
wait_for 20 eval '[ "$(dl_leader 2)" -gt 1 ] 2>/dev/null' || fail "h2 and h3 elected no leader"
dl_start 1
wait_for 30 grep -q "^session replay" "$T/proxy.out" || fail "the attacks did not run: $(cat "$T/proxy.out")"
cat "$T/proxy.out"
for a in "^replay: " "^reorder: " "^session replay"; do
    grep "$a" "$T/proxy.out" | grep -q "target closed the connection" || fail "h1 took the attack '$a': $(cat "$T/proxy.out")"
done
grew() { local v; v=$(rej 1 "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
wait_for 5 grew frame 2 || fail "h1 counted $(rej 1 frame) frame refusals for a replay and a reorder"
wait_for 5 grew auth 1 || fail "h1 counted $(rej 1 auth) auth refusals for a replayed session"
grep -q "failed authentication (forged, altered, replayed or out of order)" "$T/h1/log" || fail "h1 did not log the refusal"
echo "h1: transport_rejected frame $(rej 1 frame), auth $(rej 1 auth)"

# Harmless: h3 reconnected through the relay and the cluster is whole.
dl_wait_cluster 20
before=$(metric 1 fencelock_transport_handshakes_total)
for i in 1 2 3; do
    [ "$(metric "$i" fencelock_fences_total)" = 0 ] || fail "h$i fenced itself: $(metric "$i" fencelock_fences_total)"
done
sleep 1
[ "$(metric 1 fencelock_transport_handshakes_total)" = "$before" ] || fail "connections through the relay keep failing"
grep -q "fencing host" "$T"/h*/log && fail "a host was fenced: $(grep -h "fencing host" "$T"/h*/log)"
exit 0
