//! The underlay side (see [the tiers](crate::tunnel#tiers)): a frame from
//! the underlay port, through the express tier ([`underlay_express`]) or the
//! decap fast and general tiers, to an inner frame for an access port, a
//! punt or a counted drop. The decap tiers' [`Delivery`] carries the parsed
//! outer header: nothing here reads it again.
use std::net::IpAddr;

use crate::config::Payload;
use crate::tunnel::decap::FastVerdict;
use crate::tunnel::{apply_inner_update, Buffer, Delivery, DropReason, PayloadKind, Verdict};
use crate::wire::ethernet::{is_group_mac, l3_offset, EtherType};
use crate::wire::geneve::GeneveOptionIter;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::Ipv6Packet;

use super::{push_vlan, tagged, Event, Outcome, PuntKind};
use crate::dataplane::flows::{key_at, key_of_ethernet, FlowId};
use crate::dataplane::stats::{WorkerEntries, NO_SLOT};
use crate::dataplane::stitch::{self, vni_key};
use crate::dataplane::tables::{Tables, VniLookup, VniOut};
use crate::wire::ip_proto;
use crate::wire::Encapsulation;

/// Is this non-Geneve underlay frame for the control thread?
fn punt_worthy(t: &Tables, d: &[u8]) -> bool {
    // Only for frames decap refused: the checked wire views.
    match l3_offset(d) {
        Some((EtherType::ARP, _)) => true,
        Some((EtherType::IPV4, off)) => Ipv4Packet::new_checked(d.get(off..).unwrap_or(&[]))
            .is_ok_and(|p| {
                p.protocol() == ip_proto::ICMP && t.local_underlay.contains(&IpAddr::from(p.dst()))
            }),
        Some((EtherType::IPV6, off)) => Ipv6Packet::new_checked(d.get(off..).unwrap_or(&[]))
            .is_ok_and(|p| {
                p.upper_layer()
                    .is_ok_and(|u| u.protocol == ip_proto::ICMPV6)
            }),
        _ => false,
    }
}

/// A frame the NIC already decapsulated: an rte_flow decap rule
/// (`offload::DecapRule`) matched its outer headers (our VTEP, no options,
/// outer ECN Not-ECT, Ethernet payload) and marked it with its VNI. Rules
/// exist only for VNIs whose software path needs nothing from the outer
/// headers or options (`offload::hw_decap_blocker`); if the tables changed
/// since (a reload, before the rules are re-created), the checks the frame
/// can no longer pass drop it with the reason software would have given.
pub fn hw_decapped<B: Buffer + ?Sized>(t: &Tables, vni: u32, buf: &mut B) -> Outcome {
    // The software path refuses an inner frame shorter than its Ethernet header.
    if buf.len() < 14 {
        return Outcome::Drop(DropReason::InnerMalformed);
    }
    let Some(out) = t.vnis.get(vni) else {
        return Outcome::Drop(DropReason::UnknownVni);
    };
    if out.payload != Payload::Ethernet {
        return Outcome::Drop(DropReason::UnknownVni);
    }
    if out.allow_from.is_some() {
        return Outcome::Drop(DropReason::SourceVtepNotAllowed);
    }
    if out.require_mask != 0 {
        return Outcome::Drop(DropReason::RequiredOptionMissing);
    }
    if !out.security_tags.is_empty() {
        return Outcome::Drop(DropReason::SecurityTagDenied);
    }
    to_access_port(buf, out)
}

/// The last steps of every delivery of an inner Ethernet frame: it may
/// carry no VLAN tag of its own (only the segment's tag goes on the access
/// port), then it gets the segment's tag.
#[inline(always)]
fn to_access_port<B: Buffer + ?Sized>(buf: &mut B, out: &VniOut) -> Outcome {
    if tagged(buf.data()) {
        return Outcome::Drop(DropReason::InnerVlanTag);
    }
    push_segment_tag(buf, out)
}

/// Puts the segment's VLAN tag (if it has one) on a frame for its access
/// port.
#[inline(always)]
fn push_segment_tag<B: Buffer + ?Sized>(buf: &mut B, out: &VniOut) -> Outcome {
    if let Some(vid) = out.vlan {
        if !push_vlan(buf, vid) {
            return Outcome::Drop(DropReason::EncapNoRoom);
        }
    }
    Outcome::Decapped(out.port)
}

/// A frame that arrived on the underlay port.
pub fn underlay<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    events: &mut impl FnMut(Event),
) -> Outcome {
    // The pattern's delivery goes straight into `deliver_fast` (inlined
    // here, its fields in registers); merging it with another sub-case's
    // result first would copy it through the stack.
    match t
        .decap
        .decap_fast_v4_pattern(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => deliver_fast(t, buf, d, events),
        Some(v) => fast_not_delivered(t, buf, v, events),
        None => underlay_fast_v4(t, buf, events),
    }
}

/// The decap express tier: `Some(access port)` when the fast tier's
/// pattern (`decap_fast_v4_pattern`, or `decap_fast_v6` over an IPv6
/// underlay) delivers the packet to a plain VNI that pushes no VLAN tag,
/// the packet then trimmed to its inner frame, exactly as [`underlay`] does
/// it; `None`, buffer untouched, for everything else, which the worker
/// hands to [`underlay`]. Skips building and matching an [`Outcome`].
#[inline(always)]
pub fn underlay_express<B: Buffer + ?Sized>(t: &Tables, buf: &mut B) -> Option<u16> {
    underlay_express_counted(t, buf).map(|x| x.port)
}

