// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for the Rust side of ckpt.ko: see helpers.h. Each one wraps
 * static inline functions, macros or locking that Rust cannot reach, and
 * copies what it reads into a flat struct. No decisions are taken here.
 */
#include <linux/bvec.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/hrtimer.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/prctl.h>
#include <linux/highmem.h>
#include <linux/time_namespace.h>
#include <uapi/linux/magic.h>
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/futex.h>
#include <linux/sched/exec_state.h>
#include <linux/seccomp.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/utsname.h>
#include <asm/fpu/xcr.h>
#include <asm/fsgsbase.h>
#include <asm/ptrace.h>
#include <asm/segment.h>
#include <linux/sched/task_stack.h>

#include "helpers.h"

/* The helpers fill image records of uapi/image.rs: the layouts must agree. */
static_assert(sizeof(struct ckpt_h_task) == 136);
static_assert(sizeof(struct ckpt_h_unsupported) == 56);
static_assert(sizeof(struct ckpt_h_creds) == 80);
static_assert(sizeof(struct ckpt_h_sigaction) == 32);
static_assert(sizeof(struct ckpt_h_signals) == 32);
static_assert(sizeof(struct ckpt_h_siginfo) == 136);
static_assert(sizeof(struct ckpt_h_file) == 56);
static_assert(sizeof(struct ckpt_h_tree) == 104);
static_assert(sizeof(struct ckpt_h_regs) == 27 * 8);
static_assert(sizeof(struct ckpt_h_vma_extra) == 48);

/* utsname() is a static inline reading current->nsproxy. */
ssize_t ckpt_helper_kernel_release(char *buf, size_t len)
{
	return strscpy(buf, utsname()->release, len);
}

/* ---- Tasks ---------------------------------------------------------- */

static struct sighand_struct *lock_sighand(struct task_struct *task);

struct task_struct *ckpt_helper_get_task(pid_t vpid)
{
	struct pid *pid = find_get_pid(vpid);
	struct task_struct *task;

	if (!pid)
		return NULL;
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return task;
}

void ckpt_helper_put_task(struct task_struct *task)
{
	put_task_struct(task);
}

void ckpt_helper_task_state(struct task_struct *task, struct ckpt_h_task_state *out)
{
	rcu_read_lock();
	out->traced_by_current = ptrace_parent(task) == current;
	rcu_read_unlock();
	out->stopped = task_is_traced(task);
	out->kthread = !!(task->flags & PF_KTHREAD);
	out->nr_threads = get_nr_threads(task);
	out->is_current = task == current;
	out->has_mm = READ_ONCE(task->mm) != NULL;
}

#ifdef CONFIG_SYSVIPC
/*
 * Private to ipc/sem.c: to tell an undo list in use from the empty one every
 * CLONE_SYSVSEM thread creation allocates. The definition is taken from the
 * kernel's ipc/sem.c at build time (Kbuild), not mirrored by hand.
 */
#include "sem_undo_list.h"
#endif

void ckpt_helper_task_unsupported(struct task_struct *task, struct ckpt_h_unsupported *out)
{
	struct sighand_struct *sighand = lock_sighand(task);
	struct signal_struct *sig = task->signal;
	struct nsproxy *a, *b;

	memset(out, 0, sizeof(*out));
	if (sighand) {
		out->posix_timers = !hlist_empty(&sig->posix_timers) ||
				    !hlist_empty(&sig->ignored_posix_timers);
		out->itimer_real = hrtimer_active(&sig->real_timer);
		out->itimer_cpu = sig->it[0].expires || sig->it[1].expires;
		spin_unlock_irq(&sighand->siglock);
	}
	task_lock(task);
#ifdef CONFIG_SYSVIPC
	if (task->sysvsem.undo_list) {
		struct sem_undo_list *u = task->sysvsem.undo_list;

		spin_lock(&u->lock);
		out->sem_undo = !list_empty(&u->list_proc);
		spin_unlock(&u->lock);
	}
#endif
	out->mdwe = task->mm && mm_flags_test(MMF_HAS_MDWE, task->mm);
	out->ioprio = task->io_context && task->io_context->ioprio;
	/* The pid namespace is checked on its own (ckpt_helper_task_tree). */
	a = task->nsproxy;
	b = current->nsproxy;
	out->other_ns = !a || a->uts_ns != b->uts_ns || a->ipc_ns != b->ipc_ns ||
			a->mnt_ns != b->mnt_ns || a->net_ns != b->net_ns ||
			a->cgroup_ns != b->cgroup_ns
#ifdef CONFIG_TIME_NS
			|| a->time_ns != b->time_ns
#endif
			;
	task_unlock(task);
	out->sched_policy = task->policy != SCHED_NORMAL || task->sched_reset_on_fork;
#ifdef CONFIG_SECCOMP
	out->seccomp = READ_ONCE(task->seccomp.mode) != SECCOMP_MODE_DISABLED;
#endif
#ifdef CONFIG_SYSCALL_USER_DISPATCH
	out->syscall_dispatch = test_task_syscall_work(task, SYSCALL_USER_DISPATCH);
#endif
	out->speculation = task_spec_ssb_disable(task) || task_spec_ssb_noexec(task) ||
			   task_spec_ssb_force_disable(task) || task_spec_ib_disable(task) ||
			   task_spec_ib_force_disable(task) ||
			   test_tsk_thread_flag(task, TIF_SPEC_L1D_FLUSH);
	out->mce_kill = !!(task->flags & PF_MCE_PROCESS);
	out->io_flusher = !!(task->flags & (PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE));
	out->notsc = test_tsk_thread_flag(task, TIF_NOTSC);
}

