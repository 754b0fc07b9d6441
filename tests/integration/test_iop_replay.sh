#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# iop-replay, the real binary: the no-argument main job; generated captures
# (pcap and pcapng, 60 to 9000 bytes, VLAN tagged) replayed and found
# identical in the tx pcap, batched (--batch 64, the default, and 32) and a request
# a packet (--batch 1); rate control within 5% at modest rates (a check
# passes on the first of up to three runs within bounds); the
# options' counts, and the port's own count of what it sent; and every bad
# input refused with its message and a non-zero exit (or skipped and counted
# with --skip-bad).
set -u
R=${IOP_TEST_REPLAY:?path of iop-replay}
dir=$(mktemp -d /tmp/iop-replay-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0

fail() {
	echo "FAILED: $*"
	failures=$((failures + 1))
}

# expect RC PATTERN ARGS...: the exit status is RC (or, for "nz", not 0) and the output
# matches PATTERN (when not empty).
expect() {
	want=$1 pattern=$2
	shift 2
	"$R" "$@" >out.txt 2>&1
	rc=$?
	if [ "$want" = nz ] && [ $rc -eq 0 ] || [ "$want" != nz ] && [ $rc -ne "$want" ]; then
		fail "iop-replay $*: exit $rc, wanted $want"
		cat out.txt
	elif [ -n "$pattern" ] && ! grep -q -- "$pattern" out.txt; then
		fail "iop-replay $*: no '$pattern' in:"
		cat out.txt
	else
		echo "ok: iop-replay $* ($pattern)"
	fi
}

# json_field NAME: a number from the last JSON summary.
json_field() {
	grep '^{' out.txt | tail -1 | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

# within VALUE WANT PERCENT
within() {
	awk -v v="$1" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= w * p / 100) }'
}

# The main job: a generated sample, replayed and verified; batched (the
# default, --batch 64) and a request a packet (--batch 1).
expect 0 "identical to the input"
expect 0 "identical to the input" --batch 1

# Generated captures, both formats, streamed and preloaded, at top speed.
expect 0 "" --generate=sample.pcap
expect 0 "" --generate=sample.pcapng
expect 0 "identical to the input" --verify -o tx1.pcap sample.pcap
expect 0 "identical to the input" --verify --preload --topspeed -o tx2.pcap sample.pcapng
expect 0 '"packets":72' --json -o tx3.pcap sample.pcapng

# Batched sends: the tx pcap identical to the input with --batch 32 and
# --batch 1, at top speed and paced; a request a packet with --batch 1, fewer
# requests than packets with --batch 32 at top speed.
for b in 32 1; do
	expect 0 "identical to the input" --verify --preload --topspeed --batch $b -o tx4.pcap sample.pcap
	expect 0 "identical to the input" --verify --topspeed --batch $b -o tx5.pcap sample.pcapng
	expect 0 "identical to the input" --verify --pps=2000 --batch $b -o tx6.pcap sample.pcap
done
# Both of the lan DDM's tx modes: the tx pcap identical to the input, batched and not.
for t in copy zerocopy; do
	expect 0 "identical to the input" --verify --preload --topspeed --tx=$t -o tx7.pcap sample.pcap
	expect 0 "identical to the input" --verify --topspeed --batch 1 --tx=$t -o tx8.pcap sample.pcapng
done
# A preloaded capture goes by reference from the frame window (no copy on the
# host's side); --preload=memory keeps it in process memory, copied into each
# request, as a streamed capture's packets are: both identical to the input.
expect 0 '"by_reference":true,' --json --verify --preload --topspeed -o tx.pcap sample.pcap
expect 0 '"by_reference":true,.*"identical":true' --json --verify --preload=window --topspeed \
	--batch 1 -o tx.pcap sample.pcapng
for t in copy zerocopy; do
	expect 0 '"by_reference":false,.*"identical":true' --json --verify --preload=memory \
		--topspeed --tx=$t -o tx.pcap sample.pcapng
