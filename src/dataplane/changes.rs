//! The tables the workers read, changed entry by entry.
//!
//! The control thread never rebuilds [`Tables`] for a learned MAC, a
//! resolved neighbour or a reload. It keeps a [`Planner`]: what every entry
//! should be (routes, static and learned MACs, flood lists, decap VNIs) and
//! the encap templates they use, each with a reference count. A change of
//! one entry becomes one or a few [`Change`]s (a template written into a
//! free slot, then the entry pointing at it); [`Tables::apply`] carries a
//! change out in O(1) (hash maps, a slot in the template array, at most
//! the first-stage blocks one IPv4 prefix covers), whatever the table size.
//! [`super::publish::Publisher`] makes a batch of changes visible to the
//! workers at once (left-right: two copies of the tables).
//!
//! Templates: a slab. Ids come from a free list and go back to it when no
//! route, MAC or flood list uses the template any more. An id freed in one
//! batch may be written again in the next, or later in the same batch:
//! changes are only ever applied to the copy no worker reads, and each
//! worker's cache of a lookup is keyed by the tables' generation, which
//! every publication changes.
//!
//! An entry whose underlay next hop is not resolved yet points at no
//! template (`None`, as [`Tables::build`] makes it); the planner remembers
//! such entries per next hop and points them at their template once the
//! neighbour is resolved. A neighbour whose MAC changes rewrites the
//! templates through it in place: the entries keep their ids.
//!
//! What is truly global (the VTEP, the segments and the L3 access, the
//! option registry, limits) is not changed entry by entry: such a change
//! builds new tables and replaces them whole ([`Change::Replace`]). The
//! decapsulator's fast-tier patterns and options layout depend on entries
//! (which payloads the decap VNIs carry, the options the tunnels send):
//! [`Planner::apply_diff`] compares them after every batch of entry
//! changes and sends them anew ([`Change::DecapFast`]) when they differ,
//! in the same batch as the entries.
use std::collections::HashMap;
use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use super::stats::{EntrySlots, WorkerEntries};
use super::tables::{
    decap_out, make_template, underlay_hop, BuildInputs, DecapFast, FlowIdVariant, Lpm, MacEntry,
    Tables, TemplateId, TemplateKey, VniOut,
};
use crate::config::{self, Config, IpPrefix, Payload};
use crate::tunnel::{EncapTemplate, PayloadKind, TemplateLine, TxOffloadCaps};
use crate::wire::geneve::Vni;

/// How many planned changes a start holds before it carries them out
/// (see `Planner::start`). A handful in tests, whose tables are small: so
/// that every start they make is carried out in many batches.
const START_BATCH: usize = if cfg!(test) { 3 } else { 1024 };

/// One change to the tables the workers read.
#[derive(Clone)]
pub enum Change {
    /// Writes encap template `id` (a new one, or a changed tunnel or next
    /// hop) and its flow-id variant.
    Template {
        id: TemplateId,
        template: Box<EncapTemplate>,
        variant: Option<FlowIdVariant>,
    },
    /// Adds, changes (`Some`) or removes (`None`) the L3 route `addr/len`;
    /// its value is the template (`None` inside: next hop unresolved).
    Route {
        addr: IpAddr,
        len: u8,
        target: Option<Option<TemplateId>>,
    },
    /// Adds, changes or removes a static or learned MAC of a segment.
    Mac {
        segment: usize,
        mac: [u8; 6],
        entry: Option<MacEntry>,
    },
    /// Adds, changes or removes the decap entry of a VNI.
    Vni { vni: u32, out: Option<Box<VniOut>> },
    /// The templates a segment floods to, in the configuration's order.
    Flood {
        segment: usize,
        targets: Vec<Option<TemplateId>>,
    },
    /// A neighbour resolved or changed its MAC.
    Neighbor { ip: IpAddr, mac: [u8; 6] },
    /// An inner destination's neighbour entry expired: frames to it are
    /// `next_hop_unresolved` and ask for it again.
    NeighborGone(IpAddr),
    /// The decapsulator's fast-tier patterns and options layout follow
    /// the decap VNIs and tunnels (the rest of it is global).
    DecapFast(Box<DecapFast>),
    /// Everything at once: something global changed.
    Replace(Box<Tables>),
}

