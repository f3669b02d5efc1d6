use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

const NAMES: [&str; 6] = ["t0", "t1", "t2", "t3", "t4", "t5"];

fn remote(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, i as u8 + 1))
}

/// Tunnels `NAMES[i]` for every bit `i` of `mask` (to 198.18.0.i+1, VNI
/// 100 + i) and decap VNIs 100 + i likewise.
fn sync_mask(s: &mut EntrySlots, mask: u8, generation: u64) {
    let on = |i: &usize| mask & (1 << i) != 0;
    let tunnels = (0..NAMES.len())
        .filter(on)
        .map(|i| (NAMES[i], remote(i), 100 + i as u32, false));
    let vnis: Vec<u32> = (0..NAMES.len())
        .filter(on)
        .map(|i| 100 + i as u32)
        .collect();
    s.sync_entries(tunnels, &vnis, generation);
}

#[test]
fn a_reused_slot_starts_at_zero() {
    // Room for one tunnel and one VNI: the second entry must reuse the slot.
    let mut s = EntrySlots::new(1, 1);
    let w = [s.worker_entries(), s.worker_entries()];
    sync_mask(&mut s, 0b01, 1);
    let (t0, v0) = (s.tunnel_slot("t0"), s.vni_slot(100));
    assert_eq!((t0, v0), (0, 0));
    w[0].encap(t0, 3, 300);
    w[1].encap(t0, 2, 200);
    w[1].encap_drop(t0, 1);
    w[0].decap(v0, t0, 1, 60);
    w[1].decap_drop(v0, 4);
    let r = s.read(&w);
    assert_eq!(
        r.tunnel("t0"),
        Some(TunnelCounters {
            encap_packets: 5,
            encap_bytes: 500,
            encap_drops: 1,
            decap_packets: 1,
            decap_bytes: 60,
        })
    );
    assert_eq!(
        r.vni(Vni::new(100).unwrap()),
        Some(VniCounters {
            packets: 1,
            bytes: 60,
            drops: 4
        })
    );
    // t0 leaves (generation 2), t1 arrives: no slot until the workers
    // let go of generation 1.
    sync_mask(&mut s, 0b10, 2);
    assert_eq!(s.tunnel_slot("t1"), NO_SLOT);
    assert_eq!(s.read(&w).tunnel("t0"), None);
    assert_eq!(s.read(&w).untracked(), 2);
    // A straggler still on generation 1 counts into the old slot.
    w[0].encap(t0, 7, 700);
    s.settle(1, &w);
    sync_mask(&mut s, 0b10, 3);
    assert_eq!(s.tunnel_slot("t1"), NO_SLOT, "retired slot freed too early");
    s.settle(2, &w);
    // Freed now; the next sync hands it to t1, which starts at zero.
    sync_mask(&mut s, 0b10, 4);
    assert_eq!(s.tunnel_slot("t1"), 0);
    assert_eq!(s.vni_slot(101), 0);
    let r = s.read(&w);
    assert_eq!(r.tunnel("t1"), Some(TunnelCounters::default()));
    assert_eq!(r.vni(Vni::new(101).unwrap()), Some(VniCounters::default()));
    assert_eq!(r.untracked(), 0);
    w[1].encap(0, 1, 90);
    assert_eq!(s.read(&w).tunnel("t1").unwrap().encap_packets, 1);
    assert_eq!(s.read(&w).tunnel("t1").unwrap().encap_bytes, 90);
}

#[test]
fn a_decap_run_counts_what_packet_by_packet_counting_does() {
    let w = [WorkerEntries::new(4, 4), WorkerEntries::new(4, 4)];
    let mut run = DecapRun::default();
    let seq = [
        (0, 1, 10),
        (0, 1, 20),
        (2, NO_SLOT, 5),
        (0, 1, 7),
        (3, 3, 1),
        (3, 3, 1),
    ];
    for (v, t, b) in seq {
        run.add(&w[0], v, t, b);
        w[1].decap(v, t, 1, b);
    }
    run.flush(&w[0]);
    run.flush(&w[0]); // nothing left: no double count
    for s in 0..4 {
        assert_eq!(
            WorkerEntries::vni_sum(&w[..1], s),
            WorkerEntries::vni_sum(&w[1..], s),
            "VNI slot {s}"
        );
        assert_eq!(
            WorkerEntries::tunnel_sum(&w[..1], s),
            WorkerEntries::tunnel_sum(&w[1..], s),
            "tunnel slot {s}"
        );
    }
    assert_eq!(WorkerEntries::vni_sum(&w[..1], 0).packets, 3);
    assert_eq!(WorkerEntries::vni_sum(&w[..1], 0).bytes, 37);
}

#[test]
fn no_slot_counts_nowhere() {
    let s = EntrySlots::new(2, 2);
    let w = [s.worker_entries()];
    w[0].encap(NO_SLOT, 1, 1);
    w[0].decap(NO_SLOT, NO_SLOT, 1, 1);
    w[0].decap_drop(NO_SLOT, 1);
    w[0].encap_drop(NO_SLOT, 1);
    w[0].encap(5, 1, 1); // past the array: ignored, no panic
    assert_eq!(WorkerEntries::tunnel_sum(&w, 0), TunnelCounters::default());
    assert_eq!(WorkerEntries::tunnel_sum(&w, 1), TunnelCounters::default());
    assert_eq!(WorkerEntries::vni_sum(&w, 0), VniCounters::default());
}

