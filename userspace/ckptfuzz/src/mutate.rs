// SPDX-License-Identifier: GPL-2.0

//! Structure-aware mutants of a valid image.
//!
//! An image is split into its records with `ckptlib`'s [`RecordReader`]; each record's
//! fields come from the table `ckptlib/build.rs` reads from `uapi/image.rs`
//! ([`ckptlib::layout`]): the struct each record type starts with, and each field's name,
//! type, offset and size. A mutant is the seed with a few [`Op`]s applied: a field set to a
//! value chosen for its kind (0, 1, the maximum, the sign bit, kernel addresses,
//! `TASK_SIZE` and a page around it, unaligned values, a count or length moved by a little
//! or a lot), bits flipped in a header or a payload (never in page contents), a header's
//! length or type changed, records cut, duplicated, deleted, swapped or moved, the image
//! cut short. The ops come from [`Rng::for_case`]: a case is the seed image, the run's
//! seed and the case's index, nothing else.

use std::fmt;
use std::ops::Range;

use anyhow::{ensure, Context, Result};
use zerocopy::IntoBytes;

use ckptlib::abi::image::{self as img, rec};
use ckptlib::image::{ImageReader, Record, RecordReader};
use ckptlib::layout::{self, Struct};

use crate::prng::Rng;

/// `TASK_SIZE` of x86-64 with 4-level page tables: the first address above user space.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;
const PAGE: u64 = img::CKPT_PAGE_SIZE as u64;

/// Addresses in the kernel's half: the direct map, the kernel text, the last page, the
/// first non-canonical address.
pub const KERNEL_ADDRS: [u64; 4] = [
    0xffff_8880_0000_0000,
    0xffff_ffff_8100_0000,
    0xffff_ffff_ffff_f000,
    0x8000_0000_0000_0000,
];

/// The records of a valid image.
pub fn split(bytes: &[u8]) -> Result<Vec<Record>> {
    // The whole image must read as one first: a seed that is not valid makes cases that
    // test nothing.
    let mut rd = RecordReader::new(bytes);
    let mut img = ImageReader::new(&mut rd);
    while img.next_record()?.is_some() {}
    let mut rd = RecordReader::new(bytes);
    let mut out = Vec::new();
    while let Some(r) = rd.next_record()? {
        out.push(r);
    }
    Ok(out)
}

/// The records with the image framing.
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        frame(&mut out, r.kind, r.payload.len() as u32, &r.payload);
    }
    out
}

/// Appends one record: a header saying `len`, the payload (whatever its length), its padding.
fn frame(out: &mut Vec<u8>, kind: u32, len: u32, payload: &[u8]) {
    out.extend_from_slice(img::CkptHdr { kind, len }.as_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + img::record_pad(payload.len()), 0);
}

/// Where a record starts in the encoded image, for each record.
pub fn offsets(records: &[Record]) -> Vec<u64> {
    let mut at = 0u64;
    records
        .iter()
        .map(|r| {
            let here = at;
            let len = r.payload.len();
            at += (size_of::<img::CkptHdr>() + len + img::record_pad(len)) as u64;
            here
        })
        .collect()
}

/// One integer field of a struct, at its offset from the start of the payload.
#[derive(Clone, Debug)]
pub struct Slot {
    pub name: String,
    pub offset: usize,
    pub size: usize,
}

/// The integer fields of `s` placed at `base`, arrays of integers and of structs expanded
/// element by element (up to `MAX_ELEMS` of each). Byte strings (magic, comm) are left to
/// bit flips.
fn fields(s: &Struct, base: usize, prefix: &str, ints: &mut Vec<Slot>) {
    const MAX_ELEMS: usize = 64;
    for f in s.fields {
        let name = format!("{prefix}{}", f.name);
        let at = base + f.offset;
        if let Some(size) = int_size(f.ty) {
            ints.push(Slot {
                name,
                offset: at,
                size,
            });
            continue;
        }
        let Some(elem) =
            f.ty.strip_prefix('[')
                .and_then(|t| t.split_once(';'))
                .map(|(e, _)| e.trim())
        else {
            continue;
        };
        if elem == "u8" {
            continue;
        }
        if let Some(esize) = int_size(elem) {
            for i in 0..(f.size / esize).min(MAX_ELEMS) {
                ints.push(Slot {
                    name: format!("{name}[{i}]"),
                    offset: at + i * esize,
                    size: esize,
                });
            }
        } else if let Some(inner) = layout::find(elem) {
            for i in 0..(f.size / inner.size).min(MAX_ELEMS) {
                fields(inner, at + i * inner.size, &format!("{name}[{i}]."), ints);
            }
        }
    }
}

