#!/usr/bin/env bash
# Density of one fencelockd host (three real daemons on loopback, io_timeout
# 1 s, fake VMs under `fencelock exec`): for each N in DENSITY_NS (default
# "10 100 500"), N fakevm VMs started at once on h1 (time until all run),
# h1's RSS and CPU with them, then h1 crashed (daemon, wrappers and VMs
# SIGKILLed) and the time until every VM runs on h2 or h3, how they spread,
# the survivors' renewal lateness p99 meanwhile and vmcheck's verdict on every
# volume; then DENSITY_DENSE_N (default 1000; 0 skips) sleep VMs on one host:
# RSS, CPU, descriptors and the status answer time. Table on stdout,
# $OUT/density.csv and, with gnuplot, $OUT/density.png (OUT = BUILD/bench).
# Usage: bench/density.sh BUILD. Timing: run under flock /tmp/fl-heavy.lock.
set -uo pipefail
build=${1:-build}
FL_ROOT=$(cd "$(dirname "$0")/.." && pwd); export FL_ROOT
FL_BUILD=$(cd "$build" && pwd); export FL_BUILD
out=$FL_BUILD/bench; mkdir -p "$out"
csv=$out/density.csv
echo "# n,start_s,crash_to_all_s,h2,h3,lat_p99_ms_h2,lat_p99_ms_h3,overlaps,rss_mb,cpu_pct" > "$csv"
printf '%6s %9s %14s %11s %15s %9s %9s %7s\n' N start_s crash_to_all_s "h2/h3" "lateness_p99" overlaps rss_MB "cpu_%"
for n in ${DENSITY_NS:-10 100 500}; do
    line=$(bash -c '
    source "$FL_ROOT/tests/lib/common.sh"
    source "$FL_ROOT/tests/integration/daemon_lib.sh"
    source "$FL_ROOT/tests/density/density_lib.sh"
    DN_KIND=fakevm DN_FAILOVER_MAX_MS=60000 DN_LAT_P99_MAX_MS=100000
    dn_setup $(($1 + 16)); dn_failover "$1"' _ "$n" 2>&1 | grep '^failover ') || true
    [ -n "$line" ] || { printf '%6s  (failed: run tests/density/density.sh for the reason)\n' "$n"; continue; }
    v() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    took=$(v crash_to_all_ms); lat=$(v lat_p99_ms); rss=$(v h1_rss_kb)
    rss_mb=$(awk -v k="${rss#*/}" 'BEGIN { printf "%.1f", k / 1024 }')
    printf '%6s %9s %14s %11s %15s %9s %9s %7s\n' "$n" "$(v start_s)" "$(awk -v m="$took" 'BEGIN { printf "%.1f", m / 1000 }')" \
        "$(v h2)/$(v h3)" "${lat%/*} / ${lat#*/} ms" "$(v overlaps)" "$rss_mb" "$(v h1_cpu_pct)"
    echo "$n,$(v start_s),$(awk -v m="$took" 'BEGIN { printf "%.2f", m / 1000 }'),$(v h2),$(v h3),${lat%/*},${lat#*/},$(v overlaps),$rss_mb,$(v h1_cpu_pct)" >> "$csv"
done
echo "(fakevm VMs writing their volume every second; lateness: upper bound of the histogram bucket holding the"
echo " survivors' p99 from the crash until all ran; sanlock at io_timeout 1 s frees a dead host's leases after"
echo " 8N + 60 s = 68 s, whatever the number of VMs)"
dense=${DENSITY_DENSE_N:-1000}
if [ "$dense" -gt 0 ]; then
    echo
    echo "one host, $dense sleep VMs under fencelock exec (200 started at once, then the rest):"
    bash -c '
    source "$FL_ROOT/tests/lib/common.sh"
    source "$FL_ROOT/tests/integration/daemon_lib.sh"
    source "$FL_ROOT/tests/density/density_lib.sh"
    dn_dense "$1" 200' _ "$dense" 2>&1 | grep -E '^(start_|lateness_|daemon_|per_vm|status_|FAIL)' | tee "$out/density-dense.txt"
fi
command -v gnuplot >/dev/null || { echo "gnuplot missing (make deps): no plot"; exit 0; }
gnuplot <<EOF2 2>/dev/null || echo "gnuplot failed: no plot"
set terminal png size 1000,600 noenhanced
set output "$out/density.png"
set yrange [0:10]
set datafile separator ","
set title "fencelockd density: N VMs on one host of three (io_timeout 1 s)"
set xlabel "VMs on the host (N)"
set logscale x
set ylabel "seconds"
set y2label "daemon RSS (MB), CPU (%)"
set y2tics
set ytics nomirror
set key top left
plot "$csv" using 1:2 with linespoints title "start N at once: all running", \
     "" using 1:3 with linespoints title "crash -> all running elsewhere", \
     9 with lines dt 2 title "D + 3 s", \
     "" using 1:9 axes x1y2 with linespoints dt 3 title "daemon RSS with N VMs", \
     "" using 1:10 axes x1y2 with linespoints dt 4 title "daemon CPU with N VMs"
EOF2
[ -s "$out/density.png" ] && echo "plot: $out/density.png"
exit 0
