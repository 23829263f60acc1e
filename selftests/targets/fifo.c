// SPDX-License-Identifier: GPL-2.0
/*
 * Named pipes (FIFOs) that selftests/test_fifo.py checkpoints and restarts. Each
 * process reports in DIR/NAME (report.h); a check that fails is printed on stderr
 * (DIR/stderr) and counted in the report's "errors".
 *
 *   fifo state DIR [UID]  (as UID if given: setgid/setuid first) makes DIR/fifo; the
 *                         parent opens it O_RDONLY | O_NONBLOCK, forks a child that
 *                         opens it O_WRONLY (blocking), sets its size to 128 KiB
 *                         (F_SETPIPE_SZ) and writes SAVED bytes of a pattern in it,
 *                         more than a default pipe holds. The parent also makes
 *                         DIR/gone, opens it O_RDWR (before the fork: the child shares
 *                         that description), writes "gone-bytes" in it and unlinks
 *                         it. Both report "ready 1" and wait: the parent for SIGUSR2.
 *                         Then the parent checks its descriptors' flags and the size,
 *                         reads exactly the SAVED bytes back (then EAGAIN: no more),
 *                         sends SIGUSR1 to the child, which writes "new-bytes" to
 *                         DIR/fifo and "child-bytes" to the unlinked one and reports
 *                         "wrote 1"; the parent reads both, checks the unlinked one
 *                         is still unlinked (nlink 0), and reports "checked 1 errors E".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

#define SAVED 70000
#define SIZE (128 * 1024)



static char pattern(int i)
{
	return 'a' + (i * 7 + i / 13) % 26;
}

/* Reads LEN bytes from the FIFO FD (non-blocking or not), waiting up to 10 s for them. */
static int read_all(int fd, char *buf, int len)
{
	int got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static int fl_of(int fd)
{
	return fcntl(fd, F_GETFL);
}

static void child_main(const char *path, int gone)
{
	static char buf[SAVED];
	int w, i;

	w = open(path, O_WRONLY);
	if (w < 0)
		die("open fifo for writing");
	if (fcntl(w, F_SETPIPE_SZ, SIZE) < SIZE)
		die("F_SETPIPE_SZ");
	for (i = 0; i < SAVED; i++)
		buf[i] = pattern(i);
	if (write(w, buf, SAVED) != SAVED)
		die("write saved bytes");
	report("child", "ready 1 wrote 0 wfd %d", w);
	wait_sig(SIGUSR1);
	/* After the restart: the writer's descriptor is as it was. */
	CHECK((fl_of(w) & O_ACCMODE) == O_WRONLY, "writer access mode %#x", fl_of(w));
	CHECK(!(fl_of(w) & O_NONBLOCK), "writer is O_NONBLOCK: %#x", fl_of(w));
	CHECK(fcntl(w, F_GETPIPE_SZ) == SIZE, "writer sees size %d", fcntl(w, F_GETPIPE_SZ));
	CHECK(write(w, "new-bytes", 9) == 9, "write new bytes: %m");
	CHECK(write(gone, "child-bytes", 11) == 11, "write to the unlinked FIFO: %m");
	report("child", "ready 1 wrote 1 errors %d", errors);
	for (;;)
		pause();
}

static void state(const char *uid)
{
	static char buf[SAVED + 16];
	char path[4200], gpath[4200], small[64];
	struct stat st;
	int r, gone, n, i, bad;
	pid_t child;

	if (uid) {
		if (setgroups(0, NULL) || setgid(atoi(uid)) || setuid(atoi(uid)))
			die("dropping to UID");
		/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
		if (prctl(PR_SET_DUMPABLE, 1))
			die("PR_SET_DUMPABLE");
	}
	block_usr_signals();
	snprintf(path, sizeof(path), "%s/fifo", dir);
	snprintf(gpath, sizeof(gpath), "%s/gone", dir);
	if (mkfifo(path, 0600) || mkfifo(gpath, 0640))
		die("mkfifo");
	r = open(path, O_RDONLY | O_NONBLOCK);
	gone = open(gpath, O_RDWR);
	if (r < 0 || gone < 0)
		die("open");
	if (write(gone, "gone-bytes", 10) != 10 || unlink(gpath))
		die("gone FIFO");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child)
		child_main(path, gone);
	report("parent", "ready 1 child %d rfd %d gonefd %d checked 0", child, r, gone);
	wait_sig(SIGUSR2);

	/* After the restart. */
	CHECK((fl_of(r) & O_ACCMODE) == O_RDONLY, "reader access mode %#x", fl_of(r));
	CHECK(fl_of(r) & O_NONBLOCK, "reader lost O_NONBLOCK: %#x", fl_of(r));
	CHECK((fl_of(gone) & O_ACCMODE) == O_RDWR, "unlinked FIFO access mode %#x", fl_of(gone));
	CHECK(fcntl(r, F_GETPIPE_SZ) == SIZE, "size %d, not %d", fcntl(r, F_GETPIPE_SZ), SIZE);
	n = read_all(r, buf, SAVED);
	CHECK(n == SAVED, "read %d of the %d saved bytes", n, SAVED);
	for (i = 0, bad = -1; i < n && bad < 0; i++)
		if (buf[i] != pattern(i))
			bad = i;
	CHECK(bad < 0, "saved byte %d is %#x, not %#x", bad, buf[bad], pattern(bad));
	n = read(r, small, sizeof(small));
	CHECK(n < 0 && errno == EAGAIN, "after the saved bytes, read gave %d (errno %d)", n, errno);
	n = read(gone, small, 10);
	CHECK(n == 10 && !memcmp(small, "gone-bytes", 10), "unlinked FIFO gave %d bytes: %.*s",
	      n, n > 0 ? n : 0, small);
	CHECK(fstat(gone, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_nlink == 0,
	      "unlinked FIFO: mode %#o nlink %lu", st.st_mode, (unsigned long)st.st_nlink);
	CHECK(access(gpath, F_OK) < 0, "%s exists again", gpath);

	kill(child, SIGUSR1);
	n = read_all(r, small, 9);
	CHECK(n == 9 && !memcmp(small, "new-bytes", 9), "new bytes: %d: %.*s", n, n > 0 ? n : 0, small);
	n = read_all(gone, small, 11);
	CHECK(n == 11 && !memcmp(small, "child-bytes", 11), "child's bytes on the unlinked FIFO: %d", n);
	report("parent", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fifo state DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "state"))
		state(argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "fifo: unknown mode %s\n", argv[1]);
	return 2;
}
