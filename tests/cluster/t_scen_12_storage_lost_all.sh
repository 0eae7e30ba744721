#!/usr/bin/env bash
# Scenario 12: storage lost for every host (every mount of every
# host, lease device and VM volumes, fails with EIO: the SAN is gone) -> no
# host can renew its delta lease, so every host kills its own VMs by F + K;
# nobody can take a lease, so nothing starts anywhere. Storage back -> every
# VM comes back exactly once, and no volume is corrupt. Detection: loss ->
# the last VM stopped; failover: storage back -> the last VM writes again.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/cluster/lib.sh"
source "$FL_ROOT/tests/cluster/scenario_lib.sh"
sc_begin 12 "storage lost for every host" "every VM stops by F+K, none starts, none corrupt; storage back: every VM back once"

sc_cluster 3
sc_vm_start vm1 1; sc_vm_start vm2 2; sc_vm_start vm3 3; sc_vm_start vm4 1
sc_hold 1
starts0=$(sc_total_starts)
none_run() { local u; for u in "${SC_VMS[@]}"; do [ -z "$(sc_vm_procs "$u")" ] || return 1; done; }
t0=$(cl_now_ms)
for h in $(cl_hosts); do cl_storage_fail "$h" || fail "storage fail on h$h"; done
sc_watch 10 none_run || fail "VMs still run 10 s after the storage was lost: $(sc_placement)"
SC_DETECT_MS=$(( $(cl_now_ms) - t0 ))
[ "$SC_DETECT_MS" -le 6000 ] || fail "the last VM stopped $SC_DETECT_MS ms after the loss: later than F + K"
sc_hold 8
none_run || fail "a VM started while no host had storage: $(sc_placement)"
[ "$(sc_total_starts)" -eq "$starts0" ] || fail "$(( $(sc_total_starts) - starts0 )) VM starts while no host had storage"
lost=$(( $(cl_now_ms) - t0 ))
sc_note "storage failed (EIO) on every host: every VM stopped after $SC_DETECT_MS ms, nothing started in $lost ms"
t1=$(cl_now_ms)
for h in $(cl_hosts); do cl_storage_ok "$h" || fail "storage ok on h$h"; done
all_back() { local u; for u in "${SC_VMS[@]}"; do [ "$(sc_vm_starts "$u")" -ge 2 ] && [[ "$(sc_vm_hosts "$u")" =~ ^[0-9]+$ ]] || return 1; done; }
sc_watch 40 all_back || fail "not every VM back 40 s after the storage came back: $(sc_placement)"
SC_FAILOVER_MS=$(( $(cl_now_ms) - t1 ))
# shellcheck disable=SC2046  # cl_hosts prints a list of host numbers, one word each
sc_watch 20 sc_formed $(cl_hosts) || fail "the cluster is not whole after the storage came back"
sc_hold 5
sc_all_vms_once || fail "not every VM runs exactly once: $(sc_placement)"
[ "$(sc_total_starts)" -eq $((starts0 * 2)) ] || fail "$(sc_total_starts) starts, expected $((starts0 * 2)) (each VM once more)"
sc_note "storage back: every VM running again, once, after $SC_FAILOVER_MS ms; $(sc_placement)"
sc_end
sc_pass
