# Sourced first by every test and benchmark script that starts servers
# (libvirtd, virtlogd, QEMU, mcsd, etcd, rpcbind, ganesha): it re-runs the
# script as the first process of a PID namespace of its own (with its own
# mount namespace and /proc). libvirtd and virtlogd daemonize out of the
# test's process group, so meson's kill of that group at a timeout misses
# them; a namespace does not: when its first process ends, however it ends
# (its exit, meson's SIGTERM or SIGKILL, anyone's kill -9), the kernel
# kills every process left in it; if unshare itself is killed, --kill-child
# kills the script at once, and with it the namespace. (A test's own
# deadline, lib.sh's watchdog, comes before meson's and ends the test
# through its cleanup, which prints the logs.) MCS_PIDNS_ALSO: more unshare
# options (nfs-ns.sh adds --net).
if [ -z "${MCS_PIDNS:-}" ]; then
	export MCS_PIDNS=1
	exec unshare --pid --fork --kill-child --mount --mount-proc --propagation private \
		${MCS_PIDNS_ALSO:-} -- "$0" "$@"
fi
# The first process of a PID namespace gets no signal it has no handler for.
trap 'exit 143' TERM INT
