//! Unit tests of the pipeline: every decision on plain buffers.
use std::collections::HashMap;
use std::net::IpAddr;

use super::access::write_flow_id;
use super::underlay::{deliver_with_policy, not_delivered};
use super::*;
use crate::dataplane::tables::{BuildInputs, Tables};
use crate::tunnel::VecBuffer;
use crate::tunnel::Verdict;
use crate::wire::checksum;

mod ahead;
mod counters;
mod isolation;
mod stitch;
mod tiers;

const CFG: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: r3, remote: 198.18.0.3, vni: 300 }
l2:
  learning: true
  segments:
    - { port: acc, vlan: 10, vni: 100, flood: [198.18.0.2, 198.18.0.3],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
decap:
  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }
"#;

const UL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER2: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Tables for `cfg` on an underlay (port 0) and an access port (1), and
/// a second access port (2) for the configurations that have one.
fn build(
    cfg: &crate::config::Config,
    neighbors: &HashMap<IpAddr, [u8; 6]>,
    learned: &HashMap<(usize, [u8; 6]), IpAddr>,
    generation: u64,
    flows: std::sync::Arc<crate::dataplane::flows::FlowTable>,
) -> Tables {
    Tables::build(
        cfg,
        &BuildInputs {
            port_ids: &[0, 1, 2],
            port_macs: &[UL_MAC, [2, 0, 0, 0, 0, 0xaa], [2, 0, 0, 0, 0, 0xab]],
            neighbors,
            learned,
            generation,
            flows,
        },
    )
    .unwrap()
}

fn tables(neigh: &[(&str, [u8; 6])]) -> Tables {
    let cfg = crate::config::load_str(CFG, "t.yaml").unwrap();
    let neighbors: HashMap<IpAddr, [u8; 6]> = neigh
        .iter()
        .map(|(a, m)| (a.parse().unwrap(), *m))
        .collect();
    build(&cfg, &neighbors, &HashMap::new(), 1, Default::default())
}

fn tagged_frame(dst: [u8; 6], vlan: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0xcc]);
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vlan.to_be_bytes());
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0u8; 46]);
    f
}

#[test]
fn hw_decapped_frames_go_out_like_software_decap_or_are_dropped() {
    let t = tables(&[]);
    let inner = tagged_frame([2, 0, 0, 0, 0, 0xbb], 10)[..12]
        .iter()
        .chain(&[0x08, 0x06])
        .chain(&[0u8; 46])
        .copied()
        .collect::<Vec<u8>>();
    // VNI 100 has an allow list: a frame decapsulated in hardware has
    // lost its outer source, so it cannot pass.
    let mut b = VecBuffer::with_headroom(256, &inner);
    assert_eq!(
        hw_decapped(&t, 100, &mut b),
        Outcome::Drop(DropReason::SourceVtepNotAllowed)
    );
    let mut b = VecBuffer::with_headroom(256, &inner[..13]);
    assert_eq!(
        hw_decapped(&t, 100, &mut b),
        Outcome::Drop(DropReason::InnerMalformed)
    );
    let mut b = VecBuffer::with_headroom(256, &inner);
    assert_eq!(
        hw_decapped(&t, 999, &mut b),
        Outcome::Drop(DropReason::UnknownVni)
    );
    let cfg = crate::config::load_str(
        &CFG.replace(
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
    let mut b = VecBuffer::with_headroom(256, &inner);
    assert_eq!(hw_decapped(&t, 100, &mut b), Outcome::Decapped(1));
    // The segment's VLAN is pushed, as the software path does.
    assert_eq!(&b.data()[12..16], &[0x81, 0x00, 0x00, 10]);
    assert_eq!(b.len(), inner.len() + 4);
}

#[test]
fn known_mac_is_encapsulated_untagged_towards_its_vtep() {
    let t = tables(&[("198.18.0.2", PEER2), ("198.18.0.3", [2, 0, 0, 0, 0, 3])]);
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    let d = b.data();
    assert_eq!(&d[0..6], &PEER2, "outer dst MAC = resolved VTEP");
    assert_eq!(&d[6..12], &UL_MAC);
    assert_eq!(&d[30..34], &[198, 18, 0, 2]);
    // Outer 14+20+8+8, then the inner frame without its VLAN tag.
    assert_eq!(&d[50 + 12..50 + 14], &[0x08, 0x06]);
    assert_eq!(d.len(), 50 + 60);
}

#[test]
fn unresolved_next_hop_is_a_counted_drop_and_asks_for_resolution() {
    let t = tables(&[]);
    assert!(t.unresolved.contains(&"198.18.0.2".parse().unwrap()));
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
    assert_eq!(
        access(&t, 1, &mut b, None),
        Outcome::Drop(DropReason::NextHopUnresolved)
    );
}

#[test]
fn broadcast_and_unknown_unicast_flood_and_wrong_vlan_is_no_segment() {
    let t = tables(&[("198.18.0.2", PEER2)]);
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([0xff; 6], 10));
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
    assert_eq!(b.len(), 60, "tag stripped before replication");
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x99], 10));
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([0xff; 6], 11));
    assert_eq!(
        access(&t, 1, &mut b, None),
        Outcome::Drop(DropReason::NoSegment)
    );
    let mut b = VecBuffer::with_headroom(256, &[0u8; 10]);
    assert_eq!(
        access(&t, 1, &mut b, None),
        Outcome::Drop(DropReason::AccessTruncated)
    );
}

