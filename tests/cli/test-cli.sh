#!/bin/bash
# mcsctl and the control socket end to end: a real libvirtd (test driver),
# a running mcsd, every command, an unprivileged peer, hostile clients.
: "${MCSCTL:?}" "${RAWSOCK:?}" "${FILECON:?}" "${HOLD_CLIENTS:?}" "${GROUP_CLIENTS:?}"
. "$(dirname "$0")/../libvirt/lib.sh"

SOCK=$WORK/run/mcsd.sock
chmod 755 "$WORK" # uid 65534 reaches the socket through it
REG=$WORK/registry.db
M() { "$MCSCTL" --socket "$SOCK" "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$MCSCTL" --socket "$SOCK" "$@"; }
# uid 65534 in admin_group (users, gid 100)
admin() { setpriv --reuid=65534 --regid=65534 --groups=100 "$MCSCTL" --socket "$SOCK" "$@"; }
raw() { "$RAWSOCK" "$SOCK" "$@"; }

libvirtd_start h1
URI=$(test_uri h1)
cat >"$WORK/h1.conf" <<EOF
uri = $URI
registry = $REG
registry_create = yes
host_id = h1
socket = $SOCK
hook_socket = $WORK/run/hook.sock
socket_mode = 0666
client_timeout = 1s
max_clients = 60
undefine_grace = 60m
image_root = $WORK/images
admin_group = users
semanage_root = $WORK/no-policy-store
EOF
"$NOTIFY_LISTEN" "$WORK/notify.sock" >"$WORK/notify.log" &
echo $! >"$WORK/n.notify.pid"
wait_for 5 test -S "$WORK/notify.sock" || fail "no notify socket"
mcsd_start h1 "$WORK/h1.conf" NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000
wait_for 10 test -S "$SOCK" || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "socket mode $(stat -c %a "$SOCK"), expected 666"
ok "mcsd listens on $SOCK with the configured mode"

# ---- status, list, show ----
expect_rc 0 M status
contains "$OUT" "host:       h1"
contains "$OUT" "(sqlite)"
contains "$OUT" "(connected)"
expect_rc 0 M --json status
[ "$(jq -r '.host + " " + .registry.backend + " " + (.libvirt.connected|tostring) + " " + .range' <<<"$OUT")" = "h1 sqlite true c0.c1023" ] ||
	fail "status --json: $OUT"
ok "status, as text and JSON"

mkdir -p "$WORK/images"
img=$WORK/images/vm1.qcow2
: >"$img"
"$FILECON" "$img" system_u:object_r:svirt_image_t:s0:c1,c2
define "$URI" vm1 "<devices><disk type='file' device='disk'><source file='$img'/><target dev='vda'/></disk></devices>"
define "$URI" vm2 ""
wait_for 10 has_static_label "$URI" vm1 && wait_for 10 has_static_label "$URI" vm2 || fail "guests not labelled"
vm1=$(uuid_of "$URI" vm1)
vm1_label=$(label_of "$URI" vm1 | sed 's/.*:\(s0:.*\)/\1/')

expect_rc 0 M list
grep -qE "^$vm1 +vm1 +$vm1_label +dynamic +reserved +h1$" <<<"$OUT" || fail "list: $OUT"
[ "$(grep -c ' h1$' <<<"$OUT")" -eq 3 ] || fail "list: expected 3 records (test, vm1, vm2): $OUT"
expect_rc 0 M --json list --state running
[ "$(jq -r '.records | map(.name) | join(",")' <<<"$OUT")" = test ] || fail "list --state running: $OUT"
expect_rc 0 M --json list --host elsewhere
[ "$(jq '.records | length' <<<"$OUT")" -eq 0 ] || fail "list --host elsewhere: $OUT"
expect_rc 1 M list --state bogus
contains "$ERR" "state 'bogus' is not reserved or running"
ok "list with filters; a bad filter is refused"

expect_rc 0 M show vm1
contains "$OUT" "reservation:  $vm1_label (dynamic), reserved on host h1"
contains "$OUT" "seclabel:   static, relabel=yes, system_u:system_r:svirt_t:$vm1_label"
contains "$OUT" "$img"
contains "$OUT" "system_u:object_r:svirt_image_t:s0:c1,c2"
expect_rc 0 M --json show "${vm1^^}"
[ "$(jq -r '.reservation.label + " " + .libvirt.disks[0].label' <<<"$OUT")" = "$vm1_label system_u:object_r:svirt_image_t:s0:c1,c2" ] ||
	fail "show by upper-case UUID: $OUT"
expect_rc 1 M show nosuch
contains "$ERR" "no guest named 'nosuch' on this host (h1) or in the registry"
ok "show by name and UUID: reservation, XML label and disk image labels"

