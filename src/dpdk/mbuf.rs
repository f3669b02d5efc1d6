//! An owned packet buffer.
use std::ptr::NonNull;

/// One packet: an `rte_mbuf` and its segment chain, owned. Dropping it frees
/// the whole chain back to its pool.
#[repr(transparent)]
pub struct Mbuf {
    ptr: NonNull<dpdk_sys::rte_mbuf>,
}

// SAFETY: an Mbuf is exclusively owned; DPDK allows freeing an mbuf on any
// lcore (the mempool is thread-safe).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` must be a valid mbuf that nobody else owns or will free.
    pub(crate) unsafe fn from_raw(ptr: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf { ptr }
    }

    fn raw(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole life.
        unsafe { self.ptr.as_ref() }
    }

    fn raw_mut(&mut self) -> &mut dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf exclusively for its whole life.
        unsafe { self.ptr.as_mut() }
    }

    /// Bytes of the first segment.
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's data
        // buffer (an mbuf invariant kept by DPDK and by every method here).
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// Bytes of the first segment, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in data(); we hold the only reference to this mbuf.
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// Length of the first segment.
    pub fn data_len(&self) -> usize {
        self.raw().data_len as usize
    }

    /// Length of the whole packet (all segments).
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    pub fn segments(&self) -> u16 {
        self.raw().nb_segs
    }

    pub fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// Free bytes in front of the data.
    pub fn headroom(&self) -> usize {
        self.raw().data_off as usize
    }

    /// Free bytes after the data of the last segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        // SAFETY: valid mbuf owned by self.
        unsafe { dpdk_sys::rte_pktmbuf_tailroom(self.ptr.as_ptr()) as usize }
    }

    /// Grows the packet at the front by `n` bytes and returns them; `None`
    /// (packet unchanged) when the headroom is too small. Done on the mbuf
    /// fields here (what rte_pktmbuf_prepend does) to keep FFI calls off
    /// the per-packet path.
    #[inline]
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.raw_mut();
        let n16 = u16::try_from(n).ok()?;
        if n16 > m.data_off {
            return None;
        }
        m.data_off -= n16;
        m.data_len += n16;
        m.pkt_len += u32::from(n16);
        // SAFETY: the n bytes before the old data start lie in the headroom of
        // the first segment's buffer (checked against data_off above).
        Some(unsafe {
            std::slice::from_raw_parts_mut((m.buf_addr as *mut u8).add(m.data_off as usize), n)
        })
    }

    /// Removes `n` bytes from the front; false (unchanged) if the first
    /// segment is shorter than `n` (as rte_pktmbuf_adj, without the FFI call).
    #[inline]
    pub fn trim_front(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        if n16 > m.data_len {
            return false;
        }
        m.data_off += n16;
        m.data_len -= n16;
        m.pkt_len -= u32::from(n16);
        true
    }

    /// Grows the packet at the end by `n` bytes (last segment); `None` if
    /// there is no tailroom.
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: valid mbuf owned exclusively; DPDK checks the tailroom.
        let p = unsafe { dpdk_sys::rte_pktmbuf_append(self.ptr.as_ptr(), n16) };
        if p.is_null() {
            return None;
        }
        // SAFETY: p points at n fresh bytes at the end of the last segment.
        Some(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n) })
    }

    /// Removes `n` bytes from the end; false (unchanged) if the last segment
    /// is shorter than `n`.
    #[inline]
    pub fn trim_back(&mut self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if self.is_contiguous() {
            let m = self.raw_mut();
            let Ok(n16) = u16::try_from(n) else {
                return false;
            };
            if n16 > m.data_len {
                return false;
            }
            m.data_len -= n16;
            m.pkt_len -= u32::from(n16);
            return true;
        }
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid mbuf owned exclusively; DPDK checks the length.
        unsafe { dpdk_sys::rte_pktmbuf_trim(self.ptr.as_ptr(), n16) == 0 }
    }

    /// Hints the CPU to fetch the first cache line of the packet data.
    #[inline(always)]
    pub fn prefetch_data(&self) {
        let m = self.raw();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch is a hint; it never faults, even on a bad address,
        // and buf_addr + data_off is inside the mbuf's buffer anyway.
        #[allow(unused_unsafe)]
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((m.buf_addr as *const i8).add(m.data_off as usize));
        }
    }

    /// The RSS hash the NIC computed, if it did.
    pub fn rss_hash(&self) -> Option<u32> {
        let m = self.raw();
        if m.ol_flags & u64::from(dpdk_sys::RTE_MBUF_F_RX_RSS_HASH) != 0 {
            // SAFETY: the RSS_HASH flag says the `rss` member of the union is set.
            Some(unsafe { m.__bindgen_anon_2.hash.rss })
        } else {
            None
        }
    }

    /// The MARK id an rte_flow rule put on this packet, if one did (the
    /// gateway's decap rules mark with the VNI).
    #[inline]
    pub fn flow_mark(&self) -> Option<u32> {
        let m = self.raw();
        if m.ol_flags & u64::from(dpdk_sys::RTE_MBUF_F_RX_FDIR_ID) != 0 {
            // SAFETY: the FDIR_ID flag says the PMD stored the mark in `fdir.hi`.
            Some(unsafe { m.__bindgen_anon_2.hash.fdir.hi })
        } else {
            None
        }
    }

    /// The port this packet arrived on.
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf and its chain; nobody else frees it.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.ptr.as_ptr()) };
    }
}

