/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request builders write what the IOP's own checks accept and what its
 * handlers read: each frame passes iop_frame_validate(), decodes to the
 * fields asked for, and a transfer's or packet's SGL walks (with the IOP's
 * bounds) to exactly the buffers or bytes given. Frames too small are left untouched; the
 * readers refuse replies that are short or say something else.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_lan.h"
#include "iop_runtime.h"
#include "iop_sgl.h"
#include "iop_test.h"
#include "iop_window.h"

#define POISON 0xA5A5A5A5u

static uint32_t frame[64];

static void poison(void)
{
	for (unsigned i = 0; i < 64; i++)
		frame[i] = POISON;
}

static bool untouched(void)
{
	for (unsigned i = 0; i < 64; i++)
		if (frame[i] != POISON)
			return false;
	return true;
}

/* Accepted by the IOP's validator, with the header asked for. */
static void check_header_of(const uint32_t *f, int words, uint16_t tid, uint8_t function,
			    struct iop_msg_hdr *m)
{
	struct iop_frame_verdict v;

	CU_ASSERT_FATAL(words > 0);
	CU_ASSERT_EQUAL(iop_frame_validate(f, (size_t)words * 4, &v), 0);
	iop_msg_hdr_decode(f, m);
	CU_ASSERT_EQUAL(m->size_words, words);
	CU_ASSERT_EQUAL(m->target_tid, tid);
	CU_ASSERT_EQUAL(m->initiator_tid, IOP_TID_HOST);
	CU_ASSERT_EQUAL(m->function, function);
}

static void check_header(int words, uint16_t tid, uint8_t function, struct iop_msg_hdr *m)
{
	check_header_of(frame, words, tid, function, m);
}

