#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# docs/writing-a-ddm.md, run as a reader would: the build installed into a
# scratch root, the example DDM copied out of the source tree and built
# against what was installed, with the doc's own commands; then iop-conform
# and iopd, the installed ones, on the result.
#
#   test_ddm_tutorial.sh BUILD_DIR SOURCE_ROOT
#
# The doc marks what this script takes from it with HTML comments, which a
# rendered page does not show:
#   <!-- file: PATH -->  the fenced block after it is the file PATH, verbatim;
#   <!-- run: NAME -->   the fenced block after it is a step, run in the
#                        example's directory (its output in NAME.out).
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
doc=$src/docs/writing-a-ddm.md
example=docs/examples/counter-ddm

stage=$(mktemp -d)
iopd_pid=
cleanup() {
	if [ -n "$iopd_pid" ]; then
		kill -TERM "$iopd_pid" 2>/dev/null || true
		wait "$iopd_pid" 2>/dev/null || true
	fi
	rm -rf "$stage"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The fenced block after the line MARKER, which must occur exactly once.
block() { # marker
	local n
	n=$(grep -cxF -- "$1" "$doc" || true)
	[ "$n" -eq 1 ] || fail "$doc has '$1' $n times, want once"
	awk -v m="$1" '
		$0 == m { found = 1; next }
		found == 1 { if ($0 !~ /^```/) exit 1; found = 2; next }
		found == 2 { if ($0 ~ /^```/) exit 0; print }
	' "$doc" || fail "no fenced block right after '$1' in $doc"
}

# 1. The doc shows every file of the example, as it is.
for f in "$src/$example"/*; do
	rel=$example/$(basename "$f")
	diff -u "$f" <(block "<!-- file: $rel -->") ||
		fail "$rel and its copy in docs/writing-a-ddm.md differ"
done

# 2. Install, as 'ninja install' would, into the scratch root. The installed
# libiop.pc says prefix=/usr/local; point that one file at the scratch copy
# (pkg-config's --define-variable would move libdpdk's prefix too, and
# --define-prefix does not find /usr from Debian's multiarch libdir).
meson install -C "$build" --destdir "$stage/root" --no-rebuild >/dev/null
pc=$(find "$stage/root" -name libiop.pc)
[ -n "$pc" ] || fail "meson install put no libiop.pc"
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed -i "s|^prefix=.*|prefix=$stage/root$prefix|" "$pc"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
export PATH="$stage/root$prefix/bin:$PATH"
# iopd's and iopctl's default socket, so the doc's commands need no -s.
export XDG_RUNTIME_DIR=$stage
[ "$(command -v iop-conform)" = "$stage/root$prefix/bin/iop-conform" ] ||
	fail "iop-conform is not installed"

# 3. Out of the tree, the doc's steps.
cp -r "$src/$example" "$stage/counter-ddm"
cd "$stage/counter-ddm"
run() { # name: the step's status; its output in NAME.out
	block "<!-- run: $1 -->" >"$1.sh"
	bash -eo pipefail "$1.sh" >"$1.out" 2>&1
}
for step in build cc; do
	run "$step" || { cat "$step.out"; fail "step '$step' of the doc failed"; }
done
if [ ! -f build/counter.so ] || [ ! -f counter.so ]; then
	fail "the build steps made no counter.so"
fi
# Headers only: the runtime's functions are the loading program's (ddm.md).
if readelf -d build/counter.so counter.so | grep -q 'NEEDED.*libiop'; then
	fail "counter.so links libiop"
fi

# 4. iop-conform passes every generic check, whatever the suite holds by then.
run conform || { cat conform.out; fail "iop-conform failed on counter.so"; }
generic=$(iop-conform --so build/counter.so -l | sed -n 's/^generic //p')
[ -n "$generic" ] || fail "iop-conform -l lists no generic tests"
for t in $generic; do
	grep -qF "Test: $t ...passed" conform.out || { cat conform.out; fail "generic $t did not pass"; }
done
grep -q '^FAILED' conform.out && fail "a FAILED line in a passing run"

# 5. The broken build is caught, by the check that looks for a second reply alone.
status=0
run broken || status=$?
[ -f counter-bug.so ] || { cat broken.out; fail "the COUNTER_BUG build failed"; }
failed=$(sed -n 's/^FAILED //p' broken.out)
if [ "$status" -ne 1 ] || [ "$failed" != "generic one_reply_per_request" ]; then
	cat broken.out
	fail "COUNTER_BUG: status $status, failed [$failed]; want 1, [generic one_reply_per_request]"
fi

# 6. Under iopd, from a host: its parameter group and its read function.
iopd_cmd=$(block "<!-- run: iopd -->")
[ "$(printf '%s\n' "$iopd_cmd" | wc -l)" -eq 1 ] || fail "the iopd step is not one command"
bash -c "exec $iopd_cmd" >iopd.out 2>&1 &
iopd_pid=$!
for _ in $(seq 100); do
	grep -q '^iopd: ready on' iopd.out && break
	kill -0 "$iopd_pid" 2>/dev/null || { cat iopd.out; fail "iopd exited"; }
	sleep 0.1
done
grep -q '^iopd: ready on' iopd.out || { cat iopd.out; fail "iopd not ready in 10 s"; }
run iopctl || { cat iopctl.out iopd.out; fail "the iopctl step failed"; }
# start=5 read back, no adds; the ping's three reads answered SUCCESS.
if ! grep -qx '0 *5' iopctl.out || ! grep -qx '1 *0' iopctl.out ||
	! grep -q '3 sent, 3 replies, 0 errors' iopctl.out ||
	! grep -qE '^0x010 +ddm \(0x001\) +counter ' iopctl.out; then
	cat iopctl.out
	fail "iopctl did not see the counter as the doc says"
fi
kill -TERM "$iopd_pid"
status=0
wait "$iopd_pid" || status=$?
iopd_pid=
if [ "$status" -ne 0 ] || ! grep -q '^iopd: stopped' iopd.out; then
	cat iopd.out
	fail "iopd: status $status after SIGTERM"
fi
echo "docs/writing-a-ddm.md: built out of tree, conformant, broken build caught, served by iopd"