/*
 * The pid namespace of @ns_task (of current if NULL), counted: put_pid_ns()
 * it. NULL once @ns_task is reaped (its pid is detached): its namespace may be
 * gone with it.
 */
static struct pid_namespace *get_ns_of(struct task_struct *ns_task)
{
	struct pid_namespace *ns;

	rcu_read_lock();
	ns = task_active_pid_ns(ns_task ? ns_task : current);
	if (ns && !ns_ref_get(ns))
		ns = NULL;
	rcu_read_unlock();
	return ns;
}

int ckpt_helper_task_tree(struct task_struct *task, struct task_struct *ns_task,
			  struct ckpt_h_tree *out)
{
	struct pid_namespace *ns = get_ns_of(ns_task);
	struct sighand_struct *sighand;

	memset(out, 0, sizeof(*out));
	if (!ns)
		return -ESRCH;
	out->pid = task_pid_nr_ns(task, ns);
	out->tgid = task_tgid_nr_ns(task, ns);
	rcu_read_lock();
	out->ppid = task_tgid_nr_ns(rcu_dereference(task->real_parent), ns);
	rcu_read_unlock();
	out->pgid = task_pgrp_nr_ns(task, ns);
	out->sid = task_session_nr_ns(task, ns);
	out->zombie = READ_ONCE(task->exit_state) == EXIT_ZOMBIE;
	out->leader = thread_group_leader(task);
	out->exit_code = READ_ONCE(task->exit_code);
	out->exit_signal = task->exit_signal;
	out->nr_threads = get_nr_threads(task);
	out->ns_init = ns->child_reaper == task;
	sighand = lock_sighand(task);
	if (sighand) {
		out->group_stopped = !!(task->signal->flags & SIGNAL_STOP_STOPPED);
		out->subreaper = task->signal->is_child_subreaper;
		out->sighand = (unsigned long)sighand;
		out->sighand_users = refcount_read(&sighand->count);
		spin_unlock_irq(&sighand->siglock);
	}
	task_lock(task);
	out->in_ns = task_active_pid_ns(task) == ns &&
		     (!task->nsproxy || task->nsproxy->pid_ns_for_children == ns);
	out->mm = (unsigned long)task->mm;
	out->files = (unsigned long)task->files;
	if (task->files)
		out->files_users = atomic_read(&task->files->count);
	out->fs = (unsigned long)task->fs;
	if (task->fs)
		out->fs_users = READ_ONCE(task->fs->users);
	task_unlock(task);
	put_pid_ns(ns);
	return 0;
}

/*
 * The thread ids of @task's children and, for a thread-group leader, of its
 * other threads; -E2BIG if there are more than @max. The tasks of a tree being
 * checkpointed are all stopped, so these cannot change under us but for a
 * child's exit (which leaves a zombie in place) or reaping by an outside
 * reaper (then the child was not ours to save).
 *
 * @task->children is protected by tasklist_lock, which modules cannot take:
 * the children are found instead among the pids of the namespace, under RCU,
 * as the thread-group leaders whose real parent is @task (exactly the members
 * of that list). Children in a namespace below @ns have pids in it too.
 */
