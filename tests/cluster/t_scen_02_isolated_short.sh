#!/usr/bin/env bash
# Scenario 2: a host is isolated from the network (both directions)
# for less than P (3 s, P = 5 s) -> the leader sees it PARTITIONED, nothing
# moves, nothing restarts: every fake VM is still the very same process after
# the heal and long after (P + D past the cut), and the host is UP again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 2 "a host isolated for less than P" "PARTITIONED, then UP; nothing moves, nothing restarts"

sc_cluster 3
L=$(sc_leader 1 2 3)
V=$(( L % 3 + 1 )); O=$(( V % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
sc_vm_start vm1 "$V"; sc_vm_start vm2 "$V"; sc_vm_start vm3 "$O"
sc_hold 1
pids0=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
starts0=$(sc_total_starts)
others=$(for h in $(cl_hosts); do [ "$h" != "$V" ] && echo "$h"; done | tr '\n' ' ')

t0=$(cl_now_ms)
cl_isolate "$V"
# shellcheck disable=SC2086
sc_watch 2.8 sc_leader_sees "$V" PARTITIONED $others || fail "leader did not see h$V PARTITIONED within 2.8 s: $(sc_json "$L" status | jq -c .hosts)"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_hold_until $((t0 + 3000))
cl_heal
healed=$(( $(cl_now_ms) - t0 ))
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 15 sc_formed $(cl_hosts) || fail "h$V not back UP 15 s after the heal"
back=$CL_WAITED_MS
sc_note "h$V isolated $healed ms; leader saw PARTITIONED after $SC_DETECT_MS ms; UP again $back ms after the heal"
sc_fenced "$V" && fail "h$V fenced itself after an outage shorter than P"
# Well past P + D from the cut: nothing may have moved or restarted.
sc_hold_until $((t0 + 15000))
pids1=$(for u in vm1 vm2 vm3; do sc_vm_procs $u; done)
[ "$pids1" = "$pids0" ] || fail "VM processes changed: before [$(echo $pids0)] after [$(echo $pids1)]"
[ "$(sc_total_starts)" -eq "$starts0" ] || fail "$(( $(sc_total_starts) - starts0 )) VM restarts after a short outage"
sc_note "same VM processes 15 s after the cut, 0 restarts; $(sc_placement)"
sc_end
sc_pass
