#!/usr/bin/env bash
# With [host] recover_command set, a VM placed on a host after its old host
# crashed is started by that command: run with the VM's uid as argument, the
# spec `fencelock exec` registered (JSON) on stdin and FENCELOCK_SOCKET set to
# the host's control socket. The command here plays a VM manager: it starts
# the VM under `fencelock exec` in the background and exits 0; the daemon
# grants that wrapper's vm.acquire, and the VM runs on the new host, once.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_format
dl_vm_script
cat > "$T/recover.sh" <<EOF2
#!/bin/sh
uid=\$1
spec=\$(cat)
echo "recover \$uid \$FENCELOCK_SOCKET \$spec" >> "$T/recover.log"
vol=\$(printf '%s' "\$spec" | jq -r '.volumes[0].path')
setsid "$FL" exec --vm "\$uid" --volume "\$vol" -- "$T/vm.sh" "\$uid" "$T/vm-\$uid.log" \\
    > "$T/recovered-\$uid.out" 2>&1 < /dev/null &
exit 0
EOF2
chmod +x "$T/recover.sh"
dl_crash_recovering vm-rc "$T/recover.sh"
wait_for 25 eval 'dl_vm_started_on vm-rc 2 || dl_vm_started_on vm-rc 3' || fail "vm-rc not recovered: $(cat "$T/recover.log" 2>&1)"
Y=$(dl_vm_host vm-rc)
[ "$(wc -l < "$T/recover.log")" -eq 1 ] || fail "recover_command ran more than once: $(cat "$T/recover.log")"
read -r _ uid sock spec < "$T/recover.log"
[ "$uid" = vm-rc ] || fail "recover_command got uid '$uid'"
[ "$sock" = "$(dl_sock "$Y")" ] || fail "FENCELOCK_SOCKET was '$sock', expected $(dl_sock "$Y")"
jq -e '.uid == "vm-rc" and .wrapper == "fencelock exec" and (.argv | length) == 3' <<<"$spec" >/dev/null ||
    fail "spec on stdin: $spec"
sleep 2
[ "$(grep -c '^start ' "$T/vm-vm-rc.log")" -eq 2 ] || fail "vm-rc started more than once after the crash: $(grep start "$T/vm-vm-rc.log")"
dl_vm_alive_on vm-rc "$Y" || fail "vm-rc not alive on h$Y"
dl_json "$Y" vms | jq -e --argjson y "$Y" '.vms[] | select(.uid == "vm-rc" and .host == $y and .state == "RUNNING")' >/dev/null ||
    fail "h$Y does not list vm-rc RUNNING: $(dl_json "$Y" vms)"
exit 0
