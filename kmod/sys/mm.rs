// SPDX-License-Identifier: GPL-2.0

//! Memory: a reference on an `mm_struct` (the kernel crate's [`MmWithUser`]), its layout, its
//! areas, and batches of its pages.
//!
//! The layout is read straight into the `MM` image record and installed straight from it;
//! the areas are listed by the C VMA iterator (a macro) into `VMA` image records, with what
//! the record does not hold (the file reference, the special mapping's name, the shared
//! object's identity) beside it. What those facts mean is decided in `memory.rs`.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::mm::MmWithUser;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::task::Task;

use super::check;
use super::file::FileRef;
use crate::uapi::image as img;

/// `VM_*` flags of an area, as the `VMA` record's `vm_flags` holds them.
pub(crate) mod vm {
    use kernel::bindings;
    use kernel::mm::virt::flags;

    pub(crate) const READ: u64 = flags::READ as u64;
    pub(crate) const WRITE: u64 = flags::WRITE as u64;
    pub(crate) const EXEC: u64 = flags::EXEC as u64;
    pub(crate) const SHARED: u64 = flags::SHARED as u64;
    pub(crate) const MAYSHARE: u64 = flags::MAYSHARE as u64;
    pub(crate) const MAYWRITE: u64 = flags::MAYWRITE as u64;
    const _: () = assert!(MAYWRITE == crate::uapi::image::CKPT_VM_MAYWRITE);
    pub(crate) const IO: u64 = flags::IO as u64;
    pub(crate) const PFNMAP: u64 = flags::PFNMAP as u64;
    pub(crate) const MIXEDMAP: u64 = flags::MIXEDMAP as u64;
    pub(crate) const HUGETLB: u64 = flags::HUGETLB as u64;
    // `bindgen` leaves out these four `VM_*` (each is an `INIT_VM_FLAG()` expression); they
    // are built from the bit numbers it has.
    pub(crate) const GROWSDOWN: u64 = 1 << bindings::VMA_GROWSDOWN_BIT;
    pub(crate) const UFFD_MISSING: u64 = 1 << bindings::VMA_UFFD_MISSING_BIT;
    pub(crate) const UFFD_WP: u64 = 1 << bindings::VMA_UFFD_WP_BIT;
    pub(crate) const LOCKED: u64 = 1 << bindings::VMA_LOCKED_BIT;
    const _: () = assert!(LOCKED == crate::uapi::image::CKPT_VM_LOCKED);
    pub(crate) const LOCKONFAULT: u64 = 1 << bindings::VMA_LOCKONFAULT_BIT;
}

// `PROT_*` and `MAP_*` of `mmap(2)`: the kernel crate's bindings do not include the uapi
// header that defines them (`<asm-generic/mman-common.h>`, `<linux/mman.h>`); values from there.
pub(crate) const PROT_READ: u32 = 0x1;
pub(crate) const PROT_WRITE: u32 = 0x2;
pub(crate) const PROT_EXEC: u32 = 0x4;
pub(crate) const MAP_SHARED: u32 = 0x01;
pub(crate) const MAP_PRIVATE: u32 = 0x02;
pub(crate) const MAP_FIXED: u32 = 0x10;
pub(crate) const MAP_ANONYMOUS: u32 = 0x20;
pub(crate) const MAP_GROWSDOWN: u32 = 0x0100;
pub(crate) const MAP_LOCKED: u32 = 0x2000;

// `PROT_*` are the low `VM_*` bits (`calc_vm_prot_bits` relies on it too).
const _: () = assert!(
    vm::READ == PROT_READ as u64 && vm::WRITE == PROT_WRITE as u64 && vm::EXEC == PROT_EXEC as u64
);
// The image's page is the kernel's page.
const _: () = assert!(img::CKPT_PAGE_SIZE as usize == bindings::PAGE_SIZE);

/// `DEFAULT_MAX_MAP_COUNT`, the most areas a process may have: a macro `bindgen` does not
/// evaluate, built here from the same terms.
pub(crate) const MAX_MAP_COUNT: u32 = u16::MAX as u32 - bindings::MAPCOUNT_ELF_CORE_MARGIN;

