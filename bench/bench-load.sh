#!/bin/bash
# Runs bench-load: three private libvirtds (test driver), and one mcsd per
# host (started by bench-load) on one sqlite registry. MCS_LOAD_SECONDS and
# MCS_LOAD_GUESTS (and MCS_LOAD_WINDOW) pass through the environment.
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${BENCH_LOAD:?}" "${MCSD:?}" "${PRIVATE_LIBVIRTD:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-load.XXXXXX)
hosts=(h1 h2 h3)
cleanup() {
	local h
	for h in "${hosts[@]}"; do "$PRIVATE_LIBVIRTD" stop "$work/$h" >/dev/null 2>&1 || true; done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

args=()
for h in "${hosts[@]}"; do
	"$PRIVATE_LIBVIRTD" start "$work/$h"
	uri="test+unix:///default?socket=$work/$h/run/libvirt-sock"
	# The test driver's built-in guest has the same UUID on every host.
	virsh -q -c "$uri" destroy test >/dev/null
	virsh -q -c "$uri" undefine test >/dev/null
	cat >"$work/$h.conf" <<-CONF
	uri = $uri
	registry = $work/registry.db
	registry_create = yes
	host_id = $h
	socket = $work/$h.sock
	hook_socket = $work/$h-hook.sock
	undefine_grace = 1s
	log_level = warning
	CONF
	args+=("$uri" "$work/$h.conf")
done
"$BENCH_LOAD" "$MCSD" "$work/registry.db" "${args[@]}"
