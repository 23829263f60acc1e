/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers linked into ckpt.ko. They exist only for what the kernel offers
 * as static inline functions, macros, locks and iteration macros that Rust
 * cannot take (the comment of each says which). They carry no policy: what is
 * supported and what is refused is decided in Rust. They fill the image
 * records of uapi/linux/checkpoint_image.h directly, or, for facts that are
 * not a record, the few structs below. Their only caller is kmod/sys/.
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
	u32 sem_undo;		/* SysV semaphore undo list in use */
	u32 mdwe;		/* PR_SET_MDWE: memory-deny-write-execute */
	u32 seccomp_mode;	/* task->seccomp.mode */
};

/*
 * A task's namespaces but pid, by the addresses of their structs (identity only, never
 * dereferenced by Rust), all 0 once it has exited: CKPT_H_NS_* index them.
 */
enum {
	CKPT_H_NS_UTS, CKPT_H_NS_IPC, CKPT_H_NS_MNT, CKPT_H_NS_NET, CKPT_H_NS_CGROUP,
	CKPT_H_NS_TIME, CKPT_H_NS_USER, CKPT_H_NS_KINDS
};
struct ckpt_h_ns {
	u64 ids[CKPT_H_NS_KINDS];
};

/*
 * The devices of a network namespace and their addresses, read under RCU: nr_devs and
 * nr_addrs count them all, the first CKPT_H_NET_DEVS and CKPT_H_NET_ADDRS are described.
 */
#define CKPT_H_NET_DEVS		4
#define CKPT_H_NET_ADDRS	8
struct ckpt_h_netdev {
	char name[16];		/* IFNAMSIZ, NUL-terminated */
	u32 flags;		/* dev->flags: IFF_UP, IFF_LOOPBACK... */
	u32 __pad;
};
struct ckpt_h_netaddr {
	u8 addr[16];		/* ifa_local (4 bytes) or the IPv6 address */
	u32 dev;		/* its device's place among all (devs[] holds the first ones) */
	u32 family;		/* AF_INET or AF_INET6 */
	u32 prefixlen;
	u32 __pad;
};
struct ckpt_h_netns {
	u32 nr_devs, nr_addrs;
	struct ckpt_h_netdev devs[CKPT_H_NET_DEVS];
	struct ckpt_h_netaddr addrs[CKPT_H_NET_ADDRS];
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
	u32 mm_users;		/* mm_users: its tasks, and whoever holds it a moment (mmget) */
	u32 reserved;
	u64 mm, files, fs, sighand;
};

