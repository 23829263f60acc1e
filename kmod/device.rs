// SPDX-License-Identifier: GPL-2.0

//! The misc device `/dev/checkpoint` and its ioctl dispatch.

use kernel::{
    fs::File,
    ioctl::_IOC_SIZE,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    sync::aref::ARef,
    uaccess::{UserPtr, UserSlice, UserSliceWriter},
};
use zerocopy::{FromBytes, IntoBytes};

use crate::error::CkptError;
use crate::session::Session;
use crate::{checkpoint, restart, sys, uapi};

/// Registers `/dev/checkpoint`.
pub(crate) fn register() -> impl PinInit<MiscDeviceRegistration<CkptDevice>, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions {
        name: c"checkpoint",
    })
}

/// One open file of `/dev/checkpoint`. Checkpoints are self-contained; a restart of a tree
/// is a [`Session`] of the tasks that share this open file.
#[pin_data]
pub(crate) struct CkptDevice {
    #[pin]
    session: Session,
}

#[vtable]
impl MiscDevice for CkptDevice {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(CkptDevice {
                session <- Session::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn ioctl(me: Pin<&CkptDevice>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let user = UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd));
        match cmd {
            uapi::CKPT_IOC_VERSION => version(user.writer()),
            uapi::CKPT_IOC_CHECKPOINT => {
                let args: uapi::CkptCheckpointArgs = read_args(user)?;
                checkpoint::checkpoint(&args)
                    .map(|()| 0)
                    .map_err(|e| report(e, args.reason, args.reason_len))
            }
            uapi::CKPT_IOC_RESTART => {
                let args: uapi::CkptRestartArgs = read_args(user)?;
                // The restart closes the caller's descriptors, among them, maybe, the last
                // one of this open file: without a reference of its own, the file and the
                // session in it would be freed while this and other tasks still wait in it
                // (`fdget` takes none for a task whose descriptor table is not shared).
                let _held = ARef::<File>::from(file);
                restart::restart(&me.session, &args)
                    .map(|ax| ax as isize)
                    .map_err(|e| report(e, args.reason, args.reason_len))
            }
            uapi::CKPT_IOC_RESTART_BEGIN => {
                let args: uapi::CkptSessionArgs = read_args(user)?;
                if args.flags != 0 {
                    return Err(EINVAL);
                }
                me.session
                    .begin(args.nr_tasks)
                    .map(|()| 0)
                    .map_err(|e| e.errno)
            }
            uapi::CKPT_IOC_RESTART_GO => me.session.go().map(|()| 0).map_err(|e| e.errno),
            uapi::CKPT_IOC_RESTART_PEERS => {
                let args: uapi::CkptPeersArgs = read_args(user)?;
                me.session
                    .peers(&args)
                    .map(|()| 0)
                    .map_err(|e| report(e, args.reason, args.reason_len))
            }
            uapi::CKPT_IOC_RESTART_TIMER => {
                let args: uapi::CkptTimerArgs = read_args(user)?;
                crate::timers::restart_overrun(&me.session, &args)
                    .map(|()| 0)
                    .map_err(|e| e.errno)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// Copies an ioctl's argument struct in from userspace.
fn read_args<T: FromBytes>(user: UserSlice) -> Result<T> {
    let mut buf = [0u8; 256];
    let len = size_of::<T>();
    let buf = buf.get_mut(..len).ok_or(EINVAL)?;
    user.reader().read_slice(buf)?;
    T::read_from_bytes(buf).map_err(|_| EINVAL)
}

/// Turns a failure into the ioctl's errno, after copying its reason to the caller's buffer
/// (NUL-terminated, truncated to fit). A reason that cannot be copied is dropped: the errno
/// still tells what happened.
fn report(e: CkptError, buf: u64, len: u32) -> Error {
    if let (Some(reason), true) = (&e.reason, len > 0) {
        let bytes = reason.to_bytes_with_nul();
        let n = bytes.len().min(len as usize);
        let mut out = UserSlice::new(UserPtr::from_addr(buf as usize), n).writer();
        if n > 0 && out.write_slice(&bytes[..n - 1]).is_ok() {
            let _ = out.write_slice(&[0]);
        }
    }
    e.errno
}

/// `CKPT_IOC_VERSION`: reports the ABI and image versions and the running kernel's release.
fn version(mut out: UserSliceWriter) -> Result<isize> {
    let mut answer = uapi::CkptVersion {
        abi_version: uapi::CKPT_ABI_VERSION,
        image_version: uapi::CKPT_IMAGE_VERSION,
        features: uapi::CKPT_FEATURE_CHECKPOINT | uapi::CKPT_FEATURE_RESTART,
        kernel_release: [0; 64],
    };
    sys::uts::kernel_release(&mut answer.kernel_release);
    out.write_slice(answer.as_bytes())?;
    Ok(0)
}

#[kunit_tests(ckpt_uapi)]
mod tests {
    use crate::uapi;
    use kernel::ioctl::_IOR;

    /// The uapi's own `_IOC` encoding, shared with userspace, agrees with the kernel's.
    #[test]
    fn ioctl_numbers_match_kernel_encoding() {
        assert_eq!(
            uapi::CKPT_IOC_VERSION,
            _IOR::<uapi::CkptVersion>(uapi::CKPT_IOC_MAGIC, 0x00)
        );
    }

    /// The reply struct has no implicit padding: its size is the sum of its fields.
    #[test]
    fn version_struct_layout() {
        assert_eq!(core::mem::size_of::<uapi::CkptVersion>(), 4 + 4 + 8 + 64);
    }
}
