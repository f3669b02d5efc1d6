//! The express and fast tiers decide exactly as the general tier: the
//! access express tier as `access_with_cache`, the underlay express tier and
//! `underlay` as the general decap tier with the general `deliver`.
use super::*;

/// An untagged L2 segment without learning or policies: what the express
/// tiers take.
const UNTAGGED: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, flood: [],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
"#;

#[test]
fn access_express_encapsulates_exactly_like_access_with_cache_or_leaves_the_frame() {
    access_express_matches(UNTAGGED, "198.18.0.2", false);
    // The IPv6 underlay (the UDP checksum computed per frame).
    let v6 = UNTAGGED
        .replace(
            "ipv4: 198.18.0.1/24",
            "ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64",
        )
        .replace("remote: 198.18.0.2", "remote: \"2001:db8:18::2\"");
    access_express_matches(&v6, "2001:db8:18::2", true);
}

/// The access express tier of `cfg` (one tunnel to `peer`, IPv6 underlay
/// if `v6`) against `access_with_cache`, through both of its entries
/// (`encap`, and `encap_with` with the fast case checked per burst).
fn access_express_matches(cfg: &str, peer: &str, v6: bool) {
    let cfg = crate::config::load_str(cfg, "t.yaml").unwrap();
    let neigh: HashMap<IpAddr, [u8; 6]> = [(peer.parse().unwrap(), PEER2)].into();
    let t = build(&cfg, &neigh, &HashMap::new(), 1, Default::default());
    let known = [2, 0, 0, 0, 0, 0xbb];
    let untag = |f: Vec<u8>| [&f[..12], &f[16..]].concat();
    let mut cache = MacCache::default();
    // No express tier before a lookup, nor from a lookup of another tables
    // generation, nor on a tagged segment (the unit tests' CFG).
    assert!(AccessExpress::new(&t, 1, &cache).is_none());
    let mut b = VecBuffer::with_headroom(
        256,
        &untag(udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1, 2)),
    );
    assert_eq!(
        access_with_cache(&t, 1, &mut b, None, &mut cache),
        Outcome::Encapped(0)
    );
    let express =
        AccessExpress::new(&t, 1, &cache).expect("express tier after a known unicast lookup");
    let mut stale = cache;
    stale.generation = 7;
    assert!(AccessExpress::new(&t, 1, &stale).is_none());
    assert!(AccessExpress::new(&tables(&[("198.18.0.2", PEER2)]), 1, &cache).is_none());
    // The fast case is the template's family, and only that one.
    assert_eq!(express.fast::<true>().is_some(), v6);
    assert_eq!(express.fast::<false>().is_some(), !v6);

    let base = untag(udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1000, 53));
    let mut frames: Vec<(Vec<u8>, bool)> = vec![(base.clone(), true)];
    let mut other_mac = base.clone();
    other_mac[5] = 0xbc;
    frames.push((other_mac, false));
    let mut multicast = base.clone();
    multicast[0] = 0x03;
    frames.push((multicast, false));
    frames.push((
        udp_frame(known, [198, 19, 0, 1], [198, 19, 0, 2], 1, 2),
        false,
    )); // tagged
    let mut ip_options = base.clone();
    ip_options[14] = 0x46;
    frames.push((ip_options, true)); // hashed by the general hash
    let mut fragment = base.clone();
    fragment[20] = 0x20;
    frames.push((fragment, true));
    let mut arp = base.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    frames.push((arp, false));
    frames.push((base[..30].to_vec(), false)); // truncated
    let mut big = base.clone();
    big.resize(1500, 0);
    frames.push((big, false)); // over the tunnel MTU: segment path
                               // Every bit of the Ethernet and IPv4 headers and the ports flipped:
                               // taken or not, the tiers must agree.
    for bit in 0..(14 + 24) * 8 {
        let mut f = base.clone();
        f[bit / 8] ^= 1 << (bit % 8);
        let mut general = VecBuffer::with_headroom(256, &f);
        let takes = access_with_cache(&t, 1, &mut general, None, &mut MacCache::default())
            == Outcome::Encapped(0)
            && express
                .encap(&mut VecBuffer::with_headroom(256, &f), None)
                .is_some();
        frames.push((f, takes));
    }
    let mut summed = 0;
    for (i, (f, takes)) in frames.iter().enumerate() {
        for rss in [None, Some(0x1234_5678)] {
            let mut by_express = VecBuffer::with_headroom(256, f);
            let got = express.encap(&mut by_express, rss);
            // The same through the per-burst fast case.
            let mut by_known = VecBuffer::with_headroom(256, f);
            let known_got = match (express.fast::<false>(), express.fast::<true>()) {
                (Some(k), _) => express.encap_with(k, &mut by_known, rss),
                (_, Some(k)) => express.encap_with(k, &mut by_known, rss),
                (None, None) => panic!("an express tier without a fast case"),
            };
            assert_eq!(known_got, got, "frame {i}");
            assert_eq!(by_known.data(), by_express.data(), "frame {i}");
            // And through the IPv6 fast case with the checksum summed in
            // software, the one an IPv6 tunnel without offload takes.
            if let Some(k) = express.fast_summed() {
                let mut by_summed = VecBuffer::with_headroom(256, f);
                assert_eq!(express.encap_with(k, &mut by_summed, rss), got, "frame {i}");
                assert_eq!(by_summed.data(), by_express.data(), "frame {i}");
                summed += 1;
            }
            let mut general = VecBuffer::with_headroom(256, f);
            let want = access_with_cache(&t, 1, &mut general, rss, &mut MacCache::default());
            if *takes {
                assert_eq!(got, Some(0), "frame {i}");
                assert_eq!(want, Outcome::Encapped(0), "frame {i}");
                assert_eq!(by_express.data(), general.data(), "frame {i}");
            } else {
                assert_eq!(got, None, "frame {i}");
                assert_eq!(by_express.data(), &f[..], "frame {i}: untouched");
            }
        }
    }
    // An IPv6 tunnel computes its checksum by default: the summed case.
    assert_eq!(summed > 0, v6);
}

