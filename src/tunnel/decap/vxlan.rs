//! VXLAN decapsulation (RFC 7348), beside Geneve's: the same outer checks
//! (the general tier runs them and hands over at the UDP port), then the
//! VXLAN header (8 bytes inside the UDP datagram, the I flag set; the
//! reserved bits are ignored), then the inner Ethernet frame and RFC 6040
//! exactly as for Geneve. A VXLAN delivery carries
//! [`Encapsulation::Vxlan`], an Ethernet payload and no options.
//!
//! The fast tier ([`Decapsulator::decap_fast_vxlan_v4`]) takes the usual
//! IPv4 packet at fixed offsets; every other packet, and every drop, is the
//! general tier's.
use super::fast::{ipv4_header_sum_ok, HeaderPattern, FAST_V4_LEN};
use super::DecapConfig;
use super::{Decapsulator, Delivery, DropReason, FastVerdict, InnerUpdate, OptionsSeen, Verdict};
use crate::tunnel::PayloadKind;
use crate::wire::ethernet::{self, EtherType};
use crate::wire::geneve::Vni;
use crate::wire::{ip_proto, ipv4, udp, vxlan, Encapsulation};

/// What the outer checks found, for the VXLAN tail of the general tier.
pub(super) struct Outer {
    /// Offset of the outer IP header.
    pub l3: usize,
    /// Offset of the VXLAN header (just after UDP).
    pub header: usize,
    /// End of the outer IP packet (padding excluded).
    pub end: usize,
    pub ipv6: bool,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub tos: u8,
    pub ttl: u8,
}

/// The fixed fields of the usual VXLAN packet, compared in one go:
/// untagged IPv4 (IHL 5, not a fragment, outer ECN Not-ECT) to the first
/// local address, UDP to the VXLAN port with a zero checksum, the I flag
/// set. `None` when VXLAN is not received, Ethernet payloads are refused,
/// or the DSCP / TTL model would need the inner header read.
pub(super) fn pattern(cfg: &DecapConfig, pipe: bool) -> Option<HeaderPattern> {
    const IP: usize = ethernet::HEADER_LEN;
    const UDP: usize = IP + ipv4::HEADER_LEN;
    const VX: usize = UDP + udp::HEADER_LEN;
    let port = cfg.vxlan_port?.to_be_bytes();
    let dst = cfg.local_v4.first()?.octets();
    if !pipe || !cfg.accept_ethernet {
        return None;
    }
    Some(HeaderPattern::new(&[
        (12, &[0x08, 0x00, 0x45, 0x00], &[0xff, 0xff, 0xff, 0x03]),
        (IP + 6, &[0, 0], &[0x3f, 0xff]),
        (IP + 9, &[ip_proto::UDP], &[0xff]),
        (IP + 16, &dst, &[0xff; 4]),
        (UDP + 2, &port, &[0xff, 0xff]),
        (UDP + 6, &[0, 0], &[0xff, 0xff]),
        (VX, &[vxlan::FLAG_I], &[vxlan::FLAG_I]),
    ]))
}

impl Decapsulator {
    /// The general tier's VXLAN checks for a datagram to the VXLAN port
    /// whose outer headers passed.
    #[inline(never)]
    pub(super) fn decap_vxlan(&self, frame: &[u8], o: Outer) -> Verdict {
        let Some(h) = frame
            .get(o.header..o.header + vxlan::HEADER_LEN)
            .filter(|_| o.header + vxlan::HEADER_LEN <= o.end)
        else {
            return Verdict::Drop(DropReason::VxlanTruncated);
        };
        if h[0] & vxlan::FLAG_I == 0 {
            return Verdict::Drop(DropReason::VxlanNoIFlag);
        }
        if !self.cfg.accept_ethernet {
            return Verdict::Drop(DropReason::UnsupportedProtocol);
        }
        let payload_off = o.header + vxlan::HEADER_LEN;
        let d = Delivery {
            vni: Vni::new(u32::from_be_bytes([0, h[4], h[5], h[6]])).unwrap_or_default(),
            encap: Encapsulation::Vxlan,
            outer_l3: o.l3 as u16,
            outer_ipv6: o.ipv6,
            src: o.src,
            dst: o.dst,
            udp_src_port: o.sport,
            payload: PayloadKind::Ethernet,
            protocol: EtherType::TEB,
            payload_offset: payload_off as u16,
            payload_len: (o.end - payload_off) as u16,
            padding: (frame.len() - o.end) as u32,
            options_offset: payload_off as u16,
            options_len: 0,
            options: OptionsSeen::default(),
            outer_tos: o.tos,
            outer_ttl: o.ttl,
            inner: InnerUpdate::default(),
            ecn_alarm: false,
        };
        self.finish(frame, payload_off, o.end, d)
    }