/// The lowest address the layout fields of an mm may hold: the kernel's default
/// `mmap_min_addr` (the sysctl itself is not exported to modules).
pub(crate) const MIN_ADDR: u64 = bindings::CONFIG_DEFAULT_MMAP_MIN_ADDR as u64;

/// The words of an mm's saved auxiliary vector (`AT_VECTOR_SIZE`), all of which fit the
/// `MM` record.
pub(crate) const AUXV_WORDS: usize = bindings::AT_VECTOR_SIZE as usize;
const _: () = assert!(AUXV_WORDS <= img::CKPT_AUXV_WORDS && AUXV_WORDS % 2 == 0);

/// What `ckpt_helper_mm_vmas` tells of an area beside its `VMA` record (`struct
/// ckpt_h_vma_extra`).
#[repr(C)]
struct VmaExtra {
    /// A reference on the mapped file, or NULL.
    file: *mut bindings::file,
    /// Shared anonymous memory (a private shmem inode): the inode's address, else 0.
    shm_id: u64,
    exe: u32,
    /// `vm_ops->name()` returned a name.
    named: u32,
    /// That name, NUL-terminated (truncated).
    name: [u8; 24],
}
const _: () = assert!(size_of::<VmaExtra>() == 48);

// bindgen gives some kernel structs zero-sized opaque members (`its_array`, ...), which the
// lint cannot tell from a struct without fields; only pointers to them cross here.
#[expect(improper_ctypes, reason = "pointers to bindgen's kernel structs")]
extern "C" {
    fn ckpt_helper_fault_in_write(addr: usize) -> i32;
    fn ckpt_helper_mm_vmas(
        mm: *mut bindings::mm_struct,
        recs: *mut img::CkptVmaRec,
        extra: *mut VmaExtra,
        max: u32,
    ) -> i32;
    fn ckpt_helper_get_pages(
        mm: *mut bindings::mm_struct,
        start: u64,
        n: u32,
        pages: *mut *mut bindings::page,
    ) -> isize;
    fn ckpt_helper_cached_pages(
        file: *mut bindings::file,
        index: u64,
        n: u32,
        pages: *mut *mut bindings::page,
    ) -> isize;
    fn ckpt_helper_put_pages(pages: *const *mut bindings::page, n: u32);
    fn ckpt_helper_get_page(page: *mut bindings::page);
    fn ckpt_helper_page_flags(page: *mut bindings::page) -> u32;
    fn ckpt_helper_task_size() -> u64;
    fn ckpt_helper_set_mm_layout(m: *const img::CkptMmRec) -> i32;
    fn ckpt_helper_set_exe_file(file: *mut bindings::file) -> i32;
}

/// `ckpt_helper_page_flags` bits (`CKPT_H_PAGE_*` of helpers.h).
const PAGE_ZERO: u32 = 1;
const PAGE_ANON: u32 = 2;
const PAGE_SHARED: u32 = 4;

/// A special mapping, recognised by the name its `vm_ops` give it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Special {
    /// Not a special mapping (no name).
    None,
    Vdso,
    Vvar,
    VvarVclock,
    /// Another named mapping.
    Other,
}

impl Special {
    /// The kind of a mapping whose `vm_ops->name()` returned `name` (`None` for no name).
    pub(crate) fn from_name(name: Option<&[u8]>) -> Special {
        match name {
            None => Special::None,
            Some(b"[vdso]") => Special::Vdso,
            Some(b"[vvar]") => Special::Vvar,
            Some(b"[vvar_vclock]") => Special::VvarVclock,
            Some(_) => Special::Other,
        }
    }
}

/// One memory area, with a reference on its file.
pub(crate) struct Vma {
    /// The record as the helper filled it: `start`, `end`, `pgoff`, `vm_flags`, and for
    /// shared anonymous memory `shm_size`; the rest is 0, for the caller to fill.
    pub(crate) rec: img::CkptVmaRec,
    pub(crate) file: Option<FileRef>,
    pub(crate) special: Special,
    /// For shared anonymous memory: the object's identity (compared, never followed), else 0.
    pub(crate) shm_id: u64,
    /// It maps the memory's executable file (`/proc/PID/exe`).
    pub(crate) exe: bool,
}

