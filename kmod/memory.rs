// SPDX-License-Identifier: GPL-2.0

//! Memory: the layout of the address space (`MM`), each area (`VMA`) and the contents of the
//! pages that exist nowhere else (`PAGES`).
//!
//! Pages are read with `get_user_pages_remote` (forced read, like ptrace's peek) in batches
//! and written to the image straight from the pages, with no copy. Only pages whose contents
//! cannot be found again are saved: never-touched anonymous pages map the zero page and are
//! skipped, file-backed private areas save only their copied-on-write (anonymous) pages, and
//! shared file mappings save nothing (the file holds the data).

use kernel::alloc::KVVec;
use kernel::bindings;
use kernel::fs::file::flags::{O_LARGEFILE, O_NOCTTY, O_NONBLOCK, O_RDONLY, O_RDWR};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::uaccess::{UserPtr, UserSlice};
use zerocopy::{FromBytes, IntoBytes};

use crate::deleted::original_path;
use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::{ImageReader, ImageWriter};
use crate::limits;
use crate::mapped::{Mapped, ObjFds};
use crate::objects::Objects;
use crate::sys::{
    self,
    file::FileRef,
    mm::{
        current, vm, MmRef, PageBatch, PageKind, PageRef, Special, Vma, MAP_ANONYMOUS, MAP_FIXED,
        MAP_GROWSDOWN, MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE,
    },
    task::TaskRef,
};
use crate::uapi::image::{self as img, rec, vma_kind};
use crate::uapi::{CkptArea, CKPT_RESTART_MAX_KEPT, CKPT_RESTART_PROGRESS_PAGES};

/// Pages asked of `get_user_pages_remote` at a time, and the most in one `PAGES` record.
const BATCH: usize = img::CKPT_PAGES_PER_RECORD as usize;
const PAGE_SIZE: u64 = img::CKPT_PAGE_SIZE as u64;

/// `PROT_*` from `VM_*` (the same bits).
fn prot(vm_flags: u64) -> u32 {
    (vm_flags & (vm::READ | vm::WRITE | vm::EXEC)) as u32
}

/// What kind of area this is, or why it cannot be saved.
fn classify(v: &Vma, mm: &img::CkptMmRec) -> CkptResult<u32> {
    let (s, e) = (v.rec.start, v.rec.end);
    let vm_flags = v.rec.vm_flags;
    // The vDSO and vvar are special mappings (vvar is VM_PFNMAP): they are recognised
    // before the refusal of device mappings, and never saved, only placed.
    match v.special {
        Special::Vdso => return Ok(vma_kind::VDSO),
        Special::Vvar => return Ok(vma_kind::VVAR),
        Special::VvarVclock => return Ok(vma_kind::VVAR_VCLOCK),
        Special::None => {}
        Special::Other => refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: special mapping not supported"
        ),
    }
    if v.file.as_ref().is_some_and(|f| f.is_sysv_shm()) {
        // Its segment is found in save_vma: one of a container's IPC namespace.
        return Ok(vma_kind::SYSV_SHM);
    }
    if vm_flags & (vm::IO | vm::PFNMAP | vm::MIXEDMAP) != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: device mapping not supported"
        );
    }
    if vm_flags & vm::HUGETLB != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: hugetlbfs mapping not supported yet"
        );
    }
    if vm_flags & (vm::UFFD_MISSING | vm::UFFD_WP) != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: registered with userfaultfd, not supported yet"
        );
    }
    if vm_flags & vm::LOCKONFAULT != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: locked on fault (mlock2(MLOCK_ONFAULT) or \
             mlockall(MCL_ONFAULT)): not supported (a restart locks its pages in at once)"
        );
    }
    Ok(match &v.file {
        _ if v.shared_anon() => vma_kind::ANON_SHARED,
        // `MAP_SHARED` of a file open read-only keeps only `VM_MAYSHARE` (`mmap` drops
        // `VM_SHARED` and `VM_MAYWRITE`): shared all the same, and restored as such.
        Some(_) if vm_flags & vm::MAYSHARE != 0 => vma_kind::FILE_SHARED,
        Some(_) => vma_kind::FILE_PRIVATE,
        None if s <= mm.start_brk && mm.brk <= e && mm.start_brk < e => vma_kind::HEAP,
        None if vm_flags & vm::GROWSDOWN != 0 => vma_kind::STACK,
        None => vma_kind::ANON_PRIVATE,
    })
}

/// Areas whose pages go into the image (and come back from it).
fn takes_pages(kind: u32) -> bool {
    matches!(
        kind,
        vma_kind::ANON_PRIVATE
            | vma_kind::HEAP
            | vma_kind::STACK
            | vma_kind::ANON_SHARED
            | vma_kind::FILE_PRIVATE
    )
}

/// Whether a page of an area of this kind must go into the image.
fn keep(kind: u32, page: PageKind) -> bool {
    match kind {
        vma_kind::ANON_PRIVATE | vma_kind::HEAP | vma_kind::STACK | vma_kind::ANON_SHARED => {
            page != PageKind::Zero && page != PageKind::Absent
        }
        vma_kind::FILE_PRIVATE => page == PageKind::Anon,
        _ => false,
    }
}

/// What the `HEADER` says of the vDSO of `task`'s memory (`vdso_size`, `vvar_size`,
/// `vdso_hash`), all 0 if it has no memory or no vDSO: the restart compares them with its
/// own, since programs keep pointers into the vDSO's code and the vvar data it reads.
pub(crate) fn vdso_facts(task: &TaskRef) -> CkptResult<(u32, u32, u64)> {
    let Some(mm) = task.mm() else {
        return Ok((0, 0, 0));
    };
    let vmas = mm.vmas().context(fmt!("memory areas"))?;
    drop(mm);
    let size = |v: &Vma| v.rec.end - v.rec.start;
    let vvar: u64 = vmas
        .iter()
        .filter(|v| matches!(v.special, Special::Vvar | Special::VvarVclock))
        .map(size)
        .sum();
    let Some(vdso) = vmas.iter().find(|v| v.special == Special::Vdso) else {
        return Ok((0, vvar as u32, 0));
    };
    let len = size(vdso);
    if len > u64::from(img::CKPT_VDSO_MAX) {
        refuse!(
            EOPNOTSUPP,
            "memory: a vDSO of {len} bytes (at most {} are compared at restart)",
            img::CKPT_VDSO_MAX
        );
    }
    let mut text = KVec::from_elem(0u8, len as usize, GFP_KERNEL_ACCOUNT)?;
    task.peek(vdso.rec.start, &mut text)
        .context(fmt!("reading the vDSO at {:#x}", vdso.rec.start))?;
    Ok((len as u32, vvar as u32, img::fnv1a64(&text)))
}

