// SPDX-License-Identifier: GPL-2.0
/*
 * Timers across a checkpoint and restart (selftests/test_timers.py).
 *
 *   timers run DIR     ITIMER_REAL every 20 ms counting SIGALRMs; a POSIX timer on
 *                      CLOCK_MONOTONIC every 30 ms (SIGEV_SIGNAL, a sigev value the handler
 *                      checks with si_code, si_timerid); a one-shot 7 s ahead; one every
 *                      40 ms signalling a thread (SIGEV_THREAD_ID, the handler checks it
 *                      runs there); a SIGEV_NONE one every 50 ms, read with timer_gettime.
 *                      Timer ids are not the first ones (timers made before are deleted),
 *                      so a process that got new timers would not have them. One more
 *                      every 10 ms with its signal blocked, taken once after 100 ms: its
 *                      overrun (timer_getoverrun) is what that delivery left.
 *   timers cpu DIR [UID]  (as UID if given) CPU-time timers while a thread spins in user mode: ITIMER_VIRTUAL
 *                      every 30 ms and ITIMER_PROF every 50 ms of CPU time (SIGVTALRM,
 *                      SIGPROF counted); a POSIX timer on CLOCK_PROCESS_CPUTIME_ID every
 *                      40 ms (SIGEV_SIGNAL, sigev value checked), one on the spinning
 *                      thread's CPU clock every 60 ms signalling that thread
 *                      (SIGEV_THREAD_ID, checked where it runs), and a SIGEV_NONE one-shot
 *                      on the process's clock 1000 s of CPU time ahead, whose time left
 *                      plus the process's CPU time stays the same while it runs.
 *   timers otherclock DIR  a POSIX timer on the parent's CPU clock (clock_getcpuclockid):
 *                      refused at checkpoint.
 *   timers exitedclock DIR  a POSIX timer on the CPU clock of a thread that exited since:
 *                      refused at checkpoint.
 *   timers exited DIR  a periodic SIGEV_THREAD_ID timer aimed at a thread that exited
 *                      (refused: nothing to restore it to).
 *   timers stale DIR   SIGRTMIN and SIGRTMIN+1 blocked, a 1 ms one-shot timer for each
 *                      fired; the first disarmed by timer_settime() (its queued signal is
 *                      stale: the kernel drops it at dequeue). Once DIR/go exists, takes
 *                      what is pending of both with sigtimedwait() and reports it.
 *   timers blocked DIR SIGRTMIN+5 and SIGRTMIN+6 blocked; a periodic timer (20 ms) and a
 *                      one-shot (1 ms) signal them and fire while blocked. Once DIR/go
 *                      exists, waits 100 ms (five more periods), then takes with
 *                      sigtimedwait() every signal of each that is pending at once and
 *                      reports how many, their si_code, sigev value and si_overrun; then
 *                      takes the periodic one's next signal, which must come (the timer
 *                      re-armed on that delivery).
 *
 * Reports in DIR/timers (report.h), every ~50 ms: the counts, the ids, what timer_gettime
 * and getitimer say of them now, the longest gap between two turns of the main loop since
 * the one-shot was armed (the time the process was not running: checkpoint to restart),
 * and, once the one-shot fired, how far from its due time (arming + 7 s + that gap) it did.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "report.h"

/* glibc names the thread of SIGEV_THREAD_ID only from 2.41 on. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define PERIODIC_VALUE	((void *)0x5eed0001)
#define ONESHOT_VALUE	((void *)0x5eed0002)
#define THREAD_VALUE	((void *)0x5eed0003)
#define ONESHOT_S	7

static timer_t periodic, oneshot, to_thread, silent;
static volatile sig_atomic_t alrm, ptimer, tptimer, bad, fired;
static volatile pid_t worker_tid;
static volatile int64_t fired_ns;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_alrm(int sig)
{
	alrm++;
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	int ok_periodic = si->si_value.sival_ptr == PERIODIC_VALUE &&
			  si->si_timerid == (int)(intptr_t)periodic;
	int ok_oneshot = si->si_value.sival_ptr == ONESHOT_VALUE &&
			 si->si_timerid == (int)(intptr_t)oneshot;
	int ok_thread = si->si_value.sival_ptr == THREAD_VALUE &&
			si->si_timerid == (int)(intptr_t)to_thread &&
			syscall(SYS_gettid) == worker_tid;

	if (si->si_code != SI_TIMER) {
		bad++;
	} else if (sig == SIGRTMIN + 2 && ok_periodic) {
		ptimer++;
	} else if (sig == SIGRTMIN + 3 && ok_oneshot) {
		fired++;
		fired_ns = now_ns();
	} else if (sig == SIGRTMIN + 4 && ok_thread) {
		tptimer++;
	} else {
		bad++;
	}
}

static timer_t new_timer(clockid_t clock, int notify, int sig, void *value, pid_t tid)
{
	struct sigevent sev = { .sigev_notify = notify, .sigev_signo = sig };
	timer_t t;

	sev.sigev_value.sival_ptr = value;
	if (notify == SIGEV_THREAD_ID)
		sev.sigev_notify_thread_id = tid;
	if (timer_create(clock, &sev, &t))
		die("timer_create");
	return t;
}

static timer_t make_timer(int notify, int sig, void *value)
{
	return new_timer(CLOCK_MONOTONIC, notify, sig, value, worker_tid);
}

/* The thread a SIGEV_THREAD_ID timer signals. */
static void *worker(void *arg)
{
	worker_tid = syscall(SYS_gettid);
	for (;;)
		nap(5);
	return NULL;
}

