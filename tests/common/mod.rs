//! Helpers shared by the integration tests (tests/README.md): what the
//! machine has and how a test skips without it, scratch directories, a tiny
//! pcap reader and writer, packet builders, the scapy and tshark runners,
//! (`gw`) the harness that runs the geneve-gw binary on DPDK virtual devices
//! and (`api`) a running gateway driven through its control API.
//! Every suite has `mod common;`; not every suite uses every helper.
#![allow(dead_code)]

#[cfg(feature = "dpdk")]
pub mod api;
#[cfg(feature = "dpdk")]
pub mod gw;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use geneve_gw::tunnel::{DecapConfig, Decapsulator, TunnelConfig};
use geneve_gw::wire::checksum;
use geneve_gw::wire::Vni;

/// Path under tests/data/.
pub fn data_path(rel: &str) -> PathBuf {
    repo_path("tests/data").join(rel)
}

/// Read a classic pcap file (either byte order, micro or nanosecond
/// timestamps). Returns the captured bytes of every record and the link type.
pub fn read_pcap(path: &Path) -> (u32, Vec<Vec<u8>>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() >= 24, "{}: short pcap", path.display());
    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => panic!("{}: not a classic pcap (magic {m:#x})", path.display()),
    };
    let rd = |o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = rd(20);
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= b.len() {
        let incl = rd(off + 8) as usize;
        off += 16;
        assert!(
            off + incl <= b.len(),
            "{}: truncated record",
            path.display()
        );
        out.push(b[off..off + incl].to_vec());
        off += incl;
    }
    (linktype, out)
}

/// Write a classic pcap (Ethernet link type) for tshark.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&262_144u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        b.extend_from_slice(&(i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
pub const V4_LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const V4_REMOTE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const V6_LOCAL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const V6_REMOTE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// A tunnel from REMOTE (sender) to LOCAL (our decapsulator's address).
pub fn tunnel(v6: bool, vni: u32) -> TunnelConfig {
    let (s, d): (IpAddr, IpAddr) = if v6 {
        (V6_REMOTE.into(), V6_LOCAL.into())
    } else {
        (V4_REMOTE.into(), V4_LOCAL.into())
    };
    let mut t = TunnelConfig::new(MAC_B, MAC_A, s, d, Vni::new(vni).unwrap());
    t.underlay_mtu = 9000;
    t
}

/// A decapsulator owning LOCAL.
pub fn decap_cfg() -> DecapConfig {
    DecapConfig::new(vec![V4_LOCAL], vec![V6_LOCAL])
}

pub fn decapsulator() -> Decapsulator {
    Decapsulator::new(decap_cfg())
}

/// An inner Ethernet + IPv4 + UDP frame of `len` bytes (>= 42) with the
/// given TOS and TTL, ports derived from `flow`.
pub fn inner_ipv4_udp(len: usize, tos: u8, ttl: u8, flow: u16) -> Vec<u8> {
    assert!(len >= 42);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0x11, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0x11, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[1] = tos;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[6] = 0x40;
    ip[8] = ttl;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&1024u16.wrapping_add(flow).to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

/// An inner IPv6 + UDP packet (no Ethernet) of `len` bytes (>= 48).
pub fn inner_ipv6_udp(len: usize, tc: u8, hlim: u8) -> Vec<u8> {
    assert!(len >= 48);
    let mut f = vec![0u8; len];
    let w = (6u32 << 28) | (u32::from(tc) << 20) | 0x12345;
    f[0..4].copy_from_slice(&w.to_be_bytes());
    f[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    f[6] = 17;
    f[7] = hlim;
    f[8..24].copy_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).octets());
    f[24..40].copy_from_slice(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).octets());
    f[40..42].copy_from_slice(&5000u16.to_be_bytes());
    f[42..44].copy_from_slice(&53u16.to_be_bytes());
    f[44..46].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    f
}

// ---------------------------------------------------------------------------
// What the machine has, and skipping without it

