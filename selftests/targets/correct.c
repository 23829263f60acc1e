// SPDX-License-Identifier: GPL-2.0
/*
 * Processes in the states selftests/test_correctness.py checkpoints and restarts.
 * Each writes "ready" lines to STATUS once it is in its state, then polls for the
 * file STATUS.go, does its check and writes the result to STATUS.out (written aside
 * and renamed, so a reader sees it whole).
 *
 *   correct sigq STATUS N   blocks SIGUSR1, SIGUSR2 and SIGRTMIN..SIGRTMIN+4 and queues
 *                           N signals to itself with sigqueue (a sequence number as
 *                           the value), cycling through those seven; on go, unblocks
 *                           them and writes "SIG VALUE CODE PID" per delivery, in order
 *   correct shm STATUS MIB  a MAP_SHARED|MAP_ANONYMOUS area of MIB MiB, each page
 *                           stamped with its index and a pattern; asks the kernel to
 *                           page it out (MADV_PAGEOUT); on go, checks every word and
 *                           writes "bad N first I" (N words wrong, I the first bad page)
 *   correct shm2 STATUS MIB the same area shared by a parent and its child, the parent
 *                           stamping the even pages and the child the odd ones; on go,
 *                           each checks every page and writes STATUS.out / STATUS.out2
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static const char *status;

static void die(const char *what)
{
	perror(what);
	exit(3);
}

/* Writes TEXT to STATUS + SUFFIX, whole: aside first, then renamed. */
static void put(const char *suffix, const char *text)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", status, suffix);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, getpid());
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		die("status");
	if (rename(tmp, path))
		die("rename");
}

static void wait_go(void)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s.go", status);
	while (stat(path, &st))
		usleep(10000);
}

/* ---- sigq ---- */

static const int nr_kinds = 7;
static char *log_buf;
static size_t log_len, log_cap;

static int kind(int i)
{
	return i < 2 ? (i ? SIGUSR2 : SIGUSR1) : SIGRTMIN + i - 2;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int n;

	(void)uc;
	if (log_len + 64 > log_cap)
		return;
	n = snprintf(log_buf + log_len, log_cap - log_len, "%d %d %d %d\n", sig,
		     si->si_value.sival_int, si->si_code, si->si_pid);
	log_len += n;
}

static void __attribute__((noreturn)) sigq(int n)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	sigset_t set;
	char line[64];
	int i;

	log_cap = (size_t)n * 64 + 4096;
	log_buf = malloc(log_cap);
	if (!log_buf)
		die("malloc");
	sigemptyset(&set);
	for (i = 0; i < nr_kinds; i++) {
		sigaddset(&set, kind(i));
		sigaddset(&sa.sa_mask, kind(i));
	}
	for (i = 0; i < nr_kinds; i++)
		if (sigaction(kind(i), &sa, NULL))
			die("sigaction");
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	for (i = 0; i < n; i++) {
		union sigval v = { .sival_int = i };

		if (sigqueue(getpid(), kind(i % nr_kinds), v))
			die("sigqueue");
	}
	snprintf(line, sizeof(line), "ready %d\n", n);
	put("", line);
	wait_go();
	if (sigprocmask(SIG_UNBLOCK, &set, NULL))
		die("sigprocmask");
	log_buf[log_len] = 0;
	put(".out", log_buf);
	for (;;)
		pause();
}

/* ---- shm, shm2 ---- */

#define PAGE 4096UL

static uint64_t word(size_t page, size_t i)
{
	return (page << 20) ^ (i * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a;
}

static void stamp(char *mem, size_t pages, size_t from, size_t step)
{
	size_t p, i;

	for (p = from; p < pages; p += step) {
		uint64_t *w = (uint64_t *)(mem + p * PAGE);

		for (i = 0; i < PAGE / 8; i++)
			w[i] = word(p, i);
	}
}

static void verify(const char *suffix, char *mem, size_t pages)
{
	size_t p, i, bad = 0, first = (size_t)-1;
	char line[128];

	for (p = 0; p < pages; p++) {
		uint64_t *w = (uint64_t *)(mem + p * PAGE);

		for (i = 0; i < PAGE / 8; i++) {
			if (w[i] != word(p, i)) {
				bad++;
				if (first == (size_t)-1)
					first = p;
			}
		}
	}
	snprintf(line, sizeof(line), "bad %zu first %zd pages %zu\n", bad,
		 (ssize_t)first, pages);
	put(suffix, line);
}

static void __attribute__((noreturn)) shm(size_t mib, int two)
{
	size_t pages = mib << 8;
	char *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char line[128];
	pid_t child = 0;

	if (mem == MAP_FAILED)
		die("mmap");
	if (!two) {
		stamp(mem, pages, 0, 1);
		/* Page out the area: its pages go to swap, if the machine has any. */
		if (madvise(mem, pages * PAGE, MADV_PAGEOUT))
			die("madvise");
		snprintf(line, sizeof(line), "ready %p\n", (void *)mem);
		put("", line);
		wait_go();
		verify(".out", mem, pages);
		for (;;)
			pause();
	}
	child = fork();
	if (child < 0)
		die("fork");
	stamp(mem, pages, child ? 0 : 1, 2);
	if (child) {
		snprintf(line, sizeof(line), "ready %p child %d\n", (void *)mem, child);
		put("", line);
	} else {
		put(".child", "ready\n");
	}
	wait_go();
	/* The test says go once both have reported ready: both halves are written. */
	verify(child ? ".out" : ".out2", mem, pages);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: correct sigq|shm|shm2 STATUS N\n");
		return 2;
	}
	status = argv[2];
	if (!strcmp(argv[1], "sigq"))
		sigq(atoi(argv[3]));
	if (!strcmp(argv[1], "shm"))
		shm(strtoul(argv[3], NULL, 0), 0);
	if (!strcmp(argv[1], "shm2"))
		shm(strtoul(argv[3], NULL, 0), 1);
	fprintf(stderr, "correct: unknown mode %s\n", argv[1]);
	return 2;
}
