//! The editor against a reference: the same change made to the text of a
//! configuration file, loaded by `config::load_str`. Whatever the file
//! refuses the editor refuses (and leaves the configuration as it was);
//! whatever it accepts ends in the same `Config`.
use proptest::prelude::*;

use super::*;
use crate::config::{load_str, Config};

const BASE: &str = "\
ports:
  - { name: up, role: underlay, device: net_null0 }
  - { name: acc, role: access, device: net_null1 }
  - { name: acc2, role: access, device: net_null2 }
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8::1/64
l3:
  access:
    port: acc2
";

/// The reference: the lists of a configuration file.
#[derive(Debug, Clone, Default)]
struct Model {
    tunnels: Vec<(String, String, i64, Option<String>)>,
    routes: Vec<(String, String)>,
    macs: Vec<(String, String)>,
    flood: Vec<String>,
}

impl Model {
    fn yaml(&self) -> String {
        let mut s = BASE.to_string();
        s.push_str("  routes:\n");
        for (p, t) in &self.routes {
            s.push_str(&format!("    - {{ prefix: \"{p}\", tunnel: \"{t}\" }}\n"));
        }
        s.push_str("tunnels:\n");
        for (n, r, v, ttl) in &self.tunnels {
            s.push_str(&format!("  - {{ name: \"{n}\", remote: \"{r}\", vni: {v}"));
            if let Some(t) = ttl {
                s.push_str(&format!(", ttl: {t}"));
            }
            s.push_str(" }\n");
        }
        s.push_str("l2:\n  segments:\n    - port: acc\n      vni: 100\n      name: seg\n");
        s.push_str(&format!("      flood: [{}]\n", self.flood.join(", ")));
        s.push_str("      static_macs:\n");
        for (m, r) in &self.macs {
            s.push_str(&format!("        - {{ mac: \"{m}\", remote: \"{r}\" }}\n"));
        }
        if self.macs.is_empty() {
            s = s.replace("      static_macs:\n", "");
        }
        // Two groups of the IPv4 route table: the prefixes below span three.
        s.push_str("limits: { route_groups: 2 }\n");
        s
    }

    /// The edit made to the file, or None when the file does not say
    /// anything different (a no-op).
    fn edit(&mut self, e: &Edit) {
        match e {
            Edit::AddTunnel(t) => match self.tunnels.iter_mut().find(|x| x.0 == t.name) {
                Some(x) if x.1 == t.remote && x.2 == t.vni => x.3 = t.ttl.clone(),
                Some(x) => x.1 = "not the same remote".into(),
                None => self
                    .tunnels
                    .push((t.name.clone(), t.remote.clone(), t.vni, t.ttl.clone())),
            },
            Edit::DeleteTunnel(n) => match self.tunnels.iter().position(|x| &x.0 == n) {
                Some(i) => {
                    let t = self.tunnels.remove(i);
                    // The API keeps a tunnel a static MAC or flood list
                    // of its segment uses; the file would take it.
                    if t.2 == 100
                        && (self.macs.iter().any(|m| m.1 == t.1) || self.flood.contains(&t.1))
                    {
                        self.tunnels
                            .push(("bad name!".into(), String::new(), 0, None));
                    }
                }
                None => self
                    .tunnels
                    .push(("bad name!".into(), String::new(), 0, None)),
            },
            Edit::AddRoute { prefix, tunnel } => {
                if let Some(i) = self.routes.iter().position(|x| &x.0 == prefix) {
                    self.routes.remove(i);
                }
                self.routes.push((prefix.clone(), tunnel.clone()));
            }
            Edit::DeleteRoute(p) => match self.routes.iter().position(|x| &x.0 == p) {
                Some(i) => {
                    self.routes.remove(i);
                }
                None => self.routes.push(("not a route".into(), String::new())),
            },
            Edit::AddStaticMac { mac, remote, .. } => {
                match self.macs.iter().position(|x| x.0 == *mac) {
                    Some(i) => self.macs[i].1 = remote.clone(),
                    None => self.macs.push((mac.clone(), remote.clone())),
                }
            }
            Edit::DeleteStaticMac { mac, .. } => match self.macs.iter().position(|x| &x.0 == mac) {
                Some(i) => {
                    self.macs.remove(i);
                }
                None => self.macs.push(("not a MAC".into(), String::new())),
            },
            Edit::SetFlood { remotes, .. } => self.flood = remotes.clone(),
            _ => unreachable!(),
        }
    }
}