fn int_size(ty: &str) -> Option<usize> {
    Some(match ty {
        "u8" => 1,
        "u16" => 2,
        "u32" | "i32" => 4,
        "u64" | "i64" | "usize" => 8,
        _ => return None,
    })
}

/// The integer fields of a struct of the layout table, from offset 0.
pub fn slots(s: &Struct) -> Vec<Slot> {
    let mut ints = Vec::new();
    fields(s, 0, "", &mut ints);
    ints
}

/// Reads the little-endian integer of `size` bytes at `at`.
pub fn get(buf: &[u8], at: usize, size: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..size].copy_from_slice(&buf[at..at + size]);
    u64::from_le_bytes(b)
}

/// Writes `v`, cut to `size` bytes, at `at`.
pub fn put(buf: &mut [u8], at: usize, size: usize, v: u64) {
    buf[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
}

/// Whether a field holds a count or a length (moved by small steps and huge values alike).
fn is_count(name: &str) -> bool {
    let n = name.rsplit('.').next().unwrap_or(name);
    n == "nr"
        || n.starts_with("nr_")
        || n.ends_with("_len")
        || n == "len"
        || n == "size"
        || n == "ngroups"
        || n == "auxv_words"
        || n == "capacity"
        || n.ends_with("_vma")
        || n.starts_with("nr")
}

/// A value for an integer field of `size` bytes that holds `old`: one of the kinds of
/// values that find mistakes.
pub fn value(rng: &mut Rng, old: u64, size: usize, count: bool) -> u64 {
    let max = if size == 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    };
    let sign = 1u64 << (size * 8 - 1);
    let v = match rng.below(if count { 18 } else { 16 }) {
        0 => 0,
        1 => 1,
        2 => max,
        3 => sign,
        4 => sign - 1,
        5 => *rng.pick(&KERNEL_ADDRS),
        6 => TASK_SIZE,
        7 => TASK_SIZE - PAGE,
        8 => TASK_SIZE + PAGE,
        // Unaligned: off by a few bytes, or by half a page.
        9 => old.wrapping_add(1 + rng.below(7)),
        10 => old | 0x800,
        11 => old.wrapping_add(1),
        12 => old.wrapping_sub(1),
        13 => old ^ (1 << rng.below(size as u64 * 8)),
        14 => old.wrapping_add(PAGE),
        15 => rng.next_u64(),
        // Counts and lengths: a little more or less, or huge.
        16 => {
            if rng.one_in(2) {
                old.wrapping_add(8)
            } else {
                old.wrapping_sub(8)
            }
        }
        _ => *rng.pick(&[
            u64::from(img::CKPT_MAX_PAYLOAD),
            u64::from(img::CKPT_MAX_PAYLOAD) + 1,
            1 << 31,
            1 << 32,
            u64::from(u32::MAX) - 7,
            u64::from(ckptlib::abi::CKPT_MAX_TASKS) + 1,
            old.wrapping_mul(2),
            old.wrapping_mul(1000),
        ]),
    };
    v & max
}

/// One change to the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Field {
        rec: usize,
        field: String,
        from: u64,
        to: u64,
    },
    FlipHeader {
        rec: usize,
        bit: u32,
    },
    FlipPayload {
        rec: usize,
        at: usize,
        bit: u32,
    },
    /// The header announces `to` bytes; the payload is left as it was.
    HeaderLen {
        rec: usize,
        to: u32,
    },
    HeaderKind {
        rec: usize,
        to: u32,
    },
    /// The payload cut to `keep` bytes, the header saying so.
    Truncate {
        rec: usize,
        keep: usize,
    },
    Duplicate {
        rec: usize,
    },
    Delete {
        rec: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
    Move {
        from: usize,
        to: usize,
    },
    /// The image ends after `at` bytes.
    Cut {
        at: usize,
    },
    /// The `TAIL`'s record count made right again after records were added or removed.
    FixTail,
}

