//! Per-tunnel and per-VNI counters.
//!
//! Every worker owns two plain arrays of [`Counter`]s ([`WorkerEntries`]):
//! one cell per tunnel slot (packets and bytes encapsulated, encap drops
//! after the template was chosen, packets and bytes decapsulated from the
//! tunnel's remote VTEP) and one per decap VNI slot (packets and bytes
//! delivered, drops after the VNI was known). A worker writes only its own
//! arrays, with the same single-writer relaxed load + store as every other
//! counter in [`super`]: no atomic read-modify-write shared between
//! workers, no lock. The control thread sums the workers' cells.
//!
//! **Slots.** A tunnel (by name) or a decap VNI gets a slot from
//! [`EntrySlots`] when it appears in the configuration (start-up or
//! reload); the slot index is written into the tunnel's encap templates
//! and into the VNI's decap entry, so the worker reaches its cell without
//! a look-up. When the entry leaves the configuration its slot is
//! *retired*, not freed: the tables of the generation before the removal
//! may still be read by a worker (within one poll round, see
//! [`crate::dataplane::publish`]). Once the publisher reports that every worker reads
//! a generation without the entry ([`EntrySlots::settle`]), no worker can
//! count into the slot any more: the control thread then takes the sum of
//! its cells as the slot's *base* and only then hands the slot out again.
//! A reader subtracts the base, so a reused slot starts at zero and never
//! shows the old entry's packets, without the control thread writing a
//! worker's memory.
//!
//! **Size.** The arrays are made once at start-up from the configuration
//! ([`EntrySlots::for_config`]): the tunnels (decap VNIs) configured plus a
//! quarter more, at least [`MIN_HEADROOM`] more, for reloads. A tunnel
//! cell is 40 bytes and a VNI cell 24, so a million tunnels cost
//! 1,250,000 x 40 B = 50 MB per worker, a million VNIs 30 MB per worker.
//! Entries beyond the arrays (a reload that adds more than the headroom)
//! get no slot: their packets are counted only in the global counters, and
//! [`EntryCounters::untracked`] says how many entries that is. They wait
//! in line (oldest first): when a retired slot settles it goes to the
//! first entry still waiting ([`EntrySlots::settle`] names them, and the
//! planner rewrites their templates and decap entries with the slot),
//! counted from zero from then on.
//!
//! **Switch.** `metrics.entry_counters: false` ([`EntrySlots::off`]) gives
//! no slot to any entry and empty arrays; the worker asks
//! [`WorkerEntries::counting`] once per burst and takes express loops
//! monomorphised without the per-entry work (a const generic on the decap,
//! stitch and L3 encap express tiers): "the same run without per-entry
//! counters" that `scripts/bench-instructions.sh` and `scripts/bench.sh`
//! measure beside every encap and decap case.
//!
//! **Decap express tier.** Its burst loop stores one word per packet
//! (`pipeline::ExpressKey`: the VNI entry's index and the outer IPv4
//! source as the frame held it, read before trimming) and nothing else;
//! after the loop each run of equal keys goes to its port at once and
//! counts once ([`DecapRun::add_run`]), the tunnel of its source found
//! once per run (`VniOut::source_slot_v4`). Over an IPv6 underlay the key
//! holds one bit for the VNI's first IPv6 tunnel (the source compared in
//! the loop, the slot read per run), else the slot found in the loop
//! (`VniOut::source_slot_v6_other`, cold). The delivered lengths are
//! summed in the loop, one add where the trimmed length was just written;
//! a burst of one run (the usual case) counts that sum, a burst of several
//! runs sums each run's mbufs again. Tried before it: the slots
//! found per packet in the loop and stored beside the port (two stores,
//! the compare per packet); reading the source after the loop from the
//! bytes before the trimmed data offset (needs the outer header's length
//! per packet, which is what the key's store replaces anyway).
//!
//! Considered and not taken: a generation per slot checked on the hot
//! path (one more compare per packet, for what the quarantine gives for
//! free); one shared array of atomics with `fetch_add` (cache lines
//! bouncing between workers on every packet); `metrics`-style registries
//! (a hash look-up and often a lock per increment).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::Counter;
use crate::config::Config;
use crate::wire::geneve::Vni;

