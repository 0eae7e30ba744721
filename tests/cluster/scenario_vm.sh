#!/usr/bin/env bash
# scenario_vm.sh UID: starts the fake VM UID under `fencelock exec` on the
# host whose control socket FENCELOCK_SOCKET names. Called by the name
# scenario_guest.sh (a link to this file), it starts a real VM instead: QEMU
# with the test guest (tests/microvm), whose fakevm writes the volume from
# inside the guest through virtio-blk (under `fencelock exec --qemu`), and,
# when the scenario made one (SC_GUEST_FS), keeps an ext4 filesystem busy on
# a second volume, mount UIDfs. Both the scenarios (first
# start, through cl_spawn) and fencelockd (recovery: [host] recover_command,
# with FENCELOCK_SOCKET set and the spec on stdin) run it, so a VM moved to
# another host runs there exactly as it ran on the first.
#
# Paths come from the socket, RUN/hH/run/fencelockd.sock (cl_write_config):
#   registered volume  RUN/UID.img            the LUN's one name, the same on
#                                             every host (the volume lease's key;
#                                             a real VM registers its mount path
#                                             with the identity id:UID instead)
#   written volume     RUN/hH/mnt-UID/disk    host H's own flstall mount of it
#   fakevm logs        RUN/hH/fakevm/         for vmcheck (a guest's arrives
#                                             through its second serial port)
#   this script's log  RUN/hH/log/vm-UID.log
# The registered path is the backing file because every host must register
# the same path (the daemon refuses "other volumes"), while each host reaches
# the LUN through its own mount, so that a storage fault hits one host only.
set -u
uid=${1:?usage: scenario_vm.sh UID}
sock=${FENCELOCK_SOCKET:?FENCELOCK_SOCKET is not set}
hdir=${sock%/run/fencelockd.sock}
host=${hdir##*/h}
run=${hdir%/h*}
build=${run%/cluster/run-*}
FL_ROOT=${FL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
[[ "$host" =~ ^[0-9]+$ ]] && [ -d "$run" ] && [ -x "$build/fencelock" ] || {
    echo "scenario_vm.sh: cannot derive the host from FENCELOCK_SOCKET=$sock" >&2; exit 124; }
mkdir -p "$hdir/fakevm" "$hdir/log"
exec </dev/null >>"$hdir/log/vm-$uid.log" 2>&1
# The incarnation the cluster gave this start (0 before the first registration):
# a label for people; vmcheck tells processes apart by their nonce.
inc=$("$build/fencelock" -s "$sock" vms -o json -t 2000 2>/dev/null |
    jq -r --arg u "$uid" '[.vms[]? | select(.uid == $u) | .incarnation][0] // 0' 2>/dev/null)
[[ "$inc" =~ ^[0-9]+$ ]] || inc=0
echo "$(date -u +%T.%N | cut -c1-12) scenario_vm.sh: $uid on host $host (incarnation $inc, pid $$)"
if [ "$(basename "$0")" = scenario_guest.sh ]; then
    # `fencelock exec --qemu` reads the uid (-name guest=UID) and the volumes
    # (-drive file=...) from QEMU's own command line. Each host reaches a
    # volume through its own flstall mount, a path no other host has, so the
    # volumes are named by an operator-given identity (PATH:id=ID), as a
    # host-local alias of a SAN LUN would be.
    disk=$hdir/mnt-$uid/disk fs=$hdir/mnt-${uid}fs/disk
    ids=(--volume "$disk:id=$uid") fsarg=()
    if [ -e "$fs" ]; then ids+=(--volume "$fs:id=${uid}-fs"); fsarg=(--fs "$fs"); fi
    exec "$FL_ROOT/tests/microvm/qemu_guest.sh" --guest "$build/microvm" --vm "$uid" --host "$host" --inc "$inc" \
        --disk "$disk" "${fsarg[@]}" --log "$hdir/fakevm/fakevm-$uid-h$host-q$$.log" \
        --console "$hdir/log/console-$uid-$$.log" --under "$build/fencelock" -s "$sock" exec --qemu "${ids[@]}" --
fi
exec "$build/fencelock" -s "$sock" exec --vm "$uid" --volume "$run/$uid.img" -- \
    "$build/tools/fakevm" --volume "$hdir/mnt-$uid/disk" --vm "$uid" --host "$host" \
    --incarnation "$inc" --interval-ms "${SC_VM_INTERVAL_MS:-20}" --log-dir "$hdir/fakevm"
