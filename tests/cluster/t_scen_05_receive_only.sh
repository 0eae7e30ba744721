#!/usr/bin/env bash
# Scenario 5 (issue 7): a host that can receive but not send (cl_isolate_out: cannot send: it receives everything, nothing it sends arrives),
# for longer than P -> never two writers: the host is fenced (by itself on
# losing quorum, or by the leader's poison pill in its mailbox) and FENCED in
# the leader's view, its VMs run on the others, once; the rest of the cluster
# keeps its leader. After the heal it rejoins and starts none of them again.
# Detection: fault -> the leader shows the host not UP; failover: fault ->
# the last of its VMs writes on its new host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 5 "a host that can receive but not send" "fenced after P (FENCED seen by the leader), its VMs move once, no second writer; rejoins, restarts nothing"

sc_victim_setup follower
L0=$(sc_leader 1 2 3)
not_up() { local s; s=$(sc_state "$(sc_leader $OTHERS)" "$V"); [ -n "$s" ] && [ "$s" != UP ]; }
t0=$(cl_now_ms)
cl_isolate_out "$V"
sc_watch 10 not_up || fail "the leader still sees h$V UP 10 s into the fault"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
seen=$(sc_state "$(sc_leader $OTHERS)" "$V")
# shellcheck disable=SC2086
sc_watch 25 sc_leader_sees "$V" FENCED $OTHERS || fail "h$V not FENCED in the leader's view: $(sc_json "$(sc_leader $OTHERS)" status | jq -c .hosts)"
fenced_ms=$(( $(cl_now_ms) - t0 ))
sc_watch 25 sc_victim_vms_moved || fail "VMs of h$V not running elsewhere: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
L1=$(sc_leader $OTHERS)
sc_note "leader saw h$V $seen after $SC_DETECT_MS ms, FENCED after $fenced_ms ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms; leader h$L0 -> h$L1"
[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "VMs moved after $SC_FAILOVER_MS ms: sooner than P"
cl_heal
sc_victim_rejoined 30
sc_end
sc_pass
