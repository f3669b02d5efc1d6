//! `geneve-gw gen`: the pure half of the traffic generator and sink.
//!
//! Knows no DPDK: building the test frames, finding the stamp again in what
//! comes back (plain, or still/again inside Geneve), the token-bucket rate
//! limiter on the TSC and the per-flow loss/reorder bookkeeping. The lcore
//! loop that drives mbufs through ports is `gen_loop` (DPDK builds only).
#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use crate::wire::checksum;
use crate::wire::ethernet::{EtherType, EthernetFrame, MacAddr};
use crate::wire::geneve::{self, GeneveHeader};
use crate::wire::{ip_proto, Ipv4Packet, Ipv6Packet, UdpPacket};

/// "gen1": marks a payload as ours.
pub const MAGIC: u32 = 0x6765_6e31;
/// Stamp bytes at the start of the inner UDP payload: magic (4), flow (2),
/// sequence (4), TX TSC (8). 18 bytes, so a 64-byte frame (60 without the
/// FCS) holds Ethernet + IPv4 + UDP + stamp exactly.
pub const STAMP_LEN: usize = 18;
/// Ethernet + IPv4 + UDP in front of the stamp.
pub const INNER_HEADERS: usize = 14 + 20 + 8;
/// Smallest frame size (FCS included) that holds the stamp.
pub const MIN_FRAME: u16 = (INNER_HEADERS + STAMP_LEN + 4) as u16;
/// Largest frame size (FCS included): a 1500-byte IP MTU.
pub const MAX_FRAME: u16 = 1518;
/// Most flows: the flow index travels in 16 bits.
pub const MAX_FLOWS: u32 = 1 << 16;

/// What the stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub flow: u16,
    pub seq: u32,
    pub tsc: u64,
}

impl Stamp {
    pub fn write(&self, out: &mut [u8]) -> bool {
        let Some(b) = out.get_mut(..STAMP_LEN) else {
            return false;
        };
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..6].copy_from_slice(&self.flow.to_be_bytes());
        b[6..10].copy_from_slice(&self.seq.to_be_bytes());
        b[10..18].copy_from_slice(&self.tsc.to_le_bytes());
        true
    }

    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let b = payload.get(..STAMP_LEN)?;
        if u32::from_be_bytes([b[0], b[1], b[2], b[3]]) != MAGIC {
            return None;
        }
        Some(Stamp {
            flow: u16::from_be_bytes([b[4], b[5]]),
            seq: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
            tsc: u64::from_le_bytes(b[10..18].try_into().ok()?),
        })
    }
}

/// The inner traffic: flow `i` goes from `src_ip:sport` to
/// `dst_ip + i : dport + 0`, with `sport = sport_base + i % 16384`.
#[derive(Debug, Clone)]
pub struct InnerSpec {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub sport_base: u16,
    pub dport: u16,
}

impl Default for InnerSpec {
    fn default() -> Self {
        InnerSpec {
            src_mac: [0x02, 0, 0, 0, 0x0a, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0x0b, 0x01],
            src_ip: Ipv4Addr::new(198, 19, 0, 1),
            dst_ip: Ipv4Addr::new(198, 19, 1, 1),
            sport_base: 1024,
            dport: 5001,
        }
    }
}

impl InnerSpec {
    /// Writes flow `flow`'s frame of `len` bytes (no FCS) with `stamp` into
    /// `out[..len]`. False if `out` or `len` is too short for the headers and
    /// the stamp.
    pub fn build(&self, out: &mut [u8], len: usize, stamp: &Stamp) -> bool {
        if len < INNER_HEADERS + STAMP_LEN || out.len() < len {
            return false;
        }
        let f = &mut out[..len];
        f[0..6].copy_from_slice(&self.dst_mac);
        f[6..12].copy_from_slice(&self.src_mac);
        f[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        let ip_len = (len - 14) as u16;
        let dst = u32::from(self.dst_ip).wrapping_add(u32::from(stamp.flow));
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[4..6].copy_from_slice(&[0, 0]);
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
        ip[8] = 64;
        ip[9] = ip_proto::UDP;
        ip[10..12].copy_from_slice(&[0, 0]);
        ip[12..16].copy_from_slice(&self.src_ip.octets());
        ip[16..20].copy_from_slice(&dst.to_be_bytes());
        let c = checksum::checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let udp = &mut f[34..42];
        let sport = self.sport_base.wrapping_add(stamp.flow % 16384);
        udp[0..2].copy_from_slice(&sport.to_be_bytes());
        udp[2..4].copy_from_slice(&self.dport.to_be_bytes());
        udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
        // Zero: no UDP checksum (allowed over IPv4); the stamp changes per
        // packet and the sink checks the magic instead.
        udp[6..8].copy_from_slice(&[0, 0]);
        stamp.write(&mut f[42..]);
        f[42 + STAMP_LEN..].fill(0);
        true
    }
}

/// Why a received frame carries no stamp (each is counted as junk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Junk {
    /// Not Ethernet + IPv4/IPv6 + UDP, or truncated.
    NotUdp,
    /// Geneve that does not parse or carries something else than
    /// Ethernet/IPv4/IPv6, or Geneve inside Geneve.
    BadGeneve,
    /// UDP whose payload does not start with the magic.
    NoMagic,
}

