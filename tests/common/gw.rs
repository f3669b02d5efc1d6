//! Harness for tests that run the `geneve-gw` binary on DPDK virtual devices.
//! `rte_eal_init` runs once per process, so every run is a subprocess; runs
//! are serialised (two busy-polling DPDK processes on two cores swing wildly).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static DPDK_LOCK: Mutex<()> = Mutex::new(());

/// Holds the machine's DPDK slot for the duration of a test.
pub fn dpdk_slot() -> MutexGuard<'static, ()> {
    DPDK_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// EAL arguments: cores 0-1, no PCI (never touch the machine's own NIC), a
/// private file prefix, and hugepages when enough are free (else --no-huge).
pub fn eal_base(prefix: &str) -> Vec<String> {
    let (free, mounted) = hugepages();
    let prefix = format!("gwtest-{}-{prefix}", std::process::id());
    let mut a: Vec<String> = ["-l", "0-1", "--no-pci", "--file-prefix", &prefix]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if free >= 256 && mounted {
        a.extend(["--in-memory", "-m", "256"].map(String::from));
    } else {
        a.extend(["--no-huge", "--no-shconf", "-m", "512"].map(String::from));
    }
    a
}

/// The geneve-gw binary cargo built for the tests, or `GENEVE_GW_BIN` when
/// set (to check the harness against a stand-in).
pub fn bin() -> String {
    std::env::var("GENEVE_GW_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_geneve-gw").to_string())
}

/// DPDK's runtime directory for `file_prefix` (where its telemetry socket
/// lives).
pub fn runtime_dir(file_prefix: &str) -> PathBuf {
    geneve_gw::control::stats_client::socket_path(file_prefix)
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Free hugepages and whether a hugetlbfs is mounted: the same check the
/// gateway makes before it starts the EAL.
pub fn hugepages() -> (u64, bool) {
    geneve_gw::dpdk::hugepages_available()
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Report line for port `p`: (rx, tx, tx dropped).
    pub fn port(&self, p: usize) -> (u64, u64, u64) {
        let prefix = format!("port {p} (");
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with(&prefix) && l.contains(" rx "))
            .unwrap_or_else(|| panic!("no report for port {p} in:\n{}", self.stdout));
        let num = |key: &str| -> u64 {
            let i = line
                .find(key)
                .unwrap_or_else(|| panic!("{key} missing in {line}"))
                + key.len();
            line[i..]
                .split_whitespace()
                .next()
                .and_then(|w| w.trim_end_matches(',').parse().ok())
                .unwrap_or_else(|| panic!("bad {key} in {line}"))
        };
        (num(" rx "), num(" tx "), num("tx dropped "))
    }

    /// The number on the exit report's line `KEY N` (`decap 3`,
    /// `drops total 0`); fails the test when the report has no such line.
    pub fn value(&self, key: &str) -> u64 {
        report_value(&self.stdout, key)
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{}", self.stdout))
    }

    /// Packets dropped for `reason` (`drop REASON N`; the report lists only
    /// the reasons that occurred, so a missing line is 0).
    pub fn drops(&self, reason: &str) -> u64 {
        report_value(&self.stdout, &format!("drop {reason} ")).unwrap_or(0)
    }

    /// (available, size, in use) from the mbuf leak report.
    pub fn mbufs(&self) -> (u64, u64, u64) {
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("mbufs: "))
            .unwrap_or_else(|| panic!("no mbuf report in:\n{}", self.stdout));
        let w: Vec<&str> = line.split_whitespace().collect();
        // mbufs: A of B back in pool NAME, C in use
        let p = |s: &str| s.trim_end_matches(',').parse::<u64>().unwrap();
        (p(w[1]), p(w[3]), p(w[w.len() - 3]))
    }

    pub fn assert_no_leak(&self) {
        let (avail, size, in_use) = self.mbufs();
        assert_eq!(in_use, 0, "mbufs leaked:\n{}", self.stdout);
        assert_eq!(avail, size, "pool not whole:\n{}", self.stdout);
    }

    pub fn assert_clean_error(&self, needle: &str) {
        assert_ne!(
            self.code,
            Some(0),
            "expected failure:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "Rust panic shown:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("RUST_BACKTRACE"),
            "Rust panic shown:\n{}",
            self.stderr
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "want exactly one error line:\n{}",
            self.stderr
        );
        assert!(
            errors[0].contains(needle),
            "error line lacks {needle:?}: {}",
            errors[0]
        );
    }
}

