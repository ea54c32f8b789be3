#!/bin/bash
# mcsd --copy-registry FROM TO: its exit codes and what it prints, on real
# sqlite files (filled with the sqlite3 tool, as another mcsd would have).
set -euo pipefail
: "${MCSD:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'host_id = copier\n' >mcsd.conf
fail() { echo "FAIL: $*"; exit 1; }

# run EXPECTED-STATUS ARGS...: runs mcsd, keeps stdout and stderr.
run() {
	local want=$1 rc=0
	shift
	"$MCSD" -c mcsd.conf "$@" >out 2>err || rc=$?
	[ "$rc" = "$want" ] || fail "mcsd $* exited $rc, wanted $want; stdout: $(cat out); stderr: $(cat err)"
}

run 2 --copy-registry src.db
grep -q 'takes a source and a destination registry' err || fail "one argument: $(cat err)"
run 2 --copy-registry src.db a.db b.db
run 2 --copy-registry --check-config src.db dst.db
grep -q 'no --check-config' err || fail "with --check-config: $(cat err)"
echo "ok - usage errors exit 2"

# A missing source is refused, not made; nor is the destination.
run 1 --copy-registry src.db dst.db
grep -q '^mcsd: source registry: registry src.db does not exist; a registry is created only when told' err ||
	fail "missing source: $(cat err)"
[ ! -e src.db ] && [ ! -e dst.db ] || fail "a missing source made a registry"
[ ! -s out ] || fail "a refusal printed a report: $(cat out)"
# mcsd --init-registry makes the configured registry once; an empty one has nothing to copy.
printf 'host_id = copier\nregistry = %s/src.db\n' "$work" >init.conf
"$MCSD" -c init.conf --init-registry >out 2>err || fail "--init-registry: $(cat err)"
[ "$(cat out)" = "$work/src.db: created a new, empty registry" ] || fail "--init-registry: $(cat out)"
"$MCSD" -c init.conf --init-registry >out 2>err || fail "--init-registry again: $(cat err)"
[ "$(cat out)" = "$work/src.db: already a registry; left as it is" ] || fail "--init-registry again: $(cat out)"
run 1 --copy-registry src.db dst.db
grep -q '^mcsd: copy: registry src.db holds no record, history or original label: nothing to copy' err ||
	fail "empty source: $(cat err)"
[ ! -e dst.db ] || fail "an empty source made the destination"
echo "ok - a missing or empty source is refused, exit 1; --init-registry makes one"

u1=11111111-1111-1111-1111-111111111111
u2=22222222-2222-2222-2222-222222222222
sqlite3 src.db "
INSERT INTO reservations VALUES ('$u1', 'web', 's0:c1,c2', 'dynamic', 'host-a', 'running', 100, 300, 3);
INSERT INTO reservations VALUES ('$u2', 'db', 's0:c5.c9', 'static', 'host-b', 'reserved', 200, 200, 1);
INSERT INTO history (at_us, op, uuid, name, label, kind, host, state, generation) VALUES
  (100, 'reserve', '$u1', 'web', 's0:c1,c2', 'dynamic', 'host-a', 'reserved', 1),
  (150, 'state', '$u1', 'web', 's0:c1,c2', 'dynamic', 'host-a', 'running', 2),
  (200, 'reserve', '$u2', 'db', 's0:c5.c9', 'static', 'host-b', 'reserved', 1),
  (300, 'state', '$u1', 'web', 's0:c1,c2', 'dynamic', 'host-a', 'running', 3);
INSERT INTO originals VALUES ('/images/web.qcow2', '$u1', 'system_u:object_r:virt_image_t:s0', 'host-a', 120);"

run 0 --copy-registry src.db "sqlite://$work/dst.db"
[ "$(cat out)" = "copied src.db to sqlite://$work/dst.db: 2 records, 4 history entries, 1 original labels
verified: 2 records, 4 history entries, 1 original labels equal in both; no two labels conflict" ] ||
	fail "the report: $(cat out)"
[ ! -s err ] || fail "a copy printed on stderr: $(cat err)"
q="SELECT uuid, name, label, kind, host, state, created_us, updated_us, generation FROM reservations ORDER BY uuid;
   SELECT at_us, op, uuid, name, label, kind, host, state, generation FROM history ORDER BY seq;
   SELECT * FROM originals ORDER BY path;"
[ "$(sqlite3 src.db "$q")" = "$(sqlite3 dst.db "$q")" ] ||
	fail "the copy differs: $(diff <(sqlite3 src.db "$q") <(sqlite3 dst.db "$q"))"
echo "ok - a copy exits 0 with its report, and the tables are equal"

# Between backends: sqlite -> dir -> sqlite, each copy verified, the end equal to the start.
mkdir regdir
run 0 --copy-registry src.db "dir://$work/regdir"
grep -q "^verified: 2 records, 4 history entries, 1 original labels equal in both" out || fail "to dir: $(cat out)"
run 0 --copy-registry "dir://$work/regdir" back.db
grep -q "^verified: 2 records, 4 history entries, 1 original labels equal in both" out || fail "from dir: $(cat out)"
[ "$(sqlite3 src.db "$q")" = "$(sqlite3 back.db "$q")" ] ||
	fail "sqlite -> dir -> sqlite differs: $(diff <(sqlite3 src.db "$q") <(sqlite3 back.db "$q"))"
echo "ok - sqlite -> dir -> sqlite: each copy verified, the end equal to the start"

run 1 --copy-registry src.db dst.db
grep -q "^mcsd: copy: registry dst.db is not empty (2 records, 4 history entries, 1 original labels)" err ||
	fail "non-empty destination: $(cat err)"
run 1 --copy-registry src.db nosuch:x
grep -q "^mcsd: destination registry: registry 'nosuch': unknown backend" err || fail "unknown backend: $(cat err)"
echo "ok - a destination in use, or unknown, is refused, exit 1"

# A source no mcsd could have written (two labels, one inside the other):
# copied, but the verification says so, exit 1.
sqlite3 src.db "INSERT INTO reservations VALUES ('33333333-3333-3333-3333-333333333333', 'bad', 's0:c5,c6', 'static', 'host-b', 'reserved', 400, 400, 1)"
run 1 --copy-registry src.db dst2.db
grep -q "^mcsd: copied src.db to dst2.db, but the copy is not verified: copy: label s0:c5,c6 of guest 33333333-3333-3333-3333-333333333333 conflicts with label s0:c5.c9 of guest $u2" err ||
	fail "conflicting labels: $(cat err)"
echo "ok - conflicting labels fail the verification, exit 1"
