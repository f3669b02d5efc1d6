//! Encapsulation from a per-tunnel header template.
//!
//! [`EncapTemplate::new`] builds the outer Ethernet (+ optional 802.1Q), IPv4
//! or IPv6, UDP and Geneve headers with options once, at configuration time.
//! [`encap`] then prepends a copy of it to each inner packet and patches the
//! per-packet fields: IP length, TOS / traffic class (DSCP + RFC 6040 ECN),
//! TTL, IPv4 checksum (RFC 1624 incremental from the template's), IPv6 flow
//! label, UDP length, source port and, when configured, checksum.
use std::net::IpAddr;

use super::buffer::Buffer;
use super::hash::{inner_flow_hash, port_from_hash};
use super::qos::{ecn_encap, DscpEncap, EcnEncapMode, TtlEncap};
use super::{inner_l3, PayloadKind};
use crate::wire::checksum;
use crate::wire::ethernet::{EtherType, EthernetRepr, MacAddr, VlanTag};
use crate::wire::geneve::{self, GeneveOptionRepr, GeneveRepr, Vni, OPTION_TYPE_CRITICAL};
use crate::wire::{ip_proto, ipv4, ipv6, udp, Ecn, Ipv4Repr, Ipv6Repr, UdpRepr};

/// Largest template: Ethernet + tag, IPv6, UDP, Geneve with 252 bytes of options.
pub const MAX_TEMPLATE_LEN: usize =
    18 + ipv6::HEADER_LEN + udp::HEADER_LEN + geneve::MAX_HEADER_LEN;

/// One option a tunnel sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelOption {
    pub class: u16,
    /// Type including the critical bit.
    pub typ: u8,
    /// Data, a multiple of 4 bytes, at most 124.
    pub data: Vec<u8>,
}

/// UDP checksum on transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpChecksumTx {
    /// Send zero (allowed over IPv4; over IPv6 only where RFC 6935/6936 permit).
    Zero,
    /// Compute it in software.
    Compute,
}

/// A tunnel as configured: everything the template is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelConfig {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    /// Outer 802.1Q VLAN id, if the underlay is tagged.
    pub vlan: Option<u16>,
    /// Local VTEP address; must be the same family as `dst`.
    pub src: IpAddr,
    /// Remote VTEP address.
    pub dst: IpAddr,
    pub vni: Vni,
    /// What the inner packets are: Ethernet frames (0x6558) or IP (L3 mode).
    pub payload: PayloadKind,
    pub options: Vec<TunnelOption>,
    /// Destination port (default 6081).
    pub udp_dst_port: u16,
    /// Source port range, inclusive (default 49152..=65535).
    pub src_port_range: (u16, u16),
    /// UDP checksum; `None` = the default for the family: zero over IPv4,
    /// computed over IPv6 (RFC 8926 section 4.3.1).
    pub udp_checksum: Option<UdpChecksumTx>,
    pub dscp: DscpEncap,
    pub ttl: TtlEncap,
    pub ecn: EcnEncapMode,
    /// Set the O bit: this template sends control packets.
    pub oam: bool,
    /// Set DF on the outer IPv4 header (default true).
    pub dont_fragment: bool,
    /// Underlay IP MTU (default 1500).
    pub underlay_mtu: u16,
    /// Option bytes the tunnel MTU reserves (RFC 8926 section 4.4.1: assume
    /// the maximum options length). `None` = this template's options length.
    pub mtu_options_reserve: Option<u16>,
}

impl TunnelConfig {
    /// A tunnel with defaults for everything but the addresses and VNI.
    pub fn new(src_mac: MacAddr, dst_mac: MacAddr, src: IpAddr, dst: IpAddr, vni: Vni) -> Self {
        TunnelConfig {
            src_mac,
            dst_mac,
            vlan: None,
            src,
            dst,
            vni,
            payload: PayloadKind::Ethernet,
            options: Vec::new(),
            udp_dst_port: geneve::UDP_PORT,
            src_port_range: (49152, 65535),
            udp_checksum: None,
            dscp: DscpEncap::default(),
            ttl: TtlEncap::default(),
            ecn: EcnEncapMode::default(),
            oam: false,
            dont_fragment: true,
            underlay_mtu: 1500,
            mtu_options_reserve: None,
        }
    }
}

/// Why a template could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Source and destination addresses of different families.
    AddressFamilyMismatch,
    /// An option's data is not a multiple of 4 or longer than 124 bytes.
    BadOptionLength { index: usize },
    /// Options longer than 252 bytes in total.
    OptionsTooLong,
    /// Empty or inverted source port range.
    BadPortRange,
    /// DSCP value over 63 or VLAN id over 4095.
    BadField(&'static str),
    /// The MTU leaves no room for any inner packet.
    MtuTooSmall,
}

