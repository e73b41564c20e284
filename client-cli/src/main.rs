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
    let mut cli = Cli::parse();
    if let Some(lang) = cli.lang {
        kith_i18n::set_lang(lang);
    }
    kith_i18n::set_utc(cli.utc);
    if let Err(e) = kith::config::load().and_then(|s| kith::config::apply(&s, &mut cli)) {
        eprintln!("kith: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Daemon { stop: false } => kith::daemon::run(cli).await,
        _ => kith::cli::run(cli).await,
    }
}
