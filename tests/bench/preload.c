/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peers that replace malloc (jemalloc, mimalloc, tcmalloc) cannot share a
 * process with glibc's malloc or with each other, so the parent re-executes
 * this program (/proc/self/exe) with the peer's shared object in LD_PRELOAD
 * and the internal options --child NAME --child-fd FD. The child runs that
 * peer's cells in-process and writes one line per cell to FD when done:
 *
 *   row WORKLOAD THREADS OPS SECONDS NULLS ERRORS
 *   unavailable REASON
 *
 * which the parent merges into its results.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

/* A sanitizer's runtime must come first in the process: a preloaded malloc kills it at start-up. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED true
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED true
#endif
#endif
#ifndef SANITIZED
#define SANITIZED false
#endif

#define CHILD_ARGS 16u

/* Shared objects live where the distribution keeps libc (Debian: /usr/lib/<triplet>). */
static int find_library(const char *soname, char *path, size_t len)
{
	Dl_info info;
	const char *slash;

	if (dladdr((void *)&fork, &info) == 0 || info.dli_fname == NULL ||
	    (slash = strrchr(info.dli_fname, '/')) == NULL)
		return -ENOENT;
	snprintf(path, len, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, soname);
	return access(path, R_OK) == 0 ? 0 : -ENOENT;
}

static void join_threads(const struct bench_opts *o, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < o->nthreads && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? "," : "", o->threads[i]);
}

static void join_workloads(const struct bench_opts *o, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < bench_nworkloads && used < len; i++)
		if (o->workload_mask & (1u << i))
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
						 bench_workloads[i].name);
}

struct child_cmd {
	char *argv[CHILD_ARGS];
	char fd[16], threads[128], workloads[256], amount[32], repeat[16];
	char **envp;
};

/* The child gets the parent's cell options; everything else it needs is fixed. */
static void child_argv(struct child_cmd *cmd, const struct bench_peer *p,
		       const struct bench_opts *o, int fd)
{
	char **a = cmd->argv;

	snprintf(cmd->fd, sizeof(cmd->fd), "%d", fd);
	snprintf(cmd->repeat, sizeof(cmd->repeat), "%u", o->repeat);
	join_threads(o, cmd->threads, sizeof(cmd->threads));
	join_workloads(o, cmd->workloads, sizeof(cmd->workloads));
	if (o->ops_mode)
		snprintf(cmd->amount, sizeof(cmd->amount), "%" PRIu64, o->ops);
	else
		snprintf(cmd->amount, sizeof(cmd->amount), "%" PRIu64, o->duration_ns / 1000000u);
	*a++ = "iop-bench-heap";
	*a++ = "--child";
	*a++ = (char *)p->name;
	*a++ = "--child-fd";
	*a++ = cmd->fd;
	*a++ = "--threads";
	*a++ = cmd->threads;
	*a++ = "--workloads";
	*a++ = cmd->workloads;
	*a++ = o->ops_mode ? "--ops" : "--duration";
	*a++ = cmd->amount;
	*a++ = "--repeat";
	*a++ = cmd->repeat;
	*a = NULL;
}

/* This environment, with LD_PRELOAD replaced by the one shared object. */
static char **child_env(const char *preload)
{
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			envp[k++] = environ[i];
	if (asprintf(&envp[k], "LD_PRELOAD=%s", preload) < 0) {
		free(envp);
		return NULL;
	}
	return envp;
}

static void free_env(char **envp)
{
	size_t k = 0;

	while (envp[k + 1] != NULL)
		k++;
	free(envp[k]); /* the LD_PRELOAD entry, the only one we made */
	free(envp);
}