/// `MM`, `VMA`s and `PAGES` of a memory; `data_limit` is its owner's `RLIMIT_DATA`, which
/// the restart checks the layout against. Shared anonymous memory is named by its object id;
/// its pages are saved with the first memory that maps the object.
pub(crate) fn checkpoint(
    mm: &MmRef,
    data_limit: u64,
    lock_limit: Option<u64>,
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let (mut m, vdso_at) = mm.layout();
    trim_auxv(&mut m);
    let vmas = mm.vmas().context(fmt!("memory areas"))?;
    let mut kinds = KVec::with_capacity(vmas.len(), GFP_KERNEL_ACCOUNT)?;
    for v in vmas.iter() {
        // An area a dry run refused has no kind: nothing more of it is looked at.
        let kind = match classify(v, &m) {
            Ok(kind) => kind,
            Err(e) => {
                w.go_on(Err(e))?;
                REFUSED
            }
        };
        kinds.push(kind, GFP_KERNEL_ACCOUNT)?;
    }

    // rstr places its own vDSO where the image's was: there must be one, where the kernel
    // has it.
    let vdso = vmas
        .iter()
        .zip(kinds.iter())
        .find(|(_, &k)| k == vma_kind::VDSO)
        .map(|(v, _)| v.rec.start);
    if vdso.is_none() || vdso != Some(vdso_at) {
        w.go_on(Err(CkptError::new(
            EOPNOTSUPP,
            fmt!(
                "memory: the vDSO is unmapped or moved ({:#x}, the kernel has it at {:#x}); not supported yet",
                vdso.unwrap_or(0),
                vdso_at
            ),
        )))?;
    }
    let exe_vma = match vmas.iter().position(|v| v.exe) {
        Some(i) => i as u32,
        None if mm.has_exe() => {
            w.go_on(Err(CkptError::new(
                EOPNOTSUPP,
                fmt!("its executable file (/proc/PID/exe) is not mapped: not supported yet"),
            )))?;
            img::CKPT_NO_EXE
        }
        None => img::CKPT_NO_EXE,
    };
    m.nr_vmas = vmas.len() as u32;
    m.exe_vma = exe_vma;
    m.flags = lock_flags(mm.def_flags())?;
    let locked_bytes = (vmas.iter().map(|v| &v.rec).filter(|r| locked(r)))
        .map(|r| r.end - r.start)
        .sum();
    let r = refusal(check_lock_limit(locked_bytes, m.flags, lock_limit))
        .context(fmt!("restart would refuse its locked memory"));
    w.go_on(r)?;
    // What the restart checks of these records depends on the state alone: refuse now what
    // it would refuse (more areas than it takes, a layout it rejects).
    let task_size = sys::mm::current::task_size();
    let r = refusal(check_mm(&m, task_size, sys::mm::AUXV_WORDS, data_limit))
        .context(fmt!("restart would refuse this memory"));
    w.go_on(r)?;
    let mut path = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    // The memfds and deleted files the areas map: saved (once) before the MM record, where
    // rstr reads them; each such area names its file's id.
    let mut mapped = KVec::with_capacity(vmas.len(), GFP_KERNEL_ACCOUNT)?;
    for (v, kind) in vmas.iter().zip(kinds.iter_mut()) {
        let m = if is_file(*kind) {
            crate::mapped::save(v, &mut path, objs, w)
        } else {
            Ok(Mapped::default())
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                w.go_on(Err(e))?;
                *kind = REFUSED;
                Mapped::default()
            }
        };
        mapped.push(m, GFP_KERNEL_ACCOUNT)?;
    }
    w.fixed(rec::MM, &m)?;

    let mut prev_end = 0;
    for ((v, &kind), &obj) in vmas.iter().zip(kinds.iter()).zip(mapped.iter()) {
        if kind == REFUSED {
            continue;
        }
        let saved = save_vma(v, kind, obj, &mut path, &mut prev_end, task_size, objs, w);
        w.go_on(saved)?;
    }

    // The shared objects whose pages this memory saves: those no earlier memory mapped.
    let mut mine = KVec::new();
    for (v, &kind) in vmas.iter().zip(kinds.iter()) {
        if kind == vma_kind::ANON_SHARED && objs.first_save(v.shm_id) {
            mine.push(v.shm_id, GFP_KERNEL_ACCOUNT)?;
        }
    }
    let mut batch = PageBatch::new(BATCH)?;
    for (v, &kind) in vmas.iter().zip(kinds.iter()) {
        if !takes_pages(kind) || (kind == vma_kind::ANON_SHARED && !mine.contains(&v.shm_id)) {
            continue;
        }
        let pages = w.stats.pages_written;
        w.stats.pages_scanned += (v.rec.end - v.rec.start) / PAGE_SIZE;
        // A dry run reads no page.
        if !w.dry_run() {
            save_pages(mm, v, kind, &mut batch, &mut objs.shared_pages, w)?;
        }
        w.log.debug(fmt!(
            "task {}: memory {:#x}-{:#x} kind {kind}: {} pages saved",
            w.task(),
            v.rec.start,
            v.rec.end,
            w.stats.pages_written - pages
        ));
    }
    Ok(())
}

/// The kind of an area a dry run refused (not a `vma_kind`).
const REFUSED: u32 = u32::MAX;

/// One area's `VMA` record (`obj`: the memfd or deleted file it maps, if it does);
/// `prev_end` the end of the one before it.
#[allow(
    clippy::too_many_arguments,
    reason = "the area's parts and the writer's state"
)]
fn save_vma(
    v: &Vma,
    kind: u32,
    obj: Mapped,
    path: &mut [u8],
    prev_end: &mut u64,
    task_size: u64,
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let len = match &v.file {
        Some(f) if kind == vma_kind::FILE_PRIVATE || kind == vma_kind::FILE_SHARED => {
            f.path(path).context(fmt!(
                "memory {:#x}-{:#x}: file path",
                v.rec.start,
                v.rec.end
            ))?
        }
        _ => 0,
    };
    let p = if obj.deleted {
        original_path(&path[..len])
    } else {
        &path[..len]
    };
    if obj.id == 0 && len > 0 && (p[0] != b'/' || p.ends_with(b" (deleted)")) {
        refuse!(
            EOPNOTSUPP,
            "memory {:#x}-{:#x}: mapped file {} cannot be reopened by path; not supported yet",
            v.rec.start,
            v.rec.end,
            core::str::from_utf8(p).unwrap_or("?")
        );
    }
    let shared = kind == vma_kind::ANON_SHARED;
    let (shm, shm_size) = if shared {
        (objs.id(v.shm_id)?, v.rec.shm_size)
    } else if kind == vma_kind::SYSV_SHM {
        segment_of(v, objs)?
    } else {
        (obj.id, 0)
    };
    let r = img::CkptVmaRec {
        prot: prot(v.rec.vm_flags),
        kind,
        path_len: p.len() as u32,
        shm,
        shm_size,
        ..v.rec
    };
    // A shared anonymous area grown with mremap past its object, for one.
    refusal(check_vma(&r, *prev_end, task_size)).context(fmt!("restart would refuse this area"))?;
    *prev_end = r.end;
    w.record(rec::VMA, &[r.as_bytes(), p])
}

/// The `SYSV_SHM` object an attach `v` maps and its size in whole pages: a segment of the
/// container's IPC namespace, saved with it ([`crate::ipc`]).
fn segment_of(v: &Vma, objs: &mut Objects) -> CkptResult<(u32, u64)> {
    let (s, e) = (v.rec.start, v.rec.end);
    let Some(f) = v.file.as_ref() else {
        refuse!(
            EINVAL,
            "memory {s:#x}-{e:#x}: a SysV attach without its file"
        );
    };
    let (seg, id) = sys::ipc::attach_segment(f);
    let Some((obj, size)) = objs.segments.attach(seg) else {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: SysV shared memory segment {id} (shmat) of an IPC namespace \
             not saved with the tree: only a container's own (ckpt --container) is saved"
        );
    };
    Ok((obj, size.next_multiple_of(PAGE_SIZE)))
}

/// A restart check failed at checkpoint: the state is not supported (`EOPNOTSUPP`), the
/// record is not invalid (`EINVAL`).
fn refusal(r: CkptResult) -> CkptResult {
    r.map_err(|e| crate::error::CkptError {
        errno: EOPNOTSUPP,
        ..e
    })
}

/// The anonymous pages that more than one memory of a checkpoint may map (shared
/// copy-on-write since a `fork`), each with the offset in the image where its contents
/// were written: the first memory that has one saves it, the others refer to it
/// (`PAGES_REF`). Each page is held (a reference) until the checkpoint ends, so that its
/// identity cannot go to another page meanwhile.
pub(crate) struct SharedPages {
    map: RBTree<usize, (PageRef, u64)>,
    count: usize,
}

/// The most pages [`SharedPages`] keeps (4 GiB of memory); past it, pages are saved again.
const SHARED_PAGES_MAX: usize = 1 << 20;

impl SharedPages {
    pub(crate) fn new() -> Self {
        SharedPages {
            map: RBTree::new(),
            count: 0,
        }
    }

    /// Where the contents of page `key` are in the image, if they are.
    fn find(&self, key: Option<usize>) -> Option<u64> {
        self.map.get(&key?).map(|(_, at)| *at)
    }

