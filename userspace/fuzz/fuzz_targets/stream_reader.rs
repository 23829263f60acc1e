// SPDX-License-Identifier: GPL-2.0

//! `rstr --listen`'s and `ckpt --to`'s path: `ckptlib::stream::Reader` on any bytes, frame
//! by frame, twice: on the input as it is, and on a copy whose header and payload CRCs are
//! made right (the lengths, kinds, sequence numbers and END totals left as the input has
//! them), read a few bytes at a time, so the checks behind the CRCs are reached. Every
//! input must end in an error (a stream never ends without one: after its last frame the
//! next is "cut short"), never a panic; every frame accepted must be what the bytes say;
//! and no allocation may be larger than the largest frame's payload.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use ckptlib::stream::{Frame, Reader, FRAME_HEADER_LEN, HEADER_LEN, MAX_DATA, MAX_TEXT};
use libfuzzer_sys::fuzz_target;

/// The system allocator, remembering the largest block asked for.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is the system allocator's, with the same arguments.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: p came from System with l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        LARGEST.fetch_max(size, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(p, l, size) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A copy of `data` with every frame's two CRCs right, as far as the bytes go.
fn crcs_fixed(data: &[u8]) -> Vec<u8> {
    let mut s = data.to_vec();
    let mut at = HEADER_LEN;
    while at + FRAME_HEADER_LEN <= s.len() {
        let len = u32_at(&s, at + 8) as usize;
        let body = at + FRAME_HEADER_LEN;
        let end = body.saturating_add(len).min(s.len());
        let pcrc = crc32fast::hash(&s[body..end]);
        s[at + 12..at + 16].copy_from_slice(&pcrc.to_le_bytes());
        let hcrc = crc32fast::hash(&s[at..at + 16]);
        s[at + 16..at + 20].copy_from_slice(&hcrc.to_le_bytes());
        at = body.saturating_add(len);
    }
    s
}

/// Gives at most `step` bytes per read, as a socket may.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Reads every frame of `s` (through `r`) and checks each against the bytes.
fn read_all(s: &[u8], r: impl Read) {
    let Ok(mut rd) = Reader::new(r) else {
        return;
    };
    let mut at = HEADER_LEN;
    let (mut bytes, mut crc, mut frames) = (0u64, crc32fast::Hasher::new(), 0u32);
    loop {
        let len = match rd.frame() {
            Err(e) => {
                assert!(!e.to_string().is_empty(), "a refusal has a reason");
                return;
            }
            Ok(f) => {
                // Only a whole frame, its header's length in bounds, is ever accepted.
                assert!(at + FRAME_HEADER_LEN <= s.len(), "a frame past the input");
                let len = u32_at(s, at + 8) as usize;
                let payload = &s[at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + len];
                match f {
                    Frame::Data(d) => {
                        assert!((1..=MAX_DATA).contains(&d.len()));
                        assert_eq!(d, payload, "DATA is the frame's bytes");
                        bytes += d.len() as u64;
                        crc.update(d);
                        frames += 1;
                    }
                    Frame::End {
                        bytes: b,
                        crc: c,
                        frames: n,
                    } => assert_eq!(
                        (b, c, n),
                        (bytes, crc.clone().finalize(), frames),
                        "END agrees with the DATA before it"
                    ),
                    Frame::Error(t) | Frame::Refuse(t) => {
                        assert!((1..=MAX_TEXT).contains(&len) && !t.is_empty())
                    }
                    Frame::Ack => assert_eq!(len, 0),
                    Frame::Released { .. } => assert_eq!(len, 4),
                }
                len
            }
        };
        at += FRAME_HEADER_LEN + len;
        assert_eq!(rd.bytes_on_wire(), at as u64);
    }
}

fuzz_target!(|data: &[u8]| {
    LARGEST.store(0, Ordering::Relaxed);
    read_all(data, data);
    let raw = LARGEST.load(Ordering::Relaxed);
    let fixed = crcs_fixed(data);
    LARGEST.store(0, Ordering::Relaxed);
    let step = data.len() % 13 + 1;
    read_all(&fixed, Trickle { data: &fixed, step });
    let most = raw.max(LARGEST.load(Ordering::Relaxed));
    assert!(
        most <= MAX_DATA,
        "an allocation of {most} bytes, beyond a frame's {MAX_DATA}"
    );
});
