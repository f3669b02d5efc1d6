//! Corners of the control API and its per-tunnel counters, end to end on
//! a running `geneve-gw run`: the per-connection limit of requests in
//! flight (spoken as raw HTTP/2 frames, so the client does not queue for
//! us), the counters of a tunnel with an IPv6 remote, and encap drops
//! counted under the tunnel that chose the template.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::api::{drop_count, u, Gw};
use common::gw::Ports;
use common::skip;
use serde_json::{json, Value};

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

/// Frames for the IPv6 tunnel, built by scapy: small frames to the
/// tunnel's static MAC (encapsulated), frames too big for its MTU (UDP,
/// not segmentable: dropped), Geneve over IPv6 from its remote
/// (decapsulated). Prints what its counters must read: encap bytes are
/// the frame plus the outer headers on the wire (Ethernet 14, IPv6 40,
/// UDP 8, Geneve 8 without options: RFC 8926 section 3.1), decap bytes
/// the inner frame as delivered (untagged segment).
const IPV6_TRAFFIC: &str = r#"
import json, sys
from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
acc_pcap, ul_pcap = sys.argv[1], sys.argv[2]
OUTER = 14 + 40 + 8 + 8
def inner(dst, i, size):
    return (Ether(src="02:33:00:00:00:03", dst=dst) / IP(src="198.19.0.1", dst="198.19.0.2")
            / UDP(sport=4000 + i, dport=9) / Raw(b"c" * size))
acc, ul = [], []
want = dict(encap_packets=0, encap_bytes=0, decap_packets=0, decap_bytes=0, too_big=0)
for i in range(40):
    f = inner("02:66:00:00:00:06", i, 20 + i % 9)
    acc.append(f)
    want["encap_packets"] += 1
    want["encap_bytes"] += len(f) + OUTER
    if i % 4 == 0:
        # 1514 bytes: over the 1500-byte underlay less the outer headers.
        acc.append(inner("02:66:00:00:00:06", i, 1500 - 28))
        want["too_big"] += 1
for i in range(25):
    f = inner("02:44:00:00:00:04", i, 30 + i % 5)
    ul.append(Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
              / IPv6(src="2001:db8:18::2", dst="2001:db8:18::1")
              / UDP(sport=50000 + i, dport=6081) / GENEVE(vni=600, proto=0x6558) / f)
    want["decap_packets"] += 1
    want["decap_bytes"] += len(f)
assert all(len(f) <= 1514 for f in acc)
wrpcap(acc_pcap, acc)
wrpcap(ul_pcap, ul)
print(json.dumps(want))
"#;

/// A tunnel with an IPv6 remote counts its own packets and bytes, encap
/// and decap, exactly as scapy built them, read through the API
/// (`ctl counters --tunnel`); the frames too big for its MTU count under
/// the tunnel's `encap_drops` and under the global `encap_too_big`
/// alike, and nothing else is dropped.
#[test]
fn ipv6_tunnel_counts_its_packets_bytes_and_encap_drops() {
    if !common::have_scapy() {
        return skip(
            "ipv6_tunnel_counts_its_packets_bytes_and_encap_drops: needs python3 with scapy",
        );
    }
    let dir = common::scratch("api-ipv6-counters");
    let (acc_in, ul_in) = (dir.join("acc_in.pcap"), dir.join("ul_in.pcap"));
    let want = common::json(&common::run_ok(Command::new("python3").args([
        "-c",
        IPV6_TRAFFIC,
        acc_in.to_str().unwrap(),
        ul_in.to_str().unwrap(),
    ])));
    let prefix = format!("gwtest-{}-api-v6cnt", std::process::id());
    let ul = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        ul_in.display(),
        dir.join("ul_out.pcap").display()
    );
    let acc = format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        acc_in.display(),
        dir.join("acc_out.pcap").display()
    );
    let mut ports = Ports::new(&ul, &acc, &prefix);
    ports.access_mtu = 1500;
    let tables = r#"
vtep:
  ipv6: 2001:db8:18::1/64
  next_hops:
    - { via: 2001:db8:18::fe, mac: "02:00:00:00:00:fe", destinations: [2001:db8:18::/64] }
tunnels:
  - { name: t6, remote: "2001:db8:18::2", vni: 600 }
l2:
  learning: false
  segments:
    - { name: seg, port: acc, vni: 600, flood: [], static_macs: [ { mac: "02:66:00:00:00:06", remote: "2001:db8:18::2" } ] }
decap:
  - { vni: 600, port: acc }
