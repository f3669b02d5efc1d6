//! DPDK error values turned into messages an operator can act on.
use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: what we were doing and the errno DPDK gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    pub context: String,
    pub errno: i32,
    /// What DPDK itself logged at error level during the call (the driver's
    /// own cause) and what to check, when known.
    pub detail: Option<String>,
}

impl DpdkError {
    pub(crate) fn new(context: impl Into<String>, errno: i32) -> Self {
        DpdkError {
            context: context.into(),
            errno: errno.abs(),
            detail: None,
        }
    }

    /// An error from a call that reports failure through `rte_errno`.
    pub(crate) fn from_rte_errno(context: impl Into<String>) -> Self {
        Self::new(context, last_rte_errno())
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, strerror(self.errno))?;
        match &self.detail {
            Some(d) => write!(f, " ({d})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DpdkError {}

/// The calling thread's `rte_errno`.
pub(crate) fn last_rte_errno() -> i32 {
    // SAFETY: reads a thread-local integer through a C helper; no preconditions.
    unsafe { dpdk_sys::geneve_rte_errno() }
}

/// DPDK's text for an errno (covers DPDK's own codes above the libc range).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string that stays valid until the next call on this thread;
    // we copy it out at once.
    unsafe {
        let p = dpdk_sys::rte_strerror(errno);
        if p.is_null() {
            return format!("error {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
