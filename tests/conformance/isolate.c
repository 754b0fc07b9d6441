/* SPDX-License-Identifier: BSD-3-Clause */
/* Each test in a child process: what isolate.h says. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>

#include "isolate.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/*
 * The report, one line each: "F\t<line>\t<file>\t<condition>" per failure,
 * sent as the child records it (at most ISOLATE_MAX_FAILURES, then one that
 * says how many more), "A\t<n>" for the assertions that held (counted in the
 * parent's summary as if made there), then "E" once the test has returned.
 * A child that stops before the "E" did not finish its test, whatever its
 * exit status says.
 */
#define REPORT_LINE_MAX 1024u

/* How often the parent looks whether its child has exited while it waits. */
#define POLL_SLICE_MS 20

/* ---- the parent ---- */

static char **child_argv;   /* the program's argv, room for what each child adds */
static int child_base;      /* entries of it that every child shares */
static char seed_arg[16];
static unsigned timeout;
static char self[PATH_MAX]; /* this program, or "" to exec child_argv[0] by PATH */

int isolate_setup(int argc, char *const *argv, uint32_t seed, unsigned timeout_s)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	bool loader = false;
	int k = 0;

	/*
	 * The program's own file: argv[0] may be a bare name found by PATH, or
	 * relative to a directory since left. readlink works under valgrind,
	 * which answers it with the program it runs. Run as `ld.so PROGRAM`, it
	 * names the dynamic loader: each child is started through it again.
	 */
	if (n > 0 && (size_t)n < sizeof(self) - 1) {
		const char *base;

		self[n] = '\0';
		base = strrchr(self, '/');
		base = base != NULL ? base + 1 : self;
		loader = strncmp(base, "ld-", 3) == 0 || strncmp(base, "ld.so", 5) == 0;
	} else {
		self[0] = '\0'; /* argv[0], as the shell found it */
	}
	/* [loader], argv, "--seed" N, "-s" SUITE, "-t" TEST, "--child-fd" FD, NULL */
	child_argv = calloc((size_t)argc + 10, sizeof(*child_argv));
	if (child_argv == NULL)
		return -ENOMEM;
	if (loader)
		child_argv[k++] = self;
	for (int i = 0; i < argc; i++)
		child_argv[k++] = argv[i];
	snprintf(seed_arg, sizeof(seed_arg), "0x%08x", seed);
	child_argv[k++] = (char *)"--seed";
	child_argv[k++] = seed_arg;
	child_base = k;
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

/* The report as it comes in, a line at a time. */
struct report {
	char line[REPORT_LINE_MAX];
	size_t n;
	bool overlong;        /* the line being read went past REPORT_LINE_MAX: rest dropped */
	bool any;             /* the child sent something */
	bool ended;           /* its "E" */
	unsigned failures;    /* "F" lines recorded */
	unsigned dropped;     /* "F" lines past what a child may send */
};

/* Record one line of the report. */
static void report_line(struct report *rp, char *line)
{
	char *file, *cond;

	if (strcmp(line, "E") == 0) {
		rp->ended = true;
	} else if (line[0] == 'A' && line[1] == '\t') {
		for (unsigned long held = strtoul(line + 2, NULL, 10); held > 0; held--)
			CU_assertImplementation(CU_TRUE, 0, "", "", "", CU_FALSE);
	} else if (line[0] == 'F' && line[1] == '\t' &&
		   (file = strchr(line + 2, '\t')) != NULL &&
		   (cond = strchr(file + 1, '\t')) != NULL) {
		/* The child's own cap, and the line that says what it left out. */
		if (rp->failures > ISOLATE_MAX_FAILURES) {
			rp->dropped++;
			return;
		}
		*file++ = '\0';
		*cond++ = '\0';
		record((unsigned)strtoul(line + 2, NULL, 10), file, cond);
		rp->failures++;
	}
}

static void report_feed(struct report *rp, const char *p, size_t len)
{
	rp->any = rp->any || len != 0;
	for (; len > 0; p++, len--) {
		if (*p == '\n') {
			rp->line[rp->n] = '\0';
			report_line(rp, rp->line);
			rp->n = 0;
			rp->overlong = false;
		} else if (rp->n < sizeof(rp->line) - 1) {
			rp->line[rp->n++] = *p;
		} else {
			rp->overlong = true;
		}
	}
}

/*
 * Read what is there on fd within wait_ms. @return false at the end of the
 * report (the pipe closed).
 */
static bool report_read(struct report *rp, int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t got;

	if (poll(&p, 1, wait_ms) <= 0)
		return true; /* nothing yet, or EINTR: the caller looks again */
	got = read(fd, buf, sizeof(buf));
	if (got < 0)
		return errno == EINTR || errno == EAGAIN;
	if (got == 0)
		return false;
	report_feed(rp, buf, (size_t)got);
	return true;
}

/* Read what the child has written and not yet been read, without waiting. */
static void drain(struct report *rp, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 0) > 0 && report_read(rp, fd, 0))
		;
}

/* The child could not set up: the run cannot be made (exit status 255). */
static void setup_failed(const char *suite, const char *test) __attribute__((noreturn));

static void setup_failed(const char *suite, const char *test)
{
	fflush(stdout);
	fprintf(stderr,
		"iop-conform: %s/%s: its process could not set up the test (see above); "
		"could not run\n",
		suite, test);
	exit(255);
}

