//! Property tests: encap then decap returns the original inner packet for
//! random inner packets, option lists and tunnel settings; random and
//! truncated bytes never panic.
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::*;
use geneve_gw::tunnel::{
    encap, Buffer, DecapConfig, Decapsulator, DscpEncap, EcnEncapMode, EncapTemplate, FastEthernet,
    KnownOption, OptionRegistry, PayloadKind, TtlEncap, TunnelConfig, TunnelOption, UdpChecksumTx,
    VecBuffer, Verdict,
};
use geneve_gw::wire::{GeneveHeader, Vni};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn arb_option() -> impl Strategy<Value = TunnelOption> {
    (
        any::<u16>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..=8usize),
    )
        .prop_map(|(class, typ, words)| {
            let data: Vec<u8> = words
                .iter()
                .flat_map(|w| [*w, w.wrapping_add(1), 0, 0xff])
                .collect();
            TunnelOption { class, typ, data }
        })
}

#[derive(Debug, Clone)]
struct Case {
    v6: bool,
    kind: PayloadKind,
    inner: Vec<u8>,
    options: Vec<TunnelOption>,
    vni: u32,
    port: u16,
    range: (u16, u16),
    csum: Option<UdpChecksumTx>,
    dscp: DscpEncap,
    ttl: TtlEncap,
    ecn: EcnEncapMode,
    rss: Option<u32>,
    vlan: Option<u16>,
}

fn arb_inner() -> impl Strategy<Value = (PayloadKind, Vec<u8>)> {
    let eth =
        (60usize..1500, any::<u8>(), 1u8..=255, any::<u16>()).prop_map(|(len, tos, ttl, flow)| {
            (PayloadKind::Ethernet, inner_ipv4_udp(len, tos, ttl, flow))
        });
    let raw_eth = prop::collection::vec(any::<u8>(), 14..300).prop_map(|mut v| {
        // Random non-IP EtherType frames (ARP, LLDP, junk).
        v[12] = 0x88;
        (PayloadKind::Ethernet, v)
    });
    let v6 = (48usize..1400, any::<u8>(), 1u8..=255)
        .prop_map(|(len, tc, h)| (PayloadKind::Ipv6, inner_ipv6_udp(len, tc, h)));
    let v4 =
        (42usize..1400, any::<u8>(), 1u8..=255, any::<u16>()).prop_map(|(len, tos, ttl, flow)| {
            (
                PayloadKind::Ipv4,
                inner_ipv4_udp(len, tos, ttl, flow)[14..].to_vec(),
            )
        });
    prop_oneof![eth, raw_eth, v6, v4]
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        arb_inner(),
        prop::collection::vec(arb_option(), 0..8),
        0u32..=Vni::MAX,
        prop_oneof![Just(6081u16), 1024u16..],
        (any::<u16>(), any::<u16>()),
        prop_oneof![
            Just(None),
            Just(Some(UdpChecksumTx::Zero)),
            Just(Some(UdpChecksumTx::Compute))
        ],
        (
            prop_oneof![
                (0u8..64).prop_map(DscpEncap::Pipe),
                Just(DscpEncap::Uniform)
            ],
            any::<bool>(),
        ),
        prop_oneof![
            (1u8..=255).prop_map(TtlEncap::Pipe),
            Just(TtlEncap::Uniform { non_ip: 64 })
        ],
        any::<Option<u32>>(),
        prop::option::of(0u16..4096),
    )
        .prop_map(
            |(
                v6,
                (kind, inner),
                mut options,
                vni,
                port,
                (a, b),
                csum,
                (dscp, compat),
                ttl,
                rss,
                vlan,
            )| {
                // Stay within 252 option bytes.
                while options.iter().map(|o| 4 + o.data.len()).sum::<usize>() > 252 {
                    options.pop();
                }
                Case {
                    v6,
                    kind,
                    inner,
                    options,
                    vni,
                    port,
                    range: (a.min(b), a.max(b)),
                    csum,
                    dscp,
                    ttl,
                    ecn: if compat {
                        EcnEncapMode::Compatibility
                    } else {
                        EcnEncapMode::Normal
                    },
                    rss,
                    vlan,
                }
            },
        )
}

