//! The look-ahead over a burst (`pipeline::ahead`): it finds the entries of
//! exactly the frames the per-packet path would look up in a large table,
//! none in a small one, and never reads past a frame.
use std::collections::HashMap;
use std::fmt::Write;

use proptest::prelude::*;

use super::{build, udp_frame, UL_MAC};
use crate::dataplane::pipeline::{
    underlay_express_key, underlay_express_v6, wants_ahead_underlay, AccessAhead, UnderlayAhead,
    AHEAD_MIN_ENTRIES,
};
use crate::dataplane::stats::WorkerEntries;
use crate::dataplane::tables::{Tables, VniHint};
use crate::tunnel::{Buffer, VecBuffer};

/// A new access look-ahead filled with `frames` of `port`, as the worker
/// fills its own (`None`: the table is small, no look-ahead).
fn ahead_access<'a>(
    t: &Tables,
    port: u16,
    frames: impl Iterator<Item = &'a [u8]>,
) -> Option<AccessAhead> {
    let mut a = AccessAhead::default();
    a.fill(t, port, frames).then_some(a)
}

/// A new decap look-ahead's first step for `frames`: their index slots
/// prefetched, nothing probed yet.
fn ahead_underlay_slots<'a>(t: &Tables, frames: impl Iterator<Item = &'a [u8]>) -> UnderlayAhead {
    let mut a = UnderlayAhead::default();
    a.fill(t, frames);
    a
}

/// Both decap steps for every frame at once: how many frames' VNIs have
/// an entry (0 where the worker does not look ahead: a small table).
fn ahead_underlay<'a>(t: &Tables, frames: impl Iterator<Item = &'a [u8]>) -> usize {
    if !wants_ahead_underlay(t) {
        return 0;
    }
    let frames: Vec<&[u8]> = frames.collect();
    let mut a = ahead_underlay_slots(t, frames.iter().copied());
    (0..frames.len()).filter(|&i| a.probe(t, i)).count()
}

const HEAD: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops: [ { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.19.0.0/16] } ]
"#;

fn mac(i: usize) -> [u8; 6] {
    let b = (i as u32).to_be_bytes();
    [2, 0x10, b[0], b[1], b[2], b[3]]
}

fn remote(i: usize) -> String {
    format!("198.19.{}.{}", i / 250 % 250, 1 + i % 250)
}

fn tables_of(cfg: &str) -> Tables {
    let cfg = crate::config::load_str(cfg, "t.yaml").unwrap();
    build(
        &cfg,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    )
}

/// `n` static MACs on the untagged segment of port acc, each to its own remote.
fn l2(n: usize) -> Tables {
    let mut c = format!("{HEAD}l2:\n  learning: false\n  segments:\n    - port: acc\n      vni: 100\n      static_macs:\n");
    for i in 0..n {
        let m = mac(i).map(|b| format!("{b:02x}")).join(":");
        writeln!(c, "        - {{ mac: \"{m}\", remote: {} }}", remote(i)).unwrap();
    }
    tables_of(&c)
}

/// `n` IPv4 /32 routes 198.19.128.0 + i, plus one IPv6 /64.
fn l3(n: usize) -> Tables {
    let mut c = format!("{HEAD}tunnels:\n  - {{ name: t0, remote: 198.19.0.1, vni: 100 }}\n  - {{ name: t1, remote: 198.19.0.2, vni: 100 }}\nl3:\n  access: {{ port: acc, ipv4: 198.18.200.254/24, next_hop_mac: \"02:00:00:00:0a:01\" }}\n  routes:\n    - {{ prefix: \"2001:db8:77::/64\", tunnel: t1 }}\n");
    for i in 0..n {
        writeln!(
            c,
            "    - {{ prefix: 198.19.{}.{}/32, tunnel: t{} }}",
            128 + i / 256,
            i % 256,
            i % 2
        )
        .unwrap();
    }
    tables_of(&c)
}

/// `n` decap VNIs 1000 + i to port acc.
fn decap(n: usize) -> Tables {
    let mut c = format!("{HEAD}decap:\n");
    for i in 0..n {
        writeln!(c, "  - {{ vni: {}, port: acc }}", 1000 + i).unwrap();
    }
    tables_of(&c)
}

fn untagged(mut f: Vec<u8>) -> Vec<u8> {
    f.drain(12..16);
    f
}

fn ipv4_to(dst: [u8; 4]) -> Vec<u8> {
    untagged(udp_frame(
        [2, 0, 0, 0, 0, 0xaa],
        [198, 18, 200, 1],
        dst,
        1,
        2,
    ))
}

