//! What residence-time measurement adds per packet, without DPDK: per burst
//! of 32, the worker's bookkeeping (`end_burst` over the TX buffers,
//! `flushed` with one `record_n` per run) plus the two TSC reads the worker
//! makes (one at RX, one at the flush), against the same loop with
//! measurement off.
//!
//! `cargo bench --bench latency`
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geneve_gw::dataplane::latency::{self, Residence};

const BURST: u64 = 32;

/// The TSC through the library's DPDK layer (the only place allowed
/// `unsafe`); reading it needs no running EAL.
#[inline(always)]
fn tsc() -> u64 {
    geneve_gw::dpdk::tsc_now()
}

/// One RX burst whose 32 packets fill port 1's TX buffer, then its flush,
/// as the worker does it (2 ports).
fn burst(r: &mut Residence) {
    if r.enabled() {
        r.begin_burst(tsc());
    }
    r.end_burst([0usize, black_box(BURST as usize)].into_iter());
    if r.enabled() {
        r.flushed(1, BURST as usize, BURST as usize, tsc());
    }
}

/// The bookkeeping alone, with made-up clock values instead of TSC reads.
fn burst_no_tsc(r: &mut Residence, clock: &mut u64) {
    *clock += 1000;
    r.begin_burst(*clock);
    r.end_burst([0usize, black_box(BURST as usize)].into_iter());
    r.flushed(1, BURST as usize, BURST as usize, *clock + 500);
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("residence");
    g.throughput(Throughput::Elements(BURST));
    let (w, ctl) = latency::link();
    let mut on = Residence::new(Some(w), 3_000_000_000, 0);
    let mut off = Residence::new(None, 3_000_000_000, 0);
    g.bench_function("on", |b| b.iter(|| burst(&mut on)));
    g.bench_function("off", |b| b.iter(|| burst(&mut off)));
    let mut clock = 1u64;
    g.bench_function("on_without_tsc_reads", |b| {
        b.iter(|| burst_no_tsc(&mut on, &mut clock))
    });
    g.bench_function("tsc_read", |b| b.iter(tsc));
    g.finish();
    drop(ctl);
}

criterion_group!(benches, bench);
criterion_main!(benches);
