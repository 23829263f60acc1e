// SPDX-License-Identifier: GPL-2.0
/*
 * A process started from a shell, for test_shell.py: it counts, writing
 * "count N\n" to descriptor OUT every 100 ms, and with --echo also reads lines
 * from its standard input and writes "read LINE\n" to OUT for each.
 *
 *   shell [--out FD] [--echo] [--job]
 *
 * --job: behave as a job of an interactive shell. The process becomes a session
 * leader with its standard input (a terminal) as controlling terminal, as a
 * shell does, and forks the counter as a job: in its own process group, made
 * the terminal's foreground group. The job writes "job PID\n" first; the
 * "shell" waits for it and then sleeps until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int out = 1;

static void say(const char *fmt, long a, const char *s)
{
	char line[600];
	int n = s ? snprintf(line, sizeof(line), fmt, s) : snprintf(line, sizeof(line), fmt, a);

	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	/* A short or failed write is what the test sees: nothing to do about it. */
	if (write(out, line, n) < 0 && errno == EBADF)
		_exit(3);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The "shell" of --job: returns in the job, never in the shell. */
static void become_job(void)
{
	int go[2];
	pid_t child;
	char c;

	if (setsid() < 0)
		die("setsid");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		die("TIOCSCTTY");
	if (pipe(go) < 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(go[1]);
		if (setpgid(0, 0) < 0)
			die("setpgid");
		/* Until the shell made us the foreground group. */
		if (read(go[0], &c, 1) != 1)
			die("read");
		close(go[0]);
		say("job %ld\n", getpid(), NULL);
		return;
	}
	close(go[0]);
	if (setpgid(child, child) < 0 && errno != EACCES)
		die("setpgid");
	if (tcsetpgrp(0, child) < 0)
		die("tcsetpgrp");
	if (write(go[1], "g", 1) != 1)
		die("write");
	close(go[1]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int echo = 0, as_job = 0;
	char buf[512];
	size_t have = 0;
	long n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--echo"))
			echo = 1;
		else if (!strcmp(argv[i], "--job"))
			as_job = 1;
		else {
			fprintf(stderr, "usage: shell [--out FD] [--echo] [--job]\n");
			return 2;
		}
	}
	if (as_job)
		become_job();
	for (;;) {
		struct timespec t = { 0, 100 * 1000 * 1000 };

		say("count %ld\n", ++n, NULL);
		if (!echo) {
			/* EINTR (the restart, a signal): just go on. */
			nanosleep(&t, NULL);
			continue;
		}
		struct pollfd p = { .fd = 0, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0 || !(p.revents & POLLIN))
			continue;
		ssize_t r = read(0, buf + have, sizeof(buf) - 1 - have);

		if (r <= 0)
			continue;
		have += r;
		buf[have] = 0;
		char *nl;

		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			say("read %s\n", 0, buf);
			have -= nl + 1 - buf;
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;
	}
}
