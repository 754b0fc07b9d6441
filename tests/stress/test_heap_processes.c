/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stress: real processes sharing one buddy heap through a memfd.
 *
 * Threads of one process share an address space, so they cannot show that the
 * heap keeps nothing but offsets in its memory. Here the parent builds the
 * heap in a memfd and the child maps the memfd again, at another address,
 * and drops the mapping it inherited: a pointer that leaked into the heap's
 * memory would fault or point into the wrong place, and a heap that kept
 * process-local state would disagree with itself.
 *
 * Frames move between the processes as 32-bit offsets on single-producer
 * single-consumer rings laid out in the same memfd, after the heap.
 *
 * The child never calls CUnit: it reports through its exit status and a
 * report block in shared memory, which the parent asserts on after waitpid().
 *
 * The heaps have thread caches (the default). A child leaves with _exit(),
 * which runs no atexit handler, so it gives its cache back with
 * iop_heap_cache_flush() first; the parent flushes its own before it expects
 * the heap whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap_layout.h"
#include "iop_heap.h"
#include "iop_test.h"

/*
 * Small enough that frames are reused many times and the producer runs dry:
 * at 4 MiB a consumer that keeps pace left a third of the runs without a
 * single ENOMEM, at 2 MiB none.
 */
#define HEAP_BYTES (2u << 20)
/* Two live sets of up to 1 MiB each: the processes crowd each other. */
#define STOP_HEAP_BYTES (1u << 20)
#define PAGE_BYTES 4096u

#define RING_SLOTS 4096u /* a power of two; holds more frames than the heap */

#define MOVE_FRAMES 200000u
#define FRAME_MIN 64u
#define FRAME_MAX 8192u
#define REPLY_MIN 64u
#define REPLY_MAX 512u
#define POP_BATCH 64u

#define STOP_ROUNDS 200u
#define STOP_OPS 2000u
#define STOP_SLEEP_US 200u
#define LIVE_MAX 64u
#define BLOCK_MIN 64u
#define BLOCK_MAX 16384u
/*
 * The parent allocates only while the child is stopped, so waiting for the
 * child's split or merge to finish is pointless there; and a child stopped
 * holding the whole heap mid-split would make a round of 2000 refusals at the
 * default 10 ms each last 20 s.
 */
#define STOP_ENOMEM_WAIT_NS 100000ull

#define TEST_DEADLINE_S 120u
/* Backstops for a hang the deadlines cannot see (inside a heap call). */
#define PARENT_ALARM_S 250u
#define CHILD_ALARM_S 280u

#define NSEC_PER_SEC 1000000000ull

#define TAG_FRAME (1ull << 60)
#define TAG_REPLY (2ull << 60)
#define TAG_PARENT (3ull << 60)
#define TAG_CHILD (4ull << 60)

/* Child exit statuses: which check failed first. */
enum child_status {
	CHILD_OK = 0,
	CHILD_E_SETUP = 10,
	CHILD_E_SAME_ADDR,
	CHILD_E_ATTACH,
	CHILD_E_PATTERN,
	CHILD_E_FREE,
	CHILD_E_ALLOC,
	CHILD_E_TIMEOUT,
	CHILD_E_CREATE,
};

/*
 * Plain atomics work across processes only if they are lock-free: a lock
 * behind an _Atomic would be a process-local table, not the shared word.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "shared-memory atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shared-memory atomics must be lock-free");

struct ring_entry {
	uint32_t off;
	uint32_t len;
};

/* Head and tail on lines of their own, so producer and consumer do not
 * bounce one line for every frame. */
struct ring {
	_Alignas(HEAP_CACHE_LINE) _Atomic uint32_t head; /* written by the producer */
	_Alignas(HEAP_CACHE_LINE) _Atomic uint32_t tail; /* written by the consumer */
	_Alignas(HEAP_CACHE_LINE) struct ring_entry slot[RING_SLOTS];
};

#define REPORT_BLOCKS 4u

/* Written by the child before it exits; read by the parent after waitpid(). */
struct child_report {
	uint64_t frames;
	uint64_t replies;
	uint64_t enomem;
	uint64_t ring_full;
	uint64_t bad_pattern;
	uint64_t bad_free;
	uint64_t bad_alloc;
	uint64_t ops;
	uint32_t block_off[REPORT_BLOCKS];
	uint32_t block_len[REPORT_BLOCKS];
};

struct shared_ctl {
	_Alignas(HEAP_CACHE_LINE) _Atomic uint32_t stop;
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t child_ops;
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t child_base;
	struct child_report report;
};

