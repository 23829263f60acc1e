// SPDX-License-Identifier: GPL-2.0

//! The C headers must declare what the Rust ABI files define, field by field:
//! `uapi/linux/checkpoint.h` against `uapi/checkpoint.rs` (the ioctls) and
//! `uapi/linux/checkpoint_image.h` against `uapi/image.rs` (the image records).
//!
//! `build.rs` lists, from the Rust files themselves, every struct with the offset, size and
//! type of each field, and every constant with its value. From that list this test writes a
//! C program that prints, compiled with the system's `cc` against the header, the same of
//! the C declarations: `offsetof` and `sizeof` of each field, whether its type is the C type
//! the Rust type stands for (`__builtin_types_compatible_p`), `sizeof` and `_Alignof` of each
//! struct, each constant's value. Both sides must say the same. The header is also read as
//! text: a struct or a `CKPT_*` constant that Rust does not define, or a field Rust does not
//! have, fails the test too. Names follow one rule: `CkptFooRec` is `struct ckpt_foo_rec`,
//! `rec::X` is `CKPT_REC_X`, `file_kind::X` is `CKPT_FILE_X`, `vma_kind::X` is `CKPT_VMA_X`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use ckptlib::layout::{image, ioctl, Const, Struct, Value};

/// `CkptFooRec` -> `ckpt_foo_rec`.
fn c_struct(rust: &str) -> String {
    let mut s = String::new();
    for (i, c) in rust.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

/// `rec::HEADER` -> `CKPT_REC_HEADER`, `vma_kind::HEAP` -> `CKPT_VMA_HEAP`, `CKPT_X` as is;
/// the ioctl direction bits `IOC_READ`... are `<asm-generic/ioctl.h>`'s `_IOC_READ`...
fn c_const(path: &str) -> String {
    match path.split_once("::") {
        Some((module, name)) => {
            let prefix = module.strip_suffix("_kind").unwrap_or(module);
            format!("CKPT_{}_{name}", prefix.to_ascii_uppercase())
        }
        None if path.starts_with("CKPT_") => path.to_string(),
        None => format!("_{path}"),
    }
}

/// The C types a Rust field type may be declared as.
fn c_types(rust: &str) -> Vec<String> {
    if let Some(inner) = rust.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let (elem, n) = inner.split_once("; ").expect("an array type");
        let mut v: Vec<String> = c_types(elem).iter().map(|t| format!("{t}[{n}]")).collect();
        if elem == "u8" {
            // A byte string may be declared as one.
            v.push(format!("char[{n}]"));
        }
        return v;
    }
    vec![match rust {
        "u8" | "u16" | "u32" | "u64" => format!("__{rust}"),
        "i8" | "i16" | "i32" | "i64" => format!("__s{}", &rust[1..]),
        name if name.starts_with("Ckpt") => format!("struct {}", c_struct(name)),
        other => panic!("no C type for the Rust type {other}"),
    }]
}

/// What the C program must print, line by line, as (key, value).
fn expected(structs: &[Struct], consts: &[Const]) -> BTreeMap<String, String> {
    let mut want = BTreeMap::new();
    for s in structs {
        let c = c_struct(s.name);
        let mut end = 0;
        for f in s.fields {
            // Fields follow each other with no padding: none was missed by `build.rs`.
            assert_eq!(f.offset, end, "{}.{}: a gap before it", s.name, f.name);
            end = f.offset + f.size;
            want.insert(
                format!("field {c}.{}", f.name),
                format!("{} {} 1", f.offset, f.size),
            );
        }
        assert_eq!(end, s.size, "{}: fields do not fill it", s.name);
        want.insert(format!("struct {c}"), format!("{} {}", s.size, s.align));
    }
    for k in consts {
        let v = match k.value {
            Value::Int(v) => v.to_string(),
            Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
            Value::Str(s) => s.to_string(),
        };
        want.insert(format!("const {}", c_const(k.path)), v);
    }
    want
}

