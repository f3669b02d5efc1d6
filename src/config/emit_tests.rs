//! Saving: every example and random valid configurations survive load ->
//! emit -> load equal, the saved text is a fixed point, and its long
//! lists go through the fast tier.

use std::fmt::Write as _;

use proptest::prelude::*;

use super::quote;
use crate::config::load_whole;
use crate::config::*;

/// Load `text`, save it, load the saved text: the two must be equal, and
/// saving again must give the same text. Returns the saved text.
pub(crate) fn round_trip(text: &str, what: &str) -> String {
    let (first, saved, again) = save_and_load(text, what);
    // Also through the general tier alone: the same configuration.
    let whole = load_whole(&saved, "saved.yaml").expect("general tier");
    assert_eq!(
        first, whole,
        "{what}: the general tier reads the save otherwise"
    );
    assert_eq!(saved, emit(&again), "{what}: saving twice differs");
    saved
}

/// Load `text`, save it, load the save: both configurations (equal) and
/// the saved text.
pub(crate) fn save_and_load(text: &str, what: &str) -> (Config, String, Config) {
    let first = load_str(text, what).unwrap_or_else(|e| panic!("{what} does not load:\n{e}"));
    let saved = emit(&first);
    let again = load_str(&saved, "saved.yaml")
        .unwrap_or_else(|e| panic!("the save of {what} does not load:\n{e}\n{saved}"));
    assert_eq!(first, again, "{what} changed through a save:\n{saved}");
    (first, saved, again)
}

/// Every example under `config/`: (path, text); at least five of them.
pub(crate) fn examples() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        all.push((path.display().to_string(), text));
    }
    assert!(all.len() >= 5, "only {} examples under config/", all.len());
    all
}

#[test]
fn every_example_survives_a_save() {
    for (path, text) in examples() {
        round_trip(&text, &path);
    }
}

#[test]
fn quoting_reads_back_as_the_same_string() {
    for s in [
        "t0",
        "198.18.1.1",
        "10.0.0.0/8",
        "1000",
        "0x10",
        "1e5",
        "true",
        "off",
        "null",
        "inf",
        "nan",
        "--no-huge",
        "net_pcap0,rx_pcap=/tmp/a b.pcap",
        "a\"b\\c",
        "tab\there",
        "",
        "~",
        "2001:db8::1",
        "é",
        "a\u{2028}b",
        "a\u{2029}b",
        "a\u{85}b",
        "\u{fffe}",
        "\u{feff}x",
        "line\nbreak",
        " lead and trail ",
    ] {
        let text = format!("k: {}\n", quote(s));
        let back: std::collections::BTreeMap<String, String> =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back["k"], s, "{text}");
    }
    // Names and IPv4 addresses stay plain (the fast tier's words).
    assert_eq!(quote("t-1.a_b"), "t-1.a_b");
    assert_eq!(quote("198.18.1.1"), "198.18.1.1");
    assert_eq!(quote("1000"), "\"1000\"");
}

proptest! {
    /// Any string, quoted, reads back as itself.
    #[test]
    fn any_string_quoted_reads_back(s in any::<String>()) {
        let text = format!("k: {}\n", quote(&s));
        let back: std::collections::BTreeMap<String, String> = serde_yaml_ng::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back["k"], &s, "{:?}", text);
    }
}

/// `tunnels` tunnels and `routes` routes (a quarter IPv6), one entry per
/// line as `scripts/scale-config.py` writes them.
pub(crate) fn large_file(tunnels: usize, routes: usize) -> String {
    let mut text = String::from(
        "ports:\n  - { name: ul, role: underlay, device: net_null0 }\n  - { name: acc, role: access, device: net_null1 }\n\
         vtep:\n  ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64\n  next_hops:\n    - { via: 198.18.0.2, destinations: [198.18.0.0/15] }\n\
         tunnels:\n",
    );
    for i in 0..tunnels {
        let _ = writeln!(
            text,
            "  - {{ name: t{i}, remote: 198.18.{}.{}, vni: {} }}",
            1 + i / 250,
            1 + i % 250,
            1000 + i % 7
        );
    }
    text.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.1/24 }\n  routes:\n");
    for i in 0..routes {
        if i % 4 == 0 {
            let _ = writeln!(
                text,
                "    - {{ prefix: \"2001:db8:{:x}:{:x}::/64\", tunnel: t{} }}",
                0x8000 + (i >> 16),
                i & 0xffff,
                i % tunnels
            );
        } else {
            let _ = writeln!(
                text,
                "    - {{ prefix: {}/28, tunnel: t{} }}",
                std::net::Ipv4Addr::from(10u32 << 24 | (i as u32) << 4),
                i % tunnels
            );
        }
    }
    text
}

