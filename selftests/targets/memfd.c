// SPDX-License-Identifier: GPL-2.0
/*
 * memfds that selftests/test_memfd.py checkpoints and restarts. Each process reports in
 * DIR/NAME (report.h); a check that fails is printed on stderr (DIR/stderr) and counted
 * in the report's "errors".
 *
 *   memfd state DIR [UID]  (as UID if given) makes memfd "ckpt-memfd" (MFD_ALLOW_SEALING)
 *                          with HEAD bytes of a pattern at 0 and TAIL at 3 MiB, a hole
 *                          between, size 4 MiB, its offset at 777, sealed F_SEAL_GROW |
 *                          F_SEAL_SHRINK | F_SEAL_WRITE; and memfd "plain" (not
 *                          sealable: F_SEAL_SEAL) holding "plain". Forks a child sharing
 *                          both. Both report "ready 1" and wait for SIGUSR2; then the
 *                          parent checks name, content, hole, seals, that writes and
 *                          resizes are still refused, mode and offset, and sends SIGUSR1
 *                          to the child, which checks what it reads and that it sees the
 *                          F_SEAL_SEAL the parent added (one memfd); "checked 1 errors E".
 *   memfd mapped DIR [UID] memfd "shared-only" (2 pages) mapped MAP_SHARED and MAP_PRIVATE,
 *                          its fd closed, a pattern written through the shared mapping and
 *                          page 0 of the private one written apart; memfd "with-fd" mapped
 *                          shared, its fd kept. Forks a child that shares the shared-only
 *                          mapping. After SIGUSR2 the parent checks the contents, then
 *                          writes a new pattern through its shared mapping, which its
 *                          private mapping's unwritten page 1 and the child (after
 *                          SIGUSR1) must see, while private page 0 keeps its own; a write
 *                          through with-fd's mapping is read with pread, and a pwrite
 *                          seen through the mapping; the child sees the parent's POSIX lock
 *                          on with-fd's bytes 0-9, taken before. "checked 1 errors E".
 *   memfd threads DIR [UID] memfd "threaded" (2 pages) mapped MAP_SHARED, its fd closed,
 *                          a pattern written through it; a second thread, then a forked
 *                          child sharing the mapping. After SIGUSR2 the first thread checks
 *                          the contents and lets the second write a new pattern through the
 *                          mapping, which the second checks it read before, the first then
 *                          reads, and the child (after SIGUSR1) must see. "checked 1
 *                          errors E", the parent's with "thread TID".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

#define HEAD 20000
#define TAIL_AT (3 << 20)
#define TAIL 3000
#define SIZE (4 << 20)
#define SEALS (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE)



static char pattern(long i)
{
	return 'a' + (i * 13 + i / 19) % 26;
}

static void fill(int fd, long off, long len)
{
	static char buf[65536];
	long i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(off + i);
	if (pwrite(fd, buf, len, off) != len)
		die("pwrite");
}

static long differ(int fd, long off, long len)
{
	static char buf[65536];
	long i, bad = 0;

	if (pread(fd, buf, len, off) != len)
		return len;
	for (i = 0; i < len; i++)
		bad += buf[i] != pattern(off + i);
	return bad;
}

/* The checks both processes make of the content. */
static void check_content(int m, int plain)
{
	char buf[16];

	CHECK(differ(m, 0, HEAD) == 0, "head differs");
	CHECK(differ(m, TAIL_AT, TAIL) == 0, "tail differs");
	CHECK(pread(m, buf, 8, 1 << 20) == 8 && !memcmp(buf, "\0\0\0\0\0\0\0\0", 8), "hole");
	CHECK(pread(plain, buf, 5, 0) == 5 && !memcmp(buf, "plain", 5), "plain content");
}

/* Forks the child, which reports "ready 1" and returns (0) once it gets SIGUSR1. */
static pid_t fork_child(void)
{
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (!child) {
		report("child", "ready 1 checked 0");
		wait_sig(SIGUSR1);
	}
	return child;
}

/* The child's checks are done: it reports them and waits to be killed. */
static void __attribute__((noreturn)) child_checked(void)
{
	report("child", "ready 1 checked 1 errors %d", errors);
	for (;;)
		pause();
}

#define MAPPED (2 * 4096)

