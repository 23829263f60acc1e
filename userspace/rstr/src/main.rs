// SPDX-License-Identifier: GPL-2.0

//! `rstr`: restart a process from an image written by `ckpt`.
//!
//! The work is split between this program and the kernel module, along what a module can
//! reach (Documentation/design.rst): `rstr` reads the image up to its `XSTATE` record,
//! creates a child with the image's pid (`clone3` with `set_tid`), and in the child restores
//! with ordinary system calls what the module cannot: descriptors, signal handlers and
//! pending signals, credentials, limits, the vDSO's place. Then the child loads the image's
//! FPU state (`XRSTOR`) and calls `CKPT_IOC_RESTART`, in which the module replaces its
//! memory and registers from the rest of the image and returns into the restored program.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;

use ckptlib::abi::{self, image as img};
use ckptlib::device::Device;
use ckptlib::image::{c_str, RecordReader};
use ckptlib::restart::{check_xstate, decode_dev, read_user_records, UserRecords};

/// Restart a process from a checkpoint image (written by `ckpt`).
///
/// The process gets its original pid back (an error names the pid if it is taken), and
/// continues where it was checkpointed. rstr waits for it and exits with its exit status
/// (128 + N if signal N killed it), or, with --detach, leaves it running and exits at once.
///
/// Restart needs /dev/checkpoint (`insmod ckpt.ko`) and the right to choose a pid
/// (CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN). The restored process gets only the credentials
/// the caller could set itself: an unprivileged user cannot restart a root image. Files are
/// reopened with the restored credentials. Either the whole process comes back or none of
/// it runs: on any failure rstr exits non-zero with the reason.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// The image to restart from; `-` reads it from standard input.
    image: PathBuf,
    /// Leave the restarted process running and exit at once.
    #[arg(short, long)]
    detach: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ckptlib::cli::run("rstr", || run(cli))
}

/// `errno` of the last failed call, as an error with context.
fn last_os(what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(io::Error::last_os_error()).context(what.to_string())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let dev = Device::open()?;
    ensure!(
        dev.version().features & abi::CKPT_FEATURE_RESTART != 0,
        "the loaded module cannot restart (features {:#x})",
        dev.version().features
    );
    // The image descriptor is shared with the child and the module: no buffering here, so
    // that the module continues exactly where this reader stopped.
    let image: File = if cli.image.as_os_str() == "-" {
        File::from(
            io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .context("dup of standard input")?,
        )
    } else {
        File::open(&cli.image).with_context(|| format!("cannot open {}", cli.image.display()))?
    };
    let mut rd = RecordReader::new(&image);
    let user = read_user_records(&mut rd).context("reading the image")?;
    let (xcr0, xsize) = cpu_xsave();
    check_xstate(&user, xcr0, xsize)?;

    let (rd_end, wr_end) = pipe()?;
    let pid = user.task.pid;
    let child = clone_with_pid(pid)?;
    if child == 0 {
        drop(rd_end);
        child_main(&dev, &image, wr_end, &user)
    }
    drop(wr_end);
    let mut msg = String::new();
    File::from(rd_end)
        .read_to_string(&mut msg)
        .context("reading the restart's report")?;
    if msg != "OK" {
        let status = wait_status(child);
        if msg.is_empty() {
            bail!("restart of pid {pid} failed: the new process died ({status}) before restoring")
        }
        bail!("restart of pid {pid} failed: {msg}")
    }
    if cli.detach {
        return Ok(ExitCode::SUCCESS);
    }
    Ok(match wait_status(child) {
        Status::Exited(c) => ExitCode::from(c as u8),
        Status::Killed(s) => ExitCode::from(128u8.wrapping_add(s as u8)),
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_os("pipe2"));
    }
    // SAFETY: both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `struct clone_args`, up to `set_tid_size` (CLONE_ARGS_SIZE_VER1).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
}