/// The slot of an entry that has none (counted nowhere per entry).
pub const NO_SLOT: u32 = u32::MAX;

/// Slots kept beyond the configuration's entries at start-up, at least.
pub const MIN_HEADROOM: usize = 1024;

/// One worker's counters for one tunnel slot.
#[derive(Default)]
pub struct TunnelCell {
    pub encap_packets: Counter,
    pub encap_bytes: Counter,
    pub encap_drops: Counter,
    pub decap_packets: Counter,
    pub decap_bytes: Counter,
}

/// One worker's counters for one decap VNI slot.
#[derive(Default)]
pub struct VniCell {
    pub packets: Counter,
    pub bytes: Counter,
    pub drops: Counter,
}

/// One worker's per-entry counters (written by that worker only).
pub struct WorkerEntries {
    tunnels: Box<[TunnelCell]>,
    vnis: Box<[VniCell]>,
}

impl WorkerEntries {
    /// Arrays for `tunnels` tunnel slots and `vnis` VNI slots.
    pub fn new(tunnels: usize, vnis: usize) -> WorkerEntries {
        WorkerEntries {
            tunnels: (0..tunnels).map(|_| TunnelCell::default()).collect(),
            vnis: (0..vnis).map(|_| VniCell::default()).collect(),
        }
    }

    /// Whether the worker counts per entry at all: false for the empty
    /// arrays of [`EntrySlots::off`] (`metrics.entry_counters: false`),
    /// which the worker asks once per burst to pick its express loops
    /// without the per-entry work. Never false for slots sized by
    /// [`EntrySlots::for_config`] (at least [`MIN_HEADROOM`] of each).
    #[inline]
    pub fn counting(&self) -> bool {
        !self.tunnels.is_empty() || !self.vnis.is_empty()
    }

    /// Starts loading the encap counters of tunnel slot `slot`'s cell (the
    /// look-ahead: with tens of thousands of tunnels the cells miss the
    /// cache too). Only the two the encap side adds to: 16 bytes of the
    /// 40-byte cell, which cross a line in one cell of eight, where the
    /// whole cell crosses one in every other cell.
    #[inline(always)]
    pub fn prefetch_tunnel(&self, slot: u32) {
        if let Some(c) = self.tunnels.get(slot as usize) {
            crate::dataplane::lpm::prefetch(&c.encap_packets);
            crate::dataplane::lpm::prefetch(&c.encap_bytes);
        }
    }

    /// Starts loading VNI slot `vni`'s cell (the decap express tier at
    /// tens of thousands of VNIs, where each packet's cell misses the
    /// cache: prefetched as the packet is taken, counted after the loop).
    #[inline(always)]
    pub fn prefetch_vni(&self, vni: u32) {
        if let Some(c) = self.vnis.get(vni as usize) {
            crate::dataplane::lpm::prefetch_span(std::slice::from_ref(c));
        }
    }

    /// `packets` encapsulated packets of `bytes` bytes in all into tunnel
    /// slot `slot` (a run of the express tier is counted once).
    #[inline(always)]
    pub fn encap(&self, slot: u32, packets: u64, bytes: u64) {
        if let Some(c) = self.tunnels.get(slot as usize) {
            c.encap_packets.add(packets);
            c.encap_bytes.add(bytes);
        }
    }

    /// A packet dropped after tunnel slot `slot`'s template was chosen.
    #[inline]
    pub fn encap_drop(&self, slot: u32, n: u64) {
        if let Some(c) = self.tunnels.get(slot as usize) {
            c.encap_drops.add(n);
        }
    }

    /// `packets` packets of `bytes` bytes in all (as delivered)
    /// decapsulated for VNI slot `vni` from the remote of tunnel slot
    /// `tunnel` ([`NO_SLOT`]: from no tunnel's remote).
    #[inline(always)]
    pub fn decap(&self, vni: u32, tunnel: u32, packets: u64, bytes: u64) {
        if let Some(c) = self.vnis.get(vni as usize) {
            c.packets.add(packets);
            c.bytes.add(bytes);
        }
        if let Some(c) = self.tunnels.get(tunnel as usize) {
            c.decap_packets.add(packets);
            c.decap_bytes.add(bytes);
        }
    }

