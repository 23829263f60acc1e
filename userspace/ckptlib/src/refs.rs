// SPDX-License-Identifier: GPL-2.0

//! How the records of the descriptor tables refer to one another, beyond what each kind's
//! own checks see: checked by [`crate::restart::scan`] as the records are read, so that
//! an image written by hand (not by a checkpoint) is refused with the record and field,
//! before `rstr` makes anything.
//!
//! - One open file description (`FILE.obj`) is of one kind and one object (`FILE.pipe`) in
//!   every `FILE` record naming it: `rstr` makes it once, from the first.
//! - A `PIPE` record is an anonymous pipe's or a FIFO's, never both.
//! - An `EPOLL`, `INET_SOCK`, `INOTIFY`, `EVENTFD`, `TIMERFD` or `SIGNALFD` record comes before
//!   every `FILE` of its description.
//! - A `FIFO`'s `FILE` has a FIFO's mode; `cloexec` is 0 or 1.
//! - `FILE_DATA` records come right after their file's `DELETED` or `MEMFD` record (or its
//!   other `FILE_DATA` records), before any other record: in the table that declares it.

use std::collections::HashMap;

use anyhow::{bail, ensure, Result};

use crate::abi::image::{self as img, file_kind, rec};
use crate::image::Rec;

/// What the records read so far declared.
#[derive(Debug, Default)]
pub struct Refs {
    /// Each description: the kind and object of its first `FILE`, and that `FILE`'s fd.
    descs: HashMap<u32, (u32, u32, i32)>,
    /// Each pipe named by a `FILE`: whether a FIFO's, and the first `FILE`'s fd.
    pipes: HashMap<u32, (bool, i32)>,
    /// The deleted file or memfd whose `FILE_DATA` may come next.
    data_for: Option<u32>,
}

/// A kind for people.
fn kind_name(kind: u32) -> &'static str {
    match kind {
        file_kind::REGULAR => "REGULAR",
        file_kind::CHARDEV => "CHARDEV",
        file_kind::DIRECTORY => "DIRECTORY",
        file_kind::PIPE => "PIPE",
        file_kind::EVENTFD => "EVENTFD",
        file_kind::TIMERFD => "TIMERFD",
        file_kind::SIGNALFD => "SIGNALFD",
        file_kind::UNIX_SOCKET => "UNIX_SOCKET",
        file_kind::EPOLL => "EPOLL",
        file_kind::INET_SOCKET => "INET_SOCKET",
        file_kind::FIFO => "FIFO",
        file_kind::MEMFD => "MEMFD",
        file_kind::DELETED => "DELETED",
        file_kind::REMOVED_DIR => "REMOVED_DIR",
        file_kind::INOTIFY => "INOTIFY",
        file_kind::MQUEUE => "MQUEUE",
        _ => "unknown",
    }
}

impl Refs {
    /// Checks a record of a descriptor table where it stands: a `FILE_DATA` only right
    /// after its file's records.
    pub fn record(&mut self, r: &Rec) -> Result<()> {
        if let Rec::FileData { data, .. } = r {
            ensure!(
                self.data_for == Some(data.id),
                "FILE_DATA record of file {}: not right after its DELETED or MEMFD record and \
                 its other FILE_DATA records",
                data.id
            );
        }
        // An object's record comes before the `FILE`s of its description, and no `FILE`
        // of another kind has its id already (`rstr` would take that file for it).
        let object = match r {
            Rec::Epoll { epoll, .. } => Some(epoll.id),
            Rec::InetSock(s) => Some(s.id),
            Rec::Anonfd(a) => Some(a.id()),
            Rec::Inotify(i) => Some(i.id),
            _ => None,
        };
        if let Some(id) = object {
            if let Some(&(k, _, fd)) = self.descs.get(&id) {
                bail!(
                    "{} record {id}: after fd {fd} of description {id}, of kind {}",
                    rec::name(r.kind()),
                    kind_name(k)
                );
            }
        }
        self.data_for = match r {
            Rec::Deleted(d) => Some(d.id),
            Rec::Memfd { memfd, .. } => Some(memfd.id),
            Rec::FileData { data, .. } => Some(data.id),
            _ => None,
        };
        Ok(())
    }

    /// Whether a `FILE` record read so far is of description `obj`.
    pub fn described(&self, obj: u32) -> bool {
        self.descs.contains_key(&obj)
    }

