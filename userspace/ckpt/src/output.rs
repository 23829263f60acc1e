// SPDX-License-Identifier: GPL-2.0

//! Where `ckpt` writes an image: standard output, or a file that appears, whole and readable
//! by its owner only, when the checkpoint is complete.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The image's destination.
pub enum Output {
    Stdout(io::Stdout),
    /// An existing FIFO, socket or device: written as it is (a reader may be waiting on it).
    Direct(File),
    /// A regular file: written under `partial` beside `dest`, renamed to `dest` by
    /// [`Output::commit`]. Dropped without a commit, the partial file is removed; a `ckpt`
    /// killed meanwhile leaves it, named so, and `dest` as it was.
    Staged {
        file: File,
        partial: PathBuf,
        dest: PathBuf,
        done: bool,
    },
}

/// `IMAGE.partial-PID`: the name of an image still being written.
pub fn partial_name(dest: &Path, pid: u32) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(format!(".partial-{pid}"));
    PathBuf::from(name)
}

impl Output {
    /// `-` is standard output; a path names a file created 0600 (an image holds the memory
    /// of the processes), whatever the mode of the file it replaces.
    pub fn open(path: &Path) -> Result<Output> {
        if path.as_os_str() == "-" {
            return Ok(Output::Stdout(io::stdout()));
        }
        if let Ok(m) = std::fs::metadata(path) {
            let t = m.file_type();
            if t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                return Ok(Output::Direct(f));
            }
        }
        let partial = partial_name(path, std::process::id());
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(Output::Staged {
            file,
            partial,
            dest: path.to_owned(),
            done: false,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Output::Stdout(s) => s.as_fd(),
            Output::Direct(f) | Output::Staged { file: f, .. } => f.as_fd(),
        }
    }

    /// The image is complete: it takes its name.
    pub fn commit(mut self) -> Result<()> {
        if let Output::Staged {
            partial,
            dest,
            done,
            ..
        } = &mut self
        {
            std::fs::rename(&*partial, &*dest)
                .with_context(|| format!("renaming {} to {}", partial.display(), dest.display()))?;
            *done = true;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Output::Staged {
            partial,
            done: false,
            ..
        } = self
        {
            let _ = std::fs::remove_file(&*partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ckpt-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_committed_image_replaces_the_old_one_with_mode_0600() {
        let d = scratch("commit");
        let img = d.join("img");
        std::fs::write(&img, b"old").unwrap();
        std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = Output::open(&img).unwrap();
        assert_eq!(
            std::fs::read(&img).unwrap(),
            b"old",
            "the old image stays until commit"
        );
        io::Write::write_all(
            &mut File::from(out.fd().try_clone_to_owned().unwrap()),
            b"new",
        )
        .unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&img).unwrap(), b"new");
        let mode = std::fs::metadata(&img).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!partial_name(&img, std::process::id()).exists());
    }

    #[test]
    fn a_failed_image_leaves_the_old_one_and_no_partial_file() {
        let d = scratch("fail");
        let img = d.join("img");
        std::fs::write(&img, b"old").unwrap();
        let out = Output::open(&img).unwrap();
        assert!(partial_name(&img, std::process::id()).exists());
        drop(out);
        assert_eq!(std::fs::read(&img).unwrap(), b"old");
        assert!(!partial_name(&img, std::process::id()).exists());
    }
}
