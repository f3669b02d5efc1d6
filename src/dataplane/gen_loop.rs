//! The traffic generator's lcore loop: one lcore sends and receives. It
//! alternates a TX burst (paced by the token bucket) with an RX poll, so the
//! round trip through the device under test is measured on one TSC.
use std::sync::atomic::{AtomicBool, Ordering};

use hdrhistogram::Histogram;

use crate::dpdk::{self, Burst, Mempool, BURST_SIZE};
use crate::tunnel::{encap, EncapTemplate};

use super::gen::{find_stamp, FlowTracker, InnerSpec, Junk, SizeMix, Stamp, TokenBucket};

/// What to send and for how long.
pub struct GenPlan {
    pub tx_port: u16,
    pub rx_port: u16,
    /// RX queues to poll on `rx_port` (a peer may send on several).
    pub rx_queues: u16,
    pub inner: InnerSpec,
    pub flows: u32,
    pub sizes: SizeMix,
    /// Geneve mode: the inner frames leave encapsulated with this template.
    pub encap: Option<EncapTemplate>,
    /// Packets per second; 0 = as fast as the TX queue takes them.
    pub rate: u64,
    /// Stop sending after this many packets.
    pub count: Option<u64>,
    /// Stop sending after this many TSC cycles.
    pub duration_tsc: Option<u64>,
    /// After the last TX, keep receiving this long (or until all came back).
    pub drain_tsc: u64,
    /// Live summary on stderr this often (TSC cycles).
    pub report_tsc: Option<u64>,
}

/// Junk counters, by [`Junk`] kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct JunkCounts {
    pub not_udp: u64,
    pub bad_geneve: u64,
    pub no_magic: u64,
}

impl JunkCounts {
    pub fn total(&self) -> u64 {
        self.not_udp + self.bad_geneve + self.no_magic
    }
}

/// What a run saw.
pub struct GenOutcome {
    pub sent: u64,
    /// Bytes sent (frames as they left, without FCS).
    pub sent_bytes: u64,
    /// Bursts skipped because the pool had no mbufs.
    pub alloc_failures: u64,
    /// Packets built but never taken by the TX queue at the end (freed).
    pub unsent_at_stop: u64,
    pub tracker: FlowTracker,
    pub junk: JunkCounts,
    /// Round-trip latency in TSC cycles.
    pub latency: Histogram<u64>,
    /// TSC cycles from the first to the last TX burst.
    pub tx_cycles: u64,
    pub interrupted: bool,
}

