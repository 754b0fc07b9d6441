/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A process killed in the middle of an allocation or a free loses nobody
 * anything. A child process of a heap in shared memory (with a tag table, as
 * a frame window's heaps have) is killed with SIGKILL at a point inside alloc
 * or free (a test hook compiled into this program's copy of the heap); then,
 * as iopd does for a dead host, the parent gives back its caches
 * (iop_heap_cache_reclaim_process) and the blocks tagged as its own
 * (iop_heap_reclaim_tag). The heap must then be whole: every byte free, and
 * iop_heap_check() content.
 *
 * The one place where a kill still loses memory is shown as such: between
 * taking a block out of the bitmaps and marking it allocated, on the path
 * without caches (large blocks), the block belongs to nobody the heap can
 * name. The test pins down that exactly that block is lost and nothing is
 * corrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap_hooks.h"
#include "heap_layout.h"
#include "heap_tags.h"
#include "iop_heap.h"
#include "iop_test.h"

#define HEAP_BYTES (1u << 20)
#define HOST_TAG 7u
#define SMALL 64u          /* a cached order */
#define LARGE (64u << 10)  /* past the cached orders */

static int kill_point = -1;

static void die_here(enum heap_hook_point point)
{
	if ((int)point == kill_point)
		raise(SIGKILL);
}

struct shared_heap {
	void *mem;
	size_t len;
	struct iop_heap *h;
};

/* A heap and its tag table in one shared mapping, as in a frame window. */
static void make_heap(struct shared_heap *s)
{
	size_t heap_len = iop_heap_footprint(HEAP_BYTES, NULL);
	size_t tags = heap_tags_bytes(HEAP_BYTES, NULL);

	s->len = heap_len + tags;
	s->mem = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(s->mem != MAP_FAILED);
	s->h = iop_heap_create_in(s->mem, heap_len, HEAP_BYTES, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->h);
	heap_tags_attach(s->h, (char *)s->mem + heap_len);
}

enum last_op {
	LAST_ALLOC_SMALL,  /* a cached block popped */
	LAST_FREE_SMALL,   /* a block freed into the cache */
	LAST_FIRST_ALLOC,  /* the very first allocation: a first reserve chunk */
	LAST_ALLOC_LARGE,  /* an uncached block */
	LAST_NEW_CHUNK,    /* a second reserve chunk, once the first is used up */
	LAST_SPILL,        /* frees until the cache is full and spills */
};

/* The child: hold blocks as a host does, some cached, then die inside `last`. */
static void child(struct iop_heap *h, enum heap_hook_point point, enum last_op last)
{
	void *held[40];

	if (last == LAST_FIRST_ALLOC) {
		/* No cache yet: the first allocation cuts a reserve chunk. */
		kill_point = (int)point;
		iop_heap_alloc_tagged(h, SMALL, HOST_TAG);
		_exit(1); /* the hook did not fire */
	}
	if (last == LAST_NEW_CHUNK) {
		/* The first chunk's pieces, then the allocation that takes the next chunk. */
		for (uint32_t i = 0; i < 1u << h->cache_chunk[0]; i++)
			iop_heap_alloc_tagged(h, SMALL, HOST_TAG);
		kill_point = (int)point;
		iop_heap_alloc_tagged(h, SMALL, HOST_TAG);
		_exit(1);
	}
	if (last == LAST_SPILL) {
		void *b[2 * HEAP_CACHE_DEPTH];

		for (uint32_t i = 0; i <= h->cache_depth[0]; i++)
			b[i] = iop_heap_alloc_tagged(h, SMALL, HOST_TAG);
		kill_point = (int)point;
		for (uint32_t i = 0; i <= h->cache_depth[0]; i++)
			iop_heap_free(h, b[i], SMALL); /* the last one finds the cache full */
		_exit(1);
	}
	for (int i = 0; i < 40; i++)
		held[i] = iop_heap_alloc_tagged(h, SMALL << (i % 3), HOST_TAG);
	for (int i = 0; i < 40; i += 2)
		iop_heap_free(h, held[i], SMALL << (i % 3)); /* into the cache */
	iop_heap_alloc_tagged(h, LARGE, HOST_TAG);
	kill_point = (int)point;
	if (last == LAST_ALLOC_SMALL)
		iop_heap_alloc_tagged(h, SMALL, HOST_TAG);
	else if (last == LAST_FREE_SMALL)
		iop_heap_free(h, held[3], SMALL);
	else
		iop_heap_alloc_tagged(h, LARGE, HOST_TAG);
	_exit(1);
}

/* Kill a child at point, reclaim as iopd would; @return the bytes lost. */
static uint64_t killed_at(enum heap_hook_point point, enum last_op last)
{
	struct shared_heap s;
	struct iop_heap_stats st;
	int status;
	pid_t pid;

	make_heap(&s);
	pid = fork();
	if (pid == 0)
		child(s.h, point, last);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* iopd's order: the dead process's caches, then what was tagged as its. */
	CU_ASSERT_EQUAL(iop_heap_cache_reclaim_process(s.h, pid), 1);
	CU_ASSERT(iop_heap_reclaim_tag(s.h, HOST_TAG) > 0);
	iop_heap_stats(s.h, &st);
	CU_ASSERT_EQUAL(st.bytes_in_use, 0);
	/*
	 * Whole; or, where memory was lost, the check's only complaint is that
	 * the blocks fall short by that much: nothing else is amiss.
	 */
	if (st.bytes_free == st.heap_bytes) {
		CU_ASSERT_EQUAL(iop_heap_check(s.h), 0);
	} else {
		char want[128], got[128] = "";

		snprintf(want, sizeof(want), "blocks cover %llu bytes of %llu",
			 (unsigned long long)st.bytes_free, (unsigned long long)st.heap_bytes);
		CU_ASSERT_EQUAL(iop_heap_check_report(s.h, got, sizeof(got)), -EUCLEAN);
		CU_ASSERT_STRING_EQUAL(got, want);
	}
	iop_heap_destroy(s.h); /* this process's cache of it (the reclaim's frees) first */
	munmap(s.mem, s.len);
	return st.heap_bytes - st.bytes_free;
}

static void test_killed_popping_a_cached_block(void)
{
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_CACHE_POP_TAGGED, LAST_ALLOC_SMALL), 0);
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_CACHE_POP_ALLOCATED, LAST_ALLOC_SMALL), 0);
}

