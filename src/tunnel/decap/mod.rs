//! Decapsulation: outer checks, Geneve checks, option policy, RFC 6040.
//!
//! Checks run in a fixed order and the first failure is the one drop reason
//! (see [`DropReason::ALL`] for the order):
//! Ethernet -> outer IPv4/IPv6 (header, lengths, checksum, fragments) ->
//! local address -> UDP (protocol, length, port, checksum) -> Geneve
//! (version, Opt Len, TLVs, option count, known lengths, unknown critical)
//! -> O bit -> protocol type -> inner header -> RFC 6040. A datagram to
//! the VXLAN port (when one is configured) takes the same outer checks,
//! then the VXLAN ones (`vxlan.rs`: header length, I flag) instead of
//! Geneve's, then the inner header and RFC 6040.
//!
//! Tiers (see [the glossary](super#tiers)): `fast.rs` (fixed offsets, a
//! prebuilt header pattern) gives exactly the verdict of `general.rs` (every
//! check in order) or declines. Both return a [`Delivery`] that carries what
//! the worker needs (VNI, source VTEP, payload kind, offset and length,
//! options, inner update): nobody reads the outer header again. `inner.rs`
//! computes and applies the inner header's update (RFC 6040, DSCP / TTL),
//! `options.rs` checks the Geneve options.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::buffer::Buffer;
use super::options::OptionRegistry;
use super::qos::{ecn_decap, EcnDecap, QosModel};
use super::PayloadKind;
use crate::wire::ethernet::EtherType;
use crate::wire::geneve::{self, Vni};
use crate::wire::{Ecn, Encapsulation};

mod fast;
mod general;
mod inner;
mod options;
#[cfg(test)]
mod tests;
mod vxlan;

use fast::{HeaderPattern, HeaderPatternV6};
pub use inner::apply_inner_update;
use inner::{ECN_ALARM, ECN_DROP};
use options::OptionLayout;

pub use super::drop::DropReason;

/// Summary of the options a delivered packet carried (no allocation: walk
/// them again from `Delivery::options_offset` if the caller needs data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptionsSeen {
    /// Number of TLVs.
    pub count: u8,
    /// How many had the critical bit (all of them understood, or we'd have dropped).
    pub critical: u8,
    /// Bit `i` set: registry entry `i` was present.
    pub known: u32,
}

/// How the inner IP header must change on the way out (RFC 6040 ECN and the
/// DSCP / TTL model). Applied by [`apply_inner_update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InnerUpdate {
    /// Offset of the inner IP header from the start of the frame; 0 = no
    /// inner IP header (non-IP inner frame).
    pub l3_offset: u16,
    pub ipv6: bool,
    /// New TOS / traffic class.
    pub tos: u8,
    /// New TTL / hop limit.
    pub ttl: u8,
    /// True if `tos` or `ttl` differ from the inner header as received.
    pub changed: bool,
}

/// What a delivered (or control) packet is: the outer header as parsed
/// once, by the fast or the general tier, and what to do to the inner one.
///
/// Small integers and byte arrays only: the VTEP addresses are kept as
/// octets ([`src_vtep`](Self::src_vtep) and [`dst_vtep`](Self::dst_vtep)
/// convert them), cheaper to build and move than two `IpAddr`s, and a tier
/// inlined into its caller builds only the fields the caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub vni: Vni,
    /// The tunnel header it came in: a VXLAN VNI and a Geneve VNI of the
    /// same number are different networks.
    pub encap: Encapsulation,
    /// Offset of the outer IP header in the frame.
    pub outer_l3: u16,
    /// The outer IP header is IPv6.
    pub outer_ipv6: bool,
    /// Outer source address (the remote VTEP): IPv4 in the first 4 bytes.
    src: [u8; 16],
    /// Outer destination address (our VTEP): IPv4 in the first 4 bytes.
    dst: [u8; 16],
    pub udp_src_port: u16,
    /// Geneve protocol type as a payload kind.
    pub payload: PayloadKind,
    /// Raw Geneve protocol type (for control packets, which are not checked).
    pub protocol: u16,
    /// Offset of the inner packet in the frame.
    pub payload_offset: u16,
    /// Length of the inner packet (to the end of the UDP datagram: outer
    /// Ethernet padding excluded).
    pub payload_len: u16,
    /// Bytes after the outer IP packet (outer Ethernet padding) to trim.
    pub padding: u32,
    /// Offset and length of the Geneve options area in the frame.
    pub options_offset: u16,
    pub options_len: u16,
    pub options: OptionsSeen,
    /// Outer TOS / traffic class and TTL / hop limit.
    pub outer_tos: u8,
    pub outer_ttl: u8,
    /// The inner header's update. The fast tier leaves it at its default
    /// (`changed: false`, no offset) when it knows nothing changes without
    /// reading the inner header (outer Not-ECT, pipe model, Ethernet
    /// payload); [`Decapsulator::decap`] fills it in.
    pub inner: InnerUpdate,
    /// RFC 6040 "(!!!)" combination seen (forwarded, worth a counter).
    pub ecn_alarm: bool,
}

