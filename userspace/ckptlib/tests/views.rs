// SPDX-License-Identifier: GPL-2.0

//! `ckpt show`'s views (`ckptlib::image::views`) of a known image (common/views_image.rs):
//! the exact text of each view, the fields of its JSON, and what they show of the same
//! checkpoint failed (an `ERROR` record) or cut short anywhere.

#[path = "common/views_image.rs"]
mod views_image;

use serde_json::{json, Value};

use ckptlib::abi::image::rec;
use ckptlib::image::views::Contents;
use views_image::{CHILD, PARENT, REASON, VMCHILD, ZOMBIE};

fn complete() -> Contents {
    Contents::read(&views_image::complete()[..])
}

fn failed() -> Contents {
    Contents::read(&views_image::failed()[..])
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The process of a view's JSON with this pid.
fn process(v: &Value, pid: i32) -> &Value {
    v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("no process {pid} in {v}"))
}

#[test]
fn the_tree_drawn_and_in_json() {
    let c = complete();
    assert_eq!(
        c.ps().text(),
        "\
5 tasks in 4 processes
    PID    PPID    PGID     SID  THR STATE       UID  COMMAND
    100       1     100     100    2 running    1000  parent
    102     100     100     100    1 stopped    1000  \\_ child
    104     102     100     100    1 zombie        -     \\_ <defunct, status 0x100>
    103     100     100     100    1 running    1000  \\_ vmchild
"
    );
    let v = to_json(&c.ps());
    assert_eq!(
        (v["tasks"].clone(), v["container"].clone()),
        (json!(5), json!(false))
    );
    let order: Vec<&Value> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["pid"])
        .collect();
    assert_eq!(order, [PARENT, CHILD, ZOMBIE, VMCHILD], "depth first");
    let p = process(&v, PARENT);
    assert_eq!(p["threads"], json!([100, 101]));
    assert_eq!(p["uids"], json!([1000, 1000, 1000, 1000]));
    assert_eq!(p["gids"], json!([100, 100, 100, 100]));
    assert_eq!(
        (&p["comm"], &p["state"], &p["depth"]),
        (&json!("parent"), &json!("running"), &json!(0))
    );
    let c = process(&v, CHILD);
    assert_eq!(
        (&c["ppid"], &c["pgid"], &c["sid"]),
        (&json!(100), &json!(100), &json!(100))
    );
    assert_eq!(c["state"], "stopped");
    let z = process(&v, ZOMBIE);
    assert_eq!(
        (&z["state"], &z["exit_status"], &z["ppid"]),
        (&json!("zombie"), &json!(256), &json!(102))
    );
    assert_eq!(
        (&z["comm"], &z["uids"], &z["depth"]),
        (&Value::Null, &Value::Null, &json!(2))
    );
}

#[test]
fn memory_areas_with_sizes_and_pages_saved() {
    let c = complete();
    assert_eq!(
        c.mems().text(),
        "\
pid 100 (parent): 2 areas, 72 KiB, 3 pages saved
  START              END                      SIZE PROT KIND          PAGES  PATH
  0x10000            0x20000                64 KiB rw-  anon-private      3
  0x400000           0x402000                8 KiB r-x  file-private      0  /bin/true
pid 102 (child): 1 area, 16 KiB, 4 pages saved
  START              END                      SIZE PROT KIND          PAGES  PATH
  0x10000            0x14000                16 KiB rw-  anon-private      4
pid 103 (vmchild): the memory of pid 100
"
    );
    let v = to_json(&c.mems());
    assert_eq!(
        v["processes"].as_array().unwrap().len(),
        3,
        "no zombie: {v}"
    );
    let p = process(&v, PARENT);
    assert_eq!(
        (&p["size"], &p["pages_saved"], &p["saved"]),
        (&json!(0x12000), &json!(3), &json!(true))
    );
    let a = &p["areas"][0];
    assert_eq!(
        (&a["start"], &a["end"], &a["size"], &a["pages_saved"]),
        (
            &json!("0x10000"),
            &json!("0x20000"),
            &json!(65536),
            &json!(3)
        )
    );
    assert_eq!(
        (&a["kind"], &a["prot"], &a["path"]),
        (&json!("anon-private"), &json!("rw-"), &json!(""))
    );
    let f = &p["areas"][1];
    assert_eq!(
        (&f["path"], &f["kind"], &f["pages_saved"]),
        (&json!("/bin/true"), &json!("file-private"), &json!(0))
    );
    let c = process(&v, CHILD);
    assert_eq!(
        (&c["areas"][0]["size"], &c["pages_saved"]),
        (&json!(16384), &json!(4))
    );
    let vm = process(&v, VMCHILD);
    assert_eq!(
        (&vm["shared_with"], &vm["areas"], &vm["mm"]),
        (&json!(100), &json!([]), &json!(1))
    );
}

