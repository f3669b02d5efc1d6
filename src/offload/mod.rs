//! Hardware offload decisions, without DPDK: what a port can do (a
//! capability model filled by `dpdk::probe_capabilities`), which of the
//! gateway's offloadable features run in hardware and why
//! ([`decide`]), and the rte_flow decap rule the gateway would install, as
//! plain data with its testpmd rendering ([`DecapRule`]).
//!
//! The facts behind the decisions are DPDK 22.11's, read from the PMD sources:
//! i40e offloads TX checksums and Geneve TSO but has no Geneve rte_flow
//! items and refuses `rte_eth_dev_udp_tunnel_port_add` for Geneve; mlx5 has
//! the GENEVE item with RAW_DECAP (with `dv_flow_en=1`) but no outer UDP
//! checksum offload; no virtual PMD offloads anything Geneve.
#![forbid(unsafe_code)]

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{Config, Payload};

/// TX offloads a port advertises (`dev_info.tx_offload_capa`), by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCaps {
    pub ipv4_cksum: bool,
    pub udp_cksum: bool,
    pub tcp_cksum: bool,
    pub outer_ipv4_cksum: bool,
    pub outer_udp_cksum: bool,
    pub geneve_tnl_tso: bool,
    pub tcp_tso: bool,
    pub multi_segs: bool,
}

impl TxCaps {
    /// The advertised offloads with DPDK's names (`RTE_ETH_TX_OFFLOAD_*`).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.ipv4_cksum, "IPV4_CKSUM"),
            (self.udp_cksum, "UDP_CKSUM"),
            (self.tcp_cksum, "TCP_CKSUM"),
            (self.outer_ipv4_cksum, "OUTER_IPV4_CKSUM"),
            (self.outer_udp_cksum, "OUTER_UDP_CKSUM"),
            (self.geneve_tnl_tso, "GENEVE_TNL_TSO"),
            (self.tcp_tso, "TCP_TSO"),
            (self.multi_segs, "MULTI_SEGS"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }
}

/// RX offloads a port advertises (`dev_info.rx_offload_capa`), by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxCaps {
    pub ipv4_cksum: bool,
    pub udp_cksum: bool,
    pub tcp_cksum: bool,
    pub outer_ipv4_cksum: bool,
    pub outer_udp_cksum: bool,
    pub rss_hash: bool,
    pub scatter: bool,
}

impl RxCaps {
    /// The advertised offloads with DPDK's names (`RTE_ETH_RX_OFFLOAD_*`).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.ipv4_cksum, "IPV4_CKSUM"),
            (self.udp_cksum, "UDP_CKSUM"),
            (self.tcp_cksum, "TCP_CKSUM"),
            (self.outer_ipv4_cksum, "OUTER_IPV4_CKSUM"),
            (self.outer_udp_cksum, "OUTER_UDP_CKSUM"),
            (self.rss_hash, "RSS_HASH"),
            (self.scatter, "SCATTER"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }
}

/// Whether the port's PMD implements the rte_flow API at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowApi {
    Available,
    /// The PMD has no flow operations; the text is DPDK's answer.
    Unavailable(String),
}

/// Everything the decisions are made from, for one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortCaps {
    pub port: u16,
    /// The DPDK device name (`net_null0`, a PCI address).
    pub name: String,
    /// The PMD's driver name (`net_i40e`, `mlx5_pci`, `net_tap`).
    pub driver: String,
    pub tx: TxCaps,
    pub rx: RxCaps,
    /// Packet types the PMD recognises on RX, DPDK's names.
    pub ptypes: Vec<String>,
    /// `RTE_PTYPE_TUNNEL_GENEVE` is among them.
    pub geneve_ptype: bool,
    pub flow_api: FlowApi,
    pub max_rx_queues: u16,
}

/// The PMD families whose Geneve behaviour the decisions know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverFamily {
    /// Intel XL710 / X710 / X722 (`net_i40e`).
    I40e,
    /// NVIDIA ConnectX-4 and later (`mlx5_pci`, `net_mlx5`).
    Mlx5,
    Other,
}