/// Finds the stamp in a frame: inner traffic as sent, or the same inside a
/// Geneve tunnel (UDP port 6081, any options, Ethernet or IP payload).
pub fn find_stamp(frame: &[u8]) -> Result<Stamp, Junk> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Junk::NotUdp)?;
    find_in_l3(eth.ethertype(), eth.payload(), true)
}

fn find_in_l3(ethertype: u16, l3: &[u8], outer: bool) -> Result<Stamp, Junk> {
    let udp = match ethertype {
        EtherType::IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).map_err(|_| Junk::NotUdp)?;
            if ip.protocol() != ip_proto::UDP || ip.is_fragment() {
                return Err(Junk::NotUdp);
            }
            let h = ip.header_len();
            let tl = usize::from(ip.total_len());
            l3.get(h..tl).ok_or(Junk::NotUdp)?
        }
        EtherType::IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).map_err(|_| Junk::NotUdp)?;
            let ul = ip.upper_layer().map_err(|_| Junk::NotUdp)?;
            if ul.protocol != ip_proto::UDP || ul.fragment {
                return Err(Junk::NotUdp);
            }
            let end = 40 + usize::from(ip.payload_len());
            l3.get(ul.offset..end).ok_or(Junk::NotUdp)?
        }
        _ => return Err(Junk::NotUdp),
    };
    let udp = UdpPacket::new_checked(udp).map_err(|_| Junk::NotUdp)?;
    let payload = udp.payload();
    if outer && udp.dst_port() == geneve::UDP_PORT {
        if let Some(s) = Stamp::read(payload) {
            // Our own inner traffic sent to port 6081 by a user's choice.
            return Ok(s);
        }
        let g = GeneveHeader::new_checked(payload).map_err(|_| Junk::BadGeneve)?;
        if g.version() != 0 {
            return Err(Junk::BadGeneve);
        }
        let inner = g.payload();
        return match g.protocol() {
            EtherType::TEB => {
                let eth = EthernetFrame::new_checked(inner).map_err(|_| Junk::BadGeneve)?;
                find_in_l3(eth.ethertype(), eth.payload(), false)
            }
            t @ (EtherType::IPV4 | EtherType::IPV6) => find_in_l3(t, inner, false),
            _ => Err(Junk::BadGeneve),
        };
    }
    Stamp::read(payload).ok_or(Junk::NoMagic)
}

/// Frame sizes to send, in a fixed repeating order: one size, or an IMIX
/// expanded by its weights (`64,576,1500 7:4:1` -> 7 x 64, 4 x 576, 1 x 1500,
/// interleaved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeMix {
    /// One entry per packet of the cycle, FCS included.
    cycle: Vec<u16>,
}

impl SizeMix {
    pub fn fixed(size: u16) -> Result<SizeMix, String> {
        Self::weighted(&[(size, 1)])
    }

