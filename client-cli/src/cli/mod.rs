//! The `kith` command line: parses flags, unlocks the profile (or finds the daemon that
//! holds it), runs the command, prints. Every command is scriptable: no prompt when
//! `KITH_PASSPHRASE` is set, `--json` where a command prints records, and exit codes
//! that mean something (0 ok, 1 failed, 2 usage, 3 still waiting).
//!
//! - [`commands`] and `admin`: the commands on an open profile, writing to an [`out::Out`];
//! - `remote`: the same commands through a running daemon (`rpc.rs`);
//! - [`failure`]: exit codes and retries; [`docs`]: man pages and completions.

mod admin;
pub mod commands;
pub mod docs;
pub mod failure;
pub mod out;
mod outbox;
mod remote;

pub(crate) use remote::connection_settings;

use crate::args::{Cli, Command, GroupCommand};
use crate::engine::{Client, ClientError};
use commands::{dispatch, doctor, relay_of_text};
use failure::{Failure, failed, usage};
use kith_i18n::t;
use out::Out;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    failure::exit(run_inner(cli).await)
}

async fn run_inner(cli: Cli) -> Result<u8, Failure> {
    if let Command::GenerateDocs { dir } = &cli.command {
        docs::write(dir).map_err(|e| {
            failed(t!(
                "profile-docs-failed",
                path = dir.display().to_string(),
                error = e.to_string()
            ))
        })?;
        return Ok(0);
    }
    let home = home_dir(&cli)?;
    let json = cli.json;
    match &cli.command {
        Command::Init { .. }
        | Command::Wipe { .. }
        | Command::Daemon { .. }
        | Command::Passphrase { .. }
            if remote::Remote::connect(&home).await.is_some() =>
        {
            return remote::local_command_with_daemon(&cli, &home).await;
        }
        Command::Init { name } => {
            // Said before the passphrase is asked for, not after it was typed twice.
            if matches!(has_profile(&home), Ok(true)) {
                return Err(profile_exists(&home));
            }
            let pass = match &cli.passphrase_file {
                Some(file) => long_enough(passphrase_from_file(file)?)?,
                None => new_passphrase("KITH_PASSPHRASE", NewPassphrase::First)?,
            };
            let client = Client::init(&home, pass.as_bytes(), name)
                .map_err(|e| profile_failure(&home, e))?;
            println!(
                "{}",
                t!(
                    "profile-created",
                    path = home.display().to_string(),
                    name = client.name(),
                    fingerprint = client.fingerprint()
                )
            );
            return Ok(0);
        }
        Command::Wipe { yes, leave } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(usage(t!("profile-wipe-needs-yes")));
                }
                // The word to type: the reader's, or the English one.
                let word = t!("profile-wipe-word");
                eprint!(
                    "{} ",
                    t!(
                        "profile-wipe-confirm",
                        path = home.display().to_string(),
                        word = &word
                    )
                );
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| usage(e.to_string()))?;
                let typed = line.trim().to_lowercase();
                if typed != "wipe" && typed != word.to_lowercase() {
                    return Err(usage(t!("profile-wipe-not-wiped")));
                }
            }
            if *leave {
                leave_everything(&cli, &home).await?;
            }
            crate::store::wipe(&home).map_err(|e| match e {
                crate::store::StoreError::NoProfile => {
                    failed(t!("profile-wipe-none", path = home.display().to_string()))
                }
                e => failed(e.to_string()),
            })?;
            println!("{}", t!("profile-wiped"));
            return Ok(0);
        }
        Command::Doctor {
            target: Some(target),
        } => {
            if let Some(url) = relay_of_text(target) {
                let mut out = Out::terminal(json);
                return doctor(&[url], &connect_options(&cli)?, &mut out).await;
            }
        }
        _ => {}
    }
    match &cli.command {
        // Without a profile, `doctor` has no group to find relays in.
        Command::Doctor { .. } if surely_no_profile(&home) && !daemon_running(&home).await => {
            return Err(usage(t!(
                "profile-none-doctor",
                path = home.display().to_string()
            )));
        }
        // No daemon answered above: nothing to stop, said without asking for the
        // passphrase.
        Command::Daemon { stop: true } => return Err(usage(t!("profile-no-daemon"))),
        _ => {}
    }
    refuse_plain_ws(&cli)?;
    // A daemon holds the profile: the command goes through it.
    if let Some(remote) = remote::Remote::connect(&home).await {
        return remote.run(&cli).await;
    }
    if let Command::Passphrase { duress, notify } = cli.command {
        return change_passphrase(&cli, &home, duress, notify).await;
    }
    let mut client = open_profile(&cli, &home).await?;
    let mut out = Out::terminal(json);
    let code = match cli.command {
        // `kith daemon` itself starts in main.rs (daemon/).
        Command::Daemon { .. } => Err(usage(t!("profile-no-daemon"))),
        command => dispatch(&mut client, command, &mut out).await,
    };
    client.close().await;
    code
}

