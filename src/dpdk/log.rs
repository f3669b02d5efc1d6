//! DPDK's log, captured while a call runs, so that an error can carry the
//! driver's own message ("Couldn't open ...", "Failed to connect socket ...")
//! instead of only an errno.
use std::ffi::CStr;
use std::os::raw::c_char;

/// What DPDK logged during a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedLog {
    /// Every message, as DPDK would have printed it.
    pub all: String,
    /// The messages at error level or worse (`RTE_LOG_ERR`).
    pub errors: String,
}

impl CapturedLog {
    /// The error-level messages as one line ("a; b"), or None when DPDK
    /// logged no error.
    pub fn error_line(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .errors
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn copy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: p is a NUL-terminated buffer owned by helpers.c that stays
    // valid until the next capture starts; it is copied at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Runs `f` with DPDK's log going to memory instead of stderr. Captures do
/// not nest; call it from the control thread only (the EAL start, port
/// setup).
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, CapturedLog) {
    // SAFETY: points DPDK's log stream at a memory stream of helpers.c; no
    // preconditions (a failure leaves the log where it was).
    unsafe { dpdk_sys::geneve_log_capture_start() };
    let out = f();
    // SAFETY: ends the capture started above and restores DPDK's default
    // stream; both returned strings are copied before anything else runs.
    let log = unsafe {
        let all = copy(dpdk_sys::geneve_log_capture_stop());
        let errors = copy(dpdk_sys::geneve_log_capture_errors());
        CapturedLog { all, errors }
    };
    (out, log)
}

#[cfg(test)]
mod tests {
    use super::CapturedLog;

    #[test]
    fn error_line_joins_the_error_messages() {
        let none = CapturedLog {
            all: "EAL: Detected CPU lcores: 2\n".into(),
            errors: String::new(),
        };
        assert_eq!(none.error_line(), None);
        let two = CapturedLog {
            all: String::new(),
            errors: "open_single_rx_pcap(): Couldn't open x.pcap\n\nvdev_probe(): failed to initialize net_pcap0 device\n".into(),
        };
        assert_eq!(
            two.error_line().as_deref(),
            Some("open_single_rx_pcap(): Couldn't open x.pcap; vdev_probe(): failed to initialize net_pcap0 device")
        );
    }
}
