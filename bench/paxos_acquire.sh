#!/usr/bin/env bash
# Cost of one uncontended resource-lease acquire on an O_DIRECT file:
# fencelock direct acquire next to sanlock direct acquire, same kind of file,
# same run. I/O counts and bytes come from strace (io_submit / pread / pwrite
# of the tool, all threads); wall time is measured separately without strace,
# median over TRIALS (default 10) fresh leases.
# usage: bench/paxos_acquire.sh [BUILD] [TRIALS]
set -uo pipefail
build=${1:-build}; trials=${2:-10}
FL=$(cd "$build" && pwd)/fencelock
command -v sanlock >/dev/null || { echo "sanlock not installed"; exit 77; }
command -v strace >/dev/null || { echo "strace not installed"; exit 77; }
dir=$(mktemp -d "$(cd "$build" && pwd)/bench.XXXXXX"); trap 'rm -rf "$dir"' EXIT
img=$dir/lease.img

init() {  # tool num_hosts
    rm -f "$img"; truncate -s 1M "$img"
    case $1 in
        sanlock) sanlock direct init -r "LS:R:$img:0" >/dev/null;;
        fencelock) "$FL" direct init -r "LS:R:$img:0" --num-hosts "$2" >/dev/null;;
    esac
}
acquire() {  # tool
    case $1 in
        sanlock) sanlock direct acquire -r "LS:R:$img:0" -i 1 -g 1 >/dev/null 2>&1;;
        fencelock) "$FL" direct acquire -r "LS:R:$img:0" -i 1 -g 1 >/dev/null 2>&1;;
    esac
}
io_counts() {  # tool num_hosts -> "reads writes bytes_read bytes_written"
    init "$1" "$2"
    strace -f -qq -e trace=io_submit,pread64,pwrite64 -e verbose=all -o "$dir/st" bash -c "$(declare -f acquire); FL=$FL img=$img acquire $1"
    python3 - "$dir/st" <<'PY'
import re, sys
r = w = br = bw = 0
for line in open(sys.argv[1]):
    for op, n in re.findall(r'aio_lio_opcode=IOCB_CMD_P(READ|WRITE).*?aio_nbytes=(\d+)', line):
        if op == 'READ': r += 1; br += int(n)
        else: w += 1; bw += int(n)
print(r, w, br, bw)
PY
}
wall_ms() {  # tool num_hosts -> median ms
    local t=()
    for ((i = 0; i < trials; i++)); do
        init "$1" "$2"
        s=$(date +%s%N); acquire "$1" || { echo "acquire failed" >&2; exit 1; }; e=$(date +%s%N)
        t+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
printf '%-10s %-9s %6s %6s %12s %12s %10s\n' tool num_hosts reads writes bytes_read bytes_written median_ms
for cfg in "sanlock 2000" "fencelock 2000" "fencelock 64"; do
    set -- $cfg
    read -r r w br bw < <(io_counts "$1" "$2")
    printf '%-10s %-9s %6s %6s %12s %12s %10s\n' "$1" "$2" "$r" "$w" "$br" "$bw" "$(wall_ms "$1" "$2")"
done
echo "(file: O_DIRECT on $(df --output=fstype "$dir" | tail -1), $trials trials; process start-up included in wall time)"
