//! Unit tests of decap: the fast tier gives the general tier's verdict.
use super::fast::{ipv4_header_sum_ok, FAST_V4_LEN, FAST_V6_LEN};
use super::*;
use crate::tunnel::{
    encap, DscpEncap, EcnEncapMode, EncapTemplate, KnownOption, TtlEncap, TunnelConfig,
    TunnelOption, UdpChecksumTx, VecBuffer,
};
use crate::wire::checksum::INVERSE_0XFFFF;
use crate::wire::{checksum, ip_proto};

const L4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const R4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const L6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const R6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

fn inner_eth(len: usize, et: u16, b14: u8, tos: u8, ttl: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
    if len >= 14 {
        f[12..14].copy_from_slice(&et.to_be_bytes());
    }
    for (i, b) in [(14, b14), (15, tos), (22, ttl)] {
        if let Some(x) = f.get_mut(i) {
            *x = b;
        }
    }
    f
}

/// A registered option (class 0x0100, type 0x80, 4 bytes) and an
/// unknown non-critical one (8 bytes).
fn two_options() -> Vec<TunnelOption> {
    vec![
        TunnelOption {
            class: 0x0100,
            typ: 0x80,
            data: vec![1; 4],
        },
        TunnelOption {
            class: 0x0102,
            typ: 0x01,
            data: vec![2; 8],
        },
    ]
}

/// Two options of one data word each: a 16-byte options area.
fn small_options() -> Vec<TunnelOption> {
    vec![
        TunnelOption {
            class: 0x0102,
            typ: 0x01,
            data: vec![0, 0, 0, 0x2a],
        },
        TunnelOption {
            class: 0x0102,
            typ: 0x02,
            data: vec![0, 0, 0, 7],
        },
    ]
}

fn base_frames() -> Vec<Vec<u8>> {
    let mut inners: Vec<(PayloadKind, Vec<u8>)> = Vec::new();
    for tos in [0u8, 1, 2, 3, 0xb8, 0xbb] {
        inners.push((PayloadKind::Ethernet, inner_eth(64, 0x0800, 0x45, tos, 64)));
    }
    for len in [0, 10, 14, 20, 33, 34, 40] {
        inners.push((PayloadKind::Ethernet, inner_eth(len, 0x0800, 0x45, 3, 9)));
    }
    inners.push((PayloadKind::Ethernet, inner_eth(80, 0x86dd, 0x6b, 0xc0, 2)));
    inners.push((PayloadKind::Ethernet, inner_eth(60, 0x0806, 0, 0, 0)));
    let mut tagged = inner_eth(80, 0x8100, 0, 0, 0);
    tagged[16..20].copy_from_slice(&[0x08, 0x00, 0x45, 0x03]);
    inners.push((PayloadKind::Ethernet, tagged));
    for tos in [0u8, 2] {
        inners.push((
            PayloadKind::Ipv4,
            inner_eth(60, 0x0800, 0x45, tos, 3)[14..].to_vec(),
        ));
    }
    // Shorter than an IPv4 header: inner_malformed on every tier.
    inners.push((
        PayloadKind::Ipv4,
        inner_eth(33, 0x0800, 0x45, 0, 3)[14..].to_vec(),
    ));
    let mut ip6 = vec![0u8; 60];
    ip6[0] = 0x6f;
    ip6[1] = 0xf0;
    ip6[7] = 5;
    inners.push((PayloadKind::Ipv6, ip6));
    let mut out = Vec::new();
    // IPv4 underlay, zero checksum, small options: the header pattern and
    // the 16-byte option layout.
    for (kind, inner) in inners.iter().take(3) {
        let mut c = TunnelConfig::new(
            [2, 0, 0, 0, 0, 0xb],
            [2, 0, 0, 0, 0, 0xa],
            R4.into(),
            L4.into(),
            Vni::new(0x123456).unwrap(),
        );
        c.payload = *kind;
        c.options = small_options();
        let t = EncapTemplate::new(&c).unwrap();
        let mut b = VecBuffer::with_headroom(t.header_len(), inner);
        if encap(&t, &mut b, Some(7)).is_ok() {
            out.push(b.to_vec());
        }
    }
    for (kind, inner) in inners {
        for v in 0..6 {
            let v6 = v == 5;
            let (s, d): (IpAddr, IpAddr) = if v6 {
                (R6.into(), L6.into())
            } else {
                (R4.into(), L4.into())
            };
            let mut c = TunnelConfig::new(
                [2, 0, 0, 0, 0, 0xb],
                [2, 0, 0, 0, 0, 0xa],
                s,
                d,
                Vni::new(0x123456).unwrap(),
            );
            c.payload = kind;
            c.underlay_mtu = 9000;
            match v {
                1 => {
                    c.options = two_options();
                }
                // IPv6 underlay with small options; IPv4 ones below.
                5 => c.options = small_options(),
                2 => c.udp_checksum = Some(UdpChecksumTx::Compute),
                3 => {
                    c.vlan = Some(5);
                    c.dscp = DscpEncap::Pipe(10);
                }
                4 => {
                    c.ecn = EcnEncapMode::Compatibility;
                    c.ttl = TtlEncap::Pipe(3);
                    c.dscp = DscpEncap::Uniform;
                }
                _ => {}
            }
            let t = EncapTemplate::new(&c).unwrap();
            let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
            if encap(&t, &mut b, Some(7)).is_ok() {
                out.push(b.to_vec());
            }
        }
    }
    out
}

