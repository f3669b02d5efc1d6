//! `geneve-gw ctl`: the command-line client of a running gateway's control
//! API (`control::api`, `proto/geneve_gw.proto`), in the style of
//! vppctl / ovs-appctl: one short command per method, text by default,
//! `--json` for scripts.
//!
//! Exit status: 0 done; 1 the gateway refused (its error is printed);
//! 2 a usage error or no gateway to talk to.
use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tonic::transport::{Channel, Endpoint};

use crate::control::api;
use crate::control::api_proto as pb;

/// `geneve-gw ctl` options.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The gateway's EAL --file-prefix (its API socket is derived from it).
    #[arg(long, value_name = "PREFIX", global = true)]
    pub file_prefix: Option<String>,
    /// Take the file prefix from the gateway's configuration file instead.
    #[arg(
        short,
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "file_prefix"
    )]
    pub config: Option<PathBuf>,
    /// Talk to the API socket at this path.
    #[arg(long, value_name = "PATH", global = true)]
    pub socket: Option<PathBuf>,
    /// Talk to the API over TCP at this address (`api.listen_tcp`).
    #[arg(long, value_name = "ADDR:PORT", global = true)]
    pub tcp: Option<String>,
    /// Print replies as JSON (one object per reply).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Tunnels: add (or change the settings of), delete, get, list.
    #[command(subcommand)]
    Tunnel(TunnelCmd),
    /// L3 routes (IPv4 and IPv6).
    #[command(subcommand)]
    Route(RouteCmd),
    /// Static MACs of the L2 segments.
    #[command(subcommand)]
    Mac(MacCmd),
    /// MACs learned from traffic: list, flush.
    #[command(subcommand)]
    Learned(LearnedCmd),
    /// L2 segments and their flood lists.
    #[command(subcommand)]
    Segment(SegmentCmd),
    /// Decap VNIs and their allow lists.
    #[command(subcommand)]
    Decap(DecapCmd),
    /// The option registry.
    #[command(subcommand)]
    Option(OptionCmd),
    /// Option policies (options.policies): add, del, list.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Neighbours: list, add a static one.
    #[command(subcommand)]
    Neighbor(NeighborCmd),
    /// Apply the changes in FILE (`-` for stdin) all or nothing: one change
    /// per line, written as the ctl command would be (`tunnel add ...`,
    /// `route del ...`); blank lines and `#` comments are skipped.
    Transaction { file: String },
    /// Counters: global, per port, per drop reason.
    Counters {
        /// Of this tunnel only.
        #[arg(long)]
        tunnel: Option<String>,
        /// Of this VNI only.
        #[arg(long)]
        vni: Option<u32>,
    },
    /// The running configuration's sizes (and YAML with --yaml).
    Config {
        #[arg(long)]
        yaml: bool,
    },
    /// Write the running configuration as YAML to FILE (stdout without).
    Save { file: Option<PathBuf> },
    /// Reload the gateway's configuration file (as SIGHUP does) and print
    /// what changed.
    Reload,
}

