//! The access side (see [the tiers](crate::tunnel#tiers)): a frame from an
//! access port, through the express tier ([`AccessExpress`]) or the MAC
//! table, VLAN, L3 routes and flow-id variants, to an encapsulated frame, a
//! flood, a punt or a counted drop.
use std::net::IpAddr;

use crate::tunnel::{
    encap, encap_fast_ethernet, encap_fast_ip, Buffer, EncapError, EncapTemplate, FastEthernet,
    LineKind, TemplateLine,
};
use crate::wire::{checksum, Encapsulation};

use super::{eth_vlan, rd16, strip_vlan, tagged, DropReason, Outcome, PuntKind};
use crate::dataplane::flows::{key_at, key_of_ethernet};
use crate::dataplane::lpm::Lpm4;
use crate::dataplane::tables::{lpm_key, AccessIn, FlowIdVariant, Tables, TemplateId};
use crate::wire::ethernet::EtherType;
use crate::wire::ip_proto;

#[inline(always)]
fn encap_outcome<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    buf: &mut B,
    rss: Option<u32>,
) -> Outcome {
    let Some(tpl) = t.templates.get(id as usize) else {
        return Outcome::Drop(DropReason::NextHopUnresolved);
    };
    if buf.total_len() != buf.len() {
        // A chained (jumbo) frame: the worker copies it out and encapsulates
        // or segments the copy.
        return Outcome::Segment(id);
    }
    match encap(tpl, buf, rss) {
        Ok(()) if tpl.encapsulation() == Encapsulation::Vxlan => {
            Outcome::EncappedVxlan(t.underlay_port)
        }
        Ok(()) => Outcome::Encapped(t.underlay_port),
        Err(EncapError::NoHeadroom) => Outcome::Drop(DropReason::EncapNoRoom),
        Err(EncapError::TooBig { .. }) => Outcome::Segment(id),
        Err(EncapError::BadInner) => Outcome::Drop(DropReason::InnerNotIp),
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
        // One call site for the usual tunnel, so encap is inlined here.
        _ => encap_outcome(t, id, buf, rss),
    }
}

/// [`encap_unicast`] for a tunnel with a flow-id variant (not inlined: it
/// looks the flow up in the shared flow table).
#[inline(never)]
fn encap_flow_variant<B: Buffer + ?Sized>(
    t: &Tables,
    id: u32,
    v: FlowIdVariant,
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
pub(super) fn write_flow_id<B: Buffer + ?Sized>(
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
    access_with_cache(t, port, buf, rss, &mut MacCache::default())
}

/// The last MAC lookup of a worker (VPP keeps the same last-key cache in front
/// of its tunnel lookup): consecutive frames to one destination skip the hash
/// table. Valid for one tables generation.
#[derive(Debug, Default, Clone, Copy)]
pub struct MacCache {
    pub(super) generation: u64,
    pub(super) segment: usize,
    pub(super) mac: [u8; 6],
    pub(super) entry: CachedMac,
    /// The template the last frame was sent to (set by
    /// [`access_with_cache`] once it chose one, for that frame's counters).
    pub chosen: Option<TemplateId>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum CachedMac {
    /// Nothing cached yet.
    #[default]
    Empty,
    /// Not in the MAC table: flood.
    Unknown,
    /// In the table; `None` while its next hop is unresolved.
    Known(Option<TemplateId>),
}

/// The express tier of an access port for one RX burst: the worker's last
/// MAC lookup, when it was a known unicast MAC of the port's untagged
/// segment with a resolved tunnel and no flow-id variant. Frames to that MAC
/// that the encap fast tier takes (see [`encap_fast_ethernet`]) go straight
/// to the template: one compare instead of the segment, VLAN, cache and
/// policy checks per frame. Everything else takes [`access_with_cache`],
/// which decides the same for these frames (the express tier only skips
/// lookups whose answers it already holds, for the same tables generation).
pub struct AccessExpress<'t> {
    /// The destination MAC as the first 6 bytes of a little-endian u64.
    mac: u64,
    tpl: &'t EncapTemplate,
    port: u16,
}

impl<'t> AccessExpress<'t> {
    /// The express tier for frames arriving on access `port`, if the cache
    /// allows one.
    #[inline]
    pub fn new(t: &'t Tables, port: u16, cache: &MacCache) -> Option<AccessExpress<'t>> {
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
        Some(AccessExpress {
            mac: u64::from_le_bytes(m),
            tpl,
            port: t.underlay_port,
        })
    }

    /// Where the express tier's frames leave (the underlay port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its template's counter slot (counted once per run).
    pub fn counter(&self) -> u32 {
        self.tpl.counter()
    }

    /// Whether its template is VXLAN (counted apart, once per run).
    pub fn is_vxlan(&self) -> bool {
        self.tpl.encapsulation() == Encapsulation::Vxlan
    }

    /// Encapsulates `buf` if it is for the cached MAC and the fast tier
    /// takes it;
    /// `Some(underlay port)` then, else `None` with `buf` untouched.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(&self, buf: &mut B, rss: Option<u32>) -> Option<u16> {
        if !self.takes(buf) {
            return None;
        }
        encap_fast_ethernet(self.tpl, buf, rss).then_some(self.port)
    }

    /// Its template as the Ethernet fast tier over an IPv6 (`V6`) or IPv4
    /// underlay, if it is that one: checked once per burst, for
    /// [`encap_with`](Self::encap_with).
    pub fn fast<const V6: bool>(&self) -> Option<FastEthernet<'t, V6>> {
        FastEthernet::new(self.tpl)
    }

    /// Its template as the Ethernet fast tier over IPv6 with the outer UDP
    /// checksum computed in software, if it is that one (checked once per
    /// burst, before [`fast`](Self::fast)).
    pub fn fast_summed(&self) -> Option<FastEthernet<'t, true, true>> {
        FastEthernet::new(self.tpl)
    }

    /// [`encap`](Self::encap) with the fast sub-case known (`f` from
    /// [`fast`](Self::fast)): the same result and bytes, without the
    /// dispatch on the template per frame.
    #[inline(always)]
    pub fn encap_with<const V6: bool, const SUM: bool, B: Buffer + ?Sized>(
        &self,
        f: FastEthernet<'_, V6, SUM>,
        buf: &mut B,
        rss: Option<u32>,
    ) -> Option<u16> {
        if !self.takes(buf) {
            return None;
        }
        f.encap(buf, rss).then_some(self.port)
    }

    /// An untagged frame in one segment for the cached MAC.
    #[inline(always)]
    fn takes<B: Buffer + ?Sized>(&self, buf: &B) -> bool {
        let Some(h) = buf.data().first_chunk::<14>() else {
            return false;
        };
        let Some(head) = h.first_chunk::<8>() else {
            return false;
        };
        u64::from_le_bytes(*head) & 0xffff_ffff_ffff == self.mac
            && !tagged(h)
            && buf.total_len() == buf.len()
    }
}

