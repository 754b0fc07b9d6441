#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Sets up, builds and runs every iopool test, ending with "N passed, N failed".
#
#   build/        gcc, -Werror: every suite (unit, concurrency, fuzz replay, bench smoke)
#   build-asan/   gcc, AddressSanitizer + UndefinedBehaviorSanitizer: unit suite
#   build-tsan/   gcc, ThreadSanitizer (DPDK rings in C11 atomics): concurrency suite
#   build-clang/  clang, -Werror: unit suite
#   build-fuzz/   clang, libFuzzer + ASan + UBSan: fuzz-heap for IOP_FUZZ_SECONDS (60),
#                 fuzz-heap-cached for IOP_FUZZ_CACHED_SECONDS (20), fuzz-frame for
#                 IOP_FUZZ_FRAME_SECONDS (20), fuzz-sgl for IOP_FUZZ_SGL_SECONDS (20)
#
# Options: --quick skips the sanitizer, clang and fuzz builds.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh || exit 1

passed=0
failed=0
failures=()

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# DPDK's inline ring code: see the file for what is silenced and why.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan-dpdk-ring.supp"

configure() { # dir, meson args...
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log"
			return 1
		}
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || {
		tail -50 "$dir.ninja.log"
		return 1
	}
}

# Count the results meson wrote for this run.
tally() { # dir, label
	local counts
	counts=$(python3 - "$1/meson-logs/testlog.json" "$2" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        ok += 1
    else:
        bad += 1
        print("FAILED: %s %s (%s)" % (sys.argv[2], r["name"], r["result"]), file=sys.stderr)
print(ok, bad)
PY
	)
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
}

run_suites() { # label, dir, env..., --, meson test args...
	local label=$1 dir=$2
	shift 2
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	echo "== $label"
	env "${envs[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs "$@" |
		grep -E '^ *[0-9]+/[0-9]+ ' || true
	tally "$dir" "$label"
}

run_fuzzer() { # name, seconds, scratch corpus dir
	if build-fuzz/tests/fuzz/"$1" -max_total_time="$2" -print_final_stats=1 "$3" \
		>build-fuzz/"$1".log 2>&1; then
		echo "$1: $(grep -E 'stat::number_of_executed_units' build-fuzz/"$1".log)"
		passed=$((passed + 1))
	else
		tail -40 build-fuzz/"$1".log
		echo "FAILED: $1" >&2
		failed=$((failed + 1))
	fi
}

build_failed() { # label
	echo "FAILED: $1 does not build" >&2
	failed=$((failed + 1))
	failures+=("$1")
}

if configure build; then
	run_suites gcc build -- 
else
	build_failed gcc
fi

if [ $quick -eq 0 ]; then
	if configure build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
		run_suites asan+ubsan build-asan -- --suite unit
	else
		build_failed asan+ubsan
	fi

	# C11 atomics in DPDK's ring headers, so TSan sees their release/acquire.
	if configure build-tsan -Db_sanitize=thread -Db_lundef=false \
		-Dc_args=-DRTE_USE_C11_MEM_MODEL; then
		run_suites tsan build-tsan IOP_STRESS_OPS=100000 -- --suite concurrency
	else
		build_failed tsan
	fi

	if CC=clang configure build-clang; then
		run_suites clang build-clang -- --suite unit
	else
		build_failed clang
	fi

	echo "== libFuzzer"
	if CC=clang configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false; then
		corpus=$(mktemp -d)
		cp tests/fuzz/corpus/* "$corpus"/
		run_fuzzer fuzz-heap "${IOP_FUZZ_SECONDS:-60}" "$corpus"
		rm -rf "$corpus"
		corpus=$(mktemp -d)
		cp tests/fuzz/corpus/* "$corpus"/
		run_fuzzer fuzz-heap-cached "${IOP_FUZZ_CACHED_SECONDS:-20}" "$corpus"
		rm -rf "$corpus"
		corpus=$(mktemp -d)
		run_fuzzer fuzz-frame "${IOP_FUZZ_FRAME_SECONDS:-20}" "$corpus"
		rm -rf "$corpus"
		corpus=$(mktemp -d)
		run_fuzzer fuzz-sgl "${IOP_FUZZ_SGL_SECONDS:-20}" "$corpus"
		rm -rf "$corpus"
	else
		build_failed libfuzzer
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
