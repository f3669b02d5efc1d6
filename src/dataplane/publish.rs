//! Left-right publication of the tables the workers read.
//!
//! Two copies of [`Tables`]: the front one, which the workers read through
//! an `ArcSwap` (each worker holds an `Arc` of it and compares the
//! generation once per poll round), and the back one, which only the
//! control thread touches. A batch of [`Change`]s is applied to the back
//! copy, which then becomes the front; the old front becomes the back once
//! the last worker lets go of it (within one poll round), and the batch is
//! applied to it again before the next one. So:
//!
//! - a worker never waits and never sees a half-made change: a batch
//!   becomes visible at once, on a copy nobody writes while it is read;
//! - lookups stay plain hash-map and array reads (no concurrent map on the
//!   hot path);
//! - a change costs what applying it costs, twice; the price is a second
//!   copy of the tables in memory.
//!
//! The writer never blocks either: when a worker still holds the back
//! copy, [`Publisher::flush`] says so and the control thread tries again
//! on its next turn, with the batch kept (later changes join it).
//!
//! Why this and not something else (numbers in BENCHMARKS.md, "Scale:
//! tables changed entry by entry"):
//!
//! - A concurrent map per table (papaya, already used for the flow-id
//!   table; DPDK's `rte_hash` / `rte_fib` with `rte_rcu_qsbr`): no second
//!   copy, but every lookup of every packet pays the map's guard and atomic
//!   loads (or an FFI call per burst and `unsafe` outside `src/dpdk`), and
//!   a change that touches two tables (a template and the route that uses
//!   it) is not visible at once.
//! - The `left-right` crate: the same idea, but its readers enter and
//!   leave an epoch around every read and its `publish` spins until the
//!   readers have left. Here the workers already compare a generation once
//!   per poll round and hold an `Arc` between rounds, so reclamation comes
//!   from `Arc::get_mut` on the back copy: nothing is added to the worker
//!   (instructions per packet unchanged) and the writer never spins.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::changes::Change;
use super::tables::Tables;

/// What [`Publisher::flush`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Nothing was waiting.
    Idle,
    /// This many changes became visible, as one generation.
    Published(usize),
    /// A worker still reads the back copy: try again later.
    Busy,
}

/// The control thread's end of the left-right pair.
pub struct Publisher {
    /// The copy no worker reads once they all moved to the front.
    back: Arc<Tables>,
    /// Applied to the front, still to be applied to `back`.
    replay: Vec<Change>,
    /// Not yet applied anywhere.
    pending: Vec<Change>,
    generation: u64,
    /// Every worker reads this generation or a later one.
    settled: u64,
}

impl Publisher {
    /// `back` is a copy of the front tables (generation `generation`).
    pub fn new(back: Tables, generation: u64) -> Publisher {
        Publisher {
            back: Arc::new(back),
            replay: Vec::new(),
            pending: Vec::new(),
            generation,
            settled: generation,
        }
    }

    /// Queues changes for the next [`flush`](Self::flush).
    pub fn push(&mut self, changes: Vec<Change>) {
        if self.pending.is_empty() {
            self.pending = changes;
        } else {
            self.pending.extend(changes);
        }
    }

    /// Changes queued, not yet visible.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The generation last published.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The oldest generation a worker may still read: no worker holds the
    /// tables of an earlier one (what freed counter slots wait for).
    pub fn settled(&self) -> u64 {
        self.settled
    }

    /// Brings the back copy up to date and, when changes are queued,
    /// publishes them as one new generation.
    pub fn flush(&mut self, front: &ArcSwap<Tables>, generation: &AtomicU64) -> Flush {
        if self.pending.is_empty() && self.replay.is_empty() {
            return Flush::Idle;
        }
        let Some(back) = Arc::get_mut(&mut self.back) else {
            return Flush::Busy;
        };
        // Nobody holds the old front: every worker reads the front.
        self.settled = self.generation;
        for c in self.replay.drain(..) {
            back.apply(c);
        }
        if self.pending.is_empty() {
            return Flush::Idle;
        }
        for c in &self.pending {
            back.apply(c.clone());
        }
        self.generation += 1;
        back.generation = self.generation;
        let old = front.swap(self.back.clone());
        generation.store(self.generation, Ordering::Release);
        self.back = old;
        let n = self.pending.len();
        self.replay = std::mem::take(&mut self.pending);
        Flush::Published(n)
    }
}