    /// The VXLAN fast tier: untagged outer IPv4 (IHL 5, not a fragment) to
    /// a local address, UDP to the VXLAN port with a zero checksum, the I
    /// flag set, an inner Ethernet frame; the general tier's verdict for
    /// it (a delivery, or the inner header's or RFC 6040's drop), `None`
    /// for every other packet. `hw_ip_sum_good`: the port verified the
    /// outer IPv4 header checksum.
    #[inline(always)]
    pub fn decap_fast_vxlan_v4(&self, frame: &[u8], hw_ip_sum_good: bool) -> Option<FastVerdict> {
        const IP: usize = ethernet::HEADER_LEN;
        const UDP: usize = IP + ipv4::HEADER_LEN;
        const VX: usize = UDP + udp::HEADER_LEN;
        const _: () = assert!(VX + vxlan::HEADER_LEN == FAST_V4_LEN);
        let port = self.cfg.vxlan_port?;
        let f = frame.first_chunk::<FAST_V4_LEN>()?;
        let b16 = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        if self.pattern_vxlan.as_ref().is_some_and(|p| p.matches(f)) {
            // The usual packet: only lengths and the header checksum left.
            let tl = usize::from(b16(IP + 2));
            let end = IP + tl;
            if usize::from(b16(UDP + 4)) + ipv4::HEADER_LEN != tl
                || tl < ipv4::HEADER_LEN + udp::HEADER_LEN + vxlan::HEADER_LEN
                || end > frame.len()
                || (self.cfg.verify_ipv4_checksum && !hw_ip_sum_good && !ipv4_header_sum_ok(f))
            {
                return None;
            }
            if end - FAST_V4_LEN < ethernet::HEADER_LEN {
                return Some(FastVerdict::Drop(DropReason::InnerMalformed));
            }
            return Some(FastVerdict::Deliver(fast_v4_delivery(f, frame.len(), end)));
        }
        if b16(12) != EtherType::IPV4
            || f[IP] != 0x45
            || b16(IP + 6) & 0x3fff != 0
            || f[IP + 9] != ip_proto::UDP
            || b16(UDP + 2) != port
            || b16(UDP + 6) != 0
            || f[VX] & vxlan::FLAG_I == 0
            || !self.cfg.accept_ethernet
            || !self.is_local_v4([f[IP + 16], f[IP + 17], f[IP + 18], f[IP + 19]])
        {
            return None;
        }
        let tl = usize::from(b16(IP + 2));
        let ulen = usize::from(b16(UDP + 4));
        let end = IP + tl;
        if ulen + ipv4::HEADER_LEN != tl
            || ulen < udp::HEADER_LEN + vxlan::HEADER_LEN
            || end > frame.len()
            || (self.cfg.verify_ipv4_checksum && !hw_ip_sum_good && !ipv4_header_sum_ok(f))
        {
            return None;
        }
        let tos = f[IP + 1];
        let d = fast_v4_delivery(f, frame.len(), end);
        if tos & 3 == 0 && self.pipe {
            // Outer Not-ECT leaves the inner ECN field alone (RFC 6040), the
            // pipe model the rest: nothing to read but the inner length.
            if end - FAST_V4_LEN < ethernet::HEADER_LEN {
                return Some(FastVerdict::Drop(DropReason::InnerMalformed));
            }
            return Some(FastVerdict::Deliver(d));
        }
        Some(match self.finish(frame, FAST_V4_LEN, end, d) {
            Verdict::Deliver(d) => FastVerdict::Deliver(d),
            Verdict::Drop(r) => FastVerdict::Drop(r),
            Verdict::Control(_) => FastVerdict::General,
        })
    }
}