/* One memfd: [heap footprint][control][forward ring][reply ring]. */
struct region {
	int fd;
	size_t len;
	size_t ctl_off;
	size_t fwd_off;
	size_t rep_off;
	char *base;
	struct iop_heap *heap;
	struct shared_ctl *ctl;
	struct ring *fwd;
	struct ring *rep;
};

struct rng {
	uint64_t s;
};

struct blk {
	void *p;
	uint32_t len;
	uint64_t tag;
};

/* A bounded set of live blocks that one process allocates and frees. */
struct live_set {
	struct blk b[LIVE_MAX];
	unsigned n;
	uint64_t owner;
	uint64_t next;
	uint32_t last_len; /* size of the last allocation tried */
};

/* Set only in the parent while a child lives, for the exit and alarm paths. */
static volatile pid_t live_child;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* splitmix64's finaliser: distinct inputs give unrelated-looking words. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = mix64(seed) | 1;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)((rng_next(r) >> 32) % n);
}

/*
 * Log-uniform in [lo, hi] (both powers of two): pick an octave, then a size
 * within it, so small frames are as common per octave as large ones, as
 * real traffic mixes headers and payloads.
 */
static uint32_t rng_size(struct rng *r, uint32_t lo, uint32_t hi)
{
	uint32_t octaves = (uint32_t)__builtin_ctz(hi) - (uint32_t)__builtin_ctz(lo);
	uint32_t base = lo << rng_below(r, octaves);

	return base + rng_below(r, base + 1);
}

/* ------------------------------------------------------------------------ */
/* Patterns: each block carries its tag, so a block handed out twice, moved
 * by the wrong offset or freed too early shows up as a mismatch.           */

static uint64_t line_word(uint64_t tag, size_t off)
{
	return mix64(tag ^ ((uint64_t)off << 1));
}

/* Line starts, and the last 8 bytes apart from them (len >= 16). */
static void pattern_write(void *p, uint32_t len, uint64_t tag)
{
	char *b = p;
	uint64_t head[2] = { tag, mix64(tag) ^ len };
	uint64_t tail = ~line_word(tag, len);

	memcpy(b, head, sizeof(head));
	for (size_t off = HEAP_CACHE_LINE; off + 2 * sizeof(uint64_t) <= len;
	     off += HEAP_CACHE_LINE) {
		uint64_t w = line_word(tag, off);

		memcpy(b + off, &w, sizeof(w));
	}
	memcpy(b + len - sizeof(tail), &tail, sizeof(tail));
}

static bool pattern_ok(const void *p, uint32_t len, uint64_t tag)
{
	const char *b = p;
	uint64_t head[2];
	uint64_t tail;

	memcpy(head, b, sizeof(head));
	if (head[0] != tag || head[1] != (mix64(tag) ^ len))
		return false;
	for (size_t off = HEAP_CACHE_LINE; off + 2 * sizeof(uint64_t) <= len;
	     off += HEAP_CACHE_LINE) {
		uint64_t w;

		memcpy(&w, b + off, sizeof(w));
		if (w != line_word(tag, off))
			return false;
	}
	memcpy(&tail, b + len - sizeof(tail), sizeof(tail));
	return tail == ~line_word(tag, len);
}

/* ------------------------------------------------------------------------ */
/* SPSC ring of offsets                                                       */

static bool ring_push(struct ring *r, struct ring_entry e)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* acquire: the consumer has finished reading the slot we overwrite. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail == RING_SLOTS)
		return false;
	r->slot[head % RING_SLOTS] = e;
	/* release: the entry, and the frame it names, before the new head. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return true;
}

static bool ring_pop(struct ring *r, struct ring_entry *e)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (head == tail)
		return false;
	*e = r->slot[tail % RING_SLOTS];
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

/* ------------------------------------------------------------------------ */
/* The shared region                                                          */

static void region_bind(struct region *r, char *base)
{
	r->base = base;
	r->ctl = (struct shared_ctl *)(base + r->ctl_off);
	r->fwd = (struct ring *)(base + r->fwd_off);
	r->rep = (struct ring *)(base + r->rep_off);
}

static char *region_map(const struct region *r)
{
	char *m = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);

	return m == MAP_FAILED ? NULL : m;
}

/*
 * A memfd holding a heap of heap_bytes (built here when build is set, else
 * left for a child to build) followed by the control block and two rings.
 * A fresh memfd reads as zeroes, so the rings start empty.
 */
