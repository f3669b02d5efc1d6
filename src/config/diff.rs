//! A reload as entry changes: the difference between the running and the
//! new configuration, per table (tunnels, routes, static MACs, flood
//! lists, decap VNIs: added, removed, modified), or the reason to make
//! every table anew when something global changed. Computed on the reload
//! thread (it walks both files); the table planner
//! (`dataplane::changes::Planner::apply_diff`) carries it out on the
//! control thread, and the control API's entry edits (`config::edit`)
//! describe what they changed in the same terms.
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::config::{self, Config, IpPrefix};
use crate::wire::geneve::Vni;

/// Counts of one batch: entries added, removed, modified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
}

impl Counts {
    pub(crate) fn count<T: PartialEq>(&mut self, old: Option<T>, new: Option<T>) {
        match (old, new) {
            (None, Some(_)) => self.added += 1,
            (Some(_), None) => self.removed += 1,
            (Some(a), Some(b)) if a != b => self.modified += 1,
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added + self.removed + self.modified == 0
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{} -{} ~{}", self.added, self.removed, self.modified)
    }
}

/// The difference between two configurations, entry by entry: what a
/// reload changes. Computed off the control thread (it walks both files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Something global changed: build everything anew.
    pub global: Option<&'static str>,
    /// Tunnels added, removed or changed (their templates are rewritten).
    pub tunnels: Vec<(IpAddr, Vni)>,
    pub routes: Vec<(IpPrefix, Option<(IpAddr, Vni)>)>,
    pub static_macs: Vec<(usize, [u8; 6], Option<IpAddr>)>,
    /// Segments whose flood list changed.
    pub flood: Vec<usize>,
    /// VNIs whose decap entry was added, removed or changed.
    pub decap: Vec<Vni>,
    pub counts: DiffCounts,
}

/// Per table: entries added, removed, modified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffCounts {
    pub tunnels: Counts,
    pub routes: Counts,
    pub static_macs: Counts,
    pub flood_lists: Counts,
    pub decap: Counts,
}

/// As [`ReloadSummary`] writes them.
impl std::fmt::Display for DiffCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ReloadSummary::of(None, self).fmt(f)
    }
}

/// What one reload changed, per table: the SIGHUP reload's log line
/// (its `Display`, one line) and the control API's answer (`Serialize`,
/// for `--json`). Made from a [`ConfigDiff`] with [`ConfigDiff::summary`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadSummary {
    /// What global changed, when something did: every table was made anew
    /// and the counts below stay zero.
    pub rebuilt: Option<&'static str>,
    /// Tunnels (by remote VTEP and VNI) added, removed, modified.
    pub tunnels: Counts,
    /// `l3.routes` (by prefix).
    pub routes: Counts,
    /// Static MACs (by segment and MAC).
    pub static_macs: Counts,
    /// Segments whose flood list changed (modified only).
    pub flood: Counts,
    /// Decap entries (by VNI).
    pub vnis: Counts,
}

impl ReloadSummary {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.rebuilt.is_none()
            && [
                self.tunnels,
                self.routes,
                self.static_macs,
                self.flood,
                self.vnis,
            ]
            .iter()
            .all(Counts::is_empty)
    }
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rebuilt {
            Some(why) => write!(f, "{why} changed: every table made anew"),
            None => write!(
                f,
                "tunnels {}, routes {}, static MACs {}, flood lists {}, decap VNIs {}",
                self.tunnels, self.routes, self.static_macs, self.flood, self.vnis
            ),
        }
    }
}

impl ReloadSummary {
    fn of(rebuilt: Option<&'static str>, c: &DiffCounts) -> ReloadSummary {
        ReloadSummary {
            rebuilt,
            tunnels: c.tunnels,
            routes: c.routes,
            static_macs: c.static_macs,
            flood: c.flood_lists,
            vnis: c.decap,
        }
    }
}

impl ConfigDiff {
    /// The reload's changes per table.
    pub fn summary(&self) -> ReloadSummary {
        ReloadSummary::of(self.global, &self.counts)
    }
}

type TunnelSettings<'a> = (
    &'a [crate::wire::geneve::TunnelOption],
    u16,
    config::UdpChecksum,
    config::HeaderPolicy,
    config::HeaderPolicy,
    (u16, u16),
);

/// A tunnel's settings without its name (the name changes no packet).
fn tunnel_settings(t: &config::Tunnel) -> TunnelSettings<'_> {
    (
        &t.options[..],
        t.udp_dst_port,
        t.udp_checksum,
        t.ttl,
        t.dscp,
        t.source_ports,
    )
}

