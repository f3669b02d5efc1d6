//! Decapsulation: outer checks, Geneve checks, option policy, RFC 6040.
//!
//! Checks run in a fixed order and the first failure is the one drop reason
//! (see [`DropReason::ALL`] for the order):
//! Ethernet -> outer IPv4/IPv6 (header, lengths, checksum, fragments) ->
//! local address -> UDP (protocol, length, port, checksum) -> Geneve
//! (version, Opt Len, TLVs, option count, known lengths, unknown critical)
//! -> O bit -> protocol type -> inner header -> RFC 6040.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::buffer::Buffer;
use super::encap::tos_ttl;
use super::options::OptionRegistry;
use super::qos::{ecn_decap, EcnDecap, QosModel};
use super::{inner_l3, PayloadKind};
use crate::wire::checksum;
use crate::wire::ethernet::{self, EtherType};
use crate::wire::geneve::{self, Vni};
use crate::wire::{ip_proto, ipv4, ipv6, udp, Ecn};

/// Why a packet was dropped. Exactly one per drop; each is a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Shorter than an Ethernet header, or a VLAN tag cut off / too many tags.
    EthTruncated,
    /// Outer EtherType is neither IPv4 nor IPv6.
    NotIp,
    /// Outer IPv4 header cut off, version not 4 or IHL < 5.
    Ipv4BadHeader,
    /// Outer IPv4 total length below the header or past the frame.
    Ipv4BadLength,
    /// Outer IPv4 header checksum wrong.
    Ipv4BadChecksum,
    /// Outer IPv6 header cut off or version not 6.
    Ipv6BadHeader,
    /// Outer IPv6 payload length past the frame (or zero: jumbogram).
    Ipv6BadLength,
    /// Outer IPv6 extension header chain malformed or too long.
    Ipv6BadExtHeader,
    /// Outer IP fragment (no reassembly here).
    IpFragment,
    /// Outer destination is not one of our VTEP addresses.
    NotLocalAddress,
    /// Outer IP payload is not UDP.
    NotUdp,
    /// UDP header cut off, or UDP length disagrees with the IP length.
    UdpBadLength,
    /// UDP destination port is not the Geneve port.
    WrongUdpPort,
    /// Non-zero UDP checksum that does not verify.
    UdpBadChecksum,
    /// Zero UDP checksum over IPv6 while the policy forbids it (RFC 6935/6936).
    UdpZeroChecksumIpv6,
    /// UDP payload shorter than the 8-byte Geneve header.
    GeneveTruncated,
    /// Geneve version not 0.
    GeneveBadVersion,
    /// Opt Len runs past the end of the UDP payload.
    GeneveOptLenPastFrame,
    /// Option TLV lengths do not add up to Opt Len.
    OptionOverrun,
    /// More options than the configured maximum.
    TooManyOptions,
    /// An understood option with the wrong length.
    KnownOptionBadLength,
    /// An option we do not understand with the critical bit set.
    UnknownCriticalOption,
    /// O bit set and control packets are not punted.
    ControlNotPunted,
    /// Protocol type not Ethernet (0x6558), IPv4 or IPv6 (or not enabled).
    UnsupportedProtocol,
    /// Inner packet shorter than its own header (inner Ethernet, or the IP
    /// header of an L3 payload).
    InnerMalformed,
    /// RFC 6040: outer CE over an inner Not-ECT packet.
    EcnCeOverNotEct,
}

impl DropReason {
    /// Every reason, in check order.
    pub const ALL: [DropReason; 26] = [
        DropReason::EthTruncated,
        DropReason::NotIp,
        DropReason::Ipv4BadHeader,
        DropReason::Ipv4BadLength,
        DropReason::Ipv4BadChecksum,
        DropReason::Ipv6BadHeader,
        DropReason::Ipv6BadLength,
        DropReason::Ipv6BadExtHeader,
        DropReason::IpFragment,
        DropReason::NotLocalAddress,
        DropReason::NotUdp,
        DropReason::UdpBadLength,
        DropReason::WrongUdpPort,
        DropReason::UdpBadChecksum,
        DropReason::UdpZeroChecksumIpv6,
        DropReason::GeneveTruncated,
        DropReason::GeneveBadVersion,
        DropReason::GeneveOptLenPastFrame,
        DropReason::OptionOverrun,
        DropReason::TooManyOptions,
        DropReason::KnownOptionBadLength,
        DropReason::UnknownCriticalOption,
        DropReason::ControlNotPunted,
        DropReason::UnsupportedProtocol,
        DropReason::InnerMalformed,
        DropReason::EcnCeOverNotEct,
    ];

