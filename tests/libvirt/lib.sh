# Shared by the libvirt suites: real libvirtds in private mount namespaces,
# mcsd processes, and assertions. Sourced by each test-*.sh.
set -euo pipefail
# Whatever ends this test ends every server it started (pidns.sh).
. "$(dirname "${BASH_SOURCE[0]}")/pidns.sh"
# The test's own stderr, for failures said from inside redirected commands.
exec {MCS_STDERR}>&2

: "${MCSD:?}" "${REGISTRY_LIST:?}" "${NOTIFY_LISTEN:?}" "${PRIVATE_LIBVIRTD:?}"
WORK=$(mktemp -d /var/tmp/mcsd-libvirt.XXXXXX)
LIBVIRTDS=()

cleanup() {
	local rc=$? f
	# A second TERM (the watchdog's, after a set -e exit) must not cut it short.
	trap '' TERM INT
	for f in "$WORK"/*.mcsd.pid "$WORK"/*.notify.pid "$WORK"/*.etcd.pid "$WORK"/*.daemon.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	for f in "${LIBVIRTDS[@]}"; do "$PRIVATE_LIBVIRTD" stop "$WORK/$f" || true; done
	if [ $rc -ne 0 ]; then
		for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
		for f in "${LIBVIRTDS[@]}"; do echo "--- libvirtd $f"; tail -20 "$WORK/$f/log/libvirtd.log" 2>/dev/null || true; done
	fi
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Every call into libvirt has a deadline (MCS_VIRSH_TIMEOUT, 60 s): a libvirtd
# that hangs, or re-probes its emulators at every call (see the README on
# /dev/kvm), fails the test with the call and its time, not a meson timeout.
# The call in flight is kept in $WORK/.calling for the watchdog below.
virsh() {
	local rc=0 t0=$SECONDS limit=${MCS_VIRSH_TIMEOUT:-60}
	printf '%s (since %s s into the test)\n' "virsh $*" "$SECONDS" >"$WORK/.calling"
	timeout -k 5 "$limit" virsh "$@" || rc=$?
	rm -f "$WORK/.calling"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL: libvirt did not answer 'virsh $*' in $((SECONDS - t0)) s (MCS_VIRSH_TIMEOUT=$limit)" >&"$MCS_STDERR"
		# In a command substitution or pipeline this ends only that subshell:
		# the test's own check then fails on the missing output, after this line.
		exit 1
	fi
	return $rc
}

# The whole test has a deadline too, below meson's (MCS_TEST_TIMEOUT, the
# test's meson timeout, less 30 s): past it the watchdog says what was in
# flight and for how long, and ends the test through its cleanup, which
# prints the logs and stops every server.
test_watchdog() {
	local limit=$(( ${MCS_TEST_TIMEOUT:-600} - 30 )) test_pid=$$
	(
		# Not ended by its own pkill of the test's children below.
		trap '' TERM INT
		trap - EXIT
		sleep "$limit"
		echo "FAIL: the test ran for $limit s, 30 s short of its meson timeout (${MCS_TEST_TIMEOUT:-600} s)." \
			"In flight: $(cat "$WORK/.calling" 2>/dev/null || echo 'no libvirt call'); the test's processes:" >&"$MCS_STDERR"
		ps -o pid=,etimes=,args= --ppid "$test_pid" >&"$MCS_STDERR" || true
		touch "$WORK/.watchdog"
		# The test runs its trap once its foreground command ends. So: note
		# its children in its session (not the servers, which left it, nor
		# this watchdog, which ignores TERM), end the test (its TERM waits
		# for that command), then those children. In the other order a
		# child's end could start the cleanup (set -e) and the test's TERM,
		# arriving next, cut it short before it ignores TERM; and children
		# looked up after the TERM could be the cleanup's own.
		local kids
		kids=$(pgrep -P "$test_pid" -s 0 || true)
		kill -TERM "$test_pid"
		[ -z "$kids" ] || kill -TERM $kids 2>/dev/null || true
	) </dev/null &
}
test_watchdog
ok() { echo "ok - $*"; }

# wait_for SECONDS COMMAND...: polls until COMMAND succeeds, for at most
# SECONDS of wall-clock time (a slow COMMAND counts).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

# etcd_start: a 3-member etcd cluster on free loopback ports, data in
# $WORK/etcd-N; sets ETCD_LOCATION (etcd://.../mcsd) and waits for a leader.
etcd_start() {
	local ports i cluster=""
	read -ra ports < <(python3 -c 'import socket
s = [socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
	ETCD_CLIENT_PORTS=("${ports[0]}" "${ports[1]}" "${ports[2]}")
	ETCD_PEER_PORTS=("${ports[3]}" "${ports[4]}" "${ports[5]}")
	for i in 0 1 2; do cluster+="${cluster:+,}m$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"; done
	ETCD_CLUSTER=$cluster
	for i in 0 1 2; do etcd_member_start $i new; done
	ETCD_LOCATION="etcd://127.0.0.1:${ETCD_CLIENT_PORTS[0]},127.0.0.1:${ETCD_CLIENT_PORTS[1]},127.0.0.1:${ETCD_CLIENT_PORTS[2]}/mcsd"
	wait_for 60 etcd_healthy || fail "etcd did not elect a leader"
}
# etcd_member_start I new|existing
etcd_member_start() {
	local i=$1
	etcd --name "m$i" --data-dir "$WORK/etcd-$i" \
		--listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
		--advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
		--initial-cluster "$ETCD_CLUSTER" --initial-cluster-state "$2" --initial-cluster-token "$WORK" \
		>>"$WORK/etcd-$i.out" 2>&1 &
	echo $! >"$WORK/m$i.etcd.pid"
}
etcd_member_kill() { kill -9 "$(cat "$WORK/m$1.etcd.pid")" 2>/dev/null || true; }
etcd_healthy() { curl -sf "http://127.0.0.1:${ETCD_CLIENT_PORTS[0]}/health" | grep -q '"health":"true"'; }

test_uri() { echo "test+unix:///default?socket=$WORK/$1/run/libvirt-sock"; }
qemu_uri() { echo "qemu+unix:///system?socket=$WORK/$1/run/libvirt-sock"; }

libvirtd_start() {
	"$PRIVATE_LIBVIRTD" start "$WORK/$1"
	LIBVIRTDS+=("$1")
}

libvirtd_restart() { "$PRIVATE_LIBVIRTD" restart "$WORK/$1"; }

# log_count_above FILE PATTERN N: more than N lines match.
log_count_above() { [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -gt "$3" ]; }

# mcsd_start NAME CONFIG [VAR=VALUE...]: runs mcsd in the background, logging
# to $WORK/NAME.log, and waits for its first reconcile or connection attempt.
mcsd_start() {
	local name=$1 conf=$2 before
	shift 2
	before=$(grep -c 'reconciled\|cannot connect' "$WORK/$name.log" 2>/dev/null || true)
	env "$@" "$MCSD" --config "$conf" >>"$WORK/$name.log" 2>&1 &
	echo $! >"$WORK/$name.mcsd.pid"
	wait_for 60 log_count_above "$WORK/$name.log" 'reconciled\|cannot connect' "${before:-0}" ||
		fail "mcsd $name did not reconcile; see its log"
}

# host_conf HOST REG [LINE...]: writes $WORK/HOST.conf for HOST's mcsd:
# the libvirtd HOST, the registry REG, host id HOST, the sockets
# $WORK/HOST.sock and $WORK/HOST-hook.sock, then any extra config LINEs.
host_conf() {
	local h=$1 reg=$2
	shift 2
	printf '%s\n' "uri = $(test_uri "$h")" "registry = $reg" "registry_create = yes" "host_id = $h" "socket = $WORK/$h.sock" \
		"hook_socket = $WORK/$h-hook.sock" "$@" >"$WORK/$h.conf"
}

# one_host_start REG [LINE...]: libvirtd h1 and one mcsd on the registry
# REG (host_conf's LINEs); sets MCSD_CONFIG, PID (mcsd's) and U (h1's URI).
one_host_start() {
	export MCSD_CONFIG=$WORK/h1.conf
	libvirtd_start h1
	host_conf h1 "$@"
	mcsd_start h1 "$MCSD_CONFIG"
	PID=$(cat "$WORK/h1.mcsd.pid")
	U=$(test_uri h1)
}

# two_hosts_start REG [LINE...]: hosts h1 and h2 on one registry REG, each a
# libvirtd with the test driver and an mcsd configured by host_conf. The
# test driver's built-in guest is dropped: it has the same UUID on both.
two_hosts_start() {
	local h
	for h in h1 h2; do
		libvirtd_start $h
		virsh -q -c "$(test_uri $h)" destroy test >/dev/null
		virsh -q -c "$(test_uri $h)" undefine test >/dev/null
		host_conf $h "$@"
		mcsd_start $h "$WORK/$h.conf"
	done
}

# Stops mcsd with SIGTERM and requires a clean exit.
mcsd_stop() {
	local pid rc=0
	pid=$(cat "$WORK/$1.mcsd.pid")
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	rm -f "$WORK/$1.mcsd.pid"
	[ $rc -eq 0 ] || fail "mcsd $1 exited with $rc after SIGTERM"
}

# guest_xml NAME SECLABEL [UUID]
guest_xml() {
	echo "<domain type='test'><name>$1</name>${3:+<uuid>$3</uuid>}<memory>65536</memory><os><type>hvm</type></os>$2</domain>"
}

# define URI NAME SECLABEL [UUID]
define() {
	guest_xml "$2" "$3" "${4:-}" >"$WORK/$2.xml"
	virsh -q -c "$1" define "$WORK/$2.xml" >/dev/null
}

# The SELinux seclabel element of a guest's persistent XML, on one line.
seclabel_of() {
	virsh -q -c "$1" dumpxml --inactive "$2" | tr -d '\n' | sed -n "s|.*\(<seclabel[^>]*model='selinux'.*</seclabel>\).*|\1|p; s|.*\(<seclabel type='none'[^>]*/>\).*|\1|p" | head -1
}