static void arm(timer_t t, long value_ms, long interval_ms)
{
	struct itimerspec its = {
		.it_value = { value_ms / 1000, value_ms % 1000 * 1000000 },
		.it_interval = { interval_ms / 1000, interval_ms % 1000 * 1000000 },
	};

	if (timer_settime(t, 0, &its, NULL))
		die("timer_settime");
}

static void run(void)
{
	struct sigaction sa = { .sa_handler = on_alrm };
	struct itimerval real = { { 0, 20000 }, { 0, 20000 } };
	struct timespec zero = { 0, 0 };
	timer_t spare[3], lag;
	int64_t armed, last, gap = 0, t;
	long turns = 0;
	pthread_t th;
	sigset_t lagged;
	siginfo_t si;
	int lag_first;

	/* Blocked in every thread: the lagging timer's signal is only ever taken below. */
	sigemptyset(&lagged);
	sigaddset(&lagged, SIGRTMIN + 9);
	if (sigprocmask(SIG_BLOCK, &lagged, NULL))
		die("sigprocmask");

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction");
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGRTMIN + 2, &sa, NULL) || sigaction(SIGRTMIN + 3, &sa, NULL) ||
	    sigaction(SIGRTMIN + 4, &sa, NULL))
		die("sigaction");
	if (pthread_create(&th, NULL, worker, NULL))
		die("pthread_create");
	while (!worker_tid)
		nap(1);

	/* Ids 0, 1 and 3 made and deleted: ours are 2, 4, 5 and 6. */
	spare[0] = make_timer(SIGEV_SIGNAL, SIGUSR1, NULL);
	spare[1] = make_timer(SIGEV_SIGNAL, SIGUSR1, NULL);
	periodic = make_timer(SIGEV_SIGNAL, SIGRTMIN + 2, PERIODIC_VALUE);
	spare[2] = make_timer(SIGEV_SIGNAL, SIGUSR1, NULL);
	oneshot = make_timer(SIGEV_SIGNAL, SIGRTMIN + 3, ONESHOT_VALUE);
	to_thread = make_timer(SIGEV_THREAD_ID, SIGRTMIN + 4, THREAD_VALUE);
	silent = make_timer(SIGEV_NONE, 0, NULL);
	for (int i = 0; i < 3; i++)
		if (timer_delete(spare[i]))
			die("timer_delete");
	arm(to_thread, 40, 40);
	arm(silent, 50, 50);
	/*
	 * Id 7, every 10 ms, its signal blocked: taken once after 100 ms, with some nine
	 * expiries overrun, which timer_getoverrun() says from then on (its next signal stays
	 * pending: nothing delivers it again).
	 */
	lag = make_timer(SIGEV_SIGNAL, SIGRTMIN + 9, NULL);
	arm(lag, 10, 10);
	nap(100);
	if (sigtimedwait(&lagged, &si, &zero) != SIGRTMIN + 9)
		die("sigtimedwait");
	lag_first = si.si_overrun;

	if (setitimer(ITIMER_REAL, &real, NULL))
		die("setitimer");
	arm(periodic, 30, 30);
	armed = last = now_ns();
	arm(oneshot, ONESHOT_S * 1000, 0);

	for (;;) {
		struct itimerspec p, o, q;
		struct itimerval r;
		int pe, oe, qe, re, n;
		char line[800];
		int64_t due;

		memset(&p, 0, sizeof(p));
		memset(&o, 0, sizeof(o));
		memset(&q, 0, sizeof(q));
		memset(&r, 0, sizeof(r));
		nap(5);
		t = now_ns();
		if (!fired && t - last > gap)
			gap = t - last;
		last = t;
		if (++turns % 10)
			continue;
		/* The saved ids, after restart too. */
		pe = timer_gettime(periodic, &p) ? errno : 0;
		oe = timer_gettime(oneshot, &o) ? errno : 0;
		qe = timer_gettime(silent, &q) ? errno : 0;
		re = getitimer(ITIMER_REAL, &r) ? errno : 0;
		due = armed + ONESHOT_S * 1000000000LL + gap;
		n = snprintf(line, sizeof(line), "alrm %d ptimer %d bad %d fired %d ",
			     (int)alrm, (int)ptimer, (int)bad, (int)fired);
		n += snprintf(line + n, sizeof(line) - n, "periodic_id %d oneshot_id %d ",
			      (int)(intptr_t)periodic, (int)(intptr_t)oneshot);
		n += snprintf(line + n, sizeof(line) - n, "thread_id %d silent_id %d tptimer %d ",
			      (int)(intptr_t)to_thread, (int)(intptr_t)silent, (int)tptimer);
		n += snprintf(line + n, sizeof(line) - n, "silent_err %d silent_iv_ms %ld ", qe,
			      q.it_interval.tv_nsec / 1000000);
		n += snprintf(line + n, sizeof(line) - n, "silent_left_us %ld ",
			      q.it_value.tv_sec * 1000000 + q.it_value.tv_nsec / 1000);
		n += snprintf(line + n, sizeof(line) - n, "periodic_err %d periodic_iv_ms %ld ", pe,
			      p.it_interval.tv_sec * 1000 + p.it_interval.tv_nsec / 1000000);
		n += snprintf(line + n, sizeof(line) - n, "oneshot_err %d oneshot_left_ms %lld ", oe,
			      (long long)o.it_value.tv_sec * 1000 + o.it_value.tv_nsec / 1000000);
		n += snprintf(line + n, sizeof(line) - n, "real_err %d real_iv_us %ld ", re,
			      r.it_interval.tv_sec * 1000000 + r.it_interval.tv_usec);
		n += snprintf(line + n, sizeof(line) - n, "lag_id %d lag_first %d lag_overrun %d ",
			      (int)(intptr_t)lag, lag_first, timer_getoverrun(lag));
		snprintf(line + n, sizeof(line) - n, "since_arm_ms %lld gap_ms %lld late_ms %lld",
			 (long long)((t - armed) / 1000000), (long long)(gap / 1000000),
			 fired ? (long long)((fired_ns - due) / 1000000) : 0LL);
		report("timers", "%s", line);
	}
}

