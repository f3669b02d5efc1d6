//! Unit tests: values, references and positions. The example files and the
//! bad-configuration files are tested in tests/lib_config_*.rs.

use super::*;

/// A small valid configuration; tests append to it or replace lines.
const BASE: &str = "\
ports:
  - name: up
    role: underlay
    device: net_null0
  - name: acc
    role: access
    device: net_null1
vtep:
  ipv4: 198.18.0.1/24
tunnels:
  - name: t1
    remote: 198.18.0.2
    vni: 100
l2:
  segments:
    - port: acc
      vni: 100
      flood: [198.18.0.2]
";

fn ok(text: &str) -> Config {
    match load_str(text, "t.yaml") {
        Ok(c) => c,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errs(text: &str) -> Vec<ConfigError> {
    match load_str(text, "t.yaml") {
        Ok(_) => panic!("expected errors, got a config"),
        Err(e) => e.errors().to_vec(),
    }
}

/// The only error: (line, path), and its message contains `needle`.
fn one(text: &str, line: usize, path: &str, needle: &str) {
    let e = errs(text);
    assert_eq!(
        e.len(),
        1,
        "expected one error, got:\n{}",
        ConfigErrors::new(e.clone())
    );
    assert_eq!((e[0].line(), e[0].path.as_str()), (line, path), "{}", e[0]);
    assert!(e[0].message.contains(needle), "`{}` lacks `{needle}`", e[0]);
}

#[test]
fn top_tunnels_is_off_by_default_bounded_and_needs_prometheus() {
    assert_eq!(ok(BASE).metrics.top_tunnels, 0);
    let on = format!("{BASE}metrics:\n  prometheus: 127.0.0.1:9464\n  top_tunnels: 25\n");
    assert_eq!(ok(&on).metrics.top_tunnels, 25);
    let max = format!("{BASE}metrics:\n  prometheus: 127.0.0.1:9464\n  top_tunnels: 1000\n");
    assert_eq!(ok(&max).metrics.top_tunnels, 1000);
    let over = format!("{BASE}metrics:\n  prometheus: 127.0.0.1:9464\n  top_tunnels: 1001\n");
    one(&over, 21, "metrics.top_tunnels", "allowed 0..=1000");
    let negative = format!("{BASE}metrics:\n  prometheus: 127.0.0.1:9464\n  top_tunnels: -1\n");
    one(&negative, 21, "metrics.top_tunnels", "allowed 0..=1000");
    let alone = format!("{BASE}metrics:\n  top_tunnels: 5\n");
    one(&alone, 20, "metrics.top_tunnels", "set metrics.prometheus");
}

#[test]
fn base_loads_with_defaults() {
    let c = ok(BASE);
    assert_eq!(c.eal.worker_cores, vec![1]);
    assert_eq!(c.eal.control_core, 0);
    assert_eq!(c.ports[1].queues, 1);
    assert_eq!(c.ports[0].mtu, 1500);
    assert_eq!(c.vtep.udp_port, 6081);
    assert_eq!(c.vtep.port, 0);
    let t = &c.tunnels[0];
    assert_eq!(t.udp_dst_port, 6081);
    assert_eq!(t.udp_checksum, UdpChecksum::Zero);
    assert_eq!(t.ttl, HeaderPolicy::Fixed(64));
    assert_eq!(t.dscp, HeaderPolicy::Fixed(0));
    assert_eq!(t.source_ports, (49152, 65535));
    let l2 = c.l2.as_ref().unwrap();
    assert!(l2.learning);
    assert_eq!(l2.ageing_seconds, 300);
    assert_eq!(l2.segments[0].vlan, None);
    assert_eq!(c.decap.len(), 1);
    assert_eq!(c.decap[0].payload, Payload::Ethernet);
    assert_eq!(c.decap[0].allow_from, None);
    assert_eq!(c.limits, Limits::default());
    let vni = Vni::new(100).unwrap();
    assert_eq!(
        c.tunnel_for("198.18.0.2".parse().unwrap(), vni)
            .unwrap()
            .name,
        "t1"
    );
    assert!(c.decap_for(vni).is_some());
}

#[test]
fn eal_args() {
    let c = ok(&format!(
        "{BASE}eal:\n  cores: [2, 3]\n  control_core: 1\n  memory: {{mode: no_huge, size_mb: 256}}\n  devices:\n    pci: [\"0000:03:00.0\"]\n    vdev: [net_null0]\n  file_prefix: gw\n  args: [--no-shconf]\n"
    ));
    assert_eq!(
        c.eal.to_args().join(" "),
        "-l 1,2,3 --main-lcore 1 --no-huge -m 256 -a 0000:03:00.0 --vdev net_null0 --file-prefix gw --no-shconf"
    );
    assert_eq!(c.ports[0].queues, 2);
}

#[test]
fn eal_command_line_replaces_cores_and_devices() {
    let c = ok(&format!(
        "{BASE}eal:\n  cores: [2, 3]\n  control_core: 1\n  memory: {{mode: hugepages, size_mb: 1024}}\n  devices:\n    pci: [\"0000:03:00.0\", \"0000:03:00.1\"]\n    vdev: [net_null0]\n  file_prefix: gw\n  args: [--no-shconf]\n"
    ));
    let merged = |cli: &[&str]| {
        let cli: Vec<String> = cli.iter().map(|s| s.to_string()).collect();
        c.eal.merged_args(&cli).join(" ")
    };
    // Nothing on the command line: the file alone.
    assert_eq!(merged(&[]), c.eal.to_args().join(" "));
    // Other arguments extend the file's; DPDK takes the last -m.
    assert_eq!(
        merged(&["--no-pci", "--no-huge", "-m", "512"]),
        "-l 1,2,3 --main-lcore 1 -m 1024 -a 0000:03:00.0 -a 0000:03:00.1 --vdev net_null0 --file-prefix gw --no-shconf --no-pci --no-huge -m 512"
    );
    // A core list replaces cores and control core, in every spelling.
    for cores in [
        &["-l", "0,1"][..],
        &["-l0,1"],
        &["--lcores", "0,1"],
        &["--lcores=0,1"],
        &["-c", "0x3"],
        &["-c0x3"],
    ] {
        let m = merged(cores);
        assert!(m.starts_with("-m 1024 -a 0000:03:00.0"), "{cores:?}: {m}");
        assert!(m.ends_with(&cores.join(" ")), "{cores:?}: {m}");
        assert!(!m.contains("--main-lcore"), "{cores:?}: {m}");
    }
    // --main-lcore alone replaces only the file's main lcore.
    assert_eq!(
        merged(&["--main-lcore=2"]),
        "-l 1,2,3 -m 1024 -a 0000:03:00.0 -a 0000:03:00.1 --vdev net_null0 --file-prefix gw --no-shconf --main-lcore=2"
    );
    // A device replaces every device of the file, PCI and virtual.
    for dev in [
        &["--vdev", "net_null1"][..],
        &["--vdev=net_null1"],
        &["-a", "0000:04:00.0"],
        &["-a0000:04:00.0"],
        &["--allow", "0000:04:00.0"],
        &["--allow=0000:04:00.0"],
        &["-b", "0000:03:00.1"],
        &["--block=0000:03:00.1"],
    ] {
        let m = merged(dev);
        assert_eq!(
            m,
            format!(
                "-l 1,2,3 --main-lcore 1 -m 1024 --file-prefix gw --no-shconf {}",
                dev.join(" ")
            )
        );
    }
    // Both, as the examples' first lines use them.
    assert_eq!(
        merged(&[
            "-l", "0,1", "--no-huge", "-m", "512", "--vdev", "net_null0", "--vdev", "net_null1"
        ]),
        "-m 1024 --file-prefix gw --no-shconf -l 0,1 --no-huge -m 512 --vdev net_null0 --vdev net_null1"
    );
}

#[test]
fn eal_errors() {
    one(
        &format!("{BASE}eal:\n  cores: [1, 2]\n  control_core: 2\n"),
        21,
        "eal.control_core",
        "also a worker core",
    );
    one(
        &format!("{BASE}eal:\n  cores: [1, 1]\n"),
        20,
        "eal.cores[1]",
        "listed twice",
    );
    one(
        &format!("{BASE}eal:\n  memory:\n    mode: no_huge\n"),
        20,
        "eal.memory.size_mb",
        "required with mode no_huge",
    );
    one(
        &format!("{BASE}eal:\n  devices:\n    pci: [\"03:00\"]\n"),
        21,
        "eal.devices.pci[0]",
        "not a PCI address",
    );
    one(
        &format!("{BASE}eal:\n  memory:\n    mode: nohuge\n"),
        21,
        "eal.memory.mode",
        "did you mean `no_huge`?",
    );
}

#[test]
fn queues_cover_workers() {
    let t = BASE.replace("device: net_null1\n", "device: net_null1\n    queues: 1\n");
    one(
        &format!("{t}eal:\n  cores: [1, 2]\n"),
        8,
        "ports[1].queues",
        "each worker needs its own queue",
    );
}

#[test]
fn vni_range() {
    one(
        &BASE.replace("vni: 100\nl2", "vni: 16777216\nl2"),
        13,
        "tunnels[0].vni",
        "16777216 is out of range; allowed 0..=16777215",
    );
    one(
        &BASE.replace("vni: 100\nl2", "vni: -1\nl2"),
        13,
        "tunnels[0].vni",
        "out of range",
    );
    // the top VNI is fine
    ok(&BASE.replace("vni: 100\nl2", "vni: 16777215\nl2"));
}

#[test]
fn display_names_file_line_column_and_field() {
    let e = load_str(
        &BASE.replace("vni: 100\nl2", "vni: 16777216\nl2"),
        "gateway.yaml",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "gateway.yaml:13:10: tunnels[0].vni: 16777216 is out of range; allowed 0..=16777215 (24 bits)"
    );
}

#[test]
fn collects_every_semantic_error() {
    let t = BASE
        .replace("remote: 198.18.0.2\n", "remote: 198.18.0.256\n")
        .replace("vni: 100\nl2", "vni: 16777216\nl2")
        .replace("port: acc\n", "port: acc2\n");
    let e = errs(&t);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line(), e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (12, "tunnels[0].remote"),
            (13, "tunnels[0].vni"),
            (16, "l2.segments[0].port")
        ]
    );
}

