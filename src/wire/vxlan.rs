//! VXLAN (RFC 7348 section 5): the 8-byte header after UDP, and the one
//! type that says which tunnel header a packet or a tunnel uses.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The I flag must be 1 for a valid VNI; the other seven flag bits and both
//! reserved fields are written zero and ignored on receipt (so extensions
//! such as Group Policy, which use reserved bits, pass as plain VXLAN).
//! The payload is always an Ethernet frame: VXLAN has no protocol field
//! and no options.
//!
//! Written here rather than taken from a crate: the header is 8 fixed
//! bytes, and the view follows this module's one shape (checked view,
//! `Repr` with `parse`/`emit`, no allocation) as Geneve's does. Considered:
//! `pnet_packet`'s VXLAN view (its own packet traits, a dependency tree
//! for 8 bytes) and DPDK's `rte_vxlan_hdr` (a C struct: `wire` knows no
//! DPDK and is tested without it).
use super::geneve::Vni;
use super::{rd32, wr32, Result, WireError};

/// Header length.
pub const HEADER_LEN: usize = 8;
/// IANA UDP port.
pub const UDP_PORT: u16 = 4789;
/// The I flag (valid VNI) in byte 0.
pub const FLAG_I: u8 = 0x08;

pub mod field {
    pub const FLAGS: usize = 0;
    pub const VNI: usize = 4;
}

/// Which tunnel header: the one encapsulation type of the crate
/// (configuration, templates, decapsulation and counters use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Encapsulation {
    /// Geneve (RFC 8926), UDP 6081 by default.
    #[default]
    Geneve,
    /// VXLAN (RFC 7348), UDP 4789 by default; Ethernet payload only.
    Vxlan,
}

impl Encapsulation {
    /// The configuration word (`geneve`, `vxlan`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Encapsulation::Geneve => "geneve",
            Encapsulation::Vxlan => "vxlan",
        }
    }
}

impl core::fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked VXLAN view: the 8-byte header is in the buffer.
#[derive(Debug, Clone)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        VxlanHeader { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = VxlanHeader { buffer };
        h.check_len()?;
        Ok(h)
    }
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The whole flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// The I flag: the VNI is valid.
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_I != 0
    }
    pub fn vni(&self) -> Vni {
        Vni::new(rd32(self.buffer.as_ref(), field::VNI) >> 8).unwrap_or_default()
    }
    /// The reserved bits: the seven other flag bits, the 24 bits after the
    /// flags and the last byte (ignored on receipt).
    pub fn reserved(&self) -> (u8, u32, u8) {
        let b = self.buffer.as_ref();
        (
            b[0] & !FLAG_I,
            u32::from_be_bytes([0, b[1], b[2], b[3]]),
            b[7],
        )
    }
    /// The inner Ethernet frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// A VXLAN header to emit: the I flag set, every reserved bit zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanRepr {
    pub vni: Vni,
}

impl VxlanRepr {
    /// The header of `h`; `Err(Malformed)` when the I flag is clear.
    pub fn parse<T: AsRef<[u8]>>(h: &VxlanHeader<T>) -> Result<VxlanRepr> {
        if !h.vni_valid() {
            return Err(WireError::Malformed);
        }
        Ok(VxlanRepr { vni: h.vni() })
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let b = buf.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall)?;
        wr32(b, 0, u32::from(FLAG_I) << 24);
        wr32(b, field::VNI, self.vni.get() << 8);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_header() {
        // RFC 7348 layout: flags 0x08, VNI 5000 (0x001388), reserved zero.
        let want = [0x08, 0, 0, 0, 0x00, 0x13, 0x88, 0x00];
        let mut b = [0xffu8; 8];
        let vni = Vni::new(5000).unwrap();
        assert_eq!(VxlanRepr { vni }.emit(&mut b), Ok(8));
        assert_eq!(b, want);
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert!(h.vni_valid());
        assert_eq!(h.vni(), vni);
        assert_eq!(h.reserved(), (0, 0, 0));
        assert_eq!(VxlanRepr::parse(&h), Ok(VxlanRepr { vni }));
    }

    #[test]
    fn reserved_bits_are_ignored_and_the_i_flag_required() {
        let b = [0xff, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x99];
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert_eq!(VxlanRepr::parse(&h).map(|r| r.vni.get()), Ok(0x123456));
        assert_eq!(h.reserved(), (0xf7, 0xabcdef, 0x99));
        let b = [0xf7, 0, 0, 0, 0, 0, 1, 0];
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert_eq!(VxlanRepr::parse(&h), Err(WireError::Malformed));
        assert_eq!(
            VxlanHeader::new_checked(&b[..7]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            VxlanRepr {
                vni: Vni::new(1).unwrap()
            }
            .emit(&mut [0u8; 7]),
            Err(WireError::BufferTooSmall)
        );
    }

    #[test]
    fn encapsulation_words() {
        assert_eq!(Encapsulation::default(), Encapsulation::Geneve);
        assert_eq!(Encapsulation::Vxlan.to_string(), "vxlan");
        assert_eq!(Encapsulation::Geneve.as_str(), "geneve");
    }
}
