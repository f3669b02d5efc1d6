//! Residence time inside the gateway: RX burst to TX flush, in TSC cycles.
//!
//! Reading the TSC is not free (BENCHMARKS.md), so a packet is never
//! stamped on its own, and nothing is done per packet: the worker reads the
//! TSC once per RX burst and once per TX flush. After each RX burst it tells
//! the recorder how long every TX buffer is; the packets added since the
//! last look form a run that shares the burst's stamp. At a flush every run
//! is recorded with one `record_n`. Each worker owns its histogram and hands
//! it to the control thread every [`HANDOFF_MS`] over a bounded channel,
//! getting an emptied one back on another: no lock, no allocation on the
//! worker.
use crossbeam::channel::{bounded, Receiver, Sender};
use hdrhistogram::Histogram;

use super::stats::MAX_PORTS;

/// Runs one TX buffer can hold: it holds at most a burst (32) of packets.
const BURST_SIZE: usize = 32;

/// How often a worker hands its histogram to the control thread.
pub const HANDOFF_MS: u64 = 100;
/// Largest residence time kept apart (in cycles): about 30 s at 3 GHz; longer
/// ones count as this value.
const MAX_CYCLES: u64 = 1 << 37;
/// Significant decimal digits: 1% resolution over the whole range.
const SIGFIG: u8 = 2;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_CYCLES, SIGFIG).expect("valid histogram bounds")
}

/// The worker's side of the hand-off.
pub struct WorkerLink {
    pub full_tx: Sender<Histogram<u64>>,
    pub empty_rx: Receiver<Histogram<u64>>,
}

/// The control thread's side of one worker's hand-off.
pub struct ControlLink {
    pub full_rx: Receiver<Histogram<u64>>,
    pub empty_tx: Sender<Histogram<u64>>,
}

/// One hand-off link; two spare histograms circulate besides the worker's.
pub fn link() -> (WorkerLink, ControlLink) {
    let (full_tx, full_rx) = bounded(2);
    let (empty_tx, empty_rx) = bounded(2);
    for _ in 0..2 {
        let _ = empty_tx.try_send(new_histogram());
    }
    (
        WorkerLink { full_tx, empty_rx },
        ControlLink { full_rx, empty_tx },
    )
}

/// Runs of packets with the same RX stamp, in TX-buffer order.
#[derive(Clone, Copy)]
struct Runs {
    stamp: [u64; BURST_SIZE],
    count: [u32; BURST_SIZE],
    len: usize,
    /// Packets of the buffer the runs account for.
    packets: usize,
}

impl Runs {
    const EMPTY: Runs = Runs {
        stamp: [0; BURST_SIZE],
        count: [0; BURST_SIZE],
        len: 0,
        packets: 0,
    };

    /// The buffer holds `buffered` packets: those beyond the runs came with `stamp`.
    #[inline(always)]
    fn close(&mut self, buffered: usize, stamp: u64) {
        if buffered > self.packets && self.len < BURST_SIZE {
            self.stamp[self.len] = stamp;
            self.count[self.len] = (buffered - self.packets) as u32;
            self.len += 1;
            self.packets = buffered;
        }
    }
}

/// A worker's residence-time recorder. Disabled, every call returns at once.
pub struct Residence {
    enabled: bool,
    hist: Histogram<u64>,
    runs: Box<[Runs; MAX_PORTS]>,
    /// RX time of the burst being processed; 0 outside a burst (packets
    /// queued then, e.g. the control thread's, are not measured).
    stamp: u64,
    link: Option<WorkerLink>,
    handoff_cycles: u64,
    last_handoff: u64,
}

impl Residence {
    pub fn new(link: Option<WorkerLink>, tsc_hz: u64, now: u64) -> Residence {
        Residence {
            enabled: link.is_some(),
            hist: new_histogram(),
            runs: Box::new([Runs::EMPTY; MAX_PORTS]),
            stamp: 0,
            link,
            handoff_cycles: tsc_hz / 1000 * HANDOFF_MS,
            last_handoff: now,
        }
    }

    #[inline(always)]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// An RX burst received at `now` (TSC) is about to be processed.
    #[inline(always)]
    pub fn begin_burst(&mut self, now: u64) {
        self.stamp = now;
    }

    /// The burst is done; `buffered` gives every TX buffer's length, by port.
    #[inline]
    pub fn end_burst(&mut self, buffered: impl Iterator<Item = usize>) {
        if !self.enabled {
            return;
        }
        for (r, n) in self.runs.iter_mut().zip(buffered) {
            r.close(n, self.stamp);
        }
        self.stamp = 0;
    }

    /// Port's TX buffer held `buffered` packets and was flushed at `now`:
    /// the first `sent` of them left.
    #[inline]
    pub fn flushed(&mut self, port: usize, buffered: usize, sent: usize, now: u64) {
        let Some(r) = self.runs.get_mut(port) else {
            return;
        };
        r.close(buffered, self.stamp);
        let mut left = sent as u64;
        for i in 0..r.len {
            if left == 0 {
                break;
            }
            let n = (r.count[i] as u64).min(left);
            left -= n;
            if r.stamp[i] != 0 {
                let cycles = now.saturating_sub(r.stamp[i]).max(1);
                self.hist.saturating_record_n(cycles, n);
            }
        }
        r.len = 0;
        r.packets = 0;
    }

    /// Hands the histogram over when it is due and an empty one is back.
    #[inline]
    pub fn maybe_handoff(&mut self, now: u64) {
        if !self.enabled || now.wrapping_sub(self.last_handoff) < self.handoff_cycles {
            return;
        }
        self.last_handoff = now;
        self.handoff();
    }