#[test]
fn one_structural_error_per_section() {
    let t = BASE
        .replace("role: access", "role: acces")
        .replace("vni: 100\nl2", "vni: abc\nl2")
        .replace("flood:", "floood:");
    let e = errs(&t);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line(), e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (6, "ports[1].role"),
            (13, "tunnels[0].vni"),
            (18, "l2.segments[0].floood")
        ]
    );
    assert!(e[0].message.contains("did you mean `access`?"));
    assert!(e[1].message.contains("expected an integer"));
    assert!(e[2].message.contains("did you mean `flood`?"));
}

#[test]
fn unknown_top_level_section() {
    one(
        &format!("{BASE}tunels: []\n"),
        19,
        "tunels",
        "did you mean `tunnels`?",
    );
}

#[test]
fn missing_field() {
    one(
        &BASE.replace("    vni: 100\nl2", "l2"),
        11,
        "tunnels[0].vni",
        "missing",
    );
}

#[test]
fn addresses_and_macs() {
    one(
        &BASE.replace("remote: 198.18.0.2", "remote: 198.18.0"),
        12,
        "tunnels[0].remote",
        "not an IP address",
    );
    one(
        &BASE.replace("remote: 198.18.0.2", "remote: 2001:db8::2"),
        12,
        "tunnels[0].remote",
        "set vtep.ipv6",
    );
    one(
        &BASE.replace("remote: 198.18.0.2", "remote: 198.18.0.1"),
        12,
        "tunnels[0].remote",
        "local VTEP address",
    );
    one(
        &BASE.replace("remote: 198.18.0.2", "remote: 224.0.0.1"),
        12,
        "tunnels[0].remote",
        "is a multicast address",
    );
    one(
        &BASE.replace("ipv4: 198.18.0.1/24", "ipv4: 2001:db8::1"),
        9,
        "vtep.ipv4",
        "put it under `ipv6`",
    );
    one(
        &BASE.replace("ipv4: 198.18.0.1/24", "ipv4: 198.18.0.1/33"),
        9,
        "vtep.ipv4",
        "allowed 0..=32",
    );
    one(
        &BASE.replace(
            "device: net_null1\n",
            "device: net_null1\n    mac: 02:00:00:00:00\n",
        ),
        8,
        "ports[1].mac",
        "not a MAC address",
    );
    one(
        &BASE.replace(
            "device: net_null1\n",
            "device: net_null1\n    mac: ff:ff:ff:ff:ff:ff\n",
        ),
        8,
        "ports[1].mac",
        "not a unicast MAC",
    );
}

