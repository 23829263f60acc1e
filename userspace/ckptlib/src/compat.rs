// SPDX-License-Identifier: GPL-2.0

//! Whether this machine can run an image's programs: what the `HEADER` records of the
//! checkpointing CPU and kernel, compared with this machine (Documentation/restart.rst,
//! "Restarting on another machine").
//!
//! A program looks at its CPU once, when it starts: glibc picks `memcpy` and friends by
//! CPUID and XCR0 (its `ifunc`s), keeps pointers into the vDSO's code, and reads the vvar
//! data that code reads. After a restart it goes on with those choices, so the restarting
//! machine must offer every instruction set the checkpointing CPU offered, and the same
//! vDSO. What differs otherwise is harmless and only noted:
//!
//! - CPU features this machine has and the image's CPU had not (the programs never chose
//!   them);
//! - CPUID bits that name no instruction a program can execute (the platform, the kernel's
//!   mitigations, instructions of ring 0 only, performance hints such as `erms` and
//!   `fsrm` whose instructions every x86-64 CPU has): only the bits of [`FEATURES`] are
//!   compared;
//! - another kernel release with the same vDSO: the system call ABI does not change.

use std::fmt::Write as _;
use std::os::unix::fs::FileExt;

use anyhow::{bail, Context, Result};

use crate::abi::image::{self as img, CKPT_CPUID_WORDS};

/// The instruction-set features compared: (index of the `HEADER.cpuid` word, bit, name as
/// `/proc/cpuinfo` gives it).
pub const FEATURES: &[(usize, u32, &str)] = &[
    // CPUID 1, ECX
    (0, 0, "pni"),
    (0, 1, "pclmulqdq"),
    (0, 9, "ssse3"),
    (0, 12, "fma"),
    (0, 13, "cx16"),
    (0, 19, "sse4_1"),
    (0, 20, "sse4_2"),
    (0, 22, "movbe"),
    (0, 23, "popcnt"),
    (0, 25, "aes"),
    (0, 26, "xsave"),
    (0, 27, "osxsave"),
    (0, 28, "avx"),
    (0, 29, "f16c"),
    (0, 30, "rdrand"),
    // CPUID 1, EDX
    (1, 0, "fpu"),
    (1, 4, "tsc"),
    (1, 8, "cx8"),
    (1, 15, "cmov"),
    (1, 19, "clflush"),
    (1, 23, "mmx"),
    (1, 24, "fxsr"),
    (1, 25, "sse"),
    (1, 26, "sse2"),
    // CPUID 7.0, EBX
    (2, 0, "fsgsbase"),
    (2, 3, "bmi1"),
    (2, 4, "hle"),
    (2, 5, "avx2"),
    (2, 8, "bmi2"),
    (2, 11, "rtm"),
    (2, 16, "avx512f"),
    (2, 17, "avx512dq"),
    (2, 18, "rdseed"),
    (2, 19, "adx"),
    (2, 21, "avx512ifma"),
    (2, 23, "clflushopt"),
    (2, 24, "clwb"),
    (2, 26, "avx512pf"),
    (2, 27, "avx512er"),
    (2, 28, "avx512cd"),
    (2, 29, "sha_ni"),
    (2, 30, "avx512bw"),
    (2, 31, "avx512vl"),
    // CPUID 7.0, ECX
    (3, 1, "avx512vbmi"),
    (3, 3, "pku"),
    (3, 4, "ospke"),
    (3, 5, "waitpkg"),
    (3, 6, "avx512_vbmi2"),
    (3, 8, "gfni"),
    (3, 9, "vaes"),
    (3, 10, "vpclmulqdq"),
    (3, 11, "avx512_vnni"),
    (3, 12, "avx512_bitalg"),
    (3, 14, "avx512_vpopcntdq"),
    (3, 22, "rdpid"),
    (3, 27, "movdiri"),
    (3, 28, "movdir64b"),
    // CPUID 7.0, EDX
    (4, 2, "avx512_4vnniw"),
    (4, 3, "avx512_4fmaps"),
    (4, 8, "avx512_vp2intersect"),
    (4, 14, "serialize"),
    (4, 16, "tsxldtrk"),
    (4, 22, "amx_bf16"),
    (4, 23, "avx512_fp16"),
    (4, 24, "amx_tile"),
    (4, 25, "amx_int8"),
    // CPUID 7.1, EAX
    (5, 4, "avx_vnni"),
    (5, 5, "avx512_bf16"),
    (5, 7, "cmpccxadd"),
    (5, 21, "amx_fp16"),
    (5, 23, "avx_ifma"),
    // CPUID 0xD.1, EAX
    (6, 0, "xsaveopt"),
    (6, 1, "xsavec"),
    (6, 2, "xgetbv1"),
    // CPUID 0x80000001, ECX
    (7, 0, "lahf_lm"),
    (7, 5, "abm"),
    (7, 6, "sse4a"),
    (7, 8, "3dnowprefetch"),
    (7, 11, "xop"),
    (7, 16, "fma4"),
    (7, 21, "tbm"),
    // CPUID 0x80000001, EDX
    (8, 11, "syscall"),
    (8, 27, "rdtscp"),
    (8, 29, "lm"),
    // CPUID 0x80000008, EBX
    (9, 0, "clzero"),
];

