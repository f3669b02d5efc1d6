//! Fixed-size bursts of owned mbufs: no heap allocation per call. The
//! container only; receiving into and sending from it is `rxtx`.
use std::mem::MaybeUninit;

use super::mbuf::Mbuf;

/// Burst size used across the data plane (DPDK's customary 32).
pub const BURST_SIZE: usize = 32;

/// Up to `N` owned mbufs. RX appends at the back; TX takes from the front and
/// leaves what the PMD refused, so an mbuf is never freed twice or lost.
pub struct Burst<const N: usize = BURST_SIZE> {
    slots: [MaybeUninit<Mbuf>; N],
    len: usize,
}

impl<const N: usize> Default for Burst<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Burst<N> {
    pub fn new() -> Self {
        Burst {
            slots: [const { MaybeUninit::uninit() }; N],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// The owned mbufs.
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: slots[..len] are initialised (invariant of Burst).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr() as *const Mbuf, self.len) }
    }

    /// The owned mbufs, writable.
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: slots[..len] are initialised (invariant of Burst); the
        // exclusive borrow of self covers them.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// Fills the burst up to `n` mbufs with fresh ones from `pool` in one
    /// bulk call (all or nothing); false when the pool has too few.
    pub fn alloc_from(&mut self, pool: &super::Mempool, n: usize) -> bool {
        let want = n.min(N).saturating_sub(self.len);
        if want == 0 {
            return true;
        }
        let (slots, _) = self.rx_slots();
        // SAFETY: slots points at N - len >= want free slots; on success the
        // pool wrote `want` valid, reset mbufs that we now own; on failure it
        // wrote nothing.
        let rc = unsafe { dpdk_sys::rte_pktmbuf_alloc_bulk(pool.as_ptr(), slots, want as u32) };
        if rc != 0 {
            return false;
        }
        // SAFETY: as above, `want` slots after len are now valid owned mbufs.
        unsafe { self.rx_filled(want) };
        true
    }

    /// Adds an mbuf; gives it back when the burst is full.
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == N {
            return Err(m);
        }
        self.slots[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Moves every mbuf of `other` to the back of `self`, as many as fit;
    /// returns how many moved (the rest stay in `other`, at its front).
    pub fn append_from(&mut self, other: &mut Burst<N>) -> usize {
        self.append_first(other, other.len)
    }

    /// Moves the first `n` mbufs of `other` to the back of `self`, as many
    /// as fit; returns how many moved (the rest of `other` shifts to its
    /// front).
    pub fn append_first(&mut self, other: &mut Burst<N>, n: usize) -> usize {
        let n = (N - self.len).min(other.len).min(n);
        // SAFETY: other's first n slots are initialised and self has n free
        // slots after len; the regions belong to different arrays. Ownership
        // moves: other forgets them by shifting its remainder down.
        unsafe {
            std::ptr::copy_nonoverlapping(
                other.slots.as_ptr(),
                self.slots.as_mut_ptr().add(self.len),
                n,
            );
        }
        self.len += n;
        other.forget_front(n);
        n
    }

    /// Hands every mbuf, in order, to `f`, leaving the burst empty. The
    /// packet data a few mbufs ahead is prefetched (as l3fwd does), so the
    /// first touch of each header does not stall.
    #[inline]
    pub fn drain_each(&mut self, mut f: impl FnMut(Mbuf)) {
        const AHEAD: usize = 4;
        let len = self.len;
        self.len = 0;
        for m in self.as_slice_upto(len.min(AHEAD)) {
            m.prefetch_data();
        }
        for i in 0..len {
            if i + AHEAD < len {
                // SAFETY: slot i + AHEAD < len is initialised and not yet moved out.
                unsafe { self.slots[i + AHEAD].assume_init_ref() }.prefetch_data();
            }
            // SAFETY: slots[..len] were initialised and len is already 0, so
            // each mbuf is moved out exactly once.
            f(unsafe { self.slots[i].assume_init_read() });
        }
    }

    /// Runs `f` on the mbufs in place, in order, while it returns true;
    /// returns how many it took (they stay at the front of the burst, for
    /// [`TxBuffer::append_front`](super::TxBuffer::append_front)).
    /// Prefetches as [`drain_each`](Self::drain_each).
    #[inline]
    pub fn update_while(&mut self, mut f: impl FnMut(&mut Mbuf) -> bool) -> usize {
        const AHEAD: usize = 4;
        let len = self.len;
        for m in self.as_slice_upto(len.min(AHEAD)) {
            m.prefetch_data();
        }
        let slots = self.as_mut_slice();
        for i in 0..len {
            if let Some(m) = slots.get(i + AHEAD) {
                m.prefetch_data();
            }
            if !f(&mut slots[i]) {
                return i;
            }
        }
        len
    }

    fn as_slice_upto(&self, n: usize) -> &[Mbuf] {
        // SAFETY: callers pass n <= the number of initialised slots.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr() as *const Mbuf, n) }
    }

    /// Frees every mbuf with one bulk call (`rte_pktmbuf_free_bulk`): cheaper
    /// than one free per packet for a sink that drops what it read.
    pub fn free_bulk(&mut self) {
        let len = self.len;
        if len == 0 {
            return;
        }
        self.len = 0;
        // SAFETY: slots[..len] are owned, valid mbufs (Mbuf is repr(transparent)
        // over the pointer); len is already 0, so none is freed again.
        unsafe {
            dpdk_sys::rte_pktmbuf_free_bulk(
                self.slots.as_mut_ptr() as *mut *mut dpdk_sys::rte_mbuf,
                len as u32,
            )
        };
    }

    /// A cursor that moves the burst's mbufs away from its front a run at
    /// a time ([`FrontRuns`]), shifting what is left to the front once,
    /// when the cursor goes, rather than after every run.
    #[inline]
    pub fn front_runs(&mut self) -> FrontRuns<'_, N> {
        FrontRuns {
            burst: self,
            taken: 0,
        }
    }

    /// Frees the first `n` mbufs; the rest shift to the front.
    pub fn free_first(&mut self, n: usize) {
        let mut first = Burst::<N>::new();
        first.append_first(self, n);
        // Dropping `first` frees them.
    }

    /// Frees every mbuf.
    pub fn clear(&mut self) {
        let len = self.len;
        self.len = 0;
        for slot in &mut self.slots[..len] {
            // SAFETY: slots[..len] were initialised; len is already 0, so each
            // is dropped exactly once even if a drop panicked.
            unsafe { slot.assume_init_drop() };
        }
    }

    /// Removes the first `n` entries without freeing them (their ownership
    /// went elsewhere, e.g. to a PMD) and shifts the rest to the front.
    pub(crate) fn forget_front(&mut self, n: usize) {
        let n = n.min(self.len);
        let rest = self.len - n;
        // The common case (the PMD took everything) needs no move, and no
        // memmove call.
        if rest > 0 && n > 0 {
            // SAFETY: moves the initialised slots [n, len) to [0, rest); the
            // forgotten slots [0, n) are no longer owned by us.
            unsafe {
                let base = self.slots.as_mut_ptr();
                std::ptr::copy(base.add(n), base, rest);
            }
        }
        self.len = rest;
    }

    /// The raw array for RX: pointer to the first free slot and the room left.
    pub(crate) fn rx_slots(&mut self) -> (*mut *mut dpdk_sys::rte_mbuf, u16) {
        // SAFETY: Mbuf is repr(transparent) over NonNull<rte_mbuf>, which has
        // the layout of *mut rte_mbuf; len <= N.
        let p = unsafe { self.slots.as_mut_ptr().add(self.len) } as *mut *mut dpdk_sys::rte_mbuf;
        (p, (N - self.len) as u16)
    }

    /// Records that RX filled `n` slots after `len`.
    ///
    /// # Safety
    /// The `n` slots after `len` must now hold valid, owned, non-null mbufs.
    pub(crate) unsafe fn rx_filled(&mut self, n: usize) {
        self.len += n;
    }

    /// The raw array for TX: the mbufs from the front.
    pub(crate) fn tx_slots(&mut self) -> (*mut *mut dpdk_sys::rte_mbuf, u16) {
        (
            self.slots.as_mut_ptr() as *mut *mut dpdk_sys::rte_mbuf,
            self.len as u16,
        )
    }
}

