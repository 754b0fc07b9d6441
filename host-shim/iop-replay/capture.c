/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The capture iop-replay sends: any file libpcap reads (pcap, pcapng) of
 * Ethernet frames, streamed from the file or preloaded into memory. Bad
 * input ends in a message that says what and where, never in a crash.
 */
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

struct capture {
	char *path;
	pcap_t *p;
	uint64_t index;     /* packets handed out since the last rewind */
	bool nano;          /* timestamps in nanoseconds */
	struct packet *pkts; /* preloaded: each packet's bytes its own (until moved) */
	uint64_t n, cap;
	bool moved;          /* the packets' bytes are where capture_move() put them */
};

static int open_file(struct capture *c, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	int dlt;

	c->p = pcap_open_offline_with_tstamp_precision(c->path, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (c->p == NULL) {
		/* libpcap names the file in some messages, not in others. */
		if (strstr(perr, c->path) != NULL)
			snprintf(err, errlen, "%s", perr);
		else
			snprintf(err, errlen, "%s: %s", c->path, perr);
		return -1;
	}
	/*
	 * One thread reads the capture: libpcap's freads need not take the
	 * stream's lock on every call.
	 */
	if (pcap_file(c->p) != NULL)
		__fsetlocking(pcap_file(c->p), FSETLOCKING_BYCALLER);
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	dlt = pcap_datalink(c->p);
	if (dlt != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen,
			 "%s: unsupported link type %d (%s): iop-replay sends Ethernet frames "
			 "(EN10MB)",
			 c->path, dlt, name != NULL ? name : "unknown");
		pcap_close(c->p);
		c->p = NULL;
		return -1;
	}
	c->index = 0;
	return 0;
}

/* The next record from the file. */
static int read_file(struct capture *c, struct packet *p, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(c->p, &h, &data);

	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (rc != 1) {
		snprintf(err, errlen, "%s: packet %lu: %s", c->path, (unsigned long)c->index + 1,
			 pcap_geterr(c->p));
		return -1;
	}
	p->data = data;
	p->len = h->caplen;
	p->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u +
		   (uint64_t)h->ts.tv_usec * (c->nano ? 1u : 1000u);
	return 1;
}

static int preload(struct capture *c, char *err, size_t errlen)
{
	struct packet p;
	int rc;

	while ((rc = read_file(c, &p, err, errlen)) == 1) {
		struct packet *s;
		uint8_t *copy;

		if (c->n == c->cap) {
			uint64_t cap = c->cap != 0 ? c->cap * 2 : 1024;

			s = realloc(c->pkts, cap * sizeof(*s));
			if (s == NULL)
				goto nomem;
			c->pkts = s;
			c->cap = cap;
		}
		copy = malloc(p.len != 0 ? p.len : 1);
		if (copy == NULL)
			goto nomem;
		memcpy(copy, p.data, p.len);
		c->pkts[c->n] = (struct packet){ copy, p.len, p.ts_ns };
		c->n++;
		c->index++;
	}
	c->index = 0;
	return rc;
nomem:
	snprintf(err, errlen, "%s: out of memory preloading packet %lu", c->path,
		 (unsigned long)c->n + 1);
	return -1;
}

struct capture *capture_open(const char *path, bool pre, char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	if (open_file(c, err, errlen) != 0 || (pre && preload(c, err, errlen) != 0)) {
		capture_close(c);
		return NULL;
	}
	if (pre) {
		/* Everything is in memory: the file is done with. */
		pcap_close(c->p);
		c->p = NULL;
	}
	return c;
}

uint64_t capture_preloaded_bytes(const struct capture *c, uint32_t align)
{
	uint64_t bytes = 0;

	for (uint64_t i = 0; c->p == NULL && i < c->n; i++)
		bytes += ((uint64_t)c->pkts[i].len + align - 1) / align * align;
	return bytes;
}

int capture_move(struct capture *c, void *(*place)(void *ctx, uint32_t len), void *ctx)
{
	static uint8_t empty[1]; /* where an empty record's no bytes are: it is never sent */
	uint8_t **to;

	if (c->p != NULL || c->moved)
		return -1;
	to = malloc((c->n != 0 ? c->n : 1) * sizeof(*to));
	if (to == NULL)
		return -1;
	/* Every packet placed before any moves: all or nothing. */
	for (uint64_t i = 0; i < c->n; i++) {
		to[i] = c->pkts[i].len != 0 ? place(ctx, c->pkts[i].len) : empty;
		if (to[i] == NULL) {
			free(to);
			return -1;
		}
	}
	for (uint64_t i = 0; i < c->n; i++) {
		memcpy(to[i], c->pkts[i].data, c->pkts[i].len);
		free((void *)(uintptr_t)c->pkts[i].data);
		c->pkts[i].data = to[i];
	}
	free(to);
	c->moved = true;
	return 0;
}

int capture_next(struct capture *c, struct packet *p, char *err, size_t errlen)
{
	int rc;

	if (c->p == NULL) {
		if (c->index == c->n)
			return 0;
		*p = c->pkts[c->index++];
		return 1;
	}
	rc = read_file(c, p, err, errlen);
	c->index += rc == 1;
	return rc;
}

const struct packet *capture_peek_run(const struct capture *c, uint64_t max, unsigned *n)
{
	uint64_t left = c->p == NULL ? c->n - c->index : 0;

	*n = (unsigned)(left < max ? left : max);
	return *n != 0 ? &c->pkts[c->index] : NULL;
}

void capture_skip(struct capture *c, unsigned n)
{
	c->index += n;
}

int capture_rewind(struct capture *c, char *err, size_t errlen)
{
	if (c->p == NULL) {
		c->index = 0;
		return 0;
	}
	pcap_close(c->p);
	c->p = NULL;
	return open_file(c, err, errlen);
}

void capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->p != NULL)
		pcap_close(c->p);
	for (uint64_t i = 0; !c->moved && i < c->n; i++)
		free((void *)(uintptr_t)c->pkts[i].data);
	free(c->pkts);
	free(c->path);
	free(c);
}
