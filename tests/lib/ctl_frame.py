# The control protocol's framing for the Python test helpers (ctl_req.py,
# ctl_garbage.py): a little-endian u32 length, then the JSON body
# (docs/control-protocol.md).
import json, struct


def frame(b):
    return struct.pack('<I', len(b)) + b


def reply(s):
    """One reply from socket s, decoded; None if the peer closed first."""
    hdr = b''
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack('<I', hdr)[0]
    body = b''
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return json.loads(body)
