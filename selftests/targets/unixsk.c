// SPDX-License-Identifier: GPL-2.0
/*
 * Unix sockets that selftests/test_unix.py checkpoints and restarts (report.h: each
 * process reports in DIR/NAME).
 *
 *   unixsk main DIR     the root holds, each with data queued both ways:
 *                       - a stream pair: 100 KiB (+10 bytes already read) queued for
 *                         s1, "one" "two!" "three" for s0, then s1 shut down for writing;
 *                       - a seqpacket pair: messages of 1, 7, 300 and 4000 bytes for q1
 *                         (q1 dup'ed as q1d: one open file description), 11 and 2222
 *                         for q0;
 *                       - a datagram pair: 3, 17, 1500 and 60000 bytes for g1 (which is
 *                         O_NONBLOCK), 9 and 99 for g0;
 *                       - a stream pair split with its child "child", which answers
 *                         every number the root sends it with the next one;
 *                       - a listening socket bound to DIR/sock (backlog 7) and one to
 *                         the abstract name "ckpt-unixsk-PID" (backlog 3), and a
 *                         connection accepted from each: "client-said" queued for ka,
 *                         "server-said!" for kc; "abstract-server" for xc, which is
 *                         shut down for writing.
 *                       It reports "ready 1 pings N"; on SIGUSR1 it reads everything
 *                       back and reports "verified 1 errors E what W", then serves:
 *                       each client connecting to either name gets "served " and what
 *                       it sent.
 *   unixsk outside DIR FD   holds FD, a socket whose peer the test keeps
 *   unixsk netlink DIR  an AF_NETLINK socket (TCP and UDP ones are test_inet.py's)
 *   unixsk embryos DIR TYPE [UID]
 *                       as user UID if given, a stream (TYPE "stream") or seqpacket
 *                       listening socket bound to DIR/embryos.sock (backlog 2) and three
 *                       clients of it, none accepted: each sends its own data (a stream's
 *                       10, 5000, 70000 bytes; seqpacket messages of 1 and 3, 100 and 300,
 *                       70000 and 5 bytes), the second is then shut down for writing. It
 *                       reports "ready 1"; on SIGUSR1 it accepts three connections and
 *                       checks that each is the next client's (its data, the shutdown of
 *                       the second, a reply each client reads), that no fourth waits,
 *                       and reports "verified 1 errors E what W".
 *   unixsk backlog DIR  a listening socket bound to DIR/backlog, for a client the test
 *                       connects from outside the tree
 *   unixsk passcred DIR a socket pair, one end with SO_PASSCRED
 *   unixsk embryofds DIR
 *                       a listening stream socket bound to DIR/embryofds and a client of
 *                       it, not accepted, that sent "fds" carrying a pipe's read end
 *                       (SCM_RIGHTS), then closed the pipe: the listener is held
 *   unixsk dgramqueued DIR
 *                       a datagram socket bound to DIR/dgram, connected to nothing, with
 *                       messages of 5 and 6 bytes queued from another (unbound) socket,
 *                       which it keeps: the bound one is held
 *                       These report "fd N count C" and count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <linux/net_tstamp.h>
#include <linux/netlink.h>

#include "report.h"

#define BIG (100 * 1024)

/* From the kernel's include/uapi/asm-generic/socket.h, for older C library headers. */
#ifndef SO_INQ
#define SO_INQ 84
#endif
#ifndef SO_RIGHTS_NOTRUNC
#define SO_RIGHTS_NOTRUNC 85
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

/* Byte I of the message of length LEN: a pattern that tells messages and offsets apart. */
static unsigned char pat(size_t len, size_t i)
{
	return (unsigned char)((i * 7 + len * 13 + i / 251) % 253);
}

static void fill(unsigned char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(len, i);
}

static unsigned char buf[BIG + 64];
static int errors;
static char what[256] = "none";

