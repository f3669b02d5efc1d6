//! The tables the workers read, built whole from the configuration plus what
//! the control thread learned (neighbours, MAC addresses). Workers never
//! change them: the control thread builds a new `Tables` and swaps it in
//! (read-copy-update), so a reload or a learned MAC needs no lock.
use std::collections::HashMap;
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::config::{
    self, Config, HeaderPolicy, InnerNextHop, Payload, UdpChecksum, UnderlayRoute,
};
use crate::tunnel::{
    DecapConfig, Decapsulator, DscpEncap, EncapTemplate, KnownOption, OptionRegistry, PayloadKind,
    TemplateLine, TtlEncap, TunnelConfig, TunnelOption, UdpChecksumTx,
};
use crate::wire::geneve::Vni;
use crate::wire::Encapsulation;

pub use super::flat::{Align32, FlatMap, HugeVec};
pub use super::lpm::Lpm;

// The configuration's bounds are the data plane's sizes.
const _: () = assert!(config::REGISTRY_MAX == crate::tunnel::options::MAX_KNOWN_OPTIONS);
const _: () = assert!(config::PORTS_MAX == super::stats::MAX_PORTS);

/// Index of an encap template in [`Tables::templates`].
pub type TemplateId = u32;

/// Where a decapsulated packet of a VNI goes.
#[derive(Debug, Clone)]
pub struct VniOut {
    pub port: u16,
    pub vlan: Option<u16>,
    pub payload: Payload,
    /// Source VTEPs allowed (`None`: any).
    pub allow_from: Option<Vec<IpAddr>>,
    /// L2 segment the VNI belongs to (for MAC learning).
    pub segment: Option<usize>,
    /// L3: source MAC of the rebuilt inner Ethernet header.
    pub eth_src: [u8; 6],
    /// L3: destination MAC of the rebuilt header (`None`: resolve per packet).
    pub eth_dst: Option<[u8; 6]>,
    /// Registry bits that must all be present (require-option policies).
    pub require_mask: u32,
    /// Security-tag policies that apply to this VNI.
    pub security_tags: Vec<SecurityTag>,
    /// Flow-id copy: (class, type) of the option remembered per flow.
    pub flow_id: Option<(u16, u8)>,
    /// Longest untagged frame `port` takes (its MTU plus the Ethernet
    /// header; `usize::MAX` when unknown): the express tier's MTU check.
    pub max_untagged_frame: usize,
    /// Its segment stitches tunnels of different mesh groups: a frame may
    /// leave through another tunnel (`dataplane::stitch`), never plain.
    pub stitched: bool,
    /// The VNI's counter slot (`stats::EntryCounters`; `NO_SLOT`: none).
    pub counter: u32,
    /// The tunnels on this VNI: their remote VTEPs (as
    /// `Delivery::src_raw` gives them) and counter slots, so a delivered
    /// packet also counts under the tunnel it came from.
    sources: Box<[Source]>,
    /// The first IPv4 source of `sources` (`Delivery::src_word`) and its
    /// slot (`NO_SLOT`: none), compared first: one compare for the usual
    /// VNI of one tunnel.
    src4: (u32, u32),
    /// The same for the first IPv6 source (`Delivery::src_raw` bytes).
    src6: ([u8; 16], u32),
    /// `sources` holds a tunnel with a slot besides the two first ones:
    /// only then is a source that is neither looked for in the list
    /// (set with them by [`set_sources`](Self::set_sources); asked per
    /// packet at many VNIs, where counting it took ten instructions).
    more_sources: bool,
}

/// A remote VTEP that may send a VNI, and its tunnel's counter slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub addr: [u8; 16],
    pub ipv6: bool,
    pub slot: u32,
}

impl Source {
    pub fn new(remote: IpAddr, slot: u32) -> Source {
        let (addr, ipv6) = crate::tunnel::Delivery::raw_addr(remote);
        Source { addr, ipv6, slot }
    }
}

/// A VNI and the index of its entry, found by the look-ahead before the
/// express tier reaches the frame ([`VniLookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VniHint {
    pub vni: u32,
    pub entry: u32,
}

/// How the decap express tier finds a VNI's entry: `()` looks it up
/// (`VniTable::get_fast_at`); an `Option<VniHint>` takes the entry the
/// look-ahead found when it names the frame's VNI (the same tables, so
/// the same entry) and looks up otherwise. A type, not a flag, so that
/// the gateway without the look-ahead compiles exactly as without hints.
pub trait VniLookup: Copy {
    fn get_fast_at(self, t: &VniTable, vni: u32) -> Option<(u32, &VniOut, FastDelivery)>;
}

impl VniLookup for () {
    #[inline(always)]
    fn get_fast_at(self, t: &VniTable, vni: u32) -> Option<(u32, &VniOut, FastDelivery)> {
        t.get_fast_at(vni)
    }
}

impl VniLookup for Option<VniHint> {
    #[inline(always)]
    fn get_fast_at(self, t: &VniTable, vni: u32) -> Option<(u32, &VniOut, FastDelivery)> {
        match self {
            Some(h) if h.vni == vni => {
                let (out, fast) = t.outs.get(h.entry as usize)?;
                Some((h.entry, out, *fast))
            }
            _ => t.get_fast_at(vni),
        }
    }
}

/// Decap entries by VNI. A gateway usually terminates a handful of VNIs:
/// up to [`VniTable::SCAN`] their numbers are scanned in one small array
/// (a few instructions); beyond that a [`FlatMap`] finds the entry's index
/// (its slot known from the VNI, so the look-ahead prefetches it).
#[derive(Debug, Clone, Default)]
pub struct VniTable {
    keys: Vec<u32>,
    /// Entries, each with what the fast tiers may do with its packets
    /// under this table's learning setting.
    outs: HugeVec<(VniOut, FastDelivery)>,
    index: FlatMap<u32, u32>,
    /// MAC learning is on (an L2 VNI then needs the source VTEP).
    learning: bool,
}