int ckpt_helper_task_relatives(struct task_struct *task, struct task_struct *ns_task,
			       s32 *out, u32 max)
{
	struct pid_namespace *ns = get_ns_of(ns_task);
	struct task_struct *t;
	struct pid *pid;
	u32 n = 0;
	int nr, ret = 0;

	if (!ns)
		return -ESRCH;
	rcu_read_lock();
	for (nr = 1; (pid = find_ge_pid(nr, ns)); nr = pid_nr_ns(pid, ns) + 1) {
		t = pid_task(pid, PIDTYPE_PID);
		if (!t || !thread_group_leader(t) || rcu_access_pointer(t->real_parent) != task)
			continue;
		if (n == max) {
			ret = -E2BIG;
			goto out;
		}
		out[n++] = pid_nr_ns(pid, ns);
	}
	if (thread_group_leader(task)) {
		for_each_thread(task, t) {
			if (t == task)
				continue;
			if (n == max) {
				ret = -E2BIG;
				goto out;
			}
			out[n++] = task_pid_nr_ns(t, ns);
		}
	}
out:
	rcu_read_unlock();
	put_pid_ns(ns);
	return ret ? ret : n;
}

/* What is buffered in the anonymous pipe at @task's @fd, unread; -E2BIG if over @size. */
int ckpt_helper_task_pipe_data(struct task_struct *task, u32 fd, void *buf, u32 size,
			       u32 *capacity)
{
	unsigned int n = fd, tail;
	struct pipe_inode_info *pipe;
	struct file *file;
	u32 len = 0;
	int ret = 0;

	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	if (n != fd || file_inode(file)->i_sb->s_magic != PIPEFS_MAGIC ||
	    !file_inode(file)->i_pipe) {
		fput(file);
		return -EINVAL;
	}
	pipe = file_inode(file)->i_pipe;
	pipe_lock(pipe);
	*capacity = pipe->max_usage * PAGE_SIZE;
	for (tail = pipe->tail; tail != pipe->head; tail++) {
		struct pipe_buffer *b = pipe_buf(pipe, tail);
		void *p;

		if (b->len > size - len) {
			ret = -E2BIG;
			break;
		}
		p = kmap_local_page(b->page);
		memcpy(buf + len, p + b->offset, b->len);
		kunmap_local(p);
		len += b->len;
	}
	pipe_unlock(pipe);
	fput(file);
	return ret ? ret : len;
}

int ckpt_helper_task_info(struct task_struct *task, struct task_struct *ns_task,
			  struct ckpt_h_task *out)
{
	struct pid_namespace *ns = get_ns_of(ns_task);
	const struct task_exec_state *es;

	memset(out, 0, sizeof(*out));
	if (!ns)
		return -ESRCH;
	out->pid = task_pid_nr_ns(task, ns);
	out->tgid = task_tgid_nr_ns(task, ns);
	rcu_read_lock();
	out->ppid = task_ppid_nr_ns(task, ns);
	rcu_read_unlock();
	out->pgid = task_pgrp_nr_ns(task, ns);
	out->sid = task_session_nr_ns(task, ns);
	out->personality = task->personality;
	out->exit_signal = task->exit_signal;
	out->no_new_privs = task_no_new_privs(task);
	get_task_comm(out->comm, task);
	task_lock(task);
	if (task->fs)
		out->umask = task->fs->umask;
	if (task->mm) {
		out->vdso_base = (unsigned long)task->mm->context.vdso;
		if (mm_flags_test(MMF_DISABLE_THP_COMPLETELY, task->mm))
			out->thp_disable = 1;
		else if (mm_flags_test(MMF_DISABLE_THP_EXCEPT_ADVISED, task->mm))
			out->thp_disable = 1 | PR_THP_DISABLE_EXCEPT_ADVISED;
	}
	task_unlock(task);
	/*
	 * task_exec_state_get_dumpable() is not exported, but the state it reads is
	 * in a public header: the same RCU read of task->exec_state.
	 */
	out->dumpable = U32_MAX;
	rcu_read_lock();
	es = rcu_dereference(task->exec_state);
	if (es)
		out->dumpable = READ_ONCE(es->dumpable);
	rcu_read_unlock();
	/* Written under tasklist_lock by prctl(); a stopped task does not change it. */
	out->pdeath_signal = READ_ONCE(task->pdeath_signal);
	out->nice = task_nice(task);
	out->timer_slack_ns = task->timer_slack_ns;
#ifdef CONFIG_FUTEX
	out->robust_list = (unsigned long)task->futex.robust_list;
	out->robust_list_len = task->futex.robust_list ? sizeof(struct robust_list_head) : 0;
#endif
#ifdef CONFIG_RSEQ
	out->rseq = (unsigned long)task->rseq.usrptr;
	out->rseq_len = task->rseq.len;
	out->rseq_sig = task->rseq.sig;
#endif
	out->set_child_tid = (unsigned long)task->set_child_tid;
	out->clear_child_tid = (unsigned long)task->clear_child_tid;
	put_pid_ns(ns);
	return 0;
}