    /// A packet dropped after its VNI (slot `vni`) was known.
    #[inline]
    pub fn decap_drop(&self, vni: u32, n: u64) {
        if let Some(c) = self.vnis.get(vni as usize) {
            c.drops.add(n);
        }
    }

    fn tunnel_sum(workers: &[WorkerEntries], slot: u32) -> TunnelCounters {
        let mut t = TunnelCounters::default();
        for c in workers.iter().filter_map(|w| w.tunnels.get(slot as usize)) {
            t.encap_packets += c.encap_packets.get();
            t.encap_bytes += c.encap_bytes.get();
            t.encap_drops += c.encap_drops.get();
            t.decap_packets += c.decap_packets.get();
            t.decap_bytes += c.decap_bytes.get();
        }
        t
    }

    fn vni_sum(workers: &[WorkerEntries], slot: u32) -> VniCounters {
        let mut t = VniCounters::default();
        for c in workers.iter().filter_map(|w| w.vnis.get(slot as usize)) {
            t.packets += c.packets.get();
            t.bytes += c.bytes.get();
            t.drops += c.drops.get();
        }
        t
    }
}

/// Decapsulated packets of one (VNI, tunnel) pair in a row, counted into
/// the cells once when the pair changes or the burst ends: a burst of one
/// tenant costs two register adds per packet, not four stores.
pub struct DecapRun {
    vni: u32,
    tunnel: u32,
    packets: u64,
    bytes: u64,
}

impl Default for DecapRun {
    fn default() -> Self {
        DecapRun {
            vni: NO_SLOT,
            tunnel: NO_SLOT,
            packets: 0,
            bytes: 0,
        }
    }
}

impl DecapRun {
    /// One packet of `bytes` bytes for (`vni`, `tunnel`).
    #[inline(always)]
    pub fn add(&mut self, e: &WorkerEntries, vni: u32, tunnel: u32, bytes: u64) {
        if vni != self.vni || tunnel != self.tunnel {
            self.switch(e, vni, tunnel);
        }
        self.packets += 1;
        self.bytes += bytes;
    }

    /// `packets` packets of `bytes` bytes in all for (`vni`, `tunnel`).
    #[inline(always)]
    pub fn add_run(&mut self, e: &WorkerEntries, vni: u32, tunnel: u32, packets: u64, bytes: u64) {
        if vni != self.vni || tunnel != self.tunnel {
            self.switch(e, vni, tunnel);
        }
        self.packets += packets;
        self.bytes += bytes;
    }

    #[inline(never)]
    fn switch(&mut self, e: &WorkerEntries, vni: u32, tunnel: u32) {
        self.flush(e);
        self.vni = vni;
        self.tunnel = tunnel;
    }

    /// Counts what the run holds (end of a burst).
    #[inline]
    pub fn flush(&mut self, e: &WorkerEntries) {
        if self.packets > 0 {
            e.decap(self.vni, self.tunnel, self.packets, self.bytes);
            self.packets = 0;
            self.bytes = 0;
        }
    }
}

/// One tunnel's counters, summed over the workers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TunnelCounters {
    /// Packets encapsulated into the tunnel, and their bytes on the wire
    /// (outer headers included).
    pub encap_packets: u64,
    pub encap_bytes: u64,
    /// Packets dropped after the tunnel's template was chosen (too big,
    /// no headroom, not IP for an L3 tunnel, no mbuf for a segment).
    pub encap_drops: u64,
    /// Packets decapsulated from the tunnel's remote VTEP on its VNI, and
    /// their bytes as delivered (inner frames).
    pub decap_packets: u64,
    pub decap_bytes: u64,
}

impl TunnelCounters {
    fn minus(self, b: TunnelCounters) -> TunnelCounters {
        TunnelCounters {
            encap_packets: self.encap_packets.wrapping_sub(b.encap_packets),
            encap_bytes: self.encap_bytes.wrapping_sub(b.encap_bytes),
            encap_drops: self.encap_drops.wrapping_sub(b.encap_drops),
            decap_packets: self.decap_packets.wrapping_sub(b.decap_packets),
            decap_bytes: self.decap_bytes.wrapping_sub(b.decap_bytes),
        }
    }

