//! Every capture in tests/data/vectors/ gets the verdict its README gives.
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{data_path, read_pcap};
use geneve_gw::tunnel::{
    DecapConfig, Decapsulator, DropReason, KnownOption, OptionRegistry, PayloadKind, Verdict,
};

fn frames(rel: &str) -> Vec<Vec<u8>> {
    let (lt, f) = read_pcap(&data_path(&format!("vectors/{rel}")));
    assert_eq!(lt, 1, "{rel}: Ethernet link type");
    assert!(!f.is_empty());
    f
}

/// A decapsulator whose local addresses are the captures' destinations.
fn dec_with(registry: OptionRegistry) -> Decapsulator {
    let v4 = [
        "20.0.0.1",
        "20.0.0.2",
        "10.25.132.13",
        "10.0.0.2",
        "192.168.100.1",
        "192.168.100.3",
    ];
    let v6 = ["2604:1380:4091:ce00::d"];
    let mut c = DecapConfig::new(
        v4.iter().map(|a| a.parse::<Ipv4Addr>().unwrap()).collect(),
        v6.iter().map(|a| a.parse::<Ipv6Addr>().unwrap()).collect(),
    );
    c.registry = registry;
    Decapsulator::new(c)
}

fn dec() -> Decapsulator {
    dec_with(OptionRegistry::new())
}

#[test]
fn tcpdump_geneve_pcap() {
    let d = dec();
    let (mut n_a, mut n_b) = (0, 0);
    for f in frames("tcpdump/geneve.pcap") {
        // VNI from the raw bytes: IPv4 (IHL 5) + UDP, Geneve at 42.
        let vni = u32::from_be_bytes([0, f[46], f[47], f[48]]);
        match vni {
            0xb => {
                n_b += 1;
                let Verdict::Deliver(del) = d.decap(&f) else {
                    panic!("VNI 0xb: {:?}", d.decap(&f))
                };
                assert_eq!(del.vni.get(), 0xb);
                assert_eq!(del.payload, PayloadKind::Ethernet);
                assert_eq!(del.options.count, 0);
                let off = usize::from(del.payload_offset);
                assert_eq!(off, 50);
                // The inner frame comes out unchanged (the outer IP length
                // covers the whole frame: no padding here).
                assert_eq!(usize::from(del.payload_len), f.len() - 50);
                assert!(!del.inner.changed);
                assert!(matches!(del.src_vtep(), IpAddr::V4(_)));
            }
            0xa => {
                n_a += 1;
                assert_eq!(
                    d.decap(&f),
                    Verdict::Drop(DropReason::UnknownCriticalOption)
                );
            }
            v => panic!("unexpected VNI {v:#x}"),
        }
    }
    assert_eq!((n_a, n_b), (19, 20));
}

#[test]
fn tcpdump_geneve_pcap_option_understood() {
    let reg = OptionRegistry::from_options([KnownOption {
        class: 0,
        typ: 0x80,
        name: "tcpdump-test".into(),
        len_words: Some(1),
    }])
    .unwrap();
    let d = dec_with(reg);
    let mut n = 0;
    for f in frames("tcpdump/geneve.pcap") {
        let Verdict::Deliver(del) = d.decap(&f) else {
            panic!("{:?}", d.decap(&f))
        };
        if del.vni.get() == 0xa {
            n += 1;
            assert_eq!(del.options.count, 1);
            assert_eq!(del.options.critical, 1);
            assert_eq!(del.options.known, 1);
            assert_eq!(del.options_len, 8);
            assert_eq!(del.payload_offset, 58);
        }
    }
    assert_eq!(n, 19);
    // Registered with the wrong length: a counted drop of its own.
    let reg = OptionRegistry::from_options([KnownOption {
        class: 0,
        typ: 0x80,
        name: "t".into(),
        len_words: Some(2),
    }])
    .unwrap();
    let d = dec_with(reg);
    let f = frames("tcpdump/geneve.pcap")
        .into_iter()
        .find(|f| f[48] == 0xa)
        .unwrap();
    assert_eq!(d.decap(&f), Verdict::Drop(DropReason::KnownOptionBadLength));
}

