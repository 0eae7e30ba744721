#!/usr/bin/env bash
# Scenario 3: a host is isolated from the network (both directions)
# for longer than P -> it keeps its VMs for P, then fences itself (FENCED in
# its own status and in the leader's view, through its mailbox on the shared
# disk), its VMs run on the others, once each; after the heal it rejoins (UP,
# no longer fenced) and starts none of them again. `fencelock events` on a
# survivor tells the same story (kept in the scenario's JSON as "events").
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 3 "a host isolated for longer than P" "keeps VMs for P, fences itself (FENCED seen by others), VMs move once; rejoins, restarts nothing"

sc_cluster 3
L=$(sc_leader 1 2 3)
V=$(( L % 3 + 1 )); O=$(( V % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
sc_hold 1
starts0=$(sc_total_starts)
others=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')

ev0=$(sc_events_last "$O")
t0=$(cl_now_ms)
cl_isolate "$V"
# shellcheck disable=SC2086
sc_watch 5 sc_leader_sees "$V" PARTITIONED $others || fail "leader did not see h$V PARTITIONED within 5 s"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
# shellcheck disable=SC2086
sc_watch 25 sc_leader_sees "$V" FENCED $others || fail "h$V not FENCED in the leader's view 25 s into its isolation: $(sc_json "$(sc_leader $others)" status | jq -c .hosts)"
fenced_ms=$(( $(cl_now_ms) - t0 ))
sc_watch 25 eval 'sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"' || fail "VMs of h$V not running elsewhere: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_fenced "$V" || fail "h$V does not report itself fenced"
sc_note "leader saw h$V PARTITIONED after $SC_DETECT_MS ms, FENCED after $fenced_ms ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "VMs moved after $SC_FAILOVER_MS ms: sooner than P"
sc_vm_on vm3 "$O" || fail "vm3 moved: $(sc_placement)"

cl_heal
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 30 sc_formed $(cl_hosts) || fail "h$V did not rejoin within 30 s of the heal: $(sc_json "$V" status | jq -c '{quorate,fenced,leader}')"
back=$CL_WAITED_MS
sc_watch 10 eval '! sc_fenced "$V"' || fail "h$V still fenced 10 s after it rejoined"
sc_hold 4
[ "$(sc_vm_starts vm1 "$V")" -eq 1 ] && [ "$(sc_vm_starts vm2 "$V")" -eq 1 ] || fail "h$V started a moved VM again after the heal"
[ "$(sc_total_starts)" -eq $((starts0 + 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 + 2))"
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
sc_note "healed: h$V rejoined after $back ms, unfenced, started nothing; $(sc_placement)"
# The same story in the replicated history, read on a survivor: h$V
# PARTITIONED, its fence requested and acknowledged, its VMs placed elsewhere
# and started, then h$V UP again and its fence cleared; in index order, each
# with time, leader and the host that asked (kept in the scenario's JSON).
sc_watch 10 sc_story "$O" $((ev0 + 1)) partition "$V" vm1 vm2 || fail "fencelock events on h$O: $SC_STORY"
sc_note "$SC_STORY"
sc_end
sc_pass
