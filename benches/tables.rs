//! What one table change costs at 1,000 and at 1,000,000 entries: a route
//! added and removed, a learned MAC added and removed, a decap VNI added
//! and removed, each planned ([`Planner`]) and applied ([`Tables::apply`])
//! to one copy of the tables (the left-right publisher applies it to each
//! copy, so a publication costs twice this). The tables hold `n` IPv4 /32
//! routes, `n` learned MACs and `n` decap VNIs over 1,000 tunnels.
//!
//! `cargo bench --bench tables` (`TABLES_SIZES=1000,100000` for others)
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, BatchSize, Criterion};
use geneve_gw::config::{self, Config, IpPrefix, Route};
use geneve_gw::dataplane::changes::Planner;
use geneve_gw::dataplane::tables::Tables;
use geneve_gw::tunnel::TxOffloadCaps;
use geneve_gw::wire::geneve::Vni;

const CFG: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0 }
  - { name: acc, role: access, device: 1 }
  - { name: acc3, role: access, device: 2 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe" }
l2:
  learning: true
  segments:
    - { port: acc, vni: 100 }
l3:
  access: { port: acc3, ipv4: 198.19.0.1/24, next_hop_mac: "02:00:00:00:00:09" }
  routes: []
"#;

const TUNNELS: u32 = 1000;

fn remote(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc612_0000 + 0x100 + i))
}

/// The base configuration with `n` routes over [`TUNNELS`] tunnels and `n`
/// decap VNIs.
fn config(n: u32) -> Config {
    let mut cfg = config::load_str(CFG, "bench.yaml").expect("bench config");
    let vtep = cfg.vtep.clone();
    for i in 0..TUNNELS {
        let mut t = config::Tunnel::defaults(&vtep, remote(i), Vni::new(1000 + i).unwrap());
        t.name = format!("t{i}");
        cfg.tunnels.push(t);
    }
    let l3 = cfg.l3.as_mut().unwrap();
    for i in 0..n {
        l3.routes.push(Route {
            prefix: IpPrefix::containing(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 32),
            tunnel: (i % TUNNELS) as usize,
        });
    }
    let template = cfg.decap[0].clone();
    cfg.decap = (0..n)
        .map(|i| config::Decap {
            vni: Vni::new(100_000 + i).unwrap(),
            ..template.clone()
        })
        .collect();
    cfg
}

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [2, 0x10, b[0], b[1], b[2], b[3]]
}

fn sizes() -> Vec<u32> {
    std::env::var("TABLES_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 1_000_000])
}

fn apply(p: &mut Planner, t: &mut Tables) {
    for c in p.take_changes() {
        t.apply(c);
    }
}

fn one_change(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_change");
    for n in sizes() {
        let cfg = config(n);
        let mut p = Planner::new(
            &[0, 1, 2],
            &[[2, 0, 0, 0, 0, 1]; 3],
            TxOffloadCaps::NONE,
            Default::default(),
        );
        let mut t = p
            .start(&cfg, (0..n).map(|i| ((0, mac(i)), remote(i % TUNNELS))))
            .expect("tables");
        assert_eq!(t.segments[0].macs.len(), n as usize);
        let mut k = 0u32;
        g.bench_function(format!("route_add_remove/{n}"), |b| {
            b.iter(|| {
                k = k.wrapping_add(1);
                let prefix = IpPrefix::containing(
                    IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + (k & 0xffff))),
                    32,
                );
                let tunnel = remote(k % TUNNELS);
                let vni = Vni::new(1000 + k % TUNNELS).unwrap();
                p.set_route(&cfg, prefix, Some((tunnel, vni)));
                apply(&mut p, &mut t);
                p.set_route(&cfg, prefix, None);
                apply(&mut p, &mut t);
            })
        });
        g.bench_function(format!("learned_mac_add_remove/{n}"), |b| {
            b.iter(|| {
                k = k.wrapping_add(1);
                let m = mac(0x8000_0000 | (k & 0xffff));
                p.set_learned_mac(&cfg, 0, m, Some(remote(k % TUNNELS)));
                apply(&mut p, &mut t);
                p.set_learned_mac(&cfg, 0, m, None);
                apply(&mut p, &mut t);
            })
        });
        let d = cfg.decap[0].clone();
        g.bench_function(format!("decap_vni_add_remove/{n}"), |b| {
            b.iter_batched(
                || {
                    k = k.wrapping_add(1);
                    config::Decap {
                        vni: Vni::new(0xf0_0000 + (k & 0xffff)).unwrap(),
                        ..d.clone()
                    }
                },
                |e| {
                    p.set_decap(&cfg, e.vni, Some(&e));
                    apply(&mut p, &mut t);
                    p.set_decap(&cfg, e.vni, None);
                    apply(&mut p, &mut t);
                },
                BatchSize::SmallInput,
            )
        });
        black_box(&t);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = one_change
}
/// `TABLES_COUNT=N`: no criterion; sets the tables up for each size, then
/// makes N route, N learned-MAC and N decap-VNI changes (each an add and a
/// remove) inside [`measured_changes`], for callgrind to count exactly:
///
/// valgrind --tool=callgrind --toggle-collect='*measured_changes*' \
///     target/release/deps/tables-HASH   (with TABLES_COUNT and TABLES_SIZES set)
fn count_only(n_changes: u32) {
    for n in sizes() {
        let cfg = config(n);
        let mut p = Planner::new(
            &[0, 1, 2],
            &[[2, 0, 0, 0, 0, 1]; 3],
            TxOffloadCaps::NONE,
            Default::default(),
        );
        let mut t = p
            .start(&cfg, (0..n).map(|i| ((0, mac(i)), remote(i % TUNNELS))))
            .expect("tables");
        measured_changes(&cfg, &mut p, &mut t, n_changes);
        println!("size {n}: {n_changes} changes of each kind made");
    }
}

#[inline(never)]
fn measured_changes(cfg: &Config, p: &mut Planner, t: &mut Tables, n: u32) {
    measured_routes(cfg, p, t, n);
    measured_macs(cfg, p, t, n);
    measured_vnis(cfg, p, t, n);
}

#[inline(never)]
fn measured_routes(cfg: &Config, p: &mut Planner, t: &mut Tables, n: u32) {
    for k in 0..n {
        let prefix = IpPrefix::containing(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + k)), 32);
        let vni = Vni::new(1000 + k % TUNNELS).unwrap();
        p.set_route(cfg, prefix, Some((remote(k % TUNNELS), vni)));
        apply(p, t);
        p.set_route(cfg, prefix, None);
        apply(p, t);
    }
}

#[inline(never)]
fn measured_macs(cfg: &Config, p: &mut Planner, t: &mut Tables, n: u32) {
    for k in 0..n {
        let m = mac(0x8000_0000 | k);
        p.set_learned_mac(cfg, 0, m, Some(remote(k % TUNNELS)));
        apply(p, t);
        p.set_learned_mac(cfg, 0, m, None);
        apply(p, t);
    }
}

#[inline(never)]
fn measured_vnis(cfg: &Config, p: &mut Planner, t: &mut Tables, n: u32) {
    let d = cfg.decap[0].clone();
    for k in 0..n {
        let e = config::Decap {
            vni: Vni::new(0xf0_0000 + k).unwrap(),
            ..d.clone()
        };
        p.set_decap(cfg, e.vni, Some(&e));
        apply(p, t);
        p.set_decap(cfg, e.vni, None);
        apply(p, t);
    }
}

fn main() {
    if let Some(n) = std::env::var("TABLES_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        count_only(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
