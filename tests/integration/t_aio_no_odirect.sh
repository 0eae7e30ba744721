#!/usr/bin/env bash
# A file on a filesystem without O_DIRECT (ramfs here; tmpfs before Linux
# 6.6) is refused at open with a message that says why and what to use.
source "$FL_ROOT/tests/lib/common.sh"

PROBE=$FL_BUILD/tools/aioprobe
[ -x "$PROBE" ] || fail "$PROBE not built (make BUILD=$FL_BUILD all)"
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a ramfs"
mkdir -p "$T/ram"
mount -t ramfs none "$T/ram" 2>"$T/mount.err" || skip "cannot mount ramfs here: $(cat "$T/mount.err")"
on_exit "umount $T/ram || umount -l $T/ram"
truncate -s 1M "$T/ram/disk.img"

expect_rc 1 "$PROBE" open "$T/ram/disk.img" 0
echo "$out" | grep -q "^error=-1 open $T/ram/disk.img: the filesystem does not support O_DIRECT" ||
    fail "unexpected message: $out"
echo "refused: $out"
exit 0
