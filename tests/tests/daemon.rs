//! End-to-end tests of `kith daemon` (issue 17): one process holds the profile, and
//! every other `kith` command, `read --follow` and programs use it through its socket
//! (docs/RPC.md) at the same time. Real relay, real `kith` processes; the hostile
//! peers talk to the socket directly. The chat through the daemon is in chat.rs; a
//! client written from docs/RPC.md alone is tests/rpc_client.py (run below).

use kith_tests::client::{JOIN_WITHIN, Profile, Running, poll};
use kith_tests::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const GROUP: &str = "Families-37th";

/// How long a daemon may take to start (unlock, bind) or to stop.
const START_WITHIN: Duration = Duration::from_secs(20);

fn socket(p: &Profile) -> PathBuf {
    p.dir().join("kith.sock")
}

/// Starts `kith daemon` for `p` and waits until its socket answers.
fn start_daemon(p: &Profile) -> Running {
    let mut daemon = p.spawn(&["daemon"]);
    poll(START_WITHIN, "the daemon's socket", || {
        if let Some(out) = daemon.try_finish() {
            panic!("the daemon exited at start: {out}");
        }
        UnixStream::connect(socket(p)).ok()
    });
    daemon
}

/// A raw connection to a daemon's socket, a line at a time.
struct Raw {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Raw {
    fn connect(p: &Profile) -> Raw {
        let s = UnixStream::connect(socket(p)).expect("connect to the daemon");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn send_line(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).unwrap();
        self.writer.write_all(b"\n").unwrap();
    }

    /// The next line, parsed; `None` at the end of the connection.
    fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))),
        }
    }

    /// The answer with `id`, skipping notifications.
    fn answer(&mut self, id: u64) -> Value {
        loop {
            let v = self.next().expect("the daemon closed the connection");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send_line(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        self.answer(id)
    }
}

fn error_code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}

