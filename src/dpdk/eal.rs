//! EAL start and teardown.
//!
//! `rte_eal_init` runs once per process. Its log is captured while it runs so
//! that a failure becomes one line saying what is wrong and how to fix it,
//! instead of a page of EAL output.
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{last_rte_errno, strerror};

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The running Environment Abstraction Layer. Dropping it calls
/// `rte_eal_cleanup`, which releases DPDK's memory; drop it last, after every
/// port is closed and every mempool freed.
pub struct Eal {
    log: super::CapturedLog,
    /// The runtime directory (`/var/run/dpdk/<prefix>`) and the files in it
    /// right after the EAL started: what this process created there.
    runtime_dir: std::path::PathBuf,
    created: Vec<std::ffi::OsString>,
}

/// Why the EAL did not start: one operator-facing line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalError {
    pub message: String,
    /// The EAL's own log lines while it tried, for `--verbose`.
    pub log: String,
}

impl fmt::Display for EalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EalError {}

fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter()
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// Free hugepages of any size, and whether a hugetlbfs is mounted.
pub fn hugepages_available() -> (u64, bool) {
    let mut free = 0u64;
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") {
        for e in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(e.path().join("free_hugepages")) {
                free += s.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        })
        .unwrap_or(false);
    (free, mounted)
}

/// The arguments geneve-gw adds when the user did not choose a memory mode:
/// `--huge-unlink` so that no hugepage files are left behind at exit.
fn effective_args(args: &[String]) -> Vec<String> {
    let mut out = args.to_vec();
    let chose_memory_mode = ["--no-huge", "--in-memory", "--huge-unlink"]
        .iter()
        .any(|f| has_flag(args, f));
    if !chose_memory_mode {
        out.push("--huge-unlink".to_string());
    }
    out
}

/// Turns the EAL's captured log into one line with a fix.
fn explain_failure(log: &str, errno: i32) -> String {
    let last_error = log
        .lines()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error")
                || l.contains("fail")
                || l.contains("cannot")
                || l.contains("invalid")
                || l.contains("unable")
                || l.contains("not ")
        })
        .map(|l| l.trim().to_string());
    let detail = last_error.clone().unwrap_or_else(|| strerror(errno));
    let lower = log.to_ascii_lowercase();
    let hint = if lower.contains("parse device")
        || lower.contains("driver cannot attach")
        || lower.contains("failed to find")
        || lower.contains("cannot find device")
    {
        "check the --vdev name and its arguments (e.g. net_null0, net_ring0, net_pcap0,rx_pcap=IN.pcap,tx_pcap=OUT.pcap)"
    } else if lower.contains("lock") || lower.contains("another primary") {
        "another DPDK process uses the same --file-prefix: give this one its own --file-prefix NAME"
    } else if lower.contains("hugepage") || lower.contains("memory") {
        "reserve hugepages with scripts/setup.sh, or add --no-huge -m 512 to the EAL arguments"
    } else if lower.contains("lcore") || lower.contains("core") {
        "check the core list (-l/--lcores): it must name cores this machine has"
    } else {
        "check the EAL arguments after `--` (run with --verbose to see the EAL log)"
    };
    format!("EAL could not start: {detail}; {hint}")
}

impl Eal {
    /// Starts the EAL with `args` (the words after `--`; argv[0] is added).
    pub fn init(args: &[String]) -> Result<Eal, EalError> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(EalError {
                message: "EAL already started in this process".into(),
                log: String::new(),
            });
        }
        let args = effective_args(args);
        if !has_flag(&args, "--no-huge") {
            let (free, mounted) = hugepages_available();
            let in_memory = has_flag(&args, "--in-memory");
            if free == 0 || (!mounted && !in_memory) {
                let why = if free == 0 {
                    "no free hugepages are reserved"
                } else {
                    "no hugetlbfs is mounted"
                };
                return Err(EalError {
                    message: format!(
                        "EAL could not start: {why}; run scripts/setup.sh to reserve hugepages, \
                         or add --no-huge -m 512 to the EAL arguments"
                    ),
                    log: String::new(),
                });
            }
        }
        // A runtime directory that does not exist yet is this start's own:
        // if the EAL fails, what it left there goes too.
        let new_runtime_dir = expected_runtime_dir(&args).filter(|d| !d.exists());
        let mut owned = Vec::with_capacity(args.len() + 1);
        for a in std::iter::once("geneve-gw".to_string()).chain(args) {
            match CString::new(a.clone()) {
                Ok(c) => owned.push(c),
                Err(_) => {
                    return Err(EalError {
                        message: format!("EAL argument {a:?} contains a NUL byte"),
                        log: String::new(),
                    })
                }
            }
        }
        // The EAL may keep pointers into argv for the life of the process.
        let owned: &'static [CString] = Box::leak(owned.into_boxed_slice());
        let mut argv: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        let argv: &'static mut [*mut c_char] = Box::leak(argv.split_off(0).into_boxed_slice());

        let ((rc, errno), log) = super::log::capture(|| {
            // SAFETY: argv holds argc valid NUL-terminated strings that live for
            // the rest of the process; rte_eal_init is called at most once
            // (EAL_STARTED).
            let rc = unsafe { dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
            (rc, last_rte_errno())
        });
        if rc < 0 {
            if let Some(dir) = new_runtime_dir {
                let made: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)
                    .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
                    .unwrap_or_default();
                remove_runtime_files(&dir, &made);
            }
            return Err(EalError {
                message: explain_failure(&log.all, errno),
                log: log.all,
            });
        }
        // SAFETY: the EAL is running; the runtime directory is a static
        // NUL-terminated string it owns, copied out at once.
        let runtime_dir = unsafe { CStr::from_ptr(dpdk_sys::rte_eal_get_runtime_dir()) }
            .to_string_lossy()
            .into_owned();
        let runtime_dir = std::path::PathBuf::from(runtime_dir);
        let created = std::fs::read_dir(&runtime_dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        Ok(Eal {
            log,
            runtime_dir,
            created,
        })
    }

    /// `init` for the subcommands: the error is its one-line message; with
    /// `verbose` the EAL's own log goes to stderr, on failure or success.
    pub fn init_for_cli(args: &[String], verbose: bool) -> Result<Eal, String> {
        let eal = Eal::init(args).map_err(|e| {
            if verbose {
                eprint!("{}", e.log);
            }
            e.message
        })?;
        if verbose {
            eprint!("{}", eal.startup_log());
        }
        Ok(eal)
    }

    /// What the EAL logged while starting.
    pub fn startup_log(&self) -> &str {
        &self.log.all
    }

    /// What the EAL logged at error level while starting, e.g. a driver that
    /// could not probe its device, as one line; None when nothing.
    pub fn startup_errors(&self) -> Option<String> {
        self.log.error_line()
    }

    /// The DPDK version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: rte_version returns a pointer to a static NUL-terminated string.
        unsafe { CStr::from_ptr(dpdk_sys::rte_version()) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: the EAL was started by this value; callers drop ports and
        // mempools before it (ownership order in main), as rte_eal_cleanup requires.
        unsafe { dpdk_sys::rte_eal_cleanup() };
        remove_runtime_files(&self.runtime_dir, &self.created);
    }
}