#[test]
fn off_link_remote_needs_a_next_hop() {
    one(
        &BASE.replace("remote: 198.18.0.2", "remote: 198.18.5.2"),
        12,
        "tunnels[0].remote",
        "no vtep.next_hops entry covers it",
    );
    let c = ok(&BASE
        .replace("remote: 198.18.0.2", "remote: 198.18.5.2")
        .replace(
            "  ipv4: 198.18.0.1/24\n",
            "  ipv4: 198.18.0.1/24\n  next_hops:\n    - via: 198.18.0.254\n",
        ));
    assert_eq!(
        c.vtep.route("198.18.5.2".parse().unwrap()),
        UnderlayRoute::Via(0)
    );
    assert_eq!(
        c.vtep.route("198.18.0.9".parse().unwrap()),
        UnderlayRoute::Via(0)
    );
    one(
        &BASE.replace(
            "  ipv4: 198.18.0.1/24\n",
            "  ipv4: 198.18.0.1/24\n  next_hops:\n    - via: 198.18.1.254\n",
        ),
        11,
        "vtep.next_hops[0].via",
        "not on-link",
    );
    one(
        &BASE.replace(
            "  ipv4: 198.18.0.1/24\n",
            "  ipv4: 198.18.0.1/24\n  next_hops:\n    - via: 198.18.0.254\n    - via: 198.18.0.253\n",
        ),
        12,
        "vtep.next_hops[1].via",
        "already routed by vtep.next_hops[0]",
    );
}

#[test]
fn checksum_defaults_by_family() {
    let t = BASE
        .replace("  ipv4: 198.18.0.1/24\n", "  ipv4: 198.18.0.1/24\n  ipv6: 2001:db8::1/64\n")
        .replace(
            "    vni: 100\nl2",
            "    vni: 100\n  - name: t6\n    remote: 2001:db8::2\n    vni: 100\n  - name: t6z\n    remote: 2001:db8::3\n    vni: 100\n    udp_checksum: zero\nl2",
        );
    let c = ok(&t);
    assert_eq!(c.tunnels[0].udp_checksum, UdpChecksum::Zero);
    assert_eq!(c.tunnels[1].udp_checksum, UdpChecksum::Compute);
    assert_eq!(c.tunnels[2].udp_checksum, UdpChecksum::Zero);
}

