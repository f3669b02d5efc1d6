//! Observability of a running gateway: DPDK telemetry (`dpdk-telemetry.py`),
//! `geneve-gw stats`, the Prometheus endpoint, the residence-time lines and
//! `dpdk-dumpcap`, each read while the gateway runs and checked against the
//! packets the test sent.
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, dpdk_slot, run_cmd, run_gw, runtime_dir, strings, Ports, Run};
use common::{inner_ipv4_udp, read_pcap, scratch, signal, skip, wait_exit, write_pcap};
use serde_json::Value;

const HOST_DST: [u8; 6] = [0x02, 0x11, 0, 0, 0, 1];

/// `n` VLAN-10 frames to the static MAC behind 198.18.0.2: each is
/// encapsulated once (inner 64 bytes with the tag, 60 without, 110 outer).
fn access_frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let f = inner_ipv4_udp(60, 0, 64, i as u16);
            let mut t = f[..12].to_vec();
            t.extend_from_slice(&[0x81, 0x00, 0x00, 10]);
            t.extend_from_slice(&f[12..]);
            t
        })
        .collect()
}

const OUTER_LEN: usize = 60 + 14 + 20 + 8 + 8;

/// Underlay on net_null (TX only), access on net_pcap reading `input`.
fn config(
    dir: &Path,
    prefix: &str,
    memory: &str,
    eal_args: &str,
    input: &str,
    metrics: &str,
) -> PathBuf {
    let acc = format!("net_pcap0,rx_pcap={input}");
    let ports = Ports {
        memory,
        args: eal_args,
        ..Ports::new("net_null0,no-rx=1", &acc, prefix)
    };
    let cfg = ports.yaml()
        + &format!(
            r#"vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }}
tunnels:
  - {{ name: b, remote: 198.18.0.2, vni: 100 }}
l2:
  segments:
    - port: acc
      vlan: 10
      vni: 100
      flood: [198.18.0.2]
      static_macs: [ {{ mac: "02:11:00:00:00:01", remote: 198.18.0.2 }} ]
metrics: {metrics}
"#
        );
    let p = dir.join("gw.yaml");
    std::fs::write(&p, cfg).unwrap();
    p
}

/// The gateway process, stopped (SIGINT) and reaped however the test ends.
struct Gateway {
    child: Option<Child>,
    prefix: String,
}

