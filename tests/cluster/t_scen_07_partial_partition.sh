#!/usr/bin/env bash
# Scenario 7: partial partition: the link between the leader and
# a follower that runs VMs is cut (both directions) for 20 s (4 P, longer
# than P + D), while both still reach the third host -> nothing moves,
# nothing restarts, nobody is fenced: every VM is the very same process
# before, during and after (the cluster may change leader to route around
# the cut). After the heal everyone is UP.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 7 "partial partition (one link cut 20 s)" "nothing moves, nothing restarts, nobody fenced"

sc_victim_setup follower
L0=$(sc_leader 1 2 3)
pids0=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
leaders=" $L0"
fenced=""
watch_cut() {
    local l h
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    l=$(sc_leader $(cl_hosts))
    [ "$l" != 0 ] && [[ "$leaders" != *" $l" ]] && leaders+=" $l"
    for h in $(cl_hosts); do sc_fenced "$h" && [[ " $fenced " != *" $h "* ]] && fenced+=" $h"; done
    return 1
}
t0=$(cl_now_ms)
cl_cut "$L0" "$V"
sc_watch 20 watch_cut
cl_heal
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 20 sc_formed $(cl_hosts) || fail "the cluster is not whole 20 s after the heal"
back=$CL_WAITED_MS
sc_hold 3
pids1=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
sc_note "h$L0-h$V cut 20 s: leaders seen:${leaders}; fenced:${fenced:- none}; whole again $back ms after the heal"
[ -z "$fenced" ] || fail "hosts fenced during a partial partition:$fenced"
[ "$pids1" = "$pids0" ] || fail "VM processes changed: before [$(echo $pids0)] after [$(echo $pids1)]"
[ "$(sc_total_starts)" -eq "$SC_STARTS0" ] || fail "$(( $(sc_total_starts) - SC_STARTS0 )) VM restarts"
sc_note "same VM processes, 0 restarts; $(sc_placement)"
sc_end
sc_pass
