//! The validated configuration: plain typed data, every reference resolved to
//! an index, every default filled in. Nothing here knows DPDK or the wire
//! format code.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const OPTION_DATA_MAX: usize = 124;
/// The largest total options length in bytes (6-bit Opt Len in 4-byte words).
pub const OPTIONS_TOTAL_MAX: usize = 252;
/// The IANA-assigned Geneve UDP port.
pub const GENEVE_UDP_PORT: u16 = 6081;
/// The IANA-assigned VXLAN UDP port (RFC 7348).
pub const VXLAN_UDP_PORT: u16 = 4789;

/// Which tunnel header a tunnel speaks (`encapsulation: geneve | vxlan`),
/// from the wire layer.
pub use crate::wire::Encapsulation;
/// Most entries in `options.registry`: decapsulation records which
/// registered options a packet carried in a 32-bit set.
pub const REGISTRY_MAX: usize = 32;
/// Most ports: the workers keep per-port counters in a fixed array.
pub const PORTS_MAX: usize = 32;

/// The one VNI type of the crate (24 bits, checked), from the wire layer.
pub use crate::wire::geneve::Vni;
/// The largest VNI (24 bits).
pub const VNI_MAX: u32 = Vni::MAX;

/// The one MAC address type of the crate, from the wire layer.
pub use crate::wire::ethernet::{MacAddr, MacParseError};

/// An IPv4 or IPv6 prefix whose host bits are zero (`198.19.1.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpPrefix {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub len: u8,
}

impl IpPrefix {
    /// The prefix of `len` bits containing `addr` (host bits cleared).
    pub fn containing(addr: IpAddr, len: u8) -> IpPrefix {
        IpPrefix {
            addr: mask(addr, len),
            len,
        }
    }

    /// The default route of `addr`'s family.
    pub fn default_for(addr: IpAddr) -> IpPrefix {
        match addr {
            IpAddr::V4(_) => IpPrefix {
                addr: Ipv4Addr::UNSPECIFIED.into(),
                len: 0,
            },
            IpAddr::V6(_) => IpPrefix {
                addr: Ipv6Addr::UNSPECIFIED.into(),
                len: 0,
            },
        }
    }

    /// True when `ip` is of the same family and inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.len) == self.addr
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// `addr` with all but the first `len` bits cleared.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// An interface address with the length of its on-link subnet
/// (`198.18.0.1/24`). Written without a length, the length is 0: every
/// destination of that family is treated as on-link (resolved directly with
/// ARP/ND) unless a next hop covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfAddr {
    /// The address itself.
    pub addr: IpAddr,
    /// The on-link subnet's prefix length.
    pub prefix_len: u8,
}

