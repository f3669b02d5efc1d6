//! The running configuration as YAML: [`emit`] writes a [`Config`] back as
//! text that [`super::load`] reads into an equal `Config` (and so the same
//! tables), so that what runs, after entries were changed at runtime, can
//! be saved and loaded again.
//!
//! Shape: the long lists (tunnels, `l3.routes`, each segment's
//! `static_macs`, `decap`) are written one entry per line in flow style,
//! the form the fast loading tier (`fast`) takes, so a saved file of a
//! million entries loads as fast as a generated one; everything else is
//! written in block style. A tunnel entry whose settings differ from the
//! defaults gets them on its line too; such a line is outside the fast
//! tier's grammar and is read by serde_yaml_ng with the rest of the
//! skeleton (same result, only slower for that line).
//!
//! What survives and what does not:
//! - Everything the typed `Config` keeps: names (ports, tunnels, segments,
//!   options, mesh groups), the option registry and policies (by option
//!   and tunnel name), segments with their VXLAN VNIs, the L3 access side,
//!   ports, `eal`, `limits`, `offload` and `metrics`.
//! - Comments, the order of keys and the quoting style are not in the
//!   `Config`, so they are lost.
//! - Defaults the loader filled in come back as what they resolved to where
//!   the `Config` cannot tell them from a value: `eal.cores`,
//!   `eal.control_core`, a next hop's `destinations` (the default route of
//!   its family), `limits`, `metrics`, `l2.learning` and
//!   `l2.ageing_seconds`, `vtep.port`, `vtep.udp_port`, a port's `mtu`.
//!   A tunnel setting equal to its
//!   default (UDP port, checksum, TTL, DSCP, source ports, mesh group) and
//!   a port's `queues` equal to the number of workers are left out, so
//!   they keep following the defaults.
//! - `l3.routes` are written longest prefix first, by address within a
//!   length (the order `load` gives; the control API's edits leave the
//!   running list unordered, and a prefix appears once, so the order
//!   changes no lookup).
//! - A tunnel option is written by its registry name when a registry entry
//!   has its class, type (or type without the critical bit) and length,
//!   else by class and type.
//! - `decap`: the `Config` keeps the resolved table. An entry an L2
//!   segment or an L3 route's tunnel implies is written only when it has
//!   an `allow_from` list (as `{ vni, allow_from }`); every other entry is
//!   written whole.
//! - A `Config` changed in place (not by `load`) comes back equal only in
//!   the form `load` gives it: routes longest prefix first, decap entries
//!   sorted by VNI, an L3 (`Payload::Ip`) decap entry only for a VNI some
//!   route's tunnel has, the tunnel index rebuilt. [`save`] checks this by
//!   loading its text back, and refuses otherwise.
//!
//! Hand-written rather than serde's `Serialize` over the raw schema
//! (`raw`): the typed `Config` resolves references to indexes and merges
//! the decap table, so a raw schema would have to be rebuilt first, and
//! serde_yaml_ng writes every list in block style, which the fast tier
//! does not read: a block-style file loads through the general tier,
//! about five times slower and with three times the memory at 100,000
//! entries (BENCHMARKS.md, "Scale: loading a million entries").
//! Every writer names every field of the types it writes (a pattern
//! without `..`), so a field added to the configuration does not compile
//! until it is written here; tests load every example and random
//! configurations, emit them and load them again, and compare.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::types::*;
use crate::wire::ethernet::MacDisplay;

/// The configuration as YAML text that loads back into an equal `Config`.
pub fn emit(cfg: &Config) -> String {
    let entries = cfg.tunnels.len()
        + cfg.l3.as_ref().map_or(0, |l| l.routes.len())
        + cfg.decap.len()
        + cfg.l2.as_ref().map_or(0, |l| {
            l.segments
                .iter()
                .map(|s| s.static_macs.len())
                .sum::<usize>()
        });
    let mut out = String::with_capacity(4096 + entries * 64);
    // Writing into a String cannot fail.
    let _ = write_config(cfg, &mut out);
    out
}

