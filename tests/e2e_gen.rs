//! `geneve-gw gen` as a subprocess: a net_ring loopback (what it sends comes
//! straight back) and a round trip through `geneve-gw run` over memif.
mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::gw::{self, dpdk_slot, eal_base, run_gw, strings, Run};
use common::{scratch, signal};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The `gen-result key=value ...` line as a map.
fn result(r: &Run) -> HashMap<String, f64> {
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("gen-result "))
        .unwrap_or_else(|| panic!("no gen-result line:\n{}\n{}", r.stdout, r.stderr));
    line.split_whitespace()
        .skip(1)
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// EAL arguments for a one-lcore generator process.
fn gen_eal(prefix: &str) -> Vec<String> {
    let mut a = eal_base(prefix);
    // eal_base gives `-l 0-1`; the generator needs one lcore.
    a[1] = "0".into();
    a
}

fn gen(args: &[&str], eal: Vec<String>) -> Run {
    let mut a = strings(&["gen", "--stats-interval", "0"]);
    a.extend(strings(args));
    a.push("--".into());
    a.extend(eal);
    run_gw(&a, TIMEOUT)
}

fn assert_all_back(r: &Run, n: f64) {
    assert!(r.ok(), "gen failed:\n{}\n{}", r.stdout, r.stderr);
    let v = result(r);
    assert_eq!(v["sent"], n, "{}", r.stdout);
    assert_eq!(v["received"], n, "{}", r.stdout);
    assert_eq!(v["lost"], 0.0, "{}", r.stdout);
    assert_eq!(v["reordered"], 0.0, "{}", r.stdout);
    assert_eq!(v["duplicates"], 0.0, "{}", r.stdout);
    assert_eq!(v["junk"], 0.0, "{}", r.stdout);
    // Every packet back is one latency sample, and the histogram has values.
    assert_eq!(v["samples"], n, "{}", r.stdout);
    assert!(
        v["p50_us"] > 0.0 && v["max_us"] >= v["p99_us"],
        "{}",
        r.stdout
    );
    r.assert_no_leak();
}

#[test]
fn inner_imix_over_a_ring_loopback_all_come_back() {
    let _slot = dpdk_slot();
    let mut eal = gen_eal("gen-ring");
    eal.extend(strings(&["--vdev", "net_ring0"]));
    let r = gen(
        &[
            "--flows",
            "64",
            "--imix",
            "64,576,1500",
            "--imix-weights",
            "7:4:1",
            "--count",
            "30000",
            "--rate",
            "300k",
        ],
        eal,
    );
    assert_all_back(&r, 30000.0);
    assert!(r.stdout.contains("latency (round trip, us): p50 "));
}

#[test]
fn geneve_mode_over_a_ring_loopback_finds_the_stamp_inside_the_tunnel() {
    let _slot = dpdk_slot();
    let mut eal = gen_eal("gen-ring-geneve");
    eal.extend(strings(&["--vdev", "net_ring0"]));
    let r = gen(
        &["--mode", "geneve", "--flows", "8", "--count", "20000"],
        eal,
    );
    assert_all_back(&r, 20000.0);
}

#[test]
fn bad_options_are_one_clean_error() {
    // All of these fail before the EAL starts (no DPDK state is touched).
    for (args, needle) in [
        (vec!["--flows", "0"], "--flows"),
        (vec!["--size", "20"], "--size"),
        (vec!["--imix", "64,9000"], "9000"),
        (vec!["--rate", "fast"], "--rate"),
        (vec!["--mode", "geneve", "--vni", "16777216"], "--vni"),
    ] {
        let mut a = strings(&["gen"]);
        a.extend(strings(&args));
        a.extend(strings(&[
            "--",
            "-l",
            "0",
            "--no-pci",
            "--no-huge",
            "--no-shconf",
        ]));
        let r = run_gw(&a, TIMEOUT);
        r.assert_clean_error(needle);
    }
}

