#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per message round trip (host -> nop DDM -> host, one thread),
# counted by callgrind: the difference between N and 2N round trips, so that
# setup and teardown cancel. Run from the repository root after a build.
set -euo pipefail
n=${1:-50000}
exe=${IOP_MSG_INSTRUCTIONS:-build/tests/bench/msg/iop-msg-instructions}
count() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" 2>&1 |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count "$n")
b=$(count $((2 * n)))
echo "instructions per round trip: $(( (b - a) / n )) ($n and $((2 * n)) round trips: $a, $b)"