/// `kith passphrase [--duress [--notify]]`: unlocks with the passphrase (the duress one
/// does what it does anywhere), then sets the new one.
async fn change_passphrase(
    cli: &Cli,
    home: &std::path::Path,
    duress: bool,
    notify: bool,
) -> Result<u8, Failure> {
    if surely_no_profile(home) {
        return Err(no_profile(home));
    }
    let pass = passphrase(cli)?;
    let client = Client::unlock(home, pass.as_bytes(), connect_options(cli)?)
        .await
        .map_err(|e| profile_failure(home, e))?;
    let which = if duress {
        NewPassphrase::Duress
    } else {
        NewPassphrase::Changed
    };
    let new = new_passphrase("KITH_NEW_PASSPHRASE", which)?;
    if duress {
        if *new == *pass {
            return Err(usage(t!("profile-duress-same")));
        }
        client.set_duress(pass.as_bytes(), new.as_bytes(), notify)?;
        if notify {
            println!("{}", t!("profile-duress-set-notify"));
        } else {
            println!("{}", t!("profile-duress-set"));
        }
    } else {
        client.change_passphrase(new.as_bytes())?;
        println!("{}", t!("profile-passphrase-changed"));
    }
    Ok(0)
}

/// Whether `home` holds a profile (its `profile.key`), where that can be told.
fn has_profile(home: &std::path::Path) -> std::io::Result<bool> {
    home.join(crate::store::PROFILE_KEY_FILE).try_exists()
}

/// Surely no profile in `home` (one that cannot be read is opened, which says why).
fn surely_no_profile(home: &std::path::Path) -> bool {
    matches!(has_profile(home), Ok(false))
}

/// The first run: no profile where the command looked, and how to make one.
fn no_profile(home: &std::path::Path) -> Failure {
    failed(t!("profile-none", path = home.display().to_string()))
}

/// `init` where a profile is already.
fn profile_exists(home: &std::path::Path) -> Failure {
    failed(t!("profile-exists", path = home.display().to_string()))
}

/// A failure to create or open the profile in `home`: the engine's words, or the
/// command line's where they can say where it looked.
fn profile_failure(home: &std::path::Path, e: crate::engine::ClientError) -> Failure {
    use crate::engine::ClientError;
    use crate::store::StoreError;
    match e {
        ClientError::Store(StoreError::NoProfile) => no_profile(home),
        ClientError::Store(StoreError::ProfileExists) => profile_exists(home),
        e => e.into(),
    }
}

/// Which new passphrase is asked for.
#[derive(Clone, Copy)]
enum NewPassphrase {
    /// A new profile's (`kith init`).
    First,
    /// The one that replaces the passphrase (`kith passphrase`).
    Changed,
    /// The duress passphrase (`kith passphrase --duress`).
    Duress,
}

impl NewPassphrase {
    /// The prompt, and the prompt to type it again.
    fn prompts(self) -> (String, String) {
        match self {
            NewPassphrase::First => (t!("profile-prompt-new"), t!("profile-prompt-new-again")),
            NewPassphrase::Changed => (
                t!("profile-prompt-changed"),
                t!("profile-prompt-changed-again"),
            ),
            NewPassphrase::Duress => (
                t!("profile-prompt-duress"),
                t!("profile-prompt-duress-again"),
            ),
        }
    }
}

/// The smallest passphrase Kith takes, in characters.
const MIN_PASSPHRASE_CHARS: usize = 8;

/// A new passphrase: the variable `env`, else asked twice without echo; at least
/// [`MIN_PASSPHRASE_CHARS`] either way.
fn new_passphrase(env: &str, which: NewPassphrase) -> Result<zeroize::Zeroizing<String>, Failure> {
    let p = match std::env::var(env) {
        Ok(p) => zeroize::Zeroizing::new(p),
        Err(_) => {
            if !std::io::stdin().is_terminal() {
                return Err(usage(t!("profile-no-passphrase", env = env)));
            }
            let (prompt, again_prompt) = which.prompts();
            let p = zeroize::Zeroizing::new(
                rpassword::prompt_password(format!("{prompt} "))
                    .map_err(|e| usage(e.to_string()))?,
            );
            let again = zeroize::Zeroizing::new(
                rpassword::prompt_password(format!("{again_prompt} "))
                    .map_err(|e| usage(e.to_string()))?,
            );
            if *again != *p {
                return Err(usage(t!("profile-passphrases-differ")));
            }
            p
        }
    };
    long_enough(p)
}

/// A new passphrase, refused when shorter than the minimum (however it was given).
fn long_enough(p: zeroize::Zeroizing<String>) -> Result<zeroize::Zeroizing<String>, Failure> {
    if p.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(usage(t!(
            "profile-passphrase-too-short",
            n = MIN_PASSPHRASE_CHARS
        )));
    }
    Ok(p)
}

/// The first line of a passphrase file. One that others may read is refused: the
/// passphrase would be theirs too.
fn passphrase_from_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        usage(t!(
            "profile-passphrase-file-unreadable",
            path = &shown,
            error = e.to_string()
        ))
    };
    let mode = std::fs::metadata(path)
        .map_err(unreadable)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(usage(t!("profile-passphrase-file-open", path = &shown)));
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(usage(t!("profile-passphrase-file-empty", path = &shown)));
    }
    Ok(zeroize::Zeroizing::new(line.to_owned()))
}

