#!/bin/bash
# Runs bench-socket against an mcsd on a fresh sqlite registry on a real disk.
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${BENCH_SOCKET:?}" "${MCSD:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-socket.XXXXXX)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/mcsd-alone.sh"
mcsd_alone "$work"
"$BENCH_SOCKET" "$work/mcsd.sock" "$work"
