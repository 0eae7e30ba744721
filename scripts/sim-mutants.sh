#!/usr/bin/env bash
# make sim-mutants: builds deliberately broken variants of fencelock (see
# common/mutant.h) and shows that the simulator catches each within a bounded
# number of seeds. Only the mutated files are recompiled with -DFL_MUTANT=N;
# they are linked ahead of the normal libraries, so their symbols win.
# Exits non-zero if any mutant survives.
set -uo pipefail
build=${1:-build}
max_seeds=${FL_MUTANT_SEEDS:-200}
cflags=$(make -s --no-print-directory print-CFLAGS BUILD="$build")
ldlibs="$(make -s --no-print-directory print-LDLIBS BUILD="$build") $(make -s --no-print-directory print-fencelock-sim_EXTRA_LIBS BUILD="$build")"
mutated="plugin/arbiter/arbiter.c plugin/arbiter/arb_mutant.c plugin/arbiter/arb_vm.c plugin/arbiter/arb_mailbox.c plugin/arbiter/arb_witness.c disklock/timeouts.c disklock/paxos.c raft/core_repl.c"
libs="$build/lib/libfl_sim.a $build/lib/libfl_arbiter.a $build/lib/libfl_model.a $build/lib/libfl_disklock.a $build/lib/libfl_raft.a $build/lib/libfl_common.a"
main_obj=$build/obj/tests/sim/cli/main.o
[ -f "$main_obj" ] || { echo "sim-mutants: build first (make)"; exit 2; }

# number | name | simulator | arguments. "cluster" is fencelock-sim (the whole
# system); "raft" is the Raft core's own deterministic fixture sweep, which
# drives a log under constant write load through leader changes: the Figure-8
# window is too narrow under fencelock's sparse FSM traffic.
mutants=(
  "1|self-fence disabled (no kill, no guard)|cluster|--hosts 3 --nemesis partition,pause,disk"
  "2|D shortened to F|cluster|--hosts 3 --nemesis pause,disk"
  "3|takeover rule ignores a live owner|cluster|--hosts 3 --nemesis move"
  "4|Figure-8 rule removed|raft|test_raft_sweep"
  "5|rejoining host restarts moved VMs|cluster|--hosts 3 --nemesis partition"
  "7|no per-VM guard|cluster|--hosts 3 --nemesis pause"
  "8|disk voter served by two hosts at once|cluster|--hosts 4 --nemesis partition,split,crash,pause"
  "9|witness ignored (nobody serves the disk voter)|cluster|--hosts 2 --nemesis crash"
)
# Mutant 6 (FENCED acknowledged before the VMs are dead) is not in the list
# on purpose: the disk lease masks it. The fenced host still holds the VMs'
# volume leases and renews its delta lease, so the new holder's acquire
# fails "held by live host" until the VMs are dead and the leases released:
# the early ack costs time, not safety (docs/design.md).
not_built=()

survivors=0
printf '%-3s %-46s %-8s %-6s %s\n' N mutant caught seed "first violation"
for m in "${mutants[@]}"; do
    IFS='|' read -r n name kind args <<<"$m"
    dir=$build/mutants/$n; mkdir -p "$dir"
    objs=()
    for f in $mutated; do
        o=$dir/$(basename "$f" .c).o
        # shellcheck disable=SC2086
        cc $cflags -DFL_MUTANT="$n" -c "$f" -o "$o" || exit 2
        objs+=("$o")
    done
    caught=no; seed=-; what=-
    if [ "$kind" = raft ]; then
        # shellcheck disable=SC2086
        cc $cflags -Itests/unit -o "$dir/$args" "tests/unit/raft/$args.c" "$build/obj/tests/unit/raft/fixture.o" \
            "$dir/core_repl.o" "$build/lib/libfl_raft.a" "$build/lib/libfl_common.a" $ldlibs -lcmocka || exit 2
        out=$(FL_RAFT_SEEDS=1..$max_seeds "$dir/$args" 2>&1)
        if [ $? -ne 0 ]; then
            line=$(grep -m1 '^ERROR: seed' <<<"$out")
            caught=yes; seed=$(sed -E 's/^ERROR: seed ([0-9]+).*/\1/' <<<"$line")
            what=$(sed -E 's/^ERROR: seed [0-9]+ step [0-9]+ t=[0-9]+ us: //' <<<"$line")
        fi
        [ $caught = no ] && survivors=$((survivors + 1))
        printf '%-3s %-46s %-8s %-6s %s\n' "$n" "$name" "$caught" "$seed" "$what"
        continue
    fi
    # shellcheck disable=SC2086
    cc -o "$dir/fencelock-sim" "$main_obj" "${objs[@]}" $libs $ldlibs || exit 2
    for ((s = 1; s <= max_seeds; s += 10)); do
        e=$((s + 9)); [ $e -gt "$max_seeds" ] && e=$max_seeds
        # shellcheck disable=SC2086
        out=$("$dir/fencelock-sim" --seeds "$s..$e" --duration 200 $args 2>&1)
        if [ $? -ne 0 ]; then
            line=$(grep -m1 'violation' <<<"$out")
            caught=yes; seed=$(sed -E 's/.*seed ([0-9]+):.*/\1/' <<<"$line")
            what=$(sed -E 's/.*first at [0-9.]+ s: //' <<<"$line")
            break
        fi
    done
    [ $caught = no ] && survivors=$((survivors + 1))
    printf '%-3s %-46s %-8s %-6s %s\n' "$n" "$name" "$caught" "$seed" "$what"
done
for x in "${not_built[@]+"${not_built[@]}"}"; do printf '%-3s %-46s %-8s\n' - "$x" "n/a: the disk voter is not built yet"; done
total=${#mutants[@]}
echo "sim-mutants: $((total - survivors)) passed, $survivors failed"
[ $survivors -eq 0 ]
