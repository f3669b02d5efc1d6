//! Loading at scale: the fast tier against the general one, the indexes
//! against scans, and validation at 100,000 entries. Speed itself is
//! measured (BENCHMARKS.md, "Scale"), never timed here.

use std::fmt::Write as _;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

const HEAD: &str = "\
ports:
  - { name: ul, role: underlay, device: net_null0 }
  - { name: acc, role: access, device: net_null1 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: \"02:00:00:00:00:02\", destinations: [198.18.0.0/15] }
";

fn remote(i: usize) -> String {
    format!("198.18.{}.{}", 1 + i / 250, 1 + i % 250)
}

/// Both tiers, and whether the fast one took the text.
fn both(
    text: &str,
) -> (
    Result<Config, ConfigErrors>,
    Result<Config, ConfigErrors>,
    bool,
) {
    let took = fast::Split::new(text).is_some_and(|s| load_split(text, "t.yaml", s).is_some());
    (load_str(text, "t.yaml"), load_whole(text, "t.yaml"), took)
}

#[test]
fn both_tiers_agree_on_every_example_and_bad_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut taken = 0;
    let mut files = 0;
    for dir in ["config", "tests/data/config"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (fast, whole, took) = both(&text);
            assert_eq!(fast, whole, "{}", path.display());
            taken += usize::from(took);
            files += 1;
        }
    }
    assert!(files > 20, "only {files} files found");
    assert!(taken >= 1, "the fast tier took none of {files} files");
}

/// One list entry, in one of several styles: the fast tier takes the
/// one-line flow ones and declines the rest.
fn entry(style: u8, indent: &str, fields: &[(&str, String)]) -> String {
    let flow = fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    match style {
        // block style
        0 => {
            let mut s = String::new();
            for (i, (k, v)) in fields.iter().enumerate() {
                let lead = if i == 0 { "- " } else { "  " };
                let _ = writeln!(s, "{indent}{lead}{k}: {v}");
            }
            s
        }
        // a comment before, a comment after
        1 => format!("{indent}# entry\n{indent}- {{ {flow} }}  # note\n"),
        // tight
        2 => format!("{indent}-  {{{flow}}}\n"),
        // the plain one-line flow entry
        _ => format!("{indent}- {{ {flow} }}\n"),
    }
}

/// Values with mistakes and spellings the fast tier must decline or get
/// exactly right.
fn vni_text(v: u32, twist: u8) -> String {
    match twist {
        0 => format!("{:#x}", v),
        1 => "99999999".to_string(),
        2 => format!("\"{v}\""),
        3 => "-4".to_string(),
        _ => v.to_string(),
    }
}

#[derive(Debug, Clone)]
struct Gen {
    mode: u8,
    /// (style, name pick, remote pick, vni, twist)
    tunnels: Vec<(u8, u8, u8, u16, u8)>,
    /// (style, prefix pick, tunnel pick, twist)
    items: Vec<(u8, u16, u8, u8)>,
}

fn gen() -> impl Strategy<Value = Gen> {
    (
        0u8..3,
        prop::collection::vec((0u8..8, 0u8..40, 0u8..30, 0u16..8, 0u8..24), 1..30),
        prop::collection::vec((0u8..8, 0u16..60, 0u8..45, 0u8..24), 0..60),
    )
        .prop_map(|(mode, tunnels, items)| Gen {
            mode,
            tunnels,
            items,
        })
}

