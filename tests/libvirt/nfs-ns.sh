# Sourced, before lib.sh, by the tests that use an nfs:// registry served
# by a real nfs-ganesha (NFSv3, reached through libnfs), and by
# tests/nfs/nfs-registry.sh: it re-runs the test in new network, mount and
# PID namespaces (pidns.sh), with its own loopback and its own tmpfs on /run, so that its
# rpcbind and ganesha (lib.sh's nfs_serve) take neither port 111 nor /run
# of the machine. Skipped (77) without root or the tools.
skip() { echo "SKIP: $*"; exit 77; }
if [ -z "${MCS_NFS_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "needs root (network and mount namespaces, rpcbind, ganesha)"
	for t in unshare ip rpcbind rpcinfo ganesha.nfsd; do
		command -v "$t" >/dev/null || skip "$t not installed (scripts/deps.sh lists it)"
	done
	compgen -G "/usr/lib*/ganesha/libfsalvfs.so" >/dev/null || compgen -G "/usr/lib/*/ganesha/libfsalvfs.so" >/dev/null ||
		skip "nfs-ganesha-vfs not installed"
	export MCS_NFS_NS=1
	MCS_PIDNS_ALSO=--net
fi
. "$(dirname "${BASH_SOURCE[0]}")/pidns.sh"

mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt
ip link set lo up