/* One line from the child; 0 when it was a row, else -errno with why filled in. */
static int parse_line(const struct bench_peer *p, char *line, struct bench_results *rs,
		      char *why, size_t whylen)
{
	char wname[64];
	struct bench_result r = { .peer = p->name };

	if (strncmp(line, "unavailable ", 12) == 0) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(why, whylen, "%s", line + 12);
		return -ENOENT;
	}
	if (sscanf(line, "row %63s %u %" SCNu64 " %lf %" SCNu64 " %" SCNu64, wname, &r.threads,
		   &r.ops, &r.seconds, &r.nulls, &r.errors) != 6 ||
	    (r.w = bench_workload_by_name(wname)) == NULL) {
		snprintf(why, whylen, "bad line from child: %s", line);
		return -EPROTO;
	}
	bench_results_add(rs, &r);
	return 0;
}

static int read_rows(const struct bench_peer *p, int fd, struct bench_results *rs,
		     char *why, size_t whylen)
{
	FILE *in = fdopen(fd, "r");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (in == NULL) {
		close(fd);
		return -errno;
	}
	while (getline(&line, &cap, in) > 0)
		if (rc == 0)
			rc = parse_line(p, line, rs, why, whylen);
	free(line);
	fclose(in);
	return rc;
}

static int wait_child(pid_t pid, char *why, size_t whylen)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(why, whylen, "child %s %d", WIFEXITED(status) ? "exited with" : "killed by signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -ECHILD;
}

static int spawn(struct child_cmd *cmd, int fds[2])
{
	pid_t pid = fork();

	if (pid == 0) {
		/* only the write end crosses exec */
		fcntl(fds[1], F_SETFD, 0);
		execve("/proc/self/exe", cmd->argv, cmd->envp);
		_exit(127);
	}
	close(fds[1]);
	return pid;
}

int bench_preload_run(const struct bench_peer *p, const struct bench_opts *o,
		      struct bench_results *rs, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct child_cmd cmd;
	int fds[2], rc, wrc;
	pid_t pid;

	if (SANITIZED) {
		snprintf(why, whylen, "unavailable in a sanitizer build");
		return -ENOENT;
	}
	if (find_library(p->preload, path, sizeof(path)) != 0) {
		snprintf(why, whylen, "not installed (no %s)", p->preload);
		return -ENOENT;
	}
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	child_argv(&cmd, p, o, fds[1]);
	cmd.envp = child_env(path);
	pid = cmd.envp != NULL ? spawn(&cmd, fds) : -1;
	if (pid < 0) {
		snprintf(why, whylen, "cannot start child: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		if (cmd.envp != NULL)
			free_env(cmd.envp);
		return -ECHILD;
	}
	rc = read_rows(p, fds[0], rs, why, whylen);
	wrc = wait_child(pid, why, whylen);
	free_env(cmd.envp);
	return rc != 0 ? rc : wrc;
}

/*
 * A missing or unloadable object leaves glibc's malloc in place: do not
 * measure that under another name.
 */
static bool preload_active(const struct bench_peer *p)
{
	Dl_info info;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	const char *base;

	if (m == NULL || dladdr(m, &info) == 0 || info.dli_fname == NULL)
		return false;
	base = strrchr(info.dli_fname, '/');
	return strcmp(base != NULL ? base + 1 : info.dli_fname, p->preload) == 0;
}

int bench_preload_child(const struct bench_opts *o, bench_run_peer_fn *run)
{
	const struct bench_peer *p = bench_peer_by_name(o->child);
	FILE *out = fdopen(o->child_fd, "w");
	struct bench_results rs = { 0 };

	if (out == NULL || p == NULL || p->preload == NULL)
		return 2;
	/* exec of /proc/self/exe names the process "exe"; ps and top should say what it is */
	prctl(PR_SET_NAME, "iop-bench-heap");
	if (!preload_active(p)) {
		fprintf(out, "unavailable %s is not the malloc in use\n", p->preload);
		return fclose(out) == 0 ? 0 : 2;
	}
	run(p, o, &rs);
	for (unsigned i = 0; i < rs.n; i++)
		fprintf(out, "row %s %u %" PRIu64 " %.9f %" PRIu64 " %" PRIu64 "\n", rs.r[i].w->name,
			rs.r[i].threads, rs.r[i].ops, rs.r[i].seconds, rs.r[i].nulls, rs.r[i].errors);
	free(rs.r);
	return fclose(out) == 0 ? 0 : 2;
}
