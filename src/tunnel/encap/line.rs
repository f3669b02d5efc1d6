//! One cache line per template: what the encap fast tier needs to write
//! the header of an untagged IPv4 template without options whose
//! checksums the software writes, the most common tunnel.
//!
//! With hundreds of thousands of tunnels the templates do not stay in the
//! cache, and a packet to a random one waits on every line of it that the
//! fast tier reads: the header and the wide fields at its start, the
//! narrow fields after the header's room, and the flow-id variant slot
//! beside it (about five lines, see BENCHMARKS.md). A [`TemplateLine`] is
//! those bytes packed into one aligned line: the 50 header bytes
//! (Ethernet 14, IPv4 20, UDP 8, Geneve or VXLAN 8) and the 14 bytes of
//! fields. The data plane keeps one beside each template
//! and reads it instead where tables are large; it writes exactly what
//! the fast tier writes from the template, or declines with the buffer
//! untouched where the fast tier declines.
//!
//! Two header bytes the per-packet writer always overwrites hold
//! something else in the line: the outer TTL byte holds the pipe TTL (0:
//! copy the inner one), and the first byte of the IPv4 header checksum
//! says what the line stands for ([`LineKind`]).
use crate::tunnel::buffer::Buffer;
use crate::tunnel::hash::port_from_hash;
use crate::tunnel::qos::TtlEncap;
use crate::wire::{ethernet, geneve, ipv4, udp, Encapsulation};

use super::fast::{fast_inner, FastInner, ETH, IP};
use super::template::{write_v4_fields_at, FastCase, FastFields};
use super::EncapTemplate;

/// The header a line holds: untagged Ethernet, IPv4, UDP, and a Geneve
/// header without options (or VXLAN's, of the same 8 bytes).
pub const LINE_HEADER_LEN: usize =
    ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN + geneve::HEADER_LEN;

/// Where the outer IPv4 header starts in the line's header.
const IP_AT: usize = ethernet::HEADER_LEN;
/// The outer TTL byte: the pipe TTL, 0 for the uniform model.
const TTL_AT: usize = IP_AT + 8;
/// The first byte of the outer IPv4 header checksum: the [`LineKind`].
const KIND_AT: usize = IP_AT + 10;
/// Where the UDP header starts.
const UDP_AT: usize = IP_AT + ipv4::HEADER_LEN;

/// What a [`TemplateLine`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LineKind {
    /// Not its template: read the template (an IPv6 underlay, options, an
    /// outer VLAN tag, an IPv6 payload, a flow-id variant, checksums the
    /// NIC finishes, a UDP checksum).
    Template = 0,
    /// Ethernet frames under Geneve.
    GeneveEthernet = 1,
    /// Ethernet frames under VXLAN.
    VxlanEthernet = 2,
    /// IPv4 packets under Geneve (L3 mode).
    GeneveIp = 3,
}

/// One template's fast-tier bytes in one cache line (see the module doc).
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLine {
    hdr: [u8; LINE_HEADER_LEN],
    ip_sum: u16,
    counter: u32,
    max_inner: u16,
    port_base: u16,
    /// The source port span less one (the span is 1 to 65,536).
    port_span_less_one: u16,
    tos_fixed: u8,
    tos_inner_mask: u8,
}

const _: () = assert!(std::mem::size_of::<TemplateLine>() == 64);

