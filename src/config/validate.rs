//! Semantic checks: from the serde schema (`raw`) to the typed [`Config`],
//! collecting every error with the position of the offending field.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

// FxHash: the keys (names, addresses, prefixes) come from the operator's
// own file, and a million of them hash several times faster than with SipHash.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::error::{closest, ConfigError, Pos};
use super::raw::*;
use super::types::*;

/// `parent[i]`, written out only when an error names it: validating a
/// million entries formats no path unless there is something to say.
pub(super) struct Item<'a, P: ?Sized>(pub(super) &'a P, pub(super) usize);

impl<P: fmt::Display + ?Sized> fmt::Display for Item<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// `parent.field`, written out only when an error names it.
pub(super) struct Field<'a, P: ?Sized>(pub(super) &'a P, pub(super) &'a str);

impl<P: fmt::Display + ?Sized> fmt::Display for Field<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Error collector. Errors name a field path; where the path stands in the
/// text is looked up once, after validation, and only when there are
/// errors (see `super::validated`): a valid file needs no position index.
pub(crate) struct Ctx<'a> {
    file: &'a str,
    pub errors: Vec<ConfigError>,
    /// vtep.ipv4 / vtep.ipv6 were written (valid or not): a bad local
    /// address is reported once, not again for every remote of its family.
    v4_given: bool,
    v6_given: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a str) -> Self {
        Ctx {
            file,
            errors: Vec::new(),
            v4_given: false,
            v6_given: false,
        }
    }

    fn push(&mut self, path: &(impl fmt::Display + ?Sized), message: String) {
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            pos: Pos::default(),
            path: path.to_string(),
            message,
        });
    }

    /// An error about the value at `path` (positioned there, or, when the
    /// field is absent, at its nearest present parent).
    pub(super) fn err(&mut self, path: &(impl fmt::Display + ?Sized), message: impl Into<String>) {
        self.push(path, message.into());
    }

    /// An error about a field that is absent: positioned at its parent.
    fn missing(&mut self, path: &(impl fmt::Display + ?Sized), message: impl Into<String>) {
        self.push(path, format!("missing; {}", message.into()));
    }

    fn error_count(&self) -> usize {
        self.errors.len()
    }
}

pub(super) fn range_of<T: TryFrom<i64>>(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    v: i64,
    lo: i64,
    hi: i64,
) -> Option<T> {
    if v < lo || v > hi {
        ctx.err(path, format!("{v} is out of range; allowed {lo}..={hi}"));
        return None;
    }
    T::try_from(v).ok()
}

fn opt_range<T: TryFrom<i64>>(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    v: Option<i64>,
    lo: i64,
    hi: i64,
    default: T,
) -> T {
    match v {
        None => default,
        Some(v) => range_of(ctx, path, v, lo, hi).unwrap_or(default),
    }
}

pub(super) fn vni(ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), v: i64) -> Option<Vni> {
    if v < 0 || v > i64::from(VNI_MAX) {
        ctx.err(
            path,
            format!("{v} is out of range; allowed 0..={VNI_MAX} (24 bits)"),
        );
        return None;
    }
    u32::try_from(v).ok().and_then(Vni::new)
}

fn ip(ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), s: &str) -> Option<IpAddr> {
    match s.trim().parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            let hint = if s.contains('/') {
                "; write the address without a prefix length"
            } else {
                ""
            };
            ctx.err(
                path,
                format!("`{s}` is not an IP address; allowed: an IPv4 (198.18.0.1) or IPv6 (2001:db8::1) address{hint}"),
            );
            None
        }
    }
}

/// A unicast address usable as a tunnel endpoint or next hop.
pub(super) fn unicast_ip(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    s: &str,
) -> Option<IpAddr> {
    let a = ip(ctx, path, s)?;
    let kind = match a {
        IpAddr::V4(v) if v.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(v) if v.is_loopback() => Some("a loopback address (127.0.0.0/8)"),
        IpAddr::V4(v) if v.is_broadcast() => Some("the broadcast address"),
        IpAddr::V4(v) if v.is_multicast() => Some("a multicast address (224.0.0.0/4)"),
        IpAddr::V6(v) if v.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(v) if v.is_loopback() => Some("the loopback address"),
        IpAddr::V6(v) if v.is_multicast() => Some("a multicast address (ff00::/8)"),
        _ => None,
    };
    if let Some(kind) = kind {
        ctx.err(
            path,
            format!("{a} is {kind}; allowed: a unicast IPv4 or IPv6 address another host can be reached at"),
        );
        return None;
    }
    Some(a)
}

fn mac(ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), s: &str) -> Option<MacAddr> {
    match crate::wire::ethernet::parse_mac(s.trim()) {
        Ok(m) => Some(m),
        Err(e) => {
            ctx.err(path, format!("`{s}` is not a MAC address; {e}"));
            None
        }
    }
}

pub(super) fn unicast_mac(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    s: &str,
) -> Option<MacAddr> {
    let m = mac(ctx, path, s)?;
    if crate::wire::ethernet::is_group_mac(&m) || m == [0; 6] {
        ctx.err(
            path,
            format!("{} is not a unicast MAC address; allowed: a unicast MAC (first byte even), not all zeros", crate::wire::ethernet::MacDisplay(&m)),
        );
        return None;
    }
    Some(m)
}

/// `addr/len` with the host bits zero.
pub(super) fn prefix(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    s: &str,
) -> Option<IpPrefix> {
    let t = s.trim();
    let Some((a, l)) = t.split_once('/') else {
        ctx.err(
            path,
            format!("`{s}` is not a prefix; allowed: address/length, e.g. 198.19.1.0/24 or 2001:db8:1::/48"),
        );
        return None;
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        ctx.err(
            path,
            format!("`{s}` is not a prefix: `{a}` is not an IPv4 or IPv6 address"),
        );
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l.parse::<u8>() {
        Ok(n) if n <= max => n,
        _ => {
            ctx.err(
                path,
                format!("`{s}`: prefix length `{l}` is out of range; allowed 0..={max}"),
            );
            return None;
        }
    };
    let p = IpPrefix::containing(addr, len);
    if p.addr != addr {
        ctx.err(path, format!("{s} has host bits set; did you mean {p}?"));
        return None;
    }
    Some(p)
}

/// `addr` or `addr/len`, of the family `want_v4` says.
fn if_addr(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    s: &str,
    want_v4: bool,
) -> Option<IfAddr> {
    let t = s.trim();
    let (a, l) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t, None),
    };
    let family = if want_v4 { "IPv4" } else { "IPv6" };
    let Ok(addr) = a.parse::<IpAddr>() else {
        ctx.err(
            path,
            format!("`{s}` is not an {family} address; allowed: address or address/prefix-length"),
        );
        return None;
    };
    if addr.is_ipv4() != want_v4 {
        let other = if want_v4 { "ipv6" } else { "ipv4" };
        ctx.err(
            path,
            format!("{addr} is not an {family} address; put it under `{other}`"),
        );
        return None;
    }
    let max = if want_v4 { 32 } else { 128 };
    let prefix_len = match l {
        None => 0,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                ctx.err(
                    path,
                    format!("`{s}`: prefix length `{l}` is out of range; allowed 0..={max}"),
                );
                return None;
            }
        },
    };
    let bad = match addr {
        IpAddr::V4(v) => v.is_unspecified() || v.is_multicast() || v.is_broadcast(),
        IpAddr::V6(v) => v.is_unspecified() || v.is_multicast(),
    };
    if bad {
        ctx.err(path, format!("{addr} is not a unicast address"));
        return None;
    }
    Some(IfAddr { addr, prefix_len })
}

/// Hex string (`0a0b0c0d`, `0x0a0b0c0d`, `0a:0b:0c:0d`) to bytes.
pub(super) fn hex(ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), s: &str) -> Option<Vec<u8>> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: Vec<char> = t
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '_'))
        .collect();
    if let Some(c) = digits.iter().find(|c| !c.is_ascii_hexdigit()) {
        ctx.err(
            path,
            format!("`{s}` is not a hex string (`{c}`); allowed: hex digits, two per byte, e.g. \"0000000a\""),
        );
        return None;
    }
    if !digits.len().is_multiple_of(2) {
        ctx.err(
            path,
            format!("`{s}` has an odd number of hex digits; allowed: two digits per byte"),
        );
        return None;
    }
    Some(
        digits
            .chunks(2)
            .map(|p| {
                let hi = p[0].to_digit(16).unwrap_or(0);
                let lo = p[1].to_digit(16).unwrap_or(0);
                u8::try_from(hi * 16 + lo).unwrap_or(0)
            })
            .collect(),
    )
}

