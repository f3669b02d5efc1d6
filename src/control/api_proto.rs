//! The control API's messages and services, generated at build time from
//! `proto/geneve_gw.proto` (see `build.rs`).
#![allow(clippy::all, clippy::pedantic, missing_docs)]
tonic::include_proto!("geneve_gw.v1");
