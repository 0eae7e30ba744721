# Shell helpers for suites that mount the project's stalling FUSE filesystem:
# source after tests/lib/common.sh. Skips the test without FUSE; gives
# FLSTALL (the tool), MNT (the mount point) and BACK (its 8 MiB backing file)
# under $T, mount_flstall [ARGS...] to (re)mount it, and unmounts and stops it
# on exit, even while it is frozen.
[ -e /dev/fuse ] || skip "no /dev/fuse: FUSE is unavailable here"
command -v fusermount3 >/dev/null || skip "fusermount3 missing (apt-get install fuse3)"
FLSTALL=$FL_BUILD/tools/flstall
[ -x "$FLSTALL" ] || fail "$FLSTALL not built (make BUILD=$FL_BUILD all)"

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
