//! What a running gateway shows the outside: one snapshot of its counters,
//! drop reasons, residence-time percentiles and table sizes, refreshed by the
//! control thread, read by the DPDK telemetry callbacks and the Prometheus
//! endpoint (never by the workers).
//!
//! The Prometheus endpoint is hyper's HTTP/1 server on a one-thread tokio
//! runtime of its own (the `prometheus` thread, never a worker core). Tokio
//! serves every connection as a task, so one slow client holds no other;
//! each connection has a whole-request deadline (`REQUEST_DEADLINE`, from
//! accept to the last byte of the answer, plus hyper's header-read timeout),
//! carries one request (no keep-alive), and at most `MAX_CONNECTIONS` are
//! open: the oldest is closed to admit a new one, so held or slow-loris
//! connections cannot keep a scrape out. The metrics themselves already live
//! in the workers' counter blocks, so a metrics-registry crate would only
//! duplicate them: the text is written here.
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::dataplane::latency::Percentiles;
use crate::tunnel::DropReason;

/// One port's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSnapshot {
    pub name: String,
    pub id: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

/// Everything a running gateway reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub uptime_s: f64,
    pub workers: usize,
    pub ports: Vec<PortSnapshot>,
    pub encap: u64,
    pub decap: u64,
    /// Of `encap` and `decap`: VXLAN (the rest is Geneve).
    pub vxlan_encap: u64,
    pub vxlan_decap: u64,
    /// Decapsulated frames sent on through another tunnel (stitching).
    pub stitched: u64,
    /// Stitched frames whose Geneve options did not cross into VXLAN.
    pub options_not_carried: u64,
    pub punted: u64,
    pub geneve_control: u64,
    pub learn_refused: u64,
    pub event_queue_full: u64,
    pub control_replies: u64,
    /// Every drop reason, zero or not, in `DropReason::ALL` order.
    pub drops: Vec<(DropReason, u64)>,
    /// Residence time since start; None when not measured (`metrics.latency: false`).
    pub latency: Option<Percentiles>,
    /// Every table: entries, limit and what the limit turned away.
    pub tables: Vec<TableStat>,
    /// Per-tunnel series (`metrics.top_tunnels`: the tunnels with the most
    /// traffic, at most that many; empty by default).
    pub tunnels: Vec<(String, crate::dataplane::stats::TunnelCounters)>,
}

/// One of the gateway's tables: its entries now and, for a table the
/// file bounds (`limits.mac_table_size`, `limits.neighbors`,
/// `limits.flow_table_size`), the bound and how many entries the full
/// table turned away since start: MACs not learned, inner destinations
/// not resolved, flow ids evicted (the oldest, to make room). An operator
/// sees a table fill up live (telemetry, Prometheus, the API), not only
/// in the exit report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableStat {
    pub name: &'static str,
    pub entries: u64,
    pub limit: Option<u64>,
    pub refused: u64,
}

impl TableStat {
    /// A table without a bound of its own.
    pub fn unbounded(name: &'static str, entries: u64) -> TableStat {
        TableStat {
            name,
            entries,
            limit: None,
            refused: 0,
        }
    }

    /// A table bounded at `limit` that turned `refused` entries away.
    pub fn bounded(name: &'static str, entries: u64, limit: u64, refused: u64) -> TableStat {
        TableStat {
            name,
            entries,
            limit: Some(limit),
            refused,
        }
    }
}

impl Snapshot {
    pub fn drops_total(&self) -> u64 {
        self.drops.iter().map(|d| d.1).sum()
    }
}

static CURRENT: ArcSwapOption<Snapshot> = ArcSwapOption::const_empty();

/// The exit report's per-encapsulation lines: the `encap` and `decap`
/// totals split into Geneve and VXLAN, then the stitched frames and the
/// options that did not cross. `[vxlan encap, vxlan decap, stitched,
/// options not carried]`.
pub fn print_encapsulations(encap: u64, decap: u64, v: [u64; 4]) {
    println!("encap geneve {} vxlan {}", encap.saturating_sub(v[0]), v[0]);
    println!("decap geneve {} vxlan {}", decap.saturating_sub(v[1]), v[1]);
    println!("stitched {}", v[2]);
    println!("options not carried {}", v[3]);
}

