//! Unit tests of encap: the fast tier writes the general tier's bytes.
use super::template::copy_header;
use super::*;
use crate::tunnel::buffer::Buffer;
use crate::tunnel::offload::{TxOffload, TxOffloadCaps};
use crate::tunnel::qos::{DscpEncap, EcnEncapMode, TtlEncap};
use crate::tunnel::PayloadKind;
use crate::tunnel::VecBuffer;
use crate::wire::checksum;
use crate::wire::geneve::{Vni, OPTION_TYPE_CRITICAL};
use crate::wire::ip_proto;
use crate::wire::Encapsulation;
use std::net::{Ipv4Addr, Ipv6Addr};

fn inner_ipv4(len: usize, tos: u8, ttl: u8, proto: u8, frag: u16, vlan: bool) -> Vec<u8> {
    let mut f = vec![0u8; len.max(if vlan { 18 } else { 14 })];
    f[0..6].copy_from_slice(&[2, 0x11, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0x11, 0, 0, 0, 2]);
    let l3 = if vlan {
        f[12..16].copy_from_slice(&[0x81, 0, 0, 7]);
        18
    } else {
        14
    };
    f[l3 - 2..l3].copy_from_slice(&[8, 0]);
    let ip_len = len.saturating_sub(l3);
    let ip = &mut f[l3..];
    let v = [0x45u8, tos];
    for (i, b) in v.iter().enumerate() {
        if let Some(x) = ip.get_mut(i) {
            *x = *b;
        }
    }
    let mut put = |i: usize, b: u8| {
        if let Some(x) = ip.get_mut(i) {
            *x = b;
        }
    };
    put(2, (ip_len >> 8) as u8);
    put(3, ip_len as u8);
    put(6, (frag >> 8) as u8);
    put(7, frag as u8);
    put(8, ttl);
    put(9, proto);
    for (i, b) in [10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34, 0x00, 0x50]
        .iter()
        .enumerate()
    {
        put(12 + i, *b);
    }
    f
}

fn inners() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for len in [14, 20, 33, 34, 35, 37, 38, 60, 64, 1500] {
        for (tos, ttl) in [(0u8, 64u8), (0xff, 1), (0xb9, 255), (2, 0)] {
            v.push(inner_ipv4(len, tos, ttl, ip_proto::UDP, 0, false));
            v.push(inner_ipv4(len, tos, ttl, ip_proto::UDP, 0, true));
        }
        v.push(inner_ipv4(len, 1, 9, ip_proto::TCP, 0x2000, false));
        v.push(inner_ipv4(len, 3, 9, 1, 0, false));
        v.push(inner_ipv4(len, 3, 9, ip_proto::UDP, 0x0010, false));
        let mut bad_version = inner_ipv4(len, 3, 9, ip_proto::UDP, 0, false);
        bad_version[14.min(len - 1)] = 0x65;
        v.push(bad_version);
        let mut arp = inner_ipv4(len, 0, 0, 0, 0, false);
        arp[12] = 0x08;
        arp[13] = 0x06;
        v.push(arp);
        let mut v6 = inner_ipv4(len.max(60), 0, 0, 0, 0, false);
        v6[12] = 0x86;
        v6[13] = 0xdd;
        v6[14] = 0x6a;
        v6[15] = 0xb0;
        v6[21] = 33;
        v.push(v6);
    }
    // The same packets without Ethernet (L3 payloads).
    let ip: Vec<Vec<u8>> = v
        .iter()
        .filter(|f| f.len() > 14 && f[12..14] == [0x08, 0x00])
        .map(|f| f[14..].to_vec())
        .collect();
    v.extend(ip);
    for len in [0, 1, 13] {
        v.push(vec![0x45; len]);
    }
    // L3 payloads: IPv4 / IPv6 packets without Ethernet.
    for len in [19, 20, 60] {
        v.push(inner_ipv4(len + 14, 0xfe, 7, ip_proto::UDP, 0, false)[14..].to_vec());
    }
    let mut ip6 = vec![0u8; 60];
    ip6[0] = 0x6f;
    ip6[1] = 0xf0;
    ip6[6] = 17;
    ip6[7] = 3;
    v.push(ip6);
    v
}

