// SPDX-License-Identifier: GPL-2.0
/*
 * Files unlinked while open, that selftests/test_deleted.py checkpoints and restarts.
 * Each process reports in DIR/NAME (report.h); a check that fails is printed on stderr
 * (DIR/stderr) and counted in the report's "errors".
 *
 *   deleted state DIR [UID]  (as UID if given) writes DIR/data, mode 0640: HEAD bytes of
 *                            a pattern at 0, a hole, TAIL bytes at 4 MiB; opens it O_RDWR
 *                            (left at its end) and O_RDONLY | O_NONBLOCK (at 1234), then
 *                            unlinks it. Opens DIR/conf ("old config") and renames
 *                            another file ("new config") over it. Forks a child sharing
 *                            the O_RDWR description. Both report "ready 1" and wait for
 *                            SIGUSR2; then the parent checks the files (content, hole
 *                            kept, st_blocks small, mode, link count 0, offsets, flags),
 *                            sends SIGUSR1 to the child, which appends "child" through the
 *                            shared description, and checks the offset it shares moved:
 *                            "checked 1 errors E".
 *   deleted big DIR MIB      an unlinked file of MIB MiB of data (no hole); on SIGUSR2
 *                            checks all of it: "checked 1 errors E".
 *   deleted mapped DIR [UID] DIR/mapdata (2 pages of the pattern, mode 0600) mapped
 *                            MAP_SHARED and MAP_PRIVATE, page 0 of the private mapping
 *                            written apart, then unlinked and its descriptor closed: only
 *                            the mappings hold it. On SIGUSR2 checks both, then writes
 *                            through the shared mapping, which the private mapping's
 *                            unwritten page 1 (the same file) must show, page 0 keeping
 *                            its own: "checked 1 errors E".
 *   deleted rmcwd DIR [UID]  makes DIR/gone (mode 0751), enters it and removes it: its
 *                            working directory is removed. Also forks a child sharing it
 *                            (CLONE_FS). On SIGUSR2 checks "." is still a directory
 *                            removed (link count 0, mode 0751, its owner, no entry, a
 *                            file cannot be made in it: ENOENT) and that the child's
 *                            fs context is still the same one: "checked 1 errors E".
 *   deleted rmdirfd DIR [UID] makes DIR/held (mode 0751) and holds it open: RD
 *                            (O_RDONLY | O_DIRECTORY, read to its end), PATH
 *                            (O_PATH | O_DIRECTORY) and a second description OTHER
 *                            (O_RDONLY, never read); removes it and forks a child
 *                            sharing the descriptions. Reports "rmdirfd" and "rmdirchild"
 *                            "ready 1". On SIGUSR2 the parent checks each descriptor
 *                            (link count 0, mode 0751, owner, one inode, the offsets and
 *                            flags it had, /proc/self/fd/N reads "DIR/held (deleted)",
 *                            ENOENT on creating a file in it, and on getdents as a
 *                            removed directory gives before and after), then sets
 *                            O_NONBLOCK on RD and rewinds it and sends the
 *                            child SIGUSR1, which must see both on its RD:
 *                            "checked 1 errors E" in both reports.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

#define HEAD 10000
#define TAIL_AT (4 << 20)
#define TAIL 5000



static char pattern(long i)
{
	return 'A' + (i * 11 + i / 17) % 26;
}

/* Writes LEN bytes of the pattern at OFF. */
static void fill(int fd, long off, long len)
{
	static char buf[65536];
	long done, i, n;

	for (done = 0; done < len; done += n) {
		n = len - done < (long)sizeof(buf) ? len - done : (long)sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + done + i);
		if (pwrite(fd, buf, n, off + done) != n)
			die("pwrite");
	}
}

/* How many of the LEN bytes at OFF differ from the pattern (or cannot be read). */
static long differ(int fd, long off, long len)
{
	static char buf[65536];
	long done, i, n, bad = 0;

	for (done = 0; done < len; done += n) {
		n = len - done < (long)sizeof(buf) ? len - done : (long)sizeof(buf);
		if (pread(fd, buf, n, off + done) != n)
			return len - done + bad;
		for (i = 0; i < n; i++)
			bad += buf[i] != pattern(off + done + i);
	}
	return bad;
}

