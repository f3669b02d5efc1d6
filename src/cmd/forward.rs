//! `geneve-gw forward`: ports paired in twos (0<->1, 2<->3, ...) forward to
//! each other with l2fwd semantics. It proves the DPDK base and is the
//! gateway's performance baseline against `dpdk-testpmd --forward-mode=io`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::{self, StopConditions};
use crate::dpdk::{
    self, Burst, Eal, LaunchedWorkers, Mempool, Port, PortConfig, TxBuffer, BURST_SIZE,
};

use super::stats::{port_totals, total_rx, WorkerCounters, MAX_PORTS};

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
        // The TSC costs ~35 cycles to read on these VMs: read it only while a
        // TX buffer holds packets (to drain it within DRAIN_US), not per loop.
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

/// How `geneve-gw forward` runs.
#[derive(Debug, Clone, Default)]
pub struct ForwardOptions {
    /// Worker count; default: one per worker lcore.
    pub workers: Option<usize>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: Option<u16>,
    /// Mbufs in the pool; default: sized from ports, queues and descriptors.
    pub mbufs: Option<u32>,
    /// Live summary period; None: no live summary.
    pub stats_interval: Option<Duration>,
    pub stop: StopConditions,
    pub verbose: bool,
    pub eal_args: Vec<String>,
}

/// Mbufs needed so that no queue starves: every RX and TX ring full, plus a
/// burst per worker per port in flight, plus every lcore's mempool cache.
pub fn pool_size(nb_ports: u32, queues: u32, rxd: u32, txd: u32, cache: u32) -> u32 {
    let need = nb_ports * queues * (rxd + txd + 2 * BURST_SIZE as u32) + (queues + 1) * cache;
    // A power of two minus one is the optimal size for the ring behind the pool.
    let n = need.max(8191) + 1;
    n.next_power_of_two() - 1
}

/// Runs forward mode to the end; Ok carries nothing, the report is printed.
pub fn run(opts: &ForwardOptions) -> Result<(), String> {
    let signal =
        control::signal_flag().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let eal = Eal::init_for_cli(&opts.eal_args, opts.verbose)?;
    let result = check_devices(opts, &eal).and_then(|()| run_with_eal(opts, &signal));
    drop(eal);
    result
}

/// Every `--vdev` must have become a port: a device whose driver failed to
/// start (a missing pcap file, a bad argument) otherwise vanishes silently.
fn check_devices(opts: &ForwardOptions, eal: &Eal) -> Result<(), String> {
    let asked = opts
        .eal_args
        .iter()
        .filter(|a| *a == "--vdev" || a.starts_with("--vdev="))
        .count();
    let got = dpdk::port_count() as usize;
    if got < asked {
        // The first driver complaint names the cause; PCI probing of devices
        // the kernel owns and the generic bus summary are noise here.
        let why = eal
            .startup_log()
            .lines()
            .filter(|l| !l.contains("PCI") && !l.contains("0000:") && !l.contains("Bus (vdev)"))
            .find(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("fail")
                    || l.contains("error")
                    || l.contains("cannot")
                    || l.contains("couldn't")
            })
            .map(|l| format!(" (the driver said: {})", l.trim()))
            .unwrap_or_default();
        return Err(format!(
            "{asked} --vdev devices were given but only {got} came up as ports{why}; check each device's arguments (file paths, names)"
        ));
    }
    Ok(())
}

fn run_with_eal(opts: &ForwardOptions, signal: &AtomicBool) -> Result<(), String> {
    let nb_ports = dpdk::port_count();
    if nb_ports == 0 {
        return Err("no ports: give DPDK devices after `--`, e.g. `-- -l 0-1 --vdev net_null0 --vdev net_null1`".into());
    }
    if nb_ports as usize > MAX_PORTS {
        return Err(format!(
            "{nb_ports} ports found; forward handles at most {MAX_PORTS}"
        ));
    }
    let lcores = dpdk::worker_lcores();
    if lcores.is_empty() {
        return Err("no worker lcore: give at least two cores, e.g. `-l 0-1` (the first runs the control thread, the others run workers)".into());
    }
    let workers = opts.workers.unwrap_or(lcores.len());
    if workers == 0 || workers > lcores.len() {
        return Err(format!(
            "--workers {workers} needs {workers} worker lcores but the EAL core list gives {}; add cores with -l, or lower --workers",
            lcores.len()
        ));
    }
    let cache = 256;
    let size = opts.mbufs.unwrap_or_else(|| {
        pool_size(
            nb_ports.into(),
            workers as u32,
            opts.rx_desc.into(),
            opts.tx_desc.into(),
            cache,
        )
    });
    let pool =
        Mempool::new("fwd_pool", size, cache, dpdk::DEFAULT_MBUF_BUF_SIZE, -1).map_err(|e| {
            format!(
            "{e}; reserve more hugepages (scripts/setup.sh) or lower --mbufs / descriptor counts"
        )
        })?;
    let result = forward_ports(opts, signal, &pool, nb_ports, workers, &lcores);
    // Ports are closed inside forward_ports, so every mbuf is home by now.
    let leaks = pool.report_leaks();
    drop(pool);
    result?;
    leaks
}

