//! The `geneve-gw forward` worker: ports paired in twos (0<->1, 2<->3, ...)
//! forward to each other with l2fwd semantics, and the mbuf pool sizing the
//! other subcommands share. Setup and report: `cmd::forward`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::{self, Burst, TxBuffer, BURST_SIZE};

use super::stats::WorkerCounters;

/// The port a port forwards to: its pair, or itself when it has none.
pub fn peer_port(port: u16, nb_ports: u16) -> u16 {
    let peer = port ^ 1;
    if peer < nb_ports {
        peer
    } else {
        port
    }
}

/// TX buffers are flushed at least this often (l2fwd's 100 us).
pub const DRAIN_US: u64 = 100;

/// One worker: owns RX and TX queue `queue` on every port.
pub struct ForwardWorker {
    pub queue: u16,
    pub nb_ports: u16,
    pub counters: Arc<[WorkerCounters]>,
    pub index: usize,
    pub stop: Arc<AtomicBool>,
}

impl ForwardWorker {
    /// The run-to-completion loop; returns when `stop` is set, after sending
    /// what is buffered.
    pub fn run(self) -> i32 {
        let c = &self.counters[self.index];
        let nb = self.nb_ports as usize;
        // One TX buffer per destination port, built once: no allocation in the loop.
        let mut tx: Vec<TxBuffer> = (0..self.nb_ports)
            .map(|p| TxBuffer::new(p, self.queue))
            .collect();
        let peers: Vec<usize> = (0..self.nb_ports)
            .map(|p| peer_port(p, self.nb_ports) as usize)
            .collect();
        let mut burst: Burst<BURST_SIZE> = Burst::new();
        let drain_tsc = dpdk::tsc_hz() / 1_000_000 * DRAIN_US;
        let start = dpdk::tsc_now();
        // Reading the TSC is not free: read it only while a TX buffer holds
        // packets (to drain it within DRAIN_US), not on every loop.
        let mut pending_since: Option<u64> = None;
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(since) = pending_since {
                if dpdk::tsc_now().wrapping_sub(since) > drain_tsc {
                    for (p, b) in tx.iter_mut().enumerate() {
                        if !b.is_empty() {
                            Self::flush(b, c, p);
                        }
                    }
                    pending_since = None;
                }
            }
            for (p, &dst) in peers.iter().enumerate().take(nb) {
                let n = dpdk::rx_burst(p as u16, self.queue, &mut burst);
                if n == 0 {
                    continue;
                }
                c.ports[p].rx_packets.add(n as u64);
                let b = &mut tx[dst];
                if b.is_empty() && burst.is_full() {
                    // A full burst goes out as it is, as testpmd io does:
                    // buffering only pays for partial bursts.
                    let sent = dpdk::tx_burst(dst as u16, self.queue, &mut burst);
                    c.ports[dst].tx_packets.add(sent as u64);
                    if !burst.is_empty() {
                        c.ports[dst].tx_dropped.add(burst.len() as u64);
                        burst.clear();
                    }
                    continue;
                }
                while !burst.is_empty() {
                    b.append(&mut burst);
                    if b.is_full() {
                        Self::flush(b, c, dst);
                    }
                }
                if !b.is_empty() && pending_since.is_none() {
                    pending_since = Some(dpdk::tsc_now());
                }
            }
        }
        for (p, b) in tx.iter_mut().enumerate() {
            Self::flush(b, c, p);
        }
        c.total_cycles.set(dpdk::tsc_now().wrapping_sub(start));
        0
    }

    #[inline(always)]
    fn flush(b: &mut TxBuffer, c: &WorkerCounters, port: usize) {
        let (sent, dropped) = b.flush();
        c.ports[port].tx_packets.add(sent as u64);
        if dropped > 0 {
            c.ports[port].tx_dropped.add(dropped as u64);
        }
    }
}

/// Mbufs needed so that no queue starves: every RX and TX ring full, plus a
/// burst per worker per port in flight, plus every lcore's mempool cache.
pub fn pool_size(nb_ports: u32, queues: u32, rxd: u32, txd: u32, cache: u32) -> u32 {
    let need = nb_ports * queues * (rxd + txd + 2 * BURST_SIZE as u32) + (queues + 1) * cache;
    // A power of two minus one is the optimal size for the ring behind the pool.
    let n = need.max(8191) + 1;
    n.next_power_of_two() - 1
}

#[cfg(test)]
mod tests {
    use super::{peer_port, pool_size};

    #[test]
    fn pool_is_big_enough_and_ring_friendly() {
        let n = pool_size(2, 2, 1024, 1024, 256);
        assert!(n >= 2 * 2 * (1024 + 1024 + 64) + 3 * 256);
        assert_eq!((n + 1).count_ones(), 1);
        assert_eq!(pool_size(1, 1, 128, 128, 32), 8191);
    }

    #[test]
    fn ports_pair_in_twos() {
        assert_eq!(peer_port(0, 2), 1);
        assert_eq!(peer_port(1, 2), 0);
        assert_eq!(peer_port(2, 4), 3);
        assert_eq!(peer_port(3, 4), 2);
        // An odd last port forwards to itself.
        assert_eq!(peer_port(2, 3), 2);
        assert_eq!(peer_port(0, 1), 0);
    }
}
