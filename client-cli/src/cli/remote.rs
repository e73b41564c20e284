//! The `kith` commands when a daemon holds the profile: each becomes a call on the
//! profile's socket (`rpc.rs`, docs/RPC.md), and the daemon's answer is printed as the
//! command would have printed it. No passphrase is asked: the daemon unlocked the
//! profile, and only this user can reach its socket.

use super::failure::{Failure, failed, usage};
use super::out::{Item, print_item};
use crate::args::{BoardArgs, BoardCommand, Cli, Command};
use crate::rpc::{self, Answer};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

/// A connection to the profile's daemon.
pub(crate) struct Remote {
    conn: rpc::Connection,
}

impl Remote {
    /// Connects to the daemon of the profile in `home`, if one answers there.
    pub(crate) async fn connect(home: &Path) -> Option<Remote> {
        Some(Remote {
            conn: rpc::Connection::connect(home).await?,
        })
    }

    async fn call(
        &mut self,
        method: &str,
        params: Value,
        events: impl FnMut(&str, &Value),
    ) -> Result<Answer, Failure> {
        self.conn.call(method, params, events).await.map_err(failed)
    }

    async fn next(&mut self) -> Result<Value, Failure> {
        self.conn.next().await.map_err(failed)
    }

    /// Runs a command of the command line through the daemon.
    pub(crate) async fn run(mut self, cli: &Cli) -> Result<u8, Failure> {
        self.same_connection_settings(cli).await?;
        // The daemon answers in this command's language and time zone, not its own.
        let locale = kith_i18n::locale();
        self.call_plain(
            "locale",
            json!({"lang": locale.lang.code(), "utc": locale.utc, "zone": locale.zone}),
        )
        .await?;
        if std::env::var_os("KITH_CREATION_SECRET").is_some() {
            eprintln!("{}", kith_i18n::t!("cli-daemon-creation-secret"));
        }
        if let Command::Chat { group } = &cli.command {
            return crate::chat::run_attached(self.conn, group.as_deref())
                .await
                .map(|()| 0)
                .map_err(|e| Failure {
                    code: e.exit_code(),
                    message: e.to_string(),
                });
        }
        let follow = matches!(cli.command, Command::Read { follow: true, .. });
        let (method, mut params) = call_of(&cli.command)?;
        if follow {
            // The daemon reads once; the following is a subscription.
            params["follow"] = json!(false);
            // Subscribed first, so nothing arrives between the read and the subscription
            // unseen (the read marks as read what it prints; events after it are new).
            let group = params["group"].clone();
            let subscribed = self
                .call_plain("subscribe", json!({"group": group}))
                .await?;
            self.expect(subscribed, cli.json)?;
        }
        let mut held: Vec<Value> = Vec::new();
        let answer = self
            .call(&method, params, |m, p| {
                if m == "message" {
                    held.push(p.clone());
                }
            })
            .await?;
        let mut printed = HashSet::new();
        if let Answer::Result(v) = &answer {
            for r in v["records"].as_array().into_iter().flatten() {
                printed.insert(record_key(r));
            }
        }
        let code = self.expect(answer, cli.json)?;
        if !follow || code != 0 {
            return Ok(code);
        }
        for p in held {
            print_message(&p, cli.json, &mut printed);
        }
        self.follow(cli.json, printed).await
    }

    async fn call_plain(&mut self, method: &str, params: Value) -> Result<Answer, Failure> {
        self.call(method, params, |_, _| {}).await
    }

    /// Prints an answer as the command prints; its exit code.
    fn expect(&self, answer: Answer, json: bool) -> Result<u8, Failure> {
        match answer {
            Answer::Result(v) => {
                print_output(v.get("output"), json);
                Ok(v.get("exit").and_then(Value::as_u64).unwrap_or(0) as u8)
            }
            Answer::Error {
                code,
                message,
                data,
            } => {
                print_output(data.get("output"), json);
                Err(Failure {
                    code: if code == rpc::USAGE { 2 } else { 1 },
                    message,
                })
            }
        }
    }

    /// `kith read --follow`: prints each new message of the subscription until Ctrl-C
    /// or the daemon goes away.
    async fn follow(&mut self, json: bool, mut printed: HashSet<String>) -> Result<u8, Failure> {
        loop {
            let v = tokio::select! {
                v = self.next() => v?,
                _ = tokio::signal::ctrl_c() => return Ok(0),
            };
            if v.get("method").and_then(Value::as_str) != Some("message") {
                continue;
            }
            print_message(&v["params"], json, &mut printed);
        }
    }

