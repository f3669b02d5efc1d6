//! ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): echo, destination
//! unreachable, packet too big, neighbor solicitation / advertisement with
//! source / target link-layer address options.
//!
//! ```text
//! |     Type      |     Code      |          Checksum             |
//! |  message body (echo: Identifier | Sequence; PTB: MTU;         |
//! |  NS: reserved; NA: R|S|O|reserved) ...                        |
//! |  NS/NA: Target Address (16 bytes), then options (type, len*8) |
//! ```
use super::checksum;
use super::{arr16, arr6, ip_proto, rd16, rd32, wr16, wr32, MacAddr, Result, WireError};

/// Common header length (type, code, checksum, 4-byte body word).
pub const HEADER_LEN: usize = 8;
/// Neighbor Solicitation / Advertisement length without options.
pub const ND_LEN: usize = 24;

pub mod msg {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// ND option: source link-layer address.
    pub const OPT_SOURCE_LLADDR: u8 = 1;
    /// ND option: target link-layer address.
    pub const OPT_TARGET_LLADDR: u8 = 2;
}

/// NA flags.
pub const NA_ROUTER: u32 = 0x8000_0000;
pub const NA_SOLICITED: u32 = 0x4000_0000;
pub const NA_OVERRIDE: u32 = 0x2000_0000;

/// A checked ICMPv6 view (at least 8 bytes).
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv6Packet { buffer })
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
    /// The 32-bit word after the checksum (MTU, flags, ident|seq).
    pub fn body_word(&self) -> u32 {
        rd32(self.buffer.as_ref(), 4)
    }
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    /// Verify with the IPv6 pseudo-header.
    pub fn verify_checksum(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        let b = self.buffer.as_ref();
        checksum::fold(checksum::accumulate(
            checksum::pseudo_header_v6(src, dst, ip_proto::ICMPV6, b.len() as u32),
            b,
        )) == 0xffff
    }
}

/// An ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
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
    DstUnreachable {
        code: u8,
        data: &'a [u8],
    },
    /// Packet Too Big with the MTU and as much of the offending packet as fits.
    PacketTooBig {
        mtu: u32,
        data: &'a [u8],
    },
    NeighborSolicit {
        target: [u8; 16],
        source_lladdr: Option<MacAddr>,
    },
    NeighborAdvert {
        flags: u32,
        target: [u8; 16],
        target_lladdr: Option<MacAddr>,
    },
}

fn nd_lladdr(mut opts: &[u8], want: u8) -> Result<Option<MacAddr>> {
    let mut found = None;
    while !opts.is_empty() {
        if opts.len() < 2 {
            return Err(WireError::Truncated);
        }
        let len = usize::from(opts[1]) * 8;
        if len == 0 {
            return Err(WireError::Malformed);
        }
        if opts.len() < len {
            return Err(WireError::Truncated);
        }
        if opts[0] == want && len >= 8 {
            found = Some(arr6(opts, 2));
        }
        opts = &opts[len..];
    }
    Ok(found)
}

