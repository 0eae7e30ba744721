# One seed replays one run exactly: two runs of a seed give identical reports.
source "$FL_ROOT/tests/lib/common.sh"
"$FL_BUILD/fencelock-sim" --seed 42 --hosts 5 -o json > "$T/a.json" || fail "seed 42 failed"
"$FL_BUILD/fencelock-sim" --seed 42 --hosts 5 -o json > "$T/b.json" || fail "seed 42 failed"
cmp -s "$T/a.json" "$T/b.json" || fail "seed 42 ran differently twice"
"$FL_BUILD/fencelock-sim" --seed 43 --hosts 5 -o json > "$T/c.json" || fail "seed 43 failed"
cmp -s "$T/a.json" "$T/c.json" && fail "seeds 42 and 43 ran identically"
echo "seed 42 replayed identically; seed 43 differs"
