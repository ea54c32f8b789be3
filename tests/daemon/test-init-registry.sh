#!/bin/bash
# mcsd makes a registry only when told: not at a missing sqlite file or an
# empty directory (an unmounted shared path), but with --init-registry.
set -euo pipefail
: "${MCSD:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

# conf NAME REGISTRY: a configuration that reaches the registry and stops there.
conf() {
	printf '%s\n' "host_id = h1" "registry = $2" "socket = $work/$1.sock" "hook_socket = $work/$1-hook.sock" \
		"uri = test:///default" >"$1.conf"
}

conf sqlite "$work/none.db"
rc=0; timeout 20 "$MCSD" -c sqlite.conf >out 2>err || rc=$?
[ "$rc" = 1 ] || fail "mcsd on a missing sqlite file exited $rc: $(cat err)"
grep -q "registry $work/none.db does not exist; a registry is created only when told (registry_create = yes" err ||
	fail "missing file: $(cat err)"
[ ! -e none.db ] || fail "mcsd made the missing sqlite file"

mkdir mnt
conf dir "dir://$work/mnt"
rc=0; timeout 20 "$MCSD" -c dir.conf >out 2>err || rc=$?
[ "$rc" = 1 ] || fail "mcsd on an empty directory exited $rc: $(cat err)"
grep -q "registry dir:$work/mnt: no registry-id file" err || fail "empty directory: $(cat err)"
[ -z "$(ls -A mnt)" ] || fail "mcsd wrote into the empty directory: $(ls -A mnt)"
echo "ok - no registry is made at a missing file or an empty directory; mcsd exits 1 saying why"

"$MCSD" -c dir.conf --init-registry >out 2>err || fail "--init-registry: $(cat err)"
[ "$(cat out)" = "dir://$work/mnt: created a new, empty registry" ] || fail "--init-registry: $(cat out)"
[ -e mnt/registry-id ] || fail "--init-registry made no registry-id"
"$MCSD" -c dir.conf --init-registry >out 2>err || fail "--init-registry again: $(cat err)"
[ "$(cat out)" = "dir://$work/mnt: already a registry; left as it is" ] || fail "again: $(cat out)"
rc=0; "$MCSD" -c dir.conf --init-registry --check-config >out 2>err || rc=$?
[ "$rc" = 2 ] || fail "--init-registry --check-config exited $rc"
echo "ok - --init-registry makes the registry once and leaves it alone after"
