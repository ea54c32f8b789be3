#!/bin/bash
# Metrics (issue 27 item 2): `mcsctl metrics` passes `promtool check metrics`,
# and the file mcsd writes into a textfile-collector directory, scraped over
# HTTP from a real prometheus-node-exporter, says what `mcsctl --json status`
# says: guests by status, labels held, pairs free. The temp file is never
# written through a symlink.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "promtool (Debian: prometheus) is missing"; exit 77; }
command -v prometheus-node-exporter >/dev/null || { echo "prometheus-node-exporter is missing"; exit 77; }

REG=$WORK/reg/registry.db
mkdir "$WORK/reg"
TEXTFILE=$WORK/textfile
mkdir -m 0755 "$TEXTFILE"
# The temp file's name, as a symlink to a file mcsd must never write.
echo victim >"$WORK/victim"
ln -s "$WORK/victim" "$TEXTFILE/.mcsd.prom.tmp"
# c0.c7: 28 pairs, so that the pool can be filled and a guest wait.
one_host_start "$REG" "range = c0.c7" "metrics_textfile_dir = $TEXTFILE"

managed() { [ "$(M --json status | jq -r .guests.managed)" = "$1" ]; }
# st1's static pair: one the test driver's own guest 'test' did not draw
# when mcsd started (its pair is random), and st1 is defined before any
# other dynamic guest, so that none draws it either.
wait_for 20 has_static_label "$U" test || fail "the test driver's guest got no label"
held=$(label_of "$U" test | sed 's/.*:s0:/,/; s/$/,/')
ST=
for a in 0 1 2 3 4 5 6 7; do
	for b in 0 1 2 3 4 5 6 7; do
		if [ -z "$ST" ] && [ "$a" -lt "$b" ] && [[ $held != *",c$a,"* && $held != *",c$b,"* ]]; then
			ST=s0:c$a,c$b
		fi
	done
done
define "$U" st1 "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$ST</label></seclabel>"
wait_for 20 managed 2 || fail "st1 is not managed"
define "$U" dyn ""
define "$U" none "<seclabel type='none'/>"
wait_for 20 has_static_label "$U" dyn || fail "dyn got no label"
define "$U" st2 "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$ST</label></seclabel>"
# Fill the pool with reservations of guests not defined anywhere, then one
# more guest waits for a label.
free=$(M --json status | jq -r .labels.free_pairs)
for i in $(seq 1 "$free"); do
	M reserve "$(printf '00000000-0000-4000-8000-%012d' "$i")" --name "held$i" >/dev/null
done
define "$U" late ""
wanted() { M --json status | jq -r '"\(.guests.managed) \(.guests.unmanaged) \(.guests.refused) \(.guests.waiting)"'; }
# the test driver's own guest 'test', dyn and st1 are managed
wait_for 20 test "$(wanted)" = "3 1 1 1" || fail "guests by status: $(wanted), wanted 3 1 1 1"
# One hook request, allowed: counted by operation and decision.
uuid=$(uuid_of "$U" st1)
hook_start st1 "$uuid" "$ST" || fail "the hook refused st1: $(cat "$WORK/hook.err")"

M metrics >"$WORK/metrics.txt" || fail "mcsctl metrics failed"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$WORK/promtool.out")"
grep -q '^mcsd_build_info{version="[^"]*",host="h1"} 1$' "$WORK/metrics.txt" || fail "no build info"
grep -q '^mcsd_registry_up{backend="sqlite"} 1$' "$WORK/metrics.txt" || fail "registry not up"
grep -q '^mcsd_hook_requests_total{operation="start",decision="allowed"} 1$' "$WORK/metrics.txt" ||
	fail "the hook request was not counted: $(grep hook_requests "$WORK/metrics.txt")"