/// Forks a child whose pid is `pid`; returns 0 in the child, its pid in the parent.
fn clone_with_pid(pid: i32) -> Result<i32> {
    let tids = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM is a fork; `args` and `tids` outlive the call. rstr is
    // single-threaded, so the child may go on running ordinary Rust code.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &args, size_of::<CloneArgs>()) };
    if ret < 0 {
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EEXIST) => {
                bail!("pid {pid} is taken: the original process, or another, has it")
            }
            Some(libc::EPERM) => {
                bail!("choosing pid {pid} needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)")
            }
            Some(libc::EINVAL) if pid <= 0 => bail!("bad pid {pid} in the image"),
            _ => return Err(anyhow::Error::new(e).context(format!("clone3 with pid {pid}"))),
        }
    }
    Ok(ret as i32)
}

enum Status {
    Exited(i32),
    Killed(i32),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit status {c}"),
            Status::Killed(s) => write!(f, "killed by signal {s}"),
        }
    }
}

fn wait_status(pid: i32) -> Status {
    let mut st = 0;
    loop {
        // SAFETY: `st` is writable.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Status::Exited(255);
        }
    }
    if libc::WIFSIGNALED(st) {
        Status::Killed(libc::WTERMSIG(st))
    } else {
        Status::Exited(libc::WEXITSTATUS(st))
    }
}

/// XCR0 and the XSAVE area size it needs on this CPU.
fn cpu_xsave() -> (u64, usize) {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV(0) is available wherever the kernel enabled XSAVE, which the image's
    // XSTATE record implies (the module refuses to checkpoint without it).
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    // CPUID leaf 0xD, sub-leaf 0: EBX is the XSAVE area size for the features XCR0 enables.
    let size = core::arch::x86_64::__cpuid_count(0xd, 0).ebx as usize;
    ((u64::from(hi) << 32) | u64::from(lo), size)
}

/// The child: restore, then become the image. Never returns; on failure the reason goes to
/// `report` and the child exits.
fn child_main(dev: &Device, image: &File, report: OwnedFd, user: &UserRecords) -> ! {
    let rep = report.as_raw_fd();
    let err = match restore(dev, image, report, user) {
        Ok(never) => match never {},
        Err(e) => format!("{e:#}"),
    };
    // `restore` moved the report descriptor: find it by what it is, the one pipe left.
    let fd = moved_report_fd().unwrap_or(rep);
    // SAFETY: writing a buffer we own to a descriptor we own, then leaving at once.
    unsafe {
        libc::write(fd, err.as_ptr().cast(), err.len());
        libc::_exit(1)
    }
}

/// Where `restore` put the report pipe once it moved its own descriptors.
static REPORT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

fn moved_report_fd() -> Option<RawFd> {
    match REPORT_FD.load(std::sync::atomic::Ordering::Relaxed) {
        -1 => None,
        fd => Some(fd),
    }
}

fn check(ret: libc::c_long, what: impl std::fmt::Display) -> Result<libc::c_long> {
    if ret < 0 {
        Err(last_os(what))
    } else {
        Ok(ret)
    }
}

