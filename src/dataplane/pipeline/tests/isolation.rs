//! Tenant isolation, payload types and control packets: segment A
//! (untagged, VNI 100) and segment B (VLAN 20, VNI 200) share one access
//! port. Packets are built by hand from the RFC layouts (RFC 8926 section
//! 3.4, IEEE 802.1Q / 802.1ad), not with our builders; the expected results
//! come from the configuration.
use super::*;

const SHARED: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: a, remote: 198.18.0.2, vni: 100 }
  - { name: b, remote: 198.18.0.3, vni: 200 }
l2:
  learning: LEARN
  segments:
    - { port: acc, vlan: untagged, vni: 100, flood: [198.18.0.2] }
    - { port: acc, vlan: 20, vni: 200, flood: [198.18.0.3] }
decap:
  - { vni: 100, allow_from: ALLOW }
"#;

const L3: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops: [ { via: 198.18.0.2, mac: "02:00:00:00:00:02" } ]
tunnels:
  - { name: e, remote: 198.18.0.2, vni: 5001 }
l3:
  access: { port: acc, vlan: 0, ipv4: 198.19.0.1/24, gateway_mac: "02:00:5e:19:00:01" }
  routes: [ { prefix: 198.19.128.0/17, tunnel: e } ]
"#;

/// Tables for [`SHARED`], learning on or off, VNI 100 open to any source
/// VTEP or only to 198.18.0.2.
fn shared(learning: bool, allow_any: bool) -> Tables {
    let allow = if allow_any { "[]" } else { "[198.18.0.2]" };
    let text = SHARED
        .replace("LEARN", if learning { "true" } else { "false" })
        .replace("allow_from: ALLOW", &format!("allow_from: {allow}"));
    let text = if allow_any {
        text.replace("  - { vni: 100, allow_from: [] }\n", "")
            .replace("decap:\n", "")
    } else {
        text
    };
    let cfg = crate::config::load_str(&text, "t.yaml").unwrap();
    let neigh: HashMap<IpAddr, [u8; 6]> = [
        ("198.18.0.2".parse().unwrap(), PEER2),
        ("198.18.0.3".parse().unwrap(), [2, 0, 0, 0, 0, 3]),
    ]
    .into();
    build(&cfg, &neigh, &HashMap::new(), 1, Default::default())
}

/// An Ethernet frame: dst, src, then `tags` (TPID, VID) in order, then IPv4.
fn eth(dst: [u8; 6], src: [u8; 6], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0u8; 28];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&28u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 19, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 19, 0, 2]);
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f
}

/// A Geneve packet (RFC 8926 section 3.4, no options, zero UDP checksum)
/// from `src` to 198.18.0.1 with protocol type `proto`, `vni`, the O bit
/// if `control`, carrying `payload`.
fn geneve(src: [u8; 4], proto: u16, vni: u32, control: bool, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + 8 + payload.len();
    let mut p = UL_MAC.to_vec();
    p.extend_from_slice(&PEER2);
    p.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    p.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&[198, 18, 0, 1]);
    p.extend_from_slice(&50000u16.to_be_bytes());
    p.extend_from_slice(&6081u16.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&[0, if control { 0x80 } else { 0 }]);
    p.extend_from_slice(&proto.to_be_bytes());
    p.extend_from_slice(&(vni << 8).to_be_bytes());
    p.extend_from_slice(payload);
    fix_ipv4_checksum(&mut p);
    p
}

const HOST_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];
const HOST_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb1];
const QINQ: u16 = 0x88a8;
const DOT1Q: u16 = 0x8100;

/// Every way a decapsulated packet can leave: express tier, then `underlay`.
fn decap(t: &Tables, pkt: &[u8]) -> (Outcome, Vec<u8>, Vec<Event>) {
    let mut events = Vec::new();
    let mut b = VecBuffer::with_headroom(64, pkt);
    if let Some(port) = underlay_express(t, &mut b) {
        return (Outcome::Decapped(port), b.data().to_vec(), events);
    }
    let o = underlay(t, &mut b, &mut |e| {
        if !matches!(e, Event::Counted { .. }) {
            events.push(e)
        }
    });
    (o, b.data().to_vec(), events)
}

#[test]
fn an_inner_tag_never_reaches_the_access_port_on_any_tier() {
    for (learning, allow_any) in [(false, true), (true, false), (true, true)] {
        let t = shared(learning, allow_any);
        for tpid in [DOT1Q, QINQ] {
            for (vni, src) in [(100, [198, 18, 0, 2]), (200, [198, 18, 0, 3])] {
                let inner = eth(HOST_B, HOST_A, &[(tpid, 20)]);
                let (o, _, _) = decap(&t, &geneve(src, 0x6558, vni, false, &inner));
                assert_eq!(
                    o,
                    Outcome::Drop(DropReason::InnerVlanTag),
                    "VNI {vni}, TPID {tpid:#x}, learning {learning}"
                );
            }
        }
        // Untagged inner frames go out: VNI 100 untagged, VNI 200 tagged 20 alone.
        let inner = eth(HOST_B, HOST_A, &[]);
        let (o, f, _) = decap(&t, &geneve([198, 18, 0, 2], 0x6558, 100, false, &inner));
        assert_eq!((o, f), (Outcome::Decapped(1), inner.clone()));
        let (o, f, _) = decap(&t, &geneve([198, 18, 0, 3], 0x6558, 200, false, &inner));
        assert_eq!(o, Outcome::Decapped(1));
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 20]);
        assert_eq!(&f[16..18], &[0x08, 0x00], "one tag only");
    }
}

