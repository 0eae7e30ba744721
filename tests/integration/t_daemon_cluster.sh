#!/usr/bin/env bash
# Three fencelockd on loopback with a file-backed shared device: the cluster
# forms (a leader, every host quorate, three UP); a VM started with
# `fencelock exec` runs and every host lists it; the same VM, or another VM
# on its volume, is refused on a second host (exit 121), and an operator's
# `vm release` of it while its wrapper runs it is refused; the status tools
# answer (JSON shapes, Nagios exit code, metrics); a VM whose command ends
# is not restarted anywhere and can be unregistered; a daemon with no VM
# stops cleanly on SIGTERM and releases its delta lease.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
st=$(dl_json "$L" status)
[ "$(jq -r '.leader' <<<"$st")" = "$L" ] || fail "leader $L does not say it leads: $st"
[ "$(jq -r '[.hosts[] | select(.state == "UP")] | length' <<<"$st")" = 3 ] || fail "not three UP hosts: $st"
jq -e '.quorate == true and .lease_valid == true and (.term | type) == "number" and .cluster == "t"' <<<"$st" >/dev/null ||
    fail "status shape: $st"
expect_rc 0 "$FL" -s "$(dl_sock "$L")" status
grep -q "FENCELOCK OK - quorate, leader $L" <<<"$out" || fail "status text: $out"

# A VM under fencelock exec on h1.
dl_exec 1 vm-a
A=$EXEC_PID
wait_for 10 dl_vm_started_on vm-a 1 || fail "vm-a did not start on h1: $(cat "$T/exec-vm-a-h1.out")"
for i in 1 2 3; do
    wait_for 5 eval "dl_json $i vms | jq -e '.vms[] | select(.uid == \"vm-a\" and .host == 1 and .state == \"RUNNING\")' >/dev/null" ||
        fail "h$i does not list vm-a RUNNING on host 1: $(dl_json "$i" vms)"
done
dl_json 2 leases | jq -e '.leases[] | select(.vm == "vm-a" and .holder == 1 and .mode == "rw")' >/dev/null ||
    fail "leases: $(dl_json 2 leases)"
dl_json 1 status | jq -e '.vms == [{"uid":"vm-a","host":1,"host_name":"h1","state":"RUNNING"}]' >/dev/null || fail "status vms: $(dl_json 1 status)"

# The same VM, and another VM on its volume, refused elsewhere.
expect_rc 121 env FENCELOCK_SOCKET="$(dl_sock 2)" "$FL" exec --vm vm-a --volume "$T/vol-vm-a.img" -- sleep 100
grep -q "placed on host 1 (h1)" <<<"$out" || fail "refusal message: $out"
expect_rc 121 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" exec --vm vm-b --volume "$T/vol-vm-a.img" -- sleep 100
grep -q "held by VM vm-a on host 1" <<<"$out" || fail "refusal message: $out"
expect_rc 121 env FENCELOCK_SOCKET="$(dl_sock 1)" "$FL" exec --vm vm-a --volume "$T/vol-vm-a.img" -- sleep 100
grep -q "already runs on this host" <<<"$out" || fail "refusal message: $out"
expect_rc 3 "$FL" -s "$(dl_sock 1)" vm release vm-a
grep -q "still runs here under its wrapper" <<<"$out" || fail "release of a running VM: $out"
dl_vm_alive_on vm-a 1 || fail "vm-a harmed by the refusals"

metrics=$("$FL" -s "$(dl_sock 1)" metrics)
for m in "fencelock_vms_running 1" "fencelock_quorate 1" "fencelock_lease_valid 1" "fencelock_raft_leader $L"; do
    grep -qx "$m" <<<"$metrics" || fail "metrics lack '$m': $metrics"
done
# Renewals are counted and timed (a renewal takes far less than T = 1 s here).
python3 - "$metrics" <<'PY' || fail "renewal metrics: $metrics"
import re, sys
m = sys.argv[1]
renewals = int(re.search(r"^fencelock_renewals_total (\d+)$", m, re.M).group(1))
last = float(re.search(r'^fencelock_renewal_latency_last_seconds ([0-9.]+)$', m, re.M).group(1))
assert renewals > 0 and 0 < last < 1.0, (renewals, last)
count = int(re.search(r'^fencelock_renewal_latency_seconds_count (\d+)$', m, re.M).group(1))
inf = int(re.search(r'^fencelock_renewal_latency_seconds_bucket\{le="\+Inf"\} (\d+)$', m, re.M).group(1))
rmax = float(re.search(r'^fencelock_renewal_latency_recent_seconds\{quantile="1"\} ([0-9.]+)$', m, re.M).group(1))
assert count > 0 and inf == count and 0 < rmax < 1.0, (count, inf, rmax)
assert re.search(r'^fencelock_self_fences_total\{reason="quorum"\} 0$', m, re.M)
PY

# The VM ends on its own (its wrapper is told to stop): nobody restarts it.
kill -TERM "$A"; wait "$A"; rc=$?
[ "$rc" -eq 143 ] || fail "exec exited $rc, expected 143: $(cat "$T/exec-vm-a-h1.out")"
wait_for 5 eval "dl_json 2 vms | jq -e '.vms[] | select(.uid == \"vm-a\" and .host == null and .state == \"STOPPED\")' >/dev/null" ||
    fail "vm-a not STOPPED after its end: $(dl_json 2 vms)"
sleep 2
[ "$(grep -c '^start ' "$T/vm-vm-a.log")" -eq 1 ] || fail "vm-a was started again: $(cat "$T/vm-vm-a.log" | grep start)"
expect_rc 0 "$FL" -s "$(dl_sock 2)" vm unregister vm-a
wait_for 3 eval "dl_json 3 vms | jq -e '.vms == []' >/dev/null" || fail "vm-a still registered: $(dl_json 3 vms)"

# A clean stop of a host without VMs: exit 0, delta lease released.
N=3; [ "$L" = 3 ] && N=2
kill -TERM "${DPID[$N]}"; wait "${DPID[$N]}"; rc=$?; DPID[$N]=
[ "$rc" -eq 0 ] || fail "h$N exited $rc on SIGTERM: $(tail -5 "$T/h$N/log")"
grep -q "delta lease of host $N released" "$T/h$N/log" || fail "h$N did not release its delta lease: $(tail -5 "$T/h$N/log")"
# ... on disk: its record is free (timestamp 0), so the others see it leave at once.
ts=$("$FL" direct read-leader -s "t:$N:$DL_IMG:0" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["timestamp"])')
[ "$ts" = 0 ] || fail "h$N's delta lease record still has timestamp $ts after a clean stop"
[ -S "$(dl_sock "$N")" ] && fail "h$N left its control socket behind"
exit 0
