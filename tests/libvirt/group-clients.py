#!/usr/bin/python3
"""Sends one request per connection on N connections while mcsd is stopped
(SIGSTOP by the caller), then lets it go on (SIGCONT) and prints each reply
on a line, in the order the requests were given: mcsd finds every request
ready at once, as when clients ask at the same moment.

usage: group-clients.py SOCKET MCSD_PID REQUEST_LINE...
"""
import os
import signal
import socket
import sys

path, pid, requests = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
conns = []
for line in requests:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)  # the listen backlog takes it while mcsd is stopped
    s.sendall(line.encode() + b"\n")
    conns.append(s)
os.kill(pid, signal.SIGCONT)
for s in conns:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    print(buf.decode().rstrip("\n") or "(no reply)")
    s.close()
