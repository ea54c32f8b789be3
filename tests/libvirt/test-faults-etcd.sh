#!/bin/bash
# Faults of an etcd registry (issue 14): mcsd on a 3-member etcd cluster.
# One member lost: mcsd goes on labelling. Quorum lost: mcsd keeps running,
# says the registry is failing in `mcsctl status` and its log, gives a new
# guest no label and the hook refuses its start; the members back, it
# recovers by itself.
: "${MCSCTL:?}"
. "$(dirname "$0")/lib.sh"

etcd_start
REG=$ETCD_LOCATION
one_host_start "$REG" "hook_timeout = 4s" "busy_timeout = 3s"

define "$U" e0 ""
wait_for 30 labelled e0 || fail "e0 was not labelled"
wait_for 15 health_is ok || fail "health: $(M status)"

etcd_member_kill 2
define "$U" e1 ""
wait_for 30 labelled e1 || fail "e1 was not labelled with one member lost"
ok "one etcd member lost: mcsd goes on labelling"

etcd_member_kill 1
define "$U" e2 ""
wait_for 60 grep -q "guest 'e2': registry .*etcd" "$WORK/h1.log" || fail "e2's failure is not logged"
wait_for 30 status_has ' failed' || fail "no failed guest in status: $(M status)"
wait_for 30 health_is failing || fail "status without quorum: $(M status)"
if hook_start hq 0d0d0d0d-0000-4000-8000-0000000000e1 s0:c910,c911; then fail "the hook let a start through without quorum"; fi
! grep -q "not the one mcsd was following" "$WORK/h1.log" || fail "an unreachable etcd taken for another registry"
alive
echo "# without quorum: $(M status | grep '^registry:')"
ok "quorum lost: mcsd keeps running, status says failing, a new guest gets no label, the hook refuses"

etcd_member_start 1 existing
etcd_member_start 2 existing
wait_for 60 etcd_healthy || fail "etcd did not come back"
wait_for 60 labelled e2 || fail "e2 was not labelled once quorum was back: $(M show e2 2>&1)"
wait_for 30 health_is ok || fail "health after quorum came back: $(M status)"
hook_start hq 0d0d0d0d-0000-4000-8000-0000000000e1 s0:c910,c911 || fail "hook after quorum came back: $(cat "$WORK/hook.err")"
ok "quorum back: mcsd recovers by itself"
echo "faults-etcd: member lost, quorum lost and regained; mcsd kept running and recovered"
