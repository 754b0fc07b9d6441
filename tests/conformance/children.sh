#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The per-test child processes of iop-conform (docs/iop-conform.md, "Isolation"):
#   children.sh IOP-CONFORM BROKEN-DIR
# BROKEN-DIR holds the broken DDMs of tests/conformance/broken/. Each case
# runs iop-conform once and judges its exit status and output:
#   setup      a child that cannot start the EAL stops the run: status 255,
#              "could not run", after one child
#   dashdash   a `--` ending the options does not reach the children
#   sigchld    SIGCHLD inherited as ignored: a crash still named as a crash
#   loader     run as `ld.so iop-conform`: each child through the loader too
#   hang       failures recorded before a hang are kept, with the timeout's
#   exit-hang  a child that hangs in exit, after its report, is killed at
#              the timeout: the run ends
#   cap        a test with more failures than a child sends: the first ones,
#              a line that counts the rest, and the test ran to its end
#   fds        the report pipe and a descriptor the run inherited are
#              close-on-exec in the child
#   shconf     no DPDK runtime directory left behind by a run with --vdev
set -u
conform=$1 broken=$2
bad=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "$case: $*"
	tail -30 "$tmp/out"
	bad=$((bad + 1))
}

# Run iop-conform with these arguments, bounded (a hang is a failure of the case).
run() {
	if command -v timeout >/dev/null; then
		timeout 120 "$conform" "$@" >"$tmp/out" 2>&1
	else
		"$conform" "$@" >"$tmp/out" 2>&1
	fi
}

case=setup
run --ddm nop --vdev net_bogus0
status=$?
if [ $status -ne 255 ] || ! grep -q "could not run" "$tmp/out" ||
	[ "$(grep -c "could not set up" "$tmp/out")" -ne 1 ]; then
	fail "status $status; want 255 and one 'could not set up ... could not run'"
fi

case=dashdash
run --ddm nop -t contexts_echoed --
status=$?
[ $status -eq 0 ] || fail "status $status, want 0"

case=sigchld
# An ignored signal stays ignored across exec.
trap '' CHLD
run --so "$broken/broken_trusts_payload.so" -t bad_payload_answered
status=$?
trap - CHLD
if [ $status -ne 1 ] ||
	! grep -Eq "killed by signal (11 \(SIGSEGV|6 \(SIGABRT)|exited with status [1-9][0-9]* before the test returned" "$tmp/out"; then
	fail "status $status; want 1 and the crash named"
fi

case=loader
interp=$(readelf -l "$conform" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)\]/\1/p')
if [ -n "$interp" ] && [ -x "$interp" ]; then
	if command -v timeout >/dev/null; then
		timeout 120 "$interp" "$conform" --ddm nop -t contexts_echoed >"$tmp/out" 2>&1
	else
		"$interp" "$conform" --ddm nop -t contexts_echoed >"$tmp/out" 2>&1
	fi
	status=$?
	[ $status -eq 0 ] || fail "status $status, want 0"
else
	echo "$case: skipped (no program interpreter found)"
fi

case=hang
# Eight replies with a wrong context, then its loop hangs.
run --so "$broken/broken_hangs_late.so" -t contexts_echoed --timeout 3
status=$?
contexts=$(grep -c "checks_generic.c:[0-9]* *- CU_ASSERT_EQUAL(r.w\[3\],tc)" "$tmp/out")
if [ $status -ne 1 ] || [ "$contexts" -ne 8 ] ||
	! grep -q "did not finish within 3 s" "$tmp/out"; then
	fail "status $status, $contexts context failures; want 1, 8 and the timeout"
fi

case=exit-hang
run --so "$broken/broken_hangs_at_exit.so" -t contexts_echoed --timeout 3
status=$?
if [ $status -ne 1 ] || ! grep -q "did not exit within 3 s, after the test returned" "$tmp/out"; then
	fail "status $status; want 1 and the process killed after the test"
fi

case=cap
# Every one of 256 groups answered with a reply too short to read: 259 failures.
run --so "$broken/broken_short_params_replies.so" -t params_get_groups
status=$?
listed=$(grep -c "checks_params.c:[0-9]* *- CU_FAIL(\"UtilParamsGet not a well-formed" "$tmp/out")
if [ $status -ne 1 ] || [ "$listed" -ne 200 ] ||
	! grep -q "59 more failures of this test, not shown" "$tmp/out" ||
	grep -q "before the test returned" "$tmp/out"; then
	fail "status $status, $listed failures listed; want 1, 200 and '59 more failures'"
fi

case=fds
# A descriptor the run inherits (9), and the report pipe: close-on-exec in the
# child, looked at while the child hangs.
"$conform" --so "$broken/broken_hangs_on_payload.so" -t bad_payload_answered --timeout 10 \
	>"$tmp/out" 2>&1 9>"$tmp/inherited" &
parent=$!
child=
for _ in $(seq 50); do
	sleep 0.1
	for st in /proc/[0-9]*/status; do
		if grep -q "^PPid:[[:space:]]*$parent\$" "$st" 2>/dev/null; then
			child=$(basename "$(dirname "$st")")
			break
		fi
	done
	# Past the exec: the child's command line names its report descriptor.
	[ -n "$child" ] && tr '\0' '\n' <"/proc/$child/cmdline" 2>/dev/null | grep -q -- --child-fd &&
		sleep 0.5 && break
	child=
done
if [ -z "$child" ]; then
	fail "no child process of $parent found"
else
	report=$(tr '\0' '\n' <"/proc/$child/cmdline" | sed -n '/^--child-fd$/{n;p;}')
	for fd in 9 "$report"; do
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$child/fdinfo/$fd" 2>/dev/null)
		if [ -z "$flags" ]; then
			fail "fd $fd not open in the child"
		elif [ $((0$flags & 524288)) -eq 0 ]; then # O_CLOEXEC, 02000000
			fail "fd $fd not close-on-exec in the child (flags $flags)"
		fi
	done
fi
wait "$parent"

case=shconf
# The EAL of each child keeps no runtime directory (--no-shconf).
dirs="/var/run/dpdk ${XDG_RUNTIME_DIR:-/tmp}/dpdk /tmp/dpdk"
before=$(ls -d $dirs 2>/dev/null | while read -r d; do ls "$d"; done | sort -u | grep "^iop-conform-" || true)
run --ddm nop --vdev net_null0 -s generic -t contexts_echoed
status=$?
after=$(ls -d $dirs 2>/dev/null | while read -r d; do ls "$d"; done | sort -u | grep "^iop-conform-" || true)
new=$(printf '%s\n' "$after" | grep -vxF -e "$before" | grep . || true)
if [ $status -ne 0 ] || [ -n "$new" ]; then
	fail "status $status; runtime directories left: $new"
fi

[ $bad -eq 0 ] && echo "child processes: every case as documented"
exit $bad
