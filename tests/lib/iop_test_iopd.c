/* SPDX-License-Identifier: BSD-3-Clause */
/* iopd started and stopped for tests: see iop_test_iopd.h. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iop_test_iopd.h"

void iop_test_sleep_ms(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

void iop_test_stay_off_the_loop_cpu(void)
{
	cpu_set_t one;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

static bool answers(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	bool up;

	strcpy(addr.sun_path, path);
	up = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return up;
}

int iop_test_iopd_start(struct iop_test_iopd *d, const char *iopd_path, const char *name,
			const char *conf)
{
	FILE *f;

	snprintf(d->sock_path, sizeof(d->sock_path), "/tmp/%s-%d.sock", name, (int)getpid());
	snprintf(d->conf_path, sizeof(d->conf_path), "/tmp/%s-%d.conf", name, (int)getpid());
	f = fopen(d->conf_path, "w");
	if (f == NULL) {
		perror(d->conf_path);
		return -1;
	}
	fprintf(f, "# iopd for %s\nsocket %s\n%s", name, d->sock_path, conf);
	fclose(f);
	d->pid = fork();
	if (d->pid == 0) {
		execl(iopd_path, iopd_path, "--log-level=lib.eal:error", "--", "--config",
		      d->conf_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && d->pid > 0; i++) {
		if (answers(d->sock_path))
			return 0;
		iop_test_sleep_ms(50);
	}
	fprintf(stderr, "iopd did not come up on %s\n", d->sock_path);
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	unlink(d->conf_path);
	return -1;
}

int iop_test_iopd_stop(struct iop_test_iopd *d)
{
	int status = -1, rc = 0;

	/* SIGTERM: quiesce, answer what is in flight, exit 0. */
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &status, 0) != d->pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "iopd did not stop cleanly on SIGTERM (status %d)\n", status);
		rc = -1;
	}
	if (access(d->sock_path, F_OK) == 0) {
		fprintf(stderr, "iopd left its socket behind\n");
		rc = -1;
	}
	unlink(d->conf_path);
	return rc;
}
