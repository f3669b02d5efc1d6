//! The gateway with several workers on this two-CPU machine: EAL `--lcores`
//! maps three or four lcores (control + 2 or 3 workers) onto CPUs 0 and 1.
//! Correctness, not speed.
//!
//! The multi-queue virtual device is `net_pcap` with one `rx_pcap` and one
//! `tx_pcap` per queue: each RX queue replays its own file, so which worker
//! sees which packet is fixed by the test (worker q polls queue q of every
//! port), and each TX queue writes its own file, so per-queue order is
//! visible. (net_null generates nothing to check, net_ring needs a second
//! process to feed it, net_memif needs a peer.) scapy builds every input;
//! the checks read raw bytes against RFC 8926 and the configuration.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::gw::{self, dpdk_slot, run_gw, strings, Ports, Run};
use common::{have_scapy, read_pcap, run_ok, scratch, signal, skip, StderrLines};

/// How long a test waits for one line of the gateway on stderr.
const LINE_WAIT: Duration = Duration::from_secs(30);

/// The gateway configuration after the EAL/ports section.
const TAIL: &str = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
tunnels:
  - { name: b, remote: 198.18.0.2, vni: 100 }
l2:
  learning: true
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.2]
      static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ]
"#;

/// Builds, for `n` queues, `acc_in_Q.pcap` (access frames: 4 flows of 25 to
/// the static MAC, interleaved, plus 3 frames on unknown VLAN 99) and
/// `ul_in_Q.pcap` (Geneve from 198.18.0.2, VNI 100: 2 flows of 20, each
/// flow from its own inner source MAC). Every frame ends in a marker:
/// b"FL", flow (2 bytes), sequence number (4 bytes).
const BUILD: &str = r#"
import sys, struct
from scapy.all import Dot1Q, Ether, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
d, n = sys.argv[1], int(sys.argv[2])
mark = lambda f, s: Raw(b"p" * 20 + b"FL" + struct.pack(">HI", f, s))
for q in range(n):
    acc = []
    for s in range(25):
        for k in range(4):
            f = q * 10 + k
            acc.append(Ether(src="02:00:00:00:0a:%02x" % f, dst="02:00:00:00:0b:01") / Dot1Q(vlan=10)
                       / IP(src="198.19.0.%d" % (f + 1), dst="198.19.1.1") / UDP(sport=1000 + f, dport=5001) / mark(f, s))
    for s in range(3):
        acc.append(Ether(src="02:00:00:00:0a:ff", dst="02:00:00:00:0b:01") / Dot1Q(vlan=99)
                   / IP(src="198.19.0.250", dst="198.19.1.1") / UDP(sport=999, dport=5001) / mark(999, s))
    wrpcap("%s/acc_in_%d.pcap" % (d, q), acc)
    ul = []
    for s in range(20):
        for k in range(2):
            f = 100 + q * 10 + k
            inner = (Ether(src="02:00:00:00:0c:%02x" % f, dst="02:00:00:00:0a:01")
                     / IP(src="198.19.1.1", dst="198.19.0.1") / UDP(sport=2000 + f, dport=5002) / mark(f, s))
            ul.append(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:01:01")
                      / IP(src="198.18.0.2", dst="198.18.0.1", ttl=64) / UDP(sport=50000 + f, dport=6081)
                      / GENEVE(vni=100, proto=0x6558) / inner)
    wrpcap("%s/ul_in_%d.pcap" % (d, q), ul)
"#;

/// (flow, sequence) of a frame's trailing marker.
fn marker(frame: &[u8]) -> Option<(u16, u32)> {
    let m = frame.get(frame.len().checked_sub(8)?..)?;
    (&m[..2] == b"FL").then(|| {
        (
            u16::from_be_bytes([m[2], m[3]]),
            u32::from_be_bytes([m[4], m[5], m[6], m[7]]),
        )
    })
}

