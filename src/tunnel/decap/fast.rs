//! The decap fast tier (see [the glossary](crate::tunnel#tiers)): untagged
//! outer IPv4 (IHL 5) or IPv6 (no extension header) read at fixed offsets,
//! against a prebuilt header pattern where it can. It gives exactly the
//! general tier's verdict or declines ([`FastVerdict::General`] / `None`).
//!
//! The patterns are masked 8-byte word compares (load, XOR, AND, one
//! branch for all of them): four words for IPv4, six for IPv6 (whose
//! fixed fields, destination address included, span 58 bytes). Tried
//! against field-by-field compares and kept for both (see BENCHMARKS.md);
//! a compare of the first word alone, to let other EtherTypes leave
//! earlier, cost the IPv4 case more than it saved the IPv6 one.
use super::{Decapsulator, Delivery, DropReason, FastVerdict, InnerUpdate, OptionsSeen};
use crate::tunnel::PayloadKind;
use crate::wire::checksum;
use crate::wire::ethernet::{self, EtherType};
use crate::wire::geneve::{self, Vni};
use crate::wire::{ip_proto, ipv4, ipv6, udp, Encapsulation};

/// Bytes the IPv4 fast tier reads at fixed offsets: untagged Ethernet,
/// IPv4 without options, UDP, Geneve base header.
pub(super) const FAST_V4_LEN: usize =
    ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN + geneve::HEADER_LEN;

/// Offsets in the frame of the fast tier's headers (untagged IPv4, IHL 5).
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
pub(super) struct HeaderPattern {
    want: [u64; 4],
    mask: [u64; 4],
}

impl HeaderPattern {
    const WORDS: [usize; 4] = [12, 20, 30, 38];

