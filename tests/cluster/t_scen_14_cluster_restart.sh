#!/usr/bin/env bash
# Scenario 14: the whole cluster restarted, as after a power loss:
# every host crashes at once (daemons and VMs SIGKILLed), stays down 2 s,
# then every daemon starts again -> the cluster forms and every VM comes back
# exactly once (restart=always; nobody runs them twice, none is lost).
# Detection: restart -> cluster formed; failover: restart -> the last VM
# writes again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 14 "the whole cluster restarted" "every VM comes back exactly once"

sc_cluster 3
sc_vm_start vm1 1; sc_vm_start vm2 1; sc_vm_start vm3 2; sc_vm_start vm4 3
sc_hold 1
starts0=$(sc_total_starts)
for h in $(cl_hosts); do cl_host_crash "$h"; done
[ -z "$(for u in "${SC_VMS[@]}"; do sc_vm_procs "$u"; done)" ] || fail "VMs survived the crash of every host"
sleep 2
t0=$(cl_now_ms)
for h in $(cl_hosts); do cl_restart "$h" fencelockd || fail "restart fencelockd on h$h"; done
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 30 sc_formed $(cl_hosts) || fail "the cluster did not form again within 30 s: $(sc_json 1 status | jq -c '{quorate,leader,lease_valid}')"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
# Back = started once more and that new run writes (a real VM boots first).
all_back() {
    local u h
    for u in "${SC_VMS[@]}"; do
        h=$(sc_vm_hosts "$u")
        [ "$(sc_vm_starts "$u")" -ge 2 ] && [[ "$h" =~ ^[0-9]+$ ]] && sc_vm_writing_now "$u" "$h" || return 1
    done
}
sc_watch 40 all_back || fail "not every VM back 40 s after the restart: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_note "3 hosts crashed at once, restarted 2 s later: cluster formed after $SC_DETECT_MS ms, every VM running again after $SC_FAILOVER_MS ms"
sc_hold 5
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts0 * 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 * 2)) (each VM once more)"
sc_note "each VM started exactly once more; $(sc_placement)"
sc_end
sc_pass