    /// Records that the contents of `page` are at offset `at` of the image.
    fn add(&mut self, page: PageRef, at: u64) -> CkptResult {
        if self.count < SHARED_PAGES_MAX {
            self.map
                .try_create_and_insert(page.key(), (page, at), GFP_KERNEL_ACCOUNT)?;
            self.count += 1;
        }
        Ok(())
    }
}

/// Saves the pages of one area that [`keep`] selects, a run of consecutive pages per record:
/// `PAGES` with their contents, or `PAGES_REF` for the pages `shared` has saved already.
fn save_pages(
    mm: &MmRef,
    v: &Vma,
    kind: u32,
    batch: &mut PageBatch,
    shared: &mut SharedPages,
    w: &mut ImageWriter,
) -> CkptResult {
    let (start, end) = (v.rec.start, v.rec.end);
    let mut addr = start;
    while addr < end {
        let want = (((end - addr) / PAGE_SIZE) as usize).min(BATCH);
        let got = match (&v.file, kind) {
            // Shared anonymous memory is a shmem file: read its page cache, because a fault
            // on a hole would allocate a page in the target (and save zeros).
            (Some(f), vma_kind::ANON_SHARED) => {
                let index = v.rec.pgoff + (addr - start) / PAGE_SIZE;
                batch.fill_from_cache(f, index, want)?
            }
            _ => match mm.get_pages(addr, want, batch) {
                Ok(n) => n,
                Err(e) if kind == vma_kind::FILE_PRIVATE => {
                    // A file page that cannot be read (past the end of the file): it has no
                    // copied-on-write contents either. Skip it.
                    let _ = e;
                    addr += PAGE_SIZE;
                    continue;
                }
                Err(e) => {
                    return Err(e)
                        .context(fmt!("memory {start:#x}-{end:#x}: reading page {addr:#x}"))
                }
            },
        };
        if got == 0 {
            refuse!(
                EFAULT,
                "memory {start:#x}-{end:#x}: page {addr:#x} cannot be read"
            );
        }
        let mut i = 0;
        while i < got {
            if !keep(kind, batch.kind(i)) {
                i += 1;
                continue;
            }
            let first = i;
            while i < got && keep(kind, batch.kind(i)) {
                i += 1;
            }
            save_run(addr, batch, first..i, shared, w)?;
        }
        addr += got as u64 * PAGE_SIZE;
    }
    Ok(())
}

/// Saves the pages `run` of `batch` (mapped from `addr` on, each one to save): the ones
/// saved already as `PAGES_REF` records, one per run whose contents follow each other in
/// the image, the others as `PAGES` records, which `shared` then knows.
fn save_run(
    addr: u64,
    batch: &PageBatch,
    run: core::ops::Range<usize>,
    shared: &mut SharedPages,
    w: &mut ImageWriter,
) -> CkptResult {
    let at = |i: usize| addr + i as u64 * PAGE_SIZE;
    let saved = |shared: &SharedPages, i: usize| shared.find(batch.shared_key(i));
    let mut i = run.start;
    while i < run.end {
        let first = i;
        if let Some(src) = saved(shared, i) {
            i += 1;
            while i < run.end && saved(shared, i) == Some(src + (i - first) as u64 * PAGE_SIZE) {
                i += 1;
            }
            let r = img::CkptPagesRefRec {
                addr: at(first),
                nr_pages: (i - first) as u32,
                __reserved: 0,
                src,
            };
            w.stats.pages_shared += u64::from(r.nr_pages);
            w.fixed(rec::PAGES_REF, &r)?;
            continue;
        }
        while i < run.end && saved(shared, i).is_none() {
            i += 1;
        }
        let data_at =
            w.written() + (size_of::<img::CkptHdr>() + size_of::<img::CkptPagesRec>()) as u64;
        w.pages(at(first), batch, first..i)?;
        for j in first..i {
            if let Some(page) = batch.shared(j) {
                shared.add(page, data_at + (j - first) as u64 * PAGE_SIZE)?;
            }
        }
    }
    Ok(())
}

// ---- Restart --------------------------------------------------------------------------

/// One area to restore, checked, with its file open.
pub(crate) struct Planned {
    r: img::CkptVmaRec,
    file: Option<FileRef>,
}

/// The memory a restart will install: checked in full before anything is changed.
pub(crate) struct Plan {
    mm: img::CkptMmRec,
    vmas: KVec<Planned>,
    /// The areas the caller has mapped already ([`mark_kept`]), in address order.
    kept: KVVec<CkptArea>,
}

impl Plan {
    /// Areas of the plan, and how many of them the caller keeps.
    pub(crate) fn areas(&self) -> (usize, usize) {
        (self.vmas.len(), self.kept.len())
    }

    /// Whether the caller mapped area `p` already ([`mark_kept`]).
    fn is_kept(&self, p: &Planned) -> bool {
        self.kept
            .binary_search_by_key(&p.r.start, |a| a.start)
            .is_ok()
    }
}

fn is_special(kind: u32) -> bool {
    matches!(
        kind,
        vma_kind::VDSO | vma_kind::VVAR | vma_kind::VVAR_VCLOCK
    )
}

fn is_file(kind: u32) -> bool {
    matches!(kind, vma_kind::FILE_PRIVATE | vma_kind::FILE_SHARED)
}

/// Checks the `MM` record as `prctl(PR_SET_MM_MAP)` checks its map: every field a user
/// address at or above the lowest mappable one, the ranges in order, `brk` within
/// `RLIMIT_DATA` (`data_limit`, the caller's, set from the image by `rstr`); and the saved
/// auxiliary vector within the kernel's `AT_VECTOR_SIZE` words (`auxv_max`), ending with
/// `AT_NULL`, since `/proc/PID/auxv` reads up to it.
pub(crate) fn check_mm(
    m: &img::CkptMmRec,
    task_size: u64,
    auxv_max: usize,
    data_limit: u64,
) -> CkptResult {
    let fields = [
        ("start_code", m.start_code),
        ("end_code", m.end_code),
        ("start_data", m.start_data),
        ("end_data", m.end_data),
        ("start_brk", m.start_brk),
        ("brk", m.brk),
        ("start_stack", m.start_stack),
        ("arg_start", m.arg_start),
        ("arg_end", m.arg_end),
        ("env_start", m.env_start),
        ("env_end", m.env_end),
    ];
    for (what, v) in fields {
        if !(sys::mm::MIN_ADDR..task_size).contains(&v) {
            refuse!(EINVAL, "MM record: {what} {v:#x} is not a user address");
        }
    }
    let pairs = [
        ("code", m.start_code, m.end_code, m.start_code < m.end_code),
        ("data", m.start_data, m.end_data, m.start_data <= m.end_data),
        ("brk", m.start_brk, m.brk, m.start_brk <= m.brk),
        (
            "arguments",
            m.arg_start,
            m.arg_end,
            m.arg_start <= m.arg_end,
        ),
        (
            "environment",
            m.env_start,
            m.env_end,
            m.env_start <= m.env_end,
        ),
    ];
    for (what, a, b, ordered) in pairs {
        if !ordered {
            refuse!(
                EINVAL,
                "MM record: {what} range {a:#x}-{b:#x} is out of order"
            );
        }
    }
    // All in order and below `task_size`: no subtraction can wrap.
    let data = (m.brk - m.start_brk) + (m.end_data - m.start_data);
    if data > data_limit {
        refuse!(
            EINVAL,
            "MM record: heap and data of {data} bytes exceed RLIMIT_DATA ({data_limit})"
        );
    }
    check_auxv(m, auxv_max)?;
    if m.nr_vmas == 0 || m.nr_vmas > sys::mm::MAX_MAP_COUNT {
        refuse!(EINVAL, "MM record: {} memory areas", m.nr_vmas);
    }
    // `exe_vma` and the reserved field: the record's own rule (`img::Record`), checked as
    // it is read.
    Ok(())
}

