// SPDX-License-Identifier: GPL-2.0

//! The cases of the direct ioctl harness, planned from (seed image, run seed, index) alone:
//! what a case does, with the values that only exist in the worker that runs it (its
//! descriptors, its buffers) named symbolically ([`Val`]), so that the parent can describe
//! and replay any case without running it.

use std::fmt;

use anyhow::{Context, Result};
use zerocopy::{FromBytes, IntoBytes};

use ckptlib::abi::image::{self as img, rec, vma_kind};
use ckptlib::abi::{self, CKPT_MAX_TASKS};
use ckptlib::image::Record;
use ckptlib::layout;

use crate::mutate::{self, Op, KERNEL_ADDRS, TASK_SIZE};
use crate::prng::Rng;

/// A descriptor of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fd {
    /// The memfd holding the case's image.
    Image,
    /// The worker's `/dev/checkpoint`, a session of [`CKPT_MAX_TASKS`] tasks.
    Device,
    /// The pipe the parent reads late reasons and `OK` from.
    ErrPipe,
    /// The read end of a pipe.
    PipeRead,
    /// `/`, a directory.
    Dir,
    /// `/dev/zero`: an endless image of zeros.
    Zero,
    /// `/dev/null` opened write-only.
    WriteOnly,
    /// A memfd to checkpoint into.
    Out,
    /// A number.
    Raw(i32),
}

/// An address the worker passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ptr {
    /// The worker's reason buffer (`sys::REASON_ROOM` bytes), plus a few.
    Buffer(u64),
    /// A read-only page of the worker.
    ReadOnly,
    /// The worker's array of thread ids for a checkpoint, plus a few bytes.
    Tasks(u64),
    /// The worker's table of one mapped object (`CkptRestartArgs::objs`): id
    /// [`MAPPED_ID`] at this descriptor.
    Objects(Fd),
    /// Any other address: null, low, kernel, `TASK_SIZE`.
    Raw(u64),
}

/// The object id of the worker's table of mapped objects ([`Ptr::Objects`]).
pub const MAPPED_ID: u32 = 7;

/// A value for one field of an argument struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    Num(u64),
    Fd(Fd),
    Ptr(Ptr),
    /// A thread id: the worker's traced child, the worker itself, or a number.
    Pid(Pid),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pid {
    Child,
    Own,
    Raw(i32),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Num(v) => write!(f, "{v:#x}"),
            Val::Fd(d) => write!(f, "fd {d:?}"),
            Val::Ptr(p) => write!(f, "{p:x?}"),
            Val::Pid(p) => write!(f, "pid {p:?}"),
        }
    }
}

/// A field of an ioctl's argument struct set to a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub field: String,
    pub offset: usize,
    pub size: usize,
    pub val: Val,
}

/// One step of a session case, on a fresh open file of the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionOp {
    Begin {
        nr_tasks: u32,
        flags: u32,
    },
    Go,
    /// `CKPT_IOC_RESTART` of the seed, before any `BEGIN` (refused: no session).
    RestartUnbegun,
    /// An ioctl number of the device's type that the module may not know, with a buffer
    /// of the largest size a number can encode.
    Other(u32),
}

