/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The checkpoint image format, for C programs and for the module's C helpers.
 *
 * The source of truth is uapi/image.rs (see it and Documentation/image.rst for
 * the order of records); this header declares the same records.
 * userspace/ckptlib/tests/c_header.rs checks every field's offset, size and
 * type, every struct's size and alignment and every constant against the Rust
 * definitions, listed from uapi/image.rs itself (Documentation/image.rst).
 *
 * An image is a stream of records, each a struct ckpt_hdr, the payload, and
 * zeros up to a multiple of CKPT_RECORD_ALIGN bytes.
 */
#ifndef _UAPI_LINUX_CHECKPOINT_IMAGE_H
#define _UAPI_LINUX_CHECKPOINT_IMAGE_H

#include <linux/types.h>

#define CKPT_IMAGE_MAGIC	"LinuxCR\0"	/* 8 bytes, HEADER's magic */
#define CKPT_TAIL_MAGIC		"CRdone\0\0"	/* 8 bytes, TAIL's magic */
#define CKPT_ARCH_X86_64	0xC000003EU	/* AUDIT_ARCH_X86_64 */
#define CKPT_RECORD_ALIGN	8
#define CKPT_MAX_PAYLOAD	(8U << 20)
#define CKPT_PATH_MAX		4095
#define CKPT_REASON_MAX		512
#define CKPT_PAGE_SIZE		4096
#define CKPT_CPUID_WORDS	10
#define CKPT_VDSO_MAX		(64 << 10)
#define CKPT_PAGES_PER_RECORD	1024
#define CKPT_AUXV_WORDS		64
#define CKPT_NSIG		64
#define CKPT_RLIM_NLIMITS	16
#define CKPT_SIGINFO_SIZE	128
#define CKPT_NGROUPS_MAX	65536
#define CKPT_MAX_POSIX_TIMERS	4096

/* Record types (struct ckpt_hdr's kind). */
#define CKPT_REC_HEADER		1
#define CKPT_REC_TAIL		2
#define CKPT_REC_ERROR		3
#define CKPT_REC_TREE		5
#define CKPT_REC_TASK		10
#define CKPT_REC_CREDS		11
#define CKPT_REC_RLIMITS	12
#define CKPT_REC_FS		13
#define CKPT_REC_ITIMERS	14
#define CKPT_REC_POSIX_TIMER	15
#define CKPT_REC_SIGHAND	20
#define CKPT_REC_SIGNALS	21
#define CKPT_REC_SIGINFO	22
#define CKPT_REC_FILE		30
#define CKPT_REC_PIPE		31
#define CKPT_REC_UNIX_SOCK	35
#define CKPT_REC_SKB		36
#define CKPT_REC_EVENTFD	32
#define CKPT_REC_TIMERFD	33
#define CKPT_REC_SIGNALFD	34
#define CKPT_REC_EPOLL		37
#define CKPT_REC_XSTATE		40
#define CKPT_REC_MM		50
#define CKPT_REC_VMA		51
#define CKPT_REC_PAGES		52
#define CKPT_REC_PAGES_REF	53
#define CKPT_REC_REGS		60
#define CKPT_REC_INET_SOCK	38
#define CKPT_REC_FILE_DATA	43
#define CKPT_REC_DELETED	45
#define CKPT_REC_MEMFD		44
#define CKPT_REC_TASK_ATTRS	16
#define CKPT_REC_INOTIFY	47
#define CKPT_REC_INOTIFY_WATCH	48
#define CKPT_REC_FILE_LOCK	39
#define CKPT_REC_FOWN		46
#define CKPT_REC_SKB_FDS	49
#define CKPT_REC_UTS_NS		55
#define CKPT_REC_REMOVED_DIR	42
#define CKPT_REC_IPC_NS		56
#define CKPT_REC_SYSV_SHM	57
#define CKPT_REC_SYSV_MSQ	58
#define CKPT_REC_SYSV_MSG	59
#define CKPT_REC_SYSV_SEM	61
#define CKPT_REC_MQUEUE		62
#define CKPT_REC_MQ_MSG		63
#define CKPT_REC_SEM_UNDO	64
#define CKPT_REC_TIME_NS	65

/* The header of every record. */
struct ckpt_hdr {
	__u32 kind;
	__u32 len;
};

