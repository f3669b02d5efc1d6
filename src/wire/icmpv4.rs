//! ICMPv4 (RFC 792, RFC 1191): echo, destination unreachable (incl.
//! fragmentation needed with the next-hop MTU).
//!
//! ```text
//! |     Type      |     Code      |          Checksum             |
//! |   rest of header (echo: Identifier | Sequence;                |
//! |   frag needed: unused | Next-Hop MTU)                         |
//! |   data ...
//! ```
use super::checksum;
use super::{rd16, wr16, Result, WireError};

/// ICMP header length (type, code, checksum, 4 bytes rest-of-header).
pub const HEADER_LEN: usize = 8;

pub mod msg {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    /// Destination unreachable code: fragmentation needed and DF set.
    pub const CODE_FRAG_NEEDED: u8 = 4;
}

/// A checked ICMPv4 view (at least 8 bytes).
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
    pub fn echo_ident(&self) -> u16 {
        rd16(self.buffer.as_ref(), 4)
    }
    pub fn echo_seq(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6)
    }
    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6)
    }
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::accumulate(0, self.buffer.as_ref())) == 0xffff
    }
}

/// An ICMPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    EchoRequest {
        ident: u16,
        seq: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq: u16,
        data: &'a [u8],
    },
    /// Destination unreachable; `next_hop_mtu` is meaningful for code 4.
    /// `data` is the offending datagram's IP header + at least 8 bytes.
    DstUnreachable {
        code: u8,
        next_hop_mtu: u16,
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parse a checked view; the checksum must verify.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &'a Icmpv4Packet<&'a T>) -> Result<Icmpv4Repr<'a>> {
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let data = &p.buffer.as_ref()[HEADER_LEN..];
        Ok(match (p.msg_type(), p.code()) {
            (msg::ECHO_REQUEST, 0) => Icmpv4Repr::EchoRequest {
                ident: p.echo_ident(),
                seq: p.echo_seq(),
                data,
            },
            (msg::ECHO_REPLY, 0) => Icmpv4Repr::EchoReply {
                ident: p.echo_ident(),
                seq: p.echo_seq(),
                data,
            },
            (msg::DST_UNREACHABLE, code) => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: p.next_hop_mtu(),
                data,
            },
            _ => return Err(WireError::Malformed),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. }
                | Icmpv4Repr::EchoReply { data, .. }
                | Icmpv4Repr::DstUnreachable { data, .. } => data.len(),
            }
    }

    /// Write the message with its checksum; returns the length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let buf = buf.get_mut(..n).ok_or(WireError::BufferTooSmall)?;
        let (t, c, w1, w2, data) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq, data } => {
                (msg::ECHO_REQUEST, 0, ident, seq, data)
            }
            Icmpv4Repr::EchoReply { ident, seq, data } => (msg::ECHO_REPLY, 0, ident, seq, data),
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                data,
            } => (msg::DST_UNREACHABLE, code, 0, next_hop_mtu, data),
        };
        buf[0] = t;
        buf[1] = c;
        wr16(buf, 2, 0);
        wr16(buf, 4, w1);
        wr16(buf, 6, w2);
        buf[HEADER_LEN..].copy_from_slice(data);
        let cs = checksum::checksum(buf);
        wr16(buf, 2, cs);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_frag_needed() {
        let mut b = [0u8; 64];
        let r = Icmpv4Repr::EchoRequest {
            ident: 7,
            seq: 9,
            data: b"abcd",
        };
        let n = r.emit(&mut b).unwrap();
        assert_eq!(n, 12);
        let p = Icmpv4Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
        let orig = [0x45u8; 28];
        let r = Icmpv4Repr::DstUnreachable {
            code: msg::CODE_FRAG_NEEDED,
            next_hop_mtu: 1400,
            data: &orig,
        };
        let n = r.emit(&mut b).unwrap();
        let p = Icmpv4Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(p.next_hop_mtu(), 1400);
        assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
        b[10] ^= 1;
        let p = Icmpv4Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).err(), Some(WireError::BadChecksum));
        assert!(r.emit(&mut b[..20]).is_err());
    }
}
