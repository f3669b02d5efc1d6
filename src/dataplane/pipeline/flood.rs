//! Decisions for the frames that leave as more than one packet or not at
//! all: a flood (broadcast, unknown unicast) replicated to its segment's
//! targets, and a frame too big for its tunnel (the NIC's Geneve TSO,
//! software segmentation, one linear copy, or a counted drop).
//!
//! Pure: no DPDK, no I/O. The worker's sink (`dataplane::gateway`) makes
//! the copies, allocates the segments and sends; these functions say what
//! to do and which drop reason counts what.
use super::{DropReason, Outcome};
use crate::dataplane::tables::TemplateId;

/// What the flood does for one entry of its segment's target list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodTarget {
    /// Encapsulate a copy of the frame towards this template.
    Copy(TemplateId),
    /// Encapsulate the frame itself towards this template: the last
    /// target, which needs no copy.
    Original(TemplateId),
    /// The target's next hop is unresolved: a counted
    /// [`DropReason::NextHopUnresolved`], no copy.
    Unresolved,
}

/// The flood of one frame to `targets` (a segment's list, in order): one
/// [`FloodTarget`] per entry, or `Err(`[`DropReason::NoFloodTarget`]`)` when
/// the list is empty. Only the last entry gets the frame itself; if it is
/// unresolved, the frame is freed after the copies.
pub fn flood_targets(
    targets: &[Option<TemplateId>],
) -> Result<impl Iterator<Item = FloodTarget> + '_, DropReason> {
    let last = targets
        .len()
        .checked_sub(1)
        .ok_or(DropReason::NoFloodTarget)?;
    Ok(targets.iter().enumerate().map(move |(i, t)| match *t {
        None => FloodTarget::Unresolved,
        Some(id) if i == last => FloodTarget::Original(id),
        Some(id) => FloodTarget::Copy(id),
    }))
}

/// What becomes of one flood copy, from the outcome of its encapsulation
/// ([`encap_flood`](super::encap_flood)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodCopy {
    /// Encapsulated: count it and send it on this port.
    Send(u16),
    /// Too big for the tunnel: segment it with this template.
    Segment(TemplateId),
    /// A counted drop.
    Drop(DropReason),
}

/// See [`FloodCopy`]. An outcome encap never gives (decap, flood, punt)
/// counts as [`DropReason::NoFloodTarget`].
pub fn flood_copy(o: Outcome) -> FloodCopy {
    match o {
        Outcome::Encapped(port) | Outcome::EncappedVxlan(port) => FloodCopy::Send(port),
        Outcome::Segment(id) => FloodCopy::Segment(id),
        Outcome::Drop(r) => FloodCopy::Drop(r),
        _ => FloodCopy::Drop(DropReason::NoFloodTarget),
    }
}

/// What [`segment_path`] looks at for a frame too big for its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentFacts {
    /// The frame is in one mbuf (else it was copied out of its chain).
    pub contiguous: bool,
    /// The frame's length: the mbuf's data, or the bytes copied out.
    pub len: usize,
    /// The template's largest inner packet (the tunnel MTU).
    pub max_inner: usize,
    /// The largest packet one mbuf of the pool holds with the template's
    /// header in front of it.
    pub fits_mbuf: usize,
    /// The TCP segmentation plan's frame length; `None` when the frame
    /// cannot be segmented (not TCP, malformed).
    pub plan_frame_len: Option<usize>,
    /// The port segments Geneve for this template (TSO).
    pub geneve_tso: bool,
}

/// How a frame too big for its template leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentPath {
    /// Within the tunnel MTU, only chained: one linear copy into a fresh
    /// mbuf, encapsulated.
    LinearCopy,
    /// Encapsulated once for the NIC's Geneve TSO (software segmentation
    /// if the headers do not fit the offload metadata).
    Tso,
    /// Cut into TCP segments in software, each encapsulated.
    Software,
    /// A counted drop.
    Drop(DropReason),
}

