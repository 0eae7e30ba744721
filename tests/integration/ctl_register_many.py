#!/usr/bin/env python3
"""Registers many VMs through fencelockd's control socket, in batches.

    ctl_register_many.py SOCKET N [CONNECTIONS] [PREFIX]

VM i (uid PREFIX-%05d) gets 1 + i % 3 volumes with identities of its own and
a spec of about 330 bytes; CONNECTIONS clients (default 32) each register
their share one request at a time (the daemon answers each once the
registration is committed), so CONNECTIONS registrations are in flight at
once. Prints "registered N in S s" and exits 1 on the first refusal.
The frames are the control protocol's: a 4-byte little-endian length, then
one JSON object (docs/control-protocol.md)."""
import json
import socket
import struct
import sys
import threading
import time


def call(sock, req):
    body = json.dumps(req).encode()
    sock.sendall(struct.pack("<I", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        if not chunk:
            raise IOError("connection closed")
        hdr += chunk
    (n,) = struct.unpack("<I", hdr)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise IOError("connection closed")
        buf += chunk
    return json.loads(buf)


def vm_request(prefix, i):
    uid = "%s-%05d" % (prefix, i)
    vols = [{"path": "/dev/mapper/vg%d-%s-disk%d" % (i % 7, uid, k),
             "id": "dm:LVM-%08x%08x%02d" % ((i * 2654435761) & 0xffffffff, i, k), "ro": False}
            for k in range(1 + i % 3)]
    spec = json.dumps({"argv": ["/usr/bin/qemu-system-x86_64", "-name", uid, "-m", str(512 + i % 4 * 512),
                                "-drive", "file=%s,if=virtio,cache=none,format=raw" % vols[0]["path"]],
                       "cwd": "/var/lib/vms/" + uid, "log": "/var/log/vms/%s.log" % uid})
    return {"v": 1, "op": "vm.register", "uid": uid, "volumes": vols, "spec": spec, "restart": "always"}


def worker(path, prefix, idx, errors):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        for i in idx:
            if errors:
                return
            r = call(s, vm_request(prefix, i))
            if not r.get("ok"):
                errors.append("%s-%05d: %s" % (prefix, i, r.get("error")))
                return
    except (IOError, ValueError) as e:
        errors.append(str(e))
    finally:
        s.close()


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    prefix = sys.argv[4] if len(sys.argv) > 4 else "vm"
    errors = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(path, prefix, range(k, n, conns), errors))
               for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("refused: %s" % errors[0], file=sys.stderr)
        return 1
    print("registered %d in %.1f s" % (n, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