impl VniOut {
    /// The counter slot of the tunnel whose remote sent `d`
    /// (`NO_SLOT`: none).
    #[inline(always)]
    pub fn source_slot(&self, d: &crate::tunnel::Delivery) -> u32 {
        let (addr, ipv6) = d.src_raw();
        self.source_slot_of(addr, ipv6)
    }

    /// [`source_slot`](Self::source_slot) of an address as
    /// `Delivery::src_raw` gives it: by value, so that the express tiers
    /// keep the delivery in registers (a reference to it would make them
    /// copy it to memory).
    #[inline(always)]
    pub fn source_slot_of(&self, addr: [u8; 16], ipv6: bool) -> u32 {
        let word = u32::from_ne_bytes([addr[0], addr[1], addr[2], addr[3]]);
        if !ipv6 && word == self.src4.0 && self.src4.1 != super::stats::NO_SLOT {
            return self.src4.1;
        }
        if ipv6 && addr == self.src6.0 && self.src6.1 != super::stats::NO_SLOT {
            return self.src6.1;
        }
        self.source_slot_past_firsts(addr, ipv6)
    }

    /// The slot of a source that is not a first one: none when the VNI
    /// has no other tunnel with a slot, else the scan.
    #[inline(always)]
    fn source_slot_past_firsts(&self, addr: [u8; 16], ipv6: bool) -> u32 {
        if !self.more_sources {
            return super::stats::NO_SLOT;
        }
        self.source_slot_any(addr, ipv6)
    }

    /// [`source_slot_of`](Self::source_slot_of) of an outer IPv4 source
    /// as the frame holds it (native-endian word of its 4 bytes): the
    /// express tiers' run keys keep it so.
    #[inline(always)]
    pub fn source_slot_v4(&self, word: u32) -> u32 {
        if word == self.src4.0 {
            return self.src4.1;
        }
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&word.to_ne_bytes());
        self.source_slot_past_firsts(addr, false)
    }

    /// [`source_slot_of`](Self::source_slot_of) of an IPv6 source that
    /// is not the first IPv6 tunnel's remote (the express key's rare
    /// case, out of line and cold: the express loop keeps its registers).
    #[cold]
    #[inline(never)]
    pub fn source_slot_v6_other(&self, addr: [u8; 16]) -> u32 {
        self.source_slot_of(addr, true)
    }

    /// [`source_slot_of`](Self::source_slot_of) over every source.
    #[inline(never)]
    fn source_slot_any(&self, addr: [u8; 16], ipv6: bool) -> u32 {
        self.sources
            .iter()
            .find(|s| s.addr == addr && s.ipv6 == ipv6)
            .map_or(super::stats::NO_SLOT, |s| s.slot)
    }

    /// The first IPv6 source's address and tunnel slot (`NO_SLOT`: none).
    #[inline(always)]
    pub fn first_v6_source(&self) -> &([u8; 16], u32) {
        &self.src6
    }

    /// Sets the tunnels this VNI may come from, and what is derived from
    /// them (the first IPv4 and IPv6 ones, whether there are more): the
    /// only writer of these fields, which are private so that none goes
    /// stale.
    pub fn set_sources(&mut self, sources: Box<[Source]>) {
        self.src4 = sources
            .iter()
            .find(|s| !s.ipv6)
            .map_or((0, super::stats::NO_SLOT), |s| {
                (
                    u32::from_ne_bytes([s.addr[0], s.addr[1], s.addr[2], s.addr[3]]),
                    s.slot,
                )
            });
        self.src6 = sources
            .iter()
            .find(|s| s.ipv6)
            .map_or(([0; 16], super::stats::NO_SLOT), |s| (s.addr, s.slot));
        let firsts = usize::from(self.src4.1 != super::stats::NO_SLOT)
            + usize::from(self.src6.1 != super::stats::NO_SLOT);
        self.more_sources = sources.len() > firsts;
        self.sources = sources;
    }

    /// A delivered packet of this VNI needs nothing but its inner packet:
    /// no source-VTEP check or learning (`learning`: MAC learning is on),
    /// no option policy; an IP payload gets an Ethernet header to a
    /// configured MAC (no neighbour lookup).
    pub fn is_plain(&self, learning: bool) -> bool {
        let payload = match self.payload {
            Payload::Ethernet => !(learning && self.segment.is_some()),
            Payload::Ip => self.eth_dst.is_some(),
        };
        payload
            && self.allow_from.is_none()
            && self.require_mask == 0
            && self.security_tags.is_empty()
            && self.flow_id.is_none()
            && !self.stitched
    }
}

/// What the fast tiers may do with a VNI's packets, worked out when its
/// entry is stored ([`VniTable::insert`]) so that a tier tests one byte:
/// whether the VNI [is plain](VniOut::is_plain), for which payload (a
/// plain L3 VNI is not plain for an Ethernet frame: that payload is
/// dropped as not carried, by the general tier), and whether its port
/// takes the frame untagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastDelivery(u8);

impl FastDelivery {
    const PLAIN_ETHERNET: u8 = 1;
    const PLAIN_IP: u8 = 2;
    const UNTAGGED: u8 = 4;

    fn of(out: &VniOut, learning: bool) -> FastDelivery {
        let plain = match (out.is_plain(learning), out.payload) {
            (false, _) => 0,
            (true, Payload::Ethernet) => Self::PLAIN_ETHERNET,
            (true, Payload::Ip) => Self::PLAIN_IP,
        };
        let untagged = if out.vlan.is_none() {
            Self::UNTAGGED
        } else {
            0
        };
        FastDelivery(plain | untagged)
    }

    /// [`VniOut::is_plain`].
    #[inline(always)]
    pub fn plain(self) -> bool {
        self.0 & (Self::PLAIN_ETHERNET | Self::PLAIN_IP) != 0
    }

    /// Plain, and it carries Ethernet frames (tagged or not).
    #[inline(always)]
    pub fn plain_ethernet(self) -> bool {
        self.0 & Self::PLAIN_ETHERNET != 0
    }

    /// Plain, it carries Ethernet frames and sends them untagged: what
    /// the decap express tier delivers in place.
    #[inline(always)]
    pub fn express_ethernet(self) -> bool {
        self.0 == Self::PLAIN_ETHERNET | Self::UNTAGGED
    }