#[cfg(test)]
impl Op {
    /// The kind of op.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Field { .. } => "field",
            Op::FlipHeader { .. } => "flip-header",
            Op::FlipPayload { .. } => "flip-payload",
            Op::HeaderLen { .. } => "header-len",
            Op::HeaderKind { .. } => "header-kind",
            Op::Truncate { .. } => "truncate",
            Op::Duplicate { .. } => "duplicate",
            Op::Delete { .. } => "delete",
            Op::Swap { .. } => "swap",
            Op::Move { .. } => "move",
            Op::Cut { .. } => "cut",
            Op::FixTail => "fix-tail",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Field {
                rec,
                field,
                from,
                to,
            } => write!(f, "record {rec}: {field} {from:#x} -> {to:#x}"),
            Op::FlipHeader { rec, bit } => write!(f, "record {rec}: header bit {bit} flipped"),
            Op::FlipPayload { rec, at, bit } => {
                write!(f, "record {rec}: payload byte {at} bit {bit} flipped")
            }
            Op::HeaderLen { rec, to } => write!(f, "record {rec}: header length {to}"),
            Op::HeaderKind { rec, to } => write!(f, "record {rec}: type {to}"),
            Op::Truncate { rec, keep } => write!(f, "record {rec}: payload cut to {keep} bytes"),
            Op::Duplicate { rec } => write!(f, "record {rec} duplicated"),
            Op::Delete { rec } => write!(f, "record {rec} deleted"),
            Op::Swap { a, b } => write!(f, "records {a} and {b} swapped"),
            Op::Move { from, to } => write!(f, "record {from} moved to {to}"),
            Op::Cut { at } => write!(f, "image cut at {at} bytes"),
            Op::FixTail => write!(f, "TAIL count fixed"),
        }
    }
}

/// A record being mutated: its header's fields may disagree with its payload.
#[derive(Clone, Debug)]
struct Raw {
    kind: u32,
    len: Option<u32>,
    payload: Vec<u8>,
}

/// The bytes of a record that may be flipped: the fixed part of a `PAGES` record, never
/// its page contents; all of any other.
fn flippable(r: &Raw) -> usize {
    if r.kind == rec::PAGES {
        r.payload.len().min(size_of::<img::CkptPagesRec>())
    } else {
        r.payload.len()
    }
}

/// A record of `scope`, `PAGES` records (most of an image) picked less often.
fn pick_record(rng: &mut Rng, recs: &[Raw], scope: &Range<usize>) -> Option<usize> {
    let scope = scope.start..scope.end.min(recs.len());
    if scope.is_empty() {
        return None;
    }
    for _ in 0..8 {
        let i = scope.start + rng.index(scope.len());
        if recs[i].kind != rec::PAGES || rng.one_in(8) {
            return Some(i);
        }
    }
    Some(scope.start + rng.index(scope.len()))
}

