#!/usr/bin/env python3
"""Gives every record under PREFIX in the etcd at URL the history entry a
reservation writes (hist/<uuid>/<random>: {"op": "reserve", "at_us", "record"}),
many to a transaction. For bench-full-registry.sh: a copy imports history one
entry a transaction (etcd orders it by revision), 45 minutes at full size here;
the size and start-up of a full registry do not depend on that order.

usage: etcd-add-history.py URL PREFIX"""
import base64
import json
import os
import sys
import urllib.request

url, prefix = sys.argv[1].rstrip("/"), "/" + sys.argv[2].strip("/") + "/"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


start, end = prefix + "rec/", prefix + "rec0"
puts, added = [], 0


def flush():
    global puts, added
    if puts:
        post("/v3/kv/txn", {"success": puts})
        added += len(puts)
        puts = []


while True:
    page = post("/v3/kv/range", {"key": b64(start), "range_end": b64(end), "limit": 5000})
    kvs = page.get("kvs", [])
    for kv in kvs:
        rec = base64.b64decode(kv["value"]).decode()
        uuid = base64.b64decode(kv["key"]).decode()[len(prefix) + 4:]
        value = json.dumps({"op": "reserve", "at_us": json.loads(rec).get("created_us", 0), "record": json.loads(rec)},
                           separators=(",", ":"))
        key = prefix + "hist/" + uuid + "/" + os.urandom(16).hex()
        puts.append({"request_put": {"key": b64(key), "value": b64(value)}})
        if len(puts) == 128:
            flush()
    if not page.get("more") or not kvs:
        break
    start = base64.b64decode(kvs[-1]["key"]).decode() + "\x01"
flush()
print(f"etcd-add-history: {added} history entries added", file=sys.stderr)
