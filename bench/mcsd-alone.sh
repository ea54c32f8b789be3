# Sourced by the socket and hook benchmarks: mcsd_alone WORKDIR starts an
# mcsd on a fresh sqlite registry in WORKDIR, with both sockets there and a
# libvirt URI that leads nowhere (status, reserve, release and the hook need
# only the registry). Sets $pid and waits for the sockets.
mcsd_alone() {
	local work=$1
	cat >"$work/mcsd.conf" <<CONF
uri = test+unix:///default?socket=$work/nowhere
registry = $work/registry.db
registry_create = yes
host_id = bench
socket = $work/mcsd.sock
hook_socket = $work/hook.sock
reconnect_min = 30s
reconnect_max = 30s
log_level = error
CONF
	"$MCSD" --config "$work/mcsd.conf" 2>"$work/mcsd.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$work/mcsd.sock" ] && [ -S "$work/hook.sock" ] && return 0; sleep 0.05; done
	echo "mcsd did not create its sockets: $(cat "$work/mcsd.log")" >&2
	return 1
}
