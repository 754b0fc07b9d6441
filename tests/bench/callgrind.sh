#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per alloc+free pair of each peer: one thread, one workload
# (fixed256), counted by valgrind's callgrind. Each peer runs twice, with
# exactly OPS pairs and with 0, and the difference is divided by OPS, so
# program start-up, EAL start-up and heap creation cancel out. Instructions
# are not time (a cache miss costs no instructions), but they do not depend
# on what else the machine is doing.
#
#   tests/bench/callgrind.sh [BENCH [PEER...]]
#
# BENCH: the iop-bench-heap binary (default build/tests/bench/iop-bench-heap).
# PEER: peers to count (default: all that --list names). The malloc
# replacements run the way the benchmark runs them, as a child with their
# shared object in LD_PRELOAD. Environment: OPS (200000), WORKLOAD (fixed256).
set -euo pipefail

bench=${1:-build/tests/bench/iop-bench-heap}
[ $# -gt 0 ] && shift
ops=${OPS:-200000}
workload=${WORKLOAD:-fixed256}

command -v valgrind >/dev/null || {
	echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
}
[ -x "$bench" ] || {
	echo "callgrind.sh: no $bench; build first or name the binary" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one run of one peer with n pairs; fails if the peer did not run.
instructions() { # peer preload-object n
	local peer=$1 preload=$2 n=$3
	local cell=(--workloads "$workload" --threads 1 --ops "$n")
	local cg=(valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out")

	if [ -n "$preload" ]; then
		# The child protocol of preload.c: one "row ..." line on fd 3.
		LD_PRELOAD=$preload "${cg[@]}" "$bench" --child "$peer" --child-fd 3 "${cell[@]}" \
			3>"$tmp/rows" >/dev/null 2>"$tmp/log" || return 1
		grep -q '^row .* 0 0$' "$tmp/rows" || return 1
	else
		"${cg[@]}" "$bench" --peers "$peer" "${cell[@]}" >"$tmp/rows" 2>"$tmp/log" || return 1
		! grep -qE 'not run:|ERR|^! ' "$tmp/rows" || return 1
	fi
	awk '/^summary:/ { print $2 }' "$tmp/cg.out"
}

per_pair() { # peer preload-object
	local base full

	if ! base=$(instructions "$1" "$2" 0) || ! full=$(instructions "$1" "$2" "$ops"); then
		printf '%-14s %s\n' "$1" "did not run (not installed or unavailable)"
		return
	fi
	awk -v p="$1" -v b="$base" -v f="$full" -v n="$ops" \
		'BEGIN { printf "%-14s %10.1f\n", p, (f - b) / n }'
}

declare -A preload_of=()
peers=()
while read -r kind name _ object; do
	[ "$kind" = peer ] || continue
	peers+=("$name")
	preload_of[$name]=${object:-}
done < <("$bench" --list)
[ $# -gt 0 ] && peers=("$@")

echo "instructions per alloc+free pair: $workload, 1 thread, $ops pairs, callgrind"
for peer in "${peers[@]}"; do
	[ -n "${preload_of[$peer]+set}" ] || {
		echo "callgrind.sh: no peer $peer" >&2
		exit 1
	}
	per_pair "$peer" "${preload_of[$peer]}"
done