    /// Packets and bytes both ways: what "top tunnels by traffic" sorts by.
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.encap_packets + self.decap_packets,
            self.encap_bytes + self.decap_bytes,
        )
    }
}

/// One decap VNI's counters, summed over the workers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VniCounters {
    /// Packets delivered to the access side, and their bytes as delivered.
    pub packets: u64,
    pub bytes: u64,
    /// Packets dropped after the VNI was looked up (source VTEP not
    /// allowed, a required option missing, a security tag denied, wrong
    /// payload, an inner VLAN tag, over the access port's MTU...).
    pub drops: u64,
}

impl VniCounters {
    fn minus(self, b: VniCounters) -> VniCounters {
        VniCounters {
            packets: self.packets.wrapping_sub(b.packets),
            bytes: self.bytes.wrapping_sub(b.bytes),
            drops: self.drops.wrapping_sub(b.drops),
        }
    }
}

/// One slot array's bookkeeping (control thread only).
#[derive(Debug, Default, Clone)]
struct Pool<K, B> {
    cap: usize,
    by_key: FxHashMap<K, u32>,
    free: Vec<u32>,
    next: u32,
    /// Slots whose entry left in the given generation: reusable once every
    /// worker reads that generation or a later one.
    retiring: Vec<(u32, u64)>,
    /// Per slot: the workers' sum when the slot was last handed out.
    /// Only slots handed out again have one (a slot never retired reads
    /// from zero): at a million tunnels an array of bases would be tens of
    /// megabytes of zeros, in the planner's slots and in telemetry's copy.
    base: FxHashMap<u32, B>,
    /// Slots taken away so far (see [`EntrySlots::retired`]).
    retired: u64,
    /// Keys that found no free slot, oldest first; `waiting_set` holds
    /// those still waiting (a key that left, or got a slot, is skipped).
    waiting: VecDeque<K>,
    waiting_set: FxHashSet<K>,
}

impl<K: std::hash::Hash + Eq + Clone, B: Default + Copy> Pool<K, B> {
    fn new(cap: usize) -> Self {
        Pool {
            cap,
            by_key: FxHashMap::default(),
            free: Vec::new(),
            next: 0,
            retiring: Vec::new(),
            base: FxHashMap::default(),
            retired: 0,
            waiting: VecDeque::new(),
            waiting_set: FxHashSet::default(),
        }
    }

    fn slot(&self, k: &K) -> u32 {
        self.by_key.get(k).copied().unwrap_or(NO_SLOT)
    }

    /// Makes the keys `want` exactly the ones with slots (where there is room).
    fn sync<'k>(&mut self, want: impl Iterator<Item = &'k K> + Clone, generation: u64)
    where
        K: 'k,
    {
        let keep: rustc_hash::FxHashSet<&K> = want.clone().collect();
        let gone: Vec<K> = self
            .by_key
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for k in gone {
            self.retire(&k, generation);
        }
        self.waiting_set.retain(|k| keep.contains(k));
        for k in want {
            self.add(k);
        }
    }

    /// Gives `k` a slot if it has none and one is free.
    fn add(&mut self, k: &K) {
        if self.by_key.contains_key(k) {
            return;
        }
        let s = match self.free.pop() {
            Some(s) => s,
            None if (self.next as usize) < self.cap => {
                self.next += 1;
                self.next - 1
            }
            None => {
                if self.waiting_set.insert(k.clone()) {
                    self.waiting.push_back(k.clone());
                }
                return;
            }
        };
        self.waiting_set.remove(k);
        self.by_key.insert(k.clone(), s);
    }

    /// Takes `k`'s slot away; it is reused once no worker reads tables of
    /// a generation before `generation`.
    fn retire(&mut self, k: &K, generation: u64) {
        self.waiting_set.remove(k);
        if let Some(s) = self.by_key.remove(k) {
            self.retiring.push((s, generation));
            self.retired += 1;
        }
    }

    /// Whether [`settle`](Self::settle) may change anything: slots are
    /// retiring, or keys wait for one.
    fn unsettled(&self) -> bool {
        !self.retiring.is_empty() || !self.waiting.is_empty()
    }

    /// Frees what settled and hands it to the keys waiting; those keys.
    fn settle(&mut self, read: u64, sum: impl Fn(u32) -> B) -> Vec<K> {
        let mut i = 0;
        while let Some(&(s, g)) = self.retiring.get(i) {
            if g <= read {
                self.base.insert(s, sum(s));
                self.free.push(s);
                self.retiring.swap_remove(i);
            } else {
                i += 1;
            }
        }
        let mut given = Vec::new();
        while !self.free.is_empty() {
            let Some(k) = self.waiting.pop_front() else {
                break;
            };
            if !self.waiting_set.remove(&k) {
                continue;
            }
            let s = self.free.pop().expect("not empty");
            self.by_key.insert(k.clone(), s);
            given.push(k);
        }
        given
    }
}

