//! The gateway end to end through `net_pcap`: scapy builds the input pcaps,
//! `geneve-gw run` processes them, and scapy plus tshark (not our parser)
//! check the output; every drop lands on its own counter.
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports, Run};
use common::{
    have_scapy, have_tshark, read_pcap, run_ok, scapy, scratch, signal, tshark, write_pcap,
    StderrLines,
};

/// The EAL and ports section: underlay on `devices[0]`, access on
/// `devices[1]` (vdev strings).
fn eal_with(devices: [String; 2]) -> String {
    let prefix = format!("gwtest-{}", std::process::id());
    Ports::new(&devices[0], &devices[1], &prefix).yaml()
}

/// Both ports on net_pcap files in `dir`: ul_in/ul_out and acc_in/acc_out.
fn eal_section(dir: &Path) -> String {
    eal_with(gw::pcap_devices(dir))
}

/// `python3 tests/scapy/SCRIPT VERB DIR`; its output.
fn scapy_in(script: &str, verb: &str, dir: &Path) -> String {
    scapy(script, [verb, dir.to_str().unwrap()])
}

/// Writes the EAL/ports section plus `tail` as the configuration and runs
/// the gateway on it with `extra` arguments; the run must succeed and give
/// back every mbuf.
fn run_scenario(dir: &Path, tail: &str, extra: &[&str]) -> Run {
    run_scenario_on(dir, &eal_section(dir), tail, extra)
}

/// [`run_scenario`] with `head` as the EAL/ports section.
fn run_scenario_on(dir: &Path, head: &str, tail: &str, extra: &[&str]) -> Run {
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, head.to_string() + tail).unwrap();
    let mut args = strings(&["run", "-c", cfg.to_str().unwrap()]);
    args.extend(strings(extra));
    let r = run_gw(&args, Duration::from_secs(90));
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    r
}

/// Runs a scapy checker over the outputs in `dir`; it must report ok.
fn assert_scapy_ok(script: &str, dir: &Path, r: &Run) {
    let verdict = scapy_in(script, "check", dir);
    assert!(
        verdict.contains("\"ok\": true"),
        "scapy {script}: {verdict}\n{}",
        r.stdout
    );
}

#[test]
fn vtep_answers_arp_and_ping_resolves_next_hops_keeps_vnis_apart_and_ages_macs() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-control");
    scapy_in("gateway_control.py", "build", &dir);
    let tail = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.3, mac: "02:00:00:00:00:03", destinations: [198.18.0.3/32] }
l2:
  learning: true
  ageing_seconds: 1
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.3]
      static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ]
    - { port: acc, vlan: 20, vni: 200, flood: [198.18.0.3] }
"#;
    let r = run_scenario(&dir, tail, &["--stop-after-idle", "2500"]);
    assert_scapy_ok("gateway_control.py", &dir, &r);
    assert_eq!(r.value("control replies "), 2, "{}", r.stdout);
    assert_eq!(r.value("decap "), 2, "{}", r.stdout);
    assert_eq!(r.value("encap "), 2, "{}", r.stdout);
    // Two MACs learned from VNIs 100 and 200, both aged out after 1 s idle.
    assert_eq!(r.value("macs aged "), 2, "{}", r.stdout);
    assert_eq!(r.value("learned macs "), 0, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
}

/// The L2 scenario's gateway configuration (after the EAL/ports section).
const L2_TAIL: &str = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
    - { via: 198.18.0.3, mac: "02:00:00:00:00:03", destinations: [198.18.0.3/32] }
options:
  registry:
    - { name: demo-tag, class: 0x0102, type: 0x01, length: 4 }
    - { name: sec, class: 0x0104, type: 0x02, length: 4 }
  policies:
    require: [ { option: sec, vni: 100 } ]
    security_tags: [ { option: sec, vni: 100, allow: [7], deny: [9], default: deny } ]
tunnels:
  - { name: b, remote: 198.18.0.2, vni: 100, options: [ { name: demo-tag, data: "0000002a" } ] }
  - { name: c, remote: 198.18.0.3, vni: 100, options: [ { name: demo-tag, data: "0000002a" } ] }
