#!/bin/bash
# Runs bench-load: three private libvirtds (test driver), and one mcsd per
# host (started by bench-load) on one sqlite registry. MCS_LOAD_SECONDS and
# MCS_LOAD_GUESTS (and MCS_LOAD_WINDOW) pass through the environment.
# First, the baseline in the same run: one host alone (a fourth libvirtd,
# a registry of its own), the same load; its labels/s gives
# load_vs_one_host_ratio. MCS_LOAD_ONE_HOST=no skips it.
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${BENCH_LOAD:?}" "${MCSD:?}" "${PRIVATE_LIBVIRTD:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-load.XXXXXX)
hosts=(h1 h2 h3)
all_hosts=(solo "${hosts[@]}")
cleanup() {
	local h
	for h in "${all_hosts[@]}"; do "$PRIVATE_LIBVIRTD" stop "$work/$h" >/dev/null 2>&1 || true; done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# A private libvirtd for host $1 and its mcsd.conf on registry $2, with
# host_id $3 (bench-load reads h<N> back from the registry's records).
start_host() {
	local h=$1 registry=$2 host_id=${3:-$1}
	"$PRIVATE_LIBVIRTD" start "$work/$h"
	uri="test+unix:///default?socket=$work/$h/run/libvirt-sock"
	# The test driver's built-in guest has the same UUID on every host.
	virsh -q -c "$uri" destroy test >/dev/null
	virsh -q -c "$uri" undefine test >/dev/null
	cat >"$work/$h.conf" <<-CONF
	uri = $uri
	registry = $registry
	registry_create = yes
	host_id = $host_id
	socket = $work/$h.sock
	hook_socket = $work/$h-hook.sock
	undefine_grace = 1s
	log_level = warning
	CONF
}

if [ "${MCS_LOAD_ONE_HOST:-yes}" != no ]; then
	start_host solo "$work/solo.db" h1
	"$BENCH_LOAD" "$MCSD" "$work/solo.db" "$uri" "$work/solo.conf" | tee "$work/solo.out"
	"$PRIVATE_LIBVIRTD" stop "$work/solo" >/dev/null 2>&1 || true
	MCS_LOAD_ONE_HOST_RATE=$(awk '$1 == "load_one_host_labels_per_s:" { print $2 }' "$work/solo.out")
	export MCS_LOAD_ONE_HOST_RATE
fi

args=()
for h in "${hosts[@]}"; do
	start_host "$h" "$work/registry.db"
	args+=("$uri" "$work/$h.conf")
done
"$BENCH_LOAD" "$MCSD" "$work/registry.db" "${args[@]}"