    /// From `(frame offset, expected bytes, mask bytes)` fields.
    pub(super) fn new(fields: &[(usize, &[u8], &[u8])]) -> Self {
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

    /// The fields every IPv4 packet of the fast tier has: untagged IPv4 with
    /// IHL 5, not a fragment, UDP to `port`, Geneve version 0 without the
    /// O bit.
    pub(super) fn untagged_v4(port: u16) -> Self {
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

    /// [`untagged_v4`](Self::untagged_v4) sent to `dst` (the first local
    /// address), outer ECN Not-ECT, a zero UDP checksum, carrying
    /// `protocol` (Ethernet, or IPv4 for L3 tunnels).
    pub(super) fn first_address(port: u16, dst: [u8; 4], protocol: u16) -> Self {
        let protocol = protocol.to_be_bytes();
        let port = port.to_be_bytes();
        let mut fields = Self::untagged_v4_fields(&port).to_vec();
        fields.extend_from_slice(&[
            (IP + 1, &[0], &[0x03]),
            (IP + 16, &dst[..], &[0xff; 4][..]),
            (UDP + 6, &[0, 0], &[0xff, 0xff]),
            (GENEVE + 2, &protocol[..], &[0xff, 0xff]),
        ]);
        Self::new(&fields)
    }

    #[inline(always)]
    pub(super) fn matches(&self, f: &[u8; FAST_V4_LEN]) -> bool {
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

/// Bytes the IPv6 fast tier reads at fixed offsets: untagged Ethernet,
/// IPv6 without extension headers, UDP, Geneve base header.
pub(super) const FAST_V6_LEN: usize =
    ethernet::HEADER_LEN + ipv6::HEADER_LEN + udp::HEADER_LEN + geneve::HEADER_LEN;

/// The fixed header fields of an IPv6 fast-tier packet to the first local
/// IPv6 address, compared as six masked 8-byte words (as [`HeaderPattern`]
/// does for IPv4): frame bytes 12..20 (EtherType, version, the traffic
/// class's ECN bits), 20..28 (next header), 38..54 (destination address),
/// 54..62 (UDP destination port) and 62..70 (Geneve version, O bit,
/// protocol type Ethernet). A packet to another local address is checked
/// field by field instead, with the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeaderPatternV6 {
    want: [u64; 6],
    mask: [u64; 6],
}

impl HeaderPatternV6 {
    const WORDS: [usize; 6] = [12, 20, 38, 46, 54, 62];

    pub(super) fn first_address(port: u16, dst: [u8; 16]) -> Self {
        let mut want = [0u8; FAST_V6_LEN];
        let mut mask = [0u8; FAST_V6_LEN];
        let port = port.to_be_bytes();
        let teb = EtherType::TEB.to_be_bytes();
        let fields: [(usize, &[u8], &[u8]); 6] = [
            // EtherType; version 6; ECN Not-ECT (bits 4-5 of byte 1).
            (12, &[0x86, 0xdd, 0x60, 0x00], &[0xff, 0xff, 0xf0, 0x30]),
            (20, &[ip_proto::UDP], &[0xff]),
            (38, &dst, &[0xff; 16]),
            (56, &port, &[0xff, 0xff]),
            // Version 0, O bit clear, Ethernet payload.
            (62, &[0, 0], &[0xc0, geneve::FLAG_OAM]),
            (64, &teb, &[0xff, 0xff]),
        ];
        for (at, w, m) in fields {
            want[at..at + w.len()].copy_from_slice(w);
            mask[at..at + m.len()].copy_from_slice(m);
        }
        let word = |b: &[u8; FAST_V6_LEN], at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            u64::from_ne_bytes(x)
        };
        HeaderPatternV6 {
            want: Self::WORDS.map(|at| word(&want, at) & word(&mask, at)),
            mask: Self::WORDS.map(|at| word(&mask, at)),
        }
    }

    #[inline(always)]
    pub(super) fn matches(&self, f: &[u8; FAST_V6_LEN]) -> bool {
        let mut diff = 0u64;
        for i in 0..6 {
            let at = Self::WORDS[i];
            let mut x = [0u8; 8];
            x.copy_from_slice(&f[at..at + 8]);
            diff |= (u64::from_ne_bytes(x) ^ self.want[i]) & self.mask[i];
        }
        diff == 0
    }
}

#[inline(always)]
fn be16(f: &[u8; FAST_V4_LEN], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
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
pub(super) fn ipv4_header_sum_ok(f: &[u8; FAST_V4_LEN]) -> bool {
    let tail = u64::from(u32::from_ne_bytes([f[30], f[31], f[32], f[33]]));
    let (s, c) = word64(f, IP).overflowing_add(word64(f, IP + 8));
    // No overflow: a sum that wrapped is at most 2^64 - 2.
    let s = s + u64::from(c);
    let (s, c) = s.overflowing_add(tail);
    let s = s + u64::from(c);
    checksum::is_nonzero_multiple_of_0xffff(s)
}

/// The VNI of the Geneve header at 42.
#[inline(always)]
fn vni_of(f: &[u8; FAST_V4_LEN]) -> u32 {
    u32::from_be_bytes([f[GENEVE + 4], f[GENEVE + 5], f[GENEVE + 6], f[GENEVE + 7]]) >> 8
}

/// The UDP datagram at 34 (untagged IPv4, IHL 5) up to `end` verifies.
/// Not inlined: most tunnels send a zero checksum over IPv4.
#[inline(never)]
fn udp_checksum_ok_v4(frame: &[u8], end: usize, ulen: u16) -> bool {
    // Source and destination address (26..34) lie right before the UDP
    // header: with the protocol and UDP length they make the pseudo header
    // (RFC 768), summed in the same pass.
    pseudo_and_datagram_ok(frame, IP + 12, end, u64::from(ulen))
}

/// The UDP datagram of an untagged IPv6 frame without extension headers,
/// up to `end`, verifies against its pseudo header (RFC 8200 section
/// 8.1); `pl_ne`: the payload length (the pseudo header's upper-layer
/// length) as the frame holds it, read as a native `u16`, which the sum's
/// machine order takes as it is. The sum is inlined here (the IPv6 tier is
/// out of the IPv4 express tier's line already).
#[inline(always)]
fn udp_checksum_ok_v6(frame: &[u8], end: usize, pl_ne: u16) -> bool {
    // The addresses (22..54) lie right before the UDP header at 54.
    let next_header = u16::from_ne_bytes([0, ip_proto::UDP]);
    frame.get(ethernet::HEADER_LEN + 8..end).is_some_and(|b| {
        checksum::verifies_inline_from_ne::<96>(u64::from(pl_ne) + u64::from(next_header), b)
    })
}

/// The one's complement sum of `frame[addrs..end]` (the outer source and
/// destination addresses followed by the UDP datagram), the UDP length and
/// the protocol is 0xffff: the datagram's checksum verifies. One pass over
/// the bytes; the sum is never zero (the UDP length is in it twice).
#[inline(always)]
fn pseudo_and_datagram_ok(frame: &[u8], addrs: usize, end: usize, len: u64) -> bool {
    frame.get(addrs..end).is_some_and(|b| {
        checksum::fold(checksum::accumulate(len + u64::from(ip_proto::UDP), b)) == 0xffff
    })
}

/// Whether the inner Ethernet frame at `at` in `frame` carries a VLAN tag
/// (802.1Q, 802.1ad or 0x9100; see the pipeline's `tagged_at`): the TPID
/// in memory order, 0x8100 and 0x9100 in one compare.
#[inline(always)]
fn inner_tagged(frame: &[u8], at: usize) -> bool {
    let Some(&[hi, lo]) = frame.get(at + 12..at + 14) else {
        return false;
    };
    let t = u16::from_ne_bytes([hi, lo]);
    t | u16::from_ne_bytes([0x10, 0]) == u16::from_ne_bytes([0x91, 0])
        || t == u16::from_ne_bytes(EtherType::QINQ.to_be_bytes())
}

/// The delivery of an untagged IPv4 (IHL 5) packet whose first bytes are
/// `f`, its IP packet ending at `end` in a frame of `frame_len` bytes.
#[inline(always)]
fn delivery_v4(
    f: &[u8; FAST_V4_LEN],
    payload: PayloadKind,
    payload_off: usize,
    end: usize,
    frame_len: usize,
    options: OptionsSeen,
    (inner, ecn_alarm): (InnerUpdate, bool),
) -> Delivery {
    Delivery {
        vni: Vni::new(vni_of(f)).unwrap_or_default(),
        encap: Encapsulation::Geneve,
        outer_l3: IP as u16,
        outer_ipv6: false,
        src: Delivery::v4_octets([f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15]]),
        dst: Delivery::v4_octets([f[IP + 16], f[IP + 17], f[IP + 18], f[IP + 19]]),
        udp_src_port: be16(f, UDP),
        payload,
        protocol: be16(f, GENEVE + 2),
        payload_offset: payload_off as u16,
        payload_len: (end - payload_off) as u16,
        padding: (frame_len - end) as u32,
        options_offset: FAST_V4_LEN as u16,
        options_len: (payload_off - FAST_V4_LEN) as u16,
        options,
        outer_tos: f[IP + 1],
        outer_ttl: f[IP + 8],
        inner,
        ecn_alarm,
    }
}

impl Decapsulator {
    /// The IPv4 packets that match the prebuilt header pattern (Ethernet
    /// payload, zero UDP checksum, outer ECN Not-ECT under the pipe model,
    /// the first local address), recognised by one masked compare of four
    /// header words; `None` for any other packet. Its delivery is mostly
    /// constants, so a caller that handles it in a match arm of its own
    /// (not merged with another sub-case's) keeps it in registers.
    /// `hw_ip_sum_good`: the receiving port verified the outer IPv4 header
    /// checksum (see
    /// [`Buffer::rx_ipv4_checksum_good`](crate::tunnel::Buffer::rx_ipv4_checksum_good)).
    #[inline(always)]
    pub fn decap_fast_v4_pattern(&self, frame: &[u8], hw_ip_sum_good: bool) -> Option<FastVerdict> {
        let f = frame.first_chunk::<FAST_V4_LEN>()?;
        if !self.pattern_v4.as_ref()?.matches(f) {
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
        // An inner VLAN tag is the delivery's to refuse: the general tier
        // takes such a packet (read here, while the frame's bytes are at
        // hand, so the express tier need not read them again).
        if inner_tagged(frame, payload_off) {
            return Some(FastVerdict::General);
        }
        Some(FastVerdict::Deliver(delivery_v4(
            f,
            PayloadKind::Ethernet,
            payload_off,
            end,
            frame.len(),
            options,
            (InnerUpdate::default(), false),
        )))
    }

    /// [`decap_fast_v4_pattern`](Self::decap_fast_v4_pattern) for L3
    /// tunnels: the same header pattern with protocol type IPv4 (0x0800).
    /// Under the pipe model and an outer Not-ECT the inner header keeps its
    /// fields (RFC 6040), so the inner packet needs only an IPv4 header of
    /// its own: version 4 and 20 bytes, else the general tier's
    /// `inner_malformed`.
    #[inline(always)]
    pub fn decap_fast_v4_pattern_ip(
        &self,
        frame: &[u8],
        hw_ip_sum_good: bool,
    ) -> Option<FastVerdict> {
        let f = frame.first_chunk::<FAST_V4_LEN>()?;
        if !self.pattern_v4_ip.as_ref()?.matches(f) {
            return None;
        }
        let Some(end) = self.outer_v4_ok(frame, f, hw_ip_sum_good) else {
            return Some(FastVerdict::General);
        };
        let Some((options, payload_off)) = self.fast_options(frame, f, end) else {
            return Some(FastVerdict::General);
        };
        let version = frame.get(payload_off).map_or(0, |b| b >> 4);
        if end - payload_off < ipv4::HEADER_LEN || version != 4 {
            return Some(FastVerdict::Drop(DropReason::InnerMalformed));
        }
        Some(FastVerdict::Deliver(delivery_v4(
            f,
            PayloadKind::Ipv4,
            payload_off,
            end,
            frame.len(),
            options,
            (InnerUpdate::default(), false),
        )))
    }

    /// The IPv6 fast tier, for the worker's express tier: untagged IPv6
    /// without extension headers to a local address, outer ECN Not-ECT
    /// under the pipe model, UDP to the Geneve port with a checksum that
    /// verifies (or a zero one where accepted), Geneve version 0 without
    /// the O bit carrying Ethernet, options that pass. `hw_udp_sum_good`:
    /// the receiving port verified the UDP checksum (see
    /// [`Buffer::rx_outer_udp_checksum_good`](crate::tunnel::Buffer::rx_outer_udp_checksum_good)).
    /// `Some` only for a
    /// delivery, with nothing to update in the inner frame (the general
    /// tier's verdict too, tested in `tests.rs`); `None` for any other
    /// packet, and [`decap_general`](Self::decap_general) decides.
    /// Always inlined: both express loops that try it (the IPv4-first and
    /// the IPv6-first one) keep it in line.
    #[inline(always)]
    pub fn decap_fast_v6(&self, frame: &[u8], hw_udp_sum_good: bool) -> Option<Delivery> {
        const IP6: usize = ethernet::HEADER_LEN;
        const UDP6: usize = IP6 + ipv6::HEADER_LEN;
        const GENEVE6: usize = UDP6 + udp::HEADER_LEN;
        let f = frame.first_chunk::<FAST_V6_LEN>()?;
        let b16 = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        // The fixed fields as one masked compare for the first local
        // address (the pattern exists only under the pipe model with
        // Ethernet accepted), else field by field.
        if !self.pattern_v6.as_ref().is_some_and(|p| p.matches(f)) && !self.fast_v6_fields_ok(f) {
            return None;
        }
        // The payload length (bytes 18..20) as a native u16 (the checksum's
        // seed, see `udp_checksum_ok_v6`) and as the big-endian length.
        let pl_ne = u16::from_ne_bytes(*f[18..20].first_chunk::<2>()?);
        let pl = usize::from(u16::from_be(pl_ne));
        let end = UDP6 + pl;
        let dst = f.get(IP6 + 24..UDP6)?.first_chunk::<16>()?;
        if end > frame.len() || usize::from(b16(UDP6 + 4)) != pl {
            return None;
        }
        // Geneve header inside the UDP datagram (the UDP length says so).
        if pl < udp::HEADER_LEN + geneve::HEADER_LEN {
            return None;
        }
        let udp_ok = if b16(UDP6 + 6) == 0 {
            f[IP6 + 8..IP6 + 24]
                .first_chunk::<16>()
                .is_some_and(|s| self.zero_checksum_v6_ok(s))
        } else {
            !self.cfg.verify_udp_checksum
                || hw_udp_sum_good
                || udp_checksum_ok_v6(frame, end, pl_ne)
        };
        if !udp_ok {
            return None;
        }
        let options_off = GENEVE6 + geneve::HEADER_LEN;
        let payload_off = options_off + usize::from(f[GENEVE6] & 0x3f) * 4;
        // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
        // pipe model the rest: the inner frame needs only its Ethernet header.
        if payload_off + ethernet::HEADER_LEN > end {
            return None;
        }
        let options = match frame.get(options_off..payload_off)? {
            [] => OptionsSeen::default(),
            opts => self.options_pass(opts)?,
        };
        // As in the IPv4 pattern: an inner tag is the general tier's.
        if inner_tagged(frame, payload_off) {
            return None;
        }
        let src = f.get(IP6 + 8..IP6 + 24)?.first_chunk::<16>()?;
        Some(Delivery {
            encap: Encapsulation::Geneve,
            vni: Vni::new(
                u32::from_be_bytes([
                    f[GENEVE6 + 4],
                    f[GENEVE6 + 5],
                    f[GENEVE6 + 6],
                    f[GENEVE6 + 7],
                ]) >> 8,
            )
            .unwrap_or_default(),
            outer_l3: IP6 as u16,
            outer_ipv6: true,
            src: *src,
            dst: *dst,
            udp_src_port: b16(UDP6),
            payload: PayloadKind::Ethernet,
            protocol: EtherType::TEB,
            payload_offset: payload_off as u16,
            payload_len: (end - payload_off) as u16,
            padding: (frame.len() - end) as u32,
            options_offset: options_off as u16,
            options_len: (payload_off - options_off) as u16,
            options,
            outer_tos: ((f[IP6] & 0x0f) << 4) | (f[IP6 + 1] >> 4),
            outer_ttl: f[IP6 + 7],
            inner: InnerUpdate::default(),
            ecn_alarm: false,
        })
    }

    /// The fixed fields of an IPv6 fast-tier packet checked one by one
    /// (what [`HeaderPatternV6`] compares, for any local address):
    /// EtherType, version 6 and ECN Not-ECT (the traffic class's low bits
    /// are bits 4-5 of byte 1), no extension header, UDP to the Geneve
    /// port, Geneve version 0 without the O bit carrying Ethernet, under
    /// the pipe model with Ethernet accepted.
    #[inline(never)]
    pub(super) fn fast_v6_fields_ok(&self, f: &[u8; FAST_V6_LEN]) -> bool {
        const IP6: usize = ethernet::HEADER_LEN;
        const UDP6: usize = IP6 + ipv6::HEADER_LEN;
        const GENEVE6: usize = UDP6 + udp::HEADER_LEN;
        let b16 = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        let dst = f[IP6 + 24..UDP6].first_chunk::<16>();
        self.pipe
            && self.cfg.accept_ethernet
            && b16(12) == EtherType::IPV6
            && f[IP6] >> 4 == 6
            && f[IP6 + 1] & 0x30 == 0
            && f[IP6 + 6] == ip_proto::UDP
            && b16(UDP6 + 2) == self.cfg.udp_port
            && dst.is_some_and(|d| self.local_v6.contains(d))
            && f[GENEVE6] >> 6 == 0
            && f[GENEVE6 + 1] & geneve::FLAG_OAM == 0
            && b16(GENEVE6 + 2) == EtherType::TEB
    }

    /// The options of an IPv4 fast-tier packet whose IP packet ends at
    /// `end`, checked in one pass: what they hold and the inner payload's
    /// offset; `None` (the general tier decides) if they overrun or do not
    /// pass.
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

    /// The IPv4 fast tier for every untagged IPv4 packet (non-zero UDP
    /// checksum, IP payload, another local address, outer ECN marked,
    /// uniform DSCP / TTL model as well as the pattern's packets), field by
    /// field.
    #[inline(always)]
    pub fn decap_fast_v4(&self, frame: &[u8], hw_ip_sum_good: bool) -> FastVerdict {
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

    /// The rest of [`decap_fast_v4`](Self::decap_fast_v4), once the fixed
    /// fields of `f` (the first bytes of `frame`) matched: lengths,
    /// checksums, options, inner header.
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
            && !udp_checksum_ok_v4(frame, end, ulen)
        {
            return General;
        }
        let Some((options, payload_off)) = self.fast_options(frame, f, end) else {
            return General;
        };
        let tos = f[IP + 1];
        let (inner, alarm) = if tos & 3 == 0 && self.pipe && payload == PayloadKind::Ethernet {
            // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
            // pipe model the rest: nothing to read but the inner length.
            if end - payload_off < ethernet::HEADER_LEN {
                return FastVerdict::Drop(DropReason::InnerMalformed);
            }
            (InnerUpdate::default(), false)
        } else {
            match self.inner_update_rare(frame, payload_off, end, payload, tos, f[IP + 8]) {
                Ok(x) => x,
                Err(r) => return FastVerdict::Drop(r),
            }
        };
        FastVerdict::Deliver(delivery_v4(
            f,
            payload,
            payload_off,
            end,
            frame.len(),
            options,
            (inner, alarm),
        ))
    }
}
