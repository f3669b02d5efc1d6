//! Same bytes either way: for the same input, the gateway with
//! `--offload off` (every checksum in software) and with `--offload auto`
//! (the outer IPv4 header and UDP checksums left to the port) puts identical
//! packets on the wire, and tshark finds every checksum (outer and inner)
//! good.
//!
//! Two virtual PMDs finish checksums from the mbuf metadata, so they stand in
//! for a NIC:
//! * net_tap (root only): computes the IPv4 header and UDP checksums from
//!   `TX_IP_CKSUM` / `TX_UDP_CKSUM`; we capture what the kernel receives on
//!   the tap with dumpcap.
//! * virtio_user -> net_vhost (needs hugepages): the gateway's virtio port
//!   advertises UDP checksum offload only; virtio carries `NEEDS_CSUM` with
//!   the pseudo-header sum and the vhost side (a second process, `geneve-gw
//!   forward`, whose port did not enable RX checksum offload) finishes the
//!   checksum in software on dequeue and writes the packets to a pcap. With
//!   `legacy-ol-flags=1` vhost leaves the checksum to its application: the
//!   pseudo-header sum reaches the pcap, which proves the packets really
//!   took the offload path.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, dpdk_slot, run_gw, strings, Ports, Run};
use common::{
    await_stderr, have_program, have_scapy, have_tshark, is_root, read_pcap, scapy, scratch, skip,
    tshark, write_pcap,
};

