//! The encap fast tier (see [the glossary](crate::tunnel#tiers)): an inner
//! IPv4 packet, untagged Ethernet (L2 tunnels) or alone (L3), under a
//! template without outer VLAN tag, written at fixed offsets. It writes
//! exactly the general tier's bytes or declines with the buffer untouched.
use crate::tunnel::buffer::Buffer;
use crate::tunnel::hash::{hash_ipv4, hash_ipv4_ihl5};
use crate::wire::{ethernet, ipv4, ipv6};

use super::template::{
    udp_checksum_of, write_v4_header, write_v6_fast, FastCase, FastFields, UdpCsumFast,
};
use super::EncapTemplate;
use crate::tunnel::offload::pseudo_seed;
use crate::wire::checksum;

/// Where the inner IPv4 header starts: after an Ethernet header, or at once.
pub(super) const ETH: usize = ethernet::HEADER_LEN;
pub(super) const IP: usize = 0;

/// The fast tier for Ethernet payloads only: true when `buf` was
/// encapsulated (a template without outer VLAN tag and with Ethernet
/// payload, an inner IPv4 packet in an untagged frame, within the MTU,
/// enough headroom), false with `buf` untouched for anything else. For
/// callers with their own fallback (the worker's express tier);
/// [`encap`](super::encap) gives the same bytes.
#[inline(always)]
pub fn encap_fast_ethernet<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    match t.fast {
        FastCase::V4Ethernet => encap_fast::<ETH, false, false, B>(t, buf, flow_hash).is_some(),
        FastCase::V6Ethernet => encap_fast::<ETH, true, false, B>(t, buf, flow_hash).is_some(),
        // Not here: inlined too, they make the worker's express tier spill
        // registers (see BENCHMARKS.md). [`encap`](super::encap) has them.
        FastCase::V4Ip | FastCase::V6Ip | FastCase::None => false,
    }
}

/// A template the Ethernet fast tier takes, with its underlay family
/// (`V6`) checked once, in [`FastEthernet::new`]: a loop over a burst then
/// runs its one sub-case with no dispatch on the template per frame. It
/// writes what [`encap_fast_ethernet`] writes and declines what it
/// declines (the template cannot change while it is borrowed). `SUM`: an
/// IPv6 template whose outer UDP checksum the software computes, known
/// per burst too (no test of the checksum's mode per frame).
#[derive(Clone, Copy)]
pub struct FastEthernet<'t, const V6: bool, const SUM: bool = false>(&'t EncapTemplate);

impl<'t, const V6: bool, const SUM: bool> FastEthernet<'t, V6, SUM> {
    /// `t` if its fast case is Ethernet payload over IPv6 (`V6`) or IPv4,
    /// and, with `SUM`, an IPv6 one whose UDP checksum the software
    /// computes.
    pub fn new(t: &'t EncapTemplate) -> Option<Self> {
        let case = if V6 {
            FastCase::V6Ethernet
        } else {
            FastCase::V4Ethernet
        };
        let sum = !SUM || (V6 && t.udp_csum_fast() == UdpCsumFast::Software);
        (t.fast == case && sum).then_some(FastEthernet(t))
    }

    /// [`encap_fast_ethernet`] for this template.
    #[inline(always)]
    pub fn encap<B: Buffer + ?Sized>(self, buf: &mut B, flow_hash: Option<u32>) -> bool {
        encap_fast::<ETH, V6, SUM, B>(self.0, buf, flow_hash).is_some()
    }
}

/// The L3 (IPv4 payload) fast tier alone, for the worker's L3 express
/// tier (a loop of its own, so inlined there): true when `buf` (an IPv4
/// packet) was encapsulated, false with `buf` untouched when the fast tier
/// declines.
#[inline(always)]
pub fn encap_fast_ip<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    match t.fast {
        FastCase::V4Ip => encap_fast::<IP, false, false, B>(t, buf, flow_hash).is_some(),
        FastCase::V6Ip => encap_fast_ip_v6(t, buf, flow_hash),
        _ => false,
    }
}

/// The L3 fast tier over IPv6, out of line: inlined beside the IPv4 one,
/// its checksum's sum took registers from the L3 express loop, which
/// then spilled on the IPv4 case too (see BENCHMARKS.md).
#[inline(never)]
fn encap_fast_ip_v6<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    encap_fast::<IP, true, false, B>(t, buf, flow_hash).is_some()
}

/// Every fast-tier sub-case: [`encap_fast_ethernet`] and the L3 (IPv4
/// payload) ones. False, `buf` untouched, when the fast tier declines.
#[inline(always)]
pub(super) fn encap_fast_any<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    match t.fast {
        FastCase::V4Ethernet | FastCase::V6Ethernet => encap_fast_ethernet(t, buf, flow_hash),
        FastCase::V4Ip => encap_fast::<IP, false, false, B>(t, buf, flow_hash).is_some(),
        FastCase::V6Ip => encap_fast::<IP, true, false, B>(t, buf, flow_hash).is_some(),
        FastCase::None => false,
    }
}

/// Bytes of the inner IPv4 packet the fast tier reads: the header without
/// options and the first 4 bytes after it (the ports).
const FAST_INNER_IP_LEN: usize = ipv4::HEADER_LEN + 4;

