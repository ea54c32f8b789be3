#!/bin/bash
# The libvirt hook: recorded domain XML through `mcsctl hook` for every
# operation and outcome, then a real libvirtd that runs the hook before a
# real QEMU (TCG) guest starts, refusing while mcsd or the registry does not
# answer and allowing once they are back.
: "${MCSCTL:?}" "${HOOK_SCRIPT:?}" "${FILECON:?}" "${RAWSOCK:?}" "${GROUP_CLIENTS:?}"
. "$(dirname "$0")/../libvirt/lib.sh"

REG=$WORK/registry.db
CONF=$WORK/h1.conf
export MCSD_CONFIG=$CONF

# hook OP SUBOP XML-FILE: runs the hook as libvirt does, with the guest's
# name (the XML file's) as its first argument; RC, ERR and the elapsed
# milliseconds in MS.
hook() {
	local t0
	t0=$(date +%s%N)
	RC=0
	"$MCSCTL" hook qemu "$(basename "$3" .xml)" "$1" "$2" - <"$3" 2>"$WORK/hook.err" || RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
	ERR=$(cat "$WORK/hook.err")
}
expect_hook() { # RC OP SUBOP XML
	hook "$2" "$3" "$4"
	[ "$RC" -eq "$1" ] || fail "hook $2 $3 $(basename "$4"): exit $RC, expected $1: $ERR"
}

# xml NAME UUID SECLABEL: a recorded domain XML, as libvirt hands it to the hook.
xml() {
	cat >"$WORK/$1.xml" <<-EOF
	<domain type='kvm' id='7'>
	  <name>$1</name>
	  <uuid>$2</uuid>
	  <memory unit='KiB'>65536</memory>
	  <os><type arch='x86_64' machine='pc'>hvm</type></os>
	  <devices><disk type='file' device='disk'><source file='/var/lib/libvirt/images/$1.qcow2'/><target dev='vda'/></disk></devices>
	  $3
	</domain>
	EOF
	echo "$WORK/$1.xml"
}
static() { echo "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$1</label></seclabel>"; }
dynamic() { echo "<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:$1</label><imagelabel>system_u:object_r:svirt_image_t:$1</imagelabel></seclabel>"; }

libvirtd_start h1
write_conf() {
	cat >"$CONF" <<-EOF
	uri = ${MCSD_URI:-$(test_uri h1)}
	registry = $REG
	registry_create = yes
	host_id = h1
	socket = $WORK/run/mcsd.sock
	hook_socket = $WORK/run/hook.sock
	hook_timeout = 1s
	busy_timeout = 500ms
	exclude = excl-*
	image_root = $WORK/images
	$*
	EOF
}
write_conf ""
mcsd_start h1 "$CONF"
wait_for 10 test -S "$WORK/run/hook.sock" || fail "no hook socket"
[ "$(stat -c %a "$WORK/run/hook.sock")" = 600 ] || fail "hook socket mode $(stat -c %a "$WORK/run/hook.sock"), expected 600"
ok "mcsd listens on its hook socket, root only"

U1=11111111-0000-4000-8000-000000000001
U2=11111111-0000-4000-8000-000000000002
U3=11111111-0000-4000-8000-000000000003
U4=11111111-0000-4000-8000-000000000004

# ---- prepare begin and start begin ----
expect_hook 0 prepare begin "$(xml vm1 $U1 "$(static s0:c1,c2)")"
expect_eq "vm1's reservation" "$(registry_field "$REG" $U1 3)/$(registry_field "$REG" $U1 4)" s0:c1,c2/static
expect_hook 0 start begin "$WORK/vm1.xml"
expect_hook 1 prepare begin "$(xml vm2 $U2 "$(static s0:c1,c2)")"
contains "$ERR" "refusing to start guest 'vm2'"
contains "$ERR" "held by guest vm1 ($U1) on host h1"
expect_hook 1 start begin "$(xml vm2 $U2 "$(dynamic s0:c1)")"
contains "$ERR" "contained in label s0:c1,c2 held by guest vm1"
[ -z "$(registry_field "$REG" $U2 3)" ] || fail "a refused start reserved a label"
ok "prepare/start begin: a free static label is reserved; another guest's (or one inside it) is refused, naming holder and host"

expect_hook 0 start begin "$(xml vm3 $U3 "$(dynamic s0:c5,c6)")"
expect_eq "vm3's reservation" "$(registry_field "$REG" $U3 3)/$(registry_field "$REG" $U3 4)" s0:c5,c6/dynamic
expect_hook 0 start begin "$(xml vm3 $U3 "$(dynamic s0:c7,c8)")"
expect_eq "vm3's new draw" "$(registry_field "$REG" $U3 3)" s0:c7,c8
expect_hook 1 start begin "$(xml vm1 $U1 "$(static s0:c3,c4)")"
contains "$ERR" "guest 'vm1' has label s0:c3,c4, but s0:c1,c2 is reserved for it (host h1)"
xml vm1 $U1 "$(static s0:c1,c2)" >/dev/null
ok "start begin: libvirt's dynamic draw is reserved exactly; a static guest's other label is refused"

# params OP NAME XML: a hook request's params, without the braces.
params() { jq -cn --arg op "$1" --arg name "$2" --rawfile xml "$3" '{op: $op, name: $name, xml: $xml}' | sed 's/^{//; s/}$//'; }

