// SPDX-License-Identifier: GPL-2.0

//! Memory: the layout of the address space (`MM`), each area (`VMA`) and the contents of the
//! pages that exist nowhere else (`PAGES`).
//!
//! Pages are read with `get_user_pages_remote` (forced read, like ptrace's peek) in batches
//! and written to the image straight from the pages, with no copy. Only pages whose contents
//! cannot be found again are saved: never-touched anonymous pages map the zero page and are
//! skipped, file-backed private areas save only their copied-on-write (anonymous) pages, and
//! shared file mappings save nothing (the file holds the data).

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::mm::{special, MmRef, PageBatch, PageKind, Vma};
use crate::uapi::image::{self as img, rec, vma_kind};

pub(crate) const VM_READ: u64 = 1 << 0;
pub(crate) const VM_WRITE: u64 = 1 << 1;
pub(crate) const VM_EXEC: u64 = 1 << 2;
pub(crate) const VM_SHARED: u64 = 1 << 3;
pub(crate) const VM_GROWSDOWN: u64 = 1 << 8;
const VM_UFFD_MISSING: u64 = 1 << 9;
const VM_PFNMAP: u64 = 1 << 10;
const VM_UFFD_WP: u64 = 1 << 12;
const VM_LOCKED: u64 = 1 << 13;
const VM_IO: u64 = 1 << 14;
const VM_HUGETLB: u64 = 1 << 22;
const VM_MIXEDMAP: u64 = 1 << 28;

/// Pages asked of `get_user_pages_remote` at a time, and the most in one `PAGES` record.
const BATCH: usize = img::CKPT_PAGES_PER_RECORD as usize;
const PAGE_SIZE: u64 = img::CKPT_PAGE_SIZE as u64;

/// `PROT_*` from `VM_*`.
fn prot(vm_flags: u64) -> u32 {
    (vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) as u32
}

/// What kind of area this is, or why it cannot be saved.
fn classify(v: &Vma, mm: &crate::sys::mm::MmInfo) -> CkptResult<u32> {
    let (s, e) = (v.start, v.end);
    if v.vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP) != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: device mapping not supported"
        );
    }
    if v.vm_flags & VM_HUGETLB != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: hugetlbfs mapping not supported yet"
        );
    }
    if v.vm_flags & (VM_UFFD_MISSING | VM_UFFD_WP) != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: registered with userfaultfd, not supported yet"
        );
    }
    if v.vm_flags & VM_LOCKED != 0 {
        refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: mlock()ed memory not supported yet"
        );
    }
    Ok(match v.special {
        special::VDSO => vma_kind::VDSO,
        special::VVAR => vma_kind::VVAR,
        special::VVAR_VCLOCK => vma_kind::VVAR_VCLOCK,
        special::NONE => match &v.file {
            _ if v.shared_anon => vma_kind::ANON_SHARED,
            Some(_) if v.vm_flags & VM_SHARED != 0 => vma_kind::FILE_SHARED,
            Some(_) => vma_kind::FILE_PRIVATE,
            None if s <= mm.start_brk && mm.brk <= e && mm.start_brk < e => vma_kind::HEAP,
            None if v.vm_flags & VM_GROWSDOWN != 0 => vma_kind::STACK,
            None => vma_kind::ANON_PRIVATE,
        },
        _ => refuse!(
            EOPNOTSUPP,
            "memory {s:#x}-{e:#x}: special mapping not supported"
        ),
    })
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

pub(crate) fn checkpoint(mm: &MmRef, w: &mut ImageWriter) -> CkptResult {
    let info = mm.info();
    let vmas = mm.vmas().context(fmt!("memory areas"))?;
    let mut kinds = KVec::with_capacity(vmas.len(), GFP_KERNEL)?;
    for v in vmas.iter() {
        kinds.push(classify(v, &info)?, GFP_KERNEL)?;
    }

    let m = img::CkptMmRec {
        start_code: info.start_code,
        end_code: info.end_code,
        start_data: info.start_data,
        end_data: info.end_data,
        start_brk: info.start_brk,
        brk: info.brk,
        start_stack: info.start_stack,
        arg_start: info.arg_start,
        arg_end: info.arg_end,
        env_start: info.env_start,
        env_end: info.env_end,
        nr_vmas: vmas.len() as u32,
        auxv_words: info.auxv_words,
        auxv: info.auxv,
    };
    w.fixed(rec::MM, &m)?;

    let mut path = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL)?;
    for (v, &kind) in vmas.iter().zip(kinds.iter()) {
        let len = match &v.file {
            Some(f) if kind == vma_kind::FILE_PRIVATE || kind == vma_kind::FILE_SHARED => f
                .path(&mut path)
                .context(fmt!("memory {:#x}-{:#x}: file path", v.start, v.end))?,
            _ => 0,
        };
        let p = &path[..len];
        if len > 0 && (p[0] != b'/' || p.ends_with(b" (deleted)")) {
            refuse!(
                EOPNOTSUPP,
                "memory {:#x}-{:#x}: mapped file {} cannot be reopened by path; not supported yet",
                v.start,
                v.end,
                core::str::from_utf8(p).unwrap_or("?")
            );
        }
        let r = img::CkptVmaRec {
            start: v.start,
            end: v.end,
            pgoff: v.pgoff,
            vm_flags: v.vm_flags,
            prot: prot(v.vm_flags),
            kind,
            path_len: len as u32,
            __reserved: 0,
        };
        w.record(rec::VMA, &[r.as_bytes(), p])?;
    }

    let mut batch = PageBatch::new(BATCH)?;
    for (v, &kind) in vmas.iter().zip(kinds.iter()) {
        if !matches!(
            kind,
            vma_kind::ANON_PRIVATE
                | vma_kind::HEAP
                | vma_kind::STACK
                | vma_kind::ANON_SHARED
                | vma_kind::FILE_PRIVATE
        ) {
            continue;
        }
        save_pages(mm, v, kind, &mut batch, w)?;
    }
    Ok(())
}

/// Saves the pages of one area that [`keep`] selects, a run of consecutive pages per record.
fn save_pages(
    mm: &MmRef,
    v: &Vma,
    kind: u32,
    batch: &mut PageBatch,
    w: &mut ImageWriter,
) -> CkptResult {
    let mut addr = v.start;
    while addr < v.end {
        let want = (((v.end - addr) / PAGE_SIZE) as usize).min(BATCH);
        let got = match (&v.file, kind) {
            // Shared anonymous memory is a shmem file: read its page cache, because a fault
            // on a hole would allocate a page in the target (and save zeros).
            (Some(f), vma_kind::ANON_SHARED) => {
                let index = v.pgoff + (addr - v.start) / PAGE_SIZE;
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
                    return Err(e).context(fmt!(
                        "memory {:#x}-{:#x}: reading page {addr:#x}",
                        v.start,
                        v.end
                    ))
                }
            },
        };
        if got == 0 {
            refuse!(
                EFAULT,
                "memory {:#x}-{:#x}: page {addr:#x} cannot be read",
                v.start,
                v.end
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
            w.pages(addr + first as u64 * PAGE_SIZE, batch, first..i)?;
        }
        addr += got as u64 * PAGE_SIZE;
    }
    Ok(())
}
