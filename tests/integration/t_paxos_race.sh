#!/usr/bin/env bash
# Real race on an O_DIRECT file: PROCS `fencelock direct acquire` processes at
# once per round (default 4 x 20, PAXOS_RACE_PROCS / PAXOS_RACE_ROUNDS),
# exactly one exits 0 per round, the others exit 3 (held), the leader names
# the winner with the next lver; the winner releases before the next round.
source "$FL_ROOT/tests/lib/common.sh"
procs=${PAXOS_RACE_PROCS:-4}; rounds=${PAXOS_RACE_ROUNDS:-20}
img=$T/res.img
truncate -s 1M "$img"
expect_rc 0 "$FL" direct init -r "LS:race:$img:0" --num-hosts 16
for ((r = 1; r <= rounds; r++)); do
    pids=()
    for ((i = 1; i <= procs; i++)); do
        "$FL" direct acquire -r "LS:race:$img:0" -i "$i" -g 1 >"$T/out.$i" 2>&1 &
        pids+=($!)
    done
    winners=(); i=0
    for p in "${pids[@]}"; do
        i=$((i + 1)); wait "$p"; rc=$?
        case $rc in
            0) winners+=("$i");;
            3) ;;
            *) fail "round $r: host $i exited $rc: $(cat "$T/out.$i")";;
        esac
    done
    [ ${#winners[@]} -eq 1 ] || fail "round $r: ${#winners[@]} winners (${winners[*]})"
    w=${winners[0]}
    json=$("$FL" direct read-leader -r "LS:race:$img:0" -o json) || fail "read-leader failed"
    owner=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["owner_id"], d["lver"], d["held"])' "$json")
    [ "$owner" = "$w $r True" ] || fail "round $r: winner $w but leader says '$owner'"
    expect_rc 0 "$FL" direct release -r "LS:race:$img:0" -i "$w" -g 1
done
echo "paxos race: $rounds rounds x $procs processes, one winner each"
