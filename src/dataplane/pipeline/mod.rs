//! What the gateway does with one packet, on any [`Buffer`]: classify,
//! encapsulate or decapsulate, and say where it goes. No DPDK here, so every
//! decision is unit-tested on plain buffers; the worker loop executes the
//! [`Outcome`] on mbufs.
//!
//! [`access`] (encap side) and [`underlay`] (decap side) each have an
//! express tier the worker runs over the front of an RX burst and a
//! per-packet path through the fast and general tiers (see
//! [the glossary](crate::tunnel#tiers)); [`flood`] decides broadcast
//! replication and the segmentation path of too-big frames.
use std::net::IpAddr;

use crate::tunnel::{Buffer, DropReason};

use super::flows::{FlowId, FlowKey};

mod access;
pub mod flood;
#[cfg(test)]
mod tests;
mod underlay;

pub use access::{access, access_with_cache, encap_flood, AccessExpress, MacCache};
pub use underlay::{hw_decapped, underlay, underlay_express};

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_VLAN: u16 = 0x8100;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// Why the gateway dropped a packet: the tunnel's decap reasons plus the
/// gateway's own. Each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GwDrop {
    Decap(DropReason),
    /// Access frame on a port/VLAN that belongs to no segment or L3 access.
    NoSegment,
    /// L3: no route for the inner destination.
    NoRoute,
    /// The underlay next hop (or L3 inner next hop) is not resolved yet.
    NextHopUnresolved,
    /// Decapsulated VNI has no decap entry.
    UnknownVni,
    /// Source VTEP not in the VNI's allow list.
    SourceVtepNotAllowed,
    /// A required option is missing.
    RequiredOptionMissing,
    /// A security-tag policy denied the packet.
    SecurityTagDenied,
    /// Not enough room in the buffer for the outer headers.
    EncapNoRoom,
    /// Inner packet larger than the tunnel MTU.
    EncapTooBig,
    /// L3 mode: an access frame that is not IPv4/IPv6 (or of a family the route's tunnel does not carry).
    InnerNotIp,
    /// Broadcast/unknown unicast with an empty flood list.
    NoFloodTarget,
    /// The control thread's queue was full.
    PuntQueueFull,
    /// No mbuf to replicate a flooded frame.
    ReplicationNoMbuf,
    /// The NIC did not take the packet.
    TxFull,
    /// A frame shorter than an Ethernet header on an access port.
    AccessTruncated,
    /// No mbuf for a segment of a too-big TCP frame (the rest of that
    /// frame's segments are counted here too).
    SegmentNoMbuf,
}

/// Gateway-specific reasons after the decap ones, in counter order.
pub const GW_REASONS: [GwDrop; 16] = [
    GwDrop::NoSegment,
    GwDrop::NoRoute,
    GwDrop::NextHopUnresolved,
    GwDrop::UnknownVni,
    GwDrop::SourceVtepNotAllowed,
    GwDrop::RequiredOptionMissing,
    GwDrop::SecurityTagDenied,
    GwDrop::EncapNoRoom,
    GwDrop::EncapTooBig,
    GwDrop::InnerNotIp,
    GwDrop::NoFloodTarget,
    GwDrop::PuntQueueFull,
    GwDrop::ReplicationNoMbuf,
    GwDrop::TxFull,
    GwDrop::AccessTruncated,
    GwDrop::SegmentNoMbuf,
];

/// Number of drop counters.
pub const DROP_COUNT: usize = DropReason::COUNT + GW_REASONS.len();

impl GwDrop {
    /// Counter index.
    pub fn index(self) -> usize {
        match self {
            GwDrop::Decap(r) => r as usize,
            other => DropReason::COUNT + GW_REASONS.iter().position(|g| *g == other).unwrap_or(0),
        }
    }

    /// Every reason in counter order.
    pub fn all() -> impl Iterator<Item = GwDrop> {
        DropReason::ALL
            .iter()
            .map(|r| GwDrop::Decap(*r))
            .chain(GW_REASONS)
    }

    /// Stable snake_case counter name.
    pub fn as_str(self) -> &'static str {
        match self {
            GwDrop::Decap(r) => r.as_str(),
            GwDrop::NoSegment => "no_segment",
            GwDrop::NoRoute => "no_route",
            GwDrop::NextHopUnresolved => "next_hop_unresolved",
            GwDrop::UnknownVni => "unknown_vni",
            GwDrop::SourceVtepNotAllowed => "source_vtep_not_allowed",
            GwDrop::RequiredOptionMissing => "required_option_missing",
            GwDrop::SecurityTagDenied => "security_tag_denied",
            GwDrop::EncapNoRoom => "encap_no_room",
            GwDrop::EncapTooBig => "encap_too_big",
            GwDrop::InnerNotIp => "inner_not_ip",
            GwDrop::NoFloodTarget => "no_flood_target",
            GwDrop::PuntQueueFull => "punt_queue_full",
            GwDrop::ReplicationNoMbuf => "replication_no_mbuf",
            GwDrop::TxFull => "tx_full",
            GwDrop::AccessTruncated => "access_truncated",
            GwDrop::SegmentNoMbuf => "segment_no_mbuf",
        }
    }
}

/// What to do with the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Encapsulated: send on the underlay port.
    Encapped(u16),
    /// Decapsulated: send on this access port.
    Decapped(u16),
    /// Replicate to segment `.0`'s flood list (the frame is untagged, not yet
    /// encapsulated).
    Flood(usize),
    /// Hand to the control thread (ARP, ICMP, ND, Geneve control packets).
    Punt(PuntKind),
    /// Too big for template `.0`'s tunnel MTU, or a chained mbuf, not yet
    /// encapsulated: the worker segments it if it is TCP (else counts
    /// `encap_too_big`), or copies a chained frame that fits into one mbuf.
    Segment(u32),
    Drop(GwDrop),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PuntKind {
    /// ARP / ICMP / ND for the gateway's own addresses.
    Local,
    /// Geneve packet with the O bit.
    GeneveControl,
}

/// Something the control thread should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `mac` in segment `segment` lives behind remote VTEP `remote`.
    Learn {
        segment: usize,
        mac: [u8; 6],
        remote: IpAddr,
    },
    /// Please resolve this neighbour.
    Resolve(IpAddr),
    /// A flow-id option seen on a decapsulated packet of this flow.
    FlowId { key: FlowKey, id: FlowId },
}

fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

/// (VLAN id, offset of the EtherType field) of an Ethernet frame.
fn eth_vlan(b: &[u8]) -> Option<(Option<u16>, usize)> {
    if b.len() < 14 {
        return None;
    }
    if rd16(b, 12) == ETH_P_VLAN {
        if b.len() < 18 {
            return None;
        }
        Some((Some(rd16(b, 14) & 0x0fff), 16))
    } else {
        Some((None, 12))
    }
}

/// Removes an 802.1Q tag (the frame is known to have one).
fn strip_vlan<B: Buffer + ?Sized>(buf: &mut B) -> bool {
    let d = buf.data_mut();
    d.copy_within(0..12, 4);
    buf.trim_front(4).is_ok()
}

/// Inserts an 802.1Q tag with `vid`.
fn push_vlan<B: Buffer + ?Sized>(buf: &mut B, vid: u16) -> bool {
    let Ok(d) = buf.prepend(4) else { return false };
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&ETH_P_VLAN.to_be_bytes());
    d[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
    true
}