static volatile sig_atomic_t may_exit;

static void *exits(void *arg)
{
	worker_tid = syscall(SYS_gettid);
	while (!may_exit)
		nap(1);
	return NULL;
}

/* A SIGEV_THREAD_ID timer aimed at a thread that is gone (timer_create wants it alive). */
static void exited(void)
{
	pthread_t th;
	timer_t t;

	signal(SIGRTMIN + 4, SIG_IGN);
	if (pthread_create(&th, NULL, exits, NULL))
		die("pthread_create");
	while (!worker_tid)
		nap(1);
	t = make_timer(SIGEV_THREAD_ID, SIGRTMIN + 4, THREAD_VALUE);
	arm(t, 10, 10);
	may_exit = 1;
	if (pthread_join(th, NULL))
		die("pthread_join");
	for (;;) {
		report("timers", "ready 1 timer_id %d", (int)(intptr_t)t);
		nap(50);
	}
}

/* What sigtimedwait() takes of @sig now: its number (0: none), si_code and sigev value. */
static void take(int sig, int *got, int *code, long *value)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(&si, 0, sizeof(si));
	*got = sigtimedwait(&set, &si, &zero);
	if (*got < 0 && errno != EAGAIN)
		die("sigtimedwait");
	*got = *got < 0 ? 0 : *got;
	*code = si.si_code;
	*value = (long)(intptr_t)si.si_value.sival_ptr;
}

