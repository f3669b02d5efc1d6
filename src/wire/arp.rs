//! ARP for Ethernet / IPv4 (RFC 826).
//!
//! ```text
//! | HTYPE=1 (2) | PTYPE=0x0800 (2) | HLEN=6 | PLEN=4 | OPER (2) |
//! | SHA (6) | SPA (4) | THA (6) | TPA (4) |
//! ```
use super::{arr4, arr6, rd16, wr16, MacAddr, Result, WireError};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
    Other(u16),
}

impl From<u16> for ArpOp {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            x => ArpOp::Other(x),
        }
    }
}

impl From<ArpOp> for u16 {
    fn from(v: ArpOp) -> u16 {
        match v {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
            ArpOp::Other(x) => x,
        }
    }
}

/// A checked view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Checks the length and that the packet is Ethernet (1) / IPv4 (0x0800) with 6/4 lengths.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if rd16(b, field::HTYPE) != 1
            || rd16(b, field::PTYPE) != 0x0800
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buffer })
    }
    pub fn op(&self) -> ArpOp {
        rd16(self.buffer.as_ref(), field::OPER).into()
    }
    pub fn sender_mac(&self) -> MacAddr {
        arr6(self.buffer.as_ref(), field::SHA)
    }
    pub fn sender_ip(&self) -> [u8; 4] {
        arr4(self.buffer.as_ref(), field::SPA)
    }
    pub fn target_mac(&self) -> MacAddr {
        arr6(self.buffer.as_ref(), field::THA)
    }
    pub fn target_ip(&self) -> [u8; 4] {
        arr4(self.buffer.as_ref(), field::TPA)
    }
}

/// An Ethernet/IPv4 ARP packet to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub op: ArpOp,
    pub sender_mac: MacAddr,
    pub sender_ip: [u8; 4],
    pub target_mac: MacAddr,
    pub target_ip: [u8; 4],
}

impl ArpRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> ArpRepr {
        ArpRepr {
            op: p.op(),
            sender_mac: p.sender_mac(),
            sender_ip: p.sender_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        }
    }

    /// The reply to this request from `mac` (which owns `target_ip`).
    pub fn reply(&self, mac: MacAddr) -> ArpRepr {
        ArpRepr {
            op: ArpOp::Reply,
            sender_mac: mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        }
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < PACKET_LEN {
            return Err(WireError::BufferTooSmall);
        }
        wr16(buf, field::HTYPE, 1);
        wr16(buf, field::PTYPE, 0x0800);
        buf[field::HLEN] = 6;
        buf[field::PLEN] = 4;
        wr16(buf, field::OPER, self.op.into());
        buf[field::SHA..field::SHA + 6].copy_from_slice(&self.sender_mac);
        buf[field::SPA..field::SPA + 4].copy_from_slice(&self.sender_ip);
        buf[field::THA..field::THA + 6].copy_from_slice(&self.target_mac);
        buf[field::TPA..field::TPA + 4].copy_from_slice(&self.target_ip);
        Ok(PACKET_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_reply() {
        let req = ArpRepr {
            op: ArpOp::Request,
            sender_mac: [2, 0, 0, 0, 0, 1],
            sender_ip: [198, 18, 0, 1],
            target_mac: [0; 6],
            target_ip: [198, 18, 0, 2],
        };
        let mut b = [0u8; 28];
        req.emit(&mut b).unwrap();
        // Golden bytes of the fixed part.
        assert_eq!(&b[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), req);
        let rep = req.reply([2, 0, 0, 0, 0, 2]);
        assert_eq!(rep.op, ArpOp::Reply);
        assert_eq!(rep.target_ip, [198, 18, 0, 1]);
        assert_eq!(rep.sender_ip, [198, 18, 0, 2]);
        assert!(ArpPacket::new_checked(&b[..27]).is_err());
        b[4] = 8;
        assert_eq!(
            ArpPacket::new_checked(&b[..]).err(),
            Some(WireError::Malformed)
        );
    }
}
