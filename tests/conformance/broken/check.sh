#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# iop-conform must catch each broken DDM with the check named for its defect,
# and with that check alone: usage: check.sh IOP-CONFORM DDM.so:CHECK ...
# (CHECK is a test name; tests are named uniquely across the suites.)
set -u
conform=$1
shift
bad=0
for pair in "$@"; do
	so=${pair%%:*}
	want=${pair#*:}
	out=$("$conform" --so "$so" 2>&1)
	status=$?
	failed=$(printf '%s\n' "$out" | sed -n 's/^FAILED [^ ]* //p' | tr '\n' ' ')
	if [ "$failed" != "$want " ] || [ "$status" -ne 1 ]; then
		echo "$(basename "$so"): failed [${failed}] with status $status; want [$want] and 1"
		printf '%s\n' "$out" | tail -40
		bad=$((bad + 1))
	else
		echo "$(basename "$so"): caught by $want"
	fi
done
exit $bad
