#!/bin/bash
# `meson install` into a DESTDIR: every file in its place with its mode, the
# units and the hooks pointing at the installed programs, and libmcs usable
# by another program through its pkg-config file alone.
set -u
: "${BUILD_ROOT:?}" "${SOURCE_ROOT:?}" "${PREFIX:?}" "${BINDIR:?}" "${SBINDIR:?}" "${LIBDIR:?}" "${INCLUDEDIR:?}"
: "${MANDIR:?}" "${DATADIR:?}" "${UNITDIR:?}" "${HOOKSDIR:?}" "${COMPLETIONDIR:?}" "${MAN_PAGES:?}" "${USER_C:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

WORK=$(mktemp -d /var/tmp/mcsd-ship.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
D=$WORK/root

meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$D" >"$WORK/install.log" 2>&1 ||
	fail "meson install: $(cat "$WORK/install.log")"

# installed MODE PATH: PATH exists in the DESTDIR as a regular file with MODE.
installed() {
	[ -f "$D$2" ] && [ ! -L "$D$2" ] || fail "not installed: $2"
	[ "$(stat -c %a "$D$2")" = "$1" ] || fail "$2 has mode $(stat -c %a "$D$2"), expected $1"
}

installed 755 "$BINDIR/mcsctl"
installed 755 "$SBINDIR/mcsd"
ok "mcsd in $SBINDIR, mcsctl in $BINDIR"

# libvirtd reads /etc/libvirt/hooks whatever mcsd's prefix is.
[ "$HOOKSDIR" = /etc/libvirt/hooks ] || fail "hooks go to $HOOKSDIR, not /etc/libvirt/hooks (option libvirt_hooks_dir)"
for driver in qemu lxc; do
	hook=$HOOKSDIR/$driver.d/mcsd
	installed 755 "$hook"
	grep -qx "exec $BINDIR/mcsctl hook $driver \"\$@\"" "$D$hook" || fail "$hook does not run $BINDIR/mcsctl: $(cat "$D$hook")"
done
[ ! -e "$D$PREFIX/etc/libvirt" ] || [ "$PREFIX/etc" = /etc ] || fail "hooks also under $PREFIX/etc/libvirt"
ok "hooks at $HOOKSDIR/qemu.d/mcsd and lxc.d/mcsd, mode 755, running the installed mcsctl"

for unit in mcsd.service mcsd.socket mcsd-hook.socket; do
	installed 644 "$UNITDIR/$unit"
done
grep -qx "ExecStart=$SBINDIR/mcsd" "$D$UNITDIR/mcsd.service" || fail "mcsd.service: $(grep ExecStart "$D$UNITDIR/mcsd.service")"
installed 644 "$PREFIX/lib/systemd/catalog/mcsd.catalog"
cmp -s "$SOURCE_ROOT/contrib/systemd/mcsd.catalog" "$D$PREFIX/lib/systemd/catalog/mcsd.catalog" || fail "mcsd.catalog differs"
ok "systemd units in $UNITDIR, ExecStart the installed mcsd; the journal catalog in $PREFIX/lib/systemd/catalog"

docdir=$DATADIR/doc/mcsd
installed 644 "$docdir/mcsd.conf.example"
cmp -s "$SOURCE_ROOT/contrib/config/mcsd.conf" "$D$docdir/mcsd.conf.example" || fail "mcsd.conf.example differs"
[ ! -e "$D/etc/mcsd/mcsd.conf" ] || fail "an /etc/mcsd/mcsd.conf was installed over the operator's"
for doc in mcsd.md mcsctl.md mcsd.conf.md protocol.md hook.md registry.md; do
	installed 644 "$docdir/$doc"
done
# Every document a shipped document links to is shipped too.
for link in $(grep -oh '](\([a-z.-]*\.md\))' "$D$docdir"/*.md | sed 's/^](\(.*\))$/\1/' | sort -u); do
	[ -f "$D$docdir/$link" ] || fail "a document links to $link, which is not installed"
done
ok "example config and documents in $docdir; nothing in /etc/mcsd"

installed 644 "$DATADIR/mcsd/prometheus/mcsd-rules.yml"
cmp -s "$SOURCE_ROOT/contrib/prometheus/mcsd-rules.yml" "$D$DATADIR/mcsd/prometheus/mcsd-rules.yml" || fail "mcsd-rules.yml differs"
ok "the Prometheus alert rules in $DATADIR/mcsd/prometheus"

if [ "$MAN_PAGES" = yes ]; then
	installed 644 "$MANDIR/man8/mcsd.8"
	installed 644 "$MANDIR/man8/mcsctl.8"
	installed 644 "$MANDIR/man5/mcsd.conf.5"
	ok "man pages mcsd(8), mcsctl(8), mcsd.conf(5) in $MANDIR"
else
	echo "# man pages not built (-Dman=disabled or no go-md2man): not checked"
fi

installed 644 "$COMPLETIONDIR/mcsctl"
cmp -s "$SOURCE_ROOT/contrib/bash-completion/mcsctl" "$D$COMPLETIONDIR/mcsctl" || fail "completion differs"
ok "bash completion at $COMPLETIONDIR/mcsctl"

# The policy module's sources, when policy/ has them.
for ext in te fc if; do
	[ -f "$SOURCE_ROOT/policy/mcsd.$ext" ] || continue
	installed 644 "$DATADIR/selinux/packages/mcsd/mcsd.$ext"
	echo "# policy/mcsd.$ext installed"
done
if [ -f "$SOURCE_ROOT/policy/mcsd.if" ]; then
	installed 644 "$DATADIR/selinux/devel/include/contrib/mcsd.if"
fi

# ---- libmcs ----
so=$LIBDIR/libmcs.so.0.1.0
installed 755 "$so"
[ "$(readlink "$D$LIBDIR/libmcs.so.0")" = libmcs.so.0.1.0 ] || fail "libmcs.so.0 is not a link to libmcs.so.0.1.0"
[ "$(readlink "$D$LIBDIR/libmcs.so")" = libmcs.so.0 ] || fail "libmcs.so is not a link to libmcs.so.0"
readelf -d "$D$so" | grep -q 'Library soname: \[libmcs.so.0\]' || fail "soname: $(readelf -d "$D$so" | grep SONAME)"
nm -D --defined-only "$D$so" >"$WORK/nm" || fail "nm -D $so"
# Type A is the version node (MCS_0) itself.
others=$(awk '$2 != "A" && $3 !~ /^mcs_/ {print $3}' "$WORK/nm")
[ -z "$others" ] || fail "libmcs.so exports symbols outside mcs_: $others"
grep -q ' T mcs_level_parse@@MCS_0$' "$WORK/nm" || fail "mcs_level_parse not exported with version MCS_0: $(grep mcs_level_parse "$WORK/nm")"
ok "libmcs.so.0.1.0, soname libmcs.so.0, exports $(awk '$2 != "A"' "$WORK/nm" | wc -l) symbols, all mcs_"

headers=(mcs-alloc.h mcs-catset.h mcs-config.h mcs-context.h mcs-domain-xml.h mcs-error.h mcs-level.h mcs-pair.h mcs-registry.h)
for h in "${headers[@]}"; do
	installed 644 "$INCLUDEDIR/mcs/$h"
done
pc=$LIBDIR/pkgconfig/libmcs.pc
installed 644 "$pc"

# Built as another project would: the DESTDIR's headers and library only,
# through pkg-config with the prefix moved into the DESTDIR.
pkg() { PKG_CONFIG_PATH="$D$LIBDIR/pkgconfig" pkg-config --define-variable=prefix="$D$PREFIX" "$@" libmcs; }
[ "$(pkg --modversion)" = 0.1.0 ] || fail "pkg-config --modversion libmcs: $(pkg --modversion 2>&1)"
cflags=$(pkg --cflags) && libs=$(pkg --libs) || fail "pkg-config libmcs: $(pkg --cflags --libs 2>&1)"
[[ $libs == *"-L$D$LIBDIR"* ]] || fail "pkg-config --libs: $libs"
san=
[ "${SANITIZE:-none}" = none ] || san=-fsanitize=$SANITIZE
# shellcheck disable=SC2086 # flags are words
${CC:-cc} -std=c11 -Wall -Wextra -Werror $san $cflags -o "$WORK/libmcs-user" "$USER_C" $libs 2>"$WORK/cc.log" ||
	fail "cannot build against the installed libmcs: $(cat "$WORK/cc.log")"
LD_LIBRARY_PATH=$D$LIBDIR ldd "$WORK/libmcs-user" | grep -q "libmcs.so.0 => $D$LIBDIR/libmcs.so.0 " ||
	fail "libmcs-user does not load the installed libmcs: $(LD_LIBRARY_PATH=$D$LIBDIR ldd "$WORK/libmcs-user")"
out=$(LD_LIBRARY_PATH=$D$LIBDIR "$WORK/libmcs-user" "$WORK/registry.db" 2>&1) || fail "libmcs-user: $out"
grep -qx 'level s0:c3,c7' <<<"$out" || fail "libmcs-user: $out"
grep -q "^refused: 's0:c1024': category c1024 out of range" <<<"$out" || fail "libmcs-user: $out"
grep -qE '^reserved s0:c[0-9]+,c[0-9]+ for ship-1 on ship$' <<<"$out" || fail "libmcs-user: $out"
ok "a program built with pkg-config against the installed headers and libmcs.so.0 parses a level and reserves a pair"

