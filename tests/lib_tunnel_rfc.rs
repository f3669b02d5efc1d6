//! One test per rule of RFC 8926 and RFC 6040 that the gateway implements,
//! named after the RFC section (`rfc8926_3_4_...`), with the rule in the
//! comment above it.
mod common;

use std::collections::HashSet;

use common::*;
use geneve_gw::tunnel::icmp::too_big_reply;
use geneve_gw::tunnel::{
    encap, Buffer, DecapConfig, Decapsulator, DropReason, DscpEncap, EcnEncapMode, EncapError,
    EncapTemplate, Ipv6ZeroChecksum, KnownOption, OptionRegistry, PayloadKind, QosModel, TtlEncap,
    TunnelConfig, TunnelOption, UdpChecksumTx, VecBuffer, Verdict,
};
use geneve_gw::wire::{
    checksum, Ecn, GeneveHeader, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, UdpPacket,
};

const G4: usize = 14 + 20 + 8; // Geneve offset, IPv4 underlay
const G6: usize = 14 + 40 + 8; // Geneve offset, IPv6 underlay

fn build(cfg: &TunnelConfig, inner: &[u8]) -> Vec<u8> {
    let t = EncapTemplate::new(cfg).unwrap();
    let mut b = VecBuffer::with_headroom(t.header_len(), inner);
    encap(&t, &mut b, None).unwrap();
    b.to_vec()
}

fn frame4(opts: Vec<TunnelOption>) -> Vec<u8> {
    let mut c = tunnel(false, 100);
    c.options = opts;
    build(&c, &inner_ipv4_udp(64, 0, 64, 1))
}

/// Recompute outer IPv4 header and UDP checksums after editing a frame
/// (UDP checksum only if it was non-zero).
fn fix4(f: &mut [u8]) {
    f[24] = 0;
    f[25] = 0;
    let c = checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    if f[40] != 0 || f[41] != 0 {
        let mut u = UdpPacket::new_checked(&mut f[34..]).unwrap();
        u.fill_checksum_v4(&V4_REMOTE.octets(), &V4_LOCAL.octets());
    }
}

fn fix6(f: &mut [u8]) {
    let mut u = UdpPacket::new_checked(&mut f[54..]).unwrap();
    u.fill_checksum_v6(&V6_REMOTE.octets(), &V6_LOCAL.octets());
}

fn opt(class: u16, typ: u8, words: usize) -> TunnelOption {
    TunnelOption {
        class,
        typ,
        data: (0..words * 4).map(|i| i as u8).collect(),
    }
}

fn drop_of(d: &Decapsulator, f: &[u8]) -> DropReason {
    match d.decap(f) {
        Verdict::Drop(r) => r,
        v => panic!("expected drop, got {v:?}"),
    }
}

// 3.4: Version must be 0; any other version is dropped.
#[test]
fn rfc8926_3_4_version_nonzero_dropped() {
    let d = decapsulator();
    let f = frame4(vec![]);
    assert!(matches!(d.decap(&f), Verdict::Deliver(_)));
    for v in 1..=3u8 {
        let mut g = f.clone();
        g[G4] = (g[G4] & 0x3f) | (v << 6);
        fix4(&mut g);
        assert_eq!(drop_of(&d, &g), DropReason::GeneveBadVersion, "version {v}");
    }
}

