//! Software TCP segmentation of inner frames too big for the tunnel MTU, and
//! the metadata for the NIC's Geneve TSO when the port has it.
//!
//! An inner Ethernet (+ 802.1Q) / IPv4 or IPv6 / TCP frame whose
//! encapsulation would exceed the tunnel MTU is cut into full inner frames
//! of at most [`EncapTemplate::max_inner_len`] bytes, the way Linux GSO and
//! DPDK's `rte_gso` do it: MSS = what fits after the inner headers; each
//! segment gets its IPv4 total length, ID `id + i` and header checksum (or
//! IPv6 payload length), TCP sequence number advanced by `i * MSS`, FIN and
//! PSH only on the last segment, CWR only on the first, and a recomputed
//! TCP checksum. Each segment is then encapsulated with the ordinary
//! template, so every Geneve option is in every segment.
//!
//! Not segmented (the caller keeps its counted `encap_too_big` drop): non-TCP
//! payloads, IPv4 fragments, IPv6 with extension headers, malformed headers.
//! Nothing here allocates: segments are written into caller-provided slices.
//!
//! [`EncapTemplate::max_inner_len`]: super::EncapTemplate::max_inner_len
use super::{inner_l3, PayloadKind};
use crate::wire::{checksum, ip_proto};

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Why a too-big inner frame cannot be segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    /// Not IPv4/IPv6 carrying TCP directly (incl. IPv6 extension headers).
    NotTcp,
    /// An IPv4 fragment: TCP segmentation does not apply.
    Fragment,
    /// Truncated or inconsistent IP/TCP headers.
    Malformed,
    /// The tunnel MTU leaves no room for TCP payload after the headers.
    NoRoomForPayload,
}

/// How one inner TCP frame is cut: computed by [`TcpSegmentation::plan`],
/// then [`TcpSegmentation::write`] fills segment `i` into a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegmentation {
    /// Offset of the inner IP header.
    l3: usize,
    ipv6: bool,
    /// Offset of the TCP header.
    l4: usize,
    /// Inner headers: Ethernet (+ tag) + IP + TCP.
    hdr_len: usize,
    /// TCP payload bytes of the whole frame (IP padding excluded).
    payload_len: usize,
    mss: usize,
}

