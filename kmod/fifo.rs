// SPDX-License-Identifier: GPL-2.0

//! Named pipes (FIFOs): a `FILE` record of kind [`file_kind::FIFO`] per open file
//! description, with its flags (the access mode, `O_NONBLOCK`) and its path, and one `PIPE`
//! record per FIFO (its buffered bytes and capacity), shared by every description of it in
//! every process of the tree: the FIFO's identity is its inode's `pipe_inode_info`, as for
//! an anonymous pipe.
//!
//! A FIFO whose path was removed (or replaced by another file: its dentry is unlinked) is
//! saved without a path: `rstr` makes a private FIFO for it, so that its descriptions still
//! share one pipe with its bytes (Documentation/files.rst "Named pipes").

use kernel::alloc::VVec;
use kernel::prelude::*;

use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult};
use crate::files::{reopenable, save_pipe, show};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{file_kind, rec};

/// The `PIPE` record of the FIFO open at `o` (the first time it is met) and the `FILE`
/// record of this description; `path` is the FIFO's path as `d_path` shows it.
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    path: &[u8],
    buf: &mut VVec<u8>,
) -> CkptResult {
    let fd = o.fd;
    if o.facts.pipe_id == 0 {
        // An open FIFO always has its pipe.
        refuse!(EINVAL, "fd {fd}: FIFO {} without its pipe", show(path));
    }
    let linked = o.facts.unlinked == 0;
    if linked {
        reopenable(fmt!("fd {fd}: FIFO"), path)?;
    }
    let pipe = save_pipe(objs, w, fd, o.facts.pipe_id, buf, |b| task.pipe_data(fd, b))?;
    o.rec.kind = file_kind::FIFO;
    o.rec.pipe = pipe;
    o.rec.pos = 0;
    // Unlinked: no path names it any more (`d_path` ends it with " (deleted)").
    let path = if linked { path } else { &[][..] };
    o.rec.path_len = path.len() as u32;
    w.record(rec::FILE, &[o.rec.as_bytes(), path])
}
