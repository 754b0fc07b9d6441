/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-replay's parts: the options (main.c), the capture it reads
 * (capture.c), the IOP it runs in-process and sends through (iop.c), the
 * paced send loop (replay.c), the sample capture and the comparison of two
 * captures (sample.c), and the summary (report.c). docs/iop-replay.md.
 */
#ifndef IOP_REPLAY_H
#define IOP_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

struct replay_opts {
	const char *input;     /* NULL: the generated sample */
	const char *output;    /* the tx pcap net_pcap writes */
	const char *vdev;      /* another port than net_pcap to output (--vdev) */
	bool topspeed;
	double pps, mbps, multiplier; /* 0: not given */
	uint64_t loop;         /* 0: for ever */
	uint64_t limit;        /* packets, 0: no limit */
	double duration;       /* seconds, 0: no limit */
	double stats;          /* seconds between progress lines, 0: none */
	bool preload;
	bool preload_memory;   /* --preload=memory: not moved into the window */
	bool json;
	bool verify;           /* compare the output with the input */
	bool skip_bad;         /* skip (and count) packets that cannot be sent */
	unsigned mtu;
	size_t max_frame;      /* largest request frame, bytes */
	unsigned batch;        /* most packets one PacketSend carries (1-64) */
	const char *tx;        /* the lan DDM's tx= (copy, zerocopy); NULL: its default */
	bool loop_inline;      /* no DDM lcore: the host thread turns the runtime's loop */
};

/* ---- capture.c ---- */

struct capture;

struct packet {
	const uint8_t *data;
	uint32_t len;          /* captured bytes: what is sent */
	uint64_t ts_ns;        /* capture timestamp */
};

/*
 * Open a pcap or pcapng file of Ethernet frames (DLT_EN10MB), preloaded
 * into memory or read as it goes. @return NULL with a message in err.
 */
struct capture *capture_open(const char *path, bool preload, char *err, size_t errlen);
/* @return 1 with the next packet, 0 at the end, -1 with a message in err (truncated, corrupt). */
int capture_next(struct capture *c, struct packet *p, char *err, size_t errlen);
/*
 * The next packets of a preloaded capture, up to max of them, without taking
 * them: *n of them from the one returned (0 and NULL at the end of the pass,
 * and always for a streamed capture). capture_skip() takes them.
 */
const struct packet *capture_peek_run(const struct capture *c, uint64_t max, unsigned *n);
/* Take n packets capture_peek_run() showed, as n capture_next() calls would. */
void capture_skip(struct capture *c, unsigned n);
/* Back to the first packet. @return 0, or -1 with a message in err. */
int capture_rewind(struct capture *c, char *err, size_t errlen);
/* Where each packet of a capture moved into the window starts: a cache line of its own. */
#define REPLAY_PRELOAD_ALIGN 64u
/* The bytes of the preloaded packets, each rounded up to align; 0 for a streamed capture. */
uint64_t capture_preloaded_bytes(const struct capture *c, uint32_t align);
/*
 * Move the preloaded packets to where place() says, one call a packet in
 * order, each given its length (1 or more: an empty record is not placed):
 * into the frame window, so that they are sent by reference instead of
 * copied. The capture's own copies are freed; the new places are the
 * caller's, who keeps them for as long as it reads the capture's packets
 * (capture_close() does not touch them, and may come after they are gone).
 * All or nothing: @return 0, or -1 (streamed, moved already, out of memory,
 * or place() gave NULL) with the capture as it was.
 */
int capture_move(struct capture *c, void *(*place)(void *ctx, uint32_t len), void *ctx);
void capture_close(struct capture *c);

/* ---- iop.c: EAL, runtime with the lan DDM, host queue pair ---- */

struct replay_iop;

struct send_stats {
	uint64_t posted, sent, sent_bytes, refused; /* packets */
	uint64_t requests;     /* PacketSends posted */
	bool by_reference;     /* the packets went by reference, preloaded in the window */
	/*
	 * What the port itself counted as sent (rte_eth_stats opackets), read
	 * when the IOP stops: a check on `sent` from outside the DDM. -1: the
	 * port could not say.
	 */
	int64_t port_packets;
	uint64_t *lat_ns;      /* a reservoir of request latencies (post to reply) */
	uint64_t n_lat, lat_seen;
};