/// Runs tests/scapy/offload_input.py with `args`; its output, as numbers.
fn offload_input(args: &[&str]) -> Vec<u64> {
    scapy("offload_input.py", args)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

/// Inner frames (see tests/scapy/offload_input.py); all are encapsulated.
fn build_input(dir: &Path) -> usize {
    offload_input(&["build", dir.to_str().unwrap()])[0] as usize
}

/// Tunnels and segment after the EAL/ports section. Tunnel b carries an
/// option and computes its UDP checksum; tunnel c uses the family default
/// (zero over IPv4, computed over IPv6).
fn tail(v6: bool) -> String {
    let (local, b, c, pfx) = if v6 {
        (
            "ipv6: 2001:db8:a::1/64",
            "2001:db8:a::2",
            "2001:db8:a::3",
            128,
        )
    } else {
        ("ipv4: 198.18.0.1/24", "198.18.0.2", "198.18.0.3", 32)
    };
    format!(
        r#"
vtep:
  {local}
  next_hops:
    - {{ via: {b}, mac: "02:00:00:00:00:02", destinations: [{b}/{pfx}] }}
    - {{ via: {c}, mac: "02:00:00:00:00:03", destinations: [{c}/{pfx}] }}
options:
  registry:
    - {{ name: demo-tag, class: 0x0102, type: 0x01, length: 4 }}
tunnels:
  - {{ name: b, remote: {b}, vni: 100, udp_checksum: compute, options: [ {{ name: demo-tag, data: "0000002a" }} ] }}
  - {{ name: c, remote: {c}, vni: 100 }}
l2:
  learning: false
  segments:
    - port: acc
      vlan: untagged
      vni: 100
      flood: [{b}]
      static_macs:
        - {{ mac: "02:00:00:00:0b:01", remote: {b} }}
        - {{ mac: "02:00:00:00:0b:02", remote: {c} }}
"#
    )
}

/// EAL and ports: the underlay on `ul` (a vdev string), the access port on
/// net_pcap reading `dir/acc_in.pcap`.
fn head(dir: &Path, ul: &str, memory: &str, args: &str, tag: &str) -> String {
    let acc = format!(
        "net_pcap9,rx_pcap={},tx_pcap={}",
        dir.join("acc_in.pcap").display(),
        dir.join(format!("acc_out_{tag}.pcap")).display()
    );
    let prefix = format!("gwoff-{}-{tag}", std::process::id());
    Ports {
        memory,
        args,
        ..Ports::new(ul, &acc, &prefix)
    }
    .yaml()
}

/// `geneve-gw run` on `config` (written to `dir`) with `--offload mode`,
/// stopping once its input has been idle for `idle_ms`.
fn gateway_args(dir: &Path, config: &str, mode: &str, tag: &str, idle_ms: u32) -> Vec<String> {
    let path = dir.join(format!("gw_{tag}.yaml"));
    std::fs::write(&path, config).unwrap();
    strings(&[
        "run",
        "-c",
        path.to_str().unwrap(),
        "--offload",
        mode,
        "--stop-after-idle",
        &idle_ms.to_string(),
        "--stats-interval",
        "0",
    ])
}

/// A finished gateway run: exited 0, every mbuf back in its pool.
fn assert_clean_exit(r: &Run) {
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
}

/// Runs the gateway on `config` with `--offload mode`; it stops when its
/// input has been idle for 1 s.
fn run_gateway(dir: &Path, config: &str, mode: &str, tag: &str) -> Run {
    let r = run_gw(
        &gateway_args(dir, config, mode, tag, 1000),
        Duration::from_secs(60),
    );
    assert_clean_exit(&r);
    r
}

/// The underlay port's start line names the TX offloads it enabled.
fn underlay_offloads(r: &Run) -> String {
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("port ul ("))
        .unwrap_or_else(|| panic!("no underlay port line:\n{}", r.stderr));
    line.split_once(", tx offload ")
        .map(|x| x.1.split(',').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// A child process killed (by its pid) when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// Waits up to `limit` for the process to exit by itself.
    fn wait_exit(&mut self, limit: Duration) -> bool {
        common::wait_exit(&mut self.0, limit).is_some()
    }
}

/// Problems tshark finds in `pcap`: any checksum it marks bad, an outer
/// IPv4 header checksum or a non-zero outer UDP checksum it did not verify
/// as good. Also returns how many packets it read.
fn tshark_problems(pcap: &Path, v6_underlay: bool) -> (usize, Vec<String>) {
    let text = tshark(
        pcap,
        [
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "frame.number",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "udp.checksum",
            "-e",
            "geneve.vni",
        ],
    );
    let mut problems = Vec::new();
    let mut n = 0;
    for line in text.lines() {
        n += 1;
        let f: Vec<&str> = line.split('\t').collect();
        let list = |i: usize| -> Vec<&str> {
            f.get(i)
                .map(|s| s.split(',').filter(|x| !x.is_empty()).collect())
                .unwrap_or_default()
        };
        // 0 = bad, 4 = illegal (tshark's checksum status values).
        for (i, what) in [(1, "ip"), (2, "udp"), (3, "tcp")] {
            if list(i).iter().any(|s| *s == "0" || *s == "4") {
                problems.push(format!("frame {}: bad {what} checksum: {line}", f[0]));
            }
        }
        if list(5).is_empty() {
            problems.push(format!("frame {}: not decoded as Geneve: {line}", f[0]));
        }
        if !v6_underlay && list(1).first() != Some(&"1") {
            problems.push(format!(
                "frame {}: outer IPv4 checksum not good: {line}",
                f[0]
            ));
        }
        let outer_udp_zero = list(4).first().is_some_and(|c| *c == "0x0000");
        if !outer_udp_zero && list(2).first() != Some(&"1") {
            problems.push(format!(
                "frame {}: outer UDP checksum not good: {line}",
                f[0]
            ));
        }
    }
    (n, problems)
}

/// Asserts the two captures hold the same frames, byte for byte, and that
/// tshark finds every checksum good; `frames` is how many there must be.
fn assert_same_and_good(off: &Path, auto: &Path, frames: usize, v6: bool) {
    let (_, a) = read_pcap(off);
    let (_, b) = read_pcap(auto);
    assert_eq!(a.len(), frames, "{}: frames captured", off.display());
    assert_eq!(b.len(), frames, "{}: frames captured", auto.display());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            x,
            y,
            "frame {i} differs between offload off ({}) and auto ({})",
            off.display(),
            auto.display()
        );
    }
    // Identical bytes: one tshark pass covers both captures.
    let (n, problems) = tshark_problems(auto, v6);
    assert_eq!(n, frames, "{}", auto.display());
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        auto.display(),
        problems.join("\n")
    );
}