/// 100,000 routes and tunnels: the save loads equal, and the fast tier
/// reads all but the first line of every list itself.
#[test]
fn a_large_save_goes_through_the_fast_tier() {
    let (tunnels, routes) = (20_000, 80_000);
    let (_, saved, _) = save_and_load(&large_file(tunnels, routes), "generated");
    // Routes come back longest prefix first (the IPv6 /64s, then the
    // /28s), still one run of route lines; the tunnels another: the fast
    // tier reads every entry but the first of each.
    assert_eq!(fast_tier_entries(&saved), Some(tunnels + routes - 2));
}

/// A valid configuration drawn from the fields' ranges, written in block
/// style (not emit's shape), one line per choice.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    workers: u32,
    memory: u8,
    queues: Option<u16>,
    mtu: u16,
    mac: bool,
    ipv6: bool,
    udp_port: Option<u16>,
    vxlan: bool,
    vlan: Option<u16>,
    next_hop: u8,
    registry: Vec<(u16, Option<u8>)>,
    tunnels: Vec<TunnelModel>,
    segments: Vec<SegmentModel>,
    l3: Option<(u8, Vec<RouteModel>)>,
    decap: Vec<(bool, Option<u16>, Vec<usize>)>,
    segment_allow: Vec<usize>,
    policies: Vec<(u8, u8, usize)>,
    limits: [Option<u32>; 7],
    offload: Option<bool>,
    metrics: (bool, Option<bool>, Option<bool>),
    file_prefix: bool,
}

/// A route: IPv6, a number for the prefix, its IPv4 length, a tunnel pick.
type RouteModel = (bool, u16, u8, usize);

#[derive(Debug, Clone)]
struct TunnelModel {
    v6: bool,
    vxlan: bool,
    mesh: bool,
    options: Vec<(usize, bool, u8)>,
    udp_port: Option<u16>,
    checksum: Option<bool>,
    zero_ok: bool,
    ttl: Option<u8>,
    dscp: Option<u8>,
    ports: Option<(u16, u16)>,
}

#[derive(Debug, Clone)]
struct SegmentModel {
    named: bool,
    vlan: Option<u16>,
    vxlan_vni: bool,
    flood: Vec<usize>,
    macs: Vec<usize>,
}

fn tunnel_model() -> impl Strategy<Value = TunnelModel> {
    (
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        prop::collection::vec((0usize..4, any::<bool>(), 0u8..3), 0..3),
        prop::option::weighted(0.2, 1u16..=65535),
        prop::option::weighted(0.3, any::<bool>()),
        any::<bool>(),
        prop::option::weighted(0.3, 0u8..=255),
        prop::option::weighted(0.3, 0u8..=64),
        prop::option::weighted(0.2, (1u16..=65535, 1u16..=65535)),
    )
        .prop_map(
            |(v6, vxlan, mesh, options, udp_port, checksum, zero_ok, ttl, dscp, ports)| {
                TunnelModel {
                    v6,
                    vxlan,
                    mesh,
                    options,
                    udp_port,
                    checksum,
                    zero_ok,
                    ttl,
                    dscp,
                    ports,
                }
            },
        )
}

fn segment_model() -> impl Strategy<Value = SegmentModel> {
    (
        any::<bool>(),
        prop::option::of(1u16..=3999),
        prop::bool::weighted(0.3),
        prop::collection::vec(0usize..6, 0..4),
        prop::collection::vec(0usize..6, 0..5),
    )
        .prop_map(|(named, vlan, vxlan_vni, flood, macs)| SegmentModel {
            named,
            vlan,
            vxlan_vni,
            flood,
            macs,
        })
}

