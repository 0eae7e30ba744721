#!/usr/bin/env bash
# `fencelock events` tells the story of a crash from the replicated state.
# Three daemons, a VM started on h1, then h1 crashes (daemon and VM
# SIGKILLed): a survivor's `fencelock events -o json` must show, after the
# crash and in Raft index order, h1 declared dead (PARTITIONED first if the
# leader saw that), a fence of h1 if one was asked for (requested before it
# was acknowledged), the VM placed on a survivor from h1 with the cause
# "DEAD" (or the state the leader saw), and the VM started there; each with
# its time (RFC 3339), the leader that proposed it and the host that asked.
# Then a survivor's daemon is restarted, then the whole cluster, and every
# host shows the same events (the history is replicated state, read back
# from each host's Raft log and snapshot, not kept in memory only). Filters and hostile --since / --host / --vm values
# are checked on the way (exit 2 with a sentence naming the accepted forms).
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/daemon_lib.sh"
# ev I [ARGS...]: host I's `fencelock events ARGS`.
ev() { local i=$1; shift; "$FL" -s "$(dl_sock "$i")" events -t 3000 "$@"; }

dl_setup 3
dl_start_all
dl_wait_cluster 20
dl_exec 1 vm-e
wait_for 10 dl_vm_started_on vm-e 1 || fail "vm-e did not start on h1: $(cat "$T/exec-vm-e-h1.out")"

# Before the crash: the leader, the VM registered, placed on h1 and started there.
wait_for 5 eval 'ev 2 --vm vm-e -o json | dl_py "[e[\"type\"] for e in d[\"events\"]]" | grep -q vm-started' ||
    fail "h2 shows no vm-started of vm-e: $(ev 2 -o json)"
ev 2 -o json > "$T/before.json" || fail "fencelock events -o json failed on h2"
python3 - "$T/before.json" <<'EOF' || fail "the history before the crash is wrong: $(cat "$T/before.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1, d.get("schema_version")
assert d["capacity"] == 1024 and d["held"] == len(d["events"]) and d["total"] >= d["held"], d
ev = d["events"]
idx = [e["index"] for e in ev]
assert idx == sorted(idx), "not in index order: %s" % idx
assert [e["seq"] for e in ev] == list(range(d["total"] - d["held"], d["total"])), "seq not contiguous"
types = [e["type"] for e in ev]
assert "leader" in types, types
vm = [e for e in ev if e["vm"] == "vm-e"]
kinds = [e["type"] for e in vm]
for k in ("vm-registered", "vm-placed", "vm-started"):
    assert k in kinds, (k, kinds)
placed = [e for e in vm if e["type"] == "vm-placed"][0]
assert placed["host"] == 1 and placed["host_name"] == "h1", placed
assert placed["by_host"] == 1 and placed["by_host_name"] == "h1", placed
for e in ev:
    assert e["time"] is not None and e["time"].endswith("Z") and e["time"][:2] == "20", e
    assert e["wall_us"] > 1.6e15, e
    assert e["leader"] in (1, 2, 3) and e["leader_name"] == "h%d" % e["leader"], e
EOF
last=$(dl_py 'max(e["index"] for e in d["events"])' < "$T/before.json")

# Hostile input: exit 2 and a sentence, nothing asked of the daemon.
for bad in yesterday 10x -5m @ @-1 @12a 2026-13-01T00:00:00Z 2026-02-30T00:00:00Z 2026-01-01T00:00:00 \
           '2026-01-01T25:00:00Z' 99999999999999999999s ''; do
    expect_rc 2 ev 2 --since "$bad"
    echo "$out" | grep -q 'RFC 3339' || fail "--since '$bad': no sentence naming the forms: $out"
done
expect_rc 2 ev 2 --host 0
expect_rc 2 ev 2 --host 'h 1'
expect_rc 2 ev 2 --vm .x
expect_rc 2 ev 2 -o yaml
expect_rc 2 ev 2 extra
expect_rc 0 ev 2 --help
echo "$out" | grep -q -- '--since T' || fail "events --help lacks --since: $out"
echo "$out" | grep -qF '  9  fencelockd unreachable' || fail "events --help lacks the exit-code table: $out"
out=$("$FL" -s "$T/none.sock" events -o json 2>/dev/null); rc=$?
[ "$rc" = 9 ] || fail "events, daemon down: exit $rc"
dl_py 'd["ok"] is False and d["exit"] == 9 and d["schema_version"] == 1' <<<"$out" | grep -q True || fail "events -o json, daemon down: $out"
"$FL" --help | grep -q '^  events ' || fail "fencelock --help does not list events"
# Filters: a future time shows nothing, an hour back everything so far, a
# host or VM only its own.
[ "$(ev 2 -o json --since 2099-01-01T00:00:00+02:00 | dl_py 'len(d["events"])')" = 0 ] || fail "--since 2099 shows events"
[ "$(ev 2 -o json --since 1h | dl_py 'len(d["events"])')" -ge "$(dl_py 'len(d["events"])' < "$T/before.json")" ] ||
    fail "--since 1h shows fewer events than were recorded"
[ "$(ev 2 -o json --since "@$last" | dl_py '[e["index"] for e in d["events"]][:1]')" = "[$last]" ] || fail "--since @$last"
ev 2 -o json --host h1 | dl_py 'all(1 in (e["host"], e["from_host"]) for e in d["events"]) and len(d["events"]) > 0' |
    grep -q True || fail "--host h1 shows events of other hosts"
