/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl as operators run it: the real binary, a separate process, against a
 * real iopd with two nop DDMs, its output captured and its JSON parsed (so a
 * broken writer fails here, not in someone's script). Status, the LCT,
 * counters that go up by at least the pings sent, ping and watch, errors
 * from the IOP named, no iopd there (exit 1) and bad arguments (exit 2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iop_test.h"
#include "iop_test_iopd.h"

static const char *iopctl;
static char dir[64];        /* iopd's socket and configuration live here */
static char sock_path[108]; /* dir/iopd.sock: also iopd's default in $XDG_RUNTIME_DIR=dir */
static pid_t iopd_pid;

/* What one run of iopctl did. */
struct run {
	int status; /* exit status, or -1 if it did not exit */
	char out[65536];
	char err[8192];
};

/* Append what fd has to buf (kept NUL-terminated). @return false at end of file. */
static bool drain(int fd, char *buf, size_t cap, size_t *used)
{
	char scratch[4096];
	ssize_t n = read(fd, scratch, sizeof(scratch));
	size_t keep;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	keep = (size_t)n < cap - 1 - *used ? (size_t)n : cap - 1 - *used;
	memcpy(buf + *used, scratch, keep);
	*used += keep;
	buf[*used] = '\0';
	return true;
}

/* A running iopctl: its pid and the read ends of its stdout and stderr. */
struct child {
	pid_t pid;
	int out, err;
	size_t n_out, n_err;
};

/* Start iopctl with argv[1..] (argv[0] is filled in); with xdg, $XDG_RUNTIME_DIR = xdg. */
static void spawn(struct child *ch, const char *xdg, const char **argv)
{
	int out[2], err[2];

	argv[0] = iopctl;
	CU_ASSERT_FATAL(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	ch->pid = fork();
	CU_ASSERT_FATAL(ch->pid >= 0);
	if (ch->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		if (xdg != NULL)
			setenv("XDG_RUNTIME_DIR", xdg, 1);
		execv(iopctl, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	ch->out = out[0];
	ch->err = err[0];
	ch->n_out = ch->n_err = 0;
}

/*
 * Take what the child writes into r until it has written `lines` lines to
 * stdout (0: until it closes both), then, with lines 0, wait for its exit.
 */
static void collect(struct child *ch, struct run *r, unsigned lines)
{
	bool out_open = true, err_open = true;
	int status;

	while (out_open || err_open) {
		struct pollfd p[2] = { { out_open ? ch->out : -1, POLLIN, 0 },
				       { err_open ? ch->err : -1, POLLIN, 0 } };
		unsigned seen = 0;

		for (size_t i = 0; lines != 0 && i < ch->n_out; i++)
			seen += r->out[i] == '\n';
		if (lines != 0 && seen >= lines)
			return;
		/* Nothing iopctl does here takes 30 s: a hang is a failure, not a stuck test. */
		if (poll(p, 2, 30000) == 0) {
			kill(ch->pid, SIGKILL);
			break;
		}
		if (p[0].revents)
			out_open = drain(ch->out, r->out, sizeof(r->out), &ch->n_out);
		if (p[1].revents)
			err_open = drain(ch->err, r->err, sizeof(r->err), &ch->n_err);
	}
	close(ch->out);
	close(ch->err);
	CU_ASSERT_EQUAL(waitpid(ch->pid, &status, 0), ch->pid);
	if (WIFEXITED(status))
		r->status = WEXITSTATUS(status);
}

/*
 * Run iopctl with args (NULL-terminated), stdout and stderr captured. With
 * xdg set, $XDG_RUNTIME_DIR is set to it (for the default socket).
 */
static void run_env(struct run *r, const char *xdg, ...)
{
	const char *argv[32];
	unsigned argc = 1;
	struct child ch;
	va_list ap;

	va_start(ap, xdg);
	while (argc < 31 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	r->status = -1;
	r->out[0] = r->err[0] = '\0';
	spawn(&ch, xdg, argv);
	collect(&ch, r, 0);
}

#define run(r, ...) run_env(r, NULL, "-s", sock_path, __VA_ARGS__, (char *)NULL)

/* ---- A JSON reader just strict enough to refuse what a broken writer makes ---- */

static const char *json_value(const char *p);

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_str(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL; /* control characters must be escaped */
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (strchr("0123456789abcdefABCDEF", p[i]) == NULL || p[i] == '\0')
					return NULL;
			p += 4;
		} else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
			return NULL;
		}
	}
	return p + 1;
}

static const char *json_number(const char *p)
{
	const char *start = p;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return NULL;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
	       *p == '-')
		p++;
	return p > start ? p : NULL;
}

/* An object or array: members separated by commas, no trailing comma. */
static const char *json_container(const char *p, char close, bool keys)
{
	p = skip_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_str(skip_ws(p));
			if (p == NULL || *(p = skip_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = json_value(p);
		if (p == NULL)
			return NULL;
		p = skip_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	p = skip_ws(p);
	if (*p == '{')
		return json_container(p, '}', true);
	if (*p == '[')
		return json_container(p, ']', false);
	if (*p == '"')
		return json_str(p);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	return json_number(p);
}

/* One JSON object on one line, and nothing after it. */
static bool json_line_ok(const char *line, size_t len)
{
	char *copy = strndup(line, len);
	const char *end = copy != NULL && skip_ws(copy)[0] == '{' ? json_value(copy) : NULL;
	bool ok = end != NULL && *skip_ws(end) == '\0' && memchr(copy, '\n', len) == NULL;

	if (!ok)
		fprintf(stderr, "\nnot one JSON object: %.*s\n", (int)len, line);
	free(copy);
	return ok;
}

/* The document's single line (its trailing newline required). */
static bool json_doc_ok(const char *out)
{
	const char *nl = strchr(out, '\n');

	return nl != NULL && nl[1] == '\0' && json_line_ok(out, (size_t)(nl - out));
}

/* The number after the first "key": at or after from; -1 if none. */
static long long json_num(const char *from, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(from, pat);
	if (p == NULL || json_number(p + strlen(pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_status(void)
{
	struct run *r = malloc(sizeof(*r));

	run(r, "status", "--json");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\"state\":\"OPERATIONAL\""));
	CU_ASSERT_EQUAL(json_num(r->out, "state_code"), 8);
	CU_ASSERT_EQUAL(json_num(r->out, "targets"), 3); /* the executive and two nop DDMs */
	CU_ASSERT_EQUAL(json_num(r->out, "loops"), 1);
	CU_ASSERT_EQUAL(json_num(strstr(r->out, "\"inbound\""), "kib"), 4096);
	CU_ASSERT(json_num(strstr(r->out, "\"outbound\""), "in_use") >= 0);
	/* No -s: iopd's default socket in $XDG_RUNTIME_DIR, as iopd would choose it. */
	run_env(r, dir, "status", (char *)NULL);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "state        OPERATIONAL (0x08)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "targets      3\n"));
	free(r);
}

static void test_lct(void)
{
	struct run *r = malloc(sizeof(*r));
	const char *nop;

	run(r, "lct");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "3 entries"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "0x000  executive (0x000)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "0x010  ddm (0x001)          nop"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "0x011  ddm (0x001)          nop"));
	run(r, "lct", "--json");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"tid\":0,\"class\":\"executive\",\"class_id\":0,"));
	nop = strstr(r->out, "{\"tid\":16,");
	CU_ASSERT_PTR_NOT_NULL_FATAL(nop);
	CU_ASSERT_PTR_NOT_NULL(strstr(nop, "\"identity\":\"nop\",\"user_tid\":null"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"tid\":17,\"class\":\"ddm\""));
	free(r);
}

/* The target's request counter, from iopctl params get TID 0xF000 --json. */
static long long requests_of(struct run *r, const char *tid)
{
	run(r, "--json", "params", "get", tid, "0xF000");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\"group\":61440,\"counters\":{\"requests\":"));
	return json_num(r->out, "requests");
}

static void test_params_count_the_pings(void)
{
	struct run *r = malloc(sizeof(*r));
	long long before, after;

	before = requests_of(r, "0x011");
	CU_ASSERT(before >= 1); /* the ParamsGet itself */
	run(r, "ping", "-t", "0x011", "-c", "25", "-i", "0");
	CU_ASSERT_EQUAL(r->status, 0);
	after = requests_of(r, "0x011");
	CU_ASSERT(after >= before + 25);
	/* By name, one per line. */
	run(r, "params", "get", "17", "0xf000");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "requests         "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\nin_flight        "));
	free(r);
}

/* A group the nop DDM does not have: the DSC by name, exit 1, and an error object. */
static void test_params_refusal_named(void)
{
	struct run *r = malloc(sizeof(*r));

	run(r, "params", "get", "0x010", "0x1234");
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "TID 0x010"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "DSC INVALID_PARAMETER (0x0011)"));
	run(r, "params", "get", "0x010", "0x1234", "--json");
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"error\":\"UtilParamsGet to TID 0x010 failed: "));
	free(r);
}

