//! Driving the real `kith` binary: a [`Profile`] is a profile directory of its own, and
//! every command is a new `kith --home DIR …` process with the test passphrase and the
//! cheap test KDF, killed if it runs longer than [`COMMAND_TIMEOUT`].
//!
//! The binary is found in `KITH_BIN` if set, else next to the test executable
//! (`<target>/<profile>/kith`); if it is missing there, or was built without the test
//! hooks (`KITH_TEST_FAST_KDF` and the others: the `test-hooks` feature, which a plain
//! `cargo build` leaves out), `cargo build -p kith --features test-hooks` runs once into
//! the same target directory. `cargo test --workspace` (the README's command) builds the
//! binary, with the hooks, before any test runs: the tests crate's dev-dependency on
//! `kith` asks for the feature. After changing the client, run `cargo test -p kith-tests`
//! only together with `-p kith` (or the whole workspace), or the binary may be stale.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The passphrase of every test profile.
pub const TEST_PASSPHRASE: &str = "correct horse battery staple 41";

/// How long one `kith` command may run before it is killed and the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the `kith` binary, built if needed (once per test process).
pub fn kith_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::workspace_bin("KITH_BIN", "kith", "kith"))
}

/// What a finished `kith` command did.
#[derive(Debug)]
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// The exit code (`-1` when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A `kith` process running in the background (for `join --wait`, `read --follow`…).
/// Its output is drained by threads so it never blocks on a full pipe; it is killed when
/// dropped unfinished.
pub struct Running {
    what: String,
    child: Option<Child>,
    stdout: Buffer,
    stderr: Buffer,
    drains: Vec<JoinHandle<()>>,
    started: Instant,
}

type Buffer = Arc<Mutex<Vec<u8>>>;

