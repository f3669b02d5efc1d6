//! Encap / decap micro-benchmarks (criterion, Throughput::Elements = packets).
//!
//! Cases: 64 B and 1500 B inner Ethernet frames, IPv4 and IPv6 underlay,
//! 0, 2 and 8 options. Besides criterion's ns/packet, each case prints TSC
//! cycles/packet from a direct rdtsc-timed loop, with the TSC frequency
//! measured against `Instant` at start-up.
//!
//! `cargo bench --no-default-features --bench tunnel`
//! (`-- --quick` or `GENEVE_BENCH_SECS=0.5` for shorter runs).
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use geneve_gw::tunnel::{
    encap, DecapConfig, Decapsulator, EncapTemplate, KnownOption, OptionRegistry, TunnelConfig,
    TunnelOption, TxOffloadCaps, VecBuffer,
};
use geneve_gw::wire::{checksum, Vni};

const V4_LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const V4_REMOTE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const V6_LOCAL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const V6_REMOTE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The TSC through the library's DPDK layer (the only place allowed
/// `unsafe`); reading it needs no running EAL.
#[inline(always)]
fn tsc() -> u64 {
    geneve_gw::dpdk::tsc_now()
}

/// TSC ticks per nanosecond, measured over ~100 ms.
fn tsc_per_ns() -> f64 {
    let (t0, c0) = (Instant::now(), tsc());
    while t0.elapsed() < Duration::from_millis(100) {}
    let (t1, c1) = (Instant::now(), tsc());
    (c1 - c0) as f64 / (t1 - t0).as_nanos() as f64
}

fn inner_frame(len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0x11, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0x11, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[8, 0]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((len - 14) as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f[38..40].copy_from_slice(&((len - 34) as u16).to_be_bytes());
    f
}

fn options(n: usize) -> Vec<TunnelOption> {
    (0..n)
        .map(|i| TunnelOption {
            class: 0x0100,
            typ: i as u8,
            data: vec![i as u8; 4],
        })
        .collect()
}

fn tunnel(v6: bool, opts: usize) -> TunnelConfig {
    let (s, d): (IpAddr, IpAddr) = if v6 {
        (V6_REMOTE.into(), V6_LOCAL.into())
    } else {
        (V4_REMOTE.into(), V4_LOCAL.into())
    };
    let mut t = TunnelConfig::new(
        [2, 0, 0, 0, 0, 0xb],
        [2, 0, 0, 0, 0, 0xa],
        s,
        d,
        Vni::new(100).unwrap(),
    );
    t.options = options(opts);
    t.underlay_mtu = 9000;
    t
}

fn decapsulator(opts: usize) -> Decapsulator {
    let mut c = DecapConfig::new(vec![V4_LOCAL], vec![V6_LOCAL]);
    c.registry = OptionRegistry::from_options((0..opts.min(2)).map(|i| KnownOption {
        class: 0x0100,
        typ: i as u8,
        name: format!("o{i}"),
        len_words: Some(1),
    }))
    .unwrap();
    Decapsulator::new(c)
}

/// Cycles per packet of `f`, from a direct rdtsc-timed loop.
fn cycles(mut f: impl FnMut(), iters: u64) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let c0 = tsc();
    for _ in 0..iters {
        f();
    }
    (tsc() - c0) as f64 / iters as f64
}

/// Positional filter from the command line (as criterion takes it): the
/// rdtsc loop skips cases whose name does not contain it.
fn case_filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

#[inline(always)]
fn loop_encap_with(
    t: &EncapTemplate,
    buf: &mut VecBuffer,
    hr: usize,
    len: usize,
    hash: Option<u32>,
    n: u64,
) {
    for _ in 0..n {
        buf.set_window(hr, len);
        let _ = black_box(encap(t, black_box(&mut *buf), hash));
    }
}

#[inline(never)]
fn loop_encap(t: &EncapTemplate, buf: &mut VecBuffer, hr: usize, len: usize, n: u64) {
    loop_encap_with(t, buf, hr, len, None, n);
}

#[inline(never)]
fn loop_encap_rss(t: &EncapTemplate, buf: &mut VecBuffer, hr: usize, len: usize, n: u64) {
    loop_encap_with(t, buf, hr, len, Some(0x1234_5678), n);
}

#[inline(never)]
fn loop_decap(d: &Decapsulator, frame: &[u8], n: u64) {
    for _ in 0..n {
        black_box(d.decap(black_box(frame)));
    }
}