impl Delivery {
    /// Outer source address as 16 octets (IPv4 in the first 4, the rest
    /// zero) and whether it is IPv6: [`src_vtep`](Self::src_vtep) without
    /// building an `IpAddr`.
    #[inline]
    pub fn src_octets(&self) -> ([u8; 16], bool) {
        (self.src, self.outer_ipv6)
    }

    /// Outer source address: the remote VTEP.
    #[inline]
    pub fn src_vtep(&self) -> IpAddr {
        Self::addr(self.outer_ipv6, &self.src)
    }

    /// The outer source address as the delivery holds it: 16 bytes (an
    /// IPv4 address in the first 4, the rest zero) and whether it is IPv6.
    /// Compared without a conversion to `IpAddr` (see [`Delivery::raw_addr`]).
    #[inline(always)]
    pub fn src_raw(&self) -> ([u8; 16], bool) {
        (self.src, self.outer_ipv6)
    }

    /// `a` as [`src_raw`](Self::src_raw) gives an outer source address.
    pub fn raw_addr(a: IpAddr) -> ([u8; 16], bool) {
        match a {
            IpAddr::V4(v) => (Self::v4_octets(v.octets()), false),
            IpAddr::V6(v) => (v.octets(), true),
        }
    }

    /// Outer destination address: our VTEP address it was sent to.
    #[inline]
    pub fn dst_vtep(&self) -> IpAddr {
        Self::addr(self.outer_ipv6, &self.dst)
    }

    #[inline]
    fn addr(v6: bool, a: &[u8; 16]) -> IpAddr {
        if v6 {
            IpAddr::from(*a)
        } else {
            IpAddr::from([a[0], a[1], a[2], a[3]])
        }
    }

    /// An IPv4 address as stored in a delivery.
    #[inline(always)]
    fn v4_octets(a: [u8; 4]) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&a);
        o
    }
}

/// Decap result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A data packet: forward the inner packet.
    Deliver(Delivery),
    /// O bit set: hand to the control thread; never forward as data.
    Control(Delivery),
    /// Drop, with the one reason.
    Drop(DropReason),
}

/// RFC 6935/6936 policy for zero UDP checksums over IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ipv6ZeroChecksum {
    /// Drop (RFC 8926 section 4.3.1 default).
    #[default]
    Drop,
    /// Accept (configured tunnels where RFC 6936 applicability holds).
    Accept,
}

