#!/bin/bash
# libvirtd runs the hook for every guest operation, and it waits for it:
# `mcsctl hook` must load nothing it does not need. mcsd parses the domain
# XML, so the client links no XML parser (libxml2 alone pulls ICU, lzma, zlib
# and libstdc++ in), nor the registry, SELinux or libvirt libraries.
set -euo pipefail
: "${MCSCTL:?}"
needed=$(readelf -d "$MCSCTL" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "FAIL: readelf found no NEEDED entries in $MCSCTL"; exit 1; }
bad=$(grep -E '^lib(xml2|icu|lzma|z|stdc\+\+|sqlite3|selinux|sepol|semanage|virt|systemd)[.-]' <<<"$needed" || true)
if [ -n "$bad" ]; then
	echo "FAIL: $MCSCTL (the hook client) links $(tr '\n' ' ' <<<"$bad")"
	exit 1
fi
grep -q '^libjson-c' <<<"$needed" || { echo "FAIL: $MCSCTL does not link json-c? NEEDED: $needed"; exit 1; }
echo "ok - the hook client links only: $(tr '\n' ' ' <<<"$needed")"
