// SPDX-License-Identifier: GPL-2.0
/*
 * The harness of test_security.py: calls the ioctls of /dev/checkpoint directly, as
 * whatever user runs it, with images it writes itself, bypassing rstr's and ckpt's own
 * checks, so that what refuses is the module (or the kernel under it).
 *
 *   security write-shm IMG N [TASKS]  TASKS (default 1) tasks' memories, each an MM and
 *                                     N one-page shared anonymous areas, each its own
 *                                     object (ids 1..N for the first, N+1..2N...)
 *   security write-vmas IMG N         an MM and N one-page private anonymous areas
 *   security write-file IMG PATH KIND PROT EXE
 *                                     an MM and one area of KIND (3 file private, 4 file
 *                                     shared) mapping PATH with PROT (PROT_* bits); EXE 1:
 *                                     the MM names that area as the executable
 *   security restart IMG CALLS [hold] a restart session of CALLS tasks on one open file;
 *                                     CKPT_IOC_RESTART CALLS times, call i from the i-th
 *                                     CALLS-th part of IMG (the memories of write-shm's
 *                                     TASKS), each result on a line; with hold, waits for a
 *                                     line on stdin before it closes the device; on the
 *                                     open file of fd $CKPT_DEV_FD if set (one passed to it)
 *   security sessions IMG N           N restart sessions of 2 tasks, each on its own open
 *                                     file, all kept open: on each, CKPT_IOC_RESTART from
 *                                     IMG, then once more (the session's second task)
 *   security ioctl-go                 prints CKPT_IOC_RESTART_GO's number
 *   security checkpoint-vm IMG        a child made with clone(CLONE_VM), sharing this
 *                                     process's memory, seized, stopped and checkpointed
 *                                     alone into IMG
 *   security checkpoint IMG dumpable|nondumpable|exec PROG
 *                                     seizes a child (PTRACE_SEIZE) that then stays
 *                                     dumpable, makes itself non-dumpable, or execs PROG
 *                                     (a setuid copy of this program), stops it
 *                                     (PTRACE_INTERRUPT) and checkpoints it into IMG
 *   security idle CMD ACK             what the child execs: says 'r' on fd ACK, then
 *                                     answers on fd ACK each byte read from fd CMD
 *   security peers UID GID PID        a session of 1 task, and CKPT_IOC_RESTART_PEERS of
 *                                     pid PID, UID and GID for a socket pair's end, from
 *                                     a child (not the coordinator), then from itself;
 *                                     prints the end's SO_PEERCRED after ("after")
 *   security timer                    CKPT_IOC_RESTART_TIMER with no session ("nosession"),
 *                                     then in a session it began: on a timer of its own
 *                                     ("own", then its timer_getoverrun: "got"), a
 *                                     negative overrun ("negative"), flags ("flags"), an
 *                                     id it has not ("missing"), and from a child, which
 *                                     has no timers, on the parent's ("child"; "kept":
 *                                     the parent's overrun after)
 *
 * Every result is a "key=value" line on stdout: ret, errno (its name), reason; and what
 * the test checks besides: file_nr (allocated files of /proc/sys/fs/file-nr), mapped (the
 * caller has something where the image's areas are), nofile (RLIMIT_NOFILE), the child's state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/checkpoint.h>
#include <linux/checkpoint_image.h>

/* Where the areas of the written images start: far from the harness's own. */
#define AREA_BASE 0x100000000ULL
#define PAGE 4096ULL
#define DEVICE "/dev/" CKPT_DEVICE_NAME

static void die(const char *what)
{
	perror(what);
	exit(3);
}

static int out_fd;

static void put(__u32 kind, const void *payload, __u32 len, const void *tail, __u32 tail_len)
{
	struct ckpt_hdr h = { .kind = kind, .len = len + tail_len };
	static const char zeros[CKPT_RECORD_ALIGN];
	__u32 pad = (CKPT_RECORD_ALIGN - h.len % CKPT_RECORD_ALIGN) % CKPT_RECORD_ALIGN;

	if (write(out_fd, &h, sizeof(h)) != sizeof(h) ||
	    write(out_fd, payload, len) != (ssize_t)len ||
	    (tail_len && write(out_fd, tail, tail_len) != (ssize_t)tail_len) ||
	    (pad && write(out_fd, zeros, pad) != (ssize_t)pad))
		die("writing the image");
}