label_of() { virsh -q -c "$1" dumpxml --inactive "$2" | sed -n 's|.*<label>\(.*\)</label>.*|\1|p'; }

has_static_label() { seclabel_of "$1" "$2" | grep -q "type='static'"; }

uuid_of() { virsh -q -c "$1" domuuid "$2"; }

registry() { "$REGISTRY_LIST" "$1"; }
# The sqlite3 tool on a registry mcsd may be writing: it waits for the write
# lock (10 s) as mcsd's own readers do, instead of "database is locked".
registry_sql() { sqlite3 -cmd '.timeout 10000' "$@"; }

# registry_field REGISTRY UUID FIELD: 2 name, 3 label, 4 kind, 5 state, 6 host, 7 generation
registry_field() { registry "$1" | awk -v u="$2" -v f="$3" '$1 == u { print $f }'; }

# field_is REGISTRY UUID FIELD VALUE (for wait_for)
field_is() { [ "$(registry_field "$1" "$2" "$3")" = "$4" ]; }

expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_rc RC COMMAND...: runs COMMAND, keeps its stdout in $OUT and stderr in $ERR.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, expected $want; stdout: $OUT; stderr: $ERR"
}

contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }

# The fault tests' host: h1 (test_uri h1), one mcsd on the registry $REG
# with its control socket $WORK/h1.sock, its pid in $PID and
# MCSD_CONFIG=$WORK/h1.conf exported (for the hook).
M() { "$MCSCTL" --socket "$WORK/h1.sock" "$@"; }
alive() { kill -0 "$PID" 2>/dev/null || fail "mcsd died: $(tail -5 "$WORK/h1.log")"; }
# status_has PATTERN: a line of `mcsctl status` matches PATTERN (grep).
status_has() { M status | grep -q -- "$1"; }
# health_is STATE: status says the registry is STATE (ok, failing).
health_is() {
	local kind=sqlite
	case $REG in *://*) kind=${REG%%://*} ;; esac
	status_has "^registry:   .* ($kind): $1"
}
# in_registry GUEST: the registry holds for h1's GUEST the label of its XML.
in_registry() {
	local u
	u=$(test_uri h1)
	[ "$(registry "$REG" | awk -v u="$(uuid_of "$u" "$1")" '$1 == u { print $3 }')" = "$(label_of "$u" "$1" | cut -d: -f4-)" ]
}
labelled() { has_static_label "$(test_uri h1)" "$1" && in_registry "$1"; }
# hook_start NAME UUID LABEL: libvirt's start begin for a guest with a static label.
hook_start() {
	printf '%s' "<domain type='kvm'><name>$1</name><uuid>$2</uuid><memory unit='KiB'>65536</memory>" \
		"<os><type arch='x86_64' machine='pc'>hvm</type></os><seclabel type='static' model='selinux' relabel='yes'>" \
		"<label>system_u:system_r:svirt_t:$3</label></seclabel></domain>" >"$WORK/$1.xml"
	"$MCSCTL" hook qemu "$1" start begin - <"$WORK/$1.xml" 2>"$WORK/hook.err"
}

