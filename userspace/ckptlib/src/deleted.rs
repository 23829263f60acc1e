// SPDX-License-Identifier: GPL-2.0

//! Deleted files (`DELETED` and `FILE_DATA` records, `FILE`s of kind `DELETED`): an
//! unlinked regular file's mode, owner, size and data, checked as they are read.

use std::collections::HashMap;

use anyhow::{ensure, Context, Result};

use crate::abi::image::{self as img, file_kind};

/// A memfd's own state.
#[derive(Debug, Clone)]
pub struct Memfd {
    pub name: String,
    /// `F_GET_SEALS`.
    pub seals: u32,
}

/// The seals `F_ADD_SEALS` takes (`F_SEAL_SEAL`, `EXEC`, `SHRINK`, `GROW`, `WRITE`,
/// `FUTURE_WRITE`).
pub const SEALS_KNOWN: u32 = (libc::F_SEAL_SEAL
    | libc::F_SEAL_SHRINK
    | libc::F_SEAL_GROW
    | libc::F_SEAL_WRITE
    | libc::F_SEAL_FUTURE_WRITE
    | libc::F_SEAL_EXEC) as u32;

/// A deleted file or memfd to make again: its record (for a memfd: its mode and size,
/// owner 0) and its data extents, in order.
#[derive(Debug, Clone)]
pub struct DeletedImage {
    pub rec: img::CkptDeletedRec,
    /// For a memfd: its name and seals.
    pub memfd: Option<Memfd>,
    /// (offset, bytes), increasing and not overlapping, within the size.
    pub data: Vec<(u64, Vec<u8>)>,
}

impl DeletedImage {
    /// Bytes of data (holes not counted).
    pub fn data_len(&self) -> u64 {
        self.data.iter().map(|(_, d)| d.len() as u64).sum()
    }
}

/// Adds a `DELETED` record; its id must be new and its mode a regular file's.
pub fn add_file(files: &mut HashMap<u32, DeletedImage>, r: img::CkptDeletedRec) -> Result<()> {
    ensure!(
        r.mode & libc::S_IFMT == libc::S_IFREG,
        "DELETED record {}: mode {:#o} is not a regular file's",
        r.id,
        r.mode
    );
    ensure!(
        r.size <= i64::MAX as u64,
        "DELETED record {}: size {} is too large",
        r.id,
        r.size
    );
    let new = files
        .insert(
            r.id,
            DeletedImage {
                rec: r,
                memfd: None,
                data: Vec::new(),
            },
        )
        .is_none();
    ensure!(new, "DELETED record {} appears twice", r.id);
    Ok(())
}

/// Adds a `MEMFD` record: as a deleted file's, with its name (UTF-8, no NUL: what
/// `memfd_create` takes) and known seals.
pub fn add_memfd(
    files: &mut HashMap<u32, DeletedImage>,
    m: img::CkptMemfdRec,
    name: &[u8],
) -> Result<()> {
    ensure!(
        m.seals & !SEALS_KNOWN == 0,
        "MEMFD record {}: unknown seals {:#x}",
        m.id,
        m.seals
    );
    ensure!(!name.contains(&0), "MEMFD record {}: NUL in its name", m.id);
    let name = std::str::from_utf8(name)
        .with_context(|| format!("MEMFD record {}: name is not UTF-8", m.id))?
        .to_owned();
    let r = img::CkptDeletedRec {
        id: m.id,
        mode: m.mode,
        uid: 0,
        gid: 0,
        size: m.size,
    };
    add_file(files, r)?;
    files.get_mut(&m.id).expect("added").memfd = Some(Memfd {
        name,
        seals: m.seals,
    });
    Ok(())
}

