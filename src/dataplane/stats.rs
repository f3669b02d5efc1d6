//! Per-worker counters: each worker writes only its own cache-aligned block
//! (plain relaxed stores, no read-modify-write across cores); the control
//! thread sums the blocks. Per-tunnel and per-VNI counters: [`EntryCounters`]
//! (`stats_entries.rs`).
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tunnel::DropReason;

#[path = "stats_entries.rs"]
mod entries;
pub use entries::{
    DecapRun, EntryCounters, EntrySlots, TunnelCell, TunnelCounters, VniCell, VniCounters,
    WorkerEntries, MIN_HEADROOM, NO_SLOT,
};

/// Most ports a worker keeps counters for.
pub const MAX_PORTS: usize = 32;

/// Counters one worker keeps for one port.
#[derive(Default)]
#[repr(align(64))]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub tx_packets: Counter,
    /// Mbufs the PMD refused on TX, freed by us.
    pub tx_dropped: Counter,
}

/// A counter with a single writer.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker may call this: load and store are
    /// separate, which is correct with one writer and cheaper than fetch_add.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    #[inline(always)]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    #[inline(always)]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything one worker counts.
#[repr(align(64))]
pub struct WorkerCounters {
    pub ports: [PortCounters; MAX_PORTS],
    /// Packets encapsulated (flood copies included).
    pub encap: Counter,
    /// Packets decapsulated and delivered.
    pub decap: Counter,
    /// Of `encap`: packets sent VXLAN-encapsulated (the rest are Geneve).
    pub vxlan_encap: Counter,
    /// Of `decap`: VXLAN packets delivered to an access port.
    pub vxlan_decap: Counter,
    /// Decapsulated frames sent on through another tunnel (stitched
    /// segments: VXLAN to Geneve and back, or between mesh groups).
    pub stitched: Counter,
    /// Stitched frames whose Geneve options were not carried into VXLAN.
    pub options_not_carried: Counter,
    /// Packets handed to the control thread.
    pub punted: Counter,
    /// Geneve control packets (O bit) among them.
    pub geneve_control: Counter,
    /// Source MACs refused for learning (group, all-zero, from our own address).
    pub learn_refused: Counter,
    /// Learning (and resolve, flow-id) events the full queue did not take.
    pub event_queue_full: Counter,
    /// Segments sent for too-big TCP frames (software segmentation), and
    /// frames handed to the NIC's Geneve TSO.
    pub tso_segments: Counter,
    pub tso_hw_frames: Counter,
    /// ICMP Fragmentation Needed / Packet Too Big sent to inner senders,
    /// and those the per-worker rate limit held back.
    pub icmp_too_big: Counter,
    pub icmp_too_big_limited: Counter,
    /// One counter per drop reason (`pipeline::DropReason::index`).
    pub drops: [Counter; DropReason::COUNT],
    /// TSC cycles since the worker started.
    pub total_cycles: Counter,
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            ports: std::array::from_fn(|_| PortCounters::default()),
            encap: Counter::default(),
            decap: Counter::default(),
            vxlan_encap: Counter::default(),
            vxlan_decap: Counter::default(),
            stitched: Counter::default(),
            options_not_carried: Counter::default(),
            punted: Counter::default(),
            geneve_control: Counter::default(),
            learn_refused: Counter::default(),
            event_queue_full: Counter::default(),
            tso_segments: Counter::default(),
            tso_hw_frames: Counter::default(),
            icmp_too_big: Counter::default(),
            icmp_too_big_limited: Counter::default(),
            drops: std::array::from_fn(|_| Counter::default()),
            total_cycles: Counter::default(),
        }
    }
}

/// Sums over all workers for one port.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortTotals {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

pub fn port_totals(workers: &[WorkerCounters], port: usize) -> PortTotals {
    let mut t = PortTotals::default();
    for w in workers {
        let p = &w.ports[port];
        t.rx_packets += p.rx_packets.get();
        t.tx_packets += p.tx_packets.get();
        t.tx_dropped += p.tx_dropped.get();
    }
    t
}

/// Drops by reason over all workers, in `DropReason::ALL` order.
pub fn drop_totals(workers: &[WorkerCounters]) -> [u64; DropReason::COUNT] {
    let mut t = [0u64; DropReason::COUNT];
    for w in workers {
        for (i, c) in w.drops.iter().enumerate() {
            t[i] += c.get();
        }
    }
    t
}

pub fn total_rx(workers: &[WorkerCounters], nb_ports: usize) -> u64 {
    (0..nb_ports.min(MAX_PORTS))
        .map(|p| port_totals(workers, p).rx_packets)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_cache_line_aligned() {
        assert_eq!(std::mem::align_of::<PortCounters>(), 64);
        assert_eq!(std::mem::size_of::<PortCounters>() % 64, 0);
        assert_eq!(std::mem::align_of::<WorkerCounters>(), 64);
    }

    #[test]
    fn totals_sum_over_workers() {
        let w: Vec<WorkerCounters> = (0..3).map(|_| WorkerCounters::default()).collect();
        for (i, wc) in w.iter().enumerate() {
            wc.ports[1].rx_packets.add(10 * (i as u64 + 1));
            wc.ports[1].tx_packets.add(5);
            wc.ports[0].tx_dropped.add(1);
        }
        assert_eq!(
            port_totals(&w, 1),
            PortTotals {
                rx_packets: 60,
                tx_packets: 15,
                tx_dropped: 0
            }
        );
        assert_eq!(port_totals(&w, 0).tx_dropped, 3);
        assert_eq!(total_rx(&w, 2), 60);
    }
}