# ---- reserve ----
future=11111111-2222-3333-4444-555555555555
expect_rc 0 M reserve "$future" --label s0:c7,c8 --name future-vm
contains "$OUT" "reserved s0:c7,c8 for guest 'future-vm' ($future)"
expect_rc 0 M reserve future-vm --label s0:c7,c8
contains "$OUT" "already holds s0:c7,c8"
expect_rc 1 M reserve 22222222-2222-3333-4444-555555555555 --label s0:c7
contains "$ERR" "held by guest future-vm ($future) on host h1"
expect_rc 1 M reserve 22222222-2222-3333-4444-555555555555 --label s0:c7,c8,c9
contains "$ERR" "contains label s0:c7,c8 held by guest future-vm"
expect_rc 1 M reserve not-yet-defined
contains "$ERR" "no guest named 'not-yet-defined'"
expect_rc 1 M reserve "$future" --label bogus
contains "$ERR" "bogus"
# Only labels the installed policy can run (system_u's range: s0 only).
for l in s15:c3,c4 s0-s1:c5,c6; do
	expect_rc 1 M reserve 44444444-2222-3333-4444-555555555555 --label "$l"
	contains "$ERR" "label $l is outside s0-s0:c0.c1023, the range the SELinux policy allows (system_u's)"
done
# A guest defined with such a label is refused, with the reason, and holds nothing.
define "$URI" s3-vm "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s3:c70,c71</label></seclabel>"
s3_refused() { [ "$(M --json show s3-vm | jq -r .libvirt.status)" = refused ]; }
wait_for 10 s3_refused || fail "a guest labelled s3:c70,c71 is not refused: $(M --json show s3-vm)"
expect_rc 0 M --json show s3-vm
contains "$(jq -r .libvirt.why <<<"$OUT")" "label s3:c70,c71 is outside s0-s0:c0.c1023"
[ "$(jq -r .reservation <<<"$OUT")" = null ] || fail "s3-vm holds a reservation: $OUT"
virsh -q -c "$URI" undefine s3-vm >/dev/null
expect_rc 0 M --json reserve 33333333-2222-3333-4444-555555555555
[ "$(jq -r '.record.kind + " " + (.created|tostring)' <<<"$OUT")" = "static true" ] || fail "reserve a free pair: $OUT"
# The guest arrives later: it gets the operator's label, not a fresh pair.
define "$URI" future-vm "" "$future"
wait_for 10 has_static_label "$URI" future-vm || fail "future-vm not labelled"
expect_eq "future-vm's label" "$(label_of "$URI" future-vm)" system_u:system_r:svirt_t:s0:c7,c8
ok "reserve: a chosen or free label for a guest not defined yet; conflicts refused; the guest gets it when defined"

# ---- release ----
expect_rc 1 M release vm2
contains "$ERR" "is defined on this host and would take"
expect_rc 1 M release test
contains "$ERR" "defined on this host"
expect_rc 0 M release 33333333-2222-3333-4444-555555555555
contains "$OUT" "released"
expect_rc 1 M release 33333333-2222-3333-4444-555555555555
contains "$ERR" "holds no reservation"
ok "release: refused for guests defined here; an operator's reservation is released once"

# ---- group commit: writes asked at the same moment share one commit ----
# mcsd is stopped while 8 clients connect and send; let go, it finds all 8
# ready at once. Two of them ask for the same label: one gets it, the other
# is refused, and the six others get pairs of their own, all in one commit.
# Each reply comes once the commit is durable: another process reads every
# acknowledged record at once.
MCSD_PID=$(cat "$WORK/h1.mcsd.pid")
group_status() { M --json status | jq -r '"\(.client_writes.writes) \(.client_writes.commits) \(.client_writes.largest)"'; }
read -r w0 c0 _ <<<"$(group_status)"
reqs=()
for i in 1 2 3 4 5 6; do
	reqs+=("{\"version\":1,\"method\":\"reserve\",\"id\":$i,\"params\":{\"guest\":\"44444444-0000-4000-8000-00000000000$i\"}}")
done
for i in 7 8; do
	reqs+=("{\"version\":1,\"method\":\"reserve\",\"id\":$i,\"params\":{\"guest\":\"44444444-0000-4000-8000-00000000000$i\",\"label\":\"s0:c500,c501\"}}")
done
kill -STOP "$MCSD_PID"
python3 "$GROUP_CLIENTS" "$SOCK" "$MCSD_PID" "${reqs[@]}" >"$WORK/group.out" || { kill -CONT "$MCSD_PID"; fail "group clients"; }
[ "$(grep -c '"result"' "$WORK/group.out")" = 7 ] || fail "7 of 8 grouped reserves should succeed: $(cat "$WORK/group.out")"
grep -q '"error".*held by guest' "$WORK/group.out" || fail "the second reserve of s0:c500,c501 was not refused: $(cat "$WORK/group.out")"
listed=$("$REGISTRY_LIST" "$REG")
labels=$(jq -r 'select(.result) | .result.record.label' "$WORK/group.out")
for l in $labels; do
	awk '{ print $3 }' <<<"$listed" | grep -qxF -- "$l" || fail "acknowledged $l is not in the registry file: $listed"
