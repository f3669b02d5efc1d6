//! The control thread's side of observability: merges the workers'
//! residence-time histograms, publishes the snapshot that DPDK telemetry and
//! Prometheus read, and registers the `/geneve_gw/...` telemetry commands.
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::dataplane::gateway::Shared;
use crate::dataplane::latency::{self, ControlLink, Merged, Percentiles, WorkerLink};
use crate::dataplane::stats::{
    drop_totals, port_totals, EntrySlots, TunnelCounters, VniCounters, WorkerCounters,
};
use crate::dpdk::telemetry::{register, TelData, TelValue};
use crate::dpdk::{self, DpdkError};
use crate::tunnel::DropReason;
use crate::wire::geneve::Vni;

use super::observe::{self, PortSnapshot, Snapshot, TableStat};

/// How often the published snapshot is refreshed.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Residence-time links for `workers` workers (None each when not measured).
pub fn latency_links(workers: usize, enabled: bool) -> (Vec<Option<WorkerLink>>, Vec<ControlLink>) {
    let mut w = Vec::new();
    let mut c = Vec::new();
    for _ in 0..workers {
        if enabled {
            let (wl, cl) = latency::link();
            w.push(Some(wl));
            c.push(cl);
        } else {
            w.push(None);
        }
    }
    (w, c)
}

/// What `/geneve_gw/tunnel` and `/geneve_gw/vni` read: a copy of the
/// counter slots (made again only when they change: start-up, a reload)
/// and the workers' arrays themselves, summed when a command asks. Nothing
/// per tunnel is published periodically, so a million tunnels cost the
/// control thread nothing between reloads.
struct EntriesView {
    slots: EntrySlots,
    shared: Arc<Shared>,
}

static ENTRIES: ArcSwapOption<EntriesView> = ArcSwapOption::const_empty();

/// How often the bounded per-tunnel Prometheus series are summed (each
/// time a pass over every tunnel's cells).
const TUNNEL_SERIES_EVERY: Duration = Duration::from_secs(1);
/// Telemetry's copy of the counter slots (which tunnel and VNI has which
/// slot) follows changes at most this often: a copy costs a walk over
/// every tunnel, and a controller may change one entry many times a
/// second. A tunnel added less than this ago may be unknown to
/// `/geneve_gw/tunnel` for that long; its counters are complete once it
/// is known (they live in the workers' arrays, not in the copy). A slot
/// taken away is copied at once, so no stale name ever reads a reused
/// slot.
const ENTRIES_COPY_EVERY: Duration = Duration::from_secs(1);

/// The control thread's observer.
pub struct Observer {
    merged: Option<Merged>,
    started: Instant,
    last_publish: Option<Instant>,
    /// (config name, DPDK port id).
    ports: Vec<(String, u16)>,
    tsc_hz: u64,
    /// The workers' shared block (per-tunnel counters), once running.
    shared: Option<Arc<Shared>>,
    /// The slots' version last copied for telemetry.
    entries_version: Option<u64>,
    /// When the slots were last copied (a copy is a walk over every
    /// tunnel: at most one per `ENTRIES_COPY_EVERY`).
    entries_copied: Option<Instant>,
    /// `EntrySlots::retired` at the last copy.
    entries_retired: u64,
    /// Per-tunnel Prometheus series: the top this many tunnels (0: none).
    top_tunnels: usize,
    tunnels: Vec<(String, TunnelCounters)>,
    last_tunnels: Option<Instant>,
}

impl Observer {
    pub fn new(links: Vec<ControlLink>, enabled: bool, ports: Vec<(String, u16)>) -> Observer {
        Observer {
            merged: enabled.then(|| Merged::new(links)),
            started: Instant::now(),
            last_publish: None,
            ports,
            tsc_hz: dpdk::tsc_hz(),
            shared: None,
            entries_version: None,
            entries_copied: None,
            entries_retired: 0,
            top_tunnels: 0,
            tunnels: Vec::new(),
            last_tunnels: None,
        }
    }

    /// The workers' shared block, for the per-tunnel and per-VNI counters;
    /// `top_tunnels`: how many tunnels get Prometheus series (the most
    /// traffic first; 0: none, the default).
    pub fn with_entries(mut self, shared: Arc<Shared>, top_tunnels: usize) -> Observer {
        self.shared = Some(shared);
        self.top_tunnels = top_tunnels;
        self
    }

    /// A reload may change the bound of the per-tunnel series.
    pub fn set_top_tunnels(&mut self, n: usize) {
        self.top_tunnels = n;
        if n == 0 {
            self.tunnels.clear();
        }
    }

