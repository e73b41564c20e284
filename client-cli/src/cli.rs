//! The `kith` command line: parses flags, unlocks the profile, calls the engine, prints.
//! Every command is scriptable: no prompt when `KITH_PASSPHRASE` is set, `--json` where
//! a command prints records, and exit codes that mean something (0 ok, 1 failed, 2
//! usage, 3 still waiting).

use crate::engine::names::{Roster, tag};
use crate::engine::records::{MessageRecord, RecordKind, human_size};
use crate::engine::{Client, ClientError, SyncOutcome};
use crate::identity::fingerprint;
use crate::relay::RelayError;
use clap::{Parser, Subcommand};
use kith_protocol::GroupId;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What `kith --version` prints. A build with the end-to-end tests' hooks (the
/// `test-hooks` feature) says so, which is how the tests tell it from a plain build
/// (`tests/src/lib.rs: workspace_bin`).
/// The commit comes from the build script (`build.rs`).
const VERSION: &str = if cfg!(feature = "test-hooks") {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("KITH_COMMIT"),
        ") (test-hooks)"
    )
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("KITH_COMMIT"),
        ")"
    )
};

/// Kith: end-to-end-encrypted closed groups through a relay you do not have to trust.
#[derive(Parser, Debug)]
#[command(name = "kith", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Profile directory. [env: KITH_HOME; default: the platform's data dir, e.g.
    /// ~/.local/share/kith]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print records as JSON lines instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Reach relays only through this SOCKS5 proxy, e.g. Tor's socks5://127.0.0.1:9050.
    /// Relay host names are resolved by the proxy; there is no direct fallback.
    #[arg(long, global = true, env = "KITH_PROXY", value_name = "URL")]
    pub proxy: Option<String>,

    /// Also trust the CA certificates in this PEM file for wss:// relays (a relay with a
    /// certificate from a private CA).
    #[arg(long, global = true, env = "KITH_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Allow plain ws:// (and kith+ws:// invites) to a relay that is neither on this
    /// machine nor a Tor .onion address. Anyone on the network path can read and change
    /// such traffic (who talks to which group, when); use wss:// (kith://) instead.
    /// Needed for every command that reaches such a relay (or set it to 1 in the
    /// environment).
    #[arg(
        long,
        global = true,
        env = "KITH_ALLOW_PLAIN_WS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_plain_ws: bool,

    /// How long a group's relay may stay unreachable (or not know the group) before
    /// this client goes on at the group's first fallback relay that answers (e.g. 30m,
    /// 1h, 6h). Until then, commands say the relay cannot be reached.
    #[arg(
        long,
        global = true,
        env = "KITH_FAILOVER_AFTER",
        value_name = "DURATION",
        default_value = "1h",
        value_parser = humantime::parse_duration
    )]
    pub failover_after: Duration,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Make a new profile: an identity key and an encrypted local store. The passphrase
    /// comes from KITH_PASSPHRASE, else it is asked (twice) without echo.
    Init {
        /// Your display name, as group members will see it.
        #[arg(long)]
        name: String,
    },
    /// Show your name and fingerprint.
    Whoami,
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// List your groups with unread counts and pending joins.
    Groups,
    /// Make a one-time invite code for a group (admins).
    Invite {
        /// The group: its name or an id prefix.
        group: String,
        /// How long the code stays valid (e.g. 30m, 72h, 7d; at most 30d).
        #[arg(long, default_value = "72h", value_parser = humantime::parse_duration)]
        expires: Duration,
        /// The code does not admit by itself: admins see the joiner's name and
        /// fingerprint (`kith requests`) and approve or deny.
        #[arg(long)]
        approve: bool,
    },
    /// Use an invite: show who invites you where, ask to join, and wait to be admitted.
    Join {
        /// The invite (kith://host/CODE or kith+ws://host:port/CODE).
        invite: String,
        /// Seconds to wait for an admin to admit you (0: return at once; `kith sync`
        /// finishes the join later).
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Write man pages and shell completions into a directory (for packages).
    #[command(hide = true)]
    GenerateDocs {
        /// Where: `DIR/man` and `DIR/completions` are made.
        dir: PathBuf,
    },
    /// Test hook: act as a member with a modified client (see engine/evil.rs).
    #[cfg(feature = "test-hooks")]
    #[command(hide = true)]
    TestEvil {
        /// The group.
        group: String,
        /// garbage-commit, wrong-key-commit or set-retention.
        what: String,
        /// An argument (seconds for set-retention).
        #[arg(default_value_t = 0)]
        arg: u64,
    },
    /// Fetch everything, process membership changes, admit joiners (admins).
    Sync {
        /// Only this group.
        group: Option<String>,
    },
    /// Send a text message (`-` reads it from standard input).
    Send {
        /// The group.
        group: String,
        /// The text, or `-`.
        text: String,
    },
    /// Send a file (at most 25 MiB, e.g. a scan of papers): sealed in chunks under a fresh
    /// key, the key and checksum inside the group's encryption.
    SendFile {
        /// The group.
        group: String,
        /// The file.
        path: PathBuf,
    },
    /// List the files shared in a group, numbered for `kith get`.
    Files {
        /// The group.
        group: String,
    },
    /// Download a file shared in a group, check it, and save it (never a partial file).
    Get {
        /// The group.
        group: String,
        /// The file: its number in `kith files`, or its name if unique.
        file: String,
        /// Where to save it: a file name, or a directory to save it in under its own
        /// name. [default: its name, in the current directory]
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print new messages (or all), as `time name: text`.
    Read {
        /// The group.
        group: String,
        /// All messages, not only the unread ones.
        #[arg(long)]
        all: bool,
        /// Keep running and print messages as they arrive.
        #[arg(long)]
        follow: bool,
    },
    /// List a group's members: names, fingerprints, roles, verification.
    Members {
        /// The group.
        group: String,
    },
    /// Remove a member from a group (admins).
    Remove {
        /// The group.
        group: String,
        /// The member: a name or a fingerprint prefix.
        member: String,
        /// Also hide every message the member sent, for everyone.
        #[arg(long)]
        hide: bool,
    },
    /// Leave a group.
    Leave {
        /// The group.
        group: String,
    },
    /// Show the safety number you share with a member; --confirm marks them verified
    /// once you compared it with them in person or on a call.
    Verify {
        /// The group.
        group: String,
        /// The member.
        member: String,
        /// The numbers matched: mark the member verified.
        #[arg(long)]
        confirm: bool,
    },
    /// Find out why a relay cannot be reached: checks name resolution, TCP (or the
    /// --proxy), TLS, the WebSocket upgrade and Hello, and says which step failed and
    /// what to try. Takes a relay URL or invite (no profile needed), or a group (its
    /// relay and fallbacks); without one, every relay of the profile's groups.
    Doctor {
        /// A relay URL (wss://…), an invite (kith://…), or a group.
        target: Option<String>,
    },
    /// Open the full-screen chat: groups, conversation, members, live updates
    /// (F1 inside for the keys).
    Chat {
        /// The group to open first (its name or an id prefix).
        group: Option<String>,
    },
    /// Destroy this profile so that nothing can be recovered from it.
    Wipe {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Show a group's pinned board, or change it (admins): `kith board GROUP`,
    /// `kith board add|edit|rm …`.
    Board(crate::cli_admin::BoardArgs),
    /// List the join requests waiting for approval (admins): joiners of `--approve`
    /// codes, and members who were away too long and ask to come back.
    Requests {
        /// The group.
        group: String,
    },
    /// Approve a join request: the joiner is added, or the member let back in (admins).
    Approve {
        /// The group.
        group: String,
        /// The request: its number in `kith requests`, a name or a fingerprint prefix.
        request: String,
    },
    /// Deny a join request: its invite is closed, or the request to come back refused
    /// (admins).
    Deny {
        /// The group.
        group: String,
        /// The request: its number in `kith requests`, a name or a fingerprint prefix.
        request: String,
    },
    /// Make a member an admin (admins).
    Promote {
        /// The group.
        group: String,
        /// The member: a name or a fingerprint prefix.
        member: String,
    },
    /// Make an admin a plain member again (admins).
    Demote {
        /// The group.
        group: String,
        /// The admin: a name or a fingerprint prefix.
        member: String,
    },
    /// Delete a message for everyone: your own, or anyone's if you are an admin.
    Delete {
        /// The group.
        group: String,
        /// The message's number (`seq` in `kith read --all --json`).
        seq: u64,
    },
}

/// `kith group …`
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group on a relay.
    Create {
        /// The group's name (only members ever see it).
        name: String,
        /// The relay: wss://host[:port], or ws://host:port on this machine or a .onion
        /// host (any other ws:// needs --allow-plain-ws).
        #[arg(long)]
        relay: String,
    },
    /// Commit fresh keys for yourself in a group now (clients also do this on their
    /// own after joining and weekly): heals the group after a suspected compromise.
    Update {
        /// The group.
        group: String,
    },
    /// Change a group's settings (admins).
    Set {
        /// The group.
        group: String,
        /// Messages disappear this long after they were sent (e.g. 1h, 7d), or `off`.
        #[arg(long, value_name = "DURATION|off")]
        disappear: Option<String>,
        /// Newcomers receive this many recent messages on joining, or `off`.
        #[arg(long, value_name = "N|off")]
        history: Option<String>,
        /// A member who was away longer than the group keeps messages and asks to come
        /// back: `ask` an admin first (the default), or let them back in `auto`matically.
        #[arg(long, value_name = "ask|auto")]
        let_back: Option<String>,
        /// Add a fallback relay, where the group can go on if its own is lost (admins;
        /// repeatable; at most 4).
        #[arg(long, value_name = "URL")]
        fallback: Vec<String>,
        /// Remove a fallback relay (repeatable).
        #[arg(long, value_name = "URL")]
        no_fallback: Vec<String>,
        /// Do not ask before a timer that deletes messages the relay still keeps.
        #[arg(long)]
        yes: bool,
    },
    /// Show a group's admins, settings, relays, board size and open invites.
    Show {
        /// The group.
        group: String,
    },
    /// Move a group to another relay (admins): every member's client follows on its
    /// own at its next sync, nothing is lost, and the copy on the old relay is deleted
    /// once every member has moved. Open invite codes are closed (they name the old
    /// relay): make new ones.
    Move {
        /// The group.
        group: String,
        /// The new relay: wss://host[:port], or ws://host:port on this machine or a
        /// .onion host.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match e {
            ClientError::Usage(_)
            | ClientError::NoGroup(_)
            | ClientError::NoMember(_)
            | ClientError::Relay(RelayError::PlainWs(_)) => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: msg.into(),
    }
}

fn home_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(h) = &cli.home {
        return Ok(h.clone());
    }
    if let Some(h) = std::env::var_os("KITH_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("kith"))
        .ok_or_else(|| usage("no home directory; use --home DIR or KITH_HOME"))
}

fn passphrase(confirm: bool) -> Result<zeroize::Zeroizing<String>, Failure> {
    if let Ok(p) = std::env::var("KITH_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no passphrase: set KITH_PASSPHRASE or run in a terminal",
        ));
    }
    let p = zeroize::Zeroizing::new(
        rpassword::prompt_password("Passphrase: ").map_err(|e| usage(e.to_string()))?,
    );
    if confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("Passphrase again: ").map_err(|e| usage(e.to_string()))?,
        );
        if *again != *p {
            return Err(usage("the passphrases differ"));
        }
        if p.chars().count() < 8 {
            return Err(usage("use a passphrase of at least 8 characters"));
        }
    }
    Ok(p)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Prints one record of a group's history. A sender whose name collides with another