l2:
  learning: true
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.2, 198.18.0.3]
      static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ]
decap:
  - { vni: 100, allow_from: [198.18.0.2, 198.18.0.3] }
"#;

#[test]
fn l2_gateway_end_to_end_through_pcap() {
    if !have_scapy() || !have_tshark() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-l2");
    let expected: HashMap<String, u64> =
        serde_json::from_str(&scapy_in("gateway_cases.py", "build", &dir)).expect("JSON counts");
    let total_in: u64 = expected.values().sum::<u64>() + 3;
    let r = run_scenario(
        &dir,
        L2_TAIL,
        &[
            "--stop-after-packets",
            &total_in.to_string(),
            "--stop-after-idle",
            "3000",
        ],
    );
    for (name, n) in &expected {
        match name.as_str() {
            "deliver" => assert_eq!(r.value("decap "), *n, "{}", r.stdout),
            "control" => assert_eq!(r.value("geneve control packets "), *n, "{}", r.stdout),
            reason => assert_eq!(r.drops(reason), *n, "drop {reason}:\n{}", r.stdout),
        }
    }
    assert_eq!(r.drops("no_segment"), 1, "{}", r.stdout);
    // Known MAC -> 1, broadcast -> one copy per flood target (2).
    assert_eq!(r.value("encap "), 3, "{}", r.stdout);
    assert_eq!(r.value("learned macs "), 1, "{}", r.stdout);
    // Packets in = packets out + counted drops + punted.
    let drops = r.value("drops total ");
    let punted = r.value("punted ");
    assert_eq!(
        total_in,
        r.value("decap ") + 2 + drops + punted,
        "{}",
        r.stdout
    );

    assert_scapy_ok("gateway_cases.py", &dir, &r);

    // tshark, a second outside decoder, on the encapsulated side.
    let rows = tshark(
        &dir.join("ul_out.pcap"),
        [
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-E",
            "occurrence=f",
            "-e",
            "ip.dst",
            "-e",
            "geneve.vni",
            "-e",
            "geneve.option.class",
            "-e",
            "geneve.option.type",
            "-e",
            "udp.dstport",
        ],
    );
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (row, dst) in rows.iter().zip(["198.18.0.2", "198.18.0.2", "198.18.0.3"]) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[0], dst, "{row}");
        let vni = f[1].trim_start_matches("0x");
        assert_eq!(u32::from_str_radix(vni, 16).ok(), Some(100), "{row}");
        assert_eq!(f[2], "0x0102", "{row}");
        assert_eq!(f[3], "0x01", "{row}");
        assert_eq!(f[4], "6081", "{row}");
    }
}

#[test]
fn bad_configuration_is_refused_before_dpdk_starts() {
    let dir = scratch("gw-badcfg");
    let cfg = dir.join("bad.yaml");
    std::fs::write(&cfg, "eal: { cores: [1], control_core: 0 }\nports: []\nvtep: { ipv4: 198.18.0.1/24 }\ntunnels:\n  - { name: t, remote: 198.18.0.2, vni: 16777216 }\n").unwrap();
    let r = run_gw(
        &strings(&["run", "-c", cfg.to_str().unwrap()]),
        Duration::from_secs(30),
    );
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("bad.yaml:5"), "{}", r.stderr);
    assert!(r.stderr.contains("vni"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

fn send(pid: u32, sig: &str) {
    assert!(signal(pid, sig), "kill -{sig} {pid}");
}

#[test]
fn reload_under_traffic_loses_nothing_and_a_bad_file_is_refused() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-reload");
    let py = r#"
import sys
from scapy.all import Dot1Q, Ether, IP, UDP, Raw, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01") / Dot1Q(vlan=10)
       / IP(src="198.19.0.1", dst="198.19.0.2") / UDP(sport=1000 + i, dport=5001) / Raw(b"r" * 18) for i in range(64)])
