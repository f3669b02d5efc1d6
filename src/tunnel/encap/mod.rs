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
use super::hash::{hash_ipv4, inner_flow_hash, port_from_hash};
use super::offload::{pseudo_seed, TxOffload, TxOffloadCaps};
use super::qos::{DscpEncap, EcnEncapMode, TtlEncap};
use super::segment::{TcpSegmentation, TsoOffload};
use super::{inner_l3, PayloadKind};
use crate::wire::checksum;
use crate::wire::ethernet::{self, EtherType, EthernetRepr, MacAddr, VlanTag};
use crate::wire::geneve::{self, GeneveOptionRepr, GeneveRepr, Vni, OPTION_TYPE_CRITICAL};
use crate::wire::{ip_proto, ipv4, ipv6, udp, Ipv4Repr, Ipv6Repr, UdpRepr};

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
    /// Folded (not complemented) one's complement sum of the template IPv4
    /// header with TOS, length, TTL and checksum zero: encap adds the
    /// per-packet fields and complements.
    ip_sum: u16,
    /// Outer TOS = `tos_fixed | (inner TOS & tos_inner_mask)` (DSCP model
    /// and RFC 6040 ECN mode folded together).
    tos_fixed: u8,
    tos_inner_mask: u8,
    /// Which fast path [`encap_common`] may take for this template.
    fast: FastLane,
    port_base: u16,
    port_span: u32,
    udp_csum: bool,
    payload: PayloadKind,
    ttl: TtlEncap,
    /// Largest inner packet (bytes handed to `encap`).
    max_inner: usize,
    inner_ip_mtu: u16,
    /// Source, destination and protocol words of the UDP pseudo header,
    /// summed (the UDP length is added per packet).
    phdr_addr_sum: u32,
    /// 0 when the NIC computes the outer IPv4 header checksum (write 0
    /// there), else 0xffff.
    ip_csum_mask: u16,
    /// The NIC computes the UDP checksum: write the pseudo-header sum.
    hw_udp_csum: bool,
    /// What `encap` tells the buffer when the NIC computes anything.
    tx_offload: Option<TxOffload>,
    /// The NIC segments too-big inner TCP frames (Geneve TSO).
    hw_tso: bool,
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
        Ok(EncapTemplate {
            hdr,
            len,
            l3,
            udp: udp_off,
            ipv6,
            ip_sum,
            tos_fixed,
            tos_inner_mask,
            // Untagged outer Ethernet: the fast path writes at fixed offsets.
            fast: match (l3 == ethernet::HEADER_LEN, ipv6, cfg.payload) {
                (false, _, _) | (_, _, PayloadKind::Ipv6) => FastLane::None,
                (true, false, PayloadKind::Ethernet) => FastLane::V4Ethernet,
                (true, true, PayloadKind::Ethernet) => FastLane::V6Ethernet,
                (true, false, PayloadKind::Ipv4) => FastLane::V4Ip,
                (true, true, PayloadKind::Ipv4) => FastLane::V6Ip,
            },
            port_base: lo,
            port_span: u32::from(hi - lo) + 1,
            udp_csum,
            payload: cfg.payload,
            ttl: cfg.ttl,
            max_inner,
            inner_ip_mtu: u16::try_from(inner_ip_mtu).unwrap_or(u16::MAX),
            phdr_addr_sum,
            ip_csum_mask: 0xffff,
            hw_udp_csum: false,
            tx_offload: None,
            hw_tso: false,
        })
    }

    /// Let the NIC finish the checksums it can (see [`super::offload`] for
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
        self.hw_tso = caps.geneve_tso && (self.ipv6 || caps.outer_ipv4_checksum) && !self.udp_csum;
        self.tx_offload = (hw_ip_csum || self.hw_udp_csum).then(|| TxOffload {
            l2_len: self.l3 as u8,
            l3_len: (self.udp - self.l3) as u8,
            l4_len: udp::HEADER_LEN as u8,
            ipv6: self.ipv6,
            ip_checksum: hw_ip_csum,
            udp_checksum: self.hw_udp_csum,
        });
    }

    /// True when [`encap_tso`] may be used.
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
    /// Largest inner packet `encap` accepts (in L2 mode: the whole inner frame).
    /// True when [`encap_common`] can take frames for this template (no
    /// outer VLAN tag, Ethernet payload).
    pub fn has_common_case(&self) -> bool {
        matches!(self.fast, FastLane::V4Ethernet | FastLane::V6Ethernet)
    }

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
///
/// The common cases (IPv4 or IPv6 underlay without outer VLAN tag, an
/// inner IPv4 packet in an untagged Ethernet frame or alone) are handled
/// inline with fixed offsets; everything else goes through the general
/// path. Both write the same bytes.
#[inline]
pub fn encap<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    if encap_any_fast(t, buf, flow_hash) {
        return Ok(());
    }
    encap_general(t, buf, flow_hash)
}

