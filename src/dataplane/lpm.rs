//! Longest-prefix match for the L3 routes, changed one route at a time.
//!
//! **IPv4: DIR-24-8** (the layout of DPDK's `rte_lpm` and of Gupta,
//! Lin and McKeown's "Routing lookups in hardware at memory access
//! speeds"). A first table of 2^24 entries, indexed by the address's top
//! 24 bits, answers every prefix of /24 or shorter in one read; a /24 block
//! that holds a longer prefix points to a group of 256 entries indexed by
//! the last byte, so any lookup is at most two dependent reads, whatever
//! the number of routes. Every entry also records the length of the prefix
//! that wrote it, which is what makes a change local: an insert overwrites
//! only the entries of its range written by a prefix no longer than its
//! own, and a remove hands those same entries to the longest shorter rule
//! that covers the prefix (found in a per-length map of the rules, at most
//! 32 probes). One change therefore costs the same at a thousand routes as
//! at a million, apart from the entries a short prefix covers (2^(24-len)
//! for a /len); a group whose last longer prefix goes is folded back into
//! its first-table entry and its 256 entries are reused.
//!
//! **IPv6: one hash map per prefix length** plus the list of lengths in
//! use, longest first. A lookup probes one map per length present (one or
//! two in a typical table of /64 subnets and /128 hosts), an insert or a
//! remove touches one map, and memory grows with the routes only. A
//! DIR-style table for 128-bit keys (`rte_lpm6`: a 2^24 first table and
//! up to 13 more levels of 256-entry groups) costs a dependent read per
//! level and a group per level per route; its delete re-adds every rule.
//!
//! Chosen by measurement (`cargo bench --bench lpm`, BENCHMARKS.md "Scale:
//! lookups and cost per packet"): at a million IPv4 host routes DIR-24-8
//! looked a random address up in about 8 ns (6 ns a burst at a time) where
//! the per-length maps took about 120 ns, and a remove or insert stayed
//! under a microsecond at 1,000 as at 1,000,000 routes. Its price is
//! memory: 64 MiB of first table, plus 1 KiB per /24 block holding a longer
//! prefix (86 MiB for a million host routes packed in blocks, 1.1 GiB if
//! each sits in a /24 of its own, where the maps need 66 MiB). DPDK's
//! `rte_lpm`/`rte_fib` have the same layout but need the EAL (and FFI) in
//! every unit test of the tables; `rte_lpm6`'s delete re-adds every rule.
//!
//! Values: `Some(id)` routes to encap template `id`, `None` is a route
//! whose next hop is not resolved yet (a counted drop). IPv4 entries hold
//! the template id in 25 bits: an id above [`MAX_V4_TEMPLATE`] is stored as
//! unresolved (a counted drop, never a wrong tunnel).
//!
//! Single writer, no internal synchronisation: readers look at a copy the
//! writer is not changing (see `tables`).
use rustc_hash::FxHashMap;

use super::tables::TemplateId;

/// Largest template id an IPv4 route can hold (entries keep 25 bits of it).
pub const MAX_V4_TEMPLATE: TemplateId = (1 << 25) - 3;

/// Prefetches the cache line holding `p` into every cache level (the
/// equivalent of `rte_prefetch0`); nothing happens without the `dpdk`
/// feature, whose module holds the instruction.
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(feature = "dpdk")]
    crate::dpdk::prefetch(p);
    #[cfg(not(feature = "dpdk"))]
    let _ = p;
}

/// [`prefetch`] of every line the first `bytes` bytes of `v` touch.
#[inline(always)]
pub fn prefetch_lines<T>(v: &T, bytes: usize) {
    #[cfg(feature = "dpdk")]
    crate::dpdk::prefetch_lines(v, bytes);
    #[cfg(not(feature = "dpdk"))]
    let _ = (v, bytes);
}

/// [`prefetch`] of the lines of `v` from byte `from` to its end.
#[inline(always)]
pub fn prefetch_tail<T>(v: &T, from: usize) {
    #[cfg(feature = "dpdk")]
    crate::dpdk::prefetch_tail(v, from);
    #[cfg(not(feature = "dpdk"))]
    let _ = (v, from);
}