/// `GENEVE_BENCH_LOOP=N`: run N encaps (no hash, then RSS hash) and N decaps
/// of the ipv4/64B/0opt case in `loop_*` functions and exit, for
/// `valgrind --tool=callgrind --toggle-collect='*loop_*'` instruction counts.
fn instruction_loop(n: u64) {
    let t = EncapTemplate::new(&tunnel(false, 0)).unwrap();
    let inner = inner_frame(64);
    let hr = t.header_len();
    let mut buf = VecBuffer::with_headroom(hr, &inner);
    loop_encap(&t, &mut buf, hr, 64, n);
    loop_encap_rss(&t, &mut buf, hr, 64, n);
    buf.set_window(hr, 64);
    encap(&t, &mut buf, None).unwrap();
    let frame = buf.to_vec();
    let d = decapsulator(0);
    assert!(matches!(
        d.decap(&frame),
        geneve_gw::tunnel::Verdict::Deliver(_)
    ));
    loop_decap(&d, &frame, n);
}

fn bench(c: &mut Criterion) {
    let ticks = tsc_per_ns();
    let filter = case_filter();
    eprintln!("TSC: {:.3} GHz (measured against Instant)", ticks);
    let mut rows = Vec::new();
    for v6 in [false, true] {
        for len in [64usize, 1500] {
            for opts in [0usize, 2, 8] {
                let name = format!("{}/{}B/{}opt", if v6 { "ipv6" } else { "ipv4" }, len, opts);
                if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
                    continue;
                }
                let t = EncapTemplate::new(&tunnel(v6, opts)).unwrap();
                let inner = inner_frame(len);
                let hr = t.header_len();
                let mut buf = VecBuffer::with_headroom(hr, &inner);

                let mut g = c.benchmark_group("encap");
                g.throughput(Throughput::Elements(1));
                g.bench_function(BenchmarkId::from_parameter(&name), |b| {
                    b.iter(|| {
                        buf.set_window(hr, len);
                        black_box(encap(&t, black_box(&mut buf), None)).unwrap();
                    })
                });
                g.finish();
                let enc_cyc = cycles(
                    || {
                        buf.set_window(hr, len);
                        black_box(encap(&t, black_box(&mut buf), None)).unwrap();
                    },
                    200_000,
                );
                let enc_rss_cyc = cycles(
                    || {
                        buf.set_window(hr, len);
                        black_box(encap(&t, black_box(&mut buf), Some(0x1234_5678))).unwrap();
                    },
                    200_000,
                );

                // The same with the NIC finishing the outer IPv4 header and
                // UDP checksums (what `offload: auto` does on such a port).
                let mut t_hw = t.clone();
                t_hw.set_tx_offload(TxOffloadCaps {
                    ipv4_checksum: true,
                    udp_checksum: true,
                    ..TxOffloadCaps::NONE
                });
                let enc_hw_cyc = cycles(
                    || {
                        buf.set_window(hr, len);
                        black_box(encap(&t_hw, black_box(&mut buf), None)).unwrap();
                    },
                    200_000,
                );

                buf.set_window(hr, len);
                encap(&t, &mut buf, None).unwrap();
                let frame = buf.to_vec();
                let d = decapsulator(opts);
                assert!(
                    matches!(d.decap(&frame), geneve_gw::tunnel::Verdict::Deliver(_)),
                    "{name}"
                );
                let mut g = c.benchmark_group("decap");
                g.throughput(Throughput::Elements(1));
                g.bench_function(BenchmarkId::from_parameter(&name), |b| {
                    b.iter(|| black_box(d.decap(black_box(&frame))))
                });
                g.finish();
                let dec_cyc = cycles(
                    || {
                        black_box(d.decap(black_box(&frame)));
                    },
                    200_000,
                );
                rows.push((name, enc_cyc, enc_rss_cyc, enc_hw_cyc, dec_cyc));
            }
        }
    }
    eprintln!("\nTSC cycles/packet (rdtsc loop, 200k iterations; ns = cycles / {ticks:.3}):");
    eprintln!(
        "{:<22} {:>10} {:>10} {:>14} {:>16} {:>10} {:>10}",
        "case",
        "encap cyc",
        "encap ns",
        "encap+rss cyc",
        "encap offload cyc",
        "decap cyc",
        "decap ns"
    );
    for (n, e, er, eh, dc) in rows {
        eprintln!(
            "{n:<22} {e:>10.1} {:>10.2} {er:>14.1} {eh:>16.1} {dc:>10.1} {:>10.2}",
            e / ticks,
            dc / ticks
        );
    }
}

fn config() -> Criterion {
    let secs: f64 = std::env::var("GENEVE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(secs / 2.0))
        .measurement_time(Duration::from_secs_f64(secs))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = bench }
fn main() {
    if let Some(n) = std::env::var("GENEVE_BENCH_LOOP")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        instruction_loop(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