int ckpt_helper_task_creds(struct task_struct *task, struct ckpt_h_creds *out,
			   u32 *groups, u32 max_groups)
{
	const struct cred *c = get_task_cred(task);
	struct user_namespace *ns = current_user_ns();
	int i, n = c->group_info->ngroups;

	out->uid = from_kuid_munged(ns, c->uid);
	out->euid = from_kuid_munged(ns, c->euid);
	out->suid = from_kuid_munged(ns, c->suid);
	out->fsuid = from_kuid_munged(ns, c->fsuid);
	out->gid = from_kgid_munged(ns, c->gid);
	out->egid = from_kgid_munged(ns, c->egid);
	out->sgid = from_kgid_munged(ns, c->sgid);
	out->fsgid = from_kgid_munged(ns, c->fsgid);
	out->securebits = c->securebits;
	out->ngroups = n;
	out->cap_inheritable = c->cap_inheritable.val;
	out->cap_permitted = c->cap_permitted.val;
	out->cap_effective = c->cap_effective.val;
	out->cap_bset = c->cap_bset.val;
	out->cap_ambient = c->cap_ambient.val;
	if (n > max_groups) {
		put_cred(c);
		return -E2BIG;
	}
	for (i = 0; i < n; i++)
		groups[i] = from_kgid_munged(ns, c->group_info->gid[i]);
	put_cred(c);
	return n;
}

void ckpt_helper_task_rlimits(struct task_struct *task, u64 *cur_max, u32 n)
{
	u32 i;

	task_lock(task->group_leader);
	for (i = 0; i < n && i < RLIM_NLIMITS; i++) {
		cur_max[2 * i] = task->signal->rlim[i].rlim_cur;
		cur_max[2 * i + 1] = task->signal->rlim[i].rlim_max;
	}
	task_unlock(task->group_leader);
}

/* d_path() writes at the end of the buffer: move the string to its start. */
static int path_to_buf(const struct path *path, char *buf, u32 size)
{
	char *s = d_path(path, buf, size);
	size_t len;

	if (IS_ERR(s))
		return PTR_ERR(s);
	len = strlen(s);
	memmove(buf, s, len + 1);
	return len;
}

/* @task's working directory (@pwd) or root, referenced into @path. */
static int task_fs_get(struct task_struct *task, int pwd, struct path *path)
{
	task_lock(task);
	if (!task->fs) {
		task_unlock(task);
		return -ENOENT;
	}
	if (pwd)
		get_fs_pwd(task->fs, path);
	else
		get_fs_root(task->fs, path);
	task_unlock(task);
	return 0;
}

int ckpt_helper_task_fs_path(struct task_struct *task, int pwd, char *buf, int len)
{
	struct path path;
	int ret = task_fs_get(task, pwd, &path);

	if (ret)
		return ret;
	ret = path_to_buf(&path, buf, len);
	path_put(&path);
	return ret;
}

/* lock_task_sighand() without its out-of-line, unexported half. */
static struct sighand_struct *lock_sighand(struct task_struct *task)
{
	struct sighand_struct *sighand;

	rcu_read_lock();
	for (;;) {
		sighand = rcu_dereference(task->sighand);
		if (!sighand)
			break;
		spin_lock_irq(&sighand->siglock);
		if (likely(sighand == rcu_access_pointer(task->sighand)))
			break;
		spin_unlock_irq(&sighand->siglock);
	}
	rcu_read_unlock();
	return sighand;
}