    /// Copies the counter slots for telemetry when they changed, and sums
    /// the bounded per-tunnel series when due.
    pub fn entries(&mut self, slots: &EntrySlots) {
        let Some(shared) = &self.shared else { return };
        if self.entries_version != Some(slots.version())
            && (slots.retired() != self.entries_retired
                || self
                    .entries_copied
                    .is_none_or(|t| t.elapsed() >= ENTRIES_COPY_EVERY))
        {
            self.entries_version = Some(slots.version());
            self.entries_copied = Some(Instant::now());
            self.entries_retired = slots.retired();
            ENTRIES.store(Some(Arc::new(EntriesView {
                slots: slots.for_readers(),
                shared: shared.clone(),
            })));
        }
        if self.top_tunnels > 0
            && self
                .last_tunnels
                .is_none_or(|t| t.elapsed() >= TUNNEL_SERIES_EVERY)
        {
            self.last_tunnels = Some(Instant::now());
            self.tunnels = slots
                .read(&shared.entries)
                .top_tunnels(self.top_tunnels)
                .into_iter()
                .map(|(n, c)| (n.to_string(), c))
                .collect();
        }
    }

    /// Merges what the workers handed over and, when due (or `force`),
    /// publishes a fresh snapshot.
    pub fn tick(
        &mut self,
        counters: &[WorkerCounters],
        replies: u64,
        tables: impl FnOnce() -> Vec<TableStat>,
        force: bool,
    ) {
        if let Some(m) = &mut self.merged {
            m.collect();
        }
        if !force
            && self
                .last_publish
                .is_some_and(|t| t.elapsed() < PUBLISH_EVERY)
        {
            return;
        }
        self.last_publish = Some(Instant::now());
        observe::publish(self.snapshot(counters, replies, tables()));
    }

    fn snapshot(
        &self,
        counters: &[WorkerCounters],
        replies: u64,
        tables: Vec<TableStat>,
    ) -> Snapshot {
        let sum = |f: &dyn Fn(&WorkerCounters) -> u64| counters.iter().map(f).sum::<u64>();
        let drops = drop_totals(counters);
        Snapshot {
            uptime_s: self.started.elapsed().as_secs_f64(),
            workers: counters.len(),
            ports: self
                .ports
                .iter()
                .map(|(name, id)| {
                    let t = port_totals(counters, *id as usize);
                    PortSnapshot {
                        name: name.clone(),
                        id: *id,
                        rx_packets: t.rx_packets,
                        tx_packets: t.tx_packets,
                        tx_dropped: t.tx_dropped,
                    }
                })
                .collect(),
            encap: sum(&|c| c.encap.get()),
            decap: sum(&|c| c.decap.get()),
            vxlan_encap: sum(&|c| c.vxlan_encap.get()),
            vxlan_decap: sum(&|c| c.vxlan_decap.get()),
            stitched: sum(&|c| c.stitched.get()),
            options_not_carried: sum(&|c| c.options_not_carried.get()),
            punted: sum(&|c| c.punted.get()),
            geneve_control: sum(&|c| c.geneve_control.get()),
            learn_refused: sum(&|c| c.learn_refused.get()),
            event_queue_full: sum(&|c| c.event_queue_full.get()),
            control_replies: replies,
            drops: DropReason::ALL
                .iter()
                .copied()
                .zip(drops.iter())
                .map(|(r, n)| (r, *n))
                .collect(),
            latency: self
                .merged
                .as_ref()
                .map(|m| Percentiles::of(&m.total, self.tsc_hz)),
            tables,
            tunnels: self.tunnels.clone(),
        }
    }

    /// The live summary's latency line for the packets since the last one
    /// (None when not measured or nothing was sent).
    pub fn interval_line(&mut self) -> Option<String> {
        let m = self.merged.as_mut()?;
        let p = Percentiles::of(&m.interval, self.tsc_hz);
        m.interval.reset();
        (p.samples > 0).then(|| format!("latency {} ({} packets)", p.summary(), p.samples))
    }

    /// The exit report's latency line, over the whole run.
    pub fn total_line(&self) -> String {
        match &self.merged {
            None => "latency not measured (metrics.latency: false)".to_string(),
            Some(m) => {
                let p = Percentiles::of(&m.total, self.tsc_hz);
                format!("latency {} ({} packets)", p.summary(), p.samples)
            }
        }
    }
}

fn u(k: &str, v: u64) -> (String, TelValue) {
    (k.to_string(), TelValue::U64(v))
}