fn decapsulators() -> Vec<Decapsulator> {
    let mut out = Vec::new();
    for v in 0..9 {
        let mut c = DecapConfig::new(vec![L4], vec![L6]);
        match v {
            1 => {
                c.verify_ipv4_checksum = false;
                c.verify_udp_checksum = false;
            }
            2 => {
                c.dscp = QosModel::Uniform;
                c.ttl = QosModel::Uniform;
            }
            3 => {
                c.registry = OptionRegistry::from_options([KnownOption {
                    class: 0x0100,
                    typ: 0x80,
                    name: "a".into(),
                    len_words: Some(1),
                }])
                .unwrap();
            }
            4 => {
                c.accept_ethernet = false;
                c.accept_ipv6 = false;
                c.punt_control = false;
            }
            5 => {
                c.local_v4 = vec![Ipv4Addr::new(10, 0, 0, 1), L4];
                c.local_v6 = vec![];
                c.ipv6_zero_checksum = Ipv6ZeroChecksum::Accept;
            }
            6 => {
                c.max_options = 1;
                c.accept_ipv4 = false;
                c.udp_port = 4789;
            }
            7 => c.local_v4 = vec![],
            // The test frames' IPv6 destination is the second local
            // address: the IPv6 pattern (first address) never matches and
            // the fixed fields are checked one by one.
            8 => c.local_v6 = vec![Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9), L6],
            _ => {}
        }
        if v == 0 || v == 3 || v == 6 {
            // The options areas of `two_options` and `small_options`
            // recognised by their headers (a registry that knows one of
            // them, none, a limit of one).
            out.push(Decapsulator::new(c.clone()).with_option_layout(&two_options()));
            out.push(Decapsulator::new(c.clone()).with_option_layout(&small_options()));
        }
        if v == 0 {
            // Patterns for one payload only (an L3-only or L2-only gateway).
            out.push(Decapsulator::new(c.clone()).with_patterns(false, true));
            out.push(Decapsulator::new(c.clone()).with_patterns(true, false));
        }
        out.push(Decapsulator::new(c));
    }
    out
}

