#!/usr/bin/env python3
"""Checks that `fencelock events -o json` (read on stdin) tells the story of a
cluster scenario, in Raft index order, each step with its time, the leader
that proposed it and the host that asked.

  events_story.py crash V VM...      V DEAD; each VM placed on another host
                                     from V (cause DEAD) and started there
  events_story.py partition V VM...  V PARTITIONED; a fence of V requested
                                     (cause PARTITIONED) and acknowledged; each
                                     VM placed elsewhere from V after the
                                     request and started there (a start has
                                     its placement's cause); then V back:
                                     UP again and its fence cleared (cause back)

Prints one line summing up the story (for the scenario's "observed" column);
exits 1 with the reason on stdout when a step is missing or out of order."""
import json
import sys


def fail(msg):
    print(msg)
    sys.exit(1)


def find(events, what, pred, after=0):
    for e in events:
        if e["index"] > after and pred(e):
            return e
    fail("no %s after index %d in %s" % (what, after, brief(events)))


def brief(events):
    return " ".join("%s@%d(h%s%s%s)" % (e["type"], e["index"], e["host"], " " + e["vm"] if e["vm"] else "",
                                         " " + e["state"] if e["state"] else "") for e in events)


def check_origin(e):
    if e["time"] is None or not e["time"].endswith("Z") or e["wall_us"] is None:
        fail("event without a time: %s" % json.dumps(e))
    if e["leader"] is None or e["by_host"] is None:
        fail("event without its leader or asking host: %s" % json.dumps(e))


def vms_moved(events, v, vms, after, causes):
    steps = []
    for vm in vms:
        placed = find(events, "%s placed away from h%d" % (vm, v),
                      lambda e, vm=vm: e["type"] == "vm-placed" and e["vm"] == vm and e["from_host"] == v and
                      e["host"] not in (None, v), after)
        if placed["cause"] not in causes:
            fail("%s placed with cause %s, expected one of %s" % (vm, placed["cause"], causes))
        started = find(events, "%s started on h%d" % (vm, placed["host"]),
                       lambda e, vm=vm, h=placed["host"]: e["type"] == "vm-started" and e["vm"] == vm and
                       e["host"] == h, placed["index"])
        if started["cause"] != placed["cause"]:
            fail("%s started with cause %s, its placement's was %s" % (vm, started["cause"], placed["cause"]))
        steps += [placed, started]
    return steps


def main():
    kind, v, vms = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    d = json.load(sys.stdin)
    events = d.get("events") or fail("no events in %s" % json.dumps(d)[:300])
    idx = [e["index"] for e in events]
    if idx != sorted(idx):
        fail("events not in index order: %s" % idx)
    host_is = lambda state: lambda e: e["type"] == "host-state" and e["host"] == v and e["state"] == state
    if kind == "crash":
        dead = find(events, "h%d DEAD" % v, host_is("DEAD"))
        steps = [dead] + vms_moved(events, v, vms, 0, ("DEAD",))
        if any(s["index"] < dead["index"] for s in steps[1:]):
            fail("a VM moved before h%d was DEAD: %s" % (v, brief(events)))
    elif kind == "partition":
        part = find(events, "h%d PARTITIONED" % v, host_is("PARTITIONED"))
        req = find(events, "fence of h%d requested" % v,
                   lambda e: e["type"] == "fence-requested" and e["host"] == v, part["index"])
        if req["cause"] != "PARTITIONED":
            fail("fence of h%d requested with cause %s" % (v, req["cause"]))
        ack = find(events, "fence of h%d acknowledged" % v,
                   lambda e: e["type"] == "fence-acked" and e["host"] == v, req["index"])
        if ack["fence_index"] != req["index"]:
            fail("the ack names fence @%s, the request was @%d" % (ack["fence_index"], req["index"]))
        moved = vms_moved(events, v, vms, req["index"], ("FENCED", "PARTITIONED", "DEAD"))
        up = find(events, "h%d UP again" % v, host_is("UP"), ack["index"])
        clear = find(events, "fence of h%d cleared" % v,
                     lambda e: e["type"] == "fence-cleared" and e["host"] == v, ack["index"])
        if clear["cause"] != "back":
            fail("fence of h%d cleared with cause %s" % (v, clear["cause"]))
        steps = [part, req, ack] + moved + [up, clear]
    else:
        fail("unknown story %s" % kind)
    for s in steps:
        check_origin(s)
    t0 = steps[0]["wall_us"]
    print("history on h%s: %s" % (d.get("host_id"), ", ".join(
        "%s%s@%d +%.1fs" % (s["type"], "(" + (s["vm"] or s["state"] or "") + ")" if s["vm"] or s["state"] else "",
                            s["index"], (s["wall_us"] - t0) / 1e6)
        for s in steps)))


main()
