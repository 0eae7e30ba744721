#!/usr/bin/env bash
# Crash -> running elsewhere at io_timeout T = 1 s, 500 ms and 250 ms (make bench,
# section 7). Simulator: a 3-host cluster, crash nemesis only, FO_SIM_SEEDS seeds
# (default 1..40), scheduling jitter FO_JITTER_MS (default 10 ms). Real daemons:
# three fencelockd on loopback (tests/integration/t_daemon_crash_failover.sh, a
# host's daemon and VMs SIGKILLed, time to the VM's first line on its new host),
# FO_TRIALS trials per T (default 5), FO_SETTLE_S (default 6) after each restart
# (a host that has just started watches the others' leases for D before it
# judges them). Skip the real daemons with FO_SKIP_REAL=1. Table and CSV in
# BUILD/bench/failover-t.{txt,csv}, plot in BUILD/bench/failover-t.png.
# Timing: run under flock /tmp/fl-heavy.lock (make bench does so for section 7).
set -uo pipefail
build=${1:-build}
B=$(cd "$build" && pwd)
cd "$(dirname "$0")/.." || exit 1
FL_ROOT=$(pwd); export FL_ROOT
out=$B/bench; mkdir -p "$out"
csv=$out/failover-t.csv
echo "t_ms,kind,n,p50_s,p99_s,max_s,d_s" >"$csv"
for t in 1000 500 250; do
    s=$(awk -v t="$t" 'BEGIN { printf "%g", t / 1000 }')
    "$B/fencelock-sim" --seeds "${FO_SIM_SEEDS:-1..40}" --hosts 3 --nemesis crash --io-timeout "$s" \
        --jitter "${FO_JITTER_MS:-10}" -o json | python3 -c '
import json, sys
r = json.load(sys.stdin); f = r["failover"]; t = int(sys.argv[1])
assert r["violations"] == 0, r["violations"]
print("%d,sim,%d,%.2f,%.2f,%.2f,%.2f" % (t, f["count"], f["p50_s"], f["p99_s"], f["max_s"], 6 * t / 1000))' "$t" >>"$csv"
    if [ "${FO_SKIP_REAL:-0}" != 1 ]; then
        log=$out/failover-real-$t.log
        DL_T=${t}ms FL_TRIALS=${FO_TRIALS:-5} FL_SETTLE_S=${FO_SETTLE_S:-6} FL_BUILD=$B \
            timeout 600 bash tests/integration/t_daemon_crash_failover.sh "$B" >"$log" 2>&1
        line=$(grep -o 'crash-to-running (ms): [0-9 ]*' "$log" | tail -1)
        if [ -n "$line" ]; then
            python3 -c '
import sys
t = int(sys.argv[1]); v = sorted(int(x) / 1000 for x in sys.argv[2].split(":")[1].split())
p = lambda q: v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]
print("%d,daemons,%d,%.2f,%.2f,%.2f,%.2f" % (t, len(v), p(0.5), p(0.99), v[-1], 6 * t / 1000))' "$t" "$line" >>"$csv"
        else
            echo "(real daemons at T = $t ms: no result, see $log)"
        fi
    fi
done
{
    printf '%-8s %-8s %4s %8s %8s %8s %8s\n' T kind n p50_s p99_s max_s D_s
    tail -n +2 "$csv" | while IFS=, read -r t k n p50 p99 mx d; do
        printf '%-8s %-8s %4s %8s %8s %8s %8s\n' "${t}ms" "$k" "$n" "$p50" "$p99" "$mx" "$d"
    done
    echo "(crash -> VM running elsewhere; D = 6T is the floor after the dead host's last renewal;"
    echo " vSphere HA 15-18 s, SBD about 20 s, sanlock 68 s at N = 1 s)"
} | tee "$out/failover-t.txt"
if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 800,480 noenhanced
set output "$out/failover-t.png"
set datafile separator ","
set title "crash -> VM running elsewhere, by io_timeout T (median, bars to max)"
set xlabel "io_timeout T (ms)"
set ylabel "seconds"
set logscale x 2
set xrange [180:1400]
set xtics ("250" 250, "500" 500, "1000" 1000)
set yrange [0:*]
set key top left
set grid
plot "< grep ',sim,' $csv" using 1:4:4:6 with yerrorbars title "simulator" pt 7, \
     "< grep ',daemons,' $csv" using (\$1*1.08):4:4:6 with yerrorbars title "real daemons (loopback)" pt 5, \
     "< grep ',sim,' $csv" using 1:7 with linespoints title "D = 6T" dt 2, \
     3.5 title "goal at 500 ms: 3.5 s" dt 3
GP
    echo "plot: $out/failover-t.png"
else
    echo "(gnuplot missing: make deps; no plot)"
fi