impl IfAddr {
    /// The on-link subnet.
    pub fn subnet(&self) -> IpPrefix {
        IpPrefix::containing(self.addr, self.prefix_len)
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The DPDK EAL settings.
    pub eal: EalConfig,
    /// Ports, in file order; other parts refer to them by index.
    pub ports: Vec<PortConfig>,
    /// The local VTEP.
    pub vtep: Vtep,
    /// Tunnels, in file order; other parts refer to them by index.
    pub tunnels: Vec<Tunnel>,
    /// L2 mode, if configured.
    pub l2: Option<L2>,
    /// L3 mode, if configured.
    pub l3: Option<L3>,
    /// The resolved decap table: one entry per VNI the gateway accepts
    /// (from `l2.segments`, from the tunnels `l3.routes` use, and from
    /// explicit `decap` entries), sorted by VNI.
    pub decap: Vec<Decap>,
    /// Option registry and policies.
    pub options: Options,
    /// Limits.
    pub limits: Limits,
    /// Use the NIC's checksum offloads (TX and RX) and rte_flow decap where
    /// the port has them.
    pub offload: Offload,
    /// Observability: latency, Prometheus, packet capture.
    pub metrics: Metrics,
    /// The live control API (`control::api`).
    pub api: ApiConfig,
    /// Lookups over `tunnels`, built with it by [`super::load`].
    pub(super) index: TunnelIndex,
}

/// The tunnels by (remote VTEP, VNI) and by name, so that the data plane's
/// table build (one [`Config::tunnel_for`] per template) stays linear in the
/// number of tunnels. By name it is a list of indexes sorted by name (four
/// bytes a tunnel, binary search), built at the first look-up: only tools
/// and tests look tunnels up by name.
#[derive(Debug, Clone, Default)]
pub(super) struct TunnelIndex {
    /// By (remote VTEP, VNI, encapsulation): a VXLAN and a Geneve tunnel
    /// with one VNI number are different networks.
    by_pair: rustc_hash::FxHashMap<(IpAddr, Vni, Encapsulation), u32>,
    by_name: std::sync::OnceLock<Vec<u32>>,
    /// By (encapsulation, VNI): the mesh groups of the tunnels with that
    /// VNI, each once (what [`Config::stitched`] needs per segment, so that
    /// asking it of every segment stays linear). Built at the first use.
    groups_by_vni: std::sync::OnceLock<rustc_hash::FxHashMap<(Encapsulation, Vni), Vec<u32>>>,
}

/// Derived from the tunnels, which `Config` compares itself: whether the
/// by-name list was built yet makes no difference.
impl PartialEq for TunnelIndex {
    fn eq(&self, other: &Self) -> bool {
        self.by_pair == other.by_pair
    }
}

impl Eq for TunnelIndex {}

impl TunnelIndex {
    /// Index `tunnels`; where two share a key the first one wins, as a scan
    /// in file order would find it.
    pub(super) fn new(tunnels: &[Tunnel]) -> TunnelIndex {
        let mut by_pair =
            rustc_hash::FxHashMap::with_capacity_and_hasher(tunnels.len(), Default::default());
        for (i, t) in tunnels.iter().enumerate() {
            by_pair
                .entry((t.remote, t.vni, t.encapsulation))
                .or_insert(u32::try_from(i).unwrap_or(u32::MAX));
        }
        TunnelIndex {
            by_pair,
            by_name: std::sync::OnceLock::new(),
            groups_by_vni: std::sync::OnceLock::new(),
        }
    }

    /// Tunnel `t` now sits at `i` (`config::edit`, which moves the last
    /// tunnel into a removed one's place): one entry, no shift.
    pub(super) fn placed(&mut self, t: &Tunnel, i: usize) {
        self.by_pair.insert(
            (t.remote, t.vni, t.encapsulation),
            u32::try_from(i).unwrap_or(u32::MAX),
        );
        self.forget_lazy();
    }

    /// Tunnel `t` left index `i`.
    pub(super) fn unplaced(&mut self, t: &Tunnel, i: usize) {
        let key = (t.remote, t.vni, t.encapsulation);
        if self.by_pair.get(&key) == Some(&u32::try_from(i).unwrap_or(u32::MAX)) {
            self.by_pair.remove(&key);
        }
        self.forget_lazy();
    }

    fn forget_lazy(&mut self) {
        self.by_name = std::sync::OnceLock::new();
        self.groups_by_vni = std::sync::OnceLock::new();
    }

    /// Indexes (into `tunnels`) of one tunnel per distinct mesh group among
    /// those with encapsulation `e` and VNI `vni`.
    pub(super) fn groups_of(&self, tunnels: &[Tunnel], e: Encapsulation, vni: Vni) -> &[u32] {
        let map = self.groups_by_vni.get_or_init(|| {
            let mut m: rustc_hash::FxHashMap<(Encapsulation, Vni), Vec<u32>> =
                rustc_hash::FxHashMap::default();
            let mut seen: rustc_hash::FxHashSet<(Encapsulation, Vni, &str)> =
                rustc_hash::FxHashSet::default();
            for (i, t) in tunnels.iter().enumerate() {
                if seen.insert((t.encapsulation, t.vni, t.mesh.as_str())) {
                    let v = m.entry((t.encapsulation, t.vni)).or_default();
                    v.push(u32::try_from(i).unwrap_or(u32::MAX));
                }
            }
            m
        });
        map.get(&(e, vni)).map_or(&[], Vec::as_slice)
    }