"#;
    run_ok(Command::new("python3").args(["-c", py, dir.join("acc_in.pcap").to_str().unwrap()]));
    let eal = eal_with([
        "net_null0,no-rx=1".to_string(),
        format!(
            "net_pcap0,rx_pcap={},infinite_rx=1",
            dir.join("acc_in.pcap").display()
        ),
    ]);
    let base = |data: &str| {
        eal.clone()
            + &format!(
                r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }}
tunnels:
  - {{ name: b, remote: 198.18.0.2, vni: 100, options: [ {{ class: 0x0102, type: 0x01, data: "{data}" }} ] }}
l2:
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.2]
      static_macs: [ {{ mac: "02:00:00:00:0b:01", remote: 198.18.0.2 }} ]
"#
            )
    };
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, base("00000001")).unwrap();
    let child = Command::new(gw::bin())
        .args(["run", "-c", cfg.to_str().unwrap(), "--stats-interval", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let pid = child.id();
    // Each reload is confirmed before the next file is written: two
    // SIGHUPs while one reload is validated would fold into one.
    let mut err = StderrLines::take(&mut child);
    let wait = Duration::from_secs(30);
    assert!(err.wait_for("running with", wait), "{}", err.text);
    std::thread::sleep(Duration::from_millis(500));
    for i in 2..7 {
        std::fs::write(&cfg, base(&format!("0000000{i}"))).unwrap();
        send(pid, "HUP");
        assert!(err.wait_for("reload: ", wait), "reload {i}: {}", err.text);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(&cfg, "tunnels: [ { name: b, vni: 99999999 } ]\n").unwrap();
    send(pid, "HUP");
    assert!(err.wait_for("reload refused", wait), "{}", err.text);
    std::thread::sleep(Duration::from_millis(200));
    send(pid, "INT");
    let out = child.wait_with_output().unwrap();
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: err.finish(),
    };
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert_eq!(r.stderr.matches("reload: ").count(), 5, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("reload refused").count(),
        1,
        "{}",
        r.stderr
    );
    let (acc_rx, _, _) = r.port(1);
    let (_, ul_tx, ul_dropped) = r.port(0);
    assert!(
        acc_rx > 100_000,
        "too little traffic to prove anything: {}",
        r.stdout
    );
    // Packets in = packets out + counted drops, across six table swaps.
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    assert_eq!(ul_dropped, 0, "{}", r.stdout);
    assert_eq!(acc_rx, ul_tx, "{}", r.stdout);
    assert_eq!(r.value("encap "), acc_rx, "{}", r.stdout);
}

#[test]
fn l3_mode_and_ipv6_underlay_end_to_end_through_pcap() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-l3");
    scapy_in("gateway_l3.py", "build", &dir);
    let tail = r#"
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8:18::1/64
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe" }
    - { via: "2001:db8:18::fe", mac: "02:00:00:00:00:fd" }
tunnels:
  - { name: east, remote: 198.18.10.2, vni: 5001 }
  - { name: west6, remote: "2001:db8:20::2", vni: 5002 }
  - { name: west4, remote: 198.18.20.2, vni: 5003 }
l3:
  access:
    port: acc
    ipv4: 198.19.0.1/24
    ipv6: 2001:db8:19::1/64
    gateway_mac: "02:00:00:00:19:01"
    next_hop_mac: "02:00:00:00:19:99"
  routes:
    - { prefix: 198.19.128.0/17, tunnel: east }
    - { prefix: 198.19.200.0/24, tunnel: west4 }
    - { prefix: "2001:db8:100::/48", tunnel: west6 }
"#;
    let r = run_scenario(
        &dir,
        tail,
        &["--stop-after-packets", "9", "--stop-after-idle", "3000"],
    );
    assert_scapy_ok("gateway_l3.py", &dir, &r);
    assert_eq!(r.drops("no_route"), 1, "{}", r.stdout);
    assert_eq!(r.drops("inner_not_ip"), 1, "{}", r.stdout);
    assert_eq!(r.drops("udp_zero_checksum_ipv6"), 1, "{}", r.stdout);
    assert_eq!(r.value("encap "), 3, "{}", r.stdout);
    assert_eq!(r.value("decap "), 2, "{}", r.stdout);
    assert_eq!(r.value("control replies "), 1, "{}", r.stdout);
}