// 3.4: Opt Len in 4-byte words; header 8..260 bytes. Opt Len 63 parses
// (VPP's regression); Opt Len past the frame drops.
#[test]
fn rfc8926_3_4_opt_len() {
    let d = decapsulator();
    // Opt Len 63 = 252 bytes: a 31-word option (4 + 124) and a 30-word one (4 + 120).
    let f = frame4(vec![opt(0x0102, 1, 31), opt(0x0102, 2, 30)]);
    assert_eq!(f[G4] & 0x3f, 63);
    let Verdict::Deliver(del) = d.decap(&f) else {
        panic!()
    };
    assert_eq!(del.options_len, 252);
    assert_eq!(del.options.count, 2);
    assert_eq!(usize::from(del.payload_offset), G4 + 260);
    // Opt Len 63 whose options area is all zero words (63 zero-length
    // options, class 0 type 0), then the inner frame: still parses.
    let inner = inner_ipv4_udp(64, 0, 64, 1);
    let mut g = frame4(vec![]);
    g.truncate(G4 + 8);
    g.extend_from_slice(&[0u8; 252]);
    g.extend_from_slice(&inner);
    g[G4] = 63;
    let ulen = (8 + 8 + 252 + inner.len()) as u16;
    g[38..40].copy_from_slice(&ulen.to_be_bytes());
    g[16..18].copy_from_slice(&(ulen + 20).to_be_bytes());
    fix4(&mut g);
    let Verdict::Deliver(del) = d.decap(&g) else {
        panic!("{:?}", d.decap(&g))
    };
    assert_eq!(del.options.count, 63);
    assert_eq!(&g[usize::from(del.payload_offset)..], &inner[..]);
    // The same with nothing behind the options: a data packet without a
    // payload is a counted drop, not a crash.
    g.truncate(G4 + 260);
    let ulen = (8 + 8 + 252) as u16;
    g[38..40].copy_from_slice(&ulen.to_be_bytes());
    g[16..18].copy_from_slice(&(ulen + 20).to_be_bytes());
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::InnerMalformed);
    // Opt Len past the end of the frame.
    let mut g = frame4(vec![]);
    g[G4] = 40;
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::GeneveOptLenPastFrame);
    // Geneve header itself cut off.
    let mut g = frame4(vec![]);
    g.truncate(G4 + 4);
    g[38..40].copy_from_slice(&12u16.to_be_bytes());
    g[16..18].copy_from_slice(&32u16.to_be_bytes());
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::GeneveTruncated);
}

// 3.4: O bit: control packet, never forwarded as data.
#[test]
fn rfc8926_3_4_oam_bit() {
    let mut c = tunnel(false, 7);
    c.oam = true;
    let f = build(&c, &inner_ipv4_udp(64, 0, 64, 1));
    assert_eq!(f[G4 + 1] & 0x80, 0x80, "O bit set by a control template");
    let d = decapsulator();
    let Verdict::Control(del) = d.decap(&f) else {
        panic!("{:?}", d.decap(&f))
    };
    assert_eq!(del.vni.get(), 7);
    let mut cfg = decap_cfg();
    cfg.punt_control = false;
    assert_eq!(
        drop_of(&Decapsulator::new(cfg), &f),
        DropReason::ControlNotPunted
    );
    // Even with an unsupported protocol type it is control, not data.
    let mut g = f.clone();
    g[G4 + 2..G4 + 4].copy_from_slice(&0x88b5u16.to_be_bytes());
    fix4(&mut g);
    assert!(matches!(d.decap(&g), Verdict::Control(_)));
}

// 3.4: Rsvd and Reserved bits: zero on TX, ignored on RX.
#[test]
fn rfc8926_3_4_reserved_bits() {
    let f = frame4(vec![opt(1, 1, 1)]);
    assert_eq!(f[G4 + 1] & 0x3f, 0, "Rsvd zero on TX");
    assert_eq!(f[G4 + 7], 0, "Reserved zero on TX");
    let mut g = f.clone();
    g[G4 + 1] |= 0x3f;
    g[G4 + 7] = 0xff;
    g[G4 + 8 + 3] |= 0xe0; // option R bits
    fix4(&mut g);
    let Verdict::Deliver(del) = decapsulator().decap(&g) else {
        panic!()
    };
    assert_eq!(del.vni.get(), 100);
    assert_eq!(del.options.count, 1);
}