/// Makes `s` what telemetry and Prometheus show.
pub fn publish(s: Snapshot) {
    CURRENT.store(Some(Arc::new(s)));
}

/// The latest snapshot, if the gateway published one.
pub fn current() -> Option<Arc<Snapshot>> {
    CURRENT.load_full()
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition format (version 0.0.4).
pub fn prometheus_text(s: &Snapshot) -> String {
    let mut o = String::with_capacity(4096);
    let head = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    head(
        &mut o,
        "geneve_gw_uptime_seconds",
        "gauge",
        "Seconds since the gateway started forwarding.",
    );
    let _ = writeln!(o, "geneve_gw_uptime_seconds {:.3}", s.uptime_s);
    head(
        &mut o,
        "geneve_gw_workers",
        "gauge",
        "Worker cores forwarding packets.",
    );
    let _ = writeln!(o, "geneve_gw_workers {}", s.workers);
    type PortField = fn(&PortSnapshot) -> u64;
    let port_metrics: [(&str, &str, PortField); 3] = [
        (
            "geneve_gw_port_rx_packets_total",
            "Packets received on a port.",
            |p| p.rx_packets,
        ),
        (
            "geneve_gw_port_tx_packets_total",
            "Packets sent on a port.",
            |p| p.tx_packets,
        ),
        (
            "geneve_gw_port_tx_dropped_total",
            "Packets the port refused on TX (freed and counted).",
            |p| p.tx_dropped,
        ),
    ];
    for (name, help, f) in port_metrics {
        head(&mut o, name, "counter", help);
        for p in &s.ports {
            let _ = writeln!(
                o,
                "{name}{{port=\"{}\",port_id=\"{}\"}} {}",
                escape_label(&p.name),
                p.id,
                f(p)
            );
        }
    }
    for (name, help, v) in [
        (
            "geneve_gw_encap_packets_total",
            "Packets encapsulated (flood copies included).",
            s.encap,
        ),
        (
            "geneve_gw_decap_packets_total",
            "Packets decapsulated and delivered.",
            s.decap,
        ),
        (
            "geneve_gw_punted_packets_total",
            "Packets handed to the control thread (ARP, ND, ICMP, O bit).",
            s.punted,
        ),
        (
            "geneve_gw_geneve_control_packets_total",
            "Geneve control packets (O bit) received.",
            s.geneve_control,
        ),
        (
            "geneve_gw_learn_refused_total",
            "Source MACs refused for learning (multicast, broadcast, all-zero, from our own address).",
            s.learn_refused,
        ),
        (
            "geneve_gw_event_queue_full_total",
            "Learning, resolve and flow-id events the control thread's full queue did not take.",
            s.event_queue_full,
        ),
        (
            "geneve_gw_control_replies_total",
            "ARP/ND/ICMP replies the control thread sent.",
            s.control_replies,
        ),
    ] {
        head(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name} {v}");
    }
    // Per encapsulation: the totals above split into Geneve and VXLAN.
    for (name, help, total, vxlan) in [
        (
            "geneve_gw_tunnel_encap_packets_total",
            "Packets encapsulated, by tunnel header.",
            s.encap,
            s.vxlan_encap,
        ),
        (
            "geneve_gw_tunnel_decap_packets_total",
            "Packets decapsulated to an access port, by tunnel header.",
            s.decap,
            s.vxlan_decap,
        ),
    ] {
        head(&mut o, name, "counter", help);
        let _ = writeln!(
            o,
            "{name}{{encapsulation=\"geneve\"}} {}",
            total.saturating_sub(vxlan)
        );
        let _ = writeln!(o, "{name}{{encapsulation=\"vxlan\"}} {vxlan}");
    }
    for (name, help, v) in [
        (
            "geneve_gw_stitched_packets_total",
            "Decapsulated frames sent on through a tunnel of another mesh group (VXLAN to Geneve and back).",
            s.stitched,
        ),
        (
            "geneve_gw_options_not_carried_total",
            "Stitched frames whose Geneve options were not carried into VXLAN.",
            s.options_not_carried,
        ),
    ] {
        head(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name} {v}");
    }
    head(
        &mut o,
        "geneve_gw_drops_total",
        "counter",
        "Packets dropped, by reason.",
    );
    for (r, n) in &s.drops {
        let _ = writeln!(o, "geneve_gw_drops_total{{reason=\"{r}\"}} {n}");
    }
    // What each reason means, from the one table of drop reasons: a
    // dashboard can join it on `reason` to explain a counter.
    head(
        &mut o,
        "geneve_gw_drop_reason_info",
        "gauge",
        "What each drop reason means (help label); the value is always 1.",
    );
    for (r, _) in &s.drops {
        let _ = writeln!(
            o,
            "geneve_gw_drop_reason_info{{reason=\"{r}\",help=\"{}\"}} 1",
            escape_label(r.help())
        );
    }
    if let Some(l) = &s.latency {
        let name = "geneve_gw_residence_seconds";
        head(
            &mut o,
            name,
            "summary",
            "Time a packet spends in the gateway, RX burst to TX burst, since start.",
        );
        let sec = |ns: u64| ns as f64 / 1e9;
        for (q, v) in [
            ("0.5", l.p50_ns),
            ("0.99", l.p99_ns),
            ("0.999", l.p999_ns),
            ("1", l.max_ns),
        ] {
            let _ = writeln!(o, "{name}{{quantile=\"{q}\"}} {:e}", sec(v));
        }
        let _ = writeln!(o, "{name}_sum {:e}", l.mean_ns * l.samples as f64 / 1e9);
        let _ = writeln!(o, "{name}_count {}", l.samples);
    }
    head(
        &mut o,
        "geneve_gw_table_entries",
        "gauge",
        "Entries in the gateway's tables.",
    );
    for t in &s.tables {
        let _ = writeln!(
            o,
            "geneve_gw_table_entries{{table=\"{}\"}} {}",
            t.name, t.entries
        );
    }
    head(
        &mut o,
        "geneve_gw_table_limit",
        "gauge",
        "The bound the configuration puts on a table (limits.*).",
    );
    for t in &s.tables {
        if let Some(l) = t.limit {
            let _ = writeln!(o, "geneve_gw_table_limit{{table=\"{}\"}} {l}", t.name);
        }
    }
    head(
        &mut o,
        "geneve_gw_table_refused_total",
        "counter",
        "Entries a full table turned away: MACs not learned, inner destinations not resolved, flow ids evicted.",
    );
    for t in s.tables.iter().filter(|t| t.limit.is_some()) {
        let _ = writeln!(
            o,
            "geneve_gw_table_refused_total{{table=\"{}\"}} {}",
            t.name, t.refused
        );
    }
    tunnel_series(&mut o, &s.tunnels);
    o
}

/// The per-tunnel series: only the tunnels `metrics.top_tunnels` chose
/// (none by default), so a million tunnels add nothing to a scrape.
fn tunnel_series(o: &mut String, tunnels: &[(String, crate::dataplane::stats::TunnelCounters)]) {
    if tunnels.is_empty() {
        return;
    }
    type Field = fn(&crate::dataplane::stats::TunnelCounters) -> u64;
    let series: [(&str, &str, &str, Field); 5] = [
        ("geneve_gw_per_tunnel_packets_total", "Packets of one tunnel (the top tunnels by traffic, metrics.top_tunnels), by direction.", "encap", |c| c.encap_packets),
        ("geneve_gw_per_tunnel_packets_total", "", "decap", |c| c.decap_packets),
        ("geneve_gw_per_tunnel_bytes_total", "Bytes of one tunnel (outer headers included on encap, the inner frame on decap), by direction.", "encap", |c| c.encap_bytes),
        ("geneve_gw_per_tunnel_bytes_total", "", "decap", |c| c.decap_bytes),
        ("geneve_gw_per_tunnel_encap_drops_total", "Packets dropped after one tunnel's template was chosen.", "", |c| c.encap_drops),
    ];
    for (name, help, dir, f) in series {
        if !help.is_empty() {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
        }
        for (t, c) in tunnels {
            let t = escape_label(t);
            if dir.is_empty() {
                let _ = writeln!(o, "{name}{{tunnel=\"{t}\"}} {}", f(c));
            } else {
                let _ = writeln!(o, "{name}{{tunnel=\"{t}\",direction=\"{dir}\"}} {}", f(c));
            }
        }
    }
}

/// How long one connection may take, from accept to the last byte of the
/// answer: a client that sends its request slowly (or never) is cut here.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Connections open at once. When one more arrives, the oldest is closed:
/// idle or slow clients cannot keep a fresh scrape out.
pub const MAX_CONNECTIONS: usize = 128;
/// Largest request head read (the request line and headers).
const MAX_REQUEST_BYTES: usize = 16384;

/// The Prometheus endpoint: a thread answering `GET /metrics` (and `/`).
pub struct PrometheusServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl PrometheusServer {
    /// Listens on `addr`; a bind failure is a clear one-line error.
    pub fn start(addr: SocketAddr) -> Result<PrometheusServer, String> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| format!("metrics.prometheus: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().unwrap_or(addr);
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("metrics.prometheus: {addr}: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("metrics.prometheus: cannot start its runtime: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("prometheus".into())
            .spawn(move || rt.block_on(serve(listener, flag)))
            .map_err(|e| format!("metrics.prometheus: cannot start its thread: {e}"))?;
        Ok(PrometheusServer {
            stop,
            thread: Some(thread),
            addr: local,
        })
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts connections until `stop`; each is served on its own task, under
/// the whole-request deadline, and at most `MAX_CONNECTIONS` are open.
async fn serve(listener: TcpListener, stop: Arc<AtomicBool>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut open: VecDeque<tokio::task::JoinHandle<()>> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        let conn = match tokio::time::timeout(Duration::from_millis(50), listener.accept()).await {
            Err(_) => continue,
            Ok(Ok((conn, _))) => conn,
            // Out of descriptors or the like: make room and try again.
            Ok(Err(_)) => {
                if let Some(old) = open.pop_front() {
                    old.abort();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        open.retain(|t| !t.is_finished());
        while open.len() >= MAX_CONNECTIONS {
            if let Some(old) = open.pop_front() {
                old.abort();
            }
        }
        open.push_back(tokio::spawn(serve_conn(conn)));
    }
    for t in open {
        t.abort();
    }
}

/// One request and its answer, then close; all within `REQUEST_DEADLINE`.
async fn serve_conn(conn: tokio::net::TcpStream) {
    let service = service_fn(|req: Request<Incoming>| async move {
        Ok::<_, std::convert::Infallible>(answer(req.method(), req.uri().path()))
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(REQUEST_DEADLINE)
        .keep_alive(false)
        // Header names as before (Content-Type, Content-Length, Connection).
        .title_case_headers(true)
        .max_buf_size(MAX_REQUEST_BYTES);
    let served = http.serve_connection(TokioIo::new(conn), service);
    let _ = tokio::time::timeout(REQUEST_DEADLINE, served).await;
}

fn answer(method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, body) = if method != Method::GET {
        (StatusCode::METHOD_NOT_ALLOWED, "only GET\n".to_string())
    } else if path == "/metrics" || path == "/" {
        match current() {
            Some(s) => (StatusCode::OK, prometheus_text(&s)),
            None => (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_string()),
        }
    } else {
        (StatusCode::NOT_FOUND, "try /metrics\n".to_string())
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn sample() -> Snapshot {
        Snapshot {
            uptime_s: 1.5,
            workers: 1,
            ports: vec![PortSnapshot {
                name: "ul\"x".into(),
                id: 0,
                rx_packets: 7,
                tx_packets: 5,
                tx_dropped: 1,
            }],
            encap: 3,
            decap: 2,
            vxlan_encap: 1,
            stitched: 5,
            drops: vec![(DropReason::NoRoute, 4), (DropReason::TxFull, 0)],
            latency: Some(Percentiles {
                samples: 10,
                min_ns: 100,
                p50_ns: 1000,
                p99_ns: 2000,
                p999_ns: 3000,
                max_ns: 4000,
                mean_ns: 1500.0,
            }),
            tables: vec![
                TableStat::unbounded("tunnels", 2),
                TableStat::bounded("neighbors", 4, 4, 7),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn prometheus_text_has_help_type_and_values() {
        let t = prometheus_text(&sample());
        for want in [
            "# TYPE geneve_gw_port_rx_packets_total counter",
            "geneve_gw_port_rx_packets_total{port=\"ul\\\"x\",port_id=\"0\"} 7",
            "geneve_gw_port_tx_dropped_total{port=\"ul\\\"x\",port_id=\"0\"} 1",
            "geneve_gw_encap_packets_total 3",
            "geneve_gw_tunnel_encap_packets_total{encapsulation=\"geneve\"} 2",
            "geneve_gw_tunnel_encap_packets_total{encapsulation=\"vxlan\"} 1",
            "geneve_gw_tunnel_decap_packets_total{encapsulation=\"geneve\"} 2",
            "geneve_gw_tunnel_decap_packets_total{encapsulation=\"vxlan\"} 0",
            "geneve_gw_stitched_packets_total 5",
            "geneve_gw_options_not_carried_total 0",
            "geneve_gw_drops_total{reason=\"no_route\"} 4",
            "geneve_gw_drops_total{reason=\"tx_full\"} 0",
            "geneve_gw_drop_reason_info{reason=\"no_route\",help=\"L3: no route for the inner destination.\"} 1",
            "# TYPE geneve_gw_residence_seconds summary",
            "geneve_gw_residence_seconds{quantile=\"0.5\"} 1e-6",
            "geneve_gw_residence_seconds_count 10",
            "geneve_gw_table_entries{table=\"tunnels\"} 2",
            "geneve_gw_table_entries{table=\"neighbors\"} 4",
            "geneve_gw_table_limit{table=\"neighbors\"} 4",
            "# TYPE geneve_gw_table_refused_total counter",
            "geneve_gw_table_refused_total{table=\"neighbors\"} 7",
        ] {
            assert!(t.lines().any(|l| l == want), "missing {want:?} in:\n{t}");
        }
        // A table without a bound has no limit and no refusals to show.
        assert!(!t.contains("table_limit{table=\"tunnels\"}"), "{t}");
        assert!(!t.contains("table_refused_total{table=\"tunnels\"}"), "{t}");
        // Every sample line belongs to a metric announced by HELP and TYPE.
        for l in t.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(t.contains(&format!("# TYPE {base} ")), "{l}");
            assert!(t.contains(&format!("# HELP {base} ")), "{l}");
        }
    }

    #[test]
    fn per_tunnel_series_are_only_the_chosen_ones() {
        use crate::dataplane::stats::TunnelCounters;
        // The default: no per-tunnel series at all.
        let t = prometheus_text(&sample());
        assert!(!t.contains("per_tunnel"), "{t}");
        assert!(!t.contains("tunnel=\""), "{t}");
        let mut s = sample();
        let c = |p: u64| TunnelCounters {
            encap_packets: p,
            encap_bytes: 100 * p,
            encap_drops: 1,
            decap_packets: 2 * p,
            decap_bytes: 50 * p,
        };
        s.tunnels = vec![("dc\"2".into(), c(3)), ("dc3".into(), c(1))];
        let t = prometheus_text(&s);
        for want in [
            "geneve_gw_per_tunnel_packets_total{tunnel=\"dc\\\"2\",direction=\"encap\"} 3",
            "geneve_gw_per_tunnel_packets_total{tunnel=\"dc\\\"2\",direction=\"decap\"} 6",
            "geneve_gw_per_tunnel_bytes_total{tunnel=\"dc3\",direction=\"encap\"} 100",
            "geneve_gw_per_tunnel_bytes_total{tunnel=\"dc3\",direction=\"decap\"} 50",
            "geneve_gw_per_tunnel_encap_drops_total{tunnel=\"dc3\"} 1",
        ] {
            assert!(t.lines().any(|l| l == want), "missing {want:?} in:\n{t}");
        }
        // Exactly the two tunnels, five samples each.
        assert_eq!(t.lines().filter(|l| l.contains("tunnel=\"")).count(), 10);
        for l in t.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert_eq!(t.matches(&format!("# TYPE {base} ")).count(), 1, "{l}");
        }
    }

    #[test]
    fn endpoint_serves_the_published_snapshot() {
        let srv = PrometheusServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        publish(sample());
        let mut c = TcpStream::connect(srv.addr).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        c.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("geneve_gw_encap_packets_total 3"), "{resp}");
        let mut c = TcpStream::connect(srv.addr).unwrap();
        c.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
        let mut resp = String::new();
        c.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
        // A second listener on the same address fails with a clear error.
        let e = PrometheusServer::start(srv.addr).err().unwrap();
        assert!(e.contains("cannot listen on"), "{e}");
    }
}
