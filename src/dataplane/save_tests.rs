//! A saved configuration (`config::emit`) builds the same tables as the
//! one it was saved from: every lookup the workers make is answered the
//! same, over every example, random valid configurations and a
//! 100,000-entry file.
use std::collections::HashMap;
use std::net::IpAddr;

use proptest::prelude::*;

use crate::config::{self, Config};
use crate::dataplane::tables::{lpm_key, BuildInputs, Tables};

/// The tables of `cfg` with every neighbour it needs resolved (so every
/// template is filled in), as the gateway has them once ARP/ND answered.
fn tables(cfg: &Config) -> Tables {
    let n = cfg.ports.len();
    let port_ids: Vec<u16> = (0..n as u16).collect();
    let port_macs: Vec<[u8; 6]> = (0..n).map(|i| [2, 0, 0, 0, 0xee, i as u8]).collect();
    let learned = HashMap::new();
    let build = |neighbors: &HashMap<IpAddr, [u8; 6]>| {
        Tables::build(
            cfg,
            &BuildInputs {
                port_ids: &port_ids,
                port_macs: &port_macs,
                neighbors,
                learned: &learned,
                generation: 0,
                flows: Default::default(),
            },
        )
        .expect("tables build")
    };
    let first = build(&HashMap::new());
    let resolved: HashMap<IpAddr, [u8; 6]> = first
        .unresolved
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, [2, 0xcc, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]))
        .collect();
    build(&resolved)
}

/// A template as what it puts on the wire, with its flow-id variant.
fn tpl(t: &Tables, id: Option<u32>) -> Option<String> {
    let id = id? as usize;
    Some(format!(
        "{:?} {:?}",
        t.templates[id],
        t.flow_variants.get(id).copied().flatten().map(|v| v.len)
    ))
}

/// Every lookup of the workers, for every key `cfg` has, answered the
/// same by `a` and `b`.
fn assert_same(cfg: &Config, a: &Tables, b: &Tables) {
    assert_eq!(a.underlay_port, b.underlay_port);
    assert_eq!(a.access, b.access, "access ports and VLANs");
    assert_eq!(a.access_ports, b.access_ports);
    assert_eq!(a.port_mtu, b.port_mtu);
    assert_eq!(a.local_underlay, b.local_underlay);
    assert_eq!(a.local_access, b.local_access);
    assert_eq!(a.neighbors, b.neighbors);
    assert_eq!(a.unresolved, b.unresolved);
    assert_eq!(
        (a.learning, a.ageing_secs),
        (b.learning, b.ageing_secs),
        "learning"
    );
    assert_eq!(
        format!("{:?}", a.decap),
        format!("{:?}", b.decap),
        "decapsulator"
    );
    // Decap VNIs (every VNI of the file, and a few it does not have).
    assert_eq!(a.vnis.len(), b.vnis.len(), "decap VNIs");
    for v in cfg
        .decap
        .iter()
        .map(|d| d.vni.get())
        .chain([0, 1, 0xff_ffff])
    {
        assert_eq!(
            format!("{:?}", a.vnis.get_plain(v)),
            format!("{:?}", b.vnis.get_plain(v)),
            "VNI {v}"
        );
    }
    // Segments: MACs, flood lists, mesh groups.
    assert_eq!(a.segments.len(), b.segments.len());
    for (sa, sb) in a.segments.iter().zip(&b.segments) {
        assert_eq!(
            (sa.vni, sa.access_port, sa.vlan),
            (sb.vni, sb.access_port, sb.vlan)
        );
        assert_eq!(sa.macs.len(), sb.macs.len(), "MACs of VNI {}", sa.vni);
        for (m, ea) in sa.macs.iter() {
            let eb = sb.macs.get(&m).expect("the MAC in both");
            assert_eq!((ea.remote, ea.learned), (eb.remote, eb.learned));
            assert_eq!(tpl(a, ea.template()), tpl(b, eb.template()), "MAC {m:?}");
        }
        let fa: Vec<_> = sa.flood.iter().map(|t| tpl(a, *t)).collect();
        let fb: Vec<_> = sb.flood.iter().map(|t| tpl(b, *t)).collect();
        assert_eq!(fa, fb, "flood list of VNI {}", sa.vni);
        assert_eq!(format!("{:?}", sa.mesh), format!("{:?}", sb.mesh));
    }
    // Routes: each prefix's first and last address, and the address after.
    assert_eq!(a.l3.is_some(), b.l3.is_some());
    if let (Some(la), Some(lb), Some(l3)) = (&a.l3, &b.l3, &cfg.l3) {
        assert_eq!((la.access_port, la.vlan), (lb.access_port, lb.vlan));
        for r in &l3.routes {
            let v4 = r.prefix.addr.is_ipv4();
            let bits: u32 = if v4 { 32 } else { 128 };
            let base = lpm_key(r.prefix.addr);
            let host = u128::MAX
                .checked_shr(128 - bits + u32::from(r.prefix.len))
                .unwrap_or(0);
            let (lpm_a, lpm_b) = if v4 {
                (&la.routes_v4, &lb.routes_v4)
            } else {
                (&la.routes_v6, &lb.routes_v6)
            };
            for probe in [base, base | host, (base | host).wrapping_add(1)] {
                let probe = if v4 { probe & 0xffff_ffff } else { probe };
                let ra = lpm_a.lookup(probe).map(|t| tpl(a, t));
                let rb = lpm_b.lookup(probe).map(|t| tpl(b, t));
                assert_eq!(ra, rb, "route lookup {probe:#x}");
            }
            // The route's own address finds a route (the table is not empty
            // by accident on both sides).
            assert!(lpm_a.lookup(base).is_some(), "{} not found", r.prefix);
        }
    }
}

/// Load, save, load again: equal configurations and the same tables.
fn same_tables_after_a_save(text: &str, what: &str) {
    let (before, _, after) = config::emit::tests::save_and_load(text, what);
    assert_same(&before, &tables(&before), &tables(&after));
}

#[test]
fn every_example_builds_the_same_tables_after_a_save() {
    for (path, text) in config::emit::tests::examples() {
        same_tables_after_a_save(&text, &path);
    }
}

#[test]
fn a_large_save_builds_the_same_tables() {
    same_tables_after_a_save(
        &config::emit::tests::large_file(20_000, 80_000),
        "generated",
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn random_configurations_build_the_same_tables_after_a_save(
        m in config::emit::tests::model()
    ) {
        same_tables_after_a_save(&m.text(), "generated");
    }
}
