//! Frame sizes through `net_pcap`, scapy building every input and checking
//! every output.
//!
//! Jumbo frames through `net_pcap`: with `mtu: 9000` on the access port
//! (9100 on the underlay, room for the outer headers), scapy builds frames
//! of 1,500, 4,000 and 9,000 B each way; the gateway must encapsulate and
//! decapsulate them byte for byte (scapy checks the output). Past every MTU
//! and the mbuf: a Geneve frame is a counted `frame_over_mtu` drop, not a
//! truncated one; an access frame (a chain, kept for the segmentation path)
//! that is not TCP is `encap_too_big` (with ICMP back: it has DF).
//!
//! The egress MTU both ways through `net_pcap` (RFC 8926 section 4.4.1):
//! an inner IPv4 packet with DF or an IPv6 packet that does not fit the
//! tunnel gets ICMP Fragmentation Needed / Packet Too Big back (checked by
//! scapy: type, code, MTU from the configuration, checksums, the quoted
//! packet), an IPv4 packet without DF is only dropped, and a decapsulated
//! frame over the access port's MTU is dropped, counted, never sent.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports, Run};
use common::{have_scapy, scapy, scratch};

const TAIL: &str = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:02" }
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
l2:
  segments:
    - { port: acc, vlan: untagged, vni: 100, flood: [198.18.0.2],
        static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ] }
"#;

/// Builds `script`'s input in a fresh folder, runs the gateway over it with
/// these MTUs until `packets` were received, and checks it stopped cleanly
/// with every mbuf back.
fn run_case(
    script: &str,
    name: &str,
    underlay_mtu: u16,
    access_mtu: u16,
    packets: u32,
) -> (PathBuf, Run) {
    let _slot = dpdk_slot();
    let dir = scratch(&format!("gw-{name}"));
    scapy(script, ["build", dir.to_str().unwrap()]);
    let [ul, acc] = gw::pcap_devices(&dir);
    let prefix = format!("gw{name}-{}", std::process::id());
    let ports = Ports {
        underlay_mtu,
        access_mtu,
        ..Ports::new(&ul, &acc, &prefix)
    };
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, ports.yaml() + TAIL).unwrap();
    let args = strings(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--stop-after-packets",
        &packets.to_string(),
        "--stop-after-idle",
        "3000",
    ]);
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    (dir, r)
}

#[test]
fn jumbo_frames_up_to_the_mtu_pass_byte_for_byte_both_ways() {
    if !have_scapy() {
        return;
    }
    let (dir, r) = run_case("jumbo.py", "jumbo", 9100, 9000, 8);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("mtu 9000") && all.contains("mtu 9100"),
        "the start line confirms the MTUs:\n{all}"
    );
    let verdict = scapy("jumbo.py", ["check", dir.to_str().unwrap()]);
    assert!(verdict.contains("\"ok\": true"), "{verdict}\n{}", r.stdout);
    assert_eq!(r.value("encap "), 3, "{}", r.stdout);
    assert_eq!(r.value("decap "), 3, "{}", r.stdout);
    assert_eq!(r.drops("frame_over_mtu"), 1, "{}", r.stdout);
    assert_eq!(r.drops("encap_too_big"), 1, "{}", r.stdout);
    assert_eq!(r.value("icmp too big sent "), 1, "{}", r.stdout);
}

#[test]
fn too_big_gets_icmp_back_and_the_egress_mtu_holds_both_ways() {
    if !have_scapy() {
        return;
    }
    let (dir, r) = run_case("mtu.py", "mtu", 1450, 1400, 6);
    let verdict = scapy("mtu.py", ["check", dir.to_str().unwrap()]);
    assert!(verdict.contains("\"ok\": true"), "{verdict}\n{}", r.stdout);
    assert_eq!(r.value("encap "), 1, "{}", r.stdout);
    assert_eq!(r.value("decap "), 1, "{}", r.stdout);
    assert_eq!(r.value("icmp too big sent "), 2, "{}", r.stdout);
    assert_eq!(r.drops("encap_too_big"), 3, "{}", r.stdout);
    assert_eq!(r.drops("egress_over_mtu"), 1, "{}", r.stdout);
}
