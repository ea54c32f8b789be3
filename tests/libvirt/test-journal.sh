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
registry_create = yes
host_id = j1
socket = $WORK/j1.sock
hook_socket = $WORK/j1-hook.sock
log_level = debug
range = c0.c7
CONF
# c0.c7 holds 28 pairs: jg1 and the test driver's own guest take two; of
# the 28 guests defined later, 2 wait for a label.
for i in $(seq 2 29); do guest_xml "jg$i" "" >"$WORK/jg$i.xml"; done

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
	for i in $(seq 2 29); do virsh -q -c "$2" define "$work/jg$i.xml" >/dev/null; done
	for _ in $(seq 400); do grep -q "^MESSAGE=2 guests wait for a label" "$work/journal.txt" && break; sleep 0.05; done
	kill -TERM $mcsd
	wait $mcsd
	kill $listener
' journal-test "$WORK" "$URI"

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

# Guests waiting for a label: one line when the count changes, and every
# entry carries the count.
grep -q "^MESSAGE=2 guests wait for a label$" "$WORK/journal.txt" || fail "no journal entry for 2 waiting guests: $(grep -c MESSAGE "$WORK/journal.txt") entries"
awk '/^MESSAGE=2 guests wait for a label$/ { m = 1 } m && /^MCS_GUESTS_WAITING=/ { print; exit }' "$WORK/journal.txt" | grep -qx "MCS_GUESTS_WAITING=2" ||
	fail "the entry does not carry MCS_GUESTS_WAITING=2"
[ "$(grep -c "^MESSAGE=2 guests wait for a label$" "$WORK/journal.txt")" -eq 1 ] || fail "the waiting count was logged more than once"
ok "guests waiting for a label: counted in the journal field MCS_GUESTS_WAITING, one line per change"
