// SPDX-License-Identifier: GPL-2.0

//! A handle on `/dev/checkpoint`, with the ioctls wrapped as methods.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::abi;

/// Where the module's misc device appears.
pub fn default_path() -> PathBuf {
    Path::new("/dev").join(abi::CKPT_DEVICE_NAME)
}

/// What `CKPT_IOC_VERSION` answers, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    pub abi_version: u32,
    pub image_version: u32,
    pub features: u64,
    pub kernel_release: String,
}

impl From<&abi::CkptVersion> for Version {
    fn from(raw: &abi::CkptVersion) -> Self {
        let len = raw
            .kernel_release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.kernel_release.len());
        Version {
            abi_version: raw.abi_version,
            image_version: raw.image_version,
            features: raw.features,
            kernel_release: String::from_utf8_lossy(&raw.kernel_release[..len]).into_owned(),
        }
    }
}

/// An open `/dev/checkpoint` whose module speaks this ABI version.
#[derive(Debug)]
pub struct Device {
    file: File,
    version: Version,
}

impl Device {
    /// Opens the device at [`default_path`] and checks that the module speaks our ABI.
    pub fn open() -> Result<Device> {
        Self::open_at(&default_path())
    }

    /// Opens the device at `path` and checks that the module speaks our ABI.
    pub fn open_at(path: &Path) -> Result<Device> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "{} does not exist: load the module first (insmod ckpt.ko)",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        let raw = crate::sys::version(file.as_fd())
            .with_context(|| format!("CKPT_IOC_VERSION on {}", path.display()))?;
        let version = Version::from(&raw);
        if version.abi_version != abi::CKPT_ABI_VERSION {
            bail!(
                "{} speaks ABI version {}, these tools speak version {}: rebuild one of them",
                path.display(),
                version.abi_version,
                abi::CKPT_ABI_VERSION
            );
        }
        Ok(Device { file, version })
    }

    /// What the module reported when the device was opened.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The open file, for ioctls that take it.
    pub fn file(&self) -> &File {
        &self.file
    }
}
