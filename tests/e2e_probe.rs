//! `geneve-gw probe` on virtual devices, run as a subprocess: capabilities,
//! the hardware/software decision table, and `--validate` (create and
//! destroy each decap rule, the PMD's message, the testpmd replay lines).
mod common;

use std::process::Command;
use std::time::Duration;

use common::gw::{dpdk_slot, eal_base, run_cmd, run_gw, strings, Run};
use common::{have_program, is_root, scratch, skip, write_pcap};

const TIMEOUT: Duration = Duration::from_secs(60);

fn probe(extra: &[&str], eal: &[String]) -> Run {
    let mut args = strings(&["probe"]);
    args.extend(strings(extra));
    args.push("--".into());
    args.extend(eal.iter().cloned());
    run_gw(&args, TIMEOUT)
}

fn decisions(out: &str, p: u16) -> Vec<(String, String, String)> {
    let head = format!("port {p} ");
    let mut in_port = false;
    let mut in_table = false;
    let mut rows = Vec::new();
    for l in out.lines() {
        if l.starts_with("port ") {
            in_port = l.starts_with(&head);
            in_table = false;
            continue;
        }
        if !in_port {
            continue;
        }
        if l.starts_with("    feature ") {
            in_table = true;
            continue;
        }
        if in_table {
            if !l.starts_with("    ") || l.starts_with("     ") {
                in_table = false;
                continue;
            }
            // Columns: feature (28 wide), where (9 wide), why.
            let body = &l[4..];
            let feature = body[..28].trim().to_string();
            let place = body[29..38].trim().to_string();
            let why = body[38..].trim().to_string();
            rows.push((feature, place, why));
        }
    }
    rows
}

fn row<'a>(rows: &'a [(String, String, String)], feature: &str) -> &'a (String, String, String) {
    rows.iter()
        .find(|r| r.0 == feature)
        .unwrap_or_else(|| panic!("no row {feature:?} in {rows:?}"))
}

