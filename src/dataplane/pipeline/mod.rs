//! What the gateway does with one packet, on any [`Buffer`]: classify,
//! encapsulate or decapsulate, and say where it goes. No DPDK here, so every
//! decision is unit-tested on plain buffers; the worker loop executes the
//! [`Outcome`] on mbufs.
use std::net::IpAddr;

use crate::config::Payload;
use crate::tunnel::decap::{FastDelivery, FastVerdict};
use crate::tunnel::{
    apply_inner_update, encap, encap_fast_ethernet, Buffer, Delivery, DropReason, EncapError,
    EncapTemplate, Verdict,
};
use crate::wire::checksum;
use crate::wire::ethernet::{l3_offset, EtherType};
use crate::wire::geneve::GeneveOptionIter;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::Ipv6Packet;

use super::flows::{key_at, key_of_ethernet, FlowId, FlowKey};
use super::tables::{lpm_key, AccessIn, Tables};

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_VLAN: u16 = 0x8100;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// Why the gateway dropped a packet: the tunnel's decap reasons plus the
/// gateway's own. Each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GwDrop {
    Decap(DropReason),
    /// Access frame on a port/VLAN that belongs to no segment or L3 access.
    NoSegment,
    /// L3: no route for the inner destination.
    NoRoute,
    /// The underlay next hop (or L3 inner next hop) is not resolved yet.
    NextHopUnresolved,
    /// Decapsulated VNI has no decap entry.
    UnknownVni,
    /// Source VTEP not in the VNI's allow list.
    SourceVtepNotAllowed,
    /// A required option is missing.
    RequiredOptionMissing,
    /// A security-tag policy denied the packet.
    SecurityTagDenied,
    /// Not enough room in the buffer for the outer headers.
    EncapNoRoom,
    /// Inner packet larger than the tunnel MTU.
    EncapTooBig,
    /// L3 mode: an access frame that is not IPv4/IPv6 (or of a family the route's tunnel does not carry).
    InnerNotIp,
    /// Broadcast/unknown unicast with an empty flood list.
    NoFloodTarget,
    /// The control thread's queue was full.
    PuntQueueFull,
    /// No mbuf to replicate a flooded frame.
    ReplicationNoMbuf,
    /// The NIC did not take the packet.
    TxFull,
    /// A frame shorter than an Ethernet header on an access port.
    AccessTruncated,
    /// No mbuf for a segment of a too-big TCP frame (the rest of that
    /// frame's segments are counted here too).
    SegmentNoMbuf,
}

/// Gateway-specific reasons after the decap ones, in counter order.
pub const GW_REASONS: [GwDrop; 16] = [
    GwDrop::NoSegment,
    GwDrop::NoRoute,
    GwDrop::NextHopUnresolved,
    GwDrop::UnknownVni,
    GwDrop::SourceVtepNotAllowed,
    GwDrop::RequiredOptionMissing,
    GwDrop::SecurityTagDenied,
    GwDrop::EncapNoRoom,
    GwDrop::EncapTooBig,
    GwDrop::InnerNotIp,
    GwDrop::NoFloodTarget,
    GwDrop::PuntQueueFull,
    GwDrop::ReplicationNoMbuf,
    GwDrop::TxFull,
    GwDrop::AccessTruncated,
    GwDrop::SegmentNoMbuf,
];

/// Number of drop counters.
pub const DROP_COUNT: usize = DropReason::COUNT + GW_REASONS.len();

impl GwDrop {
    /// Counter index.
    pub fn index(self) -> usize {
        match self {
            GwDrop::Decap(r) => r as usize,
            other => DropReason::COUNT + GW_REASONS.iter().position(|g| *g == other).unwrap_or(0),
        }
    }

    /// Every reason in counter order.
    pub fn all() -> impl Iterator<Item = GwDrop> {
        DropReason::ALL
            .iter()
            .map(|r| GwDrop::Decap(*r))
            .chain(GW_REASONS)
    }

    /// Stable snake_case counter name.
    pub fn as_str(self) -> &'static str {
        match self {
            GwDrop::Decap(r) => r.as_str(),
            GwDrop::NoSegment => "no_segment",
            GwDrop::NoRoute => "no_route",
            GwDrop::NextHopUnresolved => "next_hop_unresolved",
            GwDrop::UnknownVni => "unknown_vni",
            GwDrop::SourceVtepNotAllowed => "source_vtep_not_allowed",
            GwDrop::RequiredOptionMissing => "required_option_missing",
            GwDrop::SecurityTagDenied => "security_tag_denied",
            GwDrop::EncapNoRoom => "encap_no_room",
            GwDrop::EncapTooBig => "encap_too_big",
            GwDrop::InnerNotIp => "inner_not_ip",
            GwDrop::NoFloodTarget => "no_flood_target",
            GwDrop::PuntQueueFull => "punt_queue_full",
            GwDrop::ReplicationNoMbuf => "replication_no_mbuf",
            GwDrop::TxFull => "tx_full",
            GwDrop::AccessTruncated => "access_truncated",
            GwDrop::SegmentNoMbuf => "segment_no_mbuf",
        }
    }
}

/// What to do with the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Encapsulated: send on the underlay port.
    Encapped(u16),
    /// Decapsulated: send on this access port.
    Decapped(u16),
    /// Replicate to segment `.0`'s flood list (the frame is untagged, not yet
    /// encapsulated).
    Flood(usize),
    /// Hand to the control thread (ARP, ICMP, ND, Geneve control packets).
    Punt(PuntKind),
    /// Too big for template `.0`'s tunnel MTU, or a chained mbuf, not yet
    /// encapsulated: the worker segments it if it is TCP (else counts
    /// `encap_too_big`), or copies a chained frame that fits into one mbuf.
    Segment(u32),
    Drop(GwDrop),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PuntKind {
    /// ARP / ICMP / ND for the gateway's own addresses.
    Local,
    /// Geneve packet with the O bit.
    GeneveControl,
}

/// Something the control thread should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `mac` in segment `segment` lives behind remote VTEP `remote`.
    Learn {
        segment: usize,
        mac: [u8; 6],
        remote: IpAddr,
    },
    /// Please resolve this neighbour.
    Resolve(IpAddr),
    /// A flow-id option seen on a decapsulated packet of this flow.
    FlowId { key: FlowKey, id: FlowId },
}

fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

/// (VLAN id, offset of the EtherType field) of an Ethernet frame.
fn eth_vlan(b: &[u8]) -> Option<(Option<u16>, usize)> {
    if b.len() < 14 {
        return None;
    }
    if rd16(b, 12) == ETH_P_VLAN {
        if b.len() < 18 {
            return None;
        }
        Some((Some(rd16(b, 14) & 0x0fff), 16))
    } else {
        Some((None, 12))
    }
}

/// Removes an 802.1Q tag (the frame is known to have one).
fn strip_vlan<B: Buffer + ?Sized>(buf: &mut B) -> bool {
    let d = buf.data_mut();
    d.copy_within(0..12, 4);
    buf.trim_front(4).is_ok()
}

/// Inserts an 802.1Q tag with `vid`.
fn push_vlan<B: Buffer + ?Sized>(buf: &mut B, vid: u16) -> bool {
    let Ok(d) = buf.prepend(4) else { return false };
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&ETH_P_VLAN.to_be_bytes());
    d[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
    true
}

