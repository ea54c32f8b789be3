#!/bin/bash
# mcsctl's bash completion: it loads in a plain bash, its commands and
# options are mcsctl's own (from --help), and guest and host names come from
# a real mcsd's registry through `mcsctl list`.
set -u
: "${MCSCTL:?}" "${MCSD:?}" "${COMPLETION:?}"
export LC_ALL=C.UTF-8

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

WORK=$(mktemp -d /var/tmp/mcsd-ship.XXXXXX)
MCSD_PID=
cleanup() {
	[ -n "$MCSD_PID" ] && kill "$MCSD_PID" 2>/dev/null && wait "$MCSD_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# complete WORD...: what the completion offers for the last word, one a line.
# mcsctl is found on PATH as a user's would be.
mkdir "$WORK/bin"
ln -s "$(realpath "$MCSCTL")" "$WORK/bin/mcsctl"
complete_words() {
	PATH=$WORK/bin:$PATH bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_mcsctl || exit 1
		printf "%s\n" "${COMPREPLY[@]}"' complete "$COMPLETION" "$@"
}
offers() { # WORDS... => EXPECTED...: the offers, sorted, are EXPECTED
	local words=() want got
	while [ "$1" != "=>" ]; do words+=("$1"); shift; done
	shift
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
	got=$(complete_words "${words[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "'${words[*]}': offered '$got', expected '$want'"
}

out=$(bash --norc --noprofile -c 'source "$1" && complete -p mcsctl' load "$COMPLETION" 2>&1) ||
	fail "the completion does not load: $out"
[ "$out" = "complete -F _mcsctl mcsctl" ] || fail "complete -p mcsctl: $out"
ok "the completion loads in bash and completes mcsctl with _mcsctl"

offers mcsctl re "=>" release relabel reserve
ok "'mcsctl re' completes to release relabel reserve"

# The commands and global options of mcsctl --help.
help=$("$MCSCTL" --help) || fail "mcsctl --help"
help_commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' <<<"$help")
[ -n "$help_commands" ] || fail "no commands in mcsctl --help: $help"
# shellcheck disable=SC2086
offers mcsctl '' "=>" $help_commands
help_globals=$(sed -n '/^Global options:/,/^$/p' <<<"$help" | grep -oE '^ +(-[a-z], )?--[a-z-]+' | grep -o -- '--[a-z-]*')
# shellcheck disable=SC2086
offers mcsctl -- "=>" $help_globals
# shellcheck disable=SC2086
offers mcsctl --json --socket /x -- "=>" $help_globals
# shellcheck disable=SC2086
offers mcsctl --socket /x -t 3 '' "=>" $help_commands
ok "commands and global options are mcsctl --help's: ${help_commands//$'\n'/ }"

# Each command's options are its --help's.
for cmd in $help_commands; do
	[ "$cmd" = hook ] && continue # libvirt's entry point: no options
	opts=$("$MCSCTL" "$cmd" --help | grep -oE '^ +(-[a-z], )?--[a-z-]+' | grep -o -- '--[a-z-]*' | sort -u)
	# shellcheck disable=SC2086
	offers mcsctl "$cmd" -- "=>" $opts
done
offers mcsctl hook '' "=>" qemu lxc
offers mcsctl list --state '' "=>" reserved running
offers mcsctl list --kind st "=>" static
offers mcsctl --json gc --d "=>" --dry-run
# bash splits --kind=st into --kind, =, st
offers mcsctl list --kind = st "=>" static
offers mcsctl list --kind = "=>" dynamic static transient
offers mcsctl list --kind = static --st "=>" --state
ok "every command's options are its --help's; values of --state, --kind; hook's drivers"

# Paths: --tree and nfs-export take directories.
mkdir -p "$WORK/tree/images" "$WORK/tree/iso"
: >"$WORK/tree/image.qcow2"
offers mcsctl relabel --tree "$WORK/tree/i" "=>" "$WORK/tree/images" "$WORK/tree/iso"
offers mcsctl nfs-export "$WORK/tree/i" "=>" "$WORK/tree/images" "$WORK/tree/iso"
ok "relabel --tree and nfs-export complete directories"

# Guest and host names from a real mcsd. It needs no libvirtd to answer
# list and reserve: its libvirt connection stays down.
SOCK=$WORK/mcsd.sock
cat >"$WORK/mcsd.conf" <<CONF
uri = qemu+unix:///system?socket=$WORK/no-libvirt.sock
registry = $WORK/registry.db
registry_create = yes
host_id = ship-host
socket = $SOCK
hook_socket = $WORK/hook.sock
CONF
"$MCSD" --config "$WORK/mcsd.conf" >"$WORK/mcsd.log" 2>&1 &
MCSD_PID=$!
for _ in $(seq 100); do
	"$MCSCTL" --socket "$SOCK" status >/dev/null 2>&1 && break
	kill -0 "$MCSD_PID" 2>/dev/null || fail "mcsd died: $(cat "$WORK/mcsd.log")"
	sleep 0.1
done
"$MCSCTL" --socket "$SOCK" status >/dev/null || fail "mcsd does not answer: $(cat "$WORK/mcsd.log")"

offers mcsctl --socket "$SOCK" show '' "=>"
ok "an empty registry offers no guest"

M() { "$MCSCTL" --socket "$SOCK" "$@" >/dev/null || fail "mcsctl $*"; }
M reserve 0f0f0f0f-0000-4000-8000-000000000001 --name web-1
M reserve 0f0f0f0f-0000-4000-8000-000000000002 --name web-2 --label s0:c5,c6
M reserve 0f0f0f0f-0000-4000-8000-000000000003 --name 'db 3'
M reserve 0f0f0f0f-0000-4000-8000-000000000004 --name 'köln-é'

offers mcsctl --socket "$SOCK" show '' "=>" web-1 web-2 'db\ 3' 'köln-é'
offers mcsctl --socket "$SOCK" release web "=>" web-1 web-2
offers mcsctl -s "$SOCK" relabel d "=>" 'db\ 3'
offers mcsctl --socket = "$SOCK" show w "=>" web-1 web-2
offers mcsctl --socket = "$SOCK" list --name = w "=>" web-1 web-2
offers mcsctl --socket = "$SOCK" show web-1 '' "=>"
offers mcsctl --socket "$SOCK" reserve k "=>" 'köln-é'
offers mcsctl --socket "$SOCK" list --name w "=>" web-1 web-2
offers mcsctl --socket "$SOCK" list --host '' "=>" ship-host
offers mcsctl --socket "$SOCK" gc --host s "=>" ship-host
offers mcsctl --socket "$SOCK" show web-1 '' "=>"
offers mcsctl --socket "$SOCK" relabel --tree "$WORK/tree/image" "=>" "$WORK/tree/images"
offers mcsctl --socket "$SOCK" reserve x --name '' "=>"
ok "guest names (spaces escaped, UTF-8) and hosts from mcsctl list; none after the operand"

# The names come from the socket named on the command line.
offers mcsctl --socket "$WORK/none.sock" show '' "=>"
ok "no mcsd on the named socket: no names, no error"