/// What the decap express tier did with a packet: where it goes and the
/// counter slots it counts under (`stats::WorkerEntries::decap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressDecap {
    pub port: u16,
    /// The VNI's counter slot.
    pub vni: u32,
    /// The counter slot of the tunnel whose remote sent it.
    pub tunnel: u32,
}

/// [`underlay_express`] with the counter slots of the delivery.
#[inline(always)]
pub fn underlay_express_counted<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
) -> Option<ExpressDecap> {
    underlay_express_key::<true, B, _>(t, buf, ()).map(|k| k.resolve(t))
}

/// What the decap express tier's burst loop keeps of a packet it took
/// (`gateway::express_keys`), in one word stored once: the index of the
/// VNI's entry (`VniTable::entry_at`, bits 0..25, below
/// `VniTable::MAX_ENTRIES`, so stored unmasked) and, when the loop
/// counts per entry, where the packet came from: the outer IPv4 source
/// as the frame held it (bits 32..64); over an IPv6 underlay one bit
/// (30) when the source is the VNI's first IPv6 tunnel's remote (the
/// delivery's address, already in registers, against
/// `VniOut::src6`), else the tunnel's counter slot found in the loop
/// (bit 31 set, the slot in bits 32..64). Packets in a row with equal
/// keys go to one port and count under one (VNI, tunnel) pair, so the
/// tunnel is found once per such run ([`resolve`](Self::resolve)), not
/// per packet. A 64-bit fold of the IPv6 source would not fit beside the
/// entry and is not exact (two sources, one fold); the one compare is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpressKey(u64);

impl ExpressKey {
    const SLOT: u64 = 1 << 31;
    const FIRST6: u64 = 1 << 30;
    const ENTRY: u64 = Self::FIRST6 - 1;

    /// The key of entry `entry`. Not masked: an entry index is below
    /// [`VniTable::MAX_ENTRIES`](crate::dataplane::tables::VniTable::MAX_ENTRIES)
    /// (2^25), so it never reaches the flags, and the loop saves the mask.
    #[inline(always)]
    fn new(entry: u32, high: u32, slot: bool) -> ExpressKey {
        let flag = if slot { Self::SLOT } else { 0 };
        ExpressKey(u64::from(entry) | flag | (u64::from(high) << 32))
    }

    /// How many keys at the front of `keys` equal the first: the run the
    /// worker sends and counts at once. A run of one is told by one compare
    /// (at many VNIs every packet has its own); else eight keys a step (the
    /// usual burst is one run: a compare and a branch per key, the loop's
    /// own cost once per eight), then one at a time.
    #[inline(always)]
    pub fn run_len(keys: &[ExpressKey]) -> usize {
        let Some(&ExpressKey(first)) = keys.first() else {
            return 0;
        };
        if keys.get(1).is_none_or(|k| k.0 != first) {
            return 1;
        }
        let (eights, _) = keys.as_chunks::<8>();
        let mut n = 0;
        for eight in eights {
            if eight.iter().any(|k| k.0 != first) {
                break;
            }
            n += 8;
        }
        n + keys
            .get(n..)
            .unwrap_or_default()
            .iter()
            .take_while(|k| k.0 == first)
            .count()
    }

    /// The VNI's entry index.
    #[inline(always)]
    pub fn entry(self) -> usize {
        (self.0 & Self::ENTRY) as usize
    }

    /// The access port and the counter slots (the VNI's, and the tunnel
    /// whose remote sent the packet) of a key made with counting on; of
    /// one made without, the port only is meaningful.
    #[inline]
    pub fn resolve(self, t: &Tables) -> ExpressDecap {
        match t.vnis.entry_at(self.entry()) {
            Some(out) => ExpressDecap {
                port: out.port,
                vni: out.counter,
                tunnel: self.tunnel_of(out),
            },
            // Never: the key's entry is from these tables.
            None => ExpressDecap {
                port: u16::MAX,
                vni: NO_SLOT,
                tunnel: NO_SLOT,
            },
        }
    }

    /// The tunnel slot the key names, with `out` its VNI's entry.
    #[inline(always)]
    pub fn tunnel_of(self, out: &VniOut) -> u32 {
        let high = (self.0 >> 32) as u32;
        if self.0 & Self::SLOT != 0 {
            high
        } else if self.0 & Self::FIRST6 != 0 {
            out.first_v6_source().1
        } else {
            out.source_slot_v4(high)
        }
    }
}

/// The decap express tier keyed for its burst loop ([`ExpressKey`]):
/// counting per entry (`C`) or not (`metrics.entry_counters: false`: no
/// read of the outer source). The same packets taken and the same bytes
/// as [`underlay_express`].
#[inline(always)]
pub fn underlay_express_key<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    hint: H,
) -> Option<ExpressKey> {
    let d = match t
        .decap
        .decap_fast_v4_pattern(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => d,
        Some(_) => return None,
        // Not the IPv4 pattern: perhaps an L3 tunnel's or IPv6, not
        // inlined (its delivery merged with the IPv4 one's goes through
        // the stack, see BENCHMARKS.md).
        None => return underlay_express_other(t, buf, C, hint),
    };
    express_deliver::<C, B, H>(t, buf, d, hint)
}