    fn by_name(&self, tunnels: &[Tunnel]) -> &[u32] {
        self.by_name.get_or_init(|| {
            let mut v: Vec<u32> = (0..tunnels.len())
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect();
            // Stable: among equal names the first in the file comes first.
            v.sort_by(|&a, &b| tunnels[a as usize].name.cmp(&tunnels[b as usize].name));
            v
        })
    }
}

/// `offload:` whether the gateway lets the NIC compute and check checksums
/// and decapsulate (rte_flow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Offload {
    /// Enable the TX and RX checksum offloads the gateway can use that the
    /// underlay port advertises, and rte_flow decap where the PMD takes the
    /// rules; do the rest in software.
    #[default]
    Auto,
    /// Everything in software: the NIC is asked for no TX or RX checksum
    /// offload and no rte_flow decap rule.
    Off,
}

impl std::str::FromStr for Offload {
    type Err = String;
    fn from_str(s: &str) -> Result<Offload, String> {
        match s {
            "auto" => Ok(Offload::Auto),
            "off" => Ok(Offload::Off),
            _ => Err(format!("`{s}` is not an offload mode; use auto or off")),
        }
    }
}

/// The control API (`api:`): always on the gateway's Unix socket; on TCP
/// only when `listen_tcp` is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiConfig {
    /// Also serve the API on this TCP address (unauthenticated: put TLS
    /// or an SSH tunnel in front, see the README).
    pub listen_tcp: Option<std::net::SocketAddr>,
}

/// Observability settings (`metrics:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// Serve Prometheus text on this address (off when None).
    pub prometheus: Option<std::net::SocketAddr>,
    /// Measure per-packet residence time (RX burst to TX burst).
    pub latency: bool,
    /// Let `dpdk-dumpcap` attach: keep hugepage files shared and start
    /// DPDK's capture server.
    pub capture: bool,
    /// Prometheus series per tunnel for this many tunnels, those with the
    /// most packets (0: none, the default; at most [`TOP_TUNNELS_MAX`]).
    pub top_tunnels: u32,
}

/// Most tunnels `metrics.top_tunnels` may give Prometheus series.
pub const TOP_TUNNELS_MAX: u32 = 1000;

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            prometheus: None,
            latency: true,
            capture: false,
            top_tunnels: 0,
        }
    }
}

impl Config {
    /// The port with this name.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// The tunnel with this name (the first, if two share it).
    pub fn tunnel_index(&self, name: &str) -> Option<usize> {
        let names = self.index.by_name(&self.tunnels);
        let i = names.partition_point(|&i| self.tunnels[i as usize].name.as_str() < name);
        let t = *names.get(i)? as usize;
        (self.tunnels.get(t)?.name == name).then_some(t)
    }

    /// The tunnel configured for this remote VTEP and VNI in this
    /// encapsulation.
    pub fn tunnel_for_encap(&self, remote: IpAddr, vni: Vni, e: Encapsulation) -> Option<&Tunnel> {
        let i = *self.index.by_pair.get(&(remote, vni, e))?;
        self.tunnels.get(i as usize)
    }

    /// How `remote` is a member of `segment`: its VXLAN tunnel for the
    /// segment's VXLAN VNI if there is one, else Geneve (its tunnel for the
    /// segment's VNI, or the defaults). A remote is a member in one
    /// encapsulation only (validation refuses both).
    pub fn member(&self, segment: &Segment, remote: IpAddr) -> (Encapsulation, Vni) {
        match self.tunnel_for_encap(remote, segment.vxlan_vni, Encapsulation::Vxlan) {
            Some(_) => (Encapsulation::Vxlan, segment.vxlan_vni),
            None => (Encapsulation::Geneve, segment.vni),
        }
    }