/// The express tier of an L3 access port for one RX burst: an untagged
/// IPv4 frame not for the gateway itself, routed (the route's entry read
/// per frame, here rather than before the tier) to a resolved tunnel
/// without flow-id variant whose template the L3 fast tier takes
/// ([`encap_fast_ip`]), loses its Ethernet header and is encapsulated in
/// place. Everything else is left untouched for [`access_with_cache`],
/// which decides the same for the frames taken here.
///
/// The route's answer is kept between frames ([`L3Route`]): a frame whose
/// destination lands on the same route entry as the frame before
/// (DIR-24-8: the same first-table entry, or group entry) has the same
/// answer, so it costs one compare instead of the decode, the flow-id
/// variant check and the template fetch ([`route`](Self::route), once per
/// entry change).
pub struct L3Express<'t> {
    t: &'t Tables,
    routes: Lpm4<'t>,
    /// The gateway's own IPv4 address on the access side (frames to it
    /// are punted by the general path) as a big-endian u32, or a value no
    /// u32 equals when there is none.
    own_v4: u64,
    /// A template to stand in [`no_route`](Self::no_route) (the first;
    /// with none, no route can be taken and there is no express tier).
    stand_in: &'t EncapTemplate,
}

/// The answer the L3 express tier keeps for the frames that land on one
/// route entry: the entry and its template (see [`L3Express`]).
#[derive(Clone, Copy)]
pub struct L3Route<'t> {
    entry: u32,
    tpl: &'t EncapTemplate,
}

impl L3Route<'_> {
    /// The route entry it answers for.
    #[inline(always)]
    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// Its template's counter slot.
    #[inline]
    pub fn counter(&self) -> u32 {
        self.tpl.counter()
    }
}