static void test_utility_requests(void)
{
	struct iop_msg_hdr m;

	poison();
	check_header(iop_build_util_nop(frame, sizeof(frame), 0x10), 0x10, IOP_UTIL_NOP, &m);
	check_header(iop_build_util(frame, sizeof(frame), 0x22, IOP_UTIL_LOCK), 0x22, IOP_UTIL_LOCK,
		     &m);
	CU_ASSERT_EQUAL(iop_build_util(frame, sizeof(frame), 0x22, IOP_EXEC_STATUS_GET), -EINVAL);
	check_header(iop_build_util_private(frame, sizeof(frame), 0x11, 0xBEEF, 0x1234), 0x11,
		     IOP_UTIL_PRIVATE, &m);
	CU_ASSERT_EQUAL(le32toh(frame[4]), 0x1234BEEFu);
	check_header(iop_build_params_get(frame, sizeof(frame), 0x12, 0xF000), 0x12,
		     IOP_UTIL_PARAMS_GET, &m);
	CU_ASSERT_EQUAL(le32toh(frame[4]), 0xF000u);
	CU_ASSERT_EQUAL(iop_build_util_nop(frame, sizeof(frame), IOP_TID_NONE), -EINVAL);
	check_header(iop_build_util_event_register(frame, sizeof(frame), 0x13,
						   IOP_EVENT_STATE_CHANGE | 0x2u),
		     0x13, IOP_UTIL_EVENT_REGISTER, &m);
	CU_ASSERT_EQUAL(m.size_words, IOP_EVENT_MASK_WORD + 1);
	CU_ASSERT_EQUAL(le32toh(frame[IOP_EVENT_MASK_WORD]), IOP_EVENT_STATE_CHANGE | 0x2u);
	poison();
	CU_ASSERT_EQUAL(iop_build_util_event_register(frame, 16, 0x13, 1), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
}

static void test_params_set_layout(void)
{
	uint64_t values[3] = { 1, 0x1122334455667788ull, UINT64_MAX };
	uint64_t many[65] = { 0 };
	struct iop_msg_hdr m;

	check_header(iop_build_params_set(frame, sizeof(frame), 0x10, 7, values, 3), 0x10,
		     IOP_UTIL_PARAMS_SET, &m);
	CU_ASSERT_EQUAL(m.size_words, 12);
	CU_ASSERT_EQUAL(le32toh(frame[4]), 7);
	CU_ASSERT_EQUAL(le32toh(frame[5]), 3);
	CU_ASSERT_EQUAL(le32toh(frame[8]), 0x55667788u); /* low word first */
	CU_ASSERT_EQUAL(le32toh(frame[9]), 0x11223344u);
	CU_ASSERT_EQUAL(iop_build_params_set(frame, sizeof(frame), 0x10, 7, many, 65), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_params_set(frame, sizeof(frame), 0x10, 7, NULL, 1), -EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_params_set(frame, 44, 0x10, 7, values, 3), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
}

static void test_executive_requests(void)
{
	struct iop_msg_hdr m;

	check_header(iop_build_exec_status_get(frame, sizeof(frame)), IOP_TID_EXEC,
		     IOP_EXEC_STATUS_GET, &m);
	check_header(iop_build_exec_lct_notify(frame, sizeof(frame), 0x010, 5), IOP_TID_EXEC,
		     IOP_EXEC_LCT_NOTIFY, &m);
	CU_ASSERT_EQUAL(le32toh(frame[4]), 0x010);
	CU_ASSERT_EQUAL(le32toh(frame[5]), 5);
	check_header(iop_build_exec_ddm_destroy(frame, sizeof(frame), 0x011), IOP_TID_EXEC,
		     IOP_EXEC_DDM_DESTROY, &m);
	CU_ASSERT_EQUAL(le32toh(frame[4]), 0x011);
	CU_ASSERT_EQUAL(iop_build_exec_ddm_destroy(frame, sizeof(frame), IOP_TID_EXEC), -EINVAL);
	check_header(iop_build_exec(frame, sizeof(frame), IOP_EXEC_SYS_QUIESCE), IOP_TID_EXEC,
		     IOP_EXEC_SYS_QUIESCE, &m);
	CU_ASSERT_EQUAL(iop_build_exec(frame, sizeof(frame), IOP_UTIL_CLAIM), -EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_exec_lct_notify(frame, 20, 0, 0), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
}

/* A transfer's SGL, walked as the IOP walks it, names exactly the buffers given. */
static void test_block_transfers(void)
{
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 16 };
	struct iop_window *w = iop_window_create(&wo);
	struct iop_sgl_bounds b;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	struct iop_msg_hdr m;
	struct iop_buf bufs[3];
	uint32_t count, lens[3] = { 4096, 512, 100 };
	uint8_t stack_buf[64];
	int words;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	iop_window_sgl_bounds(w, &b);
	for (int i = 0; i < 3; i++) {
		bufs[i].addr = iop_heap_alloc(iop_window_inbound(w), lens[i]);
		bufs[i].len = lens[i];
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
	}
	words = iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_WRITE,
				 0x123456789000ull, w, bufs, 3);
	check_header(words, 0x11, IOP_BSA_BLOCK_WRITE, &m);
	CU_ASSERT_EQUAL(words, 14);
	CU_ASSERT_EQUAL(m.sgl_offset, 8);
	CU_ASSERT_EQUAL(le32toh(frame[5]), 4096 + 512 + 100);
	CU_ASSERT_EQUAL(le32toh(frame[6]), 0x56789000u);
	CU_ASSERT_EQUAL(le32toh(frame[7]), 0x1234u);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &b), 0);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_SIMPLE);
		CU_ASSERT_EQUAL(e.offset, iop_window_mfa(w, bufs[i].addr));
		CU_ASSERT_EQUAL(e.count, lens[i]);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_DIR);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_END_OF_BUFFER);
		CU_ASSERT_EQUAL(!!(e.flags & IOP_SGL_LAST_ELEMENT), i == 2);
	}
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	/* A read: no DIR. */
	words = iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs, 1);
	CU_ASSERT_EQUAL(words, 10);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, 8, &b);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 1);
	CU_ASSERT_FALSE(e.flags & IOP_SGL_DIR);
	/* Memory the IOP may not be pointed at, and frames too small. */
	bufs[1].addr = stack_buf;
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	bufs[1].addr = iop_heap_alloc(iop_window_outbound(w), 64);
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	/* The ends of the inbound heap's blocks: a buffer may reach them, not cross them. */
	bufs[1] = (struct iop_buf){ (char *)b.window + b.lo - 8, 64 };
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	/* Below the window itself: its offset wraps, and with the length wraps back to 64. */
	bufs[1] = (struct iop_buf){ (void *)((uintptr_t)b.window - 64), 128 };
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	bufs[1] = (struct iop_buf){ (char *)b.window + b.hi - 32, 64 };
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	bufs[1] = (struct iop_buf){ (char *)b.window + b.lo, 0 };
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	bufs[1] = (struct iop_buf){ (char *)b.window + b.lo, IOP_SGL_COUNT_MAX + 1u };
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 2), -EINVAL);
	bufs[1] = (struct iop_buf){ (char *)b.window + b.hi - 64, 64 };
	words = iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs, 2);
	CU_ASSERT_EQUAL_FATAL(words, 12);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, 8, &b);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 1);
	CU_ASSERT_EQUAL(e.offset, iop_window_mfa(w, bufs[0].addr));
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 1);
	CU_ASSERT_EQUAL(e.offset, b.hi - 64);
	CU_ASSERT_EQUAL(e.count, 64);
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, sizeof(frame), 0x11, IOP_BSA_CACHE_FLUSH, 0, w,
					 bufs, 1), -EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_bsa_rw(frame, 36, 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs, 1),
			-ENOSPC);
	CU_ASSERT_TRUE(untouched());
	/* The reply's TransferCount. */
	frame[5] = htole32(4708);
	CU_ASSERT_EQUAL(iop_read_bsa_transfer_count(frame, 6, &count), 0);
	CU_ASSERT_EQUAL(count, 4708);
	CU_ASSERT_EQUAL(iop_read_bsa_transfer_count(frame, 5, &count), -EPROTO);
	/* MediaVerify: a transfer's words without an SGL. */
	words = iop_build_bsa_media_verify(frame, sizeof(frame), 0x11, 0x200000400ull, 8192);
	check_header(words, 0x11, IOP_BSA_MEDIA_VERIFY, &m);
	CU_ASSERT_EQUAL(words, 8);
	CU_ASSERT_EQUAL(m.sgl_offset, 0);
	CU_ASSERT_EQUAL(le32toh(frame[5]), 8192);
	CU_ASSERT_EQUAL(le32toh(frame[6]), 0x400u);
	CU_ASSERT_EQUAL(le32toh(frame[7]), 0x2u);
	CU_ASSERT_EQUAL(iop_build_bsa_media_verify(frame, sizeof(frame), 0x11, 0, 0), -EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_bsa_media_verify(frame, 28, 0x11, 0, 512), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
	iop_window_close(w);
}

/*
 * A transfer built once and copied for another address is word for word
 * the transfer built for that address; what is not a BSA transfer with an
 * SGL is refused, and a frame too small for the copy is left untouched.
 */
