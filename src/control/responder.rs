//! Answers for the local VTEP addresses and next-hop resolution, for the
//! control thread: ARP (RFC 826), ICMP echo (RFC 792), ICMPv6 echo (RFC 4443)
//! and Neighbor Discovery (RFC 4861 sections 4.3, 4.4, 7).
//!
//! Everything here is a pure function of its inputs: no DPDK, no clock reads
//! (the caller passes `Instant`s), no `unsafe`, no panics, and every header is
//! read through the checked views of [`crate::wire`], so no read goes past
//! the frame. Replies are written into a caller-owned `Vec<u8>` (cleared
//! first); the control thread copies it into an mbuf.
//!
//! Replies keep the request's VLAN tags (one 802.1Q tag, or two for QinQ,
//! PCP/DEI included). Frames are not padded to 60 bytes: the NIC does that.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::wire::ethernet::MAX_VLAN_TAGS;
use crate::wire::icmpv4::msg as icmp4msg;
use crate::wire::icmpv6::{msg as icmp6msg, NA_OVERRIDE, NA_SOLICITED};
use crate::wire::{
    arp, ip_proto, ipv4, ipv6, ArpOp, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr,
    Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr,
    MacAddr, VlanTag, WireError,
};

/// Hop limit / TTL of echo replies we originate.
pub const ECHO_REPLY_TTL: u8 = 64;
/// Hop limit of every Neighbor Discovery message (RFC 4861 sections 7.1.1, 7.1.2).
pub const ND_HOP_LIMIT: u8 = 255;
/// The Ethernet broadcast address.
pub const BROADCAST_MAC: MacAddr = [0xff; 6];
/// The all-nodes multicast address ff02::1.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The addresses this gateway answers for on one port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalAddrs {
    pub mac: MacAddr,
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
}

/// A neighbor's address binding seen in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor {
    pub ip: IpAddr,
    pub mac: MacAddr,
    /// The frame was aimed at us (an ARP packet whose target IP is ours, an
    /// NS for our address, an NA with the Solicited flag). RFC 826 and
    /// RFC 4861 7.2.5: only such a frame may create a cache entry; any other
    /// may only update an existing one. [`NeighborTable::learn_from`] does
    /// this.
    pub targeted: bool,
}

/// Why a punted frame got no answer and taught nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A header could not be parsed (truncated, bad version, bad checksum...).
    Malformed(WireError),
    /// EtherType, IP protocol, ARP operation or ICMP type we do not handle.
    Unsupported,
    /// Not addressed to us: destination MAC, destination IP or target.
    NotForUs,
    /// Sent with our own MAC address (a loop or a reflection).
    FromSelf,
    /// A source address no reply may go to, or that may not be learned
    /// (multicast, broadcast, unspecified).
    InvalidSource,
    /// An IP fragment.
    Fragment,
    /// NS/NA with a hop limit other than 255 (RFC 4861 7.1).
    BadHopLimit,
    /// NS/NA failing another RFC 4861 7.1 check (code not 0, multicast target,
    /// DAD NS with a source link-layer option or not to the solicited-node
    /// address, NA with the S flag to a multicast destination).
    InvalidNd,
    /// NA without the target link-layer address option: nothing to learn.
    NoLinkLayerAddress,
    /// Someone else announces one of our addresses (ARP reply / NA for it).
    OurAddress,
}

impl std::fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IgnoreReason::Malformed(e) => write!(f, "malformed: {e}"),
            IgnoreReason::Unsupported => f.write_str("unsupported"),
            IgnoreReason::NotForUs => f.write_str("not for us"),
            IgnoreReason::FromSelf => f.write_str("from our own MAC"),
            IgnoreReason::InvalidSource => f.write_str("invalid source"),
            IgnoreReason::Fragment => f.write_str("fragment"),
            IgnoreReason::BadHopLimit => f.write_str("ND hop limit not 255"),
            IgnoreReason::InvalidNd => f.write_str("invalid ND message"),
            IgnoreReason::NoLinkLayerAddress => f.write_str("no link-layer address option"),
            IgnoreReason::OurAddress => f.write_str("our address announced by another node"),
        }
    }
}

/// What [`respond`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// A reply frame is in `out`.
    Reply,
    /// Nothing to send; a neighbor binding was seen.
    Learned(Neighbor),
    /// A reply frame is in `out` and a neighbor binding was seen.
    ReplyAndLearned(Neighbor),
    /// Nothing to send, nothing learned; `out` is empty.
    Ignored(IgnoreReason),
}

type Res = Result<Response, IgnoreReason>;

fn malformed(e: WireError) -> IgnoreReason {
    IgnoreReason::Malformed(e)
}

/// Handle one punted frame. On [`Response::Reply`] and
/// [`Response::ReplyAndLearned`] `out` holds the reply frame; otherwise `out`
/// is empty.
pub fn respond(frame: &[u8], local: &LocalAddrs, out: &mut Vec<u8>) -> Response {
    out.clear();
    let r = respond_inner(frame, local, out).unwrap_or_else(Response::Ignored);
    if !matches!(r, Response::Reply | Response::ReplyAndLearned(_)) {
        out.clear();
    }
    r
}

/// The VLAN tags of a request, replayed on the reply.
#[derive(Debug, Clone, Copy)]
struct Tags {
    t: [VlanTag; MAX_VLAN_TAGS],
    n: usize,
}

impl Tags {
    fn of(f: &EthernetFrame<&[u8]>) -> Tags {
        let mut tags = Tags {
            t: [VlanTag { tpid: 0, tci: 0 }; MAX_VLAN_TAGS],
            n: 0,
        };
        for i in 0..f.vlan_count().min(MAX_VLAN_TAGS) {
            if let Some(v) = f.vlan(i) {
                tags.t[tags.n] = v;
                tags.n += 1;
            }
        }
        tags
    }
    fn none() -> Tags {
        Tags {
            t: [VlanTag { tpid: 0, tci: 0 }; MAX_VLAN_TAGS],
            n: 0,
        }
    }
    fn with(vlan: Option<VlanTag>) -> Tags {
        let mut t = Tags::none();
        if let Some(v) = vlan {
            t.t[0] = v;
            t.n = 1;
        }
        t
    }
    fn as_slice(&self) -> &[VlanTag] {
        self.t.get(..self.n).unwrap_or(&[])
    }
    fn header_len(&self) -> usize {
        crate::wire::ethernet::HEADER_LEN + self.n * crate::wire::ethernet::VLAN_TAG_LEN
    }
}

/// Emit an Ethernet header with `tags` into `buf`. A second (inner) tag is
/// written after what [`EthernetRepr`] emits for the outer one.
fn emit_eth(
    buf: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    tags: &Tags,
    ethertype: u16,
) -> crate::wire::Result<usize> {
    let tags = tags.as_slice();
    let inner = tags.get(1);
    let repr = EthernetRepr {
        dst,
        src,
        vlan: tags.first().copied(),
        ethertype: inner.map_or(ethertype, |t| t.tpid),
    };
    let mut n = repr.emit(buf)?;
    if let Some(t) = inner {
        let b = buf.get_mut(n..n + 4).ok_or(WireError::BufferTooSmall)?;
        b[..2].copy_from_slice(&t.tci.to_be_bytes());
        b[2..].copy_from_slice(&ethertype.to_be_bytes());
        n += 4;
    }
    Ok(n)
}

fn is_group(mac: &MacAddr) -> bool {
    mac[0] & 1 != 0
}

