//! Geneve (RFC 8926 section 3.4 / 3.5): base header and option TLVs.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Virtual Network Identifier (VNI)       |    Reserved   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Variable-Length Options                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Option TLV:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Option Class         |      Type     |R|R|R| Length  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Variable-Length Option Data                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Opt Len and the option Length count 4-byte words, headers excluded. The
//! critical bit is the top bit of the option Type; there is no separate flags
//! field. Rsvd/Reserved bits are written zero and ignored on receive.
use super::{rd16, rd32, wr16, wr32, Result, WireError};

/// Base header length.
pub const HEADER_LEN: usize = 8;
/// Largest options area (Opt Len 63).
pub const MAX_OPTIONS_LEN: usize = 63 * 4;
/// Largest Geneve header.
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_OPTIONS_LEN;
/// Option TLV header length.
pub const OPTION_HEADER_LEN: usize = 4;
/// Largest option data (Length 31).
pub const MAX_OPTION_DATA_LEN: usize = 31 * 4;
/// IANA UDP port.
pub const UDP_PORT: u16 = 6081;
/// Critical bit of the option Type.
pub const OPTION_TYPE_CRITICAL: u8 = 0x80;

pub mod field {
    pub const VER_OPTLEN: usize = 0;
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: usize = 2;
    pub const VNI: usize = 4;
    pub const OPTIONS: usize = 8;
}

/// O (control) flag in byte 1.
pub const FLAG_OAM: u8 = 0x80;
/// C (critical options present) flag in byte 1.
pub const FLAG_CRITICAL: u8 = 0x40;

/// A 24-bit Virtual Network Identifier: the one VNI type of the crate
/// (configuration, tables and packet code all use it). Prints in decimal,
/// as operators write it in the configuration and as tcpdump and tshark
/// show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Vni(u32);

impl Vni {
    pub const MAX: u32 = 0x00ff_ffff;
    /// `None` if `v` does not fit in 24 bits.
    pub const fn new(v: u32) -> Option<Vni> {
        if v <= Self::MAX {
            Some(Vni(v))
        } else {
            None
        }
    }
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl core::fmt::Display for Vni {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A checked Geneve view: the base header and the whole options area
/// (Opt Len) are in the buffer. Option TLVs are checked while iterating.
#[derive(Debug, Clone)]
pub struct GeneveHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GeneveHeader<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        GeneveHeader { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = GeneveHeader { buffer };
        h.check_len()?;
        Ok(h)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN || b.len() < HEADER_LEN + usize::from(b[0] & 0x3f) * 4 {
            return Err(WireError::Truncated);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 6
    }
    /// Opt Len in 4-byte words.
    pub fn opt_len_words(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x3f
    }
    /// Options length in bytes.
    pub fn options_len(&self) -> usize {
        usize::from(self.opt_len_words()) * 4
    }
    /// Whole header length (8 + options).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }
    pub fn oam(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_OAM != 0
    }
    pub fn critical(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_CRITICAL != 0
    }
    /// The 6 reserved bits after O and C.
    pub fn reserved_flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS] & 0x3f
    }
    pub fn protocol(&self) -> u16 {
        rd16(self.buffer.as_ref(), field::PROTOCOL)
    }
    pub fn vni(&self) -> Vni {
        Vni(rd32(self.buffer.as_ref(), field::VNI) >> 8)
    }
    /// The trailing reserved byte.
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[7]
    }
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    pub fn option_iter(&self) -> GeneveOptionIter<'_> {
        GeneveOptionIter::new(self.options())
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GeneveHeader<T> {
    pub fn set_flags(&mut self, oam: bool, critical: bool) {
        let b = &mut self.buffer.as_mut()[field::FLAGS];
        *b =
            (*b & 0x3f) | if oam { FLAG_OAM } else { 0 } | if critical { FLAG_CRITICAL } else { 0 };
    }
    pub fn set_vni(&mut self, vni: Vni) {
        let b = self.buffer.as_mut();
        let r = b[7];
        wr32(b, field::VNI, (vni.0 << 8) | u32::from(r));
    }
}

/// One option TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveOption<'a> {
    pub class: u16,
    /// Type including the critical bit.
    pub typ: u8,
    /// Option data (Length * 4 bytes).
    pub data: &'a [u8],
    /// Offset of the TLV header in the options area.
    pub offset: usize,
}

impl GeneveOption<'_> {
    /// Top bit of the Type.
    pub fn critical(&self) -> bool {
        self.typ & OPTION_TYPE_CRITICAL != 0
    }
    /// Length field (data length in 4-byte words).
    pub fn len_words(&self) -> u8 {
        (self.data.len() / 4) as u8
    }
}

/// Iterator over option TLVs. Yields `Err(Truncated)` once (then stops)
/// when a TLV header or its data runs past the options area.
#[derive(Debug, Clone)]
pub struct GeneveOptionIter<'a> {
    data: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> GeneveOptionIter<'a> {
    pub fn new(options: &'a [u8]) -> Self {
        GeneveOptionIter {
            data: options,
            off: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for GeneveOptionIter<'a> {
    type Item = Result<GeneveOption<'a>>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.off >= self.data.len() {
            return None;
        }
        let off = self.off;
        let h = match self.data.get(off..off + OPTION_HEADER_LEN) {
            Some(h) => h,
            None => {
                self.done = true;
                return Some(Err(WireError::Truncated));
            }
        };
        let dlen = usize::from(h[3] & 0x1f) * 4;
        let start = off + OPTION_HEADER_LEN;
        let data = match self.data.get(start..start + dlen) {
            Some(d) => d,
            None => {
                self.done = true;
                return Some(Err(WireError::Truncated));
            }
        };
        self.off = start + dlen;
        Some(Ok(GeneveOption {
            class: rd16(h, 0),
            typ: h[2],
            data,
            offset: off,
        }))
    }
}