/// The fast paths of [`encap_common`]: no outer VLAN tag, an inner IPv4
/// packet in an untagged Ethernet frame (L2 tunnels) or alone (L3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FastLane {
    None,
    V4Ethernet,
    V6Ethernet,
    V4Ip,
    V6Ip,
}

/// Where the inner IPv4 header starts: after an Ethernet header, or at once.
const ETH: usize = ethernet::HEADER_LEN;
const IP: usize = 0;

/// [`encap`] of the L2 common case only: true when `buf` was encapsulated
/// (a template without outer VLAN tag and with Ethernet payload, an inner
/// IPv4 packet in an untagged frame, within the MTU, enough headroom),
/// false with `buf` untouched for anything else. For callers with their
/// own fallback (the worker's express lane); [`encap`] gives the same bytes.
#[inline(always)]
pub fn encap_common<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    match t.fast {
        FastLane::V4Ethernet => encap_fast::<ETH, false, B>(t, buf, flow_hash).is_some(),
        FastLane::V6Ethernet => encap_fast::<ETH, true, B>(t, buf, flow_hash).is_some(),
        // Not here: with them inlined too the worker's IPv4 lane spills
        // (13 instructions per packet more). [`encap`] has them.
        FastLane::V4Ip | FastLane::V6Ip | FastLane::None => false,
    }
}

/// Every fast lane: [`encap_common`] and the L3 (IPv4 payload) ones.
#[inline(always)]
fn encap_any_fast<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> bool {
    match t.fast {
        FastLane::V4Ethernet | FastLane::V6Ethernet => encap_common(t, buf, flow_hash),
        FastLane::V4Ip => encap_fast::<IP, false, B>(t, buf, flow_hash).is_some(),
        FastLane::V6Ip => encap_fast::<IP, true, B>(t, buf, flow_hash).is_some(),
        FastLane::None => false,
    }
}

/// Bytes of the inner IPv4 packet the fast paths read: the header without
/// options and the first 4 bytes after it (the ports).
const FAST_INNER_IP_LEN: usize = ipv4::HEADER_LEN + 4;

/// The common case (an inner IPv4 packet at `L2`, see [`fast_inner`], and
/// the headroom for the header) over an IPv4 underlay, or IPv6 (`V6`: the
/// header of [`write_v6`], no header checksum): fixed offsets, one header
/// slice, no re-slicing of the packet. `None` (buffer untouched) for
/// anything else; the general path writes the same bytes for it.
#[inline(always)]
fn encap_fast<const L2: usize, const V6: bool, B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Option<()> {
    let FastInner {
        len: inner_len,
        tos,
        ttl,
        hash,
    } = fast_inner::<L2>(t, buf.data(), flow_hash)?;
    let sport = t.src_port_for(hash);
    // Too little headroom: the general path moves the data back first.
    let h = buf.prepend_header(t.len)?;
    let udp_len = if V6 {
        write_v6_header(t, h, inner_len, tos, ttl, sport, hash)
    } else {
        write_v4_header(t, h, ethernet::HEADER_LEN, inner_len, tos, ttl, sport)
    };
    if t.udp_csum {
        finish_udp_checksum(t, buf.data_mut(), udp_len);
    }
    if let Some(o) = &t.tx_offload {
        buf.set_tx_offload(o);
    }
    Some(())
}

