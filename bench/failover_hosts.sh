#!/usr/bin/env bash
# make bench, section 9: failover and hand-over time against the number of
# hosts, in the simulator (T = 1 s, P = 10 s, 2 VMs per host, 5 voters and the
# other hosts learners). Crashes and partitions only (--nemesis
# crash,partition), FH_SPECS "HOSTS SEEDS DURATION" (default 3 hosts 40 seeds,
# 16 hosts 12, 64 hosts 4, 128 hosts 3, 120 simulated seconds each).
# Writes BUILD/bench/failover-hosts.csv and, with gnuplot, failover-hosts.png;
# prints a table next to sanlock's 8N + 60 s (68 s at N = 1 s, whatever the
# number of hosts). About 5 minutes on two cores.
# Then the same crash with real daemons in network namespaces (root; FH_REAL_HOSTS,
# default 3 16 32 hosts; skip with FH_SKIP_REAL=1): tests/cluster/t_scale_32.sh
# with SCALE_HOSTS, one run each, crash of a host running two VMs -> both
# writing elsewhere (failover-hosts-real.csv, drawn on the same plot). About
# 4 minutes; timing: run make bench under flock /tmp/fl-heavy.lock.
set -uo pipefail
build=${1:-build}
B=$(cd "$build" && pwd)
specs=${FH_SPECS:-"3 1..40 120;16 1..12 120;64 1..4 120;128 1..3 120"}
mkdir -p "$B/bench"
csv=$B/bench/failover-hosts.csv
echo "hosts,seeds,violations,failover_n,failover_p50_s,failover_p99_s,failover_max_s,handover_n,handover_p50_s,handover_p99_s,wall_s" >"$csv"
printf '%-6s %-6s %-10s %-26s %-26s %-8s %s\n' hosts seeds violations "failover p50/p99/max (s)" "hand-over p50/p99 (s)" "wall" "sanlock"
bad=0
IFS=';' read -ra list <<<"$specs"
for spec in "${list[@]}"; do
    read -r hosts seeds dur <<<"$spec"
    start=$(date +%s%N)
    "$B/fencelock-sim" --seeds "$seeds" --hosts "$hosts" --duration "$dur" --nemesis crash,partition -o json \
        >"$B/bench/failover-hosts-$hosts.json" || bad=1
    wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    python3 - "$B/bench/failover-hosts-$hosts.json" "$hosts" "$wall_ms" "$csv" <<'PY' || bad=1
import json, sys
r = json.load(open(sys.argv[1])); hosts = int(sys.argv[2]); wall = int(sys.argv[3]) / 1000.0
f, h = r["failover"], r["handover"]
print("%-6d %-6d %-10d %-26s %-26s %-8s %s" % (hosts, r["seeds"], r["violations"],
      "%.2f / %.2f / %.2f (n=%d)" % (f["p50_s"], f["p99_s"], f["max_s"], f["count"]),
      "%.2f / %.2f (n=%d)" % (h["p50_s"], h["p99_s"], h["count"]), "%.0f s" % wall, "68 s (8N + 60 s, N = 1 s)"))
open(sys.argv[4], "a").write("%d,%d,%d,%d,%.3f,%.3f,%.3f,%d,%.3f,%.3f,%.1f\n" % (hosts, r["seeds"], r["violations"],
      f["count"], f["p50_s"], f["p99_s"], f["max_s"], h["count"], h["p50_s"], h["p99_s"], wall))
sys.exit(0 if r["violations"] == 0 else 1)
PY
done
real=$B/bench/failover-hosts-real.csv
echo "hosts,failover_s" >"$real"
if [ "${FH_SKIP_REAL:-0}" != 1 ]; then
    echo "real daemons (network namespaces, T = 1 s, P = 5 s): crash of a host running two VMs -> both writing elsewhere"
    for n in ${FH_REAL_HOSTS:-3 16 32}; do
        out=$B/bench/failover-hosts-real-$n.json
        SCALE_HOSTS=$n SCALE_WINDOW_S=5 "$(dirname "$0")/../tests/cluster/run-scenarios.sh" "$build" --json "$out" t_scale_32 \
            >"$B/bench/failover-hosts-real-$n.log" 2>&1
        fo=$(jq -r '.results[0] | if .result == "pass" then .failover_ms else empty end' "$out" 2>/dev/null)
        if [ -n "$fo" ] && [ "$fo" != null ]; then
            s=$(awk -v ms="$fo" 'BEGIN {printf "%.2f", ms / 1000}')
            echo "hosts $n: failover $s s"
            echo "$n,$s" >>"$real"
        else
            echo "hosts $n: no result (needs root and FUSE; see $B/bench/failover-hosts-real-$n.log)"
        fi
    done
fi
if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 800,500
set output "$B/bench/failover-hosts.png"
set datafile separator ","
set logscale x 2
set xlabel "hosts in the cluster (simulator; 5 voters, the rest learners)"
set ylabel "seconds"
set title "failover after a crash and hand-over after a partition > P (T = 1 s, P = 10 s)"
set key right center
set yrange [0:14]
plot "$csv" every ::1 using 1:5 with linespoints title "failover p50", \
     "" every ::1 using 1:6 with linespoints title "failover p99", \
     "" every ::1 using 1:9 with linespoints title "hand-over p50", \
     "" every ::1 using 1:10 with linespoints title "hand-over p99", \
     "$real" every ::1 using 1:2 with points pointtype 7 pointsize 1.5 title "failover, real daemons (one run)", \
     6 with lines dashtype 2 title "D = 6 s", 11.5 with lines dashtype 3 title "P + 1.5 s (goal)"
GP
    echo "(table: $csv; plot: $B/bench/failover-hosts.png)"
else
    echo "(gnuplot missing: make deps; no plot)"
fi
exit $bad
