//! The inner packet's side of decap: the RFC 6040 ECN table, the DSCP /
//! TTL model, the inner header's update and applying it.
use super::{Decapsulator, Delivery, DropReason, InnerUpdate, Verdict};
use crate::tunnel::encap::tos_ttl;
use crate::tunnel::qos::QosModel;
use crate::tunnel::{inner_l3, PayloadKind};
use crate::wire::checksum;
use crate::wire::ethernet;
use crate::wire::{ipv4, ipv6};

pub(super) const ECN_ALARM: u8 = 0x04;
pub(super) const ECN_DROP: u8 = 0x80;

impl Decapsulator {
    /// A fast-tier delivery with its inner update computed in full (the
    /// fast tier may leave it unread, see [`Delivery::inner`]): exactly the
    /// general tier's verdict. Reads the inner header only; the outer fields
    /// it needs are in `d`.
    #[inline]
    pub(super) fn with_inner_update(&self, frame: &[u8], d: Delivery) -> Verdict {
        let end = frame.len().saturating_sub(d.padding as usize);
        self.finish(frame, usize::from(d.payload_offset), end, d)
    }

    /// Inner header and RFC 6040 / DSCP / TTL for a data packet whose outer
    /// headers passed; the inner packet is `frame[payload_off..end]`.
    #[inline(always)]
    pub(super) fn finish(
        &self,
        frame: &[u8],
        payload_off: usize,
        end: usize,
        mut d: Delivery,
    ) -> Verdict {
        match self.inner_update(frame, payload_off, end, d.payload, d.outer_tos, d.outer_ttl) {
            Ok((inner, alarm)) => {
                d.inner = inner;
                d.ecn_alarm = alarm;
                Verdict::Deliver(d)
            }
            Err(r) => Verdict::Drop(r),
        }
    }

    /// [`inner_update`](Self::inner_update) for the fast tier's rarer
    /// packets (outer ECN marked, uniform model, IP payload). Not inlined:
    /// the fast tier's registers stay free for the packets that skip it.
    #[inline(never)]
    pub(super) fn inner_update_rare(
        &self,
        frame: &[u8],
        payload_off: usize,
        end: usize,
        payload: PayloadKind,
        tos: u8,
        ttl: u8,
    ) -> Result<(InnerUpdate, bool), DropReason> {
        self.inner_update(frame, payload_off, end, payload, tos, ttl)
    }

    /// The inner header's update (RFC 6040 ECN, DSCP / TTL model) and the
    /// RFC 6040 alarm, for the inner packet `frame[payload_off..end]` under
    /// outer TOS `tos` and TTL `ttl`.
    #[inline(always)]
    fn inner_update(
        &self,
        frame: &[u8],
        payload_off: usize,
        end: usize,
        payload: PayloadKind,
        tos: u8,
        ttl: u8,
    ) -> Result<(InnerUpdate, bool), DropReason> {
        let Some(inner) = frame.get(payload_off..end) else {
            return Err(DropReason::InnerMalformed);
        };
        // The usual packet first: untagged inner Ethernet carrying IPv4.
        let ip = match inner.first_chunk::<{ ethernet::HEADER_LEN + ipv4::HEADER_LEN }>() {
            Some(e)
                if payload == PayloadKind::Ethernet
                    && e[12] == 0x08
                    && e[13] == 0x00
                    && e[14] >> 4 == 4 =>
            {
                Some((ethernet::HEADER_LEN, false, e[15], e[22]))
            }
            _ => inner_ip(inner, payload)?,
        };
        let mut u = InnerUpdate::default();
        let (in_tos, in_ttl) = match ip {
            Some((off, v6, t, l)) => {
                u.l3_offset = (payload_off + off) as u16;
                u.ipv6 = v6;
                (t, l)
            }
            None => (0, 0),
        };
        let e = self.ecn_table[usize::from(((in_tos & 3) << 2) | (tos & 3))];
        if e & ECN_DROP != 0 {
            return Err(DropReason::EcnCeOverNotEct);
        }
        if u.l3_offset != 0 {
            let dscp = match self.cfg.dscp {
                QosModel::Pipe => in_tos & 0xfc,
                QosModel::Uniform => tos & 0xfc,
            };
            let new_ttl = match self.cfg.ttl {
                QosModel::Pipe => in_ttl,
                QosModel::Uniform => in_ttl.min(ttl),
            };
            u.tos = dscp | (e & 3);
            u.ttl = new_ttl;
            u.changed = u.tos != in_tos || new_ttl != in_ttl;
        }
        Ok((u, e & ECN_ALARM != 0))
    }
}

/// The inner IP header of a payload of kind `payload`: offset in `inner`,
/// IPv6?, TOS, TTL; `None` for a non-IP Ethernet frame. Cold and not
/// inlined: the usual packet (untagged IPv4) is read directly by the caller.
#[cold]
#[inline(never)]
fn inner_ip(
    inner: &[u8],
    payload: PayloadKind,
) -> Result<Option<(usize, bool, u8, u8)>, DropReason> {
    if payload == PayloadKind::Ethernet && inner.len() < ethernet::HEADER_LEN {
        return Err(DropReason::InnerMalformed);
    }
    let ip = inner_l3(inner, payload)
        .and_then(|(off, v6)| tos_ttl(inner, off, v6).map(|(t, l)| (off, v6, t, l)));
    match ip {
        Some(ip) => Ok(Some(ip)),
        None if payload == PayloadKind::Ethernet => Ok(None),
        None => Err(DropReason::InnerMalformed),
    }
}

/// Apply an [`InnerUpdate`] to the inner IP header inside `frame` (the same
/// frame `decap` looked at), updating the IPv4 checksum incrementally.
/// Returns false if there was nothing to do or the header is not there.
#[inline(always)]
pub fn apply_inner_update(frame: &mut [u8], u: &InnerUpdate) -> bool {
    // The pipe model with a Not-ECT outer header changes nothing: one
    // compare inline; the rewrite is out of line.
    if !u.changed || u.l3_offset == 0 {
        return false;
    }
    rewrite_inner_header(frame, u)
}

/// [`apply_inner_update`]'s rewrite of the inner IP header. Not inlined:
/// the delivery the tiers pass stays in registers on the usual path.
#[inline(never)]
fn rewrite_inner_header(frame: &mut [u8], u: &InnerUpdate) -> bool {
    let off = usize::from(u.l3_offset);
    if u.ipv6 {
        let Some(h) = frame.get_mut(off..off + ipv6::HEADER_LEN) else {
            return false;
        };
        h[0] = (h[0] & 0xf0) | (u.tos >> 4);
        h[1] = (h[1] & 0x0f) | (u.tos << 4);
        h[7] = u.ttl;
    } else {
        let Some(h) = frame.get_mut(off..off + ipv4::HEADER_LEN) else {
            return false;
        };
        let old0 = u16::from_be_bytes([h[0], h[1]]);
        let old8 = u16::from_be_bytes([h[8], h[9]]);
        h[1] = u.tos;
        h[8] = u.ttl;
        let c = u16::from_be_bytes([h[10], h[11]]);
        let c = checksum::update16(c, old0, u16::from_be_bytes([h[0], h[1]]));
        let c = checksum::update16(c, old8, u16::from_be_bytes([h[8], h[9]]));
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
    true
}
