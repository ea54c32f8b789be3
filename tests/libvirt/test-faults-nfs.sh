#!/bin/bash
# Faults of an nfs:// registry (issue 14): mcsd on a registry served by a
# real nfs-ganesha (NFSv3 through libnfs). The server stopped: mcsd keeps
# running, says the registry is failing in `mcsctl status` and its log,
# gives a new guest no label and the hook refuses its start; the server
# back, it recovers by itself. Then the server restarted while guests are
# being defined: every one ends labelled, no label twice.
#
# Like tests/nfs/nfs-registry.sh, it re-runs itself in new network and
# mount namespaces with its own loopback, /run, rpcbind and ganesha.
: "${MCSCTL:?}"
skip() { echo "SKIP: $*"; exit 77; }
if [ -z "${MCS_NFS_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	for t in unshare ip rpcbind rpcinfo ganesha.nfsd; do
		command -v "$t" >/dev/null || skip "$t not installed (scripts/deps.sh lists it)"
	done
	export MCS_NFS_NS=1
	exec unshare --net --mount --propagation private "$0" "$@"
fi
mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt
ip link set lo up
. "$(dirname "$0")/lib.sh"

mkdir "$WORK/export"
cat >"$WORK/ganesha.conf" <<CONF
NFS_CORE_PARAM { Protocols = 3; NFS_Port = 2049; MNT_Port = 20048; Enable_NLM = false; Enable_RQUOTA = false; Mount_Path_Pseudo = true; }
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = $WORK/export; Pseudo = /export; Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; Sectype = sys; FSAL { Name = VFS; } }
LOG { Default_Log_Level = EVENT; }
CONF
rpcbind -f -w &
echo $! >"$WORK/rpcbind.daemon.pid"
wait_for 30 rpcinfo -p 127.0.0.1 || fail "rpcbind did not answer"
server_up() { rpcinfo -T tcp 127.0.0.1 mountd 3 && rpcinfo -T tcp 127.0.0.1 nfs 3; }
ganesha_start() {
	ganesha.nfsd -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -p "$WORK/ganesha.daemon.pid" -N NIV_EVENT
	wait_for 60 server_up || fail "ganesha did not answer: $(tail -5 "$WORK/ganesha.log")"
}
ganesha_stop() {
	local pid
	pid=$(cat "$WORK/ganesha.daemon.pid")
	kill "$pid"
	wait_for 30 bash -c "! kill -0 $pid" || fail "ganesha did not stop"
}
ganesha_start

REG=nfs://127.0.0.1/export/registry
CONF=$WORK/h1.conf
export MCSD_CONFIG=$CONF
libvirtd_start h1
printf '%s\n' "uri = $(test_uri h1)" "registry = $REG" "host_id = h1" "socket = $WORK/mcsd.sock" \
	"hook_socket = $WORK/hook.sock" "hook_timeout = 4s" "busy_timeout = 3s" >"$CONF"
mcsd_start h1 "$CONF"
PID=$(cat "$WORK/h1.mcsd.pid")
M() { "$MCSCTL" --socket "$WORK/mcsd.sock" "$@"; }
U=$(test_uri h1)
alive() { kill -0 "$PID" 2>/dev/null || fail "mcsd died: $(tail -5 "$WORK/h1.log")"; }
in_registry() { [ "$("$REGISTRY_LIST" "$REG" | awk -v u="$(uuid_of "$U" "$1")" '$1 == u { print $3 }')" = "$(label_of "$U" "$1" | cut -d: -f4-)" ]; }
labelled() { has_static_label "$U" "$1" && in_registry "$1"; }
health_ok() { M status | grep -q "^registry:   .* (nfs): ok"; }
health_failing() { M status | grep -q "^registry:   .* (nfs): failing"; }
hook_start() {
	printf '%s' "<domain type='kvm'><name>$1</name><uuid>$2</uuid><memory unit='KiB'>65536</memory>" \
		"<os><type arch='x86_64' machine='pc'>hvm</type></os><seclabel type='static' model='selinux' relabel='yes'>" \
		"<label>system_u:system_r:svirt_t:$3</label></seclabel></domain>" >"$WORK/$1.xml"
	"$MCSCTL" hook qemu "$1" start begin - <"$WORK/$1.xml" 2>"$WORK/hook.err"
}

define "$U" n0 ""
wait_for 60 labelled n0 || fail "n0 was not labelled"
wait_for 20 health_ok || fail "health: $(M status)"

ganesha_stop
define "$U" n1 ""
wait_for 60 grep -q "guest 'n1': " "$WORK/h1.log" || fail "n1's failure is not logged"
wait_for 60 health_failing || fail "status with the server down: $(M status)"
if hook_start hn 0d0d0d0d-0000-4000-8000-0000000000f1 s0:c920,c921; then fail "the hook let a start through with the server down"; fi
alive
echo "# server down: $(M status | grep '^registry:' | cut -c1-300)"
ok "NFS server down: mcsd keeps running, status says failing, a new guest gets no label, the hook refuses"

ganesha_start
wait_for 90 labelled n1 || fail "n1 was not labelled once the server was back: $(M show n1 2>&1)"
wait_for 30 health_ok || fail "health after the server came back: $(M status)"
hook_start hn 0d0d0d0d-0000-4000-8000-0000000000f1 s0:c920,c921 || fail "hook after the server came back: $(cat "$WORK/hook.err")"
ok "NFS server back: mcsd recovers by itself"

# A restart while guests are being defined.
for i in 1 2 3 4 5 6; do define "$U" r$i ""; [ $i = 3 ] && { ganesha_stop; ganesha_start; }; done
for i in 1 2 3 4 5 6; do wait_for 90 labelled r$i || fail "r$i was not labelled after the restart"; done
labels=$("$REGISTRY_LIST" "$REG" | awk '{ print $3 }')
[ -z "$(sort <<<"$labels" | uniq -d)" ] || fail "a label is held twice: $labels"
alive
ok "NFS server restarted while guests were defined: every one labelled, no label twice"
echo "faults-nfs: server down and back, restarted mid-define; mcsd kept running and recovered"
