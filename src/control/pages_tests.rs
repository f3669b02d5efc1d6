//! Paging while the tables change: every entry present from the first
//! page to the last is listed exactly once, and nothing is listed twice.
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::config::edit::{Edit, TunnelSpec};
use crate::config::load_str;

const TUNNELS: usize = 40;
const ROUTES: usize = 200;
const MACS: usize = 150;

fn base() -> (Config, Editor) {
    let mut s = String::from(
        "ports:\n  - { name: up, role: underlay, device: net_null0 }\n  - { name: acc, role: access, device: net_null1 }\n  - { name: acc2, role: access, device: net_null2 }\nvtep:\n  ipv4: 198.18.0.1/24\nl3:\n  access:\n    port: acc2\n  routes:\n",
    );
    for r in 0..ROUTES {
        s.push_str(&format!(
            "    - {{ prefix: 198.19.{}.0/24, tunnel: t{:03} }}\n",
            r,
            r % TUNNELS
        ));
    }
    s.push_str("tunnels:\n");
    for t in 0..TUNNELS {
        s.push_str(&format!(
            "  - {{ name: t{t:03}, remote: 198.18.0.{}, vni: {} }}\n",
            t + 2,
            5000 + t
        ));
    }
    s.push_str("l2:\n  segments:\n    - { port: acc, vni: 100, name: seg }\n    - port: acc\n      vlan: 7\n      vni: 101\n      static_macs:\n");
    for m in 0..MACS {
        s.push_str(&format!(
            "        - {{ mac: \"02:00:00:00:{:02x}:{:02x}\", remote: 198.18.0.2 }}\n",
            m / 256,
            m % 256
        ));
    }
    let cfg = load_str(&s, "t.yaml").unwrap();
    let ed = Editor::new(&cfg);
    (cfg, ed)
}

/// One random change, by number: a route or static MAC added or removed,
/// a tunnel added or an unused one removed (refused changes change
/// nothing, which is fine).
fn change(cfg: &mut Config, ed: &mut Editor, n: u32) {
    let k = n / 8;
    let e = match n % 8 {
        0 | 1 => Edit::AddRoute {
            prefix: format!("198.19.{}.0/24", k % 256),
            tunnel: format!("t{:03}", k % (TUNNELS as u32)),
        },
        2 | 3 => Edit::DeleteRoute(format!("198.19.{}.0/24", k % 256)),
        4 => Edit::AddStaticMac {
            segment: "1".into(),
            mac: format!("02:00:00:00:{:02x}:{:02x}", (k % 200) / 256, k % 200),
            remote: "198.18.0.3".into(),
        },
        5 => Edit::DeleteStaticMac {
            segment: "1".into(),
            mac: format!("02:00:00:00:{:02x}:{:02x}", (k % 200) / 256, k % 200),
        },
        6 => Edit::AddTunnel(TunnelSpec {
            name: format!("n{:03}", k % 50),
            remote: "198.18.0.200".into(),
            vni: 7000 + i64::from(k % 50),
            ..TunnelSpec::default()
        }),
        _ => Edit::DeleteTunnel(format!("n{:03}", k % 50)),
    };
    let _ = ed.apply(cfg, &[e], |_| "change".into());
}

/// The keys of one list now.
type Keys = BTreeSet<String>;

fn tunnel_keys(c: &Config) -> Keys {
    c.tunnels.iter().map(|t| t.name.clone()).collect()
}
fn route_keys(c: &Config) -> Keys {
    c.l3.iter()
        .flat_map(|l| &l.routes)
        .map(|r| format!("{} {}", r.prefix, c.tunnels[r.tunnel].name))
        .collect()
}
fn mac_keys(c: &Config) -> Keys {
    c.l2.iter()
        .flat_map(|l| l.segments.iter().enumerate())
        .flat_map(|(i, s)| {
            s.static_macs
                .iter()
                .map(move |m| format!("{i} {} {}", MacDisplay(&m.mac), m.remote))
        })
        .collect()
}
fn decap_keys(c: &Config) -> Keys {
    c.decap.iter().map(|d| d.vni.get().to_string()).collect()
}