/// `kith wipe --leave`: leaves every group the profile is active in, within
/// [`crate::engine::DURESS_NOTIFY_BUDGET`] in all, saying what became of each; what
/// could not be left is said, and the wipe goes on.
async fn leave_everything(cli: &Cli, home: &std::path::Path) -> Result<(), Failure> {
    let mut client = open_profile(cli, home).await?;
    let deadline = tokio::time::Instant::now() + crate::engine::DURESS_NOTIFY_BUDGET;
    for g in client.groups()? {
        if g.status != "active" {
            continue;
        }
        let left = match client.find_group(&g.id) {
            Ok(id) => tokio::time::timeout_at(deadline, client.leave(&id))
                .await
                .unwrap_or_else(|_| Err(ClientError::Usage(t!("profile-wipe-leave-timeout")))),
            Err(e) => Err(e),
        };
        match left {
            Ok(()) => eprintln!("{}", t!("profile-wipe-left", group = &g.name)),
            Err(e) => eprintln!(
                "{}",
                t!(
                    "profile-wipe-not-left",
                    group = &g.name,
                    why = e.to_string()
                )
            ),
        }
    }
    client.close().await;
    Ok(())
}

/// Unlocks the profile in `home` with the settings of the command line (the
/// passphrase, `KITH_CREATION_SECRET`, how to reach relays).
pub(crate) async fn open_profile(cli: &Cli, home: &std::path::Path) -> Result<Client, Failure> {
    // The first run: said before a passphrase is asked for.
    if surely_no_profile(home) {
        return Err(no_profile(home));
    }
    let options = connect_options(cli)?;
    let pass = passphrase(cli)?;
    // A duress unlock that tells the groups reaches them as every other connection
    // would: through the proxy.
    let mut client = Client::unlock(home, pass.as_bytes(), options.clone())
        .await
        .map_err(|e| profile_failure(home, e))?;
    drop(pass);
    if let Ok(s) = std::env::var("KITH_CREATION_SECRET") {
        client.creation_secret = s.into_bytes();
    }
    client.connect_options = options;
    client.failover_after = cli.failover_after;
    Ok(client)
}

/// Whether a daemon answers on the profile's socket.
pub(crate) async fn daemon_running(home: &std::path::Path) -> bool {
    remote::Remote::connect(home).await.is_some()
}

/// How to reach relays, from the flags.
pub(crate) fn connect_options(cli: &Cli) -> Result<crate::relay::ConnectOptions, Failure> {
    let mut o = crate::relay::ConnectOptions::default();
    if let Some(p) = &cli.proxy {
        p.parse::<crate::relay::SocksProxy>()
            .map_err(|e| usage(e.to_string()))?;
        // Tor circuits take longer to build than a direct connection.
        o.connect_timeout = std::time::Duration::from_secs(60);
    }
    o.proxy = cli.proxy.clone();
    o.ca = cli.ca.clone();
    o.allow_plain_ws = cli.allow_plain_ws;
    Ok(o)
}

/// Refuses a plain `ws://` relay address given on the command line (`group create
/// --relay`, a `kith+ws://` invite to `join`) before the passphrase is asked for. Every
/// connection checks again (`relay::check_plain_ws`), whatever its address came from.
fn refuse_plain_ws(cli: &Cli) -> Result<(), Failure> {
    use kith_protocol::invite::{Invite, RelayAddr};
    let url = match &cli.command {
        Command::Group(GroupCommand::Create { relay, .. }) => relay
            .as_deref()
            .and_then(|r| r.parse::<RelayAddr>().ok())
            .map(|r| r.ws_url()),
        Command::Join { invite, .. } => invite.parse::<Invite>().ok().map(|i| i.relay.ws_url()),
        _ => None,
    };
    match url {
        Some(url) => {
            crate::relay::check_plain_ws(&url, cli.allow_plain_ws).map_err(|e| usage(e.to_string()))
        }
        None => Ok(()),
    }
}

/// The profile directory: `--home`, `KITH_HOME`, or the platform's data dir.
pub(crate) fn home_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(h) = &cli.home {
        return Ok(h.clone());
    }
    if let Some(h) = std::env::var_os("KITH_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("kith"))
        .ok_or_else(|| usage(t!("profile-no-home-dir")))
}

/// The passphrase to unlock with: `--passphrase-file`, else `KITH_PASSPHRASE`, else
/// asked without echo.
pub(crate) fn passphrase(cli: &Cli) -> Result<zeroize::Zeroizing<String>, Failure> {
    if let Some(file) = &cli.passphrase_file {
        return passphrase_from_file(file);
    }
    if let Ok(p) = std::env::var("KITH_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(t!("profile-no-passphrase", env = "KITH_PASSPHRASE")));
    }
    Ok(zeroize::Zeroizing::new(
        rpassword::prompt_password(format!("{} ", t!("profile-prompt")))
            .map_err(|e| usage(e.to_string()))?,
    ))
}
