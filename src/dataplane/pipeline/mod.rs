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
use crate::wire::ethernet::EtherType;

use super::flows::{FlowId, FlowKey};

mod access;
mod ahead;
pub mod flood;
#[cfg(test)]
mod tests;
mod underlay;

pub use access::{
    access, access_with_cache, encap_flood, AccessExpress, L3Express, L3Route, MacCache,
};
pub use ahead::{
    wants_ahead_underlay, AccessAhead, UnderlayAhead, AHEAD_MIN_ENTRIES, PROBE_DISTANCE,
};
pub use underlay::{
    hw_decapped, stitch_express, underlay, underlay_express, underlay_express_counted,
    underlay_express_ip, underlay_express_key, underlay_express_v6, ExpressDecap, ExpressKey,
    StitchCache, StitchKey, StitchRun, StitchedFrame,
};

/// What to do with the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Encapsulated: send on the underlay port.
    Encapped(u16),
    /// Decapsulated: send on this access port.
    Decapped(u16),
    /// [`Encapped`](Outcome::Encapped) with a VXLAN template (counted apart).
    EncappedVxlan(u16),
    /// [`Decapped`](Outcome::Decapped) from VXLAN (counted apart).
    DecappedVxlan(u16),
    /// A decapsulated frame of a stitched segment to flood (see
    /// `dataplane::stitch`): to the segment's access port and to its flood
    /// members outside mesh group `group`, never back into it. `vxlan`:
    /// it came in VXLAN.
    FloodFrom {
        segment: u32,
        group: u16,
        vxlan: bool,
    },
    /// Replicate to segment `.0`'s flood list (the frame is untagged, not yet
    /// encapsulated).
    Flood(usize),
    /// Hand to the control thread (ARP, ICMP, ND, Geneve control packets).
    Punt(PuntKind),
    /// Too big for template `.0`'s tunnel MTU, or a chained mbuf, not yet
    /// encapsulated: the worker segments it if it is TCP (else counts
    /// `encap_too_big`), or copies a chained frame that fits into one mbuf.
    Segment(u32),
    Drop(DropReason),
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
    /// A source MAC refused for learning (group or all-zero address, or a
    /// packet from one of the gateway's own addresses): counted by the
    /// worker, never queued.
    LearnRefused,
    /// Please resolve this neighbour.
    Resolve(IpAddr),
    /// A flow-id option seen on a decapsulated packet of this flow.
    FlowId { key: FlowKey, id: FlowId },
    /// A stitched frame's Geneve options were not carried into VXLAN:
    /// counted by the worker, never queued.
    OptionsNotCarried,
    /// The packet's VNI is known: what follows (its delivery or its drop)
    /// counts under these counter slots (`stats::WorkerEntries`): the
    /// VNI's, and the tunnel's whose remote sent it. Kept by the worker,
    /// never queued.
    Counted { vni: u32, tunnel: u32 },
    /// A decapsulated frame of a stitched segment leaves re-encapsulated
    /// into the tunnel of counter slot `tunnel` (`Counted` named where it
    /// came from); `inner`: its length as delivered. Kept by the worker,
    /// never queued.
    Stitched { tunnel: u32, inner: u32 },
}

fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

/// (VLAN id, offset of the EtherType field) of an Ethernet frame.
fn eth_vlan(b: &[u8]) -> Option<(Option<u16>, usize)> {
    if b.len() < 14 {
        return None;
    }
    if rd16(b, 12) == EtherType::VLAN {
        if b.len() < 18 {
            return None;
        }
        Some((Some(rd16(b, 14) & 0x0fff), 16))
    } else {
        Some((None, 12))
    }
}

/// Does the Ethernet frame `f` start with a VLAN tag (802.1Q, 802.1ad or
/// the pre-standard 0x9100)? Only the segment's own VLAN may tag a frame on
/// an access port: a tag inside a tunnelled frame, or a second one under the
/// segment's tag, would reach another tenant's VLAN. A frame too short to
/// say is not tagged (the callers check lengths).
#[inline(always)]
fn tagged(f: &[u8]) -> bool {
    tagged_at(f, 0)
}

/// [`tagged`] for the Ethernet frame at offset `off` of `f`. The TPID is
/// compared in memory order (no byte swap); 0x8100 and 0x9100 differ in
/// one bit, so one compare takes both.
#[inline(always)]
fn tagged_at(f: &[u8], off: usize) -> bool {
    let Some(&[hi, lo]) = f.get(off + 12..off + 14) else {
        return false;
    };
    let t = u16::from_ne_bytes([hi, lo]);
    let [q0, q1] = EtherType::QINQ.to_be_bytes();
    t | u16::from_ne_bytes([0x10, 0]) == u16::from_ne_bytes([0x91, 0])
        || t == u16::from_ne_bytes([q0, q1])
}

/// Removes an 802.1Q tag (the frame is known to have one).
fn strip_vlan<B: Buffer + ?Sized>(buf: &mut B) -> bool {
    let d = buf.data_mut();
    d.copy_within(0..12, 4);
    buf.trim_front(4).is_ok()
}

/// Inserts an 802.1Q tag with `vid` in front of a segment's frame for its
/// access port; false when the buffer has no room.
pub fn push_segment_vlan<B: Buffer + ?Sized>(buf: &mut B, vid: u16) -> bool {
    push_vlan(buf, vid)
}

/// Inserts an 802.1Q tag with `vid`.
fn push_vlan<B: Buffer + ?Sized>(buf: &mut B, vid: u16) -> bool {
    let Ok(d) = buf.prepend(4) else { return false };
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&EtherType::VLAN.to_be_bytes());
    d[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
    true
}