/// Alice's daemon holds her profile. Meanwhile `kith read --follow` runs in one process
/// and `send`, `groups`, `members`, `whoami` and `invite` in others, all succeeding
/// (none asks for the passphrase); Bob joins with her code and is admitted by her
/// daemon; the follower prints Alice's and Bob's messages, each once. A second daemon
/// and `init` are refused; `kith daemon --stop` ends it cleanly, the follower says the
/// daemon went away, and the profile opens without it again.
#[tokio::test(flavor = "multi_thread")]
async fn every_command_goes_through_the_daemon_while_it_holds_the_profile() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    let bob = Profile::new("Bob");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let daemon = start_daemon(&alice);
    let mode = std::fs::metadata(socket(&alice))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the socket's mode");

    // No passphrase: the daemon unlocked the profile once.
    let no_pass = [("KITH_PASSPHRASE", "")];
    let who = alice.run_env(&["whoami"], &no_pass);
    assert!(who.success() && who.stdout.contains("Alice"), "{who}");

    let code = alice.ok(&["invite", GROUP]).trim().to_owned();
    let joined = bob.run(&["join", &code, "--wait", &JOIN_WITHIN.as_secs().to_string()]);
    assert!(
        joined.success(),
        "Bob was not admitted by Alice's daemon: {joined}"
    );

    let follower = alice.spawn(&["read", GROUP, "--follow"]);
    poll(
        START_WITHIN,
        "the follower to print what was unread",
        || {
            follower
                .stdout_so_far()
                .contains("You added Bob")
                .then_some(())
        },
    );
    let sent = alice.run_env(&["send", GROUP, "sent while the follower runs"], &no_pass);
    assert!(sent.success(), "{sent}");
    bob.ok(&["send", GROUP, "Bob writes through the relay"]);
    let groups = alice.ok(&["groups"]);
    assert!(
        groups.contains(GROUP) && groups.contains("2 members"),
        "{groups}"
    );
    let members = alice.ok(&["--json", "members", GROUP]);
    assert_eq!(members.lines().count(), 2, "{members}");
    let out = poll(
        Duration::from_secs(20),
        "the follower to print both",
        || {
            let out = follower.stdout_so_far();
            (out.contains("Alice: sent while the follower runs")
                && out.contains("Bob?: Bob writes through the relay"))
            .then_some(out)
        },
    );
    for line in [
        "Alice: sent while the follower runs",
        "Bob writes through the relay",
    ] {
        assert_eq!(
            out.matches(line).count(),
            1,
            "printed once: {line:?}\n{out}"
        );
    }
    let read = bob.ok(&["read", GROUP, "--all"]);
    assert!(
        read.contains("Alice?: sent while the follower runs"),
        "{read}"
    );

    // Paths are the command's, not the daemon's: a file named relative to where
    // `send-file` runs, downloaded by `get` into where it runs.
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(from.path().join("note.txt"), "the lawyer's number").unwrap();
    let mut cmd = alice.command(&["send-file", GROUP, "note.txt"]);
    cmd.current_dir(from.path());
    let sent = alice.spawn_command(cmd, "send-file note.txt").wait();
    assert!(sent.success(), "{sent}");
    let mut cmd = alice.command(&["get", GROUP, "note.txt"]);
    cmd.current_dir(to.path());
    let got = alice.spawn_command(cmd, "get note.txt").wait();
    assert!(got.success(), "{got}");
    assert_eq!(
        std::fs::read_to_string(to.path().join("note.txt")).unwrap(),
        "the lawyer's number"
    );

    // A command that asks for a proxy the daemon does not use is refused, not
    // connected without it.
    let proxied = alice.run_env(
        &["send", GROUP, "x"],
        &[("KITH_PROXY", "socks5://127.0.0.1:9")],
    );
    assert_eq!(proxied.code(), 2, "{proxied}");
    assert!(proxied.stderr.contains("other settings"), "{proxied}");

    // One daemon per profile; no new profile over a held one.
    let second = alice.run(&["daemon"]);
    assert_eq!(second.code(), 2, "{second}");
    assert!(second.stderr.contains("already holds"), "{second}");
    let init = alice.run(&["init", "--name", "Mallory"]);
    assert_eq!(init.code(), 2, "{init}");

    let stop = alice.ok(&["daemon", "--stop"]);
    assert!(stop.is_empty(), "{stop}");
    let out = daemon.exits_within(START_WITHIN);
    assert!(out.success(), "the daemon's exit: {out}");
    assert!(
        out.stderr.contains("stopped; the profile is closed"),
        "{out}"
    );
    assert!(!socket(&alice).exists(), "the socket outlived the daemon");
    let follower = follower.exits_within(START_WITHIN);
    assert!(
        follower.stderr.contains("the daemon closed the connection"),
        "{follower}"
    );
    // The profile opens without the daemon, with everything in it.
    let all = alice.ok(&["read", GROUP, "--all"]);
    assert!(all.contains("Bob?: Bob writes through the relay"), "{all}");
}

/// SIGTERM stops the daemon cleanly (exit 0, socket removed), and a socket file left
/// by a daemon that was killed is no obstacle: commands open the profile themselves,
/// and the next daemon replaces it.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_it_and_a_killed_daemons_socket_is_no_obstacle() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);

    let daemon = start_daemon(&alice);
    alice.ok(&["send", GROUP, "before SIGTERM"]);
    let pid = daemon.pid().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = daemon.exits_within(START_WITHIN);
    assert!(out.success(), "{out}");
    assert!(!socket(&alice).exists());

    let daemon = start_daemon(&alice);
    let out = daemon.kill();
    assert!(!out.success());
    assert!(socket(&alice).exists(), "kill -9 leaves the socket file");
    let read = alice.ok(&["read", GROUP, "--all"]);
    assert!(read.contains("Alice: before SIGTERM"), "{read}");
    let daemon = start_daemon(&alice);
    let sent = alice.run_env(&["send", GROUP, "after"], &[("KITH_PASSPHRASE", "")]);
    assert!(sent.success(), "{sent}");
    // `shutdown` is answered, then the daemon stops cleanly.
    let mut raw = Raw::connect(&alice);
    let v = raw.call(1, "shutdown", json!({}));
    assert_eq!(v["result"], json!({}), "{v}");
    let out = daemon.exits_within(START_WITHIN);
    assert!(out.success(), "{out}");
}