#[test]
fn every_reachable_drop_reason_lands_on_its_own_counter() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-drops");
    let expected: HashMap<String, u64> =
        serde_json::from_str(&scapy_in("gateway_drops.py", "build", &dir)).expect("JSON counts");
    let total: u64 = expected.values().sum();
    let tail = r#"
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8::1/64
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
options:
  registry:
    - { name: known, class: 0x0105, type: 0x01, length: 4 }
limits:
  max_options: 2
l2:
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.2]
      static_macs:
        - { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 }
        - { mac: "02:00:00:00:0e:01", remote: 198.18.0.9 }
    - { port: acc, vlan: 30, vni: 300, flood: [] }
"#;
    let r = run_scenario(
        &dir,
        tail,
        &[
            "--stop-after-packets",
            &total.to_string(),
            "--stop-after-idle",
            "3000",
        ],
    );
    for (reason, n) in &expected {
        assert_eq!(r.drops(reason), *n, "drop {reason}:\n{}", r.stdout);
    }
    assert_eq!(r.value("drops total "), total, "{}", r.stdout);
    assert_eq!(r.value("encap "), 0, "{}", r.stdout);
    assert_eq!(r.value("decap "), 0, "{}", r.stdout);
}

/// `n` inner IPv4/UDP frames to the access side's MAC 02:00:00:00:0a:01,
/// `len(i)` bytes each, flow `flow0 + i`.
fn inner_frames(n: usize, len: impl Fn(usize) -> usize, flow0: u16) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = common::inner_ipv4_udp(len(i), 0, 64, flow0 + i as u16);
            f[0..6].copy_from_slice(&[2, 0, 0, 0, 0x0a, 1]);
            f
        })
        .collect()
}

/// Each of `inner` Geneve-encapsulated to the gateway's underlay port
/// (198.18.0.2 -> 198.18.0.1, VNI `vni(i)`), the tunnel set by `set(i, c)`
/// first (a checksum, another source).
fn to_gateway(
    inner: &[Vec<u8>],
    vni: impl Fn(usize) -> u32,
    set: impl Fn(usize, &mut geneve_gw::tunnel::TunnelConfig),
) -> Vec<Vec<u8>> {
    use geneve_gw::tunnel::{encap, EncapTemplate, VecBuffer};
    inner
        .iter()
        .enumerate()
        .map(|(i, inner)| {
            let mut c = common::tunnel(false, vni(i));
            c.dst_mac = [2, 0, 0, 0, 1, 1];
            set(i, &mut c);
            let t = EncapTemplate::new(&c).unwrap();
            let mut b = VecBuffer::with_headroom(t.header_len(), inner);
            encap(&t, &mut b, Some(i as u32)).unwrap();
            b.to_vec()
        })
        .collect()
}

/// Frames for the access port's known MAC 02:00:00:00:0b:01: mostly
/// IPv4 (the encap express tier), every seventh of another EtherType (the
/// general tier, still encapsulated); decap input from 198.18.0.2: mostly
/// the express tier's case (zero UDP checksum), every fifth with a computed
/// UDP checksum (the fast tier one by one, still delivered). Bursts mixing
/// the tiers must leave with every frame, in order, byte for byte.
#[test]
fn express_tier_keeps_every_frame_in_order_in_mixed_bursts() {
    use geneve_gw::tunnel::UdpChecksumTx;
    let _slot = dpdk_slot();
    let dir = scratch("gw-express-order");
    const N: usize = 200;
    let access_in: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut f = common::inner_ipv4_udp(60 + i % 41, 0, 64, i as u16);
            f[0..6].copy_from_slice(&[2, 0, 0, 0, 0x0b, 1]);
            if i % 7 == 3 {
                f[12..14].copy_from_slice(&[0x88, 0xb5]);
            }
            f
        })
        .collect();
    let inner_out = inner_frames(N, |i| 64 + i % 37, 1000);
    let underlay_in = to_gateway(
        &inner_out,
        |_| 100,
        |i, c| {
            c.udp_checksum = Some(if i % 5 == 2 {
                UdpChecksumTx::Compute
            } else {
                UdpChecksumTx::Zero
            });
        },
    );
    write_pcap(&dir.join("acc_in.pcap"), &access_in);
    write_pcap(&dir.join("ul_in.pcap"), &underlay_in);
    let tail = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