/// [`underlay_express_counted`] for a gateway without L2 VNIs (no
/// Ethernet pattern, `Decapsulator::has_ethernet_pattern`): the L3
/// tunnels' IPv4 pattern inlined, the IPv6 underlay out of line. The same
/// result as [`underlay_express_counted`] for every packet (the patterns
/// are disjoint: they differ in the protocol type or the EtherType), one
/// call fewer.
#[inline(always)]
pub fn underlay_express_ip<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    hint: H,
) -> Option<ExpressKey> {
    match t
        .decap
        .decap_fast_v4_pattern_ip(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => express_deliver_ip::<C, B, H>(t, buf, d, hint),
        Some(_) => None,
        None => underlay_express_rest::<C, B, H>(t, buf, hint),
    }
}

/// What [`underlay_express_ip`] leaves: the Ethernet pattern should the
/// tables have one, then the IPv6 underlay through
/// `underlay_express_other` (its one caller of the IPv6 tier, which
/// stays inlined there). Not inlined.
#[inline(never)]
fn underlay_express_rest<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    hint: H,
) -> Option<ExpressKey> {
    match t
        .decap
        .decap_fast_v4_pattern(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => express_deliver::<C, B, H>(t, buf, d, hint),
        Some(_) => None,
        None => underlay_express_other(t, buf, C, hint),
    }
}

/// [`underlay_express_counted`] with the IPv6 fast tier first and in
/// line, for a burst whose first frame is IPv6 (the worker picks the loop
/// per burst): the IPv4 patterns out of line after it. The same result as
/// [`underlay_express_counted`] for every packet: the IPv6 tier takes only
/// EtherType 0x86dd, the IPv4 patterns only 0x0800, so the order changes
/// no verdict.
#[inline(always)]
pub fn underlay_express_v6<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    hint: H,
) -> Option<ExpressKey> {
    match t
        .decap
        .decap_fast_v6(buf.data(), buf.rx_outer_udp_checksum_good())
    {
        Some(d) => express_deliver::<C, B, H>(t, buf, d, hint),
        None => underlay_express_v4(t, buf, C, hint),
    }
}

/// The IPv4 patterns of [`underlay_express_counted`] (Ethernet, then an
/// L3 tunnel's), for [`underlay_express_v6`]; counting per entry as a
/// run-time flag (one copy). Not inlined.
#[inline(never)]
fn underlay_express_v4<B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    count: bool,
    hint: H,
) -> Option<ExpressKey> {
    let hw = buf.rx_ipv4_checksum_good();
    match t.decap.decap_fast_v4_pattern(buf.data(), hw) {
        Some(FastVerdict::Deliver(d)) if count => {
            return express_deliver::<true, B, H>(t, buf, d, hint)
        }
        Some(FastVerdict::Deliver(d)) => return express_deliver::<false, B, H>(t, buf, d, hint),
        Some(_) => return None,
        None => {}
    }
    match t.decap.decap_fast_v4_pattern_ip(buf.data(), hw) {
        Some(FastVerdict::Deliver(d)) if count => express_deliver_ip::<true, B, H>(t, buf, d, hint),
        Some(FastVerdict::Deliver(d)) => express_deliver_ip::<false, B, H>(t, buf, d, hint),
        _ => None,
    }
}

/// The stitch express tier, for the front of a burst after
/// [`underlay_express`] declined: a VXLAN packet of the VXLAN fast tier, or
/// a Geneve one of the header pattern, to a stitched segment's VNI that
/// takes the short path (`deliver_stitched`), for a known MAC behind a
/// tunnel of another mesh group whose template the encap fast tier takes:
/// decapsulated and encapsulated in place, `Some((underlay port, the new
/// header is VXLAN))`, exactly as [`underlay`] does it. `None`, the buffer
/// as it was, for everything else (floods, drops, options that would not
/// cross, anything the fast tiers decline), which [`underlay`] decides.
///
/// `cache` holds the worker's last destination lookup (as
/// [`MacCache`](super::MacCache) does on the access side): valid for one
/// tables generation and segment. With `C` (the worker counts per entry)
/// the cache then names the frame's run ([`StitchCache::last`],
/// [`StitchRun`]).
#[inline(never)]
pub fn stitch_express<const C: bool, B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    cache: &mut StitchCache,
) -> Option<StitchedFrame> {
    let hw = buf.rx_ipv4_checksum_good();
    // The UDP destination port (untagged IPv4, IHL 5) says which fast
    // tier to ask; each checks it again.
    let to_vxlan_port = buf.data().get(36..38).map(|p| [p[0], p[1]])
        == t.decap.config().vxlan_port.map(u16::to_be_bytes);
    let d = if to_vxlan_port {
        match t.decap.decap_fast_vxlan_v4(buf.data(), hw)? {
            FastVerdict::Deliver(d) => d,
            _ => return None,
        }
    } else {
        match t.decap.decap_fast_v4_pattern(buf.data(), hw)? {
            FastVerdict::Deliver(d) => d,
            _ => return None,
        }
    };
    let out = t.vnis.get(vni_key(d.encap, d.vni))?;
    if !stitch_short_path(t, out, &d)
        || d.padding != 0
        || d.inner.changed
        || buf.total_len() != buf.len()
    {
        return None;
    }
    let segment = out.segment?;
    let seg = t.segments.get(segment)?;
    let mesh = seg.mesh.as_deref()?;
    let front = usize::from(d.payload_offset);
    let inner = buf.data().get(front..)?;
    let dst: [u8; 6] = *inner.first_chunk::<6>()?;
    if tagged(inner) || is_group_mac(&dst) {
        return None;
    }
    let hit = cache.generation == t.generation
        && cache.segment == segment
        && cache.mac == dst
        && cache.template.is_some();
    if !hit {
        let mac = seg.macs.get(&dst);
        let template = mac.and_then(|m| m.template());
        // The destination's group: from the segment's template list, else
        // (an entry added since the tables were built) by its remote.
        let group = match (mac, template) {
            (Some(m), Some(id)) => mesh.template_group(id).unwrap_or_else(|| {
                let to = t.templates.get(id as usize).map(|t| t.encapsulation());
                mesh.group_of(m.remote, to.unwrap_or_default())
            }),
            _ => 0,
        };
        cache.generation = t.generation;
        cache.segment = segment;
        cache.mac = dst;
        cache.template = template;
        cache.group = group;
    }
    let id = cache.template?;
    let tpl = t.templates.get(id as usize)?;
    let to_vxlan = tpl.encapsulation() == Encapsulation::Vxlan;
    if !tpl.has_fast_ethernet()
        || (to_vxlan && d.options.count != 0)
        || !matches!(t.flow_variants.get(id as usize), None | Some(None))
        || cache.group == mesh.source_group(&d)
        // The fast tiers take IPv4 underlays only (the run's key holds an
        // IPv4 source).
        || d.outer_ipv6
    {
        return None;
    }
    if C {
        // What names the frame's run (see [`StitchRun`]): the VNI's key,
        // the outer source as the delivery holds it (in memory already:
        // `source_group` read it) and the template. Two stores before the
        // encap, nothing of it live across the encap fast tier; read by
        // the worker's loop only for a frame taken.
        let (src, _) = d.src_raw();
        let source = u32::from_ne_bytes([src[0], src[1], src[2], src[3]]);
        cache.last = StitchKey {
            key: StitchKey::key(vni_key(d.encap, d.vni), source),
            template: id,
        };
    }
    buf.trim_front(front).ok()?;
    if crate::tunnel::encap_fast_ethernet(tpl, buf, None) {
        return Some(StitchedFrame {
            port: t.underlay_port,
            to_vxlan,
        });
    }
    // Declined with the inner frame untouched: the outer header is still
    // in front of it.
    let _ = buf.prepend(front);
    None
}