impl TcpSegmentation {
    /// Plan segments of at most `max_inner` bytes (headers included) for
    /// `inner`, a frame of kind `kind` (what the tunnel carries).
    pub fn plan(
        inner: &[u8],
        kind: PayloadKind,
        max_inner: usize,
    ) -> Result<TcpSegmentation, SegmentError> {
        let (l3, ipv6) = inner_l3(inner, kind).ok_or(SegmentError::NotTcp)?;
        let ip = inner.get(l3..).ok_or(SegmentError::Malformed)?;
        let (ip_hlen, ip_end) = if ipv6 {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return Err(SegmentError::Malformed);
            }
            if ip[6] != ip_proto::TCP {
                return Err(SegmentError::NotTcp);
            }
            (40, 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])))
        } else {
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return Err(SegmentError::Malformed);
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ihl < 20 || ip.len() < ihl {
                return Err(SegmentError::Malformed);
            }
            if ip[9] != ip_proto::TCP {
                return Err(SegmentError::NotTcp);
            }
            // MF set or a non-zero offset.
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return Err(SegmentError::Fragment);
            }
            (ihl, usize::from(u16::from_be_bytes([ip[2], ip[3]])))
        };
        if ip_end > ip.len() || ip_end < ip_hlen + 20 {
            return Err(SegmentError::Malformed);
        }
        let l4 = l3 + ip_hlen;
        let doff = usize::from(inner[l4 + 12] >> 4) * 4;
        if doff < 20 || ip_hlen + doff > ip_end {
            return Err(SegmentError::Malformed);
        }
        let hdr_len = l4 + doff;
        let mss = max_inner
            .checked_sub(hdr_len)
            .filter(|&m| m > 0)
            .ok_or(SegmentError::NoRoomForPayload)?;
        Ok(TcpSegmentation {
            l3,
            ipv6,
            l4,
            hdr_len,
            payload_len: l3 + ip_end - hdr_len,
            mss,
        })
    }

    /// Number of segments (at least 1).
    pub fn count(&self) -> usize {
        self.payload_len.div_ceil(self.mss).max(1)
    }

    /// TCP payload bytes per segment (all but the last carry exactly this).
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Inner header bytes: Ethernet (+ tag) + IP + TCP.
    pub fn header_len(&self) -> usize {
        self.hdr_len
    }

    /// Offset of the inner IP header and of the TCP header.
    pub fn l3_l4(&self) -> (usize, usize) {
        (self.l3, self.l4)
    }

    /// True when the inner IP is IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// The whole inner frame's length without IP padding.
    pub fn frame_len(&self) -> usize {
        self.hdr_len + self.payload_len
    }

    /// Bytes of segment `i` (0 when `i >= count()`).
    pub fn segment_len(&self, i: usize) -> usize {
        let start = i.saturating_mul(self.mss);
        if i >= self.count() {
            return 0;
        }
        self.hdr_len + (self.payload_len - start).min(self.mss)
    }

    /// Write segment `i` of `inner` (the frame this plan was made for) into
    /// the front of `out`; returns its length, or `None` when `i` is out of
    /// range, `inner` is not that frame's size, or `out` is too short.
    pub fn write(&self, inner: &[u8], i: usize, out: &mut [u8]) -> Option<usize> {
        let len = self.segment_len(i);
        if len == 0 || inner.len() < self.frame_len() || out.len() < len {
            return None;
        }
        let n = len - self.hdr_len;
        let start = self.hdr_len + i * self.mss;
        let out = &mut out[..len];
        out[..self.hdr_len].copy_from_slice(&inner[..self.hdr_len]);
        out[self.hdr_len..].copy_from_slice(&inner[start..start + n]);
        let (l3, l4) = (self.l3, self.l4);
        let l4_len = len - l4;
        if self.ipv6 {
            out[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        } else {
            let total = (len - l3) as u16;
            out[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            let id = u16::from_be_bytes([out[l3 + 4], out[l3 + 5]]).wrapping_add(i as u16);
            out[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
            out[l3 + 10] = 0;
            out[l3 + 11] = 0;
            let c = checksum::checksum(&out[l3..l4]);
            out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        let tcp = &mut out[l4..];
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]])
            .wrapping_add((i * self.mss) as u32);
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 != self.count() {
            tcp[13] &= !(TCP_FIN | TCP_PSH);
        }
        if i != 0 {
            tcp[13] &= !TCP_CWR;
        }
        tcp[16] = 0;
        tcp[17] = 0;
        let c = !checksum::fold(checksum::accumulate(
            self.pseudo_sum(out, l4_len),
            &out[l4..],
        ));
        out[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        Some(len)
    }

    /// The TCP pseudo-header sum (unfolded) of the frame in `f` with TCP
    /// length `l4_len` (0 gives DPDK's TSO seed, which omits the length).
    fn pseudo_sum(&self, f: &[u8], l4_len: usize) -> u64 {
        let l3 = self.l3;
        if self.ipv6 {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&f[l3 + 8..l3 + 24]);
            d.copy_from_slice(&f[l3 + 24..l3 + 40]);
            checksum::pseudo_header_v6(&s, &d, ip_proto::TCP, l4_len as u32)
        } else {
            let s = [f[l3 + 12], f[l3 + 13], f[l3 + 14], f[l3 + 15]];
            let d = [f[l3 + 16], f[l3 + 17], f[l3 + 18], f[l3 + 19]];
            checksum::pseudo_header_v4(&s, &d, ip_proto::TCP, l4_len as u16)
        }
    }

    /// Prepare `inner` (this plan's frame) for the NIC's TSO, as DPDK
    /// requires: IPv4 header checksum 0 (the NIC writes it per segment) and
    /// the TCP checksum field = the pseudo-header sum without the length,
    /// folded, not complemented. Returns false when `inner` is too short.
    pub fn prepare_for_tso(&self, inner: &mut [u8]) -> bool {
        if inner.len() < self.hdr_len {
            return false;
        }
        if !self.ipv6 {
            inner[self.l3 + 10] = 0;
            inner[self.l3 + 11] = 0;
        }
        let seed = checksum::fold(self.pseudo_sum(inner, 0));
        inner[self.l4 + 16..self.l4 + 18].copy_from_slice(&seed.to_be_bytes());
        true
    }
}

/// Per-packet metadata of a Geneve packet the NIC segments (Geneve TSO):
/// the DPDK mbuf length fields (`outer_l2_len`, `outer_l3_len`, and
/// `l2_len` covering outer UDP, Geneve with its options and the inner
/// Ethernet header) and what the flags need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsoOffload {
    /// Outer Ethernet (+ 802.1Q).
    pub outer_l2_len: u8,
    /// Outer IP header (20 or 40).
    pub outer_l3_len: u16,
    /// UDP + Geneve with options + inner Ethernet (+ tag): at most 127.
    pub l2_len: u8,
    /// Inner IP header.
    pub l3_len: u16,
    /// Inner TCP header.
    pub l4_len: u8,
    /// Inner TCP payload per segment.
    pub tso_segsz: u16,
    /// `OUTER_IPV6` instead of `OUTER_IPV4 | OUTER_IP_CKSUM`.
    pub outer_ipv6: bool,
    /// `IPV6` instead of `IPV4 | IP_CKSUM`.
    pub inner_ipv6: bool,
}

