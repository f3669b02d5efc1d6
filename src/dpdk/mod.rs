//! Safe wrappers over DPDK: the only home of `unsafe` outside `dpdk-sys`.
//!
//! Ownership model: an [`Mbuf`] owns one packet (its whole segment chain);
//! dropping it frees it. A [`Burst`] is a fixed-size array of owned mbufs that
//! RX fills and TX drains from the front: what the PMD did not take stays in
//! the burst, so nothing is freed twice and nothing leaks.
//!
//! Modules import downwards only: `mbuf` <- `burst` (the container) <- `rxtx`
//! (RX/TX bursts on a port queue, the TX buffer); `port` (configuration,
//! stats) knows no bursts; `log` captures DPDK's log for `eal` and `port`.

mod burst;
mod eal;
mod error;
mod flow;
mod huge;
mod lcore;
mod log;
mod mbuf;
mod mempool;
mod port;
mod prefetch;
mod rxtx;
pub mod telemetry;

pub use burst::{Burst, FrontRuns, BURST_SIZE};
pub use eal::{hugepages_available, Eal, EalError};
pub use error::DpdkError;
pub use flow::{port_caps, try_geneve_udp_port, tx_caps, Flow, FlowError, FlowRule};
pub use huge::advise_huge_pages;
pub use lcore::{current_lcore, tsc_hz, tsc_now, worker_lcores, LaunchedWorkers, WorkerLcore};
pub use log::CapturedLog;
pub use mbuf::{Mbuf, TxLengths};
pub use mempool::Mempool;
pub use port::{
    port_count, port_id_by_name, rx_offload_ipv4_cksum, rx_offload_outer_udp_cksum, stats_of,
    AppliedConfig, ExtendedStat, LinkStatus, Port, PortInfo, PortSetup, PortStats, TxOffloads,
};
pub use prefetch::{prefetch, prefetch_lines, prefetch_span, prefetch_tail};
pub use rxtx::{rx_burst, tx_burst, TxBuffer};

/// DPDK's default mbuf data room: 2048 bytes plus the 128-byte headroom.
pub const DEFAULT_MBUF_BUF_SIZE: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;
/// Headroom of a freshly allocated mbuf (`RTE_PKTMBUF_HEADROOM`).
pub const MBUF_HEADROOM: u16 = dpdk_sys::RTE_PKTMBUF_HEADROOM as u16;