/// Save `cfg` to `path` through a temporary file in the same directory,
/// renamed over `path` once written and synced: a reader (or a reload)
/// sees the old file or the new one, never half of one. The text is loaded
/// back first and must give `cfg` again, else nothing is written and the
/// error names the first section that differs (a `Config` changed in place
/// must be in the form `load` gives: routes longest prefix first, decap
/// entries by VNI, every decap entry one the file can express).
pub fn save(cfg: &Config, path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    let text = emit(cfg);
    let back = super::load_str(&text, &path.display().to_string()).map_err(|e| {
        format!(
            "the configuration's save does not load, nothing written to {}:\n{e}",
            path.display()
        )
    })?;
    if let Some(section) = first_difference(cfg, &back) {
        return Err(format!(
            "the configuration does not load back equal from its save ({section} differs), nothing written to {}",
            path.display()
        ));
    }
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot save the configuration to {}: {e}", path.display())
    })
}

/// The first top-level section in which `a` and `b` differ.
fn first_difference(a: &Config, b: &Config) -> Option<&'static str> {
    [
        ("eal", a.eal == b.eal),
        ("ports", a.ports == b.ports),
        ("vtep", a.vtep == b.vtep),
        ("tunnels", a.tunnels == b.tunnels),
        ("l2", a.l2 == b.l2),
        ("l3", same_l3(a.l3.as_ref(), b.l3.as_ref())),
        ("decap", a.decap == b.decap),
        ("options", a.options == b.options),
        ("limits", a.limits == b.limits),
        ("offload", a.offload == b.offload),
        ("metrics", a.metrics == b.metrics),
        ("the tunnel index", a.index == b.index),
    ]
    .into_iter()
    .find(|(_, same)| !same)
    .map(|(s, _)| s)
}

/// The routes in the order `emit` writes them: longest prefix first, by
/// address within a length.
fn routes_in_order(l3: &L3) -> Vec<&Route> {
    let mut v: Vec<&Route> = l3.routes.iter().collect();
    v.sort_unstable_by_key(|r| (std::cmp::Reverse(r.prefix.len), r.prefix.addr));
    v
}

/// Equal L3 sections, whatever the order of their routes.
fn same_l3(a: Option<&L3>, b: Option<&L3>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.access == b.access && a.routes.len() == b.routes.len() && {
                routes_in_order(a) == routes_in_order(b)
            }
        }
        (a, b) => a.is_none() && b.is_none(),
    }
}

// Each writer names every field of the types it writes (`Type { a: _, ..}`
// without `..`): a field added to the configuration does not compile until
// its writer has seen it.

