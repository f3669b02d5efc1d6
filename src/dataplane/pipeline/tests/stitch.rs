//! Stitching VXLAN and Geneve in one segment, and split horizon by mesh
//! group. Segment VLAN 10 is Geneve VNI 1000 towards 198.18.0.2 (mesh
//! `overlay`, with a non-critical option on its tunnel) and VXLAN VNI 5000
//! towards 198.18.0.3 and .4 (mesh `fabric`). Packets are built by hand
//! from the RFC layouts (RFC 7348 section 5, RFC 8926 section 3.4); the
//! expected results come from the configuration.
use super::*;
use crate::dataplane::stats::NO_SLOT;
use crate::wire::ethernet::EtherType;
use crate::wire::Vni;

const STITCH: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
options:
  registry: [ { name: tag, class: 0x0102, type: 0x01, length: 4 } ]
tunnels:
  - { name: ovn, remote: 198.18.0.2, vni: 1000, mesh: overlay,
      options: [ { name: tag, data: "0a0b0c0d" } ] }
  - { name: tor1, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan, mesh: fabric }
  - { name: tor2, remote: 198.18.0.4, vni: 5000, encapsulation: vxlan, mesh: fabric }
l2:
  learning: true
  segments:
    - { port: acc, vlan: 10, vni: 1000, vxlan_vni: 5000,
        flood: [198.18.0.2, 198.18.0.3, 198.18.0.4],
        static_macs: [ { mac: "02:00:00:00:00:b2", remote: 198.18.0.2 },
                       { mac: "02:00:00:00:00:b3", remote: 198.18.0.3 },
                       { mac: "02:00:00:00:00:b4", remote: 198.18.0.4 } ] }
"#;

const BEHIND_GENEVE: [u8; 6] = [2, 0, 0, 0, 0, 0xb2];
const BEHIND_VXLAN3: [u8; 6] = [2, 0, 0, 0, 0, 0xb3];
const BEHIND_VXLAN4: [u8; 6] = [2, 0, 0, 0, 0, 0xb4];
const HOST_SRC: [u8; 6] = [2, 0, 0, 0, 0, 0xc1];

fn stitch_tables(text: &str) -> Tables {
    let cfg = crate::config::load_str(text, "t.yaml").unwrap();
    let neigh: HashMap<IpAddr, [u8; 6]> = (2..=9u8)
        .map(|i| (IpAddr::from([198, 18, 0, i]), [2, 0, 0, 0, 0, i]))
        .collect();
    build(&cfg, &neigh, &HashMap::new(), 1, Default::default())
}

/// An untagged inner Ethernet frame (IPv4 UDP) to `dst`.
fn inner(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20u16 + 8 + 18).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x04, 0x00, 0x00, 0x50, 0, 26, 0, 0]);
    f.extend_from_slice(&[0x5a; 18]);
    f
}

/// Outer Ethernet + IPv4 (from `remote` to 198.18.0.1) + UDP to `port`
/// (zero checksum) around `tunnel_header` and `inner`.
fn outer(remote: u8, port: u16, tunnel_header: &[u8], inner: &[u8]) -> Vec<u8> {
    let udp_len = 8 + tunnel_header.len() + inner.len();
    let mut f = Vec::new();
    f.extend_from_slice(&UL_MAC);
    f.extend_from_slice(&[2, 0, 0, 0, 0, remote]);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, 0, remote]);
    ip[16..20].copy_from_slice(&[198, 18, 0, 1]);
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&50000u16.to_be_bytes());
    f.extend_from_slice(&port.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(tunnel_header);
    f.extend_from_slice(inner);
    f
}

/// RFC 7348: flags with I set, 24 reserved bits, VNI, 8 reserved bits.
fn vxlan_from(remote: u8, vni: u32, inner: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    outer(remote, 4789, &[0x08, 0, 0, 0, v[1], v[2], v[3], 0], inner)
}