/// Decapsulator configuration.
#[derive(Debug, Clone)]
pub struct DecapConfig {
    /// Our IPv4 VTEP addresses.
    pub local_v4: Vec<Ipv4Addr>,
    /// Our IPv6 VTEP addresses.
    pub local_v6: Vec<Ipv6Addr>,
    /// Geneve UDP port (default 6081).
    pub udp_port: u16,
    /// VXLAN UDP port (RFC 7348; IANA 4789); `None`: VXLAN is not received
    /// (a datagram to 4789 is `wrong_udp_port`).
    pub vxlan_port: Option<u16>,
    /// Verify the outer IPv4 header checksum (turn off when the NIC did).
    pub verify_ipv4_checksum: bool,
    /// Verify non-zero UDP checksums (turn off when the NIC did).
    pub verify_udp_checksum: bool,
    pub ipv6_zero_checksum: Ipv6ZeroChecksum,
    /// Remote VTEPs whose zero UDP checksums over IPv6 are accepted even
    /// when `ipv6_zero_checksum` drops them (configured per tunnel).
    pub ipv6_zero_checksum_from: Vec<Ipv6Addr>,
    /// Most options per packet (RFC 8926 section 3.5.1); at most 63 can fit.
    pub max_options: u8,
    /// Hand O-bit packets to the control thread (true) or drop them (false).
    pub punt_control: bool,
    /// Which payload kinds are accepted.
    pub accept_ethernet: bool,
    pub accept_ipv4: bool,
    pub accept_ipv6: bool,
    pub dscp: QosModel,
    pub ttl: QosModel,
    pub registry: OptionRegistry,
    /// The underlay's 802.1Q VLAN: a tagged frame is accepted only with one
    /// tag of this VID; `None`: tagged frames are dropped. Untagged frames
    /// (the port's native VLAN) are always accepted.
    pub underlay_vlan: Option<u16>,
}

impl DecapConfig {
    /// Defaults for the given local addresses.
    pub fn new(local_v4: Vec<Ipv4Addr>, local_v6: Vec<Ipv6Addr>) -> Self {
        DecapConfig {
            local_v4,
            local_v6,
            udp_port: geneve::UDP_PORT,
            vxlan_port: None,
            verify_ipv4_checksum: true,
            verify_udp_checksum: true,
            ipv6_zero_checksum: Ipv6ZeroChecksum::Drop,
            ipv6_zero_checksum_from: Vec::new(),
            max_options: 63,
            punt_control: true,
            accept_ethernet: true,
            accept_ipv4: true,
            accept_ipv6: true,
            dscp: QosModel::Pipe,
            ttl: QosModel::Pipe,
            registry: OptionRegistry::new(),
            underlay_vlan: None,
        }
    }
}

/// The fast tier's answer ([`Decapsulator::decap_fast`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastVerdict {
    /// A data packet to deliver (the general tier's verdict too; see
    /// [`Delivery::inner`] for the one field it may leave unread).
    Deliver(Delivery),
    /// Dropped by the inner-header or RFC 6040 check, the last ones (the
    /// general tier's reason too).
    Drop(DropReason),
    /// Declined, not a packet of the fast tier: ask
    /// [`Decapsulator::decap_general`].
    General,
}

/// The decap engine: built once, shared read-only by the workers.
#[derive(Debug, Clone)]
pub struct Decapsulator {
    /// Local IPv4 addresses as native-endian words of their octets.
    local_v4: Vec<u32>,
    local_v6: Vec<[u8; 16]>,
    /// Remote VTEPs allowed to send zero UDP checksums over IPv6.
    zero_csum_v6: Vec<[u8; 16]>,
    /// RFC 6040 table, [`ecn_decap`] precomputed: index `inner << 2 | outer`
    /// (ECN bits); entry: new inner ECN in bits 0-1, alarm bit 2,
    /// [`ECN_DROP`] for a drop.
    ecn_table: [u8; 16],
    /// The fixed header fields of the packets of
    /// [`decap_fast_v4_pattern`](Self::decap_fast_v4_pattern) (Ethernet
    /// payload, zero UDP checksum, outer Not-ECT, first local address);
    /// `None` when such a packet would not be accepted (no IPv4 address,
    /// Ethernet payload refused) or would need its inner header read
    /// (uniform model).
    pattern_v4: Option<HeaderPattern>,
    /// The same for IPv4 payloads (L3 tunnels,
    /// [`decap_fast_v4_pattern_ip`](Self::decap_fast_v4_pattern_ip)).
    pattern_v4_ip: Option<HeaderPattern>,
    /// The fixed fields of [`decap_fast_v6`](Self::decap_fast_v6)'s
    /// packets to the first local IPv6 address (pipe model, Ethernet
    /// accepted), compared in one go; `None` otherwise.
    pattern_v6: Option<HeaderPatternV6>,
    /// The fixed fields every IPv4 fast-tier packet has (no addresses,
    /// checksum or protocol): the first test of
    /// [`decap_fast_v4`](Self::decap_fast_v4).
    untagged_v4: HeaderPattern,
    /// The usual VXLAN packet's fixed fields (`vxlan.rs`); `None` when
    /// VXLAN is not received or would need the inner header read.
    pattern_vxlan: Option<HeaderPattern>,
    /// The options area the fast tiers recognise without walking it
    /// ([`with_option_layout`](Self::with_option_layout)).
    option_layout: Option<OptionLayout>,
    /// Pipe model for both DSCP and TTL: the inner header keeps its fields
    /// unless the outer ECN field asks otherwise.
    pipe: bool,
    cfg: DecapConfig,
}

