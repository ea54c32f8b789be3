#!/bin/bash
# Runs bench-socket against an mcsd on a fresh sqlite registry on a real disk.
# Its libvirt URI leads nowhere: status, reserve and release need only the registry.
set -euo pipefail
: "${BENCH_SOCKET:?}" "${MCSD:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-socket.XXXXXX)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/mcsd.conf" <<CONF
uri = test+unix:///default?socket=$work/nowhere
registry = $work/registry.db
host_id = bench
socket = $work/mcsd.sock
reconnect_min = 30s
reconnect_max = 30s
log_level = error
CONF
"$MCSD" --config "$work/mcsd.conf" 2>"$work/mcsd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$work/mcsd.sock" ] && break; sleep 0.05; done
"$BENCH_SOCKET" "$work/mcsd.sock" "$work"
