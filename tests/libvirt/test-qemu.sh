#!/bin/bash
# The real QEMU driver on this machine, whose libvirt has no SELinux
# security driver (its capabilities list the security models none and dac,
# as on a Debian or Ubuntu host with AppArmor or SELinux off). Installing
# mcsd, the daemon and the hook, must not break it: a guest defined with
# mcsd running gets no SELinux label, starts with `virsh start`, and
# `mcsctl status` says why. With without_selinux = reserve the guest still
# gets a pair in the registry, and still no label in its XML.
#
# It runs with a /dev/kvm of mode 0600 root:root in its own mount namespace
# (dev-kvm.sh), whatever the machine has, as a machine on which udev never
# ran leaves it; the other ways (0660 root:kvm, none) are checked at the end.
# A QEMU driver whose probe of the emulator disagrees with what /dev/kvm
# says now (its user may not open a working one; or may open one that does
# not work, as this node does on a machine without KVM) probes again at every
# define and start, 30-40 s each, unless the private libvirtd hides it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dev-kvm.sh"
: "${MCSCTL:?}" "${HOOK_SCRIPT:?}" "${SECLABEL_DATA:?}"
dev_kvm_as 0600 root:root

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
# The QEMU driver's emulator capabilities, probed once by that define, must
# stay cached for the rest of the test whatever /dev/kvm's owner and mode
# (scripts/private-libvirtd runs QEMU as root for that): a driver that
# re-probes at every define and start takes about 40 s for each.
# caps_cache NAME: the private libvirtd NAME's cached emulator capabilities (file, inode, mtime).
caps_cache() { stat -c '%n %i %Y' "$WORK/$1"/cache/qemu/capabilities/*.xml 2>/dev/null | sort; }
CAPS=$(caps_cache q)
[ -n "$CAPS" ] || fail "the QEMU driver left no capabilities cache in $WORK/q/cache/qemu/capabilities"
nsenter -t "$(cat "$WORK/q/run/libvirtd.pid")" -m test -e /dev/kvm &&
	fail "the private libvirtd sees a /dev/kvm (scripts/private-libvirtd hides it)"
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
expect_eq "the QEMU capabilities cache after $(wc -l <"$WORK/defined") more defines, a start and a stop (file inode mtime)" \
	"$(caps_cache q)" "$CAPS"
ok "/dev/kvm $(stat -c '%a %U:%G' /dev/kvm): the private libvirtd sees none; its emulator capabilities were probed once and stayed cached"

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

# The other ways a machine may have left /dev/kvm: a fresh private libvirtd
# in each probes once, at the first define, and never again.
for kvm in "0660 root:kvm" none; do
	read -r mode owner <<<"$kvm"
	dev_kvm_as "$mode" $owner
	name=kvm-${mode}
	libvirtd_start "$name"
	for i in 1 2 3; do
		sed "s|<name>tcg1</name>|<name>kvm$i</name>|" "$WORK/tcg.xml" >"$WORK/kvm$i.xml"
		virsh -q -c "$(qemu_uri "$name")" define "$WORK/kvm$i.xml" >/dev/null
		[ $i -eq 1 ] && first=$(caps_cache "$name")
	done
	virsh -q -c "$(qemu_uri "$name")" start kvm1 >/dev/null
	virsh -q -c "$(qemu_uri "$name")" destroy kvm1 >/dev/null
	[ -n "$first" ] || fail "/dev/kvm $kvm: no capabilities cache after the first define"
	expect_eq "/dev/kvm $kvm: the QEMU capabilities cache after two more defines, a start and a stop" "$(caps_cache "$name")" "$first"
	"$PRIVATE_LIBVIRTD" stop "$WORK/$name"
	ok "/dev/kvm $kvm: emulator capabilities probed once and cached; a TCG guest starts"
done