#[test]
fn virtual_ports_are_all_software_with_reasons() {
    let _slot = dpdk_slot();
    let dir = scratch("probe-pcap");
    let input = dir.join("in.pcap");
    write_pcap(&input, &[vec![0u8; 60]]);
    let mut eal = eal_base("probe-sw");
    eal.extend(strings(&[
        "--vdev",
        "net_null0",
        "--vdev",
        &format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            input.display(),
            dir.join("out.pcap").display()
        ),
    ]));
    let r = probe(&[], &eal);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("port 0 net_null0 (driver net_null)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("port 1 net_pcap0 (driver net_pcap)"),
        "{}",
        r.stdout
    );
    for p in 0..2 {
        let rows = decisions(&r.stdout, p);
        let features: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            features,
            vec![
                "outer IPv4 checksum",
                "outer UDP checksum",
                "inner IPv4 checksum",
                "inner UDP/TCP checksum",
                "Geneve TSO",
                "rte_flow decap (VNI match)",
                "inner RSS",
                "outer IPv4 checksum (RX)"
            ],
            "{}",
            r.stdout
        );
        for (f, place, why) in &rows {
            assert_eq!(place, "software", "port {p} {f}: {}", r.stdout);
            assert!(!why.is_empty(), "port {p} {f} has no reason");
        }
        assert_eq!(
            row(&rows, "outer UDP checksum").2,
            "port does not advertise UDP_CKSUM"
        );
        assert!(row(&rows, "rte_flow decap (VNI match)")
            .2
            .starts_with("no rte_flow API"));
    }
    assert!(r.stdout.contains("  TX offloads:  (none)"));
    assert!(r
        .stdout
        .contains("  rte_flow API: unavailable (Function not implemented)"));
    assert!(
        r.stdout.contains(
            "  Geneve UDP port 6081 (udp_tunnel_port_add): refused: Operation not supported"
        ),
        "{}",
        r.stdout
    );
    // No rules without --validate.
    assert!(!r.stdout.contains("testpmd>"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tap_checksum_offloads_are_hardware() {
    if !is_root() {
        skip("net_tap needs root (CAP_NET_ADMIN) to create its interface");
        return;
    }
    let _slot = dpdk_slot();
    let mut eal = eal_base("probe-tap");
    let iface = format!("gwpr{}", std::process::id() % 100_000);
    eal.extend(strings(&["--vdev", &format!("net_tap0,iface={iface}")]));
    let r = probe(&["--validate"], &eal);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("(driver net_tap)"), "{}", r.stdout);
    let rows = decisions(&r.stdout, 0);
    // The gateway describes the outer headers as a plain packet, so tap's
    // IPV4_CKSUM / UDP_CKSUM carry the outer checksums.
    let ip = row(&rows, "outer IPv4 checksum");
    assert_eq!(
        (ip.1.as_str(), ip.2.as_str()),
        (
            "hardware",
            "port advertises IPV4_CKSUM (outer headers described as a plain packet)"
        )
    );
    let udp = row(&rows, "outer UDP checksum");
    assert_eq!(
        (udp.1.as_str(), udp.2.as_str()),
        (
            "hardware",
            "port advertises UDP_CKSUM (outer headers described as a plain packet)"
        )
    );
    // No virtual PMD offloads anything Geneve; inner checksums pass through.
    for f in [
        "inner IPv4 checksum",
        "inner UDP/TCP checksum",
        "Geneve TSO",
        "rte_flow decap (VNI match)",
    ] {
        assert_eq!(row(&rows, f).1, "software", "{f}: {}", r.stdout);
    }
    assert!(row(&rows, "rte_flow decap (VNI match)")
        .2
        .contains("net_tap has no Geneve rte_flow item"));
    // What the table calls hardware is what configuration enabled.
    let enabled = r
        .stdout
        .lines()
        .find(|l| l.starts_with("  TX offloads enabled at configure:"))
        .expect("enabled line");
    for bit in ["IPV4_CKSUM", "UDP_CKSUM"] {
        assert!(enabled.split_whitespace().any(|w| w == bit), "{enabled}");
    }
    // net_tap has the flow API but no Geneve item: the PMD says so.
    assert!(
        r.stdout.contains("  rte_flow API: available"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("create: FAILED: item not supported"),
        "{}",
        r.stdout
    );
}

#[test]
fn validate_reports_refused_rules_with_pmd_message_and_testpmd_lines() {
    let _slot = dpdk_slot();
    let mut eal = eal_base("probe-val");
    eal.extend(strings(&["--vdev", "net_null0"]));
    let r = probe(&["--validate"], &eal);
    assert_eq!(
        r.code,
        Some(0),
        "a refused rule is a report, not an error:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r
        .stdout
        .contains("decided software: the gateway would not install them"));
    assert_eq!(
        r.stdout
            .matches("create: FAILED: Function not implemented")
            .count(),
        2,
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("validate: 0 of 2 rule(s) created and destroyed"));
    let testpmd: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("testpmd> "))
        .collect();
    assert_eq!(testpmd.len(), 4, "{}", r.stdout);
    assert_eq!(
        testpmd[0],
        "set raw_decap 0 eth / ipv4 / udp / geneve / end_set"
    );
    assert!(testpmd[1].starts_with("flow create 0 ingress pattern eth / ipv4 dst is 198.18.0.1 "));
    assert!(testpmd[1].contains("/ udp dst is 6081 / geneve vni is 100 "));
    assert!(testpmd[1].ends_with("actions raw_decap index 0 / mark id 100 / queue index 0 / end"));
    assert_eq!(
        testpmd[2],
        "set raw_decap 0 eth / ipv6 / udp / geneve / end_set"
    );

    // The lines are real testpmd syntax: dpdk-testpmd 22.11 parses both
    // `flow create` lines and hands them to the PMD (net_null refuses each
    // with a complaint); a line it cannot parse never reaches the PMD.
    if !have_program("dpdk-testpmd") {
        skip("the testpmd replay: dpdk-testpmd is not installed");
        return;
    }
    let dir = scratch("probe-testpmd");
    let cmds = dir.join("cmds.txt");
    let mut text = testpmd.join("\n");
    text.push_str("\nflow create 0 ingress pattern eth / ipv4 dst is 198.18.0.1 nonsense 3 / end actions queue index 0 / end\n");
    std::fs::write(&cmds, text).unwrap();
    let mut tp_eal = eal_base("probe-tp");
    tp_eal.extend(strings(&["--vdev", "net_null0", "--"]));
    tp_eal.extend(strings(&[
        "--total-num-mbufs=2048",
        &format!("--cmdline-file={}", cmds.display()),
    ]));
    let t = run_cmd(
        Command::new("timeout")
            .arg("50")
            .arg("dpdk-testpmd")
            .args(&tp_eal),
        TIMEOUT,
    );
    let all = format!("{}{}", t.stdout, t.stderr);
    assert!(
        all.contains("Read CLI commands from"),
        "testpmd did not read the file:\n{all}"
    );
    assert_eq!(
        all.matches("Caught PMD error type 1 (cause unspecified): Function not implemented")
            .count(),
        2,
        "both flow create lines must parse and reach the PMD:\n{all}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// An underlay and an access port on net_null, one untagged segment.
const NULL_PAIR_CONFIG: &str = r#"
eal:
  cores: [1]
  control_core: 0
  memory: { mode: no_huge, size_mb: 512 }
  devices:
    vdev: ["net_null0", "net_null1"]
ports:
  - { name: up, role: underlay, device: net_null0 }
  - { name: acc, role: access, device: net_null1 }
vtep:
  ipv4: 198.18.0.1/24
l2:
  learning: false
  segments:
    - { name: open, port: acc, vni: 4000, flood: [198.18.0.2] }
"#;

#[test]
fn config_decides_which_vnis_are_validated() {
    let _slot = dpdk_slot();
    let dir = scratch("probe-cfg");
    let cfg = dir.join("gw.yaml");
    std::fs::write(
        &cfg,
        format!(
            "{NULL_PAIR_CONFIG}    - {{ name: tagged, port: acc, vlan: 7, vni: 4001, flood: [198.18.0.2] }}\n"
        ),
    )
    .unwrap();
    let prefix = format!("gwtest-{}-probe-cfg", std::process::id());
    let r = run_gw(
        &strings(&[
            "probe",
            "-c",
            cfg.to_str().unwrap(),
            "--validate",
            "--",
            "--no-pci",
            "--no-shconf",
            "--file-prefix",
            &prefix,
        ]),
        TIMEOUT,
    );
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("rule VNI 4000 to 198.18.0.1 udp 6081"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("VNI 4001: software, the decapsulated frame gets a VLAN tag in software"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("rule VNI 4001"), "{}", r.stdout);
    assert!(r.stdout.contains("geneve vni is 4000 "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("validate: not an underlay port in the configuration"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_eal_arguments_give_one_error_line() {
    let _slot = dpdk_slot();
    let mut eal = eal_base("probe-bad");
    eal.extend(strings(&["--vdev", "net_nul0"]));
    let r = probe(&[], &eal);
    r.assert_clean_error("EAL could not start");
    let r = run_gw(&strings(&["probe"]), TIMEOUT);
    r.assert_clean_error("no DPDK devices given");
}

#[test]
fn run_logs_each_ports_decision_table() {
    let _slot = dpdk_slot();
    let dir = scratch("probe-run");
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, NULL_PAIR_CONFIG).unwrap();
    let prefix = format!("gwtest-{}-probe-run", std::process::id());
    let r = run_gw(
        &strings(&[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--stop-after-packets",
            "1000",
            "--stats-interval",
            "0",
            "--",
            "--no-pci",
            "--no-shconf",
            "--file-prefix",
            &prefix,
        ]),
        TIMEOUT,
    );
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    for name in ["up", "acc"] {
        let head = format!("port {name} offloads (driver net_null):");
        let at = r
            .stderr
            .find(&head)
            .unwrap_or_else(|| panic!("no decision table for {name}:\n{}", r.stderr));
        let block: Vec<&str> = r.stderr[at..].lines().skip(1).take(8).collect();
        assert!(block[0].starts_with("  feature"), "{block:?}");
        assert_eq!(
            block[1..]
                .iter()
                .filter(|l| l.contains(" software "))
                .count(),
            7,
            "{block:?}"
        );
    }
    // net_null has no flow API: no rule is attempted.
    assert!(
        !r.stderr.contains("hardware decap rule(s) installed"),
        "{}",
        r.stderr
    );
    r.assert_no_leak();
    let _ = std::fs::remove_dir_all(dir);
}
