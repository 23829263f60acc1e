// SPDX-License-Identifier: GPL-2.0
/*
 * File locks that selftests/test_locks.py checkpoints and restarts. Each process reports
 * in DIR/NAME (report.h); a check that fails is printed on stderr (DIR/stderr) and counted
 * in the report's "errors".
 *
 *   locks state DIR [UID]  (as UID if given) holds, in DIR: flock LOCK_EX on "flock-ex",
 *                          LOCK_SH on "flock-sh", POSIX F_RDLCK on bytes 0-99 and F_WRLCK
 *                          on 200 to the end of "posix" (two ranges, one file), an OFD
 *                          F_WRLCK on bytes 10-19 of "ofd", and LOCK_EX on "shared",
 *                          whose description a child inherits (one lock, held by both).
 *                          The child then blocks in F_SETLKW for bytes 200-299 of "posix".
 *                          The parent reports "ready 1" and waits for SIGUSR2; then it
 *                          unlocks and takes again each of its locks without waiting
 *                          (they are its own), releases 200-EOF of "posix": the child's
 *                          restarted F_SETLKW gets it and the child reports "got 1".
 *   locks probe DIR        a process outside the tree: reports, for each lock above, what
 *                          another process gets when it asks for a conflicting one
 *                          (flock LOCK_NB: errno; F_GETLK, F_OFD_GETLK: type and pid).
 *   locks lease DIR        holds a read lease (F_SETLEASE) on "leased"; "ready 1".
 *   locks grab DIR         holds LOCK_EX on "grab-flock", F_WRLCK on 0-9 of "grab-posix";
 *                          after SIGUSR2 checks it holds them (a probe of its own: a
 *                          child), "checked 1 errors E".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"



static int open_in(const char *name, int flags)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

static struct flock range(short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return l;
}

/* F_SETLK (or F_OFD_SETLK, F_SETLKW) of TYPE over START, LEN; 0 or errno. */
static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock l = range(type, start, len);

	return fcntl(fd, cmd, &l) ? errno : 0;
}

/* What F_GETLK (or F_OFD_GETLK) says of a TYPE lock over START, LEN: *pid, the type. */
static int getlk(int fd, int cmd, short type, off_t start, off_t len, int *pid)
{
	struct flock l = range(type, start, len);

	if (fcntl(fd, cmd, &l))
		return -errno;
	*pid = l.l_pid;
	return l.l_type;
}

static int flock_nb(int fd, int op)
{
	return flock(fd, op | LOCK_NB) ? errno : 0;
}