done
[ "$(sort -u <<<"$labels" | wc -l)" = 7 ] || fail "grouped reserves got labels twice: $labels"
read -r w1 c1 largest <<<"$(group_status)"
[ $((w1 - w0)) = 7 ] && [ $((c1 - c0)) = 1 ] && [ "$largest" -ge 7 ] ||
	fail "7 writes asked together took $((c1 - c0)) commits (writes $w0 -> $w1, largest $largest)"
contains "$(M status)" "writes:     $w1 reservations changed by clients in $c1 commits"
ok "group commit: 8 writes asked together take one commit, each answered once it is durable"

# ---- an unprivileged peer reads but changes nothing ----
for c in status list "show vm1" check; do
	expect_rc 0 nobody $c
done
before=$(registry "$REG" | md5sum)
for c in "reserve 44444444-2222-3333-4444-555555555555" "release future-vm" "relabel vm1" import gc "gc --dry-run"; do
	expect_rc 4 nobody $c
	contains "$ERR" "only root and members of group 'users' may (you are uid 65534)"
done
[ "$(registry "$REG" | md5sum)" = "$before" ] || fail "the registry changed after refused requests"
grep -q 'uid 65534 pid [0-9]*: reserve refused: not an administrator' "$WORK/h1.log" || fail "refusal not logged"
grep -q "uid 0 pid [0-9]*: reserved s0:c7,c8 for guest 'future-vm'" "$WORK/h1.log" || fail "change not logged with uid and pid"
ok "uid 65534 can read; every change is refused (exit 4) and logged; root's changes are logged with uid and pid"

# ---- the watchdog: pings from the main loop, held back while the hook thread is stuck ----
wait_for 5 grep -q '^WATCHDOG=1' "$WORK/notify.log" || fail "no WATCHDOG=1"
# A root client that connects to the hook socket and sends nothing holds
# the hook thread for its 2 s read timeout, over half of the 400 ms interval.
"$RAWSOCK" "$WORK/run/hook.sock" hold 3000 >/dev/null &
held=$!
wait_for 10 grep -q "the hook thread has been in one request for over 200 ms; watchdog pings held back" "$WORK/h1.log" ||
	fail "the watchdog did not notice the stuck hook thread"
wait $held
pings=$(grep -c '^WATCHDOG=1' "$WORK/notify.log")
wait_for 10 grep -q "the hook thread is answering again; watchdog pings resume" "$WORK/h1.log" || fail "pings did not resume"
wait_for 10 log_count_above "$WORK/notify.log" '^WATCHDOG=1' "$pings" || fail "no WATCHDOG=1 after the hook thread recovered"
ok "WATCHDOG=1 is held back while the hook thread is stuck in one request, and resumes after"

# ---- an admin_group member labels files only inside image_root, with the virt types ----
mkdir -p "$WORK/images/content/sub" "$WORK/elsewhere"
: >"$WORK/images/content/sub/f"
: >"$WORK/elsewhere/f"
ln -s "$WORK/elsewhere" "$WORK/images/escape"
CT=system_u:object_r:virt_content_t:s0
expect_rc 0 admin relabel --tree "$WORK/images/content" --label $CT
expect_eq "a file of the admin's tree" "$("$FILECON" "$WORK/images/content/sub/f")" $CT
# (Paths under $WORK only: on code without the limit these would be labelled.)
for p in "$WORK/elsewhere" "$WORK" "$WORK/images/../elsewhere" "$WORK/images/escape/."; do
	expect_rc 4 admin relabel --tree "$p" --label $CT
	contains "$ERR" "is not inside an image_root; members of admin_group may only label there (you are uid 65534)"
done
expect_rc 1 admin relabel --tree "$WORK/images/escape" --label $CT
contains "$ERR" "is not a directory"
expect_rc 1 admin relabel --tree "$WORK/images/escape/" --label $CT
contains "$ERR" "is outside the configured image roots"
expect_rc 4 admin relabel --tree "$WORK/images/content" --label system_u:object_r:etc_t:s0
contains "$ERR" "members of admin_group may only use the types svirt_image_t, virt_content_t, not etc_t"
expect_eq "a file outside image_root" "$("$FILECON" "$WORK/elsewhere/f" 2>/dev/null)" ""
expect_rc 4 admin nfs-export /etc
contains "$ERR" "nfs_export: /etc is not inside an image_root"
expect_rc 4 admin nfs-export "$WORK/images/nfs" --type etc_t
contains "$ERR" "may only use the types svirt_image_t, virt_content_t and virt_var_lib_t, not etc_t"
grep -q "uid 65534 pid [0-9]*: relabel_tree $WORK/elsewhere refused: " "$WORK/h1.log" || fail "the admin's refusal was not logged"
# Past the check, libsemanage answers (this test gives it no policy store).
expect_rc 1 admin nfs-export "$WORK/images/nfs"
contains "$ERR" "libsemanage: "
expect_rc 0 M relabel --tree "$WORK/elsewhere" --label $CT
expect_eq "root labels anywhere" "$("$FILECON" "$WORK/elsewhere/f")" $CT
ok "an admin_group member relabels trees and exports only inside image_root with the virt types; root anywhere"

