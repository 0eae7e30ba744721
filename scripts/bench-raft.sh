#!/usr/bin/env bash
# make bench-raft: fencelock's Raft (raft/node.c + logstore_file.c with
# fdatasync + TCP transport) against a three-member etcd 3.4 cluster, both on
# 127.0.0.1 with heartbeat 100 ms and election timeout 1000 ms, data under the
# build directory. For each: commit latency (1 closed-loop client, sequential
# puts) and throughput (32 closed-loop clients), then the time from SIGKILL of
# the leader until a survivor is leader, over BENCH_RAFT_TRIALS trials (the
# killed member is restarted and the cluster is healthy again before the next
# trial). The same client (fl-raft-bench-client) drives both: fencelock's
# binary protocol, etcd's gRPC-gateway JSON API over keep-alive HTTP/1.1, one
# connection per client, the same 64-byte values under "bench/<n>" keys.
# fencelock runs twice: with a cluster key (handshake and sealed frames, as
# fencelockd runs; the column compared with etcd) and with plain frames
# (insecure mode), and a third table prints the cost of authentication as
# the ratio of the two. BENCH_RAFT_ETCD=0 skips etcd. Ports are below 32768
# (never in the ephemeral range, so no client's socket can take a member's
# port). Prints the tables and the ratios; kills every process it started
# and removes its directory on exit.
set -uo pipefail
build=${1:-build}
B=$(cd "$build" && pwd)
SERVER=$B/fl-raft-bench-server
CLIENT=$B/fl-raft-bench-client
TRIALS=${BENCH_RAFT_TRIALS:-20}
LAT_N=${BENCH_RAFT_LAT_N:-2000}
TP_N=${BENCH_RAFT_TP_N:-20000}
TP_CLIENTS=${BENCH_RAFT_CLIENTS:-32}
VALUE_BYTES=64
HB_MS=100
ELECTION_MS=1000

for bin in "$SERVER" "$CLIENT"; do
    [ -x "$bin" ] || { echo "bench-raft: $bin missing; run 'make bench-raft'" >&2; exit 1; }
done
WITH_ETCD=${BENCH_RAFT_ETCD:-1}
[ "$WITH_ETCD" = 0 ] || command -v etcd >/dev/null ||
    { echo "bench-raft: etcd not found (apt-get install etcd-server), or BENCH_RAFT_ETCD=0" >&2; exit 1; }

