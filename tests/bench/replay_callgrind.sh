#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per packet replayed by iop-replay through the lan DDM, counted by callgrind, on
# one thread: --loop-inline turns the runtime's loop on the host thread whenever the host waits
# (ring full, no frame, replies awaited), so every instruction of a packet (the host's and the
# IOP's) runs on the thread callgrind counts and none is spent spinning. The difference between
# N and 2N packets, so that setup (the EAL, the port, reading the capture) and teardown cancel;
# split by callgrind's inclusive counts into the host side (iop-replay gathering packets into
# request frames and posting them, the host library, taking the replies) and the IOP side (the
# runtime's loop, iop_runtime_poll), and within that the lan DDM's handler (parsing the
# PacketSend, the mbufs, the copies, tx_burst, the reply) and its poll. The summary printed
# after the run (its sort of the latency sample grows with the requests) is counted apart.
# Needs valgrind and python3; run from the repository root after a build.
#
#   tests/bench/replay_callgrind.sh [BUILD_DIR] [N]        # defaults: build 65536
#
# The captures of replay_vs_testpmd.sh (1024 UDP frames, 64 and 1514 bytes; IOP_BENCH_SIZES),
# preloaded, at top speed, iop-replay's default --batch (IOP_BENCH_BATCH sets another) and the
# lan DDM's default tx (IOP_BENCH_TX: copy or zerocopy), to net_null with its rx off. One line
# per size.
set -euo pipefail

build=${1:-build}
n=${2:-65536}
replay=${IOP_BENCH_REPLAY:-$build/host-shim/iop-replay/iop-replay}
read -r -a sizes <<<"${IOP_BENCH_SIZES:-64 1514}"
me=replay_callgrind
here=$(dirname "${BASH_SOURCE[0]}") # callgrind_inclusive.py
opts=()
[ -z "${IOP_BENCH_BATCH:-}" ] || opts+=(--batch="$IOP_BENCH_BATCH")
[ -z "${IOP_BENCH_TX:-}" ] || opts+=(--tx="$IOP_BENCH_TX")

command -v valgrind >/dev/null || { echo "$me: valgrind is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "$me: python3 is not installed" >&2; exit 2; }
[ -x "$replay" ] || { echo "$me: no iop-replay at $replay: build $build first" >&2; exit 2; }

dir=$(mktemp -d /tmp/iop-replay-callgrind.XXXXXX)
trap 'rm -rf "$dir"' EXIT

. "$(dirname "${BASH_SOURCE[0]}")/gen_capture.sh"

count() { # CAPTURE PACKETS OUTFILE
	valgrind --tool=callgrind --callgrind-out-file="$3" "$replay" --json --topspeed --preload \
		--loop=0 --limit="$2" --loop-inline --vdev=net_null0,no-rx=1 ${opts[@]+"${opts[@]}"} "$1" \
		>"$3.json" 2>"$3.log" ||
		{ echo "$me: iop-replay failed:" >&2; tail -20 "$3.log" >&2; exit 1; }
	# Every packet answered as sent, and counted by the port: the count is of real sends.
	python3 - "$3.json" "$2" <<'EOF' || exit 1
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
n = int(sys.argv[2])
if d["packets"] != n or d["drops"] != 0 or d["port_packets"] != n:
    sys.exit("replay_callgrind: FAILED: %d of %d sent, %d dropped, the port counted %s" %
             (d["packets"], n, d["drops"], d["port_packets"]))
EOF
}

split() { # A B N LABEL
	PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" python3 - "$@" <<'EOF'
import sys
from callgrind_inclusive import per_unit
label = sys.argv[4]
total, per = per_unit(sys.argv[1], sys.argv[2], int(sys.argv[3]))
# The summary sorts the latency sample (a request's each) after the run: not the replay's work.
report = per('report_summary')
total -= report
iop = per('iop_runtime_poll')
print('%s: %.1f instructions per packet: host side %.1f, IOP side %.1f (lan DDM: handler '
      '%.1f, poll %.1f); the summary after the run %.1f more' %
      (label, total, total - iop, iop, per('lan_handle'), per('lan_poll'), report))
EOF
}

for s in "${sizes[@]}"; do
	gen_capture "$dir/c$s.pcap" "$s" 1024 || { echo "$me: could not write a capture" >&2; exit 1; }
	count "$dir/c$s.pcap" "$n" "$dir/$s.1"
	count "$dir/c$s.pcap" $((2 * n)) "$dir/$s.2"
	split "$dir/$s.1" "$dir/$s.2" "$n" "$s B"
done
