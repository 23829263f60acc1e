// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for the Rust side of ckpt.ko: see helpers.h. Each one wraps
 * static inline functions, macros or locking that Rust cannot reach, and
 * writes what it reads into an image record or a struct of helpers.h. No
 * decisions are taken here.
 */
#include <linux/bvec.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/eventfd.h>
#include <linux/eventpoll.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/hrtimer.h>
#include <linux/inetdevice.h>
#include <linux/ipc_namespace.h>
#include <linux/netdevice.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/posix-timers.h>
#include <linux/prctl.h>
#include <linux/highmem.h>
#include <linux/time_namespace.h>
#include <linux/timerfd.h>
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
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/utsname.h>
#include <linux/uts_namespace.h>
#include <asm/fpu/xcr.h>
#include <asm/fsgsbase.h>
#include <asm/ptrace.h>
#include <asm/segment.h>
#include <linux/memcontrol.h>
#include <linux/sched/task_stack.h>
#include <net/addrconf.h>
#include <net/net_namespace.h>

#include "helpers.h"

/*
 * The helpers fill image records of uapi/linux/checkpoint_image.h directly; the few
 * structs of their own (helpers.h) have their offsets asserted here and in kmod/sys/task.rs.
 */
static_assert(sizeof(struct ckpt_h_tree) == 80);
static_assert(offsetof(struct ckpt_h_tree, leader) == 12 &&
	      offsetof(struct ckpt_h_tree, in_ns) == 16);
static_assert(offsetof(struct ckpt_h_tree, files_users) == 28 &&
	      offsetof(struct ckpt_h_tree, sighand_users) == 36);
static_assert(offsetof(struct ckpt_h_tree, mm_users) == 40 &&
	      offsetof(struct ckpt_h_tree, mm) == 48 &&
	      offsetof(struct ckpt_h_tree, sighand) == 72);
static_assert(sizeof(struct ckpt_h_access) == 16);
static_assert(offsetof(struct ckpt_h_access, dumpable) == 8);
static_assert(sizeof(struct ckpt_h_fd) == 48);
static_assert(offsetof(struct ckpt_h_fd, pipe_id) == 8 &&
	      offsetof(struct ckpt_h_fd, fs_magic) == 16);
static_assert(offsetof(struct ckpt_h_fd, unlinked) == 24 &&
	      offsetof(struct ckpt_h_fd, owner) == 36 && offsetof(struct ckpt_h_fd, signum) == 44);
static_assert(sizeof(struct ckpt_h_locked) == 12);
static_assert(offsetof(struct ckpt_h_locked, mdwe) == 4 &&
	      offsetof(struct ckpt_h_locked, seccomp_mode) == 8);
static_assert(sizeof(struct ckpt_h_ns) == 56);
static_assert(sizeof(struct ckpt_uts_ns_rec) == 144 &&
	      sizeof(((struct ckpt_uts_ns_rec *)0)->nodename) == sizeof(utsname()->nodename) &&
	      sizeof(((struct ckpt_uts_ns_rec *)0)->domainname) == sizeof(utsname()->domainname));
static_assert(sizeof(struct ckpt_h_netns) == 360 &&
	      offsetof(struct ckpt_h_netns, addrs) == 104 &&
	      offsetof(struct ckpt_h_netaddr, family) == 20 &&
	      sizeof(((struct ckpt_h_netdev *)0)->name) == IFNAMSIZ);
static_assert(sizeof(struct ckpt_h_pending) == 16);
static_assert(sizeof(struct ckpt_h_vma_extra) == 48);

/* utsname() is a static inline reading current->nsproxy. */
ssize_t ckpt_helper_kernel_release(char *buf, size_t len)
{
	return strscpy(buf, utsname()->release, len);
}

/* ---- Tasks ---------------------------------------------------------- */

static struct sighand_struct *lock_sighand(struct task_struct *task);

#ifdef CONFIG_SYSVIPC
/*
 * Private to ipc/sem.c: to tell an undo list in use from the empty one every
 * CLONE_SYSVSEM thread creation allocates. The definition is taken from the
 * kernel's ipc/sem.c at build time (Kbuild), not mirrored by hand.
 */
#include "sem_undo_list.h"
#endif

/*
 * What only a lock tells of @task's state that the checkpoint cannot save yet; the rest
 * (scheduling policy, task and thread flags) Rust reads itself. Raw facts: what is
 * refused is decided in Rust (kmod/task.rs).
 */
void ckpt_helper_task_unsupported(struct task_struct *task, struct ckpt_h_locked *out)
{
	memset(out, 0, sizeof(*out));
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
	task_unlock(task);
#ifdef CONFIG_SECCOMP
	out->seccomp_mode = READ_ONCE(task->seccomp.mode);
#endif
}

/*
 * @task's namespaces but pid (the pid namespace is checked on its own,
 * ckpt_helper_task_tree), @task NULL for the caller's; nsproxy is stable under
 * task_lock. The user namespace is the one of its credentials.
 */
void ckpt_helper_task_ns(struct task_struct *task, struct ckpt_h_ns *out)
{
	struct nsproxy *n;

	memset(out, 0, sizeof(*out));
	if (!task)
		task = current;
	task_lock(task);
	n = task->nsproxy;
	if (n) {
		out->ids[CKPT_H_NS_UTS] = (unsigned long)n->uts_ns;
		out->ids[CKPT_H_NS_IPC] = (unsigned long)n->ipc_ns;
		out->ids[CKPT_H_NS_MNT] = (unsigned long)n->mnt_ns;
		out->ids[CKPT_H_NS_NET] = (unsigned long)n->net_ns;
		out->ids[CKPT_H_NS_CGROUP] = (unsigned long)n->cgroup_ns;
#ifdef CONFIG_TIME_NS
		out->ids[CKPT_H_NS_TIME] = (unsigned long)n->time_ns;
#endif
	}
	task_unlock(task);
	rcu_read_lock();
	out->ids[CKPT_H_NS_USER] = (unsigned long)__task_cred(task)->user_ns;
	rcu_read_unlock();
}

/*
 * Takes @task's task_lock, which keeps its nsproxy and with it its namespaces, and
 * returns the nsproxy; NULL, with the lock dropped, once the task has exited.
 */
static struct nsproxy *lock_task_nsproxy(struct task_struct *task)
{
	struct nsproxy *n;

	task_lock(task);
	n = task->nsproxy;
	if (!n)
		task_unlock(task);
	return n;
}

/*
 * The names of @task's UTS namespace into @uts (flags left to Rust); -ESRCH once it
 * has exited. Under task_lock, which keeps its nsproxy and with it the namespace.
 * uts_sem, which sethostname() takes, is not exported: the names are copied without it.
 * Only a task in that namespace can change them, and every task of the tree is stopped.
 */
int ckpt_helper_task_uts(struct task_struct *task, struct ckpt_uts_ns_rec *uts)
{
	struct nsproxy *n;

	memset(uts, 0, sizeof(*uts));
	n = lock_task_nsproxy(task);
	if (!n)
		return -ESRCH;
	/* NUL-padded: what follows the NUL in the kernel's copy is not always zero. */
	strscpy_pad(uts->nodename, n->uts_ns->name.nodename, sizeof(uts->nodename));
	strscpy_pad(uts->domainname, n->uts_ns->name.domainname, sizeof(uts->domainname));
	task_unlock(task);
	return 0;
}

/*
 * The offsets of @task's time namespace (zero in the initial one) and the host's
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME now into @out, and in @pending whether the
 * namespace its children get differs from its own (an unshare(CLONE_NEWTIME) it has
 * not forked since); -ESRCH once it has exited. task_lock keeps its nsproxy and with
 * it the namespaces; the offsets no longer change once a task has entered one.
 */
int ckpt_helper_task_timens(struct task_struct *task, struct ckpt_time_ns_rec *out,
			    bool *pending)
{
	struct nsproxy *n;

	memset(out, 0, sizeof(*out));
	*pending = false;
	n = lock_task_nsproxy(task);
	if (!n)
		return -ESRCH;
#ifdef CONFIG_TIME_NS
	out->monotonic_sec = n->time_ns->offsets.monotonic.tv_sec;
	out->monotonic_nsec = n->time_ns->offsets.monotonic.tv_nsec;
	out->boottime_sec = n->time_ns->offsets.boottime.tv_sec;
	out->boottime_nsec = n->time_ns->offsets.boottime.tv_nsec;
	*pending = n->time_ns_for_children != n->time_ns;
#endif
	task_unlock(task);
	out->host_monotonic = ktime_get_ns();
	out->host_boottime = ktime_get_boottime_ns();
	return 0;
}

/* One address of a device into @out (if it has room) and the count. */
static void netns_addr(struct ckpt_h_netns *out, u32 dev, u32 family, const void *addr,
		       u32 len, u32 prefixlen)
{
	struct ckpt_h_netaddr *a;

	if (out->nr_addrs < CKPT_H_NET_ADDRS) {
		a = &out->addrs[out->nr_addrs];
		memcpy(a->addr, addr, len);
		a->dev = dev;
		a->family = family;
		a->prefixlen = prefixlen;
	}
	out->nr_addrs++;
}

/*
 * The devices of @task's network namespace and their IPv4 and IPv6 addresses (Rust
 * decides what may be saved); -ESRCH once it has exited. task_lock keeps its nsproxy
 * and with it the namespace; the device list (for_each_netdev_rcu, a macro), the IPv4
 * addresses (in_dev_for_each_ifa_rcu) and the IPv6 ones (idev->addr_list, which addrconf
 * also walks under RCU) are read under RCU: a snapshot, taken while the tree is stopped.
 */
int ckpt_helper_task_netns(struct task_struct *task, struct ckpt_h_netns *out)
{
	struct net_device *dev;
	struct nsproxy *n;
	u32 i = 0;

	memset(out, 0, sizeof(*out));
	n = lock_task_nsproxy(task);
	if (!n)
		return -ESRCH;
	rcu_read_lock();
	for_each_netdev_rcu(n->net_ns, dev) {
		struct in_device *in_dev = __in_dev_get_rcu(dev);
		struct in_ifaddr *ifa;
#if IS_ENABLED(CONFIG_IPV6)
		struct inet6_dev *idev = __in6_dev_get(dev);
		struct inet6_ifaddr *ifp;
#endif

		if (i < CKPT_H_NET_DEVS) {
			strscpy_pad(out->devs[i].name, dev->name, sizeof(out->devs[i].name));
			out->devs[i].flags = READ_ONCE(dev->flags);
		}
		if (in_dev) {
			in_dev_for_each_ifa_rcu(ifa, in_dev)
				netns_addr(out, i, AF_INET, &ifa->ifa_local, 4, ifa->ifa_prefixlen);
		}
#if IS_ENABLED(CONFIG_IPV6)
		if (idev) {
			list_for_each_entry_rcu(ifp, &idev->addr_list, if_list)
				netns_addr(out, i, AF_INET6, &ifp->addr, 16, ifp->prefix_len);
		}
#endif
		i++;
	}
	rcu_read_unlock();
	task_unlock(task);
	out->nr_devs = i;
	return 0;
}

/*
 * @task's TREE entry as the kernel knows it (pids in @ns, exit code and signal; Rust
 * sets the flags and the object ids), and the facts Rust decides the tree's consistency
 * on, read under siglock and task_lock.
 */
