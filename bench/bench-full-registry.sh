#!/bin/bash
# A registry at full size, per backend (sqlite, dir://, nfs://, etcd): every
# pair of c0..c1023 reserved (MCS_FULL_PAIRS, 523,776 by default; CI runs
# 20,000). Per backend: the start-up time to a usable view (a process of
# its own, as mcsd at start-up), its RSS, the registry's size, and a
# baseline in the same run:
# - sqlite: SELECT every row once.
# - dir: reading the newest snapshot and the log after it once. Filled on a
#   RAM disk (MCS_FULL_DIR_BASE, /dev/shm): on this machine's disk every
#   entry is a synced file (4.8 ms: 42 minutes); the fill moves older
#   snapshots away as an operator may (the start-up reads the newest only).
#   Also the newest snapshot's size against the read cap (128 MiB).
# - nfs: the dir registry just filled, served by nfs-ganesha (NFSv3, in
#   network and mount namespaces of the script's own: nfs-ns.sh) and read
#   through libnfs; its baseline is the dir:// start-up of the same files.
# - etcd: a single etcd of its own on a free local port, filled by a copy
#   (mcsd --copy-registry's code: many records to a transaction) of a
#   sqlite registry filled as above whose history was emptied first (a
#   copy puts each history entry on its own: 45 minutes at full size here),
#   then each record's reservation entry written into its history many to
#   a transaction (etcd-add-history.py: the order of history does not
#   change the size or the start-up); its size is the
#   dbSize of /v3/maintenance/status, its baseline one range get of every
#   key (curl).
# MCS_FULL_BACKENDS chooses ("sqlite dir nfs etcd" by default; etcd only
# where the etcd binary is, nfs only after dir).
set -euo pipefail
: "${BENCH_FULL:?}"
pairs=${MCS_FULL_PAIRS:-523776}
backends=${MCS_FULL_BACKENDS:-sqlite dir nfs etcd}
if [[ " $backends " == *" nfs "* ]]; then
	# Re-runs this script in namespaces of its own (skipped, 77, without
	# root or the tools).
	. "$(dirname "$0")/../tests/libvirt/nfs-ns.sh"
fi
base=${MCS_BENCH_DIR:-/var/tmp}
work=$(mktemp -d "$base/mcsd-bench-full.XXXXXX")
dir_base=${MCS_FULL_DIR_BASE:-/dev/shm}
[ -d "$dir_base" ] && [ -w "$dir_base" ] || dir_base=$base
dir_work=$(mktemp -d "$dir_base/mcsd-bench-full-dir.XXXXXX")
etcd_pid= rpcbind_pid= ganesha_pid=
stop() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
	stop "$etcd_pid"
	stop "$ganesha_pid"
	stop "$rpcbind_pid"
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work" "$dir_work"
}
trap cleanup EXIT
read_cap=$((128 << 20)) # DIR_IO_READ_MAX in lib/registry/dir/io.h

now() { date +%s.%N; }
report() { printf '%s: %s %s\n' "$1" "$2" "$3"; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# fill, measure and report one backend; $3 reads its raw store once (the
# baseline, named $5: raw_read by default); $4 fills it (default: the
# registry API's reservations, in batches).
run() {
	local name=$1 location=$2 raw=$3 fill=${4:-} raw_name=${5:-raw_read}
	if [ -n "$fill" ]; then $fill; else "$BENCH_FULL" fill "$location" "$pairs"; fi
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
	report "full_registry_${name}_${raw_name}_s" "$(echo "$t1 - $t0" | bc -l)" s
	report "full_registry_${name}_startup_vs_${raw_name}_ratio" "$(echo "$startup / ($t1 - $t0)" | bc -l)" x
}

sqlite_raw() { sqlite3 "$work/registry.db" 'SELECT * FROM reservations'; }
dir_raw() {
	local snap
	snap=$(ls "$dir_work/dir/snap" | sort | tail -n 1)
	cat "$dir_work/dir/snap/$snap"
	# the log after the snapshot: what a start-up replays
	find "$dir_work/dir/log" -type f -newer "$dir_work/dir/snap/$snap" -exec cat {} +
}
# nfs: the dir registry, exported by ganesha; nothing to fill.
nfs_serve() {
	cat >"$work/ganesha.conf" <<-CONF
	NFS_CORE_PARAM { Protocols = 3; NFS_Port = 2049; MNT_Port = 20048; Enable_NLM = false; Enable_RQUOTA = false; Mount_Path_Pseudo = true; }
	NFSV4 { Graceless = true; }
	NFS_KRB5 { Active_krb5 = false; }
	EXPORT { Export_Id = 1; Path = $dir_work; Pseudo = /export; Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; Sectype = sys; FSAL { Name = VFS; } }
	LOG { Default_Log_Level = EVENT; }
	CONF
	rpcbind -f -w &
	rpcbind_pid=$!
	until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do sleep 0.1; done
	ganesha.nfsd -F -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" -N NIV_EVENT &
	ganesha_pid=$!
	until rpcinfo -T tcp 127.0.0.1 mountd 3 >/dev/null 2>&1 && rpcinfo -T tcp 127.0.0.1 nfs 3 >/dev/null 2>&1; do
		kill -0 "$ganesha_pid" 2>/dev/null || { echo "bench-full-registry: ganesha died: $(tail -5 "$work/ganesha.log")" >&2; exit 1; }
		sleep 0.2
	done
}
nfs_raw() { "$BENCH_FULL" measure "dir://$dir_work/dir" >/dev/null; }

# etcd: a sqlite registry filled as above, its history emptied, copied in.
etcd_fill() {
	"$BENCH_FULL" fill "$work/etcd-source.db" "$pairs"
	# (the schema keeps history append-only: the trigger goes first)
	sqlite3 "$work/etcd-source.db" 'DROP TRIGGER history_no_delete; DELETE FROM history'
	"$BENCH_FULL" copy "$work/etcd-source.db" "etcd://127.0.0.1:$etcd_port/mcs-bench"
	python3 "$(dirname "$0")/etcd-add-history.py" "http://127.0.0.1:$etcd_port" mcs-bench
	restart_etcd
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
		mkdir "$dir_work/dir"
		run dir "dir://$dir_work/dir" dir_raw
		report full_registry_dir_size_bytes "$(du -sb "$dir_work/dir" | cut -f1)" bytes
		snap=$(ls "$dir_work/dir/snap" | sort | tail -n 1)
		snap_bytes=$(stat -c %s "$dir_work/dir/snap/$snap")
		report full_registry_dir_snapshot_bytes "$snap_bytes" bytes
		report full_registry_dir_snapshot_vs_read_cap_ratio "$(echo "$snap_bytes / $read_cap" | bc -l)" x
		;;
	etcd)
		command -v etcd >/dev/null || { echo "bench-full-registry: no etcd here; etcd not measured" >&2; continue; }
		start_etcd
		run etcd "etcd://127.0.0.1:$etcd_port/mcs-bench" etcd_raw etcd_fill
		db_size=$(curl -sf -X POST -d '{}' "http://127.0.0.1:$etcd_port/v3/maintenance/status" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["dbSize"])')
		report full_registry_etcd_size_bytes "$db_size" bytes
		;;
	nfs)
		[ -d "$dir_work/dir/snap" ] || { echo "bench-full-registry: nfs measures the dir registry: list dir before nfs" >&2; exit 2; }
		nfs_serve
		run nfs "nfs://127.0.0.1/export/dir" nfs_raw true dir_startup
		;;
	*) echo "bench-full-registry: unknown backend $backend" >&2; exit 2 ;;
	esac
done