// 3.4: Protocol Type: 0x6558 Ethernet, 0x0800 / 0x86DD IP; others dropped.
#[test]
fn rfc8926_3_4_protocol_type() {
    let d = decapsulator();
    let mut c = tunnel(false, 1);
    c.payload = PayloadKind::Ipv4;
    let f = build(&c, &inner_ipv4_udp(64, 0, 64, 1)[14..]);
    assert_eq!(&f[G4 + 2..G4 + 4], &[0x08, 0x00]);
    let Verdict::Deliver(del) = d.decap(&f) else {
        panic!()
    };
    assert_eq!(del.payload, PayloadKind::Ipv4);
    c.payload = PayloadKind::Ipv6;
    let f = build(&c, &inner_ipv6_udp(80, 0, 64));
    let Verdict::Deliver(del) = d.decap(&f) else {
        panic!()
    };
    assert_eq!(del.payload, PayloadKind::Ipv6);
    for p in [0x0806u16, 0x88cc, 0x0000, 0xffff] {
        let mut g = frame4(vec![]);
        g[G4 + 2..G4 + 4].copy_from_slice(&p.to_be_bytes());
        fix4(&mut g);
        assert_eq!(drop_of(&d, &g), DropReason::UnsupportedProtocol, "{p:#x}");
    }
    // A payload kind can be switched off.
    let mut cfg = decap_cfg();
    cfg.accept_ipv6 = false;
    assert_eq!(
        drop_of(&Decapsulator::new(cfg), &f),
        DropReason::UnsupportedProtocol
    );
}

// 3.5: Option header: Class 16, Type 8 (top bit critical), 3 reserved, Length 5.
#[test]
fn rfc8926_3_5_option_header_layout() {
    let f = frame4(vec![opt(0xabcd, 0x85, 2)]);
    let h = GeneveHeader::new_checked(&f[G4..]).unwrap();
    let o = h.option_iter().next().unwrap().unwrap();
    assert_eq!(
        (o.class, o.typ, o.critical(), o.len_words()),
        (0xabcd, 0x85, true, 2)
    );
    assert_eq!(&f[G4 + 8..G4 + 12], &[0xab, 0xcd, 0x85, 0x02]);
    // The 3 R bits are not part of the length.
    let mut g = f.clone();
    g[G4 + 11] = 0xe2;
    let h = GeneveHeader::new_checked(&g[G4..]).unwrap();
    assert_eq!(h.option_iter().next().unwrap().unwrap().data.len(), 8);
}

// 3.5: unknown option with the critical bit: drop, even when the header C bit is 0.
#[test]
fn rfc8926_3_5_unknown_critical_dropped_even_with_c_clear() {
    let d = decapsulator();
    let f = frame4(vec![opt(0x0101, 0x80 | 3, 1)]);
    assert_eq!(f[G4 + 1] & 0x40, 0x40);
    assert_eq!(drop_of(&d, &f), DropReason::UnknownCriticalOption);
    let mut g = f.clone();
    g[G4 + 1] &= !0x40;
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::UnknownCriticalOption);
    // Unknown non-critical: ignored.
    assert!(matches!(
        d.decap(&frame4(vec![opt(0x0101, 3, 1)])),
        Verdict::Deliver(_)
    ));
    // Known critical: delivered and reported.
    let mut cfg = decap_cfg();
    cfg.registry = OptionRegistry::from_options([KnownOption {
        class: 0x0101,
        typ: 0x83,
        name: "x".into(),
        len_words: None,
    }])
    .unwrap();
    let Verdict::Deliver(del) = Decapsulator::new(cfg).decap(&f) else {
        panic!()
    };
    assert_eq!((del.options.known, del.options.critical), (1, 1));
}

// 3.5: a sender that emits a critical option sets the C bit.
#[test]
fn rfc8926_3_5_sender_sets_c_bit() {
    assert_eq!(
        frame4(vec![opt(1, 1, 1), opt(1, 0x81, 0)])[G4 + 1] & 0x40,
        0x40
    );
    assert_eq!(frame4(vec![opt(1, 1, 1), opt(1, 2, 0)])[G4 + 1] & 0x40, 0);
    assert_eq!(frame4(vec![])[G4 + 1], 0);
}

