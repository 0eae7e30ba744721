#!/usr/bin/env bash
# `fencelock direct format` over a device on which a host renews its delta
# lease (and holds a volume lease) is refused, naming the live host and the
# held lease, and the device is left as it was; --force formats it anyway.
# The daemon under it then finds its own record wiped, says exactly that,
# stops its VM (others would see its id free) and takes its id again by
# itself, with a higher generation.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"

DL_N=1
dl_format
dl_config 1 1
dl_start 1
wait_for 20 eval '[ "$(dl_json 1 status | dl_py "d.get(\"lease_valid\")")" = True ]' || fail "h1 holds no lease"
dl_exec 1 vm-a
wait_for 10 dl_vm_started_on vm-a 1 || fail "vm-a did not start: $(cat "$T/exec-vm-a-h1.out")"
sum_before=$(head -c 4M "$DL_IMG" | md5sum)
out=$("$FL" direct format --device "$DL_IMG" --cluster t --io-timeout 1 --max-hosts 8 --volume-slots 16 2>&1); rc=$?
[ "$rc" -eq 3 ] || fail "format over a live cluster exited $rc, expected 3 (busy): $out"
echo "$out" | grep -q "refused: cluster 't' is live on it: host_id 1 (h1, generation" ||
    fail "the refusal does not name the live host: $out"
echo "$out" | grep -q "volume lease .* held by host_id 1" || fail "the refusal does not list vm-a's volume lease: $out"
dl_vm_alive_on vm-a 1 || fail "vm-a died during the refused format"
grep -q "was wiped" "$T/h1/log" && fail "the refused format wiped h1's record"
gen_before=$(echo "$out" | sed -n 's/.*host_id 1 (h1, generation \([0-9]*\)).*/\1/p')
"$FL" direct format --device "$DL_IMG" --cluster t --io-timeout 1 --max-hosts 8 --volume-slots 16 --force > "$T/f.out" 2>&1 ||
    fail "format --force failed: $(cat "$T/f.out")"
grep -q "format done" "$T/f.out" || fail "format --force did not format: $(cat "$T/f.out")"
wait_for 10 grep -q "our record (host_id 1, generation $gen_before) was wiped" "$T/h1/log" ||
    fail "h1 did not say its record was wiped: $(tail -5 "$T/h1/log")"
wait_for 30 eval '[ "$(dl_json 1 status | dl_py "d.get(\"lease_valid\")")" = True ]' ||
    fail "h1 did not take its id again: $(tail -5 "$T/h1/log")"
gen_after=$("$FL" direct dump --device "$DL_IMG" -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
recs = [r for r in d.get("lockspace", d).get("records", []) if r.get("host_id") == 1] if isinstance(d, dict) else []
print(recs[0].get("generation", "") if recs else "")' 2>/dev/null)
echo "generation of host_id 1: $gen_before before the format, ${gen_after:-?} after taking it again"
[ -z "$gen_after" ] || [ "$gen_after" -gt "$gen_before" ] || fail "the id was taken again with generation $gen_after <= $gen_before"
exit 0