    /// Plain, it carries IP packets (so it has a configured next-hop MAC)
    /// and sends them untagged: the L3 express delivery.
    #[inline(always)]
    pub fn express_ip(self) -> bool {
        self.0 == Self::PLAIN_IP | Self::UNTAGGED
    }
}

impl VniTable {
    /// Most entries found by scanning.
    pub const SCAN: usize = 8;

    /// Most entries a table holds: one per VNI (24 bits) and encapsulation
    /// (`stitch::vni_key`). The decap express key (`pipeline::ExpressKey`)
    /// keeps an entry index in its low 25 bits, unmasked.
    pub const MAX_ENTRIES: usize = 1 << 25;

    /// An empty table for a gateway with MAC learning on or off.
    pub fn new(learning: bool) -> Self {
        VniTable {
            learning,
            ..Self::default()
        }
    }

    /// Adds or replaces the entry of `vni`.
    pub fn insert(&mut self, vni: u32, out: VniOut) {
        let fast = FastDelivery::of(&out, self.learning);
        match self.index.get(&vni) {
            Some(&i) => self.outs[i as usize] = (out, fast),
            None => {
                debug_assert!(self.keys.len() < Self::MAX_ENTRIES);
                self.index.insert(vni, self.keys.len() as u32);
                self.keys.push(vni);
                self.outs.reserve_huge(1);
                self.outs.push((out, fast));
            }
        }
    }

    /// Removes the entry of `vni` (the last entry takes its place).
    pub fn remove(&mut self, vni: u32) -> Option<VniOut> {
        let i = self.index.remove(&vni)? as usize;
        self.keys.swap_remove(i);
        let (out, _) = self.outs.swap_remove(i);
        if let Some(&moved) = self.keys.get(i) {
            self.index.insert(moved, i as u32);
        }
        Some(out)
    }

    #[inline]
    pub fn get(&self, vni: u32) -> Option<&VniOut> {
        self.outs.get(self.position(vni)?).map(|(o, _)| o)
    }

    /// The entry of `vni` and whether it [is plain](VniOut::is_plain).
    #[inline(always)]
    pub fn get_plain(&self, vni: u32) -> Option<(&VniOut, bool)> {
        let (out, fast) = self.get_fast(vni)?;
        Some((out, fast.plain()))
    }

    /// The entry of `vni` and what the fast tiers may do with its packets.
    #[inline(always)]
    pub fn get_fast(&self, vni: u32) -> Option<(&VniOut, FastDelivery)> {
        let (out, fast) = self.outs.get(self.position(vni)?)?;
        Some((out, *fast))
    }

    /// [`get_fast`](Self::get_fast) with the entry's index for
    /// [`entry_at`](Self::entry_at) (below 2^25: one entry per VNI and
    /// encapsulation at most).
    #[inline(always)]
    pub fn get_fast_at(&self, vni: u32) -> Option<(u32, &VniOut, FastDelivery)> {
        let i = self.position(vni)?;
        let (out, fast) = self.outs.get(i)?;
        Some((i as u32, out, *fast))
    }

    /// The entry at index `i` ([`get_fast_at`](Self::get_fast_at)).
    #[inline(always)]
    pub fn entry_at(&self, i: usize) -> Option<&VniOut> {
        self.outs.get(i).map(|(o, _)| o)
    }

    /// Starts loading the entry of `vni` (see `pipeline::ahead`); false
    /// when there is none.
    #[inline(always)]
    pub fn prefetch(&self, vni: u32) -> bool {
        self.prefetch_at(self.index.home(vni), vni).is_some()
    }

    /// The index slot of `vni`, for [`prefetch_slot`](Self::prefetch_slot)
    /// and [`prefetch_at`](Self::prefetch_at) (a table past
    /// [`SCAN`](Self::SCAN) entries).
    #[inline(always)]
    pub fn home(&self, vni: u32) -> usize {
        self.index.home(vni)
    }

    /// Starts loading the index slot `home` (first step of a burst's
    /// look-ahead).
    #[inline(always)]
    pub fn prefetch_slot(&self, home: usize) {
        self.index.prefetch(home);
    }

    /// [`prefetch`](Self::prefetch) with the index slot known (`home` of
    /// `vni`): the index of the entry whose lines are on their way, if
    /// there is one.
    #[inline(always)]
    pub fn prefetch_at(&self, home: usize, vni: u32) -> Option<u32> {
        let at = if self.keys.len() <= Self::SCAN {
            self.keys.iter().position(|&k| k == vni)
        } else {
            self.index.get_at(home, vni).map(|&i| i as usize)
        }?;
        let e = self.outs.get(at)?;
        super::lpm::prefetch_span(std::slice::from_ref(e));
        // Below 2^25 (`MAX_ENTRIES`).
        Some(at as u32)
    }