/* Whether @len bytes at @p hold the pattern shifted by @seed. */
static long differ_mem(const char *p, long len, int seed)
{
	long i, bad = 0;

	for (i = 0; i < len; i++)
		bad += p[i] != pattern(i + seed);
	return bad;
}

static void fill_mem(char *p, long len, int seed)
{
	long i;

	for (i = 0; i < len; i++)
		p[i] = pattern(i + seed);
}

/* memfd mapped: memfds reached through their mappings, one with no descriptor left. */
static void __attribute__((noreturn)) mapped(void)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	char *shared, *private, *with, buf[8];
	int m, w;
	pid_t child;

	m = memfd_create("shared-only", 0);
	w = memfd_create("with-fd", 0);
	if (m < 0 || w < 0 || ftruncate(m, MAPPED) || ftruncate(w, 4096))
		die("memfd setup");
	shared = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	private = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
	with = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED || with == MAP_FAILED)
		die("mmap");
	close(m);
	fill_mem(shared, MAPPED, 0);
	/* Private page 0 copied on write, page 1 still the file's. */
	memset(private, 'P', 4096);
	memcpy(with, "before", 6);
	if (fcntl(w, F_SETLK, &lock))
		die("F_SETLK");
	child = fork_child();
	if (!child) {
		/* The parent wrote pattern 5 through its own mapping of the same memfd. */
		CHECK(differ_mem(shared, MAPPED, 5) == 0, "child: the parent's write is not seen");
		/* The parent's lock survived the closing of the restart's own descriptors. */
		CHECK(fcntl(w, F_GETLK, &lock) == 0 && lock.l_type == F_WRLCK &&
		      lock.l_pid == getppid(), "child: the parent's lock on with-fd is gone (%d %d)",
		      lock.l_type, lock.l_pid);
		child_checked();
	}
	report("parent", "ready 1 child %d checked 0 with %d", child, w);
	wait_sig(SIGUSR2);

	/* After the restart. */
	CHECK(differ_mem(shared, MAPPED, 0) == 0, "shared mapping content");
	CHECK(private[0] == 'P' && private[4095] == 'P', "private page 0 lost its own content");
	CHECK(differ_mem(private + 4096, 4096, 4096) == 0, "private page 1 is not the file's");
	fill_mem(shared, MAPPED, 5);
	CHECK(differ_mem(private + 4096, 4096, 4096 + 5) == 0,
	      "a write through the shared mapping is not in the file (private page 1)");
	CHECK(private[0] == 'P', "private page 0 changed with the file");
	CHECK(!memcmp(with, "before", 6), "with-fd mapping content");
	memcpy(with, "after!", 6);
	CHECK(pread(w, buf, 6, 0) == 6 && !memcmp(buf, "after!", 6),
	      "a write through the mapping is not read by the fd");
	CHECK(pwrite(w, "pwrite", 6, 0) == 6 && !memcmp(with, "pwrite", 6),
	      "a pwrite is not seen through the mapping");
	kill(child, SIGUSR1);
	report("parent", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

/* memfd threads: the first thread's word to the second, the second's answer and tid. */
static char *threaded;
static int go, wrote, second_tid;

static void *second_thread(void *arg)
{
	(void)arg;
	__atomic_store_n(&second_tid, gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		nap(10);
	/* After the restart: the same memfd through this thread's view of the mapping. */
	CHECK(differ_mem(threaded, MAPPED, 0) == 0, "second thread: mapping content");
	fill_mem(threaded, MAPPED, 7);
	__atomic_store_n(&wrote, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

/* memfd threads: a memfd only a shared mapping holds, used by two threads and a child. */
static void __attribute__((noreturn)) threads(void)
{
	pthread_t t;
	pid_t child;
	int m, i;

	m = memfd_create("threaded", 0);
	if (m < 0 || ftruncate(m, MAPPED))
		die("memfd setup");
	threaded = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (threaded == MAP_FAILED)
		die("mmap");
	close(m);
	fill_mem(threaded, MAPPED, 0);
	errno = pthread_create(&t, NULL, second_thread, NULL);
	if (errno)
		die("pthread_create");
	while (!__atomic_load_n(&second_tid, __ATOMIC_ACQUIRE))
		nap(1);
	child = fork_child();
	if (!child) {
		/* The second thread of the parent wrote pattern 7 through its mapping. */
		CHECK(differ_mem(threaded, MAPPED, 7) == 0,
		      "child: the second thread's write is not seen");
		child_checked();
	}
	report("parent", "ready 1 child %d checked 0 thread %d", child, second_tid);
	wait_sig(SIGUSR2);

	/* After the restart. */
	CHECK(differ_mem(threaded, MAPPED, 0) == 0, "first thread: mapping content");
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3000 && !__atomic_load_n(&wrote, __ATOMIC_ACQUIRE); i++)
		nap(10);
	CHECK(__atomic_load_n(&wrote, __ATOMIC_ACQUIRE), "the second thread did not write");
	CHECK(differ_mem(threaded, MAPPED, 7) == 0,
	      "first thread: the second thread's write is not seen");
	kill(child, SIGUSR1);
	report("parent", "ready 1 child %d checked 1 errors %d thread %d", child, errors,
	       second_tid);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char link[64], name[256];
	struct stat st, before;
	int m, plain, seals;
	pid_t child;
	ssize_t n;

	if (argc < 3 ||
	    (strcmp(argv[1], "state") && strcmp(argv[1], "mapped") && strcmp(argv[1], "threads"))) {
		fprintf(stderr, "usage: memfd state|mapped|threads DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (argc > 3 && (setgroups(0, NULL) || setgid(atoi(argv[3])) || setuid(atoi(argv[3]))))
		die("dropping to UID");
	/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");
	block_usr_signals();
	if (!strcmp(argv[1], "mapped"))
		mapped();
	if (!strcmp(argv[1], "threads"))
		threads();
	m = memfd_create("ckpt-memfd", MFD_ALLOW_SEALING);
	plain = memfd_create("plain", 0);
	if (m < 0 || plain < 0)
		die("memfd_create");
	fill(m, 0, HEAD);
	fill(m, TAIL_AT, TAIL);
	if (ftruncate(m, SIZE) || lseek(m, 777, SEEK_SET) != 777 ||
	    fcntl(m, F_ADD_SEALS, SEALS) || write(plain, "plain", 5) != 5 || fstat(m, &before))
		die("memfd setup");
	child = fork_child();
	if (!child) {
		check_content(m, plain);
		/* The parent's F_SEAL_SEAL, added after the restart: one memfd for both. */
		CHECK(fcntl(m, F_GET_SEALS) == (SEALS | F_SEAL_SEAL), "child: seals %#x",
		      fcntl(m, F_GET_SEALS));
		child_checked();
	}
	report("parent", "ready 1 child %d checked 0 m %d plain %d", child, m, plain);
	wait_sig(SIGUSR2);

	/* After the restart. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", m);
	n = readlink(link, name, sizeof(name) - 1);
	name[n > 0 ? n : 0] = 0;
	CHECK(!strcmp(name, "/memfd:ckpt-memfd (deleted)"), "name %s", name);
	check_content(m, plain);
	seals = fcntl(m, F_GET_SEALS);
	CHECK(seals == SEALS, "seals %#x, not %#x", seals, SEALS);
	CHECK(pwrite(m, "x", 1, 0) < 0 && errno == EPERM, "a write is not refused: errno %d", errno);
	CHECK(ftruncate(m, SIZE * 2) < 0 && errno == EPERM, "growing is not refused: %d", errno);
	CHECK(ftruncate(m, 1) < 0 && errno == EPERM, "shrinking is not refused: %d", errno);
	CHECK(mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, m, 0) == MAP_FAILED, "a writable mapping");
	CHECK(fcntl(m, F_ADD_SEALS, F_SEAL_SEAL) == 0, "it can take more seals: errno %d", errno);
	CHECK(fcntl(plain, F_GET_SEALS) == F_SEAL_SEAL, "plain seals %#x", fcntl(plain, F_GET_SEALS));
	CHECK(fcntl(plain, F_ADD_SEALS, F_SEAL_GROW) < 0 && errno == EPERM, "plain is sealable");
	CHECK(fstat(m, &st) == 0 && st.st_size == SIZE, "size %ld", (long)st.st_size);
	CHECK(st.st_mode == before.st_mode, "mode %#o, not %#o", st.st_mode, before.st_mode);
	CHECK(st.st_blocks * 512 < 1 << 20, "the hole is gone: %ld blocks", (long)st.st_blocks);
	CHECK(lseek(m, 0, SEEK_CUR) == 777, "offset %ld", (long)lseek(m, 0, SEEK_CUR));
	kill(child, SIGUSR1);
	report("parent", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}
