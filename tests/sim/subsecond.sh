#!/usr/bin/env bash
# make sim-subsecond: the simulator at sub-second io_timeout (not part of make
# test; a few minutes on two cores). For T = 0.25 s and 0.5 s, with scheduling
# jitter SUB_JITTER_MS (default 10 ms: every host timer fires up to that late,
# above the renewal lateness p99 measured on a loaded host, docs/design.md):
#   1. every nemesis, SUB_SEEDS seeds (default 1..100) at 3 and 5 hosts: no
#      invariant (I1-I6) may be violated;
#   2. blips only (partitions shorter than P, flapping links, storage stalls
#      and latency spikes shorter than F), SUB_BLIP_SEEDS seeds (default
#      1..500) at 3 hosts: at least SUB_MIN_BLIPS (default 5,000 per T, so
#      10,000 in all) checked blips and no false failover (I4).
# Prints one line per sweep and the totals; exits 1 on any violation.
set -uo pipefail
build=${1:-build}
SIM=$(cd "$build" && pwd)/fencelock-sim
seeds=${SUB_SEEDS:-1..100}
blip_seeds=${SUB_BLIP_SEEDS:-1..500}
jitter=${SUB_JITTER_MS:-10}
min_blips=${SUB_MIN_BLIPS:-5000}
out=$(cd "$build" && pwd)/sim-subsecond; mkdir -p "$out"
bad=0
summary() {  # summary FILE LABEL: one line from a JSON report; 1 if it broke an invariant
    python3 - "$1" "$2" "$min_blips" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); label = sys.argv[2]; need = int(sys.argv[3])
f = r["failover"]
blips_ok = "blips" not in label or (r["blips"] >= need and r["false_failovers"] == 0)
print("%-34s %4d seeds %6d faults %6d blips %3d false failovers %3d violations; failover p50 %.2f s p99 %.2f s (n=%d)%s"
      % (label, r["seeds"], r["faults"], r["blips"], r["false_failovers"], r["violations"],
         f["p50_s"], f["p99_s"], f["count"], "" if blips_ok else "  <- fewer than %d blips or a false failover" % need))
sys.exit(0 if r["violations"] == 0 and r["split_brain"] == 0 and blips_ok else 1)
PY
}
for t in 0.25 0.5; do
    for n in 3 5; do
        f="$out/all-T$t-h$n.json"
        "$SIM" --seeds "$seeds" --hosts "$n" --io-timeout "$t" --jitter "$jitter" -o json >"$f" 2>"$f.err"
        summary "$f" "T=$t s hosts $n all nemeses" || { bad=1; cat "$f.err"; }
    done
    f="$out/blips-T$t.json"
    "$SIM" --seeds "$blip_seeds" --hosts 3 --io-timeout "$t" --jitter "$jitter" --nemesis partition,blip,flap,stall -o json \
        >"$f" 2>"$f.err"
    summary "$f" "T=$t s hosts 3 blips" || { bad=1; cat "$f.err"; }
done
echo "JSON reports: $out (jitter $jitter ms)"
[ "$bad" = 0 ] && echo "sim-subsecond: 0 violations, 0 false failovers" || echo "sim-subsecond: FAILED"
exit "$bad"