static void bad(const char *fmt, long a, long b)
{
	if (!errors++) {
		snprintf(what, sizeof(what), fmt, a, b);
		for (int i = 0; what[i]; i++)
			if (what[i] == ' ')
				what[i] = '_';
	}
}

static void send_msg(int fd, size_t len)
{
	fill(buf, len);
	if (send(fd, buf, len, MSG_DONTWAIT) != (ssize_t)len)
		die("send");
}

/* The next message on FD is LEN bytes of the pattern. */
static void expect_msg(int fd, size_t len)
{
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

	if (n != (ssize_t)len) {
		bad("message of %ld bytes, want %ld", (long)n, (long)len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pat(len, i)) {
			bad("message of %ld bytes differs at %ld", (long)len, (long)i);
			return;
		}
}

/* The stream FD holds bytes OFF.. of the pattern of LEN: LEN - OFF bytes to read. */
static void expect_stream(int fd, size_t len, size_t off)
{
	size_t at = 0, want = len - off;

	while (at < want) {
		ssize_t n = recv(fd, buf, want - at, MSG_DONTWAIT);

		if (n <= 0) {
			bad("stream: %ld bytes of %ld", (long)at, (long)want);
			return;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(len, at + off + i)) {
				bad("stream: byte %ld differs (%ld)", (long)(at + i), buf[i]);
				return;
			}
		at += n;
	}
}

/* The messages queued each way, by length: what each end has to read. */
static const size_t q1_lens[] = { 1, 7, 300, 4000 }, q0_lens[] = { 11, 2222 };
static const size_t g1_lens[] = { 3, 17, 1500, 60000 }, g0_lens[] = { 9, 99 };

static void send_msgs(int fd, const size_t *lens, int n)
{
	for (int i = 0; i < n; i++)
		send_msg(fd, lens[i]);
}

static void expect_msgs(int fd, const size_t *lens, int n)
{
	for (int i = 0; i < n; i++)
		expect_msg(fd, lens[i]);
}

/* The next bytes on the stream FD are WANT. */
static void expect_bytes(int fd, const char *want)
{
	size_t len = strlen(want), at = 0;

	while (at < len) {
		ssize_t n = recv(fd, buf + at, len - at, MSG_DONTWAIT);

		if (n <= 0)
			break;
		at += n;
	}
	if (at != len || memcmp(buf, want, len))
		bad("stream: %ld bytes, want %ld", (long)at, (long)len);
}

/* FD has nothing more to read now (EAGAIN). */
static void expect_empty(int fd, long which)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	if (n != -1 || errno != EAGAIN)
		bad("socket %ld: more to read (%ld)", which, (long)n);
}

static int listener(struct sockaddr_un *a, socklen_t len, int backlog)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)a, len) || listen(fd, backlog))
		die("listener");
	return fd;
}

static void serve(int l)
{
	char req[64], rep[80];
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ssize_t n;

	if (c < 0)
		return;
	n = read(c, req, sizeof(req) - 1);
	if (n > 0) {
		int m = snprintf(rep, sizeof(rep), "served %.*s", (int)n, req);

		if (write(c, rep, m) != m)
			perror("serve");
	}
	close(c);
}

static void child_loop(int fd)
{
	uint32_t v;

	for (;;) {
		ssize_t n = read(fd, &v, sizeof(v));

		if (n == 0)
			exit(0);
		if (n != sizeof(v))
			die("child read");
		v++;
		if (write(fd, &v, sizeof(v)) != sizeof(v))
			die("child write");
		report("child", "answered %u", v);
	}
}

