#!/usr/bin/env bash
# Scenario 6: the leader is isolated (both directions) -> the other
# two elect a new leader; the old one keeps its VMs for P, then fences itself
# (FENCED in the new leader's view); its VMs run on the others, once. After
# the heal it rejoins as a follower and starts none of them again.
# Detection: cut -> a new leader among the others; failover: cut -> the last
# of its VMs writes on its new host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 6 "the leader is isolated" "a new leader; the old one fences after P, its VMs move once; rejoins, restarts nothing"

sc_victim_setup leader
new_leader() { local l; l=$(sc_leader $OTHERS); [ "$l" != 0 ] && [ "$l" != "$V" ]; }
t0=$(cl_now_ms)
cl_isolate "$V"
sc_watch 10 new_leader || fail "no new leader among h${OTHERS// /, h} 10 s after the leader h$V was cut off"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
NL=$(sc_leader $OTHERS)
# shellcheck disable=SC2086
sc_watch 25 sc_leader_sees "$V" FENCED $OTHERS || fail "h$V not FENCED in the new leader's view: $(sc_json "$NL" status | jq -c .hosts)"
fenced_ms=$(( $(cl_now_ms) - t0 ))
sc_watch 25 sc_victim_vms_moved || fail "VMs of h$V not running elsewhere: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "leader h$V cut off; h$NL leads after $SC_DETECT_MS ms; h$V FENCED after $fenced_ms ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "VMs moved after $SC_FAILOVER_MS ms: sooner than P"
sc_fenced "$V" || fail "h$V does not report itself fenced"
cl_heal
sc_victim_rejoined 30
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
[ "$(sc_leader $(cl_hosts))" != "$V" ] || sc_note "(h$V leads again after the heal)"
sc_end
sc_pass