/// Copies `pipe` into a shared buffer until it closes.
fn drain(pipe: impl Read + Send + 'static) -> (Buffer, JoinHandle<()>) {
    let buf: Buffer = Arc::default();
    let sink = buf.clone();
    let handle = std::thread::spawn(move || {
        let mut pipe = pipe;
        let mut chunk = [0u8; 4096];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buf, handle)
}

fn text_of(buf: &Buffer) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

impl Running {
    fn spawn(mut cmd: Command, what: String) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", kith_bin().display()));
        let (stdout, out_drain) = drain(child.stdout.take().expect("piped stdout"));
        let (stderr, err_drain) = drain(child.stderr.take().expect("piped stderr"));
        Running {
            what,
            child: Some(child),
            stdout,
            stderr,
            drains: vec![out_drain, err_drain],
            started: Instant::now(),
        }
    }

    fn collect(&mut self, status: ExitStatus) -> Output {
        self.child = None;
        for h in self.drains.drain(..) {
            let _ = h.join();
        }
        Output {
            status,
            stdout: text_of(&self.stdout),
            stderr: text_of(&self.stderr),
        }
    }

    /// What it printed on standard output so far.
    pub fn stdout_so_far(&self) -> String {
        text_of(&self.stdout)
    }

    /// What it printed on standard error so far.
    pub fn stderr_so_far(&self) -> String {
        text_of(&self.stderr)
    }

    /// The process id (while it runs), to signal it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The command line, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The output if the process has exited, else `None`. Panics if it has run longer
    /// than [`COMMAND_TIMEOUT`] (after killing it).
    pub fn try_finish(&mut self) -> Option<Output> {
        let child = self.child.as_mut().expect("already finished");
        match child.try_wait().expect("try_wait") {
            Some(status) => Some(self.collect(status)),
            None => {
                if self.started.elapsed() > COMMAND_TIMEOUT {
                    let _ = child.kill();
                    let status = child.wait().expect("wait");
                    let out = self.collect(status);
                    panic!(
                        "`{}` did not finish within {COMMAND_TIMEOUT:?}; killed:\n{out}",
                        self.what
                    );
                }
                None
            }
        }
    }

    /// Waits for the process to exit (at most [`COMMAND_TIMEOUT`] since it started).
    pub fn wait(mut self) -> Output {
        loop {
            if let Some(out) = self.try_finish() {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `within` from now for a long-running process (a daemon, a
    /// follower) to exit, whatever its age; panics (after killing it) if it does not.
    pub fn exits_within(mut self, within: Duration) -> Output {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut().expect("already finished");
            if let Some(status) = child.try_wait().expect("try_wait") {
                return self.collect(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait().expect("wait");
                let out = self.collect(status);
                panic!(
                    "`{}` did not exit within {within:?}; killed:\n{out}",
                    self.what
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (SIGKILL) and returns what it printed.
    pub fn kill(mut self) -> Output {
        let child = self.child.as_mut().expect("already finished");
        let _ = child.kill();
        let status = child.wait().expect("wait");
        self.collect(status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `kith` profile in a temporary directory of its own (removed when dropped, kept when
/// the test panics).
pub struct Profile {
    name: String,
    dir: Option<TempDir>,
    home: PathBuf,
}

impl Profile {
    /// Makes a temporary directory and runs `kith init --name NAME` in it.
    pub fn new(name: &str) -> Profile {
        let dir = tempfile::Builder::new()
            .prefix("kith-profile-")
            .tempdir()
            .expect("temp profile dir");
        // The profile lives in a subdirectory that `init` creates itself.
        let home = dir.path().join("home");
        let profile = Profile {
            name: name.to_owned(),
            dir: Some(dir),
            home,
        };
        let out = profile.ok(&["init", "--name", name]);
        assert!(out.contains(name), "init did not echo the name:\n{out}");
        profile
    }

    /// The display name given to `init`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile directory (`--home`).
    pub fn dir(&self) -> &Path {
        &self.home
    }

    /// A `kith --home DIR ARGS…` command with the test passphrase and fast KDF.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kith_bin());
        cmd.arg("--home").arg(&self.home).args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("KITH_")) || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        // English and UTC unless a test asks otherwise (`.env("LANG", …)` after this
        // wins), whatever the machine running the tests is set to.
        cmd.env("KITH_PASSPHRASE", TEST_PASSPHRASE)
            .env("KITH_TEST_FAST_KDF", "1")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .env("TZ", "UTC")
            // Never the settings file of the machine's user; a test may write this one.
            .env("KITH_CONFIG", self.config_path());
        cmd
    }

    /// The settings file this profile's commands read (none unless a test writes it).
    pub fn config_path(&self) -> PathBuf {
        self.home.with_file_name("config.toml")
    }

    fn describe(&self, args: &[&str]) -> String {
        format!("[{}] kith {}", self.name, args.join(" "))
    }

    /// Starts `kith ARGS…` in the background.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::spawn(self.command(args), self.describe(args))
    }

    /// Starts a prepared command (see [`Profile::command`]) in the background.
    pub fn spawn_command(&self, cmd: Command, what: &str) -> Running {
        Running::spawn(cmd, format!("[{}] {what}", self.name))
    }

    /// Runs `kith ARGS…` to the end (at most [`COMMAND_TIMEOUT`]).
    pub fn run(&self, args: &[&str]) -> Output {
        self.spawn(args).wait()
    }

    /// Runs `kith ARGS…` with extra environment variables.
    pub fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Running::spawn(cmd, self.describe(args)).wait()
    }

    /// Runs `kith ARGS…`, asserts it succeeded, and returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.success(), "`{}` failed: {out}", self.describe(args));
        out.stdout
    }

    /// Runs `kith ARGS…` (a `read`), and returns its standard output: what is stored,
    /// whether or not it could sync first (exit 0; or 1 with "could not sync" said).
    pub fn stored(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.success() || (out.code() == 1 && out.stderr.contains("could not sync")),
            "`{}` failed: {out}",
            self.describe(args)
        );
        out.stdout
    }

    /// Runs `kith ARGS…`, asserts it exited with `code`, and returns its output.
    pub fn fails(&self, args: &[&str], code: i32) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.code(),
            code,
            "`{}` should have exited with {code}: {out}",
            self.describe(args)
        );
        out
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "profile {:?} kept at {}",
                self.name,
                dir.keep().join("home").display()
            );
        }
    }
}

/// How long a join may take once an admin is online.
pub const JOIN_WITHIN: Duration = Duration::from_secs(30);

/// Runs `f` every 300 ms until it returns `Some`, or panics after `within`.
pub fn poll<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Keeps running `admin`'s `kith sync` until `joining` exits; returns its output.
pub fn admit_while(admin: &Profile, mut joining: Running) -> Output {
    let what = joining.what().to_owned();
    poll(JOIN_WITHIN, &what, || {
        if let Some(out) = joining.try_finish() {
            return Some(out);
        }
        admin.ok(&["sync"]);
        joining.try_finish()
    })
}

/// `joiner` uses `invite` (`join --wait 30`) while `admin` syncs; asserts it joined.
pub fn join(admin: &Profile, joiner: &Profile, invite: &str, group: &str) {
    let joining = joiner.spawn(&["join", invite, "--wait", "30"]);
    let out = admit_while(admin, joining);
    assert!(out.success(), "join failed: {out}");
    assert_eq!(out.stdout.trim(), format!("Joined {group:?}."), "{out}");
    assert!(
        out.stderr.contains(admin.name()) && out.stderr.contains(group),
        "join does not say who invites to which group: {out}"
    );
}
