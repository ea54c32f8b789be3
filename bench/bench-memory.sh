#!/bin/bash
# mcsd's memory with every pair of c0..c1023 reserved (issue 15): a sqlite
# registry filled with 523,776 records (and their history rows), an mcsd on
# it answering `mcsctl status` (which builds the allocator view of the main
# loop; the hook thread builds its own on a hook request), then VmRSS.
# Baselines in the same run: the same mcsd on an empty registry, and the
# least any libvirt client costs (libvirt-client.c: libvirt's event loop and
# one connection attempt, nothing of mcsd's).
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${MCSD:?}" "${MCSCTL:?}" "${REGISTRY_LIST:?}" "${LIBVIRT_CLIENT:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-memory.XXXXXX)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/mcsd-alone.sh"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

# measure NAME: starts mcsd on $work/registry.db, asks for status and a hook
# decision (so both views exist), prints the RSS.
measure() {
	mcsd_alone "$work"
	"$MCSCTL" --socket "$work/mcsd.sock" status >"$work/status.txt"
	printf '<domain type="kvm"><name>m</name><uuid>0d0d0d0d-0000-4000-8000-00000000beef</uuid><seclabel type="static" model="selinux" relabel="yes"><label>system_u:system_r:svirt_t:s0:c1,c2</label></seclabel></domain>' |
		MCSD_CONFIG=$work/mcsd.conf "$MCSCTL" hook qemu m start begin - >/dev/null 2>&1 || true
	rss=$(rss_kib "$pid")
	anon=$(anon_kib "$pid")
	kill "$pid" && wait "$pid" 2>/dev/null || true
	pid=
}

# The bare libvirt client.
"$LIBVIRT_CLIENT" "test+unix:///default?socket=$work/nowhere" >"$work/client.out" &
pid=$!
for _ in $(seq 100); do grep -q ready "$work/client.out" && break; sleep 0.05; done
client=$(rss_kib "$pid")
kill "$pid" && wait "$pid" 2>/dev/null || true
pid=

# An empty registry first: the baseline.
measure
empty=$rss
empty_anon=$anon

# Every pair, written straight into the file in one transaction (the
# registry's own writes would take an fsync each).
python3 - "$work/registry.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = []
n = 0
for i in range(1024):
    for j in range(i + 1, 1024):
        n += 1
        rows.append(('%08x-0000-4000-8000-%012x' % (n, n), 'g%d' % n, 's0:c%d,c%d' % (i, j)))
with db:
    db.execute("DELETE FROM reservations")
    db.executemany("INSERT INTO reservations (uuid, name, label, kind, host, state, created_us, updated_us, generation)"
                   " VALUES (?, ?, ?, 'dynamic', 'bench', 'reserved', 1, 1, 1)", rows)
    db.executemany("INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation)"
                   " VALUES (1, 'reserve', ?, ?, ?, 'dynamic', 'bench', 'reserved', 1)", rows)
db.close()
PY
measure
grep -q "labels:     523776 held; 0 of 523776 pairs free" "$work/status.txt" ||
	{ echo "status does not show a full registry: $(cat "$work/status.txt")" >&2; exit 1; }
echo "rss_empty_registry_kib: $empty KiB"
echo "rss_full_registry_kib: $rss KiB"
# What is mcsd's own: RSS less the pages of shared libraries (libvirt,
# gnutls, ICU, sqlite... about 17 MiB, shared with every other process).
echo "rss_anon_empty_registry_kib: $empty_anon KiB"
echo "rss_anon_full_registry_kib: $anon KiB"
echo "rss_libvirt_client_kib: $client KiB"
echo "rss_full_above_libvirt_client_kib: $((rss - client)) KiB"
awk -v f="$rss" -v e="$empty" 'BEGIN { printf "rss_full_vs_empty_ratio: %.3g ratio\n", f / e }'
awk -v f="$rss" -v c="$client" 'BEGIN { printf "rss_full_vs_libvirt_client_ratio: %.3g ratio\n", f / c }'
