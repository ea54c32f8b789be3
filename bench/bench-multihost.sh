#!/bin/bash
# multihost_<backend>_* (issue 26 item 4): three hosts (tests/cluster/
# cluster.sh: network namespaces, each with its own libvirtd and mcsd) on
# one registry BACKEND reserve at once, MCS_BENCH_CONNS clients per host
# (4), for MCS_BENCH_SECONDS (10): reservations per second and the p99 of
# one reservation's round trip. Beside it, in the same run and on the same
# server, its own primitive by one writer per host at once: exclusive
# creates (written, committed) for dir and nfs, single-key create-if-absent
# transactions for etcd, commits for sqlite (one writer); _vs_raw_ratio is the first
# rate over the second. The pool is c0.c1023 (a bench must not run out).
BACKEND=${1:?usage: bench-multihost.sh sqlite|dir|nfs|etcd}
. "$(dirname "$0")/../tests/cluster/cluster.sh"
: "${CLUSTER_LOAD:=$(dirname "$0")/cluster-load.py}" "${BENCH_RAW_NFS:?}"
S=${MCS_BENCH_SECONDS:-10}
CONNS=${MCS_BENCH_CONNS:-4}
CLUSTER_RANGE=c0.c1023
cluster_up "$BACKEND" 3

# field NAME FILE: the value after NAME on the figures line.
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"; }

# The server's primitive: one writer in each host's namespace, all at once;
# sqlite one writer alone (three processes committing to one file wait for
# its lock in sqlite's busy handler's sleeps, which measures the sleeps).
mkdir -p "$WORK/shared/raw" "$WORK/export/raw"
pids=()
for i in $([ "$BACKEND" = sqlite ] && echo 1 || echo 1 2 3); do
	case $BACKEND in
	sqlite) cluster_host_run $i python3 "$CLUSTER_LOAD" raw-sqlite "$S" 1 "$WORK/raw.db" ;;
	dir) cluster_host_run $i python3 "$CLUSTER_LOAD" raw-dir "$S" 1 "$WORK/shared/raw" ;;
	etcd) cluster_host_run $i python3 "$CLUSTER_LOAD" raw-etcd "$S" 1 "$CLUSTER_NET.10$i:2379" ;;
	nfs) cluster_host_run $i "$BENCH_RAW_NFS" $CLUSTER_NET.100 /export /raw 1 "$S" | tr '\n' ' ' | sed 's/creates/ops/' ;;
	esac >"$WORK/raw$i.out" &
	pids+=($!)
done
wait "${pids[@]}" || fail "the server's primitive failed: $(cat "$WORK"/raw?.out)"
raw=$(cat "$WORK"/raw?.out | awk '{ for (i = 1; i < NF; i++) if ($i == "per_s") s += $(i + 1) } END { printf "%.1f", s }')

python3 "$CLUSTER_LOAD" reserve "$S" "$CONNS" "$WORK/h1.sock" "$WORK/h2.sock" "$WORK/h3.sock" >"$WORK/reserve.out" ||
	fail "the reservations failed: $(cat "$WORK/reserve.out")"
per_s=$(field per_s "$WORK/reserve.out")
echo "# $BACKEND: $(field ops "$WORK/reserve.out") reservations by 3 hosts x $CONNS clients in $S s; raw: $(cat "$WORK"/raw?.out | tr '\n' ';')"
echo "multihost_${BACKEND}_reserve_per_s: $per_s reservations/s"
echo "multihost_${BACKEND}_reserve_ms_p99: $(field p99_ms "$WORK/reserve.out") ms"
echo "multihost_${BACKEND}_raw_per_s: $raw ops/s"
echo "multihost_${BACKEND}_vs_raw_ratio: $(python3 -c "print(round($per_s / $raw, 3))") (goal >= 0.5)"
cluster_down
