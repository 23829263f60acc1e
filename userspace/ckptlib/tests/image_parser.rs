// SPDX-License-Identifier: GPL-2.0

//! The image reader (`ckptlib::image::ImageReader`) and `rstr`'s scan on images built here
//! with `RecordWriter`: a whole image of a process, its thread and a zombie child is read;
//! the same image cut anywhere, with lengths over their bounds, with counts that disagree
//! with the records that follow, or with bytes changed at random, is refused with a reason
//! and never makes the reader panic.

use std::io::Cursor;

use anyhow::Result;
use zerocopy::{FromZeros, IntoBytes};

use ckptlib::abi::image::{self as img, file_kind, rec, vma_kind, Record as _};
use ckptlib::abi::CKPT_IMAGE_VERSION;
use ckptlib::image::{Decoded, ImageReader, Rec, RecordReader, RecordWriter};
use ckptlib::restart::{scan, Image};

/// One record of an image being built: its type and payload.
type Raw = (u32, Vec<u8>);

fn raw<T: IntoBytes + zerocopy::Immutable>(kind: u32, v: &T, rest: &[u8]) -> Raw {
    (kind, [v.as_bytes(), rest].concat())
}

const PID: i32 = 100;
const THREAD: i32 = 101;
const ZOMBIE: i32 = 102;
const VMA0: u64 = 0x10000;
const VMA1: u64 = 0x20000;

fn tree_entry(pid: i32, tgid: i32, ppid: i32, zombie: bool) -> img::CkptTreeEntry {
    let mut e = img::CkptTreeEntry::new_zeroed();
    (e.pid, e.tgid, e.ppid, e.pgid, e.sid) = (pid, tgid, ppid, PID, PID);
    e.exit_signal = if pid == tgid { 17 } else { -1 };
    if zombie {
        e.flags = img::CKPT_TASK_ZOMBIE;
    } else {
        (e.mm, e.files, e.fs, e.sighand) = (1, 1, 1, 1);
    }
    e
}

/// The records of a live task that `rstr` restores itself, up to its `XSTATE`.
fn task_records(pid: i32, first: bool) -> Vec<Raw> {
    let mut t = img::CkptTaskRec::new_zeroed();
    (t.pid, t.tgid, t.ppid) = (pid, PID, 1);
    t.dumpable = 1;
    t.comm[..4].copy_from_slice(b"test");
    let mut out = Vec::new();
    out.push(raw(rec::TASK, &t, &[]));
    let mut a = img::CkptTaskAttrsRec::new_zeroed();
    (a.nr_cpus, a.cpus_words) = (64, 1);
    out.push(raw(rec::TASK_ATTRS, &a, 3u64.as_bytes()));
    let mut c = img::CkptCredsRec::new_zeroed();
    let groups: &[u32] = if first { &[10, 20] } else { &[] };
    c.ngroups = groups.len() as u32;
    out.push(raw(rec::CREDS, &c, groups.as_bytes()));
    out.push(raw(rec::RLIMITS, &img::CkptRlimitsRec::new_zeroed(), &[]));
    if first {
        let fs = img::CkptFsRec {
            root_len: 1,
            cwd_len: 4,
            flags: 0,
            cwd_mode: 0,
            cwd_uid: 0,
            cwd_gid: 0,
        };
        out.push(raw(rec::FS, &fs, b"//tmp"));
        out.push(raw(rec::SIGHAND, &img::CkptSighandRec::new_zeroed(), &[]));
    }
    let mut s = img::CkptSignalsRec::new_zeroed();
    s.nr_pending = if first { 2 } else { 0 };
    out.push(raw(rec::SIGNALS, &s, &[]));
    for _ in 0..s.nr_pending {
        let mut i = img::CkptSiginfoRec::new_zeroed();
        i.info[0] = 10;
        i.shared = 1;
        out.push(raw(rec::SIGINFO, &i, &[]));
    }
    if first {
        let p = img::CkptPipeRec {
            id: 1,
            capacity: 65536,
            len: 5,
            __reserved: 0,
        };
        out.push(raw(rec::PIPE, &p, b"hello"));
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.path_len) = (0, file_kind::REGULAR, 1, 11);
        out.push(raw(rec::FILE, &f, b"/etc/passwd"));
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.pipe) = (3, file_kind::PIPE, 2, 1);
        out.push(raw(rec::FILE, &f, &[]));
    }
    let x = img::CkptXstateRec {
        xstate_bv: 3,
        size: 576,
        __reserved: 0,
    };
    out.push(raw(rec::XSTATE, &x, &[0; 576]));
    out
}

/// The module's records of the process: its memory (two areas, one page), then `REGS`.
fn memory_records() -> Vec<Raw> {
    let mut m = img::CkptMmRec::new_zeroed();
    (m.nr_vmas, m.auxv_words, m.exe_vma) = (2, 2, 1);
    let mut v0 = img::CkptVmaRec::new_zeroed();
    (v0.start, v0.end, v0.kind, v0.prot) = (VMA0, VMA0 + 0x1000, vma_kind::ANON_PRIVATE, 3);
    let mut v1 = img::CkptVmaRec::new_zeroed();
    (v1.start, v1.end, v1.kind, v1.prot) = (VMA1, VMA1 + 0x2000, vma_kind::FILE_PRIVATE, 5);
    v1.path_len = 9;
    let pg = img::CkptPagesRec {
        addr: VMA0,
        nr_pages: 1,
        __reserved: 0,
    };
    vec![
        raw(rec::MM, &m, &[]),
        raw(rec::VMA, &v0, &[]),
        raw(rec::VMA, &v1, b"/bin/true"),
        raw(rec::PAGES, &pg, &[0xa5; 4096]),
        raw(rec::REGS, &img::CkptRegsRec::new_zeroed(), &[]),
    ]
}

