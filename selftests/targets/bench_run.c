// SPDX-License-Identifier: GPL-2.0
/*
 * The stopwatch of `make bench` (scripts/bench-guest):
 *
 *   bench_run [-t SECS] RESULT CMD [ARGS...]
 *
 * runs CMD (PATH is searched) with this program's descriptors, waits for it,
 * and writes to RESULT one line:
 *
 *   ns=ELAPSED status=WAITSTATUS user_us=USER sys_us=SYS timeout=0|1
 *
 * ELAPSED is CLOCK_MONOTONIC from just before the spawn to just after wait4
 * returns: the command as a user would see it, exec and exit included, and none
 * of the bench driver's own overhead. USER and SYS are the CPU time of CMD and
 * of the children it waited for. With -t, CMD is killed (SIGKILL) after SECS
 * seconds and timeout=1 says so. Exits 0 if CMD could be run and timed, 127 if not.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(child, SIGKILL);
}

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long us(const struct timeval *t)
{
	return t->tv_sec * 1000000LL + t->tv_usec;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct timespec t0, t1;
	unsigned int secs = 0;
	struct rusage ru;
	int status, err;
	pid_t pid;
	FILE *out;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		secs = strtoul(argv[2], NULL, 0);
		argc -= 2;
		argv += 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: bench_run [-t SECS] RESULT CMD [ARGS...]\n");
		return 127;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
	if (err) {
		fprintf(stderr, "bench_run: cannot run %s: error %d\n", argv[2], err);
		return 127;
	}
	child = pid;
	alarm(secs);
	while (wait4(pid, &status, 0, &ru) != pid) {
		if (errno != EINTR) {
			perror("bench_run: wait4");
			return 127;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	out = fopen(argv[1], "w");
	if (!out) {
		perror("bench_run: RESULT");
		return 127;
	}
	fprintf(out, "ns=%lld status=%d user_us=%lld sys_us=%lld timeout=%d\n", ns(&t1) - ns(&t0),
		status, us(&ru.ru_utime), us(&ru.ru_stime), (int)timed_out);
	return fclose(out) ? 127 : 0;
}