#[test]
fn tcpdump_geneve_gcp() {
    let f = &frames("tcpdump/geneve-gcp.pcap")[0];
    let Verdict::Deliver(del) = dec().decap(f) else {
        panic!()
    };
    assert_eq!(del.vni.get(), 0);
    assert_eq!(del.payload, PayloadKind::Ipv4);
    assert_eq!(del.options.count, 3);
    assert_eq!(del.options.critical, 0);
    // Option sizes with their 4-byte headers: 8 + 20 + 12 (tcpdump geneve-gcp.out).
    assert_eq!(del.options_len, 8 + 20 + 12);
    let inner = &f[usize::from(del.payload_offset)..];
    assert_eq!(
        inner[0] >> 4,
        4,
        "inner IPv4 header right after the options"
    );
    assert_eq!(del.inner.l3_offset, del.payload_offset);
}

#[test]
fn zeek_geneve() {
    let d = dec();
    let fs = frames("zeek/geneve.pcap");
    assert_eq!(fs.len(), 6);
    let mut with_opt = 0;
    for f in &fs {
        let Verdict::Deliver(del) = d.decap(f) else {
            panic!("{:?}", d.decap(f))
        };
        assert_eq!(del.vni.get(), 0);
        assert_eq!(del.payload, PayloadKind::Ethernet);
        if del.options.count == 1 {
            with_opt += 1;
            assert_eq!(del.options.critical, 0);
        }
    }
    assert_eq!(with_opt, 3);
}

#[test]
fn zeek_geneve_ipv6_payload() {
    let d = dec();
    let fs = frames("zeek/geneve-ipv6.pcap");
    assert_eq!(fs.len(), 2);
    for f in &fs {
        let Verdict::Deliver(del) = d.decap(f) else {
            panic!("{:?}", d.decap(f))
        };
        assert_eq!(del.vni.get(), 0x123456);
        assert_eq!(del.payload, PayloadKind::Ipv6);
        assert_eq!(f[usize::from(del.payload_offset)] >> 4, 6);
        assert!(del.inner.ipv6);
    }
}

#[test]
fn zeek_geneve_arp() {
    let f = &frames("zeek/geneve-arp.pcap")[0];
    assert_eq!(
        dec().decap(f),
        Verdict::Drop(DropReason::UnsupportedProtocol)
    );
}

#[test]
fn gso_and_bigtcp() {
    let d = dec();
    let cases = [
        ("tcpdump/gso-ipv4-geneve-ipv4.pcap", None),
        ("tcpdump/gso-ipv4-geneve-ipv6.pcap", None),
        (
            "tcpdump/gso-ipv6-geneve-ipv4.pcap",
            Some(DropReason::UdpBadChecksum),
        ),
        (
            "tcpdump/gso-ipv6-geneve-ipv6.pcap",
            Some(DropReason::UdpBadChecksum),
        ),
        (
            "tcpdump/bigtcp-ipv4-geneve-ipv4.pcap",
            Some(DropReason::Ipv4BadLength),
        ),
        (
            "tcpdump/bigtcp-ipv4-geneve-ipv6.pcap",
            Some(DropReason::Ipv4BadLength),
        ),
        (
            "tcpdump/bigtcp-ipv6-geneve-ipv4.pcap",
            Some(DropReason::Ipv6BadLength),
        ),
        (
            "tcpdump/bigtcp-ipv6-geneve-ipv6.pcap",
            Some(DropReason::Ipv6BadLength),
        ),
    ];
    for (file, want) in cases {
        for f in frames(file) {
            let v = d.decap(&f);
            match want {
                Some(r) => assert_eq!(v, Verdict::Drop(r), "{file}"),
                None => {
                    let Verdict::Deliver(del) = v else {
                        panic!("{file}: {v:?}")
                    };
                    assert_eq!(del.vni.get(), 0x1389, "{file}");
                    assert_eq!(
                        usize::from(del.payload_offset) + usize::from(del.payload_len),
                        f.len()
                    );
                }
            }
            // Robustness: every prefix of every capture is handled without panic.
            for n in (0..f.len()).step_by(1 + f.len() / 512) {
                let _ = d.decap(&f[..n]);
            }
        }
    }
}

#[test]
fn every_capture_is_covered() {
    // Guard: a capture added to tests/data/vectors must get a test above.
    let mut names = Vec::new();
    for sub in ["tcpdump", "zeek"] {
        for e in std::fs::read_dir(data_path(&format!("vectors/{sub}"))).unwrap() {
            let n = e.unwrap().file_name().into_string().unwrap();
            if n.ends_with(".pcap") {
                names.push(format!("{sub}/{n}"));
            }
        }
    }
    names.sort();
    assert_eq!(names.len(), 13, "{names:?}");
}