impl Tables {
    /// Carries out one change (never called on tables a worker reads).
    pub fn apply(&mut self, c: Change) {
        match c {
            Change::Template {
                id,
                template,
                variant,
            } => {
                let i = id as usize;
                let line = TemplateLine::of(&template, variant.is_some());
                if i < self.templates.len() {
                    self.templates[i] = *template;
                } else {
                    // Ids are handed out densely, so this is a push.
                    self.templates.reserve_huge(i + 1 - self.templates.len());
                    self.templates.resize(i + 1, (*template).clone());
                }
                if self.lines.len() <= i {
                    self.lines.reserve_huge(i + 1 - self.lines.len());
                    self.lines.resize(i + 1, line);
                }
                self.lines[i] = line;
                if self.flow_variants.len() <= i {
                    self.flow_variants.resize(i + 1, None);
                }
                self.flow_variants[i] = variant;
            }
            Change::Route { addr, len, target } => {
                let Some(l3) = self.l3.as_mut() else { return };
                let (lpm, bits): (&mut Lpm, u128) = match addr {
                    IpAddr::V4(a) => (&mut l3.routes_v4, u128::from(u32::from(a))),
                    IpAddr::V6(a) => (&mut l3.routes_v6, u128::from(a)),
                };
                match target {
                    Some(v) => lpm.insert(bits, len, v),
                    None => {
                        lpm.remove(bits, len);
                    }
                }
            }
            Change::Mac {
                segment,
                mac,
                entry,
            } => {
                let Some(s) = self.segments.get_mut(segment) else {
                    return;
                };
                match entry {
                    Some(e) => {
                        s.macs.insert(mac, e);
                    }
                    None => {
                        s.macs.remove(&mac);
                    }
                }
            }
            Change::Vni { vni, out } => match out {
                Some(o) => self.vnis.insert(vni, *o),
                None => {
                    self.vnis.remove(vni);
                }
            },
            Change::Flood { segment, targets } => {
                if let Some(s) = self.segments.get_mut(segment) {
                    s.flood = targets;
                }
            }
            Change::Neighbor { ip, mac } => {
                self.neighbors.insert(ip, mac);
            }
            Change::NeighborGone(ip) => {
                self.neighbors.remove(&ip);
            }
            Change::DecapFast(f) => {
                self.decap = f.on(crate::tunnel::Decapsulator::new(
                    self.decap.config().clone(),
                ));
            }
            Change::Replace(t) => {
                let generation = self.generation;
                *self = *t;
                self.generation = generation;
            }
        }
    }
}

/// What points at a template whose next hop is not resolved yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Referrer {
    Route(IpAddr, u8),
    Mac(usize, [u8; 6]),
    Flood(usize),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// `None` while the next hop is unresolved.
    id: Option<TemplateId>,
    /// The flow-id variant's own template.
    variant: Option<(TemplateId, u8)>,
    refs: u32,
    hop: IpAddr,
}

/// The MAC entry a (segment, MAC) should have: a static entry wins over a
/// learned one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MacWant {
    fixed: Option<IpAddr>,
    learned: Option<IpAddr>,
}

impl MacWant {
    fn effective(&self) -> Option<(IpAddr, bool)> {
        match (self.fixed, self.learned) {
            (Some(r), _) => Some((r, false)),
            (None, Some(r)) => Some((r, true)),
            (None, None) => None,
        }
    }
}