/// RFC 8926: version 0, Opt Len, flags, protocol 0x6558, VNI; with one
/// non-critical 4-byte option (class 0x0102 type 1) when `option`.
fn geneve_from(remote: u8, vni: u32, option: bool, inner: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    let mut h = vec![u8::from(option) * 2, 0, 0x65, 0x58, v[1], v[2], v[3], 0];
    if option {
        h.extend_from_slice(&[0x01, 0x02, 0x01, 0x01, 9, 9, 9, 9]);
    }
    outer(remote, 6081, &h, inner)
}

fn run(t: &Tables, frame: &[u8]) -> (Outcome, Vec<u8>, Vec<Event>) {
    let mut b = VecBuffer::with_headroom(256, frame);
    let mut events = Vec::new();
    let o = underlay(t, &mut b, &mut |e| {
        if !matches!(e, Event::Counted { .. } | Event::Stitched { .. }) {
            events.push(e)
        }
    });
    (o, b.data().to_vec(), events)
}

#[test]
fn vxlan_to_a_mac_behind_geneve_leaves_as_geneve_with_that_tunnels_option() {
    let t = stitch_tables(STITCH);
    let i = inner(BEHIND_GENEVE, HOST_SRC);
    let (o, out, events) = run(&t, &vxlan_from(3, 5000, &i));
    assert_eq!(o, Outcome::Encapped(0));
    assert!(!events.contains(&Event::OptionsNotCarried));
    // Outer: to 198.18.0.2's MAC and address, UDP 6081, Geneve VNI 1000
    // with the tunnel's option (one word: Opt Len 2), the frame unchanged.
    assert_eq!(out[0..6], [2, 0, 0, 0, 0, 2]);
    assert_eq!(out[30..34], [198, 18, 0, 2]);
    assert_eq!(u16::from_be_bytes([out[36], out[37]]), 6081);
    assert_eq!(out[42..50], [2, 0, 0x65, 0x58, 0, 0x03, 0xe8, 0]);
    assert_eq!(
        out[50..58],
        [0x01, 0x02, 0x01, 0x01, 0x0a, 0x0b, 0x0c, 0x0d]
    );
    assert_eq!(&out[58..], &i[..]);
}

#[test]
fn geneve_to_a_mac_behind_vxlan_leaves_as_vxlan_without_the_options() {
    let t = stitch_tables(STITCH);
    let i = inner(BEHIND_VXLAN3, HOST_SRC);
    let (o, out, events) = run(&t, &geneve_from(2, 1000, true, &i));
    assert_eq!(o, Outcome::EncappedVxlan(0));
    // The option did not cross, counted once.
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == Event::OptionsNotCarried)
            .count(),
        1
    );
    assert_eq!(out[30..34], [198, 18, 0, 3]);
    assert_eq!(u16::from_be_bytes([out[36], out[37]]), 4789);
    assert_eq!(out[42..50], [0x08, 0, 0, 0, 0, 0x13, 0x88, 0]);
    assert_eq!(&out[50..], &i[..]);
    // Without options nothing is counted.
    let (o, _, events) = run(&t, &geneve_from(2, 1000, false, &i));
    assert_eq!(o, Outcome::EncappedVxlan(0));
    assert!(!events.contains(&Event::OptionsNotCarried));
}