static void test_ping(void)
{
	struct run *r = malloc(sizeof(*r));
	const char *lat;

	run(r, "ping", "-c", "50", "-i", "0", "--json");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_EQUAL(json_num(r->out, "tid"), 16); /* the first nop */
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\"identity\":\"nop\""));
	CU_ASSERT_EQUAL(json_num(r->out, "sent"), 50);
	CU_ASSERT_EQUAL(json_num(r->out, "replies"), 50);
	CU_ASSERT_EQUAL(json_num(r->out, "errors"), 0);
	lat = strstr(r->out, "\"latency_us\":{\"min\":");
	CU_ASSERT_PTR_NOT_NULL_FATAL(lat);
	CU_ASSERT_PTR_NOT_NULL(strstr(lat, "\"p999\":"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lat, "\"max\":"));
	run(r, "ping", "-c", "3", "-i", "100");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "ping TID 0x010 (nop): 3 sent, 3 replies, 0 errors"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "latency us: min "));
	free(r);
}

/* Replies that are errors still end round trips; they are counted, and make exit 1. */
static void test_ping_counts_error_replies(void)
{
	struct run *r = malloc(sizeof(*r));

	run(r, "ping", "-t", "0x0FF", "-c", "5", "-i", "0", "--json"); /* no such target */
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_EQUAL(json_num(r->out, "replies"), 5);
	CU_ASSERT_EQUAL(json_num(r->out, "errors"), 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "transport failure INVALID_TARGET_ID (0x8D)"));
	run(r, "ping", "-t", "0", "-c", "2", "-i", "0"); /* the executive has no UtilPrivate */
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "2 replies, 2 errors"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "DSC UNSUPPORTED_FUNCTION (0x000A)"));
	free(r);
}