/// What the fast paths take from the inner frame.
struct FastInner {
    len: usize,
    /// Outer TOS / traffic class.
    tos: u8,
    /// Outer TTL / hop limit.
    ttl: u8,
    hash: u32,
}

/// The inner packet of the fast paths (IPv4 at `L2`: [`ETH`], in an
/// untagged Ethernet frame, or [`IP`], alone; within the tunnel MTU) with
/// what the outer header takes from it: what `inner_l3` + `tos_ttl` +
/// `inner_flow_hash` find for such a packet. `None` for any other.
#[inline(always)]
fn fast_inner<const L2: usize>(
    t: &EncapTemplate,
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
    if !is_v4 || len > t.max_inner {
        return None;
    }
    let hash = match flow_hash {
        Some(h) => h,
        // Version 4 was checked above: `None` only for a truncated header.
        None => hash_ipv4(inner.get(L2..)?)?,
    };
    Some(FastInner {
        len,
        tos: t.tos_fixed | (ip[1] & t.tos_inner_mask),
        ttl: match t.ttl {
            TtlEncap::Pipe(v) => v,
            TtlEncap::Uniform { .. } => ip[8],
        },
        hash,
    })
}

/// Write the IPv4 template into `h` (exactly the header's bytes, in front
/// of an inner packet of `inner_len` bytes); returns the UDP length. The
/// UDP checksum is the caller's (it covers the inner packet).
#[inline(always)]
fn write_v4_header(
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
    // IPv4 and UDP headers at `l3`, adjacent: one bounds check (the fast
    // path passes the constant 14: its templates have no outer VLAN tag).
    if let Some(ip) = h
        .get_mut(l3..l3 + ipv4::HEADER_LEN + udp::HEADER_LEN)
        .and_then(|s| <&mut [u8; ipv4::HEADER_LEN + udp::HEADER_LEN]>::try_from(s).ok())
    {
        write_v4_fields(t, ip, udp_len, tos, ttl, sport);
    }
    udp_len
}

/// The per-packet fields of the outer IPv4 and UDP headers.
#[inline(always)]
fn write_v4_fields(
    t: &EncapTemplate,
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
    let sum = u32::from(t.ip_sum) + u32::from(tos) + u32::from(total) + (u32::from(ttl) << 8);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    // Branch-free: the mask is 0 when the NIC computes the checksum.
    let ip_csum = !(sum as u16) & t.ip_csum_mask;
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[24..26].copy_from_slice(&udp_len.to_be_bytes());
}

/// The outer UDP checksum field of a tunnel that sends one: the
/// pseudo-header seed when the NIC finishes it, else the full checksum.
#[inline(always)]
fn finish_udp_checksum(t: &EncapTemplate, data: &mut [u8], udp_len: u16) {
    if t.hw_udp_csum {
        let u = t.udp;
        if let Some(f) = data.get_mut(u + 6..u + 8) {
            f.copy_from_slice(&pseudo_seed(t.phdr_addr_sum, udp_len).to_be_bytes());
        }
    } else {
        udp_checksum(t, data, udp_len);
    }
}