/// The saved auxiliary vector: whole (type, value) pairs, at most `max` words with its
/// last pair `AT_NULL` (type 0).
fn check_auxv(m: &img::CkptMmRec, max: usize) -> CkptResult {
    let n = m.auxv_words as usize;
    if n > max.min(img::CKPT_AUXV_WORDS) || n % 2 != 0 || n == 0 {
        refuse!(
            EINVAL,
            "MM record: auxv of {n} words (an even number, at most {max} here)"
        );
    }
    match m.auxv[..n].chunks_exact(2).position(|p| p[0] == 0) {
        Some(i) if (i + 1) * 2 == n => Ok(()),
        Some(i) => refuse!(EINVAL, "MM record: auxv ends at word {} of {n}", i * 2),
        None => refuse!(EINVAL, "MM record: auxv of {n} words has no AT_NULL"),
    }
}

/// The words of a saved auxiliary vector that are in use: the whole (type, value) pairs up
/// to and including the first `AT_NULL` (type 0), or all whole pairs if it has none.
fn auxv_used(words: &[u64]) -> usize {
    match words
        .chunks_exact(2)
        .position(|p| p[0] == u64::from(bindings::AT_NULL))
    {
        Some(i) => (i + 1) * 2,
        None => words.len() & !1,
    }
}

/// Cuts the auxiliary vector of an `MM` record, as the mm holds all its `AT_VECTOR_SIZE`
/// words, to the words in use, the rest zero (`/proc/PID/auxv` reads up to `AT_NULL`).
fn trim_auxv(m: &mut img::CkptMmRec) {
    let n = (m.auxv_words as usize).min(m.auxv.len());
    let used = auxv_used(&m.auxv[..n]);
    m.auxv[used..].fill(0);
    m.auxv_words = used as u32;
}

/// Checks one `VMA` record against the previous area and the address-space limit.
pub(crate) fn check_vma(v: &img::CkptVmaRec, prev_end: u64, task_size: u64) -> CkptResult {
    let (s, e) = (v.start, v.end);
    if s % PAGE_SIZE != 0 || e % PAGE_SIZE != 0 || s >= e || e > task_size {
        refuse!(
            EINVAL,
            "VMA record: {s:#x}-{e:#x} is not a page-aligned user range"
        );
    }
    if s < prev_end {
        refuse!(
            EINVAL,
            "VMA record: {s:#x}-{e:#x} overlaps or precedes the area before it"
        );
    }
    if v.prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        refuse!(
            EINVAL,
            "VMA record {s:#x}-{e:#x}: bad protection {:#x}",
            v.prot
        );
    }
    if !matches!(
        v.kind,
        vma_kind::ANON_PRIVATE..=vma_kind::VVAR_VCLOCK | vma_kind::SYSV_SHM
    ) {
        refuse!(EINVAL, "VMA record {s:#x}-{e:#x}: unknown kind {}", v.kind);
    }
    if v.vm_flags & vm::LOCKONFAULT != 0 {
        refuse!(
            EINVAL,
            "VMA record {s:#x}-{e:#x}: locked on fault, which no restart makes"
        );
    }
    // Its bound (`CKPT_PATH_MAX`) is the record's rule, checked as it is read.
    if is_file(v.kind) != (v.path_len > 0) {
        refuse!(
            EINVAL,
            "VMA record {s:#x}-{e:#x}: path length {} does not fit its kind",
            v.path_len
        );
    }
    if is_file(v.kind) && v.pgoff.checked_mul(PAGE_SIZE).is_none() {
        refuse!(EINVAL, "VMA record {s:#x}-{e:#x}: file offset overflows");
    }
    // A file area names a memfd or deleted file (`shm`), or none; only shared anonymous
    // memory and SysV segments have a size.
    let shared = matches!(v.kind, vma_kind::ANON_SHARED | vma_kind::SYSV_SHM);
    let in_object = v
        .pgoff
        .checked_mul(PAGE_SIZE)
        .and_then(|o| o.checked_add(e - s))
        .is_some_and(|end| end <= v.shm_size && v.shm_size <= task_size);
    let names_ok = if shared {
        v.shm != 0 && in_object && v.shm_size % PAGE_SIZE == 0
    } else {
        v.shm_size == 0 && (v.shm == 0 || is_file(v.kind))
    };
    if !names_ok {
        refuse!(
            EINVAL,
            "VMA record {s:#x}-{e:#x}: shared memory object {} of {} bytes does not fit it",
            v.shm,
            v.shm_size
        );
    }
    Ok(())
}

/// Reads and checks the `MM` and `VMA` records and opens every mapped file; `shm` gives the
/// object of shared anonymous memory by id and size (made once per restart session);
/// `may_set_exe`: the caller may choose its executable file
/// ([`sys::task::current::checkpoint_restore_capable`]).
/// Changes nothing in the caller: a failure here leaves it as it was.
pub(crate) fn plan(
    rd: &mut ImageReader,
    shm: &mut dyn FnMut(u32, u64) -> CkptResult<FileRef>,
    objects: &ObjFds,
    shm_at: &crate::ipc::ShmAt,
    may_set_exe: bool,
) -> CkptResult<Plan> {
    let task_size = sys::mm::current::task_size();
    let mm: img::CkptMmRec = rd.expect(rec::MM)?;
    check_mm(
        &mm,
        task_size,
        sys::mm::AUXV_WORDS,
        sys::task::current::data_limit(),
    )?;
    if mm.exe_vma != img::CKPT_NO_EXE && !may_set_exe {
        // `/proc/PID/exe` is trusted by what reads it: the kernel lets only a holder of
        // CAP_CHECKPOINT_RESTORE choose it (`prctl(PR_SET_MM_MAP)`'s `exe_fd`).
        refuse!(
            EPERM,
            "MM record: setting the executable file (/proc/PID/exe) needs CAP_CHECKPOINT_RESTORE in the caller's user namespace, as prctl(PR_SET_MM_EXE_FILE)"
        );
    }
    let mut vmas = KVec::with_capacity(mm.nr_vmas as usize, GFP_KERNEL_ACCOUNT)?;
    let mut path = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    let mut scratch = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    let mut opened = Opened::new()?;
    let mut prev_end = 0;
    for _ in 0..mm.nr_vmas {
        let h = rd.header()?;
        if h.kind != rec::VMA {
            refuse!(
                EINVAL,
                "expected {} VMA records, found {}",
                mm.nr_vmas,
                rec::name(h.kind)
            );
        }
        let r: img::CkptVmaRec = rd.prefix(&h)?;
        // `prefix` checked the record's length against its path's.
        check_vma(&r, prev_end, task_size)?;
        let n = r.path_len as usize;
        rd.bytes(&mut path[..n])?;
        rd.end(&h)?;
        let file = if r.kind == vma_kind::SYSV_SHM {
            Some(shm_at.file(&r)?)
        } else if is_file(r.kind) && r.shm != 0 {
            let f = objects.file(&r, &path[..n], &mut scratch)?;
            check_exec(&r, &f, &path[..n])?;
            Some(f)
        } else if is_file(r.kind) {
            Some(opened.open(&r, &mut path[..n + 1])?)
        } else if r.kind == vma_kind::ANON_SHARED {
            Some(shm(r.shm, r.shm_size).context(fmt!(
                "shared memory {:#x}-{:#x}",
                r.start,
                r.end
            ))?)
        } else {
            None
        };
        prev_end = r.end;
        vmas.push(Planned { r, file }, GFP_KERNEL_ACCOUNT)?;
    }
    check_lockable(&mm, &vmas)?;
    if let Some(p) = exe_area(&mm, &vmas) {
        let Some(f) = p.file.as_ref().filter(|_| is_file(p.r.kind)) else {
            refuse!(
                EINVAL,
                "MM record: the executable's area {:#x}-{:#x} maps no file",
                p.r.start,
                p.r.end
            );
        };
        check_exe_file(&p.r, f)?;
    }
    Ok(Plan {
        mm,
        vmas,
        kept: KVVec::new(),
    })
}

