// SPDX-License-Identifier: GPL-2.0
/*
 * A container whose own IPC namespace holds SysV objects, for test_sysvipc.py:
 *
 *   sysvipc container DIR HOST_IPC [KIND]
 *	clones an init with CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS (the launcher reports
 *	"launcher init PID"), which sets the namespace's IPC sysctls (the table sysctls[])
 *	and makes, with known keys, ids, owners, modes and contents:
 *	  A (0x51a0) 64 KiB, 0640, SHM_LOCKed; attached writable by init and child1 (at the
 *	    same address: inherited) and read-only by child1, a second time; its first page
 *	    holds each one's count, through which each sees the other's;
 *	  B (0x51a1) 8 KiB, 0444, id 70000; attached read-only by child2;
 *	  C (0x51a2) 10000 bytes, 0660, made as euid 1001/egid 1002 (its creator) then
 *	    given to 1003/1004 (IPC_SET); attached by nobody;
 *	  D (0x51a3) 20000 bytes, 0600, id 12; attached by init and child2, then removed
 *	    (IPC_RMID: SHM_DEST, its key IPC_PRIVATE);
 *	  a message queue (0x51a4, id 777, 0620, owner 1005/1006 by IPC_SET, msg_qbytes
 *	    12345) holding the five messages of msgs[] (one of 5000 bytes, one empty);
 *	  a semaphore set (0x51a5, 0604, made as 1007/1008) of the four values sem_vals[].
 *	Objects made and removed first move the ids the kernel chooses away from a fresh
 *	namespace's, and kernel.shm_rmid_forced is set to 1 last. Then init, child1 and
 *	child2 each check, every 50 ms, all of that from inside (IPC_STAT of every object:
 *	key, id, mode, owner, creator, size, shm_nattch; contents of its attaches; that its
 *	SysV areas in /proc/self/maps are exactly its attaches, at their addresses, with
 *	their access and ids; a read-only attach cannot be made writable; the semaphores'
 *	values; the sysctls; its IPC namespace not the host's, inode HOST_IPC) and report
 *	in DIR/NAME "count N errors E ipc INODE peer P" (P: the other's count read through
 *	A; init adds the objects' ids). The queue's messages and C's contents are checked
 *	once, by init on SIGUSR1 (reading the messages takes them; C, attached then
 *	detached with kernel.shm_rmid_forced set, is destroyed): its report's "polled"
 *	counts it, "received" the messages it got as expected, and C must be gone after.
 *	KIND adds what a checkpoint refuses: "outside" an attach of A by the launcher
 *	(outside the container), which joins the container's IPC namespace for it and
 *	reports "outsider attached 1",
 *	"outside-undo" a SEM_UNDO adjustment of the launcher's, joined likewise, to the set
 *	(semaphore 2 one more; "outsider undo 1").
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "report.h"

#define PAGE 4096UL
#define ROUND_PAGE(n) (((n) + PAGE - 1) & ~(PAGE - 1))

enum { SEG_A, SEG_B, SEG_C, SEG_D, NR_SEGS };

struct seg {
	const char *name;
	key_t key;		/* as made (D's becomes IPC_PRIVATE once removed) */
	size_t size;
	unsigned int mode;	/* IPC_STAT's: permissions, SHM_DEST, SHM_LOCKED */
	uid_t uid, cuid;
	gid_t gid, cgid;
	int next_id;		/* the id asked for with kernel.shm_next_id, or -1 */
	unsigned char mul, add;	/* byte K is K * mul + add (A's from its second page) */
	int nattch;
	int id;
};

static struct seg segs[NR_SEGS] = {
	[SEG_A] = { .name = "A", .key = 0x51a0, .size = 16 * PAGE, .mode = 0640 | SHM_LOCKED,
		    .next_id = -1, .mul = 7, .add = 1, .nattch = 3 },
	[SEG_B] = { .name = "B", .key = 0x51a1, .size = 2 * PAGE, .mode = 0444,
		    .next_id = 70000, .mul = 13, .add = 5, .nattch = 1 },
	[SEG_C] = { .name = "C", .key = 0x51a2, .size = 10000, .mode = 0660,
		    .uid = 1003, .gid = 1004, .cuid = 1001, .cgid = 1002,
		    .next_id = -1, .mul = 5, .add = 3, .nattch = 0 },
	[SEG_D] = { .name = "D", .key = 0x51a3, .size = 20000, .mode = 0600 | SHM_DEST,
		    .next_id = 12, .mul = 3, .add = 11, .nattch = 2 },
};

