//! The configuration of VXLAN beside Geneve and of stitching the two:
//! `vtep.vxlan_port`, `tunnels[].encapsulation` and `tunnels[].mesh`,
//! `l2.segments[].vxlan_vni`, and the checks that refuse what cannot work.
//!
//! Model: a segment has members (the remote VTEPs of its flood list, static
//! MACs and tunnels). A remote is a VXLAN member when a VXLAN tunnel goes
//! to it with the segment's `vxlan_vni`, else a Geneve member (with its
//! Geneve tunnel for `vni`, or the defaults). Every tunnel belongs to a
//! mesh (split-horizon) group, by default its encapsulation's name: a
//! frame that came from one group goes to the access port and the other
//! groups, never back into its own. The VTEP receives VXLAN only when
//! `vtep.vxlan_port` is set.
use rustc_hash::FxHashMap as HashMap;

use super::raw::{RawEncapsulation, RawTunnel};
use super::types::*;
use super::validate::{check_name, range_of, vni, Ctx};

impl Config {
    /// Whether segment `s` stitches: its members (flood list, static MACs,
    /// tunnels with its VNIs) span more than one mesh group, so a frame
    /// decapsulated there may leave through another tunnel (decided by
    /// the outer source: never in hardware).
    pub fn stitched(&self, s: &Segment) -> bool {
        let mut groups: Vec<&str> = Vec::new();
        let remotes = s
            .flood
            .iter()
            .chain(s.static_macs.iter().map(|m| &m.remote));
        for r in remotes {
            groups.push(self.mesh_of(s, *r, self.member(s, *r).0));
        }
        for (e, vni) in [
            (Encapsulation::Geneve, s.vni),
            (Encapsulation::Vxlan, s.vxlan_vni),
        ] {
            for &i in self.index.groups_of(&self.tunnels, e, vni) {
                groups.push(&self.tunnels[i as usize].mesh);
            }
        }
        groups.sort_unstable();
        groups.dedup();
        groups.len() > 1
    }
}

/// `vtep.vxlan_port`: the VXLAN port, which must differ from the Geneve one.
pub(super) fn vxlan_port(ctx: &mut Ctx, raw: Option<i64>, geneve: u16) -> Option<u16> {
    let p = range_of::<u16>(ctx, "vtep.vxlan_port", raw?, 1, 65535)?;
    if p == geneve {
        ctx.err(
            "vtep.vxlan_port",
            format!("{p} is also vtep.udp_port (Geneve); VXLAN needs a port of its own (IANA: {VXLAN_UDP_PORT})"),
        );
        return None;
    }
    Some(p)
}

/// A tunnel's encapsulation and mesh group.
pub(super) fn tunnel_kind(
    ctx: &mut Ctx,
    base: &(impl std::fmt::Display + ?Sized),
    t: &RawTunnel,
) -> (Encapsulation, String) {
    let e = match t.encapsulation {
        Some(RawEncapsulation::Vxlan) => Encapsulation::Vxlan,
        Some(RawEncapsulation::Geneve) | None => Encapsulation::Geneve,
    };
    let mesh = match &t.mesh {
        Some(m) if check_name(ctx, &format!("{base}.mesh"), m) => m.clone(),
        _ => e.as_str().to_string(),
    };
    (e, mesh)
}

/// `l2.segments[i].vxlan_vni` (default: the segment's VNI), unique among
/// the segments' VXLAN VNIs.
pub(super) fn vxlan_vni(
    ctx: &mut Ctx,
    base: &str,
    raw: Option<i64>,
    geneve: Option<Vni>,
    seen: &mut HashMap<Vni, String>,
) -> Option<Vni> {
    let (path, v) = match raw {
        Some(r) => {
            let path = format!("{base}.vxlan_vni");
            let v = vni(ctx, &path, r)?;
            (path, v)
        }
        None => (format!("{base}.vni"), geneve?),
    };
    // Two defaulted VXLAN VNIs collide only when their VNIs do, which is
    // reported on `vni` already.
    if let Some(first) = seen
        .get(&v)
        .filter(|f| raw.is_some() || !f.ends_with(".vni"))
    {
        let how = if raw.is_none() {
            " (vxlan_vni defaults to vni; set one)"
        } else {
            ""
        };
        ctx.err(
            &path,
            format!("VXLAN VNI {v}{how} is already mapped by {first}; a VXLAN VNI belongs to one segment"),
        );
    } else {
        seen.entry(v).or_insert(path);
    }
    Some(v)
}