fn restore(
    dev: &Device,
    image: &File,
    report: OwnedFd,
    u: &UserRecords,
) -> Result<std::convert::Infallible> {
    // SAFETY: each call below is a plain system call on values owned here; errors are checked.
    unsafe {
        // Signals stay blocked until the module sets the image's mask, so that pending ones
        // queued here wait for the restored program.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        check(
            libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut()).into(),
            "sigprocmask",
        )?;

        // Our own descriptors move above every descriptor of the image; all others close.
        let top = u.files.iter().map(|f| f.rec.fd).max().unwrap_or(0).max(2) + 1;
        let mut own = Vec::new();
        for fd in [
            image.as_raw_fd(),
            dev.file().as_raw_fd(),
            report.as_raw_fd(),
        ] {
            own.push(check(
                libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, top).into(),
                "moving rstr's descriptors",
            )? as i32);
        }
        REPORT_FD.store(own[2], std::sync::atomic::Ordering::Relaxed);
        let mut others = Vec::new();
        for entry in std::fs::read_dir("/proc/self/fd").context("/proc/self/fd")? {
            let name = entry?.file_name();
            if let Ok(fd) = name.to_string_lossy().parse::<i32>() {
                if !own.contains(&fd) {
                    others.push(fd);
                }
            }
        }
        for fd in others {
            libc::close(fd);
        }
        let (image_fd, dev_fd, report_fd) = (own[0], own[1], own[2]);
        std::mem::forget(report);

        // Filesystem context; limits while we still may raise them.
        if u.root != "/" {
            let root = CString::new(u.root.as_str())?;
            check(
                libc::chroot(root.as_ptr()).into(),
                format!("chroot {}", u.root),
            )?;
        }
        for (i, l) in u.rlimits.rlim.iter().enumerate() {
            let new = libc::rlimit64 {
                rlim_cur: l.cur,
                rlim_max: l.max,
            };
            check(
                libc::prlimit64(
                    0,
                    i as libc::__rlimit_resource_t,
                    &new,
                    std::ptr::null_mut(),
                )
                .into(),
                format!("resource limit {i} to {}/{}", l.cur, l.max),
            )?;
        }
        libc::umask(u.task.umask as libc::mode_t);
        check(
            libc::personality(u.task.personality as libc::c_ulong).into(),
            "personality",
        )?;
        let comm = CString::new(c_str(&u.task.comm))?;
        check(
            libc::prctl(libc::PR_SET_NAME, comm.as_ptr()).into(),
            "PR_SET_NAME",
        )?;

        // Signal dispositions (raw rt_sigaction: the image's restorer, not libc's).
        for (i, a) in u.sighand.action.iter().enumerate() {
            let sig = i as libc::c_long + 1;
            if sig == libc::SIGKILL as libc::c_long || sig == libc::SIGSTOP as libc::c_long {
                continue;
            }
            let act = [a.handler, a.flags, a.restorer, a.mask];
            check(
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    act.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8,
                ),
                format!("signal {sig}: rt_sigaction"),
            )?;
        }
        let s = &u.signals;
        if s.altstack_flags & libc::SS_DISABLE as u32 == 0 && s.altstack_size > 0 {
            let ss = libc::stack_t {
                ss_sp: s.altstack_sp as *mut libc::c_void,
                ss_flags: (s.altstack_flags & (1 << 31)) as i32,
                ss_size: s.altstack_size as usize,
            };
            check(
                libc::sigaltstack(&ss, std::ptr::null_mut()).into(),
                "sigaltstack",
            )?;
        }
        let me = libc::getpid();
        for p in &u.pending {
            let signo = i32::from_ne_bytes(p.info[..4].try_into().unwrap());
            let r = if p.shared != 0 {
                libc::syscall(libc::SYS_rt_sigqueueinfo, me, signo, p.info.as_ptr())
            } else {
                libc::syscall(libc::SYS_rt_tgsigqueueinfo, me, me, signo, p.info.as_ptr())
            };
            check(r, format!("queueing pending signal {signo}"))?;
        }
        if u.task.robust_list != 0 {
            check(
                libc::syscall(
                    libc::SYS_set_robust_list,
                    u.task.robust_list,
                    u.task.robust_list_len,
                ),
                "set_robust_list",
            )?;
        }
        libc::syscall(libc::SYS_set_tid_address, u.task.clear_child_tid);
        if u.task.no_new_privs != 0 {
            check(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
                "PR_SET_NO_NEW_PRIVS",
            )?;
        }
        if u.task.dumpable != u32::MAX {
            check(
                libc::prctl(libc::PR_SET_DUMPABLE, u.task.dumpable as libc::c_ulong).into(),
                "PR_SET_DUMPABLE",
            )?;
        }

        set_credentials(u)?;

        // Files, opened with the restored credentials.
        let cwd = CString::new(u.cwd.as_str())?;
        check(libc::chdir(cwd.as_ptr()).into(), format!("chdir {}", u.cwd))?;
        for f in &u.files {
            reopen(f)?;
        }

        // The vDSO moves to where the image has it; the module checks it landed there.
        move_vdso(u)?;
        // rseq: ours goes, the image's comes (see `swap_rseq`).
        swap_rseq(u)?;

        let mut reason = [0u8; 513];
        let mut args = abi::CkptRestartArgs {
            fd: image_fd,
            err_fd: report_fd,
            flags: 0,
            reason: reason.as_mut_ptr() as u64,
            reason_len: reason.len() as u32,
            nr_close: 3,
            close_fds: [0; abi::CKPT_RESTART_MAX_CLOSE],
            blocked: u.signals.blocked,
            records_before: u.count,
            __reserved: 0,
        };
        args.close_fds[..3].copy_from_slice(&[image_fd, dev_fd, report_fd]);

        // XSAVE areas must be 64-byte aligned.
        let layout = std::alloc::Layout::from_size_align(u.xsave.len(), 64)?;
        let area = std::alloc::alloc(layout);
        ensure!(!area.is_null(), "out of memory");
        std::ptr::copy_nonoverlapping(u.xsave.as_ptr(), area, u.xsave.len());

        let ret = xrstor_and_restart(area, dev_fd, &args);
        // Only a failure before anything was changed comes back here.
        let why = c_str(&reason);
        bail!("{} ({})", why, io::Error::from_raw_os_error(-ret as i32))
    }
}

