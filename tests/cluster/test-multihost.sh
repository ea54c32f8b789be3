#!/bin/bash
# multihost BACKEND (issue 26 item 2, issue 11): three hosts, each a network
# namespace with its own libvirtd and mcsd, on one registry served from a
# namespace of its own (cluster.sh). The operator's single (s0:c7) and
# range (s0:c1.c5) are reserved first; then MCS_MULTIHOST_GUESTS guests
# (600 by default, a third per host, mixed seclabel forms) are defined on
# the three hosts at once. Mid-run the server restarts (nfs: ganesha) or
# loses a member and gets it back (etcd). Every guest ends labelled or
# refused with the reason, no two labels equal or contain one another, and
# the registry is every libvirtd's XML, each record held by the guest's
# host. Then (nfs, etcd) the registry lost: reserve and the hook's start
# are refused and status says failing; back, a new guest is labelled within
# 60 s with no mcsd restarted. Last, one host cut off from the registry
# alone (its veth down) fails closed the same way while the others go on.
BACKEND=${1:?usage: test-multihost.sh sqlite|dir|nfs|etcd}
. "$(dirname "$0")/cluster.sh"
: "${CHECK_CLUSTER:=$(dirname "$0")/check-cluster.py}"
N=${MCS_MULTIHOST_GUESTS:-600}
PER=$((N / 3))

cluster_up "$BACKEND" 3 "hook_timeout = 4s" "busy_timeout = 3s"
echo "# $BACKEND registry $REG, hosts h1-h3 at 10.77.0.1-3"

# The operator's labels, before any guest.
OP1=0f0f0f0f-0000-4000-8000-00000000c007 OP2=0f0f0f0f-0000-4000-8000-0000000c15c5
cluster_mcsctl 1 reserve $OP1 --name op-single --label s0:c7 >/dev/null || fail "reserve s0:c7"
cluster_mcsctl 2 reserve $OP2 --name op-range --label s0:c1.c5 >/dev/null || fail "reserve s0:c1.c5"
ok "the operator's s0:c7 and s0:c1.c5 reserved"

# Guest K of host H: six seclabel forms in turn. Static labels are the
# pairs of c40..c63, one per static guest of the cluster (a dynamic guest
# may take one first: that static guest is then refused, with the reason).
PAIRS=()
for a in $(seq 40 62); do for b in $(seq $((a + 1)) 63); do PAIRS+=("c$a,c$b"); done; done
static() { echo "<seclabel type='static' model='selinux' relabel='$1'><label>system_u:system_r:svirt_t:s0:$2</label></seclabel>"; }
seclabel() {
	local h=$1 k=$2
	case $((k % 6)) in
	1) echo "<seclabel type='dynamic' model='selinux'/>" ;;
	2) echo "<seclabel type='dynamic' model='selinux' relabel='yes'><baselabel>system_u:system_r:svirt_t:s0</baselabel></seclabel>" ;;
	3) static yes "${PAIRS[$(((k / 6 * 2) * 3 + h - 1))]}" ;;
	4) static no "${PAIRS[$(((k / 6 * 2 + 1) * 3 + h - 1))]}" ;;
	esac
}
mkdir -p "$WORK/x"
for h in 1 2 3; do
	for k in $(seq 1 "$PER"); do
		guest_xml "h$h-g$k" "$(seclabel $h $k)" >"$WORK/x/h$h-g$k.xml"
		echo "define $WORK/x/h$h-g$k.xml"
		# Two that no host may label: inside the operator's range, over its single.
		if [ "$k" = $((PER / 2)) ]; then
			guest_xml "bad-h$h-in-range" "$(static yes "c2,c$((2 + h))")" >"$WORK/x/bad-h$h-a.xml"
			guest_xml "bad-h$h-over-single" "$(static yes "c7,c$((20 + h))")" >"$WORK/x/bad-h$h-b.xml"
			echo "define $WORK/x/bad-h$h-a.xml"
			echo "define $WORK/x/bad-h$h-b.xml"
		fi
	done >"$WORK/h$h.virsh"
done

