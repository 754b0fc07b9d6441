#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# 4 KiB random reads and writes at queue depth 1 and 32 on one file: fio straight on the file
# (psync at QD 1, io_uring at QD 1 and 32), against iop-blk through the bsa DDM with each of
# its file submission paths (io=sync: preadv/pwritev on the loop; io=uring: io_uring), in-process
# (the loop on a thread of its own, and the loop turned by the host's own thread, --loop-inline:
# no hand-off between CPUs) and through a separate iopd. Prints a markdown table of medians, each
# path's IOPS also as a ratio to fio's best engine in the same round (docs/iop-blk.md#against-fio).
#
#   tests/bench/bsa_vs_fio.sh [--smoke] [BUILD_DIR] [SECONDS] [REPEATS]
#
# Needs fio and python3. The file (IOP_BENCH_MIB MiB, default 1024; IOP_BENCH_FILE, default on
# the tmpfs at /dev/shm, as the numbers the block-storage target was set against were measured)
# is written whole first, so every run reads and writes memory (fio with --invalidate=0, so it
# does not drop the page cache of a file elsewhere): the numbers compare the I/O paths, not a
# disk. IOP_BENCH_IO lists the bsa io= modes to run (default "sync uring uring-wait", the last
# io=uring with idle=wait: the loop sleeps in io_uring_enter when idle). An IOP_BENCH_FILE
# that already exists is refused: the script fills the file with random data and removes it at
# the end, so it only uses one it creates. A run asked for io=uring where the DDM fell back to
# preadv/pwritev (io_uring cannot be set up here) is labelled so in the table, with the DDM's
# reason. --smoke (the CI test): one round of 0.2 s a path on a 64 MiB file, so that every path
# is seen to run and every report to count no failed request (SECONDS and REPEATS are not
# read); skipped (77) without fio, or where fio cannot use io_uring.
#
# Each case runs in REPEATS rounds, every path once a round, one after the other, starting one
# path further on each round, so that a change in the machine's speed, or the page cache's
# writeback behind a path, does not fall on the same path every time; the paths of one thread
# (fio's psync, iop-blk with --loop-inline) run on CPU 0, where iopd's host runs too (the CPUs
# of a VM need not be equally fast); and nothing else runs while a path is timed: each tool
# writes its report to a file, read once it has exited (a reader started beside it, python3 in
# a pipe, takes the CPUs for its first half second). Each run's numbers go to stderr as
# "# ROUND|PATH|IOPS P50 P99 P999"; a run that fails, or whose report counts an error, stops
# the script.
set -euo pipefail

smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
build=${1:-build}
if [ $smoke -eq 1 ]; then
	secs=0.2
	fio_secs=200ms # fio reads --runtime=0.2 as 0, and then ignores --time_based
	repeats=1
	mib=${IOP_BENCH_MIB:-64}
else
	secs=${2:-5}
	fio_secs=$secs
	repeats=${3:-3}
	mib=${IOP_BENCH_MIB:-1024}
fi
if ! [[ $secs =~ ^[1-9][0-9]*$ ]] && [ $smoke -eq 0 ]; then
	echo "bsa_vs_fio: SECONDS must be whole seconds: $secs" >&2
	exit 2
fi
if ! [[ $mib =~ ^[1-9][0-9]*$ ]]; then
	echo "bsa_vs_fio: IOP_BENCH_MIB is not a count of MiB: $mib" >&2
	exit 2
fi
# tmpfs at /dev/shm where it has room for the file and 64 MiB more (a container's is often
# 64 MiB in all); else /tmp, whatever it is. The script says which.
shm=/tmp
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
	[ $(($(stat -f -c '%a * %S' /dev/shm) >> 20)) -ge $((mib + 64)) ]; then
	shm=/dev/shm