/// The control thread's side of the tables: what every entry should be,
/// and the changes that make the workers' tables so.
pub struct Planner {
    port_ids: Vec<u16>,
    port_macs: Vec<[u8; 6]>,
    tx_caps: TxOffloadCaps,
    flows: std::sync::Arc<super::flows::FlowTable>,
    /// Resolved neighbours (and next hops with a static MAC).
    neighbors: HashMap<IpAddr, [u8; 6]>,
    slots: FxHashMap<TemplateKey, Slot>,
    free: Vec<TemplateId>,
    next_id: TemplateId,
    /// Every template key by its underlay next hop.
    by_hop: FxHashMap<IpAddr, FxHashSet<TemplateKey>>,
    /// Entries waiting for a next hop to resolve.
    waiting: FxHashMap<IpAddr, Vec<Referrer>>,
    /// By [`route_key`].
    routes: FxHashMap<RouteKey, TemplateKey>,
    macs: FxHashMap<(usize, [u8; 6]), MacWant>,
    flood: Vec<Vec<TemplateKey>>,
    /// Addresses to resolve (ARP/ND), drained by the control thread.
    want: Vec<IpAddr>,
    /// Entries left out because their template could not be made.
    pub errors: Vec<String>,
    out: Vec<Change>,
    /// Counter slots of tunnels and decap VNIs, written into templates
    /// and decap entries (sized at the first `start`).
    counters: EntrySlots,
    /// The decapsulator's fast-tier inputs the tables have now.
    decap_fast: DecapFast,
}

/// A route's prefix as the planner's map keys it ([`route_key`]).
type RouteKey = ([u32; 4], u8);

/// The address as four words and the length, an IPv4 length moved past
/// every IPv6 one so that the two families never meet. Hashed as one run
/// of bytes: a million routes hashed field by field as `(IpAddr, u8)`
/// probed the map hundreds of instructions deep each. Words, not a
/// `u128`, whose alignment would add 20 bytes to every slot of the map.
fn route_key(addr: IpAddr, len: u8) -> RouteKey {
    let (n, len) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), len.wrapping_add(129)),
        IpAddr::V6(a) => (u128::from(a), len),
    };
    let w = |i: u32| (n >> (32 * i)) as u32;
    ([w(3), w(2), w(1), w(0)], len)
}

fn route_kind(a: IpAddr) -> PayloadKind {
    match a {
        IpAddr::V4(_) => PayloadKind::Ipv4,
        IpAddr::V6(_) => PayloadKind::Ipv6,
    }
}

impl Planner {
    pub fn new(
        port_ids: &[u16],
        port_macs: &[[u8; 6]],
        tx_caps: TxOffloadCaps,
        flows: std::sync::Arc<super::flows::FlowTable>,
    ) -> Planner {
        Planner {
            port_ids: port_ids.to_vec(),
            port_macs: port_macs.to_vec(),
            tx_caps,
            flows,
            neighbors: HashMap::new(),
            slots: FxHashMap::default(),
            free: Vec::new(),
            next_id: 0,
            by_hop: FxHashMap::default(),
            waiting: FxHashMap::default(),
            routes: FxHashMap::default(),
            macs: FxHashMap::default(),
            flood: Vec::new(),
            want: Vec::new(),
            errors: Vec::new(),
            out: Vec::new(),
            counters: EntrySlots::new(0, 0),
            decap_fast: DecapFast::default(),
        }
    }

    /// The counter slots (read them with [`EntrySlots::read`]).
    pub fn counter_slots(&self) -> &EntrySlots {
        &self.counters
    }

    /// Gives the tunnels and decap VNIs of `cfg` counter slots before
    /// [`start`](Self::start) or [`apply_diff`](Self::apply_diff) plans
    /// them (the first call sizes the arrays); `generation` is the next
    /// one the publisher makes (see [`EntrySlots::sync`]).
    pub fn sync_counters(&mut self, cfg: &Config, generation: u64) {
        // Sized once: `metrics.entry_counters` counts as read at start.
        if self.counters.capacity() == (0, 0) && !self.counters.is_off() {
            self.counters = EntrySlots::for_config(cfg);
        }
        self.counters.sync(cfg, generation);
    }

    /// [`sync_counters`](Self::sync_counters) for what `diff` changed only
    /// (see [`EntrySlots::sync_changed`]).
    pub fn sync_counters_changed(&mut self, cfg: &Config, diff: &ConfigDiff, generation: u64) {
        if self.counters.capacity() == (0, 0) && !self.counters.is_off() {
            return self.sync_counters(cfg, generation);
        }
        self.counters
            .sync_changed(cfg, &diff.tunnels, &diff.decap, generation);
    }