# ---- starts at the same moment share one commit ----
# mcsd is stopped while five hooks connect and send their start; let go, the
# hook thread decides all five in one registry batch. vg5 asks for vg1's
# label: refused, in the same batch. The allowed ones run, durably.
hook_stats() { "$MCSCTL" --socket "$WORK/run/mcsd.sock" --json status | jq -r '"\(.hook_requests.requests) \(.hook_requests.commits)"'; }
read -r r0 c0 <<<"$(hook_stats)"
reqs=()
for i in 1 2 3 4 5; do
	lab=s0:c60$i,c61$i
	[ $i = 5 ] && lab=s0:c601,c611
	xml vg$i 22222222-0000-4000-8000-00000000000$i "$(static $lab)" >/dev/null
	reqs+=("{\"version\":1,\"method\":\"hook\",\"id\":$i,\"params\":{$(params start vg$i "$WORK/vg$i.xml")}}")
done
MCSD_PID=$(cat "$WORK/h1.mcsd.pid")
kill -STOP "$MCSD_PID"
python3 "$GROUP_CLIENTS" "$WORK/run/hook.sock" "$MCSD_PID" "${reqs[@]}" >"$WORK/group.out" || { kill -CONT "$MCSD_PID"; fail "group hooks"; }
[ "$(jq -r .result.allow "$WORK/group.out" | tr '\n' ' ')" = "true true true true false " ] ||
	fail "five starts decided together: $(cat "$WORK/group.out")"
grep -q "held by guest vg1" "$WORK/group.out" || fail "vg5's refusal does not name vg1: $(cat "$WORK/group.out")"
for i in 1 2 3 4; do
	expect_eq "vg$i's record" "$(registry_field "$REG" 22222222-0000-4000-8000-00000000000$i 3)" s0:c60$i,c61$i
done
read -r r1 c1 <<<"$(hook_stats)"
[ $((r1 - r0)) = 5 ] && [ $((c1 - c0)) = 1 ] || fail "five starts at once took $((c1 - c0)) commits for $((r1 - r0)) requests"
ok "five starts at the same moment are decided in one commit; a conflict among them is refused"

# ---- malformed requests on the hook socket: an error reply, never a crash ----
hook_raw() { printf '%s\n' "$1" | "$RAWSOCK" "$WORK/run/hook.sock" send; }
# params(OP NAME XML-FILE): the hook's parameters (the inside of the object).
GOOD=$(params start vm1 "$WORK/vm1.xml")
hook_alive() {
	local reply
	kill -0 "$(cat "$WORK/h1.mcsd.pid")" 2>/dev/null || fail "mcsd died after $1"
	reply=$(hook_raw '{"version":1,"method":"hook","params":{'"$GOOD"'}}')
	[ "$(jq -r .result.allow <<<"$reply" 2>/dev/null)" = true ] || fail "the hook socket stopped answering after $1: '$reply'"
}
expect_hook_error() { # REQUEST CODE TEXT
	local reply
	reply=$(hook_raw "$1")
	[ "$(jq -r .error.code <<<"$reply" 2>/dev/null)" = "$2" ] || fail "hook request '$1': got '$reply', expected error $2"
	grep -qF -- "$3" <<<"$reply" || fail "hook request '$1': '$reply' lacks '$3'"
	hook_alive "'$1'"
}
hook_alive "nothing"
expect_hook_error '{"version":1,"method":null,"params":{'"$GOOD"'}}' bad-request "'method' is missing or not a string"
expect_hook_error '{"version":1,"method":5,"params":{'"$GOOD"'}}' bad-request "'method' is missing or not a string"
expect_hook_error '{"version":1,"params":{'"$GOOD"'}}' bad-request "'method' is missing or not a string"
expect_hook_error '{"version":1,"method":"status"}' unknown-method "answers the method 'hook' only"
expect_hook_error '{"version":null,"method":"hook","params":{'"$GOOD"'}}' bad-request "'version' must be an integer, not null"
expect_hook_error '{"version":"1","method":"hook","params":{'"$GOOD"'}}' bad-request "'version' must be an integer, not string"
expect_hook_error '{"version":1.0,"method":"hook","params":{'"$GOOD"'}}' bad-request "1.0 is a number with a fraction"
expect_hook_error '{"version":[1],"method":"hook","params":{'"$GOOD"'}}' bad-request "'version' must be an integer, not array"
expect_hook_error '{"version":18446744073709551617,"method":"hook","params":{'"$GOOD"'}}' unsupported-version "not supported"
expect_hook_error '{"method":"hook","params":{'"$GOOD"'}}' bad-request "'version' is missing"
expect_hook_error '{"version":1,"method":"hook","params":{'"$GOOD"'},"x":1}' bad-request "unknown field 'x'"
expect_hook_error '{"version":1,"method":"hook","params":null}' bad-request "'params' must be an object"
expect_hook_error '{"version":1,"method":"hook","params":[1]}' bad-request "'params' must be an object"
expect_hook_error '{"version":1,"method":"hook","params":{"op":5}}' bad-request "hook: 'op' must be a string, not int"
expect_hook_error '{"version":1,"method":"hook","params":{"op":null}}' bad-request "hook: 'op' must be a string, not null"
for f in name xml; do
	expect_hook_error '{"version":1,"method":"hook","params":{'"$GOOD"',"'$f'":{}}}' bad-request "hook: '$f' must be a string, not object"
done
expect_hook_error '{"version":1,"method":"hook","params":{'"$GOOD"',"deadline":"soon"}}' bad-request "hook: 'deadline' must be a int, not string"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","name":"vm1"}}' bad-request "hook: 'name' and 'xml' are required"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","xml":"<domain/>"}}' bad-request "hook: 'name' and 'xml' are required"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"explode","name":"vm1","xml":"<domain/>"}}' bad-request "hook: 'op' is missing or unknown"
# The parameters mcsctl sent before mcsd parsed the XML itself: refused, so a start fails closed.
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","uuid":"'$U1'","name":"vm1","mode":"static"}}' \
	bad-request "hook: unknown parameter 'uuid'"