    /// Number of reasons (size of a counter array indexed by `as usize`).
    pub const COUNT: usize = Self::ALL.len();

    /// Stable snake_case counter name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::EthTruncated => "eth_truncated",
            DropReason::NotIp => "not_ip",
            DropReason::Ipv4BadHeader => "ipv4_bad_header",
            DropReason::Ipv4BadLength => "ipv4_bad_length",
            DropReason::Ipv4BadChecksum => "ipv4_bad_checksum",
            DropReason::Ipv6BadHeader => "ipv6_bad_header",
            DropReason::Ipv6BadLength => "ipv6_bad_length",
            DropReason::Ipv6BadExtHeader => "ipv6_bad_ext_header",
            DropReason::IpFragment => "ip_fragment",
            DropReason::NotLocalAddress => "not_local_address",
            DropReason::NotUdp => "not_udp",
            DropReason::UdpBadLength => "udp_bad_length",
            DropReason::WrongUdpPort => "wrong_udp_port",
            DropReason::UdpBadChecksum => "udp_bad_checksum",
            DropReason::UdpZeroChecksumIpv6 => "udp_zero_checksum_ipv6",
            DropReason::GeneveTruncated => "geneve_truncated",
            DropReason::GeneveBadVersion => "geneve_bad_version",
            DropReason::GeneveOptLenPastFrame => "geneve_opt_len_past_frame",
            DropReason::OptionOverrun => "option_overrun",
            DropReason::TooManyOptions => "too_many_options",
            DropReason::KnownOptionBadLength => "known_option_bad_length",
            DropReason::UnknownCriticalOption => "unknown_critical_option",
            DropReason::ControlNotPunted => "control_not_punted",
            DropReason::UnsupportedProtocol => "unsupported_protocol",
            DropReason::InnerMalformed => "inner_malformed",
            DropReason::EcnCeOverNotEct => "ecn_ce_over_not_ect",
        }
    }

    /// Index into a counter array (`0..COUNT`).
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// What a delivered (or control) packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub vni: Vni,
    /// Outer source: the remote VTEP.
    pub src_vtep: IpAddr,
    /// Outer destination: our VTEP address it was sent to.
    pub dst_vtep: IpAddr,
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
    /// Offset and length of the Geneve options area in the frame.
    pub options_offset: u16,
    pub options_len: u16,
    pub options: OptionsSeen,
    /// Outer TOS / traffic class and TTL / hop limit.
    pub outer_tos: u8,
    pub outer_ttl: u8,
    pub inner: InnerUpdate,
    /// RFC 6040 "(!!!)" combination seen (forwarded, worth a counter).
    pub ecn_alarm: bool,
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
    /// Verify the outer IPv4 header checksum (turn off when the NIC did).
    pub verify_ipv4_checksum: bool,
    /// Verify non-zero UDP checksums (turn off when the NIC did).
    pub verify_udp_checksum: bool,
    pub ipv6_zero_checksum: Ipv6ZeroChecksum,
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
}

impl DecapConfig {
    /// Defaults for the given local addresses.
    pub fn new(local_v4: Vec<Ipv4Addr>, local_v6: Vec<Ipv6Addr>) -> Self {
        DecapConfig {
            local_v4,
            local_v6,
            udp_port: geneve::UDP_PORT,
            verify_ipv4_checksum: true,
            verify_udp_checksum: true,
            ipv6_zero_checksum: Ipv6ZeroChecksum::Drop,
            max_options: 63,
            punt_control: true,
            accept_ethernet: true,
            accept_ipv4: true,
            accept_ipv6: true,
            dscp: QosModel::Pipe,
            ttl: QosModel::Pipe,
            registry: OptionRegistry::new(),
        }
    }
}

/// The decap engine: built once, shared read-only by the workers.
#[derive(Debug, Clone)]
pub struct Decapsulator {
    local_v4: Vec<[u8; 4]>,
    local_v6: Vec<[u8; 16]>,
    cfg: DecapConfig,
}

