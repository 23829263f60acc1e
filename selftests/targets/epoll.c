// SPDX-License-Identifier: GPL-2.0
/*
 * epolls that selftests/test_epoll.py checkpoints and restarts. Each process reports in
 * DIR/NAME (report.h); a check that fails is printed on stderr (DIR/stderr) and counted
 * in the report's "errors".
 *
 *   epoll state DIR      the parent sets up, then forks a child that shares everything:
 *                        - "main", an epoll watching an eventfd of count 3 (data 0x1001),
 *                          a pipe holding "abc" (0x1002), one end of a unix socketpair
 *                          "hello" waits in (0x1003), all EPOLLIN, and an eventfd of
 *                          count 0 (0x1004, not ready); it is also open at a second
 *                          descriptor (dup);
 *                        - "modes", an epoll with an edge-triggered eventfd already
 *                          reported once (0x2001), a one-shot eventfd that fired
 *                          (disarmed: 0x2002), a one-shot eventfd not ready (armed:
 *                          0x2003), a one-shot pipe that fired and was emptied since
 *                          (disarmed, ready for nothing: 0x2004);
 *                        - "outer", an epoll watching "inner" (0x3002), an epoll watching
 *                          an eventfd of count 2 (0x3001).
 *                        Both report "ready 1", then wait for SIGUSR2: the child checks
 *                        that "main" reports exactly its three ready items and reports
 *                        "checked 1 errors E"; the parent (SIGUSR2 after the child)
 *                        checks everything and reports "checked 1 errors E" and the
 *                        events /proc/self/fdinfo shows for the disarmed items.
 *   epoll moved DIR      an epoll whose items' numbers were closed or replaced since
 *                        EPOLL_CTL_ADD: an eventfd of count 1 added at A (0x4001), then
 *                        dup'ed to B and A closed; an eventfd of count 2 added at C
 *                        (0x4002), kept at E (dup) and another eventfd of count 0
 *                        dup2'ed over C, which is then added at C too (0x4003): two items
 *                        of number C. Reports "ready 1" and the numbers, waits for
 *                        SIGUSR2, then checks that epoll_wait reports the two ready items
 *                        with their data, that EPOLL_CTL_MOD and _DEL behave as the
 *                        kernel keys the items (by file and the number of EPOLL_CTL_ADD),
 *                        and that closing a file's last descriptor removes its item;
 *                        reports "checked 1 errors E".
 *   epoll elsewhere DIR  an epoll watches an eventfd at fd T, which only a child holds
 *                        by now (the parent closed T, the child its epoll): the parent
 *                        reports "fd EPFD tfd T" and counts ("count N").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report.h"



static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl ADD");
}

static int efd(uint64_t count)
{
	int fd = eventfd(0, EFD_NONBLOCK);

	if (fd < 0 || (count && write(fd, &count, sizeof(count)) != sizeof(count)))
		die("eventfd");
	return fd;
}

/*
 * What epoll_wait on EP reports without waiting, as a bit mask of the data values
 * BASE + 1 .. BASE + 16 (each once: a second report of one, or a value outside, sets
 * bit 31).
 */
static unsigned int ready(int ep, uint64_t base)
{
	struct epoll_event ev[32];
	unsigned int got = 0;
	int i, n;

	n = epoll_wait(ep, ev, 32, 0);
	if (n < 0)
		die("epoll_wait");
	for (i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;

		if (d <= base || d > base + 16 || (got & 1u << (d - base - 1)))
			got |= 1u << 31;
		else
			got |= 1u << (d - base - 1);
	}
	return got;
}

#define BIT(n) (1u << ((n) - 1))

/* The events /proc/self/fdinfo/EP shows for its item of TFD; -1 if there is none. */
static long long fdinfo_events(int ep, int tfd)
{
	char path[64], line[256];
	long long events = -1;
	unsigned int ev;
	FILE *f;
	int t;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "tfd: %d events: %x", &t, &ev) == 2 && t == tfd)
			events = ev;
	fclose(f);
	return events;
}

/* SIGUSR2 blocked, for wait_usr2(). */
static void block_usr2(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
}