tunnels:
  - { name: b, remote: 198.18.0.2, vni: 100 }
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, flood: [], static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ] }
"#;
    let r = run_scenario(
        &dir,
        tail,
        &[
            "--stop-after-packets",
            &(2 * N).to_string(),
            "--stop-after-idle",
            "2000",
        ],
    );
    assert_eq!(r.value("encap "), N as u64, "{}", r.stdout);
    assert_eq!(r.value("decap "), N as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    let (_, encapped) = read_pcap(&dir.join("ul_out.pcap"));
    assert_eq!(encapped.len(), N);
    for (i, (out, sent)) in encapped.iter().zip(&access_in).enumerate() {
        // Outer Ethernet, IPv4, UDP and Geneve: 50 bytes before the frame.
        assert_eq!(&out[50..], &sent[..], "encapsulated frame {i}");
        assert_eq!(&out[30..34], &[198, 18, 0, 2], "frame {i}");
    }
    let (_, decapped) = read_pcap(&dir.join("acc_out.pcap"));
    assert_eq!(decapped, inner_out, "decapsulated frames, in order");
}

/// Decapsulated frames of eleven VNIs and two remote VTEPs on one access
/// port, in bursts cut into runs of every length the decap express tier
/// meets: each frame its own run (every frame another VNI, as at many
/// VNIs), runs of three, runs of five between runs of one, and a source
/// change inside a VNI's run. Every frame must leave, in order, byte for
/// byte, and count once.
#[test]
fn decap_runs_of_one_and_many_vnis_leave_in_order() {
    decap_runs_leave_in_order(11, false);
}

/// The same on a gateway of 5,000 VNIs, over which the worker looks each
/// burst's VNIs up ahead of the express tier (a table of at least
/// `AHEAD_MIN_ENTRIES`, 4,096), the frames' VNIs spread over the table.
#[test]
fn decap_runs_leave_in_order_with_the_look_ahead() {
    decap_runs_leave_in_order(5000, false);
}

/// Both again with the odd VNIs on a second access port: the express
/// tier's runs of one port (every frame another port, runs of three of
/// one, runs of five) leave each port in order, nothing on the other.
#[test]
fn decap_runs_leave_each_access_port_in_order() {
    decap_runs_leave_in_order(11, true);
    decap_runs_leave_in_order(5000, true);
}

fn decap_runs_leave_in_order(vnis: usize, two_ports: bool) {
    use geneve_gw::tunnel::UdpChecksumTx;
    let _slot = dpdk_slot();
    let dir = scratch("gw-decap-runs");
    const N: usize = 288;
    let vni_of = |i: usize| -> u32 {
        1000 + match i {
            0..96 => (i * 5) % vnis,
            96..192 => (i / 3 * 7) % vnis,
            _ if i % 8 < 5 => 0,
            _ => (i % 8 * 13) % vnis,
        } as u32
    };
    let inner_out = inner_frames(N, |i| 60 + i % 29, 0);
    let underlay_in = to_gateway(&inner_out, vni_of, |i, c| {
        c.udp_checksum = Some(UdpChecksumTx::Zero);
        if i % 13 == 6 {
            c.src = std::net::Ipv4Addr::new(198, 18, 0, 3).into();
        }
    });
    write_pcap(&dir.join("acc_in.pcap"), &[]);
    write_pcap(&dir.join("ul_in.pcap"), &underlay_in);
    // With two ports, the odd VNIs go to the second.
    let port_of = |vni: u32| if two_ports && vni % 2 == 1 { 1 } else { 0 };
    let decap: String = (1000..1000 + vnis as u32)
        .map(|v| {
            format!(
                "  - {{ vni: {v}, port: {} }}\n",
                ["acc", "acc2"][port_of(v)]
            )
        })
        .collect();
    let mut head = eal_section(&dir);
    if two_ports {
        let acc = &gw::pcap_devices(&dir)[1];
        let acc2 = format!(
            "net_pcap2,rx_pcap={},tx_pcap={}",
            dir.join("acc2_in.pcap").display(),
            dir.join("acc2_out.pcap").display()
        );
        write_pcap(&dir.join("acc2_in.pcap"), &[]);
        let vdev = format!("      - {acc}\n");
        assert!(head.contains(&vdev), "{head}");
        head = head.replace(&vdev, &format!("{vdev}      - {acc2}\n"));
        head += "  - { name: acc2, role: access, device: net_pcap2, mtu: 1400 }\n";
    }
    let tail = format!(
        r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }}
