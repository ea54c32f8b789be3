#!/bin/bash
# The nfs:// registry against a real NFS server: nfs-ganesha with the VFS
# FSAL, serving a temporary directory over NFSv3 on loopback, used by
# several processes with different host ids through libnfs (no kernel
# mount). The race, dominance and kill checks of test-registry-dir-procs
# run against it, and the server is restarted in the middle of the race.
#
# ganesha's NFSv3 needs rpcbind (libnfs asks the portmapper for the MOUNT
# and NFS ports). So that neither takes port 111 or /run of the machine,
# the test re-runs itself in new network and mount namespaces, with its
# own loopback, its own tmpfs on /run, its own rpcbind and ganesha; it
# stops both when it ends. Needs root; skipped (77) without it or the tools.
set -euo pipefail

: "${PROCS:?PROCS: the test-registry-dir-procs binary}"

# The namespaces (and the skip without root or the tools), as for the
# libvirt suites' nfs tests.
. "$(dirname "$0")/../libvirt/nfs-ns.sh"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/mcs-nfs.XXXXXX")
mkdir "$work/export"
rpcbind_pid= ganesha_pid=

stop_ganesha() {
        if [ -n "$ganesha_pid" ] && kill -0 "$ganesha_pid" 2>/dev/null; then
                kill "$ganesha_pid"
                wait "$ganesha_pid" 2>/dev/null || true
        fi
        ganesha_pid=
}

cleanup() {
        stop_ganesha
        [ -n "$rpcbind_pid" ] && kill "$rpcbind_pid" 2>/dev/null && wait "$rpcbind_pid" 2>/dev/null || true
        if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

cat > "$work/ganesha.conf" <<CONF
NFS_CORE_PARAM {
        Protocols = 3;
        NFS_Port = 2049;
        MNT_Port = 20048;
        Enable_NLM = false;
        Enable_RQUOTA = false;
        Mount_Path_Pseudo = true;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
        Export_Id = 1;
        Path = $work/export;
        Pseudo = /export;
        Protocols = 3;
        Transports = TCP;
        Access_Type = RW;
        Squash = No_Root_Squash;
        Sectype = sys;
        FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
CONF

rpcbind -f -w &
rpcbind_pid=$!

# Waits (without a time limit of its own: meson's timeout ends a hung test)
# until the server answers MOUNT and NFS.
wait_for_server() {
        until rpcinfo -T tcp 127.0.0.1 mountd 3 >/dev/null 2>&1 && rpcinfo -T tcp 127.0.0.1 nfs 3 >/dev/null 2>&1; do
                kill -0 "$ganesha_pid" 2>/dev/null || { echo "ganesha died:"; tail -20 "$work/ganesha.log"; exit 1; }
                sleep 0.2
        done
}

start_ganesha() {
        ganesha.nfsd -F -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" -N NIV_EVENT &
        ganesha_pid=$!
        wait_for_server
}

until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
        kill -0 "$rpcbind_pid" || { echo "rpcbind died"; exit 1; }
        sleep 0.1
done
start_ganesha
echo "ganesha $ganesha_pid serves $work/export as 127.0.0.1:/export (NFSv3)"

# The race's restart: the test runs this once half the reservations are in.
cat > "$work/restart.sh" <<SH
#!/bin/bash
set -e
pid=\$(cat "$work/ganesha.pid")
kill "\$pid"
while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
ganesha.nfsd -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" -N NIV_EVENT
until rpcinfo -T tcp 127.0.0.1 mountd 3 >/dev/null 2>&1 && rpcinfo -T tcp 127.0.0.1 nfs 3 >/dev/null 2>&1; do sleep 0.2; done
echo "ganesha restarted: \$(cat "$work/ganesha.pid")" >&2
SH
chmod +x "$work/restart.sh"

rc=0
MCS_TEST_NFS=nfs://127.0.0.1/export MCS_TEST_RESTART="$work/restart.sh" MCS_TEST_SCALE="${MCS_TEST_SCALE:-60}" \
        "$PROCS" || rc=$?

# The restarted server is no child of this shell: stop it by its pid file.
if [ -s "$work/ganesha.pid" ]; then
        pid=$(cat "$work/ganesha.pid")
        if [ "$pid" != "$ganesha_pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill "$pid"
                while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        fi
fi
[ "$rc" -eq 0 ] || { echo "--- ganesha.log (tail)"; tail -30 "$work/ganesha.log"; }
echo "entries on the server: $(find "$work/export" -path '*/log/*' -type f | wc -l)"
exit "$rc"
