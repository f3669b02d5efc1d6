//! The YAML schema as serde reads it. Addresses, MACs, prefixes and numbers
//! whose range matters are read as text or wide integers here and checked in
//! `validate`, so that every such mistake in a file is reported, not only the
//! first one serde trips on.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// An integer or a string: `ttl: 64` / `ttl: inherit`, `device: 0` /
/// `device: net_pcap0`, `vlan: 100` / `vlan: none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a word")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or(Scalar::Str(v.to_string()), Scalar::Int))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The top-level sections, as `RawConfig` names them.
pub(crate) const TOP_FIELDS: &[&str] = &[
    "eal", "ports", "vtep", "tunnels", "l2", "l3", "decap", "options", "limits", "offload",
    "metrics", "api",
];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub eal: Option<RawEal>,
    pub ports: Option<Vec<RawPort>>,
    pub vtep: Option<RawVtep>,
    #[serde(default)]
    pub tunnels: Vec<RawTunnel>,
    pub l2: Option<RawL2>,
    pub l3: Option<RawL3>,
    #[serde(default)]
    pub decap: Vec<RawDecap>,
    pub options: Option<RawOptions>,
    pub limits: Option<RawLimits>,
    pub offload: Option<RawOffload>,
    pub metrics: Option<RawMetrics>,
    pub api: Option<RawApi>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApi {
    pub listen_tcp: Option<String>,
}

/// `offload: auto | off`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawOffload {
    Auto,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub prometheus: Option<String>,
    pub latency: Option<bool>,
    pub capture: Option<bool>,
    pub top_tunnels: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEal {
    pub cores: Option<Vec<i64>>,
    pub control_core: Option<i64>,
    pub memory: Option<RawMemory>,
    pub devices: Option<RawDevices>,
    pub file_prefix: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MemoryMode {
    Hugepages,
    NoHuge,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMemory {
    pub mode: Option<MemoryMode>,
    pub size_mb: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDevices {
    #[serde(default)]
    pub pci: Vec<String>,
    #[serde(default)]
    pub vdev: Vec<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    Underlay,
    Access,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPort {
    pub name: String,
    pub role: Role,
    pub device: Scalar,
    pub queues: Option<i64>,
    pub mtu: Option<i64>,
    pub mac: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVtep {
    pub port: Option<String>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub udp_port: Option<i64>,
    pub vxlan_port: Option<i64>,
    pub vlan: Option<Scalar>,
    #[serde(default)]
    pub next_hops: Vec<RawNextHop>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNextHop {
    pub via: String,
    pub mac: Option<String>,
    pub destinations: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawChecksum {
    Zero,
    Compute,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTunnel {
    pub name: String,
    pub remote: String,
    pub vni: i64,
    pub encapsulation: Option<RawEncapsulation>,
    pub mesh: Option<String>,
    #[serde(default)]
    pub options: Vec<RawTunnelOption>,
    pub udp_port: Option<i64>,
    pub udp_checksum: Option<RawChecksum>,
    pub accept_zero_checksum: Option<bool>,
    pub ttl: Option<Scalar>,
    pub dscp: Option<Scalar>,
    pub source_ports: Option<RawPortRange>,
}

/// `encapsulation: geneve | vxlan`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawEncapsulation {
    Geneve,
    Vxlan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTunnelOption {
    pub name: Option<String>,
    pub class: Option<i64>,
    #[serde(rename = "type")]
    pub type_: Option<i64>,
    #[serde(default)]
    pub data: String,
    pub critical: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPortRange {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawL2 {
    pub learning: Option<bool>,
    pub ageing_seconds: Option<i64>,
    #[serde(default)]
    pub segments: Vec<RawSegment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSegment {
    pub name: Option<String>,
    pub port: String,
    pub vlan: Option<Scalar>,
    pub vni: i64,
    pub vxlan_vni: Option<i64>,
    #[serde(default)]
    pub flood: Vec<String>,
    #[serde(default)]
    pub static_macs: Vec<RawStaticMac>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStaticMac {
    pub mac: String,
    pub remote: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawL3 {
    pub access: RawL3Access,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawL3Access {
    pub port: String,
    pub vlan: Option<Scalar>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub gateway_mac: Option<String>,
    pub next_hop: Option<String>,
    pub next_hop_mac: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub prefix: String,
    pub tunnel: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDecap {
    pub vni: i64,
    pub port: Option<String>,
    pub vlan: Option<Scalar>,
    pub allow_from: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOptions {
    #[serde(default)]
    pub registry: Vec<RawOptionDef>,
    pub policies: Option<RawPolicies>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOptionDef {
    pub name: String,
    pub class: i64,
    #[serde(rename = "type")]
    pub type_: i64,
    pub length: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicies {
    #[serde(default)]
    pub require: Vec<RawScoped>,
    #[serde(default)]
    pub security_tags: Vec<RawSecurityTag>,
    #[serde(default)]
    pub flow_id_copy: Vec<RawScoped>,
}

/// `require` and `flow_id_copy` entries: an option, optionally scoped to a
/// VNI or a tunnel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScoped {
    pub option: String,
    pub vni: Option<i64>,
    pub tunnel: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAction {
    Allow,
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecurityTag {
    pub option: String,
    pub vni: Option<i64>,
    pub tunnel: Option<String>,
    #[serde(default)]
    pub allow: Vec<Scalar>,
    #[serde(default)]
    pub deny: Vec<Scalar>,
    pub default: Option<RawAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_options: Option<i64>,
    pub mac_table_size: Option<i64>,
    pub flow_table_size: Option<i64>,
    pub burst_size: Option<i64>,
    pub mbufs: Option<i64>,
    pub route_groups: Option<i64>,
    pub neighbors: Option<i64>,
}
