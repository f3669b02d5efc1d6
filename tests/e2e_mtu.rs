//! The egress MTU both ways through `net_pcap` (RFC 8926 section 4.4.1):
//! an inner IPv4 packet with DF or an IPv6 packet that does not fit the
//! tunnel gets ICMP Fragmentation Needed / Packet Too Big back (checked by
//! scapy: type, code, MTU from the configuration, checksums, the quoted
//! packet), an IPv4 packet without DF is only dropped, and a decapsulated
//! frame over the access port's MTU is dropped, counted, never sent.
mod common;

use std::path::Path;
use std::time::Duration;

use common::gw::{dpdk_slot, run_gw, strings, Ports};
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

fn config(dir: &Path) -> String {
    let p = |n: &str| dir.join(n).display().to_string();
    let ul = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        p("ul_in.pcap"),
        p("ul_out.pcap")
    );
    let acc = format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        p("acc_in.pcap"),
        p("acc_out.pcap")
    );
    let prefix = format!("gwmtu-{}", std::process::id());
    let mut ports = Ports::new(&ul, &acc, &prefix);
    ports.underlay_mtu = 1450;
    ports.access_mtu = 1400;
    ports.yaml() + TAIL
}

#[test]
fn too_big_gets_icmp_back_and_the_egress_mtu_holds_both_ways() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-mtu");
    scapy("mtu.py", ["build", dir.to_str().unwrap()]);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, config(&dir)).unwrap();
    let args = strings(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--stop-after-packets",
        "6",
        "--stop-after-idle",
        "3000",
    ]);
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    let verdict = scapy("mtu.py", ["check", dir.to_str().unwrap()]);
    assert!(verdict.contains("\"ok\": true"), "{verdict}\n{}", r.stdout);
    assert_eq!(r.value("encap "), 1, "{}", r.stdout);
    assert_eq!(r.value("decap "), 1, "{}", r.stdout);
    assert_eq!(r.value("icmp too big sent "), 2, "{}", r.stdout);
    assert_eq!(r.drops("encap_too_big"), 3, "{}", r.stdout);
    assert_eq!(r.drops("egress_over_mtu"), 1, "{}", r.stdout);
}
