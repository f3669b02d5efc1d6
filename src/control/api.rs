//! The live control API (gRPC, `proto/geneve_gw.proto`) of `geneve-gw run`.
//!
//! It runs on a thread of its own with a one-thread tokio runtime (like the
//! Prometheus server), never on a worker core, and never touches a table:
//! each request becomes a [`Job`] sent over a bounded channel to the
//! control thread, which runs it between its turns against the running
//! configuration and the table planner ([`Host`], implemented in
//! `cmd::run`) and answers over a oneshot channel. A full channel answers
//! RESOURCE_EXHAUSTED at once: the control thread, and so the data plane,
//! is never held up by clients.
//!
//! Listeners: a Unix socket at [`socket_path`] (mode 0600, derived from
//! the EAL file prefix) always; TCP only when `api.listen_tcp` is set.
//! Safety limits: requests over [`MAX_REQUEST_BYTES`] are refused
//! (tonic's `max_decoding_message_size`), at most [`MAX_CONNECTIONS`]
//! connections are open (one more is closed at once), each with at most
//! [`MAX_STREAMS`] requests in flight, and a request gets
//! [`REQUEST_TIMEOUT`] in all; a connection that sends nothing for
//! [`IDLE`] (not even the answer to a keep-alive ping) is closed, so a
//! flood of idle connections holds the slots for seconds, not for ever. A malformed message is tonic's
//! INVALID_ARGUMENT/INTERNAL and touches nothing.
//!
//! The crates: tonic + prost (the maintained gRPC stack on tokio/hyper,
//! which the gateway already uses for Prometheus); the .proto is compiled
//! in `build.rs` by protox (a protobuf compiler written in Rust), so no
//! system `protoc` is needed. grpcio (C core) was the other choice: a
//! second runtime and a C++ build for the same thing.
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{Sender, TrySendError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::{Request, Response, Status};

use super::api_proto as pb;
use super::pages;
use crate::config::edit::{
    Edit, EditError, EditErrorKind, OptionSpec, PolicySpec, SegmentSpec, TunnelSpec,
};
use crate::config::{self, Config, IpPrefix, Payload};
use crate::wire::ethernet::MacDisplay;

/// Largest request accepted (a transaction of tens of thousands of changes).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// Largest reply (a page of 100,000 routes fits).
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// Connections open at once, per listener.
pub const MAX_CONNECTIONS: usize = 32;
/// Requests in flight per connection.
pub const MAX_STREAMS: u32 = 8;
/// A connection the peer sent nothing on for this long is closed.
pub const IDLE: Duration = Duration::from_secs(10);
/// The server's HTTP/2 keep-alive pings, well inside [`IDLE`].
const KEEPALIVE: Duration = Duration::from_secs(3);
/// Deadline of one request (a reload of a large file included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopping gateway waits for its API clients to hang up.
const STOP_GRACE: Duration = Duration::from_millis(500);
/// Requests waiting for the control thread.
pub const QUEUE: usize = 64;
/// Default and largest page of a List.
pub const PAGE: usize = 1000;
pub const MAX_PAGE: usize = 100_000;

/// A learned MAC as the API lists it: (segment, MAC, remote, seconds
/// since learned).
pub type LearnedMac = (usize, [u8; 6], IpAddr, f64);

/// What the control thread offers the API.
pub trait Host {
    /// The running configuration.
    fn config(&self) -> &Config;
    /// Applies `edits` all or nothing and publishes them as one batch.
    fn apply(&mut self, edits: Vec<Edit>, transaction: bool) -> Result<pb::ChangeReply, Status>;
    /// The workers' counters, summed; with those of one tunnel or VNI.
    fn counters(&self, tunnel: Option<&str>, vni: Option<u32>) -> Result<pb::Counters, Status>;
    /// Learned MACs: (segment, MAC, remote, seconds since learned).
    fn learned(&self) -> Vec<(usize, [u8; 6], IpAddr, f64)>;
    /// Forgets the learned MACs of `segment` (all when None).
    fn flush_learned(&mut self, segment: Option<usize>) -> u64;
    /// Resolved neighbours.
    fn neighbors(&self) -> Vec<(IpAddr, [u8; 6])>;
    /// The indexes of the running configuration (by name, prefix, MAC).
    fn editor(&self) -> &config::edit::Editor;
    /// One page of learned MACs in (segment, MAC) order, strictly after
    /// `after` (None: a new listing), of `segment` or all: the entries,
    /// whether more may follow, how many there are.
    fn learned_page(
        &mut self,
        after: Option<(usize, [u8; 6])>,
        segment: Option<usize>,
        size: usize,
    ) -> (Vec<LearnedMac>, bool, u64);
    /// One page of neighbours in address order, strictly after `after`.
    fn neighbors_page(
        &mut self,
        after: Option<IpAddr>,
        size: usize,
    ) -> (Vec<(IpAddr, [u8; 6])>, bool, u64);
    /// Sets a neighbour's MAC.
    fn add_neighbor(&mut self, ip: IpAddr, mac: [u8; 6]) -> Result<pb::ChangeReply, Status>;
    /// Reloads the configuration file; `done` gets what changed.
    fn reload(&mut self, done: Box<dyn FnOnce(Result<String, String>) + Send>);
    /// The file the gateway was started with.
    fn config_path(&self) -> String;
}

/// One request, run by the control thread.
pub type Job = Box<dyn FnOnce(&mut dyn Host) + Send>;

/// The API socket of the gateway with this EAL file prefix:
/// `/var/run/geneve-gw/<prefix>.sock` for root, else under
/// `$XDG_RUNTIME_DIR/geneve-gw` or `/tmp/geneve-gw-<uid>`;
/// `GENEVE_GW_API_DIR` replaces the directory.
pub fn socket_path(file_prefix: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let dir = match std::env::var_os("GENEVE_GW_API_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
            if uid == 0 {
                PathBuf::from("/var/run/geneve-gw")
            } else {
                std::env::var_os("XDG_RUNTIME_DIR")
                    .map(|d| PathBuf::from(d).join("geneve-gw"))
                    .unwrap_or_else(|| PathBuf::from(format!("/tmp/geneve-gw-{uid}")))
            }
        }
    };
    dir.join(format!("{file_prefix}.sock"))
}