/// What a hostile or broken program sends on the socket gets an error answer or a
/// closed connection; a peer that sends without ever reading is disconnected; none of
/// it keeps the daemon from serving everyone else, and the daemon is still up after.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_gets_errors_and_never_stalls_the_daemon() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let mut daemon = start_daemon(&alice);

    let mut raw = Raw::connect(&alice);
    raw.send_line("this is not JSON");
    assert_eq!(error_code(&raw.next().unwrap()), -32700);
    raw.send_line(r#"{"jsonrpc":"2.0","id":1}"#);
    assert_eq!(error_code(&raw.answer(1)), -32600);
    raw.send_line(r#"{"jsonrpc":"1.0","id":2,"method":"version"}"#);
    assert_eq!(error_code(&raw.answer(2)), -32600);
    raw.send_line(r#"[{"jsonrpc":"2.0","id":3,"method":"version"}]"#);
    assert_eq!(error_code(&raw.next().unwrap()), -32600);
    raw.send_line(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"version"}"#);
    assert_eq!(error_code(&raw.next().unwrap()), -32600);
    assert_eq!(
        error_code(&raw.call(4, "no-such-method", json!({}))),
        -32601
    );
    // Methods that exist as commands but not here.
    assert_eq!(
        error_code(&raw.call(5, "init", json!({"name": "M"}))),
        -32601
    );
    assert_eq!(
        error_code(&raw.call(6, "wipe", json!({"yes": true}))),
        -32601
    );
    assert_eq!(
        error_code(&raw.call(7, "send", json!({"group": GROUP}))),
        -32602
    );
    assert_eq!(error_code(&raw.call(8, "send", json!(["a", "b"]))), -32602);
    assert_eq!(
        error_code(&raw.call(9, "delete", json!({"group": GROUP, "seq": -1}))),
        -32602
    );
    // A command that fails the way the CLI does (exit code 2: no such group).
    let v = raw.call(10, "send", json!({"group": "nope", "text": "x"}));
    assert_eq!(error_code(&v), 2, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nope"),
        "{v}"
    );
    // `-` (standard input) means nothing to the daemon: it never reads its own.
    let v = raw.call(13, "send", json!({"group": GROUP, "text": "-"}));
    assert_eq!(error_code(&v), 2, "{v}");
    // A notification gets no answer: the next line is the answer to id 11.
    raw.send_line(r#"{"jsonrpc":"2.0","method":"version"}"#);
    let v = raw.call(11, "version", json!({}));
    assert_eq!(v["result"]["protocol"], json!(1), "{v}");
    // Blank lines are nothing.
    raw.send_line("   ");
    let v = raw.call(12, "send", json!({"group": GROUP, "text": "still served"}));
    assert_eq!(v["result"]["exit"], json!(0), "{v}");

    // Events: a change of the group's state (a board entry) reaches a subscriber.
    let v = raw.call(20, "subscribe", json!({"group": GROUP}));
    assert!(v["result"]["group"].is_string(), "{v}");
    let v = raw.call(
        21,
        "board.add",
        json!({"group": GROUP, "title": "Lawyer", "text": "+7 900"}),
    );
    assert_eq!(v["result"]["exit"], json!(0), "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = raw.next().expect("events");
        if v["method"] == "state" && v["params"]["board"][0]["title"] == "Lawyer" {
            assert_eq!(v["params"]["admin"], json!(true), "{v}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no state event with the board entry"
        );
    }

    // A line longer than 1 MiB: an error, then the connection closes.
    let mut long = Raw::connect(&alice);
    let big = vec![b'x'; 2 << 20];
    let _ = long.writer.write_all(&big);
    let v = long.next().expect("an error before the close");
    assert_eq!(error_code(&v), -32600, "{v}");
    assert!(
        long.next().is_none(),
        "the connection stays open after a huge line"
    );

    // A peer that never reads: its answers pile up until the daemon drops it.
    let mut deaf = UnixStream::connect(socket(&alice)).unwrap();
    deaf.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let flood = std::thread::spawn(move || {
        let line = format!(
            "{}\n",
            json!({"jsonrpc": "2.0", "id": 1, "method": "version"})
        );
        for _ in 0..200_000 {
            if deaf.write_all(line.as_bytes()).is_err() {
                return true; // disconnected
            }
        }
        false
    });
    // Everyone else is served meanwhile.
    let started = Instant::now();
    let who = alice.ok(&["whoami"]);
    assert!(who.contains("Alice"), "{who}");
    eprintln!("whoami during the flood took {:?}", started.elapsed());
    assert!(
        flood.join().unwrap(),
        "the deaf peer was never disconnected"
    );

    // A peer that connects and says nothing holds nothing.
    let _silent = UnixStream::connect(socket(&alice)).unwrap();
    alice.ok(&["send", GROUP, "after the flood"]);
    assert!(daemon.try_finish().is_none(), "the daemon died");
    let read = alice.ok(&["read", GROUP, "--all"]);
    assert!(read.contains("Alice: after the flood"), "{read}");
}

/// The socket is its owner's alone: mode 0600 in the profile directory, and a peer of
/// another uid is hung up on even when the file's permissions would let it in (the
/// test loosens them and connects as `nobody`, which needs root and `setpriv`).
#[tokio::test(flavor = "multi_thread")]
async fn another_user_is_hung_up_on() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let daemon = start_daemon(&alice);
    let sock = socket(&alice);
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let root = std::fs::metadata(alice.dir()).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let setpriv = kith_tests::installed_tool("setpriv", "util-linux");
    if root.ok() != Some(true) || setpriv.is_none() {
        eprintln!("SKIPPED: switching uid needs root and setpriv; only the mode was checked");
        return;
    }
    // Open the way for `nobody`: every directory up to the socket, and the socket.
    let mut dir = Some(alice.dir());
    while let Some(d) = dir {
        if d == std::path::Path::new("/") {
            break;
        }
        let mode = std::fs::metadata(d).unwrap().permissions().mode();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o711)).unwrap();
        dir = d.parent();
    }
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    // `nobody` runs this very kith against the profile: it reaches the socket, the
    // daemon closes without a word, and nothing is said about the group.
    let out = std::process::Command::new(setpriv.unwrap())
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(kith_tests::client::kith_bin())
        .arg("--home")
        .arg(alice.dir())
        .args(["groups"])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "nobody used the daemon: {stdout}");
    assert!(
        stderr.contains("the daemon closed the connection"),
        "nobody's kith said: {stderr}"
    );
    assert!(!stdout.contains(GROUP), "{stdout}");
    // The owner is still served.
    let groups = alice.ok(&["groups"]);
    assert!(groups.contains(GROUP), "{groups}");
    drop(daemon);
}