/* HEADER: what wrote the image, and for which machine. */
struct ckpt_header_rec {
	__u8 magic[8];
	__u32 image_version;
	__u32 arch;
	__u32 page_size;
	__u32 xsave_size;
	__u64 xfeatures;
	__u64 time_ns;
	__u32 nr_tasks;
	__u32 __reserved;
	__u8 kernel_release[64];
	__u32 cpuid[CKPT_CPUID_WORDS];	/* the words ckpt_cpuid_word() names */
	__u32 vdso_size;	/* bytes of [vdso] text, 0 if none */
	__u32 vvar_size;	/* bytes of [vvar] and [vvar_vclock] */
	__u64 vdso_hash;	/* 64-bit FNV-1a of the vDSO text */
};

/* TAIL: the image is complete. */
struct ckpt_tail_rec {
	__u8 magic[8];
	__u64 nr_records;
};

/*
 * ERROR: the checkpoint failed; followed by len bytes of reason (UTF-8,
 * no NUL).
 */
struct ckpt_error_rec {
	__s32 error;
	__u32 len;
};

/* TREE: header of the task table; followed by nr struct ckpt_tree_entry. */
struct ckpt_tree_rec {
	__u32 nr;
	__u32 flags;
};

/* ckpt_tree_rec.flags */
#define CKPT_TREE_CONTAINER	1

/* Bytes of a UTS name with its NUL (__NEW_UTS_LEN + 1). */
#define CKPT_UTS_LEN		65

/*
 * UTS_NS: the namespaces other than pid a container has of its own, and the
 * names of its UTS namespace. In a container image only (one, right after
 * the TREE).
 */
struct ckpt_uts_ns_rec {
	__u32 flags;			/* CKPT_NS_* */
	__u32 __reserved;
	char nodename[65];		/* NUL-terminated, NUL-padded; zero without CKPT_NS_UTS */
	char domainname[65];
	__u8 __pad[6];
};

/* ckpt_uts_ns_rec.flags */
#define CKPT_NS_UTS		1	/* a UTS namespace of its own */
#define CKPT_NS_IPC		2	/* an IPC namespace of its own: an IPC_NS record follows */
#define CKPT_NS_NET		4	/* a network namespace of its own: lo only, default addresses */
#define CKPT_NS_LO_UP		8	/* with CKPT_NS_NET: its lo was up */
#define CKPT_NS_TIME		16	/* a time namespace of its own: a TIME_NS record follows */

/* Largest magnitude of a time namespace offset's seconds (KTIME_SEC_MAX). */
#define CKPT_TIMENS_SEC_MAX	9223372036ULL

/*
 * TIME_NS: the offsets of a container's own time namespace (as timens_offsets shows
 * them) and the host's clocks when they were read, right after UTS_NS with CKPT_NS_TIME.
 */
struct ckpt_time_ns_rec {
	__s64 monotonic_sec;		/* magnitude at most CKPT_TIMENS_SEC_MAX */
	__s64 boottime_sec;
	__u32 monotonic_nsec;		/* below 1e9 */
	__u32 boottime_nsec;
	__u64 host_monotonic;		/* the host's CLOCK_MONOTONIC, ns */
	__u64 host_boottime;		/* the host's CLOCK_BOOTTIME, ns */
};

/*
 * IPC_NS: the sysctls of a container's IPC namespace and how many objects follow
 * (nr_shm SYSV_SHM each with its FILE_DATA, nr_msq SYSV_MSQ each with its SYSV_MSG,
 * nr_sem SYSV_SEM, nr_mq MQUEUE each with its MQ_MSG), right after UTS_NS with
 * CKPT_NS_IPC.
 */
struct ckpt_ipc_ns_rec {
	__u64 shm_ctlmax;
	__u64 shm_ctlall;
	__u32 shm_ctlmni;
	__u32 shm_rmid_forced;
	__u32 msg_ctlmax;
	__u32 msg_ctlmnb;
	__u32 msg_ctlmni;
	__u32 sem_ctls[4];		/* SEMMSL, SEMMNS, SEMOPM, SEMMNI */
	__u32 mq_queues_max;
	__u32 mq_msg_max;
	__u32 mq_msgsize_max;
	__u32 mq_msg_default;
	__u32 mq_msgsize_default;
	__u32 nr_shm;
	__u32 nr_msq;
	__u32 nr_sem;
	__u32 nr_mq;
};

#define CKPT_IPC_OBJS_MAX	(1u << 24)