/// Recompute the outer IPv4 header checksum (untagged outer only).
fn fix_ipv4_checksum(f: &mut [u8]) {
    if f.len() < 34 || f[12] != 0x08 || f[13] != 0 {
        return;
    }
    let hl = usize::from(f[14] & 0x0f) * 4;
    if hl < 20 || f.len() < 14 + hl {
        return;
    }
    f[24] = 0;
    f[25] = 0;
    let c = checksum::checksum(&f[14..14 + hl]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn vtep_addresses_are_read_from_the_outer_header() {
    // Untagged and tagged IPv4 (fast and general tier) and IPv6 underlays;
    // the tagged frames are on VLAN 5, the underlay's.
    let mut cfg = DecapConfig::new(vec![L4], vec![L6]);
    cfg.underlay_vlan = Some(5);
    let d = Decapsulator::new(cfg);
    let mut seen = [0u32; 3];
    for f in base_frames() {
        let (Verdict::Deliver(del) | Verdict::Control(del)) = d.decap(&f) else {
            continue;
        };
        let (src, dst): (IpAddr, IpAddr) = if del.outer_ipv6 {
            (R6.into(), L6.into())
        } else {
            (R4.into(), L4.into())
        };
        // Parsed once by the tier that read the outer header, carried by
        // the delivery: no frame needed to get them.
        assert_eq!(del.src_vtep(), src);
        assert_eq!(del.dst_vtep(), dst);
        let kind = match (del.outer_ipv6, del.outer_l3) {
            (true, _) => 2,
            (false, 14) => 0,
            _ => 1,
        };
        seen[kind] += 1;
    }
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}

/// The fast tier's verdict on `f`, checked against the general tier
/// (the one every frame can take, checked against RFC 8926 vectors,
/// scapy and real captures in tests/): 0 = not taken, 1 = taken by the
/// one-compare header pattern, 2 = taken field by field.
fn check_fast_tier(d: &Decapsulator, f: &[u8]) -> usize {
    let want = d.decap_general(f);
    assert_eq!(d.decap(f), want, "{f:02x?}");
    let fast = d.decap_fast(f);
    match fast {
        FastVerdict::General => return 0,
        FastVerdict::Drop(r) => assert_eq!(Verdict::Drop(r), want, "{f:02x?}"),
        FastVerdict::Deliver(fd) => {
            let Verdict::Deliver(full) = want else {
                panic!("fast tier delivers, general says {want:?}: {f:02x?}");
            };
            assert_eq!(d.with_inner_update(f, fd), want, "{f:02x?}");
            // Everything but an inner update left unread is the general
            // tier's, as parsed from the outer header.
            assert_eq!(
                Delivery {
                    inner: full.inner,
                    ..fd
                },
                full,
                "{f:02x?}"
            );
            // What a plain VNI uses must be the full delivery's.
            assert_eq!(fd.vni, full.vni);
            assert_eq!(fd.payload_offset, full.payload_offset);
            let inner_end = usize::from(full.payload_offset) + usize::from(full.payload_len);
            assert_eq!(fd.padding as usize, f.len() - inner_end);
            assert_eq!(fd.options, full.options);
            if fd.inner.changed {
                assert_eq!(fd.inner, full.inner, "{f:02x?}");
            } else {
                assert!(!full.inner.changed, "{f:02x?}");
            }
        }
    }
    let matches = |p: Option<HeaderPattern>| {
        f.first_chunk()
            .is_some_and(|c| p.is_some_and(|p| p.matches(c)))
    };
    if matches(d.pattern_v4) {
        1
    } else if matches(d.pattern_v4_ip) {
        3
    } else {
        2
    }
}

/// Recompute the UDP checksum of an untagged IPv6 frame without
/// extension headers.
fn fix_udp6_checksum(f: &mut [u8]) {
    if f.len() < 62 || f[12..14] != [0x86, 0xdd] || f[20] != ip_proto::UDP {
        return;
    }
    let pl = usize::from(u16::from_be_bytes([f[18], f[19]]));
    if pl < 8 || f.len() < 54 + pl {
        return;
    }
    f[60] = 0;
    f[61] = 0;
    let src: [u8; 16] = f[22..38].try_into().unwrap();
    let dst: [u8; 16] = f[38..54].try_into().unwrap();
    let c = checksum::l4_checksum_v6(&src, &dst, ip_proto::UDP, &f[54..54 + pl]);
    let c = if c == 0 { 0xffff } else { c };
    f[60..62].copy_from_slice(&c.to_be_bytes());
}

/// Whether the IPv6 fast tier delivered `f`; when it did, the general
/// path must deliver the same inner frame, with nothing to update.
fn check_fast_v6(d: &Decapsulator, f: &[u8]) -> bool {
    let Some(fd) = d.decap_fast_v6(f, false) else {
        return false;
    };
    let Verdict::Deliver(full) = d.decap_general(f) else {
        panic!("v6 fast tier delivers, general does not: {f:02x?}");
    };
    assert_eq!(
        Delivery {
            inner: full.inner,
            ..fd
        },
        full,
        "{f:02x?}"
    );
    assert_eq!(fd.vni, full.vni, "{f:02x?}");
    assert_eq!(fd.payload_offset, full.payload_offset, "{f:02x?}");
    let inner_end = usize::from(full.payload_offset) + usize::from(full.payload_len);
    assert_eq!(fd.padding as usize, f.len() - inner_end, "{f:02x?}");
    assert_eq!(fd.options, full.options, "{f:02x?}");
    assert!(!fd.inner.changed && !full.inner.changed, "{f:02x?}");
    true
}

/// The port's verdict on the outer UDP checksum (RX offload) stands in
/// for the sum: a frame whose checksum is wrong is delivered by the IPv6
/// fast tier only when the port marked it good, and refused without the
/// mark; a zero checksum stays refused either way (RFC 6935: accepted
/// only where configured), and with the mark a correct frame is delivered
/// exactly as without it.
#[test]
fn ipv6_fast_tier_trusts_the_ports_good_udp_checksum_and_nothing_else() {
    let d = Decapsulator::new(DecapConfig::new(vec![L4], vec![L6]));
    let c = TunnelConfig::new(
        [2, 0, 0, 0, 0, 0xb],
        [2, 0, 0, 0, 0, 0xa],
        R6.into(),
        L6.into(),
        Vni::new(0x123456).unwrap(),
    );
    let t = EncapTemplate::new(&c).unwrap();
    let inner = inner_eth(64, 0x0800, 0x45, 0, 64);
    let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
    encap(&t, &mut b, Some(7)).unwrap();
    let good = b.to_vec();
    assert_eq!(good[12..14], [0x86, 0xdd]);
    let by_sum = d.decap_fast_v6(&good, false).expect("a correct checksum");
    assert_eq!(d.decap_fast_v6(&good, true), Some(by_sum));
    let mut bad = good.clone();
    bad[61] ^= 0x01;
    assert_eq!(d.decap_fast_v6(&bad, false), None);
    assert_eq!(d.decap_fast_v6(&bad, true), Some(by_sum));
    let mut zero = good.clone();
    zero[60..62].fill(0);
    assert_eq!(d.decap_fast_v6(&zero, false), None);
    assert_eq!(d.decap_fast_v6(&zero, true), None);
}

/// IPv6 underlay frames (with and without options, zero or computed
/// UDP checksum), cut short, padded and with every bit pattern of the
/// headers flipped (checksum fixed or not): the IPv6 fast tier
/// delivers only what the general tier delivers, the same way.
#[test]
fn ipv6_fast_tier_gives_the_general_tiers_verdict() {
    let decs = decapsulators();
    let mut frames: Vec<Vec<u8>> = base_frames()
        .into_iter()
        .filter(|f| f.len() > 14 && f[12..14] == [0x86, 0xdd])
        .collect();
    let mut c = TunnelConfig::new(
        [2, 0, 0, 0, 0, 0xb],
        [2, 0, 0, 0, 0, 0xa],
        R6.into(),
        L6.into(),
        Vni::new(0x123456).unwrap(),
    );
    c.options = two_options();
    let t = EncapTemplate::new(&c).unwrap();
    let inner = inner_eth(64, 0x0800, 0x45, 0, 64);
    let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
    encap(&t, &mut b, Some(7)).unwrap();
    frames.push(b.to_vec());
    for f in frames.clone() {
        let mut z = f;
        z[60..62].fill(0);
        frames.push(z);
    }
    let (mut taken, mut seen) = (0u64, 0u64);
    let (mut by_pattern, mut by_fields) = (0u64, 0u64);
    let mut check = |f: &[u8]| {
        for d in &decs {
            seen += 1;
            let delivered = check_fast_v6(d, f);
            taken += u64::from(delivered);
            // The masked compare is the field-by-field check restricted
            // to the first local address.
            if let Some(h) = f.first_chunk::<FAST_V6_LEN>() {
                let first = d.local_v6.first().is_some_and(|a| h[38..54] == a[..]);
                let want = d.fast_v6_fields_ok(h) && first;
                let got = d.pattern_v6.as_ref().is_some_and(|p| p.matches(h));
                assert_eq!(got, want, "{f:02x?}");
                by_pattern += u64::from(delivered && got);
                by_fields += u64::from(delivered && !got);
            }
        }
    };
    for base in &frames {
        check(base);
        for len in 0..base.len() {
            check(&base[..len]);
        }
        let mut padded = base.clone();
        padded.extend_from_slice(&[0; 7]);
        check(&padded);
        for i in 0..base.len().min(120) {
            for x in [0x01u8, 0x02, 0x04, 0x10, 0x20, 0x40, 0x80, 0xff] {
                let mut f = base.clone();
                f[i] ^= x;
                check(&f);
                fix_udp6_checksum(&mut f);
                check(&f);
            }
        }
    }
    assert!(taken > 1_000, "{taken} of {seen}");
    assert!(
        by_pattern > 100 && by_fields > 100,
        "{by_pattern} {by_fields}"
    );
}

/// The IPv4 fast tier must give the verdict of the general tier for
/// every frame it accepts.
#[test]
fn fast_tier_gives_the_general_tiers_verdict() {
    // The option layout is built where the walk passes `two_options`.
    let with_layout = decapsulators()
        .iter()
        .filter(|d| d.option_layout.is_some())
        .count();
    // `two_options` under configuration 3 only (0 does not know its
    // critical option), `small_options` under 0 and 3; 6 allows one option
    // per packet.
    let with_layout16 = decapsulators()
        .iter()
        .filter(|d| d.option_layout.is_some_and(|l| l.is_16_bytes()))
        .count();
    assert_eq!((with_layout, with_layout16), (3, 2));
    let decs = decapsulators();
    let mut taken = [0u64; 4];
    let mut check = |f: &[u8]| {
        for d in &decs {
            taken[check_fast_tier(d, f)] += 1;
        }
    };
    for base in base_frames() {
        check(&base);
        for len in 0..base.len() {
            check(&base[..len]);
        }
        let mut padded = base.clone();
        padded.extend_from_slice(&[0; 7]);
        check(&padded);
        // IP and UDP lengths that agree, but leave the Geneve header
        // (or its options) short; the frame padded past them or not.
        if base.len() >= 70 && base[12..14] == [0x08, 0x00] {
            for ulen in [0u16, 7, 8, 12, 15, 16, 17, 20] {
                for pad in [0usize, 10] {
                    let keep = (34 + usize::from(ulen)).max(42) + pad;
                    let mut f = base[..keep].to_vec();
                    f[16..18].copy_from_slice(&(20 + ulen).to_be_bytes());
                    f[38..40].copy_from_slice(&ulen.to_be_bytes());
                    fix_ipv4_checksum(&mut f);
                    check(&f);
                }
            }
        }
        for i in 0..base.len().min(140) {
            for x in [0x01u8, 0x02, 0x04, 0x10, 0x20, 0x40, 0x80, 0xff] {
                let mut f = base.clone();
                f[i] ^= x;
                check(&f);
                fix_ipv4_checksum(&mut f);
                check(&f);
            }
        }
    }
    let n: u64 = taken.iter().sum();
    assert!(
        taken[1] > 5_000 && taken[2] > 5_000 && taken[3] > 1_000 && taken[0] > 0,
        "{taken:?} of {n}: not taken, Ethernet pattern, field by field, IPv4-payload pattern"
    );
}

/// Every outer / inner ECN pair and DSCP / TTL model, with and without
/// Ethernet padding, options and a UDP checksum: same verdict (RFC
/// 6040 drop, alarm, inner update) on the fast and general tiers.
#[test]
fn fast_tier_follows_rfc6040_like_the_general_tier() {
    let decs = decapsulators();
    let mut taken = [0u64; 4];
    for base in base_frames() {
        if base.len() < 80 || base[12..14] != [0x08, 0x00] {
            continue;
        }
        for outer in 0..4u8 {
            for inner in 0..4u8 {
                for pad in [0usize, 1, 6] {
                    let mut f = base.clone();
                    f[15] = (f[15] & 0xfc) | outer;
                    // Inner TOS of an inner Ethernet + IPv4 or bare IPv4
                    // payload (options shift it; ECN bits of whatever
                    // byte is there otherwise).
                    let opt = usize::from(f[42] & 0x3f) * 4;
                    let inner_tos = 50 + opt + if f[44..46] == [0x65, 0x58] { 15 } else { 1 };
                    if let Some(b) = f.get_mut(inner_tos) {
                        *b = (*b & 0xfc) | inner;
                    }
                    f.extend(std::iter::repeat_n(0u8, pad));
                    fix_ipv4_checksum(&mut f);
                    // The inner IPv4 checksum is not checked by decap.
                    for d in &decs {
                        taken[check_fast_tier(d, &f)] += 1;
                    }
                }
            }
        }
    }
    assert!(taken[1] > 100 && taken[2] > 100, "{taken:?}");
}

/// Options on the fast tier: count limit, known lengths, unknown
/// critical and non-critical, overruns, as the general tier decides.
#[test]
fn fast_tier_checks_options_like_the_general_tier() {
    let decs = decapsulators();
    let base = base_frames()
        .into_iter()
        .find(|f| f.len() >= 100 && f[12..14] == [0x08, 0x00] && f[42] & 0x3f == 0)
        .unwrap();
    // (class, type, length words) lists.
    let lists: [&[(u16, u8, u8)]; 8] = [
        &[(0x0100, 0x80, 1)],
        &[(0x0100, 0x80, 2)],
        &[(0x0100, 0x80, 0), (0x0102, 0x01, 1)],
        &[(0x0999, 0x01, 0)],
        &[(0x0999, 0x81, 0)],
        &[(0x0100, 0x00, 3), (0x0100, 0x80, 1), (0x0102, 0x01, 0)],
        &[(0x0102, 0x01, 31)],
        &[(0x0100, 0x80, 1), (0x0100, 0x80, 1)],
    ];
    let mut taken = [0u64; 3];
    for list in lists {
        let mut opts = Vec::new();
        for &(class, typ, words) in list {
            opts.extend_from_slice(&class.to_be_bytes());
            opts.extend_from_slice(&[typ, words]);
            opts.extend(std::iter::repeat_n(0xa5u8, usize::from(words) * 4));
        }
        // As sent, and with Opt Len one word short / long of the TLVs.
        for delta in [0i32, -1, 1] {
            let words = (opts.len() / 4) as i32 + delta;
            if !(0..64).contains(&words) {
                continue;
            }
            let mut f = base[..50].to_vec();
            f.extend_from_slice(&opts);
            f.extend_from_slice(&base[50..]);
            f[42] = (f[42] & 0xc0) | words as u8;
            let tl = (f.len() - 14) as u16;
            f[16..18].copy_from_slice(&tl.to_be_bytes());
            f[38..40].copy_from_slice(&(tl - 20).to_be_bytes());
            f[40..42].fill(0);
            fix_ipv4_checksum(&mut f);
            for d in &decs {
                taken[check_fast_tier(d, &f)] += 1;
            }
        }
    }
    assert!(taken[1] > 5 && taken[0] > 5, "{taken:?}");
}

/// The port's good verdict (RX checksum offload) stands in for the
/// software check on both IPv4 fast-tier sub-cases, and only for it: with the outer
/// checksum broken the fast tier gives the intact frame's verdict when
/// the port vouched for the header, and never delivers otherwise.
#[test]
fn port_verified_ipv4_checksum_replaces_the_software_check() {
    let decs = decapsulators();
    let mut vouched = 0;
    for f in base_frames() {
        if f.len() < 34 || f[12..14] != [0x08, 0x00] {
            continue;
        }
        let mut broken = f.clone();
        broken[24] ^= 0x5a;
        for d in &decs {
            let intact = (
                d.decap_fast_v4_pattern(&f, false),
                d.decap_fast_v4(&f, false),
            );
            let trusted = (
                d.decap_fast_v4_pattern(&broken, true),
                d.decap_fast_v4(&broken, true),
            );
            assert_eq!(intact, trusted, "{f:02x?}");
            if d.cfg.verify_ipv4_checksum {
                assert!(
                    !matches!(
                        d.decap_fast_v4_pattern(&broken, false),
                        Some(FastVerdict::Deliver(_))
                    ),
                    "{broken:02x?}"
                );
                assert!(!matches!(
                    d.decap_fast_v4(&broken, false),
                    FastVerdict::Deliver(_)
                ));
                vouched += usize::from(matches!(intact.0, Some(FastVerdict::Deliver(_))));
            }
        }
    }
    assert!(vouched > 10, "{vouched}");
}

#[test]
fn ipv4_header_sum_matches_the_checksum_module() {
    assert_eq!(0xffff_u64.wrapping_mul(INVERSE_0XFFFF), 1);
    let mut f = [0u8; FAST_V4_LEN];
    let mut x = 0x1234_5678u32;
    for _ in 0..20_000 {
        for b in f[14..34].iter_mut() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (x >> 24) as u8;
        }
        f[14] = 0x45;
        // Half of them with a correct checksum, some all-ones words.
        if x & 1 == 0 {
            f[24] = 0;
            f[25] = 0;
            let c = checksum::checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        if x & 6 == 0 {
            f[26..30].fill(0xff);
        }
        let want = checksum::fold(checksum::accumulate(0, &f[14..34])) == 0xffff;
        assert_eq!(ipv4_header_sum_ok(&f), want, "{:02x?}", &f[14..34]);
    }
}

#[test]
fn ecn_table_is_rfc6040() {
    let d = Decapsulator::new(DecapConfig::new(vec![], vec![]));
    for inner in Ecn::ALL {
        for outer in Ecn::ALL {
            let e = d.ecn_table[usize::from((inner.bits() << 2) | outer.bits())];
            match ecn_decap(inner, outer) {
                EcnDecap::Drop => assert_eq!(e, ECN_DROP),
                EcnDecap::Forward { ecn, alarm } => {
                    assert_eq!(e & 3, ecn.bits());
                    assert_eq!(e & ECN_ALARM != 0, alarm);
                }
            }
            // The fast tier's shortcut: outer Not-ECT changes nothing.
            if outer == Ecn::NotEct {
                assert_eq!(e, inner.bits());
            }
        }
    }
}
