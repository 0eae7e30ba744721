#!/usr/bin/env bash
# Scenario 10: a flapping host.
#  A. host V's links flap: 6 times cut (to every other host) for 2.5 s, then
#     up for 2.5 s -> outages shorter than P: no failover, no restart, no
#     fence; every VM is the very same process throughout.
#  B. then 3 outages longer than P (isolated until it is FENCED and its VMs
#     moved, healed until it rejoins) -> V is quarantined: when another host
#     that runs VMs crashes, its VMs go to the third host, none to V (which
#     runs nothing, so without the quarantine it would be the natural choice).
# The daemon does not show the quarantine in `status` (hosts[] has no such
# field): placement is how it is seen here. Times are B's last crash: DEAD
# seen by the leader, and its VMs writing elsewhere.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 10 "a flapping host" "outages < P: no failover; outages > P repeated: quarantined (gets no VMs)"

sc_victim_setup follower
X=$O; Y=$(for h in $OTHERS; do [ "$h" != "$X" ] && echo "$h"; done)
sc_vm_start vm4 "$Y"
pids0=$(for u in "${SC_VMS[@]}"; do sc_vm_procs "$u"; done)
starts0=$(sc_total_starts)
# A: 6 outages of 2.5 s.
fenced=""
watch_fence() { sc_fenced "$V" && fenced=yes; return 1; }
for x in $OTHERS; do cl_flap "$V" "$x" 2500 2500 6 || fail "cl_flap"; done
sc_watch 31 watch_fence
cl_flap_wait
cl_heal
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 20 sc_formed $(cl_hosts) || fail "A: the cluster is not whole after the flapping"
sc_hold 8
pids1=$(for u in "${SC_VMS[@]}"; do sc_vm_procs "$u"; done)
[ -z "$fenced" ] || fail "A: h$V fenced by outages shorter than P"
[ "$pids1" = "$pids0" ] || fail "A: VM processes changed: before [$(echo $pids0)] after [$(echo $pids1)]"
[ "$(sc_total_starts)" -eq "$starts0" ] || fail "A: $(( $(sc_total_starts) - starts0 )) VM restarts"
sc_note "A: h$V flapped 6 x 2.5 s down / 2.5 s up: never fenced, same VM processes, 0 restarts"

# B: three outages longer than P.
for round in 1 2 3; do
    t0=$(cl_now_ms)
    cl_isolate "$V"
    # shellcheck disable=SC2086
    sc_watch 25 sc_leader_sees "$V" FENCED $OTHERS || fail "B$round: h$V not FENCED 25 s into its isolation"
    sc_watch 25 sc_victim_vms_moved || fail "B$round: VMs not moved off h$V: $(sc_placement)"
    cl_heal
    # shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
    sc_watch 30 sc_formed $(cl_hosts) || fail "B$round: h$V did not rejoin"
    sc_watch 10 eval '! sc_fenced "$V"' || fail "B$round: h$V still fenced after rejoining"
    echo "round $round: isolated until fenced, healed, rejoined: $(( $(cl_now_ms) - t0 )) ms"
done
sc_hold 2
onv() { local u n=0; for u in "${SC_VMS[@]}"; do sc_vm_procs "$u" | grep -q " $V\$" && n=$((n + 1)); done; echo "$n"; }
[ "$(onv)" -eq 0 ] || fail "B: h$V runs VMs again after its fences: $(sc_placement)"
# The host with the most VMs crashes: they must avoid V.
cnt() { local u n=0; for u in "${SC_VMS[@]}"; do sc_vm_procs "$u" | grep -q " $1\$" && n=$((n + 1)); done; echo "$n"; }
if [ "$(cnt "$X")" -ge "$(cnt "$Y")" ]; then C=$X K=$Y; else C=$Y K=$X; fi
had=$(cnt "$C")
sc_note "B: h$V fenced 3 times (isolated > P, healed); $(sc_placement); crashing h$C ($had VMs)"
starts=$(sc_total_starts)
t0=$(cl_now_ms)
cl_host_crash "$C"
sc_watch 20 sc_leader_sees "$C" DEAD "$V" "$K" || fail "B: h$C not DEAD 20 s after its crash"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
sc_watch 30 eval '[ "$(cnt "$K")" -eq $(( 4 - $(onv) )) ] && sc_all_vms_once' || fail "B: the VMs of h$C did not all come up: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t0 ))
sc_hold 3
[ "$(onv)" -eq 0 ] || fail "B: a VM of the crashed host went to the quarantined h$V: $(sc_placement)"
sc_all_vms_once || fail "B: not every VM runs once: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts + had)) ] || fail "B: $(sc_total_starts) starts, expected $((starts + had))"
sc_note "B: h$C crashed: DEAD after $SC_DETECT_MS ms; its $had VMs on h$K (none on the quarantined h$V) after $SC_FAILOVER_MS ms; $(sc_placement)"
sc_end
sc_pass