/// [`prefetch`] of every line `items` touch (`dpdk::prefetch_span`).
#[inline(always)]
pub fn prefetch_span<T>(items: &[T]) {
    #[cfg(feature = "dpdk")]
    crate::dpdk::prefetch_span(items);
    #[cfg(not(feature = "dpdk"))]
    let _ = items;
}

/// A longest-prefix-match table of one address family (see the module doc).
#[derive(Clone)]
pub struct Lpm {
    inner: Family,
}

#[derive(Clone)]
enum Family {
    V4(Dir24),
    V6(PerLength),
}

impl Default for Lpm {
    /// An empty IPv4 table.
    fn default() -> Self {
        Lpm::new_v4()
    }
}

impl std::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm")
            .field("bits", &self.bits())
            .field("routes", &self.len())
            .finish()
    }
}

impl Lpm {
    /// An empty IPv4 table (the first table is allocated with the first route).
    pub fn new_v4() -> Lpm {
        Lpm {
            inner: Family::V4(Dir24::default()),
        }
    }

    /// An empty IPv6 table.
    pub fn new_v6() -> Lpm {
        Lpm {
            inner: Family::V6(PerLength::default()),
        }
    }

    /// Address bits of the family: 32 or 128.
    pub fn bits(&self) -> u8 {
        match self.inner {
            Family::V4(_) => 32,
            Family::V6(_) => 128,
        }
    }

    /// Routes held.
    pub fn len(&self) -> usize {
        match &self.inner {
            Family::V4(t) => t.routes,
            Family::V6(t) => t.routes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the route `addr/len` or replaces its value. Bits of `addr` past
    /// `len` are ignored; a length past the family's bits is ignored.
    pub fn insert(&mut self, addr: u128, len: u8, value: Option<TemplateId>) {
        match &mut self.inner {
            Family::V4(t) => t.insert(addr as u32, len, value),
            Family::V6(t) => t.insert(addr, len, value),
        }
    }

    /// Removes the route `addr/len`; false when there was none.
    pub fn remove(&mut self, addr: u128, len: u8) -> bool {
        match &mut self.inner {
            Family::V4(t) => t.remove(addr as u32, len),
            Family::V6(t) => t.remove(addr, len),
        }
    }

    /// The route for `addr`: `Some(template or unresolved)`, or `None`: no route.
    /// Always inlined: LLVM's choice for the L3 express tier's loop
    /// flipped with unrelated changes to it (see BENCHMARKS.md); that loop
    /// now reads raw entries ([`Lpm::v4`]) and keeps a route's answer.
    #[inline(always)]
    pub fn lookup(&self, addr: u128) -> Option<Option<TemplateId>> {
        match &self.inner {
            Family::V4(t) => t.lookup(addr as u32),
            Family::V6(t) => t.lookup(addr),
        }
    }

    /// The IPv4 table's arrays, for a reader that looks up many addresses
    /// against one table (the L3 express tier, per burst): no dispatch on
    /// the family per lookup. `None` for an IPv6 table.
    #[inline]
    pub fn v4(&self) -> Option<Lpm4<'_>> {
        match &self.inner {
            Family::V4(t) => Some(Lpm4 {
                tbl24: &t.tbl24,
                groups: &t.groups,
            }),
            Family::V6(_) => None,
        }
    }

    /// Starts loading what [`lookup`](Lpm::lookup) of `addr` reads first
    /// (IPv4: its first-table entry); a no-op for IPv6.
    #[inline(always)]
    pub fn prefetch(&self, addr: u128) {
        if let Family::V4(t) = &self.inner {
            if let Some(e) = t.tbl24.get(((addr as u32) >> 8) as usize) {
                prefetch(e);
            }
        }
    }

    /// The second stage of a bulk lookup, after [`prefetch`](Lpm::prefetch)
    /// of `addr` had time to land: reads its first-table entry and, when
    /// that points into a group (a longer prefix in the /24), starts loading
    /// the group's entry, the lookup's second, dependent read. A no-op for
    /// IPv6.
    #[inline(always)]
    pub fn prefetch_second(&self, addr: u128) {
        if let Family::V4(t) = &self.inner {
            let a = addr as u32;
            if let Some(&e) = t.tbl24.get((a >> 8) as usize) {
                if e & EXT != 0 {
                    let g = (e & !EXT) as usize * GROUP + (a & 0xff) as usize;
                    if let Some(x) = t.groups.get(g) {
                        prefetch(x);
                    }
                }
            }
        }
    }

    /// Looks up every address of `addrs` into `out` (pairwise; the shorter
    /// of the two bounds the work). The first-table entries of the whole
    /// burst are prefetched before the first is read, then the group
    /// entries they point to, so their cache misses overlap instead of
    /// following one another (`rte_lpm_lookup_bulk` reads in the same two
    /// steps).
    #[inline]
    pub fn lookup_bulk(&self, addrs: &[u128], out: &mut [Option<Option<TemplateId>>]) {
        for &a in addrs {
            self.prefetch(a);
        }
        for &a in addrs {
            self.prefetch_second(a);
        }
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = self.lookup(a);
        }
    }

