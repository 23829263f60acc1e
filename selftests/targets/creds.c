// SPDX-License-Identifier: GPL-2.0
/*
 * Processes with credentials and per-process attributes of their own, for
 * selftests/test_creds.py.
 *
 *   creds STATUS MODE
 *
 * MODE sets up the process (every step checked; a failure exits 1 with the
 * step on stderr), then it sleeps in a loop. SIGUSR2 makes it write
 * STATUS.ROLE ("key value" lines, written to a temporary file and renamed):
 * its pid, ppid, PR_GET_PDEATHSIG, PR_GET_SECUREBITS, PR_GET_KEEPCAPS,
 * PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_CHILD_SUBREAPER, the SIGUSR1 and
 * signal 40 it got, and how many reports it wrote. It writes one report as soon as it
 * is set up. Signal 41 makes it fork B, which forks C ("late") and exits (reaped):
 * C waits for B's exit, then reports, its ppid the subreaper it fell back to.
 *
 *   idle       nothing (the caller chose the credentials, e.g. with setpriv)
 *   keepcaps   PR_SET_KEEPCAPS 1, which needs no capability
 *   setuid     (as root) groups 100 200 300, gids 1001 1002 1003 fsgid 1004,
 *              bounding set without CAP_SYS_MODULE and CAP_SYS_BOOT, uids
 *              1001 1002 1003 fsuid 1005 (keep-caps on for the change, then off),
 *              inheritable KILL|NET_BIND_SERVICE, permitted
 *              KILL|NET_BIND_SERVICE|NET_RAW, effective KILL, ambient
 *              NET_BIND_SERVICE
 *   secure     (as root) ambient NET_BIND_SERVICE, then securebits NOROOT,
 *              NOROOT_LOCKED, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, then
 *              permitted CHOWN|NET_BIND_SERVICE, effective CHOWN
 *   pdeath     forks three children that set PR_SET_PDEATHSIG: SIGUSR1 (role
 *              "usr1"), none ("none"), signal 40 ("rt40"); the parent is "root".
 *              Each child reports once its pdeathsig is set.
 *   orphan     becomes a subreaper and forks B, which calls setsid, forks C and
 *              exits (reaped): C ("orphan"), in B's session, waits to be the
 *              root's child, then sets PR_SET_PDEATHSIG SIGUSR1
 *   nodump     PR_SET_DUMPABLE 0
 *   nice       nice 7 and timer slack 123456 ns; a thread ("thread") with nice
 *              3 and timer slack 654321 ns
 *   threaduid  a thread ("thread") that gives itself, with raw system calls (not
 *              glibc's, which change every thread), gids 2001 2002 2003 and uids
 *              2001 2002 2003: its credentials differ from the process's
 *   nnp        a thread ("thread"), then PR_SET_NO_NEW_PRIVS in the main thread only
 *   thp        PR_SET_THP_DISABLE 1 with PR_THP_DISABLE_EXCEPT_ADVISED
 *   mdwe       PR_SET_MDWE PR_MDWE_REFUSE_EXEC_GAIN
 *   mce        PR_MCE_KILL PR_MCE_KILL_SET PR_MCE_KILL_EARLY
 *   ioflusher  PR_SET_IO_FLUSHER 1 (as root)
 *   notsc      PR_SET_TSC PR_TSC_SIGSEGV
 *
 * ROLE is "root" for the process started, except the children and the thread.
 * Reports also hold the reporting thread's tid, nice and timer slack, and
 * PR_GET_THP_DISABLE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED (1 << 1)
#endif
#define RT40 40
#define RT41 41
#define BIT(c) (1ULL << (c))

static const char *status;
static __thread const char *role = "root";
/* Bumped by SIGUSR2, whichever thread gets it: every thread then reports. */
static volatile sig_atomic_t report_gen, usr1, rt40, rt41;

static void die(const char *what)
{
	fprintf(stderr, "creds: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void ok(int ret, const char *what)
{
	if (ret < 0)
		die(what);
}

static void set_caps(unsigned long long eff, unsigned long long prm,
		     unsigned long long inh, const char *what)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (unsigned int)eff, (unsigned int)prm, (unsigned int)inh },
		{ (unsigned int)(eff >> 32), (unsigned int)(prm >> 32), (unsigned int)(inh >> 32) },
	};

	ok(syscall(SYS_capset, &h, d), what);
}

