#!/usr/bin/env python3
"""Timelines of the cluster scenarios: what was done, what each host saw, and
when each VM wrote where.

  timeline.py collect --run DIR --hosts N --vms "vm1 vm2" [--t0 MS] > timeline.json
  timeline.py collect-demo --dir DIR --hosts N --vms "..." [--title T] > timeline.json  (make demo)
  timeline.py plot TIMELINE.json... [--out-dir DIR]       one PNG per timeline
  timeline.py hist --title T --out PNG NAME=FILE...       histogram + CDF of samples

collect reads, after a run, the files a scenario leaves in its run directory:
  timeline.events            "BOOTTIME_MS FUNCTION ARGS" per fault the scenario
                             injected or healed (scenario_lib.sh writes it);
  hN/log/fencelockd.log      "HH:MM:SS.mmm fencelockd[hN] LEVEL: MSG" (UTC wall
                             clock): "host A: host B is S (was S0)" when host A's
                             view of B changes, and the fence lines;
  hN/fakevm/fakevm-UID-hN-*.log  one file per VM process (the overlap checker's
                             records): "it seq=.. mono_ns=N" per write, in
                             CLOCK_MONOTONIC (a real VM's guest logs its own
                             clock: its writes are left out of the timeline).
Every time is turned into milliseconds after the first fault (t = 0); the
clocks are related by reading all three (wall, monotonic, boot time) here,
at once. For each VM that changed hosts, the gap is the time from the last
write of one process to the first write of the next (negative: they overlap).
Output: JSON (fields below), consumed by plot and embedded by scenario_lib.sh
in the scenario's SCENARIO-RESULT line.
"""
import datetime
import glob
import json
import os
import re
import subprocess
import sys
import time

STATE_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) \S+ (\w+): (.*)$")
SAW = re.compile(r"^host (\d+): host (\d+) is (\w+) \(was (\w+)\)$")
SELF = [  # (pattern, event kind) of lines a host logs about itself
    (re.compile(r"not quorate for \d+ ms: fencing ourselves"), "self-fence (quorum)"),
    (re.compile(r"fence request in our mailbox"), "fence request obeyed"),
    (re.compile(r"FENCED written to our mailbox"), "FENCED written"),
    (re.compile(r"fence cleared, VMs may run here again"), "fence cleared"),
    (re.compile(r"delta lease (expired|lost): stopping every VM"), "lease lost: VMs stopped"),
    (re.compile(r"^host \d+: VM \d+ moves from host (\d+) to host (\d+)"), "moves VM h{0}->h{1}"),
]
FENCING = re.compile(r"^host \d+: fencing host (\d+) \(")
FAULT_NAMES = {
    "cl_host_crash": "crash", "cl_isolate": "isolate", "cl_isolate_in": "cut inbound",
    "cl_isolate_out": "cut outbound", "cl_cut": "cut", "cl_uncut": "uncut", "cl_split": "split",
    "cl_heal": "heal", "cl_flap": "flap", "cl_storage_freeze": "storage frozen",
    "cl_storage_unfreeze": "storage unfrozen", "cl_storage_fail": "storage fails",
    "cl_storage_ok": "storage ok", "cl_pause": "SIGSTOP", "cl_resume": "SIGCONT",
    "cl_restart": "restart", "cl_restart_all": "restart all", "cl_stop": "stop",
    "cl_storage_down": "storage removed", "sc_host_add": "host added", "sc_host_remove": "host removed",
}


def clocks():
    """(wall - boottime, monotonic - boottime) in ms, read together."""
    b = time.clock_gettime(time.CLOCK_BOOTTIME)
    w = time.time()
    m = time.clock_gettime(time.CLOCK_MONOTONIC)
    return (w - b) * 1000.0, (m - b) * 1000.0


def read_events(run):
    out = []
    try:
        with open(os.path.join(run, "timeline.events")) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) >= 2 and parts[0].isdigit():
                    fn = parts[1]
                    args = parts[2] if len(parts) > 2 else ""
                    out.append({"boot_ms": int(parts[0]), "what": FAULT_NAMES.get(fn, fn), "fn": fn, "args": args})
    except OSError:
        pass
    return out