static void test_block_transfer_again(void)
{
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 16 };
	struct iop_window *w = iop_window_create(&wo);
	uint32_t built[16], fresh[16], saved;
	struct iop_buf bufs[2];
	const uint8_t functions[] = { IOP_BSA_BLOCK_READ, IOP_BSA_BLOCK_WRITE,
				      IOP_BSA_WRITE_VERIFY };
	const uint64_t addrs[] = { 0, 4096, 0x123456789000ull, UINT64_MAX - 4095 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (int i = 0; i < 2; i++) {
		bufs[i].addr = iop_heap_alloc(iop_window_inbound(w), 4096);
		bufs[i].len = 4096;
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
	}
	for (unsigned f = 0; f < sizeof(functions); f++) {
		for (unsigned n = 1; n <= 2; n++) {
			int words = iop_build_bsa_rw(built, sizeof(built), 0x11, functions[f], 512, w,
						     bufs, n);

			CU_ASSERT_EQUAL_FATAL(words, (int)(8 + 2 * n));
			/* As a queue pair would leave it: its contexts in words 2-3. */
			built[2] = htole32(0xC0FFEEu);
			built[3] = htole32(0x1234u);
			for (unsigned a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
				CU_ASSERT_EQUAL(iop_build_bsa_rw(fresh, sizeof(fresh), 0x11,
								 functions[f], addrs[a], w, bufs, n),
						words);
				poison();
				CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built,
								       sizeof(built), addrs[a]),
						words);
				CU_ASSERT_EQUAL(memcmp(frame, fresh, (size_t)words * 4), 0);
				CU_ASSERT_EQUAL(frame[words], POISON); /* nothing past the request */
			}
			/* A frame of exactly the request's size holds it; one word less does not. */
			poison();
			CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, (size_t)words * 4, built,
							       (size_t)words * 4, 0),
					words);
			poison();
			CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, (size_t)words * 4 - 4, built,
							       sizeof(built), 0),
					-ENOSPC);
			CU_ASSERT_TRUE(untouched());
			/* Nor is more read from `built` than it has. */
			CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built,
							       (size_t)words * 4 - 4, 0),
					-EINVAL);
			CU_ASSERT_TRUE(untouched());
		}
	}
	/* Not what iop_build_bsa_rw() makes: another function, or no SGL. */
	CU_ASSERT_EQUAL(iop_build_bsa(built, sizeof(built), 0x11, IOP_BSA_CACHE_FLUSH), 4);
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	CU_ASSERT_EQUAL(iop_build_bsa_media_verify(built, sizeof(built), 0x11, 0, 512), 8);
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	/* A transfer whose word 0 is changed: each field checked on its own. */
	CU_ASSERT_EQUAL(iop_build_bsa_rw(built, sizeof(built), 0x11, IOP_BSA_BLOCK_READ, 0, w, bufs,
					 1), 10);
	saved = built[0];
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0), 10);
	built[0] = htole32(iop_msg_word0(IOP_MSG_VERSION_1_5, 8, 0, 9)); /* half an element */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	built[0] = htole32(iop_msg_word0(IOP_MSG_VERSION_1_5, 8, 0, 11)); /* and a half */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	built[0] = htole32(iop_msg_word0(IOP_MSG_VERSION_1_5, 8, 0, 8)); /* no element */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	built[0] = htole32(iop_msg_word0(IOP_MSG_VERSION_1_5, 6, 0, 10)); /* the SGL elsewhere */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	built[0] = htole32(iop_msg_word0(2, 8, 0, 10)); /* another version */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	built[0] = saved;
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(built, sizeof(built), built, sizeof(built), 0),
			-EINVAL); /* a copy onto itself */
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(NULL, sizeof(frame), built, sizeof(built), 0),
			-EINVAL);
	CU_ASSERT_EQUAL(iop_build_bsa_rw_again(frame, sizeof(frame), NULL, sizeof(built), 0),
			-EINVAL);
	iop_window_close(w);
}