#[test]
fn split_horizon_keeps_a_frame_out_of_the_group_it_came_from() {
    let t = stitch_tables(STITCH);
    // VXLAN from .3 for a MAC behind .4: both in mesh `fabric`.
    let (o, _, _) = run(&t, &vxlan_from(3, 5000, &inner(BEHIND_VXLAN4, HOST_SRC)));
    assert_eq!(o, Outcome::Drop(DropReason::SplitHorizon));
    // Broadcast from .3: the access port and the `overlay` group only.
    let (o, out, _) = run(&t, &vxlan_from(3, 5000, &inner([0xff; 6], HOST_SRC)));
    let Outcome::FloodFrom {
        segment,
        group,
        vxlan,
    } = o
    else {
        panic!("{o:?}");
    };
    assert_eq!((segment, vxlan), (0, true));
    assert_eq!(out, inner([0xff; 6], HOST_SRC), "untagged inner frame");
    let mesh = t.segments[0].mesh.as_ref().unwrap();
    let flood = &t.segments[0].flood;
    let (targets, to_vxlan) = mesh.flood_from(group);
    assert_eq!((targets, to_vxlan), (&flood[..1], false), "only 198.18.0.2");
    // Unknown unicast from Geneve: the access port and both VXLAN members.
    let (o, _, _) = run(
        &t,
        &geneve_from(2, 1000, true, &inner([2, 9, 9, 9, 9, 9], HOST_SRC)),
    );
    let Outcome::FloodFrom { group, vxlan, .. } = o else {
        panic!("{o:?}");
    };
    assert!(!vxlan);
    assert_eq!(mesh.flood_from(group), (&flood[1..], true));
    // From the access port, a broadcast goes to every member.
    let mut tagged = inner([0xff; 6], HOST_SRC);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 10]);
    let mut b = VecBuffer::with_headroom(256, &tagged);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
    assert_eq!(flood.len(), 3);
    assert!(flood.iter().all(Option::is_some));
}

#[test]
fn vnis_of_the_two_encapsulations_are_different_networks() {
    let t = stitch_tables(STITCH);
    let i = inner(BEHIND_GENEVE, HOST_SRC);
    // The segment's Geneve VNI number over VXLAN, and its VXLAN VNI over
    // Geneve, are not this segment.
    let (o, _, _) = run(&t, &vxlan_from(3, 1000, &i));
    assert_eq!(o, Outcome::Drop(DropReason::UnknownVni));
    let (o, _, _) = run(&t, &geneve_from(2, 5000, false, &i));
    assert_eq!(o, Outcome::Drop(DropReason::UnknownVni));
}

#[test]
fn learning_records_only_remotes_reachable_in_their_encapsulation() {
    let t = stitch_tables(STITCH);
    let learned = |events: &[Event]| {
        events.iter().find_map(|e| match e {
            Event::Learn { remote, .. } => Some(*remote),
            _ => None,
        })
    };
    // A VXLAN member teaches its MAC.
    let (_, _, ev) = run(
        &t,
        &vxlan_from(3, 5000, &inner(BEHIND_GENEVE, [2, 0, 0, 0, 0, 0x33])),
    );
    assert_eq!(learned(&ev), Some(IpAddr::from([198, 18, 0, 3])));
    // An unconfigured VXLAN sender cannot be reached back (its frames
    // would go out as Geneve): refused, counted.
    let (o, _, ev) = run(
        &t,
        &vxlan_from(9, 5000, &inner([0xff; 6], [2, 0, 0, 0, 0, 0x99])),
    );
    assert_eq!(learned(&ev), None);
    assert!(ev.contains(&Event::LearnRefused));
    // It still belongs to the `vxlan` group: flooded to every member.
    let Outcome::FloodFrom { group, .. } = o else {
        panic!("{o:?}");
    };
    assert_eq!(
        t.segments[0]
            .mesh
            .as_ref()
            .unwrap()
            .flood_from(group)
            .0
            .len(),
        3
    );
    // A learned VXLAN MAC gets the VXLAN template with the VXLAN VNI.
    let cfg = crate::config::load_str(STITCH, "t.yaml").unwrap();
    let neigh: HashMap<IpAddr, [u8; 6]> = (2..=4u8)
        .map(|i| (IpAddr::from([198, 18, 0, i]), [2, 0, 0, 0, 0, i]))
        .collect();
    let mac = [2, 0, 0, 0, 0, 0x33];
    let learned: HashMap<(usize, [u8; 6]), IpAddr> =
        [((0, mac), IpAddr::from([198, 18, 0, 3]))].into();
    let t = build(&cfg, &neigh, &learned, 2, Default::default());
    let id = t.segments[0].macs[&mac].template().unwrap();
    let h = t.templates[id as usize].header();
    assert_eq!(h[42..50], [0x08, 0, 0, 0, 0, 0x13, 0x88, 0]);
}