    #[inline(always)]
    fn position(&self, vni: u32) -> Option<usize> {
        if self.keys.len() <= Self::SCAN {
            self.keys.iter().position(|&k| k == vni)
        } else {
            self.index.get(&vni).map(|&i| i as usize)
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The same tunnel with a flow-id option appended, for replies of flows
/// whose requests carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowIdVariant {
    pub template: TemplateId,
    /// Length of the option data (at the very end of the outer header).
    pub len: u8,
}

/// Allow or deny by the value of an option (microsegmentation).
#[derive(Debug, Clone)]
pub struct SecurityTag {
    pub class: u16,
    pub typ: u8,
    pub allow: Vec<Vec<u8>>,
    pub deny: Vec<Vec<u8>>,
    pub default_allow: bool,
}

impl SecurityTag {
    /// The verdict for a packet whose tag option holds `value` (`None`: absent).
    pub fn allows(&self, value: Option<&[u8]>) -> bool {
        match value {
            Some(v) if self.deny.iter().any(|d| d == v) => false,
            Some(v) if self.allow.iter().any(|a| a == v) => true,
            _ => self.default_allow,
        }
    }
}

/// An L2 segment: an access port + VLAN bridged into a VNI.
#[derive(Debug, Clone)]
pub struct SegmentEntry {
    pub vni: u32,
    pub access_port: u16,
    pub vlan: Option<u16>,
    /// Templates to replicate broadcast and unknown unicast to (`None`:
    /// that remote's next hop is not resolved yet).
    pub flood: Vec<Option<TemplateId>>,
    /// Known MACs: static and learned, to a template.
    pub macs: MacTable,
    /// Members by encapsulation and mesh group, when the gateway receives
    /// VXLAN or the segment has VXLAN members (`None`: Geneve only).
    pub mesh: Option<Box<super::stitch::SegmentMesh>>,
}

/// A segment's MAC table: 32-byte slots aligned to 32 bytes, two to a
/// cache line, so that a lookup at a million MACs reads one line (see
/// [`Align32`]).
pub type MacTable = FlatMap<[u8; 6], MacEntry, Align32>;

const _: () = assert!(MacTable::SLOT_BYTES == 32);

/// A known MAC: its remote VTEP and that remote's template.
///
/// Its template is kept as a bare id, `NO_TEMPLATE` for none, where an
/// `Option<TemplateId>` takes 8 bytes: the entry is 24 bytes and a slot
/// of the MAC table 32, two to a cache line (40 before), so that the
/// look-ahead's home-slot prefetch at a million MACs touches one line
/// where it touched one or two (see BENCHMARKS.md, "Flat cost per
/// packet").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    pub remote: IpAddr,
    template: TemplateId,
    pub learned: bool,
}

/// No template (a MAC whose remote's next hop is not resolved yet): no
/// template's id, which is an index into the template array.
const NO_TEMPLATE: TemplateId = TemplateId::MAX;

impl MacEntry {
    /// The entry of a MAC behind `remote`, whose template is `template`
    /// (`None`: the remote's next hop is not resolved yet; so is an id of
    /// `TemplateId::MAX`, which no template array reaches).
    pub fn new(remote: IpAddr, template: Option<TemplateId>, learned: bool) -> MacEntry {
        MacEntry {
            remote,
            template: template.unwrap_or(NO_TEMPLATE),
            learned,
        }
    }

    /// The template of the MAC's remote (`None`: its next hop is not
    /// resolved yet).
    #[inline(always)]
    pub fn template(&self) -> Option<TemplateId> {
        (self.template != NO_TEMPLATE).then_some(self.template)
    }
}

impl Default for MacEntry {
    /// What an empty slot of the MAC table holds (never read as an entry).
    fn default() -> Self {
        MacEntry::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), None, false)
    }
}

/// What a frame arriving on an access port (and VLAN) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessIn {
    L2(usize),
    L3,
}

/// L3 mode: the access side and the routes.
#[derive(Debug, Clone)]
pub struct L3Tables {
    pub access_port: u16,
    pub vlan: Option<u16>,
    pub routes_v4: Lpm,
    pub routes_v6: Lpm,
}

/// Everything a worker needs, immutable while workers read it (see
/// [`super::changes`] for how it changes entry by entry).
#[derive(Clone)]
pub struct Tables {
    /// Bumped on every rebuild; workers compare it once per burst.
    pub generation: u64,
    pub underlay_port: u16,
    pub decap: Decapsulator,
    pub vnis: VniTable,
    /// (port, VLAN or 0, what it is): a handful of entries, scanned (faster
    /// than hashing for the few an access port has).
    pub access: Vec<(u16, u16, AccessIn)>,
    pub segments: Vec<SegmentEntry>,
    pub templates: HugeVec<EncapTemplate>,
    /// Per template: its fast-tier bytes in one cache line (what the
    /// look-ahead reads instead of the template at a million tunnels),
    /// kept with it by [`template_lines`] and [`Tables::apply`].
    pub lines: HugeVec<TemplateLine>,
    /// Per template: its flow-id variant, if a flow-id policy covers it.
    pub flow_variants: Vec<Option<FlowIdVariant>>,
    /// Flow ids seen on decap, shared with the control thread (lock-free).
    pub flows: std::sync::Arc<super::flows::FlowTable>,
    pub l3: Option<L3Tables>,
    /// Resolved neighbours (underlay next hops, L3 inner next hops).
    pub neighbors: FxHashMap<IpAddr, [u8; 6]>,
    /// Addresses the control thread must resolve for these tables to be whole.
    pub unresolved: Vec<IpAddr>,
    /// Our VTEP addresses (ARP/ICMP/ND for them go to the control thread).
    pub local_underlay: Vec<IpAddr>,
    /// L3 mode: the gateway's access-side addresses.
    pub local_access: Vec<IpAddr>,
    /// Port ids of every access port (to tell access from underlay at RX).
    pub access_ports: Vec<u16>,
    /// Each port's MTU (L3 bytes), by DPDK port id; 0 for no port.
    pub port_mtu: Vec<u16>,
    /// Seconds a learned MAC lives without being seen again.
    pub ageing_secs: u32,
    pub learning: bool,
}

/// What the tables are built from besides the configuration.
pub struct BuildInputs<'a> {
    /// Config port index -> DPDK port id.
    pub port_ids: &'a [u16],
    /// Config port index -> MAC (configured override, else the device's).
    pub port_macs: &'a [[u8; 6]],
    /// Resolved neighbours.
    pub neighbors: &'a HashMap<IpAddr, [u8; 6]>,
    /// Learned MACs: (segment index, MAC) -> remote VTEP.
    pub learned: &'a HashMap<(usize, [u8; 6]), IpAddr>,
    pub generation: u64,
    pub flows: std::sync::Arc<super::flows::FlowTable>,
}

fn vlan_key(v: Option<u16>) -> u16 {
    v.unwrap_or(0)
}

struct TemplateBuilder<'a> {
    cfg: &'a Config,
    inputs: &'a BuildInputs<'a>,
    templates: Vec<EncapTemplate>,
    variants: Vec<Option<FlowIdVariant>>,
    by_key: HashMap<TemplateKey, Option<TemplateId>>,
    unresolved: Vec<IpAddr>,
}

