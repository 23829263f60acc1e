// SPDX-License-Identifier: GPL-2.0

//! Descriptors of the image that are given one of `rstr`'s own descriptors instead of
//! being reopened: terminals (the shell-job rule, Documentation/restart.rst "Terminals")
//! and whatever `--fd [PID:]FD=RSTRFD` names; and the terminal's foreground process group,
//! handed to the restored tree while `rstr` waits for it.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::{BorrowedFd, RawFd};
use std::str::FromStr;

use anyhow::{bail, ensure, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgid, getpgrp, getpid, getsid, isatty, tcgetpgrp, tcsetpgrp, Pid};

use ckptlib::restart::Image;
use ckptlib::terminal::terminal_kind;

use crate::Status;

/// One `--fd [PID:]FD=RSTRFD`: descriptor `fd` of process `pid` (of every process of the
/// image without a pid) is given `rstr`'s descriptor `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdSpec {
    pub pid: Option<i32>,
    pub fd: RawFd,
    pub from: RawFd,
}

impl FromStr for FdSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let num = |w: &str, what: &str| {
            w.parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{what} `{w}` is not a number (form: [PID:]FD=RSTRFD)"))
        };
        let (left, from) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` has no `=` (form: [PID:]FD=RSTRFD, e.g. 1=5)"))?;
        let (pid, fd) = match left.split_once(':') {
            Some((p, f)) => (Some(num(p, "PID")?), num(f, "FD")?),
            None => (None, num(left, "FD")?),
        };
        Ok(FdSpec {
            pid,
            fd,
            from: num(from, "RSTRFD")?,
        })
    }
}

impl fmt::Display for FdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(p) => write!(f, "{p}:{}={}", self.fd, self.from),
            None => write!(f, "{}={}", self.fd, self.from),
        }
    }
}

/// `rstr`'s descriptors as it found them when it started, before it opened anything of its
/// own (which could take a number the user meant).
pub struct Inherited {
    specs: Vec<FdSpec>,
    /// Which of rstr's 0, 1 and 2 are open, and which of them are terminals.
    std_open: [bool; 3],
    std_tty: [bool; 3],
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: only used for the duration of one call on a descriptor checked to be open
    // (or for a query that fails with EBADF if it is not); nothing closes it meanwhile.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn is_open(fd: RawFd) -> bool {
    fcntl(borrow(fd), FcntlArg::F_GETFD).is_ok()
}

/// Looks at rstr's descriptors: call first thing, before opening anything.
pub fn at_start(specs: Vec<FdSpec>) -> Result<Inherited> {
    for (i, s) in specs.iter().enumerate() {
        ensure!(
            is_open(s.from),
            "--fd {s}: rstr has no descriptor {} open (open it in the shell: `{}<FILE`, \
             `{}>FILE`)",
            s.from,
            s.from,
            s.from
        );
        ensure!(
            !specs[..i].iter().any(|o| o.pid == s.pid && o.fd == s.fd),
            "--fd {s}: descriptor {} is given twice",
            s.fd
        );
    }
    let std_open = [0, 1, 2].map(is_open);
    let std_tty = [0, 1, 2].map(|fd| std_open[fd as usize] && isatty(borrow(fd)).unwrap_or(false));
    Ok(Inherited {
        specs,
        std_open,
        std_tty,
    })
}

/// For every descriptor of the image given one of rstr's, by (files table id, fd): rstr's
/// descriptor. Fails on a `--fd` that matches no descriptor of the image.
pub fn choose(image: &Image, inh: &Inherited) -> Result<HashMap<(u32, RawFd), RawFd>> {
    let table_of: HashMap<i32, u32> = image.tree.iter().map(|e| (e.pid, e.files)).collect();
    for s in &inh.specs {
        if let Some(p) = s.pid {
            ensure!(
                image.tasks.iter().flatten().any(|t| t.task.pid == p),
                "--fd {s}: process {p} is not a live task of the image"
            );
        }
    }
    let mut used = vec![false; inh.specs.len()];
    let mut given = HashMap::new();
    for (e, t) in image.tree.iter().zip(&image.tasks) {
        let Some(files) = t.as_ref().and_then(|t| t.files.as_ref()) else {
            continue;
        };
        for f in files {
            let fd = f.rec.fd;
            // A spec naming a process of this table first, then one for every process.
            let spec = inh
                .specs
                .iter()
                .position(|s| {
                    s.fd == fd && s.pid.is_some_and(|p| table_of.get(&p) == Some(&e.files))
                })
                .or_else(|| inh.specs.iter().position(|s| s.fd == fd && s.pid.is_none()));
            let from = if let Some(k) = spec {
                used[k] = true;
                Some(inh.specs[k].from)
            } else if terminal_kind(&f.rec, &f.path).is_some() {
                if fd <= 2 {
                    inh.std_open[fd as usize].then_some(fd)
                } else {
                    (0..3).find(|&s| inh.std_tty[s as usize])
                }
            } else {
                None
            };
            if let Some(from) = from {
                given.insert((e.files, fd), from);
            }
        }
    }
    if let Some(k) = used.iter().position(|u| !u) {
        let s = inh.specs[k];
        match s.pid {
            Some(p) => bail!("--fd {s}: process {p} has no descriptor {}", s.fd),
            None => bail!("--fd {s}: no process of the image has descriptor {}", s.fd),
        }
    }
    Ok(given)
}

/// The terminal rstr waits on, handed to the restored tree: restored to rstr's own
/// process group when dropped.
pub struct Foreground {
    fd: RawFd,
    own: Pid,
    /// The root's process group, which has the terminal.
    pgrp: Pid,
}

impl Foreground {
    /// Makes the process group of `root` (a pid as rstr sees it) the foreground group of
    /// rstr's controlling terminal, when the tree was given that terminal (`given`: the
    /// rstr descriptors handed to it), rstr is that terminal's foreground group, and the
    /// root is in rstr's session but another group. `None` when nothing was changed; a
    /// failure is only a warning: the tree runs, in the background.
    pub fn hand_over(
        inh: &Inherited,
        given: &HashMap<(u32, RawFd), RawFd>,
        root: i32,
    ) -> Option<Foreground> {
        let own = getpgrp();
        let fd = (0..3).find(|&fd| {
            inh.std_tty[fd as usize]
                && given.values().any(|&g| g == fd)
                && tcgetpgrp(borrow(fd)).is_ok_and(|fg| fg == own)
        })?;
        let root = Pid::from_raw(root);
        let pgrp = getpgid(Some(root)).ok()?;
        let same_session = getsid(Some(root)).ok() == getsid(None).ok();
        if pgrp == own || !same_session {
            return None;
        }
        if let Err(e) = tcsetpgrp(borrow(fd), pgrp) {
            eprintln!(
                "rstr: warning: process group {pgrp} stays in the background of the terminal \
                 (tcsetpgrp: {e})"
            );
            return None;
        }
        Some(Foreground { fd, own, pgrp })
    }
}

impl Foreground {
    /// Waits for the end of `first` (the root) as a shell waits for its foreground job: when
    /// the root stops (Ctrl-Z, SIGSTOP), rstr takes the terminal back and stops too, so that
    /// its shell sees the job stopped; continued in the foreground (`fg`), it gives the
    /// terminal to the tree again, in the background (`bg`) it does not; then continues the
    /// root's group.
    pub fn wait(&self, first: i32) -> Status {
        loop {
            match waitpid(Pid::from_raw(first), Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Exited(_, code)) => return Status::Exited(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Status::Killed(sig as i32),
                Ok(WaitStatus::Stopped(..)) => {
                    let _ = tcsetpgrp(borrow(self.fd), self.own);
                    // SIGSTOP cannot be blocked: rstr stops here until its shell continues it.
                    let _ = kill(getpid(), Signal::SIGSTOP);
                    if tcgetpgrp(borrow(self.fd)).is_ok_and(|fg| fg == self.own) {
                        let _ = tcsetpgrp(borrow(self.fd), self.pgrp);
                    }
                    let _ = killpg(self.pgrp, Signal::SIGCONT);
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return Status::Exited(255),
            }
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        // rstr blocks every signal (SIGTTOU too): a background group may take the
        // terminal back. Nothing to do if it fails: the terminal is gone.
        let _ = tcsetpgrp(borrow(self.fd), self.own);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_specs_parse_with_and_without_a_pid() {
        assert_eq!(
            "1=5".parse(),
            Ok(FdSpec {
                pid: None,
                fd: 1,
                from: 5
            })
        );
        assert_eq!(
            "1234:0=7".parse(),
            Ok(FdSpec {
                pid: Some(1234),
                fd: 0,
                from: 7
            })
        );
        assert_eq!(
            "1234:0=7".parse::<FdSpec>().unwrap().to_string(),
            "1234:0=7"
        );
        for bad in ["1", "a=1", "1=", "-1=2", "1:2:3=4", "fd[1]:5"] {
            assert!(bad.parse::<FdSpec>().is_err(), "{bad}");
        }
    }
}