/// The form in which an edited configuration and the file's compare: the
/// editor moves the last tunnel, route or static MAC into a removed one's
/// place, the file keeps its order; neither order means anything.
fn normalized(mut c: Config) -> Config {
    let mut order: Vec<usize> = (0..c.tunnels.len()).collect();
    order.sort_by(|&a, &b| c.tunnels[a].name.cmp(&c.tunnels[b].name));
    let mut new_of = vec![0; order.len()];
    for (n, &o) in order.iter().enumerate() {
        new_of[o] = n;
    }
    c.tunnels = order.iter().map(|&o| c.tunnels[o].clone()).collect();
    if let Some(l3) = &mut c.l3 {
        for r in &mut l3.routes {
            r.tunnel = new_of[r.tunnel];
        }
        l3.routes
            .sort_by_key(|r| (std::cmp::Reverse(r.prefix.len), r.prefix.addr));
    }
    if let Some(l2) = &mut c.l2 {
        for s in &mut l2.segments {
            s.static_macs.sort_by_key(|m| m.mac);
        }
    }
    let o = &mut c.options;
    for s in o
        .require
        .iter_mut()
        .map(|r| &mut r.scope)
        .chain(o.security_tags.iter_mut().map(|s| &mut s.scope))
        .chain(o.flow_id_copy.iter_mut().map(|f| &mut f.scope))
    {
        if let Scope::Tunnel(t) = s {
            *t = new_of[*t];
        }
    }
    c.index = crate::config::TunnelIndex::new(&c.tunnels);
    c
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let name = prop::sample::select(vec!["t0", "t1", "t2", "bad name"]);
    let remote = prop::sample::select(vec![
        "198.18.0.2",
        "198.18.0.3",
        "2001:db8::2",
        "198.18.0.1",
        "224.0.0.1",
    ]);
    let vni = prop::sample::select(vec![100i64, 5001, 5002, 1 << 24]);
    let prefix = prop::sample::select(vec![
        "198.19.0.0/16",
        "198.19.1.0/24",
        "198.19.2.0/24",
        "2001:db8:1::/48",
        "198.19.1.5/24",
        "0.0.0.0/0",
        "198.19.1.128/25",
        "198.19.1.7/32",
        "198.19.2.4/30",
        "198.19.3.0/26",
    ]);
    let mac = prop::sample::select(vec![
        "02:00:00:00:00:01",
        "02:00:00:00:00:02",
        "01:00:5e:00:00:01",
    ]);
    let ttl = prop::option::of(prop::sample::select(vec!["7", "inherit", "300"]));
    prop_oneof![
        3 => (name.clone(), remote.clone(), vni, ttl).prop_map(|(n, r, v, ttl)| Edit::AddTunnel(TunnelSpec {
            name: n.into(),
            remote: r.into(),
            vni: v,
            ttl: ttl.map(String::from),
            ..TunnelSpec::default()
        })),
        1 => name.clone().prop_map(|n| Edit::DeleteTunnel(n.into())),
        3 => (prefix.clone(), name).prop_map(|(p, t)| Edit::AddRoute { prefix: p.into(), tunnel: t.into() }),
        1 => prefix.prop_map(|p| Edit::DeleteRoute(p.into())),
        2 => (mac.clone(), remote.clone()).prop_map(|(m, r)| Edit::AddStaticMac { segment: "seg".into(), mac: m.into(), remote: r.into() }),
        1 => mac.prop_map(|m| Edit::DeleteStaticMac { segment: "0".into(), mac: m.into() }),
        1 => prop::collection::vec(remote, 0..3).prop_map(|r| Edit::SetFlood { segment: "seg".into(), remotes: r.into_iter().map(String::from).collect() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Transactions of up to three edits: accepted exactly when the file
    /// loads after each of the same edits, and then equal to it; refused, nothing
    /// changed. The editor's indexes stay those of the configuration.
    #[test]
    fn editor_matches_the_file(txns in prop::collection::vec(prop::collection::vec(edit_strategy(), 1..4), 1..12)) {
        let mut model = Model::default();
        let mut cfg = load_str(&model.yaml(), "t.yaml").unwrap();
        let mut ed = Editor::new(&cfg);
        for txn in &txns {
            // Changes apply in order: each one must leave a valid file.
            let mut next = model.clone();
            let mut reference = Ok(cfg.clone());
            for e in txn {
                next.edit(e);
                reference = load_str(&next.yaml(), "t.yaml");
                if reference.is_err() {
                    break;
                }
            }
            let before = cfg.clone();
            let got = ed.apply(&mut cfg, txn, |i| format!("changes[{i}]"));
            match (&reference, &got) {
                (Ok(r), Ok(_)) => {
                    prop_assert_eq!(normalized(cfg.clone()), normalized(r.clone()));
                    model = next;
                }
                (Err(_), Err(_)) => prop_assert_eq!(normalized(cfg.clone()), normalized(before)),
                (Ok(_), Err(e)) => prop_assert!(false, "refused what the file takes: {e}\n{txn:?}\n{}", next.yaml()),
                (Err(r), Ok(_)) => prop_assert!(false, "took what the file refuses: {r}\n{txn:?}"),
            }
            let fresh = Editor::new(&cfg);
            prop_assert_eq!(&fresh.names, &ed.names);
            prop_assert_eq!(&fresh.routes, &ed.routes);
            prop_assert_eq!(&fresh.per_tunnel, &ed.per_tunnel);
            prop_assert_eq!(&fresh.per_vni, &ed.per_vni);
            prop_assert_eq!(&fresh.macs, &ed.macs);
            prop_assert_eq!(fresh.not_plain, ed.not_plain);
            prop_assert_eq!(&fresh.long_blocks, &ed.long_blocks);
            for t in &cfg.tunnels {
                prop_assert_eq!(cfg.tunnel_for(t.remote, t.vni).map(|x| &x.name), Some(&t.name));
            }
        }
    }
}

fn base() -> (Config, Editor) {
    let text = format!(
        "{BASE}  routes:\n    - {{ prefix: 198.19.0.0/16, tunnel: t1 }}\ntunnels:\n  - {{ name: t1, remote: 198.18.0.2, vni: 5001 }}\n  - {{ name: t2, remote: 198.18.0.3, vni: 5002 }}\n"
    );
    let cfg = load_str(&text, "t.yaml").unwrap();
    let ed = Editor::new(&cfg);
    (cfg, ed)
}

fn label(i: usize) -> String {
    format!("changes[{i}]")
}

/// `limits.route_groups` holds for routes the API adds as for the file:
/// one group per /24 block with a route longer than /24; a second route in
/// a block in use, a /24 or shorter, or an IPv6 route needs none; a
/// deleted route frees its block's group once it was the block's last.
#[test]
fn route_groups_limit_holds_for_added_routes() {
    let text = format!(
        "{BASE}  routes:\n    - {{ prefix: 198.19.1.0/25, tunnel: t1 }}\ntunnels:\n  - {{ name: t1, remote: 198.18.0.2, vni: 5001 }}\nlimits: {{ route_groups: 2 }}\n"
    );
    let mut cfg = load_str(&text, "t.yaml").unwrap();
    let mut ed = Editor::new(&cfg);
    let add = |p: &str| Edit::AddRoute {
        prefix: p.into(),
        tunnel: "t1".into(),
    };
    assert_eq!(ed.route_groups(), 1);
    // Same block, /24 and shorter, IPv6: no new group.
    for p in ["198.19.1.200/32", "198.19.9.0/24", "198.0.0.0/8"] {
        ed.apply(&mut cfg, &[add(p)], label).unwrap();
    }
    assert_eq!(ed.route_groups(), 1);
    ed.apply(&mut cfg, &[add("198.19.2.0/26")], label).unwrap();
    assert_eq!(ed.route_groups(), 2);
    let before = cfg.clone();
    let e = ed
        .apply(&mut cfg, &[add("198.19.7.1/32")], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Limit);
    assert_eq!(e.path, "changes[0].add_route.prefix");
    assert!(e.message.contains("limits.route_groups allows (2"), "{e}");
    assert!(e.message.contains("198.19.7.0/24"), "{e}");
    assert_eq!(cfg, before);
    // The file says the same of that configuration.
    let mut file = text.replace(
        "  routes:\n",
        "  routes:\n    - { prefix: 198.19.2.0/26, tunnel: t1 }\n    - { prefix: 198.19.7.1/32, tunnel: t1 }\n",
    );
    assert!(load_str(&file, "t.yaml").is_err());
    // Deleting one of two routes of a block keeps its group; the last frees it.
    ed.apply(
        &mut cfg,
        &[Edit::DeleteRoute("198.19.1.200/32".into())],
        label,
    )
    .unwrap();
    assert!(ed
        .apply(&mut cfg.clone(), &[add("198.19.7.1/32")], label)
        .is_err());
    ed.apply(
        &mut cfg,
        &[
            Edit::DeleteRoute("198.19.1.0/25".into()),
            add("198.19.7.1/32"),
        ],
        label,
    )
    .unwrap();
    assert_eq!(ed.route_groups(), 2);
    file = file.replace("    - { prefix: 198.19.1.0/25, tunnel: t1 }\n", "");
    assert!(load_str(&file, "t.yaml").is_ok());
}

#[test]
fn a_route_to_a_missing_tunnel_is_refused_as_dangling() {
    let (mut cfg, mut ed) = base();
    let e = ed
        .apply(
            &mut cfg,
            &[Edit::AddRoute {
                prefix: "198.20.0.0/16".into(),
                tunnel: "nope".into(),
            }],
            label,
        )
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling);
    assert_eq!(e.path, "changes[0].add_route.tunnel");
    assert!(e.message.contains("no tunnel named `nope`"), "{e}");
}

#[test]
fn deleting_a_tunnel_a_route_uses_is_refused() {
    let (mut cfg, mut ed) = base();
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteTunnel("t1".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling);
    assert!(
        e.message.contains("used by 1 route(s), e.g. 198.19.0.0/16"),
        "{e}"
    );
}

#[test]
fn an_invalid_field_names_its_path_and_the_file_s_reason() {
    let (mut cfg, mut ed) = base();
    let spec = TunnelSpec {
        name: "t3".into(),
        remote: "198.18.0.1".into(),
        vni: 7,
        ..Default::default()
    };
    let e = ed
        .apply(&mut cfg, &[Edit::AddTunnel(spec)], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Invalid);
    assert_eq!(e.path, "changes[0].add_tunnel.remote");
    assert!(e.message.contains("is the local VTEP address"), "{e}");
}

#[test]
fn a_transaction_whose_last_change_fails_leaves_nothing() {
    let (mut cfg, mut ed) = base();
    let before = cfg.clone();
    let txn = [
        Edit::AddTunnel(TunnelSpec {
            name: "t3".into(),
            remote: "198.18.0.4".into(),
            vni: 5003,
            ..Default::default()
        }),
        Edit::AddRoute {
            prefix: "198.20.0.0/16".into(),
            tunnel: "t3".into(),
        },
        Edit::DeleteRoute("198.19.0.0/16".into()),
        Edit::DeleteTunnel("t1".into()),
        Edit::AddRoute {
            prefix: "198.21.0.1/16".into(),
            tunnel: "t3".into(),
        },
    ];
    let e = ed.apply(&mut cfg, &txn, label).unwrap_err();
    assert_eq!(e.path, "changes[4].add_route.prefix");
    assert_eq!(cfg, before);
    assert!(ed.tunnel("t3").is_none());
    assert_eq!(
        ed.route(&IpPrefix::containing("198.19.0.0".parse().unwrap(), 16)),
        Some(0)
    );
    // The same without the bad change is taken whole.
    let a = ed.apply(&mut cfg, &txn[..4], label).unwrap();
    assert_eq!(
        a.counts.tunnels,
        crate::config::diff::Counts {
            added: 1,
            removed: 1,
            modified: 0
        }
    );
    assert_eq!(
        cfg.tunnels
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["t3", "t2"],
        "the last tunnel takes the removed one's place; t2 keeps its index"
    );
    // t3's route followed it from index 2 to 0.
    assert_eq!(cfg.l3.as_ref().unwrap().routes[0].tunnel, 0);
    // VNI 5003 decapsulates now (to l3.access), 5001 no longer.
    assert!(cfg.decap_for(Vni::new(5003).unwrap()).is_some());
    assert!(cfg.decap_for(Vni::new(5001).unwrap()).is_none());
}

#[test]
fn decap_entries_take_the_file_s_checks() {
    let (mut cfg, mut ed) = base();
    let e = ed
        .apply(
            &mut cfg,
            &[Edit::AddDecap {
                vni: 9000,
                port: None,
                vlan: None,
                allow_from: None,
            }],
            label,
        )
        .unwrap_err();
    assert_eq!(e.path, "changes[0].add_decap.port");
    assert!(e.message.contains("access port must be given"), "{e}");
    let e = ed
        .apply(
            &mut cfg,
            &[Edit::AddDecap {
                vni: 9000,
                port: Some("up".into()),
                vlan: None,
                allow_from: None,
            }],
            label,
        )
        .unwrap_err();
    assert!(e.message.contains("has role underlay"), "{e}");
    ed.apply(
        &mut cfg,
        &[Edit::AddDecap {
            vni: 9000,
            port: Some("acc".into()),
            vlan: Some(7),
            allow_from: Some(vec!["198.18.0.9".into()]),
        }],
        label,
    )
    .unwrap();
    let d = cfg.decap_for(Vni::new(9000).unwrap()).unwrap();
    assert_eq!(
        (d.port, d.vlan, d.allow_from.clone()),
        (1, Some(7), Some(vec!["198.18.0.9".parse().unwrap()]))
    );
    // An L3 VNI keeps its entry; only its allow list goes.
    ed.apply(
        &mut cfg,
        &[Edit::AddDecap {
            vni: 5001,
            port: None,
            vlan: None,
            allow_from: Some(vec!["198.18.0.2".into()]),
        }],
        label,
    )
    .unwrap();
    ed.apply(&mut cfg, &[Edit::DeleteDecap(5001)], label)
        .unwrap();
    assert_eq!(
        cfg.decap_for(Vni::new(5001).unwrap()).unwrap().allow_from,
        None
    );
    ed.apply(&mut cfg, &[Edit::DeleteDecap(9000)], label)
        .unwrap();
    assert!(cfg.decap_for(Vni::new(9000).unwrap()).is_none());
}

#[test]
fn options_in_use_stay_and_policies_follow_a_removal() {
    let text = format!(
        "{BASE}tunnels:\n  - {{ name: t1, remote: 198.18.0.2, vni: 5001 }}\n  routes:\n    - {{ prefix: 198.19.0.0/16, tunnel: t1 }}\noptions:\n  registry:\n    - {{ name: a, class: 1, type: 1 }}\n    - {{ name: b, class: 1, type: 2 }}\n  policies:\n    require:\n      - {{ option: b, vni: 5001 }}\n"
    );
    // `routes:` belongs under l3 in BASE's order: put it there.
    let text = text.replace(
        "  routes:\n    - { prefix: 198.19.0.0/16, tunnel: t1 }\n",
        "",
    );
    let text = text.replace(
        "    port: acc2\n",
        "    port: acc2\n  routes:\n    - { prefix: 198.19.0.0/16, tunnel: t1 }\n",
    );
    let mut cfg = load_str(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut ed = Editor::new(&cfg);
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteOption("b".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling);
    // A transaction that removes `a` and then fails leaves the indexes.
    let before = cfg.clone();
    let bad = Edit::AddOption {
        name: "c".into(),
        class: 1,
        type_: 2,
        length: None,
    };
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteOption("a".into()), bad], label)
        .unwrap_err();
    assert_eq!(e.path, "changes[1].add_option.type", "{e}");
    assert_eq!(cfg, before);
    let a = ed
        .apply(&mut cfg, &[Edit::DeleteOption("a".into())], label)
        .unwrap();
    assert_eq!(a.global, Some("options"));
    let o = &cfg.options;
    assert_eq!(o.registry[o.require[0].option].name, "b");
}

/// Option policies through the editor end where the same policies written
/// in the file end; refusals name the field and leave the configuration.
#[test]
fn policies_are_added_and_deleted_as_the_file_says_them() {
    let text = |policies: &str| {
        format!(
            "{BASE}  routes:\n    - {{ prefix: 198.19.0.0/16, tunnel: t1 }}\ntunnels:\n  - {{ name: t1, remote: 198.18.0.2, vni: 5001 }}\n  - {{ name: t2, remote: 198.18.0.3, vni: 100 }}\nl2:\n  segments:\n    - {{ port: acc, vni: 100 }}\noptions:\n  registry:\n    - {{ name: tag, class: 0x0102, type: 1, length: 4 }}\n    - {{ name: any, class: 0x0102, type: 2 }}\n{policies}"
        )
    };
    let load = |t: &str| load_str(t, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{t}"));
    let mut cfg = load(&text(""));
    let mut ed = Editor::new(&cfg);
    let spec = |kind: &str, option: &str| PolicySpec {
        kind: kind.into(),
        option: option.into(),
        ..PolicySpec::default()
    };
    let require = PolicySpec {
        vni: Some(100),
        ..spec("require", "any")
    };
    let tags = PolicySpec {
        tunnel: Some("t1".into()),
        allow: vec!["0000000a".into(), "7".into(), "12345678".into()],
        default: Some("allow".into()),
        ..spec("security_tags", "tag")
    };
    let a = ed
        .apply(
            &mut cfg,
            &[
                Edit::AddPolicy(require.clone()),
                Edit::AddPolicy(tags.clone()),
            ],
            label,
        )
        .unwrap();
    assert_eq!(a.global, None);
    assert_eq!(a.decap, [Vni::new(100).unwrap(), Vni::new(5001).unwrap()]);
    let file = load(&text("  policies:\n    require:\n      - { option: any, vni: 100 }\n    security_tags:\n      - { option: tag, tunnel: t1, allow: [\"0000000a\", 7, \"12345678\"], default: allow }\n"));
    assert_eq!(cfg.options, file.options);

    // Refused, each with its field; nothing of a refused transaction stays.
    let before = cfg.clone();
    let refused = |ed: &mut Editor, cfg: &mut Config, e: Edit| {
        ed.apply(cfg, &[Edit::AddPolicy(spec("require", "tag")), e], label)
            .unwrap_err()
    };
    let cases = [
        (
            spec("demand", "tag"),
            EditErrorKind::Invalid,
            "changes[1].add_policy.kind",
        ),
        (
            spec("require", "nope"),
            EditErrorKind::Dangling,
            "changes[1].add_policy.option",
        ),
        (
            PolicySpec {
                vni: Some(999),
                ..spec("require", "tag")
            },
            EditErrorKind::Dangling,
            "changes[1].add_policy.vni",
        ),
        (
            PolicySpec {
                tunnel: Some("t9".into()),
                ..spec("require", "tag")
            },
            EditErrorKind::Dangling,
            "changes[1].add_policy.tunnel",
        ),
        (
            require.clone(),
            EditErrorKind::Invalid,
            "changes[1].add_policy.option",
        ),
        (
            PolicySpec {
                allow: vec!["0a".into()],
                ..spec("security_tags", "tag")
            },
            EditErrorKind::Invalid,
            "changes[1].add_policy.allow[0]",
        ),
        (
            spec("security_tags", "tag"),
            EditErrorKind::Invalid,
            "changes[1].add_policy",
        ),
        (
            spec("flow_id_copy", "any"),
            EditErrorKind::Invalid,
            "changes[1].add_policy.option",
        ),
        (
            PolicySpec {
                allow: vec!["1".into()],
                ..spec("require", "tag")
            },
            EditErrorKind::Invalid,
            "changes[1].add_policy.allow",
        ),
    ];
    for (s, kind, path) in cases {
        let e = refused(&mut ed, &mut cfg, Edit::AddPolicy(s.clone()));
        assert_eq!((e.kind, e.path.as_str()), (kind, path), "{s:?}: {e}");
        assert_eq!(cfg, before, "{s:?}");
    }
    // What a policy names cannot go while it does.
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteTunnel("t1".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling, "{e}");
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteOption("any".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling, "{e}");

    // Deleted by kind, option and scope; a second time it is not there.
    let a = ed
        .apply(&mut cfg, &[Edit::DeletePolicy(require.clone())], label)
        .unwrap();
    assert_eq!(a.decap, [Vni::new(100).unwrap()]);
    let e = ed
        .apply(&mut cfg, &[Edit::DeletePolicy(require)], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::NotFound, "{e}");
    let file = load(&text("  policies:\n    security_tags:\n      - { option: tag, tunnel: t1, allow: [\"0000000a\", 7, \"12345678\"], default: allow }\n"));
    assert_eq!(cfg.options, file.options);
    // A flow-id copy changes templates: every table anew.
    let a = ed
        .apply(
            &mut cfg,
            &[Edit::AddPolicy(spec("flow_id_copy", "tag"))],
            label,
        )
        .unwrap();
    assert!(a.global.is_some());
}

/// VXLAN tunnels and mesh groups through the editor: the file's stitching
/// checks refuse what the file refuses (under the change's path), what is
/// accepted ends where the same file ends, and every such change asks for
/// all tables anew.
#[test]
fn vxlan_and_mesh_tunnels_are_checked_as_the_file_and_rebuild() {
    let text = |vxlan_port: &str, tunnels: &str| {
        format!(
            "ports:\n  - {{ name: up, role: underlay, device: net_null0 }}\n  - {{ name: acc, role: access, device: net_null1 }}\n  - {{ name: acc2, role: access, device: net_null2 }}\nvtep:\n  ipv4: 198.18.0.1/24\n{vxlan_port}l3:\n  access:\n    port: acc2\n  routes:\n    - {{ prefix: 198.19.0.0/16, tunnel: g1 }}\ntunnels:\n  - {{ name: g1, remote: 198.18.0.2, vni: 5001 }}\n  - {{ name: ovn, remote: 198.18.0.2, vni: 1000, mesh: overlay }}\n{tunnels}l2:\n  segments:\n    - {{ port: acc, vni: 1000, vxlan_vni: 5000, flood: [198.18.0.4] }}\n"
        )
    };
    let load = |t: &str| load_str(t, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{t}"));
    let tor = |opts: Vec<OptionSpec>| TunnelSpec {
        name: "tor".into(),
        remote: "198.18.0.3".into(),
        vni: 5000,
        encapsulation: Some("vxlan".into()),
        mesh: Some("fabric".into()),
        options: opts,
        ..TunnelSpec::default()
    };
    // No VXLAN port on the VTEP: refused as the file refuses it.
    let mut cfg = load(&text("", ""));
    let before = cfg.clone();
    let mut ed = Editor::new(&cfg);
    let e = ed
        .apply(&mut cfg, &[Edit::AddTunnel(tor(vec![]))], label)
        .unwrap_err();
    assert_eq!(
        (e.kind, e.path.as_str()),
        (
            EditErrorKind::Invalid,
            "changes[0].add_tunnel.encapsulation"
        ),
        "{e}"
    );
    assert_eq!(cfg, before);

    let port = "  vxlan_port: 4789\n";
    let mut cfg = load(&text(port, ""));
    let before = cfg.clone();
    let mut ed = Editor::new(&cfg);
    // Options on VXLAN: refused, nothing of the transaction stays.
    let opt = OptionSpec {
        class: Some(0x0102),
        type_: Some(1),
        data: "00000001".into(),
        ..OptionSpec::default()
    };
    let e = ed
        .apply(
            &mut cfg,
            &[
                Edit::DeleteRoute("198.19.0.0/16".into()),
                Edit::AddTunnel(tor(vec![opt])),
            ],
            label,
        )
        .unwrap_err();
    assert_eq!(e.path, "changes[1].add_tunnel.options", "{e}");
    assert_eq!(cfg, before);

    // Added: the same tunnels as the file that lists it; all tables anew.
    let a = ed
        .apply(&mut cfg, &[Edit::AddTunnel(tor(vec![]))], label)
        .unwrap();
    assert!(a.global.is_some());
    let with_tor =
        "  - { name: tor, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan, mesh: fabric }\n";
    assert_eq!(cfg.tunnels, load(&text(port, with_tor)).tunnels);
    // A route to it: VXLAN carries Ethernet only.
    let e = ed
        .apply(
            &mut cfg,
            &[Edit::AddRoute {
                prefix: "198.20.0.0/16".into(),
                tunnel: "tor".into(),
            }],
            label,
        )
        .unwrap_err();
    assert_eq!(e.path, "changes[0].add_route.tunnel", "{e}");
    // Its settings alone: an entry change; its mesh group: all anew.
    let a = ed
        .apply(
            &mut cfg,
            &[Edit::AddTunnel(TunnelSpec {
                ttl: Some("9".into()),
                ..tor(vec![])
            })],
            label,
        )
        .unwrap();
    assert_eq!(a.global, None);
    assert_eq!(
        a.tunnels,
        [("198.18.0.3".parse().unwrap(), Vni::new(5000).unwrap())]
    );
    let a = ed
        .apply(
            &mut cfg,
            &[Edit::AddTunnel(TunnelSpec {
                mesh: Some("other".into()),
                ttl: Some("9".into()),
                ..tor(vec![])
            })],
            label,
        )
        .unwrap();
    assert!(a.global.is_some());
    // The Geneve member's own mesh group back to the default: all anew.
    let a = ed
        .apply(
            &mut cfg,
            &[Edit::AddTunnel(TunnelSpec {
                name: "ovn".into(),
                remote: "198.18.0.2".into(),
                vni: 1000,
                ..TunnelSpec::default()
            })],
            label,
        )
        .unwrap();
    assert!(a.global.is_some());
    assert_eq!(ed.not_plain, 1);
    // Deleted: all anew, and the file without it.
    let a = ed
        .apply(&mut cfg, &[Edit::DeleteTunnel("tor".into())], label)
        .unwrap();
    assert!(a.global.is_some());
    assert_eq!(ed.not_plain, 0);
    let plain = text(port, "").replace(", mesh: overlay", "");
    assert_eq!(cfg.tunnels, load(&plain).tunnels);
    // The segment receives VXLAN: its flood list and static MACs shape its
    // mesh, which is made with the tables.
    for e in [
        Edit::SetFlood {
            segment: "0".into(),
            remotes: vec!["198.18.0.5".into()],
        },
        Edit::AddStaticMac {
            segment: "0".into(),
            mac: "02:00:00:00:00:01".into(),
            remote: "198.18.0.5".into(),
        },
        Edit::DeleteStaticMac {
            segment: "0".into(),
            mac: "02:00:00:00:00:01".into(),
        },
    ] {
        let a = ed.apply(&mut cfg, std::slice::from_ref(&e), label).unwrap();
        assert!(a.global.is_some(), "{e:?}");
    }
    // Without a VXLAN port nor VXLAN members: entry changes.
    let mut cfg = load(&text("", ""));
    let mut ed = Editor::new(&cfg);
    let a = ed
        .apply(
            &mut cfg,
            &[Edit::SetFlood {
                segment: "0".into(),
                remotes: vec!["198.18.0.5".into()],
            }],
            label,
        )
        .unwrap();
    assert_eq!(a.global, None);
}

/// Segments added and deleted through the editor end where the same file
/// ends (the decap entry a segment implies comes and goes with it), are
/// refused as the file refuses them, and ask for every table anew.
#[test]
fn segments_are_added_and_deleted_as_the_file_says_them() {
    let text = |segments: &str| {
        format!(
            "ports:\n  - {{ name: up, role: underlay, device: net_null0 }}\n  - {{ name: acc, role: access, device: net_null1 }}\nvtep:\n  ipv4: 198.18.0.1/24\ntunnels:\n  - {{ name: t1, remote: 198.18.0.2, vni: 300 }}\nl2:\n  segments:\n{segments}"
        )
    };
    let load = |t: &str| load_str(t, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{t}"));
    let a = "    - { name: a, port: acc, vlan: 10, vni: 100, static_macs: [{ mac: \"02:00:00:00:00:0a\", remote: 198.18.0.2 }] }\n";
    let b = "    - { name: b, port: acc, vlan: 20, vni: 200 }\n";
    let c =
        "    - { name: c, port: acc, vlan: 30, vni: 300, vxlan_vni: 3000, flood: [198.18.0.2] }\n";
    let mut cfg = load(&text(&format!("{a}{b}")));
    let mut ed = Editor::new(&cfg);
    let spec = SegmentSpec {
        name: Some("c".into()),
        port: "acc".into(),
        vlan: Some(30),
        vni: 300,
        vxlan_vni: Some(3000),
        flood: vec!["198.18.0.2".into()],
    };
    let r = ed
        .apply(&mut cfg, &[Edit::AddSegment(spec.clone())], label)
        .unwrap();
    assert_eq!(r.global, Some("l2 segments"));
    assert_eq!(cfg, load(&text(&format!("{a}{b}{c}"))));
    // The editor's indexes follow: a static MAC into the new segment.
    ed.apply(
        &mut cfg,
        &[Edit::AddStaticMac {
            segment: "c".into(),
            mac: "02:00:00:00:00:0c".into(),
            remote: "198.18.0.2".into(),
        }],
        label,
    )
    .unwrap();

    // Refused as the file refuses them, nothing of the transaction stays.
    let before = cfg.clone();
    let spec = SegmentSpec {
        name: Some("d".into()),
        vxlan_vni: None,
        vni: 400,
        vlan: Some(40),
        ..spec
    };
    let cases = [
        (
            SegmentSpec {
                vlan: Some(20),
                ..spec.clone()
            },
            "changes[1].add_segment.vlan",
        ),
        (
            SegmentSpec {
                vni: 200,
                ..spec.clone()
            },
            "changes[1].add_segment.vni",
        ),
        (
            SegmentSpec {
                port: "up".into(),
                ..spec.clone()
            },
            "changes[1].add_segment.port",
        ),
        (
            SegmentSpec {
                vlan: Some(4095),
                ..spec.clone()
            },
            "changes[1].add_segment.vlan",
        ),
    ];
    for (s, path) in cases {
        let e = ed
            .apply(
                &mut cfg,
                &[Edit::DeleteSegment("a".into()), Edit::AddSegment(s.clone())],
                label,
            )
            .unwrap_err();
        assert_eq!(
            (e.kind, e.path.as_str()),
            (EditErrorKind::Invalid, path),
            "{s:?}: {e}"
        );
        assert_eq!(cfg, before, "{s:?}");
    }
    // A segment whose VNI a policy names stays until the policy goes.
    let text2 = text(&format!("{a}{b}")) + "options:\n  registry:\n    - { name: x, class: 1, type: 1 }\n  policies:\n    require:\n      - { option: x, vni: 200 }\n";
    let mut cfg2 = load(&text2);
    let mut ed2 = Editor::new(&cfg2);
    let e = ed2
        .apply(&mut cfg2, &[Edit::DeleteSegment("b".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Dangling, "{e}");

    // Deleted: the first one, its static MAC and decap entry with it; the
    // others move up.
    let r = ed
        .apply(&mut cfg, &[Edit::DeleteSegment("a".into())], label)
        .unwrap();
    assert_eq!(r.global, Some("l2 segments"));
    let c2 = c.replace(
        " }\n",
        ", static_macs: [{ mac: \"02:00:00:00:00:0c\", remote: 198.18.0.2 }] }\n",
    );
    assert_eq!(cfg, load(&text(&format!("{b}{c2}"))));
    assert!(cfg.decap_for(Vni::new(100).unwrap()).is_none());
    let e = ed
        .apply(&mut cfg, &[Edit::DeleteSegment("a".into())], label)
        .unwrap_err();
    assert_eq!(e.kind, EditErrorKind::NotFound, "{e}");
}

fn any_prefix() -> impl Strategy<Value = IpPrefix> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, len)| IpPrefix {
            addr: IpAddr::V4(Ipv4Addr::from(a)),
            len,
        }),
        (any::<u128>(), 0u8..=128).prop_map(|(a, len)| IpPrefix {
            addr: IpAddr::V6(std::net::Ipv6Addr::from(a)),
            len,
        }),
        // Near the ends and the family boundary.
        (
            prop_oneof![Just(0u128), Just(u128::from(u32::MAX)), Just(u128::MAX)],
            0u8..=2
        )
            .prop_map(|(a, len)| IpPrefix {
                addr: IpAddr::V6(std::net::Ipv6Addr::from(a)),
                len,
            }),
    ]
}

proptest! {
    /// The integer order the editor sorts its routes by is `IpPrefix`'s
    /// own (the trees built from the sorted list rely on it).
    #[test]
    fn prefix_order_is_the_prefixes_order(a in any_prefix(), b in any_prefix()) {
        prop_assert_eq!(prefix_order(&a).cmp(&prefix_order(&b)), a.cmp(&b));
        prop_assert!(FIRST_PREFIX <= a);
    }
}
