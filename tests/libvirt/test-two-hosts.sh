#!/bin/bash
# Two libvirtds ("two hosts"), each with its own mcsd and host id, sharing
# one sqlite registry file. 200 guests are defined on both at once; every
# guest must end with a distinct pair that the registry and both libvirtds
# agree on.
. "$(dirname "$0")/lib.sh"

REG=$WORK/registry.db
N=${MCS_TWO_HOSTS_GUESTS:-100} # per host

for h in h1 h2; do
	libvirtd_start $h
	# Drop the test driver's built-in guest: it has the same UUID on both.
	virsh -q -c "$(test_uri $h)" destroy test >/dev/null
	virsh -q -c "$(test_uri $h)" undefine test >/dev/null
	cat >"$WORK/$h.conf" <<-CONF
	uri = $(test_uri $h)
	registry = $REG
	host_id = $h
	CONF
	mcsd_start $h "$WORK/$h.conf"
done

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

mcsd_stop h1
mcsd_stop h2