void ckpt_helper_task_sigactions(struct task_struct *task, struct ckpt_h_sigaction *out,
				 u32 n)
{
	struct sighand_struct *sighand = lock_sighand(task);
	u32 i;

	memset(out, 0, n * sizeof(*out));
	if (!sighand)
		return;
	for (i = 0; i < n && i < _NSIG; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		out[i].handler = (unsigned long)sa->sa_handler;
		out[i].flags = sa->sa_flags;
		out[i].restorer = (unsigned long)sa->sa_restorer;
		out[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irq(&sighand->siglock);
}

static int collect_pending(struct sigpending *pend, u32 shared,
			   struct ckpt_h_siginfo *infos, u32 max, u32 *count)
{
	struct sigqueue *q;
	sigset_t seen;
	siginfo_t si;
	int sig;

	sigemptyset(&seen);
	list_for_each_entry(q, &pend->list, list) {
		if (*count >= max)
			return -E2BIG;
		copy_siginfo_to_external(&si, &q->info);
		BUILD_BUG_ON(sizeof(si) != sizeof(infos[0].info));
		memcpy(infos[*count].info, &si, sizeof(si));
		infos[*count].shared = shared;
		(*count)++;
		sigaddset(&seen, q->info.si_signo);
	}
	/* A signal can be pending without a queue entry (allocation failed). */
	for (sig = 1; sig <= _NSIG; sig++) {
		if (!sigismember(&pend->signal, sig) || sigismember(&seen, sig))
			continue;
		if (*count >= max)
			return -E2BIG;
		memset(&si, 0, sizeof(si));
		si.si_signo = sig;
		si.si_code = SI_KERNEL;
		memcpy(infos[*count].info, &si, sizeof(si));
		infos[*count].shared = shared;
		(*count)++;
	}
	return 0;
}

int ckpt_helper_task_signals(struct task_struct *task, struct ckpt_h_signals *out,
			     struct ckpt_h_siginfo *infos, u32 max)
{
	struct sighand_struct *sighand = lock_sighand(task);
	u32 count = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!sighand)
		return -ESRCH;
	out->blocked = task->blocked.sig[0];
	out->altstack_sp = task->sas_ss_sp;
	out->altstack_size = task->sas_ss_size;
	out->altstack_flags = task->sas_ss_flags;
	ret = collect_pending(&task->pending, 0, infos, max, &count);
	if (!ret)
		ret = collect_pending(&task->signal->shared_pending, 1, infos, max, &count);
	spin_unlock_irq(&sighand->siglock);
	out->nr_pending = count;
	return ret ? ret : count;
}

int ckpt_helper_task_next_fd(struct task_struct *task, u32 *fd, struct ckpt_h_file *out,
			     char *path, u32 path_size)
{
	struct files_struct *files;
	struct inode *inode;
	struct file *file;
	unsigned int n = *fd;
	int len;

	file = fget_task_next(task, &n);
	if (!file)
		return 0;
	*fd = n;
	inode = file_inode(file);
	memset(out, 0, sizeof(*out));
	out->mode = inode->i_mode;
	out->flags = file->f_flags;
	out->pos = file->f_pos;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		out->rdev = new_encode_dev(inode->i_rdev);
	out->unlinked = d_unlinked(file->f_path.dentry);
	out->fs_magic = inode->i_sb->s_magic;
	out->file_id = (unsigned long)file;
	if (out->fs_magic == PIPEFS_MAGIC)
		out->pipe_id = (unsigned long)inode->i_pipe;
	task_lock(task);
	files = task->files;
	if (files) {
		rcu_read_lock();
		out->cloexec = close_on_exec(n, files);
		rcu_read_unlock();
	}
	task_unlock(task);
	len = path_to_buf(&file->f_path, path, path_size);
	fput(file);
	if (len < 0)
		return len;
	out->path_len = len;
	return 1;
}

int ckpt_helper_task_regset(struct task_struct *task, u32 note_type, void **data)
{
	const struct user_regset_view *view = task_user_regset_view(task);
	unsigned int i;

	for (i = 0; i < view->n; i++) {
		const struct user_regset *r = &view->regsets[i];

		if (r->core_note_type == note_type)
			return regset_get_alloc(task, r, r->n * r->size, data);
	}
	return -ENODEV;
}

void ckpt_helper_kfree(const void *p)
{
	kfree(p);
}

u64 ckpt_helper_xfeatures(void)
{
	if (!boot_cpu_has(X86_FEATURE_OSXSAVE))
		return 0;
	return xgetbv(XCR_XFEATURE_ENABLED_MASK);
}

u64 ckpt_helper_time_ns(void)
{
	return ktime_get_real_ns();
}

/* ---- Memory --------------------------------------------------------- */

/*
 * Lists @mm's areas into @recs (the fields of the VMA record the kernel
 * knows, the others 0) and beside them into @extra. The caller holds the mmap
 * read lock. -E2BIG if there are more than @max (no reference is then held).
 */
int ckpt_helper_mm_vmas(struct mm_struct *mm, struct ckpt_vma_rec *recs,
			struct ckpt_h_vma_extra *extra, u32 max)
{
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);
	struct file *exe;
	u32 n = 0, i;

	mmap_assert_locked(mm);
	/* Replaced only under the mmap write lock (replace_mm_exe_file): stable here. */
	exe = rcu_dereference_raw(mm->exe_file);
	for_each_vma(vmi, vma) {
		struct file *f = vma->vm_file;
		struct ckpt_h_vma_extra *x;
		struct ckpt_vma_rec *r;
		const char *name = NULL;

		if (n == max) {
			for (i = 0; i < n; i++)
				if (extra[i].file)
					fput(extra[i].file);
			return -E2BIG;
		}
		r = memset(&recs[n], 0, sizeof(*r));
		x = memset(&extra[n], 0, sizeof(*x));
		r->start = vma->vm_start;
		r->end = vma->vm_end;
		r->pgoff = vma->vm_pgoff;
		r->vm_flags = vma->vm_flags;
		if (vma->vm_ops && vma->vm_ops->name)
			name = vma->vm_ops->name(vma);
		if (name) {
			x->named = 1;
			strscpy(x->name, name, sizeof(x->name));
		}
		if (f) {
			x->file = get_file(f);
			if (shmem_file(f) && IS_PRIVATE(file_inode(f))) {
				x->shm_id = (unsigned long)file_inode(f);
				r->shm_size = i_size_read(file_inode(f));
			}
			/* The path users see: on overlayfs vm_file is the backing file. */
			x->exe = exe && path_equal(file_user_path(f), file_user_path(exe));
		}
		n++;
	}
	return n;
}

