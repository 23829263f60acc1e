// SPDX-License-Identifier: GPL-2.0
/*
 * The process the selftests checkpoint and restart. It sets up the state a
 * test asks for, reports where things are in STATUS.info, then counts
 * forever, writing "counter N" at the start of STATUS after each step.
 *
 *   target STATUS [--mem MIB] [--socket] [--pipe] [--signals] [--file PATH]
 *   target hash ADDR NPAGES     print the FNV-1a 64 the pattern gives those pages
 *
 * Memory pattern: the 64-bit word at address a holds pattern(a), so the
 * contents of any page can be recomputed from its address alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t pattern(uint64_t addr)
{
	return (addr * 0x9E3779B97F4A7C15ull) ^ 0x5DEECE66Dull;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n, uint64_t h)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static int hash_mode(uint64_t addr, uint64_t npages)
{
	uint64_t h = 0xcbf29ce484222325ull, a;

	for (a = addr; a < addr + npages * 4096; a += 8) {
		uint64_t w = pattern(a);

		h = fnv1a64((const unsigned char *)&w, 8, h);
	}
	printf("%#llx\n", (unsigned long long)h);
	return 0;
}

static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

int main(int argc, char **argv)
{
	const char *status, *file = NULL;
	size_t mem = 0;
	int want_socket = 0, want_pipe = 0, want_signals = 0;
	unsigned long long counter = 0;
	uint64_t *region = NULL;
	char info[4096], line[64];
	int fd, n = 0, i;

	if (argc == 4 && !strcmp(argv[1], "hash"))
		return hash_mode(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (argc < 2) {
		fprintf(stderr, "usage: target STATUS [--mem MIB] [--socket] [--pipe] [--signals] [--file PATH]\n");
		return 2;
	}
	status = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--mem") && i + 1 < argc)
			mem = strtoul(argv[++i], NULL, 0) << 20;
		else if (!strcmp(argv[i], "--socket"))
			want_socket = 1;
		else if (!strcmp(argv[i], "--pipe"))
			want_pipe = 1;
		else if (!strcmp(argv[i], "--signals"))
			want_signals = 1;
		else if (!strcmp(argv[i], "--file") && i + 1 < argc)
			file = argv[++i];
		else
			return 2;
	}

	n += snprintf(info + n, sizeof(info) - n, "pid=%d\n", getpid());
	if (mem) {
		region = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED)
			return 3;
		for (size_t w = 0; w < mem / 8; w++)
			region[w] = pattern((uint64_t)(uintptr_t)&region[w]);
		n += snprintf(info + n, sizeof(info) - n, "region=%p\nregion_pages=%zu\n",
			      (void *)region, mem / 4096);
	}
	if (want_socket) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 4;
		n += snprintf(info + n, sizeof(info) - n, "socket_fd=%d\n", sv[0]);
	}
	if (want_pipe) {
		int p[2];

		if (pipe(p))
			return 5;
		n += snprintf(info + n, sizeof(info) - n, "pipe_fd=%d\n", p[0]);
	}
	if (want_signals) {
		struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
		sigset_t block;

		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGTERM);
		sigaction(SIGUSR1, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGUSR2);
		sigprocmask(SIG_BLOCK, &block, NULL);
		raise(SIGUSR2);		/* stays pending */
		n += snprintf(info + n, sizeof(info) - n, "handler=%p\n", (void *)on_usr1);
	}
	if (file) {
		int f = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (f < 0 || write(f, "hello", 5) != 5)
			return 6;
		lseek(f, 2, SEEK_SET);
		n += snprintf(info + n, sizeof(info) - n, "file_fd=%d\n", f);
	}

	fd = open(status, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 7;
	{
		char path[4200];
		int info_fd;

		snprintf(path, sizeof(path), "%s.info", status);
		info_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (info_fd < 0 || write(info_fd, info, n) != n)
			return 8;
		close(info_fd);
	}
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		int len;

		counter++;
		len = snprintf(line, sizeof(line), "counter %llu usr1 %d\n", counter, (int)usr1_count);
		if (pwrite(fd, line, len, 0) != len)
			return 9;
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
}
