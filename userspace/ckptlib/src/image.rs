// SPDX-License-Identifier: GPL-2.0

//! Reading and writing the record stream of a checkpoint image (`uapi/image.rs`).
//!
//! The one reader of images in userspace, in two layers:
//!
//! - [`RecordReader`] reads strictly in order from any `Read` (a file, a pipe, stdin) and
//!   checks the framing of every record: its length bound and its zero padding.
//! - [`ImageReader`] on top of it turns each record into a typed [`Rec`], checked once: its
//!   length by the record's rule ([`img::Record`], the rule the module checks too), its paths,
//!   its magic; and the stream as a whole: `HEADER` then `TREE` first, the counts records
//!   announce (`TREE` tasks as the `HEADER` says, `nr_pending` `SIGINFO`s after `SIGNALS`,
//!   `nr_vmas` `VMA`s after `MM`), the `TAIL`'s count, nothing after the `TAIL` or `ERROR`.
//!
//! `ckpt show` ([`Decoded`]), `rstr`'s [`crate::restart::scan`] and the tests read images
//! with it. [`RecordWriter`] writes the same framing, for tests and tools.

use std::io::{self, Read, Seek, SeekFrom, Write};

use anyhow::{anyhow, bail, ensure, Context, Result};
use zerocopy::{FromBytes, IntoBytes};

use crate::abi::image::{self as img, rec, Record as _};

mod show;
pub mod views;
pub use show::{Decoded, Sigaction, TreeTask};

/// One record: its type and its payload, padding removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: u32,
    pub payload: Vec<u8>,
}

/// Reads records one after the other, never reading past the current record.
pub struct RecordReader<R> {
    inner: R,
    offset: u64,
    count: u64,
    /// Where the stream ends (in `offset`'s terms), once [`Self::skip_payload`] needed it.
    end: Option<u64>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        RecordReader {
            inner,
            offset: 0,
            count: 0,
            end: None,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The next record, or `None` at a clean end of stream (between records).
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        match self.next_header()? {
            None => Ok(None),
            Some(h) => Ok(Some(Record {
                kind: h.kind,
                payload: self.payload(&h)?,
            })),
        }
    }

    /// The next record's header, or `None` at a clean end of stream; its payload must be
    /// read next, with [`Self::payload`] or [`Self::skip_payload`].
    pub fn next_header(&mut self) -> Result<Option<img::CkptHdr>> {
        let mut hdr = [0u8; size_of::<img::CkptHdr>()];
        let got = read_full(&mut self.inner, &mut hdr)?;
        if got == 0 {
            return Ok(None);
        }
        ensure!(
            got == hdr.len(),
            "truncated image: {got} bytes of a record header at offset {}",
            self.offset
        );
        let hdr = img::CkptHdr::read_from_bytes(&hdr).expect("size checked");
        ensure!(
            hdr.len <= img::CKPT_MAX_PAYLOAD,
            "record {} at offset {}: payload of {} bytes exceeds the limit of {}",
            rec::name(hdr.kind),
            self.offset,
            hdr.len,
            img::CKPT_MAX_PAYLOAD
        );
        Ok(Some(hdr))
    }

    /// The payload of the record whose header was just read, its padding checked.
    pub fn payload(&mut self, hdr: &img::CkptHdr) -> Result<Vec<u8>> {
        let len = hdr.len as usize;
        let pad = img::record_pad(len);
        let mut payload = vec![0u8; len + pad];
        let got = read_full(&mut self.inner, &mut payload)?;
        ensure!(
            got == payload.len(),
            "truncated image: record {} at offset {} has {} of its {} bytes",
            rec::name(hdr.kind),
            self.offset,
            got,
            payload.len()
        );
        ensure!(
            payload[len..].iter().all(|&b| b == 0),
            "record {} at offset {}: non-zero padding",
            rec::name(hdr.kind),
            self.offset
        );
        payload.truncate(len);
        self.advance(hdr);
        Ok(payload)
    }

    fn advance(&mut self, hdr: &img::CkptHdr) {
        let len = hdr.len as usize;
        self.offset += (size_of::<img::CkptHdr>() + len + img::record_pad(len)) as u64;
        self.count += 1;
    }
}

impl<R: Read + Seek> RecordReader<R> {
    /// Skips the payload of the record whose header was just read (the module reads and
    /// checks it). Fails if the stream ends inside it. Over a `BufReader`, a payload of up to
    /// 64 KiB is skipped inside the buffer, with no system call; a larger one costs one `lseek`.
    pub fn skip_payload(&mut self, hdr: &img::CkptHdr) -> Result<()> {
        self.skip_rest(hdr, 0)
    }

    /// The first `n` bytes of the payload of the record whose header was just read; the
    /// rest is skipped as [`Self::skip_payload`] skips a payload.
    pub fn payload_prefix(&mut self, hdr: &img::CkptHdr, n: usize) -> Result<Vec<u8>> {
        ensure!(
            hdr.len as usize >= n,
            "record {} at offset {}: {} bytes, shorter than its {n}-byte struct",
            rec::name(hdr.kind),
            self.offset,
            hdr.len
        );
        let mut prefix = vec![0u8; n];
        let got = read_full(&mut self.inner, &mut prefix)?;
        ensure!(got == n, "truncated image at offset {}", self.offset);
        self.skip_rest(hdr, n as u64)?;
        Ok(prefix)
    }

