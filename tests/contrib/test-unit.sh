#!/bin/bash
# The systemd unit passes systemd-analyze verify (with ExecStart pointed at
# the built mcsd), and the example config is what mcsd accepts.
set -euo pipefail
: "${MCSD:?}" "${UNIT:?}" "${SOCKET_UNIT:?}" "${EXAMPLE_CONF:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed "s|^ExecStart=[^ ]*|ExecStart=$MCSD|" "$UNIT" >"$work/mcsd.service"
grep -q '^Type=notify$' "$work/mcsd.service" || { echo "FAIL: not Type=notify"; exit 1; }
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$work/mcsd.service" || { echo "FAIL: no reload by SIGHUP"; exit 1; }
cp "$SOCKET_UNIT" "$work/mcsd.socket"
cp "$(dirname "$SOCKET_UNIT")/mcsd-hook.socket" "$work/mcsd-hook.socket"
out=$(systemd-analyze verify --man=no "$work/mcsd.service" "$work/mcsd.socket" "$work/mcsd-hook.socket" 2>&1)
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify: $out"; exit 1; }
grep -q '^ListenStream=/run/mcsd/mcsd.sock$' "$work/mcsd.socket" || { echo "FAIL: the socket unit's path is not mcsd's default"; exit 1; }
grep -q '^ListenStream=/run/mcsd/hook.sock$' "$work/mcsd-hook.socket" && grep -q '^SocketMode=0600$' "$work/mcsd-hook.socket" ||
	{ echo "FAIL: the hook socket unit is not mcsd's default path, root only"; exit 1; }
echo "ok - the service and socket units verify"
grep -q '^ReadWritePaths=.* -/var/lib/prometheus/node-exporter\( \|$\)' "$work/mcsd.service" ||
	{ echo "FAIL: the service may not write node_exporter's textfile directory"; exit 1; }
echo "ok - the service may write Debian's node_exporter textfile directory"

# The sandbox: systemd's own measure of the unit, and the capabilities that
# docs/mcsd.md explains, no more.
report=$(systemd-analyze security --offline=yes --no-pager "$work/mcsd.service" 2>&1) ||
	{ echo "FAIL: systemd-analyze security: $report"; exit 1; }
exposure=$(sed -n 's/.*Overall exposure level for mcsd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$report")
echo "# systemd-analyze security: exposure $exposure"
[ -n "$exposure" ] || { echo "FAIL: no exposure level in: $report"; exit 1; }
awk -v e="${exposure% *}" 'BEGIN { exit !(e < 4.0) }' || { echo "FAIL: exposure $exposure, expected below 4.0"; exit 1; }
[ "${exposure#* }" = OK ] || { echo "FAIL: exposure $exposure is not OK"; exit 1; }
grep -qx 'CapabilityBoundingSet=CAP_FOWNER CAP_DAC_READ_SEARCH CAP_CHOWN' "$work/mcsd.service" ||
	{ echo "FAIL: the capability bounding set is not the documented one"; exit 1; }
echo "ok - the service's sandbox: exposure $exposure"

# The example only has comments: every documented default applies.
"$MCSD" --config "$EXAMPLE_CONF" --check-config
# With every key uncommented it is still accepted.
sed -n 's/^#\([a-z_]* = .*\)$/\1/p' "$EXAMPLE_CONF" | grep -v '^host_id = $' >"$work/all.conf"
[ "$(grep -c . "$work/all.conf")" -ge 22 ] || { echo "FAIL: example lost keys: $(cat "$work/all.conf")"; exit 1; }
"$MCSD" --config "$work/all.conf" --check-config
echo "ok - the example config and all its keys are accepted"

# A registry naming no known backend is refused by --check-config, with the file.
printf 'registry = zzz:///var/lib/mcsd/x\n' >"$work/bad-registry.conf"
if out=$("$MCSD" --config "$work/bad-registry.conf" --check-config 2>&1); then
	echo "FAIL: an unknown registry backend passed --check-config"; exit 1
fi
grep -q "$work/bad-registry.conf: registry 'zzz': unknown backend (known: sqlite" <<<"$out" ||
	{ echo "FAIL: unexpected message: $out"; exit 1; }
printf 'registry = sqlite:///var/lib/mcsd/registry.db\n' >"$work/url-registry.conf"
"$MCSD" --config "$work/url-registry.conf" --check-config
echo "ok - --check-config names an unknown registry backend; sqlite:/// is accepted"
