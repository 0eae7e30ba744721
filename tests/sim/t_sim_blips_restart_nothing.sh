# I4: network outages shorter than P with healthy storage restart nothing.
source "$FL_ROOT/tests/lib/common.sh"
"$FL_BUILD/fencelock-sim" --seeds 1..100 --nemesis blip,flap,partial -o json > "$T/r.json" || fail "violation: $(head -c 2000 "$T/r.json")"
python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r["violations"]==0 and r["false_failovers"]==0, r
assert all(x["starts"]==6 for x in r["runs"]), "a VM was restarted"
print(r["seeds"], "seeds,", r["faults"], "short outages, 0 restarts")' "$T/r.json"
