//! scapy and tshark as independent oracles, both ways:
//! packets we build are decoded by scapy and by tshark with the expected
//! field values; packets scapy builds get the expected verdict from decap.
//! Skips (with the reason printed) when python3+scapy or tshark is missing.
mod common;

use std::ffi::OsStr;

use common::*;
use geneve_gw::tunnel::{
    encap, Buffer, DropReason, DscpEncap, EncapTemplate, KnownOption, OptionRegistry, PayloadKind,
    TtlEncap, TunnelConfig, TunnelOption, UdpChecksumTx, VecBuffer, Verdict,
};
use geneve_gw::wire::Ipv4Packet;

const SCRIPT: &str = "geneve_oracle.py";

/// What we expect of one packet we build.
struct Ours {
    name: &'static str,
    cfg: TunnelConfig,
    inner: Vec<u8>,
    rss: Option<u32>,
}

fn ours() -> Vec<(Ours, Vec<u8>)> {
    let opt = |class: u16, typ: u8, words: usize| TunnelOption {
        class,
        typ,
        data: (0..words * 4).map(|i| (i * 7) as u8).collect(),
    };
    let mut list = Vec::new();
    let c = tunnel(false, 100);
    list.push(Ours {
        name: "v4_plain",
        cfg: c,
        inner: inner_ipv4_udp(64, 0, 64, 1),
        rss: None,
    });
    let mut c = tunnel(false, 0xabcdef);
    c.options = vec![opt(0x0102, 0x81, 1), opt(0xffff, 0x01, 3), opt(0, 0, 0)];
    c.udp_checksum = Some(UdpChecksumTx::Compute);
    c.dscp = DscpEncap::Pipe(46);
    c.ttl = TtlEncap::Pipe(17);
    list.push(Ours {
        name: "v4_opts_csum",
        cfg: c,
        inner: inner_ipv4_udp(200, 0x02, 64, 2),
        rss: Some(77),
    });
    let mut c = tunnel(true, 7);
    c.options = vec![opt(0x0103, 0x05, 31)];
    c.vlan = Some(300);
    list.push(Ours {
        name: "v6_opt31_vlan",
        cfg: c,
        inner: inner_ipv4_udp(1500, 0x03, 64, 3),
        rss: None,
    });
    let mut c = tunnel(true, 8);
    c.payload = PayloadKind::Ipv6;
    c.oam = true;
    list.push(Ours {
        name: "v6_l3_oam",
        cfg: c,
        inner: inner_ipv6_udp(100, 0, 9),
        rss: None,
    });
    // The IPv6 fast tier (no VLAN, Ethernet payload): the checksum summed
    // in one pass over the inner frame, odd and even lengths, with options.
    list.push(Ours {
        name: "v6_fast_plain",
        cfg: tunnel(true, 10),
        inner: inner_ipv4_udp(60, 0x01, 64, 5),
        rss: None,
    });
    let mut c = tunnel(true, 0xfffff);
    c.options = vec![opt(0xffff, 0x7f, 2)];
    list.push(Ours {
        name: "v6_fast_opts_odd",
        cfg: c,
        inner: inner_ipv4_udp(333, 0xfe, 1, 6),
        rss: Some(0xffff_ffff),
    });
    let mut c = tunnel(false, 9);
    c.payload = PayloadKind::Ipv4;
    c.dscp = DscpEncap::Uniform;
    c.ttl = TtlEncap::Uniform { non_ip: 64 };
    list.push(Ours {
        name: "v4_l3_uniform",
        cfg: c,
        inner: inner_ipv4_udp(90, 0xb9, 55, 4)[14..].to_vec(),
        rss: None,
    });
    list.into_iter()
        .map(|o| {
            let t = EncapTemplate::new(&o.cfg).unwrap();
            let mut b = VecBuffer::with_headroom(t.header_len(), &o.inner);
            encap(&t, &mut b, o.rss).unwrap();
            let f = b.to_vec();
            (o, f)
        })
        .collect()
}