static void test_killed_cutting_a_reserve_piece(void)
{
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_REFILL_ALLOCATED, LAST_FIRST_ALLOC), 0);
}

static void test_killed_freeing_into_the_cache(void)
{
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_CACHE_FREE_PUSHED, LAST_FREE_SMALL), 0);
}

/*
 * A second reserve chunk, killed between recording its start and its end:
 * the reserve names nothing (so no drain releases blocks that are not its
 * own); the chunk is the loss.
 */
static void test_killed_taking_a_new_chunk_loses_only_that_chunk(void)
{
	struct iop_heap probe;
	struct shared_heap s;

	make_heap(&s);
	probe = *s.h; /* the geometry the child's heap will have */
	munmap(s.mem, s.len);
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_REFILL_CHUNK_STARTED, LAST_NEW_CHUNK),
			(uint64_t)SMALL << probe.cache_chunk[0]);
}

/*
 * A spill hands the newest half of a full cache to the depot in a magazine;
 * killed between taking them off the cache and pushing the magazine, those
 * blocks are lost, never both cached and in the depot.
 */
static void test_killed_spilling_loses_one_magazine(void)
{
	struct iop_heap probe;
	struct shared_heap s;

	make_heap(&s);
	probe = *s.h;
	munmap(s.mem, s.len);
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_DEPOT_GIVING, LAST_SPILL),
			(uint64_t)SMALL * (probe.cache_depth[0] / 2));
}

/* The known loss: exactly the block in transit, and no harm to anything else. */
static void test_killed_between_take_and_allocate_loses_that_block(void)
{
	CU_ASSERT_EQUAL(killed_at(HEAP_HOOK_ALLOC_TAGGED, LAST_ALLOC_LARGE), LARGE);
}

static const struct iop_test_case killed_tests[] = {
	{ "killed_popping_a_cached_block", test_killed_popping_a_cached_block },
	{ "killed_cutting_a_reserve_piece", test_killed_cutting_a_reserve_piece },
	{ "killed_freeing_into_the_cache", test_killed_freeing_into_the_cache },
	{ "killed_taking_a_new_chunk_loses_only_that_chunk",
	  test_killed_taking_a_new_chunk_loses_only_that_chunk },
	{ "killed_spilling_loses_one_magazine", test_killed_spilling_loses_one_magazine },
	{ "killed_between_take_and_allocate_loses_that_block",
	  test_killed_between_take_and_allocate_loses_that_block },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_killed", killed_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	heap_test_hook = die_here;
	return iop_test_main(argc, argv, suites);
}
