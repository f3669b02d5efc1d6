//! Encapsulation from a per-tunnel header template.
//!
//! [`EncapTemplate::new`] (`template.rs`) builds the outer Ethernet (+
//! optional 802.1Q), IPv4 or IPv6, UDP and Geneve headers with options (or
//! the 8-byte VXLAN header, RFC 7348: I flag set, reserved bits zero) once,
//! at configuration time. Both tunnel headers are fixed bytes after UDP, so
//! every tier below writes them alike. [`encap`] then prepends a copy of it to each inner
//! packet and patches the per-packet fields: IP length, TOS / traffic class
//! (DSCP + RFC 6040 ECN), TTL, IPv4 checksum (RFC 1624 incremental from the
//! template's), IPv6 flow label, UDP length, source port and, when
//! configured, checksum.
//!
//! Tiers (see [the glossary](super#tiers)): `fast.rs` writes the fixed
//! layouts at constant offsets, `general.rs` every case; both write the same
//! bytes. Segmentation is in [`super::segment`].
use std::net::IpAddr;

use super::buffer::Buffer;
use super::qos::{DscpEncap, EcnEncapMode, TtlEncap};
use super::PayloadKind;
use crate::wire::ethernet::MacAddr;
use crate::wire::geneve::{self, Vni};
use crate::wire::{ipv4, ipv6, Encapsulation};

mod fast;
mod general;
mod line;
mod template;
#[cfg(test)]
mod tests;

pub use fast::{encap_fast_ethernet, encap_fast_ip, FastEthernet};
pub use general::encap_tso;
pub use line::{LineKind, TemplateLine, LINE_HEADER_LEN};
pub use template::{EncapTemplate, MAX_TEMPLATE_LEN};

pub use crate::wire::geneve::TunnelOption;

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
    /// The tunnel header: Geneve (default) or VXLAN (Ethernet payload,
    /// no options, no O bit).
    pub encapsulation: Encapsulation,
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
            encapsulation: Encapsulation::Geneve,
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
    /// VXLAN carries Ethernet frames only, without options or an O bit:
    /// what the configuration asked for that VXLAN cannot carry.
    VxlanCannotCarry(&'static str),
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
            TemplateError::VxlanCannotCarry(what) => write!(f, "VXLAN cannot carry {what}"),
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

/// Encapsulate the packet in `buf` with `t`: prepend the template, patch it.
///
/// `flow_hash`: the NIC's RSS hash when the mbuf has one; otherwise the inner
/// flow is hashed here. No allocation, no panic.
///
/// The fast tier (IPv4 or IPv6 underlay without outer VLAN tag, an inner
/// IPv4 packet in an untagged Ethernet frame or alone) writes at fixed
/// offsets, inlined; everything else goes through the general tier. Both
/// write the same bytes.
#[inline]
pub fn encap<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    if fast::encap_fast_any(t, buf, flow_hash) {
        return Ok(());
    }
    general::encap_general(t, buf, flow_hash)
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
