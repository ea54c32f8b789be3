#!/bin/bash
# Faults of an nfs:// registry (issue 14): mcsd on a registry served by a
# real nfs-ganesha (NFSv3 through libnfs). The server stopped: mcsd keeps
# running, says the registry is failing in `mcsctl status` and its log,
# gives a new guest no label and the hook refuses its start; the server
# back, it recovers by itself. Then the server restarted while guests are
# being defined: every one ends labelled, no label twice.
#
# It runs in its own network and mount namespaces, with its own rpcbind
# and ganesha (nfs-ns.sh, lib.sh's nfs_serve).
: "${MCSCTL:?}"
. "$(dirname "$0")/nfs-ns.sh"
. "$(dirname "$0")/lib.sh"

nfs_serve
REG=nfs://127.0.0.1/export/registry
one_host_start "$REG" "hook_timeout = 4s" "busy_timeout = 3s"

define "$U" n0 ""
wait_for 60 labelled n0 || fail "n0 was not labelled"
wait_for 20 health_is ok || fail "health: $(M status)"

ganesha_stop
define "$U" n1 ""
wait_for 60 grep -q "guest 'n1': " "$WORK/h1.log" || fail "n1's failure is not logged"
wait_for 60 health_is failing || fail "status with the server down: $(M status)"
if hook_start hn 0d0d0d0d-0000-4000-8000-0000000000f1 s0:c920,c921; then fail "the hook let a start through with the server down"; fi
alive
echo "# server down: $(M status | grep '^registry:' | cut -c1-300)"
ok "NFS server down: mcsd keeps running, status says failing, a new guest gets no label, the hook refuses"

# The operator still sees the host (issue 27 item 6): a reconcile that
# could not run fails no guest that holds its label; show and check answer
# with libvirt's view and the registry's error.
wait_for 60 grep -q "reconcile stopped, the registry fails" "$WORK/h1.log" || fail "no reconcile ran with the server down"
wait_for 30 bash -c "'$MCSCTL' --socket '$WORK/h1.sock' show n0 | grep -q 'not verified since'" || fail "n0: $(M show n0 2>&1)"
expect_rc 0 M show n0
contains "$OUT" "reservation:  unknown: the registry fails:"
contains "$OUT" "on this host: shut off, persistent, managed"
expect_rc 0 M status
contains "$OUT" "2 managed, 0 unmanaged, 0 refused, 1 failed"
contains "$OUT" "not verified since the registry failed"
expect_rc 6 M check
contains "$OUT" "registry: FAILING: "
contains "$OUT" "n0 ($(uuid_of "$U" n0)): shut off, managed, not verified since "
contains "$OUT" "n1 ($(uuid_of "$U" n1)): shut off, failed"
ok "NFS server down: show and check answer with libvirt's view and the registry's error (check exit 6); guests holding their labels stay managed, not verified"

ganesha_start
wait_for 90 labelled n1 || fail "n1 was not labelled once the server was back: $(M show n1 2>&1)"
wait_for 30 health_is ok || fail "health after the server came back: $(M status)"
hook_start hn 0d0d0d0d-0000-4000-8000-0000000000f1 s0:c920,c921 || fail "hook after the server came back: $(cat "$WORK/hook.err")"
expect_rc 0 M show n0
[[ $OUT != *"not verified"* ]] || fail "n0 still unverified: $OUT"
ok "NFS server back: mcsd recovers by itself"

# A restart while guests are being defined.
for i in 1 2 3 4 5 6; do define "$U" r$i ""; [ $i = 3 ] && { ganesha_stop; ganesha_start; }; done
for i in 1 2 3 4 5 6; do wait_for 90 labelled r$i || fail "r$i was not labelled after the restart"; done
labels=$(registry "$REG" | awk '{ print $3 }')
[ -z "$(sort <<<"$labels" | uniq -d)" ] || fail "a label is held twice: $labels"
alive
ok "NFS server restarted while guests were defined: every one labelled, no label twice"
echo "faults-nfs: server down and back, restarted mid-define; mcsd kept running and recovered"