impl<'a> Icmpv6Repr<'a> {
    /// Parse; the checksum must verify against `src`/`dst`.
    pub fn parse(src: &[u8; 16], dst: &[u8; 16], p: &Icmpv6Packet<&'a [u8]>) -> Result<Self> {
        if !p.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let b: &'a [u8] = p.buffer;
        let data = &b[HEADER_LEN..];
        let w = p.body_word();
        Ok(match p.msg_type() {
            msg::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: (w >> 16) as u16,
                seq: w as u16,
                data,
            },
            msg::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: (w >> 16) as u16,
                seq: w as u16,
                data,
            },
            msg::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable {
                code: p.code(),
                data,
            },
            msg::PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig { mtu: w, data },
            msg::NEIGHBOR_SOLICIT | msg::NEIGHBOR_ADVERT => {
                if b.len() < ND_LEN {
                    return Err(WireError::Truncated);
                }
                let target = arr16(b, 8);
                if p.msg_type() == msg::NEIGHBOR_SOLICIT {
                    Icmpv6Repr::NeighborSolicit {
                        target,
                        source_lladdr: nd_lladdr(&b[ND_LEN..], msg::OPT_SOURCE_LLADDR)?,
                    }
                } else {
                    Icmpv6Repr::NeighborAdvert {
                        flags: w & 0xe000_0000,
                        target,
                        target_lladdr: nd_lladdr(&b[ND_LEN..], msg::OPT_TARGET_LLADDR)?,
                    }
                }
            }
            _ => return Err(WireError::Malformed),
        })
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. } => HEADER_LEN + data.len(),
            Icmpv6Repr::NeighborSolicit {
                source_lladdr: l, ..
            }
            | Icmpv6Repr::NeighborAdvert {
                target_lladdr: l, ..
            } => ND_LEN + if l.is_some() { 8 } else { 0 },
        }
    }

    /// Write the message with its checksum over the `src`/`dst` pseudo-header.
    pub fn emit(&self, src: &[u8; 16], dst: &[u8; 16], buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let buf = buf.get_mut(..n).ok_or(WireError::BufferTooSmall)?;
        buf.fill(0);
        let (t, code, word) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq, .. } => (
                msg::ECHO_REQUEST,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv6Repr::EchoReply { ident, seq, .. } => (
                msg::ECHO_REPLY,
                0,
                (u32::from(ident) << 16) | u32::from(seq),
            ),
            Icmpv6Repr::DstUnreachable { code, .. } => (msg::DST_UNREACHABLE, code, 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (msg::PACKET_TOO_BIG, 0, mtu),
            Icmpv6Repr::NeighborSolicit { .. } => (msg::NEIGHBOR_SOLICIT, 0, 0),
            Icmpv6Repr::NeighborAdvert { flags, .. } => {
                (msg::NEIGHBOR_ADVERT, 0, flags & 0xe000_0000)
            }
        };
        buf[0] = t;
        buf[1] = code;
        wr32(buf, 4, word);
        match *self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. } => buf[HEADER_LEN..].copy_from_slice(data),
            Icmpv6Repr::NeighborSolicit {
                target,
                source_lladdr: l,
            }
            | Icmpv6Repr::NeighborAdvert {
                target,
                target_lladdr: l,
                ..
            } => {
                buf[8..24].copy_from_slice(&target);
                if let Some(mac) = l {
                    buf[24] = if t == msg::NEIGHBOR_SOLICIT {
                        msg::OPT_SOURCE_LLADDR
                    } else {
                        msg::OPT_TARGET_LLADDR
                    };
                    buf[25] = 1;
                    buf[26..32].copy_from_slice(&mac);
                }
            }
        }
        let c = checksum::l4_checksum_v6(src, dst, ip_proto::ICMPV6, buf);
        wr16(buf, 2, c);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const D: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn rt(r: Icmpv6Repr<'_>) {
        let mut b = [0u8; 128];
        let n = r.emit(&S, &D, &mut b).unwrap();
        let p = Icmpv6Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&S, &D, &p).unwrap(), r);
        assert_eq!(
            Icmpv6Repr::parse(&D, &[0; 16], &p).err(),
            Some(WireError::BadChecksum)
        );
    }

    #[test]
    fn roundtrips() {
        rt(Icmpv6Repr::EchoRequest {
            ident: 1,
            seq: 2,
            data: b"xyz",
        });
        rt(Icmpv6Repr::EchoReply {
            ident: 1,
            seq: 2,
            data: b"",
        });
        rt(Icmpv6Repr::DstUnreachable {
            code: 4,
            data: &[0x60; 48],
        });
        rt(Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            data: &[0x60; 48],
        });
        rt(Icmpv6Repr::NeighborSolicit {
            target: D,
            source_lladdr: Some([2, 0, 0, 0, 0, 1]),
        });
        rt(Icmpv6Repr::NeighborSolicit {
            target: D,
            source_lladdr: None,
        });
        rt(Icmpv6Repr::NeighborAdvert {
            flags: NA_SOLICITED | NA_OVERRIDE,
            target: D,
            target_lladdr: Some([2, 0, 0, 0, 0, 2]),
        });
    }

    #[test]
    fn bad_nd_option() {
        let mut b = [0u8; 128];
        let r = Icmpv6Repr::NeighborSolicit {
            target: D,
            source_lladdr: Some([2; 6]),
        };
        let n = r.emit(&S, &D, &mut b).unwrap();
        b[25] = 0; // zero-length option
        let c = checksum::l4_checksum_v6(
            &S,
            &D,
            ip_proto::ICMPV6,
            &{
                let mut x = b;
                x[2] = 0;
                x[3] = 0;
                x
            }[..n],
        );
        b[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Icmpv6Packet::new_checked(&b[..n]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&S, &D, &p).err(),
            Some(WireError::Malformed)
        );
    }
}
