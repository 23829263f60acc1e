// SPDX-License-Identifier: GPL-2.0
/*
 * A container whose own IPC namespace holds POSIX message queues, for test_mqueue.py:
 *
 *   mqueue container DIR HOST_IPC [KIND]
 *	clones an init with CLONE_NEWPID|CLONE_NEWIPC (the launcher reports "launcher init
 *	PID"), which makes:
 *	  /ckpt-a, 0640, maxmsg 8, msgsize 64, holding the messages of msgs[] (sent in that
 *	    order, received highest priority first), open read-write (blocking) as fd QA;
 *	  /ckpt-b, 0604, maxmsg 3, msgsize 1000, empty, given to 1001:1002 (fchown), open
 *	    read-only with O_NONBLOCK as fd QB;
 *	  /ckpt-c, 0600, maxmsg 2, msgsize 512, holding one message of 500 bytes (priority
 *	    3), no descriptor open;
 *	then forks a child, which inherits QA and QB (the same open descriptions). Both
 *	check, every 50 ms, their descriptors' attributes (mq_getattr: flags, maxmsg,
 *	msgsize, messages queued), owners and modes (fstat), and report in DIR/init and
 *	DIR/child "count N errors E". On SIGUSR1, init receives, once: every message of
 *	/ckpt-a (order, priorities and texts), nothing from QB (EAGAIN: O_NONBLOCK), the
 *	message of /ckpt-c (opened by name); its report's "polled" counts that, "received"
 *	the messages it got as expected (6).
 *	KIND adds what a checkpoint refuses: "notify" a notification registered on QB
 *	(mq_notify), "unlinked" a queue open while unlinked (mq_unlink).
 */
#define _GNU_SOURCE
#include <mqueue.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "report.h"

static const struct {
	const char *text;
	unsigned int prio;
} msgs[] = {
	{ "low one", 1 }, { "high", 9 }, { "low two", 1 }, { "middle", 5 }, { "", 0 },
};

/* The order they come out in: msgs[] by priority, then in the order sent. */
static const int received_order[] = { 1, 3, 0, 2, 4 };

static unsigned long host_ipc;
static mqd_t qa, qb;
static long a_queued = ARRAY_SIZE(msgs);
static int polled, received;
static char c_text[500];

static mqd_t make(const char *name, int flags, mode_t mode, long maxmsg, long msgsize)
{
	struct mq_attr attr = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | flags, mode, &attr);

	if (q == (mqd_t)-1)
		die(name);
	/* The umask may have taken bits off. */
	if (fchmod(q, mode))
		die("fchmod");
	return q;
}

static void check_queue(const char *what, mqd_t q, long flags, long maxmsg, long msgsize,
			long queued, uid_t uid, gid_t gid, mode_t mode)
{
	struct mq_attr a;
	struct stat st;

	if (mq_getattr(q, &a) || fstat(q, &st)) {
		CHECK(0, "%s: mq_getattr or fstat: %m", what);
		return;
	}
	/* QUEUED -1: any. */
	CHECK(a.mq_flags == flags && a.mq_maxmsg == maxmsg && a.mq_msgsize == msgsize &&
	      (queued < 0 || a.mq_curmsgs == queued),
	      "%s: flags %#lx maxmsg %ld msgsize %ld queued %ld, not %#lx %ld %ld %ld", what,
	      a.mq_flags, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs, flags, maxmsg, msgsize,
	      queued);
	CHECK(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == mode,
	      "%s: owner %u:%u mode %#o, not %u:%u %#o", what, st.st_uid, st.st_gid,
	      st.st_mode & 07777, uid, gid, mode);
}

static void check_all(int init)
{
	struct stat st;
	char path[64];

	/* The child cannot know when init took the messages: only init counts them. */
	check_queue("/ckpt-a", qa, 0, 8, 64, init ? a_queued : -1, 0, 0, 0640);
	check_queue("/ckpt-b", qb, O_NONBLOCK, 3, 1000, 0, 1001, 1002, 0604);
	snprintf(path, sizeof(path), "/proc/self/ns/ipc");
	if (stat(path, &st))
		die(path);
	CHECK(st.st_ino != host_ipc, "in the host's IPC namespace");
}

