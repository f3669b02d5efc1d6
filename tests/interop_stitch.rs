//! VXLAN and Geneve stitched end to end (scripts/stitch-bed.sh,
//! config/demo-stitch.yaml): Open vSwitch's userspace datapath as a VXLAN
//! VTEP (VNI 5000) in one namespace and as a Geneve VTEP (VNI 1000) in
//! another, the gateway between them joining the two into one segment.
//!
//! ```text
//! [sx-hx] 198.19.0.3 -- OVS VXLAN VTEP 198.18.0.3 --\
//!                                        [sx-ul] bridge -- gws0 | geneve-gw | gwb0 -- [sx-acc] 198.19.0.1
//! [sx-hg] 198.19.0.2 -- OVS Geneve VTEP 198.18.0.2 -/
//! ```
//!
//! Ping and a TCP transfer between the host behind the VXLAN VTEP and the
//! host behind the Geneve VTEP, both ways, over an IPv4 and an IPv6
//! underlay; tshark on the two VTEPs' underlay links sees only VXLAN on
//! one and only Geneve on the other. The Linux kernel's vxlan device, when
//! the kernel has it, is a further VXLAN peer. Needs root, Open vSwitch,
//! tshark and python3, else it skips saying why.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, dpdk_slot, run_cmd, Run};
use common::{
    await_stderr, have_program, have_tshark, is_root, repo_path, scapy_script, scratch, signal,
    skip, wait_exit,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn possible() -> bool {
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
    have_tshark()
}

fn sh(cmd: &mut Command) -> Run {
    run_cmd(cmd.current_dir(ROOT), Duration::from_secs(90))
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

fn bed_cmd(args: &[&str]) -> Command {
    let mut c = Command::new("bash");
    c.arg(repo_path("scripts/stitch-bed.sh")).args(args);
    c
}

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

/// The bed, torn down on drop (also on panic).
struct Bed;

impl Bed {
    fn up(family: &str, peer: &str) -> Bed {
        must(&mut bed_cmd(&["up", family, peer]));
        Bed
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let r = sh(&mut bed_cmd(&["down"]));
        if !r.ok() {
            eprintln!("stitch-bed.sh down failed:\n{}\n{}", r.stdout, r.stderr);
        }
    }
}

/// tshark on IFACE in namespace NS into FILE, stopped by PID.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(ns: &str, iface: &str, file: PathBuf) -> Capture {
        let _ = std::fs::remove_file(&file);
        let mut child = in_ns(
            ns,
            &[
                "tshark",
                "-q",
                "-i",
                iface,
                "-f",
                "udp",
                "-w",
                file.to_str().unwrap(),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tshark");
        if !await_stderr(&mut child, "Capturing on", Duration::from_secs(20)) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tshark did not start capturing on {iface} in 20 s");
        }
        std::thread::sleep(Duration::from_millis(300));
        Capture { child, file }
    }

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

/// Packets of FILE matching the display filter, decoding 4789 as VXLAN
/// and 6081 as Geneve (tshark's defaults, said out loud).
fn count(file: &Path, filter: &str) -> usize {
    let r = must(Command::new("tshark").args([
        "-r",
        file.to_str().unwrap(),
        "-d",
        "udp.port==4789,vxlan",
        "-d",
        "udp.port==6081,geneve",
        "-Y",
        filter,
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]));
    r.stdout.lines().filter(|l| !l.is_empty()).count()
}

/// The gateway on the bed's configuration, stopped on drop.
struct Gateway {
    child: Option<Child>,
    logs: PathBuf,
}

impl Gateway {
    fn start(config: &Path, logs: &Path) -> Gateway {
        let out = std::fs::File::create(logs.join("gw.stdout")).unwrap();
        let err = std::fs::File::create(logs.join("gw.stderr")).unwrap();
        let child = Command::new(gw::bin())
            .current_dir(ROOT)
            .args([
                "run",
                "-c",
                config.to_str().unwrap(),
                "--stop-after-idle",
                "30000",
            ])
            .args(["--", "--no-pci"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn geneve-gw run");
        Gateway {
            child: Some(child),
            logs: logs.to_path_buf(),
        }
    }

    /// Waits until `ns` reaches `dst` through the gateway (ARP on both
    /// underlays, OVS resolving the gateway's VTEP, MAC learning).
    fn await_path(&mut self, ns: &str, dst: &str) {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let r = self.stop();
                panic!("geneve-gw exited early ({s}):\n{}\n{}", r.stdout, r.stderr);
            }
            if sh(&mut net_py(
                ns,
                &["ping", dst, "--count", "1", "--timeout", "1"],
            ))
            .ok()
            {
                return;
            }
            if t0.elapsed() > Duration::from_secs(40) {
                let r = self.stop();
                panic!(
                    "{ns} cannot reach {dst} through the gateway in 40 s:\n{}\n{}",
                    r.stdout, r.stderr
                );
            }
        }
    }

    fn stop(&mut self) -> Run {
        let mut child = self.child.take().expect("gateway already stopped");
        let mut status = child.try_wait().expect("wait");
        if status.is_none() {
            let _ = signal(child.id(), "INT");
            status = wait_exit(&mut child, Duration::from_secs(20));
        }
        if status.is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
        Run {
            code: status.and_then(|s| s.code()),
            stdout: std::fs::read_to_string(self.logs.join("gw.stdout")).unwrap_or_default(),
            stderr: std::fs::read_to_string(self.logs.join("gw.stderr")).unwrap_or_default(),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// `encap geneve G vxlan V` / `decap geneve G vxlan V` of the exit report.
fn split(stdout: &str, what: &str) -> (u64, u64) {
    let l = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{what} geneve ")))
        .unwrap_or_else(|| panic!("no `{what} geneve` line in:\n{stdout}"));
    let w: Vec<&str> = l.split_whitespace().collect();
    (w[0].parse().unwrap(), w[2].parse().unwrap())
}

/// One TCP transfer of 2 MB from CLIENT to SERVER_IP (in SERVER), checked
/// by length and SHA-256 at both ends.
fn tcp(server: &str, server_ip: &str, client: &str, port: &str) {
    const BYTES: &str = "2000000";
    let srv = std::thread::spawn({
        let mut c = net_py(server, &["tcp-recv", server_ip, port, "--timeout", "40"]);
        move || must(&mut c)
    });
    let sent = must(&mut net_py(
        client,
        &["tcp-send", server_ip, port, BYTES, "--timeout", "40"],
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
        "{client} -> {server_ip}: bytes or sha256 differ"
    );
}

/// The whole exchange over one underlay family with one VXLAN peer.
fn stitched_exchange(family: &str, peer: &str) {
    let _slot = dpdk_slot();
    let dir = scratch(&format!("stitch-{family}-{peer}"));
    let _bed = Bed::up(family, peer);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, must(&mut bed_cmd(&["config", family])).stdout).unwrap();
    let vx_cap = Capture::start("sx-ul", "ulx", dir.join("vxlan-link.pcapng"));
    let gn_cap = Capture::start("sx-ul", "uln", dir.join("geneve-link.pcapng"));
    let mut gw = Gateway::start(&cfg, &dir);
    gw.await_path("sx-hx", "198.19.0.2");
    for (from, to) in [
        ("sx-hx", "198.19.0.2"),
        ("sx-hg", "198.19.0.3"),
        ("sx-hx", "2001:db8:19::2"),
        ("sx-hg", "2001:db8:19::3"),
    ] {
        must(&mut net_py(
            from,
            &["ping", to, "--count", "5", "--need", "5"],
        ));
    }
    tcp("sx-hg", "198.19.0.2", "sx-hx", "5301");
    tcp("sx-hx", "198.19.0.3", "sx-hg", "5302");
    tcp("sx-hg", "2001:db8:19::2", "sx-hx", "5303");
    let r = gw.stop();
    let vx = vx_cap.stop();
    let gn = gn_cap.stop();
    assert!(
        r.ok(),
        "gateway exit {:?}:\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    // The outer addresses are of the underlay's family.
    let (vx_vtep, gn_vtep) = if family == "6" {
        ("ipv6.addr == 2001:db8:18::3", "ipv6.addr == 2001:db8:18::2")
    } else {
        ("ip.addr == 198.18.0.3", "ip.addr == 198.18.0.2")
    };
    // The VXLAN VTEP's link: VXLAN VNI 5000 both ways, carrying the hosts'
    // echo requests and replies; no Geneve at all.
    let vx_echo = count(
        &vx,
        &format!("{vx_vtep} && vxlan.vni == 5000 && icmp.type == 8"),
    );
    let vx_reply = count(
        &vx,
        &format!("{vx_vtep} && vxlan.vni == 5000 && icmp.type == 0"),
    );
    assert!(
        vx_echo >= 5 && vx_reply >= 5,
        "VXLAN link: {vx_echo} echo requests, {vx_reply} replies"
    );
    assert!(count(&vx, "vxlan && tcp") > 100, "TCP over VXLAN");
    assert_eq!(count(&vx, "geneve"), 0, "Geneve on the VXLAN VTEP's link");
    // The Geneve VTEP's link: Geneve VNI 1000, the same traffic; no VXLAN.
    let gn_echo = count(
        &gn,
        &format!("{gn_vtep} && geneve.vni == 1000 && icmp.type == 8"),
    );
    let gn_reply = count(
        &gn,
        &format!("{gn_vtep} && geneve.vni == 1000 && icmp.type == 0"),
    );
    assert!(
        gn_echo >= 5 && gn_reply >= 5,
        "Geneve link: {gn_echo} echo requests, {gn_reply} replies"
    );
    assert!(count(&gn, "geneve && tcp") > 100, "TCP over Geneve");
    assert_eq!(count(&gn, "vxlan"), 0, "VXLAN on the Geneve VTEP's link");
    // The inner frames crossed the gateway, not its access port: the
    // stitched counter carries them and the access port saw floods only.
    let (g_enc, v_enc) = split(&r.stdout, "encap");
    let (_, v_dec) = split(&r.stdout, "decap");
    let stitched = gw::report_value(&r.stdout, "stitched ").unwrap();
    assert!(
        v_enc > 100 && g_enc > 100,
        "encap geneve {g_enc} vxlan {v_enc}"
    );
    assert!(
        stitched >= g_enc.min(v_enc),
        "stitched {stitched}:\n{}",
        r.stdout
    );
    assert!(
        v_dec < 20,
        "VXLAN frames to the access port (floods only): {v_dec}"
    );
    // Nothing dropped but floods (ARP, the kernel bridge's router
    // solicitations) before a VTEP's address was resolved.
    let drops = gw::report_value(&r.stdout, "drops total ").unwrap();
    let unresolved = gw::report_value(&r.stdout, "drop next_hop_unresolved ").unwrap_or(0);
    assert!(drops == unresolved && drops < 50, "{}", r.stdout);
}

#[test]
fn ovs_vxlan_and_geneve_vteps_stitched_over_ipv4() {
    if !possible() {
        return;
    }
    stitched_exchange("4", "ovs");
}

#[test]
fn ovs_vxlan_and_geneve_vteps_stitched_over_ipv6() {
    if !possible() {
        return;
    }
    stitched_exchange("6", "ovs");
}

/// The Linux kernel's own VXLAN device as the VXLAN VTEP (when the kernel
/// has it: a namespace gets a vxlan link), beside OVS's Geneve.
#[test]
fn kernel_vxlan_and_ovs_geneve_stitched_over_ipv4() {
    if !possible() {
        return;
    }
    let ns = format!("sx-probe-{}", std::process::id());
    must(Command::new("ip").args(["netns", "add", &ns]));
    let probe = sh(Command::new("ip").args([
        "-n",
        &ns,
        "link",
        "add",
        "vxprobe",
        "type",
        "vxlan",
        "id",
        "1",
        "dstport",
        "4789",
        "local",
        "198.18.9.1",
    ]));
    must(Command::new("ip").args(["netns", "del", &ns]));
    if !probe.ok() {
        skip(format_args!(
            "the kernel has no vxlan device here ({})",
            probe.stderr.trim()
        ));
        return;
    }
    stitched_exchange("4", "kernel");
}
