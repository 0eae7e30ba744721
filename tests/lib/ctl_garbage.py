#!/usr/bin/env python3
# Sends malformed, foreign-version, hostile and oversized requests to a
# fencelock control socket (argv[1]) and checks that each gets an error reply
# (an oversized one also a closed connection) while a well-formed status
# request on the same connection still succeeds afterwards. Exit 0 if so.
# Used against the test stand-in daemon and against fencelockd.
import json, os, socket, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_frame import frame, reply  # noqa: E402
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
for bad in [b'{"v":1,"op"', b'\xff\x00\x13garbage', b'[]', b'{"v":1,"op":"vm.acquire","uid":"../x","pid":1}',
            b'{"v":7,"op":"status"}', os.urandom(300)]:
    s.sendall(frame(bad)); r = reply(s)
    assert r is not None and r["ok"] is False and r["code"] > 0 and r["error"], r
s.sendall(frame(b'{"v":1,"op":"status"}')); assert reply(s)["ok"] is True
big = socket.socket(socket.AF_UNIX); big.connect(sys.argv[1])
big.sendall(struct.pack('<I', 100 * 1024 * 1024) + b'x' * 1024)
r = reply(big); assert r is not None and r["ok"] is False, r
assert reply(big) is None  # connection closed after the refusal
s.sendall(frame(b'{"v":1,"op":"status"}')); assert reply(s)["ok"] is True