/// The records of an image of a process, a thread of it and a zombie child, `TAIL` aside.
fn records() -> Vec<Raw> {
    let mut h = img::CkptHeaderRec::new_zeroed();
    h.magic = img::CKPT_IMAGE_MAGIC;
    h.image_version = CKPT_IMAGE_VERSION;
    (h.arch, h.page_size, h.xsave_size) = (img::CKPT_ARCH_X86_64, img::CKPT_PAGE_SIZE, 576);
    (h.xfeatures, h.nr_tasks) = (7, 3);
    let tree = img::CkptTreeRec { nr: 3, flags: 0 };
    let entries = [
        tree_entry(PID, PID, 1, false),
        tree_entry(THREAD, PID, 1, false),
        tree_entry(ZOMBIE, ZOMBIE, PID, true),
    ];
    let mut out = vec![
        raw(rec::HEADER, &h, &[]),
        raw(rec::TREE, &tree, entries.as_bytes()),
    ];
    out.extend(task_records(PID, true));
    out.extend(memory_records());
    out.extend(task_records(THREAD, false));
    out.push(raw(rec::REGS, &img::CkptRegsRec::new_zeroed(), &[]));
    out
}

/// The image's bytes: the records, then a `TAIL` that counts them.
fn image(records: &[Raw]) -> Vec<u8> {
    let mut w = RecordWriter::new(Vec::new());
    for (k, p) in records {
        w.write(*k, &[p]).unwrap();
    }
    let tail = img::CkptTailRec {
        magic: img::CKPT_TAIL_MAGIC,
        nr_records: records.len() as u64,
    };
    w.write(rec::TAIL, &[tail.as_bytes()]).unwrap();
    w.into_inner()
}

/// Every record, read as `ckpt show` reads them.
fn read_all(bytes: &[u8]) -> Result<Vec<Rec>> {
    let mut records = RecordReader::new(bytes);
    let mut rd = ImageReader::new(&mut records);
    let mut out = Vec::new();
    while let Some(r) = rd.next_record()? {
        out.push(r);
    }
    Ok(out)
}

/// The image as `rstr` reads it.
fn scan_bytes(bytes: &[u8]) -> Result<Image> {
    scan(&mut RecordReader::new(Cursor::new(bytes)))
}

/// The records with the one at `index` (of type `kind`) changed by `edit`.
fn edited<T: img::Record>(index: usize, edit: impl FnOnce(&mut T, &mut Vec<u8>)) -> Vec<Raw> {
    let mut recs = records();
    let (kind, payload) = &mut recs[index];
    assert_eq!(*kind, T::KIND, "record {index}");
    let (mut v, rest) = T::read_from_prefix(payload).unwrap();
    let mut rest = rest.to_vec();
    edit(&mut v, &mut rest);
    *payload = [v.as_bytes(), &rest].concat();
    recs
}

fn index_of(kind: u32, nth: usize) -> usize {
    records()
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k == kind)
        .nth(nth)
        .unwrap()
        .0
}

/// The full reader refuses the records with a reason containing `why`.
fn refused_by_reader(recs: &[Raw], why: &str) {
    let err = format!("{:#}", read_all(&image(recs)).unwrap_err());
    assert!(err.contains(why), "reader: {err:?} does not say {why:?}");
}

/// Both readers refuse the records, the full reader with a reason containing `why`. (For
/// the module's records, `MM` to `REGS`, `rstr`'s scan checks only the framing: the module
/// checks them with the same rules when it reads them.)
fn refused(recs: &[Raw], why: &str) {
    refused_by_reader(recs, why);
    assert!(
        scan_bytes(&image(recs)).is_err(),
        "scan accepted it ({why})"
    );
}

#[test]
fn a_whole_image_reads_and_scans() {
    let bytes = image(&records());
    let recs = read_all(&bytes).unwrap();
    assert_eq!(recs.len(), records().len() + 1);
    assert!(matches!(recs[0], Rec::Header(_)));
    assert!(matches!(recs.last(), Some(Rec::Tail(_))));
    for r in &recs {
        // Every record can be shown, as text or JSON.
        serde_json::to_string(&Decoded::from(r)).unwrap();
    }
    match &recs[index_of(rec::FS, 0)] {
        Rec::Fs { root, cwd, .. } => assert_eq!((&root[..], &cwd[..]), (&b"/"[..], &b"/tmp"[..])),
        other => panic!("{other:?}"),
    }

    let im = scan_bytes(&bytes).unwrap();
    assert_eq!(im.tree.len(), 3);
    assert!(im.tasks[2].is_none(), "the zombie has no records");
    let p = im.tasks[0].as_ref().unwrap();
    assert_eq!(p.groups, [10, 20]);
    assert_eq!(p.pending.len(), 2);
    let fs = p.fs.as_ref().unwrap();
    assert_eq!(
        (&fs.root[..], &fs.cwd[..], fs.cwd_removed),
        ("/", "/tmp", None)
    );
    assert_eq!(p.files.as_ref().unwrap().len(), 2);
    assert_eq!(im.pipes[&1].data, b"hello");
    assert!(p.owns_mm);
    let t = im.tasks[1].as_ref().unwrap();
    assert!(!t.owns_mm && t.fs.is_none() && t.files.is_none() && t.sighand.is_none());
    // Each task's module part starts where scan says: MM for the process, REGS for the thread.
    for (task, kind) in [(p, rec::MM), (t, rec::REGS)] {
        let at = task.kernel_pos as usize;
        let mut rd = RecordReader::new(&bytes[at..]);
        assert_eq!(rd.next_record().unwrap().unwrap().kind, kind);
    }
}

