#!/usr/bin/env bash
# The VMM shims of dist/shims run a VM under `fencelock exec` as a VM manager
# (Flintlock) would: the manager runs the shim with the VMM's own arguments,
# the shim replaces itself with fencelock exec (the pid the manager holds is
# the guard, the VMM its child), the uid and volumes come from the VMM's
# arguments and config (a Firecracker-shaped config with drives, pmem and a
# vhost-user drive; Flintlock's cloud-hypervisor socket layout; QEMU's
# -name/-drive), and the VMM's exit status comes back unchanged. A shim that
# would run itself refuses with 125.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start
touch "$T/root.img" "$T/data.img" "$T/pmem.img" "$T/disk.img"
# The fake VMM: records its parent and its arguments, exits 7.
cat > "$T/vmm" <<'VMM'
#!/bin/sh
echo "$PPID $*" > "$VMM_OUT"
exit 7
VMM
chmod +x "$T/vmm"
export FENCELOCK_BIN=$FL FENCELOCK_SOCKET=$SOCK FENCELOCK_EXEC_OPTS=--managed

# Firecracker, as Flintlock starts it: --id, --boot-timer, --no-api, --config-file.
cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$T/vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1"},
 "drives": [{"drive_id": "root", "path_on_host": "$T/root.img", "is_root_device": true, "is_read_only": false,
             "cache_type": "Unsafe"},
            {"drive_id": "data", "path_on_host": "$T/data.img", "is_root_device": false, "is_read_only": null},
            {"drive_id": "vu", "is_root_device": false, "socket": "$T/vhost.sock"}],
 "pmem": [{"id": "pm0", "path_on_host": "$T/pmem.img", "root_device": false, "read_only": true}],
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
JSON
VMM_OUT=$T/fc.out FENCELOCK_FIRECRACKER_BIN=$T/vmm \
    "$FL_ROOT/dist/shims/firecracker" --id fc-shim --boot-timer --no-api --config-file "$T/vm.json" 2>"$T/fc.err" &
pid=$!
wait $pid; rc=$?
[ $rc -eq 7 ] || fail "firecracker shim: exit $rc, expected the VMM's 7: $(cat "$T/fc.err")"
[ "$(cat "$T/fc.out")" = "$pid --id fc-shim --boot-timer --no-api --config-file $T/vm.json" ] ||
    fail "the VMM did not run as the shim's (= fencelock exec's) child with the manager's arguments: $(cat "$T/fc.out") (shim pid $pid)"
has_event "register fc-shim volumes=3 restart=manager" || fail "firecracker VM not registered as expected: $(cat "$EVENTS")"
grep -q "warning: drive 'vu' is vhost-user" "$T/fc.err" || fail "vhost-user drive not warned about: $(cat "$T/fc.err")"
grep -q "warning: drive 'root' has cache_type Unsafe" "$T/fc.err" || fail "Unsafe cache not warned about: $(cat "$T/fc.err")"
grep -qE '^exited fc-shim [0-9]+ code=7$' "$EVENTS" || fail "exit of fc-shim not reported: $(cat "$EVENTS")"

# Cloud Hypervisor: the uid is the directory of Flintlock's API socket.
mkdir -p "$T/vm/ns1/web/01HZCH"
VMM_OUT=$T/ch.out FENCELOCK_CLOUD_HYPERVISOR_BIN=$T/vmm "$FL_ROOT/dist/shims/cloud-hypervisor" \
    --api-socket "$T/vm/ns1/web/01HZCH/cloudhypervisor.sock" --disk "path=$T/disk.img" \
    --fs "tag=user,socket=$T/virtiofs.sock" 2>"$T/ch.err"
rc=$?
[ $rc -eq 7 ] || fail "cloud-hypervisor shim: exit $rc: $(cat "$T/ch.err")"
has_event "register 01HZCH volumes=1 restart=manager" || fail "cloud-hypervisor VM not registered: $(cat "$EVENTS")"
grep -q "warning: --fs tag=user" "$T/ch.err" || fail "--fs not warned about: $(cat "$T/ch.err")"

# QEMU: uid from -name guest=, volumes from -drive.
VMM_OUT=$T/q.out FENCELOCK_QEMU_BIN=$T/vmm "$FL_ROOT/dist/shims/qemu" -name guest=q-shim,debug-threads=on \
    -drive "file=$T/disk.img,if=virtio,format=raw,readonly=on" 2>"$T/q.err"
rc=$?
[ $rc -eq 7 ] || fail "qemu shim: exit $rc: $(cat "$T/q.err")"
has_event "register q-shim volumes=1 restart=manager" || fail "qemu VM not registered: $(cat "$EVENTS")"

# A shim installed under the real binary's name must not run itself.
ln -s "$FL_ROOT/dist/shims/qemu" "$T/qemu-system-x86_64"
FENCELOCK_QEMU_BIN=$T/qemu-system-x86_64 "$T/qemu-system-x86_64" -name q2 -drive "file=$T/disk.img" 2>"$T/self.err"
rc=$?
[ $rc -eq 125 ] || fail "a shim pointed at itself: exit $rc, expected 125"
grep -q "is this shim itself" "$T/self.err" || fail "self-reference message: $(cat "$T/self.err")"
has_event "register q2 volumes=1 restart=manager" && fail "the self-referencing shim registered a VM"
exit 0
