//! The gateway worker: run to completion on every port's queue `queue`:
//! RX burst, classify, encap or decap, TX burst. Tables come from an RCU
//! snapshot checked once per burst; punted packets and learning events go
//! to the control thread over bounded queues (full: counted, never blocking).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam::channel::{Receiver, Sender};

use crate::dpdk::{self, Burst, FrontRuns, Mbuf, Mempool, TxBuffer, BURST_SIZE};

use crate::tunnel::{encap, encap_tso, inner_flow_hash, EncapError, FastEthernet, TcpSegmentation};

use super::latency::{Residence, WorkerLink};
use super::pipeline::flood::{
    flood_copy, flood_targets, segment_path, FloodCopy, FloodTarget, SegmentFacts, SegmentPath,
};
use super::pipeline::{self, Event, Outcome, PuntKind};
use super::police::{self, PuntClass, PuntPolicer, TokenBucket};
use super::stats::{DecapRun, WorkerCounters, WorkerEntries, MAX_PORTS, NO_SLOT};
use super::tables::{Tables, VniHint};
use crate::tunnel::DropReason;

/// What workers and the control thread share.
pub struct Shared {
    /// The front copy of the tables. Only the control thread's
    /// `publish::Publisher` swaps it: a store from anywhere else would leave
    /// the back copy behind.
    pub tables: ArcSwap<Tables>,
    /// Mirrors `tables.generation`, so workers check one integer per burst.
    pub generation: AtomicU64,
    pub stop: AtomicBool,
    pub counters: Box<[WorkerCounters]>,
    /// Per worker: per-tunnel and per-VNI counters (`stats::EntryCounters`).
    pub entries: Box<[WorkerEntries]>,
    pub pool: Arc<Mempool>,
    pub punt_tx: Sender<(PuntKind, Mbuf)>,
    pub event_tx: Sender<Event>,
    /// Packets the control thread wants sent (ARP/ND replies and requests,
    /// ICMP echo replies): worker 0 sends them on its own TX queues.
    pub control_rx: Receiver<(u16, Mbuf)>,
}

pub struct GatewayWorker {
    pub index: usize,
    pub queue: u16,
    pub nb_ports: u16,
    pub shared: Arc<Shared>,
    /// Residence-time hand-off to the control thread (None: not measured).
    pub latency: Option<WorkerLink>,
}