/// One random op on `recs`, applied; `None` if none could be made.
fn one_op(rng: &mut Rng, recs: &mut Vec<Raw>, scope: &Range<usize>) -> Option<Op> {
    let i = pick_record(rng, recs, scope)?;
    let op = match rng.below(20) {
        // Fields, by their meaning, most often.
        0..=9 => {
            let r = &mut recs[i];
            let s = layout::record_struct(r.kind)?;
            let slots = slots(s);
            let slot = rng.pick(&slots);
            if slot.offset + slot.size > r.payload.len() {
                return None;
            }
            let from = get(&r.payload, slot.offset, slot.size);
            let to = value(rng, from, slot.size, is_count(&slot.name));
            if to == from {
                return None;
            }
            put(&mut r.payload, slot.offset, slot.size, to);
            Op::Field {
                rec: i,
                field: format!("{}.{}", rec::name(r.kind), slot.name),
                from,
                to,
            }
        }
        10 => {
            let bit = rng.below(64) as u32;
            let r = &mut recs[i];
            let mut h = [0u8; 8];
            h[..4].copy_from_slice(&r.kind.to_le_bytes());
            h[4..].copy_from_slice(&r.len.unwrap_or(r.payload.len() as u32).to_le_bytes());
            h[bit as usize / 8] ^= 1 << (bit % 8);
            r.kind = u32::from_le_bytes(h[..4].try_into().expect("4 bytes"));
            r.len = Some(u32::from_le_bytes(h[4..].try_into().expect("4 bytes")));
            Op::FlipHeader { rec: i, bit }
        }
        11 | 12 => {
            let r = &mut recs[i];
            let n = flippable(r);
            if n == 0 {
                return None;
            }
            let at = rng.index(n);
            let bit = rng.below(8) as u32;
            r.payload[at] ^= 1 << bit;
            Op::FlipPayload { rec: i, at, bit }
        }
        13 => {
            let r = &mut recs[i];
            let old = r.payload.len() as u64;
            let to = *rng.pick(&[
                0,
                old.wrapping_add(8),
                old.wrapping_sub(8),
                old + 1,
                u64::from(img::CKPT_MAX_PAYLOAD),
                u64::from(img::CKPT_MAX_PAYLOAD) + 1,
                u64::from(u32::MAX),
            ]) as u32;
            r.len = Some(to);
            Op::HeaderLen { rec: i, to }
        }
        14 => {
            let to = if rng.one_in(4) {
                rng.next_u64() as u32
            } else {
                rng.pick(layout::image::RECORDS).0
            };
            recs[i].kind = to;
            Op::HeaderKind { rec: i, to }
        }
        15 => {
            let r = &mut recs[i];
            if r.payload.is_empty() {
                return None;
            }
            let keep = rng.index(r.payload.len());
            r.payload.truncate(keep);
            r.len = None;
            Op::Truncate { rec: i, keep }
        }
        16 => {
            let r = recs[i].clone();
            recs.insert(i, r);
            Op::Duplicate { rec: i }
        }
        17 => {
            recs.remove(i);
            Op::Delete { rec: i }
        }
        18 => {
            let j = pick_record(rng, recs, scope)?;
            if recs[i].kind == recs[j].kind && recs[i].payload == recs[j].payload {
                return None;
            }
            recs.swap(i, j);
            Op::Swap { a: i, b: j }
        }
        _ => {
            let r = recs.remove(i);
            let to = scope.start + rng.index(scope.len().min(recs.len() + 1 - scope.start));
            recs.insert(to, r);
            Op::Move { from: i, to }
        }
    };
    Some(op)
}

/// Makes the `TAIL`'s count of records before it right, if there is a `TAIL`.
fn fix_tail(recs: &mut [Raw]) {
    if let Some(i) = recs.iter().position(|r| r.kind == rec::TAIL) {
        let r = &mut recs[i];
        let at = std::mem::offset_of!(img::CkptTailRec, nr_records);
        if r.payload.len() >= at + 8 {
            put(&mut r.payload, at, 8, i as u64);
        }
    }
}

/// A mutant of `seed`: its bytes and the ops that made it. Only records in `scope` are
/// changed (the whole image for `rstr`; the module's records for the direct harness).
pub fn mutant(seed: &[Record], scope: Range<usize>, mut rng: Rng) -> (Vec<u8>, Vec<Op>) {
    let mut recs: Vec<Raw> = seed
        .iter()
        .map(|r| Raw {
            kind: r.kind,
            len: None,
            payload: r.payload.clone(),
        })
        .collect();
    let mut scope = scope;
    let mut ops = Vec::new();
    let n = 1 + [0, 0, 0, 1, 1, 2, 3][rng.index(7)];
    let mut tries = 0;
    while ops.len() < n && tries < 32 {
        tries += 1;
        let before = recs.len();
        if let Some(op) = one_op(&mut rng, &mut recs, &scope) {
            ops.push(op);
        }
        // The scope follows records added or removed.
        scope.end = (scope.end + recs.len()).saturating_sub(before);
    }
    if rng.one_in(2)
        && ops
            .iter()
            .any(|o| matches!(o, Op::Duplicate { .. } | Op::Delete { .. }))
    {
        fix_tail(&mut recs);
        ops.push(Op::FixTail);
    }
    let mut out = Vec::new();
    for r in &recs {
        frame(
            &mut out,
            r.kind,
            r.len.unwrap_or(r.payload.len() as u32),
            &r.payload,
        );
    }
    if rng.one_in(24) {
        let at = rng.index(out.len().max(1));
        out.truncate(at);
        ops.push(Op::Cut { at });
    }
    (out, ops)
}

/// The ops of a case, one line.
pub fn describe(ops: &[Op]) -> String {
    ops.iter().map(Op::to_string).collect::<Vec<_>>().join("; ")
}

