//! Per-tunnel and per-VNI counters of a running gateway: known numbers of
//! packets (built by scapy) to and from two tunnels, read back over DPDK
//! telemetry (`/geneve_gw/tunnel,<name>`, `/geneve_gw/vni,<n>`) and, for
//! the one tunnel `metrics.top_tunnels: 1` chooses, over Prometheus; and
//! stitched frames (VXLAN <-> Geneve) counted decapsulated under the
//! tunnel and VNI they came from, encapsulated under the tunnel they left
//! by, on the stitch express tier and on the one-by-one path.
mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, dpdk_slot, runtime_dir, strings, Ports};
use common::{have_scapy, json, read_pcap, scapy, scratch, signal, skip, wait_exit};
use geneve_gw::control::stats_client::Telemetry;
use serde_json::Value;

/// Stops (SIGINT) and reaps the gateway however the test ends.
struct Gateway(Option<Child>, String);

impl Gateway {
    /// Writes `cfg` to DIR/gw.yaml and runs the gateway on it (EAL file
    /// prefix `prefix`, whose runtime directory goes with it).
    fn start(dir: &Path, cfg: &str, prefix: &str) -> Gateway {
        let path = dir.join("gw.yaml");
        std::fs::write(&path, cfg).unwrap();
        let child = Command::new(gw::bin())
            .args(["run", "-c", path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Gateway(Some(child), prefix.to_string())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            signal(c.id(), "INT");
            if wait_exit(&mut c, Duration::from_secs(20)).is_none() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(runtime_dir(&self.1));
    }
}

fn free_loopback_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}

/// Queries `cmds` until `done` holds for every reply, 60 s at most.
fn query_until(
    prefix: &str,
    g: &mut Gateway,
    cmds: &[String],
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let path = runtime_dir(prefix).join("dpdk_telemetry.v2");
    let start = Instant::now();
    let mut last = Vec::new();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(Ok(Some(st))) = g.0.as_mut().map(|c| c.try_wait()) {
            let out = g.0.take().unwrap().wait_with_output().unwrap();
            panic!(
                "the gateway exited early ({st}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if let Ok(mut t) = Telemetry::connect(&path) {
            let replies: Result<Vec<Value>, String> = cmds.iter().map(|c| t.query(c)).collect();
            if let Ok(r) = replies {
                if done(&r) {
                    return r;
                }
                last = r;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the counters never reached the expected values; last replies: {last:?}");
}

#[test]
fn two_tunnels_count_their_own_packets_and_bytes() {
    if !have_scapy() {
        return skip("two_tunnels_count_their_own_packets_and_bytes: needs python3 with scapy");
    }
    two_tunnels_count(0);
}

/// The same with 4,096 more decap VNIs (no traffic to them): a table the
/// worker looks up ahead of the decap express tier, which then counts
/// each packet from its own loop.
#[test]
fn two_tunnels_count_their_own_packets_and_bytes_with_the_look_ahead() {
    if !have_scapy() {
        return skip("two_tunnels_count_their_own_packets_and_bytes_with_the_look_ahead: needs python3 with scapy");
    }
    two_tunnels_count(4096);
}

/// `filler`: decap VNIs 10,000 on that no packet is for.
fn two_tunnels_count(filler: u32) {
    let _slot = dpdk_slot();
    let dir = scratch("entry-counters");
    let want = json(&scapy(
        "entry_counters.py",
        ["build", dir.to_str().unwrap()],
    ));
    let prefix = format!("gwtest-entries-{}", std::process::id());
    let ul = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        dir.join("ul_in.pcap").display(),
        dir.join("ul_out.pcap").display()
    );
    let acc = format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        dir.join("acc_in.pcap").display(),
        dir.join("acc_out.pcap").display()
    );
    let prom = free_loopback_port();
    let cfg = Ports::new(&ul, &acc, &prefix).yaml()
        + &format!(
            r#"vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }}
    - {{ via: 198.18.0.3, mac: "02:00:00:00:00:03", destinations: [198.18.0.3/32] }}
tunnels:
  - {{ name: t1, remote: 198.18.0.2, vni: 100 }}
  - {{ name: t2, remote: 198.18.0.3, vni: 200 }}
l2:
  learning: false
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: []
      static_macs: [ {{ mac: "02:11:00:00:00:01", remote: 198.18.0.2 }} ]
    - port: acc
      vni: 200
      flood: []
      static_macs: [ {{ mac: "02:22:00:00:00:02", remote: 198.18.0.3 }} ]
decap:
  - {{ vni: 100, port: acc, vlan: 10, allow_from: [198.18.0.2] }}
  - {{ vni: 200, port: acc }}
{filler}metrics: {{ prometheus: "{prom}", top_tunnels: 1 }}
"#,
            filler = (10_000..10_000 + filler)
                .map(|v| format!("  - {{ vni: {v}, port: acc }}\n"))
                .collect::<String>()
        );
    let mut g = Gateway::start(&dir, &cfg, &prefix);

    let cmds = strings(&[
        "/geneve_gw/tunnel,t1",
        "/geneve_gw/tunnel,t2",
        "/geneve_gw/vni,100",
        "/geneve_gw/vni,200",
        "/geneve_gw/tunnel,nope",
        "/geneve_gw/vni,300",
        "/geneve_gw/counters",
    ]);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let r = query_until(&prefix, &mut g, &cmds, |r| {
        n(&r[6], "encap") == want["encapped"].as_u64().unwrap()
            && n(&r[6], "decap") == want["delivered"].as_u64().unwrap()
            && n(&r[2], "drops") == want["vnis"]["100"]["drops"].as_u64().unwrap()
    });
    // Exactly what scapy built for each tunnel and VNI, nothing of the
    // other's, nothing of the frames that reached no tunnel.
    for (i, t) in ["t1", "t2"].iter().enumerate() {
        let w = &want["tunnels"][*t];
        for k in [
            "encap_packets",
            "encap_bytes",
            "decap_packets",
            "decap_bytes",
        ] {
            assert_eq!(n(&r[i], k), w[k].as_u64().unwrap(), "{t} {k}: {}", r[i]);
        }
        assert_eq!(n(&r[i], "encap_drops"), 0, "{t}: {}", r[i]);
        assert_eq!(r[i]["name"], *t);
    }
    for (i, v) in ["100", "200"].iter().enumerate() {
        let w = &want["vnis"][*v];
        for k in ["packets", "bytes", "drops"] {
            assert_eq!(
                n(&r[2 + i], k),
                w[k].as_u64().unwrap(),
                "VNI {v} {k}: {}",
                r[2 + i]
            );
        }
    }
    // No such tunnel, no such decap VNI: an error (null), not zeros.
    assert!(r[4].is_null(), "{}", r[4]);
    assert!(r[5].is_null(), "{}", r[5]);
    // Prometheus: the busiest tunnel only (t2), its series as telemetry says.
    let mut body = String::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        body = http_get(&prom, "/metrics");
        if body.contains("geneve_gw_per_tunnel_packets_total{tunnel=\"t2\",direction=\"decap\"} 40")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let t2 = &want["tunnels"]["t2"];
    for (series, v) in [
        (
            "geneve_gw_per_tunnel_packets_total{tunnel=\"t2\",direction=\"encap\"}",
            &t2["encap_packets"],
        ),
        (
            "geneve_gw_per_tunnel_packets_total{tunnel=\"t2\",direction=\"decap\"}",
            &t2["decap_packets"],
        ),
        (
            "geneve_gw_per_tunnel_bytes_total{tunnel=\"t2\",direction=\"encap\"}",
            &t2["encap_bytes"],
        ),
        (
            "geneve_gw_per_tunnel_bytes_total{tunnel=\"t2\",direction=\"decap\"}",
            &t2["decap_bytes"],
        ),
    ] {
        let line = format!("{series} {}", v.as_u64().unwrap());
        assert!(
            body.lines().any(|l| l == line),
            "missing {line} in:\n{body}"
        );
    }
    assert!(
        !body.contains("tunnel=\"t1\""),
        "only the top tunnel:\n{body}"
    );
    // `geneve-gw stats --tunnel --vni --top`: the same numbers from the
    // command line, the top list busiest first.
    let stats = |args: &[&str]| {
        Command::new(gw::bin())
            .args(["stats", "--file-prefix", &prefix])
            .args(args)
            .output()
            .unwrap()
    };
    let o = stats(&["--tunnel", "t1", "--vni", "100", "--top", "2", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t1 = &want["tunnels"]["t1"];
    for k in [
        "encap_packets",
        "encap_bytes",
        "decap_packets",
        "decap_bytes",
    ] {
        assert_eq!(j["/geneve_gw/tunnel"][k], t1[k], "t1 {k}: {j}");
    }
    for k in ["packets", "bytes", "drops"] {
        assert_eq!(
            j["/geneve_gw/vni"][k], want["vnis"]["100"][k],
            "VNI 100 {k}: {j}"
        );
    }
    let traffic =
        |t: &Value| t["encap_packets"].as_u64().unwrap() + t["decap_packets"].as_u64().unwrap();
    let (first, second) = if traffic(&want["tunnels"]["t2"]) >= traffic(t1) {
        ("t2", "t1")
    } else {
        ("t1", "t2")
    };
    let top = &j["/geneve_gw/top_tunnels"];
    assert_eq!(
        (top["t0_name"].as_str(), top["t1_name"].as_str()),
        (Some(first), Some(second)),
        "{top}"
    );
    assert_eq!(
        top["t0_encap_packets"], want["tunnels"][first]["encap_packets"],
        "{top}"
    );
    let o = stats(&["--tunnel", "t2"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let t2 = &want["tunnels"]["t2"];
    let row = format!(
        "t2 {} {} 0 {} {}",
        t2["encap_packets"], t2["encap_bytes"], t2["decap_packets"], t2["decap_bytes"]
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == row),
        "no `{row}` in:\n{text}"
    );
    let o = stats(&["--tunnel", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("tunnel `nope`: no counters"));
}

/// The stitch tests' gateway: scapy's `ul_in.pcap` in on the underlay
/// (what left in `ul_out.pcap`), an empty access side, the Geneve tunnel
/// `ovn` (its entry ending with `ovn_extra`) and the VXLAN tunnel `tor`
/// stitched in one segment, learning and per-entry counters as given.
fn stitch_config(
    dir: &Path,
    prefix: &str,
    ovn_extra: &str,
    learning: bool,
    counters: bool,
) -> String {
    let pcap = |n: u8, rx: &str, tx: &str| {
        format!(
            "net_pcap{n},rx_pcap={},tx_pcap={}",
            dir.join(rx).display(),
            dir.join(tx).display()
        )
    };
    let ul = pcap(0, "ul_in.pcap", "ul_out.pcap");
    let acc = pcap(1, "acc_in.pcap", "acc_out.pcap");
    Ports::new(&ul, &acc, prefix).yaml()
        + &format!(
            r#"vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
  next_hops:
    - {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32, 198.18.0.3/32] }}
tunnels:
  - {{ name: ovn, remote: 198.18.0.2, vni: 1000, mesh: overlay{ovn_extra} }}
  - {{ name: tor, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan, mesh: fabric }}
l2:
  learning: {learning}
  segments:
    - {{ port: acc, vni: 1000, vxlan_vni: 5000, flood: [],
        static_macs: [ {{ mac: "02:00:00:00:0b:02", remote: 198.18.0.2 }},
                       {{ mac: "02:00:00:00:0b:03", remote: 198.18.0.3 }} ] }}
metrics: {{ entry_counters: {counters} }}
"#
        )
}

/// What the stitch tests read over telemetry, in this order: the two
/// tunnels, the segment's VNI, the global counters.
const STITCH_QUERIES: [&str; 4] = [
    "/geneve_gw/tunnel,ovn",
    "/geneve_gw/tunnel,tor",
    "/geneve_gw/vni,1000",
    "/geneve_gw/counters",
];

/// Frames of each direction of the stitch test.
const STITCH_N: usize = 40;

/// VXLAN from `tor` for a MAC behind `ovn` and Geneve from `ovn` for a MAC
/// behind `tor` (scapy), through a gateway stitching the two (learning
/// off: the stitch express tier; on: the one-by-one path). Each tunnel
/// counts what it sent as decapsulated (inner frames: the frame less the
/// 50 bytes of outer Ethernet, IPv4, UDP and the 8-byte VXLAN (RFC 7348)
/// or option-less Geneve (RFC 8926) header) and what it was sent as
/// encapsulated (the same inner frames plus 50 bytes: neither side adds
/// options here); the segment's VNI 1000 counts both directions. With
/// `metrics.entry_counters: false` (`counters` false) the same frames go
/// through, counted only globally: every per-entry query (and `geneve-gw
/// stats --tunnel/--vni/--top`) answers with an error saying so.
fn stitched_frames_count_under_both_tunnels(learning: bool, counters: bool) {
    let _slot = dpdk_slot();
    let dir = scratch(&format!("entry-counters-stitch-{learning}"));
    scapy(
        "vxlan_oracle.py",
        ["stitch", dir.to_str().unwrap(), &STITCH_N.to_string()],
    );
    let (_, sent) = read_pcap(&dir.join("ul_in.pcap"));
    assert_eq!(sent.len(), 2 * STITCH_N);
    let inner = |frames: &[Vec<u8>]| -> u64 { frames.iter().map(|f| f.len() as u64 - 50).sum() };
    // The first half VXLAN from tor, the second Geneve from ovn.
    let (from_tor, from_ovn) = (inner(&sent[..STITCH_N]), inner(&sent[STITCH_N..]));
    let prefix = format!(
        "gwtest-entries-st{}{}-{}",
        u8::from(learning),
        u8::from(counters),
        std::process::id()
    );
    let cfg = stitch_config(&dir, &prefix, "", learning, counters);
    let mut g = Gateway::start(&dir, &cfg, &prefix);
    let cmds = strings(&STITCH_QUERIES);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let stitched = 2 * STITCH_N as u64;
    if !counters {
        let r = query_until(&prefix, &mut g, &cmds, |r| n(&r[3], "encap") == stitched);
        assert_eq!(n(&r[3], "stitched"), stitched, "{}", r[3]);
        // Each per-entry command says why it has no counters, rather than
        // answering null as for an unknown name.
        let off =
            "per-entry counters are off: metrics.entry_counters is false in the configuration";
        let top = query_until(
            &prefix,
            &mut g,
            &["/geneve_gw/top_tunnels,5".to_string()],
            |_| true,
        );
        for v in r[..3].iter().chain(&top) {
            assert_eq!(v["error"], off, "{v}");
            assert!(
                v.get("encap_packets").is_none() && v.get("packets").is_none(),
                "{v}"
            );
        }
        // `geneve-gw stats --tunnel/--vni/--top` fail with that text.
        for args in [["--tunnel", "ovn"], ["--vni", "1000"], ["--top", "3"]] {
            let o = Command::new(gw::bin())
                .args(["stats", "--file-prefix", &prefix])
                .args(args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                !o.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
            assert!(err.contains(off), "{args:?}: {err}");
        }
        return;
    }
    let r = query_until(&prefix, &mut g, &cmds, |r| {
        n(&r[3], "encap") == stitched
            && n(&r[0], "decap_packets") + n(&r[1], "decap_packets") >= stitched
    });
    assert_eq!(n(&r[3], "decap"), 0, "{}", r[3]);
    let half = STITCH_N as u64;
    for (i, name, decap_bytes, encap_bytes) in [
        (0, "ovn", from_ovn, from_tor + 50 * half),
        (1, "tor", from_tor, from_ovn + 50 * half),
    ] {
        let t = &r[i];
        assert_eq!(n(t, "decap_packets"), half, "{name}: {t}");
        assert_eq!(n(t, "decap_bytes"), decap_bytes, "{name}: {t}");
        assert_eq!(n(t, "encap_packets"), half, "{name}: {t}");
        assert_eq!(n(t, "encap_bytes"), encap_bytes, "{name}: {t}");
        assert_eq!(n(t, "encap_drops"), 0, "{name}: {t}");
    }
    assert_eq!(n(&r[2], "packets"), stitched, "{}", r[2]);
    assert_eq!(n(&r[2], "bytes"), from_tor + from_ovn, "{}", r[2]);
    assert_eq!(n(&r[2], "drops"), 0, "{}", r[2]);
}

#[test]
fn stitched_frames_count_on_the_stitch_express_tier() {
    if !have_scapy() {
        return skip("stitched_frames_count_on_the_stitch_express_tier: needs python3 with scapy");
    }
    stitched_frames_count_under_both_tunnels(false, true);
}

#[test]
fn stitched_frames_count_only_globally_with_entry_counters_off() {
    if !have_scapy() {
        return skip(
            "stitched_frames_count_only_globally_with_entry_counters_off: needs python3 with scapy",
        );
    }
    stitched_frames_count_under_both_tunnels(false, false);
}

#[test]
fn stitched_frames_count_one_by_one_with_learning() {
    if !have_scapy() {
        return skip("stitched_frames_count_one_by_one_with_learning: needs python3 with scapy");
    }
    stitched_frames_count_under_both_tunnels(true, true);
}

/// VXLAN frames from `tor` whose inner TCP frames fill the 1500-byte
/// underlay MTU (scapy), stitched into `ovn`, whose Geneve header carries
/// an 8-byte option: 8 bytes too big for it, so each leaves as TCP
/// segments (the general path, software segmentation on net_pcap). Each
/// frame counts once, as stitched and as encapsulated, and decapsulated
/// under `tor` and the segment's VNI (the frame less its 50 bytes of
/// outer headers); `ovn` counts every segment that left, exactly as the
/// underlay's output pcap holds them. Nothing is dropped.
#[test]
fn stitched_frames_left_in_segments_count_under_both_tunnels() {
    if !have_scapy() {
        return skip(
            "stitched_frames_left_in_segments_count_under_both_tunnels: needs python3 with scapy",
        );
    }
    const M: usize = 20;
    let _slot = dpdk_slot();
    let dir = scratch("entry-counters-stitch-segmented");
    scapy(
        "vxlan_oracle.py",
        ["stitch-big", dir.to_str().unwrap(), &M.to_string()],
    );
    let (_, sent) = read_pcap(&dir.join("ul_in.pcap"));
    assert_eq!(sent.len(), M);
    let from_tor: u64 = sent.iter().map(|f| f.len() as u64 - 50).sum();
    let prefix = format!("gwtest-entries-stseg-{}", std::process::id());
    // The Geneve tunnel sends one 4-byte option: 8 bytes of header more.
    let option = r#", options: [ { class: 0x0102, type: 0x05, data: "01020304" } ]"#;
    let cfg = stitch_config(&dir, &prefix, option, false, true);
    let mut g = Gateway::start(&dir, &cfg, &prefix);
    let cmds = strings(&STITCH_QUERIES);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let m = M as u64;
    let r = query_until(&prefix, &mut g, &cmds, |r| {
        n(&r[3], "encap") == m && n(&r[1], "decap_packets") == m
    });
    drop(g);
    let c = &r[3];
    assert_eq!(n(c, "stitched"), m, "{c}");
    assert_eq!(n(c, "vxlan_encap"), 0, "{c}");
    assert_eq!(n(c, "decap"), 0, "{c}");
    assert_eq!(n(c, "drops_total"), 0, "{c}");
    let tor = &r[1];
    assert_eq!(n(tor, "decap_bytes"), from_tor, "{tor}");
    assert_eq!(n(tor, "encap_packets"), 0, "{tor}");
    let vni = &r[2];
    assert_eq!(n(vni, "packets"), m, "{vni}");
    assert_eq!(n(vni, "bytes"), from_tor, "{vni}");
    assert_eq!(n(vni, "drops"), 0, "{vni}");
    // What left: every frame in more than one segment, each a Geneve
    // frame to ovn no longer than the MTU allows.
    let (_, out) = read_pcap(&dir.join("ul_out.pcap"));
    assert!(out.len() > M, "{} frames out for {M} in", out.len());
    assert!(out
        .iter()
        .all(|f| f.len() <= 1514 && f[36..38] == [0x17, 0xc1]));
    let ovn = &r[0];
    assert_eq!(n(ovn, "encap_packets"), out.len() as u64, "{ovn}");
    let out_bytes: u64 = out.iter().map(|f| f.len() as u64).sum();
    assert_eq!(n(ovn, "encap_bytes"), out_bytes, "{ovn}");
    assert_eq!(n(ovn, "encap_drops"), 0, "{ovn}");
    assert_eq!(n(ovn, "decap_packets"), 0, "{ovn}");
}

/// An untagged IPv4/UDP frame of `len` bytes (at least 42) from the L3
/// access side to `dst`.
fn l3_frame(dst: [u8; 4], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0x19, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0x19, 0x99]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 19, 0, 1]);
    ip[16..20].copy_from_slice(&dst);
    let sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// The L3 express tier counts a run of frames on one route once, when the
/// route changes and after its loop: frames to three tunnels through four
/// routes (two of them sharing a tunnel, one of them a /25 inside a /24 of
/// another tunnel's), in runs of one to six frames that change inside
/// bursts and across them, lengths varying frame by frame. Each tunnel
/// counts exactly its frames and their encapsulated bytes (the IP packet
/// plus 50 bytes of outer Ethernet, IPv4, UDP and option-less Geneve).
#[test]
fn l3_routes_count_their_own_packets_and_bytes() {
    let _slot = dpdk_slot();
    let dir = scratch("entry-counters-l3");
    let dsts: [([u8; 4], &str); 4] = [
        ([198, 19, 1, 7], "t1"),
        ([198, 19, 2, 7], "t2"),
        ([198, 19, 3, 7], "t3"),
        ([198, 19, 3, 200], "t1"),
    ];
    let mut frames = Vec::new();
    let mut want: std::collections::HashMap<&str, (u64, u64)> = Default::default();
    let mut k = 0usize;
    while frames.len() < 300 {
        let (dst, tunnel) = dsts[k % dsts.len()];
        for _ in 0..(k * 7 % 6) + 1 {
            let len = 60 + frames.len() * 13 % 200;
            frames.push(l3_frame(dst, len));
            let w = want.entry(tunnel).or_default();
            w.0 += 1;
            w.1 += (len - 14 + 50) as u64;
        }
        k += 1;
    }
    common::write_pcap(&dir.join("acc_in.pcap"), &frames);
    common::write_pcap(&dir.join("ul_in.pcap"), &[]);
    let prefix = format!("gwtest-entries-l3-{}", std::process::id());
    let [ul, acc] = gw::pcap_devices(&dir);
    let cfg = Ports::new(&ul, &acc, &prefix).yaml()
        + r#"vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32, 198.18.0.3/32, 198.18.0.4/32] }
tunnels:
  - { name: t1, remote: 198.18.0.2, vni: 100 }
  - { name: t2, remote: 198.18.0.3, vni: 200 }
  - { name: t3, remote: 198.18.0.4, vni: 300 }
l3:
  access: { port: acc, ipv4: 198.19.0.254/24, next_hop_mac: "02:00:00:00:19:99" }
  routes:
    - { prefix: 198.19.1.0/24, tunnel: t1 }
    - { prefix: 198.19.2.0/24, tunnel: t2 }
    - { prefix: 198.19.3.0/24, tunnel: t1 }
    - { prefix: 198.19.3.0/25, tunnel: t3 }
"#;
    let mut g = Gateway::start(&dir, &cfg, &prefix);
    let cmds = strings(&[
        "/geneve_gw/tunnel,t1",
        "/geneve_gw/tunnel,t2",
        "/geneve_gw/tunnel,t3",
        "/geneve_gw/counters",
    ]);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let total = frames.len() as u64;
    let r = query_until(&prefix, &mut g, &cmds, |r| n(&r[3], "encap") == total);
    for (i, t) in ["t1", "t2", "t3"].iter().enumerate() {
        let (packets, bytes) = want[t];
        assert_eq!(n(&r[i], "encap_packets"), packets, "{t}: {}", r[i]);
        assert_eq!(n(&r[i], "encap_bytes"), bytes, "{t}: {}", r[i]);
        assert_eq!(n(&r[i], "encap_drops"), 0, "{t}: {}", r[i]);
    }
    // Everything reached a tunnel: nothing was left to the general tier's
    // drops.
    assert_eq!(n(&r[3], "encap"), total, "{}", r[3]);
}
