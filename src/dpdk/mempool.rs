//! Packet buffer pools.
use std::ffi::CString;
use std::ptr::NonNull;

use super::error::DpdkError;
use super::mbuf::Mbuf;

/// An mbuf pool (`rte_pktmbuf_pool_create`). Freed on drop; drop it only after
/// the ports that use it are closed.
pub struct Mempool {
    ptr: NonNull<dpdk_sys::rte_mempool>,
    size: u32,
    name: String,
}

// SAFETY: DPDK mempools are designed for concurrent use from many lcores
// (multi-producer/multi-consumer ring plus per-lcore caches).
unsafe impl Send for Mempool {}
// SAFETY: as above; all methods go through thread-safe DPDK calls.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `size` mbufs with `data_room` bytes each (headroom
    /// included) and a per-lcore cache of `cache` mbufs, on NUMA `socket`
    /// (`-1` for any).
    pub fn new(
        name: &str,
        size: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name)
            .map_err(|_| DpdkError::new(format!("mempool name {name:?}"), libc_einval()))?;
        // SAFETY: cname is a valid NUL-terminated string; the EAL is running
        // (a Mempool can only be built after Eal::init succeeded, by convention of
        // every caller in this crate).
        let p = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), size, cache, 0, data_room, socket)
        };
        match NonNull::new(p) {
            Some(ptr) => Ok(Mempool {
                ptr,
                size,
                name: name.to_string(),
            }),
            None => Err(DpdkError::from_rte_errno(format!(
                "cannot create mbuf pool {name} ({size} mbufs of {data_room} bytes)"
            ))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of mbufs the pool was created with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Mbufs in the pool now, per-lcore caches included.
    pub fn available(&self) -> u32 {
        // SAFETY: ptr is a live mempool owned by self.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Mbufs taken out of the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: ptr is a live mempool owned by self.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// The exit report's leak check: prints `mbufs: A of B back in pool
    /// NAME, C in use` and fails when any mbuf was not returned.
    pub fn report_leaks(&self) -> Result<(), String> {
        let in_use = self.in_use();
        println!(
            "mbufs: {} of {} back in pool {}, {} in use",
            self.available(),
            self.size(),
            self.name(),
            in_use
        );
        if in_use == 0 {
            Ok(())
        } else {
            Err(format!(
                "{in_use} mbufs were not returned to their pool (leak)"
            ))
        }
    }

    /// One fresh mbuf, or `None` when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: ptr is a live pktmbuf pool; the returned mbuf (if any) is
        // exclusively ours and is reset.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(self.ptr.as_ptr()) };
        // SAFETY: a non-null result is a freshly allocated mbuf we own.
        NonNull::new(m).map(|p| unsafe { Mbuf::from_raw(p) })
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.ptr.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool is owned by self and no port uses it any more
        // (ports are closed before pools are dropped).
        unsafe { dpdk_sys::rte_mempool_free(self.ptr.as_ptr()) };
    }
}

fn libc_einval() -> i32 {
    22
}
