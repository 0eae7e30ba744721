#!/usr/bin/env bash
# [cluster] operator_forwarding = no: a leader runs operator commands asked on
# its own control socket only. A drain asked on a follower is refused with
# the reason (run it on the leader), the leader logs the refusal, nothing is
# drained; the same drain asked on the leader works.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

ctl() { local h=$1; shift; "$FL" -s "$(dl_sock "$h")" "$@"; }
drained() { dl_json "$1" hosts | jq -r --argjson id "$2" '.hosts[] | select(.id == $id) | .drained'; }
dl_format
DL_N=3
for i in 1 2 3; do dl_config 3 "$i" "[cluster]" "operator_forwarding = no"; done
dl_start_all
dl_wait_cluster 20
L=$(dl_leader 1)
F=$(( L % 3 + 1 )); R=$(( F % 3 + 1 ))
# The follower may refuse before it has heard the leader's protocol; retry that only.
refused=0
for _ in $(seq 20); do
    out=$(ctl "$F" host drain "$R" 2>&1); rc=$?
    if grep -q "operator_forwarding = no" <<<"$out"; then refused=1; break; fi
    [ $rc -eq 0 ] && fail "a follower's forwarded drain ran: $out"
    sleep 0.2
done
[ $refused = 1 ] || fail "the forwarded drain was not refused for operator_forwarding: $out"
[ $rc -ne 0 ] || fail "the refused drain exited 0"
grep -q "refused an operator request forwarded by host $F: operator_forwarding = no" "$T/h$L/log" ||
    fail "the leader did not log the refusal: $(grep -i operator "$T/h$L/log")"
[ "$(drained "$L" "$R")" = false ] || fail "h$R drained by a refused request"
expect_rc 0 ctl "$L" host drain "$R" --wait-s 20
[ "$(drained "$L" "$R")" = true ] || fail "h$R not drained when asked on the leader: $(dl_json "$L" hosts)"
exit 0