/// Lists with `list` (one page from a token: the page's keys and the next
/// token) while `changes` are made between pages; checks the listing
/// against `now` (the list's keys at a moment).
fn check_listing(
    changes: &[u32],
    size: usize,
    list: impl Fn(&Config, &Editor, &str) -> (Vec<String>, String),
    now: impl Fn(&Config) -> Keys,
) -> Result<(), TestCaseError> {
    let (mut cfg, mut ed) = base();
    let mut throughout = now(&cfg);
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    let mut token = String::new();
    let mut pending = changes.iter();
    for _ in 0..10_000 {
        let (keys, next) = list(&cfg, &ed, &token);
        prop_assert!(keys.len() <= size);
        for k in keys {
            *listed.entry(k).or_default() += 1;
        }
        // Changes between pages: what they touch is not "present
        // throughout" any more.
        for _ in 0..3 {
            if let Some(&n) = pending.next() {
                change(&mut cfg, &mut ed, n);
                let after = now(&cfg);
                throughout.retain(|k| after.contains(k));
            }
        }
        if next.is_empty() {
            break;
        }
        token = next;
    }
    for (k, n) in &listed {
        prop_assert_eq!(*n, 1, "{} listed {} times", k, n);
    }
    for k in &throughout {
        prop_assert!(
            listed.contains_key(k),
            "{} present throughout, not listed",
            k
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn tunnels_page_once_each_under_changes(changes in prop::collection::vec(any::<u32>(), 0..300), size in 1usize..9) {
        check_listing(&changes, size, |c, e, t| {
            let (v, next) = tunnels(e, t, size).unwrap();
            (v.into_iter().map(|i| c.tunnels[i].name.clone()).collect(), next)
        }, tunnel_keys)?;
    }

    #[test]
    fn routes_page_once_each_under_changes(changes in prop::collection::vec(any::<u32>(), 0..300), size in 1usize..9) {
        check_listing(&changes, size, |c, e, t| {
            let (v, next) = routes(e, t, size, None, None).unwrap();
            (v.into_iter().map(|(p, i)| format!("{p} {}", c.tunnels[i].name)).collect(), next)
        }, route_keys)?;
    }

    #[test]
    fn static_macs_page_once_each_under_changes(changes in prop::collection::vec(any::<u32>(), 0..300), size in 1usize..9) {
        check_listing(&changes, size, |c, e, t| {
            let (v, next) = static_macs(e, t, size, None).unwrap();
            let segs = &c.l2.as_ref().unwrap().segments;
            (v.into_iter().map(|(s, p)| {
                let m = &segs[s].static_macs[p];
                format!("{s} {} {}", MacDisplay(&m.mac), m.remote)
            }).collect(), next)
        }, mac_keys)?;
    }

    #[test]
    fn decap_entries_page_once_each_under_changes(changes in prop::collection::vec(any::<u32>(), 0..300), size in 1usize..9) {
        check_listing(&changes, size, |c, _, t| {
            let (v, next) = decap(c, t, size).unwrap();
            (v.into_iter().map(|i| c.decap[i].vni.get().to_string()).collect(), next)
        }, decap_keys)?;
    }

    /// A snapshot's pages over a live set that gains and loses keys
    /// between pages.
    #[test]
    fn snapshot_pages_once_each_under_changes(
        start in prop::collection::btree_set(0u32..500, 0..200),
        changes in prop::collection::vec((any::<bool>(), 0u32..500), 0..300),
        size in 1usize..9,
    ) {
        let mut live = start.clone();
        let mut throughout = start.clone();
        let snap = Snapshot::new(live.iter().copied().collect());
        let mut listed: BTreeMap<u32, usize> = BTreeMap::new();
        let mut after = None;
        let mut pending = changes.iter();
        loop {
            let (keys, more) = snap.page(after, None, size, |_| true, |k| live.contains(k));
            prop_assert!(keys.len() <= size);
            for k in &keys {
                prop_assert!(live.contains(k));
                *listed.entry(*k).or_default() += 1;
            }
            for _ in 0..3 {
                if let Some(&(add, k)) = pending.next() {
                    if add { live.insert(k); } else { live.remove(&k); throughout.remove(&k); }
                }
            }
            if !more {
                break;
            }
            // A page with more after it is full, so it has a last key.
            prop_assert_eq!(keys.len(), size);
            after = keys.last().copied();
        }
        for (k, n) in &listed {
            prop_assert_eq!(*n, 1, "{} listed {} times", k, n);
        }
        for k in &throughout {
            prop_assert!(listed.contains_key(k), "{} present throughout, not listed", k);
        }
    }
}

/// Filters page in key order too: the routes inside a prefix, and those of
/// one tunnel, against a filter over the whole list.
#[test]
fn filtered_route_pages_are_the_filtered_list() {
    let (cfg, ed) = base();
    let within = parse_prefix("198.19.64.0/18").unwrap();
    let t = ed.tunnel("t003").unwrap();
    for (w, tun) in [
        (Some(within), None),
        (None, Some(t)),
        (Some(within), Some(t)),
    ] {
        let mut want: Vec<IpPrefix> = cfg
            .l3
            .as_ref()
            .unwrap()
            .routes
            .iter()
            .filter(|r| {
                w.is_none_or(|w: IpPrefix| w.contains(r.prefix.addr) && r.prefix.len >= w.len)
            })
            .filter(|r| tun.is_none_or(|t| r.tunnel == t))
            .map(|r| r.prefix)
            .collect();
        want.sort();
        let mut got = Vec::new();
        let mut token = String::new();
        loop {
            let (v, next) = routes(&ed, &token, 5, w, tun).unwrap();
            got.extend(v.into_iter().map(|(p, _)| p));
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert!(!want.is_empty());
        assert_eq!(got, want, "within {w:?} tunnel {tun:?}");
    }
    let (v, _) = static_macs(&ed, "", 1000, Some(0)).unwrap();
    assert!(v.is_empty(), "segment 0 has no static MACs");
    let (v, _) = static_macs(&ed, "", 1000, Some(1)).unwrap();
    assert_eq!(v.len(), MACS);
    assert!(tunnels(&ed, "", 5).is_ok());
    assert!(routes(&ed, "not a prefix", 5, None, None).is_err());
    assert!(static_macs(&ed, "1", 5, None).is_err());
}

/// The check catches what position tokens (the lists' tokens before)
/// do: removals move entries across the token, which are then skipped.
#[test]
fn position_tokens_fail_the_check() {
    // Deletes of 198.19.0.0/24, 198.19.1.0/24, ... between pages.
    let changes: Vec<u32> = (0..100).map(|i| i * 8 + 2).collect();
    let r = check_listing(
        &changes,
        5,
        |c, _, t| {
            let start: usize = if t.is_empty() { 0 } else { t.parse().unwrap() };
            let routes = &c.l3.as_ref().unwrap().routes;
            let end = (start + 5).min(routes.len());
            let v = routes[start.min(end)..end]
                .iter()
                .map(|r| format!("{} {}", r.prefix, c.tunnels[r.tunnel].name))
                .collect();
            let next = if end < routes.len() {
                end.to_string()
            } else {
                String::new()
            };
            (v, next)
        },
        route_keys,
    );
    assert!(r.is_err(), "position tokens passed the check");
}
