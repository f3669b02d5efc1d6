//! The properties each fuzz target checks, shared by the targets
//! (fuzz/fuzz_targets/*.rs) and the corpus replay (tests/lib_fuzz_corpus.rs):
//! one definition, so a replayed seed checks exactly what the fuzzer did.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use geneve_gw::control::responder::LocalAddrs;
use geneve_gw::control::responder::{respond, Response};
pub use geneve_gw::dataplane::pipeline::Outcome;
use geneve_gw::dataplane::pipeline::{access_with_cache, AccessAhead, MacCache, AHEAD_MIN_ENTRIES};
pub use geneve_gw::dataplane::tables::{BuildInputs, Tables};
use geneve_gw::tunnel::{
    encap, Buffer, EncapTemplate, PayloadKind, TcpSegmentation, TunnelConfig, TunnelOption,
    VecBuffer,
};
use geneve_gw::wire::ethernet::MacDisplay;
use geneve_gw::wire::geneve::Vni;

/// The config loader: any text gives a config or errors, never a panic;
/// a valid configuration saved (`config::emit`) loads back equal.
/// Returns whether the text is a valid configuration.
pub fn config(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    match geneve_gw::config::load_str(&text, "fuzz.yaml") {
        Ok(cfg) => {
            let saved = geneve_gw::config::emit(&cfg);
            let back = geneve_gw::config::load_str(&saved, "saved.yaml")
                .unwrap_or_else(|e| panic!("the save does not load:\n{e}\n{saved}"));
            assert!(back == cfg, "the save loads differently:\n{saved}");
            true
        }
        Err(_) => false,
    }
}

pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

pub fn local_addrs() -> LocalAddrs {
    LocalAddrs {
        mac: OUR_MAC,
        ipv4: vec![Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 19, 0, 1)],
        ipv6: vec![
            "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
            "fe80::1".parse().unwrap(),
        ],
    }
}

/// The ARP/ND/ICMP responder: a reply is a whole Ethernet frame from our
/// MAC to the requester's, and `out` is empty when there is no reply.
/// Returns whether it replied.
pub fn responder(data: &[u8], local: &LocalAddrs, out: &mut Vec<u8>) -> bool {
    match respond(data, local, out) {
        Response::Reply | Response::ReplyAndLearned(_) => {
            assert!(out.len() >= 14, "reply of {} bytes", out.len());
            assert_eq!(out[6..12], local.mac, "reply not from our MAC");
            // To the requester: its Ethernet source or the link-layer
            // address it gave (RFC 826: the ARP sender hardware address;
            // RFC 4861: the source link-layer address option).
            assert!(
                data.windows(6).skip(6).any(|w| w == &out[0..6]),
                "reply to {:02x?}, an address not in the request",
                &out[0..6]
            );
            true
        }
        Response::Learned(_) | Response::Ignored(_) => {
            assert!(out.is_empty());
            false
        }
    }
}