/// What cannot work with VXLAN, each with its path: options on a VXLAN
/// tunnel, a VXLAN tunnel without a VXLAN port to receive its replies, a
/// VXLAN tunnel as an L3 route (VXLAN carries Ethernet only), and a remote
/// that would be a member of one segment in both encapsulations.
pub(super) fn check(
    ctx: &mut Ctx,
    vtep: &Option<Vtep>,
    tunnels: &[Tunnel],
    l2: Option<&L2>,
    l3: Option<&L3>,
) {
    let listening = vtep.as_ref().is_some_and(|v| v.vxlan_port.is_some());
    for (i, t) in tunnels.iter().enumerate() {
        if t.encapsulation != Encapsulation::Vxlan {
            continue;
        }
        let base = format!("tunnels[{i}]");
        if !t.options.is_empty() {
            ctx.err(
                &format!("{base}.options"),
                "VXLAN has no options; remove them or use encapsulation: geneve",
            );
        }
        if vtep.is_some() && !listening {
            ctx.err(
                &format!("{base}.encapsulation"),
                format!("the VTEP does not receive VXLAN, so replies from {} would be dropped; set vtep.vxlan_port (IANA: {VXLAN_UDP_PORT})", t.remote),
            );
        }
    }
    if let Some(l3) = l3 {
        // Routes are kept sorted by prefix length, not in file order: the
        // error names the tunnel's encapsulation line, once per tunnel.
        let mut told = std::collections::HashSet::new();
        for r in &l3.routes {
            let t = &tunnels[r.tunnel];
            if t.encapsulation == Encapsulation::Vxlan && told.insert(r.tunnel) {
                ctx.err(
                    &format!("tunnels[{}].encapsulation", r.tunnel),
                    format!("tunnel `{}` is used by l3.routes ({}), but VXLAN carries Ethernet frames only; L3 tunnels need encapsulation: geneve", t.name, r.prefix),
                );
            }
        }
    }
    let Some(l2) = l2 else { return };
    if !tunnels
        .iter()
        .any(|t| t.encapsulation == Encapsulation::Vxlan)
    {
        // No remote can be a member in both encapsulations.
        return;
    }
    // (remote, VNI, encapsulation) -> the first tunnel with it, as a scan
    // in file order finds it: one pass over the tunnels, not one per
    // flood entry and static MAC (a million MACs over thousands of
    // tunnels).
    let mut by_pair: HashMap<(std::net::IpAddr, Vni, Encapsulation), &Tunnel> = HashMap::default();
    for t in tunnels {
        by_pair
            .entry((t.remote, t.vni, t.encapsulation))
            .or_insert(t);
    }
    for (i, s) in l2.segments.iter().enumerate() {
        let both = |r: std::net::IpAddr| {
            let g = by_pair.get(&(r, s.vni, Encapsulation::Geneve))?;
            let v = by_pair.get(&(r, s.vxlan_vni, Encapsulation::Vxlan))?;
            Some((*g, *v))
        };
        let flood = s
            .flood
            .iter()
            .enumerate()
            .map(|(j, f)| (*f, j, "flood", ""));
        let macs = s
            .static_macs
            .iter()
            .enumerate()
            .map(|(j, m)| (m.remote, j, "static_macs", ".remote"));
        for (r, j, list, field) in flood.chain(macs) {
            if let Some((g, v)) = both(r) {
                ctx.err(
                    &format!("l2.segments[{i}].{list}[{j}]{field}"),
                    format!("{r} would be a member of this segment twice: by Geneve tunnel `{}` (VNI {}) and VXLAN tunnel `{}` (VNI {}); a remote VTEP is a member in one encapsulation", g.name, s.vni, v.name, s.vxlan_vni),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load_str, ConfigError, ConfigErrors};
    use super::*;

    /// Geneve VNI 1000 and VXLAN VNI 5000 on one segment: a Geneve member
    /// (198.18.0.2, mesh overlay) and a VXLAN one (198.18.0.3, mesh fabric).
    const STITCHED: &str = "\
ports:
  - name: up
    role: underlay
    device: net_null0
  - name: acc
    role: access
    device: net_null1
vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
tunnels:
  - name: ovn
    remote: 198.18.0.2
    vni: 1000
    mesh: overlay
  - name: tor
    remote: 198.18.0.3
    vni: 5000
    encapsulation: vxlan
    mesh: fabric
l2:
  segments:
    - port: acc
      vni: 1000
      vxlan_vni: 5000
      flood: [198.18.0.2, 198.18.0.3]
";

    fn errs(text: &str) -> Vec<ConfigError> {
        match load_str(text, "t.yaml") {
            Ok(_) => panic!("expected errors, got a config"),
            Err(e) => e.errors().to_vec(),
        }
    }

    /// The only error is at `line` and `path` and says `needle`.
    fn one(text: &str, line: usize, path: &str, needle: &str) {
        let e = errs(text);
        assert_eq!(e.len(), 1, "{}", ConfigErrors::new(e.clone()));
        assert_eq!((e[0].line(), e[0].path.as_str()), (line, path), "{}", e[0]);
        assert!(e[0].message.contains(needle), "`{}` lacks `{needle}`", e[0]);
    }

    #[test]
    fn members_of_both_kinds_load_with_their_vnis_and_groups() {
        let c = load_str(STITCHED, "t.yaml").unwrap();
        assert_eq!(c.vtep.vxlan_port, Some(4789));
        let (ovn, tor) = (&c.tunnels[0], &c.tunnels[1]);
        assert_eq!(
            (ovn.encapsulation, ovn.mesh.as_str()),
            (Encapsulation::Geneve, "overlay")
        );
        assert_eq!(
            (tor.encapsulation, tor.mesh.as_str()),
            (Encapsulation::Vxlan, "fabric")
        );
        // A VXLAN tunnel sends to the VTEP's VXLAN port by default.
        assert_eq!((ovn.udp_dst_port, tor.udp_dst_port), (6081, 4789));
        let s = &c.l2.as_ref().unwrap().segments[0];
        assert_eq!((s.vni.get(), s.vxlan_vni.get()), (1000, 5000));
        let vx = Vni::new(5000).unwrap();
        let ge = Vni::new(1000).unwrap();
        let r2 = "198.18.0.2".parse().unwrap();
        let r3 = "198.18.0.3".parse().unwrap();
        let r9 = "198.18.0.9".parse().unwrap();
        assert_eq!(c.member(s, r2), (Encapsulation::Geneve, ge));
        assert_eq!(c.member(s, r3), (Encapsulation::Vxlan, vx));
        // A remote without a tunnel is a Geneve member with the defaults.
        assert_eq!(c.member(s, r9), (Encapsulation::Geneve, ge));
        assert_eq!(c.mesh_of(s, r3, Encapsulation::Vxlan), "fabric");
        assert_eq!(c.mesh_of(s, r2, Encapsulation::Geneve), "overlay");
        assert_eq!(c.mesh_of(s, r9, Encapsulation::Vxlan), "vxlan");
        assert_eq!(c.mesh_of(s, r9, Encapsulation::Geneve), "geneve");
        assert_eq!(c.tunnel_for(r3, vx), None, "tunnel_for is Geneve's");
        assert!(c.stitched(s));
    }

    #[test]
    fn defaults_leave_geneve_alone() {
        let text = STITCHED
            .replace("  vxlan_port: 4789\n", "")
            .replace("      vxlan_vni: 5000\n", "")
            .replace("    encapsulation: vxlan\n", "")
            .replace("    mesh: fabric\n", "")
            .replace("    mesh: overlay\n", "");
        let c = load_str(&text, "t.yaml").unwrap();
        assert_eq!(c.vtep.vxlan_port, None);
        for t in &c.tunnels {
            assert_eq!(
                (t.encapsulation, t.mesh.as_str()),
                (Encapsulation::Geneve, "geneve")
            );
        }
        let s = &c.l2.as_ref().unwrap().segments[0];
        assert_eq!(s.vxlan_vni, s.vni);
        assert!(!c.stitched(s), "one group: geneve");
    }

    #[test]
    fn what_vxlan_cannot_carry_is_refused_with_its_line() {
        // Options on a VXLAN tunnel (line 23: the options key).
        let text = STITCHED.replace(
            "    mesh: fabric\n",
            "    mesh: fabric\n    options:\n      - {class: 0x0102, type: 1, data: \"00000001\"}\n",
        );
        one(&text, 21, "tunnels[1].options", "VXLAN has no options");
        // A VXLAN tunnel as an L3 route: Ethernet only.
        let text = format!(
            "{STITCHED}l3:\n  access:\n    port: acc\n    vlan: 7\n  routes:\n    - prefix: 198.19.0.0/16\n      tunnel: tor\n"
        );
        one(
            &text,
            19,
            "tunnels[1].encapsulation",
            "Ethernet frames only",
        );
        // VXLAN tunnels, but the VTEP does not receive VXLAN.
        let text = STITCHED.replace("  vxlan_port: 4789\n", "");
        one(&text, 18, "tunnels[1].encapsulation", "set vtep.vxlan_port");
        // The VXLAN port is the Geneve port.
        let text = STITCHED.replace("  vxlan_port: 4789\n", "  vxlan_port: 6081\n");
        let e = errs(&text);
        assert_eq!(
            (e[0].line(), e[0].path.as_str()),
            (10, "vtep.vxlan_port"),
            "{}",
            e[0]
        );
        assert!(e[0].message.contains("a port of its own"));
        // An unknown encapsulation word (serde's error, with its line).
        let text = STITCHED.replace("encapsulation: vxlan", "encapsulation: nvgre");
        let e = errs(&text);
        assert_eq!(e[0].line(), 19, "{}", e[0]);
        assert!(
            e[0].message.contains("geneve") && e[0].message.contains("vxlan"),
            "{}",
            e[0]
        );
        // A bad mesh name.
        let text = STITCHED.replace("mesh: fabric", "mesh: \"no spaces\"");
        one(&text, 20, "tunnels[1].mesh", "not a valid name");
    }

    #[test]
    fn segments_keep_vxlan_vnis_apart_and_members_single() {
        // Two segments with one VXLAN VNI.
        let text = format!(
            "{STITCHED}    - port: acc\n      vlan: 9\n      vni: 1001\n      vxlan_vni: 5000\n"
        );
        one(&text, 30, "l2.segments[1].vxlan_vni", "already mapped");
        // A second segment whose default VXLAN VNI is the first's.
        let text = format!("{STITCHED}    - port: acc\n      vlan: 9\n      vni: 5000\n");
        one(&text, 29, "l2.segments[1].vni", "vxlan_vni defaults to vni");
        // A remote that would be a member twice: a Geneve and a VXLAN
        // tunnel to 198.18.0.3 for this segment's two VNIs.
        let text = STITCHED.replace(
            "l2:\n",
            "  - name: both\n    remote: 198.18.0.3\n    vni: 1000\nl2:\n",
        );
        one(
            &text,
            29,
            "l2.segments[0].flood[1]",
            "member in one encapsulation",
        );
        // The same through a static MAC (its remote field is named).
        let text = STITCHED.replace(
            "l2:\n",
            "  - name: both\n    remote: 198.18.0.3\n    vni: 1000\nl2:\n",
        )
        .replace(
            "      flood: [198.18.0.2, 198.18.0.3]\n",
            "      flood: [198.18.0.2]\n      static_macs:\n        - { mac: \"02:00:00:00:00:09\", remote: 198.18.0.3 }\n",
        );
        one(
            &text,
            31,
            "l2.segments[0].static_macs[0].remote",
            "member in one encapsulation",
        );
        // A Geneve and a VXLAN tunnel to one remote with one VNI number are
        // different networks: accepted.
        let text = STITCHED.replace(
            "l2:\n",
            "  - name: other\n    remote: 198.18.0.3\n    vni: 5000\nl2:\n",
        );
        assert!(load_str(&text, "t.yaml").is_ok());
    }
}
