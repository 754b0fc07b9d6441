/* SPDX-License-Identifier: BSD-3-Clause */
/* Each test in a child process: what isolate.h says. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>

#include "isolate.h"

/*
 * The report, one line each: "F\t<line>\t<file>\t<condition>" per failure
 * CUnit recorded, "A\t<n>" for the assertions that held (counted in the
 * parent's summary as if made there), then "E" once the test has returned. A child that stops
 * before the "E" did not finish its test, whatever its exit status says.
 */
#define REPORT_MAX (64u << 10)

static char **child_argv;   /* the program's argv, room for what each child adds */
static int child_base;      /* entries of it that every child shares */
static char seed_arg[16];
static unsigned timeout;

int isolate_setup(int argc, char *const *argv, uint32_t seed, unsigned timeout_s)
{
	/* argv, "--seed" N, "-s" SUITE, "-t" TEST, "--child-fd" FD, NULL */
	child_argv = calloc((size_t)argc + 9, sizeof(*child_argv));
	if (child_argv == NULL)
		return -ENOMEM;
	for (int i = 0; i < argc; i++)
		child_argv[i] = argv[i];
	snprintf(seed_arg, sizeof(seed_arg), "0x%08x", seed);
	child_argv[argc] = (char *)"--seed";
	child_argv[argc + 1] = seed_arg;
	child_base = argc + 2;
	timeout = timeout_s;
	return 0;
}

/* One failure in the parent's record of the current test, as CUnit would have made it. */
static void record(unsigned line, const char *file, const char *condition)
{
	CU_assertImplementation(CU_FALSE, line, condition, file, "", CU_FALSE);
}

static void recordf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void recordf(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* On the console at once too: the run may have more to say before CUnit's summary. */
	fprintf(stderr, "iop-conform: %s\n", msg);
	record(0, "iop-conform", msg);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Read the child's report until it closes the pipe, or until the deadline
 * (0: none). @return bytes read (at most REPORT_MAX kept), or -ETIMEDOUT.
 */
static long read_report(int fd, char *buf, uint64_t deadline, bool *cut)
{
	size_t n = 0;

	*cut = false;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait = -1;
		char sink[4096];
		ssize_t got;

		if (deadline != 0) {
			uint64_t t = now_ms();

			if (t >= deadline)
				return -ETIMEDOUT;
			wait = (int)(deadline - t);
		}
		if (poll(&p, 1, wait) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p.revents == 0)
			continue; /* the deadline, seen at the top */
		/* Past REPORT_MAX the rest is read and dropped, so the child never blocks on us. */
		if (n < REPORT_MAX)
			got = read(fd, buf + n, REPORT_MAX - n);
		else
			got = read(fd, sink, sizeof(sink));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return (long)n;
		if (n < REPORT_MAX)
			n += (size_t)got;
		else
			*cut = true;
	}
}

/* Record the failures of a report; @return whether it says the test ran to its end. */
static bool replay(char *buf, size_t n)
{
	bool ended = false;
	char *line = buf, *end = buf + n;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *file, *cond;

		if (nl == NULL)
			break; /* a line the child did not finish writing */
		*nl = '\0';
		if (strcmp(line, "E") == 0) {
			ended = true;
		} else if (line[0] == 'A' && line[1] == '\t') {
			for (unsigned long held = strtoul(line + 2, NULL, 10); held > 0; held--)
				CU_assertImplementation(CU_TRUE, 0, "", "", "", CU_FALSE);
		} else if (line[0] == 'F' && line[1] == '\t' &&
			   (file = strchr(line + 2, '\t')) != NULL &&
			   (cond = strchr(file + 1, '\t')) != NULL) {
			*file++ = '\0';
			*cond++ = '\0';
			record((unsigned)strtoul(line + 2, NULL, 10), file, cond);
		}
		line = nl + 1;
	}
	return ended;
}

/* How the child ended, for the failure a crash or a hang is. */
static void judge_exit(const char *suite, const char *test, int status, bool ended,
		       bool timed_out)
{
	if (timed_out) {
		recordf("%s/%s did not finish within %u s: its process was killed", suite, test,
			timeout);
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *abbrev = sigabbrev_np(sig);

		recordf("%s/%s: its process was killed by signal %d (SIG%s, %s)%s", suite, test,
			sig, abbrev != NULL ? abbrev : "?", strsignal(sig),
			ended ? " after the test returned" : "");
	} else if (!ended) {
		recordf("%s/%s: its process exited with status %d before the test returned", suite,
			test, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (WEXITSTATUS(status) != 0) {
		/* A sanitizer's report at exit (a leak), or an exit handler that failed. */
		recordf("%s/%s: its process exited with status %d after the test (see its output)",
			suite, test, WEXITSTATUS(status));
	}
}

void isolate_run(void)
{
	const char *suite = CU_get_current_suite()->pName;
	const char *test = CU_get_current_test()->pName;
	char fd_arg[16], *buf;
	int fds[2], status = 0, i = child_base;
	bool cut = false, ended;
	uint64_t deadline;
	long n;
	pid_t pid;

	buf = malloc(REPORT_MAX);
	if (buf == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		recordf("%s/%s: no pipe to run it in a child: %s", suite, test, strerror(errno));
		free(buf);
		return;
	}
	snprintf(fd_arg, sizeof(fd_arg), "%d", fds[1]);
	child_argv[i++] = (char *)"-s";
	child_argv[i++] = (char *)suite;
	child_argv[i++] = (char *)"-t";
	child_argv[i++] = (char *)test;
	child_argv[i++] = (char *)"--child-fd";
	child_argv[i++] = fd_arg;
	child_argv[i] = NULL;
	/* What this process printed so far comes before what the child prints. */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* A crash is reported by name; --no-fork runs it where a debugger can see it. */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		if (fcntl(fds[1], F_SETFD, 0) == 0)
			execv("/proc/self/exe", child_argv);
		fprintf(stderr, "iop-conform: cannot run %s/%s in a child: %s\n", suite, test,
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		recordf("%s/%s: cannot fork: %s", suite, test, strerror(errno));
		close(fds[0]);
		free(buf);
		return;
	}
	deadline = timeout != 0 ? now_ms() + timeout * 1000ull : 0;
	n = read_report(fds[0], buf, deadline, &cut);
	if (n == -ETIMEDOUT)
		kill(pid, SIGKILL);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ended = n >= 0 && replay(buf, (size_t)n);
	if (cut)
		recordf("%s/%s: more failures than the report holds; only the first shown", suite,
			test);
	judge_exit(suite, test, status, ended, n == -ETIMEDOUT);
	free(buf);
}

/* A report field: no tab or newline, which would end it. */
static void field(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
}

int isolate_report(int fd)
{
	FILE *f = fdopen(fd, "w");
	const CU_RunSummary *s;
	int rc;

	if (f == NULL)
		return -errno;
	for (CU_pFailureRecord r = CU_get_failure_list(); r != NULL; r = r->pNext) {
		fprintf(f, "F\t%u\t", r->uiLineNumber);
		field(f, r->strFileName);
		fputc('\t', f);
		field(f, r->strCondition);
		fputc('\n', f);
	}
	s = CU_get_run_summary();
	fprintf(f, "A\t%u\n", s->nAsserts - s->nAssertsFailed);
	fputs("E\n", f);
	rc = fclose(f);
	return rc == 0 ? 0 : -errno;
}
