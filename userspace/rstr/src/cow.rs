// SPDX-License-Identifier: GPL-2.0

//! Copy-on-write sharing across `fork`: the private memory a process shares with its
//! children since it forked them (the pages none of them wrote since) stays shared after the
//! restart, instead of becoming one copy per process.
//!
//! Only `fork` makes such sharing, and only from memory that is in place when it runs. So
//! each process of the image maps its private anonymous areas (`ANON_PRIVATE` and `HEAP`,
//! not locked) itself, at their places, and fills them from the image ([`prepare`]) before
//! it creates its children, which inherit them. A child keeps what it inherited where its
//! own areas are, writes only the pages whose contents differ from the inherited ones,
//! drops (`MADV_DONTNEED`) the inherited pages its image does not have and unmaps the rest:
//! what it did not change stays shared with its parent, down the whole tree. The restart
//! ioctl is told which areas are in place ([`held`]) and keeps them as they are; it maps the
//! others as before.
//!
//! An area whose place holds `rstr`'s own memory (both are placed at random; the same
//! binary without address randomisation collides at once) is left to the module: restored,
//! not shared. So is every other kind of area: a file's private mapping (its copied pages),
//! a stack, a locked area.

use std::os::fd::BorrowedFd;
use std::sync::Mutex;

use anyhow::{Context, Result};

use ckptlib::abi::{self, image as img};
use ckptlib::image::PageRun;
use ckptlib::restart::TaskImage;

use crate::sys::mem;

const PAGE: u64 = img::CKPT_PAGE_SIZE as u64;

/// `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
}

impl Span {
    fn len(self) -> u64 {
        self.end - self.start
    }

    fn of_run(r: &PageRun) -> Span {
        Span {
            start: r.addr,
            end: r.addr.saturating_add(u64::from(r.nr_pages) * PAGE),
        }
    }
}

/// An area held at its place, and the protection it ends with.
#[derive(Clone, Copy, Debug)]
struct Held {
    span: Span,
    prot: u32,
}

/// The areas this process holds at their places: its own once [`prepare`] ran; before, its
/// parent's (the variable is copied with the memory by `fork`, as the areas are).
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

fn held_now() -> std::sync::MutexGuard<'static, Vec<Held>> {
    // Single-threaded until the restart: a poisoned lock only means a panic, already fatal.
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// The areas that [`prepare`] may map: private anonymous memory, not locked.
fn keepable(a: &img::CkptVmaRec) -> bool {
    use img::vma_kind;
    matches!(a.kind, vma_kind::ANON_PRIVATE | vma_kind::HEAP)
        && a.vm_flags & img::CKPT_VM_LOCKED == 0
}

/// The first of `spans` (in address order, disjoint) that ends after `at`.
fn first_after(spans: &[Span], at: u64) -> usize {
    spans.partition_point(|b| b.end <= at)
}

/// The parts of `s` that `by` (in address order, disjoint) covers, and the rest.
fn split(s: Span, by: &[Span]) -> (Vec<Span>, Vec<Span>) {
    let (mut covered, mut gaps) = (Vec::new(), Vec::new());
    let mut at = s.start;
    for b in by[first_after(by, s.start)..]
        .iter()
        .take_while(|b| b.start < s.end)
    {
        let (from, to) = (b.start.max(at), b.end.min(s.end));
        if b.start > at {
            gaps.push(Span {
                start: at,
                end: b.start,
            });
        }
        covered.push(Span {
            start: from,
            end: to,
        });
        at = to;
    }
    if at < s.end {
        gaps.push(Span {
            start: at,
            end: s.end,
        });
    }
    (covered, gaps)
}

/// The parts of `spans` that `minus` (both in address order, disjoint) does not cover.
fn subtract(spans: &[Span], minus: &[Span]) -> Vec<Span> {
    spans.iter().flat_map(|&s| split(s, minus).1).collect()
}

/// Whether `s` meets any of `spans` (in address order, disjoint).
fn meets(s: Span, spans: &[Span]) -> bool {
    spans
        .get(first_after(spans, s.start))
        .is_some_and(|b| b.start < s.end)
}

