// SPDX-License-Identifier: GPL-2.0

//! The C header `uapi/linux/checkpoint.h` and the Rust ABI `uapi/checkpoint.rs` must agree.
//!
//! A C program, compiled here with the system's `cc` against the header, prints every
//! constant, struct size and field offset; each is compared with the Rust definition.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use ckptlib::abi;

fn c_values() -> BTreeMap<String, String> {
    let top = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header_dump");
    let src = out.with_extension("c");
    std::fs::write(
        &src,
        r#"
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/checkpoint.h>
#define V(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define S(x) printf("%s %s\n", #x, x)
int main(void)
{
	V(CKPT_ABI_VERSION);
	V(CKPT_IMAGE_VERSION);
	V(CKPT_IOC_MAGIC);
	V(CKPT_IOC_VERSION);
	V(CKPT_IOC_CHECKPOINT);
	V(CKPT_FEATURE_CHECKPOINT);
	V(CKPT_FEATURE_RESTART);
	V(CKPT_IOC_RESTART);
	V(CKPT_RESTART_MAX_CLOSE);
	V(sizeof(struct ckpt_restart_args));
	V(offsetof(struct ckpt_restart_args, err_fd));
	V(offsetof(struct ckpt_restart_args, flags));
	V(offsetof(struct ckpt_restart_args, reason));
	V(offsetof(struct ckpt_restart_args, reason_len));
	V(offsetof(struct ckpt_restart_args, nr_close));
	V(offsetof(struct ckpt_restart_args, close_fds));
	V(offsetof(struct ckpt_restart_args, blocked));
	V(offsetof(struct ckpt_restart_args, pos));
	V(offsetof(struct ckpt_restart_args, mm_sharers));
	V(offsetof(struct ckpt_restart_args, __reserved));
	V(CKPT_RESTART_SHARED_MM);
	V(CKPT_RESTART_STOPPED);
	V(CKPT_IOC_RESTART_BEGIN);
	V(CKPT_IOC_RESTART_GO);
	V(sizeof(struct ckpt_session_args));
	V(offsetof(struct ckpt_session_args, flags));
	V(CKPT_CHECKPOINT_CONTAINER);
	V(CKPT_CHECKPOINT_REFUSE);
	V(CKPT_CHECKPOINT_TREE_ONLY);
	V(CKPT_MAX_TASKS);
	V(sizeof(struct ckpt_checkpoint_args));
	V(offsetof(struct ckpt_checkpoint_args, pid));
	V(offsetof(struct ckpt_checkpoint_args, fd));
	V(offsetof(struct ckpt_checkpoint_args, flags));
	V(offsetof(struct ckpt_checkpoint_args, reason));
	V(offsetof(struct ckpt_checkpoint_args, reason_len));
	V(offsetof(struct ckpt_checkpoint_args, nr_tasks));
	V(offsetof(struct ckpt_checkpoint_args, tasks));
	S(CKPT_DEVICE_NAME);
	V(sizeof(struct ckpt_version));
	V(offsetof(struct ckpt_version, abi_version));
	V(offsetof(struct ckpt_version, image_version));
	V(offsetof(struct ckpt_version, features));
	V(offsetof(struct ckpt_version, kernel_release));
	V(sizeof(((struct ckpt_version *)0)->kernel_release));
	return 0;
}
"#,
    )
    .unwrap();
    let status = Command::new("cc")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(top.join("uapi"))
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run cc");
    assert!(status.success(), "the C header does not compile");
    let text = Command::new(&out).output().expect("run the C dump").stdout;
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn c_header_matches_rust_abi() {
    let c = c_values();
    let release_len = <abi::CkptVersion as zerocopy::FromZeros>::new_zeroed()
        .kernel_release
        .len() as u64;
    let mut rust: Vec<(&str, String)> = vec![
        ("CKPT_ABI_VERSION", abi::CKPT_ABI_VERSION.into()),
        ("CKPT_IMAGE_VERSION", abi::CKPT_IMAGE_VERSION.into()),
        ("CKPT_IOC_MAGIC", abi::CKPT_IOC_MAGIC.into()),
        ("CKPT_IOC_VERSION", abi::CKPT_IOC_VERSION.into()),
        ("CKPT_IOC_CHECKPOINT", abi::CKPT_IOC_CHECKPOINT.into()),
        ("CKPT_FEATURE_CHECKPOINT", abi::CKPT_FEATURE_CHECKPOINT),
        ("CKPT_FEATURE_RESTART", abi::CKPT_FEATURE_RESTART),
        ("CKPT_IOC_RESTART", abi::CKPT_IOC_RESTART.into()),
        ("CKPT_RESTART_MAX_CLOSE", abi::CKPT_RESTART_MAX_CLOSE as u64),
        (
            "sizeof(struct ckpt_restart_args)",
            size_of::<abi::CkptRestartArgs>() as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, err_fd)",
            offset_of!(abi::CkptRestartArgs, err_fd) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, flags)",
            offset_of!(abi::CkptRestartArgs, flags) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, reason)",
            offset_of!(abi::CkptRestartArgs, reason) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, reason_len)",
            offset_of!(abi::CkptRestartArgs, reason_len) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, nr_close)",
            offset_of!(abi::CkptRestartArgs, nr_close) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, close_fds)",
            offset_of!(abi::CkptRestartArgs, close_fds) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, blocked)",
            offset_of!(abi::CkptRestartArgs, blocked) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, pos)",
            offset_of!(abi::CkptRestartArgs, pos) as u64,
        ),
        (
            "offsetof(struct ckpt_restart_args, mm_sharers)",
            offset_of!(abi::CkptRestartArgs, mm_sharers) as u64,
        ),
        ("CKPT_RESTART_SHARED_MM", abi::CKPT_RESTART_SHARED_MM),
        ("CKPT_RESTART_STOPPED", abi::CKPT_RESTART_STOPPED),
        ("CKPT_IOC_RESTART_BEGIN", abi::CKPT_IOC_RESTART_BEGIN.into()),
        ("CKPT_IOC_RESTART_GO", abi::CKPT_IOC_RESTART_GO.into()),
        (
            "sizeof(struct ckpt_session_args)",
            size_of::<abi::CkptSessionArgs>() as u64,
        ),
        (
            "offsetof(struct ckpt_session_args, flags)",
            offset_of!(abi::CkptSessionArgs, flags) as u64,
        ),
        ("CKPT_CHECKPOINT_CONTAINER", abi::CKPT_CHECKPOINT_CONTAINER),
        ("CKPT_CHECKPOINT_REFUSE", abi::CKPT_CHECKPOINT_REFUSE),
        ("CKPT_CHECKPOINT_TREE_ONLY", abi::CKPT_CHECKPOINT_TREE_ONLY),
        ("CKPT_MAX_TASKS", abi::CKPT_MAX_TASKS.into()),
        (
            "offsetof(struct ckpt_restart_args, __reserved)",
            offset_of!(abi::CkptRestartArgs, __reserved) as u64,
        ),
        (
            "sizeof(struct ckpt_checkpoint_args)",
            size_of::<abi::CkptCheckpointArgs>() as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, pid)",
            offset_of!(abi::CkptCheckpointArgs, pid) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, fd)",
            offset_of!(abi::CkptCheckpointArgs, fd) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, flags)",
            offset_of!(abi::CkptCheckpointArgs, flags) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, reason)",
            offset_of!(abi::CkptCheckpointArgs, reason) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, reason_len)",
            offset_of!(abi::CkptCheckpointArgs, reason_len) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, nr_tasks)",
            offset_of!(abi::CkptCheckpointArgs, nr_tasks) as u64,
        ),
        (
            "offsetof(struct ckpt_checkpoint_args, tasks)",
            offset_of!(abi::CkptCheckpointArgs, tasks) as u64,
        ),
        (
            "sizeof(struct ckpt_version)",
            size_of::<abi::CkptVersion>() as u64,
        ),
        (
            "offsetof(struct ckpt_version, abi_version)",
            offset_of!(abi::CkptVersion, abi_version) as u64,
        ),
        (
            "offsetof(struct ckpt_version, image_version)",
            offset_of!(abi::CkptVersion, image_version) as u64,
        ),
        (
            "offsetof(struct ckpt_version, features)",
            offset_of!(abi::CkptVersion, features) as u64,
        ),
        (
            "offsetof(struct ckpt_version, kernel_release)",
            offset_of!(abi::CkptVersion, kernel_release) as u64,
        ),
        (
            "sizeof(((struct ckpt_version *)0)->kernel_release)",
            release_len,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    rust.push(("CKPT_DEVICE_NAME", abi::CKPT_DEVICE_NAME.to_string()));
    for (name, value) in &rust {
        assert_eq!(
            c.get(*name),
            Some(value),
            "{name}: C header and Rust ABI differ"
        );
    }
    assert_eq!(
        c.len(),
        rust.len(),
        "the C dump and the Rust list check different names"
    );
}
