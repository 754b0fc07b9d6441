#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the build into a scratch prefix and builds a program against the
# installed <iop/*.h> headers and libiop.pc, statically and shared, then runs both.
set -euo pipefail
build=$1
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --destdir "$stage" --no-rebuild >/dev/null
pc=$(dirname "$(find "$stage" -name libiop.pc | head -1)")
export PKG_CONFIG_PATH=$pc
cat >"$stage/app.c" <<'C'
#include <iop/channel.h>
#include <iop/frame.h>
#include <iop/heap.h>
#include <iop/lct.h>
#include <iop/mfa_ring.h>
#include <iop/sgl.h>
#include <iop/version.h>
#include <iop/window.h>
#include <stdio.h>
int main(void)
{
	struct iop_heap *h = iop_heap_create(1 << 16, NULL);
	void *p = iop_heap_alloc(h, 1000);
	struct iop_window_opts wo = { .inbound_bytes = 1 << 16, .outbound_bytes = 1 << 16 };
	struct iop_window *w = iop_window_create(&wo);
	struct iop_msg_hdr m = { .version = 1, .size_words = 4, .target_tid = 0x10,
				 .initiator_tid = IOP_TID_HOST };
	struct iop_frame_verdict v;
	struct iop_lct_header lh = { .lct_ver = IOP_LCT_VERSION_1_5 };
	uint32_t lct[IOP_LCT_HDR_WORDS];
	struct iop_channel ch;
	uint32_t mfa, got = IOP_MFA_EMPTY;
	uint32_t *f = w != NULL ? iop_heap_alloc(iop_window_inbound(w), 16) : NULL;
	int rc = p != NULL && iop_heap_free(h, p, 1000) == 0 && iop_heap_check(h) == 0 &&
		 f != NULL;

	if (rc) {
		iop_msg_hdr_encode(&m, f);
		mfa = iop_window_mfa(w, f);
		rc = iop_frame_validate(f, 16, &v) == 0 && iop_window_frame(w, mfa) == (void *)f &&
		     iop_channel_open(w, &ch) == 0 && iop_mfa_ring_post(ch.to_iop, &mfa, 1) == 1 &&
		     iop_mfa_ring_take(ch.to_iop, &got, 1) == 1 && got == mfa &&
		     iop_channel_close(w, &ch) == 0 &&
		     iop_lct_build(lct, IOP_LCT_HDR_WORDS, &lh, NULL, 0) == IOP_LCT_HDR_WORDS &&
		     iop_lct_parse(lct, sizeof(lct), NULL) == 0;
	}
	if (rc) {
		uint32_t req[6] = { 0 };
		struct iop_sgl_writer sw;
		struct iop_sgl_bounds b = { NULL, 0, 4096 };
		uint16_t dsc;
		uint64_t total = 0;

		rc = iop_sgl_writer_init(&sw, req + 4, 2) == 0 &&
		     iop_sgl_add_simple(&sw, 64, 512, 0) == 0 && iop_sgl_finish(&sw) == 2 &&
		     iop_sgl_check(req, sizeof(req), 4, &b, &dsc, &total) == 0 && total == 512;
	}
	iop_window_close(w);
	printf("iopool %s: %s\n", iop_version(), rc ? "ok" : "FAILED");
	iop_heap_destroy(h);
	return rc ? 0 : 1;
}
C
# Point the installed .pc file's prefix at the scratch copy. That override
# would move libdpdk's prefix too, so DPDK's flags come from its own .pc file;
# that libiop.pc requires libdpdk is checked on its own.
pcfg=(pkg-config "--define-variable=prefix=$stage$(pkg-config --variable=prefix libiop)")
"${pcfg[@]}" --print-requires libiop | grep -qw libdpdk
includedir=$("${pcfg[@]}" --variable=includedir libiop)
libdir=$("${pcfg[@]}" --variable=libdir libiop)
flags="-I$includedir $(pkg-config --cflags libdpdk)"
libs="-L$libdir -liop $(pkg-config --libs libdpdk)"
cc -Wall -Werror $flags "$stage/app.c" -o "$stage/app-shared" $libs
LD_LIBRARY_PATH=$libdir "$stage/app-shared"
cc -Wall -Werror $flags "$stage/app.c" -o "$stage/app-static" "$libdir/libiop.a" \
	$(pkg-config --libs libdpdk) -lpthread
"$stage/app-static"
