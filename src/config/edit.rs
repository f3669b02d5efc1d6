//! Changes to a running configuration, entry by entry: what the control
//! API (`control::api`) asks of the control thread.
//!
//! An [`Edit`] is checked with the same per-entry functions the file's
//! validation uses (`validate::tunnels` for one tunnel, `prefix`,
//! `remote_vtep`, `unicast_mac`, `port_ref`, `vlan`), so a field is refused
//! with the same words as in a file; the path names the change instead of
//! a line (`changes[2].add_route.prefix`). The references between entries
//! (a route's tunnel, a tunnel still used by routes, static MACs, flood
//! lists or option policies, an L3 tunnel's VNI against the segments) are
//! checked with the [`Editor`]'s indexes (tunnel by name, route by prefix,
//! routes per tunnel and per VNI, static MAC by segment and address),
//! never by validating the whole configuration again: one change costs
//! O(log n) look-ups, whatever the size of the tables. The same holds for
//! `limits.route_groups`: the editor keeps the number of routes longer
//! than /24 per IPv4 /24 block (a hash map, one entry per block in use),
//! updated as a route is added or removed, so a route that would open one
//! block more than the limit is refused (`EditErrorKind::Limit`) without
//! counting the routes again.
//!
//! Removals move the last entry into the hole (`swap_remove`), so no
//! other entry's index changes: a deleted tunnel's place goes to the last
//! tunnel, and only that tunnel's own routes (found through the routes per
//! tunnel) and option policies are re-pointed; a removed route or static
//! MAC's place goes to the last of its list, one index entry updated. So
//! the running `l3.routes` is not kept sorted (a prefix appears once, so
//! the order changes no lookup; `load` and `emit` sort it longest prefix
//! first, by address within a length, so a save loads back equal).
//!
//! The indexes are `std` B-trees: the API's lists page through them in
//! key order (`control::pages`), which a hash map cannot do; an ordered
//! map kept beside a hash map would cost the memory twice. `indexmap`
//! (insertion order, O(1) swap-remove) was the other candidate: it keeps
//! positions but gives no key order to page by. The indexes of a
//! configuration are built once (at start, or on the reload thread): at
//! 1,000,000 routes they add about 100 MB to the gateway's resident
//! memory (BENCHMARKS.md, "The control API at a million entries").
//!
//! [`Editor::apply`] applies a list of edits all or nothing: every change
//! to the configuration is recorded with its inverse, and the first
//! refused edit undoes the ones before it, in reverse order. Nothing is
//! cloned but the entries touched.
//!
//! VXLAN tunnels and tunnels in a mesh group of their own decide how whole
//! segments are stitched (which remote is a member in which group, the
//! VXLAN keys of the VNI table): adding, deleting or moving one to another
//! group is checked with the file's stitching checks over the whole
//! configuration (`stitch::check`) and makes every table anew, as a reload
//! with that difference does; changing only its settings (TTL, ports) is
//! an entry change. Segments are known by position everywhere in the
//! tables, so adding or deleting one is made on a copy of the
//! configuration, checked whole by saving and loading it back (`emit`,
//! `load_str`: the file's own validation), and makes every table anew
//! (the control thread moves the learned MACs of the other segments to
//! their new positions by VNI). What the API does not change: the VTEP,
//! ports and EAL: those stay with the file and a reload. The option registry is changed entry by
//! entry but checked whole (`validate::registry`, at most 32 entries), and
//! it makes every table anew (`Applied::global`). An option policy is
//! checked by the file's policy check (`validate::policies`) on that one
//! entry, its scope (a VNI with a decap entry, a tunnel by name) looked up
//! here; `require` and `security_tags` live in the decap entries of the
//! VNIs in scope, which are planned again, and `flow_id_copy` also shapes
//! the tunnels' templates (their flow-id variants), so it makes every
//! table anew.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use rustc_hash::FxHashMap;

use super::diff::ConfigDiff;
use super::raw::{RawChecksum, RawEncapsulation, RawPortRange, RawTunnel, RawTunnelOption, Scalar};
use super::types::*;
use super::validate::{self, Ctx, Field};
use crate::wire::ethernet::MacDisplay;

/// A tunnel as the API gives it: the fields of a `tunnels:` entry, text
/// and wide integers as in the file, checked as the file's are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunnelSpec {
    pub name: String,
    pub remote: String,
    pub vni: i64,
    /// `geneve` or `vxlan`.
    pub encapsulation: Option<String>,
    pub mesh: Option<String>,
    pub options: Vec<OptionSpec>,
    pub udp_port: Option<i64>,
    /// `zero` or `compute`.
    pub udp_checksum: Option<String>,
    pub accept_zero_checksum: Option<bool>,
    /// A number or `inherit`.
    pub ttl: Option<String>,
    pub dscp: Option<String>,
    pub source_ports: Option<(i64, i64)>,
}

/// One option of a [`TunnelSpec`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: Option<String>,
    pub class: Option<i64>,
    pub type_: Option<i64>,
    pub data: String,
    pub critical: Option<bool>,
}

/// One change to the running configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Adds a tunnel, or changes the settings of the tunnel with that name
    /// (its remote and VNI stay).
    AddTunnel(TunnelSpec),
    DeleteTunnel(String),
    /// Adds a route or moves its prefix to another tunnel.
    AddRoute {
        prefix: String,
        tunnel: String,
    },
    DeleteRoute(String),
    /// Segment by name or index; adds the MAC or moves it.
    AddStaticMac {
        segment: String,
        mac: String,
        remote: String,
    },
    DeleteStaticMac {
        segment: String,
        mac: String,
    },
    /// Adds an explicit decap entry or sets the allow list of a VNI.
    AddDecap {
        vni: i64,
        port: Option<String>,
        vlan: Option<i64>,
        allow_from: Option<Vec<String>>,
    },
    DeleteDecap(i64),
    SetFlood {
        segment: String,
        remotes: Vec<String>,
    },
    /// Registers an option (the registry is small: checked whole, and the
    /// tables are made anew).
    AddOption {
        name: String,
        class: i64,
        type_: i64,
        length: Option<i64>,
    },
    /// Removes a registered option no policy uses.
    DeleteOption(String),
    /// Adds an option policy (an `options.policies` entry), checked as
    /// the file's.
    AddPolicy(PolicySpec),
    /// Removes the option policy of that kind, option and scope (the
    /// values of a security tag are not compared).
    DeletePolicy(PolicySpec),
    /// Appends an L2 segment (the configuration is checked whole, as a
    /// file, and every table is made anew).
    AddSegment(SegmentSpec),
    /// Removes a segment (by name or index) with its static MACs, flood
    /// list and decap entry; the segments after it move up one.
    DeleteSegment(String),
}

/// An L2 segment as the API gives it: the fields of an `l2.segments`
/// entry (static MACs are added afterwards, one by one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentSpec {
    pub name: Option<String>,
    /// Access port name.
    pub port: String,
    pub vlan: Option<i64>,
    pub vni: i64,
    pub vxlan_vni: Option<i64>,
    pub flood: Vec<String>,
}

/// Which list of `options.policies` a policy is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Require,
    SecurityTags,
    FlowIdCopy,
}

