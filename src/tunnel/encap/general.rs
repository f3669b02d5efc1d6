//! The encap general tier (see [the glossary](crate::tunnel#tiers)): every
//! template and inner packet (outer VLAN tag, IPv6 payload, tagged or
//! non-IP inner frames), and the Geneve TSO encapsulation.
use crate::tunnel::buffer::Buffer;
use crate::tunnel::hash::inner_flow_hash;
use crate::tunnel::qos::TtlEncap;
use crate::tunnel::segment::{TcpSegmentation, TsoOffload};
use crate::tunnel::{inner_l3, PayloadKind};

use super::template::{finish_udp_checksum, write_v4_header, write_v6};
use super::{tos_ttl, EncapError, EncapTemplate};

/// Every case: IPv6 underlay, L3 payloads, tagged or non-IP inner frames.
#[inline(never)]
pub(super) fn encap_general<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let inner_len = buf.len();
    if inner_len > t.max_inner {
        return Err(EncapError::TooBig {
            mtu: t.inner_ip_mtu,
        });
    }
    encap_any_len(t, buf, flow_hash)
}

/// [`encap_general`] without the MTU check.
#[inline(always)]
fn encap_any_len<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let inner_len = buf.len();
    let (inner_tos, inner_ttl, hash) = inner_info(t, buf.data(), flow_hash)?;
    let tos = t.tos_fixed | (inner_tos & t.tos_inner_mask);
    let ttl = match (t.ttl, inner_ttl) {
        (TtlEncap::Pipe(v), _) => v,
        (TtlEncap::Uniform { .. }, Some(v)) => v,
        (TtlEncap::Uniform { non_ip }, None) => non_ip,
    };
    let sport = t.src_port_for(hash);
    let hl = t.len;
    let data = buf.prepend(hl).map_err(|_| EncapError::NoHeadroom)?;
    if !t.ipv6 {
        let h = data.get_mut(..hl).ok_or(EncapError::NoHeadroom)?;
        let udp_len = write_v4_header(t, h, t.l3, inner_len, tos, ttl, sport);
        if t.udp_csum {
            finish_udp_checksum(t, data, udp_len);
        }
    } else {
        write_v6(t, data, inner_len, tos, ttl, sport, hash)?;
    }
    if let Some(o) = &t.tx_offload {
        buf.set_tx_offload(o);
    }
    Ok(())
}

/// Encapsulate a too-big inner TCP frame once for the NIC to segment
/// (Geneve TSO): `plan` is its [`TcpSegmentation`] for `t`. Prepares the
/// inner checksums as DPDK's TSO wants them, leaves the outer IPv4 checksum
/// to the NIC and hands the buffer the [`TsoOffload`] metadata. Err
/// (`TooBig`, buffer unchanged) when the template has no hardware TSO or
/// the headers do not fit the metadata's bit widths.
pub fn encap_tso<B: Buffer + ?Sized>(
    t: &EncapTemplate,
    buf: &mut B,
    plan: &TcpSegmentation,
    flow_hash: Option<u32>,
) -> Result<(), EncapError> {
    let too_big = EncapError::TooBig {
        mtu: t.inner_ip_mtu,
    };
    let (l3, udp) = (t.l3, t.udp);
    let meta = TsoOffload::new(l3, udp - l3, t.len - udp, t.ipv6, plan)
        .filter(|_| t.hw_tso && buf.len() == plan.frame_len())
        .ok_or(too_big)?;
    if buf.len() + t.len - l3 > usize::from(u16::MAX) {
        return Err(too_big);
    }
    // Hash before the checksums change (the hash does not read them, but
    // the software path hashes the original frame: same port either way).
    let hash = flow_hash.unwrap_or_else(|| inner_flow_hash(buf.data(), t.payload));
    // If the prepend below fails the frame is dropped: the prepared inner
    // checksums do not matter then.
    plan.prepare_for_tso(buf.data_mut());
    encap_any_len(t, buf, Some(hash))?;
    if !t.ipv6 {
        if let Some(c) = buf.data_mut().get_mut(l3 + 10..l3 + 12) {
            c.fill(0);
        }
    }
    buf.set_tso(&meta);
    Ok(())
}

/// Inner TOS, TTL (`None`: not an IP packet) and flow hash (`flow_hash`, or
/// the inner flow's). `BadInner` in L3 mode when the packet is not IP of the
/// configured version.
#[inline]
fn inner_info(
    t: &EncapTemplate,
    inner: &[u8],
    flow_hash: Option<u32>,
) -> Result<(u8, Option<u8>, u32), EncapError> {
    let (inner_tos, inner_ttl) = match inner_l3(inner, t.payload) {
        Some((off, v6)) => match tos_ttl(inner, off, v6) {
            Some(x) => (x.0, Some(x.1)),
            None if t.payload == PayloadKind::Ethernet => (0, None),
            None => return Err(EncapError::BadInner),
        },
        None if t.payload == PayloadKind::Ethernet => (0, None),
        None => return Err(EncapError::BadInner),
    };
    let hash = match flow_hash {
        Some(h) => h,
        None => inner_flow_hash(inner, t.payload),
    };
    Ok((inner_tos, inner_ttl, hash))
}