pub(super) fn check_name(ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), name: &str) -> bool {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        ctx.err(
            path,
            format!("`{name}` is not a valid name; allowed: 1 to 32 letters, digits, '-', '_' or '.', starting with a letter or digit"),
        );
    }
    ok
}

/// Check a name is unique among those seen so far in a list.
fn unique(
    ctx: &mut Ctx,
    seen: &mut HashMap<String, String>,
    path: &(impl fmt::Display + ?Sized),
    name: &str,
    what: &str,
) {
    if let Some(first) = seen.get(name) {
        ctx.err(
            path,
            format!("duplicate {what} name `{name}`; already defined at {first}"),
        );
    } else {
        seen.insert(name.to_string(), path.to_string());
    }
}

/// The smallest underlay MTU per family. IPv6: 1280, the minimum link MTU
/// (RFC 8200 section 5). IPv4: room for the outer headers (IPv4 20, UDP 8,
/// Geneve 8, inner Ethernet 14) around the smallest IPv4 packet every link
/// must carry, 68 bytes (RFC 791).
const MIN_UNDERLAY_MTU_V6: u16 = 1280;
const MIN_UNDERLAY_MTU_V4: u16 = 20 + 8 + 8 + 14 + 68;

/// The underlay port must carry the VTEP's families with a Geneve header.
fn underlay_mtu(ctx: &mut Ctx, ports: &[PortConfig], v: &Vtep) {
    let Some(p) = ports.get(v.port) else { return };
    let (min, why) = if v.ipv6.is_some() && p.mtu < MIN_UNDERLAY_MTU_V6 {
        (
            MIN_UNDERLAY_MTU_V6,
            "an IPv6 underlay needs the IPv6 minimum link MTU (RFC 8200)",
        )
    } else if v.ipv4.is_some() && p.mtu < MIN_UNDERLAY_MTU_V4 {
        (MIN_UNDERLAY_MTU_V4, "an IPv4 underlay needs room for outer IPv4, UDP, Geneve and inner Ethernet headers around a 68-byte IPv4 packet")
    } else {
        return;
    };
    ctx.err(
        &format!("ports[{}].mtu", v.port),
        format!(
            "{} is too small for the underlay: {why}; allowed: {min}..=9600",
            p.mtu
        ),
    );
}

/// How many defined names an unknown-reference error lists.
const LIST_NAMES: usize = 16;
/// Up to how many defined names an unknown reference gets a suggestion.
const SUGGEST_AMONG: usize = 1000;

fn unknown_ref(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    what: &str,
    name: &str,
    known: &[&str],
) {
    Names::new(what, known.iter().copied()).unknown(ctx, path, name);
}

/// What an unknown-reference error says about the names defined: built
/// once per list (and only when a reference is unknown), so that each error
/// costs a bounded amount however many names exist and however many
/// references are wrong.
struct Names {
    what: String,
    /// `defined: a, b, ... (N in all)` or `no tunnels are defined`.
    list: String,
    /// The distinct names, when few enough to suggest the closest one.
    suggest: Vec<String>,
}

impl Names {
    fn new<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Names {
        let mut seen = HashSet::default();
        let mut shown: Vec<&str> = Vec::new();
        let mut suggest = Vec::new();
        for n in names {
            if seen.insert(n) {
                if shown.len() < LIST_NAMES {
                    shown.push(n);
                }
                if seen.len() <= SUGGEST_AMONG {
                    suggest.push(n.to_string());
                }
            }
        }
        let count = seen.len();
        if count > SUGGEST_AMONG {
            suggest.clear();
        }
        let list = if count == 0 {
            format!("no {what}s are defined")
        } else if count > LIST_NAMES {
            format!("defined: {}, ... ({count} in all)", shown.join(", "))
        } else {
            format!("defined: {}", shown.join(", "))
        };
        Names {
            what: what.to_string(),
            list,
            suggest,
        }
    }

    fn unknown(&self, ctx: &mut Ctx, path: &(impl fmt::Display + ?Sized), name: &str) {
        let (what, list) = (&self.what, &self.list);
        let msg =
            match closest(name, self.suggest.iter().map(String::as_str)).filter(|b| *b != name) {
                Some(best) => format!("no {what} named `{name}`; did you mean `{best}`? {list}"),
                None => format!("no {what} named `{name}`; {list}"),
            };
        ctx.err(path, msg);
    }
}

/// `vlan:` — 0, absent, `none` or `untagged` mean untagged. Outer `None` on
/// error.
pub(super) fn vlan(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    v: &Option<Scalar>,
) -> Option<Option<u16>> {
    match v {
        None => Some(None),
        Some(Scalar::Int(0)) => Some(None),
        Some(Scalar::Int(n)) if (1..=4094).contains(n) => u16::try_from(*n).ok().map(Some),
        Some(Scalar::Str(s)) if s == "none" || s == "untagged" => Some(None),
        Some(other) => {
            let shown = match other {
                Scalar::Int(n) => n.to_string(),
                Scalar::Str(s) => format!("`{s}`"),
            };
            ctx.err(
                path,
                format!("{shown} is not a VLAN id; allowed 1..=4094, or 0 / none / untagged for untagged frames"),
            );
            None
        }
    }
}

fn header_policy(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    v: &Option<Scalar>,
    lo: i64,
    hi: i64,
    default: u8,
) -> HeaderPolicy {
    match v {
        None => HeaderPolicy::Fixed(default),
        Some(Scalar::Int(n)) if (lo..=hi).contains(n) => {
            HeaderPolicy::Fixed(u8::try_from(*n).unwrap_or(default))
        }
        Some(Scalar::Str(s)) if s == "inherit" => HeaderPolicy::Inherit,
        Some(other) => {
            let shown = match other {
                Scalar::Int(n) => n.to_string(),
                Scalar::Str(s) => format!("`{s}`"),
            };
            ctx.err(
                path,
                format!("{shown} is not allowed; allowed {lo}..={hi} (fixed) or inherit"),
            );
            HeaderPolicy::Fixed(default)
        }
    }
}

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// A remote VTEP address: unicast, of a family the local VTEP has, not the
/// local address itself.
pub(super) fn remote_vtep(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    s: &str,
    vtep: &Vtep,
) -> Option<IpAddr> {
    let a = unicast_ip(ctx, path, s)?;
    match vtep.local_for(a) {
        None if (a.is_ipv4() && ctx.v4_given) || (a.is_ipv6() && ctx.v6_given) => None,
        None => {
            let key = if a.is_ipv4() {
                "vtep.ipv4"
            } else {
                "vtep.ipv6"
            };
            ctx.err(
                path,
                format!(
                    "{a} is an {} address but the local VTEP has none; set {key}",
                    family(a)
                ),
            );
            None
        }
        Some(l) if l.addr == a => {
            ctx.err(
                path,
                format!("{a} is the local VTEP address; a remote VTEP must be another host"),
            );
            None
        }
        Some(_) => Some(a),
    }
}

pub(crate) fn validate(raw: RawConfig, ctx: &mut Ctx) -> Option<Config> {
    let eal = eal(ctx, raw.eal);
    let limits = limits(ctx, raw.limits);
    let metrics = metrics(ctx, raw.metrics, &eal);
    let api = ApiConfig {
        listen_tcp: raw.api.and_then(|a| a.listen_tcp).and_then(|a| {
            a.parse::<std::net::SocketAddr>()
                .map_err(|_| {
                    ctx.err(
                        "api.listen_tcp",
                        format!(
                            "`{a}` is not an address:port; e.g. 127.0.0.1:50051 or [::1]:50051"
                        ),
                    )
                })
                .ok()
        }),
    };
    let ports = ports(ctx, raw.ports, eal.worker_cores.len());
    let vtep = vtep(ctx, raw.vtep, &ports);
    if let Some(v) = &vtep {
        underlay_mtu(ctx, &ports, v);
    }
    let (raw_registry, raw_policies) = match raw.options {
        Some(o) => (o.registry, o.policies),
        None => (Vec::new(), None),
    };
    let registry = registry(ctx, raw_registry);
    let tunnels = tunnels(ctx, raw.tunnels, &vtep, &registry, &limits);
    let l2 = raw.l2.map(|l2| l2_mode(ctx, l2, &ports, &vtep));
    let l3 = raw
        .l3
        .map(|l3| l3_mode(ctx, l3, &ports, &tunnels, l2.as_ref(), limits.route_groups));
    let decap = decap_table(
        ctx,
        raw.decap,
        &ports,
        &vtep,
        l2.as_ref(),
        l3.as_ref(),
        &tunnels,
    );
    if l2.is_none() && l3.is_none() && decap.is_empty() && ctx.error_count() == 0 {
        ctx.err(
            "",
            "nothing to forward; configure at least one of l2, l3 or decap",
        );
    }
    super::stitch::check(ctx, &vtep, &tunnels, l2.as_ref(), l3.as_ref());
    let options = policies(
        ctx,
        raw_policies.unwrap_or_default(),
        registry,
        &tunnels,
        &decap,
    );

    if ctx.error_count() > 0 {
        return None;
    }
    Some(Config {
        eal,
        ports,
        vtep: vtep?,
        index: TunnelIndex::new(&tunnels),
        tunnels,
        l2,
        l3,
        decap,
        api,
        options,
        limits,
        offload: match raw.offload {
            Some(RawOffload::Off) => Offload::Off,
            Some(RawOffload::Auto) | None => Offload::Auto,
        },
        metrics,
    })
}

