// SPDX-License-Identifier: GPL-2.0

//! Memory: a reference on an `mm_struct`, its areas, and batches of its pages.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::prelude::*;

use super::check;
use super::file::FileRef;

/// The layout fields of an `mm_struct`, as `ckpt_helper_mm_info` copies them.
#[repr(C)]
pub(crate) struct MmInfo {
    pub(crate) start_code: u64,
    pub(crate) end_code: u64,
    pub(crate) start_data: u64,
    pub(crate) end_data: u64,
    pub(crate) start_brk: u64,
    pub(crate) brk: u64,
    pub(crate) start_stack: u64,
    pub(crate) arg_start: u64,
    pub(crate) arg_end: u64,
    pub(crate) env_start: u64,
    pub(crate) env_end: u64,
    pub(crate) map_count: u32,
    pub(crate) auxv_words: u32,
    pub(crate) auxv: [u64; 64],
    pub(crate) vdso: u64,
}

/// A special mapping's kind (`ckpt_helper_mm_vmas`).
pub(crate) mod special {
    pub(crate) const NONE: u32 = 0;
    pub(crate) const VDSO: u32 = 1;
    pub(crate) const VVAR: u32 = 2;
    pub(crate) const VVAR_VCLOCK: u32 = 3;
}

/// One memory area as `ckpt_helper_mm_vmas` reports it.
#[repr(C)]
struct RawVma {
    start: u64,
    end: u64,
    pgoff: u64,
    vm_flags: u64,
    file: *mut c_void,
    special: u32,
    shared_anon: u32,
    shm_id: u64,
    shm_size: u64,
    exe: u32,
    _pad: u32,
}

/// One memory area, with a reference on its file.
pub(crate) struct Vma {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) pgoff: u64,
    pub(crate) vm_flags: u64,
    pub(crate) file: Option<FileRef>,
    pub(crate) special: u32,
    pub(crate) shared_anon: bool,
    /// For shared anonymous memory: the object's identity (compared, never followed) and size.
    pub(crate) shm_id: u64,
    pub(crate) shm_size: u64,
    /// It maps the memory's executable file (`/proc/PID/exe`).
    pub(crate) exe: bool,
}

/// What a page holds (`ckpt_helper_page_kind`).
#[derive(Clone, Copy, PartialEq, Eq)]
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

extern "C" {
    fn ckpt_helper_auxv_words() -> u32;
    fn ckpt_helper_mmput(mm: *mut c_void);
    fn ckpt_helper_mm_info(mm: *mut c_void, out: *mut MmInfo);
    fn ckpt_helper_mm_vmas(mm: *mut c_void, out: *mut RawVma, max: u32) -> i32;
    fn ckpt_helper_mm_has_exe(mm: *mut c_void) -> i32;
    fn ckpt_helper_get_pages(mm: *mut c_void, start: u64, n: u32, pages: *mut *mut c_void)
        -> isize;
    fn ckpt_helper_cached_pages(
        file: *mut c_void,
        index: u64,
        n: u32,
        pages: *mut *mut c_void,
    ) -> isize;
    fn ckpt_helper_put_pages(pages: *const *mut c_void, n: u32);
    fn ckpt_helper_page_kind(page: *mut c_void) -> u32;
    fn ckpt_helper_current_mm() -> *mut c_void;
    fn ckpt_helper_task_size() -> u64;
    fn ckpt_helper_mmap(
        file: *mut c_void,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        off: u64,
    ) -> isize;
    fn ckpt_helper_munmap(addr: u64, len: u64) -> i32;
    fn ckpt_helper_poke(addr: u64, buf: *const u8, len: u32) -> i32;
    fn ckpt_helper_set_mm_layout(m: *const MmInfo) -> i32;
    fn ckpt_helper_set_exe_file(file: *mut c_void) -> i32;
}

/// The lowest address the layout fields of an mm may hold: the kernel's default
/// `mmap_min_addr` (the sysctl itself is not exported to modules).
pub(crate) const MIN_ADDR: u64 = kernel::bindings::CONFIG_DEFAULT_MMAP_MIN_ADDR as u64;