expect_hook_error '{"version":1,"method":"hook","params":{'"$(params start vm2 "$WORK/vm1.xml")"'}}' \
	bad-request "hook: the domain XML is of guest 'vm1', but libvirt named 'vm2'"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","name":"vm1","xml":"<domain><name>vm1</name>\u0000</domain>"}}' \
	bad-request "hook: cannot read its domain XML: it contains a NUL byte"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","name":"vm1","xml":"<domain><name>vm1"}}' \
	bad-request "hook: cannot read its domain XML: domain XML line"
expect_hook_error '{"version":1,"method":"hook","params":{"op":"start","name":"vm1","xml":"<domain type=\"kvm\"><name>vm1</name></domain>"}}' \
	bad-request "hook: cannot read its domain XML: domain XML: no <uuid>"
expect_hook_error '{"version":1,"method":"hook","params":{'"$GOOD"',"colour":1}}' bad-request "hook: unknown parameter 'colour'"
expect_hook_error '{"version":1,"method":"hook","id":123456789012345678901234567890123456789012345678901234567890,"params":{'"$GOOD"'}}' \
	bad-request "'id' is an integer too large to echo exactly"
expect_hook_error '{"version":1,"method":"hook","id":[],"params":{'"$GOOD"'}}' bad-request "'id' must be a string or an integer, not array"
reply=$(hook_raw '{"version":1,"method":"hook","id":"x7","params":{'"$GOOD"'}}')
expect_eq "the hook's echoed id" "$(jq -c .id <<<"$reply")" '"x7"'
ok "the hook socket refuses mistyped, missing or unknown fields (method, version, id, params), unreadable XML and a guest name the XML contradicts, naming them, and keeps answering"

# The request carries the XML, which may be far longer than a control
# request (64 KiB); the hook client refuses one over libvirt's 16 MiB.
# big_xml BYTES: vm1.xml with a <description> of BYTES characters.
big_xml() {
	sed '$d' "$WORK/vm1.xml"
	printf '  <description>'
	head -c "$1" /dev/zero | tr '\0' x
	printf '</description>\n</domain>\n'
}
mkdir -p "$WORK/big"
big_xml 300000 >"$WORK/big/vm1.xml"
expect_hook 0 start begin "$WORK/big/vm1.xml"
big_xml $((16 << 20)) | sed 's|<name>vm1</name>|<name>vm2</name>|' >"$WORK/big/vm2.xml"
expect_hook 1 start begin "$WORK/big/vm2.xml"
contains "$ERR" "refusing to start guest 'vm2': cannot read its domain XML: longer than 16 MiB"
ok "a 300 kB domain XML is checked by mcsd; one over 16 MiB is refused by the hook"

expect_hook 0 prepare begin "$(xml vm4 $U4 "<seclabel type='dynamic' model='selinux' relabel='yes'/>")"
expect_hook 0 start begin "$(xml vm4 $U4 "")"
expect_hook 0 start begin "$(xml excl-1 $U4 "$(static s0:c1,c2)")"
expect_hook 0 start begin "$(xml vm4 $U4 "<seclabel type='none'/>")"
expect_hook 1 start begin "$(xml vm4 $U4 "<seclabel type='static' model='selinux'><label>bogus</label></seclabel>")"
contains "$ERR" "its label is unusable"
expect_hook 1 start begin "$(xml broken $U4 "<seclabel")"
contains "$ERR" "refusing to start guest 'broken': hook: cannot read its domain XML: domain XML line"
expect_hook 0 release end "$WORK/broken.xml"
contains "$ERR" "mcsd hook: guest 'broken' (release): hook: cannot read its domain XML"
[ -z "$(registry_field "$REG" $U4 3)" ] || fail "an unchecked guest got a reservation"
ok "no label at start (no SELinux), excluded names and type='none' pass; bad labels and bad XML are refused"

# ---- prepare begin labels the images of relabel='no' guests ----
mkdir -p "$WORK/images"
: >"$WORK/images/rn.raw"
: >"$WORK/outside.raw"
"$FILECON" "$WORK/images/rn.raw" system_u:object_r:virt_image_t:s0
norelabel() { echo "<seclabel type='static' model='selinux' relabel='no'><label>system_u:system_r:svirt_t:$1</label></seclabel>"; }
xml rn 44444444-0000-4000-8000-000000000001 "$(norelabel s0:c80,c81)" >/dev/null
sed -i "s|/var/lib/libvirt/images/rn.qcow2|$WORK/images/rn.raw|" "$WORK/rn.xml"
expect_hook 0 prepare begin "$WORK/rn.xml"
expect_eq "rn's image" "$("$FILECON" "$WORK/images/rn.raw")" system_u:object_r:svirt_image_t:s0:c80,c81
expect_eq "rn's original" "$(registry_sql "$REG" "SELECT context FROM originals WHERE path = '$WORK/images/rn.raw'")" \
	system_u:object_r:virt_image_t:s0
xml rn2 44444444-0000-4000-8000-000000000002 "$(norelabel s0:c82,c83)" >/dev/null
sed -i "s|/var/lib/libvirt/images/rn2.qcow2|$WORK/outside.raw|" "$WORK/rn2.xml"
expect_hook 1 prepare begin "$WORK/rn2.xml"
contains "$ERR" "could not be labelled: $WORK/outside.raw is outside the configured image roots"
ok "prepare begin labels a relabel='no' guest's images (original kept in the registry); one outside image_root is refused"

