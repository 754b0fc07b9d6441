#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The same two generated captures (1024 UDP packets of 64 bytes, and of 1514 bytes) replayed at
# top speed, in the same run, by three tools, each into a sink that counts what arrived:
#
#   iop-replay    host shim -> lan DDM -> DPDK net_null port (rx off)
#   dpdk-testpmd  net_pcap rx (the capture, looped) -> io forwarding -> net_null port (rx off)
#   tcpreplay     AF_PACKET -> one end of a veth pair in a network namespace made for the run
#
# Prints a markdown table of median packets per second and iop-replay's ratios to each peer,
# with the issue's targets (docs/iop-bench-replay.md). Each tool's own count of what it sent is
# checked against its sink's count; any disagreement fails the run.
#
#   tests/bench/replay_vs_testpmd.sh [--smoke] [BUILD_DIR]
#
# Full mode: each tool runs IOP_BENCH_SECONDS (2) per capture, IOP_BENCH_REPEATS (3) times,
# tools interleaved so that a change in the machine's load falls on all three. --smoke: one
# short run of each (the CI test in suite 'bench'). A peer that cannot run here (not installed;
# tcpreplay without root or without network namespaces) gets a "skipped: why" column instead
# of failing the run. Needs python3. IOP_BENCH_REPLAY, IOP_BENCH_TESTPMD and IOP_BENCH_TCPREPLAY
# name the programs (default: BUILD_DIR's iop-replay, and dpdk-testpmd and tcpreplay on PATH).
# IOP_BENCH_BATCH (default 64, iop-replay's own) is iop-replay's --batch: net_null never
# fills, so a batch is never sent in part here.
set -euo pipefail

smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
build=${1:-build}
replay=${IOP_BENCH_REPLAY:-$build/host-shim/iop-replay/iop-replay}
batch=${IOP_BENCH_BATCH:-64}
if [ $smoke -eq 1 ]; then
	secs=${IOP_BENCH_SECONDS:-0.2}
	repeats=${IOP_BENCH_REPEATS:-1}
else
	secs=${IOP_BENCH_SECONDS:-2}
	repeats=${IOP_BENCH_REPEATS:-3}
fi
sizes=(64 1514)
npkts=1024
me=replay_vs_testpmd

die() {
	echo "$me: FAILED: $*" >&2
	exit 1
}
note() { echo "$me: $*" >&2; }

# check TOOL SIZE OUTPUT: a run's checker (python3 on stdin, with its arguments after OUTPUT)
# says the rate on its first line and what it counted on its second, or why the run is wrong;
# sets pps_run, or fails the whole run with the why and the tool's output.
check() {
	local tool=$1 size=$2 out=$3 res
	shift 3
	if ! res=$(python3 - "$out" "$size" "$@" 2>"$dir/why"); then
		echo "$me: FAILED: $tool, $size bytes: $(cat "$dir/why")" >&2
		echo "$me: $tool's output:" >&2
		tail -20 "$out" >&2
		exit 1
	fi
	pps_run=${res%%$'\n'*}
	note "${res#*$'\n'}"
}

# Without python3 nothing can be checked: skipped (77, as meson test takes it), not failed.
command -v python3 >/dev/null || { echo "$me: SKIP: python3 is not installed" >&2; exit 77; }
[ -x "$replay" ] || { echo "$me: no iop-replay at $replay: build $build first" >&2; exit 2; }