impl Vma {
    /// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, a private shmem inode).
    pub(crate) fn shared_anon(&self) -> bool {
        self.shm_id != 0
    }
}

/// What a page holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PageKind {
    /// The shared zero page: never written, nothing to save.
    Zero,
    /// An anonymous page: its contents exist nowhere else.
    Anon,
    /// A page of a file's page cache.
    Other,
    /// Not in memory (a hole in a file's page cache).
    Absent,
}

impl PageKind {
    /// The kind of a present page with `ckpt_helper_page_flags` bits `flags`.
    fn from_flags(flags: u32) -> PageKind {
        if flags & PAGE_ZERO != 0 {
            PageKind::Zero
        } else if flags & PAGE_ANON != 0 {
            PageKind::Anon
        } else {
            PageKind::Other
        }
    }
}

/// The calling process's own memory, for restart.
pub(crate) mod current {
    use super::*;

    /// The caller's address space.
    pub(crate) fn mm() -> Option<MmRef> {
        // `ARef::from` takes an `mm_users` reference (`mmget`).
        kernel::current!().mm().map(|mm| MmRef(ARef::from(mm)))
    }

    /// Faults in the caller's page at `addr` for writing: why a copy there failed
    /// (`ENOMEM`: no memory for the page, `EFAULT` otherwise).
    pub(crate) fn fault_in_write(addr: u64) -> Result {
        // SAFETY: faults in a page of the caller's own memory, as a write to it would.
        let r = unsafe { ckpt_helper_fault_in_write(addr as usize) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// The identity (address) of the caller's memory, 0 for none: compared, never followed.
    pub(crate) fn id() -> u64 {
        kernel::current!()
            .mm()
            .map_or(0, |mm| mm.as_raw() as usize as u64)
    }

    /// `TASK_SIZE` of the caller: user addresses are below it.
    pub(crate) fn task_size() -> u64 {
        // SAFETY: no arguments; reads the caller's address-space limit.
        unsafe { ckpt_helper_task_size() }
    }

    /// `mmap(2)` in the caller's address space (`vm_mmap`); returns the address.
    pub(crate) fn mmap(
        file: Option<&FileRef>,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        off: u64,
    ) -> Result<u64> {
        let f = file.map_or(core::ptr::null_mut(), |f| f.raw());
        // SAFETY: `f` is NULL or a file kept alive by `file`; `vm_mmap` checks the rest and
        // acts on the caller's memory only.
        let ret = unsafe {
            bindings::vm_mmap(
                f,
                addr as usize,
                len as usize,
                prot as usize,
                flags as usize,
                off as usize,
            )
        };
        // `vm_mmap` returns an address or a negative errno (`IS_ERR_VALUE`).
        let e = ret as isize;
        if (-(bindings::MAX_ERRNO as isize)..0).contains(&e) {
            return Err(Error::from_errno(e as i32));
        }
        Ok(ret as u64)
    }

    /// `munmap(2)` in the caller's address space.
    pub(crate) fn munmap(addr: u64, len: u64) -> Result {
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `vm_munmap` checks its arguments; it only affects the caller's memory.
        kernel::error::to_result(unsafe { bindings::vm_munmap(addr as usize, len) })
    }

    /// Writes `buf` at `addr` in the caller's memory even where it is not writable, as
    /// ptrace's poke does (`access_process_vm` with `FOLL_FORCE`): `copy_to_user` (and so
    /// `UserSlice`) would fail on read-only memory.
    pub(crate) fn poke(addr: u64, buf: &[u8]) -> Result {
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `current` is a valid task; with `FOLL_WRITE` the call only reads `buf`,
        // which is readable for `len` bytes; the destination is checked by GUP.
        let n = unsafe {
            bindings::access_process_vm(
                Task::current_raw(),
                addr as usize,
                buf.as_ptr().cast_mut().cast(),
                len,
                bindings::FOLL_FORCE | bindings::FOLL_WRITE,
            )
        };
        if n != len {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Makes `file` the caller's executable file (`/proc/PID/exe`); `ETXTBSY` if the
    /// file is open for writing.
    pub(crate) fn set_exe_file(file: &FileRef) -> Result {
        // SAFETY: the file is valid while `file` lives; the helper takes its own reference.
        check(unsafe { ckpt_helper_set_exe_file(file.raw()) } as isize).map(|_| ())
    }

    /// Installs the layout fields (code, data, brk, stack, args, env, auxv) of `m`, an `MM`
    /// record checked by `memory::check_mm`, into the caller's mm.
    pub(crate) fn set_layout(m: &img::CkptMmRec) -> Result {
        // SAFETY: `m` is a valid record of the C layout (`struct ckpt_mm_rec`).
        check(unsafe { ckpt_helper_set_mm_layout(m) } as isize).map(|_| ())
    }
}

/// A counted reference (`mm_users`) on an address space.
pub(crate) struct MmRef(ARef<MmWithUser>);

impl MmRef {
    /// The memory of `task`, if it has any (`get_task_mm`).
    ///
    /// # Safety
    ///
    /// `task` must be a valid task.
    pub(crate) unsafe fn of_task(task: *mut bindings::task_struct) -> Option<MmRef> {
        // SAFETY: the caller passes a valid task; `get_task_mm` returns NULL or an mm with an
        // `mm_users` reference for us.
        let mm = NonNull::new(unsafe { bindings::get_task_mm(task) })?;
        // SAFETY: that reference is handed to the `ARef`; `MmWithUser` is `repr(transparent)`
        // over `struct mm_struct`.
        Some(MmRef(unsafe { ARef::from_raw(mm.cast()) }))
    }

    pub(super) fn raw(&self) -> *mut bindings::mm_struct {
        self.0.as_raw()
    }

    /// The layout fields of the memory in an `MM` record (its `nr_vmas` 0, no executable
    /// area, the whole saved auxiliary vector: [`AUXV_WORDS`] words), and where the kernel
    /// mapped its vDSO.
    pub(crate) fn layout(&self) -> (img::CkptMmRec, u64) {
        let _guard = self.0.mmap_read_lock();
        // SAFETY: the mm is valid while `self` lives; the fields read here change under the
        // mmap write lock, which the guard excludes, but the argument and environment
        // bounds, which change under `arg_lock`, taken around their reads.
        unsafe {
            let mm = &raw mut (*self.raw()).__bindgen_anon_1;
            let mut auxv = [0u64; img::CKPT_AUXV_WORDS];
            for (to, from) in auxv.iter_mut().zip((*mm).saved_auxv.iter()) {
                *to = *from as u64;
            }
            bindings::spin_lock(&raw mut (*mm).arg_lock);
            let args = [
                (*mm).arg_start,
                (*mm).arg_end,
                (*mm).env_start,
                (*mm).env_end,
            ]
            .map(|v| v as u64);
            bindings::spin_unlock(&raw mut (*mm).arg_lock);
            let rec = img::CkptMmRec {
                start_code: (*mm).start_code as u64,
                end_code: (*mm).end_code as u64,
                start_data: (*mm).start_data as u64,
                end_data: (*mm).end_data as u64,
                start_brk: (*mm).start_brk as u64,
                brk: (*mm).brk as u64,
                start_stack: (*mm).start_stack as u64,
                arg_start: args[0],
                arg_end: args[1],
                env_start: args[2],
                env_end: args[3],
                nr_vmas: 0,
                auxv_words: AUXV_WORDS as u32,
                auxv,
                exe_vma: img::CKPT_NO_EXE,
                flags: 0,
            };
            (rec, (*mm).context.vdso as usize as u64)
        }
    }

    /// The memory has an executable file (`/proc/PID/exe`).
    pub(crate) fn has_exe(&self) -> bool {
        let _guard = self.0.mmap_read_lock();
        // SAFETY: the mm is valid; `exe_file` is replaced only under the mmap write lock
        // (`replace_mm_exe_file`), which the guard excludes.
        unsafe { !(*self.raw()).__bindgen_anon_1.exe_file.is_null() }
    }

    /// Every memory area, in address order.
    pub(crate) fn vmas(&self) -> Result<KVec<Vma>> {
        // SAFETY: the mm is valid; `map_count` is only a first guess of the size here (a
        // racy read of an `int`), the helper checks the room it is given.
        let guess =
            unsafe { (&raw const (*self.raw()).__bindgen_anon_1.map_count).read_volatile() };
        let mut max = usize::try_from(guess).unwrap_or(0) + 16;
        loop {
            // The vectors are allocated before the helper takes file references, so that
            // no allocation can fail while they are held only by raw pointers.
            let mut recs: KVec<img::CkptVmaRec> = KVec::with_capacity(max, GFP_KERNEL_ACCOUNT)?;
            let mut extra: KVec<VmaExtra> = KVec::with_capacity(max, GFP_KERNEL_ACCOUNT)?;
            let mut vmas: KVec<Vma> = KVec::with_capacity(max, GFP_KERNEL_ACCOUNT)?;
            let ret = {
                let _guard = self.0.mmap_read_lock();
                // SAFETY: the mm is valid and its mmap lock held; both buffers have room
                // for `max` entries.
                unsafe {
                    ckpt_helper_mm_vmas(
                        self.raw(),
                        recs.as_mut_ptr(),
                        extra.as_mut_ptr(),
                        max as u32,
                    )
                }
            };
            if ret == E2BIG.to_errno() {
                // The helper dropped its file references; the mm grew meanwhile (it can
                // only while the target runs: stop on a fatal signal of ours).
                if super::task::current::fatal_signal_pending() {
                    return Err(EINTR);
                }
                max *= 2;
                continue;
            }
            let n = check(ret as isize)?.min(max);
            // SAFETY: the helper initialised `n <= max` entries of each buffer.
            unsafe {
                recs.inc_len(n);
                extra.inc_len(n);
            }
            for (rec, x) in recs.iter().zip(extra.iter()) {
                // SAFETY: each `file` is NULL or a reference the helper took for us, on the
                // file of a mapping, never in an `fdget_pos` region of ours.
                let file = unsafe { FileRef::from_raw(x.file) };
                let name = (x.named != 0).then(|| {
                    let end = x.name.iter().position(|&b| b == 0).unwrap_or(x.name.len());
                    &x.name[..end]
                });
                // Cannot fail: `vmas` has room for `max >= n` entries. Were it to fail, the
                // area and its file reference would be dropped, not leaked.
                let _ = vmas.push_within_capacity(Vma {
                    rec: *rec,
                    file,
                    special: Special::from_name(name),
                    shm_id: x.shm_id,
                    exe: x.exe != 0,
                });
            }
            return Ok(vmas);
        }
    }

    /// Pins up to `n` pages (at most the batch's capacity) from `start` (read access, forced
    /// like ptrace), faulting them in; returns the pages got, which may be fewer.
    pub(crate) fn get_pages(&self, start: u64, n: usize, batch: &mut PageBatch) -> Result<usize> {
        batch.release();
        let cap = batch.pages.capacity().min(n);
        // SAFETY: the mm is valid; `batch.pages` has room for `cap` pointers.
        let ret = unsafe {
            ckpt_helper_get_pages(self.raw(), start, cap as u32, batch.pages.as_mut_ptr())
        };
        let n = check(ret)?.min(cap);
        // SAFETY: the helper stored `n <= cap` page pointers, each with a reference.
        unsafe { batch.pages.inc_len(n) };
        Ok(n)
    }
}

/// Pages pinned by [`MmRef::get_pages`] or [`PageBatch::fill_from_cache`], released on drop
/// or on the next fill. (Not [`kernel::page::Page`]s: those own an allocation and free it,
/// these are references dropped with `put_page`.)
///
/// # Invariants
///
/// Every pointer in `pages` is NULL or a page on which this value holds one reference.
pub(crate) struct PageBatch {
    pages: KVec<*mut bindings::page>,
}

impl PageBatch {
    pub(crate) fn new(capacity: usize) -> Result<PageBatch> {
        Ok(PageBatch {
            pages: KVec::with_capacity(capacity, GFP_KERNEL_ACCOUNT)?,
        })
    }

    pub(crate) fn kind(&self, i: usize) -> PageKind {
        let page = self.pages[i];
        if page.is_null() {
            return PageKind::Absent;
        }
        // SAFETY: the page is referenced by the type invariant.
        PageKind::from_flags(unsafe { ckpt_helper_page_flags(page) })
    }

    /// Fills the batch with up to `n` pages of `file`'s page cache from page `index` on,
    /// without faulting or allocating: absent pages are [`PageKind::Absent`].
    pub(crate) fn fill_from_cache(
        &mut self,
        file: &FileRef,
        index: u64,
        n: usize,
    ) -> Result<usize> {
        self.release();
        let cap = self.pages.capacity().min(n);
        // SAFETY: the file is valid while `file` lives; `pages` has room for `cap` pointers.
        let ret = unsafe {
            ckpt_helper_cached_pages(file.raw(), index, cap as u32, self.pages.as_mut_ptr())
        };
        let got = check(ret)?.min(cap);
        // SAFETY: the helper stored `got <= cap` entries, each NULL or a referenced page.
        unsafe { self.pages.inc_len(got) };
        Ok(got)
    }

    /// The identity of page `i` (compared, never followed), if it is anonymous memory that
    /// more than one memory may map.
    pub(crate) fn shared_key(&self, i: usize) -> Option<usize> {
        let page = *self.pages.get(i)?;
        // SAFETY: the page is referenced by the type invariant.
        (!page.is_null() && unsafe { ckpt_helper_page_flags(page) } & PAGE_SHARED != 0)
            .then_some(page as usize)
    }

    /// Page `i`, if it is anonymous memory that more than one memory may map (shared
    /// copy-on-write since a `fork`): a reference on it, which keeps it from being freed
    /// or moved.
    pub(crate) fn shared(&self, i: usize) -> Option<PageRef> {
        let page = *self.pages.get(i)?;
        if page.is_null() {
            return None;
        }
        // SAFETY: the page is referenced by the type invariant.
        if unsafe { ckpt_helper_page_flags(page) } & PAGE_SHARED == 0 {
            return None;
        }
        // SAFETY: as above; the new reference is the `PageRef`'s.
        unsafe { ckpt_helper_get_page(page) };
        // INVARIANT: the reference just taken.
        Some(PageRef(page))
    }

    /// The pages, for writing them out; absent pages are NULL.
    pub(super) fn raw(&self) -> &[*mut bindings::page] {
        &self.pages
    }

    fn release(&mut self) {
        // SAFETY: each page carries a reference we own; after this, none is left.
        unsafe { ckpt_helper_put_pages(self.pages.as_ptr(), self.pages.len() as u32) };
        self.pages.clear();
    }
}

/// One reference on a page, which stays the same page while it is held: the key of a
/// page shared between the memories of a checkpoint.
///
/// # Invariants
///
/// `self.0` is a page on which this value holds one reference.
pub(crate) struct PageRef(*mut bindings::page);

impl PageRef {
    /// The page's identity, compared, never followed.
    pub(crate) fn key(&self) -> usize {
        self.0 as usize
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: the reference is ours by the type invariant; it is not used after this.
        unsafe { ckpt_helper_put_pages(&self.0, 1) };
    }
}

impl Drop for PageBatch {
    fn drop(&mut self) {
        self.release();
    }
}

#[kunit_tests(ckpt_sys_mm)]
mod tests {
    use super::*;

    #[test]
    fn special_mappings_by_name() {
        assert_eq!(Special::from_name(None), Special::None);
        assert_eq!(Special::from_name(Some(b"[vdso]")), Special::Vdso);
        assert_eq!(Special::from_name(Some(b"[vvar]")), Special::Vvar);
        assert_eq!(
            Special::from_name(Some(b"[vvar_vclock]")),
            Special::VvarVclock
        );
        assert_eq!(Special::from_name(Some(b"[uprobes]")), Special::Other);
        assert_eq!(Special::from_name(Some(b"")), Special::Other);
        assert_eq!(Special::from_name(Some(b"[vdso")), Special::Other);
    }

    #[test]
    fn page_kinds() {
        assert_eq!(PageKind::from_flags(0), PageKind::Other);
        assert_eq!(PageKind::from_flags(PAGE_ANON), PageKind::Anon);
        assert_eq!(PageKind::from_flags(PAGE_ZERO), PageKind::Zero);
        assert_eq!(PageKind::from_flags(PAGE_ZERO | PAGE_ANON), PageKind::Zero);
    }
}
