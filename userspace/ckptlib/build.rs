// SPDX-License-Identifier: GPL-2.0

//! Lists, from the Rust ABI files `uapi/checkpoint.rs` and `uapi/image.rs`, every struct
//! with its fields, every constant and which struct each record type starts with, as Rust
//! source for `ckptlib::layout` (read by `tests/c_header.rs` and by `ckpt-fuzz`'s
//! mutator): each field named with its `offset_of!` and `size_of`, each constant with its
//! value. The test
//! compares them, one by one, with what a C program compiled against the C headers says.
//! The list is read from the definitions themselves, so that no field is written down a
//! second time by hand; a definition this reader does not understand stops the build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One `pub struct` of a uapi file: its name and its fields (name, type as written).
struct Struct {
    name: String,
    fields: Vec<(String, String)>,
}

/// One `impl Record for Name`: the struct whose payload a record type starts with.
struct RecordImpl {
    name: String,
}

/// One `pub const`: its path from the file's top (`rec::HEADER`) and its type.
struct Const {
    path: String,
    ty: String,
}

fn parse(file: &Path) -> (Vec<Struct>, Vec<Const>, Vec<RecordImpl>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    let mut structs = Vec::new();
    let mut consts = Vec::new();
    let mut records = Vec::new();
    let mut module: Option<String> = None;
    let mut lines = text.lines().enumerate();
    let at = |n: usize| format!("{}:{}", file.display(), n + 1);
    while let Some((n, line)) = lines.next() {
        let t = line.trim();
        if t.starts_with("//") || t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix("pub mod ") {
            if let Some(name) = rest.strip_suffix(" {") {
                assert!(module.is_none(), "{}: nested module", at(n));
                module = Some(name.to_string());
            }
            // `pub mod image;`: another file, read on its own.
            continue;
        }
        if line == "}" && module.is_some() {
            module = None;
            continue;
        }
        if let Some(rest) = t.strip_prefix("impl Record for ") {
            let name = rest
                .strip_suffix(" {")
                .unwrap_or_else(|| panic!("{}: an impl of Record not understood", at(n)));
            records.push(RecordImpl {
                name: name.to_string(),
            });
            continue;
        }
        if let Some(rest) = t.strip_prefix("pub const ") {
            if rest.starts_with("fn ") {
                continue;
            }
            let (name, rest) = rest
                .split_once(": ")
                .unwrap_or_else(|| panic!("{}: a constant without a type", at(n)));
            let (ty, _) = rest
                .split_once(" =")
                .unwrap_or_else(|| panic!("{}: a constant without a value", at(n)));
            let path = match &module {
                Some(m) => format!("{m}::{name}"),
                None => name.to_string(),
            };
            consts.push(Const {
                path,
                ty: ty.to_string(),
            });
            continue;
        }
        if let Some(rest) = t.strip_prefix("pub struct ") {
            let name = rest
                .strip_suffix(" {")
                .unwrap_or_else(|| panic!("{}: only braced structs are understood", at(n)));
            assert!(module.is_none(), "{}: a struct inside a module", at(n));
            let mut fields = Vec::new();
            loop {
                let (n, line) = lines
                    .next()
                    .unwrap_or_else(|| panic!("{}: struct {name} does not end", at(n)));
                let t = line.trim();
                if t == "}" {
                    break;
                }
                if t.starts_with("//") || t.starts_with("#[") || t.is_empty() {
                    continue;
                }
                let field = t
                    .strip_prefix("pub ")
                    .and_then(|f| f.strip_suffix(','))
                    .and_then(|f| f.split_once(": "))
                    .unwrap_or_else(|| panic!("{}: not a `pub name: type,` field", at(n)));
                fields.push((field.0.to_string(), field.1.to_string()));
            }
            structs.push(Struct {
                name: name.to_string(),
                fields,
            });
        }
    }
    // Every `#[repr(C)]` item must have been read as a struct.
    let repr_c = text.lines().filter(|l| l.trim() == "#[repr(C)]").count();
    assert_eq!(
        repr_c,
        structs.len(),
        "{}: {repr_c} #[repr(C)] items, {} structs read",
        file.display(),
        structs.len()
    );
    (structs, consts, records)
}

/// The Rust table of one uapi file, to `include!` where its items are in scope.
fn table(structs: &[Struct], consts: &[Const], records: &[RecordImpl]) -> String {
    let mut s = String::from("pub const STRUCTS: &[Struct] = &[\n");
    for st in structs {
        let n = &st.name;
        writeln!(
            s,
            "    Struct {{ name: \"{n}\", size: size_of::<{n}>(), align: align_of::<{n}>(), fields: &["
        )
        .unwrap();
        for (f, ty) in &st.fields {
            writeln!(
                s,
                "        Field {{ name: \"{f}\", ty: \"{ty}\", offset: offset_of!({n}, {f}), size: size_of::<{ty}>() }},"
            )
            .unwrap();
        }
        s.push_str("    ] },\n");
    }
    s.push_str("];\npub const CONSTS: &[Const] = &[\n");
    for c in consts {
        let (p, ty) = (&c.path, c.ty.as_str());
        let value = match ty {
            "&str" => format!("Value::Str({p})"),
            t if t.starts_with("[u8; ") => format!("Value::Bytes(&{p})"),
            "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => {
                format!("Value::Int({p} as i128)")
            }
            t => panic!("constant {p}: type {t} is not understood"),
        };
        writeln!(s, "    Const {{ path: \"{p}\", value: {value} }},").unwrap();
    }
    s.push_str("];\npub const RECORDS: &[(u32, &str)] = &[\n");
    for r in records {
        let n = &r.name;
        writeln!(s, "    (<{n} as Record>::KIND, \"{n}\"),").unwrap();
    }
    s.push_str("];\n");
    s
}

fn main() {
    let uapi = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../uapi");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for name in ["checkpoint", "image"] {
        let src = uapi.join(format!("{name}.rs"));
        println!("cargo::rerun-if-changed={}", src.display());
        let (structs, consts, records) = parse(&src);
        std::fs::write(
            out.join(format!("uapi_{name}.rs")),
            table(&structs, &consts, &records),
        )
        .unwrap();
    }
}
