//! Which TX offloads the gateway asks a port for, and what the encap
//! templates may leave to the NIC once the port is configured.
//!
//! `offload: auto` asks the underlay port for the IPv4 header and UDP
//! checksum offloads, Geneve TSO and the outer IPv4 checksum (TSO needs it) (`configure_and_start` keeps only those the port
//! advertises); `offload: off` asks for nothing. The templates then leave to
//! the NIC exactly the checksums the enabled offloads cover; the table of
//! cases is in `tunnel::offload`. Access ports are asked for nothing: the
//! gateway forwards decapsulated frames as they are.
//!
//! On receive, `offload: auto` asks the underlay port for the IPv4 header
//! checksum check: decap then trusts a packet the port marked good
//! (`RTE_MBUF_F_RX_IP_CKSUM_GOOD`) and checks every other one itself; and
//! for the outer UDP checksum, which the decap IPv6 fast tier then skips
//! for a packet marked good (`RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD`).
use crate::config::Offload;
use crate::dpdk::{AppliedConfig, TxOffloads};
use crate::tunnel::TxOffloadCaps;

/// The TX offloads to request for the underlay port.
pub fn request(mode: Offload) -> TxOffloads {
    match mode {
        Offload::Off => TxOffloads::default(),
        Offload::Auto => TxOffloads(
            TxOffloads::ipv4_cksum()
                | TxOffloads::udp_cksum()
                | TxOffloads::geneve_tnl_tso()
                | TxOffloads::outer_ipv4_cksum(),
        ),
    }
}

/// The RX offloads to request for the underlay port.
pub fn request_rx(mode: Offload) -> u64 {
    match mode {
        Offload::Off => 0,
        Offload::Auto => {
            crate::dpdk::rx_offload_ipv4_cksum() | crate::dpdk::rx_offload_outer_udp_cksum()
        }
    }
}

/// What the encap templates may leave to the NIC of a configured port.
pub fn caps(applied: &AppliedConfig) -> TxOffloadCaps {
    TxOffloadCaps {
        ipv4_checksum: applied.tx_offloads & TxOffloads::ipv4_cksum() != 0,
        udp_checksum: applied.tx_offloads & TxOffloads::udp_cksum() != 0,
        geneve_tso: applied.tx_offloads & TxOffloads::geneve_tnl_tso() != 0,
        outer_ipv4_checksum: applied.tx_offloads & TxOffloads::outer_ipv4_cksum() != 0,
    }
}

/// For the port line at start: `", tx offload ipv4_cksum+udp_cksum"` and
/// `", rx offload ipv4_cksum+outer_udp_cksum"` (the RX offloads the port
/// enabled, `rx_offloads`), or nothing when none is enabled.
pub fn describe(caps: TxOffloadCaps, rx_offloads: u64) -> String {
    let mut names = Vec::new();
    if caps.ipv4_checksum {
        names.push("ipv4_cksum");
    }
    if caps.udp_checksum {
        names.push("udp_cksum");
    }
    if caps.outer_ipv4_checksum {
        names.push("outer_ipv4_cksum");
    }
    if caps.geneve_tso {
        names.push("geneve_tnl_tso");
    }
    let mut s = String::new();
    if !names.is_empty() {
        s = format!(", tx offload {}", names.join("+"));
    }
    let rx: Vec<&str> = [
        (crate::dpdk::rx_offload_ipv4_cksum(), "ipv4_cksum"),
        (crate::dpdk::rx_offload_outer_udp_cksum(), "outer_udp_cksum"),
    ]
    .into_iter()
    .filter(|&(bit, _)| rx_offloads & bit != 0)
    .map(|(_, name)| name)
    .collect();
    if !rx.is_empty() {
        s.push_str(&format!(", rx offload {}", rx.join("+")));
    }
    s
}