/// The C program that prints, for the header, what [`expected`] lists.
fn probe(header: &str, structs: &[Struct], consts: &[Const]) -> String {
    let mut c = format!(
        r#"#include <stddef.h>
#include <stdio.h>
#include <linux/{header}>
#define TYPE(s, f, t) __builtin_types_compatible_p(__typeof__(((struct s *)0)->f), t)
#define FIELD(s, f, ok) printf("field %s.%s %zu %zu %d\n", #s, #f, offsetof(struct s, f), \
			       sizeof(((struct s *)0)->f), (int)(ok))
#define STRUCT(s) printf("struct %s %zu %zu\n", #s, sizeof(struct s), _Alignof(struct s))
#define INT(c) ((c) < 0 ? printf("const %s %lld\n", #c, (long long)(c)) \
		       : printf("const %s %llu\n", #c, (unsigned long long)(c)))
#define STR(c) printf("const %s %s\n", #c, c)
#define BYTES(c) bytes(#c, c, sizeof(c) - 1)
static __attribute__((unused)) void bytes(const char *name, const char *v, size_t n)
{{
	printf("const %s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", (unsigned char)v[i]);
	printf("\n");
}}
int main(void)
{{
"#
    );
    for s in structs {
        let cs = c_struct(s.name);
        for f in s.fields {
            let ok: Vec<String> = c_types(f.ty)
                .iter()
                .map(|t| format!("TYPE({cs}, {}, {t})", f.name))
                .collect();
            writeln!(c, "\tFIELD({cs}, {}, {});", f.name, ok.join(" || ")).unwrap();
        }
        writeln!(c, "\tSTRUCT({cs});").unwrap();
    }
    for k in consts {
        let how = match k.value {
            Value::Int(_) => "INT",
            Value::Bytes(_) => "BYTES",
            Value::Str(_) => "STR",
        };
        writeln!(c, "\t{how}({});", c_const(k.path)).unwrap();
    }
    c.push_str("\treturn 0;\n}\n");
    c
}

fn uapi() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../uapi")
}

/// Compiles and runs the probe; its lines as (key, value), or why it does not compile.
fn run_probe(header: &str, source: &str) -> Result<BTreeMap<String, String>, String> {
    let stem = header.trim_end_matches(".h");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{stem}_probe"));
    let src = out.with_extension("c");
    std::fs::write(&src, source).unwrap();
    let cc = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(uapi())
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run cc");
    if !cc.status.success() {
        let errors: Vec<_> = String::from_utf8_lossy(&cc.stderr)
            .lines()
            .filter(|l| l.contains("error:"))
            .map(str::to_string)
            .collect();
        return Err(format!(
            "the probe does not compile against {header}:\n    {}",
            errors.join("\n    ")
        ));
    }
    let text = Command::new(&out).output().expect("run the C probe").stdout;
    Ok(String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_at(l.match_indices(' ').nth(1).map_or(l.len(), |(i, _)| i));
            (k.to_string(), v.trim_start().to_string())
        })
        .collect())
}

/// The header as text: each `struct ckpt_*` with its field names in order, and every
/// `CKPT_*` macro it defines.
fn declared(header: &str) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let text = std::fs::read_to_string(uapi().join("linux").join(header)).unwrap();
    let mut structs = BTreeMap::new();
    let mut defines = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("#define ") {
            let name = name.split_whitespace().next().unwrap();
            if name.starts_with("CKPT_") {
                defines.push(name.to_string());
            }
        } else if let Some(name) = line
            .strip_prefix("struct ")
            .and_then(|l| l.strip_suffix(" {"))
        {
            let mut fields = Vec::new();
            for l in lines.by_ref() {
                if l.starts_with("};") {
                    break;
                }
                let decl = l.split("/*").next().unwrap().trim();
                let Some(decl) = decl.strip_suffix(';') else {
                    continue;
                };
                let last = decl.rsplit([' ', '\t']).next().unwrap();
                fields.push(last.split('[').next().unwrap().to_string());
            }
            structs.insert(name.to_string(), fields);
        }
    }
    (structs, defines)
}

fn check(header: &str, structs: &[Struct], consts: &[Const]) {
    let mut problems = Vec::new();
    let (c_structs, c_defines) = declared(header);
    for (name, fields) in &c_structs {
        match structs.iter().find(|s| c_struct(s.name) == *name) {
            None => problems.push(format!("struct {name}: not in the Rust file")),
            Some(s) => {
                let rust: Vec<&str> = s.fields.iter().map(|f| f.name).collect();
                if *fields != rust {
                    problems.push(format!(
                        "struct {name}: fields {fields:?}, the Rust file has {rust:?}"
                    ));
                }
            }
        }
    }
    for s in structs {
        if !c_structs.contains_key(&c_struct(s.name)) {
            problems.push(format!("{}: no struct {} in C", s.name, c_struct(s.name)));
        }
    }
    for d in &c_defines {
        if !consts.iter().any(|k| c_const(k.path) == *d) {
            problems.push(format!("{d}: not a constant of the Rust file"));
        }
    }
    let want = expected(structs, consts);
    match run_probe(header, &probe(header, structs, consts)) {
        Err(e) => problems.push(e),
        Ok(got) => {
            for (k, v) in &want {
                match got.get(k) {
                    Some(g) if g == v => {}
                    g => problems.push(format!(
                        "{k}: C says {}, Rust {v}{}",
                        g.map_or("nothing", String::as_str),
                        if k.starts_with("field") {
                            " (offset, size, 1 if the C type is the Rust type)"
                        } else {
                            ""
                        }
                    )),
                }
            }
            assert_eq!(got.len(), want.len(), "the C probe printed other names");
        }
    }
    assert!(
        problems.is_empty(),
        "{header} and the Rust ABI differ:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn ioctl_header_matches_rust_abi() {
    check("checkpoint.h", ioctl::STRUCTS, ioctl::CONSTS);
}

#[test]
fn image_header_matches_rust_records() {
    check("checkpoint_image.h", image::STRUCTS, image::CONSTS);
}
