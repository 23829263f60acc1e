// SPDX-License-Identifier: GPL-2.0

//! What `ckpt` and `rstr` read of `/proc`: a task's state and parent, its name, its
//! children, a field of its `status`. Each reader returns `None` (or nothing) when the task
//! is gone; the parsing is apart, for the tests.

use std::fmt::Display;

/// The fields of `/proc/PID/stat` the tools use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `T`, `Z`, `X`...
    pub state: char,
    pub ppid: i32,
}

/// Parses the line of `/proc/PID/stat`: the name, in parentheses, may hold anything, the
/// last `)` ends it.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let mut f = line.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some(Stat {
        state,
        ppid: f.next()?.parse().ok()?,
    })
}

/// `/proc/PID/stat`, or `None` if the task is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `/proc/PID/comm`, without its newline.
pub fn comm(pid: i32) -> Option<String> {
    let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(c.trim_end().to_string())
}

/// The numbers in a whitespace-separated list (`/proc/PID/task/TID/children`).
pub fn parse_numbers(list: &str) -> Vec<i32> {
    list.split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// The children of thread `tid` of process `pid` (`/proc/PID/task/TID/children`).
pub fn children_of_thread(pid: impl Display, tid: i32) -> Vec<i32> {
    let list = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"));
    parse_numbers(&list.unwrap_or_default())
}

/// The children of every thread of process `pid` (`self` for the caller).
pub fn children(pid: impl Display + Copy) -> Vec<i32> {
    numbers_in(&format!("/proc/{pid}/task"))
        .into_iter()
        .flat_map(|tid| children_of_thread(pid, tid))
        .collect()
}

/// The numbered entries of a `/proc` directory, in numeric order.
pub fn numbers_in(dir: &str) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The value of field `key` (`CapEff`, `NSpid`...) in the text of a `status` file, trimmed.
pub fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then_some(v.trim())
    })
}

/// Field `key` of `/proc/PID/status` (`self` for the caller).
pub fn status_field(pid: impl Display, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field(&status, key).map(str::to_string)
}

/// Where this process's vDSO block is, from `/proc/self/maps`: the ranges of its vDSO and
/// vvar mappings, and the distance from the block's start (its lowest page) to the vDSO
/// text, which `ARCH_MAP_VDSO_64` keeps.
pub fn vdso_layout(maps: &str) -> anyhow::Result<(Vec<(u64, u64)>, u64)> {
    use anyhow::{bail, ensure, Context};
    let mut lowest = u64::MAX;
    let mut text = None;
    let mut ranges = Vec::new();
    for line in maps.lines() {
        let is_text = line.ends_with("[vdso]");
        if !(is_text || line.ends_with("[vvar]") || line.ends_with("[vvar_vclock]")) {
            continue;
        }
        let range = line.split_whitespace().next().unwrap_or("");
        let (a, b) = range.split_once('-').context("bad /proc/self/maps line")?;
        let (a, b) = (u64::from_str_radix(a, 16)?, u64::from_str_radix(b, 16)?);
        ensure!(a < b, "bad /proc/self/maps range {range}");
        lowest = lowest.min(a);
        if is_text {
            text = Some(a);
        }
        ranges.push((a, b));
    }
    let Some(text) = text else {
        bail!("this process has no vDSO: cannot place the image's")
    };
    Ok((ranges, text - lowest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdso_block_starts_at_the_lowest_page() {
        let maps = "\
55d0-55e0 r-xp 00000000 08:01 1 /usr/bin/rstr
7ffd1000-7ffd5000 r--p 00000000 00:00 0                          [vvar]
7ffd5000-7ffd6000 r--p 00000000 00:00 0                          [vvar_vclock]
7ffd6000-7ffd8000 r-xp 00000000 00:00 0                          [vdso]
";
        let (ranges, to_text) = vdso_layout(maps).unwrap();
        assert_eq!(ranges.len(), 3);
        assert_eq!(to_text, 0x5000);
        assert!(vdso_layout("55d0-55e0 r-xp 0 0 0 /bin\n").is_err());
        assert!(vdso_layout("zz-7ffd8000 r-xp 0 0 0 [vdso]\n").is_err());
    }

    #[test]
    fn stat_survives_any_name() {
        let line = "42 (a) b) Z 7 42 42 0 -1 4194560 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'Z',
                ppid: 7
            })
        );
        assert_eq!(parse_stat("42 (x"), None);
        assert_eq!(parse_stat("42 (x) R"), None);
    }

    #[test]
    fn numbers_and_fields() {
        assert_eq!(parse_numbers("12 13 x 14\n"), vec![12, 13, 14]);
        let status = "Name:\tsh\nNSpid:\t120\t1\nCapEff:\t000001ffffffffff\n";
        assert_eq!(field(status, "NSpid"), Some("120\t1"));
        assert_eq!(field(status, "CapEff"), Some("000001ffffffffff"));
        assert_eq!(field(status, "Cap"), None);
    }
}