impl DriverFamily {
    pub fn of(driver: &str) -> DriverFamily {
        if driver.contains("i40e") {
            DriverFamily::I40e
        } else if driver.contains("mlx5") {
            DriverFamily::Mlx5
        } else {
            DriverFamily::Other
        }
    }
}

/// The gateway's offloadable features, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    OuterIpv4Checksum,
    OuterUdpChecksum,
    InnerIpChecksum,
    InnerL4Checksum,
    GeneveTso,
    FlowDecap,
    InnerRss,
    /// The outer IPv4 header checksum check of received Geneve packets.
    RxOuterIpv4Checksum,
}

impl Feature {
    pub const ALL: [Feature; 8] = [
        Feature::OuterIpv4Checksum,
        Feature::OuterUdpChecksum,
        Feature::InnerIpChecksum,
        Feature::InnerL4Checksum,
        Feature::GeneveTso,
        Feature::FlowDecap,
        Feature::InnerRss,
        Feature::RxOuterIpv4Checksum,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::OuterIpv4Checksum => "outer IPv4 checksum",
            Feature::OuterUdpChecksum => "outer UDP checksum",
            Feature::InnerIpChecksum => "inner IPv4 checksum",
            Feature::InnerL4Checksum => "inner UDP/TCP checksum",
            Feature::GeneveTso => "Geneve TSO",
            Feature::FlowDecap => "rte_flow decap (VNI match)",
            Feature::InnerRss => "inner RSS",
            Feature::RxOuterIpv4Checksum => "outer IPv4 checksum (RX)",
        }
    }
}

/// Where a feature runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Hardware,
    Software,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Hardware => "hardware",
            Place::Software => "software",
        })
    }
}

/// One row: a feature, where it runs, and why in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub feature: Feature,
    pub place: Place,
    pub reason: String,
}

/// The decisions for one port, one row per [`Feature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionTable {
    pub rows: Vec<Decision>,
}

impl DecisionTable {
    pub fn get(&self, f: Feature) -> &Decision {
        // `decide` fills every feature, in order.
        &self.rows[Feature::ALL.iter().position(|x| *x == f).unwrap_or(0)]
    }

    pub fn place(&self, f: Feature) -> Place {
        self.get(f).place
    }

    /// The table as text, every line starting with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{indent}{:<28} {:<9} why", "feature", "where");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{indent}{:<28} {:<9} {}",
                r.feature.as_str(),
                r.place.to_string(),
                r.reason
            );
        }
        s
    }
}

/// A TX checksum feature: hardware exactly when the port advertises the
/// bit, the same rule `Port::configure_and_start` masks TX offloads with,
/// so the table says what is configured.
fn tx_bit(feature: Feature, enabled: bool, advertised: &[(bool, &str)]) -> Decision {
    let missing: Vec<&str> = advertised
        .iter()
        .filter_map(|(on, n)| (!on).then_some(*n))
        .collect();
    let have: Vec<&str> = advertised.iter().map(|(_, n)| *n).collect();
    let (place, reason) = if !enabled {
        (Place::Software, "offload disabled".to_string())
    } else if missing.is_empty() {
        (
            Place::Hardware,
            format!("port advertises {}", have.join(" + ")),
        )
    } else {
        let why = format!("port does not advertise {}", missing.join(" + "));
        (Place::Software, why)
    };
    Decision {
        feature,
        place,
        reason,
    }
}

