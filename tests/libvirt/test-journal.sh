#!/bin/bash
# Under systemd, stderr is a stream to journald and JOURNAL_STREAM names it;
# mcsd then sends native journal entries with guest fields. Here the journal
# socket is a datagram listener mounted over /run/systemd/journal in a
# private mount namespace.
. "$(dirname "$0")/lib.sh"

libvirtd_start j
URI=$(test_uri j)
define "$URI" jg1 ""
# Two guests that run with one pair before mcsd manages them: a collision.
static="<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c100,c101</label></seclabel>"
for g in jc1 jc2; do define "$URI" $g "$static"; virsh -q -c "$URI" start $g >/dev/null; done
mkdir "$WORK/reg"
cat >"$WORK/mcsd.conf" <<CONF
uri = $URI
registry = $WORK/reg/registry.db
undefine_grace = 1s
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
# The hook: a start with jc's pair under a new UUID (refused), and a start
# the hook lets go on unchecked, mcsd being unreachable (fail-open).
printf '%s' "<domain type='kvm'><name>hx</name><uuid>0d0d0d0d-0000-4000-8000-0000000000e1</uuid><memory>65536</memory>" \
	"<os><type>hvm</type></os>$static</domain>" >"$WORK/hx.xml"
printf '%s\n' "hook_socket = $WORK/nobody.sock" "hook_timeout = 1s" "hook_fail_open = yes" >"$WORK/failopen.conf"

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
	# The collision ends when the guest without the reservation stops.
	holder=$("$REGISTRY_LIST" "$work/reg/registry.db" | awk "\$3 == \"s0:c100,c101\" { print \$2 }")
	[ "$holder" = jc1 ] && other=jc2 || other=jc1
	virsh -q -c "$2" destroy $other >/dev/null
	for _ in $(seq 200); do grep -q "^MESSAGE=collision cleared: guest .$holder" "$work/journal.txt" && break; sleep 0.05; done
	virsh -q -c "$2" undefine jg2 >/dev/null
	for _ in $(seq 200); do grep -q "^MESSAGE=released .* of guest .jg2" "$work/journal.txt" && break; sleep 0.05; done
	"$MCSCTL" --socket "$work/j1.sock" reserve --label s0:c200,c201 0d0d0d0d-0000-4000-8000-0000000000e2 >/dev/null
	"$MCSCTL" --socket "$work/j1.sock" release 0d0d0d0d-0000-4000-8000-0000000000e2 >/dev/null
	MCSD_CONFIG=$work/mcsd.conf "$MCSCTL" hook qemu hx start begin - <"$work/hx.xml" 2>/dev/null && echo "hook allowed hx" >&2
	MCSD_CONFIG=$work/failopen.conf "$MCSCTL" hook qemu hf start begin - <"$work/hx.xml" 2>/dev/null || echo "hook refused hf" >&2
	# The registry fails (read-only), then works again: one heartbeat each.
	chattr +i "$work/reg/registry.db" "$work/reg"
	for _ in $(seq 300); do grep -q "^MESSAGE=registry heartbeat failed" "$work/journal.txt" && break; sleep 0.05; done
	chattr -i "$work/reg/registry.db" "$work/reg"
	for _ in $(seq 300); do grep -q "^MESSAGE=registry heartbeat works again" "$work/journal.txt" && break; sleep 0.05; done
	kill -TERM $mcsd
	wait $mcsd
	kill $listener
' journal-test "$WORK" "$URI"

uuid=$(uuid_of "$URI" jg1)
level=$(registry "$WORK/reg/registry.db" | awk -v u="$uuid" '$1 == u { print $3 }')
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

# Each event kind an operator alerts on carries its MESSAGE_ID (issue 27
# item 5; contrib/systemd/mcsd.catalog). msgid_of PATTERN: the MESSAGE_ID of
# the first entry whose MESSAGE matches PATTERN (an awk regex), "" if none.
msgid_of() {
	awk -v RS= -v p="$1" '{ m = 0; id = ""; n = split($0, f, "\n")
		for (i = 1; i <= n; i++) { if (f[i] ~ ("^MESSAGE=" p)) m = 1; if (f[i] ~ /^MESSAGE_ID=/) id = substr(f[i], 12) }
		if (m) { print id; exit } }' "$WORK/journal.txt"
}
expect_id() { expect_eq "MESSAGE_ID of '$1'" "$(msgid_of "$1")" "$2"; }
expect_id "reserved $level for guest 'jg1'" 0f238d424e5d4d31aaca66c25f547095
expect_id "released .* of guest 'jg2'" a186cd1b14be47669a230e1cb6002393
expect_id "uid 0 pid [0-9]*: reserved s0:c200,c201 for guest" 0f238d424e5d4d31aaca66c25f547095
expect_id "uid 0 pid [0-9]*: released s0:c200,c201 of guest" a186cd1b14be47669a230e1cb6002393
expect_id "COLLISION: guest 'jc[12]' .* runs with s0:c100,c101 on host j1 while guest 'jc[12]' .* and runs; both run now and can read each other's images" \
	087689b7e1814004b0ac3e933dd8a7a0
expect_id "COLLISION: guest 'jc[12]' .* holds s0:c100,c101 and runs on host j1 while guest 'jc[12]'" 087689b7e1814004b0ac3e933dd8a7a0
expect_id "collision cleared: guest 'jc[12]'" dbe1bec21d344ecaa2fd3563cf77f8af
expect_id "guest 'jc[12]' on host j1 will not be allowed to start" 6d638552fe7b41db89629c61b1cf8a09
expect_id "hook start [(]pid [0-9]*[)]: guest 'hx' REFUSED" 1bef2a8a261349288afbb00c86fcb167
expect_id "FAIL-OPEN: guest 'hf' starts unchecked" 35f8205cb9bd46eeb6bc87b747f3dc7a
expect_id "registry heartbeat failed" 5a1c6e85731140859572baf4900dbb79
expect_id "registry heartbeat works again" b6a378a20ce446adac14ae38d5d1eefd
expect_eq "MESSAGE_ID of a plain line" "$(msgid_of "reconciled")" ""
ok "reserved, released, refused, collision (and cleared), hook refused, fail-open, registry failing and recovered: each carries its MESSAGE_ID"