/// Maps the parts of `area` that `inherited` does not cover, with protection `prot`; returns
/// the covered parts, or `None` (and maps nothing) if a part is taken: `rstr`'s own memory
/// is there, and the module maps the area itself.
fn place(area: Span, inherited: &[Span], prot: u32) -> Result<Option<Vec<Span>>> {
    let (covered, gaps) = split(area, inherited);
    let mut mapped = Vec::new();
    for g in &gaps {
        match mem::map_fixed(g.start, g.len(), prot) {
            Ok(()) => mapped.push(*g),
            // `rstr`'s own memory is there (or the kernel has no room): the module maps it.
            Err(_) => break,
        }
    }
    if mapped.len() < gaps.len() {
        for g in mapped {
            mem::unmap(g.start, g.len()).context("unmapping an area of the image")?;
        }
        return Ok(None);
    }
    Ok(Some(covered))
}

/// What [`prepare`] did, for the numbers of `scripts/measure-cow`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Pages read from the image.
    pub read: u64,
    /// Of those, inherited pages that held something else and were written.
    pub written: u64,
    /// Inherited pages left as they were: still shared with the parent.
    pub shared: u64,
}

/// Maps this process's private anonymous areas at their places and fills them from the
/// image (`image`, the open image file), keeping what it inherited from its parent where
/// that is what the image has. Called by each process of the image that owns its memory,
/// before it creates its children; they inherit the areas.
pub fn prepare(t: &TaskImage, image: BorrowedFd) -> Result<Counts> {
    let inherited: Vec<Span> = std::mem::take(&mut *held_now())
        .into_iter()
        .map(|h| h.span)
        .collect();
    // In address order, disjoint: ckptlib checked.
    let runs = &t.memory.pages;
    let run_spans: Vec<Span> = runs.iter().map(Span::of_run).collect();
    let mut kept: Vec<Held> = Vec::new();
    // The inherited parts of the kept areas.
    let mut shared: Vec<Span> = Vec::new();
    for a in t.memory.areas.iter().filter(|a| keepable(a)) {
        let area = Span {
            start: a.start,
            end: a.end,
        };
        // Writable while it is filled, or at once as the image has it: an area mapped
        // writable is charged as committed memory for good, as the original was only if
        // it was ever writable.
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        let prot = if a.prot & libc::PROT_WRITE as u32 != 0 || meets(area, &run_spans) {
            rw
        } else {
            a.prot
        };
        let Some(covered) = place(area, &inherited, prot)? else {
            continue;
        };
        for c in &covered {
            // The parent left it with its own image's protection.
            mem::protect(c.start, c.len(), prot)
                .with_context(|| format!("protection {prot:#x} of {:#x}-{:#x}", c.start, c.end))?;
        }
        shared.extend(covered);
        kept.push(Held {
            span: area,
            prot: a.prot,
        });
    }
    let kept_spans: Vec<Span> = kept.iter().map(|h| h.span).collect();
    for s in subtract(&inherited, &kept_spans) {
        mem::unmap(s.start, s.len())
            .with_context(|| format!("unmapping the parent's area {:#x}-{:#x}", s.start, s.end))?;
    }

    let (counts, saved) = match fill(runs, &kept_spans, &shared, image) {
        Ok(filled) => filled,
        Err(f) => {
            // Give the memory back before anything else runs: in a memory cgroup at its
            // limit, a fault of rstr's own would wait for memory for ever.
            for s in inherited.iter().chain(&kept_spans) {
                let _ = mem::unmap(s.start, s.len());
            }
            return Err(f.into());
        }
    };
    // An inherited page the image does not have is one the process never touched.
    for s in subtract(&shared, &saved) {
        mem::discard(s.start, s.len())
            .with_context(|| format!("dropping the parent's pages {:#x}-{:#x}", s.start, s.end))?;
    }
    for h in &kept {
        mem::protect(h.span.start, h.span.len(), h.prot).with_context(|| {
            format!(
                "protection {:#x} of {:#x}-{:#x}",
                h.prot, h.span.start, h.span.end
            )
        })?;
    }
    *held_now() = kept;
    Ok(counts)
}

