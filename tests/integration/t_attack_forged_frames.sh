#!/usr/bin/env bash
# Forged Raft frames from someone who knows the cluster uuid (it is on the
# shared device: `direct dump -o json`) but not the cluster key, against three
# live daemons: an 'A' vm-register of a VM whose spec runs /bin/sh and an 'A'
# vm-place of it (the commands that made a host run an attacker's command as
# root), a 'W' envelope speaking as the disk voter and a 'V' view forging
# liveness, each sent to the leader and to a follower as a plain frame and
# after a handshake with a wrong key (tests/tools/flraftatk speaks the real
# protocol). Every one is refused at the handshake, counted in
# fencelock_transport_rejected_total (reason handshake or auth), and changes
# nothing: no such VM, same leader and term, the cluster healthy. A member
# holding the key cannot move another host's running VM either (refused and
# counted as arbiter_rejected forward). Control: the same forged register
# against the same cluster restarted with insecure = yes is accepted and the
# VM appears, so the tool's frames are ones a host would act on.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ATK=$FL_BUILD/tools/flraftatk
[ -x "$ATK" ] || fail "$ATK not built"

# metric I NAME: the value of metric NAME (with its labels) on host I.
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }
rej() { metric "$1" "fencelock_transport_rejected_total{reason=\"$2\"}"; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
UUID=$("$FL" direct dump "$DL_IMG" -o json | jq -r '.fencelock.uuid')
[ ${#UUID} = 32 ] || fail "no uuid in the dump: $UUID"
L=$(dl_leader 1)
F=1; [ "$L" = 1 ] && F=2         # the host the attacker claims to be
O=$((6 - L - F))                 # the third host: a follower that is attacked too
term=$(dl_json 1 status | jq -r .term)
for h in "$L" "$O"; do eval "hs0_$h=$(rej "$h" handshake) au0_$h=$(rej "$h" auth)"; done

for to in "$L" "$O"; do
    for kind in register place witness view; do
        for mode in plain wrongkey; do
            expect_rc 1 "$ATK" forge "$(dl_port "$to")" "$UUID" "$F" "$to" "$kind" "$mode"
            echo "forge $kind ($mode) as host $F to host $to: $out"
        done
    done
done
# grew H REASON FROM MIN: host H's count of REASON refusals is at least MIN above FROM
# (metrics come from a snapshot the lease loop publishes: polled).
grew() { local v; v=$(rej "$1" "$2"); [ -n "$v" ] && [ $((v - $3)) -ge "$4" ]; }
for h in "$L" "$O"; do
    eval "hs0=\$hs0_$h au0=\$au0_$h"
    wait_for 5 grew "$h" handshake "$hs0" 4 || fail "h$h counted $(($(rej "$h" handshake) - hs0)) handshake refusals for 4 plain forged frames"
    wait_for 5 grew "$h" auth "$au0" 4 || fail "h$h counted $(($(rej "$h" auth) - au0)) auth refusals for 4 wrong-key handshakes"
    echo "h$h: transport_rejected handshake +$(($(rej "$h" handshake) - hs0)), auth +$(($(rej "$h" auth) - au0))"
done
grep -q "inbound connection failed the handshake" "$T/h$L/log" || fail "h$L did not log the failed handshake"
dl_json "$L" vms | jq -e '[.vms[] | select(.uid == "atk")] == []' >/dev/null || fail "the forged VM exists: $(dl_json "$L" vms)"
dl_cluster_ok || fail "the cluster is not healthy after the forged frames: $(dl_json 1 status)"
[ "$(dl_leader 1)" = "$L" ] || fail "leader changed from $L to $(dl_leader 1)"
[ "$(dl_json 1 status | jq -r .term)" = "$term" ] || fail "term changed from $term: $(dl_json 1 status)"

# A member (the key, as host F) asks the leader to move a VM running on another host onto itself.
R=$O    # neither the member nor the leader runs it
dl_exec "$R" vm-m
wait_for 10 dl_vm_started_on vm-m "$R" || fail "vm-m did not start on h$R"
fw0=$(metric "$L" 'fencelock_arbiter_rejected_total{reason="forward"}')
# (Its connection takes host F's inbound slot on the leader, so the real host F
# reconnects and pushes it out at once: the tool may see it closed; the frame got in.)
"$ATK" forge "$(dl_port "$L")" "$UUID" "$F" "$L" place key "$DL_KEY" vm-m > /dev/null
wait_for 5 eval "[ \$(metric $L 'fencelock_arbiter_rejected_total{reason=\"forward\"}') -gt $fw0 ]" ||
    fail "the leader did not count the member's move of another host's VM"
sleep 1
dl_json "$L" vms | jq -e '.vms[] | select(.uid == "vm-m" and .host == '"$R"')' >/dev/null ||
    fail "vm-m moved: $(dl_json "$L" vms)"
dl_vm_alive_on vm-m "$R" || fail "vm-m no longer runs on h$R"
echo "member as host $F: vm-place of vm-m (on h$R) onto itself refused, arbiter_rejected forward counted"
kill -TERM "$EXEC_PID"; wait "$EXEC_PID"

# Control: the same cluster without keys takes the forged register.
for i in 1 2 3; do dl_kill "$i" TERM; sed -i "s|^key_file = .*|insecure = yes|" "$T/h$i/fencelock.conf"; done
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1); F=1; [ "$L" = 1 ] && F=2
"$ATK" forge "$(dl_port "$L")" "$UUID" "$F" "$L" register plain > /dev/null   # (pushed out by host F, as above)
wait_for 5 eval "dl_json $L vms | jq -e '.vms[] | select(.uid == \"atk\")' >/dev/null" ||
    fail "control: the forged register was not taken by an insecure cluster (the tool's frames are wrong?): $(dl_json "$L" vms)"
echo "control: with insecure = yes the same forged register is accepted (VM atk registered)"
exit 0
