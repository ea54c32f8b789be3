#!/bin/bash
# mcsd never writes a guest from a stale read (issue 24 item 7): libvirt
# driven the way OpenStack Nova and oVirt drive it, fast enough to race
# mcsd's redefinitions, on two test-driver hosts sharing one registry.
# Each failure names the rule it checks.
: "${MCSCTL:?}"
. "$(dirname "$0")/lib.sh"

REG=$WORK/registry.db
ROUNDS=${MCS_NOVA_ROUNDS:-6}
two_hosts_start "$REG" "undefine_grace = 1s"
U1=$(test_uri h1) U2=$(test_uri h2)
# MCS_NOVA_PARTS: the parts to run (default all), to try one on its own.
PARTS=" ${MCS_NOVA_PARTS:-boot hard hook edit ovirt refused} "
want() { [[ $PARTS == *" $1 "* ]]; }

# nova_xml NAME UUID MARK: the XML Nova generates: no <seclabel>; MARK (in
# <description>) tells one definition from the next.
nova_xml() {
	echo "<domain type='test'><name>$1</name><uuid>$2</uuid><description>$3</description><memory>65536</memory><os><type>hvm</type></os></domain>" >"$WORK/$1-$3.xml"
	echo "$WORK/$1-$3.xml"
}
uuid_n() { printf '22222222-0000-4000-8000-%012d\n' "$1"; }
hr=$(uuid_n 1) hk=$(uuid_n 2) # nova-hr, nova-hk (refused needs hard and hook)
description_of() { virsh -q -c "$1" dumpxml --inactive "$2" | sed -n 's|.*<description>\(.*\)</description>.*|\1|p'; }
defined_names() { virsh -q -c "$1" list --all --name | grep "$2" || true; }
no_records() { ! registry "$REG" | awk '{ print $2 }' | grep -q "$1"; }
# quiet NAME: NAME's mcsd logged nothing for 2 s (its events are handled).
quiet() {
	local s
	s=$(stat -c %s "$WORK/$1.log")
	sleep 2
	[ "$(stat -c %s "$WORK/$1.log")" = "$s" ]
}

if want boot; then
# ---- Nova boot then delete, in quick succession ----
# Rule: a redefine happens only if the guest is still the one read; a
# define that raced an undefine is undone, and the label is released.
N=20
for r in $(seq 1 "$ROUNDS"); do
	for i in $(seq 1 $N); do
		x=$(nova_xml "bd-$r-$i" "$(uuid_n $((r * 100 + i)))" boot)
		printf '%s\n' "define $x" "start bd-$r-$i" "destroy bd-$r-$i" "undefine bd-$r-$i"
	done
done | virsh -q -c "$U1" >/dev/null || fail "virsh failed"
wait_for 60 quiet h1 || fail "h1's mcsd did not settle"
back=$(defined_names "$U1" '^bd-')
[ -z "$back" ] || fail "[rule: no redefine from a stale read] $(wc -w <<<"$back") of $((ROUNDS * N)) deleted instances came back: $back"
wait_for 15 no_records '^bd-' || fail "[rule: a deleted instance's label is released] still held: $(registry "$REG" | grep ' bd-')"
ok "$((ROUNDS * N)) instances booted and deleted at once stay deleted; their labels are released"

fi
if want hard; then
# ---- Nova hard reboots, without the hook ----
# Rule: mcsd never overwrites a newer definition: the persistent XML ends as
# the last one Nova defined, with a label.
virsh -q -c "$U1" define "$(nova_xml nova-hr "$hr" first)" >/dev/null
virsh -q -c "$U1" start nova-hr >/dev/null
wait_for 10 has_static_label "$U1" nova-hr || fail "nova-hr got no label"
# libvirt has no compare-and-set define: a hard reboot whose undefine and
# define both land in the one round trip between mcsd's re-read and its
# define is overwritten (docs/mcsd.md). That window is narrow (about one
# round in a hundred ends in it), so at most one round of six may.
lost=0
for r in $(seq 1 "$ROUNDS"); do
	for c in $(seq 1 30); do
		printf '%s\n' "destroy nova-hr" "undefine nova-hr" "define $(nova_xml nova-hr "$hr" "r$r-c$c")" "start nova-hr"
	done | virsh -q -c "$U1" >/dev/null || fail "virsh failed in round $r"
	last_is() { [ "$(description_of "$U1" nova-hr)" = "r$r-c30" ] && has_static_label "$U1" nova-hr; }
	labelled_and_quiet() { has_static_label "$U1" nova-hr && quiet h1; }
	if ! wait_for 15 last_is; then
		wait_for 10 labelled_and_quiet || fail "[rule: every definition gets its label] round $r: nova-hr has no static label: $(seclabel_of "$U1" nova-hr)"
		lost=$((lost + 1))
		echo "round $r: nova-hr's persistent XML is '$(description_of "$U1" nova-hr)', not r$r-c30 (overwritten within libvirt's window)"
	fi