    /// The mesh group of `remote` as a member of `segment` reached with
    /// `e`: its tunnel's, else the encapsulation's name.
    pub fn mesh_of(&self, segment: &Segment, remote: IpAddr, e: Encapsulation) -> &str {
        let vni = match e {
            Encapsulation::Geneve => segment.vni,
            Encapsulation::Vxlan => segment.vxlan_vni,
        };
        self.tunnel_for_encap(remote, vni, e)
            .map_or(e.as_str(), |t| t.mesh.as_str())
    }

    /// The tunnel configured for this remote VTEP and VNI. L2 mode encaps to
    /// a remote VTEP with this tunnel's settings (options, UDP port, TTL...)
    /// when there is one, and with [`Tunnel::defaults`] otherwise.
    /// One hash lookup, whatever the number of tunnels.
    pub fn tunnel_for(&self, remote: IpAddr, vni: Vni) -> Option<&Tunnel> {
        self.tunnel_for_encap(remote, vni, Encapsulation::Geneve)
    }

    /// The decap entry for a VNI.
    pub fn decap_for(&self, vni: Vni) -> Option<&Decap> {
        self.decap
            .binary_search_by_key(&vni, |d| d.vni)
            .ok()
            .map(|i| &self.decap[i])
    }

    /// The option definition with this name.
    pub fn option_index(&self, name: &str) -> Option<usize> {
        self.options.registry.iter().position(|o| o.name == name)
    }
}

/// DPDK EAL settings. The command line adds to them after `--`, and its core
/// list or devices replace the file's (see [`EalConfig::merged_args`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalConfig {
    /// Worker lcores, one worker each.
    pub worker_cores: Vec<u32>,
    /// The control thread's lcore (the EAL main lcore); never a worker.
    pub control_core: u32,
    /// Memory mode.
    pub memory: Memory,
    /// PCI devices to allow (`-a`).
    pub pci: Vec<String>,
    /// Virtual devices (`--vdev`), e.g. `net_af_packet0,iface=gwu0`.
    pub vdevs: Vec<String>,
    /// `--file-prefix`, if set.
    pub file_prefix: Option<String>,
    /// Extra EAL arguments, passed as written.
    pub args: Vec<String>,
}

impl EalConfig {
    /// The EAL arguments this section stands for (without a program name).
    pub fn to_args(&self) -> Vec<String> {
        self.merged_args(&[])
    }

    /// The EAL arguments for this section followed by the command line's
    /// (`cli`, the words after `--`). The command line extends the file, and
    /// replaces two parts of it outright, because DPDK refuses them twice:
    /// - a core list (`-l`, `--lcores`, `-c`) replaces `cores` and
    ///   `control_core` (the EAL's main lcore is then the list's first core,
    ///   unless `--main-lcore` is given too);
    /// - a device (`-a`/`--allow`, `-b`/`--block`, `--vdev`) replaces all of
    ///   `devices` (PCI and virtual), so hardware named in the file can be
    ///   swapped for virtual devices; `--no-pci` alone does not.
    ///
    /// Everything else (memory, `--file-prefix`, `args`) is passed on, file
    /// first: where DPDK takes the last value (`-m`, `--file-prefix`), the
    /// command line wins.
    pub fn merged_args(&self, cli: &[String]) -> Vec<String> {
        let cli_cores = cli_has(cli, &["-l", "-c"], &["--lcores"]);
        let cli_main = cli_has(cli, &[], &["--main-lcore"]);
        let cli_devices = cli_has(cli, &["-a", "-b"], &["--allow", "--block", "--vdev"]);
        let mut a = Vec::new();
        if !cli_cores {
            let mut cores = vec![self.control_core];
            cores.extend(&self.worker_cores);
            let list: Vec<String> = cores.iter().map(u32::to_string).collect();
            a.extend(["-l".to_string(), list.join(",")]);
        }
        if !cli_cores && !cli_main {
            a.extend(["--main-lcore".to_string(), self.control_core.to_string()]);
        }
        match self.memory {
            Memory::Hugepages { size_mb: Some(mb) } => {
                a.push("-m".into());
                a.push(mb.to_string());
            }
            Memory::Hugepages { size_mb: None } => {}
            Memory::NoHuge { size_mb } => {
                a.push("--no-huge".into());
                a.push("-m".into());
                a.push(size_mb.to_string());
            }
        }
        if !cli_devices {
            for p in &self.pci {
                a.push("-a".into());
                a.push(p.clone());
            }
            for v in &self.vdevs {
                a.push("--vdev".into());
                a.push(v.clone());
            }
        }
        if let Some(p) = &self.file_prefix {
            a.push("--file-prefix".into());
            a.push(p.clone());
        }
        a.extend(self.args.iter().cloned());
        a.extend(cli.iter().cloned());
        a
    }
}