/// Says on stderr why the running test (or a part of it) does not run:
/// `SKIP <test>: <why>`. The test then returns and passes; `cargo test --
/// --nocapture` shows the line.
pub fn skip(why: impl std::fmt::Display) {
    let t = std::thread::current();
    eprintln!("SKIP {}: {why}", t.name().unwrap_or("test"));
}

/// Does the test run as root (effective uid 0, read from /proc)?
pub fn is_root() -> bool {
    // /proc/self/status holds the effective uid (third field of `Uid:`).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Is `prog` an executable file on $PATH (or in an sbin directory, which a
/// user's $PATH may lack)?
pub fn have_program(prog: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .any(|d| d.join(prog).is_file())
}

/// Is `python3 -c "import scapy"` usable? Says why not.
pub fn have_scapy() -> bool {
    match Command::new("python3")
        .args(["-c", "import scapy.all"])
        .output()
    {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(format_args!(
                "python3 scapy not importable: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            false
        }
        Err(e) => {
            skip(format_args!("python3 not runnable: {e}"));
            false
        }
    }
}

/// Is tshark runnable? Says why not.
pub fn have_tshark() -> bool {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            skip("tshark not installed (apt-get install tshark)");
            false
        }
    }
}

// ---------------------------------------------------------------------------
// Files and commands

/// A scratch directory unique to this test process and `name`.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("geneve-gw-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Path of `rel` in the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `cmd` to completion; it must exit 0. Returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"));
    assert!(
        o.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8 output")
}

/// Path of a script under tests/scapy/.
pub fn scapy_script(script: &str) -> PathBuf {
    repo_path("tests/scapy").join(script)
}

/// Runs `python3 tests/scapy/SCRIPT ARGS...`; it must exit 0. Returns its
/// stdout.
pub fn scapy<I, S>(script: &str, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_ok(Command::new("python3").arg(scapy_script(script)).args(args))
}

/// Runs `tshark -r PCAP ARGS...`; it must exit 0. Returns its stdout.
pub fn tshark<I, S>(pcap: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_ok(Command::new("tshark").arg("-r").arg(pcap).args(args))
}

/// Runs `tshark -n -r PCAP OPTS... -T fields -E separator=| -e FIELD...`;
/// one row per packet, one string per field (tshark joins a field's
/// occurrences with commas).
pub fn tshark_fields(pcap: &Path, opts: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(pcap).args(opts);
    cmd.args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    run_ok(&mut cmd)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// Parses one JSON value an oracle script printed.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON from the oracle: {e}: {s}"))
}

/// Sends signal `sig` (`INT`, `HUP`) to process `pid` with kill(1); was it
/// delivered?
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits up to `limit` for `child` to exit; its status, or None if it still
/// runs.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to `limit` for a line containing `needle` on `child`'s stderr
/// (piped); was it seen? A thread reads the rest of stderr until the child
/// exits.
pub fn await_stderr(child: &mut Child, needle: &'static str, limit: Duration) -> bool {
    let err = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains(needle) {
                if let Some(t) = tx.take() {
                    let _ = t.send(());
                }
            }
        }
    });
    rx.recv_timeout(limit).is_ok()
}

/// A child's stderr read line by line on a thread, so a test can wait for
/// one line (a reload confirmed, a port started) before its next step, and
/// still have all of stderr at the end.
pub struct StderrLines {
    lines: std::sync::mpsc::Receiver<String>,
    /// Everything read so far.
    pub text: String,
}

impl StderrLines {
    /// Takes `child`'s piped stderr.
    pub fn take(child: &mut Child) -> StderrLines {
        let err = child.stderr.take().expect("stderr piped");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        StderrLines {
            lines: rx,
            text: String::new(),
        }
    }

    /// Reads nothing (a placeholder for one already finished).
    pub fn empty() -> StderrLines {
        let (_, rx) = std::sync::mpsc::channel::<String>();
        StderrLines {
            lines: rx,
            text: String::new(),
        }
    }

    /// Waits up to `limit` for a new line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.text.push_str(&l);
                    self.text.push('\n');
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// The rest, once the child has exited (its stderr closes).
    pub fn finish(mut self) -> String {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.text.push_str(&l);
            self.text.push('\n');
        }
        self.text
    }
}
