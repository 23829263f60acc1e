// SPDX-License-Identifier: GPL-2.0

//! A checkpoint image streamed over a connection (`ckpt --to`, `rstr --listen`): the framed
//! format "CKPTSTRM" version 1 (Documentation/migration.rst).
//!
//! Each direction of the connection starts with a header of 16 bytes: the magic
//! `CKPTSTRM`, the version (u32) and flags (u32, zero). Frames follow, each with a header
//! of 20 bytes, little-endian: kind, sequence number (0, 1, 2... in each direction),
//! payload length, CRC32 of the payload, and a CRC32 of the 16 bytes before it. The
//! sender's frames are DATA (1 to 256 KiB of image bytes), then END (image bytes, CRC32 of
//! the whole image, DATA frames) or ERROR (the sender's reason, when the checkpoint
//! failed); after END, RELEASED (the target was killed, or left running). The receiver
//! answers ACK (the image is whole and checked) or REFUSE (its reason).
//!
//! The [`Reader`] checks every header and payload before it uses them: a damaged,
//! missing, repeated or oversized frame, or a stream cut short, is an error naming the
//! frame, its kind and its offset in the stream, and no length is trusted before its
//! header's CRC is (nothing is allocated from a damaged length).

use crate::image::read_full;
use std::io::{self, Read, Write};

use anyhow::{bail, ensure, Result};

/// The first 8 bytes of each direction of a stream.
pub const MAGIC: [u8; 8] = *b"CKPTSTRM";
/// The version of the format this code writes and reads.
pub const VERSION: u32 = 1;
/// The stream header: magic, version, flags.
pub const HEADER_LEN: usize = 16;
/// A frame's header: kind, sequence number, length, payload CRC, header CRC.
pub const FRAME_HEADER_LEN: usize = 20;
/// The most image bytes one DATA frame carries.
pub const MAX_DATA: usize = 256 << 10;
/// The most bytes of the reason an ERROR or REFUSE frame carries.
pub const MAX_TEXT: usize = 4096;

/// The kinds of frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Data = 1,
    End = 2,
    Error = 3,
    Ack = 4,
    Refuse = 5,
    Released = 6,
}

impl Kind {
    fn of(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Data,
            2 => Kind::End,
            3 => Kind::Error,
            4 => Kind::Ack,
            5 => Kind::Refuse,
            6 => Kind::Released,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Data => "DATA",
            Kind::End => "END",
            Kind::Error => "ERROR",
            Kind::Ack => "ACK",
            Kind::Refuse => "REFUSE",
            Kind::Released => "RELEASED",
        }
    }

    /// The lengths a payload of this kind may have.
    fn lengths(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Kind::Data => 1..=MAX_DATA,
            Kind::End => END_LEN..=END_LEN,
            Kind::Error | Kind::Refuse => 1..=MAX_TEXT,
            Kind::Ack => 0..=0,
            Kind::Released => 4..=4,
        }
    }
}

/// END: image bytes (u64), their CRC32, DATA frames (u32).
const END_LEN: usize = 16;