#[inline(always)]
fn encap_outcome<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    buf: &mut B,
    rss: Option<u32>,
) -> Outcome {
    let Some(tpl) = t.templates.get(id as usize) else {
        return Outcome::Drop(GwDrop::NextHopUnresolved);
    };
    if buf.total_len() != buf.len() {
        // A chained (jumbo) frame: the worker copies it out and encapsulates
        // or segments the copy.
        return Outcome::Segment(id);
    }
    match encap(tpl, buf, rss) {
        Ok(()) => Outcome::Encapped(t.underlay_port),
        Err(EncapError::NoHeadroom) => Outcome::Drop(GwDrop::EncapNoRoom),
        Err(EncapError::TooBig { .. }) => Outcome::Segment(id),
        Err(EncapError::BadInner) => Outcome::Drop(GwDrop::InnerNotIp),
    }
}

/// Unicast encap; a reply of a flow whose request carried a flow id gets the
/// tunnel's flow-id variant with that id written into the option.
#[inline(always)]
fn encap_unicast<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    buf: &mut B,
    rss: Option<u32>,
    l3: Option<usize>,
) -> Outcome {
    match t.flow_variants.get(id as usize) {
        Some(Some(v)) => encap_flow_variant(t, id, *v, buf, rss, l3),
        // One call site for the common case, so encap is inlined here.
        _ => encap_outcome(t, id, buf, rss),
    }
}

/// [`encap_unicast`] for a tunnel with a flow-id variant (out of line: it
/// looks the flow up in the shared flow table).
#[inline(never)]
fn encap_flow_variant<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    v: super::tables::FlowIdVariant,
    buf: &mut B,
    rss: Option<u32>,
    l3: Option<usize>,
) -> Outcome {
    let key = match l3 {
        Some(off) => key_at(buf.data(), off),
        None => key_of_ethernet(buf.data()),
    };
    let guard = t.flows.pin();
    let Some(fid) = key.and_then(|k| guard.get(&k.reversed())) else {
        return encap_outcome(t, id, buf, rss);
    };
    if fid.len != v.len {
        return encap_outcome(t, id, buf, rss);
    }
    let out = encap_outcome(t, v.template, buf, rss);
    if let Outcome::Segment(_) = out {
        // Segments go out with the plain template: no flow id in them.
        return Outcome::Segment(id);
    }
    if let (Outcome::Encapped(_), Some(tpl)) = (out, t.templates.get(v.template as usize)) {
        let nic_csum = tpl.tx_offload().is_some_and(|o| o.udp_checksum);
        let udp = tpl.l3_udp_offsets().1;
        write_flow_id(buf, tpl.header_len(), udp, fid.bytes(), nic_csum);
    }
    out
}

/// Writes the flow id into the last option of the outer header and fixes a
/// non-zero outer UDP checksum (unless the NIC computes it: then the field
/// holds the pseudo-header sum, which the option does not change).
fn write_flow_id<B: Buffer + ?Sized>(
    buf: &mut B,
    header_len: usize,
    udp: usize,
    id: &[u8],
    nic_udp_checksum: bool,
) {
    let d = buf.data_mut();
    let Some(start) = header_len.checked_sub(id.len()) else {
        return;
    };
    let Some(slot) = d.get_mut(start..header_len) else {
        return;
    };
    slot.copy_from_slice(id);
    if nic_udp_checksum {
        return;
    }
    let Some(field) = d.get_mut(udp + 6..udp + 8) else {
        return;
    };
    let old = u16::from_be_bytes([field[0], field[1]]);
    if old == 0 {
        return; // no UDP checksum on this tunnel
    }
    // RFC 1624 incremental update instead of a second pass over the packet:
    // the template held zeros in the slot, so HC' = ~(~HC + sum(new words)).
    // The slot starts at an even offset from the UDP header (options are
    // 4-byte aligned), so its words line up with the checksum's.
    let c = !checksum::fold(checksum::accumulate(u64::from(!old), id));
    let c = if c == 0 { 0xffff } else { c };
    field.copy_from_slice(&c.to_be_bytes());
}

/// Encapsulates an untagged frame of segment `seg` towards flood template `id`.
pub fn encap_flood<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    buf: &mut B,
    rss: Option<u32>,
) -> Outcome {
    encap_outcome(t, id, buf, rss)
}

/// A frame that arrived on access port `port`.
pub fn access<B: Buffer + ?Sized>(t: &Tables, port: u16, buf: &mut B, rss: Option<u32>) -> Outcome {
    access_cached(t, port, buf, rss, &mut MacCache::default())
}

/// The last MAC lookup of a worker (VPP keeps the same last-key cache in front
/// of its tunnel lookup): consecutive frames to one destination skip the hash
/// table. Valid for one tables generation.
#[derive(Debug, Default, Clone, Copy)]
pub struct MacCache {
    generation: u64,
    segment: usize,
    mac: [u8; 6],
    entry: CachedMac,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum CachedMac {
    /// Nothing cached yet.
    #[default]
    Empty,
    /// Not in the MAC table: flood.
    Unknown,
    /// In the table; `None` while its next hop is unresolved.
    Known(Option<super::tables::TemplateId>),
}

/// The express lane of an access port for one RX burst: the worker's last
/// MAC lookup, when it was a known unicast MAC of the port's untagged
/// segment with a resolved tunnel and no flow-id variant. Frames to that MAC
/// that are the encap common case (see [`encap_fast_ethernet`]) go straight to the
/// template: one compare instead of the segment, VLAN, cache and policy
/// checks per frame. Everything else takes [`access_cached`], which decides
/// the same for these frames (the lane only skips lookups whose answers it
/// already holds, for the same tables generation).
pub struct AccessLane<'t> {
    /// The destination MAC as the first 6 bytes of a little-endian u64.
    mac: u64,
    tpl: &'t EncapTemplate,
    port: u16,
}

impl<'t> AccessLane<'t> {
    /// The lane for frames arriving on access `port`, if the cache allows one.
    #[inline]
    pub fn new(t: &'t Tables, port: u16, cache: &MacCache) -> Option<AccessLane<'t>> {
        let CachedMac::Known(Some(id)) = cache.entry else {
            return None;
        };
        if cache.generation != t.generation
            || t.access_for(port, 0) != Some(AccessIn::L2(cache.segment))
            || !matches!(t.flow_variants.get(id as usize), None | Some(None))
        {
            return None;
        }
        let tpl = t.templates.get(id as usize)?;
        if !tpl.has_fast_ethernet() {
            return None;
        }
        let mut m = [0u8; 8];
        m[..6].copy_from_slice(&cache.mac);
        Some(AccessLane {
            mac: u64::from_le_bytes(m),
            tpl,
            port: t.underlay_port,
        })
    }

    /// Where the lane's frames leave (the underlay port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Encapsulates `buf` if it is for the lane's MAC and the common case;
    /// `Some(underlay port)` then, else `None` with `buf` untouched.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(&self, buf: &mut B, rss: Option<u32>) -> Option<u16> {
        let head = u64::from_le_bytes(*buf.data().first_chunk::<8>()?);
        if head & 0xffff_ffff_ffff != self.mac || buf.total_len() != buf.len() {
            return None;
        }
        encap_fast_ethernet(self.tpl, buf, rss).then_some(self.port)
    }
}

