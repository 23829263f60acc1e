// SPDX-License-Identifier: GPL-2.0

//! What the module cannot see of a container's own network namespace: its IPv4 routes
//! (the kernel's FIB is private to `net/ipv4/fib_trie.c`). A namespace whose one device is
//! `lo` (the module checks that) has no route in its main table but those a user added
//! (`ip route add ... dev lo`): `rstr` would not make them again, so the checkpoint is
//! refused naming the first, read from `/proc/PID/net/route` (the main table of PID's
//! namespace).

use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};

/// The first route of a `/proc/net/route` table, as `DEST/PREFIX dev DEV` (with `via GW`
/// when it has a gateway).
fn first_route(table: &str) -> Option<String> {
    let row = table.lines().nth(1)?;
    let col: Vec<&str> = row.split_whitespace().collect();
    let hex = |i: usize| {
        col.get(i)
            .and_then(|v| u32::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    // The kernel prints the addresses in its byte order: little-endian words here.
    let addr = |i: usize| Ipv4Addr::from(hex(i).swap_bytes());
    let prefix = hex(7).count_ones();
    let dev = col.first().copied().unwrap_or("?");
    let via = if hex(2) != 0 {
        format!(" via {}", addr(2))
    } else {
        String::new()
    };
    Some(format!("{}/{prefix}{via} dev {dev}", addr(1)))
}

/// Why the checkpoint of the container whose init is `pid` must be refused, if it must: a
/// route of its own network namespace (when it has one: another than the caller's).
pub fn refusal(pid: i32) -> Result<Option<String>> {
    let ns = |p: &str| {
        std::fs::metadata(format!("/proc/{p}/ns/net"))
            .map(|m| (m.dev(), m.ino()))
            .with_context(|| format!("the network namespace of {p}"))
    };
    if ns(&pid.to_string())? == ns("self")? {
        return Ok(None);
    }
    let path = format!("/proc/{pid}/net/route");
    let table = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {path}")),
    };
    Ok(first_route(&table).map(|r| {
        format!(
            "the container's network namespace has route {r}: routes of its own are not \
             saved yet"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_written_as_ip_route_does() {
        let head =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        assert_eq!(first_route(head), None);
        assert_eq!(first_route(""), None);
        let t = format!("{head}lo\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n");
        assert_eq!(first_route(&t).unwrap(), "10.0.0.0/8 dev lo");
        let t = format!("{head}lo\t00000000\t0100007F\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
        assert_eq!(first_route(&t).unwrap(), "0.0.0.0/0 via 127.0.0.1 dev lo");
    }
}