#[test]
fn tunnel_policies() {
    let t = BASE.replace(
        "    vni: 100\nl2",
        "    vni: 100\n    ttl: inherit\n    dscp: 46\n    udp_port: 6082\n    source_ports: {min: 1000, max: 2000}\nl2",
    );
    let c = ok(&t);
    let t0 = &c.tunnels[0];
    assert_eq!(
        (t0.ttl, t0.dscp),
        (HeaderPolicy::Inherit, HeaderPolicy::Fixed(46))
    );
    assert_eq!((t0.udp_dst_port, t0.source_ports), (6082, (1000, 2000)));
    one(
        &BASE.replace("    vni: 100\nl2", "    vni: 100\n    udp_port: 0\nl2"),
        14,
        "tunnels[0].udp_port",
        "allowed 1..=65535",
    );
    one(
        &BASE.replace("    vni: 100\nl2", "    vni: 100\n    dscp: 64\nl2"),
        14,
        "tunnels[0].dscp",
        "allowed 0..=63 (fixed) or inherit",
    );
    one(
        &BASE.replace(
            "    vni: 100\nl2",
            "    vni: 100\n    source_ports: {min: 2000, max: 1000}\nl2",
        ),
        14,
        "tunnels[0].source_ports.max",
        "below min",
    );
}

#[test]
fn accept_zero_checksum_is_off_by_default_and_for_ipv6_remotes_only() {
    assert!(!ok(BASE).tunnels[0].accept_zero_checksum);
    let v6 = BASE
        .replace("  ipv4: 198.18.0.1/24", "  ipv6: 2001:db8:18::1/64")
        .replace("remote: 198.18.0.2", "remote: 2001:db8:18::2")
        .replace("flood: [198.18.0.2]", "flood: [2001:db8:18::2]")
        .replace(
            "    vni: 100\nl2",
            "    vni: 100\n    accept_zero_checksum: true\nl2",
        );
    assert!(ok(&v6).tunnels[0].accept_zero_checksum);
    one(
        &BASE.replace(
            "    vni: 100\nl2",
            "    vni: 100\n    accept_zero_checksum: true\nl2",
        ),
        14,
        "tunnels[0].accept_zero_checksum",
        "IPv6 remotes only",
    );
}

fn with_option(opt: &str) -> String {
    BASE.replace(
        "    vni: 100\nl2",
        &format!("    vni: 100\n    options:\n      - {opt}\nl2"),
    )
}

#[test]
fn tunnel_options() {
    let c = ok(&with_option(
        "{class: 0x0102, type: 0x01, data: \"00000001\", critical: true}",
    ));
    let o = &c.tunnels[0].options[0];
    assert_eq!(
        (o.class, o.typ, o.data.clone()),
        (0x0102, 0x81, vec![0, 0, 0, 1])
    );
    assert!(o.critical() && c.tunnels[0].has_critical_option());
    // unquoted digits are still hex text
    assert_eq!(
        ok(&with_option("{class: 1, type: 1, data: 00000010}")).tunnels[0].options[0].data,
        [0, 0, 0, 0x10]
    );
    one(
        &with_option("{class: 1, type: 1, data: \"000001\"}"),
        15,
        "tunnels[0].options[0].data",
        "not a multiple of 4",
    );
    let long = "00".repeat(128);
    one(
        &with_option(&format!("{{class: 1, type: 1, data: \"{long}\"}}")),
        15,
        "tunnels[0].options[0].data",
        "longer than 124 bytes",
    );
    ok(&with_option(&format!(
        "{{class: 1, type: 1, data: \"{}\"}}",
        "00".repeat(124)
    )));
    one(
        &with_option("{class: 1, type: 1, data: \"zz\"}"),
        15,
        "tunnels[0].options[0].data",
        "not a hex string",
    );
    one(
        &with_option("{class: 70000, type: 1}"),
        15,
        "tunnels[0].options[0].class",
        "allowed 0..=65535",
    );
    one(
        &with_option("{class: 1, type: 0x81, critical: false}"),
        15,
        "tunnels[0].options[0].critical",
        "critical bit",
    );
    one(
        &with_option("{data: \"00000000\"}"),
        15,
        "tunnels[0].options[0].class",
        "give class and type",
    );
    one(
        &with_option("{name: nope}"),
        15,
        "tunnels[0].options[0].name",
        "no option named `nope`",
    );
}

#[test]
fn options_total_length() {
    let big = format!("{{class: 1, type: 1, data: \"{}\"}}", "00".repeat(124));
    let t = BASE.replace(
        "    vni: 100\nl2",
        &format!("    vni: 100\n    options:\n      - {big}\n      - {big}\n      - {{class: 1, type: 2}}\nl2"),
    );
    one(&t, 14, "tunnels[0].options", "at most 252");
}

#[test]
fn duplicates() {
    let t = BASE.replace(
        "    vni: 100\nl2",
        "    vni: 100\n  - name: t1\n    remote: 198.18.0.3\n    vni: 100\nl2",
    );
    one(&t, 14, "tunnels[1].name", "duplicate tunnel name `t1`");
    let t = BASE.replace(
        "    vni: 100\nl2",
        "    vni: 100\n  - name: t2\n    remote: 198.18.0.2\n    vni: 100\nl2",
    );
    one(
        &t,
        16,
        "tunnels[1].vni",
        "each remote VTEP and VNI pair needs one tunnel",
    );
    let t = BASE.replace("device: net_null1", "device: net_null0");
    one(&t, 7, "ports[1].device", "already used by ports[0]");
}

