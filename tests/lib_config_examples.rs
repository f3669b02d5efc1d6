//! Every example configuration under config/ loads without error.

mod common;

use std::path::PathBuf;

use common::repo_path;
use geneve_gw::config::{self, Payload, PortRole, UdpChecksum};

fn example(name: &str) -> PathBuf {
    repo_path("config").join(name)
}

fn load(name: &str) -> config::Config {
    match config::load(&example(name)) {
        Ok(c) => c,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_example_loads() {
    let dir = repo_path("config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = config::load(&path) {
                panic!("{} does not load:\n{e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 5, "expected at least 5 examples, found {n}");
}

#[test]
fn the_required_examples_exist() {
    for name in [
        "l2-gateway.yaml",
        "l3-gateway.yaml",
        "ipv6-underlay.yaml",
        "options-policy.yaml",
        "demo-ovs.yaml",
    ] {
        load(name);
    }
}

#[test]
fn demo_ovs_matches_the_demo_topology() {
    let c = load("demo-ovs.yaml");
    assert_eq!(c.ports[c.vtep.port].role, PortRole::Underlay);
    assert_eq!(c.vtep.ipv4.unwrap().addr.to_string(), "198.18.0.1");
    let t = &c.tunnels[0];
    assert_eq!(t.remote.to_string(), "198.18.0.2");
    assert_eq!(t.udp_checksum, UdpChecksum::Zero);
    assert_eq!(t.options.len(), 1);
    assert!(c.eal.vdevs.iter().all(|v| v.starts_with("net_af_packet")));
    let d = &c.decap[0];
    assert_eq!(d.payload, Payload::Ethernet);
    assert_eq!(d.allow_from.as_ref().unwrap()[0], t.remote);
}

#[test]
fn examples_use_only_documentation_addresses() {
    // 198.18.0.0/15 (RFC 2544) and 2001:db8::/32 (RFC 3849) only.
    use std::net::IpAddr;
    let ok = |a: IpAddr| match a {
        IpAddr::V4(v) => v.octets()[0] == 198 && (v.octets()[1] & 0xfe) == 18,
        IpAddr::V6(v) => v.segments()[0] == 0x2001 && v.segments()[1] == 0x0db8,
    };
    for name in [
        "l2-gateway.yaml",
        "l3-gateway.yaml",
        "ipv6-underlay.yaml",
        "options-policy.yaml",
        "demo-ovs.yaml",
    ] {
        let c = load(name);
        let mut addrs: Vec<IpAddr> = Vec::new();
        addrs.extend(c.vtep.ipv4.map(|a| a.addr));
        addrs.extend(c.vtep.ipv6.map(|a| a.addr));
        addrs.extend(c.vtep.next_hops.iter().map(|n| n.via));
        addrs.extend(c.tunnels.iter().map(|t| t.remote));
        if let Some(l2) = &c.l2 {
            for s in &l2.segments {
                addrs.extend(&s.flood);
                addrs.extend(s.static_macs.iter().map(|m| m.remote));
            }
        }
        if let Some(l3) = &c.l3 {
            addrs.extend(l3.access.ipv4.map(|a| a.addr));
            addrs.extend(l3.access.ipv6.map(|a| a.addr));
            addrs.extend(l3.routes.iter().map(|r| r.prefix.addr));
        }
        for a in addrs {
            assert!(
                ok(a),
                "{name}: {a} is outside 198.18.0.0/15 and 2001:db8::/32"
            );
        }
    }
}