static void test_watch(void)
{
	struct run *r = malloc(sizeof(*r));
	const char *l1, *l2;

	run(r, "watch", "-c", "2", "-n", "0.2", "--json");
	CU_ASSERT_EQUAL(r->status, 0);
	l1 = r->out;
	l2 = strchr(l1, '\n');
	CU_ASSERT_PTR_NOT_NULL_FATAL(l2);
	l2++;
	CU_ASSERT_PTR_NOT_NULL_FATAL(strchr(l2, '\n'));
	CU_ASSERT_EQUAL(strchr(l2, '\n')[1], '\0'); /* two lines, no more */
	CU_ASSERT(json_line_ok(l1, (size_t)(l2 - 1 - l1)));
	CU_ASSERT(json_line_ok(l2, strlen(l2) - 1));
	CU_ASSERT_EQUAL(json_num(l1, "refresh"), 1);
	CU_ASSERT_EQUAL(json_num(l2, "refresh"), 2);
	/* Rates need a previous refresh: none in the first, every target's in the second. */
	CU_ASSERT_PTR_NOT_NULL(strstr(l1, "\"rates\":null"));
	CU_ASSERT(strstr(l2, "\"rates\":null") == NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(l2, "{\"tid\":17,\"identity\":\"nop\",\"class\":\"ddm\","
					  "\"counters\":{\"requests\":"));
	/* Not a terminal: tables one after another, no screen control. */
	run(r, "watch", "-c", "2", "-n", "0.1");
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "refresh 1 every 0.1 s"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "refresh 2 every 0.1 s"));
	CU_ASSERT(strchr(r->out, '\033') == NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\n0x011  nop"));
	free(r);
}

