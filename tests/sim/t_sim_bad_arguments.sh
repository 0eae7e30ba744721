# fencelock-sim refuses bad arguments with exit code 2 and a message.
source "$FL_ROOT/tests/lib/common.sh"
SIM=$FL_BUILD/fencelock-sim
expect_rc 2 "$SIM" --hosts 1
expect_rc 2 "$SIM" --hosts 65
expect_rc 2 "$SIM" --seeds 9..3
expect_rc 2 "$SIM" --nemesis partition,nonsense
expect_rc 2 "$SIM" -o yaml
expect_rc 0 "$SIM" --help
grep -q "I1" <<<"$out" || fail "--help does not name the invariants"