/* On SIGUSR1, once: the messages of /ckpt-a and /ckpt-c, nothing from QB. */
static void poll_once(void)
{
	char buf[1000];
	unsigned int prio;
	ssize_t n;
	mqd_t qc;

	CHECK(!polled, "polled a second time");
	for (size_t k = 0; k < ARRAY_SIZE(received_order); k++) {
		int m = received_order[k];

		n = mq_receive(qa, buf, sizeof(buf), &prio);
		if (n < 0) {
			CHECK(0, "mq_receive %zu of /ckpt-a: %m", k);
			break;
		}
		a_queued--;
		if ((size_t)n == strlen(msgs[m].text) && !memcmp(buf, msgs[m].text, n) &&
		    prio == msgs[m].prio)
			received++;
		else
			CHECK(0, "message %zu of /ckpt-a: %zd bytes of priority %u, not \"%s\" (%u)",
			      k, n, prio, msgs[m].text, msgs[m].prio);
	}
	CHECK(mq_receive(qb, buf, sizeof(buf), NULL) < 0 && errno == EAGAIN,
	      "/ckpt-b: not empty or not O_NONBLOCK (%m)");
	qc = mq_open("/ckpt-c", O_RDONLY | O_NONBLOCK);
	if (qc == (mqd_t)-1) {
		CHECK(0, "mq_open of /ckpt-c: %m");
	} else {
		n = mq_receive(qc, buf, sizeof(buf), &prio);
		if (n == sizeof(c_text) && prio == 3 && !memcmp(buf, c_text, n))
			received++;
		else
			CHECK(0, "/ckpt-c: %zd bytes of priority %u (%m)", n, prio);
		mq_close(qc);
	}
	polled++;
}

static void __attribute__((noreturn)) run(const char *name, int init)
{
	struct timespec zero = { 0, 0 };
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	for (unsigned long long n = 1;; n++) {
		check_all(init);
		if (init)
			report(name, "count %llu errors %d polled %d received %d", n, errors,
			       polled, received);
		else
			report(name, "count %llu errors %d", n, errors);
		nap(50);
		if (init && sigtimedwait(&usr1, NULL, &zero) == SIGUSR1)
			poll_once();
	}
}

static int container_init(void *arg)
{
	const char *kind = arg;
	mqd_t qc;

	if (setsid() < 0)
		die("setsid");
	block_usr_signals();
	qa = make("/ckpt-a", O_RDWR, 0640, 8, 64);
	for (size_t k = 0; k < ARRAY_SIZE(msgs); k++)
		if (mq_send(qa, msgs[k].text, strlen(msgs[k].text), msgs[k].prio))
			die("mq_send");
	qb = make("/ckpt-b", O_RDONLY | O_NONBLOCK, 0604, 3, 1000);
	if (fchown(qb, 1001, 1002))
		die("fchown");
	for (size_t k = 0; k < sizeof(c_text); k++)
		c_text[k] = (char)(k * 7 + 1);
	qc = make("/ckpt-c", O_WRONLY, 0600, 2, 512);
	if (mq_send(qc, c_text, sizeof(c_text), 3) || mq_close(qc))
		die("/ckpt-c");
	if (!strcmp(kind, "notify")) {
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };

		if (mq_notify(qb, &ev))
			die("mq_notify");
	}
	if (!strcmp(kind, "unlinked")) {
		make("/ckpt-d", O_RDONLY, 0600, 1, 8);
		if (mq_unlink("/ckpt-d"))
			die("mq_unlink");
	}
	switch (fork()) {
	case -1:
		die("fork");
	case 0:
		run("child", 0);
	}
	run("init", 1);
}

static char stack[64 << 10] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
	pid_t init;

	if (argc < 4 || strcmp(argv[1], "container")) {
		fputs("usage: mqueue container DIR HOST_IPC [notify|unlinked]\n", stderr);
		return 2;
	}
	dir = argv[2];
	host_ipc = strtoul(argv[3], NULL, 10);
	init = clone(container_init, stack + sizeof(stack), CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD,
		     (void *)(argc >= 5 ? argv[4] : ""));
	if (init < 0)
		die("clone");
	report("launcher", "init %d", init);
	waitpid(init, NULL, 0);
	return 0;
}
