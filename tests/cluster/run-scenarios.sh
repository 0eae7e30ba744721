#!/usr/bin/env bash
# Runs cluster scenarios (tests/cluster/t_scen_*.sh) one at a time
# and prints their table: scenario, expected, observed,
# detection time, failover / hand-over time, overlaps, pass/fail; writes the
# same as JSON.
#
#   tests/cluster/run-scenarios.sh [BUILD] [--json FILE] [--repeat N] [SCENARIO...]
#
# SCENARIO: a number (3) or a script name (t_scen_03_isolated_long); none =
# every t_scen_*.sh. --repeat N runs the list N times (a flake shows). JSON
# default: BUILD/cluster/scenarios.json; each scenario's timeline (faults,
# what each host saw when, each VM's writes and the gap when it moved) is in
# its result and drawn as BUILD/cluster/timeline-NAME.png after the run
# (tests/cluster/timeline.py). Each scenario runs under a timeout
# (FL_SCEN_TIMEOUT, 300 s); after each, leftovers of a run whose shell died
# are removed (and counted as a failure). Needs root; a scenario that cannot
# run here is SKIPPED. Ends with "cluster-scenarios: N passed, N failed, N
# skipped" and exits non-zero if any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then build=$1; shift; fi
build=$(cd "$build" && pwd)
FL_ROOT=$(cd "$here/../.." && pwd)
export FL_BUILD=$build FL_ROOT
json=$build/cluster/scenarios.json repeat=1
list=()
while [ $# -gt 0 ]; do
    case $1 in
        --json) json=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) list+=("$1"); shift ;;
    esac
done
scripts=()
if [ ${#list[@]} -eq 0 ]; then
    for s in "$here"/t_scen_*.sh; do [ -e "$s" ] && scripts+=("$s"); done
else
    for x in "${list[@]}"; do
        if [[ "$x" =~ ^[0-9]+$ ]]; then m=("$here"/t_scen_"$(printf '%02d' "$((10#$x))")"_*.sh)
        else m=("$here/${x%.sh}.sh"); fi
        [ -e "${m[0]}" ] || { echo "run-scenarios: no scenario '$x'" >&2; exit 2; }
        scripts+=("${m[0]}")
    done
fi
command -v jq >/dev/null || { echo "run-scenarios: needs jq" >&2; exit 2; }
mkdir -p "$build/cluster" "$(dirname "$json")"
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"   # cl_cleanup_stale only: no cluster of our own

res=$(mktemp); logdir=$build/cluster/scenario-logs; mkdir -p "$logdir"
trap 'rm -f "$res" "$res.one"' EXIT
pass=0 failn=0 skipn=0 tls=()
for r in $(seq 1 "$repeat"); do
    for s in "${scripts[@]}"; do
        name=$(basename "$s" .sh)
        log=$logdir/$name.r$r.log
        : >"$res.one"
        tl=$build/cluster/timeline-$name$([ "${SC_VMM:-fakevm}" = qemu ] && echo -microvm)
        rm -f "$tl.json" "$tl.png"
        start=$(date +%s)
        SC_RESULT_FILE=$res.one timeout --kill-after=10 "${FL_SCEN_TIMEOUT:-300}" bash "$s" "$build" >"$log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        stale=$(cl_cleanup_stale 2>&1)
        line=$(tail -1 "$res.one")
        if [ -z "$line" ]; then
            line=$(jq -cn --arg name "$name" --arg obs "no result (exit $rc$([ $rc -eq 124 ] && echo ', timed out')): $(tail -3 "$log" | tr '\n' ' ')" \
                --argjson dur "$secs" '{scenario: ($name | capture("t_scen_0*(?<n>[0-9]+)").n), name: $name, title: $name,
                expected: "", observed: $obs, detection_ms: null, failover_ms: null, overlaps: null, vmcheck: "",
                result: "fail", duration_s: $dur, leftovers: 0, logs: ""}')
        fi
        if [ -n "$stale" ]; then
            line=$(jq -c --arg s "$stale" '.result = "fail" | .observed += " | left behind (removed by the runner): \($s)"' <<<"$line")
        fi
        [ "$(jq -r .result <<<"$line")" = pass ] && [ $rc -ne 0 ] &&
            line=$(jq -c --argjson rc "$rc" '.result = "fail" | .observed += " | exit \($rc)"' <<<"$line")
        line=$(jq -c --argjson r "$r" --arg log "$log" '. + {round: $r, log: $log}' <<<"$line")
        # Drawn after every scenario has run (the runs' timing is not touched).
        [ -s "$tl.json" ] && { line=$(jq -c --arg png "$tl.png" '. + {timeline_png: $png}' <<<"$line"); tls+=("$tl.json"); }
        echo "$line" >>"$res"
        case $(jq -r .result <<<"$line") in
            pass) pass=$((pass + 1)) ;; skip) skipn=$((skipn + 1)) ;; *) failn=$((failn + 1)) ;;
        esac
        jq -r '"\(.result | ascii_upcase) \(.name) (\(.duration_s) s)" +
            (if .result == "fail" then "\n    " + .observed + "\n    log: " + .log else "" end)' <<<"$line"
    done
done

# The timelines (tests/cluster/timeline.py): one PNG per scenario, from the
# JSON each one left (the same data is in its result: "timeline").
if [ ${#tls[@]} -gt 0 ]; then
    if command -v gnuplot >/dev/null; then
        python3 "$here/timeline.py" plot "${tls[@]}" || echo "run-scenarios: some timelines were not drawn"
    else
        echo "run-scenarios: gnuplot missing (make deps): timelines not drawn"
    fi
fi
echo
echo "Cluster scenarios (io_timeout ${CL_IO_TIMEOUT:-1} (CL_IO_TIMEOUT), P 5 s; times from the fault, polled every 100 ms)"
printf '%-3s %-38s %9s %9s %8s %-6s %5s\n' "#" "scenario" "detect" "failover" "overlaps" "result" "time"
jq -r '[.scenario, .title, (if .detection_ms then "\(.detection_ms) ms" else "-" end),
        (if .failover_ms then "\(.failover_ms) ms" else "-" end), (.overlaps // "-" | tostring),
        (.result | ascii_upcase), "\(.duration_s) s", .expected, .observed] | @tsv' "$res" |
    while IFS=$'\t' read -r n t d f o rs du e ob; do
        printf '%-3s %-38.38s %9s %9s %8s %-6s %5s\n' "$n" "$t" "$d" "$f" "$o" "$rs" "$du"
        printf '      expected: %s\n      observed: %s\n' "$e" "$ob"
    done
slow=$(jq -s -r 'max_by(.duration_s) | "\(.name) \(.duration_s) s"' "$res")
t=${CL_IO_TIMEOUT:-1}
case $t in *ms) t_ms=${t%ms} ;; *s) t_ms=$(( ${t%s} * 1000 )) ;; *) t_ms=$(( t * 1000 )) ;; esac
jq -s --arg slow "$slow" --argjson p "$pass" --argjson f "$failn" --argjson k "$skipn" --argjson t "$t_ms" \
    '{io_timeout_s: ($t / 1000), partition_tolerance_s: 5, passed: $p, failed: $f, skipped: $k, slowest: $slow, results: .}' \
    "$res" >"$json"
echo "slowest: $slow; JSON: $json"
echo "cluster-scenarios: $pass passed, $failn failed, $skipn skipped"
[ "$failn" -eq 0 ]