/// Loads the image's FPU/vector state and calls `CKPT_IOC_RESTART` with nothing between the
/// two that could touch that state: both are in one `asm!` block. On success the ioctl never
/// returns here; on failure it returns `-errno` (and this code runs on with the image's
/// FPU control state, which only the error path below uses).
///
/// # Safety
///
/// `area` must be a 64-byte aligned, checked XSAVE area; `args` a valid argument struct.
unsafe fn xrstor_and_restart(area: *const u8, dev: RawFd, args: &abi::CkptRestartArgs) -> i64 {
    let ret: i64;
    // SAFETY: guaranteed by the caller; the clobbers cover every register the ABI lets a
    // call change, and XRSTOR with an all-ones mask loads every enabled component.
    unsafe {
        core::arch::asm!(
            "mov eax, -1",
            "mov edx, -1",
            "xrstor64 [r8]",
            "mov rdx, r9",
            "mov eax, {nr}",
            "syscall",
            nr = const libc::SYS_ioctl,
            // Fixed registers: generic ones could be rax or rdx, overwritten before use.
            in("r8") area,
            in("r9") args as *const abi::CkptRestartArgs,
            in("rdi") dev as u64,
            in("rsi") abi::CKPT_IOC_RESTART as u64,
            out("rax") ret,
            clobber_abi("C"),
        );
    }
    ret
}

