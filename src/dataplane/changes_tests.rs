//! The planner against the reference: any sequence of entry changes,
//! applied one by one, must leave tables that answer every lookup as
//! [`Tables::build`] of the final state does.
use std::collections::HashMap;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::config::{HeaderPolicy, IpPrefix, Route, StaticMac};
use crate::dataplane::tables::{BuildInputs, Tables};

const CFG: &str = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0 }
  - { name: acc, role: access, device: 1 }
  - { name: acc3, role: access, device: 2 }
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8:ff::1/64
  next_hops:
    - { via: 198.18.0.254, destinations: [198.18.128.0/17] }
tunnels:
  - { name: t0, remote: 198.18.0.2, vni: 100 }
  - { name: t1, remote: 198.18.0.3, vni: 100 }
  - { name: t2, remote: 198.18.200.2, vni: 100 }
  - { name: t3, remote: 2001:db8:ff::2, vni: 300 }
  - { name: t4, remote: 198.18.0.2, vni: 300 }
l2:
  learning: true
  segments:
    - { port: acc, vlan: 10, vni: 100 }
    - { port: acc, vlan: 20, vni: 200 }
l3:
  access: { port: acc3, ipv4: 198.19.0.1/24, next_hop: 198.19.0.9 }
  routes:
    - { prefix: 198.19.128.0/17, tunnel: t4 }
"#;

const PORT_IDS: [u16; 3] = [0, 1, 2];
const PORT_MACS: [[u8; 6]; 3] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3]];

fn base() -> Config {
    crate::config::load_str(CFG, "t.yaml").expect("test config")
}

