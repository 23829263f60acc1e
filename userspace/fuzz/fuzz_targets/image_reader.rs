// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`'s path: every record of an image read and checked by `ImageReader`, and
//! each decoded and rendered as `ckpt show --json` renders it. Any input must end in a
//! record or an error, never a panic, an overflow or a huge allocation.

#![no_main]

use ckptlib::image::{Decoded, ImageReader, RecordReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut records = RecordReader::new(data);
    let mut rd = ImageReader::new(&mut records);
    while let Ok(Some(r)) = rd.next_record() {
        let d = Decoded::from(&r);
        let _ = serde_json::to_string(&d).expect("a decoded record renders");
    }
});