static int region_create(struct region *r, size_t heap_bytes, const struct iop_heap_opts *opts,
			 bool build)
{
	size_t foot = iop_heap_footprint(heap_bytes, opts);
	char *m;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (foot == 0)
		return -errno;
	r->ctl_off = align_up(foot, PAGE_BYTES);
	r->fwd_off = align_up(r->ctl_off + sizeof(struct shared_ctl), PAGE_BYTES);
	r->rep_off = align_up(r->fwd_off + sizeof(struct ring), PAGE_BYTES);
	r->len = align_up(r->rep_off + sizeof(struct ring), PAGE_BYTES);
	r->fd = memfd_create("iop-heap-processes", MFD_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (ftruncate(r->fd, (off_t)r->len) != 0)
		return -errno;
	m = region_map(r);
	if (m == NULL)
		return -errno;
	region_bind(r, m);
	if (build) {
		r->heap = iop_heap_create_in(m, r->len, heap_bytes, opts);
		if (r->heap == NULL)
			return -errno;
	}
	return 0;
}

static void region_destroy(struct region *r)
{
	if (r->heap != NULL)
		iop_heap_destroy(r->heap);
	if (r->base != NULL)
		munmap(r->base, r->len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* ------------------------------------------------------------------------ */
/* Children                                                                   */

typedef int (*child_fn)(struct region *r, uint64_t seed);

/*
 * In the child: map the memfd anew, prove the address differs, drop the
 * inherited mapping and attach the heap (if the parent built one) through
 * the new one only.
 */
static int child_main(const struct region *inherited, pid_t ppid, child_fn fn, uint64_t seed)
{
	struct region mine = *inherited;
	char *m;

	signal(SIGALRM, SIG_DFL);
	/* A parent that dies (failed assertion, meson timeout) takes us along;
	 * the ppid check closes the window before prctl() took effect. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != ppid)
		return CHILD_E_SETUP;
	alarm(CHILD_ALARM_S);
	m = region_map(inherited);
	if (m == NULL)
		return CHILD_E_SETUP;
	if (m == inherited->base)
		return CHILD_E_SAME_ADDR;
	if (munmap(inherited->base, inherited->len) != 0)
		return CHILD_E_SETUP;
	region_bind(&mine, m);
	atomic_store(&mine.ctl->child_base, (uint64_t)(uintptr_t)m);
	if (inherited->heap != NULL) {
		mine.heap = iop_heap_attach(m);
		if (mine.heap == NULL)
			return CHILD_E_ATTACH;
	}
	return fn(&mine, seed);
}

static pid_t child_start(const struct region *r, child_fn fn, uint64_t seed)
{
	pid_t ppid = getpid();
	pid_t pid;

	/* Unflushed output would be printed twice. */
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(child_main(r, ppid, fn, seed));
	if (pid > 0)
		live_child = pid;
	return pid;
}

static void child_kill(void)
{
	pid_t pid = live_child;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		live_child = 0;
	}
}

/* Without reaping it, so that child_reap() still gets the status. */
static bool child_exited(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == pid;
}

/* The exit status, or -1 if the child died of a signal or was killed at the
 * deadline (a hung child must not hang the test). */
static int child_reap(pid_t pid, uint64_t deadline)
{
	int st;

	for (;;) {
		pid_t got = waitpid(pid, &st, WNOHANG);

		if (got == pid)
			break;
		if (got < 0 && errno != EINTR) {
			live_child = 0;
			return -1;
		}
		if (now_ns() > deadline) {
			fprintf(stderr, "child %d still running: killed\n", (int)pid);
			child_kill();
			return -1;
		}
		sleep_us(1000);
	}
	live_child = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "child %d died of signal %d\n", (int)pid, WTERMSIG(st));
	return -1;
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_heap_processes: hung, killing the child\n";
	pid_t pid = live_child;
	ssize_t n;

	(void)sig;
	if (pid > 0)
		kill(pid, SIGKILL);
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(125);
}

/* Any test starts with no child left over from one that failed. */
static uint64_t test_begin(void)
{
	child_kill();
	alarm(PARENT_ALARM_S);
	return now_ns() + (uint64_t)TEST_DEADLINE_S * NSEC_PER_SEC;
}

static void test_end(void)
{
	child_kill();
	alarm(0);
}

static void assert_heap_idle(const struct iop_heap *h)
{
	struct iop_heap_stats s;
	char why[160];
	int rc;

	CU_ASSERT_EQUAL(iop_heap_stats(h, &s), 0);
	CU_ASSERT_EQUAL(s.bytes_in_use, 0);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	CU_ASSERT_EQUAL(s.largest_free, s.heap_bytes);
	CU_ASSERT_EQUAL(s.refused_frees, 0);
	rc = iop_heap_check_report(h, why, sizeof(why));
	if (rc != 0)
		fprintf(stderr, "iop_heap_check: %d (%s)\n", rc, why);
	CU_ASSERT_EQUAL(rc, 0);
}

/* ------------------------------------------------------------------------ */
/* Test 1: frames allocated in one process, freed in the other                */

struct mover {
	struct region *r;
	struct rng rng;
	uint64_t sent;     /* forward frames posted */
	uint64_t received; /* frames taken off the incoming ring */
	uint64_t enomem;
	uint64_t ring_full;
	uint64_t bad_pattern;
	uint64_t bad_free;
	uint64_t bad_alloc;
	bool pending;
	struct ring_entry out;
};

static void *frame_at(const struct region *r, uint32_t off)
{
	return iop_heap_offset_to_ptr(r->heap, off);
}

/* Check and free one incoming frame; the ring is FIFO, so its tag is known. */
static void take_frame(struct mover *m, struct ring_entry e, uint64_t tag)
{
	void *p = frame_at(m->r, e.off);

	if (p == NULL || !pattern_ok(p, e.len, tag))
		m->bad_pattern++;
	if (p != NULL && iop_heap_free(m->r->heap, p, e.len) != 0)
		m->bad_free++;
	m->received++;
}

static unsigned drain(struct mover *m, struct ring *in, uint64_t kind, unsigned max)
{
	struct ring_entry e;
	unsigned n = 0;

	while (n < max && ring_pop(in, &e)) {
		take_frame(m, e, kind | m->received);
		n++;
	}
	return n;
}

/*
 * Post frame number m->sent of a random size on out. Memory or ring space
 * running out is back-pressure: keep the frame (or the wish for one) and
 * return false, so the caller serves its incoming ring and comes back.
 */
static bool post_one(struct mover *m, struct ring *out, uint64_t kind, uint32_t lo, uint32_t hi)
{
	if (!m->pending) {
		uint32_t len = rng_size(&m->rng, lo, hi);
		void *p = iop_heap_alloc(m->r->heap, len);

		if (p == NULL) {
			if (errno == ENOMEM)
				m->enomem++;
			else
				m->bad_alloc++;
			return false;
		}
		pattern_write(p, len, kind | m->sent);
		m->out.len = len;
		if (iop_heap_ptr_to_offset(m->r->heap, p, &m->out.off) != 0) {
			m->bad_alloc++;
			return false;
		}
		m->pending = true;
	}
	if (!ring_push(out, m->out)) {
		m->ring_full++;
		return false;
	}
	m->pending = false;
	m->sent++;
	return true;
}

static bool mover_failed(const struct mover *m)
{
	return m->bad_pattern != 0 || m->bad_free != 0 || m->bad_alloc != 0;
}

/* The child: consume forward frames, answer each with a reply frame. */
static int child_mirror(struct region *r, uint64_t seed)
{
	struct mover m = { .r = r };
	uint64_t deadline = now_ns() + (uint64_t)TEST_DEADLINE_S * NSEC_PER_SEC;
	struct child_report *rep = &r->ctl->report;

	rng_seed(&m.rng, seed);
	while ((m.received < MOVE_FRAMES || m.sent < MOVE_FRAMES) && !mover_failed(&m)) {
		unsigned moved = drain(&m, r->fwd, TAG_FRAME, POP_BATCH);

		/* One reply per frame received: replies never outrun frames. */
		while (m.sent < m.received && post_one(&m, r->rep, TAG_REPLY, REPLY_MIN, REPLY_MAX))
			moved++;
		if (moved == 0) {
			if (now_ns() > deadline)
				break;
			sched_yield();
		}
	}
	iop_heap_cache_flush(r->heap); /* _exit() next: nothing else gives it back */
	rep->frames = m.received;
	rep->replies = m.sent;
	rep->enomem = m.enomem;
	rep->ring_full = m.ring_full;
	rep->bad_pattern = m.bad_pattern;
	rep->bad_free = m.bad_free;
	rep->bad_alloc = m.bad_alloc;
	if (m.bad_pattern != 0)
		return CHILD_E_PATTERN;
	if (m.bad_free != 0)
		return CHILD_E_FREE;
	if (m.bad_alloc != 0)
		return CHILD_E_ALLOC;
	if (m.received != MOVE_FRAMES || m.sent != MOVE_FRAMES)
		return CHILD_E_TIMEOUT;
	return CHILD_OK;
}

/* The parent: post forward frames, take the replies back. Gives up early
 * if the child is gone: nobody would free the frames. */
static bool parent_move(struct mover *m, pid_t pid, uint64_t deadline)
{
	while ((m->sent < MOVE_FRAMES || m->received < MOVE_FRAMES) && !mover_failed(m)) {
		unsigned moved = drain(m, m->r->rep, TAG_REPLY, RING_SLOTS);

		if (m->sent < MOVE_FRAMES &&
		    post_one(m, m->r->fwd, TAG_FRAME, FRAME_MIN, FRAME_MAX))
			moved++;
		if (moved == 0) {
			if (now_ns() > deadline || child_exited(pid))
				return false;
			sched_yield();
		}
	}
	return !mover_failed(m);
}

static void test_alloc_in_parent_free_in_child(void)
{
	uint64_t deadline = test_begin();
	uint64_t seed = iop_test_seed();
	struct child_report *rep;
	struct region r;
	struct mover m;
	uint64_t t0;
	pid_t pid;
	int status;
	bool ok;

	CU_ASSERT_EQUAL_FATAL(region_create(&r, HEAP_BYTES, NULL, true), 0);
	memset(&m, 0, sizeof(m));
	m.r = &r;
	rng_seed(&m.rng, seed);
	t0 = now_ns();
	pid = child_start(&r, child_mirror, seed ^ 0x6368696c64ull);
	CU_ASSERT_FATAL(pid > 0);
	ok = parent_move(&m, pid, deadline);
	CU_ASSERT(ok);
	/* After a failure, take the child's status if it has one, else kill it. */
	status = child_reap(pid, ok ? deadline : 0);
	t0 = now_ns() - t0;
	rep = &r.ctl->report;

	CU_ASSERT_EQUAL(status, CHILD_OK);
	CU_ASSERT_NOT_EQUAL(atomic_load(&r.ctl->child_base), 0);
	CU_ASSERT_NOT_EQUAL(atomic_load(&r.ctl->child_base), (uint64_t)(uintptr_t)r.base);
	CU_ASSERT_EQUAL(m.sent, MOVE_FRAMES);
	CU_ASSERT_EQUAL(m.received, MOVE_FRAMES);
	CU_ASSERT_EQUAL(m.bad_pattern, 0);
	CU_ASSERT_EQUAL(m.bad_free, 0);
	CU_ASSERT_EQUAL(m.bad_alloc, 0);
	CU_ASSERT_EQUAL(rep->frames, MOVE_FRAMES);
	CU_ASSERT_EQUAL(rep->replies, MOVE_FRAMES);
	iop_heap_cache_flush(r.heap); /* the replies this thread freed */
	assert_heap_idle(r.heap);
	printf("\n  alloc_in_parent_free_in_child: %llu frames + %llu replies moved in %.2f s, "
	       "ENOMEM retries parent %llu child %llu, ring full parent %llu child %llu, "
	       "parent at %p child at %#llx (status %d)\n",
	       (unsigned long long)m.sent, (unsigned long long)m.received, (double)t0 / 1e9,
	       (unsigned long long)m.enomem, (unsigned long long)rep->enomem,
	       (unsigned long long)m.ring_full, (unsigned long long)rep->ring_full, (void *)r.base,
	       (unsigned long long)atomic_load(&r.ctl->child_base), status);
	region_destroy(&r);
	test_end();
}

/* ------------------------------------------------------------------------ */
/* Test 2: a child stopped anywhere, even inside alloc or free                */

static int live_alloc(struct iop_heap *h, struct live_set *l, struct rng *rng)
{
	uint32_t len = rng_size(rng, BLOCK_MIN, BLOCK_MAX);
	void *p = iop_heap_alloc(h, len);
	struct blk *b;

	l->last_len = len;
	if (p == NULL)
		return errno == ENOMEM ? -ENOMEM : -EIO;
	b = &l->b[l->n++];
	b->p = p;
	b->len = len;
	b->tag = l->owner | l->next++;
	pattern_write(p, len, b->tag);
	return 0;
}

/* -EILSEQ: somebody else wrote into our block, so it was handed out twice. */
static int live_free(struct iop_heap *h, struct live_set *l, unsigned i)
{
	struct blk b = l->b[i];
	int rc;

	l->b[i] = l->b[--l->n];
	if (!pattern_ok(b.p, b.len, b.tag))
		return -EILSEQ;
	rc = iop_heap_free(h, b.p, b.len);
	return rc;
}

static int live_step(struct iop_heap *h, struct live_set *l, struct rng *rng)
{
	if (l->n == 0 || (l->n < LIVE_MAX && (rng_next(rng) & 1)))
		return live_alloc(h, l, rng);
	return live_free(h, l, rng_below(rng, l->n));
}

static int live_free_all(struct iop_heap *h, struct live_set *l)
{
	int first = 0;

	while (l->n != 0) {
		int rc = live_free(h, l, l->n - 1);

		if (rc != 0 && first == 0)
			first = rc;
	}
	return first;
}

/* The child: churn as fast as it can until told to stop. */
static int child_churn(struct region *r, uint64_t seed)
{
	struct live_set l = { .owner = TAG_CHILD };
	struct child_report *rep = &r->ctl->report;
	uint64_t ops = 0;
	struct rng rng;
	int rc;

	rng_seed(&rng, seed);
	while (!atomic_load_explicit(&r->ctl->stop, memory_order_acquire)) {
		rc = live_step(r->heap, &l, &rng);
		if (rc == -ENOMEM) {
			rep->enomem++;
		} else if (rc == -EILSEQ) {
			rep->bad_pattern++;
			break;
		} else if (rc == -EIO) {
			rep->bad_alloc++;
			break;
		} else if (rc != 0) {
			rep->bad_free++;
			break;
		}
		atomic_store_explicit(&r->ctl->child_ops, ++ops, memory_order_relaxed);
	}
	rep->ops = ops;
	rc = live_free_all(r->heap, &l);
	iop_heap_cache_flush(r->heap); /* _exit() next: nothing else gives it back */
	if (rc == -EILSEQ)
		rep->bad_pattern++;
	else if (rc != 0)
		rep->bad_free++;
	if (rep->bad_pattern != 0)
		return CHILD_E_PATTERN;
	if (rep->bad_free != 0)
		return CHILD_E_FREE;
	if (rep->bad_alloc != 0)
		return CHILD_E_ALLOC;
	return CHILD_OK;
}

struct stopper {
	struct region *r;
	pid_t pid;
	struct rng rng;
	struct live_set l;
	unsigned rounds;          /* rounds whose STOP_OPS all completed */
	unsigned mid_op;          /* stops that caught the child in a split or merge */
	uint64_t ops_mid_op;      /* our operations done while it was caught so */
	uint64_t enomem;
	uint64_t enomem_hidden;   /* of those, with a big enough block in the bitmaps */
	uint64_t errors;
	int exited;               /* exit status if the child left early, else -1 */
};

/* Operations in flight in every process, read while only we can run. */
static uint32_t inflight_now(const struct iop_heap *h)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < HEAP_INFLIGHT_SLOTS; i++)
		n += (uint32_t)atomic_load(&h->inflight[i].word);
	return n;
}

