#!/usr/bin/env bash
# A foreign header written into a running cluster: the header sector of the
# shared device is overwritten with the header of another cluster (as a
# `direct format` of another cluster, or a path now leading to another LUN,
# would leave it) while three daemons run and h2 runs a VM. Every daemon
# notices within a few seconds (its periodic re-read of the header), alarms
# (log at crit, fencelock_device_header_foreign 1), stops its VMs at once,
# and from then on writes nothing to the device: the device's bytes stay
# as they are (no renewal, no lease release, no mailbox) and the VM is not
# started anywhere else.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
metric() { "$FL" -s "$(dl_sock "$1")" metrics -t 3000 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_exec 2 vm-h
wait_for 10 dl_vm_started_on vm-h 2 || fail "vm-h did not start on h2"
for i in 1 2 3; do [ "$(metric "$i" fencelock_device_header_foreign)" = 0 ] || fail "h$i alarms before anything happened"; done

# Another cluster's header, into the header sector (after the 1 MiB lockspace area).
truncate -s "${DL_IMG_MB:-32}M" "$T/other.img"
"$FL" direct format --device "$T/other.img" --cluster other --io-timeout 1 --max-hosts 8 --volume-slots "${DL_VOLUME_SLOTS:-16}" \
    > /dev/null 2>&1 || fail "format of the other device failed"
t0=$(now_ms)
dd if="$T/other.img" of="$DL_IMG" bs=512 skip=2048 seek=2048 count=1 conv=notrunc oflag=direct status=none ||
    fail "dd failed"
"$FL" direct dump "$DL_IMG" -o json | grep -q '"cluster": *"other"' || fail "the device does not show the other header"

for i in 1 2 3; do
    wait_for 10 eval "[ \"\$(metric $i fencelock_device_header_foreign)\" = 1 ]" ||
        fail "h$i did not notice the foreign header: $(grep -i header "$T/h$i/log" | tail -3)"
    grep -q " crit: .*the device header of .* changed under us: the header names another cluster uuid" "$T/h$i/log" ||
        fail "h$i did not alarm at crit: $(grep -i header "$T/h$i/log" | tail -3)"
done
echo "every host noticed the foreign header within $(( $(now_ms) - t0 )) ms"
wait_for 5 eval '! dl_vm_alive_on vm-h 2' || fail "vm-h still runs on h2"
echo "vm-h stopped $(( $(now_ms) - t0 )) ms after the header changed"

# Nothing is written any more: the device's bytes do not change.
sleep 1
sum=$(md5sum < "$DL_IMG")
sleep 4   # four renewal periods (T = 1 s)
[ "$(md5sum < "$DL_IMG")" = "$sum" ] || fail "the device was written to after the foreign header was noticed"
[ "$(grep -c '^start ' "$T/vm-vm-h.log")" = 1 ] || fail "vm-h was started again: $(grep start "$T/vm-vm-h.log")"
for i in 1 2 3; do [ "$(metric "$i" fencelock_vms_running)" = 0 ] || fail "h$i still runs a VM"; done
grep -q "releasing the delta lease\|lease of .* released" "$T/h2/log" && fail "h2 released a lease on the foreign device"
exit 0
