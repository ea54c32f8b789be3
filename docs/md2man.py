#!/usr/bin/env python3
"""Turns one of mcsd's markdown documents into go-md2man's input.

The documents in docs/ are the one source of the man pages. A page's
document starts with `# NAME(SECTION) — one-line description`, followed by
`## Synopsis`. This script writes the man header from that line, makes the
`##` headings man sections, turns tables (which cannot fit 80 columns in
roff) into definition lists and links into references to the other man
pages or the installed documents, and adds SEE ALSO. go-md2man does the rest:
the script writes OUTPUT.md and runs it to make OUTPUT.
"""
import argparse
import re
import subprocess
import sys

PAGES = {'mcsd.md': ('mcsd', '8'), 'mcsctl.md': ('mcsctl', '8'), 'mcsd.conf.md': ('mcsd.conf', '5')}
TITLE = re.compile(r'^# (?P<name>[\w.-]+)\((?P<sec>[1-8])\) (—|-) (?P<desc>\S.*)$')
LINK = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)')
SEPARATOR = re.compile(r'^\|(\s*:?-+:?\s*\|)+\s*$')


def fail(path, line, msg):
    sys.exit(f'{path}:{line}: {msg}')


def cells(row):
    """The cells of a table row; `\\|` is a pipe inside a cell."""
    parts = re.split(r'(?<!\\)\|', row.strip())
    return [p.strip().replace('\\|', '|') for p in parts[1:-1]]


def definition_list(rows, path, first):
    header, body = rows[0], rows[2:]
    out = []
    for n, row in enumerate(body):
        c = cells(row)
        if len(c) != len(header):
            fail(path, first + 2 + n, f'{len(c)} cells where the header has {len(header)}')
        text = []
        for h, v in zip(header[1:-1], c[1:-1]):
            text.append(f'{h[:1].upper() + h[1:]}: {v}.' if h else v)
        text.append(c[-1])
        out += [c[0], ': ' + ' '.join(text), '']
    return out


def link(m, docdir):
    text, target = m.group(1), m.group(2)
    doc = target.split('#')[0]
    if doc in PAGES:
        name, sec = PAGES[doc]
        ref = f'**{name}**({sec})'
        return ref if text.strip('`') == name else f'{text} ({ref})'
    if doc.endswith('.md'):
        return f'`{docdir}/{doc}`' if text.strip('`') == doc else f'{text} (`{docdir}/{doc}`)'
    return f'{text} ({target})'


def convert(path, lines, version, docdir):
    m = TITLE.match(lines[0]) if lines else None
    if not m:
        fail(path, 1, 'the first line must be "# NAME(SECTION) — description"')
    name, sec = m.group('name'), m.group('sec')
    out = [f'% {name.upper()} {sec} "" "mcsd {version}" "mcsd manual"', '',
           '# NAME', '', f'{name} \\- {m.group("desc")}', '']
    i, fenced, sections = 1, False, []  # sections: (title, line)
    while i < len(lines):
        line = lines[i]
        if line.startswith('```'):
            fenced = not fenced
        if fenced:
            out.append(line)
            i += 1
            continue
        if line.startswith('|') and i + 1 < len(lines) and SEPARATOR.match(lines[i + 1]):
            first = i
            while i < len(lines) and lines[i].startswith('|'):
                i += 1
            rows = lines[first:i]
            rows[0] = cells(rows[0])
            out += [LINK.sub(lambda l: link(l, docdir), d) for d in definition_list(rows, path, first + 1)]
            continue
        if line.startswith('## '):
            sections.append((line[3:].strip().lower(), i + 1))
            line = '# ' + line[3:].strip().upper()
        elif line.startswith('# '):
            fail(path, i + 1, 'only the first line may be a level-1 heading')
        out.append(LINK.sub(lambda l: link(l, docdir), line))
        i += 1
    if not sections or sections[0][0] != 'synopsis':
        fail(path, sections[0][1] if sections else len(lines), 'the first section must be "## Synopsis"')
    if 'see also' not in [title for title, _ in sections]:
        others = [f'**{n}**({s})' for n, s in PAGES.values() if n != name]
        out += ['', '# SEE ALSO', '', ', '.join(others) + '; the documents in ' + docdir + '.']
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--version', required=True)
    ap.add_argument('--docdir', required=True)
    ap.add_argument('--md2man', default='go-md2man', help='go-md2man to run on the result')
    ap.add_argument('input')
    ap.add_argument('output')
    a = ap.parse_args()
    with open(a.input, encoding='utf-8') as f:
        lines = f.read().split('\n')
    text = convert(a.input, lines, a.version, a.docdir)
    with open(a.output + '.md', 'w', encoding='utf-8') as f:
        f.write(text)
    subprocess.run([a.md2man, '-in', a.output + '.md', '-out', a.output], check=True)
    # A wrapped line of text that starts with an apostrophe is a roff
    # control line; go-md2man writes none of its own, so every such line is
    # the document's text and gets the zero-width escape in front.
    with open(a.output, encoding='utf-8') as f:
        roff = f.read().split('\n')
    with open(a.output, 'w', encoding='utf-8') as f:
        f.write('\n'.join('\\&' + l if l.startswith("'") else l for l in roff))


if __name__ == '__main__':
    main()