fn write_config(cfg: &Config, o: &mut String) -> std::fmt::Result {
    let Config {
        eal: _,
        ports: _,
        vtep: _,
        tunnels: _,
        l2: _,
        l3: _,
        decap: _,
        options: _,
        limits: _,
        offload: _,
        metrics: _,
        api: _,
        index: _,
    } = cfg;
    o.push_str("# Saved by geneve-gw: the running configuration.\n");
    eal(&cfg.eal, o)?;
    ports(cfg, o)?;
    vtep(cfg, o)?;
    tunnels(cfg, o)?;
    if let Some(l2) = &cfg.l2 {
        l2_mode(cfg, l2, o)?;
    }
    if let Some(l3) = &cfg.l3 {
        l3_mode(cfg, l3, o)?;
    }
    decap(cfg, o)?;
    options(cfg, o)?;
    let l = &cfg.limits;
    let Limits {
        max_options: _,
        mac_table_size: _,
        flow_table_size: _,
        burst_size: _,
        mbufs: _,
        route_groups: _,
        neighbors: _,
    } = l;
    writeln!(
        o,
        "limits:\n  max_options: {}\n  mac_table_size: {}\n  flow_table_size: {}\n  burst_size: {}\n  mbufs: {}\n  route_groups: {}\n  neighbors: {}",
        l.max_options, l.mac_table_size, l.flow_table_size, l.burst_size, l.mbufs, l.route_groups,
        l.neighbors
    )?;
    writeln!(
        o,
        "offload: {}",
        match cfg.offload {
            Offload::Auto => "auto",
            Offload::Off => "off",
        }
    )?;
    let m = &cfg.metrics;
    let Metrics {
        prometheus: _,
        latency: _,
        capture: _,
        top_tunnels: _,
    } = m;
    o.push_str("metrics:\n");
    if let Some(p) = m.prometheus {
        writeln!(o, "  prometheus: {}", quote(&p.to_string()))?;
    }
    writeln!(o, "  latency: {}\n  capture: {}", m.latency, m.capture)?;
    if m.top_tunnels > 0 {
        writeln!(o, "  top_tunnels: {}", m.top_tunnels)?;
    }
    let ApiConfig { listen_tcp } = &cfg.api;
    if let Some(a) = listen_tcp {
        writeln!(o, "api:\n  listen_tcp: {}", quote(&a.to_string()))?;
    }
    Ok(())
}

fn eal(e: &EalConfig, o: &mut String) -> std::fmt::Result {
    let EalConfig {
        worker_cores: _,
        control_core: _,
        memory: _,
        pci: _,
        vdevs: _,
        file_prefix: _,
        args: _,
    } = e;
    o.push_str("eal:\n");
    writeln!(
        o,
        "  cores: [{}]",
        join(e.worker_cores.iter().map(u32::to_string))
    )?;
    writeln!(o, "  control_core: {}", e.control_core)?;
    match e.memory {
        Memory::Hugepages { size_mb: None } => o.push_str("  memory:\n    mode: hugepages\n"),
        Memory::Hugepages { size_mb: Some(mb) } => {
            writeln!(o, "  memory:\n    mode: hugepages\n    size_mb: {mb}")?
        }
        Memory::NoHuge { size_mb } => {
            writeln!(o, "  memory:\n    mode: no_huge\n    size_mb: {size_mb}")?
        }
    }
    if !e.pci.is_empty() || !e.vdevs.is_empty() {
        o.push_str("  devices:\n");
        if !e.pci.is_empty() {
            writeln!(o, "    pci: [{}]", join(e.pci.iter().map(|s| quote(s))))?;
        }
        if !e.vdevs.is_empty() {
            writeln!(o, "    vdev: [{}]", join(e.vdevs.iter().map(|s| quote(s))))?;
        }
    }
    if let Some(p) = &e.file_prefix {
        writeln!(o, "  file_prefix: {}", quote(p))?;
    }
    if !e.args.is_empty() {
        writeln!(o, "  args: [{}]", join(e.args.iter().map(|s| quote(s))))?;
    }
    Ok(())
}

fn ports(cfg: &Config, o: &mut String) -> std::fmt::Result {
    o.push_str("ports:\n");
    let workers = cfg.eal.worker_cores.len();
    for p in &cfg.ports {
        let PortConfig {
            name: _,
            role: _,
            device: _,
            queues: _,
            mtu: _,
            mac: _,
        } = p;
        writeln!(o, "  - name: {}", quote(&p.name))?;
        writeln!(o, "    role: {}", p.role)?;
        match &p.device {
            DeviceRef::Index(i) => writeln!(o, "    device: {i}")?,
            DeviceRef::Name(n) => writeln!(o, "    device: {}", quote(n))?,
        }
        if usize::from(p.queues) != workers {
            writeln!(o, "    queues: {}", p.queues)?;
        }
        writeln!(o, "    mtu: {}", p.mtu)?;
        if let Some(m) = &p.mac {
            writeln!(o, "    mac: {}", mac(m))?;
        }
    }
    Ok(())
}

