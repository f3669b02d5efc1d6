//! Ethernet II frames with up to two 802.1Q / 802.1ad tags.
//!
//! ```text
//!  0                   1                   2                   3
//! +-------------------------------+-------------------------------+
//! |                  Destination MAC (6 bytes)                    |
//! +                               +-------------------------------+
//! |                               |                               |
//! +-------------------------------+                               +
//! |                    Source MAC (6 bytes)                       |
//! +-------------------------------+-------------------------------+
//! | TPID 0x8100/0x88a8 (optional) | PCP|D| VID (optional)         |
//! +-------------------------------+-------------------------------+
//! |           EtherType           |   payload ...
//! ```
use super::{arr6, rd16, wr16, Result, WireError};

/// A MAC address: its six bytes in wire order. The one MAC address type
/// of the crate (configuration, tables, packets); [`parse_mac`] reads the
/// text form, [`MacDisplay`] writes it.
pub type MacAddr = [u8; 6];

/// Why a MAC address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacParseError;

impl core::fmt::Display for MacParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("expected six hex bytes separated by ':' or '-', e.g. 02:00:5e:00:00:01")
    }
}

/// Reads `02:00:5e:00:00:01` (or with `-`), case-insensitive.
pub fn parse_mac(s: &str) -> core::result::Result<MacAddr, MacParseError> {
    let sep = if s.contains('-') { '-' } else { ':' };
    let mut out = [0u8; 6];
    let mut n = 0;
    for part in s.split(sep) {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return Err(MacParseError);
        }
        out[n] = u8::from_str_radix(part, 16).map_err(|_| MacParseError)?;
        n += 1;
    }
    if n == 6 {
        Ok(out)
    } else {
        Err(MacParseError)
    }
}

/// True for a group (multicast or broadcast) address.
pub fn is_group_mac(m: &MacAddr) -> bool {
    m[0] & 1 == 1
}

/// Writes a MAC address as `02:00:5e:00:00:01`.
pub struct MacDisplay<'a>(pub &'a MacAddr);

impl core::fmt::Display for MacDisplay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Ethernet header length without tags.
pub const HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;
/// Most VLAN tags a view will skip (QinQ).
pub const MAX_VLAN_TAGS: usize = 2;

/// EtherType values used in this crate.
pub struct EtherType;
impl EtherType {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    /// Transparent Ethernet Bridging: the Geneve protocol type for an inner frame.
    pub const TEB: u16 = 0x6558;
}

mod field {
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const TYPE: usize = 12;
}

/// An 802.1Q tag: TPID and TCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    pub tpid: u16,
    pub tci: u16,
}

impl VlanTag {
    /// VLAN identifier (12 bits).
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
    /// Priority code point (3 bits).
    pub fn pcp(&self) -> u8 {
        (self.tci >> 13) as u8
    }
}

/// A checked view of an Ethernet frame. VLAN tags (up to two) are skipped:
/// [`EthernetFrame::ethertype`] is the type after the tags.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
    tags: u8,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap and check the buffer: the header and every tag must be present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let mut tags = 0u8;
        let mut off = field::TYPE;
        loop {
            let t = rd16(b, off);
            if t != EtherType::VLAN && t != EtherType::QINQ {
                break;
            }
            if usize::from(tags) == MAX_VLAN_TAGS {
                return Err(WireError::Malformed);
            }
            if b.len() < off + VLAN_TAG_LEN + 2 {
                return Err(WireError::Truncated);
            }
            tags += 1;
            off += VLAN_TAG_LEN;
        }
        Ok(EthernetFrame { buffer, tags })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn dst(&self) -> MacAddr {
        arr6(self.buffer.as_ref(), field::DST)
    }
    pub fn src(&self) -> MacAddr {
        arr6(self.buffer.as_ref(), field::SRC)
    }
    /// Number of VLAN tags skipped (0..=2).
    pub fn vlan_count(&self) -> usize {
        usize::from(self.tags)
    }
    /// The `i`-th VLAN tag, outermost first.
    pub fn vlan(&self, i: usize) -> Option<VlanTag> {
        if i >= self.vlan_count() {
            return None;
        }
        let b = self.buffer.as_ref();
        let off = field::TYPE + i * VLAN_TAG_LEN;
        Some(VlanTag {
            tpid: rd16(b, off),
            tci: rd16(b, off + 2),
        })
    }
    /// EtherType after any VLAN tags.
    pub fn ethertype(&self) -> u16 {
        rd16(self.buffer.as_ref(), self.header_len() - 2)
    }
    /// Header length including tags.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.vlan_count() * VLAN_TAG_LEN
    }
    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::DST..field::DST + 6].copy_from_slice(&m);
    }
    pub fn set_src(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 6].copy_from_slice(&m);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}

