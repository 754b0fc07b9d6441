/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The send loop: each packet of the capture, loop after loop, posted when
 * its time comes. When it comes is set by one of: --topspeed (at once),
 * --pps, --mbps, or the capture's own timestamps divided by --multiplier
 * (1 when not given, as tcpreplay). Replies are taken while waiting, so a
 * request's latency is its frame's round trip, not the wait for its turn.
 *
 * Packets go up to --batch to a request: a packet already due when it is
 * read (always, at --topspeed) joins the batch being gathered, which is
 * posted when full; a packet not yet due first has the batch posted, then
 * waits for its time. So no packet is posted before it is due, and the clock
 * is read once a request (when it is posted) rather than once a packet. At
 * --topspeed with the capture in the window, the packets of a batch go in
 * one call (send_run()), with the same checks and counts.
 */
#include <stdio.h>
#include <time.h>

#include "replay.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct pacer {
	uint64_t start;      /* the replay's start */
	uint64_t loop_start; /* this loop's, for capture timing */
	uint64_t first_ts;   /* the capture's first timestamp in this loop */
	bool have_first;
	uint64_t packets, bits;
	uint64_t now;        /* the clock when last read */
};

/* When the next packet is due, in now_ns() time. */
static uint64_t due(const struct replay_opts *o, struct pacer *pc, const struct packet *p)
{
	if (o->topspeed)
		return 0;
	if (o->pps > 0)
		return pc->start + (uint64_t)((double)pc->packets * 1e9 / o->pps);
	if (o->mbps > 0)
		return pc->start + (uint64_t)((double)pc->bits * 1e3 / o->mbps);
	if (!pc->have_first) {
		pc->first_ts = p->ts_ns;
		pc->have_first = true;
	}
	/* A capture whose clock goes back sends that packet at once. */
	if (p->ts_ns < pc->first_ts)
		return 0;
	return pc->loop_start + (uint64_t)((double)(p->ts_ns - pc->first_ts) /
					   (o->multiplier > 0 ? o->multiplier : 1.0));
}

static bool out_of_time(const struct replay_opts *o, const struct pacer *pc, uint64_t now)
{
	return o->duration > 0 && (double)(now - pc->start) >= o->duration * 1e9;
}

/* Wait for the packet's turn, taking replies. @return false when --duration ran out. */
static bool wait_turn(const struct replay_opts *o, struct replay_iop *x, struct pacer *pc,
		      uint64_t when, uint64_t *next_stats)
{
	uint64_t now = now_ns();

	for (;;) {
		if (out_of_time(o, pc, now))
			return false;
		if (o->stats > 0 && now >= *next_stats) {
			report_progress(replay_iop_stats(x), (double)(now - pc->start) / 1e9);
			*next_stats += (uint64_t)(o->stats * 1e9);
		}
		if (now >= when) {
			pc->now = now;
			return true;
		}
		replay_iop_poll(x);
		now = now_ns();
	}
}

/* After a request was posted at `now`: progress lines, and --duration. @return false: out of time. */
static bool posted(const struct replay_opts *o, struct replay_iop *x, struct pacer *pc,
		   uint64_t now, uint64_t *next_stats)
{
	pc->now = now;
	if (o->stats > 0 && now >= *next_stats) {
		report_progress(replay_iop_stats(x), (double)(now - pc->start) / 1e9);
		*next_stats += (uint64_t)(o->stats * 1e9);
	}
	return !out_of_time(o, pc, now);
}

/* send_run()'s verdicts besides a count of packets sent. */
#define RUN_OUT_OF_TIME (-1)
#define RUN_NO_FRAME (-2)

/*
 * At top speed, with the capture adopted into the window: the packets ahead
 * that are good to send, as many as the batch being gathered has room for,
 * go in one call (replay_iop_queue_run()), counted and checked as one at a
 * time would be: a packet per call into the send path cost more than the
 * packet's own work on this side. @return the packets sent; 0 when the next
 * is for the one-at-a-time path (one to skip or refuse, or the pass's end);
 * RUN_OUT_OF_TIME (--duration) or RUN_NO_FRAME.
 */
static int send_run(const struct replay_opts *o, struct replay_iop *x, struct capture *c,
		    struct pacer *pc, struct replay_result *r, uint32_t max, uint64_t *next_stats)
{
	uint64_t want = o->batch, posted_at = 0, bytes = 0;
	const struct packet *p;
	unsigned n, good = 0;
	int k;