fn config(c: &Case) -> TunnelConfig {
    let mut t = tunnel(c.v6, c.vni);
    t.payload = c.kind;
    t.options = c.options.clone();
    t.udp_dst_port = c.port;
    t.src_port_range = c.range;
    t.udp_checksum = c.csum;
    t.dscp = c.dscp;
    t.ttl = c.ttl;
    t.ecn = c.ecn;
    t.vlan = c.vlan;
    t
}

/// Registry that understands every critical option of the case.
fn registry(c: &Case) -> OptionRegistry {
    let mut r = OptionRegistry::new();
    for o in c.options.iter().filter(|o| o.typ & 0x80 != 0) {
        let _ = r.add(KnownOption {
            class: o.class,
            typ: o.typ,
            name: "p".into(),
            len_words: None,
        });
    }
    r
}

proptest! {
    // Failing seeds are kept beside this file, in
    // lib_tunnel_prop.proptest-regressions (an integration test has no
    // lib.rs for proptest's default to find).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn encap_decap_roundtrip(c in arb_case()) {
        let t = EncapTemplate::new(&config(&c)).unwrap();
        let mut b = VecBuffer::with_headroom(t.header_len(), &c.inner);
        encap(&t, &mut b, c.rss).unwrap();
        let frame = b.to_vec();
        prop_assert_eq!(frame.len(), c.inner.len() + t.header_len());
        let mut cfg = DecapConfig::new(vec![V4_LOCAL], vec![V6_LOCAL]);
        cfg.udp_port = c.port;
        cfg.registry = registry(&c);
        cfg.max_options = 63;
        cfg.ipv6_zero_checksum = geneve_gw::tunnel::Ipv6ZeroChecksum::Accept;
        // A tagged tunnel sends on the underlay's VLAN.
        cfg.underlay_vlan = c.vlan;
        let d = Decapsulator::new(cfg);
        match d.decap_in_place(&mut b) {
            Verdict::Deliver(del) => {
                prop_assert_eq!(del.vni.get(), c.vni);
                prop_assert_eq!(del.payload, c.kind);
                prop_assert_eq!(usize::from(del.options.count), c.options.len());
                let src: IpAddr = if c.v6 { V6_REMOTE.into() } else { V4_REMOTE.into() };
                prop_assert_eq!(del.src_vtep(), src);
                prop_assert!(del.udp_src_port >= c.range.0 && del.udp_src_port <= c.range.1);
                // RFC 6040 normal mode round-trips ECN exactly; compatibility
                // mode sends Not-ECT, which also leaves the inner unchanged.
                prop_assert!(!del.inner.changed);
                prop_assert_eq!(b.data(), &c.inner[..]);
                // Options survive byte for byte.
                let g = GeneveHeader::new_checked(&frame[usize::from(del.options_offset) - 8..]).unwrap();
                let got: Vec<TunnelOption> = g.option_iter().map(|o| {
                    let o = o.unwrap();
                    TunnelOption { class: o.class, typ: o.typ, data: o.data.to_vec() }
                }).collect();
                prop_assert_eq!(got, c.options.clone());
                prop_assert_eq!(g.critical(), c.options.iter().any(|o| o.typ & 0x80 != 0));
            }
            v => prop_assert!(false, "{:?}", v),
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let d = decapsulator();
        let _ = d.decap(&bytes);
        let mut b = VecBuffer::with_headroom(0, &bytes);
        let v = d.decap_in_place(&mut b);
        if !matches!(v, Verdict::Deliver(_)) {
            prop_assert_eq!(b.data(), &bytes[..]);
        }
        // Also through the wire views.
        let _ = geneve_gw::wire::EthernetFrame::new_checked(&bytes[..]).map(|f| f.payload().len());
        let _ = GeneveHeader::new_checked(&bytes[..]).map(|g| g.option_iter().count());
        let _ = geneve_gw::wire::Ipv6Packet::new_checked(&bytes[..]).map(|p| p.upper_layer());
        let _ = geneve_gw::tunnel::inner_flow_hash(&bytes, PayloadKind::Ethernet);
        let _ = geneve_gw::tunnel::inner_flow_hash(&bytes, PayloadKind::Ipv6);
    }

    /// Valid packets, truncated or with one byte flipped: decap never panics
    /// and a truncated packet is never delivered with bytes past its end.
    #[test]
    fn mutated_packets_never_panic(c in arb_case(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        let t = EncapTemplate::new(&config(&c)).unwrap();
        let mut b = VecBuffer::with_headroom(t.header_len(), &c.inner);
        encap(&t, &mut b, c.rss).unwrap();
        let frame = b.to_vec();
        let mut cfg = DecapConfig::new(vec![V4_LOCAL], vec![V6_LOCAL]);
        cfg.udp_port = c.port;
        let d = Decapsulator::new(cfg);
        let n = cut.index(frame.len());
        if let Verdict::Deliver(del) = d.decap(&frame[..n]) {
            prop_assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= n);
        }
        let mut m = frame.clone();
        let i = flip.0.index(m.len());
        m[i] ^= flip.1 | 1;
        if let Verdict::Deliver(del) = d.decap(&m) {
            prop_assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= m.len());
        }
    }
}