// 3.5: option lengths that do not add up to Opt Len: drop.
#[test]
fn rfc8926_3_5_tlv_overrun() {
    let d = decapsulator();
    let mut f = frame4(vec![opt(1, 1, 2)]);
    f[G4 + 8 + 3] = 3; // claims 12 data bytes in a 12-byte options area
    fix4(&mut f);
    assert_eq!(drop_of(&d, &f), DropReason::OptionOverrun);
    // Two options, the second running 4 bytes past Opt Len.
    let mut f = frame4(vec![opt(1, 1, 1), opt(1, 2, 1)]);
    f[G4 + 16 + 3] = 2;
    fix4(&mut f);
    assert_eq!(drop_of(&d, &f), DropReason::OptionOverrun);
}

// 3.5.1: more options than the endpoint can process: drop (limit configured).
#[test]
fn rfc8926_3_5_1_max_options() {
    let f = frame4((0..8).map(|i| opt(1, i, 0)).collect());
    let mut cfg = decap_cfg();
    cfg.max_options = 8;
    assert!(matches!(
        Decapsulator::new(cfg.clone()).decap(&f),
        Verdict::Deliver(_)
    ));
    cfg.max_options = 7;
    assert_eq!(
        drop_of(&Decapsulator::new(cfg), &f),
        DropReason::TooManyOptions
    );
}

// 3.3: destination port 6081, configurable.
#[test]
fn rfc8926_3_3_destination_port() {
    let f = frame4(vec![]);
    assert_eq!(&f[36..38], &6081u16.to_be_bytes());
    let mut c = tunnel(false, 1);
    c.udp_dst_port = 7000;
    let g = build(&c, &inner_ipv4_udp(64, 0, 64, 1));
    assert_eq!(drop_of(&decapsulator(), &g), DropReason::WrongUdpPort);
    let mut cfg = decap_cfg();
    cfg.udp_port = 7000;
    assert!(matches!(
        Decapsulator::new(cfg).decap(&g),
        Verdict::Deliver(_)
    ));
}

// 3.3: source port: a hash of the inner flow, stable per flow, spread over the range.
#[test]
fn rfc8926_3_3_source_port() {
    let mut c = tunnel(false, 1);
    c.src_port_range = (50000, 50999);
    let t = EncapTemplate::new(&c).unwrap();
    let port = |flow: u16, rss: Option<u32>| {
        let mut b = VecBuffer::with_headroom(128, &inner_ipv4_udp(64, 0, 64, flow));
        encap(&t, &mut b, rss).unwrap();
        u16::from_be_bytes([b.data()[34], b.data()[35]])
    };
    assert_eq!(port(1, None), port(1, None), "stable");
    let ports: HashSet<u16> = (0..2000).map(|f| port(f, None)).collect();
    assert!(ports.iter().all(|p| (50000..=50999).contains(p)));
    assert!(
        ports.len() > 600,
        "2000 flows over 1000 ports hit only {}",
        ports.len()
    );
    // Caller-provided RSS hash is used instead of hashing.
    assert_eq!(port(1, Some(0)), 50000);
    assert_eq!(port(1, Some(u32::MAX)), 50999);
    assert_eq!(port(2, Some(0x8000_0000)), 50500);
}

// 3.3 / 4.3: IPv4 UDP checksum: zero allowed; non-zero must be valid.
#[test]
fn rfc8926_4_3_ipv4_udp_checksum() {
    let d = decapsulator();
    let f = frame4(vec![]);
    assert_eq!(&f[40..42], &[0, 0], "IPv4 default: zero");
    assert!(matches!(d.decap(&f), Verdict::Deliver(_)));
    let mut c = tunnel(false, 1);
    c.udp_checksum = Some(UdpChecksumTx::Compute);
    let mut g = build(&c, &inner_ipv4_udp(100, 0, 64, 1));
    assert!(UdpPacket::new_checked(&g[34..])
        .unwrap()
        .verify_checksum_v4(&V4_REMOTE.octets(), &V4_LOCAL.octets()));
    assert_ne!(&g[40..42], &[0, 0]);
    assert!(matches!(d.decap(&g), Verdict::Deliver(_)));
    let last = g.len() - 1;
    g[last] ^= 0x55;
    assert_eq!(drop_of(&d, &g), DropReason::UdpBadChecksum);
}

