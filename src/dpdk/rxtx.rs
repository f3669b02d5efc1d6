//! Receiving into and sending from a [`Burst`]: the ethdev RX/TX burst calls
//! and the per-(port, queue) TX buffer. It sits above `burst` (the container)
//! and beside `port` (configuration), so neither of those imports the other.
use super::burst::{Burst, FrontRuns, BURST_SIZE};
use super::mbuf::Mbuf;

/// Receives into the free slots of `burst`; returns how many arrived.
#[inline]
pub fn rx_burst<const N: usize>(port: u16, queue: u16, burst: &mut Burst<N>) -> usize {
    let (slots, room) = burst.rx_slots();
    if room == 0 {
        return 0;
    }
    // SAFETY: slots points at `room` free slots of the burst; the caller owns
    // (port, queue) exclusively (one worker per queue).
    let n = unsafe { dpdk_sys::rte_eth_rx_burst(port, queue, slots, room) } as usize;
    // SAFETY: the PMD wrote n valid mbufs that we now own.
    unsafe { burst.rx_filled(n) };
    n
}

/// Sends from the front of `burst`; what the PMD did not take stays in it.
#[inline]
pub fn tx_burst<const N: usize>(port: u16, queue: u16, burst: &mut Burst<N>) -> usize {
    let (slots, n) = burst.tx_slots();
    if n == 0 {
        return 0;
    }
    // SAFETY: slots holds n owned mbufs; the PMD takes ownership of the first
    // `sent`, which forget_front then removes without freeing. The caller owns
    // (port, queue) exclusively.
    let sent = unsafe { dpdk_sys::rte_eth_tx_burst(port, queue, slots, n) } as usize;
    burst.forget_front(sent);
    sent
}

/// A TX buffer for one (port, queue): mbufs wait until the burst is full or
/// the owner flushes it (the gateway at the end of each poll round,
/// `geneve-gw forward` on l2fwd's drain timer); what the PMD refuses is freed and
/// reported to the caller, who counts it. Workers flush before they stop (the
/// port must still be started); dropping the buffer frees whatever is left.
pub struct TxBuffer {
    burst: Burst<BURST_SIZE>,
    port: u16,
    queue: u16,
}

impl TxBuffer {
    pub fn new(port: u16, queue: u16) -> TxBuffer {
        TxBuffer {
            burst: Burst::new(),
            port,
            queue,
        }
    }

    pub fn len(&self) -> usize {
        self.burst.len()
    }

    /// The port this buffer sends on.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_empty(&self) -> bool {
        self.burst.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.burst.is_full()
    }

    /// Moves as many mbufs from the front of `from` as fit; returns how many.
    #[inline]
    pub fn append(&mut self, from: &mut Burst<BURST_SIZE>) -> usize {
        self.burst.append_from(from)
    }

    /// Moves the first `n` mbufs of `from` to the back, as many as fit;
    /// returns how many.
    #[inline]
    pub fn append_front(&mut self, from: &mut Burst<BURST_SIZE>, n: usize) -> usize {
        self.burst.append_first(from, n)
    }

    /// Moves the next `n` mbufs of a burst's front cursor to the back, as
    /// many as fit; returns how many.
    #[inline]
    pub fn append_run(&mut self, from: &mut FrontRuns<'_, BURST_SIZE>, n: usize) -> usize {
        from.move_to(&mut self.burst, n)
    }

    /// Buffers one mbuf; gives it back when the buffer is full (flush first).
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        self.burst.push(m)
    }

    /// Sends everything buffered; frees what the PMD did not take.
    /// Returns (sent, freed).
    #[inline]
    pub fn flush(&mut self) -> (usize, usize) {
        if self.burst.is_empty() {
            return (0, 0);
        }
        let sent = tx_burst(self.port, self.queue, &mut self.burst);
        let unsent = self.burst.len();
        if unsent > 0 {
            self.burst.clear();
        }
        (sent, unsent)
    }
}
