//! `geneve-gw gen`: traffic generator and sink in one process (one lcore
//! does both). Options, EAL and port setup, and the report; the loop itself
//! is `dataplane::gen_loop`, the packet logic `dataplane::gen`.
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::dataplane::gen::{InnerSpec, SizeMix, MAX_FLOWS};
use crate::dataplane::gen_loop::{self, GenOutcome, GenPlan};
use crate::dpdk::{self, Eal, Mempool, Port, PortSetup};
use crate::tunnel::{EncapTemplate, TunnelConfig};
use crate::wire::ethernet::parse_mac;
use crate::wire::Vni;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenMode {
    /// Plain inner frames (Ethernet/IPv4/UDP): the device under test
    /// encapsulates them.
    Inner,
    /// The same frames already inside Geneve (built with geneve-gw's own
    /// encap): the device under test decapsulates them.
    Geneve,
}

/// `geneve-gw gen` options.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Port to send on: a DPDK device name (net_memif0) or a port id.
    #[arg(long, default_value = "0", value_name = "PORT")]
    pub tx_port: String,
    /// Port to receive on (default: the TX port).
    #[arg(long, value_name = "PORT")]
    pub rx_port: Option<String>,
    #[arg(long, value_enum, default_value_t = GenMode::Inner)]
    pub mode: GenMode,
    /// Number of flows (inner destination address and UDP source port vary).
    #[arg(long, default_value_t = 1)]
    pub flows: u32,
    /// Frame size in bytes, FCS included (64..=1518); in geneve mode the
    /// inner frame's.
    #[arg(long, default_value_t = 64, conflicts_with = "imix")]
    pub size: u16,
    /// A mix of frame sizes, e.g. `64,576,1500` (with --imix-weights 7:4:1).
    #[arg(long, value_name = "SIZES")]
    pub imix: Option<String>,
    /// Weights of the --imix sizes, e.g. `7:4:1` (default: equal).
    #[arg(long, value_name = "W:W:..", requires = "imix")]
    pub imix_weights: Option<String>,
    /// Packets per second (suffix k or M allowed); 0 = as fast as possible.
    #[arg(long, default_value = "0", value_name = "PPS")]
    pub rate: String,
    /// Seconds to send (default 5 unless --count is given).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Packets to send.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// After sending, wait this long for what is still in flight.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub drain_ms: u64,
    /// Wait this long for the ports' links (memif peers) before sending.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub link_timeout: f64,
    /// Inner source MAC.
    #[arg(long, default_value = "02:00:00:00:0a:01")]
    pub src_mac: String,
    /// Inner destination MAC.
    #[arg(long, default_value = "02:00:00:00:0b:01")]
    pub dst_mac: String,
    /// Inner source IPv4 address.
    #[arg(long, default_value = "198.19.0.1")]
    pub src_ip: Ipv4Addr,
    /// Inner destination IPv4 address of flow 0 (flow i: + i).
    #[arg(long, default_value = "198.19.1.1")]
    pub dst_ip: Ipv4Addr,
    /// Inner UDP source port of flow 0 (flow i: + i mod 16384).
    #[arg(long, default_value_t = 1024)]
    pub sport: u16,
    /// Inner UDP destination port.
    #[arg(long, default_value_t = 5001)]
    pub dport: u16,
    /// Geneve mode: VNI.
    #[arg(long, default_value_t = 100)]
    pub vni: u32,
    /// Geneve mode: outer source address (the generator plays this VTEP).
    #[arg(long, default_value = "198.18.0.2")]
    pub outer_src: IpAddr,
    /// Geneve mode: outer destination address (the device under test's VTEP).
    #[arg(long, default_value = "198.18.0.1")]
    pub outer_dst: IpAddr,
    /// Geneve mode: outer source MAC.
    #[arg(long, default_value = "02:00:00:00:00:02")]
    pub outer_src_mac: String,
    /// Geneve mode: outer destination MAC (the device under test's).
    #[arg(long, default_value = "02:00:00:00:01:01")]
    pub outer_dst_mac: String,
    /// RX queues per port, all polled: a memif peer sends on as many queues
    /// as it has TX queues (OVS-DPDK: PMD threads + 1), and memif rings only
    /// connect when the counts match.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub rx_queues: u16,
    /// RX/TX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    pub desc: u16,
    /// Seconds between live lines on stderr (0: none).
    #[arg(long, default_value_t = 1.0)]
    pub stats_interval: f64,
    /// Show the EAL's own log.
    #[arg(short, long)]
    pub verbose: bool,
    /// DPDK EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

