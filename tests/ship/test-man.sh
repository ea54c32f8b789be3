#!/bin/bash
# The man pages made from docs/ render with man(1) without a groff warning,
# carry the sections a man page needs, and say what their documents say.
set -u
: "${SOURCE_ROOT:?}"
[ $# -gt 0 ] || { echo "usage: test-man.sh PAGE..." >&2; exit 2; }

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

export MANWIDTH=80 LC_ALL=C.UTF-8
for page in "$@"; do
	name=$(basename "$page")
	warnings=$(man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || fail "$name: man --warnings -l: $warnings"
	text=$(man -l "$page" 2>/dev/null)
	for section in NAME SYNOPSIS DESCRIPTION 'SEE ALSO'; do
		grep -qx "$section" <<<"$text" || fail "$name: no $section section"
	done
	head -1 <<<"$text" | grep -qiE "^${name%.*}\(${name##*.}\)" || fail "$name: header $(head -1 <<<"$text")"
	# whatis(1) reads the NAME line: "name - description".
	lexgrog "$page" | grep -qF ": \"${name%.*} - " || fail "$name: lexgrog: $(lexgrog "$page")"
	ok "$name renders without warnings; NAME, SYNOPSIS, DESCRIPTION, SEE ALSO"
done

# One source: the commands and the keys of the docs are in the pages.
render() { for p in "${pages[@]}"; do [ "$(basename "$p")" = "$1" ] && man -l "$p" 2>/dev/null; done; }
pages=("$@")
mcsctl_text=$(render mcsctl.8)
conf_text=$(render mcsd.conf.5)
[ -n "$mcsctl_text" ] && [ -n "$conf_text" ] || fail "mcsctl.8 and mcsd.conf.5 must be among the pages"
for cmd in $(sed -n '/^## Commands/,/^## /s/^| `\([a-z-]*\).*/\1/p' "$SOURCE_ROOT/docs/mcsctl.md"); do
	grep -qE "^       $cmd( |\$)" <<<"$mcsctl_text" || fail "mcsctl.8 has no entry for $cmd"
done
for key in $(sed -n 's/^| `\([a-z_]*\)` | .* | .* |$/\1/p' "$SOURCE_ROOT/docs/mcsd.conf.md"); do
	grep -qE "^       $key( |\$)" <<<"$conf_text" || fail "mcsd.conf.5 has no entry for $key"
done
ok "every command of docs/mcsctl.md and every key of docs/mcsd.conf.md is in its page"