/// Reads the `nr` areas at `ptr` the caller says it has already mapped
/// ([`CkptRestartArgs::kept`](crate::uapi::CkptRestartArgs::kept)).
pub(crate) fn read_kept(ptr: u64, nr: u32) -> CkptResult<KVVec<CkptArea>> {
    if nr > CKPT_RESTART_MAX_KEPT {
        refuse!(EINVAL, "{nr} kept areas, at most {CKPT_RESTART_MAX_KEPT}");
    }
    read_array(ptr, nr)
}

/// Reads an array of `nr` structs of the restart's arguments at user address `ptr`
/// (its bound checked by the caller).
pub(crate) fn read_array<T: FromBytes + IntoBytes>(ptr: u64, nr: u32) -> CkptResult<KVVec<T>> {
    let mut all = KVVec::with_capacity(nr as usize, GFP_KERNEL_ACCOUNT)?;
    let mut rd = UserSlice::new(
        UserPtr::from_addr(ptr as usize),
        nr as usize * size_of::<T>(),
    )
    .reader();
    for _ in 0..nr {
        let mut a = T::new_zeroed();
        rd.read_slice(a.as_mut_bytes())?;
        all.push(a, GFP_KERNEL_ACCOUNT)?;
    }
    Ok(all)
}

/// Whether an area of kind `kind` with `vm_flags` may be kept as the caller mapped it: the
/// private anonymous ones `rstr` maps itself (not a stack, which grows down, nor a locked
/// area, which the module maps `MAP_LOCKED`).
fn keepable(kind: u32, vm_flags: u64) -> bool {
    matches!(kind, vma_kind::ANON_PRIVATE | vma_kind::HEAP) && vm_flags & vm::LOCKED == 0
}

/// Marks the areas of `plan` that the caller has already mapped (`kept`, in address order),
/// each exactly an area of the image that may be kept; changes nothing in the caller.
pub(crate) fn mark_kept(plan: &mut Plan, kept: KVVec<CkptArea>) -> CkptResult {
    let mut prev_end = 0;
    let mut vmas = plan.vmas.iter_mut();
    for a in kept.iter() {
        if a.start < prev_end || a.start >= a.end {
            refuse!(
                EINVAL,
                "kept area {:#x}-{:#x}: empty, or not after the one before",
                a.start,
                a.end
            );
        }
        // Both lists are in address order: one pass.
        let Some(p) = vmas
            .find(|p| p.r.start >= a.start)
            .filter(|p| p.r.start == a.start)
        else {
            refuse!(
                EINVAL,
                "kept area {:#x}-{:#x} is no area of the image",
                a.start,
                a.end
            );
        };
        if p.r.end != a.end || !keepable(p.r.kind, p.r.vm_flags) {
            refuse!(
                EINVAL,
                "kept area {:#x}-{:#x}: the image's area there is {:#x}-{:#x} of kind {}, \
                 not a private anonymous area that can be kept",
                a.start,
                a.end,
                p.r.start,
                p.r.end,
                p.r.kind
            );
        }
        prev_end = a.end;
    }
    plan.kept = kept;
    Ok(())
}

/// The caller's own mappings over each kept area of `plan` must be what the image has
/// there: private anonymous memory with the image's protection, covering it whole.
fn check_kept(plan: &Plan, mine: &[Vma]) -> CkptResult {
    for p in plan.vmas.iter().filter(|p| plan.is_kept(p)) {
        let (s, e) = (p.r.start, p.r.end);
        let mut at = s;
        for v in mine.iter().filter(|v| v.rec.end > s && v.rec.start < e) {
            let f = v.rec.vm_flags;
            let anon_private = v.file.is_none()
                && !v.shared_anon()
                && v.special == Special::None
                && f & (vm::SHARED | vm::GROWSDOWN | vm::LOCKED | vm::IO | vm::PFNMAP) == 0;
            if v.rec.start > at || !anon_private || prot(f) != p.r.prot {
                refuse!(
                    EINVAL,
                    "kept area {s:#x}-{e:#x}: the caller's memory there is not private \
                     anonymous memory with protection {:#x}, whole",
                    p.r.prot
                );
            }
            at = v.rec.end;
        }
        if at < e {
            refuse!(
                EINVAL,
                "kept area {s:#x}-{e:#x}: the caller has nothing mapped from {at:#x}"
            );
        }
    }
    Ok(())
}

/// The parts of `[s, e)` outside every kept area of `plan`, in order.
fn outside_kept(
    plan: &Plan,
    s: u64,
    e: u64,
    mut each: impl FnMut(u64, u64) -> CkptResult,
) -> CkptResult {
    let mut at = s;
    for k in plan.kept.iter().filter(|k| k.end > s && k.start < e) {
        if k.start > at {
            each(at, k.start)?;
        }
        at = at.max(k.end);
    }
    if at < e {
        each(at, e)?;
    }
    Ok(())
}

/// The executable's file must be one `prctl(PR_SET_MM_EXE_FILE)` would take: a regular
/// file (every mapped file is, [`open_mapped`]), not on a `noexec` mount, and executable by
/// the caller (`MAY_EXEC`). It is denied write access while it is `/proc/PID/exe`: without
/// these, a readable file of anyone's (`/etc/passwd`) could be made unwritable, for root
/// too (`ETXTBSY`), by whoever holds the capability in a user namespace of their own.
fn check_exe_file(r: &img::CkptVmaRec, f: &FileRef) -> CkptResult {
    if f.noexec() {
        refuse!(
            EACCES,
            "MM record: the executable's file (area {:#x}-{:#x}) is on a noexec mount, as prctl(PR_SET_MM_EXE_FILE) refuses it",
            r.start,
            r.end
        );
    }
    f.may_exec().context(fmt!(
        "MM record: the executable's file (area {:#x}-{:#x}) is not executable by the caller, as prctl(PR_SET_MM_EXE_FILE) requires",
        r.start,
        r.end
    ))
}

/// The files a plan opened for its areas: how many (each an open file the caller holds
/// until its memory is replaced, bounded by its `RLIMIT_NOFILE`), and the last one, which
/// the next area reuses if it maps the same path the same way (the areas of one library
/// follow each other), so that a process counts the files it maps, not its areas.
struct Opened {
    count: u64,
    last_path: KVec<u8>,
    last: Option<(bool, FileRef)>,
}