/// An untagged IPv6/UDP frame to `dst` (RFC 8200 header, by hand).
fn ipv6_to(dst: std::net::Ipv6Addr) -> Vec<u8> {
    let mut f = vec![
        2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xcc, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64,
    ];
    f.extend_from_slice(
        &"2001:db8:1::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    f
}

/// A Geneve frame for `vni`, made by the gateway's own encap towards us,
/// so the VNI sits where RFC 8926 puts it, independent of the look-ahead.
fn geneve(vni: u32) -> Vec<u8> {
    let mut tc = crate::tunnel::TunnelConfig::new(
        [2, 0, 0, 0, 0, 2],
        UL_MAC,
        "198.18.0.2".parse().unwrap(),
        "198.18.0.1".parse().unwrap(),
        crate::wire::Vni::new(vni).unwrap(),
    );
    tc.udp_checksum = Some(crate::tunnel::UdpChecksumTx::Zero);
    let tpl = crate::tunnel::EncapTemplate::new(&tc).unwrap();
    let inner = untagged(udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        1,
        2,
    ));
    let mut b = crate::tunnel::VecBuffer::with_headroom(256, &inner);
    crate::tunnel::encap(&tpl, &mut b, None).unwrap();
    b.data().to_vec()
}

fn count_access(t: &Tables, frames: &[Vec<u8>]) -> usize {
    ahead_access(t, 1, frames.iter().map(|f| f.as_slice())).map_or(0, |a| a.found())
}

#[test]
fn known_macs_of_a_large_segment_are_looked_up_ahead_and_nothing_else() {
    let n = AHEAD_MIN_ENTRIES;
    let t = l2(n);
    let known = |i: usize| untagged(udp_frame(mac(i), [198, 19, 0, 1], [198, 19, 0, 2], 1, 2));
    let frames = vec![
        known(0),
        known(n - 1),
        known(n / 2),
        known(n),                                                  // unknown MAC
        udp_frame(mac(1), [198, 19, 0, 1], [198, 19, 0, 2], 1, 2), // tagged
        vec![0xff; 14],                                            // broadcast
        mac(2).to_vec(),                                           // shorter than a header
        Vec::new(),
    ];
    assert_eq!(count_access(&t, &frames), 3);
    // Below the threshold the cache holds the table: nothing is done.
    let small = l2(n - 1);
    assert_eq!(count_access(&small, &frames), 0);
    // The underlay side of an L2 gateway has no VNI table to speak of.
    assert_eq!(ahead_underlay(&t, frames.iter().map(|f| f.as_slice())), 0);
}

#[test]
fn routed_destinations_of_a_large_l3_table_are_looked_up_ahead() {
    let t = l3(AHEAD_MIN_ENTRIES);
    let frames = vec![
        ipv4_to([198, 19, 128, 0]),
        ipv4_to([198, 19, 143, 255]),
        ipv4_to([198, 19, 144, 0]), // past the last route
        ipv4_to([198, 18, 0, 9]),   // no route
        ipv6_to("2001:db8:77::5".parse().unwrap()),
        ipv6_to("2001:db8:78::5".parse().unwrap()),
        ipv4_to([198, 19, 130, 7])[..33].to_vec(), // cut inside the destination
    ];
    assert_eq!(count_access(&t, &frames), 3);
    assert_eq!(count_access(&l3(100), &frames), 0);
}

#[test]
fn vnis_of_a_large_decap_table_are_looked_up_ahead() {
    let n = AHEAD_MIN_ENTRIES;
    let t = decap(n);
    let short = geneve(1000)[..48].to_vec();
    let frames = [
        geneve(1000),
        geneve(1000 + n as u32 - 1),
        geneve(999),
        geneve(1000 + n as u32),
        short,
    ];
    assert_eq!(ahead_underlay(&t, frames.iter().map(|f| f.as_slice())), 2);
    assert_eq!(
        ahead_underlay(&decap(10), frames.iter().map(|f| f.as_slice())),
        0
    );
    // In two steps, as the worker runs it: each frame probed by its place
    // in the burst (the express tier's order), nothing past the burst.
    let mut a = ahead_underlay_slots(&t, frames.iter().map(|f| f.as_slice()));
    let found: Vec<bool> = (0..frames.len() + 2).map(|i| a.probe(&t, i)).collect();
    assert_eq!(found, [true, true, false, false, false, false, false]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes: no panic, and never more found than frames given; the
    /// counter-cell stage too, with counter arrays that hold none of the
    /// slots the tables name (`cells` 0) or some of them.
    #[test]
    fn any_bytes_are_safe(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..40),
        cells in 0usize..3,
    ) {
        static T: std::sync::OnceLock<(Tables, Tables, Tables)> = std::sync::OnceLock::new();
        let (a, b, c) = T.get_or_init(|| (l2(AHEAD_MIN_ENTRIES), l3(AHEAD_MIN_ENTRIES), decap(AHEAD_MIN_ENTRIES)));
        let e = WorkerEntries::new(cells, cells);
        for t in [a, b, c] {
            prop_assert!(count_access(t, &frames) <= frames.len());
            if let Some(x) = ahead_access(t, 1, frames.iter().map(|f| f.as_slice())) {
                x.prefetch_counters(t, &e);
            }
            prop_assert!(ahead_underlay(t, frames.iter().map(|f| f.as_slice())) <= frames.len());
            let mut a = ahead_underlay_slots(t, frames.iter().map(|f| f.as_slice()));
            prop_assert!(!a.probe(t, frames.len()) && !a.probe(t, usize::MAX));
        }
    }
}

