#!/usr/bin/env python3
"""daemon/'s parts own their state behind opaque handles (docs/architecture.md).

Fails when a struct that one .c file owns is defined anywhere else (a
header above all: every file including it could write its fields again),
and when struct mcsd (daemon/mcsd.h) declares again a field that moved into
such a handle."""
import os
import re
import sys

src = os.path.join(sys.argv[1], 'daemon')

# struct name -> the only file that may define it
OWNED = {
    'guest_table': 'guest-table.c',
    'guest_entry': 'guest-table.c',
    'release_queue': 'releases.c',
    'pending_release': 'releases.c',
    'redefine_watch': 'redefines.c',
    'own_redefine': 'redefines.c',
    'guest_scheduler': 'guests.c',
}
# fields that left struct mcsd for one of the handles above
MOVED_FIELDS = ['n_guests', 'pending', 'n_pending', 'pending_timer',
                'n_redefines', 'redefine_timer', 'retry_timer', 'retry_delay_ms', 'wait_timer', 'wait_armed',
                'wait_delay_ms']


def strip_comments(text):
    return re.sub(r'/\*.*?\*/|//[^\n]*', ' ', text, flags=re.S)


failures = []
files = sorted(f for f in os.listdir(src) if f.endswith(('.c', '.h')))
for f in files:
    text = strip_comments(open(os.path.join(src, f)).read())
    for name, owner in OWNED.items():
        if re.search(r'\bstruct\s+' + name + r'\s*\{', text) and f != owner:
            failures.append(f'daemon/{f} defines struct {name}, which only daemon/{owner} may define')
for name, owner in OWNED.items():
    text = strip_comments(open(os.path.join(src, owner)).read())
    if not re.search(r'\bstruct\s+' + name + r'\s*\{', text):
        failures.append(f'daemon/{owner} no longer defines struct {name}: update this test')

header = strip_comments(open(os.path.join(src, 'mcsd.h')).read())
m = re.search(r'\bstruct\s+mcsd\s*\{(.*?)\n\};', header, flags=re.S)
if not m:
    failures.append('daemon/mcsd.h: struct mcsd not found')
else:
    for field in MOVED_FIELDS:
        if re.search(r'[\s*,]' + field + r'\s*[;,\[]', m.group(1)):
            failures.append(f'struct mcsd declares {field} again: it belongs to its part\'s handle')

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
