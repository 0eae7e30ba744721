#!/usr/bin/env bash
# The real block device on a FUSE file that freezes: a read and a write (and
# enough extra I/O to make io_submit itself block) report their timeout on
# time while the loop stays responsive; after unfreeze the late completions
# are absorbed and I/O works; "fail" gives -FL_EIO; close while frozen returns.
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
"$FLSTALL" "$MNT" --backing "$BACK" -f >"$T/flstall.log" 2>&1 &
FLSTALL_PID=$!
for _ in $(seq 50); do [ -e "$MNT/disk" ] && break; kill -0 $FLSTALL_PID 2>/dev/null || break; sleep 0.1; done
if [ ! -e "$MNT/disk" ]; then
    grep -qiE 'fuse: device not found|permission denied|not permitted' "$T/flstall.log" &&
        skip "cannot mount FUSE here: $(head -1 "$T/flstall.log")"
    fail "flstall did not mount: $(cat "$T/flstall.log")"
fi

# Deadline 1 s; a timeout may be reported up to 1 s late on a loaded CI box.
"$PROBE" stall "$MNT/disk" "$MNT/ctl" 1000 1000 >"$T/probe.out" 2>&1
rc=$?
cat "$T/probe.out"
[ $rc -eq 0 ] || fail "aioprobe stall failed (exit $rc)"
kill -0 $FLSTALL_PID 2>/dev/null || fail "flstall died during the test"
grep -q 'mode=ok blocked=0' "$MNT/ctl" || fail "requests left blocked in flstall: $(cat "$MNT/ctl")"
exit 0
