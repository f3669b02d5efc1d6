//! `geneve-gw run`: the gateway. Sets up the EAL and ports from the
//! configuration, starts one worker per worker core, and runs the control
//! thread on the main lcore: ARP/ICMP/ND for the gateway's addresses,
//! next-hop resolution, MAC learning and ageing, Geneve control packets,
//! the live summary, and SIGHUP reloads.
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use clap::Args;
use crossbeam::channel::{bounded, Receiver, TryRecvError};

use crate::config::{self, Config, DeviceRef};
use crate::dataplane::changes::{self, ConfigDiff, Planner};
use crate::dataplane::gateway::{GatewayWorker, Shared};
use crate::dataplane::pipeline::{Event, PuntKind};
use crate::dataplane::police::{PuntClass, PuntPolicer};
use crate::dataplane::publish::{Flush, Publisher};
use crate::dataplane::stats::{drop_totals, port_totals, total_rx, WorkerCounters, MAX_PORTS};
use crate::dataplane::tables::Tables;
use crate::dataplane::tx_offload;
use crate::dpdk::{self, Eal, LaunchedWorkers, Mbuf, Mempool, Port, PortSetup};
use crate::tunnel::DropReason;

use crate::control::observe::TableStat;
use crate::control::responder::{self, LocalAddrs, NeighborTable, Response};
use crate::control::{StopConditions, StopReason};

/// How `geneve-gw run` runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config_path: PathBuf,
    pub stats_interval: Option<Duration>,
    pub stop: StopConditions,
    pub verbose: bool,
    /// EAL arguments from the command line; they follow the file's, and a
    /// core list or a device replaces the file's (`config::EalConfig::merged_args`).
    pub eal_args: Vec<String>,
    /// Overrides the file's `offload:` (`run --offload off`).
    pub offload: Option<config::Offload>,
}

/// `geneve-gw run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The gateway configuration (YAML).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub control: super::RunControl,
    /// Hardware offload: `auto` (TX IPv4/UDP checksums, RX IPv4 checksum and
    /// rte_flow decap where the ports have them) or `off` (all in software,
    /// no rte_flow rule); overrides the file's `offload:`.
    #[arg(long, value_name = "auto|off")]
    pub offload: Option<config::Offload>,
    /// More DPDK EAL arguments, after `--`: they extend the file's eal
    /// section, but a core list (-l, --lcores, or the EAL's -c coremask)
    /// replaces its cores and control core, and a device (-a/--allow,
    /// -b/--block, --vdev) replaces all its devices.
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

/// Runs `geneve-gw run` from its command line.
pub fn execute(a: RunArgs) -> Result<(), String> {
    let opts = RunOptions {
        config_path: a.config,
        stats_interval: a.control.interval()?,
        stop: a.control.stop(),
        verbose: a.control.verbose,
        eal_args: a.eal_args,
        offload: a.offload,
    };
    run(&opts)
}

const PUNT_QUEUE: usize = 1024;
/// Learning events (and the like) waiting for the control thread: room for
/// a burst of new MACs while the control thread learns the ones before.
const EVENT_QUEUE: usize = 65536;
/// Events handled per control-loop turn, at most (the turn stays short:
/// ARP and the reload go on between turns).
const EVENTS_PER_TURN: usize = 8192;
/// Learned MACs aged out per control-loop turn, at most.
const AGE_PER_TURN: usize = 8192;

pub fn run(opts: &RunOptions) -> Result<(), String> {
    let cfg = config::load(&opts.config_path)
        .map_err(|e| format!("{} is not valid:\n{e}", opts.config_path.display()))?;
    let signal = crate::control::signal_flag()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .map_err(|e| format!("cannot install the SIGHUP handler: {e}"))?;
    let mut cli_args = Vec::new();
    if cfg.metrics.capture {
        crate::control::capture_preflight(&opts.eal_args)?;
        // DPDK's default: hugepage files stay while the gateway runs, so
        // dpdk-dumpcap (a secondary process) can map the packets.
        cli_args.push("--huge-unlink=existing".into());
    }
    cli_args.extend(opts.eal_args.iter().cloned());
    let eal_args = cfg.eal.merged_args(&cli_args);
    let eal = Eal::init_for_cli(&eal_args, opts.verbose)?;
    super::check_devices(&eal_args, &eal)?;
    crate::control::telemetry::register_commands().map_err(|e| format!("DPDK telemetry: {e}"))?;
    let pdump = if cfg.metrics.capture {
        Some(dpdk::telemetry::PdumpServer::start().map_err(|e| format!("metrics.capture: {e}"))?)
    } else {
        None
    };
    let r = run_with_eal(opts, cfg, &signal, &hup);
    drop(pdump);
    drop(eal);
    r
}

fn resolve_port(d: &DeviceRef) -> Option<u16> {
    match d {
        DeviceRef::Name(n) => dpdk::port_id_by_name(n),
        DeviceRef::Index(i) => (*i < dpdk::port_count()).then_some(*i),
    }
}