#[test]
fn underlay_express_delivers_like_underlay_or_leaves_the_packet() {
    let plain = crate::config::load_str(UNTAGGED, "t.yaml").unwrap();
    let plain = build(
        &plain,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    );
    let tagged_out = crate::config::load_str(
        &UNTAGGED.replace("vni: 100, flood", "vlan: 7, vni: 100, flood"),
        "t.yaml",
    )
    .unwrap();
    let tagged_out = build(
        &tagged_out,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    );
    // CFG: VNI 100 has an allow list (not plain) and learning is on.
    let policy = tables(&[]);
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        7,
        9,
    );
    let base = geneve_from_peer(&inner, &[]);
    let mut padded = base.clone();
    padded.extend_from_slice(&[0u8; 6]);
    let mut wrong_vni = base.clone();
    wrong_vni[48] = 0x65;
    let mut control = base.clone();
    control[43] |= 0x80;
    let mut ce = base.clone();
    ce[15] |= 0x03;
    fix_ipv4_checksum(&mut ce);
    let with_option = geneve_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]);
    // The same over IPv6 (the gateway has an IPv6 VTEP address).
    let with_v6 = |c: &str| {
        c.replace(
            "ipv4: 198.18.0.1/24",
            "ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64",
        )
    };
    let plain6 = crate::config::load_str(&with_v6(UNTAGGED), "t.yaml").unwrap();
    let plain6 = build(
        &plain6,
        &HashMap::new(),
        &HashMap::new(),
        1,
        Default::default(),
    );
    let base6 = geneve6_from_peer(&inner, &[]);
    let mut padded6 = base6.clone();
    padded6.extend_from_slice(&[0u8; 6]);
    let option6 = geneve6_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]);
    let mut zero_sum6 = base6.clone();
    zero_sum6[60..62].fill(0);
    let mut bad_sum6 = base6.clone();
    bad_sum6[61] ^= 1;
    let mut ce6 = base6.clone();
    ce6[15] |= 0x30;
    fix_udp6(&mut ce6);
    // An inner frame with a tag of its own (802.1Q, 802.1ad): the general
    // tier drops it, the express tier leaves it.
    // (`inner` is tagged; the peer helpers drop bytes 12..16, that tag.)
    let inner_tagged = |tpid: [u8; 2]| [&inner[..16], &tpid[..], &[0, 5], &inner[16..]].concat();
    let tagged6 = geneve6_from_peer(&inner_tagged([0x81, 0x00]), &[]);
    let qinq6 = geneve6_from_peer(&inner_tagged([0x88, 0xa8]), &[]);
    let tagged4 = geneve_from_peer(&inner_tagged([0x91, 0x00]), &[]);
    let cases: [(&Tables, &[u8], bool); 18] = [
        (&plain6, &tagged6, false),
        (&plain6, &qinq6, false),
        (&plain, &tagged4, false),
        (&plain, &base, true),
        (&plain, &padded, true),
        (&plain, &with_option, true),
        (&plain, &wrong_vni, false),
        (&plain, &control, false),
        (&plain, &ce, false),
        (&tagged_out, &base, false),
        (&policy, &base, false),
        (&plain6, &base6, true),
        (&plain6, &padded6, true),
        (&plain6, &option6, true),
        // Dropped by default (RFC 8926 section 4.3.1), by the general tier.
        (&plain6, &zero_sum6, false),
        (&plain6, &bad_sum6, false),
        (&plain6, &ce6, false),
        // No IPv6 VTEP address: not for us.
        (&plain, &base6, false),
    ];
    for (i, (t, frame, takes)) in cases.into_iter().enumerate() {
        let mut by_express = VecBuffer::with_headroom(128, frame);
        let got = both_express(t, &mut by_express);
        let mut general = VecBuffer::with_headroom(128, frame);
        let mut seen = None;
        let want = underlay(t, &mut general, &mut |e| {
            if let Event::Counted { vni, tunnel } = e {
                seen = Some((vni, tunnel));
            }
        });
        if takes {
            assert_eq!(got.map(Outcome::Decapped), Some(want), "case {i}");
            // The express tier's slots are the ones the fast tier names.
            let mut again = VecBuffer::with_headroom(128, frame);
            let x = underlay_express_counted(t, &mut again).map(|x| (x.vni, x.tunnel));
            assert_eq!(x, seen, "case {i}");
            assert_eq!(by_express.data(), general.data(), "case {i}");
        } else {
            assert_eq!(got, None, "case {i}");
            assert_eq!(by_express.data(), frame, "case {i}: untouched");
        }
    }
}

