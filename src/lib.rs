//! geneve-gw: a Geneve (RFC 8926) tunnel gateway on DPDK.
//!
//! Dependencies point one way: `wire` <- `tunnel` <- `dataplane` -> `dpdk`.
//! `wire`, `tunnel` and `config` know nothing of DPDK and build without it.

pub mod config;
pub mod control;
pub mod offload;
pub mod tunnel;
pub mod wire;

pub mod dataplane;
#[cfg(feature = "dpdk")]
pub mod dpdk;