impl GatewayWorker {
    pub fn run(self) -> i32 {
        let sh = &*self.shared;
        let c = &sh.counters[self.index];
        let e = &sh.entries[self.index];
        let nb = self.nb_ports as usize;
        let mut tx: Vec<TxBuffer> = (0..self.nb_ports)
            .map(|p| TxBuffer::new(p, self.queue))
            .collect();
        let mut burst: Burst<BURST_SIZE> = Burst::new();
        let mut tables = sh.tables.load_full();
        let mut generation = tables.generation;
        let mut is_access = [false; MAX_PORTS];
        mark_access(&tables, &mut is_access);
        let mut stitching = tables.segments.iter().any(|s| s.stitched());
        let start = dpdk::tsc_now();
        let mut lat = Residence::new(self.latency, dpdk::tsc_hz(), start);
        // Poll rounds between residence-time hand-off checks (a TSC read).
        let mut handoff_countdown = 1u32;
        let mut mac_cache = pipeline::MacCache::default();
        let mut stitch_cache = pipeline::StitchCache::default();
        // The decap express tier's keys, one per packet it takes: kept
        // across bursts (each burst writes the ones it reads), so no burst
        // clears them.
        let mut express_keys = [pipeline::ExpressKey::default(); BURST_SIZE];
        // The look-aheads' state, refilled per burst (large VNI tables on
        // the underlay; large MAC and route tables on an access port).
        let mut underlay_ahead = pipeline::UnderlayAhead::default();
        let mut access_ahead = pipeline::AccessAhead::default();
        // Chained (jumbo) frames to segment are copied here first; grown
        // once to the largest IP packet, never per packet after that.
        let mut scratch: Vec<u8> = Vec::new();
        // Punted packets only (control-plane policing, per kind).
        let mut policer = PuntPolicer::new(dpdk::tsc_hz(), start);
        // ICMP errors this worker sends to inner senders.
        let (icmp_rate, icmp_burst) = police::ICMP_ERROR_RATE;
        let mut icmp = TokenBucket::new(icmp_rate, icmp_burst, dpdk::tsc_hz(), start);
        while !sh.stop.load(Ordering::Relaxed) {
            if sh.generation.load(Ordering::Acquire) != generation {
                tables = sh.tables.load_full();
                generation = tables.generation;
                mark_access(&tables, &mut is_access);
                stitching = tables.segments.iter().any(|s| s.stitched());
            }
            if self.index == 0 && !sh.control_rx.is_empty() {
                for (port, m) in sh.control_rx.try_iter().take(BURST_SIZE) {
                    send(&mut tx, c, &mut lat, port, m);
                }
                lat.end_burst(tx.iter().map(TxBuffer::len));
            }
            for (p, &access) in is_access.iter().enumerate().take(nb) {
                let n = dpdk::rx_burst(p as u16, self.queue, &mut burst);
                if n == 0 {
                    continue;
                }
                c.ports[p].rx_packets.add(n as u64);
                if lat.enabled() {
                    // One TSC read per burst: every packet of it gets this RX time.
                    lat.begin_burst(dpdk::tsc_now());
                }
                let t = &*tables;
                // Counted per burst: one store per counter, not one per packet.
                let (mut encapped, mut decapped) = (0u64, 0u64);
                if access {
                    // Large tables: the burst's lookups first (pipeline::ahead).
                    let ahead = access_ahead
                        .fill(t, p as u16, burst.as_slice().iter().map(|m| m.data()))
                        .then_some(&access_ahead);
                    if let Some(a) = ahead {
                        a.prefetch_counters(t, e);
                    }
                    // The index in the burst of the next frame drain_each sees.
                    let mut at;
                    // Resolved once per burst from the last lookup (see AccessExpress).
                    let express = pipeline::AccessExpress::new(t, p as u16, &mac_cache);
                    if let Some((l, out)) = express
                        .as_ref()
                        .and_then(|l| Some((l, tx.get_mut(usize::from(l.port()))?)))
                    {
                        // The burst's leading express-tier frames,
                        // encapsulated in place and moved to the TX buffer
                        // together; the rest, from the first other frame
                        // on, one by one below (in order).
                        let n = l2_express_front(l, &mut burst, out, c, e, &mut lat);
                        encapped += n as u64;
                        at = n;
                    } else {
                        // The same for an L3 access port (a route per run of
                        // frames on one route entry); with a large route
                        // table, whose frames each land on a route of their
                        // own, from the templates' lines.
                        let lines = ahead.is_some_and(|a| !a.is_l2());
                        let n = l3_express_front(
                            t, p as u16, lines, &mut burst, &mut tx, c, e, &mut lat,
                        );
                        encapped += n;
                        at = n as usize;
                    }
                    // Large MAC tables: the frames after those whose
                    // template the look-ahead kept, likewise together.
                    if let Some((a, out)) = ahead
                        .filter(|a| a.is_l2())
                        .and_then(|a| Some((a, tx.get_mut(usize::from(t.underlay_port))?)))
                    {
                        let n = l2_ahead_front(t, a, at, &mut burst, out, c, e, &mut lat);
                        encapped += n as u64;
                        at += n;
                    }
                    burst.drain_each(|mut m| {
                        let rss = m.rss_hash();
                        let i = at;
                        at += 1;
                        if let Some((l, port)) = express
                            .as_ref()
                            .and_then(|l| Some((l, l.encap(&mut m, rss)?)))
                        {
                            encapped += 1;
                            e.encap(l.counter(), 1, m.pkt_len() as u64);
                            if l.is_vxlan() {
                                c.vxlan_encap.add(1);
                            }
                            return send(&mut tx, c, &mut lat, port, m);
                        }
                        // Large tables: the frame's template from the look-ahead.
                        if let Some(x) = ahead.and_then(|a| a.encap(t, i, &mut m, rss)) {
                            encapped += 1;
                            e.encap(x.counter, 1, m.pkt_len() as u64);
                            if x.vxlan {
                                c.vxlan_encap.add(1);
                            }
                            return send(&mut tx, c, &mut lat, x.port, m);
                        }
                        // A chain that does not fit one mbuf stays a chain:
                        // a too-big TCP frame (a guest's TSO) is copied out
                        // and segmented, anything else is encap_too_big.
                        let _ = m.linearize();
                        // Not inlined: the express tier above keeps its
                        // registers.
                        let mut sink = Sink {
                            io: Io {
                                sh,
                                c,
                                e,
                                tunnel: NO_SLOT,
                                vni: NO_SLOT,
                                tx: &mut tx,
                                lat: &mut lat,
                            },
                            scratch: &mut scratch,
                            rx_port: p as u16,
                            icmp: &mut icmp,
                            policer: &mut policer,
                        };
                        encapped += access_general(t, p as u16, m, rss, &mut mac_cache, &mut sink);
                    });
                } else {
                    // As for encap: the leading express-tier packets
                    // decapsulated in place, then moved to their access
                    // ports' TX buffers a run of one port at a time.
                    // Large tables: the burst's VNI index slots first,
                    // the first frames' entries next; the express tier
                    // finds the rest a few frames ahead
                    // (`underlay_ahead_front`).
                    let ahead = pipeline::wants_ahead_underlay(t).then(|| {
                        underlay_ahead.fill(t, burst.as_slice().iter().map(|m| m.data()));
                        for i in 0..pipeline::PROBE_DISTANCE {
                            underlay_ahead.probe(t, i);
                        }
                        &mut underlay_ahead
                    });
                    // Delivered packets, counted per (VNI, tunnel) run.
                    let mut run = DecapRun::default();
                    decapped += underlay_express_front(
                        t,
                        &mut burst,
                        &mut tx,
                        c,
                        e,
                        &mut run,
                        &mut lat,
                        &mut express_keys,
                        ahead,
                    );
                    if stitching {
                        // Then the stitched frames at the front: decapped
                        // and re-encapsulated in place, all to the
                        // underlay port (a loop of its own: the decap
                        // express tier's stays as it was).
                        encapped += stitch_express_front(
                            t,
                            &mut burst,
                            &mut tx,
                            c,
                            e,
                            &mut lat,
                            &mut stitch_cache,
                        );
                    }
                    burst.drain_each(|mut m| {
                        // A Geneve frame in a chain that does not fit one
                        // mbuf is longer than every MTU.
                        if !m.linearize() {
                            return c.drops[DropReason::FrameOverMtu.index()].add(1);
                        }
                        let marked = m.flow_mark();
                        if marked.is_none() {
                            if let Some(x) = pipeline::underlay_express_counted(t, &mut m) {
                                decapped += 1;
                                run.add(e, x.vni, x.tunnel, m.pkt_len() as u64);
                                return send(&mut tx, c, &mut lat, x.port, m);
                            }
                        }
                        // The counter slots the pipeline names once the VNI is known.
                        let mut seen = (NO_SLOT, NO_SLOT);
                        // A stitched frame's tunnel out and its inner length.
                        let mut stitched = None;
                        let outcome = if let Some(vni) = marked {
                            // Decapsulated by an rte_flow rule (mlx5): the
                            // outer source is gone, the VNI is known.
                            seen.0 = t.vnis.get(vni).map_or(NO_SLOT, |o| o.counter);
                            pipeline::hw_decapped(t, vni, &mut m)
                        } else {
                            pipeline::underlay(t, &mut m, &mut |e| {
                                // A full event queue only delays learning (the
                                // event comes again with the next packet), counted.
                                if let Event::Counted { vni, tunnel } = e {
                                    seen = (vni, tunnel);
                                } else if let Event::Stitched { tunnel, inner } = e {
                                    stitched = Some((tunnel, u64::from(inner)));
                                } else if e == Event::LearnRefused {
                                    c.learn_refused.add(1);
                                } else if e == Event::OptionsNotCarried {
                                    c.options_not_carried.add(1);
                                } else if sh.event_tx.try_send(e).is_err() {
                                    c.event_queue_full.add(1);
                                }
                            })
                        };
                        let mut sink = Sink {
                            io: Io {
                                sh,
                                c,
                                e,
                                tunnel: NO_SLOT,
                                vni: NO_SLOT,
                                tx: &mut tx,
                                lat: &mut lat,
                            },
                            scratch: &mut scratch,
                            rx_port: p as u16,
                            icmp: &mut icmp,
                            policer: &mut policer,
                        };
                        // Drops from here on count under the VNI too.
                        sink.io.vni = seen.0;
                        let len = m.pkt_len() as u64;
                        let segmented = matches!(outcome, Outcome::Segment(_));
                        // No RSS hash: a stitched frame's copies and
                        // segments hash its inner flow.
                        let (en, d) = sink.act(t, outcome, m, None);
                        if d > 0 {
                            run.add(e, seen.0, seen.1, len);
                        }
                        // Stitched: decapsulated under its source, encapsulated
                        // under its tunnel out (its segments, when it left in
                        // them, counted there as they left).
                        if let (1.., Some((out, inner))) = (en, stitched) {
                            run.add(e, seen.0, seen.1, inner);
                            if !segmented {
                                e.encap(out, 1, len);
                            }
                        }
                        encapped += en;
                        decapped += d;
                    });
                    run.flush(e);
                }
                if encapped > 0 {
                    c.encap.add(encapped);
                    if !access {
                        // From the underlay: re-encapsulated (stitched).
                        c.stitched.add(encapped);
                    }
                }
                if decapped > 0 {
                    c.decap.add(decapped);
                }
                lat.end_burst(tx.iter().map(TxBuffer::len));
            }
            // Everything this round buffered leaves now, as OVS-DPDK and
            // VPP send every poll: a partial burst never waits for more
            // traffic (no drain timer, no TSC read for one). Under load the
            // bursts are full and this is the one TX burst per RX burst.
            for (p, b) in tx.iter_mut().enumerate() {
                flush(b, c, &mut lat, p);
            }
            if lat.enabled() {
                handoff_countdown -= 1;
                if handoff_countdown == 0 {
                    handoff_countdown = 1024;
                    lat.maybe_handoff(dpdk::tsc_now());
                }
            }
        }
        for (p, b) in tx.iter_mut().enumerate() {
            flush(b, c, &mut lat, p);
        }
        lat.handoff();
        c.total_cycles.set(dpdk::tsc_now().wrapping_sub(start));
        0
    }
}

