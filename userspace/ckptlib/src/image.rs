// SPDX-License-Identifier: GPL-2.0

//! Reading and writing the record stream of a checkpoint image (`uapi/image.rs`).
//!
//! [`RecordReader`] reads strictly in order from any `Read` (a file, a pipe, stdin) and checks
//! the framing of every record: its length bound and its zero padding. [`decode`] turns a
//! record into a [`Decoded`] value for `ckpt show`, checking each payload's size and the
//! lengths inside it. [`RecordWriter`] writes the same framing, for tests and tools.

use std::io::{self, Read, Seek, SeekFrom, Write};

use anyhow::{bail, ensure, Result};
use serde::Serialize;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::abi::image::{self as img, file_kind, rec, vma_kind};

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
        let len = hdr.len as u64 + img::record_pad(hdr.len as usize) as u64;
        let here = self.offset + size_of::<img::CkptHdr>() as u64;
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

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Splits a payload into its fixed struct and the bytes after it.
pub fn split<T: FromBytes + KnownLayout + Immutable>(
    kind: u32,
    payload: &[u8],
) -> Result<(T, &[u8])> {
    match T::read_from_prefix(payload) {
        Ok((v, rest)) => Ok((v, rest)),
        Err(_) => bail!(
            "record {}: payload of {} bytes is shorter than its {}-byte struct",
            rec::name(kind),
            payload.len(),
            size_of::<T>()
        ),
    }
}

/// Reads a payload that is exactly one `T`.
pub fn exact<T: FromBytes + KnownLayout + Immutable>(kind: u32, payload: &[u8]) -> Result<T> {
    let (v, rest) = split::<T>(kind, payload)?;
    ensure!(
        rest.is_empty(),
        "record {}: {} bytes after its struct",
        rec::name(kind),
        rest.len()
    );
    Ok(v)
}

/// A NUL-padded byte array as a string.
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A path of `len` bytes at the start of `rest`, checked.
fn path_at(kind: u32, rest: &[u8], len: u32) -> Result<(String, usize)> {
    ensure!(
        len <= img::CKPT_PATH_MAX && len as usize <= rest.len(),
        "record {}: path length {} out of bounds",
        rec::name(kind),
        len
    );
    let p = &rest[..len as usize];
    ensure!(
        !p.contains(&0),
        "record {}: NUL inside a path",
        rec::name(kind)
    );
    Ok((String::from_utf8_lossy(p).into_owned(), len as usize))
}

/// FNV-1a (64 bit) of a byte string: a cheap fingerprint of page contents for `ckpt show`
/// and for tests, which compute the same of the contents they expect.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn vma_kind_name(k: u32) -> &'static str {
    match k {
        vma_kind::ANON_PRIVATE => "anon-private",
        vma_kind::ANON_SHARED => "anon-shared",
        vma_kind::FILE_PRIVATE => "file-private",
        vma_kind::FILE_SHARED => "file-shared",
        vma_kind::HEAP => "heap",
        vma_kind::STACK => "stack",
        vma_kind::VDSO => "vdso",
        vma_kind::VVAR => "vvar",
        vma_kind::VVAR_VCLOCK => "vvar_vclock",
        vma_kind::VSYSCALL => "vsyscall",
        _ => "unknown",
    }
}

fn file_kind_name(k: u32) -> &'static str {
    match k {
        file_kind::REGULAR => "regular",
        file_kind::CHARDEV => "chardev",
        file_kind::DIRECTORY => "directory",
        file_kind::PIPE => "pipe",
        _ => "unknown",
    }
}

/// One signal's disposition, decoded.
#[derive(Debug, Serialize)]
pub struct Sigaction {
    pub signo: u32,
    pub handler: String,
    pub flags: String,
    pub restorer: String,
    pub mask: String,
}

/// One `TREE` entry, decoded.
#[derive(Debug, Serialize)]
pub struct TreeTask {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub zombie: bool,
    pub stopped: bool,
    pub subreaper: bool,
    pub exit_code: i32,
    pub exit_signal: i32,
    pub mm: u32,
    pub files: u32,
    pub fs: u32,
    pub sighand: u32,
}