/// gen (memif clients) -> geneve-gw run (memif servers, L2 encap and decap)
/// -> gen: inner frames come back encapsulated, Geneve frames come back
/// decapsulated, all of them.
#[test]
fn round_trip_through_the_gateway_over_memif() {
    let _slot = dpdk_slot();
    let dir = scratch("gen-memif");
    let sock = |n: &str| dir.join(format!("{n}.sock")).display().to_string();
    let memif = |i: u32, n: &str, role: &str| {
        format!(
            "net_memif{i},role={role},socket={},socket-abstract=no",
            sock(n)
        )
    };
    let gw_eal = eal_base("gen-gw");
    let mem = if gw_eal.iter().any(|a| a == "--no-huge") {
        "{ mode: no_huge, size_mb: 512 }"
    } else {
        "{ mode: hugepages, size_mb: 256 }"
    };
    let extra: Vec<String> = gw_eal
        .iter()
        .filter(|a| *a == "--in-memory" || *a == "--no-shconf")
        .cloned()
        .collect();
    let cfg = format!(
        r#"eal:
  cores: [1]
  control_core: 0
  memory: {mem}
  devices: {{ vdev: [ "{ul}", "{acc}" ] }}
  file_prefix: gwtest-{pid}-gen-gw
  args: [--no-pci{extra}]
ports:
  - {{ name: ul, role: underlay, device: net_memif0, mtu: 1500, mac: "02:00:00:00:01:01" }}
  - {{ name: acc, role: access, device: net_memif1, mtu: 1400 }}
vtep:
  ipv4: 198.18.0.1/24
  next_hops: [ {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }} ]
tunnels:
  - {{ name: t, remote: 198.18.0.2, vni: 100 }}
l2:
  learning: false
  segments:
    - {{ port: acc, vni: 100, flood: [], static_macs: [ {{ mac: "02:00:00:00:0b:01", remote: 198.18.0.2 }} ] }}
"#,
        ul = memif(0, "ul", "server"),
        acc = memif(1, "acc", "server"),
        pid = std::process::id(),
        extra = extra.iter().map(|a| format!(", {a}")).collect::<String>(),
    );
    let cfg_path = dir.join("gw.yaml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let gw = Command::new(gw::bin())
        .args(["run", "-c", &cfg_path.display().to_string()])
        .args(["--stats-interval", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn geneve-gw run");
    // The servers' sockets appear once the gateway's ports are up.
    let t0 = std::time::Instant::now();
    while !(dir.join("ul.sock").exists() && dir.join("acc.sock").exists())
        && t0.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let client_eal = |prefix: &str| {
        let mut e = gen_eal(prefix);
        e.extend(strings(&[
            "--vdev",
            &memif(0, "ul", "client"),
            "--vdev",
            &memif(1, "acc", "client"),
        ]));
        e
    };
    let encap = gen(
        &[
            "--tx-port",
            "net_memif1",
            "--rx-port",
            "net_memif0",
            "--flows",
            "32",
            "--count",
            "20000",
            "--rate",
            "200k",
            "--drain-ms",
            "1000",
        ],
        client_eal("gen-enc"),
    );
    let decap = gen(
        &[
            "--mode",
            "geneve",
            "--tx-port",
            "net_memif0",
            "--rx-port",
            "net_memif1",
            "--flows",
            "32",
            "--count",
            "20000",
            "--rate",
            "200k",
            "--drain-ms",
            "1000",
        ],
        client_eal("gen-dec"),
    );
    signal(gw.id(), "INT");
    let out = gw.wait_with_output().expect("wait for geneve-gw run");
    let gw_out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "geneve-gw run failed ({:?}):\n{gw_out}\n{}\ngen encap:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        encap.stdout,
        encap.stderr
    );
    // Every packet is accounted for: the gateway handled all that gen sent
    // (encap, then decap), and what did not come back is exactly what the
    // gateway counted as dropped (a TX ring toward gen full while this
    // shared machine descheduled gen). On a quiet machine that is none.
    let count = |key: &str| -> f64 {
        gw_out
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key:?} in:\n{gw_out}"))
    };
    let (e, d) = (result(&encap), result(&decap));
    for (r, v) in [(&encap, &e), (&decap, &d)] {
        assert!(r.ok(), "gen failed:\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(v["sent"], 20000.0, "{}", r.stdout);
        assert_eq!(
            v["junk"] + v["reordered"] + v["duplicates"],
            0.0,
            "{}",
            r.stdout
        );
        assert!(
            v["received"] > 0.0 && v["samples"] == v["received"],
            "{}",
            r.stdout
        );
        assert!(v["p50_us"] > 0.0, "{}", r.stdout);
        r.assert_no_leak();
    }
    assert_eq!(count("encap "), 20000.0, "{gw_out}");
    assert_eq!(count("decap "), 20000.0, "{gw_out}");
    assert_eq!(e["lost"] + d["lost"], count("drops total "), "{gw_out}");
    let _ = std::fs::remove_dir_all(&dir);
}