#define MSQ_KEY 0x51a4
#define MSQ_ID 777
#define MSQ_UID 1005
#define MSQ_GID 1006
#define MSQ_QBYTES 12345
#define SEM_KEY 0x51a5
#define SEM_UID 1007
#define SEM_GID 1008
#define NSEMS 4
#define BIG 5000

static char big[BIG];

static const struct {
	long type;
	const char *text;	/* NULL: big[], BIG bytes */
} msgs[] = {
	{ 1, "alpha" }, { 2, "bravo-bravo" }, { 1, "charlie" }, { 3, NULL }, { 7, "" },
};

/* The bytes of all of msgs[]: 5 + 11 + 7 + BIG + 0. */
#define MSQ_BYTES (23 + BIG)

static unsigned short sem_vals[NSEMS] = { 0, 1, 42, 32767 };

/* The IPC sysctls set in the container; "late" ones once every object is made. */
static const struct {
	const char *path;
	const char *value;
	int late;
} sysctls[] = {
	{ "kernel/shmmax", "123456789" },
	{ "kernel/shmall", "987654" },
	{ "kernel/shmmni", "1000" },
	{ "kernel/msgmax", "9000" },
	{ "kernel/msgmnb", "20000" },
	{ "kernel/msgmni", "500" },
	{ "kernel/sem", "300 64000 50 200" },
	{ "fs/mqueue/queues_max", "100" },
	{ "fs/mqueue/msg_max", "20" },
	{ "fs/mqueue/msgsize_max", "4096" },
	{ "fs/mqueue/msg_default", "5" },
	{ "fs/mqueue/msgsize_default", "2048" },
	/* Set earlier, it would destroy B and C on the detach that follows their filling. */
	{ "kernel/shm_rmid_forced", "1", 1 },
};

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* This process's attaches, as /proc/self/maps must show them. */
static struct attach {
	int seg;
	unsigned char *addr;
	int ro;
} mine[4];
static int nr_mine;

static unsigned long host_ipc;
static int msq_id, sem_id;
/* A's first page through init's (and child1's) writable attach; child1's read-only one. */
static volatile unsigned long long *slots, *ro_slots;
/* Set by init's check of the queue and of C (SIGUSR1). */
static int polled, received, c_gone;

static unsigned long ipc_inode(void)
{
	struct stat st;

	if (stat("/proc/self/ns/ipc", &st))
		die("/proc/self/ns/ipc");
	return st.st_ino;
}

static void write_sysctl(const char *path, const char *value)
{
	char full[256];
	int fd;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	fd = open(full, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value) || close(fd))
		die(full);
}

static void set_sysctls(int late)
{
	for (size_t i = 0; i < ARRAY_SIZE(sysctls); i++)
		if (sysctls[i].late == late)
			write_sysctl(sysctls[i].path, sysctls[i].value);
}

