// SPDX-License-Identifier: GPL-2.0
/*
 * Process trees and threads that selftests/test_tree.py checkpoints and restarts.
 * Every process reports in its own status file DIR/NAME, one line of "key value"
 * pairs starting with "pid P", replaced whole (written aside, then renamed) so that
 * a reader never sees half a line. Paths are absolute: some processes change their
 * working directory.
 *
 *   tree ring DIR          root, 2 children, 3 grandchildren passing a token round a
 *                          ring of pipes; node I's K-th token is I + (K-1)*6 (root: I=6)
 *   tree pool DIR N        N threads taking turns under a mutex and a condition
 *                          variable, each checking its __thread index
 *   tree zombies DIR       children that exited 42, died of SIGTERM (both unreaped) and
 *                          one stopped; SIGUSR1 makes the root reap the two dead ones
 *   tree sessions DIR      a subreaper root; a session whose leader died (its child
 *                          was reparented to the root); a process group with a live
 *                          leader and one whose leader died
 *   tree offset DIR        parent and child sharing one open file description of
 *                          DIR/log (the child through a dup); SIGUSR1: write a 64-byte
 *                          record and report the offset, SIGUSR2: report the offset
 *   tree share DIR         children sharing with the root: the fd table (CLONE_FILES),
 *                          the fs_struct (CLONE_FS), memory and signal handlers
 *                          (CLONE_VM|CLONE_SIGHAND); a forked child with a MAP_SHARED
 *                          and a MAP_PRIVATE anonymous page
 *   tree pidns DIR N       an init of a new pid namespace with N counting children;
 *                          the launcher (outside) waits for it
 *   tree fail DIR          a tree of 5 counting processes; the last one holds DIR/held open
 *   tree wide DIR C G      a root, C children, G grandchildren under each, all asleep
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static volatile sig_atomic_t usr1, usr2;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2++;
}

static void catch(int sig, void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		die("sigaction");
}

/* Counts forever, reporting the count in DIR/NAME every 20 ms. */
static void __attribute__((noreturn)) count_forever(const char *name)
{
	for (unsigned long long n = 1;; n++) {
		report(name, "count %llu", n);
		nap(20);
	}
}

/*
 * Forks the tree in which node J's parent is node parent[J] (parent[J] < J; the
 * caller is node 0). Returns, in each process, the node it is.
 */
static int grow(const int *parent, int n)
{
	int self = 0;

	for (int j = 1; j < n; j++) {
		pid_t pid;

		if (parent[j] != self)
			continue;
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			self = j;	/* goes on from j + 1, forking its own children */
	}
	return self;
}

static void __attribute__((noreturn)) ring(void)
{
	enum { N = 6 };
	static const int parent[N] = { -1, 0, 1, 1, 0, 4 };
	unsigned long long token, count = 0, errors = 0;
	int p[N][2], self, in, out, idx;
	char name[16];

	for (int i = 0; i < N; i++)
		if (pipe(p[i]))
			die("pipe");
	self = grow(parent, N);
	in = p[self][0];
	out = p[(self + 1) % N][1];
	for (int i = 0; i < N; i++) {
		if (p[i][0] != in)
			close(p[i][0]);
		if (p[i][1] != out)
			close(p[i][1]);
	}
	idx = self ? self : N;
	snprintf(name, sizeof(name), "node%d", self);
	report(name, "node %d parent %d count 0 last 0 errors 0", self, parent[self]);
	token = 1;
	if (self == 0 && write(out, &token, sizeof(token)) != sizeof(token))
		die("write");
	for (;;) {
		if (read(in, &token, sizeof(token)) != sizeof(token))
			die("read");
		count++;
		if (token != idx + (count - 1) * N)
			errors++;
		report(name, "node %d parent %d count %llu last %llu errors %llu",
		       self, parent[self], count, token, errors);
		nap(10);
		token++;
		if (write(out, &token, sizeof(token)) != sizeof(token))
			die("write");
	}
}