/// Parses `5000`, `2.5M`, `800k`.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.chars().last() {
        Some('M' | 'm') => (&t[..t.len() - 1], 1e6),
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("--rate {s:?} is not a packet rate like 5000, 800k or 2.5M"))?;
    if !v.is_finite() || v < 0.0 || v * mul > 1e10 {
        return Err(format!("--rate {s:?} is out of range"));
    }
    Ok((v * mul).round() as u64)
}

fn resolve_port(s: &str) -> Result<u16, String> {
    if let Ok(id) = s.parse::<u16>() {
        if id < dpdk::port_count() {
            return Ok(id);
        }
        return Err(format!(
            "port {id} does not exist ({} port(s))",
            dpdk::port_count()
        ));
    }
    dpdk::port_id_by_name(s).ok_or_else(|| {
        format!("no DPDK port named {s:?}; give a --vdev for it after `--` or a port id")
    })
}

/// Checks everything that needs no DPDK: the plan minus ports.
struct Checked {
    sizes: SizeMix,
    rate: u64,
    inner: InnerSpec,
    encap: Option<EncapTemplate>,
    duration: Option<Duration>,
    stats_interval: Option<Duration>,
    link_timeout: Duration,
}

fn check(a: &GenArgs) -> Result<Checked, String> {
    if a.flows == 0 || a.flows > MAX_FLOWS {
        return Err(format!("--flows {} is outside 1..={MAX_FLOWS}", a.flows));
    }
    let sizes = match &a.imix {
        Some(s) => SizeMix::parse_imix(s, a.imix_weights.as_deref())?,
        None => SizeMix::fixed(a.size).map_err(|e| format!("--size: {e}"))?,
    };
    let rate = parse_rate(&a.rate)?;
    let secs = |name: &str, v: f64| -> Result<Duration, String> {
        if !v.is_finite() || !(0.0..=1e6).contains(&v) {
            return Err(format!("{name} {v} is not a number of seconds >= 0"));
        }
        Ok(Duration::from_secs_f64(v))
    };
    let duration = match (a.duration, a.count) {
        (Some(d), _) => Some(secs("--duration", d)?),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(5)),
    };
    if !(1..=16).contains(&a.rx_queues) {
        return Err(format!("--rx-queues {} is outside 1..=16", a.rx_queues));
    }
    if a.count == Some(0) {
        return Err("--count 0 sends nothing".into());
    }
    let stats_interval = Some(secs("--stats-interval", a.stats_interval)?).filter(|d| !d.is_zero());
    let link_timeout = secs("--link-timeout", a.link_timeout)?;
    let mac = |name: &str, s: &str| {
        parse_mac(s).map_err(|e| format!("--{name}: {s:?} is not a MAC address: {e}"))
    };
    let inner = InnerSpec {
        src_mac: mac("src-mac", &a.src_mac)?,
        dst_mac: mac("dst-mac", &a.dst_mac)?,
        src_ip: a.src_ip,
        dst_ip: a.dst_ip,
        sport_base: a.sport,
        dport: a.dport,
    };
    let encap = match a.mode {
        GenMode::Inner => None,
        GenMode::Geneve => {
            let vni = Vni::new(a.vni).ok_or_else(|| format!("--vni {} exceeds 24 bits", a.vni))?;
            let mut cfg = TunnelConfig::new(
                mac("outer-src-mac", &a.outer_src_mac)?,
                mac("outer-dst-mac", &a.outer_dst_mac)?,
                a.outer_src,
                a.outer_dst,
                vni,
            );
            // The generator's frames are test traffic up to 1518 bytes: room
            // for them plus the tunnel headers.
            cfg.underlay_mtu = 9000;
            Some(EncapTemplate::new(&cfg).map_err(|e| format!("--outer-src/--outer-dst: {e}"))?)
        }
    };
    Ok(Checked {
        sizes,
        rate,
        inner,
        encap,
        duration,
        stats_interval,
        link_timeout,
    })
}

