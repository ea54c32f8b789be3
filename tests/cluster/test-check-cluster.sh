#!/bin/bash
# check-cluster.py, the multihost suite's verdict, fails on what it must
# catch: labels equal or containing one another, an XML that is not the
# registry's, a record on the wrong host, a stray record, a guest neither
# labelled nor refused. (A verdict that cannot fail would pass any cluster.)
set -euo pipefail
CHECK=${CHECK_CLUSTER:-$(dirname "$0")/check-cluster.py}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# A stand-in for mcsctl show: guest "r" is refused, any other is managed.
cat >"$W/mcsctl" <<'SH'
#!/bin/sh
name=$5
[ "$name" = r ] && echo '{"libvirt": {"status": "refused", "why": "held by another"}}' ||
	echo '{"libvirt": {"status": "managed", "why": null}}'
SH
chmod +x "$W/mcsctl"
dom() { echo "<domain type='test'><name>$1</name><uuid>$2</uuid><seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$3</label></seclabel></domain>"; }
U1=00000000-0000-4000-8000-000000000001 U2=00000000-0000-4000-8000-000000000002 OP=00000000-0000-4000-8000-0000000000ff
rec() { printf '{"uuid": "%s", "name": "%s", "label": "%s", "host": "%s"}' "$@"; }
# case NAME WANT REGISTRY-RECORDS H1-DUMP H2-DUMP [PATTERN]
case_() {
	local name=$1 want=$2 rc=0
	echo "{\"records\": [$3]}" >"$W/reg.json"
	echo "$4" >"$W/h1.dump"
	echo "$5" >"$W/h2.dump"
	python3 "$CHECK" "$W/mcsctl" "$W/reg.json" "$OP" "h1=/none:$W/h1.dump" "h2=/none:$W/h2.dump" >"$W/out" || rc=$?
	if [ $rc -ne "$want" ] || { [ -n "${6:-}" ] && ! grep -q -- "$6" "$W/out"; }; then
		echo "FAIL: $name: exit $rc, expected $want${6:+ and '$6'}:"; cat "$W/out"; exit 1
	fi
	echo "ok - $name"
}
good="$(rec $U1 a s0:c1,c2 h1), $(rec $U2 b s0:c3,c4 h2), $(rec $OP op s0:c7 h1)"
case_ "a consistent cluster" 0 "$good" "$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)"
case_ "a refused guest" 0 "$good" "$(dom a $U1 s0:c1,c2)$(dom r 00000000-0000-4000-8000-000000000009 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)"
case_ "a range containing a pair" 1 "$(rec $U1 a s0:c1,c2 h1), $(rec $U2 b s0:c3,c4 h2), $(rec $OP op s0:c0.c5 h1)" \
	"$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)" "contained in"
case_ "a single category in a pair" 1 "$(rec $U1 a s0:c1,c2 h1), $(rec $U2 b s0:c3,c7 h2), $(rec $OP op s0:c7 h1)" \
	"$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c7)" "contained in"
case_ "two equal labels" 1 "$(rec $U1 a s0:c1,c2 h1), $(rec $U2 b s0:c1,c2 h2), $(rec $OP op s0:c7 h1)" \
	"$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c1,c2)" "equal to"
case_ "an XML that is not the registry's" 1 "$good" "$(dom a $U1 s0:c1,c9)" "$(dom b $U2 s0:c3,c4)" "neither labelled nor refused"
case_ "a record on the wrong host" 1 "$good" "$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)$(dom a2 $U1 s0:c1,c2)" "h2 a2"
case_ "a record of no guest" 1 "$good, $(rec 00000000-0000-4000-8000-000000000005 x s0:c9,c10 h2)" \
	"$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)" "no guest's"
case_ "the operator's reservation gone" 1 "$(rec $U1 a s0:c1,c2 h1), $(rec $U2 b s0:c3,c4 h2)" \
	"$(dom a $U1 s0:c1,c2)" "$(dom b $U2 s0:c3,c4)" "is gone"