impl core::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TemplateError::AddressFamilyMismatch => {
                f.write_str("source and destination address families differ")
            }
            TemplateError::BadOptionLength { index } => {
                write!(
                    f,
                    "option {index}: data must be a multiple of 4 bytes, at most 124"
                )
            }
            TemplateError::OptionsTooLong => f.write_str("options exceed 252 bytes"),
            TemplateError::BadPortRange => f.write_str("empty source port range"),
            TemplateError::BadField(s) => write!(f, "bad {s}"),
            TemplateError::MtuTooSmall => {
                f.write_str("underlay MTU too small for the tunnel headers")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// Why one packet could not be encapsulated (each is a counted drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncapError {
    /// The buffer has less headroom than the template needs.
    NoHeadroom,
    /// The inner packet exceeds the tunnel MTU; `mtu` is the largest inner
    /// packet (without its Ethernet header in L2 mode, i.e. the inner IP MTU)
    /// to report in ICMP Fragmentation Needed / Packet Too Big.
    TooBig { mtu: u16 },
    /// The inner packet is not what the tunnel carries (L3 mode: not an IP
    /// packet of the configured version).
    BadInner,
}

impl EncapError {
    pub const ALL: [EncapError; 3] = [
        EncapError::NoHeadroom,
        EncapError::TooBig { mtu: 0 },
        EncapError::BadInner,
    ];
    /// Counter name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EncapError::NoHeadroom => "encap_no_headroom",
            EncapError::TooBig { .. } => "encap_too_big",
            EncapError::BadInner => "encap_bad_inner",
        }
    }
}

/// A per-tunnel header template, prebuilt once, read by every worker.
#[derive(Debug, Clone)]
pub struct EncapTemplate {
    hdr: [u8; MAX_TEMPLATE_LEN],
    len: usize,
    l3: usize,
    udp: usize,
    ipv6: bool,
    /// Template IPv4 checksum over the header with TOS, TTL and length zero.
    ip_csum: u16,
    port_base: u16,
    port_span: u32,
    udp_csum: bool,
    payload: PayloadKind,
    dscp: DscpEncap,
    ttl: TtlEncap,
    ecn: EcnEncapMode,
    /// Largest inner packet (bytes handed to `encap`).
    max_inner: usize,
    inner_ip_mtu: u16,
    src: [u8; 16],
    dst: [u8; 16],
}

/// Alias: the name the design documents use.
pub type TunnelTemplate = EncapTemplate;

impl EncapTemplate {
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
        let mut ip_csum = 0;
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
            ip_csum = checksum::checksum(&hdr[l3..l3 + ipv4::HEADER_LEN]);
            hdr[l3 + 10..l3 + 12].copy_from_slice(&ip_csum.to_be_bytes());
        }
        UdpRepr {
            src_port: 0,
            dst_port: cfg.udp_dst_port,
            payload_len: 0,
        }
        .emit(&mut hdr[udp_off..])
        .map_err(|_| TemplateError::OptionsTooLong)?;
        GeneveRepr {
            oam: cfg.oam,
            critical,
            protocol: cfg.payload.ethertype(),
            vni: cfg.vni,
            options_len: opts_len,
        }
        .emit(&mut hdr[gen_off..])
        .map_err(|_| TemplateError::OptionsTooLong)?;
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
        let reserve = cfg
            .mtu_options_reserve
            .map_or(opts_len, usize::from)
            .max(opts_len);
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
        Ok(EncapTemplate {
            hdr,
            len,
            l3,
            udp: udp_off,
            ipv6,
            ip_csum,
            port_base: lo,
            port_span: u32::from(hi - lo) + 1,
            udp_csum,
            payload: cfg.payload,
            dscp: cfg.dscp,
            ttl: cfg.ttl,
            ecn: cfg.ecn,
            max_inner,
            inner_ip_mtu: u16::try_from(inner_ip_mtu).unwrap_or(u16::MAX),
            src,
            dst,
        })
    }

    /// The prebuilt header bytes.
    pub fn header(&self) -> &[u8] {
        &self.hdr[..self.len]
    }
    /// Bytes `encap` prepends (the headroom a buffer needs).
    pub fn header_len(&self) -> usize {
        self.len
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
    /// The UDP source port `encap` uses for a given flow hash.
    #[inline]
    pub fn src_port_for(&self, hash: u32) -> u16 {
        port_from_hash(hash, self.port_base, self.port_span)
    }
}

