#!/bin/bash
# Faults (issue 14): the registry's filesystem read-only, then full, then
# its directory removed; libvirtd killed and restarted. Through each, mcsd
# keeps running, says what is wrong in `mcsctl status` and its log, refuses
# what is unsafe (a guest gets no label it cannot record; the hook refuses a
# start), and recovers by itself when the fault ends.
#
# mcsd runs in a private mount namespace in which the registry's directory
# is a small tmpfs that the test can fill. Read-only is the immutable
# attribute on the directory and the file (root ignores file modes, and a
# remount read-only is refused while mcsd holds the file open for writing).
: "${MCSCTL:?}" "${GROUP_CLIENTS:?}"
. "$(dirname "$0")/lib.sh"

MNT=$WORK/mnt
REGDIR=$MNT/reg
REG=$REGDIR/registry.db
CONF=$WORK/h1.conf
export MCSD_CONFIG=$CONF
mkdir -p "$MNT"

libvirtd_start h1
host_conf h1 "$REG" "hook_timeout = 2s" "busy_timeout = 500ms" "undefine_grace = 1s"

unshare -m --propagation private bash -c \
	"mount -t tmpfs -o size=512k tmpfs '$MNT' && mkdir '$REGDIR' && exec '$MCSD' --config '$CONF'" \
	>>"$WORK/h1.log" 2>&1 &
echo $! >"$WORK/h1.mcsd.pid"
PID=$!
wait_for 60 log_count_above "$WORK/h1.log" reconciled 0 || fail "mcsd did not start"
in_ns() { nsenter -t "$PID" -m -- "$@"; }
U=$(test_uri h1)

labelled_as() { # GUEST: its XML's label, and the registry's record for it
	local u
	u=$(uuid_of "$U" "$1")
	has_static_label "$U" "$1" &&
		[ "$(in_ns "$REGISTRY_LIST" "$REG" | awk -v u="$u" '$1 == u { print $3 }')" = "$(label_of "$U" "$1" | cut -d: -f4-)" ]
}
shows_failed() { M show "$1" | grep -q failed; }

define "$U" ok0 ""
wait_for 30 labelled_as ok0 || fail "ok0 was not labelled"
wait_for 15 health_is ok || fail "health is not ok: $(M status)"

# ---- read-only ----
in_ns chattr +i "$REG" "$REGDIR"
define "$U" ro1 ""
wait_for 30 shows_failed ro1 ||
	fail "ro1 not failed: $(M show ro1)"
ro_why=$(M show ro1)
wait_for 15 health_is "failing since " || fail "health on a read-only registry: $(M status)"
if hook_start hro 0d0d0d0d-0000-4000-8000-000000000001 s0:c900,c901; then fail "the hook let a start through on a read-only registry"; fi
contains "$(cat "$WORK/hook.err")" "registry"
alive
in_ns chattr -i "$REG" "$REGDIR"
wait_for 30 labelled_as ro1 || fail "ro1 was not labelled once the registry was writable: $(M show ro1)"
wait_for 15 health_is ok || fail "health after read-only: $(M status)"
hook_start hro 0d0d0d0d-0000-4000-8000-000000000001 s0:c900,c901 || fail "hook after read-only: $(cat "$WORK/hook.err")"
grep -q "ro1" "$WORK/h1.log" || fail "the log says nothing of ro1's failure"
echo "# read-only, as show said: $(grep -m1 -i 'why\|reason\|error' <<<"$ro_why" || echo "$ro_why" | head -3)"
ok "registry read-only: guests fail with the reason, status says failing, the hook refuses; all recovers"

# ---- disk full ----
in_ns bash -c "dd if=/dev/zero of='$MNT/filler' bs=4k 2>/dev/null; sync" || true
define "$U" full1 ""
wait_for 30 shows_failed full1 ||
	fail "full1 not failed: $(M show full1)"
wait_for 15 health_is "failing since " || fail "health on a full disk: $(M status)"
if hook_start hfull 0d0d0d0d-0000-4000-8000-000000000002 s0:c902,c903; then fail "the hook let a start through on a full disk"; fi
alive
# Writes asked together (mcsd stopped while 4 clients send) share one
# batch: on a full disk none is stored, and each client is told why.
reqs=()
for i in 1 2 3 4; do
	reqs+=("{\"version\":1,\"method\":\"reserve\",\"id\":$i,\"params\":{\"guest\":\"0e0e0e0e-0000-4000-8000-00000000000$i\"}}")
