// SPDX-License-Identifier: GPL-2.0
/*
 * TCP and UDP sockets that selftests/test_inet.py checkpoints and restarts (report.h:
 * the process reports in DIR/NAME).
 *
 *   inetsk main DIR     holds, each with options set:
 *                       - t4: a TCP socket listening on 127.0.0.1, port 0 (the kernel
 *                         chooses it), backlog 7, O_NONBLOCK, with SO_REUSEADDR,
 *                         SO_KEEPALIVE, TCP_NODELAY, SO_RCVBUF, SO_LINGER, IP_TOS,
 *                         IP_TTL, SO_PRIORITY, SO_RCVLOWAT, TCP_KEEPIDLE, TCP_KEEPINTVL,
 *                         TCP_KEEPCNT, TCP_DEFER_ACCEPT, TCP_FASTOPEN; t4d, a dup of t4;
 *                       - t6: a TCP socket listening on [::1] with IPV6_V6ONLY, backlog 3
 *                         (if the kernel has IPv6: "v6 1" in the report);
 *                       - u: a UDP socket bound to 127.0.0.1 with SO_BROADCAST and
 *                         SO_SNDBUF;
 *                       - c: a UDP socket connected to u (its port chosen by connect);
 *                       - tb: a TCP socket bound to 127.0.0.1 with SO_REUSEPORT, not
 *                         listening; tn: a TCP socket neither bound nor listening.
 *                       It reports "ready 1 tport P t6port Q uport U cport C v6 V" and
 *                       counts; on SIGUSR1 it reads every option back with getsockopt
 *                       and every address with getsockname and getpeername, compares
 *                       them with what it read before the checkpoint, sends a datagram
 *                       from c to u and reads it on u, then reports "verified 1 errors E
 *                       what W" and serves: each TCP client of t4 or t6 gets "served "
 *                       and what it sent; each datagram to u is sent back after "echo ".
 *   inetsk backlog DIR      a listening socket with a connection not accepted yet
 *   inetsk established DIR  an established TCP connection (its client end reported)
 *   inetsk udpqueued DIR    a UDP socket with a datagram queued
 *                       These report "fd N count C" in DIR/held and count.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report.h"

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

static int errors;
static char what[200] = "none";

static void fail(const char *fmt, int a, int b)
{
	if (!errors++)
		snprintf(what, sizeof(what), fmt, a, b);
}

/* One option of one socket: where, and the value read before the checkpoint. */
struct opt {
	int *fd;
	const char *name;
	int level, optname;
	int before;
};

static int t4 = -1, t6 = -1, u = -1, c = -1, tb = -1, tn = -1, t4d = -1;