/// A program written from docs/RPC.md alone (Python, standard library only:
/// tests/rpc_client.py) subscribes, sends, receives the event of another member's
/// message, and handles an error, against the real daemon.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_written_from_the_docs_talks_to_the_daemon() {
    let Some(python) = kith_tests::installed_tool("python3", "python3") else {
        return;
    };
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    let bob = Profile::new("Bob");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let code = alice.ok(&["invite", GROUP]).trim().to_owned();
    let daemon = start_daemon(&alice);
    let joined = bob.run(&["join", &code, "--wait", &JOIN_WITHIN.as_secs().to_string()]);
    assert!(joined.success(), "{joined}");

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rpc_client.py");
    let mut client = std::process::Command::new(python)
        .arg(&script)
        .arg(socket(&alice))
        .arg(GROUP)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bob writes once the script has subscribed (it says so on its first line).
    let mut stdout = BufReader::new(client.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "subscribed", "the script's first line");
    bob.ok(&["send", GROUP, "Bob's news for the bot"]);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = client.wait().unwrap();
    let mut stderr = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "rpc_client.py failed:\n{rest}\n{stderr}");
    assert!(
        rest.contains("event from Bob: Bob's news for the bot"),
        "{rest}"
    );
    assert!(rest.contains("error 2:"), "{rest}");
    // What the script sent reached Bob.
    let read = bob.ok(&["read", GROUP, "--all"]);
    assert!(read.contains("Alice?: written by a bot"), "{read}");
    drop(daemon);
}