fn vtep(cfg: &Config, o: &mut String) -> std::fmt::Result {
    let v = &cfg.vtep;
    let Vtep {
        port: _,
        ipv4: _,
        ipv6: _,
        udp_port: _,
        vxlan_port: _,
        vlan: _,
        next_hops: _,
    } = v;
    o.push_str("vtep:\n");
    writeln!(o, "  port: {}", quote(&cfg.ports[v.port].name))?;
    if let Some(a) = &v.ipv4 {
        writeln!(o, "  ipv4: {}", if_addr(a))?;
    }
    if let Some(a) = &v.ipv6 {
        writeln!(o, "  ipv6: {}", if_addr(a))?;
    }
    writeln!(o, "  udp_port: {}", v.udp_port)?;
    if let Some(p) = v.vxlan_port {
        writeln!(o, "  vxlan_port: {p}")?;
    }
    if let Some(vl) = v.vlan {
        writeln!(o, "  vlan: {vl}")?;
    }
    if !v.next_hops.is_empty() {
        o.push_str("  next_hops:\n");
        for nh in &v.next_hops {
            let NextHop {
                via: _,
                mac: _,
                destinations: _,
            } = nh;
            writeln!(o, "    - via: {}", ip(nh.via))?;
            if let Some(m) = &nh.mac {
                writeln!(o, "      mac: {}", mac(m))?;
            }
            writeln!(
                o,
                "      destinations: [{}]",
                join(nh.destinations.iter().map(|p| prefix(*p)))
            )?;
        }
    }
    Ok(())
}

/// The destination port a tunnel gets when it names none.
fn default_port(cfg: &Config, e: Encapsulation) -> u16 {
    match e {
        Encapsulation::Geneve => cfg.vtep.udp_port,
        Encapsulation::Vxlan => cfg.vtep.vxlan_port.unwrap_or(VXLAN_UDP_PORT),
    }
}

fn tunnels(cfg: &Config, o: &mut String) -> std::fmt::Result {
    if cfg.tunnels.is_empty() {
        return Ok(());
    }
    o.push_str("tunnels:\n");
    for t in &cfg.tunnels {
        let Tunnel {
            name: _,
            remote: _,
            vni: _,
            encapsulation: _,
            mesh: _,
            options: _,
            udp_dst_port: _,
            udp_checksum: _,
            accept_zero_checksum: _,
            ttl: _,
            dscp: _,
            source_ports: _,
        } = t;
        write!(
            o,
            "  - {{ name: {}, remote: {}, vni: {}",
            quote(&t.name),
            ip(t.remote),
            t.vni.get()
        )?;
        if t.encapsulation != Encapsulation::Geneve {
            write!(o, ", encapsulation: {}", t.encapsulation.as_str())?;
        }
        if t.mesh != t.encapsulation.as_str() {
            write!(o, ", mesh: {}", quote(&t.mesh))?;
        }
        if !t.options.is_empty() {
            o.push_str(", options: [");
            for (i, opt) in t.options.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                tunnel_option(cfg, opt, o)?;
            }
            o.push(']');
        }
        if t.udp_dst_port != default_port(cfg, t.encapsulation) {
            write!(o, ", udp_port: {}", t.udp_dst_port)?;
        }
        if t.udp_checksum != default_checksum(t.remote) {
            write!(
                o,
                ", udp_checksum: {}",
                match t.udp_checksum {
                    UdpChecksum::Zero => "zero",
                    UdpChecksum::Compute => "compute",
                }
            )?;
        }
        if t.accept_zero_checksum {
            o.push_str(", accept_zero_checksum: true");
        }
        if t.ttl != HeaderPolicy::Fixed(DEFAULT_TTL) {
            write!(o, ", ttl: {}", header_policy(t.ttl))?;
        }
        if t.dscp != HeaderPolicy::Fixed(0) {
            write!(o, ", dscp: {}", header_policy(t.dscp))?;
        }
        if t.source_ports != DEFAULT_SOURCE_PORTS {
            write!(
                o,
                ", source_ports: {{ min: {}, max: {} }}",
                t.source_ports.0, t.source_ports.1
            )?;
        }
        o.push_str(" }\n");
    }
    Ok(())
}