static __attribute__((noreturn)) void main_mode(void)
{
	int s[2], q[2], g[2], p[2], q1d, named, abstract, kc, ka, xc, xa;
	struct sockaddr_un na = { .sun_family = AF_UNIX }, aa = { .sun_family = AF_UNIX };
	socklen_t alen;
	uint32_t ping = 0, pong;
	int pings = 0, verified = 0;
	pid_t child;
	char c;

	signal(SIGUSR1, on_usr1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, q) ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, g) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		die("socketpair");
	/* Stream: 10 bytes read of BIG + 10, so that the first skb is partly consumed. */
	fill(buf, BIG + 10);
	if (send(s[0], buf, BIG + 10, MSG_DONTWAIT) != BIG + 10)
		die("send big");
	if (read(s[1], buf, 10) != 10)
		die("read 10");
	if (send(s[1], "one", 3, 0) != 3 || send(s[1], "two!", 4, 0) != 4 ||
	    send(s[1], "three", 5, 0) != 5 || shutdown(s[1], SHUT_WR))
		die("stream messages");
	send_msgs(q[0], q1_lens, 4);
	send_msgs(q[1], q0_lens, 2);
	q1d = dup(q[1]);
	send_msgs(g[0], g1_lens, 4);
	send_msgs(g[1], g0_lens, 2);
	if (q1d < 0 || fcntl(g[1], F_SETFL, O_NONBLOCK))
		die("dup, O_NONBLOCK");

	snprintf(na.sun_path, sizeof(na.sun_path), "%s/sock", dir);
	named = listener(&na, sizeof(na), 7);
	alen = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(aa.sun_path + 1, sizeof(aa.sun_path) - 1, "ckpt-unixsk-%d", getpid());
	abstract = listener(&aa, alen, 3);
	/* A connection accepted from each, with data queued both ways or shut down. */
	kc = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	xc = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (kc < 0 || xc < 0 || connect(kc, (struct sockaddr *)&na, sizeof(na)) ||
	    connect(xc, (struct sockaddr *)&aa, alen))
		die("connect");
	ka = accept4(named, NULL, NULL, SOCK_CLOEXEC);
	xa = accept4(abstract, NULL, NULL, SOCK_CLOEXEC);
	if (ka < 0 || xa < 0 || send(kc, "client-said", 11, 0) != 11 ||
	    send(ka, "server-said!", 12, 0) != 12 || send(xa, "abstract-server", 15, 0) != 15 ||
	    shutdown(xc, SHUT_WR))
		die("accepted connections");

	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		close(p[0]);
		child_loop(p[1]);
	}
	close(p[1]);

	for (;;) {
		struct pollfd pf[2] = { { named, POLLIN, 0 }, { abstract, POLLIN, 0 } };

		ping++;
		if (write(p[0], &ping, sizeof(ping)) != sizeof(ping) ||
		    read(p[0], &pong, sizeof(pong)) != sizeof(pong))
			die("ping");
		if (pong != ping + 1)
			bad("child answered %ld to %ld", pong, ping);
		ping = pong;
		pings++;
		if (usr1 && !verified) {
			struct sockaddr_un got;
			socklen_t gl = sizeof(got);
			size_t at = 0;
			int fl;

			/* s1: BIG bytes of the pattern of BIG + 10, from offset 10. */
			expect_stream(s[1], BIG + 10, 10);
			expect_empty(s[1], 1);
			if (send(s[1], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != -1 || errno != EPIPE)
				bad("stream: s1 can write after SHUT_WR (%ld)", errno, 0);
			/* s0: the three messages' bytes, then the end (s1 shut down). */
			at = 0;
			while (at < 12) {
				ssize_t n = recv(s[0], buf + at, 12 - at, MSG_DONTWAIT);

				if (n <= 0)
					break;
				at += n;
			}
			if (at != 12 || memcmp(buf, "onetwo!three", 12))
				bad("stream: s0 read %ld bytes", (long)at, 0);
			if (recv(s[0], &c, 1, MSG_DONTWAIT) != 0)
				bad("stream: s0 not at its end (%ld)", errno, 0);
			/* ... and s0 can still send to s1. */
			if (send(s[0], "y", 1, MSG_DONTWAIT) != 1 || recv(s[1], &c, 1, MSG_DONTWAIT) != 1 || c != 'y')
				bad("stream: s0 to s1 after restart (%ld)", errno, 0);

			expect_msgs(q[1], q1_lens, 4);
			expect_empty(q[1], 3);
			expect_msgs(q[0], q0_lens, 2);
			expect_empty(q[0], 2);
			/* q1 and q1d are one open file description. */
			fl = fcntl(q1d, F_GETFL);
			if (fl & O_NONBLOCK || fcntl(q1d, F_SETFL, fl | O_NONBLOCK) ||
			    !(fcntl(q[1], F_GETFL) & O_NONBLOCK) || fcntl(q1d, F_SETFL, fl))
				bad("seqpacket: q1 and its dup are not one description (%ld)", fl, 0);
			send_msg(q[0], 5);
			expect_msg(q1d, 5);

			if (!(fcntl(g[1], F_GETFL) & O_NONBLOCK) || fcntl(g[0], F_GETFL) & O_NONBLOCK)
				bad("dgram: O_NONBLOCK lost or gained", 0, 0);
			expect_msgs(g[1], g1_lens, 4);
			expect_empty(g[1], 5);
			expect_msgs(g[0], g0_lens, 2);
			expect_empty(g[0], 4);

			/* The accepted connections: their data, their names, their shutdown state. */
			expect_bytes(ka, "client-said");
			expect_empty(ka, 6);
			expect_bytes(kc, "server-said!");
			expect_empty(kc, 7);
			expect_bytes(xc, "abstract-server");
			if (recv(xa, &c, 1, MSG_DONTWAIT) != 0)
				bad("accepted: xa not at its end (%ld)", errno, 0);
			if (send(kc, "z", 1, 0) != 1 || recv(ka, &c, 1, 0) != 1 || c != 'z')
				bad("accepted: kc to ka after restart (%ld)", errno, 0);
			if (getsockname(ka, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, na.sun_path))
				bad("accepted: ka's name changed (%ld)", errno, 0);
			gl = sizeof(got);
			if (getpeername(kc, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, na.sun_path))
				bad("accepted: kc's peer's name changed (%ld)", errno, 0);
			gl = sizeof(got);
			if (getsockname(kc, (struct sockaddr *)&got, &gl) || gl != sizeof(sa_family_t))
				bad("accepted: kc got a name (%ld)", gl, 0);
			gl = sizeof(got);
			if (getsockname(xa, (struct sockaddr *)&got, &gl) || gl != alen ||
			    memcmp(got.sun_path, aa.sun_path, alen - offsetof(struct sockaddr_un, sun_path)))
				bad("accepted: xa's name changed (%ld)", gl, 0);
			gl = sizeof(got);
			if (getsockname(named, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, na.sun_path))
				bad("the named listener's name changed (%ld)", errno, 0);
			gl = sizeof(got);
			if (getsockname(abstract, (struct sockaddr *)&got, &gl) || gl != alen ||
			    memcmp(got.sun_path, aa.sun_path, alen - offsetof(struct sockaddr_un, sun_path)))
				bad("the abstract listener's name changed (%ld)", gl, 0);
			verified = 1;
		}
		if (verified) {
			report("root", "ready 1 pings %d child %d verified 1 errors %d what %s", pings, child,
			       errors, what);
			if (poll(pf, 2, 20) > 0) {
				if (pf[0].revents & POLLIN)
					serve(named);
				if (pf[1].revents & POLLIN)
					serve(abstract);
			}
		} else {
			report("root", "ready 1 pings %d child %d verified 0 errors %d what %s", pings, child,
			       errors, what);
			nap(20);
		}
	}
}