/// The worker's output for one burst: TX buffers, the control thread's
/// queue, counters and residence times.
struct Io<'a> {
    sh: &'a Shared,
    c: &'a WorkerCounters,
    /// Per-tunnel and per-VNI counters.
    e: &'a WorkerEntries,
    /// The tunnel slot (a template was chosen) and the VNI slot (the VNI
    /// is known) the packet at hand counts its drops under.
    tunnel: u32,
    vni: u32,
    tx: &'a mut [TxBuffer],
    lat: &'a mut Residence,
}

impl Io<'_> {
    #[inline]
    fn send(&mut self, port: u16, m: Mbuf) {
        send(self.tx, self.c, self.lat, port, m);
    }

    /// Counts `n` drops for `r`.
    fn count_drop(&self, r: DropReason, n: u64) {
        self.c.drops[r.index()].add(n);
        self.e.encap_drop(self.tunnel, n);
        self.e.decap_drop(self.vni, n);
    }

    /// [`count_drop`](Self::count_drop) for a path that says whether its
    /// frame left: it did not.
    fn dropped(&self, r: DropReason, n: u64) -> bool {
        self.count_drop(r, n);
        false
    }

    /// `m`, encapsulated with template `id`, counted under its tunnel.
    #[inline]
    fn count_encap(&self, t: &Tables, id: u32, m: &Mbuf) {
        self.e.encap(slot_of(t, id), 1, m.pkt_len() as u64);
    }
}

/// Where a worker's packets go after the pipeline: it carries out the
/// pipeline's [`Outcome`] and the flood and segmentation decisions of
/// [`pipeline::flood`] (copies, segments, TX).
struct Sink<'a> {
    io: Io<'a>,
    /// Chained (jumbo) frames to segment are copied here first.
    scratch: &'a mut Vec<u8>,
    /// The port the frame came in on (where an ICMP error goes back).
    rx_port: u16,
    /// The worker's limit on ICMP errors to inner senders.
    icmp: &'a mut TokenBucket,
    /// The worker's punt policer.
    policer: &'a mut PuntPolicer,
}

