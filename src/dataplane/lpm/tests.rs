//! The LPM against a linear reference: every route kept in a list, the
//! answer the longest prefix that covers the address.
use super::*;
use proptest::prelude::*;

/// The reference: a plain list of (masked address, length, value).
#[derive(Default)]
struct Linear {
    bits: u8,
    rules: Vec<(u128, u8, Option<TemplateId>)>,
}

impl Linear {
    fn mask(&self, a: u128, len: u8) -> u128 {
        let width = u128::MAX >> (128 - u32::from(self.bits));
        let host = width.checked_shr(u32::from(len)).unwrap_or(0);
        a & width & !host
    }
    fn insert(&mut self, a: u128, len: u8, v: Option<TemplateId>) {
        let k = self.mask(a, len);
        self.rules.retain(|r| (r.0, r.1) != (k, len));
        self.rules.push((k, len, v));
    }
    fn remove(&mut self, a: u128, len: u8) -> bool {
        let k = self.mask(a, len);
        let n = self.rules.len();
        self.rules.retain(|r| (r.0, r.1) != (k, len));
        n != self.rules.len()
    }
    fn lookup(&self, a: u128) -> Option<Option<TemplateId>> {
        self.rules
            .iter()
            .filter(|r| self.mask(a, r.1) == r.0)
            .max_by_key(|r| r.1)
            .map(|r| r.2)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u128, u8, Option<TemplateId>),
    Remove(u128, u8),
    /// Removes the n-th route inserted so far (so removes mostly hit).
    RemoveOld(usize),
}

/// Addresses from a few small neighbourhoods, so that prefixes nest,
/// share /24 blocks and overlap: the cases the bookkeeping is for.
fn addr(bits: u8) -> impl Strategy<Value = u128> {
    let bases: Vec<u128> = if bits == 32 {
        vec![
            0xc612_0000,
            0xc612_0a00,
            0xc613_ff00,
            0x0a00_0000,
            0xffff_ff00,
        ]
    } else {
        vec![
            0x2001_0db8_0000_0000_0000_0000_0000_0000,
            0x2001_0db8_0001_0000_0000_0000_0000_0000,
            0x2001_0db8_ffff_ffff_ffff_ffff_ffff_ff00,
        ]
    };
    (prop::sample::select(bases), any::<u128>(), 0u32..3).prop_map(move |(b, r, spread)| {
        // Keep the base's top bits, vary the low 8, 16 or all bits.
        let low = [8u32, 16, u32::from(bits)][spread as usize];
        let m = u128::MAX.checked_shr(128 - low).unwrap_or(u128::MAX);
        let width = u128::MAX >> (128 - u32::from(bits));
        (b & !m | r & m) & width
    })
}

fn len(bits: u8) -> impl Strategy<Value = u8> {
    // Every length, with the ones around the first table's edge and the
    // host routes more often.
    // (Short IPv4 prefixes rewrite up to 2^24 entries each: rarer, so a
    // case stays fast in a debug build.)
    prop_oneof![
        1 => 0..=bits,
        6 => if bits == 32 { 16u8..=32 } else { 56u8..=128 },
        2 => Just(bits),
    ]
}

fn ops(bits: u8) -> impl Strategy<Value = Vec<Op>> {
    let value = prop_oneof![1 => Just(None), 6 => (0u32..1000).prop_map(Some)];
    let op = prop_oneof![
        5 => (addr(bits), len(bits), value).prop_map(|(a, l, v)| Op::Insert(a, l, v)),
        1 => (addr(bits), len(bits)).prop_map(|(a, l)| Op::Remove(a, l)),
        3 => any::<usize>().prop_map(Op::RemoveOld),
    ];
    prop::collection::vec(op, 1..120)
}