/// The markers of every frame of every file, by file; each flow's sequence
/// numbers must rise within its file and the flow must stay in one file.
fn flows_in_order(files: &[Vec<Vec<u8>>]) -> BTreeSet<(u16, u32)> {
    let mut seen = BTreeSet::new();
    let mut home: BTreeMap<u16, usize> = BTreeMap::new();
    for (q, frames) in files.iter().enumerate() {
        let mut last: BTreeMap<u16, u32> = BTreeMap::new();
        for f in frames {
            let (flow, seq) = marker(f).unwrap_or_else(|| panic!("no marker in {f:02x?}"));
            assert_eq!(
                *home.entry(flow).or_insert(q),
                q,
                "flow {flow} on two TX queues"
            );
            if let Some(prev) = last.insert(flow, seq) {
                assert!(seq > prev, "flow {flow}: {seq} after {prev} on queue {q}");
            }
            assert!(seen.insert((flow, seq)), "flow {flow} seq {seq} twice");
        }
    }
    seen
}

/// The `worker W: rx .. tx .. ...` lines of the exit report, as maps.
fn worker_lines(r: &Run) -> Vec<BTreeMap<String, u64>> {
    r.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("worker "))
        .map(|l| {
            let (_, rest) = l.split_once(": ").unwrap();
            let w: Vec<&str> = rest.split(' ').collect();
            let mut m = BTreeMap::new();
            let mut i = 0;
            while i < w.len() {
                // "tx dropped N" is the one two-word key.
                if w[i] == "tx" && w.get(i + 1) == Some(&"dropped") {
                    m.insert("tx dropped".into(), w[i + 2].parse().unwrap());
                    i += 3;
                } else {
                    m.insert(w[i].to_string(), w[i + 1].parse().unwrap());
                    i += 2;
                }
            }
            m
        })
        .collect()
}

/// Control on lcore 0 (CPU 0), workers 1..=n alternating over CPUs 1 and 0.
fn lcores(n: usize) -> String {
    let mut s = String::from("0@0");
    for w in 1..=n {
        s += &format!(",{w}@{}", w % 2);
    }
    s
}

fn multi_queue(name: &str, dir: &Path, rx: &str, tx: &str, n: usize) -> String {
    let mut s = name.to_string();
    for q in 0..n {
        s += &format!(",rx_pcap={}/{rx}_{q}.pcap", dir.display());
    }
    for q in 0..n {
        s += &format!(",tx_pcap={}/{tx}_{q}.pcap", dir.display());
    }
    s
}