/// Paging for list commands.
#[derive(Debug, Args, Clone, Default)]
pub struct Paging {
    /// Entries per request (the whole table is read page by page).
    #[arg(long, default_value_t = 1000)]
    pub page_size: u32,
    /// Read one page from this token (printed on stderr after a page)
    /// instead of the whole table.
    #[arg(long)]
    pub page_token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TunnelCmd {
    Add(TunnelAdd),
    #[command(alias = "delete")]
    Del {
        name: String,
    },
    Get {
        name: String,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
}

#[derive(Debug, Args)]
pub struct TunnelAdd {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub remote: String,
    #[arg(long)]
    pub vni: u32,
    /// geneve or vxlan
    #[arg(long)]
    pub encapsulation: Option<String>,
    #[arg(long)]
    pub mesh: Option<String>,
    #[arg(long)]
    pub udp_port: Option<u32>,
    /// zero or compute
    #[arg(long)]
    pub udp_checksum: Option<String>,
    #[arg(long)]
    pub accept_zero_checksum: bool,
    /// 1..255 or inherit
    #[arg(long)]
    pub ttl: Option<String>,
    /// 0..63 or inherit
    #[arg(long)]
    pub dscp: Option<String>,
    /// MIN-MAX
    #[arg(long)]
    pub source_ports: Option<String>,
    /// An option: NAME[=HEX] from the registry, or CLASS:TYPE=HEX;
    /// repeat for more.
    #[arg(long = "option")]
    pub options: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RouteCmd {
    Add {
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        tunnel: String,
    },
    #[command(alias = "delete")]
    Del {
        #[arg(long)]
        prefix: String,
    },
    Get {
        #[arg(long)]
        prefix: String,
    },
    List {
        /// Only the routes inside this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Only the routes to this tunnel.
        #[arg(long)]
        tunnel: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
}

#[derive(Debug, Subcommand)]
pub enum MacCmd {
    Add {
        #[arg(long)]
        segment: String,
        #[arg(long)]
        mac: String,
        #[arg(long)]
        remote: String,
    },
    #[command(alias = "delete")]
    Del {
        #[arg(long)]
        segment: String,
        #[arg(long)]
        mac: String,
    },
    Get {
        #[arg(long)]
        segment: String,
        #[arg(long)]
        mac: String,
    },
    List {
        #[arg(long)]
        segment: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
}

#[derive(Debug, Subcommand)]
pub enum LearnedCmd {
    List {
        #[arg(long)]
        segment: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    Flush {
        #[arg(long)]
        segment: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SegmentCmd {
    /// Append a segment (every table is made anew).
    Add {
        #[arg(long)]
        name: Option<String>,
        /// An access port's name.
        #[arg(long)]
        port: String,
        /// 0 or absent: untagged.
        #[arg(long)]
        vlan: Option<u32>,
        #[arg(long)]
        vni: u32,
        /// Default: the VNI.
        #[arg(long)]
        vxlan_vni: Option<u32>,
        /// A remote VTEP to flood to; repeat for more.
        #[arg(long)]
        flood: Vec<String>,
    },
    /// Delete a segment (by name or index) with its MACs; the segments
    /// after it move up one index.
    #[command(alias = "delete")]
    Del {
        segment: String,
    },
    Get {
        segment: String,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
    /// Replace the flood list of a segment.
    Flood {
        #[arg(long)]
        segment: String,
        remotes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DecapCmd {
    Add {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        port: Option<String>,
        #[arg(long)]
        vlan: Option<u32>,
        /// Comma-separated source VTEPs.
        #[arg(long, value_delimiter = ',')]
        allow_from: Vec<String>,
    },
    #[command(alias = "delete")]
    Del {
        #[arg(long)]
        vni: u32,
    },
    Get {
        #[arg(long)]
        vni: u32,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
}

#[derive(Debug, Subcommand)]
pub enum OptionCmd {
    Add {
        #[arg(long)]
        name: String,
        /// 0..65535 (0x... allowed)
        #[arg(long)]
        class: String,
        /// 0..255, the critical bit included (0x... allowed)
        #[arg(long = "type")]
        type_: String,
        /// Data length in bytes when fixed.
        #[arg(long)]
        length: Option<u32>,
    },
    #[command(alias = "delete")]
    Del {
        name: String,
    },
    Get {
        name: String,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
}

/// Which policy: its kind, option and scope.
#[derive(Debug, Args, Clone)]
pub struct PolicyKey {
    /// require, security_tags or flow_id_copy.
    pub kind: String,
    /// The option's name in the registry.
    #[arg(long)]
    pub option: String,
    /// Scope: this VNI.
    #[arg(long, conflicts_with = "tunnel")]
    pub vni: Option<u32>,
    /// Scope: this tunnel's VNI (without --vni or --tunnel: every VNI).
    #[arg(long)]
    pub tunnel: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// `policy add require --option X --vni 100`, `policy add
    /// security_tags --option tag --allow 0000000a --default deny`.
    Add {
        #[command(flatten)]
        key: PolicyKey,
        /// security_tags: a value allowed (hex of the option's length, or
        /// decimal); repeat for more.
        #[arg(long)]
        allow: Vec<String>,
        /// security_tags: a value denied; repeat for more.
        #[arg(long)]
        deny: Vec<String>,
        /// security_tags: allow or deny (default) for other values.
        #[arg(long = "default")]
        default_action: Option<String>,
    },
    #[command(alias = "delete")]
    Del {
        #[command(flatten)]
        key: PolicyKey,
    },
    List {
        #[command(flatten)]
        paging: Paging,
    },
}

fn policy_msg(k: &PolicyKey) -> pb::OptionPolicy {
    pb::OptionPolicy {
        kind: k.kind.clone(),
        option: k.option.clone(),
        vni: k.vni,
        tunnel: k.tunnel.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn policy_text(p: &pb::OptionPolicy) -> String {
    let mut s = format!("{} option {}", p.kind, p.option);
    match (p.vni, p.tunnel.as_str()) {
        (Some(v), _) => s += &format!(" vni {v}"),
        (None, "") => s += " every vni",
        (None, t) => s += &format!(" tunnel {t}"),
    }
    if !p.allow.is_empty() {
        s += &format!(" allow {}", p.allow.join(","));
    }
    if !p.deny.is_empty() {
        s += &format!(" deny {}", p.deny.join(","));
    }
    if !p.default_action.is_empty() {
        s += &format!(" default {}", p.default_action);
    }
    s
}

#[derive(Debug, Subcommand)]
pub enum NeighborCmd {
    List {
        #[command(flatten)]
        paging: Paging,
    },
    Add {
        #[arg(long)]
        ip: String,
        #[arg(long)]
        mac: String,
    },
}

/// One line of a transaction file.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct TxnLine {
    #[command(subcommand)]
    command: CtlCommand,
}

/// How a ctl run ended.
pub enum CtlError {
    /// The gateway said no (exit 1).
    Refused(String),
    /// Usage or connection (exit 2).
    Usage(String),
}

impl From<tonic::Status> for CtlError {
    fn from(s: tonic::Status) -> Self {
        match s.code() {
            tonic::Code::Unavailable if s.message().contains("connect") => {
                CtlError::Usage(format!("cannot reach the gateway: {}", s.message()))
            }
            _ => CtlError::Refused(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

/// Runs `geneve-gw ctl`; returns the exit status.
pub fn execute(a: CtlArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            return 2;
        }
    };
    match rt.block_on(run(&a)) {
        Ok(()) => 0,
        Err(CtlError::Refused(e)) => {
            eprintln!("refused: {e}");
            1
        }
        Err(CtlError::Usage(e)) => {
            eprintln!("error: {e}");
            2
        }
    }
}

async fn connect(a: &CtlArgs) -> Result<Channel, CtlError> {
    if let Some(addr) = &a.tcp {
        let ep = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| CtlError::Usage(format!("--tcp {addr}: {e}")))?;
        return ep.connect().await.map_err(|e| {
            CtlError::Usage(format!("cannot reach a gateway API at tcp {addr}: {e}"))
        });
    }
    let path = match (&a.socket, &a.config, &a.file_prefix) {
        (Some(p), _, _) => p.clone(),
        (None, Some(c), _) => {
            let cfg = crate::config::load(c)
                .map_err(|e| CtlError::Usage(format!("{} is not valid:\n{e}", c.display())))?;
            api::socket_path(&api::file_prefix(&cfg.eal.to_args()))
        }
        (None, None, p) => api::socket_path(p.as_deref().unwrap_or("rte")),
    };
    if !path.exists() {
        return Err(CtlError::Usage(format!(
            "no gateway is running at {} (give the gateway's --file-prefix or -c its configuration)",
            path.display()
        )));
    }
    let p = path.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let p = p.clone();
            async move {
                tokio::net::UnixStream::connect(p)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        }))
        .await
        .map_err(|e| CtlError::Usage(format!("no gateway answers at {}: {e}", path.display())))
}

fn show<T: serde::Serialize>(json: bool, v: &T, text: impl FnOnce(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string(v).unwrap_or_default());
    } else {
        let t = text(v);
        if !t.is_empty() {
            println!("{t}");
        }
    }
}

fn tunnel_text(t: &pb::Tunnel) -> String {
    let mut s = format!(
        "{} remote {} vni {} {} udp_port {} checksum {} ttl {} dscp {} source_ports {}-{}",
        t.name,
        t.remote,
        t.vni,
        t.encapsulation,
        t.udp_port.unwrap_or(0),
        t.udp_checksum,
        t.ttl,
        t.dscp,
        t.source_port_min.unwrap_or(0),
        t.source_port_max.unwrap_or(0)
    );
    if t.mesh != t.encapsulation {
        s.push_str(&format!(" mesh {}", t.mesh));
    }
    for o in &t.options {
        s.push_str(&format!(
            " option {}:{}={}",
            o.class.unwrap_or(0),
            o.r#type.unwrap_or(0),
            o.data
        ));
    }
    s
}

fn change_text(r: &pb::ChangeReply) -> String {
    if r.tables_rebuilt {
        format!("{} (every table made anew)", r.summary)
    } else {
        r.summary.clone()
    }
}

fn list_req(p: &Paging) -> pb::ListRequest {
    pb::ListRequest {
        page_token: p.page_token.clone().unwrap_or_default(),
        page_size: p.page_size,
        ..Default::default()
    }
}

/// Reads a whole table page by page (or one page with --page-token),
/// printing each entry as it comes.
async fn list_all<R, T, Fut>(
    json: bool,
    paging: &Paging,
    base: pb::ListRequest,
    mut fetch: impl FnMut(pb::ListRequest) -> Fut,
    split: impl Fn(R) -> (Vec<T>, String),
    text: impl Fn(&T) -> String,
) -> Result<(), CtlError>
where
    Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    T: serde::Serialize,
{
    let mut req = pb::ListRequest {
        page_token: paging.page_token.clone().unwrap_or_default(),
        page_size: paging.page_size,
        ..base
    };
    loop {
        let (items, next) = split(fetch(req.clone()).await?.into_inner());
        for i in &items {
            show(json, i, &text);
        }
        if next.is_empty() {
            return Ok(());
        }
        if paging.page_token.is_some() {
            eprintln!("next page token: {next}");
            return Ok(());
        }
        req.page_token = next;
    }
}

fn tunnel_msg(t: &TunnelAdd) -> Result<pb::Tunnel, CtlError> {
    let (min, max) = match &t.source_ports {
        None => (None, None),
        Some(r) => {
            let (a, b) = r
                .split_once('-')
                .ok_or_else(|| CtlError::Usage(format!("--source-ports {r}: write MIN-MAX")))?;
            let n = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| CtlError::Usage(format!("--source-ports {r}: write MIN-MAX")))
            };
            (Some(n(a)?), Some(n(b)?))
        }
    };
    let mut options = Vec::new();
    for o in &t.options {
        let (key, data) = o.split_once('=').unwrap_or((o, ""));
        let opt = match key.split_once(':') {
            Some((c, ty)) => {
                let n = |s: &str| {
                    let s = s.trim();
                    match s.strip_prefix("0x") {
                        Some(h) => u32::from_str_radix(h, 16),
                        None => s.parse(),
                    }
                    .map_err(|_| {
                        CtlError::Usage(format!("--option {o}: CLASS:TYPE=HEX or NAME=HEX"))
                    })
                };
                pb::TunnelOption {
                    class: Some(n(c)?),
                    r#type: Some(n(ty)?),
                    data: data.to_string(),
                    ..Default::default()
                }
            }
            None => pb::TunnelOption {
                name: key.to_string(),
                data: data.to_string(),
                ..Default::default()
            },
        };
        options.push(opt);
    }
    Ok(pb::Tunnel {
        name: t.name.clone(),
        remote: t.remote.clone(),
        vni: t.vni,
        encapsulation: t.encapsulation.clone().unwrap_or_default(),
        mesh: t.mesh.clone().unwrap_or_default(),
        options,
        udp_port: t.udp_port,
        udp_checksum: t.udp_checksum.clone().unwrap_or_default(),
        accept_zero_checksum: t.accept_zero_checksum,
        ttl: t.ttl.clone().unwrap_or_default(),
        dscp: t.dscp.clone().unwrap_or_default(),
        source_port_min: min,
        source_port_max: max,
    })
}

/// A change command as a change of a transaction.
fn change_of(c: &CtlCommand) -> Result<pb::change::Change, CtlError> {
    use pb::change::Change as C;
    Ok(match c {
        CtlCommand::Tunnel(TunnelCmd::Add(t)) => C::AddTunnel(tunnel_msg(t)?),
        CtlCommand::Tunnel(TunnelCmd::Del { name }) => {
            C::DeleteTunnel(pb::TunnelName { name: name.clone() })
        }
        CtlCommand::Route(RouteCmd::Add { prefix, tunnel }) => C::AddRoute(pb::Route {
            prefix: prefix.clone(),
            tunnel: tunnel.clone(),
        }),
        CtlCommand::Route(RouteCmd::Del { prefix }) => C::DeleteRoute(pb::RoutePrefix {
            prefix: prefix.clone(),
        }),
        CtlCommand::Mac(MacCmd::Add {
            segment,
            mac,
            remote,
        }) => C::AddStaticMac(pb::StaticMac {
            segment: segment.clone(),
            mac: mac.clone(),
            remote: remote.clone(),
        }),
        CtlCommand::Mac(MacCmd::Del { segment, mac }) => C::DeleteStaticMac(pb::MacKey {
            segment: segment.clone(),
            mac: mac.clone(),
        }),
        CtlCommand::Decap(DecapCmd::Add {
            vni,
            port,
            vlan,
            allow_from,
        }) => C::AddDecap(pb::Decap {
            vni: *vni,
            port: port.clone().unwrap_or_default(),
            vlan: vlan.unwrap_or(0),
            allow_from: allow_from.clone(),
            ..Default::default()
        }),
        CtlCommand::Decap(DecapCmd::Del { vni }) => C::DeleteDecap(pb::DecapVni { vni: *vni }),
        CtlCommand::Segment(SegmentCmd::Flood { segment, remotes }) => {
            C::SetFlood(pb::FloodList {
                segment: segment.clone(),
                remotes: remotes.clone(),
            })
        }
        CtlCommand::Option(OptionCmd::Add {
            name,
            class,
            type_,
            length,
        }) => {
            let n = |s: &str, what: &str| {
                match s.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16),
                    None => s.parse(),
                }
                .map_err(|_| CtlError::Usage(format!("--{what} {s}: a number (0x... allowed)")))
            };
            C::AddOption(pb::OptionDef {
                name: name.clone(),
                class: n(class, "class")?,
                r#type: n(type_, "type")?,
                length: length.unwrap_or(0),
            })
        }
        CtlCommand::Option(OptionCmd::Del { name }) => {
            C::DeleteOption(pb::OptionName { name: name.clone() })
        }
        CtlCommand::Policy(PolicyCmd::Add {
            key,
            allow,
            deny,
            default_action,
        }) => C::AddPolicy(pb::OptionPolicy {
            allow: allow.clone(),
            deny: deny.clone(),
            default_action: default_action.clone().unwrap_or_default(),
            ..policy_msg(key)
        }),
        CtlCommand::Policy(PolicyCmd::Del { key }) => C::DeletePolicy(policy_msg(key)),
        CtlCommand::Segment(SegmentCmd::Add {
            name,
            port,
            vlan,
            vni,
            vxlan_vni,
            flood,
        }) => C::AddSegment(pb::Segment {
            name: name.clone().unwrap_or_default(),
            port: port.clone(),
            vlan: vlan.unwrap_or(0),
            vni: *vni,
            vxlan_vni: vxlan_vni.unwrap_or(0),
            flood: flood.clone(),
            ..Default::default()
        }),
        CtlCommand::Segment(SegmentCmd::Del { segment }) => C::DeleteSegment(pb::SegmentRef {
            segment: segment.clone(),
        }),
        other => {
            return Err(CtlError::Usage(format!(
                "{other:?} is not a change; a transaction takes tunnel/route/mac/decap/option/policy/segment add and del, and segment flood"
            )))
        }
    })
}

async fn run(a: &CtlArgs) -> Result<(), CtlError> {
    // A transaction file is read (and every line parsed) before connecting.
    let txn = match &a.command {
        CtlCommand::Transaction { file } => {
            let mut text = String::new();
            let r = if file == "-" {
                std::io::stdin().read_to_string(&mut text).map(|_| ())
            } else {
                std::fs::read_to_string(file).map(|t| text = t)
            };
            r.map_err(|e| CtlError::Usage(format!("{file}: {e}")))?;
            let mut changes = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let words: Vec<&str> = line.split_whitespace().collect();
                let parsed = TxnLine::try_parse_from(words).map_err(|e| {
                    CtlError::Usage(format!(
                        "{file}:{}: {}",
                        n + 1,
                        e.render().to_string().trim()
                    ))
                })?;
                changes.push(pb::Change {
                    change: Some(change_of(&parsed.command).map_err(|e| match e {
                        CtlError::Usage(m) | CtlError::Refused(m) => {
                            CtlError::Usage(format!("{file}:{}: {m}", n + 1))
                        }
                    })?),
                });
            }
            Some(pb::Transaction { changes })
        }
        _ => None,
    };
    let ch = connect(a).await?;
    let json = a.json;
    use pb::configuration_client::ConfigurationClient;
    use pb::decap_vnis_client::DecapVnisClient;
    use pb::learned_macs_client::LearnedMacsClient;
    use pb::neighbors_client::NeighborsClient;
    use pb::option_policies_client::OptionPoliciesClient;
    use pb::option_registry_client::OptionRegistryClient;
    use pb::routes_client::RoutesClient;
    use pb::segments_client::SegmentsClient;
    use pb::static_macs_client::StaticMacsClient;
    use pb::stats_client::StatsClient;
    use pb::transactions_client::TransactionsClient;
    use pb::tunnels_client::TunnelsClient;
    macro_rules! client {
        ($c:ident) => {
            $c::new(ch.clone())
                .max_decoding_message_size(api::MAX_REPLY_BYTES)
                .max_encoding_message_size(api::MAX_REQUEST_BYTES)
        };
    }
    // One request, its reply shown as JSON or text (`show`).
    macro_rules! reply {
        ($call:expr, $text:expr) => {{
            let r = $call.await?.into_inner();
            show(json, &r, $text);
        }};
    }
    // Every list method: pages fetched through the service's `list`,
    // items taken from the reply's field `$items`.
    macro_rules! list {
        ($cl:ident, $paging:expr, $base:expr, $reply:ty, $items:ident, $text:expr) => {
            list_all(
                json,
                $paging,
                $base,
                |q| {
                    let mut cl = $cl.clone();
                    async move { cl.list(q).await }
                },
                |r: $reply| (r.$items, r.next_page_token),
                $text,
            )
            .await?
        };
    }
    match &a.command {
        CtlCommand::Tunnel(c) => {
            let mut cl = client!(TunnelsClient);
            match c {
                TunnelCmd::Add(t) => {
                    reply!(cl.add(tunnel_msg(t)?), change_text);
                }
                TunnelCmd::Del { name } => {
                    reply!(
                        cl.delete(pb::TunnelName { name: name.clone() }),
                        change_text
                    );
                }
                TunnelCmd::Get { name } => {
                    reply!(cl.get(pb::TunnelName { name: name.clone() }), tunnel_text);
                }
                TunnelCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::TunnelList,
                        tunnels,
                        tunnel_text
                    )
                }
            }
        }
        CtlCommand::Route(c) => {
            let mut cl = client!(RoutesClient);
            let route_text = |r: &pb::Route| format!("{} via {}", r.prefix, r.tunnel);
            match c {
                RouteCmd::Add { prefix, tunnel } => {
                    reply!(
                        cl.add(pb::Route {
                            prefix: prefix.clone(),
                            tunnel: tunnel.clone(),
                        }),
                        change_text
                    );
                }
                RouteCmd::Del { prefix } => {
                    reply!(
                        cl.delete(pb::RoutePrefix {
                            prefix: prefix.clone(),
                        }),
                        change_text
                    );
                }
                RouteCmd::Get { prefix } => {
                    reply!(
                        cl.get(pb::RoutePrefix {
                            prefix: prefix.clone(),
                        }),
                        route_text
                    );
                }
                RouteCmd::List {
                    prefix,
                    tunnel,
                    paging,
                } => {
                    let base = pb::ListRequest {
                        prefix: prefix.clone().unwrap_or_default(),
                        tunnel: tunnel.clone().unwrap_or_default(),
                        ..list_req(paging)
                    };
                    list!(cl, paging, base, pb::RouteList, routes, route_text)
                }
            }
        }
        CtlCommand::Mac(c) => {
            let mut cl = client!(StaticMacsClient);
            let mac_text =
                |m: &pb::StaticMac| format!("{} segment {} remote {}", m.mac, m.segment, m.remote);
            match c {
                MacCmd::Add {
                    segment,
                    mac,
                    remote,
                } => {
                    reply!(
                        cl.add(pb::StaticMac {
                            segment: segment.clone(),
                            mac: mac.clone(),
                            remote: remote.clone(),
                        }),
                        change_text
                    );
                }
                MacCmd::Del { segment, mac } => {
                    reply!(
                        cl.delete(pb::MacKey {
                            segment: segment.clone(),
                            mac: mac.clone(),
                        }),
                        change_text
                    );
                }
                MacCmd::Get { segment, mac } => {
                    reply!(
                        cl.get(pb::MacKey {
                            segment: segment.clone(),
                            mac: mac.clone(),
                        }),
                        mac_text
                    );
                }
                MacCmd::List { segment, paging } => {
                    let base = pb::ListRequest {
                        segment: segment.clone().unwrap_or_default(),
                        ..list_req(paging)
                    };
                    list!(cl, paging, base, pb::StaticMacList, macs, mac_text)
                }
            }
        }
        CtlCommand::Learned(c) => {
            let mut cl = client!(LearnedMacsClient);
            match c {
                LearnedCmd::List { segment, paging } => {
                    let base = pb::ListRequest {
                        segment: segment.clone().unwrap_or_default(),
                        ..list_req(paging)
                    };
                    list!(cl, paging, base, pb::LearnedMacList, macs, |m| {
                        format!(
                            "{} segment {} remote {} age {:.1} s",
                            m.mac, m.segment, m.remote, m.age_seconds
                        )
                    })
                }
                LearnedCmd::Flush { segment } => {
                    reply!(
                        cl.flush(pb::SegmentRef {
                            segment: segment.clone().unwrap_or_default(),
                        }),
                        |r| format!("flushed {}", r.flushed)
                    );
                }
            }
        }
        CtlCommand::Segment(c) => {
            let mut cl = client!(SegmentsClient);
            let seg_text = |s: &pb::Segment| {
                format!(
                    "{} index {} port {} vlan {} vni {} vxlan_vni {} static_macs {} flood [{}]",
                    if s.name.is_empty() { "-" } else { &s.name },
                    s.index,
                    s.port,
                    s.vlan,
                    s.vni,
                    s.vxlan_vni,
                    s.static_macs,
                    s.flood.join(" ")
                )
            };
            match c {
                SegmentCmd::Add { .. } => {
                    let pb::change::Change::AddSegment(m) = change_of(&a.command)? else {
                        unreachable!("a segment add is a change")
                    };
                    reply!(cl.add(m), change_text);
                }
                SegmentCmd::Del { segment } => {
                    reply!(
                        cl.delete(pb::SegmentRef {
                            segment: segment.clone(),
                        }),
                        change_text
                    );
                }
                SegmentCmd::Get { segment } => {
                    reply!(
                        cl.get(pb::SegmentRef {
                            segment: segment.clone(),
                        }),
                        seg_text
                    );
                }
                SegmentCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::SegmentList,
                        segments,
                        seg_text
                    )
                }
                SegmentCmd::Flood { segment, remotes } => {
                    reply!(
                        cl.set_flood(pb::FloodList {
                            segment: segment.clone(),
                            remotes: remotes.clone(),
                        }),
                        change_text
                    );
                }
            }
        }
        CtlCommand::Decap(c) => {
            let mut cl = client!(DecapVnisClient);
            let decap_text = |d: &pb::Decap| {
                format!(
                    "vni {} port {} vlan {} {}{}{}",
                    d.vni,
                    d.port,
                    d.vlan,
                    d.payload,
                    if d.allow_from.is_empty() {
                        String::new()
                    } else {
                        format!(" allow_from {}", d.allow_from.join(","))
                    },
                    if d.require.is_empty() {
                        String::new()
                    } else {
                        format!(" require {}", d.require.join(","))
                    }
                )
            };
            match c {
                DecapCmd::Add { .. } => {
                    let Ok(pb::change::Change::AddDecap(d)) = change_of(&a.command) else {
                        unreachable!("a decap add is a change")
                    };
                    reply!(cl.add(d), change_text);
                }
                DecapCmd::Del { vni } => {
                    reply!(cl.delete(pb::DecapVni { vni: *vni }), change_text);
                }
                DecapCmd::Get { vni } => {
                    reply!(cl.get(pb::DecapVni { vni: *vni }), decap_text);
                }
                DecapCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::DecapList,
                        entries,
                        decap_text
                    )
                }
            }
        }
        CtlCommand::Option(c) => {
            let mut cl = client!(OptionRegistryClient);
            let opt_text = |o: &pb::OptionDef| {
                format!(
                    "{} class {:#06x} type {:#04x} length {}",
                    o.name,
                    o.class,
                    o.r#type,
                    if o.length == 0 {
                        "any".to_string()
                    } else {
                        o.length.to_string()
                    }
                )
            };
            match c {
                OptionCmd::Add { .. } => {
                    let pb::change::Change::AddOption(o) = change_of(&a.command)? else {
                        unreachable!("an option add is a change")
                    };
                    reply!(cl.add(o), change_text);
                }
                OptionCmd::Del { name } => {
                    reply!(
                        cl.delete(pb::OptionName { name: name.clone() }),
                        change_text
                    );
                }
                OptionCmd::Get { name } => {
                    reply!(cl.get(pb::OptionName { name: name.clone() }), opt_text);
                }
                OptionCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::OptionList,
                        options,
                        opt_text
                    )
                }
            }
        }
        CtlCommand::Policy(c) => {
            let mut cl = client!(OptionPoliciesClient);
            match c {
                PolicyCmd::Add { .. } => {
                    let pb::change::Change::AddPolicy(p) = change_of(&a.command)? else {
                        unreachable!("a policy add is a change")
                    };
                    reply!(cl.add(p), change_text);
                }
                PolicyCmd::Del { key } => {
                    reply!(cl.delete(policy_msg(key)), change_text);
                }
                PolicyCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::OptionPolicyList,
                        policies,
                        policy_text
                    )
                }
            }
        }
        CtlCommand::Neighbor(c) => {
            let mut cl = client!(NeighborsClient);
            match c {
                NeighborCmd::List { paging } => {
                    list!(
                        cl,
                        paging,
                        list_req(paging),
                        pb::NeighborList,
                        neighbors,
                        |n| format!("{} {}", n.ip, n.mac)
                    )
                }
                NeighborCmd::Add { ip, mac } => {
                    reply!(
                        cl.add(pb::Neighbor {
                            ip: ip.clone(),
                            mac: mac.clone(),
                        }),
                        change_text
                    );
                }
            }
        }
        CtlCommand::Transaction { .. } => {
            let txn = txn.unwrap_or_default();
            reply!(client!(TransactionsClient).apply(txn), change_text);
        }
        CtlCommand::Counters { tunnel, vni } => {
            let r = client!(StatsClient)
                .get(pb::CountersRequest {
                    tunnel: tunnel.clone().unwrap_or_default(),
                    vni: vni.unwrap_or(0),
                    has_vni: vni.is_some(),
                })
                .await?
                .into_inner();
            show(json, &r, |c| {
                let mut s = format!(
                    "encap {}\ndecap {}\npunted {}\ndrops total {}",
                    c.encap, c.decap, c.punted, c.drops_total
                );
                for p in &c.ports {
                    s.push_str(&format!(
                        "\nport {} ({}): rx {} tx {} tx dropped {}",
                        p.port_id, p.name, p.rx_packets, p.tx_packets, p.tx_dropped
                    ));
                }
                for d in c.drops.iter().filter(|d| d.packets > 0) {
                    s.push_str(&format!("\ndrop {} {}", d.reason, d.packets));
                }
                for t in &c.tables {
                    s.push_str(&format!("\ntable {} {}", t.table, t.entries));
                    if t.has_limit {
                        s.push_str(&format!(" limit {} refused {}", t.limit, t.refused));
                    }
                }
                if let Some(t) = &c.tunnel {
                    s = format!(
                        "tunnel {}: encap {} packets {} bytes, encap drops {}, decap {} packets {} bytes",
                        t.name, t.encap_packets, t.encap_bytes, t.encap_drops, t.decap_packets, t.decap_bytes
                    );
                }
                if let Some(v) = &c.vni {
                    let line = format!(
                        "vni {}: {} packets {} bytes, drops {}",
                        v.vni, v.packets, v.bytes, v.drops
                    );
                    s = if c.tunnel.is_some() {
                        format!("{s}\n{line}")
                    } else {
                        line
                    };
                }
                s
            });
        }
        CtlCommand::Config { yaml } => {
            reply!(client!(ConfigurationClient).get(pb::Empty {}), |c| {
                if *yaml {
                    c.yaml.clone()
                } else {
                    format!(
                        "file {}\ntunnels {}\nroutes {}\nsegments {}\nstatic macs {}\ndecap vnis {}",
                        c.path, c.tunnels, c.routes, c.segments, c.static_macs, c.decap_vnis
                    )
                }
            });
        }
        CtlCommand::Save { file } => {
            let r = client!(ConfigurationClient)
                .get(pb::Empty {})
                .await?
                .into_inner();
            match file {
                Some(f) => std::fs::write(f, &r.yaml)
                    .map_err(|e| CtlError::Usage(format!("{}: {e}", f.display())))?,
                None => print!("{}", r.yaml),
            }
        }
        CtlCommand::Reload => {
            reply!(
                client!(ConfigurationClient).reload(pb::Empty {}),
                |r| format!("reloaded: {}", r.summary)
            );
        }
    }
    Ok(())
}
