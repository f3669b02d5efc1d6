//! VXLAN and Geneve in one L2 segment, stitched: the tables that say which
//! encapsulation and mesh (split-horizon) group each member of a segment
//! has, and the decision for a frame decapsulated from a tunnel of a
//! stitched segment.
//!
//! A segment is *stitched* when its configured members (flood list, static
//! MACs, tunnels with its VNIs) span more than one mesh group. A frame
//! decapsulated there for a MAC behind a tunnel of another group is
//! re-encapsulated towards it at once, with that tunnel's template (its
//! options, its encapsulation), without going out of the access port; a
//! broadcast or unknown destination goes to the access port and to the
//! flood members of the other groups; a MAC behind a tunnel of the same
//! group is a counted drop (`split_horizon`): a frame is never sent back
//! into the group it came from. Geneve options of the received frame never
//! cross: unknown critical ones were dropped at decap, the others are not
//! carried (counted when the frame leaves as VXLAN, which has no options).
//!
//! A Geneve-only gateway (no `vtep.vxlan_port`, no VXLAN member) builds
//! none of this: its segments have no [`SegmentMesh`] and its VNIs stay
//! plain.
//!
//! Alternatives considered: a second `VniTable` for VXLAN VNIs (one more
//! table to build and publish on every change) instead of one key space
//! with a VXLAN bit above the 24 VNI bits ([`vni_key`]); OVS and VPP
//! express the same with flows or bridge domains and split-horizon groups,
//! which this follows.
use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::{self, Config, Encapsulation, Vni, Vtep};
use crate::tunnel::{Buffer, Delivery, DropReason};
use crate::wire::ethernet::is_group_mac;

use super::pipeline::{encap_flood, Event, Outcome};
use super::stats::NO_SLOT;
use super::tables::{MacTable, SegmentEntry, Tables, TemplateId, VniTable};

/// Bit of a [`VniTable`] key that marks a VXLAN VNI (above the 24 bits).
pub const VXLAN_KEY: u32 = 1 << 24;

/// The [`VniTable`] key of `vni` received in encapsulation `e`.
#[inline(always)]
pub fn vni_key(e: Encapsulation, vni: Vni) -> u32 {
    match e {
        Encapsulation::Geneve => vni.get(),
        Encapsulation::Vxlan => vni.get() | VXLAN_KEY,
    }
}

/// The encapsulation and VNI of a [`vni_key`].
#[inline(always)]
pub fn from_vni_key(key: u32) -> (Encapsulation, u32) {
    if key & VXLAN_KEY != 0 {
        (Encapsulation::Vxlan, key & !VXLAN_KEY)
    } else {
        (Encapsulation::Geneve, key)
    }
}

/// The template key of `remote` as an L2 member of segment `seg` (in its
/// encapsulation, with that encapsulation's VNI).
pub fn member_key(cfg: &Config, seg: usize, remote: IpAddr) -> Option<super::tables::TemplateKey> {
    let s = cfg.l2.as_ref()?.segments.get(seg)?;
    let (e, vni) = cfg.member(s, remote);
    Some((
        remote,
        vni_key(e, vni),
        crate::tunnel::PayloadKind::Ethernet,
    ))
}

/// Mesh group names to small numbers, shared by a table build.
#[derive(Debug, Default)]
pub struct Groups(HashMap<String, u16>);

impl Groups {
    fn id(&mut self, name: &str) -> u16 {
        let n = self.0.len() as u16;
        *self.0.entry(name.to_string()).or_insert(n)
    }
}

/// A segment's members by encapsulation and mesh group, and its flood list
/// split by group.
#[derive(Debug, Clone)]
pub struct SegmentMesh {
    /// Configured members: remote, encapsulation, group.
    members: Vec<(IpAddr, Encapsulation, u16)>,
    /// The same, keyed as a delivery carries the remote (16 octets and
    /// whether IPv6): the source's group without building an address.
    member_keys: Vec<([u8; 16], bool, Encapsulation, u16)>,
    /// The group of an unconfigured remote, by encapsulation (Geneve,
    /// VXLAN): the encapsulation's name.
    default_group: [u16; 2],
    /// Members span more than one group.
    stitched: bool,
    /// Per source group: the flood targets outside it, and whether one of
    /// them is VXLAN.
    flood_from: Vec<(u16, Vec<Option<TemplateId>>, bool)>,
    /// The group and encapsulation of each position of the configured
    /// flood list (the segment's `flood` targets, in the same order, as
    /// the table build and the entry-by-entry changes both make them).
    flood_positions: Vec<(u16, Encapsulation)>,
    /// The group of every template the segment uses (flood list, static
    /// and learned MACs): a known destination's group in one short scan.
    template_groups: Vec<(TemplateId, u16)>,
}

/// A source group with no entry in `flood_from`: flood to every member.
const EVERY_GROUP: u16 = u16::MAX;