impl Sink<'_> {
    /// Acts on the pipeline's outcome for `m`; returns the (encapsulated,
    /// decapsulated) packets to count.
    #[inline(always)]
    fn act(&mut self, t: &Tables, outcome: Outcome, m: Mbuf, rss: Option<u32>) -> (u64, u64) {
        match outcome {
            Outcome::Encapped(port) => {
                self.io.send(port, m);
                return (1, 0);
            }
            Outcome::Decapped(port) => {
                if t.over_mtu(port, m.data()) {
                    self.io.count_drop(DropReason::EgressOverMtu, 1);
                    return (0, 0);
                }
                self.io.send(port, m);
                return (0, 1);
            }
            Outcome::EncappedVxlan(port) => {
                self.io.c.vxlan_encap.add(1);
                self.io.send(port, m);
                return (1, 0);
            }
            Outcome::DecappedVxlan(port) => {
                if t.over_mtu(port, m.data()) {
                    self.io.count_drop(DropReason::EgressOverMtu, 1);
                    return (0, 0);
                }
                self.io.c.vxlan_decap.add(1);
                self.io.send(port, m);
                return (0, 1);
            }
            Outcome::FloodFrom {
                segment,
                group,
                vxlan,
            } => return self.flood_from(t, segment as usize, group, vxlan, m, rss),
            Outcome::Flood(seg) => self.flood(t, seg, m, rss),
            // Sent in segments (or as one copy of a chain): one frame
            // encapsulated, as if it had left whole.
            Outcome::Segment(id) => return (u64::from(self.segment(t, id, m, rss)), 0),
            Outcome::Punt(kind) => self.punt(kind, m),
            Outcome::Drop(r) => self.io.count_drop(r, 1),
        }
        (0, 0)
    }

    /// Hands `m` to the control thread if its kind's bucket allows it.
    /// Cold and not inlined: data packets never come here.
    #[cold]
    #[inline(never)]
    fn punt(&mut self, kind: PuntKind, m: Mbuf) {
        let c = self.io.c;
        let class = if kind == PuntKind::GeneveControl {
            c.geneve_control.add(1);
            PuntClass::GeneveControl
        } else {
            PuntClass::of_local(m.data())
        };
        if !self.policer.admit(class, dpdk::tsc_now()) {
            return self.io.count_drop(class.policed(), 1);
        }
        match self.io.sh.punt_tx.try_send((kind, m)) {
            Ok(()) => c.punted.add(1),
            Err(_) => self.io.count_drop(DropReason::PuntQueueFull, 1),
        }
    }

    /// Broadcast and unknown unicast: one encapsulated copy per flood
    /// target ([`flood_targets`], [`flood_copy`]). Not inlined: the
    /// worker's per-packet loop stays small.
    #[inline(never)]
    fn flood(&mut self, t: &Tables, seg: usize, m: Mbuf, rss: Option<u32>) {
        let targets = match flood_targets(&t.segments[seg].flood) {
            Ok(targets) => targets,
            Err(r) => return self.io.count_drop(r, 1),
        };
        let mut original = Some(m);
        for target in targets {
            let (id, mut copy) = match target {
                FloodTarget::Unresolved => {
                    self.io.count_drop(DropReason::NextHopUnresolved, 1);
                    continue;
                }
                FloodTarget::Original(id) => match original.take() {
                    Some(m) => (id, m),
                    None => break,
                },
                FloodTarget::Copy(id) => {
                    match original
                        .as_ref()
                        .and_then(|m| m.deep_copy(&self.io.sh.pool))
                    {
                        Some(c) => (id, c),
                        None => {
                            self.io.count_drop(DropReason::ReplicationNoMbuf, 1);
                            continue;
                        }
                    }
                }
            };
            match flood_copy(pipeline::encap_flood(t, id, &mut copy, rss)) {
                FloodCopy::Send(port) => {
                    self.io.c.encap.add(1);
                    self.io.count_encap(t, id, &copy);
                    if flood_copy_is_vxlan(t, id) {
                        self.io.c.vxlan_encap.add(1);
                    }
                    self.io.send(port, copy);
                }
                FloodCopy::Segment(id) => {
                    if self.segment(t, id, copy, rss) {
                        self.io.c.encap.add(1);
                    }
                }
                FloodCopy::Drop(r) => {
                    self.io.tunnel = slot_of(t, id);
                    self.io.count_drop(r, 1);
                    self.io.tunnel = NO_SLOT;
                }
            }
        }
    }

    /// A decapsulated frame of a stitched segment with no known tunnel
    /// behind its destination: a copy to each flood member outside mesh
    /// group `group` (`dataplane::stitch`), and the frame itself to the
    /// segment's access port (tagged, MTU-checked). Returns the
    /// (encapsulated, decapsulated) packets to count: the copies were
    /// counted here. Not inlined, like [`flood`](Self::flood).
    #[inline(never)]
    fn flood_from(
        &mut self,
        t: &Tables,
        seg: usize,
        group: u16,
        vxlan: bool,
        mut m: Mbuf,
        rss: Option<u32>,
    ) -> (u64, u64) {
        let Some(s) = t.segments.get(seg) else {
            self.io.count_drop(DropReason::NoSegment, 1);
            return (0, 0);
        };
        let mut copies = 0;
        for (position, target) in s.flood.iter().enumerate() {
            // The segment's current flood list, outside the source's group.
            if !s
                .mesh
                .as_ref()
                .is_some_and(|m| m.floods_to(position, group))
            {
                continue;
            }
            let Some(id) = *target else {
                self.io.count_drop(DropReason::NextHopUnresolved, 1);
                continue;
            };
            let Some(mut copy) = m.deep_copy(&self.io.sh.pool) else {
                self.io.count_drop(DropReason::ReplicationNoMbuf, 1);
                continue;
            };
            match flood_copy(pipeline::encap_flood(t, id, &mut copy, rss)) {
                FloodCopy::Send(port) => {
                    copies += 1;
                    self.io.count_encap(t, id, &copy);
                    if flood_copy_is_vxlan(t, id) {
                        self.io.c.vxlan_encap.add(1);
                    }
                    self.io.send(port, copy);
                }
                FloodCopy::Segment(id) => {
                    if self.segment(t, id, copy, rss) {
                        copies += 1;
                    }
                }
                FloodCopy::Drop(r) => {
                    self.io.tunnel = slot_of(t, id);
                    self.io.count_drop(r, 1);
                    self.io.tunnel = NO_SLOT;
                }
            }
        }
        if copies > 0 {
            self.io.c.encap.add(copies);
            self.io.c.stitched.add(copies);
        }
        if let Some(vid) = s.vlan {
            if !pipeline::push_segment_vlan(&mut m, vid) {
                self.io.count_drop(DropReason::EncapNoRoom, 1);
                return (0, 0);
            }
        }
        if t.over_mtu(s.access_port, m.data()) {
            self.io.count_drop(DropReason::EgressOverMtu, 1);
            return (0, 0);
        }
        if vxlan {
            self.io.c.vxlan_decap.add(1);
        }
        self.io.send(s.access_port, m);
        (0, 1)
    }

    /// A frame too big for template `id`'s tunnel MTU, on the path
    /// [`segment_path`] chooses: the NIC's Geneve TSO, software segments
    /// from the pool (each encapsulated with the template, every option in
    /// every segment), one linear copy of a chained frame, or a counted
    /// drop (`encap_too_big` for anything but TCP). Cold and not inlined:
    /// the encap fast tier never gets here.
    #[cold]
    #[inline(never)]
    fn segment(&mut self, t: &Tables, id: u32, m: Mbuf, rss: Option<u32>) -> bool {
        // Its drops and frames count under the template's tunnel.
        let before = self.io.tunnel;
        self.io.tunnel = slot_of(t, id);
        let left = self.segment_counted(t, id, m, rss);
        self.io.tunnel = before;
        // Once per frame, as the caller counts its encapsulation; here,
        // where the template is at hand.
        if left && flood_copy_is_vxlan(t, id) {
            self.io.c.vxlan_encap.add(1);
        }
        left
    }

    /// Whether the frame left (the TSO frame, one segment or more, or the
    /// copy of a chain): the caller counts it as one frame encapsulated,
    /// as it does a frame sent whole. Each segment that left counts under
    /// the tunnel here, each drop under its reason.
    fn segment_counted(&mut self, t: &Tables, id: u32, mut m: Mbuf, rss: Option<u32>) -> bool {
        let Sink {
            io,
            scratch,
            rx_port,
            icmp,
            ..
        } = self;
        let Some(tpl) = t.templates.get(id as usize) else {
            return io.dropped(DropReason::NextHopUnresolved, 1);
        };
        let contiguous = m.is_contiguous();
        let mut copied = 0;
        if !contiguous {
            // Chained input (a jumbo frame spread over several mbufs): copy it
            // out once, then cut segments from the copy.
            if scratch.len() < m.pkt_len() {
                scratch.resize(m.pkt_len().max(u16::MAX as usize + 64), 0);
            }
            match m.read_into(scratch) {
                Some(n) => copied = n,
                None => return io.dropped(DropReason::EncapTooBig, 1),
            }
        }
        // A software segment and its outer headers must fit one mbuf of the
        // pool (created with DPDK's default size in cmd::run): with a
        // jumbo underlay MTU the MSS is capped by the mbuf, not the MTU.
        let room = usize::from(dpdk::DEFAULT_MBUF_BUF_SIZE);
        let fits_mbuf = (room - usize::from(dpdk::MBUF_HEADROOM)).min(room - tpl.header_len());
        let inner: &[u8] = if contiguous {
            m.data()
        } else {
            &scratch[..copied]
        };
        let planned = TcpSegmentation::plan(inner, tpl.payload_kind(), tpl.max_inner_len());
        let path = segment_path(&SegmentFacts {
            contiguous,
            len: inner.len(),
            max_inner: tpl.max_inner_len(),
            fits_mbuf,
            plan_frame_len: planned.as_ref().ok().map(TcpSegmentation::frame_len),
            geneve_tso: tpl.geneve_tso(),
        });
        let plan = match (path, planned) {
            (SegmentPath::Drop(r), _) => {
                if r == DropReason::EncapTooBig {
                    too_big(t, io, icmp, *rx_port, tpl, inner);
                }
                return io.dropped(r, 1);
            }
            (SegmentPath::LinearCopy, _) => return linear_copy(t, io, id, tpl, inner, rss),
            (SegmentPath::Tso | SegmentPath::Software, Ok(plan)) => plan,
            // `segment_path` chose these only with a plan.
            (SegmentPath::Tso | SegmentPath::Software, Err(_)) => {
                return io.dropped(DropReason::EncapTooBig, 1)
            }
        };
        if path == SegmentPath::Tso {
            match encap_tso(tpl, &mut m, &plan, rss) {
                Ok(()) => {
                    io.count_encap(t, id, &m);
                    io.c.tso_hw_frames.add(1);
                    io.send(t.underlay_port, m);
                    return true;
                }
                // Headers too long for the mbuf's length fields: software.
                Err(EncapError::TooBig { .. }) => {}
                Err(_) => return io.dropped(DropReason::EncapNoRoom, 1),
            }
        }
        let inner: &[u8] = if contiguous {
            m.data()
        } else {
            &scratch[..copied]
        };
        let plan = if plan.segment_len(0) > fits_mbuf {
            match TcpSegmentation::plan(inner, tpl.payload_kind(), fits_mbuf) {
                Ok(p) => p,
                Err(_) => return io.dropped(DropReason::EncapNoRoom, 1),
            }
        } else {
            plan
        };
        let hash = rss.unwrap_or_else(|| inner_flow_hash(inner, tpl.payload_kind()));
        let count = plan.count();
        let mut sent = 0u64;
        for i in 0..count {
            let Some(mut s) = io.sh.pool.alloc() else {
                io.count_drop(DropReason::SegmentNoMbuf, (count - i) as u64);
                break;
            };
            let ok = s
                .set_len(plan.segment_len(i))
                .and_then(|out| plan.write(inner, i, out))
                .is_some();
            if !ok {
                io.count_drop(DropReason::EncapNoRoom, 1);
                continue;
            }
            match encap(tpl, &mut s, Some(hash)) {
                Ok(()) => {
                    sent += 1;
                    io.count_encap(t, id, &s);
                    io.send(t.underlay_port, s);
                }
                Err(EncapError::NoHeadroom) => io.count_drop(DropReason::EncapNoRoom, 1),
                Err(_) => io.count_drop(DropReason::EncapTooBig, 1),
            }
        }
        if sent > 0 {
            io.c.tso_segments.add(sent);
        }
        sent > 0
    }
}

