//! Harness for the end-to-end tests: runs the real `kith-relay` binary on loopback and
//! gives tests a [`TestRelay`] to drive, kill, restart and inspect, plus a few helpers
//! (groups, padded payloads, raw WebSocket access, polling with a deadline).
//!
//! The binary is found in `KITH_RELAY_BIN` if set, else next to the test executable
//! (`<target>/<profile>/kith-relay`); if it is missing there, or was built without the
//! test hooks (by `cargo build`), it is built once with `cargo build -p kith-relay
//! --features test-hooks` into the same target directory.
#![forbid(unsafe_code)]

use futures_util::{SinkExt, StreamExt};
use kith::{RelayConnection, RelayError};
use kith_protocol::access::{AccessKey, AdminKey};
use kith_protocol::limits::MAX_FRAME;
use kith_protocol::{
    ClientFrame, Epoch, GroupId, Message, PROTOCOL_VERSION, PostKind, RelayFrame, Request,
    Response, Seq, padding,
};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod client;
pub mod gate;
pub mod lazyfs;
pub mod mitm;
pub mod socks;
pub mod tls;

pub use kith;
pub use kith_protocol;

/// How long a relay has to print its two ready lines.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The default rate-limit flags of a test relay: high enough that no test that does not
/// mean to hit the limit does. Left out when a test passes `--rate`, `--burst` or
/// `--config` itself (flags would override the file).
pub const GENEROUS_RATE: &[&str] = &["--rate", "100000", "--burst", "100000"];

/// The path of the `kith-relay` binary, built if needed (once per test process).
pub fn relay_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("KITH_RELAY_BIN", "kith-relay", "kith-relay"))
}

/// The workspace packages whose binaries have test hooks (their `test-hooks` feature):
/// the end-to-end tests need those builds, which say so in `--version`.
const HOOKED: &[&str] = &["kith", "kith-relay"];

/// Whether the binary at `path` was built with the `test-hooks` feature (its
/// `--version` ends in `(test-hooks)`).
pub fn has_test_hooks(path: &Path) -> bool {
    Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .trim_end()
                    .ends_with("(test-hooks)")
        })
}

/// Finds binary `bin` of workspace package `package`: in `env_var` if set (used as it
/// is), else next to the test executable (`<target>/<profile>/BIN`). Builds it there
/// only when missing, or when a package with test hooks ([`HOOKED`]) was built without
/// them (`cargo build` after `cargo test --workspace`): a rebuild from here uses a
/// different feature set from the workspace test build and recompiles much of the
/// dependency graph, so `cargo test --workspace`, which builds every binary of the
/// workspace with the features the tests crate asks for, never needs it.
pub fn workspace_bin(env_var: &str, package: &str, bin: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test executable has a parent")
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let path = dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let hooked = HOOKED.contains(&package);
    if !path.exists() {
        build_bin(&dir, package, bin);
        assert!(
            path.exists(),
            "cargo build -p {package} did not produce {}",
            path.display()
        );
    } else if hooked && !has_test_hooks(&path) {
        eprintln!(
            "{} has no test hooks (built by `cargo build`?); rebuilding it with them",
            path.display()
        );
        build_bin(&dir, package, bin);
    }
    assert!(
        !hooked || has_test_hooks(&path),
        "{} was not built with the test-hooks feature",
        path.display()
    );
    path
}

/// Builds `bin` of `package` into the target directory that holds `profile_dir`.
fn build_bin(profile_dir: &Path, package: &str, bin: &str) {
    let target_dir = profile_dir.parent().expect("profile dir has a parent");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "-p", package, "--bin", bin, "--target-dir"])
        .arg(target_dir);
    if HOOKED.contains(&package) {
        // As `cargo test --workspace` builds it: with the hooks of the end-to-end tests
        // (the relay's crash points, the client's fast KDF, crash points and role hook).
        cmd.args(["--features", "test-hooks"]);
    }
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build {bin}: {e}"));
    assert!(
        status.success(),
        "cargo build -p {package} failed: {status}"
    );
}

/// A running (or stopped) `kith-relay` process with its own data directory.
pub struct TestRelay {
    child: Option<Child>,
    /// The relay's own temporary data directory, removed when the relay is dropped.
    _data: TempDir,
    /// Where the relay runs: `data`, unless a test moved it ([`TestRelay::set_data_dir`]).
    data_path: PathBuf,
    logs: Option<TempDir>,
    log_path: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    addr: SocketAddr,
    metrics_addr: SocketAddr,
}

impl TestRelay {
    /// Starts a relay on `127.0.0.1:0` (and metrics on another free port) with a fresh
    /// data directory and `extra_args`. Waits for its ready lines.
    pub async fn start(extra_args: &[&str]) -> TestRelay {
        Self::start_with_env(extra_args, &[]).await
    }