/// A frame [`stitch_express`] decapsulated and encapsulated again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StitchedFrame {
    /// The underlay port it leaves by.
    pub port: u16,
    /// Its new header is VXLAN.
    pub to_vxlan: bool,
}

/// The last destination [`stitch_express`] looked up: a segment's MAC and
/// its template, for one tables generation; and, with counting, the run
/// of the last frame it took ([`last`](Self::last)).
#[derive(Debug, Default, Clone, Copy)]
pub struct StitchCache {
    generation: u64,
    segment: usize,
    mac: [u8; 6],
    template: Option<crate::dataplane::tables::TemplateId>,
    /// The mesh group of `template`.
    group: u16,
    last: StitchKey,
}

impl StitchCache {
    /// The run of the last frame [`stitch_express`] took with counting
    /// (meaningful right after it returned `Some`).
    #[inline(always)]
    pub fn last(&self) -> StitchKey {
        self.last
    }
}

/// What names a stitched frame's run: its VNI's key in the `VniTable`
/// (`stitch::vni_key`, bits 0..32) and its outer IPv4 source as the frame
/// held it (bits 32..64); its template.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StitchKey {
    key: u64,
    template: crate::dataplane::tables::TemplateId,
}

impl StitchKey {
    #[inline(always)]
    fn key(vni: u32, source: u32) -> u64 {
        u64::from(vni) | (u64::from(source) << 32)
    }
}

/// Stitched frames in a row from one source to one tunnel out: one VNI
/// (its key in the `VniTable`, `stitch::vni_key`), one outer IPv4 source
/// as the frame held it, one template (the [`StitchKey`] the tier left
/// in [`StitchCache::last`]); counted into the cells once, when one of them changes
/// or the worker's loop ends ([`flush`](Self::flush), with the tables
/// the frames were taken with). Per frame the worker's loop compares two
/// words and adds two: the VNI's entry and the tunnel of the source are
/// found once per run (`VniOut::source_slot_v4`), the tunnel out from the
/// template; the inner bytes (the decap side's) are the bytes on the
/// wire less the template's header per frame (the encap fast tier
/// prepends exactly `EncapTemplate::header_len`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StitchRun {
    key: StitchKey,
    /// The frames (bits 48..64) and their bytes on the wire (0..48), one
    /// add per frame in one register: a run is counted at the end of
    /// every burst at the latest, far below either limit.
    frames: u64,
}

impl StitchRun {
    const ONE: u64 = 1 << 48;

    /// A frame of run `k` ([`StitchCache::last`]), `wire` bytes
    /// re-encapsulated, taken with tables `t`.
    #[inline(always)]
    pub fn add(&mut self, t: &Tables, e: &WorkerEntries, k: StitchKey, wire: u64) {
        if k != self.key {
            self.switch(t, e, k);
        }
        debug_assert!(wire < Self::ONE && self.frames < u64::MAX - Self::ONE - wire);
        self.frames += Self::ONE + wire;
    }

    #[cold]
    #[inline(never)]
    fn switch(&mut self, t: &Tables, e: &WorkerEntries, k: StitchKey) {
        self.flush(t, e);
        self.key = k;
    }