impl PolicyKind {
    /// Its name in the file (and the API).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Require => "require",
            PolicyKind::SecurityTags => "security_tags",
            PolicyKind::FlowIdCopy => "flow_id_copy",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyKind> {
        [
            PolicyKind::Require,
            PolicyKind::SecurityTags,
            PolicyKind::FlowIdCopy,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An option policy as the API gives it: the fields of an
/// `options.policies.<kind>` entry, text as in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySpec {
    /// `require`, `security_tags` or `flow_id_copy`.
    pub kind: String,
    /// The option's name in the registry.
    pub option: String,
    /// Scope: this VNI, or this tunnel (by name); neither: every VNI.
    pub vni: Option<i64>,
    pub tunnel: Option<String>,
    /// Security tags: values (hex of the option's length, or decimal).
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// Security tags: `allow` or `deny` (the default).
    pub default: Option<String>,
}

/// Why an edit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditErrorKind {
    /// A field is not valid (the file would be refused the same way).
    Invalid,
    /// What is deleted or named does not exist.
    NotFound,
    /// It would leave a reference dangling.
    Dangling,
    /// The API does not change this entry by entry: edit the file and reload.
    Unsupported,
    /// It would need more of a table than a `limits` field allows (the
    /// message names the field): raise it in the file and reload, or
    /// delete entries first.
    Limit,
}

/// A refused edit: which change, which field, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    pub kind: EditErrorKind,
    /// The field path, e.g. `changes[2].add_route.tunnel`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for EditError {}

fn err(kind: EditErrorKind, path: impl fmt::Display, message: impl Into<String>) -> EditError {
    EditError {
        kind,
        path: path.to_string(),
        message: message.into(),
    }
}

/// What an accepted list of edits changed, in the terms the table planner
/// takes: a reload's difference ([`ConfigDiff`]), in order.
pub type Applied = ConfigDiff;

/// How to undo one change to the configuration.
enum Undo {
    RemoveTunnel(usize),
    InsertTunnel(usize, Tunnel),
    ReplaceTunnel(usize, Tunnel),
    RemoveRoute(IpPrefix),
    InsertRoute(Route),
    SetDecap(Vni, Option<Decap>),
    RemoveMac(usize, usize),
    InsertMac(usize, usize, StaticMac),
    ReplaceMac(usize, usize, StaticMac),
    Flood(usize, Vec<IpAddr>),
    Options(Options),
    /// The whole configuration before a segment was added or removed.
    Whole(Box<Config>),
}

/// The indexes the per-entry checks look references up in, and the API's
/// lists page through (in key order). Built once from a configuration
/// (linear: at start before the workers run, and on the reload thread
/// for a reloaded file), then kept up to date by [`Editor::apply`] with
/// the configuration it edits, each change in O(log n).
#[derive(Debug, Clone, Default)]
pub struct Editor {
    /// Tunnel name -> index, in name order. Indexes and positions are
    /// kept as u32 here and below (a configuration has far fewer than 2^32
    /// entries): at a million tunnels and routes these trees are the
    /// editor's memory, and their nodes shrink by a quarter to a half.
    names: BTreeMap<Box<str>, u32>,
    /// Route prefix -> its tunnel and its position in `l3.routes`, in
    /// prefix order.
    routes: BTreeMap<IpPrefix, RouteAt>,
    /// The routes of each tunnel as (tunnel index, prefix): a tunnel's
    /// routes are a range, in prefix order. One set, not a set per tunnel:
    /// at a million tunnels with a route or two each, a tree per tunnel
    /// costs a node of its own (about 250 bytes) per tunnel.
    per_tunnel: BTreeSet<(u32, IpPrefix)>,
    /// Routes per VNI (the L3 VNIs).
    per_vni: FxHashMap<Vni, u32>,
    /// Static MACs by (segment index, MAC) -> position in the segment's
    /// `static_macs`, in that order.
    macs: BTreeMap<(usize, MacAddr), usize>,
    /// Tunnels that are VXLAN or in a mesh group of their own.
    not_plain: usize,
    /// IPv4 /24 block (address >> 8) -> its routes longer than /24: the
    /// route table's second-level groups (`limits.route_groups`), kept per
    /// route added or removed, never recounted.
    long_blocks: FxHashMap<u32, u32>,
    /// The VNIs of the routes just added or removed (their decap entries
    /// follow).
    last_vnis: Vec<Vni>,
}

/// Where a route is: its tunnel (index) and its position in `l3.routes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteAt {
    pub tunnel: u32,
    pub pos: u32,
}

/// An index or position as the editor keeps it.
fn ix(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 entries")
}

/// The /24 block (address >> 8) of an IPv4 route longer than /24: the
/// route table's second-level group it needs (`dataplane::lpm`), as
/// `validate::l3_mode` counts them for the file.
fn long_block(p: &IpPrefix) -> Option<u32> {
    match p {
        IpPrefix {
            addr: IpAddr::V4(a),
            len: 25..,
        } => Some(u32::from(*a) >> 8),
        _ => None,
    }
}

fn plain(t: &Tunnel) -> bool {
    t.encapsulation == Encapsulation::Geneve && t.mesh == Encapsulation::Geneve.as_str()
}

fn zero_v6(t: &Tunnel) -> bool {
    t.accept_zero_checksum && t.remote.is_ipv6()
}

impl Editor {
    /// The indexes of `cfg`.
    pub fn new(cfg: &Config) -> Editor {
        let mut e = Editor::default();
        // Every index sorted first: a tree built from sorted keys is built
        // in bulk (a million names inserted one by one into a tree cost
        // four times as many instructions).
        let mut names: Vec<(Box<str>, u32)> = Vec::with_capacity(cfg.tunnels.len());
        for (i, t) in cfg.tunnels.iter().enumerate() {
            names.push((t.name.as_str().into(), ix(i)));
            if !plain(t) {
                e.not_plain += 1;
            }
        }
        // Stable: of two tunnels with one name the first in the file stays.
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names.dedup_by(|later, first| later.0 == first.0);
        e.names = names.into_iter().collect();
        let mut routes: Vec<(IpPrefix, RouteAt)> = cfg
            .l3
            .iter()
            .flat_map(|l| l.routes.iter().enumerate())
            .map(|(pos, r)| {
                (
                    r.prefix,
                    RouteAt {
                        tunnel: ix(r.tunnel),
                        pos: ix(pos),
                    },
                )
            })
            .collect();
        routes.sort_unstable_by_key(|r| prefix_order(&r.0));
        let mut per_tunnel = Vec::with_capacity(routes.len());
        for (p, at) in &routes {
            if let Some(b) = long_block(p) {
                *e.long_blocks.entry(b).or_default() += 1;
            }
            per_tunnel.push((at.tunnel, *p));
            *e.per_vni
                .entry(cfg.tunnels[at.tunnel as usize].vni)
                .or_default() += 1;
        }
        // In prefix order already: a stable sort by tunnel keeps it within
        // each tunnel.
        per_tunnel.sort_by_key(|&(t, _)| t);
        e.per_tunnel = per_tunnel.into_iter().collect();
        e.routes = routes.into_iter().collect();
        let mut macs: Vec<((usize, MacAddr), usize)> = cfg
            .l2
            .iter()
            .flat_map(|l| l.segments.iter().enumerate())
            .flat_map(|(s, seg)| {
                seg.static_macs
                    .iter()
                    .enumerate()
                    .map(move |(pos, m)| ((s, m.mac), pos))
            })
            .collect();
        macs.sort_unstable_by_key(|m| m.0);
        e.macs = macs.into_iter().collect();
        e
    }

    /// The tunnel named `name`.
    pub fn tunnel(&self, name: &str) -> Option<usize> {
        self.names.get(name).map(|&i| i as usize)
    }

    /// The tunnel index of the route `prefix`.
    pub fn route(&self, prefix: &IpPrefix) -> Option<usize> {
        self.routes.get(prefix).map(|r| r.tunnel as usize)
    }