#[test]
fn segments() {
    let two = |a: &str, b: &str| format!("{BASE}    - port: acc\n{a}{b}");
    one(
        &two("      vni: 100\n", "      vlan: 5\n"),
        20,
        "l2.segments[1].vni",
        "VNI 100 is already mapped by l2.segments[0]",
    );
    one(
        &two("      vni: 101\n", ""),
        19,
        "l2.segments[1].vlan",
        "untagged is already mapped by l2.segments[0]",
    );
    let c = ok(&two("      vni: 101\n", "      vlan: 7\n"));
    assert_eq!(c.l2.unwrap().segments[1].vlan, Some(7));
    one(
        &BASE.replace("port: acc\n", "port: up\n"),
        16,
        "l2.segments[0].port",
        "has role underlay",
    );
    one(
        &BASE.replace("port: acc\n", "port: ac\n"),
        16,
        "l2.segments[0].port",
        "did you mean `acc`?",
    );
    one(
        &BASE.replace("flood: [198.18.0.2]", "flood: [198.18.0.2, 198.18.0.2]"),
        18,
        "l2.segments[0].flood[1]",
        "listed twice",
    );
    let c = ok(&format!(
        "{BASE}      static_macs:\n        - {{mac: \"02:00:00:00:00:09\", remote: 198.18.0.2}}\n"
    ));
    assert_eq!(
        c.l2.unwrap().segments[0].static_macs[0].mac,
        [2, 0, 0, 0, 0, 9]
    );
}

const L3: &str = "\
l3:
  access:
    port: acc
    vlan: 10
    ipv4: 198.19.0.1/24
  routes:
    - {prefix: 198.19.128.0/17, tunnel: t1}
    - {prefix: 198.19.200.0/24, tunnel: t2}
    - {prefix: 2001:db8:100::/48, tunnel: t2}
";

fn l3_base(routes_extra: &str) -> String {
    let t = BASE.replace(
        "    vni: 100\nl2",
        "    vni: 300\n  - name: t2\n    remote: 198.18.0.3\n    vni: 200\nl2",
    );
    format!("{t}{L3}{routes_extra}")
}

#[test]
fn l3_longest_prefix_match() {
    let c = ok(&l3_base(""));
    let l3 = c.l3.as_ref().unwrap();
    let lookup = |a: &str| {
        l3.lookup(a.parse().unwrap())
            .map(|r| c.tunnels[r.tunnel].name.as_str())
    };
    assert_eq!(lookup("198.19.200.7"), Some("t2"));
    assert_eq!(lookup("198.19.130.7"), Some("t1"));
    assert_eq!(lookup("2001:db8:100::9"), Some("t2"));
    assert_eq!(lookup("198.19.1.1"), None);
    assert_eq!(l3.access.vlan, Some(10));
    assert_eq!(l3.access.next_hop, InnerNextHop::ResolveDestination);
    // decap: VNI 300 (t1) and 200 (t2) rebuild Ethernet; 100 is the L2 segment
    let kinds: Vec<(u32, Payload)> = c.decap.iter().map(|d| (d.vni.get(), d.payload)).collect();
    assert_eq!(
        kinds,
        [
            (100, Payload::Ethernet),
            (200, Payload::Ip),
            (300, Payload::Ip)
        ]
    );
}

#[test]
fn l3_errors() {
    one(
        &l3_base("    - {prefix: 198.19.200.0/24, tunnel: t1}\n"),
        31,
        "l3.routes[3].prefix",
        "already routed by l3.routes[1]",
    );
    one(
        &l3_base("    - {prefix: 198.19.200.1/24, tunnel: t1}\n"),
        31,
        "l3.routes[3].prefix",
        "host bits set; did you mean 198.19.200.0/24?",
    );
    one(
        &l3_base("    - {prefix: 198.19.0.0/33, tunnel: t1}\n"),
        31,
        "l3.routes[3].prefix",
        "allowed 0..=32",
    );
    one(
        &l3_base("    - {prefix: 198.19.0.0/16, tunnel: t3}\n"),
        31,
        "l3.routes[3].tunnel",
        "no tunnel named `t3`",
    );
    one(
        &l3_base("").replace("vlan: 10", "vlan: 0"),
        25,
        "l3.access.vlan",
        "already an L2 segment",
    );
    // a route's tunnel may not use an L2 segment's VNI
    let t = l3_base("").replace("    vni: 300\n", "    vni: 100\n");
    one(&t, 28, "l3.routes[0].tunnel", "which is the L2 segment");
}

#[test]
fn decap_entries() {
    let c = ok(&format!("{BASE}decap:\n  - vni: 100\n    allow_from: [198.18.0.2]\n  - vni: 7\n    port: acc\n    vlan: 7\n"));
    assert_eq!(c.decap[0].vni.get(), 7);
    assert_eq!(c.decap[0].vlan, Some(7));
    assert_eq!(
        c.decap[1].allow_from,
        Some(vec!["198.18.0.2".parse().unwrap()])
    );
    one(
        &format!("{BASE}decap:\n  - vni: 100\n    allow_from: []\n"),
        21,
        "decap[0].allow_from",
        "omit allow_from",
    );
    one(
        &format!("{BASE}decap:\n  - vni: 100\n    vlan: 3\n"),
        21,
        "decap[0].vlan",
        "omit vlan or give the same one",
    );
    one(
        &format!("{BASE}decap:\n  - vni: 100\n  - vni: 100\n"),
        21,
        "decap[1].vni",
        "already has a decap entry",
    );
    one(
        &format!("{BASE}decap:\n  - vni: 7\n"),
        20,
        "decap[0].port",
        "access port must be given",
    );
}

