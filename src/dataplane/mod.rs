//! Worker loops, per-core state and counters.
