#!/usr/bin/env bash
# A VM manager stops a VM (SIGTERM to its wrapper, which forwards it to the
# VMM, reports the clean exit and releases the leases) and at once starts it
# on another host. The wrapper's exit means the stop is committed: the old
# host answers the release once the VM_END it proposed is applied there (so
# the old host's own view shows the VM stopped the moment the wrapper is
# gone), and the new host, which may not have applied that commit yet, holds
# the registration until its view catches up instead of refusing it ("VM X is
# placed on host N"). The start is tried once (--wait 0: no retry hides a
# refusal), on each host in turn, so the leader is once the old host, once
# the new one and once neither.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 3
dl_start_all
dl_wait_cluster 20
vm_json() { dl_json "$1" vms | jq -c --arg u "$2" '.vms[] | select(.uid == $u)'; }

h=1
dl_exec "$h" mv --wait 0
wait_for 10 dl_vm_started_on mv "$h" || fail "mv did not start on h$h: $(cat "$T/exec-mv-h$h.out")"
for round in 1 2 3 4 5 6; do
    kill -TERM "$EXEC_PID"
    wait "$EXEC_PID"; rc=$?
    [ "$rc" = 143 ] || fail "round $round: the wrapper on h$h exited $rc, not 143 (128+SIGTERM): $(cat "$T/exec-mv-h$h.out")"
    grep -q "reporting the exit" "$T/exec-mv-h$h.out" && fail "round $round: $(cat "$T/exec-mv-h$h.out")"
    old=$h h=$(( h % 3 + 1 ))
    dl_exec "$h" mv --wait 0
    # Checked after the new start is under way (it must not wait for us):
    # the old host saw the stop committed before its wrapper exited. Its
    # view may since show the new placement, never the old one.
    j=$(vm_json "$old" mv)
    [ "$(jq -r .host <<<"$j")" != "$old" ] || fail "round $round: h$old still places mv on itself after the wrapper exited: $j"
    wait_for 10 dl_vm_started_on mv "$h" ||
        fail "round $round: mv did not start on h$h right after its stop on h$old: $(cat "$T/exec-mv-h$h.out")"
done
# The runs never overlapped: each start line comes after the last beat of
# the run before it (the log holds "start|beat UID SOCKET MS" lines).
python3 - "$T/vm-mv.log" <<'PY' || fail "runs of mv overlapped: $(cat "$T/vm-mv.log")"
import sys
last = None; prev_sock = None
for line in open(sys.argv[1]):
    kind, _, sock, ms = line.split()
    ms = int(ms)
    if kind == "start" and last is not None:
        assert ms >= last, (line, last)
    if kind == "beat" and prev_sock is not None:
        assert sock == prev_sock, line
    prev_sock = sock; last = ms
PY
echo "PASS: 6 stops each followed at once by a start on another host"