#[test]
fn a_segment_in_one_group_delivers_vxlan_to_its_access_port() {
    // Only VXLAN members (one group): no stitching, VXLAN decap to the
    // access port with the segment's tag, counted as VXLAN.
    let text = STITCH
        .replace(
            "  - { name: ovn, remote: 198.18.0.2, vni: 1000, mesh: overlay,\n      options: [ { name: tag, data: \"0a0b0c0d\" } ] }\n",
            "",
        )
        .replace("flood: [198.18.0.2, 198.18.0.3, 198.18.0.4]", "flood: [198.18.0.3, 198.18.0.4]")
        .replace("                       { mac: \"02:00:00:00:00:b2\", remote: 198.18.0.2 },\n", "")
        .replace("static_macs: [ { mac: \"02:00:00:00:00:b2\", remote: 198.18.0.2 },", "static_macs: [");
    let t = stitch_tables(&text);
    assert!(!t.segments[0].stitched());
    let i = inner(BEHIND_VXLAN4, HOST_SRC);
    let (o, out, _) = run(&t, &vxlan_from(3, 5000, &i));
    assert_eq!(o, Outcome::DecappedVxlan(1));
    assert_eq!(out[12..16], [0x81, 0x00, 0x00, 10]);
    assert_eq!(out[..12], i[..12]);
    assert_eq!(out[16..], i[12..]);
    // The access side encapsulates towards a VXLAN member as VXLAN.
    let mut tagged = inner(BEHIND_VXLAN3, HOST_SRC);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 10]);
    let mut b = VecBuffer::with_headroom(256, &tagged);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::EncappedVxlan(0));
    assert_eq!(b.data()[42..50], [0x08, 0, 0, 0, 0, 0x13, 0x88, 0]);
    let _ = EtherType::VLAN;
}

#[test]
fn a_geneve_only_gateway_builds_no_mesh_and_keeps_its_vnis_plain() {
    let cfg = crate::config::load_str(
        &CFG.replace("  learning: true\n", "  learning: false\n")
            .replace(
                "decap:\n  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }\n",
                "",
            ),
        "t.yaml",
    )
    .unwrap();
    let t = build(
        &cfg,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    );
    assert!(t.segments.iter().all(|s| s.mesh.is_none()));
    assert_eq!(t.vnis.get_plain(100).map(|(_, p)| p), Some(true));
    assert_eq!(t.vnis.len(), 1, "no VXLAN keys");
}

