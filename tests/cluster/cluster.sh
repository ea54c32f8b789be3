# A cluster of KVM hosts on one machine, shared by the multihost tests and
# the cluster benchmarks (issue 26). Sourced first by a script; it re-runs
# the script as PID 1 of its own PID, mount and network namespaces
# (pidns.sh through lib.sh) with a tmpfs on /run, so every namespace,
# address, bridge and server it makes dies with the script, however the
# script ends (lib.sh's cleanup stops them first, and prints their logs when
# the script failed).
#
#   cluster_up BACKEND NHOSTS [CONFIG-LINE...]
#       BACKEND: sqlite (one file), dir (one directory every host sees),
#       nfs (rpcbind + nfs-ganesha in namespace srv, 10.77.0.100) or etcd
#       (3 members, each in its own namespace e1..e3, 10.77.0.101-103).
#       Hosts h1..hN (10.77.0.1..N) are network namespaces joined to the
#       bridge br0 by a veth pair each (vhI on the bridge, eth0 inside),
#       each with its own private libvirtd (test driver) and its own mcsd
#       (host id hI, sockets $WORK/hI.sock and $WORK/hI-hook.sock, config
#       $WORK/hI.conf with pool range $CLUSTER_RANGE, c0.c63 unless set,
#       and the extra CONFIG-LINEs).
#       The registry is made once, by h1's `mcsd --init-registry`; no mcsd
#       has registry_create. Sets REG and CLUSTER_HOSTS.
#   cluster_host_run I CMD...   CMD in host I's network namespace
#   cluster_mcsctl I ARGS...    mcsctl against host I's mcsd
#   cluster_uri I               host I's libvirt URI (test driver)
#   cluster_server_stop / cluster_server_start
#       nfs: ganesha only (rpcbind stays); etcd: cluster_etcd_stop/start M
#       stop or start member M (1-3).
#   cluster_cut_host I / cluster_join_host I
#       host I's end of its veth pair down (the host loses the registry
#       server at once: connections fail, nothing hangs; it keeps its
#       libvirtd and sockets) / up again. cluster_blackhole_host I: the
#       bridge's end down instead: the host's packets go nowhere, so every
#       call waits for its timeout.
#   cluster_down    stops every mcsd, libvirtd and server it started.
#
# Needs root, iproute2 and, for its backend, etcd or rpcbind and
# nfs-ganesha-vfs; skipped (77) without them.
cluster_skip() { echo "SKIP: $*"; exit 77; }
if [ -z "${MCS_PIDNS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || cluster_skip "needs root (network namespaces, a bridge, servers)"
	for t in unshare ip nsenter; do command -v $t >/dev/null || cluster_skip "$t not installed"; done
	MCS_PIDNS_ALSO=--net
fi
. "$(dirname "${BASH_SOURCE[0]}")/../libvirt/lib.sh"
: "${MCSCTL:?}"

# /run of its own: /run/netns, rpcbind's socket, libvirtd's /run/libvirt.
mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt /run/netns
ip link set lo up

CLUSTER_NET=10.77.0
CLUSTER_HOSTS=0
CLUSTER_BACKEND=

# cluster_ns NAME ADDRESS: a network namespace on the bridge at ADDRESS.
cluster_ns() {
	local ns=$1 addr=$2
	ip netns add "$ns"
	ip link add "v$ns" type veth peer name eth0 netns "$ns"
	ip link set "v$ns" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
}
cluster_in() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
cluster_host_run() { local i=$1; shift; cluster_in "h$i" "$@"; }
cluster_uri() { test_uri "h$1"; }
cluster_mcsctl() { local i=$1; shift; "$MCSCTL" --socket "$WORK/h$i.sock" "$@"; }

# --- the registry servers ---------------------------------------------------
cluster_nfs_up() { cluster_in srv rpcinfo -T tcp $CLUSTER_NET.100 mountd 3 && cluster_in srv rpcinfo -T tcp $CLUSTER_NET.100 nfs 3; }
cluster_nfs_serve() {
	cluster_ns srv $CLUSTER_NET.100
	ganesha_conf
	nsenter --net=/run/netns/srv rpcbind -f -w &
	echo $! >"$WORK/rpcbind.daemon.pid"
	wait_for 30 cluster_in srv rpcinfo -p $CLUSTER_NET.100 || fail "rpcbind did not answer"
	cluster_server_start
	REG=nfs://$CLUSTER_NET.100/export/registry
}

cluster_etcd_start() {
	local m=$1 a=$CLUSTER_NET.$((100 + $1))
	nsenter --net="/run/netns/e$m" etcd --name "m$m" --data-dir "$WORK/etcd-$m" \
		--listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
		--listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
		--initial-cluster "$CLUSTER_ETCD" --initial-cluster-state "${2:-existing}" \
		--initial-cluster-token "$WORK" >>"$WORK/etcd-$m.out" 2>&1 &
	echo $! >"$WORK/m$m.etcd.pid"
	disown $! # killed on purpose: no job notice
}
cluster_etcd_stop() { kill -9 "$(cat "$WORK/m$1.etcd.pid")" 2>/dev/null || true; rm -f "$WORK/m$1.etcd.pid"; }
# cluster_etcd_healthy: some member answers that the cluster has a leader.
cluster_etcd_healthy() {
	local m
	for m in 1 2 3; do
		cluster_in "e$m" curl -sf -m 2 "http://$CLUSTER_NET.$((100 + m)):2379/health" | grep -q '"health":"true"' && return 0
	done
	return 1
}
cluster_etcd_serve() {
	local m
	CLUSTER_ETCD=
	command -v etcd >/dev/null || cluster_skip "etcd not installed"
	for m in 1 2 3; do
		cluster_ns "e$m" $CLUSTER_NET.$((100 + m))
		CLUSTER_ETCD+="${CLUSTER_ETCD:+,}m$m=http://$CLUSTER_NET.$((100 + m)):2380"
	done
	for m in 1 2 3; do cluster_etcd_start $m new; done
	wait_for 60 cluster_etcd_healthy || fail "etcd did not elect a leader"
	REG="etcd://$CLUSTER_NET.101:2379,$CLUSTER_NET.102:2379,$CLUSTER_NET.103:2379/mcsd"
}

cluster_server_start() {
	case $CLUSTER_BACKEND in
	nfs)
		cluster_in srv ganesha.nfsd -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -p "$WORK/ganesha.daemon.pid" -N NIV_EVENT
		wait_for 60 cluster_nfs_up || fail "ganesha did not answer: $(tail -5 "$WORK/ganesha.log")"
		;;
	etcd)
		local m
		for m in 1 2 3; do [ -f "$WORK/m$m.etcd.pid" ] || cluster_etcd_start $m; done
		wait_for 60 cluster_etcd_healthy || fail "etcd did not come back"
		;;
	*) fail "cluster_server_start: the $CLUSTER_BACKEND registry has no server" ;;
	esac
}
# cluster_server_stop: the whole registry service gone (nfs: ganesha;
# etcd: two members, quorum lost).
cluster_server_stop() {
	case $CLUSTER_BACKEND in
	nfs)
		local pid
		pid=$(cat "$WORK/ganesha.daemon.pid")
		kill "$pid"
		wait_for 30 bash -c "! kill -0 $pid" || fail "ganesha did not stop"
		;;
	etcd) cluster_etcd_stop 2; cluster_etcd_stop 3 ;;
	*) fail "cluster_server_stop: the $CLUSTER_BACKEND registry has no server" ;;
	esac
}