/// The XCR0 bits (state components a program may use), by name.
const XFEATURES: &[(u32, &str)] = &[
    (0, "x87"),
    (1, "sse"),
    (2, "avx"),
    (3, "mpx_bndregs"),
    (4, "mpx_bndcsr"),
    (5, "avx512_opmask"),
    (6, "avx512_zmm_hi256"),
    (7, "avx512_hi16_zmm"),
    (9, "pkru"),
    (17, "amx_tilecfg"),
    (18, "amx_tiledata"),
    (19, "apx"),
];

/// What a machine offers the programs of an image: the image's (from its `HEADER`) or
/// this one's ([`Machine::here`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// XCR0: the state components the kernel enabled.
    pub xcr0: u64,
    /// The CPUID words `img::cpuid_word` names.
    pub cpuid: [u32; CKPT_CPUID_WORDS],
    /// Bytes of the vDSO's text; 0 if none is known.
    pub vdso_size: u32,
    /// Bytes of the vvar areas.
    pub vvar_size: u32,
    /// `img::fnv1a64` of the vDSO's text.
    pub vdso_hash: u64,
    /// `uname -r`.
    pub kernel_release: String,
}

impl Machine {
    /// The machine an image was taken on.
    pub fn of_image(h: &img::CkptHeaderRec) -> Machine {
        let len = h
            .kernel_release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(h.kernel_release.len());
        Machine {
            xcr0: h.xfeatures,
            cpuid: h.cpuid,
            vdso_size: h.vdso_size,
            vvar_size: h.vvar_size,
            vdso_hash: h.vdso_hash,
            kernel_release: String::from_utf8_lossy(&h.kernel_release[..len]).into_owned(),
        }
    }

    /// This machine, as this process sees it: its CPU, its vDSO (from
    /// `/proc/self/maps` and `/proc/self/mem`) and its kernel release.
    pub fn here() -> Result<Machine> {
        let maps = std::fs::read_to_string("/proc/self/maps").context("/proc/self/maps")?;
        let (mut vdso, mut vvar) = (None, 0);
        for line in maps.lines() {
            let Some((a, b)) = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| {
                    Some((
                        u64::from_str_radix(a, 16).ok()?,
                        u64::from_str_radix(b, 16).ok()?,
                    ))
                })
            else {
                continue;
            };
            if line.ends_with("[vdso]") {
                vdso = Some((a, b - a));
            } else if line.ends_with("[vvar]") || line.ends_with("[vvar_vclock]") {
                vvar += b - a;
            }
        }
        let (vdso_size, vdso_hash) = match vdso {
            Some((at, len)) => {
                let mut text = vec![0; len as usize];
                std::fs::File::open("/proc/self/mem")
                    .and_then(|f| f.read_exact_at(&mut text, at))
                    .context("reading this process's vDSO from /proc/self/mem")?;
                (len as u32, img::fnv1a64(&text))
            }
            None => (0, 0),
        };
        Ok(Machine {
            xcr0: crate::sys::xcr0(),
            cpuid: crate::sys::cpuid_words(),
            vdso_size,
            vvar_size: vvar as u32,
            vdso_hash,
            kernel_release: nix::sys::utsname::uname()
                .context("uname")?
                .release()
                .to_string_lossy()
                .into_owned(),
        })
    }

    /// Whether bit `bit` of CPUID word `word` is set.
    fn has(&self, word: usize, bit: u32) -> bool {
        self.cpuid[word] & (1 << bit) != 0
    }
}