W=$(mktemp -d "$B/bench-raft.XXXXXX")
mkdir -p "$W/fl" "$W/flplain" "$W/etcd"
# The cluster key of the authenticated run (what fencelock keygen writes).
head -c 32 /dev/urandom > "$W/authkey" && chmod 0400 "$W/authkey"
declare -a FLPID=() FLPPID=() ETCDPID=()
cleanup() {
    for p in "${FLPID[@]}" "${FLPPID[@]}" "${ETCDPID[@]}"; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null
    done
    for p in "${FLPID[@]}" "${FLPPID[@]}" "${ETCDPID[@]}"; do
        [ -n "$p" ] && wait_gone "$p"
    done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Twelve consecutive free loopback ports, all below 32768 (the ephemeral range).
pick_ports() {
    local base i busy
    for _ in $(seq 1 50); do
        base=$((20000 + RANDOM % 12000)); busy=0
        for i in $(seq 0 11); do
            ss -Htan "sport = :$((base + i))" 2>/dev/null | grep -q . && busy=1
        done
        [ $busy -eq 0 ] && { echo "$base"; return 0; }
    done
    echo "bench-raft: no free port block found" >&2; exit 1
}
BASE=$(pick_ports)
FL_RAFT=($((BASE)) $((BASE + 1)) $((BASE + 2)))
FL_CLIENT=($((BASE + 3)) $((BASE + 4)) $((BASE + 5)))
ETCD_CLIENT=($((BASE + 6)) $((BASE + 7)) $((BASE + 8)))
ETCD_PEER=($((BASE + 9)) $((BASE + 10)) $((BASE + 11)))
join() { local IFS=,; echo "$*"; }
# Starts a member under a wrapper subshell that reaps it (so a SIGKILL'ed
# member leaves no zombie and its "Killed" notice goes to its log); sets
# SPAWNED_PID to the member's own pid. $1 = log file, then the command.
spawn() {
    local log=$1 pidf="$W/spawn.pid"; shift
    rm -f "$pidf"
    ( "$@" >>"$log" 2>&1 </dev/null & echo $! >"$pidf"; wait ) >/dev/null 2>>"$log" &
    for _ in $(seq 1 500); do [ -s "$pidf" ] && break; sleep 0.01; done
    SPAWNED_PID=$(cat "$pidf")
}
# Waits (at most 5 s) until pid $1 is gone.
wait_gone() { for _ in $(seq 1 500); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.01; done; }

start_fl_any() {  # $1 = member position 0..2, $2 = data dir, $3 = pid array, then extra flags
    local i=$1 dir=$2 peers=() j
    local -n pa=$3
    shift 3
    for j in 0 1 2; do [ "$j" = "$i" ] || peers+=(--peer "$((j + 1))=${FL_RAFT[$j]}"); done
    spawn "$W/$(basename "$dir")-m$i.log" "$SERVER" --id $((i + 1)) --dir "$dir/m$i" \
        --raft-port "${FL_RAFT[$i]}" --client-port "${FL_CLIENT[$i]}" \
        --heartbeat-ms $HB_MS --election-ms $ELECTION_MS "${peers[@]}" "$@"
    pa[$i]=$SPAWNED_PID
}
start_fl() { start_fl_any "$1" "$W/fl" FLPID --key-file "$W/authkey"; }
start_flplain() { start_fl_any "$1" "$W/flplain" FLPPID; }

start_etcd() {  # $1 = member position 0..2
    local i=$1 cluster
    cluster="m0=http://127.0.0.1:${ETCD_PEER[0]},m1=http://127.0.0.1:${ETCD_PEER[1]},m2=http://127.0.0.1:${ETCD_PEER[2]}"
    spawn "$W/etcd-m$i.log" etcd --name "m$i" --data-dir "$W/etcd/m$i" \
        --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT[$i]}" \
        --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT[$i]}" \
        --listen-peer-urls "http://127.0.0.1:${ETCD_PEER[$i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER[$i]}" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "fl-bench-$$" \
        --heartbeat-interval $HB_MS --election-timeout $ELECTION_MS \
        --logger zap --log-level error
    ETCDPID[$i]=$SPAWNED_PID
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $2"; }

# measure NAME BACKEND START_FN PORTS PIDARRAY: fills R_<metric>_<NAME>.
measure() {
    local name=$1 backend=$2 start=$3 ports=$4 pidvar=$5 out t k ms
    local -n pids=$pidvar
    local client=("$CLIENT" --backend "$backend" --ports "$ports" --value-bytes "$VALUE_BYTES")
    echo "== $name: starting 3 members"
    for k in 0 1 2; do $start $k; done
    "${client[@]}" wait-healthy || { echo "bench-raft: $name never became healthy" >&2; tail -n 5 "$W"/*.log >&2; exit 1; }
    out=$("${client[@]}" --clients 1 --n "$LAT_N" load) || exit 1
    echo "   1 client:  $out"
    declare -g "R_lat50_$name=$(field p50_us "$out")" "R_lat99_$name=$(field p99_us "$out")" \
        "R_latops_$name=$(field ops_per_s "$out")"
    out=$("${client[@]}" --clients "$TP_CLIENTS" --n "$TP_N" load) || exit 1
    echo "   $TP_CLIENTS clients: $out"
    declare -g "R_tp_$name=$(field ops_per_s "$out")" "R_tp50_$name=$(field p50_us "$out")" \
        "R_tp99_$name=$(field p99_us "$out")"
    : >"$W/elect-$name"
    for t in $(seq 1 "$TRIALS"); do
        out=$("${client[@]}" --pids "$(join "${pids[@]}")" elect) || exit 1
        k=$(field killed "$out"); ms=$(field ms "$out")
        echo "$ms" >>"$W/elect-$name"
        printf '   election %2d/%d: killed member %d, new leader after %s ms\n' "$t" "$TRIALS" "$k" "$ms"
        wait_gone "${pids[$k]}"
        $start "$k"
        # A restart that failed at once (see its log) is retried a few times.
        for _ in 1 2 3 4 5; do
            sleep 0.1; kill -0 "${pids[$k]}" 2>/dev/null && break
            echo "   restart of member $k failed: $(tail -n 1 "$W"/*"$name"-m"$k".log)"; $start "$k"
        done
        "${client[@]}" wait-healthy >/dev/null || { echo "bench-raft: $name did not recover" >&2; tail -n 5 "$W"/*.log >&2; exit 1; }
    done
    read -r mn p50 p90 mx mean < <(sort -n "$W/elect-$name" | awk '{v[NR]=$1; s+=$1}
        END {printf "%s %s %s %s %.1f\n", v[1], v[int((NR+1)/2)], v[int(NR*0.9+0.5)], v[NR], s/NR}')
    declare -g "R_emin_$name=$mn" "R_e50_$name=$p50" "R_e90_$name=$p90" "R_emax_$name=$mx" "R_emean_$name=$mean"
    for k in 0 1 2; do kill -9 "${pids[$k]}" 2>/dev/null; done
    for k in 0 1 2; do wait_gone "${pids[$k]}"; done
    pids=()
}

measure fl fl start_fl "$(join "${FL_CLIENT[@]}")" FLPID
measure flplain fl start_flplain "$(join "${FL_CLIENT[@]}")" FLPPID
if [ "$WITH_ETCD" = 0 ]; then
    for v in lat50 lat99 latops tp tp50 tp99 emin e50 e90 emax emean; do declare -g "R_${v}_etcd=0"; done
else
    measure etcd etcd start_etcd "$(join "${ETCD_CLIENT[@]}")" ETCDPID
fi

row() {  # label unit fl etcd
    local r
    r=$(awk -v a="$3" -v b="$4" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '| %-44s | %12s | %12s | %8s |\n' "$1 ($2)" "$3" "$4" "$r"
}
us2ms() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000 }'; }
echo
echo "Raft on 127.0.0.1, 3 members, heartbeat $HB_MS ms, election timeout $ELECTION_MS ms, fsync on,"
echo "$VALUE_BYTES-byte values; etcd $( [ "$WITH_ETCD" = 0 ] && echo "(not run)" || etcd --version | sed -n 's/etcd Version: //p') via its JSON gateway."
echo "fencelock runs with a cluster key (authenticated, encrypted Raft traffic) unless marked plain."
echo "Method: fl-raft-bench-client for both, closed-loop clients with one connection each; etcd puts are"
echo "POST /v3/kv/put on keep-alive HTTP/1.1 (gRPC gateway), fencelock puts the bench server's binary"
echo "protocol. Caveat: the fencelock bench state machine only counts entries, etcd's applies to its"
echo "MVCC store, and the gateway adds a JSON/gRPC hop; etcd 3.4 runs without pre-vote (its default),"
echo "fencelock with pre-vote and check-quorum."
echo
echo "Commit latency and throughput (puts acknowledged after commit on the leader)"
printf '| %-44s | %12s | %12s | %8s |\n' metric fencelock "etcd 3.4" "fl/etcd"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})"
row "commit latency p50, 1 client" ms "$(us2ms "$R_lat50_fl")" "$(us2ms "$R_lat50_etcd")"
row "commit latency p99, 1 client" ms "$(us2ms "$R_lat99_fl")" "$(us2ms "$R_lat99_etcd")"
row "throughput, 1 client" ops/s "$R_latops_fl" "$R_latops_etcd"
row "throughput, $TP_CLIENTS clients" ops/s "$R_tp_fl" "$R_tp_etcd"
row "commit latency p50, $TP_CLIENTS clients" ms "$(us2ms "$R_tp50_fl")" "$(us2ms "$R_tp50_etcd")"
row "commit latency p99, $TP_CLIENTS clients" ms "$(us2ms "$R_tp99_fl")" "$(us2ms "$R_tp99_etcd")"
echo
echo "New leader after SIGKILL of the leader ($TRIALS trials each; from the kill until a survivor"
echo "reports a new leader, polled every 2 ms)"
printf '| %-44s | %12s | %12s | %8s |\n' metric fencelock "etcd 3.4" "fl/etcd"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})"
row "election time min" ms "$R_emin_fl" "$R_emin_etcd"
row "election time p50" ms "$R_e50_fl" "$R_e50_etcd"
row "election time p90" ms "$R_e90_fl" "$R_e90_etcd"
row "election time max" ms "$R_emax_fl" "$R_emax_etcd"
row "election time mean" ms "$R_emean_fl" "$R_emean_etcd"
echo
echo "The cost of authentication: fencelock with a cluster key (handshake + ChaCha20-Poly1305 on"
echo "every frame) against the same server with plain frames (insecure mode)"
printf '| %-44s | %12s | %12s | %8s |\n' metric "with key" plain "key/plain"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..10})"
row "commit latency p50, 1 client" ms "$(us2ms "$R_lat50_fl")" "$(us2ms "$R_lat50_flplain")"
row "commit latency p99, 1 client" ms "$(us2ms "$R_lat99_fl")" "$(us2ms "$R_lat99_flplain")"
row "throughput, $TP_CLIENTS clients" ops/s "$R_tp_fl" "$R_tp_flplain"
row "commit latency p99, $TP_CLIENTS clients" ms "$(us2ms "$R_tp99_fl")" "$(us2ms "$R_tp99_flplain")"
row "election time p50" ms "$R_e50_fl" "$R_e50_flplain"
row "election time p90" ms "$R_e90_fl" "$R_e90_flplain"
row "election time max" ms "$R_emax_fl" "$R_emax_flplain"

# The same numbers drawn side by side (gnuplot; BUILD/bench/raft-vs-etcd.png):
# commit latencies and election times in ms, fencelock (with its cluster key)
# beside etcd 3.4.
if [ "$WITH_ETCD" != 0 ] && command -v gnuplot >/dev/null; then
    mkdir -p "$B/bench"
    csv=$B/bench/raft-vs-etcd.csv
    {
        echo "metric,fencelock,etcd"
        echo "\"commit p50, 1 client\",$(us2ms "$R_lat50_fl"),$(us2ms "$R_lat50_etcd")"
        echo "\"commit p99, 1 client\",$(us2ms "$R_lat99_fl"),$(us2ms "$R_lat99_etcd")"
        echo "\"commit p50, $TP_CLIENTS clients\",$(us2ms "$R_tp50_fl"),$(us2ms "$R_tp50_etcd")"
        echo "\"commit p99, $TP_CLIENTS clients\",$(us2ms "$R_tp99_fl"),$(us2ms "$R_tp99_etcd")"
        echo "\"election p50\",$R_e50_fl,$R_e50_etcd"
        echo "\"election p90\",$R_e90_fl,$R_e90_etcd"
        echo "\"election max\",$R_emax_fl,$R_emax_etcd"
    } >"$csv"
    gnuplot <<EOF
set terminal pngcairo size 900,500
set output "$B/bench/raft-vs-etcd.png"
set datafile separator ","
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "ms (log scale)"
set title "Raft, 3 members on 127.0.0.1: fencelock (cluster key) vs etcd 3.4"
set xtics rotate by -20
set key left top
plot "$csv" skip 1 using 2:xtic(1) title "fencelock", "" skip 1 using 3 title "etcd 3.4"
EOF
    echo "(plot: $B/bench/raft-vs-etcd.png, numbers: $csv)"
fi
