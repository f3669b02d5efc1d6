//! Control-plane policing: what workers hand to the control thread is
//! rate-limited per kind (ARP/ND, ICMP, Geneve control) with token buckets,
//! as DPDK-based routers police their punt path, so that a flood of one kind
//! (or from one host) cannot starve the others: ARP for the VTEP is still
//! answered while ICMP or O-bit packets pour in. Each worker owns its
//! buckets (no sharing, no atomics); only punted packets touch them, data
//! packets never do. Time is whatever monotonic tick the caller gives
//! (the worker: the TSC).
use crate::tunnel::DropReason;
use crate::wire::ethernet::{l3_offset, EtherType};
use crate::wire::ip_proto;
use crate::wire::ipv6::Ipv6Packet;

/// What a punted packet is, for policing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PuntClass {
    ArpNd,
    Icmp,
    GeneveControl,
}

impl PuntClass {
    /// The class of a locally punted frame (ARP, ICMP, ICMPv6): neighbour
    /// discovery (ICMPv6 types 133 to 137, RFC 4861) goes with ARP, the rest
    /// of ICMP and ICMPv6 is `Icmp`.
    pub fn of_local(frame: &[u8]) -> PuntClass {
        match l3_offset(frame) {
            Some((EtherType::ARP, _)) => PuntClass::ArpNd,
            Some((EtherType::IPV6, off)) => {
                let nd = Ipv6Packet::new_checked(frame.get(off..).unwrap_or(&[]))
                    .ok()
                    .and_then(|p| p.upper_layer().ok())
                    .filter(|u| u.protocol == ip_proto::ICMPV6)
                    .and_then(|u| frame.get(off + u.offset))
                    .is_some_and(|t| (133..=137).contains(t));
                if nd {
                    PuntClass::ArpNd
                } else {
                    PuntClass::Icmp
                }
            }
            _ => PuntClass::Icmp,
        }
    }

    /// The drop reason of a packet of this class the policer refused.
    pub fn policed(self) -> DropReason {
        match self {
            PuntClass::ArpNd => DropReason::PuntPolicedArpNd,
            PuntClass::Icmp => DropReason::PuntPolicedIcmp,
            PuntClass::GeneveControl => DropReason::PuntPolicedGeneveControl,
        }
    }
}

/// One token bucket: `rate` packets per second, at most `burst` at once.
/// Credit is kept in ticks, so refilling is a subtraction and a minimum.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    /// Ticks one token takes to come back.
    ticks_per_token: u64,
    /// Most ticks of credit (`burst` tokens).
    depth: u64,
    /// Credit in ticks at tick `last`.
    credit: u64,
    last: u64,
}

impl TokenBucket {
    /// A full bucket at tick `now` for `rate` packets per second, `burst`
    /// at once, with `hz` ticks per second.
    pub fn new(rate: u64, burst: u64, hz: u64, now: u64) -> TokenBucket {
        let ticks_per_token = (hz / rate.max(1)).max(1);
        let depth = ticks_per_token.saturating_mul(burst.max(1));
        TokenBucket {
            ticks_per_token,
            depth,
            credit: depth,
            last: now,
        }
    }

    /// Takes one token at tick `now`; false when the bucket is empty.
    pub fn take(&mut self, now: u64) -> bool {
        // Credit above the depth is lost; a clock going back adds nothing.
        self.credit = self
            .credit
            .saturating_add(now.saturating_sub(self.last))
            .min(self.depth);
        self.last = self.last.max(now);
        if self.credit >= self.ticks_per_token {
            self.credit -= self.ticks_per_token;
            true
        } else {
            false
        }
    }
}

/// Per-kind packets per second and burst a worker lets through to the
/// control thread. The control thread answers tens of thousands of requests
/// a second; these leave it room to spare while a flood of one kind is cut.
pub const ARP_ND_RATE: (u64, u64) = (5_000, 512);
pub const ICMP_RATE: (u64, u64) = (2_000, 256);
pub const GENEVE_CONTROL_RATE: (u64, u64) = (2_000, 256);
/// ICMP errors a worker sends to inner senders (Fragmentation Needed /
/// Packet Too Big): per second, burst.
pub const ICMP_ERROR_RATE: (u64, u64) = (100, 10);

/// A worker's three buckets.
#[derive(Debug, Clone, Copy)]
pub struct PuntPolicer {
    arp_nd: TokenBucket,
    icmp: TokenBucket,
    geneve: TokenBucket,
}

impl PuntPolicer {
    pub fn new(hz: u64, now: u64) -> PuntPolicer {
        let b = |(r, n): (u64, u64)| TokenBucket::new(r, n, hz, now);
        PuntPolicer {
            arp_nd: b(ARP_ND_RATE),
            icmp: b(ICMP_RATE),
            geneve: b(GENEVE_CONTROL_RATE),
        }
    }

    /// May a packet of `class` go to the control thread at tick `now`?
    pub fn admit(&mut self, class: PuntClass, now: u64) -> bool {
        match class {
            PuntClass::ArpNd => self.arp_nd.take(now),
            PuntClass::Icmp => self.icmp.take(now),
            PuntClass::GeneveControl => self.geneve.take(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_through_then_its_rate() {
        let hz = 1_000_000;
        let mut b = TokenBucket::new(1_000, 10, hz, 5_000_000);
        let first: usize = (0..100).filter(|_| b.take(5_000_000)).count();
        assert_eq!(first, 10, "the burst");
        // One second later: 1,000 more tokens, capped at the burst.
        let later: usize = (0..100).filter(|_| b.take(6_000_000)).count();
        assert_eq!(later, 10, "credit never exceeds the burst");
        // Offered every 100 ticks for one second: the rate (1,000/s).
        let mut n = 0;
        for i in 1..=10_000u64 {
            n += usize::from(b.take(6_000_000 + i * 100));
        }
        assert!((999..=1_001).contains(&n), "{n}");
    }

    #[test]
    fn one_kind_flooding_leaves_the_others_their_share() {
        let hz = 1_000_000;
        let mut p = PuntPolicer::new(hz, 0);
        let geneve = (0..100_000)
            .filter(|_| p.admit(PuntClass::GeneveControl, 0))
            .count() as u64;
        assert_eq!(geneve, GENEVE_CONTROL_RATE.1);
        let arp = (0..100).filter(|_| p.admit(PuntClass::ArpNd, 0)).count();
        assert_eq!(arp, 100, "ARP has its own bucket");
        assert_eq!(
            PuntClass::GeneveControl.policed(),
            DropReason::PuntPolicedGeneveControl
        );
    }

    #[test]
    fn local_punts_are_classed_by_their_headers() {
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(PuntClass::of_local(&arp), PuntClass::ArpNd);
        // IPv6 neighbour solicitation (type 135) and an echo request (128).
        let mut ns = vec![0u8; 14 + 40 + 24];
        ns[12..14].copy_from_slice(&[0x86, 0xdd]);
        ns[14] = 0x60;
        ns[18..20].copy_from_slice(&24u16.to_be_bytes());
        ns[20] = 58;
        ns[21] = 255;
        ns[54] = 135;
        assert_eq!(PuntClass::of_local(&ns), PuntClass::ArpNd);
        ns[54] = 128;
        assert_eq!(PuntClass::of_local(&ns), PuntClass::Icmp);
    }
}