    /// [`TestRelay::start`] with extra environment variables for the relay.
    pub async fn start_with_env(extra_args: &[&str], envs: &[(&str, &str)]) -> TestRelay {
        let data = tempfile::Builder::new()
            .prefix("kith-relay-data-")
            .tempdir()
            .expect("temp data dir");
        let logs = tempfile::Builder::new()
            .prefix("kith-relay-logs-")
            .tempdir()
            .expect("temp log dir");
        let log_path = logs.path().join("relay.stderr.log");
        let mut args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        if !args.iter().any(|a| {
            ["--rate", "--burst", "--config"]
                .iter()
                .any(|f| a.starts_with(f))
        }) {
            args.extend(GENEROUS_RATE.iter().map(|s| s.to_string()));
        }
        let mut relay = TestRelay {
            child: None,
            data_path: data.path().to_path_buf(),
            _data: data,
            logs: Some(logs),
            log_path,
            args,
            // The relay's retention floor (a minute) would make every retention test a
            // minute long: tests that do not name it get one second.
            envs: std::iter::once(("KITH_RELAY_TEST_MIN_RETENTION_SECS", "1"))
                .filter(|(k, _)| !envs.iter().any(|(e, _)| e == k))
                .chain(envs.iter().copied())
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        relay.spawn().await;
        relay
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "relay already running");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open relay log");
        let mut cmd = Command::new(relay_bin());
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&self.data_path)
        .args(&self.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
        // The relay reads KITH_RELAY_* settings from its environment: only ours count.
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("KITH_RELAY_")) || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        // English, whatever the machine's language (tests read its start-up lines).
        cmd.env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", relay_bin().display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let stdout_log = self.log_path.with_file_name("relay.stdout.log");
        // Keep draining stdout for the relay's whole life, so that it never blocks on
        // (or dies writing to) a full or closed pipe.
        std::thread::spawn(move || {
            let mut copy = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(stdout_log)
                .ok();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = copy.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);

        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let (mut listen, mut metrics) = (None, None);
        while listen.is_none() || metrics.is_none() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => {
                    if let Some(a) = line.strip_prefix("kith-relay listening on ") {
                        listen = Some(
                            a.trim()
                                .parse::<SocketAddr>()
                                .unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}")),
                        );
                    } else if let Some(a) = line.strip_prefix("kith-relay metrics on ") {
                        metrics = Some(
                            a.trim()
                                .parse::<SocketAddr>()
                                .unwrap_or_else(|e| panic!("bad metrics line {line:?}: {e}")),
                        );
                    }
                }
                Ok(None) => {
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    panic!(
                        "kith-relay exited before it was ready ({status:?}); log {}:\n{}",
                        self.log_path.display(),
                        self.log_tail(40)
                    );
                }
                Err(_) => panic!(
                    "kith-relay not ready within {READY_TIMEOUT:?}; log {}:\n{}",
                    self.log_path.display(),
                    self.log_tail(40)
                ),
            }
        }
        self.addr = listen.expect("listen address");
        self.metrics_addr = metrics.expect("metrics address");
    }

    /// `ws://127.0.0.1:PORT/v1`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, kith_protocol::WS_PATH)
    }

    /// The WebSocket (and health check) address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics address.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The relay's data directory (kept across restarts).
    pub fn data_dir(&self) -> &Path {
        &self.data_path
    }

    /// Makes the next start (or [`TestRelay::restart`]) run on `dir` instead: a data
    /// directory on a test file system (a power cut, a full disk), or the directory
    /// beneath one. The caller keeps `dir` alive.
    pub fn set_data_dir(&mut self, dir: &Path) {
        self.data_path = dir.to_path_buf();
    }

    /// Sets (or with `None` removes) an environment variable of the relay for its next
    /// start: a crash point of the `test-hooks` build, say.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.envs.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.envs.push((key.to_string(), v.to_string()));
        }
    }

    /// Starts the relay again (new ports) unless it still runs; for after it exited by
    /// itself (a crash point).
    pub async fn start_again(&mut self) {
        if let Some(child) = self.child.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            return;
        }
        self.child = None;
        self.spawn().await;
    }

    /// Waits up to `within` for the relay to exit by itself; its status, or `None` if it
    /// still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The file the relay's stderr goes to (appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole stderr log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `n` lines of the stderr log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The relay's process id, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Connects a client (with `Hello` done).
    pub async fn connect(&self) -> RelayConnection {
        RelayConnection::connect(&self.ws_url())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.ws_url()))
    }

    /// Kills the relay with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `within` for the relay to exit; returns its exit
    /// status, or `None` if it did not exit in time (it is then killed).
    pub async fn stop_gracefully(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + within;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }

    /// Starts the relay again on the same data directory with the same arguments (new
    /// ports). Kills it first if it still runs.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking()
            && let Some(logs) = self.logs.take()
        {
            let dir = logs.keep();
            eprintln!(
                "kith-relay log kept at {} (data dir was {}); last lines:\n{}",
                dir.display(),
                self.data_path.display(),
                self.log_tail(30)
            );
        }
    }
}