fn respond_inner(frame: &[u8], local: &LocalAddrs, out: &mut Vec<u8>) -> Res {
    let f = EthernetFrame::new_checked(frame).map_err(malformed)?;
    if f.src() == local.mac {
        return Err(IgnoreReason::FromSelf);
    }
    if is_group(&f.src()) {
        return Err(IgnoreReason::InvalidSource);
    }
    // Unicast to another station (a port in promiscuous mode): not ours.
    if f.dst() != local.mac && !is_group(&f.dst()) {
        return Err(IgnoreReason::NotForUs);
    }
    let tags = Tags::of(&f);
    match f.ethertype() {
        EtherType::ARP => on_arp(&f, &tags, local, out),
        EtherType::IPV4 => on_ipv4(&f, &tags, local, out),
        EtherType::IPV6 => on_ipv6(&f, &tags, local, out),
        _ => Err(IgnoreReason::Unsupported),
    }
}

/// An IPv4 address a neighbor may have (and we may learn).
fn v4_unicast(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast())
}

/// An IPv6 address a neighbor may have (and we may answer to).
fn v6_unicast(ip: Ipv6Addr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast())
}

fn on_arp(f: &EthernetFrame<&[u8]>, tags: &Tags, local: &LocalAddrs, out: &mut Vec<u8>) -> Res {
    let p = ArpPacket::new_checked(f.payload()).map_err(malformed)?;
    let req = ArpRepr::parse(&p);
    if req.sender_mac == local.mac {
        return Err(IgnoreReason::FromSelf);
    }
    if is_group(&req.sender_mac) || req.sender_mac == [0; 6] {
        return Err(IgnoreReason::InvalidSource);
    }
    let spa = Ipv4Addr::from(req.sender_ip);
    let tpa = Ipv4Addr::from(req.target_ip);
    let targeted = local.ipv4.contains(&tpa);
    let sender_ours = local.ipv4.contains(&spa);
    let neighbor = (v4_unicast(spa) && !sender_ours).then_some(Neighbor {
        ip: spa.into(),
        mac: req.sender_mac,
        targeted,
    });
    match req.op {
        ArpOp::Request if targeted => {
            // Probes (sender IP 0.0.0.0, RFC 5227) are answered too: that
            // defends our address. The reply goes to the sender's hardware
            // address (RFC 826).
            let rep = req.reply(local.mac);
            let n = tags.header_len() + arp::PACKET_LEN;
            out.resize(n, 0);
            let h = emit_eth(out, req.sender_mac, local.mac, tags, EtherType::ARP)
                .map_err(malformed)?;
            rep.emit(out.get_mut(h..).unwrap_or(&mut []))
                .map_err(malformed)?;
            Ok(match neighbor {
                Some(nb) => Response::ReplyAndLearned(nb),
                None => Response::Reply,
            })
        }
        ArpOp::Request | ArpOp::Reply => {
            if sender_ours {
                return Err(IgnoreReason::OurAddress);
            }
            neighbor.map(Response::Learned).ok_or(if targeted {
                IgnoreReason::InvalidSource
            } else {
                IgnoreReason::NotForUs
            })
        }
        ArpOp::Other(_) => Err(IgnoreReason::Unsupported),
    }
}

fn on_ipv4(f: &EthernetFrame<&[u8]>, tags: &Tags, local: &LocalAddrs, out: &mut Vec<u8>) -> Res {
    let ip = Ipv4Packet::new_checked(f.payload()).map_err(malformed)?;
    if !ip.verify_checksum() {
        return Err(malformed(WireError::BadChecksum));
    }
    if ip.is_fragment() {
        return Err(IgnoreReason::Fragment);
    }
    if ip.protocol() != ip_proto::ICMP {
        return Err(IgnoreReason::Unsupported);
    }
    let dst = Ipv4Addr::from(ip.dst());
    if !local.ipv4.contains(&dst) {
        return Err(IgnoreReason::NotForUs);
    }
    let src = Ipv4Addr::from(ip.src());
    if !v4_unicast(src) || src.is_loopback() {
        return Err(IgnoreReason::InvalidSource);
    }
    let icmp = Icmpv4Packet::new_checked(ip.payload()).map_err(malformed)?;
    if icmp.msg_type() != icmp4msg::ECHO_REQUEST {
        return Err(IgnoreReason::Unsupported);
    }
    let (ident, seq, data) = match Icmpv4Repr::parse(&icmp).map_err(malformed)? {
        Icmpv4Repr::EchoRequest { ident, seq, data } => (ident, seq, data),
        _ => return Err(IgnoreReason::Unsupported),
    };
    let reply = Icmpv4Repr::EchoReply { ident, seq, data };
    let icmp_len = reply.buffer_len();
    let ip_repr = Ipv4Repr {
        src: ip.dst(),
        dst: ip.src(),
        protocol: ip_proto::ICMP,
        // Same DSCP, not ECN-capable: the reply is a new packet.
        tos: ip.tos() & !0b11,
        ttl: ECHO_REPLY_TTL,
        ident: ip.ident(),
        dont_frag: ip.dont_frag(),
        payload_len: u16::try_from(icmp_len).map_err(|_| malformed(WireError::Malformed))?,
    };
    let h = tags.header_len();
    out.resize(h + ipv4::HEADER_LEN + icmp_len, 0);
    emit_eth(out, f.src(), local.mac, tags, EtherType::IPV4).map_err(malformed)?;
    let rest = out.get_mut(h..).unwrap_or(&mut []);
    let n = ip_repr.emit(rest).map_err(malformed)?;
    reply
        .emit(rest.get_mut(n..).unwrap_or(&mut []))
        .map_err(malformed)?;
    Ok(Response::Reply)
}

/// The solicited-node multicast address of `ip` (RFC 4291 2.7.1):
/// ff02::1:ffXX:XXXX with the low 24 bits of `ip`.
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    let mut a = [0u8; 16];
    a[0] = 0xff;
    a[1] = 0x02;
    a[11] = 0x01;
    a[12] = 0xff;
    a[13..].copy_from_slice(&o[13..]);
    Ipv6Addr::from(a)
}

/// The Ethernet address of an IPv6 multicast group (RFC 2464 7):
/// 33:33 and the low 32 bits of the group.
pub fn ipv6_multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

fn on_ipv6(f: &EthernetFrame<&[u8]>, tags: &Tags, local: &LocalAddrs, out: &mut Vec<u8>) -> Res {
    let ip = Ipv6Packet::new_checked(f.payload()).map_err(malformed)?;
    let ul = ipv6::walk_ext(ip.payload(), ip.next_header()).map_err(malformed)?;
    if ul.fragment {
        return Err(IgnoreReason::Fragment);
    }
    if ul.protocol != ip_proto::ICMPV6 {
        return Err(IgnoreReason::Unsupported);
    }
    let bytes = ip.payload().get(ul.offset..).unwrap_or(&[]);
    let icmp = Icmpv6Packet::new_checked(bytes).map_err(malformed)?;
    let (src, dst) = (ip.src(), ip.dst());
    match icmp.msg_type() {
        icmp6msg::ECHO_REQUEST => {
            let dst_ip = Ipv6Addr::from(dst);
            if !local.ipv6.contains(&dst_ip) {
                return Err(IgnoreReason::NotForUs);
            }
            let src_ip = Ipv6Addr::from(src);
            if !v6_unicast(src_ip) || src_ip.is_loopback() {
                return Err(IgnoreReason::InvalidSource);
            }
            let (ident, seq, data) =
                match Icmpv6Repr::parse(&src, &dst, &icmp).map_err(malformed)? {
                    Icmpv6Repr::EchoRequest { ident, seq, data } => (ident, seq, data),
                    _ => return Err(IgnoreReason::Unsupported),
                };
            let reply = Icmpv6Repr::EchoReply { ident, seq, data };
            let tc = ip.traffic_class() & !0b11;
            emit_v6(
                out,
                f.src(),
                local.mac,
                tags,
                dst,
                src,
                tc,
                ECHO_REPLY_TTL,
                &reply,
            )?;
            Ok(Response::Reply)
        }
        icmp6msg::NEIGHBOR_SOLICIT => on_ns(f, tags, local, out, &ip, &icmp),
        icmp6msg::NEIGHBOR_ADVERT => on_na(local, &ip, &icmp),
        _ => Err(IgnoreReason::Unsupported),
    }
}

