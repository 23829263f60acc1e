// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`'s views (`ckptlib::image::views`) of a known image.

#[path = "common/views_image.rs"]
mod views_image;

use ckptlib::image::views::Contents;

#[test]
fn dump() {
    let c = Contents::read(&views_image::complete()[..]);
    print!("{}{}{}{}{}", c.ps().text(), c.mems().text(), c.fds().text(), c.summary().text(), c.errors().text());
    let c = Contents::read(&views_image::failed()[..]);
    print!("{}{}{}{}{}", c.ps().text(), c.mems().text(), c.fds().text(), c.summary().text(), c.errors().text());
    let b = views_image::complete();
    let c = Contents::read(&b[..b.len() - 100]);
    print!("{}", c.errors().text());
    println!("{}", serde_json::to_string(&c.ps()).unwrap());
    let img = ckptlib::restart::scan(&mut ckptlib::image::RecordReader::new(std::io::Cursor::new(&b[..])));
    println!("{:?}", img.err());
}