/* Lines of out; each must be a JSON document when json is set. */
static unsigned lines_of(const char *out, bool json)
{
	unsigned n = 0;

	for (const char *l = out, *e; (e = strchr(l, '\n')) != NULL; l = e + 1, n++)
		if (json)
			CU_ASSERT(json_line_ok(l, (size_t)(e - l)));
	return n;
}

/*
 * iopctl events in the background while iopctl quiesce, enable and reset
 * change the IOP's state: each target's STATE_CHANGE (and DEVICE_RESET)
 * printed once it has registered, as JSON lines and as text; started on a
 * quiesced IOP too.
 */
static void test_events_and_state_changes(void)
{
	const char *json_events[] = { NULL, "-s", sock_path, "--json", "events", "-c", "6", NULL };
	const char *text_events[] = { NULL, "-s", sock_path, "events", "-t", "0x010", "--mask",
				      "0x84000000", "-c", "4", NULL };
	struct run *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q));
	struct child ch;

	CU_ASSERT_FATAL(r != NULL && q != NULL);
	r->status = -1;
	r->out[0] = r->err[0] = '\0';
	spawn(&ch, NULL, json_events);
	collect(&ch, r, 1); /* registered with every target */
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"registered\":[0,16,17],\"mask\":4294967295}\n"));
	run(q, "quiesce");
	CU_ASSERT_EQUAL(q->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(q->out, "state        READY (0x05)"));
	run(q, "--json", "enable");
	CU_ASSERT_EQUAL(q->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(q->out, "{\"state\":\"OPERATIONAL\",\"state_code\":8}"));
	collect(&ch, r, 0);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL(lines_of(r->out, true), 7);
	for (unsigned tid = 16; tid <= 17; tid++) {
		char want[160];

		snprintf(want, sizeof(want), "{\"tid\":%u,\"identity\":\"nop\",\"indicator\":"
			 "2147483648,\"names\":[\"STATE_CHANGE\"],\"data\":[1]}", tid);
		CU_ASSERT_PTR_NOT_NULL(strstr(r->out, want));
		snprintf(want, sizeof(want), "{\"tid\":%u,\"identity\":\"nop\",\"indicator\":"
			 "2147483648,\"names\":[\"STATE_CHANGE\"],\"data\":[0]}", tid);
		CU_ASSERT_PTR_NOT_NULL(strstr(r->out, want));
	}
	/* The executive's carry the IOP's state: READY, then OPERATIONAL. */
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"tid\":0,\"identity\":\"iopool\",\"indicator\":"
					      "2147483648,\"names\":[\"STATE_CHANGE\"],\"data\":[1,5]}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\"data\":[0,8]}"));

	/*
	 * One target, a mask of two bits, as text, started while the IOP is
	 * quiesced (to hear it come back); then a reset and the bring-up.
	 */
	run(q, "quiesce");
	CU_ASSERT_EQUAL(q->status, 0);
	r->status = -1;
	r->out[0] = r->err[0] = '\0';
	spawn(&ch, NULL, text_events);
	collect(&ch, r, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "events of 1 target (mask 0x84000000)\n"));
	run(q, "enable");
	CU_ASSERT_EQUAL(q->status, 0);
	run(q, "reset");
	CU_ASSERT_EQUAL(q->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(q->out, "state        RESET (0x02)"));
	run(q, "enable");
	CU_ASSERT_EQUAL(q->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(q->out, "state        OPERATIONAL (0x08)"));
	collect(&ch, r, 0);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_EQUAL(lines_of(r->out, false), 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\n0x010  nop      STATE_CHANGE  data 0x00000000\n"
					      "0x010  nop      DEVICE_RESET\n"
					      "0x010  nop      STATE_CHANGE  data 0x00000002\n"
					      "0x010  nop      STATE_CHANGE  data 0x00000000\n"));
	free(r);
	free(q);
}

