//! `geneve-gw forward`: ports paired in twos (0<->1, 2<->3, ...) forward to
//! each other with l2fwd semantics. It proves the DPDK base and is the
//! gateway's performance baseline against `dpdk-testpmd --forward-mode=io`.
//! The worker loop is `dataplane::forward`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::control::{self, StopConditions};
use crate::dataplane::forward::{peer_port, pool_size, ForwardWorker};
use crate::dataplane::stats::{port_totals, total_rx, WorkerCounters, MAX_PORTS};
use crate::dpdk::{self, Eal, LaunchedWorkers, Mempool, Port, PortSetup};

/// `geneve-gw forward` options.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// Worker count (default: one per worker lcore of the EAL core list).
    #[arg(long)]
    pub workers: Option<usize>,
    /// RX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    pub rxd: u16,
    /// TX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    pub txd: u16,
    /// Port MTU (default: the device's).
    #[arg(long)]
    pub mtu: Option<u16>,
    /// Mbufs in the pool (default: sized from ports, queues and descriptors).
    #[arg(long)]
    pub mbufs: Option<u32>,
    #[command(flatten)]
    pub control: super::RunControl,
    /// DPDK EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

/// Runs `geneve-gw forward` from its command line.
pub fn execute(a: ForwardArgs) -> Result<(), String> {
    if a.eal_args.is_empty() {
        return Err(
            "no DPDK devices given: put EAL arguments after `--`, e.g. `geneve-gw forward -- -l 0-1 --vdev net_null0 --vdev net_null1`"
                .into(),
        );
    }
    let opts = ForwardOptions {
        workers: a.workers,
        rx_desc: a.rxd,
        tx_desc: a.txd,
        mtu: a.mtu,
        mbufs: a.mbufs,
        stats_interval: a.control.interval()?,
        stop: a.control.stop(),
        verbose: a.control.verbose,
        eal_args: a.eal_args,
    };
    run(&opts)
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

/// Runs forward mode to the end; Ok carries nothing, the report is printed.
pub fn run(opts: &ForwardOptions) -> Result<(), String> {
    let signal =
        control::signal_flag().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let eal = Eal::init_for_cli(&opts.eal_args, opts.verbose)?;
    let result =
        super::check_devices(&opts.eal_args, &eal).and_then(|()| run_with_eal(opts, &signal));
    drop(eal);
    result
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
    let cfg = PortSetup {
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