fn metrics(ctx: &mut Ctx, raw: Option<RawMetrics>, eal: &EalConfig) -> Metrics {
    let d = Metrics::default();
    let Some(r) = raw else { return d };
    let prometheus_given = r.prometheus.is_some();
    let prometheus = r
        .prometheus
        .and_then(|a| match a.parse::<std::net::SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                ctx.err(
                    "metrics.prometheus",
                    format!("`{a}` is not an address:port; e.g. 127.0.0.1:9464 or [::1]:9464"),
                );
                None
            }
        });
    let capture = r.capture.unwrap_or(d.capture);
    if capture {
        let no_share = ["--in-memory", "--no-shconf", "--no-huge", "--huge-unlink"];
        if matches!(eal.memory, Memory::NoHuge { .. }) {
            ctx.err(
                "metrics.capture",
                "needs hugepages shared with dpdk-dumpcap; eal.memory.mode no_huge cannot be shared",
            );
        } else if let Some(a) = eal.args.iter().find(|a| {
            no_share
                .iter()
                .any(|f| a.as_str() == *f || a.starts_with(&format!("{f}=")))
        }) {
            ctx.err(
                "metrics.capture",
                format!(
                    "needs hugepage files shared with dpdk-dumpcap; remove `{a}` from eal.args"
                ),
            );
        }
    }
    let top_tunnels = r.top_tunnels.map_or(d.top_tunnels, |n| {
        range_of(
            ctx,
            "metrics.top_tunnels",
            n,
            0,
            i64::from(super::types::TOP_TUNNELS_MAX),
        )
        .unwrap_or(d.top_tunnels)
    });
    if top_tunnels > 0 && r.entry_counters == Some(false) {
        ctx.err(
            "metrics.top_tunnels",
            "ranks tunnels by their own counters; metrics.entry_counters: false turns those off",
        );
    }
    if top_tunnels > 0 && !prometheus_given {
        ctx.err(
            "metrics.top_tunnels",
            "gives Prometheus series; set metrics.prometheus too (per-tunnel counters are in DPDK telemetry without it: /geneve_gw/tunnel,<name>)",
        );
    }
    Metrics {
        prometheus,
        latency: r.latency.unwrap_or(d.latency),
        capture,
        top_tunnels,
        entry_counters: r.entry_counters.unwrap_or(d.entry_counters),
    }
}

/// The options DPDK 22.11's EAL takes (lib/eal/common/eal_common_options.c).
const EAL_LONG: &[&str] = &[
    "--allow",
    "--base-virtaddr",
    "--block",
    "--create-uio-dev",
    "--file-prefix",
    "--force-max-simd-bitwidth",
    "--help",
    "--huge-dir",
    "--huge-unlink",
    "--huge-worker-stack",
    "--in-memory",
    "--iova-mode",
    "--lcores",
    "--legacy-mem",
    "--log-level",
    "--main-lcore",
    "--match-allocations",
    "--mbuf-pool-ops-name",
    "--no-hpet",
    "--no-huge",
    "--no-pci",
    "--no-shconf",
    "--no-telemetry",
    "--proc-type",
    "--service-corelist",
    "--service-coremask",
    "--single-file-segments",
    "--socket-limit",
    "--socket-mem",
    "--syslog",
    "--telemetry",
    "--trace",
    "--trace-bufsz",
    "--trace-dir",
    "--trace-mode",
    "--vdev",
    "--vfio-intr",
    "--vfio-vf-token",
    "--vmware-tsc-map",
];
const EAL_SHORT: &[char] = &['a', 'b', 'c', 'd', 'h', 'l', 'm', 'n', 'r', 's', 'v'];

/// Every option in `eal.args` must be one the EAL knows: an unknown one makes
/// rte_eal_init fail with nothing but its usage text.
fn eal_args(ctx: &mut Ctx, args: &[String]) {
    for (i, a) in args.iter().enumerate() {
        let known = if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or("");
            EAL_LONG.contains(&format!("--{name}").as_str())
        } else if let Some(short) = a.strip_prefix('-') {
            short.chars().next().is_some_and(|c| EAL_SHORT.contains(&c))
        } else {
            true // a value of the option before it
        };
        if !known {
            let name = a.split('=').next().unwrap_or(a);
            let hint = match closest(name, EAL_LONG.iter().copied()).filter(|b| *b != name) {
                Some(b) => format!("; did you mean `{b}`?"),
                None => String::new(),
            };
            ctx.err(
                &format!("eal.args[{i}]"),
                format!("`{name}` is not a DPDK EAL option{hint} (see `dpdk-testpmd --help` for the EAL options)"),
            );
        }
    }
}

fn eal(ctx: &mut Ctx, raw: Option<RawEal>) -> EalConfig {
    let mut e = EalConfig {
        worker_cores: vec![1],
        control_core: 0,
        memory: Memory::Hugepages { size_mb: None },
        pci: Vec::new(),
        vdevs: Vec::new(),
        file_prefix: None,
        args: Vec::new(),
    };
    let Some(raw) = raw else { return e };
    if let Some(cores) = raw.cores {
        if cores.is_empty() {
            ctx.err("eal.cores", "empty; list at least one worker core");
        }
        let mut list = Vec::new();
        let mut listed = HashSet::default();
        for (i, c) in cores.iter().enumerate() {
            let path = format!("eal.cores[{i}]");
            if let Some(c) = range_of::<u32>(ctx, &path, *c, 0, 1023) {
                if !listed.insert(c) {
                    ctx.err(&path, format!("core {c} is listed twice"));
                } else {
                    list.push(c);
                }
            }
        }
        if !list.is_empty() {
            e.worker_cores = list;
        }
    }
    if let Some(c) = raw.control_core {
        if let Some(c) = range_of::<u32>(ctx, "eal.control_core", c, 0, 1023) {
            e.control_core = c;
        }
    }
    if e.worker_cores.contains(&e.control_core) {
        ctx.err(
            "eal.control_core",
            format!(
                "core {} is also a worker core; the control thread never runs on a worker core",
                e.control_core
            ),
        );
    }
    if let Some(m) = raw.memory {
        let size = m
            .size_mb
            .and_then(|s| range_of::<u32>(ctx, "eal.memory.size_mb", s, 1, 1 << 20));
        e.memory = match m.mode.unwrap_or(MemoryMode::Hugepages) {
            MemoryMode::Hugepages => Memory::Hugepages { size_mb: size },
            MemoryMode::NoHuge => {
                if m.size_mb.is_none() {
                    ctx.missing(
                        "eal.memory.size_mb",
                        "required with mode no_huge (--no-huge -m MB); allowed 1..=1048576",
                    );
                }
                Memory::NoHuge {
                    size_mb: size.unwrap_or(256),
                }
            }
        };
    }
    if let Some(d) = raw.devices {
        for (i, p) in d.pci.iter().enumerate() {
            if !is_pci_address(p) {
                ctx.err(
                    &format!("eal.devices.pci[{i}]"),
                    format!("`{p}` is not a PCI address; allowed: DDDD:BB:DD.F or BB:DD.F, e.g. 0000:03:00.0"),
                );
            }
        }
        let mut names = HashMap::default();
        for (i, v) in d.vdev.iter().enumerate() {
            let path = format!("eal.devices.vdev[{i}]");
            let name = v.split(',').next().unwrap_or("").trim();
            if name.is_empty() || v.contains(char::is_whitespace) {
                ctx.err(
                    &path,
                    format!("`{v}` is not a vdev; allowed: NAME[,key=value...], e.g. net_af_packet0,iface=gwu0"),
                );
            } else {
                unique(ctx, &mut names, &path, name, "vdev");
            }
        }
        e.pci = d.pci;
        e.vdevs = d.vdev;
    }
    if let Some(p) = raw.file_prefix {
        if p.is_empty() || p.contains(['/', ' ']) {
            ctx.err(
                "eal.file_prefix",
                format!(
                    "`{p}` is not a file prefix; allowed: a non-empty word without '/' or spaces"
                ),
            );
        }
        e.file_prefix = Some(p);
    }
    eal_args(ctx, &raw.args);
    e.args = raw.args;
    e
}

