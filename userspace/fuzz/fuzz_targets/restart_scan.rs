// SPDX-License-Identifier: GPL-2.0

//! `rstr`'s scan of an image before it creates anything (`ckptlib::restart::scan`): the
//! records `rstr` restores decoded and checked, the module's skipped by seeking, the tree
//! checked. Any input must be scanned or refused, never panic.

#![no_main]

use std::io::Cursor;

use ckptlib::image::RecordReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ckptlib::restart::scan(&mut RecordReader::new(Cursor::new(data)));
});