impl Gateway {
    fn start(cfg: &Path, prefix: &str) -> Gateway {
        let child = Command::new(gw::bin())
            .args([
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--stats-interval",
                "0.3",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Gateway {
            child: Some(child),
            prefix: prefix.to_string(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().unwrap().try_wait(), Ok(None))
    }

    /// What a gateway that already exited printed, and its exit status.
    fn exit_output(&mut self) -> String {
        let Some(child) = self.child.take() else {
            return String::new();
        };
        match child.wait_with_output() {
            Ok(o) => format!(
                "{}\n{}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => e.to_string(),
        }
    }

    /// SIGINT, then the exit report.
    fn stop(mut self) -> Run {
        let mut child = self.child.take().unwrap();
        signal(child.id(), "INT");
        wait_exit(&mut child, Duration::from_secs(30));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(runtime_dir(&self.prefix));
        // metrics.capture keeps hugepage files (shared with dpdk-dumpcap).
        if let Ok(rd) = std::fs::read_dir("/dev/hugepages") {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!("{}map_", self.prefix)) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// `geneve-gw stats --json` until `done` holds for its reply (or 30 s pass).
fn stats_until(g: &mut Gateway, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        if !g.running() {
            panic!("the gateway exited early:\n{}", g.exit_output());
        }
        let r = run_gw(
            &strings(&["stats", "--file-prefix", &g.prefix, "--json"]),
            Duration::from_secs(20),
        );
        if r.ok() {
            let v: Value = serde_json::from_str(r.stdout.trim()).expect("stats --json is JSON");
            if done(&v) {
                return v;
            }
        }
        last = format!("{}{}", r.stdout, r.stderr);
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("stats never reached the expected values; last answer:\n{last}");
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

fn assert_percentiles_ordered(l: &Value, n: u64) {
    assert_eq!(u(l, &["enabled"]), 1, "{l}");
    assert_eq!(u(l, &["samples"]), n, "{l}");
    let (p50, p99, p999, max) = (
        u(l, &["p50_ns"]),
        u(l, &["p99_ns"]),
        u(l, &["p999_ns"]),
        u(l, &["max_ns"]),
    );
    assert!(p50 > 0, "{l}");
    assert!(p50 <= p99 && p99 <= p999 && p999 <= max, "{l}");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name_and_labels} in:\n{text}"))
}

/// A loopback address with a port free a moment ago, for the Prometheus
/// endpoint.
fn free_loopback_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[test]
fn telemetry_stats_and_prometheus_report_the_packets_sent() {
    let _slot = dpdk_slot();
    const N: u64 = 100;
    let dir = scratch("observe");
    let input = dir.join("acc_in.pcap");
    write_pcap(&input, &access_frames(N as usize));
    let prom = free_loopback_port();
    let prefix = format!("gwtest-obs-{}", std::process::id());
    let cfg = config(
        &dir,
        &prefix,
        "{ mode: no_huge, size_mb: 512 }",
        "[--no-shconf, --no-pci]",
        input.to_str().unwrap(),
        &format!("{{ prometheus: \"{prom}\" }}"),
    );
    let mut g = Gateway::start(&cfg, &prefix);

    // geneve-gw stats: every packet read is encapsulated and sent, measured once.
    let v = stats_until(&mut g, |v| {
        v["/geneve_gw/counters"]["encap"].as_u64() == Some(N)
            && v["/geneve_gw/latency"]["samples"].as_u64() == Some(N)
    });
    let c = &v["/geneve_gw/counters"];
    assert_eq!(u(c, &["rx_packets"]), N, "{v}");
    assert_eq!(u(c, &["tx_packets"]), N, "{v}");
    assert_eq!(u(c, &["decap"]), 0, "{v}");
    assert_eq!(u(c, &["drops_total"]), 0, "{v}");
    assert_eq!(u(c, &["workers"]), 1, "{v}");
    assert_eq!(v["/geneve_gw/ports"], serde_json::json!([0, 1]), "{v}");
    assert_eq!(v["/geneve_gw/port,0"]["name"], "ul", "{v}");
    assert_eq!(u(&v, &["/geneve_gw/port,0", "tx_packets"]), N, "{v}");
    assert_eq!(u(&v, &["/geneve_gw/port,1", "rx_packets"]), N, "{v}");
    assert_eq!(u(&v, &["/geneve_gw/port,1", "tx_packets"]), 0, "{v}");
    assert_eq!(u(&v, &["/geneve_gw/drops", "no_segment"]), 0, "{v}");
    // Every counted reason is explained, from the same table.
    let reasons = v["/geneve_gw/drop_reasons"]
        .as_object()
        .expect("drop_reasons");
    assert_eq!(
        reasons.len(),
        v["/geneve_gw/drops"].as_object().unwrap().len(),
        "{v}"
    );
    assert_eq!(
        reasons["no_segment"],
        geneve_gw::tunnel::DropReason::NoSegment.help(),
        "{v}"
    );
    assert_percentiles_ordered(&v["/geneve_gw/latency"], N);
    let t = &v["/geneve_gw/tables"];
    assert_eq!(u(t, &["tunnels"]), 1, "{v}");
    assert_eq!(u(t, &["segments"]), 1, "{v}");
    assert_eq!(u(t, &["decap_vnis"]), 1, "{v}");
    assert_eq!(u(t, &["neighbors"]), 1, "{v}");
    // The bounded tables: the file's limits (the defaults here), nothing
    // turned away.
    let l = &v["/geneve_gw/table_limits"];
    assert_eq!(u(l, &["learned_macs_limit"]), 65536, "{v}");
    assert_eq!(u(l, &["arp_nd_cache_limit"]), 65536, "{v}");
    assert_eq!(u(l, &["flow_ids_limit"]), 65536, "{v}");
    assert_eq!(u(l, &["learned_macs_refused"]), 0, "{v}");
    assert!(l.get("tunnels_limit").is_none(), "{v}");

    // The readable table says the same; the prefix comes from the
    // gateway's own configuration file this time.
    let r = run_gw(
        &strings(&["stats", "-c", cfg.to_str().unwrap()]),
        Duration::from_secs(20),
    );
    assert!(r.ok(), "{}", r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["encap", "100"]),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("latency p50 ") && l.ends_with("(100 packets)")),
        "{}",
        r.stdout
    );

    // DPDK's own client reads the same commands.
    if Path::new("/usr/bin/dpdk-telemetry.py").exists() {
        let mut cmd = Command::new("/usr/bin/dpdk-telemetry.py");
        cmd.args(["-f", &prefix]);
        let out = run_with_stdin(
            &mut cmd,
            "/geneve_gw/counters\n/geneve_gw/latency\n/geneve_gw/port,1\n",
        );
        let replies: Vec<Value> = out
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(replies.len(), 3, "{out}");
        assert_eq!(
            u(&replies[0], &["/geneve_gw/counters", "encap"]),
            N,
            "{out}"
        );
        assert_percentiles_ordered(&replies[1]["/geneve_gw/latency"], N);
        assert_eq!(
            u(&replies[2], &["/geneve_gw/port", "rx_packets"]),
            N,
            "{out}"
        );
    } else {
        skip("the dpdk-telemetry.py part: /usr/bin/dpdk-telemetry.py is missing (apt-get install dpdk)");
    }

    // Prometheus.
    let resp = http_get(&prom, "/metrics");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(
        resp.contains("Content-Type: text/plain; version=0.0.4"),
        "{resp}"
    );
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(metric(body, "geneve_gw_encap_packets_total"), N as f64);
    assert_eq!(
        metric(
            body,
            "geneve_gw_port_rx_packets_total{port=\"acc\",port_id=\"1\"}"
        ),
        N as f64
    );
    assert_eq!(
        metric(
            body,
            "geneve_gw_port_tx_packets_total{port=\"ul\",port_id=\"0\"}"
        ),
        N as f64
    );
    assert_eq!(
        metric(body, "geneve_gw_drops_total{reason=\"no_segment\"}"),
        0.0
    );
    assert_eq!(metric(body, "geneve_gw_residence_seconds_count"), N as f64);
    let q = |x: &str| {
        metric(
            body,
            &format!("geneve_gw_residence_seconds{{quantile=\"{x}\"}}"),
        )
    };
    assert!(
        q("0.5") > 0.0 && q("0.5") <= q("0.99") && q("0.99") <= q("1"),
        "{body}"
    );
    assert_eq!(
        metric(body, "geneve_gw_table_entries{table=\"tunnels\"}"),
        1.0
    );
    assert_eq!(
        metric(body, "geneve_gw_table_limit{table=\"arp_nd_cache\"}"),
        65536.0
    );
    assert_eq!(
        metric(body, "geneve_gw_table_refused_total{table=\"flow_ids\"}"),
        0.0
    );
    assert!(http_get(&prom, "/other").starts_with("HTTP/1.1 404"));

    // The exit report and the live summary carry the latency lines.
    let pid = g.pid();
    let r = g.stop();
    assert!(r.ok(), "pid {pid}:\n{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert!(r.stdout.lines().any(|l| l == "encap 100"), "{}", r.stdout);
    let lat = r
        .stdout
        .lines()
        .find(|l| l.starts_with("latency p50 "))
        .unwrap_or_else(|| panic!("no latency line:\n{}", r.stdout));
    assert!(lat.ends_with("(100 packets)"), "{lat}");
    assert!(
        r.stderr.lines().any(|l| l.starts_with("latency p50 ")),
        "no live latency line:\n{}",
        r.stderr
    );
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    if wait_exit(&mut child, Duration::from_secs(20)).is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn stats_without_a_running_gateway_is_one_clear_error() {
    let r = run_gw(
        &strings(&["stats", "--file-prefix", "gwtest-nobody-here"]),
        Duration::from_secs(20),
    );
    r.assert_clean_error("no running gateway answers on");
}

#[test]
fn metrics_section_is_validated() {
    let dir = scratch("observe-check");
    for (metrics, memory, args, needle) in [
        (
            "{ prometheus: \"localhost:notaport\" }",
            "{ mode: hugepages }",
            "[--no-pci]",
            "metrics.prometheus: `localhost:notaport` is not an address:port",
        ),
        (
            "{ capture: true }",
            "{ mode: no_huge, size_mb: 512 }",
            "[--no-pci]",
            "metrics.capture: needs hugepages shared with dpdk-dumpcap",
        ),
        (
            "{ capture: true }",
            "{ mode: hugepages }",
            "[--no-pci, --in-memory]",
            "metrics.capture: needs hugepage files shared with dpdk-dumpcap; remove `--in-memory`",
        ),
    ] {
        let cfg = config(
            &dir,
            "gwtest-chk",
            memory,
            args,
            "/nonexistent.pcap",
            metrics,
        );
        let r = run_gw(
            &strings(&["check", "-c", cfg.to_str().unwrap()]),
            Duration::from_secs(20),
        );
        assert!(!r.ok(), "{metrics} passed");
        assert!(r.stderr.contains(needle), "{metrics}: {}", r.stderr);
    }
}

#[test]
fn a_taken_prometheus_address_is_a_clear_error() {
    let _slot = dpdk_slot();
    let dir = scratch("observe-bind");
    let input = dir.join("acc_in.pcap");
    write_pcap(&input, &access_frames(1));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let prefix = format!("gwtest-obsbind-{}", std::process::id());
    let cfg = config(
        &dir,
        &prefix,
        "{ mode: no_huge, size_mb: 512 }",
        "[--no-shconf, --no-pci]",
        input.to_str().unwrap(),
        &format!("{{ prometheus: \"{addr}\" }}"),
    );
    let r = run_gw(
        &strings(&[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--stop-after-idle",
            "500",
        ]),
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_dir_all(runtime_dir(&prefix));
    r.assert_clean_error(&format!("metrics.prometheus: cannot listen on {addr}"));
}

#[test]
fn dumpcap_captures_the_packets_the_gateway_sends() {
    let (free, mounted) = gw::hugepages();
    let dumpcap = Path::new("/usr/bin/dpdk-dumpcap");
    if !dumpcap.exists() || free < 200 || !mounted {
        skip(format_args!(
            "dpdk-dumpcap needs /usr/bin/dpdk-dumpcap (apt-get install dpdk) and 200 free 2 MB hugepages on /dev/hugepages (have {free}, mounted {mounted}); a capture cannot share --no-huge memory"
        ));
        return;
    }
    let _slot = dpdk_slot();
    let dir = scratch("observe-dumpcap");
    let input = dir.join("acc_in.pcap");
    write_pcap(&input, &access_frames(64));
    let prefix = format!("gwtest-obscap-{}", std::process::id());
    let cfg = config(
        &dir,
        &prefix,
        "{ mode: hugepages, size_mb: 256 }",
        "[--no-pci]",
        &format!("{},infinite_rx=1", input.display()),
        "{ capture: true }",
    );
    let mut g = Gateway::start(&cfg, &prefix);
    stats_until(&mut g, |v| {
        v["/geneve_gw/counters"]["encap"].as_u64() > Some(0)
    });
    const COUNT: usize = 200;
    let out = dir.join("ul.pcap");
    let cap = run_cmd(
        Command::new(dumpcap).args([
            &format!("--file-prefix={prefix}"),
            "-i",
            "net_null0",
            "-c",
            &COUNT.to_string(),
            "-P",
            "-q",
            "-w",
            out.to_str().unwrap(),
        ]),
        Duration::from_secs(60),
    );
    let r = g.stop();
    assert!(
        cap.ok(),
        "dpdk-dumpcap failed:\n{}\n{}",
        cap.stdout,
        cap.stderr
    );
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    let (_, frames) = read_pcap(&out);
    assert!(frames.len() >= COUNT, "captured {} frames", frames.len());
    let (_, ul_tx, _) = r.port(0);
    assert!(
        ul_tx >= frames.len() as u64,
        "captured more than sent: {}",
        r.stdout
    );
    for f in &frames {
        // What the gateway sent: the 60-byte inner frame in Ethernet/IPv4/UDP 6081/Geneve VNI 100.
        assert_eq!(f.len(), OUTER_LEN, "{f:02x?}");
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2], "outer dst MAC");
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(&f[36..38], &6081u16.to_be_bytes(), "UDP dst port");
        assert_eq!(&f[46..49], &[0, 0, 100], "VNI");
        assert_eq!(&f[50..56], &HOST_DST, "inner dst MAC");
    }
}

/// A snapshot with a value of every kind, for the endpoint tests below.
fn prometheus_snapshot() -> geneve_gw::control::observe::Snapshot {
    use geneve_gw::control::observe::{PortSnapshot, Snapshot};
    use geneve_gw::tunnel::DropReason;
    Snapshot {
        uptime_s: 2.25,
        workers: 2,
        ports: vec![PortSnapshot {
            name: "uplink".into(),
            id: 0,
            rx_packets: 11,
            tx_packets: 9,
            tx_dropped: 0,
        }],
        encap: 5,
        decap: 4,
        drops: DropReason::ALL.iter().map(|r| (*r, 1)).collect(),
        tables: vec![geneve_gw::control::observe::TableStat::unbounded(
            "tunnels", 3,
        )],
        ..Default::default()
    }
}

/// One scrape with a hard bound: the whole answer must be in within `bound`.
/// Returns the body, which must be byte for byte the exposition text.
fn scrape_within(addr: std::net::SocketAddr, bound: Duration) -> Result<String, String> {
    let t0 = Instant::now();
    let mut c =
        std::net::TcpStream::connect_timeout(&addr, bound).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(bound)).unwrap();
    c.set_write_timeout(Some(bound)).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if t0.elapsed() > bound {
            return Err(format!("no full answer within {bound:?}"));
        }
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {:?}: {e}", t0.elapsed())),
        }
    }
    let resp = String::from_utf8(resp).map_err(|e| e.to_string())?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header end in {resp:?}"))?;
    if !head.starts_with("HTTP/1.1 200 OK\r\n") {
        return Err(format!("status: {head}"));
    }
    let head_l = head.to_ascii_lowercase();
    if !head_l.contains("content-type: text/plain; version=0.0.4; charset=utf-8") {
        return Err(format!("content type: {head}"));
    }
    Ok(body.to_string())
}

/// A slow-loris client (one byte every 1.5 s, never finishing its request)
/// must neither hold the endpoint nor keep its connection past the
/// whole-request deadline; a scrape meanwhile answers within 2 s, and its
/// body is byte-identical to the exposition text.
#[test]
fn prometheus_slow_loris_neither_blocks_scrapes_nor_outlives_the_deadline() {
    use geneve_gw::control::observe::{self, PrometheusServer, REQUEST_DEADLINE};
    let srv = PrometheusServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let snap = prometheus_snapshot();
    observe::publish(snap.clone());
    let addr = srv.addr;
    let loris = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let t0 = Instant::now();
        let req = b"GET /metrics HTTP/1.1\r\nHost: gw\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut one = [0u8; 1];
        for b in req.iter().cycle() {
            // Closed by the server: a write fails or a read sees EOF/reset.
            if c.write_all(&[*b]).is_err() {
                return Some(t0.elapsed());
            }
            let until = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < until {
                match c.read(&mut one) {
                    Ok(_) => return Some(t0.elapsed()),
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return Some(t0.elapsed()),
                }
            }
            if t0.elapsed() > REQUEST_DEADLINE + Duration::from_secs(6) {
                return None;
            }
        }
        None
    });
    std::thread::sleep(Duration::from_millis(700));
    for _ in 0..3 {
        let body = scrape_within(addr, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("scrape during a slow loris: {e}"));
        assert_eq!(body, observe::prometheus_text(&snap));
        std::thread::sleep(Duration::from_millis(500));
    }
    let cut = loris.join().unwrap();
    let cut = cut.unwrap_or_else(|| {
        panic!("slow-loris connection still open {REQUEST_DEADLINE:?} + 6 s after it started")
    });
    assert!(
        cut <= REQUEST_DEADLINE + Duration::from_secs(2),
        "slow loris cut after {cut:?}, deadline {REQUEST_DEADLINE:?}"
    );
}