pub(crate) fn model() -> impl Strategy<Value = Model> {
    let a = (
        1u32..=3,
        0u8..3,
        prop::option::of(3u16..=8),
        prop::sample::select(vec![1500u16, 1600, 9000]),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.3, 1u16..=65535),
        any::<bool>(),
        prop::option::weighted(0.3, 1u16..=4094),
        0u8..3,
        prop::collection::vec((0u16..=65535, prop::option::of(0u8..4)), 0..4),
    );
    let b = (
        prop::collection::vec(tunnel_model(), 0..8),
        prop::collection::vec(segment_model(), 0..4),
        prop::option::of((
            0u8..3,
            prop::collection::vec((any::<bool>(), 0u16..=255, 8u8..=32, 0usize..8), 0..12),
        )),
        prop::collection::vec(
            (
                any::<bool>(),
                prop::option::of(1u16..=4094),
                prop::collection::vec(0usize..6, 0..3),
            ),
            0..3,
        ),
        prop::collection::vec(0usize..6, 0..3),
        prop::collection::vec((0u8..3, 0u8..3, 0usize..8), 0..4),
        [
            prop::option::of(1u32..=63),
            prop::option::of(1u32..=100_000),
            prop::option::of(1u32..=100_000),
            prop::option::of(1u32..=512),
            prop::option::of(1023u32..=100_000),
            // Never below the route groups a generated L3 section needs.
            prop::option::of(65_536u32..=100_000),
            prop::option::of(1u32..=100_000),
        ],
        prop::option::of(any::<bool>()),
        (
            any::<bool>(),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
        ),
        any::<bool>(),
    );
    (a, b).prop_map(
        |(
            (workers, memory, queues, mtu, mac, ipv6, udp_port, vxlan, vlan, next_hop, registry),
            (
                tunnels,
                segments,
                l3,
                decap,
                segment_allow,
                policies,
                limits,
                offload,
                metrics,
                file_prefix,
            ),
        )| Model {
            workers,
            memory,
            queues,
            mtu,
            mac,
            ipv6,
            udp_port,
            vxlan,
            vlan,
            next_hop,
            registry,
            tunnels,
            segments,
            l3,
            decap,
            segment_allow,
            policies,
            limits,
            offload,
            metrics,
            file_prefix,
        },
    )
}

/// The i-th remote of a family.
fn remote(v6: bool, i: usize) -> String {
    if v6 {
        format!("\"2001:db8:ff::{:x}\"", i + 2)
    } else {
        format!("198.18.0.{}", i + 2)
    }
}