/// Why `old` and `new` differ in something global, if they do.
fn global_change(old: &Config, new: &Config) -> Option<&'static str> {
    if old.vtep != new.vtep {
        return Some("vtep");
    }
    if old.ports != new.ports {
        return Some("ports");
    }
    let seg_shape = |c: &Config| {
        c.l2.as_ref().map(|l| {
            (
                l.learning,
                l.ageing_seconds,
                l.segments
                    .iter()
                    .map(|s| (s.port, s.vlan, s.vni, s.vxlan_vni))
                    .collect::<Vec<_>>(),
            )
        })
    };
    if seg_shape(old) != seg_shape(new) {
        return Some("l2 segments");
    }
    // Stitching: which VNI a remote is a member in, its encapsulation and
    // its mesh group decide the per-segment groups, their flood lists and
    // the VXLAN keys of the VNI table, all built with the tables. While
    // every tunnel is Geneve in the default group nothing of that exists;
    // otherwise a change to any tunnel's key, encapsulation or group
    // builds everything anew (correct, not entry by entry).
    let plain = |c: &Config| {
        c.tunnels.iter().all(|t| {
            t.encapsulation == config::Encapsulation::Geneve
                && t.mesh == config::Encapsulation::Geneve.as_str()
        })
    };
    if !(plain(old) && plain(new)) {
        fn members(c: &Config) -> Vec<(IpAddr, Vni, config::Encapsulation, &str)> {
            let mut v: Vec<_> = c
                .tunnels
                .iter()
                .map(|t| (t.remote, t.vni, t.encapsulation, t.mesh.as_str()))
                .collect();
            v.sort_unstable();
            v
        }
        if members(old) != members(new) {
            return Some("tunnel encapsulation or mesh group (stitching)");
        }
    }
    if old.l3.as_ref().map(|l| &l.access) != new.l3.as_ref().map(|l| &l.access) {
        return Some("l3 access");
    }
    if old.options != new.options {
        return Some("options");
    }
    let scoped = |c: &Config| {
        let o = &c.options;
        o.require
            .iter()
            .map(|r| r.scope)
            .chain(o.security_tags.iter().map(|s| s.scope))
            .chain(o.flow_id_copy.iter().map(|f| f.scope))
            .filter_map(|s| match s {
                config::Scope::Tunnel(i) => c.tunnels.get(i).map(|t| (t.remote, t.vni)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    if scoped(old) != scoped(new) {
        return Some("options");
    }
    if old.limits.max_options != new.limits.max_options {
        return Some("limits.max_options");
    }
    let zero = |c: &Config| {
        let mut v: Vec<IpAddr> = c
            .tunnels
            .iter()
            .filter(|t| t.accept_zero_checksum && t.remote.is_ipv6())
            .map(|t| t.remote)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if zero(old) != zero(new) {
        return Some("accept_zero_checksum");
    }
    None
}

/// The reload from `old` to `new` as entry changes.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut d = ConfigDiff {
        global: global_change(old, new),
        ..ConfigDiff::default()
    };
    if d.global.is_some() {
        return d;
    }
    // Tunnels, by (remote, VNI).
    fn by_key(c: &Config) -> FxHashMap<(IpAddr, Vni), &config::Tunnel> {
        c.tunnels.iter().map(|t| ((t.remote, t.vni), t)).collect()
    }
    let (ot, nt) = (by_key(old), by_key(new));
    // A renamed tunnel is modified too: its templates are the same, but
    // its counters and the API know it by name.
    for (k, t) in &nt {
        let o = ot.get(k).map(|o| (o.name.as_str(), tunnel_settings(o)));
        let n = Some((t.name.as_str(), tunnel_settings(t)));
        d.counts.tunnels.count(o.as_ref(), n.as_ref());
        if o.is_none() || o != n {
            d.tunnels.push(*k);
        }
    }
    for k in ot.keys().filter(|k| !nt.contains_key(k)) {
        d.counts.tunnels.removed += 1;
        d.tunnels.push(*k);
    }
    // Routes, by prefix.
    let routes = |c: &Config| {
        c.l3.iter()
            .flat_map(|l| &l.routes)
            .map(|r| {
                (
                    r.prefix,
                    (c.tunnels[r.tunnel].remote, c.tunnels[r.tunnel].vni),
                )
            })
            .collect::<FxHashMap<_, _>>()
    };
    let (or, nr) = (routes(old), routes(new));
    for (p, t) in &nr {
        let o = or.get(p);
        d.counts.routes.count(o, Some(t));
        if o != Some(t) {
            d.routes.push((*p, Some(*t)));
        }
    }
    for p in or.keys().filter(|p| !nr.contains_key(p)) {
        d.counts.routes.removed += 1;
        d.routes.push((*p, None));
    }
    // Static MACs and flood lists, per segment (same segments: not global).
    if let (Some(ol), Some(nl)) = (&old.l2, &new.l2) {
        for (si, (os, ns)) in ol.segments.iter().zip(&nl.segments).enumerate() {
            let macs = |s: &config::Segment| {
                s.static_macs
                    .iter()
                    .map(|m| (m.mac, m.remote))
                    .collect::<FxHashMap<_, _>>()
            };
            let (om, nm) = (macs(os), macs(ns));
            for (m, r) in &nm {
                let o = om.get(m);
                d.counts.static_macs.count(o, Some(r));
                if o != Some(r) {
                    d.static_macs.push((si, *m, Some(*r)));
                }
            }
            for m in om.keys().filter(|m| !nm.contains_key(*m)) {
                d.counts.static_macs.removed += 1;
                d.static_macs.push((si, *m, None));
            }
            if os.flood != ns.flood {
                d.counts.flood_lists.modified += 1;
                d.flood.push(si);
            }
        }
    }
    // A segment that stitches keeps its members' groups and per-group
    // flood lists with the tables (made from its flood list and static
    // MACs): a change to either makes every table anew.
    let meshed = |si: usize| {
        new.l2
            .as_ref()
            .and_then(|l| l.segments.get(si))
            .is_some_and(|s| {
                new.vtep.vxlan_port.is_some()
                    || new.tunnels.iter().any(|t| {
                        t.encapsulation == config::Encapsulation::Vxlan && t.vni == s.vxlan_vni
                    })
            })
    };
    if d.flood
        .iter()
        .copied()
        .chain(d.static_macs.iter().map(|m| m.0))
        .any(meshed)
    {
        d.global = Some("flood list or static MAC of a stitching segment");
    }
    // Decap entries, both sorted by VNI.
    let (mut i, mut j) = (0, 0);
    let (od, nd) = (&old.decap, &new.decap);
    while i < od.len() || j < nd.len() {
        match (od.get(i), nd.get(j)) {
            (Some(a), Some(b)) if a.vni == b.vni => {
                if a != b {
                    d.counts.decap.modified += 1;
                    d.decap.push(b.vni);
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.vni < b.vni) => {
                d.counts.decap.removed += 1;
                d.decap.push(a.vni);
                i += 1;
            }
            (_, Some(b)) => {
                d.counts.decap.added += 1;
                d.decap.push(b.vni);
                j += 1;
            }
            _ => break,
        }
    }
    d
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    const HEAD: &str = "\
ports:
  - { name: ul, role: underlay, device: 0 }
  - { name: acc, role: access, device: 1 }
  - { name: acc3, role: access, device: 2 }
vtep:
  ipv4: 198.18.0.1/24
";

    /// The running configuration: 3 tunnels, 3 routes, 3 static MACs in
    /// two segments, one flood list, decap VNIs 10, 20 (segments), 100
    /// (the routes' tunnels) and 3000 (explicit).
    const OLD: &str = "\
tunnels:
  - { name: t0, remote: 198.18.0.2, vni: 100 }
  - { name: t1, remote: 198.18.0.3, vni: 100 }
  - { name: t2, remote: 198.18.0.4, vni: 100 }
l2:
  segments:
    - port: acc
      vlan: 10
      vni: 10
      flood: [198.18.0.2]
      static_macs:
        - { mac: \"02:00:00:00:00:01\", remote: 198.18.0.2 }
        - { mac: \"02:00:00:00:00:02\", remote: 198.18.0.2 }
    - port: acc
      vlan: 20
      vni: 20
      static_macs:
        - { mac: \"02:00:00:00:00:03\", remote: 198.18.0.3 }
l3:
  access: { port: acc3, ipv4: 198.19.0.1/24 }
  routes:
    - { prefix: 10.1.0.0/16, tunnel: t0 }
    - { prefix: 10.2.0.0/16, tunnel: t1 }
    - { prefix: 10.3.0.0/16, tunnel: t2 }
decap:
  - { vni: 3000, port: acc }
";

    /// Against OLD: tunnel t2 removed, t3 and t4 added, t1's TTL changed
    /// (tunnels +2 -1 ~1); route 10.3/16 removed with t2, 10.4/16 added,
    /// 10.2/16 moved to t0 (routes +1 -1 ~1); MAC :01 removed, :02 moved
    /// to another remote, :04 and :05 added (static MACs +2 -1 ~1); the
    /// first segment's flood list changed (~1); decap VNI 3000 removed,
    /// 3001 added, 20 given an allow list (decap VNIs +1 -1 ~1).
    const NEW: &str = "\
tunnels:
  - { name: t0, remote: 198.18.0.2, vni: 100 }
  - { name: t1, remote: 198.18.0.3, vni: 100, ttl: 9 }
  - { name: t3, remote: 198.18.0.5, vni: 100 }
  - { name: t4, remote: 198.18.0.6, vni: 100 }
l2:
  segments:
    - port: acc
      vlan: 10
      vni: 10
      flood: [198.18.0.2, 198.18.0.3]
      static_macs:
        - { mac: \"02:00:00:00:00:02\", remote: 198.18.0.5 }
        - { mac: \"02:00:00:00:00:04\", remote: 198.18.0.5 }
    - port: acc
      vlan: 20
      vni: 20
      static_macs:
        - { mac: \"02:00:00:00:00:03\", remote: 198.18.0.3 }
        - { mac: \"02:00:00:00:00:05\", remote: 198.18.0.3 }
l3:
  access: { port: acc3, ipv4: 198.19.0.1/24 }
  routes:
    - { prefix: 10.1.0.0/16, tunnel: t0 }
    - { prefix: 10.2.0.0/16, tunnel: t0 }
    - { prefix: 10.4.0.0/16, tunnel: t3 }
decap:
  - { vni: 3001, port: acc }
  - { vni: 20, allow_from: [198.18.0.3] }
";

    fn load(body: &str) -> Config {
        config::load_str(&format!("{HEAD}{body}"), "t.yaml").expect("test config")
    }

    fn counts(added: u64, removed: u64, modified: u64) -> Counts {
        Counts {
            added,
            removed,
            modified,
        }
    }

    #[test]
    fn the_summary_counts_each_table_of_a_known_reload() {
        let s = diff(&load(OLD), &load(NEW)).summary();
        assert_eq!(
            s,
            ReloadSummary {
                rebuilt: None,
                tunnels: counts(2, 1, 1),
                routes: counts(1, 1, 1),
                static_macs: counts(2, 1, 1),
                flood: counts(0, 0, 1),
                vnis: counts(1, 1, 1),
            }
        );
        assert_eq!(
            s.to_string(),
            "tunnels +2 -1 ~1, routes +1 -1 ~1, static MACs +2 -1 ~1, flood lists +0 -0 ~1, decap VNIs +1 -1 ~1"
        );
        assert!(!s.is_empty());
        let json: serde_json::Value = serde_json::to_value(s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "rebuilt": null,
                "tunnels": { "added": 2, "removed": 1, "modified": 1 },
                "routes": { "added": 1, "removed": 1, "modified": 1 },
                "static_macs": { "added": 2, "removed": 1, "modified": 1 },
                "flood": { "added": 0, "removed": 0, "modified": 1 },
                "vnis": { "added": 1, "removed": 1, "modified": 1 },
            })
        );
        // The way back is the mirror image.
        let back = diff(&load(NEW), &load(OLD)).summary();
        assert_eq!(
            (back.tunnels, back.routes, back.static_macs, back.vnis),
            (
                counts(1, 2, 1),
                counts(1, 1, 1),
                counts(1, 2, 1),
                counts(1, 1, 1)
            )
        );
    }

    #[test]
    fn no_change_and_a_global_change_summarise_as_such() {
        let same = diff(&load(OLD), &load(OLD)).summary();
        assert!(same.is_empty());
        assert_eq!(
            same.to_string(),
            "tunnels +0 -0 ~0, routes +0 -0 ~0, static MACs +0 -0 ~0, flood lists +0 -0 ~0, decap VNIs +0 -0 ~0"
        );
        let moved = OLD.replace("vlan: 20", "vlan: 21");
        let g = diff(&load(OLD), &load(&moved)).summary();
        assert_eq!(g.rebuilt, Some("l2 segments"));
        assert!(!g.is_empty());
        assert_eq!(g.to_string(), "l2 segments changed: every table made anew");
        assert_eq!(
            serde_json::to_value(g).unwrap()["rebuilt"],
            serde_json::json!("l2 segments")
        );
    }
}
