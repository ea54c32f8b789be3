#!/bin/bash
# Runs bench-libvirt against a private libvirtd with a fresh registry.
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${BENCH_LIBVIRT:?}" "${MCSD:?}" "${PRIVATE_LIBVIRTD:?}"
work=$(mktemp -d /var/tmp/mcsd-bench.XXXXXX)
cleanup() {
	# An mcsd the benchmark left behind when it failed.
	pkill -f -- "--config $work/mcsd.conf" || true
	"$PRIVATE_LIBVIRTD" stop "$work/lv" || true
	rm -rf "$work"
}
trap cleanup EXIT
"$PRIVATE_LIBVIRTD" start "$work/lv"
uri="test+unix:///default?socket=$work/lv/run/libvirt-sock"
cat >"$work/mcsd.conf" <<CONF
uri = $uri
registry = $work/registry.db
registry_create = yes
host_id = bench
socket = $work/mcsd.sock
hook_socket = $work/hook.sock
log_level = warning
CONF
"$BENCH_LIBVIRT" "$uri" "$MCSD" "$work/mcsd.conf"