impl TemplateLine {
    /// The line of template `t`; `has_variant`: a flow-id policy gives it a
    /// variant (the line then stands for nothing, the template decides).
    /// The counter slot is kept in every line.
    pub fn of(t: &EncapTemplate, has_variant: bool) -> TemplateLine {
        let kind = match (t.fast, t.encapsulation) {
            (FastCase::V4Ethernet, Encapsulation::Geneve) => LineKind::GeneveEthernet,
            (FastCase::V4Ethernet, Encapsulation::Vxlan) => LineKind::VxlanEthernet,
            (FastCase::V4Ip, Encapsulation::Geneve) => LineKind::GeneveIp,
            _ => LineKind::Template,
        };
        let pipe_ttl = match t.ttl {
            TtlEncap::Pipe(v) => v,
            TtlEncap::Uniform { .. } => 0,
        };
        let max_inner = u16::try_from(t.max_inner)
            .ok()
            .filter(|&m| usize::from(m) + LINE_HEADER_LEN <= usize::from(u16::MAX));
        let span_less_one = u16::try_from(t.port_span.wrapping_sub(1)).ok();
        let mut line = TemplateLine {
            hdr: [0; LINE_HEADER_LEN],
            ip_sum: t.ip_sum,
            counter: t.counter,
            max_inner: max_inner.unwrap_or(0),
            port_base: t.port_base,
            port_span_less_one: span_less_one.unwrap_or(0),
            tos_fixed: t.tos_fixed,
            tos_inner_mask: t.tos_inner_mask,
        };
        // A V4 fast case is an untagged IPv4 underlay (the layout the line
        // copies); no offload leaves both checksums to the software (the
        // line writes the IPv4 one and no UDP one); a pipe TTL of 0 would
        // read as the uniform model.
        let stands = kind != LineKind::Template
            && !has_variant
            && t.len == LINE_HEADER_LEN
            && !t.udp_csum
            && t.tx_offload.is_none()
            && !matches!(t.ttl, TtlEncap::Pipe(0))
            && max_inner.is_some()
            && span_less_one.is_some();
        if stands {
            if let Some(h) = t.hdr.first_chunk::<LINE_HEADER_LEN>() {
                line.hdr = *h;
                line.hdr[TTL_AT] = pipe_ttl;
                line.hdr[KIND_AT] = kind as u8;
            }
        }
        line
    }

    /// What this line stands for.
    #[inline(always)]
    pub fn kind(&self) -> LineKind {
        match self.hdr[KIND_AT] {
            1 => LineKind::GeneveEthernet,
            2 => LineKind::VxlanEthernet,
            3 => LineKind::GeneveIp,
            _ => LineKind::Template,
        }
    }

    /// The counter slot of the template's tunnel (`u32::MAX`: none), in
    /// every line.
    #[inline(always)]
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Encapsulates an Ethernet frame (a line of kind
    /// [`LineKind::GeneveEthernet`] or [`LineKind::VxlanEthernet`]; the
    /// caller checks): true when `buf` was encapsulated, with the bytes
    /// the fast tier writes from the template; false, `buf` untouched,
    /// where the fast tier declines (an inner packet that is not IPv4 in
    /// an untagged frame, too long, too little headroom).
    #[inline(always)]
    pub fn encap_ethernet<B: Buffer + ?Sized>(&self, buf: &mut B, flow_hash: Option<u32>) -> bool {
        self.encap::<ETH, B>(buf, flow_hash).is_some()
    }

    /// [`encap_ethernet`](Self::encap_ethernet) for an IPv4 packet (a line
    /// of kind [`LineKind::GeneveIp`]).
    #[inline(always)]
    pub fn encap_ip<B: Buffer + ?Sized>(&self, buf: &mut B, flow_hash: Option<u32>) -> bool {
        self.encap::<IP, B>(buf, flow_hash).is_some()
    }

    #[inline(always)]
    fn encap<const L2: usize, B: Buffer + ?Sized>(
        &self,
        buf: &mut B,
        flow_hash: Option<u32>,
    ) -> Option<()> {
        let FastInner {
            len,
            tos,
            ttl,
            hash,
        } = fast_inner::<L2, _>(self, buf.data(), flow_hash)?;
        let span = u32::from(self.port_span_less_one) + 1;
        let sport = port_from_hash(hash, self.port_base, span);
        // `len` <= max_inner, which leaves room for the header in a u16.
        let udp_len = (LINE_HEADER_LEN - UDP_AT + len) as u16;
        let h = buf.prepend_header(LINE_HEADER_LEN)?;
        // `prepend_header` gives exactly the bytes asked for: this holds.
        if let Some(h) = h.first_chunk_mut::<LINE_HEADER_LEN>() {
            *h = self.hdr;
            write_v4_fields_at(self, h, IP_AT, udp_len, tos, ttl, sport);
        }
        Some(())
    }
}

impl FastFields for TemplateLine {
    #[inline(always)]
    fn max_inner(&self) -> usize {
        usize::from(self.max_inner)
    }
    #[inline(always)]
    fn outer_tos(&self, inner_tos: u8) -> u8 {
        self.tos_fixed | (inner_tos & self.tos_inner_mask)
    }
    #[inline(always)]
    fn outer_ttl(&self, inner_ttl: u8) -> u8 {
        match self.hdr[TTL_AT] {
            0 => inner_ttl,
            v => v,
        }
    }
    #[inline(always)]
    fn ip_sum(&self) -> u16 {
        self.ip_sum
    }
    #[inline(always)]
    fn ip_csum_mask(&self) -> u16 {
        0xffff
    }
}
