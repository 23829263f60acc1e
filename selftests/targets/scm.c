// SPDX-License-Identifier: GPL-2.0
/*
 * Descriptors in flight (SCM_RIGHTS) in unix sockets' receive queues, which
 * selftests/test_scm.py checkpoints and restarts. The process reports in DIR/scm
 * (report.h); a check that fails is printed on stderr (DIR/stderr) and counted in the
 * report's "errors".
 *
 *   scm state DIR [UID]   (as UID if given) opens DIR/data (DATA below) twice: "held" at
 *                         offset 7, kept open, and "only" at offset 3; makes a pipe. On a
 *                         datagram socket pair it queues message "first" carrying the
 *                         pipe's write end, "held" and "only", then "second" carrying
 *                         nothing, then "third" carrying an eventfd (count 5) and a
 *                         stream socket of another pair, both held; on a stream pair, "ab", then "cd" carrying "held",
 *                         then "ef". It closes the pipe's write end and "only" (held by
 *                         the messages alone from then on), reports "ready 1", waits for
 *                         SIGUSR2 and checks: the messages in order with their
 *                         boundaries and descriptors; the pipe's write end writes to the
 *                         read end it kept; the received "held" is the description it
 *                         holds (kcmp, and a seek through one moves the other); "only"
 *                         is at offset 3 and reads DATA from there; the eventfd and the
 *                         socket received are the ones held (the socket still reaches
 *                         its peer, the eventfd reads 5); the stream reads
 *                         "abcd" with its descriptor, then "ef". Reports "checked 1
 *                         errors E".
 *   scm cycle DIR         a socket pair whose second end is in flight in its own receive
 *                         queue (a cycle for the kernel's garbage collector); "ready 1".
 *   scm unheld DIR        an eventfd in flight that no descriptor holds; "ready 1".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

#define DATA "0123456789abcdefghij"

/* Sends LEN bytes of BUF on S with the N descriptors FDS (none if N is 0). */
static void send_fds(int s, const char *buf, size_t len, const int *fds, int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (n) {
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	if (sendmsg(s, &m, 0) != (ssize_t)len)
		die("sendmsg");
}

/*
 * Receives one message of at most SIZE bytes from S into BUF, without waiting: its length
 * (-errno on failure), the descriptors received into FDS (at most 4), their number into *N.
 * *FLAGS gets msg_flags.
 */
static ssize_t recv_fds(int s, char *buf, size_t size, int *fds, int *n, int *flags)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)] = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;
	ssize_t len;

	*n = 0;
	len = recvmsg(s, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (len < 0)
		return -errno;
	*flags = m.msg_flags;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			*n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(c), sizeof(int) * *n);
		}
	}
	return len;
}

static int open_data(off_t at)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || lseek(fd, at, SEEK_SET) != at)
		die(path);
	return fd;
}

