// SPDX-License-Identifier: GPL-2.0
/*
 * Scheduling, I/O and memory-locking attributes that selftests/test_attrs.py checkpoints
 * and restarts. The process reports in DIR/attrs (report.h); a check that fails is printed
 * on stderr (DIR/stderr) and counted in the report's "errors".
 *
 *   attrs state DIR [UID]   three threads (main, t1, t2), each with a scheduling policy,
 *                           priority, CPU affinity and I/O priority of its own:
 *                             as root:  main SCHED_FIFO 7 | SCHED_RESET_ON_FORK, CPU 0,
 *                                       best-effort/3; t1 SCHED_RR 3, CPU 1, real-time/2;
 *                                       t2 SCHED_IDLE, CPUs 0-1 (set), no I/O priority;
 *                             as UID:   main SCHED_BATCH, CPU 0, best-effort/5;
 *                                       t1 SCHED_FIFO 5 (RLIMIT_RTPRIO 20, set before
 *                                       dropping to UID), CPU 1, idle; t2 SCHED_IDLE,
 *                                       CPUs 0-1 (set), best-effort/7;
 *                           a 64 KiB area mlock()ed (a pattern in it) and a 16 KiB one not,
 *                           then mlockall(MCL_FUTURE) (RLIMIT_MEMLOCK 1 MiB). Reports "ready 1
 *                           t1 TID t2 TID" and waits for SIGUSR2; then checks every thread's
 *                           attributes (by its tid), the pattern, that the locked area is
 *                           locked whole and the other not at all (/proc/self/smaps), VmLck,
 *                           and that a new mapping is locked (MCL_FUTURE): "checked 1 errors E".
 *   attrs deadline DIR      itself SCHED_DEADLINE (1 ms every 100 ms); "ready 1"; waits.
 *   attrs onfault DIR       an area locked with mlock2(MLOCK_ONFAULT); "ready 1"; waits.
 *   attrs mclonfault DIR    mlockall(MCL_FUTURE | MCL_ONFAULT); "ready 1"; waits.
 *   attrs overlimit DIR     as root, a 64 KiB area mlock()ed; then RLIMIT_MEMLOCK 4096 and
 *                           uid 65534 (without CAP_IPC_LOCK now); "ready 1"; waits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO(class, level) (((class) << 13) | (level))
#define IO_RT 1
#define IO_BE 2
#define IO_IDLE 3
#define LOCKED_LEN (64 << 10)
#define PLAIN_LEN (16 << 10)

/* What one thread is given, and checked for after the restart. */
struct want {
	const char *name;
	int policy;		/* with SCHED_RESET_ON_FORK or'ed in */
	int prio;
	int cpus;		/* bit n: CPU n */
	int ioprio;
	pid_t tid;
};

static struct want as_root[3] = {
	{ "main", SCHED_FIFO | SCHED_RESET_ON_FORK, 7, 1, IOPRIO(IO_BE, 3) },
	{ "t1", SCHED_RR, 3, 2, IOPRIO(IO_RT, 2) },
	{ "t2", SCHED_IDLE, 0, 3, 0 },
};

static struct want as_user[3] = {
	{ "main", SCHED_BATCH, 0, 1, IOPRIO(IO_BE, 5) },
	{ "t1", SCHED_FIFO, 5, 2, IOPRIO(IO_IDLE, 0) },
	{ "t2", SCHED_IDLE, 0, 3, IOPRIO(IO_BE, 7) },
};

static pid_t tids[3];

static void *thread_main(void *arg)
{
	tids[(long)arg] = gettid();
	for (;;)
		pause();
	return NULL;
}

static void give(struct want *w)
{
	struct sched_param p = { .sched_priority = w->prio };
	cpu_set_t set;
	int c;

	CPU_ZERO(&set);
	for (c = 0; c < 32; c++)
		if (w->cpus & (1 << c))
			CPU_SET(c, &set);
	if (sched_setaffinity(w->tid, sizeof(set), &set))
		die("sched_setaffinity");
	if (sched_setscheduler(w->tid, w->policy, &p))
		die("sched_setscheduler");
	if (w->ioprio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, w->tid, w->ioprio))
		die("ioprio_set");
}

static void check(struct want *w)
{
	struct sched_param p;
	cpu_set_t set;
	int got, c, cpus = 0;

	got = sched_getscheduler(w->tid);
	CHECK(got == w->policy, "%s: policy %#x, want %#x", w->name, got, w->policy);
	CHECK(!sched_getparam(w->tid, &p) && p.sched_priority == w->prio,
	      "%s: priority %d, want %d", w->name, p.sched_priority, w->prio);
	CHECK(!sched_getaffinity(w->tid, sizeof(set), &set), "%s: sched_getaffinity", w->name);
	for (c = 0; c < 32; c++)
		if (CPU_ISSET(c, &set))
			cpus |= 1 << c;
	CHECK(cpus == w->cpus, "%s: CPUs %#x, want %#x", w->name, cpus, w->cpus);
	got = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, w->tid);
	CHECK(got == w->ioprio, "%s: I/O priority %#x, want %#x", w->name, got, w->ioprio);
}