/// Whether `args` hold one of the short options (`-l 0,1` or `-l0,1`) or
/// long options (`--lcores X` or `--lcores=X`).
fn cli_has(args: &[String], short: &[&str], long: &[&str]) -> bool {
    args.iter().any(|a| {
        short
            .iter()
            .any(|s| a.starts_with(s) && !a.starts_with("--"))
            || long
                .iter()
                .any(|l| a == l || a.strip_prefix(l).is_some_and(|r| r.starts_with('=')))
    })
}

/// EAL memory mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Hugepages, optionally limited to `size_mb` (`-m`).
    Hugepages {
        /// Megabytes to reserve, if limited.
        size_mb: Option<u32>,
    },
    /// `--no-huge -m size_mb`.
    NoHuge {
        /// Megabytes of ordinary memory.
        size_mb: u32,
    },
}

/// What a port faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRole {
    /// The Geneve side: remote VTEPs.
    Underlay,
    /// The plain side: workloads, VLANs.
    Access,
}

impl fmt::Display for PortRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PortRole::Underlay => "underlay",
            PortRole::Access => "access",
        })
    }
}

/// How a port names its DPDK device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceRef {
    /// A DPDK device name: a PCI address or a vdev name (`net_pcap0`).
    Name(String),
    /// A DPDK port id.
    Index(u16),
}

impl fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRef::Name(n) => f.write_str(n),
            DeviceRef::Index(i) => write!(f, "{i}"),
        }
    }
}

/// A port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Unique name.
    pub name: String,
    /// Underlay or access.
    pub role: PortRole,
    /// The DPDK device.
    pub device: DeviceRef,
    /// RX and TX queues; defaults to the number of workers, never fewer.
    pub queues: u16,
    /// MTU (L3, without the Ethernet header). Default 1500.
    pub mtu: u16,
    /// MAC address override; `None` keeps the device's.
    pub mac: Option<MacAddr>,
}

/// The local VTEP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vtep {
    /// Index of the underlay port it lives on.
    pub port: usize,
    /// IPv4 address, if any.
    pub ipv4: Option<IfAddr>,
    /// IPv6 address, if any.
    pub ipv6: Option<IfAddr>,
    /// UDP port Geneve is received on, and the default destination port.
    pub udp_port: u16,
    /// UDP port VXLAN is received on, and the default destination port of
    /// VXLAN tunnels; `None`: VXLAN is not received.
    pub vxlan_port: Option<u16>,
    /// The underlay's 802.1Q VLAN Geneve may arrive tagged with; other tags
    /// are dropped (`underlay_vlan`). Untagged frames are always accepted.
    pub vlan: Option<u16>,
    /// Underlay next hops (gateways).
    pub next_hops: Vec<NextHop>,
}

