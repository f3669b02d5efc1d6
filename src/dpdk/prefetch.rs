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

/// Starts loading every cache line that the first `bytes` bytes of `v`
/// touch (no more than `v` holds), wherever `v` starts in its line. For a
/// `T` aligned to a cache line and a constant `bytes` this is that many
/// prefetch instructions and nothing else.
#[inline(always)]
pub fn prefetch_lines<T>(v: &T, bytes: usize) {
    let p = (v as *const T).cast::<u8>();
    let n = bytes.min(std::mem::size_of::<T>());
    if std::mem::align_of::<T>().is_multiple_of(64) {
        let mut off = 0;
        while off < n {
            prefetch_addr(p.wrapping_add(off));
            off += 64;
        }
        return;
    }
    prefetch_bytes(p, 0, n);
}

/// Starts loading the cache lines of `v` from byte `from` to its end
/// (for a `T` aligned to a cache line and a constant `from`, that many
/// prefetch instructions and nothing else).
#[inline(always)]
pub fn prefetch_tail<T>(v: &T, from: usize) {
    let p = (v as *const T).cast::<u8>();
    let n = std::mem::size_of::<T>();
    if std::mem::align_of::<T>().is_multiple_of(64) {
        let mut off = from & !63;
        while off < n {
            prefetch_addr(p.wrapping_add(off));
            off += 64;
        }
        return;
    }
    prefetch_bytes(p, from.min(n), n);
}

/// The lines of bytes `from..to` after `p`, as [`prefetch_span`] names
/// them: a prefetch every 64 bytes from `from` and one of the last byte.
/// For constant bounds, a constant number of prefetch instructions and no
/// loop (where walking the lines from the first one's start needs the
/// alignment of `p`, known only at run time).
#[inline(always)]
fn prefetch_bytes(p: *const u8, from: usize, to: usize) {
    if to <= from {
        return;
    }
    let mut off = from;
    while off < to {
        prefetch_addr(p.wrapping_add(off));
        off += 64;
    }
    prefetch_addr(p.wrapping_add(to - 1));
}

/// Starts loading every cache line `items` touch, however they straddle
/// lines: a prefetch every 64 bytes from the first byte, and one of the
/// last byte. For a span of constant size (a slot or two of a table, one
/// entry) that is a constant number of prefetch instructions and no loop
/// (two for 32 bytes); the last one may name a line already named, which
/// costs an instruction but no memory traffic. Unlike a walk over the
/// lines from the first one's start, no line address is computed from
/// the span's alignment, which is not known at compile time.
#[inline(always)]
pub fn prefetch_span<T>(items: &[T]) {
    let p = items.as_ptr().cast::<u8>();
    let n = std::mem::size_of_val(items);
    if n == 0 {
        return;
    }
    let mut off = 0;
    while off < n {
        prefetch_addr(p.wrapping_add(off));
        off += 64;
    }
    prefetch_addr(p.wrapping_add(n - 1));
}

#[inline(always)]
fn prefetch_addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the
    // address, and reads nothing the program can observe. The callers pass
    // addresses inside one live value anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
