//! The daemon's protocol, shared by the daemon (`daemon/`) and the `kith` commands that
//! go through it (`cli/remote.rs`): JSON-RPC 2.0, one JSON object a line, on a Unix
//! socket in the profile directory. docs/RPC.md is the reference; this module holds what
//! both sides must agree on: the socket's place, the limits, the error codes, and how a
//! command of the command line becomes a method call and back.

use crate::args::{BoardArgs, BoardCommand, Command, GroupCommand};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// The version of the protocol (`version` method; docs/RPC.md). Raised on a change
/// that an existing client could misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// The socket's name inside the profile directory.
pub const SOCKET_NAME: &str = "kith.sock";

/// The longest line the daemon accepts, in bytes (without the newline). A file of
/// 25 MiB is sent by path, never inline, so no call comes near it. The daemon's own
/// lines (a long history) may be longer; its clients take up to 64 times this.
pub const MAX_LINE: usize = 1 << 20;

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Valid JSON, but not a JSON-RPC request (or a line that is too long).
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The method exists; its parameters do not fit it.
pub const INVALID_PARAMS: i64 = -32602;
/// The command failed (exit code 1 of `kith`).
pub const FAILED: i64 = 1;
/// The command was used wrongly: no such group or member, a bad value (exit code 2).
pub const USAGE: i64 = 2;

/// Where a profile's daemon listens.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(SOCKET_NAME)
}

/// The commands that never run in the daemon: they make, destroy or hold the profile
/// itself, or need the terminal (`chat` talks to the daemon in its own way).
pub fn local_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Init { .. }
            | Command::Wipe { .. }
            | Command::GenerateDocs { .. }
            | Command::Daemon { .. }
            | Command::Chat { .. }
            | Command::Passphrase { .. }
    )
}

/// A command as a method call: its name (`send`, `group.create`, `board.add`) and its
/// arguments by name.
pub fn to_call(command: &Command) -> (String, Value) {
    match command {
        Command::Board(BoardArgs {
            action: Some(action),
            ..
        }) => nested("board", serde_json::to_value(action)),
        Command::Board(BoardArgs {
            action: None,
            group,
        }) => ("board".into(), json!({ "group": group })),
        other => {
            let v = serde_json::to_value(other);
            match other {
                Command::Group(_) => {
                    let inner = v.ok().and_then(|v| v.get("params").cloned());
                    nested("group", Ok(inner.unwrap_or(Value::Null)))
                }
                _ => split(v),
            }
        }
    }
}

fn split(v: Result<Value, serde_json::Error>) -> (String, Value) {
    let v = v.unwrap_or(Value::Null);
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let params = v.get("params").cloned().unwrap_or(json!({}));
    (method, params)
}

fn nested(outer: &str, inner: Result<Value, serde_json::Error>) -> (String, Value) {
    let (method, params) = split(inner);
    (format!("{outer}.{method}"), params)
}

/// A method call as a command; `Err(None)` for a method that is not a command, else
/// what is wrong with the parameters.
pub fn from_call(method: &str, params: Value) -> Result<Command, Option<String>> {
    let params = match params {
        Value::Null => Value::Object(Map::new()),
        Value::Object(m) => Value::Object(m),
        _ => return Err(Some("params must be an object of named parameters".into())),
    };
    let empty = params.as_object().is_some_and(Map::is_empty);
    let command = match method.split_once('.') {
        Some(("group", inner)) => {
            if !GROUP_METHODS.contains(&inner) {
                return Err(None);
            }
            serde_json::from_value::<GroupCommand>(json!({ "method": inner, "params": params }))
                .map(Command::Group)
        }
        Some(("board", inner)) => {
            if !["add", "edit", "rm"].contains(&inner) {
                return Err(None);
            }
            serde_json::from_value::<BoardCommand>(json!({ "method": inner, "params": params }))
                .map(|action| {
                    Command::Board(BoardArgs {
                        action: Some(action),
                        group: None,
                    })
                })
        }
        Some(_) => return Err(None),
        None if method == "board" => {
            let group = params
                .get("group")
                .and_then(Value::as_str)
                .map(String::from);
            if group.is_none() {
                return Err(Some("missing field `group`".into()));
            }
            Ok(Command::Board(BoardArgs {
                action: None,
                group,
            }))
        }
        None => {
            if !COMMAND_METHODS.contains(&method) {
                return Err(None);
            }
            serde_json::from_value::<Command>(json!({ "method": method, "params": params }))
                .or_else(|e| {
                    // A command without arguments (`whoami`) is a unit variant: no
                    // content at all.
                    if !empty {
                        return Err(e);
                    }
                    serde_json::from_value::<Command>(json!({ "method": method })).map_err(|_| e)
                })
        }
    };
    let command = command.map_err(|e| Some(e.to_string()))?;
    if local_only(&command) {
        return Err(None);
    }
    Ok(command)
}

