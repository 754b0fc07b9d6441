#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# iop-conform must catch each broken DDM with the check named for its defect,
# and with that check alone (or those checks, space-separated, in the order
# they run, for a defect that more than one check depends on):
#   check.sh IOP-CONFORM [--params STR] [--seed N] [--prepare ARGS] DDM.so:CHECK ...
# (CHECK is a test name; tests are named uniquely across the suites.)
#   --params STR    each broken DDM's parameters (default: none)
#   --seed N        iop-conform's --seed for every run (default: its own each run)
#   --prepare ARGS  before each broken DDM, run iop-conform ARGS with the same
#                   --params and --seed, which must pass: a correct DDM that
#                   leaves its data where the broken one will look (a disk image)
set -u
conform=$1
shift
params=
seed=
prepare=
while [ $# -gt 0 ]; do
	case $1 in
	--params) params=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--prepare) prepare=$2; shift 2 ;;
	*) break ;;
	esac
done
# The options every run gets.
common=
[ -n "$params" ] && common="--params $params"
[ -n "$seed" ] && common="$common --seed $seed"
bad=0
for pair in "$@"; do
	so=${pair%%:*}
	want=${pair#*:}
	if [ -n "$prepare" ]; then
		# shellcheck disable=SC2086 # ARGS and the options are word lists
		if ! out=$("$conform" $prepare $common 2>&1); then
			echo "$(basename "$so"): the correct run before it (iop-conform $prepare $common) failed"
			printf '%s\n' "$out" | tail -40
			bad=$((bad + 1))
			continue
		fi
	fi
	# shellcheck disable=SC2086
	out=$("$conform" --so "$so" $common 2>&1)
	status=$?
	failed=$(printf '%s\n' "$out" | sed -n 's/^FAILED [^ ]* //p' | tr '\n' ' ')
	checks=$(printf '%s\n' "$want" | wc -w) # the exit status: one per failed check
	if [ "$failed" != "$want " ] || [ "$status" -ne "$checks" ]; then
		echo "$(basename "$so"): failed [${failed}] with status $status; want [$want] and $checks"
		printf '%s\n' "$out" | tail -40
		bad=$((bad + 1))
	else
		echo "$(basename "$so"): caught by $want${prepare:+ (after iop-conform $prepare $common)}"
	fi
done
exit $bad