/* LAN requests: word 4 the control word, the SGL at word 5, as the LAN DDM reads them. */
static void test_lan_requests(void)
{
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 16 };
	struct iop_window *w = iop_window_create(&wo);
	uint8_t pkt[61], stack_buf[64];
	struct iop_sgl_bounds b;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	struct iop_msg_hdr m;
	struct iop_buf bufs[3];
	int words;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	iop_window_sgl_bounds(w, &b);
	for (unsigned i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	/* Inline: one immediate element holding the packet. */
	words = iop_build_lan_packet_send_inline(frame, sizeof(frame), 0x10, pkt, sizeof(pkt));
	check_header(words, 0x10, IOP_LAN_PACKET_SEND, &m);
	CU_ASSERT_EQUAL(words, 5 + 1 + 16);
	CU_ASSERT_EQUAL(m.sgl_offset, IOP_LAN_SGL_WORD);
	CU_ASSERT_EQUAL(le32toh(frame[IOP_LAN_CONTROL_WORD]), 0);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &b);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
	CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_IMMEDIATE);
	CU_ASSERT_EQUAL(e.count, sizeof(pkt));
	CU_ASSERT_EQUAL(memcmp(e.data, pkt, sizeof(pkt)), 0);
	CU_ASSERT_TRUE(e.flags & IOP_SGL_LAST_ELEMENT);
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline(frame, 21 * 4, 0x10, pkt, sizeof(pkt)),
			-ENOSPC);
	CU_ASSERT_TRUE(untouched());
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline(frame, sizeof(frame), 0x10, pkt, 0),
			-EINVAL);
	/* By SGL: one packet in three buffers, END_OF_BUFFER on the last only. */
	for (int i = 0; i < 3; i++) {
		bufs[i].addr = iop_heap_alloc(iop_window_inbound(w), 256);
		bufs[i].len = 100 + (uint32_t)i;
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
	}
	words = iop_build_lan_packet_send_sgl(frame, sizeof(frame), 0x10, w, bufs, 3);
	check_header(words, 0x10, IOP_LAN_PACKET_SEND, &m);
	CU_ASSERT_EQUAL(words, 11);
	CU_ASSERT_EQUAL(le32toh(frame[IOP_LAN_CONTROL_WORD]), 0);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &b);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.offset, iop_window_mfa(w, bufs[i].addr));
		CU_ASSERT_EQUAL(e.count, 100u + (uint32_t)i);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_DIR);
		CU_ASSERT_EQUAL(!!(e.flags & IOP_SGL_END_OF_BUFFER), i == 2);
	}
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	/* ReceivePost: the bucket count in word 4, a bucket per element. */
	words = iop_build_lan_receive_post(frame, sizeof(frame), 0x10, w, bufs, 3);
	check_header(words, 0x10, IOP_LAN_RECEIVE_POST, &m);
	CU_ASSERT_EQUAL(le32toh(frame[IOP_LAN_CONTROL_WORD]), 3);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &b);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_FALSE(e.flags & IOP_SGL_DIR);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_END_OF_BUFFER);
	}
	/* Memory the IOP may not be pointed at; too many buckets; frames too small. */
	bufs[1].addr = stack_buf;
	CU_ASSERT_EQUAL(iop_build_lan_receive_post(frame, sizeof(frame), 0x10, w, bufs, 2),
			-EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_sgl(frame, sizeof(frame), 0x10, w, bufs, 2),
			-EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_receive_post(frame, sizeof(frame), 0x10, w, bufs,
						   IOP_LAN_MAX_BUCKETS + 1), -EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_receive_post(frame, 24, 0x10, w, bufs, 1), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
	/* Reset and Suspend; nothing else is built that way. */
	check_header(iop_build_lan(frame, sizeof(frame), 0x10, IOP_LAN_RESET), 0x10, IOP_LAN_RESET,
		     &m);
	CU_ASSERT_EQUAL(iop_build_lan(frame, sizeof(frame), 0x10, IOP_LAN_PACKET_SEND), -EINVAL);
	iop_window_close(w);
}

/* Several packets in one PacketSend: an END_OF_BUFFER element closing each. */
static void test_lan_packet_send_multi(void)
{
	const struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20 };
	struct iop_window *w = iop_window_create(&wo);
	static uint32_t big[IOP_LAN_SGL_WORD + 2 * (IOP_LAN_SEND_MAX_PACKETS + 1)];
	struct iop_buf bufs[IOP_LAN_SEND_MAX_PACKETS + 1];
	struct iop_lan_inline inl[3];
	uint8_t pkt[3][62]; /* packets of 60, 61 and 62 bytes */
	struct iop_sgl_bounds b;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	struct iop_msg_hdr m;
	int words;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	iop_window_sgl_bounds(w, &b);
	for (unsigned i = 0; i <= IOP_LAN_SEND_MAX_PACKETS; i++) {
		bufs[i].addr = iop_heap_alloc(iop_window_inbound(w), 128);
		bufs[i].len = 60 + i;
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
	}
	/* By SGL: a simple element a packet, DIR | END_OF_BUFFER on each, LAST on the final. */
	words = iop_build_lan_packet_send_multi(frame, sizeof(frame), 0x10, w, bufs, 3);
	check_header(words, 0x10, IOP_LAN_PACKET_SEND, &m);
	CU_ASSERT_EQUAL(words, 5 + 2 * 3);
	CU_ASSERT_EQUAL(m.sgl_offset, IOP_LAN_SGL_WORD);
	CU_ASSERT_EQUAL(le32toh(frame[IOP_LAN_CONTROL_WORD]), 0);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &b);
	for (unsigned i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_SIMPLE);
		CU_ASSERT_EQUAL(e.offset, iop_window_mfa(w, bufs[i].addr));
		CU_ASSERT_EQUAL(e.count, 60 + i);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_DIR);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_END_OF_BUFFER);
		CU_ASSERT_EQUAL(!!(e.flags & IOP_SGL_LAST_ELEMENT), i == 2);
	}
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	/* The most packets; one more, none, a frame too small. */
	words = iop_build_lan_packet_send_multi(big, sizeof(big), 0x10, w, bufs,
						IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(words, (int)(5 + 2 * IOP_LAN_SEND_MAX_PACKETS));
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_multi(big, sizeof(big), 0x10, w, bufs,
							IOP_LAN_SEND_MAX_PACKETS + 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_multi(frame, sizeof(frame), 0x10, w, bufs, 0),
			-EINVAL);
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_multi(frame, 10 * 4, 0x10, w, bufs, 3), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
	/* One packet: the same frame as the one-packet builder's. */
	words = iop_build_lan_packet_send_multi(big, sizeof(big), 0x10, w, bufs, 1);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_sgl(frame, sizeof(frame), 0x10, w, bufs, 1), words);
	CU_ASSERT_EQUAL(memcmp(big, frame, (size_t)words * 4), 0);

	/* Inline: an immediate element a packet, END_OF_BUFFER on each. */
	for (unsigned i = 0; i < 3; i++) {
		memset(pkt[i], 0xA0 + (int)i, sizeof(pkt[i]));
		inl[i].data = pkt[i];
		inl[i].len = 60 + i; /* 15, 16 and 16 words */
	}
	words = iop_build_lan_packet_send_inline_multi(big, sizeof(big), 0x10, inl, 3);
	check_header_of(big, words, 0x10, IOP_LAN_PACKET_SEND, &m);
	CU_ASSERT_EQUAL(words, 5 + (1 + 15) + (1 + 16) + (1 + 16));
	iop_sgl_iter_init(&it, big, (size_t)words * 4, m.sgl_offset, &b);
	for (unsigned i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_IMMEDIATE);
		CU_ASSERT_EQUAL(e.count, 60 + i);
		CU_ASSERT_EQUAL(memcmp(e.data, pkt[i], 60 + i), 0);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_END_OF_BUFFER);
		CU_ASSERT_EQUAL(!!(e.flags & IOP_SGL_LAST_ELEMENT), i == 2);
	}
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, (5 + 49) * 4, 0x10, inl, 3),
			-ENOSPC);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, (5 + 50) * 4, 0x10, inl, 3),
			5 + 50);
	inl[1].len = 0;
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, sizeof(big), 0x10, inl, 3),
			-EINVAL);
	inl[1].len = 61;
	inl[1].data = NULL;
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, sizeof(big), 0x10, inl, 3),
			-EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, sizeof(big), 0x10, inl, 0),
			-EINVAL);
	/* One packet: the same frame as the one-packet inline builder's. */
	words = iop_build_lan_packet_send_inline_multi(big, sizeof(big), 0x10, inl, 1);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline(frame, sizeof(frame), 0x10, pkt[0], 60),
			words);
	CU_ASSERT_EQUAL(memcmp(big, frame, (size_t)words * 4), 0);
	iop_window_close(w);
}