    /// `sizes` with integer weights; the cycle interleaves them (smooth
    /// weighted round robin) so no size comes in long runs.
    pub fn weighted(sizes: &[(u16, u32)]) -> Result<SizeMix, String> {
        if sizes.is_empty() {
            return Err("no frame size given".into());
        }
        for &(s, w) in sizes {
            if !(MIN_FRAME..=MAX_FRAME).contains(&s) {
                return Err(format!(
                    "frame size {s} is outside {MIN_FRAME}..={MAX_FRAME} (bytes, FCS included)"
                ));
            }
            if w == 0 || w > 1000 {
                return Err(format!("weight {w} for size {s} is outside 1..=1000"));
            }
        }
        let total: u32 = sizes.iter().map(|&(_, w)| w).sum();
        let mut current = vec![0i64; sizes.len()];
        let mut cycle = Vec::with_capacity(total as usize);
        for _ in 0..total {
            for (c, &(_, w)) in current.iter_mut().zip(sizes) {
                *c += i64::from(w);
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))
                .unwrap_or((0, &0));
            current[best] -= i64::from(total);
            cycle.push(sizes[best].0);
        }
        Ok(SizeMix { cycle })
    }

    /// Parses `--imix SIZES [WEIGHTS]`: "64,576,1500" and "7:4:1".
    pub fn parse_imix(sizes: &str, weights: Option<&str>) -> Result<SizeMix, String> {
        let s: Vec<u16> = sizes
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("--imix: {x:?} is not a frame size in bytes"))
            })
            .collect::<Result<_, _>>()?;
        let w: Vec<u32> = match weights {
            None => vec![1; s.len()],
            Some(w) => w
                .split(':')
                .map(|x| {
                    x.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("--imix weights: {x:?} is not a whole number"))
                })
                .collect::<Result<_, _>>()?,
        };
        if w.len() != s.len() {
            return Err(format!(
                "--imix: {} sizes but {} weights (e.g. `--imix 64,576,1500 --imix-weights 7:4:1`)",
                s.len(),
                w.len()
            ));
        }
        let pairs: Vec<(u16, u32)> = s.into_iter().zip(w).collect();
        Self::weighted(&pairs)
    }

    /// The size of packet number `n` (FCS included).
    #[inline]
    pub fn size(&self, n: u64) -> u16 {
        self.cycle[(n % self.cycle.len() as u64) as usize]
    }

    /// Size at position `i` of the cycle (`i` from [`SizeMix::next_index`],
    /// starting at 0): no division per packet.
    #[inline]
    pub fn at(&self, i: usize) -> u16 {
        self.cycle.get(i).copied().unwrap_or(MIN_FRAME)
    }

    /// The position after `i`, wrapping at the end of the cycle.
    #[inline]
    pub fn next_index(&self, i: usize) -> usize {
        if i + 1 >= self.cycle.len() {
            0
        } else {
            i + 1
        }
    }

    /// Mean frame size, FCS included.
    pub fn mean(&self) -> f64 {
        self.cycle.iter().map(|&s| f64::from(s)).sum::<f64>() / self.cycle.len() as f64
    }

    pub fn max(&self) -> u16 {
        self.cycle.iter().copied().max().unwrap_or(MIN_FRAME)
    }
}

/// Token bucket on the TSC: `rate` packets per second, at most `depth`
/// packets of credit (one burst), so a late poll never turns into a flood.
/// Rate 0 = unlimited.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    hz: u64,
    depth: u64,
    /// Credit in packet-cycles (packets x hz), so no division per refill.
    credit: u128,
    last: u64,
}

impl TokenBucket {
    pub fn new(rate: u64, hz: u64, depth: u32, now: u64) -> TokenBucket {
        TokenBucket {
            rate,
            hz: hz.max(1),
            depth: u64::from(depth.max(1)),
            credit: 0,
            last: now,
        }
    }

    pub fn unlimited(&self) -> bool {
        self.rate == 0
    }

    /// How many of `want` packets may go now; takes that much credit.
    #[inline]
    pub fn take(&mut self, now: u64, want: u32) -> u32 {
        if self.rate == 0 {
            return want;
        }
        let elapsed = now.wrapping_sub(self.last);
        self.last = now;
        let cap = u128::from(self.depth) * u128::from(self.hz);
        self.credit = (self.credit + u128::from(elapsed) * u128::from(self.rate)).min(cap);
        let have = (self.credit / u128::from(self.hz)) as u64;
        let n = have.min(u64::from(want));
        self.credit -= u128::from(n) * u128::from(self.hz);
        n as u32
    }
}