/// One option a tunnel sends, owned: class, type (critical bit included)
/// and data (a multiple of 4 bytes, at most 124). The one option type of
/// the crate: the configuration holds it, encap templates are built from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TunnelOption {
    pub class: u16,
    /// Type including the critical bit ([`OPTION_TYPE_CRITICAL`]).
    pub typ: u8,
    /// Data, a multiple of 4 bytes, at most 124.
    pub data: Vec<u8>,
}

impl TunnelOption {
    /// The critical bit of the type.
    pub fn critical(&self) -> bool {
        self.typ & OPTION_TYPE_CRITICAL != 0
    }

    /// Bytes on the wire: 4-byte header plus data.
    pub fn wire_len(&self) -> usize {
        OPTION_HEADER_LEN + self.data.len()
    }

    /// The borrowed view that [`GeneveOptionRepr::emit`] writes.
    pub fn repr(&self) -> GeneveOptionRepr<'_> {
        GeneveOptionRepr {
            class: self.class,
            typ: self.typ,
            data: &self.data,
        }
    }
}

/// An option to emit. `data.len()` must be a multiple of 4, at most 124.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveOptionRepr<'a> {
    pub class: u16,
    pub typ: u8,
    pub data: &'a [u8],
}

impl GeneveOptionRepr<'_> {
    pub fn buffer_len(&self) -> usize {
        OPTION_HEADER_LEN + self.data.len()
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if !self.data.len().is_multiple_of(4) || self.data.len() > MAX_OPTION_DATA_LEN {
            return Err(WireError::Malformed);
        }
        let n = self.buffer_len();
        let buf = buf.get_mut(..n).ok_or(WireError::BufferTooSmall)?;
        wr16(buf, 0, self.class);
        buf[2] = self.typ;
        buf[3] = (self.data.len() / 4) as u8;
        buf[4..].copy_from_slice(self.data);
        Ok(n)
    }
}

/// A Geneve base header to emit (options are written after it separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveRepr {
    pub oam: bool,
    pub critical: bool,
    pub protocol: u16,
    pub vni: Vni,
    /// Options length in bytes (multiple of 4, at most 252).
    pub options_len: usize,
}

impl GeneveRepr {
    pub fn parse<T: AsRef<[u8]>>(h: &GeneveHeader<T>) -> Result<GeneveRepr> {
        if h.version() != 0 {
            return Err(WireError::BadVersion);
        }
        Ok(GeneveRepr {
            oam: h.oam(),
            critical: h.critical(),
            protocol: h.protocol(),
            vni: h.vni(),
            options_len: h.options_len(),
        })
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if !self.options_len.is_multiple_of(4) || self.options_len > MAX_OPTIONS_LEN {
            return Err(WireError::Malformed);
        }
        if buf.len() < HEADER_LEN {
            return Err(WireError::BufferTooSmall);
        }
        buf[0] = (self.options_len / 4) as u8;
        buf[1] =
            if self.oam { FLAG_OAM } else { 0 } | if self.critical { FLAG_CRITICAL } else { 0 };
        wr16(buf, field::PROTOCOL, self.protocol);
        wr32(buf, field::VNI, self.vni.0 << 8);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_header() {
        // tcpdump geneve.pcap, VNI 0xa: 02 40 65 58 00 00 0a 00 | 00 00 80 01 0c 00 00 c0
        let b = [
            0x02, 0x40, 0x65, 0x58, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x80, 0x01, 0x0c, 0x00,
            0x00, 0xc0,
        ];
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.version(), 0);
        assert_eq!(h.options_len(), 8);
        assert!(h.critical() && !h.oam());
        assert_eq!(h.protocol(), 0x6558);
        assert_eq!(h.vni(), Vni::new(0xa).unwrap());
        let opts: Vec<_> = h.option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(opts.len(), 1);
        assert_eq!(
            (opts[0].class, opts[0].typ, opts[0].data.len()),
            (0, 0x80, 4)
        );
        assert!(opts[0].critical());
        let mut out = [0u8; 16];
        GeneveRepr::parse(&h).unwrap().emit(&mut out).unwrap();
        GeneveOptionRepr {
            class: 0,
            typ: 0x80,
            data: &b[12..],
        }
        .emit(&mut out[8..])
        .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn truncated_tlv() {
        // Options area of 8 bytes holding an option that claims 8 data bytes.
        let b = [0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 1, 2, 2, 0, 0, 0, 0];
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        let v: Vec<_> = h.option_iter().collect();
        assert_eq!(v, vec![Err(WireError::Truncated)]);
        // Options area of 2 words where the second is a partial header:
        // impossible (multiple of 4), so one 0-length option then another.
        let b = [0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 1, 2, 0, 0, 3, 4, 0];
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.option_iter().filter(|o| o.is_ok()).count(), 2);
        // Opt Len past the buffer.
        assert_eq!(
            GeneveHeader::new_checked(&b[..15]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn opt_len_63() {
        let mut b = vec![0u8; MAX_HEADER_LEN];
        b[0] = 63;
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.header_len(), 260);
        // 63 zero-length options of class 0 type 0.
        assert_eq!(h.option_iter().count(), 63);
        assert!(GeneveHeader::new_checked(&b[..259]).is_err());
    }

    #[test]
    fn vni_range() {
        assert!(Vni::new(0xff_ffff).is_some());
        assert!(Vni::new(0x100_0000).is_none());
    }
}