static void wait_usr2(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigwait(&set, &sig))
		die("sigwait");
}

static void state(void)
{
	int main_ep, main_dup, modes, outer, inner;
	int e3, e0, et, os_fired, os_armed, os_pipe[2], in_e, p[2], sv[2];
	long long fired_events, pipe_events;
	struct epoll_event ev;
	unsigned int got;
	uint64_t v;
	char buf[16];
	pid_t child;

	block_usr2();

	main_ep = epoll_create1(EPOLL_CLOEXEC);
	e3 = efd(3);
	if (pipe(p) || write(p[1], "abc", 3) != 3)
		die("pipe");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || write(sv[1], "hello", 5) != 5)
		die("socketpair");
	e0 = efd(0);
	if (main_ep < 0)
		die("epoll_create1");
	add(main_ep, e3, EPOLLIN, 0x1001);
	add(main_ep, p[0], EPOLLIN, 0x1002);
	add(main_ep, sv[0], EPOLLIN, 0x1003);
	add(main_ep, e0, EPOLLIN, 0x1004);
	main_dup = dup(main_ep);

	modes = epoll_create1(0);
	et = efd(1);
	os_fired = efd(1);
	os_armed = efd(0);
	if (modes < 0 || pipe2(os_pipe, O_NONBLOCK))
		die("epoll_create1, pipe2");
	add(modes, et, EPOLLIN | EPOLLET, 0x2001);
	add(modes, os_fired, EPOLLIN | EPOLLONESHOT, 0x2002);
	add(modes, os_armed, EPOLLIN | EPOLLONESHOT, 0x2003);
	add(modes, os_pipe[0], EPOLLIN | EPOLLONESHOT, 0x2004);
	/* The one-shot pipe fires, then is emptied: disarmed and ready for nothing. */
	if (write(os_pipe[1], "x", 1) != 1)
		die("write");
	got = ready(modes, 0x2000);
	if (got != (BIT(1) | BIT(2) | BIT(4)))
		die("modes: first epoll_wait");
	if (read(os_pipe[0], buf, 1) != 1)
		die("read");
	CHECK(ready(modes, 0x2000) == 0, "modes: reported again before the checkpoint");

	outer = epoll_create1(0);
	inner = epoll_create1(0);
	in_e = efd(2);
	if (outer < 0 || inner < 0)
		die("epoll_create1");
	add(inner, in_e, EPOLLIN, 0x3001);
	add(outer, inner, EPOLLIN, 0x3002);

	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		report("child", "ready 1");
		wait_usr2();
		got = ready(main_ep, 0x1000);
		CHECK(got == (BIT(1) | BIT(2) | BIT(3)), "child: main reports %#x", got);
		report("child", "ready 1 checked 1 errors %d got %u", errors, got);
		for (;;)
			pause();
	}
	report("parent", "ready 1 child %d main %d main_dup %d modes %d outer %d inner %d os_fired %d os_pipe %d",
	       child, main_ep, main_dup, modes, outer, inner, os_fired, os_pipe[0]);
	wait_usr2();

	/* main: exactly the three ready items with their data, through either descriptor. */
	got = ready(main_ep, 0x1000);
	CHECK(got == (BIT(1) | BIT(2) | BIT(3)), "main reports %#x", got);
	got = ready(main_dup, 0x1000);
	CHECK(got == (BIT(1) | BIT(2) | BIT(3)), "main (dup) reports %#x", got);
	/* They watch the restored files themselves: reading them makes them not ready. */
	CHECK(read(e3, &v, sizeof(v)) == sizeof(v) && v == 3, "eventfd count %llu",
	      (unsigned long long)v);
	CHECK(read(p[0], buf, sizeof(buf)) == 3 && !memcmp(buf, "abc", 3), "pipe contents");
	got = ready(main_ep, 0x1000);
	CHECK(got == BIT(3), "main reports %#x after the eventfd and the pipe were read", got);
	CHECK(read(sv[0], buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5), "socket data");
	CHECK(ready(main_ep, 0x1000) == 0, "main reports something after all were read");
	v = 1;
	CHECK(write(e0, &v, sizeof(v)) == sizeof(v) && ready(main_ep, 0x1000) == BIT(4),
	      "the eventfd of count 0 is not reported once written");
	/* The items keep their numbers: EPOLL_CTL_MOD and _DEL find them there. */
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x1005 };
	CHECK(epoll_ctl(main_ep, EPOLL_CTL_MOD, e0, &ev) == 0, "MOD of fd %d: %s", e0,
	      strerror(errno));
	CHECK(ready(main_ep, 0x1000) == BIT(5), "the modified item is not reported");
	CHECK(epoll_ctl(main_ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "DEL of fd %d: %s", p[0],
	      strerror(errno));

	/*
	 * modes: the one-shot items that fired stay disarmed (the eventfd is readable, the
	 * pipe not), the armed one is not ready; the edge-triggered one may be reported once
	 * more (its event is put on the ready list again by the restart), then not again.
	 */
	fired_events = fdinfo_events(modes, os_fired);
	pipe_events = fdinfo_events(modes, os_pipe[0]);
	got = ready(modes, 0x2000);
	CHECK((got & ~BIT(1)) == 0, "modes reports %#x", got);
	CHECK(ready(modes, 0x2000) == 0, "modes reports something a second time");
	v = 1;
	CHECK(write(et, &v, sizeof(v)) == sizeof(v) && ready(modes, 0x2000) == BIT(1),
	      "the edge-triggered item is not reported once written");
	CHECK(ready(modes, 0x2000) == 0, "the edge-triggered item is reported twice");
	CHECK(write(os_armed, &v, sizeof(v)) == sizeof(v) && ready(modes, 0x2000) == BIT(3),
	      "the armed one-shot item is not reported once written");
	CHECK(write(os_armed, &v, sizeof(v)) == sizeof(v) && ready(modes, 0x2000) == 0,
	      "the armed one-shot item is reported twice");
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 0x2002 };
	CHECK(epoll_ctl(modes, EPOLL_CTL_MOD, os_fired, &ev) == 0 &&
	      ready(modes, 0x2000) == BIT(2), "EPOLL_CTL_MOD does not re-arm the disarmed item");

	/* An epoll inside an epoll: the inner one ready through the outer. */
	CHECK(ready(outer, 0x3000) == BIT(2), "outer does not report inner");
	CHECK(ready(inner, 0x3000) == BIT(1), "inner does not report its eventfd");
	CHECK(read(in_e, &v, sizeof(v)) == sizeof(v) && v == 2, "inner's eventfd count");
	CHECK(ready(outer, 0x3000) == 0, "outer reports inner once its eventfd was read");
	v = 4;
	CHECK(write(in_e, &v, sizeof(v)) == sizeof(v) && ready(outer, 0x3000) == BIT(2),
	      "outer does not report inner once its eventfd was written");

	report("parent", "ready 1 child %d checked 1 errors %d fired_events %llx pipe_events %llx",
	       child, errors, fired_events, pipe_events);
	for (;;)
		pause();
}