/// The keys in both copies of a relay's shredding keys (`KITHSK3`: magic, generation,
/// length, 56-byte records whose last 32 bytes are the key, checksum; see
/// `server/src/store/shred.rs`).
pub fn relay_shred_keys(data_dir: &Path) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for name in ["shred-keys", "shred-keys.1"] {
        let file = std::fs::read(data_dir.join(name)).unwrap_or_default();
        assert_eq!(file.get(..8), Some(&b"KITHSK3\0"[..]), "{name}");
        let len = u64::from_be_bytes(file[16..24].try_into().unwrap()) as usize;
        for r in file[24..24 + len].chunks(56) {
            if !keys.contains(&r[24..].to_vec()) {
                keys.push(r[24..].to_vec());
            }
        }
    }
    keys
}

/// A plain HTTP/1.1 `GET` over a raw TCP connection; returns the status code and the
/// body (as text, lossily).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let fut = async {
        let mut tcp = TcpStream::connect(addr).await?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        tcp.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("GET {path} on {addr} timed out"))
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {head:?}"));
    (status, body.to_string())
}

/// One metric's value from the relay's `/metrics`.
pub async fn metric(relay: &TestRelay, name: &str) -> i64 {
    let (status, body) = http_get(relay.metrics_addr(), "/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

/// The files under the relay's `values/` that hold a message or blob of `group` (named by
/// the hex of their sled key: `M` or `B`, then the group's id).
pub fn value_files_of(data: &Path, group: GroupId) -> Vec<String> {
    let prefixes = [
        format!("4d{}", group.to_hex()),
        format!("42{}", group.to_hex()),
    ];
    std::fs::read_dir(data.join("values"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| prefixes.iter().any(|p| n.starts_with(p.as_str())))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A padded payload that carries `text`.
pub fn payload(text: &str) -> Vec<u8> {
    padding::pad(text.as_bytes()).expect("fits a bucket")
}

/// A padded payload of the bucket for `data_len` data bytes, made of `fill`.
pub fn payload_of(data_len: usize, fill: u8) -> Vec<u8> {
    padding::pad(&vec![fill; data_len]).expect("fits a bucket")
}

/// A group made by a test, with the access key of its current epoch.
pub struct TestGroup {
    /// The relay's id for it.
    pub id: GroupId,
    /// The epoch `key` belongs to.
    pub epoch: Epoch,
    /// The access key of `epoch`.
    pub key: AccessKey,
    /// The group's (only) admin key.
    pub admin: AdminKey,
}

/// Creates a group with a fresh random access key and admin key (no creation secret)
/// and authorizes `conn` for its epoch 0 and as its admin.
pub async fn create_group(conn: &RelayConnection) -> TestGroup {
    create_group_with_secret(conn, b"")
        .await
        .expect("create group")
}

/// Like [`create_group`] with a creation secret; returns the relay's error if refused.
pub async fn create_group_with_secret(
    conn: &RelayConnection,
    secret: &[u8],
) -> Result<TestGroup, RelayError> {
    let key = AccessKey::random();
    let admin = AdminKey::random();
    let id = conn
        .create_group(key.public(), secret, admin.public())
        .await?;
    let (epoch, head) = conn.auth(id, 0, &key).await?;
    assert_eq!((epoch, head), (0, 1), "a new group is at epoch 0, head 1");
    conn.admin_auth(id, &admin).await?;
    Ok(TestGroup {
        id,
        epoch: 0,
        key,
        admin,
    })
}

/// Posts an application message.
pub async fn post_app(
    conn: &RelayConnection,
    group: GroupId,
    epoch: Epoch,
    payload: Vec<u8>,
) -> Result<Seq, RelayError> {
    conn.post(group, epoch, PostKind::Application, payload)
        .await
}

/// Fetches everything from `from` on, page by page, until the end or a withheld epoch.
/// Returns the messages and the last page's `(next, head, needs_epoch)`.
pub async fn fetch_all(
    conn: &RelayConnection,
    group: GroupId,
    from: Seq,
) -> Result<(Vec<Message>, Seq, Seq, Option<Epoch>), RelayError> {
    let mut out = Vec::new();
    let mut from = from;
    loop {
        let page = conn.fetch(group, from, 256).await?;
        let empty = page.messages.is_empty();
        out.extend(page.messages);
        if empty || page.needs_epoch.is_some() || page.next >= page.head {
            return Ok((out, page.next, page.head, page.needs_epoch));
        }
        from = page.next;
    }
}

/// A raw WebSocket to the relay, for tests that must misbehave or stop reading.
pub type RawWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a raw WebSocket saw next.
#[derive(Debug)]
pub enum RawEvent {
    /// A binary message that decodes as a relay frame.
    Frame(RelayFrame),
    /// A binary message that does not.
    Undecodable(Vec<u8>),
    /// A text message.
    Text(String),
    /// A close frame, the end of the stream, or a transport error.
    Closed(String),
}

/// Opens a raw WebSocket (no `Hello` sent).
pub async fn raw_connect(url: &str) -> RawWs {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap_or_else(|e| panic!("raw connect to {url}: {e}"));
    ws
}

/// Sends one client frame on a raw WebSocket.
pub async fn raw_send(ws: &mut RawWs, id: u32, request: Request) {
    ws.send(WsMessage::binary(ClientFrame { id, request }.encode()))
        .await
        .expect("raw send");
}

/// The next event on a raw WebSocket (pings and pongs skipped); `None` after `within`.
pub async fn raw_next(ws: &mut RawWs, within: Duration) -> Option<RawEvent> {
    let fut = async {
        loop {
            return match ws.next().await {
                None => RawEvent::Closed("end of stream".into()),
                Some(Err(e)) => RawEvent::Closed(e.to_string()),
                Some(Ok(WsMessage::Close(c))) => RawEvent::Closed(format!("close frame {c:?}")),
                Some(Ok(WsMessage::Text(t))) => RawEvent::Text(t.to_string()),
                Some(Ok(WsMessage::Binary(b))) => match RelayFrame::decode(&b) {
                    Ok(f) => RawEvent::Frame(f),
                    Err(_) => RawEvent::Undecodable(b.to_vec()),
                },
                Some(Ok(_)) => continue,
            };
        }
    };
    tokio::time::timeout(within, fut).await.ok()
}

/// Expects the next event to be the answer to request `id`, and returns it.
pub async fn raw_answer(ws: &mut RawWs, id: u32) -> Result<Response, kith_protocol::ErrorCode> {
    match raw_next(ws, Duration::from_secs(10)).await {
        Some(RawEvent::Frame(RelayFrame::Response { id: got, body })) if got == id => Ok(body),
        Some(RawEvent::Frame(RelayFrame::Error { id: got, code })) if got == id => Err(code),
        other => panic!("expected the answer to request {id}, got {other:?}"),
    }
}

/// Opens a raw WebSocket and does the `Hello` exchange as request 1.
pub async fn raw_connect_hello(url: &str) -> RawWs {
    let mut ws = raw_connect(url).await;
    raw_send(
        &mut ws,
        1,
        Request::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    match raw_answer(&mut ws, 1).await {
        Ok(Response::Hello { version, .. }) => assert_eq!(version, PROTOCOL_VERSION),
        other => panic!("Hello answered with {other:?}"),
    }
    ws
}

/// Does Challenge and Auth on a raw WebSocket (request ids `id` and `id + 1`).
pub async fn raw_auth(ws: &mut RawWs, id: u32, group: GroupId, epoch: Epoch, key: &AccessKey) {
    raw_send(ws, id, Request::Challenge).await;
    let nonce = match raw_answer(ws, id).await {
        Ok(Response::Challenge { nonce }) => nonce,
        other => panic!("Challenge answered with {other:?}"),
    };
    let signature = key.sign_auth(&nonce, &group, epoch);
    raw_send(
        ws,
        id + 1,
        Request::Auth {
            group,
            epoch,
            nonce,
            signature,
        },
    )
    .await;
    match raw_answer(ws, id + 1).await {
        Ok(Response::Authorized { .. }) => {}
        other => panic!("Auth answered with {other:?}"),
    }
}

/// Finds the tool `name` in PATH or the sbin directories (nginx lives in /usr/sbin). `None`, with
/// the reason printed, if it is not installed; a failure under CI, which must have it.
pub fn installed_tool(name: &str, package: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin"].map(std::path::PathBuf::from));
    if let Some(found) = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    assert!(
        !ci,
        "{name} is not installed, but CI must run this check: .ci/run installs {package}"
    );
    eprintln!("SKIPPED: {name} is not installed (apt-get install {package}); not checked");
    None
}