decap:
{decap}"#
    );
    let r = run_scenario_on(
        &dir,
        &head,
        &tail,
        &[
            "--stop-after-packets",
            &N.to_string(),
            "--stop-after-idle",
            "2000",
        ],
    );
    assert_eq!(r.value("decap "), N as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    let ports = if two_ports { 2 } else { 1 };
    for (p, file) in ["acc_out.pcap", "acc2_out.pcap"]
        .iter()
        .take(ports)
        .enumerate()
    {
        let want: Vec<Vec<u8>> = (0..N)
            .filter(|&i| port_of(vni_of(i)) == p)
            .map(|i| inner_out[i].clone())
            .collect();
        assert!(!want.is_empty(), "port {p} gets frames");
        let (_, decapped) = read_pcap(&dir.join(file));
        assert_eq!(decapped.len(), want.len(), "{file}: {}", r.stdout);
        assert_eq!(decapped, want, "{file}: decapsulated frames, in order");
    }
}

/// Segment A (untagged, VNI 100, only from 198.18.0.2) and segment B
/// (VLAN 20, VNI 200) on one access port: inner 802.1Q / 802.1ad tags,
/// stacked access tags and an IP payload on an Ethernet VNI are counted
/// drops, and an O-bit flood from an unlisted VTEP is dropped before the
/// punt, so every ARP request for the VTEP among it is answered.
#[test]
fn tenants_keep_their_tags_payloads_and_control_packets_apart() {
    if !have_scapy() {
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-isolation");
    scapy_in("gateway_isolation.py", "build", &dir);
    let tail = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
    - { via: 198.18.0.3, mac: "02:00:00:00:00:03", destinations: [198.18.0.3/32] }
tunnels:
  - { name: a, remote: 198.18.0.2, vni: 100 }
  - { name: b, remote: 198.18.0.3, vni: 200 }
l2:
  learning: true
  segments:
    - { port: acc, vlan: untagged, vni: 100, flood: [198.18.0.2] }
    - { port: acc, vlan: 20, vni: 200, flood: [198.18.0.3] }
decap:
  - { vni: 100, allow_from: [198.18.0.2] }
"#;
    let r = run_scenario(&dir, tail, &["--stop-after-idle", "2500"]);
    assert_scapy_ok("gateway_isolation.py", &dir, &r);
    // From the scenario: 3 inner-tagged frames, 1 IP payload on VNI 100,
    // 2 stacked access frames, the 20,000-packet O-bit flood.
    assert_eq!(r.drops("inner_vlan_tag"), 3, "{}", r.stdout);
    assert_eq!(r.drops("payload_not_allowed"), 1, "{}", r.stdout);
    assert_eq!(r.drops("access_stacked_tag"), 2, "{}", r.stdout);
    assert_eq!(r.drops("source_vtep_not_allowed"), 20_000, "{}", r.stdout);
    assert_eq!(r.drops("punt_queue_full"), 0, "{}", r.stdout);
    assert_eq!(r.value("control replies "), 200, "{}", r.stdout);
    // The broadcast source MAC: delivered, refused for learning.
    assert_eq!(r.value("learn refused "), 1, "{}", r.stdout);
    assert_eq!(r.value("event queue full "), 0, "{}", r.stdout);
}