/*
 * A refused allocation while the child is stopped: is it only a block held
 * in transit, or was a big enough free block sitting in the bitmaps? The
 * latter means the summaries hid it (the child stopped between a block-word
 * CAS and its summary update): not wrong, but worth knowing how often.
 */
static void note_enomem(struct stopper *s)
{
	struct iop_heap_stats st;

	s->enomem++;
	if (iop_heap_stats(s->r->heap, &st) == 0 &&
	    st.largest_free >= iop_heap_block_size(s->r->heap, s->l.last_len))
		s->enomem_hidden++;
}

static bool stop_child(struct stopper *s)
{
	int st;

	if (kill(s->pid, SIGSTOP) != 0)
		return false;
	/* SIGSTOP is asynchronous; WUNTRACED returns once it really stopped. */
	while (waitpid(s->pid, &st, WUNTRACED) < 0) {
		if (errno != EINTR)
			return false;
	}
	if (WIFSTOPPED(st))
		return true;
	live_child = 0;
	s->exited = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return false;
}

static bool stop_round(struct stopper *s, uint64_t deadline)
{
	bool caught;

	sleep_us(rng_below(&s->rng, STOP_SLEEP_US + 1));
	if (!stop_child(s))
		return false;
	caught = inflight_now(s->r->heap) != 0;
	s->mid_op += caught;
	for (unsigned i = 0; i < STOP_OPS; i++) {
		int rc = live_step(s->r->heap, &s->l, &s->rng);

		if (rc == -ENOMEM)
			note_enomem(s);
		else if (rc != 0)
			s->errors++;
		else
			s->ops_mid_op += caught;
		if ((i & 255) == 0 && now_ns() > deadline)
			break;
	}
	if (kill(s->pid, SIGCONT) != 0 || now_ns() > deadline)
		return false;
	s->rounds++;
	return true;
}