/// Per-flow sequence bookkeeping on the receive side.
#[derive(Debug, Clone)]
pub struct FlowTracker {
    /// Highest sequence seen per flow, plus one (0: none yet).
    last: Vec<u64>,
    pub received: u64,
    pub reordered: u64,
    pub duplicates: u64,
    /// Stamps naming a flow this run does not have.
    pub unknown_flow: u64,
}

impl FlowTracker {
    pub fn new(flows: u32) -> FlowTracker {
        FlowTracker {
            last: vec![0; flows as usize],
            received: 0,
            reordered: 0,
            duplicates: 0,
            unknown_flow: 0,
        }
    }

    /// Accounts one stamp; false if its flow is unknown (junk).
    #[inline]
    pub fn record(&mut self, flow: u16, seq: u32) -> bool {
        let Some(slot) = self.last.get_mut(usize::from(flow)) else {
            self.unknown_flow += 1;
            return false;
        };
        self.received += 1;
        if *slot == 0 {
            *slot = u64::from(seq) + 1;
            return true;
        }
        let last = (*slot - 1) as u32;
        // Serial-number arithmetic: sequences wrap after 2^32 per flow.
        let diff = seq.wrapping_sub(last) as i32;
        if diff > 0 {
            *slot = u64::from(seq) + 1;
        } else if diff == 0 {
            self.duplicates += 1;
        } else {
            self.reordered += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::{encap, EncapTemplate, PayloadKind, TunnelConfig, VecBuffer};
    use crate::wire::Vni;

    fn frame(flow: u16, seq: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0xee; len];
        let s = Stamp {
            flow,
            seq,
            tsc: 0x1122_3344_5566_7788,
        };
        assert!(InnerSpec::default().build(&mut v, len, &s));
        v
    }

    #[test]
    fn inner_frame_is_valid_ipv4_udp_with_the_stamp() {
        let f = frame(7, 42, 60);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.ethertype(), EtherType::IPV4);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.total_len(), 46);
        assert_eq!(ip.dst(), [198, 19, 1, 8]);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.src_port(), 1031);
        assert_eq!(udp.len(), 26);
        assert_eq!(
            find_stamp(&f),
            Ok(Stamp {
                flow: 7,
                seq: 42,
                tsc: 0x1122_3344_5566_7788
            })
        );
        // Padding after the stamp is zeroed, not left over.
        let g = frame(1, 1, 200);
        assert!(g[60..].iter().all(|&b| b == 0));
    }

    #[test]
    fn too_short_frames_are_refused() {
        let mut v = vec![0; 100];
        let s = Stamp {
            flow: 0,
            seq: 0,
            tsc: 0,
        };
        assert!(!InnerSpec::default().build(&mut v, 59, &s));
        assert!(!InnerSpec::default().build(&mut v[..50], 60, &s));
    }

    fn encapsulated(payload: PayloadKind, v6: bool) -> Vec<u8> {
        let (src, dst): (std::net::IpAddr, std::net::IpAddr) = if v6 {
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            )
        } else {
            ("198.18.0.2".parse().unwrap(), "198.18.0.1".parse().unwrap())
        };
        let mut cfg = TunnelConfig::new([2; 6], [4; 6], src, dst, Vni::new(100).unwrap());
        cfg.payload = payload;
        cfg.options.push(crate::tunnel::TunnelOption {
            class: 0x0102,
            typ: 1,
            data: vec![0, 0, 0, 42],
        });
        let t = EncapTemplate::new(&cfg).unwrap();
        let mut inner = frame(3, 9, 60);
        if payload != PayloadKind::Ethernet {
            inner.drain(..14);
        }
        let mut b = VecBuffer::with_headroom(256, &inner);
        encap(&t, &mut b, Some(1)).unwrap();
        b.to_vec()
    }

    #[test]
    fn stamp_is_found_inside_geneve() {
        for (kind, v6) in [
            (PayloadKind::Ethernet, false),
            (PayloadKind::Ethernet, true),
            (PayloadKind::Ipv4, false),
        ] {
            let f = encapsulated(kind, v6);
            let s = find_stamp(&f).unwrap_or_else(|e| panic!("{kind:?} v6={v6}: {e:?}"));
            assert_eq!((s.flow, s.seq), (3, 9));
        }
    }

    #[test]
    fn junk_is_classified_never_panics() {
        assert_eq!(find_stamp(&[]), Err(Junk::NotUdp));
        assert_eq!(find_stamp(&[0; 13]), Err(Junk::NotUdp));
        let mut f = frame(0, 0, 60);
        f[42] ^= 0xff; // magic broken
        assert_eq!(find_stamp(&f), Err(Junk::NoMagic));
        let mut g = encapsulated(PayloadKind::Ethernet, false);
        let geneve_at = 14 + 20 + 8;
        g[geneve_at + 2] = 0x12; // unknown protocol type
        g[geneve_at + 3] = 0x34;
        assert_eq!(find_stamp(&g), Err(Junk::BadGeneve));
        // Every truncation of a good encapsulated frame: an error or (once
        // the stamp is whole) a stamp, never a panic.
        let e = encapsulated(PayloadKind::Ethernet, true);
        for n in 0..e.len() {
            let _ = find_stamp(&e[..n]);
        }
        // Every single-byte corruption.
        for i in 0..e.len() {
            let mut c = e.clone();
            c[i] = c[i].wrapping_add(0x5a);
            let _ = find_stamp(&c);
        }
    }

    #[test]
    fn imix_interleaves_by_weight() {
        let m = SizeMix::parse_imix("64,576,1500", Some("7:4:1")).unwrap();
        let cycle: Vec<u16> = (0..12).map(|n| m.size(n)).collect();
        assert_eq!(cycle.iter().filter(|&&s| s == 64).count(), 7);
        assert_eq!(cycle.iter().filter(|&&s| s == 576).count(), 4);
        assert_eq!(cycle.iter().filter(|&&s| s == 1500).count(), 1);
        assert_eq!(m.size(12), m.size(0));
        let mut i = 0;
        for n in 0..30 {
            assert_eq!(m.at(i), m.size(n));
            i = m.next_index(i);
        }
        // Never three 64s in a row with 7:4:1 interleaved.
        assert!(!cycle.windows(4).any(|w| w.iter().all(|&s| s == 64)));
        assert!((m.mean() - (7.0 * 64.0 + 4.0 * 576.0 + 1500.0) / 12.0).abs() < 1e-9);
        assert!(SizeMix::parse_imix("64,576", Some("1")).is_err());
        assert!(SizeMix::parse_imix("32", None).is_err());
        assert!(SizeMix::parse_imix("64,x", None).is_err());
        assert!(SizeMix::fixed(9000).is_err());
        assert_eq!(SizeMix::fixed(64).unwrap().size(5), 64);
    }

    #[test]
    fn token_bucket_paces_to_the_rate() {
        let hz = 1_000_000_000; // 1 cycle = 1 ns
        let mut b = TokenBucket::new(1_000_000, hz, 32, 0); // 1 Mpps: 1 per 1000 cycles
        assert_eq!(b.take(0, 32), 0);
        assert_eq!(b.take(999, 32), 0);
        assert_eq!(b.take(1000, 32), 1);
        assert_eq!(b.take(11_000, 32), 10);
        // A long pause earns one burst, not a flood.
        assert_eq!(b.take(10_000_000, 64), 32);
        // Over a simulated second of 1 us polls: exactly the rate.
        let mut b = TokenBucket::new(250_000, hz, 32, 0);
        let sent: u64 = (1..=1_000_000u64)
            .map(|t| u64::from(b.take(t * 1000, 32)))
            .sum();
        assert_eq!(sent, 250_000);
        // Fractional rates keep their remainder.
        let mut b = TokenBucket::new(3, 10, 32, 0);
        let sent: u32 = (1..=100u64).map(|t| b.take(t, 32)).sum();
        assert_eq!(sent, 30);
        let mut u = TokenBucket::new(0, hz, 32, 0);
        assert!(u.unlimited());
        assert_eq!(u.take(0, 32), 32);
    }

    #[test]
    fn tracker_counts_reorder_duplicates_and_unknown_flows() {
        let mut t = FlowTracker::new(2);
        for s in [0, 1, 3, 2, 4, 4] {
            assert!(t.record(0, s));
        }
        assert!(t.record(1, 100));
        assert!(!t.record(2, 0));
        assert_eq!(t.received, 7);
        assert_eq!(t.reordered, 1);
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.unknown_flow, 1);
        // Sequence wrap is not a reorder.
        let mut w = FlowTracker::new(1);
        w.record(0, u32::MAX);
        w.record(0, 0);
        assert_eq!(w.reordered, 0);
    }
}
