//! `geneve-gw check`: validates a configuration file without starting DPDK.
use std::path::PathBuf;

use clap::Args;

/// `geneve-gw check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The gateway configuration (YAML).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Also write the configuration as the gateway holds it (defaults
    /// filled in, long lists one entry per line) to FILE; `geneve-gw check`
    /// accepts it and it loads into the same tables.
    #[arg(long, value_name = "FILE")]
    pub emit: Option<PathBuf>,
}

/// Runs `geneve-gw check`: every error names the file, line, column and
/// field; past the first `config::SHOWN_ERRORS` the rest are counted.
pub fn execute(a: &CheckArgs) -> Result<(), String> {
    let cfg = crate::config::load(&a.config)
        .map_err(|e| format!("{} has {} error(s):\n{e}", a.config.display(), e.len()))?;
    println!(
        "{}: OK ({} port(s), {} tunnel(s))",
        a.config.display(),
        cfg.ports.len(),
        cfg.tunnels.len()
    );
    if let Some(out) = &a.emit {
        crate::config::save(&cfg, out)?;
        println!("{}: saved", out.display());
    }
    Ok(())
}