dir=$(mktemp -d /tmp/iop-bench-replay.XXXXXX)
ns=
testpmd_pid=
cleanup() {
	if [ -n "$testpmd_pid" ]; then
		kill -TERM "$testpmd_pid" 2>/dev/null || true
		wait "$testpmd_pid" 2>/dev/null || true
	fi
	# Deleting the namespace deletes the veth pair in it.
	if [ -n "$ns" ]; then
		ip netns del "$ns" 2>/dev/null || echo "$me: could not delete network namespace $ns" >&2
	fi
	rm -rf "$dir"
	# testpmd's DPDK runtime directory (its prefix is this run's alone).
	local d
	for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk" /tmp/dpdk; do
		rm -rf "$d/iop-bench-testpmd-$$"
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No tool may hang the run: each gets its window and a minute more, then timeout ends it (124).
limit=$(awk -v s="$secs" 'BEGIN { printf "%d", s + 60 }')

# The peers' DPDK main lcore on CPU 0 and the working one on CPU 1, as iop-replay places its
# host thread and its DDM's lcore; on a one-CPU machine both share CPU 0, as iop-replay's do.
cpu1=0
[ "$(nproc)" -ge 2 ] && cpu1=1

# ---- the captures ----

# gen_capture FILE SIZE N: the benchmark captures (shared with replay_tx_modes.sh).
. "$(dirname "${BASH_SOURCE[0]}")/gen_capture.sh"

for s in "${sizes[@]}"; do
	gen_capture "$dir/c$s.pcap" "$s" "$npkts" || die "could not write the $s-byte capture"
done

# ---- iop-replay ----

# Each run_TOOL SIZE sets pps_run. They run in this shell, not in a command substitution, so
# that die ends the whole run and the EXIT trap knows testpmd's pid.
pps_run=

# run_iop SIZE: preloaded, like the peers (net_pcap's infinite_rx, tcpreplay -K),
# so no tool reads the file while it is timed. The sink is net_null with its rx off: with rx
# on, net_null hands the lan DDM 32 made-up packets on every turn, which it would receive and
# drop (no buckets posted) at a cost the peers do not pay.
run_iop() {
	local size=$1 out=$dir/iop.json
	timeout "$limit" "$replay" --json --topspeed --preload --loop=0 --duration="$secs" \
		--batch="$batch" --vdev=net_null0,no-rx=1 "$dir/c$size.pcap" >"$out" 2>"$dir/iop.err" ||
		die "iop-replay exited $?: $(tail -5 "$dir/iop.err")"
	check iop-replay "$size" "$out" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
size = int(sys.argv[2])
n = j["packets"]
why = []
if n <= 0:
    why.append("sent nothing")
if j["drops"] != 0:
    why.append("%d PacketSends refused" % j["drops"])
if j["port_packets"] != n:
    why.append("replies say %d packets sent, the port counted %s" % (n, j["port_packets"]))
if j["bytes"] != n * size:
    why.append("%d bytes for %d packets of %d" % (j["bytes"], n, size))
if why:
    sys.exit("; ".join(why))
print("%.0f" % j["pps"])
print("iop-replay %d B: %.0f pps: %d packets in %.3f s, port counted %d" %
      (size, j["pps"], n, j["seconds"], j["port_packets"]))
EOF
}

# ---- dpdk-testpmd ----

testpmd=${IOP_BENCH_TESTPMD:-$(command -v dpdk-testpmd || true)}
testpmd_skip=
[ -x "$testpmd" ] || testpmd_skip="no dpdk-testpmd (Debian package dpdk-dev)"

# run_testpmd SIZE: net_pcap's infinite_rx reads the capture into mbufs once and
# then hands out copies of them in a loop (alloc + copy per packet, as the lan DDM does from a
# frame): the only way net_pcap replays a capture for longer than one pass. Forwarding (io
# mode, one forwarding core) runs from start to stop; the rate is testpmd's own Tx-pps of the
# net_null port between two "show port stats" SECS apart, which testpmd times itself.
# --no-flush-rx: without it testpmd drains the rx queues before it starts, throwing away the
# capture's first packets. No --tx-first: that seeds a loopback with no source; here the pcap
# port is the source.
run_testpmd() {
	local size=$1 log=$dir/testpmd.log fifo=$dir/testpmd.in i
	rm -f "$fifo"
	mkfifo "$fifo"
	# Unbuffered: testpmd's stats go through stdio while its prompt echoes each command with a
	# write of its own; buffered, the echo lands at a buffer boundary inside a line of stats.
	timeout "$limit" stdbuf -o0 "$testpmd" --lcores="0@0,1@$cpu1" --no-huge --no-pci -m 256 \
		--no-telemetry --file-prefix="iop-bench-testpmd-$$" --log-level=lib.eal:error \
		--vdev="net_pcap0,rx_pcap=$dir/c$size.pcap,infinite_rx=1" --vdev=net_null0,no-rx=1 \
		-- -i --auto-start --forward-mode=io --nb-cores=1 --no-flush-rx \
		--total-num-mbufs=8192 <"$fifo" >"$log" 2>&1 &
	testpmd_pid=$!
	exec 3>"$fifo"
	# Time from forwarding under way, not from process start: EAL start-up varies.
	for i in $(seq 300); do
		grep -q 'testpmd> ' "$log" && break
		kill -0 "$testpmd_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'testpmd> ' "$log" || {
		exec 3>&-
		die "dpdk-testpmd did not start: $(tail -5 "$log")"
	}
	sleep 0.2
	echo "show port stats all" >&3
	sleep "$secs"
	echo "show port stats all" >&3
	echo stop >&3
	echo "show port stats all" >&3
	echo quit >&3
	exec 3>&-
	wait "$testpmd_pid" || die "dpdk-testpmd exited $?: $(tail -5 "$log")"
	testpmd_pid=
	check dpdk-testpmd "$size" "$log" "$secs" <<'EOF'
import re, sys
text, size, secs = open(sys.argv[1]).read(), int(sys.argv[2]), float(sys.argv[3])
def num(pattern, s):
    m = re.search(pattern + r'\s*(\d+)', s)
    if not m:
        sys.exit("no '%s' in its output" % pattern)
    return int(m.group(1))
# Port 0 is net_pcap0 and port 1 net_null0 (the order of --vdev). Three "show port stats all",
# each a block per port between two rules of '#'; the prompt's echoes are taken out first.
text = re.sub(r'testpmd> (show port stats all|stop|quit)?\r?\n?', '', text)
blocks = re.findall(r'NIC statistics for port (\d+)\s*#+(.*?)#{20,}', text, re.S)
if [b[0] for b in blocks] != ['0', '1'] * 3:
    sys.exit("expected three stats displays of ports 0 and 1, found ports %s"
             % [b[0] for b in blocks])
shows = [{'0': blocks[i][1], '1': blocks[i + 1][1]} for i in (0, 2, 4)]
acc = text.split('Accumulated forward statistics', 1)
if len(acc) != 2:
    sys.exit("no forward statistics")
fwd_tx, fwd_drop = num(r'TX-packets:', acc[1]), num(r'TX-dropped:', acc[1])
pps = num(r'Tx-pps:', shows[1]['1'])
window = num(r'TX-packets:', shows[1]['1']) - num(r'TX-packets:', shows[0]['1'])
null_tx = num(r'TX-packets:', shows[2]['1'])
pcap_rx, pcap_rx_bytes = num(r'RX-packets:', shows[2]['0']), num(r'RX-bytes:', shows[2]['0'])
why = []
if window <= 0 or pps <= 0:
    why.append("forwarded nothing in the window")
elif not 0.9 * secs <= window / pps <= 1.5 * secs + 0.5:
    why.append("%d packets at %d pps is not a %.1f s window" % (window, pps, secs))
if fwd_tx != null_tx:
    why.append("forwarding sent %d packets, net_null counted %d" % (fwd_tx, null_tx))
if fwd_drop != 0:
    why.append("%d packets dropped on tx" % fwd_drop)
if pcap_rx < fwd_tx or pcap_rx_bytes != pcap_rx * size:
    why.append("net_pcap received %d packets, %d bytes: not the %d-byte capture"
               % (pcap_rx, pcap_rx_bytes, size))
if why:
    sys.exit("; ".join(why))
print(pps)
print("dpdk-testpmd %d B: %d pps: %d packets in the window, %d in all, net_null counted %d"
      % (size, pps, window, fwd_tx, null_tx))
EOF
}