void ckpt_helper_task_tree(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_tree_entry *entry, struct ckpt_h_tree *out)
{
	struct sighand_struct *sighand;

	memset(entry, 0, sizeof(*entry));
	memset(out, 0, sizeof(*out));
	entry->pid = task_pid_nr_ns(task, ns);
	entry->tgid = task_tgid_nr_ns(task, ns);
	rcu_read_lock();
	entry->ppid = task_tgid_nr_ns(rcu_dereference(task->real_parent), ns);
	rcu_read_unlock();
	entry->pgid = task_pgrp_nr_ns(task, ns);
	entry->sid = task_session_nr_ns(task, ns);
	entry->exit_code = READ_ONCE(task->exit_code);
	entry->exit_signal = task->exit_signal;
	out->zombie = READ_ONCE(task->exit_state) == EXIT_ZOMBIE;
	out->leader = thread_group_leader(task);
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
	if (task->mm)
		out->mm_users = atomic_read(&task->mm->mm_users);
	out->files = (unsigned long)task->files;
	if (task->files)
		out->files_users = atomic_read(&task->files->count);
	out->fs = (unsigned long)task->fs;
	if (task->fs)
		out->fs_users = READ_ONCE(task->fs->users);
	task_unlock(task);
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
int ckpt_helper_task_relatives(struct task_struct *task, struct pid_namespace *ns,
			       s32 *out, u32 max)
{
	struct task_struct *t;
	struct pid *pid;
	u32 n = 0;
	int nr, ret = 0;

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
	return ret ? ret : n;
}

/* What is buffered in the pipe or FIFO at @task's @fd, unread; -E2BIG if over @size. */
int ckpt_helper_task_pipe_data(struct task_struct *task, u32 fd, void *buf, u32 size,
			       u32 *capacity)
{
	unsigned int n = fd;
	struct file *file;
	int ret;

	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	ret = n == fd ? ckpt_helper_file_pipe_data(file, buf, size, capacity) : -EINVAL;
	fput(file);
	return ret;
}

/* What is buffered in the pipe or FIFO @file, unread; -E2BIG if over @size. */
int ckpt_helper_file_pipe_data(struct file *file, void *buf, u32 size, u32 *capacity)
{
	struct pipe_inode_info *pipe;
	unsigned int tail;
	u32 len = 0;
	int ret = 0;

	if (!S_ISFIFO(file_inode(file)->i_mode) || !file_inode(file)->i_pipe)
		return -EINVAL;
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
	return ret ? ret : len;
}

void ckpt_helper_task_info(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_task_rec *out)
{
	const struct task_exec_state *es;

	memset(out, 0, sizeof(*out));
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
}

/*
 * The facts ptrace decides on (__ptrace_may_access() at attach, with real creds, and
 * ptracer_access_allowed() at each access: neither is exported), for the caller over
 * @task. The capability is asked of the caller now, not of the tracer's creds at attach
 * (ptracer_cred): the caller is the tracer, and must hold it still.
 */
void ckpt_helper_task_access(struct task_struct *task, struct ckpt_h_access *out)
{
	const struct cred *cred = current_cred(), *tcred;
	const struct task_exec_state *es;

	rcu_read_lock();
	tcred = __task_cred(task);
	out->same_creds = uid_eq(cred->uid, tcred->euid) && uid_eq(cred->uid, tcred->suid) &&
			  uid_eq(cred->uid, tcred->uid) && gid_eq(cred->gid, tcred->egid) &&
			  gid_eq(cred->gid, tcred->sgid) && gid_eq(cred->gid, tcred->gid);
	out->creds_capable = ns_capable_noaudit(tcred->user_ns, CAP_SYS_PTRACE);
	es = rcu_dereference(task->exec_state);
	out->dumpable = es && READ_ONCE(es->dumpable) == TASK_DUMPABLE_OWNER;
	out->exec_capable = es && ns_capable_noaudit(es->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
}

/* Under the group leader's task_lock, as do_prlimit() writes them. */
void ckpt_helper_task_rlimits(struct task_struct *task, struct ckpt_rlimits_rec *out)
{
	u32 i;

	BUILD_BUG_ON(ARRAY_SIZE(out->rlim) != RLIM_NLIMITS);
	task_lock(task->group_leader);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		out->rlim[i].cur = task->signal->rlim[i].rlim_cur;
		out->rlim[i].max = task->signal->rlim[i].rlim_max;
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

/*
 * @task's working directory (@pwd) or root: its path into @buf (with d_path's
 * " (deleted)" if it was removed), and into @out whether it and the directory it was in
 * were removed, its mode and owner. Returns the path's length.
 */
int ckpt_helper_task_fs_path(struct task_struct *task, int pwd, char *buf, int len,
			     struct ckpt_h_fs_dir *out)
{
	struct inode *inode;
	struct dentry *parent;
	struct path path;
	int ret = task_fs_get(task, pwd, &path);

	if (ret)
		return ret;
	inode = d_inode(path.dentry);
	out->unlinked = d_unlinked(path.dentry);
	parent = dget_parent(path.dentry);
	out->parent_unlinked = parent != path.dentry && d_unlinked(parent);
	dput(parent);
	out->mode = inode->i_mode;
	out->uid = from_kuid_munged(current_user_ns(), inode->i_uid);
	out->gid = from_kgid_munged(current_user_ns(), inode->i_gid);
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

void ckpt_helper_task_sigactions(struct task_struct *task, struct ckpt_sighand_rec *out)
{
	struct sighand_struct *sighand = lock_sighand(task);
	u32 i;

	BUILD_BUG_ON(ARRAY_SIZE(out->action) != _NSIG);
	memset(out, 0, sizeof(*out));
	if (!sighand)
		return;
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		out->action[i].handler = (unsigned long)sa->sa_handler;
		out->action[i].flags = sa->sa_flags;
		out->action[i].restorer = (unsigned long)sa->sa_restorer;
		out->action[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irq(&sighand->siglock);
}

/* Whether @q is a POSIX timer's own signal (its preallocated sigq). */
static bool timer_signal(struct sigqueue *q)
{
	return (q->flags & SIGQUEUE_PREALLOC) && q->info.si_code == SI_TIMER;
}

/*
 * Whether the queued timer signal @q is one that its dequeue would drop: the timer was
 * deleted, or re-armed or disarmed by timer_settime() (it_signal_seq moved on) since it
 * was queued (posixtimer_deliver_signal()). Under the siglock or the timer's it_lock the
 * queueing holds; a queued timer signal holds a reference on its timer.
 */
static bool stale_timer_signal(struct sigqueue *q)
{
	struct k_itimer *tmr = container_of(q, struct k_itimer, sigq);

	return !posixtimer_valid(tmr) ||
	       READ_ONCE(tmr->it_sigqueue_seq) != READ_ONCE(tmr->it_signal_seq);
}

/*
 * The queued signals of @pend, with their siginfo; -E2BIG past @max. A timer's own signal
 * is left out: a live one is saved with its timer (its POSIX_TIMER record says it is
 * pending, read under the timer's it_lock), a stale one is dropped as its dequeue would.
 * Its bit leaves *@set too unless another signal of that number is saved: the dequeue
 * clears the bit when it is the last one (collect_signal()), and the restored timer's own
 * signal sets it again.
 */
static int collect_queued(struct sigpending *pend, u32 shared, u64 *set,
			  struct ckpt_siginfo_rec *infos, u32 max, u32 *count)
{
	u64 timers = 0, saved = 0;
	struct sigqueue *q;
	siginfo_t si;

	BUILD_BUG_ON(sizeof(si) != sizeof(infos[0].info));
	BUILD_BUG_ON(_NSIG > 64);
	list_for_each_entry(q, &pend->list, list) {
		u64 bit = 1ULL << (q->info.si_signo - 1);

		if (timer_signal(q)) {
			timers |= bit;
			continue;
		}
		saved |= bit;
		if (*count >= max)
			return -E2BIG;
		copy_siginfo_to_external(&si, &q->info);
		memset(&infos[*count], 0, sizeof(infos[0]));
		memcpy(infos[*count].info, &si, sizeof(si));
		infos[*count].shared = shared;
		(*count)++;
	}
	*set &= ~(timers & ~saved);
	return 0;
}

/*
 * Under @task's siglock: its mask and alternate stack, the signals queued for it and for
 * its process (in that order), and both pending sets. A signal can be pending without a
 * queue entry (its allocation failed): Rust finds those in the sets (kmod/signal.rs).
 */
int ckpt_helper_task_signals(struct task_struct *task, struct ckpt_signals_rec *out,
			     struct ckpt_h_pending *pending, struct ckpt_siginfo_rec *infos,
			     u32 max)
{
	struct sighand_struct *sighand = lock_sighand(task);
	u32 count = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(pending, 0, sizeof(*pending));
	if (!sighand)
		return -ESRCH;
	out->blocked = task->blocked.sig[0];
	out->altstack_sp = task->sas_ss_sp;
	out->altstack_size = task->sas_ss_size;
	out->altstack_flags = task->sas_ss_flags;
	pending->private = task->pending.signal.sig[0];
	pending->shared = task->signal->shared_pending.signal.sig[0];
	ret = collect_queued(&task->pending, 0, &pending->private, infos, max, &count);
	if (!ret)
		ret = collect_queued(&task->signal->shared_pending, 1, &pending->shared, infos,
				     max, &count);
	spin_unlock_irq(&sighand->siglock);
	out->nr_pending = count;
	return ret ? ret : count;
}

/*
 * The first descriptor of @task from *@fd on: its number into *@fd, the fields of its
 * FILE record that the kernel holds into @rec (mode, flags, pos, cloexec, rdev,
 * path_len), its path into @path, and what Rust needs to classify it into @out. 0 when
 * there is none. fget_task_next() takes the files lock; the close-on-exec bit is read
 * under RCU, the owner under its lock.
 */
int ckpt_helper_task_next_fd(struct task_struct *task, u32 *fd, struct ckpt_file_rec *rec,
			     struct ckpt_h_fd *out, char *path, u32 path_size)
{
	struct files_struct *files;
	struct file *file;
	unsigned int n = *fd;
	int ret;

	file = fget_task_next(task, &n);
	if (!file) {
		memset(rec, 0, sizeof(*rec));
		memset(out, 0, sizeof(*out));
		return 0;
	}
	*fd = n;
	ret = ckpt_helper_file_facts(file, rec, out, path, path_size);
	task_lock(task);
	files = task->files;
	if (files) {
		rcu_read_lock();
		rec->cloexec = close_on_exec(n, files);
		rcu_read_unlock();
	}
	task_unlock(task);
	fput(file);
	return ret;
}

/*
 * What ckpt_helper_task_next_fd() says of a descriptor, of the open file @file itself
 * (one a message carries in flight): no descriptor number, no close-on-exec bit.
 */
int ckpt_helper_file_facts(struct file *file, struct ckpt_file_rec *rec,
			   struct ckpt_h_fd *out, char *path, u32 path_size)
{
	struct fown_struct *o;
	struct inode *inode;
	int len;

	memset(rec, 0, sizeof(*rec));
	memset(out, 0, sizeof(*out));
	inode = file_inode(file);
	rec->mode = inode->i_mode;
	rec->flags = file->f_flags;
	rec->pos = file->f_pos;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		rec->rdev = new_encode_dev(inode->i_rdev);
	out->unlinked = d_unlinked(file->f_path.dentry);
	out->fs_magic = inode->i_sb->s_magic;
	out->file_id = (unsigned long)file;
	if (out->fs_magic == PIPEFS_MAGIC || S_ISFIFO(inode->i_mode))
		out->pipe_id = (unsigned long)inode->i_pipe;
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
	len = path_to_buf(&file->f_path, path, path_size);
	if (len < 0)
		return len;
	rec->path_len = len;
	return 1;
}

/*
 * The register set @note_type of @task into a buffer kmalloc'ed for it (*@data), read
 * under @task's siglock while it is still in the caller's ptrace stop: a SIGKILL wakes a
 * traced task (clearing JOBCTL_TRACED under siglock), which may then exit and free the
 * stack its user registers are on (an oops in getreg() when the target was killed during
 * its checkpoint). -ESRCH if the task has left its stop.
 */
int ckpt_helper_task_regset(struct task_struct *task, u32 note_type, void **data)
{
	const struct user_regset_view *view = task_user_regset_view(task);
	const struct user_regset *r = NULL;
	struct sighand_struct *sighand;
	unsigned int i, size;
	int ret = -ESRCH;
	void *buf;

	for (i = 0; i < view->n && !r; i++)
		if (view->regsets[i].core_note_type == note_type)
			r = &view->regsets[i];
	if (!r)
		return -ENODEV;
	size = r->n * r->size;
	buf = kzalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	sighand = lock_sighand(task);
	if (sighand) {
		if (task_is_traced(task))
			ret = regset_get(task, r, size, buf);
		spin_unlock_irq(&sighand->siglock);
	}
	if (ret < 0) {
		kfree(buf);
		return ret;
	}
	*data = buf;
	return ret;
}

/*
 * From here on, the caller's __GFP_ACCOUNT allocations are charged to the root memory
 * cgroup, which has no limit, until ckpt_helper_charge_restore(the value returned). For
 * the one line a restarting task reports: the pipe's page, charged to its own cgroup, may
 * be refused when that cgroup is full, and the reason of the failure would be lost.
 */
void *ckpt_helper_charge_to_root(void)
{
#ifdef CONFIG_MEMCG
	return set_active_memcg(root_mem_cgroup);
#else
	return NULL;
#endif
}

void ckpt_helper_charge_restore(void *old)
{
#ifdef CONFIG_MEMCG
	set_active_memcg(old);
#endif
}

/*
 * Faults in the caller's page at @addr for writing, as a write to it would: 0, or the
 * fault's errno (-ENOMEM when no memory could be had for it, -EFAULT otherwise), which a
 * failed copy to user space reports only as -EFAULT.
 */
int ckpt_helper_fault_in_write(unsigned long addr)
{
	long r = get_user_pages_unlocked(addr & PAGE_MASK, 1, NULL, FOLL_WRITE);

	return r == 1 ? 0 : r < 0 ? (int)r : -EFAULT;
}

u64 ckpt_helper_xfeatures(void)
{
	if (!boot_cpu_has(X86_FEATURE_OSXSAVE))
		return 0;
	return xgetbv(XCR_XFEATURE_ENABLED_MASK);
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
	struct file *exe;
	u32 n = 0, i;

	VMA_ITERATOR(vmi, mm, 0);

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

/* The contents of @n pages, one after the other, into @buf (memcpy_from_page is inline). */
void ckpt_helper_copy_pages(struct page *const *pages, u32 n, void *buf)
{
	u32 i;

	for (i = 0; i < n; i++)
		memcpy_from_page(buf + (size_t)i * PAGE_SIZE, pages[i], 0, PAGE_SIZE);
}

void ckpt_helper_put_pages(struct page **pages, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (pages[i])
			put_page(pages[i]);
}

/* get_page() is inline: one more reference on @page. */
void ckpt_helper_get_page(struct page *page)
{
	get_page(page);
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
	if (PageAnon(page)) {
		flags |= CKPT_H_PAGE_ANON;
		if (folio_maybe_mapped_shared(page_folio(page)))
			flags |= CKPT_H_PAGE_SHARED;
	}
	return flags;
}

/* ---- Restart (the calling task) --------------------------------------- */

u64 ckpt_helper_task_size(void)
{
	return TASK_SIZE;
}

/* task_pt_regs() is a macro: the user registers the caller returns to. */
struct pt_regs *ckpt_helper_current_pt_regs(void)
{
	return task_pt_regs(current);
}

/*
 * The caller's fs base, with a null fs selector, as do_arch_prctl_64(ARCH_SET_FS) sets
 * it: loadsegment() and x86_fsbase_write_cpu() are inline. Rust checked @base.
 */
void ckpt_helper_set_fsbase(u64 base)
{
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(base);
	current->thread.fsbase = base;
	current->thread.fsindex = 0;
	preempt_enable();
}

/* TASK_SIZE_MAX depends on the paging mode (task_size_max(), inline). */
u64 ckpt_helper_task_size_max(void)
{
	return TASK_SIZE_MAX;
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

/*
 * A shared anonymous memory object, as mmap(MAP_SHARED|MAP_ANONYMOUS) makes
 * one: a new file or an ERR_PTR.
 */
struct file *ckpt_helper_shm_create(u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
}

/*
 * At CKPT_IOC_RESTART_BEGIN: the caller's user namespace, with a reference, if the caller
 * may set an executable file there as prctl(PR_SET_MM_MAP) lets it
 * (checkpoint_restore_ns_capable(), inline); else NULL.
 */
struct user_namespace *ckpt_helper_exe_grant(void)
{
	struct user_namespace *ns = current_user_ns();

	return checkpoint_restore_ns_capable(ns) ? get_user_ns(ns) : NULL;
}

/* put_user_ns() (inline). */
void ckpt_helper_put_user_ns(struct user_namespace *ns)
{
	put_user_ns(ns);
}

/*
 * Whether the caller may set its executable file as prctl(PR_SET_MM_MAP) lets it:
 * checkpoint_restore_ns_capable() in its own user namespace now, or @granted (a namespace
 * where the session's coordinator had it at CKPT_IOC_RESTART_BEGIN, or NULL) is that
 * namespace or an ancestor of it: a capability held in a namespace holds in every
 * namespace below it (cap_capable()).
 */
int ckpt_helper_checkpoint_restore_capable(struct user_namespace *granted)
{
	if (granted && current_in_userns(granted))
		return 1;
	return checkpoint_restore_ns_capable(current_user_ns());
}

/* The caller's RLIMIT_NOFILE soft limit (rlimit(), inline). */
u64 ckpt_helper_nofile_limit(void)
{
	return rlimit(RLIMIT_NOFILE);
}

/* path_noexec() (not exported): whether @file's mount or filesystem forbids exec. */
int ckpt_helper_file_noexec(struct file *file)
{
	const struct path *path = &file->f_path;

	return (path->mnt->mnt_flags & MNT_NOEXEC) ||
	       (path->mnt->mnt_sb->s_iflags & SB_I_NOEXEC);
}

/*
 * file_permission(@file, MAY_EXEC) (inline): 0 if the caller may execute @file, as
 * prctl(PR_SET_MM_EXE_FILE) requires of a new executable file, else -EACCES (or the
 * LSM's errno).
 */
int ckpt_helper_file_may_exec(struct file *file)
{
	return file_permission(file, MAY_EXEC);
}

/* ---- Refusals at checkpoint ------------------------------------------ */

/*
 * A SysV shared memory segment (shmat) is a shmem object behind ipc/shm.c's
 * own file operations (private to it): the file's operations are not its
 * inode's, as they are for the shared anonymous memory of mmap.
 */
int ckpt_helper_file_is_sysv_shm(struct file *file)
{
	return shmem_file(file) && file->f_op != file_inode(file)->i_fop;
}

/* ---- Timers ----------------------------------------------------------- */

/*
 * Private to kernel/time/posix-timers.h: k_itimer::it_status. Taken from the kernel's
 * source at build time (Kbuild), not mirrored by hand.
 */
#include "posix_timer_state.h"

/* The layouts kmod/sys/timers.rs asserts too. */
static_assert(sizeof(struct ckpt_h_itimer_real) == 24 &&
	      offsetof(struct ckpt_h_itimer_real, sigalrm_pending) == 20);
static_assert(sizeof(struct ckpt_h_posix_timer) == 72);
static_assert(offsetof(struct ckpt_h_posix_timer, target) == 16 &&
	      offsetof(struct ckpt_h_posix_timer, disarmed) == 28 &&
	      offsetof(struct ckpt_h_posix_timer, clock_pid) == 68);
static_assert(sizeof(struct ckpt_h_itimers_cpu) == 72 &&
	      offsetof(struct ckpt_h_itimers_cpu, now) == 32 &&
	      offsetof(struct ckpt_h_itimers_cpu, sampled) == 64);
static_assert(CPUCLOCK_PROF == 0 && CPUCLOCK_VIRT == 1 && CPUCLOCK_SCHED == 2);
static_assert(offsetof(struct ckpt_h_posix_timer, overrun_last) == 32 &&
	      offsetof(struct ckpt_h_posix_timer, value) == 56);

/*
 * ITIMER_REAL of @task's process as do_getitimer() reads it (under siglock), and whether a
 * SIGALRM is pending: a periodic timer that fired stays inactive until the SIGALRM is
 * dequeued, which re-arms it (dequeue_signal()).
 */
void ckpt_helper_task_itimer_real(struct task_struct *task, struct ckpt_h_itimer_real *out)
{
	struct sighand_struct *sighand = lock_sighand(task);
	struct signal_struct *sig = task->signal;

	memset(out, 0, sizeof(*out));
	if (!sighand)
		return;
	out->remaining = ktime_to_ns(__hrtimer_get_remaining(&sig->real_timer, true));
	out->interval = ktime_to_ns(sig->it_real_incr);
	out->active = hrtimer_active(&sig->real_timer);
	/* Only a dequeue from shared_pending re-arms it (dequeue_signal()). */
	out->sigalrm_pending = sigismember(&sig->shared_pending.signal, SIGALRM);
	spin_unlock_irq(&sighand->siglock);
}

/* @t's own CPU clocks, as cpu_clock_sample() reads them of a task that is not running. */
static void thread_sample(struct task_struct *t, u64 *now)
{
	u64 utime, stime;

	task_cputime(t, &utime, &stime);
	now[CPUCLOCK_PROF] = utime + stime;
	now[CPUCLOCK_VIRT] = utime;
	/* task_sched_runtime() adds only the part of a running task's slice not yet counted. */
	now[CPUCLOCK_SCHED] = READ_ONCE(t->se.sum_exec_runtime);
}

/*
 * The CPU clocks of @task's process, under its siglock, as cpu_clock_sample_group() reads
 * them: the group's running totals once a process timer has started them (what its timers
 * expire against), else the sum of its threads' and its dead threads' times
 * (thread_group_cputime(): the siglock keeps the thread list and the dead threads' sums).
 * False where task_cputime() is not inline (CONFIG_VIRT_CPU_ACCOUNTING_GEN: not exported).
 */
static bool group_sample(struct task_struct *task, u64 *now)
{
#ifdef CONFIG_VIRT_CPU_ACCOUNTING_GEN
	return false;
#else
	struct signal_struct *sig = task->signal;
	struct task_struct *t;

	if (READ_ONCE(sig->posix_cputimers.timers_active)) {
		struct task_cputime_atomic *a = &sig->cputimer.cputime_atomic;

		now[CPUCLOCK_VIRT] = atomic64_read(&a->utime);
		now[CPUCLOCK_PROF] = now[CPUCLOCK_VIRT] + atomic64_read(&a->stime);
		now[CPUCLOCK_SCHED] = atomic64_read(&a->sum_exec_runtime);
		return true;
	}
	now[CPUCLOCK_VIRT] = sig->utime;
	now[CPUCLOCK_PROF] = sig->utime + sig->stime;
	now[CPUCLOCK_SCHED] = sig->sum_sched_runtime;
	for_each_thread(task, t) {
		u64 s[CPUCLOCK_MAX];

		thread_sample(t, s);
		now[CPUCLOCK_PROF] += s[CPUCLOCK_PROF];
		now[CPUCLOCK_VIRT] += s[CPUCLOCK_VIRT];
		now[CPUCLOCK_SCHED] += s[CPUCLOCK_SCHED];
	}
	return true;
#endif
}

/*
 * ITIMER_PROF and ITIMER_VIRTUAL of @task's process as get_cpu_itimer() reads them (under
 * siglock): their expiries on the process's clocks, intervals, and the clocks now.
 */
void ckpt_helper_task_itimers_cpu(struct task_struct *task, struct ckpt_h_itimers_cpu *out)
{
	struct sighand_struct *sighand = lock_sighand(task);
	struct signal_struct *sig = task->signal;
	int i;

	memset(out, 0, sizeof(*out));
	out->tick_ns = TICK_NSEC;
	if (!sighand)
		return;
	for (i = 0; i < 2; i++) {
		out->expires[i] = sig->it[i].expires;
		out->incr[i] = sig->it[i].incr;
	}
	/* The clocks matter only to an armed one (a thread walk, if no timer started them). */
	if (out->expires[0] || out->expires[1])
		out->sampled = group_sample(task, out->now);
	spin_unlock_irq(&sighand->siglock);
}

/*
 * A CPU-clock timer of @task's process (under RCU and its it_lock): the pid in @ns of the
 * process or thread whose clock it is, if that is this process or a live thread of it
 * (else 0: another process's clock, or a thread that exited), and its time left against
 * that clock (@group: the process's clocks, sampled before).
 */
static void cpu_timer(struct task_struct *task, struct k_itimer *timer, struct pid_namespace *ns,
		      const u64 *group, struct ckpt_h_posix_timer *o)
{
	struct cpu_timer *ctmr = &timer->it.cpu;
	clockid_t which = CPUCLOCK_WHICH(timer->it_clock);
	u64 thread[CPUCLOCK_MAX], expires;
	const u64 *now = group;

	if (which >= CPUCLOCK_MAX || !ctmr->pid)
		return;
	if (CPUCLOCK_PERTHREAD(timer->it_clock)) {
		struct task_struct *t = pid_task(ctmr->pid, PIDTYPE_PID);

		if (!t || (t->flags & PF_EXITING) || t->signal != task->signal)
			return;
		thread_sample(t, thread);
		now = thread;
	} else if (ctmr->pid != task_tgid(task)) {
		return;
	}
	o->clock_pid = pid_nr_ns(ctmr->pid, ns);
	o->kind = CKPT_H_TIMER_CPU;
	/*
	 * posix_cpu_timer_get() goes by the expiry alone: none is disarmed (a fired one-shot
	 * has none, cpu_timer_fire()), and a SIGEV_NONE timer has one while never
	 * POSIX_TIMER_ARMED (posix_cpu_timer_set()).
	 */
	expires = cpu_timer_getexpires(ctmr);
	o->disarmed = !expires;
	o->remaining = expires ? (s64)(expires - now[which]) : 0;
}

/*
 * The pid in @ns that @timer of @task's process signals, under RCU; 0 for a
 * SIGEV_THREAD_ID one whose thread exited or is exiting (its struct pid keeps its number:
 * free_pid() only removes it from the idr, which may give it to another task).
 */
static pid_t timer_target(struct task_struct *task, struct k_itimer *timer,
			  struct pid_namespace *ns)
{
	struct task_struct *t;

	if (timer->it_pid_type == PIDTYPE_PID) {
		t = pid_task(timer->it_pid, PIDTYPE_PID);
		if (!t || (t->flags & PF_EXITING) || t->signal != task->signal)
			return 0;
	}
	return pid_nr_ns(timer->it_pid, ns);
}

/*
 * The timer_create() timers of @task's process, at most @max into @out, as
 * /proc/PID/timers walks them (show_timer(): the list under RCU, each timer under its
 * it_lock, valid ones only); pids in @ns. Returns how many, or -E2BIG if there are more.
 */
int ckpt_helper_task_posix_timers(struct task_struct *task, struct pid_namespace *ns,
				  struct ckpt_h_posix_timer *out, u32 max)
{
	struct sighand_struct *sighand = lock_sighand(task);
	u64 group[CPUCLOCK_MAX];
	bool sampled = false;
	struct k_itimer *timer;
	u32 n = 0;
	int ret = 0;

	if (sighand) {
		/* Taken here, not under a timer's it_lock; only a process with timers needs it. */
		if (!hlist_empty(&task->signal->posix_timers))
			sampled = group_sample(task, group);
		spin_unlock_irq(&sighand->siglock);
	}
	rcu_read_lock();
	hlist_for_each_entry_rcu(timer, &task->signal->posix_timers, list) {
		struct ckpt_h_posix_timer *o = &out[n];

		if (n == max) {
			ret = -E2BIG;
			break;
		}
		spin_lock_irq(&timer->it_lock);
		if (!posixtimer_valid(timer)) {
			spin_unlock_irq(&timer->it_lock);
			continue;
		}
		memset(o, 0, sizeof(*o));
		o->id = timer->it_id;
		o->clock = timer->it_clock;
		o->notify = timer->it_sigev_notify;
		o->signo = timer->sigq.info.si_signo;
		o->value = (u64)(unsigned long)timer->sigq.info.si_value.sival_ptr;
		o->overrun_last = timer->it_overrun_last;
		o->interval = ktime_to_ns(timer->it_interval);
		o->armed = timer->it_status == POSIX_TIMER_ARMED;
		o->disarmed = timer->it_status == POSIX_TIMER_DISARMED;
		/*
		 * Queued by its expiry, which runs under it_lock (posix_timer_fn()); only a
		 * dequeue, under the siglock, empties the list, and the tasks are stopped.
		 */
		o->pending = !list_empty(&timer->sigq.list) && !stale_timer_signal(&timer->sigq);
		switch (timer->it_clock) {
		case CLOCK_REALTIME:
		case CLOCK_MONOTONIC:
		case CLOCK_BOOTTIME:
		case CLOCK_TAI:
			o->target = timer_target(task, timer, ns);
			o->kind = CKPT_H_TIMER_HRTIMER;
			o->remaining =
				ktime_to_ns(__hrtimer_get_remaining(&timer->it.real.timer, false));
			break;
		default:
			/* it_pid is whom it signals, it.cpu.pid whose clock it is. */
			if (timer->it_clock < 0 && sampled) {
				o->target = timer_target(task, timer, ns);
				cpu_timer(task, timer, ns, group, o);
			}
			break;
		}
		spin_unlock_irq(&timer->it_lock);
		n++;
	}
	rcu_read_unlock();
	return ret ? ret : n;
}

/*
 * Sets it_overrun_last, what timer_getoverrun() returns, of the timer @id of the caller's
 * own process (found as /proc/PID/timers walks them: under RCU, the timer under its
 * it_lock, valid ones only). -ENOENT if it has none of that id.
 */
int ckpt_helper_set_timer_overrun(s32 id, s64 overrun)
{
	struct k_itimer *timer;
	int ret = -ENOENT;

	rcu_read_lock();
	hlist_for_each_entry_rcu(timer, &current->signal->posix_timers, list) {
		spin_lock_irq(&timer->it_lock);
		if (posixtimer_valid(timer) && timer->it_id == id) {
			timer->it_overrun_last = overrun;
			ret = 0;
		}
		spin_unlock_irq(&timer->it_lock);
		if (!ret)
			break;
	}
	rcu_read_unlock();
	return ret;
}

/* ---- Unix sockets --------------------------------------------------- */

/*
 * struct unix_skb_parms (UNIXCB: the consumed part of a stream skb, the
 * descriptors in flight) is private to net/unix; its header is taken from
 * the kernel's source at build time (Kbuild), never copied by hand.
 */
#include <linux/net.h>
#include <net/af_unix.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include "af_unix.h"

static_assert(sizeof(struct ckpt_h_unix) == 280);
static_assert(CKPT_UNIX_RCV_SHUTDOWN == RCV_SHUTDOWN && CKPT_UNIX_SEND_SHUTDOWN == SEND_SHUTDOWN);
static_assert(offsetof(struct ckpt_h_unix, family) == 24 &&
	      offsetof(struct ckpt_h_unix, backlog) == 56 &&
	      offsetof(struct ckpt_h_unix, scm_flags) == 72);
static_assert(offsetof(struct ckpt_h_unix, foreign) == 100 &&
	      offsetof(struct ckpt_h_unix, name_len) == 116 &&
	      offsetof(struct ckpt_h_unix, name) == 128 &&
	      offsetof(struct ckpt_h_unix, read_opts) == 236);

/*
 * Its receive queue into @buf/@lens, under the reader's iolock and the queue's lock: a
 * listening socket's (by @out->state, not sk_state read again) only counted.
 */
static int unix_queue(struct sock *sk, struct sock *peer, struct ckpt_h_unix *out,
		      void *buf, u32 size, u32 *lens, u32 max_msgs,
		      struct ckpt_h_unix_fds *fds)
{
	bool stream = sk->sk_type == SOCK_STREAM;
	struct unix_sock *u = unix_sk(sk);
	struct sk_buff *skb;
	int ret = 0;

	if (mutex_lock_killable(&u->iolock))
		return -EINTR;
	spin_lock(&sk->sk_receive_queue.lock);
#if IS_ENABLED(CONFIG_AF_UNIX_OOB)
	out->oob = !!READ_ONCE(u->oob_skb);
#endif
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 off = stream ? UNIXCB(skb).consumed : 0, len;

		out->queued++;
		/* The state decided under the state lock, as the caller reads lens by it. */
		if (out->state == CKPT_UNIX_STATE_LISTENING)
			continue;
		if (skb->sk != peer)
			out->foreign++;
		if (off > skb->len) {
			ret = -EINVAL;
			break;
		}
		len = skb->len - off;
		if (len > size - out->bytes || (!stream && out->queued > max_msgs)) {
			ret = -E2BIG;
			break;
		}
		ret = skb_copy_bits(skb, off, buf + out->bytes, len);
		if (ret)
			break;
		/* A stream's skbs too, as long as they fit: Rust needs them with fds. */
		if (out->queued <= max_msgs) {
			lens[out->queued - 1] = len;
			fds->counts[out->queued - 1] = 0;
		}
		out->bytes += len;
		/*
		 * The files in flight: the skb holds them (and its fp list) while it is queued,
		 * under the queue's lock here; a reference on each for Rust. A stream reader
		 * detaches them at its first read of the skb, so a consumed part has none.
		 */
		if (UNIXCB(skb).fp) {
			struct scm_fp_list *fp = UNIXCB(skb).fp;
			int i;

			out->with_fds++;
			if (out->queued > max_msgs || fp->count > fds->max_files - fds->nr_files) {
				ret = -EMFILE;
				break;
			}
			fds->counts[out->queued - 1] = fp->count;
			for (i = 0; i < fp->count; i++)
				fds->files[fds->nr_files++] = get_file(fp->fp[i]);
		}
	}
	spin_unlock(&sk->sk_receive_queue.lock);
	mutex_unlock(&u->iolock);
	return ret;
}

/*
 * The connection not accepted yet at place @index (0 first) of the listening socket
 * @listener's backlog, referenced (sock_hold), or NULL past its end: the skb that
 * unix_stream_connect() queued on the listener is the new socket's, which it holds
 * while it is queued, under the queue's lock.
 */
static struct sock *unix_embryo(struct sock *listener, u32 index)
{
	struct sock *embryo = NULL;
	struct sk_buff *skb;
	u32 i = 0;

	spin_lock(&listener->sk_receive_queue.lock);
	skb_queue_walk(&listener->sk_receive_queue, skb) {
		if (i++ == index) {
			embryo = skb->sk;
			sock_hold(embryo);
			break;
		}
	}
	spin_unlock(&listener->sk_receive_queue.lock);
	return embryo;
}

/*
 * The unix socket open at @task's @fd: its facts into @out (only family and type for
 * another family), its receive queue into @buf (at most @size bytes; a datagram or
 * seqpacket socket's message lengths into @lens, at most @max_msgs), the path of the
 * file it is bound to into @path. -ENOTSOCK for no socket, -E2BIG over the bounds.
 * The peer and the name are read under the socket's state lock (as unix_getname()
 * and unix_peer_get() do), the queue as recvmsg() reads it.
 * With @embryo not 0, the same of connection @embryo - 1 not accepted yet in the
 * backlog of the listening socket at @fd instead: -ENOENT past its end, -EINVAL if
 * @fd is no listening unix socket. The peer credentials (sk_peer_pid as seen in @ns,
 * sk_peer_cred's euid and egid in the caller's user namespace, as SO_PEERCRED shows
 * them) are read under sk_peer_lock.
 */
int ckpt_helper_task_unix(struct task_struct *task, u32 fd, u32 embryo,
			  struct pid_namespace *ns, struct ckpt_h_unix *out, void *buf,
			  u32 size, u32 *lens, u32 max_msgs, char *path, u32 path_size,
			  struct ckpt_h_unix_fds *fds)
{
	struct sock *sk, *peer, *held = NULL;
	struct unix_address *addr;
	struct unix_sock *u;
	struct socket *sock;
	struct file *file;
	unsigned int n = fd;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	fds->nr_files = 0;
	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	sock = n == fd ? sock_from_file(file) : NULL;
	if (!sock || !sock->sk) {
		ret = -ENOTSOCK;
		goto out;
	}
	sk = sock->sk;
	out->family = sk->sk_family;
	out->type = sk->sk_type;
	if (sk->sk_family != AF_UNIX)
		goto out;
	if (embryo) {
		if (READ_ONCE(sk->sk_state) != TCP_LISTEN) {
			ret = -EINVAL;
			goto out;
		}
		held = unix_embryo(sk, embryo - 1);
		if (!held) {
			ret = -ENOENT;
			goto out;
		}
		sk = held;
	}
	u = unix_sk(sk);
	out->sock = (unsigned long)sk;

	unix_state_lock(sk);
	out->state = sk->sk_state == TCP_LISTEN ? CKPT_UNIX_STATE_LISTENING :
		     unix_peer(sk) ? CKPT_UNIX_STATE_CONNECTED : CKPT_UNIX_STATE_UNCONNECTED;
	out->shutdown = READ_ONCE(sk->sk_shutdown);
	peer = unix_peer(sk);
	if (peer) {
		/* sk holds a reference on its peer while it is its peer. */
		out->peer = (unsigned long)peer;
		out->peer_dead = sock_flag(peer, SOCK_DEAD);
		out->peer_embryo = !peer->sk_socket;
		out->peer_shutdown = READ_ONCE(peer->sk_shutdown);
		out->peer_back = READ_ONCE(unix_peer(peer)) == sk;
	}
	/* Published after u->path (unix_bind_bsd()), which then stays until release. */
	addr = smp_load_acquire(&u->addr);
	if (addr) {
		out->addr = (unsigned long)addr;
		out->name_len = min_t(u32, addr->len - offsetof(struct sockaddr_un, sun_path),
				      sizeof(out->name));
		memcpy(out->name, addr->name->sun_path, out->name_len);
	}
	unix_state_unlock(sk);

	spin_lock(&sk->sk_peer_lock);
	out->cred_pid = sk->sk_peer_pid ? pid_nr_ns(sk->sk_peer_pid, ns) : 0;
	if (sk->sk_peer_cred) {
		out->has_cred = 1;
		out->cred_uid = from_kuid_munged(current_user_ns(), sk->sk_peer_cred->euid);
		out->cred_gid = from_kgid_munged(current_user_ns(), sk->sk_peer_cred->egid);
	}
	spin_unlock(&sk->sk_peer_lock);

	out->backlog = READ_ONCE(sk->sk_max_ack_backlog);
	out->sndbuf = READ_ONCE(sk->sk_sndbuf);
	out->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	out->userlocks = READ_ONCE(sk->sk_userlocks);
	out->scm_flags = READ_ONCE(sk->sk_scm_recv_flags);
	out->fds_in_flight = atomic_read(&u->scm_stat.nr_fds);
	out->peek_off = READ_ONCE(sk->sk_peek_off);
	out->timeo = (READ_ONCE(sk->sk_rcvtimeo) != MAX_SCHEDULE_TIMEOUT) |
		     (READ_ONCE(sk->sk_sndtimeo) != MAX_SCHEDULE_TIMEOUT) << 1;
	out->rcvtimeo = READ_ONCE(sk->sk_rcvtimeo);
	out->sndtimeo = READ_ONCE(sk->sk_sndtimeo);
	out->hz = HZ;
	out->rcvlowat = READ_ONCE(sk->sk_rcvlowat);
	out->filter = !!rcu_access_pointer(sk->sk_filter);
	out->read_opts = (sock_flag(sk, SOCK_RCVTSTAMP) ? CKPT_H_UNIX_OPT_TIMESTAMP : 0) |
			 (sock_flag(sk, SOCK_RCVTSTAMPNS) ? CKPT_H_UNIX_OPT_TIMESTAMPNS : 0) |
			 (READ_ONCE(sk->sk_tsflags) ? CKPT_H_UNIX_OPT_TIMESTAMPING : 0) |
			 (READ_ONCE(u->recvmsg_inq) ? CKPT_H_UNIX_OPT_INQ : 0) |
			 (READ_ONCE(u->scm_rights_notrunc) ? CKPT_H_UNIX_OPT_RIGHTS_NOTRUNC : 0) |
			 (sock_flag(sk, SOCK_URGINLINE) ? CKPT_H_UNIX_OPT_OOBINLINE : 0);

	if (addr && u->path.dentry) {
		if (d_unlinked(u->path.dentry)) {
			out->path_state = CKPT_H_UNIX_PATH_GONE;
		} else {
			ret = path_to_buf(&u->path, path, path_size);
			if (ret < 0)
				goto out;
			out->path_state = CKPT_H_UNIX_PATH_BOUND;
			out->path_len = ret;
		}
	}
	ret = unix_queue(sk, peer, out, buf, size, lens, max_msgs, fds);
out:
	if (held)
		sock_put(held);
	fput(file);
	return ret;
}

/* The struct sock of the unix socket @file (identity only), 0 for another file. */
u64 ckpt_helper_file_unix_sock(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (!sock || !sock->sk || sock->sk->sk_family != AF_UNIX)
		return 0;
	return (unsigned long)sock->sk;
}

/*
 * Whether @uid and @gid may be set as peer credentials by the caller: as
 * scm_check_creds() lets SCM_CREDENTIALS name them (Rust decides).
 */
void ckpt_helper_ids_may(u32 uid, u32 gid, struct ckpt_h_ids_may *out)
{
	const struct cred *cred = current_cred();
	kuid_t k = make_kuid(cred->user_ns, uid);
	kgid_t g = make_kgid(cred->user_ns, gid);

	out->uid_valid = uid_valid(k);
	out->gid_valid = gid_valid(g);
	out->uid_own = uid_eq(k, cred->uid) || uid_eq(k, cred->euid) || uid_eq(k, cred->suid);
	out->gid_own = gid_eq(g, cred->gid) || gid_eq(g, cred->egid) || gid_eq(g, cred->sgid);
	out->setuid = ns_capable(cred->user_ns, CAP_SETUID);
	out->setgid = ns_capable(cred->user_ns, CAP_SETGID);
}

/*
 * New credentials for a socket's peer: the caller's (user namespace, security
 * label) with every uid @uid and every gid @gid, no supplementary group and no
 * capability. Checked by the caller (ckpt_helper_ids_may); NULL without memory.
 */
const struct cred *ckpt_helper_peer_cred(u32 uid, u32 gid)
{
	struct group_info *groups;
	struct cred *new;

	groups = groups_alloc(0);
	if (!groups)
		return NULL;
	new = prepare_creds();
	if (!new) {
		put_group_info(groups);
		return NULL;
	}
	new->uid = new->euid = new->suid = new->fsuid = make_kuid(new->user_ns, uid);
	new->gid = new->egid = new->sgid = new->fsgid = make_kgid(new->user_ns, gid);
	set_groups(new, groups);
	put_group_info(groups);
	new->cap_inheritable = CAP_EMPTY_SET;
	new->cap_permitted = CAP_EMPTY_SET;
	new->cap_effective = CAP_EMPTY_SET;
	new->cap_bset = CAP_EMPTY_SET;
	new->cap_ambient = CAP_EMPTY_SET;
	return new;
}

/* put_cred() (inline). */
void ckpt_helper_put_cred(const struct cred *cred)
{
	put_cred(cred);
}

/* The caller's thread-group pid, referenced, and its number in its own pid namespace. */
struct pid *ckpt_helper_current_tgid(s32 *nr)
{
	*nr = task_tgid_vnr(current);
	return get_pid(task_tgid(current));
}

/*
 * Whether @pid is registered in pidfs (a pidfd of it was made once): SO_PEERPIDFD of a
 * unix socket counts on it (PIDFD_STALE); pidfs_register_pid() is not exported.
 */
int ckpt_helper_pid_registered(struct pid *pid)
{
	return !IS_ERR_OR_NULL(READ_ONCE(pid->attr));
}

/*
 * Sets the peer credentials of the unix socket @file (with @embryo not 0, of the
 * connection @embryo - 1 not accepted yet of the listening socket @file): @pid and
 * @cred, either NULL, each referenced anew here; the old ones are put, as
 * update_peercred() does, under sk_peer_lock. -ENOTSOCK for another file, -ENOENT past
 * the backlog's end, -EINVAL if @embryo names a connection of a socket not listening.
 */
int ckpt_helper_unix_set_peer(struct file *file, u32 embryo, struct pid *pid,
			      const struct cred *cred)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk, *held = NULL;
	const struct cred *old_cred;
	struct pid *old_pid;

	if (!sock || !sock->sk || sock->sk->sk_family != AF_UNIX)
		return -ENOTSOCK;
	sk = sock->sk;
	if (embryo) {
		if (READ_ONCE(sk->sk_state) != TCP_LISTEN)
			return -EINVAL;
		held = unix_embryo(sk, embryo - 1);
		if (!held)
			return -ENOENT;
		sk = held;
	}
	spin_lock(&sk->sk_peer_lock);
	old_pid = sk->sk_peer_pid;
	old_cred = sk->sk_peer_cred;
	sk->sk_peer_pid = get_pid(pid);
	sk->sk_peer_cred = cred ? get_cred(cred) : NULL;
	spin_unlock(&sk->sk_peer_lock);
	put_pid(old_pid);
	put_cred(old_cred);
	if (held)
		sock_put(held);
	return 0;
}

/* ---- eventfd, timerfd, signalfd -------------------------------------- */

static_assert(CKPT_EFD_SEMAPHORE == EFD_SEMAPHORE);
static_assert(CKPT_TFD_TIMER_ABSTIME == TFD_TIMER_ABSTIME);
static_assert(CKPT_TFD_TIMER_CANCEL_ON_SET == TFD_TIMER_CANCEL_ON_SET);

/*
 * Whether @file is of @kind (CKPT_FILE_EVENTFD, _TIMERFD or _SIGNALFD). An
 * eventfd is told by eventfd_ctx_fileget(), which compares f_op with
 * eventfd_fops. timerfd_fops and signalfd_fops are static and nothing exported
 * tells them: those are told by the name of their anonymous inode's dentry, on
 * the anon_inode filesystem, which only fs/timerfd.c and fs/signalfd.c give
 * (anon_inode_getfile_fmode("[timerfd]", ...)); it is the name /proc/PID/fd
 * shows. Rust then parses their show_fdinfo text strictly, so another file
 * with that name would be refused, not misread. An epoll (CKPT_FILE_EPOLL) and
 * an inotify instance are told the same way, by the names only fs/eventpoll.c
 * and fs/notify/inotify give.
 */
static bool ckpt_anon_is(struct file *file, u32 kind)
{
	const char *name;

	if (kind == CKPT_FILE_EVENTFD) {
		struct eventfd_ctx *ctx = eventfd_ctx_fileget(file);

		if (IS_ERR(ctx))
			return false;
		eventfd_ctx_put(ctx);
		return true;
	}
	if (kind == CKPT_FILE_TIMERFD)
		name = "[timerfd]";
	else if (kind == CKPT_FILE_SIGNALFD)
		name = "[signalfd]";
	else if (kind == CKPT_FILE_EPOLL)
		name = "[eventpoll]";
	else if (kind == CKPT_FILE_INOTIFY)
		name = "inotify";
	else
		return false;
	return file_inode(file)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       strcmp(file->f_path.dentry->d_name.name, name) == 0;
}

/*
 * The f_op->show_fdinfo text of @task's descriptor @fd, a file of @kind (see
 * ckpt_anon_is; -EINVAL if it is not), into @buf of @size bytes (-E2BIG if it
 * does not fit), as /proc/PID/fdinfo/FD shows it after its common lines: the
 * state of an eventfd, timerfd or signalfd is private to its fs/ file, and
 * show_fdinfo reads it under the locks that file takes (the context's wait
 * queue lock for an eventfd's count, a timer's remaining time and interval).
 * The show_fdinfo of these types only prints into the seq_file (seq_printf,
 * seq_putc): a seq_file over @buf, with no operations, is all it needs.
 * *@real_ns is CLOCK_REALTIME right after. Returns the text's length.
 */
int ckpt_helper_task_fdinfo(struct task_struct *task, u32 fd, u32 kind, char *buf,
			    u32 size, s64 *real_ns)
{
	struct seq_file m = { .buf = buf, .size = size };
	unsigned int n = fd;
	struct file *file;
	int ret;

	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	if (n != fd || !file->f_op->show_fdinfo || !ckpt_anon_is(file, kind)) {
		fput(file);
		return -EINVAL;
	}
	m.file = file;
	file->f_op->show_fdinfo(&m, file);
	*real_ns = ktime_get_real_ns();
	ret = seq_has_overflowed(&m) ? -E2BIG : (int)m.count;
	fput(file);
	return ret;
}

/* ---- TCP and UDP sockets ---------------------------------------------- */

#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/sock_reuseport.h>
#include <net/tcp.h>

static_assert(sizeof(struct ckpt_h_inet) == 296);
static_assert(CKPT_H_TCP_ESTABLISHED == TCP_ESTABLISHED && CKPT_H_TCP_CLOSE == TCP_CLOSE &&
	      CKPT_H_TCP_LISTEN == TCP_LISTEN && CKPT_H_TCP_NAGLE_OFF == TCP_NAGLE_OFF);
static_assert(CKPT_H_SOCK_BINDADDR_LOCK == SOCK_BINDADDR_LOCK);
static_assert(CKPT_H_SOCK_BINDPORT_LOCK == SOCK_BINDPORT_LOCK);
static_assert(offsetof(struct ckpt_h_inet, rcv_saddr) == 24 &&
	      offsetof(struct ckpt_h_inet, reuse) == 56 &&
	      offsetof(struct ckpt_h_inet, lingertime) == 152);
static_assert(offsetof(struct ckpt_h_inet, inet_flags) == 160 &&
	      offsetof(struct ckpt_h_inet, nonagle) == 204 &&
	      offsetof(struct ckpt_h_inet, udp_flags) == 256 &&
	      offsetof(struct ckpt_h_inet, rmem) == 272);

/* The TCP options of a tcp_sock: @out->nonagle and the others Rust refuses or saves. */
static void inet_tcp(struct sock *sk, struct ckpt_h_inet *out)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct tcp_sock *tp = tcp_sk(sk);

	out->nonagle = tp->nonagle;	/* a bit-field: read once, plainly */
	out->keepalive_time = READ_ONCE(tp->keepalive_time);
	out->keepalive_intvl = READ_ONCE(tp->keepalive_intvl);
	out->keepalive_probes = READ_ONCE(tp->keepalive_probes);
	out->defer_accept = READ_ONCE(icsk->icsk_accept_queue.rskq_defer_accept);
	out->defer_timeout_s = TCP_TIMEOUT_INIT / HZ;
	out->defer_rto_max_s = TCP_RTO_MAX / HZ;
	out->fastopen_qlen = READ_ONCE(icsk->icsk_accept_queue.fastopenq.max_qlen);
	out->user_mss = READ_ONCE(tp->rx_opt.user_mss);
	out->user_timeout = READ_ONCE(icsk->icsk_user_timeout);
	out->syn_retries = READ_ONCE(icsk->icsk_syn_retries);
	out->notsent_lowat = READ_ONCE(tp->notsent_lowat);
	out->tcp_opts = (out->nonagle & TCP_NAGLE_CORK ? CKPT_H_INET_TCP_CORK : 0) |
			(tp->repair ? CKPT_H_INET_TCP_REPAIR : 0) |
			(tp->save_syn ? CKPT_H_INET_TCP_SAVE_SYN : 0) |
			(tp->recvmsg_inq ? CKPT_H_INET_TCP_INQ : 0) |
			(icsk->icsk_ulp_ops ? CKPT_H_INET_TCP_ULP : 0) |
			(icsk->icsk_ca_setsockopt ? CKPT_H_INET_TCP_CONGESTION : 0);
#ifdef CONFIG_TCP_MD5SIG
	if (rcu_access_pointer(tp->md5sig_info))
		out->tcp_opts |= CKPT_H_INET_TCP_MD5;
#endif
#ifdef CONFIG_TCP_AO
	if (rcu_access_pointer(tp->ao_info))
		out->tcp_opts |= CKPT_H_INET_TCP_MD5;
#endif
}

/*
 * The TCP or UDP socket of family AF_INET or AF_INET6 open at @task's @fd: its facts into
 * @out, read under lock_sock() (as getsockopt() reads them). -ENOTSOCK for no socket,
 * -EAFNOSUPPORT for another family (@out->family says which).
 */
int ckpt_helper_task_inet(struct task_struct *task, u32 fd, struct ckpt_h_inet *out)
{
	struct sock_reuseport *reuse;
	struct inet_sock *inet;
	struct socket *sock;
	struct file *file;
	unsigned int n = fd;
	struct sock *sk;
	struct net *net;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	sock = n == fd ? sock_from_file(file) : NULL;
	if (!sock || !sock->sk) {
		ret = -ENOTSOCK;
		goto out;
	}
	sk = sock->sk;
	out->family = sk->sk_family;
	if (sk->sk_family != AF_INET && sk->sk_family != AF_INET6) {
		ret = -EAFNOSUPPORT;
		goto out;
	}
	inet = inet_sk(sk);
	lock_sock(sk);
	out->type = sk->sk_type;
	out->protocol = sk->sk_protocol;
	out->state = READ_ONCE(sk->sk_state);
	out->num = READ_ONCE(inet->inet_num);
	out->dport = ntohs(READ_ONCE(inet->inet_dport));
	if (sk->sk_family == AF_INET) {
		memcpy(out->rcv_saddr, &inet->inet_rcv_saddr, 4);
		memcpy(out->daddr, &inet->inet_daddr, 4);
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		struct ipv6_pinfo *np = inet6_sk(sk);

		memcpy(out->rcv_saddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(out->daddr, &sk->sk_v6_daddr, 16);
		out->ipv6only = sk->sk_ipv6only;
		out->hop_limit = READ_ONCE(np->hop_limit);
		out->tclass = READ_ONCE(np->tclass);
		out->rxopt = READ_ONCE(np->rxopt.all);
		out->mc6_list = !!rcu_access_pointer(np->ipv6_mc_list);
		if (inet_test_bit(RECVERR6, sk))
			out->inet_flags |= CKPT_H_INET_IF_RECVERR;
	}
#endif
	out->reuse = sk->sk_reuse;
	out->reuseport = sk->sk_reuseport;
	rcu_read_lock();
	reuse = rcu_dereference(sk->sk_reuseport_cb);
	out->reuseport_prog = reuse && rcu_access_pointer(reuse->prog);
	rcu_read_unlock();
	out->userlocks = READ_ONCE(sk->sk_userlocks);
	out->sock_flags = (sock_flag(sk, SOCK_KEEPOPEN) ? CKPT_H_INET_SF_KEEPOPEN : 0) |
			  (sock_flag(sk, SOCK_BROADCAST) ? CKPT_H_INET_SF_BROADCAST : 0) |
			  (sock_flag(sk, SOCK_LINGER) ? CKPT_H_INET_SF_LINGER : 0) |
			  (sock_flag(sk, SOCK_RCVTSTAMP) ? CKPT_H_INET_SF_RCVTSTAMP : 0) |
			  (sock_flag(sk, SOCK_URGINLINE) ? CKPT_H_INET_SF_URGINLINE : 0) |
			  (sock_flag(sk, SOCK_ZEROCOPY) ? CKPT_H_INET_SF_ZEROCOPY : 0) |
			  (sock_flag(sk, SOCK_RXQ_OVFL) ? CKPT_H_INET_SF_RXQ_OVFL : 0);
	out->ack_backlog = READ_ONCE(sk->sk_ack_backlog);
	out->max_ack_backlog = READ_ONCE(sk->sk_max_ack_backlog);
	out->sndbuf = READ_ONCE(sk->sk_sndbuf);
	out->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	out->priority = READ_ONCE(sk->sk_priority);
	out->mark = READ_ONCE(sk->sk_mark);
	out->rcvlowat = READ_ONCE(sk->sk_rcvlowat);
	out->shutdown = READ_ONCE(sk->sk_shutdown);
	out->err = READ_ONCE(sk->sk_err);
	out->bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);
	out->filter = !!rcu_access_pointer(sk->sk_filter);
	out->timeo = (READ_ONCE(sk->sk_rcvtimeo) != MAX_SCHEDULE_TIMEOUT) |
		     (READ_ONCE(sk->sk_sndtimeo) != MAX_SCHEDULE_TIMEOUT) << 1;
	out->rcvtimeo = READ_ONCE(sk->sk_rcvtimeo);
	out->sndtimeo = READ_ONCE(sk->sk_sndtimeo);
	out->peek_off = READ_ONCE(sk->sk_peek_off);
	out->tsflags = READ_ONCE(sk->sk_tsflags);
	out->rcv_queue = skb_queue_len_lockless(&sk->sk_receive_queue);
	out->write_queue = skb_queue_len_lockless(&sk->sk_write_queue);
	out->wmem = sk_wmem_alloc_get(sk);
	/* Datagrams on their way to a UDP receive queue (udp_prod_queue) are charged too. */
	out->rmem = sk_rmem_alloc_get(sk);
	out->hz = HZ;
	out->lingertime = READ_ONCE(sk->sk_lingertime);
	out->inet_flags |= (inet_test_bit(FREEBIND, sk) ? CKPT_H_INET_IF_FREEBIND : 0) |
			   (inet_test_bit(TRANSPARENT, sk) ? CKPT_H_INET_IF_TRANSPARENT : 0) |
			   (inet_test_bit(RECVERR, sk) ? CKPT_H_INET_IF_RECVERR : 0) |
			   (inet_test_bit(BIND_ADDRESS_NO_PORT, sk) ? CKPT_H_INET_IF_NO_PORT : 0) |
			   (inet_test_bit(HDRINCL, sk) ? CKPT_H_INET_IF_HDRINCL : 0) |
			   (rcu_access_pointer(inet->inet_opt) ? CKPT_H_INET_IF_OPTIONS : 0);
	out->cmsg_flags = inet_cmsg_flags(inet);
	out->tos = READ_ONCE(inet->tos);
	out->uc_ttl = READ_ONCE(inet->uc_ttl);
	out->mc_list = !!rcu_access_pointer(inet->mc_list);
	task_lock(task);
	net = task->nsproxy ? task->nsproxy->net_ns : NULL;
	out->other_netns = !net_eq(sock_net(sk), net);
	task_unlock(task);
	if (sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM) {
		out->reqsk_queue = inet_csk_reqsk_queue_len(sk);
		inet_tcp(sk, out);
	}
	if (sk->sk_protocol == IPPROTO_UDP && sk->sk_type == SOCK_DGRAM) {
		struct udp_sock *up = udp_sk(sk);

		out->rcv_queue += skb_queue_len_lockless(&up->reader_queue);
		out->udp_flags = READ_ONCE(up->udp_flags);
		out->udp_pending = READ_ONCE(up->pending);
		out->encap_type = READ_ONCE(up->encap_type);
		out->gso_size = READ_ONCE(up->gso_size);
	}
	release_sock(sk);
out:
	fput(file);
	return ret;
}

/* ---- epoll ------------------------------------------------------------ */

/*
 * Private to fs/eventpoll.c: an epoll instance (the private_data of its file)
 * and an item of its interest list, on its rbtree (rbn) keyed by ffd, the file
 * watched and the descriptor number it was added with. Both definitions are
 * taken from the kernel's fs/eventpoll.c at build time (Kbuild), not mirrored
 * by hand; of an item only ffd and event are read, and ffd.file is compared,
 * never followed.
 */
struct eppoll_entry;
struct wakeup_source;
#include "epitem.h"
#include "eventpoll_struct.h"

static_assert(CKPT_EPOLL_PRIVATE_BITS ==
	      (__force u32)(EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE));
static_assert(sizeof(struct ckpt_h_epoll_item) == 32 &&
	      offsetof(struct ckpt_h_epoll_item, data) == 16);

/*
 * The interest list of the epoll at @task's @epfd into @out (at most @max
 * items; -E2BIG if it has more), walked as ep_show_fdinfo walks it for
 * /proc/PID/fdinfo: the rbtree under ep->mtx, which every change of the list
 * (epoll_ctl, the close of a watched file's last reference) takes, and under
 * which an item's event is changed. Each item: the file it watches (identity
 * only), the number it was added with, its events and data, and whether
 * @task's descriptor of that number holds that file now (a close or a dup2
 * over it since EPOLL_CTL_ADD leaves the item while the file lives on
 * elsewhere). -EINVAL if @epfd is not an epoll (only fs/eventpoll.c makes
 * anonymous inodes named [eventpoll]). Returns the number of items.
 */
int ckpt_helper_task_epoll_items(struct task_struct *task, u32 epfd,
				 struct ckpt_h_epoll_item *out, u32 max)
{
	struct file *ep_file, *file;
	unsigned int n = epfd;
	struct eventpoll *ep;
	struct rb_node *rbp;
	int count = 0;

	ep_file = fget_task_next(task, &n);
	if (!ep_file)
		return -EBADF;
	if (n != epfd || !ckpt_anon_is(ep_file, CKPT_FILE_EPOLL)) {
		fput(ep_file);
		return -EINVAL;
	}
	ep = ep_file->private_data;
	mutex_lock(&ep->mtx);
	for (rbp = rb_first_cached(&ep->rbr); rbp; rbp = rb_next(rbp)) {
		struct epitem *epi = rb_entry(rbp, struct epitem, rbn);
		struct ckpt_h_epoll_item *it;

		if (count == max) {
			count = -E2BIG;
			break;
		}
		it = &out[count++];
		memset(it, 0, sizeof(*it));
		it->file = (unsigned long)epi->ffd.file;
		it->tfd = epi->ffd.fd;
		it->events = (__force u32)epi->event.events;
		it->data = epi->event.data;
		n = epi->ffd.fd;
		file = fget_task_next(task, &n);
		if (file) {
			it->at_tfd = n == (unsigned int)epi->ffd.fd && file == epi->ffd.file;
			fput(file);
		}
	}
	mutex_unlock(&ep->mtx);
	fput(ep_file);
	return count;
}

/*
 * The open file of @task's first descriptor from *@fd on, as an identity
 * (never followed), its number into *@fd; 0 when there is none.
 */
u64 ckpt_helper_task_next_file_id(struct task_struct *task, u32 *fd)
{
	unsigned int n = *fd;
	struct file *file = fget_task_next(task, &n);
	u64 id;

	if (!file)
		return 0;
	*fd = n;
	id = (unsigned long)file;
	fput(file);
	return id;
}

/* The file open at @task's @fd, with a reference; NULL if none is. */
struct file *ckpt_helper_task_file(struct task_struct *task, u32 fd)
{
	unsigned int n = fd;
	struct file *file = fget_task_next(task, &n);

	if (file && n != fd) {
		fput(file);
		return NULL;
	}
	return file;
}

static_assert(offsetof(struct ckpt_h_inode, size) == 8 &&
	      offsetof(struct ckpt_h_inode, mode) == 28 && sizeof(struct ckpt_h_inode) == 32);

/* The inode of @file: identity, size, owner (in the caller's user namespace), links. */
void ckpt_helper_file_inode(struct file *file, struct ckpt_h_inode *out)
{
	struct inode *inode = file_inode(file);

	out->id = (unsigned long)inode;
	out->size = i_size_read(inode);
	out->uid = from_kuid_munged(current_user_ns(), inode->i_uid);
	out->gid = from_kgid_munged(current_user_ns(), inode->i_gid);
	out->nlink = inode->i_nlink;
	out->mode = inode->i_mode;
}

/*
 * Whether the directory @file's dentry was in was removed too (a removed directory's
 * parent), under a reference on it.
 */
int ckpt_helper_file_parent_unlinked(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	struct dentry *parent = dget_parent(dentry);
	int ret = parent != dentry && d_unlinked(parent);

	dput(parent);
	return ret;
}

/*
 * memfd_get_seals() (not exported), for a shmem file: its seals into *@seals; -EINVAL for
 * a file that is not shmem's (hugetlbfs memfds are told apart by their s_magic).
 */
int ckpt_helper_file_shmem_seals(struct file *file, u32 *seals)
{
	if (!shmem_file(file))
		return -EINVAL;
	*seals = READ_ONCE(SHMEM_I(file_inode(file))->seals);
	return 0;
}

static_assert(offsetof(struct ckpt_h_sched, ioprio) == 12 &&
	      offsetof(struct ckpt_h_sched, nr_cpus) == 28 && sizeof(struct ckpt_h_sched) == 32);
static_assert(CONFIG_NR_CPUS <= CKPT_MAX_CPUS);

/*
 * @task's policy, priority, I/O priority and CPU affinity: cpus_mask, copied under
 * pi_lock (what __set_cpus_allowed_ptr() changes it under) into @words u64 at @mask
 * (CPU n is bit n % 64 of word n / 64). -E2BIG if they cannot hold nr_cpu_ids CPUs.
 */
int ckpt_helper_task_sched(struct task_struct *task, struct ckpt_h_sched *out, u64 *mask,
			   u32 words)
{
	unsigned long flags;
	unsigned int cpu;

	memset(out, 0, sizeof(*out));
	out->nr_cpus = nr_cpu_ids;
	if ((u64)words * 64 < nr_cpu_ids)
		return -E2BIG;
	memset(mask, 0, words * sizeof(*mask));
	raw_spin_lock_irqsave(&task->pi_lock, flags);
	out->policy = task->policy;
	out->rt_priority = task->rt_priority;
	out->reset_on_fork = task->sched_reset_on_fork;
	out->user_cpus = task->user_cpus_ptr != NULL;
	out->all_cpus = cpumask_subset(cpu_possible_mask, &task->cpus_mask);
	for_each_cpu(cpu, &task->cpus_mask)
		mask[cpu / 64] |= 1ULL << (cpu % 64);
#ifdef CONFIG_UCLAMP_TASK
	out->uclamp = task->uclamp_req[UCLAMP_MIN].user_defined ||
		      task->uclamp_req[UCLAMP_MAX].user_defined;
#endif
	raw_spin_unlock_irqrestore(&task->pi_lock, flags);
	task_lock(task);
	out->ioprio = task->io_context ? task->io_context->ioprio : 0;
	task_unlock(task);
	return 0;
}

/* @mm's def_flags (VM_LOCKED after mlockall(MCL_FUTURE)), read under its mmap lock. */
u64 ckpt_helper_mm_def_flags(struct mm_struct *mm)
{
	u64 flags;

	mmap_read_lock(mm);
	flags = mm->def_flags;
	mmap_read_unlock(mm);
	return flags;
}

/*
 * mlockall(MCL_FUTURE) of the caller, as apply_mlockall_flags() (static) sets it: every
 * area mapped from now on is locked. Rust checked can_do_mlock() first, as mlockall does.
 */
int ckpt_helper_mm_lock_future(void)
{
	struct mm_struct *mm = current->mm;

	if (!mm)
		return -EINVAL;
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	vma_flags_clear_mask(&mm->def_vma_flags, VMA_LOCKED_MASK);
	vma_flags_set(&mm->def_vma_flags, VMA_LOCKED_BIT);
	mmap_write_unlock(mm);
	return 0;
}

/* ---- inotify ---------------------------------------------------------- */

#include <linux/fsnotify_backend.h>
/* fs/notify/inotify/inotify.h: struct inotify_inode_mark, inotify_mark_user_mask. */
#include "inotify.h"

static_assert(sizeof(struct ckpt_h_inotify_watch) == 32);

/* A watch seen under the group's lock: its inode held by igrab. */
struct ckpt_inotify_mark {
	struct inode *inode;
	s32 wd;
	u32 mask;
};

/*
 * The watches of the inotify at @task's @fd, into @buf of @size bytes: each a
 * struct ckpt_h_inotify_watch and its path, padded to 8; *@count of them.
 * Returns the bytes used, -E2BIG if they do not fit, -EINVAL if @fd is no
 * inotify. The marks are read as inotify's own show_fdinfo reads them (under
 * the group's lock, each inode taken with igrab); their paths after the lock
 * is dropped, so that no dput or iput runs under it.
 */
int ckpt_helper_task_inotify(struct task_struct *task, u32 fd, void *buf, u32 size,
			     u32 *count)
{
	u32 cap = size / (sizeof(struct ckpt_h_inotify_watch) + 8), n = 0, i, off = 0;
	struct ckpt_inotify_mark *marks;
	struct fsnotify_group *group;
	struct fsnotify_mark *mark;
	unsigned int nr = fd;
	struct file *file;
	char *tmp = NULL;
	int ret = 0;

	*count = 0;
	file = fget_task_next(task, &nr);
	if (!file)
		return -EBADF;
	if (nr != fd || !ckpt_anon_is(file, CKPT_FILE_INOTIFY)) {
		fput(file);
		return -EINVAL;
	}
	marks = kvmalloc_array(cap ?: 1, sizeof(*marks), GFP_KERNEL_ACCOUNT);
	tmp = kmalloc(PATH_MAX, GFP_KERNEL_ACCOUNT);
	if (!marks || !tmp) {
		ret = -ENOMEM;
		goto out;
	}
	group = file->private_data;
	fsnotify_group_lock(group);
	list_for_each_entry(mark, &group->marks_list, g_list) {
		struct inode *inode;

		if (mark->connector->type != FSNOTIFY_OBJ_TYPE_INODE)
			continue;
		if (n == cap) {
			ret = -E2BIG;
			break;
		}
		/* An inode connector's obj is its inode (fs/notify's fsnotify_conn_inode). */
		inode = igrab(mark->connector->obj);
		if (!inode)
			continue;
		marks[n].inode = inode;
		marks[n].wd = container_of(mark, struct inotify_inode_mark, fsn_mark)->wd;
		marks[n].mask = inotify_mark_user_mask(mark);
		n++;
	}
	fsnotify_group_unlock(group);

	for (i = 0; i < n; i++) {
		struct ckpt_h_inotify_watch w = {
			.wd = marks[i].wd,
			.mask = marks[i].mask,
			.ino = marks[i].inode->i_ino,
			.dev = new_encode_dev(marks[i].inode->i_sb->s_dev),
		};
		struct dentry *dentry = d_find_alias(marks[i].inode);
		char *p = NULL;

		if (!dentry || d_unlinked(dentry)) {
			w.unlinked = 1;
		} else {
			p = dentry_path_raw(dentry, tmp, PATH_MAX);
			if (IS_ERR(p))
				p = NULL;
			else
				w.path_len = strlen(p);
		}
		if (!ret && size - off >= sizeof(w) + ALIGN(w.path_len, 8)) {
			memcpy(buf + off, &w, sizeof(w));
			off += sizeof(w);
			if (p) {
				memset(buf + off, 0, ALIGN(w.path_len, 8));
				memcpy(buf + off, p, w.path_len);
				off += ALIGN(w.path_len, 8);
			}
			(*count)++;
		} else {
			ret = -E2BIG;
		}
		dput(dentry);
		iput(marks[i].inode);
	}
	if (!ret)
		ret = off;
out:
	kfree(tmp);
	kvfree(marks);
	fput(file);
	return ret;
}

/* ---- file locks ------------------------------------------------------- */

#include <linux/filelock.h>

static_assert(sizeof(struct ckpt_h_lock) == 32 && offsetof(struct ckpt_h_lock, start) == 16);
static_assert(CKPT_H_LOCK_OWNER_OTHER == 0);
static_assert(CKPT_H_FL_POSIX == FL_POSIX && CKPT_H_FL_FLOCK == FL_FLOCK &&
	      CKPT_H_FL_DELEG == FL_DELEG && CKPT_H_FL_LEASE == FL_LEASE &&
	      CKPT_H_FL_OFDLCK == FL_OFDLCK && CKPT_H_FL_LAYOUT == FL_LAYOUT);

static void lock_to_h(struct file_lock *fl, u64 files, struct ckpt_h_lock *out)
{
	out->flags = fl->c.flc_flags;
	out->type = fl->c.flc_type;
	if ((u64)(unsigned long)fl->c.flc_owner == files)
		out->owner = CKPT_H_LOCK_OWNER_TABLE;
	else if (fl->c.flc_owner == fl->c.flc_file)
		out->owner = CKPT_H_LOCK_OWNER_FILE;
	else
		out->owner = CKPT_H_LOCK_OWNER_OTHER;
	out->pid = fl->c.flc_pid;
	out->start = fl->fl_start;
	out->end = fl->fl_end;
}

/*
 * The flock, OFD and POSIX locks of @file's inode held through @file (flc_file), read
 * under the inode's flc_lock as /proc/locks reads them, into @out (room for @room), each
 * with its owner: the descriptor table at address @files, @file itself, or another.
 * The flc_flags of the leases and delegations held through @file are or'ed into
 * *@leases first (also when the locks do not fit). Returns how many locks, or -E2BIG if
 * they do not fit.
 */
int ckpt_helper_file_locks(struct file *file, u64 files, struct ckpt_h_lock *out, u32 room,
			   u32 *leases)
{
	struct file_lock_context *ctx = locks_inode_context(file_inode(file));
	struct file_lease *lease;
	struct file_lock *fl;
	u32 n = 0;
	int ret = 0;

	*leases = 0;
	if (!ctx)
		return 0;
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(lease, &ctx->flc_lease, c.flc_list)
		if (lease->c.flc_file == file)
			*leases |= lease->c.flc_flags;
	for_each_file_lock(fl, &ctx->flc_flock) {
		if (fl->c.flc_file != file)
			continue;
		if (n == room) {
			ret = -E2BIG;
			goto out;
		}
		lock_to_h(fl, files, &out[n++]);
	}
	for_each_file_lock(fl, &ctx->flc_posix) {
		if (fl->c.flc_file != file)
			continue;
		if (n == room) {
			ret = -E2BIG;
			goto out;
		}
		lock_to_h(fl, files, &out[n++]);
	}
	ret = n;
out:
	spin_unlock(&ctx->flc_lock);
	return ret;
}

/* ---- owners of open file descriptions (F_SETOWN) ----------------------- */

static_assert(sizeof(struct ckpt_h_fown) == 24);

/*
 * The owner of descriptor @fd of @task into @out: its pid numbered in @ns (0
 * when @ns does not see it), its type, the uid and euid
 * F_SETOWN recorded (in the caller's user namespace), F_SETSIG's signal. The
 * owner is read under its lock, as f_getown_ex() does. -EBADF if @fd is not
 * open any more.
 */
int ckpt_helper_task_fown(struct task_struct *task, u32 fd, struct pid_namespace *ns,
			  struct ckpt_h_fown *out)
{
	struct user_namespace *user_ns = current_user_ns();
	struct fown_struct *o;
	struct file *file;
	unsigned int n = fd;

	memset(out, 0, sizeof(*out));
	file = fget_task_next(task, &n);
	if (!file)
		return -EBADF;
	if (n != fd) {
		fput(file);
		return -EBADF;
	}
	o = file_f_owner(file);
	if (o) {
		read_lock_irq(&o->lock);
		if (o->pid) {
			out->owned = 1;
			out->pid = pid_nr_ns(o->pid, ns);
			out->pid_type = o->pid_type;
			out->uid = from_kuid_munged(user_ns, o->uid);
			out->euid = from_kuid_munged(user_ns, o->euid);
		}
		read_unlock_irq(&o->lock);
		out->signum = READ_ONCE(o->signum);
	}
	fput(file);
	return 0;
}

/* ---- SysV IPC of a container's IPC namespace --------------------------- */

/*
 * Private to ipc/shm.c, msg.c, msgutil.c, sem.c and mqueue.c: taken from the kernel's
 * source at build time (scripts/ipc_private.sh), not mirrored by hand.
 */
#include <linux/msg.h>
#include <linux/hugetlb.h>
#include <linux/mqueue.h>
#include <linux/mount.h>
#include "ipc_private.h"

static_assert(sizeof(struct ckpt_h_shm) == 16 && sizeof(struct ckpt_h_msq) == 32);
static_assert(sizeof(struct ckpt_ipc_perm) == 32 && sizeof(struct ckpt_sysv_msg_rec) == 16);

/* @task's IPC namespace, counted (ckpt_helper_put_ipc_ns), or NULL once it exited. */
struct ipc_namespace *ckpt_helper_task_ipc_ns(struct task_struct *task)
{
	struct ipc_namespace *ns = NULL;

	task_lock(task);
	if (task->nsproxy)
		ns = get_ipc_ns(task->nsproxy->ipc_ns);
	task_unlock(task);
	return ns;
}

void ckpt_helper_put_ipc_ns(struct ipc_namespace *ns)
{
	put_ipc_ns(ns);
}

/* The sysctls of @ns (the counts of objects are the caller's). */
void ckpt_helper_ipc_limits(struct ipc_namespace *ns, struct ckpt_ipc_ns_rec *out)
{
	memset(out, 0, sizeof(*out));
	out->shm_ctlmax = READ_ONCE(ns->shm_ctlmax);
	out->shm_ctlall = READ_ONCE(ns->shm_ctlall);
	out->shm_ctlmni = READ_ONCE(ns->shm_ctlmni);
	out->shm_rmid_forced = READ_ONCE(ns->shm_rmid_forced);
	out->msg_ctlmax = READ_ONCE(ns->msg_ctlmax);
	out->msg_ctlmnb = READ_ONCE(ns->msg_ctlmnb);
	out->msg_ctlmni = READ_ONCE(ns->msg_ctlmni);
	for (int i = 0; i < 4; i++)
		out->sem_ctls[i] = READ_ONCE(ns->sem_ctls[i]);
#ifdef CONFIG_POSIX_MQUEUE
	out->mq_queues_max = READ_ONCE(ns->mq_queues_max);
	out->mq_msg_max = READ_ONCE(ns->mq_msg_max);
	out->mq_msgsize_max = READ_ONCE(ns->mq_msgsize_max);
	out->mq_msg_default = READ_ONCE(ns->mq_msg_default);
	out->mq_msgsize_default = READ_ONCE(ns->mq_msgsize_default);
#endif
}

/*
 * The objects of one kind (ipc/util.h's IPC_SEM_IDS 0, IPC_MSG_IDS 1, IPC_SHM_IDS 2) are
 * read under their ids' rwsem, taken for reading: no object is made, removed or has its
 * owner or mode changed (IPC_SET) meanwhile, and each one found stays valid.
 */
int ckpt_helper_ipc_ids_lock(struct ipc_namespace *ns, int kind)
{
	return down_read_killable(&ns->ids[kind].rwsem);
}

void ckpt_helper_ipc_ids_unlock(struct ipc_namespace *ns, int kind)
{
	up_read(&ns->ids[kind].rwsem);
}

/* Under the ids' rwsem: the object at index *@idx or the next one (*@idx moved to it). */
struct kern_ipc_perm *ckpt_helper_ipc_next(struct ipc_namespace *ns, int kind, int *idx)
{
	return idr_get_next(&ns->ids[kind].ipcs_idr, idx);
}

/* What every object has, owners in the caller's user namespace. */
void ckpt_helper_ipc_perm(struct kern_ipc_perm *p, struct ckpt_ipc_perm *out)
{
	struct user_namespace *user_ns = current_user_ns();

	memset(out, 0, sizeof(*out));
	spin_lock(&p->lock);
	out->key = p->key;
	out->id = p->id;
	out->uid = from_kuid_munged(user_ns, p->uid);
	out->gid = from_kgid_munged(user_ns, p->gid);
	out->cuid = from_kuid_munged(user_ns, p->cuid);
	out->cgid = from_kgid_munged(user_ns, p->cgid);
	out->mode = p->mode;
	spin_unlock(&p->lock);
}

/* A segment's size, attaches and whether it is hugetlb; returns its file, counted. */
struct file *ckpt_helper_shm(struct kern_ipc_perm *p, struct ckpt_h_shm *out)
{
	struct shmid_kernel *shp = container_of(p, struct shmid_kernel, shm_perm);
	struct file *file;

	memset(out, 0, sizeof(*out));
	spin_lock(&p->lock);
	out->size = shp->shm_segsz;
	out->nattch = shp->shm_nattch;
	file = get_file(shp->shm_file);
	spin_unlock(&p->lock);
	out->hugetlb = is_file_hugepages(file);
	return file;
}

/*
 * The segment an attach maps (@file: the attach's own file, a memory area's vm_file, of
 * ckpt_helper_file_is_sysv_shm): identity only, never dereferenced by Rust; and its id.
 */
struct file *ckpt_helper_shm_attach_segment(struct file *file, int *id)
{
	struct shm_file_data *sfd = file->private_data;

	*id = sfd->id;
	return sfd->file;
}

/* A queue's limit, messages, bytes and longest message. */
void ckpt_helper_msq(struct kern_ipc_perm *p, struct ckpt_h_msq *out)
{
	struct msg_queue *msq = container_of(p, struct msg_queue, q_perm);
	struct msg_msg *msg;

	memset(out, 0, sizeof(*out));
	spin_lock(&p->lock);
	out->qbytes = msq->q_qbytes;
	out->qnum = msq->q_qnum;
	out->cbytes = msq->q_cbytes;
	list_for_each_entry(msg, &msq->q_messages, m_list)
		out->longest = max_t(u64, out->longest, msg->m_ts);
	spin_unlock(&p->lock);
}

/* Copies one message's text, from its msg_msg and the segments after it, to @to. */
static void ckpt_msg_text(struct msg_msg *msg, char *to)
{
	size_t left = msg->m_ts, n = min(left, DATALEN_MSG);
	struct msg_msgseg *seg;

	memcpy(to, msg + 1, n);
	to += n;
	left -= n;
	for (seg = msg->next; seg && left; seg = seg->next) {
		n = min(left, DATALEN_SEG);
		memcpy(to, seg + 1, n);
		to += n;
		left -= n;
	}
}

/*
 * The messages of a queue of @qnum messages, first received first, into @buf of @len
 * bytes: each a struct ckpt_sysv_msg_rec then its text padded to 8 bytes, as the SYSV_MSG
 * records' payloads. Returns the bytes written; -EAGAIN if the queue no longer has @qnum
 * messages or they no longer fit (a process outside the tree changed it).
 */
long ckpt_helper_msq_copy(struct kern_ipc_perm *p, void *buf, size_t len, u64 qnum)
{
	struct msg_queue *msq = container_of(p, struct msg_queue, q_perm);
	struct msg_msg *msg;
	size_t used = 0;
	long ret = 0;

	spin_lock(&p->lock);
	if (msq->q_qnum != qnum) {
		ret = -EAGAIN;
		goto out;
	}
	list_for_each_entry(msg, &msq->q_messages, m_list) {
		struct ckpt_sysv_msg_rec h = { .mtype = msg->m_type, .len = msg->m_ts };

		if (len - used < sizeof(h) || len - used - sizeof(h) < ALIGN(msg->m_ts, 8)) {
			ret = -EAGAIN;
			goto out;
		}
		memcpy(buf + used, &h, sizeof(h));
		ckpt_msg_text(msg, buf + used + sizeof(h));
		memset(buf + used + sizeof(h) + msg->m_ts, 0, ALIGN(msg->m_ts, 8) - msg->m_ts);
		used += sizeof(h) + ALIGN(msg->m_ts, 8);
	}
	ret = used;
out:
	spin_unlock(&p->lock);
	return ret;
}

/* A set's semaphores, and whether some process has undo adjustments for it. */
u32 ckpt_helper_sem_nsems(struct kern_ipc_perm *p, u32 *undo)
{
	struct sem_array *sma = container_of(p, struct sem_array, sem_perm);
	u32 n;

	spin_lock(&p->lock);
	n = sma->sem_nsems;
	*undo = !list_empty(&sma->list_id);
	spin_unlock(&p->lock);
	return n;
}

/* The values of the @n semaphores of a set of @n (-EINVAL for another count). */
int ckpt_helper_sem_values(struct kern_ipc_perm *p, s32 *vals, u32 n)
{
	struct sem_array *sma = container_of(p, struct sem_array, sem_perm);
	int ret = 0;

	spin_lock(&p->lock);
	if (n != sma->sem_nsems) {
		ret = -EINVAL;
	} else {
		for (u32 i = 0; i < n; i++)
			vals[i] = READ_ONCE(sma->sems[i].semval);
	}
	spin_unlock(&p->lock);
	return ret;
}

/*
 * POSIX message queues of an IPC namespace: the files of the root of its mqueue mount.
 * Its directory's inode lock, taken shared, keeps queues from being made or unlinked
 * (mq_open with O_CREAT and mq_unlink take it exclusive).
 */
static struct dentry *ckpt_mq_root(struct ipc_namespace *ns)
{
#ifdef CONFIG_POSIX_MQUEUE
	return ns->mq_mnt ? ns->mq_mnt->mnt_root : NULL;
#else
	return NULL;
#endif
}

int ckpt_helper_mq_lock(struct ipc_namespace *ns)
{
	struct dentry *root = ckpt_mq_root(ns);

	return root ? inode_lock_shared_killable(d_inode(root)) : 0;
}

void ckpt_helper_mq_unlock(struct ipc_namespace *ns)
{
	struct dentry *root = ckpt_mq_root(ns);

	if (root)
		inode_unlock_shared(d_inode(root));
}

/* Under the lock: the @n-th queue of @ns (a positive child of the root), counted; NULL after the last. */
struct dentry *ckpt_helper_mq_nth(struct ipc_namespace *ns, u32 n)
{
	struct dentry *root = ckpt_mq_root(ns), *d, *found = NULL;
	u32 i = 0;

	if (!root)
		return NULL;
	spin_lock(&root->d_lock);
	hlist_for_each_entry(d, &root->d_children, d_sib) {
		spin_lock_nested(&d->d_lock, DENTRY_D_LOCK_NESTED);
		if (d_really_is_positive(d) && i++ == n) {
			found = dget_dlock(d);
			spin_unlock(&d->d_lock);
			break;
		}
		spin_unlock(&d->d_lock);
	}
	spin_unlock(&root->d_lock);
	return found;
}

void ckpt_helper_dput(struct dentry *d)
{
	dput(d);
}

/*
 * A queue's attributes, owner, mode and name ("/" and at most NAME_MAX bytes, NUL-ended,
 * into @name of CKPT_MQ_NAME_MAX + 1), whether a process is registered for notification,
 * and its messages' bytes and longest.
 */
void ckpt_helper_mq(struct dentry *d, struct ckpt_h_mq *out, char *name)
{
	struct inode *inode = d_inode(d);
	struct mqueue_inode_info *info = container_of(inode, struct mqueue_inode_info, vfs_inode);
	struct user_namespace *user_ns = current_user_ns();
	struct posix_msg_tree_node *leaf;
	struct rb_node *node;
	struct msg_msg *msg;

	memset(out, 0, sizeof(*out));
	name[0] = '/';
	spin_lock(&d->d_lock);
	strscpy(name + 1, d->d_name.name, CKPT_MQ_NAME_MAX);
	spin_unlock(&d->d_lock);
	out->uid = from_kuid_munged(user_ns, inode->i_uid);
	out->gid = from_kgid_munged(user_ns, inode->i_gid);
	out->mode = inode->i_mode;
	spin_lock(&info->lock);
	out->maxmsg = info->attr.mq_maxmsg;
	out->msgsize = info->attr.mq_msgsize;
	out->curmsgs = info->attr.mq_curmsgs;
	out->notify = info->notify_owner != NULL;
	for (node = rb_last(&info->msg_tree); node; node = rb_prev(node)) {
		leaf = rb_entry(node, struct posix_msg_tree_node, rb_node);
		list_for_each_entry(msg, &leaf->msg_list, m_list) {
			out->bytes += msg->m_ts;
			out->longest = max_t(u64, out->longest, msg->m_ts);
		}
	}
	spin_unlock(&info->lock);
}

/*
 * The messages of a queue of @curmsgs messages, first received first (highest priority
 * first), into @buf of @len bytes: each a struct ckpt_mq_msg_rec then its text padded to 8
 * bytes. Returns the bytes written; -EAGAIN if the queue changed meanwhile.
 */
long ckpt_helper_mq_copy(struct dentry *d, void *buf, size_t len, u64 curmsgs)
{
	struct mqueue_inode_info *info = container_of(d_inode(d), struct mqueue_inode_info,
						      vfs_inode);
	struct posix_msg_tree_node *leaf;
	struct rb_node *node;
	struct msg_msg *msg;
	size_t used = 0;
	u64 seen = 0;
	long ret;

	spin_lock(&info->lock);
	if (info->attr.mq_curmsgs != curmsgs) {
		ret = -EAGAIN;
		goto out;
	}
	for (node = rb_last(&info->msg_tree); node; node = rb_prev(node)) {
		leaf = rb_entry(node, struct posix_msg_tree_node, rb_node);
		list_for_each_entry(msg, &leaf->msg_list, m_list) {
			struct ckpt_mq_msg_rec h = { .prio = leaf->priority, .len = msg->m_ts };

			if (len - used < sizeof(h) ||
			    len - used - sizeof(h) < ALIGN(msg->m_ts, 8)) {
				ret = -EAGAIN;
				goto out;
			}
			memcpy(buf + used, &h, sizeof(h));
			ckpt_msg_text(msg, buf + used + sizeof(h));
			memset(buf + used + sizeof(h) + msg->m_ts, 0,
			       ALIGN(msg->m_ts, 8) - msg->m_ts);
			used += sizeof(h) + ALIGN(msg->m_ts, 8);
			seen++;
		}
	}
	ret = seen == curmsgs ? used : -EAGAIN;
out:
	spin_unlock(&info->lock);
	return ret;
}

/*
 * Whether @file is a POSIX message queue: 0 no; 1 a queue of @ns (NULL: none is), its
 * name copied to @name (as ckpt_helper_mq's); -EXDEV a queue of another IPC namespace;
 * -ENOENT a queue of @ns unlinked since it was opened.
 */
int ckpt_helper_file_mq(struct file *file, struct ipc_namespace *ns, char *name)
{
	struct super_block *sb = file_inode(file)->i_sb;
	struct dentry *root = ns ? ckpt_mq_root(ns) : NULL;
	struct dentry *d = file->f_path.dentry;

	if (sb->s_magic != MQUEUE_MAGIC)
		return 0;
	if (!root || sb != root->d_sb)
		return -EXDEV;
	if (!file_inode(file)->i_nlink || d_unhashed(d))
		return -ENOENT;
	name[0] = '/';
	spin_lock(&d->d_lock);
	strscpy(name + 1, d->d_name.name, CKPT_MQ_NAME_MAX);
	spin_unlock(&d->d_lock);
	return 1;
}

/* The s_magic of an mqueue file's super block (MQUEUE_MAGIC is private to ipc/mqueue.c). */
u64 ckpt_helper_mq_magic(void)
{
	return MQUEUE_MAGIC;
}

/*
 * The identity of @task's list of SysV undo adjustments (task->sysvsem.undo_list, shared
 * by CLONE_SYSVSEM), never dereferenced by Rust; 0 if it has none or an empty one.
 */
u64 ckpt_helper_task_undo_list(struct task_struct *task)
{
	u64 id = 0;

	task_lock(task);
#ifdef CONFIG_SYSVIPC
	if (task->sysvsem.undo_list) {
		struct sem_undo_list *u = task->sysvsem.undo_list;

		spin_lock(&u->lock);
		if (!list_empty(&u->list_proc))
			id = (unsigned long)u;
		spin_unlock(&u->lock);
	}
#endif
	task_unlock(task);
	return id;
}

/*
 * The @idx-th undo entry of a set of @n semaphores (under its lock, which guards the list
 * of its entries): the identity of the undo list it belongs to (as
 * ckpt_helper_task_undo_list's) into @ulp and its @n adjustments into @adj. Returns 1, 0
 * after the last entry, -EINVAL if the set has not @n semaphores.
 */
int ckpt_helper_sem_undo(struct kern_ipc_perm *p, u32 idx, u64 *ulp, s32 *adj, u32 n)
{
	struct sem_array *sma = container_of(p, struct sem_array, sem_perm);
	struct sem_undo *un;
	int ret = 0;
	u32 i = 0;

	spin_lock(&p->lock);
	if (n != sma->sem_nsems) {
		ret = -EINVAL;
		goto out;
	}
	list_for_each_entry(un, &sma->list_id, list_id) {
		if (i++ != idx)
			continue;
		*ulp = (unsigned long)un->ulp;
		for (u32 k = 0; k < n; k++)
			adj[k] = READ_ONCE(un->semadj[k]);
		ret = 1;
		break;
	}
out:
	spin_unlock(&p->lock);
	return ret;
}