/* The "Locked:" kB of the area at @addr in /proc/self/smaps; -1 if not found. */
static long locked_kb(void *addr)
{
	char line[512], start[32];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		die("/proc/self/smaps");
	snprintf(start, sizeof(start), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') &&
		    strncmp(line, "Locked", 6))
			in = !strncmp(line, start, strlen(start));
		else if (in && sscanf(line, "Locked: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* VmLck of /proc/self/status, in kB. */
static long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static char pattern(long i)
{
	return 'A' + (i * 7 + i / 4096) % 26;
}

static void __attribute__((noreturn)) state(struct want *want)
{
	char *locked, *plain, *fresh;
	pthread_t t;
	sigset_t set;
	long i;
	int sig, ok = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (i = 1; i < 3; i++) {
		errno = pthread_create(&t, NULL, thread_main, (void *)i);
		if (errno)
			die("pthread_create");
	}
	while (!tids[1] || !tids[2])
		nap(1);
	want[0].tid = gettid();
	want[1].tid = tids[1];
	want[2].tid = tids[2];
	for (i = 0; i < 3; i++)
		give(&want[i]);

	locked = mmap(NULL, LOCKED_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	plain = mmap(NULL, PLAIN_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (locked == MAP_FAILED || plain == MAP_FAILED)
		die("mmap");
	for (i = 0; i < LOCKED_LEN; i++)
		locked[i] = pattern(i);
	memset(plain, 'p', PLAIN_LEN);
	if (mlock(locked, LOCKED_LEN))
		die("mlock");
	if (mlockall(MCL_FUTURE))
		die("mlockall");
	report("attrs", "ready 1 t1 %d t2 %d locked %#lx", tids[1], tids[2], (unsigned long)locked);

	sigwait(&set, &sig);
	for (i = 0; i < 3; i++)
		check(&want[i]);
	for (i = 0; i < LOCKED_LEN && ok; i++)
		ok = locked[i] == pattern(i);
	CHECK(ok, "the locked area's byte %ld differs", i - 1);
	CHECK(plain[PLAIN_LEN - 1] == 'p', "the plain area's content differs");
	CHECK(locked_kb(locked) == LOCKED_LEN >> 10, "the locked area has %ld kB locked, want %d",
	      locked_kb(locked), LOCKED_LEN >> 10);
	CHECK(locked_kb(plain) == 0, "the plain area has %ld kB locked, want 0", locked_kb(plain));
	CHECK(vmlck_kb() >= LOCKED_LEN >> 10, "VmLck %ld kB, want at least %d", vmlck_kb(),
	      LOCKED_LEN >> 10);
	/* MCL_FUTURE: a mapping made now is locked, populated at once. */
	fresh = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(fresh != MAP_FAILED, "mmap after the restart: %s", strerror(errno));
	if (fresh != MAP_FAILED)
		CHECK(locked_kb(fresh) == 8, "a new mapping has %ld kB locked, want 8 (MCL_FUTURE)",
		      locked_kb(fresh));
	report("attrs", "checked 1 errors %d", errors);
	for (;;)
		pause();
}

struct sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

int main(int argc, char **argv)
{
	struct rlimit rt = { 20, 20 }, memlock = { 1 << 20, 1 << 20 };
	struct sched_attr a = { .size = sizeof(a), .sched_policy = 6 /* SCHED_DEADLINE */,
				.sched_runtime = 1000000, .sched_deadline = 100000000,
				.sched_period = 100000000 };
	void *p;

	if (argc < 3) {
		fprintf(stderr, "usage: attrs state|deadline|onfault|mclonfault|overlimit DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "state")) {
		if (setrlimit(RLIMIT_MEMLOCK, &memlock))
			die("RLIMIT_MEMLOCK");
		if (argc < 4)
			state(as_root);
		if (setrlimit(RLIMIT_RTPRIO, &rt))
			die("RLIMIT_RTPRIO");
		if (setgroups(0, NULL) || setgid(atoi(argv[3])) || setuid(atoi(argv[3])))
			die("dropping to UID");
		/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
		prctl(PR_SET_DUMPABLE, 1);
		state(as_user);
	}
	if (!strcmp(argv[1], "deadline")) {
		if (syscall(SYS_sched_setattr, 0, &a, 0))
			die("sched_setattr(SCHED_DEADLINE)");
	} else if (!strcmp(argv[1], "onfault")) {
		p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || syscall(SYS_mlock2, p, 8192, 1 /* MLOCK_ONFAULT */))
			die("mlock2(MLOCK_ONFAULT)");
	} else if (!strcmp(argv[1], "overlimit")) {
		p = mmap(NULL, LOCKED_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memlock.rlim_cur = memlock.rlim_max = 4096;
		if (p == MAP_FAILED || mlock(p, LOCKED_LEN) || setrlimit(RLIMIT_MEMLOCK, &memlock))
			die("mlock, then RLIMIT_MEMLOCK");
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			die("dropping to 65534");
		prctl(PR_SET_DUMPABLE, 1);
	} else if (!strcmp(argv[1], "mclonfault")) {
		if (mlockall(MCL_FUTURE | MCL_ONFAULT))
			die("mlockall(MCL_FUTURE | MCL_ONFAULT)");
	} else {
		fprintf(stderr, "attrs: unknown mode %s\n", argv[1]);
		return 2;
	}
	report("attrs", "ready 1");
	for (;;)
		pause();
}
