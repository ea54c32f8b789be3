#!/bin/bash
# Two libvirtds ("two hosts"), each with its own mcsd and host id, sharing
# one sqlite registry file. 200 guests are defined on both at once; every
# guest must end with a distinct pair that the registry and both libvirtds
# agree on.
. "$(dirname "$0")/lib.sh"

REG=$WORK/registry.db
N=${MCS_TWO_HOSTS_GUESTS:-100} # per host

two_hosts_start "$REG" "undefine_grace = 1s"

# Define the guests on both hosts at the same time, one virsh session each.
pids=()
for h in h1 h2; do
	for i in $(seq 1 "$N"); do
		guest_xml "$h-g$i" "" >"$WORK/$h-g$i.xml"
		echo "define $WORK/$h-g$i.xml"
	done >"$WORK/$h.virsh"
	virsh -q -c "$(test_uri $h)" <"$WORK/$h.virsh" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}" || fail "virsh define failed"

all_labelled() {
	local h
	for h in h1 h2; do
		[ "$(virsh -q -c "$(test_uri $h)" list --all --name | grep -c .)" -eq "$N" ] || return 1
		for d in $(virsh -q -c "$(test_uri $h)" list --all --name); do
			has_static_label "$(test_uri $h)" "$d" || return 1
		done
	done
}
wait_for 120 all_labelled || fail "not every guest was labelled"

# What libvirt says: uuid level host, for every guest on both hosts.
for h in h1 h2; do
	for d in $(virsh -q -c "$(test_uri $h)" list --all --name); do
		echo "$(uuid_of "$(test_uri $h)" "$d") $(label_of "$(test_uri $h)" "$d" | cut -d: -f4-) $h"
	done
done | sort >"$WORK/libvirt.txt"
registry "$REG" | awk '{ print $1, $3, $6 }' | sort >"$WORK/registry.txt"

total=$((2 * N))
expect_eq "guests in libvirt" "$(wc -l <"$WORK/libvirt.txt")" "$total"
expect_eq "distinct pairs" "$(awk '{ print $2 }' "$WORK/libvirt.txt" | sort -u | grep -c '^s0:c[0-9]*,c[0-9]*$')" "$total"
diff -u "$WORK/registry.txt" "$WORK/libvirt.txt" || fail "the registry and the libvirtds disagree"
ok "$total guests defined on two hosts at once hold $total distinct pairs; the registry agrees with both libvirtds"

# A guest moves from h1 to h2 the way a migration leaves it: same UUID, same
# static label, started on h2, then undefined on h1. No new reservation; the
# record follows the guest; h1's undefine does not release it.
U1=$(test_uri h1) U2=$(test_uri h2)
moved=$(uuid_of "$U1" h1-g1)
level=$(registry_field "$REG" "$moved" 3)
virsh -q -c "$U1" dumpxml --inactive h1-g1 >"$WORK/moved.xml"
virsh -q -c "$U2" define "$WORK/moved.xml" >/dev/null
virsh -q -c "$U2" start h1-g1 >/dev/null
# h2 may record the guest as reserved there (its define) before it records
# it running (its start): wait for both.
running_on_h2() { field_is "$REG" "$moved" 6 h2 && field_is "$REG" "$moved" 5 running; }
wait_for 10 running_on_h2 || fail "the record did not move to h2, running: $(registry "$REG" | grep "$moved")"
expect_eq "moved label" "$(registry_field "$REG" "$moved" 3)" "$level"
expect_eq "moved label in h2's XML" "$(label_of "$U2" h1-g1)" "system_u:system_r:svirt_t:$level"
virsh -q -c "$U1" undefine h1-g1 >/dev/null
wait_for 10 grep -q "guest 'h1-g1' keeps $level: host h2 holds it now" "$WORK/h1.log" ||
	fail "h1 did not say why it kept the label"
expect_eq "label after h1's undefine" "$(registry_field "$REG" "$moved" 3)" "$level"
expect_eq "records" "$(registry "$REG" | wc -l)" "$total"
ok "a guest that moves to h2 keeps its label, the record follows it, and h1's undefine leaves it alone"

# A migration's destination hook records the guest as running on h2 before
# h2's mcsd has seen the guest at all (here: it never does); h1 then
# undefines its copy. After h1's grace period the label is still reserved.
: "${MCSCTL:?}"
mig=$(uuid_of "$U1" h1-g2)
level=$(registry_field "$REG" "$mig" 3)
virsh -q -c "$U1" dumpxml --inactive h1-g2 >"$WORK/mig.xml"
MCSD_CONFIG=$WORK/h2.conf "$MCSCTL" hook qemu h1-g2 migrate begin - <"$WORK/mig.xml" ||
	fail "h2's hook refused the incoming migration"
expect_eq "record after h2's migrate begin" "$(registry_field "$REG" "$mig" 6)/$(registry_field "$REG" "$mig" 5)" h2/running
virsh -q -c "$U1" undefine h1-g2 >/dev/null
wait_for 10 grep -q "guest 'h1-g2' keeps $level" "$WORK/h1.log" || fail "h1 did not say why it kept h1-g2's label"
expect_eq "label after h1's grace period" "$(registry_field "$REG" "$mig" 3)" "$level"
ok "a migration's destination hook moves the record to h2 at once; h1's undefine then releases nothing"