/// [`access`] with the worker's last-lookup cache.
#[inline]
pub fn access_cached<B: Buffer + ?Sized>(
    t: &Tables,
    port: u16,
    buf: &mut B,
    rss: Option<u32>,
    cache: &mut MacCache,
) -> Outcome {
    let Some((vlan, et_off)) = eth_vlan(buf.data()) else {
        return Outcome::Drop(GwDrop::AccessTruncated);
    };
    match t.access_for(port, vlan.unwrap_or(0)) {
        Some(AccessIn::L2(seg)) => {
            if vlan.is_some() && !strip_vlan(buf) {
                return Outcome::Drop(GwDrop::AccessTruncated);
            }
            let d = buf.data();
            if d[0] & 1 != 0 {
                return Outcome::Flood(seg);
            }
            let mut dst = [0u8; 6];
            dst.copy_from_slice(&d[0..6]);
            let hit = cache.entry != CachedMac::Empty
                && cache.generation == t.generation
                && cache.segment == seg
                && cache.mac == dst;
            if !hit {
                *cache = MacCache {
                    generation: t.generation,
                    segment: seg,
                    mac: dst,
                    entry: match t.segments[seg].macs.get(&dst) {
                        Some(e) => CachedMac::Known(e.template),
                        None => CachedMac::Unknown,
                    },
                };
            }
            match cache.entry {
                CachedMac::Known(Some(id)) => encap_unicast(t, id, buf, rss, None),
                CachedMac::Known(None) => Outcome::Drop(GwDrop::NextHopUnresolved),
                CachedMac::Unknown | CachedMac::Empty => Outcome::Flood(seg),
            }
        }
        Some(AccessIn::L3) => l3_access(t, buf, et_off, rss),
        None => Outcome::Drop(GwDrop::NoSegment),
    }
}

fn l3_access<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    et_off: usize,
    rss: Option<u32>,
) -> Outcome {
    let Some(l3) = &t.l3 else {
        return Outcome::Drop(GwDrop::NoSegment);
    };
    let d = buf.data();
    let ip = et_off + 2;
    let dst = match rd16(d, et_off) {
        ETH_P_ARP => return Outcome::Punt(PuntKind::Local),
        ETH_P_IPV4 if d.len() >= ip + 20 => {
            IpAddr::from([d[ip + 16], d[ip + 17], d[ip + 18], d[ip + 19]])
        }
        ETH_P_IPV6 if d.len() >= ip + 40 => {
            if d[ip + 6] == IPPROTO_ICMPV6 && d[ip + 24] == 0xff {
                // Multicast ICMPv6: neighbour discovery for the gateway.
                return Outcome::Punt(PuntKind::Local);
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&d[ip + 24..ip + 40]);
            IpAddr::from(a)
        }
        _ => return Outcome::Drop(GwDrop::InnerNotIp),
    };
    if t.local_access.contains(&dst) {
        return Outcome::Punt(PuntKind::Local);
    }
    let route = match dst {
        IpAddr::V4(_) => l3.routes_v4.lookup(lpm_key(dst)),
        IpAddr::V6(_) => l3.routes_v6.lookup(lpm_key(dst)),
    };
    match route {
        None => Outcome::Drop(GwDrop::NoRoute),
        Some(None) => Outcome::Drop(GwDrop::NextHopUnresolved),
        Some(Some(id)) => {
            // The IP packet travels without its Ethernet header (0x0800 / 0x86DD).
            if buf.trim_front(ip).is_err() {
                return Outcome::Drop(GwDrop::AccessTruncated);
            }
            encap_unicast(t, id, buf, rss, Some(0))
        }
    }
}

/// Is this non-Geneve underlay frame for the control thread?
fn punt_worthy(t: &Tables, d: &[u8]) -> bool {
    // Off the fast path (only frames decap refused): the checked wire views.
    match l3_offset(d) {
        Some((EtherType::ARP, _)) => true,
        Some((EtherType::IPV4, off)) => Ipv4Packet::new_checked(d.get(off..).unwrap_or(&[]))
            .is_ok_and(|p| {
                p.protocol() == IPPROTO_ICMP && t.local_underlay.contains(&IpAddr::from(p.dst()))
            }),
        Some((EtherType::IPV6, off)) => Ipv6Packet::new_checked(d.get(off..).unwrap_or(&[]))
            .is_ok_and(|p| p.upper_layer().is_ok_and(|u| u.protocol == IPPROTO_ICMPV6)),
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
        return Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed));
    }
    let Some(out) = t.vnis.get(vni) else {
        return Outcome::Drop(GwDrop::UnknownVni);
    };
    if out.payload != Payload::Ethernet {
        return Outcome::Drop(GwDrop::UnknownVni);
    }
    if out.allow_from.is_some() {
        return Outcome::Drop(GwDrop::SourceVtepNotAllowed);
    }
    if out.require_mask != 0 {
        return Outcome::Drop(GwDrop::RequiredOptionMissing);
    }
    if !out.security_tags.is_empty() {
        return Outcome::Drop(GwDrop::SecurityTagDenied);
    }
    if let Some(vid) = out.vlan {
        if !push_vlan(buf, vid) {
            return Outcome::Drop(GwDrop::EncapNoRoom);
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
    // The commonest packet's delivery goes straight into `deliver_fast`
    // (inlined here, its fields in registers); merging it with another
    // path's result first would copy it through the stack.
    match t
        .decap
        .decap_common(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => deliver_fast(t, buf, d, events),
        Some(v) => fast_not_delivered(t, buf, v, events),
        None => underlay_other(t, buf, events),
    }
}

/// The decap express lane: `Some(access port)` when the common path
/// (`decap_common`, or `decap_common_v6` over an IPv6 underlay) delivers
/// the packet to a plain VNI that pushes no VLAN
/// tag, the packet then trimmed to its inner frame, exactly as [`underlay`]
/// does it; `None`, buffer untouched, for everything else, which the worker
/// hands to [`underlay`]. Skips building and matching an [`Outcome`] for the
/// commonest packet.
#[inline(always)]
pub fn underlay_express<B: Buffer + ?Sized>(t: &Tables, buf: &mut B) -> Option<u16> {
    let d = match t
        .decap
        .decap_common(buf.data(), buf.rx_ipv4_checksum_good())
    {
        Some(FastVerdict::Deliver(d)) => d,
        Some(_) => return None,
        // Not the IPv4 common case: perhaps the IPv6 one, out of line (its
        // delivery merged with this one's went through the stack: 23
        // instructions per IPv4 packet more in the pipeline bench).
        None => return underlay_express_v6(t, buf),
    };
    express_deliver(t, buf, d)
}

/// [`underlay_express`] over an IPv6 underlay.
#[inline(never)]
fn underlay_express_v6<B: Buffer + ?Sized>(t: &Tables, buf: &mut B) -> Option<u16> {
    let d = t.decap.decap_common_v6(buf.data())?;
    express_deliver(t, buf, d)
}

/// The express lane's delivery of `d` (see [`underlay_express`]).
#[inline(always)]
fn express_deliver<B: Buffer + ?Sized>(t: &Tables, buf: &mut B, d: FastDelivery) -> Option<u16> {
    let (out, plain) = t.vnis.get_plain(d.vni)?;
    let (front, back) = (d.payload_offset as usize, d.padding as usize);
    // Nothing changes unless all of it can be done.
    if !plain || out.vlan.is_some() || front + back > buf.len() {
        return None;
    }
    apply_inner_update(buf.data_mut(), &d.inner);
    buf.trim_front(front).ok()?;
    if back != 0 {
        buf.trim_back(back).ok()?;
    }
    Some(out.port)
}

/// [`underlay`] for the other untagged IPv4 packets of the fast path (UDP
/// checksum, IP payload, ECN marks...), and the general path.
#[inline(never)]
fn underlay_other<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    events: &mut impl FnMut(Event),
) -> Outcome {
    match t
        .decap
        .decap_fast_other(buf.data(), buf.rx_ipv4_checksum_good())
    {
        FastVerdict::Deliver(d) => deliver_fast(t, buf, d, events),
        v => fast_not_delivered(t, buf, v, events),
    }
}

