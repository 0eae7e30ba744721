#!/usr/bin/env bash
# The runbook of docs/operations.md, "Changing io_timeout or P", run as
# written on three loopback daemons. P: each host's config is edited and its
# daemon restarted, one host at a time, while a VM runs on every host: after
# each restart the cluster is quorate with every host UP, the host reports
# the new P, and every VM still runs, started once. T: every VM stopped,
# every daemon stopped, the device re-formatted with the same cluster name,
# max_hosts and volume slots and the new T (format watches the leases first
# and refuses while a host renews), the configs edited, the daemons started:
# the cluster forms again with the new T, the VMs' registrations survived,
# and a VM starts again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

st() { dl_json "$1" status || true; } # its exit code is Nagios'
declare -A EP
dl_setup 3
dl_start_all
dl_wait_cluster 20
for i in 1 2 3; do dl_exec "$i" "vm-$i"; EP[$i]=$EXEC_PID; done
for i in 1 2 3; do wait_for 10 dl_vm_started_on "vm-$i" "$i" || fail "vm-$i did not start on h$i"; done

# ---- P: one host at a time ----
for i in 1 2 3; do
    sed -i 's/^partition_tolerance = .*/partition_tolerance = 8/' "$T/h$i/fencelock.conf"
    dl_kill "$i" TERM          # systemctl restart fencelockd
    dl_start "$i"
    wait_for 10 grep -q "VM vm-$i: adopted from the previous daemon" "$T/h$i/log" ||
        fail "h$i did not adopt vm-$i: $(tail -5 "$T/h$i/log")"
    dl_wait_cluster 20         # fencelock status: OK
    st "$i" | jq -e '.partition_tolerance_s == 8' >/dev/null || fail "h$i: P is $(st "$i" | jq .partition_tolerance_s)"
done
for i in 1 2 3; do
    dl_vm_alive_on "vm-$i" "$i" || fail "vm-$i no longer runs on h$i"
    [ "$(grep -c '^start ' "$T/vm-vm-$i.log")" -eq 1 ] || fail "vm-$i started again: $(grep '^start' "$T/vm-vm-$i.log")"
done
echo "P: 5 s -> 8 s on every host, one at a time, every VM running throughout"

# ---- T: the whole cluster ----
"$FL" direct format --device "$DL_IMG" --cluster t --io-timeout 2s --max-hosts 8 --volume-slots 16 > "$T/f0.out" 2>&1 &&
    fail "format went ahead on a live cluster: $(cat "$T/f0.out")"
grep -q "renew" "$T/f0.out" || fail "format's refusal does not say a host renews: $(cat "$T/f0.out")"
for i in 1 2 3; do kill -TERM "${EP[$i]}"; wait "${EP[$i]}"; done   # 1. stop every VM
wait_for 10 eval "dl_json 1 vms | jq -e '[.vms[] | select(.state != \"STOPPED\")] == []' >/dev/null" ||
    fail "VMs still running: $(dl_json 1 vms)"
for i in 1 2 3; do dl_kill "$i" TERM; done                          # 2. stop every daemon
"$FL" direct dump "$DL_IMG" -o json | jq -c '.fencelock | {cluster, io_timeout_ms, max_hosts, volume_slots}' > "$T/geom.json"
jq -e '.cluster == "t" and .io_timeout_ms == 1000 and .max_hosts == 8 and .volume_slots == 16' "$T/geom.json" >/dev/null ||
    fail "dump: $(cat "$T/geom.json")"
expect_rc 0 "$FL" direct format --device "$DL_IMG" --cluster t --io-timeout 2s --max-hosts 8 --volume-slots 16   # 3.
for i in 1 2 3; do sed -i 's/^io_timeout = .*/io_timeout = 2s/' "$T/h$i/fencelock.conf"; done   # 4.
dl_start_all                                                        # 5.
dl_wait_cluster 30
for i in 1 2 3; do
    st "$i" | jq -e '.io_timeout_ms == 2000 and .quorate' >/dev/null || fail "h$i after the format: $(st "$i")"
done
grep -q "io_timeout is .* but the device says" "$T/h1/log" && fail "h1 warns of a config/device mismatch"
dl_json 1 vms | jq -e '[.vms[].uid] | sort == ["vm-1","vm-2","vm-3"]' >/dev/null ||
    fail "the registrations did not survive: $(dl_json 1 vms)"
dl_exec 2 vm-1                                                      # 6. start the VMs again
wait_for 15 eval "grep -c '^start ' '$T/vm-vm-1.log' | grep -qx 2" || fail "vm-1 did not start again: $(cat "$T/exec-vm-1-h2.out")"
echo "T: 1 s -> 2 s by a re-format of the stopped cluster; registrations kept; vm-1 started again"
kill -TERM "$EXEC_PID"; wait "$EXEC_PID"
exit 0
