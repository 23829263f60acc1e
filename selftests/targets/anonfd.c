// SPDX-License-Identifier: GPL-2.0
/*
 * eventfds, timerfds and signalfds that selftests/test_anonfd.py checkpoints and
 * restarts. Each process reports in DIR/NAME (report.h); a check that fails is
 * printed on stderr (DIR/stderr) and counted in the report's "errors".
 *
 *   anonfd state DIR     the parent holds an eventfd in semaphore mode (count 5,
 *                        blocking), a plain one (count 5, O_NONBLOCK, close-on-exec),
 *                        a timerfd firing every 50 ms (CLOCK_MONOTONIC), one armed
 *                        2 s ahead (CLOCK_BOOTTIME), a one-shot one that expired
 *                        unread, one armed with TFD_TIMER_ABSTIME
 *                        10 s ahead on CLOCK_REALTIME, a signalfd for SIGUSR1 with one
 *                        SIGUSR1 pending, and an eventfd it shares (also through a
 *                        dup) with a forked child. Both report "ready 1", then wait
 *                        for SIGUSR2: the child then writes 7 to the shared eventfd
 *                        (through its dup) and reports "wrote 7"; the parent checks
 *                        every one of them, the one-shot timers first (their time
 *                        runs from the restart), and reports "checked 1 errors E"
 *                        with what it read.
 *   anonfd cancel DIR    a CLOCK_REALTIME timerfd armed with TFD_TIMER_ABSTIME |
 *                        TFD_TIMER_CANCEL_ON_SET an hour ahead; counts ("count N")
 *   anonfd alarm DIR     a CLOCK_BOOTTIME_ALARM timerfd armed an hour ahead (reports
 *                        "unavailable ERRNO" if it cannot be made); counts
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "report.h"



static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		die("clock_gettime");
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t remaining_ns(int fd)
{
	struct itimerspec it;

	if (timerfd_gettime(fd, &it))
		die("timerfd_gettime");
	return ts_ns(&it.it_value);
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int arm(int fd, int flags, int64_t value, int64_t interval)
{
	struct itimerspec it = {
		.it_value = { value / 1000000000, value % 1000000000 },
		.it_interval = { interval / 1000000000, interval % 1000000000 },
	};

	return timerfd_settime(fd, flags, &it, NULL);
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

#define MS 1000000LL

static void state(void)
{
	int sem, plain, periodic, ahead, wall, expired, sfd, shared, shared_dup;
	int64_t armed_at, wall_at, wall_expiry, ready_at, rem, ahead_rem, t0, took;
	struct signalfd_siginfo si;
	uint64_t v, ticks, total;
	sigset_t set;
	pid_t child;
	int i, n;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");

	sem = eventfd(5, EFD_SEMAPHORE);
	plain = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
	periodic = timerfd_create(CLOCK_MONOTONIC, 0);
	ahead = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	wall = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	expired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	shared = eventfd(0, 0);
	if (sem < 0 || plain < 0 || periodic < 0 || ahead < 0 || wall < 0 || expired < 0 || shared < 0)
		die("eventfd, timerfd_create");
	shared_dup = dup(shared);
	if (shared_dup < 0)
		die("dup");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		report("child", "ready 1 wrote 0");
		wait_usr2();
		v = 7;
		n = write(shared_dup, &v, sizeof(v));
		report("child", "ready 1 wrote %d", n == sizeof(v) ? 7 : -errno);
		for (;;)
			pause();
	}

	if (arm(periodic, 0, 50 * MS, 50 * MS))
		die("timerfd_settime periodic");
	/* A first expiration read: it fires. */
	if (read(periodic, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks < 1)
		die("read periodic");
	armed_at = now_ns(CLOCK_BOOTTIME);
	if (arm(ahead, 0, 2000 * MS, 0))
		die("timerfd_settime ahead");
	wall_at = now_ns(CLOCK_REALTIME);
	wall_expiry = wall_at + 10000 * MS;
	if (arm(wall, TFD_TIMER_ABSTIME, wall_expiry, 0))
		die("timerfd_settime wall");

	sfd = signalfd(-1, &(sigset_t){ 0 }, 0);
	if (sfd < 0)
		die("signalfd");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (signalfd(sfd, &set, SFD_NONBLOCK) != sfd)
		die("signalfd mask");
	if (fcntl(sfd, F_SETFL, O_NONBLOCK))
		die("F_SETFL");
	if (raise(SIGUSR1))
		die("raise");

	/* A one-shot timer that expired, not read. */
	if (arm(expired, 0, 1 * MS, 0) || !readable(expired, 1000))
		die("expired timer");
	/* An expiration of the periodic timer waits, unread, when the checkpoint comes. */
	if (!readable(periodic, 1000))
		die("periodic timer");
	ready_at = now_ns(CLOCK_BOOTTIME);
	report("parent", "ready 1 child %d", child);
	wait_usr2();

	/*
	 * The one-shot timers: what remained, no more (the process was stopped meanwhile).
	 * A timer already due when this runs (a slow restart) is test_anonfd.py's to judge:
	 * it compares the time left reported with the image's and the time since restart.
	 */
	rem = ahead_rem = remaining_ns(ahead);
	CHECK(rem <= 2000 * MS - (ready_at - armed_at),
	      "2 s timer: %lld ms remain, %lld ms had passed before the checkpoint",
	      (long long)(rem / MS), (long long)((ready_at - armed_at) / MS));
	if (rem > 20 * MS) {
		CHECK(read(ahead, &v, sizeof(v)) < 0 && errno == EAGAIN, "2 s timer fired early");
		t0 = now_ns(CLOCK_BOOTTIME);
		CHECK(readable(ahead, 10000), "2 s timer never fired");
		took = now_ns(CLOCK_BOOTTIME) - t0;
		CHECK(took >= rem - 20 * MS, "2 s timer fired after %lld ms, %lld remained",
		      (long long)(took / MS), (long long)(rem / MS));
	} else {
		CHECK(readable(ahead, 10000), "2 s timer never fired");
	}
	CHECK(read(ahead, &v, sizeof(v)) == sizeof(v) && v == 1, "2 s timer: %llu expirations",
	      (unsigned long long)v);
	/* TFD_TIMER_ABSTIME on the wall clock: it still expires at its wall-clock time. */
	rem = remaining_ns(wall);
	{
		int64_t want = wall_expiry - now_ns(CLOCK_REALTIME);

		CHECK(rem <= (want > 0 ? want : 0) + 50 * MS && rem >= want - 50 * MS,
		      "absolute timer: %lld ms remain, its wall-clock time is %lld ms ahead",
		      (long long)(rem / MS), (long long)(want / MS));
	}

	/* The one-shot timer that had expired: its one expiration, read once, disarmed. */
	v = 0;
	CHECK(read(expired, &v, sizeof(v)) == sizeof(v) && v == 1,
	      "expired timer: %llu expirations, not its 1 unread", (unsigned long long)v);
	CHECK(read(expired, &v, sizeof(v)) < 0 && errno == EAGAIN && remaining_ns(expired) == 0,
	      "expired timer: readable again or armed");

	/* The periodic timer: the unread expirations, then it keeps firing every 50 ms. */
	ticks = 0;
	CHECK(read(periodic, &ticks, sizeof(ticks)) == sizeof(ticks) && ticks >= 1,
	      "periodic timer: %llu expirations waiting", (unsigned long long)ticks);
	/*
	 * The next read re-arms it (the first may have read only the saved expirations, and
	 * then a read counts the periods since its last expiration): 5 more from there.
	 */
	if (!readable(periodic, 5000) || read(periodic, &v, sizeof(v)) != sizeof(v))
		CHECK(0, "periodic timer: no expiration after the saved ones");
	total = 0;
	t0 = now_ns(CLOCK_MONOTONIC);
	while (total < 5) {
		if (!readable(periodic, 5000)) {
			CHECK(0, "periodic timer stopped after %llu more", (unsigned long long)total);
			break;
		}
		if (read(periodic, &v, sizeof(v)) != sizeof(v))
			die("read periodic");
		total += v;
	}
	took = now_ns(CLOCK_MONOTONIC) - t0;
	CHECK(took >= (int64_t)(total - 1) * 50 * MS && took < 10000 * MS,
	      "periodic timer: %llu expirations in %lld ms", (unsigned long long)total,
	      (long long)(took / MS));
	rem = remaining_ns(periodic);
	CHECK(rem >= 0 && rem <= 50 * MS, "periodic timer: %lld ns to the next", (long long)rem);

	/* The eventfds: counts, semaphore mode, flags per description and descriptor. */
	CHECK(!(fcntl(sem, F_GETFL) & O_NONBLOCK), "semaphore eventfd became O_NONBLOCK");
	CHECK(fcntl(plain, F_GETFL) & O_NONBLOCK, "plain eventfd lost O_NONBLOCK");
	CHECK(fcntl(sem, F_GETFD) == 0, "semaphore eventfd: FD_CLOEXEC %d", fcntl(sem, F_GETFD));
	CHECK(fcntl(plain, F_GETFD) == FD_CLOEXEC, "plain eventfd lost FD_CLOEXEC");
	for (i = 0; i < 5; i++) {
		v = 0;
		CHECK(readable(sem, 0) && read(sem, &v, sizeof(v)) == sizeof(v) && v == 1,
		      "semaphore eventfd read %d: %llu", i, (unsigned long long)v);
	}
	CHECK(!readable(sem, 0), "semaphore eventfd still readable after 5 reads");
	v = 0;
	CHECK(read(plain, &v, sizeof(v)) == sizeof(v) && v == 5,
	      "plain eventfd read %llu, not 5", (unsigned long long)v);
	CHECK(read(plain, &v, sizeof(v)) < 0 && errno == EAGAIN,
	      "plain eventfd: a second read did not fail with EAGAIN");

	/* The signalfd: the pending SIGUSR1, once, sent by this process. */
	memset(&si, 0, sizeof(si));
	n = read(sfd, &si, sizeof(si));
	CHECK(n == sizeof(si) && si.ssi_signo == SIGUSR1 && (pid_t)si.ssi_pid == getpid() &&
	      si.ssi_code == SI_TKILL,
	      "signalfd read %d: signal %u from %u code %d", n, si.ssi_signo, si.ssi_pid,
	      si.ssi_code);
	CHECK(read(sfd, &si, sizeof(si)) < 0 && errno == EAGAIN,
	      "signalfd: a second read did not fail with EAGAIN");

	/* The eventfd shared with the child, which wrote 7 through its dup. */
	v = 0;
	CHECK(readable(shared, 10000) && read(shared, &v, sizeof(v)) == sizeof(v) && v == 7,
	      "shared eventfd read %llu, not the child's 7", (unsigned long long)v);
	v = 2;
	CHECK(write(shared_dup, &v, sizeof(v)) == sizeof(v) && read(shared, &v, sizeof(v)) == sizeof(v) &&
	      v == 2, "shared eventfd: a write through the dup is not read through the original");

	report("parent",
	       "ready 1 child %d checked 1 errors %d ticks %llu more %llu took_ms %lld ahead_rem_us %lld",
	       child, errors, (unsigned long long)ticks, (unsigned long long)total,
	       (long long)(took / MS), (long long)(ahead_rem / 1000));
	for (;;)
		pause();
}

/* A timerfd the checkpoint refuses, made by MAKE; then counts. */
static void refused(const char *mode)
{
	int fd, count = 0;

	if (!strcmp(mode, "cancel")) {
		fd = timerfd_create(CLOCK_REALTIME, 0);
		if (fd < 0 || arm(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
				  now_ns(CLOCK_REALTIME) + 3600000 * MS, 0))
			die("timerfd cancel-on-set");
	} else {
		fd = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
		if (fd < 0) {
			report("refused", "unavailable %d", errno);
			for (;;)
				pause();
		}
		if (arm(fd, 0, 3600000 * MS, 0))
			die("timerfd alarm");
	}
	for (;;) {
		report("refused", "fd %d count %d remaining_s %lld", fd, count++,
		       (long long)(remaining_ns(fd) / 1000000000));
		nap(20);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: anonfd state|cancel|alarm DIR\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "state"))
		state();
	else if (!strcmp(argv[1], "cancel") || !strcmp(argv[1], "alarm"))
		refused(argv[1]);
	fprintf(stderr, "anonfd: unknown mode %s\n", argv[1]);
	return 2;
}