/* What every SysV object has; uids in the checkpointer's user namespace. */
struct ckpt_ipc_perm {
	__s32 key;
	__s32 id;			/* as shmget/msgget/semget return it */
	__u32 uid;
	__u32 gid;
	__u32 cuid;
	__u32 cgid;
	__u32 mode;			/* 0777, and for a segment CKPT_SHM_DEST, CKPT_SHM_LOCKED */
	__u32 __reserved;
};

#define CKPT_SHM_DEST		01000	/* removed, alive until its last detach */
#define CKPT_SHM_LOCKED		02000	/* SHM_LOCK */

/* SYSV_SHM: a segment; its FILE_DATA records (id obj) follow. */
struct ckpt_sysv_shm_rec {
	struct ckpt_ipc_perm perm;
	__u64 size;
	__u32 obj;			/* FILE_DATA id, VMA shm of its attaches */
	__u32 nattch;
};

/* SYSV_MSQ: a message queue; nr_msgs SYSV_MSG follow, first received first. */
struct ckpt_sysv_msq_rec {
	struct ckpt_ipc_perm perm;
	__u64 qbytes;
	__u32 nr_msgs;
	__u32 __reserved;
};

#define CKPT_SYSV_MSGS_MAX	(1u << 24)
#define CKPT_SYSV_MSG_MAX	(4u << 20)

/* SYSV_MSG: one message; len bytes of text follow. */
struct ckpt_sysv_msg_rec {
	__s64 mtype;
	__u32 len;
	__u32 __reserved;
};

/* SYSV_SEM: a semaphore set; nsems __s32 values (0..CKPT_SEMVMX) follow, then nr_undo SEM_UNDO. */
struct ckpt_sysv_sem_rec {
	struct ckpt_ipc_perm perm;
	__u32 nsems;
	__u32 nr_undo;
};

/* SEM_UNDO: a process's undo adjustments for the set before; nsems __s32 follow. */
struct ckpt_sem_undo_rec {
	__s32 pid;
	__u32 nsems;
};

#define CKPT_SYSV_SEMS_MAX	(1u << 20)
#define CKPT_SEMVMX		32767

/*
 * MQUEUE: a POSIX message queue (after the SysV sets, nr_mq of IPC_NS); name_len bytes
 * of its name ("/name") follow, then nr_msgs MQ_MSG, first received first.
 */
struct ckpt_mqueue_rec {
	__u64 maxmsg;
	__u64 msgsize;
	__u32 uid;
	__u32 gid;
	__u32 mode;
	__u32 name_len;
	__u32 nr_msgs;
	__u32 __reserved;
};

#define CKPT_MQ_NAME_MAX	256
#define CKPT_MQ_MAXMSG_MAX	65536
#define CKPT_MQ_MSGSIZE_MAX	(16u << 20)
#define CKPT_MQ_QUEUES_MAX	1024

/* MQ_MSG: one message of a POSIX queue; len bytes of text follow. */
struct ckpt_mq_msg_rec {
	__u32 prio;
	__u32 len;
};

#define CKPT_MQ_PRIO_MAX	32768

/*
 * One task of the tree. Pids are as seen in the image's pid namespace (the
 * checkpointer's, or the container's); a parent, group or session outside the
 * tree keeps its number, which the restart does not recreate.
 */
struct ckpt_tree_entry {
	__s32 pid;
	__s32 tgid;
	__s32 ppid;
	__s32 pgid;
	__s32 sid;
	__u32 flags;
	__s32 exit_code;
	__s32 exit_signal;
	__u32 mm;
	__u32 files;
	__u32 fs;
	__u32 sighand;
};

/* ckpt_tree_entry.flags */
#define CKPT_TASK_ZOMBIE	(1U << 0)
#define CKPT_TASK_STOPPED	(1U << 1)
#define CKPT_TASK_SUBREAPER	(1U << 2)

/* TASK: identity and per-task settings. */
struct ckpt_task_rec {
	__s32 pid;
	__s32 tgid;
	__s32 ppid;
	__s32 pgid;
	__s32 sid;
	__u32 personality;
	__u32 umask;
	__s32 exit_signal;
	__u32 dumpable;
	__u32 no_new_privs;
	__u8 comm[16];
	__u64 robust_list;
	__u64 robust_list_len;
	__u64 set_child_tid;
	__u64 clear_child_tid;
	__u64 vdso_base;
	__u64 rseq;
	__u32 rseq_len;
	__u32 rseq_sig;
	__s32 pdeath_signal;
	__s32 nice;
	__u64 timer_slack_ns;
	__u32 thp_disable;
	__u32 __reserved;
};