// 4.3.1: IPv6 UDP checksum computed by default; zero dropped unless configured.
#[test]
fn rfc8926_4_3_1_ipv6_zero_checksum() {
    let d = decapsulator();
    let f = build(&tunnel(true, 1), &inner_ipv4_udp(100, 0, 64, 1));
    assert!(UdpPacket::new_checked(&f[54..])
        .unwrap()
        .verify_checksum_v6(&V6_REMOTE.octets(), &V6_LOCAL.octets()));
    assert!(matches!(d.decap(&f), Verdict::Deliver(_)));
    let mut c = tunnel(true, 1);
    c.udp_checksum = Some(UdpChecksumTx::Zero);
    let z = build(&c, &inner_ipv4_udp(100, 0, 64, 1));
    assert_eq!(&z[60..62], &[0, 0]);
    assert_eq!(drop_of(&d, &z), DropReason::UdpZeroChecksumIpv6);
    let mut cfg = decap_cfg();
    cfg.ipv6_zero_checksum = Ipv6ZeroChecksum::Accept;
    assert!(matches!(
        Decapsulator::new(cfg).decap(&z),
        Verdict::Deliver(_)
    ));
    let mut bad = f.clone();
    bad[G6 + 4] ^= 1; // VNI bit
    assert_eq!(drop_of(&d, &bad), DropReason::UdpBadChecksum);
    fix6(&mut bad);
    assert!(matches!(d.decap(&bad), Verdict::Deliver(_)));
}

// 4.4.1: tunnel MTU assumes the maximum options length; oversize inner -> ICMP or counted drop.
#[test]
fn rfc8926_4_4_1_tunnel_mtu() {
    let mut c = tunnel(false, 1);
    c.underlay_mtu = 1500;
    c.options = vec![opt(1, 1, 1)];
    c.mtu_options_reserve = Some(252);
    let t = EncapTemplate::new(&c).unwrap();
    // 1500 - 20 (IP) - 8 (UDP) - 8 (Geneve) - 252 (reserved options) = 1212 inner bytes.
    assert_eq!(t.max_inner_len(), 1212);
    assert_eq!(t.inner_ip_mtu(), 1198);
    let mut ok = VecBuffer::with_headroom(128, &inner_ipv4_udp(1212, 0, 64, 1));
    assert!(encap(&t, &mut ok, None).is_ok());
    let big = inner_ipv4_udp(1213, 0, 64, 1);
    let mut b = VecBuffer::with_headroom(128, &big);
    let e = encap(&t, &mut b, None).unwrap_err();
    assert_eq!(e, EncapError::TooBig { mtu: 1198 });
    assert_eq!(b.data(), &big[..], "refused packet untouched");
    // The ICMP Fragmentation Needed reply (inner has DF).
    let mut out = [0u8; 256];
    let n = too_big_reply(
        &big,
        PayloadKind::Ethernet,
        1198,
        "10.0.0.254".parse().unwrap(),
        V6_LOCAL,
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[0..6], &big[6..12]);
    let ip = Ipv4Packet::new_checked(&out[14..n]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!((ip.protocol(), ip.dst()), (1, [10, 0, 0, 1]));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(
        (icmp.msg_type(), icmp.code(), icmp.next_hop_mtu()),
        (3, 4, 1198)
    );
    assert_eq!(icmp.data(), &big[14..14 + 28]);
    // IPv6 inner (L3 mode): Packet Too Big.
    let v6 = inner_ipv6_udp(2000, 0, 64);
    let mut out = [0u8; 1400];
    let n = too_big_reply(
        &v6,
        PayloadKind::Ipv6,
        1280,
        "10.0.0.254".parse().unwrap(),
        V6_LOCAL,
        &mut out,
    )
    .unwrap();
    assert_eq!(n, 1280);
    let ip = Ipv6Packet::new_checked(&out[..n]).unwrap();
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum(&ip.src(), &ip.dst()));
    assert_eq!((icmp.msg_type(), icmp.body_word()), (2, 1280));
    // Inner IPv4 without DF: no ICMP, the caller counts a drop.
    let mut nodf = big.clone();
    nodf[20] = 0;
    assert!(too_big_reply(
        &nodf,
        PayloadKind::Ethernet,
        1198,
        "10.0.0.254".parse().unwrap(),
        V6_LOCAL,
        &mut out
    )
    .is_err());
}

