# `fencelock direct dump -o json` of a formatted device shows the lockspace and,
# under "fencelock", the header, the mailboxes and the leases in use.
source "$FL_ROOT/tests/lib/common.sh"
truncate -s 200M "$T/dev.img"
expect_rc 0 "$FL" direct format --device "$T/dev.img" --cluster dumpme
expect_rc 0 "$FL" direct dump "$T/dev.img" -o json
python3 - "$out" <<'PY' || fail "bad dump: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["lockspace"] == "dumpme" and d["sector_size"] == 512, d
fa = d["fencelock"]
assert fa["cluster"] == "dumpme" and fa["max_hosts"] == 64, fa
assert "mailboxes" in fa and "leases_in_use" in fa, fa
print("dump -o json: lockspace and fencelock area present")
PY
