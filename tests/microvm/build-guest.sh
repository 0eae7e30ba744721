#!/usr/bin/env bash
# build-guest.sh BUILD: makes the test guest of the real-microVM tests under
# BUILD/microvm/: guest.cpio.gz (busybox-static, a static fakevm, the virtio
# block modules of the host kernel, tests/microvm/guest_init as /init) and
# vmlinuz (that kernel). Everything comes from Debian packages installed by
# scripts/deps.sh (linux-image-cloud-amd64, busybox-static, qemu-system-x86).
# Prints the directory; exits 77 (skip) if a piece is missing. Rebuilds only
# when an input is newer than the image.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/microvm
kernel=${FL_GUEST_KERNEL:-$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$kernel" ] || kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -r "$kernel" ] || { echo "no guest kernel in /boot (install linux-image-cloud-amd64)"; exit 77; }
kver=${kernel#*/vmlinuz-}
mods=/lib/modules/$kver/kernel/drivers
bb=/bin/busybox    # busybox-static's: the guest has no C library
[ -x "$bb" ] || { echo "no $bb (install busybox-static)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "no qemu-system-x86_64 (install qemu-system-x86)"; exit 77; }
img=$out/guest.cpio.gz
inputs=("$root/tests/microvm/guest_init" "$root/tests/microvm/build-guest.sh" "$root"/tests/tools/fakevm/*.[ch]
        "$root"/common/version.[ch] "$kernel")
if [ -s "$img" ] && [ -s "$out/vmlinuz" ]; then
    fresh=1; for f in "${inputs[@]}"; do [ "$f" -nt "$img" ] && fresh=0; done
    [ $fresh = 1 ] && { echo "$out"; exit 0; }
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,proc,sys,dev,tmp,mnt,lib/modules} "$out"
cp "$bb" "$tmp/bin/busybox"
# fakevm, linked statically: the guest has no C library.
cc -static -O2 -std=c11 -D_GNU_SOURCE -I"$root/include" -I"$root" -o "$tmp/bin/fakevm" \
    -I"$build/gen" "$root"/tests/tools/fakevm/*.c "$root"/common/assert.c "$root"/common/crc32c.c \
    "$root"/common/log.c "$root"/common/version.c
for m in virtio/virtio_ring virtio/virtio virtio/virtio_mmio virtio/virtio_pci virtio/virtio_pci_modern_dev \
         virtio/virtio_pci_legacy_dev block/virtio_blk; do
    f=$(ls "$mods/$m.ko"* 2>/dev/null | head -1)
    [ -n "$f" ] || continue
    case $f in
        *.ko) cp "$f" "$tmp/lib/modules/";;
        *.ko.xz) xz -dc "$f" > "$tmp/lib/modules/$(basename "$m").ko";;
        *.ko.zst) zstd -qdc "$f" > "$tmp/lib/modules/$(basename "$m").ko";;
    esac
done
[ -e "$tmp/lib/modules/virtio_blk.ko" ] || { echo "no virtio_blk module for $kver"; exit 77; }
install -m 0755 "$root/tests/microvm/guest_init" "$tmp/init"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$img.new"
mv "$img.new" "$img"
cp "$kernel" "$out/vmlinuz"
echo "$out"