/* The permitted set: every capability the process may make effective. */
static unsigned long long permitted(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	ok(syscall(SYS_capget, &h, d), "capget");
	return d[0].permitted | (unsigned long long)d[1].permitted << 32;
}

static void report(void)
{
	static __thread int reports;
	char path[4000], tmp[4096];
	int pdeath = -1, subreaper = -1;
	FILE *f;

	prctl(PR_GET_PDEATHSIG, &pdeath);
	prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
	snprintf(path, sizeof(path), "%s.%s", status, role);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	fprintf(f, "pid %d\ntid %ld\nppid %d\npdeathsig %d\nsecurebits %d\nkeepcaps %d\n"
		"dumpable %d\nno_new_privs %d\nnice %ld\ntimerslack %d\nthp %d\n"
		"subreaper %d\nusr1 %d\nrt40 %d\nreports %d\n",
		getpid(), syscall(SYS_gettid), getppid(), pdeath, prctl(PR_GET_SECUREBITS, 0, 0, 0, 0),
		prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
		prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
		20 - syscall(SYS_getpriority, PRIO_PROCESS, 0),
		prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0),
		subreaper, usr1, rt40, ++reports);
	if (fclose(f) || rename(tmp, path))
		die(path);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR2)
		report_gen++;
	else if (sig == SIGUSR1)
		usr1++;
	else if (sig == RT40)
		rt40++;
	else if (sig == RT41)
		rt41++;
}

static void handle(int sig)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	ok(sigaction(sig, &sa, NULL), "sigaction");
}

static __attribute__((noreturn)) void loop(void);

/*
 * Forks B, which forks C ("late") and exits: C, orphaned, falls back to the nearest
 * subreaper (or init), waits for that, and reports.
 */
static void late_orphan(void)
{
	pid_t b = fork(), me;

	ok(b, "fork");
	if (b == 0) {
		me = getpid();
		ok(b = fork(), "fork");
		if (b == 0) {
			struct timespec ts = { 0, 1000 * 1000 };

			while (getppid() == me)
				nanosleep(&ts, NULL);
			role = "late";
			loop();
		}
		_exit(0);
	}
	ok(waitpid(b, NULL, 0), "waitpid");
}

static __attribute__((noreturn)) void loop(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int last_usr1 = 0, last_rt40 = 0, last_gen = report_gen, last_rt41 = rt41;

	report();
	for (;;) {
		nanosleep(&ts, NULL);
		if (rt41 != last_rt41) {
			last_rt41 = rt41;
			late_orphan();
		}
		if (report_gen != last_gen || usr1 != last_usr1 || rt40 != last_rt40) {
			last_gen = report_gen;
			last_usr1 = usr1;
			last_rt40 = rt40;
			report();
		}
	}
}

static void setuid_mode(void)
{
	const gid_t groups[] = { 100, 200, 300 };
	const unsigned long long inh = BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE);
	const unsigned long long all = permitted();

	ok(setgroups(3, groups), "setgroups");
	ok(setresgid(1001, 1002, 1003), "setresgid");
	setfsgid(1004);
	if (setfsgid(1004) != 1004)
		die("setfsgid");
	ok(prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE), "PR_CAPBSET_DROP");
	ok(prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT), "PR_CAPBSET_DROP");
	set_caps(all, all, inh, "capset inheritable");
	ok(prctl(PR_SET_KEEPCAPS, 1), "PR_SET_KEEPCAPS 1");
	ok(setresuid(1001, 1002, 1003), "setresuid");
	set_caps(BIT(CAP_SETUID), all, inh, "capset effective SETUID");
	setfsuid(1005);
	if (setfsuid(1005) != 1005)
		die("setfsuid");
	set_caps(BIT(CAP_KILL), BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW),
		 inh, "capset final");
	ok(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0),
	   "ambient raise");
	ok(prctl(PR_SET_KEEPCAPS, 0), "PR_SET_KEEPCAPS 0");
}

static void secure_mode(void)
{
	const unsigned long long all = permitted();

	set_caps(all, all, BIT(CAP_NET_BIND_SERVICE), "capset inheritable");
	ok(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0),
	   "ambient raise");
	ok(prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		 SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE), "PR_SET_SECUREBITS");
	set_caps(BIT(CAP_CHOWN), BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE),
		 BIT(CAP_NET_BIND_SERVICE), "capset final");
}