/// The front of a burst handed on a run at a time
/// ([`Burst::front_runs`]): the mbufs before `taken` have gone (moved to
/// another burst or freed) but still count in the burst's length until
/// the cursor is dropped, which forgets them in one shift. The cursor
/// borrows the burst exclusively, so nothing sees those slots meanwhile;
/// its drop also runs on unwinding, so no mbuf is freed twice. For a burst
/// cut into many short runs (a decapsulated burst whose every packet has
/// another VNI) this saves a `memmove` of the rest per run, and a run of
/// one mbuf moves without a `memcpy` call.
pub struct FrontRuns<'a, const N: usize> {
    burst: &'a mut Burst<N>,
    taken: usize,
}

impl<const N: usize> FrontRuns<'_, N> {
    /// The next `n` mbufs (fewer when fewer are left), not yet moved.
    #[inline]
    pub fn peek(&self, n: usize) -> &[Mbuf] {
        self.burst
            .as_slice()
            .get(self.taken..)
            .map_or(&[], |rest| &rest[..n.min(rest.len())])
    }

    /// The next mbuf, moved out.
    #[inline]
    pub fn take_one(&mut self) -> Option<Mbuf> {
        if self.taken >= self.burst.len {
            return None;
        }
        // SAFETY: slot `taken` < len is initialised and not moved yet; it is
        // read once, and `taken` passes it, so it is never read or dropped
        // here again.
        let m = unsafe { self.burst.slots.get(self.taken)?.assume_init_read() };
        self.taken += 1;
        Some(m)
    }

    /// Moves the next `n` mbufs (as many as are left and fit) to the back
    /// of `dst`; returns how many moved.
    #[inline]
    pub fn move_to(&mut self, dst: &mut Burst<N>, n: usize) -> usize {
        let left = self.burst.len - self.taken;
        let n = (N - dst.len).min(left).min(n);
        if n == 1 {
            // SAFETY: slot `taken` < len is initialised and not moved yet;
            // it is read once, and `taken` passes it, so it is never read
            // or dropped here again.
            let m = unsafe { self.burst.slots[self.taken].assume_init_read() };
            dst.slots[dst.len].write(m);
        } else {
            // SAFETY: the burst's slots [taken, taken + n) are initialised
            // and not moved yet (n <= len - taken), dst has n free slots
            // after its len (n <= N - dst.len); different arrays. Ownership
            // moves: `taken` passes them.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.burst.slots.as_ptr().add(self.taken),
                    dst.slots.as_mut_ptr().add(dst.len),
                    n,
                );
            }
        }
        dst.len += n;
        self.taken += n;
        n
    }

    /// Frees the next `n` mbufs (as many as are left).
    #[inline]
    pub fn free(&mut self, n: usize) {
        let n = n.min(self.burst.len - self.taken);
        for slot in &mut self.burst.slots[self.taken..self.taken + n] {
            // SAFETY: slots [taken, taken + n) are initialised and not moved;
            // each is dropped once, and `taken` passes them.
            unsafe { slot.assume_init_drop() };
        }
        self.taken += n;
    }
}

impl<const N: usize> Drop for FrontRuns<'_, N> {
    fn drop(&mut self) {
        self.burst.forget_front(self.taken);
    }
}

impl<const N: usize> Drop for Burst<N> {
    fn drop(&mut self) {
        self.clear();
    }
}