#[test]
fn descriptors_with_what_they_are() {
    let c = complete();
    assert_eq!(
        c.fds().text(),
        "\
pid 100 (parent): 4 descriptors
    FD KIND        RW      OFFSET OBJECT  WHAT
     0 chardev     rw           0      1  /dev/null
     3 pipe        r            0      2  pipe 1: 5 of 65536 bytes queued; peers 102:3 w
     5 regular     rw        1234      3  /tmp/data; shared with 102:5 rw
     6 unix-socket rw           0      4  stream socket 7 connected to socket 8: 1 message (6 bytes) queued; peers 102:6 rw
pid 102 (child): 3 descriptors
    FD KIND        RW      OFFSET OBJECT  WHAT
     3 pipe        w            0      5  pipe 1: 5 of 65536 bytes queued; peers 100:3 r
     5 regular     rw        1234      3  /tmp/data; shared with 100:5 rw
     6 unix-socket rw           0      6  stream socket 8 connected to socket 7: 0 messages (0 bytes) queued; peers 100:6 rw
pid 103 (vmchild): the descriptor table of pid 100
"
    );
    let v = to_json(&c.fds());
    let p = process(&v, PARENT);
    let fds = p["fds"].as_array().unwrap();
    assert_eq!(
        fds.iter()
            .map(|f| f["fd"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [0, 3, 5, 6]
    );
    let file = &fds[2];
    assert_eq!(
        (
            &file["kind"],
            &file["path"],
            &file["offset"],
            &file["object"]
        ),
        (
            &json!("regular"),
            &json!("/tmp/data"),
            &json!(1234),
            &json!(3)
        )
    );
    assert_eq!(
        file["shared_with"],
        json!([{"pid": 102, "fd": 5, "access": "rw"}])
    );
    let pipe = &fds[1];
    assert_eq!(
        (&pipe["kind"], &pipe["access"], &pipe["queued_bytes"]),
        (&json!("pipe"), &json!("r"), &json!(5))
    );
    assert_eq!(pipe["peers"], json!([{"pid": 102, "fd": 3, "access": "w"}]));
    assert_eq!(
        pipe["object_record"],
        json!({"type": "PIPE", "id": 1, "capacity": 65536, "len": 5})
    );
    let sock = &fds[3];
    assert_eq!(
        (&sock["queued_bytes"], &sock["object_record"]["peer"]),
        (&json!(6), &json!(8))
    );
    assert_eq!(
        sock["peers"],
        json!([{"pid": 102, "fd": 6, "access": "rw"}])
    );
    assert_eq!(fds[0]["object_record"], Value::Null);
    let vm = process(&v, VMCHILD);
    assert_eq!(
        (&vm["shared_with"], &vm["fds"], &vm["table"]),
        (&json!(100), &json!([]), &json!(1))
    );
}

#[test]
fn summary_counts_every_record_and_byte() {
    let bytes = views_image::complete();
    // The image is one rstr would restart: its records are what the module writes.
    ckptlib::restart::scan(&mut ckptlib::image::RecordReader::new(
        std::io::Cursor::new(&bytes),
    ))
    .unwrap();
    let c = Contents::read(&bytes[..]);
    let s = c.summary();
    let text = s.text();
    assert!(
        text.starts_with(&format!(
            "image version {}, kernel 6.12.0-test, 5 tasks in 4 processes\n\
             ends with: its TAIL: complete\n\
             RECORD            COUNT        BYTES\n\
             HEADER                1          {}\n",
            ckptlib::abi::CKPT_IMAGE_VERSION,
            8 + size_of::<ckptlib::abi::image::CkptHeaderRec>()
        )),
        "{text}"
    );
    assert!(
        text.contains("\nPAGES                 3        28744\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\ntotal                55        43160\nmemory: 7 pages saved (28 KiB)\n"),
        "{text}"
    );
    let v = to_json(&s);
    assert_eq!(
        (&v["records"], &v["bytes"]),
        (&json!(55), &json!(bytes.len()))
    );
    assert_eq!(
        (&v["end"], &v["pages_saved"], &v["image_version"]),
        (
            &json!("TAIL"),
            &json!(7),
            &json!(ckptlib::abi::CKPT_IMAGE_VERSION)
        )
    );
    let kinds = v["kinds"].as_array().unwrap();
    let sum: u64 = kinds.iter().map(|k| k["bytes"].as_u64().unwrap()).sum();
    assert_eq!(sum, bytes.len() as u64, "every byte is some record's");
    let count = |name: &str| {
        kinds
            .iter()
            .find(|k| k["kind"] == name)
            .map(|k| k["count"].clone())
    };
    assert_eq!(count("FILE"), Some(json!(7)));
    assert_eq!(count("TASK"), Some(json!(4)), "zombies have no TASK");
    assert_eq!(count("VMA"), Some(json!(3)));
    assert_eq!(count("ERROR"), None);
    let pages = kinds.iter().find(|k| k["kind"] == "PAGES").unwrap();
    assert_eq!(
        (&pages["type"], &pages["count"]),
        (&json!(rec::PAGES), &json!(3))
    );
}

#[test]
fn errors_of_a_complete_and_a_failed_image() {
    let e = complete().errors();
    assert!(e.complete && e.errors.is_empty());
    assert_eq!(
        e.text(),
        "no error: the image is complete (54 records, then its TAIL)\n"
    );

    let bytes = views_image::failed();
    let (offset, index) = views_image::find(&bytes, rec::ERROR, 0);
    let c = Contents::read(&bytes[..]);
    let e = c.errors();
    assert!(!e.complete);
    assert_eq!(
        e.text(),
        format!(
            "ERROR record {index} at offset {offset}, among the records of task 102: the \
             checkpoint failed: errno 95 (EOPNOTSUPP): {REASON}\n"
        )
    );
    let v = to_json(&e);
    assert_eq!(
        v["errors"],
        json!([{"source": "record", "errno": 95, "errno_name": "EOPNOTSUPP", "reason": REASON,
                "record": index, "offset": offset, "task": 102}])
    );
    let err = c.check().unwrap_err().to_string();
    assert_eq!(
        err,
        format!("the image ends with an ERROR record: the checkpoint failed (errno 95): {REASON}")
    );
}

#[test]
fn views_of_a_failed_image_show_what_it_holds() {
    let c = failed();
    // The whole TREE is there; the tasks after the failure have no records.
    let ps = to_json(&c.ps());
    assert_eq!(ps["processes"].as_array().unwrap().len(), 4);
    assert_eq!(
        process(&ps, CHILD)["comm"],
        "child",
        "its TASK came before the ERROR"
    );
    assert_eq!(process(&ps, VMCHILD)["comm"], Value::Null);
    let fds = to_json(&c.fds());
    assert_eq!(process(&fds, PARENT)["saved"], true);
    assert_eq!(process(&fds, PARENT)["fds"].as_array().unwrap().len(), 4);
    assert_eq!(
        (&process(&fds, CHILD)["saved"], &process(&fds, CHILD)["fds"]),
        (&json!(false), &json!([]))
    );
    let text = c.mems().text();
    assert!(
        text.contains(
            "\npid 102 (child): not in the image, which ends before its records (see --errors)\n"
        ),
        "{text}"
    );
    assert_eq!(to_json(&c.summary())["end"], "ERROR");
    // Without the ERROR record, the same bytes are a truncated image.
    let (offset, _) = views_image::find(&views_image::failed(), rec::ERROR, 0);
    let e = Contents::read(&views_image::failed()[..offset]).errors();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(
        (e.errors[0].source, e.errors[0].task),
        ("reader", Some(CHILD))
    );
    assert!(
        e.errors[0]
            .reason
            .contains("no TAIL record after 33 records"),
        "{:?}",
        e.errors
    );
}

#[test]
fn an_image_cut_anywhere_is_an_error_never_a_panic() {
    let bytes = views_image::complete();
    for cut in (0..bytes.len()).step_by(7) {
        let c = Contents::read(&bytes[..cut]);
        let e = c.errors();
        assert!(!e.complete, "cut at {cut}");
        assert_eq!(e.errors.len(), 1, "cut at {cut}");
        assert_eq!(e.errors[0].source, "reader", "cut at {cut}");
        assert!(c.check().is_err());
        // Every view still shows what came before the cut.
        let _ = (
            c.ps().text(),
            c.mems().text(),
            c.fds().text(),
            c.summary().text(),
        );
        assert!(c.summary().bytes <= cut as u64);
    }
}
