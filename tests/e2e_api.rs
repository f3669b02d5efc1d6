//! The control API end to end: `geneve-gw run` on DPDK virtual devices,
//! driven by `geneve-gw ctl` (every table: add, get, list with paging,
//! delete, refusals), by the Rust client (the safety limits), and from
//! Python with stubs grpcio-tools generates from the .proto.
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::api::{drop_count, poll_until, Gw};
use common::gw::{self, Ports};
use common::skip;

/// The tables the round-trip test starts from: a segment on VLAN 10 of
/// the access port, L3 access untagged on it, one tunnel and one route.
const TABLES: &str = r#"
vtep:
  port: ul
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe", destinations: [198.18.0.0/15] }
tunnels:
  - { name: t0, remote: 198.18.1.2, vni: 5000 }
l2:
  learning: false
  segments:
    - { name: seg, port: acc, vlan: 10, vni: 100, flood: [198.18.1.3] }
l3:
  access: { port: acc }
  routes:
    - { prefix: 198.19.0.0/16, tunnel: t0 }
"#;

fn null_ports(prefix: &str) -> Ports<'_> {
    Ports::new("net_null0,no-rx=1", "net_null1,no-rx=1", prefix)
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn ctl_round_trips_every_table() {
    let dir = common::scratch("api-roundtrip");
    let prefix = format!("gwtest-{}-api-rt", std::process::id());
    let g = Gw::start(&dir, "roundtrip", null_ports(&prefix), TABLES);

    // No TCP listener unless configured.
    assert!(
        !g.err.text.contains(" and tcp "),
        "TCP without api.listen_tcp:\n{}",
        g.err.text
    );
    // The socket: only its owner may talk to the gateway.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(g.socket()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    }

    // Tunnels: add two, get one with the file's defaults, list them in
    // pages of one, delete one.
    let out = g.ok(&[
        "tunnel",
        "add",
        "--name",
        "t1",
        "--remote",
        "198.18.1.5",
        "--vni",
        "1000",
    ]);
    assert!(out.contains("tunnels +1 -0 ~0"), "{out}");
    g.ok(&[
        "tunnel",
        "add",
        "--name",
        "t2",
        "--remote",
        "198.18.1.6",
        "--vni",
        "1001",
        "--ttl",
        "9",
        "--dscp",
        "inherit",
        "--source-ports",
        "5000-5010",
    ]);
    let t2: serde_json::Value =
        serde_json::from_str(&g.ok(&["--json", "tunnel", "get", "t2"])).unwrap();
    assert_eq!(t2["remote"], "198.18.1.6");
    assert_eq!(t2["vni"], 1001);
    assert_eq!(t2["ttl"], "9");
    assert_eq!(t2["dscp"], "inherit");
    assert_eq!(t2["udp_port"], 6081, "vtep.udp_port's default");
    assert_eq!(t2["udp_checksum"], "zero", "IPv4: zero by default");
    assert_eq!(
        (t2["source_port_min"].clone(), t2["source_port_max"].clone()),
        (5000.into(), 5010.into())
    );
    let listed = g.ok(&["tunnel", "list", "--page-size", "1"]);
    let names: Vec<&str> = lines(&listed)
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["t0", "t1", "t2"], "{listed}");
    let (c, page, err) = g.ctl(&["tunnel", "list", "--page-size", "2", "--page-token", ""]);
    assert_eq!(c, 0);
    assert_eq!(lines(&page).len(), 2, "{page}");
    let token = err
        .trim()
        .strip_prefix("next page token: ")
        .expect(&err)
        .to_string();
    let rest = g.ok(&["tunnel", "list", "--page-size", "2", "--page-token", &token]);
    assert!(lines(&rest).len() == 1 && rest.starts_with("t2 "), "{rest}");
    // An invalid field: the file's words, the field's path.
    let e = g.refused(&[
        "tunnel",
        "add",
        "--name",
        "t3",
        "--remote",
        "198.18.0.1",
        "--vni",
        "7",
    ]);
    assert!(
        e.contains("change.add_tunnel.remote: 198.18.0.1 is the local VTEP address"),
        "{e}"
    );
    let e = g.refused(&[
        "tunnel",
        "add",
        "--name",
        "t3",
        "--remote",
        "198.18.1.9",
        "--vni",
        "16777216",
    ]);
    assert!(
        e.contains("change.add_tunnel.vni: 16777216 is out of range"),
        "{e}"
    );
    let e = g.refused(&[
        "tunnel",
        "add",
        "--name",
        "t3",
        "--remote",
        "198.18.1.5",
        "--vni",
        "1000",
    ]);
    assert!(e.contains("tunnel `t1` already goes to 198.18.1.5"), "{e}");

    // Routes: IPv4 add, get, list filtered by prefix and by tunnel, a
    // dangling reference, a bad prefix, delete.
    g.ok(&[
        "route",
        "add",
        "--prefix",
        "198.20.0.0/16",
        "--tunnel",
        "t1",
    ]);
    g.ok(&[
        "route",
        "add",
        "--prefix",
        "198.20.1.0/24",
        "--tunnel",
        "t2",
    ]);
    g.ok(&[
        "route",
        "add",
        "--prefix",
        "198.21.0.0/16",
        "--tunnel",
        "t2",
    ]);
    assert_eq!(
        g.ok(&["route", "get", "--prefix", "198.20.1.0/24"]).trim(),
        "198.20.1.0/24 via t2"
    );
    let inside = g.ok(&[
        "route",
        "list",
        "--prefix",
        "198.20.0.0/16",
        "--page-size",
        "1",
    ]);
    let mut got = lines(&inside);
    got.sort();
    assert_eq!(
        got,
        ["198.20.0.0/16 via t1", "198.20.1.0/24 via t2"],
        "{inside}"
    );
    let to_t2 = g.ok(&["route", "list", "--tunnel", "t2"]);
    assert_eq!(lines(&to_t2).len(), 2, "{to_t2}");
    let e = g.refused(&[
        "route",
        "add",
        "--prefix",
        "198.22.0.0/16",
        "--tunnel",
        "nope",
    ]);
    assert!(
        e.contains("FailedPrecondition") && e.contains("no tunnel named `nope`"),
        "{e}"
    );
    let e = g.refused(&[
        "route",
        "add",
        "--prefix",
        "198.22.0.1/16",
        "--tunnel",
        "t1",
    ]);
    assert!(
        e.contains("change.add_route.prefix") && e.contains("host bits"),
        "{e}"
    );
    // A tunnel a route uses stays.
    let e = g.refused(&["tunnel", "del", "t1"]);
    assert!(
        e.contains("tunnel `t1` is used by 1 route(s), e.g. 198.20.0.0/16"),
        "{e}"
    );
    // An L3 VNI decapsulates to l3.access from its first route on.
    let d: serde_json::Value =
        serde_json::from_str(&g.ok(&["--json", "decap", "get", "--vni", "1000"])).unwrap();
    assert_eq!(
        (d["port"].clone(), d["payload"].clone()),
        ("acc".into(), "ip".into())
    );
    g.ok(&["route", "del", "--prefix", "198.20.0.0/16"]);
    let e = g.refused(&["route", "get", "--prefix", "198.20.0.0/16"]);
    assert!(e.contains("NotFound"), "{e}");
    g.refused(&["decap", "get", "--vni", "1000"]);
    let out = g.ok(&["tunnel", "del", "t1"]);
    assert!(out.contains("tunnels +0 -1 ~0"), "{out}");
    g.refused(&["tunnel", "get", "t1"]);

    // Static MACs in the segment (by name and by index).
    g.ok(&[
        "mac",
        "add",
        "--segment",
        "seg",
        "--mac",
        "02:00:00:00:aa:01",
        "--remote",
        "198.18.1.7",
    ]);
    g.ok(&[
        "mac",
        "add",
        "--segment",
        "0",
        "--mac",
        "02:00:00:00:aa:02",
        "--remote",
        "198.18.1.8",
    ]);
    assert_eq!(
        g.ok(&[
            "mac",
            "get",
            "--segment",
            "seg",
            "--mac",
            "02:00:00:00:aa:01"
        ])
        .trim(),
        "02:00:00:00:aa:01 segment seg remote 198.18.1.7"
    );
    assert_eq!(lines(&g.ok(&["mac", "list", "--page-size", "1"])).len(), 2);
    let e = g.refused(&[
        "mac",
        "add",
        "--segment",
        "seg",
        "--mac",
        "01:00:5e:00:00:01",
        "--remote",
        "198.18.1.7",
    ]);
    assert!(e.contains("change.add_static_mac.mac"), "{e}");
    let e = g.refused(&[
        "mac",
        "add",
        "--segment",
        "nope",
        "--mac",
        "02:00:00:00:aa:03",
        "--remote",
        "198.18.1.7",
    ]);
    assert!(e.contains("no segment `nope`; segments: seg"), "{e}");
    g.ok(&[
        "mac",
        "del",
        "--segment",
        "seg",
        "--mac",
        "02:00:00:00:aa:02",
    ]);
    assert_eq!(lines(&g.ok(&["mac", "list"])).len(), 1);

    // Segments and their flood lists.
    g.ok(&[
        "segment",
        "flood",
        "--segment",
        "seg",
        "198.18.1.3",
        "198.18.1.4",
    ]);
    let s: serde_json::Value =
        serde_json::from_str(&g.ok(&["--json", "segment", "get", "seg"])).unwrap();
    assert_eq!(s["flood"], serde_json::json!(["198.18.1.3", "198.18.1.4"]));
    assert_eq!(
        (s["vlan"].clone(), s["vni"].clone()),
        (10.into(), 100.into())
    );
    let e = g.refused(&[
        "segment",
        "flood",
        "--segment",
        "seg",
        "198.18.1.3",
        "198.18.1.3",
    ]);
    assert!(
        e.contains("change.set_flood.remotes[1]: 198.18.1.3 is listed twice"),
        "{e}"
    );

    // Decap VNIs with allow lists.
    let e = g.refused(&["decap", "add", "--vni", "7000"]);
    assert!(e.contains("change.add_decap.port: missing"), "{e}");
    g.ok(&[
        "decap",
        "add",
        "--vni",
        "7000",
        "--port",
        "acc",
        "--vlan",
        "20",
        "--allow-from",
        "198.18.1.2,198.18.1.3",
    ]);
    assert_eq!(
        g.ok(&["decap", "get", "--vni", "7000"]).trim(),
        "vni 7000 port acc vlan 20 ethernet allow_from 198.18.1.2,198.18.1.3"
    );
    let all = g.ok(&["decap", "list", "--page-size", "1"]);
    let vnis: Vec<&str> = lines(&all)
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(vnis, ["100", "1001", "5000", "7000"], "{all}");
    g.ok(&["decap", "del", "--vni", "7000"]);
    g.refused(&["decap", "get", "--vni", "7000"]);

    // A transaction whose last change is invalid: nothing of it applied.
    let txn = dir.join("txn.txt");
    std::fs::write(
        &txn,
        "# two good changes, then a bad one\n\
         tunnel add --name t9 --remote 198.18.1.9 --vni 1009\n\
         route add --prefix 198.29.0.0/16 --tunnel t9\n\
         mac add --segment seg --mac 02:00:00:00:aa:09 --remote 198.18.1.9\n\
         route add --prefix 198.30.0.0/33 --tunnel t9\n",
    )
    .unwrap();
    let e = g.refused(&["transaction", txn.to_str().unwrap()]);
    assert!(e.contains("changes[3].add_route.prefix"), "{e}");
    g.refused(&["tunnel", "get", "t9"]);
    g.refused(&["route", "get", "--prefix", "198.29.0.0/16"]);
    g.refused(&[
        "mac",
        "get",
        "--segment",
        "seg",
        "--mac",
        "02:00:00:00:aa:09",
    ]);
    // Without the bad line it is taken whole.
    let text = std::fs::read_to_string(&txn).unwrap();
    std::fs::write(&txn, text.lines().take(4).collect::<Vec<_>>().join("\n")).unwrap();
    let out = g.ok(&["transaction", txn.to_str().unwrap()]);
    assert!(
        out.contains("tunnels +1 -0 ~0, routes +1 -0 ~0, static MACs +1 -0 ~0"),
        "{out}"
    );
    // A line that is no change is a usage error, before anything is sent.
    std::fs::write(&txn, "tunnel list\n").unwrap();
    let (c, _, e) = g.ctl(&["transaction", txn.to_str().unwrap()]);
    assert_eq!(c, 2, "{e}");

    // Counters: global, per port and per drop reason; per tunnel not yet.
    let c: serde_json::Value = serde_json::from_str(&g.ok(&["--json", "counters"])).unwrap();
    assert_eq!(c["ports"].as_array().unwrap().len(), 2);
    assert!(
        c["drops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["reason"] == "no_route"),
        "{c}"
    );
    // Per tunnel and per VNI (a tunnel added by the API has its counters).
    let c: serde_json::Value =
        serde_json::from_str(&g.ok(&["--json", "counters", "--tunnel", "t9", "--vni", "1009"]))
            .unwrap();
    assert_eq!(c["tunnel"]["name"], "t9", "{c}");
    assert_eq!(c["tunnel"]["encap_packets"], 0, "{c}");
    assert_eq!(c["vni"]["vni"], 1009, "{c}");
    let e = g.refused(&["counters", "--tunnel", "nope"]);
    assert!(e.contains("NotFound"), "{e}");
    // The option registry: add (checked whole, as the file's), refuse a
    // class and type taken, list, delete.
    let out = g.ok(&[
        "option", "add", "--name", "tag", "--class", "0x0105", "--type", "0x01", "--length", "4",
    ]);
    assert!(out.contains("every table made anew"), "{out}");
    let e = g.refused(&[
        "option", "add", "--name", "tag2", "--class", "261", "--type", "1",
    ]);
    assert!(
        e.contains("change.add_option.type: class 0x0105 type 0x01 is already registered as `tag`"),
        "{e}"
    );
    let e = g.refused(&[
        "option", "add", "--name", "odd", "--class", "1", "--type", "2", "--length", "5",
    ]);
    assert!(
        e.contains("change.add_option.length: 5 is not a multiple of 4"),
        "{e}"
    );
    assert_eq!(
        g.ok(&["option", "list"]).trim(),
        "tag class 0x0105 type 0x01 length 4"
    );
    g.ok(&["option", "del", "tag"]);
    assert!(g.ok(&["option", "list"]).trim().is_empty());
    // Neighbours read.
    let n = g.ok(&["neighbor", "list"]);
    assert!(n.contains("198.18.0.254 02:00:00:00:00:fe"), "{n}");

    // No gateway at another prefix: exit 2 and why.
    let o = Command::new(gw::bin())
        .args(["ctl", "--file-prefix", "no-such-gateway", "tunnel", "list"])
        .env("GENEVE_GW_API_DIR", &g.api_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no gateway is running at"));

    // Save: the running configuration as a file `check` accepts, with what
    // the API changed in it.
    let saved = dir.join("saved.yaml");
    g.ok(&["save", saved.to_str().unwrap()]);
    let text = std::fs::read_to_string(&saved).unwrap();
    let cfg = geneve_gw::config::load(&saved).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let t9 = cfg.tunnel_index("t9").expect("t9 saved");
    assert_eq!(cfg.tunnels[t9].remote.to_string(), "198.18.1.9");
    assert!(cfg.tunnel_index("t1").is_none(), "t1 was deleted");
    let routes: Vec<String> = cfg
        .l3
        .as_ref()
        .unwrap()
        .routes
        .iter()
        .map(|r| format!("{} {}", r.prefix, cfg.tunnels[r.tunnel].name))
        .collect();
    assert!(
        routes.contains(&"198.29.0.0/16 t9".to_string()),
        "{routes:?}"
    );
    assert_eq!(cfg.l2.as_ref().unwrap().segments[0].static_macs.len(), 2);

    // Reload: the file again (what the API added goes), and what changed.
    let out = g.ok(&["reload"]);
    assert!(
        out.starts_with("reloaded: ")
            && out.contains("tunnels +0 -2 ~0")
            && out.contains("routes +0 -3 ~0"),
        "{out}"
    );
    g.refused(&["tunnel", "get", "t9"]);
    g.ok(&["tunnel", "get", "t0"]);

    let socket = g.socket();
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    assert!(!socket.exists(), "the socket is removed at stop");
}

/// The safety limits: a request over the size limit is refused and the
/// gateway answers the next one.
#[test]
fn oversized_requests_are_refused() {
    let dir = common::scratch("api-limits");
    let prefix = format!("gwtest-{}-api-lim", std::process::id());
    let g = Gw::start(&dir, "limits", null_ports(&prefix), TABLES);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = g.socket();
    rt.block_on(async {
        use geneve_gw::control::api_proto as pb;
        let ch = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let p = socket.clone();
                async move {
                    tokio::net::UnixStream::connect(p)
                        .await
                        .map(hyper_util::rt::TokioIo::new)
                }
            }))
            .await
            .unwrap();
        let mut c = pb::transactions_client::TransactionsClient::new(ch.clone())
            .max_encoding_message_size(64 << 20);
        let big = pb::Transaction {
            changes: (0..100_000)
                .map(|i| pb::Change {
                    change: Some(pb::change::Change::AddRoute(pb::Route {
                        prefix: format!("10.{}.{}.0/24", i / 256 % 256, i % 256),
                        tunnel: "t0-with-a-long-name-to-fill-the-request".into(),
                    })),
                })
                .collect(),
        };
        let e = c.apply(big).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::OutOfRange, "{e}");
        // Still answering.
        let mut t = pb::tunnels_client::TunnelsClient::new(ch);
        let l = t
            .list(pb::ListRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(l.tunnels.len(), 1);
    });
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// The API from Python: stubs generated from proto/geneve_gw.proto by
/// grpcio-tools, a tunnel and a route added and read back, a refusal
/// with its status, and a malformed message that gets an error and
/// harms nothing.
#[test]
fn python_client_drives_the_api() {
    let have = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output();
    match have {
        Ok(o) if o.status.success() => {}
        _ => {
            skip("python3 with grpcio and grpcio-tools is not installed (scripts/setup.sh installs them)");
            return;
        }
    }
    let dir = common::scratch("api-python");
    let prefix = format!("gwtest-{}-api-py", std::process::id());
    let g = Gw::start(&dir, "python", null_ports(&prefix), TABLES);
    let out = Command::new("python3")
        .arg(common::repo_path("tests/scripts/api_client.py"))
        .args([
            g.socket().to_str().unwrap(),
            common::repo_path("proto").to_str().unwrap(),
            dir.join("stubs").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("python client: ok"), "{stdout}");
    // What Python added is there for ctl too.
    assert_eq!(
        g.ok(&["route", "get", "--prefix", "198.31.0.0/16"]).trim(),
        "198.31.0.0/16 via py1"
    );
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// Reads the underlay's pcap from the FIFO argv[1] until EOF. Each packet
/// must be IPv4/UDP/Geneve to the tunnel the configuration gives its inner
/// destination: 198.19.64.0/24 -> 198.18.1.2 VNI 5000 (never changed),
/// 198.19.65.0/24 -> 198.18.1.40 VNI 5040 (added mid-run), 198.19.66.0/24
/// -> 198.18.1.2 VNI 5000 (removed mid-run). Prints one JSON line: counts
/// per class, wrong packets, and the largest run of stable packets
/// between two "new" ones (a new packet lost after the first shows as a
/// run of two loops).
const CHECKER: &str = r#"
import json, struct, sys
f = open(sys.argv[1], "rb", buffering=1 << 20)
f.read(24)
n = bad = stable = new = removed = 0
run = maxrun = 0
seen_new = False
sample = []
while True:
    rh = f.read(16)
    if len(rh) < 16:
        break
    incl = struct.unpack("<IIII", rh)[2]
    p = f.read(incl)
    n += 1
    ok = len(p) >= 70 and p[12:14] == b"\x08\x00" and p[23] == 17
    cls = None
    if ok:
        outer = p[30:34]
        vni = struct.unpack(">I", p[46:50])[0] >> 8
        inner = p[66:69]
        if inner == bytes([198, 19, 64]) and outer == bytes([198, 18, 1, 2]) and vni == 5000:
            cls = "stable"
        elif inner == bytes([198, 19, 65]) and outer == bytes([198, 18, 1, 40]) and vni == 5040:
            cls = "new"
        elif inner == bytes([198, 19, 66]) and outer == bytes([198, 18, 1, 2]) and vni == 5000:
            cls = "removed"
    if cls == "stable":
        stable += 1
        run += 1
    elif cls == "new":
        new += 1
        if seen_new:
            maxrun = max(maxrun, run)
        seen_new = True
        run = 0
    elif cls == "removed":
        removed += 1
    else:
        bad += 1
        if len(sample) < 5:
            sample.append(p[:70].hex())
print(json.dumps({"packets": n, "bad": bad, "stable": stable, "new": new,
                  "removed": removed, "maxrun": maxrun, "sample": sample}))
"#;

/// Stable destinations in the input, in front of the new and the removed one.
const STABLE: u64 = 100;

/// 10,000 changes through the API (tunnels, routes, static MACs added and
/// removed) while net_pcap replays traffic to entries that do not change:
/// none of it is lost or misdelivered, a route removed mid-run drops its
/// packets under `no_route`, a tunnel and route added mid-run carry
/// traffic from then on without a gap.
#[test]
fn ten_thousand_changes_under_traffic_lose_nothing() {
    if !common::have_scapy() {
        return;
    }
    if !common::have_program("mkfifo") {
        skip("ten_thousand_changes_under_traffic: mkfifo is needed");
        return;
    }
    let dir = common::scratch("api-traffic");
    let acc_in = dir.join("acc_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
n = int(sys.argv[2])
dests = ["198.19.64.%d" % (1 + i) for i in range(n)] + ["198.19.65.1", "198.19.66.1"]
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:01:02")
       / IP(src="198.19.0.50", dst=d) / UDP(sport=1000 + i, dport=5001) / Raw(b"s" * 18)
       for i, d in enumerate(dests)])
wrpcap(sys.argv[3], [])
"#;
    let ul_in = dir.join("ul_in.pcap");
    common::run_ok(Command::new("python3").args([
        "-c",
        py,
        acc_in.to_str().unwrap(),
        &STABLE.to_string(),
        ul_in.to_str().unwrap(),
    ]));
    let fifo = dir.join("ul_out.fifo");
    common::run_ok(Command::new("mkfifo").arg(&fifo));
    let checker = Command::new("python3")
        .args(["-c", CHECKER, fifo.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let prefix = format!("gwtest-{}-api-traffic", std::process::id());
    let ul = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        ul_in.display(),
        fifo.display()
    );
    let acc = format!("net_pcap1,rx_pcap={},infinite_rx=1", acc_in.display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe", destinations: [198.18.0.0/15] }
tunnels:
  - { name: stable, remote: 198.18.1.2, vni: 5000 }
l2:
  learning: false
  segments:
    - { name: seg, port: acc, vlan: 10, vni: 100 }
l3:
  access: { port: acc, ipv4: 198.19.0.1/24, next_hop_mac: "02:00:00:00:00:09" }
  routes:
    - { prefix: 198.19.64.0/24, tunnel: stable }
    - { prefix: 198.19.66.0/24, tunnel: stable }
"#;
    let g = Gw::start(&dir, "traffic", Ports::new(&ul, &acc, &prefix), tables);
    let socket = g.socket();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let changes = rt.block_on(async move {
        use geneve_gw::control::api_proto as pb;
        let ch = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let p = socket.clone();
                async move {
                    tokio::net::UnixStream::connect(p)
                        .await
                        .map(hyper_util::rt::TokioIo::new)
                }
            }))
            .await
            .unwrap();
        let mut tunnels = pb::tunnels_client::TunnelsClient::new(ch.clone());
        let mut routes = pb::routes_client::RoutesClient::new(ch.clone());
        let mut macs = pb::static_macs_client::StaticMacsClient::new(ch.clone());
        let mut n = 0u32;
        let mut i = 0u32;
        while n < 10_000 {
            if i == 300 {
                // Mid-run: a new tunnel and its route, then a route removed.
                tunnels
                    .add(pb::Tunnel {
                        name: "new".into(),
                        remote: "198.18.1.40".into(),
                        vni: 5040,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                routes
                    .add(pb::Route {
                        prefix: "198.19.65.0/24".into(),
                        tunnel: "new".into(),
                    })
                    .await
                    .unwrap();
                n += 2;
            }
            if i == 1200 {
                routes
                    .delete(pb::RoutePrefix {
                        prefix: "198.19.66.0/24".into(),
                    })
                    .await
                    .unwrap();
                n += 1;
            }
            let name = format!("c{i}");
            let remote = format!("198.18.{}.{}", 2 + i / 250 % 100, 1 + i % 250);
            let prefix = format!("10.{}.{}.0/24", i / 256 % 256, i % 256);
            let mac = format!("02:00:00:01:{:02x}:{:02x}", i / 256 % 256, i % 256);
            tunnels
                .add(pb::Tunnel {
                    name: name.clone(),
                    remote: remote.clone(),
                    vni: 6000 + i,
                    ..Default::default()
                })
                .await
                .unwrap();
            routes
                .add(pb::Route {
                    prefix: prefix.clone(),
                    tunnel: name.clone(),
                })
                .await
                .unwrap();
            macs.add(pb::StaticMac {
                segment: "seg".into(),
                mac: mac.clone(),
                remote,
            })
            .await
            .unwrap();
            routes.delete(pb::RoutePrefix { prefix }).await.unwrap();
            macs.delete(pb::MacKey {
                segment: "seg".into(),
                mac,
            })
            .await
            .unwrap();
            tunnels.delete(pb::TunnelName { name }).await.unwrap();
            n += 6;
            i += 1;
        }
        n
    });
    assert!(changes >= 10_000);
    std::thread::sleep(Duration::from_millis(500));
    let r = g.stop();
    let verdict = checker.wait_with_output().unwrap();
    let verdict = String::from_utf8_lossy(&verdict.stdout).into_owned();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
    r.assert_no_leak();
    let v = common::json(verdict.trim());
    let get = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {verdict}"));
    assert_eq!(get("bad"), 0, "misdelivered: {verdict}");
    // What the access port took, by class: the input is STABLE stable
    // packets, then the new one, then the removed one, over and over.
    let (rx, _, _) = r.port(1);
    let (_, ul_tx, ul_dropped) = r.port(0);
    let per = STABLE + 2;
    let (loops, rest) = (rx / per, rx % per);
    let stable_rx = loops * STABLE + rest.min(STABLE);
    let new_rx = loops + u64::from(rest > STABLE);
    let removed_rx = loops;
    assert!(
        loops > 1000,
        "too little traffic to say anything: {rx} packets"
    );
    assert_eq!(
        get("stable"),
        stable_rx,
        "stable traffic lost: {verdict}\n{}",
        r.stdout
    );
    assert_eq!(get("packets"), ul_tx, "the pcap holds what the port sent");
    assert_eq!(ul_dropped, 0);
    // The removed route: its packets went out until the removal, then
    // dropped and counted; the new one: dropped until its route came,
    // then carried with no gap.
    let new_out = get("new");
    let removed_out = get("removed");
    assert!(removed_out > 0 && removed_out < removed_rx, "{verdict}");
    assert!(new_out > 0 && new_out < new_rx, "{verdict}");
    // A lost one makes a run of two loops; order within a burst may shift a little.
    assert!(
        get("maxrun") < STABLE + STABLE / 2,
        "a new-route packet was lost after the first: {verdict}"
    );
    assert_eq!(
        r.drops("no_route"),
        (new_rx - new_out) + (removed_rx - removed_out),
        "{}",
        r.stdout
    );
    let total_drops = r.value("drops total");
    assert_eq!(total_drops, r.drops("no_route"), "{}", r.stdout);
    assert_eq!(rx, ul_tx + total_drops, "{}", r.stdout);
}

/// With `api.listen_tcp` the API answers on TCP too (ctl --tcp).
#[test]
fn tcp_listener_when_configured() {
    let dir = common::scratch("api-tcp");
    let prefix = format!("gwtest-{}-api-tcp", std::process::id());
    let tables = format!("{TABLES}api:\n  listen_tcp: 127.0.0.1:0\n");
    let g = Gw::start(&dir, "tcp", null_ports(&prefix), &tables);
    let line = g
        .err
        .text
        .lines()
        .find(|l| l.contains("api: serving on"))
        .unwrap()
        .to_string();
    let addr = line
        .split(" and tcp ")
        .nth(1)
        .unwrap_or_else(|| panic!("no TCP listener: {line}"))
        .trim()
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    let o = Command::new(gw::bin())
        .args(["ctl", "--tcp", &addr, "tunnel", "list"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.starts_with("t0 remote 198.18.1.2"),
        "{out}"
    );
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// A flood of connections that never speak: those over the cap are closed
/// at once, the rest once idle, and the API answers again after.
#[test]
fn a_flood_of_idle_connections_is_shed() {
    use std::io::Read;
    let dir = common::scratch("api-flood");
    let prefix = format!("gwtest-{}-api-flood", std::process::id());
    let g = Gw::start(&dir, "flood", null_ports(&prefix), TABLES);
    let socket = g.socket();
    let mut held: Vec<std::os::unix::net::UnixStream> = (0..40)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    // Every one of them is closed by the gateway (read sees the end):
    // over the cap at once, the others when idle.
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut sink = Vec::new();
        let r = s.read_to_end(&mut sink);
        assert!(r.is_ok(), "a held connection was not closed: {r:?}");
    }
    drop(held);
    assert_eq!(g.ok(&["tunnel", "get", "t0"]).split(' ').next(), Some("t0"));
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// Learned MACs: Geneve frames scapy builds teach the gateway two inner
/// source MACs; the API lists them (with their remote VTEPs) and flushes
/// them.
#[test]
fn learned_macs_are_listed_and_flushed() {
    if !common::have_scapy() {
        return;
    }
    let dir = common::scratch("api-learned");
    let ul_in = dir.join("ul_in.pcap");
    let acc_in = dir.join("acc_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
def frame(remote, mac):
    return (Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
            / IP(src=remote, dst="198.18.0.1") / UDP(sport=40000, dport=6081, chksum=0)
            / GENEVE(vni=100, proto=0x6558)
            / Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=1, dport=2) / Raw(b"x" * 20))
wrpcap(sys.argv[1], [frame("198.18.1.3", "02:00:00:00:bb:01"), frame("198.18.1.4", "02:00:00:00:bb:02")])
wrpcap(sys.argv[2], [])
"#;
    common::run_ok(Command::new("python3").args([
        "-c",
        py,
        ul_in.to_str().unwrap(),
        acc_in.to_str().unwrap(),
    ]));
    let prefix = format!("gwtest-{}-api-learn", std::process::id());
    let [ul, acc] = gw::pcap_devices(&dir);
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/16
tunnels:
  - { name: t0, remote: 198.18.1.3, vni: 100 }
l2:
  learning: true
  segments:
    - { name: seg, port: acc, vni: 100 }
"#;
    let g = Gw::start(&dir, "learned", Ports::new(&ul, &acc, &prefix), tables);
    // The two frames are read at start; learning follows within turns.
    let mut listed = String::new();
    for _ in 0..100 {
        listed = g.ok(&["learned", "list", "--segment", "seg"]);
        if lines(&listed).len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let got: Vec<String> = lines(&listed)
        .iter()
        .map(|l| l.split(" age ").next().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "02:00:00:00:bb:01 segment seg remote 198.18.1.3",
            "02:00:00:00:bb:02 segment seg remote 198.18.1.4"
        ],
        "{listed}"
    );
    let out = g.ok(&["learned", "flush", "--segment", "seg"]);
    assert_eq!(out.trim(), "flushed 2");
    assert!(lines(&g.ok(&["learned", "list"])).is_empty());
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// A second gateway with the same EAL file prefix (DPDK lets two run
/// with --no-shconf) is refused before its workers start, with why; the
/// first one keeps its socket.
#[test]
fn a_second_gateway_on_the_same_socket_is_refused() {
    let dir = common::scratch("api-twice");
    let prefix = format!("gwtest-{}-api-twice", std::process::id());
    let g = Gw::start(&dir, "twice", null_ports(&prefix), TABLES);
    let o = Command::new(gw::bin())
        .args([
            "run",
            "-c",
            g.cfg.to_str().unwrap(),
            "--stats-interval",
            "0",
        ])
        .env("GENEVE_GW_API_DIR", &g.api_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("is in use: another gateway runs with this EAL file prefix"),
        "{err}"
    );
    assert_eq!(g.ok(&["tunnel", "get", "t0"]).split(' ').next(), Some("t0"));
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// Pages by key through a running gateway: routes listed four at a time
/// while routes already listed are deleted and new ones added between
/// pages (a position token would skip one entry per deletion before it).
/// Every route present throughout is listed exactly once.
#[test]
fn route_pages_resume_after_the_last_key_while_routes_change() {
    let dir = common::scratch("api-pages");
    let prefix = format!("gwtest-{}-api-pg", std::process::id());
    let mut tables = String::from(
        "vtep:\n  port: ul\n  ipv4: 198.18.0.1/24\n  next_hops:\n    - { via: 198.18.0.254, mac: \"02:00:00:00:00:fe\", destinations: [198.18.0.0/15] }\ntunnels:\n  - { name: t0, remote: 198.18.1.2, vni: 5000 }\nl3:\n  access: { port: acc }\n  routes:\n",
    );
    for i in 0..40 {
        tables.push_str(&format!(
            "    - {{ prefix: 198.19.{i}.0/24, tunnel: t0 }}\n"
        ));
    }
    let g = Gw::start(&dir, "pages", null_ports(&prefix), &tables);
    let mut listed: std::collections::BTreeMap<String, usize> = Default::default();
    let mut deleted = Vec::new();
    let mut token = String::new();
    for page in 0..100 {
        let (c, out, err) = g.ctl(&["route", "list", "--page-size", "4", "--page-token", &token]);
        assert_eq!(c, 0, "{out}\n{err}");
        for l in lines(&out) {
            let p = l.split(' ').next().unwrap().to_string();
            *listed.entry(p).or_default() += 1;
        }
        // Between pages: delete the smallest route listed so far that is
        // still there, and add one that sorts before every page.
        if let Some(p) = listed.keys().find(|p| !deleted.contains(*p)).cloned() {
            g.ok(&["route", "delete", "--prefix", &p]);
            deleted.push(p);
        }
        g.ok(&[
            "route",
            "add",
            "--prefix",
            &format!("198.18.{}.0/24", 100 + page),
            "--tunnel",
            "t0",
        ]);
        token = err
            .trim()
            .strip_prefix("next page token:")
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        if token.is_empty() {
            break;
        }
    }
    for i in 0..40 {
        let p = format!("198.19.{i}.0/24");
        assert_eq!(
            listed.get(&p),
            Some(&1),
            "{p} listed {:?} times: {listed:?}",
            listed.get(&p)
        );
    }
    assert!(listed.values().all(|n| *n == 1), "{listed:?}");
    let run = g.stop();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// The counters `option_policies_change_what_is_forwarded` follows:
/// (VNI 100 delivered, `required_option_missing`, `security_tag_denied`).
fn policy_counters(g: &Gw) -> (u64, u64, u64) {
    let v = g.json(&["counters", "--vni", "100"]);
    (
        v["vni"]["packets"].as_u64().unwrap(),
        drop_count(&v, "required_option_missing"),
        drop_count(&v, "security_tag_denied"),
    )
}

/// Polls the counters until `done` holds for them.
fn counters_until(g: &Gw, what: &str, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
    poll_until(what, || policy_counters(g), |c| done(*c))
}

/// Option policies added and deleted through the API change what a
/// running gateway forwards, at once and whole: three frames replayed
/// forever (scapy: Geneve to VNI 100 with the `tag` option 0x0a, without
/// options, with `tag` 0x0b). No policy: all three delivered. `require
/// tag`: the frame without options counted under `required_option_missing`
/// per two delivered. A security tag allowing 0x0a only: 0x0b counted
/// under `security_tag_denied` too. Both deleted: nothing dropped any
/// more.
#[test]
fn option_policies_change_what_is_forwarded() {
    if !common::have_scapy() {
        return;
    }
    let dir = common::scratch("api-policies");
    let ul_in = dir.join("ul_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE, GeneveOptions
def frame(opts):
    g = GENEVE(vni=100, proto=0x6558, options=opts)
    return (Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
            / IP(src="198.18.1.3", dst="198.18.0.1") / UDP(sport=40000, dport=6081, chksum=0)
            / g / Ether(src="02:00:00:00:bb:01", dst="02:00:00:00:cc:01")
            / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"x" * 20))
tag = lambda v: [GeneveOptions(classid=0x0102, type=1, length=1, data=v.to_bytes(4, "big"))]
wrpcap(sys.argv[1], [frame(tag(0x0a)), frame([]), frame(tag(0x0b))])
"#;
    common::run_ok(Command::new("python3").args(["-c", py, ul_in.to_str().unwrap()]));
    let prefix = format!("gwtest-{}-api-policy", std::process::id());
    let ul = format!("net_pcap0,rx_pcap={},infinite_rx=1", ul_in.display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/16
tunnels:
  - { name: t0, remote: 198.18.1.3, vni: 100 }
l2:
  learning: false
  segments:
    - { name: seg, port: acc, vni: 100 }
options:
  registry:
    - { name: tag, class: 0x0102, type: 1, length: 4 }
"#;
    let g = Gw::start(
        &dir,
        "policies",
        Ports::new(&ul, "net_null1,no-rx=1", &prefix),
        tables,
    );
    // The frames are 3 per loop; counters are read while the worker runs,
    // so two reads may straddle a burst or two.
    const SLACK: u64 = 2 * 32 * 3;
    let near = |a: u64, b: u64| a.abs_diff(b) <= SLACK;

    let c0 = counters_until(&g, "traffic on VNI 100", |c| c.0 >= 3000);
    assert_eq!((c0.1, c0.2), (0, 0), "dropped before any policy: {c0:?}");

    // require: the frame without options is dropped, the others delivered.
    g.ok(&[
        "policy", "add", "require", "--option", "tag", "--vni", "100",
    ]);
    let s = counters_until(&g, "require in effect", |c| c.1 > 0);
    let e = counters_until(&g, "traffic under require", |c| c.0 >= s.0 + 3000);
    let (delivered, missing) = (e.0 - s.0, e.1 - s.1);
    assert!(near(delivered, 2 * missing), "{s:?} -> {e:?}");
    assert_eq!(e.2, 0, "nothing denied yet: {e:?}");

    // A security tag that allows 0x0a only (values hex or decimal).
    g.ok(&[
        "policy",
        "add",
        "security_tags",
        "--option",
        "tag",
        "--vni",
        "100",
        "--allow",
        "10",
        "--default",
        "deny",
    ]);
    let s = counters_until(&g, "security tag in effect", |c| c.2 > 0);
    let e = counters_until(&g, "traffic under both", |c| c.0 >= s.0 + 3000);
    let (delivered, missing, denied) = (e.0 - s.0, e.1 - s.1, e.2 - s.2);
    assert!(
        near(delivered, missing) && near(delivered, denied),
        "{s:?} -> {e:?}"
    );
    let listed = g.ok(&["policy", "list"]);
    assert_eq!(
        lines(&listed),
        [
            "require option tag vni 100",
            "security_tags option tag vni 100 allow 0000000a default deny"
        ],
        "{listed}"
    );
    let d = g.ok(&["decap", "get", "--vni", "100"]);
    assert!(d.contains("tag"), "the decap entry shows its policy: {d}");

    // Refused: an option that is not registered, a VNI not decapsulated.
    let err = g.refused(&["policy", "add", "require", "--option", "nope"]);
    assert!(err.contains("no option named `nope`"), "{err}");
    let err = g.refused(&["policy", "add", "require", "--option", "tag", "--vni", "7"]);
    assert!(err.contains("VNI 7 is not decapsulated here"), "{err}");
    let err = g.refused(&["policy", "del", "require", "--option", "tag"]);
    assert!(err.contains("no options.policies.require entry"), "{err}");

    // Both deleted in one transaction: nothing dropped from then on.
    let txn = dir.join("txn");
    std::fs::write(
        &txn,
        "policy del require --option tag --vni 100\npolicy del security_tags --option tag --vni 100\n",
    )
    .unwrap();
    g.ok(&["transaction", txn.to_str().unwrap()]);
    assert!(lines(&g.ok(&["policy", "list"])).is_empty());
    let s = policy_counters(&g);
    let m = counters_until(&g, "traffic after the delete", |c| c.0 >= s.0 + 3000);
    let e = counters_until(&g, "more traffic after the delete", |c| c.0 >= m.0 + 3000);
    assert_eq!(
        (e.1, e.2),
        (m.1, m.2),
        "dropped after the policies went: {m:?} -> {e:?}"
    );
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// (VNI 200 delivered, packets sent as VXLAN, every drop) of
/// `vxlan_tunnels_through_the_api_restitch_a_running_segment`.
fn stitch_counters(g: &Gw) -> (u64, u64, u64) {
    let v = g.json(&["counters", "--vni", "200"]);
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k}: {v}"));
    (
        v["vni"]["packets"].as_u64().unwrap(),
        n("vxlan_encap"),
        n("drops_total"),
    )
}

fn stitch_until(g: &Gw, what: &str, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
    poll_until(what, || stitch_counters(g), |c| done(*c))
}

/// A VXLAN tunnel in a mesh group of its own, added and deleted through
/// the API on a running gateway whose stitched segment already carries
/// traffic (scapy: Geneve from the `overlay` member to a static MAC behind
/// 198.18.1.3, and Geneve on an unrelated segment, replayed forever).
/// Added: the stitched frames leave as VXLAN through the new tunnel
/// (counted under it) after every table was made anew; deleted: they
/// leave as Geneve again. The other segment's frames are delivered all
/// along and nothing is dropped at any time. A VXLAN tunnel with options
/// is refused as the file refuses it.
#[test]
fn vxlan_tunnels_through_the_api_restitch_a_running_segment() {
    if !common::have_scapy() {
        return;
    }
    let dir = common::scratch("api-vxlan");
    let ul_in = dir.join("ul_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
def frame(remote, vni, dst):
    return (Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
            / IP(src=remote, dst="198.18.0.1") / UDP(sport=40000, dport=6081, chksum=0)
            / GENEVE(vni=vni, proto=0x6558) / Ether(src="02:00:00:00:bb:01", dst=dst)
            / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"x" * 20))
wrpcap(sys.argv[1], [frame("198.18.1.5", 200, "02:00:00:00:dd:01"),
                     frame("198.18.1.2", 1000, "02:00:00:00:cc:01")])
"#;
    common::run_ok(Command::new("python3").args(["-c", py, ul_in.to_str().unwrap()]));
    let prefix = format!("gwtest-{}-api-vxlan", std::process::id());
    let ul = format!("net_pcap0,rx_pcap={},infinite_rx=1", ul_in.display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/24
  vxlan_port: 4789
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe", destinations: [198.18.0.0/15] }
tunnels:
  - { name: ovn, remote: 198.18.1.2, vni: 1000, mesh: overlay }
  - { name: plain, remote: 198.18.1.5, vni: 200 }
l2:
  learning: false
  segments:
    - name: st
      port: acc
      vni: 1000
      vxlan_vni: 5000
      static_macs: [{ mac: "02:00:00:00:cc:01", remote: 198.18.1.3 }]
    - { name: other, port: acc, vlan: 20, vni: 200 }
"#;
    let g = Gw::start(
        &dir,
        "vxlan",
        Ports::new(&ul, "net_null1,no-rx=1", &prefix),
        tables,
    );
    let c = stitch_until(&g, "traffic on VNI 200", |c| c.0 >= 3000);
    assert_eq!(
        (c.1, c.2),
        (0, 0),
        "nothing as VXLAN, nothing dropped: {c:?}"
    );

    let err = g.refused(&[
        "tunnel",
        "add",
        "--name",
        "tor",
        "--remote",
        "198.18.1.3",
        "--vni",
        "5000",
        "--encapsulation",
        "vxlan",
        "--mesh",
        "fabric",
        "--option",
        "258:1=00000001",
    ]);
    assert!(err.contains("VXLAN has no options"), "{err}");
    let out = g.ok(&[
        "tunnel",
        "add",
        "--name",
        "tor",
        "--remote",
        "198.18.1.3",
        "--vni",
        "5000",
        "--encapsulation",
        "vxlan",
        "--mesh",
        "fabric",
    ]);
    assert!(out.contains("every table made anew"), "{out}");
    let got = g.ok(&["tunnel", "get", "tor"]);
    assert!(
        got.starts_with("tor remote 198.18.1.3 vni 5000 vxlan") && got.contains("mesh fabric"),
        "{got}"
    );
    // Two frames a loop: as many stitched (now VXLAN) as delivered on 200.
    let s = stitch_until(&g, "stitched frames as VXLAN", |c| c.1 > 0);
    let e = stitch_until(&g, "more as VXLAN", |c| c.0 >= s.0 + 3000);
    assert!(
        (e.1 - s.1).abs_diff(e.0 - s.0) <= 2 * 32 * 2,
        "every stitched frame as VXLAN: {s:?} -> {e:?}"
    );
    assert_eq!(e.2, 0, "dropped while restitched: {s:?} -> {e:?}");

    let out = g.ok(&["tunnel", "del", "tor"]);
    assert!(out.contains("every table made anew"), "{out}");
    let err = g.refused(&["tunnel", "get", "tor"]);
    assert!(err.contains("tor"), "{err}");
    let m = stitch_until(&g, "traffic after the delete", |c| c.0 >= e.0 + 3000);
    let f = stitch_until(&g, "more after the delete", |c| c.0 >= m.0 + 3000);
    assert_eq!(f.1, m.1, "VXLAN after the tunnel went: {m:?} -> {f:?}");
    assert_eq!(f.2, 0, "dropped after the delete: {f:?}");
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}

/// Encap packets of tunnels t6 and t7, and every drop, of
/// `a_deleted_segment_leaves_the_others_forwarding`.
fn segment_counters(g: &Gw) -> (u64, u64, u64) {
    let t = |name: &str| {
        let v = g.json(&["counters", "--tunnel", name]);
        (
            v["tunnel"]["encap_packets"].as_u64().unwrap(),
            v["drops_total"].as_u64().unwrap(),
        )
    };
    let (t6, drops) = t("t6");
    (t6, t("t7").0, drops)
}

fn segment_until(g: &Gw, what: &str, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
    poll_until(what, || segment_counters(g), |c| done(*c))
}

/// Segments added and deleted through the API on a running gateway: three
/// segments (VNI 100, 200, 300 on VLANs 10, 20, 30), a static MAC in the
/// second, a MAC the third learned from one Geneve frame read at start;
/// access frames to both replayed forever (scapy). Deleting the first
/// segment moves the others up one index: both MACs still forward (the
/// learned one is not learned again: it followed its segment), nothing is
/// dropped, and the deleted segment's VNI no longer decapsulates. A
/// segment added afterwards is listed and takes static MACs.
#[test]
fn a_deleted_segment_leaves_the_others_forwarding() {
    if !common::have_scapy() {
        return;
    }
    let dir = common::scratch("api-segments");
    let ul_in = dir.join("ul_in.pcap");
    let acc_in = dir.join("acc_in.pcap");
    let py = r#"
import sys
from scapy.all import Ether, Dot1Q, IP, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
learn = (Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:01:01")
         / IP(src="198.18.1.7", dst="198.18.0.1") / UDP(sport=40000, dport=6081, chksum=0)
         / GENEVE(vni=300, proto=0x6558)
         / Ether(src="02:00:00:00:ee:07", dst="ff:ff:ff:ff:ff:ff")
         / IP(src="10.0.3.7", dst="10.0.3.1") / UDP(sport=1, dport=2) / Raw(b"l" * 20))
wrpcap(sys.argv[1], [learn])
def access(vlan, dst):
    return (Ether(src="02:00:00:00:aa:01", dst=dst) / Dot1Q(vlan=vlan)
            / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(b"a" * 20))
wrpcap(sys.argv[2], [access(20, "02:00:00:00:5a:01"), access(30, "02:00:00:00:ee:07")])
"#;
    common::run_ok(Command::new("python3").args([
        "-c",
        py,
        ul_in.to_str().unwrap(),
        acc_in.to_str().unwrap(),
    ]));
    let prefix = format!("gwtest-{}-api-segments", std::process::id());
    let ul = format!("net_pcap0,rx_pcap={}", ul_in.display());
    let acc = format!("net_pcap1,rx_pcap={},infinite_rx=1", acc_in.display());
    let tables = r#"
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.254, mac: "02:00:00:00:00:fe", destinations: [198.18.0.0/15] }
tunnels:
  - { name: t5, remote: 198.18.1.5, vni: 100 }
  - { name: t6, remote: 198.18.1.6, vni: 200 }
  - { name: t7, remote: 198.18.1.7, vni: 300 }
l2:
  learning: true
  segments:
    - { name: s0, port: acc, vlan: 10, vni: 100 }
    - { name: s1, port: acc, vlan: 20, vni: 200, static_macs: [{ mac: "02:00:00:00:5a:01", remote: 198.18.1.6 }] }
    - { name: s2, port: acc, vlan: 30, vni: 300 }
"#;
    let g = Gw::start(&dir, "segments", Ports::new(&ul, &acc, &prefix), tables);
    let learned_line = "02:00:00:00:ee:07 segment s2 remote 198.18.1.7";
    // Frames to the MAC before it was learned are dropped (no flood
    // list): the drops from then on are the baseline.
    segment_until(&g, "both MACs forward", |c| c.0 >= 3000 && c.1 >= 3000);
    let learned = g.ok(&["learned", "list"]);
    assert!(learned.starts_with(learned_line), "{learned}");
    let c = segment_counters(&g);

    let out = g.ok(&["segment", "del", "s0"]);
    assert!(out.contains("every table made anew"), "{out}");
    let listed = g.ok(&["segment", "list"]);
    assert_eq!(
        lines(&listed)
            .iter()
            .map(|l| l.split(" port ").next().unwrap())
            .collect::<Vec<_>>(),
        ["s1 index 0", "s2 index 1"],
        "{listed}"
    );
    let learned = g.ok(&["learned", "list"]);
    assert!(
        learned.starts_with(learned_line),
        "it followed s2: {learned}"
    );
    let err = g.refused(&["decap", "get", "--vni", "100"]);
    assert!(err.contains("VNI 100 has no decap entry"), "{err}");
    let s = segment_counters(&g);
    let e = segment_until(&g, "both MACs forward after the delete", |c| {
        c.0 >= s.0 + 3000 && c.1 >= s.1 + 3000
    });
    assert_eq!(e.2, c.2, "dropped after the delete: {c:?} -> {e:?}");

    // Refused as the file refuses it: VLAN 20 is s1's.
    let err = g.refused(&[
        "segment", "add", "--name", "s3", "--port", "acc", "--vlan", "20", "--vni", "400",
    ]);
    assert!(err.contains("add_segment.vlan"), "{err}");
    let out = g.ok(&[
        "segment", "add", "--name", "s3", "--port", "acc", "--vlan", "40", "--vni", "400",
    ]);
    assert!(out.contains("every table made anew"), "{out}");
    g.ok(&[
        "mac",
        "add",
        "--segment",
        "s3",
        "--mac",
        "02:00:00:00:5a:04",
        "--remote",
        "198.18.1.6",
    ]);
    let got = g.ok(&["segment", "get", "s3"]);
    assert!(
        got.starts_with("s3 index 2 port acc vlan 40 vni 400"),
        "{got}"
    );
    assert!(got.contains("static_macs 1"), "{got}");
    let s = segment_counters(&g);
    let e = segment_until(&g, "both MACs forward after the add", |c| {
        c.0 >= s.0 + 3000 && c.1 >= s.1 + 3000
    });
    assert_eq!(e.2, c.2, "dropped after the add: {c:?} -> {e:?}");
    let r = g.stop();
    assert!(r.ok(), "{}\n{}", r.stdout, r.stderr);
}