# A FIFO as a disk (declared qcow2, so its header would be read): refused
# at once without being opened; the hook thread keeps answering.
mkfifo "$WORK/images/fifo.img"
xml rnf 44444444-0000-4000-8000-000000000003 "$(norelabel s0:c84,c85)" >/dev/null
sed -i "s|<source file='/var/lib/libvirt/images/rnf.qcow2'/>|<driver name='qemu' type='qcow2'/><source file='$WORK/images/fifo.img'/>|" "$WORK/rnf.xml"
expect_hook 1 prepare begin "$WORK/rnf.xml"
contains "$ERR" "$WORK/images/fifo.img is a FIFO, not a regular file; not touched"
expect_hook 0 prepare begin "$WORK/rn.xml"
expect_rc 0 timeout 10 "$MCSCTL" --socket "$WORK/run/mcsd.sock" status
rm -f "$WORK/images/fifo.img"
ok "a FIFO as a relabel='no' guest's disk is refused by prepare begin, not opened; the hook thread and mcsd keep answering"

# A qcow2 header written into a raw disk, naming another guest's image: not read.
: >"$WORK/images/victim.img"
"$FILECON" "$WORK/images/victim.img" system_u:object_r:svirt_image_t:s0:c7,c8
qemu-img create -q -f qcow2 -u -b victim.img -F qcow2 "$WORK/images/forged.img" 1M
xml rnx 44444444-0000-4000-8000-000000000004 "$(norelabel s0:c86,c87)" >/dev/null
sed -i "s|<source file='/var/lib/libvirt/images/rnx.qcow2'/>|<driver name='qemu' type='raw'/><source file='$WORK/images/forged.img'/>|" "$WORK/rnx.xml"
expect_hook 0 prepare begin "$WORK/rnx.xml"
expect_eq "the forged disk" "$("$FILECON" "$WORK/images/forged.img")" system_u:object_r:svirt_image_t:s0:c86,c87
expect_eq "the image its header names" "$("$FILECON" "$WORK/images/victim.img")" system_u:object_r:svirt_image_t:s0:c7,c8
ok "prepare begin does not read a qcow2 header written into a raw disk: the image it names keeps its label"

# A reload pauses the hook thread and starts it again on the new config.
write_conf "image_root = $WORK"
kill -HUP "$(cat "$WORK/h1.mcsd.pid")"
wait_for 10 grep -q "reloaded $CONF" "$WORK/h1.log" || fail "mcsd did not reload"
expect_hook 0 prepare begin "$WORK/rn2.xml"
expect_eq "rn2's image after the reload" "$("$FILECON" "$WORK/outside.raw")" system_u:object_r:svirt_image_t:s0:c82,c83
write_conf ""
kill -HUP "$(cat "$WORK/h1.mcsd.pid")"
wait_for 10 log_count_above "$WORK/h1.log" "reloaded $CONF" 1 || fail "mcsd did not reload again"
expect_hook 1 prepare begin "$WORK/rn2.xml"
ok "after a reload the hook thread answers with the new config (image_root)"

# ---- migrate, reconnect, release, and operations with nothing to check ----
expect_hook 0 migrate begin "$WORK/vm1.xml"
expect_hook 1 migrate begin "$(xml vm5 22222222-0000-4000-8000-000000000005 "$(static s0:c7,c8)")"
contains "$ERR" "held by guest vm3"
U6=22222222-0000-4000-8000-000000000006
expect_hook 0 reconnect begin "$(xml vm6 $U6 "$(static s0:c60,c61)")"
expect_eq "vm6 registered on reconnect" "$(registry_field "$REG" $U6 3)" s0:c60,c61
expect_hook 0 reconnect begin "$(xml vm7 22222222-0000-4000-8000-000000000007 "$(static s0:c60,c61)")"
grep -q "hook reconnect .*guest 'vm7' allowed: guest 'vm7' keeps running, but" "$WORK/h1.log" ||
	fail "a conflicting reconnect was not logged"
# A transient guest of the test driver: mcsd registers it; release end frees it.
guest_xml tr1 "$(static s0:c70,c71)" 33333333-0000-4000-8000-000000000001 >"$WORK/tr1.xml"
virsh -q -c "$(test_uri h1)" create "$WORK/tr1.xml" >/dev/null
wait_for 10 field_is "$REG" 33333333-0000-4000-8000-000000000001 4 transient || fail "transient guest not registered"
expect_hook 0 release end "$WORK/tr1.xml"
[ -z "$(registry_field "$REG" 33333333-0000-4000-8000-000000000001 3)" ] || fail "release end kept a transient label"
expect_hook 0 release end "$WORK/vm1.xml"
[ -n "$(registry_field "$REG" $U1 3)" ] || fail "release end released a persistent guest's label"
ok "migrate checks the incoming label; reconnect registers and never refuses; release end frees transient labels only"

# A transient relabel='no' guest: mcsd labels its image when it sees it run
# (keeping the original in the registry); release end gives the label back.
TN=33333333-0000-4000-8000-000000000002
: >"$WORK/images/tn.raw"
"$FILECON" "$WORK/images/tn.raw" system_u:object_r:virt_image_t:s0
guest_xml tn "<devices><disk type='file' device='disk'><source file='$WORK/images/tn.raw'/><target dev='vda'/></disk></devices>$(norelabel s0:c72,c73)" $TN >"$WORK/tn.xml"
virsh -q -c "$(test_uri h1)" create "$WORK/tn.xml" >/dev/null
wait_for 10 field_is "$REG" $TN 4 transient || fail "transient guest tn not registered"
filecon_is() { [ "$("$FILECON" "$1")" = "$2" ]; }
wait_for 10 filecon_is "$WORK/images/tn.raw" system_u:object_r:svirt_image_t:s0:c72,c73 ||
	fail "tn's image not labelled: $("$FILECON" "$WORK/images/tn.raw")"
