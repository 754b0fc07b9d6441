/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An iopctl session: one host attached to iopd, one queue pair, requests
 * made one at a time with the session's timeout, and failures reported in
 * words an operator can act on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "iopctl.h"
#include "json.h"

/* MessageSize is 16 bits: no reply is longer. */
#define REPLY_MAX_WORDS 0xFFFFu

void iopctl_error(const struct iopctl_opts *o, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "iopctl: %s\n", msg);
	if (o->json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "error", msg);
		json_object_end(&j);
		json_end(&j);
	}
}

/*
 * Attaching and registering the channel wait on iopd's answers with no
 * timeout of their own, so an iopd that is stopped or wedged would hold
 * iopctl forever: a timer ends iopctl then, with the message written ahead
 * (a signal handler may only write() and _exit()).
 */
static char hung_text[512], hung_json[768];
static size_t hung_text_len, hung_json_len;

static void say(int fd, const char *buf, size_t len)
{
	/* A failed write has nowhere to be reported: the exit status says it all the same. */
	if (len != 0 && write(fd, buf, len) < 0)
		return;
}

static void attach_hung(int sig)
{
	(void)sig;
	say(STDERR_FILENO, hung_text, hung_text_len);
	say(STDOUT_FILENO, hung_json, hung_json_len);
	_exit(IOPCTL_EXIT_FAIL);
}

static void arm_attach_timer(const struct iopctl_opts *o)
{
	struct itimerval t = { .it_value = { o->timeout_ms / 1000,
					     (long)(o->timeout_ms % 1000) * 1000 } };
	struct sigaction sa = { .sa_handler = attach_hung };
	char msg[256];
	FILE *f;
	struct json j;

	snprintf(msg, sizeof(msg), "iopd at %s did not answer in %u ms", o->socket,
		 o->timeout_ms);
	snprintf(hung_text, sizeof(hung_text), "iopctl: %s\n", msg);
	hung_text_len = strlen(hung_text);
	hung_json_len = 0;
	f = o->json ? fmemopen(hung_json, sizeof(hung_json), "w") : NULL;
	if (f != NULL) {
		json_init(&j, f);
		json_object_begin(&j, NULL);
		json_string(&j, "error", msg);
		json_object_end(&j);
		json_end(&j);
		hung_json_len = (size_t)ftell(f);
		fclose(f);
	}
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &t, NULL);
}

static void disarm_attach_timer(void)
{
	struct itimerval off = { { 0, 0 }, { 0, 0 } };

	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
}

int iopctl_open(struct iopctl *s, const struct iopctl_opts *o)
{
	char err[256] = "";
	int e;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->reply = malloc(REPLY_MAX_WORDS * sizeof(*s->reply));
	if (s->reply == NULL) {
		iopctl_error(o, "out of memory");
		return -1;
	}
	arm_attach_timer(o);
	s->h = iop_host_attach(o->socket, err, sizeof(err));
	if (s->h == NULL) {
		e = errno;
		disarm_attach_timer();
		if (e == ENOENT || e == ECONNREFUSED)
			iopctl_error(o, "no iopd at %s (%s): start iopd, or name its socket with -s",
				     o->socket, strerror(e));
		else
			iopctl_error(o, "cannot attach to iopd at %s: %s", o->socket, err);
		goto fail;
	}
	s->qp = iop_qp_create(s->h, NULL);
	e = errno;
	disarm_attach_timer();
	if (s->qp == NULL) {
		iopctl_error(o, "iopd at %s gave no queue pair: %s%s", o->socket, strerror(e),
			     e == ENOSPC ? " (every channel in use)" : "");
		iop_host_detach(s->h, o->timeout_ms);
		goto fail;
	}
	return 0;
fail:
	free(s->reply);
	s->reply = NULL;
	return -1;
}

void iopctl_close(struct iopctl *s)
{
	/* Detach destroys the queue pair; a late reply is iopd's to free. */
	iop_host_detach(s->h, s->o->timeout_ms);
	free(s->reply);
	s->reply = NULL;
}

/* How long since start, in ms. */
static unsigned elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)((now.tv_sec - start->tv_sec) * 1000 +
			  (now.tv_nsec - start->tv_nsec) / 1000000);
}

uint32_t *iopctl_frame(struct iopctl *s)
{
	const struct timespec ms = { 0, 1000000 };
	struct timespec start;
	uint32_t *f;

	/* The heap may be full for a moment with other hosts' frames: wait, within the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((f = iop_qp_frame_alloc(s->qp, IOPCTL_FRAME_BYTES)) == NULL &&
	       elapsed_ms(&start) < s->o->timeout_ms)
		nanosleep(&ms, NULL);
	return f;
}

int iopctl_request(struct iopctl *s, uint32_t *frame, int built, struct iop_completion *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	s->reply_words = 0;
	if (built < 0) {
		if (frame != NULL)
			iop_qp_frame_free(s->qp, frame);
		c->result = built;
		return built;
	}
	rc = iop_qp_call(s->qp, frame, s->reply, REPLY_MAX_WORDS, c, s->o->timeout_ms);
	/* Not posted: the frame is still ours. Posted: the IOP's, or the queue pair frees it. */
	if (rc == -EAGAIN || rc == -EINVAL)
		iop_qp_frame_free(s->qp, frame);
	if (rc == 0 || rc == -EIO)
		s->reply_words = c->reply_words < REPLY_MAX_WORDS ? c->reply_words
								  : REPLY_MAX_WORDS;
	return rc;
}

void iopctl_failure(const struct iopctl *s, const char *what, uint16_t tid, int rc,
		    const struct iop_completion *c, char *buf, size_t len)
{
	char why[160];

	if (rc == -EIO || (rc == -EPROTO && c->result == -EPROTO))
		iopctl_describe(c, why, sizeof(why));
	else if (rc == -EPROTO)
		snprintf(why, sizeof(why), "a malformed reply (too short for what it states)");
	else if (rc == -ETIMEDOUT)
		snprintf(why, sizeof(why), "no reply in %u ms", s->o->timeout_ms);
	else if (rc == -ENOMEM)
		snprintf(why, sizeof(why), "no free request frame in iopd's inbound heap for %u ms",
			 s->o->timeout_ms);
	else if (rc == -EAGAIN)
		snprintf(why, sizeof(why), "could not post in %u ms (the request ring stayed full)",
			 s->o->timeout_ms);
	else
		snprintf(why, sizeof(why), "%s", strerror(-rc));
	snprintf(buf, len, "%s to TID 0x%03X failed: %s", what, tid, why);
}

void iopctl_report(const struct iopctl *s, const char *what, uint16_t tid, int rc,
		   const struct iop_completion *c)
{
	char msg[256];

	iopctl_failure(s, what, tid, rc, c, msg, sizeof(msg));
	iopctl_error(s->o, "%s", msg);
}

int iopctl_call(struct iopctl *s, uint32_t *frame, int built, const char *what, uint16_t tid)
{
	struct iop_completion c;
	int rc = iopctl_request(s, frame, built, &c);

	if (rc == 0)
		return 0;
	iopctl_report(s, what, tid, rc, &c);
	return -1;
}
