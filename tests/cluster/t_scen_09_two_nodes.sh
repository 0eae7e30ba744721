#!/usr/bin/env bash
# Scenario 9: a two-node cluster, whose third vote is the disk voter
# (served by the host holding the witness lease on the shared device).
#  A. split (the link cut both ways) -> the witness holder W keeps a majority
#     (2 of 3 votes) and its VMs; the other host O fences itself after P and
#     its VM runs on W, once. Healed: O rejoins and restarts nothing.
#  B. then W, the witness holder, crashes -> after D the survivor O takes the
#     witness lease, has a majority again, and runs every VM, once.
# Times are A's: split -> W's leader sees O not UP; split -> O's VM writes on W.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 9 "two-node cluster: split, then the witness holder crashes" "split: the witness side keeps all, the other fences after P; witness holder crash: the survivor takes over after D"

sc_cluster 2
cl_wait_until 10 eval '[ "$(sc_witness)" != 0 ]' || fail "nobody holds the witness lease"
W=$(sc_witness); O=$((3 - W))
sc_vm_start vm1 "$W"; sc_vm_start vm2 "$O"
sc_hold 1
# A: split.
t0=$(cl_now_ms)
cl_cut 1 2
sc_watch 10 eval '[ "$(sc_state "$W" "$O")" != UP ] && sc_quorate "$W"' || fail "A: h$W (witness) does not see h$O down, or lost quorum: $(sc_json "$W" status | jq -c '{quorate,leader,hosts}')"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 25 sc_vm_moved vm2 "$O" || fail "A: vm2 not moved from h$O to h$W: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_fenced "$O" || fail "A: h$O, on the side without the disk voter, is not fenced"
sc_vm_on vm1 "$W" || fail "A: vm1 left the witness side: $(sc_placement)"
[ "$SC_FAILOVER_MS" -ge 5000 ] || fail "A: vm2 moved after $SC_FAILOVER_MS ms: sooner than P"
sc_note "A: split; witness holder h$W quorate, saw h$O down after $SC_DETECT_MS ms; h$O fenced, vm2 writing on h$W after $SC_FAILOVER_MS ms"
cl_heal
sc_watch 30 sc_formed 1 2 || fail "A: h$O did not rejoin within 30 s of the heal"
back=$CL_WAITED_MS
sc_watch 10 eval '! sc_fenced "$O"' || fail "A: h$O still fenced after it rejoined"
sc_hold 3
[ "$(sc_vm_starts vm2 "$O")" -eq 1 ] || fail "A: h$O restarted vm2 after the heal"
sc_all_vms_once || fail "A: not every VM runs once: $(sc_placement)"
sc_note "healed: h$O rejoined after $back ms, restarted nothing; $(sc_placement)"
# B: the witness holder crashes.
starts=$(sc_total_starts)
t1=$(cl_now_ms)
cl_host_crash "$W"
sc_watch 30 eval 'sc_vm_moved vm1 "$W" && sc_vm_moved vm2 "$W"' || fail "B: the VMs of h$W not running on h$O 30 s after its crash: $(sc_placement); $(sc_json "$O" status | jq -c '{quorate,leader,hosts}')"
took=$(( $(cl_now_ms) - t1 ))
w2=$(sc_witness)
sc_note "B: witness holder h$W crashed: h$O took the witness lease (now h$w2) and runs vm1, vm2 after $took ms"
[ "$w2" = "$O" ] || fail "B: the witness lease is held by '$w2', not the survivor h$O"
[ "$took" -ge 4000 ] || fail "B: the survivor took over after $took ms: before D could pass"
sc_hold 3
sc_all_vms_once || fail "B: not every VM runs once: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts + 2)) ] || fail "B: $(sc_total_starts) starts, expected $((starts + 2))"
sc_end
sc_pass
