//! `geneve-gw stats`: reads a running gateway's `/geneve_gw/...` commands
//! over its DPDK telemetry socket (the same data `dpdk-telemetry.py` shows).
//!
//! The socket is `SOCK_SEQPACKET`, which std does not offer; `socket2` does,
//! safely. The protocol (DPDK telemetry v2): on connect the server sends one
//! JSON object (version, pid, max_output_len); each command written gets one
//! JSON reply `{"<command>": <value>}`.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use socket2::{Domain, SockAddr, Socket, Type};

/// The telemetry socket of the DPDK process with this `--file-prefix`
/// (DPDK's runtime directory rules: /var/run/dpdk for root, else
/// $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk).
pub fn socket_path(file_prefix: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let base = if root {
        PathBuf::from("/var/run/dpdk")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("dpdk"))
            .unwrap_or_else(|| PathBuf::from("/tmp/dpdk"))
    };
    base.join(file_prefix).join("dpdk_telemetry.v2")
}

/// A connection to one DPDK process's telemetry.
pub struct Telemetry {
    sock: Socket,
    buf: Vec<u8>,
    pub pid: u64,
}

impl Telemetry {
    pub fn connect(path: &Path) -> Result<Telemetry, String> {
        let not_running = |e: std::io::Error| {
            format!(
                "no running gateway answers on {} ({e}); is `geneve-gw run` up with this --file-prefix?",
                path.display()
            )
        };
        let sock = Socket::new(Domain::UNIX, Type::SEQPACKET, None).map_err(not_running)?;
        let addr = SockAddr::unix(path).map_err(not_running)?;
        sock.connect(&addr).map_err(not_running)?;
        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut t = Telemetry {
            sock,
            buf: vec![0; 1 << 16],
            pid: 0,
        };
        let hello = t.read_json()?;
        t.pid = hello.get("pid").and_then(Value::as_u64).unwrap_or(0);
        Ok(t)
    }

    fn read_json(&mut self) -> Result<Value, String> {
        let n = self
            .sock
            .read(&mut self.buf)
            .map_err(|e| format!("telemetry read: {e}"))?;
        if n == 0 {
            return Err("the gateway closed the telemetry connection (too many clients?)".into());
        }
        serde_json::from_slice(&self.buf[..n]).map_err(|e| format!("telemetry reply: {e}"))
    }

    /// Runs `cmd` (e.g. `/geneve_gw/port,0`); returns its value (null when
    /// the command is unknown or failed).
    pub fn query(&mut self, cmd: &str) -> Result<Value, String> {
        self.sock
            .write_all(cmd.as_bytes())
            .map_err(|e| format!("telemetry write: {e}"))?;
        let reply = self.read_json()?;
        let key = cmd.split(',').next().unwrap_or(cmd);
        Ok(reply.get(key).cloned().unwrap_or(Value::Null))
    }
}

/// Every `/geneve_gw/...` reply, keyed by command (`/geneve_gw/port,N` for each port).
pub fn collect(t: &mut Telemetry) -> Result<Map<String, Value>, String> {
    let mut all = Map::new();
    for cmd in [
        "/geneve_gw/counters",
        "/geneve_gw/drops",
        "/geneve_gw/drop_reasons",
        "/geneve_gw/latency",
        "/geneve_gw/tables",
        "/geneve_gw/table_limits",
        "/geneve_gw/ports",
    ] {
        all.insert(cmd.to_string(), t.query(cmd)?);
    }
    let counters = &all["/geneve_gw/counters"];
    if !counters.is_object() {
        return Err(format!(
            "the DPDK process (pid {}) has no gateway counters: it is not `geneve-gw run`, or it is still starting",
            t.pid
        ));
    }
    let ids: Vec<u64> = all["/geneve_gw/ports"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    for id in ids {
        let cmd = format!("/geneve_gw/port,{id}");
        let v = t.query(&cmd)?;
        all.insert(cmd, v);
    }
    Ok(all)
}

/// The per-entry replies `geneve-gw stats` was asked for: one tunnel
/// (`/geneve_gw/tunnel,NAME`), one VNI (`/geneve_gw/vni,N`), the top N
/// tunnels (`/geneve_gw/top_tunnels,N`), added to `all` under those
/// commands. A tunnel or VNI the gateway does not count is an error that
/// says why.
pub fn collect_entries(
    t: &mut Telemetry,
    all: &mut Map<String, Value>,
    tunnel: Option<&str>,
    vni: Option<u32>,
    top: Option<usize>,
) -> Result<(), String> {
    if let Some(name) = tunnel {
        let v = entry_reply(t.query(&format!("/geneve_gw/tunnel,{name}"))?, || {
            format!("tunnel `{name}`: no counters (no such tunnel, a tunnel added in the last second, or more tunnels than the counter arrays hold)")
        })?;
        all.insert("/geneve_gw/tunnel".into(), v);
    }
    if let Some(n) = vni {
        let v = entry_reply(t.query(&format!("/geneve_gw/vni,{n}"))?, || {
            format!("VNI {n}: no counters (no decap entry for it)")
        })?;
        all.insert("/geneve_gw/vni".into(), v);
    }
    if let Some(n) = top {
        let v = entry_reply(t.query(&format!("/geneve_gw/top_tunnels,{n}"))?, || {
            "the gateway does not answer /geneve_gw/top_tunnels (an older build?)".into()
        })?;
        all.insert("/geneve_gw/top_tunnels".into(), v);
    }
    Ok(())
}

/// A per-entry command's reply: its `error` text when the gateway gave
/// one (per-entry counters off in the configuration), `missing()` when it
/// answered null.
fn entry_reply(v: Value, missing: impl FnOnce() -> String) -> Result<Value, String> {
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Err(e.to_string());
    }
    if !v.is_object() {
        return Err(missing());
    }
    Ok(v)
}