/* Whether A and B are one open file description (kcmp). */
static int same_file(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

/* Whether A and B are one open file description, by kcmp() and by a shared offset. */
static int same_description(int a, int b)
{
	off_t was = lseek(a, 0, SEEK_CUR);
	int shared;

	if (!same_file(a, b))
		return 0;
	lseek(a, 15, SEEK_SET);
	shared = lseek(b, 0, SEEK_CUR) == 15;
	lseek(a, was, SEEK_SET);
	return shared;
}

static void __attribute__((noreturn)) state(void)
{
	int dg[2], st[2], other[2], p[2], held, only, efd, got[4], n, flags;
	uint64_t count = 0;
	char buf[64], in[16];
	ssize_t len;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) || pipe2(p, O_CLOEXEC))
		die("socketpair");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other))
		die("socketpair");
	efd = eventfd(5, EFD_CLOEXEC);
	if (efd < 0)
		die("eventfd");
	held = open_data(7);
	only = open_data(3);
	send_fds(dg[0], "first", 5, (int[]){ p[1], held, only }, 3);
	send_fds(dg[0], "second", 6, NULL, 0);
	send_fds(dg[0], "third", 5, (int[]){ efd, other[0] }, 2);
	send_fds(st[0], "ab", 2, NULL, 0);
	send_fds(st[0], "cd", 2, (int[]){ held }, 1);
	send_fds(st[0], "ef", 2, NULL, 0);
	close(p[1]);
	close(only);
	report("scm", "ready 1 checked 0");
	wait_sig(SIGUSR2);

	len = recv_fds(dg[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == 5 && !memcmp(buf, "first", 5), "first message: %zd bytes", len);
	CHECK(n == 3 && !(flags & MSG_CTRUNC), "first message: %d descriptors, flags %#x", n, flags);
	if (n == 3) {
		CHECK((fcntl(got[0], F_GETFL) & O_ACCMODE) == O_WRONLY, "the pipe's write end");
		CHECK(write(got[0], "through", 7) == 7, "write to the pipe: errno %d", errno);
		CHECK(read(p[0], in, sizeof(in)) == 7 && !memcmp(in, "through", 7),
		      "the pipe's read end reads what its received write end wrote");
		CHECK(lseek(got[1], 0, SEEK_CUR) == 7, "held: offset %lld",
		      (long long)lseek(got[1], 0, SEEK_CUR));
		CHECK(same_description(got[1], held), "the received held is the one held");
		CHECK(!same_description(got[2], held), "only is another description");
		CHECK(lseek(got[2], 0, SEEK_CUR) == 3, "only: offset %lld",
		      (long long)lseek(got[2], 0, SEEK_CUR));
		CHECK(read(got[2], in, 4) == 4 && !memcmp(in, DATA + 3, 4), "only reads from 3");
		CHECK((fcntl(got[2], F_GETFL) & O_ACCMODE) == O_RDWR, "only: O_RDWR");
	}
	len = recv_fds(dg[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == 6 && !memcmp(buf, "second", 6) && n == 0,
	      "second message: %zd bytes, %d descriptors", len, n);
	len = recv_fds(dg[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == 5 && !memcmp(buf, "third", 5) && n == 2,
	      "third message: %zd bytes, %d descriptors", len, n);
	if (n == 2) {
		CHECK(same_file(got[0], efd) && read(got[0], &count, 8) == 8 && count == 5,
		      "the eventfd held, its count 5: %llu", (unsigned long long)count);
		CHECK(same_file(got[1], other[0]) && write(got[1], "s", 1) == 1 &&
		      read(other[1], in, 1) == 1 && in[0] == 's',
		      "the socket held, still connected to its peer");
	}
	len = recv_fds(dg[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == -EAGAIN, "nothing after the third message: %zd", len);

	len = recv_fds(st[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == 4 && !memcmp(buf, "abcd", 4), "stream: %zd bytes first", len);
	CHECK(n == 1 && same_description(got[0], held), "stream: %d descriptors, held", n);
	len = recv_fds(st[1], buf, sizeof(buf), got, &n, &flags);
	CHECK(len == 2 && !memcmp(buf, "ef", 2) && n == 0, "stream: then %zd bytes, %d fds", len, n);
	report("scm", "ready 1 checked 1 errors %d", errors);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int s[2], e;

	if (argc < 3)
		return 2;
	dir = argv[2];
	block_usr_signals();
	if (!strcmp(argv[1], "state")) {
		if (argc > 3)
			drop_to(argv[3]);
		state();
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
		die("socketpair");
	if (!strcmp(argv[1], "cycle")) {
		send_fds(s[0], "x", 1, (int[]){ s[1] }, 1);
	} else if (!strcmp(argv[1], "unheld")) {
		e = eventfd(3, 0);
		send_fds(s[0], "x", 1, (int[]){ e }, 1);
		close(e);
	} else {
		return 2;
	}
	report("scm", "ready 1");
	for (;;)
		pause();
}