fn tunnel_option(cfg: &Config, opt: &TunnelOption, o: &mut String) -> std::fmt::Result {
    let TunnelOption {
        class: _,
        typ: _,
        data: _,
    } = opt;
    let data = quote(&hex(&opt.data));
    // By name when the registry has it: same class, the type with or
    // without the critical bit, and a length the data fits.
    let named = cfg.options.registry.iter().find(|d| {
        d.class == opt.class
            && (d.type_ == opt.typ || d.type_ | 0x80 == opt.typ)
            && d.length.is_none_or(|l| usize::from(l) == opt.data.len())
    });
    match named {
        Some(d) => {
            write!(o, "{{ name: {}", quote(&d.name))?;
            if d.type_ != opt.typ {
                o.push_str(", critical: true");
            }
            write!(o, ", data: {data} }}")
        }
        None => write!(
            o,
            "{{ class: {}, type: {}, data: {data} }}",
            opt.class, opt.typ
        ),
    }
}

fn header_policy(h: HeaderPolicy) -> String {
    match h {
        HeaderPolicy::Fixed(n) => n.to_string(),
        HeaderPolicy::Inherit => "inherit".to_string(),
    }
}

fn l2_mode(cfg: &Config, l2: &L2, o: &mut String) -> std::fmt::Result {
    let L2 {
        learning: _,
        ageing_seconds: _,
        segments: _,
    } = l2;
    writeln!(
        o,
        "l2:\n  learning: {}\n  ageing_seconds: {}\n  segments:",
        l2.learning, l2.ageing_seconds
    )?;
    for s in &l2.segments {
        let Segment {
            name: _,
            port: _,
            vlan: _,
            vni: _,
            vxlan_vni: _,
            flood: _,
            static_macs: _,
        } = s;
        match &s.name {
            Some(n) => writeln!(
                o,
                "    - name: {}\n      port: {}",
                quote(n),
                quote(&cfg.ports[s.port].name)
            )?,
            None => writeln!(o, "    - port: {}", quote(&cfg.ports[s.port].name))?,
        }
        if let Some(v) = s.vlan {
            writeln!(o, "      vlan: {v}")?;
        }
        writeln!(o, "      vni: {}", s.vni.get())?;
        if s.vxlan_vni != s.vni {
            writeln!(o, "      vxlan_vni: {}", s.vxlan_vni.get())?;
        }
        if !s.flood.is_empty() {
            writeln!(o, "      flood: [{}]", join(s.flood.iter().map(|a| ip(*a))))?;
        }
        if !s.static_macs.is_empty() {
            o.push_str("      static_macs:\n");
            for m in &s.static_macs {
                let StaticMac { mac: _, remote: _ } = m;
                writeln!(
                    o,
                    "        - {{ mac: {}, remote: {} }}",
                    mac(&m.mac),
                    ip(m.remote)
                )?;
            }
        }
    }
    Ok(())
}