# ---- tcpreplay ----

# setup_veth: the namespace and the pair in it; or non-zero, with what failed on stdout.
setup_veth() {
	ip netns add "$ns" 2>&1 || return 1
	# IPv6 off before the pair exists, so the kernel sends nothing of its own on it (router
	# solicitations, MLD) and the peer's counters hold tcpreplay's packets only.
	if [ -d /proc/sys/net/ipv6 ]; then
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 2>&1 || return 1
	fi
	ip -n "$ns" link add iopb0 type veth peer name iopb1 2>&1 &&
		ip -n "$ns" link set iopb0 up 2>&1 && ip -n "$ns" link set iopb1 up 2>&1
}

tcpreplay=${IOP_BENCH_TCPREPLAY:-$(command -v tcpreplay || true)}
tcpreplay_skip=
if [ ! -x "$tcpreplay" ]; then
	tcpreplay_skip="no tcpreplay (Debian package tcpreplay)"
elif [ "$(id -u)" -ne 0 ]; then
	tcpreplay_skip="not root (a network namespace and a veth pair are needed)"
else
	ns=iop-bench-replay-$$
	if ! err=$(setup_veth); then
		# It may have got as far as the namespace: gone with it (and anything in it).
		ip netns del "$ns" 2>/dev/null || true
		ns=
		tcpreplay_skip="no veth pair in a network namespace: $(echo $err)"
	fi
fi

veth_count() { # COUNTER: iopb1's rx counter
	ip netns exec "$ns" cat "/sys/class/net/iopb1/statistics/$1"
}