/// One fast-tier sub-case (an inner IPv4 packet at `L2`, see
/// [`fast_inner`], and the headroom for the header) over an IPv4 underlay,
/// or IPv6 (`V6`: the header of [`write_v6_header`], no header checksum):
/// fixed offsets, one header slice, no re-slicing of the packet. `None`
/// (buffer untouched) for anything else; the general tier writes the same
/// bytes for it.
#[inline(always)]
fn encap_fast<const L2: usize, const V6: bool, const SUM: bool, B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Option<()> {
    let inner = buf.data();
    let FastInner {
        len: inner_len,
        tos,
        ttl,
        hash,
    } = fast_inner::<L2, _>(t, inner, flow_hash)?;
    let sport = t.src_port_for(hash);
    if V6 {
        // The inner frame's sum while its bytes are at hand, the header
        // then written with its checksum in one pass (write_v6_fast).
        // `SUM`: the mode checked once per burst ([`FastEthernet::new`]).
        let mode = if SUM {
            UdpCsumFast::Software
        } else {
            t.udp_csum_fast()
        };
        let inner_sum = match mode {
            UdpCsumFast::Software => checksum::sum_frame(inner),
            _ => 0,
        };
        // Too little headroom: the general tier moves the data back first.
        let h = buf.prepend_header(t.len)?;
        write_v6_fast(t, h, mode, inner_len, tos, ttl, sport, hash, inner_sum);
    } else {
        let h = buf.prepend_header(t.len)?;
        let udp_len = write_v4_header(t, h, ethernet::HEADER_LEN, inner_len, tos, ttl, sport);
        if t.udp_csum {
            fast_udp_checksum::<V6>(t, buf.data_mut(), udp_len, sport);
        }
    }
    if let Some(o) = &t.tx_offload {
        buf.set_tx_offload(o);
    }
    Some(())
}

/// The outer UDP checksum field of a fast-tier packet (`data`: the whole
/// packet, the template's header in front): the NIC's pseudo-header seed,
/// or one pass over the inner bytes added to the template's precomputed
/// sum ([`udp_checksum_of`]); the header is not summed again.
#[inline(always)]
fn fast_udp_checksum<const V6: bool>(t: &EncapTemplate, data: &mut [u8], udp_len: u16, sport: u16) {
    // Untagged outer Ethernet: the UDP header is at a constant offset.
    const fn udp_at(v6: bool) -> usize {
        ethernet::HEADER_LEN
            + if v6 {
                ipv6::HEADER_LEN
            } else {
                ipv4::HEADER_LEN
            }
    }
    let field = if t.hw_udp_csum {
        pseudo_seed(t.phdr_addr_sum, udp_len)
    } else {
        let inner = checksum::accumulate(0, data.get(t.len..).unwrap_or(&[]));
        udp_checksum_of(t, udp_len, sport, inner)
    };
    if let Some(f) = data.get_mut(udp_at(V6) + 6..udp_at(V6) + 8) {
        f.copy_from_slice(&field.to_be_bytes());
    }
}

/// What the fast tier takes from the inner frame.
pub(super) struct FastInner {
    pub(super) len: usize,
    /// Outer TOS / traffic class.
    pub(super) tos: u8,
    /// Outer TTL / hop limit.
    pub(super) ttl: u8,
    pub(super) hash: u32,
}

/// The inner packet of the fast tier (IPv4 at `L2`: [`ETH`], in an
/// untagged Ethernet frame, or [`IP`], alone; within the tunnel MTU) with
/// what the outer header takes from it: what `inner_l3` + `tos_ttl` +
/// `inner_flow_hash` find for such a packet. `None` for any other.
#[inline(always)]
pub(super) fn fast_inner<const L2: usize, F: FastFields>(
    t: &F,
    inner: &[u8],
    flow_hash: Option<u32>,
) -> Option<FastInner> {
    let len = inner.len();
    // Constant bounds: one length check for all the reads below.
    let e = inner.get(..L2 + FAST_INNER_IP_LEN)?;
    let ip = e.get(L2..L2 + ipv4::HEADER_LEN)?;
    let is_v4 = if L2 == ETH {
        // EtherType IPv4 and IP version 4: one load.
        let et_ver = u32::from_be_bytes(*e.get(12..)?.first_chunk::<4>()?);
        et_ver & 0xffff_f000 == 0x0800_4000
    } else {
        ip[0] >> 4 == 4
    };
    if !is_v4 || len > t.max_inner() {
        return None;
    }
    let hash = match (flow_hash, e.get(L2..)?.first_chunk::<FAST_INNER_IP_LEN>()) {
        (Some(h), _) => h,
        // No options: the ports at a fixed offset, within the bytes
        // checked above.
        (None, Some(h)) if h[0] == 0x45 => hash_ipv4_ihl5(h),
        // Version 4 was checked above: `None` only for a truncated header.
        (None, _) => hash_ipv4(inner.get(L2..)?)?,
    };
    Some(FastInner {
        len,
        tos: t.outer_tos(ip[1]),
        ttl: t.outer_ttl(ip[8]),
        hash,
    })
}