/*
 * A PacketSend built a packet at a time: the frame inline_multi builds for
 * the same packets, word for word; a packet that does not fit, a 65th, an
 * empty one refused with the frame as it was; no packet, no request.
 */
static void test_lan_packet_send_builder(void)
{
	static uint32_t want[4096], got[4096];
	static uint8_t pkt[IOP_LAN_SEND_MAX_PACKETS + 1][64];
	struct iop_lan_inline inl[IOP_LAN_SEND_MAX_PACKETS];
	struct iop_lan_send_builder b;
	int words;

	for (unsigned i = 0; i <= IOP_LAN_SEND_MAX_PACKETS; i++)
		memset(pkt[i], 0x11 * (int)(i % 15 + 1), sizeof(pkt[i]));
	for (unsigned i = 0; i < IOP_LAN_SEND_MAX_PACKETS; i++)
		inl[i] = (struct iop_lan_inline){ pkt[i], 1 + i % 64 };
	for (unsigned n = 1; n <= IOP_LAN_SEND_MAX_PACKETS; n *= 4) {
		memset(want, 0xEE, sizeof(want));
		memset(got, 0x77, sizeof(got));
		words = iop_build_lan_packet_send_inline_multi(want, sizeof(want), 0x10, inl, n);
		CU_ASSERT_EQUAL_FATAL(iop_build_lan_packet_send_begin(&b, got, sizeof(got), 0x10), 0);
		for (unsigned i = 0; i < n; i++)
			CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, inl[i].data, inl[i].len), 0);
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&b), words);
		CU_ASSERT_EQUAL(memcmp(want, got, (size_t)words * 4), 0);
	}
	/* The 65th packet is refused; the 64 stand. */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, got, sizeof(got), 0x10), 0);
	for (unsigned i = 0; i < IOP_LAN_SEND_MAX_PACKETS; i++)
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[i], 8), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[64], 8), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&b), (int)(5 + 3 * IOP_LAN_SEND_MAX_PACKETS));

	/* 64 words: the header and control word, then 59 words for packets. */
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, frame, sizeof(frame), 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[0], 60), 0);     /* 16 words */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[1], 64), 0);     /* 17 */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[2], 64), 0);     /* 17: 50 */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[3], 33), -ENOSPC); /* 10 */
	CU_ASSERT_EQUAL(frame[5 + 50], POISON);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[3], 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, NULL, 4), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt[3], 32), 0);     /* 9: 59 */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&b), 64);
	words = iop_build_lan_packet_send_inline_multi(want, sizeof(want), 0x10,
						       (const struct iop_lan_inline[]){
							       { pkt[0], 60 },
							       { pkt[1], 64 },
							       { pkt[2], 64 },
							       { pkt[3], 32 } },
						       4);
	CU_ASSERT_EQUAL(words, 64);
	CU_ASSERT_EQUAL(memcmp(want, frame, sizeof(frame)), 0);

	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, got, sizeof(got), 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&b), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, got, 6 * 4, 0x10), -ENOSPC);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, NULL, sizeof(got), 0x10), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, got, sizeof(got), IOP_TID_MAX),
			-EINVAL);
}

/*
 * Packets added by reference (iop-replay's preloaded captures): word for word
 * what iop_build_lan_packet_send_multi() builds for the same buffers; mixed
 * with packets carried inline, each element of its kind in the order added;
 * a buffer outside the inbound heap, an empty one, a 65th and one with no
 * room refused, the frame as it was. Several at once (_add_bufs): what one
 * at a time adds, and all or nothing.
 */