/*
 * Buffers mode: data queued under a send buffer the program lowered since (to 1: the
 * kernel's minimum), on a stream and a seqpacket pair, and a listener whose backlog is
 * above SOMAXCONN (4096). On SIGUSR1 it checks the data, the buffer sizes and that the
 * listener listens, and reports "verified 1 errors E what W".
 */
static __attribute__((noreturn)) void buffers_mode(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s[2], g[2], l, one = 1, sb, gb, v, verified = 0;
	socklen_t sl = sizeof(int), alen;

	signal(SIGUSR1, on_usr1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, g))
		die("socketpair");
	send_msg(s[0], BIG);
	send_msg(g[0], 60000);
	if (setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) ||
	    setsockopt(g[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) ||
	    getsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &sb, &sl) ||
	    getsockopt(g[0], SOL_SOCKET, SO_SNDBUF, &gb, &sl) || sb >= BIG || gb >= 60000)
		die("SO_SNDBUF");
	alen = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ckpt-unixsk-buf-%d", getpid());
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, alen) || listen(l, 5000))
		die("listener");
	for (int count = 1;; count++) {
		if (usr1 && !verified) {
			expect_stream(s[1], BIG, 0);
			expect_msg(g[1], 60000);
			if (getsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &v, &sl) || v != sb)
				bad("stream: SO_SNDBUF %ld, want %ld", v, sb);
			if (getsockopt(g[0], SOL_SOCKET, SO_SNDBUF, &v, &sl) || v != gb)
				bad("seqpacket: SO_SNDBUF %ld, want %ld", v, gb);
			if (getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &sl) || v != 1)
				bad("the listener does not listen (%ld, %ld)", v, errno);
			verified = 1;
		}
		report("buffers", "ready 1 count %d verified %d errors %d what %s", count, verified,
		       errors, what);
		nap(20);
	}
}