impl Model {
    /// The model as a configuration file. Choices that would make it
    /// invalid are bent to valid ones here (a VXLAN tunnel drops its
    /// options, an IPv6 remote without an IPv6 VTEP becomes IPv4...).
    pub(crate) fn text(&self) -> String {
        let mut t = String::new();
        let w = &mut t;
        let cores: Vec<String> = (1..=self.workers).map(|c| c.to_string()).collect();
        let _ = writeln!(
            w,
            "eal:\n  cores: [{}]\n  control_core: 0",
            cores.join(", ")
        );
        match self.memory {
            0 => {}
            1 => w.push_str("  memory:\n    mode: hugepages\n    size_mb: 512\n"),
            _ => w.push_str("  memory:\n    mode: no_huge\n    size_mb: 256\n"),
        }
        w.push_str("  devices:\n    vdev: [\"net_null0\", \"net_null1,no-rx=1\"]\n");
        if self.file_prefix {
            w.push_str(
                "  file_prefix: gw-save\n  args: [\"--log-level\", \"pmd.net.null:debug\"]\n",
            );
        }
        w.push_str("ports:\n  - name: ul\n    role: underlay\n    device: net_null0\n");
        let _ = writeln!(w, "    mtu: {}", self.mtu);
        if self.mac {
            w.push_str("    mac: 02:00:00:00:01:01\n");
        }
        w.push_str("  - name: acc\n    role: access\n    device: 1\n");
        if let Some(q) = self.queues {
            let _ = writeln!(w, "    queues: {q}");
        }
        w.push_str("  - name: acc2\n    role: access\n    device: net_null1\n    mtu: 1400\n");
        w.push_str("vtep:\n  ipv4: 198.18.0.1/24\n");
        if self.ipv6 {
            w.push_str("  ipv6: 2001:db8:ff::1/64\n");
        }
        if let Some(p) = self.udp_port.filter(|&p| p != VXLAN_UDP_PORT) {
            let _ = writeln!(w, "  udp_port: {p}");
        }
        if self.vxlan {
            w.push_str("  vxlan_port: 4789\n");
        }
        if let Some(v) = self.vlan {
            let _ = writeln!(w, "  vlan: {v}");
        }
        match self.next_hop {
            0 => {}
            1 => w.push_str(
                "  next_hops:\n    - via: 198.18.0.254\n      destinations: [198.18.128.0/17]\n",
            ),
            _ => {
                w.push_str("  next_hops:\n    - via: 198.18.0.254\n      mac: 02:00:00:00:00:fe\n")
            }
        }
        if !self.registry.is_empty() {
            w.push_str("options:\n  registry:\n");
            for (i, (class, len)) in self.registry.iter().enumerate() {
                let _ = writeln!(w, "    - name: o{i}\n      class: {class}\n      type: {i}");
                if let Some(l) = len {
                    let _ = writeln!(w, "      length: {}", 4 * l);
                }
            }
            let fixed: Vec<usize> = (0..self.registry.len())
                .filter(|&i| self.registry[i].1.is_some_and(|l| l > 0))
                .collect();
            let tunnels = self.tunnels.len();
            let vnis = self.decap_vnis();
            let mut lines = Vec::new();
            for (j, (kind, scope, pick)) in self.policies.iter().enumerate() {
                let scope = match scope {
                    1 if !vnis.is_empty() => format!("\n        vni: {}", vnis[pick % vnis.len()]),
                    2 if tunnels > 0 => format!("\n        tunnel: t{}", pick % tunnels),
                    _ => String::new(),
                };
                match kind {
                    0 => lines.push((
                        "require",
                        format!("      - option: o{}{scope}", pick % self.registry.len()),
                        j,
                    )),
                    k if !fixed.is_empty() => {
                        let o = fixed[pick % fixed.len()];
                        let len = 4 * usize::from(self.registry[o].1.unwrap_or(1));
                        if *k == 1 {
                            let hex = "ab".repeat(len);
                            lines.push(("security_tags", format!("      - option: o{o}{scope}\n        allow: [{j}]\n        deny: [\"{hex}\"]\n        default: allow"), j));
                        } else {
                            lines.push(("flow_id_copy", format!("      - option: o{o}{scope}"), j));
                        }
                    }
                    _ => {}
                }
            }
            // A policy once per option and scope (require refuses twice).
            let mut seen = std::collections::HashSet::new();
            lines.retain(|l| seen.insert((l.0, l.1.clone())));
            if !lines.is_empty() {
                w.push_str("  policies:\n");
                for kind in ["require", "security_tags", "flow_id_copy"] {
                    let of: Vec<&String> =
                        lines.iter().filter(|l| l.0 == kind).map(|l| &l.1).collect();
                    if !of.is_empty() {
                        let _ = writeln!(w, "    {kind}:");
                        for l in of {
                            let _ = writeln!(w, "{l}");
                        }
                    }
                }
            }
        }
        // A segment with its own VXLAN VNI gets a VXLAN member (stitched
        // with its Geneve members) when the VTEP receives VXLAN.
        let stitched: Vec<usize> = (0..self.segments.len())
            .filter(|&k| self.vxlan && self.segments[k].vxlan_vni)
            .collect();
        if !self.tunnels.is_empty() || !stitched.is_empty() {
            w.push_str("tunnels:\n");
        }
        for &k in &stitched {
            let _ = writeln!(
                w,
                "  - name: sx{k}\n    remote: {}\n    vni: {}\n    encapsulation: vxlan",
                remote(false, 60 + k),
                5000 + k
            );
        }
        for (i, tm) in self.tunnels.iter().enumerate() {
            let v6 = tm.v6 && self.ipv6;
            let vxlan = tm.vxlan && self.vxlan && !self.routed(i);
            let _ = writeln!(
                w,
                "  - name: t{i}\n    remote: {}\n    vni: {}",
                remote(v6, i),
                100 + i
            );
            if vxlan {
                w.push_str("    encapsulation: vxlan\n");
            }
            if tm.mesh {
                w.push_str("    mesh: m1\n");
            }
            if !vxlan && !self.registry.is_empty() && !tm.options.is_empty() {
                w.push_str("    options:\n");
                for (o, critical, words) in &tm.options {
                    let o = o % self.registry.len();
                    let data = match self.registry[o].1 {
                        Some(l) => "00000001".repeat(usize::from(l)),
                        None => "0000000a".repeat(usize::from(*words)),
                    };
                    if *critical {
                        let _ = writeln!(
                            w,
                            "      - class: {}\n        type: {}\n        data: \"{data}\"",
                            self.registry[o].0,
                            o | 0x80
                        );
                    } else {
                        let _ = writeln!(w, "      - name: o{o}\n        data: \"{data}\"");
                    }
                }
            }
            if let Some(p) = tm.udp_port {
                let _ = writeln!(w, "    udp_port: {p}");
            }
            if let Some(c) = tm.checksum {
                let _ = writeln!(
                    w,
                    "    udp_checksum: {}",
                    if c { "compute" } else { "zero" }
                );
            }
            if tm.zero_ok && v6 {
                w.push_str("    accept_zero_checksum: true\n");
            }
            match tm.ttl {
                Some(0) => w.push_str("    ttl: inherit\n"),
                Some(n) => {
                    let _ = writeln!(w, "    ttl: {n}");
                }
                None => {}
            }
            match tm.dscp {
                Some(64) => w.push_str("    dscp: inherit\n"),
                Some(n) => {
                    let _ = writeln!(w, "    dscp: {n}");
                }
                None => {}
            }
            if let Some((a, b)) = tm.ports {
                let _ = writeln!(
                    w,
                    "    source_ports: {{ min: {}, max: {} }}",
                    a.min(b),
                    a.max(b)
                );
            }
        }
        if !self.segments.is_empty() {
            w.push_str("l2:\n  learning: false\n  ageing_seconds: 60\n  segments:\n");
        }
        let mut vlans = std::collections::HashSet::new();
        for (k, s) in self.segments.iter().enumerate() {
            if s.named {
                let _ = writeln!(w, "    - name: seg{k}\n      port: acc");
            } else {
                w.push_str("    - port: acc\n");
            }
            let vlan = s.vlan.filter(|v| vlans.insert(*v));
            if let Some(v) = vlan {
                let _ = writeln!(w, "      vlan: {v}");
            } else if !vlans.insert(0) {
                // The untagged slot is taken: a VLAN of its own.
                let _ = writeln!(w, "      vlan: {}", 4000 + k);
            }
            let _ = writeln!(w, "      vni: {}", 10 + k);
            if s.vxlan_vni {
                let _ = writeln!(w, "      vxlan_vni: {}", 5000 + k);
            }
            let mut flood: Vec<usize> = s.flood.clone();
            flood.sort_unstable();
            flood.dedup();
            let mut list: Vec<String> = flood.iter().map(|&i| remote(false, 20 + i)).collect();
            if self.vxlan && s.vxlan_vni {
                list.push(remote(false, 60 + k));
            }
            if !list.is_empty() {
                let _ = writeln!(w, "      flood: [{}]", list.join(", "));
            }
            let mut macs = s.macs.clone();
            macs.sort_unstable();
            macs.dedup();
            if !macs.is_empty() {
                w.push_str("      static_macs:\n");
                for m in macs {
                    let _ = writeln!(
                        w,
                        "        - mac: 02:00:00:00:{k:02x}:{m:02x}\n          remote: {}",
                        remote(m % 2 == 1 && self.ipv6, 30 + m)
                    );
                }
            }
        }
        if let Some((nh, routes)) = &self.l3 {
            w.push_str("l3:\n  access:\n    port: acc2\n    vlan: 7\n    ipv4: 198.19.0.1/24\n");
            if self.ipv6 {
                w.push_str("    ipv6: 2001:db8:19::1/64\n    gateway_mac: 02:00:00:00:19:01\n");
            }
            match nh {
                0 => {}
                1 => w.push_str("    next_hop: 198.19.0.9\n"),
                _ => w.push_str("    next_hop_mac: 02:00:00:00:19:09\n"),
            }
            let geneve: Vec<usize> = (0..self.tunnels.len())
                .filter(|&i| self.routed(i))
                .collect();
            let mut seen = std::collections::HashSet::new();
            let mut lines = Vec::new();
            for (v6, n, len, t) in routes {
                if geneve.is_empty() {
                    break;
                }
                let t = geneve[t % geneve.len()];
                let p = if *v6 {
                    format!("\"2001:db8:{:x}::/48\"", 0x100 + n)
                } else {
                    let len = (*len).clamp(16, 32);
                    let addr = (10u32 << 24 | u32::from(*n) << 16 | 0xffff)
                        & (u32::MAX << (32 - u32::from(len)));
                    format!("{}/{len}", std::net::Ipv4Addr::from(addr))
                };
                if seen.insert(p.clone()) {
                    lines.push(format!("    - prefix: {p}\n      tunnel: t{t}"));
                }
            }
            if !lines.is_empty() {
                w.push_str("  routes:\n");
                for l in lines {
                    let _ = writeln!(w, "{l}");
                }
            }
        }
        let mut decap = Vec::new();
        for (j, (acc2, vlan, allow)) in self.decap.iter().enumerate() {
            let mut e = format!(
                "  - vni: {}\n    port: {}\n",
                3000 + j,
                if *acc2 { "acc2" } else { "acc" }
            );
            if let Some(v) = vlan {
                let _ = writeln!(e, "    vlan: {v}");
            }
            allow_from(&mut e, allow);
            decap.push(e);
        }
        if !self.segments.is_empty() && !self.segment_allow.is_empty() {
            let mut e = "  - vni: 10\n".to_string();
            allow_from(&mut e, &self.segment_allow);
            decap.push(e);
        }
        if self.segments.is_empty() && self.l3.is_none() && decap.is_empty() {
            decap.push("  - vni: 2999\n    port: acc\n".into());
        }
        if !decap.is_empty() {
            w.push_str("decap:\n");
            for e in decap {
                w.push_str(&e);
            }
        }
        if self.limits.iter().any(Option::is_some) {
            w.push_str("limits:\n");
        }
        let names = [
            "max_options",
            "mac_table_size",
            "flow_table_size",
            "burst_size",
            "mbufs",
            "route_groups",
            "neighbors",
        ];
        for (name, v) in names.iter().zip(self.limits) {
            if let Some(v) = v {
                let v = if *name == "max_options" { v.max(3) } else { v };
                let _ = writeln!(w, "  {name}: {v}");
            }
        }
        if let Some(off) = self.offload {
            let _ = writeln!(w, "offload: {}", if off { "off" } else { "auto" });
        }
        let (prom, latency, capture) = self.metrics;
        w.push_str("metrics:\n");
        if prom {
            w.push_str("  prometheus: \"[::1]:9464\"\n");
            if self.workers > 1 {
                let _ = writeln!(w, "  top_tunnels: {}", 7 * self.workers);
            }
        }
        if let Some(l) = latency {
            let _ = writeln!(w, "  latency: {l}");
        }
        if let Some(c) = capture {
            let _ = writeln!(w, "  capture: {}", c && self.memory != 2);
        }
        t
    }

