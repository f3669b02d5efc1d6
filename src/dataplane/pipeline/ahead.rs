//! Looking a burst up ahead: with tables of a million entries, every
//! packet's MAC, route, VNI and template lookups miss the cache, and one
//! by one each miss waits for the one before. Before the per-packet path
//! runs, these functions read every frame's key (destination MAC, inner
//! destination address, VNI), look the whole burst up and prefetch what
//! the per-packet path will read (the LPM's entries, the VNI's entry, the
//! encap template), so the misses of the burst overlap (VPP's dual and quad
//! loops, `rte_hash_lookup_bulk` and `rte_lpm_lookup_bulk` do the same).
//! The per-packet path then runs unchanged and finds its lines in cache.
//!
//! Every lookup gives its address before it reads: the MAC table and the
//! VNI index are [`FlatMap`](crate::dataplane::flat::FlatMap)s (hash,
//! prefetch the slot, then compare, as `rte_hash_lookup_bulk`), the LPM
//! has `Lpm::prefetch`; so the burst's slots are prefetched first, then
//! looked up, and the templates, flow-id slots and VNI entries are
//! prefetched as soon as their lookup answers. Small tables
//! stay in cache anyway: below [`AHEAD_MIN_ENTRIES`] nothing is done, and
//! the one-entry gateway pays one check per burst.
//!
//! On an L2 access port the look-ahead also keeps each frame's template
//! when the frame is one the express tier would take if its MAC were the
//! cached one ([`AccessAhead::encap`]): with a million destinations the
//! last-MAC cache never hits, and these frames then skip the per-packet
//! path's second lookup as the express tier does.
//!
//! Only a speed matter: a wrong guess (a tagged frame, an unknown MAC, a
//! frame shorter than its key) prefetches nothing or the wrong line, and
//! the per-packet path decides as always.
use crate::dataplane::flat::MAC_BITS;
use crate::dataplane::lpm::{prefetch, prefetch_lines, prefetch_tail};
use crate::dataplane::stats::WorkerEntries;
use crate::dataplane::tables::{lpm_key, AccessIn, MacTable, Tables, TemplateId, VniHint};
use crate::tunnel::{encap_fast_ethernet, Buffer, EncapTemplate, LineKind};
use crate::wire::ethernet::EtherType;
use crate::wire::Encapsulation;

use super::tagged;

