#!/usr/bin/env python3
"""Load for the cluster benchmarks (bench-multihost.sh): mcsd reservations
through control sockets, and the registry server's own primitive, each for
a fixed time by concurrent writers. One line of figures on stdout:
"ops N per_s X p99_ms Y".

  cluster-load.py reserve SECONDS CONNS SOCKET...   CONNS connections per socket, reserve after reserve
  cluster-load.py raw-sqlite SECONDS THREADS FILE   commits of one row (mcsd's journal settings)
  cluster-load.py raw-dir SECONDS THREADS DIR       exclusive creates, written and fsync'd
  cluster-load.py raw-etcd SECONDS THREADS HOST:PORT,...  single-key create-if-absent transactions
  cluster-load.py hook TIMEOUT CONNS HOOKSOCKET=XMLDUMP...  every guest of each dump's start begin,
      all at once (CONNS connections per hook socket), as libvirt's hook sends it; each must be allowed
"""
import re
import base64
import http.client
import json
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid


errors = []


def run(seconds, workers):
    """Runs each worker(deadline, latencies) on a thread; returns all latencies (s) and the wall time."""
    lat = [[] for _ in workers]
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()

    def guarded(w, i):
        try:
            w(deadline, lat[i])
        except BaseException as e:  # a failed worker fails the run
            errors.append(f"{type(e).__name__}: {e}")
    threads = [threading.Thread(target=guarded, args=(w, i)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for l in lat for x in l], time.monotonic() - t0


def reserver(path, tag):
    def work(deadline, lat):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        f = s.makefile("rwb")
        n = 0
        while time.monotonic() < deadline:
            n += 1
            req = {"version": 1, "method": "reserve", "id": n,
                   "params": {"guest": str(uuid.uuid4()), "name": f"bench-{tag}-{n}"}}
            t = time.monotonic()
            f.write(json.dumps(req).encode() + b"\n")
            f.flush()
            reply = json.loads(f.readline())
            lat.append(time.monotonic() - t)
            if "result" not in reply:
                raise RuntimeError(f"reserve through {path}: {reply}")
        s.close()
    return work


def raw_sqlite(path, tag):
    def work(deadline, lat):
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA synchronous = EXTRA")
        db.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        n = 0
        while time.monotonic() < deadline:
            n += 1
            t = time.monotonic()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?, ?)", (f"{tag}-{n}", "s0:c1,c2"))
            db.execute("COMMIT")
            lat.append(time.monotonic() - t)
        db.close()
    return work


def raw_dir(path, tag):
    data = b'{"uuid": "00000000-0000-4000-8000-000000000000", "label": "s0:c1,c2"}\n'

    def work(deadline, lat):
        dfd = os.open(path, os.O_DIRECTORY)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            t = time.monotonic()
            fd = os.open(f"raw-{tag}-{n}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640, dir_fd=dfd)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            lat.append(time.monotonic() - t)
        os.close(dfd)
    return work


def raw_etcd(endpoint, tag):
    host, port = endpoint.rsplit(":", 1)

    def work(deadline, lat):
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            key = base64.b64encode(f"/raw/{tag}-{n}".encode()).decode()
            body = json.dumps({
                "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "createRevision": "0"}],
                "success": [{"requestPut": {"key": key, "value": base64.b64encode(b"s0:c1,c2").decode()}}],
                "failure": [{"requestRange": {"key": key}}]})
            t = time.monotonic()
            c.request("POST", "/v3/kv/txn", body, {"Content-Type": "application/json"})
            r = json.loads(c.getresponse().read())
            lat.append(time.monotonic() - t)
            if not r.get("succeeded"):
                raise RuntimeError(f"etcd txn at {endpoint}: {r}")
        c.close()
    return work


def hooker(path, xmls):
    """Each start on a connection of its own, as each hook process makes it."""
    def work(deadline, lat):
        for n, (name, xml) in enumerate(xmls):
            req = {"version": 1, "method": "hook", "id": n, "params": {
                "op": "start", "name": name, "xml": xml, "deadline": int(time.time() * 1000 + 60000)}}
            t = time.monotonic()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                f = s.makefile("rwb")
                f.write(json.dumps(req).encode() + b"\n")
                f.flush()
                reply = json.loads(f.readline())
            lat.append(time.monotonic() - t)
            if not (reply.get("result") or {}).get("allow"):
                raise RuntimeError(f"start of {name} through {path} not allowed: {reply}")
    return work


def main():
    mode, seconds, conc = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    targets = sys.argv[4:]
    tag = f"{os.getpid()}"
    if mode == "hook":
        workers = []
        for t in targets:
            path, dump = t.split("=", 1)
            doms = re.findall(r"<domain.*?</domain>", open(dump).read(), re.S)
            xmls = [(re.search(r"<name>(.*?)</name>", d).group(1), d) for d in doms]
            workers += [hooker(path, xmls[k::conc]) for k in range(conc)]
    elif mode == "reserve":
        workers = [reserver(p, f"{tag}-{i}-{k}") for i, p in enumerate(targets) for k in range(conc)]
    elif mode == "raw-etcd":
        eps = targets[0].split(",")
        workers = [raw_etcd(eps[k % len(eps)], f"{tag}-{k}") for k in range(conc)]
    else:
        make = {"raw-sqlite": raw_sqlite, "raw-dir": raw_dir}[mode]
        workers = [make(targets[0], f"{tag}-{k}") for k in range(conc)]
    lat, wall = run(seconds, workers)
    if errors:
        sys.exit("; ".join(errors[:5]))
    lat.sort()
    p99 = lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else 0
    print(f"ops {len(lat)} per_s {len(lat) / wall:.1f} p99_ms {p99:.2f}")


main()
