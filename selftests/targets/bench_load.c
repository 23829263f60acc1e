// SPDX-License-Identifier: GPL-2.0
/*
 * The workloads of `make bench` (scripts/bench-guest). Sets up the state asked
 * for, then counts forever, writing "counter N" at the start of STATUS after
 * each step (every 10 ms), like target.c, so that a restarted copy can be seen
 * running.
 *
 *   bench_load STATUS                    a trivial process: a few pages
 *   bench_load STATUS --anon MIB         MIB of anonymous memory, every byte written
 *   bench_load STATUS --sparse MIB PCT   MIB mapped, PCT percent of its pages written,
 *                                        spread evenly over the mapping
 *   bench_load STATUS --tree N           N processes: a tree in which process k has
 *                                        children 10k+1 .. 10k+10; only the root counts
 *   bench_load STATUS --threads N        N threads, the main one counting
 *   bench_load STATUS --fds N            N more descriptors: an epoll watching all the
 *                                        others, which are socket pairs, pipes and
 *                                        eventfds in equal parts, each socket with a
 *                                        queued message, each pipe with queued bytes
 *   bench_load STATUS --pipes N          the same without sockets: pipes and eventfds
 *
 * STATUS is written only once everything is in place: every process of the
 * tree forked, every thread started. No pipe or other descriptor but STATUS,
 * the standard ones and those of --fds stays open afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#define FANOUT 10

static void *map_anon(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("bench_load: mmap");
		exit(3);
	}
	return p;
}

/* Writes pct percent of the pages of a new mapping of mib MiB, evenly spread. */
static void touch(size_t mib, unsigned int pct)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (mib << 20) / page, i;
	unsigned char *p = map_anon(mib << 20);

	for (i = 0; i < pages; i++)
		if ((i + 1) * pct / 100 != i * pct / 100)
			memset(p + i * page, (int)(i % 251) + 1, page);
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

/* Process k forks its children, which do the same; each reports on `ready` once its own are forked. */
static void spawn_tree(int k, int n, int ready[2])
{
	for (int c = FANOUT * k + 1; c <= FANOUT * k + FANOUT && c < n; c++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("bench_load: fork");
			exit(4);
		}
		if (pid == 0) {
			spawn_tree(c, n, ready);
			if (write(ready[1], "r", 1) != 1)
				_exit(5);
			close(ready[0]);
			close(ready[1]);
			sleep_forever();
		}
	}
}

static void watch(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (unsigned int)fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		perror("bench_load: epoll_ctl");
		exit(10);
	}
}

/*
 * n descriptors: one epoll and, round-robin, socket pairs (with `sockets`), pipes and
 * eventfds it watches.
 */
static void open_fds(int n, int sockets)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)n + 64, .rlim_max = (rlim_t)n + 64 };
	int ep, made = 1, kind = 0, two[2];

	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		perror("bench_load: setrlimit(RLIMIT_NOFILE)");
		exit(10);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		exit(10);
	while (made < n) {
		int k = sockets ? kind++ % 3 : 1 + kind++ % 2;

		if (k == 2 || n - made < 2) {
			int e = eventfd(made, EFD_NONBLOCK);

			if (e < 0)
				exit(10);
			watch(ep, e);
			made++;
			continue;
		}
		if (k == 0 ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, two) :
			     pipe2(two, O_NONBLOCK))
			exit(10);
		if (write(two[1], "queued", 6) != 6)
			exit(10);
		watch(ep, two[0]);
		watch(ep, two[1]);
		made += 2;
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	sleep_forever();
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long long counter = 0;
	int fd, i, tree = 0, threads = 0, fds = 0, sockets = 1;
	char line[64];

	if (argc < 2) {
		fprintf(stderr, "usage: bench_load STATUS [--anon MIB | --sparse MIB PCT | --tree N | --threads N | --fds N | --pipes N]\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--anon") && i + 1 < argc) {
			touch(strtoul(argv[++i], NULL, 0), 100);
		} else if (!strcmp(argv[i], "--sparse") && i + 2 < argc) {
			size_t mib = strtoul(argv[++i], NULL, 0);

			touch(mib, strtoul(argv[++i], NULL, 0));
		} else if (!strcmp(argv[i], "--tree") && i + 1 < argc) {
			tree = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--fds") && i + 1 < argc) {
			fds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--pipes") && i + 1 < argc) {
			fds = atoi(argv[++i]);
			sockets = 0;
		} else {
			fprintf(stderr, "bench_load: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (fds > 0)
		open_fds(fds, sockets);
	if (tree > 1) {
		int ready[2];
		char c;

		if (pipe(ready))
			return 4;
		spawn_tree(0, tree, ready);
		close(ready[1]);
		for (i = 1; i < tree; i++)
			if (read(ready[0], &c, 1) != 1)
				return 5;
		close(ready[0]);
	}
	for (i = 1; i < threads; i++) {
		pthread_t t;
		pthread_attr_t attr;

		/* Small stacks: 64 threads of the default 8 MiB would be 512 MiB of address space. */
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 << 10);
		if (pthread_create(&t, &attr, thread_main, NULL))
			return 6;
		pthread_attr_destroy(&attr);
	}

	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 7;
	for (;;) {
		int len = snprintf(line, sizeof(line), "counter %llu\n", ++counter);

		if (put_status(fd, line, len))
			return 9;
		nap(10);
	}
}