#define MAX_THREADS 64
static struct {
	pthread_mutex_t lock;
	pthread_cond_t turn_changed;
	int turn, nthreads, started;
	unsigned long long counter, errors, done[MAX_THREADS];
	pid_t tid[MAX_THREADS];
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
static __thread int my_index = -1;

__attribute__((noreturn)) static void *worker(void *arg)
{
	int i = (int)(long)arg;
	pthread_t self = pthread_self();
	sigset_t mask;

	my_index = i;
	sigemptyset(&mask);	/* a signal mask of its own */
	sigaddset(&mask, SIGRTMIN + i % 16);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	pthread_mutex_lock(&pool.lock);
	pool.tid[i] = gettid();
	pool.started++;
	pthread_mutex_unlock(&pool.lock);
	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while (pool.turn != i)
			pthread_cond_wait(&pool.turn_changed, &pool.lock);
		if (my_index != i || !pthread_equal(pthread_self(), self))
			pool.errors++;
		pool.counter++;
		pool.done[i]++;
		pool.turn = (i + 1) % pool.nthreads;
		pthread_cond_broadcast(&pool.turn_changed);
		pthread_mutex_unlock(&pool.lock);
		nap(2);
	}
}

static void __attribute__((noreturn)) thread_pool(int n)
{
	char done[MAX_THREADS * 24], tids[MAX_THREADS * 12];
	pthread_t t;

	pool.nthreads = n;
	my_index = n;
	for (long i = 0; i < n; i++)
		if (pthread_create(&t, NULL, worker, (void *)i))
			die("pthread_create");
	for (;;) {
		int a = 0, b = 0, started;
		unsigned long long counter, errors;

		pthread_mutex_lock(&pool.lock);
		started = pool.started;
		counter = pool.counter;
		errors = pool.errors + (my_index != n);
		for (int i = 0; i < n; i++) {
			a += snprintf(done + a, sizeof(done) - a, "%s%llu", i ? "," : "", pool.done[i]);
			b += snprintf(tids + b, sizeof(tids) - b, "%s%d", i ? "," : "", pool.tid[i]);
		}
		pthread_mutex_unlock(&pool.lock);
		if (started == n)
			report("pool", "threads %d counter %llu errors %llu done %s tids %s",
			       n, counter, errors, done, tids);
		nap(20);
	}
}

static void __attribute__((noreturn)) zombies(void)
{
	pid_t exited, killed, stopped;
	int reaped = 0, exit_code = -1, term_sig = -1;
	siginfo_t si;

	catch(SIGUSR1, on_usr1);
	exited = fork();
	if (exited == 0)
		_exit(42);
	killed = fork();
	if (killed == 0)
		for (;;)
			pause();
	stopped = fork();
	if (stopped == 0) {
		report("stopped", "count 0");
		raise(SIGSTOP);
		count_forever("stopped");
	}
	if (exited < 0 || killed < 0 || stopped < 0)
		die("fork");
	/* Wait for each state without reaping (WNOWAIT). */
	kill(killed, SIGTERM);
	if (waitid(P_PID, exited, &si, WEXITED | WNOWAIT) ||
	    waitid(P_PID, killed, &si, WEXITED | WNOWAIT) ||
	    waitid(P_PID, stopped, &si, WSTOPPED | WNOWAIT))
		die("waitid");
	for (unsigned long long n = 1;; n++) {
		if (usr1 && !reaped) {
			int s;

			if (waitpid(exited, &s, 0) == exited && WIFEXITED(s))
				exit_code = WEXITSTATUS(s);
			if (waitpid(killed, &s, 0) == killed && WIFSIGNALED(s))
				term_sig = WTERMSIG(s);
			reaped = 1;
		}
		report("root", "count %llu exited %d killed %d stopped %d reaped %d exit_code %d term_sig %d",
		       n, exited, killed, stopped, reaped, exit_code, term_sig);
		nap(20);
	}
}

/* Forks a child that moves to process group PGID (0: its own) and counts as NAME. */
static pid_t join_group(pid_t pgid, const char *name)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (setpgid(0, pgid))
			die("setpgid");
		if (!name)
			for (;;)
				pause();
		count_forever(name);
	}
	/* As shells do: set it from both sides, so it holds when either returns. */
	setpgid(pid, pgid ? pgid : pid);
	return pid;
}