long ckpt_helper_get_pages(struct mm_struct *mm, u64 start, u32 n, struct page **pages)
{
	int locked = 1;
	long ret;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	ret = get_user_pages_remote(mm, start, n, FOLL_FORCE, pages, &locked);
	if (locked)
		mmap_read_unlock(mm);
	return ret;
}

void ckpt_helper_put_pages(struct page **pages, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (pages[i])
			put_page(pages[i]);
}

/*
 * The pages of @file's page cache from @index on, without allocating anything
 * for a hole: a hole is NULL. A shmem page that is out in swap (a value entry
 * in the cache) or not up to date is read in, as a read(2) of the file would:
 * its contents exist, only not in memory. -errno if such a read fails (no page
 * is then held).
 */
long ckpt_helper_cached_pages(struct file *file, u64 index, u32 n, struct page **pages)
{
	struct address_space *mapping = file->f_mapping;
	u32 i;

	for (i = 0; i < n; i++) {
		struct folio *folio = filemap_get_folio(mapping, index + i);
		bool read;

		if (!IS_ERR(folio) && folio_test_uptodate(folio)) {
			pages[i] = folio_file_page(folio, index + i);
			continue;
		}
		if (!IS_ERR(folio)) {
			folio_put(folio);
			read = true;
		} else {
			read = xa_is_value(xa_load(&mapping->i_pages, index + i));
		}
		pages[i] = NULL;
		if (!read || !shmem_mapping(mapping))
			continue;
		folio = shmem_read_folio_gfp(mapping, index + i, mapping_gfp_mask(mapping));
		if (IS_ERR(folio)) {
			ckpt_helper_put_pages(pages, i);
			return PTR_ERR(folio);
		}
		pages[i] = folio_file_page(folio, index + i);
	}
	return n;
}

/* What @page is, as CKPT_H_PAGE_* bits. */
u32 ckpt_helper_page_flags(struct page *page)
{
	u32 flags = 0;

	if (is_zero_page(page) || is_huge_zero_folio(page_folio(page)))
		flags |= CKPT_H_PAGE_ZERO;
	if (PageAnon(page))
		flags |= CKPT_H_PAGE_ANON;
	return flags;
}