/* CREDS: followed by ngroups u32 supplementary group ids. */
struct ckpt_creds_rec {
	__u32 uid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 gid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
	__u32 securebits;
	__u32 ngroups;
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_bset;
	__u64 cap_ambient;
};

/* One resource limit. */
struct ckpt_rlimit {
	__u64 cur;
	__u64 max;
};

/* RLIMITS: every RLIMIT_*, indexed by resource number. */
struct ckpt_rlimits_rec {
	struct ckpt_rlimit rlim[CKPT_RLIM_NLIMITS];
};

/*
 * FS: followed by root_len bytes of root path, then cwd_len bytes of
 * cwd path.
 */
struct ckpt_fs_rec {
	__u32 root_len;
	__u32 cwd_len;
	__u32 flags;		/* CKPT_FS_CWD_REMOVED */
	__u32 cwd_mode;		/* a removed working directory's permission bits */
	__u32 cwd_uid;		/* and its owner and group */
	__u32 cwd_gid;
};

/* ckpt_fs_rec.flags: the working directory had been removed; rstr makes an empty one at
 * its path with its mode and owner, enters it and removes it. */
#define CKPT_FS_CWD_REMOVED	1

/* One signal's disposition, as struct k_sigaction (x86-64 layout). */
struct ckpt_sigaction {
	__u64 handler;
	__u64 flags;
	__u64 restorer;
	__u64 mask;
};

/* SIGHAND: the dispositions of signals 1 to 64 (index 0 is signal 1). */
struct ckpt_sighand_rec {
	struct ckpt_sigaction action[CKPT_NSIG];
};

/*
 * SIGNALS: the mask and alternate stack; nr_pending SIGINFO records
 * follow.
 */
struct ckpt_signals_rec {
	__u64 blocked;
	__u64 altstack_sp;
	__u64 altstack_size;
	__u32 altstack_flags;
	__u32 nr_pending;
};

/* SIGINFO: one pending signal. */
struct ckpt_siginfo_rec {
	__u32 shared;
	__u32 __reserved;
	__u8 info[CKPT_SIGINFO_SIZE];
};

/*
 * ITIMERS: a process's timers, with its thread-group leader's records, only
 * if it has some; nr_posix POSIX_TIMER records follow, in increasing id.
 */
struct ckpt_itimers_rec {
	__u64 real_value_ns;	/* ITIMER_REAL: to the next expiry, 0 if disarmed */
	__u64 real_interval_ns;
	__u64 virt_value_ns;	/* ITIMER_VIRTUAL: user CPU time to the next expiry */
	__u64 virt_interval_ns;
	__u64 prof_value_ns;	/* ITIMER_PROF: user and system CPU time to the next expiry */
	__u64 prof_interval_ns;
	__u32 nr_posix;
	__u32 __reserved;
};

/* POSIX_TIMER: one timer_create() timer of the process. */
struct ckpt_posix_timer_rec {
	__s32 id;
	__s32 clock;		/* or a CPU clock: (~pid << 3) | which (| 4: a thread's) */
	__s32 notify;		/* sigev_notify */
	__s32 signo;		/* 1..64; 0 for SIGEV_NONE */
	__s32 tid;		/* SIGEV_THREAD_ID's thread, else 0 */
	__s32 overrun;		/* timer_getoverrun(), restored by ioctl */
	__u64 value;		/* sigev_value */
	__u64 value_ns;		/* to the next expiry, 0 if disarmed */
	__u64 interval_ns;
	__u32 flags;		/* CKPT_POSIX_TIMER_* */
	__u32 __reserved;
};

/* ckpt_posix_timer_rec.flags: it fired, its signal is pending */
#define CKPT_POSIX_TIMER_PENDING	1

/* ckpt_file_rec.kind */
#define CKPT_FILE_REGULAR	1
#define CKPT_FILE_CHARDEV	2
#define CKPT_FILE_DIRECTORY	3
#define CKPT_FILE_PIPE		4
#define CKPT_FILE_UNIX_SOCKET	8
#define CKPT_FILE_EVENTFD	5
#define CKPT_FILE_TIMERFD	6
#define CKPT_FILE_SIGNALFD	7
#define CKPT_FILE_INET_SOCKET	10
#define CKPT_FILE_EPOLL		9
#define CKPT_FILE_FIFO		11
#define CKPT_FILE_DELETED	13
#define CKPT_FILE_MEMFD		12
#define CKPT_FILE_INOTIFY	14
#define CKPT_FILE_REMOVED_DIR	15
#define CKPT_FILE_MQUEUE	16

