// SPDX-License-Identifier: GPL-2.0
/*
 * The process the selftests checkpoint and restart. It sets up the state a
 * test asks for, reports where things are in STATUS.info, then counts
 * forever, writing "counter N" at the start of STATUS after each step.
 *
 *   target STATUS [--mem MIB] [--socket] [--pipe] [--signals] [--file PATH]
 *                 [--maps DIR] [--read-tty PATH]
 *
 * --maps DIR: a shared and a private mapping of files in DIR, a read-only
 * (mprotect) page, brk heap and a sigaltstack, all with known contents; SIGUSR1
 * makes the process check them all ("bad" counts the words that differ).
 * --read-tty PATH: the loop blocks in read() on PATH (a pty slave) and counts
 * the bytes it gets ("got N").
 * --rseq CPU: runs on CPU only, replaces glibc's rseq registration by its own of
 * AT_RSEQ_FEATURE_SIZE bytes (the kernel's "v2" mode when that exceeds 32, as
 * glibc 2.41 registers) and adds "rseq_cpu A cpu B" to each line: the cpu_id the
 * kernel wrote in the area and the one getcpu() reports.
 *   target hash ADDR NPAGES     print the FNV-1a 64 the pattern gives those pages
 *   target fpu STATUS           keep known values in ymm8-15, x87 st0 and MXCSR while
 *                               counting in an all-assembly loop; SIGUSR2 ends it: exit 0
 *                               if every register held, 42 if one changed
 *
 * Memory pattern: the 64-bit word at address a holds pattern(a), so the
 * contents of any page can be recomputed from its address alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

/* glibc 2.35+ (sys/rseq.h): __rseq_offset, __rseq_size, where its own rseq area is. */
#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif

/* struct rseq's fixed head; the kernel may use up to 256 bytes behind it. */
static struct {
	uint32_t cpu_id_start, cpu_id;
	uint64_t rseq_cs;
	uint32_t flags, node_id, mm_cid;
	char rest[228];
} rseq_area __attribute__((aligned(256)));

/* Pins the process to cpu, drops glibc's rseq registration and registers rseq_area. */
static int setup_rseq(int cpu, char *info, int n, size_t size)
{
	unsigned long len = getauxval(AT_RSEQ_FEATURE_SIZE);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	if (__rseq_size) {
		char *tp;

		__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
		if (syscall(SYS_rseq, tp + __rseq_offset, __rseq_size < 32 ? 32 : __rseq_size,
			    1, RSEQ_SIG))
			return -1;
	}
	if (len < 32)
		len = 32;
	if (len > sizeof(rseq_area) || syscall(SYS_rseq, &rseq_area, (unsigned int)len, 0, RSEQ_SIG))
		return -1;
	return snprintf(info + n, size - n, "rseq=%p\nrseq_len=%lu\n", (void *)&rseq_area, len);
}

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

/* --maps areas, checked on SIGUSR1 */
static uint64_t *m_shared, *m_private, *m_ro, *m_heap;
static size_t m_words = 4096 / 8;

static unsigned long long check_area(uint64_t *a, size_t words, uint64_t salt)
{
	unsigned long long bad = 0;

	for (size_t w = 0; a && w < words; w++)
		if (a[w] != (pattern((uint64_t)(uintptr_t)&a[w]) ^ salt))
			bad++;
	return bad;
}

static void fill_area(uint64_t *a, size_t words, uint64_t salt)
{
	for (size_t w = 0; w < words; w++)
		a[w] = pattern((uint64_t)(uintptr_t)&a[w]) ^ salt;
}

