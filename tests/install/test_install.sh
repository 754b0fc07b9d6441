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
#include <iop/frame.h>
#include <iop/heap.h>
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
	uint32_t *f = w != NULL ? iop_heap_alloc(iop_window_inbound(w), 16) : NULL;
	int rc = p != NULL && iop_heap_free(h, p, 1000) == 0 && iop_heap_check(h) == 0 &&
		 f != NULL;

	if (rc) {
		iop_msg_hdr_encode(&m, f);
		rc = iop_frame_validate(f, 16, &v) == 0 &&
		     iop_window_frame(w, iop_window_mfa(w, f)) == (void *)f;
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
# Point the installed .pc file's prefix at the scratch copy.
pcfg=(pkg-config "--define-variable=prefix=$stage$(pkg-config --variable=prefix libiop)")
flags=$("${pcfg[@]}" --cflags libiop)
libs=$("${pcfg[@]}" --libs libiop)
libdir=$("${pcfg[@]}" --variable=libdir libiop)
cc -Wall -Werror $flags "$stage/app.c" -o "$stage/app-shared" $libs
LD_LIBRARY_PATH=$libdir "$stage/app-shared"
cc -Wall -Werror $flags "$stage/app.c" -o "$stage/app-static" "$libdir/libiop.a" -lpthread
"$stage/app-static"
