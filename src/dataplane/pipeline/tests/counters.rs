//! Per-tunnel and per-VNI counters: a packet names exactly its tunnel's
//! and its VNI's counter slots, with tables the planner made (as the
//! running gateway's are).
use super::*;
use crate::dataplane::changes::Planner;
use crate::dataplane::stats::{EntrySlots, WorkerEntries, NO_SLOT};
use crate::tunnel::TxOffloadCaps;
use crate::wire::geneve::Vni;

const TWO: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: t2, remote: 198.18.0.3, vni: 200 }
  - { name: t3, remote: 198.18.0.4, vni: 200 }
l2:
  learning: false
  segments:
    - { port: acc, vlan: 10, vni: 100, flood: [],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
    - { port: acc, vni: 200, flood: [],
        static_macs: [ { mac: "02:00:00:00:00:dd", remote: 198.18.0.3 } ] }
decap:
  - { vni: 100, allow_from: [198.18.0.2] }
  - { vni: 200 }
"#;

/// `text` loaded, and a planner for the two ports these tests run on
/// (underlay 0, access 1).
pub(super) fn two_port_planner(text: &str) -> (crate::config::Config, Planner) {
    let cfg = crate::config::load_str(text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let p = Planner::new(
        &[0, 1],
        &[UL_MAC, [2, 0, 0, 0, 0, 0xaa]],
        TxOffloadCaps::NONE,
        Default::default(),
    );
    (cfg, p)
}

/// The planner's tables for [`TWO`], both next hops resolved.
fn planned() -> (Tables, Planner) {
    let (cfg, mut p) = two_port_planner(TWO);
    p.sync_counters(&cfg, 1);
    let mut t = p.start(&cfg, std::iter::empty()).expect("tables");
    p.neighbor(&cfg, "198.18.0.2".parse().unwrap(), PEER2);
    p.neighbor(&cfg, "198.18.0.3".parse().unwrap(), [2, 0, 0, 0, 0, 3]);
    for c in p.take_changes() {
        t.apply(c);
    }
    (t, p)
}

/// `frame` (tagged with the segment's VLAN) as a Geneve packet from `src`
/// on `vni`.
fn from(src: [u8; 4], vni: u8, frame: &[u8]) -> Vec<u8> {
    let mut p = geneve_from_peer(frame, &[]);
    p[26..30].copy_from_slice(&src);
    // The VNI's low byte (outer Ethernet, IPv4 and UDP, then Geneve byte 6).
    p[14 + 20 + 8 + 6] = vni;
    fix_ipv4_checksum(&mut p);
    p
}

/// The counter slots a packet from the underlay named, and its outcome.
fn decap(t: &Tables, pkt: &[u8]) -> (Outcome, Vec<(u32, u32)>) {
    let mut seen = Vec::new();
    let mut b = VecBuffer::with_headroom(256, pkt);
    let o = underlay(t, &mut b, &mut |e| {
        if let Event::Counted { vni, tunnel } = e {
            seen.push((vni, tunnel));
        }
    });
    (o, seen)
}

#[test]
fn templates_and_decap_entries_carry_their_own_slots() {
    let (t, p) = planned();
    let s = p.counter_slots();
    let (t1, t2) = (s.tunnel_slot("t1"), s.tunnel_slot("t2"));
    let (v100, v200) = (s.vni_slot(100), s.vni_slot(200));
    assert!(t1 != NO_SLOT && t2 != NO_SLOT && t1 != t2);
    assert!(v100 != NO_SLOT && v200 != NO_SLOT && v100 != v200);
    // Encap: each segment's MAC goes to its own tunnel's template.
    for (vlan, mac, want) in [(Some(10), 0xbb, t1), (None, 0xdd, t2)] {
        let mut cache = MacCache::default();
        let mut f = tagged_frame([2, 0, 0, 0, 0, mac], vlan.unwrap_or(0));
        if vlan.is_none() {
            f.drain(12..16);
        }
        let mut b = VecBuffer::with_headroom(256, &f);
        assert_eq!(
            access_with_cache(&t, 1, &mut b, None, &mut cache),
            Outcome::Encapped(0)
        );
        let id = cache.chosen.expect("a template was chosen") as usize;
        assert_eq!(t.templates[id].counter(), want, "VLAN {vlan:?}");
    }
    // No template chosen (unknown VLAN): nothing to count under.
    let mut cache = MacCache::default();
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 30));
    assert_eq!(
        access_with_cache(&t, 1, &mut b, None, &mut cache),
        Outcome::Drop(DropReason::NoSegment)
    );
    assert_eq!(cache.chosen, None);
    assert_eq!(t.vnis.get(100).map(|o| o.counter), Some(v100));
    assert_eq!(t.vnis.get(200).map(|o| o.counter), Some(v200));
}