/// A fast-path drop, or the general path's verdict when the fast path
/// passed.
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
            Verdict::Deliver(d) => deliver_general(t, buf, d, events),
            v => not_delivered(t, buf, v),
        },
    }
}

/// [`deliver`] for what the fast path accepted. A [plain](super::tables::VniOut::is_plain)
/// VNI needs only the inner frame: trim, and tag if the VNI says so. Any
/// other gets the full [`Delivery`] and the general [`deliver`].
#[inline(always)]
fn deliver_fast<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: FastDelivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    let Some((out, plain)) = t.vnis.get_plain(d.vni) else {
        return Outcome::Drop(GwDrop::UnknownVni);
    };
    if !plain {
        return deliver_with_policy(t, buf, d, events);
    }
    apply_inner_update(buf.data_mut(), &d.inner);
    if buf.trim_front(d.payload_offset as usize).is_err()
        || (d.padding != 0 && buf.trim_back(d.padding as usize).is_err())
    {
        return Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed));
    }
    if let Some(vid) = out.vlan {
        if !push_vlan(buf, vid) {
            return Outcome::Drop(GwDrop::EncapNoRoom);
        }
    }
    Outcome::Decapped(out.port)
}

/// A fast-path delivery whose VNI has a policy, learning or an IP payload.
#[inline(never)]
fn deliver_with_policy<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: FastDelivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    match t.decap.delivery(buf.data(), &d) {
        Verdict::Deliver(d) => deliver(t, buf, d, events),
        v => not_delivered(t, buf, v),
    }
}

/// A control packet or a drop.
#[inline(never)]
fn not_delivered<B: Buffer + ?Sized>(t: &Tables, buf: &B, v: Verdict) -> Outcome {
    match v {
        // Callers handle deliveries before; never reached.
        Verdict::Deliver(_) => Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed)),
        Verdict::Control(_) => Outcome::Punt(PuntKind::GeneveControl),
        Verdict::Drop(
            r @ (DropReason::NotIp | DropReason::NotLocalAddress | DropReason::NotUdp),
        ) => {
            if punt_worthy(t, buf.data()) {
                Outcome::Punt(PuntKind::Local)
            } else {
                Outcome::Drop(GwDrop::Decap(r))
            }
        }
        Verdict::Drop(r) => Outcome::Drop(GwDrop::Decap(r)),
    }
}

/// [`deliver`] out of line, for what the general decap path accepted.
#[inline(never)]
fn deliver_general<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    d: Delivery,
    events: &mut impl FnMut(Event),
) -> Outcome {
    deliver(t, buf, d, events)
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
    let Some(out) = t.vnis.get(d.vni.get()) else {
        return Outcome::Drop(GwDrop::UnknownVni);
    };
    // The source VTEP is read from the outer header only when a policy or
    // learning needs it (and before the outer header is trimmed off).
    let learn_seg = match (t.learning, out.payload, out.segment) {
        (true, Payload::Ethernet, Some(seg)) => Some(seg),
        _ => None,
    };
    let src_vtep = if out.allow_from.is_some() || learn_seg.is_some() {
        d.src_vtep(buf.data())
    } else {
        None
    };
    if let Some(allow) = &out.allow_from {
        if !src_vtep.is_some_and(|s| allow.contains(&s)) {
            return Outcome::Drop(GwDrop::SourceVtepNotAllowed);
        }
    }
    if d.options.known & out.require_mask != out.require_mask {
        return Outcome::Drop(GwDrop::RequiredOptionMissing);
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
                return Outcome::Drop(GwDrop::SecurityTagDenied);
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
        return Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed));
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
            if let (Some(seg), Some(remote)) = (learn_seg, src_vtep) {
                let f = buf.data();
                if f.len() >= 12 && f[6] & 1 == 0 {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&f[6..12]);
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
            if let Some(vid) = out.vlan {
                if !push_vlan(buf, vid) {
                    return Outcome::Drop(GwDrop::EncapNoRoom);
                }
            }
        }
        Payload::Ip => {
            let (et, inner_dst) = {
                let f = buf.data();
                if f.first().map(|b| b >> 4) == Some(6) && f.len() >= 40 {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&f[24..40]);
                    (ETH_P_IPV6, IpAddr::from(a))
                } else if f.len() >= 20 {
                    (ETH_P_IPV4, IpAddr::from([f[16], f[17], f[18], f[19]]))
                } else {
                    return Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed));
                }
            };
            let dst_mac = match out.eth_dst {
                Some(m) => m,
                None => match t.neighbors.get(&inner_dst) {
                    Some(m) => *m,
                    None => {
                        events(Event::Resolve(inner_dst));
                        return Outcome::Drop(GwDrop::NextHopUnresolved);
                    }
                },
            };
            let hdr = if out.vlan.is_some() { 18 } else { 14 };
            let Ok(h) = buf.prepend(hdr) else {
                return Outcome::Drop(GwDrop::EncapNoRoom);
            };
            h[0..6].copy_from_slice(&dst_mac);
            h[6..12].copy_from_slice(&out.eth_src);
            if let Some(vid) = out.vlan {
                h[12..14].copy_from_slice(&ETH_P_VLAN.to_be_bytes());
                h[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
            }
            h[hdr - 2..hdr].copy_from_slice(&et.to_be_bytes());
        }
    }
    Outcome::Decapped(out.port)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use super::*;
    use crate::dataplane::tables::{BuildInputs, Tables};
    use crate::tunnel::VecBuffer;

    const CFG: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: r3, remote: 198.18.0.3, vni: 300 }
l2:
  learning: true
  segments:
    - { port: acc, vlan: 10, vni: 100, flood: [198.18.0.2, 198.18.0.3],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
decap:
  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }
