//! The `kith` binary: all logic lives in the library (`kith::cli`, `kith::daemon`).
#![forbid(unsafe_code)]

use clap::FromArgMatches;
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
    // `--lang` before anything is parsed, so that the help and clap's errors are in it.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(lang) = lang_arg(&args) {
        kith_i18n::set_lang(lang);
    }
    let mut cli = match kith::help::command()
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let shown = matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            // The help and the version print as they are; English readers get clap's
            // own message, everyone else one in their language (clap has no other).
            if shown || kith_i18n::lang() == kith_i18n::Lang::En {
                e.exit();
            }
            eprint!("{}", kith::help::explain(&e, &args, kith_i18n::lang()));
            return ExitCode::from(2);
        }
    };
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

/// The language a `--lang X` or `--lang=X` among the arguments asks for.
fn lang_arg(args: &[std::ffi::OsString]) -> Option<kith_i18n::Lang> {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    args.iter().enumerate().find_map(|(i, a)| {
        let value = match a.strip_prefix("--lang") {
            Some("") => args.get(i + 1).copied(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        value.and_then(kith_i18n::Lang::parse)
    })
}