fn run_with_eal(
    opts: &RunOptions,
    cfg: Config,
    signal: &AtomicBool,
    hup: &AtomicBool,
) -> Result<(), String> {
    let lcores = dpdk::worker_lcores();
    if lcores.is_empty() {
        return Err("no worker lcore: eal.cores in the configuration (or -l after `--`) must name at least one core besides the control core".into());
    }
    let workers = lcores.len();
    let mut port_ids = Vec::new();
    for p in &cfg.ports {
        let id = resolve_port(&p.device).ok_or_else(|| {
            format!(
                "port {}: device {} did not come up in DPDK; check eal.devices in the configuration or the devices after `--` (the EAL found {} port(s))",
                p.name,
                p.device,
                dpdk::port_count()
            )
        })?;
        if id as usize >= MAX_PORTS {
            return Err(format!(
                "port {}: DPDK port id {id} is above {MAX_PORTS}",
                p.name
            ));
        }
        port_ids.push(id);
    }
    let nb_ids = port_ids.iter().copied().max().unwrap_or(0) + 1;
    let cache = 256;
    let size = cfg.limits.mbufs.max(crate::dataplane::forward::pool_size(
        port_ids.len() as u32,
        workers as u32 + 1,
        1024,
        1024,
        cache,
    ));
    let data_room = mbuf_data_room(cfg.ports.iter().map(|p| p.mtu));
    let pool = Arc::new(
        Mempool::new("gw_pool", size, cache, data_room, -1).map_err(|e| {
            let mb = (u64::from(size) * u64::from(data_room + 128)) >> 20;
            let memory = match cfg.eal.memory {
                config::Memory::NoHuge { .. } => "raise eal.memory.size_mb",
                _ => "reserve more hugepages (scripts/setup.sh) or raise eal.memory.size_mb",
            };
            if size > cfg.limits.mbufs {
                // limits.mbufs is below the floor the ports and workers
                // need: lowering it changes nothing.
                format!("{e}; the ports and workers need at least {size} mbufs (about {mb} MB; limits.mbufs {} is raised to that floor): {memory}", cfg.limits.mbufs)
            } else {
                format!("{e}; {size} mbufs need about {mb} MB: {memory} or lower limits.mbufs")
            }
        })?,
    );
    let result = gateway(opts, cfg, signal, hup, &pool, &port_ids, nb_ids, &lcores);
    let leaks = pool.report_leaks();
    result?;
    leaks
}

/// The pool's data room: a frame of the largest port MTU (Ethernet header,
/// two VLAN tags and the CRC on top) fits one mbuf after the headroom, with
/// room to spare for outer headers that do not fit the headroom, so the
/// PMD need not chain and encap/decap see the whole frame in one segment.
fn mbuf_data_room(mtus: impl Iterator<Item = u16>) -> u16 {
    const L2_AND_SPARE: u32 = 14 + 2 * 4 + 4 + 256;
    let need = u32::from(dpdk::MBUF_HEADROOM) + u32::from(mtus.max().unwrap_or(0)) + L2_AND_SPARE;
    u16::try_from(need)
        .unwrap_or(u16::MAX)
        .max(dpdk::DEFAULT_MBUF_BUF_SIZE)
}

struct ControlState {
    /// Shared with the reload thread, which diffs a new file against it.
    cfg: Arc<Config>,
    port_ids: Vec<u16>,
    port_macs: Vec<[u8; 6]>,
    neighbors: NeighborTable,
    /// What every table entry should be; turns each change into entry changes.
    planner: Planner,
    learned: rustc_hash::FxHashMap<(usize, [u8; 6]), (IpAddr, Instant)>,
    /// Learned MACs by the time they were learned, oldest first (an entry
    /// learned again is queued again; the stale one is skipped): ageing
    /// pops from the front, a bounded number per turn, never a pass over
    /// the whole table.
    age_queue: std::collections::VecDeque<(Instant, (usize, [u8; 6]))>,
    control_tx: crossbeam::channel::Sender<(u16, Mbuf)>,
    out: Vec<u8>,
    replies: u64,
    macs_aged: u64,
    /// Inner-destination neighbour entries (and unsolicited bindings)
    /// expired, as learned MACs age.
    neighbors_aged: u64,
    /// The longest control-loop turn (without its pause): what learning,
    /// ageing or a reload held the loop for at most.
    slowest_turn: Duration,
    macs_not_learned: u64,
    /// Inner destinations not resolved: the neighbour table was full.
    neighbors_refused: u64,
    /// Scratch for the expired neighbour addresses of a turn.
    neighbors_gone: Vec<IpAddr>,
    /// Learning events from before segments moved (see [`LearnFence`]).
    learn_fence: LearnFence,
    /// What the gateway itself sends (ARP/ND and ICMP replies) is policed
    /// like what reaches it: nanoseconds since `started` are the ticks.
    reply_policer: PuntPolicer,
    started: Instant,
    replies_limited: u64,
    flows: Arc<crate::dataplane::flows::FlowTable>,
    /// Insertion order of `flows`, to evict the oldest at the size limit.
    flow_order: std::collections::VecDeque<crate::dataplane::flows::FlowKey>,
    /// Flow ids evicted to make room (the table at `limits.flow_table_size`).
    flow_ids_evicted: u64,
    /// The neighbour table has refused an entry since it last had room:
    /// the log says so once per time it fills, not once per refusal.
    neighbors_full: bool,
    /// Decision tables logged; hardware decap rules (mlx5).
    offload: super::probe::RunOffload,
}

/// A learning event names its segment by position in the tables the
/// worker read. After segments moved (one added or deleted), events sent
/// with older tables would learn into the wrong segment: learning events
/// are dropped until every worker reads the tables of the change, and
/// those still queued then are dropped too (the next packet of an unknown
/// MAC asks again).
#[derive(Debug, Default)]
struct LearnFence {
    /// The generation of the change, until every worker reads it.
    until: Option<u64>,
    /// Events queued when it was reached, still to pass.
    stale: usize,
}

impl LearnFence {
    /// Segments moved in generation `generation`.
    fn set(&mut self, generation: u64) {
        self.until = Some(generation);
        self.stale = 0;
    }

    /// At the start of a turn: every worker reads `settled` or later,
    /// `queued` events wait.
    fn turn(&mut self, settled: u64, queued: usize) {
        if self.until.is_some_and(|g| settled >= g) {
            self.until = None;
            self.stale = queued;
        }
    }