fn forward_ports(
    opts: &ForwardOptions,
    signal: &AtomicBool,
    pool: &Mempool,
    nb_ports: u16,
    workers: usize,
    lcores: &[dpdk::WorkerLcore],
) -> Result<(), String> {
    let cfg = PortConfig {
        rx_queues: workers as u16,
        tx_queues: workers as u16,
        rx_desc: opts.rx_desc,
        tx_desc: opts.tx_desc,
        mtu: opts.mtu,
        promiscuous: true,
        tx_offloads: Default::default(),
        rx_offloads: 0,
    };
    let mut ports = Vec::with_capacity(nb_ports as usize);
    for id in 0..nb_ports {
        let mut port = Port::open(id).map_err(|e| e.to_string())?;
        let applied = port
            .configure_and_start(&cfg, pool)
            .map_err(|e| e.to_string())?;
        let i = port.info();
        let link = port.link();
        eprintln!(
            "port {id} ({}, driver {}): {} queue(s){}, mac {}, link {}, forwards to port {}",
            i.name,
            i.driver,
            workers,
            if workers > 1 {
                if applied.rss {
                    ", RSS on"
                } else {
                    ", no RSS (device has none)"
                }
            } else {
                ""
            },
            i.mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            if link.up {
                format!("up {} Mbps", link.speed_mbps)
            } else {
                "down".into()
            },
            peer_port(id, nb_ports)
        );
        ports.push(port);
    }

    let counters: Arc<[WorkerCounters]> = (0..workers).map(|_| WorkerCounters::default()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let jobs = (0..workers)
        .map(|w| {
            let worker = ForwardWorker {
                queue: w as u16,
                nb_ports,
                counters: counters.clone(),
                index: w,
                stop: stop.clone(),
            };
            let job: Box<dyn FnOnce() -> i32 + Send> = Box::new(move || worker.run());
            (lcores[w], job)
        })
        .collect();
    let launched = LaunchedWorkers::launch(jobs).map_err(|e| e.to_string())?;
    let started = Instant::now();

    let mut last: Vec<(u64, u64)> = vec![(0, 0); nb_ports as usize];
    let reason = control::watch(
        signal,
        &opts.stop,
        opts.stats_interval,
        || total_rx(&counters, nb_ports as usize),
        |since| {
            let mut line = String::new();
            for (p, prev) in last.iter_mut().enumerate() {
                let t = port_totals(&counters, p);
                line.push_str(&format!(
                    "port {p}: rx {} tx {} drop {} | ",
                    control::rate(t.rx_packets - prev.0, since),
                    control::rate(t.tx_packets - prev.1, since),
                    t.tx_dropped
                ));
                *prev = (t.rx_packets, t.tx_packets);
            }
            eprintln!("{}", line.trim_end_matches(" | "));
        },
    );
    stop.store(true, Ordering::SeqCst);
    let codes = launched.wait();
    let elapsed = started.elapsed();
    println!("stopped: {reason} after {:.3} s", elapsed.as_secs_f64());
    for (p, port) in ports.iter().enumerate() {
        let t = port_totals(&counters, p);
        let s = port.stats();
        println!(
            "port {p} ({}): rx {} packets, tx {} packets, tx dropped {}, rx missed {}, rx errors {}, tx errors {}, rx no-mbuf {}",
            port.info().name,
            t.rx_packets,
            t.tx_packets,
            t.tx_dropped,
            s.rx_missed,
            s.rx_errors,
            s.tx_errors,
            s.rx_nombuf
        );
        if opts.verbose {
            for x in port.xstats().iter().filter(|x| x.value != 0) {
                println!("  port {p} xstat {} {}", x.name, x.value);
            }
        }
    }
    let hz = dpdk::tsc_hz() as f64;
    for (w, c) in counters.iter().enumerate() {
        let pkts: u64 = (0..nb_ports as usize)
            .map(|p| c.ports[p].rx_packets.get())
            .sum();
        let total = c.total_cycles.get();
        println!(
            "worker {w} (lcore {}): {pkts} packets, {:.1} cycles/packet, {:.3} Mpps over {:.3} s",
            lcores[w].0,
            if pkts > 0 {
                total as f64 / pkts as f64
            } else {
                0.0
            },
            if total > 0 {
                pkts as f64 / (total as f64 / hz) / 1e6
            } else {
                0.0
            },
            total as f64 / hz
        );
    }
    for mut port in ports {
        port.stop();
    }
    if codes.iter().any(|&c| c != 0) {
        return Err(format!("a worker failed: exit codes {codes:?}"));
    }
    Ok(())
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