fn l3_mode(cfg: &Config, l3: &L3, o: &mut String) -> std::fmt::Result {
    let L3 {
        access: _,
        routes: _,
    } = l3;
    let a = &l3.access;
    let L3Access {
        port: _,
        vlan: _,
        ipv4: _,
        ipv6: _,
        gateway_mac: _,
        next_hop: _,
    } = a;
    o.push_str("l3:\n  access:\n");
    writeln!(o, "    port: {}", quote(&cfg.ports[a.port].name))?;
    if let Some(v) = a.vlan {
        writeln!(o, "    vlan: {v}")?;
    }
    if let Some(x) = &a.ipv4 {
        writeln!(o, "    ipv4: {}", if_addr(x))?;
    }
    if let Some(x) = &a.ipv6 {
        writeln!(o, "    ipv6: {}", if_addr(x))?;
    }
    if let Some(m) = &a.gateway_mac {
        writeln!(o, "    gateway_mac: {}", mac(m))?;
    }
    match a.next_hop {
        InnerNextHop::Static(m) => writeln!(o, "    next_hop_mac: {}", mac(&m))?,
        InnerNextHop::Resolve(h) => writeln!(o, "    next_hop: {}", ip(h))?,
        InnerNextHop::ResolveDestination => {}
    }
    if !l3.routes.is_empty() {
        o.push_str("  routes:\n");
        for r in routes_in_order(l3) {
            let Route {
                prefix: _,
                tunnel: _,
            } = r;
            writeln!(
                o,
                "    - {{ prefix: {}, tunnel: {} }}",
                prefix(r.prefix),
                quote(&cfg.tunnels[r.tunnel].name)
            )?;
        }
    }
    Ok(())
}

fn decap(cfg: &Config, o: &mut String) -> std::fmt::Result {
    // The VNIs whose entry the segments and the routes' tunnels imply.
    let segment_vnis: std::collections::HashSet<Vni> = cfg
        .l2
        .iter()
        .flat_map(|l| l.segments.iter().map(|s| s.vni))
        .collect();
    let mut started = false;
    for d in &cfg.decap {
        let Decap {
            vni: _,
            port: _,
            vlan: _,
            payload: _,
            allow_from: _,
        } = d;
        let implied = match d.payload {
            Payload::Ip => true,
            Payload::Ethernet => segment_vnis.contains(&d.vni),
        };
        if implied && d.allow_from.is_none() {
            continue;
        }
        if !started {
            o.push_str("decap:\n");
            started = true;
        }
        write!(o, "  - {{ vni: {}", d.vni.get())?;
        if !implied {
            write!(o, ", port: {}", quote(&cfg.ports[d.port].name))?;
            if let Some(v) = d.vlan {
                write!(o, ", vlan: {v}")?;
            }
        }
        if let Some(list) = &d.allow_from {
            write!(o, ", allow_from: [{}]", join(list.iter().map(|a| ip(*a))))?;
        }
        o.push_str(" }\n");
    }
    Ok(())
}

fn options(cfg: &Config, o: &mut String) -> std::fmt::Result {
    let opts = &cfg.options;
    let Options {
        registry: _,
        require: _,
        security_tags: _,
        flow_id_copy: _,
    } = opts;
    if opts.registry.is_empty()
        && opts.require.is_empty()
        && opts.security_tags.is_empty()
        && opts.flow_id_copy.is_empty()
    {
        return Ok(());
    }
    o.push_str("options:\n");
    if !opts.registry.is_empty() {
        o.push_str("  registry:\n");
        for d in &opts.registry {
            let OptionDef {
                name: _,
                class: _,
                type_: _,
                length: _,
            } = d;
            writeln!(
                o,
                "    - name: {}\n      class: {}\n      type: {}",
                quote(&d.name),
                d.class,
                d.type_
            )?;
            if let Some(l) = d.length {
                writeln!(o, "      length: {l}")?;
            }
        }
    }
    if opts.require.is_empty() && opts.security_tags.is_empty() && opts.flow_id_copy.is_empty() {
        return Ok(());
    }
    o.push_str("  policies:\n");
    let name = |i: usize| quote(&opts.registry[i].name);
    if !opts.require.is_empty() {
        o.push_str("    require:\n");
        for r in &opts.require {
            let RequireOption {
                option: _,
                scope: _,
            } = r;
            writeln!(o, "      - option: {}", name(r.option))?;
            scope(cfg, r.scope, o)?;
        }
    }
    if !opts.security_tags.is_empty() {
        o.push_str("    security_tags:\n");
        for s in &opts.security_tags {
            let SecurityTagPolicy {
                option: _,
                scope: _,
                allow: _,
                deny: _,
                default: _,
            } = s;
            writeln!(o, "      - option: {}", name(s.option))?;
            scope(cfg, s.scope, o)?;
            if !s.allow.is_empty() {
                writeln!(
                    o,
                    "        allow: [{}]",
                    join(s.allow.iter().map(|v| quote(&hex(v))))
                )?;
            }
            if !s.deny.is_empty() {
                writeln!(
                    o,
                    "        deny: [{}]",
                    join(s.deny.iter().map(|v| quote(&hex(v))))
                )?;
            }
            writeln!(
                o,
                "        default: {}",
                match s.default {
                    Action::Allow => "allow",
                    Action::Deny => "deny",
                }
            )?;
        }
    }
    if !opts.flow_id_copy.is_empty() {
        o.push_str("    flow_id_copy:\n");
        for f in &opts.flow_id_copy {
            let FlowIdCopy {
                option: _,
                scope: _,
            } = f;
            writeln!(o, "      - option: {}", name(f.option))?;
            scope(cfg, f.scope, o)?;
        }
    }
    Ok(())
}