/* Whether the numbers in /proc/sys/PATH are those of WANT. */
static int sysctl_is(const char *path, const char *want)
{
	char full[256], buf[256];
	const char *w = want;
	char *g = buf, *end;
	int fd, n;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	fd = open(full, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (;;) {
		unsigned long long a = strtoull(w, &end, 10);

		if (end == w)
			break;
		w = end;
		if (strtoull(g, &end, 10) != a || end == g)
			return 0;
		g = end;
	}
	while (*g == ' ' || *g == '\t' || *g == '\n')
		g++;
	return *g == 0;
}

static void as_user(uid_t uid, gid_t gid)
{
	if (setegid(gid) || seteuid(uid))
		die("seteuid");
}

static void back_to_root(void)
{
	if (seteuid(0) || setegid(0))
		die("seteuid(0)");
}

static unsigned char pattern(const struct seg *s, size_t k)
{
	return (unsigned char)(k * s->mul + s->add);
}

static unsigned char *attach(int seg, int ro)
{
	unsigned char *p = shmat(segs[seg].id, NULL, ro ? SHM_RDONLY : 0);

	if (p == (void *)-1)
		die("shmat");
	mine[nr_mine++] = (struct attach){ seg, p, ro };
	return p;
}

/* Detaches this process's writable attach of SEG. */
static void detach(int seg)
{
	for (int i = 0; i < nr_mine; i++) {
		if (mine[i].seg != seg || mine[i].ro)
			continue;
		if (shmdt(mine[i].addr))
			die("shmdt");
		mine[i] = mine[--nr_mine];
		return;
	}
	die("not attached");
}

static void set_owner_mode(int seg)
{
	struct seg *s = &segs[seg];
	struct shmid_ds ds;

	if (shmctl(s->id, IPC_STAT, &ds))
		die("shmctl(IPC_STAT)");
	ds.shm_perm.uid = s->uid;
	ds.shm_perm.gid = s->gid;
	ds.shm_perm.mode = s->mode & 0777;
	if (shmctl(s->id, IPC_SET, &ds))
		die("shmctl(IPC_SET)");
}

/* Makes segment SEG and fills it; A and D stay attached (by init, then its children). */
static void make_seg(int seg)
{
	struct seg *s = &segs[seg];
	unsigned char *p;
	char id[16];

	if (s->next_id >= 0) {
		snprintf(id, sizeof(id), "%d", s->next_id);
		write_sysctl("kernel/shm_next_id", id);
	}
	if (s->cuid)
		as_user(s->cuid, s->cgid);
	s->id = shmget(s->key, s->size, IPC_CREAT | IPC_EXCL | 0600);
	if (s->id < 0)
		die("shmget");
	back_to_root();
	if (s->next_id >= 0 && s->id != s->next_id)
		die("kernel.shm_next_id");
	p = attach(seg, 0);
	for (size_t k = seg == SEG_A ? PAGE : 0; k < s->size; k++)
		p[k] = pattern(s, k);
	if (seg == SEG_A)
		slots = (volatile unsigned long long *)p;
	else if (seg != SEG_D)
		detach(seg);
	set_owner_mode(seg);
	if ((s->mode & SHM_LOCKED) && shmctl(s->id, SHM_LOCK, NULL))
		die("shmctl(SHM_LOCK)");
	if ((s->mode & SHM_DEST) && shmctl(s->id, IPC_RMID, NULL))
		die("shmctl(IPC_RMID)");
}

static const char *msg_text(size_t k, size_t *len)
{
	const char *t = msgs[k].text ? msgs[k].text : big;

	*len = msgs[k].text ? strlen(t) : BIG;
	return t;
}

static void make_msq(void)
{
	struct {
		long mtype;
		char text[BIG];
	} m;
	struct msqid_ds ds;
	char id[16];

	snprintf(id, sizeof(id), "%d", MSQ_ID);
	write_sysctl("kernel/msg_next_id", id);
	msq_id = msgget(MSQ_KEY, IPC_CREAT | IPC_EXCL | 0600);
	if (msq_id != MSQ_ID)
		die("msgget");
	for (size_t k = 0; k < ARRAY_SIZE(msgs); k++) {
		size_t len;
		const char *t = msg_text(k, &len);

		m.mtype = msgs[k].type;
		memcpy(m.text, t, len);
		if (msgsnd(msq_id, &m, len, IPC_NOWAIT))
			die("msgsnd");
	}
	if (msgctl(msq_id, IPC_STAT, &ds))
		die("msgctl(IPC_STAT)");
	ds.msg_perm.uid = MSQ_UID;
	ds.msg_perm.gid = MSQ_GID;
	ds.msg_perm.mode = 0620;
	ds.msg_qbytes = MSQ_QBYTES;
	if (msgctl(msq_id, IPC_SET, &ds))
		die("msgctl(IPC_SET)");
}

static void make_sem(void)
{
	struct semid_ds ds;
	union semun vals = { .array = sem_vals }, stat = { .buf = &ds };

	as_user(SEM_UID, SEM_GID);
	sem_id = semget(SEM_KEY, NSEMS, IPC_CREAT | IPC_EXCL | 0600);
	back_to_root();
	if (sem_id < 0)
		die("semget");
	if (semctl(sem_id, 0, SETALL, vals) || semctl(sem_id, 0, IPC_STAT, stat))
		die("semctl");
	ds.sem_perm.mode = 0604;
	if (semctl(sem_id, 0, IPC_SET, stat))
		die("semctl(IPC_SET)");
}

/* Objects made and removed: the kernel's next ids are no longer a fresh namespace's. */
static void move_ids(void)
{
	for (int i = 0; i < 3; i++) {
		int shm = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
		int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);

		if (shm < 0 || sem < 0 || shmctl(shm, IPC_RMID, NULL) || semctl(sem, 0, IPC_RMID))
			die("moving the ids");
	}
}