#[test]
fn decap_tags_learns_and_checks_the_allow_list() {
    let t = tables(&[("198.18.0.2", PEER2), ("198.18.0.3", [2, 0, 0, 0, 0, 3])]);
    // Build what 198.18.0.3 would send us: encapsulate towards it, then
    // swap the outer addresses (only the outer IP matters to decap).
    let inner = tagged_frame([2, 0, 0, 0, 0, 0x77], 10);
    let mut b = VecBuffer::with_headroom(256, &inner);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Flood(0));
    let id = t.segments[0].flood[1].unwrap();
    assert_eq!(encap_flood(&t, id, &mut b, None), Outcome::Encapped(0));
    let mut pkt = b.data().to_vec();
    pkt[26..30].copy_from_slice(&[198, 18, 0, 3]);
    pkt[30..34].copy_from_slice(&[198, 18, 0, 1]);
    fix_ipv4_checksum(&mut pkt);
    let mut events = Vec::new();
    let mut b = VecBuffer::with_headroom(256, &pkt);
    assert_eq!(
        underlay(&t, &mut b, &mut |e| {
            if !matches!(e, Event::Counted { .. }) {
                events.push(e)
            }
        }),
        Outcome::Decapped(1)
    );
    assert_eq!(
        &b.data()[12..16],
        &[0x81, 0x00, 0x00, 10],
        "VLAN tag restored"
    );
    assert_eq!(
        events,
        vec![Event::Learn {
            segment: 0,
            mac: [2, 0, 0, 0, 0, 0xcc],
            remote: "198.18.0.3".parse().unwrap()
        }]
    );
    // Same packet from a source VTEP outside the allow list.
    pkt[26..30].copy_from_slice(&[198, 18, 0, 9]);
    fix_ipv4_checksum(&mut pkt);
    let mut b = VecBuffer::with_headroom(256, &pkt);
    assert_eq!(
        underlay(&t, &mut b, &mut |_| {}),
        Outcome::Drop(DropReason::SourceVtepNotAllowed)
    );
}

#[test]
fn arp_for_the_vtep_is_punted_other_traffic_dropped_with_a_reason() {
    let t = tables(&[]);
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&PEER2);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    let mut b = VecBuffer::with_headroom(64, &arp);
    assert_eq!(
        underlay(&t, &mut b, &mut |_| {}),
        Outcome::Punt(PuntKind::Local)
    );
    let mut other = arp.clone();
    other[12..14].copy_from_slice(&[0x88, 0xcc]);
    let mut b = VecBuffer::with_headroom(64, &other);
    assert_eq!(
        underlay(&t, &mut b, &mut |_| {}),
        Outcome::Drop(DropReason::NotIp)
    );
}