/// RFC 8926 section 4.4.1: tells the sender of `inner` (IPv4 with DF, or
/// IPv6), which does not fit the tunnel, the MTU it has, with ICMP
/// Fragmentation Needed / Packet Too Big out of the port it came in on;
/// rate-limited per worker. No reply is due for other packets
/// (`too_big_reply` says which). The frame itself is counted by the caller.
#[cold]
#[inline(never)]
fn too_big(
    t: &Tables,
    io: &mut Io<'_>,
    limit: &mut TokenBucket,
    rx_port: u16,
    tpl: &crate::tunnel::EncapTemplate,
    inner: &[u8],
) {
    const REPLY_ROOM: usize = 1500;
    // The limit first: a flood of too-big packets costs no allocation.
    if !limit.take(dpdk::tsc_now()) {
        return io.c.icmp_too_big_limited.add(1);
    }
    let Some(mut reply) = io.sh.pool.alloc() else {
        return;
    };
    let (v4, v6) = t.icmp_source();
    let n = reply.set_len(REPLY_ROOM).and_then(|out| {
        crate::tunnel::icmp::too_big_reply(
            inner,
            tpl.payload_kind(),
            tpl.inner_ip_mtu(),
            v4,
            v6,
            out,
        )
        .ok()
    });
    let Some(n) = n else { return };
    if reply.set_len(n).is_some() {
        io.c.icmp_too_big.add(1);
        io.send(rx_port, reply);
    }
}

/// The L3 access express tier (`pipeline::L3Express`) over the front of
/// `burst` from access port `port`: the frames it encapsulated in place
/// move to the underlay port's TX buffer; returns how many. `lines`: a
/// large route table (the look-ahead ran), taken by [`l3_lines_loop`].
/// Not inlined: the worker loop keeps its registers for the other tiers.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn l3_express_front(
    t: &Tables,
    port: u16,
    lines: bool,
    burst: &mut Burst<BURST_SIZE>,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    lat: &mut Residence,
) -> u64 {
    let Some(l) = pipeline::L3Express::new(t, port) else {
        return 0;
    };
    let Some(out) = tx.get_mut(usize::from(l.port())) else {
        return 0;
    };
    // Per entry or not, chosen once per burst.
    let n = if lines {
        l3_lines_loop(&l, burst, e)
    } else if e.counting() {
        l3_express_loop::<true>(&l, burst, e)
    } else {
        l3_express_loop::<false>(&l, burst, e)
    };
    if n > 0 {
        send_front(out, c, lat, burst, n);
    }
    n as u64
}

/// The L3 express tier with a large route table: every frame's route is
/// another, so none is kept (as [`l3_express_loop`] does); each frame's
/// template is read from its line
/// ([`TemplateLine`](crate::tunnel::TemplateLine), one cache line where
/// the template's fast-tier fields span five), which the look-ahead
/// prefetched, and counted under its tunnel. A frame whose line does not
/// stand for its template ends the front (the per-packet path takes it).
#[inline(never)]
fn l3_lines_loop(
    l: &pipeline::L3Express<'_>,
    burst: &mut Burst<BURST_SIZE>,
    e: &WorkerEntries,
) -> usize {
    burst.update_while(|m| {
        let Some(line) = l.entry(m).and_then(|entry| l.line(entry)) else {
            return false;
        };
        let rss = m.rss_hash();
        if !l.encap_line(line, m, rss) {
            return false;
        }
        e.encap(line.counter(), 1, m.pkt_len() as u64);
        true
    })
}

/// The L3 express tier's loop over the front of `burst`; returns how many
/// frames it encapsulated. The route's answer is kept while the frames
/// land on its entry (`pipeline::L3Route`): a frame on another entry
/// takes [`l3_new_route`], out of line. With counting (`C`) a run of
/// frames on one route counts once, when the route changes and after the
/// loop; per frame only its bytes are added, in memory (the run's state
/// lives there for [`l3_new_route`]): no register of the loop's is given
/// to the count.
#[inline(never)]
fn l3_express_loop<const C: bool>(
    l: &pipeline::L3Express<'_>,
    burst: &mut Burst<BURST_SIZE>,
    e: &WorkerEntries,
) -> usize {
    // The data prefetch of Burst::update_while, which has no index.
    const AHEAD: usize = 4;
    let frames = burst.as_mut_slice();
    for m in frames.iter().take(AHEAD) {
        m.prefetch_data();
    }
    let mut run = L3Run {
        route: l.no_route(),
        start: 0,
        bytes: 0,
    };
    let mut n = frames.len();
    for i in 0..frames.len() {
        if let Some(m) = frames.get(i + AHEAD) {
            m.prefetch_data();
        }
        let Some(entry) = l.entry(&frames[i]) else {
            n = i;
            break;
        };
        if entry != run.route.entry() && !l3_new_route::<C>(l, e, &mut run, i, entry) {
            n = i;
            break;
        }
        let m = &mut frames[i];
        let rss = m.rss_hash();
        if !l.encap_on(&run.route, m, rss) {
            n = i;
            break;
        }
        if C {
            run.bytes += m.pkt_len() as u64;
        }
    }
    if C && n > run.start {
        e.encap(run.route.counter(), (n - run.start) as u64, run.bytes);
    }
    n
}

/// The frames [`l3_express_loop`] took on one route: from index `start`,
/// `bytes` in all (encapsulated).
struct L3Run<'t> {
    route: pipeline::L3Route<'t>,
    start: usize,
    bytes: u64,
}

/// Frame `at` lands on another route entry than the run's (the frames
/// before it all encapsulated): the entry's route becomes the run's, the
/// run so far counted under its tunnel (`C`). False when the express tier
/// does not take the entry's frames. Not inlined: once per entry change,
/// and the loop's registers stay its own.
#[inline(never)]
fn l3_new_route<'t, const C: bool>(
    l: &pipeline::L3Express<'t>,
    e: &WorkerEntries,
    run: &mut L3Run<'t>,
    at: usize,
    entry: u32,
) -> bool {
    let Some(route) = l.route(entry) else {
        return false;
    };
    if C && at > run.start {
        e.encap(run.route.counter(), (at - run.start) as u64, run.bytes);
    }
    *run = L3Run {
        route,
        start: at,
        bytes: 0,
    };
    true
}

