use super::*;

fn caps(driver: &str, tx: TxCaps, flow_api: FlowApi) -> PortCaps {
    PortCaps {
        port: 0,
        name: "p0".into(),
        driver: driver.into(),
        tx,
        rx: RxCaps::default(),
        ptypes: Vec::new(),
        geneve_ptype: false,
        flow_api,
        max_rx_queues: 16,
    }
}

/// RX checksum and hash offloads both NICs advertise.
const NIC_RX: RxCaps = RxCaps {
    ipv4_cksum: true,
    udp_cksum: true,
    tcp_cksum: true,
    outer_ipv4_cksum: false,
    outer_udp_cksum: false,
    rss_hash: true,
    scatter: true,
};

/// What DPDK 22.11's i40e advertises on an XL710 (from the PMD's sources).
fn i40e() -> PortCaps {
    let mut c = caps(
        "net_i40e",
        TxCaps {
            ipv4_cksum: true,
            udp_cksum: true,
            tcp_cksum: true,
            outer_ipv4_cksum: true,
            outer_udp_cksum: false,
            geneve_tnl_tso: true,
            tcp_tso: true,
            multi_segs: true,
        },
        FlowApi::Available,
    );
    c.rx = NIC_RX;
    c
}

/// ConnectX-5 under mlx5: everything but the outer UDP checksum.
fn mlx5() -> PortCaps {
    let mut c = caps(
        "mlx5_pci",
        TxCaps {
            ipv4_cksum: true,
            udp_cksum: true,
            tcp_cksum: true,
            outer_ipv4_cksum: true,
            outer_udp_cksum: false,
            geneve_tnl_tso: true,
            tcp_tso: true,
            multi_segs: true,
        },
        FlowApi::Available,
    );
    c.rx = NIC_RX;
    c
}

fn null() -> PortCaps {
    caps(
        "net_null",
        TxCaps::default(),
        FlowApi::Unavailable("Operation not supported".into()),
    )
}

fn places(t: &DecisionTable) -> Vec<Place> {
    t.rows.iter().map(|r| r.place).collect()
}

use Place::{Hardware as H, Software as S};

#[test]
fn i40e_offloads_tx_but_decaps_in_software() {
    let t = decide(&i40e(), true);
    assert_eq!(places(&t), vec![H, H, S, S, H, S, S, H]);
    assert!(t
        .get(Feature::FlowDecap)
        .reason
        .contains("no Geneve rte_flow item"));
    // The outer UDP checksum rides on plain UDP_CKSUM (no OUTER_UDP_CKSUM
    // needed, which XL710 lacks).
    assert_eq!(
        t.get(Feature::OuterUdpChecksum).reason,
        "port advertises UDP_CKSUM (outer headers described as a plain packet)"
    );
    assert!(t
        .get(Feature::InnerRss)
        .reason
        .contains("i40e has no inner RSS"));
}

#[test]
fn mlx5_decaps_in_hardware_and_offloads_outer_checksums() {
    let t = decide(&mlx5(), true);
    assert_eq!(places(&t), vec![H, H, S, S, H, H, H, H]);
    assert!(t
        .get(Feature::InnerL4Checksum)
        .reason
        .contains("passes through unchanged"));
    assert!(t.get(Feature::FlowDecap).reason.contains("dv_flow_en=1"));
}

#[test]
fn mlx5_without_flow_api_stays_in_software() {
    let mut c = mlx5();
    c.flow_api = FlowApi::Unavailable("Function not implemented".into());
    let t = decide(&c, true);
    assert_eq!(t.place(Feature::FlowDecap), S);
    assert!(t
        .get(Feature::FlowDecap)
        .reason
        .contains("Function not implemented"));
    assert_eq!(t.place(Feature::InnerRss), S);
}

#[test]
fn no_offload_port_is_all_software_with_reasons() {
    let t = decide(&null(), true);
    assert_eq!(places(&t), vec![S; 8]);
    assert_eq!(
        t.get(Feature::OuterUdpChecksum).reason,
        "port does not advertise UDP_CKSUM"
    );
    assert!(t.get(Feature::FlowDecap).reason.contains("no rte_flow API"));
    assert!(t.rows.iter().all(|r| !r.reason.is_empty()));
}

#[test]
fn offload_disabled_puts_everything_in_software() {
    for c in [i40e(), mlx5(), null()] {
        let t = decide(&c, false);
        assert_eq!(places(&t), vec![S; 8], "{}", c.driver);
        assert!(t.rows.iter().all(|r| r.reason == "offload disabled"));
    }
}

