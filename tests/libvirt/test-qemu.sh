#!/bin/bash
# The real QEMU driver: a TCG guest (type='qemu') defined through libvirtd
# gets its static label written, with the TCG type when the virtual domain
# context file names one. (It cannot be started here: this machine has no
# SELinux security driver.)
. "$(dirname "$0")/lib.sh"

command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is not installed"
REG=$WORK/registry.db
"$PRIVATE_LIBVIRTD" start "$WORK/q"
LIBVIRTDS+=(q)
URI=$(qemu_uri q)

printf 'system_u:system_r:svirt_t:s0\nsystem_u:system_r:svirt_tcg_t:s0\n' >"$WORK/virtual_domain_context"
cat >"$WORK/mcsd.conf" <<CONF
uri = $URI
registry = $REG
host_id = q1
socket = $WORK/q1.sock
hook_socket = $WORK/q1-hook.sock
domain_context_file = $WORK/virtual_domain_context
CONF
mcsd_start q "$WORK/mcsd.conf"

cat >"$WORK/tcg.xml" <<XML
<domain type='qemu'>
  <name>tcg1</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <graphics type='vnc' passwd='s3cret'/>
  </devices>
</domain>
XML
virsh -q -c "$URI" define "$WORK/tcg.xml" >/dev/null
wait_for 20 has_static_label "$URI" tcg1 || fail "tcg1 got no static label: $(seclabel_of "$URI" tcg1)"
uuid=$(uuid_of "$URI" tcg1)
level=$(registry_field "$REG" "$uuid" 3)
expect_eq "tcg1 label" "$(label_of "$URI" tcg1)" "system_u:system_r:svirt_tcg_t:$level"
expect_eq "tcg1 registry" "$(registry_field "$REG" "$uuid" 4)/$(registry_field "$REG" "$uuid" 6)" "dynamic/q1"
# The redefinition kept what the operator wrote, secrets included.
virsh -q -c "$URI" dumpxml --inactive --security-info tcg1 | grep -q "passwd='s3cret'" || fail "the VNC password was lost"
ok "a QEMU TCG guest gets a static svirt_tcg_t label from the registry; its VNC password survives"

mcsd_stop q