#[test]
fn learned_mac_sends_unicast_to_its_vtep_and_static_wins() {
    let cfg = crate::config::load_str(CFG, "t.yaml").unwrap();
    let neighbors: HashMap<IpAddr, [u8; 6]> = [
        ("198.18.0.2".parse().unwrap(), PEER2),
        ("198.18.0.3".parse().unwrap(), [2, 0, 0, 0, 0, 3]),
    ]
    .into_iter()
    .collect();
    let learned: HashMap<(usize, [u8; 6]), IpAddr> = [
        ((0, [2, 0, 0, 0, 0, 0x77]), "198.18.0.3".parse().unwrap()),
        // A learned entry for a static MAC does not override it.
        ((0, [2, 0, 0, 0, 0, 0xbb]), "198.18.0.3".parse().unwrap()),
    ]
    .into_iter()
    .collect();
    let t = build(&cfg, &neighbors, &learned, 2, Default::default());
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x77], 10));
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    assert_eq!(&b.data()[30..34], &[198, 18, 0, 3]);
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0xbb], 10));
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    assert_eq!(&b.data()[30..34], &[198, 18, 0, 2]);
}

#[test]
fn flow_id_checksum_update_uses_the_templates_udp_offset() {
    // A tagged underlay: the outer UDP header is 4 bytes further in, and
    // the template says where.
    use crate::tunnel::{encap, EncapTemplate, TunnelConfig, TunnelOption, UdpChecksumTx};
    let mut cfg = TunnelConfig::new(
        UL_MAC,
        PEER2,
        "198.18.0.1".parse().unwrap(),
        "198.18.0.2".parse().unwrap(),
        crate::wire::Vni::new(100).unwrap(),
    );
    cfg.vlan = Some(7);
    cfg.udp_checksum = Some(UdpChecksumTx::Compute);
    cfg.options = vec![TunnelOption {
        class: 0x0104,
        typ: 0x02,
        data: vec![0; 8],
    }];
    let t = EncapTemplate::new(&cfg).unwrap();
    assert_eq!(t.l3_udp_offsets(), (18, 38));
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        1,
        2,
    );
    let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
    encap(&t, &mut b, None).unwrap();
    write_flow_id(
        &mut b,
        t.header_len(),
        t.l3_udp_offsets().1,
        &[0x11; 8],
        false,
    );
    let d = b.data();
    assert_eq!(&d[t.header_len() - 8..t.header_len()], &[0x11; 8]);
    // RFC 768: the checksum over pseudo-header and datagram verifies.
    let sum = checksum::accumulate(
        checksum::pseudo_header_v4(
            &[198, 18, 0, 1],
            &[198, 18, 0, 2],
            17,
            (d.len() - 38) as u16,
        ),
        &d[38..],
    );
    assert_eq!(
        checksum::fold(sum),
        0xffff,
        "UDP checksum after the flow id"
    );
}

