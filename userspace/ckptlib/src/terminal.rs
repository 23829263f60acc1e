// SPDX-License-Identifier: GPL-2.0

//! Which open files of an image are terminals: `ckpt show` marks them, and `rstr` gives
//! them its own descriptors instead of reopening them (Documentation/restart.rst,
//! "Terminals").
//!
//! A terminal is a character device of one of the tty majors (the kernel's
//! `Documentation/admin-guide/devices.txt`):
//!
//! | major     | devices                                                     | kind      |
//! | --------- | ----------------------------------------------------------- | --------- |
//! | 4         | virtual consoles `/dev/tty0`..`63`, serial ports `/dev/ttyS*` | `tty`     |
//! | 5, minor 0 | `/dev/tty`, the opener's controlling terminal              | `tty`     |
//! | 5, minor 1 | `/dev/console`                                             | `console` |
//! | 136-143   | Unix98 pty slaves, `/dev/pts/*`                             | `pty`     |
//! | 229       | hypervisor consoles, `/dev/hvc*`                            | `console` |
//!
//! and the virtio console's ports, `/dev/vport*` (their major is allocated at boot, so
//! they are known by path), kind `console`. `/dev/ptmx` (5:2) is a pty master, not a
//! terminal: it is not in the list.

use crate::abi::image::{file_kind, CkptFileRec};
use crate::restart::decode_dev;

const S_IFMT: u32 = 0o170000;
const S_IFCHR: u32 = 0o020000;

/// The kind of terminal an open file of the image is (`tty`, `pty` or `console`), or `None`.
pub fn terminal_kind(f: &CkptFileRec, path: &str) -> Option<&'static str> {
    if f.kind != file_kind::CHARDEV || f.mode & S_IFMT != S_IFCHR {
        return None;
    }
    match decode_dev(f.rdev) {
        (4, _) | (5, 0) => Some("tty"),
        (5, 1) | (229, _) => Some("console"),
        (136..=143, _) => Some("pty"),
        _ if path.starts_with("/dev/vport") || path.starts_with("/dev/hvc") => Some("console"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chardev(ma: u32, mi: u32) -> CkptFileRec {
        CkptFileRec {
            fd: 1,
            kind: file_kind::CHARDEV,
            flags: 2,
            cloexec: 0,
            pos: 0,
            mode: S_IFCHR | 0o620,
            rdev: (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12),
            path_len: 0,
            obj: 1,
            pipe: 0,
            __reserved: 0,
        }
    }

    #[test]
    fn tty_majors_and_console_ports_are_terminals() {
        assert_eq!(terminal_kind(&chardev(136, 3), "/dev/pts/3"), Some("pty"));
        assert_eq!(
            terminal_kind(&chardev(143, 300), "/dev/pts/2347"),
            Some("pty")
        );
        assert_eq!(terminal_kind(&chardev(4, 1), "/dev/tty1"), Some("tty"));
        assert_eq!(terminal_kind(&chardev(4, 64), "/dev/ttyS0"), Some("tty"));
        assert_eq!(terminal_kind(&chardev(5, 0), "/dev/tty"), Some("tty"));
        assert_eq!(
            terminal_kind(&chardev(5, 1), "/dev/console"),
            Some("console")
        );
        assert_eq!(
            terminal_kind(&chardev(229, 0), "/dev/hvc0"),
            Some("console")
        );
        assert_eq!(
            terminal_kind(&chardev(251, 1), "/dev/vport4p1"),
            Some("console")
        );
    }

    #[test]
    fn other_devices_and_files_are_not() {
        assert_eq!(terminal_kind(&chardev(5, 2), "/dev/ptmx"), None);
        assert_eq!(terminal_kind(&chardev(1, 3), "/dev/null"), None);
        assert_eq!(terminal_kind(&chardev(144, 0), "/dev/x"), None);
        let mut reg = chardev(136, 3);
        reg.kind = file_kind::REGULAR;
        reg.mode = 0o100644;
        assert_eq!(terminal_kind(&reg, "/dev/pts/3"), None);
    }
}