/// `underlay_express_counted` on `b`, and on copies `underlay_express_ip`
/// (the loop of a gateway without L2 VNIs, the L3 pattern first),
/// `underlay_express_v6` (the loop of a burst that starts with an IPv6
/// frame, the IPv6 tier first) and the keyed loop's tier without counting
/// (`metrics.entry_counters: false`): the same result and the same bytes,
/// for any tables and any packet.
fn both_express(t: &Tables, b: &mut VecBuffer) -> Option<u16> {
    let mut ip_first = VecBuffer::with_headroom(128, b.data());
    let mut v6_first = VecBuffer::with_headroom(128, b.data());
    let mut uncounted = VecBuffer::with_headroom(128, b.data());
    let got = underlay_express_counted(t, b);
    let ip_got = underlay_express_ip::<true, _, _>(t, &mut ip_first, ()).map(|k| k.resolve(t));
    assert_eq!(ip_got, got, "{:02x?}", b.data());
    assert_eq!(ip_first.data(), b.data());
    let v6_got = underlay_express_v6::<true, _, _>(t, &mut v6_first, ()).map(|k| k.resolve(t));
    assert_eq!(v6_got, got, "IPv6 first: {:02x?}", b.data());
    assert_eq!(v6_first.data(), b.data());
    let plain =
        underlay_express_key::<false, _, _>(t, &mut uncounted, ()).map(|k| k.resolve(t).port);
    assert_eq!(plain, got.map(|x| x.port), "{:02x?}", b.data());
    assert_eq!(uncounted.data(), b.data());
    got.map(|x| x.port)
}

/// Each of `bases` whole, padded with 6 bytes, cut at every length under
/// `cut`, and with each of its first `flip` bytes flipped by six masks
/// (each flipped frame as it is and after `fix`).
fn mutated(bases: &[Vec<u8>], cut: usize, flip: usize, fix: impl Fn(&mut Vec<u8>)) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for base in bases {
        frames.push(base.clone());
        let mut padded = base.clone();
        padded.extend_from_slice(&[0; 6]);
        frames.push(padded);
        frames.extend((0..base.len().min(cut)).map(|n| base[..n].to_vec()));
        for i in 0..base.len().min(flip) {
            for x in [0x01u8, 0x08, 0x10, 0x40, 0x80, 0xff] {
                let mut f = base.clone();
                f[i] ^= x;
                frames.push(f.clone());
                fix(&mut f);
                frames.push(f);
            }
        }
    }
    frames
}

