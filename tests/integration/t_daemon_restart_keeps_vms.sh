#!/usr/bin/env bash
# A clean restart of a daemon keeps its running VMs: SIGTERM with a VM
# running leaves the delta lease alone (the VM's volume lease depends on it),
# the VM runs on under its guard, and the daemon started again within F
# adopts the guard file (the wrapper that maps it is still alive), takes its
# host id and the VM's lease again and extends the deadline: the VM is still
# the one instance, well past F + K. Its wrapper then talks to the new daemon:
# the VM stops cleanly and nothing restarts it.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_exec 1 vm-r
R=$EXEC_PID
wait_for 10 dl_vm_started_on vm-r 1 || fail "vm-r did not start on h1: $(cat "$T/exec-vm-r-h1.out")"
sleep 1
kill -TERM "${DPID[1]}"; wait "${DPID[1]}"; rc=$?; DPID[1]=
[ "$rc" -eq 0 ] || fail "h1 exited $rc on SIGTERM"
grep -q "VMs run here: the delta lease is left" "$T/h1/log" || fail "h1 released its delta lease with a VM running"
dl_start 1
wait_for 10 grep -q "VM vm-r: adopted from the previous daemon" "$T/h1/log" ||
    fail "the restarted h1 did not adopt vm-r: $(tail -10 "$T/h1/log")"
sleep 7  # > F + K: only extensions by the new daemon keep it alive
dl_vm_alive_on vm-r 1 || fail "vm-r died across the restart: $(cat "$T/exec-vm-r-h1.out")"
[ "$(grep -c '^start ' "$T/vm-vm-r.log")" -eq 1 ] || fail "vm-r started again: $(grep start "$T/vm-vm-r.log")"
dl_json 2 vms | jq -e '.vms[] | select(.uid == "vm-r" and .host == 1 and .state == "RUNNING")' >/dev/null ||
    fail "the cluster does not see vm-r on h1: $(dl_json 2 vms)"

kill -TERM "$R"; wait "$R"; rc=$?
[ "$rc" -eq 143 ] || fail "exec exited $rc: $(cat "$T/exec-vm-r-h1.out")"
wait_for 5 eval "dl_json 1 vms | jq -e '.vms[] | select(.uid == \"vm-r\" and .state == \"STOPPED\")' >/dev/null" ||
    fail "vm-r not STOPPED: $(dl_json 1 vms)"
grep -q "reporting the exit" "$T/exec-vm-r-h1.out" && fail "the wrapper could not report to the new daemon: $(cat "$T/exec-vm-r-h1.out")"
exit 0