    /// Counts the run into `e` (decapsulated under its VNI and the tunnel
    /// whose remote sent it, encapsulated under its tunnel out), `t` the
    /// tables its frames were taken with.
    #[inline(never)]
    pub fn flush(&mut self, t: &Tables, e: &WorkerEntries) {
        if self.frames == 0 {
            return;
        }
        let (packets, wire) = (self.frames >> 48, self.frames & (Self::ONE - 1));
        self.frames = 0;
        // Both from the tables the frames were taken with: never absent.
        let Some(tpl) = t.templates.get(self.key.template as usize) else {
            return;
        };
        let inner = wire - packets * tpl.header_len() as u64;
        if let Some(out) = t.vnis.get(self.key.key as u32) {
            let source = out.source_slot_v4((self.key.key >> 32) as u32);
            e.decap(out.counter, source, packets, inner);
        }
        e.encap(tpl.counter(), packets, wire);
    }
}

/// [`underlay_express`] for an L3 tunnel's IPv4 packets (the pattern with
/// protocol type 0x0800) and over an IPv6 underlay. Not inlined: the IPv4
/// express tier keeps its registers. Counting per entry (`count`) is a
/// run-time flag here, not a const generic: one copy of this function
/// keeps it the one caller of the IPv6 tier, which then stays inlined (two
/// copies put `decap_fast_v6` out of line, see BENCHMARKS.md).
#[inline(never)]
fn underlay_express_other<B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    count: bool,
    hint: H,
) -> Option<ExpressKey> {
    match t
        .decap
        .decap_fast_v4_pattern_ip(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) if count => express_deliver_ip::<true, B, H>(t, buf, d, hint),
        Some(FastVerdict::Deliver(d)) => express_deliver_ip::<false, B, H>(t, buf, d, hint),
        Some(_) => None,
        None => {
            let hw = buf.rx_outer_udp_checksum_good();
            let d = t.decap.decap_fast_v6(buf.data(), hw)?;
            if count {
                express_deliver::<true, B, H>(t, buf, d, hint)
            } else {
                express_deliver::<false, B, H>(t, buf, d, hint)
            }
        }
    }
}

/// The [`ExpressKey`] of a delivery `d` to entry `entry` (`out`) of a
/// frame not yet trimmed; `None` (never for a delivery of the fast
/// tiers) when the outer source is not in the frame.
#[inline(always)]
fn express_key<const C: bool>(
    frame: &[u8],
    entry: u32,
    out: &VniOut,
    d: &Delivery,
) -> Option<ExpressKey> {
    if !C {
        return Some(ExpressKey::new(entry, 0, false));
    }
    let l3 = usize::from(d.outer_l3);
    if d.outer_ipv6 {
        let src = frame.get(l3 + 8..l3 + 24)?.first_chunk::<16>()?;
        if *src == out.first_v6_source().0 {
            return Some(ExpressKey(u64::from(entry) | ExpressKey::FIRST6));
        }
        return Some(ExpressKey::new(entry, out.source_slot_v6_other(*src), true));
    }
    let &[a, b, c, w] = frame.get(l3 + 12..l3 + 16)? else {
        return None;
    };
    Some(ExpressKey::new(
        entry,
        u32::from_ne_bytes([a, b, c, w]),
        false,
    ))
}

/// The express tier's delivery of an L3 tunnel's IPv4 packet `d` to a
/// plain VNI (no policy, a configured next-hop MAC, no VLAN tag): the
/// inner Ethernet header is written over the last 14 bytes of the outer
/// headers, in place, instead of trimming them all and prepending it, as
/// [`deliver`] does. `None`, buffer untouched, for anything else.
#[inline(always)]
fn express_deliver_ip<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    hint: H,
) -> Option<ExpressKey> {
    const ETH: usize = 14;
    let (entry, out, fast) = hint.get_fast_at(&t.vnis, d.vni.get())?;
    let (front, back) = (usize::from(d.payload_offset), d.padding as usize);
    // `front` is past the outer Ethernet, IP, UDP and Geneve headers.
    let eth_at = front.checked_sub(ETH)?;
    // Plain for IP packets, untagged (a plain L3 VNI has its MAC).
    let (Some(dst), true) = (out.eth_dst, fast.express_ip()) else {
        return None;
    };
    if d.payload != PayloadKind::Ipv4
        || front + back > buf.len()
        || buf.len() - eth_at - back > out.max_untagged_frame
    {
        return None;
    }
    let key = express_key::<C>(buf.data(), entry, out, &d)?;
    let h = buf.data_mut().get_mut(eth_at..front)?;
    h[0..6].copy_from_slice(&dst);
    h[6..12].copy_from_slice(&out.eth_src);
    h[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
    buf.trim_front(eth_at).ok()?;
    if back != 0 {
        buf.trim_back(back).ok()?;
    }
    Some(key)
}

/// Whether trimming `front` and `back` bytes off a frame of `len` bytes
/// leaves an inner frame no longer than `out`'s port takes. The fast
/// tiers cut the frame into front, payload (`payload_len`) and padding, so
/// over IPv4 one compare that the three make up the frame exactly stands
/// for "the trims fit" and gives the inner length without subtracting it
/// out again (the IPv4 cases 2 to 5 fewer per packet); over IPv6 the
/// subtraction stays (the compare cost that loop 3 to 4 more, register
/// allocation). `outer_ipv6` is a constant where the fast tier is inlined,
/// so each loop has one form only. The same verdict either way for every
/// fast-tier delivery.
#[inline(always)]
fn trims_fit(
    len: usize,
    front: usize,
    back: usize,
    payload_len: u16,
    outer_ipv6: bool,
    out: &VniOut,
) -> bool {
    if outer_ipv6 {
        front + back <= len && len - front - back <= out.max_untagged_frame
    } else {
        let inner = usize::from(payload_len);
        front + inner + back == len && inner <= out.max_untagged_frame
    }
}

/// The express tier's delivery of `d` (see [`underlay_express`]).
#[inline(always)]
fn express_deliver<const C: bool, B: Buffer + ?Sized, H: VniLookup>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    hint: H,
) -> Option<ExpressKey> {
    let (entry, out, fast) = hint.get_fast_at(&t.vnis, d.vni.get())?;
    let (front, back) = (usize::from(d.payload_offset), d.padding as usize);
    // Nothing changes unless all of it can be done: a plain VNI that
    // carries Ethernet frames, untagged. An Ethernet frame to an L3 VNI or
    // an IP payload to an L2 one is for `underlay` to drop as not carried
    // (the fast tiers leave a frame with an inner tag to it too). A frame
    // longer than the port's untagged limit goes to the general tier,
    // whose `Tables::over_mtu` check counts VLAN tags and the drop.
    if !fast.express_ethernet()
        || d.payload != PayloadKind::Ethernet
        || !trims_fit(buf.len(), front, back, d.payload_len, d.outer_ipv6, out)
    {
        return None;
    }
    let key = express_key::<C>(buf.data(), entry, out, &d)?;
    apply_inner_update(buf.data_mut(), &d.inner);
    buf.trim_front(front).ok()?;
    if back != 0 {
        buf.trim_back(back).ok()?;
    }
    Some(key)
}

