// SPDX-License-Identifier: GPL-2.0

//! The part of an image `rstr` restores itself, with system calls: everything from `HEADER`
//! to `XSTATE`, read and checked before anything is done.

use std::io::Read;

use anyhow::{bail, ensure, Context, Result};
use zerocopy::FromBytes;

use crate::abi::image::{self as img, file_kind, rec};
use crate::abi::CKPT_IMAGE_VERSION;
use crate::image::{exact, split, Record, RecordReader};

/// One open file to reopen.
#[derive(Debug, Clone)]
pub struct OpenFile {
    pub rec: img::CkptFileRec,
    pub path: String,
}

/// The records before `MM`, checked.
#[derive(Debug, Clone)]
pub struct UserRecords {
    pub header: img::CkptHeaderRec,
    pub task: img::CkptTaskRec,
    pub creds: img::CkptCredsRec,
    pub groups: Vec<u32>,
    pub rlimits: img::CkptRlimitsRec,
    pub root: String,
    pub cwd: String,
    pub sighand: img::CkptSighandRec,
    pub signals: img::CkptSignalsRec,
    pub pending: Vec<img::CkptSiginfoRec>,
    pub files: Vec<OpenFile>,
    pub xstate: img::CkptXstateRec,
    pub xsave: Vec<u8>,
    /// Records read, for the `TAIL`'s count.
    pub count: u64,
}

fn next<R: Read>(rd: &mut RecordReader<R>, kind: u32) -> Result<Record> {
    let Some(r) = rd.next_record()? else {
        bail!(
            "truncated image: it ends before its {} record",
            rec::name(kind)
        )
    };
    if r.kind == rec::ERROR {
        let d = crate::image::decode(&r)?;
        bail!("the image records a failed checkpoint: {d:?}");
    }
    ensure!(
        r.kind == kind,
        "expected a {} record, found {}",
        rec::name(kind),
        rec::name(r.kind)
    );
    Ok(r)
}

fn utf8_path(bytes: &[u8], what: &str) -> Result<String> {
    ensure!(!bytes.contains(&0), "{what}: NUL inside a path");
    ensure!(bytes.first() == Some(&b'/'), "{what}: path is not absolute");
    Ok(std::str::from_utf8(bytes)
        .with_context(|| format!("{what}: path is not UTF-8"))?
        .to_owned())
}

