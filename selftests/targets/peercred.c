// SPDX-License-Identifier: GPL-2.0
/*
 * The peer credentials (SO_PEERCRED) of unix sockets, which selftests/test_peercred.py
 * checkpoints and restarts.
 *
 *   peercred pair DIR [AUID [BUID]]   process A (as AUID if given) makes a stream socket pair
 *                  and a stream socket listening at DIR/l, then forks B (which becomes
 *                  BUID if given). B keeps the pair's second end, connects twice to DIR/l
 *                  and writes a byte on the pair; A keeps the first end, reads that byte
 *                  and accepts one connection: the second stays in the backlog. Each
 *                  reads SO_PEERCRED of its sockets (A: the pair's end, the listener,
 *                  the connection accepted; B: the pair's end, its two clients), checks
 *                  each names the process and ids the kernel gives it (the pair and the
 *                  listener: A; the connection accepted: B; the clients: A, as the
 *                  listener), and reports them in DIR/a and DIR/b ("ready 1", then pid,
 *                  uid and gid of each: pair_*, listener_*, accepted_*, client1_*,
 *                  client2_*). On SIGUSR1 each reads them again and checks they are the
 *                  same; A then accepts the connection left in the backlog and checks it
 *                  names B. Reports "checked 1 errors E" with the values read again
 *                  (A: embryo_* too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "report.h"

static struct ucred peer(int s)
{
	struct ucred c;
	socklen_t len = sizeof(c);

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &c, &len) || len != sizeof(c))
		die("SO_PEERCRED");
	return c;
}

#define SAME(a, b, what)                                                              \
	CHECK((a).pid == (b).pid && (a).uid == (b).uid && (a).gid == (b).gid,           \
	      "%s: pid %d uid %d gid %d, not pid %d uid %d gid %d", what, (a).pid,      \
	      (a).uid, (a).gid, (b).pid, (b).uid, (b).gid)

static void format(char *out, size_t size, const char *name, struct ucred c)
{
	size_t n = strlen(out);

	snprintf(out + n, size - n, "%s_pid %d %s_uid %d %s_gid %d ", name, c.pid, name,
		 c.uid, name, c.gid);
}

static struct ucred self(void)
{
	return (struct ucred){ .pid = getpid(), .uid = geteuid(), .gid = getegid() };
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sp[2], l, a1, c1, c2, e;
	struct ucred me, other;
	char line[900];
	pid_t b;

	if (argc < 3 || strcmp(argv[1], "pair"))
		return 2;
	dir = argv[2];
	block_usr_signals();
	if (argc > 3)
		drop_to(argv[3]);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/l", dir);
	unlink(addr.sun_path);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		die("socketpair");
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 4))
		die("listen");
	/* B may be another user: it connects to it. */
	if (chmod(addr.sun_path, 0777))
		die("chmod");
	me = self();
	b = fork();
	if (b < 0)
		die("fork");
	if (b == 0) {
		struct ucred p, k1, k2;

		close(sp[0]);
		close(l);
		if (argc > 4)
			drop_to(argv[4]);
		c1 = socket(AF_UNIX, SOCK_STREAM, 0);
		c2 = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c1 < 0 || c2 < 0 ||
		    connect(c1, (struct sockaddr *)&addr, sizeof(addr)) ||
		    connect(c2, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		if (write(sp[1], "x", 1) != 1)
			die("write");
		p = peer(sp[1]);
		k1 = peer(c1);
		k2 = peer(c2);
		/* me: A, as it was when it made the pair and listened. */
		SAME(p, me, "pair");
		SAME(k1, me, "client 1");
		SAME(k2, me, "client 2");
		line[0] = 0;
		format(line, sizeof(line), "pair", p);
		format(line, sizeof(line), "client1", k1);
		format(line, sizeof(line), "client2", k2);
		report("b", "ready 1 errors %d %s", errors, line);
		wait_sig(SIGUSR1);
		SAME(peer(sp[1]), p, "pair after restart");
		SAME(peer(c1), k1, "client 1 after restart");
		SAME(peer(c2), k2, "client 2 after restart");
		line[0] = 0;
		format(line, sizeof(line), "pair", peer(sp[1]));
		format(line, sizeof(line), "client1", peer(c1));
		format(line, sizeof(line), "client2", peer(c2));
		report("b", "checked 1 errors %d %s", errors, line);
		for (;;)
			pause();
	}
	close(sp[1]);
	{
		struct ucred p, ls, acc;
		char x;

		if (read(sp[0], &x, 1) != 1)
			die("read");
		a1 = accept(l, NULL, NULL);
		if (a1 < 0)
			die("accept");
		p = peer(sp[0]);
		ls = peer(l);
		acc = peer(a1);
		SAME(p, me, "pair");
		SAME(ls, me, "listener");
		CHECK(acc.pid == b, "accepted: pid %d, not B's %d", acc.pid, b);
		other = acc;
		line[0] = 0;
		format(line, sizeof(line), "pair", p);
		format(line, sizeof(line), "listener", ls);
		format(line, sizeof(line), "accepted", acc);
		report("a", "ready 1 child %d errors %d %s", b, errors, line);
		wait_sig(SIGUSR1);
		SAME(peer(sp[0]), p, "pair after restart");
		SAME(peer(l), ls, "listener after restart");
		SAME(peer(a1), acc, "accepted after restart");
		e = accept(l, NULL, NULL);
		if (e < 0)
			die("accept after restart");
		SAME(peer(e), other, "accepted after restart, from the backlog");
		line[0] = 0;
		format(line, sizeof(line), "pair", peer(sp[0]));
		format(line, sizeof(line), "listener", peer(l));
		format(line, sizeof(line), "accepted", peer(a1));
		format(line, sizeof(line), "embryo", peer(e));
		report("a", "checked 1 child %d errors %d %s", b, errors, line);
	}
	for (;;)
		pause();
}