impl<'t> L3Express<'t> {
    /// The express tier for frames arriving on `port`, if it is the
    /// untagged L3 access port.
    #[inline]
    pub fn new(t: &'t Tables, port: u16) -> Option<L3Express<'t>> {
        if t.access_for(port, 0) != Some(AccessIn::L3) {
            return None;
        }
        // The configuration gives the L3 access side at most one IPv4
        // address.
        let mut own = t.local_access.iter().filter_map(|a| match a {
            IpAddr::V4(v) => Some(u32::from(*v)),
            IpAddr::V6(_) => None,
        });
        let own_v4 = own.next().map_or(u64::MAX, u64::from);
        if own.next().is_some() {
            return None;
        }
        Some(L3Express {
            t,
            routes: t.l3.as_ref()?.routes_v4.v4()?,
            own_v4,
            stand_in: t.templates.first()?,
        })
    }

    /// Where the express tier's frames leave (the underlay port).
    pub fn port(&self) -> u16 {
        self.t.underlay_port
    }

    /// The line of route `entry`'s template if it stands for the
    /// template (an untagged IPv4 underlay, Geneve without options,
    /// checksums in software, no flow-id variant: see
    /// [`TemplateLine`]), for [`encap_line`](Self::encap_line). Where
    /// tables are large, a frame's route and template are both new, and
    /// the line is the one line of the template it needs.
    #[inline(always)]
    pub fn line(&self, entry: u32) -> Option<&'t TemplateLine> {
        let Some(Some(id)) = Lpm4::value(entry) else {
            return None;
        };
        let line = self.t.lines.get(id as usize)?;
        (line.kind() == LineKind::GeneveIp).then_some(line)
    }

    /// [`encap_on`](Self::encap_on) with a template's line
    /// ([`line`](Self::line)): the same bytes, the same decision.
    #[inline(always)]
    pub fn encap_line<B: Buffer + ?Sized>(
        &self,
        line: &TemplateLine,
        buf: &mut B,
        rss: Option<u32>,
    ) -> bool {
        const ETH: usize = 14;
        if buf.trim_front(ETH).is_err() {
            return false;
        }
        if line.encap_ip(buf, rss) {
            return true;
        }
        let _ = buf.prepend(ETH);
        false
    }

    /// Encapsulates `buf` if the express tier takes it: `Some(underlay
    /// port)`, else `None` with `buf` untouched. One frame alone: the
    /// route is found anew.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(&self, buf: &mut B, rss: Option<u32>) -> Option<u16> {
        let mut route = self.no_route();
        self.encap_routed(&mut route, buf, rss)
            .map(|_| self.t.underlay_port)
    }

    /// [`encap`](Self::encap) with `route` kept from the frames before:
    /// used when `buf` lands on its entry, replaced by the route of the
    /// entry `buf` lands on otherwise. `Some(true)` when `buf` was taken on
    /// a new route (for the caller's counts, as the worker's loop does
    /// with [`entry`](Self::entry), [`route`](Self::route) and
    /// [`encap_on`](Self::encap_on)).
    #[inline(always)]
    pub fn encap_routed<B: Buffer + ?Sized>(
        &self,
        route: &mut L3Route<'t>,
        buf: &mut B,
        rss: Option<u32>,
    ) -> Option<bool> {
        let entry = self.entry(buf)?;
        let new = entry != route.entry();
        if new {
            *route = self.route(entry)?;
        }
        self.encap_on(route, buf, rss).then_some(new)
    }

    /// The route entry of `buf` if the tier may take it (an untagged IPv4
    /// frame in one segment, not for the gateway itself), for
    /// [`route`](Self::route) or the kept [`L3Route`].
    #[inline(always)]
    pub fn entry<B: Buffer + ?Sized>(&self, buf: &B) -> Option<u32> {
        const ETH: usize = 14;
        let h = buf.data().first_chunk::<{ ETH + 20 }>()?;
        // EtherType IPv4 and IP version 4 in one load.
        let et_ver = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        if et_ver & 0xffff_f000 != 0x0800_4000 || buf.total_len() != buf.len() {
            return None;
        }
        let dst = u32::from_be_bytes([h[30], h[31], h[32], h[33]]);
        if u64::from(dst) == self.own_v4 {
            return None;
        }
        Some(self.routes.entry(dst))
    }

    /// The route of `entry` if the tier takes its frames: a resolved
    /// tunnel without flow-id variant. Once per entry change (the
    /// worker's loop calls it from a function of its own).
    #[inline]
    pub fn route(&self, entry: u32) -> Option<L3Route<'t>> {
        let Some(Some(id)) = Lpm4::value(entry) else {
            return None;
        };
        if !matches!(self.t.flow_variants.get(id as usize), None | Some(None)) {
            return None;
        }
        Some(L3Route {
            entry,
            tpl: self.t.templates.get(id as usize)?,
        })
    }

    /// A route no frame lands on (its entry is [`Lpm4::NO_ENTRY`]), to
    /// start with: the first frame replaces it, so its stand-in template
    /// never encapsulates a frame (a route, not an `Option`: no test of
    /// it per frame).
    #[inline]
    pub fn no_route(&self) -> L3Route<'t> {
        L3Route {
            entry: Lpm4::NO_ENTRY,
            tpl: self.stand_in,
        }
    }

    /// Encapsulates `buf` (whose [`entry`](Self::entry) is `route`'s) with
    /// `route`'s template if the fast tier takes it; false with `buf`
    /// untouched otherwise.
    #[inline(always)]
    pub fn encap_on<B: Buffer + ?Sized>(
        &self,
        route: &L3Route<'t>,
        buf: &mut B,
        rss: Option<u32>,
    ) -> bool {
        const ETH: usize = 14;
        let tpl = route.tpl;
        // The IP packet travels without its Ethernet header; if the fast
        // tier declines, the header (never written) is put back.
        if buf.trim_front(ETH).is_err() {
            return false;
        }
        if encap_fast_ip(tpl, buf, rss) {
            return true;
        }
        let _ = buf.prepend(ETH);
        false
    }
}

