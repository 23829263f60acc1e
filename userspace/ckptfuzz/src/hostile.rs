// SPDX-License-Identifier: GPL-2.0

//! Hostile images for `rstr`: the synthetic image ([`crate::synth`]) with one record of
//! the kinds `rstr` restores itself (epolls, FIFOs, deleted files and their data, memfds,
//! TCP and UDP sockets, POSIX timers) changed as no checkpoint writes it, each with the
//! reason `rstr` must refuse it for before it makes anything (`ckptlib::restart::scan`).
//! `ckpt-fuzz hostile-images DIR` writes them for `selftests/test_fuzz.py`, which gives
//! them to `rstr` as an ordinary user; the unit test below scans each on the host.

use std::mem::size_of;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use ckptlib::abi::image::{self as img, rec};
use ckptlib::image::Record;

/// The index of the `n`th record of type `kind`.
fn nth(recs: &[Record], kind: u32, n: usize) -> usize {
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == kind)
        .nth(n)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("the synthetic image has no {} {n}", rec::name(kind)))
}

/// The index of the `FILE` record of descriptor `fd`.
fn fd_at(recs: &[Record], fd: i32) -> usize {
    recs.iter()
        .position(|r| {
            r.kind == rec::FILE
                && img::CkptFileRec::read_from_prefix(&r.payload).is_ok_and(|(f, _)| f.fd == fd)
        })
        .unwrap_or_else(|| panic!("the synthetic image has no fd {fd}"))
}

/// Changes the fixed part of record `i`, a `T`.
fn edit<T: FromBytes + IntoBytes + Immutable + KnownLayout>(
    recs: &mut [Record],
    i: usize,
    f: impl FnOnce(&mut T),
) {
    let p = &mut recs[i].payload;
    let (mut v, _) = T::read_from_prefix(p).expect("a record of the synthetic image");
    f(&mut v);
    p[..size_of::<T>()].copy_from_slice(v.as_bytes());
}

/// Changes the fixed part of the `n`th record of type `kind`, a `T`.
fn edit_nth<T: FromBytes + IntoBytes + Immutable + KnownLayout>(
    recs: &mut [Record],
    kind: u32,
    n: usize,
    f: impl FnOnce(&mut T),
) {
    let i = nth(recs, kind, n);
    edit(recs, i, f);
}

/// The `TAIL` counts the records before it.
fn fix_tail(recs: &mut [Record]) {
    let n = recs.len() - 1;
    edit(recs, n, |t: &mut img::CkptTailRec| t.nr_records = n as u64);
}

type Edit = fn(&mut Vec<Record>);

