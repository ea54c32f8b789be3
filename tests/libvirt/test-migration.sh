#!/bin/bash
# Real live migration between two private libvirtds with the QEMU driver
# ("hosts" qa and qb, distinct host_uuid), each with its own mcsd on one
# sqlite registry and mcsd's hook installed. This libvirt has no SELinux
# driver, so both mcsds run with without_selinux = reserve: the guest holds
# a pair in the registry and the hook records the migration (issue 24
# item 3). In every interleaving the guest has exactly one record, on the
# host whose QEMU runs it, and its label is never released while a QEMU
# runs it anywhere.
. "$(dirname "$0")/lib.sh"
: "${MCSCTL:?}" "${HOOK_SCRIPT:?}"

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is not installed"
REG=$WORK/registry.db
# A free port for QEMU's migration stream ($$ is 1 in the test's PID namespace).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# host_prepare H UUID: H's private /etc/libvirt (before its libvirtd
# starts), its host_uuid, mcsd's hook and a hook recording each call.
host_prepare() {
	local h=$1 conf=$WORK/$1.conf
	cat >"$conf" <<-CONF
	uri = $(qemu_uri "$h")
	registry = $REG
	registry_create = yes
	host_id = $h
	socket = $WORK/$h.sock
	hook_socket = $WORK/$h-hook.sock
	without_selinux = reserve
	undefine_grace = 1s
	CONF
	mkdir -p "$WORK/$h/etc"
	cp -a /etc/libvirt/. "$WORK/$h/etc/"
	rm -rf "$WORK/$h/etc/qemu/networks/autostart"
	mkdir -p "$WORK/$h/etc/qemu/networks/autostart" "$WORK/$h/etc/hooks/qemu.d"
	printf 'log_outputs="3:file:/var/log/libvirt/libvirtd.log"\nhost_uuid = "%s"\n' "$2" >>"$WORK/$h/etc/libvirtd.conf"
	printf '#!/bin/sh\necho "$1 $2 $3" >>%s\ncat >/dev/null\n' "$WORK/$h.hooks" >"$WORK/$h/etc/hooks/qemu.d/00-record"
	sed "s|^exec .*/mcsctl |exec env MCSD_CONFIG=$conf $MCSCTL |" "$HOOK_SCRIPT" >"$WORK/$h/etc/hooks/qemu.d/mcsd"
	chmod +x "$WORK/$h/etc/hooks/qemu.d/00-record" "$WORK/$h/etc/hooks/qemu.d/mcsd"
	"$PRIVATE_LIBVIRTD" start "$WORK/$h"
	LIBVIRTDS+=("$h")
	mcsd_start "$h" "$conf"
}
host_prepare qa 11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa
host_prepare qb 22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb
UA=$(qemu_uri qa) UB=$(qemu_uri qb)
grep -q "without_selinux = reserve" "$WORK/qa.log" || fail "qa's mcsd does not reserve: $(tail -5 "$WORK/qa.log")"

cat >"$WORK/g1.xml" <<XML
<domain type='qemu'>
  <name>g1</name>
  <uuid>33333333-cccc-4ccc-8ccc-cccccccccccc</uuid>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>$(command -v qemu-system-x86_64)</emulator></devices>
</domain>
XML
G=33333333-cccc-4ccc-8ccc-cccccccccccc
virsh -q -c "$UA" define "$WORK/g1.xml" >/dev/null
virsh -q -c "$UA" start g1 >/dev/null || fail "g1 does not start on qa"

# record_is HOST STATE: the one record of g1 has this host and state.
record_is() {
	[ "$(registry "$REG" | grep -c .)" -eq 1 ] && field_is "$REG" "$G" 6 "$1" && field_is "$REG" "$G" 5 "$2"
}
record() { registry "$REG" | tr '\n' ' '; }
wait_for 20 record_is qa running || fail "g1 is not recorded running on qa: $(record)"
LABEL=$(registry_field "$REG" "$G" 3)
# never_released: no mcsd released g1's label (checked after every case).
never_released() {
	! grep -h "released $LABEL" "$WORK/qa.log" "$WORK/qb.log" || fail "g1's label was released while it ran"
	expect_eq "g1's label" "$(registry_field "$REG" "$G" 3)" "$LABEL"
}
runs_on() { virsh -q -c "$1" domstate g1 2>/dev/null | grep -qx running; }

# migrate FROM TO [ARGS...]: live migration of g1, the guest undefined on FROM.
migrate() {
	local from=$1 to=$2
	shift 2
	timeout 120 virsh -q -c "$from" migrate --live --persistent --undefinesource "$@" \
		--migrateuri "tcp://127.0.0.1:$PORT" --listen-address 127.0.0.1 g1 "$to"
}

# 1. Completed qa -> qb -> qa.
: >"$WORK/qa.hooks"
: >"$WORK/qb.hooks"
migrate "$UA" "$UB" >"$WORK/mig.out" 2>&1 || fail "migration qa -> qb failed: $(cat "$WORK/mig.out")"
runs_on "$UB" || fail "g1 does not run on qb after the migration"
wait_for 20 record_is qb running || fail "the record did not move to qb: $(record)"
# The hook order this relies on: the destination's migrate begin before its
# prepare and start; the source's release end after.
first_b=$(head -1 "$WORK/qb.hooks")
expect_eq "qb's first hook call" "$first_b" "g1 migrate begin"
grep -q "^g1 start begin" "$WORK/qb.hooks" || fail "no start begin on qb: $(cat "$WORK/qb.hooks")"
grep -q "^g1 release end" "$WORK/qa.hooks" || fail "no release end on qa: $(cat "$WORK/qa.hooks")"
sleep 2 # past undefine_grace on qa, which no longer has g1
never_released
wait_for 20 record_is qb running || fail "the record left qb: $(record)"
migrate "$UB" "$UA" >"$WORK/mig.out" 2>&1 || fail "migration qb -> qa failed: $(cat "$WORK/mig.out")"
wait_for 20 record_is qa running || fail "the record did not move back to qa: $(record)"
sleep 2
never_released
ok "a live migration qa -> qb -> qa moves the one record with the guest; no label is released"

