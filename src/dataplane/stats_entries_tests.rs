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
    same_sums(&w);
    assert_eq!(WorkerEntries::vni_sum(&w[..1], 0).packets, 3);
    assert_eq!(WorkerEntries::vni_sum(&w[..1], 0).bytes, 37);
}

/// Worker 0 (counted by runs) and worker 1 (packet by packet) hold the
/// same sums in every slot of four.
fn same_sums(w: &[WorkerEntries; 2]) {
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
}

#[test]
fn a_decap_run_counts_runs_as_their_packets_one_by_one() {
    let w = [WorkerEntries::new(4, 4), WorkerEntries::new(4, 4)];
    let mut run = DecapRun::default();
    // (VNI, tunnel, bytes of each packet of the run)
    let runs: [(u32, u32, &[u64]); 4] = [
        (0, 1, &[10, 20]),
        (2, NO_SLOT, &[5]),
        (0, 1, &[7, 8, 9]),
        (0, 1, &[1]),
    ];
    for (v, t, lens) in runs {
        run.add_run(&w[0], v, t, lens.len() as u64, lens.iter().sum());
        for &b in lens {
            w[1].decap(v, t, 1, b);
        }
    }
    run.flush(&w[0]);
    same_sums(&w);
    assert_eq!(WorkerEntries::tunnel_sum(&w[..1], 1).decap_packets, 6);
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
                    let (given, _) = s.settle(read, &w);
                    if !given.is_empty() {
                        // Tunnels that waited got a slot: the planner
                        // writes it into the next tables, a new
                        // incarnation from zero.
                        let mut now = gens.last().cloned().unwrap_or_default();
                        for (r, _) in given {
                            let n = NAMES[(0..NAMES.len()).find(|&i| remote(i) == r).unwrap()];
                            next_inc += 1;
                            now.insert(n, (s.tunnel_slot(n), next_inc));
                        }
                        inc = now.iter().map(|(n, (_, i))| (*n, *i)).collect();
                        gens.push(now);
                    }
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

/// A configuration with tunnel `NAMES[i]` (renamed `r<i>` when bit `i` of
/// `renamed` is set) to 198.18.0.i+1 with VNI 100 + i for every bit `i` of
/// `tunnels`, and a decap entry for VNI 100 + i for every bit of `decap`.
fn cfg_of(tunnels: u8, renamed: u8, decap: u8) -> Config {
    let mut y = String::from(
        "eal: { cores: [1], control_core: 0 }\nports:\n  - { name: ul, role: underlay, device: 0 }\n  - { name: acc, role: access, device: 1 }\nvtep:\n  ipv4: 198.18.0.100/24\ntunnels:\n",
    );
    for (i, name) in NAMES.iter().enumerate() {
        if tunnels & (1 << i) != 0 {
            let name = if renamed & (1 << i) != 0 {
                format!("r{i}")
            } else {
                name.to_string()
            };
            y += &format!(
                "  - {{ name: {name}, remote: {}, vni: {} }}\n",
                remote(i),
                100 + i
            );
        }
    }
    y += "l2:\n  segments:\n    - { port: acc, vlan: 10, vni: 99 }\ndecap:\n  - { vni: 99 }\n";
    for i in 0..NAMES.len() {
        if decap & (1 << i) != 0 {
            y += &format!("  - {{ vni: {}, port: acc, vlan: {} }}\n", 100 + i, 20 + i);
        }
    }
    crate::config::load_str(&y, "t.yaml").expect("test config")
}

/// (tunnel name, slot) and (VNI, slot) of every holder.
type Holders = (Vec<(String, u32)>, Vec<(u32, u32)>);

/// Which names and VNIs hold a slot, and the slot of every (remote, VNI).
fn holders(s: &EntrySlots, cfg: &Config) -> Holders {
    let mut names = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        for n in [name.to_string(), format!("r{i}")] {
            let slot = s.tunnel_slot(&n);
            if slot != NO_SLOT {
                assert_eq!(
                    s.tunnel_slot_for(remote(i), 100 + i as u32, false),
                    slot,
                    "{n}"
                );
                names.push((n, slot));
            }
        }
    }
    let vnis = cfg
        .decap
        .iter()
        .map(|d| (d.vni.get(), s.vni_slot(d.vni.get())))
        .collect();
    (names, vnis)
}

