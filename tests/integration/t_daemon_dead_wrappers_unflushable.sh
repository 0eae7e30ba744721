#!/usr/bin/env bash
# Seven VMs whose volumes sit on a frozen device lose their wrappers at once
# (SIGKILL, no release): the daemon must flush their volumes before it may
# release their leases, and the flushes hang. Flushing runs in child
# processes off the lease loop, so the loop keeps renewing on time: the
# renewal lateness stays far below F, a healthy VM on the same host keeps
# running (its guard is extended), the seven keep their leases (never
# released without a flush), and once the device thaws their flushes
# succeed and their leases are released.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
source "$FL_ROOT/tests/lib/flstall.sh"
N=${FL_DEAD_WRAPPERS:-7}
max_late=${FL_MAX_LATENESS_S:-1.0}

mount_flstall
DL_N=1
dl_format
dl_config 1 1 "metrics_file = $T/h1/metrics.prom"
dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"quorate\")")" = True ]' || fail "h1 not quorate: $(dl_json 1 status)"
dl_exec 1 vm-ok
wait_for 10 dl_vm_started_on vm-ok 1 || fail "vm-ok did not start: $(cat "$T/exec-vm-ok-h1.out")"
declare -a W=()
for i in $(seq "$N"); do
    # Seven VMs' "volumes" on one FUSE file that can be frozen: a FUSE file
    # has no identity shared across hosts, so each gets an operator-given one
    # (the leases must be seven, as seven real volumes would have).
    ln -s "$MNT/disk" "$T/fz$i"
    FENCELOCK_SOCKET=$(dl_sock 1) "$FL" exec --vm "vm-f$i" --volume "$T/fz$i:id=fz$i" -- \
        "$T/vm.sh" "vm-f$i" "$T/vm-vm-f$i.log" > "$T/exec-vm-f$i-h1.out" 2>&1 &
    W[$i]=$!
done
for i in $(seq "$N"); do
    wait_for 15 dl_vm_started_on "vm-f$i" 1 || fail "vm-f$i did not start: $(cat "$T/exec-vm-f$i-h1.out")"
done
echo freeze > "$MNT/ctl"
for i in $(seq "$N"); do kill -9 "${W[$i]}"; done
# Every wrapper's death is noticed and its flush hangs past its bound.
wait_for 10 eval '[ "$(grep -c "did not finish within" "$T/h1/log")" -ge '"$N"' ]' ||
    fail "the flushes did not all pass their bound: $(grep -c 'did not finish within' "$T/h1/log")"
sleep 8 # two F: a loop stalled by the flushes would have let every guard fire
grep -q "killed by its guard" "$T/h1/log" && fail "a guard fired: the loop stalled"
dl_vm_alive_on vm-ok 1 || fail "vm-ok, on a healthy host, died"
late=$(dl_json 1 metrics | dl_py 'd["text"]' | awk '$1 == "fencelock_renewal_lateness_max_seconds" {print $2}')
[ -n "$late" ] || fail "no fencelock_renewal_lateness_max_seconds in the metrics"
echo "renewal lateness max with $N hung flushes: $late s (bound $max_late s)"
awk -v l="$late" -v m="$max_late" 'BEGIN { exit !(l < m) }' || fail "a renewal started $late s late"
grep -q "its leases are released" "$T/h1/log" && fail "a lease was released without a flush"
for i in $(seq "$N"); do
    dl_json 1 vms | dl_py '[v["state"] for v in d["vms"] if v["uid"] == "vm-f'"$i"'"]' | grep -q "RUNNING\|STOPPING" ||
        fail "vm-f$i no longer holds its grant before its flush: $(dl_json 1 vms)"
done
echo unfreeze > "$MNT/ctl"
wait_for 20 eval '[ "$(grep -c "volumes flushed after its wrapper died" "$T/h1/log")" -ge '"$N"' ]' ||
    fail "flushes did not succeed after the thaw: $(grep -c 'volumes flushed after' "$T/h1/log") of $N"
dl_vm_alive_on vm-ok 1 || fail "vm-ok died"
exit 0
