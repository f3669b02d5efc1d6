//! TX checksum offload for encapsulated packets: which checksums the NIC
//! finishes, and the per-packet metadata that tells it so.
//!
//! Knows no DPDK: the data plane turns [`TxOffloadCaps`] from the port's
//! enabled TX offloads, hands them to [`EncapTemplate::set_tx_offload`], and
//! writes the [`TxOffload`] that `encap` reports (through
//! [`Buffer::set_tx_offload`]) into the mbuf (`l2_len`, `l3_len`, `l4_len`,
//! `ol_flags`).
//!
//! Only checksums the software path would write are offloaded, so both paths
//! put the same bytes on the wire. The outer headers are described as a
//! plain (non-tunnel) packet: `l2_len` = outer Ethernet (+ 802.1Q), `l3_len`
//! = outer IP header, `l4_len` = UDP header, with `TX_IPV4`/`TX_IPV6`,
//! `TX_IP_CKSUM` and `TX_UDP_CKSUM`. That needs only the plain `IPV4_CKSUM`
//! and `UDP_CKSUM` capabilities, which virtio, net_tap, mlx5 and i40e all
//! have, where `OUTER_UDP_CKSUM` is rare; the inner frame is payload the NIC
//! sums without parsing. The inner checksums are the sender's and are
//! forwarded untouched.
//!
//! | underlay | UDP checksum (config) | port enables        | software writes              | NIC computes        |
//! |----------|-----------------------|---------------------|------------------------------|---------------------|
//! | IPv4     | zero (default)        | IPV4_CKSUM          | IP checksum 0, UDP 0         | IPv4 header         |
//! | IPv4     | zero                  | none                | IP checksum, UDP 0           | nothing             |
//! | IPv4     | compute               | IPV4 + UDP_CKSUM    | IP 0, UDP = pseudo-header    | IPv4 header, UDP    |
//! | IPv4     | compute               | UDP_CKSUM (virtio)  | IP checksum, UDP = pseudo    | UDP                 |
//! | IPv4     | compute               | IPV4_CKSUM          | IP 0, UDP checksum           | IPv4 header         |
//! | IPv6     | compute (default)     | UDP_CKSUM           | UDP = pseudo-header          | UDP                 |
//! | IPv6     | zero (RFC 6935)       | any                 | UDP 0                        | nothing             |
//! | any      | any                   | none / `offload: off` | everything                 | nothing             |
//!
//! Inner TCP frames over the tunnel MTU (see `tunnel::segment`):
//!
//! | underlay | outer UDP checksum | port enables                     | software does                          | NIC does                 |
//! |----------|--------------------|----------------------------------|----------------------------------------|--------------------------|
//! | IPv4     | zero               | GENEVE_TNL_TSO + OUTER_IPV4_CKSUM | encap once, inner IP csum 0, TCP seed  | segments, all checksums  |
//! | IPv6     | zero               | GENEVE_TNL_TSO                   | encap once, inner IP csum 0, TCP seed  | segments, all checksums  |
//! | any      | computed           | any                              | segments, encap each (table above)     | as in the table above    |
//! | any      | any                | no TSO / `offload: off`          | segments, encap each (table above)     | as in the table above    |
//!
//! "pseudo-header" is what DPDK's `rte_ipv4_phdr_cksum` /
//! `rte_ipv6_phdr_cksum` return: the folded, not complemented, one's
//! complement sum of the pseudo header, which PMDs with virtio semantics
//! (`csum_start`/`csum_offset`) expect in the checksum field. The NIC sums
//! from the UDP header to the end of the frame (the field included) and
//! stores the complement, 0 as 0xffff (RFC 768), exactly as
//! [`emulate_nic`] does.
//!
//! [`EncapTemplate::set_tx_offload`]: super::EncapTemplate::set_tx_offload
//! [`Buffer::set_tx_offload`]: super::Buffer::set_tx_offload
use crate::wire::checksum;

/// The TX checksum offloads a port has enabled (the subset the gateway uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffloadCaps {
    /// `RTE_ETH_TX_OFFLOAD_IPV4_CKSUM`.
    pub ipv4_checksum: bool,
    /// `RTE_ETH_TX_OFFLOAD_UDP_CKSUM`.
    pub udp_checksum: bool,
    /// `RTE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO`: the NIC segments inner TCP.
    pub geneve_tso: bool,
    /// `RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM` (Geneve TSO over IPv4 needs it:
    /// the NIC rewrites every segment's outer IPv4 header).
    pub outer_ipv4_checksum: bool,
}

impl TxOffloadCaps {
    /// No offload: pure software.
    pub const NONE: TxOffloadCaps = TxOffloadCaps {
        ipv4_checksum: false,
        udp_checksum: false,
        geneve_tso: false,
        outer_ipv4_checksum: false,
    };
    /// True when the port does nothing the gateway can use.
    pub fn is_none(&self) -> bool {
        !self.ipv4_checksum && !self.udp_checksum && !self.geneve_tso
    }
}

/// Per-packet TX metadata of an encapsulated packet: the outer headers as
/// the NIC must see them and what it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOffload {
    /// Outer Ethernet header, with its 802.1Q tag if any.
    pub l2_len: u8,
    /// Outer IP header (20 or 40).
    pub l3_len: u8,
    /// UDP header (8).
    pub l4_len: u8,
    /// Outer IP version: `TX_IPV6` instead of `TX_IPV4`.
    pub ipv6: bool,
    /// The NIC computes the outer IPv4 header checksum (`TX_IP_CKSUM`).
    pub ip_checksum: bool,
    /// The NIC computes the outer UDP checksum (`TX_UDP_CKSUM`) over the
    /// pseudo-header sum the software left in the field.
    pub udp_checksum: bool,
}

/// The pseudo-header sum `encap` seeds the UDP checksum field with, from the
/// template's address sum (`addr_sum`: source, destination and protocol,
/// unfolded) and the UDP length: folded, not complemented, never 0.
#[inline(always)]
pub(crate) fn pseudo_seed(addr_sum: u32, udp_len: u16) -> u16 {
    let s = addr_sum + u32::from(udp_len);
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// What a NIC that honours `o` does to `frame` on transmit, in software: the
/// reference the offload path is tested against. Returns false when the
/// frame is too short for the metadata.
pub fn emulate_nic(frame: &mut [u8], o: &TxOffload) -> bool {
    let l3 = usize::from(o.l2_len);
    let l4 = l3 + usize::from(o.l3_len);
    if frame.len() < l4 + usize::from(o.l4_len) {
        return false;
    }
    if o.ip_checksum && !o.ipv6 {
        frame[l3 + 10] = 0;
        frame[l3 + 11] = 0;
        let c = checksum::checksum(&frame[l3..l4]);
        frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if o.udp_checksum {
        // The field holds the pseudo-header sum: sum it with the rest.
        let c = !checksum::fold(checksum::accumulate(0, &frame[l4..]));
        let c = if c == 0 { 0xffff } else { c };
        frame[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_the_folded_pseudo_header_sum() {
        for (a, len) in [(0u32, 8u16), (0x1_fffe, 0xffff), (0x3_0011, 1), (17, 0)] {
            let s = pseudo_seed(a, len);
            let expect = checksum::fold(u64::from(a) + u64::from(len));
            assert_eq!(s, expect, "{a:#x} {len}");
        }
    }
}