"#;
    let g = Gw::start(&dir, "ipv6 counters", ports, tables);
    let w = |k: &str| want[k].as_u64().unwrap();
    let start = Instant::now();
    let mut c = Value::Null;
    while start.elapsed() < Duration::from_secs(60) {
        c = g.json(&["counters"]);
        if u(&c, "encap") >= w("encap_packets")
            && u(&c, "decap") >= w("decap_packets")
            && drop_count(&c, "encap_too_big") >= w("too_big")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(u(&c, "encap"), w("encap_packets"), "{c}");
    assert_eq!(u(&c, "decap"), w("decap_packets"), "{c}");
    assert_eq!(drop_count(&c, "encap_too_big"), w("too_big"), "{c}");
    assert_eq!(
        u(&c, "drops_total"),
        w("too_big"),
        "nothing dropped but the frames too big: {c}"
    );
    let t = g.json(&["counters", "--tunnel", "t6"]);
    let t = &t["tunnel"];
    assert_eq!(t["name"], "t6", "{t}");
    for k in [
        "encap_packets",
        "encap_bytes",
        "decap_packets",
        "decap_bytes",
    ] {
        assert_eq!(u(t, k), w(k), "t6 {k}: {t}");
    }
    assert_eq!(u(t, "encap_drops"), w("too_big"), "t6 encap_drops: {t}");
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// `limits.neighbors` holds against traffic: Geneve frames (scapy) on an
/// L3 VNI to ten inner destinations the gateway has to resolve, with room
/// for four. The tunnel's remote (on link, a configured next hop, which
/// always gets its entry) takes one; three destinations get an entry (and
/// an ARP request), the other seven are refused and counted (`neighbours not resolved (table full)` in the exit
/// report, and live in the API's table counters), the log says once which limit was hit, and every frame is a
/// counted `next_hop_unresolved` drop.
#[test]
fn neighbour_table_full_is_counted_and_logged_once() {
    if !common::have_scapy() {
        return skip("neighbour_table_full_is_counted_and_logged_once: needs python3 with scapy");
    }
    let dir = common::scratch("neighbours-full");
    let ul_in = dir.join("ul_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
       / IP(src="198.18.1.2", dst="198.18.0.1") / UDP(sport=50000, dport=6081, chksum=0)
       / GENEVE(vni=300, proto=0x0800) / IP(src="198.19.9.1", dst="198.19.0.%d" % (10 + i))
       / UDP(sport=1, dport=2) / Raw(b"n" * 20) for i in range(10)])
"#;
    common::run_ok(Command::new("python3").args(["-c", py, ul_in.to_str().unwrap()]));
    let prefix = format!("gwtest-{}-neigh-full", std::process::id());
    let ul = format!("net_pcap0,rx_pcap={}", ul_in.display());
    let acc = format!("net_pcap1,tx_pcap={}", dir.join("acc_out.pcap").display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/16
tunnels:
  - { name: t0, remote: 198.18.1.2, vni: 300 }
l3:
  access: { port: acc, ipv4: 198.19.0.1/24 }
  routes:
    - { prefix: 198.19.9.0/24, tunnel: t0 }
limits: { neighbors: 4 }
"#;
    let g = Gw::start(&dir, "neighbours", Ports::new(&ul, &acc, &prefix), tables);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30)
        && drop_count(&g.json(&["counters"]), "next_hop_unresolved") < 10
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    // The control thread handles the workers' requests between its turns.
    std::thread::sleep(Duration::from_secs(1));
    let c = g.json(&["counters"]);
    assert_eq!(drop_count(&c, "next_hop_unresolved"), 10, "{c}");
    // The same live, per table: entries, the bound and what it refused;
    // a table the file does not bound shows no limit.
    let table = |name: &str| {
        c["tables"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["table"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no table {name} in {c}"))
    };
    let n = table("arp_nd_cache");
    assert_eq!(
        (&n["entries"], &n["limit"], &n["has_limit"], &n["refused"]),
        (&json!(4), &json!(4), &json!(true), &json!(7)),
        "{c}"
    );
    let t = table("tunnels");
    assert_eq!(
        (&t["entries"], &t["has_limit"]),
        (&json!(1), &json!(false)),
        "{c}"
    );
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l == "neighbours not resolved (table full) 7"),
        "{}",
        r.stdout
    );
    let logged: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("neighbour table full"))
        .collect();
    assert_eq!(logged.len(), 1, "{}", r.stderr);
    assert!(logged[0].contains("limits.neighbors (4)"), "{}", logged[0]);
}
