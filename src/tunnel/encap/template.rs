//! The per-tunnel header template: built once from a [`TunnelConfig`],
//! and the writers that copy it in front of a packet and patch its
//! per-packet fields (shared by the fast and general tiers).
use std::net::IpAddr;

use super::{EncapError, TemplateError, TunnelConfig, UdpChecksumTx};
use crate::tunnel::hash::port_from_hash;
use crate::tunnel::offload::{pseudo_seed, TxOffload, TxOffloadCaps};
use crate::tunnel::qos::{DscpEncap, EcnEncapMode, TtlEncap};
use crate::tunnel::PayloadKind;
use crate::wire::checksum;
use crate::wire::ethernet::{self, EtherType, EthernetRepr, VlanTag};
use crate::wire::geneve::{self, GeneveOptionRepr, GeneveRepr, OPTION_TYPE_CRITICAL};
use crate::wire::{
    ip_proto, ipv4, ipv6, udp, vxlan, Encapsulation, Ipv4Repr, Ipv6Repr, UdpRepr, VxlanRepr,
};

/// Which fast-tier sub-case a template takes: no outer VLAN tag, an inner
/// IPv4 packet in an untagged Ethernet frame (L2 tunnels) or alone (L3),
/// over an IPv4 or IPv6 underlay; `None`: the general tier only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FastCase {
    None,
    V4Ethernet,
    V6Ethernet,
    V4Ip,
    V6Ip,
}

/// Largest template: Ethernet + tag, IPv6, UDP, Geneve with 252 bytes of options.
pub const MAX_TEMPLATE_LEN: usize =
    18 + ipv6::HEADER_LEN + udp::HEADER_LEN + geneve::MAX_HEADER_LEN;

/// A per-tunnel header template, prebuilt once, read by every worker.
///
/// In the compiler's own field order, which puts the wide fields first,
/// then the header bytes, then the narrow fields: the fast tier reads of an
/// untagged IPv4 template without options only the first
/// [`EncapTemplate::HOT_BYTES`] and the bytes from
/// [`EncapTemplate::TAIL_AT`] on, which is all the look-ahead prefetches
/// of a template whose [`TemplateLine`](super::TemplateLine) does not
/// stand for it (with tens of thousands of tunnels the templates do not
/// fit the cache, and each line is a miss; where the line stands for the
/// template, the look-ahead reads the line alone). A `repr(C)` order with every hot field before
/// the header (two lines), or the template aligned to a cache line (exact
/// lines), changed the register allocation of the L3 express loop and cost
/// the one-entry encap-l3 case instructions (see BENCHMARKS.md, "Flat cost
/// per packet"); the layout test in `encap/tests.rs` checks that every
/// field the fast tier reads is in the prefetched bytes.
#[derive(Debug, Clone)]
pub struct EncapTemplate {
    pub(super) hdr: [u8; MAX_TEMPLATE_LEN],
    pub(super) len: usize,
    pub(super) l3: usize,
    pub(super) udp: usize,
    pub(super) ipv6: bool,
    /// Folded (not complemented) one's complement sum of the template IPv4
    /// header with TOS, length, TTL and checksum zero: encap adds the
    /// per-packet fields and complements.
    pub(super) ip_sum: u16,
    /// Outer TOS = `tos_fixed | (inner TOS & tos_inner_mask)` (DSCP model
    /// and RFC 6040 ECN mode folded together).
    pub(super) tos_fixed: u8,
    pub(super) tos_inner_mask: u8,
    /// Which fast-tier sub-case this template takes.
    pub(super) fast: FastCase,
    pub(super) port_base: u16,
    pub(super) port_span: u32,
    pub(super) udp_csum: bool,
    pub(super) payload: PayloadKind,
    pub(super) ttl: TtlEncap,
    /// Largest inner packet (bytes handed to `encap`).
    pub(super) max_inner: usize,
    pub(super) inner_ip_mtu: u16,
    /// Source, destination and protocol words of the UDP pseudo header,
    /// summed (the UDP length is added per packet).
    pub(super) phdr_addr_sum: u32,
    /// Unfolded one's complement sum of everything the outer UDP checksum
    /// covers that the template fixes: the pseudo header's addresses and
    /// protocol, the UDP destination port, the Geneve header and options.
    /// A packet adds its UDP length (twice: pseudo header and UDP header),
    /// source port and the inner packet's sum ([`udp_checksum_of`]).
    pub(super) udp_sum_base: u64,
    /// 0 when the NIC computes the outer IPv4 header checksum (write 0
    /// there), else 0xffff.
    pub(super) ip_csum_mask: u16,
    /// The NIC computes the UDP checksum: write the pseudo-header sum.
    pub(super) hw_udp_csum: bool,
    /// What `encap` tells the buffer when the NIC computes anything.
    pub(super) tx_offload: Option<TxOffload>,
    /// The NIC segments too-big inner TCP frames (Geneve TSO).
    pub(super) hw_tso: bool,
    /// The tunnel header this template writes.
    pub(super) encapsulation: Encapsulation,
    /// Where the worker counts this template's packets (the tunnel's
    /// counter slot, `u32::MAX` for none): an index, not a header field.
    pub(super) counter: u32,
}