def wall_to_boot(hms, wall_minus_boot, now_wall):
    """HH:MM:SS.mmm (UTC, today or yesterday: the nearest before now) -> boot ms."""
    h, mi, s, ms = (int(x) for x in hms)
    today = datetime.datetime.fromtimestamp(now_wall, datetime.timezone.utc).date()
    best = None
    for d in (today, today - datetime.timedelta(days=1)):
        t = datetime.datetime(d.year, d.month, d.day, h, mi, s, ms * 1000, tzinfo=datetime.timezone.utc).timestamp()
        if t <= now_wall + 60 and (best is None or t > best):
            best = t
    return best * 1000.0 - wall_minus_boot


def read_daemon_logs(run, hosts, wall_minus_boot):
    now_wall = time.time()
    seen = []
    for h in range(1, hosts + 1):
        path = os.path.join(run, "h%d" % h, "log", "fencelockd.log")
        try:
            f = open(path, errors="replace")
        except OSError:
            continue
        with f:
            for line in f:
                m = STATE_LINE.match(line.rstrip("\n"))
                if not m:
                    continue
                t = wall_to_boot(m.group(1, 2, 3, 4), wall_minus_boot, now_wall)
                msg = m.group(6)
                s = SAW.match(msg)
                if s:
                    if s.group(4) == "unknown":
                        continue  # the first look at a host, at start-up
                    seen.append({"boot_ms": t, "host": int(s.group(1)), "about": int(s.group(2)),
                                 "state": s.group(3), "was": s.group(4)})
                    continue
                fm = FENCING.match(msg)
                if fm:
                    seen.append({"boot_ms": t, "host": h, "about": int(fm.group(1)), "state": "fence requested",
                                 "was": ""})
                    continue
                for rx, kind in SELF:
                    km = rx.search(msg)
                    if km:
                        seen.append({"boot_ms": t, "host": h, "about": h, "state": kind.format(*km.groups()),
                                     "was": ""})
                        break
    return seen


def read_vm_runs(run, uid, mono_minus_boot):
    runs = []
    for path in glob.glob(os.path.join(run, "h*", "fakevm", "fakevm-%s-h*-*.log" % uid)):
        first = last = None
        host = inc = None
        writes = 0
        with open(path, errors="replace") as f:
            head = f.readline()
            m = re.match(r"fakevm-log 1 vm=(\S+) host=(\d+) inc=(\d+)", head)
            if not m or m.group(1) != uid:
                continue
            host, inc = int(m.group(2)), int(m.group(3))
            for line in f:
                if not line.endswith("\n"):
                    break
                t = re.search(r" mono_ns=(\d+)", line)
                if line.startswith("it ") and t:
                    ms = int(t.group(1)) / 1e6 - mono_minus_boot
                    first = ms if first is None else first
                    last = ms
                    writes += 1
        # A guest (SC_VMM=qemu) logs its own clock, not this machine's: its
        # times land hours away from the run and are left out.
        now_boot = time.clock_gettime(time.CLOCK_BOOTTIME) * 1000.0
        if first is not None and now_boot - 6 * 3600e3 <= first <= last <= now_boot + 1000:
            runs.append({"host": host, "incarnation": inc, "first_boot_ms": first, "last_boot_ms": last,
                         "writes": writes})
    runs.sort(key=lambda r: r["first_boot_ms"])
    return runs