# ---- check and relabel repair a tampered registry ----
expect_rc 0 M check
contains "$OUT" "0 problems; 4 guests on this host"
# A record that says vm1 runs here, though it does not.
registry_sql "$REG" "UPDATE reservations SET state = 'running' WHERE uuid = '$vm1'" ||
	fail "cannot tamper with the registry: $(registry_sql "$REG" .schema)"
expect_rc 5 M check
contains "$OUT" "vm1 ($vm1): the registry says it runs here, but it does not"
contains "$OUT" "1 problem;"
expect_rc 0 M relabel vm1
contains "$OUT" "guest 'vm1' ($vm1): kept, $vm1_label"
expect_rc 0 M check
expect_eq "vm1's state" "$(registry_field "$REG" "$vm1" 5)" reserved
ok "check finds a tampered reservation (exit 5); relabel repairs it"

# A static relabel='no' guest's image must carry its label at all times.
mkdir -p "$WORK/images"
img3=$WORK/images/vm3.raw
: >"$img3"
"$FILECON" "$img3" system_u:object_r:svirt_image_t:s0:c30,c31
define "$URI" vm3 "<devices><disk type='file' device='disk'><source file='$img3'/><target dev='vda'/></disk></devices><seclabel type='static' model='selinux' relabel='no'><label>system_u:system_r:svirt_t:s0:c30,c31</label></seclabel>"
wait_for 10 field_is "$REG" "$(uuid_of "$URI" vm3)" 3 s0:c30,c31 || fail "vm3 not registered"
expect_rc 0 M check
"$FILECON" "$img3" system_u:object_r:svirt_image_t:s0:c99,c98
expect_rc 5 M check
contains "$OUT" "disk $img3 is labelled system_u:object_r:svirt_image_t:s0:c99,c98, not s0:c30,c31"
"$FILECON" "$img3" system_u:object_r:svirt_image_t:s0:c30,c31
ok "check compares the images of relabel='no' guests"

# ---- gc ----
vm2=$(uuid_of "$URI" vm2)
virsh -q -c "$URI" undefine vm2 >/dev/null
# The undefine grace is an hour: the label stays, and check names it.
sleep 0.5
expect_rc 5 M check
contains "$OUT" "reserved for a guest this host no longer has (mcsctl gc releases it)"
expect_rc 0 M gc --dry-run
contains "$OUT" "would release"
contains "$OUT" "$vm2"
[ -n "$(registry_field "$REG" "$vm2" 3)" ] || fail "gc --dry-run released"
expect_rc 0 M gc
contains "$OUT" "released 1, kept"
[ -z "$(registry_field "$REG" "$vm2" 3)" ] || fail "gc kept vm2's label"
expect_rc 0 M check
# Another host's labels: a second mcsd, host h2, that never reaches libvirt.
cat >"$WORK/h2.conf" <<EOF
uri = test+unix:///default?socket=$WORK/nowhere.sock
registry = $REG
registry_create = yes
host_id = h2
socket = $WORK/run/h2.sock
hook_socket = $WORK/run/h2-hook.sock
socket_mode = 0600
reconnect_min = 30s
reconnect_max = 30s
EOF
mcsd_start h2 "$WORK/h2.conf"
expect_rc 0 "$MCSCTL" -s "$WORK/run/h2.sock" reserve 55555555-2222-3333-4444-555555555555 --label s0:c55,c56 --name on-h2
expect_rc 1 "$MCSCTL" -s "$WORK/run/h2.sock" relabel on-h2
contains "$ERR" "not connected to"
expect_rc 0 M status
contains "$OUT" "registry:   $REG (sqlite): ok: sqlite file $REG"
contains "$OUT" " h2, last heartbeat "
[[ "$OUT" != *SILENT* ]] || fail "a host that beats now is called silent: $OUT"
mcsd_stop h2
# h2 stopped a while ago: its heartbeat is an hour old.
registry_sql "$REG" "UPDATE hosts SET seen_us = seen_us - 3600000000 WHERE host = 'h2'"
expect_rc 0 M status
contains "$OUT" "h2, last heartbeat "
contains "$OUT" ": SILENT, its records are kept until \`mcsctl gc --host\` releases them"
[ "$(grep -c SILENT <<<"$OUT")" = 1 ] || fail "this host called silent too: $OUT"
expect_rc 0 M list
contains "$OUT" "h2 (silent)"
contains "$OUT" "1 record on silent hosts: kept until \`mcsctl gc --host HOST\` releases them"
expect_rc 0 M --json list --host h2
contains "$OUT" '"host_silent": true'
expect_rc 0 M list --name on-h2
contains "$OUT" "s0:c55,c56"
ok "status shows the registry's health and each host's heartbeat; a silent host's records are listed, not reclaimed"
expect_rc 0 M gc --host h2
contains "$OUT" "released 0, kept 1"
expect_rc 0 M gc --host h2 --static
contains "$OUT" "released s0:c55,c56 of guest 'on-h2'"
ok "gc: --dry-run, this host's vanished guests, a dead host's labels (static ones only with --static)"