#[test]
fn tap_like_port_offloads_outer_checksums_only() {
    // A tap-like port: IPv4 and UDP checksums but no TCP.
    let c = caps(
        "net_tap",
        TxCaps {
            ipv4_cksum: true,
            udp_cksum: true,
            ..TxCaps::default()
        },
        FlowApi::Available,
    );
    let t = decide(&c, true);
    assert_eq!(places(&t)[..4], [H, H, S, S]);
    let ip = decide(
        &caps(
            "net_tap",
            TxCaps {
                udp_cksum: true,
                ..TxCaps::default()
            },
            FlowApi::Available,
        ),
        true,
    );
    assert_eq!(
        ip.get(Feature::OuterIpv4Checksum).reason,
        "port does not advertise IPV4_CKSUM"
    );
    assert!(t
        .get(Feature::FlowDecap)
        .reason
        .contains("net_tap has no Geneve rte_flow item"));
}

#[test]
fn table_renders_one_line_per_feature() {
    let text = decide(&mlx5(), true).render("  ");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + Feature::ALL.len());
    assert!(lines[0].starts_with("  feature"));
    assert!(lines[2].starts_with("  outer UDP checksum"));
    assert!(lines[2].contains(" hardware "), "{}", lines[2]);
    assert!(lines[3].contains(" software "), "{}", lines[3]);
    assert!(lines[6].contains("rte_flow decap (VNI match)"));
    assert!(lines[6].contains(" hardware "));
}

#[test]
fn capability_names_follow_dpdk() {
    assert_eq!(
        mlx5().tx.names(),
        vec![
            "IPV4_CKSUM",
            "UDP_CKSUM",
            "TCP_CKSUM",
            "OUTER_IPV4_CKSUM",
            "GENEVE_TNL_TSO",
            "TCP_TSO",
            "MULTI_SEGS"
        ]
    );
    let rx = RxCaps {
        rss_hash: true,
        ..RxCaps::default()
    };
    assert_eq!(rx.names(), vec!["RSS_HASH"]);
    assert!(TxCaps::default().names().is_empty());
}

fn rule(vtep: IpAddr, target: RuleTarget) -> DecapRule {
    DecapRule {
        port: 0,
        vni: 100,
        vtep,
        udp_port: 6081,
        target,
    }
}

#[test]
fn testpmd_rendering_ipv4_queue() {
    let r = rule("198.18.0.1".parse().unwrap(), RuleTarget::Queue(0));
    let [set, create] = r.testpmd();
    assert_eq!(set, "set raw_decap 0 eth / ipv4 / udp / geneve / end_set");
    assert_eq!(
        create,
        "flow create 0 ingress pattern eth / ipv4 dst is 198.18.0.1 tos spec 0 tos mask 0x3 \
         fragment_offset spec 0 fragment_offset mask 0x3fff / udp dst is 6081 / \
         geneve vni is 100 protocol is 0x6558 optlen is 0 / end \
         actions raw_decap index 0 / mark id 100 / queue index 0 / end"
    );
}

#[test]
fn testpmd_rendering_ipv6_inner_rss() {
    let r = DecapRule {
        port: 1,
        vni: 0xabcdef,
        vtep: "2001:db8::1".parse().unwrap(),
        udp_port: 7000,
        target: RuleTarget::InnerRss(vec![0, 1, 2]),
    };
    let [set, create] = r.testpmd();
    assert_eq!(set, "set raw_decap 0 eth / ipv6 / udp / geneve / end_set");
    assert!(create.starts_with("flow create 1 ingress pattern eth / ipv6 dst is 2001:db8::1 tc spec 0 tc mask 0x3 / udp dst is 7000 / geneve vni is 11259375 "), "{create}");
    assert!(
        create.ends_with(
            "actions raw_decap index 0 / mark id 11259375 / rss level 2 types ip udp tcp end queues 0 1 2 end / end"
        ),
        "{create}"
    );
}

#[test]
fn raw_decap_template_is_the_outer_headers() {
    let v4 = rule("198.18.0.1".parse().unwrap(), RuleTarget::Queue(0)).raw_decap_bytes();
    assert_eq!(v4.len(), 14 + 20 + 8 + 8);
    assert_eq!(&v4[12..14], &[0x08, 0x00]);
    assert_eq!(v4[14], 0x45);
    assert_eq!(v4[23], 17);
    assert_eq!(&v4[30..34], &[198, 18, 0, 1]);
    assert_eq!(&v4[36..38], &6081u16.to_be_bytes());
    // Geneve: no options, Ethernet payload, VNI 100.
    assert_eq!(&v4[42..50], &[0, 0, 0x65, 0x58, 0, 0, 100, 0]);
    let v6 = rule("2001:db8::1".parse().unwrap(), RuleTarget::Queue(0)).raw_decap_bytes();
    assert_eq!(v6.len(), 14 + 40 + 8 + 8);
    assert_eq!(&v6[12..14], &[0x86, 0xdd]);
    assert_eq!(v6[14] >> 4, 6);
    assert_eq!(v6[20], 17);
}

const CFG: &str = r#"
eal:
  cores: [1]
  control_core: 0
  memory: { mode: no_huge, size_mb: 256 }
  devices:
    vdev: ["net_null0", "net_null1", "net_null2"]