    /// Tunnel names and indexes in name order, from strictly after `after`.
    pub fn tunnels_after<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        use std::ops::Bound::*;
        let lo = after.map_or(Unbounded, Excluded);
        self.names
            .range::<str, _>((lo, Unbounded))
            .map(|(n, &i)| (&**n, i as usize))
    }

    /// Routes in prefix order from `from` on: all of them, or those of
    /// tunnel `tunnel`.
    pub fn routes_from(
        &self,
        from: std::ops::Bound<IpPrefix>,
        tunnel: Option<usize>,
    ) -> Box<dyn Iterator<Item = (IpPrefix, usize)> + '_> {
        use std::ops::Bound::Unbounded;
        match tunnel {
            Some(t) => Box::new(self.routes_of(t, from).map(move |p| (p, t))),
            None => Box::new(
                self.routes
                    .range((from, Unbounded))
                    .map(|(p, at)| (*p, at.tunnel as usize)),
            ),
        }
    }

    /// The routes of tunnel `t` in prefix order, from `from` on.
    fn routes_of(
        &self,
        t: usize,
        from: std::ops::Bound<IpPrefix>,
    ) -> impl Iterator<Item = IpPrefix> + '_ {
        use std::ops::Bound::*;
        let t = ix(t);
        let lo = match from {
            Included(p) => Included((t, p)),
            Excluded(p) => Excluded((t, p)),
            Unbounded => Included((t, FIRST_PREFIX)),
        };
        self.per_tunnel
            .range((lo, Unbounded))
            .take_while(move |(i, _)| *i == t)
            .map(|(_, p)| *p)
    }

    /// Moves the routes of tunnel `from` to tunnel `to` in the index
    /// (the tunnel at `from` went to `to`); returns them.
    fn rekey_routes(&mut self, from: usize, to: usize) -> Vec<IpPrefix> {
        let routes: Vec<IpPrefix> = self.routes_of(from, std::ops::Bound::Unbounded).collect();
        for p in &routes {
            self.per_tunnel.remove(&(ix(from), *p));
            self.per_tunnel.insert((ix(to), *p));
        }
        routes
    }

    /// The position of static MAC `mac` in segment `seg`'s list.
    pub fn static_mac(&self, seg: usize, mac: &MacAddr) -> Option<usize> {
        self.macs.get(&(seg, *mac)).copied()
    }

    /// Static MACs as (segment, MAC, position) in (segment, MAC) order,
    /// from strictly after `after`.
    pub fn static_macs_after(
        &self,
        after: Option<(usize, MacAddr)>,
    ) -> impl Iterator<Item = (usize, MacAddr, usize)> + '_ {
        use std::ops::Bound::*;
        let lo = after.map_or(Unbounded, Excluded);
        self.macs
            .range((lo, Unbounded))
            .map(|(k, &p)| (k.0, k.1, p))
    }

    /// Static MACs in all segments.
    pub fn static_mac_count(&self) -> usize {
        self.macs.len()
    }

    /// The /24 blocks that hold an IPv4 route longer than /24: the
    /// route-table groups in use, held to `limits.route_groups`.
    pub fn route_groups(&self) -> usize {
        self.long_blocks.len()
    }

    /// Applies `edits` to `cfg` in order, all or nothing. `label(i)` names
    /// edit `i` in errors (`changes[3].add_tunnel`).
    pub fn apply(
        &mut self,
        cfg: &mut Config,
        edits: &[Edit],
        label: impl Fn(usize) -> String,
    ) -> Result<Applied, EditError> {
        let mut undo = Vec::new();
        let mut out = Applied::default();
        for (i, e) in edits.iter().enumerate() {
            if let Err(e) = self.one(cfg, e, &label(i), &mut undo, &mut out) {
                while let Some(u) = undo.pop() {
                    self.undo(cfg, u);
                }
                return Err(e);
            }
        }
        Ok(out)
    }

    fn one(
        &mut self,
        cfg: &mut Config,
        e: &Edit,
        base: &str,
        undo: &mut Vec<Undo>,
        out: &mut Applied,
    ) -> Result<(), EditError> {
        use EditErrorKind::*;
        match e {
            Edit::AddTunnel(spec) => {
                let base = format!("{base}.add_tunnel");
                let t = self.check_tunnel(cfg, spec, &base)?;
                // VXLAN tunnels and mesh groups decide how whole segments
                // are stitched: checked with the rest of the configuration
                // and applied by making every table anew.
                let stitching = !plain(&t);
                match self.tunnel(&t.name) {
                    Some(i) => {
                        let old = &cfg.tunnels[i];
                        if (old.remote, old.vni, old.encapsulation)
                            != (t.remote, t.vni, t.encapsulation)
                        {
                            return Err(err(Invalid, format!("{base}.remote"), format!("tunnel `{}` goes to {} with VNI {}; a tunnel's remote and VNI do not change (delete it and add it again)", t.name, old.remote, old.vni)));
                        }
                        if *old == t {
                            return Ok(());
                        }
                        if old.mesh != t.mesh {
                            out.global = Some(STITCHING);
                        }
                        if zero_v6(old) != zero_v6(&t) {
                            out.global = Some("accept_zero_checksum");
                        }
                        out.tunnels.push((t.remote, t.vni));
                        out.counts.tunnels.modified += 1;
                        let old = self.replace_tunnel(cfg, i, t);
                        undo.push(Undo::ReplaceTunnel(i, old));
                        if stitching {
                            stitch_check(cfg, i, &base)?;
                        }
                    }
                    None => {
                        if let Some(o) = cfg.tunnel_for_encap(t.remote, t.vni, t.encapsulation) {
                            return Err(err(Invalid, format!("{base}.vni"), format!("tunnel `{}` already goes to {} with {} VNI {}; each remote VTEP and VNI pair needs one tunnel", o.name, t.remote, t.encapsulation, t.vni)));
                        }
                        if zero_v6(&t) {
                            out.global = Some("accept_zero_checksum");
                        }
                        if self.not_plain > 0 || stitching {
                            out.global = Some(STITCHING);
                        }
                        out.tunnels.push((t.remote, t.vni));
                        out.counts.tunnels.added += 1;
                        let i = cfg.tunnels.len();
                        self.insert_tunnel(cfg, i, t);
                        undo.push(Undo::RemoveTunnel(i));
                        if stitching {
                            stitch_check(cfg, i, &base)?;
                        }
                    }
                }
            }
            Edit::DeleteTunnel(name) => {
                let path = format!("{base}.delete_tunnel.name");
                let i = self
                    .tunnel(name)
                    .ok_or_else(|| err(NotFound, &path, format!("no tunnel named `{name}`")))?;
                self.tunnel_unused(cfg, i, &path)?;
                let t = &cfg.tunnels[i];
                if zero_v6(t) {
                    out.global = Some("accept_zero_checksum");
                }
                if self.not_plain > 0 {
                    out.global = Some(STITCHING);
                }
                out.tunnels.push((t.remote, t.vni));
                out.counts.tunnels.removed += 1;
                let t = self.remove_tunnel(cfg, i);
                undo.push(Undo::InsertTunnel(i, t));
            }
            Edit::AddRoute { prefix, tunnel } => {
                let base = format!("{base}.add_route");
                let Some(l3) = &cfg.l3 else {
                    return Err(err(Invalid, &base, "the running configuration has no l3 section; routes need l3.access (add it in the file and reload)"));
                };
                let p = parse(|c| validate::prefix(c, &Field(&base.as_str(), "prefix"), prefix))?;
                let tpath = format!("{base}.tunnel");
                let t = self.tunnel(tunnel).ok_or_else(|| {
                    err(
                        Dangling,
                        &tpath,
                        format!("no tunnel named `{tunnel}`; add the tunnel first"),
                    )
                })?;
                let (remote, vni) = (cfg.tunnels[t].remote, cfg.tunnels[t].vni);
                if cfg.tunnels[t].encapsulation == Encapsulation::Vxlan {
                    return Err(err(Invalid, &tpath, format!("tunnel `{tunnel}` is VXLAN, which carries Ethernet frames only; L3 routes need a Geneve tunnel")));
                }
                if let Some(s) = cfg
                    .l2
                    .iter()
                    .flat_map(|l| &l.segments)
                    .position(|s| s.vni == vni)
                {
                    return Err(err(Invalid, &tpath, format!("tunnel `{tunnel}` uses VNI {vni}, which is the L2 segment l2.segments[{s}]; an L3 tunnel needs a VNI of its own")));
                }
                if let Some(d) = cfg.decap_for(vni) {
                    if d.payload == Payload::Ethernet {
                        return Err(err(Invalid, &tpath, format!("VNI {vni} of tunnel `{tunnel}` has an explicit decap entry to port `{}` carrying Ethernet; an L3 tunnel's VNI decapsulates to l3.access (delete that decap entry first)", cfg.ports[d.port].name)));
                    }
                }
                let _ = l3;
                if let Some(b) = long_block(&p) {
                    let limit = cfg.limits.route_groups;
                    if !self.long_blocks.contains_key(&b)
                        && self.long_blocks.len() >= limit as usize
                    {
                        return Err(err(Limit, format!("{base}.prefix"), format!("{p} needs a 256-entry group of the IPv4 route table for {}/24, one more than limits.route_groups allows ({limit}: one group per /24 block that holds a route longer than /24; {} in use)", Ipv4Addr::from(b << 8), self.long_blocks.len())));
                    }
                }
                match self.route(&p) {
                    Some(old) if old == t => return Ok(()),
                    Some(_) => {
                        let r = self.remove_route(cfg, p);
                        undo.push(Undo::InsertRoute(r));
                        out.counts.routes.modified += 1;
                    }
                    None => out.counts.routes.added += 1,
                }
                self.insert_route(
                    cfg,
                    Route {
                        prefix: p,
                        tunnel: t,
                    },
                );
                undo.push(Undo::RemoveRoute(p));
                out.routes.push((p, Some((remote, vni))));
                self.derived_decap(cfg, out, undo);
            }
            Edit::DeleteRoute(prefix) => {
                let path = format!("{base}.delete_route.prefix");
                let p = parse(|c| validate::prefix(c, &path, prefix))?;
                if self.route(&p).is_none() {
                    return Err(err(NotFound, &path, format!("no route for {p}")));
                }
                let r = self.remove_route(cfg, p);
                undo.push(Undo::InsertRoute(r));
                out.counts.routes.removed += 1;
                out.routes.push((p, None));
                self.derived_decap(cfg, out, undo);
            }
            Edit::AddStaticMac {
                segment,
                mac,
                remote,
            } => {
                let base = format!("{base}.add_static_mac");
                let seg = segment_ref(cfg, segment, &format!("{base}.segment"))?;
                let m = parse(|c| validate::unicast_mac(c, &format!("{base}.mac"), mac))?;
                let r = parse(|c| {
                    validate::remote_vtep(c, &format!("{base}.remote"), remote, &cfg.vtep)
                })?;
                let known = self.static_mac(seg, &m);
                let s = &mut segments(cfg)[seg];
                match known {
                    Some(pos) if s.static_macs[pos].remote == r => return Ok(()),
                    Some(pos) => {
                        let old = std::mem::replace(&mut s.static_macs[pos].remote, r);
                        undo.push(Undo::ReplaceMac(
                            seg,
                            pos,
                            StaticMac {
                                mac: m,
                                remote: old,
                            },
                        ));
                        out.counts.static_macs.modified += 1;
                    }
                    None => {
                        let pos = self.push_mac(cfg, seg, StaticMac { mac: m, remote: r });
                        undo.push(Undo::RemoveMac(seg, pos));
                        out.counts.static_macs.added += 1;
                    }
                }
                out.static_macs.push((seg, m, Some(r)));
                self.mesh_follows(cfg, seg, out);
            }
            Edit::DeleteStaticMac { segment, mac } => {
                let base = format!("{base}.delete_static_mac");
                let seg = segment_ref(cfg, segment, &format!("{base}.segment"))?;
                let mpath = format!("{base}.mac");
                let m = parse(|c| validate::unicast_mac(c, &mpath, mac))?;
                let pos = self.static_mac(seg, &m).ok_or_else(|| {
                    err(
                        NotFound,
                        &mpath,
                        format!("no static MAC {} in segment {segment}", MacDisplay(&m)),
                    )
                })?;
                let old = self.remove_mac(cfg, seg, pos);
                undo.push(Undo::InsertMac(seg, pos, old));
                out.counts.static_macs.removed += 1;
                out.static_macs.push((seg, m, None));
                self.mesh_follows(cfg, seg, out);
            }
            Edit::SetFlood { segment, remotes } => {
                let base = format!("{base}.set_flood");
                let seg = segment_ref(cfg, segment, &format!("{base}.segment"))?;
                let mut list = Vec::with_capacity(remotes.len());
                for (j, r) in remotes.iter().enumerate() {
                    let path = format!("{base}.remotes[{j}]");
                    let a = parse(|c| validate::remote_vtep(c, &path, r, &cfg.vtep))?;
                    if list.contains(&a) {
                        return Err(err(Invalid, &path, format!("{a} is listed twice")));
                    }
                    list.push(a);
                }
                let s = &mut segments(cfg)[seg];
                if s.flood == list {
                    return Ok(());
                }
                let old = std::mem::replace(&mut s.flood, list);
                undo.push(Undo::Flood(seg, old));
                out.counts.flood_lists.modified += 1;
                out.flood.push(seg);
                self.mesh_follows(cfg, seg, out);
            }
            Edit::AddDecap {
                vni,
                port,
                vlan,
                allow_from,
            } => {
                let base = format!("{base}.add_decap");
                let v = parse(|c| validate::vni(c, &format!("{base}.vni"), *vni))?;
                let port = match port.as_deref().filter(|p| !p.is_empty()) {
                    Some(p) => Some(parse(|c| {
                        validate::port_ref(
                            c,
                            &format!("{base}.port"),
                            p,
                            &cfg.ports,
                            PortRole::Access,
                        )
                    })?),
                    None => None,
                };
                let vlan = match vlan {
                    None => None,
                    Some(n) => parse(|c| {
                        validate::vlan(c, &format!("{base}.vlan"), &Some(Scalar::Int(*n)))
                    })?,
                };
                let allow = match allow_from {
                    None => None,
                    Some(list) => {
                        let apath = format!("{base}.allow_from");
                        if list.is_empty() {
                            return Err(err(Invalid, &apath, "empty; list the source VTEPs to accept, or omit allow_from to accept any"));
                        }
                        let mut out = Vec::with_capacity(list.len());
                        for (j, s) in list.iter().enumerate() {
                            let path = format!("{apath}[{j}]");
                            let a = parse(|c| validate::remote_vtep(c, &path, s, &cfg.vtep))?;
                            if out.contains(&a) {
                                return Err(err(Invalid, &path, format!("{a} is listed twice")));
                            }
                            out.push(a);
                        }
                        Some(out)
                    }
                };
                let new = match cfg.decap_for(v) {
                    Some(existing) => {
                        let what = match existing.payload {
                            Payload::Ethernet if self.segment_vni(cfg, v) => "its L2 segment",
                            Payload::Ethernet => "its decap entry",
                            Payload::Ip => "l3.access",
                        };
                        if let Some(p) = port {
                            if p != existing.port {
                                return Err(err(Invalid, format!("{base}.port"), format!("VNI {v} decapsulates to port `{}` by {what}; omit port or give the same one", cfg.ports[existing.port].name)));
                            }
                        }
                        if vlan.is_some() && vlan != existing.vlan {
                            return Err(err(Invalid, format!("{base}.vlan"), format!("VNI {v} decapsulates {} by {what}; omit vlan or give the same one", validate::vlan_text(existing.vlan))));
                        }
                        Decap {
                            allow_from: allow,
                            ..existing.clone()
                        }
                    }
                    None => {
                        let Some(p) = port else {
                            return Err(err(Invalid, format!("{base}.port"), format!("missing; VNI {v} is neither an L2 segment nor an L3 tunnel's VNI, so its access port must be given")));
                        };
                        Decap {
                            vni: v,
                            port: p,
                            vlan,
                            payload: Payload::Ethernet,
                            allow_from: allow,
                        }
                    }
                };
                let old = set_decap(cfg, v, Some(new));
                out.counts.decap.count(old.as_ref(), cfg.decap_for(v));
                if old.as_ref() != cfg.decap_for(v) {
                    out.decap.push(v);
                }
                undo.push(Undo::SetDecap(v, old));
            }
            Edit::AddOption {
                name,
                class,
                type_,
                length,
            } => {
                let base = format!("{base}.add_option");
                let reg = &cfg.options.registry;
                if reg.iter().any(|o| &o.name == name) {
                    return Err(err(
                        Invalid,
                        format!("{base}.name"),
                        format!("option `{name}` is already registered; delete it first"),
                    ));
                }
                let mut raw: Vec<super::raw::RawOptionDef> = reg
                    .iter()
                    .map(|o| super::raw::RawOptionDef {
                        name: o.name.clone(),
                        class: i64::from(o.class),
                        type_: i64::from(o.type_),
                        length: o.length.map(i64::from),
                    })
                    .collect();
                let at = raw.len();
                raw.push(super::raw::RawOptionDef {
                    name: name.clone(),
                    class: *class,
                    type_: *type_,
                    length: *length,
                });
                let mut ctx = Ctx::new("api");
                let new = validate::registry(&mut ctx, raw);
                if !ctx.errors.is_empty() {
                    return Err(from_ctx(ctx, &format!("options.registry[{at}]"), &base));
                }
                let old = std::mem::replace(&mut cfg.options.registry, new);
                undo.push(Undo::Options(Options {
                    registry: old,
                    ..cfg.options.clone()
                }));
                out.global = Some("options");
            }
            Edit::DeleteOption(name) => {
                let path = format!("{base}.delete_option.name");
                let i = cfg
                    .options
                    .registry
                    .iter()
                    .position(|o| &o.name == name)
                    .ok_or_else(|| {
                        err(
                            NotFound,
                            &path,
                            format!("no option named `{name}` in the registry"),
                        )
                    })?;
                let o = &cfg.options;
                let users = o
                    .require
                    .iter()
                    .map(|r| ("require", r.option))
                    .chain(o.security_tags.iter().map(|s| ("security_tags", s.option)))
                    .chain(o.flow_id_copy.iter().map(|f| ("flow_id_copy", f.option)));
                for (what, opt) in users {
                    if opt == i {
                        return Err(err(Dangling, &path, format!("option `{name}` is used by an options.policies.{what} entry; delete the policy first")));
                    }
                }
                let old = cfg.options.clone();
                let o = &mut cfg.options;
                o.registry.remove(i);
                // Policies name options by index: those after it move down.
                for opt in o
                    .require
                    .iter_mut()
                    .map(|r| &mut r.option)
                    .chain(o.security_tags.iter_mut().map(|s| &mut s.option))
                    .chain(o.flow_id_copy.iter_mut().map(|f| &mut f.option))
                {
                    if *opt > i {
                        *opt -= 1;
                    }
                }
                undo.push(Undo::Options(old));
                out.global = Some("options");
            }
            Edit::AddPolicy(spec) => {
                let base = format!("{base}.add_policy");
                let (kind, scope) = self.policy_ref(cfg, spec, &base)?;
                let new = check_policy(cfg, spec, kind, scope, &base)?;
                if policy_position(&cfg.options, kind, &new).is_some() {
                    return Err(err(Invalid, format!("{base}.option"), format!("an options.policies.{} entry for option `{}` with this scope exists; delete it first", kind.as_str(), spec.option)));
                }
                undo.push(Undo::Options(cfg.options.clone()));
                let o = &mut cfg.options;
                match new {
                    Policy::Require(r) => o.require.push(r),
                    Policy::SecurityTags(t) => o.security_tags.push(t),
                    Policy::FlowIdCopy(f) => o.flow_id_copy.push(f),
                }
                self.policy_changed(cfg, kind, scope, out);
            }
            Edit::DeletePolicy(spec) => {
                let base = format!("{base}.delete_policy");
                let (kind, scope) = self.policy_ref(cfg, spec, &base)?;
                let option = option_index(cfg, &spec.option, &format!("{base}.option"))?;
                let key = match kind {
                    PolicyKind::Require => Policy::Require(RequireOption { option, scope }),
                    PolicyKind::SecurityTags => Policy::SecurityTags(SecurityTagPolicy {
                        option,
                        scope,
                        allow: Vec::new(),
                        deny: Vec::new(),
                        default: Action::Deny,
                    }),
                    PolicyKind::FlowIdCopy => Policy::FlowIdCopy(FlowIdCopy { option, scope }),
                };
                let Some(at) = policy_position(&cfg.options, kind, &key) else {
                    return Err(err(
                        NotFound,
                        format!("{base}.option"),
                        format!(
                            "no options.policies.{} entry for option `{}` with this scope",
                            kind.as_str(),
                            spec.option
                        ),
                    ));
                };
                undo.push(Undo::Options(cfg.options.clone()));
                let o = &mut cfg.options;
                match kind {
                    PolicyKind::Require => drop(o.require.remove(at)),
                    PolicyKind::SecurityTags => drop(o.security_tags.remove(at)),
                    PolicyKind::FlowIdCopy => drop(o.flow_id_copy.remove(at)),
                }
                self.policy_changed(cfg, kind, scope, out);
            }
            Edit::AddSegment(spec) => {
                let base = format!("{base}.add_segment");
                let Some(l2) = &cfg.l2 else {
                    return Err(err(Invalid, &base, "the running configuration has no l2 section; add it in the file and reload"));
                };
                let port = parse(|c| {
                    validate::port_ref(
                        c,
                        &format!("{base}.port"),
                        &spec.port,
                        &cfg.ports,
                        PortRole::Access,
                    )
                })?;
                let vlan = match spec.vlan {
                    None | Some(0) => None,
                    Some(n) => parse(|c| {
                        validate::vlan(c, &format!("{base}.vlan"), &Some(Scalar::Int(n)))
                    })?,
                };
                let vni = parse(|c| validate::vni(c, &format!("{base}.vni"), spec.vni))?;
                let vxlan_vni = match spec.vxlan_vni {
                    None => vni,
                    Some(v) => parse(|c| validate::vni(c, &format!("{base}.vxlan_vni"), v))?,
                };
                let mut flood = Vec::with_capacity(spec.flood.len());
                for (j, r) in spec.flood.iter().enumerate() {
                    let path = format!("{base}.flood[{j}]");
                    flood.push(parse(|c| validate::remote_vtep(c, &path, r, &cfg.vtep))?);
                }
                let at = l2.segments.len();
                let seg = Segment {
                    name: spec.name.clone().filter(|n| !n.is_empty()),
                    port,
                    vlan,
                    vni,
                    vxlan_vni,
                    flood,
                    static_macs: Vec::new(),
                };
                let mut new = cfg.clone();
                if let Some(l2) = &mut new.l2 {
                    l2.segments.push(seg);
                }
                self.replace_whole(cfg, new, &format!("l2.segments[{at}]"), &base, undo)?;
                out.global = Some("l2 segments");
            }
            Edit::DeleteSegment(r) => {
                let path = format!("{base}.delete_segment.segment");
                let i = segment_ref(cfg, r, &path)?;
                let vni = segments(cfg)[i].vni;
                scoped_to_vni(cfg, vni, &path)?;
                if self.per_vni.get(&vni).is_some_and(|n| *n > 0) {
                    return Err(err(
                        Dangling,
                        &path,
                        format!("VNI {vni} of segment `{r}` is used by routes; delete them first"),
                    ));
                }
                let mut new = cfg.clone();
                segments(&mut new).remove(i);
                if new
                    .decap_for(vni)
                    .is_some_and(|d| d.payload == Payload::Ethernet)
                {
                    set_decap(&mut new, vni, None);
                }
                self.replace_whole(cfg, new, "l2.segments", &path, undo)?;
                out.global = Some("l2 segments");
            }
            Edit::DeleteDecap(vni) => {
                let path = format!("{base}.delete_decap.vni");
                let v = parse(|c| validate::vni(c, &path, *vni))?;
                let Some(existing) = cfg.decap_for(v).cloned() else {
                    return Err(err(NotFound, &path, format!("VNI {v} has no decap entry")));
                };
                let new =
                    if self.segment_vni(cfg, v) || self.per_vni.get(&v).is_some_and(|n| *n > 0) {
                        // A segment's or an L3 tunnel's VNI: only its allow list goes.
                        if existing.allow_from.is_none() {
                            return Ok(());
                        }
                        Some(Decap {
                            allow_from: None,
                            ..existing.clone()
                        })
                    } else {
                        scoped_to_vni(cfg, v, &path)?;
                        None
                    };
                let old = set_decap(cfg, v, new);
                out.counts.decap.count(old.as_ref(), cfg.decap_for(v));
                out.decap.push(v);
                undo.push(Undo::SetDecap(v, old));
            }
        }
        Ok(())
    }

    /// One tunnel, checked as the file's `tunnels:` entries are.
    fn check_tunnel(
        &self,
        cfg: &Config,
        spec: &TunnelSpec,
        base: &str,
    ) -> Result<Tunnel, EditError> {
        let scalar = |s: &Option<String>| {
            s.as_ref().map(|s| match s.parse::<i64>() {
                Ok(n) => Scalar::Int(n),
                Err(_) => Scalar::Str(s.clone()),
            })
        };
        let encapsulation = match spec.encapsulation.as_deref() {
            None | Some("") | Some("geneve") => None,
            Some("vxlan") => Some(RawEncapsulation::Vxlan),
            Some(o) => {
                return Err(err(
                    EditErrorKind::Invalid,
                    format!("{base}.encapsulation"),
                    format!("`{o}` is not an encapsulation; allowed: geneve, vxlan"),
                ))
            }
        };
        let udp_checksum = match spec.udp_checksum.as_deref() {
            None | Some("") => None,
            Some("zero") => Some(RawChecksum::Zero),
            Some("compute") => Some(RawChecksum::Compute),
            Some(o) => {
                return Err(err(
                    EditErrorKind::Invalid,
                    format!("{base}.udp_checksum"),
                    format!("`{o}` is not a checksum policy; allowed: zero, compute"),
                ))
            }
        };
        let raw = RawTunnel {
            name: spec.name.clone(),
            remote: spec.remote.clone(),
            vni: spec.vni,
            encapsulation: encapsulation.or(match spec.encapsulation.as_deref() {
                Some("geneve") => Some(RawEncapsulation::Geneve),
                _ => None,
            }),
            mesh: spec.mesh.clone().filter(|m| !m.is_empty()),
            options: spec
                .options
                .iter()
                .map(|o| RawTunnelOption {
                    name: o.name.clone().filter(|n| !n.is_empty()),
                    class: o.class,
                    type_: o.type_,
                    data: o.data.clone(),
                    critical: o.critical,
                })
                .collect(),
            udp_port: spec.udp_port,
            udp_checksum,
            accept_zero_checksum: spec.accept_zero_checksum,
            ttl: scalar(&spec.ttl.clone().filter(|s| !s.is_empty())),
            dscp: scalar(&spec.dscp.clone().filter(|s| !s.is_empty())),
            source_ports: spec
                .source_ports
                .map(|(min, max)| RawPortRange { min, max }),
        };
        let mut ctx = Ctx::new("api");
        let vtep = Some(cfg.vtep.clone());
        let mut t = validate::tunnels(
            &mut ctx,
            vec![raw],
            &vtep,
            &cfg.options.registry,
            &cfg.limits,
        );
        if !ctx.errors.is_empty() {
            return Err(from_ctx(ctx, "tunnels[0]", base));
        }
        t.pop()
            .ok_or_else(|| err(EditErrorKind::Invalid, base, "not a tunnel"))
    }

    /// Refuses to delete tunnel `i` while anything still uses it.
    fn tunnel_unused(&self, cfg: &Config, i: usize, path: &str) -> Result<(), EditError> {
        let t = &cfg.tunnels[i];
        let mut routes = self.routes_of(i, std::ops::Bound::Unbounded);
        if let Some(example) = routes.next() {
            let n = 1 + routes.count();
            return Err(err(EditErrorKind::Dangling, path, format!("tunnel `{}` is used by {n} route(s), e.g. {example}; delete or move them first", t.name)));
        }
        for (si, s) in cfg.l2.iter().flat_map(|l| l.segments.iter().enumerate()) {
            if s.vni != t.vni {
                continue;
            }
            if let Some(m) = s.static_macs.iter().find(|m| m.remote == t.remote) {
                return Err(err(EditErrorKind::Dangling, path, format!("tunnel `{}` is used by static MAC {} in l2.segments[{si}]; delete it first", t.name, MacDisplay(&m.mac))));
            }
            if s.flood.contains(&t.remote) {
                return Err(err(
                    EditErrorKind::Dangling,
                    path,
                    format!(
                        "tunnel `{}` is in the flood list of l2.segments[{si}]; take it out first",
                        t.name
                    ),
                ));
            }
        }
        let o = &cfg.options;
        let scopes = o
            .require
            .iter()
            .map(|r| ("require", r.scope))
            .chain(o.security_tags.iter().map(|s| ("security_tags", s.scope)))
            .chain(o.flow_id_copy.iter().map(|f| ("flow_id_copy", f.scope)));
        for (what, s) in scopes {
            if s == Scope::Tunnel(i) {
                return Err(err(EditErrorKind::Dangling, path, format!("tunnel `{}` is the scope of an options.policies.{what} entry; delete the policy first", t.name)));
            }
        }
        Ok(())
    }

    /// A policy's kind and scope: the scope's VNI must be decapsulated
    /// here and its tunnel must exist (looked up in the indexes, as the
    /// file's check does in its own).
    fn policy_ref(
        &self,
        cfg: &Config,
        spec: &PolicySpec,
        base: &str,
    ) -> Result<(PolicyKind, Scope), EditError> {
        let kind = PolicyKind::parse(&spec.kind).ok_or_else(|| {
            err(
                EditErrorKind::Invalid,
                format!("{base}.kind"),
                format!(
                    "`{}` is not a policy kind; allowed: require, security_tags, flow_id_copy",
                    spec.kind
                ),
            )
        })?;
        let scope = match (spec.vni, spec.tunnel.as_deref().filter(|t| !t.is_empty())) {
            (Some(_), Some(_)) => {
                return Err(err(
                    EditErrorKind::Invalid,
                    format!("{base}.tunnel"),
                    "give vni or tunnel (or neither, for every VNI), not both",
                ))
            }
            (Some(v), None) => {
                let path = format!("{base}.vni");
                let v = parse(|c| validate::vni(c, &path, v))?;
                if cfg.decap_for(v).is_none() {
                    return Err(err(EditErrorKind::Dangling, &path, format!("VNI {v} is not decapsulated here (no L2 segment, L3 tunnel or decap entry); add its decap entry first")));
                }
                Scope::Vni(v)
            }
            (None, Some(t)) => Scope::Tunnel(self.tunnel(t).ok_or_else(|| {
                err(
                    EditErrorKind::Dangling,
                    format!("{base}.tunnel"),
                    format!("no tunnel named `{t}`; add the tunnel first"),
                )
            })?),
            (None, None) => Scope::All,
        };
        Ok((kind, scope))
    }

    /// After a policy of `kind` on `scope` was added or removed: the decap
    /// entries of the VNIs in scope are made again (required options and
    /// security tags live in them); a flow-id copy also changes the
    /// templates of the tunnels in scope (their flow-id variants), which
    /// makes every table anew.
    fn policy_changed(&self, cfg: &Config, kind: PolicyKind, scope: Scope, out: &mut Applied) {
        if kind == PolicyKind::FlowIdCopy {
            out.global = Some("options.policies.flow_id_copy");
            return;
        }
        let before = out.decap.len();
        match scope {
            Scope::All => out.decap.extend(cfg.decap.iter().map(|d| d.vni)),
            Scope::Vni(v) => out.decap.push(v),
            Scope::Tunnel(i) => {
                let v = cfg.tunnels[i].vni;
                if cfg.decap_for(v).is_some() {
                    out.decap.push(v);
                }
            }
        }
        out.counts.decap.modified += (out.decap.len() - before) as u64;
    }

    fn segment_vni(&self, cfg: &Config, v: Vni) -> bool {
        cfg.l2.iter().flat_map(|l| &l.segments).any(|s| s.vni == v)
    }

    /// After routes changed: every L3 VNI has its decap entry (to
    /// l3.access, as the file's derives it) and a VNI no route uses any
    /// more loses it.
    fn derived_decap(&mut self, cfg: &mut Config, out: &mut Applied, undo: &mut Vec<Undo>) {
        let Some(l3) = &cfg.l3 else { return };
        let (port, vlan) = (l3.access.port, l3.access.vlan);
        let touched = std::mem::take(&mut self.last_vnis);
        for v in touched {
            let used = self.per_vni.get(&v).is_some_and(|n| *n > 0);
            let cur = cfg.decap_for(v).cloned();
            let new = match (&cur, used) {
                (None, true) => Some(Decap {
                    vni: v,
                    port,
                    vlan,
                    payload: Payload::Ip,
                    allow_from: None,
                }),
                (Some(d), false) if d.payload == Payload::Ip => None,
                _ => continue,
            };
            let old = set_decap(cfg, v, new);
            out.counts.decap.count(old.as_ref(), cfg.decap_for(v));
            out.decap.push(v);
            undo.push(Undo::SetDecap(v, old));
        }
    }

    /// A segment that stitches (it receives VXLAN, or has a VXLAN member)
    /// keeps its members' groups and the flood lists per group with the
    /// tables (`dataplane::stitch::SegmentMesh`), made from its flood
    /// list and static MACs: a change to either makes every table anew.
    fn mesh_follows(&self, cfg: &Config, seg: usize, out: &mut Applied) {
        let Some(s) = cfg.l2.as_ref().and_then(|l| l.segments.get(seg)) else {
            return;
        };
        let meshed = cfg.vtep.vxlan_port.is_some()
            || (self.not_plain > 0
                && cfg
                    .tunnels
                    .iter()
                    .any(|t| t.encapsulation == Encapsulation::Vxlan && t.vni == s.vxlan_vni));
        if meshed {
            out.global = Some(STITCHING);
        }
    }

    /// `cfg` becomes `new` after the file's whole validation of it (saved
    /// as YAML by `emit` and loaded back, as a file with that change
    /// would be); errors under `from` are reported under `to`. The
    /// indexes are made anew.
    fn replace_whole(
        &mut self,
        cfg: &mut Config,
        new: Config,
        from: &str,
        to: &str,
        undo: &mut Vec<Undo>,
    ) -> Result<(), EditError> {
        let text = super::emit::emit(&new);
        let loaded = super::load_str(&text, "api").map_err(|e| {
            let mut errors = e.errors().iter().map(|e| {
                let path = match e.path.strip_prefix(from) {
                    Some(rest) => format!("{to}{rest}"),
                    None => e.path.clone(),
                };
                (path, e.message.clone())
            });
            let (path, first) = errors.next().unwrap_or_default();
            let rest: Vec<String> = errors.map(|(p, m)| format!("{p}: {m}")).collect();
            let message = std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join("; ");
            err(EditErrorKind::Invalid, path, message)
        })?;
        let old = std::mem::replace(cfg, loaded);
        undo.push(Undo::Whole(Box::new(old)));
        *self = Editor::new(cfg);
        Ok(())
    }

    /// Tunnel `i` becomes `t` (same name, remote, VNI); the old one.
    fn replace_tunnel(&mut self, cfg: &mut Config, i: usize, t: Tunnel) -> Tunnel {
        if !plain(&t) {
            self.not_plain += 1;
        }
        let old = std::mem::replace(&mut cfg.tunnels[i], t);
        if !plain(&old) {
            self.not_plain -= 1;
        }
        old
    }

    /// Puts `t` at `i`: at the end, or (undoing a removal) where it was,
    /// the tunnel there going back to the end.
    fn insert_tunnel(&mut self, cfg: &mut Config, i: usize, t: Tunnel) {
        let end = cfg.tunnels.len();
        if !plain(&t) {
            self.not_plain += 1;
        }
        self.names.entry(t.name.as_str().into()).or_insert(ix(i));
        cfg.index.placed(&t, i);
        if i == end {
            cfg.tunnels.push(t);
            return;
        }
        let back = std::mem::replace(&mut cfg.tunnels[i], t);
        cfg.index.placed(&back, end);
        cfg.tunnels.push(back);
        self.moved_tunnel(cfg, i, end);
    }

    /// Removes tunnel `i`, which nothing uses; the last tunnel takes its
    /// place (its references follow: only its own routes are re-pointed),
    /// so no other tunnel's index changes.
    fn remove_tunnel(&mut self, cfg: &mut Config, i: usize) -> Tunnel {
        let last = cfg.tunnels.len() - 1;
        let t = cfg.tunnels.swap_remove(i);
        cfg.index.unplaced(&t, i);
        if self.names.get(t.name.as_str()) == Some(&ix(i)) {
            self.names.remove(t.name.as_str());
        }
        if !plain(&t) {
            self.not_plain -= 1;
        }
        if i != last {
            cfg.index.placed(&cfg.tunnels[i], i);
            self.moved_tunnel(cfg, last, i);
        }
        t
    }

    /// The tunnel now at `to` was at `from`: its name, its routes (in the
    /// index and in `l3.routes`) and the option policies scoped to it
    /// follow.
    fn moved_tunnel(&mut self, cfg: &mut Config, from: usize, to: usize) {
        if let Some(n) = self.names.get_mut(cfg.tunnels[to].name.as_str()) {
            if *n == ix(from) {
                *n = ix(to);
            }
        }
        let routes = self.rekey_routes(from, to);
        if let Some(l3) = &mut cfg.l3 {
            for p in &routes {
                let at = self.routes.get_mut(p).expect("per tunnel and routes agree");
                at.tunnel = ix(to);
                l3.routes[at.pos as usize].tunnel = to;
            }
        }
        let o = &mut cfg.options;
        for s in o
            .require
            .iter_mut()
            .map(|r| &mut r.scope)
            .chain(o.security_tags.iter_mut().map(|s| &mut s.scope))
            .chain(o.flow_id_copy.iter_mut().map(|f| &mut f.scope))
        {
            if *s == Scope::Tunnel(from) {
                *s = Scope::Tunnel(to);
            }
        }
    }

    /// Adds `r` at the end of `l3.routes` (the list keeps no order: a
    /// prefix appears once, so the order changes no lookup).
    fn insert_route(&mut self, cfg: &mut Config, r: Route) {
        let Some(l3) = &mut cfg.l3 else { return };
        let pos = l3.routes.len();
        l3.routes.push(r.clone());
        self.routes.insert(
            r.prefix,
            RouteAt {
                tunnel: ix(r.tunnel),
                pos: ix(pos),
            },
        );
        self.per_tunnel.insert((ix(r.tunnel), r.prefix));
        if let Some(b) = long_block(&r.prefix) {
            *self.long_blocks.entry(b).or_default() += 1;
        }
        let v = cfg.tunnels[r.tunnel].vni;
        *self.per_vni.entry(v).or_default() += 1;
        self.last_vnis.push(v);
    }

    /// Removes the route `p`; the last route takes its place.
    fn remove_route(&mut self, cfg: &mut Config, p: IpPrefix) -> Route {
        let l3 = cfg.l3.as_mut().expect("a route exists, so does l3");
        let at = self
            .routes
            .remove(&p)
            .expect("the route index and the list agree");
        let r = l3.routes.swap_remove(at.pos as usize);
        if let Some(moved) = l3.routes.get(at.pos as usize) {
            self.routes
                .get_mut(&moved.prefix)
                .expect("the route index and the list agree")
                .pos = at.pos;
        }
        self.per_tunnel.remove(&(ix(r.tunnel), p));
        if let Some(b) = long_block(&p) {
            if let Some(n) = self.long_blocks.get_mut(&b) {
                *n -= 1;
                if *n == 0 {
                    self.long_blocks.remove(&b);
                }
            }
        }
        let v = cfg.tunnels[r.tunnel].vni;
        if let Some(n) = self.per_vni.get_mut(&v) {
            *n -= 1;
            if *n == 0 {
                self.per_vni.remove(&v);
            }
        }
        self.last_vnis.push(v);
        r
    }

    /// Adds a static MAC at the end of segment `seg`'s list; its position.
    fn push_mac(&mut self, cfg: &mut Config, seg: usize, m: StaticMac) -> usize {
        let list = &mut segments(cfg)[seg].static_macs;
        self.macs.insert((seg, m.mac), list.len());
        list.push(m);
        list.len() - 1
    }

    /// Removes the static MAC at `pos` of segment `seg`; the last one of
    /// the segment takes its place.
    fn remove_mac(&mut self, cfg: &mut Config, seg: usize, pos: usize) -> StaticMac {
        let list = &mut segments(cfg)[seg].static_macs;
        let m = list.swap_remove(pos);
        self.macs.remove(&(seg, m.mac));
        if let Some(moved) = list.get(pos) {
            self.macs.insert((seg, moved.mac), pos);
        }
        m
    }

    /// Puts `m` back at `pos` of segment `seg` (undoing [`Self::remove_mac`]).
    fn insert_mac(&mut self, cfg: &mut Config, seg: usize, pos: usize, m: StaticMac) {
        let list = &mut segments(cfg)[seg].static_macs;
        self.macs.insert((seg, m.mac), pos);
        if pos == list.len() {
            list.push(m);
            return;
        }
        let back = std::mem::replace(&mut list[pos], m);
        self.macs.insert((seg, back.mac), list.len());
        list.push(back);
    }

    fn undo(&mut self, cfg: &mut Config, u: Undo) {
        match u {
            Undo::RemoveTunnel(i) => {
                self.remove_tunnel(cfg, i);
            }
            Undo::InsertTunnel(i, t) => self.insert_tunnel(cfg, i, t),
            Undo::ReplaceTunnel(i, t) => {
                self.replace_tunnel(cfg, i, t);
            }
            Undo::RemoveRoute(p) => {
                self.remove_route(cfg, p);
            }
            Undo::InsertRoute(r) => self.insert_route(cfg, r),
            Undo::SetDecap(v, d) => {
                set_decap(cfg, v, d);
            }
            Undo::RemoveMac(s, pos) => {
                self.remove_mac(cfg, s, pos);
            }
            Undo::InsertMac(s, pos, m) => self.insert_mac(cfg, s, pos, m),
            Undo::ReplaceMac(s, pos, m) => segments(cfg)[s].static_macs[pos] = m,
            Undo::Flood(s, f) => segments(cfg)[s].flood = f,
            Undo::Options(o) => cfg.options = o,
            Undo::Whole(c) => {
                *cfg = *c;
                *self = Editor::new(cfg);
            }
        }
        self.last_vnis.clear();
    }
}