# ---- import ----
expect_rc 0 M import
grep -qE "^vm1 +$vm1 +kept +$vm1_label" <<<"$OUT" || fail "import: $OUT"
[ "$(grep -c ' kept ' <<<"$OUT")" -eq 4 ] || fail "import: $OUT"
ok "import reports every guest of this host"

# ---- usage, help, exit codes ----
for c in status list show history reserve release relabel check import gc; do
	expect_rc 0 M "$c" --help
	contains "$OUT" "Usage: mcsctl [GLOBAL OPTIONS] $c"
done
expect_rc 2 M
contains "$ERR" "no command given"
expect_rc 2 M frobnicate
contains "$ERR" "unknown command 'frobnicate'"
expect_rc 2 M show
contains "$ERR" "missing GUEST"
expect_rc 2 M show a b
contains "$ERR" "unexpected argument 'b'"
expect_rc 2 M list --colour
contains "$ERR" "unknown option '--colour'"
expect_rc 2 M reserve x --label
contains "$ERR" "missing value for option"
expect_rc 2 M --timeout 0 status
contains "$ERR" "--timeout '0'"
ok "--help for every command; usage errors say what was wrong (exit 2)"

# ---- hostile and broken clients; the daemon keeps serving ----
raw_reply() { printf '%b' "$1" | raw send; }
expect_error() {
	local reply
	reply=$(raw_reply "$1")
	[ "$(jq -r .error.code <<<"$reply" 2>/dev/null)" = "$2" ] || fail "request '$1': got '$reply', expected error $2"
	[ -n "$3" ] && { grep -qF -- "$3" <<<"$reply" || fail "request '$1': '$reply' lacks '$3'"; }
	M status >/dev/null || fail "mcsd stopped serving after '$1'"
}
expect_error 'hello\n' bad-request "not JSON"
expect_error '[1,2]\n' bad-request "must be a JSON object"
expect_error '{}\n' bad-request "'version' is missing"
expect_error '{"version":2,"method":"status"}\n' unsupported-version "speaks version 1"
expect_error '{"version":1}\n' bad-request "'method' is missing"
expect_error '{"version":1,"method":"explode"}\n' unknown-method "no method 'explode'"
expect_error '{"version":1,"method":"list","params":{"colour":1}}\n' bad-request "list: unknown parameter 'colour'"
expect_error '{"version":1,"method":"list","params":{"host":7}}\n' bad-request "parameter 'host' must be a string"
expect_error '{"version":1,"method":"show","params":{}}\n' bad-request "parameter 'guest' is required"
expect_error '{"version":1,"method":"status","bogus":1}\n' bad-request "unknown field 'bogus'"
expect_error '{"version":1,"method":"status"} trailing\n' bad-request "unexpected character at byte 33"
expect_error '{"version":1,"method":"status"\n' bad-request "not JSON"
expect_error '{"version":1,"method":"st\xff\xfeatus"}\n' bad-request "not JSON"
expect_error '{"ver\x00sion":1}\n' bad-request "NUL byte at byte 6"
expect_error '\x89PNG\r\x1a\x01\xff\n' bad-request "invalid utf-8"
expect_error "$(printf '[%.0s' $(seq 1 200))\n" bad-request "not JSON"
expect_error '\n' bad-request "empty request"
expect_error '{"version":1,"method":"sta' truncated "the connection ended inside a request"
# Every field's type is checked: none is read as another type, none crashes.
expect_error '{"version":1,"method":null}\n' bad-request "'method' is missing or not a string"
expect_error '{"version":1,"method":["status"]}\n' bad-request "'method' is missing or not a string"
expect_error '{"version":null,"method":"status"}\n' bad-request "'version' must be an integer, not null"
expect_error '{"version":"1","method":"status"}\n' bad-request "'version' must be an integer, not string"
expect_error '{"version":true,"method":"status"}\n' bad-request "'version' must be an integer, not boolean"
expect_error '{"version":1.0,"method":"status"}\n' bad-request "'version' must be an integer; 1.0 is a number with a fraction or an exponent"
expect_error '{"version":1e0,"method":"status"}\n' bad-request "1e0 is a number with a fraction or an exponent"
expect_error '{"version":18446744073709551617,"method":"status"}\n' unsupported-version "is not supported"
expect_error '{"version":1,"method":"status","params":[]}\n' bad-request "'params' must be an object"
expect_error '{"version":1,"method":"status","params":"x"}\n' bad-request "'params' must be an object"
expect_error '{"version":1,"method":"show","params":{"guest":null}}\n' bad-request "show: parameter 'guest' must be a string"
expect_error '{"version":1,"method":"show","params":{"guest":["vm1"]}}\n' bad-request "show: parameter 'guest' must be a string"
expect_error '{"version":1,"method":"gc","params":{"dry_run":"yes"}}\n' bad-request "gc: parameter 'dry_run' must be a boolean"
expect_error '{"version":1,"method":"nfs_export","params":{"path":"/x","remove":1}}\n' bad-request "nfs_export: parameter 'remove' must be a boolean"
# ---- history: who held a label, where, and who asked ----
# An operator's reserve and release through mcsctl: each history entry
# names the uid and pid of the mcsctl that asked (exec: $! is its pid). A
# reader may ask.
hist=66666666-2222-3333-4444-555555555555
(exec "$MCSCTL" --socket "$SOCK" reserve "$hist" --label s0:c40,c41 --name hist-vm) >"$WORK/hist.out" 2>&1 &
pid_reserve=$!
wait "$pid_reserve" || fail "reserve for the history: $(cat "$WORK/hist.out")"
(exec "$MCSCTL" --socket "$SOCK" release "$hist") >"$WORK/hist.out" 2>&1 &
pid_release=$!
wait "$pid_release" || fail "release for the history: $(cat "$WORK/hist.out")"
for q in "--label s0:c40.c45" "--label s0:c41" "--label s0:c40,c41" "hist-vm" "$hist"; do
	expect_rc 0 nobody --json history $q
	expect_eq "history $q" "$(jq -r '.entries[] | "\(.op) \(.name) \(.label) \(.host) \(.uid) \(.pid)"' <<<"$OUT")" \
		"release hist-vm s0:c40,c41 h1 0 $pid_release
