/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace ABI of /dev/checkpoint, for C programs.
 *
 * The source of truth is uapi/checkpoint.rs; this header mirrors it and
 * userspace/ckptlib/tests/c_header.rs checks that sizes, offsets and
 * constants agree.
 */
#ifndef _UAPI_LINUX_CHECKPOINT_H
#define _UAPI_LINUX_CHECKPOINT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CKPT_ABI_VERSION	9
#define CKPT_IMAGE_VERSION	13
#define CKPT_IOC_MAGIC		0xCB
#define CKPT_DEVICE_NAME	"checkpoint"

#define CKPT_FEATURE_CHECKPOINT	(1ULL << 0)
#define CKPT_FEATURE_RESTART	(1ULL << 1)

struct ckpt_version {
	__u32 abi_version;	/* CKPT_ABI_VERSION of the running module */
	__u32 image_version;	/* CKPT_IMAGE_VERSION of the running module */
	__u64 features;		/* CKPT_FEATURE_* */
	char kernel_release[64];/* uname -r, NUL-terminated */
};

/*
 * Write the image of the tree rooted at @pid to file descriptor @fd. @tasks
 * points to @nr_tasks thread ids: @pid first, then every thread and descendant,
 * each after its parent and its thread-group leader; the caller must be the
 * ptrace tracer of each (zombies excepted) and each must be in a ptrace stop.
 * On failure, the reason is copied, NUL-terminated, to the @reason_len bytes
 * at @reason.
 */
struct ckpt_checkpoint_args {
	__s32 pid;
	__s32 fd;
	__u64 flags;		/* CKPT_CHECKPOINT_* */
	__u64 reason;		/* user pointer */
	__u32 reason_len;
	__u32 nr_tasks;		/* 1..CKPT_MAX_TASKS */
	__u64 tasks;		/* user pointer to __s32[nr_tasks] */
	__s32 log_fd;		/* the module's log, lines of text */
	__u32 log_level;	/* CKPT_LOG_*; 0: @log_fd unused */
	__u64 stats;		/* user pointer to struct ckpt_stats, or 0 */
};

#define CKPT_LOG_NONE	0
#define CKPT_LOG_INFO	1	/* a line per task and per refusal */
#define CKPT_LOG_DEBUG	2	/* and per descriptor and memory area */

/* Figures of a checkpoint, updated by the module after each record. */
struct ckpt_stats {
	__u64 tasks;
	__u64 files;
	__u64 vmas;
	__u64 pages_scanned;
	__u64 pages_written;	/* PAGES */
	__u64 pages_shared;	/* PAGES_REF */
	__u64 records;
	__u64 bytes;
};

#define CKPT_CHECKPOINT_CONTAINER	(1ULL << 0)	/* @pid is a pid namespace's init */
#define CKPT_CHECKPOINT_REFUSE		(1ULL << 1)	/* end the image with @reason */
#define CKPT_CHECKPOINT_TREE_ONLY	(1ULL << 2)	/* HEADER and TREE only */
#define CKPT_CHECKPOINT_CHECK		(1ULL << 3)	/* dry run: every reason, no image */
#define CKPT_MAX_TASKS			(1U << 16)
/* flags bits 32..63: deleted files' content limit in MiB (0: the default) */
#define CKPT_CHECKPOINT_DELETED_MAX_SHIFT	32
#define CKPT_DELETED_MAX_DEFAULT	(64ULL << 20)

#define CKPT_RESTART_MAX_CLOSE	16

/*
 * Become a task of an image (see Documentation/restart.rst), in the restart
 * session of this open file: the module reads the task's records from offset
 * @pos of @fd (MM..REGS, or REGS alone with CKPT_RESTART_SHARED_MM), waits for
 * the session's go, and returns into the restored registers.
 */
struct ckpt_restart_args {
	__s32 fd;
	__s32 err_fd;		/* "OK PID COPIED KEPT\n", or "pid N: reason\n" of a late failure */
	__u64 flags;		/* CKPT_RESTART_* */
	__u64 reason;		/* user pointer, reason of an early failure */
	__u32 reason_len;
	__u32 nr_close;
	__s32 close_fds[CKPT_RESTART_MAX_CLOSE];
	__u64 blocked;		/* signal mask of the restored task */
	__u64 pos;		/* offset of the task's records read by the module */
	__u32 mm_sharers;	/* threads that restart sharing the caller's memory */
	__u32 nr_kept;		/* entries of @kept, at most CKPT_RESTART_MAX_KEPT */
	__u64 kept;		/* user pointer to struct ckpt_area[nr_kept]: private
				 * anonymous areas already in place, kept as they are */
	__s32 log_fd;		/* as ckpt_checkpoint_args */
	__u32 log_level;
	__u32 nr_objs;		/* entries of @objs, at most CKPT_RESTART_MAX_OBJS */
	__u32 nr_shm_at;	/* entries of @shm_at, at most CKPT_RESTART_MAX_SHM_AT */
	__u64 objs;		/* user pointer to struct ckpt_obj_fd[nr_objs]: memfds and
				 * deleted files rstr made, mapped by the areas naming them,
				 * closed after the go */
	__u64 shm_at;		/* user pointer to struct ckpt_shm_at[nr_shm_at]: the
				 * caller's own attaches of the image's SysV segments */
};

