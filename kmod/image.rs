// SPDX-License-Identifier: GPL-2.0

//! Writing and reading the record stream of `uapi/image.rs`.

use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{refuse, CkptError, CkptResult};
use crate::sys::file::{Input, Output};
use crate::sys::mm::PageBatch;
use crate::uapi::image::{self as img, rec};

/// Writes records in order to the image file.
pub(crate) struct ImageWriter {
    out: Output,
    /// Records written, for the `TAIL`.
    count: u64,
    /// Bytes written: the offset of the next record from the image's first byte.
    written: u64,
}

impl ImageWriter {
    pub(crate) fn new(out: Output) -> Self {
        ImageWriter {
            out,
            count: 0,
            written: 0,
        }
    }

    /// The offset of the next record from the image's first byte.
    pub(crate) fn written(&self) -> u64 {
        self.written
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
        self.out.write(hdr.as_bytes()).map_err(write_failed)?;
        for p in parts {
            self.out.write(p).map_err(write_failed)?;
        }
        let pad = img::record_pad(len);
        if pad > 0 {
            self.out
                .write(&[0u8; img::CKPT_RECORD_ALIGN][..pad])
                .map_err(write_failed)?;
        }
        self.count += 1;
        self.written += (size_of::<img::CkptHdr>() + len + pad) as u64;
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
        self.out.write(hdr.as_bytes()).map_err(write_failed)?;
        self.out.write(head.as_bytes()).map_err(write_failed)?;
        self.out.write_pages(batch, range).map_err(write_failed)?;
        self.count += 1;
        self.written += (size_of::<img::CkptHdr>() + len) as u64;
        Ok(())
    }

    /// Records written so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// Reads records in order from the image file, checking the framing of each.
pub(crate) struct ImageReader {
    input: Input,
}

impl ImageReader {
    pub(crate) fn new(input: Input) -> Self {
        ImageReader { input }
    }

    /// The next record's header, its length checked.
    pub(crate) fn header(&mut self) -> CkptResult<img::CkptHdr> {
        let mut b = [0u8; size_of::<img::CkptHdr>()];
        self.input.read_exact(&mut b).map_err(truncated)?;
        let Ok(h) = img::CkptHdr::read_from_bytes(&b) else {
            refuse!(EINVAL, "bad record header");
        };
        if h.len > img::CKPT_MAX_PAYLOAD {
            refuse!(
                EINVAL,
                "record {}: payload of {} bytes exceeds the limit",
                rec::name(h.kind),
                h.len
            );
        }
        Ok(h)
    }

    /// Reads the payload of a record whose header was just read, which must be exactly a `T`
    /// (a record with nothing after its struct).
    pub(crate) fn fixed<T: img::Record>(&mut self, h: &img::CkptHdr) -> CkptResult<T> {
        if h.len as usize != size_of::<T>() {
            refuse!(
                EINVAL,
                "record {}: {} bytes, expected {}",
                rec::name(h.kind),
                h.len,
                size_of::<T>()
            );
        }
        let v = self.prefix::<T>(h)?;
        self.end(h)?;
        Ok(v)
    }

    /// Reads a `T` at the start of the payload and checks the payload's length by the
    /// record's rule ([`img::Record::payload_len`]); the rest is read with [`Self::bytes`].
    pub(crate) fn prefix<T: img::Record>(&mut self, h: &img::CkptHdr) -> CkptResult<T> {
        if (h.len as usize) < size_of::<T>() {
            refuse!(
                EINVAL,
                "record {}: {} bytes, shorter than {}",
                rec::name(h.kind),
                h.len,
                size_of::<T>()
            );
        }
        let mut v = T::new_zeroed();
        self.input.read_exact(v.as_mut_bytes()).map_err(truncated)?;
        match v.payload_len() {
            Ok(n) if n == h.len as usize => Ok(v),
            Ok(n) => refuse!(
                EINVAL,
                "record {}: {} bytes, its fields announce {}",
                rec::name(h.kind),
                h.len,
                n
            ),
            // `FieldError` is `core::fmt::Display`, which `fmt!` takes through `Arguments`.
            Err(e) => refuse!(
                EINVAL,
                "record {}: {}",
                rec::name(h.kind),
                format_args!("{e}")
            ),
        }
    }

    /// Reads `buf.len()` more payload bytes.
    pub(crate) fn bytes(&mut self, buf: &mut [u8]) -> CkptResult {
        self.input.read_exact(buf).map_err(truncated)
    }

    /// The offset in the image file of what is read next.
    pub(crate) fn pos(&self) -> u64 {
        self.input.pos()
    }

    /// A reader of the same file from offset `pos` on (the contents of a `PAGES_REF`).
    pub(crate) fn at(&self, pos: u64) -> CkptResult<ImageReader> {
        let Ok(pos) = i64::try_from(pos) else {
            refuse!(EINVAL, "image offset {pos:#x} out of range");
        };
        Ok(ImageReader::new(self.input.at(pos)))
    }

    /// Passes over `len` more payload bytes without reading them: a truncated image shows
    /// at the next read.
    pub(crate) fn skip(&mut self, len: usize) {
        self.input.skip(len);
    }

    /// Reads `len` more payload bytes straight into the caller's memory at `uaddr`.
    pub(crate) fn bytes_to_user(&mut self, uaddr: u64, len: usize) -> CkptResult {
        match self.input.read_to_user(uaddr, len) {
            Err(e) if e == ENODATA => Err(truncated(e)),
            r => r.map_err(CkptError::from),
        }
    }

    /// Reads the padding after a payload of `h.len` bytes, which must be zero.
    pub(crate) fn end(&mut self, h: &img::CkptHdr) -> CkptResult {
        let pad = img::record_pad(h.len as usize);
        if pad == 0 {
            // No read at all: PAGES records (whole pages) never have padding.
            return Ok(());
        }
        let mut b = [0u8; img::CKPT_RECORD_ALIGN];
        self.input.read_exact(&mut b[..pad]).map_err(truncated)?;
        if b.iter().any(|&x| x != 0) {
            refuse!(EINVAL, "record {}: non-zero padding", rec::name(h.kind));
        }
        Ok(())
    }

    /// Reads a record that must be of type `kind` and exactly a `T`.
    pub(crate) fn expect<T: img::Record>(&mut self, kind: u32) -> CkptResult<T> {
        let h = self.header()?;
        if h.kind != kind {
            refuse!(
                EINVAL,
                "expected a {} record, found {}",
                rec::name(kind),
                rec::name(h.kind)
            );
        }
        self.fixed(&h)
    }
}

/// The image's file refused a write (a full filesystem, a pipe nobody reads): the errno is
/// the file's, the reason says it is the image that could not be written.
fn write_failed(e: Error) -> CkptError {
    CkptError::new(e, fmt!("writing the image failed"))
}

/// An image that ends early is an invalid one.
fn truncated(e: Error) -> CkptError {
    if e == ENODATA {
        CkptError::new(EINVAL, fmt!("truncated image"))
    } else {
        CkptError::from(e)
    }
}