/// member's carries a fingerprint fragment (`Olena [3f2a 91c0]`); one whose safety
/// number this profile has not confirmed is marked `?`, as in the chat.
fn print_record(roster: &Roster, r: &MessageRecord, json: bool) {
    let name = r.sender.map(|s| roster.name(&s)).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if json {
        let kind = match &r.kind {
            RecordKind::Text(_) => "text",
            RecordKind::Notice(_) => "notice",
            RecordKind::Alert(_) => "alert",
            RecordKind::File(_) => "file",
            RecordKind::Deleted { .. } => "deleted",
        };
        let text = r.kind.text();
        let v = serde_json::json!({
            "seq": r.seq,
            "time": r.time,
            "sender": r.sender.map(|s| kith_protocol::ids::hex(&s)),
            "sender_fingerprint": r.sender.map(|s| fingerprint(&s)),
            "name": name,
            "name_collides": r.sender.is_some_and(|s| roster.collides(&s)),
            "sender_verified": r.sender.is_some_and(|s| roster.verified(&s)),
            "own": r.own,
            "kind": kind,
            "text": text,
            "history_from": r.shared_by.map(|s| roster.label(&s)),
        });
        let _ = writeln!(out, "{v}");
    } else {
        let t = format_time(r.time);
        // As in the chat: no mark on our own lines, nor on a deleted message's.
        let who = match r.sender {
            Some(s)
                if r.own || roster.verified(&s) || matches!(r.kind, RecordKind::Deleted { .. }) =>
            {
                roster.label(&s)
            }
            Some(s) => format!("{}?", roster.label(&s)),
            None => String::new(),
        };
        let _ = match &r.kind {
            RecordKind::Text(text) => writeln!(out, "{t} {who}: {text}"),
            RecordKind::Notice(text) => match r.sender {
                // A member's notice names them plainly; when that name is shared, say
                // which one.
                Some(s) if !r.own && roster.collides(&s) && !text.contains(&tag(&s)) => {
                    writeln!(out, "{t} * {text} (by {})", roster.label(&s))
                }
                _ => writeln!(out, "{t} * {text}"),
            },
            RecordKind::Alert(text) => writeln!(out, "{t} ! {text}"),
            other => writeln!(out, "{t} {who}: {}", other.text()),
        };
    }
    let _ = out.flush();
}

