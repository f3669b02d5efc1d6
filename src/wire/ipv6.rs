//! IPv6 (RFC 8200) with extension headers walked up to the transport header.
//!
//! ```text
//! |Version| Traffic Class |           Flow Label                  |
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! |                  Source Address (16 bytes)                    |
//! |               Destination Address (16 bytes)                  |
//! ```
use super::{arr16, ip_proto, rd16, rd32, wr16, wr32, Result, WireError};

/// Fixed header length.
pub const HEADER_LEN: usize = 40;
/// Most extension headers [`Ipv6Packet::upper_layer`] walks before giving up.
pub const MAX_EXT_HEADERS: usize = 8;

pub mod field {
    pub const VER_TC_FL: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// Where the upper-layer header is, after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// Upper-layer protocol number (e.g. 17 for UDP, 59 for none).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// A fragment header was seen.
    pub fragment: bool,
    /// A fragment header with a non-zero offset was seen (not the first fragment).
    pub later_fragment: bool,
}

/// True for the extension header types this view walks.
#[inline]
pub fn is_extension(nh: u8) -> bool {
    matches!(
        nh,
        ip_proto::HOPOPT
            | ip_proto::IPV6_ROUTE
            | ip_proto::IPV6_FRAG
            | ip_proto::IPV6_OPTS
            | ip_proto::AH
    )
}

/// A checked IPv6 view: version 6, 40 bytes and `payload_len` bytes present.
/// (Jumbograms, payload length 0 with a Jumbo option, are not supported:
/// a zero payload length is an empty payload.)
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv6Packet { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::BadVersion);
        }
        if b.len() < HEADER_LEN + usize::from(rd16(b, field::PAYLOAD_LEN)) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn traffic_class(&self) -> u8 {
        (rd16(self.buffer.as_ref(), 0) >> 4) as u8
    }
    pub fn ecn(&self) -> super::Ecn {
        super::Ecn::from_tos(self.traffic_class())
    }
    pub fn flow_label(&self) -> u32 {
        rd32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    pub fn src(&self) -> [u8; 16] {
        arr16(self.buffer.as_ref(), field::SRC)
    }
    pub fn dst(&self) -> [u8; 16] {
        arr16(self.buffer.as_ref(), field::DST)
    }
    /// Payload: the `payload_len` bytes after the fixed header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
    /// Walk the extension headers (Hop-by-Hop, Routing, Fragment, Destination
    /// Options, AH) to the upper-layer header. Fails if a header runs past the
    /// payload or there are more than [`MAX_EXT_HEADERS`].
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        walk_ext(self.payload(), self.next_header()).map(|mut u| {
            u.offset += HEADER_LEN;
            u
        })
    }
}

/// Walk extension headers in `payload` (the bytes after the fixed header)
/// starting from `nh`. The returned offset is relative to `payload`.
#[inline]
pub fn walk_ext(payload: &[u8], mut nh: u8) -> Result<UpperLayer> {
    let mut off = 0usize;
    let mut fragment = false;
    let mut later_fragment = false;
    for _ in 0..=MAX_EXT_HEADERS {
        if !is_extension(nh) {
            return Ok(UpperLayer {
                protocol: nh,
                offset: off,
                fragment,
                later_fragment,
            });
        }
        let h = payload.get(off..off + 8).ok_or(WireError::Truncated)?;
        let len = match nh {
            ip_proto::IPV6_FRAG => {
                fragment = true;
                if rd16(h, 2) & 0xfff8 != 0 {
                    later_fragment = true;
                }
                8
            }
            ip_proto::AH => (usize::from(h[1]) + 2) * 4,
            _ => (usize::from(h[1]) + 1) * 8,
        };
        if payload.len() < off + len {
            return Err(WireError::Truncated);
        }
        nh = h[0];
        off += len;
    }
    Err(WireError::Malformed)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    pub fn set_traffic_class(&mut self, tc: u8) {
        let b = self.buffer.as_mut();
        let w = rd16(b, 0);
        wr16(b, 0, (w & 0xf00f) | (u16::from(tc) << 4));
    }
    pub fn set_flow_label(&mut self, fl: u32) {
        let b = self.buffer.as_mut();
        let w = rd32(b, 0);
        wr32(b, 0, (w & 0xfff0_0000) | (fl & 0x000f_ffff));
    }
    pub fn set_payload_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::PAYLOAD_LEN, v);
    }
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
}

