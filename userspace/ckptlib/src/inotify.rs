// SPDX-License-Identifier: GPL-2.0

//! inotify descriptions of an image (`INOTIFY` and `INOTIFY_WATCH` records): what
//! [`crate::image`] parses and [`crate::restart::scan`] checks before `rstr` makes them
//! again, and how a watch's path, saved from the root of its filesystem, becomes a path
//! here again through a mount of that filesystem ([`candidates`]).

use anyhow::{ensure, Context, Result};

use crate::abi::image as img;

/// One watch: its descriptor, mask, the inode it was on and that inode's path from the
/// root of its filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub wd: i32,
    pub mask: u32,
    pub ino: u64,
    /// The filesystem's device, as `st_dev` encodes it.
    pub dev: u32,
    pub path: String,
}

/// One `INOTIFY` record and its watches, in increasing `wd`.
#[derive(Debug, Clone, Default)]
pub struct InotifyImage {
    pub id: u32,
    pub watches: Vec<Watch>,
}

/// `IN_*` bits (`<sys/inotify.h>`) by name, for people.
const NAMES: [(u32, &str); 14] = [
    (libc::IN_ACCESS, "ACCESS"),
    (libc::IN_MODIFY, "MODIFY"),
    (libc::IN_ATTRIB, "ATTRIB"),
    (libc::IN_CLOSE_WRITE, "CLOSE_WRITE"),
    (libc::IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"),
    (libc::IN_OPEN, "OPEN"),
    (libc::IN_MOVED_FROM, "MOVED_FROM"),
    (libc::IN_MOVED_TO, "MOVED_TO"),
    (libc::IN_CREATE, "CREATE"),
    (libc::IN_DELETE, "DELETE"),
    (libc::IN_DELETE_SELF, "DELETE_SELF"),
    (libc::IN_MOVE_SELF, "MOVE_SELF"),
    (libc::IN_EXCL_UNLINK, "EXCL_UNLINK"),
    (libc::IN_ONESHOT, "ONESHOT"),
];

/// The names of the bits of a watch's mask.
pub fn event_names(mask: u32) -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|&(_, name)| name)
        .collect()
}

/// A path from a filesystem's root as the module writes it (`dentry_path_raw`): absolute,
/// UTF-8 here, no empty, `.` or `..` component, so that joined to a mount point it stays
/// below it.
fn check_path(bytes: &[u8], what: &str) -> Result<String> {
    let s = std::str::from_utf8(bytes).with_context(|| format!("{what}: path is not UTF-8"))?;
    ensure!(s.starts_with('/'), "{what}: path {s:?} is not absolute");
    if s != "/" {
        ensure!(
            s[1..].split('/').all(|c| !matches!(c, "" | "." | "..")),
            "{what}: path {s:?} has an empty, . or .. component"
        );
    }
    Ok(s.to_owned())
}

impl InotifyImage {
    /// Checks an `INOTIFY` record and the `INOTIFY_WATCH` records that followed it (the
    /// reader checked there are `nr_watches` of them).
    pub fn new(
        r: &img::CkptInotifyRec,
        watches: Vec<(img::CkptInotifyWatchRec, Vec<u8>)>,
    ) -> Result<Self> {
        let id = r.id;
        let mut out: Vec<Watch> = Vec::with_capacity(watches.len());
        for (w, path) in watches {
            let what = format!("INOTIFY_WATCH record {} of inotify {id}", w.wd);
            ensure!(
                w.wd >= 1 && w.wd as u32 <= img::CKPT_INOTIFY_WD_MAX,
                "{what}: watch descriptor out of range 1..={}",
                img::CKPT_INOTIFY_WD_MAX
            );
            if let Some(prev) = out.last() {
                ensure!(
                    w.wd > prev.wd,
                    "{what}: after watch {}: not in increasing order",
                    prev.wd
                );
            }
            ensure!(
                w.mask & !img::CKPT_INOTIFY_MASK == 0 && w.mask & libc::IN_ALL_EVENTS != 0,
                "{what}: mask {:#x} (it must name events, and nothing beyond {:#x})",
                w.mask,
                img::CKPT_INOTIFY_MASK
            );
            let path = check_path(&path, &what)?;
            out.push(Watch {
                wd: w.wd,
                mask: w.mask,
                ino: w.ino,
                dev: w.dev,
                path,
            });
        }
        Ok(InotifyImage { id, watches: out })
    }
}