fn configs() -> Vec<TunnelConfig> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let (s, d): (IpAddr, IpAddr) = if v6 {
            (
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            )
        } else {
            (
                Ipv4Addr::new(198, 18, 0, 2).into(),
                Ipv4Addr::new(198, 18, 0, 1).into(),
            )
        };
        let base = TunnelConfig::new(
            [2, 0, 0, 0, 0, 0xb],
            [2, 0, 0, 0, 0, 0xa],
            s,
            d,
            Vni::new(100).unwrap(),
        );
        for n_opts in [0usize, 1, 2, 8, 20] {
            for variant in 0..8 {
                let mut c = base.clone();
                c.underlay_mtu = 9000;
                c.options = (0..n_opts)
                    .map(|i| TunnelOption {
                        class: 0x0100,
                        typ: i as u8 | if i == 1 { OPTION_TYPE_CRITICAL } else { 0 },
                        data: vec![i as u8; 4 * (i % 4)],
                    })
                    .collect();
                match variant {
                    1 => {
                        c.dscp = DscpEncap::Uniform;
                        c.ttl = TtlEncap::Uniform { non_ip: 17 };
                    }
                    2 => {
                        c.dscp = DscpEncap::Pipe(46);
                        c.ecn = EcnEncapMode::Compatibility;
                        c.ttl = TtlEncap::Pipe(255);
                    }
                    3 => c.udp_checksum = Some(UdpChecksumTx::Compute),
                    4 => {
                        c.vlan = Some(100);
                        c.src_port_range = (1000, 1000);
                    }
                    5 => c.payload = PayloadKind::Ipv4,
                    6 => c.payload = PayloadKind::Ipv6,
                    7 => {
                        c.udp_checksum = Some(UdpChecksumTx::Zero);
                        c.underlay_mtu = 200;
                        c.oam = true;
                    }
                    _ => {}
                }
                out.push(c);
            }
        }
    }
    out
}

/// Every frame of [`inners`] under every flow hash the tests try, in a
/// buffer with the headroom `t` needs, 3 bytes more and 1 byte less.
fn cases(t: &EncapTemplate) -> impl Iterator<Item = (VecBuffer, Option<u32>)> {
    let rooms = [t.header_len(), t.header_len() + 3, t.header_len() - 1];
    inners().into_iter().flat_map(move |inner| {
        [None, Some(0), Some(0xdead_beef), Some(u32::MAX)]
            .into_iter()
            .flat_map(move |hash| {
                let inner = inner.clone();
                rooms
                    .into_iter()
                    .map(move |r| (VecBuffer::with_headroom(r, &inner), hash))
            })
    })
}

/// The fast tier (IPv4 and IPv6 underlay) must write the bytes of the
/// general tier (the one every packet can take, checked against RFC
/// 8926 vectors, scapy and real captures in tests/), and leave what
/// they do not take untouched.
#[test]
fn fast_tier_writes_the_general_tiers_bytes() {
    let (mut fast_v4, mut fast_v6, mut fast_ip) = (0, 0, 0);
    for cfg in configs() {
        let Ok(t) = EncapTemplate::new(&cfg) else {
            continue;
        };
        for (orig, hash) in cases(&t) {
            let (mut a, mut b, mut c) = (orig.clone(), orig.clone(), orig.clone());
            let ra = encap(&t, &mut a, hash);
            let rb = general::encap_general(&t, &mut b, hash);
            assert_eq!(ra, rb, "{cfg:?} {orig:?} {hash:?}");
            assert_eq!(a, b, "{cfg:?} {orig:?} {hash:?}");
            if fast::encap_fast_any(&t, &mut c, hash) {
                assert_eq!(c, a, "{cfg:?} {orig:?} {hash:?}");
                if t.payload == PayloadKind::Ipv4 {
                    fast_ip += 1;
                }
                if t.ipv6 {
                    fast_v6 += 1;
                } else {
                    let ip = &a.data()[t.l3..t.l3 + 20];
                    assert_eq!(checksum::checksum(ip), 0);
                    fast_v4 += 1;
                }
            } else {
                assert_eq!(c, orig);
            }
        }
    }
    assert!(
        fast_v4 > 100 && fast_v6 > 100 && fast_ip > 100,
        "{fast_v4} {fast_v6} {fast_ip}"
    );
}