macro_rules! drop_if {
    ($cond:expr, $r:expr) => {
        if $cond {
            return Verdict::Drop($r);
        }
    };
}

#[inline]
fn rd16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

impl Decapsulator {
    pub fn new(cfg: DecapConfig) -> Self {
        Decapsulator {
            local_v4: cfg.local_v4.iter().map(|a| a.octets()).collect(),
            local_v6: cfg.local_v6.iter().map(|a| a.octets()).collect(),
            cfg,
        }
    }

    pub fn config(&self) -> &DecapConfig {
        &self.cfg
    }

    /// Classify one received frame (outer Ethernet first). Reads only inside
    /// `frame`, never panics, never allocates.
    pub fn decap(&self, frame: &[u8]) -> Verdict {
        // --- Ethernet
        let Some((et, l3)) = ethernet::l3_offset(frame) else {
            return Verdict::Drop(DropReason::EthTruncated);
        };
        // --- Outer IP. `end` = end of the IP packet (padding excluded).
        let (l4, end, proto, src, dst, tos, ttl);
        match et {
            EtherType::IPV4 => {
                let Some(h) = frame.get(l3..l3 + ipv4::HEADER_LEN) else {
                    return Verdict::Drop(DropReason::Ipv4BadHeader);
                };
                let hl = usize::from(h[0] & 0x0f) * 4;
                drop_if!(
                    h[0] >> 4 != 4 || hl < ipv4::HEADER_LEN,
                    DropReason::Ipv4BadHeader
                );
                let tl = usize::from(u16::from_be_bytes([h[2], h[3]]));
                drop_if!(frame.len() < l3 + hl, DropReason::Ipv4BadHeader);
                drop_if!(tl < hl || frame.len() < l3 + tl, DropReason::Ipv4BadLength);
                if self.cfg.verify_ipv4_checksum {
                    let full = &frame[l3..l3 + hl];
                    drop_if!(
                        checksum::fold(checksum::accumulate(0, full)) != 0xffff,
                        DropReason::Ipv4BadChecksum
                    );
                }
                drop_if!(
                    u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0,
                    DropReason::IpFragment
                );
                let d = [h[16], h[17], h[18], h[19]];
                drop_if!(!self.local_v4.contains(&d), DropReason::NotLocalAddress);
                l4 = l3 + hl;
                end = l3 + tl;
                proto = h[9];
                src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
                dst = IpAddr::V4(Ipv4Addr::from(d));
                tos = h[1];
                ttl = h[8];
            }
            EtherType::IPV6 => {
                let Some(h) = frame.get(l3..l3 + ipv6::HEADER_LEN) else {
                    return Verdict::Drop(DropReason::Ipv6BadHeader);
                };
                drop_if!(h[0] >> 4 != 6, DropReason::Ipv6BadHeader);
                let pl = usize::from(u16::from_be_bytes([h[4], h[5]]));
                drop_if!(
                    pl == 0 || frame.len() < l3 + ipv6::HEADER_LEN + pl,
                    DropReason::Ipv6BadLength
                );
                end = l3 + ipv6::HEADER_LEN + pl;
                let mut d = [0u8; 16];
                d.copy_from_slice(&h[24..40]);
                let mut s = [0u8; 16];
                s.copy_from_slice(&h[8..24]);
                let nh = h[6];
                let (p, off) = if ipv6::is_extension(nh) {
                    match ipv6::walk_ext(&frame[l3 + ipv6::HEADER_LEN..end], nh) {
                        Ok(u) => {
                            drop_if!(u.fragment, DropReason::IpFragment);
                            (u.protocol, u.offset)
                        }
                        Err(_) => return Verdict::Drop(DropReason::Ipv6BadExtHeader),
                    }
                } else {
                    (nh, 0)
                };
                drop_if!(!self.local_v6.contains(&d), DropReason::NotLocalAddress);
                l4 = l3 + ipv6::HEADER_LEN + off;
                proto = p;
                src = IpAddr::V6(Ipv6Addr::from(s));
                dst = IpAddr::V6(Ipv6Addr::from(d));
                tos = ((h[0] & 0x0f) << 4) | (h[1] >> 4);
                ttl = h[7];
            }
            _ => return Verdict::Drop(DropReason::NotIp),
        }
        drop_if!(proto != ip_proto::UDP, DropReason::NotUdp);
        // --- UDP. The UDP length must equal what the IP length leaves.
        let Some(u) = frame.get(l4..l4 + udp::HEADER_LEN) else {
            return Verdict::Drop(DropReason::UdpBadLength);
        };
        let ulen = usize::from(u16::from_be_bytes([u[4], u[5]]));
        drop_if!(ulen != end - l4, DropReason::UdpBadLength);
        drop_if!(
            u16::from_be_bytes([u[2], u[3]]) != self.cfg.udp_port,
            DropReason::WrongUdpPort
        );
        let sport = u16::from_be_bytes([u[0], u[1]]);
        let ucsum = u16::from_be_bytes([u[6], u[7]]);
        let v6 = matches!(src, IpAddr::V6(_));
        if ucsum == 0 {
            drop_if!(
                v6 && self.cfg.ipv6_zero_checksum == Ipv6ZeroChecksum::Drop,
                DropReason::UdpZeroChecksumIpv6
            );
        } else if self.cfg.verify_udp_checksum {
            let seg = &frame[l4..end];
            let pseudo = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    checksum::pseudo_header_v4(&s.octets(), &d.octets(), ip_proto::UDP, ulen as u16)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    checksum::pseudo_header_v6(&s.octets(), &d.octets(), ip_proto::UDP, ulen as u32)
                }
                _ => 0,
            };
            drop_if!(
                checksum::fold(checksum::accumulate(pseudo, seg)) != 0xffff,
                DropReason::UdpBadChecksum
            );
        }
        // --- Geneve.
        let g = l4 + udp::HEADER_LEN;
        let Some(gh) = frame
            .get(g..g + geneve::HEADER_LEN)
            .filter(|_| g + geneve::HEADER_LEN <= end)
        else {
            return Verdict::Drop(DropReason::GeneveTruncated);
        };
        drop_if!(gh[0] >> 6 != 0, DropReason::GeneveBadVersion);
        let opt_len = usize::from(gh[0] & 0x3f) * 4;
        let opts_start = g + geneve::HEADER_LEN;
        let payload_off = opts_start + opt_len;
        drop_if!(payload_off > end, DropReason::GeneveOptLenPastFrame);
        let oam = gh[1] & geneve::FLAG_OAM != 0;
        let protocol = u16::from_be_bytes([gh[2], gh[3]]);
        let vni = Vni::new(u32::from_be_bytes([0, gh[4], gh[5], gh[6]])).unwrap_or_default();
        let mut seen = OptionsSeen::default();
        if opt_len != 0 {
            match self.check_options(&frame[opts_start..payload_off]) {
                Ok(s) => seen = s,
                Err(r) => return Verdict::Drop(r),
            }
        }
        let payload = match protocol {
            EtherType::TEB => PayloadKind::Ethernet,
            EtherType::IPV4 => PayloadKind::Ipv4,
            EtherType::IPV6 => PayloadKind::Ipv6,
            _ => PayloadKind::Ethernet, // only meaningful for control packets
        };
        let mut d = Delivery {
            vni,
            src_vtep: src,
            dst_vtep: dst,
            udp_src_port: sport,
            payload,
            protocol,
            payload_offset: payload_off as u16,
            payload_len: (end - payload_off) as u16,
            options_offset: opts_start as u16,
            options_len: opt_len as u16,
            options: seen,
            outer_tos: tos,
            outer_ttl: ttl,
            inner: InnerUpdate::default(),
            ecn_alarm: false,
        };
        if oam {
            if self.cfg.punt_control {
                return Verdict::Control(d);
            }
            return Verdict::Drop(DropReason::ControlNotPunted);
        }
        let accepted = match protocol {
            EtherType::TEB => self.cfg.accept_ethernet,
            EtherType::IPV4 => self.cfg.accept_ipv4,
            EtherType::IPV6 => self.cfg.accept_ipv6,
            _ => false,
        };
        drop_if!(!accepted, DropReason::UnsupportedProtocol);
        // --- Inner header and RFC 6040 / DSCP / TTL.
        let inner = &frame[payload_off..end];
        if payload == PayloadKind::Ethernet && inner.len() < ethernet::HEADER_LEN {
            return Verdict::Drop(DropReason::InnerMalformed);
        }
        let ip = inner_l3(inner, payload)
            .and_then(|(off, v6)| tos_ttl(inner, off, v6).map(|x| (off, v6, x)));
        let (in_tos, in_ttl) = match ip {
            Some((off, v6, (t, l))) => {
                d.inner.l3_offset = (payload_off + off) as u16;
                d.inner.ipv6 = v6;
                (t, l)
            }
            None if payload == PayloadKind::Ethernet => (0, 0),
            None => return Verdict::Drop(DropReason::InnerMalformed),
        };
        let ecn = match ecn_decap(Ecn::from_tos(in_tos), Ecn::from_tos(tos)) {
            EcnDecap::Drop => return Verdict::Drop(DropReason::EcnCeOverNotEct),
            EcnDecap::Forward { ecn, alarm } => {
                d.ecn_alarm = alarm;
                ecn
            }
        };
        if d.inner.l3_offset != 0 {
            let dscp = match self.cfg.dscp {
                QosModel::Pipe => in_tos & 0xfc,
                QosModel::Uniform => tos & 0xfc,
            };
            let new_ttl = match self.cfg.ttl {
                QosModel::Pipe => in_ttl,
                QosModel::Uniform => in_ttl.min(ttl),
            };
            d.inner.tos = dscp | ecn.bits();
            d.inner.ttl = new_ttl;
            d.inner.changed = d.inner.tos != in_tos || new_ttl != in_ttl;
        }
        Verdict::Deliver(d)
    }

    /// Walk the option TLVs: structure, count, known lengths, unknown critical.
    #[inline]
    fn check_options(&self, opts: &[u8]) -> Result<OptionsSeen, DropReason> {
        let mut seen = OptionsSeen::default();
        let mut off = 0usize;
        while off < opts.len() {
            let Some(h) = opts.get(off..off + geneve::OPTION_HEADER_LEN) else {
                return Err(DropReason::OptionOverrun);
            };
            let words = h[3] & 0x1f;
            off += geneve::OPTION_HEADER_LEN + usize::from(words) * 4;
            if off > opts.len() {
                return Err(DropReason::OptionOverrun);
            }
            if seen.count == self.cfg.max_options {
                return Err(DropReason::TooManyOptions);
            }
            seen.count += 1;
            let class = rd16(h, 0).unwrap_or(0);
            let typ = h[2];
            let critical = typ & geneve::OPTION_TYPE_CRITICAL != 0;
            match self.cfg.registry.lookup(class, typ) {
                Some((i, k)) => {
                    if k.len_words.is_some_and(|l| l != words) {
                        return Err(DropReason::KnownOptionBadLength);
                    }
                    seen.known |= 1u32 << (i & 31);
                }
                None if critical => return Err(DropReason::UnknownCriticalOption),
                None => {}
            }
            if critical {
                seen.critical += 1;
            }
        }
        Ok(seen)
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

/// Apply an [`InnerUpdate`] to the inner IP header inside `frame` (the same
/// frame `decap` looked at), updating the IPv4 checksum incrementally.
/// Returns false if there was nothing to do or the header is not there.
#[inline]
pub fn apply_inner_update(frame: &mut [u8], u: &InnerUpdate) -> bool {
    if !u.changed || u.l3_offset == 0 {
        return false;
    }
    let off = usize::from(u.l3_offset);
    if u.ipv6 {
        let Some(h) = frame.get_mut(off..off + ipv6::HEADER_LEN) else {
            return false;
        };
        h[0] = (h[0] & 0xf0) | (u.tos >> 4);
        h[1] = (h[1] & 0x0f) | (u.tos << 4);
        h[7] = u.ttl;
    } else {
        let Some(h) = frame.get_mut(off..off + ipv4::HEADER_LEN) else {
            return false;
        };
        let old0 = u16::from_be_bytes([h[0], h[1]]);
        let old8 = u16::from_be_bytes([h[8], h[9]]);
        h[1] = u.tos;
        h[8] = u.ttl;
        let c = u16::from_be_bytes([h[10], h[11]]);
        let c = checksum::update16(c, old0, u16::from_be_bytes([h[0], h[1]]));
        let c = checksum::update16(c, old8, u16::from_be_bytes([h[8], h[9]]));
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    true
}
