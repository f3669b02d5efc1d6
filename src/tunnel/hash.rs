//! Inner-flow hash for the outer UDP source port (RFC 8926 section 3.3).
//!
//! Deterministic (no per-process seed), so a flow keeps its port across
//! restarts and workers: the 5-tuple where the inner packet has one (TCP,
//! UDP, SCTP, not a non-first fragment), else the addresses and protocol;
//! for non-IP frames the MAC addresses and EtherType.
use crate::wire::ethernet::{l3_offset, EtherType};
use crate::wire::{ip_proto, ipv6};

use super::PayloadKind;

/// Two 64-bit words to 32 well-mixed bits with one 64x64->128 multiply,
/// folded (the "mum" step of wyhash): every input bit reaches the port
/// bits, cheaper than a murmur finaliser.
#[inline]
fn mix(a: u64, b: u64) -> u32 {
    let p = u128::from(a ^ 0xa076_1d64_78bd_642f) * u128::from(b ^ 0xe703_7ed1_a0b4_28db);
    let h = (p >> 64) as u64 ^ p as u64;
    (h ^ (h >> 32)) as u32
}

#[inline]
fn be64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off + 8)?;
    Some(u64::from_be_bytes([
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ]))
}

#[inline]
fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Protocols whose first 4 bytes are source and destination ports.
const HAS_PORTS: [bool; 256] = {
    let mut t = [false; 256];
    t[ip_proto::TCP as usize] = true;
    t[ip_proto::UDP as usize] = true;
    t[ip_proto::SCTP as usize] = true;
    t
};

#[inline]
fn has_ports(p: u8) -> bool {
    HAS_PORTS[usize::from(p)]
}

#[inline(always)]
pub(crate) fn hash_ipv4(ip: &[u8]) -> Option<u32> {
    let v = *ip.first()?;
    if v >> 4 != 4 {
        return None;
    }
    let hl = usize::from(v & 0x0f) * 4;
    let addrs = be64(ip, 12)?;
    let proto = *ip.get(9)?;
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
    let ports = if has_ports(proto) && frag == 0 {
        be32(ip, hl).unwrap_or(0)
    } else {
        0
    };
    Some(mix(addrs, (u64::from(proto) << 32) | u64::from(ports)))
}

/// [`hash_ipv4`] of an IPv4 header without options (IHL 5) with its
/// first 4 bytes of payload (the ports) at hand: the same value, the ports
/// read at a fixed offset with no bounds check (for the encap fast tier,
/// which has checked those 24 bytes already).
#[inline(always)]
pub(crate) fn hash_ipv4_ihl5(ip: &[u8; 24]) -> u32 {
    let [a, b, c, d, e, f, g, h] = [
        ip[12], ip[13], ip[14], ip[15], ip[16], ip[17], ip[18], ip[19],
    ];
    let addrs = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
    let proto = ip[9];
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
    let ports = if has_ports(proto) && frag == 0 {
        u32::from_be_bytes([ip[20], ip[21], ip[22], ip[23]])
    } else {
        0
    };
    mix(addrs, (u64::from(proto) << 32) | u64::from(ports))
}

#[inline]
fn hash_ipv6(ip: &[u8]) -> Option<u32> {
    if *ip.first()? >> 4 != 6 {
        return None;
    }
    let s = be64(ip, 8)? ^ be64(ip, 16)?.rotate_left(17);
    let d = be64(ip, 24)? ^ be64(ip, 32)?.rotate_left(17);
    let mut nh = *ip.get(6)?;
    let mut ports = 0u32;
    if let Some(payload) = ip.get(ipv6::HEADER_LEN..) {
        if let Ok(u) = ipv6::walk_ext(payload, nh) {
            nh = u.protocol;
            if has_ports(nh) && !u.later_fragment {
                ports = be32(payload, u.offset).unwrap_or(0);
            }
        }
    }
    Some(mix(
        s ^ d.rotate_left(31),
        (u64::from(nh) << 32) | u64::from(ports),
    ))
}

/// Hash of the flow an inner packet belongs to.
#[inline(always)]
pub fn inner_flow_hash(inner: &[u8], kind: PayloadKind) -> u32 {
    let h = match kind {
        PayloadKind::Ipv4 => hash_ipv4(inner),
        PayloadKind::Ipv6 => hash_ipv6(inner),
        PayloadKind::Ethernet => match l3_offset(inner) {
            Some((EtherType::IPV4, off)) => inner.get(off..).and_then(hash_ipv4),
            Some((EtherType::IPV6, off)) => inner.get(off..).and_then(hash_ipv6),
            _ => None,
        },
    };
    match h {
        Some(h) => h,
        None => {
            let macs_a = be64(inner, 0).unwrap_or(0);
            let macs_b = be32(inner, 8).unwrap_or(0);
            let et = inner
                .get(12..14)
                .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]));
            mix(macs_a, (u64::from(macs_b) << 16) | u64::from(et))
        }
    }
}

/// Map a hash onto `base ..= base + span - 1` (multiply-shift, no division).
#[inline]
pub fn port_from_hash(hash: u32, base: u16, span: u32) -> u16 {
    base.wrapping_add(((u64::from(hash) * u64::from(span)) >> 32) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-offset hash is `hash_ipv4` for every header without
    /// options: random headers, the protocols with and without ports,
    /// fragments and not.
    #[test]
    fn ihl5_hash_equals_the_general_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..20_000u32 {
            let mut h = [0u8; 24];
            for b in h.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            h[0] = 0x45;
            h[9] = [ip_proto::TCP, ip_proto::UDP, ip_proto::SCTP, 1, h[9]][(i % 5) as usize];
            if i % 3 == 0 {
                h[6] &= 0xe0;
                h[7] = 0;
            }
            assert_eq!(Some(hash_ipv4_ihl5(&h)), hash_ipv4(&h), "{h:02x?}");
        }
    }

    fn frame(proto: u8, frag: u16, src: [u8; 4], dst: [u8; 4], ports: [u8; 4]) -> [u8; 38] {
        let mut e = [0u8; 38];
        e[12..14].copy_from_slice(&[0x08, 0x00]);
        e[14] = 0x45;
        e[20..22].copy_from_slice(&frag.to_be_bytes());
        e[23] = proto;
        e[26..30].copy_from_slice(&src);
        e[30..34].copy_from_slice(&dst);
        e[34..38].copy_from_slice(&ports);
        e
    }

    #[test]
    fn flows_spread_over_the_source_port_range() {
        // 256 UDP flows that differ only in the source port, and 256 that
        // differ only in the destination address: the RFC 8926 entropy must
        // reach the outer port (multiply-shift onto 49152..65535).
        for vary_port in [true, false] {
            let mut ports = std::collections::HashSet::new();
            for i in 0..256u16 {
                let (p, d) = if vary_port {
                    ((1024 + i).to_be_bytes(), [198, 19, 1, 1])
                } else {
                    (1024u16.to_be_bytes(), [198, 19, (i >> 8) as u8, i as u8])
                };
                let e = frame(17, 0, [198, 19, 0, 1], d, [p[0], p[1], 0x13, 0x89]);
                let h = inner_flow_hash(&e, PayloadKind::Ethernet);
                ports.insert(port_from_hash(h, 49152, 16384));
            }
            assert!(ports.len() > 240, "only {} distinct ports", ports.len());
        }
    }
}
