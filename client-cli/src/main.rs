//! The `kith` binary: all logic lives in the library (`kith::cli`).
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    kith::cli::run(kith::cli::Cli::parse()).await
}