/// Common RFC 4861 7.1 checks; the parsed message.
fn nd_parse<'a>(
    ip: &Ipv6Packet<&[u8]>,
    icmp: &Icmpv6Packet<&'a [u8]>,
) -> Result<Icmpv6Repr<'a>, IgnoreReason> {
    if ip.hop_limit() != ND_HOP_LIMIT {
        return Err(IgnoreReason::BadHopLimit);
    }
    let repr = Icmpv6Repr::parse(&ip.src(), &ip.dst(), icmp).map_err(malformed)?;
    if icmp.code() != 0 {
        return Err(IgnoreReason::InvalidNd);
    }
    Ok(repr)
}

fn on_ns(
    f: &EthernetFrame<&[u8]>,
    tags: &Tags,
    local: &LocalAddrs,
    out: &mut Vec<u8>,
    ip: &Ipv6Packet<&[u8]>,
    icmp: &Icmpv6Packet<&[u8]>,
) -> Res {
    let (target, slla) = match nd_parse(ip, icmp)? {
        Icmpv6Repr::NeighborSolicit {
            target,
            source_lladdr,
        } => (Ipv6Addr::from(target), source_lladdr),
        _ => return Err(IgnoreReason::InvalidNd),
    };
    if target.is_multicast() {
        return Err(IgnoreReason::InvalidNd);
    }
    if !local.ipv6.contains(&target) {
        return Err(IgnoreReason::NotForUs);
    }
    let src = Ipv6Addr::from(ip.src());
    let dst = Ipv6Addr::from(ip.dst());
    let dad = src.is_unspecified();
    if dst != solicited_node(target) && (dad || !local.ipv6.contains(&dst)) {
        // RFC 4861 7.1.1: a DAD NS must go to the solicited-node address.
        return Err(if dad {
            IgnoreReason::InvalidNd
        } else {
            IgnoreReason::NotForUs
        });
    }
    if dad && slla.is_some() {
        return Err(IgnoreReason::InvalidNd);
    }
    if src.is_multicast() {
        return Err(IgnoreReason::InvalidSource);
    }
    // A source link-layer option with a group or zero address is not usable.
    let slla = slla.filter(|m| !is_group(m) && *m != [0; 6] && *m != local.mac);
    let (reply_dst, eth_dst, flags) = if dad {
        // RFC 4861 7.2.4: to all-nodes, Solicited flag clear.
        (ALL_NODES, ipv6_multicast_mac(ALL_NODES), NA_OVERRIDE)
    } else {
        (src, slla.unwrap_or(f.src()), NA_SOLICITED | NA_OVERRIDE)
    };
    let na = Icmpv6Repr::NeighborAdvert {
        flags,
        target: target.octets(),
        target_lladdr: Some(local.mac),
    };
    emit_v6(
        out,
        eth_dst,
        local.mac,
        tags,
        target.octets(),
        reply_dst.octets(),
        0,
        ND_HOP_LIMIT,
        &na,
    )?;
    Ok(match slla {
        Some(mac) if !dad && !local.ipv6.contains(&src) => Response::ReplyAndLearned(Neighbor {
            ip: src.into(),
            mac,
            targeted: true,
        }),
        _ => Response::Reply,
    })
}

fn on_na(local: &LocalAddrs, ip: &Ipv6Packet<&[u8]>, icmp: &Icmpv6Packet<&[u8]>) -> Res {
    let (flags, target, tlla) = match nd_parse(ip, icmp)? {
        Icmpv6Repr::NeighborAdvert {
            flags,
            target,
            target_lladdr,
        } => (flags, Ipv6Addr::from(target), target_lladdr),
        _ => return Err(IgnoreReason::InvalidNd),
    };
    let dst = Ipv6Addr::from(ip.dst());
    if target.is_multicast() || (dst.is_multicast() && flags & NA_SOLICITED != 0) {
        return Err(IgnoreReason::InvalidNd);
    }
    if local.ipv6.contains(&target) {
        return Err(IgnoreReason::OurAddress);
    }
    if !v6_unicast(target) {
        return Err(IgnoreReason::InvalidSource);
    }
    let mac = tlla.ok_or(IgnoreReason::NoLinkLayerAddress)?;
    if is_group(&mac) || mac == [0; 6] || mac == local.mac {
        return Err(IgnoreReason::InvalidSource);
    }
    Ok(Response::Learned(Neighbor {
        ip: target.into(),
        mac,
        targeted: flags & NA_SOLICITED != 0 && local.ipv6.contains(&dst),
    }))
}

/// Write Ethernet + IPv6 (no extension headers) + an ICMPv6 message.
#[allow(clippy::too_many_arguments)]
fn emit_v6(
    out: &mut Vec<u8>,
    eth_dst: MacAddr,
    eth_src: MacAddr,
    tags: &Tags,
    src: [u8; 16],
    dst: [u8; 16],
    traffic_class: u8,
    hop_limit: u8,
    msg: &Icmpv6Repr<'_>,
) -> Result<(), IgnoreReason> {
    let len = msg.buffer_len();
    let ip = Ipv6Repr {
        src,
        dst,
        next_header: ip_proto::ICMPV6,
        traffic_class,
        flow_label: 0,
        hop_limit,
        payload_len: u16::try_from(len).map_err(|_| malformed(WireError::Malformed))?,
    };
    let h = tags.header_len();
    out.clear();
    out.resize(h + ipv6::HEADER_LEN + len, 0);
    emit_eth(out, eth_dst, eth_src, tags, EtherType::IPV6).map_err(malformed)?;
    let rest = out.get_mut(h..).unwrap_or(&mut []);
    let n = ip.emit(rest).map_err(malformed)?;
    msg.emit(&src, &dst, rest.get_mut(n..).unwrap_or(&mut []))
        .map_err(malformed)?;
    Ok(())
}

/// An ARP request (who-has `target` tell `local_ip`) to the broadcast
/// address, untagged. `out` is cleared first.
pub fn arp_request(local_mac: MacAddr, local_ip: Ipv4Addr, target: Ipv4Addr, out: &mut Vec<u8>) {
    arp_request_vlan(local_mac, local_ip, target, None, out)
}

/// As [`arp_request`], with an optional 802.1Q tag.
pub fn arp_request_vlan(
    local_mac: MacAddr,
    local_ip: Ipv4Addr,
    target: Ipv4Addr,
    vlan: Option<VlanTag>,
    out: &mut Vec<u8>,
) {
    let tags = Tags::with(vlan);
    let req = ArpRepr {
        op: ArpOp::Request,
        sender_mac: local_mac,
        sender_ip: local_ip.octets(),
        target_mac: [0; 6],
        target_ip: target.octets(),
    };
    out.clear();
    out.resize(tags.header_len() + arp::PACKET_LEN, 0);
    let ok = emit_eth(out, BROADCAST_MAC, local_mac, &tags, EtherType::ARP)
        .and_then(|h| req.emit(out.get_mut(h..).unwrap_or(&mut [])));
    if ok.is_err() {
        out.clear();
    }
}