/* How many items of TFD /proc/self/fdinfo/EP shows, and of any number (*all). */
static int fdinfo_items(int ep, int tfd, int *all)
{
	char path[64], line[256];
	int t, n = 0;
	FILE *f;

	*all = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "tfd: %d", &t) == 1) {
			++*all;
			n += t == tfd;
		}
	fclose(f);
	return n;
}

/* epoll_ctl OP of FD with data DATA: 0, or the errno it failed with. */
static int ctl(int ep, int op, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &ev) ? errno : 0;
}

static void moved(void)
{
	int ep, a, b, c, e, d, n, all;
	unsigned int got;
	uint64_t v;

	block_usr2();
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	a = efd(1);
	c = efd(2);
	add(ep, a, EPOLLIN, 0x4001);
	add(ep, c, EPOLLIN, 0x4002);
	/* Added at A, now at B only. */
	b = dup(a);
	/* Added at C, now at E only; C holds another eventfd, added at C too. */
	e = dup(c);
	d = efd(0);
	if (b < 0 || e < 0 || dup2(d, c) != c || close(d) || close(a))
		die("dup, dup2, close");
	add(ep, c, EPOLLIN, 0x4003);
	report("moved", "ready 1 ep %d a %d b %d c %d e %d", ep, a, b, c, e);
	wait_usr2();

	n = fdinfo_items(ep, c, &all);
	CHECK(n == 2 && all == 3, "%d items of fd %d, %d in all", n, c, all);
	CHECK(fdinfo_items(ep, a, &all) == 1, "no item of fd %d", a);
	CHECK(fcntl(a, F_GETFD) < 0 && errno == EBADF, "fd %d is open", a);
	got = ready(ep, 0x4000);
	CHECK(got == (BIT(1) | BIT(2)), "reports %#x", got);
	/*
	 * Items are keyed by file and the number of EPOLL_CTL_ADD: none is of B's file at B
	 * or of E's at E, A is no descriptor; C's file is the one added at C last.
	 */
	n = ctl(ep, EPOLL_CTL_DEL, b, 0);
	CHECK(n == ENOENT, "DEL of fd %d: %s", b, strerror(n));
	n = ctl(ep, EPOLL_CTL_MOD, e, 0x4004);
	CHECK(n == ENOENT, "MOD of fd %d: %s", e, strerror(n));
	n = ctl(ep, EPOLL_CTL_MOD, a, 0x4004);
	CHECK(n == EBADF, "MOD of fd %d: %s", a, strerror(n));
	n = ctl(ep, EPOLL_CTL_ADD, c, 0x4004);
	CHECK(n == EEXIST, "ADD of fd %d again: %s", c, strerror(n));
	n = ctl(ep, EPOLL_CTL_MOD, c, 0x4005);
	CHECK(n == 0, "MOD of fd %d: %s", c, strerror(n));
	v = 1;
	CHECK(write(c, &v, sizeof(v)) == sizeof(v), "write fd %d", c);
	got = ready(ep, 0x4000);
	CHECK(got == (BIT(1) | BIT(2) | BIT(5)), "reports %#x once fd %d was written", got, c);
	/* They watch the restored files themselves: reading them makes them not ready. */
	CHECK(read(b, &v, sizeof(v)) == sizeof(v) && v == 1, "fd %d count %llu", b,
	      (unsigned long long)v);
	CHECK(read(e, &v, sizeof(v)) == sizeof(v) && v == 2, "fd %d count %llu", e,
	      (unsigned long long)v);
	got = ready(ep, 0x4000);
	CHECK(got == BIT(5), "reports %#x once fds %d and %d were read", got, b, e);
	/* A file's last descriptor closed: its item goes, the others stay. */
	v = 1;
	CHECK(write(b, &v, sizeof(v)) == sizeof(v) && write(e, &v, sizeof(v)) == sizeof(v),
	      "write fds %d and %d", b, e);
	CHECK(close(b) == 0 && ready(ep, 0x4000) == (BIT(2) | BIT(5)),
	      "the item of fd %d's file is reported after its last close", b);
	CHECK(close(e) == 0 && ready(ep, 0x4000) == BIT(5),
	      "the item of fd %d's file is reported after its last close", e);
	CHECK(fdinfo_items(ep, c, &all) == 1 && all == 1, "%d items left", all);
	report("moved", "ready 1 checked 1 errors %d", errors);
	for (;;)
		pause();
}

/* An epoll whose item's file only a child holds by now. */
static void elsewhere(void)
{
	int ep, tfd, count = 0;
	pid_t child;

	ep = epoll_create1(0);
	tfd = efd(1);
	if (ep < 0)
		die("epoll_create1");
	add(ep, tfd, EPOLLIN, 7);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(ep);
		for (;;)
			pause();
	}
	if (close(tfd))
		die("close");
	for (;;) {
		report("refused", "fd %d tfd %d child %d count %d", ep, tfd, child, count++);
		nap(20);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: epoll state|moved|elsewhere DIR\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "state"))
		state();
	else if (!strcmp(argv[1], "moved"))
		moved();
	else if (!strcmp(argv[1], "elsewhere"))
		elsewhere();
	fprintf(stderr, "epoll: unknown mode %s\n", argv[1]);
	return 2;
}
