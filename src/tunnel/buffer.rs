//! The packet buffer the tunnel code works on.
//!
//! The DPDK mbuf implements [`Buffer`] in `src/dpdk/`; [`VecBuffer`] is the
//! plain implementation used by tests and benches. Neither allocates in
//! `prepend` / `trim_front` / `trim_back`.
use super::offload::TxOffload;
use super::segment::TsoOffload;

/// Why a buffer operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// Not enough headroom to prepend.
    NoHeadroom,
    /// Asked to trim more bytes than the buffer holds.
    TooShort,
}

/// A contiguous packet buffer with headroom in front of the data.
pub trait Buffer {
    /// Bytes available in front of the data for [`prepend`](Buffer::prepend).
    fn headroom(&self) -> usize;
    /// Length of the data.
    fn len(&self) -> usize;
    /// Length of the whole packet when the buffer is a chain of which
    /// [`data`](Buffer::data) is the first part (DPDK multi-segment mbufs);
    /// `encap` works on contiguous buffers only.
    #[inline]
    fn total_len(&self) -> usize {
        self.len()
    }
    /// True when there is no data.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The data.
    fn data(&self) -> &[u8];
    /// The data, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grow the data by `n` bytes at the front, taken from the headroom, and
    /// return the whole (grown) data. The new bytes are unspecified.
    fn prepend(&mut self, n: usize) -> Result<&mut [u8], BufferError>;
    /// Like [`prepend`](Buffer::prepend) but returns only the `n` new bytes
    /// (`None`, buffer unchanged, without the headroom): the encap fast tier
    /// writes its header there without re-slicing the whole packet.
    #[inline]
    fn prepend_header(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.headroom() < n {
            return None;
        }
        self.prepend(n).ok().and_then(|d| d.get_mut(..n))
    }
    /// True when the receiving port verified the outer IPv4 header checksum
    /// and found it good (RX checksum offload); decap then skips its own
    /// check. Buffers that never came from a NIC: false.
    #[inline]
    fn rx_ipv4_checksum_good(&self) -> bool {
        false
    }
    /// True when the receiving port verified the outer UDP checksum of
    /// this tunnel packet and found it good (RX outer UDP checksum
    /// offload); the decap IPv6 fast tier then skips its own sum. Buffers
    /// that never came from a NIC: false.
    #[inline]
    fn rx_outer_udp_checksum_good(&self) -> bool {
        false
    }
    /// Remove `n` bytes from the front of the data (they become headroom).
    fn trim_front(&mut self, n: usize) -> Result<(), BufferError>;
    /// Remove `n` bytes from the end of the data.
    fn trim_back(&mut self, n: usize) -> Result<(), BufferError>;
    /// Record that the NIC finishes some checksums of this (encapsulated)
    /// packet on transmit. Buffers that never reach a NIC ignore it.
    #[inline]
    fn set_tx_offload(&mut self, _offload: &TxOffload) {}
    /// Record that the NIC segments this encapsulated packet (Geneve TSO);
    /// replaces what [`set_tx_offload`](Buffer::set_tx_offload) recorded.
    #[inline]
    fn set_tso(&mut self, _offload: &TsoOffload) {}
}

/// A `Vec`-backed [`Buffer`]: storage is allocated once at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecBuffer {
    storage: Vec<u8>,
    start: usize,
    end: usize,
    /// The TX metadata `encap` set, if any.
    tx_offload: Option<TxOffload>,
    /// The TSO metadata `encap_tso` set, if any.
    tso: Option<TsoOffload>,
}

impl VecBuffer {
    /// A buffer holding a copy of `data` with `headroom` bytes in front.
    pub fn with_headroom(headroom: usize, data: &[u8]) -> VecBuffer {
        let mut storage = vec![0u8; headroom + data.len()];
        storage[headroom..].copy_from_slice(data);
        VecBuffer {
            storage,
            start: headroom,
            end: headroom + data.len(),
            tx_offload: None,
            tso: None,
        }
    }

    /// Refill with `data`, `headroom` bytes from the start, reusing storage
    /// when it is large enough (no allocation then). Used by benches to
    /// reset a buffer between iterations.
    pub fn reset(&mut self, headroom: usize, data: &[u8]) {
        let need = headroom + data.len();
        if self.storage.len() < need {
            self.storage.resize(need, 0);
        }
        self.storage[headroom..need].copy_from_slice(data);
        self.start = headroom;
        self.end = need;
        self.tx_offload = None;
        self.tso = None;
    }

    /// Restore the data window to `[headroom, headroom + len)` without
    /// copying (benches: undo an encap/decap whose bytes we do not need).
    pub fn set_window(&mut self, headroom: usize, len: usize) {
        let end = (headroom + len).min(self.storage.len());
        self.start = headroom.min(end);
        self.end = end;
    }

    /// Copy of the data.
    pub fn to_vec(&self) -> Vec<u8> {
        self.data().to_vec()
    }

    /// The TX metadata `encap` set (`None`: software did everything).
    pub fn tx_offload(&self) -> Option<TxOffload> {
        self.tx_offload
    }

    /// The TSO metadata `encap_tso` set (`None`: not for the NIC to segment).
    pub fn tso(&self) -> Option<TsoOffload> {
        self.tso
    }
}

impl Buffer for VecBuffer {
    #[inline]
    fn headroom(&self) -> usize {
        self.start
    }
    #[inline]
    fn len(&self) -> usize {
        self.end - self.start
    }
    #[inline]
    fn data(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.end]
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> Result<&mut [u8], BufferError> {
        if n > self.start {
            return Err(BufferError::NoHeadroom);
        }
        self.start -= n;
        Ok(&mut self.storage[self.start..self.end])
    }
    #[inline]
    fn prepend_header(&mut self, n: usize) -> Option<&mut [u8]> {
        let start = self.start.checked_sub(n)?;
        self.start = start;
        self.storage.get_mut(start..start + n)
    }
    #[inline]
    fn trim_front(&mut self, n: usize) -> Result<(), BufferError> {
        if n > self.len() {
            return Err(BufferError::TooShort);
        }
        self.start += n;
        Ok(())
    }
    #[inline]
    fn trim_back(&mut self, n: usize) -> Result<(), BufferError> {
        if n > self.len() {
            return Err(BufferError::TooShort);
        }
        self.end -= n;
        Ok(())
    }
    #[inline]
    fn set_tx_offload(&mut self, offload: &TxOffload) {
        self.tx_offload = Some(*offload);
    }
    #[inline]
    fn set_tso(&mut self, offload: &TsoOffload) {
        self.tx_offload = None;
        self.tso = Some(*offload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_trim() {
        let mut b = VecBuffer::with_headroom(4, b"abc");
        assert_eq!((b.headroom(), b.len()), (4, 3));
        assert_eq!(b.prepend(5).err(), Some(BufferError::NoHeadroom));
        b.prepend(2).unwrap()[..2].copy_from_slice(b"xy");
        assert_eq!(b.data(), b"xyabc");
        assert_eq!(b.headroom(), 2);
        b.trim_front(1).unwrap();
        b.trim_back(1).unwrap();
        assert_eq!(b.data(), b"yab");
        assert_eq!(b.trim_front(4).err(), Some(BufferError::TooShort));
        assert_eq!(b.trim_back(4).err(), Some(BufferError::TooShort));
        b.reset(1, b"zz");
        assert_eq!((b.data(), b.headroom()), (&b"zz"[..], 1));
        b.set_window(0, 3);
        assert_eq!(b.len(), 3);
        assert!(!b.is_empty());
    }
}