/// The names of the [`FEATURES`] set in `cpuid` (a `HEADER`'s words).
pub fn features(cpuid: &[u32; CKPT_CPUID_WORDS]) -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|&&(w, b, _)| cpuid[w] & (1 << b) != 0)
        .map(|&(_, _, name)| name)
        .collect()
}

/// Why the image's programs could not run here, one line each; empty if they can.
pub fn mismatches(image: &Machine, here: &Machine) -> Vec<String> {
    let mut out = Vec::new();
    let missing: Vec<String> = FEATURES
        .iter()
        .filter(|&&(w, b, _)| image.has(w, b) && !here.has(w, b))
        .map(|&(w, b, name)| {
            let (leaf, sub, reg) = img::cpuid_word(w);
            format!(
                "{name} (CPUID {leaf:#x}.{sub} {}[{b}])",
                ["eax", "ebx", "ecx", "edx"][reg as usize]
            )
        })
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "the image's CPU has {} and this one does not: its programs may use them",
            missing.join(", ")
        ));
    }
    let extra = image.xcr0 & !here.xcr0;
    if extra != 0 {
        out.push(format!(
            "the image's kernel enabled the state components {} (XCR0 {:#x}) and this one does not (XCR0 {:#x})",
            names(extra),
            image.xcr0,
            here.xcr0
        ));
    }
    if image.vdso_size != 0
        && (image.vdso_size, image.vvar_size, image.vdso_hash)
            != (here.vdso_size, here.vvar_size, here.vdso_hash)
    {
        out.push(format!(
            "the image's vDSO is not this kernel's: {} bytes of text (hash {:#018x}) and {} bytes of vvar \
             on {}, here {} bytes (hash {:#018x}) and {} bytes of vvar on {}: its programs keep pointers \
             into the vDSO's code and data",
            image.vdso_size,
            image.vdso_hash,
            image.vvar_size,
            image.kernel_release,
            here.vdso_size,
            here.vdso_hash,
            here.vvar_size,
            here.kernel_release
        ));
    }
    out
}

/// What differs but is harmless (see the module's doc), one line each.
pub fn notes(image: &Machine, here: &Machine) -> Vec<String> {
    let mut out = Vec::new();
    if image.kernel_release != here.kernel_release {
        out.push(format!(
            "the image was taken on kernel {}, this is {}: the same vDSO, so it restarts",
            image.kernel_release, here.kernel_release
        ));
    }
    let more: Vec<&str> = FEATURES
        .iter()
        .filter(|&&(w, b, _)| here.has(w, b) && !image.has(w, b))
        .map(|&(_, _, name)| name)
        .collect();
    if !more.is_empty() {
        out.push(format!(
            "this CPU has {} that the image's had not: its programs did not choose them",
            more.join(", ")
        ));
    }
    out
}

/// Refuses an image whose programs could not run here, with every reason.
pub fn check(image: &Machine, here: &Machine) -> Result<()> {
    let m = mismatches(image, here);
    if m.is_empty() {
        return Ok(());
    }
    let mut text = String::from("this machine cannot run the image's programs");
    for line in &m {
        write!(text, "\n  {line}").unwrap();
    }
    bail!(text)
}

