#!/usr/bin/env python3
# A monitoring client: every PERIOD seconds, connects to the control socket
# (argv[1]) afresh, asks for the status and appends one line to OUT (argv[2]):
# "EPOCH_MS LATENCY_MS RUNNING" (connect to reply; VMs RUNNING here), or
# "EPOCH_MS fail REASON". Runs
# until the file STOP (argv[4]) is gone. Latency is measured here, in one
# long-lived process, up to the reply's last byte (decoded after), so that it
# is the daemon's answer time and not the cost of starting a program or of
# parsing a long reply on a loaded machine.
import json, os, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_frame import frame  # noqa: E402


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def reply_raw(s):
    """The body of one reply (decoded after the clock stops), None if closed."""
    hdr = recv_exact(s, 4)
    return None if hdr is None else recv_exact(s, struct.unpack('<I', hdr)[0])


path, out, period, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
with open(out, 'a', buffering=1) as f:
    while os.path.exists(stop):
        t0 = time.monotonic()
        now = int(time.time() * 1000)
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(path)
            s.sendall(frame(b'{"v": 1, "op": "status"}'))
            body = reply_raw(s)
            ms = (time.monotonic() - t0) * 1000
            s.close()
            r = None if body is None else json.loads(body)
            if r is None or not r.get('ok', True) or 'error' in r:
                f.write('%d fail %s\n' % (now, 'closed' if r is None else r.get('error', '?')))
            else:
                n = len([v for v in r.get('vms', []) if v.get('state') == 'RUNNING'])
                f.write('%d %.1f %d\n' % (now, ms, n))
        except OSError as e:
            f.write('%d fail %s\n' % (now, e))
        time.sleep(period)