/// The EAL file prefix in `args` (DPDK's default `rte`).
pub fn file_prefix(args: &[String]) -> String {
    let mut prefix = "rte".to_string();
    for (i, a) in args.iter().enumerate() {
        if a == "--file-prefix" {
            if let Some(p) = args.get(i + 1) {
                prefix = p.clone();
            }
        } else if let Some(p) = a.strip_prefix("--file-prefix=") {
            prefix = p.to_string();
        }
    }
    prefix
}

/// The running API server; dropping it stops it and removes its socket.
pub struct ApiServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub socket: PathBuf,
    pub tcp: Option<SocketAddr>,
}

impl ApiServer {
    /// Listens on `socket` (and `tcp`); requests go to `jobs`.
    pub fn start(
        socket: &Path,
        tcp: Option<SocketAddr>,
        jobs: Sender<Job>,
    ) -> Result<ApiServer, String> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("api: cannot make {}: {e}", dir.display()))?;
        }
        // A socket left by a gateway that died: nobody answers on it.
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(format!(
                "api: {} is in use: another gateway runs with this EAL file prefix",
                socket.display()
            ));
        }
        let _ = std::fs::remove_file(socket);
        let uds = std::os::unix::net::UnixListener::bind(socket)
            .map_err(|e| format!("api: cannot listen on {}: {e}", socket.display()))?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("api: {}: {e}", socket.display()))?;
        uds.set_nonblocking(true)
            .map_err(|e| format!("api: {}: {e}", socket.display()))?;
        let tcp_listener = match tcp {
            Some(a) => {
                let l = std::net::TcpListener::bind(a)
                    .map_err(|e| format!("api.listen_tcp: cannot listen on {a}: {e}"))?;
                l.set_nonblocking(true)
                    .map_err(|e| format!("api.listen_tcp: {a}: {e}"))?;
                Some(l)
            }
            None => None,
        };
        let tcp = tcp_listener.as_ref().and_then(|l| l.local_addr().ok());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("api: cannot start its runtime: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gw-api".into())
            .spawn(move || rt.block_on(serve(uds, tcp_listener, jobs, flag)))
            .map_err(|e| format!("api: cannot start its thread: {e}"))?;
        Ok(ApiServer {
            stop,
            thread: Some(thread),
            socket: socket.to_path_buf(),
            tcp,
        })
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A connection counted against [`MAX_CONNECTIONS`] while it lives, and
/// closed once nothing came from the peer for [`IDLE`]: a live client
/// answers the server's HTTP/2 keep-alive pings, a socket that only holds
/// a slot does not.
struct Capped<T> {
    io: T,
    open: Arc<AtomicUsize>,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl<T> Drop for Capped<T> {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + IDLE;
                    self.idle.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match std::future::Future::poll(self.idle.as_mut(), cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "idle API connection",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<T> tonic::transport::server::Connected for Capped<T> {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

/// Accepted connections as a stream for tonic, at most
/// [`MAX_CONNECTIONS`] open: one over the cap is closed at once.
fn capped<T, F, Fut>(
    mut accept: F,
    stop: Arc<AtomicBool>,
) -> impl tokio_stream::Stream<Item = std::io::Result<Capped<T>>>
where
    T: Send + 'static,
    F: FnMut() -> Fut + 'static,
    Fut: std::future::Future<Output = std::io::Result<T>>,
{
    let open = Arc::new(AtomicUsize::new(0));
    async_stream(move |yield_| async move {
        while !stop.load(Ordering::Relaxed) {
            let conn = match tokio::time::timeout(Duration::from_millis(100), accept()).await {
                Err(_) => continue,
                Ok(Err(_)) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Ok(Ok(c)) => c,
            };
            if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                drop(conn);
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            if yield_
                .send(Ok(Capped {
                    io: conn,
                    open: open.clone(),
                    idle: Box::pin(tokio::time::sleep(IDLE)),
                }))
                .await
                .is_err()
            {
                break;
            }
        }
    })
}

/// A stream fed by a task through a small channel (no macro crate).
fn async_stream<T: Send + 'static, G, Fut>(g: G) -> tokio_stream::wrappers::ReceiverStream<T>
where
    G: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::task::spawn_local(g(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn router(api: Api) -> tonic::transport::server::Router {
    macro_rules! svc {
        ($s:ty) => {
            <$s>::new(api.clone())
                .max_decoding_message_size(MAX_REQUEST_BYTES)
                .max_encoding_message_size(MAX_REPLY_BYTES)
        };
    }
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(MAX_STREAMS as usize)
        .max_concurrent_streams(Some(MAX_STREAMS))
        .timeout(REQUEST_TIMEOUT)
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(KEEPALIVE))
        .add_service(svc!(pb::tunnels_server::TunnelsServer<Api>))
        .add_service(svc!(pb::routes_server::RoutesServer<Api>))
        .add_service(svc!(pb::segments_server::SegmentsServer<Api>))
        .add_service(svc!(pb::static_macs_server::StaticMacsServer<Api>))
        .add_service(svc!(pb::learned_macs_server::LearnedMacsServer<Api>))
        .add_service(svc!(pb::decap_vnis_server::DecapVnisServer<Api>))
        .add_service(svc!(pb::option_registry_server::OptionRegistryServer<Api>))
        .add_service(svc!(pb::option_policies_server::OptionPoliciesServer<Api>))
        .add_service(svc!(pb::neighbors_server::NeighborsServer<Api>))
        .add_service(svc!(pb::transactions_server::TransactionsServer<Api>))
        .add_service(svc!(pb::stats_server::StatsServer<Api>))
        .add_service(svc!(pb::configuration_server::ConfigurationServer<Api>))
}

async fn serve(
    uds: std::os::unix::net::UnixListener,
    tcp: Option<std::net::TcpListener>,
    jobs: Sender<Job>,
    stop: Arc<AtomicBool>,
) {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let api = Api { jobs };
            let Ok(uds) = tokio::net::UnixListener::from_std(uds) else {
                eprintln!("api: the Unix socket did not register with the runtime");
                return;
            };
            let uds = Arc::new(uds);
            let s = stop.clone();
            let until = move |s: Arc<AtomicBool>| async move {
                while !s.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            let unix = router(api.clone()).serve_with_incoming_shutdown(
                capped(
                    move || {
                        let l = uds.clone();
                        async move { l.accept().await.map(|(c, _)| c) }
                    },
                    stop.clone(),
                ),
                until(s.clone()),
            );
            let tcp = tcp.and_then(|l| tokio::net::TcpListener::from_std(l).ok());
            let stop2 = stop.clone();
            let servers = async move {
                match tcp {
                    Some(l) => {
                        let l = Arc::new(l);
                        let t = router(api).serve_with_incoming_shutdown(
                            capped(
                                move || {
                                    let l = l.clone();
                                    async move {
                                        l.accept().await.map(|(c, _)| {
                                            let _ = c.set_nodelay(true);
                                            c
                                        })
                                    }
                                },
                                stop.clone(),
                            ),
                            until(s),
                        );
                        let (a, b) = tokio::join!(unix, t);
                        for r in [a, b] {
                            if let Err(e) = r {
                                eprintln!("api: {e}");
                            }
                        }
                    }
                    None => {
                        if let Err(e) = unix.await {
                            eprintln!("api: {e}");
                        }
                    }
                }
            };
            // A graceful shutdown waits for clients to hang up; a client
            // that never does must not hold the gateway's stop up.
            tokio::select! {
                _ = servers => {}
                _ = async {
                    until(stop2).await;
                    tokio::time::sleep(STOP_GRACE).await;
                } => {}
            }
        })
        .await;
}

/// Every service: hands the request to the control thread.
#[derive(Clone)]
struct Api {
    jobs: Sender<Job>,
}

impl Api {
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Host) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |h| {
            let _ = tx.send(f(h));
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(Status::resource_exhausted(
                    "the control thread has too many requests waiting; retry",
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Status::unavailable("the gateway is stopping"))
            }
        }
        match rx.await {
            Ok(r) => r.map(Response::new),
            Err(_) => Err(Status::unavailable("the gateway is stopping")),
        }
    }

    async fn change(&self, e: Edit) -> Result<Response<pb::ChangeReply>, Status> {
        self.call(move |h| h.apply(vec![e], false)).await
    }
}

/// A refused edit as a gRPC status.
pub fn edit_status(e: &EditError) -> Status {
    let m = e.to_string();
    match e.kind {
        EditErrorKind::Invalid => Status::invalid_argument(m),
        EditErrorKind::NotFound => Status::not_found(m),
        EditErrorKind::Dangling => Status::failed_precondition(m),
        EditErrorKind::Unsupported => Status::unimplemented(m),
        EditErrorKind::Limit => Status::failed_precondition(m),
    }
}

fn nonempty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A change of the API as an edit of the configuration.
pub fn edit_of(c: pb::change::Change) -> Edit {
    use pb::change::Change as C;
    match c {
        C::AddTunnel(t) => Edit::AddTunnel(tunnel_spec(t)),
        C::DeleteTunnel(n) => Edit::DeleteTunnel(n.name),
        C::AddRoute(r) => Edit::AddRoute {
            prefix: r.prefix,
            tunnel: r.tunnel,
        },
        C::DeleteRoute(p) => Edit::DeleteRoute(p.prefix),
        C::AddStaticMac(m) => Edit::AddStaticMac {
            segment: m.segment,
            mac: m.mac,
            remote: m.remote,
        },
        C::DeleteStaticMac(k) => Edit::DeleteStaticMac {
            segment: k.segment,
            mac: k.mac,
        },
        C::AddDecap(d) => Edit::AddDecap {
            vni: i64::from(d.vni),
            port: nonempty(d.port),
            vlan: (d.vlan != 0).then_some(i64::from(d.vlan)),
            allow_from: (!d.allow_from.is_empty()).then_some(d.allow_from),
        },
        C::DeleteDecap(v) => Edit::DeleteDecap(i64::from(v.vni)),
        C::SetFlood(f) => Edit::SetFlood {
            segment: f.segment,
            remotes: f.remotes,
        },
        C::AddOption(o) => Edit::AddOption {
            name: o.name,
            class: i64::from(o.class),
            type_: i64::from(o.r#type),
            length: (o.length != 0).then_some(i64::from(o.length)),
        },
        C::DeleteOption(o) => Edit::DeleteOption(o.name),
        C::AddPolicy(p) => Edit::AddPolicy(policy_spec(p)),
        C::DeletePolicy(p) => Edit::DeletePolicy(policy_spec(p)),
        C::AddSegment(s) => Edit::AddSegment(SegmentSpec {
            name: nonempty(s.name),
            port: s.port,
            vlan: (s.vlan != 0).then_some(i64::from(s.vlan)),
            vni: i64::from(s.vni),
            vxlan_vni: (s.vxlan_vni != 0).then_some(i64::from(s.vxlan_vni)),
            flood: s.flood,
        }),
        C::DeleteSegment(r) => Edit::DeleteSegment(r.segment),
    }
}

fn policy_spec(p: pb::OptionPolicy) -> PolicySpec {
    PolicySpec {
        kind: p.kind,
        option: p.option,
        vni: p.vni.map(i64::from),
        tunnel: nonempty(p.tunnel),
        allow: p.allow,
        deny: p.deny,
        default: nonempty(p.default_action),
    }
}

/// Every option policy of the configuration as the API shows it, in the
/// order of `OptionPolicyList`.
pub fn policies_pb(cfg: &Config) -> Vec<pb::OptionPolicy> {
    let o = &cfg.options;
    let one = |kind: &str, option: usize, scope: config::Scope| {
        let (vni, tunnel) = match scope {
            config::Scope::All => (None, String::new()),
            config::Scope::Vni(v) => (Some(v.get()), String::new()),
            config::Scope::Tunnel(i) => (None, cfg.tunnels[i].name.clone()),
        };
        pb::OptionPolicy {
            kind: kind.to_string(),
            option: o.registry[option].name.clone(),
            vni,
            tunnel,
            ..Default::default()
        }
    };
    let mut out = Vec::new();
    out.extend(o.require.iter().map(|r| one("require", r.option, r.scope)));
    out.extend(o.security_tags.iter().map(|t| {
        pb::OptionPolicy {
            allow: t.allow.iter().map(|v| hex(v)).collect(),
            deny: t.deny.iter().map(|v| hex(v)).collect(),
            default_action: match t.default {
                config::Action::Allow => "allow",
                config::Action::Deny => "deny",
            }
            .to_string(),
            ..one("security_tags", t.option, t.scope)
        }
    }));
    out.extend(
        o.flow_id_copy
            .iter()
            .map(|f| one("flow_id_copy", f.option, f.scope)),
    );
    out
}

fn tunnel_spec(t: pb::Tunnel) -> TunnelSpec {
    TunnelSpec {
        name: t.name,
        remote: t.remote,
        vni: i64::from(t.vni),
        encapsulation: nonempty(t.encapsulation),
        mesh: nonempty(t.mesh),
        options: t
            .options
            .into_iter()
            .map(|o| OptionSpec {
                name: nonempty(o.name),
                class: o.class.map(i64::from),
                type_: o.r#type.map(i64::from),
                data: o.data,
                critical: o.critical.then_some(true),
            })
            .collect(),
        udp_port: t.udp_port.map(i64::from),
        udp_checksum: nonempty(t.udp_checksum),
        accept_zero_checksum: t.accept_zero_checksum.then_some(true),
        ttl: nonempty(t.ttl),
        dscp: nonempty(t.dscp),
        source_ports: match (t.source_port_min, t.source_port_max) {
            (None, None) => None,
            (a, b) => Some((a.map_or(-1, i64::from), b.map_or(-1, i64::from))),
        },
    }
}

fn header_policy(p: config::HeaderPolicy) -> String {
    match p {
        config::HeaderPolicy::Fixed(n) => n.to_string(),
        config::HeaderPolicy::Inherit => "inherit".to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A tunnel of the configuration as the API shows it.
pub fn tunnel_pb(cfg: &Config, t: &config::Tunnel) -> pb::Tunnel {
    pb::Tunnel {
        name: t.name.clone(),
        remote: t.remote.to_string(),
        vni: t.vni.get(),
        encapsulation: t.encapsulation.as_str().to_string(),
        mesh: t.mesh.clone(),
        options: t
            .options
            .iter()
            .map(|o| pb::TunnelOption {
                name: cfg
                    .options
                    .registry
                    .iter()
                    .find(|d| d.class == o.class && d.type_ & 0x7f == o.typ & 0x7f)
                    .map(|d| d.name.clone())
                    .unwrap_or_default(),
                class: Some(u32::from(o.class)),
                r#type: Some(u32::from(o.typ)),
                data: hex(&o.data),
                critical: o.critical(),
            })
            .collect(),
        udp_port: Some(u32::from(t.udp_dst_port)),
        udp_checksum: match t.udp_checksum {
            config::UdpChecksum::Zero => "zero",
            config::UdpChecksum::Compute => "compute",
        }
        .to_string(),
        accept_zero_checksum: t.accept_zero_checksum,
        ttl: header_policy(t.ttl),
        dscp: header_policy(t.dscp),
        source_port_min: Some(u32::from(t.source_ports.0)),
        source_port_max: Some(u32::from(t.source_ports.1)),
    }
}

fn segment_name(cfg: &Config, i: usize) -> String {
    cfg.l2
        .as_ref()
        .and_then(|l| l.segments.get(i))
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| i.to_string())
}

fn decap_pb(cfg: &Config, d: &config::Decap) -> pb::Decap {
    pb::Decap {
        vni: d.vni.get(),
        port: cfg.ports[d.port].name.clone(),
        vlan: u32::from(d.vlan.unwrap_or(0)),
        allow_from: d
            .allow_from
            .iter()
            .flatten()
            .map(|a| a.to_string())
            .collect(),
        payload: match d.payload {
            Payload::Ethernet => "ethernet",
            Payload::Ip => "ip",
        }
        .to_string(),
        require: cfg
            .options
            .require
            .iter()
            .filter(|r| match r.scope {
                config::Scope::All => true,
                config::Scope::Vni(v) => v == d.vni,
                config::Scope::Tunnel(i) => cfg.tunnels[i].vni == d.vni,
            })
            .map(|r| cfg.options.registry[r.option].name.clone())
            .collect(),
    }
}

fn segment_pb(cfg: &Config, i: usize, s: &config::Segment) -> pb::Segment {
    pb::Segment {
        name: s.name.clone().unwrap_or_default(),
        index: i as u32,
        port: cfg.ports[s.port].name.clone(),
        vlan: u32::from(s.vlan.unwrap_or(0)),
        vni: s.vni.get(),
        vxlan_vni: s.vxlan_vni.get(),
        flood: s.flood.iter().map(|a| a.to_string()).collect(),
        static_macs: s.static_macs.len() as u64,
    }
}

fn option_pb(o: &config::OptionDef) -> pb::OptionDef {
    pb::OptionDef {
        name: o.name.clone(),
        class: u32::from(o.class),
        r#type: u32::from(o.type_),
        length: u32::from(o.length.unwrap_or(0)),
    }
}

/// The page size a request asks for.
fn page_size(req: &pb::ListRequest) -> Result<usize, Status> {
    match req.page_size as usize {
        0 => Ok(PAGE),
        n if n > MAX_PAGE => Err(Status::invalid_argument(format!(
            "page_size {n} is over {MAX_PAGE}"
        ))),
        n => Ok(n),
    }
}

/// One page of the segments (a short list, by index): from the position in
/// `page_token`, the next `page_size` items `keep` takes; the token of the
/// next page (empty at the end). The other lists page by key
/// (`control::pages`).
fn page<T, U>(
    items: &[T],
    req: &pb::ListRequest,
    keep: impl Fn(&T) -> bool,
    conv: impl Fn(&T) -> U,
) -> Result<(Vec<U>, String), Status> {
    let start = match req.page_token.as_str() {
        "" => 0,
        t => t.parse::<usize>().map_err(|_| {
            Status::invalid_argument(format!(
                "page_token `{t}` is not one this gateway gave; start with an empty one"
            ))
        })?,
    };
    let size = match req.page_size as usize {
        0 => PAGE,
        n if n > MAX_PAGE => {
            return Err(Status::invalid_argument(format!(
                "page_size {n} is over {MAX_PAGE}"
            )))
        }
        n => n,
    };
    let mut out = Vec::with_capacity(size.min(items.len()));
    let mut i = start.min(items.len());
    while i < items.len() && out.len() < size {
        if keep(&items[i]) {
            out.push(conv(&items[i]));
        }
        i += 1;
    }
    let next = if i < items.len() {
        i.to_string()
    } else {
        String::new()
    };
    Ok((out, next))
}

fn parse_prefix(s: &str, what: &str) -> Result<IpPrefix, Status> {
    let bad = || Status::invalid_argument(format!("{what}: `{s}` is not a prefix (198.19.0.0/16)"));
    let (a, l) = s.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let len: u8 = l.parse().map_err(|_| bad())?;
    if len > if addr.is_ipv4() { 32 } else { 128 } {
        return Err(bad());
    }
    Ok(IpPrefix::containing(addr, len))
}

fn parse_mac(s: &str) -> Result<[u8; 6], Status> {
    crate::wire::ethernet::parse_mac(s)
        .map_err(|e| Status::invalid_argument(format!("mac: `{s}`: {e}")))
}

fn segment(cfg: &Config, s: &str) -> Result<usize, Status> {
    config::edit::segment_index(cfg, s)
        .ok_or_else(|| Status::not_found(format!("segment: no segment `{s}`")))
}

#[tonic::async_trait]
impl pb::tunnels_server::Tunnels for Api {
    async fn add(&self, r: Request<pb::Tunnel>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::AddTunnel(tunnel_spec(r.into_inner())))
            .await
    }
    async fn delete(
        &self,
        r: Request<pb::TunnelName>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeleteTunnel(r.into_inner().name)).await
    }
    async fn get(&self, r: Request<pb::TunnelName>) -> Result<Response<pb::Tunnel>, Status> {
        let name = r.into_inner().name;
        self.call(move |h| {
            let c = h.config();
            h.editor()
                .tunnel(&name)
                .map(|i| tunnel_pb(c, &c.tunnels[i]))
                .ok_or_else(|| Status::not_found(format!("no tunnel named `{name}`")))
        })
        .await
    }
    async fn list(&self, r: Request<pb::ListRequest>) -> Result<Response<pb::TunnelList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let c = h.config();
            let (idx, next) = pages::tunnels(h.editor(), &req.page_token, page_size(&req)?)
                .map_err(Status::invalid_argument)?;
            Ok(pb::TunnelList {
                tunnels: idx
                    .into_iter()
                    .map(|i| tunnel_pb(c, &c.tunnels[i]))
                    .collect(),
                next_page_token: next,
                total: c.tunnels.len() as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::routes_server::Routes for Api {
    async fn add(&self, r: Request<pb::Route>) -> Result<Response<pb::ChangeReply>, Status> {
        let r = r.into_inner();
        self.change(Edit::AddRoute {
            prefix: r.prefix,
            tunnel: r.tunnel,
        })
        .await
    }
    async fn delete(
        &self,
        r: Request<pb::RoutePrefix>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeleteRoute(r.into_inner().prefix)).await
    }
    async fn get(&self, r: Request<pb::RoutePrefix>) -> Result<Response<pb::Route>, Status> {
        let p = parse_prefix(&r.into_inner().prefix, "prefix")?;
        self.call(move |h| {
            let c = h.config();
            h.editor()
                .route(&p)
                .map(|t| pb::Route {
                    prefix: p.to_string(),
                    tunnel: c.tunnels[t].name.clone(),
                })
                .ok_or_else(|| Status::not_found(format!("no route for {p}")))
        })
        .await
    }
    async fn list(&self, r: Request<pb::ListRequest>) -> Result<Response<pb::RouteList>, Status> {
        let req = r.into_inner();
        let within = match req.prefix.as_str() {
            "" => None,
            p => Some(parse_prefix(p, "prefix")?),
        };
        self.call(move |h| {
            let c = h.config();
            let ed = h.editor();
            let tunnel =
                match req.tunnel.as_str() {
                    "" => None,
                    n => Some(ed.tunnel(n).ok_or_else(|| {
                        Status::not_found(format!("tunnel: no tunnel named `{n}`"))
                    })?),
                };
            let (found, next) =
                pages::routes(ed, &req.page_token, page_size(&req)?, within, tunnel)
                    .map_err(Status::invalid_argument)?;
            let routes = found
                .into_iter()
                .map(|(p, t)| pb::Route {
                    prefix: p.to_string(),
                    tunnel: c.tunnels[t].name.clone(),
                })
                .collect();
            Ok(pb::RouteList {
                routes,
                next_page_token: next,
                total: c.l3.as_ref().map_or(0, |l| l.routes.len()) as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::segments_server::Segments for Api {
    async fn add(&self, r: Request<pb::Segment>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(edit_of(pb::change::Change::AddSegment(r.into_inner())))
            .await
    }
    async fn delete(
        &self,
        r: Request<pb::SegmentRef>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeleteSegment(r.into_inner().segment))
            .await
    }
    async fn get(&self, r: Request<pb::SegmentRef>) -> Result<Response<pb::Segment>, Status> {
        let s = r.into_inner().segment;
        self.call(move |h| {
            let c = h.config();
            let i = segment(c, &s)?;
            Ok(segment_pb(c, i, &c.l2.as_ref().expect("found").segments[i]))
        })
        .await
    }
    async fn list(&self, r: Request<pb::ListRequest>) -> Result<Response<pb::SegmentList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let c = h.config();
            let empty = Vec::new();
            let segs = c.l2.as_ref().map_or(&empty, |l| &l.segments);
            let idx: Vec<usize> = (0..segs.len()).collect();
            let (segments, next) = page(&idx, &req, |_| true, |&i| segment_pb(c, i, &segs[i]))?;
            Ok(pb::SegmentList {
                segments,
                next_page_token: next,
                total: segs.len() as u64,
            })
        })
        .await
    }
    async fn set_flood(
        &self,
        r: Request<pb::FloodList>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        let f = r.into_inner();
        self.change(Edit::SetFlood {
            segment: f.segment,
            remotes: f.remotes,
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::static_macs_server::StaticMacs for Api {
    async fn add(&self, r: Request<pb::StaticMac>) -> Result<Response<pb::ChangeReply>, Status> {
        let m = r.into_inner();
        self.change(Edit::AddStaticMac {
            segment: m.segment,
            mac: m.mac,
            remote: m.remote,
        })
        .await
    }
    async fn delete(&self, r: Request<pb::MacKey>) -> Result<Response<pb::ChangeReply>, Status> {
        let k = r.into_inner();
        self.change(Edit::DeleteStaticMac {
            segment: k.segment,
            mac: k.mac,
        })
        .await
    }
    async fn get(&self, r: Request<pb::MacKey>) -> Result<Response<pb::StaticMac>, Status> {
        let k = r.into_inner();
        let mac = parse_mac(&k.mac)?;
        self.call(move |h| {
            let c = h.config();
            let i = segment(c, &k.segment)?;
            let s = &c.l2.as_ref().expect("found").segments[i];
            h.editor()
                .static_mac(i, &mac)
                .map(|p| &s.static_macs[p])
                .map(|m| pb::StaticMac {
                    segment: segment_name(c, i),
                    mac: MacDisplay(&m.mac).to_string(),
                    remote: m.remote.to_string(),
                })
                .ok_or_else(|| {
                    Status::not_found(format!(
                        "no static MAC {} in segment {}",
                        MacDisplay(&mac),
                        k.segment
                    ))
                })
        })
        .await
    }
    async fn list(
        &self,
        r: Request<pb::ListRequest>,
    ) -> Result<Response<pb::StaticMacList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let c = h.config();
            let seg = match req.segment.as_str() {
                "" => None,
                s => Some(segment(c, s)?),
            };
            let ed = h.editor();
            let (found, next) = pages::static_macs(ed, &req.page_token, page_size(&req)?, seg)
                .map_err(Status::invalid_argument)?;
            let segs = &c.l2.as_ref().map_or(&[][..], |l| &l.segments[..]);
            let macs = found
                .into_iter()
                .map(|(i, j)| {
                    let m = &segs[i].static_macs[j];
                    pb::StaticMac {
                        segment: segment_name(c, i),
                        mac: MacDisplay(&m.mac).to_string(),
                        remote: m.remote.to_string(),
                    }
                })
                .collect();
            let total = match seg {
                None => ed.static_mac_count(),
                Some(i) => segs[i].static_macs.len(),
            };
            Ok(pb::StaticMacList {
                macs,
                next_page_token: next,
                total: total as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::learned_macs_server::LearnedMacs for Api {
    async fn list(
        &self,
        r: Request<pb::ListRequest>,
    ) -> Result<Response<pb::LearnedMacList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let c = h.config();
            let seg = match req.segment.as_str() {
                "" => None,
                s => Some(segment(c, s)?),
            };
            let after =
                pages::parse_learned_token(&req.page_token).map_err(Status::invalid_argument)?;
            let (found, more, total) = h.learned_page(after, seg, page_size(&req)?);
            let next = match (more, found.last()) {
                (true, Some(m)) => pages::learned_token((m.0, m.1)),
                _ => String::new(),
            };
            let c = h.config();
            let macs = found
                .iter()
                .map(|m| pb::LearnedMac {
                    segment: segment_name(c, m.0),
                    mac: MacDisplay(&m.1).to_string(),
                    remote: m.2.to_string(),
                    age_seconds: m.3,
                })
                .collect();
            Ok(pb::LearnedMacList {
                macs,
                next_page_token: next,
                total,
            })
        })
        .await
    }
    async fn flush(&self, r: Request<pb::SegmentRef>) -> Result<Response<pb::FlushReply>, Status> {
        let s = r.into_inner().segment;
        self.call(move |h| {
            let seg = match s.as_str() {
                "" => None,
                s => Some(segment(h.config(), s)?),
            };
            Ok(pb::FlushReply {
                flushed: h.flush_learned(seg),
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::decap_vnis_server::DecapVnis for Api {
    async fn add(&self, r: Request<pb::Decap>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(edit_of(pb::change::Change::AddDecap(r.into_inner())))
            .await
    }
    async fn delete(&self, r: Request<pb::DecapVni>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeleteDecap(i64::from(r.into_inner().vni)))
            .await
    }
    async fn get(&self, r: Request<pb::DecapVni>) -> Result<Response<pb::Decap>, Status> {
        let v = r.into_inner().vni;
        self.call(move |h| {
            let c = h.config();
            crate::wire::geneve::Vni::new(v)
                .and_then(|v| c.decap_for(v))
                .map(|d| decap_pb(c, d))
                .ok_or_else(|| Status::not_found(format!("VNI {v} has no decap entry")))
        })
        .await
    }
    async fn list(&self, r: Request<pb::ListRequest>) -> Result<Response<pb::DecapList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let c = h.config();
            let (idx, next) = pages::decap(c, &req.page_token, page_size(&req)?)
                .map_err(Status::invalid_argument)?;
            Ok(pb::DecapList {
                entries: idx.into_iter().map(|i| decap_pb(c, &c.decap[i])).collect(),
                next_page_token: next,
                total: c.decap.len() as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::option_registry_server::OptionRegistry for Api {
    async fn add(&self, r: Request<pb::OptionDef>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(edit_of(pb::change::Change::AddOption(r.into_inner())))
            .await
    }
    async fn delete(
        &self,
        r: Request<pb::OptionName>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeleteOption(r.into_inner().name)).await
    }
    async fn get(&self, r: Request<pb::OptionName>) -> Result<Response<pb::OptionDef>, Status> {
        let n = r.into_inner().name;
        self.call(move |h| {
            h.config()
                .options
                .registry
                .iter()
                .find(|o| o.name == n)
                .map(option_pb)
                .ok_or_else(|| Status::not_found(format!("no option named `{n}` in the registry")))
        })
        .await
    }
    async fn list(&self, r: Request<pb::ListRequest>) -> Result<Response<pb::OptionList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let reg = &h.config().options.registry;
            let (options, next) = page(reg, &req, |_| true, option_pb)?;
            Ok(pb::OptionList {
                options,
                next_page_token: next,
                total: reg.len() as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::option_policies_server::OptionPolicies for Api {
    async fn add(&self, r: Request<pb::OptionPolicy>) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::AddPolicy(policy_spec(r.into_inner())))
            .await
    }
    async fn delete(
        &self,
        r: Request<pb::OptionPolicy>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.change(Edit::DeletePolicy(policy_spec(r.into_inner())))
            .await
    }
    async fn list(
        &self,
        r: Request<pb::ListRequest>,
    ) -> Result<Response<pb::OptionPolicyList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let all = policies_pb(h.config());
            let (policies, next) = page(&all, &req, |_| true, |p| p.clone())?;
            Ok(pb::OptionPolicyList {
                policies,
                next_page_token: next,
                total: all.len() as u64,
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::neighbors_server::Neighbors for Api {
    async fn list(
        &self,
        r: Request<pb::ListRequest>,
    ) -> Result<Response<pb::NeighborList>, Status> {
        let req = r.into_inner();
        self.call(move |h| {
            let after =
                pages::parse_neighbor_token(&req.page_token).map_err(Status::invalid_argument)?;
            let (found, more, total) = h.neighbors_page(after, page_size(&req)?);
            let next = match (more, found.last()) {
                (true, Some(n)) => n.0.to_string(),
                _ => String::new(),
            };
            let neighbors = found
                .iter()
                .map(|(ip, mac)| pb::Neighbor {
                    ip: ip.to_string(),
                    mac: MacDisplay(mac).to_string(),
                })
                .collect();
            Ok(pb::NeighborList {
                neighbors,
                next_page_token: next,
                total,
            })
        })
        .await
    }
    async fn add(&self, r: Request<pb::Neighbor>) -> Result<Response<pb::ChangeReply>, Status> {
        let n = r.into_inner();
        let ip: IpAddr = n
            .ip
            .parse()
            .map_err(|_| Status::invalid_argument(format!("ip: `{}` is not an address", n.ip)))?;
        let mac = parse_mac(&n.mac)?;
        self.call(move |h| h.add_neighbor(ip, mac)).await
    }
}

#[tonic::async_trait]
impl pb::transactions_server::Transactions for Api {
    async fn apply(
        &self,
        r: Request<pb::Transaction>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        let mut edits = Vec::new();
        for (i, c) in r.into_inner().changes.into_iter().enumerate() {
            match c.change {
                Some(c) => edits.push(edit_of(c)),
                None => {
                    return Err(Status::invalid_argument(format!(
                        "changes[{i}]: empty; set one change"
                    )))
                }
            }
        }
        self.call(move |h| h.apply(edits, true)).await
    }
}

#[tonic::async_trait]
impl pb::stats_server::Stats for Api {
    async fn get(&self, r: Request<pb::CountersRequest>) -> Result<Response<pb::Counters>, Status> {
        let q = r.into_inner();
        self.call(move |h| {
            h.counters(
                Some(q.tunnel.as_str()).filter(|t| !t.is_empty()),
                q.has_vni.then_some(q.vni),
            )
        })
        .await
    }
}

#[tonic::async_trait]
impl pb::configuration_server::Configuration for Api {
    async fn get(&self, _r: Request<pb::Empty>) -> Result<Response<pb::RunningConfig>, Status> {
        self.call(move |h| {
            let c = h.config();
            let yaml = running_yaml(c).map_err(Status::unimplemented)?;
            Ok(pb::RunningConfig {
                yaml,
                tunnels: c.tunnels.len() as u64,
                routes: c.l3.as_ref().map_or(0, |l| l.routes.len()) as u64,
                segments: c.l2.as_ref().map_or(0, |l| l.segments.len()) as u64,
                decap_vnis: c.decap.len() as u64,
                static_macs: c
                    .l2
                    .iter()
                    .flat_map(|l| &l.segments)
                    .map(|s| s.static_macs.len() as u64)
                    .sum(),
                path: h.config_path(),
            })
        })
        .await
    }
    async fn reload(&self, _r: Request<pb::Empty>) -> Result<Response<pb::ReloadReply>, Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.call(move |h| {
            h.reload(Box::new(move |r| {
                let _ = tx.send(r);
            }));
            Ok(())
        })
        .await?;
        match rx.await {
            Ok(Ok(summary)) => Ok(Response::new(pb::ReloadReply { summary })),
            Ok(Err(e)) => Err(Status::failed_precondition(e)),
            Err(_) => Err(Status::unavailable("the gateway stopped during the reload")),
        }
    }
}

/// The running configuration as YAML `geneve-gw check` accepts (and that
/// makes the same tables).
fn running_yaml(c: &Config) -> Result<String, String> {
    Ok(config::emit(c))
}
