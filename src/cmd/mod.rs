//! One module per `geneve-gw` subcommand: its command-line arguments and its
//! entry point (`execute`). `main.rs` only parses and dispatches. The worker
//! loops they start live in `dataplane`, the control thread in `control`.
#![forbid(unsafe_code)]
pub mod check;
pub mod ctl;
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

/// Every `--vdev` must have become a port: a device whose driver failed to
/// probe (a missing pcap file, a bad argument) otherwise vanishes silently
/// and the run fails later for a reason that hides the cause. The error
/// carries what the driver logged at error level.
#[cfg(feature = "dpdk")]
pub(crate) fn check_devices(eal_args: &[String], eal: &crate::dpdk::Eal) -> Result<(), String> {
    let asked = eal_args
        .iter()
        .filter(|a| *a == "--vdev" || a.starts_with("--vdev="))
        .count();
    let got = crate::dpdk::port_count() as usize;
    if got >= asked {
        return Ok(());
    }
    // The driver's complaint names the cause; PCI probing of devices the
    // kernel owns and the generic bus summary are noise here.
    let said: Vec<String> = eal
        .startup_errors()
        .unwrap_or_default()
        .split("; ")
        .filter(|l| !l.contains("PCI") && !l.contains("0000:") && !l.contains("Bus (vdev)"))
        .map(str::to_string)
        .collect();
    let why = if said.is_empty() {
        String::new()
    } else {
        format!(" (the driver said: {})", said.join("; "))
    };
    Err(format!(
        "{asked} --vdev devices were given but only {got} came up as ports{why}; check each device's arguments (file paths, names)"
    ))
}
