#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# replay_vs_testpmd.sh fails a run in which a tool claims what its sink did not see: an
# iop-replay whose port counted fewer packets than its replies say, a dpdk-testpmd that
# replayed another capture than the one it was given, a tcpreplay that reports packets it
# never sent. Each liar is the only tool of its run; the others are left out.
set -u
bench=${IOP_BENCH_SCRIPT:?path of replay_vs_testpmd.sh}
replay=${IOP_BENCH_REPLAY:?path of iop-replay}
# The benchmark checks its runs with python3: without it, skipped (77).
command -v python3 >/dev/null || { echo "test_replay_checks: SKIP: python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d /tmp/iop-bench-checks.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0

# expect_caught WHAT PATTERN VAR=VALUE...: the benchmark, so set up, exits 1 saying PATTERN.
expect_caught() {
	local what=$1 pattern=$2 rc
	shift 2
	env IOP_BENCH_REPLAY="$replay" IOP_BENCH_TESTPMD=/nonexistent \
		IOP_BENCH_TCPREPLAY=/nonexistent IOP_BENCH_SECONDS=0.1 "$@" \
		"$bench" --smoke >"$dir/out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q -- "FAILED: .*$pattern" "$dir/out"; then
		echo "ok: $what caught ($pattern)"
	else
		echo "FAILED: $what: exit $rc, wanted 1 with '$pattern':"
		cat "$dir/out"
		failures=$((failures + 1))
	fi
}

# An iop-replay whose replies say 1000 packets and whose port counted 999.
cat >"$dir/iop-replay" <<'EOF'
#!/bin/sh
echo '{"packets":1000,"bytes":64000,"seconds":0.100,"pps":10000.000,"mbps":5.120,"drops":0,"port_packets":999,"skipped":0,"latency_p50_us":1.0,"latency_p99_us":2.0,"identical":null}'
EOF
chmod +x "$dir/iop-replay"
expect_caught "iop-replay, port count short" "the port counted 999" IOP_BENCH_REPLAY="$dir/iop-replay"

# dpdk-testpmd handed the 1514-byte capture where the 64-byte one was asked for.
testpmd=$(command -v dpdk-testpmd || true)
if [ -n "$testpmd" ]; then
	cat >"$dir/dpdk-testpmd" <<EOF
#!/usr/bin/env bash
exec "$testpmd" "\${@/c64.pcap/c1514.pcap}"
EOF
	chmod +x "$dir/dpdk-testpmd"
	expect_caught "dpdk-testpmd, another capture" "not the 64-byte capture" \
		IOP_BENCH_TESTPMD="$dir/dpdk-testpmd"
else
	echo "skip: dpdk-testpmd's check (no dpdk-testpmd)"
fi

# A tcpreplay that says it sent 1000 packets and sent none.
cat >"$dir/tcpreplay" <<'EOF'
#!/bin/sh
echo "Actual: 1000 packets (64000 bytes) sent in 0.10 seconds"
echo "Rated: 640000.0 Bps, 5.12 Mbps, 10000.00 pps"
echo "	Failed packets:            0"
EOF
chmod +x "$dir/tcpreplay"
if [ "$(id -u)" -eq 0 ] && ip netns add "iop-bench-check-$$" 2>/dev/null; then
	ip netns del "iop-bench-check-$$"
	expect_caught "tcpreplay, packets never sent" "the veth peer received 0" \
		IOP_BENCH_TCPREPLAY="$dir/tcpreplay"
else
	echo "skip: tcpreplay's check (needs root and network namespaces)"
fi

echo "$failures failed"
[ $failures -eq 0 ]
