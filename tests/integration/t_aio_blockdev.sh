#!/usr/bin/env bash
# On a block device (a loop device with 4096-byte logical sectors) the real
# bdev detects the sector size with BLKSSZGET, its size with BLKGETSIZE64,
# and refuses a different requested sector size with -FL_ESECTOR.
source "$FL_ROOT/tests/lib/common.sh"

PROBE=$FL_BUILD/tools/aioprobe
[ -x "$PROBE" ] || fail "$PROBE not built (make BUILD=$FL_BUILD all)"
command -v losetup >/dev/null || skip "losetup missing (util-linux)"
[ "$(id -u)" -eq 0 ] || skip "needs root for a loop device"
truncate -s 4M "$T/lo.img"
LOOP=$(losetup --sector-size 4096 -f --show "$T/lo.img" 2>"$T/losetup.err") ||
    skip "cannot attach a loop device here: $(cat "$T/losetup.err")"
on_exit "losetup -d $LOOP"

expect_rc 0 "$PROBE" open "$LOOP" 0
[ "$out" = "sector=4096 size=4194304" ] || fail "detected '$out', expected sector=4096 size=4194304"
expect_rc 0 "$PROBE" open "$LOOP" 4096
expect_rc 1 "$PROBE" open "$LOOP" 512
echo "$out" | grep -q "^error=-20 $LOOP: sector size 512 requested, but the device's logical sector size is 4096" ||
    fail "unexpected refusal: $out"
echo "loop device: $out"
exit 0