static void check_seg(int seg)
{
	const struct seg *s = &segs[seg];
	key_t key = s->mode & SHM_DEST ? IPC_PRIVATE : s->key;
	struct shmid_ds ds;
	int id;

	if (shmctl(s->id, IPC_STAT, &ds)) {
		CHECK(0, "segment %s (%d): IPC_STAT: %m", s->name, s->id);
		return;
	}
	CHECK(ds.shm_perm.__key == key, "segment %s: key %#x, not %#x", s->name,
	      ds.shm_perm.__key, key);
	CHECK((ds.shm_perm.mode & 07777) == s->mode, "segment %s: mode %#o, not %#o", s->name,
	      ds.shm_perm.mode & 07777, s->mode);
	CHECK(ds.shm_perm.uid == s->uid && ds.shm_perm.gid == s->gid,
	      "segment %s: owner %u:%u, not %u:%u", s->name, ds.shm_perm.uid, ds.shm_perm.gid,
	      s->uid, s->gid);
	CHECK(ds.shm_perm.cuid == s->cuid && ds.shm_perm.cgid == s->cgid,
	      "segment %s: creator %u:%u, not %u:%u", s->name, ds.shm_perm.cuid,
	      ds.shm_perm.cgid, s->cuid, s->cgid);
	CHECK(ds.shm_segsz == s->size, "segment %s: size %zu, not %zu", s->name,
	      (size_t)ds.shm_segsz, s->size);
	CHECK(ds.shm_nattch == (shmatt_t)s->nattch, "segment %s: %lu attaches, not %d",
	      s->name, (unsigned long)ds.shm_nattch, s->nattch);
	id = shmget(s->key, 0, 0);
	if (s->mode & SHM_DEST)
		CHECK(id < 0 && errno == ENOENT, "segment %s: its old key finds %d (%m)", s->name,
		      id);
	else
		CHECK(id == s->id, "segment %s: its key finds %d, not %d (%m)", s->name, id, s->id);
}

/* The contents of an attach, and the zeros after them to its last page's end. */
static void check_contents(const struct seg *s, const volatile unsigned char *p)
{
	size_t bad = 0, first = 0;

	for (size_t k = s == &segs[SEG_A] ? PAGE : 0; k < ROUND_PAGE(s->size); k++) {
		unsigned char want = k < s->size ? pattern(s, k) : 0;

		if (p[k] != want && !bad++)
			first = k;
	}
	CHECK(!bad, "segment %s at %p: %zu bytes wrong, the first at %zu", s->name, p, bad,
	      first);
}

/* Its SysV areas in /proc/self/maps: its attaches, no other, each whole and as made. */
static void check_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, ino;
		char perms[8], name[64], want[64];
		const struct attach *a = NULL;
		const struct seg *s;

		if (!strstr(line, "/SYSV"))
			continue;
		found++;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %63s", &start, &end, perms, &ino,
			   name) != 5) {
			CHECK(0, "a maps line: %s", line);
			continue;
		}
		for (int i = 0; i < nr_mine; i++)
			if ((unsigned long)mine[i].addr == start)
				a = &mine[i];
		if (!a) {
			CHECK(0, "a SysV area none of its attaches is at: %s", line);
			continue;
		}
		s = &segs[a->seg];
		CHECK(end - start == ROUND_PAGE(s->size), "segment %s: area %lx-%lx, not %#lx bytes",
		      s->name, start, end, ROUND_PAGE(s->size));
		CHECK(!strcmp(perms, a->ro ? "r--s" : "rw-s"), "segment %s at %lx: %s", s->name,
		      start, perms);
		CHECK(ino == (unsigned long)s->id, "segment %s at %lx: inode %lu, not its id %d",
		      s->name, start, ino, s->id);
		if (!(s->mode & SHM_DEST)) {
			snprintf(want, sizeof(want), "/SYSV%08x", s->key);
			CHECK(!strcmp(name, want), "segment %s at %lx: %s, not %s", s->name, start,
			      name, want);
		}
	}
	fclose(f);
	CHECK(found == nr_mine, "%d SysV areas in /proc/self/maps, not %d", found, nr_mine);
}