/// Which slot every tunnel and decap VNI has (control thread only; the
/// planner writes the slots into the tables, see [`crate::dataplane::changes`]).
/// A clone is what other threads (DPDK telemetry) read with the arrays.
#[derive(Debug, Clone)]
pub struct EntrySlots {
    /// By tunnel name. A name is held once, shared with `pairs` (and with
    /// telemetry's copy): at a million tunnels a copy of every name per
    /// index is tens of megabytes.
    ///
    /// The pools are shared with telemetry's copy ([`for_readers`]) and
    /// copied on the first change after it: one copy of every slot while
    /// nothing changes, two for the moments between a change and
    /// telemetry's next copy.
    ///
    /// [`for_readers`]: Self::for_readers
    tunnels: Arc<Pool<Arc<str>, TunnelCounters>>,
    /// (VNI, remote, VXLAN) -> tunnel name, for the planner's template
    /// keys. Ordered, VNI first: a decap VNI's senders are a range, not a
    /// pass over every tunnel (one map, where a hash map beside an ordered
    /// index held every key twice).
    pairs: BTreeMap<(u32, IpAddr, bool), Arc<str>>,
    vnis: Arc<Pool<u32, VniCounters>>,
    /// Tunnels and VNIs of the configuration that found no free slot.
    untracked: usize,
    /// Bumped whenever a slot or a base changes (who shows the counters
    /// elsewhere copies the slots again).
    version: u64,
    /// `metrics.entry_counters: false`: no slots, no arrays, nothing
    /// untracked (see [`EntrySlots::off`]).
    off: bool,
}

impl EntrySlots {
    /// Room for `tunnels` tunnel slots and `vnis` VNI slots.
    pub fn new(tunnels: usize, vnis: usize) -> EntrySlots {
        EntrySlots {
            tunnels: Arc::new(Pool::new(tunnels)),
            pairs: BTreeMap::new(),
            vnis: Arc::new(Pool::new(vnis)),
            untracked: 0,
            version: 0,
            off: false,
        }
    }

    /// Per-entry counting switched off (`metrics.entry_counters: false`):
    /// no slot for any entry (every table entry counts into [`NO_SLOT`]),
    /// empty worker arrays, which tell the workers to take their loops
    /// that count nothing per entry ([`WorkerEntries::counting`]).
    pub fn off() -> EntrySlots {
        EntrySlots {
            off: true,
            ..EntrySlots::new(0, 0)
        }
    }

    /// Whether per-entry counting is switched off.
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Sized for `cfg` with headroom for reloads (see the module doc);
    /// [`off`](Self::off) when `cfg` switches per-entry counters off.
    pub fn for_config(cfg: &Config) -> EntrySlots {
        if !cfg.metrics.entry_counters {
            return EntrySlots::off();
        }
        let room = |n: usize| n + (n / 4).max(MIN_HEADROOM);
        EntrySlots::new(room(cfg.tunnels.len()), room(cfg.decap.len()))
    }

    /// The per-worker arrays these slots index.
    pub fn worker_entries(&self) -> WorkerEntries {
        WorkerEntries::new(self.tunnels.cap, self.vnis.cap)
    }