/// Sets (or removes) the decap entry of `v`, keeping the list sorted;
/// returns the old one.
fn set_decap(cfg: &mut Config, v: Vni, d: Option<Decap>) -> Option<Decap> {
    match (cfg.decap.binary_search_by_key(&v, |d| d.vni), d) {
        (Ok(i), Some(d)) => Some(std::mem::replace(&mut cfg.decap[i], d)),
        (Ok(i), None) => Some(cfg.decap.remove(i)),
        (Err(i), Some(d)) => {
            cfg.decap.insert(i, d);
            None
        }
        (Err(_), None) => None,
    }
}

/// Why a change of VXLAN tunnels or mesh groups makes every table anew.
/// `IpPrefix`'s order as integers (IPv4 before IPv6, the address as a
/// number, then the length), cheaper to compare in a sort of a million.
fn prefix_order(p: &IpPrefix) -> (bool, u128, u8) {
    match p.addr {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)), p.len),
        IpAddr::V6(a) => (true, u128::from(a), p.len),
    }
}

/// The least prefix in `IpPrefix` order (IPv4 before IPv6, by address,
/// then length): where a tunnel's range in the route index starts.
const FIRST_PREFIX: IpPrefix = IpPrefix {
    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    len: 0,
};

const STITCHING: &str = "tunnel encapsulation or mesh group (stitching)";