/* The child has run at least one operation: the stops hit a busy child. */
static bool child_running(const struct region *r, pid_t pid, uint64_t deadline)
{
	while (atomic_load(&r->ctl->child_ops) == 0) {
		if (now_ns() > deadline || child_exited(pid))
			return false;
		sleep_us(100);
	}
	return true;
}

static void test_child_stopped_mid_operation(void)
{
	uint64_t deadline = test_begin();
	struct iop_heap_opts opts = { .enomem_wait_ns = STOP_ENOMEM_WAIT_NS };
	uint64_t seed = iop_test_seed() ^ 0x73746f70ull;
	struct child_report *rep;
	struct stopper s;
	struct region r;
	uint64_t t0;
	int status;

	CU_ASSERT_EQUAL_FATAL(region_create(&r, STOP_HEAP_BYTES, &opts, true), 0);
	memset(&s, 0, sizeof(s));
	s.r = &r;
	s.l.owner = TAG_PARENT;
	s.exited = -1;
	rng_seed(&s.rng, seed);
	t0 = now_ns();
	s.pid = child_start(&r, child_churn, seed ^ 0x6368696c64ull);
	CU_ASSERT_FATAL(s.pid > 0);
	CU_ASSERT(child_running(&r, s.pid, deadline));
	while (s.rounds < STOP_ROUNDS && stop_round(&s, deadline))
		;
	CU_ASSERT_EQUAL(s.rounds, STOP_ROUNDS);
	CU_ASSERT_EQUAL(s.exited, -1);
	CU_ASSERT_EQUAL(s.errors, 0);
	CU_ASSERT_EQUAL(live_free_all(r.heap, &s.l), 0);

	atomic_store_explicit(&r.ctl->stop, 1, memory_order_release);
	/* Harmless if it is running; needed if a round gave up while stopped. */
	kill(s.pid, SIGCONT);
	status = s.exited >= 0 ? s.exited : child_reap(s.pid, deadline);
	t0 = now_ns() - t0;
	rep = &r.ctl->report;
	CU_ASSERT_EQUAL(status, CHILD_OK);
	CU_ASSERT_NOT_EQUAL(atomic_load(&r.ctl->child_base), (uint64_t)(uintptr_t)r.base);
	iop_heap_cache_flush(r.heap);
	assert_heap_idle(r.heap);
	printf("\n  child_stopped_mid_operation: %u/%u rounds of %u ops in %.2f s, "
	       "stops mid-operation %u (our ops done meanwhile %llu), "
	       "ENOMEM parent %llu (%llu with a big enough free block hidden) child %llu, "
	       "child ops %llu (status %d)\n",
	       s.rounds, STOP_ROUNDS, STOP_OPS, (double)t0 / 1e9, s.mid_op,
	       (unsigned long long)s.ops_mid_op, (unsigned long long)s.enomem,
	       (unsigned long long)s.enomem_hidden, (unsigned long long)rep->enomem,
	       (unsigned long long)rep->ops, status);
	region_destroy(&r);
	test_end();
}

