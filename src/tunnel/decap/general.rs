//! The decap general tier (see [the glossary](crate::tunnel#tiers)): every
//! RFC 8926 check in order, the first failure the one counted drop reason.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Decapsulator, Delivery, DropReason, InnerUpdate, OptionsSeen, Verdict};
use crate::tunnel::PayloadKind;
use crate::wire::checksum;
use crate::wire::ethernet::{self, EtherType};
use crate::wire::geneve::{self, Vni};
use crate::wire::{ip_proto, ipv4, ipv6, udp, Encapsulation};

macro_rules! drop_if {
    ($cond:expr, $r:expr) => {
        if $cond {
            return Verdict::Drop($r);
        }
    };
}

impl Decapsulator {
    /// The general tier: every check in order, the first failure the reason.
    #[inline(never)]
    pub fn decap_general(&self, frame: &[u8]) -> Verdict {
        // --- Ethernet
        let Some((et, l3)) = ethernet::l3_offset(frame) else {
            return Verdict::Drop(DropReason::EthTruncated);
        };
        // Tagged frames (the fast tiers decline them): one 802.1Q tag of the
        // underlay's VLAN, nothing else.
        if l3 != ethernet::HEADER_LEN {
            let one_tag = l3 == ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN
                && frame[12..14] == EtherType::VLAN.to_be_bytes();
            let vid = u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff;
            drop_if!(
                !one_tag || self.cfg.underlay_vlan != Some(vid),
                DropReason::UnderlayVlan
            );
        }
        // --- Outer IP. `end` = end of the IP packet (padding excluded).
        let (l4, end, proto, src, dst, tos, ttl);
        match et {
            EtherType::IPV4 => {
                let Some(h) = frame.get(l3..l3 + ipv4::HEADER_LEN) else {
                    return Verdict::Drop(DropReason::Ipv4BadHeader);
                };
                let hl = usize::from(h[0] & 0x0f) * 4;
                drop_if!(
                    h[0] >> 4 != 4 || hl < ipv4::HEADER_LEN,
                    DropReason::Ipv4BadHeader
                );
                let tl = usize::from(u16::from_be_bytes([h[2], h[3]]));
                drop_if!(frame.len() < l3 + hl, DropReason::Ipv4BadHeader);
                drop_if!(tl < hl || frame.len() < l3 + tl, DropReason::Ipv4BadLength);
                if self.cfg.verify_ipv4_checksum {
                    let full = &frame[l3..l3 + hl];
                    drop_if!(
                        checksum::fold(checksum::accumulate(0, full)) != 0xffff,
                        DropReason::Ipv4BadChecksum
                    );
                }
                drop_if!(
                    u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0,
                    DropReason::IpFragment
                );
                let d = [h[16], h[17], h[18], h[19]];
                drop_if!(!self.is_local_v4(d), DropReason::NotLocalAddress);
                l4 = l3 + hl;
                end = l3 + tl;
                proto = h[9];
                src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
                dst = IpAddr::V4(Ipv4Addr::from(d));
                tos = h[1];
                ttl = h[8];
            }
            EtherType::IPV6 => {
                let Some(h) = frame.get(l3..l3 + ipv6::HEADER_LEN) else {
                    return Verdict::Drop(DropReason::Ipv6BadHeader);
                };
                drop_if!(h[0] >> 4 != 6, DropReason::Ipv6BadHeader);
                let pl = usize::from(u16::from_be_bytes([h[4], h[5]]));
                drop_if!(
                    pl == 0 || frame.len() < l3 + ipv6::HEADER_LEN + pl,
                    DropReason::Ipv6BadLength
                );
                end = l3 + ipv6::HEADER_LEN + pl;
                let mut d = [0u8; 16];
                d.copy_from_slice(&h[24..40]);
                let mut s = [0u8; 16];
                s.copy_from_slice(&h[8..24]);
                let nh = h[6];
                let (p, off) = if ipv6::is_extension(nh) {
                    match ipv6::walk_ext(&frame[l3 + ipv6::HEADER_LEN..end], nh) {
                        Ok(u) => {
                            drop_if!(u.fragment, DropReason::IpFragment);
                            (u.protocol, u.offset)
                        }
                        Err(_) => return Verdict::Drop(DropReason::Ipv6BadExtHeader),
                    }
                } else {
                    (nh, 0)
                };
                drop_if!(!self.local_v6.contains(&d), DropReason::NotLocalAddress);
                l4 = l3 + ipv6::HEADER_LEN + off;
                proto = p;
                src = IpAddr::V6(Ipv6Addr::from(s));
                dst = IpAddr::V6(Ipv6Addr::from(d));
                tos = ((h[0] & 0x0f) << 4) | (h[1] >> 4);
                ttl = h[7];
            }
            _ => return Verdict::Drop(DropReason::NotIp),
        }
        drop_if!(proto != ip_proto::UDP, DropReason::NotUdp);
        // --- UDP. The UDP length must equal what the IP length leaves.
        let Some(u) = frame.get(l4..l4 + udp::HEADER_LEN) else {
            return Verdict::Drop(DropReason::UdpBadLength);
        };
        let ulen = usize::from(u16::from_be_bytes([u[4], u[5]]));
        drop_if!(ulen != end - l4, DropReason::UdpBadLength);
        let dport = u16::from_be_bytes([u[2], u[3]]);
        let vxlan = dport != self.cfg.udp_port && self.cfg.vxlan_port == Some(dport);
        drop_if!(
            dport != self.cfg.udp_port && !vxlan,
            DropReason::WrongUdpPort
        );
        let sport = u16::from_be_bytes([u[0], u[1]]);
        let ucsum = u16::from_be_bytes([u[6], u[7]]);
        if ucsum == 0 {
            if let IpAddr::V6(s) = src {
                drop_if!(
                    !self.zero_checksum_v6_ok(&s.octets()),
                    DropReason::UdpZeroChecksumIpv6
                );
            }
        } else if self.cfg.verify_udp_checksum {
            let seg = &frame[l4..end];
            let pseudo = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    checksum::pseudo_header_v4(&s.octets(), &d.octets(), ip_proto::UDP, ulen as u16)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    checksum::pseudo_header_v6(&s.octets(), &d.octets(), ip_proto::UDP, ulen as u32)
                }
                _ => 0,
            };
            drop_if!(
                checksum::fold(checksum::accumulate(pseudo, seg)) != 0xffff,
                DropReason::UdpBadChecksum
            );
        }
        let g = l4 + udp::HEADER_LEN;
        if vxlan {
            let octets = |a: IpAddr| match a {
                IpAddr::V4(a) => Delivery::v4_octets(a.octets()),
                IpAddr::V6(a) => a.octets(),
            };
            let outer = super::vxlan::Outer {
                l3,
                header: g,
                end,
                ipv6: matches!(src, IpAddr::V6(_)),
                src: octets(src),
                dst: octets(dst),
                sport,
                tos,
                ttl,
            };
            return self.decap_vxlan(frame, outer);
        }
        // --- Geneve.
        let Some(gh) = frame
            .get(g..g + geneve::HEADER_LEN)
            .filter(|_| g + geneve::HEADER_LEN <= end)
        else {
            return Verdict::Drop(DropReason::GeneveTruncated);
        };
        drop_if!(gh[0] >> 6 != 0, DropReason::GeneveBadVersion);
        let opt_len = usize::from(gh[0] & 0x3f) * 4;
        let opts_start = g + geneve::HEADER_LEN;
        let payload_off = opts_start + opt_len;
        drop_if!(payload_off > end, DropReason::GeneveOptLenPastFrame);
        let oam = gh[1] & geneve::FLAG_OAM != 0;
        let protocol = u16::from_be_bytes([gh[2], gh[3]]);
        let vni = Vni::new(u32::from_be_bytes([0, gh[4], gh[5], gh[6]])).unwrap_or_default();
        let mut seen = OptionsSeen::default();
        if opt_len != 0 {
            match self.check_options(&frame[opts_start..payload_off]) {
                Ok(s) => seen = s,
                Err(r) => return Verdict::Drop(r),
            }
        }
        let payload = match protocol {
            EtherType::TEB => PayloadKind::Ethernet,
            EtherType::IPV4 => PayloadKind::Ipv4,
            EtherType::IPV6 => PayloadKind::Ipv6,
            _ => PayloadKind::Ethernet, // only meaningful for control packets
        };
        let octets = |a: IpAddr| match a {
            IpAddr::V4(a) => Delivery::v4_octets(a.octets()),
            IpAddr::V6(a) => a.octets(),
        };
        let d = Delivery {
            vni,
            encap: Encapsulation::Geneve,
            outer_l3: l3 as u16,
            outer_ipv6: matches!(src, IpAddr::V6(_)),
            src: octets(src),
            dst: octets(dst),
            udp_src_port: sport,
            payload,
            protocol,
            payload_offset: payload_off as u16,
            payload_len: (end - payload_off) as u16,
            padding: (frame.len() - end) as u32,
            options_offset: opts_start as u16,
            options_len: opt_len as u16,
            options: seen,
            outer_tos: tos,
            outer_ttl: ttl,
            inner: InnerUpdate::default(),
            ecn_alarm: false,
        };
        if oam {
            if self.cfg.punt_control {
                return Verdict::Control(d);
            }
            return Verdict::Drop(DropReason::ControlNotPunted);
        }
        let accepted = match protocol {
            EtherType::TEB => self.cfg.accept_ethernet,
            EtherType::IPV4 => self.cfg.accept_ipv4,
            EtherType::IPV6 => self.cfg.accept_ipv6,
            _ => false,
        };
        drop_if!(!accepted, DropReason::UnsupportedProtocol);
        self.finish(frame, payload_off, end, d)
    }
}