impl TemplateBuilder<'_> {
    /// The template towards `remote` in `vni` carrying `payload`; `Ok(None)`
    /// while the underlay next hop is unresolved.
    fn get(
        &mut self,
        remote: IpAddr,
        vni: Vni,
        payload: PayloadKind,
    ) -> Result<Option<TemplateId>, String> {
        self.get_in(remote, vni, payload, Encapsulation::Geneve)
    }

    /// [`get`](Self::get) for the L2 member `remote` of segment `s`, in
    /// the encapsulation and VNI it is a member with.
    pub(super) fn member(
        &mut self,
        s: &config::Segment,
        remote: IpAddr,
    ) -> Result<Option<TemplateId>, String> {
        let (e, vni) = self.cfg.member(s, remote);
        self.get_in(remote, vni, PayloadKind::Ethernet, e)
    }

    /// [`get`](Self::get) in encapsulation `e`.
    fn get_in(
        &mut self,
        remote: IpAddr,
        vni: Vni,
        payload: PayloadKind,
        e: Encapsulation,
    ) -> Result<Option<TemplateId>, String> {
        let key = (remote, super::stitch::vni_key(e, vni), payload);
        if let Some(t) = self.by_key.get(&key) {
            return Ok(*t);
        }
        let (hop, static_mac) = underlay_hop(self.cfg, remote);
        let Some(dst_mac) = static_mac.or_else(|| self.inputs.neighbors.get(&hop).copied()) else {
            if !self.unresolved.contains(&hop) {
                self.unresolved.push(hop);
            }
            self.by_key.insert(key, None);
            return Ok(None);
        };
        let (t, variant) = make_template(self.cfg, self.inputs.port_macs, key, dst_mac)?;
        let id = self.templates.len() as TemplateId;
        self.templates.push(t);
        self.variants.push(None);
        if let Some((v, len)) = variant {
            let vid = self.templates.len() as TemplateId;
            self.templates.push(v);
            self.variants.push(None);
            self.variants[id as usize] = Some(FlowIdVariant { template: vid, len });
        }
        self.by_key.insert(key, Some(id));
        Ok(Some(id))
    }
}

/// Every template's line ([`TemplateLine`]): a template with a flow-id
/// variant has one that stands for nothing.
fn template_lines(
    templates: &[EncapTemplate],
    variants: &[Option<FlowIdVariant>],
) -> Vec<TemplateLine> {
    templates
        .iter()
        .enumerate()
        .map(|(i, t)| TemplateLine::of(t, matches!(variants.get(i), Some(Some(_)))))
        .collect()
}

/// What identifies an encap template: remote VTEP, VNI, payload kind.
pub type TemplateKey = (IpAddr, u32, PayloadKind);

/// The underlay next hop towards `remote` (the remote itself when on-link)
/// and its static MAC, if configured.
pub fn underlay_hop(cfg: &Config, remote: IpAddr) -> (IpAddr, Option<[u8; 6]>) {
    match cfg.vtep.route(remote) {
        UnderlayRoute::Direct => (remote, None),
        UnderlayRoute::Via(i) => {
            let nh = &cfg.vtep.next_hops[i];
            (nh.via, nh.mac)
        }
    }
}

/// The encap template of `key` towards the next hop's `dst_mac`, and its
/// flow-id variant (template, option data length) if a flow-id policy
/// covers the tunnel.
#[allow(clippy::type_complexity)]
pub fn make_template(
    cfg: &Config,
    port_macs: &[[u8; 6]],
    key: TemplateKey,
    dst_mac: [u8; 6],
) -> Result<(EncapTemplate, Option<(EncapTemplate, u8)>), String> {
    let (remote, key_vni, payload) = key;
    // A VXLAN template's key carries the VXLAN bit above the VNI.
    let (e, vni) = super::stitch::from_vni_key(key_vni);
    let vni = Vni::new(vni).ok_or_else(|| format!("VNI {vni} out of range"))?;
    let vtep = &cfg.vtep;
    let local = vtep
        .local_for(remote)
        .ok_or_else(|| format!("no local VTEP address of {remote}'s family"))?;
    let tunnel = cfg
        .tunnel_for_encap(remote, vni, e)
        .cloned()
        .unwrap_or_else(|| super::stitch::default_tunnel(vtep, remote, vni, e));
    let port = vtep.port;
    let mut tc = TunnelConfig::new(port_macs[port], dst_mac, local.addr, remote, vni);
    tc.payload = payload;
    tc.encapsulation = e;
    tc.udp_dst_port = tunnel.udp_dst_port;
    tc.src_port_range = tunnel.source_ports;
    tc.udp_checksum = Some(match tunnel.udp_checksum {
        UdpChecksum::Zero => UdpChecksumTx::Zero,
        UdpChecksum::Compute => UdpChecksumTx::Compute,
    });
    tc.ttl = match tunnel.ttl {
        HeaderPolicy::Fixed(t) => TtlEncap::Pipe(t),
        HeaderPolicy::Inherit => TtlEncap::Uniform {
            non_ip: config::DEFAULT_TTL,
        },
    };
    tc.dscp = match tunnel.dscp {
        HeaderPolicy::Fixed(d) => DscpEncap::Pipe(d),
        HeaderPolicy::Inherit => DscpEncap::Uniform,
    };
    tc.options = tunnel.options.clone();
    tc.underlay_mtu = cfg.ports[port].mtu;
    let err = |e| format!("tunnel to {remote} VNI {}: {e:?}", vni.get());
    let t = EncapTemplate::new(&tc).map_err(err)?;
    // VXLAN carries no options: no flow-id variant.
    let variant = match flow_id_option(cfg, &tunnel).filter(|_| e == Encapsulation::Geneve) {
        Some((class, typ, len)) => {
            tc.options.push(TunnelOption {
                class,
                typ,
                data: vec![0; usize::from(len)],
            });
            Some((EncapTemplate::new(&tc).map_err(err)?, len))
        }
        None => None,
    };
    Ok((t, variant))
}