/// Encapsulate the packet in `buf` with `t`: prepend the template, patch it.
///
/// `flow_hash`: the NIC's RSS hash when the mbuf has one; otherwise the inner
/// flow is hashed here. No allocation, no panic.
#[inline]
pub fn encap<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let inner_len = buf.len();
    if inner_len > t.max_inner {
        return Err(EncapError::TooBig {
            mtu: t.inner_ip_mtu,
        });
    }
    let (inner_tos, inner_ttl) = {
        let inner = buf.data();
        match inner_l3(inner, t.payload) {
            Some((off, v6)) => match tos_ttl(inner, off, v6) {
                Some(x) => (x.0, Some(x.1)),
                None if t.payload == PayloadKind::Ethernet => (0, None),
                None => return Err(EncapError::BadInner),
            },
            None if t.payload == PayloadKind::Ethernet => (0, None),
            None => return Err(EncapError::BadInner),
        }
    };
    let hash = match flow_hash {
        Some(h) => h,
        None => inner_flow_hash(buf.data(), t.payload),
    };
    let ecn = ecn_encap(Ecn::from_tos(inner_tos), t.ecn).bits();
    let tos = match t.dscp {
        DscpEncap::Pipe(d) => d << 2,
        DscpEncap::Uniform => inner_tos & 0xfc,
    } | ecn;
    let ttl = match (t.ttl, inner_ttl) {
        (TtlEncap::Pipe(v), _) => v,
        (TtlEncap::Uniform { .. }, Some(v)) => v,
        (TtlEncap::Uniform { non_ip }, None) => non_ip,
    };
    let sport = t.src_port_for(hash);
    let hl = t.len;
    let data = buf.prepend(hl).map_err(|_| EncapError::NoHeadroom)?;
    let Some(h) = data.get_mut(..hl) else {
        return Err(EncapError::NoHeadroom);
    };
    h.copy_from_slice(&t.hdr[..hl]);
    // hl + inner_len <= MAX_TEMPLATE_LEN + 65535 - overhead: fits u16 below.
    let udp_len = (hl - t.udp + inner_len) as u16;
    let l3 = t.l3;
    if t.ipv6 {
        let w0 = (6u32 << 28) | (u32::from(tos) << 20) | (hash & 0x000f_ffff);
        h[l3..l3 + 4].copy_from_slice(&w0.to_be_bytes());
        h[l3 + 4..l3 + 6].copy_from_slice(&udp_len.to_be_bytes());
        h[l3 + 7] = ttl;
    } else {
        let total = udp_len + ipv4::HEADER_LEN as u16;
        h[l3 + 1] = tos;
        h[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
        h[l3 + 8] = ttl;
        // RFC 1624: the template checksum covers zero TOS, length and TTL.
        let c = checksum::update16(t.ip_csum, 0x4500, 0x4500 | u16::from(tos));
        let c = checksum::update16(c, 0, total);
        let c = checksum::update16(
            c,
            u16::from(ip_proto::UDP),
            (u16::from(ttl) << 8) | u16::from(ip_proto::UDP),
        );
        h[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    let u = t.udp;
    h[u..u + 2].copy_from_slice(&sport.to_be_bytes());
    h[u + 4..u + 6].copy_from_slice(&udp_len.to_be_bytes());
    if t.udp_csum {
        let seg = data.get(u..).unwrap_or(&[]);
        let pseudo = if t.ipv6 {
            checksum::pseudo_header_v6(&t.src, &t.dst, ip_proto::UDP, u32::from(udp_len))
        } else {
            let s = [t.src[12], t.src[13], t.src[14], t.src[15]];
            let d = [t.dst[12], t.dst[13], t.dst[14], t.dst[15]];
            checksum::pseudo_header_v4(&s, &d, ip_proto::UDP, udp_len)
        };
        let c = !checksum::fold(checksum::accumulate(pseudo, seg));
        let c = if c == 0 { 0xffff } else { c };
        if let Some(f) = data.get_mut(u + 6..u + 8) {
            f.copy_from_slice(&c.to_be_bytes());
        }
    }
    Ok(())
}

/// TOS / traffic class and TTL / hop limit of the IP header at `off`.
#[inline]
pub(crate) fn tos_ttl(b: &[u8], off: usize, v6: bool) -> Option<(u8, u8)> {
    if v6 {
        let h = b.get(off..off + ipv6::HEADER_LEN)?;
        if h[0] >> 4 != 6 {
            return None;
        }
        Some((((h[0] & 0x0f) << 4) | (h[1] >> 4), h[7]))
    } else {
        let h = b.get(off..off + ipv4::HEADER_LEN)?;
        if h[0] >> 4 != 4 {
            return None;
        }
        Some((h[1], h[8]))
    }
}