/// The words of an mm's saved auxiliary vector (`AT_VECTOR_SIZE`, a macro).
pub(crate) fn auxv_max() -> usize {
    // SAFETY: no arguments; returns a constant.
    unsafe { ckpt_helper_auxv_words() as usize }
}

/// The calling process's own memory, for restart.
pub(crate) mod current {
    use super::*;

    /// The caller's address space.
    pub(crate) fn mm() -> Option<MmRef> {
        // SAFETY: the helper returns a counted `mm` of current, or NULL.
        let ptr = unsafe { ckpt_helper_current_mm() };
        // SAFETY: a non-NULL `mm` carries one `mm_users` reference we now own.
        unsafe { MmRef::from_raw(ptr) }
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
        // SAFETY: `f` is NULL or a file kept alive by `file`; `vm_mmap` checks the rest.
        let ret = unsafe { ckpt_helper_mmap(f, addr, len, prot, flags, off) };
        // `vm_mmap` returns an address or a negative errno.
        if (-4095..0).contains(&ret) {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret as u64)
    }

    /// `munmap(2)` in the caller's address space.
    pub(crate) fn munmap(addr: u64, len: u64) -> Result {
        // SAFETY: `vm_munmap` checks its arguments; it only affects the caller's memory.
        check(unsafe { ckpt_helper_munmap(addr, len) } as isize).map(|_| ())
    }

    /// Writes `buf` at `addr` in the caller's memory even where it is not writable.
    pub(crate) fn poke(addr: u64, buf: &[u8]) -> Result {
        // SAFETY: `buf` is readable for its length; the destination is checked by GUP.
        check(unsafe { ckpt_helper_poke(addr, buf.as_ptr(), buf.len() as u32) } as isize)
            .map(|_| ())
    }

    /// Sets the layout fields (code, data, brk, stack, args, env, auxv) of the caller's mm.
    /// Makes `file` the caller's executable file (`/proc/PID/exe`); `ETXTBSY` if the
    /// file is open for writing.
    pub(crate) fn set_exe_file(file: &FileRef) -> Result {
        // SAFETY: the file is valid while `file` lives; the helper takes its own reference.
        check(unsafe { ckpt_helper_set_exe_file(file.raw()) } as isize)?;
        Ok(())
    }

    pub(crate) fn set_layout(m: &MmInfo) -> Result {
        // SAFETY: `m` is a valid struct of the C layout.
        check(unsafe { ckpt_helper_set_mm_layout(m) } as isize).map(|_| ())
    }
}

/// A counted reference (`mm_users`) on an address space.
///
/// # Invariants
///
/// `ptr` points to an `mm_struct` on which this value holds one `mm_users` reference.
pub(crate) struct MmRef {
    ptr: NonNull<c_void>,
}

impl MmRef {
    /// # Safety
    ///
    /// `ptr` must be NULL or an `mm_struct` whose `mm_users` reference the caller hands over.
    pub(crate) unsafe fn from_raw(ptr: *mut c_void) -> Option<MmRef> {
        // INVARIANT: the caller hands over its reference.
        NonNull::new(ptr).map(|ptr| MmRef { ptr })
    }

    pub(crate) fn info(&self) -> MmInfo {
        let mut out = MmInfo {
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            map_count: 0,
            auxv_words: 0,
            auxv: [0; 64],
            vdso: 0,
        };
        // SAFETY: the mm is valid by the type invariant; `out` is writable.
        unsafe { ckpt_helper_mm_info(self.ptr.as_ptr(), &mut out) };
        out
    }

    /// Every memory area, in address order.
    /// The memory has an executable file (`/proc/PID/exe`).
    pub(crate) fn has_exe(&self) -> bool {
        // SAFETY: the mm is valid by the type invariant.
        unsafe { ckpt_helper_mm_has_exe(self.ptr.as_ptr()) != 0 }
    }