impl Vtep {
    /// The local address of `remote`'s family.
    pub fn local_for(&self, remote: IpAddr) -> Option<IfAddr> {
        match remote {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6,
        }
    }

    /// How to reach `remote` on the underlay: the next hop whose
    /// destinations match it longest, else directly (on-link).
    pub fn route(&self, remote: IpAddr) -> UnderlayRoute {
        let mut best: Option<(u8, usize)> = None;
        for (i, nh) in self.next_hops.iter().enumerate() {
            for d in &nh.destinations {
                if d.contains(remote) && best.is_none_or(|(l, _)| d.len > l) {
                    best = Some((d.len, i));
                }
            }
        }
        match best {
            Some((_, i)) => UnderlayRoute::Via(i),
            None => UnderlayRoute::Direct,
        }
    }
}

/// The result of [`Vtep::route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnderlayRoute {
    /// On-link: resolve the remote VTEP itself with ARP/ND.
    Direct,
    /// Through `next_hops[i]`.
    Via(usize),
}

/// An underlay next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The gateway's address (on-link).
    pub via: IpAddr,
    /// Static MAC; `None` resolves `via` with ARP (IPv4) or ND (IPv6).
    pub mac: Option<MacAddr>,
    /// Destinations routed through it; defaults to the default route of
    /// `via`'s family.
    pub destinations: Vec<IpPrefix>,
}

/// UDP checksum policy for the outer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpChecksum {
    /// Send zero (IPv4 default; IPv6 only when configured, RFC 6935/6936).
    Zero,
    /// Compute it (IPv6 default).
    Compute,
}

/// Outer TTL / hop limit, or outer DSCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderPolicy {
    /// Pipe model: this fixed value.
    Fixed(u8),
    /// Uniform model: copy from the inner packet (fixed default when the
    /// inner packet has no IP header).
    Inherit,
}

/// An option a tunnel sends: the one option type of the crate, from the
/// wire layer (class, type with the critical bit, data).
pub use crate::wire::geneve::TunnelOption;

/// A tunnel: where to send, with which VNI and header settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// Unique name.
    pub name: String,
    /// Remote VTEP.
    pub remote: IpAddr,
    /// VNI.
    pub vni: Vni,
    /// Geneve (default) or VXLAN (Ethernet only, no options).
    pub encapsulation: Encapsulation,
    /// Split-horizon group: a frame that came from a tunnel of one group
    /// is never sent back into that group (default: the encapsulation's
    /// name, so VXLAN and Geneve members of a segment are stitched).
    pub mesh: String,
    /// Options added on encap, in order.
    pub options: Vec<TunnelOption>,
    /// Outer UDP destination port.
    pub udp_dst_port: u16,
    /// Outer UDP checksum policy.
    pub udp_checksum: UdpChecksum,
    /// Receive: accept a zero outer UDP checksum from this (IPv6) remote
    /// (RFC 6935/6936; off by default, IPv4 zero checksums are always fine).
    pub accept_zero_checksum: bool,
    /// Outer TTL / hop limit.
    pub ttl: HeaderPolicy,
    /// Outer DSCP.
    pub dscp: HeaderPolicy,
    /// Outer UDP source port range (inclusive), spread by flow hash.
    pub source_ports: (u16, u16),
}

/// Default outer TTL (pipe model).
pub const DEFAULT_TTL: u8 = 64;
/// Default UDP source port range (the dynamic ports).
pub const DEFAULT_SOURCE_PORTS: (u16, u16) = (49152, 65535);