/// (name, what is changed, a part of the reason of the refusal).
const CASES: &[(&str, Edit, &str)] = &[
    (
        "pages-ref-forward",
        |r| {
            edit_nth(r, rec::PAGES_REF, 0, |p: &mut img::CkptPagesRefRec| {
                p.src = 1 << 40
            })
        },
        "its contents at 0x10000000000 are not before it",
    ),
    (
        "pages-ref-wraps",
        |r| {
            edit_nth(r, rec::PAGES_REF, 0, |p: &mut img::CkptPagesRefRec| {
                p.src = u64::MAX - 100
            })
        },
        "are not before it",
    ),
    (
        "inotify-watches-out-of-order",
        |r| {
            edit_nth(
                r,
                rec::INOTIFY_WATCH,
                1,
                |w: &mut img::CkptInotifyWatchRec| w.wd = 1,
            )
        },
        "after watch 1: not in increasing order",
    ),
    (
        "inotify-mask-beyond",
        |r| {
            edit_nth(
                r,
                rec::INOTIFY_WATCH,
                0,
                |w: &mut img::CkptInotifyWatchRec| w.mask |= libc::IN_MASK_ADD,
            )
        },
        "it must name events, and nothing beyond",
    ),
    (
        "epoll-watches-itself",
        |r| {
            let i = nth(r, rec::EPOLL, 0);
            r[i].payload[8..12].copy_from_slice(&9u32.to_ne_bytes());
        },
        "EPOLL record 9: item of fd 6 is the epoll itself",
    ),
    (
        "epolls-in-a-loop",
        |r| {
            // Epoll 9 watches epoll 30 (fd 30), which watches epoll 9 (fd 10).
            let i = nth(r, rec::EPOLL, 0);
            let mut it = img::CkptEpollItem::read_from_bytes(&r[i].payload[8..]).unwrap();
            (it.obj, it.tfd) = (30, 30);
            r[i].payload[8..].copy_from_slice(it.as_bytes());
            (it.obj, it.tfd) = (9, 10);
            let ep = img::CkptEpollRec {
                id: 30,
                nr_items: 1,
            };
            let mut f = img::CkptFileRec::read_from_prefix(&r[i + 1].payload)
                .unwrap()
                .0;
            (f.fd, f.obj) = (30, 30);
            let at = nth(r, rec::XSTATE, 0);
            r.insert(
                at,
                Record {
                    kind: rec::EPOLL,
                    payload: [ep.as_bytes(), it.as_bytes()].concat(),
                },
            );
            r.insert(
                at + 1,
                Record {
                    kind: rec::FILE,
                    payload: f.as_bytes().to_vec(),
                },
            );
        },
        "epolls watch each other in a loop",
    ),
    (
        "epoll-item-of-no-file-of-its-table",
        |r| {
            // Its number may hold another file, or none (closed since EPOLL_CTL_ADD): its
            // target must be a file of the table.
            let i = nth(r, rec::EPOLL, 0);
            r[i].payload[8..12].copy_from_slice(&77u32.to_ne_bytes());
            r[i].payload[12..16].copy_from_slice(&99i32.to_ne_bytes());
        },
        "EPOLL record 9: item of fd 99 watches description 77, which its table does not have",
    ),
    (
        "epoll-items-beyond-bound",
        |r| {
            edit_nth(r, rec::EPOLL, 0, |e: &mut img::CkptEpollRec| {
                e.nr_items = u32::MAX
            })
        },
        "nr_items 4294967295 is above its maximum 65536",
    ),
    (
        "epoll-record-after-its-file",
        |r| {
            // Epoll 9's record moved after its FILE (fd 10).
            let i = nth(r, rec::EPOLL, 0);
            r.swap(i, i + 1);
        },
        "fd 10 refers to epoll 9 before its EPOLL record",
    ),
    (
        "epoll-record-of-a-fifo-description",
        |r| {
            // An epoll record with the id of the FIFO's description (fd 11), after its FILE.
            let ep = img::CkptEpollRec {
                id: 10,
                nr_items: 0,
            };
            let at = nth(r, rec::XSTATE, 0);
            r.insert(
                at,
                Record {
                    kind: rec::EPOLL,
                    payload: ep.as_bytes().to_vec(),
                },
            );
        },
        "EPOLL record 10: after fd 11 of description 10, of kind FIFO",
    ),
    (
        "file-data-of-undeclared-file",
        |r| {
            let i = nth(r, rec::FILE_DATA, 0);
            edit(r, i, |d: &mut img::CkptFileDataRec| d.id = 99);
        },
        "FILE_DATA record of file 99: not right after its DELETED or MEMFD record",
    ),
    (
        "file-data-overlapping",
        |r| {
            let i = nth(r, rec::FILE_DATA, 1);
            edit(r, i, |d: &mut img::CkptFileDataRec| d.offset = 2);
        },
        "offset 2 overlaps or precedes the data before it",
    ),
    (
        "file-data-offset-overflows",
        |r| {
            let i = nth(r, rec::FILE_DATA, 1);
            edit(r, i, |d: &mut img::CkptFileDataRec| d.offset = u64::MAX - 2);
        },
        "beyond its size 12298",
    ),
    (
        "file-data-after-its-file",
        |r| {
            // The memfd's data moved after its FILE.
            let i = nth(r, rec::FILE_DATA, 2);
            r.swap(i, i + 1);
        },
        "FILE_DATA record of file 15: not right after",
    ),
    (
        "memfd-unknown-seals",
        |r| {
            edit_nth(r, rec::MEMFD, 0, |m: &mut img::CkptMemfdRec| {
                m.seals |= 0x4000
            })
        },
        "MEMFD record 15: unknown seals",
    ),
    (
        "memfd-name-too-long",
        |r| {
            edit_nth(r, rec::MEMFD, 0, |m: &mut img::CkptMemfdRec| {
                m.name_len = 300
            })
        },
        "name_len 300 is above its maximum 249",
    ),
    (
        "memfd-as-a-deleted-file",
        |r| {
            // The memfd's FILE (fd 13) says it is the deleted file's description.
            let i = fd_at(r, 13);
            edit(r, i, |f: &mut img::CkptFileRec| f.obj = 12);
        },
        "fd 13 is description 12 of kind MEMFD (object 15), which fd 12 has as kind DELETED",
    ),
    (
        "deleted-twice",
        |r| {
            let i = nth(r, rec::DELETED, 0);
            let d = r[i].clone();
            r.insert(i + 4, d);
        },
        "DELETED record 13 appears twice",
    ),
    (
        "deleted-not-a-regular-file",
        |r| {
            edit_nth(r, rec::DELETED, 0, |d: &mut img::CkptDeletedRec| {
                d.mode = libc::S_IFDIR | 0o700
            })
        },
        "DELETED record 13: mode 0o40700 is not a regular file's",
    ),
    (
        "removed-dir-before-its-record",
        |r| {
            // The removed directory's FILEs (fds 20 and 21) come before its record.
            let i = nth(r, rec::REMOVED_DIR, 0);
            let d = r.remove(i);
            r.insert(i + 2, d);
        },
        "fd 20 refers to removed directory 26 before its REMOVED_DIR record",
    ),
    (
        "removed-dir-open-for-writing",
        |r| {
            let i = fd_at(r, 21);
            edit(r, i, |f: &mut img::CkptFileRec| {
                f.flags = libc::O_RDWR as u32
            });
        },
        "fd 21: a removed directory open for writing",
    ),
    (
        "removed-dir-mode-with-type",
        |r| {
            edit_nth(r, rec::REMOVED_DIR, 0, |d: &mut img::CkptRemovedDirRec| {
                d.mode = libc::S_IFDIR | 0o751
            })
        },
        "REMOVED_DIR record 26: mode 0o40751 has more than permission bits",
    ),
    (
        "udp-family-unknown",
        |r| {
            edit_nth(r, rec::INET_SOCK, 1, |s: &mut img::CkptInetSockRec| {
                s.family = 99
            })
        },
        "inet socket 16: family 99 is not AF_INET or AF_INET6",
    ),
    (
        "udp-state-unknown",
        |r| {
            edit_nth(r, rec::INET_SOCK, 1, |s: &mut img::CkptInetSockRec| {
                s.state = 7
            })
        },
        "inet socket 16: state 7 unknown",
    ),
    (
        "udp-listening",
        |r| {
            edit_nth(r, rec::INET_SOCK, 1, |s: &mut img::CkptInetSockRec| {
                s.state = img::inet_state::LISTENING
            })
        },
        "inet socket 16: listening, yet not TCP",
    ),
    (
        "fifo-on-an-anonymous-pipe",
        |r| {
            // The FIFO (fd 11) names the PIPE record of the anonymous pipe of fd 3.
            let i = fd_at(r, 11);
            edit(r, i, |f: &mut img::CkptFileRec| f.pipe = 1);
        },
        "fd 11 has PIPE record 1 as a FIFO, which fd 3 has as an anonymous pipe",
    ),
    (
        "fifo-of-a-file-mode",
        |r| {
            let i = fd_at(r, 11);
            edit(r, i, |f: &mut img::CkptFileRec| {
                f.mode = libc::S_IFREG | 0o600
            });
        },
        "FILE record: fd 11: a FIFO of mode 0o100600",
    ),
    (
        "pipe-reserved",
        |r| edit_nth(r, rec::PIPE, 1, |p: &mut img::CkptPipeRec| p.__reserved = 3),
        "PIPE record: reserved field __reserved is 0x3",
    ),
    (
        "file-reserved",
        |r| {
            let i = fd_at(r, 14);
            edit(r, i, |f: &mut img::CkptFileRec| f.__reserved = 1);
        },
        "FILE record: reserved field __reserved is 0x1",
    ),
    (
        "cloexec-not-0-or-1",
        |r| {
            let i = fd_at(r, 14);
            edit(r, i, |f: &mut img::CkptFileRec| f.cloexec = 7);
        },
        "FILE record: fd 14: cloexec 7 is not 0 or 1",
    ),
    (
        "file-kind-unknown",
        |r| {
            let i = fd_at(r, 14);
            edit(r, i, |f: &mut img::CkptFileRec| f.kind = 99);
        },
        "FILE record: fd 14 of kind 99 and INET_SOCK record 16 disagree",
    ),
    (
        "posix-timer-unknown-flags",
        |r| {
            edit_nth(r, rec::POSIX_TIMER, 0, |t: &mut img::CkptPosixTimerRec| {
                t.flags = 2
            })
        },
        "POSIX_TIMER 0: unknown flags 0x2",
    ),
    (
        "posix-timer-clock-unknown",
        |r| {
            edit_nth(r, rec::POSIX_TIMER, 0, |t: &mut img::CkptPosixTimerRec| {
                t.clock = libc::CLOCK_PROCESS_CPUTIME_ID
            })
        },
        "POSIX_TIMER 0: clock 2 is not",
    ),
    (
        "posix-timer-pending-past-interval",
        |r| {
            edit_nth(r, rec::POSIX_TIMER, 0, |t: &mut img::CkptPosixTimerRec| {
                (t.flags, t.value_ns) = (img::CKPT_POSIX_TIMER_PENDING, t.interval_ns + 1)
            })
        },
        "a pending signal, and 30000001 ns to the next expiry, more than its interval",
    ),
    (
        "skb-fds-names-no-description",
        |r| {
            let i = nth(r, rec::SKB_FDS, 0);
            let n = r[i].payload.len();
            r[i].payload[n - 4..].copy_from_slice(&77u32.to_ne_bytes());
        },
        "message 0 carries description 77, which no FILE record has",
    ),
    (
        "skb-fds-too-many",
        |r| {
            edit_nth(r, rec::SKB_FDS, 0, |f: &mut img::CkptSkbFdsRec| {
                f.nr_fds = 254
            })
        },
        "nr_fds",
    ),
    (
        "skb-fds-none",
        |r| {
            edit_nth(r, rec::SKB_FDS, 0, |f: &mut img::CkptSkbFdsRec| {
                f.nr_fds = 0
            })
        },
        "nr_fds",
    ),
    (
        "skb-fds-beyond-the-queue",
        |r| edit_nth(r, rec::SKB_FDS, 0, |f: &mut img::CkptSkbFdsRec| f.skb = 1),
        "message 1 out of order or beyond its 1 messages",
    ),
    (
        "skb-fds-of-another-socket",
        |r| edit_nth(r, rec::SKB_FDS, 0, |f: &mut img::CkptSkbFdsRec| f.sock = 20),
        "SKB_FDS record of unix socket 20: not right after its UNIX_SOCK and SKB records",
    ),
    (
        "skb-fds-description-0",
        |r| {
            let i = nth(r, rec::SKB_FDS, 0);
            let n = r[i].payload.len();
            r[i].payload[n - 4..].copy_from_slice(&0u32.to_ne_bytes());
        },
        "SKB_FDS record of unix socket 19: description 0",
    ),
    (
        "in-flight-file-of-a-socket",
        |r| {
            let i = fd_at(r, img::CKPT_FD_IN_FLIGHT);
            edit(r, i, |f: &mut img::CkptFileRec| {
                f.kind = img::file_kind::UNIX_SOCKET
            });
        },
        "FILE record of description 18 in flight: kind 8 is not a regular file",
    ),
    (
        "in-flight-file-close-on-exec",
        |r| {
            let i = fd_at(r, img::CKPT_FD_IN_FLIGHT);
            edit(r, i, |f: &mut img::CkptFileRec| f.cloexec = 1);
        },
        "FILE record of description 18 in flight: close-on-exec",
    ),
    (
        "in-flight-pipe-without-its-pipe",
        |r| {
            let i = fd_at(r, img::CKPT_FD_IN_FLIGHT);
            edit(r, i, |f: &mut img::CkptFileRec| f.pipe = 99);
        },
        "refers to pipe 99 before its PIPE record",
    ),
];

/// The hostile images: (name, bytes, a part of the reason `rstr` must give).
pub fn images() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let seed = crate::mutate::split(&crate::synth::image()).expect("the synthetic image");
    CASES
        .iter()
        .map(|&(name, change, reason)| {
            let mut recs = seed.clone();
            change(&mut recs);
            fix_tail(&mut recs);
            (name, crate::mutate::encode(&recs), reason)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ckptlib::image::RecordReader;
    use ckptlib::restart::scan;

    #[test]
    fn each_hostile_image_is_refused_for_its_reason() {
        let all = super::images();
        assert_eq!(all.len(), super::CASES.len());
        for (name, bytes, reason) in all {
            let e = scan(&mut RecordReader::new(Cursor::new(&bytes[..])))
                .map(|_| ())
                .expect_err(name);
            let e = format!("{e:#}");
            assert!(e.contains(reason), "{name}: {e}\n  lacks: {reason}");
        }
    }
}
