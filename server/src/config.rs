//! Settings: command-line flags, `KITH_RELAY_*` environment variables and a TOML file, in
//! that order of precedence, over built-in defaults that are safe for a small VPS.

use crate::tls::TlsFiles;
use clap::Parser;
use kith_i18n::t;
use kith_protocol::limits::{MAX_INVITE_BLOB, MAX_PAYLOAD};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `kith-relay --version` prints. A build with the crash tests' hooks (the
/// `test-hooks` feature, `crash.rs`) says so, which is how the end-to-end tests tell it
/// from a plain build (`tests/src/lib.rs: workspace_bin`).
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

/// `kith-relay`: stores and delivers end-to-end-encrypted group messages it cannot read.
///
/// Without a subcommand it runs the relay. The admin subcommands take the same settings
/// (flags, environment, `--config`) and work on the data directory directly, so the
/// relay must not be running on it.
#[derive(Parser, Debug, Default)]
#[command(name = "kith-relay", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// An admin task instead of running the relay.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TOML file with any of the settings below (keys as the long flags, with `_` for
    /// `-`); flags and environment variables override it.
    #[arg(long, global = true, env = "KITH_RELAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address for WebSocket clients (`/v1`) and `GET /healthz`. [default: 127.0.0.1:7878]
    #[arg(long, global = true, env = "KITH_RELAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Address for Prometheus metrics (`GET /metrics`), or `off`. Keep it private.
    /// [default: 127.0.0.1:9464]
    #[arg(
        long,
        global = true,
        env = "KITH_RELAY_METRICS_LISTEN",
        value_name = "ADDR|off"
    )]
    pub metrics_listen: Option<String>,

    /// Data directory (sled database). [default: ./kith-data]
    #[arg(long, global = true, env = "KITH_RELAY_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Delete ciphertext older than this. [default: 30d]
    #[arg(long, global = true, env = "KITH_RELAY_RETENTION", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,

    /// How often the retention task runs. [default: 1h]
    #[arg(long, global = true, env = "KITH_RELAY_RETENTION_INTERVAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_interval: Option<Duration>,

    /// Most payload bytes kept per group; the oldest go first. [default: 1GiB]
    #[arg(long, global = true, env = "KITH_RELAY_MAX_GROUP_BYTES", value_name = "SIZE", value_parser = parse_size)]
    pub max_group_bytes: Option<u64>,

    /// Most blob bytes (sealed file chunks) kept per group; beyond it new blobs are
    /// refused (quota_exceeded), never old ones dropped. [default: 1GiB]
    #[arg(long, global = true, env = "KITH_RELAY_MAX_GROUP_BLOB_BYTES", value_name = "SIZE", value_parser = parse_size)]
    pub max_group_blob_bytes: Option<u64>,

    /// Most bytes all invite slots together hold (invitations, answers, welcomes);
    /// beyond it new ones are refused (invites_full). [default: 256MiB]
    #[arg(long, global = true, env = "KITH_RELAY_MAX_INVITE_BYTES", value_name = "SIZE", value_parser = parse_size)]
    pub max_invite_bytes: Option<u64>,

    /// Most messages kept per group; the oldest go first. [default: 1000000]
    #[arg(
        long,
        global = true,
        env = "KITH_RELAY_MAX_GROUP_MESSAGES",
        value_name = "N"
    )]
    pub max_group_messages: Option<u64>,

    /// Most simultaneous connections. [default: 10000]
    #[arg(
        long,
        global = true,
        env = "KITH_RELAY_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub max_connections: Option<usize>,

    /// Time allowed for the HTTP upgrade and the Hello frame. [default: 10s]
    #[arg(long, global = true, env = "KITH_RELAY_HANDSHAKE_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Option<Duration>,

    /// Close a connection that sends nothing (not even a Ping) for this long. [default: 5m]
    #[arg(long, global = true, env = "KITH_RELAY_IDLE_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,

    /// Close a connection whose socket does not take a frame for this long. [default: 10s]
    #[arg(long, global = true, env = "KITH_RELAY_WRITE_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub write_timeout: Option<Duration>,

    /// Frames per second allowed per connection, sustained. [default: 200]
    #[arg(long, global = true, env = "KITH_RELAY_RATE", value_name = "N")]
    pub rate: Option<u32>,

    /// Frames a connection may send in a burst above the rate. [default: 400]
    #[arg(long, global = true, env = "KITH_RELAY_BURST", value_name = "N")]
    pub burst: Option<u32>,

    /// Most bytes of pushes queued for one connection; a client that does not read is
    /// cut off beyond this. [default: 8MiB]
    #[arg(long, global = true, env = "KITH_RELAY_OUTBOX_BYTES", value_name = "SIZE", value_parser = parse_size)]
    pub outbox_bytes: Option<u64>,

    /// File holding the creation secret: when set, only clients that present it may
    /// create groups. The secret itself may instead be given in the environment variable
    /// KITH_RELAY_CREATION_SECRET (never as a flag, which `ps` would show).
    #[arg(
        long,
        global = true,
        env = "KITH_RELAY_CREATION_SECRET_FILE",
        value_name = "FILE"
    )]
    pub creation_secret_file: Option<PathBuf>,

    /// Serve TLS (wss://) with this PEM certificate chain, leaf first (e.g.
    /// fullchain.pem). Needs --tls-key. Reloaded on SIGHUP. Without it the relay speaks
    /// plain ws://, meant for loopback behind a TLS reverse proxy.
    #[arg(long, global = true, env = "KITH_RELAY_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert. Reloaded on SIGHUP.
    #[arg(long, global = true, env = "KITH_RELAY_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