static void state(const char *uid)
{
	char path[4200], conf[4200], other[4200], buf[64];
	int rw, ro, cf, fd, n;
	struct stat st;
	pid_t child;
	off_t end;

	if (uid && (setgroups(0, NULL) || setgid(atoi(uid)) || setuid(atoi(uid))))
		die("dropping to UID");
	/* setuid cleared the dumpable flag, which ckpt (ptrace) needs of its own user. */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("PR_SET_DUMPABLE");
	block_usr_signals();
	umask(0);
	snprintf(path, sizeof(path), "%s/data", dir);
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(other, sizeof(other), "%s/conf.new", dir);
	rw = open(path, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (rw < 0)
		die("create data");
	fill(rw, 0, HEAD);
	fill(rw, TAIL_AT, TAIL);
	end = lseek(rw, 0, SEEK_END);
	ro = open(path, O_RDONLY | O_NONBLOCK);
	if (ro < 0 || lseek(ro, 1234, SEEK_SET) != 1234 || unlink(path))
		die("data");
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, "old config\n", 11) != 11 || close(fd))
		die("conf");
	cf = open(conf, O_RDONLY);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (cf < 0 || fd < 0 || write(fd, "new config\n", 11) != 11 || close(fd) ||
	    rename(other, conf))
		die("conf.new");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		report("child", "ready 1 wrote 0");
		wait_sig(SIGUSR1);
		CHECK(write(rw, "child", 5) == 5, "append through the shared description: %m");
		report("child", "ready 1 wrote 1 errors %d", errors);
		for (;;)
			pause();
	}
	report("parent", "ready 1 child %d checked 0 rw %d ro %d conf %d", child, rw, ro, cf);
	wait_sig(SIGUSR2);

	/* After the restart. */
	CHECK(fstat(rw, &st) == 0, "fstat: %m");
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640, "mode %#o", st.st_mode);
	CHECK(st.st_nlink == 0, "link count %lu", (unsigned long)st.st_nlink);
	CHECK(st.st_size == TAIL_AT + TAIL, "size %ld", (long)st.st_size);
	CHECK(st.st_blocks * 512 < 1 << 20, "the hole is gone: %ld blocks", (long)st.st_blocks);
	CHECK(uid == NULL || st.st_uid == (uid_t)atoi(uid), "owner %d", st.st_uid);
	CHECK(differ(rw, 0, HEAD) == 0, "head differs");
	CHECK(differ(rw, TAIL_AT, TAIL) == 0, "tail differs");
	CHECK(pread(rw, buf, 8, 2 << 20) == 8 && !memcmp(buf, "\0\0\0\0\0\0\0\0", 8), "hole not zeros");
	CHECK(lseek(rw, 0, SEEK_CUR) == end, "rw offset %ld, not %ld", (long)lseek(rw, 0, SEEK_CUR),
	      (long)end);
	CHECK(lseek(ro, 0, SEEK_CUR) == 1234, "ro offset %ld", (long)lseek(ro, 0, SEEK_CUR));
	CHECK((fcntl(ro, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK),
	      "ro flags %#x", fcntl(ro, F_GETFL));
	CHECK((fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR, "rw flags %#x", fcntl(rw, F_GETFL));
	CHECK(fstat(ro, &st) == 0 && st.st_nlink == 0, "ro: another file");
	n = pread(cf, buf, sizeof(buf), 0);
	CHECK(n == 11 && !memcmp(buf, "old config\n", 11), "the replaced file reads %d: %.*s", n,
	      n > 0 ? n : 0, buf);
	fd = open(conf, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	CHECK(n == 11 && !memcmp(buf, "new config\n", 11), "its path reads %d", n);
	kill(child, SIGUSR1);
	/* The child appends through the description both share: its offset moves for both. */
	for (n = 0; n < 1000 && lseek(rw, 0, SEEK_CUR) == end; n++)
		usleep(10000);
	CHECK(lseek(rw, 0, SEEK_CUR) == end + 5, "shared offset %ld", (long)lseek(rw, 0, SEEK_CUR));
	CHECK(pread(rw, buf, 5, end) == 5 && !memcmp(buf, "child", 5), "the child's bytes");
	report("parent", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

static void big(const char *mib)
{
	long len = atol(mib) << 20;
	char path[4200];
	int fd;

	block_usr_signals();
	snprintf(path, sizeof(path), "%s/bigdata", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("create bigdata");
	fill(fd, 0, len);
	if (unlink(path))
		die("unlink bigdata");
	report("big", "ready 1 fd %d checked 0", fd);
	wait_sig(SIGUSR2);
	CHECK(differ(fd, 0, len) == 0, "the data differs");
	report("big", "ready 1 fd %d checked 1 errors %d", fd, errors);
	for (;;)
		pause();
}

static void unlinked_mapping(const char *uid)
{
	char path[4200], *shared, *private;
	long i, bad;
	int fd;

	if (uid)
		drop_to(uid);
	block_usr_signals();
	snprintf(path, sizeof(path), "%s/mapdata", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("create mapdata");
	fill(fd, 0, 8192);
	shared = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	private = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (shared == MAP_FAILED || private == MAP_FAILED)
		die("mmap");
	memset(private, 'p', 4096);
	if (unlink(path) || close(fd))
		die("unlink mapdata");
	report("mapped", "ready 1 checked 0");
	wait_sig(SIGUSR2);
	for (i = bad = 0; i < 8192; i++)
		bad += shared[i] != pattern(i);
	CHECK(bad == 0, "shared mapping: %ld bytes differ", bad);
	CHECK(private[0] == 'p' && private[4095] == 'p', "private page 0 lost its own content");
	for (i = bad = 0; i < 4096; i++)
		bad += private[4096 + i] != pattern(4096 + i);
	CHECK(bad == 0, "private page 1: %ld bytes differ from the file", bad);
	memset(shared, 's', 8192);
	CHECK(private[4096] == 's' && private[8191] == 's',
	      "a write through the shared mapping is not in the file (private page 1)");
	CHECK(private[0] == 'p', "private page 0 changed with the file");
	report("mapped", "ready 1 checked 1 errors %d", errors);
	for (;;)
		pause();
}

/* The checks of a removed working directory, from DIR/gone's expected owner. */
static void check_removed_cwd(uid_t uid, gid_t gid)
{
	struct stat st;
	DIR *d;
	int fd, entries = 0;

	CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode), "\".\" is not a directory");
	CHECK(st.st_nlink == 0, "\".\" has %ld links, not 0", (long)st.st_nlink);
	CHECK((st.st_mode & 07777) == 0751, "\".\" has mode %o", st.st_mode & 07777);
	CHECK(st.st_uid == uid && st.st_gid == gid, "\".\" is %d:%d, not %d:%d", st.st_uid,
	      st.st_gid, uid, gid);
	d = opendir(".");
	CHECK(d != NULL, "opendir .: %s", strerror(errno));
	if (d) {
		struct dirent *e;

		while ((e = readdir(d)))
			entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
	}
	CHECK(entries == 0, "\".\" has %d entries", entries);
	fd = open("new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd < 0 && errno == ENOENT, "a file made in the removed directory (%d, %s)", fd,
	      strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int cwd_child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void removed_cwd(const char *uid)
{
	static char stack[64 << 10];
	char path[4200], link[4200], cpath[64], clink[4200];
	ssize_t n;
	pid_t child;

	if (uid)
		drop_to(uid);
	block_usr_signals();
	snprintf(path, sizeof(path), "%s/gone", dir);
	if (mkdir(path, 0751) || chmod(path, 0751) || chdir(path) || rmdir(path))
		die("mkdir, chdir, rmdir gone");
	child = clone(cwd_child, stack + sizeof(stack), CLONE_FS | SIGCHLD, NULL);
	if (child < 0)
		die("clone");
	check_removed_cwd(getuid(), getgid());
	report("rmcwd", "ready 1 child %d checked 0 errors %d", child, errors);
	wait_sig(SIGUSR2);
	check_removed_cwd(getuid(), getgid());
	/* The child shares our fs context: its cwd is ours (the same removed directory). */
	n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	snprintf(cpath, sizeof(cpath), "/proc/%d/cwd", child);
	n = readlink(cpath, clink, sizeof(clink) - 1);
	clink[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && !strcmp(link, clink), "the child's cwd %s is not ours %s", clink, link);
	CHECK(strstr(link, "(deleted)") != NULL, "our cwd %s is not removed", link);
	report("rmcwd", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

/* The names getdents64 gives from @fd's offset on, but . and ..; -errno if it fails. */
static int dir_entries(int fd, int *dots)
{
	char buf[4096];
	long n, at;
	int others = 0;

	*dots = 0;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (at = 0; at < n;) {
			struct {
				unsigned long long ino;
				long long off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *e = (void *)(buf + at);

			if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
				++*dots;
			else
				others++;
			at += e->reclen;
		}
	}
	return n < 0 ? -errno : others;
}

/* Descriptor @fd (@what) of the removed directory @path: as it was before. */
static void check_removed_fd(int fd, const char *what, const char *path, dev_t dev,
			     ino_t ino, int flags)
{
	char proc[64], link[4200], want[4300];
	struct stat st;
	ssize_t n;
	int made;

	CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "%s: not a directory (%m)", what);
	CHECK(st.st_nlink == 0, "%s: %ld links, not 0", what, (long)st.st_nlink);
	CHECK((st.st_mode & 07777) == 0751, "%s: mode %o", what, st.st_mode & 07777);
	CHECK(st.st_uid == getuid() && st.st_gid == getgid(), "%s: owner %d:%d", what, st.st_uid,
	      st.st_gid);
	CHECK(st.st_dev == dev && st.st_ino == ino, "%s: another directory than the first's", what);
	CHECK(fcntl(fd, F_GETFL) == flags, "%s: flags %#o, not %#o", what, fcntl(fd, F_GETFL),
	      flags);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", path);
	CHECK(!strcmp(link, want), "%s: %s reads %s, not %s", what, proc, link, want);
	made = openat(fd, "x", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(made < 0 && errno == ENOENT, "%s: a file made in it (%d, %s)", what, made,
	      strerror(errno));
	if (made >= 0)
		close(made);
}

static void removed_dir_fds(const char *uid)
{
	char path[4200];
	int rd, opath, other, rd_flags, path_flags, other_flags, dots, n;
	off_t rd_at;
	struct stat st;
	pid_t child;

	if (uid)
		drop_to(uid);
	block_usr_signals();
	snprintf(path, sizeof(path), "%s/held", dir);
	if (mkdir(path, 0751) || chmod(path, 0751))
		die("mkdir held");
	rd = open(path, O_RDONLY | O_DIRECTORY);
	opath = open(path, O_PATH | O_DIRECTORY);
	other = open(path, O_RDONLY);
	if (rd < 0 || opath < 0 || other < 0 || fstat(rd, &st))
		die("open held");
	if (dir_entries(rd, &dots) != 0 || dots != 2)
		die("reading held");
	rd_at = lseek(rd, 0, SEEK_CUR);
	rd_flags = fcntl(rd, F_GETFL);
	path_flags = fcntl(opath, F_GETFL);
	other_flags = fcntl(other, F_GETFL);
	if (rd_at <= 0 || rmdir(path))
		die("rmdir held");
	/* A removed directory lists nothing, not even . and ..: getdents fails. */
	if (dir_entries(other, &dots) != -ENOENT || lseek(other, 0, SEEK_CUR) != 0)
		die("getdents of the removed directory");
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		report("rmdirchild", "ready 1 checked 0");
		wait_sig(SIGUSR1);
		/* The parent set O_NONBLOCK and rewound: on the description we share. */
		CHECK(fcntl(rd, F_GETFL) == (rd_flags | O_NONBLOCK), "child: flags %#o, not %#o",
		      fcntl(rd, F_GETFL), rd_flags | O_NONBLOCK);
		CHECK(lseek(rd, 0, SEEK_CUR) == 0, "child: offset %ld, not 0",
		      (long)lseek(rd, 0, SEEK_CUR));
		CHECK(fstat(rd, &st) == 0, "child: fstat: %m");
		check_removed_fd(opath, "child: O_PATH", path, st.st_dev, st.st_ino, path_flags);
		report("rmdirchild", "ready 1 checked 1 errors %d", errors);
		for (;;)
			pause();
	}
	report("rmdirfd", "ready 1 child %d checked 0 rd %d path %d other %d at %ld", child, rd,
	       opath, other, (long)rd_at);
	wait_sig(SIGUSR2);

	/* After the restart: one directory (a new inode) at all three. */
	CHECK(fstat(rd, &st) == 0, "fstat: %m");
	check_removed_fd(rd, "O_RDONLY", path, st.st_dev, st.st_ino, rd_flags);
	check_removed_fd(opath, "O_PATH", path, st.st_dev, st.st_ino, path_flags);
	check_removed_fd(other, "second description", path, st.st_dev, st.st_ino, other_flags);
	CHECK(lseek(rd, 0, SEEK_CUR) == rd_at, "offset %ld, not %ld", (long)lseek(rd, 0, SEEK_CUR),
	      (long)rd_at);
	CHECK(lseek(other, 0, SEEK_CUR) == 0, "the second description's offset %ld, not 0",
	      (long)lseek(other, 0, SEEK_CUR));
	n = dir_entries(rd, &dots);
	CHECK(n == -ENOENT, "getdents at its offset: %d, not -ENOENT (%d dots)", n, dots);
	n = dir_entries(other, &dots);
	CHECK(n == -ENOENT, "getdents from the start: %d, not -ENOENT (%d dots)", n, dots);
	CHECK(lseek(rd, 0, SEEK_SET) == 0, "rewinding: %m");
	CHECK(fcntl(rd, F_SETFL, rd_flags | O_NONBLOCK) == 0, "F_SETFL: %m");
	kill(child, SIGUSR1);
	report("rmdirfd", "ready 1 child %d checked 1 errors %d", child, errors);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: deleted state DIR [UID] | big DIR MIB | mapped DIR [UID] | rmcwd DIR [UID] | rmdirfd DIR [UID]\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "state"))
		state(argc > 3 ? argv[3] : NULL);
	if (!strcmp(argv[1], "big") && argc > 3)
		big(argv[3]);
	if (!strcmp(argv[1], "mapped"))
		unlinked_mapping(argc > 3 ? argv[3] : NULL);
	if (!strcmp(argv[1], "rmcwd"))
		removed_cwd(argc > 3 ? argv[3] : NULL);
	if (!strcmp(argv[1], "rmdirfd"))
		removed_dir_fds(argc > 3 ? argv[3] : NULL);
	fprintf(stderr, "deleted: unknown mode %s\n", argv[1]);
	return 2;
}