#[test]
fn scapy_decodes_our_packets() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("scapy-decode");
    let pcap = dir.join("ours.pcap");
    let built = ours();
    write_pcap(
        &pcap,
        &built.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
    );
    let out = scapy(SCRIPT, [OsStr::new("decode"), pcap.as_os_str()]);
    let lines: Vec<_> = out.lines().map(json).collect();
    assert_eq!(lines.len(), built.len());
    for ((o, f), d) in built.iter().zip(&lines) {
        let n = o.name;
        let v6 = o.cfg.src.is_ipv6();
        assert_eq!(d["l3"], if v6 { "ipv6" } else { "ipv4" }, "{n}");
        assert_eq!(d["src"], o.cfg.src.to_string(), "{n}");
        assert_eq!(d["dst"], o.cfg.dst.to_string(), "{n}");
        assert_eq!(d["dport"], 6081, "{n}");
        assert_eq!(d["version"], 0, "{n}");
        assert_eq!(d["vni"], o.cfg.vni.get(), "{n}");
        assert_eq!(d["proto"], o.cfg.payload.ethertype(), "{n}");
        assert_eq!(d["oam"], u8::from(o.cfg.oam), "{n}");
        let crit = o.cfg.options.iter().any(|x| x.typ & 0x80 != 0);
        assert_eq!(d["critical"], u8::from(crit), "{n}");
        let opt_bytes: usize = o.cfg.options.iter().map(|x| 4 + x.data.len()).sum();
        assert_eq!(d["optionlen"], opt_bytes / 4, "{n}");
        let opts = d["options"].as_array().unwrap();
        assert_eq!(opts.len(), o.cfg.options.len(), "{n}");
        for (got, want) in opts.iter().zip(&o.cfg.options) {
            assert_eq!(got[0], want.class, "{n}");
            assert_eq!(got[1], want.typ, "{n}");
            assert_eq!(got[2], want.data.len() / 4, "{n}");
            assert_eq!(got[3], hex(&want.data), "{n}");
        }
        assert_eq!(
            d["payload"],
            hex(&o.inner),
            "{n}: inner packet byte for byte"
        );
        let udp_len = 8 + 8 + opt_bytes + o.inner.len();
        assert_eq!(d["udp_len"], udp_len, "{n}");
        let csum_expected = match o.cfg.udp_checksum {
            Some(UdpChecksumTx::Compute) => "ok",
            Some(UdpChecksumTx::Zero) => "zero",
            None if v6 => "ok",
            None => "zero",
        };
        assert_eq!(d["udp_checksum"], csum_expected, "{n}");
        let sport = d["sport"].as_u64().unwrap();
        assert!((49152..=65535).contains(&sport), "{n}: {sport}");
        if let Some(r) = o.rss {
            let t = EncapTemplate::new(&o.cfg).unwrap();
            assert_eq!(sport, u64::from(t.src_port_for(r)), "{n}");
        }
        assert_eq!(d["vlan"], serde_json::to_value(o.cfg.vlan).unwrap(), "{n}");
        // TOS / TTL per policy; ECN copied from the inner (RFC 6040 normal mode).
        let inner_l3 = if o.cfg.payload == PayloadKind::Ethernet {
            &o.inner[14..]
        } else {
            &o.inner[..]
        };
        let (in_tos, in_ttl) = if inner_l3[0] >> 4 == 4 {
            (inner_l3[1], inner_l3[8])
        } else {
            (((inner_l3[0] & 0xf) << 4) | (inner_l3[1] >> 4), inner_l3[7])
        };
        let dscp = match o.cfg.dscp {
            DscpEncap::Pipe(x) => x,
            DscpEncap::Uniform => in_tos >> 2,
        };
        let ttl = match o.cfg.ttl {
            TtlEncap::Pipe(x) => x,
            TtlEncap::Uniform { .. } => in_ttl,
        };
        assert_eq!(d["tos"], (dscp << 2) | (in_tos & 3), "{n}");
        assert_eq!(d["ttl"], ttl, "{n}");
        if v6 {
            assert_eq!(d["ip_len"], udp_len, "{n}");
        } else {
            assert_eq!(d["ip_len"], udp_len + 20, "{n}");
            assert_eq!(d["ip_checksum_ok"], true, "{n}");
            assert_eq!(d["df"], true, "{n}");
        }
        assert!(f.len() > udp_len);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn tshark_decodes_our_packets() {
    if !have_tshark() {
        return;
    }
    let dir = scratch("tshark-decode");
    let pcap = dir.join("ours.pcap");
    let built = ours();
    write_pcap(
        &pcap,
        &built.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
    );
    let fields = [
        "geneve.version",
        "geneve.flags.oam",
        "geneve.flags.critical",
        "geneve.proto_type",
        "geneve.vni",
        "geneve.option.class",
        "geneve.option.type",
        "geneve.option.type.critical",
        "geneve.option.length",
        "udp.dstport",
        "udp.checksum.status",
        "ip.checksum.status",
        "_ws.expert",
    ];
    // occurrence=f takes the first (outer) IP/UDP; Geneve fields are unique
    // per packet except options, which we ask for separately below.
    let rows = tshark_fields(
        &pcap,
        &[
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-E",
            "occurrence=f",
        ],
        &fields,
    );
    assert_eq!(rows.len(), built.len(), "{rows:?}");
    for ((o, _), row) in built.iter().zip(&rows) {
        let r: Vec<&str> = row.iter().map(String::as_str).collect();
        let n = o.name;
        assert_eq!(r[0], "0", "{n} version");
        assert_eq!(r[1] == "1" || r[1] == "True", o.cfg.oam, "{n} oam {}", r[1]);
        let crit = o.cfg.options.iter().any(|x| x.typ & 0x80 != 0);
        assert_eq!(r[2] == "1" || r[2] == "True", crit, "{n} critical {}", r[2]);
        assert_eq!(
            parse_num(r[3]),
            u64::from(o.cfg.payload.ethertype()),
            "{n} proto"
        );
        assert_eq!(parse_num(r[4]), u64::from(o.cfg.vni.get()), "{n} vni");
        assert_eq!(r[9], "6081", "{n}");
        // Checksum status: 1 = good; a zero UDP checksum is 2 (unverified)
        // or 3 (not present) depending on the tshark version.
        let v6 = o.cfg.src.is_ipv6();
        let computed = matches!(o.cfg.udp_checksum, Some(UdpChecksumTx::Compute))
            || (v6 && o.cfg.udp_checksum.is_none());
        assert!(
            if computed {
                r[10] == "1"
            } else {
                r[10] == "2" || r[10] == "3"
            },
            "{n} udp checksum status"
        );
        if !v6 {
            assert_eq!(r[11], "1", "{n} ip checksum status");
        }
    }
    // All option occurrences of the packet with options.
    let rows = tshark_fields(
        &pcap,
        &["-Y", "geneve.vni == 0xabcdef"],
        &[
            "geneve.option.class",
            "geneve.option.type",
            "geneve.option.length",
        ],
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    let classes: Vec<u64> = r[0].split(',').map(parse_num).collect();
    let types: Vec<u64> = r[1].split(',').map(parse_num).collect();
    let lens: Vec<u64> = r[2].split(',').map(parse_num).collect();
    assert_eq!(classes, vec![0x0102, 0xffff, 0]);
    assert_eq!(types, vec![0x81, 0x01, 0]);
    // tshark reports each option's length in bytes including its 4-byte
    // header (8, 16, 4), preceded by the total options length (28).
    assert_eq!(lens, vec![28, 8, 16, 4]);
}

fn parse_num(s: &str) -> u64 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("{s}"))
    } else {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
    }
}