#[test]
fn the_short_path_without_learning_decides_as_the_full_one() {
    // Learning off takes `deliver_stitched`; learning on the full
    // `deliver`: the same outcome and bytes for every kind of frame.
    let on = stitch_tables(STITCH);
    let off = stitch_tables(&STITCH.replace("learning: true", "learning: false"));
    let frames = [
        vxlan_from(3, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
        geneve_from(2, 1000, true, &inner(BEHIND_VXLAN3, HOST_SRC)),
        vxlan_from(3, 5000, &inner(BEHIND_VXLAN4, HOST_SRC)),
        vxlan_from(3, 5000, &inner([0xff; 6], HOST_SRC)),
        geneve_from(2, 1000, false, &inner([2, 9, 9, 9, 9, 9], HOST_SRC)),
        vxlan_from(9, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
        {
            // An inner 802.1Q tag never crosses.
            let mut i = inner(BEHIND_GENEVE, HOST_SRC);
            i.splice(12..12, [0x81, 0x00, 0x00, 77]);
            vxlan_from(3, 5000, &i)
        },
    ];
    let mut outcomes = Vec::new();
    for f in &frames {
        let (a, abytes, aev) = run(&on, f);
        let (b, bbytes, bev) = run(&off, f);
        assert_eq!((a, &abytes), (b, &bbytes));
        let count = |ev: &[Event]| {
            ev.iter()
                .filter(|e| **e == Event::OptionsNotCarried)
                .count()
        };
        assert_eq!(count(&aev), count(&bev));
        outcomes.push(b);
    }
    assert_eq!(outcomes[0], Outcome::Encapped(0));
    assert_eq!(outcomes[1], Outcome::EncappedVxlan(0));
    assert_eq!(outcomes[2], Outcome::Drop(DropReason::SplitHorizon));
    assert!(matches!(
        outcomes[3],
        Outcome::FloodFrom { vxlan: true, .. }
    ));
    assert!(matches!(
        outcomes[4],
        Outcome::FloodFrom { vxlan: false, .. }
    ));
    // From an unconfigured VXLAN remote (group `vxlan`) to the Geneve MAC.
    assert_eq!(outcomes[5], Outcome::Encapped(0));
    assert_eq!(outcomes[6], Outcome::Drop(DropReason::InnerVlanTag));
}

#[test]
fn a_flow_id_policy_for_all_leaves_vxlan_templates_without_options() {
    // flow_id_copy for every tunnel: Geneve templates get their variant,
    // VXLAN ones (no options) none, and the tables still build.
    let text = STITCH.replace(
        "  registry: [ { name: tag, class: 0x0102, type: 0x01, length: 4 } ]\n",
        "  registry: [ { name: tag, class: 0x0102, type: 0x01, length: 4 },\n              { name: fid, class: 0x0102, type: 0x02, length: 8 } ]\n  policies: { flow_id_copy: [ { option: fid } ] }\n",
    );
    let t = stitch_tables(&text);
    let variant = |mac: &[u8; 6]| {
        let id = t.segments[0].macs[mac].template().unwrap();
        t.flow_variants[id as usize]
    };
    assert!(variant(&BEHIND_GENEVE).is_some());
    assert!(variant(&BEHIND_VXLAN3).is_none());
}

#[test]
fn unknown_critical_geneve_options_never_reach_vxlan() {
    let t = stitch_tables(STITCH);
    let i = inner(BEHIND_VXLAN3, HOST_SRC);
    // One 4-byte option of an unknown class with the critical bit (RFC
    // 8926 3.5): dropped at decap, before any stitching.
    let v = 1000u32.to_be_bytes();
    let h = [
        2, 0x40, 0x65, 0x58, v[1], v[2], v[3], 0, 0xff, 0xf0, 0x80, 0x01, 1, 2, 3, 4,
    ];
    let (o, _, ev) = run(&t, &outer(2, 6081, &h, &i));
    assert_eq!(o, Outcome::Drop(DropReason::UnknownCriticalOption));
    assert!(ev.is_empty());
}

#[test]
fn the_stitch_express_tier_gives_the_one_by_one_bytes_or_declines_untouched() {
    let off = stitch_tables(&STITCH.replace("learning: true", "learning: false"));
    let on = stitch_tables(STITCH);
    let mut big = inner(BEHIND_GENEVE, HOST_SRC);
    big.resize(1500, 0x77); // over the tunnel MTU: the fast tier declines
    let frames = [
        vxlan_from(3, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
        geneve_from(2, 1000, false, &inner(BEHIND_VXLAN3, HOST_SRC)),
        geneve_from(2, 1000, true, &inner(BEHIND_VXLAN3, HOST_SRC)),
        vxlan_from(3, 5000, &inner(BEHIND_VXLAN4, HOST_SRC)),
        vxlan_from(3, 5000, &inner([0xff; 6], HOST_SRC)),
        vxlan_from(3, 5000, &inner([2, 9, 9, 9, 9, 9], HOST_SRC)),
        vxlan_from(9, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
        vxlan_from(3, 1000, &inner(BEHIND_GENEVE, HOST_SRC)),
        vxlan_from(3, 5000, &big),
    ];
    let mut taken = Vec::new();
    // One worker's cache over every frame, twice (misses, then hits).
    let mut cache = StitchCache::default();
    for (i, f) in frames.iter().chain(&frames).enumerate() {
        let i = i % frames.len();
        // Learning on: never the express tier.
        let mut b = VecBuffer::with_headroom(256, f);
        assert_eq!(
            stitch_express::<true, _>(&on, &mut b, &mut cache),
            None,
            "frame {i}"
        );
        assert_eq!(b.data(), &f[..]);
        let mut b = VecBuffer::with_headroom(256, f);
        let mut uncounted = VecBuffer::with_headroom(256, f);
        let plain = stitch_express::<false, _>(&off, &mut uncounted, &mut cache);
        match stitch_express::<true, _>(&off, &mut b, &mut cache) {
            Some(x) => {
                let (port, vxlan) = (x.port, x.to_vxlan);
                // Without counting: the same frame out.
                assert_eq!(plain.map(|p| (p.port, p.to_vxlan)), Some((port, vxlan)));
                assert_eq!(uncounted.data(), b.data(), "frame {i}");
                let (o, bytes, _) = run(&off, f);
                let want = if vxlan {
                    Outcome::EncappedVxlan(port)
                } else {
                    Outcome::Encapped(port)
                };
                assert_eq!(o, want, "frame {i}");
                assert_eq!(b.data(), &bytes[..], "frame {i}");
                taken.push(i);
            }
            None => assert_eq!(b.data(), &f[..], "frame {i}: declined, untouched"),
        }
    }
    // Unicast across groups without options to carry: the first two and
    // the unconfigured VXLAN sender's (group `vxlan`) to the Geneve side;
    // the third's option would not cross into VXLAN (counted, one by one).
    assert_eq!(taken, [0, 1, 6, 0, 1, 6]);
}

/// [`STITCH`] with learning off, as the running gateway's planner makes
/// it (counter slots in the templates and VNI entries), and its slots.
fn planned_stitch() -> (Tables, crate::dataplane::changes::Planner) {
    let text = STITCH.replace("learning: true", "learning: false");
    let (cfg, mut p) = super::counters::two_port_planner(&text);
    p.sync_counters(&cfg, 1);
    let mut t = p.start(&cfg, std::iter::empty()).expect("tables");
    for i in 2..=4u8 {
        p.neighbor(&cfg, IpAddr::from([198, 18, 0, i]), [2, 0, 0, 0, 0, i]);
    }
    for c in p.take_changes() {
        t.apply(c);
    }
    (t, p)
}

#[test]
fn a_stitched_frame_counts_under_its_vni_its_source_tunnel_and_its_tunnel_out_on_both_paths() {
    let (t, p) = planned_stitch();
    let s = p.counter_slots();
    let (ovn, tor1) = (s.tunnel_slot("ovn"), s.tunnel_slot("tor1"));
    let vni = s.vni_slot(1000);
    assert!(ovn != NO_SLOT && tor1 != NO_SLOT && vni != NO_SLOT);
    let cases = [
        // VXLAN from tor1 to a MAC behind ovn, and back.
        (
            vxlan_from(3, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
            Some("tor1"),
            "ovn",
        ),
        (
            geneve_from(2, 1000, false, &inner(BEHIND_VXLAN3, HOST_SRC)),
            Some("ovn"),
            "tor1",
        ),
        // From a VXLAN sender that is no tunnel: no source tunnel.
        (
            vxlan_from(9, 5000, &inner(BEHIND_GENEVE, HOST_SRC)),
            None,
            "ovn",
        ),
    ];
    for (i, (f, from, to)) in cases.iter().enumerate() {
        let inner_len = inner(BEHIND_GENEVE, HOST_SRC).len() as u64;
        // The express tier, its run counted into one worker's cells.
        let w = [s.worker_entries()];
        let mut b = VecBuffer::with_headroom(256, f);
        let mut cache = StitchCache::default();
        let x = stitch_express::<true, _>(&t, &mut b, &mut cache)
            .unwrap_or_else(|| panic!("case {i}: the express tier takes it"));
        assert_eq!(x.port, 0, "case {i}: the underlay port");
        // As the worker's loop counts it: a run, counted when it ends.
        let mut run = StitchRun::default();
        run.add(&t, &w[0], cache.last(), b.len() as u64);
        let read = s.read(&w);
        assert_eq!(
            read.tunnel(to).map(|c| c.encap_packets),
            Some(0),
            "case {i}"
        );
        run.flush(&t, &w[0]);
        let wire = b.len() as u64;
        for (name, c) in read.tunnels() {
            let decap = if Some(name) == *from {
                (1, inner_len)
            } else {
                (0, 0)
            };
            let encap = if name == *to { (1, wire) } else { (0, 0) };
            assert_eq!(
                (
                    c.decap_packets,
                    c.decap_bytes,
                    c.encap_packets,
                    c.encap_bytes
                ),
                (decap.0, decap.1, encap.0, encap.1),
                "case {i}: tunnel {name}"
            );
        }
        let v = read.vni(Vni::new(1000).unwrap()).unwrap();
        assert_eq!((v.packets, v.bytes, v.drops), (1, inner_len, 0), "case {i}");
        // The one-by-one path: the same slots, as events.
        let mut b = VecBuffer::with_headroom(256, f);
        let mut seen = Vec::new();
        let o = underlay(&t, &mut b, &mut |e| {
            if matches!(e, Event::Counted { .. } | Event::Stitched { .. }) {
                seen.push(e);
            }
        });
        assert!(
            matches!(o, Outcome::Encapped(_) | Outcome::EncappedVxlan(_)),
            "case {i}: {o:?}"
        );
        let slot = |n: &Option<&str>| n.map_or(NO_SLOT, |n| s.tunnel_slot(n));
        assert_eq!(
            seen,
            [
                Event::Counted {
                    vni,
                    tunnel: slot(from)
                },
                Event::Stitched {
                    tunnel: slot(&Some(to)),
                    inner: inner_len as u32
                }
            ],
            "case {i}"
        );
        assert_eq!(b.len() as u64, wire, "case {i}");
    }
}

/// [`inner`] with `extra` more bytes of UDP payload (lengths and the IPv4
/// checksum to match).
fn inner_sized(dst: [u8; 6], extra: usize) -> Vec<u8> {
    let mut f = inner(dst, HOST_SRC);
    f.extend(std::iter::repeat_n(0x3c, extra));
    let ip_len = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[24..26].fill(0);
    let c = checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// What the one-by-one path counts per slot: (packets, bytes) decapsulated
/// per tunnel, encapsulated per tunnel, delivered per VNI.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counted {
    decap: HashMap<u32, (u64, u64)>,
    encap: HashMap<u32, (u64, u64)>,
    vni: HashMap<u32, (u64, u64)>,
}

impl Counted {
    fn add(map: &mut HashMap<u32, (u64, u64)>, slot: u32, bytes: u64) {
        if slot != NO_SLOT {
            let c = map.entry(slot).or_default();
            c.0 += 1;
            c.1 += bytes;
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
    /// Bursts of stitched frames from every source to every destination,
    /// of several lengths, some with a byte flipped (the outer IPv4
    /// checksum fixed or not), through one cache and one worker's cells,
    /// counted at the end of each burst: the stitch express tier takes a
    /// frame only when the one-by-one path stitches it, with the same
    /// bytes (uncounted too), leaves every other one untouched, and its
    /// runs count exactly what the one-by-one path's events name, per
    /// tunnel and per VNI, packets and bytes.
    #[test]
    fn stitched_runs_count_what_the_one_by_one_path_counts(
        bursts in proptest::collection::vec(
            proptest::collection::vec(
                (0usize..8, 0usize..40, proptest::option::of((0usize..110, 1u8..=255, proptest::bool::ANY))),
                1..12,
            ),
            1..4,
        ),
    ) {
        let (t, p) = planned_stitch();
        let s = p.counter_slots();
        let w = [s.worker_entries()];
        let mut cache = StitchCache::default();
        let mut plain_cache = StitchCache::default();
        let mut run = StitchRun::default();
        let mut want = Counted::default();
        let mut taken = 0;
        for burst in &bursts {
            for &(pick, extra, flip) in burst {
                let mut f = match pick {
                    0 => vxlan_from(3, 5000, &inner_sized(BEHIND_GENEVE, extra)),
                    1 => vxlan_from(4, 5000, &inner_sized(BEHIND_GENEVE, extra)),
                    2 => vxlan_from(9, 5000, &inner_sized(BEHIND_GENEVE, extra)),
                    3 => geneve_from(2, 1000, false, &inner_sized(BEHIND_VXLAN3, extra)),
                    4 => geneve_from(2, 1000, false, &inner_sized(BEHIND_VXLAN4, extra)),
                    // Options that do not cross into VXLAN.
                    5 => geneve_from(2, 1000, true, &inner_sized(BEHIND_VXLAN3, extra)),
                    // Split horizon; a flood.
                    6 => vxlan_from(3, 5000, &inner_sized(BEHIND_VXLAN4, extra)),
                    _ => vxlan_from(4, 5000, &inner_sized([0xff; 6], extra)),
                };
                if let Some((at, mask, fix)) = flip {
                    let at = at % f.len();
                    f[at] ^= mask;
                    if fix {
                        fix_ipv4_checksum(&mut f);
                    }
                }
                let mut b = VecBuffer::with_headroom(256, &f);
                let got = stitch_express::<true, _>(&t, &mut b, &mut cache);
                let mut uncounted = VecBuffer::with_headroom(256, &f);
                let plain = stitch_express::<false, _>(&t, &mut uncounted, &mut plain_cache);
                proptest::prop_assert_eq!(
                    plain,
                    got
                );
                proptest::prop_assert_eq!(uncounted.data(), b.data());
                let mut one = VecBuffer::with_headroom(256, &f);
                let mut events = Vec::new();
                let o = underlay(&t, &mut one, &mut |e| events.push(e));
                // Unmutated, the first five are stitched (the rest are
                // not the express tier's).
                proptest::prop_assert!(flip.is_some() || pick >= 5 || got.is_some(), "pick {} declined", pick);
                let Some(x) = got else {
                    proptest::prop_assert_eq!(b.data(), &f[..], "declined, untouched");
                    continue;
                };
                taken += 1;
                // As the worker's loop counts it.
                run.add(&t, &w[0], cache.last(), b.len() as u64);
                let port = x.port;
                let out = if x.to_vxlan {
                    Outcome::EncappedVxlan(port)
                } else {
                    Outcome::Encapped(port)
                };
                proptest::prop_assert_eq!(o, out);
                proptest::prop_assert_eq!(one.data(), b.data());
                // Counted names the VNI and the source, Stitched the
                // tunnel out and the inner length (in that order).
                let mut from = None;
                for e in events {
                    match e {
                        Event::Counted { vni, tunnel } => from = Some((vni, tunnel)),
                        Event::Stitched { tunnel, inner } => {
                            let (vni, source) = from.take().expect("Counted before Stitched");
                            let inner = u64::from(inner);
                            Counted::add(&mut want.vni, vni, inner);
                            Counted::add(&mut want.decap, source, inner);
                            Counted::add(&mut want.encap, tunnel, b.len() as u64);
                        }
                        _ => {}
                    }
                }
            }
            // The end of the worker's loop.
            run.flush(&t, &w[0]);
        }
        let read = s.read(&w);
        let mut got = Counted::default();
        for (name, c) in read.tunnels() {
            let slot = s.tunnel_slot(name);
            if c.decap_packets > 0 {
                got.decap.insert(slot, (c.decap_packets, c.decap_bytes));
            }
            if c.encap_packets > 0 {
                got.encap.insert(slot, (c.encap_packets, c.encap_bytes));
            }
            proptest::prop_assert_eq!(c.encap_drops, 0);
        }
        for (v, c) in read.vnis() {
            if c.packets > 0 {
                got.vni.insert(s.vni_slot(v.get()), (c.packets, c.bytes));
            }
            proptest::prop_assert_eq!(c.drops, 0);
        }
        proptest::prop_assert_eq!(&got, &want, "{} frames taken", taken);
    }
}
