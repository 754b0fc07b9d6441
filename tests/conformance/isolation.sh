#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A DDM that crashes fails the test that made it crash, and the run goes on:
#   isolation.sh IOP-CONFORM CRASHING-DDM.so TEST XML-PREFIX
# With each test in a child (the default): exit status 1, TEST's failure in
# the CUnit XML with the signal's name (or, built with sanitizers, the exit
# status of the process they stopped), every other test of the generic and
# control suites run and passed (the DDM must have no class suite).
# With --no-fork the same DDM takes the whole run down: what the children
# are for.
set -u
conform=$1 so=$2 test=$3 xml=$4
bad=0
out=$("$conform" --so "$so" --xml "$xml" 2>&1)
status=$?
results=$xml-Results.xml
if [ "$status" -ne 1 ]; then
	echo "isolated run: exit status $status, want 1"
	bad=1
fi
# The failure record of TEST: its name, then the condition that names the
# signal (in a sanitizer build, which reports the fault and exits, the status,
# or SIGABRT with ASAN_OPTIONS=abort_on_error=1).
if ! grep -A4 "<TEST_NAME> $test </TEST_NAME>" "$results" |
	grep -Eq "killed by signal (11 \(SIGSEGV|6 \(SIGABRT)|exited with status [0-9]+ before the test returned"; then
	echo "isolated run: no failure of $test naming SIGSEGV (or a sanitizer's exit) in $results"
	bad=1
fi
failures=$(grep -c "<CUNIT_RUN_TEST_FAILURE>" "$results")
successes=$(grep -c "<CUNIT_RUN_TEST_SUCCESS>" "$results")
# The suites for every class (the DDM has no class suite): every test ran.
tests=$("$conform" --so "$so" -l | grep -vc '(class')
if [ "$failures" -ne 1 ] || [ $((failures + successes)) -ne "$tests" ]; then
	echo "isolated run: $failures failures, $successes successes in $results; want 1 and $((tests - 1))"
	bad=1
fi
# One process: the crash ends it before CUnit's summary.
nofork=$("$conform" --so "$so" --no-fork -t "$test" 2>&1)
status=$?
if [ "$status" -eq 0 ] || printf '%s\n' "$nofork" | grep -q "Run Summary"; then
	echo "--no-fork: exit status $status; the crash should have ended the process"
	bad=1
fi
if [ $bad -ne 0 ]; then
	printf '%s\n' "$out" | tail -40
else
	echo "$test: failed in its own process; the other $successes tests passed"
fi
exit $bad