"#;

    const UL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// Tables for `cfg` on an underlay (port 0) and an access port (1).
    fn build(
        cfg: &crate::config::Config,
        neighbors: &HashMap<IpAddr, [u8; 6]>,
        learned: &HashMap<(usize, [u8; 6]), IpAddr>,
        generation: u64,
        flows: std::sync::Arc<crate::dataplane::flows::FlowTable>,
    ) -> Tables {
        Tables::build(
            cfg,
            &BuildInputs {
                port_ids: &[0, 1],
                port_macs: &[UL_MAC, [2, 0, 0, 0, 0, 0xaa]],
                neighbors,
                learned,
                generation,
                flows,
            },
        )
        .unwrap()
    }

    fn tables(neigh: &[(&str, [u8; 6])]) -> Tables {
        let cfg = crate::config::load_str(CFG, "t.yaml").unwrap();
        let neighbors: HashMap<IpAddr, [u8; 6]> = neigh
            .iter()
            .map(|(a, m)| (a.parse().unwrap(), *m))
            .collect();
        build(&cfg, &neighbors, &HashMap::new(), 1, Default::default())
    }

    fn tagged_frame(dst: [u8; 6], vlan: u16) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&dst);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0xcc]);
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vlan.to_be_bytes());
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0u8; 46]);
        f
    }

    #[test]
    fn hw_decapped_frames_go_out_like_software_decap_or_are_dropped() {
        let t = tables(&[]);
        let inner = tagged_frame([2, 0, 0, 0, 0, 0xbb], 10)[..12]
            .iter()
            .chain(&[0x08, 0x06])
            .chain(&[0u8; 46])
            .copied()
            .collect::<Vec<u8>>();
        // VNI 100 has an allow list: a frame decapsulated in hardware has
        // lost its outer source, so it cannot pass.
        let mut b = VecBuffer::with_headroom(256, &inner);
        assert_eq!(
            hw_decapped(&t, 100, &mut b),
            Outcome::Drop(GwDrop::SourceVtepNotAllowed)
        );
        let mut b = VecBuffer::with_headroom(256, &inner[..13]);
        assert_eq!(
            hw_decapped(&t, 100, &mut b),
            Outcome::Drop(GwDrop::Decap(DropReason::InnerMalformed))
        );
        let mut b = VecBuffer::with_headroom(256, &inner);
        assert_eq!(
            hw_decapped(&t, 999, &mut b),
            Outcome::Drop(GwDrop::UnknownVni)
        );
        let cfg = crate::config::load_str(
            &CFG.replace(
                "decap:\n  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }\n",
                "",
            ),
            "t.yaml",
        )
        .unwrap();
        let t = build(
            &cfg,
            &HashMap::new(),
            &HashMap::new(),
            1,
            Default::default(),
        );
        let mut b = VecBuffer::with_headroom(256, &inner);
        assert_eq!(hw_decapped(&t, 100, &mut b), Outcome::Decapped(1));
        // The segment's VLAN is pushed, as the software path does.
        assert_eq!(&b.data()[12..16], &[0x81, 0x00, 0x00, 10]);
        assert_eq!(b.len(), inner.len() + 4);
    }

    #[test]
    fn known_mac_is_encapsulated_untagged_towards_its_vtep() {
        let t = tables(&[("198.18.0.2", PEER2), ("198.18.0.3", [2, 0, 0, 0, 0, 3])]);
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        let d = b.data();
        assert_eq!(&d[0..6], &PEER2, "outer dst MAC = resolved VTEP");
        assert_eq!(&d[6..12], &UL_MAC);
        assert_eq!(&d[30..34], &[198, 18, 0, 2]);
        // Outer 14+20+8+8, then the inner frame without its VLAN tag.
        assert_eq!(&d[50 + 12..50 + 14], &[0x08, 0x06]);
        assert_eq!(d.len(), 50 + 60);
    }

    #[test]
    fn unresolved_next_hop_is_a_counted_drop_and_asks_for_resolution() {
        let t = tables(&[]);
        assert!(t.unresolved.contains(&"198.18.0.2".parse().unwrap()));
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
        assert_eq!(
            access(&t, 1, &mut b, None),
            Outcome::Drop(GwDrop::NextHopUnresolved)
        );
    }

    #[test]
    fn broadcast_and_unknown_unicast_flood_and_wrong_vlan_is_no_segment() {
        let t = tables(&[("198.18.0.2", PEER2)]);
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([0xff; 6], 10));
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
        assert_eq!(b.len(), 60, "tag stripped before replication");
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x99], 10));
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([0xff; 6], 11));
        assert_eq!(
            access(&t, 1, &mut b, None),
            Outcome::Drop(GwDrop::NoSegment)
        );
        let mut b = VecBuffer::with_headroom(256, &[0u8; 10]);
        assert_eq!(
            access(&t, 1, &mut b, None),
            Outcome::Drop(GwDrop::AccessTruncated)
        );
    }

    #[test]
    fn decap_tags_learns_and_checks_the_allow_list() {
        let t = tables(&[("198.18.0.2", PEER2), ("198.18.0.3", [2, 0, 0, 0, 0, 3])]);
        // Build what 198.18.0.3 would send us: encapsulate towards it, then
        // swap the outer addresses (only the outer IP matters to decap).
        let inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
        let mut b = VecBuffer::with_headroom(256, &inner);
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
        let id = t.segments[0].flood[1].unwrap();
        assert_eq!(encap_flood(&t, id, &mut b, None), Outcome::Encapped(0));
        let mut pkt = b.data().to_vec();
        pkt[26..30].copy_from_slice(&[198, 18, 0, 3]);
        pkt[30..34].copy_from_slice(&[198, 18, 0, 1]);
        fix_ipv4_checksum(&mut pkt);
        let mut events = Vec::new();
        let mut b = VecBuffer::with_headroom(256, &pkt);
        assert_eq!(
            underlay(&t, &mut b, &mut |e| events.push(e)),
            Outcome::Decapped(1)
        );
        assert_eq!(
            &b.data()[12..16],
            &[0x81, 0x00, 0x00, 10],
            "VLAN tag restored"
        );
        assert_eq!(
            events,
            vec![Event::Learn {
                segment: 0,
                mac: [2, 0, 0, 0, 0, 0xcc],
                remote: "198.18.0.3".parse().unwrap()
            }]
        );
        // Same packet from a source VTEP outside the allow list.
        pkt[26..30].copy_from_slice(&[198, 18, 0, 9]);
        fix_ipv4_checksum(&mut pkt);
        let mut b = VecBuffer::with_headroom(256, &pkt);
        assert_eq!(
            underlay(&t, &mut b, &mut |_| {}),
            Outcome::Drop(GwDrop::SourceVtepNotAllowed)
        );
    }

    #[test]
    fn arp_for_the_vtep_is_punted_other_traffic_dropped_with_a_reason() {
        let t = tables(&[]);
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&PEER2);
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        let mut b = VecBuffer::with_headroom(64, &arp);
        assert_eq!(
            underlay(&t, &mut b, &mut |_| {}),
            Outcome::Punt(PuntKind::Local)
        );
        let mut other = arp.clone();
        other[12..14].copy_from_slice(&[0x88, 0xcc]);
        let mut b = VecBuffer::with_headroom(64, &other);
        assert_eq!(
            underlay(&t, &mut b, &mut |_| {}),
            Outcome::Drop(GwDrop::Decap(DropReason::NotIp))
        );
    }

    #[test]
    fn learned_mac_sends_unicast_to_its_vtep_and_static_wins() {
        let cfg = crate::config::load_str(CFG, "t.yaml").unwrap();
        let neighbors: HashMap<IpAddr, [u8; 6]> = [
            ("198.18.0.2".parse().unwrap(), PEER2),
            ("198.18.0.3".parse().unwrap(), [2, 0, 0, 0, 0, 3]),
        ]
        .into_iter()
        .collect();
        let learned: HashMap<(usize, [u8; 6]), IpAddr> = [
            ((0, [2, 0, 0, 0, 0, 0x77]), "198.18.0.3".parse().unwrap()),
            // A learned entry for a static MAC does not override it.
            ((0, [2, 0, 0, 0, 0, 0xbb]), "198.18.0.3".parse().unwrap()),
        ]
        .into_iter()
        .collect();
        let t = build(&cfg, &neighbors, &learned, 2, Default::default());
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x77], 10));
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        assert_eq!(&b.data()[30..34], &[198, 18, 0, 3]);
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        assert_eq!(&b.data()[30..34], &[198, 18, 0, 2]);
    }

    #[test]
    fn flow_id_checksum_update_uses_the_templates_udp_offset() {
        // A tagged underlay: the outer UDP header is 4 bytes further in, and
        // the template says where.
        use crate::tunnel::{encap, EncapTemplate, TunnelConfig, TunnelOption, UdpChecksumTx};
        let mut cfg = TunnelConfig::new(
            UL_MAC,
            PEER2,
            "198.18.0.1".parse().unwrap(),
            "198.18.0.2".parse().unwrap(),
            crate::wire::Vni::new(100).unwrap(),
        );
        cfg.vlan = Some(7);
        cfg.udp_checksum = Some(UdpChecksumTx::Compute);
        cfg.options = vec![TunnelOption {
            class: 0x0104,
            typ: 0x02,
            data: vec![0; 8],
        }];
        let t = EncapTemplate::new(&cfg).unwrap();
        assert_eq!(t.l3_udp_offsets(), (18, 38));
        let inner = udp_frame(
            [2, 0, 0, 0, 0, 0xbb],
            [198, 19, 0, 1],
            [198, 19, 0, 2],
            1,
            2,
        );
        let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
        encap(&t, &mut b, None).unwrap();
        write_flow_id(
            &mut b,
            t.header_len(),
            t.l3_udp_offsets().1,
            &[0x11; 8],
            false,
        );
        let d = b.data();
        assert_eq!(&d[t.header_len() - 8..t.header_len()], &[0x11; 8]);
        // RFC 768: the checksum over pseudo-header and datagram verifies.
        let sum = checksum::accumulate(
            checksum::pseudo_header_v4(
                &[198, 18, 0, 1],
                &[198, 18, 0, 2],
                17,
                (d.len() - 38) as u16,
            ),
            &d[38..],
        );
        assert_eq!(
            checksum::fold(sum),
            0xffff,
            "UDP checksum after the flow id"
        );
    }

    #[test]
    fn flow_id_seen_on_decap_is_copied_into_the_reply() {
        // A computed outer UDP checksum, so the flow id's checksum update is
        // exercised too.
        let yaml = CFG.replace(
            "{ name: t1, remote: 198.18.0.2, vni: 100 }",
            "{ name: t1, remote: 198.18.0.2, vni: 100, udp_checksum: compute }",
        ) + r#"
options:
  registry:
    - { name: flow-id, class: 0x0104, type: 0x02, length: 8 }
  policies:
    flow_id_copy: [ { option: flow-id, tunnel: t1 } ]
"#;
        let cfg = crate::config::load_str(&yaml, "t.yaml").unwrap();
        let neighbors: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)]
            .into_iter()
            .collect();
        let flows: std::sync::Arc<crate::dataplane::flows::FlowTable> = Default::default();
        let build = |g| build(&cfg, &neighbors, &HashMap::new(), g, flows.clone());
        let t = build(1);
        // A reply before any request: the plain template, no flow-id option.
        let reply = udp_frame(
            [2, 0, 0, 0, 0, 0xbb],
            [198, 19, 0, 1],
            [198, 19, 0, 2],
            1000,
            5001,
        );
        let mut b = VecBuffer::with_headroom(256, &reply);
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        assert_eq!(b.data()[42] & 0x3f, 0, "no options yet");
        // The request arrives from 198.18.0.2 with flow id 0x11..0x18.
        let request = udp_frame(
            [2, 0, 0, 0, 0, 0xcc],
            [198, 19, 0, 2],
            [198, 19, 0, 1],
            5001,
            1000,
        );
        let fid: Vec<u8> = (0x11..=0x18).collect();
        let pkt = geneve_from_peer(&request, &[(0x0104, 0x02, &fid)]);
        let mut events = Vec::new();
        let mut b = VecBuffer::with_headroom(256, &pkt);
        assert_eq!(
            underlay(&t, &mut b, &mut |e| events.push(e)),
            Outcome::Decapped(1)
        );
        let Some(Event::FlowId { key, id }) = events
            .iter()
            .find(|e| matches!(e, Event::FlowId { .. }))
            .copied()
        else {
            panic!("no flow-id event: {events:?}");
        };
        assert_eq!(id.bytes(), &fid[..]);
        // The control thread records it; the reply now carries it.
        flows.pin().insert(key, id);
        let mut b = VecBuffer::with_headroom(256, &reply);
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        let d = b.data();
        assert_eq!(d[42] & 0x3f, 3, "one 12-byte option");
        assert_eq!(&d[50..54], &[0x01, 0x04, 0x02, 0x02]);
        assert_eq!(&d[54..62], &fid[..]);
        // RFC 768: the checksum over pseudo-header and datagram verifies.
        let (src, dst): ([u8; 4], [u8; 4]) =
            (d[26..30].try_into().unwrap(), d[30..34].try_into().unwrap());
        assert_ne!(&d[40..42], &[0, 0]);
        let sum = checksum::accumulate(
            checksum::pseudo_header_v4(&src, &dst, 17, (d.len() - 34) as u16),
            &d[34..],
        );
        assert_eq!(
            checksum::fold(sum),
            0xffff,
            "outer UDP checksum after the flow id"
        );
        // With the NIC finishing the outer checksums, the flow id leaves the
        // pseudo-header sum alone, and the NIC's result is the same packet.
        let software = d.to_vec();
        let mut t_hw = build(2);
        for tpl in &mut t_hw.templates {
            tpl.set_tx_offload(crate::tunnel::TxOffloadCaps {
                ipv4_checksum: true,
                udp_checksum: true,
                ..crate::tunnel::TxOffloadCaps::NONE
            });
        }
        let mut b = VecBuffer::with_headroom(256, &reply);
        assert_eq!(access(&t_hw, 1, &mut b, None), Outcome::Encapped(0));
        let o = b.tx_offload().expect("offload metadata");
        assert!(o.ip_checksum && o.udp_checksum);
        let mut wire = b.to_vec();
        assert_ne!(wire, software, "the NIC has work left");
        assert!(crate::tunnel::offload::emulate_nic(&mut wire, &o));
        assert_eq!(wire, software);
        // Another flow's reply still goes without.
        let other = udp_frame(
            [2, 0, 0, 0, 0, 0xbb],
            [198, 19, 0, 1],
            [198, 19, 0, 2],
            1001,
            5001,
        );
        let mut b = VecBuffer::with_headroom(256, &other);
        assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
        assert_eq!(b.data()[42] & 0x3f, 0);
    }

    fn udp_frame(dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 4 + 28 + 10];
        f[0..6].copy_from_slice(&dst_mac);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xcc]);
        f[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 10]);
        f[16..18].copy_from_slice(&[0x08, 0x00]);
        let ip = 18;
        f[ip] = 0x45;
        f[ip + 2..ip + 4].copy_from_slice(&38u16.to_be_bytes());
        f[ip + 8] = 64;
        f[ip + 9] = 17;
        f[ip + 12..ip + 16].copy_from_slice(&src);
        f[ip + 16..ip + 20].copy_from_slice(&dst);
        f[ip + 20..ip + 22].copy_from_slice(&sport.to_be_bytes());
        f[ip + 22..ip + 24].copy_from_slice(&dport.to_be_bytes());
        f[ip + 24..ip + 26].copy_from_slice(&18u16.to_be_bytes());
        f
    }

    /// A Geneve packet from 198.18.0.2 to us, VNI 100, carrying `frame` minus
    /// its VLAN tag, with `opts`: built by hand from the RFC layout.
    fn geneve_from_peer(frame: &[u8], opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
        let mut inner = frame[..12].to_vec();
        inner.extend_from_slice(&frame[16..]);
        let mut o = Vec::new();
        for (c, t, d) in opts {
            o.extend_from_slice(&c.to_be_bytes());
            o.push(*t);
            o.push((d.len() / 4) as u8);
            o.extend_from_slice(d);
        }
        let udp_len = 8 + 8 + o.len() + inner.len();
        let mut p = Vec::new();
        p.extend_from_slice(&UL_MAC);
        p.extend_from_slice(&PEER2);
        p.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        p.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
        p.extend_from_slice(&50000u16.to_be_bytes());
        p.extend_from_slice(&6081u16.to_be_bytes());
        p.extend_from_slice(&(udp_len as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, (o.len() / 4) as u8, 0, 0x65, 0x58, 0, 0, 100, 0]);
        p.extend_from_slice(&o);
        p.extend_from_slice(&inner);
        fix_ipv4_checksum(&mut p);
        p
    }

    /// [`geneve_from_peer`]'s packet over IPv6 (2001:db8:18::2 to the
    /// gateway's 2001:db8:18::1), its UDP checksum computed.
    fn geneve6_from_peer(frame: &[u8], opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
        let v4 = geneve_from_peer(frame, opts);
        let datagram = &v4[34..];
        let src: [u8; 16] = "2001:db8:18::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let dst: [u8; 16] = "2001:db8:18::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let mut p = v4[..12].to_vec();
        p.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        p.extend_from_slice(&(datagram.len() as u16).to_be_bytes());
        p.extend_from_slice(&[17, 64]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(datagram);
        fix_udp6(&mut p);
        p
    }

    /// An untagged L2 segment without learning or policies: the express
    /// lanes' common case.
    const UNTAGGED: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, flood: [],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
"#;

    #[test]
    fn access_lane_encapsulates_exactly_like_access_cached_or_leaves_the_frame() {
        let cfg = crate::config::load_str(UNTAGGED, "t.yaml").unwrap();
        let neigh: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)].into();
        let t = build(&cfg, &neigh, &HashMap::new(), 1, Default::default());
        let known = [2, 0, 0, 0, 0, 0xbb];
        let untag = |f: Vec<u8>| [&f[..12], &f[16..]].concat();
        let mut cache = MacCache::default();
        // No lane before a lookup, nor from a lookup of another tables
        // generation, nor on a tagged segment (the unit tests' CFG).
        assert!(AccessLane::new(&t, 1, &cache).is_none());
        let mut b = VecBuffer::with_headroom(
            256,
            &untag(udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1, 2)),
        );
        assert_eq!(
            access_cached(&t, 1, &mut b, None, &mut cache),
            Outcome::Encapped(0)
        );
        let lane = AccessLane::new(&t, 1, &cache).expect("lane after a known unicast lookup");
        let mut stale = cache;
        stale.generation = 7;
        assert!(AccessLane::new(&t, 1, &stale).is_none());
        assert!(AccessLane::new(&tables(&[("198.18.0.2", PEER2)]), 1, &cache).is_none());

        let base = untag(udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1000, 53));
        let mut frames: Vec<(Vec<u8>, bool)> = vec![(base.clone(), true)];
        let mut other_mac = base.clone();
        other_mac[5] = 0xbc;
        frames.push((other_mac, false));
        let mut multicast = base.clone();
        multicast[0] = 0x03;
        frames.push((multicast, false));
        frames.push((
            udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1, 2),
            false,
        )); // tagged
        let mut ip_options = base.clone();
        ip_options[14] = 0x46;
        frames.push((ip_options, true)); // hashed by the general hash
        let mut fragment = base.clone();
        fragment[20] = 0x20;
        frames.push((fragment, true));
        let mut arp = base.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        frames.push((arp, false));
        frames.push((base[..30].to_vec(), false)); // truncated
        let mut big = base.clone();
        big.resize(1500, 0);
        frames.push((big, false)); // over the tunnel MTU: segment path
        for (i, (f, takes)) in frames.iter().enumerate() {
            for rss in [None, Some(0x1234_5678)] {
                let mut by_lane = VecBuffer::with_headroom(256, f);
                let got = lane.encap(&mut by_lane, rss);
                let mut general = VecBuffer::with_headroom(256, f);
                let want = access_cached(&t, 1, &mut general, rss, &mut MacCache::default());
                if *takes {
                    assert_eq!(got, Some(0), "frame {i}");
                    assert_eq!(want, Outcome::Encapped(0), "frame {i}");
                    assert_eq!(by_lane.data(), general.data(), "frame {i}");
                } else {
                    assert_eq!(got, None, "frame {i}");
                    assert_eq!(by_lane.data(), &f[..], "frame {i}: untouched");
                }
            }
        }
    }

    /// Recompute the UDP checksum of an untagged IPv6 frame without
    /// extension headers (RFC 8200 section 8.1; a computed 0 is sent as
    /// 0xffff, RFC 768).
    fn fix_udp6(p: &mut [u8]) {
        let src: [u8; 16] = p[22..38].try_into().unwrap();
        let dst: [u8; 16] = p[38..54].try_into().unwrap();
        p[60..62].fill(0);
        let c = checksum::l4_checksum_v6(&src, &dst, 17, &p[54..]);
        p[60..62].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    }

    #[test]
    fn underlay_express_delivers_like_underlay_or_leaves_the_packet() {
        let plain = crate::config::load_str(UNTAGGED, "t.yaml").unwrap();
        let plain = build(
            &plain,
            &HashMap::new(),
            &HashMap::new(),
            1,
            Default::default(),
        );
        let tagged_out = crate::config::load_str(
            &UNTAGGED.replace("vni: 100, flood", "vlan: 7, vni: 100, flood"),
            "t.yaml",
        )
        .unwrap();
        let tagged_out = build(
            &tagged_out,
            &HashMap::new(),
            &HashMap::new(),
            1,
            Default::default(),
        );
        // CFG: VNI 100 has an allow list (not plain) and learning is on.
        let policy = tables(&[]);
        let inner = udp_frame(
            [2, 0, 0, 0, 0, 0xbb],
            [198, 19, 0, 1],
            [198, 19, 0, 2],
            7,
            9,
        );
        let base = geneve_from_peer(&inner, &[]);
        let mut padded = base.clone();
        padded.extend_from_slice(&[0u8; 6]);
        let mut wrong_vni = base.clone();
        wrong_vni[48] = 0x65;
        let mut control = base.clone();
        control[43] |= 0x80;
        let mut ce = base.clone();
        ce[15] |= 0x03;
        fix_ipv4_checksum(&mut ce);
        let with_option = geneve_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]);
        // The same over IPv6 (the gateway has an IPv6 VTEP address).
        let with_v6 = |c: &str| {
            c.replace(
                "ipv4: 198.18.0.1/24",
                "ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64",
            )
        };
        let plain6 = crate::config::load_str(&with_v6(UNTAGGED), "t.yaml").unwrap();
        let plain6 = build(
            &plain6,
            &HashMap::new(),
            &HashMap::new(),
            1,
            Default::default(),
        );
        let base6 = geneve6_from_peer(&inner, &[]);
        let mut padded6 = base6.clone();
        padded6.extend_from_slice(&[0u8; 6]);
        let option6 = geneve6_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]);
        let mut zero_sum6 = base6.clone();
        zero_sum6[60..62].fill(0);
        let mut bad_sum6 = base6.clone();
        bad_sum6[61] ^= 1;
        let mut ce6 = base6.clone();
        ce6[15] |= 0x30;
        fix_udp6(&mut ce6);
        let cases: [(&Tables, &[u8], bool); 15] = [
            (&plain, &base, true),
            (&plain, &padded, true),
            (&plain, &with_option, true),
            (&plain, &wrong_vni, false),
            (&plain, &control, false),
            (&plain, &ce, false),
            (&tagged_out, &base, false),
            (&policy, &base, false),
            (&plain6, &base6, true),
            (&plain6, &padded6, true),
            (&plain6, &option6, true),
            // Dropped by default (RFC 8926 section 4.3.1), by the general path.
            (&plain6, &zero_sum6, false),
            (&plain6, &bad_sum6, false),
            (&plain6, &ce6, false),
            // No IPv6 VTEP address: not for us.
            (&plain, &base6, false),
        ];
        for (i, (t, frame, takes)) in cases.into_iter().enumerate() {
            let mut by_express = VecBuffer::with_headroom(128, frame);
            let got = underlay_express(t, &mut by_express);
            let mut general = VecBuffer::with_headroom(128, frame);
            let want = underlay(t, &mut general, &mut |_| {});
            if takes {
                assert_eq!(got.map(Outcome::Decapped), Some(want), "case {i}");
                assert_eq!(by_express.data(), general.data(), "case {i}");
            } else {
                assert_eq!(got, None, "case {i}");
                assert_eq!(by_express.data(), frame, "case {i}: untouched");
            }
        }
    }

    #[test]
    fn mac_cache_follows_table_generations() {
        // Generation 1: next hop unresolved; generation 2: resolved. One cache
        // across both must not keep the stale answer.
        let t1 = tables(&[]);
        let mut t2 = tables(&[("198.18.0.2", PEER2)]);
        t2.generation = 2;
        let mut cache = MacCache::default();
        let frame = tagged_frame([2, 0, 0, 0, 0, 0xbb], 10);
        let mut b = VecBuffer::with_headroom(256, &frame);
        assert_eq!(
            access_cached(&t1, 1, &mut b, None, &mut cache),
            Outcome::Drop(GwDrop::NextHopUnresolved)
        );
        let mut b = VecBuffer::with_headroom(256, &frame);
        assert_eq!(
            access_cached(&t2, 1, &mut b, None, &mut cache),
            Outcome::Encapped(0)
        );
        // A different destination in the same generation is looked up afresh.
        let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x99], 10));
        assert_eq!(
            access_cached(&t2, 1, &mut b, None, &mut cache),
            Outcome::Flood(0)
        );
    }

    /// What `underlay` did before the fast path had a plain-VNI shortcut:
    /// the general decap path and the general `deliver`, for every frame.
    fn underlay_reference<B: Buffer + ?Sized>(
        t: &Tables,
        buf: &mut B,
        events: &mut impl FnMut(Event),
    ) -> Outcome {
        match t.decap.decap_general(buf.data()) {
            Verdict::Deliver(d) => deliver_general(t, buf, d, events),
            v => not_delivered(t, buf, v),
        }
    }

    /// `underlay` (fast path, plain-VNI shortcut, rebuilt deliveries) gives
    /// the reference's outcome, bytes and events, for VNIs with and
    /// without policies or learning, and frames with options, ECN marks,
    /// padding, UDP checksums, other sources and VNIs.
    #[test]
    fn underlay_matches_the_general_path_for_plain_and_policy_vnis() {
        let registry = r#"
options:
  registry:
    - { name: flow-id, class: 0x0104, type: 0x02, length: 8 }
    - { name: tag, class: 0x0104, type: 0x03, length: 4 }
"#;
        let no_allow = |c: &str| {
            c.replace(
                "decap:\n  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }\n",
                "",
            )
        };
        let plain = no_allow(CFG).replace("learning: true", "learning: false");
        let configs = [
            plain.clone(),
            plain.replace("vlan: 10, ", ""),
            no_allow(CFG),
            CFG.to_string(),
            plain.clone()
                + registry
                + "  policies:\n    require: [ { option: tag, vni: 100 } ]\n",
            plain.clone()
                + registry
                + "  policies:\n    security_tags: [ { option: tag, vni: 100, allow: [\"0000002a\"], default: deny } ]\n",
            plain.clone()
                + registry
                + "  policies:\n    flow_id_copy: [ { option: flow-id, tunnel: t1 } ]\n",
            plain.clone() + registry,
        ];
        let inner = udp_frame(
            [2, 0, 0, 0, 0, 0xcc],
            [198, 19, 0, 2],
            [198, 19, 0, 1],
            5001,
            1000,
        );
        let flow_id: &[u8] = &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];
        let tag: &[u8] = &[0, 0, 0, 0x2a];
        let other_tag: &[u8] = &[0, 0, 0, 0x2b];
        let option_lists: [&[(u16, u8, &[u8])]; 6] = [
            &[],
            &[(0x0104, 0x03, tag)],
            &[(0x0104, 0x03, other_tag)],
            &[(0x0104, 0x02, flow_id), (0x0104, 0x03, tag)],
            &[(0x0999, 0x01, tag)],
            &[(0x0999, 0x81, tag)],
        ];
        let mut frames = Vec::new();
        for opts in option_lists {
            let base = geneve_from_peer(&inner, opts);
            let ip_tos = base.len() - inner.len() + 4 + 15;
            for (outer_ecn, inner_ecn) in [(0u8, 0u8), (0, 2), (1, 1), (2, 1), (3, 0), (3, 2)] {
                for variant in 0..5 {
                    let mut f = base.clone();
                    f[15] |= outer_ecn;
                    f[ip_tos] |= inner_ecn;
                    match variant {
                        1 => f.extend_from_slice(&[0; 6]),
                        2 => f[26..30].copy_from_slice(&[198, 18, 0, 9]),
                        3 => f[48] = 0x2c, // VNI 300
                        4 => f[48] = 0x63, // VNI 99: no decap entry
                        _ => {}
                    }
                    fix_ipv4_checksum(&mut f);
                    frames.push(f.clone());
                    // The same with a UDP checksum (the field-by-field fast path).
                    let end = 14 + usize::from(u16::from_be_bytes([f[16], f[17]]));
                    let ulen = (end - 34) as u16;
                    let sum = checksum::accumulate(
                        checksum::pseudo_header_v4(&[198, 18, 0, 2], &[198, 18, 0, 1], 17, ulen),
                        &f[34..end],
                    );
                    let c = !checksum::fold(sum);
                    f[40..42].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
                    frames.push(f);
                }
            }
        }
        let neighbors: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)]
            .into_iter()
            .collect();
        let mut plain_vnis = 0;
        let mut delivered = [0u32; 2];
        for yaml in &configs {
            let cfg = crate::config::load_str(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            let t = build(&cfg, &neighbors, &HashMap::new(), 1, Default::default());
            let is_plain = t.vnis.get_plain(100).is_some_and(|(_, p)| p);
            plain_vnis += usize::from(is_plain);
            for f in &frames {
                let (mut fast_events, mut ref_events) = (Vec::new(), Vec::new());
                let mut a = VecBuffer::with_headroom(256, f);
                let mut b = VecBuffer::with_headroom(256, f);
                let got = underlay(&t, &mut a, &mut |e| fast_events.push(e));
                let want = underlay_reference(&t, &mut b, &mut |e| ref_events.push(e));
                assert_eq!(got, want, "{yaml}\n{f:02x?}");
                assert_eq!(a.data(), b.data(), "{yaml}\n{f:02x?}");
                assert_eq!(fast_events, ref_events, "{yaml}\n{f:02x?}");
                if let Outcome::Decapped(_) = got {
                    delivered[usize::from(is_plain)] += 1;
                }
            }
        }
        assert_eq!(plain_vnis, 3, "the first two and the last configuration");
        assert!(delivered.iter().all(|&n| n > 20), "{delivered:?}");
    }

    #[test]
    fn drop_reasons_have_distinct_indexes_and_names() {
        let all: Vec<GwDrop> = GwDrop::all().collect();
        assert_eq!(all.len(), DROP_COUNT);
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
        }
        let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DROP_COUNT);
    }

    fn fix_ipv4_checksum(pkt: &mut [u8]) {
        pkt[24] = 0;
        pkt[25] = 0;
        let c = crate::wire::checksum::checksum(&pkt[14..34]);
        pkt[24..26].copy_from_slice(&c.to_be_bytes());
    }
}
