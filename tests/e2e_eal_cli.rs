//! The EAL from the command line, run as a subprocess: the examples' first
//! lines run as written (a core list and devices after `--` replace the
//! file's), a failing device names DPDK's own cause, and a clean exit leaves
//! no runtime directory behind.
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::gw::{self, dpdk_slot, eal_base, run_gw, strings, Run};
use common::{repo_path, scratch};

const TIMEOUT: Duration = Duration::from_secs(60);

fn prefix(name: &str) -> String {
    format!("gwtest-{}-{name}", std::process::id())
}

/// The command line in the first line of config/`name` (from `geneve-gw`),
/// with a stop condition and a private file prefix added.
fn first_line_command(name: &str, prefix: &str) -> Vec<String> {
    let path = repo_path("config").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.lines().next().unwrap();
    let cmd = first
        .split_once("geneve-gw run")
        .unwrap_or_else(|| panic!("{name}: no command line in its first line: {first}"))
        .1;
    let mut args = strings(&["run", "--stop-after-idle", "300", "--stats-interval", "0"]);
    args.extend(cmd.split_whitespace().map(String::from));
    assert!(args.contains(&"--".to_string()), "{name}: {first}");
    args.extend(strings(&["--file-prefix", prefix]));
    args
}

#[test]
fn hardware_examples_run_on_virtual_devices_from_their_first_line() {
    let _slot = dpdk_slot();
    for name in ["l2-gateway.yaml", "ipv6-underlay.yaml"] {
        let args = first_line_command(name, &prefix("first-line"));
        // The first line is run from the repository root.
        let r = gw::run_cmd(
            Command::new(gw::bin())
                .current_dir(repo_path(""))
                .args(&args),
            TIMEOUT,
        );
        assert!(r.ok(), "{name}: {args:?}\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("stopped: idle"), "{name}: {}", r.stdout);
        r.assert_no_leak();
        // Two workers' worth of cores were replaced by -l 0,1: one worker.
        assert!(
            r.stderr.contains("running with 1 worker(s)"),
            "{name}: {}",
            r.stderr
        );
    }
}

fn assert_cause(r: &Run, needles: &[&str]) {
    r.assert_clean_error(needles[0]);
    let line = r.stderr.lines().find(|l| l.starts_with("error")).unwrap();
    for n in needles {
        assert!(line.contains(n), "error line lacks {n:?}: {line}");
    }
}

#[test]
fn missing_pcap_file_names_the_drivers_cause() {
    let _slot = dpdk_slot();
    let dir = scratch("eal-cli-pcap");
    let missing = dir.join("missing.pcap");
    let vdev = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        missing.display(),
        dir.join("out.pcap").display()
    );
    // probe
    let mut args = strings(&["probe", "--"]);
    args.extend(eal_base("cause-probe"));
    args.extend(strings(&["--vdev", &vdev]));
    let r = run_gw(&args, TIMEOUT);
    assert_cause(&r, &["Couldn't open", &missing.display().to_string()]);
    // run: the device given after `--` replaces the file's (whose memory
    // mode is no_huge, so not eal_base's --in-memory)
    let p = prefix("cause-run");
    let mut args = strings(&["run", "-c", "config/options-policy.yaml", "--"]);
    args.extend(strings(&["-l", "0-1", "--no-pci", "--no-shconf"]));
    args.extend(strings(&["--file-prefix", &p, "--vdev", &vdev]));
    let r = gw::run_cmd(
        Command::new(gw::bin())
            .current_dir(repo_path(""))
            .args(&args),
        TIMEOUT,
    );
    assert_cause(&r, &["Couldn't open", &missing.display().to_string()]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memif_without_a_peer_names_the_drivers_cause() {
    let _slot = dpdk_slot();
    let dir = scratch("eal-cli-memif");
    let sock = dir.join("nobody.sock");
    let mut args = strings(&["gen", "--count", "10", "--link-timeout", "1", "--"]);
    let mut eal = eal_base("cause-memif");
    // gen runs on one lcore.
    eal[1] = "0".into();
    args.extend(eal);
    args.extend(strings(&[
        "--vdev",
        &format!(
            "net_memif0,role=client,socket={},socket-abstract=no",
            sock.display()
        ),
    ]));
    let r = run_gw(&args, TIMEOUT);
    assert_cause(&r, &["Failed to connect socket", "memif server"]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs geneve-gw without the harness (which removes the runtime directory
/// itself), so the test sees what the process left.
fn run_plain(args: &[String]) -> std::process::Output {
    Command::new("timeout")
        .arg("60")
        .arg(gw::bin())
        .current_dir(repo_path(""))
        .args(args)
        .output()
        .expect("spawn")
}

#[test]
fn clean_exit_leaves_no_runtime_directory() {
    let _slot = dpdk_slot();
    let nulls = ["--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1"];
    for (cmd, pre) in [
        (&["probe"][..], "rt-probe"),
        (&["forward", "--stop-after-idle", "200"], "rt-forward"),
        (
            &[
                "run",
                "-c",
                "config/options-policy.yaml",
                "--stop-after-idle",
                "200",
            ],
            "rt-run",
        ),
    ] {
        let p = prefix(pre);
        let dir = gw::runtime_dir(&p);
        let mut args = strings(cmd);
        args.push("--".into());
        // Shared configuration on (no --no-shconf, no --in-memory): the EAL
        // writes its config, fbarrays and sockets into the directory.
        args.extend(strings(&[
            "-l",
            "0-1",
            "--no-pci",
            "--no-huge",
            "-m",
            "512",
            "--file-prefix",
            &p,
        ]));
        args.extend(strings(&nulls));
        let out = run_plain(&args);
        let leftover = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .ok();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{cmd:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(leftover, None, "{cmd:?} left {} behind", dir.display());
    }
}

#[test]
fn failed_eal_start_leaves_no_runtime_directory() {
    let _slot = dpdk_slot();
    let p = prefix("rt-eal-fails");
    let dir = gw::runtime_dir(&p);
    // --in-memory and --no-huge (legacy memory) exclude each other: the EAL
    // refuses after it made its runtime directory.
    let out = run_plain(&strings(&[
        "probe",
        "--",
        "-l",
        "0",
        "--no-pci",
        "--no-huge",
        "--in-memory",
        "--file-prefix",
        &p,
        "--vdev",
        "net_null0",
    ]));
    let left = Path::new(&dir).exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EAL could not start"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!left, "{} left behind", dir.display());
}

/// `no_huge` with `size_mb: 8` cannot hold the mbuf pool the ports and
/// workers need: the message says limits.mbufs was raised to that floor
/// and asks for memory, not for a lower limits.mbufs (which changes nothing).
#[test]
fn a_pool_too_big_for_memory_does_not_ask_for_fewer_mbufs() {
    let _slot = dpdk_slot();
    let dir = scratch("eal-cli-mbufs");
    let p = prefix("mbufs");
    let ports = gw::Ports {
        memory: "{ mode: no_huge, size_mb: 8 }",
        ..gw::Ports::new("net_null0", "net_null1", &p)
    };
    let cfg = dir.join("gw.yaml");
    std::fs::write(
        &cfg,
        ports.yaml()
            + "vtep:\n  ipv4: 198.18.0.1/24\ntunnels:\n  - { name: b, remote: 198.18.0.2, vni: 100 }\nl2:\n  segments:\n    - { port: acc, vni: 100, flood: [198.18.0.2] }\nlimits:\n  mbufs: 1023\n",
    )
    .unwrap();
    let r = run_gw(&strings(&["run", "-c", cfg.to_str().unwrap()]), TIMEOUT);
    assert_cause(&r, &["raised to that floor", "raise eal.memory.size_mb"]);
    let line = r.stderr.lines().find(|l| l.starts_with("error")).unwrap();
    assert!(!line.contains("lower limits.mbufs"), "{line}");
    let _ = std::fs::remove_dir_all(dir);
}