#[test]
fn a_cut_anywhere_is_refused() {
    let bytes = image(&records());
    for cut in 0..bytes.len() {
        let b = &bytes[..cut];
        assert!(read_all(b).is_err(), "cut at {cut} accepted by the reader");
        assert!(scan_bytes(b).is_err(), "cut at {cut} accepted by scan");
    }
}

#[test]
fn lengths_over_their_bounds_are_refused() {
    // A payload over the limit of every record.
    let mut bytes = image(&records());
    bytes[4..8].copy_from_slice(&(img::CKPT_MAX_PAYLOAD + 1).to_ne_bytes());
    assert!(format!("{:#}", read_all(&bytes).unwrap_err()).contains("exceeds the limit"));

    // Paths one byte over CKPT_PATH_MAX, the record's length agreeing with them.
    let long = vec![b'a'; img::CKPT_PATH_MAX as usize + 1];
    let file = index_of(rec::FILE, 0);
    refused(
        &edited::<img::CkptFileRec>(file, |f, rest| {
            f.path_len = long.len() as u32;
            *rest = long.clone();
        }),
        "path_len 4096 is above its maximum 4095",
    );
    refused(
        &edited::<img::CkptFsRec>(index_of(rec::FS, 0), |f, rest| {
            f.root_len = long.len() as u32;
            rest.splice(..1, long.iter().copied());
        }),
        "root_len 4096 is above its maximum 4095",
    );
    refused_by_reader(
        &edited::<img::CkptVmaRec>(index_of(rec::VMA, 1), |v, rest| {
            v.path_len = long.len() as u32;
            *rest = long.clone();
        }),
        "path_len 4096 is above its maximum 4095",
    );
    // A path longer than the record that holds it, and a NUL inside one.
    refused(
        &edited::<img::CkptFileRec>(file, |f, _| f.path_len += 1),
        "its fields announce",
    );
    refused(
        &edited::<img::CkptFileRec>(file, |_, rest| rest[3] = 0),
        "NUL inside a path",
    );
    // More pipe contents than the pipe holds.
    refused(
        &edited::<img::CkptPipeRec>(index_of(rec::PIPE, 0), |p, _| p.capacity = 4),
        "len 5 is above its maximum 4",
    );
    // An XSAVE area other than its size says.
    refused(
        &edited::<img::CkptXstateRec>(index_of(rec::XSTATE, 0), |x, _| x.size = 512),
        "its fields announce 528",
    );
    // PAGES: none, too many, or other than its pages.
    let pages = index_of(rec::PAGES, 0);
    refused_by_reader(
        &edited::<img::CkptPagesRec>(pages, |p, _| p.nr_pages = 0),
        "nr_pages 0 is below its minimum 1",
    );
    refused_by_reader(
        &edited::<img::CkptPagesRec>(pages, |p, _| p.nr_pages = 1025),
        "nr_pages 1025 is above its maximum 1024",
    );
    refused_by_reader(
        &edited::<img::CkptPagesRec>(pages, |p, _| p.nr_pages = 2),
        "its fields announce 8208",
    );
    refused_by_reader(
        &edited::<img::CkptPagesRec>(pages, |p, _| p.__reserved = 1),
        "__reserved",
    );
    // A TREE of no task; an auxv of more words than the MM holds, or of an odd number.
    refused(
        &edited::<img::CkptTreeRec>(1, |t, rest| {
            t.nr = 0;
            rest.clear();
        }),
        "nr 0 is below its minimum 1",
    );
    let mm = index_of(rec::MM, 0);
    refused_by_reader(
        &edited::<img::CkptMmRec>(mm, |m, _| m.auxv_words = 66),
        "auxv_words 66 is above its maximum 64",
    );
    refused_by_reader(
        &edited::<img::CkptMmRec>(mm, |m, _| m.auxv_words = 3),
        "auxv_words 3 is odd",
    );
    refused_by_reader(
        &edited::<img::CkptMmRec>(mm, |m, _| m.exe_vma = 2),
        "exe_vma 2 is not below nr_vmas 2",
    );
}

