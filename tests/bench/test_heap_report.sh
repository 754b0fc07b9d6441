#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What iop-bench-heap's output promises a reader and a script (docs/iop-bench-heap.md, "Reading
# the output"): the header line with the cost of one locked RMW, and per workload the tables of
# rate, ns per op, against one thread and against iopool, all from the same cells; the JSON's
# locked_rmw_ns the header's figure; the CSV's ns_per_op the table's. One short run of two
# peers on one workload.
set -u
bench=${IOP_BENCH_HEAP:?path of iop-bench-heap}
command -v python3 >/dev/null || { echo "test_heap_report: SKIP: python3 is not installed" >&2; exit 77; }
dir=$(mktemp -d /tmp/iop-bench-report.XXXXXX)
trap 'rm -rf "$dir"' EXIT

if ! "$bench" --peers iopool,spin-buddy --workloads fixed64 --threads 1,2 --duration 20 \
	--csv "$dir/r.csv" --json "$dir/r.json" >"$dir/out" 2>"$dir/err"; then
	echo "FAILED: iop-bench-heap exited non-zero:"
	cat "$dir/out" "$dir/err"
	exit 1
fi
python3 - "$dir" <<'EOF'
import csv, json, re, sys

d = sys.argv[1]
out = open(d + '/out').read()
failures = []

def check(ok, what):
    print(('ok: ' if ok else 'FAILED: ') + what)
    if not ok:
        failures.append(what)

m = re.search(r'^one locked RMW here: ([0-9.]+) ns', out, re.M)
check(m is not None and float(m.group(1)) > 0, 'the header says what one locked RMW costs')
header_ns = float(m.group(1)) if m else None

# The tables of the one workload: title line, then rows "peer v1 v2".
tables = {}
current = None
for line in out.split('\n'):
    cols = line.split()
    if len(cols) >= 3 and cols[-2:] == ['T=1', 'T=2']:
        current = tables.setdefault(line[:16].strip(), {})
    elif current is not None and len(cols) == 3 and not line.startswith(' '):
        current[cols[0]] = [c.rstrip('x') for c in cols[1:]]
    elif not line.strip():
        current = None
for title in ('peer', 'ns per op', 'vs T=1', 'vs iopool'):
    check(title in tables, 'a table "%s"' % title)
if failures:
    print(out)
    sys.exit(1)

for peer in ('iopool', 'spin-buddy'):
    for t in range(2):
        rate = float(tables['peer'][peer][t])
        ns = float(tables['ns per op'][peer][t])
        # Both printed to two decimals: 2 % covers the rounding of a rate above 0.25 M/s.
        check(rate < 0.25 or abs(rate * ns / 1000 - 1) < 0.02,
              '%s T=%d: ns per op %.2f is 1000 / %.2f M/s' % (peer, t + 1, ns, rate))
    one, two = (float(v) for v in tables['peer'][peer])
    check(tables['vs T=1'][peer][0] == '1.00', '%s against its own one thread: 1.00x' % peer)
    check(abs(float(tables['vs T=1'][peer][1]) - two / one) < 0.02 * two / one + 0.01,
          '%s T=2 against T=1 is the rates\' quotient' % peer)
check('iopool' not in tables['vs iopool'], 'iopool is not compared with itself')

j = json.load(open(d + '/r.json'))
check(header_ns is not None and abs(j.get('locked_rmw_ns', -1) - header_ns) < 0.006,
      'the JSON\'s locked_rmw_ns is the header\'s figure')
rows = list(csv.DictReader(open(d + '/r.csv')))
check(len(rows) == 4, 'the CSV has a row per cell')
for r in rows:
    peer, t = r['peer'], int(r['threads'])
    printed = float(tables['ns per op'][peer][t - 1])
    check(abs(float(r['ns_per_op']) - printed) < 0.006 + 0.001 * printed,
          'CSV ns_per_op of %s T=%d is the table\'s' % (peer, t))
sys.exit(1 if failures else 0)
EOF
