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
///
/// Small integers only (40 bytes): it is returned by value per packet, and
/// two `IpAddr`s used to double its size and the cost of every move. The
/// VTEP addresses stay in the frame; [`src_vtep`](Self::src_vtep) and
/// [`dst_vtep`](Self::dst_vtep) read them from there when a caller needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub vni: Vni,
    /// Offset of the outer IP header in the frame.
    pub outer_l3: u16,
    /// The outer IP header is IPv6.
    pub outer_ipv6: bool,
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

impl Delivery {
    /// Outer source address (the remote VTEP), read from `frame`: the frame
    /// this delivery came from, or the same bytes (`None` if it is shorter).
    #[inline]
    pub fn src_vtep(&self, frame: &[u8]) -> Option<IpAddr> {
        self.outer_addr(frame, if self.outer_ipv6 { 8 } else { 12 })
    }

    /// Outer destination address (our VTEP address it was sent to).
    #[inline]
    pub fn dst_vtep(&self, frame: &[u8]) -> Option<IpAddr> {
        self.outer_addr(frame, if self.outer_ipv6 { 24 } else { 16 })
    }

    #[inline]
    fn outer_addr(&self, frame: &[u8], field: usize) -> Option<IpAddr> {
        let at = usize::from(self.outer_l3) + field;
        if self.outer_ipv6 {
            let a: [u8; 16] = *frame.get(at..)?.first_chunk()?;
            Some(IpAddr::from(a))
        } else {
            let a: [u8; 4] = *frame.get(at..)?.first_chunk()?;
            Some(IpAddr::from(a))
        }
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

/// What the fast path knows about a data packet it accepted: everything a
/// VNI without per-packet policy needs to forward it, in a few registers.
/// [`Decapsulator::delivery`] turns it into the full [`Delivery`] for the
/// rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastDelivery {
    /// The 24-bit VNI.
    pub vni: u32,
    /// Offset of the inner packet in the frame.
    pub payload_offset: u32,
    /// Bytes after the outer IP packet (Ethernet padding) to trim.
    pub padding: u32,
    pub options: OptionsSeen,
    /// The inner header's update (`changed: false`, all else zero, when the
    /// fast path knows there is nothing to change without reading it).
    pub inner: InnerUpdate,
}

/// [`Decapsulator::decap_fast`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastVerdict {
    /// A data packet to deliver (the verdict of the general path too).
    Deliver(FastDelivery),
    /// Dropped by the inner-header or RFC 6040 check, the last ones (the
    /// general path's reason too).
    Drop(DropReason),
    /// Not a common-case packet: ask [`Decapsulator::decap_general`].
    General,
}

/// The decap engine: built once, shared read-only by the workers.
#[derive(Debug, Clone)]
pub struct Decapsulator {
    /// Local IPv4 addresses as native-endian words of their octets.
    local_v4: Vec<u32>,
    local_v6: Vec<[u8; 16]>,
    /// RFC 6040 table, [`ecn_decap`] precomputed: index `inner << 2 | outer`
    /// (ECN bits); entry: new inner ECN in bits 0-1, alarm bit 2,
    /// [`ECN_DROP`] for a drop.
    ecn_table: [u8; 16],
    /// The common packet's fixed header fields (Ethernet payload, zero UDP
    /// checksum, outer Not-ECT, first local address); `None`
    /// when that packet would not be accepted (no IPv4 address, Ethernet
    /// payload refused) or would need its inner header read (uniform model).
    common: Option<HeaderPattern>,
    /// The fixed fields every fast-path packet has (no addresses, checksum
    /// or protocol): the first test of [`decap_fast_other`](Self::decap_fast_other).
    untagged_v4: HeaderPattern,
    /// Pipe model for both DSCP and TTL: the inner header keeps its fields
    /// unless the outer ECN field asks otherwise.
    pipe: bool,
    cfg: DecapConfig,
}

const ECN_ALARM: u8 = 0x04;
const ECN_DROP: u8 = 0x80;

/// Bytes the IPv4 fast path reads at fixed offsets: untagged Ethernet,
/// IPv4 without options, UDP, Geneve base header.
const FAST_V4_LEN: usize =
    ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN + geneve::HEADER_LEN;

/// Offsets in the frame of the fast path's headers (untagged IPv4, IHL 5).
const IP: usize = ethernet::HEADER_LEN;
const UDP: usize = IP + ipv4::HEADER_LEN;
const GENEVE: usize = UDP + udp::HEADER_LEN;

/// Expected values of header fields, compared four 8-byte words at a time:
/// a frame matches when `(word ^ want) & mask == 0` for every word. The
/// words cover frame bytes 12..20, 20..28, 30..38 and 38..46: EtherType,
/// IPv4 version / IHL / TOS / length, flags and fragment offset, protocol,
/// destination address, UDP ports, length and checksum, Geneve version,
/// flags and protocol type. Native byte order on both sides, so a compare
/// costs a load, an XOR and an AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeaderPattern {
    want: [u64; 4],
    mask: [u64; 4],
}

impl HeaderPattern {
    const WORDS: [usize; 4] = [12, 20, 30, 38];

    /// From `(frame offset, expected bytes, mask bytes)` fields.
    fn new(fields: &[(usize, &[u8], &[u8])]) -> Self {
        let mut want = [0u8; FAST_V4_LEN];
        let mut mask = [0u8; FAST_V4_LEN];
        for &(at, w, m) in fields {
            want[at..at + w.len()].copy_from_slice(w);
            mask[at..at + m.len()].copy_from_slice(m);
        }
        // Every field must lie inside one of the words.
        debug_assert!(mask[..12].iter().chain(&mask[28..30]).all(|&b| b == 0));
        debug_assert!(mask[46..].iter().all(|&b| b == 0));
        let word = |b: &[u8; FAST_V4_LEN], at: usize| word64(b, at) & word64(&mask, at);
        HeaderPattern {
            want: Self::WORDS.map(|at| word(&want, at)),
            mask: Self::WORDS.map(|at| word64(&mask, at)),
        }
    }

    /// The fields every packet of the fast paths has: untagged IPv4 with
    /// IHL 5, not a fragment, UDP to `port`, Geneve version 0 without the
    /// O bit.
    fn untagged_v4(port: u16) -> Self {
        Self::new(&Self::untagged_v4_fields(&port.to_be_bytes()))
    }