/// The delivery of a VXLAN packet the fast tier took: untagged outer IPv4
/// of 20 bytes, UDP, VXLAN, an inner Ethernet frame from `FAST_V4_LEN` to
/// `end` (the outer IPv4 total length), `frame_len` bytes in all.
#[inline(always)]
fn fast_v4_delivery(f: &[u8; FAST_V4_LEN], frame_len: usize, end: usize) -> Delivery {
    const IP: usize = ethernet::HEADER_LEN;
    const UDP: usize = IP + ipv4::HEADER_LEN;
    const VX: usize = UDP + udp::HEADER_LEN;
    Delivery {
        vni: Vni::new(u32::from_be_bytes([0, f[VX + 4], f[VX + 5], f[VX + 6]])).unwrap_or_default(),
        encap: Encapsulation::Vxlan,
        outer_l3: IP as u16,
        outer_ipv6: false,
        src: Delivery::v4_octets([f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15]]),
        dst: Delivery::v4_octets([f[IP + 16], f[IP + 17], f[IP + 18], f[IP + 19]]),
        udp_src_port: u16::from_be_bytes([f[UDP], f[UDP + 1]]),
        payload: PayloadKind::Ethernet,
        protocol: EtherType::TEB,
        payload_offset: FAST_V4_LEN as u16,
        payload_len: (end - FAST_V4_LEN) as u16,
        padding: (frame_len - end) as u32,
        options_offset: FAST_V4_LEN as u16,
        options_len: 0,
        options: OptionsSeen::default(),
        outer_tos: f[IP + 1],
        outer_ttl: f[IP + 8],
        inner: InnerUpdate::default(),
        ecn_alarm: false,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::tunnel::{
        encap, Buffer, DecapConfig, EncapTemplate, TunnelConfig, UdpChecksumTx, VecBuffer,
    };
    use crate::wire::checksum;

    const L4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const R4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const L6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const R6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn decapsulator(vxlan_port: Option<u16>) -> Decapsulator {
        let mut c = DecapConfig::new(vec![L4], vec![L6]);
        c.vxlan_port = vxlan_port;
        Decapsulator::new(c)
    }

    /// An inner Ethernet + IPv4 frame of `len` bytes with TOS `tos`.
    fn inner(len: usize, tos: u8) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        f[..12].copy_from_slice(&[2, 0x11, 0, 0, 0, 2, 2, 0x11, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip.fill(0);
        ip[0] = 0x45;
        ip[1] = tos;
        ip[2..4].copy_from_slice(&((len - 14) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        let c = checksum::checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// A VXLAN frame from the remote to us, written by our encap.
    fn frame(v6: bool, vni: u32, inner: &[u8], csum: UdpChecksumTx) -> Vec<u8> {
        let (s, d): (IpAddr, IpAddr) = if v6 {
            (R6.into(), L6.into())
        } else {
            (R4.into(), L4.into())
        };
        let mut c = TunnelConfig::new([2, 0, 0, 0, 0, 0xb], [2, 0, 0, 0, 0, 0xa], s, d, {
            Vni::new(vni).unwrap()
        });
        c.encapsulation = Encapsulation::Vxlan;
        c.udp_dst_port = vxlan::UDP_PORT;
        c.udp_checksum = Some(csum);
        let t = EncapTemplate::new(&c).unwrap();
        let mut b = VecBuffer::with_headroom(t.header_len(), inner);
        encap(&t, &mut b, Some(7)).unwrap();
        b.to_vec()
    }

    fn udp_at(f: &[u8]) -> usize {
        if u16::from_be_bytes([f[12], f[13]]) == EtherType::IPV6 {
            54
        } else {
            34
        }
    }

    /// Recompute a non-zero UDP checksum after an edit of the datagram.
    fn fix_udp(f: &mut [u8]) {
        let u = udp_at(f);
        if f[u + 6] == 0 && f[u + 7] == 0 {
            return;
        }
        f[u + 6] = 0;
        f[u + 7] = 0;
        let len = f.len() - u;
        let pseudo = if u == 54 {
            checksum::pseudo_header_v6(
                f[22..38].try_into().unwrap(),
                f[38..54].try_into().unwrap(),
                17,
                len as u32,
            )
        } else {
            checksum::pseudo_header_v4(
                f[26..30].try_into().unwrap(),
                f[30..34].try_into().unwrap(),
                17,
                len as u16,
            )
        };
        let c = !checksum::fold(checksum::accumulate(pseudo, &f[u..]));
        let c = if c == 0 { 0xffff } else { c };
        f[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn vxlan_frames_are_delivered_with_their_vni_and_inner_frame() {
        let d = decapsulator(Some(vxlan::UDP_PORT));
        let i = inner(80, 0);
        for (v6, csum) in [
            (false, UdpChecksumTx::Zero),
            (false, UdpChecksumTx::Compute),
            (true, UdpChecksumTx::Compute),
        ] {
            let f = frame(v6, 5000, &i, csum);
            let Verdict::Deliver(del) = d.decap(&f) else {
                panic!("{v6} {csum:?}: {:?}", d.decap(&f));
            };
            assert_eq!(del.encap, Encapsulation::Vxlan);
            assert_eq!(del.vni.get(), 5000);
            assert_eq!(del.payload, PayloadKind::Ethernet);
            assert_eq!((del.options_len, del.options), (0, OptionsSeen::default()));
            let remote: IpAddr = if v6 { R6.into() } else { R4.into() };
            assert_eq!(del.src_vtep(), remote);
            let mut b = VecBuffer::with_headroom(0, &f);
            assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
            assert_eq!(b.data(), &i[..]);
        }
    }

    #[test]
    fn vxlan_needs_its_port_configured_and_the_i_flag() {
        let i = inner(80, 0);
        let f = frame(false, 5000, &i, UdpChecksumTx::Zero);
        // Not listening for VXLAN: the port is wrong.
        assert_eq!(
            decapsulator(None).decap(&f),
            Verdict::Drop(DropReason::WrongUdpPort)
        );
        // Another VXLAN port configured.
        assert_eq!(
            decapsulator(Some(8472)).decap(&f),
            Verdict::Drop(DropReason::WrongUdpPort)
        );
        let d = decapsulator(Some(vxlan::UDP_PORT));
        // I flag clear (every other flag set): dropped.
        let mut g = f.clone();
        g[42] = 0xf7;
        assert_eq!(d.decap(&g), Verdict::Drop(DropReason::VxlanNoIFlag));
        // Reserved bits set around the I flag: ignored (RFC 7348).
        let mut g = f.clone();
        g[42] = 0xff;
        g[43..46].copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        g[49] = 0xdd;
        match d.decap(&g) {
            Verdict::Deliver(del) => assert_eq!(del.vni.get(), 5000),
            v => panic!("{v:?}"),
        }
        // The UDP datagram holds less than the VXLAN header.
        let mut g = f[..34 + 8 + 5].to_vec();
        g[16..18].copy_from_slice(&(20u16 + 8 + 5).to_be_bytes());
        g[24..26].fill(0);
        let c = checksum::checksum(&g[14..34]);
        g[24..26].copy_from_slice(&c.to_be_bytes());
        g[38..40].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(d.decap(&g), Verdict::Drop(DropReason::VxlanTruncated));
        // An inner frame shorter than an Ethernet header.
        let f = frame(false, 5000, &i[..13], UdpChecksumTx::Zero);
        assert_eq!(d.decap(&f), Verdict::Drop(DropReason::InnerMalformed));
        // Geneve still works on its own port beside VXLAN.
        let mut g = frame(false, 5000, &i, UdpChecksumTx::Zero);
        g[36..38].copy_from_slice(&6081u16.to_be_bytes());
        g[42] = 0; // Geneve version 0, no options...
        g[44..46].copy_from_slice(&EtherType::TEB.to_be_bytes()); // ...carrying Ethernet
        match d.decap(&g) {
            Verdict::Deliver(del) => assert_eq!(del.encap, Encapsulation::Geneve),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn vxlan_checksums_follow_the_geneve_rules() {
        let d = decapsulator(Some(vxlan::UDP_PORT));
        let i = inner(80, 0);
        // A wrong non-zero UDP checksum.
        let mut f = frame(false, 1, &i, UdpChecksumTx::Compute);
        f[40] ^= 0x55;
        assert_eq!(d.decap(&f), Verdict::Drop(DropReason::UdpBadChecksum));
        // IPv6 with a zero checksum: RFC 6935/6936, dropped by default...
        let f = frame(true, 1, &i, UdpChecksumTx::Zero);
        assert_eq!(d.decap(&f), Verdict::Drop(DropReason::UdpZeroChecksumIpv6));
        // ...accepted from a remote configured for it.
        let mut c = DecapConfig::new(vec![L4], vec![L6]);
        c.vxlan_port = Some(vxlan::UDP_PORT);
        c.ipv6_zero_checksum_from = vec![R6];
        assert!(matches!(
            Decapsulator::new(c).decap(&f),
            Verdict::Deliver(_)
        ));
    }

    #[test]
    fn vxlan_ecn_follows_rfc_6040() {
        let d = decapsulator(Some(vxlan::UDP_PORT));
        // Outer CE over an inner Not-ECT packet: dropped.
        let mut f = frame(false, 1, &inner(80, 0), UdpChecksumTx::Zero);
        set_outer_tos(&mut f, 3);
        assert_eq!(d.decap(&f), Verdict::Drop(DropReason::EcnCeOverNotEct));
        // Outer CE over ECT(0): the inner packet leaves CE, checksum fixed.
        let mut f = frame(false, 1, &inner(80, 2), UdpChecksumTx::Zero);
        set_outer_tos(&mut f, 3);
        let mut b = VecBuffer::with_headroom(0, &f);
        assert!(matches!(d.decap_in_place(&mut b), Verdict::Deliver(_)));
        let ip = &b.data()[14..34];
        assert_eq!(ip[1] & 3, 3);
        assert_eq!(checksum::checksum(ip), 0);
    }

    fn set_outer_tos(f: &mut [u8], tos: u8) {
        f[15] = tos;
        f[24..26].fill(0);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }

    /// The fast tier gives the general tier's verdict on every packet it
    /// takes, and declines the rest, over single-byte edits of every
    /// header byte of a set of valid VXLAN frames (IPv4 and IPv6,
    /// checksums zero and computed, ECN and inner lengths).
    #[test]
    fn vxlan_fast_tier_agrees_with_the_general_tier() {
        let mut bases = Vec::new();
        for tos in [0u8, 1, 2, 3] {
            for len in [13usize, 14, 40, 80] {
                let i = if len >= 34 {
                    inner(len, tos)
                } else {
                    (0..len).map(|x| x as u8).collect()
                };
                for csum in [UdpChecksumTx::Zero, UdpChecksumTx::Compute] {
                    for v6 in [false, true] {
                        let mut f = frame(v6, 0x00ab_cdef, &i, csum);
                        if !v6 {
                            // Outer ECN marks, so RFC 6040 runs both ways.
                            set_outer_tos(&mut f, tos ^ 1);
                        }
                        bases.push(f);
                    }
                }
            }
        }
        let ds = [
            decapsulator(Some(vxlan::UDP_PORT)),
            decapsulator(Some(6081)),
            {
                let mut c = DecapConfig::new(vec![L4], vec![L6]);
                c.vxlan_port = Some(vxlan::UDP_PORT);
                c.dscp = crate::tunnel::QosModel::Uniform;
                c.accept_ethernet = false;
                Decapsulator::new(c)
            },
        ];
        let mut taken = 0;
        for base in &bases {
            let mut variants = vec![base.clone()];
            for at in 0..60.min(base.len()) {
                for x in [0x01u8, 0x08, 0x80, 0xff] {
                    let mut f = base.clone();
                    f[at] ^= x;
                    variants.push(f.clone());
                    fix_udp(&mut f);
                    variants.push(f);
                }
            }
            variants.push(base[..base.len() - 1].to_vec());
            let mut padded = base.clone();
            padded.extend_from_slice(&[0; 7]);
            variants.push(padded);
            for f in &variants {
                for d in &ds {
                    let Some(fast) = d.decap_fast_vxlan_v4(f, false) else {
                        continue;
                    };
                    taken += 1;
                    let general = d.decap_general(f);
                    match (fast, general) {
                        (FastVerdict::Deliver(a), Verdict::Deliver(b)) => {
                            // The fast tier may leave the inner update unread
                            // when nothing changes (see `Delivery::inner`).
                            assert_eq!(d.with_inner_update(f, a), Verdict::Deliver(b));
                        }
                        (FastVerdict::Drop(a), Verdict::Drop(b)) => assert_eq!(a, b),
                        (a, b) => panic!("fast {a:?} general {b:?} for {f:02x?}"),
                    }
                }
            }
        }
        assert!(taken > 1000, "the fast tier took {taken} packets");
    }
}