/// The flow-id option (class, type, data length) a tunnel's replies carry.
fn flow_id_option(cfg: &Config, t: &config::Tunnel) -> Option<(u16, u8, u8)> {
    cfg.options.flow_id_copy.iter().find_map(|f| {
        let applies = match &f.scope {
            config::Scope::All => true,
            config::Scope::Vni(v) => *v == t.vni,
            config::Scope::Tunnel(i) => {
                cfg.tunnels[*i].remote == t.remote && cfg.tunnels[*i].vni == t.vni
            }
        };
        let o = &cfg.options.registry[f.option];
        if applies {
            Some((o.class, o.type_, o.length?))
        } else {
            None
        }
    })
}

fn ip_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// Address as the LPM key of its family.
#[inline]
pub fn lpm_key(a: IpAddr) -> u128 {
    ip_bits(a)
}

impl Tables {
    /// What a frame on `port` with `vlan` (0: untagged) belongs to.
    #[inline]
    pub fn access_for(&self, port: u16, vlan: u16) -> Option<AccessIn> {
        self.access
            .iter()
            .find(|(p, v, _)| *p == port && *v == vlan)
            .map(|e| e.2)
    }

    /// True when `frame` (Ethernet, at most one VLAN tag counted as L2)
    /// carries more L3 bytes than `port`'s MTU.
    #[inline(always)]
    pub fn over_mtu(&self, port: u16, frame: &[u8]) -> bool {
        let mtu = self.port_mtu.get(usize::from(port)).copied().unwrap_or(0);
        let l2 = if frame.get(12..14) == Some(&[0x81, 0x00]) {
            18
        } else {
            14
        };
        mtu != 0 && frame.len() > usize::from(mtu) + l2
    }

    /// The address an ICMP error to the inner sender comes from: the L3
    /// access address of that family, else the VTEP's.
    pub fn icmp_source(&self) -> (std::net::Ipv4Addr, std::net::Ipv6Addr) {
        let mut v4 = std::net::Ipv4Addr::UNSPECIFIED;
        let mut v6 = std::net::Ipv6Addr::UNSPECIFIED;
        for a in self.local_underlay.iter().chain(&self.local_access) {
            match a {
                IpAddr::V4(a) => v4 = *a,
                IpAddr::V6(a) => v6 = *a,
            }
        }
        (v4, v6)
    }

    /// Every table of `cfg` plus `inputs`, built whole: the tables at
    /// start-up of the reference the entry-by-entry changes
    /// ([`super::changes`]) are tested against.
    pub fn build(cfg: &Config, inputs: &BuildInputs<'_>) -> Result<Tables, String> {
        Self::build_parts(cfg, inputs, true)
    }

    /// What is global in `cfg` (decap settings, ports, segments and the L3
    /// access without their entries), with every per-entry table empty:
    /// the start of [`super::changes::Planner::start`].
    pub fn skeleton(cfg: &Config, inputs: &BuildInputs<'_>) -> Result<Tables, String> {
        Self::build_parts(cfg, inputs, false)
    }

    fn build_parts(
        cfg: &Config,
        inputs: &BuildInputs<'_>,
        entries: bool,
    ) -> Result<Tables, String> {
        let pid = |i: usize| inputs.port_ids[i];
        // Decap: local VTEP addresses, port, option registry, limits.
        let mut dc = DecapConfig::new(
            cfg.vtep
                .ipv4
                .map(|a| match a.addr {
                    IpAddr::V4(v) => vec![v],
                    _ => vec![],
                })
                .unwrap_or_default(),
            cfg.vtep
                .ipv6
                .map(|a| match a.addr {
                    IpAddr::V6(v) => vec![v],
                    _ => vec![],
                })
                .unwrap_or_default(),
        );
        dc.udp_port = cfg.vtep.udp_port;
        dc.vxlan_port = cfg.vtep.vxlan_port;
        dc.ipv6_zero_checksum_from = cfg
            .tunnels
            .iter()
            .filter(|t| t.accept_zero_checksum)
            .filter_map(|t| match t.remote {
                IpAddr::V6(a) => Some(a),
                IpAddr::V4(_) => None,
            })
            .collect();
        dc.underlay_vlan = cfg.vtep.vlan;
        dc.max_options = cfg.limits.max_options;
        dc.punt_control = true;
        dc.registry =
            OptionRegistry::from_options(cfg.options.registry.iter().map(|o| KnownOption {
                class: o.class,
                typ: o.type_,
                name: o.name.clone(),
                len_words: o.length.map(|l| l / 4),
            }))
            .map_err(|e| format!("option registry: {e:?}"))?;

        let mut tb = TemplateBuilder {
            cfg,
            inputs,
            templates: Vec::new(),
            variants: Vec::new(),
            by_key: HashMap::new(),
            unresolved: Vec::new(),
        };

        // L2 segments.
        let mut access = Vec::new();
        let mut segments = Vec::new();
        let (learning, ageing) = cfg
            .l2
            .as_ref()
            .map(|l| (l.learning, l.ageing_seconds))
            .unwrap_or((false, 0));
        let mut groups = super::stitch::Groups::default();
        if let Some(l2) = &cfg.l2 {
            for (si, s) in l2.segments.iter().enumerate() {
                access.push((pid(s.port), vlan_key(s.vlan), AccessIn::L2(si)));
                let mut flood = Vec::new();
                for r in s.flood.iter().filter(|_| entries) {
                    flood.push(tb.member(s, *r)?);
                }
                let mut macs = FlatMap::new();
                for ((seg, mac), remote) in inputs.learned {
                    if *seg == si && entries {
                        let template = tb.member(s, *remote)?;
                        macs.insert(*mac, MacEntry::new(*remote, template, true));
                    }
                }
                // Static entries win over learned ones.
                for m in s.static_macs.iter().filter(|_| entries) {
                    let template = tb.member(s, m.remote)?;
                    macs.insert(m.mac, MacEntry::new(m.remote, template, false));
                }
                let mesh = super::stitch::SegmentMesh::build(cfg, s, &flood, &macs, &mut groups);
                segments.push(SegmentEntry {
                    vni: s.vni.get(),
                    access_port: pid(s.port),
                    vlan: s.vlan,
                    flood,
                    macs,
                    mesh,
                });
            }
        }

        // L3 routes.
        let mut l3 = None;
        if let Some(c3) = &cfg.l3 {
            access.push((pid(c3.access.port), vlan_key(c3.access.vlan), AccessIn::L3));
            let mut v4 = Lpm::new_v4();
            let mut v6 = Lpm::new_v6();
            for r in c3.routes.iter().filter(|_| entries) {
                let t = &cfg.tunnels[r.tunnel];
                let kind = match r.prefix.addr {
                    IpAddr::V4(_) => PayloadKind::Ipv4,
                    IpAddr::V6(_) => PayloadKind::Ipv6,
                };
                let id = tb.get(t.remote, t.vni, kind)?;
                match r.prefix.addr {
                    IpAddr::V4(_) => v4.insert(ip_bits(r.prefix.addr), r.prefix.len, id),
                    IpAddr::V6(_) => v6.insert(ip_bits(r.prefix.addr), r.prefix.len, id),
                }
            }
            l3 = Some(L3Tables {
                access_port: pid(c3.access.port),
                vlan: c3.access.vlan,
                routes_v4: v4,
                routes_v6: v6,
            });
        }

        // Decap table.
        let mut vnis = VniTable::new(learning);
        for d in cfg.decap.iter().filter(|_| entries) {
            let (out, unresolved) =
                decap_out(cfg, inputs.port_ids, inputs.port_macs, inputs.neighbors, d);
            if let Some(ip) = unresolved {
                if !tb.unresolved.contains(&ip) {
                    tb.unresolved.push(ip);
                }
            }
            vnis.insert(d.vni.get(), out);
        }
        super::stitch::add_vxlan_vnis(cfg, &mut vnis);

        let mut access_ports: Vec<u16> = cfg
            .ports
            .iter()
            .enumerate()
            .filter(|(_, p)| p.role == config::PortRole::Access)
            .map(|(i, _)| pid(i))
            .collect();
        access_ports.dedup();
        let local_underlay = [cfg.vtep.ipv4, cfg.vtep.ipv6]
            .iter()
            .flatten()
            .map(|a| a.addr)
            .collect();
        let local_access = cfg
            .l3
            .as_ref()
            .map(|c3| {
                [c3.access.ipv4, c3.access.ipv6]
                    .iter()
                    .flatten()
                    .map(|a| a.addr)
                    .collect()
            })
            .unwrap_or_default();
        let mut port_mtu = Vec::new();
        for (i, p) in cfg.ports.iter().enumerate() {
            let id = usize::from(pid(i));
            if port_mtu.len() <= id {
                port_mtu.resize(id + 1, 0);
            }
            port_mtu[id] = p.mtu;
        }
        let neighbors = inputs.neighbors.iter().map(|(k, v)| (*k, *v)).collect();
        Ok(Tables {
            generation: inputs.generation,
            underlay_port: pid(cfg.vtep.port),
            // The fast tiers' header patterns only for payloads some VNI
            // carries: an L3-only gateway tries no Ethernet pattern first.
            decap: DecapFast::of(cfg).on(Decapsulator::new(dc)),
            vnis,
            access,
            segments,
            lines: template_lines(&tb.templates, &tb.variants).into(),
            templates: tb.templates.into(),
            flow_variants: tb.variants,
            flows: inputs.flows.clone(),
            l3,
            neighbors,
            unresolved: tb.unresolved,
            local_underlay,
            local_access,
            access_ports,
            port_mtu,
            ageing_secs: ageing,
            learning,
        })
    }
}

