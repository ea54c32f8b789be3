#!/bin/bash
# The distribution packages build from the tree (issue 13): debian/ with
# dpkg-buildpackage, checked by lintian and installed, removed and purged
# by dpkg in a throwaway root; contrib/rpm/mcsd.spec with rpmbuild, its
# packages listed with rpm -qlp. Everything happens in a copy of the tree
# in a temporary directory: the real dpkg database and /etc are never used.
set -u
: "${SOURCE_ROOT:?}" "${VERSION:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
skip() { echo "SKIP: $*"; exit 77; }

for tool in git dpkg-buildpackage dh lintian rpmbuild rpm; do
	command -v "$tool" >/dev/null || skip "$tool missing (scripts/deps.sh installs the packaging tools)"
done

git -C "$SOURCE_ROOT" rev-parse --git-dir >/dev/null 2>&1 || skip "$SOURCE_ROOT is not a git tree: its files are git's"

WORK=$(mktemp -d /var/tmp/mcsd-packages.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
log() { echo "$WORK/$1.log"; }
# logtail NAME: the end of a step's log, for a failure message.
logtail() { tail -n 40 "$(log "$1")"; }

# The tree as it is, uncommitted changes included, without build directories
# and whatever else git ignores (and without files deleted but not yet
# committed as such).
copy_tree() {
	git -C "$SOURCE_ROOT" ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$SOURCE_ROOT/$f" ] && printf '%s\0' "$f"
		done |
		tar -C "$SOURCE_ROOT" --null -T - -cf - || fail "cannot list $SOURCE_ROOT's files with git"
}

policy=no
[ -f "$SOURCE_ROOT/policy/mcsd.te" ] && policy=yes

# ---------------------------------------------------------------- Debian ---
mkdir -p deb/mcsd-"$VERSION"
copy_tree | tar -C deb/mcsd-"$VERSION" -xf - || fail "cannot copy the tree"
(cd deb/mcsd-"$VERSION" && nice dpkg-buildpackage -us -uc) >"$(log dpkg-buildpackage)" 2>&1 ||
	fail "dpkg-buildpackage: $(logtail dpkg-buildpackage)"
arch=$(dpkg --print-architecture)
debs=()
for p in mcsd libmcs0 libmcs-dev; do
	deb=deb/${p}_${VERSION}_$arch.deb
	[ -f "$deb" ] || fail "dpkg-buildpackage made no $deb: $(ls deb)"
	debs+=("$deb")
done
ok "dpkg-buildpackage -us -uc builds mcsd, libmcs0 and libmcs-dev $VERSION"

# debcontents PACKAGE PATH...: PACKAGE's .deb has every PATH (a file or link).
debcontents() {
	local p=$1 path
	shift
	dpkg-deb -c "deb/${p}_${VERSION}_$arch.deb" | awk '{print $6}' | sed 's,^\.,,' >"$WORK/$p.list"
	for path in "$@"; do
		grep -qxF "$path" "$WORK/$p.list" || fail "$p does not have $path: $(cat "$WORK/$p.list")"
	done
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$multiarch
mcsd_files=(/usr/sbin/mcsd /usr/bin/mcsctl /etc/libvirt/hooks/qemu.d/mcsd /etc/libvirt/hooks/lxc.d/mcsd
	/lib/systemd/system/mcsd.service /lib/systemd/system/mcsd.socket /lib/systemd/system/mcsd-hook.socket
	/usr/share/man/man8/mcsd.8.gz /usr/share/man/man8/mcsctl.8.gz /usr/share/man/man5/mcsd.conf.5.gz
	/usr/share/bash-completion/completions/mcsctl /usr/share/doc/mcsd/mcsd.conf.example
	/usr/share/doc/mcsd/mcsd.md /usr/share/doc/mcsd/hook.md /usr/share/doc/mcsd/copyright
	/usr/lib/systemd/catalog/mcsd.catalog)
lib_files=("$libdir/libmcs.so.0" "$libdir/libmcs.so.$VERSION")
dev_files=("$libdir/libmcs.so" "$libdir/pkgconfig/libmcs.pc" /usr/include/mcs/mcs-registry.h /usr/include/mcs/mcs-level.h)
if [ $policy = yes ]; then
	mcsd_files+=(/usr/share/selinux/packages/mcsd/mcsd.te /usr/share/selinux/packages/mcsd/mcsd.fc
		/usr/share/selinux/devel/include/contrib/mcsd.if)
fi
debcontents mcsd "${mcsd_files[@]}"
debcontents libmcs0 "${lib_files[@]}"
debcontents libmcs-dev "${dev_files[@]}"
# The library is in libmcs0 alone, the headers in libmcs-dev alone.
! grep -q 'libmcs\.so\|^/usr/include' "$WORK/mcsd.list" || fail "mcsd has libmcs files: $(grep 'libmcs\|include' "$WORK/mcsd.list")"
! grep -q '^/usr/include' "$WORK/libmcs0.list" || fail "libmcs0 has headers"
ok "each package has its files: mcsd the programs, hooks, units, man pages, completion and documents"

nice lintian --fail-on error --tag-display-limit 0 deb/mcsd_"${VERSION}"_"$arch".changes >"$(log lintian)" 2>&1 ||
	fail "lintian reports errors: $(cat "$(log lintian)")"
grep -E '^[EW]: ' "$(log lintian)" | sed 's/^/# lintian: /'
ok "lintian: no errors ($(grep -c '^W: ' "$(log lintian)") warnings)"

# ---- dpkg in a throwaway root ----
if [ "$(id -u)" -ne 0 ]; then
	echo "# not root: dpkg --root is not tried"
else
	R=$WORK/root
	mkdir -p "$R"/var/lib/dpkg/{info,updates}
	touch "$R"/var/lib/dpkg/{status,available}
	host_before=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' mcsd libmcs0 libmcs-dev 2>/dev/null)
	# The maintainer scripts run on this host with DPKG_ROOT=$R (there is no
	# shell in $R to chroot into); dh_installsystemd's snippets honour it.
	# Dependencies are this host's, not $R's: --force-depends.
	rdpkg() { dpkg --root="$R" --log="$WORK/dpkg.log" --force-script-chrootless "$@"; }
	rdpkg --force-depends -i "${debs[@]}" >"$(log dpkg-install)" 2>&1 || fail "dpkg -i: $(logtail dpkg-install)"
	for f in "${mcsd_files[@]}" "${lib_files[@]}" "${dev_files[@]}"; do
		[ -e "$R$f" ] || fail "dpkg -i did not install $f"
	done
	for f in /usr/sbin/mcsd /usr/bin/mcsctl /etc/libvirt/hooks/qemu.d/mcsd /etc/libvirt/hooks/lxc.d/mcsd; do
		[ "$(stat -c %a "$R$f")" = 755 ] || fail "$f has mode $(stat -c %a "$R$f")"
	done
	[ ! -e "$R/etc/mcsd/mcsd.conf" ] || fail "the package installed an /etc/mcsd/mcsd.conf"
	# Nothing enables the units on installation.
	[ -z "$(find "$R/etc" -name 'mcsd*.socket' -o -name 'mcsd.service')" ] ||
		fail "units enabled: $(find "$R/etc" -name 'mcsd*')"
	conffiles=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Conffiles}' mcsd)
	for f in /etc/libvirt/hooks/qemu.d/mcsd /etc/libvirt/hooks/lxc.d/mcsd; do
		grep -q "^ $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
	done
	out=$("$R/usr/bin/mcsctl" --help 2>&1) || fail "the installed mcsctl --help: $out"
	grep -q '^Usage: mcsctl' <<<"$out" || fail "the installed mcsctl --help: $out"
	# The -dev package is enough to build against the installed libmcs.
	pkg() { PKG_CONFIG_PATH="$R$libdir/pkgconfig" pkg-config --define-variable=prefix="$R/usr" "$@" libmcs; }
	# shellcheck disable=SC2046 # flags are words
	cc -std=c11 -Wall -Werror $(pkg --cflags) -o "$WORK/libmcs-user" "$SOURCE_ROOT/tests/ship/libmcs-user.c" $(pkg --libs) \
		>"$(log cc)" 2>&1 || fail "cannot build against the installed libmcs-dev: $(cat "$(log cc)")"
	out=$(LD_LIBRARY_PATH=$R$libdir "$WORK/libmcs-user" "$WORK/registry.db" 2>&1) || fail "libmcs-user: $out"
	grep -qx 'level s0:c3,c7' <<<"$out" || fail "libmcs-user: $out"
	ok "dpkg -i into a throwaway root: files, modes, conffiles, no unit enabled; mcsctl runs, libmcs-dev builds a program"

	rdpkg --remove mcsd libmcs-dev libmcs0 >"$(log dpkg-remove)" 2>&1 || fail "dpkg --remove: $(logtail dpkg-remove)"
	for f in /usr/sbin/mcsd /usr/bin/mcsctl "${lib_files[@]}" "${dev_files[@]}" /lib/systemd/system/mcsd.service; do
		[ ! -e "$R$f" ] || fail "dpkg --remove left $f"
	done
	# Removed, not purged: the hooks stay (conffiles) and must let guests start.
	for driver in qemu lxc; do
		hook=$R/etc/libvirt/hooks/$driver.d/mcsd
		[ -f "$hook" ] || fail "dpkg --remove took the conffile $hook"
		# Run as in $R: its mcsctl, not this host's.
		sed "s,/usr/bin/mcsctl,$R/usr/bin/mcsctl,g" "$hook" >"$WORK/hook"
		grep -q "$R/usr/bin/mcsctl" "$WORK/hook" || fail "$hook does not run /usr/bin/mcsctl: $(cat "$hook")"
		out=$(sh "$WORK/hook" guest-1 prepare begin - </dev/null 2>&1) || fail "the $driver hook left by dpkg --remove fails: $out"
	done
	rdpkg --purge mcsd libmcs-dev libmcs0 >"$(log dpkg-purge)" 2>&1 || fail "dpkg --purge: $(logtail dpkg-purge)"
	left=$(cd "$R" && find . -path ./var/lib/dpkg -prune -o ! -type d -print)
	[ -z "$left" ] || fail "dpkg --purge left: $left"
	left=$(dpkg-query --admindir="$R/var/lib/dpkg" -W 2>/dev/null)
	[ -z "$left" ] || fail "packages left in the root's database: $left"
	host_after=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' mcsd libmcs0 libmcs-dev 2>/dev/null)
	[ "$host_before" = "$host_after" ] || fail "this host's dpkg database changed: $host_before -> $host_after"
	ok "dpkg --remove leaves the hooks, which let guests start; --purge leaves no file"
fi

# ------------------------------------------------------------------- RPM ---
T=$WORK/rpm
mkdir -p "$T/SOURCES" "$T/tmp" "$T/db"
copy_tree | tar -C "$T" --transform "s,^,mcsd-$VERSION/," -xf - || fail "cannot copy the tree"
tar -C "$T" -czf "$T/SOURCES/mcsd-$VERSION.tar.gz" "mcsd-$VERSION" || fail "cannot make the Source0 tarball"
without=()
[ $policy = yes ] || without=(--without selinux)
# --nodeps: the BuildRequires are Fedora's names, which dpkg does not know.
nice rpmbuild -bb --nodeps "${without[@]}" --define "_topdir $T" --define "_tmppath $T/tmp" --dbpath "$T/db" \
	"$T/mcsd-$VERSION/contrib/rpm/mcsd.spec" >"$(log rpmbuild)" 2>&1 || fail "rpmbuild: $(logtail rpmbuild)"
rpms=$(find "$T/RPMS" -name '*.rpm' -printf '%f\n' | sort | tr '\n' ' ')
rpmlist() {
	local f
	f=$(find "$T/RPMS" -name "$1-$VERSION-1*.rpm")
	[ -n "$f" ] || fail "rpmbuild made no $1: $rpms"
	rpm --dbpath "$T/db" -qlp "$f" >"$WORK/$1.rpmlist" 2>&1 || fail "rpm -qlp $f: $(cat "$WORK/$1.rpmlist")"
}
# rpmhas PACKAGE PATTERN...: rpm -qlp lists a path matching each (grep -x).
rpmhas() {
	local p=$1 re
	shift
	rpmlist "$p"
	for re in "$@"; do
		grep -qx "$re" "$WORK/$p.rpmlist" || fail "$p has no $re: $(cat "$WORK/$p.rpmlist")"
	done
}
rpmhas mcsd '/usr/s\?bin/mcsd' /usr/bin/mcsctl /etc/libvirt/hooks/qemu.d/mcsd /etc/libvirt/hooks/lxc.d/mcsd \
	'/usr/lib/systemd/system/mcsd.service' '/usr/lib/systemd/system/mcsd.socket' '/usr/lib/systemd/system/mcsd-hook.socket' \
	'/usr/share/man/man8/mcsd.8.*' '/usr/share/man/man8/mcsctl.8.*' '/usr/share/man/man5/mcsd.conf.5.*' \
	/usr/share/bash-completion/completions/mcsctl /usr/share/doc/mcsd/mcsd.conf.example \
	/usr/lib/systemd/catalog/mcsd.catalog
rpmhas mcsd-libs '/usr/lib[0-9]*/libmcs.so.0' "/usr/lib[0-9]*/libmcs.so.$VERSION"
rpmhas mcsd-devel '/usr/lib[0-9]*/libmcs.so' '/usr/lib[0-9]*/pkgconfig/libmcs.pc' /usr/include/mcs/mcs-registry.h
configs=$(rpm --dbpath "$T/db" -qcp "$(find "$T/RPMS" -name "mcsd-$VERSION-1*.rpm")")
grep -qx /etc/libvirt/hooks/qemu.d/mcsd <<<"$configs" || fail "the hooks are not %config: $configs"
if [ $policy = yes ]; then
	rpmhas mcsd-selinux /usr/share/selinux/packages/mcsd.pp
	out=$(rpm --dbpath "$T/db" -qp --scripts "$(find "$T/RPMS" -name "mcsd-selinux-$VERSION-1*.rpm")")
	grep -q 'semodule.*-i.*/usr/share/selinux/packages/mcsd.pp' <<<"$out" || fail "mcsd-selinux does not install its module: $out"
	grep -q 'semodule.*-r.*mcsd' <<<"$out" || fail "mcsd-selinux does not remove its module: $out"
	ok "rpmbuild -bb builds mcsd, mcsd-libs, mcsd-devel and mcsd-selinux (mcsd.pp, semodule -i/-r); rpm -qlp lists their files"
else
	[ -z "$(find "$T/RPMS" -name 'mcsd-selinux*')" ] || fail "an mcsd-selinux without policy/mcsd.te: $rpms"
	ok "rpmbuild -bb --without selinux (no policy/mcsd.te) builds mcsd, mcsd-libs, mcsd-devel; rpm -qlp lists their files"
fi