/*
 * An entry of ckpt_restart_args.shm_at: the caller attached (shmat) the segment of
 * the image's SYSV_SHM @id at @addr, read-only or not; the module attaches it
 * the same way at each area of the image's that maps it, then detaches the caller's.
 */
struct ckpt_shm_at {
	__u32 id;
	__u32 __reserved;	/* 0 */
	__u64 addr;
};

#define CKPT_RESTART_MAX_SHM_AT	4096

/* An entry of ckpt_restart_args.objs: the image's object @id is open at @fd. */
struct ckpt_obj_fd {
	__u32 id;
	__s32 fd;
};

#define CKPT_RESTART_MAX_OBJS	4096

/* An area of ckpt_restart_args.kept: [start, end). */
struct ckpt_area {
	__u64 start;
	__u64 end;
};

#define CKPT_RESTART_MAX_KEPT	65530

#define CKPT_RESTART_SHARED_MM	(1ULL << 0)	/* another task restores our memory */
#define CKPT_RESTART_STOPPED	(1ULL << 1)	/* stop (SIGSTOP) once the session goes */
#define CKPT_RESTART_PROGRESS	(1ULL << 2)	/* "P PID COPIED\n" lines to err_fd */
#define CKPT_RESTART_PROGRESS_PAGES	256	/* pages between two of them */

/* A restart session: @nr_tasks tasks will call CKPT_IOC_RESTART on this open file. */
struct ckpt_session_args {
	__u32 nr_tasks;
	__u32 flags;		/* 0 */
};

/* Argument of CKPT_IOC_RESTART_PEERS. */
struct ckpt_peers_args {
	__u32 nr_peers;		/* at most CKPT_RESTART_MAX_PEERS */
	__u32 flags;		/* 0 */
	__u64 peers;		/* user pointer to struct ckpt_peer_cred[nr_peers] */
	__u64 reason;		/* buffer for the reason of a refusal */
	__u32 reason_len;
	__u32 __reserved;	/* 0 */
};

/*
 * An entry of ckpt_peers_args.peers: the peer credentials (SO_PEERCRED) of the
 * unix socket at the caller's @fd (or of its connection @embryo - 1 not accepted
 * yet): @pid, a process of the session (0: none), @uid and @gid with CKPT_PEER_CRED.
 */
struct ckpt_peer_cred {
	__s32 fd;
	__u32 embryo;
	__s32 pid;
	__u32 flags;		/* CKPT_PEER_CRED */
	__u32 uid;
	__u32 gid;
};

#define CKPT_PEER_CRED		1
#define CKPT_RESTART_MAX_PEERS	(1 << 20)

/*
 * Argument of CKPT_IOC_RESTART_TIMER: the overrun (timer_getoverrun()) of the caller's
 * process's POSIX timer @id, 0..INT_MAX, until its next signal's delivery.
 */
struct ckpt_timer_args {
	__s32 id;
	__s32 overrun;
	__u32 flags;		/* 0 */
	__u32 __reserved;	/* 0 */
};

#define CKPT_IOC_VERSION	_IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)
#define CKPT_IOC_CHECKPOINT	_IOW(CKPT_IOC_MAGIC, 0x01, struct ckpt_checkpoint_args)
#define CKPT_IOC_RESTART	_IOW(CKPT_IOC_MAGIC, 0x02, struct ckpt_restart_args)
#define CKPT_IOC_RESTART_BEGIN	_IOW(CKPT_IOC_MAGIC, 0x03, struct ckpt_session_args)
#define CKPT_IOC_RESTART_GO	_IO(CKPT_IOC_MAGIC, 0x04)
#define CKPT_IOC_RESTART_PEERS	_IOW(CKPT_IOC_MAGIC, 0x05, struct ckpt_peers_args)
#define CKPT_IOC_RESTART_TIMER	_IOW(CKPT_IOC_MAGIC, 0x06, struct ckpt_timer_args)

#endif /* _UAPI_LINUX_CHECKPOINT_H */
