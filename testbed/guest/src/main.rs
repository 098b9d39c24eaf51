//! `migrate-check`: page-migration workload for the dcbm testbed guest.
//!
//! Built statically for the busybox initramfs guest:
//! `cargo build --release --target x86_64-unknown-linux-musl -p dcbm-guest`.

#![deny(clippy::undocumented_unsafe_blocks)]

mod cli;
mod commands;
mod mapping;
mod numa;
mod pattern;
mod report;
mod workload;
mod writer;

use clap::error::ErrorKind;
use clap::Parser;

use cli::{Cli, Cmd, EXIT_USAGE};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_USAGE,
            };
            std::process::exit(code);
        }
    };
    if let Err(msg) = cli::validate(&cli) {
        eprintln!("error: {msg}");
        std::process::exit(EXIT_USAGE);
    }
    let code = match &cli.cmd {
        Cmd::Run(a) => commands::run(a),
        Cmd::Loop(a) => commands::run_loop(a),
        Cmd::Bench(a) => commands::bench(a),
        Cmd::Latency(a) => commands::latency(a),
        Cmd::Stall(a) => commands::stall(a),
        Cmd::Pressure(a) => commands::pressure(a),
        Cmd::Nodes => commands::nodes(),
    };
    std::process::exit(code);
}
