//! `geneve-gw` command line.
use std::process::ExitCode;
#[cfg(feature = "dpdk")]
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "geneve-gw",
    version = concat!(env!("CARGO_PKG_VERSION"), " (built against DPDK ", env!("GENEVE_GW_DPDK_VERSION"), ")"),
    about = "Geneve (RFC 8926) tunnel gateway on DPDK",
    after_help = "DPDK EAL arguments follow `--`, e.g.\n  geneve-gw forward -- -l 0-1 --vdev net_null0 --vdev net_null1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Forward between ports paired in twos (0<->1, 2<->3), l2fwd style: the
    /// DPDK baseline the gateway is measured against.
    #[command(after_help = "Examples:\n  \
        geneve-gw forward --stop-after-idle 500 -- -l 0-1 --no-huge -m 512 \\\n      \
          --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap --vdev net_null0\n  \
        geneve-gw forward -- -l 0-1 --vdev net_null0 --vdev net_null1   (Ctrl-C stops)")]
    /// Run the gateway from a configuration file.
    #[cfg(feature = "dpdk")]
    #[command(after_help = "Examples:\n  \
        geneve-gw run -c config/l2-gateway.yaml\n  \
        geneve-gw run -c gw.yaml --stop-after-idle 1000 -- --no-pci   (EAL arguments after `--` extend the file's)\n\n\
        SIGINT/SIGTERM stop it; SIGHUP reloads the file (refused, with the errors, if it does not pass `check`).")]
    Run(RunArgs),
    #[cfg(feature = "dpdk")]
    Forward(ForwardArgs),
    /// Traffic generator and sink in one (one lcore): inner or Geneve
    /// traffic, flows, sizes, a rate; counts loss and reorder and measures
    /// round-trip latency through the device under test.
    #[cfg(feature = "dpdk")]
    #[command(
        after_help = "Example (a DUT with memif server ports on the other end):\n  \
        geneve-gw gen --tx-port net_memif0 --rx-port net_memif1 --flows 256 --rate 1M --duration 5 -- \\\n      \
          -l 0 --no-pci --in-memory --vdev net_memif0,role=client,socket=/tmp/a.sock,socket-abstract=no \\\n      \
          --vdev net_memif1,role=client,socket=/tmp/b.sock,socket-abstract=no\n\n\
        Prints sent/received/lost/reordered, Mpps and latency p50/p99/p99.9/max, and one\n\
        `gen-result key=value ...` line for scripts."
    )]
    Gen(Box<geneve_gw::control::gen::GenArgs>),
    /// Print every port's offload capabilities and where the gateway runs each
    /// feature (hardware or software, and why); forwards no traffic.
    #[cfg(feature = "dpdk")]
    #[command(after_help = "Examples:\n  \
        geneve-gw probe -- --no-pci --no-huge -m 256 --vdev net_null0\n  \
        geneve-gw probe -c gw.yaml --validate   (create and destroy each decap rule the gateway would install)\n\n\
        Exit status 0 once every port was probed, also when rules were refused (they are reported); 1 on errors.")]
    Probe(ProbeArgs),
    /// Validate a configuration file without starting DPDK; every error names
    /// the file, line, column and field.
    #[command(after_help = "Example:\n  geneve-gw check -c config/l2-gateway.yaml")]
    Check(CheckArgs),
    /// Show a running gateway's counters, drops, latency and table sizes
    /// (read over its DPDK telemetry socket).
    #[command(after_help = "Examples:\n  \
        geneve-gw stats --file-prefix gw1\n  \
        geneve-gw stats --file-prefix gw1 --json")]
    Stats(StatsArgs),
}

#[derive(Args)]
struct StatsArgs {
    /// The gateway's EAL --file-prefix (eal.file_prefix in its configuration).
    #[arg(long, value_name = "PREFIX", default_value = "rte")]
    file_prefix: String,
    /// Take the file prefix from the gateway's configuration file instead.
    #[arg(short, long, value_name = "FILE", conflicts_with = "file_prefix")]
    config: Option<std::path::PathBuf>,
    /// Print the raw telemetry replies as one JSON object.
    #[arg(long)]
    json: bool,
}

