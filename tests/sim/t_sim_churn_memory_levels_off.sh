# A simulated day of VM churn (a VM moved to another host every 10 s,
# leadership moved once): every host's memory accounting (arb_mem_usage, what
# fencelockd exports as fencelock_arbiter_bytes: its variable part, the Raft
# log in memory and the arbiter's buffers, levels off, its fixed tables do not
# change, its registry holds no more VMs) and its Raft disk level off, i.e.
# their largest value in the second half of the day is that of the first half.
# And the check can fail: with log compaction off (no snapshot within the
# run) the same churn is reported as growth.
source "$FL_ROOT/tests/lib/common.sh"
SIM=$FL_BUILD/fencelock-sim
"$SIM" --seed 1 --hosts 3 --churn 10 --duration 86400 > "$T/ok.out" 2>&1 ||
    fail "memory grows under a day of churn: $(cat "$T/ok.out")"
grep -q "leadership moved from h[1-3] to h[1-3]" "$T/ok.out" || fail "leadership did not move: $(cat "$T/ok.out")"
[ "$(grep -c 'memory .* KiB, Raft disk .* KiB, registry [0-9]* -> [0-9]* VMs' "$T/ok.out")" -eq 3 ] || fail "not three hosts checked: $(cat "$T/ok.out")"
grep -q "was down" "$T/ok.out" && fail "a host went down during churn: $(cat "$T/ok.out")"
"$SIM" --seed 1 --hosts 3 --churn 10 --duration 21600 --snapshot-every 100000000 > "$T/leak.out" 2>&1 &&
    fail "a log that is never compacted passed the levelling-off check: $(cat "$T/leak.out")"
grep -q "host memory grows under churn" "$T/leak.out" || fail "no growth reported: $(cat "$T/leak.out")"
head -4 "$T/ok.out"