# run_tcpreplay SIZE: Onto iopb0; the kernel hands each frame to iopb1, which
# counts it and drops it (no address, not for it). --no-flow-stats: tcpreplay's per-flow
# accounting is work the other two do not do. --duration takes whole seconds: SECS rounded up.
run_tcpreplay() {
	local size=$1 out=$dir/tcpreplay.out p0 b0 p1 b1 whole
	whole=$(awk -v s="$secs" 'BEGIN { w = int(s); if (w < s) w++; print w }')
	p0=$(veth_count rx_packets)
	b0=$(veth_count rx_bytes)
	timeout "$limit" ip netns exec "$ns" "$tcpreplay" -i iopb0 --topspeed --preload-pcap \
		--no-flow-stats --loop=0 --duration="$whole" "$dir/c$size.pcap" >"$out" 2>&1 ||
		die "tcpreplay exited $?: $(tail -5 "$out")"
	p1=$(veth_count rx_packets)
	b1=$(veth_count rx_bytes)
	check tcpreplay "$size" "$out" $((p1 - p0)) $((b1 - b0)) <<'EOF'
import re, sys
text, size, got, got_bytes = open(sys.argv[1]).read(), *map(int, sys.argv[2:])
m = re.search(r'Actual: (\d+) packets \((\d+) bytes\) sent', text)
r = re.search(r'Rated: .*?([\d.]+) pps', text)
f = re.search(r'Failed packets:\s*(\d+)', text)
if not (m and r and f):
    sys.exit("no 'Actual', 'Rated' or 'Failed packets' line")
n, nbytes = int(m.group(1)), int(m.group(2))
why = []
if n <= 0:
    why.append("sent nothing")
if int(f.group(1)) != 0:
    why.append("%s packets failed" % f.group(1))
if nbytes != n * size:
    why.append("%d bytes for %d packets of %d" % (nbytes, n, size))
if (got, got_bytes) != (n, nbytes):
    why.append("says %d packets (%d bytes) sent, the veth peer received %d (%d bytes)"
               % (n, nbytes, got, got_bytes))
if why:
    sys.exit("; ".join(why))
print("%.0f" % float(r.group(1)))
print("tcpreplay %d B: %.0f pps: %d packets, the veth peer received %d"
      % (size, float(r.group(1)), n, got))
EOF
}

# ---- the runs and the table ----

median() { # numbers, one a line -> the median
	sort -g | awk '{ v[NR] = $1 } END { printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

if [ -n "$testpmd_skip" ]; then note "dpdk-testpmd skipped: $testpmd_skip"; fi
if [ -n "$tcpreplay_skip" ]; then note "tcpreplay skipped: $tcpreplay_skip"; fi
note "$repeats run(s) of ${secs} s per tool and capture ($npkts packets, looped), $(nproc) CPUs"
# The machine's load beside the numbers: on a shared machine they mean little without it.
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A pps
for size in "${sizes[@]}"; do
	iop=() tpmd=() tcpr=()
	for _ in $(seq "$repeats"); do
		run_iop "$size"
		iop+=("$pps_run")
		if [ -z "$testpmd_skip" ]; then
			run_testpmd "$size"
			tpmd+=("$pps_run")
		fi
		if [ -z "$tcpreplay_skip" ]; then
			run_tcpreplay "$size"
			tcpr+=("$pps_run")
		fi
	done
	pps[iop,$size]=$(printf '%s\n' "${iop[@]}" | median)
	if [ -z "$testpmd_skip" ]; then
		pps[testpmd,$size]=$(printf '%s\n' "${tpmd[@]}" | median)
	fi
	if [ -z "$tcpreplay_skip" ]; then
		pps[tcpreplay,$size]=$(printf '%s\n' "${tcpr[@]}" | median)
	fi
done

cell() { # TOOL SIZE: the median pps, or why there is none
	if [ -n "${pps[$1,$2]:-}" ]; then
		printf '%s' "${pps[$1,$2]}"
	elif [ "$1" = testpmd ]; then
		printf 'skipped: %s' "$testpmd_skip"
	else
		printf 'skipped: %s' "$tcpreplay_skip"
	fi
}

ratio() { # PEER SIZE: iop-replay's pps / the peer's
	if [ -n "${pps[$1,$2]:-}" ]; then
		awk -v a="$(cell iop "$2")" -v b="$(cell "$1" "$2")" 'BEGIN { printf "%.2fx", a / b }'
	else
		printf 'n/a'
	fi
}

note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| packet | iop-replay pps | dpdk-testpmd pps | tcpreplay pps | iop-replay ÷ testpmd (target >= 1) | iop-replay ÷ tcpreplay (target >= 10) |"
echo "|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
	echo "| $size B | $(cell iop "$size") | $(cell testpmd "$size") | $(cell tcpreplay "$size") | $(ratio testpmd "$size") | $(ratio tcpreplay "$size") |"
done