fi
file=${IOP_BENCH_FILE:-$shm/iop-bench-bsa-$$.img}
tmp=$(mktemp -d /tmp/iop-bench-bsa.XXXXXX)
created=
iopd_pid=
stop_iopd() {
	if [ -n "$iopd_pid" ]; then
		kill -TERM "$iopd_pid" 2>/dev/null || true
		wait "$iopd_pid" 2>/dev/null || true
		iopd_pid=
	fi
}
trap 'stop_iopd; rm -rf "$tmp"; [ -z "$created" ] || rm -f "$file"' EXIT
sock=$tmp/iopd.sock
report=$tmp/report.json # one run's report
rows=$tmp/rows          # a case's runs: "ROUND|PATH|IOPS P50 P99 P999"
# $tmp/err.PATH: the DDM's stderr for one path (in-process iop-blk, or iopd)
blk=$build/host-shim/iop-blk/iop-blk
iopd=$build/iop/iopd/iopd
pin=
cpu0= # taskset for a path that runs on CPU 0, where there are two CPUs or more
[ "$(nproc)" -ge 2 ] && cpu0="taskset -c 0"

if ! command -v fio >/dev/null; then
	echo "bsa_vs_fio: fio is not installed" >&2
	[ $smoke -eq 1 ] && exit 77 # skipped, as meson test takes it
	exit 2
fi
[ -x "$blk" ] && [ -x "$iopd" ] || { echo "bsa_vs_fio: build $build first" >&2; exit 2; }

# Never overwrite, or remove, what is already there (a device, a disk image, a link).
if [ -e "$file" ] || [ -L "$file" ]; then
	echo "bsa_vs_fio: $file exists; IOP_BENCH_FILE must name a file this script can create" >&2
	exit 2
fi
(set -o noclobber; : >"$file") || { echo "bsa_vs_fio: cannot create $file" >&2; exit 2; }
created=1
dd if=/dev/urandom of="$file" bs=1M count="$mib" conv=notrunc status=none
echo "bsa_vs_fio: $file, $mib MiB, on $(stat -f -c %T "$file")" >&2
# io_uring blocked (a seccomp filter, kernel.io_uring_disabled): fio's io_uring cannot run. The
# smoke test is skipped for it, as the DDM's io=uring tests are; a benchmark run fails below.
if [ $smoke -eq 1 ] && ! fio --name=p --filename="$file" --size=4k --rw=read --bs=4k \
	--ioengine=io_uring --output-format=json >/dev/null 2>&1; then
	echo "bsa_vs_fio: SKIP: fio cannot use io_uring here" >&2
	exit 77
fi

# One run of a path: "ROUND|PATH|IOPS P50 P99 P999" onto $rows. The tools are not run inside
# $(...), where set -e would not stop the script on their failure.
fio_run() { # RW QD ENGINE
	local on=
	[ "$3" = psync ] && on=$cpu0
	$on fio --name=b --filename="$file" --size="${mib}M" --rw="$1" --bs=4k --ioengine="$3" \
		--iodepth="$2" --numjobs=1 --time_based --runtime="$fio_secs" --randrepeat=0 \
		--invalidate=0 --output-format=json >"$report" 2>"$tmp/fio.err" ||
		{ echo "bsa_vs_fio: fio failed:" >&2; cat "$tmp/fio.err" >&2; exit 1; }
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
if j["error"]:
    sys.exit("bsa_vs_fio: fio failed: error %d" % j["error"])
d = j["read"] if j["read"]["io_bytes"] else j["write"]
p = d["clat_ns"]["percentile"]
print(round(d["iops"]), p["50.000000"] / 1e3, p["99.000000"] / 1e3, p["99.900000"] / 1e3)' \
		"$report"
}

blk_run() { # RW QD PATH TARGET-ARGS...
	local rw=$1 qd=$2 path=$3
	shift 3
	$pin "$blk" "$@" --rw "$rw" --bs 4k --qd "$qd" --duration "$secs" --json >"$report" \
		2>>"$tmp/err.$path" ||
		{ echo "bsa_vs_fio: iop-blk failed:" >&2; tail -n 5 "$tmp/err.$path" >&2; exit 1; }
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
if j["errors"]:
    sys.exit("bsa_vs_fio: iop-blk counted %d failed requests" % j["errors"])
l = j["lat_us"]
print(round(j["iops"]), l["p50"], l["p99"], l["p999"])' "$report"
}

start_iopd() { # PATH IO
	"$iopd" --log-level=lib.eal:error -- --socket "$sock" \
		--ddm "bsa@0:file=$file,bs=4096,$(ddm_io "$2")" >/dev/null 2>>"$tmp/err.$1" &
	iopd_pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
}

# The DDM's parameters for an io mode of IOP_BENCH_IO.
ddm_io() { # MODE
	case $1 in
	uring-wait) echo "io=uring,idle=wait" ;;
	*) echo "io=$1" ;;
	esac
}