static void test_lan_packet_send_builder_by_reference(void)
{
	const struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20 };
	struct iop_window *w = iop_window_create(&wo);
	static uint32_t want[IOP_LAN_SGL_WORD + 2 * IOP_LAN_SEND_MAX_PACKETS];
	static uint32_t got[IOP_LAN_SGL_WORD + 2 * IOP_LAN_SEND_MAX_PACKETS];
	struct iop_buf bufs[IOP_LAN_SEND_MAX_PACKETS + 1], bad;
	struct iop_lan_send_builder lb;
	struct iop_sgl_bounds bounds;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	struct iop_msg_hdr m;
	uint8_t pkt[60];
	int words;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	iop_window_sgl_bounds(w, &bounds);
	for (unsigned i = 0; i <= IOP_LAN_SEND_MAX_PACKETS; i++) {
		bufs[i].addr = iop_heap_alloc(iop_window_inbound(w), 2048);
		bufs[i].len = 60 + 23 * i;
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
	}
	for (unsigned n = 1; n <= IOP_LAN_SEND_MAX_PACKETS; n *= 4) {
		memset(want, 0xEE, sizeof(want));
		memset(got, 0x77, sizeof(got));
		words = iop_build_lan_packet_send_multi(want, sizeof(want), 0x10, w, bufs, n);
		CU_ASSERT_EQUAL_FATAL(iop_build_lan_packet_send_begin(&lb, got, sizeof(got), 0x10), 0);
		for (unsigned i = 0; i < n; i++)
			CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[i]), 0);
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), words);
		CU_ASSERT_EQUAL(memcmp(want, got, (size_t)words * 4), 0);
	}
	/* The 65th is refused, the 64 stand. */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, got, sizeof(got), 0x10), 0);
	for (unsigned i = 0; i < IOP_LAN_SEND_MAX_PACKETS; i++)
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[i]), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[64]), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), (int)(5 + 2 * IOP_LAN_SEND_MAX_PACKETS));

	/* Mixed: inline, by reference, inline; then refusals that leave the frame as it was. */
	memset(pkt, 0x5C, sizeof(pkt));
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, frame, sizeof(frame), 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&lb, pkt, 60), 0);            /* 16 words */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[1]), 0);    /* 2: 18 */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&lb, pkt, 60), 0);            /* 16: 34 */
	bad = (struct iop_buf){ pkt, 60 }; /* not the window's */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bad), -EINVAL);
	bad = (struct iop_buf){ iop_heap_alloc(iop_window_outbound(w), 128), 60 };
	CU_ASSERT_PTR_NOT_NULL(bad.addr);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bad), -EINVAL);
	bad = (struct iop_buf){ bufs[2].addr, 0 };
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bad), -EINVAL);
	bad = (struct iop_buf){ bufs[2].addr, IOP_SGL_COUNT_MAX + 1 };
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bad), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, NULL, &bufs[2]), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, NULL), -EINVAL);
	CU_ASSERT_EQUAL(frame[5 + 34], POISON);
	words = iop_build_lan_packet_send_end(&lb);
	check_header(words, 0x10, IOP_LAN_PACKET_SEND, &m);
	CU_ASSERT_EQUAL(words, 5 + 34);
	iop_sgl_iter_init(&it, frame, (size_t)words * 4, m.sgl_offset, &bounds);
	for (unsigned i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_TRUE(e.flags & IOP_SGL_END_OF_BUFFER);
		CU_ASSERT_EQUAL(!!(e.flags & IOP_SGL_LAST_ELEMENT), i == 2);
		if (i == 1) {
			CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_SIMPLE);
			CU_ASSERT_EQUAL(e.offset, iop_window_mfa(w, bufs[1].addr));
			CU_ASSERT_EQUAL(e.count, bufs[1].len);
			CU_ASSERT_TRUE(e.flags & IOP_SGL_DIR);
		} else {
			CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_IMMEDIATE);
			CU_ASSERT_EQUAL(e.count, 60);
			CU_ASSERT_EQUAL(memcmp(e.data, pkt, 60), 0);
		}
	}
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);

	/* At once: what one at a time adds, word for word, after packets already there. */
	for (unsigned n = 1; n <= IOP_LAN_SEND_MAX_PACKETS - 2; n += 13) {
		memset(want, 0xEE, sizeof(want));
		memset(got, 0x77, sizeof(got));
		CU_ASSERT_EQUAL_FATAL(iop_build_lan_packet_send_begin(&lb, want, sizeof(want), 0x10), 0);
		for (unsigned i = 0; i < n + 2; i++)
			CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[i]), 0);
		words = iop_build_lan_packet_send_end(&lb);
		CU_ASSERT_EQUAL_FATAL(iop_build_lan_packet_send_begin(&lb, got, sizeof(got), 0x10), 0);
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 2), 2);
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs + 2, n), (int)n);
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), words);
		CU_ASSERT_EQUAL(memcmp(want, got, (size_t)words * 4), 0);
	}
	/* The most a PacketSend carries, at once. */
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, got, sizeof(got), 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs,
							     IOP_LAN_SEND_MAX_PACKETS),
			(int)IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), (int)(5 + 2 * IOP_LAN_SEND_MAX_PACKETS));
	/* All or nothing: a bad buffer among good ones, too many, no room. */
	memset(got, 0x77, sizeof(got));
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, got, sizeof(got), 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 3), 3);
	{
		struct iop_buf mixed[3] = { bufs[3], { pkt, 60 }, bufs[4] };

		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, mixed, 3), -EINVAL);
		mixed[1] = (struct iop_buf){ bufs[5].addr, 0 };
		CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, mixed, 3), -EINVAL);
	}
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs,
							     IOP_LAN_SEND_MAX_PACKETS - 2), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, NULL, bufs, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(got[5 + 6], 0x77777777u);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 0), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), 5 + 6);
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, frame, 10 * 4, 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 3), -ENOSPC);
	CU_ASSERT_TRUE(untouched());
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_bufs(&lb, &bounds, bufs, 2), 2);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), 9);

	/* No room for the 2 words: the smallest frame holds one buffer and no more. */
	poison();
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&lb, frame, 7 * 4, 0x10), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[0]), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add_buf(&lb, &bounds, &bufs[1]), -ENOSPC);
	CU_ASSERT_EQUAL(frame[7], POISON);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&lb), 7);
	iop_window_close(w);
}

