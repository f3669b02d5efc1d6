//! Worker loops, per-core state and counters.
pub mod forward;
pub mod stats;
