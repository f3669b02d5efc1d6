//! The access side (see [the tiers](crate::tunnel#tiers)): a frame from an
//! access port, through the express tier ([`AccessExpress`]) or the MAC
//! table, VLAN, L3 routes and flow-id variants, to an encapsulated frame, a
//! flood, a punt or a counted drop.
use std::net::IpAddr;

use crate::tunnel::{
    encap, encap_fast_ethernet, encap_fast_ip, Buffer, EncapError, EncapTemplate, FastEthernet,
};
use crate::wire::{checksum, Encapsulation};

use super::{eth_vlan, rd16, strip_vlan, tagged, DropReason, Outcome, PuntKind};
use crate::dataplane::flows::{key_at, key_of_ethernet};
use crate::dataplane::tables::{lpm_key, AccessIn, FlowIdVariant, L3Tables, Tables, TemplateId};
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
/// IPv4 frame not for the gateway itself, routed (one route lookup per
/// frame, here rather than before the tier) to a resolved tunnel without
/// flow-id variant whose template the L3 fast tier takes
/// ([`encap_fast_ip`]), loses its Ethernet header and is encapsulated in
/// place. Everything else is left untouched for [`access_with_cache`],
/// which decides the same for the frames taken here.
pub struct L3Express<'t> {
    t: &'t Tables,
    l3: &'t L3Tables,
    /// The gateway's own IPv4 address on the access side (frames to it
    /// are punted by the general path), as the frame holds it.
    own_v4: Option<[u8; 4]>,
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
            IpAddr::V4(v) => Some(v.octets()),
            IpAddr::V6(_) => None,
        });
        let own_v4 = own.next();
        if own.next().is_some() {
            return None;
        }
        Some(L3Express {
            t,
            l3: t.l3.as_ref()?,
            own_v4,
        })
    }

    /// Where the express tier's frames leave (the underlay port).
    pub fn port(&self) -> u16 {
        self.t.underlay_port
    }

    /// Encapsulates `buf` if the express tier takes it: `Some(underlay
    /// port)`, else `None` with `buf` untouched.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(&self, buf: &mut B, rss: Option<u32>) -> Option<u16> {
        self.encap_counted(buf, rss).map(|_| self.t.underlay_port)
    }

    /// [`encap`](Self::encap) that says the counter slot of the frame's
    /// template instead (it leaves by [`port`](Self::port)).
    #[inline(always)]
    pub fn encap_counted<B: Buffer + ?Sized>(&self, buf: &mut B, rss: Option<u32>) -> Option<u32> {
        self.encap_routed::<false, B>(buf, rss, None)
    }

    /// [`encap_counted`](Self::encap_counted) with the route of the frame's
    /// IPv4 destination given (`route`: the template `routes_v4.lookup`
    /// resolves it to, `None` for no route or an unresolved one), not
    /// looked up: the look-ahead's answer for the frame
    /// (`AccessAhead::route`) at scale.
    #[inline(always)]
    pub fn encap_counted_with<B: Buffer + ?Sized>(
        &self,
        buf: &mut B,
        rss: Option<u32>,
        route: Option<TemplateId>,
    ) -> Option<u32> {
        self.encap_routed::<true, B>(buf, rss, route)
    }

    /// The two above: with `KEPT` the route is `route`, else looked up.
    /// (A const parameter, not a closure: a closure that did the lookup was
    /// not inlined and cost the one-entry loop 26 instructions a packet.)
    #[inline(always)]
    fn encap_routed<const KEPT: bool, B: Buffer + ?Sized>(
        &self,
        buf: &mut B,
        rss: Option<u32>,
        route: Option<TemplateId>,
    ) -> Option<u32> {
        const ETH: usize = 14;
        let h = buf.data().first_chunk::<{ ETH + 20 }>()?;
        // EtherType IPv4 and IP version 4 in one load.
        let et_ver = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        if et_ver & 0xffff_f000 != 0x0800_4000 || buf.total_len() != buf.len() {
            return None;
        }
        let dst = [h[30], h[31], h[32], h[33]];
        if self.own_v4 == Some(dst) {
            return None;
        }
        let id = if KEPT {
            route?
        } else {
            let Some(Some(id)) = self.l3.routes_v4.lookup(lpm_key(IpAddr::from(dst))) else {
                return None;
            };
            id
        };
        if !matches!(self.t.flow_variants.get(id as usize), None | Some(None)) {
            return None;
        }
        let tpl = self.t.templates.get(id as usize)?;
        // The IP packet travels without its Ethernet header; if the fast
        // tier declines, the header (never written) is put back.
        buf.trim_front(ETH).ok()?;
        if encap_fast_ip(tpl, buf, rss) {
            return Some(tpl.counter());
        }
        let _ = buf.prepend(ETH);
        None
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
                        Some(e) => CachedMac::Known(e.template),
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