/// 2,000 connections that open and never send a byte: the endpoint keeps at
/// most its connection cap open, and a scrape still answers within 2 s while
/// the clients hang on to their sockets.
#[test]
fn prometheus_answers_while_2000_connections_hang() {
    use geneve_gw::control::observe::{self, PrometheusServer, MAX_CONNECTIONS};
    let srv = PrometheusServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let snap = prometheus_snapshot();
    observe::publish(snap.clone());
    let t0 = Instant::now();
    let mut held = Vec::with_capacity(2000);
    let mut refused = 0;
    while held.len() < 2000 && t0.elapsed() < Duration::from_secs(20) {
        match std::net::TcpStream::connect_timeout(&srv.addr, Duration::from_millis(300)) {
            Ok(c) => held.push(c),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(
        held.len(),
        2000,
        "{refused} connects timed out: the endpoint stopped accepting"
    );
    // The scrape, while all 2,000 sockets are still open on our side.
    let body = scrape_within(srv.addr, Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("scrape with 2000 held connections: {e}"));
    assert_eq!(body, observe::prometheus_text(&snap));
    // The server closed all but at most MAX_CONNECTIONS of them.
    let mut open = 0;
    let mut b = [0u8; 1];
    for c in &held {
        c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        if let Err(e) = (&*c).read(&mut b) {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                open += 1;
            }
        }
    }
    assert!(
        open <= MAX_CONNECTIONS,
        "{open} connections open, cap {MAX_CONNECTIONS}"
    );
    drop(held);
}

/// A SIGHUP with a large file (200,000 static MACs) is validated on a helper
/// thread: the control loop keeps publishing, so the numbers Prometheus
/// serves keep moving during the reload (traffic flows all along), and the
/// reload is applied when validation ends.
#[test]
fn a_large_reload_does_not_freeze_the_published_numbers() {
    let _slot = dpdk_slot();
    let dir = scratch("observe-reload");
    let input = dir.join("acc_in.pcap");
    write_pcap(&input, &access_frames(8));
    let prom = free_loopback_port();
    let prefix = format!("gwtest-obsr-{}", std::process::id());
    let cfg = config(
        &dir,
        &prefix,
        "{ mode: no_huge, size_mb: 512 }",
        "[--no-shconf, --no-pci]",
        &format!("{},infinite_rx=1", input.display()),
        &format!("{{ prometheus: \"{prom}\" }}"),
    );
    let g = Gateway::start(&cfg, &prefix);
    let start = Instant::now();
    while std::net::TcpStream::connect(&prom).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "no Prometheus");
        std::thread::sleep(Duration::from_millis(100));
    }
    let encap = || {
        metric(
            &http_get(&prom, "/metrics"),
            "geneve_gw_encap_packets_total",
        )
    };
    // The same file with 200,000 more static MACs.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let mut macs = String::from("[ ");
    for i in 0..200_000u32 {
        let b = i.to_be_bytes();
        macs.push_str(&format!(
            "{{ mac: \"02:22:{:02x}:{:02x}:{:02x}:{:02x}\", remote: 198.18.0.2 }}, ",
            b[0], b[1], b[2], b[3]
        ));
    }
    macs.push(']');
    let big = text.replace(
        r#"static_macs: [ { mac: "02:11:00:00:00:01", remote: 198.18.0.2 } ]"#,
        &format!("static_macs: {macs}"),
    );
    assert_ne!(big, text);
    std::fs::write(&cfg, big).unwrap();
    // How long validating the file takes here, measured in this process.
    let t = Instant::now();
    geneve_gw::config::load(&cfg).unwrap();
    let validate = t.elapsed();
    assert!(signal(g.pid(), "HUP"));
    // The longest time the published encap counter stood still.
    let mut last = (encap(), Instant::now());
    let mut stale = Duration::ZERO;
    let t = Instant::now();
    while t.elapsed() < validate {
        std::thread::sleep(Duration::from_millis(20));
        let v = encap();
        if v != last.0 {
            last = (v, Instant::now());
        }
        stale = stale.max(last.1.elapsed());
    }
    // Room for the gateway's own validation to end before it stops.
    std::thread::sleep(validate * 2);
    let r = g.stop();
    assert!(r.stderr.contains("reload: "), "{}", r.stderr);
    assert!(
        stale * 3 < validate,
        "the published numbers stood still {stale:?} during a reload whose validation takes {validate:?}"
    );
}
