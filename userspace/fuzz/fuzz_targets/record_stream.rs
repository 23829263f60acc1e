// SPDX-License-Identifier: GPL-2.0

//! The framing layer alone, as `rstr` reads a file: `ImageReader` skipping the module's
//! records through a small `BufReader` (payloads skipped in the buffer and by `lseek`),
//! then every record of the same bytes parsed on its own (`ckptlib::image::parse`).

#![no_main]

use std::io::{BufReader, Cursor};

use ckptlib::image::{parse, ImageReader, RecordReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut records = RecordReader::new(BufReader::with_capacity(64, Cursor::new(data)));
    let mut rd = ImageReader::new(&mut records);
    while let Ok(Some(_)) = rd.next_skipping_module_records() {}
    let mut raw = RecordReader::new(data);
    while let Ok(Some(r)) = raw.next_record() {
        let _ = parse(r.kind, &r.payload);
    }
});