/// The big-endian 16 bits at `o`, 0 past the end.
#[inline(always)]
fn be16(d: &[u8], o: usize) -> u16 {
    d.get(o..o + 2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

/// Tables with fewer entries than this are left to the cache.
pub const AHEAD_MIN_ENTRIES: usize = 4096;

/// Most frames looked up ahead at once: the worker's burst (a power of
/// two: indexes into the look-ahead's arrays are masked with it; no
/// bigger than a burst needs).
const MAX_AHEAD: usize = 32;

// A burst is looked up whole.
#[cfg(feature = "dpdk")]
const _: () = assert!(MAX_AHEAD >= crate::dpdk::BURST_SIZE);
const _: () = assert!(MAX_AHEAD.is_power_of_two());

/// Starts loading the lines [`crate::tunnel::encap`]'s fast tier reads of
/// `tpl` (an untagged IPv4 template without options): those of its first
/// [`EncapTemplate::HOT_BYTES`] (the wide fields and the header) and of its
/// tail after the header's room (the narrow fields,
/// [`EncapTemplate::TAIL_AT`]), each line once.
#[inline(always)]
fn prefetch_template(tpl: &EncapTemplate) {
    prefetch_lines(tpl, EncapTemplate::HOT_BYTES);
    prefetch_tail(tpl, EncapTemplate::TAIL_AT);
}

/// Prefetches template `id` and its flow-id variant slot (both read per
/// packet); 1 if there is a template, else 0.
#[inline(always)]
fn prefetch_template_id(t: &Tables, id: TemplateId) -> usize {
    if let Some(v) = t.flow_variants.get(id as usize) {
        prefetch(v);
    }
    match t.templates.get(id as usize) {
        Some(tpl) => {
            prefetch_template(tpl);
            1
        }
        None => 0,
    }
}

/// What the look-ahead of an access burst found: how many templates it
/// prefetched, and per frame (by its index in the burst) the template of
/// a frame the express tier may encapsulate. The worker keeps one and
/// refills it per burst ([`fill`](Self::fill)): returned by value, its
/// 280 bytes were copied every burst.
pub struct AccessAhead {
    found: usize,
    /// Frames of the burst looked at (the first `n` of `express` are this
    /// burst's).
    n: usize,
    /// Per frame: the template of its MAC (`NONE`: leave the frame to the
    /// per-packet path).
    express: [TemplateId; MAX_AHEAD],
    /// The templates found (prefetched), the first `found` of them, for
    /// [`prefetch_counters`](Self::prefetch_counters).
    ids: [TemplateId; MAX_AHEAD],
    /// Whether frames of this burst may have a template in `express` (an
    /// L2 burst).
    l2: bool,
}

/// A frame [`AccessAhead::encap`] encapsulated: its port (the underlay
/// port), its tunnel's counter slot, and whether it left over VXLAN (it
/// counts as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AheadEncap {
    pub port: u16,
    pub counter: u32,
    pub vxlan: bool,
}

/// No template kept for the frame.
const NONE: TemplateId = TemplateId::MAX;

impl Default for AccessAhead {
    fn default() -> Self {
        AccessAhead {
            found: 0,
            n: 0,
            express: [NONE; MAX_AHEAD],
            ids: [NONE; MAX_AHEAD],
            l2: false,
        }
    }
}

impl AccessAhead {
    /// Looks up the burst `frames` that arrived on access `port` of `t`,
    /// in place of the last burst's: untagged frames of the port's
    /// untagged L2 segment look up their destination MAC; those of its L3
    /// access their IPv4 or IPv6 destination. False when the table is
    /// small: nothing looked up, and nothing kept from the last burst
    /// either ([`encap`](Self::encap) declines every frame). The other
    /// methods take the same `t`.
    #[inline]
    pub fn fill<'a>(
        &mut self,
        t: &Tables,
        port: u16,
        frames: impl Iterator<Item = &'a [u8]>,
    ) -> bool {
        self.found = 0;
        self.n = 0;
        self.l2 = false;
        match t.access_for(port, 0) {
            Some(AccessIn::L2(seg)) => match t.segments.get(seg) {
                Some(s) if s.macs.len() >= AHEAD_MIN_ENTRIES => {
                    self.fill_macs(t, &s.macs, frames);
                    true
                }
                _ => false,
            },
            Some(AccessIn::L3) => match &t.l3 {
                Some(l3) if l3.routes_v4.len() + l3.routes_v6.len() >= AHEAD_MIN_ENTRIES => {
                    ahead_routes(t, frames, self);
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Keeps template `id` and prefetches its line
    /// ([`TemplateLine`](crate::tunnel::TemplateLine)): all the express
    /// tiers read of the template where the line stands for it; where it
    /// does not, [`prefetch_counters`](Self::prefetch_counters) prefetches
    /// the template.
    #[inline(always)]
    fn keep(&mut self, t: &Tables, id: TemplateId) {
        if let (Some(slot), Some(line)) = (self.ids.get_mut(self.found), t.lines.get(id as usize)) {
            prefetch(line);
            *slot = id;
            self.found += 1;
        }
    }

    /// The second stage, once the templates' lines had the lookups of the
    /// whole burst to arrive: reads each template's counter slot from its
    /// line and prefetches the worker's cell of it, which the express
    /// tiers add to per packet (with tens of thousands of tunnels the
    /// cells do not stay in cache either), and the template itself where
    /// the line does not stand for it (the per-packet path reads it).
    #[inline(never)]
    pub fn prefetch_counters(&self, t: &Tables, e: &WorkerEntries) {
        for &id in self.ids.iter().take(self.found) {
            if let Some(line) = t.lines.get(id as usize) {
                e.prefetch_tunnel(line.counter());
                if line.kind() == LineKind::Template {
                    prefetch_template_id(t, id);
                }
            }
        }
    }

    /// Whether [`encap`](Self::encap) may take frames of this burst (an L2
    /// burst: an L3 one keeps no template per frame).
    pub fn is_l2(&self) -> bool {
        self.l2
    }

    /// Templates prefetched.
    #[cfg(test)]
    pub fn found(&self) -> usize {
        self.found
    }

    /// Frames whose template was kept for [`encap`](AccessAhead::encap).
    #[cfg(test)]
    pub fn express_frames(&self) -> usize {
        self.express
            .iter()
            .take(self.n)
            .filter(|&&id| id != NONE)
            .count()
    }

    /// Encapsulates frame `i` of the burst (`buf`, not changed since the
    /// look-ahead) with the template its MAC led to, if the look-ahead kept
    /// one, the template has no flow-id variant and the encap fast tier
    /// takes the frame: `Some` with where it goes and how it counts, else
    /// `None` with `buf` untouched. The same decision as
    /// [`access_with_cache`](super::access_with_cache) for these frames
    /// (see [`AccessExpress`](super::AccessExpress)). The template's line
    /// is read here, not during the look-ahead, so that its prefetch has
    /// had the frames before it to arrive; the template itself only where
    /// the line does not stand for it.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(
        &self,
        t: &Tables,
        i: usize,
        buf: &mut B,
        rss: Option<u32>,
    ) -> Option<AheadEncap> {
        if i >= self.n {
            return None;
        }
        let id = *self.express.get(i)?;
        if id == NONE || buf.total_len() != buf.len() {
            return None;
        }
        let line = t.lines.get(id as usize)?;
        let vxlan = match line.kind() {
            LineKind::GeneveEthernet => false,
            LineKind::VxlanEthernet => true,
            // An L2 segment's templates carry Ethernet frames.
            LineKind::GeneveIp => return None,
            LineKind::Template => return encap_template(t, id, buf, rss),
        };
        if !line.encap_ethernet(buf, rss) {
            return None;
        }
        Some(AheadEncap {
            port: t.underlay_port,
            counter: line.counter(),
            vxlan,
        })
    }

    /// The L2 look-ahead. Hashes every frame's destination and prefetches
    /// its slot, then probes (the slots are loaded or on their way), as
    /// `rte_hash_lookup_bulk`, and prefetches the template found. Plain
    /// index loops over the burst's arrays: iterators zipping them kept
    /// their cursors on the stack, about 10 instructions a frame.
    #[inline(never)]
    fn fill_macs<'a>(
        &mut self,
        t: &Tables,
        macs: &MacTable,
        frames: impl Iterator<Item = &'a [u8]>,
    ) {
        self.l2 = true;
        // Per frame: its packed MAC (`u64::MAX`: not looked up) and home
        // slot.
        let mut keys = [u64::MAX; MAX_AHEAD];
        let mut homes = [0usize; MAX_AHEAD];
        let mut n = 0;
        for d in frames.take(MAX_AHEAD) {
            // Below MAX_AHEAD (the `take`); the mask tells the compiler.
            let i = n & (MAX_AHEAD - 1);
            n += 1;
            self.express[i] = NONE;
            let Some(h) = d.first_chunk::<14>() else {
                continue;
            };
            // Untagged unicast (a tagged frame belongs to another segment
            // or is dropped; group addresses flood).
            if tagged(h) || h[0] & 1 != 0 {
                continue;
            }
            let Some(w) = h.first_chunk::<8>() else {
                continue;
            };
            let k = u64::from_le_bytes(*w) & MAC_BITS;
            let home = macs.home_packed(k);
            macs.prefetch_home(home);
            keys[i] = k;
            homes[i] = home;
        }
        self.n = n;
        for i in 0..n.min(MAX_AHEAD) {
            let k = keys[i];
            if k == u64::MAX {
                continue;
            }
            if let Some(id) = macs.get_packed(homes[i], k).and_then(|e| e.template()) {
                self.express[i] = id;
                self.keep(t, id);
            }
        }
    }
}

/// [`AccessAhead::encap`] from the template (its line stands for
/// nothing).
#[inline(never)]
fn encap_template<B: Buffer + ?Sized>(
    t: &Tables,
    id: TemplateId,
    buf: &mut B,
    rss: Option<u32>,
) -> Option<AheadEncap> {
    if !matches!(t.flow_variants.get(id as usize), None | Some(None)) {
        return None;
    }
    let tpl = t.templates.get(id as usize)?;
    if !tpl.has_fast_ethernet() || !encap_fast_ethernet(tpl, buf, rss) {
        return None;
    }
    Some(AheadEncap {
        port: t.underlay_port,
        counter: tpl.counter(),
        vxlan: tpl.encapsulation() == Encapsulation::Vxlan,
    })
}

#[inline(never)]
fn ahead_routes<'a>(t: &Tables, frames: impl Iterator<Item = &'a [u8]>, a: &mut AccessAhead) {
    let Some(l3) = &t.l3 else {
        return;
    };
    // First the LPM entries of the whole burst, then their groups, then the
    // lookups (which find both loaded or on their way) and the templates.
    let mut keys = [(0u128, false); MAX_AHEAD];
    let mut n = 0;
    for d in frames {
        let (Some(key), Some(slot)) = (inner_destination(d), keys.get_mut(n)) else {
            continue;
        };
        let lpm = if key.1 { &l3.routes_v6 } else { &l3.routes_v4 };
        lpm.prefetch(key.0);
        *slot = key;
        n += 1;
    }
    // Then the groups those entries point to (a /24 holding a longer
    // prefix, as every /32 route does): the lookup's second read.
    for &(a, v6) in &keys[..n] {
        if !v6 {
            l3.routes_v4.prefetch_second(a);
        }
    }
    for &(addr, v6) in &keys[..n] {
        let lpm = if v6 { &l3.routes_v6 } else { &l3.routes_v4 };
        if let Some(Some(id)) = lpm.lookup(addr) {
            a.keep(t, id);
        }
    }
}

/// The LPM key of an untagged frame's IP destination, and whether it is IPv6.
#[inline(always)]
fn inner_destination(d: &[u8]) -> Option<(u128, bool)> {
    match be16(d, 12) {
        EtherType::IPV4 => {
            let a = d.get(30..34)?;
            Some((lpm_key([a[0], a[1], a[2], a[3]].into()), false))
        }
        EtherType::IPV6 => {
            let a: [u8; 16] = d.get(38..54)?.try_into().ok()?;
            Some((lpm_key(a.into()), true))
        }
        _ => None,
    }
}

/// Whether the VNI table is large enough for the decap look-ahead
/// ([`UnderlayAhead`]; kept apart, so the check is all the small-table
/// gateway pays).
#[inline(always)]
pub fn wants_ahead_underlay(t: &Tables) -> bool {
    t.vnis.len() >= AHEAD_MIN_ENTRIES
}

/// How far ahead of the packet it is at the decap express tier probes
/// the VNI index for a later frame and prefetches its entry
/// ([`UnderlayAhead::probe`]): enough packets' work for the entry's
/// lines to arrive before that frame's turn.
pub const PROBE_DISTANCE: usize = 6;

/// The decap side: the burst's VNIs (untagged outer IPv4 without options
/// or IPv6 without extension headers, as the fast tiers take them) and
/// their index slots, the slots already on their way
/// ([`fill`](Self::fill)); each frame's entry is found and prefetched
/// later, [`PROBE_DISTANCE`] frames before the express tier reaches it,
/// so that the prefetches of a burst do not all queue at once and the
/// first ones have landed when they are read.
pub struct UnderlayAhead {
    /// Per frame of the burst, in order: its VNI and home slot (`NO_VNI`:
    /// not a frame the fast tiers take).
    keys: [(u32, u32); MAX_AHEAD],
    /// Per frame, the index of its VNI's entry once [`probe`](Self::probe)
    /// found it (`NO_ENTRY`: not probed, or no entry).
    found: [u32; MAX_AHEAD],
    n: usize,
}

/// A VNI is 24 bits: no frame's.
const NO_VNI: u32 = u32::MAX;

/// Past every entry index (below 2^25).
const NO_ENTRY: u32 = u32::MAX;

impl UnderlayAhead {
    /// Looks frame `i`'s VNI up (its index slot is loaded or on its way),
    /// prefetches its entry and keeps its index for [`hint`](Self::hint);
    /// whether it has one. Past the burst: nothing.
    #[inline(always)]
    pub fn probe(&mut self, t: &Tables, i: usize) -> bool {
        let (Some(&(vni, home)), Some(found)) = (self.keys.get(i), self.found.get_mut(i)) else {
            return false;
        };
        if i >= self.n || vni == NO_VNI {
            return false;
        }
        match t.vnis.prefetch_at(home as usize, vni) {
            Some(entry) => {
                *found = entry;
                true
            }
            None => false,
        }
    }

    /// Frame `i`'s VNI and the entry [`probe`](Self::probe) found for it,
    /// for the express tier's lookup (`tables::VniLookup`): it
    /// takes the entry when the VNI it parses is this one. `None` when
    /// the probe found nothing (or did not run).
    #[inline(always)]
    pub fn hint(&self, i: usize) -> Option<VniHint> {
        let entry = *self.found.get(i)?;
        if entry == NO_ENTRY {
            return None;
        }
        let &(vni, _) = self.keys.get(i)?;
        Some(VniHint { vni, entry })
    }
}

impl Default for UnderlayAhead {
    fn default() -> Self {
        UnderlayAhead {
            keys: [(NO_VNI, 0); MAX_AHEAD],
            found: [NO_ENTRY; MAX_AHEAD],
            n: 0,
        }
    }
}

impl UnderlayAhead {
    /// The first step for a new burst `frames`, in place (the worker keeps
    /// one: returned by value, its 390 bytes were copied per burst, 5
    /// instructions a packet): every frame's VNI read and its index slot
    /// prefetched, nothing looked up yet.
    #[inline(never)]
    pub fn fill<'a>(&mut self, t: &Tables, frames: impl Iterator<Item = &'a [u8]>) {
        let mut n = 0;
        for ((d, k), f) in frames.zip(self.keys.iter_mut()).zip(self.found.iter_mut()) {
            n += 1;
            *f = NO_ENTRY;
            *k = (NO_VNI, 0);
            // Outer Ethernet, IP, UDP (8), Geneve's VNI at its bytes 4..7.
            let at = match be16(d, 12) {
                EtherType::IPV4 => 14 + 20 + 8 + 4,
                EtherType::IPV6 => 14 + 40 + 8 + 4,
                _ => continue,
            };
            let Some(v) = d.get(at..at + 3) else {
                continue;
            };
            let vni = u32::from_be_bytes([0, v[0], v[1], v[2]]);
            let home = t.vnis.home(vni);
            t.vnis.prefetch_slot(home);
            // A VNI index has fewer than 2^32 slots (at most 2^25).
            *k = (vni, home as u32);
        }
        self.n = n;
        // (The counter cells the entries name are not prefetched here: a
        // second pass reading the entries just prefetched measured slower,
        // see BENCHMARKS.md, "Flat cost per packet".)
    }
}