fn set_credentials(u: &UserRecords) -> Result<()> {
    let c = &u.creds;
    // SAFETY: plain system calls with values from the image; the kernel checks permissions.
    unsafe {
        let (mut r, mut e, mut s) = (0, 0, 0);
        libc::getresuid(&mut r, &mut e, &mut s);
        let same_uid = [r, e, s] == [c.uid, c.euid, c.suid];
        libc::getresgid(&mut r, &mut e, &mut s);
        let same_gid = [r, e, s] == [c.gid, c.egid, c.sgid];
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut mine = vec![0; n.max(0) as usize];
        libc::getgroups(n, mine.as_mut_ptr());
        if mine != u.groups {
            check(
                libc::setgroups(u.groups.len(), u.groups.as_ptr()).into(),
                format!("setgroups {:?} (not permitted to this user?)", u.groups),
            )?;
        }
        if !same_gid {
            check(
                libc::setresgid(c.gid, c.egid, c.sgid).into(),
                format!("setresgid {} {} {}", c.gid, c.egid, c.sgid),
            )?;
        }
        if !same_uid {
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
            check(
                libc::setresuid(c.uid, c.euid, c.suid).into(),
                format!("setresuid {} {} {}", c.uid, c.euid, c.suid),
            )?;
        }
        libc::setfsgid(c.fsgid);
        libc::setfsuid(c.fsuid);
        // Bounding set: drop what the image lacks (needs CAP_SETPCAP to drop).
        for cap in 0..64 {
            let has = libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0);
            if has < 0 {
                break;
            }
            if has == 1 && c.cap_bset & (1 << cap) == 0 {
                check(
                    libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0).into(),
                    format!("dropping capability {cap} from the bounding set"),
                )?;
            }
        }
        // Permitted, effective, inheritable (capset v3: two 32-bit halves).
        let hdr = [0x2008_0522u32, 0];
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        let data = [
            lo(c.cap_effective),
            lo(c.cap_permitted),
            lo(c.cap_inheritable),
            hi(c.cap_effective),
            hi(c.cap_permitted),
            hi(c.cap_inheritable),
        ];
        check(
            libc::syscall(libc::SYS_capset, hdr.as_ptr(), data.as_ptr()),
            format!(
                "capabilities: permitted {:#x} effective {:#x} (not permitted to this user?)",
                c.cap_permitted, c.cap_effective
            ),
        )?;
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for cap in 0..64 {
            if c.cap_ambient & (1 << cap) != 0 {
                check(
                    libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, cap, 0, 0).into(),
                    format!("ambient capability {cap}"),
                )?;
            }
        }
        let bits = libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0);
        if bits >= 0 && bits as u32 != c.securebits {
            check(
                libc::prctl(
                    libc::PR_SET_SECUREBITS,
                    c.securebits as libc::c_ulong,
                    0,
                    0,
                    0,
                )
                .into(),
                "securebits",
            )?;
        }
    }
    Ok(())
}

fn reopen(f: &ckptlib::restart::OpenFile) -> Result<()> {
    let r = &f.rec;
    let path = CString::new(f.path.as_str())?;
    let mut flags =
        r.flags as i32 & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC);
    flags |= libc::O_NOCTTY;
    if r.kind == img::file_kind::DIRECTORY {
        flags |= libc::O_DIRECTORY;
    }
    // SAFETY: plain system calls on descriptors this function owns.
    unsafe {
        let got = check(
            libc::open(path.as_ptr(), flags).into(),
            format!("fd {}: open {}", r.fd, f.path),
        )? as i32;
        if got != r.fd {
            check(libc::dup2(got, r.fd).into(), format!("fd {}: dup2", r.fd))?;
            libc::close(got);
        }
        let mut st: libc::stat = std::mem::zeroed();
        check(
            libc::fstat(r.fd, &mut st).into(),
            format!("fd {}: fstat", r.fd),
        )?;
        if r.kind == img::file_kind::CHARDEV {
            let (ma, mi) = decode_dev(r.rdev);
            ensure!(
                libc::major(st.st_rdev) == ma && libc::minor(st.st_rdev) == mi,
                "fd {}: {} is now device {}:{}, not {ma}:{mi}",
                r.fd,
                f.path,
                libc::major(st.st_rdev),
                libc::minor(st.st_rdev)
            );
        }
        if r.kind == img::file_kind::REGULAR {
            let at = libc::lseek(r.fd, r.pos, libc::SEEK_SET);
            ensure!(
                at == r.pos,
                "fd {}: cannot seek {} to {}",
                r.fd,
                f.path,
                r.pos
            );
        }
        if r.cloexec != 0 {
            check(
                libc::fcntl(r.fd, libc::F_SETFD, libc::FD_CLOEXEC).into(),
                format!("fd {}: FD_CLOEXEC", r.fd),
            )?;
        }
    }
    Ok(())
}

