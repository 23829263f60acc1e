/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The status files of the targets that count (target.c, refusals.c, bench_load.c):
 * STATUS.info, written once the state a test asked for is set up, holds "key=value"
 * lines (ktap.read_info); the first line of STATUS is rewritten in place after each
 * step of the count, so that a reader sees the newest count (or half of one, which it
 * ignores).
 */
#ifndef SELFTESTS_TARGETS_STATUS_H
#define SELFTESTS_TARGETS_STATUS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Writes the LEN bytes of INFO to STATUS.info. Returns 0, or -1 with errno set. */
static inline int write_info(const char *status, const char *info, int len)
{
	char path[4200];
	int fd, whole;

	snprintf(path, sizeof(path), "%s.info", status);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	whole = write(fd, info, len) == len;
	if (close(fd) || !whole)
		return -1;
	return 0;
}

/* Replaces the first line of the status file FD with the LEN bytes of LINE. */
static inline int put_status(int fd, const char *line, int len)
{
	return pwrite(fd, line, len, 0) == len ? 0 : -1;
}

/* Sleeps MS milliseconds, however many signals are handled meanwhile. */
static inline void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#endif