static void test_no_iopd(void)
{
	struct run *r = malloc(sizeof(*r));
	char none[128];

	snprintf(none, sizeof(none), "%s/none.sock", dir);
	run_env(r, NULL, "-s", none, "status", (char *)NULL);
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, none));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "no iopd at"));
	CU_ASSERT_EQUAL(r->out[0], '\0');
	run_env(r, NULL, "--socket", none, "--json", "lct", (char *)NULL);
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "{\"error\":\"no iopd at "));
	free(r);
}

static void test_bad_arguments(void)
{
	static const char *const cases[][6] = {
		{ NULL },
		{ "frob", NULL },
		{ "status", "extra", NULL },
		{ "status", "-c", "3", NULL },   /* an option of another command */
		{ "lct", "-n", "1", NULL },
		{ "ping", "-c", "0", NULL },
		{ "ping", "-c", "ten", NULL },
		{ "ping", "-t", "0x1000", NULL },
		{ "ping", "-i", "-1", NULL },
		{ "params", "get", "0x10", NULL },
		{ "params", "set", "0x10", "0xF000", NULL },
		{ "params", "get", "16", "0x10000", NULL },
		{ "watch", "-n", "0", NULL },
		{ "watch", "-t", "16", NULL },
		{ "watch", "--mask", "1", NULL },
		{ "events", "-n", "1", NULL },
		{ "events", "--mask", "0", NULL },
		{ "events", "extra", NULL },
		{ "quiesce", "now", NULL },
		{ "enable", "-c", "1", NULL },
		{ "--timeout", "0", "status", NULL },
		{ "--bogus", "status", NULL },
	};
	struct run *r = malloc(sizeof(*r));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *c = cases[i];
		const char *a1 = c[0] ? c[1] : NULL, *a2 = a1 ? c[2] : NULL, *a3 = a2 ? c[3] : NULL;

		/* Arguments are checked before iopctl attaches: a live socket changes nothing. */
		run_env(r, NULL, "-s", sock_path, c[0], a1, a2, a3, (char *)NULL);
		if (r->status != 2)
			fprintf(stderr, "\ncase %zu (%s ...): status %d\n", i, c[0], r->status);
		CU_ASSERT_EQUAL(r->status, 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "usage: iopctl"));
		CU_ASSERT_EQUAL(r->out[0], '\0');
	}
	run_env(r, NULL, "--help", (char *)NULL);
	CU_ASSERT_EQUAL(r->status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "usage: iopctl"));
	free(r);
}

/*
 * An iopd that stops answering (SIGSTOP) after iopctl attached: the request
 * in flight times out with --timeout, named, and iopctl exits 1. A watch
 * stops there; a ping stops there and still reports the round trips before.
 */
/*
 * Wait until the nop DDM at 0x010 has answered a request that is not one of
 * ours: each of our ParamsGets is answered by the next one's read, so after
 * the j-th (the first is 0) the replies not ours are replies - replies0 - j.
 * Timed by what happened, not by a sleep, so a slow machine only waits longer.
 */
static void wait_for_ping_replies(unsigned max_ms)
{
	struct run *q = malloc(sizeof(*q));
	long long replies0 = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	for (unsigned j = 0; j <= max_ms / 20; j++) {
		long long replies;

		run(q, "--json", "params", "get", "0x010", "0xF000");
		replies = json_num(q->out, "replies");
		CU_ASSERT_FATAL(replies >= 0);
		if (replies0 < 0)
			replies0 = replies;
		else if (replies - replies0 - (long long)j > 0)
			break;
		iop_test_sleep_ms(20);
	}
	free(q);
}