done
[ $lost -le $(((ROUNDS + 5) / 6)) ] || fail "[rule: no redefine from a stale read] $lost of $ROUNDS rounds ended with an older definition than the last one Nova made"
wait_for 10 quiet h1 || fail "h1's mcsd did not settle"
expect_eq "[rule: a label mcsd wrote is no operator's choice] nova-hr's kind" "$(registry_field "$REG" "$hr" 4)" dynamic
expect_eq "[rule: the label in the XML is the reserved one] nova-hr" \
	"$(label_of "$U1" nova-hr | cut -d: -f4-)" "$(registry_field "$REG" "$hr" 3)"
ok "$ROUNDS rounds of 30 rapid hard reboots: the guest always has its label; $((ROUNDS - lost)) of $ROUNDS end with the last definition"

fi
if want hook; then
# ---- Nova hard reboots through the hook ----
# libvirt draws a dynamic pair for each start (the test driver runs no hook:
# the hook is driven as libvirtd would, with the drawn label) while mcsd's
# rewrite races it. Rule: a label mcsd wrote is never taken for an
# operator's choice, so libvirt's draw is never refused.
export MCSD_CONFIG=$WORK/h1.conf
hook_xml() { # NAME UUID LEVEL: the XML libvirt hands to start begin
	echo "<domain type='kvm'><name>$1</name><uuid>$2</uuid><memory unit='KiB'>65536</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$3</label><imagelabel>system_u:object_r:svirt_image_t:$3</imagelabel></seclabel></domain>" >"$WORK/$1.hook.xml"
	echo "$WORK/$1.hook.xml"
}
draw() { # a random pair, as libvirt draws one
	local a b
	while :; do
		a=$((RANDOM % 1024)) b=$((RANDOM % 1024))
		[ $a -ne $b ] && break
	done
	[ $a -lt $b ] && echo "s0:c$a,c$b" || echo "s0:c$b,c$a"
}
virsh -q -c "$U1" define "$(nova_xml nova-hk "$hk" first)" >/dev/null
wait_for 10 has_static_label "$U1" nova-hk || fail "nova-hk got no label"
refused=0 cycles=$((ROUNDS * 10))
for c in $(seq 1 $cycles); do
	virsh -q -c "$U1" destroy nova-hk >/dev/null 2>&1 || true
	virsh -q -c "$U1" undefine nova-hk >/dev/null
	virsh -q -c "$U1" define "$(nova_xml nova-hk "$hk" "c$c")" >/dev/null
	if "$MCSCTL" hook qemu nova-hk start begin - <"$(hook_xml nova-hk "$hk" "$(draw)")" 2>>"$WORK/hook.err"; then
		virsh -q -c "$U1" start nova-hk >/dev/null
	else
		refused=$((refused + 1))
	fi
done
[ $refused -eq 0 ] || fail "[rule: a label mcsd wrote is no operator's choice] $refused of $cycles hard reboots refused: $(sort "$WORK/hook.err" | uniq -c | sort -rn | head -3)"
wait_for 10 quiet h1 || fail "h1's mcsd did not settle"
expect_eq "[rule: a label mcsd wrote is no operator's choice] nova-hk's kind" "$(registry_field "$REG" "$hk" 4)" dynamic
ok "$cycles hard reboots through the hook, each with a fresh draw: none refused, the guest stays dynamic"