static void pdeath_mode(void)
{
	static const struct { const char *role; int sig; } kids[] = {
		{ "usr1", SIGUSR1 }, { "none", 0 }, { "rt40", RT40 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kids); i++) {
		pid_t pid = fork();

		ok(pid, "fork");
		if (pid == 0) {
			role = kids[i].role;
			ok(prctl(PR_SET_PDEATHSIG, kids[i].sig), "PR_SET_PDEATHSIG");
			loop();
		}
	}
}

static void orphan_mode(void)
{
	pid_t root = getpid(), b;
	int st;

	ok(prctl(PR_SET_CHILD_SUBREAPER, 1), "PR_SET_CHILD_SUBREAPER");
	b = fork();
	ok(b, "fork");
	if (b == 0) {
		ok(setsid(), "setsid");
		ok(b = fork(), "fork");
		if (b == 0) {
			struct timespec ts = { 0, 1000 * 1000 };

			while (getppid() != root)
				nanosleep(&ts, NULL);
			role = "orphan";
			ok(prctl(PR_SET_PDEATHSIG, SIGUSR1), "PR_SET_PDEATHSIG");
			loop();
		}
		_exit(0);
	}
	ok(waitpid(b, &st, 0), "waitpid");
}

static void *thread_main(void *arg)
{
	const char *mode = arg;

	role = "thread";
	if (!strcmp(mode, "threaduid")) {
		ok(syscall(SYS_setresgid, 2001, 2002, 2003), "thread setresgid");
		ok(syscall(SYS_setresuid, 2001, 2002, 2003), "thread setresuid");
	} else if (!strcmp(mode, "nice")) {
		ok(setpriority(PRIO_PROCESS, syscall(SYS_gettid), 3), "setpriority thread");
		ok(prctl(PR_SET_TIMERSLACK, 654321), "PR_SET_TIMERSLACK thread");
	}
	loop();
}

static void thread_mode(const char *mode)
{
	pthread_t t;

	errno = pthread_create(&t, NULL, thread_main, (void *)mode);
	if (errno)
		die("pthread_create");
	if (!strcmp(mode, "nice")) {
		ok(setpriority(PRIO_PROCESS, syscall(SYS_gettid), 7), "setpriority");
		ok(prctl(PR_SET_TIMERSLACK, 123456), "PR_SET_TIMERSLACK");
	} else if (!strcmp(mode, "nnp")) {
		ok(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
	}
}

int main(int argc, char **argv)
{
	const char *mode;

	if (argc != 3) {
		fprintf(stderr, "usage: creds STATUS idle|keepcaps|setuid|secure|pdeath|orphan|nodump|nice|threaduid|nnp|thp|mdwe|mce|ioflusher|notsc\n");
		return 2;
	}
	status = argv[1];
	mode = argv[2];
	handle(SIGUSR1);
	handle(SIGUSR2);
	handle(RT40);
	handle(RT41);
	if (!strcmp(mode, "keepcaps"))
		ok(prctl(PR_SET_KEEPCAPS, 1), "PR_SET_KEEPCAPS 1");
	else if (!strcmp(mode, "setuid"))
		setuid_mode();
	else if (!strcmp(mode, "secure"))
		secure_mode();
	else if (!strcmp(mode, "pdeath"))
		pdeath_mode();
	else if (!strcmp(mode, "orphan"))
		orphan_mode();
	else if (!strcmp(mode, "nodump"))
		ok(prctl(PR_SET_DUMPABLE, 0), "PR_SET_DUMPABLE 0");
	else if (!strcmp(mode, "nice") || !strcmp(mode, "threaduid") || !strcmp(mode, "nnp"))
		thread_mode(mode);
	else if (!strcmp(mode, "thp"))
		ok(prctl(PR_SET_THP_DISABLE, 1, PR_THP_DISABLE_EXCEPT_ADVISED, 0, 0),
		   "PR_SET_THP_DISABLE");
	else if (!strcmp(mode, "mdwe"))
		ok(prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0), "PR_SET_MDWE");
	else if (!strcmp(mode, "mce"))
		ok(prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0), "PR_MCE_KILL");
	else if (!strcmp(mode, "ioflusher"))
		ok(prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0), "PR_SET_IO_FLUSHER");
	else if (!strcmp(mode, "notsc"))
		ok(prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0), "PR_SET_TSC");
	else if (strcmp(mode, "idle"))
		die("unknown mode");
	loop();
}