/// Every frame on every tables of `configs` (index `c`): `underlay` and
/// the general tier agree, outcome and bytes; the express tiers
/// (`both_express`) either deliver that outcome and those bytes (within
/// the port's MTU when `mtu` is set) or leave the frame untouched. How
/// many frames the express tiers took, per configuration.
fn express_like_general(configs: &[Tables], frames: &[Vec<u8>], mtu: bool) -> Vec<usize> {
    let mut taken = vec![0usize; configs.len()];
    for (c, t) in configs.iter().enumerate() {
        for f in frames {
            let mut by_express = VecBuffer::with_headroom(128, f);
            let got = both_express(t, &mut by_express);
            let mut fast = VecBuffer::with_headroom(128, f);
            let want = underlay(t, &mut fast, &mut |_| {});
            let mut general = VecBuffer::with_headroom(128, f);
            let reference = underlay_reference(t, &mut general, &mut |_| {});
            assert_eq!(want, reference, "config {c}: {f:02x?}");
            assert_eq!(fast.data(), general.data(), "config {c}: {f:02x?}");
            match got {
                Some(port) => {
                    taken[c] += 1;
                    assert_eq!(Outcome::Decapped(port), want, "config {c}: {f:02x?}");
                    assert_eq!(by_express.data(), general.data(), "config {c}: {f:02x?}");
                    assert!(!mtu || !t.over_mtu(port, by_express.data()), "{f:02x?}");
                }
                None => assert_eq!(by_express.data(), &f[..], "config {c}: untouched"),
            }
        }
    }
    taken
}

#[test]
fn mac_cache_follows_table_generations() {
    // Generation 1: next hop unresolved; generation 2: resolved. One cache
    // across both must not keep the stale answer.
    let t1 = tables(&[]);
    let mut t2 = tables(&[("198.18.0.2", PEER2)]);
    t2.generation = 2;
    let mut cache = MacCache::default();
    let frame = tagged_frame([2, 0, 0, 0, 0, 0xbb], 10);
    let mut b = VecBuffer::with_headroom(256, &frame);
    assert_eq!(
        access_with_cache(&t1, 1, &mut b, None, &mut cache),
        Outcome::Drop(DropReason::NextHopUnresolved)
    );
    let mut b = VecBuffer::with_headroom(256, &frame);
    assert_eq!(
        access_with_cache(&t2, 1, &mut b, None, &mut cache),
        Outcome::Encapped(0)
    );
    // A different destination in the same generation is looked up afresh.
    let mut b = VecBuffer::with_headroom(256, &tagged_frame([2, 0, 0, 0, 0, 0x99], 10));
    assert_eq!(
        access_with_cache(&t2, 1, &mut b, None, &mut cache),
        Outcome::Flood(0)
    );
}

/// What `underlay` did before the fast tier had a plain-VNI shortcut:
/// the general decap tier and the general `deliver`, for every frame.
fn underlay_reference<B: Buffer + ?Sized>(
    t: &Tables,
    buf: &mut B,
    events: &mut impl FnMut(Event),
) -> Outcome {
    match t.decap.decap_general(buf.data()) {
        Verdict::Deliver(d) => deliver_with_policy(t, buf, d, events),
        v => not_delivered(t, buf, v),
    }
}