#[test]
fn decap_counts_the_vni_and_the_tunnel_of_the_source() {
    let mut s = EntrySlots::new(8, 8);
    let w = [s.worker_entries()];
    // Two tunnels on VNI 100 (t0 to .1, t1 to .2 after the remap below).
    s.sync_entries(
        [("a", remote(0), 100, false), ("b", remote(1), 100, false)].into_iter(),
        &[100],
        1,
    );
    let of = s.tunnels_of_vni(100);
    assert_eq!(
        of,
        vec![
            (remote(0), s.tunnel_slot("a")),
            (remote(1), s.tunnel_slot("b"))
        ]
    );
    assert_eq!(s.tunnel_slot_for(remote(1), 100, false), s.tunnel_slot("b"));
    assert_eq!(s.tunnel_slot_for(remote(1), 100, true), NO_SLOT);
    w[0].decap(s.vni_slot(100), s.tunnel_slot("b"), 1, 100);
    w[0].decap(s.vni_slot(100), NO_SLOT, 1, 50);
    let r = s.read(&w);
    assert_eq!(r.vni(Vni::new(100).unwrap()).unwrap().packets, 2);
    assert_eq!(r.vni(Vni::new(100).unwrap()).unwrap().bytes, 150);
    assert_eq!(r.tunnel("b").unwrap().decap_packets, 1);
    assert_eq!(r.tunnel("a").unwrap().decap_packets, 0);
    let top = r.top_tunnels(1);
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].0, "b");
}

#[test]
fn top_tunnels_is_bounded_and_ordered() {
    let mut s = EntrySlots::new(8, 8);
    let w = [s.worker_entries()];
    sync_mask(&mut s, 0b11_1111, 1);
    for (i, n) in NAMES.iter().enumerate() {
        w[0].encap(s.tunnel_slot(n), (i as u64 * 7) % 5, 1);
    }
    // packets: t0 0, t1 2, t2 4, t3 1, t4 3, t5 0
    let top: Vec<&str> = s.read(&w).top_tunnels(3).iter().map(|t| t.0).collect();
    assert_eq!(top, ["t2", "t4", "t1"]);
    assert_eq!(s.read(&w).top_tunnels(100).len(), 6);
    assert_eq!(s.read(&w).tunnels().count(), 6);
    assert_eq!(s.read(&w).vnis().count(), 6);
}

#[derive(Debug, Clone)]
enum Op {
    /// The configuration becomes the tunnels of this mask (a new generation).
    Sync(u8),
    /// Worker `.0` counts `.2` packets for tunnel `.1` with the tables it reads.
    Count(usize, usize, u8),
    /// Worker `.0` moves to the latest tables.
    Advance(usize),
    /// The control thread settles with what every worker reads.
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..64).prop_map(Op::Sync),
        (0usize..2, 0usize..NAMES.len(), 1u8..5).prop_map(|(w, t, n)| Op::Count(w, t, n)),
        (0usize..2).prop_map(Op::Advance),
        Just(Op::Settle),
    ]
}

proptest! {
    /// Against a reference that keeps one number per (tunnel, incarnation):
    /// the reader shows exactly the packets counted for the tunnel's
    /// current incarnation, whatever reuse of slots happened, with
    /// workers lagging behind the latest tables.
    #[test]
    fn counters_follow_incarnations(ops in proptest::collection::vec(op(), 1..80), cap in 2usize..5) {
        let mut s = EntrySlots::new(cap, cap);
        let w = [s.worker_entries(), s.worker_entries()];
        // Per generation: name -> (slot, incarnation) in those tables.
        let mut gens: Vec<HashMap<&str, (u32, u64)>> = vec![HashMap::new()];
        let mut reading = [0usize, 0];
        let mut inc: HashMap<&str, u64> = HashMap::new();
        let mut next_inc = 0u64;
        let mut expect: HashMap<(&str, u64), u64> = HashMap::new();
        for o in ops {
            match o {
                Op::Sync(mask) => {
                    let g = gens.len() as u64;
                    sync_mask(&mut s, mask, g);
                    let prev = gens.last().cloned().unwrap_or_default();
                    let mut now = HashMap::new();
                    for (i, n) in NAMES.iter().enumerate() {
                        let slot = s.tunnel_slot(n);
                        if mask & (1 << i) == 0 || slot == NO_SLOT {
                            continue;
                        }
                        // Same slot as before: the same incarnation.
                        let i = match prev.get(n) {
                            Some(&(ps, pi)) if ps == slot => pi,
                            _ => { next_inc += 1; next_inc }
                        };
                        now.insert(*n, (slot, i));
                    }
                    inc = now.iter().map(|(n, (_, i))| (*n, *i)).collect();
                    gens.push(now);
                }
                Op::Count(wi, t, n) => {
                    if let Some(&(slot, i)) = gens[reading[wi]].get(NAMES[t]) {
                        w[wi].encap(slot, u64::from(n), 10 * u64::from(n));
                        *expect.entry((NAMES[t], i)).or_default() += u64::from(n);
                    }
                }
                Op::Advance(wi) => reading[wi] = gens.len() - 1,
                Op::Settle => {
                    let read = *reading.iter().min().unwrap() as u64;
                    s.settle(read, &w);
                }
            }
            let r = s.read(&w);
            for n in NAMES {
                let want = inc.get(n).map(|i| expect.get(&(n, *i)).copied().unwrap_or(0));
                let got = r.tunnel(n).map(|c| c.encap_packets);
                prop_assert_eq!(got, want, "tunnel {}", n);
                if let Some(c) = r.tunnel(n) {
                    prop_assert_eq!(c.encap_bytes, 10 * c.encap_packets);
                }
            }
        }
    }
}