/// A Neighbor Solicitation for `target` from `local_ip`, to the target's
/// solicited-node multicast address (Ethernet 33:33:ff:xx:xx:xx), hop limit
/// 255, with our source link-layer address option; untagged. `out` is
/// cleared first.
pub fn neighbor_solicitation(
    local_mac: MacAddr,
    local_ip: Ipv6Addr,
    target: Ipv6Addr,
    out: &mut Vec<u8>,
) {
    neighbor_solicitation_vlan(local_mac, local_ip, target, None, out)
}

/// As [`neighbor_solicitation`], with an optional 802.1Q tag.
pub fn neighbor_solicitation_vlan(
    local_mac: MacAddr,
    local_ip: Ipv6Addr,
    target: Ipv6Addr,
    vlan: Option<VlanTag>,
    out: &mut Vec<u8>,
) {
    let group = solicited_node(target);
    let ns = Icmpv6Repr::NeighborSolicit {
        target: target.octets(),
        source_lladdr: Some(local_mac),
    };
    let r = emit_v6(
        out,
        ipv6_multicast_mac(group),
        local_mac,
        &Tags::with(vlan),
        local_ip.octets(),
        group.octets(),
        0,
        ND_HOP_LIMIT,
        &ns,
    );
    if r.is_err() {
        out.clear();
    }
}

/// Resolution state of one neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborState {
    /// Being resolved: `tries` requests sent so far, the last at `last_sent`.
    Incomplete {
        tries: u32,
        last_sent: Option<Instant>,
    },
    /// Resolved (or re-confirmed) at `since`.
    Reachable { since: Instant },
}

/// One neighbor cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborEntry {
    /// The neighbor's MAC. While an aged entry is re-resolved it keeps the
    /// last known MAC until the fast retries are used up.
    pub mac: Option<MacAddr>,
    pub state: NeighborState,
    /// Asked for with [`NeighborTable::want`] (a next hop): kept and
    /// re-resolved when it ages, instead of removed.
    pub wanted: bool,
    /// When a transient entry (an inner destination the traffic asked
    /// for, or an unsolicited binding) was made: it expires a fixed time
    /// later ([`NeighborTable::expire`]). None: a configured next hop
    /// ([`NeighborTable::want`]), which never expires.
    pub added: Option<Instant>,
}

/// Neighbor cache for next-hop resolution (ARP and ND). Time is passed in.
///
/// A wanted address is requested at once, then every `retry` until
/// `max_tries` requests went unanswered, then every `slow_retry` for as long
/// as it stays wanted.
#[derive(Debug, Clone)]
pub struct NeighborTable {
    entries: BTreeMap<IpAddr, NeighborEntry>,
    /// Entries at most, for addresses the traffic asks for
    /// ([`want_if_room`](Self::want_if_room)) and unsolicited bindings;
    /// the next hops of the configuration ([`want`](Self::want)) always get
    /// one.
    limit: usize,
    retry: Duration,
    max_tries: u32,
    slow_retry: Duration,
    /// Transient entries in the order they were made, with their `added`
    /// time: [`expire`](Self::expire) pops the front only. An item whose
    /// entry is gone, pinned or made again since is skipped.
    expiry: VecDeque<(Instant, IpAddr)>,
}

impl Default for NeighborTable {
    fn default() -> Self {
        NeighborTable::new()
    }
}

impl NeighborTable {
    /// Default fast retries.
    pub const DEFAULT_MAX_TRIES: u32 = 3;
    /// Default fast retry interval.
    pub const DEFAULT_RETRY: Duration = Duration::from_secs(1);
    /// Default slow retry interval, after the fast retries.
    pub const DEFAULT_SLOW_RETRY: Duration = Duration::from_secs(5);

    /// Retry every 1 s, 3 times, then every 5 s.
    pub fn new() -> Self {
        Self::with_timing(
            Self::DEFAULT_RETRY,
            Self::DEFAULT_MAX_TRIES,
            Self::DEFAULT_SLOW_RETRY,
        )
    }

    pub fn with_timing(retry: Duration, max_tries: u32, slow_retry: Duration) -> Self {
        NeighborTable {
            entries: BTreeMap::new(),
            limit: usize::MAX,
            retry,
            max_tries,
            slow_retry,
            expiry: VecDeque::new(),
        }
    }

    /// A new limit (a reload that changed `limits.neighbors`): entries over
    /// a lowered limit stay until they expire; none is added meanwhile.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Removes the transient entries made `max_age` or longer before
    /// `now`, oldest first, at most `max` of them (the queue is in the
    /// order they were made, so the first one not yet due ends the walk).
    /// The removed addresses are pushed to `gone`.
    pub fn expire(&mut self, now: Instant, max_age: Duration, max: usize, gone: &mut Vec<IpAddr>) {
        for _ in 0..max {
            let Some(&(at, ip)) = self.expiry.front() else {
                break;
            };
            if now.saturating_duration_since(at) < max_age {
                break;
            }
            self.expiry.pop_front();
            if self.entries.get(&ip).is_some_and(|e| e.added == Some(at)) {
                self.entries.remove(&ip);
                gone.push(ip);
            }
        }
    }

