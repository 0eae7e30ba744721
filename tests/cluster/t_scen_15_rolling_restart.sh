#!/usr/bin/env bash
# Scenario 15: a rolling restart of every daemon, one at a time
# (SIGTERM, start again, wait until the cluster is whole) -> no VM stops: a
# restarted daemon adopts its VMs' guard files and extends them before their
# deadline; every fake VM is the very same process from start to end, and
# nothing restarts. Hand-over: the longest a host took from its daemon's
# SIGTERM until the cluster was whole again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 15 "a rolling restart of every daemon" "no VM stops or restarts"

sc_cluster 3
sc_vm_start vm1 1; sc_vm_start vm2 2; sc_vm_start vm3 3; sc_vm_start vm4 1
sc_hold 1
pids0=$(for u in "${SC_VMS[@]}"; do sc_vm_procs "$u"; done)
worst=0 restarts=""
for h in $(cl_hosts); do
    t0=$(cl_now_ms)
    cl_restart "$h" fencelockd || fail "restart fencelockd on h$h"
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    sc_watch 30 sc_formed $(cl_hosts) || fail "the cluster is not whole 30 s after the restart of h$h"
    took=$(( $(cl_now_ms) - t0 ))
    [ "$took" -gt "$worst" ] && worst=$took
    restarts+=" h$h:${took}ms"
    sc_hold 3
    pids1=$(for u in "${SC_VMS[@]}"; do sc_vm_procs "$u"; done)
    [ "$pids1" = "$pids0" ] || fail "VM processes changed after the restart of h$h: before [$(echo $pids0)] after [$(echo $pids1)]"
done
SC_FAILOVER_MS=$worst
[ "$(sc_total_starts)" -eq 4 ] || fail "$(( $(sc_total_starts) - 4 )) VM restarts"
sc_note "daemons restarted one by one (restart to whole cluster:$restarts); same 4 VM processes throughout, 0 restarts"
sc_end
sc_pass