    /// Hands the histogram over now (the worker is stopping, or it is due).
    pub fn handoff(&mut self) {
        let Some(link) = &self.link else { return };
        if self.hist.is_empty() {
            return;
        }
        if let Ok(fresh) = link.empty_rx.try_recv() {
            let full = std::mem::replace(&mut self.hist, fresh);
            // Three histograms circulate and the full queue holds two, so
            // this fails only when the control thread is gone (shutdown):
            // then keep counting into the full one.
            if let Err(e) = link.full_tx.try_send(full) {
                self.hist = e.into_inner();
            }
        }
    }
}

/// What the control thread keeps: everything since start, and the part since
/// the last live summary.
pub struct Merged {
    pub total: Histogram<u64>,
    pub interval: Histogram<u64>,
    links: Vec<ControlLink>,
}

impl Merged {
    pub fn new(links: Vec<ControlLink>) -> Merged {
        Merged {
            total: new_histogram(),
            interval: new_histogram(),
            links,
        }
    }

    /// Takes every histogram the workers handed over and gives them back empty.
    pub fn collect(&mut self) {
        for l in &self.links {
            while let Ok(mut h) = l.full_rx.try_recv() {
                let _ = self.total.add(&h);
                let _ = self.interval.add(&h);
                h.reset();
                let _ = l.empty_tx.try_send(h);
            }
        }
    }
}

/// Percentiles of a histogram in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub samples: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>, tsc_hz: u64) -> Percentiles {
        if h.is_empty() || tsc_hz == 0 {
            return Percentiles::default();
        }
        let ns = |c: u64| ((c as u128 * 1_000_000_000) / tsc_hz as u128) as u64;
        Percentiles {
            samples: h.len(),
            min_ns: ns(h.min()),
            p50_ns: ns(h.value_at_quantile(0.5)),
            p99_ns: ns(h.value_at_quantile(0.99)),
            p999_ns: ns(h.value_at_quantile(0.999)),
            max_ns: ns(h.max()),
            mean_ns: h.mean() * 1e9 / tsc_hz as f64,
        }
    }

    /// `p50 1.2 us p99 3.4 us p99.9 5.6 us max 7.8 us`.
    pub fn summary(&self) -> String {
        let us = |n: u64| n as f64 / 1000.0;
        format!(
            "p50 {:.1} us p99 {:.1} us p99.9 {:.1} us max {:.1} us",
            us(self.p50_ns),
            us(self.p99_ns),
            us(self.p999_ns),
            us(self.max_ns)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_record_each_packet_with_its_burst_stamp() {
        let (w, c) = link();
        let mut r = Residence::new(Some(w), 1_000_000_000, 0);
        // A control-thread packet queued outside any burst: not measured.
        r.end_burst([0, 1].into_iter());
        // Burst at t=100 queues 3 packets on port 1, burst at t=200 two more.
        r.begin_burst(100);
        r.end_burst([0, 4].into_iter());
        r.begin_burst(200);
        r.end_burst([0, 6].into_iter());
        r.flushed(1, 6, 6, 1100);
        assert_eq!(r.hist.len(), 5);
        assert_eq!(r.hist.count_at(1000), 3);
        assert_eq!(r.hist.count_at(900), 2);
        // A flush in the middle of a burst (buffer full) closes the burst's
        // run first; only what the PMD took is measured.
        r.begin_burst(2000);
        r.flushed(1, 2, 1, 2500);
        assert_eq!(r.hist.len(), 6);
        assert_eq!(r.hist.count_at(500), 1);
        r.end_burst([0, 3].into_iter());
        r.flushed(1, 3, 3, 2600);
        assert_eq!(r.hist.count_at(600), 3);
        assert_eq!(r.hist.len(), 9);

        let mut m = Merged::new(vec![c]);
        r.maybe_handoff(1_000_000_000); // 1 s later: due
        m.collect();
        assert_eq!(m.total.len(), 9);
        assert_eq!(r.hist.len(), 0);
        let p = Percentiles::of(&m.total, 1_000_000_000);
        assert_eq!(p.samples, 9);
        assert!(p.min_ns <= p.p50_ns && p.p50_ns <= p.p99_ns && p.p99_ns <= p.max_ns);
        assert!((495..=505).contains(&p.min_ns), "{p:?}");
        assert!((995..=1010).contains(&p.max_ns), "{p:?}");
        // The emptied histogram went back for the next hand-off.
        r.begin_burst(10);
        r.end_burst([1].into_iter());
        r.flushed(0, 1, 1, 20);
        r.handoff();
        m.collect();
        assert_eq!(m.total.len(), 10);
    }

    #[test]
    fn disabled_records_nothing() {
        let mut r = Residence::new(None, 1_000_000_000, 0);
        assert!(!r.enabled());
        r.begin_burst(5);
        r.end_burst([3].into_iter());
        r.maybe_handoff(u64::MAX);
        r.handoff();
        assert_eq!(r.hist.len(), 0);
    }

    #[test]
    fn percentiles_in_ns() {
        let mut h = new_histogram();
        h.record_n(3000, 99).unwrap();
        h.record(30000).unwrap();
        let p = Percentiles::of(&h, 3_000_000_000); // 3 GHz: 3000 cycles = 1 us
        assert_eq!(p.samples, 100);
        assert!((990..=1010).contains(&p.p50_ns), "{p:?}");
        assert!((9900..=10100).contains(&p.max_ns), "{p:?}");
        assert_eq!(
            Percentiles {
                p50_ns: 1200,
                p99_ns: 3400,
                p999_ns: 5600,
                max_ns: 7800,
                ..Default::default()
            }
            .summary(),
            "p50 1.2 us p99 3.4 us p99.9 5.6 us max 7.8 us"
        );
    }
}
