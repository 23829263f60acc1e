// SPDX-License-Identifier: GPL-2.0
/*
 * Processes in a state that restart cannot rebuild, for test_refusals.py: the
 * checkpoint must refuse them, naming the pid, the fd or object and its kind,
 * and leave them running. It sets up the state MODE asks for, reports in
 * STATUS.info what it made (pid=, fd=, ...), then counts forever, writing
 * "counter N mem OK|BAD sig N" at the start of STATUS every 10 ms: mem tells
 * whether its memory still holds what it wrote, sig counts the signals of
 * signal-driven I/O it got.
 *
 *   refusals STATUS MODE
 *
 * MODE: memfd (a memfd with contents, open for writing only), devzero (an fd on its own shared
 * anonymous memory, through /proc/self/map_files), pipe2 (a second open file
 * description of a pipe's read end, through /proc/self/fd), rmcwd (its working
 * directory removed, and the directory it was in), rmdirfd (a directory held open and
 * removed, and the directory it was in: info fd=, dir=), rmnode (a character device node,
 * /dev/null's number, held open and unlinked, as root: info fd=, path=), shm (a SysV shared memory segment attached), shm-child (the
 * same, attached by the parent before fork: the child's pid is in no ipc record;
 * info child=), msg (a SysV message queue it sent to), sem (a SysV semaphore it
 * changed), async (O_ASYNC pipe owned by itself, F_SETSIG SIGUSR1, and a pipe owned by
 * its parent, outside the tree: info ofd=, owner=), gsbase (a gs
 * base set with arch_prctl), grown (shared anonymous memory grown with
 * mremap past its object; info addr=), thread-files (a thread that unshared its
 * descriptor table: rstr's plan cannot build it; info tid=), vm-umask (a
 * CLONE_VM child with a umask of its own; info child=), fanotify (a fanotify group with a
 * mark on STATUS's directory, as root: info fd=, dir=), plain (nothing of these).
 * Several modes separated by commas set up each (memfd,gsbase,grown,sem).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#define WORDS 512

static volatile sig_atomic_t sig_count;
static uint64_t *mem;		/* memory whose contents are checked */
static uint64_t gs_word = 42;

static volatile pid_t thread_tid;

/* A thread with a descriptor table of its own. */
static void *unshare_files(void *arg)
{
	(void)arg;
	if (unshare(CLONE_FILES))
		thread_tid = -1;
	else
		thread_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

/* A process sharing its parent's memory, with a umask of its own: raw system calls only. */
static int vm_child(void *arg)
{
	(void)arg;
	syscall(SYS_umask, 077);
	for (;;)
		syscall(SYS_pause);
	return 0;
}

static void on_sig(int sig)
{
	(void)sig;
	sig_count++;
}

static void fill(uint64_t *p)
{
	for (int i = 0; i < WORDS; i++)
		p[i] = 0x5eed0000u + i;
}

static int intact(void)
{
	if (!mem)
		return 1;
	for (int i = 0; i < WORDS; i++)
		if (mem[i] != 0x5eed0000u + i)
			return 0;
	return 1;
}

static int attach_shm(char *info, int n, size_t size)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

	if (id < 0)
		return -1;
	mem = shmat(id, NULL, 0);
	if (mem == (void *)-1)
		return -1;
	/* Removed now: it goes away with its last user, the test leaves nothing behind. */
	shmctl(id, IPC_RMID, NULL);
	fill(mem);
	return snprintf(info + n, size - n, "shmid=%d\naddr=%p\n", id, (void *)mem);
}