    /// Frees retired counter slots once every worker reads generation
    /// `read` or later (see [`EntrySlots::settle`]); the tunnels and VNIs
    /// that waited for one get theirs, written into their templates and
    /// decap entries (changes for the next batch). True when any did.
    pub fn settle_counters(&mut self, cfg: &Config, read: u64, workers: &[WorkerEntries]) -> bool {
        let (tunnels, decap) = self.counters.settle(read, workers);
        if tunnels.is_empty() && decap.is_empty() {
            return false;
        }
        self.apply_diff(
            cfg,
            &ConfigDiff {
                tunnels,
                decap,
                ..ConfigDiff::default()
            },
        );
        true
    }

    /// The counter slot of template key `key`'s tunnel.
    fn counter_slot(&self, key: TemplateKey) -> u32 {
        let (e, vni) = super::stitch::from_vni_key(key.1);
        self.counters
            .tunnel_slot_for(key.0, vni, e == crate::wire::Encapsulation::Vxlan)
    }

    /// Resolved neighbours.
    pub fn neighbors(&self) -> &HashMap<IpAddr, [u8; 6]> {
        &self.neighbors
    }

    /// Templates in use.
    pub fn templates(&self) -> usize {
        self.slots.len()
    }

    /// The whole tables of `cfg` with the MACs `learned` so far, made
    /// entry by entry on the global skeleton (start-up, and a reload that
    /// changes something global). Forgets every entry planned before;
    /// keeps the resolved neighbours.
    pub fn start(
        &mut self,
        cfg: &Config,
        learned: impl Iterator<Item = ((usize, [u8; 6]), IpAddr)>,
    ) -> Result<Tables, String> {
        for nh in &cfg.vtep.next_hops {
            if let Some(m) = nh.mac {
                self.neighbors.insert(nh.via, m);
            }
        }
        let mut t = Tables::skeleton(
            cfg,
            &BuildInputs {
                port_ids: &self.port_ids,
                port_macs: &self.port_macs,
                neighbors: &self.neighbors,
                learned: &HashMap::new(),
                generation: 0,
                flows: self.flows.clone(),
            },
        )?;
        self.want.append(&mut t.unresolved);
        self.decap_fast = DecapFast::of(cfg);
        // Room for the MACs learning may bring, made now: growing a map of
        // a million entries later would hold the control thread up for
        // a rehash of all of it.
        if let Some(l2) = cfg.l2.as_ref().filter(|l| l.learning) {
            let n = cfg.limits.mac_table_size as usize;
            self.macs.reserve(n);
            for s in &mut t.segments {
                s.macs.reserve(n / l2.segments.len().max(1));
            }
        }
        self.slots.clear();
        self.free.clear();
        self.next_id = 0;
        self.by_hop.clear();
        self.waiting.clear();
        self.routes.clear();
        self.macs.clear();
        self.flood.clear();
        self.out.clear();
        let nseg = cfg.l2.as_ref().map_or(0, |l| l.segments.len());
        self.flood = vec![Vec::new(); nseg];
        if let Some(l2) = &cfg.l2 {
            for (si, s) in l2.segments.iter().enumerate() {
                self.set_flood(cfg, si, &s.flood);
                for m in &s.static_macs {
                    self.set_static_mac(cfg, si, m.mac, Some(m.remote));
                    self.apply_planned(&mut t);
                }
            }
        }
        for ((seg, mac), remote) in learned {
            if seg < nseg {
                self.set_learned_mac(cfg, seg, mac, Some(remote));
                self.apply_planned(&mut t);
            }
        }
        if let Some(l3) = &cfg.l3 {
            for r in &l3.routes {
                let tunnel = &cfg.tunnels[r.tunnel];
                self.set_route(cfg, r.prefix, Some((tunnel.remote, tunnel.vni)));
                self.apply_planned(&mut t);
            }
        }
        for d in &cfg.decap {
            self.set_decap(cfg, d.vni, Some(d));
            self.apply_planned(&mut t);
        }
        for (ip, mac) in &self.neighbors {
            t.neighbors.insert(*ip, *mac);
        }
        // Whole: the list (and its room) is not kept for the next changes.
        for c in std::mem::take(&mut self.out) {
            t.apply(c);
        }
        Ok(t)
    }