/* An MM record that check_mm takes, for @nr_vmas areas. */
static void put_mm(__u32 nr_vmas, __u32 exe_vma)
{
	struct ckpt_mm_rec m = {
		.start_code = 0x400000, .end_code = 0x401000,
		.start_data = 0x600000, .end_data = 0x601000,
		.start_brk = 0x700000, .brk = 0x700000,
		.start_stack = 0x7fff0000, .arg_start = 0x7fff0100, .arg_end = 0x7fff0200,
		.env_start = 0x7fff0200, .env_end = 0x7fff0300,
		.nr_vmas = nr_vmas, .auxv_words = 2, .exe_vma = exe_vma,
	};

	put(CKPT_REC_MM, &m, sizeof(m), NULL, 0);
}

static void open_image(const char *path)
{
	out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out_fd < 0)
		die(path);
}

/* Area @i of a memory: one page, a page of hole before the next. */
static void put_area(__u32 i, __u32 kind, __u32 id)
{
	struct ckpt_vma_rec v = {
		.start = AREA_BASE + 2 * PAGE * i,
		.end = AREA_BASE + 2 * PAGE * i + PAGE,
		.prot = PROT_READ | PROT_WRITE,
		.kind = kind,
	};

	if (kind == CKPT_VMA_ANON_SHARED) {
		v.shm = id;
		v.shm_size = PAGE;
	}
	put(CKPT_REC_VMA, &v, sizeof(v), NULL, 0);
}

/*
 * @tasks memories of N areas of @kind, one page each with a page of hole between
 * them; shared objects numbered on from one memory to the next.
 */
static void write_areas(const char *img, __u32 n, __u32 kind, __u32 tasks)
{
	__u32 i, t;

	open_image(img);
	for (t = 0; t < tasks; t++) {
		put_mm(n, CKPT_NO_EXE);
		for (i = 0; i < n; i++)
			put_area(i, kind, t * n + i + 1);
	}
	if (close(out_fd))
		die(img);
}

static void write_file(const char *img, const char *path, __u32 kind, __u32 prot, int exe)
{
	struct ckpt_vma_rec v = {
		.start = AREA_BASE, .end = AREA_BASE + PAGE,
		.prot = prot, .kind = kind, .path_len = strlen(path),
	};

	open_image(img);
	put_mm(1, exe ? 0 : CKPT_NO_EXE);
	put(CKPT_REC_VMA, &v, sizeof(v), path, v.path_len);
	if (close(out_fd))
		die(img);
}

/* The allocated files of the whole system: the first field of /proc/sys/fs/file-nr. */
static long file_nr(void)
{
	long n = -1;
	FILE *f = fopen("/proc/sys/fs/file-nr", "re");

	if (!f || fscanf(f, "%ld", &n) != 1)
		die("/proc/sys/fs/file-nr");
	fclose(f);
	return n;
}

/* Whether anything is mapped where the images' areas start (mincore: ENOMEM if not). */
static int mapped_at_base(void)
{
	unsigned char v;

	return mincore((void *)AREA_BASE, PAGE, &v) == 0;
}

static void result(const char *what, int ret, int err, const char *reason)
{
	printf("%s ret=%d errno=%s reason=%s\n", what, ret, ret ? strerrorname_np(err) : "0",
	       ret ? reason : "");
}