/// The file's stitching checks (`stitch::check`: no options on VXLAN, a
/// VTEP that receives VXLAN, no VXLAN tunnel under a route, no remote a
/// member of one segment twice) on the configuration with tunnel `i`
/// changed; its errors under `base`.
fn stitch_check(cfg: &Config, i: usize, base: &str) -> Result<(), EditError> {
    let mut ctx = Ctx::new("api");
    super::stitch::check(
        &mut ctx,
        &Some(cfg.vtep.clone()),
        &cfg.tunnels,
        cfg.l2.as_ref(),
        cfg.l3.as_ref(),
    );
    if ctx.errors.is_empty() {
        Ok(())
    } else {
        Err(from_ctx(ctx, &format!("tunnels[{i}]"), base))
    }
}

/// One policy of any kind.
enum Policy {
    Require(RequireOption),
    SecurityTags(SecurityTagPolicy),
    FlowIdCopy(FlowIdCopy),
}

/// The registry index of option `name`.
fn option_index(cfg: &Config, name: &str, path: &str) -> Result<usize, EditError> {
    cfg.options
        .registry
        .iter()
        .position(|o| o.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = cfg
                .options
                .registry
                .iter()
                .map(|o| o.name.as_str())
                .collect();
            err(
                EditErrorKind::Dangling,
                path,
                format!(
                    "no option named `{name}` in options.registry (known: {}); register it first",
                    known.join(", ")
                ),
            )
        })
}