cluster_cut_host() { ip -n "h$1" link set eth0 down; }
cluster_join_host() {
	ip link set "vh$1" up
	ip -n "h$1" link set eth0 up
	ip -n "h$1" addr replace "$CLUSTER_NET.$1/24" dev eth0
}
cluster_blackhole_host() { ip link set "vh$1" down; }

# --- the hosts ---------------------------------------------------------------
# cluster_host_conf I [LINE...]: host I's mcsd config.
cluster_host_conf() {
	local i=$1
	shift
	printf '%s\n' "uri = $(cluster_uri "$i")" "registry = $REG" "host_id = h$i" "socket = $WORK/h$i.sock" \
		"hook_socket = $WORK/h$i-hook.sock" "range = ${CLUSTER_RANGE:-c0.c63}" "$@" >"$WORK/h$i.conf"
}

# cluster_mcsd_start I...: starts those hosts' mcsd all at once, each in
# its host's namespace, then waits for each one's first reconcile.
cluster_mcsd_start() {
	local i before=()
	for i in "$@"; do
		before[i]=$(grep -c 'reconciled' "$WORK/h$i.log" 2>/dev/null || true)
		nsenter --net="/run/netns/h$i" "$MCSD" --config "$WORK/h$i.conf" >>"$WORK/h$i.log" 2>&1 &
		echo $! >"$WORK/h$i.mcsd.pid"
	done
	for i in "$@"; do
		wait_for 120 log_count_above "$WORK/h$i.log" 'reconciled' "${before[i]:-0}" || fail "mcsd h$i did not reconcile; see its log"
	done
}

cluster_libvirtd_start() {
	local h=h$1
	cluster_in "$h" "$PRIVATE_LIBVIRTD" start "$WORK/$h"
	LIBVIRTDS+=("$h")
	# The test driver's built-in guest has the same UUID on every host.
	virsh -q -c "$(test_uri $h)" destroy test >/dev/null
	virsh -q -c "$(test_uri $h)" undefine test >/dev/null
}

cluster_up() {
	local backend=$1 n=$2 i
	shift 2
	CLUSTER_BACKEND=$backend CLUSTER_HOSTS=$n
	ip link add br0 type bridge
	ip link set br0 up
	case $backend in
	sqlite) REG=$WORK/registry.db ;;
	dir) mkdir -p "$WORK/shared"; REG=dir://$WORK/shared/registry ;;
	nfs)
		for t in rpcbind rpcinfo ganesha.nfsd; do command -v $t >/dev/null || cluster_skip "$t not installed"; done
		cluster_nfs_serve
		;;
	etcd) cluster_etcd_serve ;;
	*) fail "cluster_up: unknown backend '$backend' (sqlite, dir, nfs, etcd)" ;;
	esac
	for i in $(seq 1 "$n"); do
		cluster_ns "h$i" "$CLUSTER_NET.$i"
		cluster_host_conf "$i" "$@"
		cluster_libvirtd_start "$i"
	done
	cluster_host_run 1 "$MCSD" --config "$WORK/h1.conf" --init-registry >>"$WORK/h1.log" 2>&1 ||
		fail "h1 could not make the registry $REG: $(tail -3 "$WORK/h1.log")"
	# CLUSTER_NO_MCSD=1: the registry made, no mcsd started (a boot storm starts them).
	[ -n "${CLUSTER_NO_MCSD:-}" ] || cluster_mcsd_start $(seq 1 "$n")
}

cluster_down() {
	local f h
	for f in "$WORK"/*.mcsd.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	for h in "${LIBVIRTDS[@]}"; do "$PRIVATE_LIBVIRTD" stop "$WORK/$h" || true; done
	LIBVIRTDS=()
	for f in "$WORK"/*.etcd.pid "$WORK"/*.daemon.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	for h in $(ip netns list | awk '{ print $1 }'); do ip netns del "$h"; done
	ip link del br0 2>/dev/null || true
}
