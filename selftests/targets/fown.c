// SPDX-License-Identifier: GPL-2.0
/*
 * Owners, signal-driven I/O, descriptor flags and socket timeouts that
 * selftests/test_fown.py checkpoints and restarts. Each process reports in DIR/NAME
 * (report.h); a check that fails is printed on stderr (DIR/stderr) and counted in "errors".
 *
 *   fown state DIR [UID]   (as UID if given) the parent holds
 *       pipe P (read end p, write end w): O_NONBLOCK | O_ASYNC, F_SETOWN(self), F_SETSIG(RT+1)
 *       unix stream socket s (peer in the child): O_ASYNC, F_SETOWN_EX(F_OWNER_TID, self),
 *           F_SETSIG(RT+2)
 *       pipe Q (read end q, write end qw): O_NONBLOCK | O_ASYNC, F_SETOWN(-its process
 *           group), F_SETSIG(RT+3): both parent and child get RT+3
 *       a unix datagram socket with SO_RCVTIMEO 200 ms, a UDP socket on 127.0.0.1 with
 *           SO_RCVTIMEO 300 ms and SO_SNDTIMEO 700 ms
 *       DIR/plain O_RDWR | O_APPEND | O_NONBLOCK (and F_SETOWN(self), no O_ASYNC),
 *           O_RDONLY | O_NOATIME, O_RDONLY | O_DIRECT ("direct": its fd, -1 where the
 *           filesystem refuses O_DIRECT), O_PATH; DIR itself O_PATH | O_DIRECTORY
 *     (RT is SIGRTMIN.) The child, in the parent's group, holds the socket's peer and
 *     writes a byte to it on SIGUSR1. Run as root (no UID), a third process "nobody"
 *     drops to uid 65534 and holds pipe D (write end dw) owned by the parent (F_SETOWN by
 *     uid 65534: the kernel does not deliver its RT+4 to root's process) and pipe E
 *     (write end ew) owned by itself (RT+4 delivered). Every signal handler counts its
 *     signal and keeps si_fd ("sigK N fdK F"); pipes and the socket are drained after each.
 *     On SIGUSR2 the parent checks that F_GETFL, F_GETOWN_EX and F_GETSIG of each
 *     descriptor are what they were, the timeouts (getsockopt, and a recv that times out
 *     in about that time), the O_PATH descriptors, that the O_DIRECT one still has
 *     O_DIRECT and reads DIR/plain with an aligned read: "checked N errors E".
 *   fown outside DIR       one process, a pipe F_SETOWN to its parent (outside the tree),
 *                          without O_ASYNC.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

#define NFD 12

static int errors, checked;
static volatile sig_atomic_t count[5], last_fd[5], usr1, usr2;


static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int k = sig - SIGRTMIN;

	(void)uc;
	if (k >= 1 && k <= 4) {
		count[k]++;
		last_fd[k] = si->si_fd;
	}
}

static void on_usr(int sig)
{
	if (sig == SIGUSR1)
		usr1++;
	else
		usr2++;
}

static void handlers(void)
{
	struct sigaction sa = { 0 };
	int k;

	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	for (k = 1; k <= 4; k++)
		if (sigaction(SIGRTMIN + k, &sa, NULL))
			die("sigaction");
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_usr;
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL))
		die("sigaction");
}

/* O_ASYNC on FD, owned by (TYPE, PID), signal SIG. */
static void async_owned(int fd, int type, pid_t pid, int sig, int async)
{
	struct f_owner_ex o = { .type = type, .pid = pid };

	if (fcntl(fd, F_SETOWN_EX, &o) || fcntl(fd, F_SETSIG, sig))
		die("F_SETOWN_EX, F_SETSIG");
	if (async && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC))
		die("F_SETFL O_ASYNC");
}

static void drain(int fd)
{
	char buf[256];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 ||
	       (errno == ENOTSOCK && read(fd, buf, sizeof(buf)) > 0))
		;
}

/* Waits for a signal (any), with every signal unblocked. */
static void wait_any(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigsuspend(&none);
}

static long ms_of(struct timeval tv)
{
	return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void set_timeo(int s, int opt, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(s, SOL_SOCKET, opt, &tv, sizeof(tv)))
		die("setsockopt timeout");
}