#[test]
fn counts_that_disagree_are_refused() {
    // ngroups against the groups that follow, and over NGROUPS_MAX.
    let creds = index_of(rec::CREDS, 0);
    refused(
        &edited::<img::CkptCredsRec>(creds, |c, _| c.ngroups = 3),
        "CREDS record: 88 bytes, its fields announce 92",
    );
    refused(
        &edited::<img::CkptCredsRec>(creds, |c, _| c.ngroups = 1),
        "its fields announce 84",
    );
    refused(
        &edited::<img::CkptCredsRec>(creds, |c, _| c.ngroups = img::CKPT_NGROUPS_MAX + 1),
        "ngroups 65537 is above its maximum 65536",
    );
    // nr_pending against the SIGINFO records that follow.
    let signals = index_of(rec::SIGNALS, 0);
    refused(
        &edited::<img::CkptSignalsRec>(signals, |s, _| s.nr_pending = 3),
        "SIGNALS announces 1 more SIGINFO records, found PIPE",
    );
    refused(
        &edited::<img::CkptSignalsRec>(signals, |s, _| s.nr_pending = 1),
        "a SIGINFO record that no SIGNALS announces",
    );
    // nr_vmas against the VMA records (the module checks them again at restart; `rstr`
    // leaves them to it, so only the full reader is asked here).
    let mm = index_of(rec::MM, 0);
    for (n, why) in [
        (3, "MM announces 1 more VMA records, found PAGES"),
        (1, "a VMA record that no MM announces"),
    ] {
        let recs = edited::<img::CkptMmRec>(mm, |m, _| {
            m.nr_vmas = n;
            m.exe_vma = 0;
        });
        refused_by_reader(&recs, why);
    }
    // The TREE's tasks against the HEADER's.
    refused(
        &edited::<img::CkptHeaderRec>(0, |h, _| h.nr_tasks = 2),
        "TREE record: 3 tasks, HEADER says 2",
    );
    // The TAIL's count, a record after it, a record before the HEADER.
    let mut bytes = image(&records());
    let n = bytes.len();
    bytes[n - 8] += 1;
    assert!(format!("{:#}", read_all(&bytes).unwrap_err()).contains("TAIL counts"));
    let mut bytes = image(&records());
    bytes.extend_from_slice(&image(&records())[..8 + 112]);
    assert!(format!("{:#}", read_all(&bytes).unwrap_err()).contains("data after the TAIL"));
    assert!(scan_bytes(&bytes).is_err());
    let mut recs = records();
    recs.swap(0, 1);
    refused(&recs, "does not start with a HEADER");
}

#[test]
fn an_error_record_ends_the_image_anywhere() {
    // A checkpoint that failed while writing the pending signals.
    let mut recs = records();
    recs.truncate(index_of(rec::SIGINFO, 0) + 1);
    let why = b"no memory";
    let e = img::CkptErrorRec {
        error: 12,
        len: why.len() as u32,
    };
    recs.push(raw(rec::ERROR, &e, why));
    let mut w = RecordWriter::new(Vec::new());
    for (k, p) in &recs {
        w.write(*k, &[p]).unwrap();
    }
    let bytes = w.into_inner();
    let all = read_all(&bytes).unwrap();
    assert!(matches!(&all.last(), Some(Rec::Error { reason, .. }) if reason == "no memory"));
    let err = format!("{:#}", scan_bytes(&bytes).unwrap_err());
    assert!(
        err.contains("failed checkpoint (errno 12): no memory"),
        "{err}"
    );
}

#[test]
fn each_record_length_rule() {
    let mut c = img::CkptCredsRec::new_zeroed();
    c.ngroups = 3;
    assert_eq!(c.payload_len(), Ok(size_of::<img::CkptCredsRec>() + 12));
    let pg = img::CkptPagesRec {
        addr: 0,
        nr_pages: 2,
        __reserved: 0,
    };
    assert_eq!(pg.payload_len(), Ok(16 + 2 * 4096));
    let fs = img::CkptFsRec {
        root_len: 1,
        cwd_len: 4095,
        flags: 0,
        cwd_mode: 0,
        cwd_uid: 0,
        cwd_gid: 0,
    };
    assert_eq!(fs.trailer_len(), Ok(4096));
    let t = img::CkptTreeRec {
        nr: ckptlib::abi::CKPT_MAX_TASKS + 1,
        flags: 0,
    };
    assert!(t.trailer_len().is_err());
    assert_eq!(
        img::CkptRegsRec::new_zeroed().payload_len(),
        Ok(size_of::<img::CkptRegsRec>())
    );
    let mut s = img::CkptSignalsRec::new_zeroed();
    s.nr_pending = 4;
    assert_eq!(s.followed_by(), Some((rec::SIGINFO, 4)));
}

/// A small deterministic generator (xorshift64*), to mutate images the same way each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_images_never_panic_the_readers() {
    let good = image(&records());
    // The bytes that are structure: every record header and payload but page contents.
    let mut structure = Vec::new();
    let mut rd = RecordReader::new(&good[..]);
    let mut at = 0;
    while let Some(r) = rd.next_record().unwrap() {
        let keep = if r.kind == rec::PAGES {
            16
        } else {
            r.payload.len()
        };
        structure.extend(at..at + 8 + keep);
        at = rd.offset() as usize;
    }
    let mut rng = Rng(0x2026_1201);
    let (mut refused, mut accepted) = (0, 0);
    for round in 0..4000 {
        let mut b = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = if round % 4 == 0 {
                rng.below(b.len())
            } else {
                structure[rng.below(structure.len())]
            };
            b[i] = rng.next() as u8;
        }
        if round % 7 == 0 {
            b.truncate(rng.below(b.len()));
        }
        let full = read_all(&b);
        let scanned = scan_bytes(&b);
        if let Ok(recs) = &full {
            for r in recs {
                serde_json::to_string(&Decoded::from(r)).unwrap();
            }
        }
        // Many changed bytes are values no rule constrains (addresses, registers, ids).
        if full.is_err() || scanned.is_err() {
            refused += 1;
        } else {
            accepted += 1;
        }
    }
    eprintln!("mutated images: {refused} refused, {accepted} accepted");
    assert!(refused > 1000, "{refused} refused, {accepted} accepted");
}

/// The records of [`records`] as a container's: the `TREE` flagged, a `UTS_NS` after it
/// (and an empty IPC namespace's `IPC_NS` if it has one of its own).
fn container_records(u: &img::CkptUtsNsRec) -> Vec<Raw> {
    let ipc = (u.flags & img::CKPT_NS_IPC != 0).then(|| vec![ipc_ns(0, 0, 0)]);
    container_with(u, ipc.unwrap_or_default())
}

