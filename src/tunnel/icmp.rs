//! ICMP replies for inner packets that exceed the tunnel MTU (RFC 8926
//! section 4.4.1): ICMPv4 Fragmentation Needed (RFC 1191) for IPv4 with DF,
//! ICMPv6 Packet Too Big (RFC 8201) for IPv6. Built off the hot path, into a
//! caller-provided buffer (no allocation).
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{inner_l3, PayloadKind};
use crate::wire::icmpv4::msg::CODE_FRAG_NEEDED;
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::wire::ipv6::{Ipv6Packet, Ipv6Repr};
use crate::wire::{ip_proto, Icmpv4Repr, Icmpv6Repr, Result, WireError};

/// IPv6 minimum MTU: a PTB message must fit in it.
const IPV6_MIN_MTU: usize = 1280;

/// Build the reply to `inner` (a packet `encap` refused with
/// `EncapError::TooBig { mtu }`) into `out`, in the same format as `inner`
/// (with a MAC-swapped copy of its Ethernet header in L2 mode). `src_v4` /
/// `src_v6` are the gateway's addresses the reply comes from.
///
/// Returns the reply length, or `Err(Malformed)` when no ICMP is due (not
/// IP, IPv4 without DF, or an ICMP error itself would be answered).
pub fn too_big_reply(
    inner: &[u8],
    kind: PayloadKind,
    mtu: u16,
    src_v4: Ipv4Addr,
    src_v6: Ipv6Addr,
    out: &mut [u8],
) -> Result<usize> {
    let (l3, v6) = inner_l3(inner, kind).ok_or(WireError::Malformed)?;
    let ip = inner.get(l3..).ok_or(WireError::Truncated)?;
    let eth = if l3 > 0 {
        let o = out.get_mut(..l3).ok_or(WireError::BufferTooSmall)?;
        o.copy_from_slice(&inner[..l3]);
        o[..6].copy_from_slice(&inner[6..12]);
        o[6..12].copy_from_slice(&inner[..6]);
        l3
    } else {
        0
    };
    let out = out.get_mut(eth..).ok_or(WireError::BufferTooSmall)?;
    if v6 {
        // The inner view needs its payload length within the buffer; an
        // oversize packet always has it.
        let p = Ipv6Packet::new_checked(ip)?;
        if p.next_header() == ip_proto::ICMPV6 && p.payload().first().is_some_and(|t| *t < 128) {
            return Err(WireError::Malformed);
        }
        let quote_len = ip.len().min(IPV6_MIN_MTU - 40 - 8);
        let icmp = Icmpv6Repr::PacketTooBig {
            mtu: u32::from(mtu),
            data: &ip[..quote_len],
        };
        let src = src_v6.octets();
        let dst = p.src();
        let n = icmp.buffer_len();
        Ipv6Repr {
            src,
            dst,
            next_header: ip_proto::ICMPV6,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            payload_len: n as u16,
        }
        .emit(out)?;
        icmp.emit(
            &src,
            &dst,
            out.get_mut(40..).ok_or(WireError::BufferTooSmall)?,
        )?;
        Ok(eth + 40 + n)
    } else {
        let p = Ipv4Packet::new_checked(ip)?;
        if !p.dont_frag() || p.is_fragment() && p.frag_offset() != 0 {
            return Err(WireError::Malformed);
        }
        if p.protocol() == ip_proto::ICMP
            && p.payload().first().is_some_and(|t| ![0, 8].contains(t))
        {
            return Err(WireError::Malformed);
        }
        let quote_len = (p.header_len() + 8).min(ip.len());
        let icmp = Icmpv4Repr::DstUnreachable {
            code: CODE_FRAG_NEEDED,
            next_hop_mtu: mtu,
            data: &ip[..quote_len],
        };
        let n = icmp.buffer_len();
        Ipv4Repr {
            src: src_v4.octets(),
            dst: p.src(),
            protocol: ip_proto::ICMP,
            tos: 0xc0,
            ttl: 64,
            ident: 0,
            dont_frag: false,
            payload_len: n as u16,
        }
        .emit(out)?;
        icmp.emit(out.get_mut(20..).ok_or(WireError::BufferTooSmall)?)?;
        Ok(eth + 20 + n)
    }
}