    /// Whether the next event (`learn`: a learning one) is acted on.
    fn admit(&mut self, learn: bool) -> bool {
        if self.stale > 0 {
            self.stale -= 1;
            return !learn;
        }
        !(learn && self.until.is_some())
    }
}

/// The VNI of every L2 segment, in order (what identifies a segment when
/// segments are added or removed and the others move).
fn segment_vnis(cfg: &Config) -> Vec<crate::wire::geneve::Vni> {
    cfg.l2
        .iter()
        .flat_map(|l| l.segments.iter().map(|s| s.vni))
        .collect()
}

impl ControlState {
    /// The learned MACs follow their segments to their new positions
    /// (`before`: [`segment_vnis`] before the segments changed); those of
    /// a segment that is gone are forgotten. Before the tables are made
    /// anew.
    fn segments_moved(&mut self, before: &[crate::wire::geneve::Vni], next_generation: u64) {
        let now: rustc_hash::FxHashMap<_, usize> = segment_vnis(&self.cfg)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, i))
            .collect();
        let to: Vec<Option<usize>> = before.iter().map(|v| now.get(v).copied()).collect();
        if to.iter().enumerate().all(|(i, t)| *t == Some(i)) {
            return;
        }
        self.learn_fence.set(next_generation);
        let moved = |s: usize| to.get(s).copied().flatten();
        self.learned = std::mem::take(&mut self.learned)
            .into_iter()
            .filter_map(|((s, m), v)| Some(((moved(s)?, m), v)))
            .collect();
        self.age_queue.retain_mut(|(_, key)| match moved(key.0) {
            Some(n) => {
                key.0 = n;
                true
            }
            None => false,
        });
    }

    /// Every table made anew from the configuration and what was learned
    /// (start-up, and a reload that changes something global).
    fn start_tables(&mut self, next_generation: u64) -> Result<Tables, String> {
        self.planner.sync_counters(&self.cfg, next_generation);
        let learned = self.learned.iter().map(|(k, v)| (*k, v.0));
        let t = self.planner.start(&self.cfg, learned)?;
        self.want_planned();
        Ok(t)
    }

    /// Hands the planner's changes to the publisher and asks for the next
    /// hops it found unresolved.
    fn want_planned(&mut self) -> Vec<changes::Change> {
        for ip in self.planner.take_wanted() {
            self.neighbors.want(ip);
        }
        for e in self.planner.errors.drain(..) {
            eprintln!("table entry left out: {e}");
        }
        self.planner.take_changes()
    }

    /// Ages learned MACs out, oldest first, at most [`AGE_PER_TURN`] per
    /// call: the queue is in learning order, so the first entry not yet
    /// due ends the walk.
    fn age(&mut self, now: Instant) {
        let ageing = Duration::from_secs(u64::from(
            self.cfg
                .l2
                .as_ref()
                .map(|l| l.ageing_seconds)
                .unwrap_or(300),
        ));
        for _ in 0..AGE_PER_TURN {
            let Some(&(at, key)) = self.age_queue.front() else {
                break;
            };
            if now.duration_since(at) < ageing {
                break;
            }
            self.age_queue.pop_front();
            // Learned again since: a later queue entry stands for it.
            if self.learned.get(&key).is_some_and(|e| e.1 == at) {
                self.learned.remove(&key);
                self.macs_aged += 1;
                self.planner.set_learned_mac(&self.cfg, key.0, key.1, None);
            }
        }
        // Inner destinations and unsolicited bindings expire the same
        // time after they were made (configured next hops never do), at
        // most AGE_PER_TURN per turn: room under limits.neighbors again.
        let mut gone = std::mem::take(&mut self.neighbors_gone);
        self.neighbors.expire(now, ageing, AGE_PER_TURN, &mut gone);
        for ip in gone.drain(..) {
            self.neighbors_aged += 1;
            self.planner.forget_neighbor(ip);
        }
        self.neighbors_gone = gone;
        // Room again: the next refusal is logged as the table filling anew.
        if self.neighbors_full && !self.neighbors.is_full() {
            self.neighbors_full = false;
        }
    }

    /// Entries per table and, for the tables the file bounds, the bound
    /// and what it turned away: for telemetry, Prometheus and the API.
    pub(super) fn table_stats(&self) -> Vec<TableStat> {
        let c = &self.cfg;
        let l = &c.limits;
        vec![
            TableStat::unbounded("tunnels", c.tunnels.len() as u64),
            TableStat::unbounded(
                "segments",
                c.l2.as_ref().map_or(0, |l| l.segments.len()) as u64,
            ),
            TableStat::unbounded("decap_vnis", c.decap.len() as u64),
            TableStat::unbounded("routes", c.l3.as_ref().map_or(0, |l| l.routes.len()) as u64),
            TableStat::bounded(
                "learned_macs",
                self.learned.len() as u64,
                u64::from(l.mac_table_size),
                self.macs_not_learned,
            ),
            // Resolved bindings the tables use (configured next hops
            // with their MAC too).
            TableStat::unbounded("neighbors", self.planner.neighbors().len() as u64),
            // The ARP/ND entries limits.neighbors bounds: next hops and
            // inner destinations being resolved or resolved, bindings.
            TableStat::bounded(
                "arp_nd_cache",
                self.neighbors.len() as u64,
                u64::from(l.neighbors),
                self.neighbors_refused,
            ),
            TableStat::bounded(
                "flow_ids",
                self.flow_order.len() as u64,
                u64::from(l.flow_table_size),
                self.flow_ids_evicted,
            ),
        ]
    }

    /// Addresses the gateway answers for on a port, and its MAC there.
    fn local_for_port(&self, port: u16) -> Option<LocalAddrs> {
        let idx = self.port_ids.iter().position(|&p| p == port)?;
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut push = |a: Option<config::IfAddr>| match a.map(|a| a.addr) {
            Some(IpAddr::V4(x)) => v4.push(x),
            Some(IpAddr::V6(x)) => v6.push(x),
            None => {}
        };
        if idx == self.cfg.vtep.port {
            push(self.cfg.vtep.ipv4);
            push(self.cfg.vtep.ipv6);
        }
        let mut mac = self.port_macs[idx];
        if let Some(l3) = &self.cfg.l3 {
            if l3.access.port == idx {
                push(l3.access.ipv4);
                push(l3.access.ipv6);
                if let Some(m) = l3.access.gateway_mac {
                    mac = m;
                }
            }
        }
        Some(LocalAddrs {
            mac,
            ipv4: v4,
            ipv6: v6,
        })
    }

    fn send_bytes(&self, pool: &Mempool, port: u16, bytes: &[u8]) -> bool {
        let Some(mut m) = pool.alloc() else {
            return false;
        };
        match m.append(bytes.len()) {
            Some(d) => d.copy_from_slice(bytes),
            None => return false,
        }
        self.control_tx.try_send((port, m)).is_ok()
    }

    /// Handles one punted packet; true when the tables must be rebuilt.
    fn punted(&mut self, pool: &Mempool, kind: PuntKind, m: Mbuf) -> bool {
        if kind == PuntKind::GeneveControl {
            // The O bit: a control message, never forwarded as data; the
            // workers counted it. Nothing here speaks a Geneve control protocol.
            return false;
        }
        let port = m.port();
        let Some(local) = self.local_for_port(port) else {
            return false;
        };
        self.out.clear();
        let r = responder::respond(m.data(), &local, &mut self.out);
        drop(m);
        let mut dirty = false;
        let learned = match r {
            Response::Reply => None,
            Response::Learned(n) => Some(n),
            Response::ReplyAndLearned(n) => Some(n),
            Response::Ignored(_) => None,
        };
        let now = self.started.elapsed().as_nanos() as u64;
        if matches!(r, Response::Reply | Response::ReplyAndLearned(_))
            && !self
                .reply_policer
                .admit(PuntClass::of_local(&self.out), now)
        {
            self.replies_limited += 1;
        } else if matches!(r, Response::Reply | Response::ReplyAndLearned(_)) {
            let out = std::mem::take(&mut self.out);
            if self.send_bytes(pool, port, &out) {
                self.replies += 1;
            }
            self.out = out;
        }
        if let Some(n) = learned {
            self.neighbors.learn_from(&n, Instant::now());
            let wanted = self.neighbors.get(n.ip).is_some_and(|e| e.wanted);
            if let (true, Some(mac)) = (wanted, self.neighbors.lookup(n.ip)) {
                dirty |= self.planner.neighbor(&self.cfg, n.ip, mac);
            }
        }
        dirty
    }

    /// Sends the ARP requests / neighbour solicitations that are due.
    fn resolve(&mut self, pool: &Mempool) {
        let now = Instant::now();
        let due: Vec<IpAddr> = self.neighbors.due_requests(now).collect();
        for ip in due {
            // The port whose local subnet holds the address; else the underlay.
            let (idx, local) = self.port_for(ip);
            let Some(local) = local else { continue };
            let port = self.port_ids[idx];
            let mac = self.port_macs[idx];
            self.out.clear();
            match (ip, local) {
                (IpAddr::V4(t), IpAddr::V4(l)) => responder::arp_request(mac, l, t, &mut self.out),
                (IpAddr::V6(t), IpAddr::V6(l)) => {
                    responder::neighbor_solicitation(mac, l, t, &mut self.out)
                }
                _ => continue,
            }
            let out = std::mem::take(&mut self.out);
            self.send_bytes(pool, port, &out);
            self.out = out;
        }
    }

    fn port_for(&self, ip: IpAddr) -> (usize, Option<IpAddr>) {
        if let Some(l3) = &self.cfg.l3 {
            for a in [l3.access.ipv4, l3.access.ipv6].into_iter().flatten() {
                if a.subnet().contains(ip) && a.prefix_len > 0 && a.prefix_len < 128 {
                    return (l3.access.port, Some(a.addr));
                }
            }
        }
        let v = &self.cfg.vtep;
        let local = v.local_for(ip).map(|a| a.addr);
        (v.port, local)
    }
}

