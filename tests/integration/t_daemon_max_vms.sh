#!/usr/bin/env bash
# [host] max_vms with real daemons: h3 takes at most one VM. The leader
# learns it from h3's views (hosts shows max_vms on the leader), a move of a
# first VM onto h3 is done, a second is refused naming the limit, and a bad
# value stops the daemon at start with the key named. (Placement after a
# crash honouring it: the simulator scenario
# capacity_spreads_a_crashed_hosts_vms_and_the_rest_wait, tests/unit/sim.)
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"
ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }

dl_setup 3
dl_config 3 3 "max_vms = 0"
"$FLD" -c "$T/h3/fencelock.conf" -f > "$T/bad.out" 2>&1 && fail "h3 started with max_vms = 0"
grep -q "max_vms" "$T/bad.out" || fail "the refusal does not name max_vms: $(cat "$T/bad.out")"
dl_config 3 3 "max_vms = 1"
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
not_h3_leads() { L=$(dl_leader 1); [ "$L" != 3 ] && [ "$L" != 0 ]; }
[ "$L" != 3 ] || { expect_rc 0 ctl 3 leader transfer; wait_for 10 not_h3_leads; }
[ "$L" != 3 ] && [ "$L" != 0 ] || fail "no leader other than h3"
F=$(( L % 3 + 1 )); [ "$F" = 3 ] && F=$(( F % 3 + 1 ))
cap_seen() { [ "$(dl_json "$L" hosts | jq -r '.hosts[] | select(.id == 3) | .max_vms')" = 1 ]; }
wait_for 5 cap_seen || fail "the leader's hosts does not show h3's max_vms: $(dl_json "$L" hosts)"
[ "$(dl_json "$L" hosts | jq -r ".hosts[] | select(.id == $F) | .max_vms")" = null ] ||
    fail "h$F has no max_vms: $(dl_json "$L" hosts)"
for v in vm-a vm-b; do dl_exec "$F" "$v"; done
for v in vm-a vm-b; do wait_for 10 dl_vm_started_on "$v" "$F" || fail "$v did not start on h$F"; done
expect_rc 0 ctl "$L" vm move vm-a --to 3 --wait-s 30
wait_for 10 dl_vm_alive_on vm-a 3 || fail "vm-a not alive on h3"
expect_rc 3 ctl "$L" vm move vm-b --to 3
grep -q "host 3 (h3) is at its max_vms: 1 VMs placed there, at most 1" <<<"$out" || fail "refusal: $out"
dl_vm_alive_on vm-b "$F" || fail "vm-b left h$F"
exit 0
