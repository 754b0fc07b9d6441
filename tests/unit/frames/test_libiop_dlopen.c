/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libiop.so loaded with dlopen() by a program that does not link it, as a
 * plugin or a language binding would load it: it loads (its thread-local
 * state needs no room in the loader's static TLS reserve), and its heap
 * allocates and frees through the thread caches from the loading thread and
 * from a thread started afterwards. IOP_TEST_LIBIOP names the library.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iop_heap;

static struct {
	struct iop_heap *(*create)(size_t n, const void *opts);
	void *(*alloc)(struct iop_heap *h, size_t x);
	int (*free)(struct iop_heap *h, void *p, size_t x);
	void (*cache_flush)(struct iop_heap *h);
	int (*check)(const struct iop_heap *h, char *why, size_t len);
	void (*destroy)(struct iop_heap *h);
} lib;

static int failures;

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* Cached sizes and a size above them, each written and freed; a double free refused. */
static void *use_heap(void *arg)
{
	struct iop_heap *h = arg;
	static const size_t sizes[] = { 64, 256, 2048, 65536 };

	for (unsigned round = 0; round < 100; round++)
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = lib.alloc(h, sizes[i]);

			EXPECT(p != NULL);
			if (p == NULL)
				continue;
			memset(p, 0xA5, sizes[i]);
			EXPECT(lib.free(h, p, sizes[i]) == 0);
			if (round == 0)
				EXPECT(lib.free(h, p, sizes[i]) != 0);
		}
	lib.cache_flush(h);
	return NULL;
}

int main(void)
{
	const char *path = getenv("IOP_TEST_LIBIOP");
	void *so;
	struct iop_heap *h;
	pthread_t t;
	char why[256] = "";

	if (path == NULL) {
		fprintf(stderr, "IOP_TEST_LIBIOP: the libiop.so to load\n");
		return 1;
	}
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (so == NULL) {
		fprintf(stderr, "FAIL: dlopen(%s): %s\n", path, dlerror());
		return 1;
	}
	*(void **)&lib.create = dlsym(so, "iop_heap_create");
	*(void **)&lib.alloc = dlsym(so, "iop_heap_alloc");
	*(void **)&lib.free = dlsym(so, "iop_heap_free");
	*(void **)&lib.cache_flush = dlsym(so, "iop_heap_cache_flush");
	*(void **)&lib.check = dlsym(so, "iop_heap_check_report");
	*(void **)&lib.destroy = dlsym(so, "iop_heap_destroy");
	if (!lib.create || !lib.alloc || !lib.free || !lib.cache_flush || !lib.check || !lib.destroy) {
		fprintf(stderr, "FAIL: a heap function is missing from %s\n", path);
		return 1;
	}
	h = lib.create(16u << 20, NULL); /* large enough for thread caches */
	EXPECT(h != NULL);
	if (h == NULL)
		return 1;
	use_heap(h);
	EXPECT(pthread_create(&t, NULL, use_heap, h) == 0);
	pthread_join(t, NULL);
	EXPECT(lib.check(h, why, sizeof(why)) == 0);
	if (failures != 0)
		fprintf(stderr, "iop_heap_check: %s\n", why);
	lib.destroy(h);
	/* libiop stays loaded: DPDK's libraries it pulled in register destructors of their own. */
	if (failures == 0)
		printf("libiop.so loaded with dlopen() and its heap used from two threads\n");
	return failures != 0;
}