static int setup_maps(const char *dir, char *info, int n, size_t size)
{
	char path[4200];
	stack_t ss;
	int f;

	/* A shared mapping of a file: written through the mapping. */
	snprintf(path, sizeof(path), "%s/shared", dir);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (f < 0 || ftruncate(f, 4096))
		return -1;
	m_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	close(f);
	/* A private mapping of a file: one page copied on write. */
	snprintf(path, sizeof(path), "%s/private", dir);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (f < 0 || ftruncate(f, 8192))
		return -1;
	m_private = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	close(f);
	/* An anonymous page made read-only after it was written. */
	m_ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* The brk heap. */
	m_heap = sbrk(4096);
	if (m_shared == MAP_FAILED || m_private == MAP_FAILED || m_ro == MAP_FAILED ||
	    m_heap == (void *)-1)
		return -1;
	fill_area(m_shared, m_words, 1);
	fill_area(m_private, m_words, 2);	/* only the first page */
	fill_area(m_ro, m_words, 3);
	fill_area(m_heap, m_words, 4);
	if (mprotect(m_ro, 4096, PROT_READ))
		return -1;
	ss.ss_sp = malloc(SIGSTKSZ * 4);
	ss.ss_size = SIGSTKSZ * 4;
	ss.ss_flags = 0;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		return -1;
	return snprintf(info + n, size - n,
			"shared=%p\nprivate=%p\nro=%p\nheap=%p\naltstack=%p\n",
			(void *)m_shared, (void *)m_private, (void *)m_ro, (void *)m_heap, ss.ss_sp);
}
static volatile unsigned char fpu_stop;
static volatile unsigned long long fpu_counter;
static unsigned long long fpu_expect[8][4] __attribute__((aligned(32)));

static void on_usr2_stop(int sig)
{
	(void)sig;
	fpu_stop = 1;
}

/*
 * Loads ymm8-15, st0 and MXCSR, then loops: check them all, count, sleep 2 ms
 * with a raw nanosleep (no libc code may run: it could use vector registers).
 */