static void stale(void)
{
	char go[4200];
	int got[2], code[2];
	long value[2];
	sigset_t set, pend;
	timer_t t[2];

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGRTMIN + 1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	t[0] = make_timer(SIGEV_SIGNAL, SIGRTMIN, ONESHOT_VALUE);
	t[1] = make_timer(SIGEV_SIGNAL, SIGRTMIN + 1, PERIODIC_VALUE);
	arm(t[0], 1, 0);
	arm(t[1], 1, 0);
	nap(10);
	arm(t[0], 0, 0);
	if (sigpending(&pend))
		die("sigpending");
	snprintf(go, sizeof(go), "%s/go", dir);
	while (access(go, F_OK)) {
		/* The disarmed timer's signal is still queued (pending) until a dequeue. */
		report("timers", "ready 1 stale_pending %d live_pending %d",
		       sigismember(&pend, SIGRTMIN), sigismember(&pend, SIGRTMIN + 1));
		nap(20);
	}
	take(SIGRTMIN, &got[0], &code[0], &value[0]);
	take(SIGRTMIN + 1, &got[1], &code[1], &value[1]);
	if (sigpending(&pend))
		die("sigpending");
	for (;;) {
		report("timers", "done 1 stale_got %d live_got %d live_code %d live_ok %d pending_after %d",
		       got[0] == SIGRTMIN, got[1] == SIGRTMIN + 1,
		       code[1], value[1] == (long)(intptr_t)PERIODIC_VALUE,
		       sigismember(&pend, SIGRTMIN) || sigismember(&pend, SIGRTMIN + 1));
		nap(50);
	}
}

/* How many of @sig sigtimedwait() takes at once; the first's si_code, value, overrun. */
static int take_all(int sig, int *code, long *value, int *overrun)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;
	int n = 0;

	sigemptyset(&set);
	sigaddset(&set, sig);
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (sigtimedwait(&set, &si, &zero) != sig)
			break;
		if (!n++) {
			*code = si.si_code;
			*value = (long)(intptr_t)si.si_value.sival_ptr;
			*overrun = si.si_overrun;
		}
	}
	if (errno != EAGAIN)
		die("sigtimedwait");
	return n;
}

