//! VXLAN (RFC 7348) judged by scapy and tshark, both ways: packets our
//! VXLAN templates write are decoded by scapy and tshark with the fields
//! RFC 7348 and the tunnel configuration ask for; packets scapy builds get
//! the expected verdict from decap, and a delivered inner frame is what
//! scapy put there, byte for byte. Skips (with the reason printed) when
//! python3+scapy or tshark is missing.
mod common;

use std::ffi::OsStr;

use common::*;
use geneve_gw::tunnel::{
    encap, Buffer, DscpEncap, EncapTemplate, TtlEncap, TunnelConfig, UdpChecksumTx, VecBuffer,
    Verdict,
};
use geneve_gw::wire::{Encapsulation, Ipv4Packet};

const SCRIPT: &str = "vxlan_oracle.py";

struct Ours {
    name: &'static str,
    cfg: TunnelConfig,
    inner: Vec<u8>,
    rss: Option<u32>,
}

fn vxlan_tunnel(v6: bool, vni: u32) -> TunnelConfig {
    let mut c = tunnel(v6, vni);
    c.encapsulation = Encapsulation::Vxlan;
    c.udp_dst_port = 4789;
    c
}

fn ours() -> Vec<(Ours, Vec<u8>)> {
    let mut list = vec![Ours {
        name: "v4_plain",
        cfg: vxlan_tunnel(false, 5000),
        inner: inner_ipv4_udp(64, 0, 64, 1),
        rss: None,
    }];
    let mut c = vxlan_tunnel(false, 0xabcdef);
    c.udp_checksum = Some(UdpChecksumTx::Compute);
    c.dscp = DscpEncap::Pipe(46);
    c.ttl = TtlEncap::Pipe(17);
    list.push(Ours {
        name: "v4_csum_dscp",
        cfg: c,
        inner: inner_ipv4_udp(200, 0x02, 64, 2),
        rss: Some(77),
    });
    let mut c = vxlan_tunnel(true, 1);
    c.dscp = DscpEncap::Uniform;
    c.ttl = TtlEncap::Uniform { non_ip: 64 };
    list.push(Ours {
        name: "v6_uniform",
        cfg: c,
        inner: inner_ipv4_udp(1400, 0xb9, 55, 3),
        rss: None,
    });
    let mut c = vxlan_tunnel(true, 0xffffff);
    c.udp_checksum = Some(UdpChecksumTx::Zero);
    c.udp_dst_port = 8472;
    list.push(Ours {
        name: "v6_zero_csum_port",
        cfg: c,
        inner: inner_ipv4_udp(60, 0x03, 1, 4),
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn scapy_decodes_our_vxlan_packets() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("vxlan-scapy-decode");
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
        assert_eq!(d["dport"], o.cfg.udp_dst_port, "{n}");
        // RFC 7348: I flag set, every reserved bit zero.
        assert_eq!(d["flags"], 0x08, "{n}");
        assert_eq!(d["reserved1"], 0, "{n}");
        assert_eq!(d["reserved2"], 0, "{n}");
        assert_eq!(d["vni"], o.cfg.vni.get(), "{n}");
        assert_eq!(
            d["payload"],
            hex(&o.inner),
            "{n}: inner frame byte for byte"
        );
        let udp_len = 8 + 8 + o.inner.len();
        assert_eq!(d["udp_len"], udp_len, "{n}");
        let csum = match o.cfg.udp_checksum {
            Some(UdpChecksumTx::Compute) => "ok",
            Some(UdpChecksumTx::Zero) => "zero",
            None if v6 => "ok",
            None => "zero",
        };
        assert_eq!(d["udp_checksum"], csum, "{n}");
        let sport = d["sport"].as_u64().unwrap();
        assert!((49152..=65535).contains(&sport), "{n}: {sport}");
        if let Some(r) = o.rss {
            let t = EncapTemplate::new(&o.cfg).unwrap();
            assert_eq!(sport, u64::from(t.src_port_for(r)), "{n}");
        }
        let (in_tos, in_ttl) = (o.inner[15], o.inner[22]);
        let dscp = match o.cfg.dscp {
            DscpEncap::Pipe(x) => x,
            DscpEncap::Uniform => in_tos >> 2,
        };
        let ttl = match o.cfg.ttl {
            TtlEncap::Pipe(x) => x,
            TtlEncap::Uniform { .. } => in_ttl,
        };
        // RFC 6040 normal mode: the inner ECN field copied out.
        assert_eq!(d["tos"], (dscp << 2) | (in_tos & 3), "{n}");
        assert_eq!(d["ttl"], ttl, "{n}");
        if v6 {
            assert_eq!(d["ip_len"], udp_len, "{n}");
        } else {
            assert_eq!(d["ip_len"], udp_len + 20, "{n}");
            assert_eq!(d["ip_checksum_ok"], true, "{n}");
            assert_eq!(d["df"], true, "{n}");
        }
        assert_eq!(f.len(), 14 + if v6 { 40 } else { 20 } + udp_len);
    }
}

#[test]
fn tshark_decodes_our_vxlan_packets() {
    if !have_tshark() {
        return;
    }
    let dir = scratch("vxlan-tshark-decode");
    let pcap = dir.join("ours.pcap");
    let built = ours();
    write_pcap(
        &pcap,
        &built.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
    );
    let fields = [
        "vxlan.flags",
        "vxlan.flag_i",
        "vxlan.vni",
        "vxlan.reserved8",
        "vxlan.gbp",
        "udp.dstport",
        "udp.checksum.status",
        "ip.checksum.status",
        "eth.dst",
    ];
    let rows = tshark_fields(
        &pcap,
        &[
            "-d",
            "udp.port==8472,vxlan",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-E",
            "occurrence=a",
        ],
        &fields,
    );
    // Every occurrence of a field, outer first: the first of each.
    assert_eq!(rows.len(), built.len(), "{rows:?}");
    for ((o, _), all) in built.iter().zip(&rows) {
        let n = o.name;
        assert_eq!(
            all[8], "02:00:00:00:00:0a,02:11:00:00:00:01",
            "{n}: inner frame found"
        );
        let r: Vec<&str> = all
            .iter()
            .map(|f| f.split(',').next().unwrap_or(""))
            .collect();
        assert_eq!(parse_num(r[0]), 0x0800, "{n} flags {}", r[0]);
        assert!(r[1] == "1" || r[1] == "True", "{n} valid vni {}", r[1]);
        assert_eq!(parse_num(r[2]), u64::from(o.cfg.vni.get()), "{n} vni");
        // tshark reads bytes 2-3 as the Group Policy extension's field:
        // reserved in RFC 7348, zero here.
        assert_eq!(parse_num(r[3]), 0, "{n} reserved");
        assert_eq!(parse_num(r[4]), 0, "{n} reserved (gbp)");
        assert_eq!(r[5], o.cfg.udp_dst_port.to_string(), "{n}");
        let v6 = o.cfg.src.is_ipv6();
        let computed = matches!(o.cfg.udp_checksum, Some(UdpChecksumTx::Compute))
            || (v6 && o.cfg.udp_checksum.is_none());
        assert!(
            if computed {
                r[6] == "1"
            } else if v6 {
                // A zero checksum over IPv6 is "illegal" (4) to tshark: RFC
                // 8200 forbids it, RFC 6935 allows it for tunnels.
                r[6] == "4"
            } else {
                r[6] == "2" || r[6] == "3"
            },
            "{n} udp checksum status {}",
            r[6]
        );
        if !v6 {
            assert_eq!(r[7], "1", "{n} ip checksum status");
        }
    }
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
fn scapy_built_vxlan_packets_get_expected_verdicts() {
    if !have_scapy() {
        return;
    }
    let dir = scratch("vxlan-scapy-build");
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
    cfg.vxlan_port = Some(4789);
    let d = geneve_gw::tunnel::Decapsulator::new(cfg);
    for (name, f) in names.iter().zip(&frames) {
        let want = match name.as_str() {
            "v4_plain" | "v4_udp_checksum" | "v4_reserved_set" | "v6_plain"
            | "ecn_ce_over_ect0" => "deliver:5000",
            "v4_vni_max" => "deliver:16777215",
            "v6_zero_checksum" => "udp_zero_checksum_ipv6",
            "v6_bad_checksum" | "bad_udp_checksum" => "udp_bad_checksum",
            "no_i_flag" | "only_reserved_flags" => "vxlan_no_i_flag",
            "truncated" => "vxlan_truncated",
            "inner_short" => "inner_malformed",
            "other_port" => "wrong_udp_port",
            "ecn_ce_over_not_ect" => "ecn_ce_over_not_ect",
            other => panic!("case {other} has no expectation"),
        };
        let v = d.decap(f);
        let got = match v {
            Verdict::Deliver(del) => {
                assert_eq!(del.encap, Encapsulation::Vxlan, "{name}");
                format!("deliver:{}", del.vni.get())
            }
            Verdict::Control(_) => "control".into(),
            Verdict::Drop(r) => r.as_str().into(),
        };
        assert_eq!(got, want, "scapy case {name}");
        if let Verdict::Deliver(del) = v {
            let mut b = VecBuffer::with_headroom(0, f);
            assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
            assert_eq!(b.len(), usize::from(del.payload_len));
            // The inner frame starts right after the 8-byte VXLAN header.
            let off = usize::from(del.payload_offset);
            let vx = off - 8;
            assert_eq!(u16::from_be_bytes([f[vx - 6], f[vx - 5]]), 4789, "{name}");
            if name == "ecn_ce_over_ect0" {
                let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
                assert_eq!(ip.ecn(), geneve_gw::wire::Ecn::Ce, "CE propagated");
                assert!(ip.verify_checksum());
            } else {
                assert_eq!(b.data(), &f[off..off + b.len()], "{name}");
            }
        }
    }
    assert_eq!(names.len(), 15);
}
