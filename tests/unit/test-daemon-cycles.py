#!/usr/bin/env python3
"""daemon/'s files call each other in one direction only: no circle.

Reads, from the built objects of mcsd (found through compile_commands.json),
which file defines each function and which files use it, and fails on every
set of files that reach each other through such uses (a strongly connected
component of more than one file), naming the functions on its edges. A
lower file tells a higher one things through a callback it was given, not by
calling it (docs/architecture.md).

Also checks that each part listed in OWNED keeps its state behind an opaque
handle: its struct is defined in its own .c file and nowhere else (its header
only declares `typedef struct NAME NAME;`), so no other file of daemon/ can
write, or read, that part's fields: the compiler refuses; and that the
fields of struct mcsd a part publishes for the others (PUBLISHED) are
assigned by one file only."""
import collections
import json
import os
import re
import subprocess
import sys

build = sys.argv[1]
commands = json.load(open(os.path.join(build, 'compile_commands.json')))
objects, sources = {}, {}
for c in commands:
    out = c['output']
    if '/mcsd.p/' in f'/{out}' and out.endswith('.c.o'):
        objects[os.path.basename(c['file'])[:-2]] = os.path.join(build, out)
        sources[os.path.basename(c['file'])] = os.path.normpath(os.path.join(c['directory'], c['file']))
if len(objects) < 10:
    sys.exit(f'FAIL: found only {len(objects)} objects of mcsd in compile_commands.json')

defined, used = {}, {}
for name, obj in objects.items():
    if not os.path.exists(obj):
        sys.exit(f'FAIL: {obj} not built')
    symbols = subprocess.run(['nm', obj], check=True, capture_output=True, text=True).stdout
    used[name] = set()
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            defined[parts[2]] = name
        elif len(parts) == 2 and parts[0] == 'U':
            used[name].add(parts[1])

edges = collections.defaultdict(lambda: collections.defaultdict(set))
for name, syms in used.items():
    for s in syms:
        owner = defined.get(s)
        if owner and owner != name:
            edges[name][owner].add(s)

# Tarjan's strongly connected components, iteratively.
index, low, on_stack, stack, sccs, counter = {}, {}, set(), [], [], [0]
def visit(root):
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter[0]; counter[0] += 1
    stack.append(root); on_stack.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1
                stack.append(w); on_stack.add(w)
                work.append((w, iter(sorted(edges[w]))))
            elif w in on_stack:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on_stack.discard(w); comp.append(w)
                if w == v:
                    break
            sccs.append(sorted(comp))

for name in sorted(objects):
    if name not in index:
        visit(name)

# struct NAME: the file of daemon/ that alone defines it.
OWNED = {
    'control': 'control.c',
    'control_client': 'control.c',
    'jobs': 'jobs.c',
    'job': 'jobs.c',
    'heartbeat': 'heartbeat.c',
    'connection': 'connection.c',
    'hook_server': 'hook-server.c',
    'write_group': 'write-group.c',
}
daemon_dir = os.path.dirname(sources['main.c'])
texts = {}
for f in sorted(os.listdir(daemon_dir)):
    if f.endswith(('.c', '.h')):
        with open(os.path.join(daemon_dir, f)) as fh:
            texts[f] = fh.read()
owner_fails = []
for struct, owner in OWNED.items():
    definition = re.compile(r'\bstruct\s+' + re.escape(struct) + r'\s*\{')
    where = [f for f, text in texts.items() if definition.search(text)]
    if owner not in where:
        owner_fails.append(f'FAIL: struct {struct} is not defined in {owner}, the file that owns it')
    for f in where:
        if f != owner:
            owner_fails.append(f'FAIL: struct {struct} is defined in {f}: only {owner} may see inside it '
                               f'(other files get `typedef struct {struct} {struct};` and its functions)')
# Fields of struct mcsd a part publishes for the others to read: the one
# file that assigns them (the callback the part was given).
PUBLISHED = {'conn': 'main.c'}
for field, writer in PUBLISHED.items():
    assignment = re.compile(r'->\s*' + re.escape(field) + r'\s*=(?!=)')
    for f, text in texts.items():
        if f != writer and assignment.search(text):
            owner_fails.append(f'FAIL: {f} assigns ->{field}: only {writer} may (the others read it)')
for line in owner_fails:
    print(line)

circles = [c for c in sccs if len(c) > 1]
for comp in circles:
    print(f"FAIL: these files of daemon/ call each other in a circle: {', '.join(comp)}")
    for a in comp:
        for b in comp:
            if b in edges[a]:
                print(f"  {a}.c -> {b}.c: {' '.join(sorted(edges[a][b]))}")
if circles or owner_fails:
    sys.exit(1)
print(f'ok: {len(objects)} files of daemon/, no circle; {len(OWNED)} structs seen only by their owners')
