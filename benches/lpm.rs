//! The LPM at scale (`dataplane::lpm`): lookups of random addresses, one by
//! one and a burst at a time, inserts and removes, memory, for IPv4 as
//! DIR-24-8 and, for comparison, as one hash map per prefix length (the
//! IPv6 structure, fed IPv4 prefixes in its top 32 bits), and for IPv6.
//!
//! Prints nanoseconds per operation (wall clock: compare the lines of one
//! run, never across runs) and the table's heap bytes.
//!
//! `cargo bench --bench lpm`
use std::hint::black_box;
use std::time::Instant;

use geneve_gw::dataplane::lpm::Lpm;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const LOOKUPS: usize = 4 << 20;

/// One table: `routes` (address, length), a key shift (96 puts IPv4 in
/// the top bits of the per-length maps) and probe addresses.
fn run(name: &str, mut lpm: Lpm, shift: u32, routes: &[(u128, u8)], probes: &[u128]) {
    let t = Instant::now();
    for (i, &(a, l)) in routes.iter().enumerate() {
        lpm.insert(a << shift, l, Some(i as u32));
    }
    let insert = t.elapsed().as_nanos() as f64 / routes.len() as f64;
    let keys: Vec<u128> = probes.iter().map(|&p| p << shift).collect();
    let t = Instant::now();
    let mut hits = 0usize;
    for &k in &keys {
        hits += black_box(lpm.lookup(k)).is_some() as usize;
    }
    let one = t.elapsed().as_nanos() as f64 / keys.len() as f64;
    let mut out = [None; 32];
    let t = Instant::now();
    for chunk in keys.chunks(32) {
        lpm.lookup_bulk(chunk, &mut out);
        hits += black_box(&out).iter().filter(|o| o.is_some()).count();
    }
    let bulk = t.elapsed().as_nanos() as f64 / keys.len() as f64;
    // Remove and re-add 100,000 routes of the full table.
    let n = routes.len().min(100_000);
    let t = Instant::now();
    for &(a, l) in &routes[..n] {
        assert!(lpm.remove(a << shift, l), "{a:#x}/{l} of {}", routes.len());
    }
    let remove = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for &(a, l) in &routes[..n] {
        lpm.insert(a << shift, l, Some(1));
    }
    let reinsert = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "{name:<44} routes {:>8}  insert {insert:>7.1} ns  lookup {one:>6.1} ns  bulk {bulk:>6.1} ns  remove {remove:>7.1} ns  re-insert {reinsert:>7.1} ns  memory {:>6.1} MiB  (hits {hits})",
        lpm.len(),
        lpm.memory_bytes() as f64 / (1 << 20) as f64,
    );
}

/// `routes` without repeats, in their order.
fn unique(routes: Vec<(u128, u8)>) -> Vec<(u128, u8)> {
    let mut seen = std::collections::HashSet::new();
    routes.into_iter().filter(|r| seen.insert(*r)).collect()
}

fn main() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let want = |n: &str| filter.as_deref().is_none_or(|f| n.contains(f));
    for &n in &[1_000usize, 1_000_000] {
        // IPv4: host routes in one contiguous block (what the scale bench
        // configures), host routes anywhere (the worst case for groups),
        // and /24 routes anywhere.
        let contiguous: Vec<(u128, u8)> = (0..n as u128).map(|i| (0x0a00_0000 + i, 32)).collect();
        let random32 = unique((0..n).map(|_| (u128::from(r.next() as u32), 32)).collect());
        let random24 = unique(
            (0..n)
                .map(|_| (u128::from(r.next() as u32 & !0xff), 24))
                .collect(),
        );
        for (kind, routes) in [
            ("v4 /32 contiguous", &contiguous),
            ("v4 /32 random", &random32),
            ("v4 /24 random", &random24),
        ] {
            let probes: Vec<u128> = (0..LOOKUPS)
                .map(|_| {
                    // A /24's probes vary the last byte.
                    let host = if routes[0].1 == 24 {
                        r.next() as u128 & 0xff
                    } else {
                        0
                    };
                    routes[r.next() as usize % routes.len()].0 | host
                })
                .collect();
            let name = format!("{kind} dir-24-8");
            if want(&name) {
                run(&name, Lpm::new_v4(), 0, routes, &probes);
            }
            let name = format!("{kind} per-length maps");
            if want(&name) {
                run(&name, Lpm::new_v6(), 96, routes, &probes);
            }
        }
        // IPv6: a quarter as many, /64 subnets and /128 hosts half and half.
        let m = n / 4;
        let v6: Vec<(u128, u8)> = unique(
            (0..m)
                .map(|i| {
                    let a = (0x2001_0db8u128 << 96)
                        | (u128::from(r.next()) << 32)
                        | u128::from(r.next() as u32);
                    if i % 2 == 0 {
                        (a & !((1u128 << 64) - 1), 64)
                    } else {
                        (a, 128)
                    }
                })
                .collect(),
        );
        let probes: Vec<u128> = (0..LOOKUPS)
            .map(|_| v6[r.next() as usize % v6.len()].0)
            .collect();
        let name = "v6 /64+/128 per-length maps".to_string();
        if want(&name) {
            run(&name, Lpm::new_v6(), 0, &v6, &probes);
        }
    }
}