    /// Tunnel slots and VNI slots (the arrays' lengths).
    pub fn capacity(&self) -> (usize, usize) {
        (self.tunnels.cap, self.vnis.cap)
    }

    /// Gives every tunnel and decap VNI of `cfg` a slot and retires the
    /// slots of those that left; `generation` is the first generation of
    /// the tables without them (the next one published).
    pub fn sync(&mut self, cfg: &Config, generation: u64) {
        let tunnels = cfg.tunnels.iter().map(|t| {
            let vxlan = t.encapsulation == crate::wire::Encapsulation::Vxlan;
            (t.name.as_str(), t.remote, t.vni.get(), vxlan)
        });
        let vnis: Vec<u32> = cfg.decap.iter().map(|d| d.vni.get()).collect();
        self.sync_entries(tunnels, &vnis, generation);
    }

    /// [`sync`](Self::sync) from the entries themselves: tunnels as (name,
    /// remote, VNI, VXLAN) and decap VNIs.
    pub fn sync_entries<'n>(
        &mut self,
        tunnels: impl Iterator<Item = (&'n str, IpAddr, u32, bool)>,
        vnis: &[u32],
        generation: u64,
    ) {
        if self.off {
            return;
        }
        let mut names = Vec::new();
        let mut pairs = Vec::new();
        for (name, remote, vni, vxlan) in tunnels {
            let name: Arc<str> = name.into();
            names.push(name.clone());
            pairs.push(((vni, remote, vxlan), name));
        }
        // Sorted first, the map is built in bulk; the first of two tunnels
        // with one key wins, as it does in the configuration's index.
        pairs.sort_by_key(|a| a.0);
        pairs.dedup_by(|later, first| later.0 == first.0);
        self.pairs = pairs.into_iter().collect();
        Arc::make_mut(&mut self.tunnels).sync(names.iter(), generation);
        Arc::make_mut(&mut self.vnis).sync(vnis.iter(), generation);
        self.untracked = names.len().saturating_sub(self.tunnels.by_key.len())
            + vnis.len().saturating_sub(self.vnis.by_key.len());
        self.version += 1;
    }

    /// [`sync`](Self::sync) for the entries one change names only: the
    /// tunnels at `tunnel_keys` (remote, VNI; both encapsulations) and the
    /// decap VNIs `vnis`, looked up in `cfg` (the configuration after the
    /// change). Costs what the change holds, not what the configuration
    /// holds, so a reload or an API change of one tunnel is one entry's
    /// work at a million tunnels too; the result is what `sync` would make.
    pub fn sync_changed(
        &mut self,
        cfg: &Config,
        tunnel_keys: &[(IpAddr, Vni)],
        vnis: &[Vni],
        generation: u64,
    ) {
        use crate::wire::Encapsulation;
        if self.off {
            return;
        }
        let mut gone: rustc_hash::FxHashSet<Arc<str>> = Default::default();
        let mut named = Vec::new();
        for &(remote, vni) in tunnel_keys {
            for (vxlan, e) in [(false, Encapsulation::Geneve), (true, Encapsulation::Vxlan)] {
                let key = (vni.get(), remote, vxlan);
                if let Some(old) = self.pairs.remove(&key) {
                    gone.insert(old);
                }
                if let Some(t) = cfg.tunnel_for_encap(remote, vni, e) {
                    let name: Arc<str> = t.name.as_str().into();
                    self.pairs.insert(key, name.clone());
                    named.push(name);
                }
            }
        }
        for n in &named {
            gone.remove(n);
        }
        if !gone.is_empty() || !named.is_empty() {
            let tunnels = Arc::make_mut(&mut self.tunnels);
            for n in &gone {
                tunnels.retire(n, generation);
            }
            for n in &named {
                tunnels.add(n);
            }
        }
        if !vnis.is_empty() {
            let pool = Arc::make_mut(&mut self.vnis);
            for &vni in vnis {
                match cfg.decap_for(vni) {
                    Some(_) => pool.add(&vni.get()),
                    None => pool.retire(&vni.get(), generation),
                }
            }
        }
        self.untracked = cfg.tunnels.len().saturating_sub(self.tunnels.by_key.len())
            + cfg.decap.len().saturating_sub(self.vnis.by_key.len());
        self.version += 1;
    }