/// The TOML file: the same settings as the flags.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    metrics_listen: Option<String>,
    data: Option<PathBuf>,
    #[serde(default, with = "humantime_serde")]
    retention: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    retention_interval: Option<Duration>,
    max_group_bytes: Option<SizeValue>,
    max_group_blob_bytes: Option<SizeValue>,
    max_invite_bytes: Option<SizeValue>,
    max_group_messages: Option<u64>,
    max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    handshake_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    write_timeout: Option<Duration>,
    rate: Option<u32>,
    burst: Option<u32>,
    outbox_bytes: Option<SizeValue>,
    creation_secret_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// A size in a TOML file: a number of bytes or a string such as `"8MiB"`.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    fn bytes(&self) -> anyhow::Result<u64> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(s) => parse_size(s).map_err(anyhow::Error::msg),
        }
    }
}

/// Parses `1048576`, `512KiB`, `8MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`,
/// all binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| t!("relay-size-not-a-size", value = s))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(t!(
                "relay-size-unknown-unit",
                value = s,
                units = "KiB, MiB, GiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| t!("relay-size-too-large", value = s))
}

/// The resolved settings the relay runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// WebSocket and health listener.
    pub listen: SocketAddr,
    /// Metrics listener, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// Data directory.
    pub data: PathBuf,
    /// Age after which ciphertext and finished invite slots are deleted.
    pub retention: Duration,
    /// Period of the retention task.
    pub retention_interval: Duration,
    /// Per-group byte quota.
    pub max_group_bytes: u64,
    /// Per-group message quota.
    pub max_group_messages: u64,
    /// Per-group blob byte quota.
    pub max_group_blob_bytes: u64,
    /// Relay-wide cap on invite-slot bytes.
    pub max_invite_bytes: u64,
    /// Global connection cap.
    pub max_connections: usize,
    /// Upgrade + Hello deadline.
    pub handshake_timeout: Duration,
    /// Idle deadline.
    pub idle_timeout: Duration,
    /// Per-write deadline.
    pub write_timeout: Duration,
    /// Sustained frames per second per connection.
    pub rate: u32,
    /// Burst of frames per connection.
    pub burst: u32,
    /// Per-connection push queue, bytes.
    pub outbox_bytes: usize,
    /// The creation secret, if group creation is restricted.
    pub creation_secret: Option<Vec<u8>>,
    /// Built-in TLS, if on.
    pub tls: Option<TlsFiles>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7878".parse().expect("valid address"),
            metrics_listen: Some("127.0.0.1:9464".parse().expect("valid address")),
            data: PathBuf::from("./kith-data"),
            retention: Duration::from_secs(kith_protocol::limits::DEFAULT_RETENTION_SECS),
            retention_interval: Duration::from_secs(3600),
            max_group_bytes: 1 << 30,
            max_group_messages: 1_000_000,
            max_group_blob_bytes: 1 << 30,
            max_invite_bytes: 256 << 20,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(10),
            rate: 200,
            burst: 400,
            outbox_bytes: 8 << 20,
            creation_secret: None,
            tls: None,
        }
    }
}