impl Tunnel {
    /// The settings used towards a remote VTEP that has no tunnel of its own
    /// (L2 mode: flood list, static MACs, learned MACs).
    pub fn defaults(vtep: &Vtep, remote: IpAddr, vni: Vni) -> Tunnel {
        Tunnel {
            name: String::new(),
            remote,
            vni,
            encapsulation: Encapsulation::Geneve,
            mesh: Encapsulation::Geneve.as_str().to_string(),
            options: Vec::new(),
            udp_dst_port: vtep.udp_port,
            udp_checksum: default_checksum(remote),
            accept_zero_checksum: false,
            ttl: HeaderPolicy::Fixed(DEFAULT_TTL),
            dscp: HeaderPolicy::Fixed(0),
            source_ports: DEFAULT_SOURCE_PORTS,
        }
    }

    /// True when an option is critical: the header's C bit must be set.
    pub fn has_critical_option(&self) -> bool {
        self.options.iter().any(TunnelOption::critical)
    }
}

/// IPv4: zero; IPv6: compute.
pub fn default_checksum(remote: IpAddr) -> UdpChecksum {
    match remote {
        IpAddr::V4(_) => UdpChecksum::Zero,
        IpAddr::V6(_) => UdpChecksum::Compute,
    }
}

/// L2 mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2 {
    /// Learn inner source MAC -> remote VTEP from decapsulated traffic.
    pub learning: bool,
    /// Learned entries expire after this many seconds without traffic.
    pub ageing_seconds: u32,
    /// Segments: access port + VLAN <-> VNI.
    pub segments: Vec<Segment>,
}

/// An L2 segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Optional name, for logs.
    pub name: Option<String>,
    /// Access port index.
    pub port: usize,
    /// VLAN id; `None` for untagged.
    pub vlan: Option<u16>,
    /// The VNI (of its Geneve members).
    pub vni: Vni,
    /// The VNI of its VXLAN members and of VXLAN received for it (default:
    /// `vni`).
    pub vxlan_vni: Vni,
    /// Remote VTEPs that get broadcast and unknown unicast.
    pub flood: Vec<IpAddr>,
    /// Static MAC table entries.
    pub static_macs: Vec<StaticMac>,
}

/// A static MAC table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticMac {
    /// Inner destination MAC.
    pub mac: MacAddr,
    /// Remote VTEP behind which it lives.
    pub remote: IpAddr,
}

/// L3 mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L3 {
    /// The access side: where routed traffic comes from and where
    /// decapsulated IP packets go, with a rebuilt Ethernet header.
    pub access: L3Access,
    /// Routes (IPv4 and IPv6 mixed): `load` sorts them longest prefix
    /// first, the control API's edits add at the end and move the last
    /// into a removed one's place (a prefix appears once, so the order
    /// changes no lookup).
    pub routes: Vec<Route>,
}

impl L3 {
    /// Longest prefix match.
    pub fn lookup(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.prefix.contains(dst))
            .max_by_key(|r| r.prefix.len)
    }
}

/// The access side of L3 mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L3Access {
    /// Access port index.
    pub port: usize,
    /// VLAN id; `None` for untagged.
    pub vlan: Option<u16>,
    /// The gateway's IPv4 address on the access side (answers ARP).
    pub ipv4: Option<IfAddr>,
    /// The gateway's IPv6 address on the access side (answers ND).
    pub ipv6: Option<IfAddr>,
    /// Source MAC of rebuilt frames; `None` uses the port's MAC.
    pub gateway_mac: Option<MacAddr>,
    /// Destination MAC of rebuilt frames.
    pub next_hop: InnerNextHop,
}

/// How the destination MAC of a rebuilt inner Ethernet header is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerNextHop {
    /// Always this MAC.
    Static(MacAddr),
    /// Resolve this address with ARP/ND.
    Resolve(IpAddr),
    /// Resolve each packet's inner destination address with ARP/ND.
    ResolveDestination,
}

/// An L3 route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Inner destination prefix.
    pub prefix: IpPrefix,
    /// Tunnel index.
    pub tunnel: usize,
}