#[allow(clippy::too_many_arguments)]
fn gateway(
    opts: &RunOptions,
    cfg: Config,
    signal: &AtomicBool,
    hup: &AtomicBool,
    pool: &Arc<Mempool>,
    port_ids: &[u16],
    nb_ids: u16,
    lcores: &[dpdk::WorkerLcore],
) -> Result<(), String> {
    let workers = lcores.len();
    let _prometheus = match cfg.metrics.prometheus {
        Some(addr) => {
            let s = crate::control::observe::PrometheusServer::start(addr)?;
            eprintln!("prometheus: serving http://{}/metrics", s.addr);
            Some(s)
        }
        None => None,
    };
    let (worker_links, control_links) =
        crate::control::telemetry::latency_links(workers, cfg.metrics.latency);
    let mut worker_links = worker_links.into_iter();
    let mut ports = Vec::new();
    let mut port_macs = Vec::new();
    let offload_mode = opts.offload.unwrap_or(cfg.offload);
    let mut tx_caps = crate::tunnel::TxOffloadCaps::NONE;
    for (i, p) in cfg.ports.iter().enumerate() {
        let id = port_ids[i];
        if ports.iter().any(|x: &Port| x.id() == id) {
            return Err(format!(
                "port {}: device {} is used by two ports",
                p.name, p.device
            ));
        }
        let mut port = Port::open(id).map_err(|e| e.to_string())?;
        // Offloads are asked of the underlay port only: access ports forward
        // decapsulated frames as they are.
        let underlay = i == cfg.vtep.port;
        let pc = PortSetup {
            rx_queues: workers as u16,
            // One TX queue per worker; the control thread's packets go out
            // through worker 0 (virtual devices often have a single TX queue).
            tx_queues: workers as u16,
            mtu: Some(p.mtu).filter(|m| *m >= port.info().min_mtu && *m <= port.info().max_mtu),
            tx_offloads: if underlay {
                tx_offload::request(offload_mode)
            } else {
                Default::default()
            },
            rx_offloads: if underlay {
                tx_offload::request_rx(offload_mode)
            } else {
                0
            },
            ..PortSetup::default()
        };
        let applied = port
            .configure_and_start(&pc, pool)
            .map_err(|e| format!("port {}: {e}", p.name))?;
        let port_caps = tx_offload::caps(&applied);
        if underlay {
            tx_caps = port_caps;
        }
        let mac = p.mac.unwrap_or(port.info().mac);
        eprintln!(
            "port {} ({:?}, {} = DPDK port {id}, driver {}): {} RX queue(s){}, mac {}, mtu {}{}",
            p.name,
            p.role,
            p.device,
            port.info().driver,
            workers,
            if workers > 1 && applied.rss {
                ", RSS"
            } else {
                ""
            },
            crate::wire::ethernet::MacDisplay(&mac),
            p.mtu,
            tx_offload::describe(port_caps, applied.rx_offloads)
        );
        port_macs.push(mac);
        ports.push(port);
    }

    let offload = super::probe::RunOffload::start(
        &cfg,
        &ports,
        workers as u16,
        offload_mode == config::Offload::Auto,
    );
    let (punt_tx, punt_rx) = bounded(PUNT_QUEUE);
    let (event_tx, event_rx) = bounded(EVENT_QUEUE);
    let (control_tx, control_rx) = bounded(PUNT_QUEUE);
    let flows: Arc<crate::dataplane::flows::FlowTable> = Arc::new(Default::default());
    let neighbor_limit = cfg.limits.neighbors as usize;
    let mut st = ControlState {
        cfg: Arc::new(cfg),
        planner: Planner::new(port_ids, &port_macs, tx_caps, flows.clone()),
        port_ids: port_ids.to_vec(),
        port_macs,
        neighbors: NeighborTable::new().with_limit(neighbor_limit),
        learned: Default::default(),
        age_queue: Default::default(),
        control_tx,
        out: Vec::with_capacity(256),
        replies: 0,
        macs_aged: 0,
        neighbors_aged: 0,
        slowest_turn: Duration::ZERO,
        macs_not_learned: 0,
        neighbors_refused: 0,
        neighbors_gone: Vec::new(),
        learn_fence: LearnFence::default(),
        reply_policer: PuntPolicer::new(1_000_000_000, 0),
        started: Instant::now(),
        replies_limited: 0,
        flows,
        flow_order: Default::default(),
        flow_ids_evicted: 0,
        neighbors_full: false,
        offload,
    };
    let built = Instant::now();
    if st.cfg.l2.as_ref().is_some_and(|l| l.learning) {
        // Made now, not grown (and rehashed whole) in a learning storm.
        let n = st.cfg.limits.mac_table_size as usize;
        st.learned.reserve(n);
        st.age_queue.reserve(n);
    }
    let mut tables = st.start_tables(1)?;
    tables.generation = 1;
    // Left-right: the workers read one copy, the control thread changes
    // the other (see dataplane::publish).
    let mut publisher = Publisher::new(tables.clone(), 1);
    if opts.verbose {
        eprintln!(
            "tables: {} templates, built in {:.3} s",
            st.planner.templates(),
            built.elapsed().as_secs_f64()
        );
    }
    let shared = Arc::new(Shared {
        generation: AtomicU64::new(tables.generation),
        tables: ArcSwap::from_pointee(tables),
        stop: AtomicBool::new(false),
        counters: (0..workers).map(|_| WorkerCounters::default()).collect(),
        entries: (0..workers)
            .map(|_| st.planner.counter_slots().worker_entries())
            .collect(),
        pool: pool.clone(),
        punt_tx,
        event_tx,
        control_rx,
    });
    let jobs = (0..workers)
        .map(|w| {
            let worker = GatewayWorker {
                index: w,
                queue: w as u16,
                nb_ports: nb_ids,
                shared: shared.clone(),
                latency: worker_links.next().flatten(),
            };
            let job: Box<dyn FnOnce() -> i32 + Send> = Box::new(move || worker.run());
            (lcores[w], job)
        })
        .collect();
    let mut obs = crate::control::telemetry::Observer::new(
        control_links,
        st.cfg.metrics.latency,
        st.cfg
            .ports
            .iter()
            .zip(port_ids)
            .map(|(p, id)| (p.name.clone(), *id))
            .collect(),
    )
    .with_entries(shared.clone(), st.cfg.metrics.top_tunnels as usize);
    obs.entries(st.planner.counter_slots());
    obs.tick(&shared.counters, 0, || st.table_stats(), true);
    // Before the workers start: a refused socket stops the start cleanly.
    let socket = crate::control::api::socket_path(&crate::control::api::file_prefix(
        &st.cfg.eal.merged_args(&opts.eal_args),
    ));
    let mut api = run_api::ApiState::start(&socket, st.cfg.api.listen_tcp, &st.cfg)?;
    let launched = LaunchedWorkers::launch(jobs).map_err(|e| e.to_string())?;
    let started = Instant::now();
    eprintln!(
        "geneve-gw: running with {workers} worker(s); SIGHUP reloads {}",
        opts.config_path.display()
    );

    let reason = control_loop(
        opts,
        &mut st,
        &mut publisher,
        &shared,
        signal,
        hup,
        &punt_rx,
        &event_rx,
        pool,
        nb_ids,
        &mut obs,
        &mut api,
    );
    // Let what is in flight finish before the workers stop: punted packets
    // still queued get their replies, and worker 0 sends the replies (a
    // run stopped after N packets must not lose the answer to the Nth).
    // Bounded, so a flood of punts cannot hold the stop up.
    let drain_start = Instant::now();
    loop {
        for (kind, m) in punt_rx.try_iter().take(PUNT_QUEUE) {
            st.punted(pool, kind, m);
        }
        let settled = drain_start.elapsed() >= Duration::from_millis(5)
            && punt_rx.is_empty()
            && shared.control_rx.is_empty();
        if settled || drain_start.elapsed() >= Duration::from_millis(200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    shared.stop.store(true, Ordering::SeqCst);
    let codes = launched.wait();
    obs.tick(&shared.counters, st.replies, || st.table_stats(), true);
    // What is still queued for or from the control thread goes back to the
    // pool, counted.
    let mut dropped_at_stop = 0u64;
    while let Ok((_, m)) = punt_rx.try_recv() {
        drop(m);
        dropped_at_stop += 1;
    }
    while let Ok((_, m)) = shared.control_rx.try_recv() {
        drop(m);
        dropped_at_stop += 1;
    }
    report(
        &shared.counters,
        &st,
        &ports,
        nb_ids,
        reason,
        started.elapsed(),
    );
    if dropped_at_stop > 0 {
        println!("control packets dropped at stop {dropped_at_stop}");
    }
    println!("{}", obs.total_line());
    st.offload.remove();
    for mut p in ports {
        p.stop();
    }
    if codes.iter().any(|&c| c != 0) {
        return Err(format!("a worker failed: exit codes {codes:?}"));
    }
    Ok(())
}

/// A validated new configuration, its difference to the running one, and
/// how long loading and diffing took on the reload thread.
type ReloadResult =
    Result<(Arc<Config>, ConfigDiff, Duration, config::edit::Editor), config::ConfigErrors>;

/// Load and validate the configuration file on a helper thread, and diff
/// it against the running one there (both walks are linear in the file);
/// the result comes back over the returned channel.
fn spawn_reload(path: &std::path::Path, old: Arc<Config>) -> Option<Receiver<ReloadResult>> {
    let (tx, rx) = bounded(1);
    let path = path.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("gw-reload".into())
        .spawn(move || {
            let t0 = Instant::now();
            let r = config::load(&path).map(|new| {
                let d = changes::diff(&old, &new);
                // The control API's indexes of the new file, here rather
                // than on the control thread.
                let editor = config::edit::Editor::new(&new);
                (Arc::new(new), d, t0.elapsed(), editor)
            });
            // The loop may have stopped meanwhile: nobody to tell then.
            let _ = tx.send(r);
        });
    match spawned {
        Ok(_) => Some(rx),
        Err(e) => {
            eprintln!("reload refused: cannot start the validating thread: {e}");
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn control_loop(
    opts: &RunOptions,
    st: &mut ControlState,
    publisher: &mut Publisher,
    shared: &Shared,
    signal: &AtomicBool,
    hup: &AtomicBool,
    punt_rx: &Receiver<(PuntKind, Mbuf)>,
    event_rx: &Receiver<Event>,
    pool: &Mempool,
    nb_ids: u16,
    obs: &mut crate::control::telemetry::Observer,
    api: &mut run_api::ApiState,
) -> StopReason {
    let mut tracker = crate::control::StopTracker::new(opts.stop);
    let mut last_summary = Instant::now();
    let mut prev = (0u64, 0u64, 0u64);
    let mut reload: Option<Receiver<ReloadResult>> = None;
    loop {
        let turn_start = Instant::now();
        if signal.load(Ordering::Relaxed) {
            return StopReason::Signal;
        }
        // A reload is read and validated on a helper thread (a large file
        // takes a while); the loop keeps answering ARP, telemetry and
        // Prometheus meanwhile and applies the result when it arrives. A
        // SIGHUP during a reload waits for it and starts the next one.
        if reload.is_none() && hup.swap(false, Ordering::Relaxed) {
            reload = spawn_reload(&opts.config_path, st.cfg.clone());
        }
        if let Some(rx) = &reload {
            match rx.try_recv() {
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    reload = None;
                    eprintln!("reload refused: the validating thread stopped (the running configuration stays)");
                    api.reloaded(Err("the validating thread stopped".into()));
                }
                Ok(result) => {
                    reload = None;
                    match result {
                        Ok((new, diff, read, editor))
                            if new.ports == st.cfg.ports && new.eal == st.cfg.eal =>
                        {
                            let t0 = Instant::now();
                            let old = std::mem::replace(&mut st.cfg, new);
                            if old.limits.neighbors != st.cfg.limits.neighbors {
                                st.neighbors.set_limit(st.cfg.limits.neighbors as usize);
                                eprintln!(
                                    "limits.neighbors is now {} (was {}); {} entries held, any over it stay until they expire",
                                    st.cfg.limits.neighbors,
                                    old.limits.neighbors,
                                    st.neighbors.len()
                                );
                            }
                            if diff.global == Some("l2 segments") {
                                st.segments_moved(&segment_vnis(&old), publisher.generation() + 1);
                            }
                            let old_editor = api.reload_editor(editor);
                            st.offload.reload(&st.cfg);
                            obs.set_top_tunnels(st.cfg.metrics.top_tunnels as usize);
                            let summary = diff.summary();
                            let what = match summary.rebuilt {
                                Some(why) => match st.start_tables(publisher.generation() + 1) {
                                    Ok(t) => {
                                        publisher.push(vec![changes::Change::Replace(Box::new(t))]);
                                        summary.to_string()
                                    }
                                    Err(e) => format!("{why} changed, tables not made (the running ones stay): {e}"),
                                },
                                None => {
                                    st.planner
                                        .sync_counters_changed(&st.cfg, &diff, publisher.generation() + 1);
                                    st.planner.apply_diff(&st.cfg, &diff);
                                    summary.to_string()
                                }
                            };
                            let ch = st.want_planned();
                            let n = ch.len();
                            api.reloaded(Ok(what.clone()));
                            publisher.push(ch);
                            let flushed = publisher.flush(&shared.tables, &shared.generation);
                            eprintln!(
                                "reload: {} accepted: {what}; read, validated and diffed in {:.3} s, {n} table changes applied in {:.3} ms ({})",
                                opts.config_path.display(),
                                read.as_secs_f64(),
                                t0.elapsed().as_secs_f64() * 1e3,
                                match flushed {
                                    Flush::Busy => "published on the next turn",
                                    _ => "published",
                                }
                            );
                            // Freeing a large configuration (and the API's
                            // indexes of it) takes a while: not on the
                            // control thread, and only once the changes
                            // are out (on two cores it competes with them).
                            let _ = std::thread::Builder::new()
                                .name("gw-reload-free".into())
                                .spawn(move || drop((old, old_editor)));
                        }
                        Ok(_) => {
                            let e = format!("ports or eal changed in {}; those need a restart (the running configuration stays)", opts.config_path.display());
                            eprintln!("reload refused: {e}");
                            api.reloaded(Err(e));
                        }
                        Err(e) => {
                            eprintln!("reload refused (the running configuration stays):\n{e}");
                            api.reloaded(Err(format!("{e:#}")));
                        }
                    }
                }
            }
        }
        for (kind, m) in punt_rx.try_iter().take(PUNT_QUEUE) {
            st.punted(pool, kind, m);
        }
        let mut events = 0;
        // One learning time for the whole turn: no clock read per event.
        let mut turn: Option<Instant> = None;
        st.learn_fence.turn(publisher.settled(), event_rx.len());
        for e in event_rx.try_iter().take(EVENTS_PER_TURN) {
            events += 1;
            if !st.learn_fence.admit(matches!(e, Event::Learn { .. })) {
                continue;
            }
            match e {
                Event::Learn {
                    segment,
                    mac,
                    remote,
                } => {
                    let key = (segment, mac);
                    let known = st.learned.get(&key).map(|e| e.0);
                    let full = st.learned.len() >= st.cfg.limits.mac_table_size as usize;
                    if known == Some(remote) {
                        // Learned already: more packets of the MAC arrived
                        // before the workers saw the new tables.
                    } else if full && known.is_none() {
                        // The table is full: the MAC stays unknown (flooded),
                        // counted, until ageing makes room.
                        st.macs_not_learned += 1;
                    } else {
                        let now = *turn.get_or_insert_with(Instant::now);
                        st.learned.insert(key, (remote, now));
                        st.age_queue.push_back((now, key));
                        st.planner
                            .set_learned_mac(&st.cfg, segment, mac, Some(remote));
                        if st.learned.len() == st.cfg.limits.mac_table_size as usize {
                            eprintln!(
                                "MAC table full: {} learned MACs, {:.3} s after start",
                                st.learned.len(),
                                st.started.elapsed().as_secs_f64()
                            );
                        }
                    }
                }
                Event::Resolve(ip) => {
                    let now = *turn.get_or_insert_with(Instant::now);
                    if !st.neighbors.want_if_room(ip, now) {
                        st.neighbors_refused += 1;
                        if !st.neighbors_full {
                            st.neighbors_full = true;
                            eprintln!(
                                "neighbour table full: limits.neighbors ({}) entries, {:.3} s after start; inner destinations beyond it stay unresolved (next_hop_unresolved)",
                                st.cfg.limits.neighbors,
                                st.started.elapsed().as_secs_f64()
                            );
                        }
                    }
                }
                // Counted by the workers, never queued.
                Event::LearnRefused
                | Event::OptionsNotCarried
                | Event::Counted { .. }
                | Event::Stitched { .. } => {}
                Event::FlowId { key, id } => {
                    // Workers only read the table; inserts and evictions happen here.
                    let flows = st.flows.pin();
                    if flows.insert(key, id).is_none() {
                        st.flow_order.push_back(key);
                    }
                    while st.flow_order.len() > st.cfg.limits.flow_table_size as usize {
                        if let Some(old) = st.flow_order.pop_front() {
                            flows.remove(&old);
                            st.flow_ids_evicted += 1;
                            if st.flow_ids_evicted == 1 {
                                eprintln!(
                                    "flow-id table full: limits.flow_table_size ({}) entries, {:.3} s after start; the oldest flow ids are evicted to make room (flow ids evicted in the counters)",
                                    st.cfg.limits.flow_table_size,
                                    st.started.elapsed().as_secs_f64()
                                );
                            }
                        }
                    }
                }
            }
        }
        api.turn(
            st,
            publisher,
            shared,
            hup,
            reload.is_some(),
            &opts.config_path,
        );
        st.age(Instant::now());
        let ch = st.want_planned();
        publisher.push(ch);
        publisher.flush(&shared.tables, &shared.generation);
        st.planner
            .settle_counters(&st.cfg, publisher.settled(), &shared.entries);
        obs.entries(st.planner.counter_slots());
        st.resolve(pool);
        obs.tick(&shared.counters, st.replies, || st.table_stats(), false);

        let now = Instant::now();
        if let Some(reason) = tracker.check(total_rx(&shared.counters, nb_ids as usize), now) {
            return reason;
        }
        if let Some(iv) = opts.stats_interval {
            let since = now.duration_since(last_summary);
            if since >= iv {
                let enc: u64 = shared.counters.iter().map(|c| c.encap.get()).sum();
                let dec: u64 = shared.counters.iter().map(|c| c.decap.get()).sum();
                let drops = drop_totals(&shared.counters);
                let dsum: u64 = drops.iter().sum();
                let mut line = format!(
                    "encap {} | decap {} | drops {}",
                    crate::control::rate(enc - prev.0, since),
                    crate::control::rate(dec - prev.1, since),
                    crate::control::rate(dsum - prev.2, since)
                );
                let top: Vec<String> = DropReason::ALL
                    .iter()
                    .copied()
                    .zip(drops.iter())
                    .filter(|(_, n)| **n > 0)
                    .map(|(r, n)| format!("{}={n}", r.as_str()))
                    .collect();
                if !top.is_empty() {
                    line.push_str(&format!(" ({})", top.join(" ")));
                }
                eprintln!("{line}");
                if let Some(l) = obs.interval_line() {
                    eprintln!("{l}");
                }
                prev = (enc, dec, dsum);
                last_summary = now;
            }
        }
        st.slowest_turn = st.slowest_turn.max(turn_start.elapsed());
        // A full turn of events means more are waiting (a learning
        // storm): no pause then.
        if events < EVENTS_PER_TURN {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

#[path = "run_api.rs"]
mod run_api;

fn report(
    counters: &[WorkerCounters],
    st: &ControlState,
    ports: &[Port],
    _nb_ids: u16,
    reason: StopReason,
    elapsed: Duration,
) {
    println!("stopped: {reason} after {:.3} s", elapsed.as_secs_f64());
    for (i, p) in ports.iter().enumerate() {
        let t = port_totals(counters, p.id() as usize);
        println!(
            "port {} ({}): rx {} packets, tx {} packets, tx dropped {}",
            p.id(),
            st.cfg.ports[i].name,
            t.rx_packets,
            t.tx_packets,
            t.tx_dropped
        );
    }
    let sum = |f: &dyn Fn(&WorkerCounters) -> u64| counters.iter().map(f).sum::<u64>();
    println!("encap {}", sum(&|c| c.encap.get()));
    println!("decap {}", sum(&|c| c.decap.get()));
    crate::control::observe::print_encapsulations(
        sum(&|c| c.encap.get()),
        sum(&|c| c.decap.get()),
        [
            sum(&|c| c.vxlan_encap.get()),
            sum(&|c| c.vxlan_decap.get()),
            sum(&|c| c.stitched.get()),
            sum(&|c| c.options_not_carried.get()),
        ],
    );
    println!("punted {}", sum(&|c| c.punted.get()));
    println!(
        "geneve control packets {}",
        sum(&|c| c.geneve_control.get())
    );
    println!("learn refused {}", sum(&|c| c.learn_refused.get()));
    println!("event queue full {}", sum(&|c| c.event_queue_full.get()));
    println!("tso segments {}", sum(&|c| c.tso_segments.get()));
    println!("tso hw frames {}", sum(&|c| c.tso_hw_frames.get()));
    println!("icmp too big sent {}", sum(&|c| c.icmp_too_big.get()));
    println!(
        "icmp too big rate limited {}",
        sum(&|c| c.icmp_too_big_limited.get())
    );
    println!("control replies {}", st.replies);
    println!("learned macs {}", st.learned.len());
    println!("macs aged {}", st.macs_aged);
    println!("neighbours aged {}", st.neighbors_aged);
    println!(
        "control loop slowest turn {:.3} ms",
        st.slowest_turn.as_secs_f64() * 1e3
    );
    println!("macs not learned (table full) {}", st.macs_not_learned);
    println!(
        "neighbours not resolved (table full) {}",
        st.neighbors_refused
    );
    println!("control replies rate-limited {}", st.replies_limited);
    println!("flow ids {}", st.flow_order.len());
    println!("flow ids evicted (table full) {}", st.flow_ids_evicted);
    let drops = drop_totals(counters);
    for (r, n) in DropReason::ALL.iter().copied().zip(drops.iter()) {
        if *n > 0 {
            println!("drop {} {n}", r.as_str());
        }
    }
    println!("drops total {}", drops.iter().sum::<u64>());
    // Per worker: the lines above are these summed.
    for (w, c) in counters.iter().enumerate() {
        let port = |f: &dyn Fn(&crate::dataplane::stats::PortCounters) -> u64| {
            ports
                .iter()
                .map(|p| f(&c.ports[p.id() as usize]))
                .sum::<u64>()
        };
        println!(
            "worker {w}: rx {} tx {} tx dropped {} encap {} decap {} punted {} drops {}",
            port(&|p| p.rx_packets.get()),
            port(&|p| p.tx_packets.get()),
            port(&|p| p.tx_dropped.get()),
            c.encap.get(),
            c.decap.get(),
            c.punted.get(),
            c.drops.iter().map(|d| d.get()).sum::<u64>()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::LearnFence;

    /// Learning events pass again only once every worker reads the tables
    /// of the change, and the events queued at that moment do not.
    #[test]
    fn learning_waits_for_the_workers_after_segments_moved() {
        let mut f = LearnFence::default();
        assert!(f.admit(true), "no change: learning goes on");
        f.set(5);
        f.turn(4, 3);
        assert!(!f.admit(true), "a worker still reads generation 4");
        assert!(f.admit(false), "other events go on");
        f.turn(5, 2);
        assert!(!f.admit(true), "queued before the workers moved");
        assert!(f.admit(false));
        assert!(f.admit(true), "sent with the new tables");
        f.turn(9, 4);
        assert!(f.admit(true), "no change since: nothing held back");
    }
}
