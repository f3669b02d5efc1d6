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

    /// Makes a chained packet one segment (DPDK's `rte_pktmbuf_linearize`:
    /// the later segments are copied into the first one's tailroom and
    /// freed). False, and the chain left as it was, when the first
    /// segment has too little room. No allocation.
    pub fn linearize(&mut self) -> bool {
        if self.is_contiguous() {
            return true;
        }
        // SAFETY: ptr is a valid mbuf chain owned by self; linearize only
        // moves data inside it and frees the segments it emptied.
        unsafe { dpdk_sys::geneve_pktmbuf_linearize(self.ptr.as_ptr()) == 0 }
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

    /// Sets the length of a fresh single-segment mbuf to `n` bytes and returns
    /// them (contents undefined); `None` (unchanged) if the buffer is too
    /// small or the mbuf is chained. Field writes only, no FFI call: the
    /// traffic generator does this per packet.
    #[inline]
    pub fn set_len(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.raw_mut();
        let n16 = u16::try_from(n).ok()?;
        if m.nb_segs != 1 || usize::from(m.data_off) + n > usize::from(m.buf_len) {
            return None;
        }
        m.data_len = n16;
        m.pkt_len = u32::from(n16);
        Some(self.data_mut())
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

    /// True when the port verified the (outer) IPv4 header checksum of
    /// this packet and found it good (`RTE_MBUF_F_RX_IP_CKSUM_GOOD`: the
    /// port's RX IPv4 checksum offload is on). Unknown, bad or not verified:
    /// false, and software checks it.
    #[inline]
    pub fn rx_ipv4_checksum_good(&self) -> bool {
        self.raw().ol_flags & u64::from(dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_MASK)
            == u64::from(dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD)
    }

    /// True when the port verified the outer UDP checksum of this (tunnel)
    /// packet and found it good (`RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD`: the
    /// port's RX outer UDP checksum offload is on and it parsed the
    /// tunnel). The plain L4 flags are not read: for a packet the port
    /// took for a tunnel they speak of the inner header. Unknown, bad or
    /// not verified: false, and software checks it.
    #[inline]
    pub fn rx_outer_udp_checksum_good(&self) -> bool {
        outer_udp_checksum_good(self.raw().ol_flags)
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

    /// The packed `tx_offload` word (l2_len, l3_len, l4_len, tso_segsz,
    /// outer_l3_len, outer_l2_len).
    pub fn tx_offload_word(&self) -> u64 {
        // SAFETY: every variant of the union is plain integers over the same
        // 8 bytes; any bit pattern is a valid u64.
        unsafe { self.raw().__bindgen_anon_3.tx_offload }
    }

    /// Sets the TX offload metadata: `ol_flags` TX bits replaced by
    /// `tx_flags`, and the header lengths packed as `rte_mbuf_tx_offload()`
    /// does. Plain field stores: no FFI per packet.
    #[inline]
    pub fn set_tx_metadata(&mut self, tx_flags: u64, lens: TxLengths) {
        let m = self.raw_mut();
        m.ol_flags = (m.ol_flags & !dpdk_sys::RTE_MBUF_F_TX_OFFLOAD_MASK) | tx_flags;
        m.__bindgen_anon_3.tx_offload = lens.packed();
    }
}

/// Header lengths for TX offloads (the fields of `rte_mbuf`'s `tx_offload`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxLengths {
    pub l2_len: u8,
    pub l3_len: u16,
    pub l4_len: u8,
    pub tso_segsz: u16,
    pub outer_l2_len: u8,
    pub outer_l3_len: u16,
}

impl TxLengths {
    /// The packed word, at DPDK's `RTE_MBUF_*_OFS` bit offsets.
    #[inline(always)]
    pub fn packed(&self) -> u64 {
        u64::from(self.l2_len & 0x7f)
            | (u64::from(self.l3_len & 0x1ff) << 7)
            | (u64::from(self.l4_len) << 16)
            | (u64::from(self.tso_segsz) << 24)
            | (u64::from(self.outer_l3_len & 0x1ff) << 40)
            | (u64::from(self.outer_l2_len & 0x7f) << 49)
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

    /// Copies the whole packet, across its segment chain, to the front of
    /// `out`; returns its length, or `None` when `out` is too short.
    pub fn read_into(&self, out: &mut [u8]) -> Option<usize> {
        let total = self.pkt_len();
        if out.len() < total {
            return None;
        }
        let mut off = 0;
        let mut seg: *const dpdk_sys::rte_mbuf = self.ptr.as_ptr();
        while !seg.is_null() && off < total {
            // SAFETY: seg is this packet's first mbuf or a `next` link of
            // its chain, all owned by self and valid while self lives.
            let m = unsafe { &*seg };
            let n = usize::from(m.data_len).min(total - off);
            // SAFETY: buf_addr + data_off .. + data_len lies inside the
            // segment's data buffer (mbuf invariant).
            let data = unsafe {
                std::slice::from_raw_parts((m.buf_addr as *const u8).add(m.data_off as usize), n)
            };
            out[off..off + n].copy_from_slice(data);
            off += n;
            seg = m.next;
        }
        (off == total).then_some(total)
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
/// gateway's pool holds a frame of the largest port MTU in one mbuf, and the
/// worker linearizes a chain ([`Mbuf::linearize`]) before its general tier;
/// a chained mbuf reports only its first segment.
impl crate::tunnel::Buffer for Mbuf {
    fn headroom(&self) -> usize {
        Mbuf::headroom(self)
    }

    fn len(&self) -> usize {
        self.data_len()
    }

    #[inline]
    fn total_len(&self) -> usize {
        self.pkt_len()
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

    #[inline]
    fn rx_ipv4_checksum_good(&self) -> bool {
        Mbuf::rx_ipv4_checksum_good(self)
    }

    #[inline]
    fn rx_outer_udp_checksum_good(&self) -> bool {
        Mbuf::rx_outer_udp_checksum_good(self)
    }

    #[inline]
    fn prepend_header(&mut self, n: usize) -> Option<&mut [u8]> {
        Mbuf::prepend(self, n)
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

    /// The outer headers described as a plain packet (see `tunnel::offload`).
    #[inline]
    fn set_tx_offload(&mut self, o: &crate::tunnel::TxOffload) {
        let mut f = if o.ipv6 {
            dpdk_sys::RTE_MBUF_F_TX_IPV6
        } else {
            dpdk_sys::RTE_MBUF_F_TX_IPV4
        };
        if o.ip_checksum {
            f |= dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM;
        }
        if o.udp_checksum {
            f |= dpdk_sys::RTE_MBUF_F_TX_UDP_CKSUM;
        }
        self.set_tx_metadata(
            f,
            TxLengths {
                l2_len: o.l2_len,
                l3_len: u16::from(o.l3_len),
                l4_len: o.l4_len,
                ..TxLengths::default()
            },
        );
    }

    /// Geneve TSO: replaces the checksum-offload metadata.
    #[inline]
    fn set_tso(&mut self, o: &crate::tunnel::TsoOffload) {
        self.set_tx_metadata(tso_flags(o), tso_lengths(o));
    }
}

/// The `ol_flags` of a Geneve packet the NIC segments: `OUTER_IPV4` /
/// `OUTER_IP_CKSUM`, `TUNNEL_GENEVE`, the inner `IPV4`/`IP_CKSUM` and
/// `TCP_SEG`, as DPDK 22.11's tunnel TSO expects them. `TCP_SEG` implies the inner TCP checksum (DPDK); the inner IPv4 and outer
/// IPv4 header checksums are rewritten per segment, so both are requested.
pub fn tso_flags(o: &crate::tunnel::TsoOffload) -> u64 {
    let outer = if o.outer_ipv6 {
        dpdk_sys::RTE_MBUF_F_TX_OUTER_IPV6
    } else {
        dpdk_sys::RTE_MBUF_F_TX_OUTER_IPV4 | dpdk_sys::RTE_MBUF_F_TX_OUTER_IP_CKSUM
    };
    let inner = if o.inner_ipv6 {
        dpdk_sys::RTE_MBUF_F_TX_IPV6
    } else {
        dpdk_sys::RTE_MBUF_F_TX_IPV4 | dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM
    };
    outer
        | inner
        | dpdk_sys::RTE_MBUF_F_TX_TUNNEL_GENEVE
        | dpdk_sys::RTE_MBUF_F_TX_TCP_SEG
        | dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM
}

/// The length fields of a Geneve TSO packet.
pub fn tso_lengths(o: &crate::tunnel::TsoOffload) -> TxLengths {
    TxLengths {
        l2_len: o.l2_len,
        l3_len: o.l3_len,
        l4_len: o.l4_len,
        tso_segsz: o.tso_segsz,
        outer_l2_len: o.outer_l2_len,
        outer_l3_len: o.outer_l3_len,
    }
}

#[cfg(test)]
mod tests {
    use super::TxLengths;

    #[test]
    fn geneve_tso_flags_and_lengths() {
        use dpdk_sys::*;
        let o = crate::tunnel::TsoOffload {
            outer_l2_len: 14,
            outer_l3_len: 20,
            l2_len: 8 + 16 + 14,
            l3_len: 20,
            l4_len: 32,
            tso_segsz: 1390,
            outer_ipv6: false,
            inner_ipv6: false,
        };
        assert_eq!(
            super::tso_flags(&o),
            RTE_MBUF_F_TX_OUTER_IPV4
                | RTE_MBUF_F_TX_OUTER_IP_CKSUM
                | RTE_MBUF_F_TX_TUNNEL_GENEVE
                | RTE_MBUF_F_TX_IPV4
                | RTE_MBUF_F_TX_IP_CKSUM
                | RTE_MBUF_F_TX_TCP_SEG
                | RTE_MBUF_F_TX_TCP_CKSUM
        );
        let l = super::tso_lengths(&o);
        assert_eq!(
            (
                l.outer_l2_len,
                l.outer_l3_len,
                l.l2_len,
                l.l3_len,
                l.l4_len,
                l.tso_segsz
            ),
            (14, 20, 38, 20, 32, 1390)
        );
        let v6 = crate::tunnel::TsoOffload {
            outer_l3_len: 40,
            l3_len: 40,
            outer_ipv6: true,
            inner_ipv6: true,
            ..o
        };
        assert_eq!(
            super::tso_flags(&v6),
            RTE_MBUF_F_TX_OUTER_IPV6
                | RTE_MBUF_F_TX_TUNNEL_GENEVE
                | RTE_MBUF_F_TX_IPV6
                | RTE_MBUF_F_TX_TCP_SEG
                | RTE_MBUF_F_TX_TCP_CKSUM
        );
    }

    #[test]
    fn tx_lengths_pack_like_rte_mbuf_tx_offload() {
        let l = TxLengths {
            l2_len: 14,
            l3_len: 40,
            l4_len: 8,
            tso_segsz: 1400,
            outer_l2_len: 18,
            outer_l3_len: 20,
        };
        // Offsets and widths from rte_mbuf_core.h (RTE_MBUF_L2_LEN_OFS ...).
        let expect = 14u64
            | 40 << dpdk_sys::RTE_MBUF_L3_LEN_OFS
            | 8 << dpdk_sys::RTE_MBUF_L4_LEN_OFS
            | 1400 << dpdk_sys::RTE_MBUF_TSO_SEGSZ_OFS
            | 20 << dpdk_sys::RTE_MBUF_OUTL3_LEN_OFS
            | 18 << dpdk_sys::RTE_MBUF_OUTL2_LEN_OFS;
        assert_eq!(l.packed(), expect);
    }
}

/// Whether mbuf offload flags `ol_flags` say the outer UDP checksum is
/// good (both bits of the two-bit field: good, not bad and not "none").
#[inline(always)]
fn outer_udp_checksum_good(ol_flags: u64) -> bool {
    ol_flags & u64::from(dpdk_sys::RTE_MBUF_F_RX_OUTER_L4_CKSUM_MASK)
        == u64::from(dpdk_sys::RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD)
}

#[cfg(test)]
mod outer_checksum_tests {
    use super::outer_udp_checksum_good;

    /// Only the GOOD value of the outer L4 field counts (DPDK's
    /// `rte_mbuf_core.h`: bits 21-22, UNKNOWN 0, BAD bit 21, GOOD bit
    /// 22, NONE both); the inner L4 flags (bits 3 and 8) never do.
    #[test]
    fn only_the_outer_good_value_is_trusted() {
        assert!(outer_udp_checksum_good(1 << 22));
        assert!(outer_udp_checksum_good((1 << 22) | (1 << 8) | (1 << 7)));
        for flags in [
            0,
            1 << 21,
            (1 << 21) | (1 << 22),
            1 << 8,
            (1 << 8) | (1 << 3),
        ] {
            assert!(!outer_udp_checksum_good(flags), "{flags:#x}");
        }
    }
}
