// SPDX-License-Identifier: GPL-2.0
/*
 * A tree whose state test_show.py knows, to check what the views of `ckpt show` say
 * of its image (--ps, --mems, --fds, --errors). Each process reports in DIR/NAME
 * (report.h), then waits.
 *
 *   views state DIR [UID]   (as UID if given: setgid/setuid first) the parent opens
 *                           DIR/data, writes DATA bytes in it and seeks to OFFSET; maps
 *                           AREA_PAGES anonymous private pages and writes in TOUCHED of
 *                           them; makes a pipe and forks a child, which keeps the write
 *                           end only, writes "hello" in it, writes in CHILD_TOUCHED more
 *                           pages of the area and forks a grandchild. Reports:
 *                           "parent": child, area, pages, touched, datafd, offset, rfd;
 *                           "child": grandchild, wfd, touched (its own pages written, the
 *                           parent's included: a child's copy is saved as its own);
 *                           "grandchild": ready.
 *   views refuse DIR        the same, but the child's working directory is DIR/gone/in,
 *                           removed with DIR/gone: the checkpoint is refused among the
 *                           child's records.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

#define PAGE 4096
#define AREA_PAGES 64
#define DATA 10000
#define OFFSET 4321
#define TOUCHED 5
#define CHILD_TOUCHED 2

/* The pages of the area the parent writes in, then those the child adds. */
static const int parent_pages[TOUCHED] = { 0, 5, 6, 7, 40 };
static const int child_pages[CHILD_TOUCHED] = { 20, 63 };

static void forever(void)
{
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static char buf[DATA];
	char path[4200];
	int refuse, fd, p[2], i;
	pid_t child, grandchild;
	char *area;

	if (argc < 3 || (strcmp(argv[1], "state") && strcmp(argv[1], "refuse"))) {
		fprintf(stderr, "usage: views state|refuse DIR [UID]\n");
		return 2;
	}
	refuse = !strcmp(argv[1], "refuse");
	dir = argv[2];
	if (argc > 3) {
		if (setgroups(0, NULL) || setgid(atoi(argv[3])) || setuid(atoi(argv[3])))
			die("dropping to UID");
		/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
		if (prctl(PR_SET_DUMPABLE, 1))
			die("PR_SET_DUMPABLE");
	}
	block_usr_signals();

	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(buf, 'd', sizeof(buf));
	if (fd < 0 || write(fd, buf, DATA) != DATA || lseek(fd, OFFSET, SEEK_SET) != OFFSET)
		die(path);

	area = mmap(NULL, AREA_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	/* Pages of 4 KiB, not a huge page: the count of pages saved is known. */
	madvise(area, AREA_PAGES * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < TOUCHED; i++)
		area[parent_pages[i] * PAGE] = 1 + i;

	if (pipe(p))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		close(p[0]);
		if (write(p[1], "hello", 5) != 5)
			die("write to the pipe");
		for (i = 0; i < CHILD_TOUCHED; i++)
			area[child_pages[i] * PAGE] = 1;
		if (refuse) {
			/* Removed with the directory it was in: nowhere to make it again. */
			snprintf(path, sizeof(path), "%s/gone", dir);
			if (mkdir(path, 0755) || chdir(path) || mkdir("in", 0755) || chdir("in") ||
			    rmdir("../in") || rmdir(path))
				die(path);
		}
		grandchild = fork();
		if (grandchild < 0)
			die("fork");
		if (!grandchild) {
			report("grandchild", "ready 1");
			forever();
		}
		report("child", "ready 1 grandchild %d wfd %d touched %d", grandchild, p[1],
		       TOUCHED + CHILD_TOUCHED);
		forever();
	}
	close(p[1]);
	report("parent", "ready 1 child %d area %lu pages %d touched %d datafd %d offset %d rfd %d",
	       child, (unsigned long)area, AREA_PAGES, TOUCHED, fd, OFFSET, p[0]);
	forever();
}