// ---- net_tap ----

fn tap_usable() -> bool {
    if !is_root() {
        skip("net_tap needs root (tap devices and capturing on them)");
        return false;
    }
    if !Path::new("/dev/net/tun").exists() {
        skip("/dev/net/tun missing: no tap devices on this machine");
        return false;
    }
    for tool in ["ip", "dumpcap"] {
        if !have_program(tool) {
            skip(format_args!(
                "`{tool}` not installed (scripts/setup.sh installs it)"
            ));
            return false;
        }
    }
    true
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A persistent tap device this test owns; deleted on drop. Created before
/// DPDK attaches to it so the capture can start first; IPv6 off so the
/// kernel sends nothing into it.
struct Tap(String);

impl Tap {
    fn new(name: &str) -> Tap {
        let _ = ip(&["link", "del", "dev", name]);
        assert!(
            ip(&["tuntap", "add", "dev", name, "mode", "tap", "multi_queue"]),
            "cannot create tap {name}"
        );
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
        Tap(name.to_string())
    }

    /// Up (DPDK takes it down when it closes the port).
    fn up(&self) {
        assert!(ip(&["link", "set", "dev", &self.0, "up"]));
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", "dev", &self.0]);
    }
}

/// Starts dumpcap on `iface` for Geneve packets, writing classic pcap to
/// `out`; returns once it is capturing.
fn start_capture(iface: &str, count: usize, out: &Path) -> Reaped {
    let child = Command::new("dumpcap")
        .args(["-P", "-q", "-i", iface, "-f", "udp port 6081"])
        .args(["-c", &count.to_string(), "-a", "duration:60"])
        .arg("-w")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dumpcap");
    let mut reaped = Reaped(child);
    if !await_stderr(&mut reaped.0, "Capturing on", Duration::from_secs(15)) {
        let _ = reaped.0.kill();
        panic!("dumpcap did not start capturing on {iface}");
    }
    // "Capturing on" comes just before the capture loop: a moment more.
    std::thread::sleep(Duration::from_millis(300));
    reaped
}

/// One gateway run with its underlay on the tap; returns the capture path.
fn tap_run(dir: &Path, tap: &Tap, v6: bool, mode: &str, frames: usize) -> PathBuf {
    tap.up();
    let cap = dir.join(format!("tap_{mode}.pcap"));
    let mut dumpcap = start_capture(&tap.0, frames, &cap);
    let config = head(
        dir,
        &format!("net_tap0,iface={}", tap.0),
        "{ mode: no_huge, size_mb: 512 }",
        "[--no-shconf, --no-pci]",
        mode,
    ) + &tail(v6);
    let r = run_gateway(dir, &config, mode, mode);
    let offloads = underlay_offloads(&r);
    if mode == "auto" {
        assert_eq!(offloads, "ipv4_cksum+udp_cksum", "{}", r.stderr);
    } else {
        assert_eq!(offloads, "", "{}", r.stderr);
    }
    assert_eq!(r.port(0).1, frames as u64, "{}", r.stdout);
    assert!(
        dumpcap.wait_exit(Duration::from_secs(10)),
        "dumpcap did not see {frames} packets"
    );
    cap
}

fn tap_case(v6: bool) {
    if !have_scapy() || !have_tshark() || !tap_usable() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch(if v6 { "offload-tap6" } else { "offload-tap4" });
    let frames = build_input(&dir);
    let tap = Tap::new(&format!(
        "gwo{}{}",
        std::process::id() % 100_000,
        if v6 { 6 } else { 4 }
    ));
    let off = tap_run(&dir, &tap, v6, "off", frames);
    let auto = tap_run(&dir, &tap, v6, "auto", frames);
    assert_same_and_good(&off, &auto, frames, v6);
}

/// Geneve packets sent by the kernel into the tap while the gateway runs
/// with `--offload mode`: returns the run and the (good, bad outer IPv4
/// checksum) packet counts sent.
fn tap_rx_run(dir: &Path, tap: &Tap, mode: &str) -> (Run, u64, u64) {
    tap.up();
    let tag = format!("rx{mode}");
    let config = head(
        dir,
        &format!("net_tap0,iface={}", tap.0),
        "{ mode: no_huge, size_mb: 512 }",
        "[--no-shconf, --no-pci]",
        &tag,
    ) + &tail(false);
    // The idle stop must outlast scapy's start on a loaded machine: a
    // gateway that idled out before the send closes the tap, and the send
    // then fails with "Network is down".
    let args = gateway_args(dir, &config, mode, &tag, 10_000);
    let gw = std::thread::spawn(move || run_gw(&args, Duration::from_secs(60)));
    // The tap's carrier comes on when DPDK opens it; from then on what the
    // kernel sends into it waits in its queue for the PMD.
    let carrier = format!("/sys/class/net/{}/carrier", tap.0);
    let start = Instant::now();
    while std::fs::read_to_string(&carrier).map_or(true, |c| c.trim() != "1") {
        assert!(
            start.elapsed() < Duration::from_secs(30) && !gw.is_finished(),
            "the gateway did not open {}",
            tap.0
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let &[good, bad] = offload_input(&["send", &tap.0]).as_slice() else {
        panic!("offload_input.py send: expected the good and bad counts");
    };
    let r = gw.join().unwrap();
    assert_clean_exit(&r);
    (r, good, bad)
}

/// RX side of the offload: with `offload: auto` the underlay port checks
/// the outer IPv4 header checksum (net_tap verifies it in software, as a
/// NIC does in hardware) and decap trusts the packets it marks good; the
/// ones it marks bad are still dropped with `ipv4_bad_checksum`, exactly
/// as the all-software run does.
#[test]
fn net_tap_rx_ipv4_checksum_offload_decaps_the_good_and_drops_the_bad() {
    if !have_scapy() || !tap_usable() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("offload-tap-rx");
    build_input(&dir);
    let tap = Tap::new(&format!("gwr{}", std::process::id() % 100_000));
    for mode in ["off", "auto"] {
        let (r, good, bad) = tap_rx_run(&dir, &tap, mode);
        let port_line = r
            .stderr
            .lines()
            .find(|l| l.starts_with("port ul ("))
            .unwrap_or_else(|| panic!("no underlay port line:\n{}", r.stderr));
        assert_eq!(
            port_line.contains(", rx offload ipv4_cksum"),
            mode == "auto",
            "{port_line}"
        );
        assert_eq!(r.value("decap "), good, "{mode}:\n{}", r.stdout);
        assert_eq!(r.drops("ipv4_bad_checksum"), bad, "{mode}:\n{}", r.stdout);
    }
}

#[test]
fn net_tap_ipv4_underlay_offload_and_software_put_the_same_bytes_on_the_wire() {
    tap_case(false);
}

#[test]
fn net_tap_ipv6_underlay_offload_and_software_put_the_same_bytes_on_the_wire() {
    tap_case(true);
}

// ---- virtio_user -> net_vhost ----

fn hugepages_for_two() -> bool {
    let (free, mounted) = gw::hugepages();
    if free < 300 || !mounted {
        skip(format_args!(
            "virtio_user <-> vhost needs shared hugepage memory for two processes \
             ({free} free 2 MB pages, hugetlbfs mounted: {mounted}; want 300)"
        ));
        return false;
    }
    true
}

/// One gateway run with its underlay on virtio_user, the far side a
/// `geneve-gw forward` process from net_vhost to a net_pcap file; returns
/// that file.
fn vhost_run(dir: &Path, v6: bool, mode: &str, vhost_extra: &str, frames: usize) -> PathBuf {
    let tag = format!("{mode}{}", vhost_extra.replace(['=', ','], "_"));
    let sock = dir.join(format!("vh_{tag}.sock"));
    let _ = std::fs::remove_file(&sock);
    let cap = dir.join(format!("vhost_{tag}.pcap"));
    let empty = dir.join("empty.pcap");
    write_pcap(&empty, &[]);
    let far = Command::new(gw::bin())
        .args(["forward", "--stats-interval", "0"])
        .args(["--stop-after-packets", &frames.to_string()])
        .args(["--stop-after-idle", "30000", "--"])
        .args(["-l", "0,1", "--no-pci", "--in-memory", "-m", "256"])
        .arg("--file-prefix")
        .arg(format!("gwoff-{}-vh-{tag}", std::process::id()))
        .arg("--vdev")
        .arg(format!(
            "net_vhost0,iface={},queues=1{vhost_extra}",
            sock.display()
        ))
        .arg("--vdev")
        .arg(format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            empty.display(),
            cap.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("geneve-gw forward");
    let mut far = Reaped(far);
    let start = Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "net_vhost socket {} never appeared",
            sock.display()
        );
        assert!(
            far.0.try_wait().unwrap().is_none(),
            "vhost side exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let config = head(
        dir,
        &format!("net_virtio_user0,path={},queues=1", sock.display()),
        "{ mode: hugepages, size_mb: 256 }",
        // virtio_user shares its memory with vhost by file descriptor: one
        // file per segment list (without it the link silently stays down).
        "[--no-pci, --in-memory, --single-file-segments]",
        &tag,
    ) + &tail(v6);
    let r = run_gateway(dir, &config, mode, &tag);
    let offloads = underlay_offloads(&r);
    // virtio has no IPv4 header checksum offload: only the UDP checksum.
    assert_eq!(
        offloads,
        if mode == "auto" { "udp_cksum" } else { "" },
        "{}",
        r.stderr
    );
    assert_eq!(r.port(0).1, frames as u64, "{}", r.stdout);
    assert!(
        far.wait_exit(Duration::from_secs(20)),
        "vhost side did not receive {frames} packets"
    );
    let mut out = String::new();
    if let Some(mut s) = far.0.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
    }
    assert!(
        out.contains(&format!("tx {frames} packets")),
        "vhost side:\n{out}"
    );
    cap
}

fn vhost_case(v6: bool) {
    if !have_scapy() || !have_tshark() || !hugepages_for_two() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch(if v6 { "offload-vh6" } else { "offload-vh4" });
    let frames = build_input(&dir);
    let off = vhost_run(&dir, v6, "off", "", frames);
    let auto = vhost_run(&dir, v6, "auto", "", frames);
    assert_same_and_good(&off, &auto, frames, v6);
    if !v6 {
        return;
    }
    // Control (IPv6, where every outer UDP checksum is offloaded): a vhost
    // side that does not finish checksums shows what the gateway handed
    // virtio: the pseudo-header sum in every outer UDP checksum.
    let raw = vhost_run(&dir, v6, "auto", ",legacy-ol-flags=1", frames);
    let (_, problems) = tshark_problems(&raw, v6);
    let unfinished = problems
        .iter()
        .filter(|p| p.contains("outer UDP checksum not good"))
        .count();
    assert_eq!(unfinished, frames, "{}", problems.join("\n"));
}

#[test]
fn virtio_user_to_vhost_ipv4_underlay_offload_and_software_put_the_same_bytes_on_the_wire() {
    vhost_case(false);
}

#[test]
fn virtio_user_to_vhost_ipv6_underlay_offload_and_software_put_the_same_bytes_on_the_wire() {
    vhost_case(true);
}
