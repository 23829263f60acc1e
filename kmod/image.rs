// SPDX-License-Identifier: GPL-2.0

//! Writing and reading the record stream of `uapi/image.rs`.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult};
use crate::sys::file::Output;
use crate::sys::mm::PageBatch;
use crate::uapi::image::{self as img, rec};

/// Writes records in order to the image file.
pub(crate) struct ImageWriter {
    out: Output,
    /// Records written, for the `TAIL`.
    count: u64,
}

impl ImageWriter {
    pub(crate) fn new(out: Output) -> Self {
        ImageWriter { out, count: 0 }
    }

    /// Writes a record whose payload is `parts`, one after the other.
    pub(crate) fn record(&mut self, kind: u32, parts: &[&[u8]]) -> CkptResult {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > img::CKPT_MAX_PAYLOAD as usize {
            refuse!(
                EFBIG,
                "record {} of {} bytes is too large",
                rec::name(kind),
                len
            );
        }
        let hdr = img::CkptHdr {
            kind,
            len: len as u32,
        };
        self.out.write(hdr.as_bytes())?;
        for p in parts {
            self.out.write(p)?;
        }
        let pad = img::record_pad(len);
        if pad > 0 {
            self.out.write(&[0u8; img::CKPT_RECORD_ALIGN][..pad])?;
        }
        self.count += 1;
        Ok(())
    }

    /// Writes a fixed-size record.
    pub(crate) fn fixed<T: IntoBytes + zerocopy::Immutable>(
        &mut self,
        kind: u32,
        r: &T,
    ) -> CkptResult {
        self.record(kind, &[r.as_bytes()])
    }

    /// Writes a `PAGES` record for `batch[range]`, mapped from `addr` on, from the pages.
    pub(crate) fn pages(
        &mut self,
        addr: u64,
        batch: &PageBatch,
        range: core::ops::Range<usize>,
    ) -> CkptResult {
        let n = range.len();
        let head = img::CkptPagesRec {
            addr,
            nr_pages: n as u32,
            __reserved: 0,
        };
        let len = size_of::<img::CkptPagesRec>() + n * img::CKPT_PAGE_SIZE as usize;
        let hdr = img::CkptHdr {
            kind: rec::PAGES,
            len: len as u32,
        };
        // The payload is 8-byte aligned: a 16-byte struct and whole pages, no padding.
        self.out.write(hdr.as_bytes())?;
        self.out.write(head.as_bytes())?;
        self.out.write_pages(batch, range)?;
        self.count += 1;
        Ok(())
    }

    /// Records written so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}
