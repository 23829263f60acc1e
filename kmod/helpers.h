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
struct pid_namespace;
struct pt_regs;
struct task_struct;

/* Tasks: the records they fill are those of checkpoint_image.h. */

/* What only a lock tells of state the checkpoint cannot save yet (Rust decides). */
struct ckpt_h_locked {
	u32 posix_timers;	/* timer_create() timers exist */
	u32 itimer_real;	/* ITIMER_REAL armed */
	u32 itimer_cpu;		/* ITIMER_VIRTUAL or ITIMER_PROF armed */
	u32 sem_undo;		/* SysV semaphore undo list in use */
	u32 other_ns;		/* namespaces (but pid) differ from the caller's */
	u32 mdwe;		/* PR_SET_MDWE: memory-deny-write-execute */
	u32 ioprio;		/* ioprio_set: the io_context's priority, else 0 */
	u32 seccomp_mode;	/* task->seccomp.mode */
};

/*
 * What the tree's consistency is decided on, besides a task's ckpt_tree_entry: its
 * state and the addresses of the objects it may share (identity only, never
 * dereferenced by Rust) with their user counts.
 */
struct ckpt_h_tree {
	u32 zombie, group_stopped, subreaper, leader;
	u32 in_ns;		/* its pid namespace and its children's are the tree's */
	u32 ns_init;		/* the init (child reaper) of that namespace */
	u32 nr_threads;
	u32 files_users, fs_users, sighand_users;
	u64 mm, files, fs, sighand;
};

/* What Rust needs to classify a descriptor, besides its ckpt_file_rec fields. */
struct ckpt_h_fd {
	u64 file_id;		/* the struct file's address: identity only */
	u64 pipe_id;		/* an anonymous pipe's pipe_inode_info, else 0 */
	u64 fs_magic;		/* s_magic of its filesystem */
	u32 unlinked;		/* the dentry is deleted */
	u32 internal;		/* on a kernel-internal mount (memfd, shmem, ...) */
	u32 owned;		/* F_SETOWN set an owner */
	s32 owner;		/* its pid (process group: positive too), caller's namespace */
	u32 owner_type;		/* enum pid_type */
	s32 signum;		/* F_SETSIG */
};

/* The pending sets, read under siglock with the queued signals. */
struct ckpt_h_pending {
	u64 private;		/* task->pending.signal */
	u64 shared;		/* task->signal->shared_pending.signal */
};

ssize_t ckpt_helper_kernel_release(char *buf, size_t len);
void ckpt_helper_task_unsupported(struct task_struct *task, struct ckpt_h_locked *out);
void ckpt_helper_task_info(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_task_rec *out);
void ckpt_helper_task_tree(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_tree_entry *entry, struct ckpt_h_tree *out);
int ckpt_helper_task_relatives(struct task_struct *task, struct pid_namespace *ns,
			       s32 *out, u32 max);
int ckpt_helper_task_pipe_data(struct task_struct *task, u32 fd, void *buf, u32 size,
			       u32 *capacity);
void ckpt_helper_task_rlimits(struct task_struct *task, struct ckpt_rlimits_rec *out);
int ckpt_helper_task_fs_path(struct task_struct *task, int pwd, char *buf, int len,
			     u32 *unlinked);
void ckpt_helper_task_sigactions(struct task_struct *task, struct ckpt_sighand_rec *out);
int ckpt_helper_task_signals(struct task_struct *task, struct ckpt_signals_rec *out,
			     struct ckpt_h_pending *pending, struct ckpt_siginfo_rec *infos,
			     u32 max);
int ckpt_helper_task_next_fd(struct task_struct *task, u32 *fd, struct ckpt_file_rec *rec,
			     struct ckpt_h_fd *out, char *path, u32 path_size);
int ckpt_helper_task_regset(struct task_struct *task, u32 note_type, void **data);
u64 ckpt_helper_xfeatures(void);

/* Memory */
struct ckpt_h_mm {
	u64 start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	u64 arg_start, arg_end, env_start, env_end;
	u32 map_count, auxv_words;
	u64 auxv[64];
	u64 vdso;
};