pub(crate) fn transient(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Relay(
            RelayError::Connect(_)
                | RelayError::Closed(_)
                | RelayError::Timeout(_)
                | RelayError::PushOverflow
        ) | ClientError::Relay(RelayError::Relay(
            kith_protocol::ErrorCode::Internal | kith_protocol::ErrorCode::RateLimited
        ))
    )
}

fn is_connect(e: &ClientError) -> bool {
    matches!(e, ClientError::Relay(RelayError::Connect(_)))
}

/// Retries an engine call on transient relay failures with exponential backoff
/// (0.5 s … 8 s, five retries), reconnecting in between.
macro_rules! retry {
    ($client:ident, $call:expr) => {{
        let mut delay = Duration::from_millis(500);
        let mut tries = 0;
        loop {
            match $call {
                Err(e) if transient(&e) && tries < 5 => {
                    tries += 1;
                    $client.close().await;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry;

/// [`Client::sync_all`], with the parts that failed for a passing reason tried again
/// (backoff as in [`retry!`]); what each pass brought is kept.
async fn sync_everything(client: &mut Client) -> Result<Vec<SyncOutcome>, Failure> {
    let mut delay = Duration::from_millis(500);
    let mut merged: Vec<SyncOutcome> = Vec::new();
    for tries in 0.. {
        for o in client.sync_all().await? {
            let same = merged.iter_mut().find(|m| match (m.group, o.group) {
                (Some(a), Some(b)) => a == b,
                // A join that failed before has no group yet: the same join, if
                // this pass completed one of that name.
                (None, Some(_)) => m.name == o.name && o.result.as_ref().is_ok_and(|r| r.joined),
                (None, None) => m.name == o.name,
                (Some(_), None) => false,
            });
            match (same, o.result) {
                (None, result) => merged.push(SyncOutcome { result, ..o }),
                (Some(m), Ok(r)) => match &mut m.result {
                    Ok(before) => {
                        before.new.extend(r.new);
                        before.joined |= r.joined;
                    }
                    Err(_) => m.result = Ok(r),
                },
                // It synced before: a later pass failing takes nothing away.
                (Some(m), Err(e)) if m.result.is_err() => m.result = Err(e),
                (Some(_), Err(_)) => {}
            }
        }
        // A relay that refuses connections is most likely down: two more tries (1.5 s)
        // for one that restarts, not the 15 s a failing connection gets.
        let failing = || merged.iter().filter_map(|o| o.result.as_ref().err());
        let again = failing().any(|e| transient(e) && !is_connect(e))
            || (tries < 2 && failing().any(transient));
        if !again || tries == 5 {
            break;
        }
        client.close().await;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(8));
    }
    Ok(merged)
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match run_inner(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("kith: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run_inner(cli: Cli) -> Result<u8, Failure> {
    if let Command::GenerateDocs { dir } = &cli.command {
        crate::docs::write(dir).map_err(|e| Failure {
            code: 1,
            message: format!("writing the docs to {}: {e}", dir.display()),
        })?;
        return Ok(0);
    }
    let home = home_dir(&cli)?;
    let json = cli.json;
    match &cli.command {
        Command::Init { name } => {
            let pass = passphrase(true)?;
            let client = Client::init(&home, pass.as_bytes(), name)?;
            println!("Profile created in {}", home.display());
            println!("Name:        {}", client.name());
            println!("Fingerprint: {}", client.fingerprint());
            return Ok(0);
        }
        Command::Wipe { yes } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(usage(
                        "refusing to wipe without --yes when not in a terminal",
                    ));
                }
                eprint!(
                    "Destroy the profile in {} for good? Type 'wipe': ",
                    home.display()
                );
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| usage(e.to_string()))?;
                if line.trim() != "wipe" {
                    return Err(usage("not wiped"));
                }
            }
            crate::store::wipe(&home).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
            })?;
            println!("Profile destroyed.");
            return Ok(0);
        }
        Command::Doctor {
            target: Some(target),
        } => {
            if let Some(url) = relay_of_text(target) {
                return doctor(&[url], &connect_options(&cli)?, json).await;
            }
        }
        _ => {}
    }
    refuse_plain_ws(&cli)?;
    let pass = passphrase(false)?;
    let mut client = Client::open(&home, pass.as_bytes())?;
    drop(pass);
    if let Ok(s) = std::env::var("KITH_CREATION_SECRET") {
        client.creation_secret = s.into_bytes();
    }
    client.connect_options = connect_options(&cli)?;
    client.failover_after = cli.failover_after;
    let code = dispatch(&mut client, cli.command, json).await;
    client.close().await;
    code
}

/// How to reach relays, from the flags.
fn connect_options(cli: &Cli) -> Result<crate::relay::ConnectOptions, Failure> {
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

/// The relay a text names, if it is a relay URL or an invite (not a group's name).
fn relay_of_text(text: &str) -> Option<String> {
    if let Ok(invite) = text.parse::<kith_protocol::invite::Invite>() {
        return Some(invite.relay.ws_url());
    }
    if let Ok(relay) = text.parse::<kith_protocol::invite::RelayAddr>() {
        return Some(relay.ws_url());
    }
    // Not a well-formed address, but meant as one: the doctor says what is wrong.
    (text.starts_with("ws://") || text.starts_with("wss://")).then(|| text.to_owned())
}

/// Checks each relay and prints what was found; non-zero if any cannot be used.
async fn doctor(
    urls: &[String],
    options: &crate::relay::ConnectOptions,
    json: bool,
) -> Result<u8, Failure> {
    let mut all_ok = true;
    for url in urls {
        let d = crate::doctor::diagnose(url, options).await;
        all_ok &= d.ok;
        if json {
            println!("{}", serde_json::to_string(&d).unwrap_or_default());
            continue;
        }
        println!("{}", d.url);
        for s in &d.steps {
            println!(
                "  {} {}: {}",
                if s.ok { "ok  " } else { "FAIL" },
                s.step,
                s.detail
            );
        }
        println!("  {}", d.verdict);
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// Refuses a plain `ws://` relay address given on the command line (`group create
/// --relay`, a `kith+ws://` invite to `join`) before the passphrase is asked for. Every
/// connection checks again (`relay::check_plain_ws`), whatever its address came from.
fn refuse_plain_ws(cli: &Cli) -> Result<(), Failure> {
    use kith_protocol::invite::{Invite, RelayAddr};
    let url = match &cli.command {
        Command::Group(GroupCommand::Create { relay, .. }) => {
            relay.parse::<RelayAddr>().ok().map(|r| r.ws_url())
        }
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

async fn dispatch(client: &mut Client, command: Command, json: bool) -> Result<u8, Failure> {
    match command {
        Command::Init { .. } | Command::Wipe { .. } | Command::GenerateDocs { .. } => {
            unreachable!("handled before unlocking")
        }
        Command::Doctor { target } => {
            let mut urls: Vec<String> = Vec::new();
            let groups = match &target {
                Some(g) => vec![client.find_group(g)?],
                None => client
                    .groups()?
                    .iter()
                    .filter(|g| g.status == "active")
                    .filter_map(|g| GroupId::from_hex(&g.id))
                    .collect(),
            };
            for id in groups {
                let relay = client.group_relay(&id)?;
                let home = client.group_home(&id)?;
                let fallbacks = client.group_state(&id)?.fallbacks;
                for u in [home, relay].into_iter().chain(fallbacks) {
                    if !urls.contains(&u) {
                        urls.push(u);
                    }
                }
            }
            if urls.is_empty() {
                return Err(usage("no group, so no relay to check: give a relay URL"));
            }
            let options = client.connect_options.clone();
            return doctor(&urls, &options, json).await;
        }
        Command::Chat { group } => {
            crate::chat::run(client, group.as_deref())
                .await
                .map_err(|e| Failure {
                    code: e.exit_code(),
                    message: e.to_string(),
                })?
        }
        Command::Whoami => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "name": client.name(),
                        "fingerprint": client.fingerprint(),
                        "identity": kith_protocol::ids::hex(&client.identity()),
                    })
                );
            } else {
                println!("{}", client.name());
                println!("Fingerprint: {}", client.fingerprint());
            }
        }
        Command::Group(GroupCommand::Create { name, relay }) => {
            let id = client.create_group(&name, &relay).await?;
            if json {
                println!("{}", serde_json::json!({"name": name, "id": id.to_hex()}));
            } else {
                println!("Created group {name:?} ({})", &id.to_hex()[..8]);
            }
        }
        Command::Group(GroupCommand::Update { group }) => {
            let id = client.find_group(&group)?;
            let epoch = retry!(client, client.update_own_keys(&id).await)?;
            if json {
                println!("{}", serde_json::json!({"epoch": epoch}));
            } else {
                println!("Committed fresh keys (epoch {epoch}).");
            }
        }
        Command::Groups => {
            let groups = client.groups()?;
            if json {
                for g in &groups {
                    println!("{}", serde_json::to_string(g).unwrap_or_default());
                }
            } else {
                if groups.is_empty() {
                    println!(
                        "No groups yet. Create one with `kith group create NAME --relay URL`."
                    );
                }
                for g in &groups {
                    let mut line = format!(
                        "{:<24} {}  {} members  {} unread",
                        g.name,
                        &g.id[..8],
                        g.members,
                        g.unread
                    );
                    if g.pending_joins > 0 {
                        line.push_str(&format!("  {} pending join(s)", g.pending_joins));
                    }
                    if g.status != "active" {
                        line.push_str(&format!("  [{}]", g.status));
                    }
                    println!("{line}");
                }
            }
            for name in client.pending_joins()? {
                if json {
                    println!("{}", serde_json::json!({"waiting_to_join": name}));
                } else {
                    println!("{name:<24} (waiting for an admin to admit you)");
                }
            }
        }
        Command::Invite {
            group,
            expires,
            approve,
        } => {
            let id = client.find_group(&group)?;
            let invite = retry!(client, client.invite(&id, expires, approve).await)?;
            if json {
                println!("{}", serde_json::json!({"invite": invite}));
            } else {
                println!("{invite}");
                eprintln!(
                    "One-time code, valid for {}. Pass it on in person or by phone.",
                    humantime::format_duration(expires)
                );
                if approve {
                    eprintln!(
                        "The joiner waits for an admin's approval: see `kith requests {group}`."
                    );
                }
            }
        }
        Command::Join { invite, wait } => {
            let preview = client.preview_invite(&invite).await?;
            eprintln!(
                "{} [{}] invites you to {:?} (relay {}, code valid until {} UTC).",
                preview.inviter_name,
                preview.inviter_fingerprint,
                preview.group_name,
                preview.relay,
                format_time(preview.expires_at)
            );
            let slot = client.answer_invite(&invite).await?;
            if preview.needs_approval {
                eprintln!(
                    "Join request sent. An admin must approve it; they will see your name and fingerprint."
                );
            } else {
                eprintln!("Join request sent.");
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
            loop {
                match client.try_complete_join_slot(&slot).await {
                    Ok(Some(group)) => {
                        let name = client.group_name(&group)?;
                        if json {
                            println!(
                                "{}",
                                serde_json::json!({"joined": name, "id": group.to_hex()})
                            );
                        } else {
                            println!("Joined {name:?}.");
                        }
                        return Ok(0);
                    }
                    Ok(None) => {}
                    Err(e) if transient(&e) => client.close().await,
                    Err(e) => return Err(e.into()),
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            eprintln!(
                "Not admitted yet. An admin's client admits you when it is online; run `kith sync` later."
            );
            return Ok(if wait == 0 { 0 } else { 3 });
        }
        #[cfg(feature = "test-hooks")]
        Command::TestEvil { group, what, arg } => {
            let id = client.find_group(&group)?;
            println!("{}", client.test_evil(&id, &what, arg).await?);
        }
        Command::Sync { group } => {
            let outcomes = match group {
                Some(g) => {
                    let id = client.find_group(&g)?;
                    let r = retry!(client, client.sync_group(&id, true).await)?;
                    vec![SyncOutcome {
                        group: Some(id),
                        name: client.group_name(&id)?,
                        result: Ok(r),
                    }]
                }
                None => sync_everything(client).await?,
            };
            // Each group reports on its own; the exit code is that of the first failure.
            let mut failed = None;
            for o in outcomes {
                let id = o.group.map(|id| id.to_hex());
                let name = o.name;
                match o.result {
                    Ok(r) if json => println!(
                        "{}",
                        serde_json::json!({"group": name, "id": id, "new": r.new.len(), "joined": r.joined})
                    ),
                    Ok(r) if r.joined => println!("Joined {name:?}."),
                    Ok(r) if !r.new.is_empty() => println!("{name}: {} new", r.new.len()),
                    Ok(_) => {}
                    Err(e) => {
                        if json {
                            println!(
                                "{}",
                                serde_json::json!({"group": name, "id": id, "error": e.to_string()})
                            );
                        }
                        eprintln!("kith: {name}: could not sync: {e}");
                        failed.get_or_insert(Failure::from(e).code);
                    }
                }
            }
            if let Some(code) = failed {
                return Ok(code);
            }
        }
        Command::Send { group, text } => {
            let id = client.find_group(&group)?;
            let text = if text == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| usage(e.to_string()))?;
                s.trim_end_matches('\n').to_owned()
            } else {
                text
            };
            let seq = retry!(client, client.send_text(&id, &text).await)?;
            if json {
                println!("{}", serde_json::json!({"seq": seq}));
            }
        }
        Command::SendFile { group, path } => {
            let id = client.find_group(&group)?;
            let seq = retry!(client, client.send_file(&id, &path).await)?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let name = path
                .file_name()
                .map(|n| crate::engine::clean_file_name(&n.to_string_lossy()))
                .unwrap_or_default();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"seq": seq, "name": name, "size": size})
                );
            } else {
                println!("Sent {name} ({}).", human_size(size));
            }
        }
        Command::Files { group } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, false).await) {
                eprintln!("kith: could not sync ({e}); showing what is stored");
            }
            let files = client.files(&id)?;
            if json {
                for f in &files {
                    println!("{}", serde_json::to_string(f).unwrap_or_default());
                }
            } else if files.is_empty() {
                println!("No files in this group yet. Share one with `kith send-file GROUP PATH`.");
            } else {
                for f in &files {
                    println!(
                        "{:>3}  {}  {:<16} {}  ({})",
                        f.number,
                        format_time(f.time),
                        f.sender,
                        f.name,
                        human_size(f.size)
                    );
                }
            }
        }
        Command::Get {
            group,
            file,
            output,
            force,
        } => {
            let id = client.find_group(&group)?;
            let saved = retry!(
                client,
                client.get_file(&id, &file, output.as_deref(), force).await
            )?;
            if json {
                println!("{}", serde_json::to_string(&saved).unwrap_or_default());
            } else {
                println!(
                    "Saved {} ({}) to {}",
                    saved.name,
                    human_size(saved.size),
                    saved.path.display()
                );
            }
        }
        Command::Read { group, all, follow } => {
            let id = client.find_group(&group)?;
            if let Err(e) = retry!(client, client.sync_group(&id, true).await)
                && !follow
            {
                eprintln!("kith: could not sync ({e}); showing what is stored");
            }
            let roster = client.roster(&id)?;
            for r in client.take_unread(&id, all)? {
                print_record(&roster, &r, json);
            }
            if follow {
                follow_group(client, &id, json).await?;
            }
        }
        Command::Members { group } => {
            let id = client.find_group(&group)?;
            let _ = retry!(client, client.sync_group(&id, false).await);
            for m in client.members(&id)? {
                if json {
                    println!("{}", serde_json::to_string(&m).unwrap_or_default());
                } else {
                    println!(
                        "{:<20} {}  {:<6} {}{}",
                        m.name,
                        m.fingerprint,
                        m.role,
                        if m.verified {
                            "verified"
                        } else {
                            "not verified"
                        },
                        if m.you { "  (you)" } else { "" }
                    );
                }
            }
        }
        Command::Remove {
            group,
            member,
            hide,
        } => {
            let id = client.find_group(&group)?;
            retry!(client, client.sync_group(&id, false).await)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            retry!(client, client.remove_member(&id, &who, hide).await)?;
            if hide {
                println!("Removed {name} and hid their messages.");
            } else {
                println!("Removed {name}.");
            }
        }
        Command::Leave { group } => {
            let id = client.find_group(&group)?;
            retry!(client, client.leave(&id).await)?;
            println!("You left the group.");
        }
        c @ (Command::Board(_)
        | Command::Requests { .. }
        | Command::Approve { .. }
        | Command::Deny { .. }
        | Command::Promote { .. }
        | Command::Demote { .. }
        | Command::Delete { .. }
        | Command::Group(
            GroupCommand::Set { .. } | GroupCommand::Show { .. } | GroupCommand::Move { .. },
        )) => {
            return crate::cli_admin::dispatch(client, c, json).await;
        }
        Command::Verify {
            group,
            member,
            confirm,
        } => {
            let id = client.find_group(&group)?;
            let who = client.find_member(&id, &member)?;
            let name = client.display_name(&id, &who);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"member": name, "safety_number": client.safety_number(&who), "confirmed": confirm})
                );
            } else {
                println!("Safety number with {name}:");
                println!("  {}", client.safety_number(&who));
                println!("Compare it with {name} in person or on a call.");
            }
            if confirm {
                client.confirm_verified(&who, &name)?;
                if !json {
                    println!("Marked {name} as verified.");
                }
            }
        }
    }
    Ok(0)
}

async fn follow_group(client: &mut Client, id: &GroupId, json: bool) -> Result<(), Failure> {
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut pushes = match client.subscribe(id).await {
            Ok(p) => {
                backoff = Duration::from_millis(500);
                p
            }
            Err(e) if transient(&e) => {
                eprintln!("kith: relay unreachable ({e}); retrying in {backoff:?}");
                client.close().await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // Messages stored between the read above and the subscription.
        catch_up(client, id, json).await?;
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tokio::select! {
                push = pushes.recv() => {
                    if push.is_none() {
                        break; // connection lost: resubscribe
                    }
                    while pushes.try_recv().is_ok() {}
                }
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            if let Err(e) = catch_up(client, id, json).await {
                eprintln!("kith: {}", e.message);
                break;
            }
        }
        client.close().await;
    }
}

async fn catch_up(client: &mut Client, id: &GroupId, json: bool) -> Result<(), Failure> {
    match client.sync_group(id, true).await {
        Ok(_) => {}
        Err(e) if transient(&e) => {
            return Err(Failure {
                code: 1,
                message: e.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let roster = client.roster(id)?;
    for r in client.take_unread(id, false)? {
        print_record(&roster, &r, json);
    }
    Ok(())
}