reserve hist-vm s0:c40,c41 h1 0 $pid_reserve"
done
expect_rc 0 nobody history --label s0:c40.c45
contains "$OUT" "ASKED BY"
contains "$(grep ' release ' <<<"$OUT")" "uid 0 pid $pid_release"
contains "$(grep ' reserve ' <<<"$OUT")" "uid 0 pid $pid_reserve"
grep -qE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z +reserve +hist-vm' <<<"$OUT" || fail "no ISO time: $OUT"
expect_rc 0 nobody --json history --label s0:c42,c43
expect_eq "history of a label nobody overlapped" "$(jq -c .entries <<<"$OUT")" "[]"
# mcsd's own change (vm1 labelled when defined, its oldest entry) names nobody.
expect_rc 0 nobody --json history vm1
expect_eq "vm1's first entry" "$(jq -r '.entries[-1] | "\(.op) \(.uuid) \(.uid) \(.pid)"' <<<"$OUT")" "reserve $vm1 null null"
[ "$(jq -r '[.entries[] | select(.uuid != "'"$vm1"'")] | length' <<<"$OUT")" = 0 ] || fail "history vm1: $OUT"
# Pages of one: newest first, each page goes on where the last stopped.
expect_rc 0 nobody --json history hist-vm --limit 1
expect_eq "first page" "$(jq -r '.entries[0].op' <<<"$OUT")" release
next=$(jq -r .next <<<"$OUT")
expect_rc 0 nobody history hist-vm --limit 1
contains "$OUT" "more: add --before $next for the next page"
expect_rc 0 nobody --json history hist-vm --limit 1 --before "$next"
expect_eq "second page" "$(jq -r '"\(.entries[0].op) \(.next) \(.history_from)"' <<<"$OUT")" "reserve null null"
expect_rc 0 nobody --json history --host h1 --since 1h --until "$(date -u -d '+1 day' +%F)" --limit 1000
[ "$(jq '.entries | length' <<<"$OUT")" -ge 2 ] || fail "history --since 1h: $OUT"
expect_rc 0 nobody --json history --host elsewhere
expect_eq "history of another host" "$(jq -c .entries <<<"$OUT")" "[]"
# Bad arguments: usage errors from mcsctl, bad requests from mcsd.
expect_rc 2 M history --since yesterday
contains "$ERR" "'yesterday' is not a time"
expect_rc 2 M history --limit 1001
contains "$ERR" "--limit '1001' is not a number from 1 to 1000"
expect_rc 2 M history --before x
for n in ' 5' +5 -5 99999999999999999999; do
	expect_rc 2 M history --before "$n"
	contains "$ERR" "--before '$n' is not a number from 1 to 9223372036854775807"
