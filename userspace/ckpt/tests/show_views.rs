// SPDX-License-Identifier: GPL-2.0

//! `ckpt show IMAGE --ps|--mems|--fds|--summary|--errors [--json]` as a user runs it, on
//! the known images of ckptlib's view tests: what it prints (the library's view, exactly),
//! its exit status, and that the record dump `ckpt show IMAGE [--json]` is unchanged.

#[path = "../../ckptlib/tests/common/views_image.rs"]
mod views_image;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ckptlib::image::views::Contents;

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ckpt-show-views-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn ckpt_show(image: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .arg("show")
        .arg(image)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn each_view_prints_the_library_view_and_exits_0() {
    let bytes = views_image::complete();
    let img = scratch("complete", &bytes);
    let c = Contents::read(&bytes[..]);
    for (flag, text) in [
        ("--ps", c.ps().text()),
        ("--mems", c.mems().text()),
        ("--fds", c.fds().text()),
        ("--summary", c.summary().text()),
        ("--errors", c.errors().text()),
    ] {
        let o = ckpt_show(&img, &[flag]);
        assert!(o.status.success(), "{flag}: {o:?}");
        assert_eq!(stdout(&o), text, "{flag}");
        let o = ckpt_show(&img, &[flag, "--json"]);
        assert!(o.status.success(), "{flag} --json: {o:?}");
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(v.is_object(), "{flag} --json: one object");
    }
    let o = ckpt_show(&img, &["--fds", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["processes"][0]["fds"][2]["offset"], 1234);
}

#[test]
fn a_failed_image_exits_non_zero_with_its_error() {
    let img = scratch("failed", &views_image::failed());
    let o = ckpt_show(&img, &["--errors"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(views_image::REASON), "{o:?}");
    assert!(o.stderr.is_empty(), "the error is the output: {o:?}");
    let o = ckpt_show(&img, &["--errors", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&v["complete"], &v["errors"][0]["errno"]),
        (&false.into(), &95.into())
    );
    // Another view shows the tree, then fails as the record dump does.
    let o = ckpt_show(&img, &["--ps"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("5 tasks in 4 processes\n"), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the checkpoint failed (errno 95)"), "{err}");
}

#[test]
fn views_read_standard_input_and_one_at_a_time() {
    let bytes = views_image::complete();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ckpt"))
        .args(["show", "-", "--ps", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["processes"][0]["threads"], serde_json::json!([100, 101]));
    let img = scratch("two", &bytes);
    let o = ckpt_show(&img, &["--ps", "--mems"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "two views at once are refused: {o:?}"
    );
}

#[test]
fn the_record_dump_is_unchanged() {
    let img = scratch("dump", &views_image::complete());
    let o = ckpt_show(&img, &["--json"]);
    assert!(o.status.success());
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 55, "one object per record");
    assert_eq!(
        (&lines[0]["type"], &lines[54]["type"]),
        (&"HEADER".into(), &"TAIL".into())
    );
    let o = ckpt_show(&img, &[]);
    assert!(stdout(&o)
        .lines()
        .any(|l| l.starts_with("FILE    fd 5 regular /tmp/data pos 1234")));
}