/*
 * A seqpacket pair whose end r has SO_PASSCRED on, its queue empty, as user UID if given.
 * On SIGUSR1 it checks the option is still on, sends a message from the other end and
 * checks the SCM_CREDENTIALS it carries: this process's pid, uid and gid. It reports
 * "ready 1 verified V errors E what W".
 */
static __attribute__((noreturn)) void passcred_mode(const char *uid)
{
	int sv[2], on = 1, v, verified = 0;
	socklen_t sl = sizeof(int);

	if (uid)
		drop_to(uid);
	signal(SIGUSR1, on_usr1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)))
		die("passcred");
	for (int count = 1;; count++) {
		if (usr1 && !verified) {
			union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } c;
			char m[8];
			struct iovec iov = { m, sizeof(m) };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
					     .msg_control = c.b, .msg_controllen = sizeof(c.b) };
			struct cmsghdr *h;
			struct ucred cr;

			if (getsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, &sl) || v != 1)
				bad("SO_PASSCRED is %ld after restart (errno %ld)", v, errno);
			if (write(sv[1], "creds", 5) != 5)
				bad("send: errno %ld", errno, 0);
			if (recvmsg(sv[0], &mh, 0) != 5)
				bad("recvmsg: errno %ld", errno, 0);
			h = CMSG_FIRSTHDR(&mh);
			if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_CREDENTIALS) {
				bad("no SCM_CREDENTIALS (%ld, %ld)", h ? h->cmsg_type : -1, 0);
			} else {
				memcpy(&cr, CMSG_DATA(h), sizeof(cr));
				if (cr.pid != getpid())
					bad("SCM_CREDENTIALS pid %ld, want %ld", cr.pid, getpid());
				if (cr.uid != getuid() || cr.gid != getgid())
					bad("SCM_CREDENTIALS uid %ld, want %ld", cr.uid, getuid());
			}
			verified = 1;
		}
		report("passcred", "ready 1 verified %d errors %d what %s", verified, errors, what);
		nap(20);
	}
}

/* What each client of embryos_mode sends, as message lengths (a stream's one run each). */
static const size_t emb_stream[3][2] = { { 10 }, { 5000 }, { 70000 } };
static const size_t emb_seq[3][2] = { { 1, 3 }, { 100, 300 }, { 70000, 5 } };