/// Runs the generator on the calling lcore until the plan or `stop` ends it.
pub fn run(plan: &GenPlan, pool: &Mempool, stop: &AtomicBool) -> GenOutcome {
    let hz = dpdk::tsc_hz();
    let mut latency = Histogram::<u64>::new_with_bounds(1, hz.saturating_mul(60).max(2), 3)
        .expect("static histogram bounds are valid");
    let mut tracker = FlowTracker::new(plan.flows);
    let mut junk = JunkCounts::default();
    let mut tx_seq = vec![0u32; plan.flows as usize];
    let mut pending: Burst<BURST_SIZE> = Burst::new();
    let mut rx: Burst<BURST_SIZE> = Burst::new();

    let start = dpdk::tsc_now();
    // Credit for up to 10 ms of traffic (at least a burst): a poll that comes
    // late because this shared core was busy elsewhere catches up (still in
    // bursts of 32 between RX polls) instead of losing the rate.
    let depth = (plan.rate / 100).clamp(BURST_SIZE as u64, u64::from(u32::MAX)) as u32;
    let mut bucket = TokenBucket::new(plan.rate, hz, depth, start);
    let end = plan.duration_tsc.map(|d| start.saturating_add(d));
    let mut built: u64 = 0;
    let mut sent: u64 = 0;
    let mut sent_bytes: u64 = 0;
    let mut alloc_failures: u64 = 0;
    let mut sending = true;
    let mut interrupted = false;
    let mut last_tx = start;
    let mut drain_until = u64::MAX;
    let mut next_report = plan.report_tsc.map(|r| start + r);
    let mut last_report = (start, 0u64, 0u64);
    let mut flow: u32 = 0;
    let mut size_index: usize = 0;

    loop {
        let now = dpdk::tsc_now();
        if sending {
            let done_count = plan.count.is_some_and(|c| built >= c);
            let done_time = end.is_some_and(|e| now >= e);
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
            }
            if done_count || done_time || interrupted {
                sending = false;
                drain_until = now.saturating_add(plan.drain_tsc);
            }
        }
        if sending {
            if pending.is_empty() {
                let mut want = BURST_SIZE as u32;
                if let Some(c) = plan.count {
                    want = want.min((c - built).min(BURST_SIZE as u64) as u32);
                }
                let n = bucket.take(now, want) as usize;
                if n > 0 {
                    if pending.alloc_from(pool, n) {
                        for m in pending.as_mut_slice() {
                            let size = usize::from(plan.sizes.at(size_index));
                            size_index = plan.sizes.next_index(size_index);
                            let stamp = Stamp {
                                flow: flow as u16,
                                seq: tx_seq[flow as usize],
                                tsc: now,
                            };
                            tx_seq[flow as usize] = stamp.seq.wrapping_add(1);
                            // The mix only holds sizes a default mbuf fits.
                            if let Some(buf) = m.set_len(size - 4) {
                                plan.inner.build(buf, size - 4, &stamp);
                            }
                            if let Some(t) = &plan.encap {
                                // Spread the flows over UDP source ports.
                                let hash = flow.wrapping_mul(0x9e37_79b1);
                                let _ = encap(t, m, Some(hash));
                            }
                            built += 1;
                            flow += 1;
                            if flow == plan.flows {
                                flow = 0;
                            }
                        }
                    } else {
                        alloc_failures += 1;
                    }
                }
            }
            if !pending.is_empty() {
                let bytes: usize = pending.as_slice().iter().map(|m| m.data_len()).sum();
                let n = dpdk::tx_burst(plan.tx_port, 0, &mut pending);
                if n > 0 {
                    sent += n as u64;
                    // Exact when the queue took all (the usual case); else
                    // the bytes of what is still pending are taken off.
                    let left: usize = pending.as_slice().iter().map(|m| m.data_len()).sum();
                    sent_bytes += (bytes - left) as u64;
                    last_tx = now;
                }
            }
        }

        for q in 0..plan.rx_queues {
            if dpdk::rx_burst(plan.rx_port, q, &mut rx) == 0 {
                continue;
            }
            let t = dpdk::tsc_now();
            for m in rx.as_slice() {
                match find_stamp(m.data()) {
                    Ok(s) => {
                        if tracker.record(s.flow, s.seq) {
                            latency.saturating_record(t.wrapping_sub(s.tsc).max(1));
                        }
                    }
                    Err(Junk::NotUdp) => junk.not_udp += 1,
                    Err(Junk::BadGeneve) => junk.bad_geneve += 1,
                    Err(Junk::NoMagic) => junk.no_magic += 1,
                }
            }
            rx.free_bulk();
        }

        if !sending {
            // Everything back, the drain period over, or a second signal.
            if tracker.received >= sent || now >= drain_until {
                break;
            }
        }
        if let Some(next) = next_report {
            if now >= next {
                let secs = now.wrapping_sub(last_report.0) as f64 / hz as f64;
                eprintln!(
                    "gen: tx {:.3} Mpps, rx {:.3} Mpps (sent {sent}, received {})",
                    (sent - last_report.1) as f64 / secs / 1e6,
                    (tracker.received - last_report.2) as f64 / secs / 1e6,
                    tracker.received
                );
                last_report = (now, sent, tracker.received);
                next_report = Some(now + plan.report_tsc.unwrap_or(hz));
            }
        }
    }
    let unsent_at_stop = pending.len() as u64;
    pending.clear();
    GenOutcome {
        sent,
        sent_bytes,
        alloc_failures,
        unsent_at_stop,
        tracker,
        junk,
        latency,
        tx_cycles: last_tx.wrapping_sub(start),
        interrupted,
    }
}