#[test]
fn look_ahead_encap_gives_the_per_packet_paths_bytes_or_declines() {
    let n = AHEAD_MIN_ENTRIES;
    let t = l2(n);
    let known = |i: usize| untagged(udp_frame(mac(i), [198, 19, 0, 1], [198, 19, 0, 2], 1, 2));
    let mut group = known(3);
    group[0] |= 1;
    let frames = [
        known(7),
        udp_frame(mac(8), [198, 19, 0, 1], [198, 19, 0, 2], 1, 2), // tagged
        known(n + 5),                                              // unknown
        group,
        known(n - 1),
    ];
    let a = ahead_access(&t, 1, frames.iter().map(|f| f.as_slice())).unwrap();
    assert_eq!(a.express_frames(), 2);
    for (i, f) in frames.iter().enumerate() {
        let mut by_ahead = crate::tunnel::VecBuffer::with_headroom(256, f);
        let mut by_path = crate::tunnel::VecBuffer::with_headroom(256, f);
        let path = super::access(&t, 1, &mut by_path, Some(0x1234));
        match a.encap(&t, i, &mut by_ahead, Some(0x1234)) {
            Some(x) => {
                let port = x.port;
                // Every member of this segment is a Geneve tunnel.
                assert!(!x.vxlan, "frame {i}");
                assert_eq!(
                    path,
                    crate::dataplane::pipeline::Outcome::Encapped(port),
                    "frame {i}"
                );
                assert_eq!(by_ahead.data(), by_path.data(), "frame {i}");
                // The outer destination is the MAC's remote VTEP.
                let want: std::net::Ipv4Addr =
                    remote(if i == 0 { 7 } else { n - 1 }).parse().unwrap();
                assert_eq!(by_ahead.data()[30..34], want.octets(), "frame {i}");
            }
            None => {
                assert!([1, 2, 3].contains(&i), "frame {i} declined");
                assert_eq!(
                    by_ahead.data(),
                    f.as_slice(),
                    "declined frame {i} untouched"
                );
            }
        }
    }
    // Past the frames it saw, it takes nothing.
    let mut b = crate::tunnel::VecBuffer::with_headroom(256, &frames[0]);
    assert_eq!(a.encap(&t, frames.len(), &mut b, None), None);
}