extern "C" {
    /// glibc (2.35 and later): where its rseq area is, relative to the thread pointer, and
    /// its registered size (0 if glibc did not register one).
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;
/// glibc's rseq signature on x86.
const RSEQ_SIG: u32 = 0x5305_3053;

/// Unregisters this process's own rseq area (glibc's): left registered, the kernel would go
/// on updating it after the restart, at an address that then holds the image's memory.
/// Then registers the image's area, at its address: a scratch page is mapped there first,
/// because the kernel writes the area as soon as it is registered; the module replaces that
/// page with the image's own, and the kernel keeps updating the restored area from then on.
fn swap_rseq(u: &UserRecords) -> Result<()> {
    // SAFETY: reading glibc's exported rseq variables and the thread pointer; the system
    // calls only concern this process.
    unsafe {
        let size = core::ptr::read_volatile(&raw const __rseq_size);
        if size > 0 {
            let tp: u64;
            core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly));
            let area = tp.wrapping_add(core::ptr::read_volatile(&raw const __rseq_offset) as u64);
            let mut done = false;
            for len in [size.max(32), 32] {
                if libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0 {
                    done = true;
                    break;
                }
            }
            ensure!(
                done,
                "cannot unregister rstr's own rseq area: {}",
                io::Error::last_os_error()
            );
        }
        let t = &u.task;
        if t.rseq == 0 {
            return Ok(());
        }
        ensure!(
            t.rseq.is_multiple_of(32) && t.rseq_len >= 32 && t.rseq_len <= 4096,
            "TASK record: bad rseq area {:#x} of {} bytes",
            t.rseq,
            t.rseq_len
        );
        let page = t.rseq & !4095;
        let got = libc::mmap(
            page as *mut libc::c_void,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        ensure!(
            got as u64 == page,
            "the image's rseq area {:#x} collides with rstr's own memory: try again",
            t.rseq
        );
        check(
            libc::syscall(libc::SYS_rseq, t.rseq, t.rseq_len, 0, t.rseq_sig),
            format!("registering the image's rseq area {:#x}", t.rseq),
        )?;
    }
    Ok(())
}

/// `ARCH_MAP_VDSO_64`.
const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;

/// Unmaps our vDSO and vvar and maps them again so that the vDSO text is at the image's
/// address. `arch_prctl(ARCH_MAP_VDSO_64, addr)` places the vvar pages at `addr` and the
/// text after them: the distance is read off our own layout, which the same kernel made.
/// From here on this process must not call into the vDSO (no clock_gettime through libc).
fn move_vdso(u: &UserRecords) -> Result<()> {
    let want = u.task.vdso_base;
    if want == 0 {
        bail!("the image has no vDSO: not supported yet");
    }
    let maps = std::fs::read_to_string("/proc/self/maps").context("/proc/self/maps")?;
    let mut lowest = u64::MAX;
    let mut text = None;
    let mut ranges = Vec::new();
    for line in maps.lines() {
        let is_text = line.ends_with("[vdso]");
        if !(is_text || line.ends_with("[vvar]") || line.ends_with("[vvar_vclock]")) {
            continue;
        }
        let range = line.split_whitespace().next().unwrap_or("");
        let (a, b) = range.split_once('-').context("bad /proc/self/maps line")?;
        let (a, b) = (u64::from_str_radix(a, 16)?, u64::from_str_radix(b, 16)?);
        lowest = lowest.min(a);
        if is_text {
            text = Some(a);
        }
        ranges.push((a, b));
    }
    let Some(text) = text else {
        bail!("rstr itself has no vDSO: cannot place the image's")
    };
    let block = want
        .checked_sub(text - lowest)
        .context("the image's vDSO address is too low")?;
    for (a, b) in ranges {
        // SAFETY: unmapping the vDSO/vvar of this process, which nothing here uses.
        check(
            unsafe { libc::munmap(a as *mut libc::c_void, (b - a) as usize) }.into(),
            "munmap vdso",
        )?;
    }
    // SAFETY: maps a fresh vDSO block at `block`; a plain system call.
    check(
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, block) },
        format!("moving the vDSO to {want:#x}"),
    )?;
    Ok(())
}