impl Mbuf {
    /// A deep copy of the whole packet from `pool` (for flooding), or `None`
    /// when the pool is empty.
    pub fn deep_copy(&self, pool: &super::Mempool) -> Option<Mbuf> {
        // SAFETY: self is a valid mbuf; pool is a live pktmbuf pool; the copy
        // (if any) is a fresh mbuf chain owned by nobody else.
        let p =
            unsafe { dpdk_sys::rte_pktmbuf_copy(self.ptr.as_ptr(), pool.as_ptr(), 0, u32::MAX) };
        // SAFETY: a non-null result is a new mbuf we own.
        NonNull::new(p).map(|p| unsafe { Mbuf::from_raw(p) })
    }

    /// Moves the first segment's data `n` bytes towards the end of its buffer,
    /// turning tailroom into headroom. Only for single-segment packets.
    fn shift_back(&mut self, n: usize) -> bool {
        if !self.is_contiguous() || self.tailroom() < n {
            return false;
        }
        let m = self.raw_mut();
        let len = m.data_len as usize;
        // SAFETY: source [data_off, data_off+len) and destination
        // [data_off+n, data_off+n+len) both lie inside the buffer (tailroom >= n);
        // ptr::copy handles the overlap.
        unsafe {
            let base = (m.buf_addr as *mut u8).add(m.data_off as usize);
            std::ptr::copy(base, base.add(n), len);
        }
        m.data_off += n as u16;
        true
    }
}

/// The mbuf as the tunnel code's buffer. Works on the first segment: the
/// gateway's packets are single-segment (jumbo frames are handled by `forward`
/// only); a chained mbuf reports only its first segment.
impl crate::tunnel::Buffer for Mbuf {
    fn headroom(&self) -> usize {
        Mbuf::headroom(self)
    }

    fn len(&self) -> usize {
        self.data_len()
    }

    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }

    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }

    fn prepend(&mut self, n: usize) -> Result<&mut [u8], crate::tunnel::BufferError> {
        // Outer headers with long options can exceed DPDK's 128-byte headroom:
        // then the data moves back into the tailroom first.
        if Mbuf::headroom(self) < n {
            let need = n - Mbuf::headroom(self);
            if !self.shift_back(need) {
                return Err(crate::tunnel::BufferError::NoHeadroom);
            }
        }
        if Mbuf::prepend(self, n).is_none() {
            return Err(crate::tunnel::BufferError::NoHeadroom);
        }
        Ok(Mbuf::data_mut(self))
    }

    fn trim_front(&mut self, n: usize) -> Result<(), crate::tunnel::BufferError> {
        if Mbuf::trim_front(self, n) {
            Ok(())
        } else {
            Err(crate::tunnel::BufferError::TooShort)
        }
    }

    fn trim_back(&mut self, n: usize) -> Result<(), crate::tunnel::BufferError> {
        if n == 0 || Mbuf::trim_back(self, n) {
            Ok(())
        } else {
            Err(crate::tunnel::BufferError::TooShort)
        }
    }
}