fn parse_metrics(s: &str) -> anyhow::Result<Option<SocketAddr>> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        Ok(Some(s.parse().map_err(|_| {
            anyhow::anyhow!(t!("relay-metrics-listen-invalid", value = s))
        })?))
    }
}

fn read_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(t!(
            "relay-secret-file-unreadable",
            path = path.display().to_string(),
            error = e.to_string()
        ))
    })?;
    let trimmed = bytes.trim_ascii().to_vec();
    if trimmed.is_empty() {
        anyhow::bail!(t!(
            "relay-secret-file-empty",
            path = path.display().to_string()
        ));
    }
    Ok(trimmed)
}

impl Settings {
    /// Resolves flags and environment (already merged by clap), the TOML file they name,
    /// and `KITH_RELAY_CREATION_SECRET`.
    pub fn resolve(cli: Cli) -> anyhow::Result<Self> {
        let file: FileConfig = match &cli.config {
            Some(path) => {
                let bad = |e: &dyn std::fmt::Display| {
                    anyhow::anyhow!(t!(
                        "relay-config-file-bad",
                        path = path.display().to_string(),
                        error = e.to_string()
                    ))
                };
                let text = std::fs::read_to_string(path).map_err(|e| bad(&e))?;
                toml::from_str(&text).map_err(|e| bad(&e))?
            }
            None => FileConfig::default(),
        };
        let d = Settings::default();
        let metrics_listen = match cli.metrics_listen.or(file.metrics_listen) {
            Some(s) => parse_metrics(&s)?,
            None => d.metrics_listen,
        };
        let size =
            |flag: Option<u64>, file: Option<SizeValue>, default: u64| -> anyhow::Result<u64> {
                match (flag, file) {
                    (Some(n), _) => Ok(n),
                    (None, Some(v)) => v.bytes(),
                    (None, None) => Ok(default),
                }
            };
        let creation_secret = match std::env::var_os("KITH_RELAY_CREATION_SECRET") {
            Some(s) if !s.is_empty() => Some(s.into_encoded_bytes()),
            _ => match cli.creation_secret_file.or(file.creation_secret_file) {
                Some(path) => Some(read_secret(&path)?),
                None => None,
            },
        };
        let tls = match (cli.tls_cert.or(file.tls_cert), cli.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!(t!("relay-tls-cert-needs-key")),
            (None, Some(_)) => anyhow::bail!(t!("relay-tls-key-needs-cert")),
        };
        let s = Settings {
            listen: cli.listen.or(file.listen).unwrap_or(d.listen),
            metrics_listen,
            data: cli.data.or(file.data).unwrap_or(d.data),
            retention: cli.retention.or(file.retention).unwrap_or(d.retention),
            retention_interval: cli
                .retention_interval
                .or(file.retention_interval)
                .unwrap_or(d.retention_interval),
            max_group_bytes: size(cli.max_group_bytes, file.max_group_bytes, d.max_group_bytes)?,
            max_group_blob_bytes: size(
                cli.max_group_blob_bytes,
                file.max_group_blob_bytes,
                d.max_group_blob_bytes,
            )?,
            max_invite_bytes: size(
                cli.max_invite_bytes,
                file.max_invite_bytes,
                d.max_invite_bytes,
            )?,
            max_group_messages: cli
                .max_group_messages
                .or(file.max_group_messages)
                .unwrap_or(d.max_group_messages),
            max_connections: cli
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            handshake_timeout: cli
                .handshake_timeout
                .or(file.handshake_timeout)
                .unwrap_or(d.handshake_timeout),
            idle_timeout: cli
                .idle_timeout
                .or(file.idle_timeout)
                .unwrap_or(d.idle_timeout),
            write_timeout: cli
                .write_timeout
                .or(file.write_timeout)
                .unwrap_or(d.write_timeout),
            rate: cli.rate.or(file.rate).unwrap_or(d.rate),
            burst: cli.burst.or(file.burst).unwrap_or(d.burst),
            outbox_bytes: size(cli.outbox_bytes, file.outbox_bytes, d.outbox_bytes as u64)?
                as usize,
            creation_secret,
            tls,
        };
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("retention", self.retention.is_zero()),
            ("retention-interval", self.retention_interval.is_zero()),
            ("max-group-bytes", self.max_group_bytes == 0),
            ("max-group-messages", self.max_group_messages == 0),
            ("max-group-blob-bytes", self.max_group_blob_bytes == 0),
            ("max-connections", self.max_connections == 0),
            ("handshake-timeout", self.handshake_timeout.is_zero()),
            ("idle-timeout", self.idle_timeout.is_zero()),
            ("write-timeout", self.write_timeout.is_zero()),
            ("rate", self.rate == 0),
            ("burst", self.burst == 0),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
            anyhow::bail!(t!("relay-setting-not-positive", name = *name));
        }
        if self.max_group_bytes < MAX_PAYLOAD as u64 {
            anyhow::bail!(t!("relay-max-group-bytes-too-small"));
        }
        let one_slot = (MAX_PAYLOAD + 2 * MAX_INVITE_BLOB) as u64;
        if self.max_invite_bytes < one_slot {
            anyhow::bail!(t!("relay-max-invite-bytes-too-small"));
        }
        if self.outbox_bytes < kith_protocol::limits::MAX_FRAME {
            anyhow::bail!(t!("relay-outbox-bytes-too-small"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\nretention = \"7d\"\nmax_group_bytes = \"2GiB\"\nmetrics_listen = \"off\"\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:2".parse().unwrap()),
            ..Cli::default()
        };
        let s = Settings::resolve(cli).unwrap();
        assert_eq!(s.listen.port(), 2);
        assert_eq!(s.retention, Duration::from_secs(7 * 86400));
        assert_eq!(s.max_group_bytes, 2 << 30);
        assert_eq!(s.metrics_listen, None);

        std::fs::write(&path, "listne = \"x\"\n").unwrap();
        let err = Settings::resolve(Cli {
            config: Some(path),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }

    #[test]
    fn tls_needs_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n").unwrap();
        let s = Settings::resolve(Cli {
            config: Some(path.clone()),
            tls_key: Some("/flag.pem".into()),
            ..Cli::default()
        })
        .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/c.pem"));
        assert_eq!(tls.key, PathBuf::from("/flag.pem"));
        assert!(Settings::resolve(Cli::default()).unwrap().tls.is_none());
        let err = Settings::resolve(Cli {
            tls_cert: Some("/c.pem".into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("tls-key"), "{err}");
    }

    #[test]
    fn zero_limits_are_refused() {
        let err = Settings::resolve(Cli {
            rate: Some(0),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("rate"));
    }
}

/// The admin subcommands.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Check the settings, the data directory (openable and writable) and the TLS files;
    /// exit non-zero with the reason if anything is wrong. Run it with the relay stopped
    /// (the systemd unit runs it before every start).
    Check,
    /// Print totals of what the data directory holds: groups, messages, bytes, invite
    /// slots. Never ids. The relay must be stopped.
    Stats {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run retention now (with --retention as configured) and print what was removed.
    /// The relay must be stopped; a running relay does the same every
    /// --retention-interval.
    Gc {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write man pages and shell completions into a directory (for packages); needs no
    /// settings.
    #[command(hide = true)]
    GenerateDocs {
        /// Where: `DIR/man` and `DIR/completions` are made.
        dir: std::path::PathBuf,
    },
    /// Probe the running relay: GET /healthz on its listener (over TLS if configured).
    /// Exit 0 if it answers 200. For container health checks.
    Healthcheck {
        /// Give up after this long.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}