    /// Whether tunnel `i` is Geneve and so may carry routes (it has a VNI
    /// of its own, never a segment's).
    fn routed(&self, i: usize) -> bool {
        !(self.tunnels[i].vxlan && self.vxlan)
    }

    /// VNIs some decap entry will exist for.
    fn decap_vnis(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.segments.len()).map(|k| 10 + k).collect();
        v.extend((0..self.decap.len()).map(|j| 3000 + j));
        v
    }
}

fn allow_from(e: &mut String, allow: &[usize]) {
    let mut a = allow.to_vec();
    a.sort_unstable();
    a.dedup();
    if !a.is_empty() {
        let list: Vec<String> = a.iter().map(|&i| remote(false, 40 + i)).collect();
        let _ = writeln!(e, "    allow_from: [{}]", list.join(", "));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random valid configurations: load -> emit -> load equal, and the
    /// save is a fixed point.
    #[test]
    fn random_configurations_survive_a_save(m in model()) {
        let text = m.text();
        round_trip(&text, &format!("generated:\n{text}"));
    }
}

/// `save` writes a file that loads back equal, atomically, and refuses
/// (writing nothing) a configuration whose save would load differently.
#[test]
fn save_writes_what_loads_back_and_refuses_what_would_not() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = load(&root.join("config/l3-gateway.yaml")).expect("example");
    let dir = std::env::temp_dir().join(format!("geneve-gw-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gw.yaml");
    std::fs::write(&path, "old\n").unwrap();
    save(&cfg, &path).expect("save");
    assert_eq!(load(&path).expect("the save loads"), cfg);
    // Only the saved file is left in the directory (no temporary file).
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("gw.yaml")]);
    // A route appended out of load's order (a /32 after shorter
    // prefixes, as the control API's edits leave them) is written in
    // load's order and loads back with the same routes.
    let mut edited = cfg.clone();
    let l3 = edited.l3.as_mut().expect("l3 example");
    let t = l3.routes[0].tunnel;
    let extra = IpPrefix::containing("198.19.99.1".parse().unwrap(), 32);
    l3.routes.push(Route {
        prefix: extra,
        tunnel: t,
    });
    save(&edited, &path).expect("an unordered route list saves");
    let back = load(&path).expect("the save loads");
    let routes = &back.l3.as_ref().unwrap().routes;
    assert_eq!(routes.len(), cfg.l3.as_ref().unwrap().routes.len() + 1);
    assert!(routes.iter().any(|r| r.prefix == extra));
    assert!(
        routes
            .windows(2)
            .all(|w| (std::cmp::Reverse(w[0].prefix.len), w[0].prefix.addr)
                < (std::cmp::Reverse(w[1].prefix.len), w[1].prefix.addr)),
        "longest prefix first, by address within a length"
    );
    save(&cfg, &path).expect("save");
    // An L3 decap entry for a VNI no route's tunnel has is not written
    // (load derives those): refused, the file stays as it was.
    let mut bent = cfg.clone();
    bent.decap.push(Decap {
        vni: crate::wire::geneve::Vni::new(0xff_ffff).unwrap(),
        port: cfg.l3.as_ref().unwrap().access.port,
        vlan: None,
        payload: Payload::Ip,
        allow_from: None,
    });
    let before = std::fs::read_to_string(&path).unwrap();
    let e = save(&bent, &path).expect_err("refused");
    assert!(
        e.contains("(decap differs)") && e.contains("nothing written"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Static MACs and decap entries (with IPv6 addresses, VLANs and allow
/// lists), written in block style: their save is one entry per line and
/// the fast tier reads every entry but the first of each list.
#[test]
fn saved_static_macs_and_decap_entries_go_through_the_fast_tier() {
    let (macs, decaps) = (2_000, 1_000);
    let mut text = String::from(
        "ports:\n  - { name: ul, role: underlay, device: net_null0 }\n  - { name: acc, role: access, device: net_null1 }\n\
         vtep:\n  ipv4: 198.18.0.1/24\n  ipv6: 2001:db8:18::1/64\n\
         l2:\n  segments:\n    - port: acc\n      vni: 10\n      static_macs:\n",
    );
    for i in 0..macs {
        let remote = if i % 2 == 0 {
            format!("198.18.0.{}", 2 + i % 200)
        } else {
            format!("\"2001:db8:18::{:x}\"", 2 + i % 200)
        };
        let _ = writeln!(
            text,
            "        - mac: \"02:00:00:00:{:02x}:{:02x}\"\n          remote: {remote}",
            i >> 8,
            i & 255
        );
    }
    text.push_str("decap:\n");
    for j in 0..decaps {
        let _ = writeln!(text, "  - vni: {}\n    port: acc", 1000 + j);
        if j % 3 == 0 {
            let _ = writeln!(text, "    vlan: {}", 1 + j);
        }
        if j % 2 == 0 {
            text.push_str("    allow_from: [198.18.0.9, \"2001:db8:18::9\"]\n");
        }
    }
    assert_eq!(fast_tier_entries(&text), None, "the input is block style");
    let saved = round_trip(&text, "generated");
    assert_eq!(fast_tier_entries(&saved), Some(macs - 1 + decaps - 1));
}