fn stats(a: StatsArgs) -> Result<(), String> {
    use geneve_gw::control::stats_client;
    let prefix = match &a.config {
        Some(p) => geneve_gw::config::load(p)
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

#[derive(Args)]
struct CheckArgs {
    /// The gateway configuration (YAML).
    #[arg(short, long, value_name = "FILE")]
    config: std::path::PathBuf,
}

fn check(a: CheckArgs) -> Result<(), String> {
    let cfg = geneve_gw::config::load(&a.config).map_err(|e| {
        let n = e.to_string().lines().count();
        format!("{} has {n} error(s):\n{e}", a.config.display())
    })?;
    println!(
        "{}: OK ({} port(s), {} tunnel(s))",
        a.config.display(),
        cfg.ports.len(),
        cfg.tunnels.len()
    );
    Ok(())
}

#[cfg(feature = "dpdk")]
#[derive(Args)]
struct RunControl {
    /// Stop after this many packets were received in total.
    #[arg(long, value_name = "N")]
    stop_after_packets: Option<u64>,
    /// Stop when no packet was received for this many milliseconds.
    #[arg(long, value_name = "MS")]
    stop_after_idle: Option<u64>,
    /// Seconds between live summary lines (0: none).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    stats_interval: f64,
    /// Show the EAL's own log.
    #[arg(short, long)]
    verbose: bool,
}

#[cfg(feature = "dpdk")]
#[derive(Args)]
struct RunArgs {
    /// The gateway configuration (YAML).
    #[arg(short, long, value_name = "FILE")]
    config: std::path::PathBuf,
    #[command(flatten)]
    control: RunControl,
    /// TX checksum offload: `auto` (where the underlay port has it) or `off`
    /// (all in software); overrides the file's `offload:`.
    #[arg(long, value_name = "auto|off")]
    offload: Option<geneve_gw::config::Offload>,
    /// More DPDK EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL_ARGS")]
    eal_args: Vec<String>,
}

#[cfg(feature = "dpdk")]
fn run(a: RunArgs) -> Result<(), String> {
    let opts = geneve_gw::control::run::RunOptions {
        config_path: a.config,
        stats_interval: a.control.interval()?,
        stop: a.control.stop(),
        verbose: a.control.verbose,
        eal_args: a.eal_args,
        offload: a.offload,
    };
    geneve_gw::control::run::run(&opts)
}

#[cfg(feature = "dpdk")]
#[derive(Args)]
struct ProbeArgs {
    /// A gateway configuration: its eal section is used and its VNIs decide
    /// which decap rules --validate tries.
    #[arg(short, long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Also create and destroy each rte_flow rule, printing the PMD's answer
    /// and the testpmd command line that replays it.
    #[arg(long)]
    validate: bool,
    /// Show the EAL's own log.
    #[arg(short, long)]
    verbose: bool,
    /// DPDK EAL arguments, after `--` (they follow the file's).
    #[arg(last = true, value_name = "EAL_ARGS")]
    eal_args: Vec<String>,
}

#[cfg(feature = "dpdk")]
#[derive(Args)]
struct ForwardArgs {
    /// Worker count (default: one per worker lcore of the EAL core list).
    #[arg(long)]
    workers: Option<usize>,
    /// RX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    rxd: u16,
    /// TX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    txd: u16,
    /// Port MTU (default: the device's).
    #[arg(long)]
    mtu: Option<u16>,
    /// Mbufs in the pool (default: sized from ports, queues and descriptors).
    #[arg(long)]
    mbufs: Option<u32>,
    #[command(flatten)]
    control: RunControl,
    /// DPDK EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL_ARGS")]
    eal_args: Vec<String>,
}

#[cfg(feature = "dpdk")]
impl RunControl {
    fn stop(&self) -> geneve_gw::control::StopConditions {
        geneve_gw::control::StopConditions {
            after_packets: self.stop_after_packets,
            after_idle: self.stop_after_idle.map(Duration::from_millis),
        }
    }

    fn interval(&self) -> Result<Option<Duration>, String> {
        if !self.stats_interval.is_finite() || self.stats_interval < 0.0 {
            return Err(format!(
                "--stats-interval {} is not a number of seconds >= 0",
                self.stats_interval
            ));
        }
        Ok((self.stats_interval > 0.0).then(|| Duration::from_secs_f64(self.stats_interval)))
    }
}

#[cfg(feature = "dpdk")]
fn forward(a: ForwardArgs) -> Result<(), String> {
    if a.eal_args.is_empty() {
        return Err(
            "no DPDK devices given: put EAL arguments after `--`, e.g. `geneve-gw forward -- -l 0-1 --vdev net_null0 --vdev net_null1`"
                .into(),
        );
    }
    let opts = geneve_gw::dataplane::forward::ForwardOptions {
        workers: a.workers,
        rx_desc: a.rxd,
        tx_desc: a.txd,
        mtu: a.mtu,
        mbufs: a.mbufs,
        stats_interval: a.control.interval()?,
        stop: a.control.stop(),
        verbose: a.control.verbose,
        eal_args: a.eal_args,
    };
    geneve_gw::dataplane::forward::run(&opts)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "dpdk")]
        Command::Run(a) => run(a),
        #[cfg(feature = "dpdk")]
        Command::Forward(a) => forward(a),
        #[cfg(feature = "dpdk")]
        Command::Gen(a) => geneve_gw::control::gen::run(&a),
        #[cfg(feature = "dpdk")]
        Command::Probe(a) => {
            geneve_gw::control::probe::probe(&geneve_gw::control::probe::ProbeOptions {
                config_path: a.config,
                validate: a.validate,
                verbose: a.verbose,
                eal_args: a.eal_args,
            })
        }
        Command::Check(a) => check(a),
        Command::Stats(a) => stats(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