fn set_outer_ecn4(f: &mut [u8], e: Ecn) {
    f[15] = (f[15] & 0xfc) | e.bits();
    fix4(f);
}

// 4.4.2: RFC 6040 encap copies inner ECN (CE stays CE); compatibility mode sends Not-ECT.
#[test]
fn rfc6040_encap() {
    for e in Ecn::ALL {
        let f = build(
            &tunnel(false, 1),
            &inner_ipv4_udp(64, 0xb8 | e.bits(), 64, 1),
        );
        assert_eq!(Ecn::from_tos(f[15]), e);
        let f6 = build(&tunnel(true, 1), &inner_ipv4_udp(64, e.bits(), 64, 1));
        assert_eq!(Ipv6Packet::new_checked(&f6[14..]).unwrap().ecn(), e);
        let mut c = tunnel(false, 1);
        c.ecn = EcnEncapMode::Compatibility;
        let f = build(&c, &inner_ipv4_udp(64, e.bits(), 64, 1));
        assert_eq!(Ecn::from_tos(f[15]), Ecn::NotEct);
    }
}

// 4.4.2: RFC 6040 decap, the full 4 x 4 table (Figure 4), via real packets,
// for an inner IPv4 frame and an inner IPv6 (L3) packet.
/// One RFC 6040 table cell: `Some((inner ECN out, alarm))`, or `None` = drop.
type Cell = Option<(Ecn, bool)>;

#[test]
fn rfc6040_decap_4x4() {
    use Ecn::*;
    // (inner, outer) -> Some(result, alarm) or None = drop
    let table: [(Ecn, [Cell; 4]); 4] = [
        // outer:    Not-ECT             ECT(0)               ECT(1)               CE
        (
            NotEct,
            [
                Some((NotEct, false)),
                Some((NotEct, true)),
                Some((NotEct, true)),
                None,
            ],
        ),
        (
            Ect0,
            [
                Some((Ect0, false)),
                Some((Ect0, false)),
                Some((Ect1, false)),
                Some((Ce, false)),
            ],
        ),
        (
            Ect1,
            [
                Some((Ect1, false)),
                Some((Ect1, true)),
                Some((Ect1, false)),
                Some((Ce, false)),
            ],
        ),
        (
            Ce,
            [
                Some((Ce, false)),
                Some((Ce, false)),
                Some((Ce, true)),
                Some((Ce, false)),
            ],
        ),
    ];
    let outers = [NotEct, Ect0, Ect1, Ce];
    let d = decapsulator();
    let mut cells = 0;
    for (inner, row) in table {
        for (outer, want) in outers.into_iter().zip(row) {
            cells += 1;
            // IPv4 underlay, Ethernet + IPv4 inner with DSCP 10.
            let mut f = build(
                &tunnel(false, 1),
                &inner_ipv4_udp(80, (10 << 2) | inner.bits(), 33, 1),
            );
            set_outer_ecn4(&mut f, outer);
            let mut b = VecBuffer::with_headroom(0, &f);
            match (d.decap_in_place(&mut b), want) {
                (Verdict::Drop(r), None) => assert_eq!(r, DropReason::EcnCeOverNotEct),
                (Verdict::Deliver(del), Some((e, alarm))) => {
                    assert_eq!(del.ecn_alarm, alarm, "{inner:?}/{outer:?}");
                    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
                    assert_eq!(ip.ecn(), e, "{inner:?}/{outer:?}");
                    assert_eq!(ip.dscp(), 10, "pipe: DSCP unchanged");
                    assert!(ip.verify_checksum(), "inner checksum updated incrementally");
                }
                (v, w) => panic!("{inner:?}/{outer:?}: got {v:?}, want {w:?}"),
            }
            // IPv6 underlay, L3 IPv6 inner.
            let mut c = tunnel(true, 1);
            c.payload = PayloadKind::Ipv6;
            let mut f = build(&c, &inner_ipv6_udp(80, (12 << 2) | inner.bits(), 9));
            let w = u16::from_be_bytes([f[14], f[15]]);
            let w = (w & !0x0030) | (u16::from(outer.bits()) << 4);
            f[14..16].copy_from_slice(&w.to_be_bytes());
            fix6(&mut f);
            let mut b = VecBuffer::with_headroom(0, &f);
            match (d.decap_in_place(&mut b), want) {
                (Verdict::Drop(r), None) => assert_eq!(r, DropReason::EcnCeOverNotEct),
                (Verdict::Deliver(_), Some((e, _))) => {
                    let ip = Ipv6Packet::new_checked(b.data()).unwrap();
                    assert_eq!((ip.ecn(), ip.traffic_class() >> 2), (e, 12));
                }
                (v, w) => panic!("v6 {inner:?}/{outer:?}: got {v:?}, want {w:?}"),
            }
        }
    }
    assert_eq!(cells, 16);
    // Non-IP inner (ARP in Ethernet) counts as Not-ECT.
    let mut arp = vec![0u8; 60];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut f = build(&tunnel(false, 1), &arp);
    assert!(matches!(d.decap(&f), Verdict::Deliver(_)));
    set_outer_ecn4(&mut f, Ce);
    assert_eq!(drop_of(&d, &f), DropReason::EcnCeOverNotEct);
}