static void restart(const char *img, __u32 calls, int hold)
{
	struct ckpt_session_args s = { .nr_tasks = calls };
	struct rlimit nofile;
	struct stat st;
	char reason[CKPT_REASON_MAX + 1];
	int dev, fd;
	__u32 i;

	if (getrlimit(RLIMIT_NOFILE, &nofile))
		die("getrlimit");
	printf("nofile=%llu file_nr=%ld\n", (unsigned long long)nofile.rlim_cur, file_nr());
	fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		die(img);
	dev = getenv("CKPT_DEV_FD") ? atoi(getenv("CKPT_DEV_FD")) : open(DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die(DEVICE);
	if (ioctl(dev, CKPT_IOC_RESTART_BEGIN, &s))
		die("CKPT_IOC_RESTART_BEGIN");
	for (i = 0; i < calls; i++) {
		struct ckpt_restart_args a = {
			.fd = fd, .err_fd = -1,
			.reason = (uintptr_t)reason, .reason_len = sizeof(reason),
			.pos = st.st_size / calls * i,
		};
		int ret;

		reason[0] = 0;
		ret = ioctl(dev, CKPT_IOC_RESTART, &a);
		result("call", ret, errno, reason);
		printf("file_nr=%ld\n", file_nr());
	}
	/* Still here, running its own code; what the refused calls left mapped: */
	printf("alive=1 mapped=%d\n", mapped_at_base());
	if (hold) {
		char line[16];

		printf("holding\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			die("stdin");
	}
	if (close(dev) || close(fd))
		die("close");
	printf("closed file_nr=%ld\n", file_nr());
}

/* N sessions at once, one failed call each and a second call on it: what they hold. */
static void sessions(const char *img, __u32 n)
{
	struct ckpt_session_args s = { .nr_tasks = 2 };
	char reason[CKPT_REASON_MAX + 1];
	struct rlimit nofile;
	long most = 0;
	int *devs, fd;
	__u32 i, k;

	devs = calloc(n, sizeof(*devs));
	if (!devs || getrlimit(RLIMIT_NOFILE, &nofile))
		die("sessions");
	printf("nofile=%llu file_nr=%ld\n", (unsigned long long)nofile.rlim_cur, file_nr());
	fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(img);
	for (i = 0; i < n; i++) {
		devs[i] = open(DEVICE, O_RDWR | O_CLOEXEC);
		if (devs[i] < 0)
			die(DEVICE);
		if (ioctl(devs[i], CKPT_IOC_RESTART_BEGIN, &s))
			die("CKPT_IOC_RESTART_BEGIN");
		for (k = 0; k < 2; k++) {
			struct ckpt_restart_args a = {
				.fd = fd, .err_fd = -1,
				.reason = (uintptr_t)reason, .reason_len = sizeof(reason),
			};
			int ret;

			reason[0] = 0;
			ret = ioctl(devs[i], CKPT_IOC_RESTART, &a);
			result(k ? "again" : "call", ret, errno, reason);
		}
		if (file_nr() > most)
			most = file_nr();
	}
	/* Every session still open: what they hold now, and at most on the way. */
	printf("alive=1 mapped=%d open_file_nr=%ld most_file_nr=%ld\n", mapped_at_base(),
	       file_nr(), most);
	for (i = 0; i < n; i++)
		if (close(devs[i]))
			die("close");
	close(fd);
	free(devs);
	printf("closed file_nr=%ld\n", file_nr());
}

/*
 * CKPT_IOC_RESTART_PEERS on a session of one task begun here: the peer credentials
 * UID and GID (and pid PID) for one end of a socket pair; then the same from a child,
 * which is not the coordinator.
 */
static void peers(__u32 uid, __u32 gid, __s32 pid)
{
	struct ckpt_session_args s = { .nr_tasks = 1 };
	char reason[CKPT_REASON_MAX + 1];
	struct ckpt_peer_cred e;
	struct ckpt_peers_args a;
	int dev, sp[2], ret;
	pid_t c;

	dev = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		die("peers");
	if (ioctl(dev, CKPT_IOC_RESTART_BEGIN, &s))
		die("CKPT_IOC_RESTART_BEGIN");
	e = (struct ckpt_peer_cred){ .fd = sp[0], .pid = pid, .flags = CKPT_PEER_CRED,
				     .uid = uid, .gid = gid };
	a = (struct ckpt_peers_args){ .nr_peers = 1, .peers = (uintptr_t)&e,
				      .reason = (uintptr_t)reason, .reason_len = sizeof(reason) };
	c = fork();
	if (c < 0)
		die("fork");
	if (c == 0) {
		reason[0] = 0;
		ret = ioctl(dev, CKPT_IOC_RESTART_PEERS, &a);
		result("child", ret, errno, reason);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(c, NULL, 0) != c)
		die("waitpid");
	reason[0] = 0;
	ret = ioctl(dev, CKPT_IOC_RESTART_PEERS, &a);
	result("call", ret, errno, reason);
	{
		struct ucred u;
		socklen_t len = sizeof(u);

		if (getsockopt(sp[0], SOL_SOCKET, SO_PEERCRED, &u, &len))
			die("SO_PEERCRED");
		printf("after pid=%d uid=%u gid=%u\n", u.pid, u.uid, u.gid);
	}
}

static void timer_overrun(void)
{
	struct ckpt_session_args s = { .nr_tasks = 1 };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct ckpt_timer_args a = { .overrun = 5 };
	timer_t t;
	int dev, ret;
	pid_t c;

	dev = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0 || timer_create(CLOCK_MONOTONIC, &sev, &t))
		die("timer");
	a.id = (int)(intptr_t)t;
	ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
	result("nosession", ret, errno, "");
	if (ioctl(dev, CKPT_IOC_RESTART_BEGIN, &s))
		die("CKPT_IOC_RESTART_BEGIN");
	ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
	result("own", ret, errno, "");
	printf("got overrun=%d\n", timer_getoverrun(t));
	a.overrun = -1;
	ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
	result("negative", ret, errno, "");
	a.overrun = 7;
	a.flags = 1;
	ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
	result("flags", ret, errno, "");
	a.flags = 0;
	a.id += 1000;
	ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
	result("missing", ret, errno, "");
	a.id -= 1000;
	fflush(stdout);
	c = fork();
	if (c < 0)
		die("fork");
	if (c == 0) {
		ret = ioctl(dev, CKPT_IOC_RESTART_TIMER, &a);
		result("child", ret, errno, "");
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(c, NULL, 0) != c)
		die("waitpid");
	printf("kept overrun=%d\n", timer_getoverrun(t));
}

static const char *exec_prog;

/*
 * The child of take(): answers each byte on @cmd, "d" first making itself
 * non-dumpable, with its dumpable state; "x" execs exec_prog in idle mode.
 */
static void child(int cmd, int ack)
{
	char c;

	while (read(cmd, &c, 1) == 1) {
		if (c == 'x') {
			char cmd_s[16], ack_s[16];

			snprintf(cmd_s, sizeof(cmd_s), "%d", cmd);
			snprintf(ack_s, sizeof(ack_s), "%d", ack);
			execl(exec_prog, exec_prog, "idle", cmd_s, ack_s, (char *)NULL);
			die(exec_prog);
		}
		if (c == 'd' && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
			die("PR_SET_DUMPABLE");
		c = '0' + prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		if (write(ack, &c, 1) != 1)
			die("ack");
	}
	exit(0);
}

/* The program the child execs (exec_prog): ready, then the same answers. */
static void idle(int cmd, int ack)
{
	if (write(ack, "r", 1) != 1)
		die("ready");
	child(cmd, ack);
}

static char ask(int cmd, int ack, char c)
{
	if (write(cmd, &c, 1) != 1 || read(ack, &c, 1) != 1)
		die("the child's answer");
	return c;
}

/* The uid line of /proc/PID/status: real, effective, saved, fs. */
static void print_uids(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Uid:", 4)) {
			char *p;

			for (p = line; *p; p++)
				if (*p == '\t' || *p == '\n')
					*p = *p == '\n' ? 0 : ',';
			printf("uids=%s\n", line + 5);
		}
	fclose(f);
}

/* CKPT_IOC_CHECKPOINT of the stopped tracee @pid alone into @img: its result and size. */
static void checkpoint_one(const char *img, pid_t pid)
{
	char reason[CKPT_REASON_MAX + 1] = "";
	struct ckpt_checkpoint_args a;
	struct stat st;
	int ret, fd, dev;

	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dev = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || dev < 0)
		die("open");
	a = (struct ckpt_checkpoint_args){
		.pid = pid, .fd = fd, .reason = (uintptr_t)reason, .reason_len = sizeof(reason),
		.nr_tasks = 1, .tasks = (uintptr_t)&pid,
	};
	ret = ioctl(dev, CKPT_IOC_CHECKPOINT, &a);
	result("checkpoint", ret, errno, reason);
	if (fstat(fd, &st))
		die("fstat");
	printf("image_bytes=%lld\n", (long long)st.st_size);
	close(dev);
	close(fd);
}