#[test]
fn scapy_built_packets_get_expected_verdicts() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("scapy-build");
    let pcap = dir.join("scapy.pcap");
    let names = json(&scapy(SCRIPT, [OsStr::new("build"), pcap.as_os_str()]));
    let names: Vec<String> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let (_, frames) = read_pcap(&pcap);
    assert_eq!(names.len(), frames.len());
    let mut cfg = decap_cfg();
    cfg.max_options = 8;
    cfg.registry = OptionRegistry::from_options([KnownOption {
        class: 0x0102,
        typ: 0x81,
        name: "scapy-known".into(),
        len_words: Some(1),
    }])
    .unwrap();
    let mut cfg7 = cfg.clone();
    let d = geneve_gw::tunnel::Decapsulator::new(cfg);
    let mut checked = 0;
    for (name, f) in names.iter().zip(&frames) {
        let v = d.decap(f);
        let want: &str = match name.as_str() {
            "v4_plain" | "v4_udp_checksum" | "v4_opt_len0" | "v4_opt_len1" | "v4_opt_len31"
            | "v4_opts_mixed" | "v4_opt_len63" | "v4_known_critical" | "v6_plain"
            | "ecn_ce_over_ect0" => "deliver:eth",
            "v4_l3_ipv4" | "v6_l3_ipv4" => "deliver:ipv4",
            "v4_l3_ipv6" => "deliver:ipv6",
            "v4_oam" => "control",
            "v4_known_critical_bad_len" => "known_option_bad_length",
            "v4_unknown_critical" | "v4_unknown_critical_c_clear" => "unknown_critical_option",
            "v4_too_many_options" => "too_many_options",
            "v4_arp_payload" | "v4_unknown_proto" => "unsupported_protocol",
            "v6_zero_checksum" => "udp_zero_checksum_ipv6",
            "v6_bad_checksum" | "bad_udp_checksum" => "udp_bad_checksum",
            "bad_version" | "bad_version3" => "geneve_bad_version",
            "opt_len_past_frame" => "geneve_opt_len_past_frame",
            "tlv_overrun" => "option_overrun",
            "wrong_port" => "wrong_udp_port",
            "bad_ip_checksum" => "ipv4_bad_checksum",
            "ip_fragment" => "ip_fragment",
            "not_local" => "not_local_address",
            "geneve_truncated" => "geneve_truncated",
            "ecn_ce_over_not_ect" => "ecn_ce_over_not_ect",
            // No vtep.vlan: every tagged frame is dropped, counted.
            "v4_vlan7" | "v4_vlan8" | "v4_qinq7" => "underlay_vlan",
            other => panic!("case {other} has no expectation"),
        };
        let got = match v {
            Verdict::Deliver(del) => {
                format!(
                    "deliver:{}",
                    match del.payload {
                        PayloadKind::Ethernet => "eth",
                        PayloadKind::Ipv4 => "ipv4",
                        PayloadKind::Ipv6 => "ipv6",
                    }
                )
            }
            Verdict::Control(_) => "control".into(),
            Verdict::Drop(r) => r.as_str().into(),
        };
        assert_eq!(got, want, "scapy case {name}");
        checked += 1;
        // Deliver: the inner packet is what scapy put there.
        if let Verdict::Deliver(del) = v {
            let mut b = VecBuffer::with_headroom(0, f);
            assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
            assert_eq!(b.len(), usize::from(del.payload_len));
            if name == "ecn_ce_over_ect0" {
                let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
                assert_eq!(
                    ip.ecn(),
                    geneve_gw::wire::Ecn::Ce,
                    "CE propagated to the inner header"
                );
                assert!(ip.verify_checksum());
            } else {
                assert_eq!(b.data(), &f[usize::from(del.payload_offset)..][..b.len()]);
            }
        }
    }
    assert_eq!(checked, 36);
    // vtep.vlan 7: one tag of VID 7 is the underlay; VID 8 and QinQ are not.
    cfg7.underlay_vlan = Some(7);
    let d7 = geneve_gw::tunnel::Decapsulator::new(cfg7);
    for (name, f) in names.iter().zip(&frames) {
        let want = match name.as_str() {
            "v4_vlan7" => None,
            "v4_vlan8" | "v4_qinq7" => Some(DropReason::UnderlayVlan),
            _ => continue,
        };
        match (d7.decap(f), want) {
            (Verdict::Deliver(del), None) => {
                // The inner frame scapy built, after the 18-byte tagged header.
                assert_eq!(del.payload_offset, 18 + 20 + 8 + 8, "{name}");
            }
            (Verdict::Drop(r), Some(w)) => assert_eq!(r, w, "{name}"),
            (v, w) => panic!("{name}: got {v:?}, want {w:?}"),
        }
    }
}