const OPTS: &str = "\
options:
  registry:
    - {name: sg, class: 0x0104, type: 1, length: 4}
    - {name: flow, class: 0x0104, type: 2, length: 8}
    - {name: var, class: 0x0104, type: 3}
  policies:
";

#[test]
fn option_policies() {
    let c = ok(&format!(
        "{BASE}{OPTS}    require: [{{option: sg, vni: 100}}, {{option: var}}]\n    security_tags:\n      - {{option: sg, tunnel: t1, allow: [1, \"0x00000002\"], deny: [3], default: allow}}\n    flow_id_copy: [{{option: flow}}]\n"
    ));
    let o = &c.options;
    assert_eq!(o.require[0].scope, Scope::Vni(Vni::new(100).unwrap()));
    assert_eq!(o.require[1].scope, Scope::All);
    assert_eq!(o.security_tags[0].scope, Scope::Tunnel(0));
    assert_eq!(
        o.security_tags[0].allow,
        vec![vec![0, 0, 0, 1], vec![0, 0, 0, 2]]
    );
    assert_eq!(o.security_tags[0].deny, vec![vec![0, 0, 0, 3]]);
    assert_eq!(o.security_tags[0].default, Action::Allow);
    assert_eq!(o.flow_id_copy[0].option, 1);
    assert_eq!(c.option_index("flow"), Some(1));
}

#[test]
fn option_policy_errors() {
    let p = |s: &str| format!("{BASE}{OPTS}{s}");
    one(
        &p("    require: [{option: sgg}]\n"),
        25,
        "options.policies.require[0].option",
        "did you mean `sg`?",
    );
    one(
        &p("    require: [{option: sg, vni: 5}]\n"),
        25,
        "options.policies.require[0].vni",
        "not decapsulated here",
    );
    one(
        &p("    require: [{option: sg, tunnel: t9}]\n"),
        25,
        "options.policies.require[0].tunnel",
        "no tunnel named `t9`",
    );
    one(
        &p("    flow_id_copy: [{option: var}]\n"),
        25,
        "options.policies.flow_id_copy[0].option",
        "no fixed length",
    );
    one(
        &p("    security_tags: [{option: sg, allow: [4294967296]}]\n"),
        25,
        "options.policies.security_tags[0].allow[0]",
        "does not fit",
    );
    one(
        &p("    security_tags: [{option: sg, allow: [1], deny: [1]}]\n"),
        25,
        "options.policies.security_tags[0].deny[0]",
        "also in allow",
    );
    one(
        &p("    security_tags: [{option: sg, allow: [\"0001\"]}]\n"),
        25,
        "options.policies.security_tags[0].allow[0]",
        "is 2 bytes",
    );
    one(
        &p("    security_tags: [{option: sg}]\n"),
        25,
        "options.policies.security_tags[0]",
        "give allow and/or deny",
    );
    one(
        &p("    security_tags: [{option: sg, allow: [1], default: drop}]\n"),
        25,
        "options.policies.security_tags[0].default",
        "allowed: allow, deny",
    );
    let reg = format!("{BASE}options:\n  registry:\n    - {{name: a, class: 1, type: 1, length: 6}}\n    - {{name: a, class: 1, type: 1}}\n");
    let e = errs(&reg);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line(), e.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (21, "options.registry[0].length"),
            (22, "options.registry[1].name"),
            (22, "options.registry[1].type")
        ]
    );
}

#[test]
fn limits() {
    let c = ok(&format!(
        "{BASE}limits: {{max_options: 2, burst_size: 64}}\n"
    ));
    assert_eq!((c.limits.max_options, c.limits.burst_size), (2, 64));
    one(
        &format!("{BASE}limits: {{max_options: 64}}\n"),
        19,
        "limits.max_options",
        "allowed 1..=63",
    );
    let t = with_option("{class: 1, type: 1}\n      - {class: 1, type: 2}");
    one(
        &format!("{t}limits: {{max_options: 1}}\n"),
        14,
        "tunnels[0].options",
        "limits.max_options allows at most 1",
    );
}

#[test]
fn required_sections() {
    let e = errs("limits: {}\n");
    let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter().any(|m| m.contains("ports: missing")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("vtep: missing")), "{msgs:?}");
    let e = errs(&BASE.replace("    role: access", "    role: underlay"));
    assert_eq!((e[0].line(), e[0].path.as_str()), (1, "ports"), "{}", e[0]);
    assert!(e[0].message.contains("no port has role access"), "{}", e[0]);
    let nothing = BASE.split("l2:").next().unwrap().to_string();
    one(&nothing, 1, "", "nothing to forward");
}

#[test]
fn syntax_errors_have_positions() {
    let e = errs("vtep:\n  ipv4: a: b\n");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].line(), e[0].column()), (2, 10), "{}", e[0]);
    assert!(
        e[0].message.contains("mapping values are not allowed"),
        "{}",
        e[0]
    );
    let e = errs("vtep:\n\tipv4: 198.18.0.1\n");
    assert!(e[0].message.contains("not tabs"), "{}", e[0]);
    let e = errs("# only a comment\n");
    assert!(e[0].message.contains("no configuration"));
    let e = errs("- a\n- b\n");
    assert!(e[0].message.contains("mapping of sections"), "{}", e[0]);
}

