//! DPDK telemetry commands (`dpdk-telemetry.py`, `geneve-gw stats`) and the
//! packet-capture server `dpdk-dumpcap` attaches to.
//!
//! Telemetry callbacks run on DPDK's telemetry thread. Every command
//! registered here goes through one C trampoline that looks the command up
//! in a process-global table of plain Rust functions; those return owned
//! data ([`TelData`]) that the trampoline copies into DPDK's reply. They
//! must only read shared state (e.g. a published snapshot), never the
//! workers' hot-path structures under a lock.
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Mutex;

use super::error::DpdkError;

/// One value in a telemetry dictionary.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    U64(u64),
    Str(String),
}

/// A command's reply.
#[derive(Debug, Clone, PartialEq)]
pub enum TelData {
    /// Keys must be alphanumeric, '_' or '/' (DPDK checks and refuses others).
    Dict(Vec<(String, TelValue)>),
    U64Array(Vec<u64>),
}

/// A command handler: the parameters after the comma (may be empty); None
/// answers with an error (e.g. a bad parameter or nothing to show yet).
pub type TelHandler = fn(params: &str) -> Option<TelData>;

static HANDLERS: Mutex<Vec<(String, TelHandler)>> = Mutex::new(Vec::new());

/// The longest help text DPDK registers a command with (its string limit
/// less the NUL); a longer one makes the registration fail.
pub const MAX_HELP_LEN: usize = dpdk_sys::RTE_TEL_MAX_STRING_LEN as usize - 1;

/// Registers `cmd` (e.g. `/geneve_gw/counters`) with DPDK's telemetry.
pub fn register(cmd: &str, help: &str, handler: TelHandler) -> Result<(), DpdkError> {
    let c_cmd = CString::new(cmd).map_err(|_| DpdkError::new("telemetry command", -22))?;
    if help.len() > MAX_HELP_LEN {
        return Err(DpdkError::new("telemetry help longer than DPDK takes", -22));
    }
    let c_help = CString::new(help).map_err(|_| DpdkError::new("telemetry help", -22))?;
    HANDLERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((cmd.to_string(), handler));
    // SAFETY: both strings are valid NUL-terminated C strings; DPDK copies
    // them into its own table. The callback is a plain function that lives
    // for the whole process and is safe to call from any thread.
    let rc = unsafe {
        dpdk_sys::rte_telemetry_register_cmd(c_cmd.as_ptr(), Some(trampoline), c_help.as_ptr())
    };
    if rc < 0 {
        return Err(DpdkError::new("rte_telemetry_register_cmd", rc));
    }
    Ok(())
}

unsafe extern "C" fn trampoline(
    cmd: *const c_char,
    params: *const c_char,
    d: *mut dpdk_sys::rte_tel_data,
) -> c_int {
    if cmd.is_null() || d.is_null() {
        return -22;
    }
    // SAFETY: DPDK passes the NUL-terminated command it matched.
    let cmd = unsafe { CStr::from_ptr(cmd) }.to_string_lossy();
    let params = if params.is_null() {
        String::new()
    } else {
        // SAFETY: when not null, params is NUL-terminated (DPDK's parser).
        unsafe { CStr::from_ptr(params) }
            .to_string_lossy()
            .into_owned()
    };
    let handler = HANDLERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(c, _)| *c == cmd)
        .map(|(_, h)| *h);
    let Some(handler) = handler else {
        return -22;
    };
    let Some(data) = handler(&params) else {
        return -22;
    };
    // SAFETY: d is the reply DPDK handed to this callback, valid until we return.
    unsafe { fill(d, &data) }
}

/// Copies `data` into DPDK's reply.
///
/// # Safety
/// `d` must be the `rte_tel_data` of the running callback.
unsafe fn fill(d: *mut dpdk_sys::rte_tel_data, data: &TelData) -> c_int {
    match data {
        TelData::Dict(entries) => {
            // SAFETY: d is valid (caller); a dict is started before entries are added.
            unsafe { dpdk_sys::rte_tel_data_start_dict(d) };
            for (k, v) in entries {
                let Ok(key) = CString::new(k.as_str()) else {
                    continue;
                };
                match v {
                    TelValue::U64(n) => {
                        // SAFETY: d holds a started dict; key is NUL-terminated and copied.
                        unsafe { dpdk_sys::rte_tel_data_add_dict_u64(d, key.as_ptr(), *n) };
                    }
                    TelValue::Str(s) => {
                        let Ok(val) = CString::new(s.as_str()) else {
                            continue;
                        };
                        // SAFETY: as above; the value is copied (truncated at 128 bytes).
                        unsafe {
                            dpdk_sys::rte_tel_data_add_dict_string(d, key.as_ptr(), val.as_ptr())
                        };
                    }
                }
            }
        }
        TelData::U64Array(values) => {
            // SAFETY: d is valid (caller); the array is started as u64 before values are added.
            unsafe {
                dpdk_sys::rte_tel_data_start_array(d, dpdk_sys::rte_tel_value_type_RTE_TEL_U64_VAL)
            };
            for v in values {
                // SAFETY: d holds a started u64 array.
                unsafe { dpdk_sys::rte_tel_data_add_array_u64(d, *v) };
            }
        }
    }
    0
}

/// The packet-capture server that `dpdk-dumpcap` and `dpdk-pdump` talk to
/// over the multi-process channel. It costs nothing until a capture starts:
/// then DPDK's RX/TX callbacks copy packets to the capture tool's ring.
pub struct PdumpServer(());

impl PdumpServer {
    pub fn start() -> Result<PdumpServer, DpdkError> {
        // SAFETY: the EAL is up (callers start it first); no other precondition.
        let rc = unsafe { dpdk_sys::rte_pdump_init() };
        if rc < 0 {
            return Err(DpdkError::new(
                "rte_pdump_init",
                super::error::last_rte_errno(),
            ));
        }
        Ok(PdumpServer(()))
    }
}

impl Drop for PdumpServer {
    fn drop(&mut self) {
        // SAFETY: rte_pdump_init succeeded for this value; uninit is called once.
        unsafe { dpdk_sys::rte_pdump_uninit() };
    }
}