static void check_attaches(void)
{
	for (int i = 0; i < nr_mine; i++) {
		const struct attach *a = &mine[i];
		const struct seg *s = &segs[a->seg];

		check_contents(s, a->addr);
		if (a->ro)
			CHECK(mprotect(a->addr, ROUND_PAGE(s->size), PROT_READ | PROT_WRITE) &&
			      errno == EACCES,
			      "segment %s at %p: a read-only attach made writable (%m)", s->name,
			      a->addr);
	}
	check_maps();
}

/* The queue's key, id, owner and mode; with COUNTS its messages' number and bytes too. */
static void check_msq(int counts)
{
	struct msqid_ds ds;

	if (msgctl(msq_id, IPC_STAT, &ds)) {
		CHECK(0, "queue %d: IPC_STAT: %m", msq_id);
		return;
	}
	CHECK(ds.msg_perm.__key == MSQ_KEY && (ds.msg_perm.mode & 0777) == 0620,
	      "queue: key %#x mode %#o", ds.msg_perm.__key, ds.msg_perm.mode);
	CHECK(ds.msg_perm.uid == MSQ_UID && ds.msg_perm.gid == MSQ_GID &&
	      ds.msg_perm.cuid == 0 && ds.msg_perm.cgid == 0,
	      "queue: owner %u:%u creator %u:%u", ds.msg_perm.uid, ds.msg_perm.gid,
	      ds.msg_perm.cuid, ds.msg_perm.cgid);
	CHECK(ds.msg_qbytes == MSQ_QBYTES, "queue: msg_qbytes %lu", (unsigned long)ds.msg_qbytes);
	if (counts)
		CHECK(ds.msg_qnum == (polled ? 0 : ARRAY_SIZE(msgs)) &&
		      ds.msg_cbytes == (polled ? 0 : MSQ_BYTES),
		      "queue: %lu messages, %lu bytes", (unsigned long)ds.msg_qnum,
		      (unsigned long)ds.msg_cbytes);
	CHECK(msgget(MSQ_KEY, 0) == msq_id, "queue: its key finds %d (%m)", msgget(MSQ_KEY, 0));
}

static void check_sem(void)
{
	unsigned short v[NSEMS] = { 0 };
	struct semid_ds ds;
	union semun vals = { .array = v }, stat = { .buf = &ds };

	if (semctl(sem_id, 0, IPC_STAT, stat)) {
		CHECK(0, "set %d: IPC_STAT: %m", sem_id);
		return;
	}
	CHECK(ds.sem_perm.__key == SEM_KEY && (ds.sem_perm.mode & 0777) == 0604,
	      "set: key %#x mode %#o", ds.sem_perm.__key, ds.sem_perm.mode);
	CHECK(ds.sem_perm.uid == SEM_UID && ds.sem_perm.gid == SEM_GID &&
	      ds.sem_perm.cuid == SEM_UID && ds.sem_perm.cgid == SEM_GID,
	      "set: owner %u:%u creator %u:%u", ds.sem_perm.uid, ds.sem_perm.gid,
	      ds.sem_perm.cuid, ds.sem_perm.cgid);
	CHECK(ds.sem_nsems == NSEMS, "set: %lu semaphores", (unsigned long)ds.sem_nsems);
	if (semctl(sem_id, 0, GETALL, vals))
		CHECK(0, "set: GETALL: %m");
	CHECK(!memcmp(v, sem_vals, sizeof(v)), "set: values %u %u %u %u", v[0], v[1], v[2], v[3]);
	CHECK(semget(SEM_KEY, 0, 0) == sem_id, "set: its key finds %d (%m)", semget(SEM_KEY, 0, 0));
}