static void test_request_timeout(void)
{
	const char *watch[] = { NULL, "-s", sock_path, "--timeout", "300", "watch", "-n", "0.1",
				NULL };
	const char *ping[] = { NULL, "-s", sock_path, "--timeout", "300", "--json", "ping",
			       "-c", "1000000", "-i", "200", NULL };
	struct run *r = malloc(sizeof(*r));
	struct child ch;

	r->status = -1;
	r->out[0] = r->err[0] = '\0';
	spawn(&ch, NULL, watch);
	collect(&ch, r, 3); /* the first table is out */
	kill(iopd_pid, SIGSTOP);
	collect(&ch, r, 0);
	kill(iopd_pid, SIGCONT);
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "failed: no reply in 300 ms"));

	r->status = -1;
	r->out[0] = r->err[0] = '\0';
	spawn(&ch, NULL, ping);
	wait_for_ping_replies(10000);
	kill(iopd_pid, SIGSTOP);
	collect(&ch, r, 0);
	kill(iopd_pid, SIGCONT);
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT(json_doc_ok(r->out));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\"error\":\"UtilPrivate to TID 0x010 failed: no "
					      "reply in 300 ms\""));
	CU_ASSERT(json_num(r->out, "replies") > 0);
	CU_ASSERT_EQUAL(json_num(r->out, "sent"), json_num(r->out, "replies") + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "no reply in 300 ms"));

	/* Stopped before iopctl attaches: attaching has no timeout of its own; iopctl's holds. */
	kill(iopd_pid, SIGSTOP);
	run(r, "--timeout", "300", "status");
	kill(iopd_pid, SIGCONT);
	CU_ASSERT_EQUAL(r->status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r->err, "did not answer in 300 ms"));
	/* And iopd goes on as before. */
	run(r, "status");
	CU_ASSERT_EQUAL(r->status, 0);
	free(r);
}

static const struct iop_test_case iopctl_tests[] = {
	{ "status", test_status },
	{ "lct", test_lct },
	{ "params_count_the_pings", test_params_count_the_pings },
	{ "params_refusal_named", test_params_refusal_named },
	{ "ping", test_ping },
	{ "ping_counts_error_replies", test_ping_counts_error_replies },
	{ "watch", test_watch },
	{ "events_and_state_changes", test_events_and_state_changes },
	{ "no_iopd", test_no_iopd },
	{ "bad_arguments", test_bad_arguments },
	{ "request_timeout", test_request_timeout },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "iopctl", iopctl_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	const char *iopd_path = getenv("IOP_TEST_IOPD");
	struct iop_test_iopd d = { 0 };
	int failures;

	iopctl = getenv("IOP_TEST_IOPCTL");
	if (iopd_path == NULL || iopctl == NULL) {
		fprintf(stderr, "IOP_TEST_IOPD, IOP_TEST_IOPCTL: the iopd and iopctl to test\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/iopctl-test-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* In its own directory: iopd's default socket when $XDG_RUNTIME_DIR is dir. */
	snprintf(sock_path, sizeof(sock_path), "%s/iopd.sock", dir);
	snprintf(d.sock_path, sizeof(d.sock_path), "%s", sock_path);
	snprintf(d.conf_path, sizeof(d.conf_path), "%s/iopd.conf", dir);
	if (iop_test_iopd_start(&d, iopd_path, "test_iopctl",
				"inbound 4M\noutbound 4M\nddm nop@0\nddm nop@0\n") != 0) {
		rmdir(dir);
		return 1;
	}
	iopd_pid = d.pid;
	iop_test_stay_off_the_loop_cpu(); /* and the iopctl runs it forks */
	failures = iop_test_main(argc, argv, suites);
	if (iop_test_iopd_stop(&d) != 0)
		failures++;
	rmdir(dir);
	return failures;
}