# Issue 24 item 2: a host acts only on what it holds.
# A transient guest runs on h1; h2's migrate begin marks the record
# migrating; h1's release end (the source's, after the migration) leaves it.
tu=99999999-0000-4000-8000-000000000001
guest_xml t-mig "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c1020,c1021</label></seclabel>" "$tu" >"$WORK/t-mig.xml"
virsh -q -c "$U1" create "$WORK/t-mig.xml" >/dev/null || fail "cannot create the transient guest"
wait_for 10 field_is "$REG" "$tu" 6 h1 || fail "h1 did not register the transient guest: $(registry "$REG" | grep "$tu")"
wait_for 10 field_is "$REG" "$tu" 5 running || fail "h1 did not record the transient guest running"
MCSD_CONFIG=$WORK/h2.conf "$MCSCTL" hook qemu t-mig migrate begin - <"$WORK/t-mig.xml" ||
	fail "h2's hook refused the incoming migration of t-mig"
MCSD_CONFIG=$WORK/h1.conf "$MCSCTL" hook qemu t-mig release end - <"$WORK/t-mig.xml" ||
	fail "h1's release end failed"
# (Item 3: the record stays h1's, migrating, until h2 runs the guest.)
expect_eq "t-mig's record after h1's release end" \
	"$(registry_field "$REG" "$tu" 3)/$(registry_field "$REG" "$tu" 6)/$(registry_field "$REG" "$tu" 5)" s0:c1020,c1021/h1/migrating
ok "a transient guest's source release end leaves the record its destination's migrate begin marked"

# A guest runs on h1 with its label; a start of the same UUID on h2 with a
# dynamic label libvirt drew there is refused, naming h1; the record stays.
U1=$(test_uri h1)
virsh -q -c "$U1" start h1-g3 >/dev/null || fail "cannot start h1-g3"
run=$(uuid_of "$U1" h1-g3)
wait_for 10 field_is "$REG" "$run" 5 running || fail "h1-g3 is not recorded running"
level=$(registry_field "$REG" "$run" 3)
gen=$(registry_field "$REG" "$run" 7)
printf '%s' "<domain type='kvm'><name>h1-g3</name><uuid>$run</uuid><memory unit='KiB'>65536</memory>" \
	"<os><type arch='x86_64' machine='pc'>hvm</type></os><seclabel type='dynamic' model='selinux' relabel='yes'>" \
	"<label>system_u:system_r:svirt_t:s0:c1022,c1023</label></seclabel></domain>" >"$WORK/h2-dup.xml"
expect_rc 1 env MCSD_CONFIG="$WORK/h2.conf" "$MCSCTL" hook qemu h1-g3 start begin - <"$WORK/h2-dup.xml"
contains "$ERR" "runs on host h1 with label $level"
expect_eq "h1-g3's record after h2's refused start" \
	"$(registry_field "$REG" "$run" 3)/$(registry_field "$REG" "$run" 6)/$(registry_field "$REG" "$run" 5)/$(registry_field "$REG" "$run" 7)" \
	"$level/h1/running/$gen"
ok "a start on h2 of a guest running on h1 is refused, naming h1; h1's label stays reserved"

# Issue 24 item 3: a guest runs on h1; h2's migrate begin; the migration is
# cancelled (no guest ever appears on h2); h2's mcsd restarts and reconciles:
# past its grace period the record is h1's still, migrating, and h1's
# reconcile (the guest runs there, no migration under way) takes it back.
virsh -q -c "$U1" start h1-g4 >/dev/null || fail "cannot start h1-g4"
can=$(uuid_of "$U1" h1-g4)
wait_for 10 field_is "$REG" "$can" 5 running || fail "h1-g4 is not recorded running"
level=$(registry_field "$REG" "$can" 3)
virsh -q -c "$U1" dumpxml h1-g4 >"$WORK/can.xml"
MCSD_CONFIG=$WORK/h2.conf "$MCSCTL" hook qemu h1-g4 migrate begin - <"$WORK/can.xml" ||
	fail "h2's hook refused the incoming migration of h1-g4"
expect_eq "h1-g4 after h2's migrate begin" "$(registry_field "$REG" "$can" 6)/$(registry_field "$REG" "$can" 5)" h1/migrating
mcsd_stop h2
mcsd_start h2 "$WORK/h2.conf"
sleep 2 # past h2's undefine_grace (1 s)
expect_eq "h1-g4 after h2's reconcile and grace period" \
	"$(registry_field "$REG" "$can" 3)/$(registry_field "$REG" "$can" 6)/$(registry_field "$REG" "$can" 5)" "$level/h1/migrating"
grep -q "released $level" "$WORK/h2.log" && fail "h2 released h1-g4's label: $(grep "released $level" "$WORK/h2.log")"
mcsd_stop h1
mcsd_start h1 "$WORK/h1.conf"
wait_for 10 field_is "$REG" "$can" 5 running || fail "h1 did not take h1-g4 back: $(registry "$REG" | grep "$can")"
expect_eq "h1-g4 after h1's reconcile" "$(registry_field "$REG" "$can" 3)/$(registry_field "$REG" "$can" 6)" "$level/h1"
ok "a cancelled migration leaves the record with h1: h2 never releases it, h1 records it running again"

mcsd_stop h1
mcsd_stop h2