impl Decapsulator {
    pub fn new(cfg: DecapConfig) -> Self {
        let ecn_table = core::array::from_fn(|i| {
            match ecn_decap(Ecn::from_tos((i >> 2) as u8), Ecn::from_tos(i as u8)) {
                EcnDecap::Drop => ECN_DROP,
                EcnDecap::Forward { ecn, alarm } => ecn.bits() | if alarm { ECN_ALARM } else { 0 },
            }
        });
        let pipe = cfg.dscp == QosModel::Pipe && cfg.ttl == QosModel::Pipe;
        let pattern = |accept: bool, protocol: u16| match cfg.local_v4.first() {
            Some(a) if accept && pipe => Some(HeaderPattern::first_address(
                cfg.udp_port,
                a.octets(),
                protocol,
            )),
            _ => None,
        };
        let pattern_v4 = pattern(cfg.accept_ethernet, EtherType::TEB);
        let pattern_v4_ip = pattern(cfg.accept_ipv4, EtherType::IPV4);
        let pattern_v6 = match cfg.local_v6.first() {
            Some(a) if cfg.accept_ethernet && pipe => {
                Some(HeaderPatternV6::first_address(cfg.udp_port, a.octets()))
            }
            _ => None,
        };
        Decapsulator {
            local_v4: cfg
                .local_v4
                .iter()
                .map(|a| u32::from_ne_bytes(a.octets()))
                .collect(),
            local_v6: cfg.local_v6.iter().map(|a| a.octets()).collect(),
            zero_csum_v6: cfg
                .ipv6_zero_checksum_from
                .iter()
                .map(|a| a.octets())
                .collect(),
            ecn_table,
            pattern_v4,
            pattern_v4_ip,
            pattern_v6,
            option_layout: None,
            untagged_v4: HeaderPattern::untagged_v4(cfg.udp_port),
            pattern_vxlan: vxlan::pattern(&cfg, pipe),
            pipe,
            cfg,
        }
    }

    /// Keep the fast tiers' IPv4 header patterns only for the payloads
    /// the caller delivers somewhere (`ethernet`: an L2 VNI exists, `ip`:
    /// an L3 one): a packet the pattern would have taken goes to the
    /// field-by-field fast tier or the general tier instead, which give the
    /// same verdict; the express tier then skips a compare that could
    /// never lead to a delivery.
    pub fn with_patterns(mut self, ethernet: bool, ip: bool) -> Self {
        if !ethernet {
            self.pattern_v4 = None;
        }
        if !ip {
            self.pattern_v4_ip = None;
        }
        self
    }

    /// Whether the Ethernet-payload header pattern is kept (see
    /// [`with_patterns`](Self::with_patterns)): without it the express
    /// tier tries the L3 pattern first.
    pub fn has_ethernet_pattern(&self) -> bool {
        self.pattern_v4.is_some()
    }