/* Everything but the queue's messages and C's contents; IS_INIT: C and the counts too. */
static void check_all(int is_init)
{
	unsigned long ipc = ipc_inode();

	CHECK(ipc != host_ipc, "in the host's IPC namespace (%lu)", ipc);
	for (int i = 0; i < NR_SEGS; i++)
		if (i != SEG_C)
			check_seg(i);
	if (is_init && !c_gone)
		check_seg(SEG_C);
	if (c_gone)
		CHECK(shmctl(segs[SEG_C].id, IPC_STAT, &(struct shmid_ds){ 0 }) && errno == EINVAL,
		      "segment C is still there after its last detach (shm_rmid_forced)");
	check_attaches();
	check_msq(is_init);
	check_sem();
	for (size_t i = 0; i < ARRAY_SIZE(sysctls); i++)
		CHECK(sysctl_is(sysctls[i].path, sysctls[i].value), "%s is not %s",
		      sysctls[i].path, sysctls[i].value);
}

/* Takes the message of TYPE (0: the first) and counts it if it is msgs[K]. */
static void receive(long type, size_t k)
{
	struct {
		long mtype;
		char text[2 * BIG];
	} m;
	ssize_t n = msgrcv(msq_id, &m, sizeof(m.text), type, IPC_NOWAIT);
	size_t len;
	const char *t = msg_text(k, &len);

	if (n < 0) {
		CHECK(0, "msgrcv of type %ld: %m", type);
		return;
	}
	CHECK(m.mtype == msgs[k].type && (size_t)n == len && !memcmp(m.text, t, len),
	      "msgrcv of type %ld: type %ld, %zd bytes, not message %zu", type, m.mtype, n, k);
	if (m.mtype == msgs[k].type && (size_t)n == len && !memcmp(m.text, t, len))
		received++;
}

/* On SIGUSR1, once: the queue's messages, by type then in order, and C's contents. */
static void poll_once(void)
{
	struct seg *c = &segs[SEG_C];
	unsigned char *p;
	long rest[2];

	CHECK(!polled, "polled a second time");
	check_msq(1);
	receive(2, 1);
	receive(0, 0);
	receive(0, 2);
	receive(0, 3);
	receive(0, 4);
	CHECK(msgrcv(msq_id, rest, 0, 0, IPC_NOWAIT) < 0 && errno == ENOMSG,
	      "a message more in the queue (%m)");
	p = shmat(c->id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		CHECK(0, "shmat of segment C: %m");
	} else {
		check_contents(c, p);
		shmdt(p);
	}
	/* Its last detach with kernel.shm_rmid_forced set destroyed it. */
	c_gone = 1;
	polled++;
}

static void __attribute__((noreturn)) run(const char *name, int slot)
{
	struct timespec zero = { 0, 0 };
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	for (unsigned long long n = 1;; n++) {
		unsigned long long peer = 0;

		if (slot >= 0) {
			slots[slot] = n;
			peer = slots[1 - slot];
			if (ro_slots)
				CHECK(ro_slots[slot] == n, "A read-only: %llu, not %llu",
				      ro_slots[slot], n);
		}
		check_all(slot == 0);
		if (slot == 0)
			report(name,
			       "count %llu errors %d ipc %lu peer %llu polled %d received %d shm_a %d shm_b %d shm_c %d shm_d %d msq %d sem %d",
			       n, errors, ipc_inode(), peer, polled, received, segs[SEG_A].id,
			       segs[SEG_B].id, segs[SEG_C].id, segs[SEG_D].id, msq_id, sem_id);
		else
			report(name, "count %llu errors %d ipc %lu peer %llu", n, errors,
			       ipc_inode(), peer);
		nap(50);
		if (slot == 0 && sigtimedwait(&usr1, NULL, &zero) == SIGUSR1)
			poll_once();
	}
}

/* Child I's attaches (it inherited A and D), then the count once every one is set up. */
static void __attribute__((noreturn)) child(int i, int ready, int go)
{
	char c;

	if (i == 1) {
		detach(SEG_D);
		ro_slots = (volatile unsigned long long *)attach(SEG_A, 1);
	} else {
		detach(SEG_A);
		slots = NULL;
		attach(SEG_B, 1);
	}
	if (write(ready, "x", 1) != 1 || close(ready))
		die("ready");
	if (read(go, &c, 1) != 0 || close(go))
		die("go");
	run(i == 1 ? "child1" : "child2", i == 1 ? 1 : -1);
}

