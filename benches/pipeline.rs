//! The gateway's per-packet work without DPDK: `pipeline::access_with_cache`
//! (encap) and `pipeline::underlay` (decap) with real `Tables` built from the
//! same configurations as `scripts/bench.sh`, over the same 256 packets (64 B
//! inner frames, 256 flows) in bursts of 32, as the worker runs them.
//!
//! Prints TSC cycles per packet (rdtsc loop; noisy on shared machines).
//! For instruction counts, which do not depend on the neighbours:
//!
//! ```text
//! GENEVE_BENCH_LOOP=2000 valgrind --tool=callgrind --toggle-collect='*run_bursts*' \
//!     target/release/deps/pipeline-<hash> encap-ipv4
//! ```
//! (instructions per packet = Ir / (2000 * 256); the case is the argument).
//!
//! `cargo bench --bench pipeline [-- CASE]`
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use geneve_gw::dataplane::pipeline::{self, MacCache, Outcome};
use geneve_gw::dataplane::tables::{BuildInputs, Tables};
use geneve_gw::tunnel::{encap, EncapTemplate, TunnelConfig, TunnelOption, VecBuffer};
use geneve_gw::wire::{checksum, Vni};

const CASES: [&str; 7] = [
    "encap-ipv4",
    "decap-ipv4",
    "encap-ipv4-2opt",
    "decap-ipv4-2opt",
    "encap-ipv6",
    "decap-ipv6",
    "encap-l3",
];
const PACKETS: usize = 256;
const BURST: usize = 32;
/// Headroom of a DPDK mbuf (RTE_PKTMBUF_HEADROOM).
const HEADROOM: usize = 128;

/// The TSC through the library's DPDK layer (the only place allowed
/// `unsafe`); reading it needs no running EAL.
#[inline(always)]
fn tsc() -> u64 {
    geneve_gw::dpdk::tsc_now()
}

/// The gateway configuration `scripts/bench.sh` writes for `case`.
fn config_yaml(case: &str) -> String {
    let two = case.contains("2opt");
    let v6 = case.ends_with("ipv6");
    let remote = if v6 {
        "\"2001:db8:18::2\""
    } else {
        "198.18.0.2"
    };
    let nh = if v6 {
        r#"{ via: "2001:db8:18::2", mac: "02:00:00:00:00:02", destinations: ["2001:db8:18::2/128"] }"#
    } else {
        r#"{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }"#
    };
    let opts = if two {
        r#"options: [ { class: 0x0102, type: 0x01, data: "0000002a" }, { class: 0x0102, type: 0x02, data: "00000007" } ]"#
    } else {
        ""
    };
    let reg = if two {
        r#"options: { registry: [ { name: a, class: 0x0102, type: 0x01, length: 4 }, { name: b, class: 0x0102, type: 0x02, length: 4 } ] }"#
    } else {
        ""
    };
    let mode = if case == "encap-l3" {
        r#"l3:
  access: { port: acc, ipv4: 198.19.0.254/24, next_hop_mac: "02:00:00:00:0a:01" }
  routes: [ { prefix: 198.19.0.0/16, tunnel: t } ]"#
            .to_string()
    } else {
        format!(
            r#"l2:
  learning: false
  segments:
    - {{ port: acc, vni: 100, flood: [], static_macs: [ {{ mac: "02:00:00:00:0b:01", remote: {remote} }} ] }}"#
        )
    };
    format!(
        r#"eal: {{ cores: [1], control_core: 0 }}
ports:
  - {{ name: ul, role: underlay, device: net_null0, mtu: 1500, mac: "02:00:00:00:01:01" }}
  - {{ name: acc, role: access, device: net_pcap0, mtu: 1400 }}
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8:18::1/64
  next_hops: [ {nh} ]
{reg}
tunnels:
  - {{ name: t, remote: {remote}, vni: 100, {opts} }}
{mode}
"#
    )
}

fn tables(case: &str) -> Tables {
    let cfg = geneve_gw::config::load_str(&config_yaml(case), "bench.yaml")
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    Tables::build(
        &cfg,
        &BuildInputs {
            port_ids: &[0, 1],
            port_macs: &[[2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 0xa, 0xfe]],
            neighbors: &HashMap::new(),
            learned: &HashMap::new(),
            generation: 1,
            flows: Default::default(),
        },
    )
    .unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The inner frames of `scripts/bench.sh`: 60 bytes (64 with the FCS),
/// 198.19.0.1 -> 198.19.x.y, one UDP flow each.
fn inner_frame(i: usize) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0xb, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0xa, 1]);
    f[12..14].copy_from_slice(&[8, 0]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 19, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 19, (1 + i / 200) as u8, (1 + i % 200) as u8]);
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&(1024 + i as u16).to_be_bytes());
    f[36..38].copy_from_slice(&5001u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f[42..60].fill(b'x');
    f
}