/// A NIC that ignores the seed and sums the pseudo header itself from
/// the packet's headers (what net_tap does).
fn nic_from_headers(frame: &mut [u8], o: &TxOffload) {
    let l3 = usize::from(o.l2_len);
    let l4 = l3 + usize::from(o.l3_len);
    if o.ip_checksum {
        frame[l3 + 10..l3 + 12].fill(0);
        let c = checksum::checksum(&frame[l3..l4]);
        frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if o.udp_checksum {
        frame[l4 + 6..l4 + 8].fill(0);
        let len = (frame.len() - l4) as u16;
        let pseudo = if o.ipv6 {
            let s: [u8; 16] = frame[l3 + 8..l3 + 24].try_into().unwrap();
            let d: [u8; 16] = frame[l3 + 24..l3 + 40].try_into().unwrap();
            checksum::pseudo_header_v6(&s, &d, ip_proto::UDP, u32::from(len))
        } else {
            let s: [u8; 4] = frame[l3 + 12..l3 + 16].try_into().unwrap();
            let d: [u8; 4] = frame[l3 + 16..l3 + 20].try_into().unwrap();
            checksum::pseudo_header_v4(&s, &d, ip_proto::UDP, len)
        };
        let c = !checksum::fold(checksum::accumulate(pseudo, &frame[l4..]));
        let c = if c == 0 { 0xffff } else { c };
        frame[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    }
}

/// For every packet type and every combination of NIC capabilities:
/// what the offload path leaves, finished by a NIC (seeded or not),
/// is byte for byte what the software path writes.
#[test]
fn offload_path_finished_by_the_nic_equals_software_path() {
    use crate::tunnel::offload::emulate_nic;
    let all_caps = [
        TxOffloadCaps::NONE,
        TxOffloadCaps {
            ipv4_checksum: true,
            udp_checksum: false,
            ..TxOffloadCaps::NONE
        },
        TxOffloadCaps {
            ipv4_checksum: false,
            udp_checksum: true,
            ..TxOffloadCaps::NONE
        },
        TxOffloadCaps {
            ipv4_checksum: true,
            udp_checksum: true,
            ..TxOffloadCaps::NONE
        },
    ];
    let (mut offloaded_ip, mut offloaded_udp) = (0, 0);
    for cfg in configs() {
        let Ok(sw) = EncapTemplate::new(&cfg) else {
            continue;
        };
        for caps in all_caps {
            let mut hw = sw.clone();
            hw.set_tx_offload(caps);
            let meta = hw.tx_offload();
            let want_ip = !sw.ipv6 && caps.ipv4_checksum;
            let want_udp = sw.udp_csum && caps.udp_checksum;
            assert_eq!(meta.is_some(), want_ip || want_udp, "{cfg:?} {caps:?}");
            for inner in inners() {
                let hash = Some(0x1234_5678);
                let mut a = VecBuffer::with_headroom(sw.header_len(), &inner);
                let mut b = a.clone();
                let ra = encap(&sw, &mut a, hash);
                let rb = encap(&hw, &mut b, hash);
                assert_eq!(ra, rb);
                if ra.is_err() {
                    continue;
                }
                assert_eq!(a.tx_offload(), None);
                assert_eq!(b.tx_offload(), meta, "{cfg:?} {caps:?}");
                let Some(o) = meta else {
                    assert_eq!(a.data(), b.data());
                    continue;
                };
                assert_eq!(
                    (o.l2_len, o.l3_len, o.l4_len, o.ipv6),
                    (sw.l3 as u8, if sw.ipv6 { 40 } else { 20 }, 8, sw.ipv6)
                );
                let l3 = sw.l3;
                let u = sw.udp;
                if o.ip_checksum {
                    offloaded_ip += 1;
                    assert_eq!(b.data()[l3 + 10..l3 + 12], [0, 0]);
                }
                if o.udp_checksum {
                    offloaded_udp += 1;
                    assert_ne!(b.data()[u + 6..u + 8], a.data()[u + 6..u + 8]);
                }
                let mut seeded = b.to_vec();
                assert!(emulate_nic(&mut seeded, &o));
                assert_eq!(seeded, a.to_vec(), "{cfg:?} {caps:?} {inner:?}");
                let mut tap = b.to_vec();
                nic_from_headers(&mut tap, &o);
                assert_eq!(tap, a.to_vec(), "{cfg:?} {caps:?} {inner:?}");
            }
        }
    }
    assert!(
        offloaded_ip > 1000 && offloaded_udp > 1000,
        "{offloaded_ip} {offloaded_udp}"
    );
}

#[test]
fn set_tx_offload_none_restores_the_software_path() {
    let cfg = &configs()[3];
    let mut t = EncapTemplate::new(cfg).unwrap();
    let sw = t.clone();
    t.set_tx_offload(TxOffloadCaps {
        ipv4_checksum: true,
        udp_checksum: true,
        ..TxOffloadCaps::NONE
    });
    assert!(t.tx_offload().is_some());
    t.set_tx_offload(TxOffloadCaps::NONE);
    assert_eq!(t.tx_offload(), None);
    let inner = inner_ipv4(100, 0, 64, ip_proto::UDP, 0, false);
    let mut a = VecBuffer::with_headroom(t.header_len(), &inner);
    let mut b = a.clone();
    encap(&sw, &mut a, None).unwrap();
    encap(&t, &mut b, None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn ipv4_checksum_matches_update16_for_all_tos_ttl() {
    let cfg = &configs()[0];
    let t = EncapTemplate::new(cfg).unwrap();
    for tos in 0..=255u8 {
        for ttl in 0..=255u8 {
            for total in [20u16, 84, 1234, 0x8000, 0xfedc, 0xffff] {
                let c = checksum::update16(!t.ip_sum, 0x4500, 0x4500 | u16::from(tos));
                let c = checksum::update16(c, 0, total);
                let c = checksum::update16(
                    c,
                    u16::from(ip_proto::UDP),
                    (u16::from(ttl) << 8) | u16::from(ip_proto::UDP),
                );
                let sum =
                    u32::from(t.ip_sum) + u32::from(tos) + u32::from(total) + (u32::from(ttl) << 8);
                let sum = (sum & 0xffff) + (sum >> 16);
                let sum = (sum & 0xffff) + (sum >> 16);
                assert_eq!(!(sum as u16), c, "tos {tos} ttl {ttl} total {total}");
            }
        }
    }
}

#[test]
fn copy_header_all_lengths() {
    let src: [u8; MAX_TEMPLATE_LEN] = core::array::from_fn(|i| (i * 7 + 1) as u8);
    for n in 0..=MAX_TEMPLATE_LEN {
        let mut h = vec![0u8; n];
        copy_header(&mut h, &src);
        assert_eq!(h[..], src[..n], "len {n}");
    }
}

/// The fast tier's hot part: every field `fast.rs` and the header writers
/// read per packet lies in the first `HOT_BYTES` of a template or after the
/// header's room (`TAIL_AT`), and the header of every untagged IPv4 template without
/// options (any payload, Geneve or VXLAN) ends within `HOT_BYTES`: the
/// bytes whose lines the look-ahead prefetches.
#[test]
fn fast_tier_reads_only_the_hot_lines() {
    use std::mem::{offset_of, size_of};
    type T = EncapTemplate;
    let hot = [
        ("udp_sum_base", offset_of!(T, udp_sum_base), 8),
        ("len", offset_of!(T, len), size_of::<usize>()),
        ("l3", offset_of!(T, l3), size_of::<usize>()),
        ("udp", offset_of!(T, udp), size_of::<usize>()),
        ("max_inner", offset_of!(T, max_inner), size_of::<usize>()),
        ("port_span", offset_of!(T, port_span), 4),
        ("phdr_addr_sum", offset_of!(T, phdr_addr_sum), 4),
        ("counter", offset_of!(T, counter), 4),
        ("ip_sum", offset_of!(T, ip_sum), 2),
        ("port_base", offset_of!(T, port_base), 2),
        ("ip_csum_mask", offset_of!(T, ip_csum_mask), 2),
        (
            "tx_offload",
            offset_of!(T, tx_offload),
            size_of::<Option<TxOffload>>(),
        ),
        ("ttl", offset_of!(T, ttl), size_of::<TtlEncap>()),
        ("fast", offset_of!(T, fast), 1),
        ("tos_fixed", offset_of!(T, tos_fixed), 1),
        ("tos_inner_mask", offset_of!(T, tos_inner_mask), 1),
        ("udp_csum", offset_of!(T, udp_csum), 1),
        ("hw_udp_csum", offset_of!(T, hw_udp_csum), 1),
    ];
    for (name, at, n) in hot {
        assert!(
            at + n <= T::HOT_BYTES || at >= T::TAIL_AT,
            "{name} at {at}..{} is outside the prefetched lines",
            at + n
        );
    }
    assert_eq!(T::HEADER_AT, offset_of!(T, hdr));
    // The tail is shorter than a line: it touches at most two.
    assert!(size_of::<T>() - T::TAIL_AT <= 64);
    let mut checked = 0;
    for mut cfg in configs() {
        for enc in [Encapsulation::Geneve, Encapsulation::Vxlan] {
            cfg.encapsulation = enc;
            let Ok(t) = EncapTemplate::new(&cfg) else {
                continue;
            };
            if !cfg.options.is_empty() || cfg.vlan.is_some() || t.is_ipv6() {
                continue;
            }
            assert!(
                T::HEADER_AT + t.header_len() <= T::HOT_BYTES,
                "{} header bytes from {} pass {}",
                t.header_len(),
                T::HEADER_AT,
                T::HOT_BYTES
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} templates checked");
}

#[test]
fn copy_header_v6_all_lengths() {
    let src: [u8; MAX_TEMPLATE_LEN] = core::array::from_fn(|i| (i * 7 + 1) as u8);
    for n in 0..=MAX_TEMPLATE_LEN {
        let mut h = vec![0u8; n];
        super::template::copy_header_v6(&mut h, &src);
        assert_eq!(h[..], src[..n], "len {n}");
    }
}

/// Plain RFC 1071 / RFC 8200 section 8.1 check of an IPv6 UDP datagram:
/// the pseudo header from the tunnel's configured addresses, the UDP
/// length as the bytes after the UDP header's start, and the datagram as
/// sent (its checksum field included) sum to zero modulo 0xffff, and the
/// field is not zero.
fn ipv6_udp_checksum_holds(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> bool {
    let mut s = 0u128;
    let mut words = |b: &[u8]| {
        for c in b.chunks(2) {
            s += u128::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    words(&src.octets());
    words(&dst.octets());
    words(&(udp.len() as u32).to_be_bytes());
    words(&[0, 0, 0, ip_proto::UDP]);
    words(udp);
    s.is_multiple_of(0xffff) && udp[6..8] != [0, 0]
}

/// The IPv6 fast tier's one-pass checksum at every inner length from its
/// shortest frame (38 bytes) to 300, and longer ones up to the MTU, at
/// eight alignments of the frame (the headroom), over bytes that carry
/// (all ones) and mixed ones, with 0, 1 and 2 options: the fast tier
/// takes the frame, writes the general tier's bytes, and the outer UDP
/// checksum verifies against the plain RFC sum over the configured
/// addresses; with the NIC's offload, the seed finished by the NIC gives
/// the same bytes.
#[test]
fn ipv6_fast_checksum_every_length_and_alignment() {
    use crate::tunnel::offload::emulate_nic;
    let (s, d) = (
        Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0xfffe, 2),
        Ipv6Addr::new(0x2001, 0xdb8, 0xff00, 0, 0, 0, 0xff, 1),
    );
    let mut base = TunnelConfig::new(
        [2, 0, 0, 0, 0, 0xb],
        [2, 0, 0, 0, 0, 0xa],
        s.into(),
        d.into(),
        Vni::new(0xfffff).unwrap(),
    );
    base.underlay_mtu = 9000;
    let lengths: Vec<usize> = (38..=300)
        .chain([511, 512, 1499, 1500, 4097, 8000])
        .collect();
    let mut x = 0x9e37_79b9u32;
    for n_opts in [0usize, 1, 2] {
        let mut cfg = base.clone();
        cfg.options = (0..n_opts)
            .map(|i| TunnelOption {
                class: 0xffff,
                typ: 0x7f,
                data: vec![0xff; 4 * (i + 1)],
            })
            .collect();
        let t = EncapTemplate::new(&cfg).unwrap();
        let mut hw = t.clone();
        hw.set_tx_offload(TxOffloadCaps {
            udp_checksum: true,
            ..TxOffloadCaps::NONE
        });
        assert!(
            t.udp_csum && hw.hw_udp_csum,
            "IPv6 computes the checksum by default"
        );
        for &len in &lengths {
            for fill in [0xffu8, 0] {
                let mut inner = inner_ipv4(len, 0xff, 0xff, ip_proto::UDP, 0, false);
                for b in &mut inner[38..] {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *b = if fill == 0xff { 0xff } else { (x >> 24) as u8 };
                }
                for extra in 0..8 {
                    let headroom = t.header_len() + extra;
                    let mut fast = VecBuffer::with_headroom(headroom, &inner);
                    let mut general = fast.clone();
                    let mut seeded = fast.clone();
                    assert!(
                        fast::encap_fast_any(&t, &mut fast, Some(x)),
                        "len {len} options {n_opts}"
                    );
                    general::encap_general(&t, &mut general, Some(x)).unwrap();
                    assert_eq!(fast, general, "len {len} options {n_opts} +{extra}");
                    let out = fast.data();
                    assert!(
                        ipv6_udp_checksum_holds(s, d, &out[t.udp..]),
                        "len {len} options {n_opts} +{extra}"
                    );
                    assert!(fast::encap_fast_any(&hw, &mut seeded, Some(x)));
                    let mut finished = seeded.to_vec();
                    assert!(emulate_nic(&mut finished, &hw.tx_offload().unwrap()));
                    assert_eq!(finished, fast.to_vec(), "len {len} options {n_opts}");
                }
            }
        }
    }
}

/// A template's one-line copy writes the fast tier's bytes for every
/// frame, declines what the fast tier declines (buffer untouched), keeps
/// the counter slot, and stands for its template exactly where it can:
/// untagged IPv4 underlay, no options, IPv4 or Ethernet payload,
/// checksums in software, no flow-id variant.
#[test]
fn template_line_writes_the_fast_tiers_bytes() {
    let mut cfgs = configs();
    for c in configs() {
        if c.options.is_empty() && c.payload == PayloadKind::Ethernet {
            cfgs.push(TunnelConfig {
                encapsulation: Encapsulation::Vxlan,
                ..c
            });
        }
    }
    let offloads = [
        TxOffloadCaps::NONE,
        TxOffloadCaps {
            ipv4_checksum: true,
            ..TxOffloadCaps::NONE
        },
        TxOffloadCaps {
            udp_checksum: true,
            ..TxOffloadCaps::NONE
        },
    ];
    let (mut taken, mut declined, mut kinds) = (0, 0, [0usize; 4]);
    for cfg in cfgs {
        for caps in offloads {
            let Ok(mut t) = EncapTemplate::new(&cfg) else {
                continue;
            };
            t.set_tx_offload(caps);
            t.set_counter(0x0102_0304);
            let with_variant = TemplateLine::of(&t, true);
            assert_eq!(with_variant.kind(), LineKind::Template);
            assert_eq!(with_variant.counter(), 0x0102_0304);
            let line = TemplateLine::of(&t, false);
            assert_eq!(line.counter(), 0x0102_0304);
            let software = t.tx_offload.is_none() && !t.udp_csum;
            let simple = matches!(cfg.src, IpAddr::V4(_))
                && cfg.vlan.is_none()
                && cfg.options.is_empty()
                && cfg.payload != PayloadKind::Ipv6;
            let want = match (simple && software, cfg.payload, cfg.encapsulation) {
                (false, _, _) => LineKind::Template,
                (true, PayloadKind::Ipv4, _) => LineKind::GeneveIp,
                (true, _, Encapsulation::Vxlan) => LineKind::VxlanEthernet,
                (true, _, Encapsulation::Geneve) => LineKind::GeneveEthernet,
            };
            assert_eq!(line.kind(), want, "{cfg:?} {caps:?}");
            kinds[want as usize] += 1;
            if want == LineKind::Template {
                continue;
            }
            for (orig, hash) in cases(&t) {
                let (mut a, mut b) = (orig.clone(), orig.clone());
                let (fa, fb) = if want == LineKind::GeneveIp {
                    (encap_fast_ip(&t, &mut a, hash), line.encap_ip(&mut b, hash))
                } else {
                    (
                        encap_fast_ethernet(&t, &mut a, hash),
                        line.encap_ethernet(&mut b, hash),
                    )
                };
                assert_eq!(fa, fb, "{cfg:?} {orig:?} {hash:?}");
                assert_eq!(a, b, "{cfg:?} {orig:?} {hash:?}");
                if fb {
                    taken += 1;
                } else {
                    assert_eq!(b, orig);
                    declined += 1;
                }
            }
        }
    }
    assert!(taken > 1000 && declined > 1000, "{taken} {declined}");
    assert!(kinds.iter().all(|&k| k > 0), "{kinds:?}");
}