def collect(args):
    run, hosts, vms = args["run"], int(args["hosts"]), args["vms"].split()
    wall_minus_boot, mono_minus_boot = clocks()
    events = read_events(run)
    faults = [e for e in events if e["fn"] not in ("cl_heal", "cl_uncut", "cl_storage_ok", "cl_storage_unfreeze",
                                                     "cl_resume", "sc_end")]
    t0 = faults[0]["boot_ms"] if faults else (events[0]["boot_ms"] if events else int(args.get("t0") or 0))

    def rel(ms):
        return round(ms - t0, 1)

    out = {"t0": "the first fault injected" if faults else "the scenario's start", "unit": "ms",
           "hosts": list(range(1, hosts + 1)), "faults": [], "seen": [], "vms": []}
    for e in events:
        out["faults"].append({"t_ms": rel(e["boot_ms"]), "what": e["what"], "args": e["args"]})
    for s in read_daemon_logs(run, hosts, wall_minus_boot):
        s["t_ms"] = rel(s.pop("boot_ms"))
        out["seen"].append(s)
    out["seen"].sort(key=lambda s: s["t_ms"])
    for uid in vms:
        runs = read_vm_runs(run, uid, mono_minus_boot)
        vm = {"uid": uid, "runs": [], "moves": []}
        for r in runs:
            vm["runs"].append({"host": r["host"], "incarnation": r["incarnation"], "writes": r["writes"],
                               "first_write_ms": rel(r["first_boot_ms"]), "last_write_ms": rel(r["last_boot_ms"])})
        for a, b in zip(vm["runs"], vm["runs"][1:]):
            vm["moves"].append({"from": a["host"], "to": b["host"], "last_write_old_ms": a["last_write_ms"],
                                "first_write_new_ms": b["first_write_ms"],
                                "gap_ms": round(b["first_write_ms"] - a["last_write_ms"], 1)})
        out["vms"].append(vm)
    return out


