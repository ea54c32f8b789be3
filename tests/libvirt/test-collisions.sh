#!/bin/bash
# Live collisions (issue 27 item 4): guests that already run with labels
# that overlap before mcsd manages them, on two hosts sharing a registry
# and on one host. mcsd reports each as `collision` (status, show, check's
# exit 5, the journal line with both guests and hosts), never stops a
# guest, and says when a collision clears.
: "${MCSCTL:?}"
. "$(dirname "$0")/lib.sh"

REG=$WORK/registry.db
static() { echo "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$1</label></seclabel>"; }
for h in h1 h2; do
	libvirtd_start $h
	virsh -q -c "$(test_uri $h)" destroy test >/dev/null
	virsh -q -c "$(test_uri $h)" undefine test >/dev/null
	host_conf $h "$REG" "undefine_grace = 1s"
done
U1=$(test_uri h1) U2=$(test_uri h2)
M1() { "$MCSCTL" --socket "$WORK/h1.sock" "$@"; }
M2() { "$MCSCTL" --socket "$WORK/h2.sock" "$@"; }
run() { define "$1" "$2" "$(static "$3")"; virsh -q -c "$1" start "$2" >/dev/null; }

# Before mcsd: the same pair on both hosts; a range on h1 containing a
# pair on h2; two guests of h1 with the same pair; a guest of h2 whose
# label equals a reservation that does not run.
run "$U1" a1 s0:c10,c11
run "$U2" a2 s0:c10,c11
run "$U1" b1 s0:c20.c25
run "$U2" b2 s0:c21,c22
run "$U1" c1 s0:c30,c31
run "$U1" c2 s0:c30,c31
define "$U1" d1 "$(static s0:c40,c41)"
run "$U2" d2 s0:c40,c41

mcsd_start h1 "$WORK/h1.conf"
mcsd_start h2 "$WORK/h2.conf"
a1=$(uuid_of "$U1" a1) a2=$(uuid_of "$U2" a2) b1=$(uuid_of "$U1" b1) b2=$(uuid_of "$U2" b2)
c1=$(uuid_of "$U1" c1) c2=$(uuid_of "$U1" c2) d1=$(uuid_of "$U1" d1) d2=$(uuid_of "$U2" d2)

# h2's guests: their labels are held by h1's.
expect_rc 0 M2 status
contains "$OUT" "3 in collision (this host)"
contains "$OUT" "0 refused"
expect_rc 0 M2 show a2
contains "$OUT" "running, persistent, collision"
contains "$OUT" "collides:   guest 'a1' ($a1) on host h1 holding s0:c10,c11, running"
contains "$OUT" "both run now and can read each other's images"
contains "$OUT" "Stop one of them"
expect_rc 0 M2 show b2
contains "$OUT" "collides:   guest 'b1' ($b1) on host h1 holding s0:c20.c25, running"
expect_rc 0 M2 show d2
contains "$OUT" "collides:   guest 'd1' ($d1) on host h1 holding s0:c40,c41, reserved"
contains "$OUT" "if that guest starts, the two can read each other's images"
expect_rc 5 M2 check
contains "$OUT" "a2 ($a2): COLLISION: runs with s0:c10,c11 on host h2 while guest 'a1' ($a1) holds s0:c10,c11 on host h1 and runs"
contains "$OUT" "b2 ($b2): COLLISION"
grep -q "COLLISION: guest 'a2' ($a2) runs with s0:c10,c11 on host h2 while guest 'a1' ($a1) holds s0:c10,c11 on host h1 and runs; both run now and can read each other's images. Stop one of them" "$WORK/h2.log" ||
	fail "h2's log does not name both guests and hosts: $(grep -i collision "$WORK/h2.log")"
grep -q "will not be allowed to start" "$WORK/h2.log" && fail "a running guest was reported as a refused definition"
ok "h2: running guests whose labels h1's reservations hold (equal, contained) are in collision: status, show, check (exit 5), log"

# h1: c1 and c2 run with one pair; both are in collision, each naming the other.
expect_rc 0 M1 status
contains "$OUT" "2 in collision (this host)"
first=$(registry_field "$REG" "$c1" 3)
if [ "$first" = s0:c30,c31 ]; then holder=c1 other=c2; else holder=c2 other=c1; fi
expect_rc 0 M1 show $holder
contains "$OUT" "running, persistent, collision"
contains "$OUT" "collides:   guest '$other'"
expect_rc 0 M1 show $other
contains "$OUT" "collides:   guest '$holder'"
expect_rc 5 M1 check
contains "$OUT" "$holder ($(uuid_of "$U1" $holder)): COLLISION: holds s0:c30,c31 and runs on host h1 while guest '$other'"
contains "$OUT" "$other ($(uuid_of "$U1" $other)): COLLISION: runs with s0:c30,c31 on host h1 while guest '$holder'"
ok "h1: two running guests of one host with one pair are both in collision"

# mcsd stopped no guest.
for g in a1 b1 c1 c2; do expect_eq "$g state" "$(virsh -q -c "$U1" domstate $g)" running; done
for g in a2 b2 d2; do expect_eq "$g state" "$(virsh -q -c "$U2" domstate $g)" running; done
ok "mcsd stopped no guest"

# Logged once per pair, not at every reconcile.
M2 import >/dev/null || true
M1 import >/dev/null || true
expect_eq "a2's collision lines" "$(grep -c "COLLISION: guest 'a2'" "$WORK/h2.log")" 1
expect_eq "$other's collision lines" "$(grep -c "COLLISION: guest '$other'" "$WORK/h1.log")" 1
ok "each collision is logged once"

# The operator stops one: the collision clears, and says so.
virsh -q -c "$U2" destroy a2 >/dev/null
virsh -q -c "$U2" undefine a2 >/dev/null
wait_for 10 grep -q "collision cleared: guest 'a2' ($a2)" "$WORK/h2.log" || fail "a2's collision did not clear: $(tail "$WORK/h2.log")"
virsh -q -c "$U1" destroy $other >/dev/null
wait_for 10 grep -q "collision cleared: guest '$holder'" "$WORK/h1.log" || fail "$holder's collision did not clear: $(grep -i collision "$WORK/h1.log")"
wait_for 10 bash -c "'$MCSCTL' --socket '$WORK/h1.sock' show $holder | grep -q 'running, persistent, managed'" ||
	fail "$holder: $(M1 show $holder)"
expect_rc 0 M1 show $other
contains "$OUT" "shut off, persistent, refused"
expect_rc 0 M2 status
contains "$OUT" "2 in collision (this host)"
ok "a guest stopped (or undefined) ends its collision, logged; the one that stopped is a refused definition"
