# Helpers for the control-socket and guard suites (t_ctl_*.sh, t_guard_*.sh):
# source after tests/lib/common.sh. Starts the ctlstub test tool (a stand-in
# for fencelockd's control socket and deadline extension) in $T.
STUB=$FL_BUILD/tools/ctlstub
[ -x "$STUB" ] || fail "$STUB not built (make BUILD=$FL_BUILD all)"
[ -x "$FL" ] || fail "$FL not built (make BUILD=$FL_BUILD all)"
SOCK=$T/ctl.sock
EVENTS=$T/events
STUB_PID=
stub_stop() {
    [ -n "$STUB_PID" ] || return 0
    kill -CONT "$STUB_PID" 2>/dev/null; kill "$STUB_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$STUB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$STUB_PID" 2>/dev/null; STUB_PID=
}
on_exit stub_stop
# stub_start [ctlstub options...]: starts it on $SOCK, waits for "ready".
stub_start() {
    : > "$EVENTS"
    : > "$T/stub.out"   # before the fork: a previous stub's "ready" must not pass for this one's
    "$STUB" -s "$SOCK" -r "$T" -e "$EVENTS" "$@" > "$T/stub.out" 2> "$T/stub.err" &
    STUB_PID=$!
    for _ in $(seq 100); do grep -q ready "$T/stub.out" 2>/dev/null && return 0; sleep 0.05; done
    fail "ctlstub did not start: $(cat "$T/stub.err")"
}
# wait_for SECONDS CMD...: polls CMD every 0.05 s; fails after SECONDS.
wait_for() { local s=$1; shift; local n=$((s * 20))
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done; return 1; }
has_event() { grep -qx "$1" "$EVENTS"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