static int fpu_mode(const char *status)
{
	static const double st0 = 3.14159265358979;
	static const unsigned int mxcsr = 0x1f80 | 0x6000;	/* round toward zero */
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	struct sigaction sa = { .sa_handler = on_usr2_stop };
	unsigned long long bad = 0;
	unsigned int tmp;
	double dtmp;
	char info[256];
	int fd, n, i, j;

	for (i = 0; i < 8; i++)
		for (j = 0; j < 4; j++)
			fpu_expect[i][j] = 0x0123456789abcdefull * (i + 1) + j;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	n = snprintf(info, sizeof(info), "pid=%d\ncounter_addr=%p\n", getpid(), (void *)&fpu_counter);
	fd = open(status, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, info, n) != n)
		return 8;
	close(fd);
	asm volatile(
		"vmovdqa 0(%[e]), %%ymm8\n\t"
		"vmovdqa 32(%[e]), %%ymm9\n\t"
		"vmovdqa 64(%[e]), %%ymm10\n\t"
		"vmovdqa 96(%[e]), %%ymm11\n\t"
		"vmovdqa 128(%[e]), %%ymm12\n\t"
		"vmovdqa 160(%[e]), %%ymm13\n\t"
		"vmovdqa 192(%[e]), %%ymm14\n\t"
		"vmovdqa 224(%[e]), %%ymm15\n\t"
		"fninit\n\t"
		"fldl %[st0]\n\t"
		"ldmxcsr %[mx]\n\t"
		"1:\n\t"
#define CHECK(r, off) \
		"vpcmpeqq " off "(%[e]), %%ymm" r ", %%ymm0\n\t" \
		"vpmovmskb %%ymm0, %%eax\n\t" \
		"cmp $-1, %%eax\n\t" \
		"jne 2f\n\t"
		CHECK("8", "0") CHECK("9", "32") CHECK("10", "64") CHECK("11", "96")
		CHECK("12", "128") CHECK("13", "160") CHECK("14", "192") CHECK("15", "224")
		"stmxcsr %[tmp]\n\t"
		"mov %[tmp], %%eax\n\t"
		"cmp %[mx], %%eax\n\t"
		"jne 2f\n\t"
		"fstl %[dtmp]\n\t"
		"mov %[dtmp], %%rax\n\t"
		"cmp %[st0], %%rax\n\t"
		"jne 2f\n\t"
		"incq %[cnt]\n\t"
		"cmpb $0, %[stop]\n\t"
		"jne 3f\n\t"
		"mov $35, %%eax\n\t"		/* nanosleep(&ts, NULL) */
		"lea %[ts], %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"syscall\n\t"
		"jmp 1b\n\t"
		"2:\n\t"
		"movq $1, %[bad]\n\t"
		"3:\n\t"
		"vzeroupper\n\t"
		"fninit\n\t"
		: [cnt] "+m"(fpu_counter), [bad] "+m"(bad), [tmp] "=m"(tmp), [dtmp] "=m"(dtmp)
		: [e] "r"(fpu_expect), [st0] "m"(st0), [mx] "m"(mxcsr), [stop] "m"(fpu_stop), [ts] "m"(ts)
		: "rax", "rcx", "rdx", "rdi", "rsi", "r11", "memory", "cc",
		  "xmm0", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	{
		unsigned int dflt = 0x1f80;

		asm volatile("ldmxcsr %0" : : "m"(dflt));
	}
	return bad ? 42 : 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

int main(int argc, char **argv)
{
	const char *status, *file = NULL, *maps = NULL, *tty = NULL;
	int tty_fd = -1, rseq_cpu = -1;
	unsigned long long got = 0;
	size_t mem = 0;
	int want_socket = 0, want_pipe = 0, want_signals = 0;
	unsigned long long counter = 0, bad_words = 0;
	int checked = 0, verified = 0;
	uint64_t *region = NULL;
	char info[4096], line[160];
	int fd, n = 0, i;

	if (argc == 3 && !strcmp(argv[1], "fpu"))
		return fpu_mode(argv[2]);
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
		else if (!strcmp(argv[i], "--maps") && i + 1 < argc)
			maps = argv[++i];
		else if (!strcmp(argv[i], "--read-tty") && i + 1 < argc)
			tty = argv[++i];
		else if (!strcmp(argv[i], "--rseq") && i + 1 < argc)
			rseq_cpu = atoi(argv[++i]);
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
		/* A netlink socket: a family no checkpoint saves (unix sockets are saved). */
		int sk = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

		if (sk < 0)
			return 4;
		n += snprintf(info + n, sizeof(info) - n, "socket_fd=%d\n", sk);
	}
	if (want_pipe) {
		int p[2];

		if (pipe(p) || write(p[1], "hello pipe", 10) != 10)
			return 5;
		n += snprintf(info + n, sizeof(info) - n, "pipe_fd=%d\npipe_wfd=%d\n", p[0], p[1]);
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

	if (maps) {
		int m = setup_maps(maps, info, n, sizeof(info));

		if (m < 0)
			return 10;
		n += m;
	}
	if (rseq_cpu >= 0) {
		int r = setup_rseq(rseq_cpu, info, n, sizeof(info));

		if (r < 0)
			return 12;
		n += r;
	}
	if (tty) {
		tty_fd = open(tty, O_RDWR | O_NOCTTY);
		if (tty_fd < 0)
			return 11;
		n += snprintf(info + n, sizeof(info) - n, "tty_fd=%d\n", tty_fd);
	}

	fd = open(status, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 7;
	if (write_info(status, info, n))
		return 8;
	for (;;) {
		int len;

		counter++;
		if (maps && usr1_count != checked) {
			checked = usr1_count;
			bad_words += check_area(m_shared, m_words, 1);
			bad_words += check_area(m_private, m_words, 2);
			bad_words += check_area(m_ro, m_words, 3);
			bad_words += check_area(m_heap, m_words, 4);
			verified++;
		}
		if (region && usr1_count != checked) {
			/* Asked (SIGUSR1) to check the memory pattern. */
			checked = usr1_count;
			for (size_t w = 0; w < mem / 8; w++)
				if (region[w] != pattern((uint64_t)(uintptr_t)&region[w]))
					bad_words++;
			verified++;
		}
		len = snprintf(line, sizeof(line), "counter %llu usr1 %d verified %d bad %llu got %llu",
			       counter, (int)usr1_count, verified, bad_words, got);
		if (rseq_cpu >= 0) {
			unsigned int now = ~0u;

			syscall(SYS_getcpu, &now, NULL, NULL);
			len += snprintf(line + len, sizeof(line) - len, " rseq_cpu %d cpu %u",
					(int)*(volatile uint32_t *)&rseq_area.cpu_id, now);
		}
		line[len++] = '\n';
		if (put_status(fd, line, len))
			return 9;
		if (tty_fd >= 0) {
			char buf[64];
			ssize_t r = read(tty_fd, buf, sizeof(buf));	/* blocks */

			if (r > 0)
				got += r;
			continue;
		}
		nap(10);
	}
}
