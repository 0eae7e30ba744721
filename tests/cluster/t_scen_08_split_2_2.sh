#!/usr/bin/env bash
# Scenario 8: four hosts split 2-2 -> the side whose host holds the
# witness lease (the disk voter: 3 of 5 votes) keeps its VMs and recovers the
# others' after P; the two hosts of the other side fence themselves (FENCED
# in the leader's view). Healed: they rejoin, nothing runs twice, nothing
# that moved restarts. Detection: split -> the leader sees both hosts of the
# other side not UP; failover: split -> the last of their VMs writes on the
# witness side.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 8 "2-2 split of four hosts" "the disk voter's side keeps and recovers everything, the other side fences after P"

sc_cluster 4
cl_wait_until 10 eval '[ "$(sc_witness)" != 0 ]' || fail "nobody holds the witness lease"
W=$(sc_witness); P=$(( W % 4 + 1 ))
lose=$(for h in 1 2 3 4; do [ "$h" != "$W" ] && [ "$h" != "$P" ] && echo "$h"; done | tr '\n' ' ')
read -r A B <<<"$lose"
sc_vm_start vm1 "$A"; sc_vm_start vm2 "$B"; sc_vm_start vm3 "$W"; sc_vm_start vm4 "$P"
sc_hold 1
pids_keep=$(sc_vm_procs vm3; sc_vm_procs vm4)
starts0=$(sc_total_starts)
off() { local l s; l=$(sc_leader "$W" "$P"); [ "$l" != 0 ] || return 1; s=$(sc_json "$l" status) || return 1
    for h in $A $B; do [ "$(jq -r --argjson h "$h" '.hosts[] | select(.id == $h) | .state' <<<"$s")" != UP ] || return 1; done; }
fenced_both() { sc_leader_sees "$A" FENCED "$W" "$P" && sc_leader_sees "$B" FENCED "$W" "$P"; }
t0=$(cl_now_ms)
cl_split "$W $P" "$A $B"
sc_watch 10 off || fail "the witness side (h$W, h$P) has no leader seeing h$A, h$B down 10 s after the split: $(sc_json "$W" status | jq -c "{quorate,leader,hosts:[.hosts[].state]}") $(sc_json "$P" status | jq -c "{quorate,leader,hosts:[.hosts[].state]}")"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 25 fenced_both || fail "h$A, h$B not both FENCED in the leader's view: $(sc_json "$(sc_leader "$W" "$P")" status | jq -c .hosts)"
fenced_ms=$(( $(cl_now_ms) - t0 ))
moved() { local h; for u in vm1 vm2; do h=$(sc_vm_hosts $u); [ "$h" = "$W" ] || [ "$h" = "$P" ] || return 1; sc_vm_writing $u "$h" || return 1; done; }
sc_watch 25 moved || fail "vm1, vm2 not running on the witness side: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "VMs moved after $SC_FAILOVER_MS ms: sooner than P"
[ "$(sc_vm_procs vm3; sc_vm_procs vm4)" = "$pids_keep" ] || fail "a VM of the witness side stopped or moved: $(sc_placement)"
sc_fenced "$A" && sc_fenced "$B" || fail "h$A or h$B does not report itself fenced"
sc_note "split {h$W (witness), h$P} | {h$A, h$B}: leader h$(sc_leader "$W" "$P") saw h$A, h$B down after $SC_DETECT_MS ms, FENCED after $fenced_ms ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms; vm3, vm4 untouched"
cl_heal
sc_watch 30 sc_formed 1 2 3 4 || fail "the cluster is not whole 30 s after the heal"
back=$CL_WAITED_MS
sc_watch 10 eval '! sc_fenced "$A" && ! sc_fenced "$B"' || fail "h$A or h$B still fenced after the heal"
sc_hold 4
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts0 + 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 + 2))"
sc_note "healed: whole after $back ms, nothing restarted; $(sc_placement)"
sc_end
sc_pass
