//! Interop with Open vSwitch's userspace datapath in network namespaces
//! (scripts/ovs-bed.sh, config/demo-ovs.yaml):
//!
//! ```text
//! [gw-acc] acc0 198.19.0.1 -- gwa0 | geneve-gw (root ns, VTEP 198.18.0.1) | gwu0 -- ovsu0 [gw-ovs]
//!     OVS br-ul 198.18.0.2 -- br0: gnv0 (geneve VNI 100, option 0x0102/0x01 = tun_metadata0)
//!     -- ovsv0 -- vm0 198.19.0.2 [gw-vm]
//! ```
//!
//! The bed tests check OVS alone (its encapsulation, its drop of an unknown
//! critical option). The gateway tests run `geneve-gw run` between the access
//! host and OVS; they skip, saying why, while `geneve-gw run` does not exist.
//! Everything here needs root, Open vSwitch, tshark and scapy, else it skips.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, dpdk_slot, run_cmd, Run};
use common::{
    await_stderr, have_program, have_scapy, have_tshark, is_root, repo_path, run_ok, scapy_script,
    scratch, signal, skip, wait_exit,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const GWU_MAC: &str = "02:00:c6:12:00:01";
const ACC_MAC: &str = "02:00:c6:13:00:01";
const VM_MAC: &str = "02:00:c6:13:00:02";
const DEMO_OPTION: (&str, &str, &str) = ("0x0102", "0x01", "0000002a");

/// Can the bed run here? Prints the reason when not.
fn bed_possible() -> bool {
    if !is_root() {
        skip("not root (network namespaces and Open vSwitch need root)");
        return false;
    }
    for prog in [
        "ovs-vswitchd",
        "ovsdb-server",
        "ovs-vsctl",
        "ovs-ofctl",
        "ip",
    ] {
        if !have_program(prog) {
            skip(format_args!(
                "{prog} not installed (apt-get install openvswitch-switch iproute2)"
            ));
            return false;
        }
    }
    have_tshark() && have_scapy()
}

/// Runs a command to completion (60 s at most) and returns its output.
fn sh(cmd: &mut Command) -> Run {
    run_cmd(cmd.current_dir(ROOT), Duration::from_secs(60))
}

fn must(cmd: &mut Command) -> Run {
    let shown = format!("{cmd:?}");
    let r = sh(cmd);
    assert!(
        r.ok(),
        "{shown} failed ({:?}):\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    r
}

fn bed(args: &[&str]) -> Run {
    must(
        Command::new("bash")
            .arg(repo_path("scripts/ovs-bed.sh"))
            .args(args),
    )
}

/// `ip netns exec NS ARGS`
fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

fn net_py(ns: &str, args: &[&str]) -> Command {
    let script = scapy_script("ovs_net.py");
    let mut v = vec!["python3", script.to_str().unwrap()];
    v.extend_from_slice(args);
    in_ns(ns, &v)
}

/// The bed, up for the life of the value; torn down on drop (also on panic).
struct Bed;

impl Bed {
    fn up() -> Bed {
        // A fresh bed for every test: no ARP, MAC or flow state carried over.
        bed(&["down"]);
        bed(&["up"]);
        Bed
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let r = sh(Command::new("bash")
            .arg(repo_path("scripts/ovs-bed.sh"))
            .arg("down"));
        if !r.ok() {
            eprintln!("ovs-bed.sh down failed:\n{}\n{}", r.stdout, r.stderr);
        }
    }
}

/// A tshark capture into a pcapng file, stopped by PID.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts tshark on IFACE (in namespace NS, "" = root) with a capture
    /// filter, and waits until it captures.
    fn start(ns: &str, iface: &str, filter: &str, file: PathBuf) -> Capture {
        let _ = std::fs::remove_file(&file);
        let args = [
            "tshark",
            "-q",
            "-i",
            iface,
            "-f",
            filter,
            "-w",
            file.to_str().unwrap(),
        ];
        let mut cmd = if ns.is_empty() {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        } else {
            in_ns(ns, &args)
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tshark");
        // tshark says "Capturing on 'IFACE'" once dumpcap has the interface.
        if !await_stderr(&mut child, "Capturing on", Duration::from_secs(20)) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tshark did not start capturing on {iface} in 20 s");
        }
        // dumpcap has opened the socket; give it a moment to be in its loop.
        std::thread::sleep(Duration::from_millis(300));
        Capture { child, file }
    }

    /// Stops the capture (SIGINT to our tshark's PID) and returns the file.
    fn stop(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(500));
        let _ = signal(self.child.id(), "INT");
        if wait_exit(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = signal(self.child.id(), "INT");
            std::thread::sleep(Duration::from_millis(300));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tshark -r FILE -Y FILTER -T fields -e F...`: one Vec per packet.
fn fields(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.args([
        "-r",
        file.to_str().unwrap(),
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        c.args(["-e", f]);
    }
    let r = must(&mut c);
    r.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn count(file: &Path, filter: &str) -> usize {
    fields(file, filter, &["frame.number"]).len()
}

/// Sends Geneve frames with OPTIONS (CLASS:TYPE[:DATA]) marked by a UDP port:
/// toward OVS from gwu0, or toward the gateway from ovsu0.
fn send_geneve(to_gateway: bool, mark_port: u16, count: u32, options: &[&str]) -> Run {
    let port = mark_port.to_string();
    let n = count.to_string();
    let mut a = vec!["send-geneve"];
    if to_gateway {
        a.push("--to-gateway");
    }
    a.extend(["--mark-port", &port, "--count", &n]);
    for o in options {
        a.extend(["--option", o]);
    }
    bed(&a)
}

// ---------------------------------------------------------------------------
// Open vSwitch alone

/// OVS encapsulates the VM's traffic toward 198.18.0.1 in Geneve VNI 100
/// with the demo option (class 0x0102, type 0x01, data 0x2a) out of ovsu0.
/// The VM (told where the access host is, so it sends ICMP) pings the
/// access host three times through OVS; returns the capture of what OVS put
/// on the gateway's underlay link (Geneve only).
fn vm_pings_through_ovs(dir: &Path) -> PathBuf {
    must(&mut in_ns(
        "gw-vm",
        &[
            "ip",
            "neigh",
            "replace",
            "198.19.0.1",
            "lladdr",
            ACC_MAC,
            "dev",
            "vm0",
        ],
    ));
    let cap = Capture::start("", "gwu0", "udp port 6081", dir.join("gwu0.pcapng"));
    let _ = sh(&mut net_py(
        "gw-vm",
        &[
            "ping",
            "198.19.0.1",
            "--count",
            "3",
            "--timeout",
            "0.3",
            "--need",
            "0",
        ],
    ));
    cap.stop()
}

#[test]
fn ovs_encapsulates_vm_traffic_with_the_demo_option() {
    if !bed_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("ovs-encap");
    let _bed = Bed::up();
    // No gateway: tell OVS where 198.18.0.1 is (the gateway answers ARP itself).
    bed(&["arp-set", GWU_MAC]);
    // and tell the VM where the access host is, so that it sends ICMP.
    // No replies without the gateway: only the requests matter.
    let file = vm_pings_through_ovs(&dir);

    let rows = fields(
        &file,
        "geneve && icmp.type == 8",
        &[
            "eth.src",
            "eth.dst",
            "ip.src",
            "ip.dst",
            "udp.dstport",
            "geneve.vni",
            "geneve.proto_type",
            "geneve.option.class",
            "geneve.option.type",
            "geneve.option.unknown.data",
        ],
    );
    assert_eq!(
        rows.len(),
        3,
        "want 3 encapsulated echo requests, got {rows:?}"
    );
    for r in &rows {
        // Outer then inner Ethernet and IPv4, aggregated.
        assert_eq!(r[0], format!("02:00:c6:12:00:02,{VM_MAC}"), "{r:?}");
        assert_eq!(r[1], format!("{GWU_MAC},{ACC_MAC}"), "{r:?}");
        assert_eq!(r[2], "198.18.0.2,198.19.0.2", "{r:?}");
        assert_eq!(r[3], "198.18.0.1,198.19.0.1", "{r:?}");
        assert_eq!(r[4], "6081", "{r:?}");
        assert_eq!(r[5], "0x000064", "VNI 100: {r:?}");
        assert_eq!(r[6], "0x6558", "{r:?}");
        assert_eq!(r[7], DEMO_OPTION.0, "{r:?}");
        assert_eq!(r[8], DEMO_OPTION.1, "{r:?}");
        assert_eq!(r[9], DEMO_OPTION.2, "{r:?}");
    }
    // The same through display filters, as a cross-check of the field names.
    assert_eq!(
        count(&file, "geneve.vni == 100 && geneve.option.class == 0x0102 && geneve.option.type == 0x01 && icmp"),
        3
    );
}

/// RFC 8926 3.5.1: an option the receiver does not understand with the
/// critical bit set makes it drop the packet; unknown non-critical options
/// are ignored. OVS (no tlv-map for class 0xffff) as the oracle.
#[test]
fn ovs_drops_an_unknown_critical_option_and_ignores_unknown_non_critical() {
    if !bed_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("ovs-crit");
    let _bed = Bed::up();
    let cap = Capture::start(
        "gw-vm",
        "vm0",
        "udp dst portrange 47100-47199",
        dir.join("vm0.pcapng"),
    );
    let opt = format!("{}:{}:{}", DEMO_OPTION.0, DEMO_OPTION.1, DEMO_OPTION.2);
    send_geneve(false, 47100, 3, &[]);
    send_geneve(false, 47101, 3, &[&opt]);
    send_geneve(false, 47102, 3, &["0xffff:0x00"]);
    send_geneve(false, 47103, 3, &["0xffff:0x80"]);
    send_geneve(false, 47104, 3, &[&opt, "0xffff:0x80"]);
    send_geneve(false, 47105, 3, &["0x0102:0x81:00000001"]);
    // And good traffic still passes afterwards.
    send_geneve(false, 47106, 3, &[&opt]);
    let file = cap.stop();
    let n = |p: u16| {
        count(
            &file,
            &format!("udp.dstport == {p} && ip.src == 198.19.0.1"),
        )
    };
    assert_eq!(n(47100), 3, "no options: delivered");
    assert_eq!(n(47101), 3, "known option 0x0102/0x01: delivered");
    assert_eq!(
        n(47102),
        3,
        "unknown non-critical 0xffff/0x00: ignored, delivered"
    );
    assert_eq!(n(47103), 0, "unknown critical 0xffff/0x80: dropped by OVS");
    assert_eq!(n(47104), 0, "known + unknown critical: dropped by OVS");
    assert_eq!(
        n(47105),
        0,
        "critical type 0x81 of a known class, not mapped: dropped"
    );
    assert_eq!(n(47106), 3, "good traffic after the drops: delivered");
    // The inner frames arrive as sent.
    let rows = fields(
        &file,
        "udp.dstport == 47101",
        &["eth.src", "eth.dst", "ip.dst"],
    );
    assert_eq!(
        rows[0],
        vec![ACC_MAC.to_string(), VM_MAC.to_string(), "198.19.0.2".into()]
    );
}

// ---------------------------------------------------------------------------
// The gateway between the access host and OVS

/// Does `geneve-gw run` exist? Prints why the gateway tests skip when not.
fn gateway_available() -> bool {
    let out = Command::new(gw::bin()).args(["run", "--help"]).output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(format_args!(
                "`geneve-gw run --help` fails (the run subcommand is not there yet): {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
            false
        }
        Err(e) => {
            skip(format_args!("cannot run geneve-gw: {e}"));
            false
        }
    }
}

fn gateway_possible() -> bool {
    bed_possible() && gateway_available()
}

/// Starts `geneve-gw run -c CONFIG` in the root namespace (where gwu0 and
/// gwa0 are), stdout and stderr to files in LOGS.
fn start_gateway(config: &str, logs: &Path) -> Child {
    let out = std::fs::File::create(logs.join("gw.stdout")).unwrap();
    let err = std::fs::File::create(logs.join("gw.stderr")).unwrap();
    Command::new(gw::bin())
        .current_dir(ROOT)
        .args([
            "run",
            "-c",
            config,
            "--stop-after-idle",
            "30000",
            "--",
            "--no-pci",
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn geneve-gw run")
}

/// Stops the gateway with SIGINT (by PID) and returns its output.
fn stop_gateway(mut child: Child, logs: &Path) -> Run {
    let mut status = child.try_wait().expect("wait");
    if status.is_none() {
        let _ = signal(child.id(), "INT");
        status = wait_exit(&mut child, Duration::from_secs(20));
    }
    let stdout = std::fs::read_to_string(logs.join("gw.stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(logs.join("gw.stderr")).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("geneve-gw did not stop on SIGINT in 20 s:\n{stdout}\n{stderr}");
    };
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// A running gateway, stopped on drop (also when the test panics).
struct Gateway {
    child: Option<Child>,
    logs: PathBuf,
}

impl Gateway {
    /// Starts the demo gateway and waits until the access host reaches the VM
    /// through it (ARP both ways, MAC learning, OVS resolving 198.18.0.1).
    fn start(logs: &Path) -> Gateway {
        let child = start_gateway("config/demo-ovs.yaml", logs);
        let mut g = Gateway {
            child: Some(child),
            logs: logs.to_path_buf(),
        };
        let t0 = Instant::now();
        loop {
            if let Some(s) = g.child.as_mut().unwrap().try_wait().unwrap() {
                let r = g.stop();
                panic!("geneve-gw exited early ({s}):\n{}\n{}", r.stdout, r.stderr);
            }
            let r = sh(&mut net_py(
                "gw-acc",
                &["ping", "198.19.0.2", "--count", "1", "--timeout", "1"],
            ));
            if r.ok() {
                break;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let r = g.stop();
                panic!(
                    "access host cannot reach the VM through the gateway in 30 s\ngateway:\n{}\n{}",
                    r.stdout, r.stderr
                );
            }
        }
        g
    }

    fn stop(&mut self) -> Run {
        stop_gateway(
            self.child.take().expect("gateway already stopped"),
            &self.logs,
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            let _ = stop_gateway(c, &self.logs);
        }
    }
}

/// The number after NAME (`NAME 3`, `NAME: 3`, `NAME=3`) in the last line
/// that has one: the exit report comes after any live summary line.
fn counter(run: &Run, name: &str) -> Option<u64> {
    let mut last = None;
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        let mut rest = line;
        while let Some(i) = rest.find(name) {
            rest = &rest[i + name.len()..];
            let t = rest.trim_start_matches([' ', ':', '=', '\t']);
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<u64>() {
                last = Some(n);
            }
        }
    }
    last
}

#[test]
fn gateway_ping_both_ways_ipv4_and_ipv6() {
    if !gateway_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-ping");
    let _bed = Bed::up();
    // OVS must learn 198.18.0.1 from the gateway's own ARP replies.
    bed(&["arp-flush"]);
    let mut gw = Gateway::start(&dir);
    must(&mut net_py(
        "gw-acc",
        &["ping", "198.19.0.2", "--count", "5"],
    ));
    must(&mut net_py(
        "gw-vm",
        &["ping", "198.19.0.1", "--count", "5"],
    ));
    must(&mut net_py(
        "gw-acc",
        &["ping", "2001:db8:19::2", "--count", "5", "--need", "4"],
    ));
    must(&mut net_py(
        "gw-vm",
        &["ping", "2001:db8:19::1", "--count", "5"],
    ));
    // OVS resolved the gateway's VTEP to the gateway's port MAC.
    let neigh = bed(&["ovs", "ovs-appctl", "tnl/neigh/show"]);
    assert!(
        neigh
            .stdout
            .lines()
            .any(|l| l.contains("198.18.0.1") && l.contains(GWU_MAC)),
        "OVS did not learn 198.18.0.1 at {GWU_MAC}:\n{}",
        neigh.stdout
    );
    let r = gw.stop();
    assert!(
        r.ok(),
        "gateway exit {:?}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn gateway_tcp_transfer_both_ways() {
    if !gateway_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-tcp");
    let _bed = Bed::up();
    let mut gw = Gateway::start(&dir);
    const BYTES: &str = "2000000";
    for (server_ns, server_ip, client_ns, port) in [
        ("gw-vm", "198.19.0.2", "gw-acc", "5201"),
        ("gw-acc", "198.19.0.1", "gw-vm", "5202"),
        ("gw-vm", "2001:db8:19::2", "gw-acc", "5203"),
    ] {
        let srv = std::thread::spawn({
            let mut c = net_py(server_ns, &["tcp-recv", server_ip, port, "--timeout", "30"]);
            move || must(&mut c)
        });
        let sent = must(&mut net_py(
            client_ns,
            &["tcp-send", server_ip, port, BYTES, "--timeout", "30"],
        ));
        let recv = srv.join().expect("server thread");
        let s: Vec<&str> = sent.stdout.split_whitespace().collect();
        let r: Vec<&str> = recv
            .stdout
            .split_whitespace()
            .filter(|w| *w != "listening")
            .collect();
        assert_eq!(s, ["sent", BYTES, s[2]], "{}", sent.stdout);
        assert_eq!(
            r,
            ["recv", BYTES, s[2]],
            "{client_ns} -> {server_ip}: bytes or sha256 differ"
        );
    }
    let r = gw.stop();
    assert!(
        r.ok(),
        "gateway exit {:?}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
}

/// Our encapsulation toward OVS carries the configured option, and OVS
/// accepts it (the echo replies come back).
#[test]
fn gateway_encap_carries_the_demo_option() {
    if !gateway_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-option");
    let _bed = Bed::up();
    let mut gw = Gateway::start(&dir);
    // On OVS's end of the veth: DPDK's net_af_packet sends with
    // PACKET_QDISC_BYPASS, so a capture on gwu0 itself misses our frames.
    let cap = Capture::start("gw-ovs", "ovsu0", "udp port 6081", dir.join("ovsu0.pcapng"));
    must(&mut net_py(
        "gw-acc",
        &["ping", "198.19.0.2", "--count", "3"],
    ));
    let file = cap.stop();
    let rows = fields(
        &file,
        "ip.src == 198.18.0.1 && icmp.type == 8",
        &[
            "eth.src",
            "eth.dst",
            "ip.dst",
            "udp.dstport",
            "geneve.version",
            "geneve.vni",
            "geneve.proto_type",
            "geneve.option.class",
            "geneve.option.type",
            "geneve.option.unknown.data",
            "geneve.flags.critical",
        ],
    );
    assert_eq!(
        rows.len(),
        3,
        "want our 3 encapsulated echo requests: {rows:?}"
    );
    for r in &rows {
        assert_eq!(r[0], format!("{GWU_MAC},{ACC_MAC}"), "{r:?}");
        assert_eq!(r[1], format!("02:00:c6:12:00:02,{VM_MAC}"), "{r:?}");
        assert_eq!(r[2], "198.18.0.2,198.19.0.2", "{r:?}");
        assert_eq!(r[3], "6081", "{r:?}");
        assert_eq!(r[4], "0", "{r:?}");
        assert_eq!(r[5], "0x000064", "{r:?}");
        assert_eq!(r[6], "0x6558", "{r:?}");
        assert_eq!(r[7], DEMO_OPTION.0, "{r:?}");
        assert_eq!(r[8], DEMO_OPTION.1, "{r:?}");
        assert_eq!(r[9], DEMO_OPTION.2, "{r:?}");
        assert!(
            r[10] == "False" || r[10] == "0",
            "C bit must be clear: {r:?}"
        );
    }
    assert_eq!(
        count(
            &file,
            "ip.src == 198.18.0.2 && geneve.vni == 100 && icmp.type == 0"
        ),
        3
    );
    let r = gw.stop();
    assert!(
        r.ok(),
        "gateway exit {:?}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
}

/// Geneve from OVS's side with an unknown critical option is dropped by us
/// and counted; known and unknown non-critical options pass.
#[test]
fn gateway_drops_an_unknown_critical_option_and_counts_it() {
    if !gateway_possible() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-crit");
    let _bed = Bed::up();
    let mut gw = Gateway::start(&dir);
    let cap = Capture::start(
        "gw-acc",
        "acc0",
        "udp dst portrange 47300-47399",
        dir.join("acc0.pcapng"),
    );
    let opt = format!("{}:{}:{}", DEMO_OPTION.0, DEMO_OPTION.1, DEMO_OPTION.2);
    send_geneve(true, 47300, 3, &[&opt]);
    send_geneve(true, 47301, 3, &["0xffff:0x00"]);
    send_geneve(true, 47302, 5, &["0xffff:0x80"]);
    send_geneve(true, 47303, 3, &[]);
    let file = cap.stop();
    let r = gw.stop();
    let n = |p: u16| {
        count(
            &file,
            &format!("udp.dstport == {p} && ip.src == 198.19.0.2"),
        )
    };
    assert_eq!(n(47300), 3, "known option: delivered\n{}", r.stdout);
    assert_eq!(
        n(47301),
        3,
        "unknown non-critical: ignored, delivered\n{}",
        r.stdout
    );
    assert_eq!(n(47302), 0, "unknown critical: dropped\n{}", r.stdout);
    assert_eq!(n(47303), 3, "no options: delivered\n{}", r.stdout);
    assert!(
        r.ok(),
        "gateway exit {:?}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let dropped = counter(&r, "unknown_critical_option").unwrap_or_else(|| {
        panic!(
            "no unknown_critical_option counter in the report:\n{}",
            r.stdout
        )
    });
    assert_eq!(dropped, 5, "unknown_critical_option counter:\n{}", r.stdout);
}

// ---------------------------------------------------------------------------
// IPv6 zero UDP checksums (RFC 6935/6936)

/// Open vSwitch's IPv6 Geneve tunnel with its defaults, captured off the
/// bed and replayed into the gateway through net_pcap. OVS's kernel
/// datapath sends zero outer UDP checksums over IPv6 unless `csum=true`;
/// the userspace datapath this bed runs (OVS 3.1) computes them whatever
/// `csum` says (its `tnl_push` header has `csum=0xffff`). So: OVS's own
/// frames decapsulate by default; the same frames with the checksum zeroed
/// by scapy (what the kernel datapath sends) are dropped as
/// `udp_zero_checksum_ipv6` by default and decapsulated when that remote's
/// tunnel says `accept_zero_checksum: true` (RFC 6935/6936).
#[test]
fn ovs_ipv6_tunnel_decaps_and_zero_checksums_need_accept_zero_checksum() {
    if !bed_possible() || !gateway_available() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("ovs-zero6");
    let _bed = Bed::up();
    // An IPv6 Geneve port with OVS's defaults, VNI 200, towards the
    // gateway's IPv6 VTEP; the VM's frames go there (no option).
    bed(&[
        "ovs",
        "ovs-vsctl",
        "add-port",
        "br0",
        "gnv6",
        "--",
        "set",
        "interface",
        "gnv6",
        "type=geneve",
        "ofport_request=11",
        "options:remote_ip=2001:db8:18::1",
        "options:key=200",
    ]);
    bed(&[
        "ovs",
        "ovs-ofctl",
        "add-flow",
        "br0",
        "priority=200,in_port=1,actions=output:11",
    ]);
    bed(&[
        "ovs",
        "ovs-appctl",
        "tnl/neigh/set",
        "br-ul",
        "2001:db8:18::1",
        GWU_MAC,
    ]);
    let file = vm_pings_through_ovs(&dir);
    let rows = fields(
        &file,
        "ipv6 && geneve && icmp.type == 8",
        &["ipv6.dst", "udp.checksum", "geneve.vni"],
    );
    assert_eq!(rows.len(), 3, "OVS sent no IPv6 Geneve: {rows:?}");
    for r in &rows {
        assert_eq!(r[0], "2001:db8:18::1", "{r:?}");
        assert_eq!(r[2], "0x0000c8", "VNI 200: {r:?}");
    }
    let ul_in = dir.join("ul_in.pcap");
    must(Command::new("tshark").args([
        "-r",
        file.to_str().unwrap(),
        "-Y",
        // OVS's echo requests only: whatever else the namespace sends
        // through the tunnel (neighbour discovery, a retry) varies by run.
        "ipv6 && geneve && icmp.type == 8",
        "-F",
        "pcap",
        "-w",
        ul_in.to_str().unwrap(),
    ]));
    // The same frames with a zero UDP checksum (a zero checksum is "none").
    let ul_zero = dir.join("ul_zero.pcap");
    run_ok(Command::new("python3").args([
        "-c",
        "import sys\nfrom scapy.all import UDP, rdpcap, wrpcap\nps = rdpcap(sys.argv[1])\nfor p in ps:\n    p[UDP].chksum = 0\nwrpcap(sys.argv[2], ps)",
        ul_in.to_str().unwrap(),
        ul_zero.to_str().unwrap(),
    ]));
    let run = |input: &Path, accept: bool, tag: &str| {
        let acc_out = dir.join(format!("acc_out_{tag}.pcap"));
        let ul = format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            input.display(),
            dir.join("ul_out.pcap").display()
        );
        let acc_in = dir.join("acc_in.pcap");
        common::write_pcap(&acc_in, &[]);
        let acc = format!(
            "net_pcap1,rx_pcap={},tx_pcap={}",
            acc_in.display(),
            acc_out.display()
        );
        let prefix = format!("gwzero6-{}-{tag}", std::process::id());
        let yaml = gw::Ports::new(&ul, &acc, &prefix).yaml()
            + &format!(
                r#"
vtep:
  ipv6: 2001:db8:18::1/64
tunnels:
  - {{ name: ovs6, remote: "2001:db8:18::2", vni: 200, accept_zero_checksum: {accept} }}
l2:
  segments:
    - {{ port: acc, vlan: untagged, vni: 200, flood: ["2001:db8:18::2"] }}
"#
            );
        let cfg = dir.join(format!("gw-{tag}.yaml"));
        std::fs::write(&cfg, yaml).unwrap();
        let r = gw::run_gw(
            &gw::strings(&[
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--stop-after-packets",
                "3",
                "--stop-after-idle",
                "3000",
            ]),
            Duration::from_secs(90),
        );
        assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
        (r, acc_out)
    };
    let echo = "icmp.type == 8 && ip.src == 198.19.0.2 && eth.src == 02:00:c6:13:00:02";
    let (ovs, acc_out) = run(&ul_in, false, "ovs");
    assert_eq!(ovs.value("decap "), 3, "{}", ovs.stdout);
    assert_eq!(count(&acc_out, echo), 3, "OVS's echo requests out");
    let (off, _) = run(&ul_zero, false, "off");
    assert_eq!(off.drops("udp_zero_checksum_ipv6"), 3, "{}", off.stdout);
    assert_eq!(off.value("decap "), 0, "{}", off.stdout);
    let (on, acc_out) = run(&ul_zero, true, "on");
    assert_eq!(on.value("decap "), 3, "{}", on.stdout);
    assert_eq!(count(&acc_out, echo), 3, "zero-checksum echo requests out");
}
