#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# 4 KiB random reads and writes at queue depth 1 and 32 on one file: fio straight on the file
# (psync at QD 1, io_uring at QD 1 and 32), against iop-blk through the bsa DDM with each of
# its file submission paths (io=sync: preadv/pwritev on the loop; io=uring: io_uring), in-process
# and through a separate iopd; at QD 1 also in-process with the loop turned by the host's own
# thread (--loop-inline: no hand-off between CPUs). Prints a markdown table of medians
# (docs/iop-blk.md#against-fio).
#
#   tests/bench/bsa_vs_fio.sh [BUILD_DIR] [SECONDS] [REPEATS]
#
# Needs fio and python3. The file (256 MiB; IOP_BENCH_FILE, default under /tmp) is written whole
# first, so every run reads and writes the page cache (fio with --invalidate=0, so it does not
# drop it): the numbers compare the I/O paths, not a disk. IOP_BENCH_IO lists the bsa io= modes
# to run (default "sync uring"). An IOP_BENCH_FILE that already exists is refused: the script
# fills the file with random data and removes it at the end, so it only uses one it creates. A
# run asked for io=uring where the DDM fell back to preadv/pwritev (io_uring cannot be set up
# here) is labelled so in the table, with the DDM's reason.
set -euo pipefail

build=${1:-build}
secs=${2:-5}
repeats=${3:-3}
file=${IOP_BENCH_FILE:-/tmp/iop-bench-bsa-$$.img}
sock=/tmp/iop-bench-bsa-$$.sock
errs=/tmp/iop-bench-bsa-$$.err # the DDM's stderr (in-process iop-blk, or iopd)
created=
blk=$build/host-shim/iop-blk/iop-blk
iopd=$build/iop/iopd/iopd
iopd_pid=
pin=

command -v fio >/dev/null || { echo "bsa_vs_fio: fio is not installed" >&2; exit 2; }
[ -x "$blk" ] && [ -x "$iopd" ] || { echo "bsa_vs_fio: build $build first" >&2; exit 2; }

stop_iopd() {
	if [ -n "$iopd_pid" ]; then
		kill -TERM "$iopd_pid" 2>/dev/null || true
		wait "$iopd_pid" 2>/dev/null || true
		iopd_pid=
	fi
}
trap 'stop_iopd; rm -f "$sock" "$errs"; [ -z "$created" ] || rm -f "$file"' EXIT

# Never overwrite, or remove, what is already there (a device, a disk image, a link).
if [ -e "$file" ] || [ -L "$file" ]; then
	echo "bsa_vs_fio: $file exists; IOP_BENCH_FILE must name a file this script can create" >&2
	exit 2
fi
(set -o noclobber; : >"$file") || { echo "bsa_vs_fio: cannot create $file" >&2; exit 2; }
created=1
dd if=/dev/urandom of="$file" bs=1M count=256 conv=notrunc status=none

# One line per run: IOPS p50_us p99_us p999_us
fio_run() { # RW QD ENGINE
	fio --name=b --filename="$file" --size=256M --rw="$1" --bs=4k --ioengine="$3" \
		--iodepth="$2" --numjobs=1 --time_based --runtime="$secs" --randrepeat=0 --invalidate=0 \
		--output-format=json 2>/dev/null |
		python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
p = d["clat_ns"]["percentile"]
print(round(d["iops"]), p["50.000000"] / 1e3, p["99.000000"] / 1e3, p["99.900000"] / 1e3)'
}

blk_run() { # RW QD TARGET-ARGS...
	local rw=$1 qd=$2
	shift 2
	$pin "$blk" "$@" --rw "$rw" --bs 4k --qd "$qd" --duration "$secs" --json 2>>"$errs" |
		python3 -c '
import json, sys
j = json.load(sys.stdin)
l = j["lat_us"]
print(round(j["iops"]), l["p50"], l["p99"], l["p999"])'
}

# The path's label: io=uring that fell back (the DDM said so on stderr) is shown as such.
label() { # PATH IO
	local why
	why=$(sed -n 's/.*io_uring not available (\(.*\)): using preadv\/pwritev.*/\1/p' "$errs" |
		head -n 1)
	if [ "$2" = uring ] && [ -n "$why" ]; then
		echo "$1, io=uring (fell back to io=sync: $why)"
	else
		echo "$1, io=$2"
	fi
}

median() { # lines of "iops p50 p99 p999" -> the median of each column
	python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
cols = [statistics.median(c) for c in zip(*rows)]
print("| %.0f | %.1f | %.1f | %.1f |" % tuple(cols))'
}

echo "| path | pattern | QD | IOPS | p50 us | p99 us | p99.9 us |"
echo "|---|---|---|---|---|---|---|"
for rw in randread randwrite; do
	for qd in 1 32; do
		# psync has no queue: at QD 32 it would be QD 1 again.
		engines="psync io_uring"
		[ "$qd" -gt 1 ] && engines=io_uring
		for engine in $engines; do
			echo -n "| fio ($engine) | $rw | $qd "
			for _ in $(seq "$repeats"); do fio_run "$rw" "$qd" "$engine"; done | median
		done
		for io in ${IOP_BENCH_IO:-sync uring}; do
			: >"$errs"
			row=$(for _ in $(seq "$repeats"); do
				blk_run "$rw" "$qd" --in-process "file=$file,bs=4096,io=$io"
			done | median)
			echo "| $(label "iop-blk, in-process" "$io") | $rw | $qd $row"
			# QD 1 with no hand-off between CPUs: the host's thread turns the loop itself
			# (--loop-inline), so the row shows the path's own cost, apart from the hand-off.
			if [ "$qd" -eq 1 ]; then
				: >"$errs"
				row=$(for _ in $(seq "$repeats"); do
					blk_run "$rw" "$qd" --in-process "file=$file,bs=4096,io=$io" \
						--loop-inline
				done | median)
				echo "| $(label "iop-blk, in-process, loop on the host thread" "$io") |" \
					"$rw | $qd $row"
			fi
			: >"$errs"
			"$iopd" --log-level=lib.eal:error -- --socket "$sock" \
				--ddm "bsa@0:file=$file,bs=4096,io=$io" >/dev/null 2>"$errs" &
			iopd_pid=$!
			for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
			# iopd's loop spins on CPU 1: the host thread stays on CPU 0 with iopd's main lcore.
			[ "$(nproc)" -ge 2 ] && pin="taskset -c 0"
			row=$(for _ in $(seq "$repeats"); do blk_run "$rw" "$qd" -s "$sock"; done | median)
			pin=
			echo "| $(label "iop-blk, iopd" "$io") | $rw | $qd $row"
			stop_iopd
		done
	done
done