int main(int argc, char **argv)
{
	char info[4096], line[160], path[4200];
	const char *status, *mode;
	unsigned long long counter = 0;
	int fd, n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: refusals STATUS MODE\n");
		return 2;
	}
	status = argv[1];
	mode = argv[2];
	n += snprintf(info + n, sizeof(info) - n, "pid=%d\n", getpid());

	/* Several modes at once, separated by commas (for ckpt check). */
	for (mode = strtok(strdup(argv[2]), ","); mode; mode = strtok(NULL, ",")) {
		if (!strcmp(mode, "memfd")) {
			int m = memfd_create("ckpt-test", 0), w;

			/* Left open for writing only: its content cannot be read back. */
			snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
			if (m < 0 || write(m, "memfd contents", 14) != 14)
				return 3;
			w = open(path, O_WRONLY);
			if (w < 0 || close(m))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\n", w);
		} else if (!strcmp(mode, "devzero")) {
			int z;

			mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (mem == MAP_FAILED)
				return 3;
			fill(mem);
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
				 (unsigned long)mem, (unsigned long)mem + 4096);
			z = open(path, O_RDWR);
			if (z < 0)
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\naddr=%p\n", z, (void *)mem);
		} else if (!strcmp(mode, "pipe2")) {
			int p[2], again;

			if (pipe(p) || write(p[1], "hi", 2) != 2)
				return 3;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
			again = open(path, O_RDONLY);
			if (again < 0)
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\nfirst=%d\n", again, p[0]);
		} else if (!strcmp(mode, "rmcwd")) {
			char sub[4300];

			/* Removed, and so is the directory it was in: nowhere to make it again. */
			snprintf(path, sizeof(path), "%s.dir", status);
			snprintf(sub, sizeof(sub), "%s/in", path);
			if (mkdir(path, 0755) || mkdir(sub, 0755) || chdir(sub) || rmdir(sub) ||
			    rmdir(path))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "dir=%s\n", sub);
		} else if (!strcmp(mode, "rmdirfd")) {
			char sub[4300];
			int fd;

			/* Held open and removed with the directory it was in. */
			snprintf(path, sizeof(path), "%s.held", status);
			snprintf(sub, sizeof(sub), "%s/in", path);
			if (mkdir(path, 0755) || mkdir(sub, 0755))
				return 3;
			fd = open(sub, O_RDONLY | O_DIRECTORY);
			if (fd < 0 || rmdir(sub) || rmdir(path))
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\ndir=%s\n", fd, sub);
		} else if (!strcmp(mode, "rmnode")) {
			int fd;

			snprintf(path, sizeof(path), "%s.node", status);
			if (mknod(path, S_IFCHR | 0600, makedev(1, 3)))
				return 3;
			fd = open(path, O_RDONLY);
			if (fd < 0 || unlink(path))
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\npath=%s\n", fd, path);
		} else if (!strcmp(mode, "shm")) {
			int r = attach_shm(info, n, sizeof(info));

			if (r < 0)
				return 3;
			n += r;
		} else if (!strcmp(mode, "shm-child")) {
			int r = attach_shm(info, n, sizeof(info));
			pid_t child;

			if (r < 0)
				return 3;
			n += r;
			child = fork();
			if (child < 0)
				return 4;
			if (child == 0) {
				/* The child counts into STATUS.child, the parent waits for it. */
				snprintf(path, sizeof(path), "%s.child", status);
				status = strdup(path);
				n = snprintf(info, sizeof(info), "pid=%d\naddr=%p\n", getpid(), (void *)mem);
			} else {
				n += snprintf(info + n, sizeof(info) - n, "child=%d\n", child);
			}
		} else if (!strcmp(mode, "msg")) {
			struct { long type; char text[8]; } m = { 1, "queued" };
			int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);

			if (id < 0 || msgsnd(id, &m, sizeof(m.text), 0))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "msqid=%d\n", id);
		} else if (!strcmp(mode, "sem")) {
			struct sembuf op = { .sem_num = 1, .sem_op = 1 };
			int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);

			if (id < 0 || semop(id, &op, 1))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "semid=%d\n", id);
		} else if (!strcmp(mode, "async")) {
			struct sigaction sa = { .sa_handler = on_sig, .sa_flags = SA_RESTART };
			int p[2], o[2];

			sigemptyset(&sa.sa_mask);
			sigaction(SIGUSR1, &sa, NULL);
			if (pipe(p) || fcntl(p[0], F_SETOWN, getpid()) || fcntl(p[0], F_SETSIG, SIGUSR1) ||
			    fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK))
				return 3;
			/* Owned by the parent, outside the tree (no O_ASYNC: it is never signalled). */
			if (pipe(o) || fcntl(o[0], F_SETOWN, getppid()))
				return 3;
			/* Input makes SIGUSR1: one now, to show the setup works. */
			if (write(p[1], "x", 1) != 1)
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\nwfd=%d\nofd=%d\nowner=%d\n",
				      p[0], p[1], o[0], getppid());
		} else if (!strcmp(mode, "gsbase")) {
			if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)&gs_word))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "gs_base=%p\n", (void *)&gs_word);
		} else if (!strcmp(mode, "grown")) {
			void *g;

			mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (mem == MAP_FAILED)
				return 3;
			fill(mem);
			/* The area grows, its shared object does not: the new page is past its end. */
			g = mremap(mem, 4096, 8192, MREMAP_MAYMOVE);
			if (g == MAP_FAILED)
				return 4;
			mem = g;
			n += snprintf(info + n, sizeof(info) - n, "addr=%p\n", g);
		} else if (!strcmp(mode, "fanotify")) {
			char *d = dirname(strdup(status));
			int f = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);

			/* Opens of the files in STATUS's directory are its events. */
			if (f < 0 || fanotify_mark(f, FAN_MARK_ADD, FAN_OPEN | FAN_EVENT_ON_CHILD,
						   AT_FDCWD, d))
				return 3;
			n += snprintf(info + n, sizeof(info) - n, "fd=%d\ndir=%s\n", f, d);
		} else if (!strcmp(mode, "vm-umask")) {
			/* Made once the status file is open: the same descriptors as its parent. */
		} else if (!strcmp(mode, "thread-files")) {
			pthread_t t;

			if (pthread_create(&t, NULL, unshare_files, NULL))
				return 3;
			while (!thread_tid)
				usleep(1000);
			if (thread_tid < 0)
				return 4;
			n += snprintf(info + n, sizeof(info) - n, "tid=%d\n", (int)thread_tid);
		} else if (strcmp(mode, "plain")) {
			return 2;
		}
	}
	mode = argv[2];

	fd = open(status, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 7;
	if (!strcmp(mode, "vm-umask")) {
		static char stack[64 << 10] __attribute__((aligned(16)));
		pid_t c = clone(vm_child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);

		if (c < 0)
			return 3;
		n += snprintf(info + n, sizeof(info) - n, "child=%d\n", c);
	}
	if (write_info(status, info, n))
		return 8;
	for (;;) {
		int len;

		counter++;
		len = snprintf(line, sizeof(line), "counter %llu mem %s sig %d\n", counter,
			       intact() ? "OK" : "BAD", (int)sig_count);
		if (put_status(fd, line, len))
			return 9;
		nap(10);
	}
}