fn scope(cfg: &Config, s: Scope, o: &mut String) -> std::fmt::Result {
    match s {
        Scope::All => Ok(()),
        Scope::Vni(v) => writeln!(o, "        vni: {}", v.get()),
        Scope::Tunnel(i) => writeln!(o, "        tunnel: {}", quote(&cfg.tunnels[i].name)),
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn mac(m: &MacAddr) -> String {
    format!("\"{}\"", MacDisplay(m))
}

/// An address: IPv4 plain, IPv6 quoted (a plain `:` is beyond the fast
/// tier's grammar).
fn ip(a: IpAddr) -> String {
    match a {
        IpAddr::V4(_) => a.to_string(),
        IpAddr::V6(_) => format!("\"{a}\""),
    }
}

fn prefix(p: IpPrefix) -> String {
    match p.addr {
        IpAddr::V4(_) => p.to_string(),
        IpAddr::V6(_) => format!("\"{p}\""),
    }
}

fn if_addr(a: &IfAddr) -> String {
    let text = if a.prefix_len == 0 {
        a.addr.to_string()
    } else {
        format!("{}/{}", a.addr, a.prefix_len)
    };
    match a.addr {
        IpAddr::V4(_) => text,
        IpAddr::V6(_) => format!("\"{text}\""),
    }
}

/// Words YAML reads as something other than a string, or that some YAML
/// readers do (the 1.1 booleans).
const SPECIAL: &[&str] = &[
    "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES",
    "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
];

/// A string as a YAML scalar that reads back as that string: plain when it
/// is a word starting with a letter that YAML reads as no number, boolean
/// or null, or a dotted IPv4 address or prefix; else double-quoted, with
/// escapes for `"`, `\` and control characters.
pub(super) fn quote(s: &str) -> String {
    let word = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
    };
    let plain = !s.is_empty()
        && word(s)
        && ((s.as_bytes()[0].is_ascii_alphabetic()
            && !SPECIAL.contains(&s)
            && s.parse::<f64>().is_err())
            || dotted_v4(s));
    if plain {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if !yaml_printable(c) => {
                let _ = write!(q, "\\u{:04x}", u32::from(c));
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A character YAML takes as it is inside double quotes: printable
/// (YAML 1.2, 5.1) and no line break (NEL, LS and PS would be folded) nor
/// byte order mark.
fn yaml_printable(c: char) -> bool {
    matches!(u32::from(c), 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x1_0000..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `a.b.c.d` or `a.b.c.d/n`, digits only: YAML reads it as a string.
fn dotted_v4(s: &str) -> bool {
    let addr = s.split_once('/').map_or(s, |(a, n)| {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            ""
        } else {
            a
        }
    });
    let parts: Vec<&str> = addr.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
#[path = "emit_tests.rs"]
pub(crate) mod tests;