/* Whether the timeout OPT of S is MS milliseconds. */
static int check_timeo(int s, int opt, long ms, const char *what)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	int ok = !getsockopt(s, SOL_SOCKET, opt, &tv, &len) && ms_of(tv) == ms;

	CHECK(ok, "%s: %ld ms, not %ld", what, ms_of(tv), ms);
	return ok;
}

/* A recv that must time out after about MS milliseconds. */
static void check_recv_times_out(int s, long ms, const char *what)
{
	double t = now(), took;
	char c;
	ssize_t n;

	do
		n = recv(s, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	took = now() - t;
	CHECK(n < 0 && errno == EAGAIN, "%s: recv returned %zd (errno %d)", what, n, errno);
	CHECK(took >= ms / 1000.0 * 0.9 && took < ms / 1000.0 + 3, "%s: recv timed out after %.3f s",
	      what, took);
}

static void child_main(int peer)
{
	for (;;) {
		report("child", "ready 1 pg %d fd3 %d", (int)count[3], (int)last_fd[3]);
		wait_any();
		if (usr1) {
			usr1 = 0;
			if (write(peer, "x", 1) != 1)
				die("write to the peer");
		}
	}
}

static void nobody_main(void)
{
	int d[2], e[2];

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		die("dropping to 65534");
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");
	if (pipe2(d, O_NONBLOCK) || pipe2(e, O_NONBLOCK))
		die("pipe2");
	async_owned(d[0], F_OWNER_PID, getppid(), SIGRTMIN + 4, 1);
	async_owned(e[0], F_OWNER_PID, getpid(), SIGRTMIN + 4, 1);
	for (;;) {
		report("nobody", "ready 1 d %d dw %d e %d ew %d sig4 %d fd4 %d", d[0], d[1], e[0],
		       e[1], (int)count[4], (int)last_fd[4]);
		wait_any();
		drain(d[0]);
		drain(e[0]);
	}
}

int main(int argc, char **argv)
{
	int fds[NFD], flags[NFD], sigs[NFD], p[2], q[2], sv[2], tv[2], u, plain, dirfd;
	struct f_owner_ex owners[NFD];
	int noatime, direct, opath, n = 0, i, root;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	pid_t child, nobody = 0;
	char path[4200];
	struct stat st;
	/* An O_DIRECT read's buffer, length and offset: aligned to the page. */
	static char aligned[4096] __attribute__((aligned(4096)));

	if (argc < 3) {
		fprintf(stderr, "usage: fown state|outside DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	handlers();
	if (!strcmp(argv[1], "outside")) {
		if (pipe(p))
			die("pipe");
		/* No O_ASYNC: its parent must get no signal (a pipe's close sends one). */
		async_owned(p[0], F_OWNER_PID, getppid(), SIGRTMIN + 1, 0);
		report("outside", "ready 1 fd %d owner %d", p[0], getppid());
		for (;;)
			pause();
	}
	root = argc <= 3;
	if (!root && (setgroups(0, NULL) || setgid(atoi(argv[3])) || setuid(atoi(argv[3]))))
		die("dropping to UID");
	/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");

	if (pipe2(p, O_NONBLOCK) || pipe2(q, O_NONBLOCK) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || socketpair(AF_UNIX, SOCK_DGRAM, 0, tv))
		die("pipes and sockets");
	u = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(u, (struct sockaddr *)&a, &alen))
		die("UDP socket");
	set_timeo(tv[0], SO_RCVTIMEO, 200);
	set_timeo(u, SO_RCVTIMEO, 300);
	set_timeo(u, SO_SNDTIMEO, 700);
	async_owned(p[0], F_OWNER_PID, getpid(), SIGRTMIN + 1, 1);
	async_owned(sv[0], F_OWNER_TID, gettid(), SIGRTMIN + 2, 1);
	async_owned(q[0], F_OWNER_PGRP, getpgrp(), SIGRTMIN + 3, 1);

	snprintf(path, sizeof(path), "%s/plain", dir);
	plain = open(path, O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK, 0644);
	if (plain < 0 || write(plain, "plain", 5) != 5)
		die("DIR/plain");
	async_owned(plain, F_OWNER_PID, getpid(), 0, 0);
	noatime = open(path, O_RDONLY | O_NOATIME);
	direct = open(path, O_RDONLY | O_DIRECT);
	opath = open(path, O_PATH);
	dirfd = open(dir, O_PATH | O_DIRECTORY);
	if (noatime < 0 || opath < 0 || dirfd < 0)
		die("O_NOATIME, O_PATH");

	child = fork();
	if (child < 0)
		die("fork");
	if (!child)
		child_main(sv[1]);
	close(sv[1]);
	if (root) {
		nobody = fork();
		if (nobody < 0)
			die("fork");
		if (!nobody)
			nobody_main();
	}

	for (i = 0; i < 2; i++) {
		fds[n++] = p[i];
		fds[n++] = q[i];
	}
	fds[n++] = sv[0];
	fds[n++] = tv[0];
	fds[n++] = u;
	fds[n++] = plain;
	fds[n++] = noatime;
	fds[n++] = opath;
	fds[n++] = dirfd;
	if (direct >= 0)
		fds[n++] = direct;
	for (i = 0; i < n; i++) {
		flags[i] = fcntl(fds[i], F_GETFL);
		sigs[i] = fcntl(fds[i], F_GETSIG);
		if (fcntl(fds[i], F_GETOWN_EX, &owners[i]))
			owners[i].type = owners[i].pid = -1;
	}

	for (;;) {
		static const char fmt[] = "ready 1 child %d nobody %d p %d w %d q %d qw %d s %d direct %d udp %d sig1 %d fd1 %d sig2 %d fd2 %d sig3 %d fd3 %d sig4 %d checked %d errors %d";

		report("parent", fmt, child, nobody, p[0], p[1], q[0], q[1], sv[0], direct,
		       ntohs(a.sin_port), (int)count[1], (int)last_fd[1], (int)count[2],
		       (int)last_fd[2], (int)count[3], (int)last_fd[3], (int)count[4], checked,
		       errors);
		wait_any();
		drain(p[0]);
		drain(q[0]);
		drain(sv[0]);
		if (!usr2)
			continue;
		usr2 = 0;
		for (i = 0; i < n; i++) {
			struct f_owner_ex o;
			int f = fcntl(fds[i], F_GETFL), s = fcntl(fds[i], F_GETSIG);

			CHECK(f == flags[i], "fd %d: F_GETFL %#o, not %#o", fds[i], f, flags[i]);
			CHECK(s == sigs[i], "fd %d: F_GETSIG %d, not %d", fds[i], s, sigs[i]);
			if (fcntl(fds[i], F_GETOWN_EX, &o))
				o.type = o.pid = -1;
			CHECK(o.type == owners[i].type && o.pid == owners[i].pid,
			      "fd %d: owner %d/%d, not %d/%d", fds[i], o.type, o.pid,
			      owners[i].type, owners[i].pid);
		}
		CHECK(flags[n - (direct >= 0 ? 4 : 3)] & O_NOATIME, "O_NOATIME was not set");
		CHECK((fcntl(opath, F_GETFL) & O_PATH) && (fcntl(dirfd, F_GETFL) & O_PATH),
		      "O_PATH lost");
		CHECK(fstatat(dirfd, "plain", &st, 0) == 0 && st.st_size == 5,
		      "plain through the O_PATH directory");
		CHECK(fstat(opath, &st) == 0 && st.st_size == 5, "fstat of the O_PATH file");
		CHECK(read(opath, path, 1) < 0 && errno == EBADF, "an O_PATH file reads");
		if (direct >= 0) {
			CHECK(fcntl(direct, F_GETFL) & O_DIRECT, "O_DIRECT lost");
			CHECK(pread(direct, aligned, sizeof(aligned), 0) == 5 &&
			      !memcmp(aligned, "plain", 5), "an O_DIRECT read of plain");
		}
		/* A recv without its timeout would wait for ever: only with it. */
		if (check_timeo(tv[0], SO_RCVTIMEO, 200, "unix SO_RCVTIMEO"))
			check_recv_times_out(tv[0], 200, "unix");
		if (check_timeo(u, SO_RCVTIMEO, 300, "UDP SO_RCVTIMEO"))
			check_recv_times_out(u, 300, "UDP");
		check_timeo(u, SO_SNDTIMEO, 700, "UDP SO_SNDTIMEO");
		checked++;
	}
}