#[test]
fn flow_id_seen_on_decap_is_copied_into_the_reply() {
    // A computed outer UDP checksum, so the flow id's checksum update is
    // exercised too.
    let yaml = CFG.replace(
        "{ name: t1, remote: 198.18.0.2, vni: 100 }",
        "{ name: t1, remote: 198.18.0.2, vni: 100, udp_checksum: compute }",
    ) + r#"
options:
  registry:
    - { name: flow-id, class: 0x0104, type: 0x02, length: 8 }
  policies:
    flow_id_copy: [ { option: flow-id, tunnel: t1 } ]
"#;
    let cfg = crate::config::load_str(&yaml, "t.yaml").unwrap();
    let neighbors: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)]
        .into_iter()
        .collect();
    let flows: std::sync::Arc<crate::dataplane::flows::FlowTable> = Default::default();
    let build = |g| build(&cfg, &neighbors, &HashMap::new(), g, flows.clone());
    let t = build(1);
    // A reply before any request: the plain template, no flow-id option.
    let reply = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        1000,
        5001,
    );
    let mut b = VecBuffer::with_headroom(256, &reply);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    assert_eq!(b.data()[42] & 0x3f, 0, "no options yet");
    // The request arrives from 198.18.0.2 with flow id 0x11..0x18.
    let request = udp_frame(
        [2, 0, 0, 0, 0, 0xcc],
        [198, 19, 0, 2],
        [198, 19, 0, 1],
        5001,
        1000,
    );
    let fid: Vec<u8> = (0x11..=0x18).collect();
    let pkt = geneve_from_peer(&request, &[(0x0104, 0x02, &fid)]);
    let mut events = Vec::new();
    let mut b = VecBuffer::with_headroom(256, &pkt);
    assert_eq!(
        underlay(&t, &mut b, &mut |e| {
            if !matches!(e, Event::Counted { .. }) {
                events.push(e)
            }
        }),
        Outcome::Decapped(1)
    );
    let Some(Event::FlowId { key, id }) = events
        .iter()
        .find(|e| matches!(e, Event::FlowId { .. }))
        .copied()
    else {
        panic!("no flow-id event: {events:?}");
    };
    assert_eq!(id.bytes(), &fid[..]);
    // The control thread records it; the reply now carries it.
    flows.pin().insert(key, id);
    let mut b = VecBuffer::with_headroom(256, &reply);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    let d = b.data();
    assert_eq!(d[42] & 0x3f, 3, "one 12-byte option");
    assert_eq!(&d[50..54], &[0x01, 0x04, 0x02, 0x02]);
    assert_eq!(&d[54..62], &fid[..]);
    // RFC 768: the checksum over pseudo-header and datagram verifies.
    let (src, dst): ([u8; 4], [u8; 4]) =
        (d[26..30].try_into().unwrap(), d[30..34].try_into().unwrap());
    assert_ne!(&d[40..42], &[0, 0]);
    let sum = checksum::accumulate(
        checksum::pseudo_header_v4(&src, &dst, 17, (d.len() - 34) as u16),
        &d[34..],
    );
    assert_eq!(
        checksum::fold(sum),
        0xffff,
        "outer UDP checksum after the flow id"
    );
    // With the NIC finishing the outer checksums, the flow id leaves the
    // pseudo-header sum alone, and the NIC's result is the same packet.
    let software = d.to_vec();
    let mut t_hw = build(2);
    for tpl in t_hw.templates.iter_mut() {
        tpl.set_tx_offload(crate::tunnel::TxOffloadCaps {
            ipv4_checksum: true,
            udp_checksum: true,
            ..crate::tunnel::TxOffloadCaps::NONE
        });
    }
    let mut b = VecBuffer::with_headroom(256, &reply);
    assert_eq!(access(&t_hw, 1, &mut b, None), Outcome::Encapped(0));
    let o = b.tx_offload().expect("offload metadata");
    assert!(o.ip_checksum && o.udp_checksum);
    let mut wire = b.to_vec();
    assert_ne!(wire, software, "the NIC has work left");
    assert!(crate::tunnel::offload::emulate_nic(&mut wire, &o));
    assert_eq!(wire, software);
    // Another flow's reply still goes without.
    let other = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        1001,
        5001,
    );
    let mut b = VecBuffer::with_headroom(256, &other);
    assert_eq!(access(&t, 1, &mut b, None), Outcome::Encapped(0));
    assert_eq!(b.data()[42] & 0x3f, 0);
}

fn udp_frame(dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 4 + 28 + 10];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xcc]);
    f[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 10]);
    f[16..18].copy_from_slice(&[0x08, 0x00]);
    let ip = 18;
    f[ip] = 0x45;
    f[ip + 2..ip + 4].copy_from_slice(&38u16.to_be_bytes());
    f[ip + 8] = 64;
    f[ip + 9] = 17;
    f[ip + 12..ip + 16].copy_from_slice(&src);
    f[ip + 16..ip + 20].copy_from_slice(&dst);
    f[ip + 20..ip + 22].copy_from_slice(&sport.to_be_bytes());
    f[ip + 22..ip + 24].copy_from_slice(&dport.to_be_bytes());
    f[ip + 24..ip + 26].copy_from_slice(&18u16.to_be_bytes());
    f
}