impl TsoOffload {
    /// The metadata for a packet encapsulated with a template whose outer
    /// Ethernet is `outer_l2` bytes, outer IP `outer_l3`, UDP + Geneve with
    /// options `tunnel_len`, and whose inner frame is cut by `plan`. `None`
    /// when a field does not fit the mbuf's bit widths (l2_len 7 bits).
    pub fn new(
        outer_l2: usize,
        outer_l3: usize,
        tunnel_len: usize,
        outer_ipv6: bool,
        plan: &TcpSegmentation,
    ) -> Option<TsoOffload> {
        let (l3, l4) = plan.l3_l4();
        let l2_len = tunnel_len + l3;
        if l2_len > 127 || outer_l2 > 127 || outer_l3 > 511 {
            return None;
        }
        Some(TsoOffload {
            outer_l2_len: outer_l2 as u8,
            outer_l3_len: outer_l3 as u16,
            l2_len: l2_len as u8,
            l3_len: (l4 - l3) as u16,
            l4_len: (plan.header_len() - l4) as u8,
            tso_segsz: u16::try_from(plan.mss()).ok()?,
            outer_ipv6,
            inner_ipv6: plan.is_ipv6(),
        })
    }

    /// Bytes of headers the NIC replicates into every segment.
    pub fn header_len(&self) -> usize {
        usize::from(self.outer_l2_len)
            + usize::from(self.outer_l3_len)
            + usize::from(self.l2_len)
            + usize::from(self.l3_len)
            + usize::from(self.l4_len)
    }
}

/// What a NIC doing Geneve TSO per `o` puts on the wire for `frame` (an
/// encapsulated packet prepared by the TSO path), in software: segment the
/// inner frame, copy the outer headers into every segment and fix the outer
/// IP length/checksum and UDP length (the outer UDP checksum must be zero).
/// Calls `emit` with each segment. The reference the hardware path is
/// tested against; returns false when the metadata does not fit the frame.
pub fn emulate_geneve_tso(frame: &[u8], o: &TsoOffload, mut emit: impl FnMut(&[u8])) -> bool {
    let ol3 = usize::from(o.outer_l2_len);
    let udp = ol3 + usize::from(o.outer_l3_len);
    let hdr = o.header_len();
    if frame.len() < hdr || usize::from(o.l2_len) < 8 {
        return false;
    }
    // The inner frame starts after UDP + Geneve: l2_len less the inner L2.
    let (gen_len, inner_kind) = {
        let g = udp + 8;
        if frame.len() < g + 8 {
            return false;
        }
        let opt = usize::from(frame[g] & 0x3f) * 4;
        let kind = match u16::from_be_bytes([frame[g + 2], frame[g + 3]]) {
            0x6558 => PayloadKind::Ethernet,
            0x0800 => PayloadKind::Ipv4,
            0x86dd => PayloadKind::Ipv6,
            _ => return false,
        };
        (8 + opt, kind)
    };
    let inner_start = udp + 8 + gen_len;
    let inner = &frame[inner_start..];
    let max_inner = hdr - inner_start + usize::from(o.tso_segsz);
    let Ok(plan) = TcpSegmentation::plan(inner, inner_kind, max_inner) else {
        return false;
    };
    if plan.mss() != usize::from(o.tso_segsz) {
        return false;
    }
    // A reference for tests, not the data path: one allocation is fine.
    let mut seg = vec![0u8; inner_start + plan.segment_len(0)];
    for i in 0..plan.count() {
        seg[..inner_start].copy_from_slice(&frame[..inner_start]);
        let Some(n) = plan.write(inner, i, &mut seg[inner_start..]) else {
            return false;
        };
        let total = inner_start + n;
        let udp_len = (total - udp) as u16;
        seg[udp + 4..udp + 6].copy_from_slice(&udp_len.to_be_bytes());
        if o.outer_ipv6 {
            seg[ol3 + 4..ol3 + 6].copy_from_slice(&udp_len.to_be_bytes());
        } else {
            let ip_len = (total - ol3) as u16;
            seg[ol3 + 2..ol3 + 4].copy_from_slice(&ip_len.to_be_bytes());
            seg[ol3 + 10] = 0;
            seg[ol3 + 11] = 0;
            let c = checksum::checksum(&seg[ol3..udp]);
            seg[ol3 + 10..ol3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        emit(&seg[..total]);
    }
    true
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
