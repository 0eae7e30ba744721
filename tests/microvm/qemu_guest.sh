#!/usr/bin/env bash
# qemu_guest.sh --vm UID --host H --inc N --disk PATH --log FILE [--console FILE]
#               [--fs PATH] [--guest DIR] [--print] [--under WRAPPER... --]
# Runs the test guest (tests/microvm/build-guest.sh) under QEMU with TCG, as
# a VM manager would run a microVM: its volume PATH is a raw virtio-blk disk
# opened with O_DIRECT (cache=none, aio=native), its workload (fakevm in the
# guest) writes tagged records to it, and its log reaches FILE through the
# guest's second serial port. QEMU replaces this script (exec), so that
# `fencelock exec` guards QEMU itself. --print prints the command instead.
# --under WRAPPER... -- runs "WRAPPER... -- QEMU-COMMAND-LINE", e.g.
# --under fencelock exec --qemu --: `fencelock exec` then
# reads the VM's uid (-name guest=UID) and volumes (-drive file=) from QEMU's
# own arguments, as it would a VM manager's.
# --fs PATH is a second disk holding ext4 (made by the caller): the guest
# mounts it and keeps rewriting files there (guest_init, fl.fs=1), so the
# caller can fsck it after a failover.
# Image locking is off (file.locking=off): on a SAN nothing but fencelock
# stands between two hosts' writers, so the tests must not be saved by
# QEMU's own lock on a file that happens to be local here.
# FL_GUEST_APPEND adds to the guest kernel's command line.
# FL_GUEST_MACHINE picks the machine: microvm (virtio-mmio, ACPI) or pc
# (virtio-pci; the default: Debian 12's kernel and TCG boot it reliably).
set -euo pipefail
vm='' host='' inc=0 disk='' log='' console=/dev/null fs='' guest='' print=0 under=()
while [ $# -gt 0 ]; do
    case $1 in
        --vm) vm=$2; shift 2;; --host) host=$2; shift 2;; --inc) inc=$2; shift 2;;
        --disk) disk=$2; shift 2;; --log) log=$2; shift 2;; --console) console=$2; shift 2;;
        --fs) fs=$2; shift 2;; --guest) guest=$2; shift 2;; --print) print=1; shift;;
        --under) shift; while [ $# -gt 0 ] && [ "$1" != -- ]; do under+=("$1"); shift; done
                 [ $# -gt 0 ] || { echo "qemu_guest.sh: --under WRAPPER... needs a closing --" >&2; exit 2; }
                 shift;;
        *) echo "qemu_guest.sh: unknown argument $1" >&2; exit 2;;
    esac
done
[[ "$vm" =~ ^[A-Za-z0-9._-]{1,40}$ ]] || { echo "qemu_guest.sh: --vm UID (letters, digits, ._-)" >&2; exit 2; }
[[ "$host" =~ ^[0-9]+$ && "$inc" =~ ^[0-9]+$ ]] || { echo "qemu_guest.sh: --host and --inc are numbers" >&2; exit 2; }
[ -n "$disk" ] && [ -n "$log" ] || { echo "qemu_guest.sh: --disk and --log are required" >&2; exit 2; }
guest=${guest:-${FL_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/microvm}
machine=${FL_GUEST_MACHINE:-pc} noacpi=
# shellcheck disable=SC2054  # the commas are inside qemu's -device arguments
case $machine in
    pc) m=(-M pc -device virtio-blk-pci,drive=d0); fsdev=virtio-blk-pci; noacpi=acpi=off;;
    microvm) m=(-M microvm -device virtio-blk-device,drive=d0); fsdev=virtio-blk-device;;
    *) echo "qemu_guest.sh: FL_GUEST_MACHINE is pc or microvm" >&2; exit 2;;
esac
# acpi=off on pc: PCI finds the virtio disks without it, and the guest
# boots ~0.4 s sooner under TCG (no AML to interpret).
append="console=ttyS0 panic=-1 quiet $noacpi fl.vm=$vm fl.host=$host fl.inc=$inc fl.interval=${FL_GUEST_INTERVAL_MS:-20}"
[ -n "$fs" ] && append+=" fl.fs=1"
[ -z "${FL_GUEST_APPEND:-}" ] || append+=" $FL_GUEST_APPEND"
cmd=(qemu-system-x86_64 -name "guest=$vm" "${m[@]}" -accel tcg -m 128 -nodefaults -no-user-config -no-reboot
     -display none -monitor none -serial "file:$console" -serial "file:$log"
     -kernel "$guest/vmlinuz" -initrd "$guest/guest.cpio.gz" -append "$append"
     -drive "id=d0,file=$disk,format=raw,if=none,cache=none,aio=native,file.locking=off")
if [ -n "$fs" ]; then
    cmd+=(-drive "id=d1,file=$fs,format=raw,if=none,cache=none,aio=native,file.locking=off" -device "$fsdev,drive=d1")
fi
[ ${#under[@]} -eq 0 ] || cmd=("${under[@]}" -- "${cmd[@]}")
if [ $print = 1 ]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
exec "${cmd[@]}"