impl Opened {
    fn new() -> CkptResult<Self> {
        Ok(Opened {
            count: 0,
            last_path: KVec::with_capacity(img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?,
            last: None,
        })
    }

    /// The file of area `r`, whose path is `path` (with room for a NUL at its end): the last
    /// one if it is the same path opened for writing as this area needs, else newly opened.
    fn open(&mut self, r: &img::CkptVmaRec, path: &mut [u8]) -> CkptResult<FileRef> {
        let write = needs_write(r);
        let n = path.len() - 1;
        let f = match &self.last {
            Some((w, f)) if *w == write && self.last_path.as_slice() == &path[..n] => f.clone_ref(),
            _ => {
                limits::check_open_files(
                    self.count,
                    fmt!("memory {:#x}-{:#x}: the areas map files", r.start, r.end),
                )?;
                let f = open_mapped(r, path)?;
                self.count += 1;
                self.last_path.clear();
                self.last_path
                    .extend_from_slice(&path[..n], GFP_KERNEL_ACCOUNT)?;
                self.last = Some((write, f.clone_ref()));
                f
            }
        };
        check_exec(r, &f, &path[..n])?;
        Ok(f)
    }
}

/// Whether area `r` writes through to its file, or may be made to (`mprotect`: its file
/// was open for writing, `VM_MAYWRITE`): it needs the file open for writing.
pub(crate) fn needs_write(r: &img::CkptVmaRec) -> bool {
    r.kind == vma_kind::FILE_SHARED && (r.prot & PROT_WRITE != 0 || r.vm_flags & vm::MAYWRITE != 0)
}

/// An executable area must map a file `mmap` would let the caller execute: `mmap` refuses
/// `PROT_EXEC` of a file on a `noexec` mount, but only once the caller's memory is gone.
fn check_exec(r: &img::CkptVmaRec, f: &FileRef, path: &[u8]) -> CkptResult {
    if r.prot & PROT_EXEC != 0 && f.noexec() {
        refuse!(
            EPERM,
            "memory {:#x}-{:#x}: {} is on a noexec mount, it cannot be mapped executable",
            r.start,
            r.end,
            core::str::from_utf8(path).unwrap_or("?")
        );
    }
    Ok(())
}

/// Opens the file of a file-backed area as its mapping needs it, with the caller's
/// credentials: a shared writable mapping needs the file writable (`O_RDWR`), any other
/// readable (`O_RDONLY`, from which `mprotect` can never make a shared mapping writable).
/// The path is opened before its type is known: `O_NONBLOCK` so that a FIFO does not wait
/// for a writer, `O_NOCTTY` so that a terminal does not become the caller's; `mmap`
/// ignores both.
fn open_mapped(r: &img::CkptVmaRec, path: &mut [u8]) -> CkptResult<FileRef> {
    let n = path.len() - 1;
    path[n] = 0;
    let Ok(c) = CStr::from_bytes_with_nul(path) else {
        refuse!(EINVAL, "VMA record {:#x}: NUL inside its path", r.start);
    };
    let shown = core::str::from_utf8(&path[..n]).unwrap_or("?");
    if path.first() != Some(&b'/') {
        refuse!(
            EINVAL,
            "VMA record {:#x}: path {shown} is not absolute",
            r.start
        );
    }
    let flags =
        O_LARGEFILE | O_NONBLOCK | O_NOCTTY | if needs_write(r) { O_RDWR } else { O_RDONLY };
    let f = FileRef::open(c, flags).context(fmt!(
        "memory {:#x}-{:#x}: opening {shown}",
        r.start,
        r.end
    ))?;
    if !f.is_regular() {
        refuse!(
            EINVAL,
            "memory {:#x}-{:#x}: {shown} is not a regular file",
            r.start,
            r.end
        );
    }
    Ok(f)
}

/// The special mappings (vDSO, vvar) must already be where the image has them: `rstr` moves
/// the vDSO with `arch_prctl(ARCH_MAP_VDSO_64)` before it calls the restart. Returns the
/// caller's areas, for [`replace`].
pub(crate) fn check_specials(plan: &Plan) -> CkptResult<KVec<Vma>> {
    let Some(mm) = sys::mm::current::mm() else {
        refuse!(EINVAL, "the caller has no memory");
    };
    let mine = mm.vmas()?;
    let mut want = plan.vmas.iter().filter(|p| is_special(p.r.kind));
    for v in mine.iter().filter(|v| v.special != Special::None) {
        match want.next() {
            Some(p) if p.r.start == v.rec.start && p.r.end == v.rec.end => {}
            _ => refuse!(
                EINVAL,
                "the caller's special mapping {:#x}-{:#x} is not where the image has it (rstr must move the vDSO first)",
                v.rec.start,
                v.rec.end
            ),
        }
    }
    if let Some(p) = want.next() {
        refuse!(
            EINVAL,
            "the image's special mapping {:#x}-{:#x} is missing in the caller",
            p.r.start,
            p.r.end
        );
    }
    check_kept(plan, &mine)?;
    Ok(mine)
}

/// The point of no return: unmaps every area of the caller (`mine`, as [`check_specials`]
/// listed them) but its special mappings and the kept areas, then maps every other area of
/// the plan at its place.
pub(crate) fn replace(plan: &Plan, mine: &[Vma]) -> CkptResult {
    for v in mine.iter().filter(|v| v.special == Special::None) {
        outside_kept(plan, v.rec.start, v.rec.end, |s, e| {
            current::munmap(s, e - s).context(fmt!("unmapping {s:#x}-{e:#x}"))
        })?;
    }
    for p in plan
        .vmas
        .iter()
        .filter(|p| !is_special(p.r.kind) && !plan.is_kept(p))
    {
        let r = &p.r;
        let mut flags = MAP_FIXED;
        if locked(r) {
            // Locked as mlock() would: populated at once, counted in `locked_vm`.
            flags |= MAP_LOCKED;
        }
        flags |= match r.kind {
            // Through the caller's attach: the segment's own `mmap`, attached again.
            vma_kind::ANON_SHARED | vma_kind::SYSV_SHM => MAP_SHARED,
            vma_kind::FILE_SHARED => MAP_SHARED,
            vma_kind::FILE_PRIVATE => MAP_PRIVATE,
            vma_kind::STACK => MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN,
            _ => MAP_PRIVATE | MAP_ANONYMOUS,
        };
        let off = if is_file(r.kind) || matches!(r.kind, vma_kind::ANON_SHARED | vma_kind::SYSV_SHM)
        {
            r.pgoff * PAGE_SIZE
        } else {
            0
        };
        let got = current::mmap(
            p.file.as_ref(),
            r.start,
            r.end - r.start,
            r.prot,
            flags,
            off,
        )
        .context(fmt!("mapping {:#x}-{:#x}", r.start, r.end))?;
        if got != r.start {
            refuse!(
                EINVAL,
                "mapping {:#x}-{:#x} landed at {got:#x}",
                r.start,
                r.end
            );
        }
    }
    Ok(())
}

/// What [`fill`] did, for the log.
#[derive(Default)]
pub(crate) struct Filled {
    /// Pages copied in from the image.
    pub(crate) copied: u64,
    /// Pages of the image left as the caller had them (kept areas).
    pub(crate) kept: u64,
}

/// Reads `PAGES` records into the new memory until the first record of another type,
/// whose header is returned.
/// `progress` is told the pages copied so far each time they pass a multiple of
/// [`CKPT_RESTART_PROGRESS_PAGES`].
pub(crate) fn fill(
    rd: &mut ImageReader,
    plan: &Plan,
    done: &mut Filled,
    progress: &mut dyn FnMut(u64),
) -> CkptResult<img::CkptHdr> {
    let mut bounce = KVec::from_elem(0u8, PAGE_SIZE as usize, GFP_KERNEL_ACCOUNT)?;
    loop {
        let here = rd.pos();
        let h = rd.header()?;
        // `prefix` and `fixed` checked the count (1 to `CKPT_PAGES_PER_RECORD`), the
        // reserved field and the length against the count.
        let (addr, n, what, from) = match h.kind {
            rec::PAGES => {
                let pg: img::CkptPagesRec = rd.prefix(&h)?;
                (pg.addr, u64::from(pg.nr_pages), "PAGES", None)
            }
            rec::PAGES_REF => {
                let pg: img::CkptPagesRefRec = rd.fixed(&h)?;
                let n = u64::from(pg.nr_pages);
                // Contents saved before this record: an image refers only backwards.
                if pg.src.checked_add(n * PAGE_SIZE).is_none_or(|e| e > here) {
                    refuse!(
                        EINVAL,
                        "PAGES_REF record {:#x}: contents at {:#x} are not before it (at {here:#x})",
                        pg.addr,
                        pg.src
                    );
                }
                (pg.addr, n, "PAGES_REF", Some(pg.src))
            }
            _ => return Ok(h),
        };
        let end = addr.saturating_add(n * PAGE_SIZE);
        let Some(p) = plan
            .vmas
            .iter()
            .find(|p| p.r.start <= addr && end <= p.r.end)
        else {
            refuse!(
                EINVAL,
                "{what} record {addr:#x}-{end:#x}: not inside one memory area"
            );
        };
        if addr % PAGE_SIZE != 0 || !takes_pages(p.r.kind) {
            refuse!(
                EINVAL,
                "{what} record {addr:#x}-{end:#x}: misaligned, or in an area without pages"
            );
        }
        if plan.is_kept(p) {
            done.kept += n;
        } else {
            done.copied += n;
        }
        match from {
            // The caller put these pages there itself (`rstr`, before its children were
            // created, or as its parent left them).
            None if plan.is_kept(p) => rd.skip((n * PAGE_SIZE) as usize),
            None => copy_in(rd, p, addr, n, &mut bounce)?,
            Some(_) if plan.is_kept(p) => {}
            Some(src) => copy_in(&mut rd.at(src)?, p, addr, n, &mut bounce)?,
        }
        if from.is_none() {
            rd.end(&h)?;
        }
        let step = CKPT_RESTART_PROGRESS_PAGES;
        if !plan.is_kept(p) && (done.copied - n) / step != done.copied / step {
            progress(done.copied);
        }
    }
}

/// Reads `n` pages from `rd` into area `p` of the caller's memory at `addr`.
fn copy_in(rd: &mut ImageReader, p: &Planned, addr: u64, n: u64, bounce: &mut [u8]) -> CkptResult {
    let end = addr + n * PAGE_SIZE;
    if p.r.prot & PROT_WRITE == 0 {
        // Read-only memory: through a bounce page, written as ptrace pokes.
        for i in 0..n {
            rd.bytes(bounce)?;
            current::poke(addr + i * PAGE_SIZE, bounce)
                .context(fmt!("page {:#x}", addr + i * PAGE_SIZE))?;
        }
        return Ok(());
    }
    if let Err(e) = rd.bytes_to_user(addr, (n * PAGE_SIZE) as usize) {
        // A copy into an area just mapped for it fails with EFAULT: say when it is for want
        // of memory (a full memory cgroup).
        let at = (0..n).map(|i| addr + i * PAGE_SIZE);
        if let Some(a) = at
            .take_while(|_| e.errno == EFAULT)
            .find(|&a| current::fault_in_write(a) == Err(ENOMEM))
        {
            refuse!(
                ENOMEM,
                "pages {addr:#x}-{end:#x}: no memory for page {a:#x} (out of memory, or the \
                 memory cgroup's limit)"
            );
        }
        return Err(e).context(fmt!("pages {addr:#x}-{end:#x}"));
    }
    Ok(())
}

/// `CKPT_MM_LOCK_FUTURE` for an mm's `def_flags` after `mlockall(MCL_FUTURE)`, or why it
/// cannot be saved.
fn lock_flags(def_flags: u64) -> CkptResult<u32> {
    if def_flags & vm::LOCKONFAULT != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory: mlockall(MCL_FUTURE | MCL_ONFAULT) (areas locked on fault): not supported"
        );
    }
    Ok(if def_flags & vm::LOCKED != 0 {
        img::CKPT_MM_LOCK_FUTURE
    } else {
        0
    })
}