/// The policy of `spec`, its option and values checked by the file's
/// check (`validate::policies`) on one entry; its scope resolved by the
/// caller.
fn check_policy(
    cfg: &Config,
    spec: &PolicySpec,
    kind: PolicyKind,
    scope: Scope,
    base: &str,
) -> Result<Policy, EditError> {
    use super::raw::{RawAction, RawPolicies, RawScoped, RawSecurityTag};
    // The option first, so that a missing one is a dangling reference.
    let o = option_index(cfg, &spec.option, &format!("{base}.option"))?;
    // Exactly two hex digits a byte of the option is hex (as a quoted
    // string in the file); anything else that reads as a number is one.
    let hex_len = 2 * usize::from(cfg.options.registry[o].length.unwrap_or(0));
    let values = |v: &[String]| {
        v.iter()
            .map(|s| {
                let hex = s.len() == hex_len && s.bytes().all(|b| b.is_ascii_hexdigit());
                match s.parse::<i64>() {
                    Ok(n) if !hex => Scalar::Int(n),
                    _ => Scalar::Str(s.clone()),
                }
            })
            .collect::<Vec<_>>()
    };
    if kind != PolicyKind::SecurityTags
        && !(spec.allow.is_empty() && spec.deny.is_empty() && spec.default.is_none())
    {
        return Err(err(
            EditErrorKind::Invalid,
            format!("{base}.allow"),
            format!(
                "allow, deny and default belong to security_tags, not {}",
                kind.as_str()
            ),
        ));
    }
    let default = match spec.default.as_deref() {
        None | Some("") => None,
        Some("allow") => Some(RawAction::Allow),
        Some("deny") => Some(RawAction::Deny),
        Some(o) => {
            return Err(err(
                EditErrorKind::Invalid,
                format!("{base}.default"),
                format!("`{o}` is not an action; allowed: allow, deny"),
            ))
        }
    };
    let scoped = || RawScoped {
        option: spec.option.clone(),
        vni: None,
        tunnel: None,
    };
    let mut raw = RawPolicies::default();
    match kind {
        PolicyKind::Require => raw.require.push(scoped()),
        PolicyKind::FlowIdCopy => raw.flow_id_copy.push(scoped()),
        PolicyKind::SecurityTags => raw.security_tags.push(RawSecurityTag {
            option: spec.option.clone(),
            vni: None,
            tunnel: None,
            allow: values(&spec.allow),
            deny: values(&spec.deny),
            default,
        }),
    }
    let mut ctx = Ctx::new("api");
    let mut o = validate::policies(&mut ctx, raw, cfg.options.registry.clone(), &[], &[]);
    if !ctx.errors.is_empty() {
        return Err(from_ctx(
            ctx,
            &format!("options.policies.{}[0]", kind.as_str()),
            base,
        ));
    }
    let bad = || err(EditErrorKind::Invalid, base, "not a policy");
    Ok(match kind {
        PolicyKind::Require => Policy::Require(RequireOption {
            scope,
            ..o.require.pop().ok_or_else(bad)?
        }),
        PolicyKind::SecurityTags => Policy::SecurityTags(SecurityTagPolicy {
            scope,
            ..o.security_tags.pop().ok_or_else(bad)?
        }),
        PolicyKind::FlowIdCopy => Policy::FlowIdCopy(FlowIdCopy {
            scope,
            ..o.flow_id_copy.pop().ok_or_else(bad)?
        }),
    })
}