    /// Checks a `FILE` record against the descriptions and pipes of the ones before it.
    pub fn file(&mut self, f: &img::CkptFileRec) -> Result<()> {
        let fd = f.fd;
        ensure!(
            f.cloexec <= 1,
            "FILE record: fd {fd}: cloexec {} is not 0 or 1",
            f.cloexec
        );
        ensure!(
            f.kind != file_kind::FIFO || f.mode & libc::S_IFMT == libc::S_IFIFO,
            "FILE record: fd {fd}: a FIFO of mode {:#o}",
            f.mode
        );
        let &mut (kind, pipe, first) = self.descs.entry(f.obj).or_insert((f.kind, f.pipe, fd));
        ensure!(
            (kind, pipe) == (f.kind, f.pipe),
            "FILE record: fd {fd} is description {} of kind {} (object {}), which fd {first} has \
             as kind {} (object {pipe})",
            f.obj,
            kind_name(f.kind),
            f.pipe,
            kind_name(kind)
        );
        if matches!(f.kind, file_kind::PIPE | file_kind::FIFO) {
            let fifo = f.kind == file_kind::FIFO;
            let &mut (was, first) = self.pipes.entry(f.pipe).or_insert((fifo, fd));
            let what = |fifo| if fifo { "a FIFO" } else { "an anonymous pipe" };
            ensure!(
                was == fifo,
                "FILE record: fd {fd} has PIPE record {} as {}, which fd {first} has as {}",
                f.pipe,
                what(fifo),
                what(was)
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn file(fd: i32, kind: u32, obj: u32, pipe: u32) -> img::CkptFileRec {
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.pipe) = (fd, kind, obj, pipe);
        if matches!(kind, file_kind::PIPE | file_kind::FIFO) {
            f.mode = libc::S_IFIFO | 0o600;
        }
        f
    }

    #[test]
    fn a_description_is_one_kind_and_object() {
        let mut r = Refs::default();
        r.file(&file(3, file_kind::PIPE, 1, 7)).unwrap();
        r.file(&file(4, file_kind::PIPE, 1, 7)).unwrap();
        let e = r.file(&file(5, file_kind::PIPE, 1, 8)).unwrap_err();
        assert!(e.to_string().contains("fd 5 is description 1"), "{e}");
        let e = r.file(&file(6, file_kind::REGULAR, 1, 0)).unwrap_err();
        assert!(
            e.to_string()
                .contains("of kind REGULAR (object 0), which fd 3 has as kind PIPE"),
            "{e}"
        );
    }

    #[test]
    fn a_pipe_is_anonymous_or_a_fifo() {
        let mut r = Refs::default();
        r.file(&file(3, file_kind::FIFO, 1, 7)).unwrap();
        r.file(&file(4, file_kind::FIFO, 2, 7)).unwrap();
        let e = r.file(&file(5, file_kind::PIPE, 3, 7)).unwrap_err();
        assert!(
            e.to_string()
                .contains("fd 5 has PIPE record 7 as an anonymous pipe, which fd 3 has as a FIFO"),
            "{e}"
        );
        let mut f = file(6, file_kind::FIFO, 4, 9);
        f.mode = libc::S_IFREG | 0o600;
        assert!(r
            .file(&f)
            .unwrap_err()
            .to_string()
            .contains("a FIFO of mode"));
        let mut f = file(7, file_kind::REGULAR, 5, 0);
        f.cloexec = 2;
        assert!(r.file(&f).unwrap_err().to_string().contains("cloexec 2"));
    }

    #[test]
    fn file_data_follows_its_file() {
        let mut d = img::CkptDeletedRec::new_zeroed();
        d.id = 4;
        let data = |id| Rec::FileData {
            data: img::CkptFileDataRec {
                id,
                len: 1,
                offset: 0,
            },
            bytes: vec![1],
        };
        let mut r = Refs::default();
        let e = r.record(&data(4)).unwrap_err();
        assert!(e.to_string().contains("FILE_DATA record of file 4"), "{e}");
        r.record(&Rec::Deleted(d)).unwrap();
        r.record(&data(4)).unwrap();
        r.record(&data(4)).unwrap();
        assert!(r.record(&data(5)).is_err(), "another file's");
        r.record(&Rec::Deleted(d)).unwrap();
        r.record(&Rec::File {
            file: file(3, file_kind::DELETED, 1, 4),
            path: b"/tmp/x".to_vec(),
        })
        .unwrap();
        assert!(r.record(&data(4)).is_err(), "after a FILE");
        let mut m = img::CkptMemfdRec::new_zeroed();
        m.id = 6;
        r.record(&Rec::Memfd {
            memfd: m,
            name: Vec::new(),
        })
        .unwrap();
        r.record(&data(6)).unwrap();
    }

    #[test]
    fn an_object_record_comes_before_its_files() {
        let mut r = Refs::default();
        r.file(&file(3, file_kind::REGULAR, 8, 0)).unwrap();
        let e = img::CkptEpollRec { id: 8, nr_items: 0 };
        let err = r
            .record(&Rec::Epoll {
                epoll: e,
                items: Vec::new(),
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("EPOLL record 8: after fd 3 of description 8, of kind REGULAR"),
            "{err}"
        );
        let mut s = img::CkptInetSockRec::new_zeroed();
        s.id = 8;
        assert!(r.record(&Rec::InetSock(s)).is_err());
        s.id = 9;
        r.record(&Rec::InetSock(s)).unwrap();
    }
}