/// The `TREE` record: its header and entries, lengths checked.
pub fn tree_entries(payload: &[u8]) -> Result<(img::CkptTreeRec, Vec<img::CkptTreeEntry>)> {
    let (t, rest) = split::<img::CkptTreeRec>(rec::TREE, payload)?;
    ensure!(
        t.nr >= 1
            && t.nr <= crate::abi::CKPT_MAX_TASKS
            && rest.len() == t.nr as usize * size_of::<img::CkptTreeEntry>(),
        "TREE record: {} tasks do not match its {} bytes",
        t.nr,
        rest.len()
    );
    let entries = rest
        .chunks_exact(size_of::<img::CkptTreeEntry>())
        .map(|c| img::CkptTreeEntry::read_from_bytes(c).expect("size checked"))
        .collect();
    Ok((t, entries))
}

/// A decoded record, for `ckpt show`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decoded {
    Header {
        image_version: u32,
        arch: String,
        page_size: u32,
        xsave_size: u32,
        xfeatures: String,
        time_ns: u64,
        nr_tasks: u32,
        kernel_release: String,
    },
    Tail {
        nr_records: u64,
    },
    Error {
        errno: i32,
        reason: String,
    },
    Tree {
        container: bool,
        tasks: Vec<TreeTask>,
    },
    Pipe {
        id: u32,
        capacity: u32,
        len: u32,
    },
    Task {
        pid: i32,
        tgid: i32,
        ppid: i32,
        pgid: i32,
        sid: i32,
        comm: String,
        personality: String,
        umask: String,
        exit_signal: i32,
        dumpable: Option<u32>,
        no_new_privs: u32,
        robust_list: String,
        robust_list_len: u64,
        set_child_tid: String,
        clear_child_tid: String,
        vdso_base: String,
        rseq: String,
        rseq_len: u32,
        pdeath_signal: i32,
        nice: i32,
        timer_slack_ns: u64,
        thp_disable: u32,
    },
    Creds {
        uid: [u32; 4],
        gid: [u32; 4],
        groups: Vec<u32>,
        securebits: String,
        cap_inheritable: String,
        cap_permitted: String,
        cap_effective: String,
        cap_bset: String,
        cap_ambient: String,
    },
    Rlimits {
        /// `(cur, max)` per resource; `u64::MAX` is `RLIM_INFINITY`.
        rlim: Vec<(u64, u64)>,
    },
    Fs {
        root: String,
        cwd: String,
    },
    Sighand {
        /// Only the signals whose disposition is not the default.
        actions: Vec<Sigaction>,
    },
    Signals {
        blocked: String,
        altstack_sp: String,
        altstack_size: u64,
        altstack_flags: u32,
        nr_pending: u32,
    },
    Siginfo {
        shared: bool,
        signo: i32,
        errno: i32,
        code: i32,
    },
    File {
        fd: i32,
        kind: &'static str,
        path: String,
        flags: String,
        cloexec: bool,
        pos: i64,
        mode: String,
        rdev: u32,
        obj: u32,
        pipe: u32,
        /// `tty`, `pty` or `console` for a terminal ([`crate::terminal`]), which `rstr`
        /// gives its own descriptor instead of reopening.
        terminal: Option<&'static str>,
    },
    Xstate {
        xstate_bv: String,
        size: u32,
    },
    Mm {
        start_code: String,
        end_code: String,
        start_data: String,
        end_data: String,
        start_brk: String,
        brk: String,
        start_stack: String,
        arg_start: String,
        arg_end: String,
        env_start: String,
        env_end: String,
        nr_vmas: u32,
        /// The area mapping the executable file (`/proc/PID/exe`), if any.
        exe_vma: Option<u32>,
        auxv: Vec<(u64, String)>,
    },
    Vma {
        start: String,
        end: String,
        kind: &'static str,
        prot: String,
        pgoff: u64,
        vm_flags: String,
        path: String,
        shm: u32,
        shm_size: u64,
    },
    Pages {
        addr: String,
        nr_pages: u32,
        fnv1a64: String,
    },
    Regs {
        ip: String,
        sp: String,
        ax: String,
        orig_ax: String,
        flags: String,
        fs_base: String,
        gs_base: String,
        cs: String,
        ss: String,
        all: Vec<(String, String)>,
    },
    Unknown {
        kind: u32,
        len: usize,
    },
}