/// Where the policy of `kind` with `p`'s option and scope is.
fn policy_position(o: &Options, kind: PolicyKind, p: &Policy) -> Option<usize> {
    let (option, scope) = match p {
        Policy::Require(r) => (r.option, r.scope),
        Policy::SecurityTags(t) => (t.option, t.scope),
        Policy::FlowIdCopy(f) => (f.option, f.scope),
    };
    match kind {
        PolicyKind::Require => o
            .require
            .iter()
            .position(|r| (r.option, r.scope) == (option, scope)),
        PolicyKind::SecurityTags => o
            .security_tags
            .iter()
            .position(|r| (r.option, r.scope) == (option, scope)),
        PolicyKind::FlowIdCopy => o
            .flow_id_copy
            .iter()
            .position(|r| (r.option, r.scope) == (option, scope)),
    }
}

/// Refuses to remove the decap entry of a VNI an option policy names.
fn scoped_to_vni(cfg: &Config, v: Vni, path: &str) -> Result<(), EditError> {
    let o = &cfg.options;
    let used = o
        .require
        .iter()
        .map(|r| r.scope)
        .chain(o.security_tags.iter().map(|s| s.scope))
        .chain(o.flow_id_copy.iter().map(|f| f.scope))
        .any(|s| s == Scope::Vni(v));
    if used {
        return Err(err(
            EditErrorKind::Dangling,
            path,
            format!("VNI {v} is the scope of an option policy; delete the policy first"),
        ));
    }
    Ok(())
}