#[test]
fn template_rejects_bad_configs() {
    let mut t = tunnel(false, 1);
    t.dst = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert!(EncapTemplate::new(&t).is_err());
    let mut t = tunnel(false, 1);
    t.options = vec![TunnelOption {
        class: 1,
        typ: 1,
        data: vec![0; 3],
    }];
    assert!(EncapTemplate::new(&t).is_err());
    t.options = vec![
        TunnelOption {
            class: 1,
            typ: 1,
            data: vec![0; 124]
        };
        3
    ];
    assert!(EncapTemplate::new(&t).is_err());
    let mut t = tunnel(false, 1);
    t.src_port_range = (2, 1);
    assert!(EncapTemplate::new(&t).is_err());
    let mut t = tunnel(false, 1);
    t.underlay_mtu = 40;
    assert!(EncapTemplate::new(&t).is_err());
    let mut t = tunnel(false, 1);
    t.src = IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4));
    let tpl = EncapTemplate::new(&t).unwrap();
    // Not enough headroom: error, buffer untouched.
    let inner = inner_ipv4_udp(64, 0, 64, 1);
    let mut b = VecBuffer::with_headroom(10, &inner);
    assert_eq!(
        encap(&tpl, &mut b, None),
        Err(geneve_gw::tunnel::EncapError::NoHeadroom)
    );
    assert_eq!(b.data(), &inner[..]);
}

/// A VXLAN tunnel case: underlay family, inner frame, VNI, port, checksum,
/// DSCP / TTL models, flow hash.
#[derive(Debug, Clone)]
struct VxlanCase {
    v6: bool,
    inner: Vec<u8>,
    vni: u32,
    port: u16,
    csum: Option<UdpChecksumTx>,
    dscp: DscpEncap,
    ttl: TtlEncap,
    rss: Option<u32>,
}

fn arb_vxlan_case() -> impl Strategy<Value = VxlanCase> {
    (
        any::<bool>(),
        arb_inner().prop_filter("VXLAN carries Ethernet", |(k, _)| {
            *k == PayloadKind::Ethernet
        }),
        0u32..=Vni::MAX,
        prop_oneof![Just(4789u16), Just(8472u16), 1024u16..=65535],
        prop_oneof![
            Just(None),
            Just(Some(UdpChecksumTx::Zero)),
            Just(Some(UdpChecksumTx::Compute))
        ],
        prop_oneof![
            Just(DscpEncap::Uniform),
            (0u8..64).prop_map(DscpEncap::Pipe)
        ],
        prop_oneof![
            Just(TtlEncap::Uniform { non_ip: 64 }),
            (1u8..=255).prop_map(TtlEncap::Pipe)
        ],
        any::<Option<u32>>(),
    )
        .prop_filter("not the Geneve port", |c| c.3 != 6081)
        .prop_map(
            |(v6, (_, inner), vni, port, csum, dscp, ttl, rss)| VxlanCase {
                v6,
                inner,
                vni,
                port,
                csum,
                dscp,
                ttl,
                rss,
            },
        )
}