/// The methods that are commands without a dot (docs/RPC.md lists them).
pub const COMMAND_METHODS: &[&str] = &[
    "whoami",
    "groups",
    "invite",
    "join",
    "sync",
    "send",
    "outbox",
    "send-file",
    "files",
    "get",
    "read",
    "members",
    "remove",
    "leave",
    "verify",
    "doctor",
    "requests",
    "approve",
    "deny",
    "promote",
    "demote",
    "delete",
    #[cfg(feature = "test-hooks")]
    "test-evil",
];

/// `group.*` methods.
pub const GROUP_METHODS: &[&str] = &["create", "update", "set", "show", "move"];

/// What a call brought back.
pub enum Answer {
    /// The method's result.
    Result(Value),
    /// The error answer.
    Error {
        /// Its code (the constants above).
        code: i64,
        /// What went wrong.
        message: String,
        /// `output` of a failed command, if any.
        data: Value,
    },
}

/// A connection to a profile's daemon (the `kith` commands' and the chat's side).
pub struct Connection {
    reader: Lines,
    writer: OwnedWriteHalf,
    next_id: u64,
}

/// The daemon's side of a connection, line by line.
pub struct Lines {
    inner: BufReader<OwnedReadHalf>,
}

impl Lines {
    /// The next line from the daemon, parsed: an answer or a notification.
    pub async fn next(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        let n = (&mut self.inner)
            .take(MAX_LINE as u64 * 64)
            .read_line(&mut line)
            .await
            .map_err(|e| kith_i18n::t!("cli-daemon-read-failed", error = e.to_string()))?;
        if n == 0 {
            return Err(kith_i18n::t!("cli-daemon-closed-connection"));
        }
        serde_json::from_str(&line)
            .map_err(|e| kith_i18n::t!("cli-daemon-nonsense", error = e.to_string()))
    }
}

impl Connection {
    /// Connects to the daemon of the profile in `home`, if one answers there. A socket
    /// file left by a daemon that died is no daemon.
    pub async fn connect(home: &Path) -> Option<Connection> {
        let stream = UnixStream::connect(socket_path(home)).await.ok()?;
        let (r, writer) = stream.into_split();
        Some(Connection {
            reader: Lines {
                inner: BufReader::new(r),
            },
            writer,
            next_id: 1,
        })
    }

    /// Sends a request; its id.
    pub async fn send(&mut self, method: &str, params: Value) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("the daemon closed the connection: {e}"))?;
        Ok(id)
    }

    /// The next line from the daemon: an answer or a notification.
    pub async fn next(&mut self) -> Result<Value, String> {
        self.reader.next().await
    }

    /// The two directions apart: lines in, notifications out (the chat reads and
    /// writes at once).
    pub fn split(self) -> (Lines, Notifier) {
        (
            self.reader,
            Notifier {
                writer: self.writer,
            },
        )
    }

    /// Calls a method and waits for its answer; `events` gets the notifications that
    /// come meanwhile.
    pub async fn call(
        &mut self,
        method: &str,
        params: Value,
        mut events: impl FnMut(&str, &Value),
    ) -> Result<Answer, String> {
        let id = self.send(method, params).await?;
        loop {
            let v = self.next().await?;
            if v.get("id").and_then(Value::as_u64) != Some(id) {
                if let Some(m) = v.get("method").and_then(Value::as_str) {
                    events(m, v.get("params").unwrap_or(&Value::Null));
                }
                continue;
            }
            if let Some(e) = v.get("error") {
                return Ok(Answer::Error {
                    code: e.get("code").and_then(Value::as_i64).unwrap_or(FAILED),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("failed")
                        .to_owned(),
                    data: e.get("data").cloned().unwrap_or(Value::Null),
                });
            }
            return Ok(Answer::Result(
                v.get("result").cloned().unwrap_or(Value::Null),
            ));
        }
    }
}

