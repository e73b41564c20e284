//! The `kith` binary: all logic lives in the library (`kith::cli`, `kith::daemon`).
#![forbid(unsafe_code)]

use clap::Parser;
use kith::args::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(lang) = std::env::var("KITH_LANG")
        .ok()
        .and_then(|l| kith_i18n::Lang::parse(&l))
    {
        kith_i18n::set_lang(lang);
    }
    let cli = Cli::parse();
    if let Some(lang) = cli.lang {
        kith_i18n::set_lang(lang);
    }
    kith_i18n::set_utc(cli.utc);
    match cli.command {
        Command::Daemon { stop: false } => kith::daemon::run(cli).await,
        _ => kith::cli::run(cli).await,
    }
}