/// The names of the XCR0 bits of `mask` (`bit N` for one without a name).
fn names(mask: u64) -> String {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| match XFEATURES.iter().find(|&&(x, _)| x == b) {
            Some((_, n)) => n.to_string(),
            None => format!("bit {b}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        let mut cpuid = [0; CKPT_CPUID_WORDS];
        cpuid[0] = 1 << 28 | 1 << 27 | 1 << 26 | 1 << 20; // avx osxsave xsave sse4_2
        cpuid[1] = 1 << 26 | 1 << 25; // sse2 sse
        cpuid[2] = 1 << 5; // avx2
        Machine {
            xcr0: 0x7,
            cpuid,
            vdso_size: 8192,
            vvar_size: 16384,
            vdso_hash: 0x1234,
            kernel_release: "7.3.4".into(),
        }
    }

    #[test]
    fn the_same_machine_fits() {
        let m = machine();
        assert!(mismatches(&m, &m).is_empty());
        assert!(notes(&m, &m).is_empty());
        check(&m, &m).unwrap();
    }

    #[test]
    fn a_feature_this_cpu_lacks_is_named() {
        let (mut image, here) = (machine(), machine());
        image.cpuid[2] |= 1 << 16; // avx512f
        image.cpuid[7] |= 1 << 5; // abm
        let m = mismatches(&image, &here);
        assert_eq!(
            m,
            ["the image's CPU has avx512f (CPUID 0x7.0 ebx[16]), abm (CPUID 0x80000001.0 ecx[5]) \
              and this one does not: its programs may use them"]
        );
        // The other way round it is only a note.
        assert!(mismatches(&here, &image).is_empty());
        assert_eq!(
            notes(&here, &image),
            ["this CPU has avx512f, abm that the image's had not: its programs did not choose them"]
        );
    }

    #[test]
    fn bits_that_name_no_instruction_are_ignored() {
        let (mut image, here) = (machine(), machine());
        image.cpuid[0] |= 1 << 31; // hypervisor
        image.cpuid[4] |= 1 << 26 | 1 << 10 | 1 << 4; // ibrs, md_clear, fsrm
        image.cpuid[2] |= 1 << 9; // erms
        assert!(mismatches(&image, &here).is_empty());
        assert!(notes(&image, &here).is_empty());
    }

    #[test]
    fn state_components_are_compared() {
        let (mut image, here) = (machine(), machine());
        image.xcr0 = 0xe7;
        assert_eq!(
            mismatches(&image, &here),
            [
                "the image's kernel enabled the state components avx512_opmask, avx512_zmm_hi256, \
              avx512_hi16_zmm (XCR0 0xe7) and this one does not (XCR0 0x7)"
            ]
        );
    }

    #[test]
    fn another_vdso_is_refused_another_release_noted() {
        let (mut image, mut here) = (machine(), machine());
        here.kernel_release = "7.3.5".into();
        assert!(mismatches(&image, &here).is_empty());
        assert_eq!(
            notes(&image, &here),
            ["the image was taken on kernel 7.3.4, this is 7.3.5: the same vDSO, so it restarts"]
        );
        image.vdso_hash = 0x99;
        let m = mismatches(&image, &here);
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("the image's vDSO is not this kernel's: 8192 bytes of text (hash 0x0000000000000099)"), "{}", m[0]);
        let e = check(&image, &here).unwrap_err().to_string();
        assert!(
            e.starts_with("this machine cannot run the image's programs\n  the image's vDSO"),
            "{e}"
        );
        // An image that recorded no vDSO is not compared.
        image.vdso_size = 0;
        assert!(mismatches(&image, &here).is_empty());
    }

    #[test]
    fn this_machine_is_read() {
        let m = Machine::here().unwrap();
        assert!(m.has(1, 26), "sse2 on x86-64");
        assert!(m.has(8, 29), "lm on x86-64");
        assert!(m.vdso_size > 0 && m.vdso_hash != 0);
        assert_eq!(m.xcr0 & 3, 3);
        assert!(mismatches(&m, &Machine::here().unwrap()).is_empty());
    }
}
