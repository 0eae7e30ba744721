#!/usr/bin/env bash
# vm.acquire names the process the daemon guards and, at a kill, signals:
# the real daemon refuses pid 1, a pid that is not the caller's (its parent,
# an unrelated sleep) and a pid that does not exist, each with code 14 or 13
# and a sentence, before anything is placed; the caller's own child is
# granted. Nothing was signalled: the unrelated process still runs.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
command -v jq >/dev/null || skip "jq missing (apt-get install jq)"

dl_setup 1
dl_start 1
# Quorate and its own delta lease valid: an acquire is refused before both.
wait_for 10 eval '[ "$(dl_json 1 status | dl_py "\"%s %s\" % (d.get(\"quorate\"), d.get(\"lease_valid\"))")" = "True True" ]' ||
    fail "h1 not quorate alone with a valid lease: $(dl_json 1 status)"
touch "$T/vol-p.img"
# Another process of ours, not the caller: its output must not hold the
# suite's pipe open, and it must not outlive the test.
sleep 600 >/dev/null 2>&1 & OTHER=$!
on_exit "kill $OTHER"
REG='{"v":1,"op":"vm.register","uid":"vm-p","volumes":[{"path":"'"$T/vol-p.img"'","id":"id:acquire-pid-test","ro":false}]}'
acq() { echo '{"v":1,"op":"vm.acquire","uid":"vm-p","pid":'"$1"'}'; }
out=$(python3 "$FL_ROOT/tests/lib/ctl_req.py" "$(dl_sock 1)" "$REG" "$(acq 1)" "$(acq $$)" "$(acq "$OTHER")" \
      "$(acq 4000000)") || fail "connection closed: $out"
codes=$(jq -r '.code // 0' <<<"$out" | tr '\n' ' ')
[ "$codes" = "0 14 14 14 13 " ] || fail "codes $codes, expected '0 14 14 14 13 ': $out"
jq -r 'select(.code == 14) | .error' <<<"$out" | grep -q "nor one of its descendants" || fail "message: $out"
kill -0 "$OTHER" || fail "the unrelated process was signalled"
dl_json 1 vms | jq -e '.vms[] | select(.uid == "vm-p" and .state == "STOPPED")' >/dev/null ||
    fail "vm-p was placed by a refused acquire: $(dl_json 1 vms)"
out=$(python3 "$FL_ROOT/tests/lib/ctl_req.py" "$(dl_sock 1)" "$(acq @CHILD@)") || fail "connection closed: $out"
jq -e '.ok == true and (.guard_path | length) > 0' <<<"$out" >/dev/null || fail "own child not granted: $out"
kill "$OTHER"
exit 0