/// Compute and store the UDP checksum of the datagram at `t.udp` in `data`.
#[inline(never)]
fn udp_checksum(t: &EncapTemplate, data: &mut [u8], udp_len: u16) {
    let u = t.udp;
    let seg = data.get(u..).unwrap_or(&[]);
    // The pseudo header: the template's addresses and protocol, summed
    // once, and the length (RFC 768; RFC 8200 section 8.1).
    let pseudo = u64::from(t.phdr_addr_sum) + u64::from(udp_len);
    let c = !checksum::fold(checksum::accumulate(pseudo, seg));
    let c = if c == 0 { 0xffff } else { c };
    if let Some(f) = data.get_mut(u + 6..u + 8) {
        f.copy_from_slice(&c.to_be_bytes());
    }
}

/// Every case: IPv6 underlay, L3 payloads, tagged or non-IP inner frames.
#[inline(never)]
fn encap_general<B: Buffer + ?Sized>(
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
    encap_any_len(t, buf, flow_hash)
}

/// [`encap_general`] without the MTU check.
#[inline(always)]
fn encap_any_len<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let inner_len = buf.len();
    let (inner_tos, inner_ttl, hash) = inner_info(t, buf.data(), flow_hash)?;
    let tos = t.tos_fixed | (inner_tos & t.tos_inner_mask);
    let ttl = match (t.ttl, inner_ttl) {
        (TtlEncap::Pipe(v), _) => v,
        (TtlEncap::Uniform { .. }, Some(v)) => v,
        (TtlEncap::Uniform { non_ip }, None) => non_ip,
    };
    let sport = t.src_port_for(hash);
    let hl = t.len;
    let data = buf.prepend(hl).map_err(|_| EncapError::NoHeadroom)?;
    if !t.ipv6 {
        let h = data.get_mut(..hl).ok_or(EncapError::NoHeadroom)?;
        let udp_len = write_v4_header(t, h, t.l3, inner_len, tos, ttl, sport);
        if t.udp_csum {
            finish_udp_checksum(t, data, udp_len);
        }
    } else {
        write_v6(t, data, inner_len, tos, ttl, sport, hash)?;
    }
    if let Some(o) = &t.tx_offload {
        buf.set_tx_offload(o);
    }
    Ok(())
}

/// Encapsulate a too-big inner TCP frame once for the NIC to segment
/// (Geneve TSO): `plan` is its [`TcpSegmentation`] for `t`. Prepares the
/// inner checksums as DPDK's TSO wants them, leaves the outer IPv4 checksum
/// to the NIC and hands the buffer the [`TsoOffload`] metadata. Err
/// (`TooBig`, buffer unchanged) when the template has no hardware TSO or
/// the headers do not fit the metadata's bit widths.
pub fn encap_tso<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    plan: &TcpSegmentation,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let too_big = EncapError::TooBig {
        mtu: t.inner_ip_mtu,
    };
    let meta = TsoOffload::new(t.l3, t.udp - t.l3, t.len - t.udp, t.ipv6, plan)
        .filter(|_| t.hw_tso && buf.len() == plan.frame_len())
        .ok_or(too_big)?;
    if buf.len() + t.len - t.l3 > usize::from(u16::MAX) {
        return Err(too_big);
    }
    // Hash before the checksums change (the hash does not read them, but
    // the software path hashes the original frame: same port either way).
    let hash = flow_hash.unwrap_or_else(|| inner_flow_hash(buf.data(), t.payload));
    // If the prepend below fails the frame is dropped: the prepared inner
    // checksums do not matter then.
    plan.prepare_for_tso(buf.data_mut());
    encap_any_len(t, buf, Some(hash))?;
    if !t.ipv6 {
        if let Some(c) = buf.data_mut().get_mut(t.l3 + 10..t.l3 + 12) {
            c.fill(0);
        }
    }
    buf.set_tso(&meta);
    Ok(())
}

