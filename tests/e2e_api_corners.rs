//! Corners of the control API and its per-tunnel counters, end to end on
//! a running `geneve-gw run`: the per-connection limit of requests in
//! flight (spoken as raw HTTP/2 frames, so the client does not queue for
//! us), the counters of a tunnel with an IPv6 remote, and encap drops
//! counted under the tunnel that chose the template.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gw::{self, Ports};
use common::{signal, skip, StderrLines};
use serde_json::Value;

/// A gateway in the background, its API socket in the test's scratch
/// directory; stopped (SIGINT) or killed however the test ends.
struct Gw {
    child: Option<Child>,
    err: StderrLines,
    cfg: PathBuf,
    api_dir: PathBuf,
    _slot: std::sync::MutexGuard<'static, ()>,
}

impl Gw {
    fn start(dir: &Path, name: &str, ports: Ports, tables: &str) -> Gw {
        let slot = gw::dpdk_slot();
        let cfg = dir.join("gw.yaml");
        std::fs::write(&cfg, ports.yaml() + tables).unwrap();
        let api_dir = dir.join("api");
        let mut child = Command::new(gw::bin())
            .args(["run", "-c", cfg.to_str().unwrap(), "--stats-interval", "0"])
            .env("GENEVE_GW_API_DIR", &api_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = StderrLines::take(&mut child);
        assert!(
            err.wait_for("api: serving on", Duration::from_secs(90)),
            "{name}: the gateway did not start its API:\n{}",
            err.text
        );
        Gw {
            child: Some(child),
            err,
            cfg,
            api_dir,
            _slot: slot,
        }
    }

    fn socket(&self) -> PathBuf {
        std::fs::read_dir(&self.api_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "sock"))
            .expect("the API socket")
    }

    /// `geneve-gw ctl --json ARGS` must succeed: its output as JSON.
    fn json(&self, args: &[&str]) -> Value {
        let o = Command::new(gw::bin())
            .arg("ctl")
            .args(["-c", self.cfg.to_str().unwrap(), "--json"])
            .args(args)
            .env("GENEVE_GW_API_DIR", &self.api_dir)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "ctl {args:?} failed:\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        common::json(&out)
    }

    fn stop(mut self) -> gw::Run {
        let child = self.child.take().expect("running");
        signal(child.id(), "INT");
        let out = child.wait_with_output().unwrap();
        let err = std::mem::replace(&mut self.err, StderrLines::empty());
        gw::Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: err.finish(),
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn drop_count(v: &Value, reason: &str) -> u64 {
    v["drops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reason"] == reason)
        .map(|d| u(d, "packets"))
        .unwrap_or_else(|| panic!("no drop counter {reason}: {v}"))
}

// ------------------------------------------------------------ raw HTTP/2

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const ACK: u8 = 1;
/// RFC 9113 section 7.
const REFUSED_STREAM: u32 = 7;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len() as u32;
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A gRPC request's header block in HPACK literals without indexing and
/// without Huffman (RFC 7541 section 6.2.2), so no encoder state.
fn grpc_headers(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        b.push(0);
        b.push(k.len() as u8);
        b.extend_from_slice(k.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// What the server sent on one connection, frame by frame.
struct H2 {
    s: UnixStream,
    /// (stream, error code) of every RST_STREAM.
    resets: Vec<(u32, u32)>,
    /// (stream, payload) of every DATA frame.
    data: Vec<(u32, Vec<u8>)>,
    /// Streams whose response ended (END_STREAM on HEADERS or DATA).
    ended: Vec<u32>,
}

impl H2 {
    fn connect(socket: &Path) -> H2 {
        let mut s = UnixStream::connect(socket).unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        s.write_all(&frame(SETTINGS, 0, 0, &[])).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        H2 {
            s,
            resets: Vec::new(),
            data: Vec::new(),
            ended: Vec::new(),
        }
    }

    /// Opens `stream` (a request to `path`); its body follows with
    /// [`finish`](Self::finish).
    fn open(&mut self, stream: u32, path: &str) {
        let f = frame(HEADERS, END_HEADERS, stream, &grpc_headers(path));
        self.s.write_all(&f).unwrap();
    }

    /// The request's one message (empty) and the end of its stream.
    fn finish(&mut self, stream: u32) {
        self.s
            .write_all(&frame(DATA, END_STREAM, stream, &[0, 0, 0, 0, 0]))
            .unwrap();
    }

    fn read_exact_or_timeout(&mut self, buf: &mut [u8]) -> bool {
        let mut got = 0;
        while got < buf.len() {
            match self.s.read(&mut buf[got..]) {
                Ok(0) => panic!("the gateway closed the connection"),
                Ok(n) => got += n,
                Err(e) if got == 0 && e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        true
    }

    /// Reads frames (answering SETTINGS and keep-alive PINGs) until
    /// `done` holds, for 20 s at most.
    fn pump_until(&mut self, what: &str, done: impl Fn(&H2) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what}: never happened; resets {:?}, ended {:?}",
                self.resets,
                self.ended
            );
            self.read_frame();
        }
    }

    /// Reads frames for `d` (keeps the connection alive while held).
    fn pump_for(&mut self, d: Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            self.read_frame();
        }
    }

    /// One frame, or nothing within the read timeout.
    fn read_frame(&mut self) {
        let mut head = [0u8; 9];
        if !self.read_exact_or_timeout(&mut head) {
            return;
        }
        let len = (head[0] as usize) << 16 | (head[1] as usize) << 8 | head[2] as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        while !payload.is_empty() && !self.read_exact_or_timeout(&mut payload) {}
        match kind {
            SETTINGS if flags & ACK == 0 => {
                self.s.write_all(&frame(SETTINGS, ACK, 0, &[])).unwrap()
            }
            PING if flags & ACK == 0 => self.s.write_all(&frame(PING, ACK, 0, &payload)).unwrap(),
            RST_STREAM => self.resets.push((
                stream,
                u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]),
            )),
            GOAWAY => panic!("GOAWAY from the gateway: {payload:?}"),
            DATA => {
                self.data.push((stream, payload));
                if flags & END_STREAM != 0 {
                    self.ended.push(stream);
                }
            }
            HEADERS if flags & END_STREAM != 0 => self.ended.push(stream),
            _ => {}
        }
    }

    fn reply_has(&self, stream: u32, needle: &[u8]) -> bool {
        self.data
            .iter()
            .any(|(s, d)| *s == stream && d.windows(needle.len()).any(|w| w == needle))
    }
}