fn segments(cfg: &mut Config) -> &mut Vec<Segment> {
    &mut cfg
        .l2
        .as_mut()
        .expect("segment_ref found a segment")
        .segments
}

/// A segment by name, or by its index in `l2.segments`.
pub fn segment_index(cfg: &Config, r: &str) -> Option<usize> {
    let segs = &cfg.l2.as_ref()?.segments;
    segs.iter()
        .position(|s| s.name.as_deref() == Some(r))
        .or_else(|| r.parse::<usize>().ok().filter(|i| *i < segs.len()))
}

fn segment_ref(cfg: &Config, r: &str, path: &str) -> Result<usize, EditError> {
    segment_index(cfg, r).ok_or_else(|| {
        let known: Vec<String> = cfg
            .l2
            .iter()
            .flat_map(|l| l.segments.iter().enumerate())
            .map(|(i, s)| s.name.clone().unwrap_or_else(|| i.to_string()))
            .collect();
        err(
            EditErrorKind::NotFound,
            path,
            if known.is_empty() {
                "the running configuration has no L2 segments".to_string()
            } else {
                format!("no segment `{r}`; segments: {}", known.join(", "))
            },
        )
    })
}

/// Runs one of validation's checks; its errors become one `Invalid`.
fn parse<T>(f: impl FnOnce(&mut Ctx) -> Option<T>) -> Result<T, EditError> {
    let mut ctx = Ctx::new("api");
    match f(&mut ctx) {
        Some(v) if ctx.errors.is_empty() => Ok(v),
        _ => Err(from_ctx(ctx, "", "")),
    }
}

/// Validation's errors as one: paths under `from` are put under `to`.
fn from_ctx(ctx: Ctx, from: &str, to: &str) -> EditError {
    let mut path = String::new();
    let mut msgs = Vec::new();
    for e in &ctx.errors {
        let p = match e.path.strip_prefix(from) {
            Some(rest) if !from.is_empty() => format!("{to}{rest}"),
            _ => e.path.clone(),
        };
        if path.is_empty() {
            path = p.clone();
            msgs.push(e.message.clone());
        } else {
            msgs.push(format!("{p}: {}", e.message));
        }
    }
    err(EditErrorKind::Invalid, path, msgs.join("; "))
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
