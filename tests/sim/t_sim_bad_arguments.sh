# fencelock-sim refuses bad arguments with exit code 2 and a message.
source "$FL_ROOT/tests/lib/common.sh"
SIM=$FL_BUILD/fencelock-sim
expect_rc 2 "$SIM" --hosts 1
expect_rc 2 "$SIM" --hosts 129
for v in 0x 1 2 4 9; do expect_rc 2 "$SIM" --voters "$v" --seeds 1 --duration 1; done
expect_rc 2 "$SIM" --seeds 9..3
expect_rc 2 "$SIM" --nemesis partition,nonsense
expect_rc 2 "$SIM" -o yaml
# io_timeout: 0.1..300 s (fractions allowed), whole seconds above 65.535 s;
# jitter below it.
for t in 0 0.05 -1 abc 1x 301 65.6; do expect_rc 2 "$SIM" --io-timeout "$t" --seeds 1 --duration 1; done
expect_rc 2 "$SIM" --io-timeout 0.25 --jitter 300 --seeds 1 --duration 1
expect_rc 2 "$SIM" --jitter -5 --seeds 1 --duration 1
expect_rc 0 "$SIM" --io-timeout 0.25 --jitter 5 --seeds 1 --duration 30 --nemesis stall
expect_rc 0 "$SIM" --help
grep -q "I1" <<<"$out" || fail "--help does not name the invariants"