/// [`underlay`] for the IPv4 fast tier's packets the pattern does not
/// cover (UDP checksum, IP payload, ECN marks...), and the general tier.
/// Not inlined: [`underlay`] keeps the pattern's registers.
#[inline(never)]
fn underlay_fast_v4<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    events: &mut impl FnMut(Event),
) -> Outcome {
    // VXLAN (when received) has a fast tier of its own; `None` at once
    // when it is not received.
    match t
        .decap
        .decap_fast_vxlan_v4(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => return deliver_vxlan_fast(t, buf, d, events),
        Some(FastVerdict::Drop(r)) => return not_delivered(t, buf, Verdict::Drop(r)),
        Some(FastVerdict::General) | None => {}
    }
    match t
        .decap
        .decap_fast_v4(buf.data(), buf.rx_ipv4_checksum_good())
    {
        FastVerdict::Deliver(d) => deliver_fast(t, buf, d, events),
        v => fast_not_delivered(t, buf, v, events),
    }
}

/// A delivery of the VXLAN fast tier: a stitched segment's VNI without
/// other policy takes [`deliver_stitched`] at once, anything else
/// [`deliver`].
#[inline(never)]
fn deliver_vxlan_fast<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    match t.vnis.get(vni_key(d.encap, d.vni)) {
        Some(out) if stitch_short_path(t, out, &d) => {
            events(Event::Counted {
                vni: out.counter,
                tunnel: out.source_slot(&d),
            });
            deliver_stitched(t, buf, &d, out, events)
        }
        _ => deliver(t, buf, d, events),
    }
}

/// Whether a delivery `d` to VNI entry `out` takes [`deliver_stitched`]:
/// a stitched segment, Ethernet, no learning, no policy.
#[inline(always)]
fn stitch_short_path(t: &Tables, out: &VniOut, d: &Delivery) -> bool {
    out.stitched
        && !t.learning
        && d.payload == PayloadKind::Ethernet
        && out.allow_from.is_none()
        && out.require_mask == 0
        && out.security_tags.is_empty()
        && out.flow_id.is_none()
}

/// A fast-tier drop, or the general tier's verdict when the fast tier
/// declined.
#[inline(never)]
fn fast_not_delivered<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    v: FastVerdict,
    events: &mut impl FnMut(Event),
) -> Outcome {
    match v {
        // Callers handle deliveries before; correct anyway.
        FastVerdict::Deliver(d) => deliver_with_policy(t, buf, d, events),
        FastVerdict::Drop(r) => not_delivered(t, buf, Verdict::Drop(r)),
        FastVerdict::General => match t.decap.decap_general(buf.data()) {
            Verdict::Deliver(d) => deliver_with_policy(t, buf, d, events),
            v => not_delivered(t, buf, v),
        },
    }
}

/// [`deliver`] for what the fast tier accepted. A [plain](crate::dataplane::tables::VniOut::is_plain)
/// VNI needs only the inner frame: trim, and tag if the VNI says so. Any
/// other takes [`deliver`].
#[inline(always)]
fn deliver_fast<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    let Some((out, fast)) = t.vnis.get_fast(d.vni.get()) else {
        return Outcome::Drop(DropReason::UnknownVni);
    };
    // An Ethernet frame to a plain L2 VNI; anything else (an Ethernet
    // frame to an L3 VNI is dropped as not carried) takes `deliver`.
    if !fast.plain_ethernet() || d.payload != PayloadKind::Ethernet {
        return deliver_with_policy(t, buf, d, events);
    }
    events(Event::Counted {
        vni: out.counter,
        tunnel: out.source_slot(&d),
    });
    apply_inner_update(buf.data_mut(), &d.inner);
    if buf.trim_front(usize::from(d.payload_offset)).is_err()
        || (d.padding != 0 && buf.trim_back(d.padding as usize).is_err())
    {
        return Outcome::Drop(DropReason::InnerMalformed);
    }
    to_access_port(buf, out)
}