const TUNNELS_LIST: &str = "/geneve_gw.v1.Tunnels/List";

/// More requests in flight on one HTTP/2 connection than the limit
/// (`control::api::MAX_STREAMS`, 8): the server advertises the limit and
/// refuses the streams over it (RST_STREAM REFUSED_STREAM, RFC 9113
/// section 5.1.2, which tells a client the request was not processed and
/// can be retried; tonic and grpcio clients queue instead, as they obey
/// the advertised limit). The eight held open are answered once their
/// bodies come, a new stream is accepted once one of them finished, and
/// the data plane forwards all along (its encap counter moves while the
/// eight are held).
#[test]
fn requests_over_the_per_connection_limit_are_refused() {
    if !common::have_scapy() {
        return skip(
            "requests_over_the_per_connection_limit_are_refused: needs python3 with scapy",
        );
    }
    let dir = common::scratch("api-streams");
    let acc_in = dir.join("acc_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01")
       / IP(src="198.19.0.50", dst="198.19.0.60") / UDP(sport=1000 + i, dport=5001) / Raw(b"s" * 18)
       for i in range(8)])
"#;
    common::run_ok(Command::new("python3").args(["-c", py, acc_in.to_str().unwrap()]));
    let prefix = format!("gwtest-{}-api-streams", std::process::id());
    let acc = format!("net_pcap1,rx_pcap={},infinite_rx=1", acc_in.display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe", destinations: [198.18.0.0/15] }
tunnels:
  - { name: t0, remote: 198.18.1.2, vni: 100 }
l2:
  learning: false
  segments:
    - { name: seg, port: acc, vni: 100, flood: [], static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.1.2 } ] }
"#;
    let g = Gw::start(
        &dir,
        "streams",
        Ports::new("net_null0,no-rx=1", &acc, &prefix),
        tables,
    );
    let mut h = H2::connect(&g.socket());
    // Eight in flight (requests without their bodies), two more over.
    let ids: Vec<u32> = (0..10).map(|i| 1 + 2 * i).collect();
    for &id in &ids {
        h.open(id, TUNNELS_LIST);
    }
    h.pump_until("streams 17 and 19 refused", |h| h.resets.len() >= 2);
    assert_eq!(
        h.resets,
        vec![(17, REFUSED_STREAM), (19, REFUSED_STREAM)],
        "exactly the two streams over the limit are refused"
    );
    // The data plane forwards while the eight are held (the API answers
    // on another connection too).
    let e0 = u(&g.json(&["counters"]), "encap");
    let start = Instant::now();
    let mut e1 = e0;
    while e1 < e0 + 1000 && start.elapsed() < Duration::from_secs(30) {
        h.pump_for(Duration::from_millis(300));
        e1 = u(&g.json(&["counters"]), "encap");
    }
    assert!(e1 >= e0 + 1000, "forwarding stalled: encap {e0} -> {e1}");
    assert!(h.resets.len() == 2, "more refusals: {:?}", h.resets);
    // The eight held streams are answered once their bodies come.
    for &id in &ids[..8] {
        h.finish(id);
    }
    h.pump_until("the eight held requests answered", |h| {
        ids[..8].iter().all(|id| h.ended.contains(id))
    });
    for &id in &ids[..8] {
        assert!(h.reply_has(id, b"t0"), "stream {id}: no tunnel list");
    }
    // Room again: a new stream on the same connection is served.
    h.open(21, TUNNELS_LIST);
    h.finish(21);
    h.pump_until("stream 21 answered", |h| h.ended.contains(&21));
    assert!(h.reply_has(21, b"t0"));
    assert_eq!(h.resets.len(), 2, "{:?}", h.resets);
    drop(h);
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}