impl EncapTemplate {
    /// The bytes at the start of a template that hold the fast tier's
    /// wide fields and the header of an untagged IPv4 template without
    /// options, to its last byte (its narrow fields are after the header's
    /// room, from [`TAIL_AT`](Self::TAIL_AT)): what the look-ahead
    /// prefetches before encap, with that tail (the lines these bytes
    /// touch; a round 128 named a line more in three templates of eight,
    /// the array's stride not being a multiple of a line).
    pub const HOT_BYTES: usize = Self::HEADER_AT
        + ethernet::HEADER_LEN
        + ipv4::HEADER_LEN
        + udp::HEADER_LEN
        + geneve::HEADER_LEN;

    /// Where the header bytes start in the template.
    pub const HEADER_AT: usize = std::mem::offset_of!(EncapTemplate, hdr);

    /// Where the fields after the header's room start (to the end).
    pub const TAIL_AT: usize = Self::HEADER_AT + MAX_TEMPLATE_LEN;

    /// Build the template. This is the configuration-time step; it allocates nothing
    /// the hot path uses.
    pub fn new(cfg: &TunnelConfig) -> Result<EncapTemplate, TemplateError> {
        let mut opts_len = 0usize;
        let mut critical = false;
        for (i, o) in cfg.options.iter().enumerate() {
            if !o.data.len().is_multiple_of(4) || o.data.len() > geneve::MAX_OPTION_DATA_LEN {
                return Err(TemplateError::BadOptionLength { index: i });
            }
            opts_len += 4 + o.data.len();
            critical |= o.typ & OPTION_TYPE_CRITICAL != 0;
        }
        if opts_len > geneve::MAX_OPTIONS_LEN {
            return Err(TemplateError::OptionsTooLong);
        }
        let vxlan = cfg.encapsulation == Encapsulation::Vxlan;
        if vxlan {
            if !cfg.options.is_empty() {
                return Err(TemplateError::VxlanCannotCarry("Geneve options"));
            }
            if cfg.payload != PayloadKind::Ethernet {
                return Err(TemplateError::VxlanCannotCarry("an IP payload"));
            }
            if cfg.oam {
                return Err(TemplateError::VxlanCannotCarry("the O bit"));
            }
        }
        let (lo, hi) = cfg.src_port_range;
        if lo > hi {
            return Err(TemplateError::BadPortRange);
        }
        if let DscpEncap::Pipe(d) = cfg.dscp {
            if d > 63 {
                return Err(TemplateError::BadField("dscp"));
            }
        }
        if cfg.vlan.is_some_and(|v| v > 4095) {
            return Err(TemplateError::BadField("vlan"));
        }
        let (ipv6, src, dst) = match (cfg.src, cfg.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (
                false,
                s.to_ipv6_mapped().octets(),
                d.to_ipv6_mapped().octets(),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => (true, s.octets(), d.octets()),
            _ => return Err(TemplateError::AddressFamilyMismatch),
        };
        let mut hdr = [0u8; MAX_TEMPLATE_LEN];
        let eth = EthernetRepr {
            dst: cfg.dst_mac,
            src: cfg.src_mac,
            vlan: cfg.vlan.map(|v| VlanTag {
                tpid: EtherType::VLAN,
                tci: v,
            }),
            ethertype: if ipv6 {
                EtherType::IPV6
            } else {
                EtherType::IPV4
            },
        };
        let l3 = eth
            .emit(&mut hdr)
            .map_err(|_| TemplateError::OptionsTooLong)?;
        let ip_len = if ipv6 {
            ipv6::HEADER_LEN
        } else {
            ipv4::HEADER_LEN
        };
        let udp_off = l3 + ip_len;
        let gen_off = udp_off + udp::HEADER_LEN;
        let len = gen_off + geneve::HEADER_LEN + opts_len;
        let mut ip_sum = 0;
        if ipv6 {
            Ipv6Repr {
                src,
                dst,
                next_header: ip_proto::UDP,
                traffic_class: 0,
                flow_label: 0,
                hop_limit: 0,
                payload_len: 0,
            }
            .emit(&mut hdr[l3..])
            .map_err(|_| TemplateError::OptionsTooLong)?;
        } else {
            Ipv4Repr {
                src: [src[12], src[13], src[14], src[15]],
                dst: [dst[12], dst[13], dst[14], dst[15]],
                protocol: ip_proto::UDP,
                tos: 0,
                ttl: 0,
                ident: 0,
                dont_frag: cfg.dont_fragment,
                payload_len: 0,
            }
            .emit(&mut hdr[l3..])
            .map_err(|_| TemplateError::OptionsTooLong)?;
            // The emitted length is 20 (payload 0); store the checksum of a
            // header whose length field is zero, so encap adds the real one.
            hdr[l3 + 2] = 0;
            hdr[l3 + 3] = 0;
            hdr[l3 + 10] = 0;
            hdr[l3 + 11] = 0;
            hdr[l3 + 8] = 0;
            ip_sum = checksum::fold(checksum::accumulate(0, &hdr[l3..l3 + ipv4::HEADER_LEN]));
            hdr[l3 + 10..l3 + 12].copy_from_slice(&(!ip_sum).to_be_bytes());
        }
        UdpRepr {
            src_port: 0,
            dst_port: cfg.udp_dst_port,
            payload_len: 0,
        }
        .emit(&mut hdr[udp_off..])
        .map_err(|_| TemplateError::OptionsTooLong)?;
        const _: () = assert!(vxlan::HEADER_LEN == geneve::HEADER_LEN);
        if vxlan {
            VxlanRepr { vni: cfg.vni }
                .emit(&mut hdr[gen_off..])
                .map_err(|_| TemplateError::OptionsTooLong)?;
        } else {
            GeneveRepr {
                oam: cfg.oam,
                critical,
                protocol: cfg.payload.ethertype(),
                vni: cfg.vni,
                options_len: opts_len,
            }
            .emit(&mut hdr[gen_off..])
            .map_err(|_| TemplateError::OptionsTooLong)?;
        }
        let mut off = gen_off + geneve::HEADER_LEN;
        for (i, o) in cfg.options.iter().enumerate() {
            off += GeneveOptionRepr {
                class: o.class,
                typ: o.typ,
                data: &o.data,
            }
            .emit(&mut hdr[off..])
            .map_err(|_| TemplateError::BadOptionLength { index: i })?;
        }
        // VXLAN has no options to reserve room for.
        let reserve = match vxlan {
            true => 0,
            false => cfg
                .mtu_options_reserve
                .map_or(opts_len, usize::from)
                .max(opts_len),
        };
        let overhead_ip = ip_len + udp::HEADER_LEN + geneve::HEADER_LEN + reserve;
        let max_inner = usize::from(cfg.underlay_mtu)
            .checked_sub(overhead_ip)
            .filter(|&m| m > 14)
            .ok_or(TemplateError::MtuTooSmall)?;
        let inner_ip_mtu = match cfg.payload {
            PayloadKind::Ethernet => max_inner - 14,
            _ => max_inner,
        };
        let udp_csum = match cfg.udp_checksum {
            Some(UdpChecksumTx::Compute) => true,
            Some(UdpChecksumTx::Zero) => false,
            None => ipv6,
        };
        let tos_fixed = match cfg.dscp {
            DscpEncap::Pipe(d) => d << 2,
            DscpEncap::Uniform => 0,
        };
        let tos_inner_mask = match cfg.dscp {
            DscpEncap::Pipe(_) => 0,
            DscpEncap::Uniform => 0xfc,
        } | match cfg.ecn {
            EcnEncapMode::Normal => 0x03,
            EcnEncapMode::Compatibility => 0,
        };
        let phdr_addr_sum = {
            let a = checksum::accumulate(0, &src[if ipv6 { 0 } else { 12 }..])
                + checksum::accumulate(0, &dst[if ipv6 { 0 } else { 12 }..])
                + u64::from(ip_proto::UDP);
            u32::from(checksum::fold(a))
        };
        let udp_sum_base = {
            // The UDP header with source port, length and checksum zero.
            let mut u = [0u8; udp::HEADER_LEN];
            u[2..4].copy_from_slice(&hdr[udp_off + 2..udp_off + 4]);
            checksum::accumulate(
                u64::from(phdr_addr_sum) + checksum::accumulate(0, &u),
                &hdr[gen_off..len],
            )
        };
        Ok(EncapTemplate {
            hdr,
            len,
            l3,
            udp: udp_off,
            ipv6,
            ip_sum,
            tos_fixed,
            tos_inner_mask,
            // Untagged outer Ethernet: the fast tier writes at fixed offsets.
            fast: match (l3 == ethernet::HEADER_LEN, ipv6, cfg.payload) {
                (false, _, _) | (_, _, PayloadKind::Ipv6) => FastCase::None,
                (true, false, PayloadKind::Ethernet) => FastCase::V4Ethernet,
                (true, true, PayloadKind::Ethernet) => FastCase::V6Ethernet,
                (true, false, PayloadKind::Ipv4) => FastCase::V4Ip,
                (true, true, PayloadKind::Ipv4) => FastCase::V6Ip,
            },
            port_base: lo,
            port_span: u32::from(hi - lo) + 1,
            udp_csum,
            payload: cfg.payload,
            ttl: cfg.ttl,
            max_inner,
            inner_ip_mtu: u16::try_from(inner_ip_mtu).unwrap_or(u16::MAX),
            phdr_addr_sum,
            udp_sum_base,
            ip_csum_mask: 0xffff,
            hw_udp_csum: false,
            tx_offload: None,
            hw_tso: false,
            encapsulation: cfg.encapsulation,
            counter: u32::MAX,
        })
    }

    /// Sets the counter slot (see [`counter`](Self::counter)).
    pub fn set_counter(&mut self, slot: u32) {
        self.counter = slot;
    }

    /// The counter slot the packets of this template count under
    /// (`u32::MAX`: none). Set by the data plane's planner.
    #[inline(always)]
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Let the NIC finish the checksums it can (see [`crate::tunnel::offload`] for
    /// the table): only those the software path would write, so the bytes
    /// on the wire do not change. [`TxOffloadCaps::NONE`] restores the pure
    /// software path.
    pub fn set_tx_offload(&mut self, caps: TxOffloadCaps) {
        let hw_ip_csum = !self.ipv6 && caps.ipv4_checksum;
        self.ip_csum_mask = if hw_ip_csum { 0 } else { 0xffff };
        self.hw_udp_csum = self.udp_csum && caps.udp_checksum;
        // Geneve TSO ([`encap_tso`]): over IPv4 the NIC also needs the outer
        // IPv4 checksum offload (it rewrites each segment's outer header).
        // Only tunnels with a zero outer UDP checksum qualify (the outer UDP
        // checksum offload is not requested); others segment in software.
        // VXLAN tunnels segment in software (the mbuf would be flagged Geneve).
        self.hw_tso = caps.geneve_tso
            && (self.ipv6 || caps.outer_ipv4_checksum)
            && !self.udp_csum
            && self.encapsulation == Encapsulation::Geneve;
        self.tx_offload = (hw_ip_csum || self.hw_udp_csum).then(|| TxOffload {
            l2_len: self.l3 as u8,
            l3_len: (self.udp - self.l3) as u8,
            l4_len: udp::HEADER_LEN as u8,
            ipv6: self.ipv6,
            ip_checksum: hw_ip_csum,
            udp_checksum: self.hw_udp_csum,
        });
    }

    /// True when [`encap_tso`](super::encap_tso) may be used.
    pub fn geneve_tso(&self) -> bool {
        self.hw_tso
    }

    /// Offsets of the outer IP and UDP headers in [`header`](Self::header).
    pub fn l3_udp_offsets(&self) -> (usize, usize) {
        (self.l3, self.udp)
    }

    /// The TX metadata `encap` hands the buffer (`None`: all software).
    pub fn tx_offload(&self) -> Option<TxOffload> {
        self.tx_offload
    }

    /// The prebuilt header bytes.
    pub fn header(&self) -> &[u8] {
        &self.hdr[..self.len]
    }
    /// Bytes `encap` prepends (the headroom a buffer needs).
    pub fn header_len(&self) -> usize {
        self.len
    }
    /// True when [`encap_fast_ethernet`](super::encap_fast_ethernet) can
    /// take frames for this template (no outer VLAN tag, Ethernet payload).
    pub fn has_fast_ethernet(&self) -> bool {
        matches!(self.fast, FastCase::V4Ethernet | FastCase::V6Ethernet)
    }

    /// Largest inner packet `encap` accepts (in L2 mode: the whole inner frame).
    pub fn max_inner_len(&self) -> usize {
        self.max_inner
    }
    /// Tunnel MTU as the inner IP layer sees it (for ICMP Frag Needed / PTB).
    pub fn inner_ip_mtu(&self) -> u16 {
        self.inner_ip_mtu
    }
    /// What inner packets this tunnel carries.
    pub fn payload_kind(&self) -> PayloadKind {
        self.payload
    }
    /// True for an IPv6 underlay.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }
    /// The tunnel header this template writes.
    pub fn encapsulation(&self) -> Encapsulation {
        self.encapsulation
    }
    /// The UDP source port `encap` uses for a given flow hash.
    #[inline]
    pub fn src_port_for(&self, hash: u32) -> u16 {
        port_from_hash(hash, self.port_base, self.port_span)
    }
}

/// Write the IPv4 template into `h` (exactly the header's bytes, in front
/// of an inner packet of `inner_len` bytes); returns the UDP length. The
/// UDP checksum is the caller's (it covers the inner packet).
#[inline(always)]
pub(super) fn write_v4_header(
    t: &EncapTemplate,
    h: &mut [u8],
    l3: usize,
    inner_len: usize,
    tos: u8,
    ttl: u8,
    sport: u16,
) -> u16 {
    copy_header(h, &t.hdr);
    // hl + inner_len <= MAX_TEMPLATE_LEN + 65535 - overhead: fits u16 below.
    let udp_len = (t.len - t.udp + inner_len) as u16;
    write_v4_fields_at(t, h, l3, udp_len, tos, ttl, sport);
    udp_len
}

/// [`write_v4_fields`] into the IPv4 and UDP headers at `l3` of header
/// `h` (adjacent: one bounds check; the fast tiers pass the constant 14,
/// their templates have no outer VLAN tag).
#[inline(always)]
pub(super) fn write_v4_fields_at<F: FastFields>(
    t: &F,
    h: &mut [u8],
    l3: usize,
    udp_len: u16,
    tos: u8,
    ttl: u8,
    sport: u16,
) {
    if let Some(ip) = h
        .get_mut(l3..l3 + ipv4::HEADER_LEN + udp::HEADER_LEN)
        .and_then(|s| <&mut [u8; ipv4::HEADER_LEN + udp::HEADER_LEN]>::try_from(s).ok())
    {
        write_v4_fields(t, ip, udp_len, tos, ttl, sport);
    }
}

/// What the fast tier reads of a template besides its header bytes: the
/// whole [`EncapTemplate`], or its one-line copy
/// ([`TemplateLine`](super::TemplateLine)) for the tables too large for
/// the cache.
pub(super) trait FastFields {
    /// Largest inner packet (bytes handed to the fast tier).
    fn max_inner(&self) -> usize;
    /// The outer TOS for an inner packet's TOS.
    fn outer_tos(&self, inner_tos: u8) -> u8;
    /// The outer TTL for an inner packet's TTL.
    fn outer_ttl(&self, inner_ttl: u8) -> u8;
    /// See [`EncapTemplate::ip_sum`].
    fn ip_sum(&self) -> u16;
    /// See [`EncapTemplate::ip_csum_mask`].
    fn ip_csum_mask(&self) -> u16;
}

impl FastFields for EncapTemplate {
    #[inline(always)]
    fn max_inner(&self) -> usize {
        self.max_inner
    }
    #[inline(always)]
    fn outer_tos(&self, inner_tos: u8) -> u8 {
        self.tos_fixed | (inner_tos & self.tos_inner_mask)
    }
    #[inline(always)]
    fn outer_ttl(&self, inner_ttl: u8) -> u8 {
        match self.ttl {
            TtlEncap::Pipe(v) => v,
            TtlEncap::Uniform { .. } => inner_ttl,
        }
    }
    #[inline(always)]
    fn ip_sum(&self) -> u16 {
        self.ip_sum
    }
    #[inline(always)]
    fn ip_csum_mask(&self) -> u16 {
        self.ip_csum_mask
    }
}

/// The per-packet fields of the outer IPv4 and UDP headers.
#[inline(always)]
fn write_v4_fields<F: FastFields>(
    t: &F,
    ip: &mut [u8; ipv4::HEADER_LEN + udp::HEADER_LEN],
    udp_len: u16,
    tos: u8,
    ttl: u8,
    sport: u16,
) {
    let total = udp_len + ipv4::HEADER_LEN as u16;
    ip[1] = tos;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = ttl;
    // The template sum covers zero TOS, length, TTL and checksum: add the
    // real ones (TOS is the low byte of word 0, TTL the high byte of word
    // 4) and fold. The sum is non-zero (0x4500 is in it), so this equals
    // the full-header checksum.
    let sum = u32::from(t.ip_sum()) + u32::from(tos) + u32::from(total) + (u32::from(ttl) << 8);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    // Branch-free: the mask is 0 when the NIC computes the checksum.
    let ip_csum = !(sum as u16) & t.ip_csum_mask();
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[24..26].copy_from_slice(&udp_len.to_be_bytes());
}

/// The outer UDP checksum field of a tunnel that sends one: the
/// pseudo-header seed when the NIC finishes it, else the full checksum.
/// `data` is the whole encapsulated packet.
#[inline(always)]
pub(super) fn finish_udp_checksum(t: &EncapTemplate, data: &mut [u8], udp_len: u16) {
    let u = t.udp;
    let field = if t.hw_udp_csum {
        pseudo_seed(t.phdr_addr_sum, udp_len)
    } else {
        let sport = data
            .get(u..u + 2)
            .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
        let inner = checksum::accumulate(0, data.get(t.len..).unwrap_or(&[]));
        udp_checksum_of(t, udp_len, sport, inner)
    };
    if let Some(f) = data.get_mut(u + 6..u + 8) {
        f.copy_from_slice(&field.to_be_bytes());
    }
}

/// The outer UDP checksum (RFC 768; RFC 8200 section 8.1) of a packet
/// with this template, UDP length `udp_len`, source port `sport` and an
/// inner packet whose unfolded sum is `inner_sum`: the template's bytes
/// are summed once ([`EncapTemplate::udp_sum_base`]), so a packet costs one
/// pass over its inner bytes, which the fast tier makes while it reads
/// them anyway. A computed zero is sent as 0xffff.
#[inline(always)]
pub(super) fn udp_checksum_of(t: &EncapTemplate, udp_len: u16, sport: u16, inner_sum: u64) -> u16 {
    let s = t.udp_sum_base + 2 * u64::from(udp_len) + u64::from(sport) + inner_sum;
    let c = !checksum::fold(s);
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// Write the IPv6 template in front of the inner packet: `data` is the
/// whole (grown) buffer.
#[inline(always)]
pub(super) fn write_v6(
    t: &EncapTemplate,
    data: &mut [u8],
    inner_len: usize,
    tos: u8,
    ttl: u8,
    sport: u16,
    hash: u32,
) -> Result<(), EncapError> {
    let Some(h) = data.get_mut(..t.len) else {
        return Err(EncapError::NoHeadroom);
    };
    let udp_len = write_v6_header(t, h, inner_len, tos, ttl, sport, hash);
    if t.udp_csum {
        finish_udp_checksum(t, data, udp_len);
    }
    Ok(())
}

/// Write the IPv6 template into `h` (exactly the header's bytes, in front
/// of an inner packet of `inner_len` bytes); returns the UDP length. The
/// flow label is the flow hash's low 20 bits (RFC 6438).
#[inline(always)]
pub(super) fn write_v6_header(
    t: &EncapTemplate,
    h: &mut [u8],
    inner_len: usize,
    tos: u8,
    ttl: u8,
    sport: u16,
    hash: u32,
) -> u16 {
    copy_header(h, &t.hdr);
    // hl + inner_len <= MAX_TEMPLATE_LEN + 65535 - overhead: fits u16 below.
    let udp_len = (t.len - t.udp + inner_len) as u16;
    let w0 = (6u32 << 28) | (u32::from(tos) << 20) | (hash & 0x000f_ffff);
    let (l3, u) = (t.l3, t.udp);
    if let Some(ip) = h.get_mut(l3..l3 + 8) {
        ip[0..4].copy_from_slice(&w0.to_be_bytes());
        ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
        ip[7] = ttl;
    }
    if let Some(udp) = h.get_mut(u..u + 6) {
        udp[0..2].copy_from_slice(&sport.to_be_bytes());
        udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    }
    udp_len
}

/// What the fast tier writes into the outer UDP checksum field of an
/// IPv6 template: nothing (the template's zero), the NIC's pseudo-header
/// seed, or the software checksum. The express tier knows it per burst
/// ([`FastEthernet`] with `SUM`); other callers test it per frame.
///
/// [`FastEthernet`]: super::FastEthernet
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UdpCsumFast {
    Zero,
    Seed,
    Software,
}

impl EncapTemplate {
    /// See [`UdpCsumFast`].
    #[inline(always)]
    pub(super) fn udp_csum_fast(&self) -> UdpCsumFast {
        match (self.udp_csum, self.hw_udp_csum) {
            (false, _) => UdpCsumFast::Zero,
            (true, true) => UdpCsumFast::Seed,
            (true, false) => UdpCsumFast::Software,
        }
    }
}

/// The IPv6 fast tier's header: [`write_v6_header`] for a template
/// without outer VLAN tag (IPv6 at 14, UDP at 54, fixed offsets, one
/// bounds check) and the outer UDP checksum field written with the rest:
/// `mode` is the template's ([`EncapTemplate::udp_csum_fast`], or known
/// per burst) and `inner_sum` [`checksum::sum_frame`] of the inner frame
/// (taken before the header was prepended, while the fast tier reads it
/// anyway) when [`UdpCsumFast::Software`], unused otherwise. The length-dependent
/// parts of the checksum (the UDP length, in the pseudo header and the
/// UDP header, and the source port) are added to the template's constant
/// sum ([`EncapTemplate::udp_sum_base`]); the fold is made in machine
/// order ([`checksum::udp_field_machine_order`]), so the inner sum is never
/// byte-swapped. The same bytes as [`write_v6`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn write_v6_fast(
    t: &EncapTemplate,
    h: &mut [u8],
    mode: UdpCsumFast,
    inner_len: usize,
    tos: u8,
    ttl: u8,
    sport: u16,
    hash: u32,
    inner_sum: u64,
) {
    const L3: usize = ethernet::HEADER_LEN;
    const U: usize = L3 + ipv6::HEADER_LEN;
    copy_header_v6(h, &t.hdr);
    // hl + inner_len <= MAX_TEMPLATE_LEN + 65535 - overhead: fits u16 below.
    let udp_len = (t.len - U + inner_len) as u16;
    let Some(f) = h.first_chunk_mut::<{ U + udp::HEADER_LEN }>() else {
        return;
    };
    let w0 = (6u32 << 28) | (u32::from(tos) << 20) | (hash & 0x000f_ffff);
    f[L3..L3 + 4].copy_from_slice(&w0.to_be_bytes());
    f[L3 + 4..L3 + 6].copy_from_slice(&udp_len.to_be_bytes());
    f[L3 + 7] = ttl;
    f[U..U + 2].copy_from_slice(&sport.to_be_bytes());
    f[U + 4..U + 6].copy_from_slice(&udp_len.to_be_bytes());
    match mode {
        UdpCsumFast::Zero => {}
        UdpCsumFast::Seed => {
            f[U + 6..U + 8].copy_from_slice(&pseudo_seed(t.phdr_addr_sum, udp_len).to_be_bytes());
        }
        UdpCsumFast::Software => {
            // udp_checksum_of's sum, folded in machine order: the field's
            // bytes are its native bytes. A computed zero is sent as 0xffff.
            let seed = t.udp_sum_base + 2 * u64::from(udp_len) + u64::from(sport);
            let c = checksum::udp_field_machine_order(inner_sum, seed);
            f[U + 6..U + 8].copy_from_slice(&c.to_ne_bytes());
        }
    }
}

/// [`copy_header`] for an IPv6 template (at least 70 bytes): the first 64
/// bytes and the last 16 up to 80 bytes (a template without options or
/// with up to 8 bytes of them), two 64-byte copies up to 128.
#[inline(always)]
pub(super) fn copy_header_v6(h: &mut [u8], src: &[u8; MAX_TEMPLATE_LEN]) {
    #[inline(always)]
    fn head_tail<const N: usize, const M: usize>(
        h: &mut [u8],
        src: &[u8; MAX_TEMPLATE_LEN],
    ) -> Option<()> {
        let n = h.len();
        let tail = n.checked_sub(M)?;
        let (a, b) = (
            src.first_chunk::<N>()?,
            src.get(tail..n)?.first_chunk::<M>()?,
        );
        h.first_chunk_mut::<N>()?.copy_from_slice(a);
        h.get_mut(tail..)?
            .first_chunk_mut::<M>()?
            .copy_from_slice(b);
        Some(())
    }
    let n = h.len();
    let done = if (64..=80).contains(&n) {
        head_tail::<64, 16>(h, src)
    } else if (64..=128).contains(&n) {
        head_tail::<64, 64>(h, src)
    } else {
        None
    };
    if done.is_none() {
        if let Some(s) = src.get(..n) {
            h.copy_from_slice(s);
        }
    }
}

/// Copy the template into `h` (its length is the template length) with
/// fixed-size moves for the usual sizes: two overlapping 32- or 64-byte
/// copies instead of a `memcpy` call.
#[inline(always)]
pub(super) fn copy_header(h: &mut [u8], src: &[u8; MAX_TEMPLATE_LEN]) {
    #[inline(always)]
    fn two<const N: usize>(h: &mut [u8], src: &[u8; MAX_TEMPLATE_LEN]) -> Option<()> {
        let n = h.len();
        let tail = n.checked_sub(N)?;
        let (a, b) = (
            src.first_chunk::<N>()?,
            src.get(tail..n)?.first_chunk::<N>()?,
        );
        h.first_chunk_mut::<N>()?.copy_from_slice(a);
        h.get_mut(tail..)?
            .first_chunk_mut::<N>()?
            .copy_from_slice(b);
        Some(())
    }
    let n = h.len();
    let done = if (32..=64).contains(&n) {
        two::<32>(h, src)
    } else if (64..=128).contains(&n) {
        two::<64>(h, src)
    } else {
        None
    };
    if done.is_none() {
        if let Some(s) = src.get(..n) {
            h.copy_from_slice(s);
        }
    }
}