/// Encap with a template built from fuzzed options. Input: a header byte
/// (bit 0: IPv6 underlay, bits 1-2: payload kind, bit 3: O bit), an option
/// count, then per option class (2), type (1), data words (1, low 5 bits)
/// and the data; the rest is the inner packet. When encap succeeds the
/// frame is the template header in front of the unchanged inner packet and
/// the Geneve header says exactly the options given. Returns whether it
/// encapsulated.
pub fn encap_options(data: &[u8]) -> bool {
    let Some((&head, rest)) = data.split_first() else {
        return false;
    };
    let Some((&n, mut rest)) = rest.split_first() else {
        return false;
    };
    let mut options = Vec::new();
    for _ in 0..(n % 16) {
        let [c0, c1, typ, words, tail @ ..] = rest else {
            break;
        };
        let len = usize::from(words & 0x1f) * 4;
        if tail.len() < len {
            break;
        }
        options.push(TunnelOption {
            class: u16::from_be_bytes([*c0, *c1]),
            typ: *typ,
            data: tail[..len].to_vec(),
        });
        rest = &tail[len..];
    }
    let (src, dst): (IpAddr, IpAddr) = if head & 1 == 0 {
        (
            Ipv4Addr::new(198, 18, 0, 1).into(),
            Ipv4Addr::new(198, 18, 0, 2).into(),
        )
    } else {
        (
            "2001:db8::1".parse::<Ipv6Addr>().unwrap().into(),
            "2001:db8::2".parse::<Ipv6Addr>().unwrap().into(),
        )
    };
    let mut cfg = TunnelConfig::new(
        OUR_MAC,
        [0x02, 0, 0, 0, 0, 0x02],
        src,
        dst,
        Vni::new(100).unwrap(),
    );
    cfg.payload = match (head >> 1) & 3 {
        1 => PayloadKind::Ipv4,
        2 => PayloadKind::Ipv6,
        _ => PayloadKind::Ethernet,
    };
    cfg.oam = head & 8 != 0;
    let opt_len: usize = options.iter().map(|o| 4 + o.data.len()).sum();
    let critical = options.iter().any(|o| o.typ & 0x80 != 0);
    cfg.options = options;
    let Ok(t) = EncapTemplate::new(&cfg) else {
        return false;
    };
    let hlen = t.header_len();
    let inner = rest;
    let mut b = VecBuffer::with_headroom(hlen, inner);
    let hash = (head & 0x10 != 0).then_some(0x1234_5678);
    if encap(&t, &mut b, hash).is_ok() {
        let out = b.data();
        assert_eq!(out.len(), hlen + inner.len());
        assert_eq!(&out[hlen..], inner, "inner packet changed");
        assert_eq!(out[0..6], cfg.dst_mac);
        let (_, udp) = t.l3_udp_offsets();
        let g = udp + 8;
        assert_eq!(usize::from(out[g] & 0x3f) * 4, opt_len, "Geneve Opt Len");
        assert_eq!(hlen, g + 8 + opt_len);
        assert_eq!(
            usize::from(u16::from_be_bytes([out[udp + 4], out[udp + 5]])),
            out.len() - udp,
            "UDP length"
        );
        // RFC 8926 section 3.4: Ver (2) | Opt Len (6); O | C | Rsvd;
        // Protocol Type; VNI (3) | Reserved.
        assert_eq!(out[g] >> 6, 0, "Ver");
        assert_eq!(out[g + 1] & 0x80 != 0, cfg.oam, "O bit");
        assert_eq!(out[g + 1] & 0x40 != 0, critical, "C bit");
        let proto = match cfg.payload {
            PayloadKind::Ethernet => 0x6558,
            PayloadKind::Ipv4 => 0x0800,
            PayloadKind::Ipv6 => 0x86dd,
        };
        assert_eq!(u16::from_be_bytes([out[g + 2], out[g + 3]]), proto);
        assert_eq!(out[g + 4..g + 7], [0, 0, 100], "VNI");
        return true;
    }
    false
}

/// TCP segmentation. Input: the largest inner frame (2 bytes), the payload
/// kind (1), then the inner frame. A plan's segments each fit, are as long
/// as the plan says, and carry every payload byte exactly once, in order.
/// Returns the number of segments (0: not segmented).
pub fn segment(data: &[u8]) -> usize {
    let [m0, m1, k, inner @ ..] = data else {
        return 0;
    };
    let max_inner = usize::from(u16::from_be_bytes([*m0, *m1]) % 9200);
    let kind = match k % 3 {
        1 => PayloadKind::Ipv4,
        2 => PayloadKind::Ipv6,
        _ => PayloadKind::Ethernet,
    };
    let Ok(plan) = TcpSegmentation::plan(inner, kind, max_inner) else {
        return 0;
    };
    let hdr = plan.header_len();
    assert!(plan.frame_len() <= inner.len());
    let mut out = vec![0u8; max_inner.max(hdr)];
    let mut payload = Vec::new();
    for i in 0..plan.count() {
        let n = plan
            .write(inner, i, &mut out)
            .unwrap_or_else(|| panic!("segment {i} of {} not written", plan.count()));
        assert_eq!(n, plan.segment_len(i));
        assert!(n <= max_inner, "segment of {n} bytes, max {max_inner}");
        assert!(n >= hdr);
        payload.extend_from_slice(&out[hdr..n]);
    }
    assert_eq!(plan.write(inner, plan.count(), &mut out), None);
    assert_eq!(payload, inner[hdr..plan.frame_len()], "payload not kept");
    plan.count()
}

/// The ports and VTEP of both access configurations below.
macro_rules! access_head {
    () => {
        r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0, mtu: 1500 }
  - { name: acc, role: access, device: 1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
"#
    };
}

/// The fixed configuration the access classifier is fuzzed against.
pub const ACCESS_CFG: &str = concat!(
    access_head!(),
    r#"tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: r3, remote: 198.18.0.3, vni: 300 }
l2:
  learning: true
  segments:
    - { port: acc, vlan: 10, vni: 100, flood: [198.18.0.2, 198.18.0.3],
        static_macs: [ { mac: "02:00:00:00:00:bb", remote: 198.18.0.2 } ] }
    - { port: acc, vlan: 0, vni: 300, flood: [198.18.0.3] }
decap:
  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }
"#
);