/// Locate the L3 header of an Ethernet frame without building a view:
/// `(ethertype, offset)`. Used on hot paths.
#[inline]
pub fn l3_offset(frame: &[u8]) -> Option<(u16, usize)> {
    let mut off = field::TYPE;
    let mut t = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    let mut n = 0;
    while t == EtherType::VLAN || t == EtherType::QINQ {
        if n == MAX_VLAN_TAGS {
            return None;
        }
        n += 1;
        off += VLAN_TAG_LEN;
        t = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    Some((t, off + 2))
}

/// An Ethernet header to emit, with an optional 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub vlan: Option<VlanTag>,
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Length of the header this repr emits.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.vlan.is_some() { VLAN_TAG_LEN } else { 0 }
    }

    /// Parse the header of a checked frame (first tag only).
    pub fn parse<T: AsRef<[u8]>>(f: &EthernetFrame<T>) -> EthernetRepr {
        EthernetRepr {
            dst: f.dst(),
            src: f.src(),
            vlan: f.vlan(0),
            ethertype: f.ethertype(),
        }
    }

    /// Write the header to the start of `buf`; returns bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.header_len();
        if buf.len() < n {
            return Err(WireError::BufferTooSmall);
        }
        buf[0..6].copy_from_slice(&self.dst);
        buf[6..12].copy_from_slice(&self.src);
        let mut off = 12;
        if let Some(v) = self.vlan {
            wr16(buf, off, v.tpid);
            wr16(buf, off + 2, v.tci);
            off += 4;
        }
        wr16(buf, off, self.ethertype);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let m = parse_mac("02:00:5E:00:00:01").unwrap();
        assert_eq!(m, [2, 0, 0x5e, 0, 0, 1]);
        assert_eq!(MacDisplay(&m).to_string(), "02:00:5e:00:00:01");
        assert_eq!(parse_mac("02-00-5e-00-00-01"), Ok(m));
        for bad in [
            "",
            "02:00:5e:00:00",
            "02:00:5e:00:00:01:02",
            "02:00:5e:00:00:zz",
            "020:0:5e:00:00:01",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        assert!(is_group_mac(&parse_mac("ff:ff:ff:ff:ff:ff").unwrap()));
        assert!(!is_group_mac(&m));
    }

    #[test]
    fn parse_tagged() {
        let mut f = vec![0u8; 64];
        let r = EthernetRepr {
            dst: [1, 2, 3, 4, 5, 6],
            src: [7, 8, 9, 10, 11, 12],
            vlan: Some(VlanTag {
                tpid: EtherType::VLAN,
                tci: 0x6064,
            }),
            ethertype: EtherType::IPV4,
        };
        assert_eq!(r.emit(&mut f).unwrap(), 18);
        let v = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(v.ethertype(), EtherType::IPV4);
        assert_eq!(v.vlan(0).unwrap().vid(), 100);
        assert_eq!(v.vlan(0).unwrap().pcp(), 3);
        assert_eq!(v.header_len(), 18);
        assert_eq!(EthernetRepr::parse(&v), r);
        assert_eq!(l3_offset(&f), Some((EtherType::IPV4, 18)));
    }

    #[test]
    fn truncated_and_too_many_tags() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).err(),
            Some(WireError::Truncated)
        );
        let mut f = [0u8; 14];
        f[12] = 0x81;
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).err(),
            Some(WireError::Truncated)
        );
        let mut f = vec![0u8; 40];
        for i in 0..3 {
            f[12 + 4 * i] = 0x81;
        }
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).err(),
            Some(WireError::Malformed)
        );
        assert_eq!(l3_offset(&f), None);
        for n in 0..40 {
            let _ = EthernetFrame::new_checked(&f[..n]).map(|v| (v.payload().len(), v.ethertype()));
            let _ = l3_offset(&f[..n]);
        }
    }
}
