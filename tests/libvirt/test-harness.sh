#!/bin/bash
# The libvirt suites' own harness (lib.sh, pidns.sh), as a test that hangs
# or is killed meets it: a libvirt call that gets no answer fails the test
# with the call and its time; a test that runs past its deadline is ended
# by its watchdog with what was in flight, through its cleanup; a test
# killed with SIGKILL leaves no process behind. Each case runs a small test
# of its own, in a namespace of its own, as meson would run it.
. "$(dirname "$0")/lib.sh"
LIB=$(dirname "$0")/lib.sh

# inner NAME BODY: writes a test script that sources lib.sh and runs BODY.
inner() {
	printf '#!/bin/bash\n. %q\n%s\n' "$(realpath "$LIB")" "$2" >"$WORK/$1.sh"
	chmod +x "$WORK/$1.sh"
}
# in_ns NS: the processes (names) left in the PID namespace NS.
in_ns() {
	local p
	for p in /proc/[0-9]*; do
		if [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ]; then cat "$p/comm" 2>/dev/null || true; fi
	done | sort | tr '\n' ' '
}

# 1. A libvirtd that never answers: the call fails with its name and time.
inner hang '
libvirtd_start h
kill -STOP "$(cat "$WORK/h/run/libvirtd.pid")"
virsh -q -c "$(test_uri h)" list --all
echo "not reached"'
rc=0
start=$SECONDS
env -u MCS_PIDNS MCS_VIRSH_TIMEOUT=3 "$WORK/hang.sh" >"$WORK/hang.out" 2>&1 || rc=$?
took=$((SECONDS - start))
[ $rc -ne 0 ] || fail "a virsh call to a stopped libvirtd did not fail the test: $(cat "$WORK/hang.out")"
grep -q "FAIL: libvirt did not answer 'virsh -q -c test+unix:///default?socket=.*/h/run/libvirt-sock list --all' in [3-9] s (MCS_VIRSH_TIMEOUT=3)" "$WORK/hang.out" ||
	fail "the failure does not name the call and its time: $(cat "$WORK/hang.out")"
grep -q "not reached" "$WORK/hang.out" && fail "the test went on after the call that got no answer"
[ $took -lt 40 ] || fail "the hung call took $took s to fail the test"
ok "a libvirt call that gets no answer fails the test in $took s, naming the call and its time"

# 2. A test past its deadline (MCS_TEST_TIMEOUT less 30 s): the watchdog
# says what was in flight, the cleanup runs and prints the logs.
inner slow '
libvirtd_start h
echo "$WORK" >"$OUTER/slow.work"
virsh -q -c "$(test_uri h)" list --all >/dev/null
sleep 300
echo "not reached"'
rc=0
start=$SECONDS
env -u MCS_PIDNS OUTER="$WORK" MCS_TEST_TIMEOUT=36 "$WORK/slow.sh" >"$WORK/slow.out" 2>&1 || rc=$?
took=$((SECONDS - start))
expect_eq "the slow test's exit status" "$rc" 143
contains "$(cat "$WORK/slow.out")" "FAIL: the test ran for 6 s, 30 s short of its meson timeout (36 s). In flight: no libvirt call"
contains "$(cat "$WORK/slow.out")" "sleep 300"
contains "$(cat "$WORK/slow.out")" "--- libvirtd h"
[ ! -e "$(cat "$WORK/slow.work")" ] || fail "the slow test's cleanup did not run: $(cat "$WORK/slow.work") is still there"
[ $took -lt 30 ] || fail "the watchdog ended the slow test after $took s"
ok "a test past its deadline is ended by its watchdog after $took s, saying what ran, through its cleanup"

# 3. kill -9 of the whole test, as meson's timeout does to its process
# group, and of its first process alone: nothing it started survives.
inner killed '
libvirtd_start h
echo "$WORK" >"$OUTER/killed.work"
MCSD_CONFIG=/dev/null
host_conf h "$WORK/registry.db"
mcsd_start h "$WORK/h.conf"
touch "$OUTER/killed.ready"
sleep 300'
for how in group first; do
	rm -f "$WORK/killed.ready"
	env -u MCS_PIDNS OUTER="$WORK" setsid "$WORK/killed.sh" >"$WORK/killed.out" 2>&1 &
	top=$!
	wait_for 60 test -e "$WORK/killed.ready" || fail "the killed test did not start: $(cat "$WORK/killed.out")"
	ns=$(readlink "/proc/$(pgrep -P "$top" | head -1)/ns/pid")
	running=$(in_ns "$ns")
	for p in libvirtd virtlogd mcsd; do contains "$running" "$p"; done
	if [ $how = group ]; then kill -KILL -- "-$top"; else kill -KILL "$top"; fi
	wait "$top" 2>/dev/null || true
	wait_for 10 eval '[ -z "$(in_ns "$ns")" ]' || fail "after kill -9 ($how), still running in the test's namespace: $(in_ns "$ns")"
	# A test killed with SIGKILL runs no cleanup: its directory is this one's to remove.
	rm -rf "$(cat "$WORK/killed.work")"
	ok "kill -9 of the test ($how): nothing of what it started is left (was: $running)"
done
