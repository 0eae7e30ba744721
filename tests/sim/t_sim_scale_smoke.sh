# The short form of make sim-scale: 40 hosts (five voters, 35 learners),
# crashes and partitions, two seeds of a simulated minute: no invariant may
# be violated and at least one crashed host's VMs must have moved.
source "$FL_ROOT/tests/lib/common.sh"
SIM=$FL_BUILD/fencelock-sim
"$SIM" --seeds 2..3 --hosts 40 --nemesis crash,partition --duration 60 -o json > "$T/r.json" ||
    { cat "$T/r.json"; fail "violations with 40 hosts"; }
python3 - "$T/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["violations"] == 0 and r["split_brain"] == 0, r
assert r["failover"]["count"] > 0, "no crashed host's VMs moved"
f = r["failover"]
print(f"hosts 40: {r['seeds']} seeds, {r['faults']} faults, 0 violations; failover p50 {f['p50_s']:.1f} s max {f['max_s']:.1f} s")
assert f["max_s"] <= 15.0, f
PY
