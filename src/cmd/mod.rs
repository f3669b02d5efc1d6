//! One module per `geneve-gw` subcommand: its command-line arguments and its
//! entry point (`execute`). `main.rs` only parses and dispatches. The worker
//! loops they start live in `dataplane`, the control thread in `control`.
pub mod check;
#[cfg(feature = "dpdk")]
pub mod forward;
#[cfg(feature = "dpdk")]
pub mod gen;
#[cfg(feature = "dpdk")]
pub mod probe;
#[cfg(feature = "dpdk")]
pub mod run;
pub mod stats;

#[cfg(feature = "dpdk")]
use std::time::Duration;

#[cfg(feature = "dpdk")]
use clap::Args;

/// Stop conditions and the live summary, shared by `run` and `forward`.
#[cfg(feature = "dpdk")]
#[derive(Debug, Args)]
pub struct RunControl {
    /// Stop after this many packets were received in total.
    #[arg(long, value_name = "N")]
    pub stop_after_packets: Option<u64>,
    /// Stop when no packet was received for this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub stop_after_idle: Option<u64>,
    /// Seconds between live summary lines (0: none).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub stats_interval: f64,
    /// Show the EAL's own log.
    #[arg(short, long)]
    pub verbose: bool,
}

#[cfg(feature = "dpdk")]
impl RunControl {
    pub fn stop(&self) -> crate::control::StopConditions {
        crate::control::StopConditions {
            after_packets: self.stop_after_packets,
            after_idle: self.stop_after_idle.map(Duration::from_millis),
        }
    }

    pub fn interval(&self) -> Result<Option<Duration>, String> {
        if !self.stats_interval.is_finite() || self.stats_interval < 0.0 {
            return Err(format!(
                "--stats-interval {} is not a number of seconds >= 0",
                self.stats_interval
            ));
        }
        Ok((self.stats_interval > 0.0).then(|| Duration::from_secs_f64(self.stats_interval)))
    }
}
