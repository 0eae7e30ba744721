#!/usr/bin/env bash
# Scenario 13: the daemon of a host is paused (SIGSTOP) for longer
# than D -> nobody extends its VMs' guard deadline, so each VM's guard kills
# it (by F + K) before any other host may take its leases (after D); the
# leader sees the host DEAD, its VMs run on the others, once; resumed, the
# daemon rejoins and starts none of them again. Detection: pause -> leader
# shows DEAD; failover: pause -> the last VM writes on its new host.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 13 "a daemon paused for longer than D" "guards kill its VMs (by F+K) before D; VMs move once; resumed, it starts nothing"

sc_cluster 3
L=$(sc_leader 1 2 3)
V=$(( L % 3 + 1 )); O=$(( V % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
sc_hold 1
starts0=$(sc_total_starts)
others=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')
none_on_v() { ! sc_vm_procs vm1 | grep -q " $V\$" && ! sc_vm_procs vm2 | grep -q " $V\$"; }
t0=$(cl_now_ms)
cl_pause "$V" fencelockd
sc_watch 10 none_on_v || fail "the VMs of h$V still run 10 s after its daemon was paused: $(sc_placement)"
killed_ms=$(( $(cl_now_ms) - t0 ))
# shellcheck disable=SC2086
sc_watch 20 sc_leader_sees "$V" DEAD $others || fail "h$V not DEAD 20 s after the pause: $(sc_json "$(sc_leader $others)" status | jq -c .hosts)"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 25 eval 'sc_vm_moved vm1 "$V" && sc_vm_moved vm2 "$V"' || fail "VMs of h$V not running elsewhere: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "daemon of h$V paused; its VMs killed by their guards after $killed_ms ms; leader saw DEAD after $SC_DETECT_MS ms; vm1, vm2 writing on h$(sc_vm_hosts vm1)/h$(sc_vm_hosts vm2) after $SC_FAILOVER_MS ms"
[ "$killed_ms" -le 6000 ] || fail "the guards killed the VMs only $killed_ms ms after the pause (F + K = 5 s; D = 6 s)"
[ "$killed_ms" -lt "$SC_FAILOVER_MS" ] || fail "moved before killed"
n=$(grep -l "killed by its guard" "$(cl_dir "$V" log)"/vm-vm[12].log 2>/dev/null | wc -l)
[ "$n" -eq 2 ] || fail "$n of 2 wrappers on h$V say their VM was killed by its guard"

cl_resume "$V" fencelockd
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 30 sc_formed $(cl_hosts) || fail "h$V did not rejoin within 30 s of the resume"
back=$CL_WAITED_MS
sc_hold 4
[ "$(sc_vm_starts vm1 "$V")" -eq 1 ] && [ "$(sc_vm_starts vm2 "$V")" -eq 1 ] || fail "h$V started a moved VM again after it resumed"
[ "$(sc_total_starts)" -eq $((starts0 + 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 + 2))"
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
sc_vm_on vm3 "$O" || fail "vm3 moved: $(sc_placement)"
sc_note "resumed: h$V rejoined after $back ms, started nothing; $(sc_placement)"
sc_end
sc_pass