static struct opt opts[] = {
	{ &t4, "t4.SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 0 },
	{ &t4, "t4.SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 0 },
	{ &t4, "t4.SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 0 },
	{ &t4, "t4.SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 0 },
	{ &t4, "t4.SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, 0 },
	{ &t4, "t4.SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, 0 },
	{ &t4, "t4.IP_TOS", IPPROTO_IP, IP_TOS, 0 },
	{ &t4, "t4.IP_TTL", IPPROTO_IP, IP_TTL, 0 },
	{ &t4, "t4.TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 0 },
	{ &t4, "t4.TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 0 },
	{ &t4, "t4.TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 0 },
	{ &t4, "t4.TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 0 },
	{ &t4, "t4.TCP_DEFER_ACCEPT", IPPROTO_TCP, TCP_DEFER_ACCEPT, 0 },
	{ &t4, "t4.TCP_FASTOPEN", IPPROTO_TCP, TCP_FASTOPEN, 0 },
	{ &t4, "t4.SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN, 0 },
	{ &t6, "t6.IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, 0 },
	{ &t6, "t6.SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN, 0 },
	{ &u, "u.SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, 0 },
	{ &u, "u.SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 0 },
	{ &u, "u.SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 0 },
	{ &c, "c.SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, 0 },
	{ &tb, "tb.SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 0 },
	{ &tb, "tb.SO_ACCEPTCONN", SOL_SOCKET, SO_ACCEPTCONN, 0 },
	{ &tn, "tn.SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 0 },
};

#define NOPTS ((int)ARRAY_SIZE(opts))

static int get(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -errno - 100000;
	return v;
}

static void set(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)))
		die("setsockopt");
}

static int port_of(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port :
		     ((struct sockaddr_in *)&a)->sin_port);
}

static int peer_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getpeername(fd, (struct sockaddr *)&a, &len))
		return -1;
	return ntohs(a.sin_port);
}

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int tcp4_listener(int backlog)
{
	struct sockaddr_in a = lo(0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, backlog))
		die("tcp listener");
	return fd;
}

static void setup(void)
{
	struct linger l = { 1, 5 };
	struct sockaddr_in a = lo(0);
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	t4 = socket(AF_INET, SOCK_STREAM, 0);
	if (t4 < 0)
		die("socket");
	set(t4, SOL_SOCKET, SO_REUSEADDR, 1);
	set(t4, SOL_SOCKET, SO_KEEPALIVE, 1);
	set(t4, SOL_SOCKET, SO_RCVBUF, 65536);
	set(t4, IPPROTO_IP, IP_TOS, 0x10);
	set(t4, SOL_SOCKET, SO_PRIORITY, 3);
	set(t4, IPPROTO_IP, IP_TTL, 33);
	set(t4, SOL_SOCKET, SO_RCVLOWAT, 10);
	set(t4, IPPROTO_TCP, TCP_NODELAY, 1);
	set(t4, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	set(t4, IPPROTO_TCP, TCP_KEEPINTVL, 13);
	set(t4, IPPROTO_TCP, TCP_KEEPCNT, 5);
	set(t4, IPPROTO_TCP, TCP_DEFER_ACCEPT, 4);
	set(t4, IPPROTO_TCP, TCP_FASTOPEN, 5);
	if (setsockopt(t4, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		die("SO_LINGER");
	if (bind(t4, (struct sockaddr *)&a, sizeof(a)) || listen(t4, 7))
		die("t4");
	fcntl(t4, F_SETFL, O_NONBLOCK);
	t4d = dup(t4);

	t6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (t6 >= 0) {
		set(t6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		if (bind(t6, (struct sockaddr *)&a6, sizeof(a6)) || listen(t6, 3))
			die("t6");
	}

	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0)
		die("socket");
	set(u, SOL_SOCKET, SO_BROADCAST, 1);
	set(u, SOL_SOCKET, SO_SNDBUF, 32768);
	if (bind(u, (struct sockaddr *)&a, sizeof(a)))
		die("u");

	c = socket(AF_INET, SOCK_DGRAM, 0);
	a = lo(port_of(u));
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		die("c");

	tb = socket(AF_INET, SOCK_STREAM, 0);
	a = lo(0);
	if (tb < 0)
		die("socket");
	set(tb, SOL_SOCKET, SO_REUSEPORT, 1);
	if (bind(tb, (struct sockaddr *)&a, sizeof(a)))
		die("tb");
	tn = socket(AF_INET, SOCK_STREAM, 0);
	if (tn < 0)
		die("socket");
}

static int ports[6];

static void read_all(int after)
{
	int now[6] = { port_of(t4), t6 >= 0 ? port_of(t6) : 0, port_of(u), port_of(c),
		       port_of(tb), peer_port(c) };

	for (int i = 0; i < NOPTS; i++) {
		int v;

		if (*opts[i].fd < 0)
			continue;
		v = get(*opts[i].fd, opts[i].level, opts[i].optname);
		if (!after) {
			opts[i].before = v;
		} else if (v != opts[i].before && !errors++) {
			snprintf(what, sizeof(what), "%s:%d:not:%d", opts[i].name, v,
				 opts[i].before);
		}
	}
	for (int i = 0; i < 6; i++) {
		if (!after)
			ports[i] = now[i];
		else if (now[i] != ports[i])
			fail("port-%d-changed-to-%d", i, now[i]);
	}
	if (after) {
		int fl = fcntl(t4, F_GETFL);

		if (!(fl & O_NONBLOCK))
			fail("t4-not-O_NONBLOCK-%d%d", fl, 0);
		if (fcntl(u, F_GETFL) & O_NONBLOCK)
			fail("u-O_NONBLOCK-%d%d", 0, 0);
		/* t4d is t4's open file description: its flags are t4's. */
		if (port_of(t4d) != ports[0] || fcntl(t4d, F_SETFL, 0) ||
		    (fcntl(t4, F_GETFL) & O_NONBLOCK))
			fail("t4d-not-t4-%d-%d", port_of(t4d), ports[0]);
		fcntl(t4, F_SETFL, O_NONBLOCK);
	}
}

/* A datagram from c reaches u, from c's port. */
static void datagram(void)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	struct pollfd p = { u, POLLIN, 0 };
	char b[16];
	ssize_t n;

	if (send(c, "ping", 4, 0) != 4) {
		fail("send-from-c-errno-%d%d", errno, 0);
		return;
	}
	if (poll(&p, 1, 10000) != 1) {
		fail("no-ping-on-u-%d%d", 0, 0);
		return;
	}
	n = recvfrom(u, b, sizeof(b), 0, (struct sockaddr *)&from, &len);
	if (n != 4 || memcmp(b, "ping", 4))
		fail("u-read-%d-bytes%d", (int)n, 0);
	else if (ntohs(from.sin_port) != ports[3])
		fail("ping-from-port-%d-not-%d", ntohs(from.sin_port), ports[3]);
}

static void serve_tcp(int l)
{
	char b[200] = "served ";
	struct pollfd p;
	ssize_t n;
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return;
	/* It inherits the listener's SO_RCVLOWAT of 10 bytes. */
	set(s, SOL_SOCKET, SO_RCVLOWAT, 1);
	p = (struct pollfd){ s, POLLIN, 0 };
	if (poll(&p, 1, 10000) == 1) {
		n = read(s, b + 7, sizeof(b) - 8);
		if (n > 0 && write(s, b, 7 + n) != 7 + n)
			perror("write");
	}
	close(s);
}

static void serve_udp(void)
{
	char b[200] = "echo ";
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(u, b + 5, sizeof(b) - 6, MSG_DONTWAIT, (struct sockaddr *)&from, &len);

	if (n >= 0)
		sendto(u, b, 5 + n, 0, (struct sockaddr *)&from, len);
}

static __attribute__((noreturn)) void main_mode(void)
{
	int count = 0;

	signal(SIGUSR1, on_usr1);
	setup();
	read_all(0);
	while (!usr1) {
		report("main", "ready 1 tport %d t6port %d uport %d cport %d v6 %d errors %d what %s count %d",
		       ports[0], ports[1], ports[2], ports[3], t6 >= 0, errors, what, ++count);
		nap(20);
	}
	read_all(1);
	datagram();
	report("main", "ready 1 verified 1 errors %d what %s", errors, what);
	for (;;) {
		struct pollfd p[3] = { { t4, POLLIN, 0 }, { u, POLLIN, 0 }, { t6, POLLIN, 0 } };

		if (poll(p, t6 >= 0 ? 3 : 2, -1) < 0)
			continue;
		if (p[0].revents)
			serve_tcp(t4);
		if (p[1].revents)
			serve_udp();
		if (t6 >= 0 && p[2].revents)
			serve_tcp(t6);
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
		fprintf(stderr, "usage: inetsk MODE DIR\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "main"))
		main_mode();
	if (!strcmp(argv[1], "backlog") || !strcmp(argv[1], "established")) {
		int l = tcp4_listener(4), s, k;
		struct sockaddr_in a = lo(port_of(l));

		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		if (!strcmp(argv[1], "backlog"))
			hold(l);
		k = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (k < 0)
			die("accept");
		close(l);
		hold(s);
	}
	if (!strcmp(argv[1], "udpqueued")) {
		struct sockaddr_in a = lo(0);
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)))
			die("udp");
		a = lo(port_of(s));
		if (sendto(s, "queued", 6, 0, (struct sockaddr *)&a, sizeof(a)) != 6)
			die("sendto");
		hold(s);
	}
	fprintf(stderr, "inetsk: unknown mode %s\n", argv[1]);
	return 2;
}