static __attribute__((noreturn)) void embryos_mode(const char *type, const char *uid)
{
	int seq = !strcmp(type, "seqpacket"), ty = seq ? SOCK_SEQPACKET : SOCK_STREAM;
	const size_t (*lens)[2] = seq ? emb_seq : emb_stream;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int l, c[3], verified = 0;

	if (uid)
		drop_to(uid);
	signal(SIGUSR1, on_usr1);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/embryos.sock", dir);
	l = socket(AF_UNIX, ty, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 2))
		die("embryos: listener");
	for (int i = 0; i < 3; i++) {
		c[i] = socket(AF_UNIX, ty, 0);
		if (c[i] < 0 || connect(c[i], (struct sockaddr *)&a, sizeof(a)))
			die("embryos: connect");
		for (int m = 0; m < 2 && lens[i][m]; m++)
			send_msg(c[i], lens[i][m]);
	}
	if (shutdown(c[1], SHUT_WR))
		die("embryos: shutdown");
	for (;;) {
		if (usr1 && !verified) {
			for (int i = 0; i < 3; i++) {
				struct pollfd p = { .fd = l, .events = POLLIN };
				char rep[16], got[16];
				int k, m = snprintf(rep, sizeof(rep), "reply-%d", i);

				k = poll(&p, 1, 5000) == 1 ? accept(l, NULL, NULL) : -1;
				if (k < 0) {
					bad("accept %ld: errno %ld", i, errno);
					break;
				}
				for (int j = 0; j < 2 && lens[i][j]; j++) {
					if (seq)
						expect_msg(k, lens[i][j]);
					else
						expect_stream(k, lens[i][j], 0);
				}
				if (i == 1) {
					if (recv(k, got, 1, MSG_DONTWAIT) != 0)
						bad("connection %ld: no end of file (shut down for writing)", i, 0);
				} else {
					expect_empty(k, i);
				}
				if (write(k, rep, m) != m)
					bad("reply %ld: errno %ld", i, errno);
				p.fd = c[i];
				if (poll(&p, 1, 2000) != 1 ||
				    recv(c[i], got, sizeof(got), MSG_DONTWAIT) != m || memcmp(got, rep, m))
					bad("client %ld: not the reply of connection %ld", i, i);
				close(k);
			}
			{
				struct pollfd p = { .fd = l, .events = POLLIN };

				if (poll(&p, 1, 0) != 0)
					bad("a fourth connection waits (%ld)", p.revents, 0);
			}
			verified = 1;
		}
		report("embryos", "ready 1 verified %d errors %d what %s", verified, errors, what);
		nap(20);
	}
}