/// `underlay` (fast tier, plain-VNI shortcut, carried deliveries) gives
/// the reference's outcome, bytes and events, for VNIs with and
/// without policies or learning, and frames with options, ECN marks,
/// padding, UDP checksums, other sources and VNIs.
#[test]
fn underlay_matches_the_general_tier_for_plain_and_policy_vnis() {
    let registry = r#"
options:
  registry:
    - { name: flow-id, class: 0x0104, type: 0x02, length: 8 }
    - { name: tag, class: 0x0104, type: 0x03, length: 4 }
"#;
    let no_allow = |c: &str| {
        c.replace(
            "decap:\n  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }\n",
            "",
        )
    };
    let plain = no_allow(CFG).replace("learning: true", "learning: false");
    let configs = [
        plain.clone(),
        plain.replace("vlan: 10, ", ""),
        no_allow(CFG),
        CFG.to_string(),
        plain.clone()
            + registry
            + "  policies:\n    require: [ { option: tag, vni: 100 } ]\n",
        plain.clone()
            + registry
            + "  policies:\n    security_tags: [ { option: tag, vni: 100, allow: [\"0000002a\"], default: deny } ]\n",
        plain.clone()
            + registry
            + "  policies:\n    flow_id_copy: [ { option: flow-id, tunnel: t1 } ]\n",
        plain.clone() + registry,
    ];
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xcc],
        [198, 19, 0, 2],
        [198, 19, 0, 1],
        5001,
        1000,
    );
    let flow_id: &[u8] = &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];
    let tag: &[u8] = &[0, 0, 0, 0x2a];
    let other_tag: &[u8] = &[0, 0, 0, 0x2b];
    let option_lists: [&[(u16, u8, &[u8])]; 6] = [
        &[],
        &[(0x0104, 0x03, tag)],
        &[(0x0104, 0x03, other_tag)],
        &[(0x0104, 0x02, flow_id), (0x0104, 0x03, tag)],
        &[(0x0999, 0x01, tag)],
        &[(0x0999, 0x81, tag)],
    ];
    let mut frames = Vec::new();
    for opts in option_lists {
        let base = geneve_from_peer(&inner, opts);
        let ip_tos = base.len() - inner.len() + 4 + 15;
        for (outer_ecn, inner_ecn) in [(0u8, 0u8), (0, 2), (1, 1), (2, 1), (3, 0), (3, 2)] {
            for variant in 0..5 {
                let mut f = base.clone();
                f[15] |= outer_ecn;
                f[ip_tos] |= inner_ecn;
                match variant {
                    1 => f.extend_from_slice(&[0; 6]),
                    2 => f[26..30].copy_from_slice(&[198, 18, 0, 9]),
                    3 => f[48] = 0x2c, // VNI 300
                    4 => f[48] = 0x63, // VNI 99: no decap entry
                    _ => {}
                }
                fix_ipv4_checksum(&mut f);
                frames.push(f.clone());
                // The same with a UDP checksum (the field-by-field fast tier).
                let end = 14 + usize::from(u16::from_be_bytes([f[16], f[17]]));
                let ulen = (end - 34) as u16;
                let sum = checksum::accumulate(
                    checksum::pseudo_header_v4(&[198, 18, 0, 2], &[198, 18, 0, 1], 17, ulen),
                    &f[34..end],
                );
                let c = !checksum::fold(sum);
                f[40..42].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
                frames.push(f);
            }
        }
    }
    let neighbors: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)]
        .into_iter()
        .collect();
    let mut plain_vnis = 0;
    let mut delivered = [0u32; 2];
    for yaml in &configs {
        let cfg = crate::config::load_str(yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let t = build(&cfg, &neighbors, &HashMap::new(), 1, Default::default());
        let is_plain = t.vnis.get_plain(100).is_some_and(|(_, p)| p);
        plain_vnis += usize::from(is_plain);
        for f in &frames {
            let (mut fast_events, mut ref_events) = (Vec::new(), Vec::new());
            let mut a = VecBuffer::with_headroom(256, f);
            let mut b = VecBuffer::with_headroom(256, f);
            let got = underlay(&t, &mut a, &mut |e| fast_events.push(e));
            let want = underlay_reference(&t, &mut b, &mut |e| ref_events.push(e));
            assert_eq!(got, want, "{yaml}\n{f:02x?}");
            assert_eq!(a.data(), b.data(), "{yaml}\n{f:02x?}");
            assert_eq!(fast_events, ref_events, "{yaml}\n{f:02x?}");
            if let Outcome::Decapped(_) = got {
                delivered[usize::from(is_plain)] += 1;
            }
        }
    }
    assert_eq!(plain_vnis, 3, "the first two and the last configuration");
    assert!(delivered.iter().all(|&n| n > 20), "{delivered:?}");
}

/// An L3 tunnel: IPv4 payloads, routes on encap, the Ethernet header
/// rebuilt on decap towards a configured MAC.
const L3: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
l3:
  access: { port: acc, ipv4: 198.19.0.254/24, next_hop_mac: "02:00:00:00:0a:01" }
  routes: [ { prefix: 198.19.0.0/16, tunnel: t1 } ]
"#;