	if (o->limit != 0 && o->limit - pc->packets < want)
		want = o->limit - pc->packets;
	p = capture_peek_run(c, want, &n);
	while (good < n && p[good].len != 0 && p[good].len <= max)
		good++;
	if (good == 0)
		return 0;
	k = replay_iop_queue_run(x, p, good, &posted_at);
	if (k < 0)
		return RUN_NO_FRAME;
	capture_skip(c, (unsigned)k);
	for (int i = 0; i < k; i++)
		bytes += p[i].len;
	r->packets_read += (uint64_t)k;
	pc->packets += (uint64_t)k;
	pc->bits += bytes * 8;
	if (posted_at != 0 && !posted(o, x, pc, posted_at, next_stats))
		return RUN_OUT_OF_TIME;
	return k;
}

int replay_run(const struct replay_opts *o, struct replay_iop *x, struct capture *c,
	       struct replay_result *r, char *err, size_t errlen)
{
	uint32_t max = replay_iop_max_packet(o);
	bool runs = o->topspeed && replay_iop_by_reference(x);
	struct pacer pc = { 0 };
	uint64_t next_stats;
	int rc = 0;

	pc.start = pc.loop_start = pc.now = now_ns();
	next_stats = pc.start + (uint64_t)(o->stats * 1e9);
	for (uint64_t loop = 0; rc == 0 && (o->loop == 0 || loop < o->loop); loop++) {
		uint64_t when, posted_at;
		uint64_t sent_before = pc.packets;
		struct packet p;
		int got = 0;

		if (loop > 0) {
			if (capture_rewind(c, err, errlen) != 0) {
				rc = -1;
				break;
			}
			pc.loop_start = now_ns();
			pc.have_first = false;
		}
		while (o->limit == 0 || pc.packets < o->limit) {
			if (runs) {
				int k = send_run(o, x, c, &pc, r, max, &next_stats);

				if (k == RUN_OUT_OF_TIME)
					goto done;
				if (k == RUN_NO_FRAME)
					goto no_frame;
				if (k > 0)
					continue;
			}
			if ((got = capture_next(c, &p, err, errlen)) != 1)
				break;
			r->packets_read++;
			if (p.len == 0 || p.len > max) {
				if (o->skip_bad) {
					r->skipped++;
					continue;
				}
				snprintf(err, errlen,
					 "packet %lu: %u bytes; iop-replay sends 1 to %u (the "
					 "port's MTU %u + 22, and a frame of %zu bytes); "
					 "--skip-bad skips such packets",
					 (unsigned long)r->packets_read, p.len, max, o->mtu,
					 o->max_frame);
				rc = -1;
				goto done;
			}
			when = due(o, &pc, &p);
			if (when > pc.now) {
				/* Not due yet: what is due goes now, then this one waits. */
				posted_at = 0;
				if (replay_iop_flush(x, &posted_at) != 0)
					goto no_frame;
				if (posted_at != 0 && !posted(o, x, &pc, posted_at, &next_stats))
					goto done;
				if (!wait_turn(o, x, &pc, when, &next_stats))
					goto done;
			}
			posted_at = 0;
			if (replay_iop_queue(x, p.data, p.len, &posted_at) != 0)
				goto no_frame;
			pc.packets++;
			pc.bits += (uint64_t)p.len * 8;
			if (posted_at != 0 && !posted(o, x, &pc, posted_at, &next_stats))
				goto done;
		}
		if (got < 0) {
			/* A truncated or corrupt record: the rest of the file cannot be trusted. */
			if (!o->skip_bad) {
				rc = -1;
				break;
			}
			r->skipped++;
			if (pc.packets == 0)
				break; /* nothing good in the file: looping would only repeat that */
		}
		if (o->limit != 0 && pc.packets >= o->limit)
			break;
		/* A pass that sent nothing (an empty capture, every packet skipped) ends the loop. */
		if (pc.packets == sent_before)
			break;
	}
	goto done;
no_frame:
	snprintf(err, errlen, "packet %lu: no frame for a request of up to %u packets",
		 (unsigned long)r->packets_read, o->batch);
	rc = -1;
done:
	/* What was gathered and not yet posted goes (it was due). */
	if (replay_iop_flush(x, NULL) != 0 && rc == 0) {
		snprintf(err, errlen, "no frame for the last request");
		rc = -1;
	}
	/* Sent means answered: the time and the rates include the last replies. */
	if (replay_iop_drain(x) != 0 && rc == 0) {
		snprintf(err, errlen, "the IOP did not answer every packet");
		rc = -1;
	}
	r->seconds = (double)(now_ns() - pc.start) / 1e9;
	return rc;
}
