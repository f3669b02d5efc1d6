//! `geneve-gw` command line: parses the arguments and hands each subcommand
//! to its module in `geneve_gw::cmd`.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use geneve_gw::cmd;

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
    /// Run the gateway from a configuration file.
    #[cfg(feature = "dpdk")]
    #[command(after_help = "Examples:\n  \
        geneve-gw run -c config/l2-gateway.yaml\n  \
        geneve-gw run -c gw.yaml --stop-after-idle 1000 -- --no-pci   (EAL arguments after `--` extend the file's)\n  \
        geneve-gw run -c config/l2-gateway.yaml -- -l 0,1 --no-huge -m 512 \\\n      \
          --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1   (a core list or devices replace the file's)\n\n\
        SIGINT/SIGTERM stop it; SIGHUP reloads the file (refused, with the errors, if it does not pass `check`).")]
    Run(cmd::run::RunArgs),
    /// Forward between ports paired in twos (0<->1, 2<->3), l2fwd style: the
    /// DPDK baseline the gateway is measured against.
    #[cfg(feature = "dpdk")]
    #[command(after_help = "Examples:\n  \
        geneve-gw forward --stop-after-idle 500 -- -l 0-1 --no-huge -m 512 \\\n      \
          --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap --vdev net_null0\n  \
        geneve-gw forward -- -l 0-1 --vdev net_null0 --vdev net_null1   (Ctrl-C stops)")]
    Forward(cmd::forward::ForwardArgs),
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
    Gen(Box<cmd::gen::GenArgs>),
    /// Print every port's offload capabilities and where the gateway runs each
    /// feature (hardware or software, and why); forwards no traffic.
    #[cfg(feature = "dpdk")]
    #[command(after_help = "Examples:\n  \
        geneve-gw probe -- --no-pci --no-huge -m 256 --vdev net_null0\n  \
        geneve-gw probe -c gw.yaml --validate   (create and destroy each decap rule the gateway would install)\n\n\
        Exit status 0 once every port was probed, also when rules were refused (they are reported); 1 on errors.")]
    Probe(cmd::probe::ProbeArgs),
    /// Validate a configuration file without starting DPDK; every error names
    /// the file, line, column and field.
    #[command(after_help = "Example:\n  geneve-gw check -c config/l2-gateway.yaml")]
    Check(cmd::check::CheckArgs),
    /// Show a running gateway's counters, drops, latency and table sizes
    /// (read over its DPDK telemetry socket).
    #[command(after_help = "Examples:\n  \
        geneve-gw stats --file-prefix gw1\n  \
        geneve-gw stats --file-prefix gw1 --json")]
    Stats(cmd::stats::StatsArgs),
    /// Change and read a running gateway through its control API (tunnels,
    /// routes, MACs, decap VNIs, transactions, counters, reload, save).
    #[command(after_help = "Examples:\n  \
        geneve-gw ctl --file-prefix gw1 tunnel add --name t1 --remote 198.18.1.2 --vni 1000\n  \
        geneve-gw ctl -c gw.yaml route add --prefix 198.19.0.0/16 --tunnel t1\n  \
        geneve-gw ctl --file-prefix gw1 route list --prefix 198.19.0.0/16 --json\n  \
        geneve-gw ctl --file-prefix gw1 counters\n\n\
        Exit status: 0 done; 1 refused by the gateway (its error is printed); 2 usage or no gateway.")]
    Ctl(Box<cmd::ctl::CtlArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "dpdk")]
        Command::Run(a) => cmd::run::execute(a),
        #[cfg(feature = "dpdk")]
        Command::Forward(a) => cmd::forward::execute(a),
        #[cfg(feature = "dpdk")]
        Command::Gen(a) => cmd::gen::execute(&a),
        #[cfg(feature = "dpdk")]
        Command::Probe(a) => cmd::probe::execute(a),
        Command::Check(a) => cmd::check::execute(&a),
        Command::Stats(a) => cmd::stats::execute(&a),
        Command::Ctl(a) => return ExitCode::from(cmd::ctl::execute(*a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