# The nfs:// registry's server (tests that sourced nfs-ns.sh first, so run
# in their own network and mount namespaces): rpcbind and nfs-ganesha
# serving $WORK/export over NFSv3 on loopback as 127.0.0.1:/export.
# nfs_serve starts both; the cleanup stops them (their *.daemon.pid).
# ganesha_conf: $WORK/ganesha.conf exporting $WORK/export over NFSv3 as
# /export (nfs_serve here, cluster_nfs_serve in tests/cluster/cluster.sh).
ganesha_conf() {
	mkdir -p "$WORK/export"
	cat >"$WORK/ganesha.conf" <<-CONF
	NFS_CORE_PARAM { Protocols = 3; NFS_Port = 2049; MNT_Port = 20048; Enable_NLM = false; Enable_RQUOTA = false; Mount_Path_Pseudo = true; }
	NFSV4 { Graceless = true; }
	NFS_KRB5 { Active_krb5 = false; }
	EXPORT { Export_Id = 1; Path = $WORK/export; Pseudo = /export; Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; Sectype = sys; FSAL { Name = VFS; } }
	LOG { Default_Log_Level = EVENT; }
	CONF
}
nfs_serve() {
	ganesha_conf
	rpcbind -f -w &
	echo $! >"$WORK/rpcbind.daemon.pid"
	wait_for 30 rpcinfo -p 127.0.0.1 || fail "rpcbind did not answer"
	ganesha_start
}
nfs_server_up() { rpcinfo -T tcp 127.0.0.1 mountd 3 && rpcinfo -T tcp 127.0.0.1 nfs 3; }
ganesha_start() {
	ganesha.nfsd -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -p "$WORK/ganesha.daemon.pid" -N NIV_EVENT
	wait_for 60 nfs_server_up || fail "ganesha did not answer: $(tail -5 "$WORK/ganesha.log")"
}
ganesha_stop() {
	local pid
	pid=$(cat "$WORK/ganesha.daemon.pid")
	kill "$pid"
	wait_for 30 bash -c "! kill -0 $pid" || fail "ganesha did not stop"
}