/// [`geneve_from_peer`]'s packet for an L3 tunnel: the inner frame's IP
/// packet alone, protocol type 0x0800.
fn geneve_l3_from_peer(frame: &[u8], opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
    let eth = geneve_from_peer(frame, opts);
    let payload = 50 + opts.iter().map(|o| 4 + o.2.len()).sum::<usize>();
    let mut p = [&eth[..payload], &eth[payload + 14..]].concat();
    p[44..46].copy_from_slice(&[0x08, 0x00]);
    let ip_len = u16::from_be_bytes([p[16], p[17]]) - 14;
    p[16..18].copy_from_slice(&ip_len.to_be_bytes());
    p[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    fix_ipv4_checksum(&mut p);
    p
}

/// The decap express tier over L3 tunnels (IPv4 payload, Ethernet header
/// rebuilt in place) gives `underlay`'s outcome and bytes, and the general
/// tier's, or leaves the packet untouched: over every bit flip of the
/// headers and the inner header, truncations, padding, options, and VNIs
/// that are not plain (no configured MAC, a source-VTEP list, a tag).
#[test]
fn underlay_express_l3_delivers_like_the_general_tier_over_mutated_frames() {
    let no_mac = L3.replace(", next_hop_mac: \"02:00:00:00:0a:01\"", "");
    let allow = L3.to_string() + "decap:\n  - { vni: 100, allow_from: [198.18.0.3] }\n";
    let tagged = L3.replace("port: acc,", "port: acc, vlan: 5,");
    // With an L2 segment beside it the Ethernet pattern exists too: an
    // Ethernet frame to the L3 VNI meets the Ethernet express delivery.
    let with_l2 = L3.replace(
        "  - { name: acc, role: access, device: 1, mtu: 1400 }\n",
        "  - { name: acc, role: access, device: 1, mtu: 1400 }\n  - { name: acc2, role: access, device: 2, mtu: 1400 }\n",
    ) + "l2:\n  learning: false\n  segments:\n    - { port: acc2, vni: 200, flood: [] }\n";
    let neighbors: HashMap<IpAddr, [u8; 6]> = [
        ("198.18.0.2".parse().unwrap(), PEER2),
        ("198.19.0.2".parse().unwrap(), [2, 0, 0, 0, 0, 0x77]),
    ]
    .into();
    let configs: Vec<Tables> = [L3.to_string(), no_mac, allow, tagged, with_l2]
        .iter()
        .map(|y| {
            let cfg = crate::config::load_str(y, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            build(&cfg, &neighbors, &HashMap::new(), 1, Default::default())
        })
        .collect();
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        7,
        9,
    );
    let mut bases = vec![
        geneve_l3_from_peer(&inner, &[]),
        geneve_l3_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]),
    ];
    let mut big = inner.clone();
    big.resize(1430, 0);
    let n = (big.len() - 18) as u16;
    big[20..22].copy_from_slice(&n.to_be_bytes());
    // Over the access MTU.
    bases.push(geneve_l3_from_peer(&big, &[]));
    // An Ethernet payload (protocol type 0x6558), which an L3 VNI does not
    // carry: dropped by every tier, never delivered as a frame.
    bases.push(geneve_from_peer(&inner, &[]));
    let frames = mutated(&bases, 120, 90, |f| fix_ipv4_checksum(f));
    let taken = express_like_general(&configs, &frames, true);
    // Only the plain VNI (a configured MAC, no policy, no tag) is taken.
    assert!(taken[0] > 100 && taken[4] > 100, "{taken:?}");
    assert_eq!(taken[1..4], [0, 0, 0], "{taken:?}");
    assert!(configs[4].decap.has_ethernet_pattern());
}