static void blocked(void)
{
	char go[4200];
	int n[2], code[2] = { 0, 0 }, overrun[2] = { 0, 0 }, next, c;
	long value[2] = { 0, 0 }, v;
	struct timespec second = { 1, 0 };
	struct itimerspec o;
	sigset_t set, pend;
	siginfo_t si;
	timer_t t[2];

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 5);
	sigaddset(&set, SIGRTMIN + 6);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	t[0] = make_timer(SIGEV_SIGNAL, SIGRTMIN + 5, PERIODIC_VALUE);
	t[1] = make_timer(SIGEV_SIGNAL, SIGRTMIN + 6, ONESHOT_VALUE);
	arm(t[0], 20, 20);
	arm(t[1], 1, 0);
	nap(50);
	snprintf(go, sizeof(go), "%s/go", dir);
	while (access(go, F_OK)) {
		if (sigpending(&pend))
			die("sigpending");
		report("timers", "ready 1 periodic_pending %d oneshot_pending %d",
		       sigismember(&pend, SIGRTMIN + 5), sigismember(&pend, SIGRTMIN + 6));
		nap(20);
	}
	nap(100);
	n[0] = take_all(SIGRTMIN + 5, &code[0], &value[0], &overrun[0]);
	n[1] = take_all(SIGRTMIN + 6, &code[1], &value[1], &overrun[1]);
	memset(&o, 0, sizeof(o));
	if (timer_gettime(t[1], &o))
		die("timer_gettime");
	/* The periodic timer re-armed on that delivery: its next signal comes. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 5);
	next = sigtimedwait(&set, &si, &second) == SIGRTMIN + 5;
	c = si.si_code;
	v = (long)(intptr_t)si.si_value.sival_ptr;
	for (;;) {
		report("timers", "done 1 %s %d %s %d %s %d %s %d %s %d %s %d %s %d %s %ld %s %d %s %d %s %d",
		       "periodic_n", n[0], "periodic_code", code[0],
		       "periodic_ok", value[0] == (long)(intptr_t)PERIODIC_VALUE,
		       "periodic_overrun", overrun[0], "oneshot_n", n[1], "oneshot_code", code[1],
		       "oneshot_ok", value[1] == (long)(intptr_t)ONESHOT_VALUE,
		       "oneshot_left_ns", o.it_value.tv_sec * 1000000000L + o.it_value.tv_nsec,
		       "next", next, "next_code", c, "next_ok", v == (long)(intptr_t)PERIODIC_VALUE);
		nap(50);
	}
}

#define CPU_VALUE	((void *)0x5eed0004)
#define TCPU_VALUE	((void *)0x5eed0005)

static timer_t pcpu_timer, tcpu_timer, far_timer;
static volatile sig_atomic_t vt, prof, pcpu, tcpu;
static volatile pid_t spinner_tid;

static void on_cpu(int sig, siginfo_t *si, void *uc)
{
	if (sig == SIGVTALRM && si->si_code == SI_KERNEL)
		vt++;
	else if (sig == SIGPROF && si->si_code == SI_KERNEL)
		prof++;
	else if (sig == SIGRTMIN + 7 && si->si_code == SI_TIMER &&
		 si->si_value.sival_ptr == CPU_VALUE && si->si_timerid == (int)(intptr_t)pcpu_timer)
		pcpu++;
	else if (sig == SIGRTMIN + 8 && si->si_code == SI_TIMER &&
		 si->si_value.sival_ptr == TCPU_VALUE &&
		 si->si_timerid == (int)(intptr_t)tcpu_timer && syscall(SYS_gettid) == spinner_tid)
		tcpu++;
	else
		bad++;
}

/* Burns user CPU time: what ITIMER_VIRTUAL and the CPU clocks count. */
static void *spinner(void *arg)
{
	volatile unsigned long n = 0;

	spinner_tid = syscall(SYS_gettid);
	for (;;)
		n++;
	return NULL;
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts))
		die("clock_gettime");
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t left_ns(timer_t t, int64_t *interval)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (timer_gettime(t, &its))
		return -1;
	*interval = its.it_interval.tv_sec * 1000000000LL + its.it_interval.tv_nsec;
	return its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
}

