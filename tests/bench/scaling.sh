#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# How the heap and the message path scale with cores: iop-bench-heap at 1, 2, 4, ... threads up
# to the CPUs this process may use, and iop-bench-msg at 1, 2, 4, ... host/IOP thread pairs up
# to half of them, each pair's two threads on different physical cores where the machine has
# enough. Each benchmark runs its peers and limits in the same run, as always; this script only
# picks the sizes and the CPUs, and keeps every table (docs/benchmarks.md#scaling-past-two-cores).
#
#   tests/bench/scaling.sh [BUILD_DIR] [OUT_DIR]
#
# IOP_SCALING_HEAP_MS (default 300) is the time per heap cell; IOP_SCALING_MSG_COUNT (default
# 1000000) the round trips per message case, mode and pair; IOP_SCALING_MSG_CASES (default
# iopool,iopool-apart,limit-b,limit-a) the message cases; IOP_SCALING_REPEAT (default 3) the
# runs each figure is the median of. On a 2-CPU machine it runs, but says nothing past 2.
set -euo pipefail

build=${1:-build}
out=${2:-scaling-$(date +%Y%m%d-%H%M%S)}
heap_ms=${IOP_SCALING_HEAP_MS:-300}
msg_count=${IOP_SCALING_MSG_COUNT:-1000000}
msg_cases=${IOP_SCALING_MSG_CASES:-iopool,iopool-apart,limit-b,limit-a}
repeat=${IOP_SCALING_REPEAT:-3}
heap=$build/tests/bench/iop-bench-heap
msg=$build/tests/bench/msg/iop-bench-msg

[ -x "$heap" ] && [ -x "$msg" ] || { echo "scaling: build $build first" >&2; exit 2; }
mkdir -p "$out"

# The CPUs this process may use, one per physical core first, then their siblings: pairs and
# threads taken from the front of the list share no core while there are cores to spare.
cpu_order() {
	local allowed first=() second=() seen=" " cpu core
	allowed=$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')
	for cpu in $allowed; do
		core=$(cat "/sys/devices/system/cpu/cpu$cpu/topology/core_id" 2>/dev/null || echo "$cpu")
		core="$(cat "/sys/devices/system/cpu/cpu$cpu/topology/physical_package_id" \
			2>/dev/null || echo 0)/$core"
		if [[ $seen == *" $core "* ]]; then
			second+=("$cpu")
		else
			first+=("$cpu")
			seen+="$core "
		fi
	done
	echo "${first[@]}" "${second[@]}"
}

read -r -a cpus <<<"$(cpu_order)"
ncpu=${#cpus[@]}
powers() { # up to N: 1 2 4 ... and N itself
	local n=1
	while [ "$n" -lt "$1" ]; do echo "$n"; n=$((n * 2)); done
	echo "$1"
}

{
	echo "# scaling: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs online, order ${cpus[*]}"
	lscpu 2>/dev/null | grep -E '^(Model name|Thread|Core|Socket|NUMA node\(s\)|L2|L3)' || true
	git -C "$(dirname "$0")" log -1 --format='commit %h %s' 2>/dev/null || true
} | tee "$out/machine.txt"

threads=$(powers "$ncpu" | paste -sd, -)
echo "== iop-bench-heap --threads $threads" | tee "$out/heap.txt"
"$heap" --threads "$threads" --duration "$heap_ms" --repeat "$repeat" \
	--csv "$out/heap.csv" 2>&1 | tee -a "$out/heap.txt"

for pairs in $(powers $((ncpu / 2 > 0 ? ncpu / 2 : 1))); do
	list=
	for ((i = 0; i < pairs; i++)); do
		list+="${list:+,}${cpus[$((2 * i % ncpu))]},${cpus[$(((2 * i + 1) % ncpu))]}"
	done
	echo "== iop-bench-msg --cpus $list" | tee "$out/msg-$pairs.txt"
	"$msg" --cpus "$list" --cases "$msg_cases" --count "$msg_count" --repeat "$repeat" \
		--csv "$out/msg-$pairs.csv" 2>&1 | tee -a "$out/msg-$pairs.txt"
done
echo "scaling: tables in $out"