fn prot_str(p: u32) -> String {
    let mut s = String::new();
    s.push(if p & 1 != 0 { 'r' } else { '-' });
    s.push(if p & 2 != 0 { 'w' } else { '-' });
    s.push(if p & 4 != 0 { 'x' } else { '-' });
    s
}

/// Decodes one record, checking its size and the lengths inside it.
pub fn decode(r: &Record) -> Result<Decoded> {
    let k = r.kind;
    let p = &r.payload[..];
    Ok(match k {
        rec::HEADER => {
            let h: img::CkptHeaderRec = exact(k, p)?;
            ensure!(
                h.magic == img::CKPT_IMAGE_MAGIC,
                "not a checkpoint image (bad magic)"
            );
            Decoded::Header {
                image_version: h.image_version,
                arch: if h.arch == img::CKPT_ARCH_X86_64 {
                    "x86_64".into()
                } else {
                    hex(h.arch.into())
                },
                page_size: h.page_size,
                xsave_size: h.xsave_size,
                xfeatures: hex(h.xfeatures),
                time_ns: h.time_ns,
                nr_tasks: h.nr_tasks,
                kernel_release: c_str(&h.kernel_release),
            }
        }
        rec::TAIL => {
            let t: img::CkptTailRec = exact(k, p)?;
            ensure!(t.magic == img::CKPT_TAIL_MAGIC, "bad TAIL magic");
            Decoded::Tail {
                nr_records: t.nr_records,
            }
        }
        rec::ERROR => {
            let (e, rest) = split::<img::CkptErrorRec>(k, p)?;
            ensure!(
                e.len <= img::CKPT_REASON_MAX && e.len as usize == rest.len(),
                "ERROR record: reason length {} does not match its {} bytes",
                e.len,
                rest.len()
            );
            Decoded::Error {
                errno: e.error,
                reason: String::from_utf8_lossy(rest).into_owned(),
            }
        }
        rec::TREE => {
            let (t, entries) = tree_entries(p)?;
            Decoded::Tree {
                container: t.flags & img::CKPT_TREE_CONTAINER != 0,
                tasks: entries
                    .iter()
                    .map(|e| TreeTask {
                        pid: e.pid,
                        tgid: e.tgid,
                        ppid: e.ppid,
                        pgid: e.pgid,
                        sid: e.sid,
                        zombie: e.flags & img::CKPT_TASK_ZOMBIE != 0,
                        stopped: e.flags & img::CKPT_TASK_STOPPED != 0,
                        subreaper: e.flags & img::CKPT_TASK_SUBREAPER != 0,
                        exit_code: e.exit_code,
                        exit_signal: e.exit_signal,
                        mm: e.mm,
                        files: e.files,
                        fs: e.fs,
                        sighand: e.sighand,
                    })
                    .collect(),
            }
        }
        rec::PIPE => {
            let (pr, rest) = split::<img::CkptPipeRec>(k, p)?;
            ensure!(
                pr.len as usize == rest.len() && pr.len <= pr.capacity,
                "PIPE record: {} bytes of contents do not match its {} bytes",
                pr.len,
                rest.len()
            );
            Decoded::Pipe {
                id: pr.id,
                capacity: pr.capacity,
                len: pr.len,
            }
        }
        rec::TASK => {
            let t: img::CkptTaskRec = exact(k, p)?;
            Decoded::Task {
                pid: t.pid,
                tgid: t.tgid,
                ppid: t.ppid,
                pgid: t.pgid,
                sid: t.sid,
                comm: c_str(&t.comm),
                personality: hex(t.personality.into()),
                umask: format!("{:04o}", t.umask),
                exit_signal: t.exit_signal,
                dumpable: (t.dumpable != u32::MAX).then_some(t.dumpable),
                no_new_privs: t.no_new_privs,
                robust_list: hex(t.robust_list),
                robust_list_len: t.robust_list_len,
                set_child_tid: hex(t.set_child_tid),
                clear_child_tid: hex(t.clear_child_tid),
                vdso_base: hex(t.vdso_base),
                rseq: hex(t.rseq),
                rseq_len: t.rseq_len,
                pdeath_signal: t.pdeath_signal,
                nice: t.nice,
                timer_slack_ns: t.timer_slack_ns,
                thp_disable: t.thp_disable,
            }
        }
        rec::CREDS => {
            let (c, rest) = split::<img::CkptCredsRec>(k, p)?;
            ensure!(
                c.ngroups <= img::CKPT_NGROUPS_MAX && rest.len() == c.ngroups as usize * 4,
                "CREDS record: {} groups do not match its {} bytes",
                c.ngroups,
                rest.len()
            );
            Decoded::Creds {
                uid: [c.uid, c.euid, c.suid, c.fsuid],
                gid: [c.gid, c.egid, c.sgid, c.fsgid],
                groups: rest
                    .chunks_exact(4)
                    .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
                    .collect(),
                securebits: hex(c.securebits.into()),
                cap_inheritable: hex(c.cap_inheritable),
                cap_permitted: hex(c.cap_permitted),
                cap_effective: hex(c.cap_effective),
                cap_bset: hex(c.cap_bset),
                cap_ambient: hex(c.cap_ambient),
            }
        }
        rec::RLIMITS => {
            let r: img::CkptRlimitsRec = exact(k, p)?;
            Decoded::Rlimits {
                rlim: r.rlim.iter().map(|l| (l.cur, l.max)).collect(),
            }
        }
        rec::FS => {
            let (f, rest) = split::<img::CkptFsRec>(k, p)?;
            let (root, n) = path_at(k, rest, f.root_len)?;
            let (cwd, m) = path_at(k, &rest[n..], f.cwd_len)?;
            ensure!(n + m == rest.len(), "FS record: trailing bytes");
            Decoded::Fs { root, cwd }
        }
        rec::SIGHAND => {
            let h: img::CkptSighandRec = exact(k, p)?;
            Decoded::Sighand {
                actions: h
                    .action
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.handler != 0 || a.flags != 0 || a.mask != 0)
                    .map(|(i, a)| Sigaction {
                        signo: i as u32 + 1,
                        handler: match a.handler {
                            0 => "SIG_DFL".into(),
                            1 => "SIG_IGN".into(),
                            h => hex(h),
                        },
                        flags: hex(a.flags),
                        restorer: hex(a.restorer),
                        mask: hex(a.mask),
                    })
                    .collect(),
            }
        }
        rec::SIGNALS => {
            let s: img::CkptSignalsRec = exact(k, p)?;
            Decoded::Signals {
                blocked: hex(s.blocked),
                altstack_sp: hex(s.altstack_sp),
                altstack_size: s.altstack_size,
                altstack_flags: s.altstack_flags,
                nr_pending: s.nr_pending,
            }
        }
        rec::SIGINFO => {
            let s: img::CkptSiginfoRec = exact(k, p)?;
            let word = |i: usize| i32::from_ne_bytes(s.info[i * 4..i * 4 + 4].try_into().unwrap());
            Decoded::Siginfo {
                shared: s.shared != 0,
                signo: word(0),
                errno: word(1),
                code: word(2),
            }
        }
        rec::FILE => {
            let (f, rest) = split::<img::CkptFileRec>(k, p)?;
            let (path, n) = path_at(k, rest, f.path_len)?;
            ensure!(n == rest.len(), "FILE record: trailing bytes");
            let terminal = crate::terminal::terminal_kind(&f, &path);
            Decoded::File {
                fd: f.fd,
                kind: file_kind_name(f.kind),
                path,
                flags: format!("{:#o}", f.flags),
                cloexec: f.cloexec != 0,
                pos: f.pos,
                mode: format!("{:#o}", f.mode),
                rdev: f.rdev,
                obj: f.obj,
                pipe: f.pipe,
                terminal,
            }
        }
        rec::XSTATE => {
            let (x, rest) = split::<img::CkptXstateRec>(k, p)?;
            ensure!(
                x.size as usize == rest.len(),
                "XSTATE record: size {} does not match its {} bytes",
                x.size,
                rest.len()
            );
            Decoded::Xstate {
                xstate_bv: hex(x.xstate_bv),
                size: x.size,
            }
        }
        rec::MM => {
            let m: img::CkptMmRec = exact(k, p)?;
            ensure!(
                m.auxv_words as usize <= img::CKPT_AUXV_WORDS && m.auxv_words.is_multiple_of(2),
                "MM record: bad auxv length {}",
                m.auxv_words
            );
            ensure!(
                m.exe_vma == img::CKPT_NO_EXE || m.exe_vma < m.nr_vmas,
                "MM record: executable in area {} of {}",
                m.exe_vma,
                m.nr_vmas
            );
            ensure!(m.__reserved == 0, "MM record: non-zero reserved field");
            Decoded::Mm {
                start_code: hex(m.start_code),
                end_code: hex(m.end_code),
                start_data: hex(m.start_data),
                end_data: hex(m.end_data),
                start_brk: hex(m.start_brk),
                brk: hex(m.brk),
                start_stack: hex(m.start_stack),
                arg_start: hex(m.arg_start),
                arg_end: hex(m.arg_end),
                env_start: hex(m.env_start),
                env_end: hex(m.env_end),
                nr_vmas: m.nr_vmas,
                exe_vma: (m.exe_vma != img::CKPT_NO_EXE).then_some(m.exe_vma),
                auxv: m.auxv[..m.auxv_words as usize]
                    .chunks_exact(2)
                    .map(|w| (w[0], hex(w[1])))
                    .collect(),
            }
        }
        rec::VMA => {
            let (v, rest) = split::<img::CkptVmaRec>(k, p)?;
            let (path, n) = path_at(k, rest, v.path_len)?;
            ensure!(n == rest.len(), "VMA record: trailing bytes");
            Decoded::Vma {
                start: hex(v.start),
                end: hex(v.end),
                kind: vma_kind_name(v.kind),
                prot: prot_str(v.prot),
                pgoff: v.pgoff,
                vm_flags: hex(v.vm_flags),
                path,
                shm: v.shm,
                shm_size: v.shm_size,
            }
        }
        rec::PAGES => {
            let (pg, rest) = split::<img::CkptPagesRec>(k, p)?;
            ensure!(
                pg.nr_pages <= img::CKPT_PAGES_PER_RECORD
                    && rest.len() == pg.nr_pages as usize * img::CKPT_PAGE_SIZE as usize,
                "PAGES record: {} pages do not match its {} bytes",
                pg.nr_pages,
                rest.len()
            );
            Decoded::Pages {
                addr: hex(pg.addr),
                nr_pages: pg.nr_pages,
                fnv1a64: hex(fnv1a64(rest)),
            }
        }
        rec::REGS => {
            let g: img::CkptRegsRec = exact(k, p)?;
            let names = [
                "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
                "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss", "fs_base", "gs_base", "ds",
                "es", "fs", "gs",
            ];
            let words = <[u64; 27]>::read_from_bytes(g.as_bytes()).expect("27 words");
            Decoded::Regs {
                ip: hex(g.ip),
                sp: hex(g.sp),
                ax: hex(g.ax),
                orig_ax: hex(g.orig_ax),
                flags: hex(g.flags),
                fs_base: hex(g.fs_base),
                gs_base: hex(g.gs_base),
                cs: hex(g.cs),
                ss: hex(g.ss),
                all: names
                    .iter()
                    .zip(words.iter())
                    .map(|(n, w)| (n.to_string(), hex(*w)))
                    .collect(),
            }
        }
        _ => Decoded::Unknown {
            kind: k,
            len: p.len(),
        },
    })
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
    fn decode_checks_inner_lengths() {
        let mut f = img::CkptFileRec::new_zeroed();
        f.path_len = 10;
        let r = Record {
            kind: rec::FILE,
            payload: [f.as_bytes(), b"/short"].concat(),
        };
        assert!(decode(&r).is_err(), "path longer than the record");
        f.path_len = 6;
        let r = Record {
            kind: rec::FILE,
            payload: [f.as_bytes(), b"/short"].concat(),
        };
        match decode(&r).unwrap() {
            Decoded::File { path, .. } => assert_eq!(path, "/short"),
            other => panic!("{other:?}"),
        }
        let mut pg = img::CkptPagesRec::new_zeroed();
        pg.nr_pages = 2;
        let r = Record {
            kind: rec::PAGES,
            payload: [pg.as_bytes(), &[0u8; 4096][..]].concat(),
        };
        assert!(decode(&r).is_err(), "2 pages announced, 1 present");
        let r = Record {
            kind: rec::HEADER,
            payload: vec![0; 3],
        };
        assert!(decode(&r).is_err(), "short HEADER");
    }

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