grep -q '^mcsd_hook_request_duration_seconds_count 1$' "$WORK/metrics.txt" || fail "no hook latency"
grep -q '^mcsd_host_heartbeat_age_seconds{host="h1"} ' "$WORK/metrics.txt" || fail "no heartbeat age"
grep -q '^mcsd_reservations_total{result="exhausted"} [1-9]' "$WORK/metrics.txt" || fail "no exhausted reservation"
grep -q '^mcsd_reconcile_last_timestamp_seconds [1-9]' "$WORK/metrics.txt" || fail "no reconcile time"
# 'test', st1, dyn by the rules and $free by mcsctl reserve
expect_eq "reservations created" "$(grep '^mcsd_reservations_total{result="created"}' "$WORK/metrics.txt")" \
	"mcsd_reservations_total{result=\"created\"} $((3 + free))"
ok "mcsctl metrics passes promtool check metrics and counts the hook request"

# A reservation the control socket refuses, or cannot make, is counted by
# its result too.
refused_before=$(awk '$1 == "mcsd_reservations_total{result=\"refused\"}" { print $2 }' "$WORK/metrics.txt")
exhausted_before=$(awk '$1 == "mcsd_reservations_total{result=\"exhausted\"}" { print $2 }' "$WORK/metrics.txt")
M reserve 00000000-0000-4000-8000-0000000000f1 --label "$ST" >/dev/null 2>&1 && fail "a reservation of st1's label for another guest was made"
M reserve 00000000-0000-4000-8000-0000000000f2 >/dev/null 2>&1 && fail "a reservation was made in a full pool"
M metrics >"$WORK/metrics2.txt" || fail "mcsctl metrics failed"
expect_eq "refused reservations" "$(awk '$1 == "mcsd_reservations_total{result=\"refused\"}" { print $2 }' "$WORK/metrics2.txt")" \
	"$((refused_before + 1))"
expect_eq "exhausted reservations" "$(awk '$1 == "mcsd_reservations_total{result=\"exhausted\"}" { print $2 }' "$WORK/metrics2.txt")" \
	"$((exhausted_before + 1))"
ok "a refused or exhausted mcsctl reserve is counted by its result"

# metric NAME{LABELS} in FILE: its value, or "absent".
metric() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$2"; }
# same_as_status FILE: every guest status, labels held and pairs free agree.
same_as_status() {
	local s k
	s=$(M --json status)
	for k in $(jq -r '.guests | keys[]' <<<"$s"); do
		if [ "$k" = unverified ]; then
			[ "$(metric mcsd_guests_unverified "$1")" = "$(jq -r .guests.unverified <<<"$s")" ] || return 1
		else
			[ "$(metric "mcsd_guests{status=\"$k\"}" "$1")" = "$(jq -r ".guests.$k" <<<"$s")" ] || return 1
		fi
	done
	[ "$(metric mcsd_labels_held "$1")" = "$(jq -r .labels.held <<<"$s")" ] &&
		[ "$(metric mcsd_pool_free_pairs "$1")" = "$(jq -r .labels.free_pairs <<<"$s")" ] &&
		[ "$(metric mcsd_pool_pairs "$1")" = "$(jq -r .labels.pool_pairs <<<"$s")" ]
}
same_as_status "$WORK/metrics.txt" || fail "mcsctl metrics and status disagree: $(grep -E '^mcsd_(guests|labels|pool)' "$WORK/metrics.txt"); $(M --json status | jq -c '.guests, .labels')"
ok "mcsctl metrics says what status says"

# The textfile: written within a few seconds, mode 0644, through no symlink.
wait_for 15 test -f "$TEXTFILE/mcsd.prom" || fail "no $TEXTFILE/mcsd.prom: $(ls -la "$TEXTFILE")"
expect_eq "mode" "$(stat -c %a "$TEXTFILE/mcsd.prom")" 644
expect_eq "victim" "$(cat "$WORK/victim")" victim
[ ! -e "$TEXTFILE/.mcsd.prom.tmp" ] || fail "the temp file was left behind"
ok "the textfile is written by rename, mode 0644, never through a symlink"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$TEXTFILE" >"$WORK/node-exporter.out" 2>&1 &
echo $! >"$WORK/node-exporter.daemon.pid"
scrape() { curl -sf "http://127.0.0.1:$port/metrics" >"$WORK/scrape.txt"; }
wait_for 20 scrape || fail "node_exporter did not answer: $(tail -5 "$WORK/node-exporter.out")"
expect_eq "textfile errors" "$(metric node_textfile_scrape_error "$WORK/scrape.txt")" 0
# The file is at most a few seconds old: scrape until it shows the settled state.
hook_counted() { grep -q '^mcsd_hook_requests_total{decision="allowed",operation="start"} 1$' "$WORK/scrape.txt"; }
agree() { scrape && same_as_status "$WORK/scrape.txt" && hook_counted; }
wait_for 15 agree || fail "node_exporter's mcsd_ values and status disagree: $(grep -E '^mcsd_(guests|labels|pool|hook_requests_total.*start)' "$WORK/scrape.txt"); $(M --json status | jq -c '.guests, .labels')"
ok "node_exporter's textfile collector serves mcsd's metrics, equal to status"
# The stale-file alert matches the collector's label for this file.
grep -qE '^node_textfile_mtime_seconds\{file="(.*/)?mcsd\.prom"\} ' "$WORK/scrape.txt" ||
	fail "no node_textfile_mtime_seconds for mcsd.prom: $(grep textfile_mtime "$WORK/scrape.txt")"
ok "node_exporter reports the file's age under the name the alert rules match"

# A release is counted, and the waiting guest takes the freed pair.
M release held1 >/dev/null
wait_for 20 test "$(wanted)" = "4 1 1 0" || fail "late did not take the freed label: $(wanted)"
M metrics >"$WORK/metrics.txt"
expect_eq "releases" "$(grep '^mcsd_releases_total{result="released"}' "$WORK/metrics.txt")" \
	'mcsd_releases_total{result="released"} 1'
same_as_status "$WORK/metrics.txt" || fail "after the release, mcsctl metrics and status disagree"
ok "a release is counted, and the guests by status follow"

# A registry whose writes fail: registry_up is 0 as soon as one write
# failed, before the next heartbeat (every 10 s) fails too. Read-only is the
# immutable attribute (root ignores file modes).
chattr +i "$REG" "$WORK/reg"
# (an explicit label: the pool is full again)
if M reserve 00000000-0000-4000-8000-00000000ffff --label s0:c100,c101 >"$WORK/reserve.out" 2>&1; then
	chattr -i "$REG" "$WORK/reg"
	fail "a reservation was stored in a read-only registry"
fi
if hook_start hro 0d0d0d0d-0000-4000-8000-000000000001 s0:c200,c201; then
	chattr -i "$REG" "$WORK/reg"
	fail "the hook let a start through on a read-only registry"
fi
M metrics >"$WORK/metrics.txt"
chattr -i "$REG" "$WORK/reg"
[ "$(metric 'mcsd_registry_up{backend="sqlite"}' "$WORK/metrics.txt")" = 0 ] ||
	fail "registry_up is not 0 after a failed write ($(cat "$WORK/reserve.out")): $(grep registry_up "$WORK/metrics.txt")"
grep -q '^mcsd_registry_write_failures_total{writer="client"} 1$' "$WORK/metrics.txt" ||
	fail "the failed write was not counted: $(grep write_failures "$WORK/metrics.txt")"
grep -q '^mcsd_registry_write_failures_total{writer="hook"} 1$' "$WORK/metrics.txt" &&
	grep -q '^mcsd_hook_requests_total{operation="start",decision="error"} 1$' "$WORK/metrics.txt" ||
	fail "the hook's failed request was not counted: $(grep -E 'write_failures|start.*error' "$WORK/metrics.txt")"
wait_for 30 sh -c "\"$MCSCTL\" --socket '$WORK/h1.sock' metrics | grep -qx 'mcsd_registry_up{backend=\"sqlite\"} 1'" ||
	fail "registry_up did not come back to 1"
ok "failed registry writes (client, hook) are counted and set mcsd_registry_up to 0 at once; it comes back"
