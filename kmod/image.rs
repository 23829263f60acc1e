// SPDX-License-Identifier: GPL-2.0

//! Writing and reading the record stream of `uapi/image.rs`.

use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use kernel::str::CString;
use kernel::uaccess::{UserPtr, UserSlice};

use crate::error::{refuse, CkptError, CkptResult};
use crate::log::Log;
use crate::sys::file::{Input, Output};
use crate::sys::mm::PageBatch;
use crate::uapi::image::{self as img, rec};
use crate::uapi::CkptStats;

/// Writes records in order to the image file (or, for a dry run, counts them and writes
/// nothing), keeps the figures of [`CkptStats`] and, for a dry run, the reasons found.
pub(crate) struct ImageWriter {
    /// `None` for a dry run (`CKPT_CHECKPOINT_CHECK`).
    out: Option<Output>,
    /// Records and bytes written (`bytes`: the offset of the next record from the image's
    /// first byte), and what the rest of the module counts.
    pub(crate) stats: CkptStats,
    /// Where [`ImageWriter::stats`] is copied after each record, if the caller wants them.
    user_stats: Option<UserPtr>,
    pub(crate) log: Log,
    /// The live task whose records are being written, for the reasons of a dry run.
    task: i32,
    /// A dry run's reasons, one per line; how many did not fit in [`REASONS_MAX`].
    reasons: Option<(KVVec<u8>, usize)>,
}

/// The most bytes of reasons a dry run keeps (the caller's buffer may be smaller).
const REASONS_MAX: usize = 256 << 10;

impl ImageWriter {
    /// A writer to `out`, or a dry run's for `None`.
    pub(crate) fn new(out: Option<Output>, user_stats: Option<UserPtr>, log: Log) -> Self {
        let reasons = match out {
            None => Some((KVVec::new(), 0)),
            Some(_) => None,
        };
        ImageWriter {
            out,
            stats: CkptStats::default(),
            user_stats,
            log,
            task: 0,
            reasons,
        }
    }

    /// The offset of the next record from the image's first byte.
    pub(crate) fn written(&self) -> u64 {
        self.stats.bytes
    }

    /// Whether this is a dry run: nothing is written, no page is read.
    pub(crate) fn dry_run(&self) -> bool {
        self.reasons.is_some()
    }

    /// The live task whose records are being written (0 between tasks).
    pub(crate) fn task(&self) -> i32 {
        self.task
    }

    /// The live task whose records come next.
    pub(crate) fn set_task(&mut self, pid: i32) {
        self.task = pid;
    }

    /// What a dry run does with a failure: keeps its reason (prefixed with the task's pid
    /// unless it names a task already) and goes on. Fails with it otherwise, and on what a
    /// dry run cannot go on after (no memory, a signal, a fault on the caller's buffers).
    pub(crate) fn go_on(&mut self, r: CkptResult) -> CkptResult {
        let Err(e) = r else {
            return Ok(());
        };
        let task = self.task;
        let Some((list, more)) = self.reasons.as_mut() else {
            return Err(e);
        };
        if [ENOMEM, EINTR, ERESTARTSYS, EFAULT].contains(&e.errno) {
            return Err(e);
        }
        let reason = e
            .reason
            .as_ref()
            .map_or(&b"(no reason: out of memory)"[..], |r| r.to_bytes());
        let named = reason.starts_with(b"pid ") || reason.starts_with(b"task ");
        let mut line = KVVec::new();
        if !named && task != 0 {
            let prefix = CString::try_from_fmt(fmt!("task {task}: "))?;
            line.extend_from_slice(prefix.to_bytes(), GFP_KERNEL_ACCOUNT)?;
        }
        line.extend_from_slice(reason, GFP_KERNEL_ACCOUNT)?;
        line.push(b'\n', GFP_KERNEL_ACCOUNT)?;
        // An identical reason (the same line from another step or check) is said once.
        let seen = list
            .split_inclusive(|&b| b == b'\n')
            .any(|l| l == line.as_slice());
        if !seen {
            self.log.info(fmt!(
                "refused: {}",
                core::str::from_utf8(&line[..line.len() - 1]).unwrap_or("?")
            ));
            if list.len() + line.len() <= REASONS_MAX {
                list.extend_from_slice(&line, GFP_KERNEL_ACCOUNT)?;
            } else {
                *more += 1;
            }
        }
        Ok(())
    }