done
expect_rc 1 M history --label s0
contains "$ERR" "has no category"
expect_rc 1 M history --label bogus
contains "$ERR" "bogus"
expect_error '{"version":1,"method":"history","params":{"limit":0}}\n' bad-request "history: parameter 'limit' must be an integer from 1 to 1000"
expect_error '{"version":1,"method":"history","params":{"limit":"5"}}\n' bad-request "parameter 'limit' must be an integer"
expect_error '{"version":1,"method":"history","params":{"limit":2.5}}\n' bad-request "parameter 'limit' must be an integer"
expect_error '{"version":1,"method":"history","params":{"before":-1}}\n' bad-request "parameter 'before' must be an integer"
expect_error '{"version":1,"method":"history","params":{"since":"last tuesday"}}\n' bad-request "history: parameter 'since': 'last tuesday' is not a time"
expect_error '{"version":1,"method":"history","params":{"until":"2026-02-30"}}\n' bad-request "is not a time"
expect_error '{"version":1,"method":"history","params":{"since":"2026-12-02","until":"2026-12-01"}}\n' bad-request "ends before it begins"
expect_error '{"version":1,"method":"history","params":{"label":"s0:c9,c1024"}}\n' bad-request "history: "
expect_error '{"version":1,"method":"history","params":{"host":"a b"}}\n' bad-request "host id 'a b' has a space"
expect_error '{"version":1,"method":"history","params":{"guest":7}}\n' bad-request "parameter 'guest' must be a string"
expect_error '{"version":1,"method":"history","params":{"who":1}}\n' bad-request "history: unknown parameter 'who'"
ok "history: a reader finds every holder of an overlapping label, newest first, paged, with the uid and pid that asked"

# An id is echoed exactly, or refused (without an id in the reply).
big=123456789012345678901234567890123456789012345678901234567890
expect_error '{"version":1,"method":"status","id":'$big'}\n' bad-request "'id' is an integer too large to echo exactly"
expect_error '{"version":1,"method":"status","id":-'$big'}\n' bad-request "'id' is an integer too large to echo exactly"
expect_error '{"version":1,"method":"status","id":18446744073709551616}\n' bad-request "'id' is an integer too large"
expect_error '{"version":1,"method":"status","id":1.5}\n' bad-request "'id' must be a string or an integer, not double"
expect_error '{"version":1,"method":"status","id":null}\n' bad-request "'id' must be a string or an integer, not null"
expect_error '{"version":1,"method":"status","id":{"a":1}}\n' bad-request "'id' must be a string or an integer, not object"
reply=$(raw_reply '{"version":1,"method":"status","id":'$big'}\n')
[ "$(jq 'has("id")' <<<"$reply")" = false ] || fail "a refused id was echoed: $reply"
for id in 18446744073709551614 -9223372036854775807 9223372036854775807 0 '"'$big'"'; do
	reply=$(raw_reply '{"version":1,"method":"status","id":'"$id"'}\n')
	grep -qF '"id":'"$id"',' <<<"$reply" || fail "id $id not echoed exactly: $reply"
	grep -qF '"result":' <<<"$reply" || fail "id $id: $reply"
done
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
reply=$(raw send <"$WORK/big")
[ "$(jq -r .error.code <<<"$reply")" = too-large ] || fail "oversized request: $reply"
M status >/dev/null || fail "mcsd stopped serving after an oversized request"
# Two requests in one write get two replies, in order, with their ids.
reply=$(printf '{"version":1,"method":"status","id":1}\n{"version":1,"method":"list","id":"two"}\n' | raw send)
[ "$(jq -sc 'map(.id)' <<<"$reply")" = '[1,"two"]' ] || fail "pipelined requests: $reply"
ok "malformed, oversized, truncated, binary, deep and unknown requests get error replies; pipelining works"

# A client that sends nothing is dropped after client_timeout (1 s); the
# daemon serves others meanwhile.
raw hold 3000 >"$WORK/held" &
held=$!
sleep 0.3
M status >/dev/null || fail "status while a client idles"
wait $held
grep -q '"code":"timeout"' "$WORK/held" && grep -q closed "$WORK/held" || fail "idle client: $(cat "$WORK/held")"
# A client that writes requests but never reads its replies is dropped too.
raw flood 3000 >"$WORK/flood" &
flood=$!
sleep 0.5
M status >/dev/null || fail "status while a client floods"
wait $flood
grep -q closed "$WORK/flood" || fail "a flooding client that never reads was not dropped"
ok "idle and non-reading clients are dropped after client_timeout; others are served meanwhile"