/// The runtime directory the EAL will use for `args`, by DPDK's rules:
/// `<base>/<file prefix>` with base `/var/run/dpdk` for root, else
/// `$XDG_RUNTIME_DIR/dpdk` or `/tmp/dpdk`; the prefix defaults to `rte`.
/// None for a prefix that is not a plain name.
fn expected_runtime_dir(args: &[String]) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut prefix = "rte";
    for (i, a) in args.iter().enumerate() {
        if a == "--file-prefix" {
            prefix = args.get(i + 1).map(String::as_str).unwrap_or(prefix);
        } else if let Some(p) = a.strip_prefix("--file-prefix=") {
            prefix = p;
        }
    }
    if prefix.is_empty() || prefix.contains('/') || prefix == "." || prefix == ".." {
        return None;
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let base = if root {
        std::path::PathBuf::from("/var/run/dpdk")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| std::path::PathBuf::from(d).join("dpdk"))
            .unwrap_or_else(|| std::path::PathBuf::from("/tmp/dpdk"))
    };
    Some(base.join(prefix))
}

/// DPDK leaves its runtime directory (`/var/run/dpdk/<prefix>`) behind:
/// the shared configuration, the memory maps' fbarrays, the multi-process
/// and telemetry sockets. With the EAL gone they serve nobody: remove the
/// files that were there when the EAL had started (this process made or
/// took them over) and the telemetry socket, then the directory if nothing
/// else is in it (a file another process added keeps it).
fn remove_runtime_files(dir: &std::path::Path, created: &[std::ffi::OsString]) {
    if dir.as_os_str().is_empty() {
        return;
    }
    for name in created {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_file(dir.join("dpdk_telemetry.v2"));
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_mode_defaults_to_huge_unlink() {
        let a = effective_args(&["-l".into(), "0-1".into()]);
        assert_eq!(a.last().map(String::as_str), Some("--huge-unlink"));
        let b = effective_args(&["--no-huge".into()]);
        assert!(!b.iter().any(|x| x == "--huge-unlink"));
        let c = effective_args(&["--in-memory".into()]);
        assert!(!c.iter().any(|x| x == "--huge-unlink"));
    }

    #[test]
    fn runtime_files_removed_but_not_others() {
        let dir = std::env::temp_dir().join(format!("geneve-gw-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "config",
            "fbarray_memzone",
            "mp_socket",
            "dpdk_telemetry.v2",
        ] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let ours: Vec<std::ffi::OsString> = ["config", "fbarray_memzone", "mp_socket"]
            .iter()
            .map(Into::into)
            .collect();
        // A secondary process's socket, made after the EAL started: kept,
        // and with it the directory.
        std::fs::write(dir.join("mp_socket_123_abc"), b"").unwrap();
        remove_runtime_files(&dir, &ours);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["mp_socket_123_abc"]);
        std::fs::remove_file(dir.join("mp_socket_123_abc")).unwrap();
        remove_runtime_files(&dir, &ours);
        assert!(!dir.exists());
    }

    #[test]
    fn runtime_dir_follows_the_file_prefix() {
        let dir = |a: &[&str]| {
            let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            expected_runtime_dir(&a).map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        };
        assert_eq!(dir(&["-l", "0"]).as_deref(), Some("rte"));
        assert_eq!(dir(&["--file-prefix", "gw1"]).as_deref(), Some("gw1"));
        assert_eq!(
            dir(&["--file-prefix=a", "--file-prefix=gw2"]).as_deref(),
            Some("gw2")
        );
        assert_eq!(dir(&["--file-prefix", "../x"]), None);
        assert_eq!(dir(&["--file-prefix", ".."]), None);
    }

    #[test]
    fn vdev_failure_explained() {
        let log = "EAL: Detected CPU lcores: 2\nEAL: failed to parse device \"net_nul0\"\nEAL: Unable to parse device 'net_nul0'\n";
        let m = explain_failure(log, 22);
        assert!(m.contains("net_nul0"), "{m}");
        assert!(m.contains("--vdev"), "{m}");
    }
}