done
kill -STOP "$PID"
python3 "$GROUP_CLIENTS" "$WORK/h1.sock" "$PID" "${reqs[@]}" >"$WORK/group.out" || { kill -CONT "$PID"; fail "group clients"; }
[ "$(grep -c '"error"' "$WORK/group.out")" = 4 ] || fail "4 reserves asked together on a full disk: $(cat "$WORK/group.out")"
! in_ns "$REGISTRY_LIST" "$REG" | grep -q "^0e0e0e0e-" || fail "a reserve refused on a full disk was stored"
grep -q "writes meant to share one commit were not stored" "$WORK/h1.log" || fail "the failed group is not logged"
alive
in_ns rm -f "$MNT/filler"
wait_for 30 labelled_as full1 || fail "full1 was not labelled once there was room: $(M show full1)"
wait_for 15 health_is ok || fail "health after the full disk: $(M status)"
hook_start hfull 0d0d0d0d-0000-4000-8000-000000000002 s0:c902,c903 || fail "hook after the full disk: $(cat "$WORK/hook.err")"
ok "disk full: guests fail, status says failing, the hook refuses, writes asked together are none stored; all recovers when there is room"

# ---- the registry's directory removed ----
in_ns rm -rf "$REGDIR"
define "$U" gone1 ""
wait_for 30 bash -c "grep -q \"guest 'gone1': registry file .* is gone and cannot be made again\" '$WORK/h1.log'" ||
	fail "gone1's failure is not logged"
wait_for 15 status_has '(sqlite): failing: .* is gone and cannot be made again' ||
	fail "status: $(M status)"
contains "$(M status)" "labels:     unknown: registry file"
contains "$(M status)" "1 failed"
if hook_start hgone 0d0d0d0d-0000-4000-8000-000000000003 s0:c904,c905; then fail "the hook let a start through without a registry"; fi
alive
in_ns mkdir "$REGDIR"
# A new, empty registry: mcsd registers every guest's label again.
for g in ok0 ro1 full1 gone1; do
	wait_for 40 labelled_as $g || fail "$g not registered again in the new registry: $(M show $g)"
done
wait_for 15 health_is ok || fail "health after the directory came back: $(M status)"
wait_for 15 grep -q "not the one mcsd was following" "$WORK/h1.log" || fail "the log does not say the registry was replaced"
hook_start hgone 0d0d0d0d-0000-4000-8000-000000000003 s0:c904,c905 || fail "hook after the directory came back: $(cat "$WORK/hook.err")"
ok "registry directory removed: guests fail, status says it is gone, the hook refuses; a new registry gets every label again"

# ---- the registry locked by another writer while a guest is undefined ----
define "$U" busy1 ""
wait_for 30 labelled_as busy1 || fail "busy1 was not labelled"
busy_uuid=$(uuid_of "$U" busy1)
in_ns python3 -c "import sqlite3, time
db = sqlite3.connect('$REG', isolation_level=None)
db.execute('BEGIN EXCLUSIVE')
open('$WORK/locked', 'w').close()
time.sleep(4)" &
locker=$!
wait_for 10 test -e "$WORK/locked" || fail "the registry was not locked"
virsh -q -c "$U" undefine busy1 >/dev/null
wait $locker
released() { ! in_ns "$REGISTRY_LIST" "$REG" | grep -q "^$busy_uuid "; }
wait_for 30 released ||
	fail "busy1's label was kept after its undefine met a locked registry: $(in_ns "$REGISTRY_LIST" "$REG" | grep "$busy_uuid")"
ok "an undefine while another writer holds the registry: the label is released once the lock is gone"

# ---- libvirtd killed and restarted ----
kill -9 "$(cat "$WORK/h1/run/libvirtd.pid" 2>/dev/null || pgrep -f "libvirtd.*$WORK/h1" | head -1)" 2>/dev/null || true
wait_for 30 status_has 'not connected' || fail "status while libvirtd is down: $(M status)"
alive
libvirtd_restart h1
wait_for 60 status_has '(connected)' || fail "mcsd did not reconnect: $(M status)"
define "$U" back1 ""
wait_for 30 labelled_as back1 || fail "back1 was not labelled after libvirtd came back"
ok "libvirtd killed: status says not connected; mcsd reconnects by itself and labels again"

labels=$(in_ns "$REGISTRY_LIST" "$REG" | awk '{ print $3 }')
[ -z "$(sort <<<"$labels" | uniq -d)" ] || fail "a label is held twice: $labels"
echo "faults: 5 kinds (read-only, disk full, directory removed, registry locked by another writer, libvirtd killed), mcsd kept running, recovered from each"