/// An area mapped locked (`VM_LOCKED`: `mlock`, `mlockall(MCL_CURRENT)`, `MAP_LOCKED`, or
/// mapped after `mlockall(MCL_FUTURE)`); the vDSO and vvar never are.
fn locked(r: &img::CkptVmaRec) -> bool {
    r.vm_flags & vm::LOCKED != 0 && !is_special(r.kind)
}

/// The caller may lock what the image locks, as `mmap(MAP_LOCKED)` and `mlockall` would
/// let it (its `RLIMIT_MEMLOCK`, set from the image by `rstr`, or `CAP_IPC_LOCK`): checked
/// now, while a refusal still reaches `rstr`.
fn check_lockable(mm: &img::CkptMmRec, vmas: &[Planned]) -> CkptResult {
    let bytes = (vmas.iter().filter(|p| locked(&p.r)))
        .map(|p| p.r.end - p.r.start)
        .sum();
    let limit = (!sys::attrs::current::ipc_lock_capable()).then(sys::task::current::memlock_limit);
    check_lock_limit(bytes, mm.flags, limit)
}

/// `bytes` of locked memory, and `mlockall(MCL_FUTURE)` in `mm_flags`, within what a task
/// may lock (`limit`: its `RLIMIT_MEMLOCK`, `None` with `CAP_IPC_LOCK`), as
/// `mmap(MAP_LOCKED)` and `mlockall` decide (`can_do_mlock`, `mlock_future_ok` with
/// nothing locked yet: `rstr` locks nothing).
fn check_lock_limit(bytes: u64, mm_flags: u32, limit: Option<u64>) -> CkptResult {
    let future = mm_flags & img::CKPT_MM_LOCK_FUTURE != 0;
    let Some(memlock) = limit else {
        return Ok(());
    };
    if (bytes == 0 && !future) || (memlock != 0 && bytes / PAGE_SIZE <= memlock / PAGE_SIZE) {
        return Ok(());
    }
    refuse!(
        EPERM,
        "MM record: {bytes} bytes of mlock()ed memory{}, over RLIMIT_MEMLOCK ({memlock}) \
         without CAP_IPC_LOCK",
        if future {
            " and mlockall(MCL_FUTURE)"
        } else {
            ""
        }
    );
}

/// Locks every area the restored process maps from now on, if the image's did
/// (`mlockall(MCL_FUTURE)`, [`check_lockable`]). Done once every area of the image is
/// mapped, and `rstr`'s own are gone: neither is locked by it.
pub(crate) fn set_lock_future(plan: &Plan) -> CkptResult {
    if plan.mm.flags & img::CKPT_MM_LOCK_FUTURE == 0 {
        return Ok(());
    }
    sys::attrs::current::lock_future().context(fmt!("mlockall(MCL_FUTURE)"))
}

/// The planned area that maps the executable file, if the memory has one.
fn exe_area<'a>(m: &img::CkptMmRec, vmas: &'a [Planned]) -> Option<&'a Planned> {
    vmas.get(usize::try_from(m.exe_vma).ok()?)
}

/// Makes the file of the executable's area the caller's `/proc/PID/exe` (checked by
/// [`plan`]: the area maps a file). Done once `rstr`'s own executable is unmapped.
pub(crate) fn set_exe(plan: &Plan) -> CkptResult {
    match exe_area(&plan.mm, &plan.vmas).and_then(|p| p.file.as_ref()) {
        Some(f) => current::set_exe_file(f).context(fmt!("the executable file")),
        None => Ok(()),
    }
}

/// Installs the layout fields of the `MM` record (checked by [`check_mm`]).
pub(crate) fn set_layout(plan: &Plan) -> CkptResult {
    current::set_layout(&plan.mm).context(fmt!("memory layout"))
}