/// The decap express tier (`pipeline::underlay_express`) over the front
/// of `burst`: the packets it decapsulated in place move to their access
/// ports' TX buffers, a run of one key at a time, counted per (VNI,
/// tunnel) into `run` when `counting` (`WorkerEntries::counting`, chosen
/// once per burst); returns how many. `keys`: the worker's, one per packet
/// taken (stale past those). Not inlined, as [`l2_express_front`].
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn underlay_express_front(
    t: &Tables,
    burst: &mut Burst<BURST_SIZE>,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    run: &mut DecapRun,
    lat: &mut Residence,
    keys: &mut [pipeline::ExpressKey; BURST_SIZE],
    ahead: Option<&mut pipeline::UnderlayAhead>,
) -> u64 {
    // One loop per kind of gateway and per counting mode, each a function
    // of its own: with L2 VNIs the Ethernet pattern first, without them
    // the L3 pattern (no call per packet). A burst that starts with an
    // IPv6 frame: the IPv6 tier first and in line (an IPv6 underlay's
    // loop; the order changes no verdict).
    let v6_first = burst
        .as_slice()
        .first()
        .is_some_and(|m| m.data().get(12..14) == Some(&[0x86, 0xdd][..]));
    // The express tier of each kind of burst, for `$run!(counting, tier)`.
    macro_rules! by_kind {
        ($run:ident) => {
            match (v6_first, t.decap.has_ethernet_pattern(), e.counting()) {
                (true, _, true) => $run!(true, pipeline::underlay_express_v6::<true, _, _>),
                (true, _, false) => $run!(false, pipeline::underlay_express_v6::<false, _, _>),
                (false, true, true) => $run!(true, pipeline::underlay_express_key::<true, _, _>),
                (false, true, false) => $run!(false, pipeline::underlay_express_key::<false, _, _>),
                (false, false, true) => $run!(true, pipeline::underlay_express_ip::<true, _, _>),
                (false, false, false) => $run!(false, pipeline::underlay_express_ip::<false, _, _>),
            }
        };
    }
    // Large tables: the look-ahead's loop, each frame's entry as the
    // look-ahead found it, counted after the loop, sent by port.
    if let Some(a) = ahead {
        macro_rules! ahead {
            ($c:literal, $express:path) => {
                underlay_ahead_front::<$c>(t, a, burst, tx, c, e, lat, |m: &mut Mbuf, h| {
                    $express(t, m, h)
                })
            };
        }
        return by_kind!(ahead) as u64;
    }
    macro_rules! keyed {
        ($c:literal, $express:path) => {
            express_keys::<$c>(burst, keys, |m: &mut Mbuf| $express(t, m, ()))
        };
    }
    let (n, bytes) = by_kind!(keyed);
    if e.counting() {
        send_keyed::<true>(t, burst, &keys[..n], bytes, tx, c, e, run, lat);
    } else {
        send_keyed::<false>(t, burst, &keys[..n], bytes, tx, c, e, run, lat);
    }
    n as u64
}

/// The decap express tier over the front of `burst` with the look-ahead
/// (a VNI table of [`pipeline::AHEAD_MIN_ENTRIES`] or more): before each
/// frame, the frame [`pipeline::PROBE_DISTANCE`] places on is probed (the
/// first ones were before the loop); each frame's entry comes from its
/// own probe (`UnderlayAhead::hint`), not a second lookup. At many VNIs
/// nearly every packet is a run of its own, so each packet's counter
/// slots are noted as it is taken (when `C`) and its VNI's cell
/// prefetched, and the packets are counted after the loop, one by one
/// (counted at once, the cells' misses stalled the loop: 0.85 of the
/// rate); the packets leave by runs of one access port, not of one
/// entry: at tens of thousands of VNIs on one port, the whole burst at
/// once. The same packets, bytes, ports, order and counts as
/// [`express_keys`] and [`send_keyed`]. Returns how many it took.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn underlay_ahead_front<const C: bool>(
    t: &Tables,
    a: &mut pipeline::UnderlayAhead,
    burst: &mut Burst<BURST_SIZE>,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    lat: &mut Residence,
    mut express: impl FnMut(&mut Mbuf, Option<VniHint>) -> Option<pipeline::ExpressKey>,
) -> usize {
    let mut ports = [0u16; BURST_SIZE];
    // Per packet taken: its VNI's and its tunnel's counter slots, and its
    // length as delivered.
    let mut slots = [(NO_SLOT, NO_SLOT, 0u32); BURST_SIZE];
    let mut i = 0;
    let n = burst.update_while(|m| {
        let (Some(port), Some(slot)) = (ports.get_mut(i), slots.get_mut(i)) else {
            return false;
        };
        if m.flow_mark().is_some() {
            return false;
        }
        a.probe(t, i + pipeline::PROBE_DISTANCE);
        let Some(k) = express(m, a.hint(i)) else {
            return false;
        };
        i += 1;
        *port = match t.vnis.entry_at(k.entry()) {
            Some(out) => {
                if C {
                    // An mbuf's length is 32 bits (`pkt_len`).
                    *slot = (out.counter, k.tunnel_of(out), m.pkt_len() as u32);
                    e.prefetch_vni(out.counter);
                }
                out.port
            }
            // Never: the key's entry is from these tables. Not a port:
            // a counted drop when sent.
            None => u16::MAX,
        };
        true
    });
    if C {
        for &(vni, tunnel, len) in slots.get(..n).unwrap_or_default() {
            e.decap(vni, tunnel, 1, u64::from(len));
        }
    }
    send_ports(burst, ports.get(..n).unwrap_or_default(), tx, c, lat);
    n
}

/// The front of `burst`, `ports` one per packet: each run of one port
/// moved to that port's TX buffer at once (a port not ours: counted
/// drops).
#[inline(always)]
fn send_ports(
    burst: &mut Burst<BURST_SIZE>,
    ports: &[u16],
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    lat: &mut Residence,
) {
    let Some(&first) = ports.first() else {
        return;
    };
    if ports.iter().all(|&p| p == first) {
        // The usual burst: every packet to one access port.
        send_front_to(tx.get_mut(usize::from(first)), c, lat, burst, ports.len());
        return;
    }
    let mut front = burst.front_runs();
    let mut i = 0;
    while let Some(&port) = ports.get(i) {
        let len = ports
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&p| p == port)
            .count();
        i += len;
        send_run_to(tx.get_mut(usize::from(port)), c, lat, &mut front, len);
    }
}

/// Runs the decap express tier `express` over the front of `burst` while
/// it takes packets (not marked by an rte_flow rule), each one's key into
/// `keys` (one store per packet: the port and the counter slots are found
/// after the loop, once per run of equal keys, see `pipeline::ExpressKey`);
/// returns how many it took and, when counting (`C`), the sum of their
/// lengths as delivered: added here, where the trimmed length was just
/// written (one add per packet), so that a burst of one run (the usual
/// case) needs no second pass over its mbufs (`send_keyed`).
#[inline(never)]
fn express_keys<const C: bool>(
    burst: &mut Burst<BURST_SIZE>,
    keys: &mut [pipeline::ExpressKey; BURST_SIZE],
    mut express: impl FnMut(&mut Mbuf) -> Option<pipeline::ExpressKey>,
) -> (usize, u64) {
    let (mut taken, mut bytes) = (0, 0u64);
    let n = burst.update_while(|m| {
        let Some(k) = keys.get_mut(taken) else {
            return false;
        };
        if m.flow_mark().is_some() {
            return false;
        }
        let Some(x) = express(m) else {
            return false;
        };
        *k = x;
        taken += 1;
        if C {
            bytes += m.pkt_len() as u64;
        }
        true
    });
    (n, bytes)
}