fn vxlan_frame(c: &VxlanCase) -> Vec<u8> {
    let mut t = tunnel(c.v6, c.vni);
    t.encapsulation = geneve_gw::wire::Encapsulation::Vxlan;
    t.udp_dst_port = c.port;
    t.udp_checksum = c.csum;
    t.dscp = c.dscp;
    t.ttl = c.ttl;
    let t = EncapTemplate::new(&t).unwrap();
    let mut b = VecBuffer::with_headroom(t.header_len(), &c.inner);
    encap(&t, &mut b, c.rss).unwrap();
    b.to_vec()
}

fn vxlan_decapsulator(port: u16) -> Decapsulator {
    let mut cfg = DecapConfig::new(vec![V4_LOCAL], vec![V6_LOCAL]);
    cfg.vxlan_port = Some(port);
    cfg.ipv6_zero_checksum = geneve_gw::tunnel::Ipv6ZeroChecksum::Accept;
    Decapsulator::new(cfg)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// VXLAN encap then decap gives back the inner frame, the VNI and the
    /// remote VTEP; the header is RFC 7348's (I flag, reserved zero).
    #[test]
    fn vxlan_encap_decap_roundtrip(c in arb_vxlan_case()) {
        let frame = vxlan_frame(&c);
        let d = vxlan_decapsulator(c.port);
        let mut b = VecBuffer::with_headroom(0, &frame);
        match d.decap_in_place(&mut b) {
            Verdict::Deliver(del) => {
                prop_assert_eq!(del.encap, geneve_gw::wire::Encapsulation::Vxlan);
                prop_assert_eq!(del.vni.get(), c.vni);
                prop_assert_eq!(del.payload, PayloadKind::Ethernet);
                let src: IpAddr = if c.v6 { V6_REMOTE.into() } else { V4_REMOTE.into() };
                prop_assert_eq!(del.src_vtep(), src);
                prop_assert!(!del.inner.changed);
                prop_assert_eq!(b.data(), &c.inner[..]);
                let h = usize::from(del.payload_offset) - 8;
                let mut want = [0x08, 0, 0, 0, 0, 0, 0, 0];
                want[4..7].copy_from_slice(&c.vni.to_be_bytes()[1..]);
                prop_assert_eq!(&frame[h..h + 8], &want[..]);
            }
            v => prop_assert!(false, "{:?}", v),
        }
    }

    /// VXLAN frames cut short or with one byte changed: decap never panics
    /// or delivers bytes past the frame, and the VXLAN fast tier gives the
    /// general tier's verdict whenever it takes one.
    #[test]
    fn vxlan_mutations_never_panic_and_the_tiers_agree(
        c in arb_vxlan_case(),
        cut in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let frame = vxlan_frame(&c);
        let d = vxlan_decapsulator(c.port);
        let mut m = frame.clone();
        let i = flip.0.index(m.len().min(80));
        m[i] ^= flip.1 | 1;
        let n = cut.index(frame.len());
        for f in [&frame[..], &frame[..n], &m[..]] {
            if let Verdict::Deliver(del) = d.decap(f) {
                prop_assert!(usize::from(del.payload_offset) + usize::from(del.payload_len) <= f.len());
            }
            let general = d.decap_general(f);
            match d.decap_fast_vxlan_v4(f, false) {
                None => {}
                Some(geneve_gw::tunnel::FastVerdict::Deliver(a)) => match general {
                    Verdict::Deliver(b) => {
                        prop_assert_eq!(
                            (a.vni, a.encap, a.payload_offset, a.payload_len, a.padding, a.src_vtep()),
                            (b.vni, b.encap, b.payload_offset, b.payload_len, b.padding, b.src_vtep())
                        );
                    }
                    v => prop_assert!(false, "fast delivered, general {:?}", v),
                },
                Some(geneve_gw::tunnel::FastVerdict::Drop(r)) => {
                    prop_assert_eq!(general, Verdict::Drop(r));
                }
                Some(geneve_gw::tunnel::FastVerdict::General) => {
                    prop_assert!(false, "the VXLAN fast tier never defers with General");
                }
            }
        }
    }
}

