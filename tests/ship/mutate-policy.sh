#!/bin/bash
# By hand (a few minutes; not part of the suite): shows that every rule of
# policy/mcsd.te is needed by a check in policy-checks. For each keyed rule
# it builds the module without that line, installs it into a copy of the
# store and runs the table: some check with that key must then fail. A rule
# whose removal no check notices is reported (it is either redundant with
# the base policy, and should go, or its check is too weak).
#   tests/ship/mutate-policy.sh BUILDDIR [KEY...]
set -u
BUILD=${1:?usage: $0 BUILDDIR [KEY...]}
shift
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CHECK=$BUILD/tests/ship/policy-check
[ -x "$CHECK" ] || { echo "no $CHECK: build first" >&2; exit 2; }
WORK=$(mktemp -d /tmp/mcsd-mutate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root/var/lib" "$WORK/root/etc" "$WORK/build"
cp -a /var/lib/selinux "$WORK/root/var/lib/"
cp -a /etc/selinux "$WORK/root/etc/"
cp "$SRC"/policy/mcsd.fc "$SRC"/policy/mcsd.if "$WORK/build/"

keys=("$@")
[ ${#keys[@]} -gt 0 ] || mapfile -t keys < <(grep -o '# \[[a-z]*\]$' "$SRC/policy/mcsd.te" | tr -d '#[] ')
survived=()
for k in "${keys[@]}"; do
	grep -v "# \[$k\]\$" "$SRC/policy/mcsd.te" >"$WORK/build/mcsd.te"
	rm -f "$WORK/build/mcsd.pp"
	if ! (cd "$WORK/build" && make -f /usr/share/selinux/devel/Makefile mcsd.pp) >"$WORK/log" 2>&1; then
		echo "$k: caught (the module no longer builds)"
		continue
	fi
	if ! semodule -p "$WORK/root" -s default -n -i "$WORK/build/mcsd.pp" >"$WORK/log" 2>&1; then
		echo "$k: caught (semodule refuses the module)"
		continue
	fi
	policy=$(ls "$WORK"/root/etc/selinux/default/policy/policy.* | sort -t. -k2 -n | tail -1)
	"$CHECK" "$policy" "$SRC/tests/ship/policy-checks" >"$WORK/log" 2>&1
	rc=$?
	if grep -q "^FAIL .* \[$k\]:" "$WORK/log"; then
		echo "$k: caught ($(grep -c "^FAIL .* \[$k\]:" "$WORK/log") of its checks fail)"
	elif [ $rc -eq 2 ]; then
		echo "$k: caught (the table no longer applies: $(tail -1 "$WORK/log"))"
	else
		echo "$k: SURVIVED: no check with this key fails without the rule"
		survived+=("$k")
	fi
done
[ ${#survived[@]} -eq 0 ] || { echo "survived: ${survived[*]}"; exit 1; }
echo "every rule is needed by a check"