    /// Slots taken from a tunnel or VNI so far. A copy of the slots made
    /// before a slot was taken away must not outlive its reuse (the old
    /// name would read the new owner's counts): who copies them copies
    /// again at once when this moved.
    pub fn retired(&self) -> u64 {
        self.tunnels.retired + self.vnis.retired
    }

    /// Changes whenever a slot or a base changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Frees the retired slots no worker can count into any more: every
    /// worker reads generation `read` or later. Their current sums become
    /// their bases, and they go to the tunnels and VNIs that waited for a
    /// slot (oldest first): those are returned, as a reload's difference
    /// names them (remote and VNI; VNIs), for the planner to write their
    /// new slots into the tables.
    pub fn settle(
        &mut self,
        read: u64,
        workers: &[WorkerEntries],
    ) -> (Vec<(IpAddr, Vni)>, Vec<Vni>) {
        if self.tunnels.retiring.is_empty() && self.vnis.retiring.is_empty() {
            return Default::default();
        }
        self.version += 1;
        // Copied (from telemetry's) only where something settles.
        let names = if self.tunnels.unsettled() {
            Arc::make_mut(&mut self.tunnels).settle(read, |s| WorkerEntries::tunnel_sum(workers, s))
        } else {
            Vec::new()
        };
        let vnis = if self.vnis.unsettled() {
            Arc::make_mut(&mut self.vnis).settle(read, |s| WorkerEntries::vni_sum(workers, s))
        } else {
            Vec::new()
        };
        self.untracked = self.untracked.saturating_sub(names.len() + vnis.len());
        let mut tunnels = Vec::new();
        if !names.is_empty() {
            // Rare (only when entries waited): one pass over the pairs.
            let names: FxHashSet<&str> = names.iter().map(|n| &**n).collect();
            for (&(vni, remote, _), n) in &self.pairs {
                if names.contains(&**n) {
                    tunnels.extend(Vni::new(vni).map(|v| (remote, v)));
                }
            }
        }
        (tunnels, vnis.into_iter().filter_map(Vni::new).collect())
    }

    /// The slot of tunnel `name` ([`NO_SLOT`]: none).
    pub fn tunnel_slot(&self, name: &str) -> u32 {
        self.tunnels.by_key.get(name).copied().unwrap_or(NO_SLOT)
    }

    /// The slot of the tunnel to `remote` on `vni` (`vxlan`: the VXLAN
    /// tunnel) ([`NO_SLOT`]: no such tunnel, or no slot).
    pub fn tunnel_slot_for(&self, remote: IpAddr, vni: u32, vxlan: bool) -> u32 {
        self.pairs
            .get(&(vni, remote, vxlan))
            .map_or(NO_SLOT, |n| self.tunnel_slot(n))
    }

    /// The tunnels a decap VNI may come from: (remote, slot), Geneve and
    /// VXLAN alike, those with a slot only.
    pub fn tunnels_of_vni(&self, vni: u32) -> Vec<(IpAddr, u32)> {
        self.senders(vni, |_| true)
    }

    /// The VXLAN tunnels on VNI `vni`: (remote, slot), those with a slot
    /// only (the sources of a stitched segment's VXLAN VNI).
    pub fn vxlan_tunnels_of_vni(&self, vni: u32) -> Vec<(IpAddr, u32)> {
        self.senders(vni, |vxlan| vxlan)
    }

    /// The tunnels on `vni` whose encapsulation `take`s, with a slot:
    /// (remote, slot), sorted. Costs the tunnels of that VNI only.
    fn senders(&self, vni: u32, take: impl Fn(bool) -> bool) -> Vec<(IpAddr, u32)> {
        let mut v: Vec<(IpAddr, u32)> = self
            .pairs
            .range(
                (vni, IpAddr::V4(Ipv4Addr::UNSPECIFIED), false)
                    ..=(vni, IpAddr::V6(Ipv6Addr::from(u128::MAX)), true),
            )
            .filter(|((_, _, vxlan), _)| take(*vxlan))
            .map(|(&(_, r, _), name)| (r, self.tunnel_slot(name)))
            .filter(|(_, s)| *s != NO_SLOT)
            .collect();
        v.sort_unstable();
        v
    }

