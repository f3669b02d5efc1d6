//! Big tables end to end: a gateway with 100,000 routes reloads a file that
//! changes one of them while traffic to 255 unchanged routes flows; every
//! packet must still leave, to the right tunnel (outer destination and VNI
//! as the configuration says), before and after the reload.
//!
//! The underlay's output goes through a FIFO to a checker reading it as it
//! comes (python, pcap records parsed by hand), so the run needs no disk
//! for millions of packets: a slow reader only slows the worker down (the
//! pcap writes block), it loses nothing.
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::gw::{self, dpdk_slot, Ports, Run};
use common::{have_program, have_scapy, run_ok, scratch, signal, skip, StderrLines};

const ROUTES: u32 = 100_000;
const TUNNELS: u32 = 1000;
/// The first routed address: 198.18.64.0; route i is that plus i, /32.
const FIRST: u32 = 0xc612_4000;
/// The route the reload changes (to tunnel CHANGED_TO): never in the traffic.
const CHANGED: u32 = 5;
const CHANGED_TO: u32 = 7;

fn remote(t: u32) -> String {
    format!("198.18.{}.{}", 1 + t / 250, 1 + t % 250)
}

fn dotted(a: u32) -> String {
    let b = a.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// The tunnels and routes; route `CHANGED` goes to tunnel `changed_to`.
fn tables_yaml(changed_to: u32) -> String {
    let mut y = String::from(
        r#"vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe" }
tunnels:
"#,
    );
    for t in 0..TUNNELS {
        y += &format!(
            "  - {{ name: t{t}, remote: {}, vni: {} }}\n",
            remote(t),
            1000 + t
        );
    }
    y += r#"l3:
  access: { port: acc, ipv4: 198.19.0.1/24, next_hop_mac: "02:00:00:00:00:09" }
  routes:
"#;
    for i in 0..ROUTES {
        let t = if i == CHANGED {
            changed_to
        } else {
            i % TUNNELS
        };
        y += &format!(
            "    - {{ prefix: {}/32, tunnel: t{t} }}\n",
            dotted(FIRST + i)
        );
    }
    y
}

/// Reads pcap records from the FIFO argv[1] until EOF: for each encapsulated
/// packet, the outer IPv4 destination and the Geneve VNI must be those of
/// the inner destination's route (route i: tunnel i % 1000). Prints one
/// JSON line: packets, wrong ones, first and last timestamps.
const CHECKER: &str = r#"
import json, struct, sys
FIRST, TUNNELS = 0xc6124000, 1000
def remote(t): return (198 << 24) | (18 << 16) | ((1 + t // 250) << 8) | (1 + t % 250)
f = open(sys.argv[1], "rb", buffering=1 << 20)
hdr = f.read(24)
magic = struct.unpack("<I", hdr[:4])[0]
div = 1e9 if magic == 0xa1b23c4d else 1e6
n = bad = 0
first = last = None
sample = []
while True:
    rh = f.read(16)
    if len(rh) < 16:
        break
    sec, frac, incl, _ = struct.unpack("<IIII", rh)
    p = f.read(incl)
    ts = sec + frac / div
    first = ts if first is None else first
    last = ts
    n += 1
    ok = len(p) >= 70 and p[12:14] == b"\x08\x00" and p[23] == 17
    if ok:
        outer_dst = struct.unpack(">I", p[30:34])[0]
        vni = struct.unpack(">I", p[46:50])[0] >> 8
        inner_dst = struct.unpack(">I", p[66:70])[0]
        i = inner_dst - FIRST
        t = i % TUNNELS
        ok = 0 <= i < 100000 and outer_dst == remote(t) and vni == 1000 + t
    if not ok:
        bad += 1
        if len(sample) < 5:
            sample.append(p[:70].hex())
print(json.dumps({"packets": n, "bad": bad, "first": first, "last": last, "sample": sample}))
"#;

#[test]
fn reload_changing_one_of_100k_routes_disturbs_no_other_route_under_traffic() {
    if !have_scapy() {
        return;
    }
    if !have_program("mkfifo") {
        skip("reload_changing_one_of_100k_routes: mkfifo is needed");
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("gw-scale-reload");
    // 255 destinations spread over the routes, none the changed one.
    let dests: Vec<String> = (1..256u32)
        .map(|k| dotted(FIRST + (k * 389) % ROUTES))
        .filter(|d| *d != dotted(FIRST + CHANGED))
        .collect();
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
dests = sys.argv[2].split(",")
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:01:02")
       / IP(src="198.19.0.50", dst=d) / UDP(sport=1000 + i, dport=5001) / Raw(b"s" * 18)
       for i, d in enumerate(dests)])
wrpcap(sys.argv[3], [])
"#;
    let acc_in = dir.join("acc_in.pcap");
    let ul_in = dir.join("ul_in.pcap");
    run_ok(Command::new("python3").args([
        "-c",
        py,
        acc_in.to_str().unwrap(),
        &dests.join(","),
        ul_in.to_str().unwrap(),
    ]));
    let fifo = dir.join("ul_out.fifo");
    run_ok(Command::new("mkfifo").arg(&fifo));
    let checker = Command::new("python3")
        .args(["-c", CHECKER, fifo.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let prefix = format!("gwtest-{}-scale", std::process::id());
    let ports = Ports::new(
        &format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            ul_in.display(),
            fifo.display()
        ),
        &format!("net_pcap1,rx_pcap={},infinite_rx=1", acc_in.display()),
        &prefix,
    )
    .yaml();
    let cfg = dir.join("gw.yaml");
    std::fs::write(&cfg, ports.clone() + &tables_yaml(CHANGED % TUNNELS)).unwrap();
    let mut child = Command::new(gw::bin())
        .args(["run", "-c", cfg.to_str().unwrap(), "--stats-interval", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut err = StderrLines::take(&mut child);
    let wait = Duration::from_secs(60);
    assert!(err.wait_for("running with", wait), "{}", err.text);
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&cfg, ports + &tables_yaml(CHANGED_TO)).unwrap();
    signal(pid, "HUP");
    assert!(err.wait_for("reload: ", wait), "{}", err.text);
    let reloaded = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    signal(pid, "INT");
    let out = child.wait_with_output().unwrap();
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: err.finish(),
    };
    let verdict = checker.wait_with_output().unwrap();
    let verdict = String::from_utf8_lossy(&verdict.stdout).into_owned();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    // The reload changed one route and nothing else.
    assert!(
        r.stderr.contains("routes +0 -0 ~1") && r.stderr.contains(" 1 table changes"),
        "{}",
        r.stderr
    );
    // Nothing lost: every packet the access port took left encapsulated.
    let (acc_rx, _, _) = r.port(1);
    let (_, ul_tx, ul_dropped) = r.port(0);
    assert!(acc_rx > 0, "{}", r.stdout);
    assert_eq!(r.value("drops total"), 0, "{}", r.stdout);
    assert_eq!(r.value("encap"), acc_rx, "{}", r.stdout);
    assert_eq!((ul_tx, ul_dropped), (acc_rx, 0), "{}", r.stdout);
    // Nothing misdelivered, and traffic flowed on both sides of the reload.
    let v: serde_json::Value = serde_json::from_str(verdict.trim()).expect(&verdict);
    assert_eq!(v["packets"].as_u64(), Some(ul_tx), "{verdict}");
    assert_eq!(v["bad"].as_u64(), Some(0), "{verdict}");
    let (first, last) = (v["first"].as_f64().unwrap(), v["last"].as_f64().unwrap());
    assert!(
        first < reloaded && reloaded < last,
        "traffic {first}..{last}, reload at {reloaded}"
    );
}