expect_hook 0 release end "$WORK/tn.xml"
[ -z "$(registry_field "$REG" $TN 3)" ] || fail "release end kept tn's label"
expect_eq "tn's image after release end" "$("$FILECON" "$WORK/images/tn.raw")" system_u:object_r:virt_image_t:s0
expect_eq "tn's originals" "$(registry_sql "$REG" "SELECT count(*) FROM originals WHERE uuid = '$TN'")" 0
virsh -q -c "$(test_uri h1)" destroy tn >/dev/null
ok "release end of a transient guest puts its images' original labels back"

# ---- fail closed, bounded ----
mcsd_stop h1
expect_hook 1 start begin "$WORK/vm1.xml"
contains "$ERR" "refusing to start guest 'vm1': cannot reach mcsd at $WORK/run/hook.sock"
# Excluded names pass without mcsd (the hook reads exclude itself, by
# libvirt's name); type='none' is in the XML, which only mcsd reads.
expect_hook 0 start begin "$WORK/excl-1.xml"
xml none1 $U4 "<seclabel type='none'/>" >/dev/null
expect_hook 1 start begin "$WORK/none1.xml"
contains "$ERR" "refusing to start guest 'none1': cannot reach mcsd"
expect_hook 0 release end "$WORK/vm1.xml"
expect_hook 0 started begin "$WORK/vm1.xml"
expect_hook 0 stopped end "$WORK/vm1.xml"
write_conf "hook_fail_open = yes"
expect_hook 0 start begin "$WORK/vm1.xml"
contains "$ERR" "FAIL-OPEN: guest 'vm1' starts unchecked"
write_conf ""
mcsd_start h1 "$CONF"
kill -STOP "$(cat "$WORK/h1.mcsd.pid")"
expect_hook 1 start begin "$WORK/vm1.xml"
hung_ms=$MS
kill -CONT "$(cat "$WORK/h1.mcsd.pid")"
contains "$ERR" "did not answer within 1000 ms"
# At least the timeout; the upper bound only tells "gave up" from "hung" (a slow ASan start counts in it).
[ "$hung_ms" -ge 900 ] && [ "$hung_ms" -lt 10000 ] || fail "the hook gave up on a stopped mcsd after $hung_ms ms (hook_timeout is 1 s)"
expect_hook 0 start begin "$WORK/vm1.xml"
ok "mcsd gone: starts refused, stops and other operations pass; hung mcsd: refused after hook_timeout ($hung_ms ms); fail-open allows, loudly"

# A hook answer that comes too late changes nothing: the hook refused the
# start after hook_timeout; the continued mcsd drops the request it finds
# late instead of reserving a label for a guest that never started.
U8=22222222-0000-4000-8000-000000000008
x8=$(xml vm8 $U8 "$(static s0:c90,c91)")
kill -STOP "$(cat "$WORK/h1.mcsd.pid")"
expect_hook 1 start begin "$x8"
kill -CONT "$(cat "$WORK/h1.mcsd.pid")"
contains "$ERR" "did not answer within 1000 ms"
wait_for 10 grep -q "dropped a late request for guest 'vm8'" "$WORK/h1.log" || fail "mcsd did not log the late request it dropped"
[ -z "$(registry_field "$REG" $U8 3)" ] || fail "a start the hook refused after its timeout got a reservation: $(registry_field "$REG" $U8 3)"
expect_hook 0 start begin "$x8"
expect_eq "vm8 reserved by a timely start" "$(registry_field "$REG" $U8 3)" s0:c90,c91
ok "a late hook request is dropped: the refused start leaves no reservation"

# The hook gives up while mcsd is deciding (registry waits add up past the
# deadline): the reservation that decision made is undone. The registry is
# held by another writer for longer than the request's deadline, and less
# than busy_timeout.
sed -i 's/^hook_timeout = 1s$/hook_timeout = 5s/; s/^busy_timeout = 500ms$/busy_timeout = 4s/' "$CONF"
before=$(grep -c "^mcsd: info: reloaded" "$WORK/h1.log" || true)
kill -HUP "$(cat "$WORK/h1.mcsd.pid")"
wait_for 10 log_count_above "$WORK/h1.log" "^mcsd: info: reloaded" "$before" || fail "mcsd did not reload"
# late_start_while_locked NAME UUID LABEL: a start whose deadline (1 s)
# passes while another writer holds the registry (2.5 s); mcsd's reply is
# in $WORK/late-NAME.reply.
late_start_while_locked() {
	local locker late deadline
	rm -f "$WORK/late-lock.fifo"
	mkfifo "$WORK/late-lock.fifo"
	registry_sql "$REG" <"$WORK/late-lock.fifo" >"$WORK/lock-$1.out" &
	locker=$!
	exec 8>"$WORK/late-lock.fifo"
	echo "BEGIN EXCLUSIVE; SELECT 'locked';" >&8
	wait_for 10 grep -qx locked "$WORK/lock-$1.out" || fail "sqlite3 did not lock the registry"
	deadline=$(($(date +%s%3N) + 1000))
	hook_raw '{"version":1,"method":"hook","params":{'"$(params start "$1" "$(xml "$1" "$2" "$(static "$3")")")"',"deadline":'$deadline'}}' >"$WORK/late-$1.reply" &
	late=$!
	sleep 2.5
	echo "COMMIT;" >&8
	exec 8>&-
	wait $locker
	wait $late || true
}
U9=22222222-0000-4000-8000-000000000009
late_start_while_locked vm9 $U9 s0:c92,c93
contains "$(cat "$WORK/late-vm9.reply")" '"code":"timeout"'
wait_for 10 grep -q "the hook gave up on guest 'vm9' (its deadline passed .*) while it was decided; its new reservation is undone" "$WORK/h1.log" ||
	fail "mcsd did not undo the reservation of a start the hook gave up on: $(grep vm9 "$WORK/h1.log")"
