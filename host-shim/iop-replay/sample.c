/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sample capture iop-replay ships as code, so that it needs no file to
 * show it works: Ethernet frames of 60 to 9000 bytes, untagged, 802.1Q
 * tagged and QinQ, 100 us apart; written as pcap, or as pcapng (which
 * libpcap reads but does not write, so written here). And the check that an
 * output capture holds the input's packets, in order, byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

static const uint32_t sample_sizes[] = { 60,   61,   64,   65,   127,  128,  255,  256,  511,
					 512,  1000, 1023, 1024, 1500, 1514, 1518, 1522, 2048,
					 3000, 4096, 5000, 8000, 8999, 9000 };
#define SAMPLE_REPEAT 3u /* each size untagged, tagged, double tagged */
#define SAMPLE_GAP_NS 100000u

/* Packet i: its size and tags from the tables, an IPv4-ish payload pattern of its own. */
static uint32_t sample_packet(unsigned i, uint8_t *p)
{
	static const uint8_t macs[12] = { 0x02, 0x00, 0x5E, 0x00, 0x00, 0x01,
					  0x02, 0x00, 0x5E, 0x00, 0x00, 0x02 };
	unsigned n_sizes = sizeof(sample_sizes) / sizeof(sample_sizes[0]);
	uint32_t len = sample_sizes[i % n_sizes], o = 12;
	unsigned tags = i / n_sizes;

	memcpy(p, macs, sizeof(macs));
	for (unsigned t = 0; t < tags; t++) {
		/* The outer tag of QinQ is 802.1ad (0x88A8), the inner 802.1Q. */
		p[o++] = t + 1 < tags ? 0x88 : 0x81;
		p[o++] = t + 1 < tags ? 0xA8 : 0x00;
		p[o++] = (uint8_t)(t << 5);
		p[o++] = (uint8_t)(10 + i);
	}
	p[o++] = 0x08;
	p[o++] = 0x00;
	for (uint32_t k = o; k < len; k++)
		p[k] = (uint8_t)(i * 7 + k * 13);
	return len;
}

static unsigned sample_count(void)
{
	return (unsigned)(sizeof(sample_sizes) / sizeof(sample_sizes[0])) * SAMPLE_REPEAT;
}

static int write_pcap(const char *path, uint8_t *buf, char *err, size_t errlen)
{
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535,
							    PCAP_TSTAMP_PRECISION_NANO);
	pcap_dumper_t *d = dead != NULL ? pcap_dump_open(dead, path) : NULL;
	bool failed;

	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", path, dead ? pcap_geterr(dead) : "pcap_open_dead");
		if (dead != NULL)
			pcap_close(dead);
		return -1;
	}
	for (unsigned i = 0; i < sample_count(); i++) {
		uint64_t ts = (uint64_t)i * SAMPLE_GAP_NS;
		struct pcap_pkthdr h = { .ts = { .tv_sec = (time_t)(ts / 1000000000u),
						 /* nanoseconds: the dumper's precision */
						 .tv_usec = (suseconds_t)(ts % 1000000000u) } };

		h.caplen = h.len = sample_packet(i, buf);
		pcap_dump((u_char *)d, &h, buf);
	}
	/* pcap_dump() says nothing of a failed write: ask the stream (a full disk). */
	failed = pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d));
	pcap_dump_close(d);
	pcap_close(dead);
	if (failed) {
		snprintf(err, errlen, "%s: writing the sample failed", path);
		return -1;
	}
	return 0;
}

static bool put32(FILE *f, uint32_t v)
{
	return fwrite(&v, 4, 1, f) == 1;
}

/* pcapng in the host's byte order (its section header says which): SHB, IDB, an EPB each. */
static int write_pcapng(const char *path, uint8_t *buf, char *err, size_t errlen)
{
	static const uint8_t zero[4] = { 0 };
	FILE *f = fopen(path, "wb");
	bool ok;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Section header: type, length, byte-order magic, version 1.0, section length unknown. */
	ok = put32(f, 0x0A0D0D0A) && put32(f, 28) && put32(f, 0x1A2B3C4D) &&
	     put32(f, 0x00000001) && put32(f, 0xFFFFFFFF) && put32(f, 0xFFFFFFFF) && put32(f, 28);
	/* Interface: Ethernet, snaplen 65535, and if_tsresol 9 (nanoseconds). */
	ok = ok && put32(f, 0x00000001) && put32(f, 32) && put32(f, DLT_EN10MB) &&
	     put32(f, 65535) && put32(f, 9u | 1u << 16) && put32(f, 9) && put32(f, 0) &&
	     put32(f, 32);
	for (unsigned i = 0; ok && i < sample_count(); i++) {
		uint32_t len = sample_packet(i, buf), pad = (4 - len % 4) % 4;
		uint32_t total = 32 + len + pad;
		uint64_t ts = (uint64_t)i * SAMPLE_GAP_NS;

		ok = put32(f, 0x00000006) && put32(f, total) && put32(f, 0) &&
		     put32(f, (uint32_t)(ts >> 32)) && put32(f, (uint32_t)ts) && put32(f, len) &&
		     put32(f, len) && fwrite(buf, 1, len, f) == len &&
		     fwrite(zero, 1, pad, f) == pad && put32(f, total);
	}
	if (fclose(f) != 0 || !ok) {
		snprintf(err, errlen, "%s: write failed", path);
		return -1;
	}
	return 0;
}

int sample_write(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	uint8_t *buf = malloc(9000);
	int rc;

	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n > 7 && strcmp(path + n - 7, ".pcapng") == 0)
		rc = write_pcapng(path, buf, err, errlen);
	else
		rc = write_pcap(path, buf, err, errlen);
	free(buf);
	return rc;
}

int captures_match(const char *want, const char *got, uint64_t n, char *err, size_t errlen)
{
	char e1[PCAP_ERRBUF_SIZE] = "", e2[PCAP_ERRBUF_SIZE] = "";
	pcap_t *a = pcap_open_offline(want, e1), *b = pcap_open_offline(got, e2);
	uint64_t i = 0;
	int rc = -1;

	if (a == NULL || b == NULL) {
		snprintf(err, errlen, "%s", a == NULL ? e1 : e2);
		goto out;
	}
	for (rc = 1; rc == 1 && (n == 0 || i < n); i++) {
		struct pcap_pkthdr *ha, *hb;
		const u_char *da, *db;
		int ra = pcap_next_ex(a, &ha, &da), rb = pcap_next_ex(b, &hb, &db);

		if (ra != 1 && n == 0) {
			/* The input is done: the output must be too. */
			if (rb == 1) {
				snprintf(err, errlen, "the output has more than the input's %lu packets",
					 (unsigned long)i);
				rc = 0;
			}
			break;
		}
		if (ra != 1) {
			snprintf(err, errlen, "%s: packet %lu: %s", want, (unsigned long)i + 1,
				 ra == PCAP_ERROR_BREAK ? "missing" : pcap_geterr(a));
			rc = -1;
		} else if (rb != 1) {
			snprintf(err, errlen, "the output ends after %lu packets", (unsigned long)i);
			rc = 0;
		} else if (ha->caplen != hb->caplen || memcmp(da, db, ha->caplen) != 0) {
			snprintf(err, errlen, "packet %lu differs (%u bytes in, %u out)",
				 (unsigned long)i + 1, ha->caplen, hb->caplen);
			rc = 0;
		}
	}
out:
	if (a != NULL)
		pcap_close(a);
	if (b != NULL)
		pcap_close(b);
	return rc;
}