/*
 * The builder's elements against the SGL writer's (the encoder every other
 * builder uses), word for word, for every padding (packets of 1 to 70
 * bytes) in frames poisoned with different bytes: the same header, the same
 * bytes, the padding zeroed, not left as the frame's old bytes; and the
 * walker reading back each packet as it was given.
 */
static void test_lan_packet_send_builder_matches_writer(void)
{
	static uint32_t got[2048], want[2048];
	static uint8_t pkt[70];
	struct iop_lan_send_builder b;
	struct iop_sgl_writer sw;
	const struct iop_sgl_bounds bounds = { NULL, 0, 0 };
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	unsigned k = 0;
	int words;

	for (unsigned i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(0x80 + i);
	for (uint32_t first = 1; first <= sizeof(pkt); first += 23) {
		memset(got, 0xA5, sizeof(got));
		memset(want, 0x5A, sizeof(want));
		CU_ASSERT_EQUAL_FATAL(iop_build_lan_packet_send_begin(&b, got, sizeof(got), 0x10), 0);
		iop_sgl_writer_init(&sw, want + IOP_LAN_SGL_WORD, 2048 - IOP_LAN_SGL_WORD);
		/* Lengths first, first + 1, ...: every remainder mod 4 within a request. */
		for (uint32_t i = 0; i < 24; i++) {
			uint32_t len = (first + i - 1) % sizeof(pkt) + 1;

			CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt, len), 0);
			CU_ASSERT_EQUAL(iop_sgl_add_immediate(&sw, pkt, len, IOP_SGL_END_OF_BUFFER), 0);
		}
		words = iop_build_lan_packet_send_end(&b);
		CU_ASSERT_EQUAL_FATAL(iop_sgl_finish(&sw), words - (int)IOP_LAN_SGL_WORD);
		CU_ASSERT_EQUAL(memcmp(got + IOP_LAN_SGL_WORD, want + IOP_LAN_SGL_WORD,
				       (size_t)(words - (int)IOP_LAN_SGL_WORD) * 4), 0);
		CU_ASSERT_EQUAL_FATAL(iop_sgl_iter_init(&it, got, (size_t)words * 4,
							IOP_LAN_SGL_WORD, &bounds), 0);
		for (uint32_t i = 0; iop_sgl_next(&it, &e) == 1; i++, k++) {
			uint32_t len = (first + i - 1) % sizeof(pkt) + 1;

			CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_IMMEDIATE);
			CU_ASSERT_EQUAL(e.count, len);
			CU_ASSERT_TRUE((e.flags & IOP_SGL_END_OF_BUFFER) != 0);
			CU_ASSERT_EQUAL(memcmp(e.data, pkt, len), 0);
		}
		CU_ASSERT_EQUAL(it.dsc, 0);
	}
	CU_ASSERT_EQUAL(k, 4 * 24); /* first = 1, 24, 47, 70 */
}

/*
 * A refused begin leaves an empty builder, whatever *b held before: adding
 * to it or ending it is refused, and nothing is written anywhere.
 */
static void test_lan_packet_send_begin_refused(void)
{
	static const struct iop_lan_send_builder zero;
	struct iop_lan_send_builder b;
	uint8_t pkt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	poison();
	memset(&b, 0xA5, sizeof(b));
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, frame, 6 * 4, 0x10), -ENOSPC);
	CU_ASSERT_EQUAL(memcmp(&b, &zero, sizeof(b)), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt, sizeof(pkt)), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_end(&b), -EINVAL);
	memset(&b, 0xA5, sizeof(b));
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, NULL, sizeof(frame), 0x10), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&b, &zero, sizeof(b)), 0);
	memset(&b, 0xA5, sizeof(b));
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(&b, frame, sizeof(frame), IOP_TID_MAX),
			-EINVAL);
	CU_ASSERT_EQUAL(memcmp(&b, &zero, sizeof(b)), 0);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_add(&b, pkt, sizeof(pkt)), -EINVAL);
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_begin(NULL, frame, sizeof(frame), 0x10), -EINVAL);
	CU_ASSERT_EQUAL(frame[0], POISON);
	CU_ASSERT_EQUAL(frame[5], POISON);
}

/*
 * A frame over 256 KiB holds no more than 0xFFFF words of a request
 * (MessageSize is 16 bits): inline_multi takes packets that make exactly
 * 0xFFFF words, and refuses one word more up front, the frame untouched.
 */
static void test_lan_packet_send_inline_multi_size_cap(void)
{
	enum { BIG_WORDS = 0x20000 }; /* 512 KiB */
	/* Two packets of 1 + 32764 words: 5 + 65530 = 0xFFFF words. */
	const uint32_t len = 32764 * 4;
	uint32_t *big = malloc((size_t)BIG_WORDS * 4);
	uint8_t *data = malloc(len + 4);
	struct iop_lan_inline inl[2];
	struct iop_msg_hdr m;
	int words;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	memset(data, 0x5A, len + 4);
	inl[0] = (struct iop_lan_inline){ data, len };
	inl[1] = (struct iop_lan_inline){ data, len };
	words = iop_build_lan_packet_send_inline_multi(big, (size_t)BIG_WORDS * 4, 0x10, inl, 2);
	CU_ASSERT_EQUAL(words, 0xFFFF);
	iop_msg_hdr_decode(big, &m);
	CU_ASSERT_EQUAL(m.size_words, 0xFFFF);
	/* One word more: refused before anything is written. */
	inl[1].len = len + 1;
	for (unsigned i = 0; i < BIG_WORDS; i++)
		big[i] = POISON;
	CU_ASSERT_EQUAL(iop_build_lan_packet_send_inline_multi(big, (size_t)BIG_WORDS * 4, 0x10,
							       inl, 2),
			-ENOSPC);
	for (unsigned i = 0; i < BIG_WORDS; i++)
		if (big[i] != POISON) {
			CU_FAIL("a refused inline_multi wrote into the frame");
			break;
		}
	free(big);
	free(data);
}