#[test]
fn offload_mode() {
    assert_eq!(ok(BASE).offload, Offload::Auto);
    assert_eq!(ok(&format!("{BASE}offload: off\n")).offload, Offload::Off);
    assert_eq!(ok(&format!("{BASE}offload: auto\n")).offload, Offload::Auto);
    one(
        &format!("{BASE}offload: of\n"),
        19,
        "offload",
        "did you mean `off`? allowed: auto, off",
    );
    assert_eq!("off".parse::<Offload>(), Ok(Offload::Off));
    assert!("on"
        .parse::<Offload>()
        .unwrap_err()
        .contains("use auto or off"));
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    // 20,000 nested block sequences: 40 kB of text.
    let text = format!("{BASE}x:\n  {}1\n", "- ".repeat(20_000));
    let line = BASE.lines().count() + 2;
    let e = errs(&text);
    assert_eq!(e.len(), 1, "{}", ConfigErrors::new(e.clone()));
    assert_eq!(e[0].line(), line, "{}", e[0]);
    assert!(
        e[0].message.contains("nest more than 64 levels"),
        "{}",
        e[0]
    );
    // The real schema's depth stays well inside the bound.
    ok(BASE);
}

#[test]
fn alias_expansion_is_bounded_by_the_document() {
    // One 256 KiB anchor used 64 times would expand to 16 MiB.
    let big = "a".repeat(256 << 10);
    let mut text = format!("{BASE}x-big: &a \"{big}\"\nx-uses:\n");
    for _ in 0..64 {
        text.push_str("  - *a\n");
    }
    let e = errs(&text);
    assert_eq!(e.len(), 1, "{}", ConfigErrors::new(e.clone()));
    assert!(
        e[0].message.contains("aliases expand to more than"),
        "{}",
        e[0]
    );
    // The first alias past the budget: 2 x the file + 1 MiB allows 9 uses.
    let first_use = BASE.lines().count() + 3;
    assert!(e[0].line() > first_use, "{}", e[0]);
    // Small aliases, as real files use them, stay accepted.
    let mut tunnels = String::from("tunnels:\n");
    for i in 0..500 {
        let ttl = if i == 0 { "&ttl 64" } else { "*ttl" };
        tunnels.push_str(&format!(
            "  - name: t{i}\n    remote: 198.18.0.2\n    vni: {}\n    ttl: {ttl}\n",
            100 + i
        ));
    }
    let text = BASE.replace(
        "tunnels:\n  - name: t1\n    remote: 198.18.0.2\n    vni: 100\n",
        &tunnels,
    );
    let c = ok(&text);
    assert_eq!(c.tunnels[499].ttl, HeaderPolicy::Fixed(64));
}

#[test]
fn oversized_file_is_refused_before_reading() {
    let dir = std::env::temp_dir().join(format!("gw-cfg-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.yaml");
    // A sparse file: takes no disk, but its size is past the bound.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(513 << 20).unwrap();
    drop(f);
    let r = load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = match r {
        Ok(_) => panic!("a 513 MiB file loaded"),
        Err(e) => e.errors().to_vec(),
    };
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line(), 0);
    assert!(e[0].message.contains("at most 512 MiB"), "{}", e[0]);
}

#[test]
fn underlay_mtu_fits_the_family() {
    let v4 = BASE.replace(
        "    device: net_null0\n",
        "    device: net_null0\n    mtu: 68\n",
    );
    one(&v4, 5, "ports[0].mtu", "IPv4 underlay");
    ok(&BASE.replace(
        "    device: net_null0\n",
        "    device: net_null0\n    mtu: 118\n",
    ));
    let v6 = BASE
        .replace("ipv4: 198.18.0.1/24", "ipv6: 2001:db8::1/64")
        .replace("198.18.0.2", "2001:db8::2")
        .replace(
            "    device: net_null0\n",
            "    device: net_null0\n    mtu: 1279\n",
        );
    one(&v6, 5, "ports[0].mtu", "RFC 8200");
    ok(&v6.replace("mtu: 1279", "mtu: 1280"));
}

#[test]
fn loopback_remote_is_named_loopback() {
    let t = BASE.replace("    remote: 198.18.0.2\n", "    remote: 127.0.0.1\n");
    one(
        &t,
        12,
        "tunnels[0].remote",
        "127.0.0.1 is a loopback address",
    );
}

#[test]
fn duplicate_key_names_the_second_key() {
    let t = BASE.replace("    vni: 100\nl2:", "    vni: 100\n    vni: 101\nl2:");
    one(&t, 14, "tunnels[0].vni", "given twice");
}

