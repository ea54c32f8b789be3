#!/bin/bash
# Under systemd, stderr is a stream to journald and JOURNAL_STREAM names it;
# mcsd then sends native journal entries with guest fields. Here the journal
# socket is a datagram listener mounted over /run/systemd/journal in a
# private mount namespace.
. "$(dirname "$0")/lib.sh"

libvirtd_start j
URI=$(test_uri j)
define "$URI" jg1 ""
cat >"$WORK/mcsd.conf" <<CONF
uri = $URI
registry = $WORK/registry.db
host_id = j1
socket = $WORK/j1.sock
hook_socket = $WORK/j1-hook.sock
log_level = debug
CONF

unshare -m --propagation private /bin/bash -euc '
	work=$1
	mkdir -p /run/systemd/journal
	mount -t tmpfs tmpfs /run/systemd/journal
	"$NOTIFY_LISTEN" /run/systemd/journal/socket >"$work/journal.txt" &
	listener=$!
	for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
	exec 2>"$work/stderr.txt"
	export JOURNAL_STREAM=$(stat -c "%d:%i" "$work/stderr.txt")
	"$MCSD" --config "$work/mcsd.conf" &
	mcsd=$!
	for _ in $(seq 200); do grep -q "^MESSAGE=reconciled" "$work/journal.txt" && break; sleep 0.05; done
	kill -TERM $mcsd
	wait $mcsd
	kill $listener
' journal-test "$WORK"

uuid=$(uuid_of "$URI" jg1)
level=$(registry "$WORK/registry.db" | awk -v u="$uuid" '$1 == u { print $3 }')
[ -n "$level" ] || fail "jg1 was not labelled"
grep -q "^MESSAGE=reserved $level for guest 'jg1' (dynamic)$" "$WORK/journal.txt" || fail "no journal entry for the reservation: $(head -40 "$WORK/journal.txt")"
grep -q "^MCS_GUEST_NAME=jg1$" "$WORK/journal.txt" || fail "no MCS_GUEST_NAME field"
grep -q "^MCS_GUEST_UUID=$uuid$" "$WORK/journal.txt" || fail "no MCS_GUEST_UUID field"
grep -q "^MCS_LABEL=$level$" "$WORK/journal.txt" || fail "no MCS_LABEL field"
grep -q "^PRIORITY=6$" "$WORK/journal.txt" || fail "no PRIORITY field"
grep -q "^SYSLOG_IDENTIFIER=mcsd$" "$WORK/journal.txt" || fail "no SYSLOG_IDENTIFIER"
[ ! -s "$WORK/stderr.txt" ] || fail "mcsd also wrote to stderr: $(cat "$WORK/stderr.txt")"
ok "with JOURNAL_STREAM set, mcsd logs to the journal with guest name, UUID and label fields"
