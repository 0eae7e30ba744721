#!/usr/bin/env bash
# Scenario 11: one host's storage frozen.
#  A. every mount of the host (lease device and VM volumes) frozen for 2 s,
#     less than F (4 s at T = 1 s) -> nothing: the same VM processes run on,
#     nothing restarts, nothing is fenced.
#  B. the host's lease device frozen for longer than F (its VM volumes still
#     writable, so its VMs keep writing until killed: the strictest case) ->
#     its renewals stall, it kills its own VMs at F, before D; the leader sees
#     it STORAGE_LOST (heartbeats, stale lease) and moves its VMs after D,
#     once. Storage back: the host renews again and starts none of them.
#  (Freezing the VM volumes too for longer than D would hold a VM's last
#  write in the frozen path and land it after the VM moved: the "I/O
#  completes or fails within io_timeout" assumption of every lease manager;
#  flstall has no bounded queue (multipath no_path_retry) to model that.)
# Detection: freeze -> leader shows STORAGE_LOST; failover: freeze -> the
# last VM writes on its new host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 11 "one host's storage frozen" "< F: nothing; > F: its VMs killed before D, moved after D, once; back: restarts nothing"

sc_cluster 3
L=$(sc_leader 1 2 3)
V=$(( L % 3 + 1 )); O=$(( V % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
sc_hold 1
others=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')

# A: every mount of V frozen for F - 2T = 2T (2 s at T = 1 s): a renewal may have
# started up to R = T before the freeze and its retry comes up to T/4 after it.
tms=$(cl_t_ms)
freeze_s=$(printf '%d.%03d' $(( 2 * tms / 1000 )) $(( 2 * tms % 1000 )))
pids0=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
starts0=$(sc_total_starts)
seen=""
note_state() { local s; s=$(sc_state "$(sc_leader $others)" "$V"); [[ " $seen " == *" $s "* ]] || seen+=" $s"; return 1; }
t0=$(cl_now_ms)
cl_storage_freeze "$V" || fail "freeze h$V"
if [ "$tms" -ge 1000 ]; then
    sc_watch "$freeze_s" note_state
else
    # One look at the leader's view takes a few hundred ms: at T < 1 s it would
    # stretch the freeze past F, so the freeze is a plain sleep.
    sleep "$freeze_s"
fi
cl_storage_unfreeze "$V" || fail "unfreeze h$V"
frozen=$(( $(cl_now_ms) - t0 ))
sc_watch 12 note_state
pids1=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
[ "$pids1" = "$pids0" ] || fail "A: VM processes changed after a $frozen ms freeze: before [$(echo $pids0)] after [$(echo $pids1)]"
[ "$(sc_total_starts)" -eq "$starts0" ] || fail "A: VMs restarted after a freeze shorter than F"
sc_fenced "$V" && fail "A: h$V fenced after a freeze shorter than F"
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_formed $(cl_hosts) || fail "A: the cluster is not whole 12 s after the freeze"
sc_note "A: h$V frozen $frozen ms (< F): leader saw h$V as${seen}; same VM processes, 0 restarts"

# B: V's lease device frozen for longer than F.
none_on_v() { ! sc_vm_procs vm1 | grep -q " $V\$" && ! sc_vm_procs vm2 | grep -q " $V\$"; }
t0=$(cl_now_ms)
cl_storage_freeze "$V" "" || fail "freeze h$V's lease device"
sc_watch 8 none_on_v || fail "B: the VMs of h$V still run 8 s into its storage freeze: $(sc_placement)"
killed_ms=$(( $(cl_now_ms) - t0 ))
# shellcheck disable=SC2086
sc_watch 20 sc_leader_sees "$V" STORAGE_LOST $others ||
    fail "B: h$V not STORAGE_LOST in the leader's view: $(sc_json "$(sc_leader $others)" status | jq -c .hosts)"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 25 eval 'sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"' || fail "B: VMs of h$V not running elsewhere: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "B: h$V's lease device frozen: its VMs gone after $killed_ms ms; leader saw STORAGE_LOST after $SC_DETECT_MS ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$killed_ms" -lt $(( 6 * tms )) ] || fail "B: VMs killed $killed_ms ms into the freeze: not before D"
[ "$SC_FAILOVER_MS" -ge $(( 5 * tms )) ] || fail "B: VMs moved $SC_FAILOVER_MS ms into the freeze: before D could pass"
sc_hold 2
cl_storage_unfreeze "$V" "" || fail "unfreeze h$V's lease device"
t1=$(cl_now_ms)
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 30 sc_formed $(cl_hosts) || fail "B: h$V not back UP 30 s after its storage came back: $(sc_json "$V" status | jq -c '{quorate,fenced,lease_valid}')"
back=$CL_WAITED_MS
sc_hold 4
[ "$(sc_vm_starts vm1 "$V")" -eq 1 ] && [ "$(sc_vm_starts vm2 "$V")" -eq 1 ] || fail "B: h$V started a moved VM again"
[ "$(sc_total_starts)" -eq $((starts0 + 2)) ] || fail "B: $(sc_total_starts) starts, expected $((starts0 + 2))"
sc_all_vms_once || fail "B: not every VM runs exactly once: $(sc_placement)"
sc_vm_on vm3 "$O" || fail "B: vm3 moved: $(sc_placement)"
sc_note "storage back: h$V UP after $back ms, started nothing; $(sc_placement)"
sc_end
sc_pass