/// Decides, per feature, hardware or software for a port with `caps`.
/// `offload_enabled` false puts everything in software (the operator's
/// switch, and the reference the hardware path is compared against).
pub fn decide(caps: &PortCaps, offload_enabled: bool) -> DecisionTable {
    let family = DriverFamily::of(&caps.driver);
    let t = &caps.tx;
    // The encap path describes the outer headers to the NIC as a plain
    // packet (l2/l3/l4 lengths, IPV4|IP_CKSUM or IPV6, UDP_CKSUM; see
    // tunnel::offload), so the plain checksum bits are what the outer
    // checksums need; OUTER_* bits are not used.
    let plain = " (outer headers described as a plain packet)";
    let mut outer_ip = tx_bit(
        Feature::OuterIpv4Checksum,
        offload_enabled,
        &[(t.ipv4_cksum, "IPV4_CKSUM")],
    );
    let mut outer_udp = tx_bit(
        Feature::OuterUdpChecksum,
        offload_enabled,
        &[(t.udp_cksum, "UDP_CKSUM")],
    );
    for d in [&mut outer_ip, &mut outer_udp] {
        if d.place == Place::Hardware {
            d.reason.push_str(plain);
        }
    }
    // Inner headers are the sender's: encap forwards their checksums
    // unchanged, so there is nothing to compute in either place.
    let passed_through = |feature| {
        software(
            feature,
            if offload_enabled {
                "not recomputed: the sender's checksum passes through unchanged"
            } else {
                "offload disabled"
            },
        )
    };
    let mut rows = vec![
        outer_ip,
        outer_udp,
        passed_through(Feature::InnerIpChecksum),
        passed_through(Feature::InnerL4Checksum),
    ];
    // What `run` enables: GENEVE_TNL_TSO and OUTER_IPV4_CKSUM are requested
    // with `offload: auto` (dataplane::tx_offload); too-big inner TCP is
    // segmented in software otherwise (tunnel::segment).
    rows.push(if !offload_enabled {
        software(Feature::GeneveTso, "offload disabled")
    } else if t.geneve_tnl_tso && t.outer_ipv4_cksum {
        Decision {
            feature: Feature::GeneveTso,
            place: Place::Hardware,
            reason: "port advertises GENEVE_TNL_TSO + OUTER_IPV4_CKSUM, both enabled: the NIC segments inner TCP (tunnels with a computed outer UDP checksum: software segmentation)".into(),
        }
    } else if t.geneve_tnl_tso {
        software(
            Feature::GeneveTso,
            "GENEVE_TNL_TSO without OUTER_IPV4_CKSUM: software segmentation over IPv4 underlays (the NIC segments over IPv6 with a zero UDP checksum)",
        )
    } else {
        software(
            Feature::GeneveTso,
            "port does not advertise GENEVE_TNL_TSO: software segmentation",
        )
    });
    let flow = if !offload_enabled {
        software(Feature::FlowDecap, "offload disabled")
    } else {
        match (family, &caps.flow_api) {
            (DriverFamily::I40e, _) => software(
                Feature::FlowDecap,
                "i40e has no Geneve rte_flow item in 22.11 and refuses the Geneve UDP tunnel port",
            ),
            (_, FlowApi::Unavailable(why)) => {
                software(Feature::FlowDecap, &format!("no rte_flow API: {why}"))
            }
            (DriverFamily::Mlx5, FlowApi::Available) => Decision {
                feature: Feature::FlowDecap,
                place: Place::Hardware,
                reason: "mlx5: GENEVE item + RAW_DECAP (needs dv_flow_en=1); a rule that fails to create stays in software".into(),
            },
            (DriverFamily::Other, FlowApi::Available) => software(
                Feature::FlowDecap,
                &format!(
                    "{} has no Geneve rte_flow item with RAW_DECAP",
                    caps.driver
                ),
            ),
        }
    };
    let hw_decap = flow.place == Place::Hardware;
    rows.push(flow);
    rows.push(if hw_decap {
        Decision {
            feature: Feature::InnerRss,
            place: Place::Hardware,
            reason: "RSS action at level 2 (inner headers) in the decap rules".into(),
        }
    } else if !offload_enabled {
        software(Feature::InnerRss, "offload disabled")
    } else if family == DriverFamily::I40e {
        software(
            Feature::InnerRss,
            "i40e has no inner RSS; workers are spread by the outer UDP source port",
        )
    } else {
        software(
            Feature::InnerRss,
            "no hardware decap: RSS sees the outer headers, spread by the outer UDP source port",
        )
    });
    // What `run` enables with `offload: auto` (dataplane::tx_offload):
    // decap trusts the port's good verdict, checks the rest itself.
    rows.push(if !offload_enabled {
        software(Feature::RxOuterIpv4Checksum, "offload disabled")
    } else if caps.rx.ipv4_cksum {
        Decision {
            feature: Feature::RxOuterIpv4Checksum,
            place: Place::Hardware,
            reason: "port advertises RX IPV4_CKSUM: decap trusts packets it marks good, checks the others".into(),
        }
    } else {
        software(
            Feature::RxOuterIpv4Checksum,
            "port does not advertise RX IPV4_CKSUM",
        )
    });
    DecisionTable { rows }
}