/// Undoes the octal escapes of `/proc/PID/mountinfo` (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) if b[i] == b'\\' => {
                out.push(o.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The paths here at which the file of `path` (from the root of the filesystem of device
/// `dev`, as `st_dev` encodes it) may be, by the mounts of `mountinfo` (the text of
/// `/proc/self/mountinfo`) of that filesystem whose root is at or above it: the most
/// specific mount (the longest root) first.
pub fn candidates(mountinfo: &str, dev: u32, path: &str) -> Vec<String> {
    let (major, minor) = (libc::major(dev.into()), libc::minor(dev.into()));
    let want = format!("{major}:{minor}");
    let mut found: Vec<(usize, String)> = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(&d), Some(root), Some(at)) = (f.get(2), f.get(3), f.get(4)) else {
            continue;
        };
        if d != want {
            continue;
        }
        let (root, at) = (unescape(root), unescape(at));
        let rest = if root == "/" {
            Some(path)
        } else if path == root {
            Some("")
        } else {
            path.strip_prefix(root.as_str())
                .filter(|r| r.starts_with('/'))
        };
        let Some(rest) = rest else { continue };
        let full = match (at.as_str(), rest) {
            (at, "" | "/") => at.to_owned(),
            ("/", rest) => rest.to_owned(),
            (at, rest) => format!("{at}{rest}"),
        };
        if !found.iter().any(|(_, p)| *p == full) {
            found.push((root.len(), full));
        }
    }
    // Stable: among mounts of one root, the first listed first.
    found.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    found.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(wd: i32, mask: u32, path: &str) -> (img::CkptInotifyWatchRec, Vec<u8>) {
        (
            img::CkptInotifyWatchRec {
                wd,
                mask,
                ino: 12,
                dev: 0x801,
                path_len: path.len() as u32,
            },
            path.as_bytes().to_vec(),
        )
    }

    fn rec(n: u32) -> img::CkptInotifyRec {
        img::CkptInotifyRec {
            id: 3,
            nr_watches: n,
        }
    }

    #[test]
    fn watches_in_order_with_known_bits_are_taken() {
        let i = InotifyImage::new(
            &rec(2),
            vec![
                watch(1, libc::IN_CREATE | libc::IN_ONESHOT, "/tmp/d"),
                watch(7, libc::IN_MODIFY, "/"),
            ],
        )
        .unwrap();
        assert_eq!(i.watches.len(), 2);
        assert_eq!((i.watches[1].wd, i.watches[1].path.as_str()), (7, "/"));
        assert_eq!(event_names(i.watches[0].mask), ["CREATE", "ONESHOT"]);
    }

    #[test]
    fn hostile_watches_are_refused() {
        let max = img::CKPT_INOTIFY_WD_MAX as i32;
        for bad in [
            vec![watch(0, libc::IN_MODIFY, "/a")],
            vec![watch(max + 1, libc::IN_MODIFY, "/a")],
            vec![
                watch(2, libc::IN_MODIFY, "/a"),
                watch(2, libc::IN_MODIFY, "/b"),
            ],
            vec![
                watch(3, libc::IN_MODIFY, "/a"),
                watch(2, libc::IN_MODIFY, "/b"),
            ],
            vec![watch(1, libc::IN_MASK_ADD | libc::IN_MODIFY, "/a")],
            vec![watch(1, libc::IN_ONESHOT, "/a")],
            vec![watch(1, libc::IN_MODIFY, "a")],
            vec![watch(1, libc::IN_MODIFY, "/a/../../etc")],
            vec![watch(1, libc::IN_MODIFY, "/a//b")],
            vec![watch(1, libc::IN_MODIFY, "/a/")],
        ] {
            let n = bad.len() as u32;
            assert!(InotifyImage::new(&rec(n), bad.clone()).is_err(), "{bad:?}");
        }
    }

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
31 22 8:1 /srv/data /mnt/my\\040data rw - ext4 /dev/sda1 rw
32 22 8:1 /srv/data /data rw - ext4 /dev/sda1 rw
";

    #[test]
    fn paths_are_found_through_the_mounts_of_their_filesystem() {
        let sda1 = libc::makedev(8, 1) as u32;
        let tmp = libc::makedev(0, 25) as u32;
        assert_eq!(candidates(MOUNTINFO, tmp, "/d/f"), ["/tmp/d/f"]);
        assert_eq!(candidates(MOUNTINFO, tmp, "/"), ["/tmp"]);
        // The bind mounts of /srv/data come first, in their order, then the root's.
        assert_eq!(
            candidates(MOUNTINFO, sda1, "/srv/data/x"),
            ["/mnt/my data/x", "/data/x", "/srv/data/x"]
        );
        assert_eq!(candidates(MOUNTINFO, sda1, "/srv/datax"), ["/srv/datax"]);
        assert!(candidates(MOUNTINFO, libc::makedev(9, 9) as u32, "/x").is_empty());
    }
}