/* ---- Restart (the calling task) --------------------------------------- */

u64 ckpt_helper_task_size(void)
{
	return TASK_SIZE;
}

#define CKPT_FLAG_MASK (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
			X86_EFLAGS_SF | X86_EFLAGS_TF | X86_EFLAGS_DF | X86_EFLAGS_OF | \
			X86_EFLAGS_RF | X86_EFLAGS_AC | X86_EFLAGS_NT)

/*
 * Installs saved registers as the state the current task returns to from
 * this system call, with the checks ptrace's putreg() makes: user code and
 * stack selectors, user-changeable flags only, bases below TASK_SIZE_MAX.
 * orig_ax becomes -1: the caller has already decided about syscall restart.
 */
int ckpt_helper_set_regs(const struct ckpt_h_regs *r)
{
	struct pt_regs *regs = task_pt_regs(current);

	if (r->cs != __USER_CS || r->ss != __USER_DS)
		return -EINVAL;
	if ((r->ds && r->ds != __USER_DS) || (r->es && r->es != __USER_DS))
		return -EINVAL;
	if (r->fs || r->gs)
		return -EINVAL;
	if (r->fs_base >= TASK_SIZE_MAX || r->gs_base)
		return -EINVAL;

	regs->r15 = r->r15;
	regs->r14 = r->r14;
	regs->r13 = r->r13;
	regs->r12 = r->r12;
	regs->bp = r->bp;
	regs->bx = r->bx;
	regs->r11 = r->r11;
	regs->r10 = r->r10;
	regs->r9 = r->r9;
	regs->r8 = r->r8;
	regs->ax = r->ax;
	regs->cx = r->cx;
	regs->dx = r->dx;
	regs->si = r->si;
	regs->di = r->di;
	regs->orig_ax = -1;
	regs->ip = r->ip;
	regs->sp = r->sp;
	regs->flags = (regs->flags & ~CKPT_FLAG_MASK) | (r->flags & CKPT_FLAG_MASK);

	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(r->fs_base);
	current->thread.fsbase = r->fs_base;
	current->thread.fsindex = 0;
	preempt_enable();
	return 0;
}

/*
 * Installs the layout of @m, an MM record that memory.rs check_mm validated,
 * into the caller's mm: what prctl(PR_SET_MM_MAP) sets.
 */
int ckpt_helper_set_mm_layout(const struct ckpt_mm_rec *m)
{
	struct mm_struct *mm = current->mm;
	/* Only bounds the copy: check_mm held the words to AT_VECTOR_SIZE. */
	u32 n = min_t(u32, m->auxv_words, AT_VECTOR_SIZE);

	BUILD_BUG_ON(sizeof(mm->saved_auxv[0]) != sizeof(m->auxv[0]));
	if (!mm)
		return -EINVAL;
	mmap_write_lock(mm);
	mm->start_code = m->start_code;
	mm->end_code = m->end_code;
	mm->start_data = m->start_data;
	mm->end_data = m->end_data;
	mm->start_brk = m->start_brk;
	mm->brk = m->brk;
	mm->start_stack = m->start_stack;
	spin_lock(&mm->arg_lock);
	mm->arg_start = m->arg_start;
	mm->arg_end = m->arg_end;
	mm->env_start = m->env_start;
	mm->env_end = m->env_end;
	spin_unlock(&mm->arg_lock);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	memcpy(mm->saved_auxv, m->auxv, n * sizeof(m->auxv[0]));
	mmap_write_unlock(mm);
	return 0;
}

/*
 * Makes @file the caller's executable (/proc/PID/exe), as replace_mm_exe_file()
 * (not exported) does for prctl(PR_SET_MM_EXE_FILE): the file is denied write
 * access while it is the executable.
 */
int ckpt_helper_set_exe_file(struct file *file)
{
	struct mm_struct *mm = current->mm;
	struct file *old;

	if (!mm)
		return -EINVAL;
	if (exe_file_deny_write_access(file))
		return -ETXTBSY;
	get_file(file);
	mmap_write_lock(mm);
	old = rcu_dereference_protected(mm->exe_file, lockdep_is_held(&mm->mmap_lock));
	rcu_assign_pointer(mm->exe_file, file);
	mmap_write_unlock(mm);
	if (old) {
		exe_file_allow_write_access(old);
		fput(old);
	}
	return 0;
}

