#!/usr/bin/env python3
# Sends each JSON request given after the socket path (argv[1]) on one
# control connection, in order, and prints each reply as one JSON line. A
# request may contain @PID@ (this process's pid) or @CHILD@ (the pid of a
# child it forked, which sleeps until the end). Exit 0 once every reply
# arrived, 1 if the daemon closed the connection early.
import json, os, signal, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_frame import frame, reply  # noqa: E402
child = os.fork()
if child == 0:
    time.sleep(60); os._exit(0)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
rc = 0
for req in sys.argv[2:]:
    req = req.replace('@PID@', str(os.getpid())).replace('@CHILD@', str(child))
    s.sendall(frame(req.encode())); r = reply(s)
    if r is None: rc = 1; break
    print(json.dumps(r), flush=True)
os.kill(child, signal.SIGKILL); os.waitpid(child, 0)
sys.exit(rc)
