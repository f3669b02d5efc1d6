//! Too-big inner TCP end to end through `net_pcap`: a 6000-byte inner frame
//! (it arrives as a chained mbuf: the pool's data room follows the 1500-byte
//! MTUs, 2 KiB) leaves the
//! underlay as Geneve segments, each within the 1500-byte MTU, each with the
//! tunnel's option, the checksums good for tshark (an outside decoder), and
//! the inner payloads concatenated equal to the original. A too-big UDP
//! frame stays a counted `encap_too_big` drop.
mod common;

use std::path::Path;
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports};
use common::{have_tshark, read_pcap, scratch, skip, tshark, write_pcap};
use geneve_gw::wire::checksum;

const PAYLOAD: usize = 6000;
const OPTION: [u8; 8] = [0x01, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x2a];

/// Tagged (VLAN 10) Ethernet / IPv4 / `proto` frame with `payload` bytes
/// after a 20-byte TCP (or 8-byte UDP) header; checksums valid.
fn inner(proto: u8, payload: usize) -> Vec<u8> {
    let mut f = vec![
        2, 0, 0, 0, 0x0b, 1, 2, 0, 0, 0, 0x0a, 1, 0x81, 0, 0, 10, 8, 0,
    ];
    let l4_len = if proto == 6 { 20 } else { 8 } + payload;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    f.extend_from_slice(&[
        0x12, 0x34, 0x40, 0, 64, proto, 0, 0, 198, 19, 0, 1, 198, 19, 0, 2,
    ]);
    let c = checksum::checksum(&f[18..38]);
    f[28..30].copy_from_slice(&c.to_be_bytes());
    if proto == 6 {
        f.extend_from_slice(&[0x9c, 0x40, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x50, 0x19, 0x20, 0, 0, 0, 0, 0]); // FIN PSH ACK
    } else {
        f.extend_from_slice(&[0x9c, 0x40, 0x00, 0x09]);
        f.extend_from_slice(&(l4_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend((0..payload).map(|i| (i % 251) as u8));
    let sum = checksum::l4_checksum_v4(&[198, 19, 0, 1], &[198, 19, 0, 2], proto, &f[38..]);
    let at = if proto == 6 { 38 + 16 } else { 38 + 6 };
    f[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    f
}

fn config(dir: &Path, mtu: u16) -> String {
    let [ul, acc] = gw::pcap_devices(dir);
    let prefix = format!("gwseg-{}", std::process::id());
    let ports = Ports {
        underlay_mtu: mtu,
        access_mtu: 1500,
        ..Ports::new(&ul, &acc, &prefix)
    };
    ports.yaml()
        + r#"vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
options:
  registry:
    - { name: demo-tag, class: 0x0102, type: 0x01, length: 4 }
tunnels:
  - { name: b, remote: 198.18.0.2, vni: 100, options: [ { name: demo-tag, data: "0000002a" } ] }
l2:
  learning: false
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: []
      static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ]
"#
}

/// The inner frame's length in an encapsulated frame.
fn inner_len(f: &[u8]) -> usize {
    f.len() - (14 + 20 + 8 + 8 + OPTION.len())
}

#[test]
fn too_big_inner_tcp_leaves_as_geneve_segments_within_the_mtu() {
    // The access side strips the VLAN tag: 1500 - 20 (IP) - 8 (UDP) - 16
    // (Geneve + option) - 14 (inner Ethernet) - 40 (IP + TCP) = 1402 bytes
    // of TCP payload per segment. The UDP frame is dropped.
    run_case(1500, 1402, "encap_too_big");
}

#[test]
fn with_a_jumbo_underlay_frames_that_fit_the_tunnel_leave_whole() {
    // Underlay MTU 9000: the pool's data room follows the largest MTU, so
    // the 6 KiB TCP frame and the 3000-byte UDP frame arrive in one mbuf
    // each, fit the tunnel and leave encapsulated whole, byte for byte.
    let _slot = dpdk_slot();
    let dir = scratch("gw-segment-9000");
    let tcp = inner(6, PAYLOAD);
    let udp = inner(17, 3000);
    write_pcap(&dir.join("acc_in.pcap"), &[tcp.clone(), udp.clone()]);
    write_pcap(&dir.join("ul_in.pcap"), &[]);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, config(&dir, 9000)).unwrap();
    let args = strings(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--stop-after-packets",
        "2",
        "--stop-after-idle",
        "2000",
    ]);
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert_eq!(r.value("encap "), 2, "{}", r.stdout);
    assert_eq!(r.value("tso segments "), 0, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    let (_, frames) = read_pcap(&dir.join("ul_out.pcap"));
    let outer = 14 + 20 + 8 + 8 + OPTION.len();
    assert_eq!(frames.len(), 2);
    for (f, input) in frames.iter().zip([&tcp, &udp]) {
        // The access side strips the VLAN tag (4 bytes after the MACs).
        assert_eq!(&f[outer..outer + 12], &input[..12]);
        assert_eq!(&f[outer + 12..], &input[16..]);
    }
}

fn run_case(mtu: u16, mss: usize, udp_drop: &str) {
    let _slot = dpdk_slot();
    let dir = scratch(&format!("gw-segment-{mtu}"));
    let tcp = inner(6, PAYLOAD);
    write_pcap(&dir.join("acc_in.pcap"), &[tcp.clone(), inner(17, 3000)]);
    write_pcap(&dir.join("ul_in.pcap"), &[]);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, config(&dir, mtu)).unwrap();
    let args = strings(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--stop-after-packets",
        "2",
        "--stop-after-idle",
        "2000",
    ]);
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();

    let n = PAYLOAD.div_ceil(mss);
    assert_eq!(r.value("tso segments "), n as u64, "{}", r.stdout);
    assert_eq!(r.value("encap "), 1, "{}", r.stdout);
    assert_eq!(r.value(&format!("drop {udp_drop} ")), 1, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 1, "{}", r.stdout);

    let (_, frames) = read_pcap(&dir.join("ul_out.pcap"));
    assert_eq!(frames.len(), n);
    let outer = 14 + 20 + 8 + 8 + OPTION.len();
    let mut payload = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        assert!(
            f.len() - 14 <= usize::from(mtu),
            "segment {i}: {} bytes",
            f.len()
        );
        assert!(inner_len(f) <= 2048, "segment {i} fits one mbuf");
        assert_eq!(&f[outer - 8..outer], &OPTION, "option in segment {i}");
        let inner = &f[outer..];
        // The inner VLAN is stripped on the access side: untagged inner.
        assert_eq!(&inner[12..14], &[8, 0]);
        let seq = u32::from_be_bytes(inner[38..42].try_into().unwrap());
        assert_eq!(seq, 0x1000 + (i * mss) as u32, "segment {i}");
        let fin_psh = inner[14 + 20 + 13] & 0x09;
        assert_eq!(fin_psh, if i + 1 == n { 0x09 } else { 0 }, "segment {i}");
        payload.extend_from_slice(&inner[14 + 40..]);
    }
    assert_eq!(payload, tcp[18 + 40..], "reassembled payload");

    if !have_tshark() {
        skip("the tshark part: checksums checked by the byte checks only");
        return;
    }
    let text = tshark(
        &dir.join("ul_out.pcap"),
        [
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "geneve.option.class",
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n, "{text}");
    for l in lines {
        // Outer and inner IPv4 good (1), inner TCP good, option decoded.
        assert_eq!(l, "1,1\t1\t0x0102", "{text}");
    }
}