// 4.4.2: DSCP / TTL: pipe by default, uniform configurable, both directions.
#[test]
fn rfc8926_4_4_2_dscp_ttl_models() {
    let inner = inner_ipv4_udp(64, 46 << 2, 17, 1);
    // Pipe (default): outer DSCP 0 and TTL 64 regardless of inner.
    let f = build(&tunnel(false, 1), &inner);
    assert_eq!((f[15] >> 2, f[22]), (0, 64));
    let mut c = tunnel(false, 1);
    c.dscp = DscpEncap::Pipe(8);
    c.ttl = TtlEncap::Pipe(200);
    let f = build(&c, &inner);
    assert_eq!((f[15] >> 2, f[22]), (8, 200));
    assert!(Ipv4Packet::new_checked(&f[14..]).unwrap().verify_checksum());
    // Uniform: copy.
    c.dscp = DscpEncap::Uniform;
    c.ttl = TtlEncap::Uniform { non_ip: 64 };
    let f = build(&c, &inner);
    assert_eq!((f[15] >> 2, f[22]), (46, 17));
    let mut c6 = tunnel(true, 1);
    c6.dscp = DscpEncap::Uniform;
    c6.ttl = TtlEncap::Uniform { non_ip: 64 };
    let f6 = build(&c6, &inner);
    let ip6 = Ipv6Packet::new_checked(&f6[14..]).unwrap();
    assert_eq!((ip6.traffic_class() >> 2, ip6.hop_limit()), (46, 17));
    // Decap pipe: inner untouched.
    let mut g = build(&tunnel(false, 1), &inner);
    g[15] = 10 << 2;
    g[22] = 5;
    fix4(&mut g);
    let mut b = VecBuffer::with_headroom(0, &g);
    let Verdict::Deliver(del) = decapsulator().decap_in_place(&mut b) else {
        panic!()
    };
    assert!(!del.inner.changed);
    assert_eq!(b.data(), &inner[..]);
    // Decap uniform: inner DSCP := outer, TTL := min(inner, outer).
    let mut cfg = decap_cfg();
    cfg.dscp = QosModel::Uniform;
    cfg.ttl = QosModel::Uniform;
    let mut b = VecBuffer::with_headroom(0, &g);
    let Verdict::Deliver(del) = Decapsulator::new(cfg).decap_in_place(&mut b) else {
        panic!()
    };
    assert!(del.inner.changed);
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    assert_eq!((ip.dscp(), ip.ttl()), (10, 5));
    assert!(ip.verify_checksum());
}

