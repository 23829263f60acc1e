// SPDX-License-Identifier: GPL-2.0
/*
 * inotify watches that selftests/test_inotify.py checkpoints and restarts. The process
 * reports in DIR/state (report.h); a check that fails is printed on stderr (DIR/stderr)
 * and counted in the report's "errors".
 *
 *   inotify state DIR [UID]    (as UID if given) makes DIR/watched/file and DIR/other,
 *                              then an inotify (IN_NONBLOCK) with watch 1 on
 *                              DIR/watched (IN_CREATE | IN_DELETE) and, after a watch
 *                              on DIR/other was added and removed (descriptor 2),
 *                              watch 3 on DIR/watched/file (IN_MODIFY | IN_ONESHOT).
 *                              Creates DIR/watched/before, whose event stays queued.
 *                              Reports "ready 1 wd_dir 1 wd_file 3" and waits for
 *                              SIGUSR2; the test meanwhile creates DIR/watched/after and
 *                              appends to DIR/watched/file. Then it reads its events:
 *                              IN_CREATE "after" on watch 1, IN_MODIFY on watch 3, then
 *                              IN_IGNORED of watch 3 (it was one-shot), and nothing of
 *                              "before" (the queue is not saved); a new watch gets
 *                              descriptor 4; "checked 1 errors E".
 *   inotify deleted DIR        watches DIR/gone, keeps it open and unlinks it; reports
 *                              "ready 1" and waits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"



static char path_buf[4][4200];

static const char *at(int i, const char *name)
{
	snprintf(path_buf[i], sizeof(path_buf[i]), "%s/%s", dir, name);
	return path_buf[i];
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0 || close(fd))
		die(path);
}

/* The next event, waiting up to 10 s for it; 0 if none came. */
static int next_event(int fd, struct inotify_event *ev, char *name, size_t size)
{
	static char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	static ssize_t len, off;
	struct inotify_event *e;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (off >= len) {
		if (poll(&p, 1, 10000) != 1)
			return 0;
		len = read(fd, buf, sizeof(buf));
		off = 0;
		if (len <= 0)
			return 0;
	}
	e = (struct inotify_event *)(buf + off);
	*ev = *e;
	snprintf(name, size, "%s", e->len ? e->name : "");
	off += sizeof(*e) + e->len;
	return 1;
}

static void check_after(int fd, int wd_dir, int wd_file)
{
	struct inotify_event ev;
	int created = 0, modified = 0, ignored = 0, wd;
	char name[256];

	while ((!created || !modified || !ignored) && next_event(fd, &ev, name, sizeof(name))) {
		CHECK(strcmp(name, "before"), "the event of \"before\" was queued again");
		if (ev.wd == wd_dir && (ev.mask & IN_CREATE) && !strcmp(name, "after"))
			created = 1;
		else if (ev.wd == wd_file && (ev.mask & IN_MODIFY))
			modified = 1;
		else if (ev.wd == wd_file && (ev.mask & IN_IGNORED))
			ignored = 1;
		else
			CHECK(0, "unexpected event wd %d mask %#x name \"%s\"", ev.wd, ev.mask, name);
	}
	CHECK(created, "no IN_CREATE of \"after\" on watch %d", wd_dir);
	CHECK(modified, "no IN_MODIFY on watch %d", wd_file);
	CHECK(ignored, "no IN_IGNORED of one-shot watch %d", wd_file);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	wd = inotify_add_watch(fd, at(0, "other"), IN_ATTRIB);
	CHECK(wd == 4, "a new watch got descriptor %d, not 4", wd);
}

int main(int argc, char **argv)
{
	int fd, wd_dir, wd_tmp, wd_file, keep, sig;
	sigset_t set;

	if (argc < 3 || (strcmp(argv[1], "state") && strcmp(argv[1], "deleted"))) {
		fprintf(stderr, "usage: inotify state|deleted DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (argc > 3 && (setgroups(0, NULL) || setgid(atoi(argv[3])) || setuid(atoi(argv[3]))))
		die("dropping to UID");
	/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0)
		die("inotify_init1");
	if (!strcmp(argv[1], "deleted")) {
		touch(at(0, "gone"));
		keep = open(at(0, "gone"), O_RDONLY);
		if (keep < 0 || inotify_add_watch(fd, at(0, "gone"), IN_MODIFY) != 1 ||
		    unlink(at(0, "gone")))
			die("gone");
		report("state", "ready 1");
		for (;;)
			pause();
	}
	if (mkdir(at(0, "watched"), 0755))
		die("mkdir");
	touch(at(0, "watched/file"));
	touch(at(0, "other"));
	wd_dir = inotify_add_watch(fd, at(0, "watched"), IN_CREATE | IN_DELETE);
	wd_tmp = inotify_add_watch(fd, at(1, "other"), IN_MODIFY);
	if (wd_tmp < 0 || inotify_rm_watch(fd, wd_tmp))
		die("watch of other");
	wd_file = inotify_add_watch(fd, at(2, "watched/file"), IN_MODIFY | IN_ONESHOT);
	if (wd_dir != 1 || wd_tmp != 2 || wd_file != 3)
		die("watch descriptors");
	/* IN_IGNORED of watch 2, then IN_CREATE of "before": both left queued. */
	touch(at(3, "watched/before"));
	report("state", "ready 1 wd_dir %d wd_file %d", wd_dir, wd_file);
	/* sigwaitinfo fails with EINTR after a stop, as after the checkpoint's; sigwait retries. */
	if (sigwait(&set, &sig) || sig != SIGUSR2)
		die("sigwait");
	check_after(fd, wd_dir, wd_file);
	report("state", "checked 1 errors %d", errors);
	for (;;)
		pause();
}
