// SPDX-License-Identifier: GPL-2.0
/*
 * A container with namespaces of its own besides pid, for test_container_ns.py:
 *
 *   containerns container DIR HOST DOMAIN HOST_IPC [KIND]
 *	clones an init with CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC (the launcher reports
 *	"launcher init PID"), which sets the host and domain names to HOST and DOMAIN and
 *	forks two children. Each of the three counts in DIR/NAME (init, child1, child2) with
 *	its uname() names, its IPC namespace's inode (/proc/self/ns/ipc) and "errors", the
 *	checks that failed: its names are HOST and DOMAIN, its IPC namespace is not the
 *	host's (inode HOST_IPC, which the test reads). KIND "nested" puts a child in a UTS
 *	namespace of its own (child2 calls unshare(CLONE_NEWUTS)).
 *   containerns utsonly DIR HOST
 *	a single process in a UTS namespace of its own (no pid namespace), counting.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "report.h"

static const char *host, *domain;
static unsigned long host_ipc;

static unsigned long ipc_inode(void)
{
	struct stat st;

	if (stat("/proc/self/ns/ipc", &st))
		die("/proc/self/ns/ipc");
	return st.st_ino;
}

static void __attribute__((noreturn)) count_names(const char *name)
{
	for (unsigned long long n = 1;; n++) {
		struct utsname u;
		unsigned long ipc = ipc_inode();

		if (uname(&u))
			die("uname");
		CHECK(!strcmp(u.nodename, host), "nodename %s, not %s", u.nodename, host);
		if (domain)
			CHECK(!strcmp(u.domainname, domain), "domainname %s, not %s",
			      u.domainname, domain);
		if (host_ipc)
			CHECK(ipc != host_ipc, "in the host's IPC namespace (%lu)", ipc);
		report(name, "count %llu nodename %s domainname %s ipc %lu errors %d", n,
		       u.nodename, u.domainname, ipc, errors);
		nap(20);
	}
}

static int container_init(const char *kind)
{
	/* A session of its own, as a container's init has: its group is in the namespace. */
	if (setsid() < 0)
		die("setsid");
	if (sethostname(host, strlen(host)) || setdomainname(domain, strlen(domain)))
		die("sethostname");
	for (int i = 1; i <= 2; i++) {
		pid_t pid = fork();
		char name[16];

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (i == 2 && !strcmp(kind, "nested") && unshare(CLONE_NEWUTS))
				die("unshare");
			snprintf(name, sizeof(name), "child%d", i);
			count_names(name);
		}
	}
	count_names("init");
}

static char stack[64 << 10] __attribute__((aligned(16)));

static int init_main(void *kind)
{
	return container_init(kind);
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 4 ? argv[1] : "";

	if (argc < 4)
		goto usage;
	dir = argv[2];
	host = argv[3];
	if (!strcmp(mode, "container") && argc >= 6) {
		pid_t init;

		domain = argv[4];
		host_ipc = strtoul(argv[5], NULL, 10);
		init = clone(init_main, stack + sizeof(stack),
			     CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD,
			     (void *)(argc >= 7 ? argv[6] : ""));
		if (init < 0)
			die("clone");
		report("launcher", "init %d", init);
		waitpid(init, NULL, 0);
		return 0;
	}
	if (!strcmp(mode, "utsonly")) {
		if (unshare(CLONE_NEWUTS) || sethostname(host, strlen(host)))
			die("unshare");
		count_names("utsonly");
	}
usage:
	fprintf(stderr, "usage: containerns container DIR HOST DOMAIN HOST_IPC [KIND]\n"
			"       containerns utsonly DIR HOST\n");
	return 2;
}
