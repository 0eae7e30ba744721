#!/usr/bin/env bash
# Moving a VM and draining a host, on three loopback daemons. `vm move UID
# --to H` on the leader hands the VM over: its old host stops it and
# releases its volume lease, the new host starts it; the two never run it
# at the same time. `host drain H` moves every VM of H elsewhere the same
# way, then nothing is placed on H (an exec there is refused at once) until
# `host undrain H`. Each change is logged at notice with the caller's uid.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }
# no_overlap UID A B: every line host B wrote for UID comes after A's last one.
no_overlap() {
    local last_a first_b
    last_a=$(grep " $(dl_sock "$2") " "$T/vm-$1.log" | tail -1 | awk '{print $4}')
    first_b=$(grep "^start $1 $(dl_sock "$3") " "$T/vm-$1.log" | head -1 | awk '{print $4}')
    [ -n "$last_a" ] && [ -n "$first_b" ] && [ "$first_b" -gt "$last_a" ] ||
        fail "$1: h$3 started at ${first_b:-never}, h$2 last wrote at ${last_a:-never}"
}
dl_setup 3
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
for v in vm-a vm-b; do dl_exec "$F" "$v"; done
for v in vm-a vm-b; do wait_for 10 dl_vm_started_on "$v" "$F" || fail "$v did not start on h$F"; done

expect_rc 6 ctl "$F" vm move no-such-vm --to "$R"
grep -q "VM no-such-vm is not registered" <<<"$out" || fail "the leader's refusal, through h$F: $out"
expect_rc 2 ctl "$L" vm move vm-a
expect_rc 6 ctl "$L" vm move no-such-vm --to "$R"
expect_rc 0 ctl "$L" vm move vm-a --to "h$R" --wait-s 30
wait_for 5 dl_vm_alive_on vm-a "$R" || fail "vm-a not alive on h$R"
no_overlap vm-a "$F" "$R"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: move VM vm-a to host $R" "$T/h$L/log" || fail "no notice for the move"

expect_rc 0 ctl "$L" host drain "$F" --wait-s 30
B=$(dl_vm_host vm-b)
[ -n "$B" ] && [ "$B" != "$F" ] || fail "vm-b still on h$F after the drain"
wait_for 5 dl_vm_alive_on vm-b "$B" || fail "vm-b not alive on h$B"
no_overlap vm-b "$F" "$B"
out=$(ctl "$L" events -o json)
jq -e --argjson f "$F" '[.events[] | select(.type == "vm-placed" and .vm == "vm-b" and .from_host == $f and
       .cause == "operator")] | length == 1' <<<"$out" >/dev/null || fail "the drain's move is not in the history: $out"
jq -e --argjson f "$F" --argjson u "$(id -u)" '[.events[] | select(.type == "vm-placed" and .vm == "vm-a" and
       .from_host == $f and .by_uid == $u)] | length == 1' <<<"$out" >/dev/null || fail "the move of vm-a does not name the caller: $out"
ctl "$L" hosts -o json | jq -e --argjson f "$F" '.hosts[] | select(.id == $f) | .drained and .quarantined' >/dev/null ||
    fail "h$F not shown drained: $(ctl "$L" hosts -o json)"
out=$(ctl "$L" status || true)
grep -q "^Marked: *host $F: drained" <<<"$out" && grep -q "^Votes: *3 of 3 expected, threshold 2" <<<"$out" ||
    fail "status text lacks the drain or the votes: $out"
out=$(ctl "$L" hosts)
grep -q "| drained *|" <<<"$out" || fail "hosts table lacks the drain: $out"
expect_rc 3 ctl "$L" vm move vm-a --to "$F"
grep -q "quarantined or drained" <<<"$out" || fail "move onto a drained host: $out"
t0=$(now_ms)
dl_exec "$F" vm-c
wait "$EXEC_PID" && fail "vm-c ran on the drained h$F"
[ $(( $(now_ms) - t0 )) -lt 5000 ] || fail "the exec on the drained h$F was not refused at once"
grep -q "drained" "$T/exec-vm-c-h$F.out" || fail "exec refusal: $(cat "$T/exec-vm-c-h$F.out")"
grep -q "operator uid $(id -u) (pid [0-9]*) asks: drain host $F" "$T/h$L/log" || fail "no notice for the drain"

expect_rc 0 ctl "$L" host undrain "$F"
ctl "$L" hosts -o json | jq -e --argjson f "$F" '.hosts[] | select(.id == $f) | .drained == false' >/dev/null ||
    fail "h$F still drained"
expect_rc 6 ctl "$L" host undrain "$F"
dl_exec "$F" vm-d
wait_for 10 dl_vm_started_on vm-d "$F" || fail "vm-d did not start on the undrained h$F"
exit 0
