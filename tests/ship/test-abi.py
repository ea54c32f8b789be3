#!/usr/bin/env python3
"""libmcs's ABI is exactly the functions its installed headers declare.

Three lists must be equal: the functions declared (not defined inline) in the
installed headers, the global names in lib/libmcs.map, and the symbols the
built libmcs.so exports. An internal function that leaks into the shared
library (a wildcard in the map, a new helper with an mcs_ prefix) fails here,
and so does a header function that is not exported or not listed.

usage: test-abi.py LIBMCS_SO MAP HEADER...
"""
import re
import subprocess
import sys


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def drop_inline_bodies(text):
    """Remove every `static inline ... { ... }` definition (they are not symbols)."""
    out, i = [], 0
    for m in re.finditer(r"\bstatic\s+inline\b", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        j = text.index("{", m.end())
        depth = 0
        while True:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1
    out.append(text[i:])
    return "".join(out)


def declared_functions(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        # Preprocessor lines (with their continuations) declare nothing.
        text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        text = drop_inline_bodies(text)
        depth = 0
        for tok in re.finditer(r"[{}]|\b(mcs_\w+)\s*\(", text):
            if tok.group(0) == "{":
                depth += 1
            elif tok.group(0) == "}":
                depth -= 1
            elif depth == 0:
                names.add(tok.group(1))
    return names


def map_globals(path):
    with open(path, encoding="utf-8") as f:
        text = strip_comments(f.read())
    m = re.search(r"global:(.*?)local:", text, flags=re.S)
    if not m:
        sys.exit(f"{path}: no global: ... local: section")
    entries = [e.strip() for e in m.group(1).split(";") if e.strip()]
    wild = [e for e in entries if re.search(r"[*?\[]", e)]
    if wild:
        sys.exit(f"{path}: wildcards export internals: {' '.join(wild)}")
    return set(entries)


def exported(so):
    out = subprocess.run(["nm", "-D", "--defined-only", so], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "A":
            names.add(parts[2].split("@")[0])
    return names


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    so, mapfile, headers = sys.argv[1], sys.argv[2], sys.argv[3:]
    declared = declared_functions(headers)
    listed = map_globals(mapfile)
    built = exported(so)
    bad = False
    for what, names in (
        ("exported by libmcs.so but declared in no installed header (an internal symbol leaks)", built - declared),
        ("declared in an installed header but not exported", declared - built),
        ("listed in libmcs.map but declared in no installed header", listed - declared),
        ("declared in an installed header but not listed in libmcs.map", declared - listed),
    ):
        if names:
            bad = True
            print(f"FAIL: {what}: {' '.join(sorted(names))}")
    if bad:
        sys.exit(1)
    print(f"ok: libmcs.so exports exactly the {len(declared)} functions of its {len(headers)} installed headers")


if __name__ == "__main__":
    main()