    fn untagged_v4_fields(port: &[u8; 2]) -> [(usize, &[u8], &'static [u8]); 5] {
        [
            (12, &[0x08, 0x00, 0x45], &[0xff, 0xff, 0xff]),
            // Flags and fragment offset: MF or an offset is a fragment (DF is fine).
            (IP + 6, &[0, 0], &[0x3f, 0xff]),
            (IP + 9, &[ip_proto::UDP], &[0xff]),
            (UDP + 2, port, &[0xff, 0xff]),
            // Version 0, O bit clear.
            (GENEVE, &[0, 0], &[0xc0, geneve::FLAG_OAM]),
        ]
    }

    /// [`untagged_v4`](Self::untagged_v4) sent to `dst`, outer ECN
    /// Not-ECT, a zero UDP checksum, carrying Ethernet.
    fn common(port: u16, dst: [u8; 4]) -> Self {
        let port = port.to_be_bytes();
        let mut fields = Self::untagged_v4_fields(&port).to_vec();
        fields.extend_from_slice(&[
            (IP + 1, &[0], &[0x03]),
            (IP + 16, &dst[..], &[0xff; 4][..]),
            (UDP + 6, &[0, 0], &[0xff, 0xff]),
            (GENEVE + 2, &[0x65, 0x58], &[0xff, 0xff]),
        ]);
        Self::new(&fields)
    }

    #[inline(always)]
    fn matches(&self, f: &[u8; FAST_V4_LEN]) -> bool {
        let mut diff = 0u64;
        for i in 0..4 {
            diff |= (word64(f, Self::WORDS[i]) ^ self.want[i]) & self.mask[i];
        }
        diff == 0
    }
}

/// The 8 bytes at `at` as a native-endian word (`at + 8 <= FAST_V4_LEN`;
/// callers pass constants, so the bound is checked at compile time).
#[inline(always)]
fn word64(f: &[u8; FAST_V4_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&f[at..at + 8]);
    u64::from_ne_bytes(b)
}

#[inline(always)]
fn be16(f: &[u8; FAST_V4_LEN], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
}

macro_rules! drop_if {
    ($cond:expr, $r:expr) => {
        if $cond {
            return Verdict::Drop($r);
        }
    };
}

/// The outer IPv4 header (IHL 5) at 14 in `f` sums to 0xffff (one's
/// complement), i.e. its checksum verifies.
///
/// The header is summed as native-endian 64- and 32-bit words with the
/// carries added back: modulo 0xffff that is the one's complement sum of
/// its 16-bit words (2^16 = 1), byte-swapped on a little-endian machine
/// (RFC 1071 2(B)), which is a multiple of 256 times the big-endian sum; 256
/// is prime to 0xffff, so the sum is 0 mod 0xffff in either order. A
/// non-zero sum that is a multiple of 0xffff folds to 0xffff exactly (and
/// the sum is non-zero: the first byte is 0x45).
#[inline(always)]
fn ipv4_header_sum_ok(f: &[u8; FAST_V4_LEN]) -> bool {
    let tail = u64::from(u32::from_ne_bytes([f[30], f[31], f[32], f[33]]));
    let (s, c) = word64(f, IP).overflowing_add(word64(f, IP + 8));
    // No overflow: a sum that wrapped is at most 2^64 - 2.
    let s = s + u64::from(c);
    let (s, c) = s.overflowing_add(tail);
    let s = s + u64::from(c);
    // `s % 0xffff == 0` as one multiplication: 0xffff is odd, so
    // multiplying by its inverse mod 2^64 maps its multiples, and only
    // them, onto 0..=u64::MAX / 0xffff.
    s != 0 && s.wrapping_mul(INVERSE_0XFFFF) <= u64::MAX / 0xffff
}

/// The inverse of 0xffff modulo 2^64 (Newton's iteration; each step doubles
/// the correct low bits, 5 steps from the 5 of `x = d`).
const INVERSE_0XFFFF: u64 = {
    let d: u64 = 0xffff;
    let mut x = d;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(d.wrapping_mul(x)));
        i += 1;
    }
    x
};

/// The VNI of the Geneve header at 42.
#[inline(always)]
fn vni_of(f: &[u8; FAST_V4_LEN]) -> u32 {
    u32::from_be_bytes([f[GENEVE + 4], f[GENEVE + 5], f[GENEVE + 6], f[GENEVE + 7]]) >> 8
}

/// The UDP datagram at 34 (untagged IPv4, IHL 5) up to `end` verifies.
/// Out of line: most tunnels send a zero checksum over IPv4.
#[inline(never)]
fn udp_checksum_ok_v4(frame: &[u8], end: usize, src: [u8; 4], dst: [u8; 4], ulen: u16) -> bool {
    let Some(seg) = frame.get(UDP..end) else {
        return false;
    };
    let pseudo = checksum::pseudo_header_v4(&src, &dst, ip_proto::UDP, ulen);
    checksum::fold(checksum::accumulate(pseudo, seg)) == 0xffff
}

