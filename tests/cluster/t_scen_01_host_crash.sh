#!/usr/bin/env bash
# Scenario 1: a host crashes (its daemon and VMs SIGKILLed, its
# network stack silent) -> the leader calls it DEAD once its delta lease has
# not changed for D (6 s at T = 1 s), its VMs run on the others, each exactly
# once, and a VM of another host is left alone. The crashed host restarted
# rejoins and starts nothing. Detection: crash -> leader shows DEAD;
# failover: crash -> the last of its VMs writes on its new host. `fencelock
# events` on a survivor tells the same story (the scenario's JSON: "events").
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 1 "a host crashes" "DEAD after ~D; its VMs run elsewhere, once; others untouched; restarted, it starts nothing"

sc_cluster 3
L=$(sc_leader 1 2 3)
V=$(( L % 3 + 1 )); O=$(( V % 3 + 1 ))     # victim: not the leader; O: another host
[ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
[ "$O" = "$V" ] && O=$(( O % 3 + 1 ))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
sc_hold 1
starts0=$(sc_total_starts)
survivors=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')

ev0=$(sc_events_last "$O")
t0=$(cl_now_ms)
cl_host_crash "$V"
# shellcheck disable=SC2086
sc_watch 20 sc_leader_sees "$V" DEAD $survivors || fail "h$V not DEAD 20 s after the crash: $(sc_json "$(sc_leader $survivors)" status | jq -c .hosts)"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 30 eval 'sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"' || fail "VMs of h$V not running elsewhere 30 s after the crash: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "h$V crashed; leader h$(sc_leader $survivors) saw DEAD after $SC_DETECT_MS ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$SC_FAILOVER_MS" -ge $(( 4 * $(cl_t_ms) )) ] || fail "VMs moved only $SC_FAILOVER_MS ms after the crash: before D could have passed"
sc_hold 4
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
sc_vm_on vm3 "$O" || fail "vm3 moved from h$O: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts0 + 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 + 2)) (each moved VM once)"
# The replicated history on a survivor: h$V DEAD, its VMs placed elsewhere
# from it (cause DEAD) and started there (kept in the scenario's JSON).
sc_watch 10 sc_story "$O" $((ev0 + 1)) crash "$V" vm1 vm2 || fail "fencelock events on h$O: $SC_STORY"
sc_note "$SC_STORY"

# The crashed host comes back: it rejoins, and starts nothing.
cl_restart "$V" fencelockd || fail "restart of fencelockd on h$V"
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_wait_formed 30 $(cl_hosts) || fail "h$V did not rejoin within 30 s"
rejoin=$CL_WAITED_MS
sc_hold 3
[ "$(sc_vm_starts vm1 "$V")" -eq 1 ] && [ "$(sc_vm_starts vm2 "$V")" -eq 1 ] || fail "h$V restarted a VM after it rejoined"
sc_all_vms_once || fail "not every VM runs exactly once after the rejoin: $(sc_placement)"
sc_note "h$V restarted, rejoined after $rejoin ms, started nothing; $(sc_placement)"
sc_end
sc_pass
