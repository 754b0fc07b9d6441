#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The lan DDM's two ways of handing a PacketSend's packets to its port, in one run: tx=copy
# (each packet copied from the request frame into an mbuf) against tx=zerocopy (an mbuf
# attached to the packet where it lies in the frame; the reply waits until the port frees it).
# iop-replay sends the generated captures of replay_vs_testpmd.sh (1024 UDP frames of 64 and of
# 1514 bytes) at top speed, preloaded, to net_null (rx off: it frees each mbuf as it takes it)
# and to net_ring (its tx ring is its rx ring: the DDM receives every packet back, finds no
# bucket posted and frees it, so the port holds each for a turn of the DDM's loop).
#
#   tests/bench/replay_tx_modes.sh [--smoke] [BUILD_DIR]
#
# Each (port, size, mode) runs IOP_BENCH_SECONDS (1) IOP_BENCH_REPEATS (5) times, the modes
# taking turns within each repeat, so that a change in the machine's load falls on both.
# Prints a markdown table of median packets per second (and the range) and zerocopy's ratio
# to copy. A run whose replies disagree with the port's own count of packets sent, or that
# dropped any, fails the whole run. --smoke: one run of 0.2 s each (the CI test).
# IOP_BENCH_SIZES lists the packet sizes (default "64 1514"; each at least 42, the headers).
# IOP_BENCH_REPLAY names iop-replay (default: BUILD_DIR's). Needs python3 (without it: exit 77, skipped).
set -euo pipefail

smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
build=${1:-build}
replay=${IOP_BENCH_REPLAY:-$build/host-shim/iop-replay/iop-replay}
if [ $smoke -eq 1 ]; then
	secs=${IOP_BENCH_SECONDS:-0.2}
	repeats=${IOP_BENCH_REPEATS:-1}
else
	secs=${IOP_BENCH_SECONDS:-1}
	repeats=${IOP_BENCH_REPEATS:-5}
fi
me=replay_tx_modes
read -r -a sizes <<<"${IOP_BENCH_SIZES:-64 1514}"
ports=("net_null0,no-rx=1" "net_ring0")
modes=(copy zerocopy)

# Without python3 nothing can be checked: skipped (77, as meson test takes it), not failed.
command -v python3 >/dev/null || { echo "$me: SKIP: python3 is not installed" >&2; exit 77; }
[ -x "$replay" ] || { echo "$me: no iop-replay at $replay: build $build first" >&2; exit 2; }

dir=$(mktemp -d /tmp/iop-bench-tx.XXXXXX)
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "${BASH_SOURCE[0]}")/gen_capture.sh"
for s in "${sizes[@]}"; do
	gen_capture "$dir/c$s.pcap" "$s" 1024 || { echo "$me: could not write a capture" >&2; exit 1; }
done

# No run may hang the benchmark: its window and a minute more.
limit=$(awk -v s="$secs" 'BEGIN { printf "%d", s + 60 }')
for ((r = 0; r < repeats; r++)); do
	for port in "${ports[@]}"; do
		for s in "${sizes[@]}"; do
			for mode in "${modes[@]}"; do
				out="$dir/out"
				if ! timeout "$limit" "$replay" --json --topspeed --preload --loop=0 \
					--duration="$secs" --tx="$mode" --vdev="$port" \
					"$dir/c$s.pcap" >"$out" 2>&1; then
					echo "$me: FAILED: $mode, $port, $s bytes: iop-replay failed:" >&2
					tail -20 "$out" >&2
					exit 1
				fi
				# One line per run: port size mode pps, checked against the port's count.
				python3 - "$out" "${port%%,*}" "$s" "$mode" >>"$dir/runs" <<'PY' || exit 1
import json, sys
out, port, size, mode = sys.argv[1:]
d = json.loads(open(out).read().strip().splitlines()[-1])
if d["packets"] == 0 or d["drops"] != 0 or d["port_packets"] != d["packets"]:
    sys.exit("replay_tx_modes: FAILED: %s, %s, %s bytes: %d sent, %d dropped, the port "
             "counted %s" % (mode, port, size, d["packets"], d["drops"], d["port_packets"]))
print(port, size, mode, d["pps"])
PY
			done
		done
	done
done

python3 - "$dir/runs" "$secs" "$repeats" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    port, size, mode, pps = line.split()
    runs[(port, int(size), mode)].append(float(pps))
print("%s s a run, %s runs of each; median pps (lowest to highest)\n" % (sys.argv[2], sys.argv[3]))
print("| port | packet | tx=copy pps | tx=zerocopy pps | zerocopy / copy |")
print("|---|---|---|---|---|")
for port in sorted({k[0] for k in runs}, reverse=True):
    for size in sorted({k[1] for k in runs}):
        c, z = runs[(port, size, "copy")], runs[(port, size, "zerocopy")]
        mc, mz = statistics.median(c), statistics.median(z)
        print("| %s | %d B | %.0f (%.2f to %.2f M) | %.0f (%.2f to %.2f M) | %.2fx |" %
              (port, size, mc, min(c) / 1e6, max(c) / 1e6, mz, min(z) / 1e6, max(z) / 1e6,
               mz / mc))
PY