def collect_demo(args):
    """make demo's cluster (loopback daemons, scripts/demo.sh): daemon logs in
    DIR/hN/log, each VM's lines "start|beat UID .../hN/ctl.sock EPOCH_MS" in
    DIR/vm-UID.log, and the demo's own notes "EPOCH_MS FUNCTION ARGS" in
    DIR/timeline.events. Same output as collect."""
    d, hosts, vms = args["dir"], int(args["hosts"]), args["vms"].split()
    wall_minus_boot, _ = clocks()
    events = []
    try:
        for line in open(os.path.join(d, "timeline.events")):
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) >= 2 and parts[0].isdigit():
                events.append({"boot_ms": int(parts[0]) - wall_minus_boot, "fn": parts[1],
                               "what": FAULT_NAMES.get(parts[1], parts[1]), "args": parts[2] if len(parts) > 2 else ""})
    except OSError:
        pass
    t0 = events[0]["boot_ms"] if events else 0.0

    def rel(ms):
        return round(ms - t0, 1)

    out = {"t0": "the first fault injected" if events else "the demo's start", "unit": "ms",
           "hosts": list(range(1, hosts + 1)), "faults": [], "seen": [], "vms": []}
    for e in events:
        out["faults"].append({"t_ms": rel(e["boot_ms"]), "what": e["what"], "args": e["args"]})
    # The daemon logs of the demo are $DIR/hN/log, not hN/log/fencelockd.log.
    now_wall = time.time()
    for h in range(1, hosts + 1):
        try:
            lines = open(os.path.join(d, "h%d" % h, "log"), errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            m = STATE_LINE.match(line)
            s = SAW.match(m.group(6)) if m else None
            if s and s.group(4) != "unknown":
                t = wall_to_boot(m.group(1, 2, 3, 4), wall_minus_boot, now_wall)
                out["seen"].append({"t_ms": rel(t), "host": int(s.group(1)), "about": int(s.group(2)),
                                    "state": s.group(3), "was": s.group(4)})
    out["seen"].sort(key=lambda s: s["t_ms"])
    for uid in vms:
        runs = []
        try:
            lines = open(os.path.join(d, "vm-%s.log" % uid), errors="replace").read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            f = line.split()
            if len(f) != 4 or not f[3].isdigit():
                continue
            hm = re.search(r"/h(\d+)/ctl\.sock$", f[2])
            host = int(hm.group(1)) if hm else 0
            ms = rel(int(f[3]) - wall_minus_boot)
            if f[0] == "start" or not runs or runs[-1]["host"] != host:
                runs.append({"host": host, "incarnation": len(runs), "writes": 0, "first_write_ms": ms,
                             "last_write_ms": ms})
            runs[-1]["last_write_ms"] = ms
            runs[-1]["writes"] += 1
        vm = {"uid": uid, "runs": runs, "moves": []}
        for a, b in zip(runs, runs[1:]):
            vm["moves"].append({"from": a["host"], "to": b["host"], "last_write_old_ms": a["last_write_ms"],
                                "first_write_new_ms": b["first_write_ms"],
                                "gap_ms": round(b["first_write_ms"] - a["last_write_ms"], 1)})
        out["vms"].append(vm)
    return out


# ---- plotting (gnuplot) ------------------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
STATE_COLORS = {"UP": "#2ca02c", "PARTITIONED": "#ff7f0e", "STORAGE_LOST": "#9467bd", "DEAD": "#d62728",
                "FENCED": "#000000", "LEFT": "#7f7f7f"}


def q(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fault_text(f):
    """"crash 1" -> "crash h1"; "split 1 2 3" -> "split h1 h2 h3"; names stay."""
    args = " ".join("h" + a if a.isdigit() else a for a in f["args"].split())
    return ("%s %s" % (f["what"], args)).strip()


def group_text(g, lane_host):
    """One label for events close in time: "h1,h3 PARTITIONED", "fence requested h2", "moves VM h2->h1 (x2)"."""
    parts, abouts = [], {}
    for e in g:
        if e["about"] == lane_host:
            key = e["state"]
        elif e["state"] == "fence requested":
            key = "fence h%d requested" % e["about"]
        else:
            abouts.setdefault(e["state"], []).append("h%d" % e["about"])
            key = None
        if key is not None:
            parts.append(key)
    for st, hs in abouts.items():
        parts.append("%s %s" % (",".join(dict.fromkeys(hs)), st))
    out = []
    for p in dict.fromkeys(parts):
        n = parts.count(p)
        out.append(p if n == 1 else "%s (x%d)" % (p, n))
    return ", ".join(out)


def plot_one(tl, title, png):
    hosts = tl.get("hosts", [])
    vms = tl.get("vms", [])
    lanes = ["h%d" % h for h in hosts] + [v["uid"] for v in vms]
    y = {name: len(lanes) - i for i, name in enumerate(lanes)}
    times = [f["t_ms"] for f in tl.get("faults", [])] + [s["t_ms"] for s in tl.get("seen", [])]
    for v in vms:
        for r in v["runs"]:
            times += [r["first_write_ms"], r["last_write_ms"]]
    if not times:
        return False
    # The window: a little before the first fault to a little after the last
    # event that matters (the end's heal and crash-everything are cut off).
    faults = [f for f in tl.get("faults", []) if f["what"] not in ("sc_end",)]
    end_marks = [f["t_ms"] for f in tl.get("faults", []) if f["what"] == "sc_end"]
    tmax = min(end_marks) if end_marks else max(times)
    tmin = min([0.0] + [f["t_ms"] for f in faults]) - 3000
    tmax = max(tmax, tmin + 5000)
    cmds = []
    cmds.append("set terminal pngcairo size 1400,%d font 'DejaVu Sans,10' noenhanced" % (220 + 70 * len(lanes)))
    cmds.append("set output %s" % q(png))
    cmds.append("set title %s font ',13'" % q(title))
    cmds.append("set xlabel 'seconds after the fault (t = 0: %s)'" % tl.get("t0", "start"))
    cmds.append("set xrange [%f:%f]" % (tmin / 1000, tmax / 1000))
    cmds.append("set yrange [0.3:%f]" % (len(lanes) + 0.9))
    cmds.append("set ytics (%s)" % ", ".join("%s %d" % (q(n), y[n]) for n in lanes))
    cmds.append("set grid xtics lc rgb '#dddddd'")
    cmds.append("unset key")
    cmds.append("set border 3")
    obj = 1
    # VM lanes: one bar per process (first to last write), coloured by host.
    for v in vms:
        ly = y[v["uid"]]
        for r in v["runs"]:
            a, b = max(r["first_write_ms"], tmin) / 1000, min(r["last_write_ms"], tmax) / 1000
            if b < a:
                continue
            c = COLORS[(r["host"] - 1) % len(COLORS)]
            cmds.append("set object %d rect from %f,%f to %f,%f fc rgb '%s' fs solid 0.55 noborder" %
                        (obj, a, ly - 0.18, b, ly + 0.18, c))
            obj += 1
            cmds.append("set label %s at %f,%f left font ',9' front" % (q("on h%d" % r["host"]), a, ly + 0.3))
        for mv in v["moves"]:
            a, b = mv["last_write_old_ms"] / 1000, mv["first_write_new_ms"] / 1000
            if b < tmin / 1000 or a > tmax / 1000:
                continue
            col = "#d62728" if mv["gap_ms"] < 0 else "#000000"
            cmds.append("set arrow from %f,%f to %f,%f heads size screen 0.006,90 lw 2 lc rgb '%s' front" %
                        (a, ly - 0.3, b, ly - 0.3, col))
            cmds.append("set label %s at %f,%f center font ',9' tc rgb '%s' front" %
                        (q("gap %.2f s (h%d -> h%d)" % (mv["gap_ms"] / 1000, mv["from"], mv["to"])),
                         (a + b) / 2, ly - 0.45, col))
    # Host lanes: what each host saw (a point per change of its view; changes
    # within 300 ms of each other share one label, labels alternate above and
    # below the lane so that neighbours do not cover each other).
    for lane_host in hosts:
        evs = [e for e in tl.get("seen", []) if e["host"] == lane_host and tmin <= e["t_ms"] <= tmax]
        groups = []
        for e in sorted(evs, key=lambda e: e["t_ms"]):
            if groups and e["t_ms"] - groups[-1][0]["t_ms"] <= 300:
                groups[-1].append(e)
            else:
                groups.append([e])
        ly = y["h%d" % lane_host]
        for gi, g in enumerate(groups):
            for e in g:
                cmds.append("set object %d circle at %f,%f size screen 0.004 fc rgb '%s' fs solid front" %
                            (obj, e["t_ms"] / 1000, ly, STATE_COLORS.get(e["state"], "#444444")))
                obj += 1
            cmds.append("set label %s at %f,%f left rotate by %d font ',8' tc rgb '%s' front" %
                        (q(group_text(g, lane_host)), g[0]["t_ms"] / 1000, ly + (0.08 if gi % 2 == 0 else -0.08),
                         30 if gi % 2 == 0 else -30, STATE_COLORS.get(g[-1]["state"], "#444444")))
    # Faults: a vertical line across every lane.
    for f in tl.get("faults", []):
        if f["what"] == "sc_end" or f["t_ms"] < tmin or f["t_ms"] > tmax:
            continue
        x = f["t_ms"] / 1000
        heal = f["what"] in ("heal", "uncut", "storage ok", "storage unfrozen", "SIGCONT", "restart", "restart all")
        col = "#2ca02c" if heal else "#d62728"
        cmds.append("set arrow from %f,graph 0 to %f,graph 1 nohead dt 2 lw 1.5 lc rgb '%s' back" % (x, x, col))
        cmds.append("set label %s at %f,graph 0.99 right rotate by 90 offset 0.8,0 font ',9' tc rgb '%s' front" %
                    (q(fault_text(f)), x, col))
    hosts_col = ", ".join("h%d %s" % (h, ["blue", "red", "green", "purple", "orange", "brown", "pink", "cyan"][(h - 1) % 8])
                          for h in hosts)
    cmds.append("set label %s at screen 0.01,0.035 left font ',9' tc rgb '#444444'" %
                q("dashed lines: faults injected (red) and healed (green); dots: a change of that host's view "
                  "(of another host, or of itself)\nbars: a VM process writing its volume, by host (%s); "
                  "arrows: last write on the old host to first write on the new one" % hosts_col))
    cmds.append("set bmargin 6")
    cmds.append("plot NaN notitle")
    r = subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True, capture_output=True)
    if r.returncode != 0:
        sys.stderr.write("gnuplot failed for %s: %s\n" % (png, r.stderr[-500:]))
        return False
    return True


def plot(files, out_dir):
    n = 0
    for path in files:
        try:
            doc = json.load(open(path))
        except (OSError, ValueError) as e:
            sys.stderr.write("timeline: %s: %s\n" % (path, e))
            continue
        tl = doc.get("timeline", doc)
        if not isinstance(tl, dict) or "hosts" not in tl:
            continue
        base = os.path.splitext(os.path.basename(path))[0]
        title = doc.get("title", base)
        if "scenario" in doc and doc["scenario"] != "demo":
            title = "scenario %s: %s" % (doc["scenario"], title)
        png = os.path.join(out_dir or os.path.dirname(path), base + ".png")
        if plot_one(tl, title, png):
            print("timeline: %s" % png)
            n += 1
    return n


def hist(title, out, series, xlabel):
    """Histogram and CDF of each NAME=FILE (one number per line, seconds)."""
    data = {}
    for item in series:
        name, path = item.split("=", 1)
        vals = sorted(float(x) for x in open(path).read().split() if x.strip())
        if vals:
            data[name] = (path, vals)
    if not data:
        return False
    lo = min(v[0] for _, v in data.values())
    hi = max(v[-1] for _, v in data.values())
    width = max((hi - lo) / 30.0, 0.05)
    cmds = ["set terminal pngcairo size 1200,500 font 'DejaVu Sans,10' noenhanced", "set output %s" % q(out),
            "set multiplot layout 1,2 title %s font ',13'" % q(title),
            "set xlabel %s" % q(xlabel), "set ylabel 'runs'", "set style fill transparent solid 0.5 noborder",
            "set key top right", "set offsets 0, 0, graph 0.12, 0", "bw = %f" % width, "bin(x) = bw * floor(x / bw) + bw / 2",
            "set grid ytics lc rgb '#dddddd'"]
    plots = []
    for i, (name, (path, vals)) in enumerate(data.items()):
        plots.append("%s using (bin($1)):(1.0) smooth frequency with boxes lc rgb '%s' title %s" %
                     (q(path), COLORS[i % len(COLORS)], q("%s (n=%d)" % (name, len(vals)))))
    cmds.append("plot " + ", ".join(plots))
    cmds += ["set ylabel 'fraction of runs'", "set offsets 0, 0, 0, 0", "set yrange [0:1.02]", "set key bottom right"]
    plots = []
    for i, (name, (path, vals)) in enumerate(data.items()):
        p50 = vals[len(vals) // 2]
        p99 = vals[min(len(vals) - 1, int(len(vals) * 0.99))]
        plots.append("%s using 1:(1.0/%d) smooth cumulative with steps lw 2 lc rgb '%s' title %s" %
                     (q(path), len(vals), COLORS[i % len(COLORS)],
                      q("%s: p50 %.1f s, p99 %.1f s, max %.1f s" % (name, p50, p99, vals[-1]))))
    cmds.append("plot " + ", ".join(plots))
    cmds.append("unset multiplot")
    r = subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True, capture_output=True)
    if r.returncode != 0:
        sys.stderr.write("gnuplot failed for %s: %s\n" % (out, r.stderr[-500:]))
        return False
    print("distribution: %s" % out)
    return True


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[1], argv[2:]
    opts, pos = {}, []
    i = 0
    while i < len(rest):
        if rest[i].startswith("--") and i + 1 < len(rest):
            opts[rest[i][2:].replace("-", "_")] = rest[i + 1]
            i += 2
        else:
            pos.append(rest[i])
            i += 1
    if cmd == "collect":
        json.dump(collect(opts), sys.stdout, separators=(",", ":"))
        print()
        return 0
    if cmd == "collect-demo":
        doc = {"scenario": "demo", "title": opts.get("title", "make demo"), "timeline": collect_demo(opts)}
        json.dump(doc, sys.stdout, separators=(",", ":"))
        print()
        return 0
    if cmd == "plot":
        return 0 if plot(pos, opts.get("out_dir")) > 0 or not pos else 1
    if cmd == "hist":
        return 0 if hist(opts.get("title", ""), opts["out"], pos, opts.get("xlabel", "seconds")) else 1
    sys.stderr.write("timeline.py: unknown command %s\n" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