static void cpu(void)
{
	struct sigaction sa = { .sa_sigaction = on_cpu, .sa_flags = SA_SIGINFO };
	struct itimerval virt = { { 0, 30000 }, { 0, 30000 } };
	struct itimerval profv = { { 0, 50000 }, { 0, 50000 } };
	struct itimerspec far = { .it_value = { 1000, 0 } };
	clockid_t spin_clock;
	pthread_t th;
	int s[] = { SIGVTALRM, SIGPROF, SIGRTMIN + 7, SIGRTMIN + 8 };

	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < ARRAY_SIZE(s); i++)
		if (sigaction(s[i], &sa, NULL))
			die("sigaction");
	if (pthread_create(&th, NULL, spinner, NULL))
		die("pthread_create");
	while (!spinner_tid)
		nap(1);
	if (pthread_getcpuclockid(th, &spin_clock))
		die("pthread_getcpuclockid");
	pcpu_timer = new_timer(CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN + 7, CPU_VALUE, 0);
	tcpu_timer = new_timer(spin_clock, SIGEV_THREAD_ID, SIGRTMIN + 8, TCPU_VALUE, spinner_tid);
	far_timer = new_timer(CLOCK_PROCESS_CPUTIME_ID, SIGEV_NONE, 0, NULL, 0);
	arm(pcpu_timer, 40, 40);
	arm(tcpu_timer, 60, 60);
	if (timer_settime(far_timer, 0, &far, NULL))
		die("timer_settime");
	if (setitimer(ITIMER_VIRTUAL, &virt, NULL) || setitimer(ITIMER_PROF, &profv, NULL))
		die("setitimer");
	for (;;) {
		struct itimerval v, p;
		int64_t pcpu_iv = 0, tcpu_iv = 0, far_iv = 0, far_left, cpu_now;
		char line[600];
		int ve, pe, n;

		memset(&v, 0, sizeof(v));
		memset(&p, 0, sizeof(p));
		nap(50);
		ve = getitimer(ITIMER_VIRTUAL, &v) ? errno : 0;
		pe = getitimer(ITIMER_PROF, &p) ? errno : 0;
		far_left = left_ns(far_timer, &far_iv);
		cpu_now = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		left_ns(pcpu_timer, &pcpu_iv);
		left_ns(tcpu_timer, &tcpu_iv);
		n = snprintf(line, sizeof(line), "vt %d prof %d pcpu %d tcpu %d bad %d ",
			     (int)vt, (int)prof, (int)pcpu, (int)tcpu, (int)bad);
		n += snprintf(line + n, sizeof(line) - n, "pcpu_id %d tcpu_id %d far_id %d ",
			      (int)(intptr_t)pcpu_timer, (int)(intptr_t)tcpu_timer,
			      (int)(intptr_t)far_timer);
		n += snprintf(line + n, sizeof(line) - n, "spinner %d virt_err %d prof_err %d ",
			      (int)spinner_tid, ve, pe);
		n += snprintf(line + n, sizeof(line) - n, "virt_iv_us %ld prof_iv_us %ld ",
			      (long)v.it_interval.tv_usec, (long)p.it_interval.tv_usec);
		n += snprintf(line + n, sizeof(line) - n, "pcpu_iv_ms %lld tcpu_iv_ms %lld ",
			      (long long)(pcpu_iv / 1000000), (long long)(tcpu_iv / 1000000));
		snprintf(line + n, sizeof(line) - n, "far_left_ms %lld cpu_ms %lld far_sum_ms %lld",
			 (long long)(far_left / 1000000), (long long)(cpu_now / 1000000),
			 (long long)((far_left + cpu_now) / 1000000));
		report("timers", "ready 1 %s", line);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 && !(argc == 4 && !strcmp(argv[1], "cpu")))
		return 2;
	dir = argv[2];
	if (argc == 4)
		drop_to(argv[3]);
	if (!strcmp(argv[1], "run")) {
		run();
	} else if (!strcmp(argv[1], "exited")) {
		exited();
	} else if (!strcmp(argv[1], "stale")) {
		stale();
	} else if (!strcmp(argv[1], "blocked")) {
		blocked();
	} else if (!strcmp(argv[1], "cpu")) {
		cpu();
	} else if (!strcmp(argv[1], "otherclock")) {
		clockid_t c;

		if (clock_getcpuclockid(getppid(), &c))
			die("clock_getcpuclockid");
		arm(new_timer(c, SIGEV_NONE, 0, NULL, 0), 100000, 0);
	} else if (!strcmp(argv[1], "exitedclock")) {
		clockid_t c;
		pthread_t th;

		if (pthread_create(&th, NULL, exits, NULL) || pthread_getcpuclockid(th, &c))
			die("pthread_create");
		arm(new_timer(c, SIGEV_NONE, 0, NULL, 0), 100000, 0);
		may_exit = 1;
		if (pthread_join(th, NULL))
			die("pthread_join");
	} else {
		return 2;
	}
	for (;;) {
		report("timers", "ready 1");
		nap(50);
	}
}
