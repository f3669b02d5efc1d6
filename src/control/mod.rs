//! The control thread: signals, stop conditions and the live summary, the
//! ARP/ICMP/ND responder, telemetry, the Prometheus endpoint and the `stats`
//! client. It runs on the EAL main lcore, never on a worker core. The
//! subcommands that start it are in `cmd`.
#![forbid(unsafe_code)]
pub mod api;
pub mod api_proto;
pub mod observe;
pub mod pages;
pub mod responder;
pub mod stats_client;
#[cfg(feature = "dpdk")]
pub mod telemetry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a run ends besides SIGINT/SIGTERM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopConditions {
    /// Stop once this many packets were received in total.
    pub after_packets: Option<u64>,
    /// Stop when nothing was received for this long.
    pub after_idle: Option<Duration>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    Packets(u64),
    Idle(Duration),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Signal => write!(f, "signal"),
            StopReason::Packets(n) => write!(f, "{n} packets received"),
            StopReason::Idle(d) => write!(f, "idle for {} ms", d.as_millis()),
        }
    }
}

/// `metrics.capture` needs hugepage files a secondary process (dpdk-dumpcap)
/// can map: refuses EAL arguments that make memory private or unlink it.
pub fn capture_preflight(eal_args: &[String]) -> Result<(), String> {
    let private = ["--in-memory", "--no-shconf", "--no-huge", "--huge-unlink"];
    match eal_args.iter().find(|a| {
        private
            .iter()
            .any(|f| a.as_str() == *f || a.as_str() == format!("{f}=always"))
    }) {
        Some(a) => Err(format!(
            "metrics.capture needs hugepage files shared with dpdk-dumpcap; `{a}` after `--` makes memory private"
        )),
        None => Ok(()),
    }
}

/// A flag set by SIGINT and SIGTERM.
pub fn signal_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    Ok(flag)
}

/// Tracks the total RX count against the stop conditions: the one place
/// that decides when `forward` and `run` end (besides a signal).
pub struct StopTracker {
    cond: StopConditions,
    last_rx: u64,
    last_change: Instant,
}

impl StopTracker {
    pub fn new(cond: StopConditions) -> StopTracker {
        StopTracker {
            cond,
            last_rx: 0,
            last_change: Instant::now(),
        }
    }

    /// Feed the current total RX count; `Some` once a condition holds.
    pub fn check(&mut self, rx: u64, now: Instant) -> Option<StopReason> {
        if rx != self.last_rx {
            self.last_rx = rx;
            self.last_change = now;
        }
        if let Some(n) = self.cond.after_packets {
            if rx >= n {
                return Some(StopReason::Packets(rx));
            }
        }
        match self.cond.after_idle {
            Some(idle) if now.duration_since(self.last_change) >= idle => {
                Some(StopReason::Idle(idle))
            }
            _ => None,
        }
    }
}

/// Watches the total RX count until a stop condition holds, calling
/// `summary(elapsed_since_last)` every `interval` (if any). Returns the reason.
pub fn watch(
    signal: &AtomicBool,
    stop: &StopConditions,
    interval: Option<Duration>,
    mut total_rx: impl FnMut() -> u64,
    mut summary: impl FnMut(Duration),
) -> StopReason {
    let poll = Duration::from_millis(1);
    let mut tracker = StopTracker::new(*stop);
    let mut last_summary = Instant::now();
    loop {
        if signal.load(Ordering::Relaxed) {
            return StopReason::Signal;
        }
        let now = Instant::now();
        if let Some(r) = tracker.check(total_rx(), now) {
            return r;
        }
        if let Some(iv) = interval {
            let since = now.duration_since(last_summary);
            if since >= iv {
                summary(since);
                last_summary = now;
            }
        }
        std::thread::sleep(poll);
    }
}

/// Packets per second, human-readable.
pub fn rate(packets: u64, over: Duration) -> String {
    let secs = over.as_secs_f64();
    if secs <= 0.0 {
        return "0 pps".into();
    }
    let pps = packets as f64 / secs;
    if pps >= 1e6 {
        format!("{:.2} Mpps", pps / 1e6)
    } else if pps >= 1e3 {
        format!("{:.1} kpps", pps / 1e3)
    } else {
        format!("{pps:.0} pps")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_packets() {
        let sig = AtomicBool::new(false);
        let mut n = 0;
        let r = watch(
            &sig,
            &StopConditions {
                after_packets: Some(5),
                after_idle: None,
            },
            None,
            || {
                n += 1;
                n
            },
            |_| {},
        );
        assert_eq!(r, StopReason::Packets(5));
    }

    #[test]
    fn stops_when_idle() {
        let sig = AtomicBool::new(false);
        let t0 = Instant::now();
        let r = watch(
            &sig,
            &StopConditions {
                after_packets: None,
                after_idle: Some(Duration::from_millis(20)),
            },
            None,
            || 7,
            |_| {},
        );
        assert_eq!(r, StopReason::Idle(Duration::from_millis(20)));
        assert!(t0.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn stops_on_signal() {
        let sig = AtomicBool::new(true);
        let r = watch(&sig, &StopConditions::default(), None, || 0, |_| {});
        assert_eq!(r, StopReason::Signal);
    }

    #[test]
    fn rates_are_readable() {
        assert_eq!(rate(2_500_000, Duration::from_secs(1)), "2.50 Mpps");
        assert_eq!(rate(1500, Duration::from_secs(1)), "1.5 kpps");
        assert_eq!(rate(10, Duration::from_secs(1)), "10 pps");
    }
}