/// Applies `ops` to both, checking every answer after each change at
/// the probes (and around each route's edges).
fn check(bits: u8, ops: Vec<Op>, probes: Vec<u128>) -> Result<(), TestCaseError> {
    let mut lpm = if bits == 32 {
        Lpm::new_v4()
    } else {
        Lpm::new_v6()
    };
    let mut reference = Linear {
        bits,
        ..Linear::default()
    };
    let mut inserted = Vec::new();
    for op in ops {
        match op {
            Op::Insert(a, l, v) => {
                lpm.insert(a, l, v);
                reference.insert(a, l, v);
                inserted.push((a, l));
            }
            Op::Remove(a, l) => {
                prop_assert_eq!(lpm.remove(a, l), reference.remove(a, l));
            }
            Op::RemoveOld(n) => {
                if !inserted.is_empty() {
                    let (a, l) = inserted[n % inserted.len()];
                    prop_assert_eq!(lpm.remove(a, l), reference.remove(a, l));
                }
            }
        }
        prop_assert_eq!(lpm.len(), reference.rules.len());
        let width = u128::MAX >> (128 - u32::from(bits));
        let edges = reference.rules.iter().flat_map(|&(k, l, _)| {
            let host = width.checked_shr(u32::from(l)).unwrap_or(0);
            [
                k,
                k | host,
                (k | host).wrapping_add(1) & width,
                k.wrapping_sub(1) & width,
            ]
        });
        let all: Vec<u128> = probes.iter().copied().chain(edges).collect();
        for &p in &all {
            prop_assert_eq!(lpm.lookup(p), reference.lookup(p), "{:#x}", p);
            // The raw entry's reading (the L3 express tier's) answers the same.
            if let Some(v4) = lpm.v4() {
                let e = v4.entry(p as u32);
                prop_assert_ne!(e, Lpm4::NO_ENTRY);
                prop_assert_eq!(Lpm4::value(e), reference.lookup(p), "{:#x}", p);
            }
        }
        let mut bulk = vec![None; all.len()];
        lpm.lookup_bulk(&all, &mut bulk);
        for (p, b) in all.iter().zip(bulk) {
            prop_assert_eq!(b, reference.lookup(*p));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn ipv4_matches_a_linear_reference(ops in ops(32), probes in prop::collection::vec(addr(32), 40)) {
        check(32, ops, probes)?;
    }

    #[test]
    fn ipv6_matches_a_linear_reference(ops in ops(128), probes in prop::collection::vec(addr(128), 40)) {
        check(128, ops, probes)?;
    }
}

#[test]
fn groups_are_reused_and_the_table_empties() {
    let mut t = Lpm::new_v4();
    let Family::V4(_) = &t.inner else {
        unreachable!()
    };
    t.insert(0xc612_0000, 16, Some(7));
    for i in 0..64u128 {
        t.insert(0xc612_0000 + (i << 8) + 1, 32, Some(i as u32));
    }
    let groups = |t: &Lpm| match &t.inner {
        Family::V4(d) => (d.groups.len() / GROUP, d.free.len()),
        Family::V6(_) => (0, 0),
    };
    assert_eq!(groups(&t), (64, 0));
    for i in 0..64u128 {
        assert!(t.remove(0xc612_0000 + (i << 8) + 1, 32));
        // The block answers the /16 again, from the first table.
        assert_eq!(t.lookup(0xc612_0000 + (i << 8) + 1), Some(Some(7)));
    }
    assert_eq!(groups(&t), (64, 64));
    // New longer prefixes take freed groups instead of growing.
    t.insert(0x0a00_0080, 25, None);
    assert_eq!(groups(&t), (64, 63));
    assert_eq!(t.lookup(0x0a00_00ff), Some(None));
    assert_eq!(t.lookup(0x0a00_007f), None);
    assert!(t.remove(0x0a00_0080, 25) && t.remove(0xc612_0000, 16));
    assert!(!t.remove(0xc612_0000, 16));
    assert!(t.is_empty());
    assert_eq!(t.lookup(0xc612_0001), None);
}

#[test]
fn template_ids_beyond_the_entry_width_are_unresolved_not_wrong() {
    let mut t = Lpm::new_v4();
    t.insert(0x0a00_0000, 8, Some(MAX_V4_TEMPLATE));
    t.insert(0x0b00_0000, 8, Some(MAX_V4_TEMPLATE + 1));
    assert_eq!(t.lookup(0x0a01_0203), Some(Some(MAX_V4_TEMPLATE)));
    assert_eq!(t.lookup(0x0b01_0203), Some(None));
    // IPv6 keeps every id.
    let mut t = Lpm::new_v6();
    t.insert(1 << 120, 8, Some(u32::MAX));
    assert_eq!(t.lookup(1 << 120), Some(Some(u32::MAX)));
}

#[test]
fn an_empty_table_allocates_nothing_and_finds_nothing() {
    let t = Lpm::new_v4();
    assert_eq!((t.lookup(0x0a00_0001), t.memory_bytes()), (None, 0));
    let t = Lpm::new_v6();
    assert_eq!((t.lookup(1), t.memory_bytes()), (None, 0));
}