/* FILE: one file descriptor; followed by path_len bytes of path. */
struct ckpt_file_rec {
	__s32 fd;		/* CKPT_FD_IN_FLIGHT: a description only messages hold */
	__u32 kind;
	__u32 flags;
	__u32 cloexec;
	__s64 pos;
	__u32 mode;
	__u32 rdev;
	__u32 path_len;
	__u32 obj;
	__u32 pipe;
	__u32 __reserved;
};

/*
 * PIPE: a pipe (or FIFO) some descriptor of the image has open, written
 * before the first FILE that refers to it; followed by len bytes: what
 * was buffered in it, unread.
 */
struct ckpt_pipe_rec {
	__u32 id;
	__u32 capacity;
	__u32 len;
	__u32 __reserved;
};

#define CKPT_UNIX_QUEUE_MAX	(1u << 20)
#define CKPT_UNIX_MSGS_MAX	1024
#define CKPT_UNIX_NAME_MAX	108

/* ckpt_unix_sock_rec.state */
#define CKPT_UNIX_STATE_UNCONNECTED	0
#define CKPT_UNIX_STATE_CONNECTED	1
#define CKPT_UNIX_STATE_LISTENING	2
#define CKPT_UNIX_STATE_EMBRYO		3	/* not accepted yet: backlog is its place */

/* ckpt_unix_sock_rec.shutdown */
#define CKPT_UNIX_RCV_SHUTDOWN	1
#define CKPT_UNIX_SEND_SHUTDOWN	2
#define CKPT_UNIX_PASSCRED	1	/* ckpt_unix_sock_rec.flags: SO_PASSCRED on */
#define CKPT_UNIX_PEERCRED	2	/* ckpt_unix_sock_rec.flags: peer credentials held */

/*
 * UNIX_SOCK: a unix domain socket some descriptor of the image has open,
 * written before the first FILE that refers to it; followed by name_len
 * bytes of its bound name (sun_path: an absolute path without its NUL, or
 * an abstract name starting with a NUL), then by nr_skbs SKB records: its
 * receive queue, unread, oldest first.
 */
struct ckpt_unix_sock_rec {
	__u32 id;
	__u32 sock_type;
	__u32 state;
	__u32 peer;
	__u32 shutdown;
	__u32 backlog;
	__u32 sndbuf;
	__u32 rcvbuf;
	__u32 listener;
	__u32 name_len;
	__u32 nr_skbs;
	__u32 flags;		/* CKPT_UNIX_PASSCRED, CKPT_UNIX_PEERCRED */
	__u32 rcvtimeo_ms;	/* SO_RCVTIMEO, ms rounded up, 0: none (appended) */
	__u32 sndtimeo_ms;	/* SO_SNDTIMEO */
	__s32 peer_pid;		/* SO_PEERCRED's pid, tree's pid namespace; 0: none (v10) */
	__u32 peer_uid;		/* with CKPT_UNIX_PEERCRED: its euid and egid */
	__u32 peer_gid;
	__u32 __reserved;
};

/* SKB: one queued message of the UNIX_SOCK before it; followed by len bytes. */
struct ckpt_skb_rec {
	__u32 len;
	__u32 __reserved;
};

/*
 * ckpt_file_rec.fd of a description that only messages of a unix socket's
 * receive queue hold (SCM_RIGHTS): written before the UNIX_SOCK whose
 * messages carry it; a regular file, directory, device or pipe end only.
 */
#define CKPT_FD_IN_FLIGHT	(-1)
#define CKPT_SKB_FDS_MAX	253	/* SCM_MAX_FD */

/*
 * SKB_FDS: the descriptions message skb (an index into the SKB records of
 * socket sock) carries in flight, in the order sent; followed by nr_fds
 * __u32 FILE obj ids. Right after the SKB records of its socket, in
 * increasing skb.
 */
struct ckpt_skb_fds_rec {
	__u32 sock;
	__u32 skb;
	__u32 nr_fds;
	__u32 __reserved;
};