#[test]
fn a_decapsulated_packet_names_its_vni_and_tunnel_once_and_a_drop_its_vni() {
    let (t, p) = planned();
    let s = p.counter_slots();
    let inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
    // From t1's remote on VNI 100: VNI 100's slot and t1's.
    let (o, seen) = decap(&t, &from([198, 18, 0, 2], 100, &inner));
    assert_eq!(o, Outcome::Decapped(1));
    assert_eq!(seen, vec![(s.vni_slot(100), s.tunnel_slot("t1"))]);
    // From t2's remote on VNI 200 (plain, untagged: the express tier too).
    let pkt = from([198, 18, 0, 3], 200, &inner);
    let (o, seen) = decap(&t, &pkt);
    assert_eq!(o, Outcome::Decapped(1));
    assert_eq!(seen, vec![(s.vni_slot(200), s.tunnel_slot("t2"))]);
    let mut b = VecBuffer::with_headroom(256, &pkt);
    let x = underlay_express_counted(&t, &mut b).expect("the express tier takes it");
    assert_eq!(
        (x.port, x.vni, x.tunnel),
        (1, s.vni_slot(200), s.tunnel_slot("t2"))
    );
    // VNI 200 has a second tunnel, t3: its packets are t3's, both tiers.
    let pkt = from([198, 18, 0, 4], 200, &inner);
    let (o, seen) = decap(&t, &pkt);
    assert_eq!(o, Outcome::Decapped(1));
    assert_eq!(seen, vec![(s.vni_slot(200), s.tunnel_slot("t3"))]);
    let mut b = VecBuffer::with_headroom(256, &pkt);
    let x = underlay_express_counted(&t, &mut b).expect("the express tier takes it");
    assert_eq!((x.vni, x.tunnel), (s.vni_slot(200), s.tunnel_slot("t3")));
    assert_ne!(s.tunnel_slot("t3"), s.tunnel_slot("t2"));
    // VNI 200 from t1's remote: VNI 200's slot, no tunnel (t1 is VNI 100).
    let (_, seen) = decap(&t, &from([198, 18, 0, 2], 200, &inner));
    assert_eq!(seen, vec![(s.vni_slot(200), NO_SLOT)]);
    // A drop after the VNI lookup (source not allowed) names the VNI.
    let (o, seen) = decap(&t, &from([198, 18, 0, 9], 100, &inner));
    assert_eq!(o, Outcome::Drop(DropReason::SourceVtepNotAllowed));
    assert_eq!(seen, vec![(s.vni_slot(100), NO_SLOT)]);
    // An unknown VNI names nothing.
    let (o, seen) = decap(&t, &from([198, 18, 0, 2], 77, &inner));
    assert_eq!(o, Outcome::Drop(DropReason::UnknownVni));
    assert!(seen.is_empty());
}

#[test]
fn counted_slots_read_back_under_the_right_names() {
    // What the worker does with the slots, read as the control thread does.
    let (t, p) = planned();
    let s: &EntrySlots = p.counter_slots();
    let w: Vec<WorkerEntries> = (0..2).map(|_| s.worker_entries()).collect();
    let inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
    for (i, src) in [[198, 18, 0, 2], [198, 18, 0, 2], [198, 18, 0, 9]]
        .iter()
        .enumerate()
    {
        let pkt = from(*src, 100, &inner);
        let mut b = VecBuffer::with_headroom(256, &pkt);
        let mut seen = (NO_SLOT, NO_SLOT);
        let o = underlay(&t, &mut b, &mut |e| {
            if let Event::Counted { vni, tunnel } = e {
                seen = (vni, tunnel);
            }
        });
        match o {
            Outcome::Decapped(_) => w[i % 2].decap(seen.0, seen.1, 1, b.data().len() as u64),
            _ => w[i % 2].decap_drop(seen.0, 1),
        }
    }
    let r = s.read(&w);
    let v = r.vni(Vni::new(100).unwrap()).unwrap();
    assert_eq!((v.packets, v.drops), (2, 1));
    assert_eq!(v.bytes, 2 * (inner.len() as u64));
    assert_eq!(r.tunnel("t1").unwrap().decap_packets, 2);
    assert_eq!(r.tunnel("t2").unwrap().decap_packets, 0);
    assert_eq!(r.vni(Vni::new(200).unwrap()).unwrap().packets, 0);
}