static void take(const char *img, char how)
{
	int cmd[2], ack[2], status;
	pid_t pid;

	if (pipe(cmd) || pipe(ack))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		child(cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	ask(cmd[1], ack[0], 'p');
	/* The attach: ptrace's own checks pass, the child is the caller's and dumpable. */
	if (ptrace(PTRACE_SEIZE, pid, 0, 0))
		die("PTRACE_SEIZE");
	/* Then, seized and running, the child makes itself non-dumpable, or execs. */
	if (how == 'x') {
		char c = 0;

		if (write(cmd[1], "x", 1) != 1 || read(ack[0], &c, 1) != 1 || c != 'r')
			die("the exec");
		print_uids(pid);
	}
	printf("dumpable_after_seize=%c\n", ask(cmd[1], ack[0], how == 'd' ? 'd' : 'p'));
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) || waitpid(pid, &status, __WALL) != pid)
		die("PTRACE_INTERRUPT");
	checkpoint_one(img, pid);
	if (ptrace(PTRACE_DETACH, pid, 0, 0))
		die("PTRACE_DETACH");
	/* The child runs on: it answers again. */
	printf("child_answers=%c\n", ask(cmd[1], ack[0], 'p'));
	close(cmd[1]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	printf("child_exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The child of take_vm(): sleeps in this process's memory until killed. */
static int vm_child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void take_vm(const char *img)
{
	size_t size = 256 * 1024;
	char *stack;
	int status;
	pid_t pid;

	stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED)
		die("mmap");
	pid = clone(vm_child, stack + size, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0)
		die("clone");
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0) ||
	    waitpid(pid, &status, __WALL) != pid)
		die("PTRACE_SEIZE");
	checkpoint_one(img, pid);
	/* The child is still there, stopped, not killed by the refusal. */
	printf("child_alive=%d\n", kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0);
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, __WALL) != pid)
		die("waitpid");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	exec_prog = argc == 5 ? argv[4] : NULL;
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "write-shm"))
		write_areas(argv[2], strtoul(argv[3], NULL, 0), CKPT_VMA_ANON_SHARED,
			    argc == 5 ? strtoul(argv[4], NULL, 0) : 1);
	else if (argc == 4 && !strcmp(argv[1], "write-vmas"))
		write_areas(argv[2], strtoul(argv[3], NULL, 0), CKPT_VMA_ANON_PRIVATE, 1);
	else if (argc == 7 && !strcmp(argv[1], "write-file"))
		write_file(argv[2], argv[3], strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0),
			   atoi(argv[6]));
	else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "restart"))
		restart(argv[2], strtoul(argv[3], NULL, 0), argc == 5 && !strcmp(argv[4], "hold"));
	else if (argc == 3 && !strcmp(argv[1], "checkpoint-vm"))
		take_vm(argv[2]);
	else if (argc == 2 && !strcmp(argv[1], "ioctl-go"))
		printf("%#lx\n", (unsigned long)CKPT_IOC_RESTART_GO);
	else if (argc == 4 && !strcmp(argv[1], "sessions"))
		sessions(argv[2], strtoul(argv[3], NULL, 0));
	else if (argc == 4 && !strcmp(argv[1], "checkpoint"))
		take(argv[2], !strcmp(argv[3], "nondumpable") ? 'd' : 'p');
	else if (argc == 5 && !strcmp(argv[1], "checkpoint") && !strcmp(argv[3], "exec"))
		take(argv[2], 'x');
	else if (argc == 5 && !strcmp(argv[1], "peers"))
		peers(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), atoi(argv[4]));
	else if (argc == 2 && !strcmp(argv[1], "timer"))
		timer_overrun();
	else if (argc == 4 && !strcmp(argv[1], "idle"))
		idle(atoi(argv[2]), atoi(argv[3]));
	else {
		fprintf(stderr, "usage: see the head of security.c\n");
		return 2;
	}
	return 0;
}
