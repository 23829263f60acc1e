// SPDX-License-Identifier: GPL-2.0
/*
 * Processes that once made ckpt or rstr hang or say the wrong thing
 * (selftests/test_hangs.py). Each process reports in DIR/NAME (report.h).
 *
 *   hangs vfork DIR        a parent in vfork: its child (sharing its memory) waits
 *                          until DIR/release exists, then exits; the parent counts
 *   hangs traced DIR       a parent that traces its child (PTRACE_TRACEME and a stop
 *                          it lets go on); both count
 *   hangs zleader DIR      a subreaper root whose child led a session and died
 *                          (unreaped: a zombie), leaving a member of that session,
 *                          which came to the root; root and member count
 *   hangs fan DIR N        a root with N children, each with one child; all count
 *   hangs hold DIR PID     holds pid PID (clone3 with set_tid) in a child that
 *                          reports as "holder" and sleeps; the caller returns at once
 *   hangs hold DIR PID MS  the child with pid PID exits at once; its parent reports as
 *                          "reaper", reaps it MS ms later and exits
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

/* Counts forever, reporting the count (and EXTRA) in DIR/NAME every 20 ms. */
static void __attribute__((noreturn)) count(const char *name, const char *extra)
{
	for (unsigned long long n = 1;; n++) {
		report(name, "count %llu %s", n, extra);
		nap(20);
	}
}

static void __attribute__((noreturn)) in_vfork(void)
{
	char release[4200], extra[64];
	struct stat st;
	pid_t child;

	snprintf(release, sizeof(release), "%s/release", dir);
	report("parent", "count 0 child 0");
	child = vfork();
	if (child < 0)
		die("vfork");
	if (child == 0) {
		/* Shares the parent's memory and stack: only system calls until _exit. */
		report("child", "ppid %d", getppid());
		while (stat(release, &st))
			nap(10);
		_exit(0);
	}
	snprintf(extra, sizeof(extra), "child %d", child);
	count("parent", extra);
}

static void __attribute__((noreturn)) traced(void)
{
	char extra[64];
	pid_t child = fork();
	int st;

	if (child < 0)
		die("fork");
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			die("PTRACE_TRACEME");
		raise(SIGSTOP);
		count("child", "");
	}
	if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_CONT, child, NULL, NULL))
		die("waiting for the traced child");
	snprintf(extra, sizeof(extra), "child %d", child);
	for (unsigned long long n = 1;; n++) {
		/* A signal the child gets stops it for us: let it have it. */
		if (waitpid(child, &st, WNOHANG) == child && WIFSTOPPED(st))
			ptrace(PTRACE_CONT, child, NULL, (void *)(long)WSTOPSIG(st));
		report("parent", "count %llu %s", n, extra);
		nap(20);
	}
}

static void __attribute__((noreturn)) zombie_leader(void)
{
	char extra[64];
	pid_t leader;
	siginfo_t si;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("prctl");
	leader = fork();
	if (leader < 0)
		die("fork");
	if (leader == 0) {
		pid_t member;

		if (setsid() < 0)
			die("setsid");
		member = fork();
		if (member < 0)
			die("fork");
		if (member == 0)
			count("member", "");
		_exit(7);
	}
	/* Dead, not reaped: the session's leader stays a zombie. */
	if (waitid(P_PID, leader, &si, WEXITED | WNOWAIT))
		die("waitid");
	snprintf(extra, sizeof(extra), "leader %d", leader);
	count("root", extra);
}

static void __attribute__((noreturn)) fan(int n)
{
	char name[32];
	int self = 0;

	for (int i = 1; i <= n && !self; i++) {
		pid_t p = fork();

		if (p < 0)
			die("fork");
		if (p == 0)
			self = i;
	}
	if (self) {
		pid_t p = fork();

		if (p < 0)
			die("fork");
		if (p == 0) {
			snprintf(name, sizeof(name), "grandchild%d", self);
			count(name, "");
		}
		snprintf(name, sizeof(name), "child%d", self);
		count(name, "");
	}
	count("root", "");
}

static int hold(pid_t pid, int reap_ms)
{
	struct clone_args args = { .exit_signal = SIGCHLD };
	pid_t tid[1] = { pid };
	long r;

	args.set_tid = (uintptr_t)tid;
	args.set_tid_size = 1;
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r < 0)
		die("clone3 with set_tid");
	if (r == 0) {
		if (reap_ms >= 0)
			_exit(0);
		report("holder", "held %d", pid);
		for (;;)
			pause();
	}
	if (reap_ms >= 0) {
		siginfo_t si;

		/* A zombie now, reaped only later. */
		if (waitid(P_PID, r, &si, WEXITED | WNOWAIT))
			die("waitid");
		report("reaper", "zombie %d", pid);
		nap(reap_ms);
		if (waitpid(r, NULL, 0) != r)
			die("waitpid");
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 3 ? argv[1] : "";
	int a = argc >= 4 ? atoi(argv[3]) : 0;

	dir = argc >= 3 ? argv[2] : NULL;
	if (!strcmp(mode, "vfork") && argc == 3)
		in_vfork();
	if (!strcmp(mode, "traced") && argc == 3)
		traced();
	if (!strcmp(mode, "zleader") && argc == 3)
		zombie_leader();
	if (!strcmp(mode, "fan") && argc == 4 && a >= 1)
		fan(a);
	if (!strcmp(mode, "hold") && argc == 4 && a > 0)
		return hold(a, -1);
	if (!strcmp(mode, "hold") && argc == 5 && a > 0 && atoi(argv[4]) >= 0)
		return hold(a, atoi(argv[4]));
	fprintf(stderr, "usage: hangs MODE DIR [ARGS], MODE: vfork, traced, zleader, fan N, hold PID [MS]\n");
	return 2;
}