/// The decap express loop's key (`ExpressKey`) of `pkt`, counted (`C`) or
/// not, and the frame it left.
fn key_of<const C: bool>(t: &Tables, pkt: &[u8]) -> Option<(ExpressKey, Vec<u8>)> {
    let mut b = VecBuffer::with_headroom(256, pkt);
    let k = underlay_express_key::<C, _, _>(t, &mut b, ())?;
    Some((k, b.data().to_vec()))
}

#[test]
fn express_keys_are_equal_exactly_for_one_vni_and_one_source_and_resolve_to_their_slots() {
    // The worker counts a run of equal keys once: equal keys must mean
    // the same port and the same (VNI, tunnel) slots, different sources
    // different keys.
    let (t, p) = planned();
    let s = p.counter_slots();
    let inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
    let mut untagged = inner.clone();
    untagged.drain(12..16);
    let cases = [
        ([198, 18, 0, 3], 200, s.tunnel_slot("t2")),
        ([198, 18, 0, 4], 200, s.tunnel_slot("t3")),
        // VNI 200 from t1's remote: no tunnel of VNI 200.
        ([198, 18, 0, 2], 200, NO_SLOT),
        ([198, 18, 0, 9], 200, NO_SLOT),
    ];
    let mut keys = Vec::new();
    for (src, vni, tunnel) in cases {
        let pkt = from(src, vni, &untagged);
        let (k, out) = key_of::<true>(&t, &pkt).expect("the express tier takes it");
        let x = k.resolve(&t);
        assert_eq!(
            (x.port, x.vni, x.tunnel),
            (1, s.vni_slot(200), tunnel),
            "{src:?}"
        );
        // The same as the per-packet answer, and the same bytes.
        let mut b = VecBuffer::with_headroom(256, &pkt);
        assert_eq!(underlay_express_counted(&t, &mut b), Some(x));
        assert_eq!(b.data(), &out[..]);
        // A second packet of the same source and VNI: the same key.
        let (k2, _) = key_of::<true>(&t, &pkt).expect("taken again");
        assert_eq!(k2, k);
        // Not counting: the same port and bytes, no source read.
        let (plain, plain_out) = key_of::<false>(&t, &pkt).expect("taken uncounted");
        assert_eq!(plain.resolve(&t).port, x.port);
        assert_eq!(plain_out, out);
        keys.push(k);
    }
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b, "two sources, one key");
        }
    }
}

#[test]
fn entry_counters_off_give_no_slots_no_arrays_and_nothing_untracked() {
    let text = format!("{TWO}metrics:\n  entry_counters: false\n");
    let (cfg, mut p) = two_port_planner(&text);
    p.sync_counters(&cfg, 1);
    // A reload does not turn them on (read at start).
    p.sync_counters(&cfg, 2);
    let t = p.start(&cfg, std::iter::empty()).expect("tables");
    let s = p.counter_slots();
    assert!(s.is_off());
    assert_eq!(s.capacity(), (0, 0));
    assert!(!s.worker_entries().counting());
    assert_eq!(s.tunnel_slot("t1"), NO_SLOT);
    assert_eq!(s.vni_slot(100), NO_SLOT);
    assert_eq!(t.vnis.get(200).map(|o| o.counter), Some(NO_SLOT));
    assert!(t.templates.iter().all(|x| x.counter() == NO_SLOT));
    let w = [s.worker_entries()];
    assert_eq!(s.read(&w).untracked(), 0);
    assert_eq!(s.read(&w).tunnels().count(), 0);
    // On (the default), the same configuration's arrays count.
    let (_, on) = planned();
    assert!(on.counter_slots().worker_entries().counting());
}

