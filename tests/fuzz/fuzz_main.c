/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stand-in for libFuzzer's driver, so the heap fuzzer also runs where
 * libFuzzer is not available (gcc builds, sanitizer builds, the unit suite).
 *
 *   fuzz-heap-replay FILE|DIR...   run each file (each file in DIR) as one input
 *   fuzz-heap-replay [-n N]        N random inputs (default 20000) of up to
 *                                  4096 bytes, seeded from $IOP_TEST_SEED or
 *                                  the time; the seed is printed
 *
 * A mismatch aborts inside LLVMFuzzerTestOneInput. The random input that did
 * it is then written to crash-heap-<seed>-<i> (in $IOP_FUZZ_CRASH_DIR, or the
 * current directory), so it can be replayed and minimised with libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Which harness this driver runs, for its messages; meson sets it per program. */
#ifndef FUZZ_NAME
#define FUZZ_NAME "fuzz_heap"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RANDOM_LEN 4096u

/* What the abort handler needs: set before each input, read in the handler. */
static const uint8_t *cur_data;
static size_t cur_size;
static char cur_name[4096];
static int cur_is_file; /* the input is a file already: name it, write nothing */

static void write_str(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

/* Async-signal-safe: open/write/close only. */
static void on_abort(int sig)
{
	if (cur_is_file) {
		write_str(FUZZ_NAME ": failing input: ");
		write_str(cur_name);
		write_str("\n");
	} else if (cur_data != NULL) {
		int fd = open(cur_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			ssize_t r = write(fd, cur_data, cur_size);

			(void)r;
			close(fd);
			write_str(FUZZ_NAME ": failing input written to ");
			write_str(cur_name);
			write_str("\n");
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint64_t pick_seed(void)
{
	const char *env = getenv("IOP_TEST_SEED");

	if (env != NULL && *env != '\0')
		return strtoull(env, NULL, 0);
	return (uint64_t)time(NULL);
}

static unsigned long run_random(unsigned long n)
{
	const char *dir = getenv("IOP_FUZZ_CRASH_DIR");
	uint64_t seed = pick_seed();
	/* xorshift never leaves 0; mix the seed so small seeds differ at once. */
	uint64_t s = (seed ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;

	if (s == 0)
		s = 1;
	printf(FUZZ_NAME ": seed %llu (IOP_TEST_SEED=%llu repeats this run)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	for (unsigned long i = 0; i < n; i++) {
		size_t len = (size_t)(xorshift64(&s) % (MAX_RANDOM_LEN + 1));
		/* Exactly len bytes, as libFuzzer gives: ASan sees any overread. */
		uint8_t *buf = malloc(len != 0 ? len : 1);

		if (buf == NULL) {
			fprintf(stderr, FUZZ_NAME ": out of memory\n");
			exit(2);
		}
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)(xorshift64(&s) >> 24);
		snprintf(cur_name, sizeof(cur_name), "%s%scrash-" FUZZ_NAME "-%llu-%lu",
			 dir != NULL ? dir : "", dir != NULL ? "/" : "",
			 (unsigned long long)seed, i);
		cur_data = buf;
		cur_size = len;
		LLVMFuzzerTestOneInput(buf, len);
		cur_data = NULL;
		free(buf);
	}
	return n;
}

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;

	if (fp == NULL) {
		fprintf(stderr, FUZZ_NAME ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			uint8_t *bigger;

			cap = cap != 0 ? cap * 2 : 4096;
			bigger = realloc(data, cap);
			if (bigger == NULL) {
				fprintf(stderr, FUZZ_NAME ": out of memory reading %s\n", path);
				free(data);
				fclose(fp);
				return -1;
			}
			data = bigger;
		}
		got = fread(data + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	/* Exactly len bytes, as libFuzzer gives: ASan sees any overread. */
	if (len != 0) {
		uint8_t *exact = realloc(data, len);

		if (exact != NULL)
			data = exact;
	}
	snprintf(cur_name, sizeof(cur_name), "%s", path);
	cur_is_file = 1;
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

/* A file, or every regular file in a directory (sorted, so runs repeat). */
static long run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	long count = 0;
	int n;

	if (stat(path, &st) != 0) {
		fprintf(stderr, FUZZ_NAME ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) == 0 ? 1 : -1;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, FUZZ_NAME ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
		if (count >= 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
			count = run_file(full) == 0 ? count + 1 : -1;
		free(names[i]);
	}
	free(names);
	return count;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n N] | FILE|DIR...\n", prog);
}

int main(int argc, char **argv)
{
	unsigned long n = 20000, inputs = 0;
	int files = 0;

	signal(SIGABRT, on_abort);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			char *end;

			n = strtoul(argv[++i], &end, 0);
			if (*end != '\0') {
				usage(argv[0]);
				return 2;
			}
		} else if (argv[i][0] == '-') {
			usage(argv[0]);
			return 2;
		} else {
			long c = run_path(argv[i]);

			if (c < 0)
				return 2;
			inputs += (unsigned long)c;
			files = 1;
		}
	}
	if (!files)
		inputs = run_random(n);
	printf(FUZZ_NAME ": %lu inputs, 0 mismatches\n", inputs);
	return 0;
}