/// [`container_records`] with `ipc` after the `UTS_NS`.
fn container_with(u: &img::CkptUtsNsRec, ipc: Vec<Raw>) -> Vec<Raw> {
    let mut recs = records();
    let (_, tree) = &mut recs[1];
    tree[4..8].copy_from_slice(img::CKPT_TREE_CONTAINER.as_bytes());
    recs.insert(2, raw(rec::UTS_NS, u, &[]));
    for (i, r) in ipc.into_iter().enumerate() {
        recs.insert(3 + i, r);
    }
    recs
}

fn ipc_ns(nr_shm: u32, nr_msq: u32, nr_sem: u32) -> Raw {
    ipc_ns_mq(nr_shm, nr_msq, nr_sem, 0)
}

fn ipc_ns_mq(nr_shm: u32, nr_msq: u32, nr_sem: u32, nr_mq: u32) -> Raw {
    let mut n = img::CkptIpcNsRec::new_zeroed();
    (n.shm_ctlmax, n.shm_ctlmni, n.msg_ctlmax) = (1 << 20, 4096, 8192);
    (n.nr_shm, n.nr_msq, n.nr_sem, n.nr_mq) = (nr_shm, nr_msq, nr_sem, nr_mq);
    raw(rec::IPC_NS, &n, &[])
}

fn mqueue(name: &[u8], maxmsg: u64, msgsize: u64, nr_msgs: u32) -> Raw {
    let mut q = img::CkptMqueueRec::new_zeroed();
    (q.maxmsg, q.msgsize, q.mode, q.uid) = (maxmsg, msgsize, 0o640, 1000);
    (q.name_len, q.nr_msgs) = (name.len() as u32, nr_msgs);
    raw(rec::MQUEUE, &q, name)
}

fn mq_msg(prio: u32, text: &[u8]) -> Raw {
    let m = img::CkptMqMsgRec {
        prio,
        len: text.len() as u32,
    };
    raw(rec::MQ_MSG, &m, text)
}

/// The container records of `u` with `objects` after its `UTS_NS`, changed by `edit`.
fn edited_ipc(
    u: &img::CkptUtsNsRec,
    mut objects: Vec<Raw>,
    edit: &dyn Fn(&mut Vec<Raw>),
) -> Vec<Raw> {
    edit(&mut objects);
    container_with(u, objects)
}

/// `rstr`'s scan refuses the records with a reason containing `why` (the reader, which
/// checks each record alone, accepts them).
fn scan_refuses(recs: Vec<Raw>, why: &str) {
    let err = format!("{:#}", scan_bytes(&image(&recs)).unwrap_err());
    assert!(err.contains(why), "scan: {err:?} does not say {why:?}");
}

#[test]
fn a_container_image_has_its_posix_queues_after_its_sysv_objects() {
    let u = uts_ns(img::CKPT_NS_IPC, b"", b"");
    let objects = || {
        vec![
            ipc_ns_mq(0, 0, 1, 2),
            sem(3, &[7]),
            mqueue(b"/a", 8, 64, 3),
            mq_msg(9, b"high"),
            mq_msg(1, b"low"),
            mq_msg(1, b""),
            mqueue(b"/b", 1, 1, 0),
        ]
    };
    let i = scan_bytes(&image(&container_with(&u, objects()))).unwrap();
    let ipc = i.ipc.unwrap();
    assert_eq!(ipc.mq.len(), 2);
    assert_eq!(ipc.mq[0].name, b"/a");
    assert_eq!(
        ipc.mq[0].msgs,
        vec![(9, b"high".to_vec()), (1, b"low".to_vec()), (1, Vec::new())]
    );
    assert_eq!((ipc.mq[1].rec.maxmsg, ipc.mq[1].msgs.len()), (1, 0));

    let with = |edit: &dyn Fn(&mut Vec<Raw>)| edited_ipc(&u, objects(), edit);
    scan_refuses(
        with(&|o| o[4] = mq_msg(10, b"low")),
        "MQ_MSG record of queue /a: priority 10 after a lower one",
    );
    scan_refuses(
        with(&|o| o[6] = mqueue(b"/a", 1, 1, 0)),
        "MQUEUE record /a: a second queue of that name",
    );
    scan_refuses(
        with(&|o| o[2] = mqueue(b"/a", 8, 3, 3)),
        "MQ_MSG record of queue /a: 4 bytes, more than its msgsize 3",
    );
    scan_refuses(
        with(&|o| o[0] = ipc_ns_mq(0, 0, 1, 3)),
        "IPC_NS announces 3 MQUEUE records",
    );
    // The reader's rules: names, attributes, counts, priorities.
    for (name, why) in [
        (&b"ab"[..], "is not / and a file name"),
        (b"/a/b", "is not / and a file name"),
        (b"/a\0", "is not / and a file name"),
    ] {
        refused(&with(&|o| o[2] = mqueue(name, 8, 64, 3)), why);
    }
    refused(&with(&|o| o[2] = mqueue(b"/a", 0, 64, 3)), "maxmsg");
    refused(&with(&|o| o[2] = mqueue(b"/a", 8, 1 << 40, 3)), "msgsize");
    refused(&with(&|o| o[2] = mqueue(b"/a", 2, 64, 3)), "nr_msgs");
    refused(&with(&|o| o[3] = mq_msg(32768, b"x")), "prio");
}

fn perm(id: i32, mode: u32) -> img::CkptIpcPerm {
    img::CkptIpcPerm {
        key: 0x1234 + id,
        id,
        uid: 1000,
        gid: 100,
        cuid: 0,
        cgid: 0,
        mode,
        __reserved: 0,
    }
}

