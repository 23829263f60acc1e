// SPDX-License-Identifier: GPL-2.0
/*
 * A pre-forking server's memory, for selftests/test_cow.py: private anonymous pages that
 * a parent and its children share copy-on-write since the fork. Each process reports in
 * DIR/NAME (report.h); a check that fails is printed on stderr and counted in "errors".
 *
 *   cow state DIR [UID]  (as UID if given) maps AREA_PAGES pages and grows the heap by
 *                        HEAP_PAGES pages (sbrk), writes version A of a pattern into every
 *                        page of both, then forks "child1" and "child2". child1 writes
 *                        version B into pages 0-99 of the area and drops pages 200-209
 *                        (MADV_DONTNEED: zeros again); child2 writes nothing; the parent
 *                        writes version C into pages 900-1023 and heap page 0. Each
 *                        reports "ready 1 area ADDR heap ADDR" and waits for SIGUSR2,
 *                        then checks every page of both against what it wrote: "checked
 *                        1 errors E".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report.h"

#define PAGE 4096
#define WORDS (PAGE / 8)
#define AREA_PAGES 1024
#define HEAP_PAGES 64

static uint64_t word(char version, long page, long w)
{
	return ((uint64_t)version << 56) ^ ((uint64_t)page << 24) ^ (w * 0x9e3779b97f4a7c15ULL >> 8);
}

static void fill(uint64_t *base, long from, long to, char version)
{
	for (long p = from; p < to; p++)
		for (long w = 0; w < WORDS; w++)
			base[p * WORDS + w] = word(version, p, w);
}

/* Counts the pages of [from, to) of BASE that do not hold VERSION (0: zeros). */
static long wrong(const uint64_t *base, long from, long to, char version)
{
	long bad = 0;

	for (long p = from; p < to; p++)
		for (long w = 0; w < WORDS; w++)
			if (base[p * WORDS + w] != (version ? word(version, p, w) : 0)) {
				bad++;
				break;
			}
	return bad;
}

static uint64_t *area, *heap;

static void check(const char *name, char v0_99, char v900, int dropped, char heap0)
{
	long bad;

	bad = wrong(area, 0, 100, v0_99);
	CHECK(!bad, "%s: %ld of area pages 0-99 are not version %c", name, bad, v0_99);
	bad = wrong(area, 100, 200, 'A') + wrong(area, 210, 900, 'A');
	CHECK(!bad, "%s: %ld of area pages 100-899 are not version A", name, bad);
	bad = wrong(area, 200, 210, dropped ? 0 : 'A');
	CHECK(!bad, "%s: %ld of area pages 200-209 are wrong (dropped %d)", name, bad, dropped);
	bad = wrong(area, 900, AREA_PAGES, v900);
	CHECK(!bad, "%s: %ld of area pages 900-1023 are not version %c", name, bad, v900);
	bad = wrong(heap, 0, 1, heap0) + wrong(heap, 1, HEAP_PAGES, 'A');
	CHECK(!bad, "%s: %ld heap pages are wrong", name, bad);
}

static void serve(const char *name, char v0_99, char v900, int dropped, char heap0)
{
	report(name, "ready 1 area %lu heap %lu checked 0", (unsigned long)area,
	       (unsigned long)heap);
	wait_sig(SIGUSR2);
	check(name, v0_99, v900, dropped, heap0);
	report(name, "ready 1 area %lu heap %lu checked 1 errors %d", (unsigned long)area,
	       (unsigned long)heap, errors);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "state")) {
		fprintf(stderr, "usage: cow state DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (argc > 3)
		drop_to(argv[3]);
	block_usr_signals();
	area = mmap(NULL, AREA_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	heap = sbrk(0);
	/* The heap from a page boundary on, grown by HEAP_PAGES pages. */
	heap = (uint64_t *)(((uintptr_t)heap + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	if (area == MAP_FAILED || brk((char *)heap + HEAP_PAGES * PAGE))
		die("memory");
	fill(area, 0, AREA_PAGES, 'A');
	fill(heap, 0, HEAP_PAGES, 'A');
	if (!fork()) {
		fill(area, 0, 100, 'B');
		if (madvise((char *)area + 200 * PAGE, 10 * PAGE, MADV_DONTNEED))
			die("madvise");
		serve("child1", 'B', 'A', 1, 'A');
	}
	if (!fork())
		serve("child2", 'A', 'A', 0, 'A');
	fill(area, 900, AREA_PAGES, 'C');
	fill(heap, 0, 1, 'C');
	serve("parent", 'A', 'C', 0, 'C');
}