[ -z "$(registry_field "$REG" $U9 3)" ] || fail "a start the hook gave up on mid-decision kept its reservation: $(registry_field "$REG" $U9 3)"
write_conf ""
kill -HUP "$(cat "$WORK/h1.mcsd.pid")"
ok "the hook gives up while mcsd decides: the reservation made for that start is undone"

# ---- hook_fail_open: only "no answer" lets a start go on; mcsd keeps what it decides ----
# reload_conf LINES: rewrites the config and waits for mcsd to reload it.
wait_for 10 log_count_above "$WORK/h1.log" "^mcsd: info: reloaded" $((before + 1)) || fail "mcsd did not reload"
# SLOW=1: with vm9's timeouts (hook 5 s, registry waits 4 s).
reload_conf() {
	local n
	n=$(grep -c "^mcsd: info: reloaded" "$WORK/h1.log" || true)
	write_conf "$@"
	[ -z "${SLOW:-}" ] || sed -i 's/^hook_timeout = 1s$/hook_timeout = 5s/; s/^busy_timeout = 500ms$/busy_timeout = 4s/' "$CONF"
	kill -HUP "$(cat "$WORK/h1.mcsd.pid")"
	wait_for 10 log_count_above "$WORK/h1.log" "^mcsd: info: reloaded" "$n" || fail "mcsd did not reload"
}
reload_conf "hook_fail_open = yes"
# An answer is final: mcsd's error answer (here bad-request) refuses the start.
expect_hook 1 start begin "$WORK/broken.xml"
contains "$ERR" "refusing to start guest 'broken': hook: cannot read its domain XML"
[[ "$ERR" != *FAIL-OPEN* ]] || fail "an error answer failed open: $ERR"
# A hung mcsd: the start goes on; the continued mcsd decides the late
# request all the same and keeps the reservation the running guest needs.
U10=22222222-0000-4000-8000-000000000010
x10=$(xml vm10 $U10 "$(static s0:c94,c95)")
kill -STOP "$(cat "$WORK/h1.mcsd.pid")"
expect_hook 0 start begin "$x10"
kill -CONT "$(cat "$WORK/h1.mcsd.pid")"
contains "$ERR" "FAIL-OPEN: guest 'vm10' starts unchecked: mcsd at $WORK/run/hook.sock did not answer within 1000 ms"
wait_for 10 grep -q "a late request for guest 'vm10' (.*) is decided all the same" "$WORK/h1.log" ||
	fail "mcsd did not decide a late fail-open request: $(grep vm10 "$WORK/h1.log")"
wait_for 10 field_is "$REG" $U10 3 s0:c94,c95 ||
	fail "a start the hook let go on (fail-open) got no reservation: $(grep vm10 "$WORK/h1.log")"
# A hook that says fail_open is believed even when mcsd's own config says no.
reload_conf ""
U11=22222222-0000-4000-8000-000000000011
reply=$(hook_raw '{"version":1,"method":"hook","params":{'"$(params start vm11 "$(xml vm11 $U11 "$(static s0:c96,c97)")")"',"fail_open":true,"deadline":'$(($(date +%s%3N) - 1000))'}}')
expect_eq "a late fail_open request's answer" "$(jq -c .result.allow <<<"$reply")" true
expect_eq "vm11's reservation" "$(registry_field "$REG" $U11 3)" s0:c96,c97
# The hook gives up while mcsd decides: with fail-open the start may have
# gone on, so the reservation that decision made stays.
SLOW=1 reload_conf "hook_fail_open = yes"
U12=22222222-0000-4000-8000-000000000012
late_start_while_locked vm12 $U12 s0:c98,c99
wait_for 10 grep -q "the hook gave up on guest 'vm12' (its deadline passed .*) and may have let it start (hook_fail_open); its reservation stays" "$WORK/h1.log" ||
	fail "mcsd did not keep the reservation of a fail-open start the hook gave up on: $(grep vm12 "$WORK/h1.log")"
expect_eq "vm12's reservation" "$(registry_field "$REG" $U12 3)" s0:c98,c99
expect_eq "vm12's answer" "$(jq -c .result.allow "$WORK/late-vm12.reply")" true
reload_conf ""
ok "hook_fail_open: an error answer still refuses; a late request (hung mcsd, or the hook gave up mid-decision) is decided and its reservation kept"

# A socket that never accepts, its backlog full (a hung hook thread): a
# blocking connect() would wait forever, and libvirtd with it.
mcsd_stop h1
python3 -c '
import os, socket, sys, time
path = sys.argv[1]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(path)
l.listen(0)
fill = []
for i in range(8):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(path)
        fill.append(c)
    except BlockingIOError:
        break
else:
    sys.exit("the backlog never filled")
