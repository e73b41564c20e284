//! The `kith-relay` binary: parses settings, then runs an admin subcommand, or starts the
//! relay and waits for SIGINT/SIGTERM (SIGHUP reloads the TLS files).
#![forbid(unsafe_code)]

use clap::Parser;
use kith_i18n::t;
use kith_relay::{Cli, Settings};
use std::io::Write;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // What the relay says to its operator is in the environment's language (LC_ALL,
    // LC_MESSAGES, LANG); logs and the machine-readable lines below stay English.
    kith_i18n::set_lang(kith_i18n::Lang::from_env());
    let mut cli = Cli::parse();
    let command = cli.command.take();
    if let Some(kith_relay::admin::Command::GenerateDocs { dir }) = &command {
        return match kith_relay::docs::write(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "kith-relay: {}",
                    t!(
                        "relay-docs-failed",
                        dir = dir.display().to_string(),
                        error = e.to_string()
                    )
                );
                ExitCode::FAILURE
            }
        };
    }
    // Logs go to stderr; `KITH_RELAY_LOG` (or `RUST_LOG`) sets the filter. At `info` and
    // above nothing names a client, a group, a slot or an address. Admin subcommands
    // print their results on stdout and log only warnings by default.
    let default_level = if command.is_some() { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("KITH_RELAY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let settings = match Settings::resolve(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kith-relay: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(command) = command {
        return kith_relay::admin::run(command, settings).await;
    }
    // The data directory as the operator can find it: absolute (the default is relative
    // to wherever the relay was started). It exists once the relay has started.
    let data = settings.data.clone();
    let running = match kith_relay::start(settings).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kith-relay: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // Machine-readable lines on stdout, for scripts and tests that start the relay on
    // port 0 (they look for these prefixes, so these two are never translated); then,
    // for the operator, where the relay keeps its data.
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kith-relay listening on {}", running.addr);
        if let Some(m) = running.metrics_addr {
            let _ = writeln!(out, "kith-relay metrics on {m}");
        }
        let data = std::fs::canonicalize(&data).unwrap_or(data);
        let _ = writeln!(
            out,
            "{}",
            t!("relay-started-data", path = data.display().to_string())
        );
        let _ = out.flush();
    }
    tracing::info!(addr = %running.addr, "relay listening");

    wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown();
    match running.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