struct ckpt_h_vma {
	u64 start, end, pgoff, vm_flags;
	struct file *file;	/* a reference, or NULL */
	u32 special;		/* CKPT_H_SPECIAL_* */
	u32 shared_anon;	/* MAP_SHARED|MAP_ANONYMOUS (private shmem inode) */
	u64 shm_id;		/* that inode's address (identity only), else 0 */
	u64 shm_size;		/* its size in bytes */
	u32 exe;		/* maps the mm's executable file (/proc/PID/exe) */
	u32 __pad;
};

#define CKPT_H_SPECIAL_NONE		0
#define CKPT_H_SPECIAL_VDSO		1
#define CKPT_H_SPECIAL_VVAR		2
#define CKPT_H_SPECIAL_VVAR_VCLOCK	3
#define CKPT_H_SPECIAL_OTHER		4

#define CKPT_H_PAGE_ZERO	0
#define CKPT_H_PAGE_ANON	1
#define CKPT_H_PAGE_OTHER	2
#define CKPT_H_PAGE_ABSENT	3

struct mm_struct *ckpt_helper_task_mm(struct task_struct *task);
void ckpt_helper_mmput(struct mm_struct *mm);
void ckpt_helper_mm_info(struct mm_struct *mm, struct ckpt_h_mm *out);
int ckpt_helper_mm_vmas(struct mm_struct *mm, struct ckpt_h_vma *out, u32 max);
int ckpt_helper_mm_has_exe(struct mm_struct *mm);
int ckpt_helper_file_path(struct file *file, char *buf, u32 size);
long ckpt_helper_get_pages(struct mm_struct *mm, u64 start, u32 n, struct page **pages);
long ckpt_helper_cached_pages(struct file *file, u64 index, u32 n, struct page **pages);
void ckpt_helper_put_pages(struct page **pages, u32 n);
u32 ckpt_helper_page_kind(struct page *page);

/* Files */
struct file *ckpt_helper_fget(int fd);
void ckpt_helper_fput(struct file *file);
int ckpt_helper_file_readable(struct file *file);
int ckpt_helper_file_is_reg(struct file *file);
int ckpt_helper_file_writable(struct file *file);
ssize_t ckpt_helper_write(struct file *file, const void *buf, size_t len, loff_t *pos);
ssize_t ckpt_helper_write_pages(struct file *file, struct page **pages, u32 n, loff_t *pos);
loff_t ckpt_helper_file_pos(struct file *file);
void ckpt_helper_set_file_pos(struct file *file, loff_t pos);

/* Restart: all of these act on the calling task (current). */
u32 ckpt_helper_auxv_words(void);
u64 ckpt_helper_task_size(void);
struct mm_struct *ckpt_helper_current_mm(void);
struct file *ckpt_helper_open(const char *path, int flags, int *err);
long ckpt_helper_mmap(struct file *file, u64 addr, u64 len, u32 prot, u32 flags, u64 off);
int ckpt_helper_munmap(u64 addr, u64 len);
ssize_t ckpt_helper_read(struct file *file, void *buf, size_t len, loff_t *pos);
ssize_t ckpt_helper_read_user(struct file *file, u64 uaddr, size_t len, loff_t *pos);
int ckpt_helper_poke(u64 addr, const void *buf, u32 len);
int ckpt_helper_set_mm_layout(const struct ckpt_h_mm *m);
int ckpt_helper_set_exe_file(struct file *file);
struct pt_regs *ckpt_helper_current_pt_regs(void);
void ckpt_helper_set_fsbase(u64 base);
u64 ckpt_helper_task_size_max(void);
int ckpt_helper_rseq_sync(void);
struct file *ckpt_helper_shm_create(u64 size, int *err);
void ckpt_helper_get_file(struct file *file);

/* Refusals at checkpoint of what restart could not rebuild. */
int ckpt_helper_file_is_sysv_shm(struct file *file);

#endif