int ckpt_helper_set_blocked(u64 mask)
{
	sigset_t set;

	sigemptyset(&set);
	set.sig[0] = mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	return sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * The caller's memory was just replaced, rseq area included, with the image's: that area
 * now holds the cpu and mm_cid the checkpointed task last saw. Since 6.19 the kernel checks,
 * for an rseq registered with more than 32 bytes (glibc 2.41 does), that the area still holds
 * the ids it wrote last (cached in task_struct) before it writes new ones, and kills the task
 * with SIGSEGV when they differ. Writes the cached ids back into the area, then asks for an
 * update on the way out, so the task returns with its current cpu in the area.
 */
int ckpt_helper_rseq_sync(void)
{
#ifdef CONFIG_RSEQ
	struct rseq __user *rseq = current->rseq.usrptr;
	struct rseq_ids ids = current->rseq.ids;

	if (!rseq)
		return 0;
	if (put_user(ids.cpu_id, &rseq->cpu_id_start) ||
	    put_user(ids.cpu_id, &rseq->cpu_id) ||
	    put_user(ids.node_id, &rseq->node_id) ||
	    put_user(ids.mm_cid, &rseq->mm_cid))
		return -EFAULT;
	rseq_force_update();
#endif
	return 0;
}

int ckpt_helper_close_fd(int fd)
{
	return close_fd(fd);
}

void ckpt_helper_kill_self(void)
{
	force_sig(SIGKILL);
}

void ckpt_helper_stop_self(void)
{
	send_sig(SIGSTOP, current, 1);
}

/*
 * A shared anonymous memory object, as mmap(MAP_SHARED|MAP_ANONYMOUS) makes
 * one: a new file or an ERR_PTR.
 */
struct file *ckpt_helper_shm_create(u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
}

struct task_struct *ckpt_helper_get_current(void)
{
	return get_task_struct(current);
}

int ckpt_helper_task_exiting(struct task_struct *task)
{
	return (READ_ONCE(task->flags) & PF_EXITING) || READ_ONCE(task->exit_state);
}

int ckpt_helper_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void ckpt_helper_get_task_ref(struct task_struct *task)
{
	get_task_struct(task);
}

void ckpt_helper_sleep_killable_ms(u32 ms)
{
	schedule_timeout_killable(msecs_to_jiffies(ms));
}

/* ---- Refusals at checkpoint ------------------------------------------ */

/*
 * What ckpt_helper_task_next_fd does not tell about @task's @fd: whether the
 * file lives on a kernel-internal mount (memfd, a shmem object opened through
 * /proc/PID/map_files: no path reopens it) and its F_SETOWN/F_SETSIG owner.
 */
int ckpt_helper_task_fd_extra(struct task_struct *task, u32 fd, struct ckpt_h_fd_extra *out)
{
	unsigned int n = fd;
	struct fown_struct *o;
	struct file *file;

	memset(out, 0, sizeof(*out));
	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	if (n != fd) {
		fput(file);
		return -EBADF;
	}
	out->internal = !!(file->f_path.mnt->mnt_flags & MNT_INTERNAL);
	o = file_f_owner(file);
	if (o) {
		read_lock_irq(&o->lock);
		if (o->pid) {
			out->owned = 1;
			out->owner = pid_vnr(o->pid);
			out->owner_type = o->pid_type;
		}
		read_unlock_irq(&o->lock);
		out->signum = READ_ONCE(o->signum);
	}
	fput(file);
	return 0;
}

/* Whether @task's working directory (@pwd) or root was removed; 1 if so. */
int ckpt_helper_task_fs_unlinked(struct task_struct *task, int pwd)
{
	struct path path;
	int ret = task_fs_get(task, pwd, &path);

	if (ret)
		return ret;
	ret = d_unlinked(path.dentry);
	path_put(&path);
	return ret;
}

/*
 * A SysV shared memory segment (shmat) is a shmem object behind ipc/shm.c's
 * own file operations (private to it): the file's operations are not its
 * inode's, as they are for the shared anonymous memory of mmap.
 */
int ckpt_helper_file_is_sysv_shm(struct file *file)
{
	return shmem_file(file) && file->f_op != file_inode(file)->i_fop;
}
