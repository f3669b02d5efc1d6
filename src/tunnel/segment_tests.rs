use super::*;
use crate::tunnel::{
    encap, encap_tso, Buffer, EncapError, EncapTemplate, TunnelConfig, TunnelOption, TxOffloadCaps,
    UdpChecksumTx, VecBuffer,
};
use crate::wire::geneve::Vni;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const TSO: TxOffloadCaps = TxOffloadCaps {
    geneve_tso: true,
    outer_ipv4_checksum: true,
    ..TxOffloadCaps::NONE
};
const FLAGS_ALL: u8 = 0x80 | 0x10 | 0x08 | 0x01; // CWR ACK PSH FIN

/// An inner Ethernet (+ tag) / IPv4 or IPv6 / TCP frame with valid
/// checksums, `opts` bytes of TCP options and `payload` bytes of data.
fn tcp_frame(v6: bool, vlan: bool, opts: usize, payload: usize, flags: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    }
    let l3 = f.len() + 2;
    let tcp_len = 20 + opts + payload;
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        f.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
        f.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
    } else {
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        f.extend_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        f.extend_from_slice(&[
            0xff, 0xfe, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ]);
        let c = checksum::checksum(&f[l3..l3 + 20]);
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    let l4 = f.len();
    f.extend_from_slice(&[0x30, 0x39, 0x01, 0xbb, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 7]);
    f.push((((20 + opts) / 4) as u8) << 4);
    f.extend_from_slice(&[flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend((0..opts).map(|i| if i % 4 == 3 { 0 } else { 1 }));
    f.extend((0..payload).map(|i| (i * 7 + i / 251) as u8));
    fix_tcp(&mut f, l3, l4, v6);
    f
}

fn fix_tcp(f: &mut [u8], l3: usize, l4: usize, v6: bool) {
    f[l4 + 16] = 0;
    f[l4 + 17] = 0;
    let c = tcp_sum(f, l3, l4, v6);
    f[l4 + 16..l4 + 18].copy_from_slice(&(!c).to_be_bytes());
}

/// Folded sum over pseudo header + TCP: 0xffff when the checksum is right.
fn tcp_sum(f: &[u8], l3: usize, l4: usize, v6: bool) -> u16 {
    let len = f.len() - l4;
    let ph = if v6 {
        checksum::pseudo_header_v6(
            f[l3 + 8..l3 + 24].try_into().unwrap(),
            f[l3 + 24..l3 + 40].try_into().unwrap(),
            6,
            len as u32,
        )
    } else {
        checksum::pseudo_header_v4(
            f[l3 + 12..l3 + 16].try_into().unwrap(),
            f[l3 + 16..l3 + 20].try_into().unwrap(),
            6,
            len as u16,
        )
    };
    checksum::fold(checksum::accumulate(ph, &f[l4..]))
}

fn template(v6_outer: bool, opt_words: &[usize], mtu: u16) -> (TunnelConfig, EncapTemplate) {
    let (src, dst): (IpAddr, IpAddr) = if v6_outer {
        (
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1).into(),
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2).into(),
        )
    } else {
        (
            Ipv4Addr::new(198, 19, 0, 1).into(),
            Ipv4Addr::new(198, 19, 0, 2).into(),
        )
    };
    let mut cfg = TunnelConfig::new(
        [2, 0, 0, 0, 1, 1],
        [2, 0, 0, 0, 1, 2],
        src,
        dst,
        Vni::new(4242).unwrap(),
    );
    cfg.underlay_mtu = mtu;
    cfg.options = opt_words
        .iter()
        .enumerate()
        .map(|(i, &w)| TunnelOption {
            class: 0x0102,
            typ: i as u8,
            data: vec![0xa0 + i as u8; 4 * w],
        })
        .collect();
    let t = EncapTemplate::new(&cfg).unwrap();
    (cfg, t)
}

/// Software path: every segment encapsulated with `t`.
fn software(t: &EncapTemplate, inner: &[u8], hash: Option<u32>) -> Vec<Vec<u8>> {
    let plan = TcpSegmentation::plan(inner, t.payload_kind(), t.max_inner_len()).unwrap();
    let mut out = Vec::new();
    let mut seg = vec![0u8; t.max_inner_len()];
    for i in 0..plan.count() {
        let n = plan.write(inner, i, &mut seg).unwrap();
        let mut b = VecBuffer::with_headroom(t.header_len(), &seg[..n]);
        encap(t, &mut b, hash).unwrap();
        out.push(b.to_vec());
    }
    out
}