/// [`access`] with the worker's last-lookup cache.
#[inline]
pub fn access_with_cache<B: Buffer + ?Sized>(
    t: &Tables,
    port: u16,
    buf: &mut B,
    rss: Option<u32>,
    cache: &mut MacCache,
) -> Outcome {
    cache.chosen = None;
    let Some((vlan, et_off)) = eth_vlan(buf.data()) else {
        return Outcome::Drop(DropReason::AccessTruncated);
    };
    match t.access_for(port, vlan.unwrap_or(0)) {
        Some(AccessIn::L2(seg)) => {
            if vlan.is_some() && !strip_vlan(buf) {
                return Outcome::Drop(DropReason::AccessTruncated);
            }
            let d = buf.data();
            // The segment's tag (stripped) is the only one: an 802.1ad tag,
            // or a second tag, never enters this or another segment's VNI.
            if tagged(d) {
                return Outcome::Drop(DropReason::AccessStackedTag);
            }
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
                        Some(e) => CachedMac::Known(e.template()),
                        None => CachedMac::Unknown,
                    },
                    chosen: None,
                };
            }
            match cache.entry {
                CachedMac::Known(Some(id)) => {
                    cache.chosen = Some(id);
                    encap_unicast(t, id, buf, rss, None)
                }
                CachedMac::Known(None) => Outcome::Drop(DropReason::NextHopUnresolved),
                CachedMac::Unknown | CachedMac::Empty => Outcome::Flood(seg),
            }
        }
        Some(AccessIn::L3) => l3_access(t, buf, et_off, rss, &mut cache.chosen),
        None => Outcome::Drop(DropReason::NoSegment),
    }
}

fn l3_access<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    et_off: usize,
    rss: Option<u32>,
    chosen: &mut Option<TemplateId>,
) -> Outcome {
    let Some(l3) = &t.l3 else {
        return Outcome::Drop(DropReason::NoSegment);
    };
    let d = buf.data();
    let ip = et_off + 2;
    let dst = match rd16(d, et_off) {
        EtherType::ARP => return Outcome::Punt(PuntKind::Local),
        EtherType::IPV4 if d.len() >= ip + 20 => {
            IpAddr::from([d[ip + 16], d[ip + 17], d[ip + 18], d[ip + 19]])
        }
        EtherType::IPV6 if d.len() >= ip + 40 => {
            if d[ip + 6] == ip_proto::ICMPV6 && d[ip + 24] == 0xff {
                // Multicast ICMPv6: neighbour discovery for the gateway.
                return Outcome::Punt(PuntKind::Local);
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&d[ip + 24..ip + 40]);
            IpAddr::from(a)
        }
        _ => return Outcome::Drop(DropReason::InnerNotIp),
    };
    if t.local_access.contains(&dst) {
        return Outcome::Punt(PuntKind::Local);
    }
    let route = match dst {
        IpAddr::V4(_) => l3.routes_v4.lookup(lpm_key(dst)),
        IpAddr::V6(_) => l3.routes_v6.lookup(lpm_key(dst)),
    };
    match route {
        None => Outcome::Drop(DropReason::NoRoute),
        Some(None) => Outcome::Drop(DropReason::NextHopUnresolved),
        Some(Some(id)) => {
            *chosen = Some(id);
            // The IP packet travels without its Ethernet header (0x0800 / 0x86DD).
            if buf.trim_front(ip).is_err() {
                return Outcome::Drop(DropReason::AccessTruncated);
            }
            encap_unicast(t, id, buf, rss, Some(0))
        }
    }
}