    /// Let the fast tiers recognise an options area laid out as `options`
    /// (the options this gateway's tunnels send, which a symmetric peer
    /// sends back) by comparing its option headers instead of walking it
    /// and looking each one up in the registry. Same verdict either way;
    /// no layout when the options would not pass or are more than four.
    pub fn with_option_layout(mut self, options: &[crate::wire::geneve::TunnelOption]) -> Self {
        self.option_layout = OptionLayout::new(&self, options);
        self
    }

    /// Whether `self` and `other` have the same fast-tier patterns and
    /// options layout (what [`with_patterns`](Self::with_patterns) and
    /// [`with_option_layout`](Self::with_option_layout) set): tables
    /// changed entry by entry are tested against tables built whole.
    pub fn same_fast_tiers(&self, other: &Decapsulator) -> bool {
        (
            self.pattern_v4,
            self.pattern_v4_ip,
            self.pattern_v6,
            self.option_layout,
        ) == (
            other.pattern_v4,
            other.pattern_v4_ip,
            other.pattern_v6,
            other.option_layout,
        )
    }

    /// RFC 6935/6936: is a zero UDP checksum over IPv6 from `src` accepted?
    #[inline]
    fn zero_checksum_v6_ok(&self, src: &[u8; 16]) -> bool {
        self.cfg.ipv6_zero_checksum == Ipv6ZeroChecksum::Accept || self.zero_csum_v6.contains(src)
    }

    pub fn config(&self) -> &DecapConfig {
        &self.cfg
    }

    /// Classify one received frame (outer Ethernet first). Reads only inside
    /// `frame`, never panics, never allocates.
    ///
    /// The fast tier (untagged IPv4 without header options, a UDP checksum
    /// that is zero or verifies, a data packet with a supported protocol
    /// and valid options) reads the headers at fixed offsets; anything
    /// else, including every drop but the inner header's, goes to the
    /// general tier, which decides alone. Both give the same verdict for
    /// the packets the fast tier takes (tested in `tests.rs`).
    #[inline]
    pub fn decap(&self, frame: &[u8]) -> Verdict {
        match self.decap_fast(frame) {
            FastVerdict::Deliver(d) => self.with_inner_update(frame, d),
            FastVerdict::Drop(r) => Verdict::Drop(r),
            FastVerdict::General => self.decap_general(frame),
        }
    }

    /// The IPv4 fast tier alone: the final verdict for its packets,
    /// [`FastVerdict::General`] for the rest:
    /// [`decap_fast_v4_pattern`](Self::decap_fast_v4_pattern), else
    /// [`decap_fast_v4_pattern_ip`](Self::decap_fast_v4_pattern_ip), else
    /// [`decap_fast_v4`](Self::decap_fast_v4).
    #[inline]
    pub fn decap_fast(&self, frame: &[u8]) -> FastVerdict {
        match self.decap_fast_v4_pattern(frame, false) {
            Some(v) => v,
            None => match self.decap_fast_v4_pattern_ip(frame, false) {
                Some(v) => v,
                None => self.decap_fast_v4(frame, false),
            },
        }
    }

    /// Whether `a` (octets as in the frame) is a local IPv4 address.
    #[inline(always)]
    fn is_local_v4(&self, a: [u8; 4]) -> bool {
        let a = u32::from_ne_bytes(a);
        match self.local_v4.split_first() {
            Some((&first, rest)) => first == a || rest.contains(&a),
            None => false,
        }
    }

    /// [`decap`](Self::decap), and on `Deliver` rewrite the inner TOS / TTL
    /// and trim the buffer to the inner packet (outer headers and trailing
    /// padding removed). Control and dropped packets are left untouched.
    pub fn decap_in_place<B: Buffer + ?Sized>(&self, buf: &mut B) -> Verdict {
        let v = self.decap(buf.data());
        if let Verdict::Deliver(d) = v {
            apply_inner_update(buf.data_mut(), &d.inner);
            let tail = buf.len() - usize::from(d.payload_offset) - usize::from(d.payload_len);
            // Cannot fail: decap checked both bounds against this data.
            let _ = buf.trim_back(tail);
            let _ = buf.trim_front(usize::from(d.payload_offset));
        }
        v
    }
}
