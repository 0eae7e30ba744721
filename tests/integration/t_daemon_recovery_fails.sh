#!/usr/bin/env bash
# The recovery contract: a VM whose recovery start always fails (its
# recover_command exits 125, as when its config file only existed on the dead
# host) is retried with growing delays on the host it was placed on, moved to
# the next host after 3 failures, and marked FAILED once every eligible host
# failed: FAILED in `fencelock vms`, a Nagios WARNING in `fencelock status`,
# the fencelock_vms_failed metric; the starter's output lands in the VM's log
# file, not in the daemon's; `fencelock vm clear` makes the cluster try again.
# (grep reads the whole metrics output: with -q it would quit at the match and
# the writer's SIGPIPE would fail the pipeline under pipefail.)
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_format
dl_vm_script
cat > "$T/recover.sh" <<EOF2
#!/bin/sh
echo "\$(date +%s%N) \$FENCELOCK_SOCKET \$1" >> "$T/recover.log"
echo "recover: /etc/firecracker/\$1.json: No such file or directory" >&2
echo "oom=\$(cat /proc/self/oom_score_adj) nice=\$(cut -d' ' -f19 /proc/self/stat)" >&2
exit 125
EOF2
chmod +x "$T/recover.sh"
dl_crash_recovering vm-f "$T/recover.sh"
vm_state() { dl_json "$1" vms | jq -r '.vms[] | select(.uid == "vm-f") | .state'; }
wait_for 90 eval '[ "$(vm_state 2)" = FAILED ]' || fail "vm-f not FAILED: $(dl_json 2 vms); $(cat "$T/recover.log")"
for h in 2 3; do
    n=$(grep -c " $(dl_sock "$h") vm-f" "$T/recover.log")
    [ "$n" -eq 3 ] || fail "recover_command ran $n times on h$h, expected 3: $(cat "$T/recover.log")"
done
# Backoff: on each host the second pause is longer than the first.
for h in 2 3; do
    grep " $(dl_sock "$h") vm-f" "$T/recover.log" | awk '{print $1}' | {
        read -r a; read -r b; read -r c
        d1=$(( (b - a) / 1000000 )); d2=$(( (c - b) / 1000000 ))
        [ "$d2" -gt "$d1" ] || fail "no backoff on h$h: pauses ${d1} ms then ${d2} ms"
        echo "h$h pauses: ${d1} ms, ${d2} ms"
    }
done
dl_json 3 vms | jq -e '.vms[] | select(.uid == "vm-f") | (.failed_on | sort) == [2, 3] and .host == null' >/dev/null ||
    fail "vm-f's failure record: $(dl_json 3 vms)"
expect_rc 1 env FENCELOCK_SOCKET="$(dl_sock 2)" "$FL" status
grep -q "WARNING.*1 VM(s) FAILED (first: vm-f)" <<<"$out" || fail "status does not warn: $out"
"$FL" -s "$(dl_sock 3)" metrics | grep -x "fencelock_vms_failed 1" >/dev/null || fail "metric: $("$FL" -s "$(dl_sock 3)" metrics | grep vms_failed)"
grep -q "No such file or directory" "$T/h2/state/vm-logs/vm-f.log" || fail "the starter's output is not in h2's vm log"
grep -q "oom=0 nice=0" "$T/h2/state/vm-logs/vm-f.log" || fail "the starter did not get a normal priority: $(cat "$T/h2/state/vm-logs/vm-f.log")"
! grep -q "No such file or directory" "$T/h2/log" || fail "the starter's output went to the daemon's log"
# It stays FAILED until cleared, then the cluster tries again.
sleep 3
[ "$(grep -c vm-f "$T/recover.log")" -eq 6 ] || fail "vm-f tried again while FAILED: $(cat "$T/recover.log")"
expect_rc 0 env FENCELOCK_SOCKET="$(dl_sock 3)" "$FL" vm clear vm-f
wait_for 20 eval '[ "$(grep -c vm-f "$T/recover.log")" -gt 6 ]' || fail "vm-f not tried again after clear"
exit 0
