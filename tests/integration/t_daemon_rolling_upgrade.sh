#!/usr/bin/env bash
# A rolling upgrade across one cluster protocol version, on three loopback
# daemons each running a VM. Every host announces the protocol versions it
# speaks (this build: 2..3) and its fencelock version; `hosts -o json` shows
# each peer's version and the protocol spoken with it. Each host in turn is
# stopped (SIGTERM: its VM runs on under its guard) and started again as
# "the next build": FENCELOCK_TEST_PROTOCOL=3-4, a test hook that makes the
# daemon announce protocol 3..4 and version X+proto4. What it proves: the
# negotiation (an upgraded host speaks 3 with the old ones, 4 with the
# upgraded ones, and the old ones log that they accept it), the procedure
# of docs/operations.md "Upgrading one host at a time" (the cluster is
# quorate again after each step, each VM is adopted by its restarted daemon
# and never started a second time anywhere: no overlap), and the refusal of
# a host with no version in common (announcing 5..5, it is refused with a
# clear warning on both sides, is never quorate, and is taken back once
# restarted with a common version). What it does not prove: the wire of
# protocol 4 is the wire of protocol 3 here; a real next version's changes
# are its own to test.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

st() { dl_json "$1" status || true; } # its exit code is Nagios'
# proto_of I J: the protocol host I speaks with host J, as I's `hosts` shows it.
proto_of() { dl_json "$1" hosts | jq -r --argjson j "$2" '.hosts[] | select(.id == $j) | .protocol'; }
version_of() { dl_json "$1" hosts | jq -r --argjson j "$2" '.hosts[] | select(.id == $j) | .version'; }
# protos_are I P: host I speaks protocol P with both other hosts.
protos_are() { local j; for j in 1 2 3; do [ "$j" = "$1" ] && continue; [ "$(proto_of "$1" "$j")" = "$2" ] || return 1; done; }
declare -A EP
dl_setup 3
dl_start_all
dl_wait_cluster 20
for i in 1 2 3; do dl_exec "$i" "vm-$i"; EP[$i]=$EXEC_PID; done
for i in 1 2 3; do wait_for 10 dl_vm_started_on "vm-$i" "$i" || fail "vm-$i did not start on h$i"; done
V=$("$FLD" --version | head -1 | awk '{print $2}')
for i in 1 2 3; do wait_for 5 protos_are "$i" 3 || fail "h$i does not speak protocol 3 with both: $(dl_json "$i" hosts)"; done
[ "$(version_of 1 2)" = "$V" ] || fail "h1 shows h2's version as $(version_of 1 2), not $V"
dl_json 1 hosts | jq -e '.hosts[] | select(.id == 1) | .protocol_min == 3 and .protocol_max == 3' >/dev/null ||
    fail "h1's own range: $(dl_json 1 hosts)"

for i in 1 2 3; do
    t0=$(now_ms)
    dl_kill "$i" TERM
    FENCELOCK_TEST_PROTOCOL=3-4 dl_start "$i"
    wait_for 10 grep -q "VM vm-$i: adopted from the previous daemon" "$T/h$i/log" ||
        fail "upgraded h$i did not adopt vm-$i: $(tail -5 "$T/h$i/log")"
    dl_wait_cluster 20
    for j in 1 2 3; do
        [ "$j" = "$i" ] && continue
        # j upgraded already (j < i) speaks 4 with i; an old one speaks 3.
        want=3; [ "$j" -lt "$i" ] && want=4
        wait_for 5 eval "[ \"\$(proto_of $i $j)\" = $want ] && [ \"\$(proto_of $j $i)\" = $want ]" ||
            fail "step $i: h$i and h$j do not speak $want: $(proto_of "$i" "$j") / $(proto_of "$j" "$i")"
        [ "$(version_of "$j" "$i")" = "$V+proto4" ] || fail "h$j shows h$i's version as $(version_of "$j" "$i")"
    done
    echo "step $i: h$i upgraded and the cluster quorate again in $(( $(now_ms) - t0 )) ms"
done
old=$(( 1 ))   # h1 was upgraded first: the old h2 and h3 logged that they took it at 3
grep -q "host $old speaks cluster protocol 3..4 (fencelock $V+proto4): using protocol 3 with it" "$T/h2/log" ||
    fail "h2 did not log the negotiation with h1: $(grep -i protocol "$T/h2/log")"
for i in 1 2 3; do protos_are "$i" 4 || fail "h$i does not speak 4 with both: $(dl_json "$i" hosts)"; done
out=$("$FL" -s "$(dl_sock 1)" hosts)
grep -q "VERSION.*PROTO" <<<"$out" && grep -q "$V+proto4 *| 4 " <<<"$out" || fail "hosts table: $out"
out=$("$FL" -s "$(dl_sock 1)" quorum || true)
grep -q "VERSION *PROTO$" <<<"$out" && grep -q "$V+proto4 *4$" <<<"$out" || fail "quorum table: $out"
st 1 | jq -e --arg v "$V+proto4" '[.hosts[] | select(.version == $v and .protocol == 4)] | length == 3' >/dev/null ||
    fail "status -o json: $(st 1 | jq -c '.hosts')"
"$FL" -s "$(dl_sock 1)" metrics | grep -q "^fencelock_peer_protocol{host=\"2\",name=\"h2\",version=\"$V+proto4\"} 4$" ||
    fail "metrics: $("$FL" -s "$(dl_sock 1)" metrics | grep protocol)"
for i in 1 2 3; do
    dl_vm_alive_on "vm-$i" "$i" || fail "vm-$i no longer runs on h$i"
    [ "$(grep -c '^start ' "$T/vm-vm-$i.log")" -eq 1 ] || fail "vm-$i started again: $(grep '^start' "$T/vm-vm-$i.log")"
done

# No version in common: h3 announcing 5..5 is refused by both sides.
kill -TERM "${EP[3]}"; wait "${EP[3]}"
wait_for 5 eval "dl_json 1 vms | jq -e '.vms[] | select(.uid == \"vm-3\" and .state == \"STOPPED\")' >/dev/null" ||
    fail "vm-3 not stopped: $(dl_json 1 vms)"
dl_kill 3 TERM
FENCELOCK_TEST_PROTOCOL=5-5 dl_start 3
wait_for 10 grep -q "refusing host 3: it speaks cluster protocol 5..5 (fencelock $V+proto5), this host 3..4" "$T/h1/log" ||
    fail "h1 did not refuse h3: $(grep -i protocol "$T/h1/log" | tail -3)"
wait_for 10 grep -q "refusing host 1: it speaks cluster protocol 3..4" "$T/h3/log" ||
    fail "h3 did not refuse h1: $(grep -i protocol "$T/h3/log" | tail -3)"
# The log line comes first; the published status follows within a publish period.
wait_for 3 eval "dl_json 1 hosts | jq -e '.hosts[] | select(.id == 3) | .protocol_refused and .protocol == null' >/dev/null" ||
    fail "h1's hosts does not show h3 refused: $(dl_json 1 hosts)"
sleep 2
st 3 | jq -e '.quorate == false' >/dev/null || fail "the refused h3 is quorate: $(st 3)"
st 1 | jq -e '.quorate' >/dev/null || fail "h1 lost quorum: $(st 1)"
dl_kill 3 TERM
FENCELOCK_TEST_PROTOCOL=3-4 dl_start 3
dl_wait_cluster 20
wait_for 5 protos_are 3 4 || fail "h3 not taken back: $(dl_json 3 hosts)"
for i in 1 2; do dl_vm_alive_on "vm-$i" "$i" || fail "vm-$i no longer runs on h$i"; done
exit 0