fn counters_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    let rx: u64 = s.ports.iter().map(|p| p.rx_packets).sum();
    let tx: u64 = s.ports.iter().map(|p| p.tx_packets).sum();
    Some(TelData::Dict(vec![
        u("uptime_ms", (s.uptime_s * 1000.0) as u64),
        u("workers", s.workers as u64),
        u("rx_packets", rx),
        u("tx_packets", tx),
        u("encap", s.encap),
        u("decap", s.decap),
        u("geneve_encap", s.encap.saturating_sub(s.vxlan_encap)),
        u("vxlan_encap", s.vxlan_encap),
        u("geneve_decap", s.decap.saturating_sub(s.vxlan_decap)),
        u("vxlan_decap", s.vxlan_decap),
        u("stitched", s.stitched),
        u("options_not_carried", s.options_not_carried),
        u("punted", s.punted),
        u("geneve_control", s.geneve_control),
        u("learn_refused", s.learn_refused),
        u("event_queue_full", s.event_queue_full),
        u("control_replies", s.control_replies),
        u("drops_total", s.drops_total()),
    ]))
}

fn drops_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    Some(TelData::Dict(
        s.drops.iter().map(|(r, n)| u(r.as_str(), *n)).collect(),
    ))
}

fn drop_reasons_cmd(_: &str) -> Option<TelData> {
    Some(TelData::Dict(
        DropReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), TelValue::Str(r.help().to_string())))
            .collect(),
    ))
}

fn latency_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    Some(TelData::Dict(match s.latency {
        None => vec![u("enabled", 0)],
        Some(l) => vec![
            u("enabled", 1),
            u("samples", l.samples),
            u("min_ns", l.min_ns),
            u("p50_ns", l.p50_ns),
            u("p99_ns", l.p99_ns),
            u("p999_ns", l.p999_ns),
            u("max_ns", l.max_ns),
            u("mean_ns", l.mean_ns.round() as u64),
        ],
    }))
}

fn tables_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    Some(TelData::Dict(
        s.tables.iter().map(|t| u(t.name, t.entries)).collect(),
    ))
}

/// The bounded tables: `<table>_limit` and `<table>_refused` for each.
fn table_limits_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    Some(TelData::Dict(
        s.tables
            .iter()
            .filter_map(|t| Some((t, t.limit?)))
            .flat_map(|(t, l)| {
                [
                    u(&format!("{}_limit", t.name), l),
                    u(&format!("{}_refused", t.name), t.refused),
                ]
            })
            .collect(),
    ))
}

fn ports_cmd(_: &str) -> Option<TelData> {
    let s = observe::current()?;
    Some(TelData::U64Array(
        s.ports.iter().map(|p| p.id as u64).collect(),
    ))
}

fn port_cmd(params: &str) -> Option<TelData> {
    let s = observe::current()?;
    let id: u16 = params.trim().parse().ok()?;
    let p = s.ports.iter().find(|p| p.id == id)?;
    Some(TelData::Dict(vec![
        u("port_id", p.id as u64),
        ("name".to_string(), TelValue::Str(p.name.clone())),
        u("rx_packets", p.rx_packets),
        u("tx_packets", p.tx_packets),
        u("tx_dropped", p.tx_dropped),
    ]))
}

fn tunnel_dict(name: &str, c: TunnelCounters) -> TelData {
    TelData::Dict(vec![
        ("name".to_string(), TelValue::Str(name.to_string())),
        u("encap_packets", c.encap_packets),
        u("encap_bytes", c.encap_bytes),
        u("encap_drops", c.encap_drops),
        u("decap_packets", c.decap_packets),
        u("decap_bytes", c.decap_bytes),
    ])
}

fn vni_dict(vni: Vni, c: VniCounters) -> TelData {
    TelData::Dict(vec![
        u("vni", u64::from(vni.get())),
        u("packets", c.packets),
        u("bytes", c.bytes),
        u("drops", c.drops),
    ])
}

/// What the per-entry commands say when `metrics.entry_counters: false`:
/// no entry is counted, which an empty (null) reply would not tell apart
/// from an unknown name. `geneve-gw stats` shows the `error` text.
pub const ENTRY_COUNTERS_OFF: &str =
    "per-entry counters are off: metrics.entry_counters is false in the configuration";

/// The `error` reply of the per-entry commands when `slots` count
/// nothing per entry; None when they do.
fn entries_off(slots: &EntrySlots) -> Option<TelData> {
    slots.is_off().then(|| {
        TelData::Dict(vec![(
            "error".to_string(),
            TelValue::Str(ENTRY_COUNTERS_OFF.to_string()),
        )])
    })
}

