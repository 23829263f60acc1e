/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers linked into ckpt.ko. They exist only for what the kernel offers
 * as static inline functions, macros or locks that Rust cannot take, and for
 * exported functions whose arguments are built with inline helpers (bvecs,
 * iov_iters). They carry no policy: what is supported and what is refused is
 * decided in Rust. Their only caller is the Rust layer kmod/sys/.
 */
#ifndef CKPT_HELPERS_H
#define CKPT_HELPERS_H

#include <linux/types.h>
#include <linux/checkpoint_image.h>

struct file;
struct mm_struct;
struct page;
struct task_struct;

ssize_t ckpt_helper_kernel_release(char *buf, size_t len);

/* Tasks */
struct ckpt_h_task_state {
	u32 traced_by_current;	/* ptrace-attached by the caller */
	u32 stopped;		/* in a ptrace stop */
	u32 kthread;
	u32 nr_threads;
	u32 is_current;
	u32 has_mm;
};

struct ckpt_h_task {
	s32 pid, tgid, ppid, pgid, sid;
	u32 personality, umask;
	s32 exit_signal;
	u32 dumpable, no_new_privs;
	char comm[16];
	u64 robust_list, robust_list_len, set_child_tid, clear_child_tid;
	u64 vdso_base;
	u64 rseq;
	u32 rseq_len, rseq_sig;
	s32 pdeath_signal, nice;
	u64 timer_slack_ns;
	u32 thp_disable;	/* as PR_GET_THP_DISABLE returns it */
	u32 __reserved;
};

struct ckpt_h_creds {
	u32 uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	u32 securebits, ngroups;
	u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
};

struct ckpt_h_sigaction {
	u64 handler, flags, restorer, mask;
};

struct ckpt_h_signals {
	u64 blocked, altstack_sp, altstack_size;
	u32 altstack_flags, nr_pending;
};

struct ckpt_h_siginfo {
	u32 shared;
	u32 __reserved;
	u8 info[128];
};

struct ckpt_h_file {
	u32 mode;		/* i_mode */
	u32 flags;		/* f_flags */
	s64 pos;
	u32 cloexec;
	u32 rdev;		/* new_encode_dev() */
	u32 unlinked;		/* the dentry is deleted */
	u32 path_len;		/* bytes of path written, no NUL */
	u64 fs_magic;		/* s_magic of its filesystem */
	u64 file_id;		/* the struct file's address: identity only */
	u64 pipe_id;		/* an anonymous pipe's pipe_inode_info, else 0 */
};

/* State the checkpoint cannot save yet, to be refused rather than lost. */
struct ckpt_h_unsupported {
	u32 posix_timers;	/* timer_create() timers exist */
	u32 itimer_real;	/* ITIMER_REAL armed */
	u32 itimer_cpu;		/* ITIMER_VIRTUAL or ITIMER_PROF armed */
	u32 sem_undo;		/* SysV semaphore undo list */
	u32 other_ns;		/* namespaces (but pid) differ from the caller's */
	u32 sched_policy;	/* a policy other than SCHED_NORMAL, or reset-on-fork */
	u32 seccomp;		/* a seccomp mode (strict or filter) */
	u32 mdwe;		/* PR_SET_MDWE: memory-deny-write-execute */
	u32 syscall_dispatch;	/* PR_SET_SYSCALL_USER_DISPATCH on */
	u32 speculation;	/* PR_SET_SPECULATION_CTRL: a task flag set */
	u32 mce_kill;		/* PR_MCE_KILL: a policy of its own */
	u32 io_flusher;		/* PR_SET_IO_FLUSHER */
	u32 notsc;		/* PR_SET_TSC PR_TSC_SIGSEGV */
	u32 ioprio;		/* ioprio_set: an I/O priority of its own */
};

/*
 * A task's place in the tree and the addresses of the objects it may share
 * (identity only, never dereferenced by Rust). Pids are in the namespace of
 * the ns_task given to the helper (the caller's if NULL).
 */
struct ckpt_h_tree {
	s32 pid, tgid, ppid, pgid, sid;
	u32 zombie, group_stopped, subreaper, leader;
	s32 exit_code, exit_signal;
	u32 in_ns;		/* its pid namespace and its children's are that one */
	u32 ns_init;		/* the init (child reaper) of that namespace */
	u32 nr_threads;
	u64 mm, files, fs, sighand;
	u32 files_users, fs_users, sighand_users, __pad;
};

struct task_struct *ckpt_helper_get_task(pid_t vpid);
void ckpt_helper_task_unsupported(struct task_struct *task, struct ckpt_h_unsupported *out);
void ckpt_helper_put_task(struct task_struct *task);
void ckpt_helper_task_state(struct task_struct *task, struct ckpt_h_task_state *out);
int ckpt_helper_task_info(struct task_struct *task, struct task_struct *ns_task,
			  struct ckpt_h_task *out);