ports:
  - { name: up, role: underlay, device: net_null0 }
  - { name: acc, role: access, device: net_null1 }
  - { name: acc2, role: access, device: net_null2 }
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8::1/64
l2:
  learning: false
  segments:
    - { name: plain, port: acc, vni: 100, flood: [198.18.0.2] }
    - { name: tagged, port: acc, vlan: 7, vni: 200, flood: [198.18.0.2] }
    - { name: guarded, port: acc2, vni: 300, flood: [198.18.0.2] }
decap:
  - vni: 300
    allow_from: [198.18.0.2]
"#;

#[test]
fn decap_rules_per_vni_and_family_with_blockers() {
    let cfg = crate::config::load_str(CFG, "t.yaml").expect("test config is valid");
    let (rules, left) = decap_rules(&cfg, 3, 1);
    let got: Vec<(u32, IpAddr)> = rules.iter().map(|r| (r.vni, r.vtep)).collect();
    assert_eq!(
        got,
        vec![
            (100, "198.18.0.1".parse().unwrap()),
            (100, "2001:db8::1".parse().unwrap())
        ]
    );
    assert!(rules
        .iter()
        .all(|r| r.port == 3 && r.udp_port == 6081 && r.target == RuleTarget::Queue(0)));
    assert_eq!(
        left,
        vec![
            (200, "the decapsulated frame gets a VLAN tag in software"),
            (300, "allow_from checks the outer source address")
        ]
    );
    let (rss, _) = decap_rules(&cfg, 3, 2);
    assert_eq!(rss[0].target, RuleTarget::InnerRss(vec![0, 1]));
}

#[test]
fn learning_keeps_decap_in_software() {
    let text = CFG.replace("learning: false", "learning: true");
    let cfg = crate::config::load_str(&text, "t.yaml").expect("test config is valid");
    let (rules, left) = decap_rules(&cfg, 0, 1);
    assert!(rules.is_empty());
    assert_eq!(left.len(), 3);
    assert!(left[0].1.contains("MAC learning"));
}

#[test]
fn a_stitched_segment_keeps_decap_in_software() {
    // VNI 100 gets a VXLAN member in another mesh group: its frames may
    // leave through a tunnel, decided by the outer source.
    let text = CFG
        .replace("  ipv6: 2001:db8::1/64\n", "  ipv6: 2001:db8::1/64\n  vxlan_port: 4789\n")
        .replace(
            "l2:\n",
            "tunnels:\n  - { name: tor, remote: 198.18.0.3, vni: 100, encapsulation: vxlan }\nl2:\n",
        );
    let cfg = crate::config::load_str(&text, "t.yaml").expect("test config is valid");
    let (rules, left) = decap_rules(&cfg, 3, 1);
    assert!(rules.is_empty(), "{rules:?}");
    assert_eq!(
        left[0],
        (
            100,
            "a stitched segment forwards by the outer source's mesh group"
        )
    );
}

#[test]
fn sample_rules_cover_both_families() {
    let r = sample_rules(2);
    assert_eq!(r.len(), 2);
    assert!(r[0].vtep.is_ipv4() && r[1].vtep.is_ipv6());
    assert!(r.iter().all(|r| r.port == 2 && r.vni == 100));
}

#[test]
fn geneve_tso_row_says_what_the_gateway_enables() {
    let t = decide(&i40e(), true);
    assert_eq!(t.get(Feature::GeneveTso).place, Place::Hardware);
    assert!(t
        .get(Feature::GeneveTso)
        .reason
        .contains("OUTER_IPV4_CKSUM"));
    let mut c = i40e();
    c.tx.outer_ipv4_cksum = false;
    let r = decide(&c, true);
    assert_eq!(r.get(Feature::GeneveTso).place, Place::Software);
    assert!(r
        .get(Feature::GeneveTso)
        .reason
        .contains("software segmentation"));
    let r = decide(&null(), true);
    assert_eq!(
        r.get(Feature::GeneveTso).reason,
        "port does not advertise GENEVE_TNL_TSO: software segmentation"
    );
}

#[test]
fn rx_ipv4_checksum_is_hardware_exactly_when_advertised_and_enabled() {
    let mut p = i40e();
    p.rx.ipv4_cksum = false;
    assert_eq!(
        decide(&p, true).place(Feature::RxOuterIpv4Checksum),
        Place::Software
    );
    assert_eq!(
        decide(&p, true).get(Feature::RxOuterIpv4Checksum).reason,
        "port does not advertise RX IPV4_CKSUM"
    );
    p.rx.ipv4_cksum = true;
    let on = decide(&p, true);
    assert_eq!(on.place(Feature::RxOuterIpv4Checksum), Place::Hardware);
    assert!(on
        .get(Feature::RxOuterIpv4Checksum)
        .reason
        .contains("trusts packets it marks good"));
    let off = decide(&p, false);
    assert_eq!(off.place(Feature::RxOuterIpv4Checksum), Place::Software);
    assert_eq!(
        off.get(Feature::RxOuterIpv4Checksum).reason,
        "offload disabled"
    );
}