/// One frame, checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Image bytes, in order.
    Data(&'a [u8]),
    /// The image is complete: its length, CRC and DATA frames agree with what came.
    End { bytes: u64, crc: u32, frames: u32 },
    /// The sender failed (the checkpoint was refused): its reason.
    Error(String),
    /// The receiver has the image whole and checked.
    Ack,
    /// The receiver will not restart the image: its reason.
    Refuse(String),
    /// After the ACK: the sender killed the target (`killed`) or left it running.
    Released { killed: bool },
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A text payload, cut to [`MAX_TEXT`] bytes at a character boundary (never empty).
fn text(reason: &str) -> &[u8] {
    let reason = if reason.is_empty() { "?" } else { reason };
    let mut end = reason.len().min(MAX_TEXT);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason.as_bytes()[..end]
}

/// Writes one direction of a stream: the header at once, then frames.
pub struct Writer<W: Write> {
    w: W,
    seq: u32,
    wire: u64,
    image_bytes: u64,
    image_crc: crc32fast::Hasher,
    data_frames: u32,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the stream header to `w`.
    pub fn new(mut w: W) -> io::Result<Self> {
        w.write_all(&header())?;
        Ok(Writer {
            w,
            seq: 0,
            wire: HEADER_LEN as u64,
            image_bytes: 0,
            image_crc: crc32fast::Hasher::new(),
            data_frames: 0,
            buf: Vec::with_capacity(FRAME_HEADER_LEN + MAX_DATA),
        })
    }

    fn frame(&mut self, kind: Kind, payload: &[u8]) -> io::Result<()> {
        debug_assert!(kind.lengths().contains(&payload.len()));
        self.buf.clear();
        self.buf.extend_from_slice(&(kind as u32).to_le_bytes());
        self.buf.extend_from_slice(&self.seq.to_le_bytes());
        self.buf
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let hcrc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&hcrc.to_le_bytes());
        self.buf.extend_from_slice(payload);
        // One write per frame: no small segment waits behind another on a socket.
        self.w.write_all(&self.buf)?;
        self.w.flush()?;
        self.seq += 1;
        self.wire += self.buf.len() as u64;
        Ok(())
    }

    /// Image bytes, in DATA frames of at most [`MAX_DATA`].
    pub fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        for chunk in bytes.chunks(MAX_DATA) {
            self.frame(Kind::Data, chunk)?;
            self.image_bytes += chunk.len() as u64;
            self.image_crc.update(chunk);
            self.data_frames += 1;
        }
        Ok(())
    }

    /// The image is complete: END with the totals of the DATA frames written.
    pub fn end(&mut self) -> io::Result<()> {
        let mut p = [0; END_LEN];
        p[..8].copy_from_slice(&self.image_bytes.to_le_bytes());
        p[8..12].copy_from_slice(&self.image_crc.clone().finalize().to_le_bytes());
        p[12..].copy_from_slice(&self.data_frames.to_le_bytes());
        self.frame(Kind::End, &p)
    }

    /// The sender failed: ERROR with its reason.
    pub fn error(&mut self, reason: &str) -> io::Result<()> {
        self.frame(Kind::Error, text(reason))
    }

    pub fn ack(&mut self) -> io::Result<()> {
        self.frame(Kind::Ack, &[])
    }

    pub fn refuse(&mut self, reason: &str) -> io::Result<()> {
        self.frame(Kind::Refuse, text(reason))
    }

    pub fn released(&mut self, killed: bool) -> io::Result<()> {
        self.frame(Kind::Released, &u32::from(killed).to_le_bytes())
    }

    /// The bytes written so far, headers included.
    pub fn bytes_on_wire(&self) -> u64 {
        self.wire
    }
}

/// Reads one direction of a stream, checking everything.
pub struct Reader<R: Read> {
    r: R,
    seq: u32,
    offset: u64,
    image_bytes: u64,
    image_crc: crc32fast::Hasher,
    data_frames: u32,
    buf: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the stream header.
    pub fn new(mut r: R) -> Result<Self> {
        let mut h = [0; HEADER_LEN];
        let got = read_full(&mut r, &mut h)?;
        ensure!(
            got == HEADER_LEN,
            "the stream ends after {got} bytes, before its {HEADER_LEN}-byte header"
        );
        ensure!(
            h[..8] == MAGIC,
            "not an image stream: it starts with {:?}, not CKPTSTRM",
            String::from_utf8_lossy(&h[..8])
        );
        let (version, flags) = (u32_at(&h, 8), u32_at(&h, 12));
        ensure!(
            version == VERSION,
            "stream version {version}: this program reads version {VERSION}"
        );
        ensure!(
            flags == 0,
            "stream header flags {flags:#x} unknown to version {VERSION}"
        );
        Ok(Reader {
            r,
            seq: 0,
            offset: HEADER_LEN as u64,
            image_bytes: 0,
            image_crc: crc32fast::Hasher::new(),
            data_frames: 0,
            buf: Vec::new(),
        })
    }