done
expect 0 '"by_reference":false,' --json --verify --topspeed -o tx.pcap sample.pcap
expect 2 "bad value 'disk'" --preload=disk sample.pcap
# A capture over several of the window's 1 MiB blocks (the sample 40 times over, 6 MiB: what
# iop-replay sent, as the port wrote it), by reference and identical.
expect 0 "packets 2880" --loop=40 --topspeed -o big.pcap sample.pcap
expect 0 '"packets":2880,.*"by_reference":true,.*"identical":true' --json --verify --preload \
	--topspeed -o tx.pcap big.pcap
# By reference at top speed a request's packets go in one call: the same counts and checks as
# one at a time. --limit not a multiple of --batch; --duration; packets too large for the frame
# refused, or skipped and counted, among good ones.
expect 0 '"packets":1001,.*"port_packets":1001,.*"by_reference":true,' --json --loop=0 \
	--limit=1001 --topspeed --preload --vdev=net_null0,no-rx=1 sample.pcap
expect 0 '"by_reference":true,' --json --loop=0 --duration=0.3 --topspeed --preload \
	--vdev=net_null0,no-rx=1 sample.pcap
seconds=$(json_field seconds)
# It stops (--loop=0 would go on for ever), at 0.3 s and at most a request and a stall later.
awk -v s="$seconds" 'BEGIN { exit !(s != "" && s >= 0.29 && s < 1.0) }' ||
	fail "--duration=0.3 --topspeed --preload: $seconds s"
expect nz "skip-bad" --max-frame=4096 --preload --topspeed -o tx.pcap sample.pcap
expect 0 '"skipped":15,.*"by_reference":true,' --json --max-frame=4096 --skip-bad --preload \
	--topspeed -o tx.pcap sample.pcap
expect 0 '"packets":171,.*"skipped":45,' --json --loop=3 --max-frame=4096 --skip-bad \
	--preload --topspeed -o tx.pcap sample.pcap
# A frame that holds fewer packets than --batch (a small --max-frame): the same packets sent and
# skipped by reference as copied, and each frame posted when full (10 packets by reference in
# 100 bytes, 29 in 256), the batches running on over skipped packets and passes.
for mf in 100 256; do
	expect 0 '"by_reference":false,' --json --loop=3 --max-frame=$mf --skip-bad \
		--preload=memory --topspeed -o tx.pcap sample.pcap
	copied="$(json_field packets) $(json_field skipped)"
	expect 0 '"by_reference":true,' --json --loop=3 --max-frame=$mf --skip-bad --preload \
		--topspeed -o tx.pcap sample.pcap
	by_ref="$(json_field packets) $(json_field skipped)"
	[ "$by_ref" = "$copied" ] && [ "$by_ref" != "0 216" ] ||
		fail "--max-frame=$mf --preload: packets and skipped $by_ref, copied $copied"
	fits=$(( (mf / 4 - 5) / 2 ))
	requests=$(json_field requests)
	[ "$requests" = $(( ($(json_field packets) + fits - 1) / fits )) ] ||
		fail "--max-frame=$mf --preload: $requests requests for $(json_field packets) packets"
done
# An empty first record (skipped with --skip-bad) leaves the rest by reference.
printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\001\000\000\000' >empty1.pcap
head -c 16 /dev/zero >>empty1.pcap
tail -c +25 sample.pcap >>empty1.pcap
expect 0 '"packets":72,.*"skipped":1,.*"by_reference":true,' --json --preload --skip-bad \
	--topspeed -o tx.pcap empty1.pcap
expect 0 '"packets":72,.*"requests":72,"batch":1,' --json --topspeed --batch 1 -o tx.pcap sample.pcap
expect 0 '"packets":216,.*"drops":0,.*"port_packets":216,' --json --loop=3 --topspeed --batch 64 -o tx.pcap sample.pcap
expect 0 '"packets":72,' --json --topspeed --batch 32 -o tx.pcap sample.pcap
requests=$(json_field requests)
[ -n "$requests" ] && [ "$requests" -lt 72 ] ||
	fail "--batch 32 --topspeed: $requests requests for 72 packets"

# Counts the options set.
expect 0 '"packets":5,' --json --limit=5 -o tx.pcap sample.pcap
expect 0 '"packets":216,' --json --loop=3 --preload --topspeed -o tx.pcap sample.pcap
expect 0 '"packets":1000,' --json --loop=0 --limit=1000 --topspeed -o tx.pcap sample.pcap