/// What the decapsulator's fast tiers take from the per-entry tables:
/// the header patterns of the payloads some VNI carries, and the options
/// layout the gateway's own tunnels send (the first tunnel with options).
/// Entry changes (a decap VNI, a tunnel's options) can change it, so the
/// planner compares it after each and sends it again when it differs
/// (`Change::DecapFast`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecapFast {
    pub ethernet: bool,
    pub ip: bool,
    pub options: Vec<TunnelOption>,
}

impl DecapFast {
    /// That of `cfg` (stops at the first entry of each kind it looks for).
    pub fn of(cfg: &Config) -> DecapFast {
        DecapFast {
            ethernet: cfg.decap.iter().any(|d| d.payload == Payload::Ethernet),
            ip: cfg.decap.iter().any(|d| d.payload == Payload::Ip),
            options: cfg
                .tunnels
                .iter()
                .map(|t| &t.options[..])
                .find(|o| !o.is_empty())
                .unwrap_or(&[])
                .to_vec(),
        }
    }

    /// `d` with these patterns and layout.
    pub fn on(&self, d: Decapsulator) -> Decapsulator {
        d.with_patterns(self.ethernet, self.ip)
            .with_option_layout(&self.options)
    }
}

/// The decap entry of `d`, and the inner next hop it still waits for (L3
/// mode with a resolved next hop not yet resolved).
pub fn decap_out(
    cfg: &Config,
    port_ids: &[u16],
    port_macs: &[[u8; 6]],
    neighbors: &HashMap<IpAddr, [u8; 6]>,
    d: &config::Decap,
) -> (VniOut, Option<IpAddr>) {
    let pid = |i: usize| port_ids[i];
    let mut unresolved = None;
    let segment = cfg
        .l2
        .as_ref()
        .and_then(|l2| l2.segments.iter().position(|s| s.vni == d.vni));
    let (eth_src, eth_dst) = match (&cfg.l3, d.payload) {
        (Some(c3), Payload::Ip) => {
            let src = c3.access.gateway_mac.unwrap_or(port_macs[c3.access.port]);
            let dst = match c3.access.next_hop {
                InnerNextHop::Static(m) => Some(m),
                InnerNextHop::Resolve(ip) => {
                    let m = neighbors.get(&ip).copied();
                    if m.is_none() {
                        unresolved = Some(ip);
                    }
                    m
                }
                InnerNextHop::ResolveDestination => None,
            };
            (src, dst)
        }
        _ => (port_macs[d.port], None),
    };
    let mut require_mask = 0u32;
    let mut security_tags = Vec::new();
    let applies = |scope: &config::Scope| scope_applies(cfg, scope, d.vni);
    for r in &cfg.options.require {
        if applies(&r.scope) {
            require_mask |= 1 << r.option;
        }
    }
    for s in &cfg.options.security_tags {
        if applies(&s.scope) {
            let o = &cfg.options.registry[s.option];
            security_tags.push(SecurityTag {
                class: o.class,
                typ: o.type_,
                allow: s.allow.clone(),
                deny: s.deny.clone(),
                default_allow: matches!(s.default, config::Action::Allow),
            });
        }
    }
    let flow_id = cfg
        .options
        .flow_id_copy
        .iter()
        .find(|f| applies(&f.scope))
        .map(|f| {
            let o = &cfg.options.registry[f.option];
            (o.class, o.type_)
        });
    (
        VniOut {
            port: pid(d.port),
            vlan: d.vlan,
            payload: d.payload,
            allow_from: d.allow_from.clone(),
            segment,
            eth_src,
            eth_dst,
            require_mask,
            security_tags,
            flow_id,
            max_untagged_frame: usize::from(cfg.ports[d.port].mtu) + 14,
            stitched: segment
                .and_then(|i| cfg.l2.as_ref()?.segments.get(i))
                .is_some_and(|s| cfg.stitched(s)),
            counter: super::stats::NO_SLOT,
            sources: Box::default(),
            src4: (0, super::stats::NO_SLOT),
            src6: ([0; 16], super::stats::NO_SLOT),
            more_sources: false,
        },
        unresolved,
    )
}

