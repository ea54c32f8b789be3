#!/bin/bash
# A registry at full size, per backend (sqlite, dir://): every pair of
# c0..c1023 reserved (MCS_FULL_PAIRS, 523,776 by default; CI runs 20,000).
# Per backend: the start-up time to a usable view (a process of its own,
# as mcsd at start-up), its RSS, the registry's size on disk, and a
# baseline in the same run: reading the raw store once (sqlite: SELECT
# every row; dir: reading the newest snapshot and the log after it).
# dir: also the newest snapshot's size against the read cap (128 MiB).
# etcd: a single etcd of its own on a free local port; its size is the
# dbSize of /v3/maintenance/status, its baseline one range get of every key
# (etcdctl). MCS_FULL_BACKENDS chooses ("sqlite dir etcd" by default; etcd
# only where the etcd binary is). nfs:// is not measured here (see
# docs/benchmarks.md).
set -euo pipefail
: "${BENCH_FULL:?}"
pairs=${MCS_FULL_PAIRS:-523776}
backends=${MCS_FULL_BACKENDS:-sqlite dir etcd}
base=${MCS_BENCH_DIR:-/var/tmp}
work=$(mktemp -d "$base/mcsd-bench-full.XXXXXX")
etcd_pid=
cleanup() {
	if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; fi
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
read_cap=$((128 << 20)) # DIR_IO_READ_MAX in lib/registry/dir/io.h

now() { date +%s.%N; }
report() { printf '%s: %s %s\n' "$1" "$2" "$3"; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# fill, measure and report one backend; $3 reads its raw store once; $4
# (optional) runs between the fill and the measure.
run() {
	local name=$1 location=$2 raw=$3 settle=${4:-}
	"$BENCH_FULL" fill "$location" "$pairs"
	[ -z "$settle" ] || $settle
	"$BENCH_FULL" measure "$location" >"$work/$name.out"
	local held t0 t1 startup
	held=$(field held_pairs "$work/$name.out")
	[ "$held" = "$pairs" ] || { echo "bench-full-registry: $name holds $held pairs, not $pairs" >&2; exit 1; }
	startup=$(field startup_s "$work/$name.out")
	t0=$(now)
	$raw >/dev/null
	t1=$(now)
	report "full_registry_${name}_startup_s" "$startup" s
	report "full_registry_${name}_rss_kib" "$(field rss_kib "$work/$name.out")" KiB
	report "full_registry_${name}_peak_rss_kib" "$(field hwm_kib "$work/$name.out")" KiB
	report "full_registry_${name}_raw_read_s" "$(echo "$t1 - $t0" | bc -l)" s
	report "full_registry_${name}_startup_vs_raw_read_ratio" "$(echo "$startup / ($t1 - $t0)" | bc -l)" x
}

sqlite_raw() { sqlite3 "$work/registry.db" 'SELECT * FROM reservations'; }
dir_raw() {
	local snap
	snap=$(ls "$work/dir/snap" | sort | tail -n 1)
	cat "$work/dir/snap/$snap"
	# the log after the snapshot: what a start-up replays
	find "$work/dir/log" -type f -newer "$work/dir/snap/$snap" -exec cat {} + 
}

etcd_port=
# Every key under the registry's prefix, in one range request.
etcd_raw() {
	curl -sf -X POST -d '{"key":"L21jcy1iZW5jaC8=","range_end":"L21jcy1iZW5jaDA="}' \
		"http://127.0.0.1:$etcd_port/v3/kv/range" | wc -c
}
# An etcd just filled is still busy with the fill for a while (start-up
# at 40,000 pairs: 6.3 s then, 0.7-1.2 s after a restart); mcsd starts
# against one that has been running: measure after a restart, same port.
restart_etcd() {
	kill "$etcd_pid"
	wait "$etcd_pid" 2>/dev/null || true
	start_etcd
}
start_etcd() {
	[ -n "$etcd_port" ] ||
		etcd_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	local peer=$((etcd_port + 1))
	etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
		--advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "bench=http://127.0.0.1:$peer" \
		--logger zap --log-level error >"$work/etcd.log" 2>&1 &
	etcd_pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$etcd_port/health" >/dev/null && return 0
		sleep 0.1
	done
	echo "bench-full-registry: etcd did not start: $(tail -3 "$work/etcd.log")" >&2
	exit 1
}

for backend in $backends; do
	case $backend in
	sqlite)
		run sqlite "$work/registry.db" sqlite_raw
		report full_registry_sqlite_size_bytes "$(stat -c %s "$work/registry.db")" bytes
		;;
	dir)
		mkdir "$work/dir"
		run dir "dir://$work/dir" dir_raw
		report full_registry_dir_size_bytes "$(du -sb "$work/dir" | cut -f1)" bytes
		snap=$(ls "$work/dir/snap" | sort | tail -n 1)
		snap_bytes=$(stat -c %s "$work/dir/snap/$snap")
		report full_registry_dir_snapshot_bytes "$snap_bytes" bytes
		report full_registry_dir_snapshot_vs_read_cap_ratio "$(echo "$snap_bytes / $read_cap" | bc -l)" x
		;;
	etcd)
		command -v etcd >/dev/null || { echo "bench-full-registry: no etcd here; etcd not measured" >&2; continue; }
		start_etcd
		run etcd "etcd://127.0.0.1:$etcd_port/mcs-bench" etcd_raw restart_etcd
		db_size=$(curl -sf -X POST -d '{}' "http://127.0.0.1:$etcd_port/v3/maintenance/status" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["dbSize"])')
		report full_registry_etcd_size_bytes "$db_size" bytes
		;;
	*) echo "bench-full-registry: unknown backend $backend" >&2; exit 2 ;;
	esac
done
