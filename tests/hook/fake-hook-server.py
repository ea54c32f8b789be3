#!/usr/bin/env python3
"""A broken or foreign server on the hook socket, for test-hook.sh.

fake-hook-server.py SOCKET REPLY...: accepts one connection per REPLY, reads
the request line, and answers it: the REPLY and a newline; or, for
"CUT:TEXT", TEXT without a newline, then closes; "STALL:TEXT", TEXT, then 2 s
of silence; "SILENT", nothing for 2 s; "CLOSE", nothing at all. Prints
"ready" once listening."""
import socket
import sys
import time

listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(8)
print("ready", flush=True)
for reply in sys.argv[2:]:
    c, _ = listener.accept()
    c.settimeout(10)
    buf = b""
    while not buf.endswith(b"\n"):
        d = c.recv(65536)
        if not d:
            break
        buf += d
    if reply.startswith("STALL:"):
        c.sendall(reply[6:].encode())
        time.sleep(2)
    elif reply == "SILENT":
        time.sleep(2)
    elif reply.startswith("CUT:"):
        c.sendall(reply[4:].encode())
    elif reply != "CLOSE":
        c.sendall(reply.encode() + b"\n")
    c.close()