/// [`deliver`] not inlined, for a delivery (of either tier) whose VNI has
/// a policy, learning or an IP payload, or that the general tier made.
#[inline(never)]
pub(super) fn deliver_with_policy<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    deliver(t, buf, d, events)
}

/// A delivery to a stitched segment's VNI that has no other policy: the
/// inner frame, then [`stitch::forward`]; what it leaves to the access
/// port goes there as [`deliver`] would send it.
#[inline(never)]
fn deliver_stitched<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: &Delivery,
    out: &VniOut,
    events: &mut impl FnMut(Event),
) -> Outcome {
    apply_inner_update(buf.data_mut(), &d.inner);
    if buf.trim_front(usize::from(d.payload_offset)).is_err()
        || (d.padding != 0 && buf.trim_back(d.padding as usize).is_err())
    {
        return Outcome::Drop(DropReason::InnerMalformed);
    }
    if tagged(buf.data()) {
        return Outcome::Drop(DropReason::InnerVlanTag);
    }
    if let Some(o) = out
        .segment
        .and_then(|seg| stitch::forward(t, seg, d, buf, events))
    {
        return o;
    }
    match (push_segment_tag(buf, out), d.encap) {
        (Outcome::Decapped(port), Encapsulation::Vxlan) => Outcome::DecappedVxlan(port),
        (o, _) => o,
    }
}

/// A control packet or a drop.
#[inline(never)]
pub(super) fn not_delivered<B: Buffer + ?Sized>(t: &Tables, buf: &B, v: Verdict) -> Outcome {
    match v {
        // Callers handle deliveries before; never reached.
        Verdict::Deliver(_) => Outcome::Drop(DropReason::InnerMalformed),
        // Control packets follow the data rules first: a known VNI, a
        // listed source VTEP.
        Verdict::Control(d) => match t.vnis.get(d.vni.get()) {
            None => Outcome::Drop(DropReason::UnknownVni),
            Some(out)
                if out
                    .allow_from
                    .as_ref()
                    .is_some_and(|a| !a.contains(&d.src_vtep())) =>
            {
                Outcome::Drop(DropReason::SourceVtepNotAllowed)
            }
            Some(_) => Outcome::Punt(PuntKind::GeneveControl),
        },
        Verdict::Drop(
            r @ (DropReason::NotIp | DropReason::NotLocalAddress | DropReason::NotUdp),
        ) => {
            if punt_worthy(t, buf.data()) {
                Outcome::Punt(PuntKind::Local)
            } else {
                Outcome::Drop(r)
            }
        }
        Verdict::Drop(r) => Outcome::Drop(r),
    }
}