/// The writing half of a [`Connection`], for notifications.
pub struct Notifier {
    writer: OwnedWriteHalf,
}

impl Notifier {
    /// Sends a notification (a request without id: no answer comes).
    pub async fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        let mut line = json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("the daemon closed the connection: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Command {
        let mut argv = vec!["kith"];
        argv.extend_from_slice(args);
        crate::args::Cli::parse_from(argv).command
    }

    /// Every command the daemon runs goes to a call and back unchanged, defaults
    /// included.
    #[test]
    fn commands_round_trip_through_calls() {
        for args in [
            &["whoami"][..],
            &["groups"],
            &["send", "Family", "hello there"],
            &["invite", "Family", "--expires", "30m", "--approve"],
            &["invite", "Family"],
            &["join", "kith://relay.example/ABC", "--wait", "0"],
            &["read", "Family", "--all"],
            &["group", "create", "Family", "--relay", "wss://r.example"],
            &[
                "group",
                "set",
                "Family",
                "--fallback",
                "wss://a",
                "--fallback",
                "wss://b",
            ],
            &["board", "Family"],
            &["board", "add", "Family", "Lawyer", "+7 900"],
            &["board", "edit", "Family", "3", "--title", "T"],
            &["delete", "Family", "42"],
            &["get", "Family", "1", "-o", "/tmp/x", "--force"],
            &["doctor"],
        ] {
            let command = parse(args);
            let (method, params) = to_call(&command);
            let back = from_call(&method, params.clone())
                .unwrap_or_else(|e| panic!("{args:?} as {method} {params}: {e:?}"));
            assert_eq!(format!("{command:?}"), format!("{back:?}"), "{args:?}");
        }
    }

    #[test]
    fn defaults_are_the_command_lines() {
        // All arguments optional: `{}` and no params at all are the bare command.
        for method in ["sync", "doctor", "whoami", "groups"] {
            for params in [json!({}), Value::Null] {
                let c = from_call(method, params.clone())
                    .unwrap_or_else(|e| panic!("{method} {params}: {e:?}"));
                assert_eq!(format!("{c:?}"), format!("{:?}", parse(&[method])));
            }
        }
        let c = from_call("invite", json!({"group": "F"})).unwrap();
        assert_eq!(format!("{c:?}"), format!("{:?}", parse(&["invite", "F"])));
        let c = from_call("join", json!({"invite": "kith://r/X"})).unwrap();
        assert_eq!(
            format!("{c:?}"),
            format!("{:?}", parse(&["join", "kith://r/X"]))
        );
    }

    #[test]
    fn what_is_not_a_command_method_is_told_apart() {
        assert!(matches!(from_call("init", json!({"name": "x"})), Err(None)));
        assert!(matches!(from_call("chat", json!({})), Err(None)));
        assert!(matches!(from_call("group.nope", json!({})), Err(None)));
        assert!(matches!(from_call("nope", json!({})), Err(None)));
        assert!(matches!(
            from_call("send", json!({"group": "F"})),
            Err(Some(_))
        ));
        assert!(matches!(from_call("send", json!([1, 2])), Err(Some(_))));
        assert!(matches!(
            from_call("delete", json!({"group": "F", "seq": "x"})),
            Err(Some(_))
        ));
    }
}
