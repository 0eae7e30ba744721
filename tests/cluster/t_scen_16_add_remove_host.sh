#!/usr/bin/env bash
# Scenario 16: a host added and another removed while VMs run.
# Three hosts run VMs; a fourth is added (`fencelock host add` on the leader,
# its daemon started with -j: it joins as a learner and is promoted; four
# host voters bring the disk voter in). Then a host R is
# removed: its VM is handed over to the new host (stopped on R, started on
# h4), `fencelock host remove R` on the leader, R's daemon stopped. No VM
# but the handed-over one ever stops, each runs once, R ends LEFT (or gone)
# and the cluster of the other three is whole. Detection: add -> h4 UP and a
# voter; hand-over: stop on R -> the VM writes on h4.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 16 "a host added and another removed while VMs run" "h4 joins as a voter (disk voter joins too); R's VM handed over, R removed; no other VM stops"

cl_up 4 || fail "cl_up 4"
truncate -s 64M "$CL_RUN/shared.img"
"$FL" direct format --device "$CL_RUN/shared.img" --cluster "flcl-$CL_ID" --io-timeout 1 --max-hosts 8 --volume-slots 16 \
    >"$CL_RUN/format.out" 2>&1 || fail "format: $(cat "$CL_RUN/format.out")"
for h in 1 2 3 4; do cl_storage_up "$h" "$CL_RUN/shared.img"; rc=$?; [ $rc -eq 77 ] && skip "no FUSE"; [ $rc -eq 0 ] || fail "storage $h"; done
# Hosts 1-3 know only each other (cl_write_config lists every host of the run: CL_N=3 while writing).
for h in 1 2 3; do
    cfg=$(CL_N=3 cl_write_config "$h" "host.recover_command=$SC_VM_SCRIPT")
    cl_spawn "$h" fencelockd "$SC_FLD" -c "$cfg" -f || fail "spawn fencelockd on h$h"
done
sc_wait_formed 30 1 2 3 || fail "the cluster of 3 did not form"
sc_vm_start vm1 1; sc_vm_start vm2 2; sc_vm_start vm3 3
sc_hold 1
L=$(sc_leader 1 2 3)
R=$(( L % 3 + 1 ))     # removed later: not the leader
[ "$(sc_witness)" = 0 ] || fail "three host voters, yet the witness lease is held by h$(sc_witness)"
pids_keep=$(for u in vm1 vm2 vm3; do [ "$(sc_vm_hosts $u)" != "$R" ] && sc_vm_procs $u; done)
vmR=$(for u in vm1 vm2 vm3; do [ "$(sc_vm_hosts $u)" = "$R" ] && echo $u; done)

# Add host 4: `host add` on the leader, then its daemon with -j (join: its
# [peers] only gives addresses, it founds nothing).
cfg=$(cl_write_config 4 "host.recover_command=$SC_VM_SCRIPT")
t0=$(cl_now_ms)
out=$("$FL" -s "$(sc_sock "$L")" host add 4 h4 "$(cl_addr 4):${CL_PORT:-7401}" 2>&1) || fail "host add 4 on leader h$L: $out"
cl_spawn 4 fencelockd "$SC_FLD" -c "$cfg" -f -j || fail "spawn fencelockd on h4"
# h4 a voter (the status' voter flag, from the Raft configuration) and the
# disk voter joined (four host voters: the witness lease gets a holder).
voter4() { [ "$(sc_witness)" != 0 ] && [ "$(sc_json 4 status | jq -r .lease_valid)" = true ] &&
    [ "$(sc_json "$(sc_leader 1 2 3 4)" status | jq -r '.hosts[] | select(.id == 4) | .voter')" = true ]; }
sc_watch 30 eval 'sc_formed 1 2 3 4 && voter4' || fail "h4 did not join as a voter within 30 s: $(sc_json "$L" status | jq -c .hosts) / h4: $(sc_json 4 status | jq -c '{quorate,leader}'); witness holder '$(sc_witness)'"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_note "h4 added and joined (-j): UP, quorate, a voter, its delta lease valid, the disk voter joined (served by h$(sc_witness)) after $SC_DETECT_MS ms"

# Hand R's VM over to h4, then remove R.
t1=$(cl_now_ms)
cl_stop "$R" "vm-$vmR" 10 || fail "stop $vmR on h$R"
cl_wait_until 10 eval '[ -z "$(sc_vm_procs $vmR)" ]' || fail "$vmR still runs on h$R"
# As an operator would: start it on h4 once h4 sees it stopped (unplaced).
unplaced() { [ "$(sc_json 4 vms | jq -r --arg u "$vmR" '.vms[] | select(.uid == $u) | .host')" = null ]; }
cl_wait_until 10 unplaced || fail "$vmR still placed after it stopped: $(sc_json 4 vms | jq -c .vms)"
cl_spawn 4 "vm-$vmR" env "FENCELOCK_SOCKET=$(sc_sock 4)" "$SC_VM_SCRIPT" "$vmR" || fail "spawn $vmR on h4"
sc_watch 20 sc_vm_writing "$vmR" 4 || fail "$vmR not running on h4: $(tail -5 "$(cl_dir 4 log)/vm-$vmR.log")"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t1 ))
L=$(sc_leader 1 2 3 4)
out=$("$FL" -s "$(sc_sock "$L")" host remove "$R" 2>&1) || fail "host remove $R on leader h$L: $out"
rest=$(for h in 1 2 3 4; do [ "$h" != "$R" ] && echo "$h"; done | tr '\n' ' ')
rest=${rest% }
gone() { local s; s=$(sc_json "$(sc_leader $rest)" status) || return 1
    [ "$(jq -r --argjson r "$R" '[.hosts[] | select(.id == $r and .state != "LEFT")] | length' <<<"$s")" = 0 ]; }
sc_watch 20 gone || fail "h$R still a member after its removal: $(sc_json "$L" status | jq -c .hosts)"
cl_stop "$R" fencelockd 10 || fail "stop fencelockd on h$R"
# shellcheck disable=SC2086
sc_watch 20 sc_formed $rest || fail "the cluster of h${rest// /, h} is not whole after the removal"
sc_hold 4
w=$(sc_witness)
pids1=$(for u in vm1 vm2 vm3; do [ "$u" != "$vmR" ] && sc_vm_procs $u; done)
[ "$pids1" = "$pids_keep" ] || fail "a VM other than $vmR stopped or moved: before [$(echo $pids_keep)] after [$(echo $pids1)]"
sc_all_vms_once || fail "not every VM runs once: $(sc_placement)"
[ "$(sc_total_starts)" -eq 4 ] || fail "$(sc_total_starts) starts, expected 4 (3 + the hand-over)"
sc_note "$vmR handed over from h$R to h4 in $SC_FAILOVER_MS ms; h$R removed and stopped; h${rest// /, h} whole; other VMs untouched; witness lease now held by '$w'; $(sc_placement)"
sc_end
sc_pass