/*
 * EVENTFD: the counter of an eventfd, one record per open file
 * description, written before the first FILE whose obj is id.
 */
struct ckpt_eventfd_rec {
	__u32 id;
	__u32 flags;		/* CKPT_EFD_SEMAPHORE or 0 */
	__u64 count;		/* at most CKPT_EVENTFD_MAX */
};

#define CKPT_EFD_SEMAPHORE		1
#define CKPT_EVENTFD_MAX		0xfffffffffffffffeULL
#define CKPT_TFD_TIMER_ABSTIME		1
#define CKPT_TFD_TIMER_CANCEL_ON_SET	2

/*
 * TIMERFD: a timerfd, one record per open file description, written
 * before the first FILE whose obj is id. value is the time to the next
 * expiration (0: disarmed, or expired and not re-armed until read);
 * now is CLOCK_REALTIME when value was read.
 */
struct ckpt_timerfd_rec {
	__u32 id;
	__u32 clockid;
	__u32 settime_flags;	/* CKPT_TFD_TIMER_ABSTIME or 0 */
	__u32 __reserved;
	__u64 ticks;		/* expirations not yet read */
	__u64 value_sec;
	__u64 value_nsec;
	__u64 interval_sec;
	__u64 interval_nsec;
	__u64 now_sec;
	__u64 now_nsec;
};

/*
 * SIGNALFD: a signalfd, one record per open file description, written
 * before the first FILE whose obj is id.
 */
struct ckpt_signalfd_rec {
	__u32 id;
	__u32 __reserved;
	__u64 mask;		/* bit n - 1 is signal n */
};

/* ckpt_inet_sock_rec.state */
#define CKPT_INET_STATE_CLOSED		0
#define CKPT_INET_STATE_LISTENING	1
#define CKPT_INET_STATE_CONNECTED	2

/* ckpt_inet_sock_rec.flags */
#define CKPT_INET_REUSEADDR	(1u << 0)
#define CKPT_INET_REUSEPORT	(1u << 1)
#define CKPT_INET_KEEPALIVE	(1u << 2)
#define CKPT_INET_BROADCAST	(1u << 3)
#define CKPT_INET_LINGER	(1u << 4)
#define CKPT_INET_V6ONLY	(1u << 5)
#define CKPT_INET_NODELAY	(1u << 6)
#define CKPT_INET_FREEBIND	(1u << 7)
#define CKPT_INET_TRANSPARENT	(1u << 8)
#define CKPT_INET_USER_PORT	(1u << 9)
#define CKPT_INET_USER_ADDR	(1u << 10)
#define CKPT_INET_FLAGS		((1u << 11) - 1)

/*
 * INET_SOCK: a TCP or UDP socket of IPv4 or IPv6, one record per socket,
 * written before the first FILE whose obj is id. Addresses in network
 * byte order (IPv4 in the first 4 bytes), ports in host byte order;
 * options the program did not set are 0 (ttl: -1).
 */
struct ckpt_inet_sock_rec {
	__u32 id;
	__u32 family;		/* AF_INET or AF_INET6 */
	__u32 sock_type;	/* SOCK_STREAM or SOCK_DGRAM */
	__u32 protocol;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u32 state;		/* CKPT_INET_STATE_* */
	__u32 flags;		/* CKPT_INET_* */
	__u32 port;
	__u32 peer_port;
	__u8 addr[16];
	__u8 peer_addr[16];
	__u32 backlog;
	__u32 sndbuf;		/* as getsockopt reads it, 0 if not set */
	__u32 rcvbuf;
	__u32 priority;
	__u32 mark;
	__u32 rcvlowat;
	__u32 linger;		/* seconds, with CKPT_INET_LINGER */
	__u32 tos;
	__s32 ttl;		/* -1: not set */
	__u32 keepidle;
	__u32 keepintvl;
	__u32 keepcnt;
	__u32 defer_accept;	/* seconds */
	__u32 fastopen;
	__u32 rcvtimeo_ms;	/* SO_RCVTIMEO, ms rounded up, 0: none */
	__u32 sndtimeo_ms;	/* SO_SNDTIMEO */
};

/*
 * EPOLL: the interest list of an epoll instance, one record per open file
 * description, written before the first FILE whose obj is id; followed by
 * nr_items struct ckpt_epoll_item.
 */
struct ckpt_epoll_rec {
	__u32 id;
	__u32 nr_items;		/* at most CKPT_EPOLL_ITEMS_MAX */
};