fn num(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The readable table `geneve-gw stats` prints.
pub fn render(all: &Map<String, Value>, pid: u64) -> String {
    let mut o = String::new();
    let c = &all["/geneve_gw/counters"];
    o += &format!(
        "geneve-gw pid {pid}, up {:.1} s, {} worker(s)\n",
        num(c, "uptime_ms") as f64 / 1000.0,
        num(c, "workers")
    );
    o += &format!(
        "{:<12} {:>6} {:>16} {:>16} {:>12}\n",
        "port", "id", "rx packets", "tx packets", "tx dropped"
    );
    let mut ports: Vec<(&String, &Value)> = all
        .iter()
        .filter(|(k, _)| k.starts_with("/geneve_gw/port,"))
        .collect();
    ports.sort_by_key(|(_, v)| num(v, "port_id"));
    for (_, p) in ports {
        o += &format!(
            "{:<12} {:>6} {:>16} {:>16} {:>12}\n",
            p.get("name").and_then(Value::as_str).unwrap_or("?"),
            num(p, "port_id"),
            num(p, "rx_packets"),
            num(p, "tx_packets"),
            num(p, "tx_dropped")
        );
    }
    for k in [
        "encap",
        "decap",
        "geneve_encap",
        "vxlan_encap",
        "geneve_decap",
        "vxlan_decap",
        "stitched",
        "options_not_carried",
        "punted",
        "geneve_control",
        "learn_refused",
        "event_queue_full",
        "control_replies",
        "drops_total",
    ] {
        o += &format!("{:<16} {:>16}\n", k, num(c, k));
    }
    if let Some(d) = all["/geneve_gw/drops"].as_object() {
        for (r, n) in d {
            if n.as_u64().unwrap_or(0) > 0 {
                let help = crate::tunnel::DropReason::from_name(r).map_or("", |d| d.help());
                o += &format!("  drop {:<28} {:>16}  {help}\n", r, n);
            }
        }
    }
    let l = &all["/geneve_gw/latency"];
    if num(l, "enabled") == 1 {
        let us = |k: &str| num(l, k) as f64 / 1000.0;
        o += &format!(
            "latency p50 {:.1} us p99 {:.1} us p99.9 {:.1} us max {:.1} us ({} packets)\n",
            us("p50_ns"),
            us("p99_ns"),
            us("p999_ns"),
            us("max_ns"),
            num(l, "samples")
        );
    } else {
        o += "latency not measured (metrics.latency: false)\n";
    }
    if let Some(t) = all["/geneve_gw/tables"].as_object() {
        let limits = all
            .get("/geneve_gw/table_limits")
            .and_then(|l| l.as_object());
        let parts: Vec<String> = t
            .iter()
            .map(|(k, v)| {
                let limit = limits.and_then(|l| l.get(&format!("{k}_limit")));
                let refused = limits.and_then(|l| l.get(&format!("{k}_refused")));
                match (limit, refused) {
                    (Some(l), Some(r)) => format!("{k} {v}/{l} (refused {r})"),
                    _ => format!("{k} {v}"),
                }
            })
            .collect();
        o += &format!("tables: {}\n", parts.join(", "));
    }
    let tunnel_head = || {
        format!(
            "{:<20} {:>14} {:>16} {:>12} {:>14} {:>16}\n",
            "tunnel", "encap packets", "encap bytes", "encap drops", "decap packets", "decap bytes"
        )
    };
    let tunnel_line = |name: &str, v: &Value, pre: &str| {
        let n = |k: &str| num(v, &format!("{pre}{k}"));
        format!(
            "{:<20} {:>14} {:>16} {:>12} {:>14} {:>16}\n",
            name,
            n("encap_packets"),
            n("encap_bytes"),
            n("encap_drops"),
            n("decap_packets"),
            n("decap_bytes")
        )
    };
    if let Some(t) = all.get("/geneve_gw/tunnel") {
        o += &tunnel_head();
        o += &tunnel_line(t.get("name").and_then(Value::as_str).unwrap_or("?"), t, "");
    }
    if let Some(v) = all.get("/geneve_gw/vni") {
        o += &format!(
            "vni {}: {} packets, {} bytes, {} drops\n",
            num(v, "vni"),
            num(v, "packets"),
            num(v, "bytes"),
            num(v, "drops")
        );
    }
    if let Some(top) = all.get("/geneve_gw/top_tunnels") {
        o += "top tunnels by packets:\n";
        o += &tunnel_head();
        for i in 0.. {
            let pre = format!("t{i}_");
            let Some(name) = top.get(format!("{pre}name")).and_then(Value::as_str) else {
                break;
            };
            o += &tunnel_line(name, top, &pre);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A per-entry reply with an `error` (per-entry counters off) fails
    /// with the gateway's text, not the "no such tunnel" guess a null
    /// reply gets; a reply with counters passes through.
    #[test]
    fn entry_reply_reports_the_gateway_s_error() {
        let off = crate::control::telemetry::ENTRY_COUNTERS_OFF;
        let missing = || "no counters".to_string();
        let v = serde_json::json!({ "error": off });
        assert_eq!(entry_reply(v, missing), Err(off.to_string()));
        assert_eq!(entry_reply(Value::Null, missing), Err("no counters".into()));
        let ok = serde_json::json!({ "name": "t", "encap_packets": 3 });
        assert_eq!(entry_reply(ok.clone(), missing), Ok(ok));
    }

    #[test]
    fn render_shows_the_per_encapsulation_counters() {
        let all: Map<String, Value> = serde_json::from_str(
            r#"{
                "/geneve_gw/counters": {"uptime_ms": 1500, "workers": 1, "encap": 10,
                    "decap": 4, "geneve_encap": 7, "vxlan_encap": 3, "geneve_decap": 4,
                    "vxlan_decap": 0, "stitched": 6, "options_not_carried": 2},
                "/geneve_gw/drops": {}, "/geneve_gw/latency": {"enabled": 0},
                "/geneve_gw/tables": {}
            }"#,
        )
        .unwrap();
        let out = render(&all, 42);
        for (k, v) in [
            ("vxlan_encap", 3),
            ("geneve_encap", 7),
            ("vxlan_decap", 0),
            ("stitched", 6),
            ("options_not_carried", 2),
        ] {
            assert!(
                out.lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>() == [k, &v.to_string()]),
                "no `{k} {v}` in:\n{out}"
            );
        }
    }

    /// A bounded table shows entries over its limit and what it refused;
    /// an unbounded one its entries only.
    #[test]
    fn render_shows_table_limits_and_refusals() {
        let all: Map<String, Value> = serde_json::from_str(
            r#"{
                "/geneve_gw/counters": {"uptime_ms": 1500, "workers": 1},
                "/geneve_gw/drops": {}, "/geneve_gw/latency": {"enabled": 0},
                "/geneve_gw/tables": {"tunnels": 2, "neighbors": 4},
                "/geneve_gw/table_limits": {"neighbors_limit": 4, "neighbors_refused": 7}
            }"#,
        )
        .unwrap();
        let out = render(&all, 42);
        let line = out.lines().find(|l| l.starts_with("tables:")).unwrap();
        assert_eq!(
            line, "tables: neighbors 4/4 (refused 7), tunnels 2",
            "{out}"
        );
    }

    /// `--tunnel`, `--vni` and `--top` show what the telemetry replies
    /// hold, the top list in its order.
    #[test]
    fn render_shows_a_tunnel_a_vni_and_the_top_tunnels() {
        let all: Map<String, Value> = serde_json::from_str(
            r#"{
                "/geneve_gw/counters": {"uptime_ms": 1500, "workers": 1},
                "/geneve_gw/drops": {}, "/geneve_gw/latency": {"enabled": 0},
                "/geneve_gw/tables": {},
                "/geneve_gw/tunnel": {"name": "t7", "encap_packets": 11, "encap_bytes": 1100,
                    "encap_drops": 1, "decap_packets": 3, "decap_bytes": 300},
                "/geneve_gw/vni": {"vni": 5000, "packets": 9, "bytes": 900, "drops": 2},
                "/geneve_gw/top_tunnels": {"t0_name": "big", "t0_encap_packets": 50,
                    "t0_encap_bytes": 5000, "t0_encap_drops": 0, "t0_decap_packets": 5,
                    "t0_decap_bytes": 500, "t1_name": "small", "t1_encap_packets": 2,
                    "t1_encap_bytes": 200, "t1_encap_drops": 0, "t1_decap_packets": 0,
                    "t1_decap_bytes": 0}
            }"#,
        )
        .unwrap();
        let out = render(&all, 1);
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(
            rows.contains(&vec!["t7", "11", "1100", "1", "3", "300"]),
            "{out}"
        );
        assert!(
            out.contains("vni 5000: 9 packets, 900 bytes, 2 drops"),
            "{out}"
        );
        let big = rows
            .iter()
            .position(|r| r.first() == Some(&"big"))
            .expect(&out);
        let small = rows
            .iter()
            .position(|r| r.first() == Some(&"small"))
            .expect(&out);
        assert!(big < small, "top list out of order:\n{out}");
        assert_eq!(rows[big], ["big", "50", "5000", "0", "5", "500"]);
    }
}