/* Until SEG has N attaches (the launcher's, outside). */
static void wait_nattch(int seg, int n)
{
	for (int tries = 0; tries < 3000; tries++) {
		struct shmid_ds ds;

		if (shmctl(segs[seg].id, IPC_STAT, &ds))
			die("shmctl(IPC_STAT)");
		if (ds.shm_nattch == (shmatt_t)n)
			return;
		nap(20);
	}
	die("waiting for the outside attach");
}

/* Until semaphore SEM is VALUE (the launcher's semop, outside). */
static void wait_semval(int sem, int value)
{
	for (int tries = 0; tries < 3000; tries++) {
		int v = semctl(sem_id, sem, GETVAL);

		if (v < 0)
			die("semctl(GETVAL)");
		if (v == value)
			return;
		nap(20);
	}
	die("waiting for the outside semop");
}

static int container_init(void *arg)
{
	const char *kind = arg;
	int ready[2], go[2];
	char c[2];

	if (setsid() < 0)
		die("setsid");
	block_usr_signals();
	for (size_t k = 0; k < BIG; k++)
		big[k] = (char)(k * 11 + 7);
	if (!strcmp(kind, "outside"))
		segs[SEG_A].nattch++;
	set_sysctls(0);
	move_ids();
	for (int i = 0; i < NR_SEGS; i++)
		make_seg(i);
	make_msq();
	make_sem();
	if (!strcmp(kind, "outside"))
		wait_nattch(SEG_A, 2);
	if (!strcmp(kind, "outside-undo")) {
		sem_vals[2]++;
		wait_semval(2, sem_vals[2]);
	}
	set_sysctls(1);
	if (pipe(ready) || pipe(go))
		die("pipe");
	for (int i = 1; i <= 2; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(ready[0]);
			close(go[1]);
			child(i, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], c, 1) != 1 || read(ready[0], c + 1, 1) != 1)
		die("the children's setup");
	close(ready[0]);
	close(go[1]);
	run("init", 0);
}

/*
 * The launcher, outside the container, joins its IPC namespace and, once init made them,
 * attaches A ("outside") or raises semaphore 2 by one with SEM_UNDO ("outside-undo").
 */
static void from_outside(pid_t init, int undo)
{
	struct sembuf op = { .sem_num = 2, .sem_op = 1, .sem_flg = SEM_UNDO };
	struct semid_ds ds;
	union semun stat = { .buf = &ds };
	char path[64];
	int fd, id = -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", init);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWIPC) || close(fd))
		die("joining the container's IPC namespace");
	for (int tries = 0; tries < 3000 && id < 0; tries++) {
		id = undo ? semget(SEM_KEY, 0, 0) : shmget(segs[SEG_A].key, 0, 0);
		/* The set is ready once init gave it its mode, after its values. */
		if (undo && id >= 0 && (semctl(id, 0, IPC_STAT, stat) ||
					(ds.sem_perm.mode & 0777) != 0604))
			id = -1;
		if (id < 0)
			nap(20);
	}
	if (id < 0)
		die("finding the container's object");
	if (undo) {
		if (semop(id, &op, 1))
			die("semop from outside");
		report("outsider", "undo 1");
	} else {
		if (shmat(id, NULL, 0) == (void *)-1)
			die("attaching A from outside");
		report("outsider", "attached 1");
	}
}

static char stack[64 << 10] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
	const char *kind;
	pid_t init;

	if (argc < 4 || strcmp(argv[1], "container")) {
		fputs("usage: sysvipc container DIR HOST_IPC [outside|outside-undo]\n",
		      stderr);
		return 2;
	}
	dir = argv[2];
	host_ipc = strtoul(argv[3], NULL, 10);
	kind = argc >= 5 ? argv[4] : "";
	init = clone(container_init, stack + sizeof(stack),
		     CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, (void *)kind);
	if (init < 0)
		die("clone");
	report("launcher", "init %d", init);
	if (!strcmp(kind, "outside") || !strcmp(kind, "outside-undo"))
		from_outside(init, !strcmp(kind, "outside-undo"));
	waitpid(init, NULL, 0);
	return 0;
}