    /// Refuses to run a command whose connection flags (proxy, CA, plain ws://) differ
    /// from the daemon's: a member who asks for Tor must not be connected without it.
    async fn same_connection_settings(&mut self, cli: &Cli) -> Result<(), Failure> {
        let Answer::Result(v) = self.call_plain("version", json!({})).await? else {
            return Err(failed(kith_i18n::t!("cli-daemon-no-version")));
        };
        let theirs = &v["connection"];
        let ours = connection_settings(cli);
        for key in ["proxy", "ca", "allow_plain_ws"] {
            if theirs[key] != ours[key] {
                return Err(usage(kith_i18n::t!(
                    "cli-daemon-other-settings",
                    key = key,
                    theirs = theirs[key].to_string(),
                    ours = ours[key].to_string()
                )));
            }
        }
        Ok(())
    }
}

/// The connection flags that must agree between a command and the daemon.
pub(crate) fn connection_settings(cli: &Cli) -> Value {
    json!({
        "proxy": cli.proxy,
        "ca": cli.ca.as_ref().map(|p| p.display().to_string()),
        "allow_plain_ws": cli.allow_plain_ws,
    })
}

/// The command with its `-` arguments read here: the daemon has no standard input of
/// ours.
fn call_of(command: &Command) -> Result<(String, Value), Failure> {
    let (method, mut params) = rpc::to_call(command);
    let stdin_fields: &[&str] = match command {
        Command::Send { .. } => &["text"],
        Command::Board(BoardArgs {
            action: Some(BoardCommand::Add { .. } | BoardCommand::Edit { .. }),
            ..
        }) => &["text"],
        _ => &[],
    };
    for f in stdin_fields {
        if params.get(*f).and_then(Value::as_str) == Some("-") {
            let text = super::commands::read_stdin(&super::out::Out::terminal(false))?;
            params[*f] = json!(text.trim_end_matches('\n'));
        }
    }
    // Paths are this process's: the daemon runs elsewhere. A download without `-o`
    // lands here, as it would without a daemon.
    let here = std::env::current_dir()
        .map_err(|e| failed(kith_i18n::t!("cli-no-current-dir", error = e.to_string())))?;
    match command {
        Command::SendFile { path, .. } => params["path"] = json!(here.join(path)),
        Command::Get { output, .. } => {
            params["output"] = json!(here.join(output.as_deref().unwrap_or(Path::new("."))))
        }
        _ => {}
    }
    Ok((method, params))
}

/// What tells one record from another in what the read printed and what the events
/// bring (the read's own catch-up also shows up as events).
fn record_key(r: &Value) -> String {
    json!([r["seq"], r["time"], r["kind"], r["text"], r["sender"]]).to_string()
}

/// Prints a `message` notification's record, once.
fn print_message(p: &Value, json: bool, printed: &mut HashSet<String>) {
    if !printed.insert(record_key(&p["record"])) {
        return;
    }
    if let Ok(item) = serde_json::from_value::<Item>(json!({
        "record": {"json": p["record"], "text": p["text"]}
    })) {
        print_item(&item, json);
    }
}

fn print_output(output: Option<&Value>, json: bool) {
    let Some(Value::Array(items)) = output else {
        return;
    };
    for v in items {
        if let Ok(item) = serde_json::from_value::<Item>(v.clone()) {
            print_item(&item, json);
        }
    }
}

/// `init`, `wipe` and `daemon` while a daemon holds the profile.
pub(crate) async fn local_command_with_daemon(cli: &Cli, home: &Path) -> Result<u8, Failure> {
    match &cli.command {
        Command::Daemon { stop: true } => {
            let mut remote = Remote::connect(home)
                .await
                .ok_or_else(|| failed(kith_i18n::t!("cli-daemon-went-away")))?;
            // The daemon may close the connection as it stops.
            let _ = remote.call_plain("shutdown", json!({})).await;
            // Gone once its socket no longer answers.
            for _ in 0..100 {
                if Remote::connect(home).await.is_none() {
                    eprintln!("{}", kith_i18n::t!("cli-daemon-stopped"));
                    return Ok(0);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(failed(kith_i18n::t!("cli-daemon-did-not-stop")))
        }
        Command::Daemon { stop: false } => Err(usage(kith_i18n::t!(
            "cli-daemon-already",
            home = home.display().to_string()
        ))),
        Command::Passphrase { .. } => Err(usage(kith_i18n::t!("cli-daemon-stop-for-passphrase"))),
        Command::Init { .. } => Err(usage(kith_i18n::t!(
            "cli-daemon-holds-profile-in",
            home = home.display().to_string()
        ))),
        _ => Err(usage(kith_i18n::t!("cli-daemon-stop-for-wipe"))),
    }
}