expect_eq "50 concurrent clients" "$(raw many 50)" "ok 50 refused 0"
expect_eq "70 clients with max_clients 60" "$(raw many 70)" "ok 60 refused 10"
M status >/dev/null || fail "status after the client limit"
ok "50 concurrent clients served; beyond max_clients clients get too-many-clients"

# max_clients held by clients that stay (each asks for status every 0.15 s,
# within client_timeout): mcsd's refusal reaches mcsctl every time, even when
# mcsd closed the connection before mcsctl's request went out.
"$HOLD_CLIENTS" --strict "$SOCK" 60 >"$WORK/hold.out" 2>&1 &
holder=$!
wait_for 20 grep -qx "held 60" "$WORK/hold.out" || fail "could not hold 60 clients: $(cat "$WORK/hold.out")"
for i in $(seq 1 20); do
	expect_rc 1 M status
	contains "$ERR" "too many clients; try again later"
done
ok "at max_clients, mcsctl gets mcsd's refusal (exit 1, too many clients), 20 tries out of 20"

# A burst of refused connections: one warning a second, the others counted.
expect_eq "a burst of 200 refused clients" "$(raw many 200)" "ok 0 refused 200"
kill -0 $holder 2>/dev/null || fail "the held clients were dropped: $(cat "$WORK/hold.out")"
# Every refusal in the log, as "W S": warning lines, and the refusals that
# summary lines counted. 230: the 10 of "raw many 70" above, 20 and 200 here.
refusal_lines() {
	awk '/control socket: refusing uid/ { w++ }
		match($0, /control socket: refused [0-9]+ more clients/) { split(substr($0, RSTART, RLENGTH), f, " "); s += f[4] }
		END { print w + 0, s + 0 }' "$WORK/h1.log"
}
all_logged() { read -r w s <<<"$(refusal_lines)"; [ $((w + s)) -eq 230 ]; }
wait_for 10 all_logged || fail "230 refusals, but logged and counted: $(refusal_lines)"
read -r w s <<<"$(refusal_lines)"
[ "$w" -le 23 ] || fail "$w warning lines for 230 refused clients in bursts (and $s counted)"
kill $holder
wait $holder 2>/dev/null || true
M status >/dev/null || fail "status after the held clients left"
ok "230 refused clients: $w warning lines, $s more refusals counted in summary lines"

# Readers cannot lock admins out: uid 65534 holds all 60 slots with clients
# that stay (a status every 0.15 s, within client_timeout); root still gets
# in, in place of the longest-idle reader, which is told why it goes.
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$HOLD_CLIENTS" "$SOCK" 60 >"$WORK/readers.out" 2>&1 &
readers=$!
wait_for 20 grep -qx "held 60" "$WORK/readers.out" || fail "could not hold 60 reader clients: $(cat "$WORK/readers.out")"
expect_rc 1 nobody status
contains "$ERR" "too many clients"
expect_rc 0 M status
contains "$OUT" "clients:    60 of 60 connected"
expect_rc 0 M --json status
[ "$(jq -r '"\(.clients.connected) \(.clients.max)"' <<<"$OUT")" = "60 60" ] || fail "status --json clients: $OUT"
wait_for 10 grep -q "dropped.*make room for an admin" "$WORK/readers.out" ||
	fail "no reader was told it was dropped: $(cat "$WORK/readers.out")"
grep -q "dropping idle client uid 65534 .* to let an admin in" "$WORK/h1.log" || fail "mcsd did not log the eviction"
kill $readers
wait $readers 2>/dev/null || true
ok "all slots held by readers: root's status still succeeds and counts the clients; the longest-idle reader makes room"

# ---- the daemon is gone ----
mcsd_stop h1
[ ! -e "$SOCK" ] || fail "mcsd left its socket behind"
expect_rc 3 M status
contains "$ERR" "cannot reach mcsd at $SOCK"
ok "without mcsd: exit 3 and a message naming the socket"

# ---- socket activation ----
systemd-socket-activate -l "$WORK/run/act.sock" "$MCSD" --config "$WORK/h1.conf" >>"$WORK/act.log" 2>&1 &
echo $! >"$WORK/act.mcsd.pid"
wait_for 10 test -S "$WORK/run/act.sock" || fail "systemd-socket-activate did not listen"
expect_rc 0 "$MCSCTL" -s "$WORK/run/act.sock" status
contains "$OUT" "host:       h1"
grep -q "control socket $WORK/run/act.sock (from systemd)" "$WORK/act.log" || fail "not socket-activated: $(cat "$WORK/act.log")"
[ ! -e "$SOCK" ] || fail "a socket-activated mcsd created its own socket too"
ok "socket activation: mcsd takes systemd's socket"