/// The UDP datagram of an untagged IPv6 frame without extension headers,
/// up to `end`, verifies against its pseudo header (RFC 8200 section 8.1).
#[inline(always)]
fn udp_checksum_ok_v6(frame: &[u8], end: usize) -> bool {
    const IP6: usize = ethernet::HEADER_LEN;
    const UDP6: usize = IP6 + ipv6::HEADER_LEN;
    let addr = |at: usize| frame.get(at..at + 16)?.first_chunk::<16>().copied();
    let (Some(src), Some(dst), Some(seg)) = (addr(IP6 + 8), addr(IP6 + 24), frame.get(UDP6..end))
    else {
        return false;
    };
    udp::UdpPacket::new_checked(seg).is_ok_and(|u| u.verify_checksum_v6(&src, &dst))
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
        let common = match cfg.local_v4.first() {
            Some(a) if cfg.accept_ethernet && pipe => {
                Some(HeaderPattern::common(cfg.udp_port, a.octets()))
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
            ecn_table,
            common,
            untagged_v4: HeaderPattern::untagged_v4(cfg.udp_port),
            pipe,
            cfg,
        }
    }

    pub fn config(&self) -> &DecapConfig {
        &self.cfg
    }

    /// Classify one received frame (outer Ethernet first). Reads only inside
    /// `frame`, never panics, never allocates.
    ///
    /// The common case (untagged IPv4 without header options, a UDP
    /// checksum that is zero or verifies, a data packet with a supported
    /// protocol and valid options) takes a straight-line path that reads the
    /// headers at fixed offsets; anything else, including every drop, goes
    /// through the general path, which decides alone. Both give the same
    /// verdict for the packets the fast path accepts (tested below).
    #[inline]
    pub fn decap(&self, frame: &[u8]) -> Verdict {
        match self.decap_fast(frame) {
            FastVerdict::Deliver(d) => self.delivery(frame, &d),
            FastVerdict::Drop(r) => Verdict::Drop(r),
            FastVerdict::General => self.decap_general(frame),
        }
    }

    /// The fast path alone: the final verdict for a common-case packet,
    /// [`FastVerdict::General`] for the rest: [`decap_common`](Self::decap_common),
    /// else [`decap_fast_other`](Self::decap_fast_other).
    #[inline]
    pub fn decap_fast(&self, frame: &[u8]) -> FastVerdict {
        match self.decap_common(frame, false) {
            Some(v) => v,
            None => self.decap_fast_other(frame, false),
        }
    }

    /// The commonest packet (Ethernet payload, zero UDP checksum, outer
    /// ECN Not-ECT under the pipe model, the first local address),
    /// recognised by one masked compare of four header words; `None` for
    /// any other packet. Its delivery is mostly constants, so a caller that
    /// handles it in a match arm of its own (not merged with another
    /// path's) keeps it in registers. `hw_ip_sum_good`: the receiving port
    /// verified the outer IPv4 header checksum (see
    /// [`Buffer::rx_ipv4_checksum_good`](super::Buffer::rx_ipv4_checksum_good)).
    #[inline(always)]
    pub fn decap_common(&self, frame: &[u8], hw_ip_sum_good: bool) -> Option<FastVerdict> {
        let f = frame.first_chunk::<FAST_V4_LEN>()?;
        if !self.common.as_ref()?.matches(f) {
            return None;
        }
        let Some(end) = self.outer_v4_ok(frame, f, hw_ip_sum_good) else {
            return Some(FastVerdict::General);
        };
        let Some((options, payload_off)) = self.fast_options(frame, f, end) else {
            return Some(FastVerdict::General);
        };
        // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
        // pipe model the rest: nothing to read but the inner length.
        if end - payload_off < ethernet::HEADER_LEN {
            return Some(FastVerdict::Drop(DropReason::InnerMalformed));
        }
        Some(FastVerdict::Deliver(FastDelivery {
            vni: vni_of(f),
            payload_offset: payload_off as u32,
            padding: (frame.len() - end) as u32,
            options,
            inner: InnerUpdate::default(),
        }))
    }

    /// The commonest packet over an IPv6 underlay, for the worker's express
    /// lane: untagged IPv6 without extension headers to a local address,
    /// outer ECN Not-ECT under the pipe model, UDP to the Geneve port with
    /// a checksum that verifies (or a zero one where accepted), Geneve
    /// version 0 without the O bit carrying Ethernet, options that pass.
    /// `Some` only for a delivery, with nothing to update in the inner
    /// frame (the general path's verdict too, tested below); `None` for
    /// any other packet, and [`decap_general`](Self::decap_general)
    /// decides. Not for [`delivery`](Self::delivery), which reads IPv4
    /// offsets. Out of line: the IPv4 lane stays in registers.
    #[inline(never)]
    pub fn decap_common_v6(&self, frame: &[u8]) -> Option<FastDelivery> {
        const IP6: usize = ethernet::HEADER_LEN;
        const UDP6: usize = IP6 + ipv6::HEADER_LEN;
        const GENEVE6: usize = UDP6 + udp::HEADER_LEN;
        let f = frame.first_chunk::<{ GENEVE6 + geneve::HEADER_LEN }>()?;
        let b16 = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        // EtherType, version 6 and ECN Not-ECT (the traffic class's low
        // bits are bits 4-5 of byte 1); no extension header.
        let pipe_ethernet = self.pipe && self.cfg.accept_ethernet;
        if !pipe_ethernet
            || b16(12) != EtherType::IPV6
            || f[IP6] >> 4 != 6
            || f[IP6 + 1] & 0x30 != 0
            || f[IP6 + 6] != ip_proto::UDP
        {
            return None;
        }
        let pl = usize::from(b16(IP6 + 4));
        let end = UDP6 + pl;
        let dst = f.get(IP6 + 24..UDP6)?.first_chunk::<16>()?;
        if end > frame.len()
            || usize::from(b16(UDP6 + 4)) != pl
            || b16(UDP6 + 2) != self.cfg.udp_port
            || !self.local_v6.contains(dst)
            || f[GENEVE6] >> 6 != 0
            || f[GENEVE6 + 1] & geneve::FLAG_OAM != 0
            || b16(GENEVE6 + 2) != EtherType::TEB
        {
            return None;
        }
        // Geneve header inside the UDP datagram (the UDP length says so).
        if pl < udp::HEADER_LEN + geneve::HEADER_LEN {
            return None;
        }
        let udp_ok = if b16(UDP6 + 6) == 0 {
            self.cfg.ipv6_zero_checksum == Ipv6ZeroChecksum::Accept
        } else {
            !self.cfg.verify_udp_checksum || udp_checksum_ok_v6(frame, end)
        };
        if !udp_ok {
            return None;
        }
        let payload_off = GENEVE6 + geneve::HEADER_LEN + usize::from(f[GENEVE6] & 0x3f) * 4;
        // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
        // pipe model the rest: the inner frame needs only its Ethernet header.
        if payload_off + ethernet::HEADER_LEN > end {
            return None;
        }
        let options = match frame.get(GENEVE6 + geneve::HEADER_LEN..payload_off)? {
            [] => OptionsSeen::default(),
            opts => self.options_pass(opts)?,
        };
        Some(FastDelivery {
            vni: u32::from_be_bytes([
                f[GENEVE6 + 4],
                f[GENEVE6 + 5],
                f[GENEVE6 + 6],
                f[GENEVE6 + 7],
            ]) >> 8,
            payload_offset: payload_off as u32,
            padding: (frame.len() - end) as u32,
            options,
            inner: InnerUpdate::default(),
        })
    }

    /// The options of a fast-path packet whose IP packet ends at `end`,
    /// checked in one pass: what they hold and the inner payload's offset;
    /// `None` (the general path decides) if they overrun or do not pass.
    #[inline(always)]
    fn fast_options(
        &self,
        frame: &[u8],
        f: &[u8; FAST_V4_LEN],
        end: usize,
    ) -> Option<(OptionsSeen, usize)> {
        let opt_len = usize::from(f[GENEVE] & 0x3f) * 4;
        let payload_off = FAST_V4_LEN + opt_len;
        if opt_len == 0 {
            return Some((OptionsSeen::default(), payload_off));
        }
        let opts = frame
            .get(FAST_V4_LEN..payload_off)
            .filter(|_| payload_off <= end)?;
        Some((self.options_pass(opts)?, payload_off))
    }

    /// Lengths and header checksum of the untagged outer IPv4 header (IHL 5)
    /// in `f`, the first bytes of `frame`: the end of the IP packet if the
    /// UDP length is what the IP length leaves and holds the Geneve header,
    /// the IP packet fits in the frame and the checksum verifies (or is not
    /// to be verified, or the port verified it: `hw_ip_sum_good`).
    #[inline(always)]
    fn outer_v4_ok(
        &self,
        frame: &[u8],
        f: &[u8; FAST_V4_LEN],
        hw_ip_sum_good: bool,
    ) -> Option<usize> {
        let tl = usize::from(be16(f, IP + 2));
        let ulen = usize::from(be16(f, UDP + 4));
        let end = IP + tl;
        let ok = ulen + ipv4::HEADER_LEN == tl
            && ulen >= udp::HEADER_LEN + geneve::HEADER_LEN
            && end <= frame.len()
            && (!self.cfg.verify_ipv4_checksum || hw_ip_sum_good || ipv4_header_sum_ok(f));
        ok.then_some(end)
    }

    /// The fast path for the other untagged IPv4 packets (non-zero UDP
    /// checksum, IP payload, another local address, outer ECN marked,
    /// uniform DSCP / TTL model), field by field.
    #[inline(always)]
    pub fn decap_fast_other(&self, frame: &[u8], hw_ip_sum_good: bool) -> FastVerdict {
        let Some(f) = frame.first_chunk::<FAST_V4_LEN>() else {
            return FastVerdict::General;
        };
        if !self.untagged_v4.matches(f) || !self.is_local_v4([f[30], f[31], f[32], f[33]]) {
            return FastVerdict::General;
        }
        let payload = match be16(f, GENEVE + 2) {
            EtherType::TEB if self.cfg.accept_ethernet => PayloadKind::Ethernet,
            EtherType::IPV4 if self.cfg.accept_ipv4 => PayloadKind::Ipv4,
            EtherType::IPV6 if self.cfg.accept_ipv6 => PayloadKind::Ipv6,
            _ => return FastVerdict::General,
        };
        self.decap_fast_v4_tail(frame, f, payload, hw_ip_sum_good)
    }

    /// The rest of the fast path, once the fixed fields of `f` (the first
    /// bytes of `frame`) matched: lengths, checksums, options, inner header.
    #[inline(always)]
    fn decap_fast_v4_tail(
        &self,
        frame: &[u8],
        f: &[u8; FAST_V4_LEN],
        payload: PayloadKind,
        hw_ip_sum_good: bool,
    ) -> FastVerdict {
        use FastVerdict::General;
        let Some(end) = self.outer_v4_ok(frame, f, hw_ip_sum_good) else {
            return General;
        };
        let ulen = be16(f, UDP + 4);
        if be16(f, UDP + 6) != 0
            && self.cfg.verify_udp_checksum
            && !udp_checksum_ok_v4(
                frame,
                end,
                [f[26], f[27], f[28], f[29]],
                [f[30], f[31], f[32], f[33]],
                ulen,
            )
        {
            return General;
        }
        let Some((options, payload_off)) = self.fast_options(frame, f, end) else {
            return General;
        };
        let tos = f[IP + 1];
        let inner = if tos & 3 == 0 && self.pipe && payload == PayloadKind::Ethernet {
            // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
            // pipe model the rest: nothing to read but the inner length.
            if end - payload_off < ethernet::HEADER_LEN {
                return FastVerdict::Drop(DropReason::InnerMalformed);
            }
            InnerUpdate::default()
        } else {
            match self.inner_update_out_of_line(frame, payload_off, end, payload, tos, f[IP + 8]) {
                Ok((u, _)) => u,
                Err(r) => return FastVerdict::Drop(r),
            }
        };
        FastVerdict::Deliver(FastDelivery {
            vni: vni_of(f),
            payload_offset: payload_off as u32,
            padding: (frame.len() - end) as u32,
            options,
            inner,
        })
    }

    /// The full [`Delivery`] of a packet the fast path delivered as `d`
    /// (`frame` is the frame it looked at): the outer fields read again at
    /// their fixed offsets, the inner update and RFC 6040 alarm computed.
    #[inline(never)]
    pub fn delivery(&self, frame: &[u8], d: &FastDelivery) -> Verdict {
        let Some(f) = frame.first_chunk::<FAST_V4_LEN>() else {
            // Not a frame the fast path took: let the general path decide.
            return self.decap_general(frame);
        };
        let payload_off = d.payload_offset as usize;
        let end = frame.len().saturating_sub(d.padding as usize);
        let protocol = be16(f, GENEVE + 2);
        let payload = match protocol {
            EtherType::IPV4 => PayloadKind::Ipv4,
            EtherType::IPV6 => PayloadKind::Ipv6,
            _ => PayloadKind::Ethernet,
        };
        let (outer_tos, outer_ttl) = (f[IP + 1], f[IP + 8]);
        let (inner, ecn_alarm) =
            match self.inner_update(frame, payload_off, end, payload, outer_tos, outer_ttl) {
                Ok(x) => x,
                Err(r) => return Verdict::Drop(r),
            };
        Verdict::Deliver(Delivery {
            vni: Vni::new(d.vni).unwrap_or_default(),
            outer_l3: IP as u16,
            outer_ipv6: false,
            udp_src_port: be16(f, UDP),
            payload,
            protocol,
            payload_offset: payload_off as u16,
            payload_len: end.saturating_sub(payload_off) as u16,
            options_offset: FAST_V4_LEN as u16,
            options_len: (payload_off - FAST_V4_LEN.min(payload_off)) as u16,
            options: d.options,
            outer_tos,
            outer_ttl,
            inner,
            ecn_alarm,
        })
    }

    #[inline(always)]
    fn is_local_v4(&self, a: [u8; 4]) -> bool {
        let a = u32::from_ne_bytes(a);
        match self.local_v4.split_first() {
            Some((&first, rest)) => first == a || rest.contains(&a),
            None => false,
        }
    }
    /// The general path: every check in order, the first failure the reason.
    #[inline(never)]
    pub fn decap_general(&self, frame: &[u8]) -> Verdict {
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
                drop_if!(!self.is_local_v4(d), DropReason::NotLocalAddress);
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
        let d = Delivery {
            vni,
            outer_l3: l3 as u16,
            outer_ipv6: matches!(src, IpAddr::V6(_)),
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
        self.finish(frame, payload_off, end, d)
    }

    /// Inner header and RFC 6040 / DSCP / TTL for a data packet whose outer
    /// headers passed; the inner packet is `frame[payload_off..end]`.
    #[inline(always)]
    fn finish(&self, frame: &[u8], payload_off: usize, end: usize, mut d: Delivery) -> Verdict {
        match self.inner_update(frame, payload_off, end, d.payload, d.outer_tos, d.outer_ttl) {
            Ok((inner, alarm)) => {
                d.inner = inner;
                d.ecn_alarm = alarm;
                Verdict::Deliver(d)
            }
            Err(r) => Verdict::Drop(r),
        }
    }

    /// [`inner_update`](Self::inner_update) for the fast path's less common
    /// packets (outer ECN marked, uniform model, IP payload).
    #[inline(never)]
    fn inner_update_out_of_line(
        &self,
        frame: &[u8],
        payload_off: usize,
        end: usize,
        payload: PayloadKind,
        tos: u8,
        ttl: u8,
    ) -> Result<(InnerUpdate, bool), DropReason> {
        self.inner_update(frame, payload_off, end, payload, tos, ttl)
    }

    /// The inner header's update (RFC 6040 ECN, DSCP / TTL model) and the
    /// RFC 6040 alarm, for the inner packet `frame[payload_off..end]` under
    /// outer TOS `tos` and TTL `ttl`.
    #[inline(always)]
    fn inner_update(
        &self,
        frame: &[u8],
        payload_off: usize,
        end: usize,
        payload: PayloadKind,
        tos: u8,
        ttl: u8,
    ) -> Result<(InnerUpdate, bool), DropReason> {
        let Some(inner) = frame.get(payload_off..end) else {
            return Err(DropReason::InnerMalformed);
        };
        // Common case first: untagged inner Ethernet carrying IPv4.
        let ip = match inner.first_chunk::<{ ethernet::HEADER_LEN + ipv4::HEADER_LEN }>() {
            Some(e)
                if payload == PayloadKind::Ethernet
                    && e[12] == 0x08
                    && e[13] == 0x00
                    && e[14] >> 4 == 4 =>
            {
                Some((ethernet::HEADER_LEN, false, e[15], e[22]))
            }
            _ => inner_ip(inner, payload)?,
        };
        let mut u = InnerUpdate::default();
        let (in_tos, in_ttl) = match ip {
            Some((off, v6, t, l)) => {
                u.l3_offset = (payload_off + off) as u16;
                u.ipv6 = v6;
                (t, l)
            }
            None => (0, 0),
        };
        let e = self.ecn_table[usize::from(((in_tos & 3) << 2) | (tos & 3))];
        if e & ECN_DROP != 0 {
            return Err(DropReason::EcnCeOverNotEct);
        }
        if u.l3_offset != 0 {
            let dscp = match self.cfg.dscp {
                QosModel::Pipe => in_tos & 0xfc,
                QosModel::Uniform => tos & 0xfc,
            };
            let new_ttl = match self.cfg.ttl {
                QosModel::Pipe => in_ttl,
                QosModel::Uniform => in_ttl.min(ttl),
            };
            u.tos = dscp | (e & 3);
            u.ttl = new_ttl;
            u.changed = u.tos != in_tos || new_ttl != in_ttl;
        }
        Ok((u, e & ECN_ALARM != 0))
    }

    /// The fast path's option walk: what [`check_options`](Self::check_options)
    /// returns when the options pass, `None` when they do not (the general
    /// path then finds which check fails first, so the checks here need no
    /// order). Out of line: the loop keeps its state in registers instead of
    /// competing with the caller's.
    #[inline(always)]
    fn options_pass(&self, opts: &[u8]) -> Option<OptionsSeen> {
        // Opt Len counts 4-byte words; so do TLV lengths.
        let (words, []) = opts.as_chunks::<4>() else {
            return None;
        };
        let mut known = 0u32;
        // Options in bits 0-7, critical ones in bits 8-15.
        let mut counts = 0u32;
        let mut i = 0usize;
        while let Some(w) = words.get(i) {
            // Class (16 bits), type (8), reserved (3), length in words (5).
            let h = u32::from_be_bytes(*w);
            i += 1 + (h & 0x1f) as usize;
            // The type's critical bit (bit 15) counted in bits 8-15.
            counts += 1 + (h >> 7 & 0x100);
            known |= match self.cfg.registry.known_bit(h) {
                Some(bit) => bit,
                None => self.option_pass_slow(h)?,
            };
        }
        let count = counts & 0xff;
        if i != words.len() || count > u32::from(self.cfg.max_options) {
            return None;
        }
        Some(OptionsSeen {
            count: count as u8,
            critical: (counts >> 8) as u8,
            known,
        })
    }

    /// [`options_pass`](Self::options_pass) for an option header
    /// [`OptionRegistry::known_bit`] does not know: its registry bit (0
    /// for an unknown non-critical option), `None` if it fails.
    #[cold]
    #[inline(never)]
    fn option_pass_slow(&self, h: u32) -> Option<u32> {
        match self.cfg.registry.check_header(h) {
            Some((k, true)) => Some(1u32 << (k & 31)),
            Some((_, false)) => None,
            None if h & 0x8000 != 0 => None,
            None => Some(0),
        }
    }

    /// Walk the option TLVs: structure, count, known lengths, unknown critical.
    #[inline(always)]
    fn check_options(&self, opts: &[u8]) -> Result<OptionsSeen, DropReason> {
        let mut seen = OptionsSeen::default();
        let mut rest = opts;
        while !rest.is_empty() {
            let Some(h) = rest.first_chunk::<{ geneve::OPTION_HEADER_LEN }>() else {
                return Err(DropReason::OptionOverrun);
            };
            // Class (16 bits), type (8), reserved (3), length in words (5).
            let h = u32::from_be_bytes(*h);
            let len = geneve::OPTION_HEADER_LEN + (h & 0x1f) as usize * 4;
            let Some(after) = rest.get(len..) else {
                return Err(DropReason::OptionOverrun);
            };
            rest = after;
            if seen.count == self.cfg.max_options {
                return Err(DropReason::TooManyOptions);
            }
            seen.count += 1;
            let critical = h & u32::from(geneve::OPTION_TYPE_CRITICAL) << 8 != 0;
            match self.cfg.registry.check_header(h) {
                Some((i, true)) => seen.known |= 1u32 << (i & 31),
                Some((_, false)) => return Err(DropReason::KnownOptionBadLength),
                None if critical => return Err(DropReason::UnknownCriticalOption),
                None => {}
            }
            seen.critical += u8::from(critical);
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

/// The inner IP header of a payload of kind `payload`: offset in `inner`,
/// IPv6?, TOS, TTL; `None` for a non-IP Ethernet frame. Out of line: the
/// common case (untagged IPv4) is read directly by the caller.
#[cold]
#[inline(never)]
fn inner_ip(
    inner: &[u8],
    payload: PayloadKind,
) -> Result<Option<(usize, bool, u8, u8)>, DropReason> {
    if payload == PayloadKind::Ethernet && inner.len() < ethernet::HEADER_LEN {
        return Err(DropReason::InnerMalformed);
    }
    let ip = inner_l3(inner, payload)
        .and_then(|(off, v6)| tos_ttl(inner, off, v6).map(|(t, l)| (off, v6, t, l)));
    match ip {
        Some(ip) => Ok(Some(ip)),
        None if payload == PayloadKind::Ethernet => Ok(None),
        None => Err(DropReason::InnerMalformed),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::{
        encap, DscpEncap, EcnEncapMode, EncapTemplate, KnownOption, TtlEncap, TunnelConfig,
        TunnelOption, UdpChecksumTx, VecBuffer,
    };

    const L4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const R4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const L6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const R6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn inner_eth(len: usize, et: u16, b14: u8, tos: u8, ttl: u8) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        if len >= 14 {
            f[12..14].copy_from_slice(&et.to_be_bytes());
        }
        for (i, b) in [(14, b14), (15, tos), (22, ttl)] {
            if let Some(x) = f.get_mut(i) {
                *x = b;
            }
        }
        f
    }

    /// A registered option (class 0x0100, type 0x80, 4 bytes) and an
    /// unknown non-critical one (8 bytes).
    fn two_options() -> Vec<TunnelOption> {
        vec![
            TunnelOption {
                class: 0x0100,
                typ: 0x80,
                data: vec![1; 4],
            },
            TunnelOption {
                class: 0x0102,
                typ: 0x01,
                data: vec![2; 8],
            },
        ]
    }

    fn base_frames() -> Vec<Vec<u8>> {
        let mut inners: Vec<(PayloadKind, Vec<u8>)> = Vec::new();
        for tos in [0u8, 1, 2, 3, 0xb8, 0xbb] {
            inners.push((PayloadKind::Ethernet, inner_eth(64, 0x0800, 0x45, tos, 64)));
        }
        for len in [0, 10, 14, 20, 33, 34, 40] {
            inners.push((PayloadKind::Ethernet, inner_eth(len, 0x0800, 0x45, 3, 9)));
        }
        inners.push((PayloadKind::Ethernet, inner_eth(80, 0x86dd, 0x6b, 0xc0, 2)));
        inners.push((PayloadKind::Ethernet, inner_eth(60, 0x0806, 0, 0, 0)));
        let mut tagged = inner_eth(80, 0x8100, 0, 0, 0);
        tagged[16..20].copy_from_slice(&[0x08, 0x00, 0x45, 0x03]);
        inners.push((PayloadKind::Ethernet, tagged));
        inners.push((
            PayloadKind::Ipv4,
            inner_eth(60, 0x0800, 0x45, 2, 3)[14..].to_vec(),
        ));
        let mut ip6 = vec![0u8; 60];
        ip6[0] = 0x6f;
        ip6[1] = 0xf0;
        ip6[7] = 5;
        inners.push((PayloadKind::Ipv6, ip6));
        let mut out = Vec::new();
        for (kind, inner) in inners {
            for v in 0..6 {
                let v6 = v == 5;
                let (s, d): (IpAddr, IpAddr) = if v6 {
                    (R6.into(), L6.into())
                } else {
                    (R4.into(), L4.into())
                };
                let mut c = TunnelConfig::new(
                    [2, 0, 0, 0, 0, 0xb],
                    [2, 0, 0, 0, 0, 0xa],
                    s,
                    d,
                    Vni::new(0x123456).unwrap(),
                );
                c.payload = kind;
                c.underlay_mtu = 9000;
                match v {
                    1 => {
                        c.options = two_options();
                    }
                    2 => c.udp_checksum = Some(UdpChecksumTx::Compute),
                    3 => {
                        c.vlan = Some(5);
                        c.dscp = DscpEncap::Pipe(10);
                    }
                    4 => {
                        c.ecn = EcnEncapMode::Compatibility;
                        c.ttl = TtlEncap::Pipe(3);
                        c.dscp = DscpEncap::Uniform;
                    }
                    _ => {}
                }
                let t = EncapTemplate::new(&c).unwrap();
                let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
                if encap(&t, &mut b, Some(7)).is_ok() {
                    out.push(b.to_vec());
                }
            }
        }
        out
    }

    fn decapsulators() -> Vec<Decapsulator> {
        let mut out = Vec::new();
        for v in 0..8 {
            let mut c = DecapConfig::new(vec![L4], vec![L6]);
            match v {
                1 => {
                    c.verify_ipv4_checksum = false;
                    c.verify_udp_checksum = false;
                }
                2 => {
                    c.dscp = QosModel::Uniform;
                    c.ttl = QosModel::Uniform;
                }
                3 => {
                    c.registry = OptionRegistry::from_options([KnownOption {
                        class: 0x0100,
                        typ: 0x80,
                        name: "a".into(),
                        len_words: Some(1),
                    }])
                    .unwrap();
                }
                4 => {
                    c.accept_ethernet = false;
                    c.accept_ipv6 = false;
                    c.punt_control = false;
                }
                5 => {
                    c.local_v4 = vec![Ipv4Addr::new(10, 0, 0, 1), L4];
                    c.local_v6 = vec![];
                    c.ipv6_zero_checksum = Ipv6ZeroChecksum::Accept;
                }
                6 => {
                    c.max_options = 1;
                    c.accept_ipv4 = false;
                    c.udp_port = 4789;
                }
                7 => c.local_v4 = vec![],
                _ => {}
            }
            out.push(Decapsulator::new(c));
        }
        out
    }

    /// Recompute the outer IPv4 header checksum (untagged outer only).
    fn fix_ipv4_checksum(f: &mut [u8]) {
        if f.len() < 34 || f[12] != 0x08 || f[13] != 0 {
            return;
        }
        let hl = usize::from(f[14] & 0x0f) * 4;
        if hl < 20 || f.len() < 14 + hl {
            return;
        }
        f[24] = 0;
        f[25] = 0;
        let c = checksum::checksum(&f[14..14 + hl]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn vtep_addresses_are_read_from_the_outer_header() {
        // Untagged and tagged IPv4 (fast and general path) and IPv6 underlays.
        let d = Decapsulator::new(DecapConfig::new(vec![L4], vec![L6]));
        let mut seen = [0u32; 3];
        for f in base_frames() {
            let (Verdict::Deliver(del) | Verdict::Control(del)) = d.decap(&f) else {
                continue;
            };
            let (src, dst): (IpAddr, IpAddr) = if del.outer_ipv6 {
                (R6.into(), L6.into())
            } else {
                (R4.into(), L4.into())
            };
            assert_eq!(del.src_vtep(&f), Some(src));
            assert_eq!(del.dst_vtep(&f), Some(dst));
            // Cut inside the source address: no address, no panic.
            let cut = usize::from(del.outer_l3) + if del.outer_ipv6 { 20 } else { 14 };
            assert_eq!(del.src_vtep(&f[..cut]), None);
            let kind = match (del.outer_ipv6, del.outer_l3) {
                (true, _) => 2,
                (false, 14) => 0,
                _ => 1,
            };
            seen[kind] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }

    /// The fast path's verdict on `f`, checked against the general path
    /// (the one every frame can take, checked against RFC 8926 vectors,
    /// scapy and real captures in tests/): 0 = not taken, 1 = taken by the
    /// one-compare common case, 2 = taken field by field.
    fn check_fast_path(d: &Decapsulator, f: &[u8]) -> usize {
        let want = d.decap_general(f);
        assert_eq!(d.decap(f), want, "{f:02x?}");
        let fast = d.decap_fast(f);
        match fast {
            FastVerdict::General => return 0,
            FastVerdict::Drop(r) => assert_eq!(Verdict::Drop(r), want, "{f:02x?}"),
            FastVerdict::Deliver(fd) => {
                let Verdict::Deliver(full) = want else {
                    panic!("fast path delivers, general says {want:?}: {f:02x?}");
                };
                assert_eq!(d.delivery(f, &fd), want, "{f:02x?}");
                // What a plain VNI uses must be the full delivery's.
                assert_eq!(fd.vni, full.vni.get());
                assert_eq!(fd.payload_offset, u32::from(full.payload_offset));
                let inner_end = usize::from(full.payload_offset) + usize::from(full.payload_len);
                assert_eq!(fd.padding as usize, f.len() - inner_end);
                assert_eq!(fd.options, full.options);
                if fd.inner.changed {
                    assert_eq!(fd.inner, full.inner, "{f:02x?}");
                } else {
                    assert!(!full.inner.changed, "{f:02x?}");
                }
            }
        }
        let common = f
            .first_chunk()
            .is_some_and(|c| d.common.is_some_and(|p| p.matches(c)));
        if common {
            1
        } else {
            2
        }
    }

    /// Recompute the UDP checksum of an untagged IPv6 frame without
    /// extension headers.
    fn fix_udp6_checksum(f: &mut [u8]) {
        if f.len() < 62 || f[12..14] != [0x86, 0xdd] || f[20] != ip_proto::UDP {
            return;
        }
        let pl = usize::from(u16::from_be_bytes([f[18], f[19]]));
        if pl < 8 || f.len() < 54 + pl {
            return;
        }
        f[60] = 0;
        f[61] = 0;
        let src: [u8; 16] = f[22..38].try_into().unwrap();
        let dst: [u8; 16] = f[38..54].try_into().unwrap();
        let c = checksum::l4_checksum_v6(&src, &dst, ip_proto::UDP, &f[54..54 + pl]);
        let c = if c == 0 { 0xffff } else { c };
        f[60..62].copy_from_slice(&c.to_be_bytes());
    }

    /// Whether the IPv6 common path delivered `f`; when it did, the general
    /// path must deliver the same inner frame, with nothing to update.
    fn check_v6_common(d: &Decapsulator, f: &[u8]) -> bool {
        let Some(fd) = d.decap_common_v6(f) else {
            return false;
        };
        let Verdict::Deliver(full) = d.decap_general(f) else {
            panic!("v6 common path delivers, general does not: {f:02x?}");
        };
        assert_eq!(fd.vni, full.vni.get(), "{f:02x?}");
        assert_eq!(
            fd.payload_offset,
            u32::from(full.payload_offset),
            "{f:02x?}"
        );
        let inner_end = usize::from(full.payload_offset) + usize::from(full.payload_len);
        assert_eq!(fd.padding as usize, f.len() - inner_end, "{f:02x?}");
        assert_eq!(fd.options, full.options, "{f:02x?}");
        assert!(!fd.inner.changed && !full.inner.changed, "{f:02x?}");
        true
    }

    /// IPv6 underlay frames (with and without options, zero or computed
    /// UDP checksum), cut short, padded and with every bit pattern of the
    /// headers flipped (checksum fixed or not): the IPv6 common path
    /// delivers only what the general path delivers, the same way.
    #[test]
    fn ipv6_common_path_gives_the_general_paths_verdict() {
        let decs = decapsulators();
        let mut frames: Vec<Vec<u8>> = base_frames()
            .into_iter()
            .filter(|f| f.len() > 14 && f[12..14] == [0x86, 0xdd])
            .collect();
        let mut c = TunnelConfig::new(
            [2, 0, 0, 0, 0, 0xb],
            [2, 0, 0, 0, 0, 0xa],
            R6.into(),
            L6.into(),
            Vni::new(0x123456).unwrap(),
        );
        c.options = two_options();
        let t = EncapTemplate::new(&c).unwrap();
        let inner = inner_eth(64, 0x0800, 0x45, 0, 64);
        let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
        encap(&t, &mut b, Some(7)).unwrap();
        frames.push(b.to_vec());
        for f in frames.clone() {
            let mut z = f;
            z[60..62].fill(0);
            frames.push(z);
        }
        let (mut taken, mut seen) = (0u64, 0u64);
        let mut check = |f: &[u8]| {
            for d in &decs {
                seen += 1;
                taken += u64::from(check_v6_common(d, f));
            }
        };
        for base in &frames {
            check(base);
            for len in 0..base.len() {
                check(&base[..len]);
            }
            let mut padded = base.clone();
            padded.extend_from_slice(&[0; 7]);
            check(&padded);
            for i in 0..base.len().min(120) {
                for x in [0x01u8, 0x02, 0x04, 0x10, 0x20, 0x40, 0x80, 0xff] {
                    let mut f = base.clone();
                    f[i] ^= x;
                    check(&f);
                    fix_udp6_checksum(&mut f);
                    check(&f);
                }
            }
        }
        assert!(taken > 1_000, "{taken} of {seen}");
    }

    /// The IPv4 fast path must give the verdict of the general path for
    /// every frame it accepts.
    #[test]
    fn fast_path_gives_the_general_paths_verdict() {
        let decs = decapsulators();
        let mut taken = [0u64; 3];
        let mut check = |f: &[u8]| {
            for d in &decs {
                taken[check_fast_path(d, f)] += 1;
            }
        };
        for base in base_frames() {
            check(&base);
            for len in 0..base.len() {
                check(&base[..len]);
            }
            let mut padded = base.clone();
            padded.extend_from_slice(&[0; 7]);
            check(&padded);
            // IP and UDP lengths that agree, but leave the Geneve header
            // (or its options) short; the frame padded past them or not.
            if base.len() >= 70 && base[12..14] == [0x08, 0x00] {
                for ulen in [0u16, 7, 8, 12, 15, 16, 17, 20] {
                    for pad in [0usize, 10] {
                        let keep = (34 + usize::from(ulen)).max(42) + pad;
                        let mut f = base[..keep].to_vec();
                        f[16..18].copy_from_slice(&(20 + ulen).to_be_bytes());
                        f[38..40].copy_from_slice(&ulen.to_be_bytes());
                        fix_ipv4_checksum(&mut f);
                        check(&f);
                    }
                }
            }
            for i in 0..base.len().min(140) {
                for x in [0x01u8, 0x02, 0x04, 0x10, 0x20, 0x40, 0x80, 0xff] {
                    let mut f = base.clone();
                    f[i] ^= x;
                    check(&f);
                    fix_ipv4_checksum(&mut f);
                    check(&f);
                }
            }
        }
        let n: u64 = taken.iter().sum();
        assert!(
            taken[1] > 5_000 && taken[2] > 5_000 && taken[0] > 0,
            "{taken:?} of {n}: not taken, common, field by field"
        );
    }

    /// Every outer / inner ECN pair and DSCP / TTL model, with and without
    /// Ethernet padding, options and a UDP checksum: same verdict (RFC
    /// 6040 drop, alarm, inner update) on the fast and general paths.
    #[test]
    fn fast_path_follows_rfc6040_like_the_general_path() {
        let decs = decapsulators();
        let mut taken = [0u64; 3];
        for base in base_frames() {
            if base.len() < 80 || base[12..14] != [0x08, 0x00] {
                continue;
            }
            for outer in 0..4u8 {
                for inner in 0..4u8 {
                    for pad in [0usize, 1, 6] {
                        let mut f = base.clone();
                        f[15] = (f[15] & 0xfc) | outer;
                        // Inner TOS of an inner Ethernet + IPv4 or bare IPv4
                        // payload (options shift it; ECN bits of whatever
                        // byte is there otherwise).
                        let opt = usize::from(f[42] & 0x3f) * 4;
                        let inner_tos = 50 + opt + if f[44..46] == [0x65, 0x58] { 15 } else { 1 };
                        if let Some(b) = f.get_mut(inner_tos) {
                            *b = (*b & 0xfc) | inner;
                        }
                        f.extend(std::iter::repeat_n(0u8, pad));
                        fix_ipv4_checksum(&mut f);
                        // The inner IPv4 checksum is not checked by decap.
                        for d in &decs {
                            taken[check_fast_path(d, &f)] += 1;
                        }
                    }
                }
            }
        }
        assert!(taken[1] > 100 && taken[2] > 100, "{taken:?}");
    }

    /// Options on the fast path: count limit, known lengths, unknown
    /// critical and non-critical, overruns, as the general path decides.
    #[test]
    fn fast_path_checks_options_like_the_general_path() {
        let decs = decapsulators();
        let base = base_frames()
            .into_iter()
            .find(|f| f.len() >= 100 && f[12..14] == [0x08, 0x00] && f[42] & 0x3f == 0)
            .unwrap();
        // (class, type, length words) lists.
        let lists: [&[(u16, u8, u8)]; 8] = [
            &[(0x0100, 0x80, 1)],
            &[(0x0100, 0x80, 2)],
            &[(0x0100, 0x80, 0), (0x0102, 0x01, 1)],
            &[(0x0999, 0x01, 0)],
            &[(0x0999, 0x81, 0)],
            &[(0x0100, 0x00, 3), (0x0100, 0x80, 1), (0x0102, 0x01, 0)],
            &[(0x0102, 0x01, 31)],
            &[(0x0100, 0x80, 1), (0x0100, 0x80, 1)],
        ];
        let mut taken = [0u64; 3];
        for list in lists {
            let mut opts = Vec::new();
            for &(class, typ, words) in list {
                opts.extend_from_slice(&class.to_be_bytes());
                opts.extend_from_slice(&[typ, words]);
                opts.extend(std::iter::repeat_n(0xa5u8, usize::from(words) * 4));
            }
            // As sent, and with Opt Len one word short / long of the TLVs.
            for delta in [0i32, -1, 1] {
                let words = (opts.len() / 4) as i32 + delta;
                if !(0..64).contains(&words) {
                    continue;
                }
                let mut f = base[..50].to_vec();
                f.extend_from_slice(&opts);
                f.extend_from_slice(&base[50..]);
                f[42] = (f[42] & 0xc0) | words as u8;
                let tl = (f.len() - 14) as u16;
                f[16..18].copy_from_slice(&tl.to_be_bytes());
                f[38..40].copy_from_slice(&(tl - 20).to_be_bytes());
                f[40..42].fill(0);
                fix_ipv4_checksum(&mut f);
                for d in &decs {
                    taken[check_fast_path(d, &f)] += 1;
                }
            }
        }
        assert!(taken[1] > 5 && taken[0] > 5, "{taken:?}");
    }

    /// The port's good verdict (RX checksum offload) stands in for the
    /// software check on both fast paths, and only for it: with the outer
    /// checksum broken the fast path gives the intact frame's verdict when
    /// the port vouched for the header, and never delivers otherwise.
    #[test]
    fn port_verified_ipv4_checksum_replaces_the_software_check() {
        let decs = decapsulators();
        let mut vouched = 0;
        for f in base_frames() {
            if f.len() < 34 || f[12..14] != [0x08, 0x00] {
                continue;
            }
            let mut broken = f.clone();
            broken[24] ^= 0x5a;
            for d in &decs {
                let intact = (d.decap_common(&f, false), d.decap_fast_other(&f, false));
                let trusted = (
                    d.decap_common(&broken, true),
                    d.decap_fast_other(&broken, true),
                );
                assert_eq!(intact, trusted, "{f:02x?}");
                if d.cfg.verify_ipv4_checksum {
                    assert!(
                        !matches!(
                            d.decap_common(&broken, false),
                            Some(FastVerdict::Deliver(_))
                        ),
                        "{broken:02x?}"
                    );
                    assert!(!matches!(
                        d.decap_fast_other(&broken, false),
                        FastVerdict::Deliver(_)
                    ));
                    vouched += usize::from(matches!(intact.0, Some(FastVerdict::Deliver(_))));
                }
            }
        }
        assert!(vouched > 10, "{vouched}");
    }

    #[test]
    fn ipv4_header_sum_matches_the_checksum_module() {
        assert_eq!(0xffff_u64.wrapping_mul(INVERSE_0XFFFF), 1);
        let mut f = [0u8; FAST_V4_LEN];
        let mut x = 0x1234_5678u32;
        for _ in 0..20_000 {
            for b in f[14..34].iter_mut() {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (x >> 24) as u8;
            }
            f[14] = 0x45;
            // Half of them with a correct checksum, some all-ones words.
            if x & 1 == 0 {
                f[24] = 0;
                f[25] = 0;
                let c = checksum::checksum(&f[14..34]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
            }
            if x & 6 == 0 {
                f[26..30].fill(0xff);
            }
            let want = checksum::fold(checksum::accumulate(0, &f[14..34])) == 0xffff;
            assert_eq!(ipv4_header_sum_ok(&f), want, "{:02x?}", &f[14..34]);
        }
    }

    #[test]
    fn ecn_table_is_rfc6040() {
        let d = Decapsulator::new(DecapConfig::new(vec![], vec![]));
        for inner in Ecn::ALL {
            for outer in Ecn::ALL {
                let e = d.ecn_table[usize::from((inner.bits() << 2) | outer.bits())];
                match ecn_decap(inner, outer) {
                    EcnDecap::Drop => assert_eq!(e, ECN_DROP),
                    EcnDecap::Forward { ecn, alarm } => {
                        assert_eq!(e & 3, ecn.bits());
                        assert_eq!(e & ECN_ALARM != 0, alarm);
                    }
                }
                // The fast path's shortcut: outer Not-ECT changes nothing.
                if outer == Ecn::NotEct {
                    assert_eq!(e, inner.bits());
                }
            }
        }
    }
}