/// A page of the image that could not be read into its place.
#[derive(Debug)]
struct Fault {
    run: Span,
    page: u64,
    errno: nix::errno::Errno,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Span { start, end } = self.run;
        if self.errno == nix::errno::Errno::EFAULT {
            // Our own mapping, writable: only the memory to back it can be missing.
            write!(
                f,
                "pages {start:#x}-{end:#x}: no memory for page {:#x} (out of memory, or the \
                 memory cgroup's limit)",
                self.page
            )
        } else {
            write!(
                f,
                "pages {start:#x}-{end:#x}: reading page {:#x}: {}",
                self.page, self.errno
            )
        }
    }
}

impl std::error::Error for Fault {}

/// Reads the pages of `runs` that lie in `kept` into their places: straight in where
/// nothing was inherited, else page by page where the inherited page differs from the
/// image's (`shared`: the inherited parts of `kept`). Every write is a `pread` (a fault in
/// the kernel fails it with `EFAULT` when no memory is left; one of rstr's own would
/// wait). Returns the counts and the runs read.
fn fill(
    runs: &[PageRun],
    kept: &[Span],
    shared: &[Span],
    image: BorrowedFd,
) -> Result<(Counts, Vec<Span>), Fault> {
    let mut counts = Counts::default();
    let mut saved = Vec::new();
    // Zeros from `calloc`'s fresh mapping, touched only by `pread`.
    let longest = runs.iter().map(|r| r.nr_pages).max().unwrap_or(0);
    let mut buf = vec![0u8; longest as usize * PAGE as usize];
    for r in runs {
        let s = Span::of_run(r);
        if !kept
            .get(first_after(kept, s.start))
            .is_some_and(|k| k.start <= s.start && s.end <= k.end)
        {
            // Another area's (the module fills it), or outside every area (it refuses it).
            continue;
        }
        saved.push(s);
        counts.read += u64::from(r.nr_pages);
        let fault = |(errno, done): (nix::errno::Errno, usize)| Fault {
            run: s,
            page: s.start + done as u64 / PAGE * PAGE,
            errno,
        };
        let len = s.len() as usize;
        if !meets(s, shared) {
            mem::read_in(image, r.data_at, s.start, len).map_err(fault)?;
            continue;
        }
        let data = &mut buf[..len];
        mem::read_exact_at(image, r.data_at, data).map_err(|(e, _)| fault((e, 0)))?;
        for (i, page) in data.chunks_exact(PAGE as usize).enumerate() {
            let off = i as u64 * PAGE;
            let at = s.start + off;
            let inherited = meets(
                Span {
                    start: at,
                    end: at + PAGE,
                },
                shared,
            );
            if mem::holds(at, page) {
                counts.shared += u64::from(inherited);
                continue;
            }
            mem::read_in(image, r.data_at + off, at, PAGE as usize)
                .map_err(|(e, _)| fault((e, off as usize)))?;
            counts.written += u64::from(inherited);
        }
    }
    Ok((counts, saved))
}

/// Whether this process holds areas it inherited from its parent.
pub fn inherited() -> bool {
    !held_now().is_empty()
}

/// The areas in place, for the restart ioctl's `kept`.
pub fn held() -> Vec<abi::CkptArea> {
    held_now()
        .iter()
        .map(|h| abi::CkptArea {
            start: h.span.start,
            end: h.span.end,
        })
        .collect()
}

