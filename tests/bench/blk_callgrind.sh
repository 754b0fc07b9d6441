#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per iop-blk request at queue depth 1, counted by callgrind, on one thread:
# iop-blk --in-process --loop-inline turns the runtime's loop itself between its polls, so
# every instruction of a request (the host's, the runtime's, the bsa DDM's) runs on the thread
# callgrind counts and none is spent waiting. The difference between N and 2N requests, so that
# setup and teardown cancel; split by callgrind's inclusive counts into the host side (iop-blk
# and the host library), the runtime (its loop, dispatch, and the reply frame's allocation and
# send that the DDM calls), and the bsa DDM's own code (its handler and poll, the backend, and
# libc's memcpy or pread wrapper; the kernel's side of a system call is not counted). Needs valgrind and python3; run from the repository root after a build.
#
#   tests/bench/blk_callgrind.sh [BUILD_DIR] [N] [RW]     # defaults: build 20000 randread
#
# One line per backend: a RAM disk, and a file of 64 MiB (IOP_BENCH_FILE, default under /tmp,
# created and removed here; written whole first so that reads come from the page cache).
set -euo pipefail

build=${1:-build}
n=${2:-20000}
rw=${3:-randread}
here=$(dirname "${BASH_SOURCE[0]}") # callgrind_inclusive.py
blk=$build/host-shim/iop-blk/iop-blk
file=${IOP_BENCH_FILE:-/tmp/iop-blk-callgrind-$$.img}
out=$(mktemp -d /tmp/iop-blk-callgrind.XXXXXX)
created=

command -v valgrind >/dev/null || { echo "blk_callgrind: valgrind is not installed" >&2; exit 2; }
[ -x "$blk" ] || { echo "blk_callgrind: build $build first" >&2; exit 2; }
trap 'rm -rf "$out"; [ -z "$created" ] || rm -f "$file"' EXIT
if [ -e "$file" ] || [ -L "$file" ]; then
	echo "blk_callgrind: $file exists; IOP_BENCH_FILE must name a file this script can create" >&2
	exit 2
fi
(set -o noclobber; : >"$file") || { echo "blk_callgrind: cannot create $file" >&2; exit 2; }
created=1
dd if=/dev/urandom of="$file" bs=1M count=64 status=none

count() { # PARAMS N OUTFILE
	valgrind --tool=callgrind --callgrind-out-file="$3" "$blk" --in-process "$1" --loop-inline \
		--rw "$rw" --bs 4k --qd 1 --ios "$2" --seed 1 >/dev/null 2>&1
}

split() { # A B N LABEL
	PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" python3 - "$@" <<'EOF'
import sys
from callgrind_inclusive import per_unit
label = sys.argv[4]
total, per = per_unit(sys.argv[1], sys.argv[2], int(sys.argv[3]))
loop = per('turn_inline')
ddm = per('bsa_handle') + per('bsa_poll')
# The reply frame's allocation and send are the runtime's, called from the DDM's handler.
reply = per('iop_request_reply_alloc') + per('iop_request_reply_send')
print('%s: %.0f instructions per request: host side %.0f, runtime %.0f (of which the reply '
      'calls the DDM makes %.0f), bsa DDM %.0f' % (label, total, total - loop,
                                                 loop - ddm + reply, reply, ddm - reply))
EOF
}

for backend in ram file; do
	if [ "$backend" = ram ]; then
		params=ram,size=64M,bs=4096
	else
		params=file=$file,bs=4096
	fi
	count "$params" "$n" "$out/$backend.1"
	count "$params" $((2 * n)) "$out/$backend.2"
	split "$out/$backend.1" "$out/$backend.2" "$n" "$rw $backend"
done