/// Every property of the segments of `inner` under `t`.
fn check_segments(t: &EncapTemplate, mtu: u16, inner: &[u8], v6: bool, vlan: bool) {
    let l3 = if vlan { 18 } else { 14 };
    let ip_hlen = if v6 { 40 } else { 20 };
    let l4 = l3 + ip_hlen;
    let hdr = l4 + usize::from(inner[l4 + 12] >> 4) * 4;
    let segs = software(t, inner, None);
    let outer = t.header_len();
    let outer_eth = t.l3_udp_offsets().0;
    let mss = t.max_inner_len() - hdr;
    assert_eq!(segs.len(), (inner.len() - hdr).div_ceil(mss).max(1));
    let mut payload = Vec::new();
    let seq0 = u32::from_be_bytes(inner[l4 + 4..l4 + 8].try_into().unwrap());
    let last = segs.len() - 1;
    for (i, s) in segs.iter().enumerate() {
        assert!(
            s.len() - outer_eth <= usize::from(mtu),
            "segment {i} over MTU"
        );
        let gen = t.l3_udp_offsets().1 + 8;
        assert_eq!(
            s[gen..outer],
            t.header()[gen..outer],
            "options in segment {i}"
        );
        let f = &s[outer..];
        assert_eq!(f[..l3], inner[..l3]);
        if v6 {
            let pl = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]);
            assert_eq!(usize::from(pl), f.len() - l4);
        } else {
            assert_eq!(checksum::checksum(&f[l3..l4]), 0, "inner IPv4 checksum");
            let tl = u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]);
            assert_eq!(usize::from(tl), f.len() - l3);
            let id = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]);
            assert_eq!(id, 0xfffeu16.wrapping_add(i as u16));
        }
        assert_eq!(
            tcp_sum(f, l3, l4, v6),
            0xffff,
            "TCP checksum of segment {i}"
        );
        let seq = u32::from_be_bytes(f[l4 + 4..l4 + 8].try_into().unwrap());
        assert_eq!(seq, seq0.wrapping_add((i * mss) as u32));
        let flags = f[l4 + 13];
        let orig = inner[l4 + 13];
        assert_eq!(flags & 0x09, if i == last { orig & 0x09 } else { 0 });
        assert_eq!(flags & 0x80, if i == 0 { orig & 0x80 } else { 0 });
        assert_eq!(flags & 0x76, orig & 0x76);
        assert_eq!(f[l4 + 8..l4 + 13], inner[l4 + 8..l4 + 13]);
        assert_eq!(f[l4 + 18..hdr], inner[l4 + 18..hdr]);
        payload.extend_from_slice(&f[hdr..]);
    }
    assert_eq!(payload, inner[hdr..]);
}

#[test]
fn segments_ipv4_and_ipv6_inner_every_option_everywhere() {
    for (v6o, opts, mtu) in [
        (false, &[][..], 1500u16),
        (false, &[2, 1][..], 1500),
        (true, &[30, 31][..], 1500),
        (false, &[1][..], 9000),
        (true, &[][..], 600),
    ] {
        let (_, t) = template(v6o, opts, mtu);
        for (v6, vlan, topts, len) in [
            (false, false, 0, 4000),
            (false, true, 12, 7999),
            (true, false, 0, 5000),
            (true, true, 40, 3000),
            (false, false, 0, t.max_inner_len() - 54 + 1),
        ] {
            let inner = tcp_frame(v6, vlan, topts, len, FLAGS_ALL);
            check_segments(&t, mtu, &inner, v6, vlan);
        }
    }
}

#[test]
fn refuses_what_it_cannot_segment() {
    let (_, t) = template(false, &[], 1500);
    let k = t.payload_kind();
    let m = t.max_inner_len();
    let mut udp = tcp_frame(false, false, 0, 3000, 0x10);
    udp[23] = 17;
    assert_eq!(TcpSegmentation::plan(&udp, k, m), Err(SegmentError::NotTcp));
    let mut frag = tcp_frame(false, false, 0, 3000, 0x10);
    frag[20] = 0x20; // MF
    assert_eq!(
        TcpSegmentation::plan(&frag, k, m),
        Err(SegmentError::Fragment)
    );
    let mut v6ext = tcp_frame(true, false, 0, 3000, 0x10);
    v6ext[20] = 0; // hop-by-hop
    assert_eq!(
        TcpSegmentation::plan(&v6ext, k, m),
        Err(SegmentError::NotTcp)
    );
    let full = tcp_frame(false, false, 0, 3000, 0x10);
    assert_eq!(
        TcpSegmentation::plan(&full[..1000], k, m),
        Err(SegmentError::Malformed)
    );
    assert_eq!(
        TcpSegmentation::plan(&full, k, 54),
        Err(SegmentError::NoRoomForPayload)
    );
    let arp = [0u8; 60];
    assert_eq!(TcpSegmentation::plan(&arp, k, m), Err(SegmentError::NotTcp));
    // Ethernet padding after the IP packet is not payload.
    let mut padded = tcp_frame(false, false, 0, 3000, 0x10);
    padded.extend_from_slice(&[0xee; 6]);
    let p = TcpSegmentation::plan(&padded, k, m).unwrap();
    assert_eq!(p.frame_len(), padded.len() - 6);
    let mut out = vec![0u8; m];
    assert_eq!(p.write(&padded, p.count(), &mut out), None);
    assert_eq!(p.write(&padded, 0, &mut out[..10]), None);
}