fn scope_applies(cfg: &Config, scope: &config::Scope, vni: Vni) -> bool {
    match scope {
        config::Scope::All => true,
        config::Scope::Vni(v) => *v == vni,
        config::Scope::Tunnel(t) => cfg.tunnels[*t].vni == vni,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(port: u16) -> VniOut {
        VniOut {
            port,
            vlan: None,
            payload: Payload::Ethernet,
            allow_from: None,
            segment: None,
            eth_src: [0; 6],
            eth_dst: None,
            require_mask: 0,
            security_tags: Vec::new(),
            flow_id: None,
            max_untagged_frame: usize::MAX,
            stitched: false,
            counter: crate::dataplane::stats::NO_SLOT,
            sources: Box::default(),
            src4: (0, crate::dataplane::stats::NO_SLOT),
            src6: ([0; 16], crate::dataplane::stats::NO_SLOT),
            more_sources: false,
        }
    }

    /// A MAC entry keeps its template or none, and a slot of the MAC table
    /// is 32 bytes: two to a cache line (what the look-ahead's prefetch of
    /// a home slot and the next counts on).
    #[test]
    fn mac_entries_are_small_and_keep_their_template() {
        let r: IpAddr = "2001:db8::1".parse().unwrap();
        for t in [Some(0), Some(7), Some(TemplateId::MAX - 1), None] {
            let e = MacEntry::new(r, t, true);
            assert_eq!((e.template(), e.remote, e.learned), (t, r, true));
        }
        // The one id no template array reaches reads as none.
        assert_eq!(
            MacEntry::new(r, Some(TemplateId::MAX), false).template(),
            None
        );
        assert_eq!(MacEntry::default().template(), None);
        let mut m = MacTable::new();
        for i in 0..100u8 {
            m.insert(
                [2, 0, 0, 0, 0, i],
                MacEntry::new(r, Some(u32::from(i)), false),
            );
        }
        assert_eq!(m.memory_bytes() / m.slots(), 32);
        for i in 0..100u8 {
            assert_eq!(
                m.get(&[2, 0, 0, 0, 0, i]).and_then(|e| e.template()),
                Some(u32::from(i))
            );
        }
    }

    #[test]
    fn vni_table_finds_entries_scanned_and_hashed() {
        let mut t = VniTable::default();
        assert!(t.get(1).is_none());
        // Few entries (scanned), then many (hashed): same answers.
        for n in [VniTable::SCAN as u32, 100] {
            for v in 0..n {
                t.insert(1000 + v, out(v as u16));
            }
            for v in 0..n {
                assert_eq!(t.get(1000 + v).map(|o| o.port), Some(v as u16), "{n}");
            }
            assert!(t.get(999).is_none() && t.get(1000 + n).is_none());
        }
        // Replacing keeps one entry.
        t.insert(1005, out(77));
        assert_eq!((t.get(1005).map(|o| o.port), t.len()), (Some(77), 100));
    }

    /// The address set of the source tests: the unspecified addresses
    /// (what a VNI without a first source of that family compares
    /// against) and a few others, IPv4 and IPv6.
    fn test_addr(i: u8) -> IpAddr {
        match i % 6 {
            0 => IpAddr::from([0, 0, 0, 0]),
            1 => IpAddr::from([198, 18, 0, 1]),
            2 => IpAddr::from([198, 18, 0, 2]),
            3 => IpAddr::from([0u16; 8]),
            4 => "2001:db8::1".parse().unwrap(),
            _ => "2001:db8::2".parse().unwrap(),
        }
    }

    proptest::proptest! {
        /// The source VTEP's tunnel slot, given as an address or as the
        /// IPv4 word the express key keeps, is the slot of the first of
        /// the VNI's sources with that address (slot-less sources and
        /// repeated addresses included).
        #[test]
        fn source_slot_is_the_first_source_of_that_address(
            sources in proptest::collection::vec((0u8..6, proptest::option::of(0u32..4)), 0..6),
            query in 0u8..6,
        ) {
            let list: Vec<Source> = sources
                .iter()
                .map(|&(a, s)| Source::new(test_addr(a), s.unwrap_or(crate::dataplane::stats::NO_SLOT)))
                .collect();
            let addr = test_addr(query);
            let (raw, ipv6) = crate::tunnel::Delivery::raw_addr(addr);
            let want = list
                .iter()
                .find(|s| s.addr == raw && s.ipv6 == ipv6)
                .map_or(crate::dataplane::stats::NO_SLOT, |s| s.slot);
            let mut o = out(1);
            o.set_sources(list.clone().into_boxed_slice());
            proptest::prop_assert_eq!(o.source_slot_of(raw, ipv6), want);
            // The express loop's run key keeps an IPv4 source as its word.
            if !ipv6 {
                let word = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
                proptest::prop_assert_eq!(o.source_slot_v4(word), want);
            }
        }
    }
}
