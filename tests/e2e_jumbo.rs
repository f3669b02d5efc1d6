//! Jumbo frames through `net_pcap`: with `mtu: 9000` on the access port
//! (9100 on the underlay, room for the outer headers), scapy builds frames
//! of 1,500, 4,000 and 9,000 B each way; the gateway must encapsulate and
//! decapsulate them byte for byte (scapy checks the output). Past every MTU
//! and the mbuf: a Geneve frame is a counted `frame_over_mtu` drop, not a
//! truncated one; an access frame (a chain, kept for the segmentation path)
//! that is not TCP is `encap_too_big` (with ICMP back: it has DF).
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
    let prefix = format!("gwjumbo-{}", std::process::id());
    let mut ports = Ports::new(&ul, &acc, &prefix);
    ports.underlay_mtu = 9100;
    ports.access_mtu = 9000;
    ports.yaml() + TAIL
}

#[test]
fn jumbo_frames_up_to_the_mtu_pass_byte_for_byte_both_ways() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-jumbo");
    scapy("jumbo.py", ["build", dir.to_str().unwrap()]);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, config(&dir)).unwrap();
    let args = strings(&[
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--stop-after-packets",
        "8",
        "--stop-after-idle",
        "3000",
    ]);
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
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