/* ------------------------------------------------------------------------ */
/* Test 3: attach                                                             */

static void *memfd_map(size_t len, int *fd)
{
	void *m;

	*fd = memfd_create("iop-heap-foreign", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)len) != 0)
		return NULL;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void assert_attach_refused(void *m)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(iop_heap_attach(m));
	CU_ASSERT_EQUAL(errno, EPROTO);
}

static void attach_rejects_garbage(void)
{
	size_t len = iop_heap_footprint(HEAP_BYTES, NULL);
	struct iop_heap *h;
	struct rng rng;
	char *m;
	char *again;
	int fd;

	m = memfd_map(len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	rng_seed(&rng, iop_test_seed());
	for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
		uint64_t w = rng_next(&rng);

		memcpy(m + i, &w, sizeof(w));
	}
	assert_attach_refused(m);
	memset(m, 0, len);
	assert_attach_refused(m);

	/* The right magic over a layout this code does not know is foreign too. */
	h = iop_heap_create_in(m, len, HEAP_BYTES, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->layout_version++;
	again = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(again != MAP_FAILED);
	assert_attach_refused(again);
	h->layout_version--;
	CU_ASSERT_PTR_EQUAL(iop_heap_attach(again), again);

	errno = 0;
	CU_ASSERT_PTR_NULL(iop_heap_attach(NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	munmap(again, len);
	munmap(m, len);
	close(fd);
}

/* In one process: forgetting the creator's handle leaves a heap to attach. */
static void attach_after_destroy_here(void)
{
	size_t len = iop_heap_footprint(HEAP_BYTES, NULL);
	struct iop_heap *h;
	void *p;
	char *m;
	int fd;

	m = memfd_map(len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	h = iop_heap_create_in(m, len, HEAP_BYTES, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	p = iop_heap_alloc(h, 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	iop_heap_destroy(h);
	h = iop_heap_attach(m);
	CU_ASSERT_PTR_EQUAL_FATAL(h, m);
	CU_ASSERT_EQUAL(iop_heap_free(h, p, 1000), 0);
	iop_heap_cache_flush(h);
	assert_heap_idle(h);
	iop_heap_destroy(h);
	munmap(m, len);
	close(fd);
}

/* The creator child: build, allocate, forget the handle, exit. */
static int child_create(struct region *r, uint64_t seed)
{
	struct child_report *rep = &r->ctl->report;
	struct iop_heap *h = iop_heap_create_in(r->base, r->ctl_off, HEAP_BYTES, NULL);

	if (h == NULL)
		return CHILD_E_CREATE;
	for (unsigned i = 0; i < REPORT_BLOCKS; i++) {
		uint32_t len = BLOCK_MIN << (3 * i);
		void *p = iop_heap_alloc(h, len);

		if (p == NULL)
			return CHILD_E_ALLOC;
		pattern_write(p, len, seed + i);
		if (iop_heap_ptr_to_offset(h, p, &rep->block_off[i]) != 0)
			return CHILD_E_ALLOC;
		rep->block_len[i] = len;
	}
	iop_heap_destroy(h);
	return CHILD_OK;
}

/* Across processes: the creator is gone entirely before anyone attaches. */
static void attach_after_creator_exited(uint64_t deadline)
{
	uint64_t seed = iop_test_seed();
	struct child_report *rep;
	struct iop_heap_stats st;
	uint64_t bytes = 0;
	struct region r;
	struct iop_heap *h;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(region_create(&r, HEAP_BYTES, NULL, false), 0);
	assert_attach_refused(r.base);
	pid = child_start(&r, child_create, seed);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(child_reap(pid, deadline), CHILD_OK);
	CU_ASSERT_NOT_EQUAL(atomic_load(&r.ctl->child_base), (uint64_t)(uintptr_t)r.base);
	h = iop_heap_attach(r.base);
	CU_ASSERT_PTR_EQUAL_FATAL(h, r.base);
	r.heap = h;
	rep = &r.ctl->report;
	CU_ASSERT_EQUAL(iop_heap_stats(h, &st), 0);
	for (unsigned i = 0; i < REPORT_BLOCKS; i++) {
		void *p = iop_heap_offset_to_ptr(h, rep->block_off[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT(pattern_ok(p, rep->block_len[i], seed + i));
		CU_ASSERT_EQUAL(iop_heap_free(h, p, rep->block_len[i]), 0);
		bytes += iop_heap_block_size(h, rep->block_len[i]);
	}
	CU_ASSERT_EQUAL(st.bytes_in_use, bytes);
	CU_ASSERT_EQUAL(st.blocks_in_use, REPORT_BLOCKS);
	iop_heap_cache_flush(h);
	assert_heap_idle(h);
	region_destroy(&r);
}

static void test_attach_rejects_foreign_memory(void)
{
	uint64_t deadline = test_begin();

	attach_rejects_garbage();
	attach_after_destroy_here();
	attach_after_creator_exited(deadline);
	printf("\n  attach_rejects_foreign_memory: garbage, zeroes and a foreign layout refused "
	       "with EPROTO; attach after destroy and after the creator exited worked\n");
	test_end();
}

/* ------------------------------------------------------------------------ */

static const struct iop_test_case process_tests[] = {
	{ "alloc_in_parent_free_in_child", test_alloc_in_parent_free_in_child },
	{ "child_stopped_mid_operation", test_child_stopped_mid_operation },
	{ "attach_rejects_foreign_memory", test_attach_rejects_foreign_memory },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_processes", process_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	/* A failed fatal assertion leaves the test function early: no orphans. */
	atexit(child_kill);
	return iop_test_main(argc, argv, suites);
}
