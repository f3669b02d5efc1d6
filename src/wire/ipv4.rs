//! IPv4 (RFC 791), header options skipped by IHL.
//!
//! ```text
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! |         Identification        |Flags|     Fragment Offset     |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options (IHL > 5)                          |
//! ```
use super::checksum;
use super::{arr4, rd16, wr16, Result, WireError};

/// Minimum header length.
pub const HEADER_LEN: usize = 20;

pub mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// Don't Fragment flag in the flags/offset word.
pub const FLAG_DF: u16 = 0x4000;
/// More Fragments flag.
pub const FLAG_MF: u16 = 0x2000;

/// A checked IPv4 view: version 4, IHL >= 5, the whole header (with options)
/// in the buffer and `header_len <= total_len <= buffer length`.
/// Bytes past `total_len` (Ethernet padding) are not part of [`payload`](Self::payload).
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Ipv4Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// See the type's documentation for what is checked.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::BadVersion);
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let tl = usize::from(rd16(b, field::LENGTH));
        if b.len() < hl || b.len() < tl {
            return Err(WireError::Truncated);
        }
        if tl < hl {
            return Err(WireError::Malformed);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }
    pub fn ecn(&self) -> super::Ecn {
        super::Ecn::from_tos(self.tos())
    }
    pub fn total_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn ident(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::IDENT)
    }
    pub fn dont_frag(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (rd16(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) << 3
    }
    /// True for any fragment (MF set or non-zero offset).
    pub fn is_fragment(&self) -> bool {
        rd16(self.buffer.as_ref(), field::FLG_OFF) & 0x3fff != 0
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn src(&self) -> [u8; 4] {
        arr4(self.buffer.as_ref(), field::SRC)
    }
    pub fn dst(&self) -> [u8; 4] {
        arr4(self.buffer.as_ref(), field::DST)
    }
    /// The options bytes (IHL > 5), possibly empty.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    /// True if the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::accumulate(
            0,
            &self.buffer.as_ref()[..self.header_len()],
        )) == 0xffff
    }
    /// Payload: from the end of the header to `total_len`.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }
    pub fn set_total_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::LENGTH, v);
    }
    pub fn set_ident(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::IDENT, v);
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    /// Recompute the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }
    /// Rewrite TOS and TTL, updating the checksum incrementally (RFC 1624).
    pub fn update_tos_ttl(&mut self, tos: u8, ttl: u8) {
        let b = self.buffer.as_mut();
        let old0 = rd16(b, 0);
        let old8 = rd16(b, field::TTL);
        b[field::TOS] = tos;
        b[field::TTL] = ttl;
        let new0 = rd16(b, 0);
        let new8 = rd16(b, field::TTL);
        let c = rd16(b, field::CHECKSUM);
        let c = checksum::update16(checksum::update16(c, old0, new0), old8, new8);
        wr16(b, field::CHECKSUM, c);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[h..t]
    }
}

/// An IPv4 header (without options) to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub protocol: u8,
    pub tos: u8,
    pub ttl: u8,
    pub ident: u16,
    pub dont_frag: bool,
    /// Payload length (total length minus 20).
    pub payload_len: u16,
}

impl Ipv4Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Ipv4Repr {
        Ipv4Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            tos: p.tos(),
            ttl: p.ttl(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            payload_len: p.total_len().saturating_sub(p.header_len() as u16),
        }
    }

    /// Emit a 20-byte header with a valid checksum.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::BufferTooSmall);
        }
        let total = u16::try_from(usize::from(self.payload_len) + HEADER_LEN)
            .map_err(|_| WireError::Malformed)?;
        buf[0] = 0x45;
        buf[field::TOS] = self.tos;
        wr16(buf, field::LENGTH, total);
        wr16(buf, field::IDENT, self.ident);
        wr16(
            buf,
            field::FLG_OFF,
            if self.dont_frag { FLAG_DF } else { 0 },
        );
        buf[field::TTL] = self.ttl;
        buf[field::PROTOCOL] = self.protocol;
        wr16(buf, field::CHECKSUM, 0);
        buf[field::SRC..field::SRC + 4].copy_from_slice(&self.src);
        buf[field::DST..field::DST + 4].copy_from_slice(&self.dst);
        let c = checksum::checksum(&buf[..HEADER_LEN]);
        wr16(buf, field::CHECKSUM, c);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let r = Ipv4Repr {
            src: [198, 18, 0, 1],
            dst: [198, 18, 0, 2],
            protocol: 17,
            tos: 0xb8,
            ttl: 64,
            ident: 0x1234,
            dont_frag: true,
            payload_len: 8,
        };
        let mut b = vec![0u8; 28];
        r.emit(&mut b).unwrap();
        b
    }

    #[test]
    fn emit_parse_roundtrip() {
        let b = sample();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.total_len(), 28);
        assert!(p.dont_frag() && !p.is_fragment());
        assert_eq!(p.payload().len(), 8);
        let r = Ipv4Repr::parse(&p);
        assert_eq!(r.src, [198, 18, 0, 1]);
        assert_eq!(r.payload_len, 8);
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL).
        let mut b = [0u8; 32];
        b[0] = 0x46;
        b[2..4].copy_from_slice(&32u16.to_be_bytes());
        b[20..24].copy_from_slice(&[1, 1, 1, 0]);
        b[24] = 0xaa;
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload()[0], 0xaa);
        assert!(p.verify_checksum());
    }

    #[test]
    fn checks() {
        let b = sample();
        for n in 0..b.len() {
            assert!(Ipv4Packet::new_checked(&b[..n]).is_err(), "len {n}");
        }
        let mut c = b.clone();
        c[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&c[..]).err(),
            Some(WireError::BadVersion)
        );
        let mut c = b.clone();
        c[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&c[..]).err(),
            Some(WireError::Malformed)
        );
        let mut c = b.clone();
        c[3] = 10; // total length below header length
        assert_eq!(
            Ipv4Packet::new_checked(&c[..]).err(),
            Some(WireError::Malformed)
        );
        let mut c = b;
        c[12] ^= 1;
        assert!(!Ipv4Packet::new_checked(&c[..]).unwrap().verify_checksum());
    }

    #[test]
    fn incremental_tos_ttl() {
        let mut b = sample();
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.update_tos_ttl(0x03, 7);
        assert!(p.verify_checksum());
        assert_eq!((p.tos(), p.ttl()), (3, 7));
    }
}
