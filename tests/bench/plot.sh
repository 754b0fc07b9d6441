#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One PNG per workload from iop-bench-heap's CSV: throughput against threads,
# one line per peer. The y axis is logarithmic because the peers differ by
# two orders of magnitude; the x axis is the thread counts that were run.
# iopool, the reference, is the thick black line.
#
#   tests/bench/plot.sh RESULTS.csv [OUTDIR]
#
# Writes OUTDIR/iop-bench-heap-WORKLOAD.png (OUTDIR default: .). Needs gnuplot
# (Debian: gnuplot-nox).
set -euo pipefail

[ $# -ge 1 ] || {
	echo "usage: plot.sh RESULTS.csv [OUTDIR]" >&2
	exit 2
}
csv=$1
out=${2:-.}
command -v gnuplot >/dev/null || {
	echo "plot.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2
	exit 1
}
head -1 "$csv" | grep -q '^peer,workload,threads,ops,seconds,ops_per_sec,' || {
	echo "plot.sh: $csv is not an iop-bench-heap CSV" >&2
	exit 1
}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Distinct values of column $1 among the rows (of workload $2 if given), in first-seen order.
column() {
	awk -F, -v c="$1" -v w="${2:-}" 'NR > 1 && (w == "" || $2 == w) && !seen[$c]++ { print $c }' "$csv"
}

plot_workload() { # workload
	local w=$1 plots=() peer data

	while read -r peer; do
		data="$tmp/$w.$peer.dat"
		awk -F, -v w="$w" -v p="$peer" 'NR > 1 && $2 == w && $1 == p { print $3, $6 / 1e6 }' \
			"$csv" | sort -n >"$data"
		# iopool is what the others are compared with: draw it thick and black
		if [ "$peer" = iopool ]; then
			plots+=("'$data' using 1:2 with linespoints lw 3 lc rgb 'black' title '$peer'")
		else
			plots+=("'$data' using 1:2 with linespoints title '$peer'")
		fi
	done < <(column 1 "$w")
	gnuplot <<-EOF
		set terminal pngcairo size 900,600 noenhanced
		set output '$out/iop-bench-heap-$w.png'
		set title '$w'
		set xlabel 'threads'
		set ylabel 'M ops/s'
		set logscale y
		set xtics ($(column 3 "$w" | sort -n | paste -sd,))
		set key outside right
		set grid
		plot $(IFS=,; echo "${plots[*]}")
	EOF
	echo "$out/iop-bench-heap-$w.png"
}

for w in $(column 2); do
	plot_workload "$w"
done