# settled H N: host H's mcsd has decided every one of its N guests.
settled() {
	cluster_mcsctl "$1" --json status >"$WORK/st$1.json" 2>/dev/null &&
		python3 -c 'import json, sys
g = json.load(open(sys.argv[1]))["guests"]
sys.exit(0 if g["waiting"] == 0 and g["failed"] == 0 and g["managed"] + g["refused"] == int(sys.argv[2]) else 1)' "$WORK/st$1.json" "$2"
}
guests_on() { virsh -q -c "$(cluster_uri "$1")" list --all --name | grep -c .; }
all_settled() { settled 1 "$(guests_on 1)" && settled 2 "$(guests_on 2)" && settled 3 "$(guests_on 3)"; }

# held_at_least K: the registry holds K labels or more (h1 asked).
held_at_least() {
	cluster_mcsctl 1 --json status | python3 -c 'import json, sys
sys.exit(0 if (json.load(sys.stdin)["labels"]["held"] or 0) >= int(sys.argv[1]) else 1)' "$1"
}
t0=$SECONDS
pids=()
for h in 1 2 3; do
	virsh -q -c "$(cluster_uri $h)" <"$WORK/h$h.virsh" >/dev/null &
	pids+=($!)
done
# Mid-run, once a quarter of the guests hold labels: the server restarted
# (nfs), a member lost, and back once half do (etcd).
case $BACKEND in
nfs | etcd)
	wait_for 120 held_at_least $((N / 4)) || fail "a quarter of the guests were not labelled in 120 s"
	if [ "$BACKEND" = nfs ]; then
		cluster_server_stop
		cluster_server_start
		echo "# ganesha restarted $((SECONDS - t0)) s into the run"
	else
		cluster_etcd_stop 3
		echo "# etcd member 3 stopped $((SECONDS - t0)) s into the run"
		wait_for 120 held_at_least $((N / 2)) || fail "half the guests were not labelled in 120 s with one member lost"
		cluster_server_start
		echo "# etcd member 3 back $((SECONDS - t0)) s into the run"
	fi
	;;
esac
wait "${pids[@]}" || fail "virsh define failed"
wait_for 240 all_settled || fail "not every guest was decided: $(cat "$WORK"/st?.json | tr -d ' \n' | grep -o '"guests":{[^}]*}')"
echo "# every guest decided $((SECONDS - t0)) s after the first define"

# The verdict: each libvirtd's XML, the registry, the refusals.
verdict() {
	local h args=() reserved=$OP1,$OP2${1:+,$1}
	cluster_mcsctl 1 --json list >"$WORK/registry.json" || fail "mcsctl list"
	for h in 1 2 3; do
		virsh -q -c "$(cluster_uri $h)" list --all --name | sed -n 's/^\(.\+\)$/dumpxml --inactive \1/p' |
			virsh -q -c "$(cluster_uri $h)" >"$WORK/h$h.dump" || fail "dumpxml on h$h"
		args+=("h$h=$WORK/h$h.sock:$WORK/h$h.dump")
	done
	python3 "$CHECK_CLUSTER" "$MCSCTL" "$WORK/registry.json" "$reserved" "${args[@]}" >"$WORK/verdict" ||
		{ grep -v '^# h' "$WORK/verdict" | head -40; fail "the cluster is not as it should be"; }
	tail -1 "$WORK/verdict"
	grep -c '^# h.* refused' "$WORK/verdict" >/dev/null || fail "no guest was refused: the bad-* guests should be"
}
verdict
ok "$((3 * (PER + 2))) guests on three hosts: each labelled or refused with the reason; no label equals or contains another; the registry is every libvirtd's XML"

case $BACKEND in
sqlite | dir)
	ok "# SKIP registry lost, host cut off: the $BACKEND registry has no server or network"
	echo "multihost-$BACKEND: $((3 * (PER + 2))) guests on three hosts"
	exit 0
	;;
esac