/// A Geneve packet from 198.18.0.2 to us, VNI 100, carrying `frame` minus
/// its VLAN tag, with `opts`: built by hand from the RFC layout.
fn geneve_from_peer(frame: &[u8], opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
    let mut inner = frame[..12].to_vec();
    inner.extend_from_slice(&frame[16..]);
    let mut o = Vec::new();
    for (c, t, d) in opts {
        o.extend_from_slice(&c.to_be_bytes());
        o.push(*t);
        o.push((d.len() / 4) as u8);
        o.extend_from_slice(d);
    }
    let udp_len = 8 + 8 + o.len() + inner.len();
    let mut p = Vec::new();
    p.extend_from_slice(&UL_MAC);
    p.extend_from_slice(&PEER2);
    p.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    p.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
    p.extend_from_slice(&50000u16.to_be_bytes());
    p.extend_from_slice(&6081u16.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, (o.len() / 4) as u8, 0, 0x65, 0x58, 0, 0, 100, 0]);
    p.extend_from_slice(&o);
    p.extend_from_slice(&inner);
    fix_ipv4_checksum(&mut p);
    p
}

/// [`geneve_from_peer`]'s packet over IPv6 (2001:db8:18::2 to the
/// gateway's 2001:db8:18::1), its UDP checksum computed.
fn geneve6_from_peer(frame: &[u8], opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
    let v4 = geneve_from_peer(frame, opts);
    let datagram = &v4[34..];
    let src: [u8; 16] = "2001:db8:18::2"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let dst: [u8; 16] = "2001:db8:18::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let mut p = v4[..12].to_vec();
    p.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    p.extend_from_slice(&(datagram.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(datagram);
    fix_udp6(&mut p);
    p
}

/// Recompute the UDP checksum of an untagged IPv6 frame without
/// extension headers (RFC 8200 section 8.1; a computed 0 is sent as
/// 0xffff, RFC 768).
fn fix_udp6(p: &mut [u8]) {
    let src: [u8; 16] = p[22..38].try_into().unwrap();
    let dst: [u8; 16] = p[38..54].try_into().unwrap();
    p[60..62].fill(0);
    let c = checksum::l4_checksum_v6(&src, &dst, 17, &p[54..]);
    p[60..62].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
}

fn fix_ipv4_checksum(pkt: &mut [u8]) {
    pkt[24] = 0;
    pkt[25] = 0;
    let c = crate::wire::checksum::checksum(&pkt[14..34]);
    pkt[24..26].copy_from_slice(&c.to_be_bytes());
}

/// RFC 6935/6936: a zero UDP checksum over IPv6 is dropped unless the
/// tunnel of the sending remote accepts it; the setting is per remote.
#[test]
fn ipv6_zero_checksum_is_accepted_only_from_remotes_that_allow_it() {
    const V6: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv6: 2001:db8:18::1/64
tunnels:
  - { name: ovs, remote: "2001:db8:18::2", vni: 100 ZERO }
  - { name: other, remote: "2001:db8:18::3", vni: 100 }
l2:
  segments:
    - { port: acc, vlan: untagged, vni: 100, flood: ["2001:db8:18::2"] }
"#;
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        7,
        9,
    );
    let mut zero = geneve6_from_peer(&inner, &[]);
    zero[60..62].fill(0);
    let mut from_other = zero.clone();
    from_other[37] = 3;
    let run = |yaml: &str, pkt: &[u8]| {
        let cfg = crate::config::load_str(yaml, "t.yaml").unwrap();
        let t = build(
            &cfg,
            &HashMap::new(),
            &HashMap::new(),
            1,
            Default::default(),
        );
        let mut b = VecBuffer::with_headroom(256, pkt);
        underlay(&t, &mut b, &mut |_| {})
    };
    let default = V6.replace(" ZERO", "");
    let accept = V6.replace(" ZERO", ", accept_zero_checksum: true");
    let drop = Outcome::Drop(DropReason::UdpZeroChecksumIpv6);
    assert_eq!(run(&default, &zero), drop, "default: RFC 8926 4.3.1");
    assert_eq!(run(&accept, &zero), Outcome::Decapped(1));
    assert_eq!(run(&accept, &from_other), drop, "only from that remote");
}
