#!/bin/bash
# The real QEMU driver on this machine, whose libvirt has no SELinux
# security driver (its capabilities list the security models none and dac,
# as on a Debian or Ubuntu host with AppArmor or SELinux off). Installing
# mcsd, the daemon and the hook, must not break it: a guest defined with
# mcsd running gets no SELinux label, starts with `virsh start`, and
# `mcsctl status` says why. With without_selinux = reserve the guest still
# gets a pair in the registry, and still no label in its XML.
. "$(dirname "$0")/lib.sh"
: "${MCSCTL:?}" "${HOOK_SCRIPT:?}" "${SECLABEL_DATA:?}"

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is not installed"
REG=$WORK/registry.db
CONF=$WORK/mcsd.conf
cat >"$CONF" <<CONF
uri = qemu+unix:///system?socket=$WORK/q/run/libvirt-sock
registry = $REG
registry_create = yes
host_id = q1
socket = $WORK/q1.sock
hook_socket = $WORK/q1-hook.sock
CONF
# The hook, as installed, with this build's mcsctl and this test's config
# (libvirtd finds hooks when it starts).
mkdir -p "$WORK/q/etc"
cp -a /etc/libvirt/. "$WORK/q/etc/"
mkdir -p "$WORK/q/etc/hooks/qemu.d"
sed "s|^exec .*/mcsctl |exec env MCSD_CONFIG=$CONF $MCSCTL |" "$HOOK_SCRIPT" >"$WORK/q/etc/hooks/qemu.d/mcsd"
chmod +x "$WORK/q/etc/hooks/qemu.d/mcsd"
"$PRIVATE_LIBVIRTD" start "$WORK/q"
LIBVIRTDS+=(q)
URI=$(qemu_uri q)
virsh -q -c "$URI" capabilities | tr -d '\n ' | grep -q '<secmodel><model>selinux</model>' &&
	fail "this libvirt has an SELinux security driver; the test needs one without"
mcsctl() { "$MCSCTL" --socket "$WORK/q1.sock" "$@"; }

mcsd_start q "$CONF"
grep -q "has no SELinux security driver (security models: none, dac)" "$WORK/q.log" ||
	fail "mcsd did not say why it labels nothing: $(cat "$WORK/q.log")"

cat >"$WORK/tcg.xml" <<XML
<domain type='qemu'>
  <name>tcg1</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <graphics type='vnc' port='-1' listen='127.0.0.1' passwd='s3cret'/>
  </devices>
</domain>
XML
virsh -q -c "$URI" define "$WORK/tcg.xml" >/dev/null
virsh -q -c "$URI" dumpxml --inactive --security-info tcg1 >"$WORK/tcg1.before"
judged() { [ "$(mcsctl --json show tcg1 | jq -r .libvirt.status)" != null ]; }
wait_for 20 judged || fail "mcsd never judged tcg1"
expect_rc 0 mcsctl --json show tcg1
expect_eq "tcg1 status" "$(jq -r .libvirt.status <<<"$OUT")" unmanaged
contains "$(jq -r .libvirt.why <<<"$OUT")" "no SELinux security driver"
virsh -q -c "$URI" dumpxml --inactive --security-info tcg1 | cmp -s - "$WORK/tcg1.before" || fail "mcsd changed tcg1's XML"
virsh -q -c "$URI" dumpxml --inactive tcg1 | grep -q "model='selinux'" && fail "tcg1 carries an SELinux seclabel"
virsh -q -c "$URI" start tcg1 >/dev/null 2>"$WORK/start.err" || fail "tcg1 does not start with mcsd running: $(cat "$WORK/start.err")"
grep -q "hook start (pid [0-9]*): guest 'tcg1' allowed: libvirt on this host has no SELinux security driver" "$WORK/q.log" ||
	fail "the hook did not let tcg1 start for that reason: $(grep hook "$WORK/q.log")"
virsh -q -c "$URI" destroy tcg1 >/dev/null
expect_rc 0 mcsctl status
contains "$OUT" "security:   none, dac"
contains "$OUT" "labelling:  labels off: libvirt has no SELinux security driver (without_selinux = skip)"
[ -z "$(registry_field "$REG" "$(uuid_of "$URI" tcg1)" 3)" ] || fail "tcg1 holds a reservation with without_selinux = skip"
ok "no SELinux driver: a guest defined with mcsd and its hook gets no label and starts; status says why"

# libvirt's own seclabel domains: none is touched here.
n=0
for f in "$SECLABEL_DATA"/*.xml; do
	name=q-$(basename "$f" .xml)
	n=$((n + 1))
	sed -e "s|<name>[^<]*</name>|<name>$name</name>|" \
	    -e "s|<uuid>[^<]*</uuid>|<uuid>$(printf '00000000-0000-4000-8000-%012d' $n)</uuid>|" "$f" >"$WORK/$name.xml"
	virsh -q -c "$URI" define "$WORK/$name.xml" >/dev/null 2>&1 || continue
	virsh -q -c "$URI" dumpxml --inactive "$name" >"$WORK/$name.before"
	echo "$name" >>"$WORK/defined"
done
[ "$(wc -l <"$WORK/defined")" -ge 10 ] || fail "the QEMU driver accepted only: $(cat "$WORK/defined")"
while read -r name; do
	wait_for 20 eval '[ "$(mcsctl --json show '"$name"' | jq -r .libvirt.status)" = unmanaged ]' ||
		fail "$name: $(mcsctl --json show "$name")"
	virsh -q -c "$URI" dumpxml --inactive "$name" | cmp -s - "$WORK/$name.before" || fail "mcsd changed $name"
done <"$WORK/defined"
ok "$(wc -l <"$WORK/defined") of libvirt's seclabel domains defined here: all left alone"

# without_selinux = reserve: a pair in the registry, still nothing in the XML.
echo "without_selinux = reserve" >>"$CONF"
kill -HUP "$(cat "$WORK/q.mcsd.pid")"
reserved() { [ -n "$(registry_field "$REG" "$(uuid_of "$URI" tcg1)" 3)" ]; }
wait_for 20 reserved || fail "tcg1 got no reservation with without_selinux = reserve"
expect_eq "tcg1 kind" "$(registry_field "$REG" "$(uuid_of "$URI" tcg1)" 4)" dynamic
virsh -q -c "$URI" dumpxml --inactive --security-info tcg1 | cmp -s - "$WORK/tcg1.before" || fail "mcsd changed tcg1's XML"
expect_rc 0 mcsctl status
contains "$OUT" "labels reserved, never written"
virsh -q -c "$URI" start tcg1 >/dev/null 2>"$WORK/start.err" || fail "tcg1 does not start: $(cat "$WORK/start.err")"
virsh -q -c "$URI" destroy tcg1 >/dev/null
ok "without_selinux = reserve: tcg1 holds $(registry_field "$REG" "$(uuid_of "$URI" tcg1)" 3) in the registry, its XML is unchanged, it starts"

mcsd_stop q