ev 2 -o json --vm vm-e | dl_py 'all(e["vm"] == "vm-e" for e in d["events"]) and len(d["events"]) >= 3' |
    grep -q True || fail "--vm vm-e shows other events"

# The crash.
dl_kill 1
dl_kill_host_vms 1
wait_for 30 eval '[ "$(grep -c "^start " "$T/vm-vm-e.log")" -gt 1 ]' || fail "vm-e not restarted within 30 s after h1 crashed"
Y=$(dl_vm_host vm-e)
[ "$Y" = 2 ] || [ "$Y" = 3 ] || fail "vm-e restarted on h$Y"
story() { ev "$1" -o json --since "@$((last + 1))" > "$T/story-h$1.json" && python3 - "$T/story-h$1.json" "$Y" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); y = int(sys.argv[2])
ev = d["events"]
idx = [e["index"] for e in ev]
assert idx == sorted(idx), "not in index order: %s" % idx
def first(pred, what):
    for e in ev:
        if pred(e):
            return e
    raise AssertionError("no %s in %s" % (what, [(e["index"], e["type"], e["host"], e["state"]) for e in ev]))
dead = first(lambda e: e["type"] == "host-state" and e["host"] == 1 and e["state"] == "DEAD", "h1 DEAD")
placed = first(lambda e: e["type"] == "vm-placed" and e["vm"] == "vm-e" and e["host"] == y, "vm-e placed on h%d" % y)
started = first(lambda e: e["type"] == "vm-started" and e["vm"] == "vm-e" and e["host"] == y and e["index"] > placed["index"],
                "vm-e started on h%d" % y)
assert placed["from_host"] == 1 and placed["from_host_name"] == "h1", placed
assert placed["cause"] in ("DEAD", "PARTITIONED", "FENCED"), placed
assert dead["cause"] == "DEAD" and dead["host_name"] == "h1", dead
assert dead["index"] < placed["index"] or placed["cause"] != "DEAD", (dead, placed)
for e in (dead, placed, started):
    assert e["time"] is not None and e["wall_us"] is not None, e
    assert e["leader"] in (2, 3) and e["by_host"] in (2, 3) and e["by_host_name"] == "h%d" % e["by_host"], e
assert dead["wall_us"] <= placed["wall_us"] <= started["wall_us"], (dead, placed, started)
assert started["by_host"] == y, started
assert started["cause"] == placed["cause"], (started, placed)  # a start carries out its placement
req = [e for e in ev if e["type"] == "fence-requested" and e["host"] == 1]
ack = [e for e in ev if e["type"] == "fence-acked" and e["host"] == 1]
if ack:
    assert req and req[0]["index"] < ack[0]["index"] and ack[0]["fence_index"] == req[0]["index"], (req, ack)
part = [e for e in ev if e["type"] == "host-state" and e["host"] == 1 and e["state"] == "PARTITIONED"]
if part:
    assert part[0]["index"] < dead["index"], (part, dead)
print("%d events after the crash: %s" % (len(ev), ", ".join("%s@%d" % (e["type"], e["index"]) for e in ev)))
EOF
}
for i in 2 3; do
    wait_for 10 story "$i" > "$T/story-h$i.out" 2>&1 || { story "$i"; fail "h$i does not tell the crash: $(cat "$T/story-h$i.json")"; }
done
tail -1 "$T/story-h2.out"
echo "--- fencelock events --since @$((last + 1)) on h2:"
ev 2 --since "@$((last + 1))" || fail "fencelock events (text) failed"
ev 2 --since "@$((last + 1))" | grep -E "host-state +1 \(h1\) .*DEAD" > /dev/null || fail "the text table lacks h1's DEAD line"

# Kept across restarts: first the survivor not running the VM restarts and
# shows the same history (same numbers, same events); then the whole
# cluster stops (h1 is still down) and starts again, so every host reads
# its history back from its own state directory (Raft log and snapshot).
Z=$((5 - Y))
# same H: host H shows the events saved in $T/events-before-restart first.
same() { ev "$1" -o json | dl_py 'json.dumps(d["events"], sort_keys=True)' > "$T/events-after-restart" &&
    python3 - "$T/events-before-restart" "$T/events-after-restart" <<'EOF'
import json, sys
a = json.loads(open(sys.argv[1]).read()); b = json.loads(open(sys.argv[2]).read())
keep = lambda e: {k: v for k, v in e.items() if not k.endswith("_name")}  # names come from the host table
assert len(b) >= len(a) and [keep(e) for e in b[:len(a)]] == [keep(e) for e in a], (len(a), len(b))
EOF
}
ev "$Z" -o json | dl_py 'json.dumps(d["events"], sort_keys=True)' > "$T/events-before-restart"
dl_kill "$Z" TERM
dl_start "$Z"
wait_for 15 same "$Z" 2>/dev/null || fail "h$Z lost its history across a restart: before $(wc -c < "$T/events-before-restart") bytes, after: $(cat "$T/events-after-restart")"
echo "h$Z restarted: its $(dl_py 'len(d)' < "$T/events-before-restart") events are still there"
ev "$Y" -o json | dl_py 'json.dumps(d["events"], sort_keys=True)' > "$T/events-before-restart"
dl_kill "$Y" TERM
dl_kill "$Z" TERM
dl_start_all
dl_wait_cluster 20
for i in 1 2 3; do
    wait_for 10 same "$i" 2>/dev/null || fail "h$i lacks the history after the cluster restarted: $(cat "$T/events-after-restart")"
done
echo "the whole cluster restarted: every host shows the $(dl_py 'len(d)' < "$T/events-before-restart") events"
exit 0