/// Runs `geneve-gw ARGS`; kills it and fails the test after `timeout`.
pub fn run_gw(args: &[String], timeout: Duration) -> Run {
    run_cmd(Command::new(bin()).args(args), timeout)
}

pub fn run_cmd(cmd: &mut Command, timeout: Duration) -> Run {
    // DPDK leaves an empty runtime directory per file prefix behind (the
    // gateway removes its own; dpdk-testpmd does not); the test's prefixes
    // are unique, so remove it once the process is gone; also when its EAL
    // failed to start, which leaves the directory too. Not after `geneve-gw
    // stats --file-prefix P`: P names a gateway that is running (or
    // starting: removing its directory then failed its EAL start).
    let is_stats_client = cmd.get_program() == std::ffi::OsStr::new(&bin())
        && cmd.get_args().next() == Some(std::ffi::OsStr::new("stats"));
    let leftover = {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        args.iter()
            .position(|a| a == "--file-prefix")
            .and_then(|i| args.get(i + 1))
            .filter(|_| !is_stats_client)
            .map(|p| runtime_dir(p))
    };
    let run = run_cmd_inner(cmd, timeout);
    if let Some(d) = leftover {
        let _ = std::fs::remove_dir(d);
    }
    run
}

fn run_cmd_inner(cmd: &mut Command, timeout: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let t_err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    let status = status.unwrap_or_else(|| {
        panic!("timed out after {timeout:?}:\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// The number after `key` on the first line of `stdout` that starts with it.
pub fn report_value(stdout: &str, key: &str) -> Option<u64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The `eal:` and `ports:` sections of a gateway configuration: one worker
/// on core 1, control on core 0, the underlay port `ul` on the vdev
/// `underlay` and the access port `acc` on the vdev `access` (vdev strings;
/// a port's device is its vdev's name, before the first comma).
/// The underlay and access ports on net_pcap files in `dir`: `ul_in.pcap`
/// / `ul_out.pcap` and `acc_in.pcap` / `acc_out.pcap`.
pub fn pcap_devices(dir: &Path) -> [String; 2] {
    let p = |n: &str| dir.join(n).display().to_string();
    [
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            p("ul_in.pcap"),
            p("ul_out.pcap")
        ),
        format!(
            "net_pcap1,rx_pcap={},tx_pcap={}",
            p("acc_in.pcap"),
            p("acc_out.pcap")
        ),
    ]
}

pub struct Ports<'a> {
    pub underlay: &'a str,
    pub access: &'a str,
    pub file_prefix: &'a str,
    /// The `eal.memory` mapping.
    pub memory: &'a str,
    /// The `eal.args` list.
    pub args: &'a str,
    pub underlay_mtu: u16,
    pub access_mtu: u16,
}

impl<'a> Ports<'a> {
    /// Without hugepages (512 MB, no shared config), no PCI, MTU 1500 on the
    /// underlay and 1400 on the access port.
    pub fn new(underlay: &'a str, access: &'a str, file_prefix: &'a str) -> Self {
        Ports {
            underlay,
            access,
            file_prefix,
            memory: "{ mode: no_huge, size_mb: 512 }",
            args: "[--no-shconf, --no-pci]",
            underlay_mtu: 1500,
            access_mtu: 1400,
        }
    }

    pub fn yaml(&self) -> String {
        let name = |d: &'a str| d.split(',').next().unwrap_or_default();
        format!(
            r#"
eal:
  cores: [1]
  control_core: 0
  memory: {memory}
  devices:
    vdev:
      - {ul}
      - {acc}
  file_prefix: {prefix}
  args: {args}
ports:
  - {{ name: ul, role: underlay, device: {ul_name}, mtu: {ul_mtu}, mac: "02:00:00:00:01:01" }}
  - {{ name: acc, role: access, device: {acc_name}, mtu: {acc_mtu} }}
"#,
            memory = self.memory,
            ul = self.underlay,
            acc = self.access,
            prefix = self.file_prefix,
            args = self.args,
            ul_name = name(self.underlay),
            ul_mtu = self.underlay_mtu,
            acc_name = name(self.access),
            acc_mtu = self.access_mtu,
        )
    }
}