fn is_pci_address(s: &str) -> bool {
    let hexlen = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split(':').collect();
    let (dom, bus, devfn) = match parts.as_slice() {
        [d, b, f] => (Some(*d), *b, *f),
        [b, f] => (None, *b, *f),
        _ => return false,
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    dom.is_none_or(|d| hexlen(d, 4))
        && hexlen(bus, 2)
        && hexlen(dev, 2)
        && func.len() == 1
        && func.chars().all(|c| ('0'..='7').contains(&c))
}

fn limits(ctx: &mut Ctx, raw: Option<RawLimits>) -> Limits {
    let d = Limits::default();
    let Some(r) = raw else { return d };
    Limits {
        max_options: opt_range(
            ctx,
            "limits.max_options",
            r.max_options,
            1,
            63,
            d.max_options,
        ),
        mac_table_size: opt_range(
            ctx,
            "limits.mac_table_size",
            r.mac_table_size,
            1,
            1 << 24,
            d.mac_table_size,
        ),
        flow_table_size: opt_range(
            ctx,
            "limits.flow_table_size",
            r.flow_table_size,
            1,
            1 << 24,
            d.flow_table_size,
        ),
        burst_size: opt_range(ctx, "limits.burst_size", r.burst_size, 1, 512, d.burst_size),
        mbufs: opt_range(ctx, "limits.mbufs", r.mbufs, 1023, 1 << 24, d.mbufs),
        route_groups: opt_range(
            ctx,
            "limits.route_groups",
            r.route_groups,
            0,
            1 << 24,
            d.route_groups,
        ),
        neighbors: opt_range(
            ctx,
            "limits.neighbors",
            r.neighbors,
            1,
            1 << 24,
            d.neighbors,
        ),
    }
}

fn ports(ctx: &mut Ctx, raw: Option<Vec<RawPort>>, workers: usize) -> Vec<PortConfig> {
    let Some(raw) = raw else {
        ctx.missing(
            "ports",
            "list the ports: at least one with role underlay and one with role access",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut names = HashMap::default();
    let mut devices: HashMap<DeviceRef, String> = HashMap::default();
    let workers_i = i64::try_from(workers).unwrap_or(1);
    let total = raw.len();
    for (i, p) in raw.into_iter().enumerate() {
        let base = format!("ports[{i}]");
        if i == PORTS_MAX {
            ctx.err(
                &base,
                format!(
                    "{total} ports; at most {PORTS_MAX}, the ports a worker keeps counters for"
                ),
            );
            break;
        }
        if check_name(ctx, &format!("{base}.name"), &p.name) {
            unique(ctx, &mut names, &format!("{base}.name"), &p.name, "port");
        }
        let dpath = format!("{base}.device");
        let device = match p.device {
            Scalar::Int(n) => range_of::<u16>(ctx, &dpath, n, 0, 1023).map(DeviceRef::Index),
            Scalar::Str(s) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => {
                Some(DeviceRef::Name(s))
            }
            Scalar::Str(s) => {
                ctx.err(
                    &dpath,
                    format!("`{s}` is not a device; allowed: a DPDK device name (0000:03:00.0, net_af_packet0) or a port id"),
                );
                None
            }
        };
        if let Some(d) = &device {
            if let Some(first) = devices.get(d) {
                ctx.err(&dpath, format!("device `{d}` is already used by {first}"));
            } else {
                devices.insert(d.clone(), base.clone());
            }
        }
        let qpath = format!("{base}.queues");
        let queues = match p.queues {
            None => u16::try_from(workers).unwrap_or(1),
            Some(q) => {
                let q = range_of::<u16>(ctx, &qpath, q, 1, 128).unwrap_or(1);
                if i64::from(q) < workers_i && q >= 1 {
                    ctx.err(
                        &qpath,
                        format!("{q} queues for {workers} worker cores; each worker needs its own queue, allowed {workers}..=128"),
                    );
                }
                q
            }
        };
        let mtu = opt_range(ctx, &format!("{base}.mtu"), p.mtu, 68, 9600, 1500u16);
        let mac = p
            .mac
            .as_deref()
            .and_then(|m| unicast_mac(ctx, &format!("{base}.mac"), m));
        out.push(PortConfig {
            name: p.name,
            role: match p.role {
                Role::Underlay => PortRole::Underlay,
                Role::Access => PortRole::Access,
            },
            device: device.unwrap_or(DeviceRef::Index(0)),
            queues,
            mtu,
            mac,
        });
    }
    for role in [PortRole::Underlay, PortRole::Access] {
        if !out.iter().any(|p| p.role == role) {
            ctx.err(
                "ports",
                format!("no port has role {role}; at least one underlay and one access port are required"),
            );
        }
    }
    out
}

/// Resolve a reference to a port that must have `role`.
pub(super) fn port_ref(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    name: &str,
    ports: &[PortConfig],
    role: PortRole,
) -> Option<usize> {
    match ports.iter().position(|p| p.name == name) {
        None => {
            let known: Vec<&str> = ports
                .iter()
                .filter(|p| p.role == role)
                .map(|p| p.name.as_str())
                .collect();
            unknown_ref(ctx, path, &format!("{role} port"), name, &known);
            None
        }
        Some(i) if ports[i].role != role => {
            ctx.err(
                path,
                format!(
                    "port `{name}` has role {}; allowed: a port with role {role}",
                    ports[i].role
                ),
            );
            None
        }
        Some(i) => Some(i),
    }
}

fn vtep(ctx: &mut Ctx, raw: Option<RawVtep>, ports: &[PortConfig]) -> Option<Vtep> {
    let Some(r) = raw else {
        ctx.missing("vtep", "the local VTEP needs an ipv4 and/or ipv6 address");
        return None;
    };
    let underlays: Vec<usize> = (0..ports.len())
        .filter(|&i| ports[i].role == PortRole::Underlay)
        .collect();
    let port = match &r.port {
        Some(name) => port_ref(ctx, "vtep.port", name, ports, PortRole::Underlay),
        None if underlays.len() > 1 => {
            let names: Vec<&str> = underlays.iter().map(|&i| ports[i].name.as_str()).collect();
            ctx.missing(
                "vtep.port",
                format!(
                    "required with more than one underlay port; allowed: {}",
                    names.join(", ")
                ),
            );
            None
        }
        None => underlays.first().copied(),
    };
    ctx.v4_given = r.ipv4.is_some();
    ctx.v6_given = r.ipv6.is_some();
    let ipv4 = r
        .ipv4
        .as_deref()
        .and_then(|s| if_addr(ctx, "vtep.ipv4", s, true));
    let ipv6 = r
        .ipv6
        .as_deref()
        .and_then(|s| if_addr(ctx, "vtep.ipv6", s, false));
    if r.ipv4.is_none() && r.ipv6.is_none() {
        ctx.missing(
            "vtep.ipv4",
            "the local VTEP needs an ipv4 and/or ipv6 address",
        );
    }
    let udp_port = opt_range(ctx, "vtep.udp_port", r.udp_port, 1, 65535, GENEVE_UDP_PORT);
    let vxlan_port = super::stitch::vxlan_port(ctx, r.vxlan_port, udp_port);
    let vlan = vlan(ctx, "vtep.vlan", &r.vlan).unwrap_or(None);
    let mut v = Vtep {
        port: port.unwrap_or(0),
        ipv4,
        ipv6,
        udp_port,
        vxlan_port,
        vlan,
        next_hops: Vec::new(),
    };
    let mut dests: HashMap<IpPrefix, String> = HashMap::default();
    for (i, nh) in r.next_hops.iter().enumerate() {
        let base = format!("vtep.next_hops[{i}]");
        let via_path = format!("{base}.via");
        let Some(via) = unicast_ip(ctx, &via_path, &nh.via) else {
            continue;
        };
        match v.local_for(via) {
            None => {
                ctx.err(
                    &via_path,
                    format!(
                        "{via} is an {} next hop but the local VTEP has no {} address",
                        family(via),
                        family(via)
                    ),
                );
                continue;
            }
            Some(l) if l.addr == via => {
                ctx.err(&via_path, format!("{via} is the local VTEP address itself"));
                continue;
            }
            Some(l) if !l.subnet().contains(via) => {
                ctx.err(
                    &via_path,
                    format!(
                        "{via} is not on-link; allowed: an address in the local subnet {}",
                        l.subnet()
                    ),
                );
            }
            Some(_) => {}
        }
        let mac = nh
            .mac
            .as_deref()
            .and_then(|m| unicast_mac(ctx, &format!("{base}.mac"), m));
        let mut destinations = Vec::new();
        match &nh.destinations {
            None => destinations.push(IpPrefix::default_for(via)),
            Some(list) => {
                for (j, d) in list.iter().enumerate() {
                    let dpath = format!("{base}.destinations[{j}]");
                    if let Some(p) = prefix(ctx, &dpath, d) {
                        if p.addr.is_ipv4() != via.is_ipv4() {
                            ctx.err(
                                &dpath,
                                format!(
                                    "{p} is {} but next hop {via} is {}; allowed: {} prefixes",
                                    family(p.addr),
                                    family(via),
                                    family(via)
                                ),
                            );
                        } else {
                            destinations.push(p);
                        }
                    }
                }
            }
        }
        for d in &destinations {
            let dpath = match &nh.destinations {
                None => via_path.clone(),
                Some(_) => format!("{base}.destinations"),
            };
            if let Some(first) = dests.get(d) {
                ctx.err(
                    &dpath,
                    format!("{d} is already routed by {first}; each destination needs exactly one next hop"),
                );
            } else {
                dests.insert(*d, base.clone());
            }
        }
        v.next_hops.push(NextHop {
            via,
            mac,
            destinations,
        });
    }
    port.map(|_| v)
}

pub(super) fn registry(ctx: &mut Ctx, raw: Vec<RawOptionDef>) -> Vec<OptionDef> {
    let mut out = Vec::new();
    let mut names = HashMap::default();
    let mut ids: HashMap<(u16, u8), String> = HashMap::default();
    let total = raw.len();
    for (i, r) in raw.into_iter().enumerate() {
        let base = format!("options.registry[{i}]");
        if i == REGISTRY_MAX {
            ctx.err(
                &base,
                format!("{total} options registered; at most {REGISTRY_MAX}: decapsulation records the registered options a packet carries in a 32-bit set"),
            );
            break;
        }
        if check_name(ctx, &format!("{base}.name"), &r.name) {
            unique(ctx, &mut names, &format!("{base}.name"), &r.name, "option");
        }
        let class = range_of::<u16>(ctx, &format!("{base}.class"), r.class, 0, 65535);
        let type_ = range_of::<u8>(ctx, &format!("{base}.type"), r.type_, 0, 255);
        let length = r.length.and_then(|l| {
            let path = format!("{base}.length");
            let l = range_of::<u8>(ctx, &path, l, 0, 124)?;
            if !l.is_multiple_of(4) {
                ctx.err(
                    &path,
                    format!("{l} is not a multiple of 4; allowed 0..=124 in steps of 4"),
                );
                return None;
            }
            Some(l)
        });
        if let (Some(class), Some(type_)) = (class, type_) {
            if let Some(first) = ids.get(&(class, type_)) {
                ctx.err(
                    &format!("{base}.type"),
                    format!(
                        "class {class:#06x} type {type_:#04x} is already registered as {first}"
                    ),
                );
            } else {
                ids.insert((class, type_), format!("`{}`", r.name));
            }
            out.push(OptionDef {
                name: r.name,
                class,
                type_,
                length,
            });
        }
    }
    out
}

fn tunnel_option(
    ctx: &mut Ctx,
    base: &(impl fmt::Display + ?Sized),
    o: &RawTunnelOption,
    registry: &[OptionDef],
) -> Option<TunnelOption> {
    let (class, mut type_, fixed_len) = match (&o.name, o.class, o.type_) {
        (Some(n), None, None) => match registry.iter().find(|d| &d.name == n) {
            Some(d) => (d.class, d.type_, d.length),
            None => {
                let known: Vec<&str> = registry.iter().map(|d| d.name.as_str()).collect();
                unknown_ref(ctx, &format!("{base}.name"), "option", n, &known);
                return None;
            }
        },
        (Some(_), _, _) => {
            ctx.err(
                &format!("{base}.name"),
                "give either the name of an options.registry entry or class and type, not both",
            );
            return None;
        }
        (None, Some(c), Some(t)) => {
            let class = range_of::<u16>(ctx, &format!("{base}.class"), c, 0, 65535);
            let type_ = range_of::<u8>(ctx, &format!("{base}.type"), t, 0, 255);
            (class?, type_?, None)
        }
        (None, None, _) => {
            ctx.missing(
                &format!("{base}.class"),
                "give class and type (or the name of an options.registry entry)",
            );
            return None;
        }
        (None, Some(_), None) => {
            ctx.missing(
                &format!("{base}.type"),
                "allowed 0..=255 (0x80 is the critical bit)",
            );
            return None;
        }
    };
    match o.critical {
        Some(true) => type_ |= 0x80,
        Some(false) if type_ & 0x80 != 0 => {
            ctx.err(
                &format!("{base}.critical"),
                format!("false, but type {type_:#04x} has the critical bit (0x80) set; allowed: true, or a type below 0x80"),
            );
        }
        _ => {}
    }
    let dpath = format!("{base}.data");
    let data = hex(ctx, &dpath, &o.data)?;
    let n = data.len();
    if n > OPTION_DATA_MAX || !n.is_multiple_of(4) {
        let mut why = Vec::new();
        if n > OPTION_DATA_MAX {
            why.push(format!("longer than {OPTION_DATA_MAX} bytes"));
        }
        if !n.is_multiple_of(4) {
            why.push("not a multiple of 4 bytes".to_string());
        }
        ctx.err(
            &dpath,
            format!(
                "option data is {n} byte{}: {}; allowed 0..=124 bytes in steps of 4",
                if n == 1 { "" } else { "s" },
                why.join(" and ")
            ),
        );
        return None;
    }
    if let Some(l) = fixed_len {
        if usize::from(l) != n {
            ctx.err(
                &dpath,
                format!("option data is {n} bytes; the registry gives option `{}` a length of {l} bytes", o.name.as_deref().unwrap_or("")),
            );
            return None;
        }
    }
    Some(TunnelOption {
        class,
        typ: type_,
        data,
    })
}

pub(super) fn tunnels(
    ctx: &mut Ctx,
    raw: Vec<RawTunnel>,
    vtep: &Option<Vtep>,
    registry: &[OptionDef],
    limits: &Limits,
) -> Vec<Tunnel> {
    let mut out: Vec<Tunnel> = Vec::with_capacity(raw.len());
    let mut name_ok = Vec::with_capacity(raw.len());
    // (remote, VNI) -> the first tunnel's index.
    let mut pairs: HashMap<(IpAddr, Vni, Encapsulation), usize> =
        HashMap::with_capacity_and_hasher(raw.len(), Default::default());
    for (i, t) in raw.into_iter().enumerate() {
        let base = Item("tunnels", i);
        name_ok.push(check_name(ctx, &Field(&base, "name"), &t.name));
        let rpath = Field(&base, "remote");
        let remote = match vtep {
            Some(v) => remote_vtep(ctx, &rpath, &t.remote, v),
            None => unicast_ip(ctx, &rpath, &t.remote),
        };
        if let (Some(v), Some(r)) = (vtep, remote) {
            if let Some(l) = v.local_for(r) {
                if l.prefix_len > 0
                    && !l.subnet().contains(r)
                    && v.route(r) == UnderlayRoute::Direct
                {
                    ctx.err(
                        &rpath,
                        format!("{r} is off-link (local subnet {}) and no vtep.next_hops entry covers it; add a next hop", l.subnet()),
                    );
                }
            }
        }
        let vni = vni(ctx, &Field(&base, "vni"), t.vni);
        let (encapsulation, mesh) = super::stitch::tunnel_kind(ctx, &base, &t);
        if let (Some(r), Some(n)) = (remote, vni) {
            match pairs.entry((r, n, encapsulation)) {
                std::collections::hash_map::Entry::Occupied(first) => ctx.err(
                    &Field(&base, "vni"),
                    format!("tunnel `{}` already goes to {r} with {encapsulation} VNI {n}; each remote VTEP and VNI pair needs one tunnel", out[*first.get()].name),
                ),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                }
            }
        }
        let mut options = Vec::new();
        for (j, o) in t.options.iter().enumerate() {
            if let Some(o) = tunnel_option(ctx, &Item(&Field(&base, "options"), j), o, registry) {
                options.push(o);
            }
        }
        let total: usize = options.iter().map(TunnelOption::wire_len).sum();
        if total > OPTIONS_TOTAL_MAX {
            ctx.err(
                &Field(&base, "options"),
                format!("the options take {total} bytes with their headers; Geneve allows at most {OPTIONS_TOTAL_MAX}"),
            );
        }
        if t.options.len() > usize::from(limits.max_options) {
            ctx.err(
                &Field(&base, "options"),
                format!(
                    "{} options; limits.max_options allows at most {}",
                    t.options.len(),
                    limits.max_options
                ),
            );
        }
        let default_port = match encapsulation {
            Encapsulation::Geneve => vtep.as_ref().map_or(GENEVE_UDP_PORT, |v| v.udp_port),
            Encapsulation::Vxlan => vtep
                .as_ref()
                .and_then(|v| v.vxlan_port)
                .unwrap_or(VXLAN_UDP_PORT),
        };
        let udp_dst_port = opt_range(
            ctx,
            &Field(&base, "udp_port"),
            t.udp_port,
            1,
            65535,
            default_port,
        );
        let udp_checksum = match (t.udp_checksum, remote) {
            (Some(RawChecksum::Zero), _) => UdpChecksum::Zero,
            (Some(RawChecksum::Compute), _) => UdpChecksum::Compute,
            (None, Some(r)) => default_checksum(r),
            (None, None) => UdpChecksum::Compute,
        };
        let accept_zero_checksum = t.accept_zero_checksum.unwrap_or(false);
        if accept_zero_checksum && matches!(remote, Some(IpAddr::V4(_))) {
            ctx.err(
                &Field(&base, "accept_zero_checksum"),
                "applies to IPv6 remotes only (a zero UDP checksum over IPv4 is always accepted)"
                    .to_string(),
            );
        }
        let ttl = header_policy(ctx, &Field(&base, "ttl"), &t.ttl, 1, 255, DEFAULT_TTL);
        let dscp = header_policy(ctx, &Field(&base, "dscp"), &t.dscp, 0, 63, 0);
        let source_ports = match &t.source_ports {
            None => DEFAULT_SOURCE_PORTS,
            Some(r) => {
                let min = range_of::<u16>(ctx, &Field(&base, "source_ports.min"), r.min, 1, 65535);
                let max = range_of::<u16>(ctx, &Field(&base, "source_ports.max"), r.max, 1, 65535);
                match (min, max) {
                    (Some(a), Some(b)) if a <= b => (a, b),
                    (Some(a), Some(b)) => {
                        ctx.err(
                            &Field(&base, "source_ports.max"),
                            format!("{b} is below min {a}; allowed {a}..=65535"),
                        );
                        DEFAULT_SOURCE_PORTS
                    }
                    _ => DEFAULT_SOURCE_PORTS,
                }
            }
        };
        if let (Some(remote), Some(vni)) = (remote, vni) {
            out.push(Tunnel {
                name: t.name,
                remote,
                vni,
                encapsulation,
                mesh,
                options,
                udp_dst_port,
                udp_checksum,
                accept_zero_checksum,
                ttl,
                dscp,
                source_ports,
            });
        } else {
            // keep indices aligned with the file for later references
            out.push(Tunnel {
                name: t.name,
                remote: IpAddr::from([0, 0, 0, 0]),
                vni: Vni::default(),
                encapsulation,
                mesh,
                options,
                udp_dst_port,
                udp_checksum,
                accept_zero_checksum,
                ttl,
                dscp,
                source_ports,
            });
        }
    }
    // Each name once (the first keeps it), over the validated list: no
    // name is copied.
    let mut first: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(out.len(), Default::default());
    for (i, t) in out.iter().enumerate() {
        if !name_ok[i] {
            continue;
        }
        match first.entry(t.name.as_str()) {
            std::collections::hash_map::Entry::Occupied(f) => ctx.err(
                &Field(&Item("tunnels", i), "name"),
                format!(
                    "duplicate tunnel name `{}`; already defined at tunnels[{}].name",
                    t.name,
                    f.get()
                ),
            ),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    out
}

fn l2_mode(ctx: &mut Ctx, raw: RawL2, ports: &[PortConfig], vtep: &Option<Vtep>) -> L2 {
    let ageing_seconds = opt_range(
        ctx,
        "l2.ageing_seconds",
        raw.ageing_seconds,
        1,
        86400,
        300u32,
    );
    if raw.segments.is_empty() {
        ctx.err(
            "l2.segments",
            "empty; list at least one segment (access port + VLAN -> VNI)",
        );
    }
    let mut segments = Vec::new();
    let mut names = HashMap::default();
    let mut vnis: HashMap<Vni, String> = HashMap::default();
    let mut vxlan_vnis: HashMap<Vni, String> = HashMap::default();
    let mut attach: HashMap<(usize, Option<u16>), String> = HashMap::default();
    for (i, s) in raw.segments.into_iter().enumerate() {
        let base = format!("l2.segments[{i}]");
        if let Some(n) = &s.name {
            if check_name(ctx, &format!("{base}.name"), n) {
                unique(ctx, &mut names, &format!("{base}.name"), n, "segment");
            }
        }
        let port = port_ref(
            ctx,
            &format!("{base}.port"),
            &s.port,
            ports,
            PortRole::Access,
        );
        let vlan = vlan(ctx, &format!("{base}.vlan"), &s.vlan);
        let vni = vni(ctx, &format!("{base}.vni"), s.vni);
        if let Some(v) = vni {
            if let Some(first) = vnis.get(&v) {
                ctx.err(
                    &format!("{base}.vni"),
                    format!("VNI {v} is already mapped by {first}; a VNI belongs to one segment"),
                );
            } else {
                vnis.insert(v, base.clone());
            }
        }
        if let (Some(p), Some(vl)) = (port, vlan) {
            if let Some(first) = attach.get(&(p, vl)) {
                ctx.err(
                    &format!("{base}.vlan"),
                    format!(
                        "port `{}` {} is already mapped by {first}",
                        s.port,
                        vlan_text(vl)
                    ),
                );
            } else {
                attach.insert((p, vl), base.clone());
            }
        }
        let mut flood = Vec::new();
        let mut flooded = HashSet::default();
        for (j, f) in s.flood.iter().enumerate() {
            let path = format!("{base}.flood[{j}]");
            let a = match vtep {
                Some(v) => remote_vtep(ctx, &path, f, v),
                None => unicast_ip(ctx, &path, f),
            };
            if let Some(a) = a {
                if !flooded.insert(a) {
                    ctx.err(&path, format!("{a} is listed twice"));
                } else {
                    flood.push(a);
                }
            }
        }
        let mut static_macs: Vec<StaticMac> = Vec::new();
        let mut macs_seen = HashSet::default();
        for (j, m) in s.static_macs.iter().enumerate() {
            let mb = Item(&Field(&base, "static_macs"), j);
            let mac = unicast_mac(ctx, &Field(&mb, "mac"), &m.mac);
            let rpath = Field(&mb, "remote");
            let remote = match vtep {
                Some(v) => remote_vtep(ctx, &rpath, &m.remote, v),
                None => unicast_ip(ctx, &rpath, &m.remote),
            };
            if let (Some(mac), Some(remote)) = (mac, remote) {
                if !macs_seen.insert(mac) {
                    ctx.err(
                        &Field(&mb, "mac"),
                        format!(
                            "{} is listed twice in this segment",
                            crate::wire::ethernet::MacDisplay(&mac)
                        ),
                    );
                } else {
                    static_macs.push(StaticMac { mac, remote });
                }
            }
        }
        let vxlan_vni = super::stitch::vxlan_vni(ctx, &base, s.vxlan_vni, vni, &mut vxlan_vnis);
        if let (Some(port), Some(vlan), Some(vni), Some(vxlan_vni)) = (port, vlan, vni, vxlan_vni) {
            segments.push(Segment {
                name: s.name,
                port,
                vlan,
                vni,
                vxlan_vni,
                flood,
                static_macs,
            });
        }
    }
    L2 {
        learning: raw.learning.unwrap_or(true),
        ageing_seconds,
        segments,
    }
}

pub(super) fn vlan_text(v: Option<u16>) -> String {
    match v {
        None => "untagged".to_string(),
        Some(v) => format!("VLAN {v}"),
    }
}

fn l3_mode(
    ctx: &mut Ctx,
    raw: RawL3,
    ports: &[PortConfig],
    tunnels: &[Tunnel],
    l2: Option<&L2>,
    route_groups: u32,
) -> L3 {
    let a = raw.access;
    let port = port_ref(ctx, "l3.access.port", &a.port, ports, PortRole::Access);
    let vlan = vlan(ctx, "l3.access.vlan", &a.vlan);
    if let (Some(p), Some(vl), Some(l2)) = (port, vlan, l2) {
        if let Some(i) = l2.segments.iter().position(|s| s.port == p && s.vlan == vl) {
            ctx.err(
                "l3.access.vlan",
                format!("port `{}` {} is already an L2 segment (VNI {}); L3 access needs a port or VLAN of its own", a.port, vlan_text(vl), l2.segments[i].vni),
            );
        }
    }
    let ipv4 = a
        .ipv4
        .as_deref()
        .and_then(|s| if_addr(ctx, "l3.access.ipv4", s, true));
    let ipv6 = a
        .ipv6
        .as_deref()
        .and_then(|s| if_addr(ctx, "l3.access.ipv6", s, false));
    let gateway_mac = a
        .gateway_mac
        .as_deref()
        .and_then(|m| unicast_mac(ctx, "l3.access.gateway_mac", m));
    let next_hop = match (&a.next_hop_mac, &a.next_hop) {
        (Some(_), Some(_)) => {
            ctx.err(
                "l3.access.next_hop",
                "give next_hop (resolved with ARP/ND) or next_hop_mac (static), not both",
            );
            InnerNextHop::ResolveDestination
        }
        (Some(m), None) => unicast_mac(ctx, "l3.access.next_hop_mac", m)
            .map_or(InnerNextHop::ResolveDestination, InnerNextHop::Static),
        (None, Some(h)) => unicast_ip(ctx, "l3.access.next_hop", h)
            .map_or(InnerNextHop::ResolveDestination, InnerNextHop::Resolve),
        (None, None) => InnerNextHop::ResolveDestination,
    };
    // At its length from the start: no copies while it grows.
    let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
    // Prefix -> the first route's index.
    let mut seen: HashMap<IpPrefix, usize> =
        HashMap::with_capacity_and_hasher(raw.routes.len(), Default::default());
    let mut tnames: Option<Names> = None;
    let by_name = tunnel_index(tunnels);
    let segment_of_vni: HashMap<Vni, usize> = l2
        .map(|l2| {
            let mut m = HashMap::default();
            for (i, s) in l2.segments.iter().enumerate() {
                m.entry(s.vni).or_insert(i);
            }
            m
        })
        .unwrap_or_default();
    // The /24 blocks that hold an IPv4 route longer than /24: one group of
    // the route table's second level each (`dataplane::lpm`).
    let mut blocks: HashSet<u32> = HashSet::default();
    for (i, r) in raw.routes.iter().enumerate() {
        let base = Item("l3.routes", i);
        let p = prefix(ctx, &Field(&base, "prefix"), &r.prefix);
        if let Some(IpPrefix {
            addr: IpAddr::V4(a),
            len: 25..,
        }) = p
        {
            let block = u32::from(a) >> 8;
            if blocks.insert(block) && blocks.len() == route_groups as usize + 1 {
                ctx.err(
                    &Field(&base, "prefix"),
                    format!("{} needs a 256-entry group of the IPv4 route table for {}/24, one more than limits.route_groups allows ({route_groups}: one group per /24 block that holds a route longer than /24)", r.prefix, Ipv4Addr::from(block << 8)),
                );
            }
        }
        let tpath = Field(&base, "tunnel");
        let t = match by_name.get(r.tunnel.as_str()).copied() {
            Some(t) => Some(t),
            None => {
                let known = tnames.get_or_insert_with(|| {
                    Names::new("tunnel", tunnels.iter().map(|t| t.name.as_str()))
                });
                known.unknown(ctx, &tpath, &r.tunnel);
                None
            }
        };
        if let Some(t) = t {
            let v = tunnels[t].vni;
            if let Some(s) = segment_of_vni.get(&v) {
                ctx.err(
                    &tpath,
                    format!("tunnel `{}` uses VNI {v}, which is the L2 segment l2.segments[{s}]; an L3 tunnel needs a VNI of its own", r.tunnel),
                );
            }
        }
        if let Some(p) = p {
            if let Some(&first) = seen.get(&p) {
                ctx.err(
                    &Field(&base, "prefix"),
                    format!("{p} is already routed by l3.routes[{first}] (tunnel `{}`); a prefix may appear once (different lengths may overlap: longest match wins)", raw.routes[first].tunnel),
                );
            } else {
                seen.insert(p, i);
            }
        }
        if let (Some(prefix), Some(tunnel)) = (p, t) {
            routes.push(Route { prefix, tunnel });
        }
    }
    // Longest prefix first, by address within a length: the order `emit`
    // writes, so a save loads back equal whatever order edits left.
    routes.sort_unstable_by_key(|r| (std::cmp::Reverse(r.prefix.len), r.prefix.addr));
    L3 {
        access: L3Access {
            port: port.unwrap_or(0),
            vlan: vlan.flatten(),
            ipv4,
            ipv6,
            gateway_mac,
            next_hop,
        },
        routes,
    }
}

fn decap_table(
    ctx: &mut Ctx,
    raw: Vec<RawDecap>,
    ports: &[PortConfig],
    vtep: &Option<Vtep>,
    l2: Option<&L2>,
    l3: Option<&L3>,
    tunnels: &[Tunnel],
) -> Vec<Decap> {
    let mut table: BTreeMap<Vni, Decap> = BTreeMap::new();
    if let Some(l2) = l2 {
        for s in &l2.segments {
            table.insert(
                s.vni,
                Decap {
                    vni: s.vni,
                    port: s.port,
                    vlan: s.vlan,
                    payload: Payload::Ethernet,
                    allow_from: None,
                },
            );
        }
    }
    if let Some(l3) = l3 {
        for r in &l3.routes {
            let v = tunnels[r.tunnel].vni;
            table.entry(v).or_insert(Decap {
                vni: v,
                port: l3.access.port,
                vlan: l3.access.vlan,
                payload: Payload::Ip,
                allow_from: None,
            });
        }
    }
    let mut explicit: HashMap<Vni, usize> = HashMap::default();
    for (i, d) in raw.into_iter().enumerate() {
        let base = Item("decap", i);
        let Some(v) = vni(ctx, &Field(&base, "vni"), d.vni) else {
            continue;
        };
        if let Some(first) = explicit.get(&v) {
            ctx.err(
                &Field(&base, "vni"),
                format!("VNI {v} already has a decap entry at decap[{first}]"),
            );
            continue;
        }
        explicit.insert(v, i);
        let port = d
            .port
            .as_deref()
            .map(|p| port_ref(ctx, &Field(&base, "port"), p, ports, PortRole::Access));
        let vl = vlan(ctx, &Field(&base, "vlan"), &d.vlan);
        let allow_from = d.allow_from.as_ref().map(|list| {
            let apath = Field(&base, "allow_from");
            if list.is_empty() {
                ctx.err(
                    &apath,
                    "empty; list the source VTEPs to accept, or omit allow_from to accept any",
                );
            }
            let mut out: Vec<IpAddr> = Vec::new();
            let mut listed = HashSet::default();
            for (j, s) in list.iter().enumerate() {
                let path = Item(&apath, j);
                let a = match vtep {
                    Some(v) => remote_vtep(ctx, &path, s, v),
                    None => unicast_ip(ctx, &path, s),
                };
                if let Some(a) = a {
                    if !listed.insert(a) {
                        ctx.err(&path, format!("{a} is listed twice"));
                    } else {
                        out.push(a);
                    }
                }
            }
            out
        });
        match table.get_mut(&v) {
            Some(existing) => {
                let what = match existing.payload {
                    Payload::Ethernet => "its L2 segment",
                    Payload::Ip => "l3.access",
                };
                if let Some(Some(p)) = port {
                    if p != existing.port {
                        ctx.err(
                            &Field(&base, "port"),
                            format!("VNI {v} decapsulates to port `{}` by {what}; omit port or give the same one", ports[existing.port].name),
                        );
                    }
                }
                if d.vlan.is_some() {
                    if let Some(vl) = vl {
                        if vl != existing.vlan {
                            ctx.err(
                                &Field(&base, "vlan"),
                                format!("VNI {v} decapsulates {} by {what}; omit vlan or give the same one", vlan_text(existing.vlan)),
                            );
                        }
                    }
                }
                existing.allow_from = allow_from;
            }
            None => match port {
                None => ctx.missing(
                    &Field(&base, "port"),
                    format!("VNI {v} is neither an L2 segment nor an L3 tunnel's VNI, so its access port must be given"),
                ),
                Some(None) => {}
                Some(Some(p)) => {
                    table.insert(
                        v,
                        Decap {
                            vni: v,
                            port: p,
                            vlan: vl.flatten(),
                            payload: Payload::Ethernet,
                            allow_from,
                        },
                    );
                }
            },
        }
    }
    table.into_values().collect()
}

/// Tunnel name -> index (the first of a duplicated name, reported elsewhere).
fn tunnel_index(tunnels: &[Tunnel]) -> HashMap<&str, usize> {
    let mut m = HashMap::with_capacity_and_hasher(tunnels.len(), Default::default());
    for (i, t) in tunnels.iter().enumerate() {
        m.entry(t.name.as_str()).or_insert(i);
    }
    m
}

/// What a policy's scope may name, indexed once for all policies.
struct Known<'a> {
    tunnels: &'a [Tunnel],
    /// For unknown tunnel names, built at the first.
    tunnel_names: std::cell::OnceCell<Names>,
    decap: &'a [Decap],
    by_name: HashMap<&'a str, usize>,
    decap_vnis: HashSet<Vni>,
}

fn scope(
    ctx: &mut Ctx,
    base: &(impl fmt::Display + ?Sized),
    vni_raw: Option<i64>,
    tunnel: Option<&str>,
    known: &Known,
) -> Option<Scope> {
    let Known {
        tunnels,
        tunnel_names,
        decap,
        by_name,
        decap_vnis,
    } = known;
    match (vni_raw, tunnel) {
        (Some(_), Some(_)) => {
            ctx.err(
                &format!("{base}.tunnel"),
                "give vni or tunnel (or neither, for every VNI), not both",
            );
            None
        }
        (Some(v), None) => {
            let path = format!("{base}.vni");
            let v = vni(ctx, &path, v)?;
            if !decap_vnis.contains(&v) {
                let known: Vec<String> = decap
                    .iter()
                    .take(LIST_NAMES)
                    .map(|d| d.vni.to_string())
                    .collect();
                ctx.err(
                    &path,
                    format!("VNI {v} is not decapsulated here (no L2 segment, L3 tunnel or decap entry); known VNIs: {}", known.join(", ")),
                );
                return None;
            }
            Some(Scope::Vni(v))
        }
        (None, Some(t)) => match by_name.get(t).copied() {
            Some(i) => Some(Scope::Tunnel(i)),
            None => {
                tunnel_names
                    .get_or_init(|| Names::new("tunnel", tunnels.iter().map(|t| t.name.as_str())))
                    .unknown(ctx, &Field(base, "tunnel"), t);
                None
            }
        },
        (None, None) => Some(Scope::All),
    }
}

fn option_ref(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    name: &str,
    registry: &[OptionDef],
    need_len: Option<&str>,
) -> Option<usize> {
    let Some(i) = registry.iter().position(|d| d.name == name) else {
        let known: Vec<&str> = registry.iter().map(|d| d.name.as_str()).collect();
        unknown_ref(ctx, path, "option in options.registry", name, &known);
        return None;
    };
    if let Some(what) = need_len {
        if registry[i].length.is_none_or(|l| l == 0) {
            ctx.err(
                path,
                format!("option `{name}` has no fixed length in options.registry; {what} needs one (set length)"),
            );
            return None;
        }
    }
    Some(i)
}

fn tag_value(
    ctx: &mut Ctx,
    path: &(impl fmt::Display + ?Sized),
    v: &Scalar,
    len: usize,
) -> Option<Vec<u8>> {
    match v {
        Scalar::Int(n) => {
            let n = match u64::try_from(*n) {
                Ok(n) => n,
                Err(_) => {
                    ctx.err(path, format!("{n} is negative; allowed: a non-negative integer or a hex string of {len} bytes"));
                    return None;
                }
            };
            let bytes = n.to_be_bytes();
            let lead = bytes.len().saturating_sub(len);
            if len < 8 && (n >> (8 * len)) != 0 {
                let max = (1u128 << (8 * len)) - 1;
                ctx.err(
                    path,
                    format!("{n} does not fit in the option's {len} bytes; allowed 0..={max}"),
                );
                return None;
            }
            let mut out = vec![0u8; len.saturating_sub(8)];
            out.extend_from_slice(&bytes[lead..]);
            Some(out)
        }
        Scalar::Str(s) => {
            let b = hex(ctx, path, s)?;
            if b.len() != len {
                ctx.err(
                    path,
                    format!("`{s}` is {} bytes; the option is {len} bytes", b.len()),
                );
                return None;
            }
            Some(b)
        }
    }
}

pub(super) fn policies(
    ctx: &mut Ctx,
    raw: RawPolicies,
    registry: Vec<OptionDef>,
    tunnels: &[Tunnel],
    decap: &[Decap],
) -> Options {
    let mut out = Options {
        registry,
        ..Options::default()
    };
    let mut seen = HashSet::default();
    let known = Known {
        tunnels,
        tunnel_names: std::cell::OnceCell::new(),
        decap,
        by_name: tunnel_index(tunnels),
        decap_vnis: decap.iter().map(|d| d.vni).collect(),
    };
    for (i, r) in raw.require.iter().enumerate() {
        let base = format!("options.policies.require[{i}]");
        let o = option_ref(
            ctx,
            &format!("{base}.option"),
            &r.option,
            &out.registry,
            None,
        );
        let s = scope(ctx, &base, r.vni, r.tunnel.as_deref(), &known);
        if let (Some(option), Some(scope)) = (o, s) {
            if !seen.insert((option, format!("{scope:?}"))) {
                ctx.err(
                    &base,
                    format!("option `{}` is already required here", r.option),
                );
            }
            out.require.push(RequireOption { option, scope });
        }
    }
    for (i, r) in raw.security_tags.iter().enumerate() {
        let base = format!("options.policies.security_tags[{i}]");
        let o = option_ref(
            ctx,
            &format!("{base}.option"),
            &r.option,
            &out.registry,
            Some("a security tag"),
        );
        let s = scope(ctx, &base, r.vni, r.tunnel.as_deref(), &known);
        if r.allow.is_empty() && r.deny.is_empty() {
            ctx.err(&base, "give allow and/or deny values");
        }
        let Some(option) = o else { continue };
        let len = usize::from(out.registry[option].length.unwrap_or(0));
        let mut allow = Vec::new();
        let mut allowed = HashSet::default();
        for (j, v) in r.allow.iter().enumerate() {
            if let Some(b) = tag_value(ctx, &format!("{base}.allow[{j}]"), v, len) {
                allowed.insert(b.clone());
                allow.push(b);
            }
        }
        let mut deny = Vec::new();
        for (j, v) in r.deny.iter().enumerate() {
            let path = format!("{base}.deny[{j}]");
            if let Some(b) = tag_value(ctx, &path, v, len) {
                if allowed.contains(&b) {
                    ctx.err(
                        &path,
                        "this value is also in allow; a value is either allowed or denied",
                    );
                }
                deny.push(b);
            }
        }
        if let Some(scope) = s {
            out.security_tags.push(SecurityTagPolicy {
                option,
                scope,
                allow,
                deny,
                default: match r.default {
                    Some(RawAction::Allow) => Action::Allow,
                    Some(RawAction::Deny) | None => Action::Deny,
                },
            });
        }
    }
    for (i, r) in raw.flow_id_copy.iter().enumerate() {
        let base = format!("options.policies.flow_id_copy[{i}]");
        let o = option_ref(
            ctx,
            &format!("{base}.option"),
            &r.option,
            &out.registry,
            Some("a flow-id copy"),
        );
        let s = scope(ctx, &base, r.vni, r.tunnel.as_deref(), &known);
        if let (Some(option), Some(scope)) = (o, s) {
            out.flow_id_copy.push(FlowIdCopy { option, scope });
        }
    }
    out
}
