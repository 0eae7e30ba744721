#!/usr/bin/env bash
# fencelock exec refuses to run CMD, with a message and its own exit code,
# when a volume is held by another host (121), the host is not quorate (122),
# the daemon is unreachable (120) or the command line is wrong (125), the
# transient ones (122, 120) only after retrying for --wait; CMD not
# found gives 127 and releases the leases. Firecracker, Cloud Hypervisor and
# QEMU modes take the uid and volumes from the VMM's arguments and config.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"

stub_start -b "$T/taken.img"
touch "$T/disk.img" "$T/taken.img" "$T/seed.img"
expect_rc 121 "$FL" -s "$SOCK" exec --vm vm-b --volume "$T/disk.img" --volume "$T/taken.img" -- touch "$T/ran"
grep -q "VM vm-b not started: volume $T/taken.img of VM vm-b is held by host 2" <<<"$out" || fail "busy message: $out"
[ ! -e "$T/ran" ] || fail "CMD ran although a lease was refused"

expect_rc 127 "$FL" -s "$SOCK" exec --vm vm-n --volume "$T/disk.img" -- /nonexistent/vmm
grep -q "cannot run /nonexistent/vmm" <<<"$out" || fail "not-found message: $out"
has_event "release vm-n" || fail "leases of vm-n not released: $(cat "$EVENTS")"
grep -qE '^exited vm-n [0-9]+ code=127$' "$EVENTS" || fail "exit of vm-n not reported: $(cat "$EVENTS")"

expect_rc 125 "$FL" -s "$SOCK" exec --volume "$T/disk.img" -- true
grep -q "no VM uid" <<<"$out" || fail "uid message: $out"
expect_rc 125 "$FL" -s "$SOCK" exec --vm vm-x -- true
expect_rc 125 "$FL" -s "$SOCK" exec --vm ../x --volume "$T/disk.img" -- true
expect_rc 125 "$FL" -s "$SOCK" exec --vm vm-x --volume "$T/disk.img" --restart sometimes -- true

# Firecracker: uid from --id, volumes from the config's drives.
cat > "$T/fc.json" <<JSON
{"drives": [{"drive_id": "root", "path_on_host": "$T/disk.img", "is_root_device": true, "is_read_only": false},
            {"drive_id": "seed", "path_on_host": "$T/seed.img", "is_root_device": false, "is_read_only": true}]}
JSON
cat > "$T/firecracker" <<'FC'
#!/bin/sh
exit 0
FC
chmod +x "$T/firecracker"
expect_rc 0 "$FL" -s "$SOCK" exec --firecracker -- "$T/firecracker" --id fc-1 --config-file "$T/fc.json"
has_event "register fc-1 volumes=2 restart=always" || fail "firecracker VM not registered as expected: $(cat "$EVENTS")"
# The registered spec is what a recovering host re-runs (docs/control-protocol.md).
if command -v jq >/dev/null; then
    sed -n 's/^spec fc-1 //p' "$EVENTS" | jq -e --arg t "$T" '(.uid == "fc-1") and (.wrapper == "fencelock exec")
        and (.mode == "firecracker") and (.argv == [$t + "/firecracker", "--id", "fc-1", "--config-file", $t + "/fc.json"])
        and (.volumes == [{"path": ($t + "/disk.img"), "ro": false}, {"path": ($t + "/seed.img"), "ro": true}])
        and (.cwd | startswith("/"))' >/dev/null || fail "registered spec: $(grep '^spec fc-1' "$EVENTS")"
fi
printf '{"flintlock": {"vmid": "x"}}' > "$T/spec.json"
expect_rc 0 "$FL" -s "$SOCK" exec --vm vm-spec --volume "$T/disk.img" --spec "$T/spec.json" -- true
has_event 'spec vm-spec {"flintlock": {"vmid": "x"}}' || fail "--spec not registered: $(grep '^spec vm-spec' "$EVENTS")"
expect_rc 125 "$FL" -s "$SOCK" exec --firecracker -- "$T/firecracker" --id fc-2
grep -q "no --config-file" <<<"$out" || fail "firecracker without config: $out"
expect_rc 0 "$FL" -s "$SOCK" exec --cloud-hypervisor --vm ch-1 -- "$T/firecracker" --disk "path=$T/disk.img" "path=$T/seed.img,readonly=on"
has_event "register ch-1 volumes=2 restart=always" || fail "cloud-hypervisor VM not registered: $(cat "$EVENTS")"
expect_rc 0 "$FL" -s "$SOCK" leases -o json
command -v jq >/dev/null && { jq -e '[.leases[] | select(.vm == "ch-1" and .mode == "ro")] | length == 1' <<<"$out" >/dev/null || fail "ch-1 leases: $out"; }
# Firecracker in API-socket mode: the volumes are the --volume options.
expect_rc 0 "$FL" -s "$SOCK" exec --firecracker --volume "$T/disk.img" -- "$T/firecracker" --api-sock "$T/fc.sock" --id fc-api
has_event "register fc-api volumes=1 restart=always" || fail "firecracker API mode not registered: $(cat "$EVENTS")"
# QEMU: uid from -name guest=, volumes from -drive / -blockdev, a network drive warned about.
expect_rc 0 "$FL" -s "$SOCK" exec --qemu -- "$T/firecracker" -name guest=qm-1,debug-threads=on -M pc \
    -drive "file=$T/disk.img,format=raw,if=none,cache=none,id=d0" -device virtio-blk-pci,drive=d0 \
    -blockdev "driver=file,node-name=f1,filename=$T/seed.img,read-only=on" -drive file=nbd:192.0.2.1:10809,if=virtio
has_event "register qm-1 volumes=2 restart=always" || fail "qemu VM not registered: $(cat "$EVENTS")"
grep -q "warning: -drive nbd:192.0.2.1:10809: network storage (nbd), not a volume fencelock can guard" <<<"$out" ||
    fail "qemu network drive not warned about: $out"
if command -v jq >/dev/null; then
    sed -n 's/^spec qm-1 //p' "$EVENTS" | jq -e --arg t "$T" '(.mode == "qemu")
        and (.volumes == [{"path": ($t + "/disk.img"), "ro": false}, {"path": ($t + "/seed.img"), "ro": true}])' \
        >/dev/null || fail "qemu spec: $(grep '^spec qm-1' "$EVENTS")"
fi
expect_rc 125 "$FL" -s "$SOCK" exec --qemu -- "$T/firecracker" -drive "file=$T/disk.img"
grep -q "no usable uid" <<<"$out" || fail "qemu without a name: $out"

stub_stop; stub_start -n
t0=$(date +%s%N)
expect_rc 122 "$FL" -s "$SOCK" exec --wait 1 --vm vm-q --volume "$T/disk.img" -- touch "$T/ran"
t1=$(date +%s%N)
grep -q "not quorate" <<<"$out" || fail "quorum message: $out"
# A transient refusal is retried until --wait, saying so once.
[ "$(grep -c "retrying for up to 1 s" <<<"$out")" -eq 1 ] || fail "retry message: $out"
[ $(( (t1 - t0) / 1000000 )) -ge 700 ] || fail "gave up after $(( (t1 - t0) / 1000000 )) ms, before --wait 1"
[ ! -e "$T/ran" ] || fail "CMD ran on a non-quorate host"
stub_stop
expect_rc 120 "$FL" -s "$SOCK" exec --wait 0 --vm vm-u --volume "$T/disk.img" -- touch "$T/ran"
grep -q "fencelockd unreachable" <<<"$out" || fail "unreachable message: $out"
[ ! -e "$T/ran" ] || fail "CMD ran without a daemon"
exit 0