    /// The reasons a dry run found, one per line, none if a checkpoint would succeed.
    pub(crate) fn reasons(&self) -> Option<(&[u8], usize)> {
        self.reasons
            .as_ref()
            .filter(|(l, more)| !l.is_empty() || *more > 0)
            .map(|(l, more)| (l.as_slice(), *more))
    }

    /// Copies [`ImageWriter::stats`] to the caller's buffer, if it gave one.
    pub(crate) fn publish(&mut self) -> CkptResult {
        if let Some(p) = self.user_stats {
            UserSlice::new(p, size_of::<CkptStats>())
                .writer()
                .write_slice(self.stats.as_bytes())
                .map_err(|e| {
                    CkptError::new(e, fmt!("the stats buffer of the caller is not writable"))
                })?;
        }
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> CkptResult {
        match self.out.as_mut() {
            Some(out) => out.write(buf).map_err(write_failed),
            None => Ok(()),
        }
    }

    /// Counts a record of `len` bytes of payload (and its padding) as written.
    fn wrote(&mut self, kind: u32, len: usize) -> CkptResult {
        self.stats.records += 1;
        self.stats.bytes += (size_of::<img::CkptHdr>() + len + img::record_pad(len)) as u64;
        match kind {
            rec::FILE => self.stats.files += 1,
            rec::VMA => self.stats.vmas += 1,
            _ => {}
        }
        self.publish()
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
        self.write(hdr.as_bytes())?;
        for p in parts {
            self.write(p)?;
        }
        let pad = img::record_pad(len);
        if pad > 0 {
            self.write(&[0u8; img::CKPT_RECORD_ALIGN][..pad])?;
        }
        self.wrote(kind, len)
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
        self.write(hdr.as_bytes())?;
        self.write(head.as_bytes())?;
        if let Some(out) = self.out.as_mut() {
            out.write_pages(batch, range).map_err(write_failed)?;
        }
        self.stats.pages_written += n as u64;
        self.wrote(rec::PAGES, len)
    }

    /// Records written so far.
    pub(crate) fn count(&self) -> u64 {
        self.stats.records
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

#[kunit_tests(ckpt_image)]
mod tests {
    use super::*;

    fn refused(what: &str) -> CkptResult {
        Err(CkptError::new(EOPNOTSUPP, fmt!("{what}")))
    }

    #[test]
    fn a_dry_run_keeps_every_reason_once() {
        let mut w = ImageWriter::new(None, None, Log::none());
        assert!(w.dry_run());
        assert!(w.reasons().is_none());
        w.set_task(7);
        assert!(w.go_on(refused("fd 3: socket not supported yet")).is_ok());
        // Named already: no second prefix.
        assert!(w.go_on(refused("pid 7 uses POSIX timers")).is_ok());
        // The same reason again: said once.
        assert!(w.go_on(refused("fd 3: socket not supported yet")).is_ok());
        w.set_task(0);
        assert!(w.go_on(refused("unix socket peer outside")).is_ok());
        assert!(w.go_on(Ok(())).is_ok());
        let (list, more) = w.reasons().unwrap();
        assert_eq!(
            list,
            &b"task 7: fd 3: socket not supported yet\npid 7 uses POSIX timers\nunix socket peer outside\n"[..]
        );
        assert_eq!(more, 0);
        // What a dry run cannot go on after ends it.
        let e = w.go_on(Err(CkptError::new(ENOMEM, fmt!("no memory"))));
        assert_eq!(e.err().map(|e| e.errno), Some(ENOMEM));
        // It wrote nothing and counts what it would have.
        assert!(w.record(rec::TAIL, &[&[0u8; 12]]).is_ok());
        assert_eq!((w.count(), w.written()), (1, 8 + 16));
    }

    #[test]
    fn a_checkpoint_stops_at_the_first_reason() {
        // No output file can be made here; a writer with one is what `dry_run` is not.
        let mut w = ImageWriter::new(None, None, Log::none());
        w.reasons = None;
        assert!(!w.dry_run());
        let e = w.go_on(refused("fd 3: socket not supported yet"));
        assert_eq!(e.err().map(|e| e.errno), Some(EOPNOTSUPP));
        assert!(w.reasons().is_none());
    }
}