fn tunnel_cmd(params: &str) -> Option<TelData> {
    let v = ENTRIES.load_full()?;
    if let Some(off) = entries_off(&v.slots) {
        return Some(off);
    }
    let name = params.trim();
    let c = v.slots.read(&v.shared.entries).tunnel(name)?;
    Some(tunnel_dict(name, c))
}

fn vni_cmd(params: &str) -> Option<TelData> {
    let v = ENTRIES.load_full()?;
    if let Some(off) = entries_off(&v.slots) {
        return Some(off);
    }
    let vni = Vni::new(params.trim().parse().ok()?)?;
    let c = v.slots.read(&v.shared.entries).vni(vni)?;
    Some(vni_dict(vni, c))
}

/// The most tunnels `/geneve_gw/top_tunnels` lists: six dictionary
/// entries each, and DPDK's dictionaries hold at most 256.
pub const TOP_TUNNELS_MAX: usize = 40;

/// `/geneve_gw/top_tunnels,N`: the N tunnels with the most packets, most
/// first, flattened (`tI_name`, `tI_encap_packets`, ...: telemetry has no
/// nested lists).
fn top_tunnels_cmd(params: &str) -> Option<TelData> {
    let v = ENTRIES.load_full()?;
    if let Some(off) = entries_off(&v.slots) {
        return Some(off);
    }
    let n: usize = match params.trim() {
        "" => 10,
        p => p.parse().ok()?,
    };
    let r = v.slots.read(&v.shared.entries);
    let mut out = Vec::new();
    for (i, (name, c)) in r
        .top_tunnels(n.min(TOP_TUNNELS_MAX))
        .into_iter()
        .enumerate()
    {
        if let TelData::Dict(d) = tunnel_dict(name, c) {
            out.extend(d.into_iter().map(|(k, v)| (format!("t{i}_{k}"), v)));
        }
    }
    Some(TelData::Dict(out))
}

/// The commands `geneve-gw stats` and `dpdk-telemetry.py` read.
pub const COMMANDS: [(&str, &str); 11] = [
    (
        "/geneve_gw/counters",
        "Gateway totals: rx/tx packets, encap, decap, punted, drops. No parameters",
    ),
    (
        "/geneve_gw/drops",
        "Dropped packets by reason. No parameters",
    ),
    (
        "/geneve_gw/drop_reasons",
        "What each drop reason means, by name. No parameters",
    ),
    (
        "/geneve_gw/latency",
        "Residence time RX to TX since start, in ns: p50, p99, p99.9, max. No parameters",
    ),
    (
        "/geneve_gw/tables",
        "Entries in the gateway's tables. No parameters",
    ),
    (
        "/geneve_gw/table_limits",
        "Bounded tables: <table>_limit, and <table>_refused: entries it turned away when full. No parameters",
    ),
    (
        "/geneve_gw/ports",
        "DPDK port ids the gateway uses. No parameters",
    ),
    (
        "/geneve_gw/port",
        "One port's counters. Parameter: DPDK port id",
    ),
    (
        "/geneve_gw/tunnel",
        "One tunnel's packets and bytes encapsulated and decapsulated, and its encap drops. Parameter: tunnel name",
    ),
    (
        "/geneve_gw/vni",
        "One decap VNI's packets and bytes delivered, and its drops. Parameter: VNI",
    ),
    (
        "/geneve_gw/top_tunnels",
        "The tunnels with the most packets, most first, as t0_name, t0_encap_packets, ... Parameter: how many (default 10, at most 40)",
    ),
];

/// Registers the `/geneve_gw/...` commands (once per process, after EAL start).
pub fn register_commands() -> Result<(), DpdkError> {
    let handlers: [fn(&str) -> Option<TelData>; 11] = [
        counters_cmd,
        drops_cmd,
        drop_reasons_cmd,
        latency_cmd,
        tables_cmd,
        table_limits_cmd,
        ports_cmd,
        port_cmd,
        tunnel_cmd,
        vni_cmd,
        top_tunnels_cmd,
    ];
    for ((cmd, help), h) in COMMANDS.iter().zip(handlers) {
        register(cmd, help, h)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::COMMANDS;

    /// DPDK refuses to register a command whose help text does not fit
    /// its string limit (`RTE_TEL_MAX_STRING_LEN`), and the gateway then
    /// does not start: every help fits, and no command is registered
    /// twice.
    #[test]
    fn every_command_registers_with_dpdk() {
        for (cmd, help) in COMMANDS {
            assert!(
                help.len() <= crate::dpdk::telemetry::MAX_HELP_LEN,
                "{cmd}: help is {} bytes",
                help.len()
            );
            assert!(cmd.starts_with("/geneve_gw/"), "{cmd}");
        }
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }
}