fn remotes() -> Vec<IpAddr> {
    [
        "198.18.0.2",
        "198.18.0.3",
        "198.18.200.2",
        "198.18.0.7",
        "2001:db8:ff::2",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect()
}

/// Addresses the control thread may resolve: on-link remotes, the
/// underlay gateway, the L3 inner next hop.
fn hops() -> Vec<IpAddr> {
    [
        "198.18.0.2",
        "198.18.0.3",
        "198.18.0.254",
        "198.18.0.7",
        "2001:db8:ff::2",
        "198.19.0.9",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect()
}

fn prefixes() -> Vec<IpPrefix> {
    [
        "0.0.0.0/0",
        "198.19.0.0/16",
        "198.19.128.0/17",
        "198.19.200.0/24",
        "198.19.200.7/32",
        "198.0.0.0/8",
        "198.19.200.0/21",
        "2001:db8::/32",
        "2001:db8:100::/48",
        "2001:db8:100:1::/64",
        "::/0",
    ]
    .iter()
    .map(|p| pfx(p))
    .collect()
}

fn pfx(s: &str) -> IpPrefix {
    let (a, l) = s.split_once('/').unwrap();
    IpPrefix::containing(a.parse().unwrap(), l.parse().unwrap())
}

fn mac(i: u8) -> [u8; 6] {
    [2, 0xaa, 0, 0, 0, i]
}

#[derive(Debug, Clone)]
enum Op {
    Route(usize, Option<usize>),
    StaticMac(usize, u8, Option<usize>),
    Learned(usize, u8, Option<usize>),
    Flood(usize, Vec<usize>),
    Neighbor(usize, u8),
    TunnelTtl(usize, u8),
    Decap(u32, Option<bool>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..11usize, proptest::option::of(0..5usize)).prop_map(|(p, t)| Op::Route(p, t)),
        (0..2usize, 0..12u8, proptest::option::of(0..5usize))
            .prop_map(|(s, m, r)| Op::StaticMac(s, m, r)),
        (0..2usize, 0..12u8, proptest::option::of(0..5usize))
            .prop_map(|(s, m, r)| Op::Learned(s, m, r)),
        (0..2usize, proptest::collection::vec(0..5usize, 0..4)).prop_map(|(s, l)| Op::Flood(s, l)),
        (0..6usize, 1..4u8).prop_map(|(h, m)| Op::Neighbor(h, m)),
        (0..5usize, 1..4u8).prop_map(|(t, v)| Op::TunnelTtl(t, v)),
        (500..504u32, proptest::option::of(any::<bool>())).prop_map(|(v, d)| Op::Decap(v, d)),
    ]
}

/// The model: configuration, learned MACs, neighbours; plus the planner
/// and the tables it changes.
struct Bed {
    cfg: Config,
    learned: HashMap<(usize, [u8; 6]), IpAddr>,
    planner: Planner,
    tables: Tables,
}

impl Bed {
    fn new() -> Bed {
        let cfg = base();
        let mut planner = Planner::new(
            &PORT_IDS,
            &PORT_MACS,
            TxOffloadCaps::NONE,
            Default::default(),
        );
        let tables = planner.start(&cfg, std::iter::empty()).expect("start");
        Bed {
            cfg,
            learned: HashMap::new(),
            planner,
            tables,
        }
    }

    fn run(&mut self, op: &Op) {
        let cfg = &mut self.cfg;
        let p = &mut self.planner;
        let rem = remotes();
        match op {
            Op::Route(pi, t) => {
                let prefix = prefixes()[*pi];
                let l3 = cfg.l3.as_mut().unwrap();
                l3.routes.retain(|r| r.prefix != prefix);
                if let Some(t) = t {
                    l3.routes.push(Route { prefix, tunnel: *t });
                }
                let tunnel = t.map(|t| (cfg.tunnels[t].remote, cfg.tunnels[t].vni));
                p.set_route(cfg, prefix, tunnel);
            }
            Op::StaticMac(s, m, r) => {
                let seg = &mut cfg.l2.as_mut().unwrap().segments[*s];
                seg.static_macs.retain(|x| x.mac != mac(*m));
                if let Some(r) = r {
                    seg.static_macs.push(StaticMac {
                        mac: mac(*m),
                        remote: rem[*r],
                    });
                }
                p.set_static_mac(cfg, *s, mac(*m), r.map(|r| rem[r]));
            }
            Op::Learned(s, m, r) => {
                match r {
                    Some(r) => self.learned.insert((*s, mac(*m)), rem[*r]),
                    None => self.learned.remove(&(*s, mac(*m))),
                };
                p.set_learned_mac(cfg, *s, mac(*m), r.map(|r| rem[r]));
            }
            Op::Flood(s, l) => {
                let mut list: Vec<IpAddr> = l.iter().map(|i| rem[*i]).collect();
                list.dedup();
                cfg.l2.as_mut().unwrap().segments[*s].flood = list.clone();
                p.set_flood(cfg, *s, &list);
            }
            Op::Neighbor(h, m) => {
                p.neighbor(cfg, hops()[*h], [2, 0xbb, 0, 0, *h as u8, *m]);
            }
            Op::TunnelTtl(t, v) => {
                let tun = &mut cfg.tunnels[*t];
                tun.ttl = HeaderPolicy::Fixed(*v);
                let (r, vni) = (tun.remote, tun.vni);
                p.tunnel_changed(cfg, r, vni);
            }
            Op::Decap(v, d) => {
                let vni = Vni::new(*v).unwrap();
                cfg.decap.retain(|x| x.vni != vni);
                if let Some(tagged) = d {
                    cfg.decap.push(config::Decap {
                        vni,
                        port: 1,
                        vlan: tagged.then_some(7),
                        payload: Payload::Ethernet,
                        allow_from: None,
                    });
                    cfg.decap.sort_by_key(|x| x.vni);
                }
                p.set_decap(cfg, vni, cfg.decap_for(vni));
            }
        }
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        for c in p.take_changes() {
            self.tables.apply(c);
        }
    }

    fn reference(&self) -> Tables {
        Tables::build(
            &self.cfg,
            &BuildInputs {
                port_ids: &PORT_IDS,
                port_macs: &PORT_MACS,
                neighbors: self.planner.neighbors(),
                learned: &self.learned,
                generation: 0,
                flows: Default::default(),
            },
        )
        .expect("reference build")
    }
}

/// A template as what it puts on the wire (and its flow-id variant).
fn tpl(t: &Tables, id: Option<TemplateId>) -> Option<String> {
    let id = id? as usize;
    let mut tpl = t.templates[id].clone();
    tpl.set_tx_offload(TxOffloadCaps::NONE);
    // Counter slots are the planner's bookkeeping, not what a lookup finds.
    tpl.set_counter(u32::MAX);
    Some(format!(
        "{:?} {:?}",
        tpl,
        t.flow_variants.get(id).copied().flatten().map(|v| v.len)
    ))
}

/// Every template's line is the line of that template as it is now (the
/// look-ahead reads the line instead of the template).
fn assert_lines_kept(t: &Tables) {
    assert_eq!(t.lines.len(), t.templates.len(), "a line per template");
    for (i, (tpl, line)) in t.templates.iter().zip(t.lines.iter()).enumerate() {
        let variant = matches!(t.flow_variants.get(i), Some(Some(_)));
        assert_eq!(*line, TemplateLine::of(tpl, variant), "template {i}'s line");
    }
}

/// Every lookup the workers make, answered the same by both tables.
fn assert_same(a: &Tables, b: &Tables) {
    assert_lines_kept(a);
    assert_lines_kept(b);
    // Routes: every prefix's first, last and next-after address, plus
    // addresses around them.
    let (l3a, l3b) = (a.l3.as_ref().unwrap(), b.l3.as_ref().unwrap());
    assert_eq!(l3a.routes_v4.len(), l3b.routes_v4.len(), "IPv4 routes");
    assert_eq!(l3a.routes_v6.len(), l3b.routes_v6.len(), "IPv6 routes");
    for p in prefixes() {
        let bits: u32 = if p.addr.is_ipv4() { 32 } else { 128 };
        let base = crate::dataplane::tables::lpm_key(p.addr);
        let host = u128::MAX
            .checked_shr(128 - bits + u32::from(p.len))
            .unwrap_or(0);
        for probe in [
            base,
            base | host,
            (base | host).wrapping_add(1),
            base ^ 0x100,
            base | 7,
        ] {
            let (lpm_a, lpm_b) = if p.addr.is_ipv4() {
                (&l3a.routes_v4, &l3b.routes_v4)
            } else {
                (&l3a.routes_v6, &l3b.routes_v6)
            };
            let probe = if bits == 32 {
                probe & 0xffff_ffff
            } else {
                probe
            };
            let ra = lpm_a.lookup(probe).map(|v| tpl(a, v));
            let rb = lpm_b.lookup(probe).map(|v| tpl(b, v));
            assert_eq!(ra, rb, "route lookup {probe:#x}");
        }
    }
    // MACs and flood lists.
    assert_eq!(a.segments.len(), b.segments.len());
    for (sa, sb) in a.segments.iter().zip(&b.segments) {
        assert_eq!(
            sa.macs.len(),
            sb.macs.len(),
            "MACs of segment VNI {}",
            sa.vni
        );
        for (m, ea) in sa.macs.iter() {
            let eb = sb.macs.get(&m).expect("MAC in the reference");
            assert_eq!((ea.remote, ea.learned), (eb.remote, eb.learned));
            assert_eq!(tpl(a, ea.template()), tpl(b, eb.template()), "MAC {m:?}");
        }
        let fa: Vec<_> = sa.flood.iter().map(|t| tpl(a, *t)).collect();
        let fb: Vec<_> = sb.flood.iter().map(|t| tpl(b, *t)).collect();
        assert_eq!(fa, fb, "flood list");
    }
    // Decap entries.
    assert_eq!(a.vnis.len(), b.vnis.len(), "decap VNIs");
    for vni in [100, 200, 300, 500, 501, 502, 503] {
        let plain = |t: &Tables| {
            t.vnis.get_plain(vni).map(|(o, p)| {
                let mut o = o.clone();
                o.counter = crate::dataplane::stats::NO_SLOT;
                o.set_sources(Box::default());
                (o, p)
            })
        };
        assert_eq!(
            format!("{:?}", plain(a)),
            format!("{:?}", plain(b)),
            "VNI {vni}"
        );
    }
    assert_eq!(a.neighbors, b.neighbors);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn changes_one_by_one_equal_a_build_of_the_final_state(ops in proptest::collection::vec(op(), 1..60)) {
        let mut bed = Bed::new();
        for o in &ops {
            bed.run(o);
        }
        assert_same(&bed.tables, &bed.reference());
    }
}

#[test]
fn start_equals_build() {
    let mut bed = Bed::new();
    assert_same(&bed.tables, &bed.reference());
    // Resolving everything fills every template in.
    for (i, h) in hops().iter().enumerate() {
        bed.planner
            .neighbor(&bed.cfg, *h, [2, 0xcc, 0, 0, 0, i as u8]);
    }
    for c in bed.planner.take_changes() {
        bed.tables.apply(c);
    }
    let r = bed.reference();
    assert_same(&bed.tables, &r);
    assert!(r.unresolved.is_empty());
    assert!(bed
        .tables
        .l3
        .as_ref()
        .unwrap()
        .routes_v4
        .lookup(0xc613_8001)
        .unwrap()
        .is_some());
}

/// An inner destination's expired neighbour entry leaves the workers'
/// table (the tables then equal a build without it); a next hop of a
/// template is never forgotten that way.
#[test]
fn an_expired_inner_destination_leaves_the_tables() {
    let mut bed = Bed::new();
    let inner: IpAddr = "198.19.0.50".parse().unwrap();
    let hop = hops()[0];
    bed.planner.neighbor(&bed.cfg, inner, [2, 0xdd, 0, 0, 0, 1]);
    bed.planner.neighbor(&bed.cfg, hop, [2, 0xdd, 0, 0, 0, 2]);
    for c in bed.planner.take_changes() {
        bed.tables.apply(c);
    }
    assert!(bed.tables.neighbors.contains_key(&inner));
    assert!(bed.planner.forget_neighbor(inner));
    assert!(!bed.planner.forget_neighbor(inner), "once");
    assert!(
        !bed.planner.forget_neighbor(hop),
        "a template's next hop stays"
    );
    for c in bed.planner.take_changes() {
        bed.tables.apply(c);
    }
    assert!(!bed.tables.neighbors.contains_key(&inner));
    assert!(bed.tables.neighbors.contains_key(&hop));
    assert_same(&bed.tables, &bed.reference());
}

#[test]
fn freed_template_ids_are_reused() {
    // A route added and removed a thousand times uses no more template
    // slots than one route.
    let mut bed = Bed::new();
    bed.run(&Op::Neighbor(0, 1));
    let before = bed.tables.templates.len();
    for _ in 0..1000 {
        bed.run(&Op::Route(3, Some(0)));
        bed.run(&Op::Route(3, None));
    }
    assert!(
        bed.tables.templates.len() <= before + 1,
        "{}",
        bed.tables.templates.len()
    );
    assert_same(&bed.tables, &bed.reference());
}

#[test]
fn reload_diff_applies_only_the_difference() {
    let mut bed = Bed::new();
    for h in 0..6 {
        bed.run(&Op::Neighbor(h, 1));
    }
    let old = bed.cfg.clone();
    let mut new = old.clone();
    // One route changes tunnel, one is added; one static MAC; one tunnel's TTL.
    new.l3.as_mut().unwrap().routes[0].tunnel = 0;
    new.l3.as_mut().unwrap().routes.push(Route {
        prefix: pfx("2001:db8:100::/48"),
        tunnel: 3,
    });
    new.l2.as_mut().unwrap().segments[1]
        .static_macs
        .push(StaticMac {
            mac: mac(1),
            remote: remotes()[1],
        });
    new.tunnels[1].ttl = HeaderPolicy::Fixed(9);
    let d = diff(&old, &new);
    assert_eq!(d.global, None);
    assert_eq!(
        (d.counts.routes, d.counts.static_macs, d.counts.tunnels),
        (
            Counts {
                added: 1,
                removed: 0,
                modified: 1
            },
            Counts {
                added: 1,
                removed: 0,
                modified: 0
            },
            Counts {
                added: 0,
                removed: 0,
                modified: 1
            },
        )
    );
    bed.planner.apply_diff(&new, &d);
    let changes = bed.planner.take_changes();
    assert!(changes.len() <= 8, "{} changes", changes.len());
    for c in changes {
        bed.tables.apply(c);
    }
    bed.cfg = new;
    assert_same(&bed.tables, &bed.reference());
    // Something global: the diff says so and lists nothing.
    let mut g = bed.cfg.clone();
    g.vtep.udp_port = 6082;
    let d = diff(&bed.cfg, &g);
    assert_eq!(d.global, Some("vtep"));
    assert!(d.routes.is_empty());
}

/// A batch of changes the reader can check whole: decap VNIs 600..610 all
/// leave on port `n`.
fn batch(n: u16) -> Vec<Change> {
    let mut out = base_out();
    out.port = n;
    (600..610)
        .map(|vni| Change::Vni {
            vni,
            out: Some(Box::new(out.clone())),
        })
        .collect()
}

fn base_out() -> VniOut {
    let bed = Bed::new();
    bed.tables.vnis.get(300).expect("the L3 decap VNI").clone()
}

#[test]
fn a_reader_never_sees_half_a_batch_and_the_writer_waits_for_no_reader() {
    use crate::dataplane::publish::{Flush, Publisher};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let mut t = Bed::new().tables;
    t.generation = 1;
    let mut publisher = Publisher::new(t.clone(), 1);
    let front = Arc::new(arc_swap::ArcSwap::from_pointee(t));
    let generation = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    const BATCHES: u16 = 300;
    let reader = {
        let (front, generation, stop) = (front.clone(), generation.clone(), stop.clone());
        std::thread::spawn(move || {
            // A worker: one Arc held between generation checks.
            let mut tables = front.load_full();
            let mut seen = 0u64;
            let mut last_port = 0u16;
            while !stop.load(Ordering::Relaxed) {
                if generation.load(Ordering::Acquire) != tables.generation {
                    tables = front.load_full();
                    assert!(tables.generation > seen, "generations only grow");
                    seen = tables.generation;
                }
                let ports: Vec<Option<u16>> = (600..610)
                    .map(|v| tables.vnis.get(v).map(|o| o.port))
                    .collect();
                let first = ports[0];
                assert!(ports.iter().all(|p| *p == first), "half a batch: {ports:?}");
                if let Some(p) = first {
                    assert!(p >= last_port, "an older batch after a newer one");
                    last_port = p;
                }
            }
            last_port
        })
    };
    for n in 1..=BATCHES {
        publisher.push(batch(n));
        loop {
            match publisher.flush(&front, &generation) {
                Flush::Published(k) => {
                    assert_eq!(k, 10);
                    break;
                }
                Flush::Busy => std::thread::yield_now(),
                Flush::Idle => panic!("a queued batch was not published"),
            }
        }
    }
    // The last batch reaches the back copy too once the reader moved on.
    while publisher.flush(&front, &generation) == Flush::Busy {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(reader.join().expect("reader"), BATCHES);
    assert_eq!(publisher.generation(), 1 + u64::from(BATCHES));
    assert_eq!(front.load().vnis.get(605).map(|o| o.port), Some(BATCHES));
}

#[test]
fn a_held_copy_is_never_written() {
    use crate::dataplane::publish::{Flush, Publisher};
    use std::sync::atomic::AtomicU64;
    let mut t = Bed::new().tables;
    t.generation = 1;
    let mut publisher = Publisher::new(t.clone(), 1);
    let front = arc_swap::ArcSwap::from_pointee(t);
    let generation = AtomicU64::new(1);
    // A worker holds generation 1 while batch 1 is published.
    let held = front.load_full();
    publisher.push(batch(1));
    assert_eq!(publisher.flush(&front, &generation), Flush::Published(10));
    // Batch 2 would go to the copy the worker still reads: not now.
    publisher.push(batch(2));
    assert_eq!(publisher.flush(&front, &generation), Flush::Busy);
    assert!(held.vnis.get(600).is_none(), "the held copy changed");
    assert_eq!(publisher.pending(), 10);
    drop(held);
    assert_eq!(publisher.flush(&front, &generation), Flush::Published(10));
    let now = front.load_full();
    assert_eq!(
        (now.generation, now.vnis.get(609).map(|o| o.port)),
        (3, Some(2))
    );
}

/// A tunnel's encapsulation or mesh group decides the stitched segments'
/// groups and flood lists, which are built with the tables: changing one,
/// or a segment's VXLAN VNI, must not pass as "nothing to change" or as a
/// plain tunnel edit.
#[test]
fn reload_of_a_stitching_change_builds_everything_anew() {
    let old = base();
    let mut mesh = old.clone();
    mesh.tunnels[0].mesh = "fabric".into();
    assert!(diff(&old, &mesh).global.is_some(), "mesh group change");

    let mut vxlan = old.clone();
    vxlan.tunnels[1].encapsulation = crate::config::Encapsulation::Vxlan;
    vxlan.tunnels[1].mesh = "vxlan".into();
    assert!(diff(&old, &vxlan).global.is_some(), "encapsulation change");
    // And back: from a stitched configuration to a plain one.
    assert!(diff(&vxlan, &old).global.is_some(), "back to Geneve");

    let mut seg = old.clone();
    seg.l2.as_mut().unwrap().segments[0].vxlan_vni = crate::wire::geneve::Vni::new(5000).unwrap();
    assert!(diff(&old, &seg).global.is_some(), "segment VXLAN VNI");

    // In a configuration that stitches, a stitching segment's flood list
    // and static MACs shape its mesh: all anew; a plain one's: entries.
    let mut flood = vxlan.clone();
    flood.l2.as_mut().unwrap().segments[0].flood = vec![remotes()[0]];
    assert!(
        diff(&vxlan, &flood).global.is_some(),
        "flood of a stitching segment"
    );
    let mut flood = old.clone();
    flood.l2.as_mut().unwrap().segments[0].flood = vec![remotes()[0]];
    assert_eq!(diff(&old, &flood).global, None, "flood of a plain segment");

    // Plain Geneve configurations keep the entry-by-entry diff.
    let mut ttl = old.clone();
    ttl.tunnels[1].ttl = HeaderPolicy::Fixed(9);
    assert_eq!(diff(&old, &ttl).global, None);
}

/// The decapsulator's fast tiers follow entry changes: an L3-only gateway
/// that gets an Ethernet decap VNI gets the Ethernet header pattern (and
/// the express loop that tries it first), and a tunnel that starts
/// sending options makes the options layout peers send back, as a build
/// of the new configuration has them. Before they followed, both stayed
/// as they were at the last whole build.
#[test]
fn decap_fast_tiers_follow_vnis_and_tunnel_options() {
    let l3_only = r#"
eal: { cores: [1], control_core: 0 }
ports:
  - { name: ul, role: underlay, device: 0 }
  - { name: acc, role: access, device: 1 }
  - { name: acc3, role: access, device: 2 }
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - { name: t4, remote: 198.18.0.2, vni: 300 }
l3:
  access: { port: acc3, ipv4: 198.19.0.1/24, next_hop_mac: "02:00:00:00:00:09" }
  routes:
    - { prefix: 198.19.128.0/17, tunnel: t4 }
"#;
    let old = crate::config::load_str(l3_only, "t.yaml").expect("test config");
    let mut planner = Planner::new(
        &PORT_IDS,
        &PORT_MACS,
        TxOffloadCaps::NONE,
        Default::default(),
    );
    let mut tables = planner.start(&old, std::iter::empty()).expect("start");
    assert!(!tables.decap.has_ethernet_pattern());
    let mut new = old.clone();
    new.decap.push(config::Decap {
        vni: Vni::new(500).unwrap(),
        port: 1,
        vlan: None,
        payload: Payload::Ethernet,
        allow_from: None,
    });
    new.decap.sort_by_key(|d| d.vni);
    new.tunnels[0].options = vec![crate::wire::geneve::TunnelOption {
        class: 0x0102,
        typ: 0x01,
        data: vec![0, 0, 0, 7],
    }];
    let d = diff(&old, &new);
    assert_eq!(d.global, None);
    planner.apply_diff(&new, &d);
    for c in planner.take_changes() {
        tables.apply(c);
    }
    let reference = Tables::build(
        &new,
        &BuildInputs {
            port_ids: &PORT_IDS,
            port_macs: &PORT_MACS,
            neighbors: planner.neighbors(),
            learned: &HashMap::new(),
            generation: 0,
            flows: Default::default(),
        },
    )
    .expect("reference build");
    assert!(reference.decap.has_ethernet_pattern());
    assert!(tables.decap.has_ethernet_pattern());
    assert!(tables.decap.same_fast_tiers(&reference.decap));
    assert!(!tables.decap.same_fast_tiers(
        &Tables::build(
            &old,
            &BuildInputs {
                port_ids: &PORT_IDS,
                port_macs: &PORT_MACS,
                neighbors: planner.neighbors(),
                learned: &HashMap::new(),
                generation: 0,
                flows: Default::default(),
            },
        )
        .expect("old build")
        .decap
    ));
    // A change that touches neither sends no new decapsulator.
    let mut newer = new.clone();
    newer.tunnels[0].ttl = HeaderPolicy::Fixed(9);
    planner.apply_diff(&newer, &diff(&new, &newer));
    assert!(!planner
        .take_changes()
        .iter()
        .any(|c| matches!(c, Change::DecapFast(_))));
}

/// The planner's route keys: one per (prefix, length), the two families
/// apart (an IPv4 route never finds an IPv6 one with the same number).
#[test]
fn route_keys_are_one_per_prefix() {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let v4 = |a: u32, l: u8| route_key(IpAddr::V4(Ipv4Addr::from(a)), l);
    let v6 = |a: u128, l: u8| route_key(IpAddr::V6(Ipv6Addr::from(a)), l);
    let mut keys = std::collections::HashSet::new();
    for a in [0u32, 1, 0x0a00_0000, u32::MAX] {
        for l in 0..=32 {
            assert!(keys.insert(v4(a, l)));
        }
    }
    for a in [0u128, 1, 0x0a00_0000, u128::from(u32::MAX), u128::MAX] {
        for l in 0..=128 {
            assert!(keys.insert(v6(a, l)), "{a:#x}/{l}");
        }
    }
}