run_path() { # ROUND RW QD PATH
	local round=$1 rw=$2 qd=$3 path=$4 io=${4#*-}
	printf '%s|%s|' "$round" "$path" >>"$rows"
	case $path in
	fio-*) fio_run "$rw" "$qd" "$io" >>"$rows" ;;
	inproc-*)
		blk_run "$rw" "$qd" "$path" --in-process "file=$file,bs=4096,$(ddm_io "$io")" \
			>>"$rows" ;;
	inline-*)
		# No hand-off between CPUs: the host's thread turns the loop itself.
		pin=$cpu0
		blk_run "$rw" "$qd" "$path" --in-process "file=$file,bs=4096,$(ddm_io "$io")" \
			--loop-inline >>"$rows"
		pin= ;;
	iopd-*)
		start_iopd "$path" "$io"
		# iopd's loop spins on CPU 1: the host stays on CPU 0 with iopd's main lcore.
		pin=$cpu0
		blk_run "$rw" "$qd" "$path" -s "$sock" >>"$rows"
		pin=
		stop_iopd ;;
	esac
	echo "# $(tail -n 1 "$rows")" >&2
}

# The path's label: io=uring that fell back (its DDM said so on stderr) is shown as such.
label() { # PATH
	local io=${1#*-} what why
	case $1 in
	fio-*) echo "fio ($io)"; return ;;
	inproc-*) what="iop-blk, in-process" ;;
	inline-*) what="iop-blk, in-process, loop on the host thread" ;;
	iopd-*) what="iop-blk, iopd" ;;
	esac
	why=$(sed -n 's/.*io_uring not available (\(.*\)): using preadv\/pwritev.*/\1/p' \
		"$tmp/err.$1" 2>/dev/null | head -n 1)
	if [ "${io%-wait}" = uring ] && [ -n "$why" ]; then
		echo "$what, $(ddm_io "$io" | sed 's/,/, /') (fell back to io=sync: $why)"
	else
		echo "$what, $(ddm_io "$io" | sed 's/,/, /')"
	fi
}

# A case's rows, in the order of its paths: the medians of their runs, and the median over rounds
# of their IOPS over the best fio engine's in the same round. PATH=LABEL names a path.
summarize() { # RW QD PATH=LABEL... < rows
	python3 -c '
import statistics, sys
rw, qd = sys.argv[1:3]
names = [a.split("=", 1) for a in sys.argv[3:]]
runs, best = {}, {}
for line in sys.stdin:
    rnd, path, vals = line.rstrip("\n").split("|")
    v = list(map(float, vals.split()))
    runs.setdefault(path, []).append((rnd, v))
    if path.startswith("fio-"):
        best[rnd] = max(best.get(rnd, 0), v[0])
for path, name in names:
    cols = [statistics.median(c) for c in zip(*(v for _, v in runs[path]))]
    ratio = statistics.median(v[0] / best[rnd] for rnd, v in runs[path])
    print("| %s | %s | %s | %.0f | %.2fx | %.1f | %.1f | %.1f |" %
          (name, rw, qd, cols[0], ratio, cols[1], cols[2], cols[3]))' "$@"
}

echo "| path | pattern | QD | IOPS | ÷ fio's best | p50 us | p99 us | p99.9 us |"
echo "|---|---|---|---|---|---|---|---|"
for rw in randread randwrite; do
	for qd in 1 32; do
		# psync has no queue: at QD 32 it would be QD 1 again.
		paths=(fio-psync fio-io_uring)
		[ "$qd" -gt 1 ] && paths=(fio-io_uring)
		for io in ${IOP_BENCH_IO:-sync uring uring-wait}; do
			paths+=("inproc-$io" "inline-$io" "iopd-$io")
		done
		: >"$rows"
		for round in $(seq "$repeats"); do
			for k in $(seq 0 $((${#paths[@]} - 1))); do
				run_path "$round" "$rw" "$qd" \
					"${paths[$(((k + round - 1) % ${#paths[@]}))]}"
			done
		done
		labels=()
		for path in "${paths[@]}"; do labels+=("$path=$(label "$path")"); done
		summarize "$rw" "$qd" "${labels[@]}" <"$rows"
	done
done
