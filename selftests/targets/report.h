/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the selftests' target programs (tree.c, hangs.c, ...) share, besides status.h's
 * nap(): DIR, where each process reports, and the report itself, one line of "key value"
 * pairs starting with "pid P", replaced whole (written aside, then renamed) so that a
 * reader never sees half a line; CHECK(), which prints a check that fails on stderr
 * ("PROGRAM: PID: line N: ...") and counts it in `errors`; SIGUSR1 and SIGUSR2 blocked
 * and waited for, by which the tests tell a process when to check.
 */
#ifndef SELFTESTS_TARGETS_REPORT_H
#define SELFTESTS_TARGETS_REPORT_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "status.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *dir;
static int errors __attribute__((unused));

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			errors++;                                            \
			fprintf(stderr, "%s: %d: line %d: ",                 \
				program_invocation_short_name, getpid(),     \
				__LINE__);                                   \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

static void die(const char *what)
{
	perror(what);
	exit(3);
}

/* Replaces DIR/NAME with "pid P " and the formatted pairs. */
static void report(const char *name, const char *fmt, ...)
{
	char line[1024], tmp[4200], path[4200];
	va_list ap;
	int n, fd;

	n = snprintf(line, sizeof(line), "pid %d ", getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, n) != n || close(fd) || rename(tmp, path))
		die(path);
}

/* Blocks SIGUSR1 and SIGUSR2, which wait_sig() then takes. */
static __attribute__((unused)) void block_usr_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
}

/* Waits for the blocked signal @which (sigwait retries after a stop, as sigwaitinfo does not). */
static __attribute__((unused)) void wait_sig(int which)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, which);
	if (sigwait(&set, &sig))
		die("sigwait");
}

/* Becomes user UID (its gid too, no supplementary groups), still traceable by that user. */
static __attribute__((unused)) void drop_to(const char *uid)
{
	if (setgroups(0, NULL) || setgid(atoi(uid)) || setuid(atoi(uid)))
		die("dropping to UID");
	/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");
}

#endif
