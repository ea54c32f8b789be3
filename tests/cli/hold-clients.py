#!/usr/bin/python3
"""Holds N clients on mcsd's control socket, each asking for status every
0.15 s (well within client_timeout, on a busy machine too), until killed.
Prints "held N" once they are all in. --strict: exit when a held client is
refused or dropped; otherwise print "dropped REPLY" for it and go on with
the rest."""
import socket
import sys
import time

strict = sys.argv[1] == "--strict"
path, n = sys.argv[1 + strict], int(sys.argv[2 + strict])
req = b'{"version":1,"method":"status"}\n'
cs = []
for _ in range(n):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    cs.append(c)


def ping():
    for c in list(cs):
        try:
            c.sendall(req)
        except OSError:
            pass
    for c in list(cs):
        buf = b""
        while not buf.endswith(b"\n"):
            d = c.recv(65536)
            if not d:
                break
            buf += d
        if b'"result"' not in buf:
            if strict:
                sys.exit("a held client was dropped or refused: %r" % buf)
            print("dropped", buf.decode(errors="replace").strip(), flush=True)
            cs.remove(c)


ping()
print("held", len(cs), flush=True)
while True:
    time.sleep(0.15)
    ping()