/// The front of `burst` the decap express tier took, `keys` one per
/// packet, `all_bytes` the sum of their lengths (when counting): each run
/// of equal keys (one VNI entry, one source) goes to its access port's TX
/// buffer at once and, when counting (`C`), counts once into `run`: its
/// packets, the sum of their lengths, its VNI's slot and the tunnel of its
/// source, found once per run.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn send_keyed<const C: bool>(
    t: &Tables,
    burst: &mut Burst<BURST_SIZE>,
    keys: &[pipeline::ExpressKey],
    all_bytes: u64,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    run: &mut DecapRun,
    lat: &mut Residence,
) {
    let Some(&first) = keys.first() else {
        return;
    };
    let len = pipeline::ExpressKey::run_len(keys);
    if len == keys.len() {
        // The usual burst: one run, every packet of one VNI and source.
        send_run_of::<C>(t, first, len, all_bytes, tx, c, e, run, lat, burst);
        return;
    }
    // Else the runs leave the burst's front through one cursor: at a
    // million VNIs every packet is a run of its own, and a shift of the
    // burst per run cost more than the rest of the run.
    let mut front = burst.front_runs();
    let mut i = 0;
    while let Some(&key) = keys.get(i) {
        let len = pipeline::ExpressKey::run_len(keys.get(i..).unwrap_or_default());
        i += len;
        let out = t.vnis.entry_at(key.entry());
        if len == 1 {
            // A packet of its own (at many VNIs, each one): counted and
            // sent as the per-packet tier does.
            let Some(m) = front.take_one() else {
                break; // Never: the keys are the front's.
            };
            // Into the cells at once, not through `run`: at many VNIs
            // every such packet would switch the run (a call and a
            // flush each); the run's own packets are counted when it
            // flushes, and the sums are the same.
            if C {
                if let Some(out) = out {
                    e.decap(out.counter, key.tunnel_of(out), 1, m.pkt_len() as u64);
                }
            }
            // No such entry (never): a counted drop in `send`.
            send(tx, c, lat, out.map_or(u16::MAX, |o| o.port), m);
            continue;
        }
        if C {
            if let Some(out) = out {
                let bytes = front.peek(len).iter().map(|m| m.pkt_len() as u64).sum();
                run.add_run(e, out.counter, key.tunnel_of(out), len as u64, bytes);
            }
        }
        let b = out.and_then(|o| tx.get_mut(usize::from(o.port)));
        send_run_to(b, c, lat, &mut front, len);
    }
}

/// The whole front of `burst` the decap express tier took as one run of
/// `len` packets with key `key` and `bytes` bytes: counted once (when
/// `C`) and moved to its access port's TX buffer at once.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn send_run_of<const C: bool>(
    t: &Tables,
    key: pipeline::ExpressKey,
    len: usize,
    bytes: u64,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    run: &mut DecapRun,
    lat: &mut Residence,
    burst: &mut Burst<BURST_SIZE>,
) {
    let out = t.vnis.entry_at(key.entry());
    if C {
        if let Some(out) = out {
            run.add_run(e, out.counter, key.tunnel_of(out), len as u64, bytes);
        }
    }
    let b = out.and_then(|o| tx.get_mut(usize::from(o.port)));
    send_front_to(b, c, lat, burst, len);
}

/// The stitch express tier (`pipeline::stitch_express`) over the front of
/// `burst`: the frames it decapsulated and re-encapsulated in place move
/// to the underlay port's TX buffer; returns how many. When the worker
/// counts per entry, the frames count per run (`pipeline::StitchRun`: the
/// same VNI, outer source and template as the frame before, two compares
/// and two adds per frame): decapsulated under their VNI and source
/// tunnel, encapsulated under their tunnel out, once per run, the last
/// run after the loop. Not inlined, as [`l2_express_front`].
#[inline(never)]
fn stitch_express_front(
    t: &Tables,
    burst: &mut Burst<BURST_SIZE>,
    tx: &mut [TxBuffer],
    c: &WorkerCounters,
    e: &WorkerEntries,
    lat: &mut Residence,
    cache: &mut pipeline::StitchCache,
) -> u64 {
    let mut to_vxlan = 0u64;
    let s = if e.counting() {
        let mut run = pipeline::StitchRun::default();
        let s = burst.update_while(|m| {
            if m.flow_mark().is_some() {
                return false;
            }
            let Some(x) = pipeline::stitch_express::<true, _>(t, m, cache) else {
                return false;
            };
            to_vxlan += u64::from(x.to_vxlan);
            run.add(t, e, cache.last(), m.pkt_len() as u64);
            true
        });
        run.flush(t, e);
        s
    } else {
        burst.update_while(|m| {
            if m.flow_mark().is_some() {
                return false;
            }
            pipeline::stitch_express::<false, _>(t, m, cache)
                .map(|x| to_vxlan += u64::from(x.to_vxlan))
                .is_some()
        })
    };
    if s > 0 {
        if to_vxlan > 0 {
            c.vxlan_encap.add(to_vxlan);
        }
        match tx.get_mut(usize::from(t.underlay_port)) {
            Some(b) => send_front(b, c, lat, burst, s),
            None => {
                burst.free_first(s);
                c.drops[DropReason::TxFull.index()].add(s as u64);
            }
        }
    }
    s as u64
}

/// The L2 access express tier (`pipeline::AccessExpress`) over the front
/// of `burst`: the frames it encapsulated in place move to `out` (the
/// underlay port's TX buffer); returns how many. Not inlined: a loop with
/// registers of its own, out of the worker loop's way.
#[inline(never)]
fn l2_express_front(
    l: &pipeline::AccessExpress<'_>,
    burst: &mut Burst<BURST_SIZE>,
    out: &mut TxBuffer,
    c: &WorkerCounters,
    e: &WorkerEntries,
    lat: &mut Residence,
) -> usize {
    // One loop per underlay family (and for IPv6 with the UDP checksum
    // summed in software): no dispatch on the template per frame.
    let n = if let Some(f) = l.fast::<false>() {
        l2_express_loop(l, f, burst)
    } else if let Some(f) = l.fast_summed() {
        l2_express_loop(l, f, burst)
    } else if let Some(f) = l.fast::<true>() {
        l2_express_loop(l, f, burst)
    } else {
        0
    };
    if n > 0 {
        // The run's bytes summed after the loop, which keeps a register
        // for the tier. One template: the run counts once.
        if e.counting() {
            let bytes = burst.as_slice()[..n]
                .iter()
                .map(|m| m.pkt_len() as u64)
                .sum();
            e.encap(l.counter(), n as u64, bytes);
        }
        if l.is_vxlan() {
            c.vxlan_encap.add(n as u64);
        }
        send_front(out, c, lat, burst, n);
    }
    n
}

/// With a MAC table large enough for the look-ahead: the burst's leading
/// frames (from its frame `from` on, the express tier having taken those
/// before) that the look-ahead kept a template for and the fast tier
/// takes, encapsulated in place, each counted under its own tunnel, and
/// moved to the underlay port's TX buffer `out` together (what
/// [`l2_express_front`] does for one cached MAC). With a million MACs
/// every frame has another one, and one by one each paid the per-packet
/// loop's dispatch and a TX buffer push.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn l2_ahead_front(
    t: &Tables,
    a: &pipeline::AccessAhead,
    from: usize,
    burst: &mut Burst<BURST_SIZE>,
    out: &mut TxBuffer,
    c: &WorkerCounters,
    e: &WorkerEntries,
    lat: &mut Residence,
) -> usize {
    let mut i = from;
    let mut vxlan = 0u64;
    let n = burst.update_while(|m| {
        let rss = m.rss_hash();
        let Some(x) = a.encap(t, i, m, rss) else {
            return false;
        };
        e.encap(x.counter, 1, m.pkt_len() as u64);
        vxlan += u64::from(x.vxlan);
        i += 1;
        true
    });
    if vxlan > 0 {
        c.vxlan_encap.add(vxlan);
    }
    if n > 0 {
        send_front(out, c, lat, burst, n);
    }
    n
}