/// See [`SegmentPath`]: a chained frame within the tunnel MTU is copied
/// once (dropped as [`DropReason::EncapNoRoom`] if one mbuf cannot hold it and
/// it cannot be segmented); a frame without a segmentation plan is an
/// [`DropReason::EncapTooBig`] drop; a contiguous frame whose plan covers it
/// goes to TSO when the port has it; the rest is segmented in software.
pub fn segment_path(f: &SegmentFacts) -> SegmentPath {
    if !f.contiguous && f.len <= f.max_inner && (f.len <= f.fits_mbuf || f.plan_frame_len.is_none())
    {
        if f.len > f.fits_mbuf {
            return SegmentPath::Drop(DropReason::EncapNoRoom);
        }
        return SegmentPath::LinearCopy;
    }
    let Some(frame_len) = f.plan_frame_len else {
        return SegmentPath::Drop(DropReason::EncapTooBig);
    };
    if f.contiguous && f.geneve_tso && f.len == frame_len {
        SegmentPath::Tso
    } else {
        SegmentPath::Software
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(t: &[Option<TemplateId>]) -> Result<Vec<FloodTarget>, DropReason> {
        flood_targets(t).map(Iterator::collect)
    }

    #[test]
    fn flood_copies_to_all_but_the_last_target_and_counts_unresolved_ones() {
        use FloodTarget::*;
        assert_eq!(targets(&[]), Err(DropReason::NoFloodTarget));
        assert_eq!(targets(&[Some(3)]), Ok(vec![Original(3)]));
        assert_eq!(
            targets(&[Some(1), None, Some(2)]),
            Ok(vec![Copy(1), Unresolved, Original(2)])
        );
        // The last target unresolved: every resolved one gets a copy.
        assert_eq!(
            targets(&[Some(1), Some(2), None]),
            Ok(vec![Copy(1), Copy(2), Unresolved])
        );
        assert_eq!(targets(&[None]), Ok(vec![Unresolved]));
    }

    #[test]
    fn flood_copy_outcomes() {
        assert_eq!(flood_copy(Outcome::Encapped(4)), FloodCopy::Send(4));
        assert_eq!(flood_copy(Outcome::Segment(7)), FloodCopy::Segment(7));
        assert_eq!(
            flood_copy(Outcome::Drop(DropReason::EncapNoRoom)),
            FloodCopy::Drop(DropReason::EncapNoRoom)
        );
        for o in [
            Outcome::Decapped(1),
            Outcome::Flood(0),
            Outcome::Punt(super::super::PuntKind::Local),
        ] {
            assert_eq!(flood_copy(o), FloodCopy::Drop(DropReason::NoFloodTarget));
        }
    }

    #[test]
    fn segment_path_chooses_copy_tso_software_or_drop() {
        let base = SegmentFacts {
            contiguous: true,
            len: 9000,
            max_inner: 1400,
            fits_mbuf: 1900,
            plan_frame_len: Some(9000),
            geneve_tso: false,
        };
        assert_eq!(segment_path(&base), SegmentPath::Software);
        let tso = SegmentFacts {
            geneve_tso: true,
            ..base
        };
        assert_eq!(segment_path(&tso), SegmentPath::Tso);
        // The plan does not cover the whole frame: software.
        let partial = SegmentFacts {
            plan_frame_len: Some(8000),
            ..tso
        };
        assert_eq!(segment_path(&partial), SegmentPath::Software);
        // Chained frames never go to TSO.
        let chained = SegmentFacts {
            contiguous: false,
            ..tso
        };
        assert_eq!(segment_path(&chained), SegmentPath::Software);
        // Not segmentable: too big.
        let not_tcp = SegmentFacts {
            plan_frame_len: None,
            ..tso
        };
        assert_eq!(
            segment_path(&not_tcp),
            SegmentPath::Drop(DropReason::EncapTooBig)
        );
        // Chained but within the MTU: one linear copy, if an mbuf holds it.
        let small = SegmentFacts {
            contiguous: false,
            len: 1200,
            ..base
        };
        assert_eq!(segment_path(&small), SegmentPath::LinearCopy);
        let not_tcp_small = SegmentFacts {
            plan_frame_len: None,
            ..small
        };
        assert_eq!(segment_path(&not_tcp_small), SegmentPath::LinearCopy);
        // Within the MTU but bigger than an mbuf: segmented if it can be...
        let big_mtu = SegmentFacts {
            contiguous: false,
            len: 3000,
            max_inner: 8900,
            fits_mbuf: 1900,
            plan_frame_len: Some(3000),
            geneve_tso: true,
        };
        assert_eq!(segment_path(&big_mtu), SegmentPath::Software);
        // ... else no room.
        let big_not_tcp = SegmentFacts {
            plan_frame_len: None,
            ..big_mtu
        };
        assert_eq!(
            segment_path(&big_not_tcp),
            SegmentPath::Drop(DropReason::EncapNoRoom)
        );
    }
}
