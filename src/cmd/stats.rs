//! `geneve-gw stats`: a running gateway's numbers, read over its DPDK
//! telemetry socket (the client is `control::stats_client`).
use std::path::PathBuf;

use clap::Args;

use crate::control::stats_client;

/// `geneve-gw stats` options.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The gateway's EAL --file-prefix (eal.file_prefix in its configuration).
    #[arg(long, value_name = "PREFIX", default_value = "rte")]
    pub file_prefix: String,
    /// Take the file prefix from the gateway's configuration file instead.
    #[arg(short, long, value_name = "FILE", conflicts_with = "file_prefix")]
    pub config: Option<PathBuf>,
    /// Print the raw telemetry replies as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also this tunnel's counters (packets and bytes each way, encap drops).
    #[arg(long, value_name = "NAME")]
    pub tunnel: Option<String>,
    /// Also this decap VNI's counters (packets, bytes, drops).
    #[arg(long, value_name = "N")]
    pub vni: Option<u32>,
    /// Also the N tunnels with the most packets (at most 40).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
}

/// Runs `geneve-gw stats`.
pub fn execute(a: &StatsArgs) -> Result<(), String> {
    let prefix = match &a.config {
        Some(p) => crate::config::load(p)
            .map_err(|e| format!("{} is not valid:\n{e}", p.display()))?
            .eal
            .file_prefix
            .unwrap_or_else(|| "rte".to_string()),
        None => a.file_prefix.clone(),
    };
    let path = stats_client::socket_path(&prefix);
    let mut t = stats_client::Telemetry::connect(&path)?;
    let mut all = stats_client::collect(&mut t)?;
    stats_client::collect_entries(&mut t, &mut all, a.tunnel.as_deref(), a.vni, a.top)?;
    if a.json {
        println!("{}", serde_json::Value::Object(all));
    } else {
        print!("{}", stats_client::render(&all, t.pid));
    }
    Ok(())
}
