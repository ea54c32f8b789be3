#!/bin/bash
# cluster_boot_* (issue 26 item 3): a boot storm at cluster size on BACKEND.
# MCS_BOOT_HOSTS hosts (10) of tests/cluster/cluster.sh, each with
# MCS_BOOT_GUESTS unlabelled guests (1,000) defined while no mcsd runs, then
# every mcsd started at once: cluster_boot_<H>x<G>_<backend>_s until every
# guest on every host has its label. In the same run, one more host with as
# many guests alone on a registry of its own on the same server: its time,
# and cluster_boot_vs_serial_ratio_<backend> = cluster time / (H x one
# host's time). Then every guest's start decided at once through its host's
# hook socket with the XML libvirtd holds (MCS_BOOT_HOOK_CONNS connections
# per host, 8): cluster_hook_decisions_per_s_<backend> and its p99.
BACKEND=${1:?usage: bench-cluster-boot.sh etcd|nfs|dir|sqlite}
. "$(dirname "$0")/../tests/cluster/cluster.sh"
: "${CLUSTER_LOAD:=$(dirname "$0")/cluster-load.py}"
H=${MCS_BOOT_HOSTS:-10}
G=${MCS_BOOT_GUESTS:-1000}
CLUSTER_RANGE=c0.c1023
CLUSTER_NO_MCSD=1
SOLO=$((H + 1))
cluster_up "$BACKEND" "$SOLO" "hook_timeout = 60s"
# The solo host: a registry of its own on the same server.
case $BACKEND in
sqlite) REG2=$WORK/registry2.db ;;
dir) REG2=dir://$WORK/shared/registry2 ;;
nfs) REG2=nfs://$CLUSTER_NET.100/export/registry2 ;;
etcd) REG2=${REG%/mcsd}/mcsd2 ;;
esac
sed -i "s|^registry = .*|registry = $REG2|" "$WORK/h$SOLO.conf"
cluster_host_run $SOLO "$MCSD" --config "$WORK/h$SOLO.conf" --init-registry >>"$WORK/h$SOLO.log" 2>&1 ||
	fail "could not make $REG2: $(tail -3 "$WORK/h$SOLO.log")"

# define_all I...: G unlabelled guests on each host I, all hosts at once.
define_all() {
	local i k pids=()
	for i in "$@"; do
		for k in $(seq 1 "$G"); do
			guest_xml "h$i-g$k" "" >"$WORK/x-h$i-g$k.xml"
			echo "define $WORK/x-h$i-g$k.xml"
		done >"$WORK/h$i.virsh"
		virsh -q -c "$(cluster_uri "$i")" <"$WORK/h$i.virsh" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" || fail "virsh define failed"
}
# all_labelled I...: every host I's mcsd manages its G guests.
managed_is() {
	cluster_mcsctl "$1" --json status 2>/dev/null | python3 -c 'import json, sys
g = json.load(sys.stdin)["guests"]; sys.exit(0 if g["managed"] == int(sys.argv[1]) else 1)' "$G"
}
all_labelled() { local i; for i in "$@"; do managed_is "$i" || return 1; done; }
# boot I...: starts those hosts' mcsd at once; the seconds until every guest is labelled.
boot() {
	local i t0
	t0=$(date +%s.%N)
	for i in "$@"; do
		nsenter --net="/run/netns/h$i" "$MCSD" --config "$WORK/h$i.conf" >>"$WORK/h$i.log" 2>&1 &
		echo $! >"$WORK/h$i.mcsd.pid"
	done
	wait_for 3000 all_labelled "$@" || fail "not every guest was labelled"
	python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 2))" "$t0"
}

define_all $SOLO
one=$(boot $SOLO)
echo "# one host x $G guests on $BACKEND: labelled in $one s"
define_all $(seq 1 "$H")
all=$(boot $(seq 1 "$H"))
echo "cluster_boot_${H}x${G}_${BACKEND}_s: $all s (goal <= 15 for 10x1000 on etcd and nfs)"
echo "cluster_boot_one_host_${G}_${BACKEND}_s: $one s"
echo "cluster_boot_vs_serial_ratio_${BACKEND}: $(python3 -c "print(round($all / ($H * $one), 3))") (goal <= 1)"

# Every start at once, with the XML libvirtd holds (the label in it).
args=()
for i in $(seq 1 "$H"); do
	virsh -q -c "$(cluster_uri "$i")" list --all --name | sed -n 's/^\(.\+\)$/dumpxml \1/p' |
		virsh -q -c "$(cluster_uri "$i")" >"$WORK/h$i.dump" || fail "dumpxml on h$i"
	args+=("$WORK/h$i-hook.sock=$WORK/h$i.dump")
done
python3 "$CLUSTER_LOAD" hook 60 "${MCS_BOOT_HOOK_CONNS:-8}" "${args[@]}" >"$WORK/hook.out" || fail "hook decisions: $(cat "$WORK/hook.out")"
read -r _ n _ per_s _ p99 <"$WORK/hook.out"
echo "# $n start decisions on $H hosts"
echo "cluster_hook_decisions_per_s_${BACKEND}: $per_s decisions/s"
echo "cluster_hook_decisions_ms_p99_${BACKEND}: $p99 ms"
cluster_down
