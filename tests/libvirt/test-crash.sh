#!/bin/bash
# Crash trials (issue 14): two hosts (libvirtds with the test driver, one
# mcsd each) on one registry. Each trial starts a define storm on one host
# and a `mcsctl reserve` storm on the other, then kill -9s one mcsd (or
# both) at a random moment and starts it again. At the end every
# acknowledged reservation is in the registry with the label mcsctl
# printed, no label is held twice, and every guest of both hosts carries in
# its XML the label the registry holds for it, on its host.
#
# usage: test-crash.sh BACKEND   (sqlite, dir, etcd, nfs); MCS_CRASH_TRIALS (200)
# The nfs backend's registry is served by a real nfs-ganesha that the test
# starts in its own network and mount namespaces (nfs-ns.sh).
BACKEND=${1:-sqlite}
[ "$BACKEND" != nfs ] || . "$(dirname "$0")/nfs-ns.sh"
. "$(dirname "$0")/lib.sh"

TRIALS=${MCS_CRASH_TRIALS:-200}
case $BACKEND in
sqlite) REG=$WORK/registry.db ;;
dir) mkdir -p "$WORK/registry.d" && REG=dir://$WORK/registry.d ;;
etcd) etcd_start && REG=$ETCD_LOCATION ;;
nfs) nfs_serve && REG=nfs://127.0.0.1/export/registry ;;
*) fail "unknown backend $BACKEND" ;;
esac

two_hosts_start "$REG"

running() { [ -f "$WORK/$1.mcsd.pid" ] && kill -0 "$(cat "$WORK/$1.mcsd.pid")" 2>/dev/null; }
other() { [ "$1" = h1 ] && echo h2 || echo h1; }

# define_storm HOST TRIAL: two new guests in one virsh session.
define_storm() {
	local i
	for i in 1 2; do
		guest_xml "$1-t$2-$i" "" >"$WORK/g.$1.$2.$i.xml"
		echo "define $WORK/g.$1.$2.$i.xml"
	done | virsh -q -c "$(test_uri "$1")" >/dev/null 2>&1 || true
}

# reserve_storm HOST TRIAL: three reservations; the acknowledged ones are
# appended to acked as "UUID LABEL".
reserve_storm() {
	local i uuid out
	for i in 1 2 3; do
		uuid=$(printf 'cccccccc-%04d-4000-8000-%012d' "$2" "$i")
		if out=$("$MCSCTL" --socket "$WORK/$1.sock" --json reserve "$uuid" --name "r-$2-$i" 2>/dev/null); then
			echo "$uuid $(sed -n 's/.*"label": *"\([^"]*\)".*/\1/p' <<<"$out" | head -1)" >>"$WORK/acked"
		fi
	done
}

touch "$WORK/acked"
kills=0
for ((t = 1; t <= TRIALS; t++)); do
	a=$((RANDOM % 2 + 1)) && a=h$a && b=$(other $a)
	define_storm $a $t &
	d=$!
	reserve_storm $b $t &
	r=$!
	sleep "0.$(printf '%03d' $((RANDOM % 250)))"
	case $((RANDOM % 4)) in
	0) victims="h1 h2" ;;
	1) victims=$a ;;
	*) victims=$b ;;
	esac
	for v in $victims; do
		pid=$(cat "$WORK/$v.mcsd.pid")
		# Reaped at once, so that bash does not report each kill in the log.
		if kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1))
			wait "$pid" 2>/dev/null || true
		fi
	done
	wait $d $r || true
	for v in h1 h2; do
		running $v || mcsd_start $v "$WORK/$v.conf"
	done
done

# Let both hosts finish labelling what was defined.
all_labelled() {
	local h d
	for h in h1 h2; do
		for d in $(virsh -q -c "$(test_uri $h)" list --all --name); do
			has_static_label "$(test_uri $h)" "$d" || return 1
		done
	done
}
wait_for 120 all_labelled || fail "not every guest was labelled after the trials"

registry "$REG" >"$WORK/registry.txt"
lost=0
while read -r uuid label; do
	[ "$(awk -v u="$uuid" '$1 == u { print $3 }' "$WORK/registry.txt")" = "$label" ] ||
		{ echo "lost: $uuid $label" >&2; lost=$((lost + 1)); }
done <"$WORK/acked"
dups=$(awk '{ print $3 }' "$WORK/registry.txt" | sort | uniq -d | grep -c . || true)
mismatch=0
guests=0
for h in h1 h2; do
	for d in $(virsh -q -c "$(test_uri $h)" list --all --name); do
		u=$(uuid_of "$(test_uri $h)" "$d")
		l=$(label_of "$(test_uri $h)" "$d" | cut -d: -f4-)
		guests=$((guests + 1))
		[ "$(awk -v u="$u" '$1 == u { print $3, $6 }' "$WORK/registry.txt")" = "$l $h" ] ||
			{ echo "mismatch: $h $d $u has $l" >&2; mismatch=$((mismatch + 1)); }
	done
done
acked=$(grep -c . "$WORK/acked" || true)
echo "crash: $TRIALS trials ($BACKEND), $kills kills, $acked acknowledged reservations, $guests guests, $lost lost, $dups duplicates, $mismatch XML/registry mismatches"
[ "$acked" -gt 0 ] || fail "no reservation was ever acknowledged: the storm did not run"
[ "$lost" -eq 0 ] && [ "$dups" -eq 0 ] && [ "$mismatch" -eq 0 ] || fail "crash trials lost, duplicated or mismatched labels"
ok "crash trials on $BACKEND: nothing acknowledged lost, no label twice, XML and registry agree"