fn shm(id: i32, obj: u32, size: u64, mode: u32) -> Raw {
    let s = img::CkptSysvShmRec {
        perm: perm(id, mode),
        size,
        obj,
        nattch: 0,
    };
    raw(rec::SYSV_SHM, &s, &[])
}

fn file_data(id: u32, offset: u64, bytes: &[u8]) -> Raw {
    let d = img::CkptFileDataRec {
        id,
        len: bytes.len() as u32,
        offset,
    };
    raw(rec::FILE_DATA, &d, bytes)
}

fn msq(id: i32, nr_msgs: u32) -> Raw {
    let mut q = img::CkptSysvMsqRec::new_zeroed();
    (q.perm, q.qbytes, q.nr_msgs) = (perm(id, 0o600), 100, nr_msgs);
    raw(rec::SYSV_MSQ, &q, &[])
}

fn msg(mtype: i64, text: &[u8]) -> Raw {
    let mut m = img::CkptSysvMsgRec::new_zeroed();
    (m.mtype, m.len) = (mtype, text.len() as u32);
    raw(rec::SYSV_MSG, &m, text)
}

fn sem(id: i32, values: &[i32]) -> Raw {
    sem_undo(id, values, 0)
}

fn sem_undo(id: i32, values: &[i32], nr_undo: u32) -> Raw {
    let mut e = img::CkptSysvSemRec::new_zeroed();
    (e.perm, e.nsems, e.nr_undo) = (perm(id, 0o640), values.len() as u32, nr_undo);
    raw(rec::SYSV_SEM, &e, values.as_bytes())
}

fn undo(pid: i32, adj: &[i32]) -> Raw {
    let u = img::CkptSemUndoRec {
        pid,
        nsems: adj.len() as u32,
    };
    raw(rec::SEM_UNDO, &u, adj.as_bytes())
}

#[test]
fn a_set_has_the_undo_adjustments_of_live_processes_after_it() {
    let u = uts_ns(img::CKPT_NS_IPC, b"", b"");
    let objects = || {
        vec![
            ipc_ns(0, 0, 1),
            sem_undo(3, &[5, 0], 1),
            undo(PID, &[-2, 7]),
        ]
    };
    let i = scan_bytes(&image(&container_with(&u, objects()))).unwrap();
    assert_eq!(i.ipc.unwrap().sem[0].undo, vec![(PID, vec![-2, 7])]);
    let with = |edit: &dyn Fn(&mut Vec<Raw>)| edited_ipc(&u, objects(), edit);
    // A thread, a zombie, a pid not in the tree: not where rstr restores them.
    for pid in [THREAD, ZOMBIE, 77] {
        scan_refuses(
            with(&|o| o[2] = undo(pid, &[-2, 7])),
            &format!("SEM_UNDO record for set 3: pid {pid} is no live process of the tree"),
        );
    }
    scan_refuses(
        with(&|o| o[2] = undo(PID, &[-2])),
        "SEM_UNDO record of pid 100 for set 3: 1 adjustments for 2 semaphores",
    );
    // Up to SEMVMX in between is fine.
    assert!(scan_bytes(&image(&with(&|o| o[2] = undo(PID, &[-32762, 32767])))).is_ok());
    scan_refuses(
        with(&|o| o[2] = undo(PID, &[32763, 0])),
        "semaphore 0 and its adjustment add up to 32768, beyond SEMVMX",
    );
    scan_refuses(
        with(&|o| o[1] = sem_undo(3, &[5, 0], 2)),
        "SYSV_SEM record 3: expected a SEM_UNDO",
    );
    refused(
        &with(&|o| o[2] = undo(PID, &[-32768, 0])),
        "SEM_UNDO record of pid 100: adjustment -32768 beyond SEMVMX",
    );
}