#[test]
fn an_access_frame_enters_only_the_segment_its_single_tag_names() {
    let t = shared(false, true);
    let mut cache = MacCache::default();
    // Untagged: segment A; 802.1Q 20: segment B.
    let mut b = VecBuffer::with_headroom(256, &eth(HOST_B, HOST_A, &[]));
    assert_eq!(
        access_with_cache(&t, 1, &mut b, None, &mut cache),
        Outcome::Flood(0)
    );
    let mut b = VecBuffer::with_headroom(256, &eth(HOST_B, HOST_A, &[(DOT1Q, 20)]));
    assert_eq!(
        access_with_cache(&t, 1, &mut b, None, &mut cache),
        Outcome::Flood(1)
    );
    // An 802.1ad tag (into A's untagged VNI), a second tag under B's, or
    // an S-tag over a C-tag: dropped, never flooded into a VNI.
    for tags in [
        vec![(QINQ, 20)],
        vec![(DOT1Q, 20), (DOT1Q, 20)],
        vec![(DOT1Q, 20), (QINQ, 30)],
        vec![(QINQ, 20), (DOT1Q, 20)],
    ] {
        let mut b = VecBuffer::with_headroom(256, &eth(HOST_B, HOST_A, &tags));
        assert_eq!(
            access_with_cache(&t, 1, &mut b, None, &mut cache),
            Outcome::Drop(DropReason::AccessStackedTag),
            "{tags:x?}"
        );
    }
}

#[test]
fn payload_type_must_match_what_the_vni_carries() {
    // IPv4 (0x0800) on an Ethernet VNI: both the plain and the policy path.
    let ip = eth(HOST_B, HOST_A, &[])[14..].to_vec();
    for (learning, allow_any) in [(false, true), (true, false)] {
        let t = shared(learning, allow_any);
        let (o, _, events) = decap(&t, &geneve([198, 18, 0, 2], 0x0800, 100, false, &ip));
        assert_eq!(
            o,
            Outcome::Drop(DropReason::PayloadNotAllowed),
            "learning {learning}"
        );
        assert!(events.is_empty(), "nothing learned from IP header bytes");
    }
    // Ethernet (0x6558) on an L3 VNI.
    let cfg = crate::config::load_str(L3, "t.yaml").unwrap();
    let t = build(
        &cfg,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    );
    let frame = eth(HOST_B, HOST_A, &[]);
    let (o, _, _) = decap(&t, &geneve([198, 18, 0, 2], 0x6558, 5001, false, &frame));
    assert_eq!(o, Outcome::Drop(DropReason::PayloadNotAllowed));
    // What the VNI carries still goes out.
    let (o, _, _) = decap(&t, &geneve([198, 18, 0, 2], 0x0800, 5001, false, &ip));
    assert_ne!(o, Outcome::Drop(DropReason::PayloadNotAllowed));
}

#[test]
fn learning_refuses_group_zero_and_own_source_macs() {
    let t = shared(true, true);
    let learned = |src_mac: [u8; 6], vtep: [u8; 4]| {
        let inner = eth(HOST_B, src_mac, &[]);
        decap(&t, &geneve(vtep, 0x6558, 100, false, &inner)).2
    };
    let peer = [198, 18, 0, 2];
    assert_eq!(
        learned(HOST_A, peer),
        vec![Event::Learn {
            segment: 0,
            mac: HOST_A,
            remote: "198.18.0.2".parse().unwrap()
        }]
    );
    for mac in [
        [0xff; 6],
        [0x01, 0, 0x5e, 0, 0, 1],
        [0x33, 0x33, 0, 0, 0, 1],
        [0; 6],
    ] {
        assert_eq!(learned(mac, peer), vec![Event::LearnRefused], "{mac:x?}");
    }
    // From the gateway's own VTEP address.
    assert_eq!(learned(HOST_A, [198, 18, 0, 1]), vec![Event::LearnRefused]);
}

#[test]
fn control_packets_are_checked_for_vni_and_source_before_the_punt() {
    let t = shared(false, false);
    let inner = eth(HOST_B, HOST_A, &[]);
    let ctl = |src: [u8; 4], vni: u32| decap(&t, &geneve(src, 0x6558, vni, true, &inner)).0;
    assert_eq!(
        ctl([198, 18, 0, 2], 100),
        Outcome::Punt(PuntKind::GeneveControl)
    );
    assert_eq!(
        ctl([198, 18, 0, 9], 100),
        Outcome::Drop(DropReason::SourceVtepNotAllowed)
    );
    assert_eq!(
        ctl([198, 18, 0, 2], 4242),
        Outcome::Drop(DropReason::UnknownVni)
    );
}