    /// The next frame, checked; an error names the frame, its kind and its offset. END is
    /// checked against the DATA frames read before it.
    pub fn frame(&mut self) -> Result<Frame<'_>> {
        let (seq, at) = (self.seq, self.offset);
        let mut h = [0; FRAME_HEADER_LEN];
        let got = read_full(&mut self.r, &mut h)?;
        ensure!(
            got != 0,
            "the stream ends at byte {at}, before frame {seq}: it was cut short"
        );
        ensure!(
            got == FRAME_HEADER_LEN,
            "the stream ends at byte {}, inside the header of frame {seq} (byte {at}): it was cut short",
            at + got as u64
        );
        ensure!(
            crc32fast::hash(&h[..16]) == u32_at(&h, 16),
            "frame {seq} at byte {at}: its header's CRC does not match (damaged in transit)"
        );
        let Some(kind) = Kind::of(u32_at(&h, 0)) else {
            bail!("frame {seq} at byte {at}: unknown kind {}", u32_at(&h, 0))
        };
        let what = format!("frame {seq} ({} at byte {at})", kind.name());
        ensure!(
            u32_at(&h, 4) == seq,
            "{what} has sequence number {}: a frame was lost or repeated",
            u32_at(&h, 4)
        );
        let len = u32_at(&h, 8) as usize;
        let lengths = kind.lengths();
        ensure!(
            lengths.contains(&len),
            "{what}: length {len}, where a {} frame has {} to {} bytes",
            kind.name(),
            lengths.start(),
            lengths.end()
        );
        // Exactly the payload: a growing Vec would double past MAX_DATA.
        self.buf.clear();
        self.buf.reserve_exact(len);
        self.buf.resize(len, 0);
        let got = read_full(&mut self.r, &mut self.buf)?;
        ensure!(
            got == len,
            "the stream ends at byte {}, inside {what}, {got} of its {len} bytes: it was cut short",
            at + (FRAME_HEADER_LEN + got) as u64
        );
        if crc32fast::hash(&self.buf) != u32_at(&h, 12) {
            if kind == Kind::Data {
                bail!(
                    "{what}, image bytes {}..{}: its payload's CRC does not match (damaged in transit)",
                    self.image_bytes,
                    self.image_bytes + len as u64
                )
            }
            bail!("{what}: its payload's CRC does not match (damaged in transit)")
        }
        self.seq += 1;
        self.offset += (FRAME_HEADER_LEN + len) as u64;
        let p = &self.buf[..];
        Ok(match kind {
            Kind::Data => {
                self.image_bytes += len as u64;
                self.image_crc.update(p);
                self.data_frames += 1;
                Frame::Data(p)
            }
            Kind::End => {
                let bytes = u64::from_le_bytes(p[..8].try_into().unwrap());
                let (crc, frames) = (u32_at(p, 8), u32_at(p, 12));
                let have = self.image_crc.clone().finalize();
                ensure!(
                    (bytes, crc, frames) == (self.image_bytes, have, self.data_frames),
                    "{what}: the image was {bytes} bytes in {frames} DATA frames with CRC {crc:#010x}, \
                     {} bytes in {} frames with CRC {have:#010x} came",
                    self.image_bytes,
                    self.data_frames
                );
                Frame::End { bytes, crc, frames }
            }
            Kind::Error => Frame::Error(String::from_utf8_lossy(p).into_owned()),
            Kind::Refuse => Frame::Refuse(String::from_utf8_lossy(p).into_owned()),
            Kind::Ack => Frame::Ack,
            Kind::Released => match u32_at(p, 0) {
                0 => Frame::Released { killed: false },
                1 => Frame::Released { killed: true },
                v => bail!("{what}: flag {v}, neither 0 (left running) nor 1 (killed)"),
            },
        })
    }

    /// Copies the image to `out` from the DATA frames up to END, checked; the sender's
    /// ERROR is an error with its reason. Returns the image's length.
    pub fn image_into(&mut self, out: &mut impl Write) -> Result<u64> {
        loop {
            let (seq, at) = (self.seq, self.offset);
            match self.frame()? {
                Frame::Data(d) => out.write_all(d)?,
                Frame::End { bytes, .. } => return Ok(bytes),
                Frame::Error(reason) => bail!("the sender failed: {reason}"),
                other => {
                    bail!("frame {seq} at byte {at}: {other:?} where DATA or END was expected")
                }
            }
        }
    }

    /// The bytes read so far, headers included.
    pub fn bytes_on_wire(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn streamed(img: &[u8]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new()).unwrap();
        // In uneven pieces, as a pipe gives them.
        for piece in img.chunks(MAX_DATA / 3 + 5) {
            w.data(piece).unwrap();
        }
        w.end().unwrap();
        assert_eq!(w.bytes_on_wire(), w.w.len() as u64);
        w.w
    }

    fn received(s: &[u8]) -> Result<Vec<u8>> {
        let mut r = Reader::new(s)?;
        let mut out = Vec::new();
        let n = r.image_into(&mut out)?;
        assert_eq!(n, out.len() as u64);
        assert_eq!(r.bytes_on_wire(), s.len() as u64);
        Ok(out)
    }

    #[test]
    fn round_trip() {
        for len in [
            1,
            100,
            MAX_DATA - 1,
            MAX_DATA,
            MAX_DATA + 1,
            3 * MAX_DATA + 17,
        ] {
            let img = image(len);
            assert_eq!(received(&streamed(&img)).unwrap(), img, "{len} bytes");
        }
    }

    #[test]
    fn the_buffer_holds_one_payload_at_most() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.data(&image(MAX_DATA * 3 / 4)).unwrap();
        w.data(&image(MAX_DATA)).unwrap();
        let mut r = Reader::new(&w.w[..]).unwrap();
        r.frame().unwrap();
        r.frame().unwrap();
        assert!(r.buf.capacity() <= MAX_DATA, "{}", r.buf.capacity());
    }

    #[test]
    fn answers_round_trip() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.ack().unwrap();
        w.refuse("no room").unwrap();
        w.released(true).unwrap();
        w.released(false).unwrap();
        w.error(&"é".repeat(MAX_TEXT)).unwrap();
        let mut r = Reader::new(&w.w[..]).unwrap();
        assert_eq!(r.frame().unwrap(), Frame::Ack);
        assert_eq!(r.frame().unwrap(), Frame::Refuse("no room".into()));
        assert_eq!(r.frame().unwrap(), Frame::Released { killed: true });
        assert_eq!(r.frame().unwrap(), Frame::Released { killed: false });
        let Frame::Error(e) = r.frame().unwrap() else {
            panic!()
        };
        assert_eq!(e, "é".repeat(MAX_TEXT / 2), "cut at a character boundary");
        assert!(r.frame().unwrap_err().to_string().contains("cut short"));
    }

    #[test]
    fn the_sender_s_error_is_its_reason() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.data(b"part").unwrap();
        w.error("pid 42 fd 3: a socket of another kind").unwrap();
        let e = received(&w.w).unwrap_err().to_string();
        assert_eq!(
            e,
            "the sender failed: pid 42 fd 3: a socket of another kind"
        );
    }

    #[test]
    fn every_flipped_bit_is_refused_naming_the_frame() {
        let img = image(100);
        let s = streamed(&img);
        // Header, one DATA frame of 100 bytes, END.
        assert_eq!(s.len(), HEADER_LEN + FRAME_HEADER_LEN * 2 + 100 + END_LEN);
        let data_end = HEADER_LEN + FRAME_HEADER_LEN + 100;
        for at in 0..s.len() {
            for bit in 0..8 {
                let mut bad = s.clone();
                bad[at] ^= 1 << bit;
                let e = format!("{:#}", received(&bad).unwrap_err());
                if at < HEADER_LEN {
                    assert!(
                        e.contains("CKPTSTRM") || e.contains("version") || e.contains("flags"),
                        "byte {at}: {e}"
                    );
                } else if at < data_end {
                    assert!(e.starts_with("frame 0 "), "byte {at}: {e}");
                    assert!(e.contains("at byte 16"), "byte {at}: {e}");
                } else {
                    assert!(e.starts_with("frame 1 "), "byte {at}: {e}");
                    assert!(e.contains(&format!("at byte {data_end}")), "byte {at}: {e}");
                }
            }
        }
    }

    #[test]
    fn a_damaged_payload_names_its_image_bytes() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.data(&image(2 * MAX_DATA + 10)).unwrap();
        w.end().unwrap();
        let mut bad = w.w;
        let second = HEADER_LEN + FRAME_HEADER_LEN + MAX_DATA;
        bad[second + FRAME_HEADER_LEN + 1000] ^= 0x10;
        let e = received(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "frame 1 (DATA at byte {second}), image bytes {MAX_DATA}..{}: its payload's CRC \
                 does not match (damaged in transit)",
                2 * MAX_DATA
            )
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let s = streamed(&image(300));
        for len in 0..s.len() {
            let e = received(&s[..len]).unwrap_err().to_string();
            assert!(
                e.contains("cut short") || e.contains("before its 16-byte header"),
                "{len}: {e}"
            );
        }
    }

    /// A frame header with a correct CRC over its fields.
    fn frame_header(kind: u32, seq: u32, len: u32, crc: u32) -> Vec<u8> {
        let mut h = Vec::new();
        for v in [kind, seq, len, crc] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        let c = crc32fast::hash(&h);
        h.extend_from_slice(&c.to_le_bytes());
        h
    }

    #[test]
    fn an_oversized_length_is_refused_before_reading() {
        for (kind, len) in [
            (1, MAX_DATA as u32 + 1),
            (1, u32::MAX),
            (3, 5000),
            (2, 15),
            (4, 1),
        ] {
            let mut s = header().to_vec();
            s.extend(frame_header(kind, 0, len, 0));
            // No payload follows: a reader that trusted the length would say "cut short".
            let e = received(&s).unwrap_err().to_string();
            assert!(e.contains(&format!("length {len}, where")), "{e}");
        }
    }

    #[test]
    fn lost_repeated_or_unknown_frames_are_refused() {
        let s = streamed(&image(10));
        let mut skipped = s[..HEADER_LEN].to_vec();
        skipped.extend(frame_header(2, 1, 16, 0));
        let e = received(&skipped).unwrap_err().to_string();
        assert!(e.contains("sequence number 1: a frame was lost"), "{e}");
        let mut unknown = s[..HEADER_LEN].to_vec();
        unknown.extend(frame_header(9, 0, 0, 0));
        let e = received(&unknown).unwrap_err().to_string();
        assert_eq!(e, "frame 0 at byte 16: unknown kind 9");
        // An END that disagrees with the DATA frames that came (one of them made up).
        let mut w = Writer::new(Vec::new()).unwrap();
        w.data(b"abc").unwrap();
        w.data(b"def").unwrap();
        let mut end = Writer::new(Vec::new()).unwrap();
        end.data(b"abc").unwrap();
        end.seq = 2;
        end.end().unwrap();
        let mut s = w.w;
        s.extend(&end.w[HEADER_LEN + FRAME_HEADER_LEN + 3..]);
        let e = received(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("frame 2 (END at byte 62): the image was 3 bytes in 1 DATA frames"),
            "{e}"
        );
    }

    #[test]
    fn bad_magic_or_version_is_refused() {
        let mut s = streamed(&image(10));
        s[..8].copy_from_slice(b"CKPTIMG\0");
        assert!(received(&s)
            .unwrap_err()
            .to_string()
            .contains("not an image stream"));
        let mut s = streamed(&image(10));
        s[8] = 2;
        assert_eq!(
            received(&s).unwrap_err().to_string(),
            "stream version 2: this program reads version 1"
        );
    }
}
