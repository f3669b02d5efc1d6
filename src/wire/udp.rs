//! UDP (RFC 768) with IPv4 and IPv6 pseudo-header checksums.
//!
//! ```text
//! |          Source Port          |       Destination Port        |
//! |            Length             |           Checksum            |
//! ```
use super::checksum;
use super::{ip_proto, rd16, wr16, Result, WireError};

/// UDP header length.
pub const HEADER_LEN: usize = 8;

pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A checked UDP view: 8 <= length field <= buffer length.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let l = usize::from(rd16(b, field::LENGTH));
        if l < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if l > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buffer })
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn src_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN as u16
    }
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// The datagram as the length field bounds it (header + payload).
    pub fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
    /// Verify against an IPv4 pseudo-header. A zero checksum ("none") returns true.
    pub fn verify_checksum_v4(&self, src: &[u8; 4], dst: &[u8; 4]) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let d = self.datagram();
        checksum::fold(checksum::accumulate(
            checksum::pseudo_header_v4(src, dst, ip_proto::UDP, d.len() as u16),
            d,
        )) == 0xffff
    }
    /// Verify against an IPv6 pseudo-header. A zero checksum returns false
    /// (RFC 8200: mandatory); callers with an RFC 6935 zero-checksum policy
    /// test [`checksum`](Self::checksum) first.
    pub fn verify_checksum_v6(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let d = self.datagram();
        checksum::fold(checksum::accumulate(
            checksum::pseudo_header_v6(src, dst, ip_proto::UDP, d.len() as u32),
            d,
        )) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::SRC_PORT, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::DST_PORT, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    /// Compute and store the checksum with an IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: &[u8; 4], dst: &[u8; 4]) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v4(src, dst, ip_proto::UDP, self.datagram());
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
    /// Compute and store the checksum with an IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &[u8; 16], dst: &[u8; 16]) {
        self.set_checksum(0);
        let c = checksum::l4_checksum_v6(src, dst, ip_proto::UDP, self.datagram());
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..l]
    }
}

/// A UDP header to emit (checksum written as zero; fill it after the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: u16,
}

impl UdpRepr {
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::BufferTooSmall);
        }
        let l = self
            .payload_len
            .checked_add(HEADER_LEN as u16)
            .ok_or(WireError::Malformed)?;
        wr16(buf, field::SRC_PORT, self.src_port);
        wr16(buf, field::DST_PORT, self.dst_port);
        wr16(buf, field::LENGTH, l);
        wr16(buf, field::CHECKSUM, 0);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_v4_v6() {
        let mut b = vec![0u8; 13];
        UdpRepr {
            src_port: 1234,
            dst_port: 6081,
            payload_len: 5,
        }
        .emit(&mut b)
        .unwrap();
        b[8..].copy_from_slice(b"hello");
        let (s4, d4) = ([198, 18, 0, 1], [198, 18, 0, 2]);
        let mut p = UdpPacket::new_checked(&mut b[..]).unwrap();
        assert!(p.verify_checksum_v4(&s4, &d4), "zero = no checksum");
        p.fill_checksum_v4(&s4, &d4);
        assert!(p.verify_checksum_v4(&s4, &d4));
        assert!(!p.verify_checksum_v4(&s4, &[198, 18, 0, 3]));
        let s6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        p.set_checksum(0);
        assert!(!p.verify_checksum_v6(&s6, &d6));
        p.fill_checksum_v6(&s6, &d6);
        assert!(p.verify_checksum_v6(&s6, &d6));
        assert_eq!(p.payload(), b"hello");
    }

    #[test]
    fn length_checks() {
        let mut b = [0u8; 8];
        b[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&b[..]).err(),
            Some(WireError::Malformed)
        );
        b[5] = 9;
        assert_eq!(
            UdpPacket::new_checked(&b[..]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            UdpPacket::new_checked(&b[..7]).err(),
            Some(WireError::Truncated)
        );
    }
}
