//! Transparent huge pages for the large tables workers read at random (a
//! million-entry MAC table, the route table's 2^24 first-level entries):
//! on 4 KiB pages nearly every lookup also misses the TLB. The kernel here
//! gives huge pages only to memory that asks (`transparent_hugepage` in
//! `madvise` mode), which is what [`advise_huge_pages`] does. It is
//! separate from the EAL's hugepages (DPDK's own memory, which the tables do
//! not use: they are plain heap memory the control thread copies and
//! changes, and the unit tests run without the EAL).

/// Smallest buffer worth asking for: one huge page.
const HUGE: usize = 2 << 20;
const PAGE: usize = 4096;

/// Asks the kernel to back the buffer of `v` (its whole capacity, the
/// 4 KiB pages wholly inside it) with transparent huge pages. Call it
/// before the buffer is written: pages touched already stay small until
/// khugepaged merges them. Only a hint: true if the kernel took it; a
/// buffer under 2 MiB, a kernel without THP or THP off is false and
/// changes nothing.
pub fn advise_huge_pages<T>(v: &Vec<T>) -> bool {
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes < HUGE {
        return false;
    }
    let start = v.as_ptr() as usize;
    let first = start.next_multiple_of(PAGE);
    let end = (start + bytes) / PAGE * PAGE;
    if end <= first {
        return false;
    }
    // SAFETY: madvise(MADV_HUGEPAGE) only changes how the kernel backs the
    // pages [first, end), which lie inside the allocation `v` owns
    // (rounded inwards to whole pages); the contents and the mapping's
    // permissions stay as they are, and nothing is freed or moved.
    let rc = unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
    rc == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `AnonHugePages` (kB) and `VmFlags` of the mapping of this
    /// process that holds `addr` (`/proc/self/smaps`).
    fn mapping_of(addr: usize) -> Option<(u64, String)> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        let mut huge = None;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = first.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = (lo..hi).contains(&addr);
                    continue;
                }
            }
            if !inside {
                continue;
            }
            if let Some(kb) = line.strip_prefix("AnonHugePages:") {
                huge = kb.trim().trim_end_matches("kB").trim().parse().ok();
            }
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some((huge?, flags.to_string()));
            }
        }
        None
    }

    /// An advised buffer's mapping carries the kernel's huge-page advice
    /// (`hg` in its flags), and once written it is backed by huge pages
    /// unless the kernel has no free 2 MiB block; a buffer not advised
    /// carries no advice.
    #[test]
    fn advised_buffer_gets_huge_pages() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !mode.contains("[madvise]") && !mode.contains("[always]") {
            eprintln!(
                "SKIP: {}",
                &format!("transparent huge pages are off here ({})", mode.trim())
            );
            return;
        }
        // Above glibc's largest mmap threshold (32 MiB): each buffer is a
        // mapping of its own, never part of a heap another test advised.
        let n = 64 << 20;
        let plain: Vec<u8> = vec![1; n];
        let (_, flags) = mapping_of(plain.as_ptr() as usize + n / 2).expect("mapping in smaps");
        assert!(!flags.split_whitespace().any(|f| f == "hg"), "{flags}");

        let mut v: Vec<u8> = Vec::with_capacity(n);
        assert!(advise_huge_pages(&v), "madvise(MADV_HUGEPAGE) refused");
        v.resize(n, 1);
        let (kb, flags) = mapping_of(v.as_ptr() as usize + n / 2).expect("mapping in smaps");
        assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
        if kb == 0 {
            eprintln!("SKIP: the kernel had no free 2 MiB block for the advised buffer");
            return;
        }
        assert!(kb >= 2048, "{kb} kB on huge pages");
    }

    /// Buffers under one huge page are left alone.
    #[test]
    fn small_buffers_are_not_advised() {
        let v: Vec<u64> = Vec::with_capacity(1000);
        assert!(!advise_huge_pages(&v));
    }
}
