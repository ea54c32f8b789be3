#!/usr/bin/env python3
"""lib/ is layered (lib/meson.build): a layer may include the headers of its
own and lower layers only. Compiles, with each layer's own compile command
from compile_commands.json, a file that includes one header of every layer:
those of its own and lower layers must compile, those of every higher layer
must fail with the header not found."""
import json
import os
import shlex
import subprocess
import sys
import tempfile

LAYERS = ['base', 'label', 'config', 'registry', 'guest', 'files']

build, source = sys.argv[1], sys.argv[2]
include = os.path.join(source, 'lib', 'include')
commands = json.load(open(os.path.join(build, 'compile_commands.json')))

def command_of(layer):
    for c in commands:
        if f'libmcs-{layer}.a.p' in c['output']:
            return c
    sys.exit(f'FAIL: no compile command for layer {layer}')

def compiles(c, header, tmp):
    src = os.path.join(tmp, 'probe.c')
    with open(src, 'w') as f:
        f.write(f'#include "{header}"\nint mcs_layers_probe(void);\nint mcs_layers_probe(void) {{ return 0; }}\n')
    args = shlex.split(c['command'])
    out = args.index('-o')
    args[out + 1] = os.path.join(tmp, 'probe.o')
    args[args.index('-c') + 1] = src
    args = [a for i, a in enumerate(args) if a not in ('-MD',) and (i == 0 or args[i - 1] not in ('-MQ', '-MF')) and a not in ('-MQ', '-MF')]
    r = subprocess.run(args, cwd=c['directory'], capture_output=True, text=True)
    return r.returncode == 0, r.stderr

failures = checks = 0
with tempfile.TemporaryDirectory() as tmp:
    for i, layer in enumerate(LAYERS):
        c = command_of(layer)
        for j, other in enumerate(LAYERS):
            headers = sorted(h for h in os.listdir(os.path.join(include, other)) if h.endswith('.h'))
            header = headers[0]
            ok, err = compiles(c, header, tmp)
            checks += 1
            if j <= i and not ok:
                failures += 1
                print(f'FAIL: layer {layer} cannot include {other}/{header}, which it may:\n{err}')
            elif j > i and (ok or not ('No such file' in err or 'file not found' in err)):
                failures += 1
                print(f'FAIL: layer {layer} includes {other}/{header}, a higher layer' + ('' if ok else f':\n{err}'))
print(f'{checks} includes checked across {len(LAYERS)} layers, {failures} wrong')
sys.exit(1 if failures else 0)