fn every_packet_in_order_with_workers(n: usize) {
    if !have_scapy() {
        skip("e2e_workers: scapy builds the input (apt-get install python3-scapy)");
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch(&format!("workers-{n}"));
    run_ok(Command::new("python3").args(["-c", BUILD, dir.to_str().unwrap(), &n.to_string()]));
    let prefix = format!("gwtest-{}-w{n}", std::process::id());
    let ul = multi_queue("net_pcap0", &dir, "ul_in", "ul_out", n);
    let acc = multi_queue("net_pcap1", &dir, "acc_in", "acc_out", n);
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, Ports::new(&ul, &acc, &prefix).yaml() + TAIL).unwrap();
    let r = run_gw(
        &strings(&[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--stop-after-idle",
            "1500",
            "--",
            "--lcores",
            &lcores(n),
        ]),
        Duration::from_secs(60),
    );
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert!(
        r.stderr.contains(&format!("running with {n} worker(s)")),
        "{}",
        r.stderr
    );

    let read = |stem: &str| -> Vec<Vec<Vec<u8>>> {
        (0..n)
            .map(|q| read_pcap(&dir.join(format!("{stem}_{q}.pcap"))).1)
            .collect()
    };
    let (acc_in, ul_in, ul_out, acc_out) = (
        read("acc_in"),
        read("ul_in"),
        read("ul_out"),
        read("acc_out"),
    );
    let markers = |files: &[Vec<Vec<u8>>], keep: &dyn Fn(u16) -> bool| -> BTreeSet<(u16, u32)> {
        files
            .iter()
            .flatten()
            .filter_map(|f| marker(f))
            .filter(|m| keep(m.0))
            .collect()
    };
    // Every access frame on VLAN 10 comes out encapsulated, once, in flow
    // order; every Geneve packet comes out decapsulated, once, in flow order.
    let want_encap = markers(&acc_in, &|f| f != 999);
    let want_decap = markers(&ul_in, &|_| true);
    assert_eq!(flows_in_order(&ul_out), want_encap);
    assert_eq!(flows_in_order(&acc_out), want_decap);
    // Outer headers as configured (RFC 8926 section 3): IPv4 to the tunnel
    // remote, UDP 6081, Geneve version 0, VNI 100.
    for f in ul_out.iter().flatten() {
        assert_eq!(f[12..14], [0x08, 0x00]);
        assert_eq!(f[30..34], [198, 18, 0, 2]);
        assert_eq!(f[36..38], 6081u16.to_be_bytes());
        assert_eq!(f[42] >> 6, 0);
        assert_eq!(f[46..49], [0, 0, 100]);
    }
    // Decapsulated frames leave on the segment's VLAN.
    for f in acc_out.iter().flatten() {
        assert_eq!(f[12..14], [0x81, 0x00]);
        assert_eq!(u16::from_be_bytes([f[14], f[15]]) & 0x0fff, 10);
    }

    // The report: in = out + counted drops, per port and in total.
    let acc_total: u64 = acc_in.iter().map(|q| q.len() as u64).sum();
    let ul_total: u64 = ul_in.iter().map(|q| q.len() as u64).sum();
    let dropped = acc_total - want_encap.len() as u64;
    assert_eq!(r.port(1).0, acc_total, "{}", r.stdout);
    assert_eq!(r.port(0).0, ul_total, "{}", r.stdout);
    assert_eq!(r.port(0).1, want_encap.len() as u64, "{}", r.stdout);
    assert_eq!(r.port(1).1, want_decap.len() as u64, "{}", r.stdout);
    assert_eq!(r.value("encap "), want_encap.len() as u64, "{}", r.stdout);
    assert_eq!(r.value("decap "), want_decap.len() as u64, "{}", r.stdout);
    assert_eq!(r.value("drops total "), dropped, "{}", r.stdout);
    // Learned MACs merged from all workers: one per inner source MAC.
    let inner_srcs: BTreeSet<u16> = want_decap.iter().map(|m| m.0).collect();
    assert_eq!(
        r.value("learned macs "),
        inner_srcs.len() as u64,
        "{}",
        r.stdout
    );

    // Per worker: worker q polls queue q of both ports, and the workers'
    // lines add up to the totals.
    let w = worker_lines(&r);
    assert_eq!(w.len(), n, "{}", r.stdout);
    for (q, c) in w.iter().enumerate() {
        assert_eq!(
            c["rx"],
            (acc_in[q].len() + ul_in[q].len()) as u64,
            "worker {q}: {}",
            r.stdout
        );
        assert!(
            c["encap"] > 0 && c["decap"] > 0,
            "worker {q} idle: {}",
            r.stdout
        );
    }
    let sum = |k: &str| w.iter().map(|c| c[k]).sum::<u64>();
    assert_eq!(sum("rx"), acc_total + ul_total);
    assert_eq!(sum("tx"), r.port(0).1 + r.port(1).1);
    assert_eq!(sum("encap"), r.value("encap "));
    assert_eq!(sum("decap"), r.value("decap "));
    assert_eq!(sum("drops"), r.value("drops total "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_workers_on_two_cpus_account_for_every_packet_in_flow_order() {
    every_packet_in_order_with_workers(2);
}

#[test]
fn three_workers_on_two_cpus_account_for_every_packet_in_flow_order() {
    every_packet_in_order_with_workers(3);
}

/// Three workers under endless traffic (every queue replays its file
/// forever), three reloads: nothing lost across the table swaps, every
/// worker forwarded, and the workers' lines add up to the totals.
#[test]
fn reload_under_traffic_with_three_workers_loses_nothing() {
    if !have_scapy() {
        skip("e2e_workers: scapy builds the input (apt-get install python3-scapy)");
        return;
    }
    let n = 3;
    let _slot = dpdk_slot();
    let dir = scratch("workers-reload");
    run_ok(Command::new("python3").args(["-c", BUILD, dir.to_str().unwrap(), &n.to_string()]));
    // Only VLAN 10 frames: every one is encapsulated.
    let py = r#"
import sys
from scapy.all import rdpcap, wrpcap, Dot1Q
for q in range(int(sys.argv[2])):
    p = "%s/acc_in_%d.pcap" % (sys.argv[1], q)
    wrpcap(p, [f for f in rdpcap(p) if f[Dot1Q].vlan == 10])
"#;
    run_ok(Command::new("python3").args(["-c", py, dir.to_str().unwrap(), &n.to_string()]));
    let prefix = format!("gwtest-{}-wr", std::process::id());
    let mut acc = String::from("net_pcap1");
    for q in 0..n {
        acc += &format!(",rx_pcap={}/acc_in_{q}.pcap", dir.display());
    }
    acc += ",infinite_rx=1";
    let eal = Ports::new("net_null0,no-rx=1", &acc, &prefix).yaml();
    let cfg = dir.join("gw.yaml");
    // Each reload gives the tunnel a new option value: a new template.
    let write = |v: u8| {
        let tail = TAIL.replace(
            "vni: 100 }\nl2",
            &format!(
                "vni: 100, options: [ {{ class: 0x0102, type: 0x01, data: \"000000{v:02x}\" }} ] }}\nl2"
            ),
        );
        assert_ne!(tail, TAIL);
        std::fs::write(&cfg, eal.clone() + &tail).unwrap()
    };
    write(1);
    let child = Command::new(gw::bin())
        .args([
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--stats-interval",
            "0",
            "--",
            "--lcores",
            &lcores(n),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let pid = child.id();
    // Each reload is confirmed before the next file is written, so two
    // SIGHUPs never fold into one on a busy machine.
    let mut err = StderrLines::take(&mut child);
    assert!(err.wait_for("running with", LINE_WAIT), "{}", err.text);
    std::thread::sleep(Duration::from_millis(500));
    for v in [2, 3, 4] {
        write(v);
        assert!(signal(pid, "HUP"));
        assert!(
            err.wait_for("reload: ", LINE_WAIT),
            "reload {v}: {}",
            err.text
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(signal(pid, "INT"));
    let out = child.wait_with_output().unwrap();
    let stderr = err.finish();
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert_eq!(r.stderr.matches("reload: ").count(), 3, "{}", r.stderr);
    let (acc_rx, _, _) = r.port(1);
    let (_, ul_tx, ul_dropped) = r.port(0);
    assert!(acc_rx > 10_000, "too little traffic: {}", r.stdout);
    assert_eq!(r.value("drops total "), 0, "{}", r.stdout);
    assert_eq!(ul_dropped, 0, "{}", r.stdout);
    assert_eq!(acc_rx, ul_tx, "{}", r.stdout);
    let w = worker_lines(&r);
    assert_eq!(w.len(), n, "{}", r.stdout);
    for (q, c) in w.iter().enumerate() {
        assert!(c["rx"] > 0, "worker {q} got nothing: {}", r.stdout);
        assert_eq!(c["rx"], c["encap"], "worker {q}: {}", r.stdout);
    }
    assert_eq!(w.iter().map(|c| c["rx"]).sum::<u64>(), acc_rx);
    assert_eq!(w.iter().map(|c| c["tx"]).sum::<u64>(), ul_tx);
}