// 4.6: every segment carries every option. There is no software TSO here;
// the template puts all options in every packet encap emits, which is what
// a TSO engine replicates per segment. Checked over a burst of "segments".
#[test]
fn rfc8926_4_6_every_segment_has_every_option() {
    let mut c = tunnel(false, 1);
    c.options = vec![opt(0x0102, 0x81, 1), opt(0x0103, 2, 3)];
    let t = EncapTemplate::new(&c).unwrap();
    let mut cfg: DecapConfig = decap_cfg();
    cfg.registry = OptionRegistry::from_options([KnownOption {
        class: 0x0102,
        typ: 0x81,
        name: "seg".into(),
        len_words: Some(1),
    }])
    .unwrap();
    let d = Decapsulator::new(cfg);
    for seg in 0..16u16 {
        let mut b = VecBuffer::with_headroom(
            t.header_len(),
            &inner_ipv4_udp(100 + usize::from(seg) * 50, 0, 64, 3),
        );
        encap(&t, &mut b, None).unwrap();
        let Verdict::Deliver(del) = d.decap(b.data()) else {
            panic!()
        };
        assert_eq!((del.options.count, del.options_len), (2, 8 + 16));
        assert_eq!(
            &b.data()[G4 + 8..G4 + 8 + 24],
            &t.header()[G4 + 8..G4 + 8 + 24]
        );
    }
}

// Outer checks before Geneve: IPv4 header checksum, fragments, local address, protocol.
#[test]
fn outer_ip_checks() {
    let d = decapsulator();
    let f = frame4(vec![]);
    let mut g = f.clone();
    g[24] ^= 1;
    assert_eq!(drop_of(&d, &g), DropReason::Ipv4BadChecksum);
    let mut g = f.clone();
    g[20] = 0x20; // MF
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::IpFragment);
    let mut g = f.clone();
    g[33] = 99;
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::NotLocalAddress);
    let mut g = f.clone();
    g[23] = 6;
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::NotUdp);
    let mut g = f.clone();
    g[12] = 0x88;
    assert_eq!(drop_of(&d, &g), DropReason::NotIp);
    assert_eq!(drop_of(&d, &f[..10]), DropReason::EthTruncated);
    let mut g = f.clone();
    g[38..40].copy_from_slice(&20u16.to_be_bytes());
    fix4(&mut g);
    assert_eq!(drop_of(&d, &g), DropReason::UdpBadLength);
    // Ethernet padding after the IP packet is not payload.
    let mut g = f.clone();
    g.extend_from_slice(&[0xee; 6]);
    let mut b = VecBuffer::with_headroom(0, &g);
    assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
    assert_eq!(b.data(), &inner_ipv4_udp(64, 0, 64, 1)[..]);
    // Outer VLAN tag.
    let mut c = tunnel(false, 100);
    c.vlan = Some(42);
    let v = build(&c, &inner_ipv4_udp(64, 0, 64, 1));
    assert_eq!(&v[12..16], &[0x81, 0x00, 0, 42]);
    // Accepted on the underlay's VLAN only.
    assert_eq!(drop_of(&d, &v), DropReason::UnderlayVlan);
    let mut cfg = d.config().clone();
    cfg.underlay_vlan = Some(42);
    assert!(matches!(
        Decapsulator::new(cfg).decap(&v),
        Verdict::Deliver(_)
    ));
}

#[test]
fn drop_reason_names_unique() {
    let names: HashSet<&str> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), DropReason::COUNT);
    for (i, r) in DropReason::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
        assert!(r
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
    }
}