/// The tables of access configuration `text`, with the next hops of
/// 198.18.0.2 and 198.18.0.3 resolved (no other).
fn access_tables_of(text: &str) -> Tables {
    let cfg = geneve_gw::config::load_str(text, "fuzz.yaml").unwrap();
    let neighbors: HashMap<IpAddr, [u8; 6]> = [
        ("198.18.0.2", [2, 0, 0, 0, 0, 2]),
        ("198.18.0.3", [2, 0, 0, 0, 0, 3]),
    ]
    .iter()
    .map(|(a, m)| (a.parse().unwrap(), *m))
    .collect();
    Tables::build(
        &cfg,
        &BuildInputs {
            port_ids: &[0, 1],
            port_macs: &[[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xaa]],
            neighbors: &neighbors,
            learned: &HashMap::new(),
            generation: 1,
            flows: Default::default(),
        },
    )
    .unwrap()
}

pub fn access_tables() -> Tables {
    access_tables_of(ACCESS_CFG)
}

/// MAC number `i` of [`access_ahead_tables`]' segment.
pub fn ahead_mac(i: usize) -> [u8; 6] {
    let b = (i as u16).to_be_bytes();
    [0x02, 0x00, 0x5e, 0x10, b[0], b[1]]
}

/// Tables whose untagged access segment holds `AHEAD_MIN_ENTRIES` static
/// MACs, so that the worker looks its bursts up ahead
/// (`pipeline::AccessAhead`): the MACs behind two resolved remotes and one
/// whose next hop is not resolved (no template).
pub fn access_ahead_tables() -> Tables {
    let remotes = ["198.18.0.2", "198.18.0.3", "198.18.0.4"];
    let mut cfg = String::from(concat!(
        access_head!(),
        r#"tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: t2, remote: 198.18.0.3, vni: 100 }
l2:
  learning: false
  segments:
    - port: acc
      vni: 100
      flood: [198.18.0.2]
      static_macs:
"#
    ));
    for i in 0..AHEAD_MIN_ENTRIES {
        let mac = MacDisplay(&ahead_mac(i)).to_string();
        let remote = remotes[i % remotes.len()];
        cfg.push_str(&format!(
            "        - {{ mac: \"{mac}\", remote: {remote} }}\n"
        ));
    }
    access_tables_of(&cfg)
}

/// The access look-ahead on a large MAC table. Input: a byte (which known
/// MAC, and whether the frame has an RSS hash), then a frame. The burst is
/// the frame as it came and the frame sent to that known MAC (so that
/// fuzzed bytes after a known destination reach the look-ahead's encap).
/// For each, the look-ahead either encapsulates it to exactly the bytes
/// and port the per-packet path gives, or declines and leaves it
/// untouched. Returns how many it took.
pub fn access_ahead(t: &Tables, data: &[u8]) -> Option<usize> {
    let (&p, frame) = data.split_first()?;
    let rss = (p & 1 != 0).then_some(0xabcd_0123);
    let mut known = frame.to_vec();
    if let Some(dst) = known.get_mut(..6) {
        dst.copy_from_slice(&ahead_mac(usize::from(p) * 16));
    }
    let frames = [frame, known.as_slice()];
    let mut ahead = AccessAhead::default();
    assert!(ahead.fill(t, 1, frames.iter().copied()), "a large table");
    let mut taken = 0;
    for (i, f) in frames.iter().enumerate() {
        let mut by_ahead = VecBuffer::with_headroom(256, f);
        let mut by_path = VecBuffer::with_headroom(256, f);
        let path = access_with_cache(t, 1, &mut by_path, rss, &mut MacCache::default());
        match ahead.encap(t, i, &mut by_ahead, rss) {
            Some(x) => {
                let want = if x.vxlan {
                    Outcome::EncappedVxlan(x.port)
                } else {
                    Outcome::Encapped(x.port)
                };
                assert_eq!(path, want, "frame {i}: the per-packet path's outcome");
                assert_eq!(by_ahead.data(), by_path.data(), "frame {i}: its bytes");
                taken += 1;
            }
            None => assert_eq!(by_ahead.data(), *f, "frame {i}: declined, yet changed"),
        }
    }
    Some(taken)
}

/// The access-side classifier. Input: port (1 byte, 0 or 1), then the
/// frame. Classifying never panics; the same frame classified again with
/// the now-warm MAC cache gets the same outcome and the same bytes.
pub fn access(t: &Tables, data: &[u8]) -> Option<Outcome> {
    let (&p, frame) = data.split_first()?;
    let port = u16::from(p & 1);
    let rss = (p & 2 != 0).then_some(0xabcd_0123);
    let mut cache = MacCache::default();
    let mut b1 = VecBuffer::with_headroom(256, frame);
    let o1 = access_with_cache(t, port, &mut b1, rss, &mut cache);
    let mut b2 = VecBuffer::with_headroom(256, frame);
    let o2 = access_with_cache(t, port, &mut b2, rss, &mut cache);
    assert_eq!(o1, o2, "the MAC cache changed the outcome");
    assert_eq!(b1.data(), b2.data(), "the MAC cache changed the frame");
    if let Outcome::Encapped(_) = o1 {
        assert!(b1.data().len() > frame.len());
    }
    Some(o1)
}