/// Runs `geneve-gw gen`.
pub fn execute(a: &GenArgs) -> Result<(), String> {
    let c = check(a)?;
    if a.eal_args.is_empty() {
        return Err("no DPDK devices given: put EAL arguments after `--`, e.g. `geneve-gw gen -- -l 0 --no-pci --vdev net_ring0`".into());
    }
    let signal = crate::control::signal_flag()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let eal = Eal::init_for_cli(&a.eal_args, a.verbose)?;
    let r = super::check_devices(&a.eal_args, &eal).and_then(|()| run_with_eal(a, c, &signal));
    drop(eal);
    r
}

fn run_with_eal(a: &GenArgs, c: Checked, signal: &AtomicBool) -> Result<(), String> {
    let tx_port = resolve_port(&a.tx_port).map_err(|e| format!("--tx-port: {e}"))?;
    let rx_port = match &a.rx_port {
        Some(p) => resolve_port(p).map_err(|e| format!("--rx-port: {e}"))?,
        None => tx_port,
    };
    let pool = Mempool::new("gen_pool", 16383, 256, dpdk::DEFAULT_MBUF_BUF_SIZE, -1)
        .map_err(|e| format!("{e}; reserve hugepages (scripts/setup.sh) or use -m"))?;
    let outcome = {
        let pc = PortSetup {
            rx_queues: a.rx_queues,
            tx_queues: 1,
            rx_desc: a.desc,
            tx_desc: a.desc,
            ..PortSetup::default()
        };
        let mut ports = Vec::new();
        let ids: Vec<u16> = if tx_port == rx_port {
            vec![tx_port]
        } else {
            vec![tx_port, rx_port]
        };
        for id in ids {
            let mut p = Port::open(id).map_err(|e| e.to_string())?;
            p.configure_and_start(&pc, &pool)
                .map_err(|e| e.to_string())?;
            ports.push(p);
        }
        // memif and similar peers come up when the other side connects.
        let t0 = Instant::now();
        while !ports.iter().all(|p| p.link().up) {
            if t0.elapsed() >= c.link_timeout {
                let down: Vec<String> = ports
                    .iter()
                    .filter(|p| !p.link().up)
                    .map(|p| p.info().name.clone())
                    .collect();
                return Err(format!(
                    "link of {} still down after {:.1} s (is the peer running?)",
                    down.join(", "),
                    c.link_timeout.as_secs_f64()
                ));
            }
            if signal.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("interrupted while waiting for the link".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let hz = dpdk::tsc_hz();
        let to_tsc = |d: Duration| (d.as_secs_f64() * hz as f64) as u64;
        let plan = GenPlan {
            tx_port,
            rx_port,
            rx_queues: a.rx_queues,
            inner: c.inner.clone(),
            flows: a.flows,
            sizes: c.sizes.clone(),
            encap: c.encap.clone(),
            rate: c.rate,
            count: a.count,
            duration_tsc: c.duration.map(to_tsc),
            drain_tsc: to_tsc(Duration::from_millis(a.drain_ms)),
            report_tsc: c.stats_interval.map(to_tsc),
        };
        eprintln!(
            "gen: {} mode, {} flow(s), frames {}, rate {}, tx {} rx {}",
            match a.mode {
                GenMode::Inner => "inner",
                GenMode::Geneve => "geneve",
            },
            a.flows,
            match &a.imix {
                Some(s) => format!("{s} (mean {:.0} bytes)", c.sizes.mean()),
                None => format!("{} bytes", a.size),
            },
            if c.rate == 0 {
                "max".to_string()
            } else {
                format!("{} pps", c.rate)
            },
            ports[0].info().name,
            ports
                .last()
                .map(|p| p.info().name.clone())
                .unwrap_or_default(),
        );
        let outcome = gen_loop::run(&plan, &pool, signal);
        for mut p in ports {
            p.stop();
        }
        outcome
    };
    report(&outcome, c.sizes.mean(), &c);
    pool.report_leaks()
}

fn report(o: &GenOutcome, mean_frame: f64, c: &Checked) {
    let hz = dpdk::tsc_hz() as f64;
    let t = &o.tracker;
    let lost = o.sent.saturating_sub(t.received);
    let secs = o.tx_cycles as f64 / hz;
    let mpps = |n: u64| {
        if secs > 0.0 {
            n as f64 / secs / 1e6
        } else {
            0.0
        }
    };
    let us = |cycles: u64| cycles as f64 / hz * 1e6;
    let h = &o.latency;
    let q = |x: f64| {
        if h.is_empty() {
            0.0
        } else {
            us(h.value_at_quantile(x))
        }
    };
    let (p50, p99, p999, max) = (
        q(0.5),
        q(0.99),
        q(0.999),
        if h.is_empty() { 0.0 } else { us(h.max()) },
    );
    println!(
        "sent {}, received {}, lost {} ({:.4}%), reordered {}, duplicates {}, junk {} (not UDP {}, bad Geneve {}, no magic {}, unknown flow {}){}",
        o.sent,
        t.received,
        lost,
        if o.sent > 0 { lost as f64 * 100.0 / o.sent as f64 } else { 0.0 },
        t.reordered,
        t.duplicates,
        o.junk.total() + t.unknown_flow,
        o.junk.not_udp,
        o.junk.bad_geneve,
        o.junk.no_magic,
        t.unknown_flow,
        if o.interrupted { ", stopped by signal" } else { "" }
    );
    println!(
        "rate: tx {:.3} Mpps, rx {:.3} Mpps over {:.3} s ({:.2} Gbit/s tx at a mean {:.0}-byte frame){}",
        mpps(o.sent),
        mpps(t.received),
        secs,
        if secs > 0.0 { o.sent_bytes as f64 * 8.0 / secs / 1e9 } else { 0.0 },
        mean_frame,
        if o.alloc_failures > 0 {
            format!(", {} bursts skipped for want of mbufs", o.alloc_failures)
        } else {
            String::new()
        }
    );
    println!(
        "latency (round trip, us): p50 {p50:.2}, p99 {p99:.2}, p99.9 {p999:.2}, max {max:.2} ({} samples)",
        h.len()
    );
    println!(
        "gen-result sent={} received={} lost={} reordered={} duplicates={} junk={} tx_mpps={:.4} rx_mpps={:.4} seconds={:.3} rate_pps={} p50_us={p50:.3} p99_us={p99:.3} p999_us={p999:.3} max_us={max:.3} samples={}",
        o.sent,
        t.received,
        lost,
        t.reordered,
        t.duplicates,
        o.junk.total() + t.unknown_flow,
        mpps(o.sent),
        mpps(t.received),
        secs,
        c.rate,
        h.len()
    );
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_parse_with_suffixes() {
        assert_eq!(parse_rate("0"), Ok(0));
        assert_eq!(parse_rate("5000"), Ok(5000));
        assert_eq!(parse_rate("800k"), Ok(800_000));
        assert_eq!(parse_rate("2.5M"), Ok(2_500_000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("1e12").is_err());
    }
}
