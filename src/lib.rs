//! geneve-gw: a Geneve (RFC 8926) tunnel gateway on DPDK.
//!
//! Dependencies point one way: `wire` <- `tunnel` <- `dataplane` -> `dpdk`;
//! `control` (the control thread) uses `dataplane`; `cmd` (one module per
//! subcommand) sits on top of them all and nothing imports it. `wire`,
//! `tunnel` and `config` know nothing of DPDK and build without it.

pub mod cmd;
pub mod config;
pub mod control;
pub mod offload;
pub mod tunnel;
pub mod wire;

pub mod dataplane;
#[cfg(feature = "dpdk")]
pub mod dpdk;