int ckpt_helper_task_tree(struct task_struct *task, struct task_struct *ns_task,
			  struct ckpt_h_tree *out);
int ckpt_helper_task_relatives(struct task_struct *task, struct task_struct *ns_task,
			       s32 *out, u32 max);
int ckpt_helper_task_pipe_data(struct task_struct *task, u32 fd, void *buf, u32 size,
			       u32 *capacity);
int ckpt_helper_task_creds(struct task_struct *task, struct ckpt_h_creds *out,
			   u32 *groups, u32 max_groups);
void ckpt_helper_task_rlimits(struct task_struct *task, u64 *cur_max, u32 n);
int ckpt_helper_task_fs_path(struct task_struct *task, int pwd, char *buf, int len);
void ckpt_helper_task_sigactions(struct task_struct *task, struct ckpt_h_sigaction *out,
				 u32 n);
int ckpt_helper_task_signals(struct task_struct *task, struct ckpt_h_signals *out,
			     struct ckpt_h_siginfo *infos, u32 max);
int ckpt_helper_task_next_fd(struct task_struct *task, u32 *fd, struct ckpt_h_file *out,
			     char *path, u32 path_size);
int ckpt_helper_task_regset(struct task_struct *task, u32 note_type, void **data);
void ckpt_helper_kfree(const void *p);
u64 ckpt_helper_xfeatures(void);
u64 ckpt_helper_time_ns(void);

/* Memory */
/*
 * What ckpt_helper_mm_vmas tells of an area beside its VMA record, in which
 * it fills start, end, pgoff, vm_flags and shm_size.
 */
struct ckpt_h_vma_extra {
	struct file *file;	/* a reference, or NULL */
	u64 shm_id;		/* MAP_SHARED|MAP_ANONYMOUS (a private shmem inode):
				 * that inode's address (identity only), else 0 */
	u32 exe;		/* maps the mm's executable file (/proc/PID/exe) */
	u32 named;		/* vm_ops->name() gave a name (special mappings) */
	char name[24];		/* that name, NUL-terminated, truncated */
};

/* ckpt_helper_page_flags() */
#define CKPT_H_PAGE_ZERO	1	/* the zero page or the huge zero folio */
#define CKPT_H_PAGE_ANON	2	/* PageAnon() */

int ckpt_helper_mm_vmas(struct mm_struct *mm, struct ckpt_vma_rec *recs,
			struct ckpt_h_vma_extra *extra, u32 max);
long ckpt_helper_get_pages(struct mm_struct *mm, u64 start, u32 n, struct page **pages);
long ckpt_helper_cached_pages(struct file *file, u64 index, u32 n, struct page **pages);
void ckpt_helper_put_pages(struct page **pages, u32 n);
u32 ckpt_helper_page_flags(struct page *page);

/* Restart: all of these act on the calling task (current). */
struct ckpt_h_regs {		/* struct user_regs_struct */
	u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	u64 orig_ax, ip, cs, flags, sp, ss, fs_base, gs_base, ds, es, fs, gs;
};

u64 ckpt_helper_task_size(void);
int ckpt_helper_set_regs(const struct ckpt_h_regs *r);
int ckpt_helper_set_mm_layout(const struct ckpt_mm_rec *m);
int ckpt_helper_set_exe_file(struct file *file);
int ckpt_helper_set_blocked(u64 mask);
int ckpt_helper_rseq_sync(void);
int ckpt_helper_close_fd(int fd);
void ckpt_helper_kill_self(void);
void ckpt_helper_stop_self(void);
struct file *ckpt_helper_shm_create(u64 size);
struct task_struct *ckpt_helper_get_current(void);
void ckpt_helper_get_task_ref(struct task_struct *task);
int ckpt_helper_task_exiting(struct task_struct *task);
int ckpt_helper_fatal_signal_pending(void);
void ckpt_helper_sleep_killable_ms(u32 ms);

/* Refusals at checkpoint of what restart could not rebuild. */
struct ckpt_h_fd_extra {
	u32 internal;		/* on a kernel-internal mount (memfd, shmem, ...) */
	u32 owned;		/* F_SETOWN set an owner */
	s32 owner;		/* its pid (process group: positive too), caller's namespace */
	u32 owner_type;		/* enum pid_type */
	s32 signum;		/* F_SETSIG */
	u32 __pad;
};

int ckpt_helper_task_fd_extra(struct task_struct *task, u32 fd, struct ckpt_h_fd_extra *out);
int ckpt_helper_task_fs_unlinked(struct task_struct *task, int pwd);
int ckpt_helper_file_is_sysv_shm(struct file *file);

#endif