/* What Rust needs to classify a descriptor, besides its ckpt_file_rec fields. */
struct ckpt_h_fd {
	u64 file_id;		/* the struct file's address: identity only */
	u64 pipe_id;		/* a pipe's or FIFO's pipe_inode_info, else 0 */
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
void ckpt_helper_task_ns(struct task_struct *task, struct ckpt_h_ns *out);
int ckpt_helper_task_uts(struct task_struct *task, struct ckpt_uts_ns_rec *uts);
int ckpt_helper_task_timens(struct task_struct *task, struct ckpt_time_ns_rec *out,
			    bool *pending);
int ckpt_helper_task_netns(struct task_struct *task, struct ckpt_h_netns *out);
void ckpt_helper_task_info(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_task_rec *out);
void ckpt_helper_task_tree(struct task_struct *task, struct pid_namespace *ns,
			   struct ckpt_tree_entry *entry, struct ckpt_h_tree *out);
int ckpt_helper_task_relatives(struct task_struct *task, struct pid_namespace *ns,
			       s32 *out, u32 max);
int ckpt_helper_task_pipe_data(struct task_struct *task, u32 fd, void *buf, u32 size,
			       u32 *capacity);
int ckpt_helper_file_pipe_data(struct file *file, void *buf, u32 size, u32 *capacity);
void ckpt_helper_task_rlimits(struct task_struct *task, struct ckpt_rlimits_rec *out);

/*
 * What ptrace's own rules grant the caller over @task (Rust decides what to refuse):
 * the rules of __ptrace_may_access() and ptracer_access_allowed(), not exported.
 */
struct ckpt_h_access {
	u32 same_creds;		/* caller's uid and gid are the task's real, effective and saved ones */
	u32 creds_capable;	/* caller has CAP_SYS_PTRACE in the user ns of the task's creds */
	u32 dumpable;		/* the task's exec state is TASK_DUMPABLE_OWNER */
	u32 exec_capable;	/* caller has CAP_SYS_PTRACE in the user ns of the task's exec */
};

void ckpt_helper_task_access(struct task_struct *task, struct ckpt_h_access *out);
/* A task's root or working directory (ckpt_helper_task_fs_path). */
struct ckpt_h_fs_dir {
	u32 unlinked;		/* the directory was removed */
	u32 parent_unlinked;	/* so was the directory it was in */
	u32 mode;		/* its inode's i_mode */
	u32 uid;		/* its owner, in the caller's user namespace */
	u32 gid;
};

int ckpt_helper_task_fs_path(struct task_struct *task, int pwd, char *buf, int len,
			     struct ckpt_h_fs_dir *out);
void ckpt_helper_task_sigactions(struct task_struct *task, struct ckpt_sighand_rec *out);
int ckpt_helper_task_signals(struct task_struct *task, struct ckpt_signals_rec *out,
			     struct ckpt_h_pending *pending, struct ckpt_siginfo_rec *infos,
			     u32 max);
int ckpt_helper_task_next_fd(struct task_struct *task, u32 *fd, struct ckpt_file_rec *rec,
			     struct ckpt_h_fd *out, char *path, u32 path_size);
int ckpt_helper_file_facts(struct file *file, struct ckpt_file_rec *rec,
			   struct ckpt_h_fd *out, char *path, u32 path_size);
int ckpt_helper_task_regset(struct task_struct *task, u32 note_type, void **data);
void *ckpt_helper_charge_to_root(void);
void ckpt_helper_charge_restore(void *old);
int ckpt_helper_fault_in_write(unsigned long addr);
u64 ckpt_helper_xfeatures(void);

/* Memory */
/*
 * What ckpt_helper_mm_vmas tells of an area beside its VMA record, in which
 * it fills start, end, pgoff, vm_flags and shm_size.
 */
struct ckpt_h_vma_extra {
	struct file *file;	/* a reference, or NULL */
	/* MAP_SHARED|MAP_ANONYMOUS (a private shmem inode): its address (identity only), else 0 */
	u64 shm_id;
	u32 exe;		/* maps the mm's executable file (/proc/PID/exe) */
	u32 named;		/* vm_ops->name() gave a name (special mappings) */
	char name[24];		/* that name, NUL-terminated, truncated */
};

/* ckpt_helper_page_flags() */
#define CKPT_H_PAGE_ZERO	1	/* the zero page or the huge zero folio */
#define CKPT_H_PAGE_ANON	2	/* PageAnon() */
#define CKPT_H_PAGE_SHARED	4	/* anonymous, maybe mapped by more than one mm */

int ckpt_helper_mm_vmas(struct mm_struct *mm, struct ckpt_vma_rec *recs,
			struct ckpt_h_vma_extra *extra, u32 max);
long ckpt_helper_get_pages(struct mm_struct *mm, u64 start, u32 n, struct page **pages);
long ckpt_helper_cached_pages(struct file *file, u64 index, u32 n, struct page **pages);
void ckpt_helper_copy_pages(struct page *const *pages, u32 n, void *buf);
void ckpt_helper_put_pages(struct page **pages, u32 n);
void ckpt_helper_get_page(struct page *page);
u32 ckpt_helper_page_flags(struct page *page);

/* Restart: all of these act on the calling task (current). */
u64 ckpt_helper_task_size(void);
int ckpt_helper_set_mm_layout(const struct ckpt_mm_rec *m);
int ckpt_helper_set_exe_file(struct file *file);
struct pt_regs *ckpt_helper_current_pt_regs(void);
void ckpt_helper_set_fsbase(u64 base);
u64 ckpt_helper_task_size_max(void);
int ckpt_helper_rseq_sync(void);
struct file *ckpt_helper_shm_create(u64 size);
struct user_namespace *ckpt_helper_exe_grant(void);
void ckpt_helper_put_user_ns(struct user_namespace *ns);
int ckpt_helper_checkpoint_restore_capable(struct user_namespace *granted);
u64 ckpt_helper_nofile_limit(void);
int ckpt_helper_file_noexec(struct file *file);
int ckpt_helper_file_may_exec(struct file *file);

/* Refusals at checkpoint of what restart could not rebuild. */
int ckpt_helper_file_is_sysv_shm(struct file *file);

/* Timers of a process (kmod/timers.rs decides). */

/* ITIMER_REAL as do_getitimer() reads it, under siglock. */
struct ckpt_h_itimer_real {
	s64 remaining;		/* __hrtimer_get_remaining(&real_timer, true), ns */
	u64 interval;		/* it_real_incr, ns */
	u32 active;		/* hrtimer_active(&real_timer) */
	u32 sigalrm_pending;	/* for the process or one of its threads: its dequeue re-arms */
};

/*
 * ITIMER_VIRTUAL and ITIMER_PROF of a process (signal->it[], under siglock), and its CPU
 * clocks then, as posix-cpu-timers samples them (cpu_clock_sample_group()).
 */
struct ckpt_h_itimers_cpu {
	u64 expires[2];		/* it[CPUCLOCK_PROF], it[CPUCLOCK_VIRT]: on the clock, 0 if disarmed */
	u64 incr[2];		/* their intervals, ns */
	u64 now[3];		/* the process's clocks: CPUCLOCK_PROF, _VIRT, _SCHED, ns */
	u64 tick_ns;		/* TICK_NSEC: what getitimer() says of an expired one */
	u32 sampled;		/* now[] was read (never with CONFIG_VIRT_CPU_ACCOUNTING_GEN) */
	u32 __pad;
};

/* ckpt_h_posix_timer::kind (kmod/sys/timers.rs has them too) */
#define CKPT_H_TIMER_HRTIMER	1
#define CKPT_H_TIMER_CPU	2

/*
 * One timer_create() timer, read under its it_lock. For kind HRTIMER (REALTIME,
 * MONOTONIC, BOOTTIME, TAI) and CPU (a CPU clock of this process or of a live thread of
 * it, sampled), target and remaining are read: remaining is __hrtimer_get_remaining(timer,
 * false), or the CPU timer's expiry less its clock's sample (what posix_cpu_timer_get()
 * compares), <= 0 once expired; clock_pid is the CPU clock's process or thread in @ns.
 * A CPU timer is disarmed when it has no expiry (as posix_cpu_timer_get() tells).
 */
struct ckpt_h_posix_timer {
	s32 id, clock, notify, signo;
	s32 target;		/* pid_nr_ns(it_pid) */
	u32 kind;		/* CKPT_H_TIMER_*, or 0 */
	u32 armed;		/* it_status is POSIX_TIMER_ARMED */
	u32 disarmed;		/* it_status is POSIX_TIMER_DISARMED */
	s64 overrun_last;	/* it_overrun_last: what timer_getoverrun() returns */
	s64 remaining;		/* ns */
	s64 interval;		/* it_interval, ns */
	u64 value;		/* sigev_value */
	u32 pending;		/* its own signal (sigq) is queued, and not stale */
	s32 clock_pid;
};

void ckpt_helper_task_itimer_real(struct task_struct *task, struct ckpt_h_itimer_real *out);
void ckpt_helper_task_itimers_cpu(struct task_struct *task, struct ckpt_h_itimers_cpu *out);
int ckpt_helper_set_timer_overrun(s32 id, s64 overrun);
int ckpt_helper_task_posix_timers(struct task_struct *task, struct pid_namespace *ns,
				  struct ckpt_h_posix_timer *out, u32 max);
/* Unix sockets (kmod/unix.rs): what a socket's fd shows, read under its locks. */
struct ckpt_h_unix {
	u64 sock;		/* the struct sock's address: identity only */
	u64 peer;		/* unix_peer(), else 0 */
	u64 addr;		/* the struct unix_address it is bound to, else 0 */
	u32 family, type;	/* sk_family, sk_type */
	u32 state;		/* CKPT_UNIX_STATE_LISTENING, _CONNECTED (a peer) or _UNCONNECTED */
	u32 shutdown;		/* sk_shutdown */
	u32 peer_dead;		/* the peer was closed (SOCK_DEAD) */
	u32 peer_embryo;	/* the peer has no socket: not accepted yet */
	u32 peer_shutdown;	/* its sk_shutdown */
	u32 peer_back;		/* unix_peer(peer) is this socket */
	u32 backlog, sndbuf, rcvbuf, userlocks;
	u32 scm_flags;		/* sk_scm_recv_flags (SO_PASSCRED, SO_PASSSEC, ...) */
	u32 fds_in_flight;	/* scm_stat.nr_fds: SCM_RIGHTS descriptors queued */
	u32 oob;		/* an out-of-band byte is queued */
	s32 peek_off;		/* SO_PEEK_OFF, -1 when off */
	u32 timeo;		/* bit 0: SO_RCVTIMEO set, bit 1: SO_SNDTIMEO set */
	s32 rcvlowat;
	u32 filter;		/* a socket filter is attached */
	u32 foreign;		/* queued messages sent by another socket than the peer */
	u32 with_fds;		/* queued messages carrying descriptors */
	u32 queued;		/* messages queued (a listening socket's: connections) */
	u32 bytes;		/* bytes queued, unread, copied into the buffer */
	u32 name_len;		/* of name: addr->len less sun_family */
	u32 path_state;		/* CKPT_H_UNIX_PATH_* */
	u32 path_len;		/* of the bound file's path in the path buffer */
	u8 name[108];		/* sun_path as bound */
	u32 read_opts;		/* CKPT_H_UNIX_OPT_*: options that change what is read */
	u64 rcvtimeo, sndtimeo;	/* sk_rcvtimeo, sk_sndtimeo: jiffies, LONG_MAX for none */
	u32 hz;			/* HZ */
	s32 cred_pid;		/* sk_peer_pid in the namespace asked, 0: none or not there */
	u32 has_cred;		/* sk_peer_cred is set */
	u32 cred_uid, cred_gid;	/* its euid, egid in the caller's user namespace */
	u32 __reserved2;
};

#define CKPT_H_UNIX_PATH_NONE	0	/* unbound or abstract */
#define CKPT_H_UNIX_PATH_BOUND	1	/* bound to a file, its path in the buffer */
#define CKPT_H_UNIX_PATH_GONE	2	/* bound to a file since unlinked */

#define CKPT_H_UNIX_OPT_TIMESTAMP	(1 << 0)	/* SOCK_RCVTSTAMP: SO_TIMESTAMP */
#define CKPT_H_UNIX_OPT_TIMESTAMPNS	(1 << 1)	/* SOCK_RCVTSTAMPNS: SO_TIMESTAMPNS */
#define CKPT_H_UNIX_OPT_TIMESTAMPING	(1 << 2)	/* sk_tsflags: SO_TIMESTAMPING */
#define CKPT_H_UNIX_OPT_INQ		(1 << 3)	/* recvmsg_inq: SO_INQ */
#define CKPT_H_UNIX_OPT_RIGHTS_NOTRUNC	(1 << 4)	/* scm_rights_notrunc: SO_RIGHTS_NOTRUNC */
#define CKPT_H_UNIX_OPT_OOBINLINE	(1 << 5)	/* SOCK_URGINLINE: SO_OOBINLINE */

/*
 * The descriptors in flight in a unix socket's receive queue: a reference on each file
 * into files (at most max_files), how many each message carries into counts (as lens).
 */
struct ckpt_h_unix_fds {
	struct file **files;
	u32 *counts;
	u32 max_files;
	u32 nr_files;
};

/* embryo: 0 for the socket at fd, else 1 + the place of a connection in its backlog. */
int ckpt_helper_task_unix(struct task_struct *task, u32 fd, u32 embryo,
			  struct pid_namespace *ns, struct ckpt_h_unix *out, void *buf,
			  u32 size, u32 *lens, u32 max_msgs, char *path, u32 path_size,
			  struct ckpt_h_unix_fds *fds);
/* Peer credentials at restart (kmod/session.rs decides, these only do). */
struct ckpt_h_ids_may {
	u32 uid_valid, gid_valid;	/* the ids map in the caller's user namespace */
	u32 uid_own, gid_own;		/* one of the caller's real, effective, saved ids */
	u32 setuid, setgid;		/* CAP_SETUID, CAP_SETGID in its user namespace */
};
void ckpt_helper_ids_may(u32 uid, u32 gid, struct ckpt_h_ids_may *out);
const struct cred *ckpt_helper_peer_cred(u32 uid, u32 gid);
void ckpt_helper_put_cred(const struct cred *cred);
struct pid *ckpt_helper_current_tgid(s32 *nr);
int ckpt_helper_pid_registered(struct pid *pid);
int ckpt_helper_unix_set_peer(struct file *file, u32 embryo, struct pid *pid,
			      const struct cred *cred);
u64 ckpt_helper_file_unix_sock(struct file *file);
/* eventfd, timerfd, signalfd: their show_fdinfo text. */
int ckpt_helper_task_fdinfo(struct task_struct *task, u32 fd, u32 kind, char *buf,
			    u32 size, s64 *real_ns);
/* epoll (kmod/epoll.rs): its items, read under its mutex; the files of a table. */
struct ckpt_h_epoll_item {
	u64 file;		/* the struct file watched: identity only */
	s32 tfd;		/* the descriptor number of EPOLL_CTL_ADD */
	u32 events;		/* epitem event.events */
	u64 data;		/* epitem event.data */
	u32 at_tfd;		/* the task's descriptor tfd holds that file */
	u32 __pad;
};

int ckpt_helper_task_epoll_items(struct task_struct *task, u32 epfd,
				 struct ckpt_h_epoll_item *out, u32 max);
u64 ckpt_helper_task_next_file_id(struct task_struct *task, u32 *fd);

/* TCP and UDP sockets (kmod/inet.rs): what a socket's fd shows, read under lock_sock. */
struct ckpt_h_inet {
	u32 family, type, protocol, state;	/* sk_family, sk_type, sk_protocol, sk_state */
	u32 num;		/* inet_num: the local port */
	u32 dport;		/* the peer's port, host order */
	u8 rcv_saddr[16];	/* inet_rcv_saddr (4 bytes) or sk_v6_rcv_saddr */
	u8 daddr[16];		/* inet_daddr or sk_v6_daddr */
	u32 reuse, reuseport;	/* sk_reuse, sk_reuseport */
	u32 reuseport_prog;	/* its reuseport group has a BPF program */
	u32 userlocks;		/* sk_userlocks */
	u32 sock_flags;		/* CKPT_H_INET_SF_*: sock_flag() bits */
	u32 ack_backlog;	/* sk_ack_backlog: connections not accepted yet */
	u32 reqsk_queue;	/* inet_csk_reqsk_queue_len(): handshakes in progress */
	u32 max_ack_backlog;
	u32 sndbuf, rcvbuf;
	u32 priority, mark;
	s32 rcvlowat;
	u32 shutdown;		/* sk_shutdown */
	s32 err;		/* sk_err */
	s32 bound_dev_if;	/* SO_BINDTODEVICE */
	u32 filter;		/* a socket filter is attached */
	u32 timeo;		/* bit 0: SO_RCVTIMEO set, bit 1: SO_SNDTIMEO set */
	s32 peek_off;		/* SO_PEEK_OFF, -1 when off */
	u32 tsflags;		/* sk_tsflags (SO_TIMESTAMPING) */
	u32 rcv_queue;		/* skbs in sk_receive_queue (and a UDP socket's reader_queue) */
	u32 write_queue;	/* skbs in sk_write_queue */
	u32 wmem;		/* sk_wmem_alloc_get(): bytes being sent */
	u32 hz;			/* HZ, the unit of the jiffies below */
	u64 lingertime;		/* sk_lingertime, jiffies */
	u32 inet_flags;		/* CKPT_H_INET_IF_*: inet_test_bit() bits */
	u32 cmsg_flags;		/* inet_cmsg_flags(): IP_PKTINFO, IP_RECVTOS... */
	u32 tos;
	s32 uc_ttl;		/* -1: not set */
	u32 mc_list;		/* IPv4 multicast memberships */
	u32 other_netns;	/* sock_net() is not the task's network namespace */
	/* IPv6 */
	u32 ipv6only;
	s32 hop_limit;		/* -1: not set */
	u32 tclass;
	u32 rxopt;		/* rxopt.all: IPV6_RECVPKTINFO... */
	u32 mc6_list;		/* IPv6 multicast memberships */
	/* TCP */
	u32 nonagle;		/* TCP_NAGLE_OFF, TCP_NAGLE_CORK... */
	u32 keepalive_time, keepalive_intvl;	/* jiffies, 0: not set */
	u32 keepalive_probes;	/* 0: not set */
	u32 defer_accept;	/* rskq_defer_accept, in retransmits */
	u32 defer_timeout_s;	/* TCP_TIMEOUT_INIT / HZ: retrans_to_secs()'s timeout */
	u32 defer_rto_max_s;	/* TCP_RTO_MAX / HZ: its rto_max */
	u32 fastopen_qlen;	/* fastopenq.max_qlen */
	u32 user_mss;		/* TCP_MAXSEG */
	u32 user_timeout;	/* TCP_USER_TIMEOUT */
	u32 syn_retries;	/* TCP_SYNCNT */
	u32 notsent_lowat;	/* TCP_NOTSENT_LOWAT */
	u32 tcp_opts;		/* CKPT_H_INET_TCP_*: other TCP options in use */
	/* UDP */
	u32 udp_flags;		/* udp_flags: UDP_CORK, UDP_GRO... */
	u32 udp_pending;	/* corked frames pending */
	u32 encap_type;		/* UDP_ENCAP */
	u32 gso_size;		/* UDP_SEGMENT */
	u32 rmem;		/* sk_rmem_alloc_get(): bytes received, unread */
	u32 __reserved;
	u64 rcvtimeo, sndtimeo;	/* sk_rcvtimeo, sk_sndtimeo: jiffies, LONG_MAX for none */
};

#define CKPT_H_INET_SF_KEEPOPEN		(1 << 0)	/* SO_KEEPALIVE */
#define CKPT_H_INET_SF_BROADCAST	(1 << 1)	/* SO_BROADCAST */
#define CKPT_H_INET_SF_LINGER		(1 << 2)	/* SO_LINGER on */
#define CKPT_H_INET_SF_RCVTSTAMP	(1 << 3)	/* SO_TIMESTAMP(NS) */
#define CKPT_H_INET_SF_URGINLINE	(1 << 4)	/* SO_OOBINLINE */
#define CKPT_H_INET_SF_ZEROCOPY		(1 << 5)	/* SO_ZEROCOPY */
#define CKPT_H_INET_SF_RXQ_OVFL		(1 << 6)	/* SO_RXQ_OVFL */

#define CKPT_H_INET_IF_FREEBIND		(1 << 0)	/* IP_FREEBIND */
#define CKPT_H_INET_IF_TRANSPARENT	(1 << 1)	/* IP_TRANSPARENT */
#define CKPT_H_INET_IF_RECVERR		(1 << 2)	/* IP_RECVERR, IPV6_RECVERR */
#define CKPT_H_INET_IF_NO_PORT		(1 << 3)	/* IP_BIND_ADDRESS_NO_PORT */
#define CKPT_H_INET_IF_HDRINCL		(1 << 4)	/* IP_HDRINCL */
#define CKPT_H_INET_IF_OPTIONS		(1 << 5)	/* IP_OPTIONS set (inet_opt) */

#define CKPT_H_INET_TCP_CORK		(1 << 0)	/* TCP_CORK */
#define CKPT_H_INET_TCP_REPAIR		(1 << 1)	/* TCP_REPAIR */
#define CKPT_H_INET_TCP_SAVE_SYN	(1 << 2)	/* TCP_SAVE_SYN */
#define CKPT_H_INET_TCP_INQ		(1 << 3)	/* TCP_INQ */
#define CKPT_H_INET_TCP_MD5		(1 << 4)	/* TCP_MD5SIG or TCP-AO keys */
#define CKPT_H_INET_TCP_ULP		(1 << 5)	/* TCP_ULP (kTLS...) */
#define CKPT_H_INET_TCP_CONGESTION	(1 << 6)	/* TCP_CONGESTION set */

/* Kernel constants bindgen does not see (net/tcp_states.h, net/sock.h, net/tcp.h): kmod/sys/inet.rs. */
#define CKPT_H_TCP_ESTABLISHED		1
#define CKPT_H_TCP_CLOSE		7
#define CKPT_H_TCP_LISTEN		10
#define CKPT_H_SOCK_BINDADDR_LOCK	4
#define CKPT_H_SOCK_BINDPORT_LOCK	8
#define CKPT_H_TCP_NAGLE_OFF		1

int ckpt_helper_task_inet(struct task_struct *task, u32 fd, struct ckpt_h_inet *out);

/* An open file's inode (deleted files). */
struct ckpt_h_inode {
	u64 id;			/* the inode's address: its identity */
	s64 size;		/* i_size */
	u32 uid, gid;		/* owner, in the caller's user namespace */
	u32 nlink;
	u32 mode;
};
struct file *ckpt_helper_task_file(struct task_struct *task, u32 fd);
void ckpt_helper_file_inode(struct file *file, struct ckpt_h_inode *out);
int ckpt_helper_file_parent_unlinked(struct file *file);
int ckpt_helper_file_shmem_seals(struct file *file, u32 *seals);

/* A thread's scheduling and I/O facts (TASK_ATTRS; Rust decides). */
struct ckpt_h_sched {
	u32 policy;		/* task->policy */
	u32 rt_priority;
	u32 reset_on_fork;
	u32 ioprio;		/* ioprio_set: the io_context's own priority, else 0 */
	u32 user_cpus;		/* sched_setaffinity was called (user_cpus_ptr) */
	u32 all_cpus;		/* cpus_mask holds every possible CPU */
	u32 uclamp;		/* a utilisation clamp of its own (sched_setattr) */
	u32 nr_cpus;		/* nr_cpu_ids */
};
int ckpt_helper_task_sched(struct task_struct *task, struct ckpt_h_sched *out, u64 *mask,
			   u32 words);
u64 ckpt_helper_mm_def_flags(struct mm_struct *mm);
int ckpt_helper_mm_lock_future(void);
/*
 * inotify (kmod/inotify.rs): one watch, followed in the buffer by path_len bytes
 * of path (from the root of its filesystem), padded to 8.
 */
struct ckpt_h_inotify_watch {
	s32 wd;
	u32 mask;		/* the mask inotify reports (fdinfo's) */
	u64 ino;		/* the inode's i_ino */
	u32 dev;		/* its i_sb->s_dev, as st_dev encodes it */
	u32 path_len;		/* 0 if it has no path */
	u32 unlinked;		/* no dentry, or an unlinked one */
	u32 __pad;
};

int ckpt_helper_task_inotify(struct task_struct *task, u32 fd, void *buf, u32 size,
			     u32 *count);

/* File locks (kmod/locks.rs): one lock held through a file, as fs/locks.c keeps it. */
struct ckpt_h_lock {
	u32 flags;		/* flc_flags (FL_FLOCK, FL_POSIX, FL_OFDLCK...) */
	u32 type;		/* flc_type: F_RDLCK or F_WRLCK */
	u32 owner;		/* CKPT_H_LOCK_OWNER_*: who flc_owner is */
	s32 pid;		/* flc_pid */
	s64 start;		/* fl_start (0 for flock) */
	s64 end;		/* fl_end (OFFSET_MAX for flock) */
};

/* ckpt_h_lock.owner: the descriptor table asked about, the file itself, or another. */
#define CKPT_H_LOCK_OWNER_OTHER		0
#define CKPT_H_LOCK_OWNER_TABLE		1
#define CKPT_H_LOCK_OWNER_FILE		2

/* Kernel constants bindgen does not see (each a BIT() of linux/filelock.h): kmod/sys/locks.rs. */
#define CKPT_H_FL_POSIX		(1 << 0)
#define CKPT_H_FL_FLOCK		(1 << 1)
#define CKPT_H_FL_DELEG		(1 << 2)
#define CKPT_H_FL_LEASE		(1 << 5)
#define CKPT_H_FL_OFDLCK	(1 << 10)
#define CKPT_H_FL_LAYOUT	(1 << 11)

int ckpt_helper_file_locks(struct file *file, u64 files, struct ckpt_h_lock *out, u32 room,
			   u32 *leases);

/*
 * The owner of an open file description (struct fown_struct, F_SETOWN), as
 * ckpt_helper_task_fown reads it under its lock.
 */
struct ckpt_h_fown {
	u32 owned;		/* an owner is set (f_owner->pid) */
	s32 pid;		/* its number in the namespace asked for, 0 if not seen there */
	u32 pid_type;		/* enum pid_type */
	u32 uid, euid;		/* of the setter, in the caller's user namespace */
	s32 signum;		/* F_SETSIG */
};

int ckpt_helper_task_fown(struct task_struct *task, u32 fd, struct pid_namespace *ns,
			  struct ckpt_h_fown *out);


/* SysV IPC of a container's IPC namespace (kmod/sys/ipc.rs asserts the layouts). */
struct ckpt_h_shm {
	u64 size;
	u32 nattch;
	u32 hugetlb;
};

struct ckpt_h_msq {
	u64 qbytes, qnum, cbytes, longest;
};

struct ipc_namespace;
struct kern_ipc_perm;
struct ckpt_ipc_ns_rec;
struct ckpt_ipc_perm;
struct ipc_namespace *ckpt_helper_task_ipc_ns(struct task_struct *task);
void ckpt_helper_put_ipc_ns(struct ipc_namespace *ns);
void ckpt_helper_ipc_limits(struct ipc_namespace *ns, struct ckpt_ipc_ns_rec *out);
int ckpt_helper_ipc_ids_lock(struct ipc_namespace *ns, int kind);
void ckpt_helper_ipc_ids_unlock(struct ipc_namespace *ns, int kind);
struct kern_ipc_perm *ckpt_helper_ipc_next(struct ipc_namespace *ns, int kind, int *idx);
void ckpt_helper_ipc_perm(struct kern_ipc_perm *p, struct ckpt_ipc_perm *out);
struct file *ckpt_helper_shm(struct kern_ipc_perm *p, struct ckpt_h_shm *out);
struct file *ckpt_helper_shm_attach_segment(struct file *file, int *id);
void ckpt_helper_msq(struct kern_ipc_perm *p, struct ckpt_h_msq *out);
long ckpt_helper_msq_copy(struct kern_ipc_perm *p, void *buf, size_t len, u64 qnum);
u32 ckpt_helper_sem_nsems(struct kern_ipc_perm *p, u32 *undo);
int ckpt_helper_sem_values(struct kern_ipc_perm *p, s32 *vals, u32 n);

/* POSIX message queues of an IPC namespace (kmod/sys/ipc.rs asserts the layout). */
struct ckpt_h_mq {
	u64 maxmsg, msgsize, curmsgs, bytes, longest;
	u32 uid, gid, mode, notify;
};

struct dentry;
int ckpt_helper_mq_lock(struct ipc_namespace *ns);
void ckpt_helper_mq_unlock(struct ipc_namespace *ns);
struct dentry *ckpt_helper_mq_nth(struct ipc_namespace *ns, u32 n);
void ckpt_helper_dput(struct dentry *d);
void ckpt_helper_mq(struct dentry *d, struct ckpt_h_mq *out, char *name);
long ckpt_helper_mq_copy(struct dentry *d, void *buf, size_t len, u64 curmsgs);
int ckpt_helper_file_mq(struct file *file, struct ipc_namespace *ns, char *name);
u64 ckpt_helper_mq_magic(void);
u64 ckpt_helper_task_undo_list(struct task_struct *task);
int ckpt_helper_sem_undo(struct kern_ipc_perm *p, u32 idx, u64 *ulp, s32 *adj, u32 n);

#endif