fn software(feature: Feature, reason: &str) -> Decision {
    Decision {
        feature,
        place: Place::Software,
        reason: reason.to_string(),
    }
}

/// Where a hardware-decapsulated packet goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    /// One RX queue (a single worker).
    Queue(u16),
    /// RSS over these queues, hashed on the inner headers (level 2).
    InnerRss(Vec<u16>),
}

/// The Geneve protocol type of an Ethernet payload.
pub const GENEVE_PROTO_ETHERNET: u16 = 0x6558;
/// In `ver_opt_len_o_c_rsvd0`: the option length (6 bits) and the O bit.
/// The rule matches both as zero, so packets with options (which policies
/// and the critical bit must see) and control packets stay in software.
pub const GENEVE_OPTLEN_O_MASK: u16 = 0x3f80;
/// The ECN bits of the IPv4 TOS / IPv6 traffic class. The rule matches
/// them as Not-ECT: with any other outer ECN value RFC 6040 may change the
/// inner header, which RAW_DECAP does not do, so those stay in software.
pub const ECN_MASK: u8 = 0x03;
/// IPv4 flags MF + fragment offset: matched as zero (no fragments).
pub const IPV4_FRAGMENT_MASK: u16 = 0x3fff;

/// One rte_flow decap rule, as data: ingress on `port`, outer
/// Ethernet / IP to `vtep` / UDP dst `udp_port` / Geneve VNI `vni`, no
/// options, Ethernet payload; actions RAW_DECAP of the outer headers, MARK
/// with the VNI (so the worker knows the segment), then `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecapRule {
    pub port: u16,
    pub vni: u32,
    /// The local VTEP address the packets are sent to (outer destination).
    pub vtep: IpAddr,
    pub udp_port: u16,
    pub target: RuleTarget,
}

impl DecapRule {
    /// The MARK id carried by packets this rule decapsulated.
    pub fn mark(&self) -> u32 {
        self.vni
    }

    /// The outer headers RAW_DECAP removes, as a template (the PMD uses the
    /// size and the header types, not the addresses): Ethernet, IPv4 or
    /// IPv6, UDP to `udp_port`, an option-less Geneve header with this VNI.
    pub fn raw_decap_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(70);
        b.extend_from_slice(&[0; 12]);
        match self.vtep {
            IpAddr::V4(a) => {
                b.extend_from_slice(&0x0800u16.to_be_bytes());
                let mut ip = [0u8; 20];
                ip[0] = 0x45;
                ip[8] = 64;
                ip[9] = 17;
                ip[16..20].copy_from_slice(&a.octets());
                b.extend_from_slice(&ip);
            }
            IpAddr::V6(a) => {
                b.extend_from_slice(&0x86ddu16.to_be_bytes());
                let mut ip = [0u8; 40];
                ip[0] = 0x60;
                ip[6] = 17;
                ip[7] = 64;
                ip[24..40].copy_from_slice(&a.octets());
                b.extend_from_slice(&ip);
            }
        }
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.udp_port.to_be_bytes());
        b.extend_from_slice(&[0, 16, 0, 0]);
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&GENEVE_PROTO_ETHERNET.to_be_bytes());
        b.extend_from_slice(&(self.vni << 8).to_be_bytes());
        b
    }

    /// The same rule as testpmd commands, to replay by hand: the
    /// `set raw_decap` line, then `flow create`. testpmd's geneve item has
    /// no O-bit field, so the replayed rule matches `optlen is 0` only.
    pub fn testpmd(&self) -> [String; 2] {
        let (l3, outer) = match self.vtep {
            IpAddr::V4(a) => (
                "ipv4",
                format!(
                    "ipv4 dst is {a} tos spec 0 tos mask {ECN_MASK:#x} fragment_offset spec 0 fragment_offset mask {IPV4_FRAGMENT_MASK:#x}"
                ),
            ),
            IpAddr::V6(a) => (
                "ipv6",
                format!("ipv6 dst is {a} tc spec 0 tc mask {ECN_MASK:#x}"),
            ),
        };
        let target = match &self.target {
            RuleTarget::Queue(q) => format!("queue index {q}"),
            RuleTarget::InnerRss(qs) => {
                let list: Vec<String> = qs.iter().map(u16::to_string).collect();
                format!(
                    "rss level 2 types ip udp tcp end queues {} end",
                    list.join(" ")
                )
            }
        };
        [
            format!("set raw_decap 0 eth / {l3} / udp / geneve / end_set"),
            format!(
                "flow create {} ingress pattern eth / {outer} / udp dst is {} / geneve vni is {} protocol is {:#06x} optlen is 0 / end actions raw_decap index 0 / mark id {} / {target} / end",
                self.port,
                self.udp_port,
                self.vni,
                GENEVE_PROTO_ETHERNET,
                self.mark()
            ),
        ]
    }
}