# more_migrations: qb's hook saw a migrate begin since migrating_count was taken.
migrating_count=$(grep -c "^g1 migrate begin" "$WORK/qb.hooks")
more_migrations() { [ "$(grep -c "^g1 migrate begin" "$WORK/qb.hooks")" -gt "$migrating_count" ]; }

# 2. Cancelled mid-way (virsh domjobabort on the source).
migrate "$UA" "$UB" --bandwidth 1 >"$WORK/slow.out" 2>&1 &
MIG=$!
wait_for 30 more_migrations || fail "the migration to qb did not begin: $(cat "$WORK/slow.out")"
record_is qa migrating || fail "the record is not qa's, migrating, while g1 migrates: $(record)"
sleep 1
virsh -q -c "$UA" domjobabort g1 >/dev/null || fail "domjobabort failed"
wait "$MIG" && fail "the aborted migration succeeded"
runs_on "$UA" || fail "g1 does not run on qa after the abort"
sleep 2 # past qb's undefine_grace
never_released
record_is qa migrating || record_is qa running || fail "the record is not qa's after the abort: $(record)"
# qa's next reconcile (or event) records it running again.
mcsd_stop qa
mcsd_start qa "$WORK/qa.conf"
wait_for 20 record_is qa running || fail "qa did not record g1 running again: $(record)"
never_released
ok "a migration cancelled mid-way leaves the record with qa; qb releases nothing"

# 3. The destination's QEMU killed mid-way.
migrating_count=$(grep -c "^g1 migrate begin" "$WORK/qb.hooks")
migrate "$UA" "$UB" --bandwidth 1 >"$WORK/slow.out" 2>&1 &
MIG=$!
wait_for 30 more_migrations || fail "the migration to qb did not begin: $(cat "$WORK/slow.out")"
qemu_pid=$(cat "$WORK/qb/run/qemu/g1.pid" 2>/dev/null || true)
[ -n "$qemu_pid" ] || wait_for 10 test -s "$WORK/qb/run/qemu/g1.pid" || fail "no QEMU pid for g1 on qb"
kill -9 "$(cat "$WORK/qb/run/qemu/g1.pid")"
wait "$MIG" && fail "the migration succeeded without its destination QEMU"
wait_for 30 runs_on "$UA" || fail "g1 does not run on qa after its destination died"
sleep 2
never_released
mcsd_stop qb
mcsd_start qb "$WORK/qb.conf"
sleep 2
never_released
record_is qa migrating || record_is qa running || fail "the record is not qa's: $(record)"
ok "a migration whose destination QEMU dies leaves the record with qa; qb releases nothing"

# 4. The source's mcsd reconciles mid-way; the migration then completes.
mcsd_stop qa
mcsd_start qa "$WORK/qa.conf"
wait_for 20 record_is qa running || fail "qa did not record g1 running: $(record)"
migrating_count=$(grep -c "^g1 migrate begin" "$WORK/qb.hooks")
migrate "$UA" "$UB" --bandwidth 4 >"$WORK/slow.out" 2>&1 &
MIG=$!
wait_for 30 more_migrations || fail "the migration to qb did not begin: $(cat "$WORK/slow.out")"
mcsd_stop qa
mcsd_start qa "$WORK/qa.conf"
record_is qa migrating || fail "qa's reconcile mid-way changed the record: $(record)"
virsh -q -c "$UA" migrate-setspeed g1 1000 >/dev/null 2>&1 || true
wait "$MIG" || fail "the migration failed: $(cat "$WORK/slow.out")"
wait_for 20 record_is qb running || fail "the record did not move to qb: $(record)"
sleep 2
never_released
ok "the source's mcsd reconciling mid-way keeps the record migrating; it moves to qb when the migration completes"

# 5. Cancelled, then the guest stopped on its source before its mcsd saw it
# run again: the record is the source's, reserved, not left migrating.
migrating_count=$(grep -c "^g1 migrate begin" "$WORK/qa.hooks")
more_back() { [ "$(grep -c "^g1 migrate begin" "$WORK/qa.hooks")" -gt "$migrating_count" ]; }
migrate "$UB" "$UA" --bandwidth 1 >"$WORK/slow.out" 2>&1 &
MIG=$!
wait_for 30 more_back || fail "the migration to qa did not begin: $(cat "$WORK/slow.out")"
virsh -q -c "$UB" domjobabort g1 >/dev/null || fail "domjobabort failed"
wait "$MIG" && fail "the aborted migration succeeded"
virsh -q -c "$UB" destroy g1 >/dev/null || fail "cannot stop g1 on qb"
wait_for 20 record_is qb reserved || fail "g1's record is not qb's, reserved, after it stopped there: $(record)"
never_released
ok "a migration cancelled, then the guest stopped on its source: the record is the source's, reserved"

mcsd_stop qa
mcsd_stop qb