#[test]
fn a_container_image_has_its_sysv_objects_after_its_ipc_ns() {
    let u = uts_ns(img::CKPT_NS_IPC, b"", b"");
    let objects = || {
        vec![
            ipc_ns(2, 1, 1),
            shm(0, 50, 10_000, 0o640 | img::CKPT_SHM_LOCKED),
            file_data(50, 0, b"head"),
            file_data(50, 8192, b"tail"),
            shm(32769, 51, 1, 0o600),
            msq(7, 2),
            msg(3, b"one"),
            msg(1, b""),
            sem(65536, &[1, 0, 32767]),
        ]
    };
    let i = scan_bytes(&image(&container_with(&u, objects()))).unwrap();
    let ipc = i.ipc.unwrap();
    assert_eq!(ipc.limits.shm_ctlmni, 4096);
    assert_eq!(ipc.shm.len(), 2);
    assert_eq!(
        ipc.shm[0].data,
        vec![(0, b"head".to_vec()), (8192, b"tail".to_vec())]
    );
    assert_eq!((ipc.shm[1].rec.perm.id, ipc.shm[1].data.len()), (32769, 0));
    assert_eq!(ipc.msq[0].msgs, vec![(3, b"one".to_vec()), (1, Vec::new())]);
    assert_eq!(ipc.sem[0].values, vec![1, 0, 32767]);
    assert_eq!(ipc.sem[0].rec.perm.id, 65536);
    // The tasks follow as in any image.
    assert_eq!(i.tasks.len(), 3);

    let with = |edit: &dyn Fn(&mut Vec<Raw>)| edited_ipc(&u, objects(), edit);
    // Fewer objects than IPC_NS announces, or more.
    scan_refuses(
        with(&|o| o[0] = ipc_ns(3, 1, 1)),
        "IPC_NS announces 3 SYSV_SHM records, found SYSV_MSQ after 2",
    );
    scan_refuses(
        with(&|o| o[0] = ipc_ns(2, 1, 0)),
        "a SYSV_SEM record beyond what IPC_NS announces",
    );
    // No IPC_NS at all in a container with its own IPC namespace.
    scan_refuses(
        container_with(&u, Vec::new()),
        "expected an IPC_NS record after the UTS_NS",
    );
    // Two segments at one index (ids 0 and 32768 share index 0).
    scan_refuses(
        with(&|o| o[4] = shm(32768, 51, 1, 0o600)),
        "SYSV_SHM record 32768: a second object at index 0",
    );
    scan_refuses(
        with(&|o| o[4] = shm(32769, 50, 1, 0o600)),
        "object 50 is 0 or given twice",
    );
    scan_refuses(
        with(&|o| o[1] = shm(0, 50, 10_000, 0o4000)),
        "SYSV_SHM record 0: mode 0o4000 has unknown bits",
    );
    // Removed but unattached, or with a key.
    scan_refuses(
        with(&|o| o[4] = shm(32769, 51, 1, 0o600 | img::CKPT_SHM_DEST)),
        "removed (SHM_DEST) with key",
    );
    // Contents beyond the size, overlapping, or of another object.
    scan_refuses(
        with(&|o| o[3] = file_data(50, 9998, b"tail")),
        "4 bytes at 9998, before the data before it (up to 4) or beyond its size 10000",
    );
    scan_refuses(
        with(&|o| o[3] = file_data(50, 2, b"tail")),
        "before the data before it (up to 4)",
    );
    scan_refuses(
        with(&|o| o[3] = file_data(51, 8192, b"tail")),
        "FILE_DATA record of file 51 after SYSV_SHM 0 (object 50)",
    );
    scan_refuses(
        with(&|o| o[4] = shm(32769, 51, 0, 0o600)),
        "size 0 out of range",
    );
    // A message type that is not positive, a semaphore value over SEMVMX: the reader.
    refused(
        &with(&|o| o[6] = msg(0, b"one")),
        "SYSV_MSG record: type 0 is not positive",
    );
    refused(
        &with(&|o| o[8] = sem(65536, &[1, 32768, 0])),
        "SYSV_SEM record 65536: value 32768 out of 0..=32767",
    );
    // A queue's messages short of its count.
    scan_refuses(
        with(&|o| o[5] = msq(7, 3)),
        "SYSV_MSQ record 7: expected a SYSV_MSG, found SYSV_SEM",
    );
}

fn uts_ns(flags: u32, nodename: &[u8], domainname: &[u8]) -> img::CkptUtsNsRec {
    let mut u = img::CkptUtsNsRec::new_zeroed();
    u.flags = flags;
    u.nodename[..nodename.len()].copy_from_slice(nodename);
    u.domainname[..domainname.len()].copy_from_slice(domainname);
    u
}

#[test]
fn a_container_image_has_its_uts_ns_right_after_the_tree() {
    let both = img::CKPT_NS_UTS | img::CKPT_NS_IPC;
    let i = scan_bytes(&image(&container_records(&uts_ns(both, b"box", b"dom")))).unwrap();
    let ns = i.namespaces.unwrap();
    assert!(i.container && ns.ipc);
    let uts = ns.uts.unwrap();
    assert_eq!(
        (&uts.nodename[..], &uts.domainname[..]),
        (&b"box"[..], &b"dom"[..])
    );
    // IPC alone: no names.
    let i = scan_bytes(&image(&container_records(&uts_ns(
        img::CKPT_NS_IPC,
        b"",
        b"",
    ))))
    .unwrap();
    assert_eq!(i.namespaces.unwrap().uts, None);
    // A network namespace of its own, with lo up or down.
    for (flags, up) in [
        (img::CKPT_NS_NET, false),
        (img::CKPT_NS_NET | img::CKPT_NS_LO_UP, true),
    ] {
        let i = scan_bytes(&image(&container_records(&uts_ns(flags, b"", b"")))).unwrap();
        let ns = i.namespaces.unwrap();
        assert_eq!(ns.net, Some(ckptlib::restart::NetNs { lo_up: up }));
        assert!(!ns.ipc && ns.uts.is_none());
    }
    // A name filling all 64 bytes is the longest there is.
    let long = [b'a'; 64];
    assert!(scan_bytes(&image(&container_records(&uts_ns(both, &long, b"")))).is_ok());

    let full = [b'a'; 65];
    refused(
        &container_records(&uts_ns(both, &full, b"")),
        "nodename: not NUL-terminated",
    );
    let mut u = uts_ns(both, b"box", b"dom");
    u.domainname[10] = b'x';
    refused(
        &container_records(&u),
        "domainname: bytes after its NUL (at 3)",
    );
    refused(
        &container_records(&uts_ns(img::CKPT_NS_IPC, b"box", b"")),
        "a nodename without CKPT_NS_UTS",
    );
    refused(
        &container_records(&uts_ns(32, b"", b"")),
        "UTS_NS record: reserved field flags is 0x20",
    );
    // lo's state only with a network namespace of its own.
    refused(
        &container_records(&uts_ns(img::CKPT_NS_LO_UP, b"", b"")),
        "UTS_NS record: reserved field flags is 0x8",
    );
    // In a plain image, or anywhere but right after the TREE.
    let mut recs = records();
    recs.insert(2, raw(rec::UTS_NS, &uts_ns(both, b"box", b""), &[]));
    refused(
        &recs,
        "a UTS_NS record not right after the TREE of a container",
    );
    let mut recs = container_records(&uts_ns(both, b"box", b""));
    let u = recs.remove(2);
    recs.insert(3, u);
    refused(
        &recs,
        "a UTS_NS record not right after the TREE of a container",
    );
}

