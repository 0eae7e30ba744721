#!/usr/bin/env bash
# Slot exhaustion: an attacker who knows nothing but the cluster uuid holds
# 200 connections to each of hosts 1 and 2 from the peers' own address
# (loopback), reopening each one they close: a third announce a 17 MiB plain
# frame and then go silent, a third send half a HELLO, a third nothing
# (tests/tools/flraftatk hold). Meanwhile host 3, which runs a VM, is
# restarted. It must get back in (its own connections take the slot its id
# owns, never one of the attacker's): the cluster is whole again within
# seconds under the attack, the VM runs on on h3 and was never started again
# nor moved, nobody is fenced, the refusals are counted
# (fencelock_transport_rejected_total), and the attacked daemons' resident
# memory grows by less than 8 MiB (the 17 MiB frames are never allocated).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ATK=$FL_BUILD/tools/flraftatk
[ -x "$ATK" ] || fail "$ATK not built"
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }
rej() { metric "$1" "fencelock_transport_rejected_total{reason=\"$2\"}"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${DPID[$1]}/status"; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
UUID=$("$FL" direct dump "$DL_IMG" -o json | jq -r '.fencelock.uuid')
dl_exec 3 vm-s
wait_for 10 dl_vm_started_on vm-s 3 || fail "vm-s did not start on h3"
rss1=$(rss_kb 1); rss2=$(rss_kb 2)

for h in 1 2; do
    "$ATK" hold "$(dl_port "$h")" "${ATK_CONNS:-200}" 14 "$UUID" > "$T/hold-$h.out" 2>&1 &
    eval "H$h=\$!"
done
on_exit "kill $H1 $H2 2>/dev/null"
sleep 2   # the attack is in place: every unauthenticated slot is taken, over and over

kill -TERM "${DPID[3]}"; wait "${DPID[3]}"; DPID[3]=
grep -q "VMs run here: the delta lease is left" "$T/h3/log" || fail "h3 did not stop as a host with a VM"
t0=$(now_ms)
dl_start 3
wait_for 10 grep -q "VM vm-s: adopted from the previous daemon" "$T/h3/log" || fail "h3 did not adopt vm-s"
wait_for 10 dl_cluster_ok || fail "h3 did not get back in under the attack: $(dl_json 1 status)"
echo "h3 restarted and the cluster was whole again $(( $(now_ms) - t0 )) ms later, under the attack"
kill -0 "$H1" && kill -0 "$H2" || fail "the attack ended early: $(cat "$T"/hold-*.out)"
sleep 3   # more of the attack with h3 back
dl_cluster_ok || fail "the cluster fell apart under the attack: $(dl_json 1 status)"
for h in 1 2; do
    r=$(rss_kb "$h"); eval "r0=\$rss$h"
    [ $((r - r0)) -lt 8192 ] || fail "h$h resident memory grew from $r0 kB to $r kB under the attack"
    echo "h$h: RSS $r0 kB before, $r kB under the attack; refused: handshake $(rej "$h" handshake)," \
        "timeout $(rej "$h" timeout), evicted $(rej "$h" evicted)"
    [ $(( $(rej "$h" handshake) + $(rej "$h" evicted) + $(rej "$h" timeout) )) -gt 100 ] ||
        fail "h$h counted few refusals: the attack did not take place?"
done
wait "$H1" "$H2"
cat "$T"/hold-*.out
dl_vm_alive_on vm-s 3 || fail "vm-s does not run on h3 any more"
[ "$(grep -c '^start ' "$T/vm-vm-s.log")" = 1 ] || fail "vm-s was started again: $(grep start "$T/vm-vm-s.log")"
dl_json 1 vms | jq -e '.vms[] | select(.uid == "vm-s" and .host == 3 and .state == "RUNNING")' >/dev/null ||
    fail "the cluster does not see vm-s RUNNING on h3: $(dl_json 1 vms)"
grep -q "fencing host" "$T"/h*/log && fail "a host was fenced: $(grep -h "fencing host" "$T"/h*/log)"
for i in 1 2 3; do [ "$(metric "$i" fencelock_fences_total)" = 0 ] || fail "h$i fenced itself"; done
exit 0