print(len(fill), flush=True)
time.sleep(60)
' "$WORK/run/hook.sock" >"$WORK/jam.out" 2>&1 &
jam=$!
wait_for 10 test -s "$WORK/jam.out" || fail "the jammed socket is not ready: $(cat "$WORK/jam.out")"
RC=0
timeout 30 "$MCSCTL" hook qemu vm1 start begin - <"$WORK/vm1.xml" 2>"$WORK/hook.err" || RC=$?
ERR=$(cat "$WORK/hook.err")
kill $jam
wait $jam 2>/dev/null || true
rm -f "$WORK/run/hook.sock"
[ "$RC" -ne 124 ] || fail "the hook hung connecting to a socket whose backlog is full"
[ "$RC" -eq 1 ] || fail "the hook on a full backlog: exit $RC, expected 1: $ERR"
contains "$ERR" "refusing to start guest 'vm1': mcsd at $WORK/run/hook.sock did not accept the connection within 1000 ms"

# Replies of the wrong shape (a broken or foreign server on the hook
# socket): only "allow": true allows; nothing crashes mcsctl.
"$(dirname "$0")/fake-hook-server.py" "$WORK/run/hook.sock" \
	'{"version":1,"result":{"allow":"yes","message":7}}' '{"version":1,"result":{"allow":1}}' \
	'{"version":1,"error":{"code":null,"message":null}}' '{"version":1,"error":null}' '{"version":1,"result":null}' \
	'{"version":1,"result":{"allow":true}}' >"$WORK/fake.out" 2>&1 &
fake=$!
wait_for 10 grep -q ready "$WORK/fake.out" || fail "the fake server did not start: $(cat "$WORK/fake.out")"
expect_hook 1 start begin "$WORK/vm1.xml"
contains "$ERR" "refusing to start guest 'vm1': refused"
expect_hook 1 start begin "$WORK/vm1.xml"
expect_hook 1 start begin "$WORK/vm1.xml"
contains "$ERR" "mcsd's error reply has no message"
expect_hook 1 start begin "$WORK/vm1.xml"
expect_hook 1 start begin "$WORK/vm1.xml"
contains "$ERR" "neither an error nor a result object"
expect_hook 0 start begin "$WORK/vm1.xml"
wait $fake || fail "the fake server: $(cat "$WORK/fake.out")"
rm -f "$WORK/run/hook.sock"

# With hook_fail_open = yes, only a server that sends not one byte fails
# open: error answers, a malformed reply, one cut short or one that stalls
# after its first bytes refuse; a close or a silence before any byte allows.
write_conf "hook_fail_open = yes"
"$(dirname "$0")/fake-hook-server.py" "$WORK/run/hook.sock" \
	'{"version":1,"error":{"code":"bad-request","message":"hook: cannot read its domain XML"}}' \
	'{"version":1,"error":{"code":"changed","message":"the record changed meanwhile"}}' \
	'{"version":1,"error":{"code":"io","message":"registry: disk I/O error"}}' \
	'not json' 'CUT:{"version":1,"result":{"allow":' 'STALL:{"version":1,"error"' CLOSE SILENT >"$WORK/fake2.out" 2>&1 &
fake=$!
wait_for 10 grep -q ready "$WORK/fake2.out" || fail "the fake server did not start: $(cat "$WORK/fake2.out")"
for why in "hook: cannot read its domain XML" "the record changed meanwhile" "registry: disk I/O error" \
	"mcsd sent a reply that is not a JSON object" "mcsd's reply was cut short" "mcsd's reply was cut short"; do
	expect_hook 1 start begin "$WORK/vm1.xml"
	contains "$ERR" "refusing to start guest 'vm1': $why"
	[[ "$ERR" != *FAIL-OPEN* ]] || fail "a reply failed open: $ERR"
done
expect_hook 0 start begin "$WORK/vm1.xml"
contains "$ERR" "FAIL-OPEN: guest 'vm1' starts unchecked: cannot reach mcsd at $WORK/run/hook.sock"
expect_hook 0 start begin "$WORK/vm1.xml"
contains "$ERR" "FAIL-OPEN: guest 'vm1' starts unchecked: mcsd at $WORK/run/hook.sock did not answer within 1000 ms"
wait $fake || fail "the fake server: $(cat "$WORK/fake2.out")"
rm -f "$WORK/run/hook.sock"
expect_hook 0 start begin "$WORK/vm1.xml"
contains "$ERR" "FAIL-OPEN: guest 'vm1' starts unchecked: cannot reach mcsd"
write_conf ""
mcsd_start h1 "$CONF"
ok "a hook socket whose backlog is full: the start is refused after hook_timeout, not hung; only a boolean allow allows, and malformed replies refuse"
ok "hook_fail_open: error answers and malformed, cut or stalled replies refuse; no socket, a close or silence before any reply byte fail open"

# ---- the real thing: libvirtd runs the hook before QEMU starts ----
mcsd_stop h1
libvirtd_stop_for_hook() { "$PRIVATE_LIBVIRTD" stop "$WORK/h1"; }
libvirtd_stop_for_hook
mkdir -p "$WORK/h1/etc/hooks/qemu.d"
# The installed hook with this build's mcsctl and this test's config.
sed "s|^exec .*/mcsctl |exec env MCSD_CONFIG=$CONF $MCSCTL |" "$HOOK_SCRIPT" >"$WORK/h1/etc/hooks/qemu.d/mcsd"
grep -q "hook qemu \"\$@\"" "$WORK/h1/etc/hooks/qemu.d/mcsd" || fail "the hook script does not pass libvirt's arguments"
cat >"$WORK/h1/etc/hooks/qemu.d/00-record" <<EOF
#!/bin/sh
echo "\$2 \$3" >>$WORK/hook-calls.log
# Holds libvirtd's lock on one guest for a while (see the last test).
[ "\$1 \$2" = "hq2 prepare" ] && touch $WORK/hq2-in-prepare && sleep 3
exit 0
EOF
chmod +x "$WORK/h1/etc/hooks/qemu.d/mcsd" "$WORK/h1/etc/hooks/qemu.d/00-record"
"$PRIVATE_LIBVIRTD" start "$WORK/h1"
QURI=$(qemu_uri h1)
cat >"$WORK/hq.xml" <<EOF
<domain type='qemu'>
  <name>hq</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>$(command -v qemu-system-x86_64)</emulator><graphics type='vnc' port='-1' listen='127.0.0.1'/></devices>