#[test]
fn a_container_time_namespace_follows_its_uts_ns() {
    let t = img::CkptTimeNsRec {
        monotonic_sec: 86400,
        boottime_sec: -7,
        monotonic_nsec: 5,
        boottime_nsec: 999_999_999,
        host_monotonic: 1 << 40,
        host_boottime: 1 << 41,
    };
    let u = uts_ns(img::CKPT_NS_TIME | img::CKPT_NS_IPC, b"", b"");
    let with = |t: &img::CkptTimeNsRec, at: usize| {
        let mut recs = container_records(&u);
        recs.insert(at, raw(rec::TIME_NS, t, &[]));
        recs
    };
    let i = scan_bytes(&image(&with(&t, 3))).unwrap();
    let ns = i.namespaces.unwrap();
    assert_eq!(ns.time, Some(t));
    assert!(ns.ipc && i.ipc.is_some() && ns.uts.is_none());
    // The offsets at their bounds.
    let mut edge = t;
    (edge.monotonic_sec, edge.boottime_sec) = (
        img::CKPT_TIMENS_SEC_MAX as i64,
        -(img::CKPT_TIMENS_SEC_MAX as i64),
    );
    edge.host_boottime = i64::MAX as u64;
    assert!(scan_bytes(&image(&with(&edge, 3))).is_ok());
    // Missing, late, unannounced, in a plain image.
    refused(
        &container_records(&u),
        "UTS_NS announces 1 more TIME_NS records, found IPC_NS",
    );
    refused(
        &with(&t, 4),
        "UTS_NS announces 1 more TIME_NS records, found IPC_NS",
    );
    let mut recs = container_records(&uts_ns(img::CKPT_NS_IPC, b"", b""));
    recs.insert(3, raw(rec::TIME_NS, &t, &[]));
    refused(&recs, "a TIME_NS record that no UTS_NS announces");
    let mut recs = records();
    recs.insert(2, raw(rec::TIME_NS, &t, &[]));
    refused(
        &recs,
        "a TIME_NS record not right after the UTS_NS of a container",
    );
    // Offsets the kernel would not take, clocks it cannot have.
    type Edit = fn(&mut img::CkptTimeNsRec);
    let bad: [(Edit, &str); 4] = [
        (
            |t| t.monotonic_nsec = 1_000_000_000,
            "monotonic_nsec 1000000000 is above its maximum 999999999",
        ),
        (
            |t| t.boottime_sec = -(img::CKPT_TIMENS_SEC_MAX as i64) - 1,
            "boottime_sec (its magnitude) 9223372037 is above its maximum 9223372036",
        ),
        (
            |t| t.monotonic_sec = i64::MIN,
            "monotonic_sec (its magnitude) 9223372036854775808 is above its maximum",
        ),
        (
            |t| t.host_monotonic = u64::MAX,
            "host_monotonic 18446744073709551615 is above its maximum 9223372036854775807",
        ),
    ];
    for (edit, why) in bad {
        let mut b = t;
        edit(&mut b);
        refused(&with(&b, 3), why);
    }
}

/// The records with a memfd (id 40) only memory maps: its `MEMFD` and `FILE_DATA` before
/// the `MM`, and the file area naming it (`shm`) with its path.
fn mapped_memfd_records(name: &[u8], shm: u32) -> Vec<Raw> {
    let mut recs = records();
    let mm = index_of(rec::MM, 0);
    let m = img::CkptMemfdRec {
        id: 40,
        seals: 0,
        mode: libc::S_IFREG | 0o600,
        name_len: name.len() as u32,
        size: 4096,
    };
    let d = img::CkptFileDataRec {
        id: 40,
        len: 4,
        offset: 0,
    };
    recs.insert(mm, raw(rec::MEMFD, &m, name));
    recs.insert(mm + 1, raw(rec::FILE_DATA, &d, b"data"));
    let vma = index_of(rec::VMA, 1) + 2;
    let (_, payload) = &mut recs[vma];
    let (mut v, _) = <img::CkptVmaRec as zerocopy::FromBytes>::read_from_prefix(payload).unwrap();
    let path = b"/memfd:m (deleted)";
    (v.kind, v.shm, v.path_len) = (vma_kind::FILE_SHARED, shm, path.len() as u32);
    *payload = [v.as_bytes(), path].concat();
    recs
}

#[test]
fn a_memfd_only_mapped_comes_before_the_memory_that_maps_it() {
    let bytes = image(&mapped_memfd_records(b"m", 40));
    read_all(&bytes).unwrap();
    let im = scan_bytes(&bytes).unwrap();
    let p = im.tasks[0].as_ref().unwrap();
    assert_eq!(p.memory.mapped, [(40, "/memfd:m (deleted)".to_string())]);
    assert_eq!(im.deleted[&40].data, [(0, b"data".to_vec())]);
    // The module reads from the MM, after them.
    let mut rd = RecordReader::new(&bytes[p.kernel_pos as usize..]);
    assert_eq!(rd.next_record().unwrap().unwrap().kind, rec::MM);
    // An area naming an object no record made.
    let err = format!(
        "{:#}",
        scan_bytes(&image(&mapped_memfd_records(b"m", 41))).unwrap_err()
    );
    assert!(
        err.contains("refers to memfd 41 before its MEMFD record"),
        "{err}"
    );
}