impl SegmentMesh {
    /// The mesh of segment `s` whose flood list (in `s.flood` order) has
    /// templates `flood`; `None` for a Geneve-only gateway.
    pub(super) fn build(
        cfg: &Config,
        s: &config::Segment,
        flood: &[Option<TemplateId>],
        macs: &MacTable,
        groups: &mut Groups,
    ) -> Option<Box<SegmentMesh>> {
        let member_of_segment = |t: &&config::Tunnel| match t.encapsulation {
            Encapsulation::Geneve => t.vni == s.vni,
            Encapsulation::Vxlan => t.vni == s.vxlan_vni,
        };
        let any_vxlan = cfg
            .tunnels
            .iter()
            .filter(member_of_segment)
            .any(|t| t.encapsulation == Encapsulation::Vxlan);
        if cfg.vtep.vxlan_port.is_none() && !any_vxlan {
            return None;
        }
        let default_group = [
            groups.id(Encapsulation::Geneve.as_str()),
            groups.id(Encapsulation::Vxlan.as_str()),
        ];
        let mut members: Vec<(IpAddr, Encapsulation, u16)> = Vec::new();
        let mut add = |remote: IpAddr, e: Encapsulation, groups: &mut Groups| {
            if !members.iter().any(|m| m.0 == remote && m.1 == e) {
                let g = groups.id(cfg.mesh_of(s, remote, e));
                members.push((remote, e, g));
            }
        };
        for r in s
            .flood
            .iter()
            .chain(s.static_macs.iter().map(|m| &m.remote))
        {
            add(*r, cfg.member(s, *r).0, groups);
        }
        for t in cfg.tunnels.iter().filter(member_of_segment) {
            add(t.remote, t.encapsulation, groups);
        }
        let mut seen: Vec<u16> = members.iter().map(|m| m.2).collect();
        seen.sort_unstable();
        seen.dedup();
        // One definition of "stitched" (offload keeps such VNIs in software).
        let stitched = cfg.stitched(s);
        debug_assert_eq!(stitched, seen.len() > 1);
        let flood_groups: Vec<(u16, Encapsulation)> = s
            .flood
            .iter()
            .map(|r| {
                let e = cfg.member(s, *r).0;
                let g = members
                    .iter()
                    .find(|m| m.0 == *r && m.1 == e)
                    .map_or(EVERY_GROUP, |m| m.2);
                (g, e)
            })
            .collect();
        let mut sources = seen;
        sources.extend(default_group);
        sources.push(EVERY_GROUP);
        sources.sort_unstable();
        sources.dedup();
        let flood_from = sources
            .into_iter()
            .map(|src| {
                let mut list = Vec::new();
                let mut vxlan = false;
                for (&(g, e), &t) in flood_groups.iter().zip(flood) {
                    if g != src {
                        list.push(t);
                        vxlan |= e == Encapsulation::Vxlan;
                    }
                }
                (src, list, vxlan)
            })
            .collect();
        let member_keys = members
            .iter()
            .map(|&(r, e, g)| {
                let key = match r {
                    IpAddr::V4(a) => {
                        let mut o = [0u8; 16];
                        o[..4].copy_from_slice(&a.octets());
                        (o, false)
                    }
                    IpAddr::V6(a) => (a.octets(), true),
                };
                (key.0, key.1, e, g)
            })
            .collect();
        let mut template_groups: Vec<(TemplateId, u16)> = Vec::new();
        let flood_members = s.flood.iter().zip(flood.iter().copied());
        let mac_members = macs.values().map(|e| (&e.remote, e.template()));
        for (r, id) in flood_members.chain(mac_members) {
            if let Some(id) = id {
                if !template_groups.iter().any(|t| t.0 == id) {
                    let e = cfg.member(s, *r).0;
                    template_groups.push((id, groups.id(cfg.mesh_of(s, *r, e))));
                }
            }
        }
        // In template order, not the MAC table's (whose order is its
        // hash's, keyed per table): two builds of one configuration make
        // equal meshes, and the lookup below is a binary search.
        template_groups.sort_unstable_by_key(|t| t.0);
        Some(Box::new(SegmentMesh {
            flood_positions: flood_groups.clone(),
            template_groups,
            member_keys,
            members,
            default_group,
            stitched,
            flood_from,
        }))
    }

    /// The encapsulation `remote` is a member with (Geneve when it is not
    /// configured): what learning may record for it.
    #[inline]
    pub fn encap_of(&self, remote: IpAddr) -> Encapsulation {
        self.members
            .iter()
            .find(|m| m.0 == remote)
            .map_or(Encapsulation::Geneve, |m| m.1)
    }

    /// The mesh group of `remote` reached in `e`.
    #[inline]
    pub fn group_of(&self, remote: IpAddr, e: Encapsulation) -> u16 {
        self.members
            .iter()
            .find(|m| m.0 == remote && m.1 == e)
            .map_or(self.default_group[e as usize], |m| m.2)
    }

    /// The group of template `id` (one of the segment's).
    #[inline]
    pub fn template_group(&self, id: TemplateId) -> Option<u16> {
        self.template_groups
            .binary_search_by_key(&id, |t| t.0)
            .ok()
            .map(|i| self.template_groups[i].1)
    }