    /// Bytes the table holds on the heap (both levels, groups and rules).
    pub fn memory_bytes(&self) -> usize {
        match &self.inner {
            Family::V4(t) => t.memory_bytes(),
            Family::V6(t) => t.memory_bytes(),
        }
    }
}

/// An IPv4 table's two levels, read without its bookkeeping (see
/// [`Lpm::v4`]). [`entry`](Lpm4::entry) gives the raw entry an address
/// lands on; [`value`](Lpm4::value) decodes it to what
/// [`Lpm::lookup`] answers. Two addresses with the same entry have the same
/// answer, so a reader may keep the answer of one entry for the next
/// addresses that land on it (one compare instead of the decode and what
/// follows from the answer).
#[derive(Clone, Copy)]
pub struct Lpm4<'a> {
    tbl24: &'a [u32],
    groups: &'a [u32],
}

impl Lpm4<'_> {
    /// An entry no address lands on: its top bit marks a group pointer,
    /// which [`entry`](Lpm4::entry) resolves, never returns.
    pub const NO_ENTRY: u32 = u32::MAX;

    /// The entry `addr` lands on: the first table's, or its group's when a
    /// longer prefix lives in its /24 (0: no route).
    #[inline(always)]
    pub fn entry(&self, addr: u32) -> u32 {
        let Some(&e) = self.tbl24.get((addr >> 8) as usize) else {
            return 0;
        };
        if e & EXT == 0 {
            return e;
        }
        let g = (e & !EXT) as usize * GROUP + (addr & 0xff) as usize;
        self.groups.get(g).copied().unwrap_or(0)
    }

    /// What [`Lpm::lookup`] answers for an address whose entry is `entry`.
    #[inline(always)]
    pub fn value(entry: u32) -> Option<Option<TemplateId>> {
        decode(entry & VALUE_MASK)
    }
}

/// Bytes of a hash map's table: its capacity rounded up as hashbrown
/// allocates it, times the entry plus one control byte.
fn map_bytes<K, V>(m: &FxHashMap<K, V>) -> usize {
    if m.capacity() == 0 {
        return 0;
    }
    let buckets = (m.capacity() * 8 / 7).next_power_of_two();
    buckets * (std::mem::size_of::<(K, V)>() + 1)
}

// ---- IPv4: DIR-24-8 -------------------------------------------------------

/// Entry bit: the rest is a group index (first table only).
const EXT: u32 = 1 << 31;
/// Entry bits 25..31: length of the prefix that wrote the entry.
const DEPTH_SHIFT: u32 = 25;
/// Entry bits 0..25: 0 no route, 1 unresolved, 2 + template id.
const VALUE_MASK: u32 = (1 << DEPTH_SHIFT) - 1;
const UNRESOLVED: u32 = 1;
const FIRST_TEMPLATE: u32 = 2;
const GROUP: usize = 256;

