//! Worker loops, per-core state and counters, and the tables workers read.
//! `tables` and `pipeline` know no DPDK; the loops that run on mbufs do.
#![forbid(unsafe_code)]
pub mod changes;
pub mod flows;
#[cfg(feature = "dpdk")]
pub mod forward;
#[cfg(feature = "dpdk")]
pub mod gateway;
pub mod gen;
#[cfg(feature = "dpdk")]
pub mod gen_loop;
pub mod latency;
pub mod lpm;
pub mod pipeline;
pub mod police;
pub mod publish;
#[cfg(test)]
mod save_tests;
pub mod stats;
pub mod stitch;
pub mod tables;
#[cfg(feature = "dpdk")]
pub mod tx_offload;