/* Holds FD and counts: a refused checkpoint must leave it running. */
static __attribute__((noreturn)) void hold(int fd)
{
	for (int count = 1;; count++) {
		report("held", "fd %d count %d", fd, count);
		nap(20);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: unixsk MODE DIR [FD]\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "main"))
		main_mode();
	if (!strcmp(argv[1], "buffers"))
		buffers_mode();
	if (!strcmp(argv[1], "outside") && argc == 4)
		hold(atoi(argv[3]));
	if (!strcmp(argv[1], "embryos") && argc >= 4)
		embryos_mode(argv[3], argc > 4 ? argv[4] : NULL);
	if (!strcmp(argv[1], "backlog")) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int l = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/backlog", dir);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
			die("backlog");
		hold(l);
	}
	if (!strcmp(argv[1], "passcredq")) {
		/* SO_PASSCRED with a message queued: its sender's credentials are not saved. */
		int sv[2], on = 1;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
		    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) ||
		    write(sv[1], "x", 1) != 1)
			die("passcredq");
		hold(sv[0]);
	}
	if (!strcmp(argv[1], "embryofds")) {
		/* A connection not accepted yet whose queue carries a descriptor. */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = "fds", .iov_len = 3 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		int l, k, pp[2];

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/embryofds", dir);
		l = listener(&a, sizeof(a), 4);
		k = socket(AF_UNIX, SOCK_STREAM, 0);
		if (k < 0 || connect(k, (struct sockaddr *)&a, sizeof(a)) || pipe(pp))
			die("embryofds");
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pp[0], sizeof(int));
		if (sendmsg(k, &m, 0) != 3 || close(pp[0]) || close(pp[1]))
			die("embryofds sendmsg");
		hold(l);
	}
	if (!strcmp(argv[1], "dgramqueued")) {
		/* Unconnected, bound: what others sent it with sendto waits in its queue. */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int g = socket(AF_UNIX, SOCK_DGRAM, 0), from = socket(AF_UNIX, SOCK_DGRAM, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/dgram", dir);
		if (g < 0 || from < 0 || bind(g, (struct sockaddr *)&a, sizeof(a)) ||
		    sendto(from, "first", 5, 0, (struct sockaddr *)&a, sizeof(a)) != 5 ||
		    sendto(from, "second", 6, 0, (struct sockaddr *)&a, sizeof(a)) != 6)
			die("dgramqueued");
		hold(g);
	}
	if (!strcmp(argv[1], "passcred"))
		passcred_mode(argc > 3 ? argv[3] : NULL);
	if (!strcmp(argv[1], "sockopt") && argc == 4) {
		/* A stream pair's end with the option argv[3] set: refused by its name. */
		static const struct { const char *name; int opt, val; } opts[] = {
			{ "SO_TIMESTAMP", SO_TIMESTAMP, 1 },
			{ "SO_TIMESTAMPNS", SO_TIMESTAMPNS, 1 },
			{ "SO_TIMESTAMPING", SO_TIMESTAMPING,
			  SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE },
			{ "SO_INQ", SO_INQ, 1 },
			{ "SO_RIGHTS_NOTRUNC", SO_RIGHTS_NOTRUNC, 1 },
			{ "SO_OOBINLINE", SO_OOBINLINE, 1 },
			{ "SO_PASSSEC", SO_PASSSEC, 1 },
			{ "SO_PASSPIDFD", SO_PASSPIDFD, 1 },
		};
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("socketpair");
		for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
			if (strcmp(argv[3], opts[i].name))
				continue;
			if (setsockopt(sv[0], SOL_SOCKET, opts[i].opt, &opts[i].val, sizeof(int)))
				die(opts[i].name);
			hold(sv[0]);
		}
		die("unknown option");
	}
	if (!strcmp(argv[1], "shutlisten") || !strcmp(argv[1], "shutunconn")) {
		/* shutdown() on a listener (to wake threads in accept), or an unconnected socket. */
		int listener = !strcmp(argv[1], "shutlisten");
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int l = socket(AF_UNIX, listener ? SOCK_STREAM : SOCK_DGRAM, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/shut", dir);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || (listener && listen(l, 4)) ||
		    shutdown(l, listener ? SHUT_RDWR : SHUT_WR))
			die("shutdown");
		hold(l);
	}
	if (!strcmp(argv[1], "longpath")) {
		/* Bound to a path of 108 bytes: all of sun_path, no NUL. */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		size_t n = snprintf(a.sun_path, sizeof(a.sun_path), "%s/", dir);

		if (n >= sizeof(a.sun_path) - 1)
			die("directory name too long");
		memset(a.sun_path + n, 'p', sizeof(a.sun_path) - n);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
			die("longpath");
		hold(l);
	}
	if (!strcmp(argv[1], "closedpeer")) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || close(sv[1]))
			die("closedpeer");
		hold(sv[0]);
	}
	if (!strcmp(argv[1], "opath")) {
		/* Only an O_PATH descriptor of a socket file: its socket is closed. */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0), fd;

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/opath", dir);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || close(s))
			die("opath bind");
		fd = open(a.sun_path, O_PATH);
		if (fd < 0)
			die("open O_PATH");
		hold(fd);
	}
	if (!strcmp(argv[1], "netlink")) {
		int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

		if (fd < 0)
			die("socket");
		hold(fd);
	}
	fprintf(stderr, "unixsk: unknown mode %s\n", argv[1]);
	return 2;
}
