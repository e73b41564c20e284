//! Server processes: the real `kith-relay` binary, and the baseline (this binary run as
//! `kith-bench baseline-server`). Both run as separate processes on loopback, so that
//! their memory can be read from `/proc/PID/status` and neither shares a runtime with the
//! load generator.

use anyhow::{Context, Result, anyhow, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `kith-relay`.
    Relay,
    /// The in-memory fan-out baseline.
    Baseline,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Baseline => "baseline",
        }
    }
}

/// A running server process.
pub struct ServerProc {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// From spawn to the listening line.
    pub ready_after: Duration,
}

/// The rate-limit and connection-cap flags of the benchmarked relay: the load generator
/// concentrates a group's posts on one connection, far beyond what one person sends, so
/// the per-connection rate limit (an anti-abuse setting) is lifted; everything else is
/// the relay's default.
pub const RELAY_FLAGS: &[&str] = &[
    "--rate",
    "10000000",
    "--burst",
    "10000000",
    "--max-connections",
    "20000",
];

/// Finds the `kith-relay` binary: `--relay-bin`/`KITH_RELAY_BIN`, else the one next to this
/// executable, after `cargo build -p kith-relay` in the same profile (a no-op when it is
/// fresh), so that the benchmark never measures a stale relay.
pub fn relay_bin(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit.or_else(|| std::env::var_os("KITH_RELAY_BIN").map(PathBuf::from)) {
        return Ok(p);
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .context("executable has no parent")?
        .to_path_buf();
    let bin = dir.join("kith-relay");
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release");
    let target = dir.parent().context("no target dir")?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("bench/ is in the workspace")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--quiet", "-p", "kith-relay", "--target-dir"])
        .arg(target)
        .stdout(Stdio::null());
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        other => {
            if !bin.exists() {
                bail!("cargo build -p kith-relay failed ({other:?}) and there is no binary");
            }
            eprintln!("kith-bench: building kith-relay failed ({other:?}); using the binary there");
        }
    }
    if profile == "debug" {
        eprintln!("kith-bench: WARNING: debug build; run with --release for real figures");
    }
    Ok(bin)
}

impl ServerProc {
    /// Starts `kith-relay` on `127.0.0.1:0` over `data`, with [`RELAY_FLAGS`] and `extra`.
    pub async fn relay(bin: &Path, data: &Path, extra: &[String], log: &Path) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(RELAY_FLAGS)
            .args(extra);
        // Metrics (on a free port) only when asked for, to watch the flusher.
        if std::env::var_os("KITH_BENCH_RELAY_METRICS").is_some() {
            cmd.args(["--metrics-listen", "127.0.0.1:0"]);
        } else {
            cmd.args(["--metrics-listen", "off"]);
        }
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("KITH_RELAY_")) || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.env("KITH_RELAY_LOG", "warn");
        Self::spawn(cmd, "kith-relay listening on ", log).await
    }

    /// Starts the baseline server (this executable, `baseline-server`).
    pub async fn baseline(log: &Path) -> Result<Self> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("baseline-server");
        Self::spawn(cmd, crate::baseline::READY_LINE, log).await
    }

    async fn spawn(mut cmd: Command, ready: &str, log: &Path) -> Result<Self> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().context("spawn server")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(a) = line.strip_prefix(ready) {
                    return Ok::<_, anyhow::Error>(a.trim().parse::<SocketAddr>()?);
                }
            }
            bail!("server exited before it was ready (log: {})", log.display())
        })
        .await
        .map_err(|_| anyhow!("server not ready in 60 s"))??;
        let ready_after = started.elapsed();
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("kith-relay metrics on ") {
                    eprintln!("kith-bench: {line}");
                }
            }
        });
        Ok(Self {
            child,
            addr,
            ready_after,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Resident memory, KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }

    /// SIGTERM, then waits (bounded) for a graceful exit; kills it if it does not come.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// `GET /healthz` over plain HTTP; the status code.
pub async fn healthz(addr: SocketAddr) -> Result<u16> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")
}

/// CPU time (user + system) a process used so far, in seconds (`/proc/PID/stat`).
pub fn cpu_secs(pid: u32) -> f64 {
    let path = if pid == 0 {
        "/proc/self/stat".to_string()
    } else {
        format!("/proc/{pid}/stat")
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}