/// [`TWO`] with an IPv6 VTEP address and two IPv6 tunnels on VNI 200.
fn planned_v6() -> (Tables, Planner) {
    let text = TWO
        .replace(
            "  ipv4: 198.18.0.1/24",
            "  ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64",
        )
        .replace(
            "  - { name: t3, remote: 198.18.0.4, vni: 200 }",
            "  - { name: t3, remote: 198.18.0.4, vni: 200 }\n  \
             - { name: u1, remote: \"2001:db8:18::3\", vni: 200 }\n  \
             - { name: u2, remote: \"2001:db8:18::4\", vni: 200 }",
        );
    let cfg = crate::config::load_str(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut p = Planner::new(
        &[0, 1],
        &[UL_MAC, [2, 0, 0, 0, 0, 0xaa]],
        TxOffloadCaps::NONE,
        Default::default(),
    );
    p.sync_counters(&cfg, 1);
    let t = p.start(&cfg, std::iter::empty()).expect("tables");
    (t, p)
}

/// An untagged frame as a Geneve packet over IPv6 from `src` on VNI 200.
fn from6(src: [u8; 16], frame: &[u8]) -> Vec<u8> {
    let mut p = geneve6_from_peer(frame, &[]);
    p[22..38].copy_from_slice(&src);
    // The VNI's low byte (outer Ethernet, IPv6 and UDP, then Geneve byte 6).
    p[14 + 40 + 8 + 6] = 200;
    fix_udp6(&mut p);
    p
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Over an IPv6 underlay the express keys of a burst's packets are
    /// equal exactly when their sources' tunnels are, and each resolves to the tunnel of
    /// its source (reference: the configured tunnels of VNI 200 by
    /// address, first wins), in both loop orders: sources drawn from the
    /// two remotes and addresses that share their first or last 64 bits.
    #[test]
    fn ipv6_express_keys_are_equal_exactly_for_one_source_and_resolve_to_its_tunnel(
        picks in proptest::collection::vec(0usize..6, 1..12),
    ) {
        let (t, p) = planned_v6();
        let s = p.counter_slots();
        let addr = |a: &str| a.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let pool: [([u8; 16], u32); 6] = [
            (addr("2001:db8:18::3"), s.tunnel_slot("u1")),
            (addr("2001:db8:18::4"), s.tunnel_slot("u2")),
            (addr("2001:db8:18::2"), NO_SLOT),
            // The first remote's first 64 bits, other last ones.
            (addr("2001:db8:18::1:0:0:3"), NO_SLOT),
            // Its last 64 bits, other first ones.
            (addr("2001:db8:19::3"), NO_SLOT),
            (addr("::"), NO_SLOT),
        ];
        proptest::prop_assert!(pool[0].1 != NO_SLOT && pool[1].1 != NO_SLOT && pool[0].1 != pool[1].1);
        let mut inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
        inner.drain(12..16);
        let mut keys = Vec::new();
        for &i in &picks {
            let (src, tunnel) = pool[i];
            let pkt = from6(src, &inner);
            let mut b = VecBuffer::with_headroom(256, &pkt);
            let k = underlay_express_key::<true, _, _>(&t, &mut b, ()).expect("taken");
            let mut b6 = VecBuffer::with_headroom(256, &pkt);
            let k6 = underlay_express_v6::<true, _, _>(&t, &mut b6, ()).expect("taken, IPv6 first");
            proptest::prop_assert_eq!(k, k6);
            proptest::prop_assert_eq!(b.data(), b6.data());
            let x = k.resolve(&t);
            proptest::prop_assert_eq!((x.port, x.vni, x.tunnel), (1, s.vni_slot(200), tunnel), "{:?}", src);
            keys.push((k, i));
        }
        for (a, i) in &keys {
            for (b, j) in &keys {
                // One VNI: equal keys exactly for one tunnel (sources
                // of no tunnel share the no-slot key).
                proptest::prop_assert_eq!(a == b, pool[*i].1 == pool[*j].1, "sources {} and {}", i, j);
            }
        }
    }
}
