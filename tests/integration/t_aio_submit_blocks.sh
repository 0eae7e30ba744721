#!/usr/bin/env bash
# Pins the kernel behaviour that bdev_aio.c is built around: with the FUSE
# server frozen, io_submit() on an O_DIRECT file returns at once for the
# first requests but blocks once FUSE's background queue (max_background,
# 12 by default) is full, and at once when FUSE async direct I/O is off.
# If this test starts failing, io_submit no longer blocks there and the
# header comment of disklock/bdev_aio.c is out of date (the submission
# thread stays correct either way).
source "$FL_ROOT/tests/lib/common.sh"

[ -e /dev/fuse ] || skip "no /dev/fuse: FUSE is unavailable here"
command -v fusermount3 >/dev/null || skip "fusermount3 missing (apt-get install fuse3)"
FLSTALL=$FL_BUILD/tools/flstall; PROBE=$FL_BUILD/tools/aioprobe
[ -x "$FLSTALL" ] && [ -x "$PROBE" ] || fail "flstall/aioprobe not built (make BUILD=$FL_BUILD all)"

MNT=$T/mnt; BACK=$T/backing.img
mkdir -p "$MNT"; truncate -s 8M "$BACK"
flstall_stop() {
    echo ok > "$MNT/ctl" 2>/dev/null
    fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    if [ -n "${FLSTALL_PID:-}" ]; then
        kill "$FLSTALL_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$FLSTALL_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$FLSTALL_PID" 2>/dev/null
    fi
}
on_exit flstall_stop
# mount_flstall [ARGS...]: (re)mounts flstall on $MNT; skips if FUSE cannot mount here.
mount_flstall() {
    "$FLSTALL" "$MNT" --backing "$BACK" -f "$@" >"$T/flstall.log" 2>&1 &
    FLSTALL_PID=$!
    for _ in $(seq 50); do [ -e "$MNT/disk" ] && break; kill -0 $FLSTALL_PID 2>/dev/null || break; sleep 0.1; done
    if [ ! -e "$MNT/disk" ]; then
        grep -qiE 'fuse: device not found|permission denied|not permitted' "$T/flstall.log" &&
            skip "cannot mount FUSE here: $(head -1 "$T/flstall.log")"
        fail "flstall did not mount: $(cat "$T/flstall.log")"
    fi
}

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