/*
 * One item: the file watched (the obj of the FILE of a descriptor of the table
 * the EPOLL record is saved with: tfd, or another if tfd was closed or replaced
 * since EPOLL_CTL_ADD), the number it was added with (the item's key, with the
 * file), its events as the kernel keeps them and its data.
 */
struct ckpt_epoll_item {
	__u32 obj;
	__s32 tfd;
	__u32 events;
	__u32 __reserved;
	__u64 data;
};

#define CKPT_EPOLL_ITEMS_MAX		65536
#define CKPT_EPOLL_PRIVATE_BITS		0xf0000000

/*
 * INOTIFY: an inotify instance, one record per open file description, written
 * before the first FILE whose obj is id; followed by nr_watches INOTIFY_WATCH
 * records in increasing wd.
 */
struct ckpt_inotify_rec {
	__u32 id;
	__u32 nr_watches;	/* at most CKPT_INOTIFY_WATCHES_MAX */
};

/*
 * INOTIFY_WATCH: one watch; followed by path_len bytes, the watched inode's
 * path from the root of its filesystem (dev, as st_dev encodes it).
 */
struct ckpt_inotify_watch_rec {
	__s32 wd;		/* 1 to CKPT_INOTIFY_WD_MAX */
	__u32 mask;		/* within CKPT_INOTIFY_MASK */
	__u64 ino;
	__u32 dev;
	__u32 path_len;
};

#define CKPT_INOTIFY_WATCHES_MAX	65536
#define CKPT_INOTIFY_WD_MAX		(1u << 20)
#define CKPT_INOTIFY_MASK		0x84000fff

/*
 * XSTATE: followed by size bytes of XSAVE area (standard format, as
 * XSAVE writes it).
 */
struct ckpt_xstate_rec {
	__u64 xstate_bv;
	__u32 size;
	__u32 __reserved;
};

/*
 * MM: the layout fields of the memory descriptor; nr_vmas VMA records
 * follow.
 */
struct ckpt_mm_rec {
	__u64 start_code;
	__u64 end_code;
	__u64 start_data;
	__u64 end_data;
	__u64 start_brk;
	__u64 brk;
	__u64 start_stack;
	__u64 arg_start;
	__u64 arg_end;
	__u64 env_start;
	__u64 env_end;
	__u32 nr_vmas;
	__u32 auxv_words;
	__u64 auxv[CKPT_AUXV_WORDS];
	__u32 exe_vma;
	__u32 flags;
};

/* ckpt_mm_rec.exe_vma of a memory without an executable */
#define CKPT_NO_EXE		0xFFFFFFFFU
/* ckpt_mm_rec.flags: mlockall(MCL_FUTURE) */
#define CKPT_MM_LOCK_FUTURE	1
#define CKPT_VM_LOCKED		0x2000ULL	/* VM_LOCKED in ckpt_vma_rec.vm_flags */
#define CKPT_VM_MAYWRITE	0x20ULL		/* VM_MAYWRITE: a SysV attach without SHM_RDONLY */

/* ckpt_vma_rec.kind */
#define CKPT_VMA_ANON_PRIVATE	1
#define CKPT_VMA_ANON_SHARED	2
#define CKPT_VMA_FILE_PRIVATE	3
#define CKPT_VMA_FILE_SHARED	4
#define CKPT_VMA_HEAP		5
#define CKPT_VMA_STACK		6
#define CKPT_VMA_VDSO		7
#define CKPT_VMA_VVAR		8
#define CKPT_VMA_VVAR_VCLOCK	9
#define CKPT_VMA_VSYSCALL	10
#define CKPT_VMA_SYSV_SHM	11	/* shmat: shm is the SYSV_SHM obj */

/*
 * VMA: one memory area; followed by path_len bytes of path (file mappings
 * only).
 */
struct ckpt_vma_rec {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 vm_flags;
	__u32 prot;
	__u32 kind;
	__u32 path_len;
	__u32 shm;
	__u64 shm_size;
};

/* PAGES: nr_pages pages starting at addr, their contents follow. */
struct ckpt_pages_rec {
	__u64 addr;
	__u32 nr_pages;
	__u32 __reserved;
};

/*
 * PAGES_REF: nr_pages pages starting at addr whose contents were saved earlier in
 * the image, at offset src from its first byte (pages shared copy-on-write with a
 * process saved before).
 */