/// The records of `recs` from the one at byte offset `pos` to the first `REGS` after it:
/// what the module reads for one task.
pub fn module_records(recs: &[Record], pos: u64) -> Result<Vec<Record>> {
    let offs = offsets(recs);
    let first = offs
        .iter()
        .position(|&o| o == pos)
        .with_context(|| format!("no record at offset {pos}"))?;
    let last = recs[first..]
        .iter()
        .position(|r| r.kind == rec::REGS)
        .context("no REGS record after the task's MM")?;
    ensure!(
        recs[first].kind == rec::MM,
        "the task's records start with no MM"
    );
    Ok(recs[first..=first + last].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    #[test]
    fn slots_come_from_the_layout_table() {
        let vma = slots(layout::record_struct(rec::VMA).unwrap());
        let names: Vec<&str> = vma.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["start", "end", "pgoff", "vm_flags", "prot", "kind", "path_len", "shm", "shm_size"]
        );
        assert_eq!((vma[4].offset, vma[4].size), (32, 4));
        // Arrays of structs are expanded: every handler of SIGHAND.
        let sighand = slots(layout::record_struct(rec::SIGHAND).unwrap());
        assert_eq!(sighand.len(), img::CKPT_NSIG * 4);
        assert_eq!(sighand[5].name, "action[1].flags");
        assert_eq!(sighand[5].offset, 32 + 8);
    }

    #[test]
    fn a_case_is_its_seed_and_index() {
        let seed = split(&synth::image()).unwrap();
        let scope = 0..seed.len();
        let a = mutant(&seed, scope.clone(), Rng::for_case(42, 17));
        let b = mutant(&seed, scope.clone(), Rng::for_case(42, 17));
        assert_eq!(a, b);
        let c = mutant(&seed, scope, Rng::for_case(42, 18));
        assert_ne!(a.0, c.0);
        assert_eq!(
            encode(&seed),
            synth::image(),
            "unmutated, the seed encodes as it was"
        );
    }

    #[test]
    fn mutants_differ_from_the_seed_and_stay_in_scope() {
        let seed = split(&synth::image()).unwrap();
        let bytes = encode(&seed);
        let offs = offsets(&seed);
        // Only the module's records (MM on) may change: the bytes before stay.
        let mm = seed.iter().position(|r| r.kind == rec::MM).unwrap();
        let keep = offs[mm] as usize;
        let mut kinds = std::collections::HashSet::new();
        let mut same = 0;
        for i in 0..2000 {
            let (m, ops) = mutant(&seed, mm..seed.len(), Rng::for_case(1, i));
            assert!(!ops.is_empty());
            // Two ops may undo each other, or set a field to the value it had: rarely.
            same += usize::from(m == bytes);
            let k = keep.min(m.len());
            assert!(
                m[..k] == bytes[..k],
                "case {i} changed a record out of scope"
            );
            for o in &ops {
                kinds.insert(o.name());
            }
        }
        assert!(same < 40, "{same} of 2000 mutants are the seed");
        assert_eq!(kinds.len(), 12, "every kind of op is made: {kinds:?}");
    }

    #[test]
    fn values_of_every_kind() {
        let mut rng = Rng::new(3);
        let vs: Vec<u64> = (0..4000)
            .map(|_| value(&mut rng, 0x1000, 8, true))
            .collect();
        for want in [
            0,
            1,
            u64::MAX,
            1 << 63,
            TASK_SIZE,
            TASK_SIZE - PAGE,
            TASK_SIZE + PAGE,
        ] {
            assert!(vs.contains(&want), "{want:#x}");
        }
        assert!(vs.contains(&0x1008) && vs.contains(&0xff8), "lengths ±8");
        assert!(vs.iter().any(|v| KERNEL_ADDRS.contains(v)));
        assert!(vs.iter().any(|v| v % 8 != 0), "unaligned values");
        assert!((0..100).all(|_| value(&mut rng, 5, 4, false) <= u64::from(u32::MAX)));
    }

    #[test]
    fn module_records_of_the_first_task() {
        let seed = split(&synth::image()).unwrap();
        let mm = seed.iter().position(|r| r.kind == rec::MM).unwrap();
        let pos = offsets(&seed)[mm];
        let m = module_records(&seed, pos).unwrap();
        assert_eq!(m.first().unwrap().kind, rec::MM);
        assert_eq!(m.last().unwrap().kind, rec::REGS);
        assert!(module_records(&seed, pos + 8).is_err());
    }
}
