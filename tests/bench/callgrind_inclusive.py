# SPDX-License-Identifier: BSD-3-Clause
"""Inclusive instruction counts per function from a callgrind output file.

Used by the scripts that count a path's instructions as the difference of two
runs (blk_callgrind.sh, replay_callgrind.sh): each function's inclusive count
(itself and what it calls), by callgrind_annotate.
"""
import re
import subprocess


def inclusive(path):
    """(program total, {function name: inclusive instructions}) of one run.

    A function that shows up more than once (recursion, several objects)
    keeps its largest count.
    """
    out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--auto=no',
                          '--threshold=100', path], capture_output=True, text=True).stdout
    counts, total = {}, None
    for line in out.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\(.*?\)\s+PROGRAM TOTALS', line) or \
            re.match(r'\s*([\d,]+)\s+PROGRAM TOTALS', line)
        if m:
            total = int(m.group(1).replace(',', ''))
            continue
        m = re.match(r'\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:(\w+)(?:\'\d+)?\s', line + ' ')
        if m:
            name = m.group(2)
            counts[name] = max(counts.get(name, 0), int(m.group(1).replace(',', '')))
    return total, counts


def per_unit(a, b, n):
    """What runs a (N units) and b (2N units) differ by, divided by n: start-up and
    teardown cancel. Returns (total per unit, per(function) -> inclusive per unit)."""
    ta, da = inclusive(a)
    tb, db = inclusive(b)
    return (tb - ta) / n, lambda name: (db.get(name, 0) - da.get(name, 0)) / n
