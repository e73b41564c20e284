//! What the `kith` command line takes: the commands, their arguments and flags (clap).
//! The same definitions are the daemon's methods (`rpc.rs`): a method is a command's
//! name (`send`, `group.create`, `board.add`), its parameters the command's arguments
//! by name, with the command line's defaults (serde).

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// What `kith --version` prints. A build with the end-to-end tests' hooks (the
/// `test-hooks` feature) says so, which is how the tests tell it from a plain build
/// (`tests/src/lib.rs: workspace_bin`).
/// The commit comes from the build script (`build.rs`).
pub const VERSION: &str = if cfg!(feature = "test-hooks") {
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

    /// The language kith speaks: en or ru. [env: KITH_LANG; default: the language of
    /// LC_ALL, LC_MESSAGES or LANG, else English]
    #[arg(long, global = true, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<kith_i18n::Lang>,

    /// Show times in UTC, not in the local time zone (TZ, else the system's).
    #[arg(long, global = true)]
    pub utc: bool,

    /// Reach relays only through this SOCKS5 proxy, e.g. Tor's socks5://127.0.0.1:9050.
    /// Relay host names are resolved by the proxy; there is no direct fallback.
    #[arg(long, global = true, env = "KITH_PROXY", value_name = "URL")]
    pub proxy: Option<String>,

    /// Also trust the CA certificates in this PEM file for wss:// relays (a relay with a
    /// certificate from a private CA).
    #[arg(long, global = true, env = "KITH_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Read the passphrase from the first line of this file (readable by you alone)
    /// instead of asking: for scripts, without the passphrase in the shell's history.
    /// For `init` it is the new profile's, with the same minimum as when asked.
    #[arg(long, global = true, env = "KITH_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

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

/// The whole invite (`kith://host/CODE`) from what the joiner has: the whole invite,
/// or the code alone (read aloud, written down) and the relay's address.
pub fn full_invite(invite: &str, relay: Option<&str>) -> Result<String, String> {
    use kith_protocol::invite::{Invite, InviteCode, RelayAddr};
    if invite.parse::<Invite>().is_ok() {
        return Ok(invite.trim().to_owned());
    }
    let Ok(code) = invite.parse::<InviteCode>() else {
        // Not a code either: the engine says what is wrong with it as an invite.
        return Ok(invite.to_owned());
    };
    let relay = relay.ok_or_else(|| kith_i18n::t!("cli-code-needs-relay"))?;
    let relay = relay
        .parse::<RelayAddr>()
        .map_err(|_| kith_i18n::t!("cli-code-bad-relay", relay = relay))?;
    Ok(Invite { relay, code }.to_string())
}

/// `send`'s text as a daemon's method takes it: required (the settings file's group,
/// which lets the command line leave it out, is the caller's business).
fn required_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Reads `--lang`.
fn parse_lang(s: &str) -> Result<kith_i18n::Lang, String> {
    kith_i18n::Lang::parse(s).ok_or_else(|| {
        let known: Vec<&str> = kith_i18n::Lang::ALL.iter().map(|l| l.code()).collect();
        kith_i18n::t!("help-lang-known", langs = known.join(", "))
    })
}

/// The commands.
#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "kebab-case")]
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
        /// The group: its name or an id prefix. [default: `group` in the settings file]
        #[arg(default_value = "", hide_default_value = true)]
        group: String,
        /// How long the code stays valid (e.g. 30m, 72h, 7d; at most 30d).
        #[arg(long, default_value = "72h", value_parser = humantime::parse_duration)]
        #[serde(with = "humantime_serde", default = "default_expires")]
        expires: Duration,
        /// The code does not admit by itself: admins see the joiner's name and
        /// fingerprint (`kith requests`) and approve or deny.
        #[arg(long)]
        #[serde(default)]
        approve: bool,
    },
    /// Use an invite: show who invites you where, ask to join, and wait to be admitted.
    Join {
        /// The invite (kith://host/CODE or kith+ws://host:port/CODE), or the code alone
        /// (seven groups of four letters and digits) with --relay.
        invite: String,
        /// The relay, when the invite is the code alone: wss://host[:port] (or ws://…).
        /// [default: `relay` in the settings file]
        #[arg(long)]
        #[serde(default)]
        relay: Option<String>,
        /// Seconds to wait for an admin to admit you (0: return at once; `kith sync`
        /// finishes the join later).
        #[arg(long, default_value_t = 120)]
        #[serde(default = "default_wait")]
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
        #[serde(default)]
        arg: u64,
    },
    /// Fetch everything, process membership changes, admit joiners (admins).
    Sync {
        /// Only this group.
        group: Option<String>,
    },
    /// Send a text message (`-` reads it from standard input). If the relay cannot be
    /// reached it waits in the outbox (exit code 3) and goes with the next send, sync or
    /// chat.
    Send {
        /// The group; alone, it is the text, for `group` in the settings file.
        group: String,
        /// The text, or `-`.
        #[serde(deserialize_with = "required_text")]
        text: Option<String>,
    },
    /// List the messages waiting to be sent (encrypted on this computer), or drop one.
    Outbox {
        /// Drop message N from the outbox instead (its number in the list).
        #[arg(long, value_name = "N")]
        #[serde(default)]
        drop: Option<u64>,
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
        /// The group: its name or an id prefix. [default: `group` in the settings file]
        #[arg(default_value = "", hide_default_value = true)]
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
        #[serde(default)]
        force: bool,
    },
    /// Print new messages (or all), as `time name: text`.
    Read {
        /// The group: its name or an id prefix. [default: `group` in the settings file]
        #[arg(default_value = "", hide_default_value = true)]
        group: String,
        /// All messages, not only the unread ones.
        #[arg(long)]
        #[serde(default)]
        all: bool,
        /// Keep running and print messages as they arrive.
        #[arg(long)]
        #[serde(default)]
        follow: bool,
    },
    /// List a group's members: names, fingerprints, roles, verification.
    Members {
        /// The group: its name or an id prefix. [default: `group` in the settings file]
        #[arg(default_value = "", hide_default_value = true)]
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
        #[serde(default)]
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
        #[serde(default)]
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
    /// Keep the profile open for every other `kith` command, the chat and programs
    /// (JSON-RPC on a socket in the profile directory, docs/RPC.md). Unlocks once;
    /// runs until stopped (Ctrl-C, SIGTERM, `kith daemon --stop`).
    Daemon {
        /// Ask the running daemon to stop: it finishes what it is doing and closes the
        /// profile.
        #[arg(long)]
        #[serde(default)]
        stop: bool,
    },
    /// Change the passphrase, or set a duress passphrase (--duress). The new one comes from
    /// KITH_NEW_PASSPHRASE, else it is asked twice without echo.
    Passphrase {
        /// Set a second passphrase for when you are forced to unlock: unlocking with it
        /// destroys this profile beyond recovery and opens an empty one of the same name,
        /// which looks like a new profile.
        #[arg(long)]
        #[serde(default)]
        duress: bool,
        /// With --duress: before destroying, tell your groups that the device was
        /// unlocked under duress and leave them (if a relay answers within 10 s). Off
        /// unless given; setting the duress passphrase again without it turns it off.
        /// The price: a copy of the disk made before, with the duress passphrase, opens
        /// this profile (SECURITY.md).
        #[arg(long, requires = "duress")]
        #[serde(default)]
        notify: bool,
    },
    /// Destroy this profile so that nothing can be recovered from it.
    Wipe {
        /// Do not ask for confirmation.
        #[arg(long)]
        #[serde(default)]
        yes: bool,
        /// First leave every group (needs the passphrase; at most 10 s in all), so that
        /// the others do not keep listing a member who is gone.
        #[arg(long)]
        #[serde(default)]
        leave: bool,
    },
    /// Show a group's pinned board, or change it (admins): `kith board GROUP`,
    /// `kith board add|edit|rm …`.
    Board(BoardArgs),
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
#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "kebab-case")]
pub enum GroupCommand {
    /// Create a group on a relay.
    Create {
        /// The group's name (only members ever see it).
        name: String,
        /// The relay: wss://host[:port], or ws://host:port on this machine or a .onion
        /// host (any other ws:// needs --allow-plain-ws). [default: `relay` in the
        /// settings file]
        #[arg(long)]
        #[serde(default)]
        relay: Option<String>,
        /// Create it even if you have a group of that name already (without this, kith
        /// asks first, and a script is refused).
        #[arg(long)]
        #[serde(default)]
        yes: bool,
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
        #[serde(default)]
        fallback: Vec<String>,
        /// Remove a fallback relay (repeatable).
        #[arg(long, value_name = "URL")]
        #[serde(default)]
        no_fallback: Vec<String>,
        /// Do not ask before a timer that deletes messages the relay still keeps.
        #[arg(long)]
        #[serde(default)]
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

/// `kith board GROUP` or `kith board add|edit|rm …`.
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BoardArgs {
    /// Change the board (admins).
    #[command(subcommand)]
    pub action: Option<BoardCommand>,
    /// The group whose board to show.
    pub group: Option<String>,
}

/// `kith board add|edit|rm`.
#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "kebab-case")]
pub enum BoardCommand {
    /// Pin a new entry (`-` as TEXT reads it from standard input).
    Add {
        /// The group.
        group: String,
        /// The entry's title.
        title: String,
        /// The entry's text (contacts, an address, a template), or `-`.
        #[arg(default_value = "")]
        #[serde(default)]
        text: String,
    },
    /// Change an entry's title and/or text.
    Edit {
        /// The group.
        group: String,
        /// The entry's number, as `kith board` shows it.
        id: u32,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new text, or `-` to read it from standard input.
        #[arg(long)]
        text: Option<String>,
    },
    /// Remove an entry.
    Rm {
        /// The group.
        group: String,
        /// The entry's number.
        id: u32,
    },
}

fn default_expires() -> Duration {
    Duration::from_secs(72 * 3600)
}

fn default_wait() -> u64 {
    120
}