/// Write the IPv6 template in front of the inner packet: `data` is the
/// whole (grown) buffer.
#[inline(always)]
fn write_v6(
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
fn write_v6_header(
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

/// Inner TOS, TTL (`None`: not an IP packet) and flow hash (`flow_hash`, or
/// the inner flow's). `BadInner` in L3 mode when the packet is not IP of the
/// configured version.
#[inline]
fn inner_info(
    t: &EncapTemplate,
    inner: &[u8],
    flow_hash: Option<u32>,
) -> Result<(u8, Option<u8>, u32), EncapError> {
    let (inner_tos, inner_ttl) = match inner_l3(inner, t.payload) {
        Some((off, v6)) => match tos_ttl(inner, off, v6) {
            Some(x) => (x.0, Some(x.1)),
            None if t.payload == PayloadKind::Ethernet => (0, None),
            None => return Err(EncapError::BadInner),
        },
        None if t.payload == PayloadKind::Ethernet => (0, None),
        None => return Err(EncapError::BadInner),
    };
    let hash = match flow_hash {
        Some(h) => h,
        None => inner_flow_hash(inner, t.payload),
    };
    Ok((inner_tos, inner_ttl, hash))
}

/// Copy the template into `h` (its length is the template length) with
/// fixed-size moves for the usual sizes: two overlapping 32- or 64-byte
/// copies instead of a `memcpy` call.
#[inline(always)]
fn copy_header(h: &mut [u8], src: &[u8; MAX_TEMPLATE_LEN]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::VecBuffer;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn inner_ipv4(len: usize, tos: u8, ttl: u8, proto: u8, frag: u16, vlan: bool) -> Vec<u8> {
        let mut f = vec![0u8; len.max(if vlan { 18 } else { 14 })];
        f[0..6].copy_from_slice(&[2, 0x11, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0x11, 0, 0, 0, 2]);
        let l3 = if vlan {
            f[12..16].copy_from_slice(&[0x81, 0, 0, 7]);
            18
        } else {
            14
        };
        f[l3 - 2..l3].copy_from_slice(&[8, 0]);
        let ip_len = len.saturating_sub(l3);
        let ip = &mut f[l3..];
        let v = [0x45u8, tos];
        for (i, b) in v.iter().enumerate() {
            if let Some(x) = ip.get_mut(i) {
                *x = *b;
            }
        }
        let mut put = |i: usize, b: u8| {
            if let Some(x) = ip.get_mut(i) {
                *x = b;
            }
        };
        put(2, (ip_len >> 8) as u8);
        put(3, ip_len as u8);
        put(6, (frag >> 8) as u8);
        put(7, frag as u8);
        put(8, ttl);
        put(9, proto);
        for (i, b) in [10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0x00, 0x50]
            .iter()
            .enumerate()
        {
            put(12 + i, *b);
        }
        f
    }

    fn inners() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for len in [14, 20, 33, 34, 35, 37, 38, 60, 64, 1500] {
            for (tos, ttl) in [(0u8, 64u8), (0xff, 1), (0xb9, 255), (2, 0)] {
                v.push(inner_ipv4(len, tos, ttl, ip_proto::UDP, 0, false));
                v.push(inner_ipv4(len, tos, ttl, ip_proto::UDP, 0, true));
            }
            v.push(inner_ipv4(len, 1, 9, ip_proto::TCP, 0x2000, false));
            v.push(inner_ipv4(len, 3, 9, 1, 0, false));
            v.push(inner_ipv4(len, 3, 9, ip_proto::UDP, 0x0010, false));
            let mut bad_version = inner_ipv4(len, 3, 9, ip_proto::UDP, 0, false);
            bad_version[14.min(len - 1)] = 0x65;
            v.push(bad_version);
            let mut arp = inner_ipv4(len, 0, 0, 0, 0, false);
            arp[12] = 0x08;
            arp[13] = 0x06;
            v.push(arp);
            let mut v6 = inner_ipv4(len.max(60), 0, 0, 0, 0, false);
            v6[12] = 0x86;
            v6[13] = 0xdd;
            v6[14] = 0x6a;
            v6[15] = 0xb0;
            v6[21] = 33;
            v.push(v6);
        }
        // The same packets without Ethernet (L3 payloads).
        let ip: Vec<Vec<u8>> = v
            .iter()
            .filter(|f| f.len() > 14 && f[12..14] == [0x08, 0x00])
            .map(|f| f[14..].to_vec())
            .collect();
        v.extend(ip);
        for len in [0, 1, 13] {
            v.push(vec![0x45; len]);
        }
        // L3 payloads: IPv4 / IPv6 packets without Ethernet.
        for len in [19, 20, 60] {
            v.push(inner_ipv4(len + 14, 0xfe, 7, ip_proto::UDP, 0, false)[14..].to_vec());
        }
        let mut ip6 = vec![0u8; 60];
        ip6[0] = 0x6f;
        ip6[1] = 0xf0;
        ip6[6] = 17;
        ip6[7] = 3;
        v.push(ip6);
        v
    }

    fn configs() -> Vec<TunnelConfig> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            let (s, d): (IpAddr, IpAddr) = if v6 {
                (
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
                )
            } else {
                (
                    Ipv4Addr::new(198, 18, 0, 2).into(),
                    Ipv4Addr::new(198, 18, 0, 1).into(),
                )
            };
            let base = TunnelConfig::new(
                [2, 0, 0, 0, 0, 0xb],
                [2, 0, 0, 0, 0, 0xa],
                s,
                d,
                Vni::new(100).unwrap(),
            );
            for n_opts in [0usize, 1, 2, 8, 20] {
                for variant in 0..8 {
                    let mut c = base.clone();
                    c.underlay_mtu = 9000;
                    c.options = (0..n_opts)
                        .map(|i| TunnelOption {
                            class: 0x0100,
                            typ: i as u8 | if i == 1 { OPTION_TYPE_CRITICAL } else { 0 },
                            data: vec![i as u8; 4 * (i % 4)],
                        })
                        .collect();
                    match variant {
                        1 => {
                            c.dscp = DscpEncap::Uniform;
                            c.ttl = TtlEncap::Uniform { non_ip: 17 };
                        }
                        2 => {
                            c.dscp = DscpEncap::Pipe(46);
                            c.ecn = EcnEncapMode::Compatibility;
                            c.ttl = TtlEncap::Pipe(255);
                        }
                        3 => c.udp_checksum = Some(UdpChecksumTx::Compute),
                        4 => {
                            c.vlan = Some(100);
                            c.src_port_range = (1000, 1000);
                        }
                        5 => c.payload = PayloadKind::Ipv4,
                        6 => c.payload = PayloadKind::Ipv6,
                        7 => {
                            c.udp_checksum = Some(UdpChecksumTx::Zero);
                            c.underlay_mtu = 200;
                            c.oam = true;
                        }
                        _ => {}
                    }
                    out.push(c);
                }
            }
        }
        out
    }

    /// The fast paths (IPv4 and IPv6 underlay) must write the bytes of the
    /// general path (the one every packet can take, checked against RFC
    /// 8926 vectors, scapy and real captures in tests/), and leave what
    /// they do not take untouched.
    #[test]
    fn fast_path_writes_the_general_paths_bytes() {
        let (mut fast_v4, mut fast_v6, mut fast_ip) = (0, 0, 0);
        for cfg in configs() {
            let Ok(t) = EncapTemplate::new(&cfg) else {
                continue;
            };
            for inner in inners() {
                for hash in [None, Some(0), Some(0xdead_beef), Some(u32::MAX)] {
                    for headroom in [t.header_len(), t.header_len() + 3, t.header_len() - 1] {
                        let mut a = VecBuffer::with_headroom(headroom, &inner);
                        let mut b = a.clone();
                        let mut c = a.clone();
                        let ra = encap(&t, &mut a, hash);
                        let rb = encap_general(&t, &mut b, hash);
                        assert_eq!(ra, rb, "{cfg:?} {inner:?} {hash:?}");
                        assert_eq!(a, b, "{cfg:?} {inner:?} {hash:?}");
                        if encap_any_fast(&t, &mut c, hash) {
                            assert_eq!(c, a, "{cfg:?} {inner:?} {hash:?}");
                            if t.payload == PayloadKind::Ipv4 {
                                fast_ip += 1;
                            }
                            if t.ipv6 {
                                fast_v6 += 1;
                            } else {
                                let ip = &a.data()[t.l3..t.l3 + 20];
                                assert_eq!(checksum::checksum(ip), 0);
                                fast_v4 += 1;
                            }
                        } else {
                            assert_eq!(c, VecBuffer::with_headroom(headroom, &inner));
                        }
                    }
                }
            }
        }
        assert!(
            fast_v4 > 100 && fast_v6 > 100 && fast_ip > 100,
            "{fast_v4} {fast_v6} {fast_ip}"
        );
    }

    /// A NIC that ignores the seed and sums the pseudo header itself from
    /// the packet's headers (what net_tap does).
    fn nic_from_headers(frame: &mut [u8], o: &TxOffload) {
        let l3 = usize::from(o.l2_len);
        let l4 = l3 + usize::from(o.l3_len);
        if o.ip_checksum {
            frame[l3 + 10..l3 + 12].fill(0);
            let c = checksum::checksum(&frame[l3..l4]);
            frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        if o.udp_checksum {
            frame[l4 + 6..l4 + 8].fill(0);
            let len = (frame.len() - l4) as u16;
            let pseudo = if o.ipv6 {
                let s: [u8; 16] = frame[l3 + 8..l3 + 24].try_into().unwrap();
                let d: [u8; 16] = frame[l3 + 24..l3 + 40].try_into().unwrap();
                checksum::pseudo_header_v6(&s, &d, ip_proto::UDP, u32::from(len))
            } else {
                let s: [u8; 4] = frame[l3 + 12..l3 + 16].try_into().unwrap();
                let d: [u8; 4] = frame[l3 + 16..l3 + 20].try_into().unwrap();
                checksum::pseudo_header_v4(&s, &d, ip_proto::UDP, len)
            };
            let c = !checksum::fold(checksum::accumulate(pseudo, &frame[l4..]));
            let c = if c == 0 { 0xffff } else { c };
            frame[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// For every packet type and every combination of NIC capabilities:
    /// what the offload path leaves, finished by a NIC (seeded or not),
    /// is byte for byte what the software path writes.
    #[test]
    fn offload_path_finished_by_the_nic_equals_software_path() {
        use crate::tunnel::offload::emulate_nic;
        let all_caps = [
            TxOffloadCaps::NONE,
            TxOffloadCaps {
                ipv4_checksum: true,
                udp_checksum: false,
                ..TxOffloadCaps::NONE
            },
            TxOffloadCaps {
                ipv4_checksum: false,
                udp_checksum: true,
                ..TxOffloadCaps::NONE
            },
            TxOffloadCaps {
                ipv4_checksum: true,
                udp_checksum: true,
                ..TxOffloadCaps::NONE
            },
        ];
        let (mut offloaded_ip, mut offloaded_udp) = (0, 0);
        for cfg in configs() {
            let Ok(sw) = EncapTemplate::new(&cfg) else {
                continue;
            };
            for caps in all_caps {
                let mut hw = sw.clone();
                hw.set_tx_offload(caps);
                let meta = hw.tx_offload();
                let want_ip = !sw.ipv6 && caps.ipv4_checksum;
                let want_udp = sw.udp_csum && caps.udp_checksum;
                assert_eq!(meta.is_some(), want_ip || want_udp, "{cfg:?} {caps:?}");
                for inner in inners() {
                    let hash = Some(0x1234_5678);
                    let mut a = VecBuffer::with_headroom(sw.header_len(), &inner);
                    let mut b = a.clone();
                    let ra = encap(&sw, &mut a, hash);
                    let rb = encap(&hw, &mut b, hash);
                    assert_eq!(ra, rb);
                    if ra.is_err() {
                        continue;
                    }
                    assert_eq!(a.tx_offload(), None);
                    assert_eq!(b.tx_offload(), meta, "{cfg:?} {caps:?}");
                    let Some(o) = meta else {
                        assert_eq!(a.data(), b.data());
                        continue;
                    };
                    assert_eq!(
                        (o.l2_len, o.l3_len, o.l4_len, o.ipv6),
                        (sw.l3 as u8, if sw.ipv6 { 40 } else { 20 }, 8, sw.ipv6)
                    );
                    let l3 = sw.l3;
                    let u = sw.udp;
                    if o.ip_checksum {
                        offloaded_ip += 1;
                        assert_eq!(b.data()[l3 + 10..l3 + 12], [0, 0]);
                    }
                    if o.udp_checksum {
                        offloaded_udp += 1;
                        assert_ne!(b.data()[u + 6..u + 8], a.data()[u + 6..u + 8]);
                    }
                    let mut seeded = b.to_vec();
                    assert!(emulate_nic(&mut seeded, &o));
                    assert_eq!(seeded, a.to_vec(), "{cfg:?} {caps:?} {inner:?}");
                    let mut tap = b.to_vec();
                    nic_from_headers(&mut tap, &o);
                    assert_eq!(tap, a.to_vec(), "{cfg:?} {caps:?} {inner:?}");
                }
            }
        }
        assert!(
            offloaded_ip > 1000 && offloaded_udp > 1000,
            "{offloaded_ip} {offloaded_udp}"
        );
    }

    #[test]
    fn set_tx_offload_none_restores_the_software_path() {
        let cfg = &configs()[3];
        let mut t = EncapTemplate::new(cfg).unwrap();
        let sw = t.clone();
        t.set_tx_offload(TxOffloadCaps {
            ipv4_checksum: true,
            udp_checksum: true,
            ..TxOffloadCaps::NONE
        });
        assert!(t.tx_offload().is_some());
        t.set_tx_offload(TxOffloadCaps::NONE);
        assert_eq!(t.tx_offload(), None);
        let inner = inner_ipv4(100, 0, 64, ip_proto::UDP, 0, false);
        let mut a = VecBuffer::with_headroom(t.header_len(), &inner);
        let mut b = a.clone();
        encap(&sw, &mut a, None).unwrap();
        encap(&t, &mut b, None).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ipv4_checksum_matches_update16_for_all_tos_ttl() {
        let cfg = &configs()[0];
        let t = EncapTemplate::new(cfg).unwrap();
        for tos in 0..=255u8 {
            for ttl in 0..=255u8 {
                for total in [20u16, 84, 1234, 0x8000, 0xfedc, 0xffff] {
                    let c = checksum::update16(!t.ip_sum, 0x4500, 0x4500 | u16::from(tos));
                    let c = checksum::update16(c, 0, total);
                    let c = checksum::update16(
                        c,
                        u16::from(ip_proto::UDP),
                        (u16::from(ttl) << 8) | u16::from(ip_proto::UDP),
                    );
                    let sum = u32::from(t.ip_sum)
                        + u32::from(tos)
                        + u32::from(total)
                        + (u32::from(ttl) << 8);
                    let sum = (sum & 0xffff) + (sum >> 16);
                    let sum = (sum & 0xffff) + (sum >> 16);
                    assert_eq!(!(sum as u16), c, "tos {tos} ttl {ttl} total {total}");
                }
            }
        }
    }

    #[test]
    fn copy_header_all_lengths() {
        let src: [u8; MAX_TEMPLATE_LEN] = core::array::from_fn(|i| (i * 7 + 1) as u8);
        for n in 0..=MAX_TEMPLATE_LEN {
            let mut h = vec![0u8; n];
            copy_header(&mut h, &src);
            assert_eq!(h[..], src[..n], "len {n}");
        }
    }
}
