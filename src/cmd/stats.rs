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
    let all = stats_client::collect(&mut t)?;
    if a.json {
        println!("{}", serde_json::Value::Object(all));
    } else {
        print!("{}", stats_client::render(&all, t.pid));
    }
    Ok(())
}
