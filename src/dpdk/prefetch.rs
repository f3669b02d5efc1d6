//! A hint to the CPU to start loading a cache line (DPDK's `rte_prefetch0`,
//! which is a static inline function: the intrinsic is the same
//! instruction without an FFI call per packet).

/// Starts loading the cache line that holds `p` into every cache level.
/// Only a hint: it never faults, changes no memory and may be ignored.
/// A no-op on targets other than x86_64.
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE (baseline on x86_64) and only hints
    // the cache; it reads nothing observable and cannot fault, and `p` is a
    // valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