/* A reply with a status and words 5..: what the IOP would send. */
static unsigned reply_of(uint8_t status, const uint32_t *payload, unsigned n)
{
	struct iop_msg_hdr req = { .version = 1, .size_words = 5, .target_tid = 0x10,
				   .initiator_tid = IOP_TID_HOST, .function = IOP_UTIL_PARAMS_GET };

	iop_reply_build(&req, 0x10, status, 0, frame, IOP_REPLY_WORDS + n);
	for (unsigned i = 0; i < n; i++)
		frame[5 + i] = htole32(payload[i]);
	return IOP_REPLY_WORDS + n;
}

static void test_reply_readers(void)
{
	uint32_t params[7] = { 3, 1, 0, 2, 0, 0xFFFFFFFFu, 0xFFFFFFFFu };
	uint32_t status[10] = { IOP_STATE_OPERATIONAL | 1u << 8, 9, 4, 12, 4096, 2048, 16, 2,
				100, 200 };
	struct iop_exec_status s;
	uint64_t v[4];
	unsigned n, words;
	const uint32_t *lct;
	size_t lct_bytes;
	struct iop_lan_packet pkts[4];
	uint32_t left;

	words = reply_of(0, params, 7);
	CU_ASSERT_EQUAL(iop_read_params_reply(frame, words, v, 4, &n), 3);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(v[0], 1);
	CU_ASSERT_EQUAL(v[1], 2);
	CU_ASSERT_EQUAL(v[2], UINT64_MAX);
	CU_ASSERT_EQUAL(iop_read_params_reply(frame, words, v, 2, &n), 2); /* room for two */
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(iop_read_params_reply(frame, words - 1, v, 4, &n), -EPROTO); /* short */
	words = reply_of(IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, params, 7);
	CU_ASSERT_EQUAL(iop_read_params_reply(frame, words, v, 4, &n), -EPROTO);

	words = reply_of(0, status, 10);
	CU_ASSERT_EQUAL(iop_read_exec_status(frame, words, &s), 0);
	CU_ASSERT_EQUAL(s.iop_state, IOP_STATE_OPERATIONAL);
	CU_ASSERT_EQUAL(s.i2o_version, 1);
	CU_ASSERT_EQUAL(s.iop_id, 9);
	CU_ASSERT_EQUAL(s.targets, 4);
	CU_ASSERT_EQUAL(s.loops, 2);
	CU_ASSERT_EQUAL(s.outbound_in_use, 200);
	CU_ASSERT_EQUAL(iop_read_exec_status(frame, words - 1, &s), -EPROTO);
	CU_ASSERT_EQUAL(iop_read_lct_reply(frame, 7, &lct, &lct_bytes), -EPROTO); /* no header */
	CU_ASSERT_EQUAL(iop_read_lct_reply(frame, 8, &lct, &lct_bytes), 0);
	CU_ASSERT_PTR_EQUAL(lct, frame + 5);
	CU_ASSERT_EQUAL(lct_bytes, 12);

	/* A ReceivePost reply: two packets, five buckets still empty. */
	words = reply_of(0, (const uint32_t[]){ 2, 5, 0, 60, 1, 9000 }, 6);
	CU_ASSERT_EQUAL(iop_read_lan_receive_reply(frame, words, pkts, 4, &left), 2);
	CU_ASSERT_EQUAL(left, 5);
	CU_ASSERT_EQUAL(pkts[1].bucket, 1);
	CU_ASSERT_EQUAL(pkts[1].len, 9000);
	CU_ASSERT_EQUAL(iop_read_lan_receive_reply(frame, words, pkts, 1, NULL), 1);
	CU_ASSERT_EQUAL(iop_read_lan_receive_reply(frame, words - 1, pkts, 4, NULL), -EPROTO);

	/* PacketSend replies: 5 words for one packet, 6 (word 5 the packets sent) for several. */
	words = reply_of(0, NULL, 0);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, words, 1), 1);
	words = reply_of(IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, NULL, 0);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, words, 3), 0);
	words = reply_of(0, (const uint32_t[]){ 3 }, 1);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, words, 3), 3);
	words = reply_of(IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER, (const uint32_t[]){ 2 }, 1);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, words, 3), 2);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, words, 1), -EPROTO);
	CU_ASSERT_EQUAL(iop_read_lan_send_reply(frame, 4, 1), -EPROTO);
}

static const struct iop_test_case build_tests[] = {
	{ "utility_requests", test_utility_requests },
	{ "params_set_layout", test_params_set_layout },
	{ "executive_requests", test_executive_requests },
	{ "block_transfers", test_block_transfers },
	{ "block_transfer_again", test_block_transfer_again },
	{ "lan_requests", test_lan_requests },
	{ "lan_packet_send_multi", test_lan_packet_send_multi },
	{ "lan_packet_send_builder", test_lan_packet_send_builder },
	{ "lan_packet_send_builder_matches_writer", test_lan_packet_send_builder_matches_writer },
	{ "lan_packet_send_builder_by_reference", test_lan_packet_send_builder_by_reference },
	{ "lan_packet_send_begin_refused", test_lan_packet_send_begin_refused },
	{ "lan_packet_send_inline_multi_size_cap", test_lan_packet_send_inline_multi_size_cap },
	{ "reply_readers", test_reply_readers },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "builders", build_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
