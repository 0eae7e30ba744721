#!/usr/bin/env bash
# The real block device on a FUSE file that freezes: a read and a write (and
# enough extra I/O to make io_submit itself block) report their timeout on
# time while the loop stays responsive; after unfreeze the late completions
# are absorbed and I/O works; "fail" gives -FL_EIO; close while frozen returns.
# Runs with FUSE async direct I/O on (the default) and off.
source "$FL_ROOT/tests/lib/common.sh"

source "$FL_ROOT/tests/lib/flstall.sh"
PROBE=$FL_BUILD/tools/aioprobe
[ -x "$PROBE" ] || fail "aioprobe not built (make BUILD=$FL_BUILD all)"

# Both ways FUSE serves O_DIRECT aio: async (default: io_submit blocks once
# 12 requests are out) and sync (--sync-dio: io_submit blocks at once).
# Deadline 1 s; a timeout may be reported up to 1 s late on a loaded CI box.
for mode in async-dio --sync-dio; do
    if [ "$mode" = async-dio ]; then mount_flstall; else mount_flstall "$mode"; fi
    echo "== flstall $mode"
    "$PROBE" stall "$MNT/disk" "$MNT/ctl" 1000 1000 >"$T/probe.out" 2>&1
    rc=$?
    cat "$T/probe.out"
    [ $rc -eq 0 ] || fail "aioprobe stall failed with flstall $mode (exit $rc)"
    kill -0 $FLSTALL_PID 2>/dev/null || fail "flstall died during the test"
    grep -q 'mode=ok blocked=0' "$MNT/ctl" || fail "requests left blocked in flstall: $(cat "$MNT/ctl")"
    flstall_stop; FLSTALL_PID=
done
exit 0