fi
if want edit; then
# ---- virsh edit while mcsd waits for the registry ----
# An operator redefines a guest (as virsh edit does: read, change, define)
# after mcsd read it and while mcsd waits for another host's write lock on
# the registry to reserve its label. Rule: a definition made after mcsd
# read the guest is never overwritten with the one it read. The lock holds
# that window open, so the edit always lands in it: without the re-read
# before each define the edit is lost every time. (What libvirt leaves
# open, an edit within the one round trip between that re-read and the
# define, is documented in docs/mcsd.md and not raced here.)
# hold_lock / drop_lock: another host's write lock, a transaction the test
# holds open (busy_timeout, 3 s, is longer than it is held).
mkfifo "$WORK/lock.in"
hold_lock() {
	sqlite3 "$REG" <"$WORK/lock.in" >"$WORK/lock.out" 2>&1 &
	echo $! >"$WORK/lock.daemon.pid"
	exec {lock}>"$WORK/lock.in"
	echo "BEGIN IMMEDIATE; SELECT 'locked';" >&$lock
	locked() { grep -q '^locked$' "$WORK/lock.out"; }
	wait_for 10 locked || fail "could not take the registry's write lock: $(cat "$WORK/lock.out")"
}
drop_lock() {
	echo "COMMIT;" >&$lock
	exec {lock}>&-
	wait "$(cat "$WORK/lock.daemon.pid")" || fail "the lock's sqlite3 failed: $(cat "$WORK/lock.out")"
	rm -f "$WORK/lock.daemon.pid"
}
E=3
for i in $(seq 1 $E); do
	hold_lock
	virsh -q -c "$U1" define "$(nova_xml "ed-$i" "$(uuid_n $((5000 + i)))" m0)" >/dev/null
	sleep 1 # mcsd reads the guest and waits for the lock to reserve
	virsh -q -c "$U1" define "$(nova_xml "ed-$i" "$(uuid_n $((5000 + i)))" m1)" >/dev/null
	drop_lock
	edited_and_labelled() { [ "$(description_of "$U1" "ed-$i")" = m1 ] && has_static_label "$U1" "ed-$i"; }
	wait_for 15 edited_and_labelled || fail "[rule: no redefine from a stale read] ed-$i, edited while mcsd waited for the registry, is '$(description_of "$U1" "ed-$i")', not the edit (m1); seclabel: $(seclabel_of "$U1" "ed-$i")"
done
ok "$E guests edited while mcsd waited for the registry: each keeps the edit and gets a label"

fi
if want ovirt; then
# ---- oVirt: transient guests created and destroyed on two hosts ----
# Rule: mcsd never turns a transient guest into a persistent one, and
# nothing is held once the guests are gone.
pids=()
for h in h1 h2; do
	for c in $(seq 1 40); do
		x=$(nova_xml "ov-$h-$c" "$(uuid_n $((8000 + c + (${h#h} * 100))))" "t$c")
		printf '%s\n' "create $x" "destroy ov-$h-$c"
	done | virsh -q -c "$(test_uri $h)" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}" || fail "virsh create/destroy failed"
for h in h1 h2; do
	wait_for 30 quiet $h || fail "$h's mcsd did not settle"
	left=$(defined_names "$(test_uri $h)" '^ov-')
	[ -z "$left" ] || fail "[rule: a transient guest is never defined] $h still has: $left"
done
wait_for 15 no_records '^ov-' || fail "[rule: nothing is held for transient guests gone] $(registry "$REG" | grep ' ov-')"
ok "transient guests created and destroyed on two hosts at once leave nothing defined or held"

fi
if want refused; then
# ---- a refused start keeps what the guest holds ----
# Rule (lib/guest/hook-rules.c hold_label; lands with branch i24-ownership):
# a start refused because libvirt drew a pair another guest holds never
# releases the guest's own reservation, not even for a moment.
virsh -q -c "$U1" destroy nova-hk >/dev/null 2>&1 || true
wait_for 10 field_is "$REG" "$hk" 5 reserved || fail "nova-hk is not reserved"
other=$(registry_field "$REG" "$hr" 3)
created() { registry_sql "$REG" "SELECT created_us FROM reservations WHERE uuid = '$1'"; }
c0=$(created "$hk") l0=$(registry_field "$REG" "$hk" 3)
if "$MCSCTL" hook qemu nova-hk start begin - <"$(hook_xml nova-hk "$hk" "$other")" 2>"$WORK/hook.err"; then
	fail "a start with nova-hr's label $other was allowed for nova-hk"
fi
expect_eq "[rule: a refused start never releases what the guest holds; i24-ownership] nova-hk's label" \
	"$(registry_field "$REG" "$hk" 3)" "$l0"
expect_eq "[rule: a refused start never releases what the guest holds; i24-ownership] nova-hk's created_us" \
	"$(created "$hk")" "$c0"
ok "a start refused for a pair another guest holds leaves the guest's reservation untouched"

fi

mcsd_stop h1
mcsd_stop h2