proptest! {
    /// Syncing only what a diff names gives every tunnel and decap VNI of
    /// the new configuration a slot, takes them from those that left, and
    /// keeps the slots of what stayed: what a whole sync gives.
    #[test]
    fn a_diff_sync_equals_a_whole_sync(
        a in any::<(u8, u8, u8)>(),
        b in any::<(u8, u8, u8)>(),
    ) {
        let (old, new) = (cfg_of(a.0, a.1, a.2), cfg_of(b.0, b.1, b.2));
        let d = crate::dataplane::changes::diff(&old, &new);
        let mut whole = EntrySlots::new(64, 64);
        whole.sync(&old, 1);
        let mut part = whole.clone();
        let before = holders(&whole, &old);
        whole.sync(&new, 2);
        part.sync_changed(&new, &d.tunnels, &d.decap, 2);
        let (wn, wv) = holders(&whole, &new);
        let (pn, pv) = holders(&part, &new);
        // The same names hold slots, every tunnel and VNI of `new` has one.
        let key = |v: &[(String, u32)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        prop_assert_eq!(key(&wn), key(&pn));
        prop_assert_eq!(pn.len(), new.tunnels.len());
        prop_assert!(pv.iter().all(|&(_, s)| s != NO_SLOT));
        prop_assert_eq!(wv.len(), pv.len());
        prop_assert_eq!(whole.untracked, part.untracked);
        // What stayed keeps its slot.
        for (n, s) in &before.0 {
            if let Some((_, s2)) = pn.iter().find(|(m, _)| m == n) {
                prop_assert_eq!(s, s2, "{} moved", n);
            }
        }
        for (v, s) in &before.1 {
            if let Some((_, s2)) = pv.iter().find(|(w, _)| w == v) {
                prop_assert_eq!(s, s2, "VNI {} moved", v);
            }
        }
    }
}

/// A tunnel and a VNI that came when every slot was taken wait for one:
/// once a retired slot settles they get it at once (no further sync or
/// reload needed), are named for the planner to rewrite their tables, and
/// count from zero.
#[test]
fn an_untracked_entry_gets_a_slot_once_one_settles() {
    let mut s = EntrySlots::new(1, 1);
    let w = [s.worker_entries()];
    sync_mask(&mut s, 0b01, 1);
    w[0].encap(0, 5, 500);
    w[0].decap(0, 0, 2, 120);
    // t1 and VNI 101 arrive: no room.
    sync_mask(&mut s, 0b11, 2);
    assert_eq!(s.tunnel_slot("t1"), NO_SLOT);
    assert_eq!(s.read(&w).untracked(), 2);
    // t0 and VNI 100 leave in generation 3; a worker still reads 2.
    sync_mask(&mut s, 0b10, 3);
    assert_eq!(s.settle(2, &w), (vec![], vec![]));
    assert_eq!(
        s.tunnel_slot("t1"),
        NO_SLOT,
        "retired slot handed out too early"
    );
    // Every worker reads 3: the slots settle and go to t1 and VNI 101.
    let (tunnels, vnis) = s.settle(3, &w);
    assert_eq!(tunnels, vec![(remote(1), Vni::new(101).unwrap())]);
    assert_eq!(vnis, vec![Vni::new(101).unwrap()]);
    assert_eq!((s.tunnel_slot("t1"), s.vni_slot(101)), (0, 0));
    let r = s.read(&w);
    assert_eq!(r.untracked(), 0);
    assert_eq!(r.tunnel("t1"), Some(TunnelCounters::default()));
    assert_eq!(r.vni(Vni::new(101).unwrap()), Some(VniCounters::default()));
    // Nothing waits any more: the next settle names nobody.
    assert_eq!(s.settle(4, &w), (vec![], vec![]));
}

/// An entry that left while it waited gets no slot.
#[test]
fn an_entry_that_left_while_waiting_gets_no_slot() {
    let mut s = EntrySlots::new(1, 1);
    let w = [s.worker_entries()];
    sync_mask(&mut s, 0b01, 1);
    sync_mask(&mut s, 0b011, 2);
    // t1 leaves before a slot frees; t0 leaves too, t2 arrives and waits.
    sync_mask(&mut s, 0b100, 3);
    let (tunnels, _) = s.settle(3, &w);
    assert_eq!(tunnels, vec![(remote(2), Vni::new(102).unwrap())]);
    assert_eq!(s.tunnel_slot("t1"), NO_SLOT);
    assert_eq!(s.tunnel_slot("t2"), 0);
}

/// Telemetry's copy shares the slots until the next change, which copies
/// them: the copy keeps reading what it was given (a change never shows
/// through half-made), the planner's side moves on, and a copy made after
/// the change sees it.
#[test]
fn a_readers_copy_keeps_its_slots_across_a_change() {
    let mut s = EntrySlots::new(8, 8);
    let w = [s.worker_entries()];
    sync_mask(&mut s, 0b11, 1);
    w[0].encap(s.tunnel_slot("t0"), 2, 200);
    let before = s.for_readers();
    assert_eq!(before.tunnel_slot("t0"), s.tunnel_slot("t0"));
    // The readers' copy has the slots, not the planner's (remote, VNI) index.
    assert_eq!(before.tunnel_slot_for(remote(0), 100, false), NO_SLOT);
    assert_ne!(s.tunnel_slot_for(remote(0), 100, false), NO_SLOT);
    // t0 and VNI 100 leave; t2 and VNI 102 come.
    sync_mask(&mut s, 0b110, 2);
    assert_eq!(s.tunnel_slot("t0"), NO_SLOT);
    assert_ne!(s.tunnel_slot("t2"), NO_SLOT);
    assert_eq!(before.tunnel_slot("t0"), 0);
    assert_eq!(before.tunnel_slot("t2"), NO_SLOT);
    assert_eq!(before.vni_slot(102), NO_SLOT);
    assert_eq!(before.read(&w).tunnel("t0").unwrap().encap_packets, 2);
    // A copy made now sees the change.
    let after = s.for_readers();
    assert_eq!(after.tunnel_slot("t2"), s.tunnel_slot("t2"));
    assert_eq!(after.vni_slot(102), s.vni_slot(102));
    assert_eq!(after.read(&w).tunnel("t0"), None);
}