/// Adds a `FILE_DATA` record to its file (whose `DELETED` record came first), after the
/// previous extent and within the file's size.
pub fn add_data(
    files: &mut HashMap<u32, DeletedImage>,
    r: img::CkptFileDataRec,
    data: Vec<u8>,
) -> Result<()> {
    let f = files.get_mut(&r.id).with_context(|| {
        format!(
            "FILE_DATA record: file {} comes before its DELETED record",
            r.id
        )
    })?;
    let end = r.offset.checked_add(data.len() as u64);
    ensure!(
        end.is_some_and(|e| e <= f.rec.size),
        "FILE_DATA record of file {}: {} bytes at {} beyond its size {}",
        r.id,
        data.len(),
        r.offset,
        f.rec.size
    );
    let prev_end = f.data.last().map_or(0, |(o, d)| o + d.len() as u64);
    ensure!(
        f.data.is_empty() || r.offset >= prev_end,
        "FILE_DATA record of file {}: offset {} overlaps or precedes the data before it (up to {prev_end})",
        r.id,
        r.offset
    );
    f.data.push((r.offset, data));
    Ok(())
}

/// Checks a `FILE` of kind `DELETED` or `MEMFD`: its file's record (of its kind) came first; it has a path (where
/// the file is made again) and an offset within reason.
pub fn check_file(f: &img::CkptFileRec, files: &HashMap<u32, DeletedImage>) -> Result<()> {
    let memfd = match f.kind {
        file_kind::DELETED => false,
        file_kind::MEMFD => true,
        _ => return Ok(()),
    };
    known(files, f.pipe, memfd, &format!("FILE record: fd {}", f.fd))?;
    ensure!(f.pos >= 0, "FILE record: fd {}: offset {}", f.fd, f.pos);
    Ok(())
}

/// The file `id` named by `who` (a `FILE` or `VMA` record) came before, a memfd or a
/// deleted file as `memfd` says.
pub fn known(files: &HashMap<u32, DeletedImage>, id: u32, memfd: bool, who: &str) -> Result<()> {
    ensure!(
        files.get(&id).is_some_and(|d| d.memfd.is_some() == memfd),
        "{who} refers to {} {id} before its {} record",
        if memfd { "memfd" } else { "deleted file" },
        if memfd { "MEMFD" } else { "DELETED" }
    );
    Ok(())
}

/// `ckpt --deleted-max SIZE`: bytes, or with a suffix `K`, `M`, `G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("`{s}`: the unit is K, M or G")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (as 100M, 2G, 65536)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// The checkpoint flags' bits for a limit of `bytes` on deleted files' data (rounded up
/// to MiB, which the module counts in).
pub fn limit_flags(bytes: u64) -> Result<u64> {
    let mib = bytes.div_ceil(1 << 20).max(1);
    ensure!(
        mib <= u64::from(u32::MAX),
        "--deleted-max: {bytes} bytes is more than the module takes"
    );
    Ok(mib << crate::abi::CKPT_CHECKPOINT_DELETED_MAX_SHIFT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1T").is_err() && parse_size("M").is_err());
        assert_eq!(limit_flags(1).unwrap(), 1 << 32);
        assert_eq!(limit_flags(100 << 20).unwrap(), 100 << 32);
    }

    #[test]
    fn extents_are_in_order_and_within_the_size() {
        let mut files = HashMap::new();
        let mut r = img::CkptDeletedRec::new_zeroed();
        (r.id, r.mode, r.size) = (4, libc::S_IFREG | 0o600, 10000);
        add_file(&mut files, r).unwrap();
        assert!(add_file(&mut files, r).is_err(), "twice");
        let d = |offset: u64| img::CkptFileDataRec {
            id: 4,
            len: 0,
            offset,
        };
        add_data(&mut files, d(0), vec![1; 100]).unwrap();
        add_data(&mut files, d(8192), vec![2; 100]).unwrap();
        assert!(add_data(&mut files, d(8000), vec![3; 10]).is_err(), "back");
        assert!(
            add_data(&mut files, d(9999), vec![3; 2]).is_err(),
            "past size"
        );
        assert!(add_data(&mut files, img::CkptFileDataRec { id: 5, ..d(0) }, vec![1]).is_err());
        assert_eq!(files[&4].data_len(), 200);
        r.mode = libc::S_IFDIR | 0o700;
        r.id = 6;
        assert!(add_file(&mut files, r).is_err(), "a directory");
    }
}