    pub(crate) fn vmas(&self) -> Result<KVec<Vma>> {
        let mut max = self.info().map_count as usize + 16;
        loop {
            // Both vectors are allocated before the helper takes file references, so that
            // no allocation can fail while they are held only by raw pointers.
            let mut raw: KVec<RawVma> = KVec::with_capacity(max, GFP_KERNEL)?;
            let mut vmas: KVec<Vma> = KVec::with_capacity(max, GFP_KERNEL)?;
            // SAFETY: the mm is valid; `raw` has room for `max` entries.
            let ret =
                unsafe { ckpt_helper_mm_vmas(self.ptr.as_ptr(), raw.as_mut_ptr(), max as u32) };
            if ret == E2BIG.to_errno() {
                // The helper dropped its file references; the mm grew meanwhile (it can
                // only while the target runs: stop on a fatal signal of ours).
                if super::task::current::fatal_signal_pending() {
                    return Err(EINTR);
                }
                max *= 2;
                continue;
            }
            let n = check(ret as isize)?;
            // SAFETY: the helper initialised `n <= max` entries.
            unsafe { raw.inc_len(n) };
            for r in raw.iter() {
                // SAFETY: each `file` is NULL or a reference the helper took for us.
                let file = unsafe { FileRef::from_raw(r.file) };
                // Cannot fail: `vmas` has room for `max >= n` entries. Were it to fail, the
                // area and its file reference would be dropped, not leaked.
                let _ = vmas.push_within_capacity(Vma {
                    start: r.start,
                    end: r.end,
                    pgoff: r.pgoff,
                    vm_flags: r.vm_flags,
                    file,
                    special: r.special,
                    shared_anon: r.shared_anon != 0,
                    shm_id: r.shm_id,
                    shm_size: r.shm_size,
                    exe: r.exe != 0,
                });
            }
            return Ok(vmas);
        }
    }

    /// Pins up to `n` pages (at most the batch's capacity) from `start` (read access, forced like ptrace), faulting them in;
    /// returns the pages got, which may be fewer.
    pub(crate) fn get_pages(&self, start: u64, n: usize, batch: &mut PageBatch) -> Result<usize> {
        batch.release();
        let cap = batch.pages.capacity().min(n);
        // SAFETY: the mm is valid; `batch.pages` has room for `cap` pointers.
        let ret = unsafe {
            ckpt_helper_get_pages(
                self.ptr.as_ptr(),
                start,
                cap as u32,
                batch.pages.as_mut_ptr(),
            )
        };
        let n = check(ret)?;
        // SAFETY: the helper stored `n <= cap` page pointers, each with a reference.
        unsafe { batch.pages.inc_len(n) };
        Ok(n)
    }
}

impl Drop for MmRef {
    fn drop(&mut self) {
        // SAFETY: we own one `mm_users` reference by the type invariant.
        unsafe { ckpt_helper_mmput(self.ptr.as_ptr()) }
    }
}

/// Pages pinned by [`MmRef::get_pages`], released on drop or on the next fill.
///
/// # Invariants
///
/// Every pointer in `pages` is NULL or a page on which this value holds one reference.
pub(crate) struct PageBatch {
    pages: KVec<*mut c_void>,
}

impl PageBatch {
    pub(crate) fn new(capacity: usize) -> Result<PageBatch> {
        Ok(PageBatch {
            pages: KVec::with_capacity(capacity, GFP_KERNEL)?,
        })
    }

    pub(crate) fn kind(&self, i: usize) -> PageKind {
        // SAFETY: the page is referenced by the type invariant.
        match unsafe { ckpt_helper_page_kind(self.pages[i]) } {
            0 => PageKind::Zero,
            1 => PageKind::Anon,
            2 => PageKind::Other,
            _ => PageKind::Absent,
        }
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
        let got = check(ret)?;
        // SAFETY: the helper stored `got <= cap` entries, each NULL or a referenced page.
        unsafe { self.pages.inc_len(got) };
        Ok(got)
    }

    /// The page pointers, for writing them out; absent pages are NULL.
    pub(crate) fn raw(&self) -> &[*mut c_void] {
        &self.pages
    }

    fn release(&mut self) {
        // SAFETY: each page carries a reference we own; after this, none is left.
        unsafe { ckpt_helper_put_pages(self.pages.as_ptr(), self.pages.len() as u32) };
        self.pages.clear();
    }
}

impl Drop for PageBatch {
    fn drop(&mut self) {
        self.release();
    }
}