    /// At most `limit` entries (`limits.neighbors`).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// True when a new address would be refused.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.limit
    }

    /// As [`want`](Self::want) for an address the traffic asks for (an
    /// inner destination of an L3 VNI): refused (false) when `ip` has no
    /// entry and the table is full, so a sender cannot grow it without
    /// bound.
    /// A new entry is transient: made at `now`, it expires
    /// ([`expire`](Self::expire)).
    pub fn want_if_room(&mut self, ip: IpAddr, now: Instant) -> bool {
        if let Some(e) = self.entries.get_mut(&ip) {
            e.wanted = true;
            return true;
        }
        if self.is_full() {
            return false;
        }
        self.entries.insert(
            ip,
            NeighborEntry {
                mac: None,
                state: NeighborState::Incomplete {
                    tries: 0,
                    last_sent: None,
                },
                wanted: true,
                added: Some(now),
            },
        );
        self.expiry.push_back((now, ip));
        true
    }

    /// Ask for `ip` to be resolved (and kept resolved: a configured next
    /// hop, which never expires). A new entry is incomplete and due at once.
    pub fn want(&mut self, ip: IpAddr) {
        self.entries
            .entry(ip)
            .and_modify(|e| {
                e.wanted = true;
                e.added = None;
            })
            .or_insert(NeighborEntry {
                mac: None,
                state: NeighborState::Incomplete {
                    tries: 0,
                    last_sent: None,
                },
                wanted: true,
                added: None,
            });
    }

    /// Stop wanting `ip` and drop its entry.
    pub fn forget(&mut self, ip: IpAddr) {
        self.entries.remove(&ip);
    }

    /// `ip` is at `mac` as of `now`: create or update the entry, reachable.
    /// A new entry is refused when the table is full.
    pub fn learn(&mut self, ip: IpAddr, mac: MacAddr, now: Instant) {
        if !self.entries.contains_key(&ip) && self.is_full() {
            return;
        }
        let expiry = &mut self.expiry;
        let e = self.entries.entry(ip).or_insert_with(|| {
            expiry.push_back((now, ip));
            NeighborEntry {
                mac: None,
                state: NeighborState::Reachable { since: now },
                wanted: false,
                added: Some(now),
            }
        });
        e.mac = Some(mac);
        e.state = NeighborState::Reachable { since: now };
    }

    /// As [`learn`](Self::learn) for an existing entry only; true if there was one.
    pub fn refresh(&mut self, ip: IpAddr, mac: MacAddr, now: Instant) -> bool {
        match self.entries.get_mut(&ip) {
            Some(e) => {
                e.mac = Some(mac);
                e.state = NeighborState::Reachable { since: now };
                true
            }
            None => false,
        }
    }

    /// Apply what [`respond`] saw: a targeted binding creates or updates an
    /// entry, any other only updates an existing one (RFC 826, RFC 4861 7.2.5).
    pub fn learn_from(&mut self, n: &Neighbor, now: Instant) {
        if n.targeted {
            self.learn(n.ip, n.mac, now);
        } else {
            self.refresh(n.ip, n.mac, now);
        }
    }

    /// The MAC to send to `ip`, if known.
    pub fn lookup(&self, ip: IpAddr) -> Option<MacAddr> {
        self.entries.get(&ip).and_then(|e| e.mac)
    }

    /// The entry of `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&NeighborEntry> {
        self.entries.get(&ip)
    }

    /// All entries, by address.
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &NeighborEntry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The addresses a request must be sent for now (in address order); each
    /// is counted as sent at `now`. Send one ARP request / NS per item.
    pub fn due_requests(&mut self, now: Instant) -> impl Iterator<Item = IpAddr> {
        let mut due = Vec::new();
        for (ip, e) in self.entries.iter_mut() {
            let NeighborState::Incomplete { tries, last_sent } = e.state else {
                continue;
            };
            let wait = if tries < self.max_tries {
                self.retry
            } else {
                self.slow_retry
            };
            let is_due = match last_sent {
                None => true,
                Some(t) => now.saturating_duration_since(t) >= wait,
            };
            if !is_due {
                continue;
            }
            // The fast retries are used up: the stale MAC is no longer trusted.
            if tries >= self.max_tries {
                e.mac = None;
            }
            e.state = NeighborState::Incomplete {
                tries: tries.saturating_add(1),
                last_sent: Some(now),
            };
            due.push(*ip);
        }
        due.into_iter()
    }

    /// Entries reachable for `max_age` or longer: a wanted one goes back to
    /// incomplete (re-resolved at once, its MAC kept until the fast retries
    /// are used up), any other is removed. Returns how many were removed.
    pub fn age(&mut self, now: Instant, max_age: Duration) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| match e.state {
            NeighborState::Reachable { since }
                if now.saturating_duration_since(since) >= max_age =>
            {
                if e.wanted {
                    e.state = NeighborState::Incomplete {
                        tries: 0,
                        last_sent: None,
                    };
                    true
                } else {
                    false
                }
            }
            NeighborState::Incomplete { .. } => e.wanted,
            NeighborState::Reachable { .. } => true,
        });
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum;

    /// An NA with the target link-layer option.
    const NA_LEN: usize = crate::wire::icmpv6::ND_LEN + 8;

    const OUR_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x0a];
    const PEER_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x0b];
    const OUR4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const PEER4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const OUR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    const LL6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0x1234, 0x5678);

    fn local() -> LocalAddrs {
        LocalAddrs {
            mac: OUR_MAC,
            ipv4: vec![Ipv4Addr::new(10, 9, 9, 9), OUR4],
            ipv6: vec![OUR6, LL6],
        }
    }

    fn vlan(vid: u16) -> VlanTag {
        VlanTag {
            tpid: EtherType::VLAN,
            tci: 0x6000 | vid,
        }
    }

    fn eth(dst: MacAddr, src: MacAddr, tags: &[VlanTag], ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut t = Tags::none();
        for (i, v) in tags.iter().enumerate() {
            t.t[i] = *v;
            t.n = i + 1;
        }
        let mut b = vec![0u8; t.header_len() + body.len()];
        let h = emit_eth(&mut b, dst, src, &t, ethertype).unwrap();
        b[h..].copy_from_slice(body);
        b
    }

    fn arp_frame(
        op: ArpOp,
        sha: MacAddr,
        spa: Ipv4Addr,
        tpa: Ipv4Addr,
        tags: &[VlanTag],
    ) -> Vec<u8> {
        let mut a = [0u8; 28];
        ArpRepr {
            op,
            sender_mac: sha,
            sender_ip: spa.octets(),
            target_mac: [0; 6],
            target_ip: tpa.octets(),
        }
        .emit(&mut a)
        .unwrap();
        let dst = if op == ArpOp::Request {
            BROADCAST_MAC
        } else {
            OUR_MAC
        };
        eth(dst, sha, tags, EtherType::ARP, &a)
    }

    fn ping4(src: Ipv4Addr, dst: Ipv4Addr, tags: &[VlanTag], data: &[u8]) -> Vec<u8> {
        let icmp = Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq: 7,
            data,
        };
        let mut b = vec![0u8; 20 + icmp.buffer_len()];
        Ipv4Repr {
            src: src.octets(),
            dst: dst.octets(),
            protocol: ip_proto::ICMP,
            tos: 0xb9,
            ttl: 3,
            ident: 99,
            dont_frag: true,
            payload_len: icmp.buffer_len() as u16,
        }
        .emit(&mut b)
        .unwrap();
        icmp.emit(&mut b[20..]).unwrap();
        eth(OUR_MAC, PEER_MAC, tags, EtherType::IPV4, &b)
    }

    fn v6(
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hlim: u8,
        tags: &[VlanTag],
        m: &Icmpv6Repr<'_>,
    ) -> Vec<u8> {
        let t = {
            let mut t = Tags::none();
            for (i, v) in tags.iter().enumerate() {
                t.t[i] = *v;
                t.n = i + 1;
            }
            t
        };
        let mut out = Vec::new();
        emit_v6(
            &mut out,
            eth_dst,
            PEER_MAC,
            &t,
            src.octets(),
            dst.octets(),
            0x20,
            hlim,
            m,
        )
        .unwrap();
        out
    }

    fn ns(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        target: Ipv6Addr,
        slla: Option<MacAddr>,
        hlim: u8,
    ) -> Vec<u8> {
        let eth_dst = if dst.is_multicast() {
            ipv6_multicast_mac(dst)
        } else {
            OUR_MAC
        };
        v6(
            eth_dst,
            src,
            dst,
            hlim,
            &[],
            &Icmpv6Repr::NeighborSolicit {
                target: target.octets(),
                source_lladdr: slla,
            },
        )
    }

    fn run(frame: &[u8]) -> (Response, Vec<u8>) {
        let mut out = vec![0xee; 5];
        let r = respond(frame, &local(), &mut out);
        (r, out)
    }

    #[test]
    fn arp_request_for_us_is_answered_and_sender_learned() {
        for tags in [
            &[][..],
            &[vlan(100)][..],
            &[
                VlanTag {
                    tpid: EtherType::QINQ,
                    tci: 5,
                },
                vlan(7),
            ][..],
        ] {
            let f = arp_frame(ArpOp::Request, PEER_MAC, PEER4, OUR4, tags);
            let (r, out) = run(&f);
            assert_eq!(
                r,
                Response::ReplyAndLearned(Neighbor {
                    ip: PEER4.into(),
                    mac: PEER_MAC,
                    targeted: true
                })
            );
            let e = EthernetFrame::new_checked(&out[..]).unwrap();
            assert_eq!(
                (e.dst(), e.src(), e.ethertype()),
                (PEER_MAC, OUR_MAC, EtherType::ARP)
            );
            assert_eq!(e.vlan_count(), tags.len());
            for (i, t) in tags.iter().enumerate() {
                assert_eq!(e.vlan(i), Some(*t));
            }
            let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap());
            assert_eq!(
                a,
                ArpRepr {
                    op: ArpOp::Reply,
                    sender_mac: OUR_MAC,
                    sender_ip: OUR4.octets(),
                    target_mac: PEER_MAC,
                    target_ip: PEER4.octets(),
                }
            );
            assert_eq!(out.len(), e.header_len() + 28);
        }
    }

    #[test]
    fn arp_other_cases() {
        let other = Ipv4Addr::new(198, 18, 0, 77);
        // Request for someone else: learn (update only).
        let (r, out) = run(&arp_frame(ArpOp::Request, PEER_MAC, PEER4, other, &[]));
        assert_eq!(
            r,
            Response::Learned(Neighbor {
                ip: PEER4.into(),
                mac: PEER_MAC,
                targeted: false
            })
        );
        assert!(out.is_empty());
        // Reply to us.
        let (r, _) = run(&arp_frame(ArpOp::Reply, PEER_MAC, PEER4, OUR4, &[]));
        assert_eq!(
            r,
            Response::Learned(Neighbor {
                ip: PEER4.into(),
                mac: PEER_MAC,
                targeted: true
            })
        );
        // Probe (sender 0.0.0.0): answered, nothing learned.
        let (r, out) = run(&arp_frame(
            ArpOp::Request,
            PEER_MAC,
            Ipv4Addr::UNSPECIFIED,
            OUR4,
            &[],
        ));
        assert_eq!(r, Response::Reply);
        assert!(!out.is_empty());
        // From ourselves, from a group MAC, claiming our address, other op.
        let (r, _) = run(&arp_frame(ArpOp::Request, OUR_MAC, PEER4, OUR4, &[]));
        assert_eq!(r, Response::Ignored(IgnoreReason::FromSelf));
        let (r, _) = run(&arp_frame(ArpOp::Reply, PEER_MAC, OUR4, OUR4, &[]));
        assert_eq!(r, Response::Ignored(IgnoreReason::OurAddress));
        let (r, _) = run(&arp_frame(ArpOp::Other(3), PEER_MAC, PEER4, OUR4, &[]));
        assert_eq!(r, Response::Ignored(IgnoreReason::Unsupported));
        // Unicast to another station.
        let mut f = arp_frame(ArpOp::Reply, PEER_MAC, PEER4, OUR4, &[]);
        f[5] = 0x99;
        assert_eq!(run(&f).0, Response::Ignored(IgnoreReason::NotForUs));
    }

    #[test]
    fn icmpv4_echo() {
        let data: Vec<u8> = (0..100u8).collect();
        for tags in [&[][..], &[vlan(42)][..]] {
            let f = ping4(PEER4, OUR4, tags, &data);
            let (r, out) = run(&f);
            assert_eq!(r, Response::Reply);
            let e = EthernetFrame::new_checked(&out[..]).unwrap();
            assert_eq!((e.dst(), e.src()), (PEER_MAC, OUR_MAC));
            assert_eq!(e.vlan(0), tags.first().copied());
            let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!((ip.src(), ip.dst()), (OUR4.octets(), PEER4.octets()));
            assert_eq!((ip.ttl(), ip.tos(), ip.protocol()), (64, 0xb8, 1));
            let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
            assert_eq!(
                Icmpv4Repr::parse(&icmp).unwrap(),
                Icmpv4Repr::EchoReply {
                    ident: 0x1234,
                    seq: 7,
                    data: &data
                }
            );
        }
        // Not ours, bad IP checksum, bad ICMP checksum, fragment, padding.
        let f = ping4(PEER4, Ipv4Addr::new(198, 18, 0, 9), &[], b"x");
        assert_eq!(run(&f).0, Response::Ignored(IgnoreReason::NotForUs));
        let mut f = ping4(PEER4, OUR4, &[], b"x");
        f[14 + 10] ^= 1;
        assert_eq!(
            run(&f).0,
            Response::Ignored(IgnoreReason::Malformed(WireError::BadChecksum))
        );
        let mut f = ping4(PEER4, OUR4, &[], b"x");
        f[14 + 20 + 8] ^= 1;
        assert_eq!(
            run(&f).0,
            Response::Ignored(IgnoreReason::Malformed(WireError::BadChecksum))
        );
        let mut f = ping4(PEER4, OUR4, &[], b"x");
        f[14 + 6] |= 0x20;
        let mut ipb = f[14..34].to_vec();
        ipb[10] = 0;
        ipb[11] = 0;
        let c = checksum::checksum(&ipb);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(run(&f).0, Response::Ignored(IgnoreReason::Fragment));
        let mut f = ping4(PEER4, OUR4, &[], b"abc");
        f.extend_from_slice(&[0; 20]); // Ethernet padding is not echoed
        let (r, out) = run(&f);
        assert_eq!(r, Response::Reply);
        assert_eq!(out.len(), 14 + 20 + 8 + 3);
        let f = ping4(Ipv4Addr::BROADCAST, OUR4, &[], b"x");
        assert_eq!(run(&f).0, Response::Ignored(IgnoreReason::InvalidSource));
    }

    #[test]
    fn icmpv6_echo() {
        let data = b"hello, gateway";
        let req = Icmpv6Repr::EchoRequest {
            ident: 9,
            seq: 10,
            data,
        };
        let f = v6(OUR_MAC, PEER6, OUR6, 17, &[vlan(300)], &req);
        let (r, out) = run(&f);
        assert_eq!(r, Response::Reply);
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.vlan(0)),
            (PEER_MAC, OUR_MAC, Some(vlan(300)))
        );
        let ip = Ipv6Packet::new_checked(e.payload()).unwrap();
        assert_eq!(
            (ip.src(), ip.dst(), ip.hop_limit()),
            (OUR6.octets(), PEER6.octets(), 64)
        );
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&ip.src(), &ip.dst(), &icmp).unwrap(),
            Icmpv6Repr::EchoReply {
                ident: 9,
                seq: 10,
                data
            }
        );
        // To a multicast group or another address: ignored.
        let f = v6(OUR_MAC, PEER6, ALL_NODES, 64, &[], &req);
        assert_eq!(run(&f).0, Response::Ignored(IgnoreReason::NotForUs));
        let mut f = v6(OUR_MAC, PEER6, OUR6, 64, &[], &req);
        let n = f.len();
        f[n - 1] ^= 0x55;
        assert_eq!(
            run(&f).0,
            Response::Ignored(IgnoreReason::Malformed(WireError::BadChecksum))
        );
    }

    fn check_na(out: &[u8], eth_dst: MacAddr, dst: Ipv6Addr, target: Ipv6Addr, flags: u32) {
        let e = EthernetFrame::new_checked(out).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.ethertype()),
            (eth_dst, OUR_MAC, EtherType::IPV6)
        );
        let ip = Ipv6Packet::new_checked(e.payload()).unwrap();
        assert_eq!(ip.hop_limit(), 255);
        assert_eq!((ip.src(), ip.dst()), (target.octets(), dst.octets()));
        assert_eq!(ip.payload().len(), NA_LEN);
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&ip.src(), &ip.dst(), &icmp).unwrap(),
            Icmpv6Repr::NeighborAdvert {
                flags,
                target: target.octets(),
                target_lladdr: Some(OUR_MAC)
            }
        );
    }

    #[test]
    fn neighbor_solicitations() {
        // Multicast with SLLA.
        let (r, out) = run(&ns(PEER6, solicited_node(OUR6), OUR6, Some(PEER_MAC), 255));
        assert_eq!(
            r,
            Response::ReplyAndLearned(Neighbor {
                ip: PEER6.into(),
                mac: PEER_MAC,
                targeted: true
            })
        );
        check_na(&out, PEER_MAC, PEER6, OUR6, NA_SOLICITED | NA_OVERRIDE);
        // Unicast without SLLA (NUD): to the Ethernet source, nothing learned.
        let (r, out) = run(&ns(PEER6, OUR6, OUR6, None, 255));
        assert_eq!(r, Response::Reply);
        check_na(&out, PEER_MAC, PEER6, OUR6, NA_SOLICITED | NA_OVERRIDE);
        // Our second (link-local) address.
        let (r, out) = run(&ns(PEER6, solicited_node(LL6), LL6, None, 255));
        assert_eq!(r, Response::Reply);
        check_na(&out, PEER_MAC, PEER6, LL6, NA_SOLICITED | NA_OVERRIDE);
        // DAD.
        let (r, out) = run(&ns(
            Ipv6Addr::UNSPECIFIED,
            solicited_node(OUR6),
            OUR6,
            None,
            255,
        ));
        assert_eq!(r, Response::Reply);
        check_na(&out, [0x33, 0x33, 0, 0, 0, 1], ALL_NODES, OUR6, NA_OVERRIDE);
        // Invalid ones.
        let bad = [
            (
                ns(PEER6, solicited_node(OUR6), OUR6, Some(PEER_MAC), 254),
                IgnoreReason::BadHopLimit,
            ),
            (
                ns(
                    Ipv6Addr::UNSPECIFIED,
                    solicited_node(OUR6),
                    OUR6,
                    Some(PEER_MAC),
                    255,
                ),
                IgnoreReason::InvalidNd,
            ),
            (
                ns(Ipv6Addr::UNSPECIFIED, OUR6, OUR6, None, 255),
                IgnoreReason::InvalidNd,
            ),
            (
                ns(PEER6, solicited_node(PEER6), PEER6, None, 255),
                IgnoreReason::NotForUs,
            ),
            (
                ns(PEER6, solicited_node(PEER6), OUR6, None, 255),
                IgnoreReason::NotForUs,
            ),
            (
                ns(PEER6, solicited_node(OUR6), ALL_NODES, None, 255),
                IgnoreReason::InvalidNd,
            ),
        ];
        for (f, why) in bad {
            assert_eq!(run(&f), (Response::Ignored(why), vec![]));
        }
    }

    #[test]
    fn neighbor_advertisements() {
        let na = |flags, target: Ipv6Addr, tlla, dst: Ipv6Addr, hlim| {
            v6(
                OUR_MAC,
                PEER6,
                dst,
                hlim,
                &[],
                &Icmpv6Repr::NeighborAdvert {
                    flags,
                    target: target.octets(),
                    target_lladdr: tlla,
                },
            )
        };
        let (r, out) = run(&na(NA_SOLICITED, PEER6, Some(PEER_MAC), OUR6, 255));
        assert!(out.is_empty());
        assert_eq!(
            r,
            Response::Learned(Neighbor {
                ip: PEER6.into(),
                mac: PEER_MAC,
                targeted: true
            })
        );
        let (r, _) = run(&na(NA_OVERRIDE, PEER6, Some(PEER_MAC), ALL_NODES, 255));
        assert_eq!(
            r,
            Response::Learned(Neighbor {
                ip: PEER6.into(),
                mac: PEER_MAC,
                targeted: false
            })
        );
        let ign = |f: Vec<u8>| run(&f).0;
        assert_eq!(
            ign(na(NA_SOLICITED, PEER6, Some(PEER_MAC), OUR6, 64)),
            Response::Ignored(IgnoreReason::BadHopLimit)
        );
        assert_eq!(
            ign(na(NA_SOLICITED, PEER6, Some(PEER_MAC), ALL_NODES, 255)),
            Response::Ignored(IgnoreReason::InvalidNd)
        );
        assert_eq!(
            ign(na(NA_SOLICITED, PEER6, None, OUR6, 255)),
            Response::Ignored(IgnoreReason::NoLinkLayerAddress)
        );
        assert_eq!(
            ign(na(NA_OVERRIDE, OUR6, Some(PEER_MAC), ALL_NODES, 255)),
            Response::Ignored(IgnoreReason::OurAddress)
        );
    }

    #[test]
    fn request_builders() {
        let mut out = vec![1, 2, 3];
        arp_request(OUR_MAC, OUR4, PEER4, &mut out);
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(
            (e.dst(), e.src(), e.ethertype(), e.vlan_count()),
            (BROADCAST_MAC, OUR_MAC, EtherType::ARP, 0)
        );
        let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap());
        assert_eq!(
            (a.op, a.sender_mac, a.sender_ip, a.target_mac, a.target_ip),
            (
                ArpOp::Request,
                OUR_MAC,
                OUR4.octets(),
                [0; 6],
                PEER4.octets()
            )
        );
        // Our own request, answered by a peer's responder.
        let peer = LocalAddrs {
            mac: PEER_MAC,
            ipv4: vec![PEER4],
            ipv6: vec![PEER6],
        };
        let mut rep = Vec::new();
        assert!(matches!(
            respond(&out, &peer, &mut rep),
            Response::ReplyAndLearned(_)
        ));
        assert_eq!(
            run(&rep).0,
            Response::Learned(Neighbor {
                ip: PEER4.into(),
                mac: PEER_MAC,
                targeted: true
            })
        );

        arp_request_vlan(OUR_MAC, OUR4, PEER4, Some(vlan(9)), &mut out);
        assert_eq!(
            EthernetFrame::new_checked(&out[..]).unwrap().vlan(0),
            Some(vlan(9))
        );

        neighbor_solicitation(OUR_MAC, OUR6, PEER6, &mut out);
        let e = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(e.dst(), [0x33, 0x33, 0xff, 0, 0, 2]);
        let ip = Ipv6Packet::new_checked(e.payload()).unwrap();
        assert_eq!(
            ip.dst(),
            "ff02::1:ff00:2".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!((ip.src(), ip.hop_limit()), (OUR6.octets(), 255));
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&ip.src(), &ip.dst(), &icmp).unwrap(),
            Icmpv6Repr::NeighborSolicit {
                target: PEER6.octets(),
                source_lladdr: Some(OUR_MAC)
            }
        );
        let r = respond(&out, &peer, &mut rep);
        assert_eq!(
            r,
            Response::ReplyAndLearned(Neighbor {
                ip: OUR6.into(),
                mac: OUR_MAC,
                targeted: true
            })
        );
        assert_eq!(
            run(&rep).0,
            Response::Learned(Neighbor {
                ip: PEER6.into(),
                mac: PEER_MAC,
                targeted: true
            })
        );
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![
            arp_frame(ArpOp::Request, PEER_MAC, PEER4, OUR4, &[vlan(1)]),
            ping4(PEER4, OUR4, &[vlan(2), vlan(3)], b"0123456789"),
            v6(
                OUR_MAC,
                PEER6,
                OUR6,
                64,
                &[],
                &Icmpv6Repr::EchoRequest {
                    ident: 1,
                    seq: 2,
                    data: b"abcdef",
                },
            ),
            ns(PEER6, solicited_node(OUR6), OUR6, Some(PEER_MAC), 255),
            ns(Ipv6Addr::UNSPECIFIED, solicited_node(OUR6), OUR6, None, 255),
        ]
    }

    #[test]
    fn truncation_and_noise_never_panic() {
        let mut out = Vec::new();
        let mut x: u32 = 0x1234_5678;
        for s in samples() {
            assert!(matches!(
                respond(&s, &local(), &mut out),
                Response::Reply | Response::ReplyAndLearned(_)
            ));
            for n in 0..s.len() {
                let r = respond(&s[..n], &local(), &mut out);
                assert!(matches!(r, Response::Ignored(_)), "len {n}: {r:?}");
                assert!(out.is_empty());
            }
            for _ in 0..3000 {
                let mut m = s.clone();
                for _ in 0..1 + (x % 3) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let i = (x as usize) % m.len();
                    m[i] ^= (x >> 8) as u8 | 1;
                }
                let r = respond(&m, &local(), &mut out);
                if !matches!(r, Response::Reply | Response::ReplyAndLearned(_)) {
                    assert!(out.is_empty());
                }
            }
        }
    }

    /// The limit holds for addresses the traffic asks for and for
    /// unsolicited bindings; known addresses and configured next hops still
    /// get their entry, and the table never grows past the limit otherwise.
    #[test]
    fn neighbor_table_limit_refuses_new_traffic_addresses() {
        let now = Instant::now();
        let mac = [2, 0, 0, 0, 0, 9];
        let ip = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0xc613_0000 + i));
        let mut t = NeighborTable::new().with_limit(100);
        let admitted = (0..250).filter(|&i| t.want_if_room(ip(i), now)).count();
        assert_eq!((admitted, t.len()), (100, 100));
        assert!(t.is_full());
        assert!(
            t.want_if_room(ip(7), now),
            "a known address is never refused"
        );
        t.learn(ip(300), mac, now);
        assert_eq!(
            t.lookup(ip(300)),
            None,
            "an unsolicited new binding is refused"
        );
        t.learn(ip(3), mac, now);
        assert_eq!(t.lookup(ip(3)), Some(mac), "a wanted address resolves");
        t.want(ip(400));
        assert!(
            t.get(ip(400)).is_some_and(|e| e.wanted),
            "configured next hops always"
        );
        assert_eq!(t.len(), 101);
        t.forget(ip(0));
        t.forget(ip(1));
        assert!(
            t.want_if_room(ip(500), now),
            "room again after entries left"
        );
        assert!(!t.want_if_room(ip(501), now));
    }

    /// Transient entries (inner destinations, unsolicited bindings) expire
    /// `max_age` after they were made, at most `max` per call, oldest
    /// first, and make room under the limit; configured next hops never
    /// expire, nor does a transient entry a next hop pinned since; an
    /// address asked for again after it expired is a new entry.
    #[test]
    fn neighbor_table_transient_entries_expire() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mac = [2, 0, 0, 0, 0, 9];
        let ip = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0xc613_0000 + i));
        let mut t = NeighborTable::new().with_limit(5);
        t.want(ip(100));
        assert!(t.want_if_room(ip(1), t0));
        t.learn(ip(1), mac, t0 + s(1));
        assert!(t.want_if_room(ip(2), t0 + s(2)));
        t.learn(ip(3), mac, t0 + s(3)); // unsolicited, targeted
        assert!(t.want_if_room(ip(4), t0 + s(4)));
        assert!(!t.want_if_room(ip(5), t0 + s(4)), "full");
        let mut gone = Vec::new();
        t.expire(t0 + s(300), s(300), 16, &mut gone);
        assert_eq!(gone, vec![ip(1)], "only the one made 300 s ago");
        assert!(t.want_if_room(ip(5), t0 + s(300)), "room again");
        // Pinned by the configuration since: never expires.
        t.want(ip(2));
        gone.clear();
        t.expire(t0 + s(10_000), s(300), 2, &mut gone);
        assert_eq!(gone, vec![ip(3)], "at most 2 items popped per call");
        gone.clear();
        t.expire(t0 + s(10_000), s(300), 16, &mut gone);
        assert_eq!(gone, vec![ip(4), ip(5)]);
        assert!(t.get(ip(2)).is_some() && t.get(ip(100)).is_some());
        assert_eq!(t.len(), 2);
        // Made again after it expired: a new entry with its own time.
        assert!(t.want_if_room(ip(1), t0 + s(10_000)));
        gone.clear();
        t.expire(t0 + s(10_100), s(300), 16, &mut gone);
        assert!(gone.is_empty());
        t.expire(t0 + s(10_300), s(300), 16, &mut gone);
        assert_eq!(gone, vec![ip(1)]);
        // A lowered limit refuses new entries until enough expired.
        t.set_limit(2);
        assert!(!t.want_if_room(ip(6), t0 + s(10_300)));
    }

    #[test]
    fn neighbor_table_retries_and_learns() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let a: IpAddr = PEER4.into();
        let b: IpAddr = PEER6.into();
        let mut t = NeighborTable::new();
        t.want(a);
        t.want(b);
        assert_eq!(t.due_requests(t0).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(t.due_requests(t0 + ms(999)).count(), 0);
        assert_eq!(t.due_requests(t0 + s(1)).count(), 2);
        assert_eq!(t.due_requests(t0 + s(2)).count(), 2);
        // Three fast tries used: now every 5 s.
        assert_eq!(t.due_requests(t0 + s(3)).count(), 0);
        assert_eq!(t.due_requests(t0 + s(6)).count(), 0);
        assert_eq!(t.due_requests(t0 + s(7)).count(), 2);
        assert_eq!(
            t.get(a).unwrap().state,
            NeighborState::Incomplete {
                tries: 4,
                last_sent: Some(t0 + s(7))
            }
        );
        assert_eq!(t.lookup(a), None);
        t.learn(a, PEER_MAC, t0 + s(8));
        assert_eq!(t.lookup(a), Some(PEER_MAC));
        assert_eq!(t.due_requests(t0 + s(20)).collect::<Vec<_>>(), vec![b]);
        // Ageing: wanted -> re-resolved, MAC kept during the fast retries.
        assert_eq!(t.age(t0 + s(30), s(60)), 0);
        assert_eq!(t.age(t0 + s(68), s(60)), 0);
        assert_eq!(t.lookup(a), Some(PEER_MAC));
        // b (slow retries since 20 s) is due too.
        assert_eq!(t.due_requests(t0 + s(68)).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(t.due_requests(t0 + s(69)).collect::<Vec<_>>(), vec![a]);
        assert_eq!(t.due_requests(t0 + s(70)).collect::<Vec<_>>(), vec![a]);
        assert_eq!(t.lookup(a), Some(PEER_MAC));
        assert_eq!(t.due_requests(t0 + s(75)).count(), 2);
        assert_eq!(t.lookup(a), None);
        // learn_from: untargeted only updates.
        let c: IpAddr = Ipv4Addr::new(198, 18, 0, 3).into();
        t.learn_from(
            &Neighbor {
                ip: c,
                mac: [2; 6],
                targeted: false,
            },
            t0,
        );
        assert_eq!(t.lookup(c), None);
        t.learn_from(
            &Neighbor {
                ip: b,
                mac: [3; 6],
                targeted: false,
            },
            t0 + s(80),
        );
        assert_eq!(t.lookup(b), Some([3; 6]));
        t.learn_from(
            &Neighbor {
                ip: c,
                mac: [2; 6],
                targeted: true,
            },
            t0 + s(80),
        );
        assert_eq!(t.lookup(c), Some([2; 6]));
        // Unwanted entries age out; wanted ones stay.
        assert_eq!(t.age(t0 + s(200), s(60)), 1);
        assert_eq!(t.lookup(c), None);
        assert_eq!(t.len(), 2);
        t.forget(a);
        assert_eq!(t.len(), 1);
        assert_eq!(t.due_requests(t0 + s(200)).collect::<Vec<_>>(), vec![b]);
        // A `now` before the last send neither panics nor fires.
        assert_eq!(t.due_requests(t0).count(), 0);
    }
}