/// What a hostile case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// Refused with this errno, the reason containing this text (if any).
    Refused(i32, &'static str),
    /// Refused, whatever the errno.
    RefusedAny,
    /// Past the point of no return, killed with a reason containing this text, when the
    /// worker's vDSO is where the image has it (else refused: the special mapping).
    Late(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `CKPT_IOC_RESTART` on the worker's session: `image` in the memfd, the default
    /// arguments with `sets` applied.
    Restart {
        image: Vec<u8>,
        ops: Vec<Op>,
        sets: Vec<Set>,
    },
    /// `CKPT_IOC_CHECKPOINT` of the worker's traced child, the arguments changed.
    Checkpoint {
        sets: Vec<Set>,
    },
    Session {
        ops: Vec<SessionOp>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub kind: Kind,
    /// For a hostile case: its name and what it must give.
    pub hostile: Option<(&'static str, Want)>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((name, want)) = &self.hostile {
            write!(f, "hostile {name} (want {want:?}): ")?;
        }
        let sets = |sets: &[Set]| {
            sets.iter()
                .map(|s| format!("{} = {}", s.field, s.val))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.kind {
            Kind::Restart {
                image,
                ops,
                sets: s,
            } => write!(
                f,
                "restart, image of {} bytes [{}], args [{}]",
                image.len(),
                mutate::describe(ops),
                sets(s)
            ),
            Kind::Checkpoint { sets: s } => write!(f, "checkpoint, args [{}]", sets(s)),
            Kind::Session { ops } => write!(f, "session {ops:x?}"),
        }
    }
}

/// What the cases are made from: the module's records of the seed's first task.
pub struct Seeds {
    pub module: Vec<Record>,
    /// `module`, encoded.
    pub bytes: Vec<u8>,
    /// The records the module checks before its point of no return: `MM` and the `VMA`s.
    pub phase1: usize,
    /// Where the image's vDSO text is (`TASK.vdso_base`).
    pub vdso_base: u64,
    /// The cases of [`hostile_cases`].
    pub hostile: Vec<Case>,
}

impl Seeds {
    /// `module` are the records the module reads for a task (`MM` to `REGS`); `root_file`
    /// a file only root may read, for a hostile case.
    ///
    /// The seed's executable is dropped (`MM.exe_vma` set to `CKPT_NO_EXE`): the harness
    /// runs without `CAP_CHECKPOINT_RESTORE`, which the module requires before it sets
    /// `/proc/PID/exe` (`prctl(PR_SET_MM_EXE_FILE)`'s rule, refused first), so every mutant
    /// of a seed naming it would stop at that one check. The hostile case
    /// `exe-needs-checkpoint-restore` keeps the check itself tested.
    pub fn new(mut module: Vec<Record>, vdso_base: u64, root_file: Option<&str>) -> Result<Seeds> {
        let mm = module
            .first_mut()
            .filter(|r| r.kind == rec::MM)
            .context("the seed's records start with no MM record")?;
        let mut m = img::CkptMmRec::read_from_bytes(&mm.payload[..])
            .ok()
            .context("the seed's MM record")?;
        m.exe_vma = img::CKPT_NO_EXE;
        mm.payload = m.as_bytes().to_vec();
        let mut s = Seeds {
            bytes: mutate::encode(&module),
            phase1: module
                .iter()
                .position(|r| r.kind != rec::MM && r.kind != rec::VMA)
                .unwrap_or(module.len()),
            module,
            vdso_base,
            hostile: Vec::new(),
        };
        s.hostile = hostile_cases(&s, root_file)?;
        Ok(s)
    }
}

fn field_of(name: &str, field: &str) -> (usize, usize) {
    let s = layout::find(name).expect("an ABI struct");
    let f = s
        .fields
        .iter()
        .find(|f| f.name == field)
        .unwrap_or_else(|| panic!("{name}.{field}"));
    (f.offset, f.size)
}

fn set(name: &str, field: &str, val: Val) -> Set {
    let (offset, size) = field_of(name, field);
    Set {
        field: field.to_string(),
        offset,
        size,
        val,
    }
}

const FDS: [Fd; 12] = [
    Fd::Image,
    Fd::Device,
    Fd::ErrPipe,
    Fd::PipeRead,
    Fd::Dir,
    Fd::Zero,
    Fd::WriteOnly,
    Fd::Out,
    Fd::Raw(-1),
    Fd::Raw(0),
    Fd::Raw(9999),
    Fd::Raw(i32::MIN),
];

/// A hostile address for the kernel to write a reason at, or the worker's own buffer.
fn reason_ptr(rng: &mut Rng) -> Ptr {
    match rng.below(8) {
        0 => Ptr::Raw(0),
        1 => Ptr::ReadOnly,
        2 => Ptr::Raw(*rng.pick(&KERNEL_ADDRS)),
        3 => Ptr::Raw(TASK_SIZE - 1),
        4 => Ptr::Raw(0x1000),
        5 => Ptr::Buffer(1 + rng.below(7)),
        _ => Ptr::Buffer(0),
    }
}

/// Changes to 1 to 3 fields of the argument struct `name`, each value chosen for what the
/// field holds: descriptors among the worker's, addresses the kernel writes among those it
/// may or cannot, numbers as the image mutator chooses them.
fn arg_sets(rng: &mut Rng, name: &str) -> Vec<Set> {
    let s = layout::find(name).expect("an ABI struct");
    let slots = mutate::slots(s);
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| {
            let slot = rng.pick(&slots);
            let base = slot.name.split('[').next().unwrap_or("");
            let val = match base {
                "fd" | "err_fd" | "log_fd" => Val::Fd(*rng.pick(&FDS)),
                // The kernel writes there: never into the worker's own memory.
                "stats" => Val::Ptr(match rng.below(4) {
                    0 => Ptr::Raw(0),
                    1 => Ptr::Raw(*rng.pick(&KERNEL_ADDRS)),
                    2 => Ptr::ReadOnly,
                    _ => Ptr::Raw(0x1000),
                }),
                "close_fds" => Val::Fd(*rng.pick(&FDS)),
                "reason" => Val::Ptr(reason_ptr(rng)),
                "tasks" | "kept" | "objs" => Val::Ptr(match rng.below(6) {
                    0 => Ptr::Raw(0),
                    1 => Ptr::Raw(*rng.pick(&KERNEL_ADDRS)),
                    2 => Ptr::ReadOnly,
                    3 => Ptr::Tasks(1 + rng.below(7)),
                    4 => Ptr::Raw(0x1000),
                    _ => Ptr::Tasks(4),
                }),
                "pid" => Val::Pid(match rng.below(5) {
                    0 => Pid::Own,
                    1 => Pid::Raw(1),
                    2 => Pid::Raw(*rng.pick(&[0, -1, i32::MAX, i32::MIN, 2])),
                    _ => Pid::Child,
                }),
                _ => {
                    let count = slot.name.starts_with("nr") || slot.name.ends_with("len");
                    let old = match slot.name.as_str() {
                        "nr_tasks" => 1,
                        "reason_len" => crate::sys::REASON_ROOM as u64,
                        _ => 0,
                    };
                    Val::Num(mutate::value(rng, old, slot.size, count))
                }
            };
            Set {
                field: slot.name.clone(),
                offset: slot.offset,
                size: slot.size,
                val,
            }
        })
        .collect()
}

/// Case `index` of the run seeded `seed`: hostile cases first (if `hostile`), then random
/// ones.
pub fn plan(seeds: &Seeds, seed: u64, index: u64, hostile: bool) -> Case {
    if hostile {
        if let Some(c) = seeds.hostile.get(index as usize) {
            return c.clone();
        }
    }
    let mut rng = Rng::for_case(seed, index);
    let kind = match rng.below(100) {
        0..=71 => {
            // Mostly the records checked before the point of no return (MM and VMAs): a
            // case that passes it costs a worker.
            let end = if rng.one_in(4) {
                seeds.module.len()
            } else {
                seeds.phase1
            };
            let (image, ops) = mutate::mutant(&seeds.module, 0..end, rng.clone());
            Kind::Restart {
                image,
                ops,
                sets: Vec::new(),
            }
        }
        72..=86 => {
            // The seed itself, or a mutant, with arguments changed.
            // The seed's own records restore: a case that passes costs a worker.
            let (image, ops) = if rng.one_in(4) {
                (seeds.bytes.clone(), Vec::new())
            } else {
                mutate::mutant(&seeds.module, 0..seeds.phase1, Rng::new(rng.next_u64()))
            };
            Kind::Restart {
                image,
                ops,
                sets: arg_sets(&mut rng, "CkptRestartArgs"),
            }
        }
        87..=94 => Kind::Checkpoint {
            sets: if rng.one_in(6) {
                Vec::new()
            } else {
                arg_sets(&mut rng, "CkptCheckpointArgs")
            },
        },
        _ => {
            let n = 1 + rng.below(4);
            let ops = (0..n)
                .map(|_| match rng.below(5) {
                    0 | 1 => SessionOp::Begin {
                        nr_tasks: mutate::value(&mut rng, 1, 4, true) as u32,
                        flags: if rng.one_in(4) {
                            rng.next_u64() as u32
                        } else {
                            0
                        },
                    },
                    2 => SessionOp::Go,
                    3 => SessionOp::RestartUnbegun,
                    _ => SessionOp::Other(abi::ioc(
                        rng.below(4) as u32,
                        abi::CKPT_IOC_MAGIC,
                        rng.below(16) as u32,
                        rng.below(1 << 14) as usize,
                    )),
                })
                .collect();
            Kind::Session { ops }
        }
    };
    Case {
        kind,
        hostile: None,
    }
}

/// The seed's records with `edit` applied to the `MM` record (the first) and its `VMA`s.
fn edited(
    seeds: &Seeds,
    edit: impl FnOnce(&mut img::CkptMmRec, &mut Vec<Record>),
) -> Result<Vec<u8>> {
    let mut recs = seeds.module.clone();
    let mut mm = img::CkptMmRec::read_from_bytes(&recs[0].payload[..])
        .ok()
        .context("the seed's MM record")?;
    edit(&mut mm, &mut recs);
    recs[0].payload = mm.as_bytes().to_vec();
    Ok(mutate::encode(&recs))
}

fn vma_record(start: u64, end: u64, kind: u32, prot: u32, path: &str) -> Record {
    let v = img::CkptVmaRec {
        start,
        end,
        pgoff: 0,
        vm_flags: u64::from(prot),
        prot,
        kind,
        path_len: path.len() as u32,
        shm: 0,
        shm_size: 0,
    };
    Record {
        kind: rec::VMA,
        payload: [v.as_bytes(), path.as_bytes()].concat(),
    }
}

fn vma_of(r: &Record) -> Option<img::CkptVmaRec> {
    (r.kind == rec::VMA)
        .then(|| {
            img::CkptVmaRec::read_from_prefix(&r.payload)
                .ok()
                .map(|(v, _)| v)
        })
        .flatten()
}

/// An area inserted first, below the seed's lowest one: what a restart must refuse to map.
fn with_area(
    seeds: &Seeds,
    start: u64,
    end: u64,
    kind: u32,
    prot: u32,
    path: &str,
) -> Result<Vec<u8>> {
    edited(seeds, |mm, recs| {
        mm.nr_vmas += 1;
        if mm.exe_vma != img::CKPT_NO_EXE {
            mm.exe_vma += 1;
        }
        recs.insert(1, vma_record(start, end, kind, prot, path));
    })
}

/// An area added after the seed's last one.
fn with_last_area(seeds: &Seeds, start: u64, end: u64) -> Result<Vec<u8>> {
    edited(seeds, |mm, recs| {
        let last = recs.iter().rposition(|r| r.kind == rec::VMA).unwrap_or(0);
        mm.nr_vmas += 1;
        recs.insert(
            last + 1,
            vma_record(start, end, vma_kind::ANON_PRIVATE, 3, ""),
        );
    })
}

/// The seed with its first `PAGES` record moved to `addr`.
fn with_pages_at(seeds: &Seeds, addr: u64) -> Result<Vec<u8>> {
    edited(seeds, |_, recs| {
        if let Some(r) = recs.iter_mut().find(|r| r.kind == rec::PAGES) {
            r.payload[..8].copy_from_slice(&addr.to_le_bytes());
        }
    })
}

/// A record of a kind `rstr` restores itself (the module never reads one), hostile, where
/// the module reads its own: an `EPOLL` announcing every item it may have and holding
/// none, instead of the `MM`; a `MEMFD` with a name too long, instead of the first `VMA`;
/// a `FILE_DATA` of 1 MiB announced and 8 bytes held, instead of the `REGS` (read past
/// the point of no return). Each is refused by its type, its payload never read.
fn records_of_rstr(seeds: &Seeds) -> Result<Vec<(&'static str, Vec<u8>, Want)>> {
    let mut recs = seeds.module.clone();
    let ep = img::CkptEpollRec {
        id: 1,
        nr_items: img::CKPT_EPOLL_ITEMS_MAX,
    };
    recs.insert(
        0,
        Record {
            kind: rec::EPOLL,
            payload: ep.as_bytes().to_vec(),
        },
    );
    let epoll_first = mutate::encode(&recs);

    let mut recs = seeds.module.clone();
    let first = recs
        .iter()
        .position(|r| r.kind == rec::VMA)
        .context("the seed has no VMA")?;
    let m = img::CkptMemfdRec {
        id: 1,
        seals: u32::MAX,
        mode: u32::MAX,
        name_len: 300,
        size: u64::MAX,
    };
    recs[first] = Record {
        kind: rec::MEMFD,
        payload: m.as_bytes().to_vec(),
    };
    let memfd_area = mutate::encode(&recs);

    let mut recs = seeds.module.clone();
    let regs = recs
        .iter()
        .rposition(|r| r.kind == rec::REGS)
        .context("the seed has no REGS")?;
    let d = img::CkptFileDataRec {
        id: 1,
        len: img::CKPT_FILE_DATA_CHUNK,
        offset: u64::MAX,
    };
    recs[regs] = Record {
        kind: rec::FILE_DATA,
        payload: [d.as_bytes(), &[0xff; 8]].concat(),
    };
    let data_regs = mutate::encode(&recs);
    let einval = libc::EINVAL;
    Ok(vec![
        (
            "epoll-record-for-the-module",
            epoll_first,
            Want::Refused(einval, "expected a MM record, found EPOLL"),
        ),
        (
            "memfd-record-among-the-areas",
            memfd_area,
            Want::Refused(einval, "VMA records, found MEMFD"),
        ),
        (
            "file-data-record-for-the-registers",
            data_regs,
            Want::Late("expected the REGS record, found FILE_DATA"),
        ),
    ])
}

/// The cases built on purpose to reach what an unprivileged caller must never get: files
/// it cannot open, kernel addresses, memory outside its areas, counts past every bound.
fn hostile_cases(seeds: &Seeds, root_file: Option<&str>) -> Result<Vec<Case>> {
    const LOW: u64 = 0x20000;
    // The module checks areas against the caller's own limit (5-level page tables move it).
    let task_size = crate::sys::task_size();
    let first = seeds
        .module
        .iter()
        .find_map(vma_of)
        .context("the seed has no VMA")?;
    anyhow::ensure!(
        first.start >= LOW + 0x1000,
        "the seed's first area is too low"
    );
    let restart = |image: Vec<u8>, sets: Vec<Set>| Kind::Restart {
        image,
        ops: Vec::new(),
        sets,
    };
    let fp = vma_kind::FILE_PRIVATE;
    let fs = vma_kind::FILE_SHARED;
    let area = |kind, prot, path: &str| with_area(seeds, LOW, LOW + 0x1000, kind, prot, path);
    let shadow = area(fp, 1, "/etc/shadow")?;
    // An area mapping a memfd or deleted file the restart's table must hold.
    let mapped = |path: &str| {
        edited(seeds, |mm, recs| {
            mm.nr_vmas += 1;
            if mm.exe_vma != img::CKPT_NO_EXE {
                mm.exe_vma += 1;
            }
            let mut r = vma_record(LOW, LOW + 0x1000, fs, 3, path);
            let at = std::mem::offset_of!(img::CkptVmaRec, shm);
            r.payload[at..at + 4].copy_from_slice(&MAPPED_ID.to_ne_bytes());
            recs.insert(1, r);
        })
    };
    let table = |fd: Fd| {
        vec![
            set("CkptRestartArgs", "nr_objs", Val::Num(1)),
            set("CkptRestartArgs", "objs", Val::Ptr(Ptr::Objects(fd))),
        ]
    };
    let memfd_area = mapped("/memfd:fuzz (deleted)")?;
    let eacces = libc::EACCES;
    let einval = libc::EINVAL;
    let mut out = vec![
        (
            "shadow-mapped",
            restart(shadow.clone(), vec![]),
            Want::Refused(eacces, "/etc/shadow"),
        ),
        (
            "passwd-shared-writable",
            restart(area(fs, 3, "/etc/passwd")?, vec![]),
            Want::Refused(eacces, "/etc/passwd"),
        ),
        (
            "proc-1-mem-mapped",
            restart(area(fs, 3, "/proc/1/mem")?, vec![]),
            Want::Refused(eacces, "/proc/1/mem"),
        ),
        (
            "directory-mapped",
            restart(area(fp, 1, "/")?, vec![]),
            Want::Refused(einval, "not a regular file"),
        ),
        (
            "relative-path-mapped",
            restart(area(fp, 1, "etc/shadow")?, vec![]),
            Want::Refused(einval, "not absolute"),
        ),
        (
            "kernel-address-area",
            restart(
                with_last_area(seeds, KERNEL_ADDRS[0], KERNEL_ADDRS[0] + 0x1000)?,
                vec![],
            ),
            Want::Refused(einval, "not a page-aligned user range"),
        ),
        (
            "area-across-task-size",
            restart(
                with_last_area(seeds, task_size - 0x1000, task_size + 0x1000)?,
                vec![],
            ),
            Want::Refused(einval, "not a page-aligned user range"),
        ),
        (
            "area-at-task-size",
            restart(
                with_last_area(seeds, task_size, task_size + 0x1000)?,
                vec![],
            ),
            Want::Refused(einval, "not a page-aligned user range"),
        ),
        (
            "area-unaligned",
            restart(
                with_area(seeds, LOW + 8, LOW + 0x1000, vma_kind::ANON_PRIVATE, 3, "")?,
                vec![],
            ),
            Want::Refused(einval, "not a page-aligned user range"),
        ),
        (
            "huge-area-count",
            restart(edited(seeds, |mm, _| mm.nr_vmas = u32::MAX)?, vec![]),
            Want::Refused(einval, "memory areas"),
        ),
        (
            "layout-at-kernel-address",
            restart(
                edited(seeds, |mm, _| mm.start_code = KERNEL_ADDRS[1])?,
                vec![],
            ),
            Want::Refused(einval, "not a user address"),
        ),
        (
            "exe-needs-checkpoint-restore",
            restart(
                edited(seeds, |mm, recs| {
                    mm.nr_vmas += 1;
                    mm.exe_vma = 0;
                    recs.insert(
                        1,
                        vma_record(LOW, LOW + 0x1000, vma_kind::ANON_PRIVATE, 3, ""),
                    );
                })?,
                vec![],
            ),
            Want::Refused(libc::EPERM, "needs CAP_CHECKPOINT_RESTORE"),
        ),
        (
            "reason-at-kernel-address",
            restart(
                shadow.clone(),
                vec![set(
                    "CkptRestartArgs",
                    "reason",
                    Val::Ptr(Ptr::Raw(KERNEL_ADDRS[0])),
                )],
            ),
            Want::Refused(eacces, ""),
        ),
        (
            "reason-read-only",
            restart(
                shadow.clone(),
                vec![set("CkptRestartArgs", "reason", Val::Ptr(Ptr::ReadOnly))],
            ),
            Want::Refused(eacces, ""),
        ),
        (
            "image-is-the-device",
            restart(
                shadow.clone(),
                vec![set("CkptRestartArgs", "fd", Val::Fd(Fd::Device))],
            ),
            Want::RefusedAny,
        ),
        (
            "image-write-only",
            restart(
                shadow.clone(),
                vec![set("CkptRestartArgs", "fd", Val::Fd(Fd::WriteOnly))],
            ),
            Want::Refused(libc::EBADF, "not open for reading"),
        ),
        (
            "too-many-close-fds",
            restart(
                shadow,
                vec![set(
                    "CkptRestartArgs",
                    "nr_close",
                    Val::Num(abi::CKPT_RESTART_MAX_CLOSE as u64 + 1),
                )],
            ),
            Want::Refused(einval, "descriptors to close"),
        ),
        (
            "mapped-object-not-in-the-table",
            restart(memfd_area.clone(), vec![]),
            Want::Refused(einval, "table of mapped objects does not have"),
        ),
        (
            "mapped-object-at-a-closed-fd",
            restart(memfd_area.clone(), table(Fd::Raw(1000))),
            Want::Refused(libc::EBADF, "fd 1000 is not open"),
        ),
        (
            "mapped-memfd-is-a-directory",
            restart(memfd_area.clone(), table(Fd::Dir)),
            Want::Refused(einval, "is not a memfd"),
        ),
        (
            "mapped-deleted-file-is-a-memfd",
            restart(mapped("/tmp/gone")?, table(Fd::Image)),
            Want::Refused(einval, "is not an unlinked regular file"),
        ),
        (
            "too-many-mapped-objects",
            restart(
                memfd_area,
                vec![set(
                    "CkptRestartArgs",
                    "nr_objs",
                    Val::Num(u64::from(abi::CKPT_RESTART_MAX_OBJS) + 1),
                )],
            ),
            Want::Refused(einval, "mapped objects, at most"),
        ),
        (
            "restart-without-session",
            Kind::Session {
                ops: vec![SessionOp::RestartUnbegun],
            },
            Want::Refused(einval, ""),
        ),
        (
            "huge-session",
            Kind::Session {
                ops: vec![SessionOp::Begin {
                    nr_tasks: CKPT_MAX_TASKS + 1,
                    flags: 0,
                }],
            },
            Want::Refused(einval, ""),
        ),
        (
            "checkpoint-init",
            Kind::Checkpoint {
                sets: vec![set("CkptCheckpointArgs", "pid", Val::Pid(Pid::Raw(1)))],
            },
            Want::RefusedAny,
        ),
        (
            // make fuzz found it: as many tasks as the bound allows made the module ask
            // kmalloc for more than it serves (a WARNING in page_alloc).
            "checkpoint-max-tasks",
            Kind::Checkpoint {
                sets: vec![set(
                    "CkptCheckpointArgs",
                    "nr_tasks",
                    Val::Num(u64::from(CKPT_MAX_TASKS)),
                )],
            },
            Want::Refused(libc::ESRCH, "no task 0"),
        ),
        (
            "pages-outside-every-area",
            restart(with_pages_at(seeds, LOW)?, vec![]),
            Want::Late("not inside one memory area"),
        ),
        (
            "pages-at-kernel-address",
            restart(with_pages_at(seeds, KERNEL_ADDRS[0])?, vec![]),
            Want::Late("not inside one memory area"),
        ),
    ];
    out.extend(
        records_of_rstr(seeds)?
            .into_iter()
            .map(|(n, image, want)| (n, restart(image, vec![]), want)),
    );
    if let Some(path) = root_file {
        let image = area(fp, 1, path)?;
        out.insert(
            1,
            (
                "root-only-file-mapped",
                restart(image, vec![]),
                Want::Refused(eacces, ""),
            ),
        );
    }
    Ok(out
        .into_iter()
        .map(|(name, kind, want)| Case {
            kind,
            hostile: Some((name, want)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstr_records_are_put_where_the_module_reads() {
        let recs = mutate::split(&crate::synth::image()).unwrap();
        let mm = recs.iter().position(|r| r.kind == rec::MM).unwrap();
        let pos = mutate::offsets(&recs)[mm];
        let seeds = Seeds::new(mutate::module_records(&recs, pos).unwrap(), 0, None).unwrap();
        let kinds = |name: &str| {
            let c = seeds
                .hostile
                .iter()
                .find(|c| c.hostile.as_ref().unwrap().0 == name);
            let Some(Case {
                kind: Kind::Restart { image, .. },
                ..
            }) = c
            else {
                panic!("{name}")
            };
            let mut rd = ckptlib::image::RecordReader::new(&image[..]);
            let mut v = Vec::new();
            while let Some(r) = rd.next_record().unwrap() {
                v.push(r.kind);
            }
            v
        };
        let k = kinds("epoll-record-for-the-module");
        assert_eq!(&k[..2], [rec::EPOLL, rec::MM]);
        let k = kinds("memfd-record-among-the-areas");
        assert_eq!(&k[..2], [rec::MM, rec::MEMFD]);
        assert_eq!(k.iter().filter(|&&x| x == rec::VMA).count(), 3);
        let k = kinds("file-data-record-for-the-registers");
        assert_eq!(k.last(), Some(&rec::FILE_DATA));
    }
}