static void __attribute__((noreturn)) sessions(void)
{
	pid_t leader, live, dead;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("prctl");
	/* A session leader that forks a member and exits: the member comes to us. */
	leader = fork();
	if (leader < 0)
		die("fork");
	if (leader == 0) {
		if (setsid() < 0)
			die("setsid");
		pid_t member = fork();

		if (member < 0)
			die("fork");
		if (member == 0)
			count_forever("orphan");
		_exit(0);
	}
	if (waitpid(leader, NULL, 0) != leader)
		die("waitpid");
	/* A group whose leader lives, with two more members. */
	live = join_group(0, "live_leader");
	join_group(live, "live_member1");
	join_group(live, "live_member2");
	/* A group whose leader dies, leaving one member. */
	dead = join_group(0, NULL);
	join_group(dead, "dead_member");
	kill(dead, SIGKILL);
	if (waitpid(dead, NULL, 0) != dead)
		die("waitpid");
	for (unsigned long long n = 1;; n++) {
		report("root", "count %llu session_leader %d group_leader %d", n, leader, dead);
		nap(20);
	}
}

/* On SIGUSR1 writes a 64-byte record through FD; on either signal reports the offset. */
static void __attribute__((noreturn)) log_writer(int fd, const char *who)
{
	int seen1 = 0, seen2 = 0, records = 0;

	catch(SIGUSR1, on_usr1);
	catch(SIGUSR2, on_usr2);
	for (int changed = 1;; changed = 0) {
		if (usr1 != seen1) {
			char rec[64];
			int n = snprintf(rec, sizeof(rec), "%s %d ", who, ++records);

			memset(rec + n, '.', sizeof(rec) - n - 1);
			rec[63] = '\n';
			if (write(fd, rec, sizeof(rec)) != sizeof(rec))
				die("write");
			seen1++;
			changed = 1;
		}
		if (usr2 != seen2) {
			seen2 = usr2;
			changed = 1;
		}
		if (changed)
			report(who, "records %d pos %lld usr1 %d usr2 %d", records,
			       (long long)lseek(fd, 0, SEEK_CUR), seen1, seen2);
		nap(10);
	}
}

static void __attribute__((noreturn)) offset(void)
{
	char path[4200];
	int fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);	/* no O_APPEND */
	if (fd < 0)
		die(path);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int dup_fd = dup(fd);	/* the same description, through another fd */

		close(fd);
		log_writer(dup_fd, "child");
	}
	log_writer(fd, "parent");
}

/* share: what the root sees of what its children do after a restart. */
static unsigned long long *shared_page, *private_page;
static volatile unsigned long long vm_ticks;	/* written by the CLONE_VM child */
static char stacks[3][64 * 1024] __attribute__((aligned(16)));

static int __attribute__((noreturn)) files_child(void *arg)
{
	(void)arg;
	catch(SIGUSR1, on_usr1);
	report("files", "opened 0");
	while (!usr1)
		nap(10);
	{
		char path[4200];
		int fd;

		snprintf(path, sizeof(path), "%s/opened", dir);
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || dup2(fd, 100) != 100)
			die(path);
		close(fd);
	}
	for (;;) {
		report("files", "opened 1");
		nap(20);
	}
}

static int __attribute__((noreturn)) fs_child(void *arg)
{
	char path[4200];

	(void)arg;
	catch(SIGUSR1, on_usr1);
	snprintf(path, sizeof(path), "%s/sub", dir);
	report("fs", "moved 0");
	while (!usr1)
		nap(10);
	if (chdir(path))
		die(path);
	for (;;) {
		report("fs", "moved 1");
		nap(20);
	}
}

/*
 * Shares memory, TLS and signal handlers with the root: only system calls and
 * its own stack. When DIR/install exists, installs a SIGUSR2 handler (for the root too).
 */
static int __attribute__((noreturn)) vm_child(void *arg)
{
	const char *go = arg;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int installed = 0;

	for (;;) {
		vm_ticks++;
		if (!installed && access(go, F_OK) == 0) {
			catch(SIGUSR2, on_usr2);
			installed = 1;
		}
		nanosleep(&ts, NULL);
	}
}