/// Plain RFC 8200 section 8.1 / RFC 768 check of the outer UDP checksum
/// of an IPv6 frame without VLAN tag: the 16-bit words of the pseudo
/// header (the configured addresses, the UDP length as the bytes from
/// the UDP header on, next header 17) and of the datagram as sent sum to
/// zero modulo 0xffff, and the field is not zero.
fn outer_v6_udp_checksum_holds(frame: &[u8]) -> bool {
    let udp = &frame[54..];
    let mut s = 0u128;
    let mut words = |b: &[u8]| {
        for c in b.chunks(2) {
            s += u128::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    words(&V6_REMOTE.octets());
    words(&V6_LOCAL.octets());
    words(&(udp.len() as u32).to_be_bytes());
    words(&[0, 0, 0, 17]);
    words(udp);
    s.is_multiple_of(0xffff) && udp[6..8] != [0, 0]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// The IPv6 Ethernet fast tier, with the checksum mode checked per
    /// frame and known per burst (`FastEthernet<true, true>`), over
    /// random inner frames (any length, every byte random, or a valid
    /// IPv4/UDP frame with one byte of its headers flipped), at random
    /// alignments: both take the same frames and write the same bytes as
    /// `encap`, leave the others untouched; what they write carries a
    /// valid outer UDP checksum (RFC 8200 8.1) and the configured header.
    #[test]
    fn ipv6_fast_tiers_agree_over_mutated_frames(
        len in 14usize..1600,
        random in prop::collection::vec(any::<u8>(), 1600),
        valid in any::<bool>(),
        flip in (0usize..38, 1u8..=255),
        extra in 0usize..16,
        rss in any::<Option<u32>>(),
        n_opts in 0usize..3,
    ) {
        let mut cfg = tunnel(true, 0x12345);
        cfg.udp_checksum = None;
        cfg.options = (0..n_opts)
            .map(|i| TunnelOption { class: 0x0102, typ: 3, data: vec![0xa5; 4 * i] })
            .collect();
        let t = EncapTemplate::new(&cfg).unwrap();
        let mut inner = random[..len].to_vec();
        if valid && len >= 42 {
            inner = inner_ipv4_udp(len, random[0], random[1] | 1, u16::from(random[2]));
            inner[flip.0] ^= flip.1;
        }
        let fresh = || VecBuffer::with_headroom(t.header_len() + extra, &inner);
        let mut by_encap = fresh();
        let want = encap(&t, &mut by_encap, rss);
        let sum = FastEthernet::<true, true>::new(&t).expect("IPv6 computes its checksum by default");
        let per_frame = FastEthernet::<true>::new(&t).unwrap();
        let (mut a, mut b) = (fresh(), fresh());
        let took = sum.encap(&mut a, rss);
        prop_assert_eq!(per_frame.encap(&mut b, rss), took);
        prop_assert_eq!(a.data(), b.data());
        if took {
            prop_assert!(want.is_ok());
            prop_assert_eq!(a.data(), by_encap.data());
            let f = a.data();
            prop_assert_eq!(f.len(), inner.len() + t.header_len());
            prop_assert_eq!(&f[12..14], &[0x86, 0xdd]);
            prop_assert_eq!(usize::from(u16::from_be_bytes([f[18], f[19]])), f.len() - 54);
            prop_assert_eq!(usize::from(u16::from_be_bytes([f[58], f[59]])), f.len() - 54);
            prop_assert_eq!(&f[22..38], &V6_REMOTE.octets());
            prop_assert_eq!(&f[38..54], &V6_LOCAL.octets());
            prop_assert!(outer_v6_udp_checksum_holds(f));
            prop_assert_eq!(&f[t.header_len()..], &inner[..]);
        } else {
            prop_assert_eq!(a.data(), &inner[..]);
        }
    }
}
