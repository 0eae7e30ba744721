#!/usr/bin/env bash
# flstall serves its backing file with O_DIRECT, freezes and releases readers,
# fails with EIO on command, obeys its FIFO, and unmounts cleanly on SIGTERM
# even with a request frozen inside it.
source "$FL_ROOT/tests/lib/common.sh"

source "$FL_ROOT/tests/lib/flstall.sh"
FIFO=$T/ctl.fifo
mount_flstall --ctl "$FIFO"

# Pass-through with O_DIRECT, in both directions.
head -c 65536 /dev/urandom > "$T/pattern"
dd if="$T/pattern" of="$MNT/disk" bs=4096 seek=4 oflag=direct conv=notrunc,fsync status=none ||
    fail "O_DIRECT write through flstall failed"
cmp -n 65536 "$T/pattern" <(dd if="$BACK" bs=4096 skip=4 count=16 status=none) || fail "backing file differs"
dd if="$MNT/disk" of="$T/back" bs=4096 skip=4 count=16 iflag=direct status=none || fail "O_DIRECT read failed"
cmp "$T/pattern" "$T/back" || fail "read back differs"

# freeze holds a reader until unfreeze.
echo freeze > "$MNT/ctl"
grep -q 'mode=frozen' "$MNT/ctl" || fail "ctl does not report frozen: $(cat "$MNT/ctl")"
dd if="$MNT/disk" of=/dev/null bs=4096 count=1 iflag=direct status=none &
reader=$!
sleep 1
kill -0 $reader 2>/dev/null || fail "a read finished while frozen"
grep -q 'blocked=1' "$MNT/ctl" || fail "ctl does not count the blocked read: $(cat "$MNT/ctl")"
echo unfreeze > "$MNT/ctl"
for _ in $(seq 50); do kill -0 $reader 2>/dev/null || break; sleep 0.1; done
kill -0 $reader 2>/dev/null && fail "the read is still blocked 5 s after unfreeze"
wait $reader || fail "the released read failed"

# fail gives EIO; ok restores.
echo fail > "$MNT/ctl"
out=$(dd if="$MNT/disk" of=/dev/null bs=4096 count=1 iflag=direct 2>&1) && fail "read succeeded in fail mode"
echo "$out" | grep -q 'Input/output error' || fail "fail mode gave '$out', expected EIO"
echo ok > "$MNT/ctl"
dd if="$MNT/disk" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read failed after ok"

# The FIFO works too (asynchronous: poll the state).
echo fail > "$FIFO"
for _ in $(seq 50); do grep -q 'mode=fail' "$MNT/ctl" && break; sleep 0.1; done
grep -q 'mode=fail' "$MNT/ctl" || fail "FIFO word not applied: $(cat "$MNT/ctl")"
echo ok > "$FIFO"
for _ in $(seq 50); do grep -q 'mode=ok' "$MNT/ctl" && break; sleep 0.1; done

# SIGTERM with a frozen reader inside: the reader is released, the mount goes away.
echo freeze > "$MNT/ctl"
dd if="$MNT/disk" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null &
reader=$!
sleep 0.5
kill -TERM $FLSTALL_PID
for _ in $(seq 100); do kill -0 $FLSTALL_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $FLSTALL_PID 2>/dev/null && fail "flstall still running 10 s after SIGTERM while frozen"
wait $FLSTALL_PID; FLSTALL_PID=
for _ in $(seq 50); do kill -0 $reader 2>/dev/null || break; sleep 0.1; done
kill -0 $reader 2>/dev/null && fail "the frozen reader was not released by SIGTERM"
grep -q " $MNT " /proc/mounts && fail "$MNT still mounted after SIGTERM"
[ -e "$FIFO" ] && fail "control FIFO left behind"
echo "flstall: pass-through, freeze/unfreeze, fail/ok, FIFO, SIGTERM while frozen all behave"
exit 0