/// One fast case's express loop over the front of `burst` (the frames
/// encapsulated in place): a function of its own per case, so that each
/// loop's registers are allocated for it alone (with the three in one
/// function, adding the IPv6 loop with the checksum summed in software
/// moved the IPv4 loop's registers).
#[inline(never)]
fn l2_express_loop<const V6: bool, const SUM: bool>(
    l: &pipeline::AccessExpress<'_>,
    f: FastEthernet<'_, V6, SUM>,
    burst: &mut Burst<BURST_SIZE>,
) -> usize {
    burst.update_while(|m| {
        let rss = m.rss_hash();
        l.encap_with(f, m, rss).is_some()
    })
}

/// An access frame the express tier did not take; returns 1 when it was
/// encapsulated (unicast), for the burst's encap count.
#[inline(never)]
fn access_general(
    t: &Tables,
    port: u16,
    mut m: Mbuf,
    rss: Option<u32>,
    cache: &mut pipeline::MacCache,
    sink: &mut Sink<'_>,
) -> u64 {
    let outcome = pipeline::access_with_cache(t, port, &mut m, rss, cache);
    // Once a template was chosen, the frame counts under its tunnel.
    let Some(id) = cache.chosen else {
        return sink.act(t, outcome, m, rss).0;
    };
    let len = m.pkt_len() as u64;
    sink.io.tunnel = slot_of(t, id);
    let (en, _) = sink.act(t, outcome, m, rss);
    if matches!(outcome, Outcome::Encapped(_) | Outcome::EncappedVxlan(_)) {
        sink.io.e.encap(sink.io.tunnel, 1, len);
    }
    sink.io.tunnel = NO_SLOT;
    en
}

/// The counter slot of template `id`'s tunnel.
#[inline]
fn slot_of(t: &Tables, id: u32) -> u32 {
    t.templates
        .get(id as usize)
        .map_or(NO_SLOT, |x| x.counter())
}

fn mark_access(t: &Tables, is_access: &mut [bool; MAX_PORTS]) {
    *is_access = [false; MAX_PORTS];
    for &p in &t.access_ports {
        if let Some(a) = is_access.get_mut(p as usize) {
            *a = true;
        }
    }
}

#[inline]
fn flush(b: &mut TxBuffer, c: &WorkerCounters, lat: &mut Residence, port: usize) {
    if b.is_empty() {
        return;
    }
    let buffered = b.len();
    let (sent, dropped) = b.flush();
    if lat.enabled() {
        lat.flushed(port, buffered, sent, dpdk::tsc_now());
    }
    c.ports[port].tx_packets.add(sent as u64);
    if dropped > 0 {
        c.ports[port].tx_dropped.add(dropped as u64);
        c.drops[DropReason::TxFull.index()].add(dropped as u64);
    }
}

#[inline]
fn send(tx: &mut [TxBuffer], c: &WorkerCounters, lat: &mut Residence, port: u16, m: Mbuf) {
    let Some(b) = tx.get_mut(port as usize) else {
        c.drops[DropReason::TxFull.index()].add(1);
        return;
    };
    if b.is_full() {
        flush(b, c, lat, port as usize);
    }
    if b.push(m).is_err() {
        c.drops[DropReason::TxFull.index()].add(1);
    }
}

/// [`send`] to `b` for the first `n` mbufs of `burst`, moved together.
#[inline]
fn send_front(
    b: &mut TxBuffer,
    c: &WorkerCounters,
    lat: &mut Residence,
    burst: &mut Burst<BURST_SIZE>,
    mut n: usize,
) {
    while n > 0 {
        if b.is_full() {
            let port = usize::from(b.port());
            flush(b, c, lat, port);
        }
        n -= b.append_front(burst, n);
    }
}

/// [`send_front`] to `b`, a port's TX buffer; `None`, not a port of ours
/// (never for a table's access port): the mbufs freed as counted drops.
#[inline]
fn send_front_to(
    b: Option<&mut TxBuffer>,
    c: &WorkerCounters,
    lat: &mut Residence,
    burst: &mut Burst<BURST_SIZE>,
    n: usize,
) {
    match b {
        Some(b) => send_front(b, c, lat, burst, n),
        None => {
            burst.free_first(n);
            c.drops[DropReason::TxFull.index()].add(n as u64);
        }
    }
}

/// [`send_run`] to `b`, or counted drops, as [`send_front_to`].
#[inline]
fn send_run_to(
    b: Option<&mut TxBuffer>,
    c: &WorkerCounters,
    lat: &mut Residence,
    front: &mut FrontRuns<'_, BURST_SIZE>,
    n: usize,
) {
    match b {
        Some(b) => send_run(b, c, lat, front, n),
        None => {
            front.free(n);
            c.drops[DropReason::TxFull.index()].add(n as u64);
        }
    }
}

/// [`send_front`] for the next `n` mbufs of a burst's front cursor.
#[inline]
fn send_run(
    b: &mut TxBuffer,
    c: &WorkerCounters,
    lat: &mut Residence,
    front: &mut FrontRuns<'_, BURST_SIZE>,
    mut n: usize,
) {
    while n > 0 {
        if b.is_full() {
            let port = usize::from(b.port());
            flush(b, c, lat, port);
        }
        match b.append_run(front, n) {
            // Nothing left at the cursor (never: the keys are the front's).
            0 => return,
            k => n -= k,
        }
    }
}

/// Encapsulates `inner` (a chained frame copied out, that one mbuf holds:
/// see [`segment_path`]) from one fresh mbuf: whether it left (counted
/// under template `id`'s tunnel, or its drop under the reason).
fn linear_copy(
    t: &Tables,
    io: &mut Io<'_>,
    id: u32,
    tpl: &crate::tunnel::EncapTemplate,
    inner: &[u8],
    rss: Option<u32>,
) -> bool {
    let Some(mut s) = io.sh.pool.alloc() else {
        return io.dropped(DropReason::SegmentNoMbuf, 1);
    };
    let Some(out) = s.set_len(inner.len()) else {
        return io.dropped(DropReason::EncapNoRoom, 1);
    };
    out.copy_from_slice(inner);
    match encap(tpl, &mut s, rss) {
        Ok(()) => {
            io.count_encap(t, id, &s);
            io.send(t.underlay_port, s);
            true
        }
        Err(EncapError::NoHeadroom) => io.dropped(DropReason::EncapNoRoom, 1),
        Err(EncapError::TooBig { .. }) => io.dropped(DropReason::EncapTooBig, 1),
        Err(EncapError::BadInner) => io.dropped(DropReason::InnerNotIp, 1),
    }
}

/// Whether template `id` is VXLAN (its frames are counted apart).
fn flood_copy_is_vxlan(t: &Tables, id: u32) -> bool {
    t.templates
        .get(id as usize)
        .is_some_and(|tpl| tpl.encapsulation() == crate::wire::Encapsulation::Vxlan)
}