/* How the child ended, for the failure a crash or a hang is. */
static void judge_exit(const char *suite, const char *test, int status, bool ended,
		       bool timed_out)
{
	if (timed_out && ended) {
		recordf("%s/%s: its process did not exit within %u s, after the test returned: "
			"it was killed", suite, test, timeout);
	} else if (timed_out) {
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

/*
 * Read the report and wait for the child, both within the deadline (0:
 * none); past it, the child is killed. A child that has exited ends the
 * report, even if the pipe stays open (a process it started holds it).
 * @return whether it was killed for the deadline.
 */
static bool follow(pid_t pid, int fd, struct report *rp, int *status, uint64_t deadline)
{
	bool open = true, exited = false;

	for (;;) {
		int wait = POLL_SLICE_MS;

		if (!exited) {
			pid_t w = waitpid(pid, status, WNOHANG);

			exited = w == pid || (w < 0 && errno != EINTR);
		}
		if (exited) {
			if (open)
				drain(rp, fd); /* what it wrote before it ended */
			return false;
		}
		if (deadline != 0) {
			uint64_t t = now_ms();

			if (t >= deadline) {
				kill(pid, SIGKILL);
				while (waitpid(pid, status, 0) < 0 && errno == EINTR)
					;
				if (open)
					drain(rp, fd);
				return true;
			}
			if (deadline - t < (uint64_t)wait)
				wait = (int)(deadline - t);
		}
		if (open)
			open = report_read(rp, fd, wait);
		else
			poll(NULL, 0, wait);
	}
}

void isolate_run(void)
{
	const char *suite = CU_get_current_suite()->pName;
	const char *test = CU_get_current_test()->pName;
	struct report *rp;
	char fd_arg[16];
	int fds[2], status = 0, i = child_base;
	bool timed_out;
	pid_t pid;

	rp = calloc(1, sizeof(*rp));
	if (rp == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		recordf("%s/%s: no pipe to run it in a child: %s", suite, test, strerror(errno));
		free(rp);
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
		if (fcntl(fds[1], F_SETFD, 0) == 0) {
			if (self[0] != '\0')
				execv(self, child_argv);
			else
				execvp(child_argv[0], child_argv);
		}
		fprintf(stderr, "iop-conform: cannot run %s/%s in a child: %s\n", suite, test,
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		recordf("%s/%s: cannot fork: %s", suite, test, strerror(errno));
		close(fds[0]);
		free(rp);
		return;
	}
	timed_out = follow(pid, fds[0], rp, &status,
			   timeout != 0 ? now_ms() + timeout * 1000ull : 0);
	close(fds[0]);
	if (!timed_out && !rp->any && WIFEXITED(status) &&
	    WEXITSTATUS(status) == ISOLATE_SETUP_FAILED) {
		free(rp);
		setup_failed(suite, test);
	}
	if (rp->dropped != 0)
		recordf("%s/%s: %u failures more than a report holds, not shown", suite, test,
			rp->dropped);
	judge_exit(suite, test, status, rp->ended, timed_out);
	free(rp);
}

/* ---- the child ---- */

static int report_fd = -1;
static unsigned failures_seen, failures_sent;

/* Make every descriptor from 3 up close-on-exec: what the child inherited stays out of what it starts. */
static void cloexec_inherited(void)
{
	struct rlimit rl;
	int max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
	for (int fd = 3; fd < max; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

void isolate_child(int fd)
{
	cloexec_inherited();
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	report_fd = fd;
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(report_fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the parent is gone: nothing to report to */
		p += w;
		n -= (size_t)w;
	}
}

/* Append s to buf (at *n, of size cap), tabs and newlines made spaces: a field of a line. */
static void field(char *buf, size_t *n, size_t cap, const char *s)
{
	for (; s != NULL && *s != '\0' && *n < cap; s++)
		buf[(*n)++] = *s == '\t' || *s == '\n' ? ' ' : *s;
}

/* One "F" line, in one write (shorter than PIPE_BUF: never interleaved). */
static void send_failure(unsigned line, const char *file, const char *condition)
{
	char buf[REPORT_LINE_MAX];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "F\t%u\t", line);

	field(buf, &n, sizeof(buf) / 4, file);
	buf[n++] = '\t';
	field(buf, &n, sizeof(buf) - 1, condition);
	buf[n++] = '\n';
	write_all(buf, n);
}

CU_BOOL isolate_assert(CU_BOOL value, unsigned int line, const char *condition,
		       const char *file, const char *function, CU_BOOL fatal)
{
	/* Sent before CUnit records it: a fatal one does not return. */
	if (!value && report_fd >= 0) {
		failures_seen++;
		if (failures_sent < ISOLATE_MAX_FAILURES) {
			send_failure(line, file, condition);
			failures_sent++;
		}
	}
	return CU_assertImplementation(value, line, condition, file, function, fatal);
}

int isolate_report(void)
{
	const CU_RunSummary *s = CU_get_run_summary();
	unsigned i = 0, all = failures_seen;
	char buf[128];
	int n;

	/* Failures recorded past isolate_assert() (none in the checks): those not sent yet. */
	for (CU_pFailureRecord r = CU_get_failure_list(); r != NULL; r = r->pNext, i++) {
		if (i < failures_seen)
			continue;
		all++;
		if (failures_sent < ISOLATE_MAX_FAILURES) {
			send_failure(r->uiLineNumber, r->strFileName, r->strCondition);
			failures_sent++;
		}
	}
	if (all > failures_sent) {
		n = snprintf(buf, sizeof(buf),
			     "F\t0\tiop-conform\t%u more failures of this test, not shown\n",
			     all - failures_sent);
		write_all(buf, (size_t)n);
	}
	n = snprintf(buf, sizeof(buf), "A\t%u\nE\n", s->nAsserts - s->nAssertsFailed);
	write_all(buf, (size_t)n);
	if (close(report_fd) != 0)
		return -errno;
	report_fd = -1;
	return 0;
}
