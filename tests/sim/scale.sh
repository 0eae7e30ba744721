#!/usr/bin/env bash
# make sim-scale: the simulator at scale (not part of make test; about 15
# minutes on two cores). Every nemesis, 2 VMs per host, the default duration,
# at SCALE_SPECS "HOSTS SEEDS" (default 32 hosts 20 seeds, 64 hosts 8 seeds,
# 128 hosts 8 seeds), with the default voter set (5 voters, the other hosts
# learners). Prints one line per sweep: runs, violations, wall time, peak
# RSS, failover and hand-over percentiles; the JSON reports go to
# BUILD/sim-scale/. Exits 1 on any violation or split brain.
set -uo pipefail
build=${1:-build}
SIM=$(cd "$build" && pwd)/fencelock-sim
out=$(cd "$build" && pwd)/sim-scale; mkdir -p "$out"
specs=${SCALE_SPECS:-"32 1..20;64 1..8;128 1..8"}
bad=0
IFS=';' read -ra list <<<"$specs"
for spec in "${list[@]}"; do
    read -r hosts seeds <<<"$spec"
    json=$out/hosts$hosts.json
    start=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$out/rss$hosts" "$SIM" --seeds "$seeds" --hosts "$hosts" -o json >"$json"
    rc=$?
    wall=$(( ($(date +%s%N) - start) / 1000000 ))
    python3 - "$json" "$hosts" "$wall" "$(cat "$out/rss$hosts")" "$rc" <<'PY' || bad=1
import json, sys
path, hosts, wall, rss_kb, rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000.0, int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(path))
f, h = r["failover"], r["handover"]
print("hosts %3d: %3d runs %4d faults %3d violations %d split-brain; wall %6.0f s (%.1f s per run), peak RSS %.2f GB; "
      "failover p50 %.2f s p99 %.2f s (n=%d); hand-over p50 %.2f s p99 %.2f s (n=%d)"
      % (hosts, r["seeds"], r["faults"], r["violations"], r["split_brain"], wall, wall / max(r["seeds"], 1),
         rss_kb / 1048576.0, f["p50_s"], f["p99_s"], f["count"], h["p50_s"], h["p99_s"], h["count"]))
sys.exit(0 if rc == 0 and r["violations"] == 0 and r["split_brain"] == 0 else 1)
PY
done
exit $bad