/// What is inside a decapsulated packet of a VNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Ethernet (0x6558): L2 mode.
    Ethernet,
    /// IP without Ethernet (0x0800 / 0x86DD): L3 mode, Ethernet rebuilt.
    Ip,
}

/// One row of the decap table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decap {
    /// The VNI.
    pub vni: Vni,
    /// Access port index.
    pub port: usize,
    /// VLAN to tag with; `None` for untagged.
    pub vlan: Option<u16>,
    /// L2 or L3.
    pub payload: Payload,
    /// Source VTEPs allowed; `None` allows any.
    pub allow_from: Option<Vec<IpAddr>>,
}

/// An option the gateway understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// Unique name.
    pub name: String,
    /// Class.
    pub class: u16,
    /// Type, critical bit included.
    pub type_: u8,
    /// Data length in bytes, when fixed.
    pub length: Option<u8>,
}

/// Which traffic a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every VNI.
    All,
    /// One VNI.
    Vni(Vni),
    /// One tunnel (index).
    Tunnel(usize),
}

/// Drop decapsulated packets without this option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireOption {
    /// Registry index.
    pub option: usize,
    /// Where.
    pub scope: Scope,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forward.
    Allow,
    /// Drop and count.
    Deny,
}

/// Allow or deny decapsulated packets by the value of a security-tag option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTagPolicy {
    /// Registry index (fixed length).
    pub option: usize,
    /// Where.
    pub scope: Scope,
    /// Values allowed, each exactly the option's length.
    pub allow: Vec<Vec<u8>>,
    /// Values denied, each exactly the option's length.
    pub deny: Vec<Vec<u8>>,
    /// For values in neither list, and packets without the option.
    pub default: Action,
}

/// Copy a flow-id option from one direction's packets to the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowIdCopy {
    /// Registry index (fixed length).
    pub option: usize,
    /// Where.
    pub scope: Scope,
}

/// Option registry and policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Understood options.
    pub registry: Vec<OptionDef>,
    /// Required options.
    pub require: Vec<RequireOption>,
    /// Security-tag policies.
    pub security_tags: Vec<SecurityTagPolicy>,
    /// Flow-id copies.
    pub flow_id_copy: Vec<FlowIdCopy>,
}

/// Limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Packets with more options are dropped (RFC 8926 3.5.1).
    pub max_options: u8,
    /// MAC table entries per worker.
    pub mac_table_size: u32,
    /// Flow-id table entries per worker.
    pub flow_table_size: u32,
    /// RX/TX burst size.
    pub burst_size: u16,
    /// Mbufs per mempool.
    pub mbufs: u32,
    /// Second-level groups of the IPv4 route table (DIR-24-8): one per /24
    /// block that holds a route longer than /24, 1 KiB each.
    pub route_groups: u32,
    /// Neighbour (ARP/ND) entries for inner destinations the traffic asks
    /// to resolve, and unsolicited bindings (configured next hops always
    /// get one).
    pub neighbors: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_options: 8,
            mac_table_size: 65536,
            flow_table_size: 65536,
            burst_size: 32,
            mbufs: 16383,
            route_groups: 65536,
            neighbors: 65536,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_is_24_bits() {
        assert_eq!(Vni::new(0xff_ffff).map(Vni::get), Some(0xff_ffff));
        assert_eq!(Vni::new(0x100_0000), None);
    }

    #[test]
    fn prefixes_mask_and_contain() {
        let p = IpPrefix::containing("198.19.1.77".parse().unwrap(), 24);
        assert_eq!(p.to_string(), "198.19.1.0/24");
        assert!(p.contains("198.19.1.1".parse().unwrap()));
        assert!(!p.contains("198.19.2.1".parse().unwrap()));
        assert!(!p.contains("2001:db8::1".parse().unwrap()));
        let d = IpPrefix::default_for("2001:db8::1".parse().unwrap());
        assert!(d.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!d.contains("198.18.0.1".parse().unwrap()));
    }
}