#[test]
fn first_key_indented_names_the_indentation() {
    let t = format!(" {BASE}");
    let e = errs(&t);
    assert_eq!(e[0].line(), 8, "{}", e[0]);
    assert!(
        e[0].message
            .contains("indented less than the first top-level key `ports`"),
        "{}",
        e[0]
    );
    assert!(!e[0].message.starts_with("more than one"), "{}", e[0]);
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let dir = std::env::temp_dir().join(format!("gw-cfg-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    let mut bytes = BASE.replace("name: t1", "name: t\u{e9}X").into_bytes();
    // Replace the second byte of `é` (0xc3 0xa9) with 0xff: line 11, column 12.
    let i = bytes.iter().position(|&b| b == 0xc3).unwrap();
    bytes[i + 1] = 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let r = load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = match r {
        Ok(_) => panic!("invalid UTF-8 loaded"),
        Err(e) => e.errors().to_vec(),
    };
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].line(), e[0].column()), (11, 12), "{}", e[0]);
    assert!(e[0].message.contains("not UTF-8"), "{}", e[0]);
}

#[test]
fn unknown_eal_arg_is_named() {
    let t = format!("{BASE}eal:\n  args: [--no-shconf, -l, \"0-1\", --bogus-flag]\n");
    let line = BASE.lines().count() + 2;
    one(
        &t,
        line,
        "eal.args[3]",
        "`--bogus-flag` is not a DPDK EAL option",
    );
    let t = format!("{BASE}eal:\n  args: [--no-shconf, \"--log-level=lib.eal:debug\", -n4]\n");
    ok(&t);
}

#[test]
fn underlay_vlan() {
    assert_eq!(ok(BASE).vtep.vlan, None);
    let t = BASE.replace(
        "  ipv4: 198.18.0.1/24\n",
        "  ipv4: 198.18.0.1/24\n  vlan: 7\n",
    );
    assert_eq!(ok(&t).vtep.vlan, Some(7));
    one(&t.replace("vlan: 7", "vlan: 4095"), 10, "vtep.vlan", "4095");
}

#[test]
fn registry_holds_at_most_what_decap_can_track() {
    let entries = |n: usize| {
        (0..n)
            .map(|i| format!("    - {{ name: o{i}, class: 0x0102, type: {i}, length: 4 }}\n"))
            .collect::<String>()
    };
    ok(&format!(
        "{BASE}options:\n  registry:\n{}",
        entries(REGISTRY_MAX)
    ));
    // The first entry over the bound is named, on its own line.
    let over = format!("{BASE}options:\n  registry:\n{}", entries(REGISTRY_MAX + 8));
    one(
        &over,
        21 + REGISTRY_MAX,
        &format!("options.registry[{REGISTRY_MAX}]"),
        "at most 32",
    );
}

#[test]
fn ports_are_at_most_what_the_workers_count() {
    let extra: String = (0..PORTS_MAX - 1)
        .map(|i| {
            format!(
                "  - {{ name: a{i}, role: access, device: net_null{} }}\n",
                i + 2
            )
        })
        .collect();
    let with = |extra: &str| BASE.replace("vtep:\n", &format!("{extra}vtep:\n"));
    ok(&with(&extra[..extra.rfind("  - ").unwrap()]));
    one(
        &with(&extra),
        8 + PORTS_MAX - 2,
        &format!("ports[{PORTS_MAX}]"),
        "at most 32",
    );
}

#[test]
fn api_listen_tcp_is_off_unless_given_and_checked() {
    assert_eq!(ok(BASE).api.listen_tcp, None);
    let c = ok(&format!("{BASE}api:\n  listen_tcp: 127.0.0.1:50051\n"));
    assert_eq!(c.api.listen_tcp, Some("127.0.0.1:50051".parse().unwrap()));
    one(
        &format!("{BASE}api:\n  listen_tcp: localhost\n"),
        20,
        "api.listen_tcp",
        "is not an address:port",
    );
}

/// `limits.route_groups` bounds the IPv4 route table's second level: one
/// group per /24 block that holds a route longer than /24 (shorter routes
/// and IPv6 take none; two long routes in one block take one). One block
/// over the limit is refused at the route that needs it.
#[test]
fn route_groups_limit_counts_blocks_of_long_routes() {
    // L3 takes two groups' worth of blocks: 198.19.1.0/24 (twice) and
    // 198.19.2.0/24; the /24, the /17 and the IPv6 /128 take none.
    let routes = "    - {prefix: 198.19.1.0/25, tunnel: t2}\n    - {prefix: 198.19.1.200/32, tunnel: t2}\n    - {prefix: 198.19.3.0/24, tunnel: t2}\n    - {prefix: 2001:db8:100::1/128, tunnel: t2}\n    - {prefix: 198.19.2.7/32, tunnel: t2}\n";
    let c = ok(&format!("{}limits: {{route_groups: 2}}\n", l3_base(routes)));
    assert_eq!(c.limits.route_groups, 2);
    assert_eq!(ok(&l3_base(routes)).limits.route_groups, 65536);
    let over = format!("{}limits: {{route_groups: 1}}\n", l3_base(routes));
    let line = over
        .lines()
        .position(|l| l.contains("198.19.2.7/32"))
        .unwrap()
        + 1;
    one(
        &over,
        line,
        "l3.routes[7].prefix",
        "198.19.2.7/32 needs a 256-entry group of the IPv4 route table for 198.19.2.0/24, one more than limits.route_groups allows (1",
    );
    // Zero: no route longer than /24 at all.
    one(
        &format!("{}limits: {{route_groups: 0}}\n", l3_base(routes)),
        line - 4,
        "l3.routes[3].prefix",
        "198.19.1.0/25 needs a 256-entry group",
    );
}