    /// The slot of decap VNI `vni` ([`NO_SLOT`]: none).
    pub fn vni_slot(&self, vni: u32) -> u32 {
        self.vnis.slot(&vni)
    }

    /// A copy for readers on other threads (telemetry): the slots and
    /// their bases, without the planner's (remote, VNI) indexes, which
    /// no reader asks and which are the larger half at a million tunnels.
    pub fn for_readers(&self) -> EntrySlots {
        EntrySlots {
            tunnels: self.tunnels.clone(),
            pairs: BTreeMap::new(),
            vnis: self.vnis.clone(),
            untracked: self.untracked,
            version: self.version,
            off: self.off,
        }
    }

    /// The reader over the workers' arrays.
    pub fn read<'a>(&'a self, workers: &'a [WorkerEntries]) -> EntryCounters<'a> {
        EntryCounters {
            slots: self,
            workers,
        }
    }
}

/// What the control thread (telemetry, Prometheus, an API) reads: every
/// tunnel's and decap VNI's counters summed over the workers, since the
/// entry appeared in the configuration. Reads are relaxed loads of
/// single-writer counters: each number is whole (never torn), the set is
/// not one instant (a packet may show in `encap_packets` and not yet in
/// `encap_bytes`).
///
/// ```ignore
/// let counters = slots.read(&shared.entries);
/// if let Some(t) = counters.tunnel("to-dc2") {
///     println!("{} packets out", t.encap_packets);
/// }
/// for (name, t) in counters.tunnels() { /* ... */ }
/// ```
pub struct EntryCounters<'a> {
    slots: &'a EntrySlots,
    workers: &'a [WorkerEntries],
}

impl<'a> EntryCounters<'a> {
    /// Tunnel `name`'s counters; `None` when it is not configured or has
    /// no slot (more tunnels than the arrays hold).
    pub fn tunnel(&self, name: &str) -> Option<TunnelCounters> {
        let s = *self.slots.tunnels.by_key.get(name)?;
        Some(self.tunnel_at(s))
    }

    fn tunnel_at(&self, s: u32) -> TunnelCounters {
        let base = self.slots.tunnels.base.get(&s).copied().unwrap_or_default();
        WorkerEntries::tunnel_sum(self.workers, s).minus(base)
    }

    fn vni_at(&self, s: u32) -> VniCounters {
        let base = self.slots.vnis.base.get(&s).copied().unwrap_or_default();
        WorkerEntries::vni_sum(self.workers, s).minus(base)
    }

    /// Decap VNI `vni`'s counters; `None` when it has no decap entry (or
    /// no slot).
    pub fn vni(&self, vni: Vni) -> Option<VniCounters> {
        let s = *self.slots.vnis.by_key.get(&vni.get())?;
        Some(self.vni_at(s))
    }

    /// Every tunnel with a slot and its counters (no order).
    pub fn tunnels(&self) -> impl Iterator<Item = (&'a str, TunnelCounters)> + '_ {
        self.slots
            .tunnels
            .by_key
            .iter()
            .map(|(n, &s)| (&**n, self.tunnel_at(s)))
    }

    /// Every decap VNI with a slot and its counters (no order).
    pub fn vnis(&self) -> impl Iterator<Item = (Vni, VniCounters)> + '_ {
        self.slots
            .vnis
            .by_key
            .iter()
            .filter_map(|(&v, &s)| Vni::new(v).map(|v| (v, self.vni_at(s))))
    }

    /// The `n` tunnels with the most packets (both ways), most first,
    /// ties by name.
    pub fn top_tunnels(&self, n: usize) -> Vec<(&'a str, TunnelCounters)> {
        let mut all: Vec<_> = self.tunnels().collect();
        all.sort_unstable_by(|a, b| b.1.traffic().cmp(&a.1.traffic()).then(a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    /// Configured tunnels and VNIs that have no slot (not counted per entry).
    pub fn untracked(&self) -> usize {
        self.slots.untracked
    }
}

#[cfg(test)]
#[path = "stats_entries_tests.rs"]
mod tests;