/// The L3 access express tier encapsulates exactly like
/// `access_with_cache` or leaves the frame untouched: every bit flip of
/// the Ethernet and IP headers and the first payload bytes, truncations,
/// frames for the gateway itself, without a route, over the tunnel MTU,
/// and with and without a flow hash from the NIC.
#[test]
fn l3_express_encapsulates_like_access_with_cache_over_mutated_frames() {
    let two_routes = L3.replace(
        "routes: [ { prefix: 198.19.0.0/16, tunnel: t1 } ]",
        "routes: [ { prefix: 198.19.0.0/16, tunnel: t1 }, { prefix: 198.19.7.0/24, tunnel: t2 } ]",
    )
    .replace(
        "  - { name: t1, remote: 198.18.0.2, vni: 100 }",
        "  - { name: t1, remote: 198.18.0.2, vni: 100 }\n  - { name: t2, remote: 198.18.0.3, vni: 101 }",
    );
    let neighbors: HashMap<IpAddr, [u8; 6]> = [("198.18.0.2".parse().unwrap(), PEER2)].into();
    let cfg = crate::config::load_str(&two_routes, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    // t2's next hop is unresolved: a counted drop, never the express tier.
    let t = build(&cfg, &neighbors, &HashMap::new(), 1, Default::default());
    let express = L3Express::new(&t, 1).expect("an untagged L3 access port");
    assert!(L3Express::new(&t, 0).is_none(), "not on the underlay port");
    let untag = |f: Vec<u8>| [&f[..12], &f[16..]].concat();
    let base = untag(udp_frame(
        [2, 0, 0, 0, 0, 0xfe],
        [198, 19, 0, 1],
        [198, 19, 1, 2],
        1000,
        53,
    ));
    let mut bases = vec![base.clone()];
    let mut to_gw = base.clone();
    to_gw[30..34].copy_from_slice(&[198, 19, 0, 254]);
    bases.push(to_gw);
    let mut unresolved = base.clone();
    unresolved[30..34].copy_from_slice(&[198, 19, 7, 9]);
    bases.push(unresolved);
    // Around the tunnel MTU (1500 - 36: the largest IP packet the tunnel
    // carries), and far over it.
    for ip_len in [1463usize, 1464, 1465, 1476] {
        let mut big = base.clone();
        big.resize(14 + ip_len, 0);
        big[16..18].copy_from_slice(&(ip_len as u16).to_be_bytes());
        bases.push(big);
    }
    let mut frames = Vec::new();
    for b in &bases {
        frames.push(b.clone());
        frames.extend((0..b.len().min(50)).map(|n| b[..n].to_vec()));
        for i in 0..b.len().min(46) {
            for x in [0x01u8, 0x02, 0x08, 0x10, 0x40, 0x80, 0xff] {
                let mut f = b.clone();
                f[i] ^= x;
                frames.push(f);
            }
        }
    }
    let mut taken = 0;
    for f in &frames {
        for rss in [None, Some(0x1234_5678)] {
            let mut by_express = VecBuffer::with_headroom(256, f);
            let got = express.encap(&mut by_express, rss);
            let mut general = VecBuffer::with_headroom(256, f);
            let want = access_with_cache(&t, 1, &mut general, rss, &mut MacCache::default());
            match got {
                Some(port) => {
                    taken += 1;
                    assert_eq!(Outcome::Encapped(port), want, "{f:02x?}");
                    assert_eq!(by_express.data(), general.data(), "{f:02x?}");
                }
                None => assert_eq!(by_express.data(), &f[..], "untouched: {f:02x?}"),
            }
        }
    }
    assert!(taken > 200, "{taken}");
}

/// The L3 express tier with the route kept from frame to frame, as the
/// worker's loop runs it (`L3Express::encap_routed`), encapsulates every
/// frame exactly like `access_with_cache` or leaves it untouched, and says
/// when a frame was taken on another route than the frame before: over
/// the same mutated frames in sequence (runs of one route entry, entries
/// changing between them and inside a /24 that holds a longer prefix,
/// routes to an unresolved tunnel and to the gateway's own address in
/// between), with and without a flow hash from the NIC.
#[test]
fn l3_express_with_a_kept_route_encapsulates_like_access_with_cache() {
    let routes = L3
        .replace(
            "routes: [ { prefix: 198.19.0.0/16, tunnel: t1 } ]",
            "routes: [ { prefix: 198.19.0.0/16, tunnel: t1 }, { prefix: 198.19.7.0/24, tunnel: t2 }, \
             { prefix: 198.19.1.0/25, tunnel: t3 }, { prefix: 198.19.1.4/32, tunnel: t1 } ]",
        )
        .replace(
            "  - { name: t1, remote: 198.18.0.2, vni: 100 }",
            "  - { name: t1, remote: 198.18.0.2, vni: 100 }\n  - { name: t2, remote: 198.18.0.3, vni: 101 }\n  - { name: t3, remote: 198.18.0.4, vni: 102 }",
        );
    let neighbors: HashMap<IpAddr, [u8; 6]> = [
        ("198.18.0.2".parse().unwrap(), PEER2),
        ("198.18.0.4".parse().unwrap(), [2, 0, 0, 0, 0, 0x44]),
    ]
    .into();
    let cfg = crate::config::load_str(&routes, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let t = build(&cfg, &neighbors, &HashMap::new(), 1, Default::default());
    let express = L3Express::new(&t, 1).expect("an untagged L3 access port");
    let untag = |f: Vec<u8>| [&f[..12], &f[16..]].concat();
    let to = |dst: [u8; 4], len: usize| {
        let mut f = untag(udp_frame(
            [2, 0, 0, 0, 0, 0xfe],
            [198, 19, 0, 1],
            dst,
            1000,
            53,
        ));
        f.resize(len.max(f.len()), 0);
        let ip_len = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&ip_len.to_be_bytes());
        fix_ipv4_checksum(&mut f);
        f
    };
    // Destinations: the /16 from the first table (t1), the /25's group
    // entries (t3), the /32 in that group (t1 again, another entry), the
    // group's entries the /16 left (t1, the first table's entry value),
    // the unresolved /24 (t2), the gateway itself.
    let dsts = [
        [198, 19, 1, 200],
        [198, 19, 2, 9],
        [198, 19, 1, 9],
        [198, 19, 1, 10],
        [198, 19, 1, 4],
        [198, 19, 1, 201],
        [198, 19, 7, 9],
        [198, 19, 0, 254],
        [198, 19, 3, 3],
    ];
    let mut frames = Vec::new();
    for (i, d) in dsts.iter().enumerate() {
        // A run of a few frames of one destination, lengths varied, one
        // mutated.
        for k in 0..4 {
            frames.push(to(*d, 60 + 13 * k + i));
        }
        let b = to(*d, 80);
        for j in (0..b.len().min(46)).step_by(3) {
            for x in [0x01u8, 0x40, 0xff] {
                let mut f = b.clone();
                f[j] ^= x;
                frames.push(f);
                frames.push(b.clone());
            }
        }
        frames.push(b[..33].to_vec());
    }
    for rss in [None, Some(0x1234_5678)] {
        let mut route: L3Route<'_> = express.no_route();
        let (mut taken, mut new_routes) = (0, 0);
        for f in &frames {
            let mut by_express = VecBuffer::with_headroom(256, f);
            let before = route.counter();
            let got = express.encap_routed(&mut route, &mut by_express, rss);
            let mut general = VecBuffer::with_headroom(256, f);
            let mut cache = MacCache::default();
            let want = access_with_cache(&t, 1, &mut general, rss, &mut cache);
            match got {
                Some(new) => {
                    taken += 1;
                    assert_eq!(Outcome::Encapped(t.underlay_port), want, "{f:02x?}");
                    assert_eq!(by_express.data(), general.data(), "{f:02x?}");
                    let slot = cache.chosen.and_then(|id| t.templates.get(id as usize));
                    let slot = slot.map(|tpl| tpl.counter());
                    assert_eq!(Some(route.counter()), slot, "the frame's tunnel");
                    // A frame taken on the kept route counts in the run
                    // of the frames before it: their tunnel is its.
                    new_routes += usize::from(new);
                    if !new {
                        assert_eq!(Some(before), slot, "kept route, same tunnel");
                    }
                }
                None => assert_eq!(by_express.data(), &f[..], "untouched: {f:02x?}"),
            }
        }
        assert!(taken > 300, "{taken}");
        assert!(
            new_routes > 10 && new_routes * 4 < taken,
            "{new_routes} of {taken}"
        );
    }
}

/// The decap express tier over an IPv6 underlay, in all three of its loop
/// orders (`both_express`: IPv4 first, L3 pattern first, IPv6 first),
/// gives `underlay`'s outcome and bytes, and the general tier's, or leaves
/// the packet untouched: over every bit flip of the outer headers and the
/// first inner bytes (the UDP checksum recomputed over the payload length
/// or left wrong), every truncation, padding and an options area, on a
/// plain VNI and on one that is not (an allow list of another source).
#[test]
fn underlay_express_v6_delivers_like_the_general_tier_over_mutated_frames() {
    let v6 = UNTAGGED.replace(
        "ipv4: 198.18.0.1/24",
        "ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64",
    );
    let allow = v6.clone() + "decap:\n  - { vni: 100, allow_from: [\"2001:db8:18::3\"] }\n";
    let configs: Vec<Tables> = [v6, allow]
        .iter()
        .map(|y| {
            let cfg = crate::config::load_str(y, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            build(
                &cfg,
                &HashMap::new(),
                &HashMap::new(),
                1,
                Default::default(),
            )
        })
        .collect();
    let inner = udp_frame(
        [2, 0, 0, 0, 0, 0xbb],
        [198, 19, 0, 1],
        [198, 19, 0, 2],
        7,
        9,
    );
    // The checksum over the payload length only (a padded or cut frame
    // keeps what its header says).
    let fix = |f: &mut Vec<u8>| {
        if f.len() < 62 || f[12..14] != [0x86, 0xdd] {
            return;
        }
        let pl = usize::from(u16::from_be_bytes([f[18], f[19]]));
        if pl < 8 || f.len() < 54 + pl {
            return;
        }
        f[60..62].fill(0);
        let src: [u8; 16] = f[22..38].try_into().unwrap();
        let dst: [u8; 16] = f[38..54].try_into().unwrap();
        let c = checksum::l4_checksum_v6(&src, &dst, 17, &f[54..54 + pl]);
        f[60..62].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    };
    let mut odd = inner.clone();
    odd.push(0x5a);
    let bases = [
        geneve6_from_peer(&inner, &[]),
        geneve6_from_peer(&odd, &[]),
        geneve6_from_peer(&inner, &[(0x0102, 1, &[0, 0, 0, 42])]),
    ];
    // Each unharmed frame (even and odd datagram lengths, options) is the
    // express tier's, in every loop order.
    for base in &bases {
        let mut b = VecBuffer::with_headroom(128, base);
        assert!(both_express(&configs[0], &mut b).is_some(), "{base:02x?}");
    }
    let frames = mutated(&bases, usize::MAX, 100, fix);
    let taken = express_like_general(&configs, &frames, false);
    // The plain VNI takes the unharmed frames and many flips (of the
    // source port, the flow label, the inner bytes...); the allow list
    // takes none.
    assert!(taken[0] > 300, "{taken:?}");
    assert_eq!(taken[1], 0, "{taken:?}");
}