#[inline(always)]
fn encode(v: Option<TemplateId>) -> u32 {
    match v {
        Some(id) if id <= MAX_V4_TEMPLATE => id + FIRST_TEMPLATE,
        _ => UNRESOLVED,
    }
}

#[inline(always)]
fn decode(value: u32) -> Option<Option<TemplateId>> {
    match value {
        0 => None,
        UNRESOLVED => Some(None),
        v => Some(Some(v - FIRST_TEMPLATE)),
    }
}

#[inline(always)]
fn entry(depth: u8, value: u32) -> u32 {
    (u32::from(depth) << DEPTH_SHIFT) | value
}

#[inline(always)]
fn depth(e: u32) -> u8 {
    ((e & !EXT) >> DEPTH_SHIFT) as u8
}

fn mask4(addr: u32, len: u8) -> u32 {
    addr & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

struct Dir24 {
    /// 2^24 entries once the first route arrives; empty before.
    tbl24: Vec<u32>,
    /// Groups of [`GROUP`] entries, one per /24 block holding a longer prefix.
    groups: Vec<u32>,
    /// Indices of groups no block uses.
    free: Vec<u32>,
    /// The rules by length: masked address -> encoded value (the writer's
    /// alone, boxed out of the readers' way).
    rules: Box<[FxHashMap<u32, u32>; 33]>,
    routes: usize,
}

impl Clone for Dir24 {
    /// The arrays copied onto huge pages (see `flat::huge_copy`).
    fn clone(&self) -> Self {
        Dir24 {
            tbl24: super::flat::huge_copy(&self.tbl24),
            groups: super::flat::huge_copy(&self.groups),
            free: self.free.clone(),
            rules: self.rules.clone(),
            routes: self.routes,
        }
    }
}

impl Default for Dir24 {
    fn default() -> Self {
        Dir24 {
            tbl24: Vec::new(),
            groups: Vec::new(),
            free: Vec::new(),
            rules: Box::new(std::array::from_fn(|_| FxHashMap::default())),
            routes: 0,
        }
    }
}

impl Dir24 {
    #[inline(always)]
    fn lookup(&self, a: u32) -> Option<Option<TemplateId>> {
        let e = *self.tbl24.get((a >> 8) as usize)?;
        let e = if e & EXT != 0 {
            let g = (e & !EXT) as usize * GROUP + (a & 0xff) as usize;
            *self.groups.get(g)?
        } else {
            e
        };
        decode(e & VALUE_MASK)
    }

    /// Writes `new` into every entry of `entries` whose prefix is no longer
    /// than `len`.
    fn fill(entries: &mut [u32], len: u8, new: u32) {
        for e in entries {
            if depth(*e) <= len {
                *e = new;
            }
        }
    }

    /// Writes `new` (a prefix of length `len`) over the entries of
    /// `start..start + count` of the first table that a prefix no longer
    /// than `len` wrote, inside groups too.
    fn fill24(&mut self, start: usize, count: usize, len: u8, new: u32) {
        for i in start..start + count {
            let e = self.tbl24[i];
            if e & EXT != 0 {
                let g = (e & !EXT) as usize * GROUP;
                Self::fill(&mut self.groups[g..g + GROUP], len, new);
            } else if depth(e) <= len {
                self.tbl24[i] = new;
            }
        }
    }

    fn insert(&mut self, addr: u32, len: u8, value: Option<TemplateId>) {
        if len > 32 {
            return;
        }
        if self.tbl24.is_empty() {
            self.tbl24 = super::flat::huge_vec(1 << 24, 0);
        }
        let key = mask4(addr, len);
        let value = encode(value);
        if self.rules[usize::from(len)].insert(key, value).is_none() {
            self.routes += 1;
        }
        let new = entry(len, value);
        if len <= 24 {
            self.fill24((key >> 8) as usize, 1 << (24 - len), len, new);
        } else {
            let i = (key >> 8) as usize;
            let e = self.tbl24[i];
            let g = if e & EXT != 0 {
                (e & !EXT) as usize
            } else {
                let g = match self.free.pop() {
                    Some(g) => {
                        let at = g as usize * GROUP;
                        self.groups[at..at + GROUP].fill(e);
                        g as usize
                    }
                    None => {
                        let g = self.groups.len() / GROUP;
                        super::flat::huge_reserve(&mut self.groups, GROUP);
                        self.groups.resize(self.groups.len() + GROUP, e);
                        g
                    }
                };
                self.tbl24[i] = EXT | g as u32;
                g
            };
            let lo = g * GROUP + (key & 0xff) as usize;
            Self::fill(&mut self.groups[lo..lo + (1 << (32 - len))], len, new);
        }
    }

    fn remove(&mut self, addr: u32, len: u8) -> bool {
        if len > 32 {
            return false;
        }
        let key = mask4(addr, len);
        if self.rules[usize::from(len)].remove(&key).is_none() {
            return false;
        }
        self.routes -= 1;
        // The entries this prefix wrote go to the longest shorter rule that
        // covers it (or to no route).
        let cover = (0..len)
            .rev()
            .find_map(|l| {
                let v = self.rules[usize::from(l)].get(&mask4(key, l))?;
                Some(entry(l, *v))
            })
            .unwrap_or(0);
        if len <= 24 {
            self.fill24((key >> 8) as usize, 1 << (24 - len), len, cover);
            return true;
        }
        let i = (key >> 8) as usize;
        let e = self.tbl24[i];
        if e & EXT == 0 {
            return true;
        }
        let at = (e & !EXT) as usize * GROUP;
        let group = &mut self.groups[at..at + GROUP];
        let lo = (key & 0xff) as usize;
        Self::fill(&mut group[lo..lo + (1 << (32 - len))], len, cover);
        // No longer prefix left in the block: every entry holds the same
        // /24-or-shorter answer; fold it back into the first table.
        if group.iter().all(|&g| depth(g) <= 24) {
            self.tbl24[i] = group[0];
            self.free.push(e & !EXT);
        }
        true
    }

    fn memory_bytes(&self) -> usize {
        (self.tbl24.capacity() + self.groups.capacity() + self.free.capacity()) * 4
            + self.rules.iter().map(map_bytes).sum::<usize>()
    }
}

// ---- IPv6: one map per length -----------------------------------------------

fn mask6(addr: u128, len: u8) -> u128 {
    addr & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[derive(Clone, Default)]
struct PerLength {
    /// Lengths with at least one rule, longest first, each with its rules.
    levels: Vec<(u8, FxHashMap<u128, Option<TemplateId>>)>,
    routes: usize,
}

impl PerLength {
    #[inline(always)]
    fn lookup(&self, addr: u128) -> Option<Option<TemplateId>> {
        for (len, m) in &self.levels {
            if let Some(v) = m.get(&mask6(addr, *len)) {
                return Some(*v);
            }
        }
        None
    }

    fn insert(&mut self, addr: u128, len: u8, value: Option<TemplateId>) {
        if len > 128 {
            return;
        }
        let key = mask6(addr, len);
        let at = match self.levels.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(at) => at,
            Err(at) => {
                self.levels.insert(at, (len, FxHashMap::default()));
                at
            }
        };
        if self.levels[at].1.insert(key, value).is_none() {
            self.routes += 1;
        }
    }

    fn remove(&mut self, addr: u128, len: u8) -> bool {
        if len > 128 {
            return false;
        }
        let Ok(at) = self.levels.binary_search_by(|(l, _)| len.cmp(l)) else {
            return false;
        };
        if self.levels[at].1.remove(&mask6(addr, len)).is_none() {
            return false;
        }
        self.routes -= 1;
        if self.levels[at].1.is_empty() {
            self.levels.remove(at);
        }
        true
    }

    fn memory_bytes(&self) -> usize {
        self.levels.iter().map(|(_, m)| map_bytes(m)).sum()
    }
}

#[cfg(test)]
mod tests;
