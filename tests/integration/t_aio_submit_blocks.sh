#!/usr/bin/env bash
# Pins the kernel behaviour that bdev_aio.c is built around: with the FUSE
# server frozen, io_submit() on an O_DIRECT file returns at once for the
# first requests but blocks once FUSE's background queue (max_background,
# 12 by default) is full, and at once when FUSE async direct I/O is off.
# If this test starts failing, io_submit no longer blocks there and the
# header comment of disklock/bdev_aio.c is out of date (the submission
# thread stays correct either way).
source "$FL_ROOT/tests/lib/common.sh"

source "$FL_ROOT/tests/lib/flstall.sh"
PROBE=$FL_BUILD/tools/aioprobe
[ -x "$PROBE" ] || fail "aioprobe not built (make BUILD=$FL_BUILD all)"

mount_flstall
out=$(timeout 30 "$PROBE" rawsubmit "$MNT/disk" "$MNT/ctl" 2>&1); rc=$?
echo "async direct I/O: $out"
[ $rc -eq 0 ] || fail "io_submit did not block on a frozen FUSE file (exit $rc): see bdev_aio.c's header"
echo "$out" | grep -q 'io_submit blocked at #' || fail "unexpected output"
flstall_stop; FLSTALL_PID=

# Without FUSE async direct I/O the very first io_submit blocks.
mount_flstall --sync-dio
out=$(timeout 30 "$PROBE" rawsubmit "$MNT/disk" "$MNT/ctl" 2>&1); rc=$?
echo "sync direct I/O: $out"
[ $rc -eq 0 ] && echo "$out" | grep -q 'io_submit blocked at #0 ' ||
    fail "with --sync-dio the first io_submit should block (exit $rc)"
exit 0