#[kunit_tests(ckpt_memory)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    /// A layout `check_mm` takes: code, data, heap, stack, arguments and environment in
    /// order, an auxiliary vector of two pairs.
    fn good_mm() -> img::CkptMmRec {
        let mut m = img::CkptMmRec::new_zeroed();
        m.start_code = 0x40_0000;
        m.end_code = 0x40_1000;
        m.start_data = 0x60_0000;
        m.end_data = 0x60_1000;
        m.start_brk = 0x70_0000;
        m.brk = 0x70_2000;
        m.start_stack = 0x7fff_f000;
        m.arg_start = 0x7fff_f100;
        m.arg_end = 0x7fff_f200;
        m.env_start = 0x7fff_f200;
        m.env_end = 0x7fff_f300;
        m.nr_vmas = 3;
        set_auxv(&mut m, &[6, 4096, 0, 0]);
        m.exe_vma = img::CKPT_NO_EXE;
        m
    }

    /// Makes `words` the record's auxiliary vector.
    fn set_auxv(m: &mut img::CkptMmRec, words: &[u64]) {
        for (to, &from) in m.auxv.iter_mut().zip(words) {
            *to = from;
        }
        m.auxv_words = words.len() as u32;
    }

    const TASK_SIZE: u64 = 0x7fff_ffff_f000;

    fn check(m: &img::CkptMmRec) -> bool {
        check_mm(m, TASK_SIZE, sys::mm::AUXV_WORDS, u64::MAX).is_ok()
    }

    #[test]
    fn auxv_is_cut_after_at_null() {
        assert_eq!(auxv_used(&[6, 4096, 0, 0, 9, 9]), 4);
        assert_eq!(auxv_used(&[0, 0]), 2);
        // No AT_NULL: all whole pairs.
        assert_eq!(auxv_used(&[6, 4096, 7, 1, 9]), 4);
        assert_eq!(auxv_used(&[]), 0);
        let mut m = good_mm();
        m.auxv[4] = 33;
        m.auxv_words = sys::mm::AUXV_WORDS as u32;
        trim_auxv(&mut m);
        assert_eq!(m.auxv_words, 4);
        assert_eq!(m.auxv[4], 0);
        assert!(check(&m));
    }

    #[test]
    fn a_good_layout_passes() {
        assert!(check(&good_mm()));
    }

    #[test]
    fn layout_fields_must_be_user_addresses_in_order() {
        let mut m = good_mm();
        m.start_code = 0;
        assert!(!check(&m));
        let mut m = good_mm();
        m.env_end = TASK_SIZE;
        assert!(!check(&m));
        let mut m = good_mm();
        m.end_code = m.start_code;
        assert!(!check(&m));
        let mut m = good_mm();
        m.brk = m.start_brk - 0x1000;
        assert!(!check(&m));
    }

    #[test]
    fn heap_and_data_within_rlimit_data() {
        let m = good_mm();
        assert!(check_mm(&m, TASK_SIZE, sys::mm::AUXV_WORDS, 0x3000).is_ok());
        assert!(check_mm(&m, TASK_SIZE, sys::mm::AUXV_WORDS, 0x2fff).is_err());
    }

    #[test]
    fn auxv_must_be_whole_pairs_ending_with_at_null() {
        let mut m = good_mm();
        m.auxv_words = 3;
        assert!(!check(&m));
        let mut m = good_mm();
        m.auxv_words = 2; // (6, 4096) without its AT_NULL
        assert!(!check(&m));
        let mut m = good_mm();
        set_auxv(&mut m, &[0, 0, 6, 4096, 0, 0]); // AT_NULL before the end
        assert!(!check(&m));
        let mut m = good_mm();
        m.auxv_words = sys::mm::AUXV_WORDS as u32 + 2;
        assert!(!check(&m));
    }

    #[test]
    fn areas_counted() {
        let mut m = good_mm();
        m.nr_vmas = 0;
        assert!(!check(&m));
        let mut m = good_mm();
        m.nr_vmas = sys::mm::MAX_MAP_COUNT + 1;
        assert!(!check(&m));
    }

    #[test]
    fn file_areas_may_name_a_mapped_object_others_may_not() {
        let mut r = img::CkptVmaRec::new_zeroed();
        (r.start, r.end, r.kind, r.path_len) = (0x10000, 0x12000, vma_kind::FILE_SHARED, 9);
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
        // A memfd or deleted file by its id, with no size of its own.
        r.shm = 7;
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
        r.kind = vma_kind::FILE_PRIVATE;
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
        r.shm_size = 0x2000;
        assert!(check_vma(&r, 0, TASK_SIZE).is_err());
        // Private anonymous memory names no object.
        (r.kind, r.path_len, r.shm_size) = (vma_kind::ANON_PRIVATE, 0, 0);
        assert!(check_vma(&r, 0, TASK_SIZE).is_err());
        r.shm = 0;
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
        // Shared anonymous memory names its object, which holds it.
        r.kind = vma_kind::ANON_SHARED;
        assert!(check_vma(&r, 0, TASK_SIZE).is_err());
        (r.shm, r.shm_size) = (3, 0x2000);
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
    }

    #[test]
    fn locking_is_saved_but_on_fault() {
        assert_eq!(lock_flags(0).ok(), Some(0));
        assert_eq!(lock_flags(vm::LOCKED).ok(), Some(img::CKPT_MM_LOCK_FUTURE));
        assert!(lock_flags(vm::LOCKED | vm::LOCKONFAULT).is_err());
        let mut r = img::CkptVmaRec::new_zeroed();
        (r.start, r.end, r.kind) = (0x10000, 0x20000, vma_kind::ANON_PRIVATE);
        r.vm_flags = vm::LOCKED;
        assert!(locked(&r));
        assert!(check_vma(&r, 0, TASK_SIZE).is_ok());
        r.vm_flags |= vm::LOCKONFAULT;
        assert!(check_vma(&r, 0, TASK_SIZE).is_err());
        r.vm_flags = vm::LOCKED;
        r.kind = vma_kind::VDSO;
        assert!(!locked(&r));
        // Within RLIMIT_MEMLOCK, or with CAP_IPC_LOCK (no limit); a limit of 0 locks nothing.
        let future = img::CKPT_MM_LOCK_FUTURE;
        assert!(check_lock_limit(0, 0, Some(0)).is_ok());
        assert!(check_lock_limit(8192, 0, Some(8192)).is_ok());
        assert!(check_lock_limit(8192, future, Some(4096)).is_err());
        assert!(check_lock_limit(0, future, Some(0)).is_err());
        assert!(check_lock_limit(0, future, Some(4096)).is_ok());
        assert!(check_lock_limit(1 << 30, future, None).is_ok());
    }

    /// A plan of three areas: private anonymous, a heap, a stack.
    fn three_areas() -> Plan {
        let mut vmas = KVec::new();
        for (start, end, kind) in [
            (0x1000u64, 0x4000u64, vma_kind::ANON_PRIVATE),
            (0x4000, 0x8000, vma_kind::HEAP),
            (0x9000, 0xa000, vma_kind::STACK),
        ] {
            let mut r = img::CkptVmaRec::new_zeroed();
            (r.start, r.end, r.kind) = (start, end, kind);
            let p = Planned { r, file: None };
            assert!(vmas.push(p, GFP_KERNEL).is_ok());
        }
        Plan {
            mm: good_mm(),
            vmas,
            kept: KVVec::new(),
        }
    }

    fn area(start: u64, end: u64) -> CkptArea {
        CkptArea { start, end }
    }

    fn list(areas: &[CkptArea]) -> KVVec<CkptArea> {
        let mut v = KVVec::new();
        for a in areas {
            assert!(v.push(*a, GFP_KERNEL).is_ok());
        }
        v
    }

    #[test]
    fn kept_areas_are_whole_private_anonymous_areas_in_order() {
        let mut plan = three_areas();
        assert!(mark_kept(
            &mut plan,
            list(&[area(0x1000, 0x4000), area(0x4000, 0x8000)])
        )
        .is_ok());
        assert!(plan.is_kept(&plan.vmas[0]) && plan.is_kept(&plan.vmas[1]));
        assert!(!plan.is_kept(&plan.vmas[2]));
        for bad in [
            [area(0x1000, 0x3000)], // part of an area
            [area(0x2000, 0x4000)], // not at an area's start
            [area(0x9000, 0xa000)], // a stack
            [area(0x5000, 0x5000)], // empty
            [area(0xb000, 0xc000)], // no area there
        ] {
            assert!(mark_kept(&mut three_areas(), list(&bad)).is_err());
        }
        let backwards = [area(0x4000, 0x8000), area(0x1000, 0x4000)];
        assert!(mark_kept(&mut three_areas(), list(&backwards)).is_err());
        let twice = [area(0x1000, 0x4000), area(0x1000, 0x4000)];
        assert!(mark_kept(&mut three_areas(), list(&twice)).is_err());
        let mut locked = three_areas();
        locked.vmas[0].r.vm_flags = vm::LOCKED;
        assert!(mark_kept(&mut locked, list(&[area(0x1000, 0x4000)])).is_err());
    }

    #[test]
    fn unmapped_around_the_kept_areas() {
        let mut plan = three_areas();
        assert!(mark_kept(&mut plan, list(&[area(0x4000, 0x8000)])).is_ok());
        let mut pieces = KVec::new();
        let r = outside_kept(&plan, 0x0, 0xa000, |s, e| {
            assert!(pieces.push((s, e), GFP_KERNEL).is_ok());
            Ok(())
        });
        assert!(r.is_ok());
        assert_eq!(pieces.as_slice(), &[(0x0, 0x4000), (0x8000, 0xa000)]);
        pieces.clear();
        assert!(outside_kept(&plan, 0x5000, 0x6000, |s, e| {
            assert!(pieces.push((s, e), GFP_KERNEL).is_ok());
            Ok(())
        })
        .is_ok());
        assert!(pieces.is_empty());
    }
}