# The port's own count of what it sent agrees with the replies: net_pcap, and
# net_null with its rx off (the sink tests/bench/replay_vs_testpmd.sh uses).
expect 0 '"packets":216,.*"port_packets":216,' --json --loop=3 --topspeed -o tx.pcap sample.pcap
expect 0 '"packets":216,.*"port_packets":216,' --json --loop=3 --preload --topspeed \
	--vdev=net_null0,no-rx=1 sample.pcap
expect 0 "the port counted 72 packets sent" -o tx.pcap sample.pcap

# --loop-inline (no lcore for the DDM; the host thread turns the IOP's loop, as
# tests/bench/replay_callgrind.sh counts it): the same output, every packet
# counted by the port, batched and not, with both tx modes.
for t in copy zerocopy; do
	expect 0 "identical to the input" --verify --preload --topspeed --loop-inline --tx=$t \
		-o tx9.pcap sample.pcap
	expect 0 "identical to the input" --verify --batch 1 --loop-inline --tx=$t -o tx9.pcap \
		sample.pcapng
done
expect 0 '"packets":1000,.*"drops":0,.*"port_packets":1000,' --json --loop=0 --limit=1000 \
	--topspeed --preload --loop-inline --vdev=net_null0,no-rx=1 sample.pcap

# paced CHECKS ARGS...: one paced replay, its JSON fields within 5 % of what CHECKS (lines of
# "FIELD WANT") say. A rate depends on the sender having its CPU when its packets are due, and
# the time counts until the last reply, so on a machine busy with other work a stall near the
# end can put any one run out of bounds. A correct pacer is within them whenever the machine
# lets it, a wrong one never: each check gets up to three runs and passes on the first within.
paced() {
	checks=$1
	shift
	attempt=1
	while :; do
		if "$R" "$@" >out.txt 2>&1; then
			bad=$(echo "$checks" | while read -r field want; do
				within "$(json_field "$field")" "$want" 5 ||
					printf '%s %s (wanted %s) ' "$field" "$(json_field "$field")" "$want"
			done)
		else
			bad="exit status $?"
		fi
		if [ -z "$bad" ]; then
			echo "ok: iop-replay $* (run $attempt)"
			return
		fi
		echo "iop-replay $*: run $attempt: $bad"
		if [ $attempt -eq 3 ]; then
			fail "iop-replay $*: $bad"
			cat out.txt
			return
		fi
		attempt=$((attempt + 1))
	done
}

# Rate control, within 5%; each run lasts half a second to a second.
paced "pps 1000
packets 1000" --json --pps=1000 --loop=0 --limit=1000 -o tx.pcap sample.pcap
paced "mbps 20
packets 1200" --json --mbps=20 --loop=0 --limit=1200 -o tx.pcap sample.pcap
paced "seconds 0.5
packets 100" --json --duration=0.5 --loop=0 --pps=200 -o tx.pcap sample.pcap

# Bad input: a message and a non-zero exit, never a crash.
expect nz "No such file" missing.pcap
head -c 5000 sample.pcapng >truncated.pcapng
expect nz "truncated" truncated.pcapng
expect 0 "skipped 1" --skip-bad -o tx.pcap truncated.pcapng
head -c 20 sample.pcap >short.pcap
expect nz "short.pcap" short.pcap
head -c 4096 /dev/urandom >corrupt.pcap
expect nz "unknown file format" corrupt.pcap
printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\145\000\000\000' >raw.pcap
expect nz "unsupported link type 12 (RAW)" raw.pcap
expect nz "skip-bad" --max-frame=4096 -o tx.pcap sample.pcap
expect 0 '"skipped":15' --json --max-frame=4096 --skip-bad -o tx.pcap sample.pcap
expect 0 '"skipped":21' --json --mtu=1500 --skip-bad -o tx.pcap sample.pcap
expect 2 "bad value" --pps=fast sample.pcap
expect 2 "bad value" --batch=0 sample.pcap
expect 2 "bad value" --batch=65 sample.pcap
expect 2 "bad value" --tx=fast sample.pcap
expect 2 "at most one of" --pps=10 --topspeed sample.pcap
expect 2 "one loop" --verify --loop=2 sample.pcap

echo "$failures failed"
[ $failures -eq 0 ]