/// The decap tables' verdict on a delivered packet, and the inner frame
/// made ready to send.
#[inline(always)]
fn deliver<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    let Some(out) = t.vnis.get(vni_key(d.encap, d.vni)) else {
        return Outcome::Drop(DropReason::UnknownVni);
    };
    events(Event::Counted {
        vni: out.counter,
        tunnel: out.source_slot(&d),
    });
    // A stitched segment's VNI with no other policy: its own short path.
    if stitch_short_path(t, out, &d) {
        return deliver_stitched(t, buf, &d, out, events);
    }
    // The protocol type and the VNI together: what the VNI does not carry
    // never reaches its port.
    let carried = match out.payload {
        Payload::Ethernet => d.payload == PayloadKind::Ethernet,
        Payload::Ip => d.payload != PayloadKind::Ethernet,
    };
    if !carried {
        return Outcome::Drop(DropReason::PayloadNotAllowed);
    }
    // The source VTEP (parsed with the outer header, carried by `d`) is
    // converted only when a policy or learning needs it.
    let learn_seg = match (t.learning, out.payload, out.segment) {
        (true, Payload::Ethernet, Some(seg)) => Some(seg),
        _ => None,
    };
    let src_vtep = if out.allow_from.is_some() || learn_seg.is_some() {
        Some(d.src_vtep())
    } else {
        None
    };
    if let Some(allow) = &out.allow_from {
        if !src_vtep.is_some_and(|s| allow.contains(&s)) {
            return Outcome::Drop(DropReason::SourceVtepNotAllowed);
        }
    }
    if d.options.known & out.require_mask != out.require_mask {
        return Outcome::Drop(DropReason::RequiredOptionMissing);
    }
    if !out.security_tags.is_empty() {
        let frame = buf.data();
        let start = usize::from(d.options_offset);
        let opts = frame
            .get(start..start + usize::from(d.options_len))
            .unwrap_or(&[]);
        for tag in &out.security_tags {
            let value = GeneveOptionIter::new(opts)
                .flatten()
                .find(|o| o.class == tag.class && o.typ == tag.typ)
                .map(|o| o.data);
            if !tag.allows(value) {
                return Outcome::Drop(DropReason::SecurityTagDenied);
            }
        }
    }
    let mut flow_id: Option<FlowId> = None;
    if let Some((class, typ)) = out.flow_id {
        let frame = buf.data();
        let start = usize::from(d.options_offset);
        let opts = frame
            .get(start..start + usize::from(d.options_len))
            .unwrap_or(&[]);
        flow_id = GeneveOptionIter::new(opts)
            .flatten()
            .find(|o| o.class == class && o.typ == typ)
            .and_then(|o| FlowId::new(o.data));
    }
    apply_inner_update(buf.data_mut(), &d.inner);
    let tail = buf.len() - usize::from(d.payload_offset) - usize::from(d.payload_len);
    if buf.trim_front(usize::from(d.payload_offset)).is_err() || buf.trim_back(tail).is_err() {
        return Outcome::Drop(DropReason::InnerMalformed);
    }
    if let Some(id) = flow_id {
        let key = match out.payload {
            Payload::Ethernet => key_of_ethernet(buf.data()),
            Payload::Ip => key_at(buf.data(), 0),
        };
        if let Some(key) = key {
            if t.flows.pin().get(&key) != Some(&id) {
                events(Event::FlowId { key, id });
            }
        }
    }
    match out.payload {
        Payload::Ethernet => {
            // Checked before learning too: a tagged frame teaches nothing.
            if tagged(buf.data()) {
                return Outcome::Drop(DropReason::InnerVlanTag);
            }
            if let (Some(seg), Some(remote)) = (learn_seg, src_vtep) {
                let f = buf.data();
                let mut mac = [0u8; 6];
                mac.copy_from_slice(f.get(6..12).unwrap_or(&[0; 6]));
                // Never learn a group (multicast, broadcast) or all-zero
                // source MAC, nor from a packet claiming to come from us.
                // Nor from a remote this encapsulation would not reach
                // back (a VXLAN sender that is not a VXLAN member).
                let reachable = t.segments[seg]
                    .mesh
                    .as_ref()
                    .is_none_or(|m| m.encap_of(remote) == d.encap);
                if is_group_mac(&mac)
                    || mac == [0; 6]
                    || t.local_underlay.contains(&remote)
                    || !reachable
                {
                    events(Event::LearnRefused);
                } else {
                    let known = t.segments[seg].macs.get(&mac);
                    if known.is_none_or(|e| e.learned && e.remote != remote) {
                        events(Event::Learn {
                            segment: seg,
                            mac,
                            remote,
                        });
                    }
                }
            }
            if out.stitched {
                if let Some(o) = out
                    .segment
                    .and_then(|seg| stitch::forward(t, seg, &d, buf, events))
                {
                    return o;
                }
            }
            if let Some(vid) = out.vlan {
                if !push_vlan(buf, vid) {
                    return Outcome::Drop(DropReason::EncapNoRoom);
                }
            }
            if d.encap == Encapsulation::Vxlan {
                return Outcome::DecappedVxlan(out.port);
            }
        }
        Payload::Ip => {
            let (et, inner_dst) = {
                let f = buf.data();
                if f.first().map(|b| b >> 4) == Some(6) && f.len() >= 40 {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&f[24..40]);
                    (EtherType::IPV6, IpAddr::from(a))
                } else if f.len() >= 20 {
                    (EtherType::IPV4, IpAddr::from([f[16], f[17], f[18], f[19]]))
                } else {
                    return Outcome::Drop(DropReason::InnerMalformed);
                }
            };
            let dst_mac = match out.eth_dst {
                Some(m) => m,
                None => match t.neighbors.get(&inner_dst) {
                    Some(m) => *m,
                    None => {
                        events(Event::Resolve(inner_dst));
                        return Outcome::Drop(DropReason::NextHopUnresolved);
                    }
                },
            };
            let hdr = if out.vlan.is_some() { 18 } else { 14 };
            let Ok(h) = buf.prepend(hdr) else {
                return Outcome::Drop(DropReason::EncapNoRoom);
            };
            h[0..6].copy_from_slice(&dst_mac);
            h[6..12].copy_from_slice(&out.eth_src);
            if let Some(vid) = out.vlan {
                h[12..14].copy_from_slice(&EtherType::VLAN.to_be_bytes());
                h[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
            }
            h[hdr - 2..hdr].copy_from_slice(&et.to_be_bytes());
        }
    }
    Outcome::Decapped(out.port)
}

#[cfg(test)]
mod run_len_tests {
    use super::ExpressKey;

    proptest::proptest! {
        /// The run at the front is as long as a one-by-one count says,
        /// for bursts of every length (full steps of eight, a partial one,
        /// none) and runs that end anywhere, keys that differ in the entry,
        /// the flags or the source.
        #[test]
        fn run_len_counts_the_keys_equal_to_the_first(
            picks in proptest::collection::vec((0u32..3, 0u32..2, proptest::bool::ANY), 0..40),
        ) {
            let keys: Vec<ExpressKey> = picks
                .iter()
                .map(|&(entry, high, slot)| ExpressKey::new(entry, high, slot))
                .collect();
            let want = keys.first().map_or(0, |&f| keys.iter().take_while(|&&k| k == f).count());
            proptest::prop_assert_eq!(ExpressKey::run_len(&keys), want);
        }
    }

    #[test]
    fn a_burst_of_one_run_is_one_run() {
        let k = ExpressKey::new(7, 0x0100_12c6, false);
        for n in [1, 7, 8, 9, 16, 31, 32] {
            let mut keys = vec![k; n];
            assert_eq!(ExpressKey::run_len(&keys), n);
            // One other key anywhere ends the run there.
            for at in 1..n {
                keys[at] = ExpressKey::new(7, 0x0100_12c6, true);
                assert_eq!(ExpressKey::run_len(&keys), at, "{n} keys, other at {at}");
                keys[at] = k;
            }
        }
        assert_eq!(ExpressKey::run_len(&[]), 0);
    }
}
