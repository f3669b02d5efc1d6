//! `geneve-gw` command line.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "geneve-gw", version, about = "Geneve (RFC 8926) tunnel gateway on DPDK")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() {
    let _cli = Cli::parse();
}
