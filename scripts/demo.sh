#!/usr/bin/env bash
# The first fencelock demo (make demo): a file-backed lockspace, three hosts
# renewing their delta leases as separate processes, fencelock's host-status and
# sanlock's own dump side by side, then one host killed with SIGKILL and seen to
# go LIVE -> FAIL -> DEAD (io_timeout T = 1 s: FAIL after 4T, DEAD after 6T).
# Usage: scripts/demo.sh BUILD   (about 20 s; cleans up after itself)
set -uo pipefail
build=${1:-build}
FL=$build/fencelock
SL=/usr/sbin/sanlock
[ -x "$FL" ] || { echo "demo: $FL is missing; run 'make' first" >&2; exit 1; }
# O_DIRECT needs a real filesystem (not tmpfs): the scratch dir lives in the build dir.
dir=$(mktemp -d "$(cd "$build" && pwd)/demo.XXXXXX") || exit 1
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n==> %s\n' "$*"; }
img=$dir/lockspace.img
truncate -s 2M "$img"

say "Formatting a lockspace 'demo' in $img (sanlock's format, io_timeout T = 1 s)"
"$FL" direct init -s "demo:0:$img:0" -o 1 || exit 1

say "Starting three hosts as separate processes; each acquires its host_id (about 2 s) and renews it every second"
names=(node-a node-b node-c)
for i in 0 1 2; do
    "$FL" direct hold-id -s "demo:$((i + 1)):$img:0" -e "${names[$i]}" -o 1 >"$dir/hold-$i.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 100); do
    [ "$(cat "$dir"/hold-*.log | grep -c holding)" -eq 3 ] && break
    sleep 0.1
done
cat "$dir"/hold-*.log

say "fencelock's view (host-status, watching 2 s) next to sanlock's (sanlock direct dump)"
"$FL" direct host-status -s "demo:0:$img:0" -w 2 >"$dir/fl.txt" 2>&1
if [ -x "$SL" ]; then
    { echo "--- sanlock direct dump"
      "$SL" direct dump "$img:0" 2>&1 | awk '{ printf "%-9s %-6s %-8s %10s %4s %4s\n", $1, $2, $3, $4, $5, $6 }'
    } >"$dir/right.txt"
    { echo "--- fencelock direct host-status"; cat "$dir/fl.txt"; } | awk '{ printf "%-90s| \n", $0 }' >"$dir/left.txt"
    paste -d '' "$dir/left.txt" "$dir/right.txt"
else
    cat "$dir/fl.txt"; echo "(sanlock is not installed: no side-by-side view)"
fi

say "Killing node-b (host_id 2) with SIGKILL: it cannot release; its timestamp stops changing"
"$FL" direct host-status -s "demo:0:$img:0" -w 9 >"$dir/watch.txt" 2>&1 &
watch=$!
sleep 1.5
kill -9 "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
echo "killed node-b at +1.5 s of the watch below; expect FAIL about 4 s and DEAD about 6 s after its last renewal"
wait "$watch"
cat "$dir/watch.txt"
grep -q 'host_id 2 (node-b): LIVE -> FAIL' "$dir/watch.txt" && grep -q 'host_id 2 (node-b): FAIL -> DEAD' "$dir/watch.txt" ||
    { echo "demo: node-b did not go LIVE -> FAIL -> DEAD" >&2; exit 1; }

say "sanlock sees the same records: node-b's timestamp is stale, the others keep moving"
[ -x "$SL" ] && "$SL" direct dump "$img:0"

say "Stopping node-a and node-c with SIGTERM: they release their ids (timestamp 0)"
kill "${pids[0]}" "${pids[2]}"
wait "${pids[0]}" "${pids[2]}" 2>/dev/null
grep -h released "$dir"/hold-0.log "$dir"/hold-2.log
"$FL" direct dump "$img"

say "Done. In sanlock's timing (8N + 60 s at N = 1) node-b would be dead only after 68 s."