/// Whether the page at `addr` is in an area held in place.
pub fn holds(addr: u64) -> bool {
    held_now()
        .iter()
        .any(|h| h.span.start <= addr && addr < h.span.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(start: u64, end: u64) -> Span {
        Span { start, end }
    }

    #[test]
    fn split_into_covered_and_gaps() {
        let by = [sp(0x1000, 0x3000), sp(0x5000, 0x6000), sp(0x8000, 0x9000)];
        let (c, g) = split(sp(0x2000, 0x8800), &by);
        assert_eq!(
            c,
            [sp(0x2000, 0x3000), sp(0x5000, 0x6000), sp(0x8000, 0x8800)]
        );
        assert_eq!(g, [sp(0x3000, 0x5000), sp(0x6000, 0x8000)]);
        let (c, g) = split(sp(0x3000, 0x5000), &by);
        assert!(c.is_empty());
        assert_eq!(g, [sp(0x3000, 0x5000)]);
        let (c, g) = split(sp(0, 0x4000), &[sp(0x1000, 0x3000), sp(0x3000, 0x3800)]);
        assert_eq!(c, [sp(0x1000, 0x3000), sp(0x3000, 0x3800)]);
        assert_eq!(g, [sp(0, 0x1000), sp(0x3800, 0x4000)]);
    }

    #[test]
    fn meets_any() {
        let spans = [sp(0x1000, 0x2000), sp(0x5000, 0x6000)];
        assert!(meets(sp(0x1800, 0x1900), &spans));
        assert!(meets(sp(0x0, 0x1001), &spans));
        assert!(meets(sp(0x4000, 0x8000), &spans));
        assert!(!meets(sp(0x2000, 0x5000), &spans));
        assert!(!meets(sp(0x6000, 0x7000), &spans));
        assert!(!meets(sp(0x0, 0x1000), &[]));
    }

    #[test]
    fn subtract_leaves_the_rest() {
        let a = [sp(0x1000, 0x4000), sp(0x6000, 0x7000)];
        let b = [sp(0x2000, 0x3000), sp(0x6000, 0x7000)];
        assert_eq!(subtract(&a, &b), [sp(0x1000, 0x2000), sp(0x3000, 0x4000)]);
        assert_eq!(subtract(&a, &[]), a);
        assert!(subtract(&a, &[sp(0, 0x8000)]).is_empty());
    }

    #[test]
    fn an_area_on_our_own_memory_is_left_to_the_module() {
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        // Three pages nothing uses, the middle one then mapped as rstr's own.
        let place_at = find_free(3);
        mem::map_fixed(place_at + 4096, 4096, rw).unwrap();
        let area = sp(place_at, place_at + 3 * 4096);
        assert_eq!(place(area, &[], rw).unwrap(), None);
        // Nothing of it was left mapped: the first page is free again.
        mem::map_fixed(place_at, 4096, rw).unwrap();
        mem::unmap(place_at, 3 * 4096).unwrap();
        // Inherited pages are kept, the gaps mapped.
        let inherited = [sp(place_at, place_at + 4096)];
        mem::map_fixed(place_at, 4096, rw).unwrap();
        assert_eq!(
            place(area, &inherited, rw).unwrap(),
            Some(inherited.to_vec())
        );
        assert_eq!(
            mem::map_fixed(place_at + 8192, 4096, rw),
            Err(nix::errno::Errno::EEXIST)
        );
        mem::unmap(place_at, 3 * 4096).unwrap();
    }

    /// `n` pages of address space nothing uses.
    fn find_free(n: u64) -> u64 {
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        let mut at = 0x2000_0000_0000u64;
        while mem::map_fixed(at, n * 4096, rw).is_err() {
            at += 1 << 30;
        }
        mem::unmap(at, n * 4096).unwrap();
        at
    }

    #[test]
    fn only_unlocked_private_anonymous_areas() {
        use zerocopy::FromZeros;
        let mut a = img::CkptVmaRec::new_zeroed();
        for (kind, ok) in [
            (img::vma_kind::ANON_PRIVATE, true),
            (img::vma_kind::HEAP, true),
            (img::vma_kind::STACK, false),
            (img::vma_kind::FILE_PRIVATE, false),
            (img::vma_kind::ANON_SHARED, false),
        ] {
            a.kind = kind;
            assert_eq!(keepable(&a), ok, "kind {kind}");
        }
        a.kind = img::vma_kind::ANON_PRIVATE;
        a.vm_flags = 0x2000;
        assert!(!keepable(&a));
    }
}