/// What the peer VTEP 198.18.0.2 sends us: the inner frame in VNI 100,
/// UDP checksum zero, with the two registered options for `*-2opt`. Over
/// IPv6 (`v6`, 2001:db8:18::2): the UDP checksum computed.
fn geneve_frame(i: usize, two_options: bool, v6: bool) -> Vec<u8> {
    let (src, dst) = if v6 {
        ("2001:db8:18::2", "2001:db8:18::1")
    } else {
        ("198.18.0.2", "198.18.0.1")
    };
    let mut tc = TunnelConfig::new(
        [2, 0, 0, 0, 0, 2],
        [2, 0, 0, 0, 1, 1],
        src.parse().unwrap(),
        dst.parse().unwrap(),
        Vni::new(100).unwrap(),
    );
    if two_options {
        tc.options = vec![
            TunnelOption {
                class: 0x0102,
                typ: 1,
                data: vec![0, 0, 0, 0x2a],
            },
            TunnelOption {
                class: 0x0102,
                typ: 2,
                data: vec![0, 0, 0, 7],
            },
        ];
    }
    let t = EncapTemplate::new(&tc).unwrap();
    let mut b = VecBuffer::with_headroom(t.header_len(), &inner_frame(i));
    encap(&t, &mut b, None).unwrap();
    b.to_vec()
}

struct Case {
    tables: Tables,
    encap: bool,
    frames: Vec<Vec<u8>>,
    bufs: Vec<VecBuffer>,
}

impl Case {
    fn new(name: &str) -> Case {
        let encap = name.starts_with("encap");
        let frames: Vec<Vec<u8>> = (0..PACKETS)
            .map(|i| {
                if encap {
                    inner_frame(i)
                } else {
                    geneve_frame(i, name.contains("2opt"), name.ends_with("ipv6"))
                }
            })
            .collect();
        let bufs = frames
            .iter()
            .map(|f| VecBuffer::with_headroom(HEADROOM, f))
            .collect();
        Case {
            tables: tables(name),
            encap,
            frames,
            bufs,
        }
    }

    /// Puts the received bytes back (encap overwrote the headroom and, in L3
    /// mode, the inner Ethernet header; decap moved the window).
    #[inline(never)]
    fn restore(&mut self) {
        for (b, f) in self.bufs.iter_mut().zip(&self.frames) {
            b.reset(HEADROOM, f);
        }
    }
}

/// The worker's per-burst loop over one round of `PACKETS` packets: the
/// outcome of every packet is tallied as the worker counts it.
#[inline(never)]
fn run_bursts(t: &Tables, encap: bool, bufs: &mut [VecBuffer], cache: &mut MacCache) -> u64 {
    let mut forwarded = 0u64;
    for burst in bufs.chunks_mut(BURST) {
        // As the worker does: the access express tier from the last lookup,
        // per burst; decap through the express tier first.
        let express = if encap {
            pipeline::AccessExpress::new(t, 1, cache)
        } else {
            None
        };
        for b in burst {
            let out = if let Some(port) = express.as_ref().and_then(|l| l.encap(b, None)) {
                Outcome::Encapped(port)
            } else if encap {
                pipeline::access_with_cache(t, 1, b, None, cache)
            } else if let Some(port) = pipeline::underlay_express(t, b) {
                Outcome::Decapped(port)
            } else {
                pipeline::underlay(t, b, &mut |e| {
                    black_box(e);
                })
            };
            if matches!(out, Outcome::Encapped(_) | Outcome::Decapped(_)) {
                forwarded += 1;
            }
        }
    }
    forwarded
}

/// Every packet of the case must be forwarded, or the numbers mean nothing.
fn check(name: &str, c: &mut Case) {
    let mut cache = MacCache::default();
    c.restore();
    let n = run_bursts(&c.tables, c.encap, &mut c.bufs, &mut cache);
    assert_eq!(n, PACKETS as u64, "{name}: not every packet was forwarded");
}

/// TSC cycles per packet of `run_bursts` (restoring excluded), best of 5.
fn cycles(c: &mut Case, rounds: u64) -> f64 {
    let mut cache = MacCache::default();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut spent = 0u64;
        for _ in 0..rounds {
            c.restore();
            let t0 = tsc();
            black_box(run_bursts(
                &c.tables,
                c.encap,
                black_box(&mut c.bufs),
                &mut cache,
            ));
            spent += tsc() - t0;
        }
        best = best.min(spent as f64 / (rounds * PACKETS as u64) as f64);
    }
    best
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected: Vec<&str> = CASES
        .iter()
        .copied()
        .filter(|c| filter.as_ref().is_none_or(|f| c == f))
        .collect();
    if let Some(n) = std::env::var("GENEVE_BENCH_LOOP")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        // Instruction counting: just the loop, one case at a time.
        for name in selected {
            let mut c = Case::new(name);
            check(name, &mut c);
            let mut cache = MacCache::default();
            for _ in 0..n {
                c.restore();
                black_box(run_bursts(&c.tables, c.encap, &mut c.bufs, &mut cache));
            }
        }
        return;
    }
    let (t0, c0) = (Instant::now(), tsc());
    std::thread::sleep(Duration::from_millis(100));
    let ghz = (tsc() - c0) as f64 / t0.elapsed().as_nanos() as f64;
    eprintln!("TSC {ghz:.3} GHz; cycles per packet, best of 5 x 2000 rounds of {PACKETS} packets");
    eprintln!("{:<18} {:>10} {:>8}", "case", "cyc/pkt", "ns/pkt");
    for name in selected {
        let mut c = Case::new(name);
        check(name, &mut c);
        let cyc = cycles(&mut c, 2000);
        eprintln!("{name:<18} {cyc:>10.1} {:>8.2}", cyc / ghz);
    }
}