    /// [`group_of`](Self::group_of) the source of a delivery.
    #[inline]
    pub fn source_group(&self, d: &Delivery) -> u16 {
        let (src, v6) = d.src_octets();
        self.member_keys
            .iter()
            .find(|m| m.0 == src && m.1 == v6 && m.2 == d.encap)
            .map_or(self.default_group[d.encap as usize], |m| m.3)
    }

    /// Whether the flood target at `position` of the segment's flood list
    /// lies outside group `from` (unknown positions: no).
    #[inline]
    pub fn floods_to(&self, position: usize, from: u16) -> bool {
        self.flood_positions
            .get(position)
            .is_some_and(|&(g, _)| g != from)
    }

    /// Whether a flood from group `from` reaches a VXLAN member.
    #[inline]
    pub fn floods_vxlan_from(&self, from: u16) -> bool {
        self.flood_positions
            .iter()
            .any(|&(g, e)| g != from && e == Encapsulation::Vxlan)
    }

    /// Whether members span more than one group.
    pub fn is_stitched(&self) -> bool {
        self.stitched
    }

    /// The flood targets for a frame from group `g` (every other group's),
    /// and whether one of them is VXLAN.
    #[inline]
    pub fn flood_from(&self, g: u16) -> (&[Option<TemplateId>], bool) {
        let e = self
            .flood_from
            .iter()
            .find(|f| f.0 == g)
            .or_else(|| self.flood_from.iter().find(|f| f.0 == EVERY_GROUP));
        e.map_or((&[][..], false), |f| (&f.1[..], f.2))
    }
}

impl SegmentEntry {
    /// Whether the segment stitches tunnels of different mesh groups.
    pub fn stitched(&self) -> bool {
        self.mesh.as_ref().is_some_and(|m| m.stitched)
    }
}

/// The settings towards a remote with no tunnel of its own in `e`: the
/// Geneve defaults, or for VXLAN the same on the VXLAN port.
pub(super) fn default_tunnel(
    vtep: &Vtep,
    remote: IpAddr,
    vni: Vni,
    e: Encapsulation,
) -> config::Tunnel {
    let mut t = config::Tunnel::defaults(vtep, remote, vni);
    if e == Encapsulation::Vxlan {
        t.encapsulation = e;
        t.mesh = e.as_str().to_string();
        t.udp_dst_port = vtep.vxlan_port.unwrap_or(config::VXLAN_UDP_PORT);
    }
    t
}

/// The decap entries of VXLAN VNIs: when the VTEP receives VXLAN, every
/// segment's VXLAN VNI decapsulates as its Geneve VNI does (same port,
/// VLAN, segment and policies; a VXLAN frame carries no options, so a VNI
/// that requires one drops it, counted).
pub(super) fn add_vxlan_vnis(cfg: &Config, vnis: &mut VniTable) {
    if cfg.vtep.vxlan_port.is_none() {
        return;
    }
    for s in cfg.l2.iter().flat_map(|l2| &l2.segments) {
        if let Some(out) = vnis.get(s.vni.get()).cloned() {
            vnis.insert(vni_key(Encapsulation::Vxlan, s.vxlan_vni), out);
        }
    }
}

/// A decapsulated inner Ethernet frame (`buf`, untagged) of stitched
/// segment `seg`, from delivery `d`: re-encapsulated towards the tunnel of
/// another group its destination MAC lives behind, flooded (access port
/// and the other groups), or dropped. See the module doc.
#[inline(never)]
pub(super) fn forward<B: Buffer + ?Sized>(
    t: &Tables,
    seg: usize,
    d: &Delivery,
    buf: &mut B,
    events: &mut impl FnMut(Event),
) -> Option<Outcome> {
    let s = t.segments.get(seg)?;
    let mesh = s.mesh.as_deref()?;
    let f = buf.data();
    let dst: [u8; 6] = *f.first_chunk::<6>()?;
    let from = mesh.source_group(d);
    let carried_options = d.options.count != 0;
    let entry = if is_group_mac(&dst) {
        None
    } else {
        s.macs.get(&dst)
    };
    let Some(e) = entry else {
        if carried_options && mesh.floods_vxlan_from(from) {
            events(Event::OptionsNotCarried);
        }
        return Some(Outcome::FloodFrom {
            segment: seg as u32,
            group: from,
            vxlan: d.encap == Encapsulation::Vxlan,
        });
    };
    let Some(id) = e.template() else {
        return Some(Outcome::Drop(DropReason::NextHopUnresolved));
    };
    let to = t.templates.get(id as usize)?.encapsulation();
    let group = mesh
        .template_group(id)
        .unwrap_or_else(|| mesh.group_of(e.remote, to));
    if group == from {
        return Some(Outcome::Drop(DropReason::SplitHorizon));
    }
    if carried_options && to == Encapsulation::Vxlan {
        events(Event::OptionsNotCarried);
    }
    events(Event::Stitched {
        tunnel: t
            .templates
            .get(id as usize)
            .map_or(NO_SLOT, |x| x.counter()),
        inner: buf.len() as u32,
    });
    Some(encap_flood(t, id, buf, None))
}