/// The worker refills one look-ahead per burst: nothing of a burst
/// survives into the next. A shorter burst's frames past its end, a burst
/// whose frames are unknown, and any burst once the table is small (no
/// look-ahead) are all declined, and a refill finds what a new one does.
#[test]
fn a_refilled_look_ahead_keeps_nothing_of_the_last_burst() {
    let n = AHEAD_MIN_ENTRIES;
    let t = l2(n);
    let known = |i: usize| untagged(udp_frame(mac(i), [198, 19, 0, 1], [198, 19, 0, 2], 1, 2));
    let first: Vec<Vec<u8>> = (0..8).map(|i| known(i * 3)).collect();
    let mut a = AccessAhead::default();
    assert!(a.fill(&t, 1, first.iter().map(|f| f.as_slice())));
    assert_eq!((a.found(), a.express_frames()), (8, 8));
    let takes = |a: &AccessAhead, t: &Tables, i: usize| {
        let mut b = crate::tunnel::VecBuffer::with_headroom(256, &first[i]);
        a.encap(t, i, &mut b, None).is_some()
    };
    assert!((0..8).all(|i| takes(&a, &t, i)));
    // Two unknown MACs: the first burst's templates are gone, for the
    // two frames and for those past them.
    let unknown = [known(n + 1), known(n + 2)];
    assert!(a.fill(&t, 1, unknown.iter().map(|f| f.as_slice())));
    assert_eq!((a.found(), a.express_frames()), (0, 0));
    assert!((0..8).all(|i| !takes(&a, &t, i)));
    // Refilled with the first burst: what a new one finds.
    assert!(a.fill(&t, 1, first.iter().map(|f| f.as_slice())));
    let fresh = ahead_access(&t, 1, first.iter().map(|f| f.as_slice())).unwrap();
    assert_eq!(
        (a.found(), a.express_frames()),
        (fresh.found(), fresh.express_frames())
    );
    // A small table: no look-ahead, and nothing left to take.
    let small = l2(n - 1);
    assert!(!a.fill(&small, 1, first.iter().map(|f| f.as_slice())));
    assert_eq!((a.found(), a.express_frames(), a.is_l2()), (0, 0, false));
    assert!((0..8).all(|i| !takes(&a, &t, i)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The decap express tier given the look-ahead's hints (each frame's
    /// entry as its probe found it) does exactly what it does looking
    /// every VNI up itself: the same key and the same bytes, for every
    /// frame of a burst of known and unknown VNIs, mutated headers (an
    /// IPv4 header length or EtherType that moves the VNI away from where
    /// the look-ahead read it), cut frames; and with another frame's hint
    /// (a hint for a VNI that is not the frame's is not taken).
    #[test]
    fn hinted_decap_is_the_looked_up_decap(
        picks in prop::collection::vec((0u32..(AHEAD_MIN_ENTRIES as u32 + 64), any::<u8>(), 0usize..120, any::<u8>(), 0usize..160), 1..32),
        shift in 0usize..32,
    ) {
        static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
        let t = T.get_or_init(|| decap(AHEAD_MIN_ENTRIES));
        let frames: Vec<Vec<u8>> = picks
            .iter()
            .map(|&(k, how, at, byte, cut)| {
                let mut f = geneve(1000 + k);
                match how % 4 {
                    // Mutated: any byte to any value.
                    0 => {
                        if let Some(b) = f.get_mut(at) {
                            *b = byte;
                        }
                    }
                    // Cut short.
                    1 => f.truncate(cut),
                    _ => {}
                }
                f
            })
            .collect();
        let mut a = ahead_underlay_slots(t, frames.iter().map(|f| f.as_slice()));
        for i in 0..frames.len() {
            a.probe(t, i);
        }
        for (i, f) in frames.iter().enumerate() {
            let looked_up = |f: &[u8]| {
                let mut b = VecBuffer::with_headroom(64, f);
                let k = underlay_express_key::<true, _, _>(t, &mut b, ());
                (k, b.data().to_vec())
            };
            let hinted = |f: &[u8], h| {
                let mut b = VecBuffer::with_headroom(64, f);
                let k = underlay_express_key::<true, _, _>(t, &mut b, h);
                (k, b.data().to_vec())
            };
            let want = looked_up(f);
            prop_assert_eq!(&hinted(f, a.hint(i)), &want, "frame {}", i);
            let other = (i + shift) % frames.len();
            prop_assert_eq!(&hinted(f, a.hint(other)), &want, "frame {} with frame {}'s hint", i, other);
            let mut b = VecBuffer::with_headroom(64, f);
            let v6 = underlay_express_v6::<true, _, _>(t, &mut b, a.hint(i));
            prop_assert_eq!(&(v6, b.data().to_vec()), &want, "frame {}, the IPv6-first loop", i);
        }
    }
}

/// A hint is the frame's own probe's: none for a frame whose VNI has no
/// entry, none before the probe ran, and the entry of the VNI it names.
#[test]
fn hints_name_the_probed_entries() {
    let n = AHEAD_MIN_ENTRIES;
    let t = decap(n);
    let frames = [geneve(1000 + 7), geneve(1000 + n as u32), geneve(1000)];
    let mut a = ahead_underlay_slots(&t, frames.iter().map(|f| f.as_slice()));
    assert_eq!(a.hint(0), None, "not probed yet");
    for i in 0..frames.len() {
        a.probe(&t, i);
    }
    let entry = |vni| t.vnis.get_fast_at(vni).map(|(e, _, _)| e);
    assert_eq!(
        a.hint(0),
        Some(VniHint {
            vni: 1007,
            entry: entry(1007).unwrap()
        })
    );
    assert_eq!(a.hint(1), None, "no entry for VNI {}", 1000 + n);
    assert_eq!(
        a.hint(2).map(|h| (h.vni, Some(h.entry))),
        Some((1000, entry(1000)))
    );
    assert_eq!(a.hint(3), None, "past the burst");
}
