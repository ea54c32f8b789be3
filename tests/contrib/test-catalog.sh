#!/bin/bash
# The journal catalog: journalctl compiles it (catalog(7) syntax), and it
# explains exactly the MESSAGE_IDs mcsd and its hook send.
set -euo pipefail
: "${CATALOG:?}" "${MESSAGE_IDS:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$work/usr/lib/systemd/catalog"
cp "$CATALOG" "$work/usr/lib/systemd/catalog/"
journalctl --root="$work" --update-catalog 2>"$work/err" || fail "journalctl --update-catalog: $(cat "$work/err")"
[ ! -s "$work/err" ] || fail "journalctl --update-catalog complained: $(cat "$work/err")"
journalctl --root="$work" --list-catalog | awk '{ print $1 }' | sort >"$work/listed"
sed -n 's/^#define MCS_MSGID_[A-Z_]* "\([0-9a-f]\{32\}\)".*/\1/p' "$MESSAGE_IDS" | sort >"$work/defined"
[ "$(wc -l <"$work/defined")" -ge 9 ] || fail "fewer ids than event kinds in $MESSAGE_IDS"
[ -z "$(uniq -d "$work/defined")" ] || fail "an id is used twice: $(uniq -d "$work/defined")"
diff -u "$work/defined" "$work/listed" || fail "the catalog and $MESSAGE_IDS disagree"
for id in $(cat "$work/defined"); do
	text=$(journalctl --root="$work" --dump-catalog "$id")
	grep -q "^Subject: " <<<"$text" || fail "$id has no Subject"
	grep -q "^Defined-By: mcsd$" <<<"$text" || fail "$id has no Defined-By"
	grep -q "^Documentation: man:mcsd(8)$" <<<"$text" || fail "$id has no Documentation"
done
echo "ok - the catalog compiles and explains each of the $(wc -l <"$work/defined") MESSAGE_IDs mcsd sends"
