// SPDX-License-Identifier: GPL-2.0

//! The layout of the ABI files, as `build.rs` lists it from `uapi/checkpoint.rs` and
//! `uapi/image.rs` themselves: every struct with the offset, size and type of each field,
//! every constant with its value, and the struct each image record type starts with.
//! `tests/c_header.rs` compares it with the C headers; `ckpt-fuzz` mutates images field by
//! field with it, so that no layout is written down a second time by hand.

use core::mem::offset_of;

/// A struct of a Rust ABI file.
#[derive(Debug)]
pub struct Struct {
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    pub fields: &'static [Field],
}

/// One field: its name, its Rust type as written, its offset and size.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// A constant's value.
#[derive(Debug)]
pub enum Value {
    Int(i128),
    Bytes(&'static [u8]),
    Str(&'static str),
}

/// A constant: its path in its file (`rec::HEADER`) and its value.
#[derive(Debug)]
pub struct Const {
    pub path: &'static str,
    pub value: Value,
}

/// `uapi/checkpoint.rs`: the ioctls' argument structs and constants.
pub mod ioctl {
    use super::*;
    use crate::abi::*;
    include!(concat!(env!("OUT_DIR"), "/uapi_checkpoint.rs"));
}

/// `uapi/image.rs`: the image's records.
pub mod image {
    use super::*;
    use crate::abi::image::*;
    include!(concat!(env!("OUT_DIR"), "/uapi_image.rs"));
}

/// The struct named `name`, in either file.
pub fn find(name: &str) -> Option<&'static Struct> {
    image::STRUCTS
        .iter()
        .chain(ioctl::STRUCTS)
        .find(|s| s.name == name)
}

/// The struct a record of type `kind` ([`crate::abi::image::rec`]) starts with.
pub fn record_struct(kind: u32) -> Option<&'static Struct> {
    let (_, name) = image::RECORDS.iter().find(|(k, _)| *k == kind)?;
    find(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::image::{self as img, rec};

    #[test]
    fn records_name_their_structs() {
        let vma = record_struct(rec::VMA).expect("VMA has a struct");
        assert_eq!(vma.name, "CkptVmaRec");
        assert_eq!(vma.size, size_of::<img::CkptVmaRec>());
        let start = vma.fields.iter().find(|f| f.name == "start").unwrap();
        assert_eq!((start.offset, start.size, start.ty), (0, 8, "u64"));
        // Every record type but the unknown ones has its struct.
        for kind in [
            rec::HEADER,
            rec::TREE,
            rec::MM,
            rec::PAGES,
            rec::REGS,
            rec::TAIL,
        ] {
            assert!(record_struct(kind).is_some(), "{}", rec::name(kind));
        }
        assert!(record_struct(0).is_none());
        assert_eq!(
            find("CkptRestartArgs").unwrap().size,
            size_of::<crate::abi::CkptRestartArgs>()
        );
    }
}