/*
 * preload_bytes: capture_preloaded_bytes(c, REPLAY_PRELOAD_ALIGN) of a capture to be adopted
 * (the window is made with room for it), or 0.
 * @return NULL with a message in err.
 */
struct replay_iop *replay_iop_start(const struct replay_opts *o, uint64_t preload_bytes,
				    const char *prog, char *err, size_t errlen);
/*
 * Move the preloaded capture into the window (capture_move()), its packets
 * to be sent by reference from then on. @return false when it stays where
 * it is, its packets copied into each request: no room was made for it (too
 * large, or 0 given to replay_iop_start()), or the window ran out.
 */
bool replay_iop_adopt(struct replay_iop *x, struct capture *c);
/*
 * Add one packet to the batch being gathered (by reference when the capture
 * was adopted: data is then where it lies in the window; else copied into
 * the frame); post the batch as one LanPacketSend when it holds --batch
 * packets, and first when this packet would make its frame larger than
 * --max-frame. Polls for room.
 * @param posted_at  set to the clock read when a batch was posted, else untouched.
 * @return 0 or -errno.
 */
int replay_iop_queue(struct replay_iop *x, const uint8_t *data, uint32_t len,
		     uint64_t *posted_at);
/* Were the capture's packets adopted (replay_iop_adopt()), to go by reference? */
bool replay_iop_by_reference(const struct replay_iop *x);
/*
 * Add up to n packets of an adopted capture to the batch being gathered at
 * once (n replay_iop_queue() calls, with one call into the builder): as many
 * as the batch has room for, posting it when full. The packets' lengths are
 * the caller's to have checked (1 to replay_iop_max_packet()).
 * @return the packets added, 0 to n (0 only when the batch was full already:
 *         it was posted); or -errno, the replay unable to go on: none added
 *         (the builder refused them), or added and the batch's post failed.
 */
int replay_iop_queue_run(struct replay_iop *x, const struct packet *p, unsigned n,
			 uint64_t *posted_at);
/* Post the batch gathered, if any (the clock read once, into posted_at). @return 0 or -errno. */
int replay_iop_flush(struct replay_iop *x, uint64_t *posted_at);
/* Take replies. @return how many. */
unsigned replay_iop_poll(struct replay_iop *x);
/* Take replies until none is outstanding. @return 0, or -ETIMEDOUT. */
int replay_iop_drain(struct replay_iop *x);
/*
 * Wait for every reply, stop the runtime (the port, so the tx pcap is closed)
 * and read the port's count of packets sent into the stats.
 */
int replay_iop_stop(struct replay_iop *x);
const struct send_stats *replay_iop_stats(const struct replay_iop *x);
/* After replay_iop_stop(). */
void replay_iop_free(struct replay_iop *x);
/* The largest packet the port sends, and that fits the largest frame. */
uint32_t replay_iop_max_packet(const struct replay_opts *o);

/* ---- replay.c ---- */

struct replay_result {
	uint64_t packets_read, skipped;
	double seconds;
};

/* @return 0, or -1 with a message in err (bad input, or the IOP failed). */
int replay_run(const struct replay_opts *o, struct replay_iop *x, struct capture *c,
	       struct replay_result *r, char *err, size_t errlen);

/* ---- sample.c ---- */

/* Write the sample capture (pcapng when the name ends in .pcapng). @return 0 or -1, err. */
int sample_write(const char *path, char *err, size_t errlen);
/*
 * Does `got` hold exactly the first n packets of `want` (n = 0: all of it),
 * in order, byte for byte? @return 1 yes, 0 no (err says where), -1 unreadable.
 */
int captures_match(const char *want, const char *got, uint64_t n, char *err, size_t errlen);

/* ---- report.c ---- */

void report_progress(const struct send_stats *s, double seconds);
void report_summary(const struct replay_opts *o, const struct send_stats *s,
		    const struct replay_result *r, int verified);

#endif /* IOP_REPLAY_H */
