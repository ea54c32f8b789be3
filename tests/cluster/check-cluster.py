#!/usr/bin/env python3
"""The multihost test's verdict on a cluster at rest (issue 26 item 2).

check-cluster.py MCSCTL REGISTRY.json RESERVED HOST=SOCKET:XMLDUMP...

REGISTRY.json is `mcsctl --json list`; RESERVED the operator's reserved
UUIDs, comma-separated; each XMLDUMP every guest's `virsh dumpxml
--inactive` on that host, one after another. Every guest ends labelled (its
XML's static SELinux label is the registry's record for its UUID, held by
its host) or refused with a reason (`mcsctl show` on its host: status
refused, and why); a guest
named bad-* must be refused. No two labels of the registry are equal or
contain one another (categories compared as sets: a single category or a
range contains pairs). Every record is a guest's or the operator's.
Prints one line per finding and exits 1 on any.
"""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

problems = []


def problem(msg):
    problems.append(msg)
    print("FAIL: " + msg)


def categories(level):
    """The category set of an MCS level: s0, s0:c3, s0:c1,c4, s0:c1.c5, s0-s0:..."""
    m = re.fullmatch(r"s0(?:-s0)?(?::(.*))?", level)
    if not m:
        raise ValueError("not an s0 level: " + level)
    cats = set()
    for part in (m.group(1) or "").split(",") if m.group(1) else []:
        r = re.fullmatch(r"c(\d+)(?:\.c(\d+))?", part)
        if not r:
            raise ValueError("bad category list in " + level)
        lo, hi = int(r.group(1)), int(r.group(2) or r.group(1))
        cats.update(range(lo, hi + 1))
    return frozenset(cats)


def guests_of(dump):
    """(name, uuid, static label level or None) of each domain in a dump."""
    text = open(dump).read()
    for piece in re.findall(r"<domain.*?</domain>", text, re.S):
        d = ET.fromstring(piece)
        level = None
        for s in d.findall("seclabel"):
            if s.get("model", "selinux") == "selinux" and s.get("type") == "static":
                lab = s.findtext("label")
                level = lab.split(":", 3)[3] if lab and lab.count(":") >= 3 else None
        yield d.findtext("name"), d.findtext("uuid"), level


def main():
    mcsctl, regfile, reserved = sys.argv[1], sys.argv[2], set(filter(None, sys.argv[3].split(",")))
    records = {r["uuid"]: r for r in json.load(open(regfile))["records"]}
    seen = set()
    labelled = refused = 0
    for arg in sys.argv[4:]:
        host, rest = arg.split("=", 1)
        sock, dump = rest.split(":", 1)
        for name, uuid, level in guests_of(dump):
            rec = records.get(uuid)
            if rec and rec["host"] == host and level == rec["label"] and not name.startswith("bad-"):
                labelled += 1
                seen.add(uuid)
                continue
            out = subprocess.run([mcsctl, "--socket", sock, "--json", "show", name], capture_output=True, text=True)
            lv = (json.loads(out.stdout).get("libvirt") or {}) if out.returncode == 0 and out.stdout else {}
            why = lv.get("why") if lv.get("status") == "refused" else None
            if why:
                refused += 1
                if rec and rec["host"] == host and rec["label"] == level:
                    problem(f"{host} {name} is refused ({why}) yet the registry holds its label")
                print(f"# {host} {name} refused: {why}")
                continue
            problem(f"{host} {name} ({uuid}) is neither labelled nor refused: XML {level}, "
                    f"registry {rec and (rec['label'], rec['host'])}, show: {out.stdout.strip()} {out.stderr.strip()}")
    for uuid, rec in records.items():
        if uuid not in seen and uuid not in reserved:
            problem(f"record {uuid} ({rec['name']} {rec['label']} on {rec['host']}) is no guest's and not reserved")
    for uuid in reserved - records.keys():
        problem(f"the operator's reservation {uuid} is gone")
    sets = sorted(((categories(r["label"]), r) for r in records.values()), key=lambda x: len(x[0]))
    for i, (a, ra) in enumerate(sets):
        if not a:
            problem(f"{ra['name']} holds {ra['label']}, no category")
        for b, rb in sets[i + 1:]:
            if a <= b:
                problem(f"{ra['name']} {ra['label']} ({ra['host']}) is {'equal to' if a == b else 'contained in'} "
                        f"{rb['name']} {rb['label']} ({rb['host']})")
    print(f"# {labelled} labelled, {refused} refused, {len(records)} records, {len(problems)} problems")
    return 1 if problems else 0


sys.exit(main())
