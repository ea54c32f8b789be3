#!/bin/bash
# A registry at full size, per backend (sqlite, dir://): every pair of
# c0..c1023 reserved (MCS_FULL_PAIRS, 523,776 by default; CI runs 20,000).
# Per backend: the start-up time to a usable view (a process of its own,
# as mcsd at start-up), its RSS, the registry's size on disk, and a
# baseline in the same run: reading the raw store once (sqlite: SELECT
# every row; dir: reading the newest snapshot and the log after it).
# dir: also the newest snapshot's size against the read cap (128 MiB).
# MCS_FULL_BACKENDS chooses ("sqlite dir" by default). etcd and nfs:// are
# not measured here (see docs/benchmarks.md).
set -euo pipefail
: "${BENCH_FULL:?}"
pairs=${MCS_FULL_PAIRS:-523776}
backends=${MCS_FULL_BACKENDS:-sqlite dir}
base=${MCS_BENCH_DIR:-/var/tmp}
work=$(mktemp -d "$base/mcsd-bench-full.XXXXXX")
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
read_cap=$((128 << 20)) # DIR_IO_READ_MAX in lib/registry/dir/io.h

now() { date +%s.%N; }
report() { printf '%s: %s %s\n' "$1" "$2" "$3"; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# fill, measure and report one backend; $3 reads its raw store once.
run() {
	local name=$1 location=$2 raw=$3
	"$BENCH_FULL" fill "$location" "$pairs"
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
	*) echo "bench-full-registry: unknown backend $backend" >&2; exit 2 ;;
	esac
done
