#!/bin/bash
# libvirt's own seclabel test domains (tests/data/libvirt-seclabel), each
# defined on a real libvirtd (the test driver, which takes SELinux labels)
# with mcsd running: mcsd changes nothing but the top-level SELinux
# <seclabel>; type='none' in any spelling stays unmanaged and untouched;
# DAC seclabels say nothing about SELinux; a static relabel='no' guest whose
# image cannot be labelled counts as failed, with the reason.
. "$(dirname "$0")/lib.sh"
: "${MCSCTL:?}" "${SECLABEL_DATA:?}"
command -v jq >/dev/null || fail "jq is not installed"

libvirtd_start s
URI=$(test_uri s)
REG=$WORK/registry.db
cat >"$WORK/mcsd.conf" <<CONF
uri = $URI
registry = $REG
registry_create = yes
host_id = s1
socket = $WORK/s1.sock
hook_socket = $WORK/s1-hook.sock
CONF
mcsctl() { "$MCSCTL" --socket "$WORK/s1.sock" "$@"; }

# The top-level SELinux <seclabel> (model='selinux' or none given) taken
# out: all that mcsd may change.
without_selinux_seclabel() {
	awk 'skip { if ($0 ~ /^  <\/seclabel>/) skip = 0; next }
	     /^  <seclabel/ && !/model=.dac./ && !/model=.none./ { if ($0 !~ /\/>$/) skip = 1; next }
	     { print }' "$1"
}

# Each file under its own name and UUID; seclabel-static first, so that it
# is the one of the three static guests (one label) that gets the label.
mkdir -p "$WORK/in" "$WORK/ref" "$WORK/after"
i=0
for f in "$SECLABEL_DATA/seclabel-static.xml" "$SECLABEL_DATA"/*.xml; do
	name=$(basename "$f" .xml)
	[ -f "$WORK/in/$name.xml" ] && continue
	i=$((i + 1))
	sed -e "s|<name>[^<]*</name>|<name>$name</name>|" \
	    -e "s|<uuid>[^<]*</uuid>|<uuid>$(printf '00000000-0000-4000-8000-%012d' $i)</uuid>|" "$f" >"$WORK/in/$name.xml"
	echo "$name" >>"$WORK/order"
done

# What libvirt makes of each file on its own, without mcsd.
accepted=()
while read -r name; do
	if virsh -q -c "$URI" define "$WORK/in/$name.xml" >/dev/null 2>"$WORK/define.err"; then
		virsh -q -c "$URI" dumpxml --inactive "$name" >"$WORK/ref/$name.xml"
		virsh -q -c "$URI" undefine "$name" >/dev/null
		accepted+=("$name")
	else
		echo "# libvirt refuses $name: $(cat "$WORK/define.err")"
	fi
done <"$WORK/order"
[ ${#accepted[@]} -ge 12 ] || fail "libvirt accepted only ${#accepted[@]} of $i files: ${accepted[*]}"

mcsd_start s1 "$WORK/mcsd.conf"
for name in "${accepted[@]}"; do
	virsh -q -c "$URI" define "$WORK/in/$name.xml" >/dev/null
done
status_of() { mcsctl --json show "$1" | jq -r '.libvirt.status'; }
has_status() { [ "$(status_of "$1")" != null ]; }
for name in "${accepted[@]}"; do
	wait_for 20 has_status "$name" || fail "mcsd never judged $name"
	virsh -q -c "$URI" dumpxml --inactive "$name" >"$WORK/after/$name.xml"
done

unchanged=0 relabelled=0
for name in "${accepted[@]}"; do
	st=$(status_of "$name")
	case $name in
	seclabel-none | seclabel-dynamic-none)
		expect_eq "$name status" "$st" unmanaged
		cmp -s "$WORK/ref/$name.xml" "$WORK/after/$name.xml" || fail "$name changed: $(diff "$WORK/ref/$name.xml" "$WORK/after/$name.xml")"
		[ -z "$(registry_field "$REG" "$(uuid_of "$URI" "$name")" 3)" ] || fail "$name holds a reservation"
		unchanged=$((unchanged + 1))
		;;
	seclabel-static | seclabel-static-relabel | seclabel-static-labelskip)
		# The operator's label stays as written, whatever mcsd decides.
		cmp -s "$WORK/ref/$name.xml" "$WORK/after/$name.xml" || fail "$name changed: $(diff "$WORK/ref/$name.xml" "$WORK/after/$name.xml")"
		unchanged=$((unchanged + 1))
		;;
	*)
		expect_eq "$name status" "$st" managed
		diff <(without_selinux_seclabel "$WORK/ref/$name.xml") <(without_selinux_seclabel "$WORK/after/$name.xml") >"$WORK/diff" ||
			fail "$name: mcsd changed more than its SELinux <seclabel>: $(cat "$WORK/diff")"
		level=$(registry_field "$REG" "$(uuid_of "$URI" "$name")" 3)
		grep -q "^  <seclabel type='static' model='selinux' relabel='yes'>" "$WORK/after/$name.xml" ||
			fail "$name has no static SELinux label: $(grep seclabel "$WORK/after/$name.xml")"
		grep -q "<label>system_u:system_r:svirt[a-z_]*_t:$level</label>" "$WORK/after/$name.xml" ||
			fail "$name's label is not its reservation $level"
		relabelled=$((relabelled + 1))
		;;
	esac
done
# A baselabel's type is kept; a DAC-only guest is judged as having no SELinux seclabel.
grep -q "<label>system_u:system_r:svirt_custom_t:s0:" "$WORK/after/seclabel-dynamic-baselabel.xml" || fail "the baselabel type was lost"
grep -q "<seclabel type='none' model='dac'/>" "$WORK/after/dac-none.xml" || fail "dac-none lost its DAC seclabel"
ok "${#accepted[@]} seclabel domains: $relabelled got a static label and nothing else changed; $unchanged kept their XML byte for byte"

# The first static guest holds c192,c392 but its image cannot be labelled
# (relabel='no': mcsd labels it, and /dev/HostVG/QEMUGuest1 is outside
# image_root): failed, with the reason, in status, show and check.
expect_eq "seclabel-static status" "$(status_of seclabel-static)" failed
contains "$(mcsctl --json show seclabel-static | jq -r .libvirt.why)" "could not be labelled"
expect_eq "seclabel-static-relabel status" "$(status_of seclabel-static-relabel)" refused
expect_eq "seclabel-static-labelskip status" "$(status_of seclabel-static-labelskip)" refused
expect_rc 0 mcsctl --json status
expect_eq "failed count" "$(jq -r .guests.failed <<<"$OUT")" 1
expect_eq "refused count" "$(jq -r .guests.refused <<<"$OUT")" 2
expect_eq "unmanaged count" "$(jq -r .guests.unmanaged <<<"$OUT")" 2
expect_rc 0 mcsctl status
contains "$OUT" "2 refused, 1 failed"
expect_rc 5 mcsctl check
contains "$OUT" "mcsd failed on it: 1 of its images could not be labelled"
ok "a static relabel='no' guest whose image cannot be labelled counts as failed, with why, in status, show and check"

mcsd_stop s1