#[test]
fn tso_metadata_exact_per_case() {
    // IPv4 underlay, two options (12 + 8 bytes), untagged inner IPv4.
    let (_, t) = template(false, &[2, 1], 1500);
    let inner = tcp_frame(false, false, 0, 4000, 0x18);
    let p = TcpSegmentation::plan(&inner, t.payload_kind(), t.max_inner_len()).unwrap();
    let (l3, udp) = t.l3_udp_offsets();
    let o = TsoOffload::new(l3, udp - l3, t.header_len() - udp, false, &p).unwrap();
    let geneve = 8 + 12 + 8;
    assert_eq!(
        o,
        TsoOffload {
            outer_l2_len: 14,
            outer_l3_len: 20,
            l2_len: (8 + geneve + 14) as u8,
            l3_len: 20,
            l4_len: 20,
            tso_segsz: (1500 - 20 - 8 - geneve - 14 - 20 - 20) as u16,
            outer_ipv6: false,
            inner_ipv6: false,
        }
    );
    // IPv6 underlay, tagged inner IPv6 with 12 bytes of TCP options.
    let (_, t) = template(true, &[], 1500);
    let inner = tcp_frame(true, true, 12, 4000, 0x18);
    let p = TcpSegmentation::plan(&inner, t.payload_kind(), t.max_inner_len()).unwrap();
    let (l3, udp) = t.l3_udp_offsets();
    let o = TsoOffload::new(l3, udp - l3, t.header_len() - udp, true, &p).unwrap();
    assert_eq!(
        (o.outer_l2_len, o.outer_l3_len, o.l2_len, o.l3_len, o.l4_len),
        (14, 40, 8 + 8 + 18, 40, 32)
    );
    assert_eq!(usize::from(o.tso_segsz), 1500 - 40 - 8 - 8 - 18 - 40 - 32);
    assert!(o.outer_ipv6 && o.inner_ipv6);
    // l2_len has 7 bits: 100 bytes of options do not fit.
    let (_, t) = template(false, &[25], 1500);
    let inner = tcp_frame(false, false, 0, 4000, 0x18);
    let p = TcpSegmentation::plan(&inner, t.payload_kind(), t.max_inner_len()).unwrap();
    let (l3, udp) = t.l3_udp_offsets();
    assert_eq!(
        TsoOffload::new(l3, udp - l3, t.header_len() - udp, false, &p),
        None
    );
}

#[test]
fn hardware_path_emulated_equals_software_path() {
    for (v6o, opts) in [(false, &[2, 1][..]), (false, &[][..]), (true, &[3][..])] {
        let (mut cfg, mut t) = template(v6o, opts, 1500);
        if v6o {
            // The TSO path needs a zero outer UDP checksum.
            cfg.udp_checksum = Some(UdpChecksumTx::Zero);
            t = EncapTemplate::new(&cfg).unwrap();
        }
        for (v6, vlan) in [(false, false), (true, true), (false, true)] {
            let inner = tcp_frame(v6, vlan, 8, 6000, FLAGS_ALL);
            let p = TcpSegmentation::plan(&inner, t.payload_kind(), t.max_inner_len()).unwrap();
            let mut b = VecBuffer::with_headroom(t.header_len(), &inner);
            // Not enabled: refused, buffer untouched.
            assert!(matches!(
                encap_tso(&t, &mut b, &p, Some(7)),
                Err(EncapError::TooBig { .. })
            ));
            assert_eq!(b.data(), &inner[..]);
            t.set_tx_offload(TSO);
            assert!(t.geneve_tso());
            encap_tso(&t, &mut b, &p, Some(7)).unwrap();
            let o = b.tso().expect("TSO metadata");
            assert_eq!(b.tx_offload(), None);
            let mut hw = Vec::new();
            assert!(emulate_geneve_tso(b.data(), &o, |s| hw.push(s.to_vec())));
            assert_eq!(hw, software(&t, &inner, Some(7)), "{v6o} {v6} {vlan}");
            t.set_tx_offload(TxOffloadCaps::NONE);
        }
    }
    // A computed outer UDP checksum keeps the software path.
    let (_, mut t) = template(true, &[], 1500);
    t.set_tx_offload(TSO);
    assert!(!t.geneve_tso());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn segments_reassemble(
        v6o in any::<bool>(), v6 in any::<bool>(), vlan in any::<bool>(),
        words in prop::collection::vec(0usize..8, 0..4),
        mtu in 400u16..9000, topts in 0usize..10, len in 1usize..12000,
        flags in any::<u8>(),
    ) {
        let (_, t) = template(v6o, &words, mtu);
        let inner = tcp_frame(v6, vlan, topts * 4, len, flags);
        check_segments(&t, mtu, &inner, v6, vlan);
    }

    #[test]
    fn plan_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), max in 0usize..400) {
        for k in [PayloadKind::Ethernet, PayloadKind::Ipv4, PayloadKind::Ipv6] {
            if let Ok(p) = TcpSegmentation::plan(&bytes, k, max) {
                let mut out = vec![0u8; max];
                for i in 0..p.count() {
                    prop_assert!(p.write(&bytes, i, &mut out).is_some());
                }
            }
        }
    }
}