fn render(g: &Gen) -> String {
    let mut s = String::from(HEAD);
    s.push_str("tunnels:\n");
    for &(style, name, r, vni, twist) in &g.tunnels {
        let fields = [
            ("name", format!("t{name}")),
            ("remote", remote(usize::from(r))),
            ("vni", vni_text(100 + u32::from(vni), twist)),
        ];
        s.push_str(&entry(style, "  ", &fields));
    }
    match g.mode {
        0 => {
            s.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.254/24 }\n  routes:\n");
            for &(style, p, t, twist) in &g.items {
                let prefix = match twist {
                    0 => format!("10.{p}.0.1/24"),
                    1 => format!("\"2001:db8:{p:x}::/48\""),
                    2 => format!("10.{p}.0.0/33"),
                    _ => format!("10.{p}.0.0/24"),
                };
                let fields = [("prefix", prefix), ("tunnel", format!("t{t}"))];
                s.push_str(&entry(style, "    ", &fields));
            }
        }
        1 => {
            s.push_str("l2:\n  segments:\n");
            for seg in 0..2usize {
                let _ = write!(
                    s,
                    "    - port: acc\n      vlan: {}\n      vni: {}\n      static_macs:\n",
                    seg + 1,
                    900 + seg
                );
                for &(style, p, r, twist) in g.items.iter().filter(|i| usize::from(i.1) % 2 == seg)
                {
                    let mac = match twist {
                        0 => "\"01:00:5e:00:00:01\"".to_string(),
                        1 => format!("02:00:00:00:00:{p:02x}"),
                        _ => format!("\"02:00:00:00:00:{p:02x}\""),
                    };
                    let fields = [("mac", mac), ("remote", remote(usize::from(r)))];
                    s.push_str(&entry(style, "        ", &fields));
                }
            }
        }
        _ => {
            s.push_str("decap:\n");
            for &(style, p, r, twist) in &g.items {
                let mut fields = vec![("vni", vni_text(2000 + u32::from(p), twist / 4))];
                if twist % 2 == 0 {
                    fields.push(("port", "acc".to_string()));
                }
                if twist % 3 == 0 {
                    fields.push((
                        "vlan",
                        ["none", "7", "5000", "true"][usize::from(r) % 4].into(),
                    ));
                }
                if twist % 5 != 0 {
                    let a = remote(usize::from(r));
                    let list = match twist % 7 {
                        0 => "[]".to_string(),
                        1 => format!("[{a}, not-an-address]"),
                        2 => format!("[\"{a}\", {a}]"),
                        _ => format!("[{a}]"),
                    };
                    fields.push(("allow_from", list));
                }
                s.push_str(&entry(style, "  ", &fields));
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any file the generator writes (valid or not, fast-tier lines mixed
    /// with lines it declines) loads to the same configuration, or the same
    /// errors at the same positions, on both tiers.
    #[test]
    fn random_files_load_the_same_on_both_tiers(g in gen()) {
        let text = render(&g);
        let (fast, whole, _) = both(&text);
        prop_assert_eq!(fast, whole, "{}", text);
    }
}

/// A file of every kind of run line with mistakes in them: the fast tier
/// takes it and reports what the general tier reports, where it does.
#[test]
fn fast_tier_takes_flow_lines_and_places_their_errors() {
    for mode in 0..3 {
        let g = Gen {
            mode,
            tunnels: (0..12)
                .map(|i| (3, i, i, u16::from(i % 3), 4 + i % 2))
                .collect(),
            items: (0..30)
                // (remote picks 3, 7, 11 would make a decap vlan `true`,
                // which serde refuses: then both tiers give that one error)
                .map(|i| {
                    (
                        if i % 10 == 9 { 0 } else { 3 },
                        u16::from(i),
                        i % 13 / 4 * 4,
                        i % 8,
                    )
                })
                .collect(),
        };
        // Unix and DOS line ends.
        for text in [render(&g), render(&g).replace('\n', "\r\n")] {
            let (fast, whole, took) = both(&text);
            assert!(took, "mode {mode}: the fast tier declined:\n{text}");
            let errors = whole.as_ref().err().map_or(0, ConfigErrors::len);
            assert!(errors >= 3, "mode {mode}: only {errors} errors:\n{text}");
            assert_eq!(fast, whole, "mode {mode}:\n{text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Characters that mean something to YAML, put anywhere in a file the
    /// fast tier takes: whatever it then takes or declines, both tiers
    /// still agree (errors and positions included).
    #[test]
    fn mutated_files_load_the_same_on_both_tiers(
        g in gen(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..24, any::<bool>()), 1..4),
    ) {
        let mut text = render(&g).into_bytes();
        const CHARS: &[u8] = b" :#\"'{},-[]x0\t&*!|>%@?~\n";
        for (at, c, insert) in &edits {
            let i = at.index(text.len());
            let ch = CHARS[c % CHARS.len()];
            if *insert {
                text.insert(i, ch);
            } else {
                text[i] = ch;
            }
        }
        let Ok(text) = String::from_utf8(text) else { return Ok(()) };
        let (fast, whole, _) = both(&text);
        prop_assert_eq!(fast, whole, "{}", text);
    }
}

/// A wrong type or an unknown field among the runs: serde's errors on the
/// skeleton are the file's, placed at the same line and column, with the
/// list index of the whole file, and the fast tier reports them itself
/// (a million-entry file with one typo is not read whole).
#[test]
fn schema_errors_among_runs_are_reported_by_the_fast_tier() {
    let mut s = String::from(HEAD);
    s.push_str("tunnels:\n");
    for i in 0..50 {
        let vni = if i == 30 {
            "x1".to_string()
        } else {
            (100 + i).to_string()
        };
        let _ = writeln!(s, "  - {{ name: t{i}, remote: {}, vni: {vni} }}", remote(i));
    }
    s.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.254/24 }\n  routes:\n");
    for i in 0..50 {
        let extra = if i == 44 { ", colour: red" } else { "" };
        let _ = writeln!(s, "    - {{ prefix: 10.{i}.0.0/16, tunnel: t{i}{extra} }}");
    }
    let (fast, whole, took) = both(&s);
    assert!(took, "the fast tier declined");
    assert_eq!(fast, whole);
    let e = fast.unwrap_err();
    let got: Vec<(&str, usize)> = e.iter().map(|e| (e.path.as_str(), e.line())).collect();
    let head = HEAD.lines().count();
    assert_eq!(
        got,
        [
            ("tunnels[30].vni", head + 2 + 30),
            ("l3.routes[44].colour", head + 1 + 50 + 3 + 1 + 44)
        ]
    );
    // A syntax error declines: the whole file is read.
    let broken = s.replace("vni: x1", "vni: [x1");
    let (fast, whole, took) = both(&broken);
    assert!(!took);
    assert_eq!(fast, whole);
}

/// A list the fast tier takes lines from, repeated elsewhere by an alias:
/// the alias must repeat the whole list, so the fast tier declines.
#[test]
fn an_alias_of_a_run_list_declines_the_fast_tier() {
    let text = format!(
        "{HEAD}l2:\n  segments:\n    - port: acc\n      vni: 900\n      static_macs: &m\n{}{}    - port: acc\n      vlan: 2\n      vni: 901\n      static_macs: *m\n",
        "        - { mac: \"02:00:00:00:00:01\", remote: 198.18.1.1 }\n",
        "        - { mac: \"02:00:00:00:00:02\", remote: 198.18.1.2 }\n",
    );
    let (fast, whole, took) = both(&text);
    assert!(!took);
    assert_eq!(fast, whole);
    let c = fast.unwrap();
    let segs = &c.l2.unwrap().segments;
    assert_eq!(
        (segs[0].static_macs.len(), segs[1].static_macs.len()),
        (2, 2)
    );
}

/// Each (remote, VNI) pair and each name, with the first tunnel that has it.
fn scan_for(tunnels: &[Tunnel], r: IpAddr, v: Vni) -> Option<&Tunnel> {
    tunnels.iter().find(|t| t.remote == r && t.vni == v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The indexed look-ups give what a scan in file order gives, duplicates
    /// and misses included.
    #[test]
    fn indexed_lookups_match_a_scan(
        picks in prop::collection::vec((0u8..20, 0u8..12, 0u32..6), 0..200),
        probes in prop::collection::vec((0u8..24, 0u32..8), 0..50),
    ) {
        let mut c = load_str(BASE_L2, "t.yaml").unwrap();
        let vtep = c.vtep.clone();
        c.tunnels = picks
            .iter()
            .map(|&(name, r, v)| {
                let mut t = Tunnel::defaults(&vtep, remote(usize::from(r)).parse().unwrap(), Vni::new(v).unwrap());
                t.name = format!("t{name}");
                t
            })
            .collect();
        c.index = TunnelIndex::new(&c.tunnels);
        for &(r, v) in &probes {
            let (r, v): (IpAddr, Vni) = (remote(usize::from(r)).parse().unwrap(), Vni::new(v).unwrap());
            prop_assert_eq!(
                c.tunnel_for(r, v).map(|t| t as *const Tunnel),
                scan_for(&c.tunnels, r, v).map(|t| t as *const Tunnel)
            );
        }
        for name in 0..24 {
            let n = format!("t{name}");
            prop_assert_eq!(c.tunnel_index(&n), c.tunnels.iter().position(|t| t.name == n));
        }
    }

    /// Duplicate names, (remote, VNI) pairs and prefixes are reported at
    /// exactly the entries an all-pairs comparison finds.
    #[test]
    fn duplicates_are_the_ones_a_pairwise_scan_finds(
        tunnels in prop::collection::vec((0u8..15, 0u8..6, 0u16..4), 1..40),
        routes in prop::collection::vec((0u8..20, 0u8..40), 0..40),
    ) {
        let mut s = String::from(HEAD);
        s.push_str("tunnels:\n");
        for (name, r, v) in &tunnels {
            let _ = writeln!(s, "  - {{ name: t{name}, remote: {}, vni: {} }}", remote(usize::from(*r)), 100 + v);
        }
        s.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.254/24 }\n  routes:\n");
        for (p, t) in &routes {
            let t = usize::from(*t) % tunnels.len();
            let _ = writeln!(s, "    - {{ prefix: 10.{p}.0.0/16, tunnel: t{} }}", tunnels[t].0);
        }
        let mut want: Vec<String> = Vec::new();
        for i in 0..tunnels.len() {
            if (0..i).any(|j| tunnels[j].0 == tunnels[i].0) {
                want.push(format!("tunnels[{i}].name"));
            }
            if (0..i).any(|j| (tunnels[j].1, tunnels[j].2) == (tunnels[i].1, tunnels[i].2)) {
                want.push(format!("tunnels[{i}].vni"));
            }
        }
        for i in 0..routes.len() {
            if (0..i).any(|j| routes[j].0 == routes[i].0) {
                want.push(format!("l3.routes[{i}].prefix"));
            }
        }
        let mut got: Vec<String> = match load_str(&s, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| e.path.clone()).collect(),
        };
        got.sort();
        want.sort();
        prop_assert_eq!(got, want, "{}", s);
    }
}

const BASE_L2: &str = "\
ports:
  - { name: ul, role: underlay, device: net_null0 }
  - { name: acc, role: access, device: net_null1 }
vtep:
  ipv4: 198.18.0.1/24
l2:
  segments:
    - { port: acc, vni: 100 }
";

/// 100,000 tunnels and 100,000 routes: valid, and each route resolves to
/// the tunnel the file names, each tunnel to its own (remote, VNI).
#[test]
fn validation_at_100k_entries_agrees_with_the_file() {
    const N: usize = 100_000;
    let mut s = String::from(HEAD);
    s.push_str("tunnels:\n");
    // 400 remotes x 250 VNIs: every pair distinct.
    for i in 0..N {
        let _ = writeln!(
            s,
            "  - {{ name: t{i}, remote: {}, vni: {} }}",
            remote(i % 400),
            1000 + i / 400
        );
    }
    s.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.254/24 }\n  routes:\n");
    let route_tunnel = |i: usize| (i * 7919) % N;
    let addr = |i: usize| [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    for i in 0..N {
        let [a, b, c, d] = addr(i);
        let _ = writeln!(
            s,
            "    - {{ prefix: {a}.{b}.{c}.{d}/32, tunnel: t{} }}",
            route_tunnel(i)
        );
    }
    let c = match load_str(&s, "big.yaml") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.tunnels.len(), N);
    for (i, t) in c.tunnels.iter().enumerate() {
        let r: IpAddr = remote(i % 400).parse().unwrap();
        let v = Vni::new(u32::try_from(1000 + i / 400).unwrap()).unwrap();
        assert_eq!(
            (t.name.as_str(), t.remote, t.vni),
            (format!("t{i}").as_str(), r, v)
        );
        assert!(std::ptr::eq(c.tunnel_for(r, v).unwrap(), t), "tunnels[{i}]");
    }
    let l3 = c.l3.as_ref().unwrap();
    assert_eq!(l3.routes.len(), N);
    for i in (0..N).step_by(97) {
        let dst = IpAddr::from(addr(i));
        let r = l3.lookup(dst).unwrap();
        assert_eq!(r.prefix, IpPrefix::containing(dst, 32));
        assert_eq!(r.tunnel, route_tunnel(i), "l3.routes[{i}]");
    }
}

/// 100,000 bad entries: every one reported, each at its own line, and the
/// text an operator sees holds the first ones and the count.
#[test]
fn a_hundred_thousand_errors_are_each_placed_and_counted() {
    const N: usize = 100_000;
    let mut s = String::from(HEAD);
    s.push_str("tunnels:\n  - { name: t0, remote: 198.18.1.1, vni: 100 }\n");
    s.push_str("l3:\n  access: { port: acc, ipv4: 198.19.0.254/24 }\n  routes:\n");
    let first_line = s.lines().count() + 1;
    for i in 0..N {
        let _ = writeln!(
            s,
            "    - {{ prefix: 10.{}.{}.{}/32, tunnel: missing{i} }}",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        );
    }
    let e = load_str(&s, "bad.yaml").unwrap_err();
    assert_eq!(e.len(), N);
    let lines: Vec<&str> = s.lines().collect();
    for (i, err) in e.iter().enumerate() {
        assert_eq!(err.path, format!("l3.routes[{i}].tunnel"));
        // `    - { prefix: ..., tunnel: ` : the value's column.
        let line = lines[first_line + i - 1];
        let col = line.find("missing").unwrap() + 1;
        assert_eq!((err.line(), err.column()), (first_line + i, col), "{err}");
        assert!(err.message.contains("no tunnel named"), "{err}");
    }
    let text = e.to_string();
    assert_eq!(text.lines().count(), SHOWN_ERRORS + 1);
    assert!(text.ends_with(&format!(
        "... and {} more errors ({N} in all)",
        N - SHOWN_ERRORS
    )));
}