# failing_closed I: host I's mcsd refuses a reservation and a start, and
# says the registry is failing.
health_of() { cluster_mcsctl "$1" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["registry"]["health"])'; }
# health_of_is I STATE: host I says its registry is STATE (ok, or failing with the reason after it).
health_of_is() { [[ "$(health_of "$1")" == "$2"* ]]; }
hook_xml() { virsh -q -c "$(cluster_uri "$1")" dumpxml "$2" >"$WORK/$2.start.xml"; }
hook_start_on() { MCSD_CONFIG=$WORK/h$1.conf "$MCSCTL" hook qemu "$2" start begin - <"$WORK/$2.start.xml" 2>"$WORK/hook.err"; }
failing_closed() {
	local i=$1 u=0f0f0f0f-0000-4000-8000-0000000000$2
	if cluster_mcsctl "$i" reserve "$u" --name "lost-$2" >"$WORK/out" 2>"$WORK/err"; then
		fail "h$i reserved a label without its registry: $(cat "$WORK/out")"
	fi
	grep -q . "$WORK/err" || fail "h$i's refused reserve says nothing"
	echo "# h$i reserve: $(head -c 300 "$WORK/err")"
	wait_for 60 health_of_is "$i" failing || fail "h$i's status: $(cluster_mcsctl "$i" status)"
	if hook_start_on "$i" "h$i-g1"; then fail "h$i's hook let a start through without the registry"; fi
	echo "# h$i hook: $(head -c 300 "$WORK/hook.err")"
}
# Every host's hook lets its labelled guest start while the registry is up.
for h in 1 2 3; do
	hook_xml $h "h$h-g1"
	hook_start_on $h "h$h-g1" || fail "h$h's hook refused h$h-g1 with the registry up: $(cat "$WORK/hook.err")"
done
# labelled_on I GUEST: the guest's XML on host I has the label the registry holds for it, on host I.
labelled_on() {
	cluster_mcsctl "$1" --json show "$2" | python3 -c 'import json, sys
g, h = json.load(sys.stdin), sys.argv[1]
r, s = g.get("reservation") or {}, ((g.get("libvirt") or {}).get("seclabel") or {})
sys.exit(0 if r.get("host") == h and s.get("mode") == "static" and (s.get("label") or "").endswith(":" + (r.get("label") or "?")) else 1)' "h$1"
}

cluster_server_stop
for h in 1 2 3; do failing_closed $h 0$h; done
ok "registry lost ($([ "$BACKEND" = nfs ] && echo ganesha stopped || echo two etcd members stopped)): every host refuses reserve and the hook's start, status failing"
cluster_server_start
t1=$SECONDS
define "$(cluster_uri 2)" back-1 ""
wait_for 60 labelled_on 2 back-1 || fail "back-1 was not labelled within 60 s of the server's return"
echo "# back-1 labelled $((SECONDS - t1)) s after the server came back"
for h in 1 2 3; do wait_for 60 health_of_is $h ok || fail "h$h's status after the server came back: $(cluster_mcsctl $h status)"; done
ok "registry back: a new guest labelled within 60 s, every mcsd ok again, none restarted"

cluster_cut_host 3
failing_closed 3 13
define "$(cluster_uri 1)" while-cut-1 ""
define "$(cluster_uri 2)" while-cut-2 ""
wait_for 60 labelled_on 1 while-cut-1 || fail "h1 did not label a guest while h3 was cut off"
wait_for 60 labelled_on 2 while-cut-2 || fail "h2 did not label a guest while h3 was cut off"
cluster_mcsctl 1 reserve 0f0f0f0f-0000-4000-8000-000000000021 --name cut-op >/dev/null || fail "h1 could not reserve while h3 was cut off"
hook_start_on 1 h1-g1 || fail "h1's hook refused a start while h3 was cut off: $(cat "$WORK/hook.err")"
health_of_is 1 ok || fail "h1's status while h3 was cut off: $(cluster_mcsctl 1 status)"
ok "h3 cut off from the registry alone fails closed; h1 and h2 go on"
cluster_join_host 3
define "$(cluster_uri 3)" rejoined ""
wait_for 60 labelled_on 3 rejoined || fail "h3 did not label a guest once its link was back"
wait_for 60 all_settled || fail "not every guest was decided after h3 came back"
verdict 0f0f0f0f-0000-4000-8000-000000000021
ok "h3 back on the network: labels again; the cluster is still consistent"
cluster_down
echo "multihost-$BACKEND: $((3 * (PER + 2))) guests on three hosts, server lost and back, one host cut off"
