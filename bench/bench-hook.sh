#!/bin/bash
# The hook's round trip, through the hook script as libvirtd runs it, beside
# a bare exec of /bin/true and a real QEMU (TCG) guest start measured in
# the same run, on a private libvirtd without the hook.
set -euo pipefail
# Whatever ends this benchmark ends every server it started.
. "$(dirname "$0")/../tests/libvirt/pidns.sh"
: "${BENCH_HOOK:?}" "${MCSCTL:?}" "${MCSD:?}" "${PRIVATE_LIBVIRTD:?}" "${HOOK_SCRIPT:?}"
work=$(mktemp -d /var/tmp/mcsd-bench-hook.XXXXXX)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	"$PRIVATE_LIBVIRTD" stop "$work/lv" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$PRIVATE_LIBVIRTD" start "$work/lv"
uri="qemu+unix:///system?socket=$work/lv/run/libvirt-sock"
cat >"$work/g.xml" <<XML
<domain type='qemu'><name>bench-start</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>$(command -v qemu-system-x86_64)</emulator></devices></domain>
XML
virsh -q -c "$uri" define "$work/g.xml" >/dev/null
starts=()
for _ in 1 2 3 4 5; do
	t0=$(date +%s%N)
	virsh -q -c "$uri" start bench-start >/dev/null
	starts+=($((($(date +%s%N) - t0) / 1000)))
	virsh -q -c "$uri" destroy bench-start >/dev/null
done
start_ms=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 3p | awk '{printf "%.1f", $1 / 1000}')

. "$(dirname "$0")/mcsd-alone.sh"
mcsd_alone "$work"
# The hook as installed (contrib/libvirt/mcsd-hook.in, configured for qemu),
# with this build's mcsctl in place of the installed one.
mkdir -p "$work/hooks/qemu.d"
sed "s|^exec .*/mcsctl |exec $MCSCTL |" "$HOOK_SCRIPT" >"$work/hooks/qemu.d/mcsd"
chmod 755 "$work/hooks/qemu.d/mcsd"
grep -q "^exec $MCSCTL hook qemu \"\$@\"\$" "$work/hooks/qemu.d/mcsd" || { echo "unexpected hook script $HOOK_SCRIPT" >&2; exit 1; }
out=$(MCSD_CONFIG="$work/mcsd.conf" HOOK_SOCKET="$work/hook.sock" RAW_DIR="$work" \
	"$BENCH_HOOK" "$work/hooks/qemu.d/mcsd" "$MCSCTL")
echo "$out"
echo "guest_start_ms_p50: $start_ms ms"
p50=$(awk '/^hook_start_begin_ms_p50:/ { print $2 }' <<<"$out")
awk -v h="$p50" -v s="$start_ms" 'BEGIN { printf "hook_vs_guest_start_ratio: %.4f ratio\n", h / s }'