static void __attribute__((noreturn)) share(void)
{
	static char go[4200];
	char path[4200], cwd[4200];
	pid_t mem;

	snprintf(path, sizeof(path), "%s/sub", dir);
	snprintf(go, sizeof(go), "%s/install", dir);
	if (mkdir(path, 0755) || chdir(dir))
		die(path);
	shared_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	private_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared_page == MAP_FAILED || private_page == MAP_FAILED)
		die("mmap");
	*shared_page = 1;
	*private_page = 2;
	if (clone(files_child, stacks[0] + sizeof(stacks[0]), CLONE_FILES | SIGCHLD, NULL) < 0 ||
	    clone(fs_child, stacks[1] + sizeof(stacks[1]), CLONE_FS | SIGCHLD, NULL) < 0 ||
	    clone(vm_child, stacks[2] + sizeof(stacks[2]), CLONE_VM | CLONE_SIGHAND | SIGCHLD, go) < 0)
		die("clone");
	mem = fork();
	if (mem < 0)
		die("fork");
	if (mem == 0) {
		catch(SIGUSR1, on_usr1);
		for (;;) {
			if (usr1 && *private_page == 2) {
				*shared_page = 1001;
				*private_page = 2001;
			}
			report("mem", "shared %llu private %llu", *shared_page, *private_page);
			nap(20);
		}
	}
	for (;;) {
		if (!getcwd(cwd, sizeof(cwd)))
			die("getcwd");
		report("root", "fd100 %d cwd %s shared %llu private %llu vm_ticks %llu usr2 %d",
		       fcntl(100, F_GETFD) >= 0, cwd, *shared_page, *private_page, vm_ticks, (int)usr2);
		nap(20);
	}
}

static void __attribute__((noreturn)) pidns_init(int n)
{
	char name[32];

	if (setsid() < 0)
		die("setsid");
	for (int i = 1; i <= n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			snprintf(name, sizeof(name), "child%d", i);
			count_forever(name);
		}
	}
	for (unsigned long long c = 1;; c++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		report("init", "count %llu", c);
		nap(20);
	}
}

static int pidns(int n)
{
	pid_t init;

	if (unshare(CLONE_NEWPID))
		die("unshare");
	init = fork();	/* pid 1 of the new namespace */
	if (init < 0)
		die("fork");
	if (init == 0)
		pidns_init(n);
	report("launcher", "init %d", init);
	waitpid(init, NULL, 0);
	return 0;
}

static void __attribute__((noreturn)) fail(void)
{
	static const int parent[] = { -1, 0, 0, 1, 1 };
	int self = grow(parent, 5);
	char name[16];

	if (self == 4) {
		char path[4200];
		int fd;

		snprintf(path, sizeof(path), "%s/held", dir);
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || write(fd, "held\n", 5) != 5)
			die(path);
	}
	snprintf(name, sizeof(name), "node%d", self);
	count_forever(name);
}

static void __attribute__((noreturn)) wide(int children, int grandchildren)
{
	int n = 1 + children + children * grandchildren, self;
	int *parent = calloc(n, sizeof(*parent));
	char name[16];

	if (!parent)
		die("calloc");
	parent[0] = -1;
	for (int c = 0; c < children; c++)
		for (int g = 0; g < grandchildren; g++)
			parent[1 + children + c * grandchildren + g] = 1 + c;
	self = grow(parent, n);
	snprintf(name, sizeof(name), "node%d", self);
	report(name, "node %d parent %d", self, parent[self]);
	free(parent);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 3 ? argv[1] : "";
	int a = argc >= 4 ? atoi(argv[3]) : 0, b = argc >= 5 ? atoi(argv[4]) : 0;

	dir = argc >= 3 ? argv[2] : NULL;
	if (!strcmp(mode, "ring") && argc == 3)
		ring();
	if (!strcmp(mode, "pool") && argc == 4 && a >= 1 && a <= MAX_THREADS)
		thread_pool(a);
	if (!strcmp(mode, "zombies") && argc == 3)
		zombies();
	if (!strcmp(mode, "sessions") && argc == 3)
		sessions();
	if (!strcmp(mode, "offset") && argc == 3)
		offset();
	if (!strcmp(mode, "share") && argc == 3)
		share();
	if (!strcmp(mode, "pidns") && argc == 4 && a >= 1)
		return pidns(a);
	if (!strcmp(mode, "fail") && argc == 3)
		fail();
	if (!strcmp(mode, "wide") && argc == 5 && a >= 1 && b >= 0)
		wide(a, b);
	fprintf(stderr, "usage: tree MODE DIR [ARGS], MODE: ring, pool N, zombies, sessions, offset, share, pidns N, fail, wide C G\n");
	return 2;
}