/// A fixed IPv6 header to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub next_header: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
    pub hop_limit: u8,
    pub payload_len: u16,
}

impl Ipv6Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Ipv6Repr {
        Ipv6Repr {
            src: p.src(),
            dst: p.dst(),
            next_header: p.next_header(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            hop_limit: p.hop_limit(),
            payload_len: p.payload_len(),
        }
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::BufferTooSmall);
        }
        let w = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xfffff);
        wr32(buf, field::VER_TC_FL, w);
        wr16(buf, field::PAYLOAD_LEN, self.payload_len);
        buf[field::NEXT_HEADER] = self.next_header;
        buf[field::HOP_LIMIT] = self.hop_limit;
        buf[field::SRC..field::SRC + 16].copy_from_slice(&self.src);
        buf[field::DST..field::DST + 16].copy_from_slice(&self.dst);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(nh: u8, plen: u16) -> Ipv6Repr {
        Ipv6Repr {
            src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            dst: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            next_header: nh,
            traffic_class: 0xb9,
            flow_label: 0x12345,
            hop_limit: 64,
            payload_len: plen,
        }
    }

    #[test]
    fn roundtrip() {
        let mut b = vec![0u8; 48];
        repr(17, 8).emit(&mut b).unwrap();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p), repr(17, 8));
        assert_eq!(p.ecn(), super::super::Ecn::Ect1);
        assert_eq!(p.upper_layer().unwrap().offset, 40);
        for n in 0..48 {
            assert!(Ipv6Packet::new_checked(&b[..n]).is_err());
        }
    }

    #[test]
    fn extension_headers() {
        // Hop-by-hop (8) -> Dest opts (16) -> Fragment (8, offset 0, M=1) -> UDP.
        let mut b = vec![0u8; 40 + 8 + 16 + 8 + 8];
        repr(0, 40).emit(&mut b).unwrap();
        b[40] = 60;
        b[41] = 0;
        b[48] = 44;
        b[49] = 1;
        b[64] = 17;
        b[66..68].copy_from_slice(&1u16.to_be_bytes());
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let u = p.upper_layer().unwrap();
        assert_eq!(
            u,
            UpperLayer {
                protocol: 17,
                offset: 72,
                fragment: true,
                later_fragment: false
            }
        );
        // Later fragment.
        b[66..68].copy_from_slice(&8u16.to_be_bytes());
        assert!(
            Ipv6Packet::new_checked(&b[..])
                .unwrap()
                .upper_layer()
                .unwrap()
                .later_fragment
        );
        // Dest opts claiming more than the payload.
        b[49] = 5;
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().upper_layer().err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn ext_loop_bounded() {
        // 9 hop-by-hop headers chained: too many.
        let n = MAX_EXT_HEADERS + 1;
        let mut b = vec![0u8; 40 + 8 * n];
        repr(0, (8 * n) as u16).emit(&mut b).unwrap();
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap().upper_layer().err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn setters() {
        let mut b = vec![0u8; 40];
        repr(59, 0).emit(&mut b).unwrap();
        let mut p = Ipv6Packet::new_checked(&mut b[..]).unwrap();
        p.set_traffic_class(0x02);
        p.set_flow_label(0xfffff);
        assert_eq!((p.traffic_class(), p.flow_label()), (2, 0xfffff));
        assert_eq!(b[0] >> 4, 6);
    }
}
