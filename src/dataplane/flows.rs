//! Flow-id copy: the value of a flow-id option seen on a decapsulated packet
//! is remembered per inner flow and added to the packets of the reply
//! direction (as Open vSwitch uses flow ids for flow tracking).
//!
//! The table is a lock-free concurrent map (papaya): workers only read it;
//! the control thread inserts (from workers' events) and expires entries, so
//! no worker allocates or locks per packet.
use std::net::IpAddr;

use crate::wire::ethernet::{l3_offset, EtherType};
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::Ipv6Packet;

/// An inner flow in the direction it was first seen (decap side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    /// The key of the opposite direction.
    pub fn reversed(self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// Most bytes a flow-id option carries.
pub const MAX_FLOW_ID: usize = 124;

/// A flow-id value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowId {
    pub len: u8,
    pub data: [u8; MAX_FLOW_ID],
}

impl FlowId {
    pub fn new(v: &[u8]) -> Option<FlowId> {
        if v.len() > MAX_FLOW_ID {
            return None;
        }
        let mut data = [0u8; MAX_FLOW_ID];
        data[..v.len()].copy_from_slice(v);
        Some(FlowId {
            len: v.len() as u8,
            data,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

pub type FlowTable = papaya::HashMap<FlowKey, FlowId>;

/// The 5-tuple of an IP packet at `l3` in `frame`, read through the checked
/// `wire` views (IPv6 extension headers walked); ports are 0 for protocols
/// without them and for non-first fragments.
pub fn key_at(frame: &[u8], l3: usize) -> Option<FlowKey> {
    let ip = frame.get(l3..)?;
    let (src, dst, proto, l4) = match ip.first()? >> 4 {
        4 => {
            let p = Ipv4Packet::new_checked(ip).ok()?;
            let first = p.frag_offset() == 0;
            let l4 = ip.get(p.header_len()..).filter(|_| first);
            (
                IpAddr::from(p.src()),
                IpAddr::from(p.dst()),
                p.protocol(),
                l4,
            )
        }
        6 => {
            let p = Ipv6Packet::new_checked(ip).ok()?;
            let up = p.upper_layer().ok()?;
            let l4 = ip.get(up.offset..).filter(|_| !up.later_fragment);
            (
                IpAddr::from(p.src()),
                IpAddr::from(p.dst()),
                up.protocol,
                l4,
            )
        }
        _ => return None,
    };
    let (sport, dport) = match (proto, l4) {
        (6 | 17 | 132, Some(l4)) if l4.len() >= 4 => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        ),
        _ => (0, 0),
    };
    Some(FlowKey {
        src,
        dst,
        proto,
        sport,
        dport,
    })
}

/// The 5-tuple of an Ethernet frame's IP packet.
pub fn key_of_ethernet(frame: &[u8]) -> Option<FlowKey> {
    match l3_offset(frame)? {
        (EtherType::IPV4 | EtherType::IPV6, off) => key_at(frame, off),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_ipv4_and_ipv6_and_their_reverse() {
        let mut v4 = vec![0u8; 14 + 28];
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        v4[14] = 0x45;
        v4[16..18].copy_from_slice(&28u16.to_be_bytes()); // total length
        v4[14 + 9] = 17;
        v4[26..30].copy_from_slice(&[198, 19, 0, 1]);
        v4[30..34].copy_from_slice(&[198, 19, 0, 2]);
        v4[34..36].copy_from_slice(&1000u16.to_be_bytes());
        v4[36..38].copy_from_slice(&53u16.to_be_bytes());
        let k = key_of_ethernet(&v4).unwrap();
        assert_eq!(
            (
                k.src.to_string(),
                k.dst.to_string(),
                k.proto,
                k.sport,
                k.dport
            ),
            ("198.19.0.1".into(), "198.19.0.2".into(), 17, 1000, 53)
        );
        assert_eq!(k.reversed().reversed(), k);
        assert_eq!(k.reversed().sport, 53);
        // Truncated or non-IP: no key, no panic.
        for n in 0..v4.len() {
            let _ = key_of_ethernet(&v4[..n]);
        }
        let mut v6 = vec![0u8; 40 + 8];
        v6[0] = 0x60;
        v6[4..6].copy_from_slice(&8u16.to_be_bytes()); // payload length
        v6[6] = 6;
        v6[40..42].copy_from_slice(&443u16.to_be_bytes());
        let k6 = key_at(&v6, 0).unwrap();
        assert_eq!((k6.proto, k6.sport), (6, 443));
        // A hop-by-hop header before TCP: the key names TCP and its ports.
        let mut hbh = vec![0u8; 40 + 8 + 8];
        hbh[0] = 0x60;
        hbh[4..6].copy_from_slice(&16u16.to_be_bytes());
        hbh[6] = 0; // hop-by-hop
        hbh[40] = 6; // then TCP
        hbh[48..50].copy_from_slice(&22u16.to_be_bytes());
        let kh = key_at(&hbh, 0).unwrap();
        assert_eq!((kh.proto, kh.sport), (6, 22));
    }

    #[test]
    fn flow_ids_hold_up_to_124_bytes() {
        assert_eq!(FlowId::new(&[1, 2, 3, 4]).unwrap().bytes(), &[1, 2, 3, 4]);
        assert!(FlowId::new(&[0; 125]).is_none());
    }
}