/// Reads `HEADER` .. `XSTATE` from `rd`, stopping before `MM`, checking as it goes.
pub fn read_user_records<R: Read>(rd: &mut RecordReader<R>) -> Result<UserRecords> {
    let r = next(rd, rec::HEADER)?;
    let header: img::CkptHeaderRec = exact(r.kind, &r.payload)?;
    ensure!(
        header.magic == img::CKPT_IMAGE_MAGIC,
        "not a checkpoint image (bad magic)"
    );
    ensure!(
        header.image_version == CKPT_IMAGE_VERSION,
        "image format version {} (these tools read version {})",
        header.image_version,
        CKPT_IMAGE_VERSION
    );
    ensure!(
        header.arch == img::CKPT_ARCH_X86_64,
        "image of architecture {:#x}, not x86_64",
        header.arch
    );
    ensure!(
        header.page_size == img::CKPT_PAGE_SIZE,
        "page size {}",
        header.page_size
    );
    ensure!(
        header.nr_tasks == 1,
        "{} tasks: only single-process images can be restarted yet",
        header.nr_tasks
    );

    let r = next(rd, rec::TASK)?;
    let task: img::CkptTaskRec = exact(r.kind, &r.payload)?;
    ensure!(
        task.pid > 0 && task.pid == task.tgid,
        "TASK record: pid {} tgid {}",
        task.pid,
        task.tgid
    );

    let r = next(rd, rec::CREDS)?;
    let (creds, rest) = split::<img::CkptCredsRec>(r.kind, &r.payload)?;
    ensure!(
        creds.ngroups <= img::CKPT_NGROUPS_MAX && rest.len() == creds.ngroups as usize * 4,
        "CREDS record: {} groups do not match its length",
        creds.ngroups
    );
    let groups = <[u32]>::ref_from_bytes(rest)
        .map_err(|_| anyhow::anyhow!("CREDS record: misaligned groups"))?
        .to_vec();

    let r = next(rd, rec::RLIMITS)?;
    let rlimits: img::CkptRlimitsRec = exact(r.kind, &r.payload)?;
    for (i, l) in rlimits.rlim.iter().enumerate() {
        ensure!(
            l.cur <= l.max,
            "RLIMITS record: limit {i} has cur above max"
        );
    }

    let r = next(rd, rec::FS)?;
    let (fs, rest) = split::<img::CkptFsRec>(r.kind, &r.payload)?;
    let (rl, cl) = (fs.root_len as usize, fs.cwd_len as usize);
    ensure!(
        fs.root_len <= img::CKPT_PATH_MAX
            && fs.cwd_len <= img::CKPT_PATH_MAX
            && rl + cl == rest.len(),
        "FS record: path lengths do not match its length"
    );
    let root = utf8_path(&rest[..rl], "FS root")?;
    let cwd = utf8_path(&rest[rl..], "FS cwd")?;

    let r = next(rd, rec::SIGHAND)?;
    let sighand: img::CkptSighandRec = exact(r.kind, &r.payload)?;

    let r = next(rd, rec::SIGNALS)?;
    let signals: img::CkptSignalsRec = exact(r.kind, &r.payload)?;
    ensure!(
        signals.nr_pending <= 4096,
        "SIGNALS record: {} pending signals",
        signals.nr_pending
    );
    let mut pending = Vec::new();
    for _ in 0..signals.nr_pending {
        let r = next(rd, rec::SIGINFO)?;
        let s: img::CkptSiginfoRec = exact(r.kind, &r.payload)?;
        let signo = i32::from_ne_bytes(s.info[..4].try_into().unwrap());
        ensure!((1..=64).contains(&signo), "SIGINFO record: signal {signo}");
        pending.push(s);
    }

    let mut files = Vec::new();
    let mut r = rd
        .next_record()?
        .context("truncated image: it ends among FILE records")?;
    while r.kind == rec::FILE {
        let (f, rest) = split::<img::CkptFileRec>(r.kind, &r.payload)?;
        ensure!(
            f.path_len as usize == rest.len() && f.path_len <= img::CKPT_PATH_MAX,
            "FILE record: path length does not match its length"
        );
        ensure!(
            f.fd >= 0 && f.fd < (1 << 20),
            "FILE record: descriptor {} out of range",
            f.fd
        );
        ensure!(
            matches!(
                f.kind,
                file_kind::REGULAR | file_kind::CHARDEV | file_kind::DIRECTORY
            ),
            "FILE record: fd {} of unknown kind {}",
            f.fd,
            f.kind
        );
        ensure!(
            files.last().is_none_or(|p: &OpenFile| p.rec.fd < f.fd),
            "FILE record: fd {} out of order",
            f.fd
        );
        let path = utf8_path(rest, &format!("fd {}", f.fd))?;
        files.push(OpenFile { rec: f, path });
        r = rd
            .next_record()?
            .context("truncated image: it ends among FILE records")?;
    }
    ensure!(
        r.kind == rec::XSTATE,
        "expected XSTATE, found {}",
        rec::name(r.kind)
    );
    let (xstate, rest) = split::<img::CkptXstateRec>(r.kind, &r.payload)?;
    ensure!(
        xstate.size as usize == rest.len() && xstate.size >= 576 && xstate.size <= 1 << 16,
        "XSTATE record: size {} does not match its length",
        xstate.size
    );
    ensure!(
        xstate.xstate_bv & !header.xfeatures == 0,
        "XSTATE record: state {:#x} beyond the image's features {:#x}",
        xstate.xstate_bv,
        header.xfeatures
    );
    Ok(UserRecords {
        header,
        task,
        creds,
        groups,
        rlimits,
        root,
        cwd,
        sighand,
        signals,
        pending,
        files,
        xstate,
        xsave: rest.to_vec(),
        count: rd.count(),
    })
}

/// Checks that this CPU can load the image's FPU state: `xcr0` is this CPU's XCR0 and
/// `xsave_size` its XSAVE area size for it.
pub fn check_xstate(u: &UserRecords, xcr0: u64, xsave_size: usize) -> Result<()> {
    ensure!(
        u.xstate.xstate_bv & !xcr0 == 0,
        "the image uses FPU/vector state {:#x} this CPU does not enable (XCR0 {:#x})",
        u.xstate.xstate_bv,
        xcr0
    );
    ensure!(
        u.xsave.len() >= xsave_size.min(u.xsave.len()) && u.xsave.len() >= 576,
        "XSAVE area of {} bytes is too small",
        u.xsave.len()
    );
    // The XSAVE header's XCOMP_BV must be 0 (standard format) and the reserved bytes zero,
    // or XRSTOR faults.
    let hdr = &u.xsave[512..576];
    ensure!(
        hdr[8..].iter().all(|&b| b == 0),
        "XSAVE header has non-zero reserved bytes"
    );
    let mxcsr = u32::from_ne_bytes(u.xsave[24..28].try_into().unwrap());
    let mask = match u32::from_ne_bytes(u.xsave[28..32].try_into().unwrap()) {
        0 => 0xffbf,
        m => m,
    };
    ensure!(mxcsr & !mask == 0, "MXCSR {mxcsr:#x} has reserved bits set");
    Ok(())
}

/// `new_encode_dev` decoded: (major, minor).
pub fn decode_dev(rdev: u32) -> (u32, u32) {
    (
        (rdev & 0xfff00) >> 8,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_numbers_decode_like_the_kernel() {
        // /dev/null is 1:3, /dev/pts/300 is 136:300.
        assert_eq!(decode_dev(0x103), (1, 3));
        let enc = |ma: u32, mi: u32| (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12);
        assert_eq!(decode_dev(enc(136, 300)), (136, 300));
    }
}