</domain>
EOF
virsh -q -c "$QURI" define "$WORK/hq.xml" >/dev/null
mcsd_start h1 "$CONF"
virsh -q -c "$QURI" start hq >/dev/null 2>"$WORK/start.err" || fail "start with mcsd running: $(cat "$WORK/start.err")"
virsh -q -c "$QURI" destroy hq >/dev/null
for op in "prepare begin" "start begin" "release end"; do
	grep -qx "$op" "$WORK/hook-calls.log" || fail "libvirt did not call the hook for $op: $(cat "$WORK/hook-calls.log")"
done
grep -q "hook prepare .*guest 'hq' allowed" "$WORK/h1.log" || fail "mcsd did not see the hook's prepare"
ok "a real libvirtd calls the hook around a real QEMU guest's start; mcsd allows it"

mcsd_stop h1
if virsh -q -c "$QURI" start hq >/dev/null 2>"$WORK/start.err"; then fail "hq started while mcsd was down"; fi
contains "$(cat "$WORK/start.err")" "refusing to start guest 'hq'"
contains "$(cat "$WORK/start.err")" "cannot reach mcsd"
ok "mcsd down: libvirt refuses the start and shows the hook's reason"

mcsd_start h1 "$CONF"
# The registry locked by another writer beyond busy_timeout: unreachable too.
mkfifo "$WORK/lock.fifo"
registry_sql "$REG" <"$WORK/lock.fifo" >"$WORK/lock.out" &
locker=$!
exec 7>"$WORK/lock.fifo"
echo "BEGIN EXCLUSIVE; SELECT 'locked';" >&7
wait_for 10 grep -qx locked "$WORK/lock.out" || fail "sqlite3 did not lock the registry"
if virsh -q -c "$QURI" start hq >/dev/null 2>"$WORK/start.err"; then fail "hq started while the registry was locked"; fi
contains "$(cat "$WORK/start.err")" "refusing to start guest 'hq'"
echo "COMMIT;" >&7
exec 7>&-
wait $locker
virsh -q -c "$QURI" start hq >/dev/null 2>"$WORK/start.err" || fail "start after the registry came back: $(cat "$WORK/start.err")"
virsh -q -c "$QURI" destroy hq >/dev/null
ok "registry locked: the start is refused; once it answers, the guest starts"

# libvirtd holds a guest while its hooks run, and mcsd's main loop may be
# stuck in a libvirt call about that guest (here: mcsctl show). The
# guest's own mcsd hook must still be answered, by the hook thread.
mcsd_stop h1
MCSD_URI=$QURI write_conf ""
mcsd_start h1 "$CONF"
sed 's|<name>hq</name>|<name>hq2</name>|' "$WORK/hq.xml" >"$WORK/hq2.xml"
virsh -q -c "$QURI" create "$WORK/hq2.xml" >/dev/null 2>"$WORK/start.err" &
create=$!
wait_for 20 test -e "$WORK/hq2-in-prepare" || fail "libvirtd did not run hq2's prepare hook"
"$MCSCTL" --socket "$WORK/run/mcsd.sock" show hq2 >/dev/null 2>&1 &
show=$!
sleep 0.3
kill -0 $show 2>/dev/null || fail "mcsctl show did not wait for the guest libvirtd holds (the test proves nothing)"
wait $create || fail "hq2 refused while mcsd's main loop waited on it: $(cat "$WORK/start.err")"
wait $show || fail "mcsctl show failed"
grep -q "hook prepare .*guest 'hq2' allowed" "$WORK/h1.log" || fail "the hook thread did not answer for hq2"
virsh -q -c "$QURI" destroy hq2 >/dev/null
ok "the hook is answered while mcsd's main loop waits on the very guest libvirtd holds in its hook"

# Socket activation with both sockets; mcsd tells them apart by path.
mcsd_stop h1
cat >"$WORK/act.conf" <<EOF
uri = $(test_uri h1)
registry = $REG
registry_create = yes
host_id = h1
socket = $WORK/run/act.sock
hook_socket = $WORK/run/act-hook.sock
EOF
systemd-socket-activate -l "$WORK/run/act.sock" -l "$WORK/run/act-hook.sock" "$MCSD" --config "$WORK/act.conf" >>"$WORK/act.log" 2>&1 &
echo $! >"$WORK/act.mcsd.pid"
wait_for 10 test -S "$WORK/run/act-hook.sock" || fail "systemd-socket-activate did not listen"
MCSD_CONFIG=$WORK/act.conf expect_hook 0 start begin "$WORK/vm1.xml"
grep -q "hook socket $WORK/run/act-hook.sock (from systemd)" "$WORK/act.log" || fail "hook socket not taken from systemd: $(cat "$WORK/act.log")"
grep -q "control socket $WORK/run/act.sock (from systemd)" "$WORK/act.log" || fail "control socket not taken from systemd"
ok "socket activation passes both sockets; mcsd tells them apart"