    /// Carries the changes planned so far out on `t` once there are
    /// [`START_BATCH`] of them: a start at a million entries holds a
    /// batch, not a million planned changes (each a boxed template) beside
    /// the tables they become.
    fn apply_planned(&mut self, t: &mut Tables) {
        if self.out.len() >= START_BATCH {
            for c in self.out.drain(..) {
                t.apply(c);
            }
        }
    }

    /// The changes planned since the last call, in order.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.out)
    }

    /// Next hops to resolve, found since the last call.
    pub fn take_wanted(&mut self) -> Vec<IpAddr> {
        std::mem::take(&mut self.want)
    }

    fn alloc(&mut self) -> TemplateId {
        self.free.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        })
    }

    /// Makes the template of `key` (and its variant) towards `mac` and
    /// writes it into `slot`'s ids (new ones when it has none).
    fn write_template(
        &mut self,
        cfg: &Config,
        key: TemplateKey,
        mac: [u8; 6],
        slot: &mut Slot,
    ) -> Result<(), String> {
        let (mut t, variant) = make_template(cfg, &self.port_macs, key, mac)?;
        t.set_tx_offload(self.tx_caps);
        let counter = self.counter_slot(key);
        t.set_counter(counter);
        let id = match slot.id {
            Some(id) => id,
            None => self.alloc(),
        };
        let variant = match (variant, slot.variant) {
            (Some((mut v, len)), old) => {
                v.set_tx_offload(self.tx_caps);
                v.set_counter(counter);
                let vid = match old {
                    Some((vid, _)) => vid,
                    None => self.alloc(),
                };
                self.out.push(Change::Template {
                    id: vid,
                    template: Box::new(v),
                    variant: None,
                });
                Some((vid, len))
            }
            (None, Some((vid, _))) => {
                self.free.push(vid);
                None
            }
            (None, None) => None,
        };
        self.out.push(Change::Template {
            id,
            template: Box::new(t),
            variant: variant.map(|(template, len)| FlowIdVariant { template, len }),
        });
        slot.id = Some(id);
        slot.variant = variant;
        Ok(())
    }

    /// One more user of `key`'s template: its id, `None` while unresolved.
    fn acquire(
        &mut self,
        cfg: &Config,
        key: TemplateKey,
        by: Referrer,
    ) -> Result<Option<TemplateId>, String> {
        if let Some(s) = self.slots.get_mut(&key) {
            s.refs += 1;
            let (id, hop) = (s.id, s.hop);
            if id.is_none() {
                self.waiting.entry(hop).or_default().push(by);
            }
            return Ok(id);
        }
        let (hop, fixed) = underlay_hop(cfg, key.0);
        let mut slot = Slot {
            id: None,
            variant: None,
            refs: 1,
            hop,
        };
        match fixed.or_else(|| self.neighbors.get(&hop).copied()) {
            Some(mac) => self.write_template(cfg, key, mac, &mut slot)?,
            None => {
                self.want.push(hop);
                self.waiting.entry(hop).or_default().push(by);
            }
        }
        self.slots.insert(key, slot);
        self.by_hop.entry(hop).or_default().insert(key);
        Ok(slot.id)
    }

    /// One user fewer; the last one frees the ids for reuse.
    fn release(&mut self, key: TemplateKey) {
        let Some(s) = self.slots.get_mut(&key) else {
            return;
        };
        s.refs -= 1;
        if s.refs > 0 {
            return;
        }
        let s = *s;
        self.slots.remove(&key);
        self.free.extend(s.id);
        self.free.extend(s.variant.map(|v| v.0));
        if let Some(keys) = self.by_hop.get_mut(&s.hop) {
            keys.remove(&key);
            if keys.is_empty() {
                self.by_hop.remove(&s.hop);
            }
        }
    }

    /// Sets (`Some(remote, vni)`: the tunnel) or removes the route `prefix`.
    pub fn set_route(&mut self, cfg: &Config, prefix: IpPrefix, tunnel: Option<(IpAddr, Vni)>) {
        let k = (prefix.addr, prefix.len);
        let new = tunnel.map(|(r, v)| (r, v.get(), route_kind(prefix.addr)));
        let rk = route_key(k.0, k.1);
        let old = self.routes.get(&rk).copied();
        if old == new {
            return;
        }
        let mut target = None;
        if let Some(nk) = new {
            match self.acquire(cfg, nk, Referrer::Route(k.0, k.1)) {
                Ok(id) => {
                    self.routes.insert(rk, nk);
                    target = Some(id);
                }
                Err(e) => self.errors.push(format!("route {prefix}: {e}")),
            }
        }
        if target.is_none() {
            self.routes.remove(&rk);
        }
        if target.is_some() || old.is_some() {
            self.out.push(Change::Route {
                addr: k.0,
                len: k.1,
                target,
            });
        }
        if let Some(ok) = old {
            self.release(ok);
        }
    }

    /// Sets or removes the static entry of `mac` in segment `seg`.
    pub fn set_static_mac(
        &mut self,
        cfg: &Config,
        seg: usize,
        mac: [u8; 6],
        remote: Option<IpAddr>,
    ) {
        self.set_mac(cfg, seg, mac, |w| w.fixed = remote);
    }

    /// Sets or removes (aged, moved) the learned entry of `mac` in `seg`.
    pub fn set_learned_mac(
        &mut self,
        cfg: &Config,
        seg: usize,
        mac: [u8; 6],
        remote: Option<IpAddr>,
    ) {
        self.set_mac(cfg, seg, mac, |w| w.learned = remote);
    }

    fn set_mac(&mut self, cfg: &Config, seg: usize, mac: [u8; 6], f: impl FnOnce(&mut MacWant)) {
        let Some(vni) = cfg
            .l2
            .as_ref()
            .and_then(|l| l.segments.get(seg))
            .map(|s| s.vni.get())
        else {
            return;
        };
        let k = (seg, mac);
        let before = self.macs.get(&k).copied().unwrap_or_default();
        let mut after = before;
        f(&mut after);
        if after == MacWant::default() {
            self.macs.remove(&k);
        } else {
            self.macs.insert(k, after);
        }
        let (old, new) = (before.effective(), after.effective());
        if old == new {
            return;
        }
        let mut entry = None;
        if let Some((remote, learned)) = new {
            let key = super::stitch::member_key(cfg, seg, remote).unwrap_or((
                remote,
                vni,
                PayloadKind::Ethernet,
            ));
            match self.acquire(cfg, key, Referrer::Mac(seg, mac)) {
                Ok(template) => entry = Some(MacEntry::new(remote, template, learned)),
                Err(e) => self.errors.push(format!("MAC in segment {seg}: {e}")),
            }
        }
        self.out.push(Change::Mac {
            segment: seg,
            mac,
            entry,
        });
        if let Some((remote, _)) = old {
            self.release(super::stitch::member_key(cfg, seg, remote).unwrap_or((
                remote,
                vni,
                PayloadKind::Ethernet,
            )));
        }
    }

    /// The remotes segment `seg` floods to.
    pub fn set_flood(&mut self, cfg: &Config, seg: usize, remotes: &[IpAddr]) {
        let Some(vni) = cfg
            .l2
            .as_ref()
            .and_then(|l| l.segments.get(seg))
            .map(|s| s.vni.get())
        else {
            return;
        };
        let mut keys = Vec::with_capacity(remotes.len());
        let mut targets = Vec::with_capacity(remotes.len());
        for r in remotes {
            let key =
                super::stitch::member_key(cfg, seg, *r).unwrap_or((*r, vni, PayloadKind::Ethernet));
            match self.acquire(cfg, key, Referrer::Flood(seg)) {
                Ok(id) => {
                    keys.push(key);
                    targets.push(id);
                }
                Err(e) => self.errors.push(format!("flood in segment {seg}: {e}")),
            }
        }
        if self.flood.len() <= seg {
            self.flood.resize(seg + 1, Vec::new());
        }
        let old = std::mem::replace(&mut self.flood[seg], keys);
        self.out.push(Change::Flood {
            segment: seg,
            targets,
        });
        for k in old {
            self.release(k);
        }
    }

    /// Sets or removes the decap entry of `vni`.
    pub fn set_decap(&mut self, cfg: &Config, vni: Vni, d: Option<&config::Decap>) {
        let out = d.map(|d| {
            let (mut out, unresolved) =
                decap_out(cfg, &self.port_ids, &self.port_macs, &self.neighbors, d);
            self.want.extend(unresolved);
            out.counter = self.counters.vni_slot(vni.get());
            out.set_sources(
                self.counters
                    .tunnels_of_vni(vni.get())
                    .into_iter()
                    .map(|(r, s)| super::tables::Source::new(r, s))
                    .collect(),
            );
            Box::new(out)
        });
        // A segment's VXLAN VNI decapsulates as its Geneve VNI does (when
        // the VTEP receives VXLAN).
        let segment = cfg
            .l2
            .iter()
            .flat_map(|l| &l.segments)
            .find(|s| s.vni == vni);
        if let (Some(s), Some(_)) = (segment, cfg.vtep.vxlan_port) {
            // Counted under the same VNI slot; its senders are the VXLAN
            // tunnels of the VXLAN VNI.
            let vxlan_out = out.clone().map(|mut o| {
                o.set_sources(
                    self.counters
                        .vxlan_tunnels_of_vni(s.vxlan_vni.get())
                        .into_iter()
                        .map(|(r, s)| super::tables::Source::new(r, s))
                        .collect(),
                );
                o
            });
            self.out.push(Change::Vni {
                vni: super::stitch::vni_key(crate::wire::Encapsulation::Vxlan, s.vxlan_vni),
                out: vxlan_out,
            });
        }
        self.out.push(Change::Vni {
            vni: vni.get(),
            out,
        });
    }

    /// The templates of tunnel (remote, vni) follow its settings again (a
    /// reload changed, added or removed the tunnel): rewritten in place.
    pub fn tunnel_changed(&mut self, cfg: &Config, remote: IpAddr, vni: Vni) {
        let keys = [vni.get(), vni.get() | super::stitch::VXLAN_KEY];
        for (kind, key_vni) in [PayloadKind::Ethernet, PayloadKind::Ipv4, PayloadKind::Ipv6]
            .into_iter()
            .flat_map(|k| keys.map(|v| (k, v)))
        {
            let key = (remote, key_vni, kind);
            let Some(mut slot) = self.slots.get(&key).copied() else {
                continue;
            };
            if slot.id.is_none() {
                continue;
            }
            let (hop, fixed) = underlay_hop(cfg, remote);
            let Some(mac) = fixed.or_else(|| self.neighbors.get(&hop).copied()) else {
                continue;
            };
            if let Err(e) = self.write_template(cfg, key, mac, &mut slot) {
                self.errors.push(e);
            }
            self.slots.insert(key, slot);
        }
    }

    /// A neighbour was resolved or changed its MAC: the templates through
    /// it are written (in place when they exist), the entries that waited
    /// for it point at them, and L3 decap entries resolving it follow.
    /// True when anything changed.
    pub fn neighbor(&mut self, cfg: &Config, ip: IpAddr, mac: [u8; 6]) -> bool {
        if self.neighbors.insert(ip, mac) == Some(mac) {
            return false;
        }
        self.out.push(Change::Neighbor { ip, mac });
        let keys: Vec<TemplateKey> = self
            .by_hop
            .get(&ip)
            .map(|k| k.iter().copied().collect())
            .unwrap_or_default();
        for key in keys {
            if underlay_hop(cfg, key.0).1.is_some() {
                continue; // a static MAC wins
            }
            let Some(mut slot) = self.slots.get(&key).copied() else {
                continue;
            };
            if let Err(e) = self.write_template(cfg, key, mac, &mut slot) {
                self.errors.push(e);
            }
            self.slots.insert(key, slot);
        }
        let mut seen = FxHashSet::default();
        for r in self.waiting.remove(&ip).unwrap_or_default() {
            if seen.insert(r) {
                self.refresh(cfg, r);
            }
        }
        if let Some(l3) = &cfg.l3 {
            if l3.access.next_hop == config::InnerNextHop::Resolve(ip) {
                for d in cfg.decap.iter().filter(|d| d.payload == Payload::Ip) {
                    self.set_decap(cfg, d.vni, Some(d));
                }
            }
        }
        true
    }

    /// An inner destination's neighbour entry expired (never a next hop
    /// of a template: those are configured, and never expire): the
    /// workers forget its MAC. True when it was known.
    pub fn forget_neighbor(&mut self, ip: IpAddr) -> bool {
        if self.by_hop.contains_key(&ip) || self.neighbors.remove(&ip).is_none() {
            return false;
        }
        self.out.push(Change::NeighborGone(ip));
        true
    }

    /// Writes an entry again with its template's current id.
    fn refresh(&mut self, cfg: &Config, r: Referrer) {
        let id = |s: &Self, k: &TemplateKey| s.slots.get(k).and_then(|s| s.id);
        match r {
            Referrer::Route(a, l) => {
                if let Some(k) = self.routes.get(&route_key(a, l)) {
                    let target = Some(id(self, k));
                    self.out.push(Change::Route {
                        addr: a,
                        len: l,
                        target,
                    });
                }
            }
            Referrer::Mac(seg, mac) => {
                let Some(vni) = cfg
                    .l2
                    .as_ref()
                    .and_then(|l| l.segments.get(seg))
                    .map(|s| s.vni.get())
                else {
                    return;
                };
                if let Some((remote, learned)) =
                    self.macs.get(&(seg, mac)).and_then(MacWant::effective)
                {
                    let template = id(
                        self,
                        &super::stitch::member_key(cfg, seg, remote).unwrap_or((
                            remote,
                            vni,
                            PayloadKind::Ethernet,
                        )),
                    );
                    self.out.push(Change::Mac {
                        segment: seg,
                        mac,
                        entry: Some(MacEntry::new(remote, template, learned)),
                    });
                }
            }
            Referrer::Flood(seg) => {
                if let Some(keys) = self.flood.get(seg) {
                    let targets = keys.iter().map(|k| id(self, k)).collect();
                    self.out.push(Change::Flood {
                        segment: seg,
                        targets,
                    });
                }
            }
        }
    }

    /// Applies a reload's difference (`new` is the new configuration).
    pub fn apply_diff(&mut self, new: &Config, d: &ConfigDiff) {
        for (remote, vni) in &d.tunnels {
            self.tunnel_changed(new, *remote, *vni);
        }
        // A decap entry lists its VNI's tunnels (counters by source VTEP).
        let mut vnis: Vec<Vni> = d.tunnels.iter().map(|t| t.1).collect();
        vnis.sort_unstable();
        vnis.dedup();
        for vni in vnis {
            if !d.decap.contains(&vni) {
                if let Some(dc) = new.decap_for(vni) {
                    self.set_decap(new, vni, Some(dc));
                }
            }
        }
        for (p, t) in &d.routes {
            self.set_route(new, *p, *t);
        }
        for (seg, mac, remote) in &d.static_macs {
            self.set_static_mac(new, *seg, *mac, *remote);
        }
        for seg in &d.flood {
            if let Some(s) = new.l2.as_ref().and_then(|l| l.segments.get(*seg)) {
                self.set_flood(new, *seg, &s.flood);
            }
        }
        for vni in &d.decap {
            self.set_decap(new, *vni, new.decap_for(*vni));
        }
        // Which payloads the VNIs carry and the options the tunnels send
        // shape the decap fast tiers: they follow in the same batch.
        if !(d.tunnels.is_empty() && d.decap.is_empty()) {
            let fast = DecapFast::of(new);
            if fast != self.decap_fast {
                self.out.push(Change::DecapFast(Box::new(fast.clone())));
                self.decap_fast = fast;
            }
        }
    }
}

pub use crate::config::diff::{diff, ConfigDiff, Counts, DiffCounts, ReloadSummary};

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
