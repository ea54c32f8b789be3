#!/bin/bash
# A pool too small for every guest: the guests left over wait for a label,
# say so in status, show and check, log it once, and get a label as soon as
# one is freed.
. "$(dirname "$0")/lib.sh"

REG=$WORK/registry.db
URI=$(test_uri h1)
SOCK=$WORK/h1.sock
M() { "$MCSCTL" --socket "$SOCK" "$@"; }

libvirtd_start h1
# c0.c7 (the smallest range libvirt takes): C(8,2) = 28 pairs, for the test
# driver's running guest 'test' and g1..g29: 28 get a label, 2 wait.
cat >"$WORK/mcsd.conf" <<CONF
uri = $URI
registry = $REG
registry_create = yes
host_id = h1
socket = $SOCK
hook_socket = $WORK/h1-hook.sock
range = c0.c7
undefine_grace = 1s
CONF
mcsd_start h1 "$WORK/mcsd.conf"
for i in $(seq 1 29); do define "$URI" "g$i" ""; done

counts() { M --json status | jq -r '"\(.guests.managed) \(.guests.waiting)"'; }
wait_for 20 test "$(counts)" = "28 2" || fail "expected 28 managed and 2 waiting: $(counts)"
expect_rc 0 M status
contains "$OUT" "28 managed, 0 unmanaged, 0 refused, 0 failed, 2 waiting for a label"
ok "30 guests for 28 pairs: 28 managed, 2 waiting for a label"

waiting=()
for i in $(seq 1 29); do
	[ "$(M --json show "g$i" | jq -r .libvirt.status)" = waiting ] && waiting+=("g$i")
done
[ ${#waiting[@]} -eq 2 ] || fail "expected 2 waiting guests, found: ${waiting[*]}"
w=${waiting[0]}
expect_rc 0 M --json show "$w"
[ "$(jq -r '.reservation' <<<"$OUT")" = null ] || fail "a waiting guest has a reservation: $OUT"
jq -r .libvirt.why <<<"$OUT" | grep -q "no free category pair left in c0.c7: 28 pairs, 28 held" ||
	fail "show --json: no reason naming the range: $OUT"
expect_rc 0 M show "$w"
contains "$OUT" "waiting"
contains "$OUT" "no free category pair left in c0.c7"
expect_rc 5 M check
grep -q "$w.*waiting for a label: no free category pair left in c0.c7" <<<"$OUT$ERR" || fail "check: $OUT $ERR"
ok "show (text and JSON) and check say the guest waits for a label, and why"

# Nothing changes: the exhaustion is not logged again and again.
exhausted() { grep -c "no free category pair" "$WORK/h1.log" || true; }
n1=$(exhausted)
[ "$n1" -le 2 ] || fail "$n1 log lines about the exhausted pool for 2 waiting guests"
sleep 5
n2=$(exhausted)
[ "$n2" -eq "$n1" ] || fail "the exhausted pool logged $n1 times, then $n2 times 5 s later while nothing changed"
ok "exhaustion logged once per waiting guest ($n1 lines), not again while nothing changes"

# A label freed here goes to a waiting guest, without a new define.
for i in $(seq 1 29); do
	[[ " ${waiting[*]} " == *" g$i "* ]] || { gone=g$i; break; }
done
virsh -q -c "$URI" undefine "$gone" >/dev/null
got() { has_static_label "$URI" "${waiting[0]}" || has_static_label "$URI" "${waiting[1]}"; }
wait_for 20 got || fail "no waiting guest got the label of the undefined $gone"
wait_for 10 test "$(counts)" = "28 1" || fail "after the release: $(counts)"
grep -q "is waiting for a label" "$WORK/h1.log" || fail "the waiting was not logged"
ok "undefining $gone frees a label; a waiting guest gets it"
mcsd_stop h1
