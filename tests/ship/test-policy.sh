#!/bin/bash
# policy/mcsd.te, .fc and .if: built with selinux-policy-dev's Makefile,
# installed into a copy of the selinux-policy-default store with
# `semodule -p`, then the access decisions of tests/ship/policy-checks
# answered by libsepol from the policy that store now holds. Also: every
# rule of mcsd.te names a key that the table checks (and no stale key),
# and the file contexts land where the daemon's files are.
: "${POLICY_CHECK:?}" "${SRC:?}"
set -u
WORK=$(mktemp -d /tmp/mcsd-policy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TE=$SRC/policy/mcsd.te
TABLE=$SRC/tests/ship/policy-checks
fails=0
ok() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
die() { echo "not ok - $*"; exit 1; }

# ---- every rule has a key, every key a check ----
keys=$(awk '
	/^[ \t]*gen_require\(/ { req = 1 }
	req { if ($0 ~ /^[ \t]*'"'"'\)/) req = 0; next }
	/^[ \t]*(#|$)/ { next }
	/^[ \t]*'"'"'\)/ { next }
	/^[ \t]*(policy_module|gen_tunable|optional_policy|tunable_policy)\(/ { next }
	/^[ \t]*type [a-z_]+;/ { next }
	/^[ \t]*(files_config_file|files_type|files_runtime_file|files_tmp_file|corenet_port)\(/ { next }
	{
		if (match($0, /# \[[a-z]+\]$/)) print substr($0, RSTART + 3, RLENGTH - 4)
		else { print "UNKEYED " FILENAME ":" NR ": " $0; bad = 1 }
	}' "$TE")
unkeyed=$(grep '^UNKEYED' <<<"$keys" || true)
[ -z "$unkeyed" ] && ok "every rule in mcsd.te names a key" || fail "rules without a # [key]:
$unkeyed"
table_keys=$(awk '!/^[ \t]*(#|$)/ && $1 != "-" { print $1 }' "$TABLE" | sort -u)
te_keys=$(grep -v '^UNKEYED' <<<"$keys" | sort -u)
[ -n "$te_keys" ] || die "no keys found in $TE"
missing=$(comm -23 <(echo "$te_keys") <(echo "$table_keys"))
stale=$(comm -13 <(echo "$te_keys") <(echo "$table_keys"))
[ -z "$missing" ] && ok "every key of mcsd.te ($(wc -l <<<"$te_keys")) has a check" ||
	fail "keys of mcsd.te without a check in policy-checks: $(echo $missing)"
[ -z "$stale" ] && ok "every key in policy-checks names a rule of mcsd.te" ||
	fail "keys in policy-checks that mcsd.te no longer has: $(echo $stale)"
dup=$(grep -v '^UNKEYED' <<<"$keys" | sort | uniq -d)
[ -z "$dup" ] && ok "no key names two rules" || fail "keys on more than one rule: $(echo $dup)"

# ---- build, out of the source tree ----
mkdir "$WORK/build"
cp "$SRC"/policy/mcsd.te "$SRC"/policy/mcsd.fc "$SRC"/policy/mcsd.if "$WORK/build/"
(cd "$WORK/build" && make -f /usr/share/selinux/devel/Makefile mcsd.pp) >"$WORK/make.log" 2>&1 ||
	die "the module does not build: $(cat "$WORK/make.log")"
grep -qi 'warning' "$WORK/make.log" && fail "the build warns: $(grep -i warning "$WORK/make.log")" ||
	ok "mcsd.pp builds with /usr/share/selinux/devel/Makefile, without warnings"

# ---- install into a copy of the store ----
ROOT=$WORK/root
mkdir -p "$ROOT/var/lib" "$ROOT/etc"
cp -a /var/lib/selinux "$ROOT/var/lib/"
cp -a /etc/selinux "$ROOT/etc/"
before=$(find /var/lib/selinux /etc/selinux -type f -newer "$WORK/make.log" | wc -l)
# -n: nothing is loaded into a kernel; libsemanage's notes about users
# without a passwd entry are not ours.
semodule -p "$ROOT" -s default -n -i "$WORK/build/mcsd.pp" >"$WORK/semodule.log" 2>&1 ||
	die "semodule refuses the module: $(cat "$WORK/semodule.log")"
semodule -p "$ROOT" -s default -l | grep -qx mcsd || die "mcsd is not in the store copy after semodule -i"
after=$(find /var/lib/selinux /etc/selinux -type f -newer "$WORK/make.log" | wc -l)
[ "$before" = "$after" ] || fail "the machine's own store changed"
policy=$(ls "$ROOT"/etc/selinux/default/policy/policy.* | sort -t. -k2 -n | tail -1)
[ -f "$policy" ] && [ "$policy" -nt "$WORK/make.log" ] || die "semodule wrote no new binary policy under $ROOT"
ok "semodule -p installs it into a copy of the store; $(basename "$policy") rebuilt, the machine's store untouched"

# ---- file contexts ----
FC=$ROOT/etc/selinux/default/contexts/files/file_contexts
expect_fc() { # PATH MODE TYPE
	local got
	got=$(matchpathcon -f "$FC" -m "$2" "$1" 2>&1 | awk '{ print $2 }')
	[ "${got#*:*:}" = "$3:s0" ] || fail "$1 ($2): $got, expected type $3"
}
n=$fails
expect_fc /usr/sbin/mcsd file mcsd_exec_t
expect_fc /etc/mcsd dir mcsd_conf_t
expect_fc /etc/mcsd/mcsd.conf file mcsd_conf_t
expect_fc /var/lib/mcsd dir mcsd_var_lib_t
expect_fc /var/lib/mcsd/registry.db file mcsd_var_lib_t
expect_fc /var/lib/mcsd/registry.db-journal file mcsd_var_lib_t
expect_fc /run/mcsd dir mcsd_runtime_t
expect_fc /run/mcsd/mcsd.sock sock_file mcsd_sock_t
expect_fc /run/mcsd/hook.sock sock_file mcsd_hook_sock_t
expect_fc /usr/bin/mcsctl file bin_t
[ $fails -eq $n ] && ok "file contexts: the binary, config, registry, runtime directory and both sockets"
# What the module's rules on libvirt's side rest on.
n=$fails
expect_fc /run/libvirt/libvirt-sock sock_file virt_runtime_t
expect_fc /run/libvirt/virtqemud-sock sock_file virt_runtime_t
expect_fc /var/lib/libvirt/images/guest.qcow2 file virt_image_t
[ $fails -eq $n ] && ok "file contexts: libvirtd's and virtqemud's sockets are virt_runtime_t, images virt_image_t"

# ---- access decisions ----
if "$POLICY_CHECK" "$policy" "$TABLE" >"$WORK/check.log" 2>&1; then
	ok "access decisions: $(tail -1 "$WORK/check.log")"
else
	fail "access decisions differ from policy-checks:
$(cat "$WORK/check.log")"
fi

# The store copy without the module knows none of mcsd's types: the
# checks above stand on the module, not on the base policy.
base=$(ls /etc/selinux/default/policy/policy.* | sort -t. -k2 -n | tail -1)
echo "entry allow system_u:system_r:mcsd_t:s0 system_u:object_r:mcsd_exec_t:s0 file entrypoint" >"$WORK/one"
"$POLICY_CHECK" "$base" "$WORK/one" >"$WORK/base.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "not a valid context" "$WORK/base.log" && ok "the installed base policy has no mcsd_t" ||
	fail "the base policy answered for mcsd_t (exit $rc): $(cat "$WORK/base.log")"

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "all passed"