static void __attribute__((noreturn)) state(void)
{
	int ex, sh, px, ofd, shared;
	pid_t child;

	ex = open_in("flock-ex", O_RDWR);
	sh = open_in("flock-sh", O_RDONLY);
	px = open_in("posix", O_RDWR);
	ofd = open_in("ofd", O_RDWR);
	shared = open_in("shared", O_RDWR);
	if (flock(ex, LOCK_EX) || flock(sh, LOCK_SH) || flock(shared, LOCK_EX))
		die("flock");
	if (setlk(px, F_SETLK, F_RDLCK, 0, 100) || setlk(px, F_SETLK, F_WRLCK, 200, 0))
		die("F_SETLK");
	if (setlk(ofd, F_OFD_SETLK, F_WRLCK, 10, 10))
		die("F_OFD_SETLK");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		int r;

		report("child", "ready 1 got 0");
		/* Blocks until the parent releases 200-EOF (after the restart). */
		r = setlk(px, F_SETLKW, F_WRLCK, 200, 100);
		CHECK(r == 0, "child: F_SETLKW: errno %d", r);
		report("child", "ready 1 got 1 errors %d", errors);
		for (;;)
			pause();
	}
	report("parent", "ready 1 child %d checked 0 posix %d ofd %d shared %d", child, px, ofd,
	       shared);
	wait_sig(SIGUSR2);

	/* After the restart: the locks are ours, so unlocking and taking them again works. */
	CHECK(flock_nb(ex, LOCK_UN) == 0 && flock_nb(ex, LOCK_EX) == 0, "flock-ex again");
	CHECK(flock_nb(sh, LOCK_SH) == 0, "flock-sh again");
	CHECK(flock_nb(shared, LOCK_EX) == 0, "shared again: errno %d", errno);
	CHECK(setlk(px, F_SETLK, F_WRLCK, 0, 100) == 0, "posix 0-99 made a write lock");
	CHECK(setlk(px, F_SETLK, F_RDLCK, 0, 100) == 0, "posix 0-99 a read lock again");
	CHECK(setlk(ofd, F_OFD_SETLK, F_UNLCK, 10, 10) == 0 &&
	      setlk(ofd, F_OFD_SETLK, F_WRLCK, 10, 10) == 0, "ofd again");
	/* Lets the child's F_SETLKW through. */
	CHECK(setlk(px, F_SETLK, F_UNLCK, 200, 0) == 0, "posix 200-EOF released");
	report("parent", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

static int probe(void)
{
	int ex = open_in("flock-ex", O_RDWR), sh = open_in("flock-sh", O_RDWR);
	int px = open_in("posix", O_RDWR), ofd = open_in("ofd", O_RDWR);
	int shared = open_in("shared", O_RDWR);
	int w_pid = 0, r_pid = 0, gap_pid = 0, rr_pid = 0, ofd_pid = 0, free_pid = 0;
	int w, r, gap, rr, o, o_free, ex_sh, sh_ex, sh_sh, shared_sh;

	/*
	 * A write lock over 0-99 conflicts with the read lock there; a read lock over 200+
	 * with the write lock; 100-199 is free; reading 0-99 is shared.
	 */
	w = getlk(px, F_GETLK, F_WRLCK, 0, 100, &w_pid);
	r = getlk(px, F_GETLK, F_RDLCK, 250, 10, &r_pid);
	gap = getlk(px, F_GETLK, F_WRLCK, 100, 100, &gap_pid);
	rr = getlk(px, F_GETLK, F_RDLCK, 0, 100, &rr_pid);
	o = getlk(ofd, F_OFD_GETLK, F_RDLCK, 15, 1, &ofd_pid);
	o_free = getlk(ofd, F_OFD_GETLK, F_WRLCK, 20, 0, &free_pid);
	ex_sh = flock_nb(ex, LOCK_SH);
	sh_ex = flock_nb(sh, LOCK_EX);
	sh_sh = flock_nb(sh, LOCK_SH);
	shared_sh = flock_nb(shared, LOCK_SH);
	report("probe",
	       "ex_sh %d sh_ex %d sh_sh %d shared_sh %d w %d w_pid %d r %d r_pid %d gap %d rr %d ofd %d ofd_pid %d ofd_free %d",
	       ex_sh, sh_ex, sh_sh, shared_sh, w, w_pid, r, r_pid, gap, rr, o, ofd_pid, o_free);
	return 0;
}

static void __attribute__((noreturn)) lease(void)
{
	int fd = open_in("leased", O_RDONLY);

	if (fcntl(fd, F_SETLEASE, F_RDLCK))
		die("F_SETLEASE");
	report("lease", "ready 1 fd %d", fd);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) grab(void)
{
	int fl = open_in("grab-flock", O_RDWR), px = open_in("grab-posix", O_RDWR);
	int status, pid;
	pid_t c;

	if (flock(fl, LOCK_EX) || setlk(px, F_SETLK, F_WRLCK, 0, 10))
		die("grab: locks");
	report("grab", "ready 1 checked 0 flock %d posix %d", fl, px);
	wait_sig(SIGUSR2);
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		int a = open_in("grab-flock", O_RDWR);

		_exit(flock_nb(a, LOCK_SH) == EWOULDBLOCK &&
		      getlk(px, F_GETLK, F_RDLCK, 5, 1, &pid) == F_WRLCK && pid == getppid() ? 0 : 1);
	}
	CHECK(waitpid(c, &status, 0) == c && WIFEXITED(status) && !WEXITSTATUS(status),
	      "grab: the locks are not held after the restart");
	report("grab", "ready 1 checked 1 errors %d", errors);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: locks state|probe|lease|grab DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (argc > 3)
		drop_to(argv[3]);
	block_usr_signals();
	if (!strcmp(argv[1], "state"))
		state();
	if (!strcmp(argv[1], "probe"))
		return probe();
	if (!strcmp(argv[1], "lease"))
		lease();
	if (!strcmp(argv[1], "grab"))
		grab();
	fprintf(stderr, "locks: unknown mode %s\n", argv[1]);
	return 2;
}