/// Why a configured VNI cannot be decapsulated in hardware with identical
/// results: the software path needs something RAW_DECAP throws away.
pub fn hw_decap_blocker(cfg: &Config, vni: crate::wire::geneve::Vni) -> Option<&'static str> {
    let d = cfg.decap_for(vni)?;
    if d.payload != Payload::Ethernet {
        return Some("IP payload: the inner Ethernet header is rebuilt in software");
    }
    if d.vlan.is_some() {
        return Some("the decapsulated frame gets a VLAN tag in software");
    }
    if d.allow_from.is_some() {
        return Some("allow_from checks the outer source address");
    }
    if cfg.l2.as_ref().is_some_and(|l| l.learning) {
        return Some("MAC learning needs the outer source address");
    }
    let segments = cfg.l2.iter().flat_map(|l| &l.segments);
    if segments.filter(|s| s.vni == vni).any(|s| cfg.stitched(s)) {
        return Some("a stitched segment forwards by the outer source's mesh group");
    }
    let applies = |s: &crate::config::Scope| match s {
        crate::config::Scope::All => true,
        crate::config::Scope::Vni(v) => *v == vni,
        crate::config::Scope::Tunnel(t) => cfg.tunnels.get(*t).is_some_and(|t| t.vni == vni),
    };
    if cfg.options.require.iter().any(|r| applies(&r.scope)) {
        return Some("a require-option policy must see the options");
    }
    if cfg.options.security_tags.iter().any(|s| applies(&s.scope)) {
        return Some("a security-tag policy must see the options");
    }
    None
}

/// VNIs left to software decap, each with the reason.
pub type SoftwareVnis = Vec<(u32, &'static str)>;

/// The decap rules the gateway installs on the underlay port `port` for
/// `cfg`: one per decap VNI and VTEP address family, for the VNIs with no
/// [`hw_decap_blocker`]. The second list names the VNIs left in software.
pub fn decap_rules(cfg: &Config, port: u16, queues: u16) -> (Vec<DecapRule>, SoftwareVnis) {
    let target = if queues <= 1 {
        RuleTarget::Queue(0)
    } else {
        RuleTarget::InnerRss((0..queues).collect())
    };
    let vteps: Vec<IpAddr> = [cfg.vtep.ipv4.map(|a| a.addr), cfg.vtep.ipv6.map(|a| a.addr)]
        .into_iter()
        .flatten()
        .collect();
    let mut rules = Vec::new();
    let mut left = Vec::new();
    for d in &cfg.decap {
        if let Some(why) = hw_decap_blocker(cfg, d.vni) {
            left.push((d.vni.get(), why));
            continue;
        }
        for &vtep in &vteps {
            rules.push(DecapRule {
                port,
                vni: d.vni.get(),
                vtep,
                udp_port: cfg.vtep.udp_port,
                target: target.clone(),
            });
        }
    }
    (rules, left)
}

/// A rule for a port without a configuration (`probe --validate` without
/// `-c`): VNI 100 to a documentation address, so the PMD's answer to the
/// rule's shape can still be seen.
pub fn sample_rules(port: u16) -> Vec<DecapRule> {
    [
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ]
    .into_iter()
    .map(|vtep| DecapRule {
        port,
        vni: 100,
        vtep,
        udp_port: crate::config::GENEVE_UDP_PORT,
        target: RuleTarget::Queue(0),
    })
    .collect()
}

#[cfg(test)]
mod tests;
