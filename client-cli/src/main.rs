//! The `kith` binary: all logic lives in the library (`kith::cli`, `kith::daemon`).
#![forbid(unsafe_code)]

use clap::Parser;
use kith::args::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Daemon { stop: false } => kith::daemon::run(cli).await,
        _ => kith::cli::run(cli).await,
    }
}