    /// Skips the payload of the record whose header was just read, of which `done` bytes
    /// were read already.
    fn skip_rest(&mut self, hdr: &img::CkptHdr, done: u64) -> Result<()> {
        let len = hdr.len as u64 + img::record_pad(hdr.len as usize) as u64 - done;
        let here = self.offset + size_of::<img::CkptHdr>() as u64 + done;
        let end = match self.end {
            Some(e) => e,
            None => {
                // Where the stream ends, counted as `offset` counts: measured once.
                let at = self.inner.stream_position()?;
                let e = self.inner.seek(SeekFrom::End(0))?;
                self.inner.seek(SeekFrom::Start(at))?;
                let e = (e + here).saturating_sub(at);
                self.end = Some(e);
                e
            }
        };
        ensure!(
            here + len <= end,
            "truncated image: record {} at offset {} ends past the end of the image",
            rec::name(hdr.kind),
            self.offset
        );
        if len <= 64 << 10 {
            let got = io::copy(&mut (&mut self.inner).take(len), &mut io::sink())?;
            ensure!(got == len, "truncated image at offset {}", self.offset);
        } else {
            self.inner.seek(SeekFrom::Current(len as i64))?;
        }
        self.advance(hdr);
        Ok(())
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read (fewer than
/// `buf.len()` only at the end of the stream).
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes records with the image framing.
pub struct RecordWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(inner: W) -> Self {
        RecordWriter { inner, count: 0 }
    }

    /// Records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes a record whose payload is `parts` one after the other.
    pub fn write(&mut self, kind: u32, parts: &[&[u8]]) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        ensure!(len <= img::CKPT_MAX_PAYLOAD as usize, "payload too large");
        let hdr = img::CkptHdr {
            kind,
            len: len as u32,
        };
        self.inner.write_all(hdr.as_bytes())?;
        for p in parts {
            self.inner.write_all(p)?;
        }
        self.inner.write_all(&[0u8; 8][..img::record_pad(len)])?;
        self.count += 1;
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// A NUL-padded byte array as a string.
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// FNV-1a (64 bit) of a byte string: a cheap fingerprint of page contents for `ckpt show`
/// and for tests, which compute the same of the contents they expect; the `HEADER`'s
/// `vdso_hash` (the module computes it with the same definition).
pub use img::fnv1a64;

/// A record, parsed and checked: its fixed part and what its fields announce after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    Header(img::CkptHeaderRec),
    Tail(img::CkptTailRec),
    Error {
        error: img::CkptErrorRec,
        /// The reason (UTF-8 as the module writes it; shown lossily otherwise).
        reason: String,
    },
    Tree {
        tree: img::CkptTreeRec,
        entries: Vec<img::CkptTreeEntry>,
    },
    /// Its names checked: NUL-terminated, NUL-padded, all zero without `CKPT_NS_UTS`.
    UtsNs(img::CkptUtsNsRec),
    /// A container's own time namespace: its offsets, bounded as the kernel takes them.
    TimeNs(img::CkptTimeNsRec),
    /// A container's IPC namespace: its limits and how many SysV objects follow.
    IpcNs(img::CkptIpcNsRec),
    SysvShm(img::CkptSysvShmRec),
    SysvMsq(img::CkptSysvMsqRec),
    SysvMsg {
        msg: img::CkptSysvMsgRec,
        text: Vec<u8>,
    },
    /// Its values checked: each in `0..=SEMVMX`.
    SysvSem {
        sem: img::CkptSysvSemRec,
        values: Vec<i32>,
    },
    /// A POSIX message queue; its name checked: `/`, then bytes other than `/` and NUL.
    Mqueue {
        mq: img::CkptMqueueRec,
        name: Vec<u8>,
    },
    /// Its adjustments checked: each within `SEMVMX` either way.
    SemUndo {
        undo: img::CkptSemUndoRec,
        adj: Vec<i32>,
    },
    MqMsg {
        msg: img::CkptMqMsgRec,
        text: Vec<u8>,
    },
    Task(img::CkptTaskRec),
    Creds {
        creds: img::CkptCredsRec,
        groups: Vec<u32>,
    },
    Rlimits(Box<img::CkptRlimitsRec>),
    /// Paths are bytes with no NUL: not necessarily UTF-8, not necessarily absolute.
    Fs {
        fs: img::CkptFsRec,
        root: Vec<u8>,
        cwd: Vec<u8>,
    },
    Sighand(Box<img::CkptSighandRec>),
    Itimers(img::CkptItimersRec),
    PosixTimer(img::CkptPosixTimerRec),
    Signals(img::CkptSignalsRec),
    Siginfo(Box<img::CkptSiginfoRec>),
    Pipe {
        pipe: img::CkptPipeRec,
        /// What was buffered in it.
        data: Vec<u8>,
    },
    File {
        file: img::CkptFileRec,
        path: Vec<u8>,
    },
    UnixSock {
        sock: img::CkptUnixSockRec,
        /// The name it is bound to: a path, or an abstract name starting with a NUL.
        name: Vec<u8>,
    },
    Skb {
        skb: img::CkptSkbRec,
        /// The message.
        data: Vec<u8>,
    },
    /// The descriptions a message carries in flight (`SCM_RIGHTS`).
    SkbFds {
        fds: img::CkptSkbFdsRec,
        /// Their `FILE.obj` ids, in the order sent.
        objs: Vec<u32>,
    },
    /// An eventfd, timerfd or signalfd.
    Anonfd(crate::anonfd::AnonFd),
    /// An epoll's interest list.
    Epoll {
        epoll: img::CkptEpollRec,
        items: Vec<img::CkptEpollItem>,
    },
    Xstate {
        xstate: img::CkptXstateRec,
        /// The XSAVE area.
        area: Vec<u8>,
    },
    Mm(Box<img::CkptMmRec>),
    Vma {
        vma: img::CkptVmaRec,
        path: Vec<u8>,
    },
    Pages {
        pages: img::CkptPagesRec,
        data: Vec<u8>,
    },
    PagesRef(img::CkptPagesRefRec),
    Regs(Box<img::CkptRegsRec>),
    /// A TCP or UDP socket.
    InetSock(img::CkptInetSockRec),
    Deleted(img::CkptDeletedRec),
    /// A directory removed while open.
    RemovedDir(img::CkptRemovedDirRec),
    Memfd {
        memfd: img::CkptMemfdRec,
        name: Vec<u8>,
    },
    FileData {
        data: img::CkptFileDataRec,
        bytes: Vec<u8>,
    },
    /// A thread's scheduling and I/O attributes.
    TaskAttrs(crate::attrs::TaskAttrs),
    Inotify(img::CkptInotifyRec),
    InotifyWatch {
        watch: img::CkptInotifyWatchRec,
        path: Vec<u8>,
    },
    FileLock(img::CkptFileLockRec),
    /// The owner, signal and `O_ASYNC` of a description.
    Fown(img::CkptFownRec),
    /// One of the module's records (`MM` to `REGS`) whose payload
    /// [`ImageReader::next_skipping_module_records`] skipped: framing checked only, the
    /// module checks the rest when it reads it.
    Skipped(u32),
    /// A record of a type these tools do not know.
    Unknown {
        kind: u32,
        len: usize,
    },
}

impl Rec {
    /// The record type ([`rec`]).
    pub fn kind(&self) -> u32 {
        match self {
            Rec::Header(_) => rec::HEADER,
            Rec::Tail(_) => rec::TAIL,
            Rec::Error { .. } => rec::ERROR,
            Rec::Tree { .. } => rec::TREE,
            Rec::UtsNs(_) => rec::UTS_NS,
            Rec::TimeNs(_) => rec::TIME_NS,
            Rec::IpcNs(_) => rec::IPC_NS,
            Rec::SysvShm(_) => rec::SYSV_SHM,
            Rec::SysvMsq(_) => rec::SYSV_MSQ,
            Rec::SysvMsg { .. } => rec::SYSV_MSG,
            Rec::SysvSem { .. } => rec::SYSV_SEM,
            Rec::Mqueue { .. } => rec::MQUEUE,
            Rec::MqMsg { .. } => rec::MQ_MSG,
            Rec::SemUndo { .. } => rec::SEM_UNDO,
            Rec::Task(_) => rec::TASK,
            Rec::Creds { .. } => rec::CREDS,
            Rec::Rlimits(_) => rec::RLIMITS,
            Rec::Fs { .. } => rec::FS,
            Rec::Sighand(_) => rec::SIGHAND,
            Rec::Itimers(_) => rec::ITIMERS,
            Rec::PosixTimer(_) => rec::POSIX_TIMER,
            Rec::Signals(_) => rec::SIGNALS,
            Rec::Siginfo(_) => rec::SIGINFO,
            Rec::Pipe { .. } => rec::PIPE,
            Rec::File { .. } => rec::FILE,
            Rec::UnixSock { .. } => rec::UNIX_SOCK,
            Rec::Skb { .. } => rec::SKB,
            Rec::SkbFds { .. } => rec::SKB_FDS,
            Rec::Anonfd(a) => a.kind(),
            Rec::Epoll { .. } => rec::EPOLL,
            Rec::Xstate { .. } => rec::XSTATE,
            Rec::Mm(_) => rec::MM,
            Rec::Vma { .. } => rec::VMA,
            Rec::Pages { .. } => rec::PAGES,
            Rec::PagesRef(_) => rec::PAGES_REF,
            Rec::Regs(_) => rec::REGS,
            Rec::InetSock(_) => rec::INET_SOCK,
            Rec::Deleted(_) => rec::DELETED,
            Rec::RemovedDir(_) => rec::REMOVED_DIR,
            Rec::Memfd { .. } => rec::MEMFD,
            Rec::FileData { .. } => rec::FILE_DATA,
            Rec::TaskAttrs(_) => rec::TASK_ATTRS,
            Rec::Inotify(_) => rec::INOTIFY,
            Rec::InotifyWatch { .. } => rec::INOTIFY_WATCH,
            Rec::FileLock(_) => rec::FILE_LOCK,
            Rec::Fown(_) => rec::FOWN,
            Rec::Skipped(kind) | Rec::Unknown { kind, .. } => *kind,
        }
    }

    /// The records that must follow this one, and how many ([`img::Record::followed_by`]).
    fn followed_by(&self) -> Option<(u32, u32)> {
        match self {
            Rec::Signals(s) => s.followed_by(),
            Rec::Itimers(i) => i.followed_by(),
            Rec::Mm(m) => m.followed_by(),
            Rec::UnixSock { sock, .. } => sock.followed_by(),
            Rec::Inotify(i) => i.followed_by(),
            Rec::UtsNs(u) => u.followed_by(),
            _ => None,
        }
    }
}

/// The `i32`s after a record's fixed part, whose length [`fixed`] checked (whole values).
fn i32s(rest: &[u8]) -> Vec<i32> {
    rest.chunks_exact(4)
        .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

/// The fixed part of a record's payload and the bytes after it, the payload's length
/// checked by the record's rule.
fn fixed<T: img::Record>(payload: &[u8]) -> Result<(T, &[u8])> {
    let name = rec::name(T::KIND);
    let Ok((v, rest)) = T::read_from_prefix(payload) else {
        bail!(
            "{name} record: {} bytes, shorter than its {}-byte struct",
            payload.len(),
            size_of::<T>()
        )
    };
    let want = v.payload_len().map_err(|e| anyhow!("{name} record: {e}"))?;
    ensure!(
        payload.len() == want,
        "{name} record: {} bytes, its fields announce {want}",
        payload.len()
    );
    Ok((v, rest))
}

/// A name of a `UTS_NS` record: the bytes before its NUL, which must be there, with only
/// NULs after it.
pub fn uts_name(field: &[u8; img::CKPT_UTS_LEN]) -> Result<&[u8]> {
    let Some(len) = field.iter().position(|&b| b == 0) else {
        bail!("not NUL-terminated");
    };
    ensure!(
        field[len..].iter().all(|&b| b == 0),
        "bytes after its NUL (at {len})"
    );
    Ok(&field[..len])
}

/// A path of a record: no NUL inside.
fn path(kind: u32, bytes: &[u8]) -> Result<Vec<u8>> {
    ensure!(
        !bytes.contains(&0),
        "{} record: NUL inside a path",
        rec::name(kind)
    );
    Ok(bytes.to_vec())
}

/// Parses and checks one record of type `kind` on its own: its length, the lengths and
/// counts inside it, its paths and magic. What depends on other records is
/// [`ImageReader`]'s.
pub fn parse(kind: u32, p: &[u8]) -> Result<Rec> {
    Ok(match kind {
        rec::HEADER => {
            let (h, _) = fixed::<img::CkptHeaderRec>(p)?;
            ensure!(
                h.magic == img::CKPT_IMAGE_MAGIC,
                "not a checkpoint image (bad magic)"
            );
            Rec::Header(h)
        }
        rec::TAIL => {
            let (t, _) = fixed::<img::CkptTailRec>(p)?;
            ensure!(t.magic == img::CKPT_TAIL_MAGIC, "bad TAIL magic");
            Rec::Tail(t)
        }
        rec::ERROR => {
            let (error, reason) = fixed::<img::CkptErrorRec>(p)?;
            Rec::Error {
                error,
                reason: String::from_utf8_lossy(reason).into_owned(),
            }
        }
        rec::TREE => {
            let (tree, rest) = fixed::<img::CkptTreeRec>(p)?;
            let entries = <[img::CkptTreeEntry]>::ref_from_bytes(rest)
                .map_err(|_| anyhow!("TREE record: misaligned entries"))?
                .to_vec();
            Rec::Tree { tree, entries }
        }
        rec::UTS_NS => {
            let (u, _) = fixed::<img::CkptUtsNsRec>(p)?;
            for (what, name) in [("nodename", &u.nodename), ("domainname", &u.domainname)] {
                let n = uts_name(name).with_context(|| format!("UTS_NS record: {what}"))?;
                ensure!(
                    u.flags & img::CKPT_NS_UTS != 0 || n.is_empty(),
                    "UTS_NS record: a {what} without CKPT_NS_UTS"
                );
            }
            Rec::UtsNs(u)
        }
        rec::TIME_NS => Rec::TimeNs(fixed(p)?.0),
        rec::IPC_NS => Rec::IpcNs(fixed(p)?.0),
        rec::SYSV_SHM => Rec::SysvShm(fixed(p)?.0),
        rec::SYSV_MSQ => Rec::SysvMsq(fixed(p)?.0),
        rec::SYSV_MSG => {
            let (msg, text) = fixed::<img::CkptSysvMsgRec>(p)?;
            ensure!(
                msg.mtype > 0,
                "SYSV_MSG record: type {} is not positive",
                msg.mtype
            );
            Rec::SysvMsg {
                msg,
                text: text.to_vec(),
            }
        }
        rec::SYSV_SEM => {
            let (sem, rest) = fixed::<img::CkptSysvSemRec>(p)?;
            let values = i32s(rest);
            if let Some(v) = values.iter().find(|v| !(0..=img::CKPT_SEMVMX).contains(*v)) {
                bail!(
                    "SYSV_SEM record {}: value {v} out of 0..={}",
                    sem.perm.id,
                    img::CKPT_SEMVMX
                );
            }
            Rec::SysvSem { sem, values }
        }
        rec::MQUEUE => {
            let (mq, name) = fixed::<img::CkptMqueueRec>(p)?;
            ensure!(
                name[0] == b'/' && !name[1..].iter().any(|&b| b == b'/' || b == 0),
                "MQUEUE record: name {:?} is not / and a file name",
                String::from_utf8_lossy(name)
            );
            Rec::Mqueue {
                mq,
                name: name.to_vec(),
            }
        }
        rec::SEM_UNDO => {
            let (undo, rest) = fixed::<img::CkptSemUndoRec>(p)?;
            let adj = i32s(rest);
            if let Some(a) = adj
                .iter()
                .find(|a| a.unsigned_abs() > img::CKPT_SEMVMX as u32)
            {
                bail!(
                    "SEM_UNDO record of pid {}: adjustment {a} beyond SEMVMX ({})",
                    undo.pid,
                    img::CKPT_SEMVMX
                );
            }
            Rec::SemUndo { undo, adj }
        }
        rec::MQ_MSG => {
            let (msg, text) = fixed::<img::CkptMqMsgRec>(p)?;
            Rec::MqMsg {
                msg,
                text: text.to_vec(),
            }
        }
        rec::TASK => Rec::Task(fixed(p)?.0),
        rec::CREDS => {
            let (creds, rest) = fixed::<img::CkptCredsRec>(p)?;
            let groups = <[u32]>::ref_from_bytes(rest)
                .map_err(|_| anyhow!("CREDS record: misaligned groups"))?
                .to_vec();
            Rec::Creds { creds, groups }
        }
        rec::RLIMITS => Rec::Rlimits(Box::new(fixed(p)?.0)),
        rec::FS => {
            let (fs, rest) = fixed::<img::CkptFsRec>(p)?;
            let (root, cwd) = rest.split_at(fs.root_len as usize);
            Rec::Fs {
                fs,
                root: path(kind, root)?,
                cwd: path(kind, cwd)?,
            }
        }
        rec::SIGHAND => Rec::Sighand(Box::new(fixed(p)?.0)),
        rec::ITIMERS => Rec::Itimers(fixed(p)?.0),
        rec::POSIX_TIMER => Rec::PosixTimer(fixed(p)?.0),
        rec::SIGNALS => Rec::Signals(fixed(p)?.0),
        rec::SIGINFO => Rec::Siginfo(Box::new(fixed(p)?.0)),
        rec::PIPE => {
            let (pipe, data) = fixed::<img::CkptPipeRec>(p)?;
            Rec::Pipe {
                pipe,
                data: data.to_vec(),
            }
        }
        rec::FILE => {
            let (file, rest) = fixed::<img::CkptFileRec>(p)?;
            Rec::File {
                file,
                path: path(kind, rest)?,
            }
        }
        rec::UNIX_SOCK => {
            let (sock, name) = fixed::<img::CkptUnixSockRec>(p)?;
            Rec::UnixSock {
                sock,
                name: name.to_vec(),
            }
        }
        rec::SKB => {
            let (skb, data) = fixed::<img::CkptSkbRec>(p)?;
            Rec::Skb {
                skb,
                data: data.to_vec(),
            }
        }
        rec::SKB_FDS => {
            let (fds, rest) = fixed::<img::CkptSkbFdsRec>(p)?;
            let objs = rest
                .chunks_exact(4)
                .map(|c| u32::from_ne_bytes(c.try_into().expect("4 bytes")))
                .collect();
            Rec::SkbFds { fds, objs }
        }
        rec::EVENTFD => Rec::Anonfd(crate::anonfd::AnonFd::Eventfd(fixed(p)?.0)),
        rec::TIMERFD => Rec::Anonfd(crate::anonfd::AnonFd::Timerfd(fixed(p)?.0)),
        rec::SIGNALFD => Rec::Anonfd(crate::anonfd::AnonFd::Signalfd(fixed(p)?.0)),
        rec::INET_SOCK => Rec::InetSock(fixed(p)?.0),
        rec::FOWN => Rec::Fown(fixed(p)?.0),
        rec::EPOLL => {
            let (epoll, rest) = fixed::<img::CkptEpollRec>(p)?;
            let items = <[img::CkptEpollItem]>::ref_from_bytes(rest)
                .map_err(|_| anyhow!("EPOLL record: misaligned items"))?
                .to_vec();
            Rec::Epoll { epoll, items }
        }
        rec::XSTATE => {
            let (xstate, area) = fixed::<img::CkptXstateRec>(p)?;
            Rec::Xstate {
                xstate,
                area: area.to_vec(),
            }
        }
        rec::MM => Rec::Mm(Box::new(fixed(p)?.0)),
        rec::VMA => {
            let (vma, rest) = fixed::<img::CkptVmaRec>(p)?;
            Rec::Vma {
                vma,
                path: path(kind, rest)?,
            }
        }
        rec::PAGES => {
            let (pages, data) = fixed::<img::CkptPagesRec>(p)?;
            Rec::Pages {
                pages,
                data: data.to_vec(),
            }
        }
        rec::PAGES_REF => Rec::PagesRef(fixed(p)?.0),
        rec::REGS => Rec::Regs(Box::new(fixed(p)?.0)),
        rec::DELETED => Rec::Deleted(fixed(p)?.0),
        rec::REMOVED_DIR => Rec::RemovedDir(fixed(p)?.0),
        rec::MEMFD => {
            let (memfd, name) = fixed::<img::CkptMemfdRec>(p)?;
            Rec::Memfd {
                memfd,
                name: name.to_vec(),
            }
        }
        rec::FILE_DATA => {
            let (data, bytes) = fixed::<img::CkptFileDataRec>(p)?;
            Rec::FileData {
                data,
                bytes: bytes.to_vec(),
            }
        }
        rec::TASK_ATTRS => {
            let (a, rest) = fixed::<img::CkptTaskAttrsRec>(p)?;
            // `fixed` checked the length: whole words.
            let cpus = rest
                .chunks_exact(8)
                .map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
                .collect();
            Rec::TaskAttrs(crate::attrs::TaskAttrs { rec: a, cpus })
        }
        rec::INOTIFY => Rec::Inotify(fixed(p)?.0),
        rec::INOTIFY_WATCH => {
            let (watch, rest) = fixed::<img::CkptInotifyWatchRec>(p)?;
            Rec::InotifyWatch {
                watch,
                path: path(kind, rest)?,
            }
        }
        rec::FILE_LOCK => Rec::FileLock(fixed(p)?.0),
        kind => Rec::Unknown { kind, len: p.len() },
    })
}

/// The `TREE` record's header and entries, from its payload.
pub fn tree_entries(payload: &[u8]) -> Result<(img::CkptTreeRec, Vec<img::CkptTreeEntry>)> {
    match parse(rec::TREE, payload)? {
        Rec::Tree { tree, entries } => Ok((tree, entries)),
        _ => unreachable!("parse(TREE) is a TREE"),
    }
}

/// The records that the module reads and checks itself at restart.
fn module_record(kind: u32) -> bool {
    matches!(
        kind,
        rec::MM | rec::VMA | rec::PAGES | rec::PAGES_REF | rec::REGS
    )
}

/// Reads a whole image record by record, each parsed and checked, and the order and
/// counts of the stream checked as it goes (see the module's documentation). At the end of
/// the stream, it fails unless a `TAIL` or `ERROR` ended the image.
pub struct ImageReader<'a, R> {
    rd: &'a mut RecordReader<R>,
    /// The `HEADER`, once read.
    header: Option<img::CkptHeaderRec>,
    /// Whether the `TREE` was read.
    tree: bool,
    /// The `TREE`'s index and whether it is a container's: only then, and only right after
    /// it, may a `UTS_NS` come.
    container_tree: Option<u64>,
    /// Records announced and not yet read: (type, how many, the type announcing them).
    run: Option<(u32, u32, u32)>,
    /// The types of records that come only where another announces them, with that one.
    announced: Vec<(u32, u32)>,
    /// The `TAIL` or `ERROR` that ended the image.
    end: Option<u32>,
    /// A record read and given back ([`Self::unread`]), the next one returned.
    held: Option<Rec>,
}

impl<'a, R: Read> ImageReader<'a, R> {
    pub fn new(rd: &'a mut RecordReader<R>) -> Self {
        ImageReader {
            rd,
            header: None,
            tree: false,
            container_tree: None,
            run: None,
            announced: Vec::new(),
            end: None,
            held: None,
        }
    }

    /// Gives back `r`, the record just read (checked already): the next call of
    /// [`Self::next_record`] or [`Self::next_skipping_module_records`] returns it again.
    pub fn unread(&mut self, r: Rec) {
        debug_assert!(self.held.is_none(), "one record given back at a time");
        self.held = Some(r);
    }

    /// Offset of the next record in the stream.
    pub fn offset(&self) -> u64 {
        self.rd.offset()
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.rd.count()
    }

    /// The next record, or `None` after the `TAIL` (or `ERROR`) at the end of the stream.
    pub fn next_record(&mut self) -> Result<Option<Rec>> {
        if let Some(r) = self.held.take() {
            return Ok(Some(r));
        }
        self.step(|rd, h| rd.payload(h).map(Some))
    }

    fn step(
        &mut self,
        read: impl FnOnce(&mut RecordReader<R>, &img::CkptHdr) -> Result<Option<Vec<u8>>>,
    ) -> Result<Option<Rec>> {
        let (index, at) = (self.rd.count(), self.rd.offset());
        let Some(h) = self.rd.next_header()? else {
            if self.end.is_some() {
                return Ok(None);
            }
            bail!("truncated image: no TAIL record after {index} records");
        };
        let r = self
            .record(&h, index, read)
            .with_context(|| format!("record {index} ({}) at offset {at}", rec::name(h.kind)))?;
        Ok(Some(r))
    }

    /// The record whose header `h` was just read, checked in the stream.
    fn record(
        &mut self,
        h: &img::CkptHdr,
        index: u64,
        read: impl FnOnce(&mut RecordReader<R>, &img::CkptHdr) -> Result<Option<Vec<u8>>>,
    ) -> Result<Rec> {
        self.order(h.kind)?;
        let r = match read(self.rd, h)? {
            Some(payload) => parse(h.kind, &payload)?,
            None => Rec::Skipped(h.kind),
        };
        self.counts(&r, index)?;
        Ok(r)
    }

    /// Checks that a record of type `kind` may come next.
    fn order(&mut self, kind: u32) -> Result<()> {
        if let Some(end) = self.end {
            bail!("data after the {} record", rec::name(end));
        }
        if kind == rec::ERROR && self.header.is_some() {
            // A checkpoint that fails ends the image where it stands, even inside a run.
            return Ok(());
        }
        if self.header.is_none() {
            ensure!(
                kind == rec::HEADER,
                "not a checkpoint image: it does not start with a HEADER record"
            );
        } else if !self.tree {
            ensure!(
                kind == rec::TREE,
                "expected the TREE record after the HEADER, found {}",
                rec::name(kind)
            );
        } else {
            ensure!(
                kind != rec::HEADER && kind != rec::TREE,
                "a second {} record",
                rec::name(kind)
            );
        }
        match self.run {
            Some((want, left, by)) => {
                ensure!(
                    kind == want,
                    "{} announces {left} more {} records, found {}",
                    rec::name(by),
                    rec::name(want),
                    rec::name(kind)
                );
                self.run = (left > 1).then_some((want, left - 1, by));
            }
            None => {
                if let Some(&(_, by)) = self.announced.iter().find(|(k, _)| *k == kind) {
                    bail!(
                        "a {} record that no {} announces",
                        rec::name(kind),
                        rec::name(by)
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks what a record says of the stream: the counts it announces, the tasks of the
    /// tree, the records before the `TAIL`. `index` is the record's, from 0.
    fn counts(&mut self, r: &Rec, index: u64) -> Result<()> {
        match r {
            Rec::Header(h) => self.header = Some(*h),
            Rec::Tree { tree, .. } => {
                let nr_tasks = self.header.map_or(0, |h| h.nr_tasks);
                ensure!(
                    tree.nr == nr_tasks,
                    "TREE record: {} tasks, HEADER says {nr_tasks}",
                    tree.nr
                );
                self.tree = true;
                if tree.flags & img::CKPT_TREE_CONTAINER != 0 {
                    self.container_tree = Some(index);
                }
            }
            Rec::UtsNs(_) => ensure!(
                self.container_tree == Some(index - 1),
                "a UTS_NS record not right after the TREE of a container"
            ),
            Rec::TimeNs(_) => ensure!(
                self.container_tree == index.checked_sub(2),
                "a TIME_NS record not right after the UTS_NS of a container"
            ),
            Rec::Tail(t) => {
                ensure!(
                    t.nr_records == index,
                    "TAIL counts {} records before it, the image has {index}",
                    t.nr_records
                );
                self.end = Some(rec::TAIL);
            }
            Rec::Error { .. } => self.end = Some(rec::ERROR),
            _ => {}
        }
        if let Some((kind, n)) = r.followed_by() {
            if !self.announced.iter().any(|(k, _)| *k == kind) {
                self.announced.push((kind, r.kind()));
            }
            self.run = (n > 0).then_some((kind, n, r.kind()));
        }
        Ok(())
    }
}

/// A `PAGES` record as `rstr` needs it: where its pages go and where their contents are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    pub addr: u64,
    pub nr_pages: u32,
    /// Offset in the image of the first page's contents.
    pub data_at: u64,
}

impl<R: Read + Seek> ImageReader<'_, R> {
    /// As [`Self::next_skipping_module_records`], but `MM` and `VMA` are decoded, and of a
    /// `PAGES` record only its fixed part is read, its contents skipped: the record comes
    /// back as [`Rec::Skipped`] with its [`PageRun`]; a `PAGES_REF` comes with the run of
    /// the contents it refers to.
    pub fn next_memory_record(&mut self) -> Result<Option<(Rec, Option<PageRun>)>> {
        let mut run = None;
        let r = self.step(|rd, h| match h.kind {
            rec::MM | rec::VMA => rd.payload(h).map(Some),
            rec::PAGES_REF => {
                let here = rd.offset();
                let p = rd.payload(h)?;
                let (pg, _) = fixed::<img::CkptPagesRefRec>(&p)?;
                let len = u64::from(pg.nr_pages) * img::CKPT_PAGE_SIZE as u64;
                ensure!(
                    pg.addr % img::CKPT_PAGE_SIZE as u64 == 0
                        && pg.src.checked_add(len).is_some_and(|e| e <= here),
                    "PAGES_REF record {:#x}: misaligned, or its contents at {:#x} are not before it",
                    pg.addr,
                    pg.src
                );
                run = Some(PageRun {
                    addr: pg.addr,
                    nr_pages: pg.nr_pages,
                    data_at: pg.src,
                });
                Ok(Some(p))
            }
            rec::PAGES => {
                let fixed = size_of::<img::CkptPagesRec>();
                let data_at = rd.offset() + (size_of::<img::CkptHdr>() + fixed) as u64;
                let p = rd.payload_prefix(h, fixed)?;
                let pg = img::CkptPagesRec::read_from_bytes(&p).expect("size checked");
                let want = pg.payload_len().map_err(|e| anyhow!("PAGES record: {e}"))?;
                ensure!(
                    want == h.len as usize,
                    "PAGES record: {} bytes, its fields announce {want}",
                    h.len
                );
                ensure!(
                    pg.addr % img::CKPT_PAGE_SIZE as u64 == 0,
                    "PAGES record {:#x}: not page-aligned",
                    pg.addr
                );
                run = Some(PageRun {
                    addr: pg.addr,
                    nr_pages: pg.nr_pages,
                    data_at,
                });
                Ok(None)
            }
            k if module_record(k) => rd.skip_payload(h).map(|()| None),
            _ => rd.payload(h).map(Some),
        })?;
        Ok(r.map(|r| (r, run)))
    }

    /// As [`Self::next_record`], but the module's records (`MM` to `REGS`) are only framed and
    /// skipped, as [`Rec::Skipped`]: `rstr` hands them to the module, which checks them.
    pub fn next_skipping_module_records(&mut self) -> Result<Option<Rec>> {
        if let Some(r) = self.held.take() {
            return Ok(Some(r));
        }
        self.step(|rd, h| {
            if module_record(h.kind) {
                rd.skip_payload(h)?;
                Ok(None)
            } else {
                rd.payload(h).map(Some)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn header() -> img::CkptHeaderRec {
        let mut h = img::CkptHeaderRec::new_zeroed();
        h.magic = img::CKPT_IMAGE_MAGIC;
        h.arch = img::CKPT_ARCH_X86_64;
        h.page_size = 4096;
        h
    }

    fn stream(records: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut w = RecordWriter::new(Vec::new());
        for (k, p) in records {
            w.write(*k, &[p]).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn records_round_trip_with_padding() {
        let bytes = stream(&[
            (rec::HEADER, header().as_bytes().to_vec()),
            (rec::FS, vec![1, 2, 3]),
        ]);
        // 8-byte header + payload, each record padded to 8.
        assert_eq!(bytes.len(), 8 + size_of::<img::CkptHeaderRec>() + 8 + 8);
        let mut rd = RecordReader::new(&bytes[..]);
        let a = rd.next_record().unwrap().unwrap();
        assert_eq!(a.kind, rec::HEADER);
        let b = rd.next_record().unwrap().unwrap();
        assert_eq!((b.kind, b.payload), (rec::FS, vec![1, 2, 3]));
        assert!(rd.next_record().unwrap().is_none());
        assert_eq!(rd.offset(), bytes.len() as u64);
        assert_eq!(rd.count(), 2);
    }

    #[test]
    fn truncation_is_detected_at_every_length() {
        let bytes = stream(&[
            (rec::HEADER, header().as_bytes().to_vec()),
            (rec::FS, vec![9; 13]),
        ]);
        for cut in 1..bytes.len() {
            let mut rd = RecordReader::new(&bytes[..cut]);
            let mut res = Ok(Some(Record {
                kind: 0,
                payload: vec![],
            }));
            while let Ok(Some(_)) = res {
                res = rd.next_record();
            }
            // A cut exactly between records is a clean end; anywhere else is an error.
            let between = cut == 8 + size_of::<img::CkptHeaderRec>();
            assert_eq!(res.is_ok(), between, "cut at {cut}");
        }
    }

    #[test]
    fn skipped_payloads_small_and_large_and_truncated() {
        // A small payload (skipped in the buffer), a large one (skipped by lseek), then FS.
        let bytes = stream(&[
            (rec::PAGES, vec![7; 100]),
            (rec::PAGES, vec![8; 70_000]),
            (rec::FS, vec![1, 2, 3]),
        ]);
        let mut rd = RecordReader::new(io::BufReader::with_capacity(
            4096,
            io::Cursor::new(&bytes[..]),
        ));
        for _ in 0..2 {
            let h = rd.next_header().unwrap().unwrap();
            rd.skip_payload(&h).unwrap();
        }
        let r = rd.next_record().unwrap().unwrap();
        assert_eq!((r.kind, r.payload), (rec::FS, vec![1, 2, 3]));
        assert_eq!(rd.offset(), bytes.len() as u64);
        assert_eq!(rd.count(), 3);

        // Cut inside either skipped payload: refused, never read past the end.
        for cut in [8 + 50, 8 + 104 + 8 + 60_000] {
            let mut rd = RecordReader::new(io::BufReader::new(io::Cursor::new(&bytes[..cut])));
            let mut res = Ok(());
            while res.is_ok() {
                match rd.next_header() {
                    Ok(Some(h)) => res = rd.skip_payload(&h),
                    Ok(None) => panic!("cut at {cut} read as a clean end"),
                    Err(e) => res = Err(e),
                }
            }
            let err = res.unwrap_err().to_string();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn oversized_length_and_dirty_padding_are_refused() {
        let mut bytes = stream(&[(rec::FS, vec![1])]);
        bytes[7] = 0x7f; // len = 0x7f000001
        let err = RecordReader::new(&bytes[..]).next_record().unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");

        let mut bytes = stream(&[(rec::FS, vec![1])]);
        bytes[12] = 1; // a padding byte
        let err = RecordReader::new(&bytes[..]).next_record().unwrap_err();
        assert!(err.to_string().contains("non-zero padding"), "{err}");
    }

    #[test]
    fn parse_checks_inner_lengths() {
        let mut f = img::CkptFileRec::new_zeroed();
        f.path_len = 10;
        let p = [f.as_bytes(), b"/short"].concat();
        assert!(parse(rec::FILE, &p).is_err(), "path longer than the record");
        f.path_len = 6;
        let p = [f.as_bytes(), b"/short"].concat();
        match parse(rec::FILE, &p).unwrap() {
            Rec::File { path, .. } => assert_eq!(path, b"/short"),
            other => panic!("{other:?}"),
        }
        let mut pg = img::CkptPagesRec::new_zeroed();
        pg.nr_pages = 2;
        let p = [pg.as_bytes(), &[0u8; 4096][..]].concat();
        assert!(
            parse(rec::PAGES, &p).is_err(),
            "2 pages announced, 1 present"
        );
        assert!(parse(rec::HEADER, &[0; 3]).is_err(), "short HEADER");
    }

    #[test]
    fn reserved_fields_of_file_and_pipe_are_zero() {
        let mut f = img::CkptFileRec::new_zeroed();
        f.__reserved = 1;
        let e = parse(rec::FILE, f.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("FILE record: reserved field __reserved is 0x1"),
            "{e}"
        );
        let mut p = img::CkptPipeRec::new_zeroed();
        p.__reserved = 2;
        let e = parse(rec::PIPE, p.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("PIPE record: reserved field"), "{e}");
    }

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
