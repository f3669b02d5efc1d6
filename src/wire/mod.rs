//! Packet header views and builders.
//!
//! Every protocol follows one shape, after smoltcp's `wire` module:
//!
//! * a view `Xxx<T: AsRef<[u8]>>` over a byte buffer, with `new_unchecked`,
//!   `check_len` and `new_checked`. Once `new_checked` has succeeded, no
//!   accessor can panic or read past the buffer (all offsets an accessor uses
//!   are covered by `check_len`);
//! * setters on views over `T: AsMut<[u8]>`;
//! * a `Repr` (or `emit_*` function) that writes a header into a byte slice
//!   and returns how many bytes it wrote, or an error if the slice is short.
//!
//! Field offsets live in a `field` module per protocol. Nothing here knows
//! DPDK or allocates.
#![forbid(unsafe_code)]

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod geneve;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod udp;
pub mod vxlan;

pub use arp::{ArpOp, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr, VlanTag};
pub use geneve::{GeneveHeader, GeneveOption, GeneveOptionIter, GeneveOptionRepr, GeneveRepr, Vni};
pub use icmpv4::{Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use udp::{UdpPacket, UdpRepr};
pub use vxlan::{Encapsulation, VxlanHeader, VxlanRepr};

/// Why a view could not be built or a header could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer is shorter than the header (or than a length field says).
    Truncated,
    /// A field holds a value this protocol does not allow.
    Malformed,
    /// The version field is not the one this view parses.
    BadVersion,
    /// A checksum did not verify.
    BadChecksum,
    /// An output buffer is too small for what was to be written.
    BufferTooSmall,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated",
            WireError::Malformed => "malformed",
            WireError::BadVersion => "bad version",
            WireError::BadChecksum => "bad checksum",
            WireError::BufferTooSmall => "buffer too small",
        })
    }
}

impl std::error::Error for WireError {}

/// Result type of this module.
pub type Result<T> = core::result::Result<T, WireError>;

/// IP protocol numbers used in this crate.
pub mod ip_proto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTE: u8 = 43;
    pub const IPV6_FRAG: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NONXT: u8 = 59;
    pub const IPV6_OPTS: u8 = 60;
    pub const SCTP: u8 = 132;
}

/// ECN codepoints (RFC 3168), the low two bits of the IPv4 TOS / IPv6 TC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Ecn {
    NotEct = 0b00,
    Ect1 = 0b01,
    Ect0 = 0b10,
    Ce = 0b11,
}

impl Ecn {
    /// All four codepoints.
    pub const ALL: [Ecn; 4] = [Ecn::NotEct, Ecn::Ect0, Ecn::Ect1, Ecn::Ce];

    /// The ECN field of a TOS / traffic class byte.
    #[inline]
    pub fn from_tos(tos: u8) -> Ecn {
        match tos & 0b11 {
            0b00 => Ecn::NotEct,
            0b01 => Ecn::Ect1,
            0b10 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// The two-bit value.
    #[inline]
    pub fn bits(self) -> u8 {
        self as u8
    }
}

#[inline]
pub(crate) fn rd16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline]
pub(crate) fn wr16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline]
pub(crate) fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn arr4(b: &[u8], off: usize) -> [u8; 4] {
    [b[off], b[off + 1], b[off + 2], b[off + 3]]
}

#[inline]
pub(crate) fn arr6(b: &[u8], off: usize) -> [u8; 6] {
    [
        b[off],
        b[off + 1],
        b[off + 2],
        b[off + 3],
        b[off + 4],
        b[off + 5],
    ]
}

#[inline]
pub(crate) fn arr16(b: &[u8], off: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[off..off + 16]);
    a
}