struct ckpt_pages_ref_rec {
	__u64 addr;
	__u32 nr_pages;
	__u32 __reserved;
	__u64 src;
};

/*
 * REGS: the general registers, as struct user_regs_struct (x86-64), and
 * how the task stood with respect to a system call.
 */
struct ckpt_regs_rec {
	__u64 r15;
	__u64 r14;
	__u64 r13;
	__u64 r12;
	__u64 bp;
	__u64 bx;
	__u64 r11;
	__u64 r10;
	__u64 r9;
	__u64 r8;
	__u64 ax;
	__u64 cx;
	__u64 dx;
	__u64 si;
	__u64 di;
	__u64 orig_ax;
	__u64 ip;
	__u64 cs;
	__u64 flags;
	__u64 sp;
	__u64 ss;
	__u64 fs_base;
	__u64 gs_base;
	__u64 ds;
	__u64 es;
	__u64 fs;
	__u64 gs;
};

/* An unlinked regular file, before its FILE_DATA records and first FILE. */
struct ckpt_deleted_rec {
	__u32 id;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u64 size;
};

/* A directory removed while open (its parent still there), before the first FILE naming
 * it; rstr makes it again empty at its path, opens it and removes it. */
struct ckpt_removed_dir_rec {
	__u32 id;
	__u32 mode;		/* permission bits only */
	__u32 uid;		/* owner, in the checkpointer's user namespace */
	__u32 gid;
};

/* @len bytes of file @id's content at @offset follow; the rest is holes. */
struct ckpt_file_data_rec {
	__u32 id;
	__u32 len;
	__u64 offset;
};

#define CKPT_FILE_DATA_CHUNK	(1u << 20)

/* A memfd, before its FILE_DATA records and first FILE; @name_len bytes of name follow. */
struct ckpt_memfd_rec {
	__u32 id;
	__u32 seals;
	__u32 mode;
	__u32 name_len;
	__u64 size;
};

#define CKPT_MEMFD_NAME_MAX	249

#define CKPT_MAX_CPUS			8192
/* ckpt_task_attrs_rec.flags */
#define CKPT_ATTRS_RESET_ON_FORK	(1U << 0)
#define CKPT_ATTRS_AFFINITY		(1U << 1)
#define CKPT_ATTRS_FLAGS		((1U << 2) - 1)

/*
 * TASK_ATTRS: a thread's scheduling and I/O attributes, after its TASK;
 * @cpus_words __u64 of CPU affinity mask follow.
 */
struct ckpt_task_attrs_rec {
	__u32 policy;
	__u32 rt_priority;
	__u32 flags;
	__u32 ioprio;
	__u32 nr_cpus;
	__u32 cpus_words;
};

/* What a FILE_LOCK record's lock is. */
#define CKPT_LOCK_FLOCK		1
#define CKPT_LOCK_OFD		2
#define CKPT_LOCK_POSIX		3

#define CKPT_LOCK_READ		1
#define CKPT_LOCK_WRITE		2
#define CKPT_LOCK_EOF		0x7fffffffffffffffLL

/*
 * A lock the tree holds, after the FILE records of its descriptor table: through
 * description @obj (open at @fd), bytes @start to @end inclusive (CKPT_LOCK_EOF: to the
 * end of the file); @pid is a POSIX lock's process.
 */
struct ckpt_file_lock_rec {
	__u32 kind;
	__u32 lock_type;
	__u32 obj;
	__s32 fd;
	__s32 pid;
	__u32 __reserved;
	__s64 start;
	__s64 end;
};

/* ckpt_fown_rec.owner_type: F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP */
#define CKPT_FOWN_TYPE_TID	0
#define CKPT_FOWN_TYPE_PID	1
#define CKPT_FOWN_TYPE_PGRP	2

/* ckpt_fown_rec.flags */
#define CKPT_FOWN_ASYNC		(1u << 0)

/*
 * FOWN: owner (F_SETOWN_EX), signal (F_SETSIG) and O_ASYNC of an open file
 * description, right after its first FILE record; pid in the tree's pid
 * namespace (0: none), uid/euid of the setter in the checkpointer's user ns.
 */
struct ckpt_fown_rec {
	__u32 obj;
	__u32 owner_type;
	__s32 pid;
	__u32 uid;
	__u32 euid;
	__s32 signum;
	__u32 flags;
	__u32 __reserved;
};

#endif
