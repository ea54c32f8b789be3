#!/bin/bash
# Faults of an etcd registry (issue 14): mcsd on a 3-member etcd cluster.
# One member lost: mcsd goes on labelling. Quorum lost: mcsd keeps running,
# says the registry is failing in `mcsctl status` and its log, gives a new
# guest no label and the hook refuses its start; the members back, it
# recovers by itself.
: "${MCSCTL:?}"
. "$(dirname "$0")/lib.sh"

CONF=$WORK/h1.conf
export MCSD_CONFIG=$CONF
etcd_start
libvirtd_start h1
printf '%s\n' "uri = $(test_uri h1)" "registry = $ETCD_LOCATION" "host_id = h1" "socket = $WORK/mcsd.sock" \
	"hook_socket = $WORK/hook.sock" "hook_timeout = 4s" "busy_timeout = 3s" >"$CONF"
mcsd_start h1 "$CONF"
PID=$(cat "$WORK/h1.mcsd.pid")
M() { "$MCSCTL" --socket "$WORK/mcsd.sock" "$@"; }
U=$(test_uri h1)
alive() { kill -0 "$PID" 2>/dev/null || fail "mcsd died: $(tail -5 "$WORK/h1.log")"; }
in_registry() { [ "$("$REGISTRY_LIST" "$ETCD_LOCATION" | awk -v u="$(uuid_of "$U" "$1")" '$1 == u { print $3 }')" = "$(label_of "$U" "$1" | cut -d: -f4-)" ]; }
labelled() { has_static_label "$U" "$1" && in_registry "$1"; }
health_ok() { M status | grep -q "^registry:   .* (etcd): ok"; }
health_failing() { M status | grep -q "^registry:   .* (etcd): failing"; }
hook_start() {
	printf '%s' "<domain type='kvm'><name>$1</name><uuid>$2</uuid><memory unit='KiB'>65536</memory>" \
		"<os><type arch='x86_64' machine='pc'>hvm</type></os><seclabel type='static' model='selinux' relabel='yes'>" \
		"<label>system_u:system_r:svirt_t:$3</label></seclabel></domain>" >"$WORK/$1.xml"
	"$MCSCTL" hook qemu "$1" start begin - <"$WORK/$1.xml" 2>"$WORK/hook.err"
}

define "$U" e0 ""
wait_for 30 labelled e0 || fail "e0 was not labelled"
wait_for 15 health_ok || fail "health: $(M status)"

etcd_member_kill 2
define "$U" e1 ""
wait_for 30 labelled e1 || fail "e1 was not labelled with one member lost"
ok "one etcd member lost: mcsd goes on labelling"

etcd_member_kill 1
define "$U" e2 ""
wait_for 60 grep -q "guest 'e2': registry .*etcd" "$WORK/h1.log" || fail "e2's failure is not logged"
wait_for 30 bash -c "'$MCSCTL' --socket '$WORK/mcsd.sock' status | grep -q ' failed'" || fail "no failed guest in status: $(M status)"
wait_for 30 health_failing || fail "status without quorum: $(M status)"
if hook_start hq 0d0d0d0d-0000-4000-8000-0000000000e1 s0:c910,c911; then fail "the hook let a start through without quorum"; fi
! grep -q "not the one mcsd was following" "$WORK/h1.log" || fail "an unreachable etcd taken for another registry"
alive
echo "# without quorum: $(M status | grep '^registry:')"
ok "quorum lost: mcsd keeps running, status says failing, a new guest gets no label, the hook refuses"

etcd_member_start 1 existing
etcd_member_start 2 existing
wait_for 60 etcd_healthy || fail "etcd did not come back"
wait_for 60 labelled e2 || fail "e2 was not labelled once quorum was back: $(M show e2 2>&1)"
wait_for 30 health_ok || fail "health after quorum came back: $(M status)"
hook_start hq 0d0d0d0d-0000-4000-8000-0000000000e1 s0:c910,c911 || fail "hook after quorum came back: $(cat "$WORK/hook.err")"
ok "quorum back: mcsd recovers by itself"
echo "faults-etcd: member lost, quorum lost and regained; mcsd kept running and recovered"
