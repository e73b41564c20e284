//! Admin subcommands of `kith-relay`: `check`, `stats`, `gc` and `healthcheck`.
//!
//! `check`, `stats` and `gc` open the data directory directly. sled locks it, so they
//! refuse to run while a relay is running on it, and say what to do instead: stop the
//! relay first, or (for `stats`) read the same totals from the running relay's metrics.
//! They print totals only, never a group id, slot id or anything else that names a group
//! or an invite.
//!
//! What they print for a person is in the operator's language (`kith-i18n`, the
//! `relay-` messages); the `--json` records are not.
//!
//! `healthcheck` is the container's probe: a `GET /healthz` on the relay's own listener
//! (loopback), over TLS when the relay serves TLS.

pub use crate::config::Command;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::relay::{self, Policy, Relay};
use crate::store::sled_store::SledStore;
use crate::store::{Store, StoreError};
use crate::tls;
use kith_i18n::t;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Runs an admin subcommand with the resolved settings; prints to stdout, errors to
/// stderr.
pub async fn run(command: Command, settings: Settings) -> ExitCode {
    let result = match command {
        Command::Check => check(&settings),
        Command::Stats { json } => stats(&settings, json),
        Command::Gc { json } => gc(&settings, json),
        Command::Healthcheck { timeout } => healthcheck(&settings, timeout).await,
        Command::GenerateDocs { .. } => unreachable!("main.rs writes the docs before any settings"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How an operator stops the relay (the packages' and `deploy/`'s systemd unit).
const STOP_RELAY: &str = "systemctl stop kith-relay";

/// Whether opening the store failed because another process holds its lock: a relay
/// (or another admin command) is running on the data dir.
fn is_locked(e: &StoreError) -> bool {
    e.to_string().contains("could not acquire lock")
}

/// Turns a failure of the relay to open its store into a message an operator can act
/// on: a locked data dir means a relay (or an admin command) is running on it.
pub fn open_error(dir: &Path, e: &StoreError) -> anyhow::Error {
    let path = dir.display().to_string();
    if is_locked(e) {
        anyhow::anyhow!(t!("relay-data-dir-locked", path = path, stop = STOP_RELAY))
    } else {
        anyhow::anyhow!(t!(
            "relay-data-dir-unopenable",
            path = path,
            error = e.to_string()
        ))
    }
}

/// An admin subcommand that opens the data dir: what it is told when a relay holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offline {
    Check,
    Stats,
    Gc,
}

/// The refusal of an admin subcommand on a data dir a running relay holds: it says so,
/// and what to do instead. `stats` points to the running relay's metrics, which have the
/// same totals (all but the invite slots), when the relay serves them.
fn locked_error(settings: &Settings, which: Offline) -> anyhow::Error {
    let path = settings.data.display().to_string();
    let command = match which {
        Offline::Check => "kith-relay check",
        Offline::Stats => "kith-relay stats",
        Offline::Gc => "kith-relay gc",
    };
    let text = match (which, settings.metrics_listen) {
        (Offline::Stats, Some(metrics)) => t!(
            "relay-stats-locked",
            path = path,
            command = command,
            stop = STOP_RELAY,
            metrics = format!(
                "curl -s http://{}/metrics | grep -E '^kith_(groups|stored_)'",
                probe_addr(metrics)
            )
        ),
        (Offline::Stats, None) => t!(
            "relay-stats-locked-no-metrics",
            path = path,
            command = command,
            stop = STOP_RELAY
        ),
        (Offline::Gc, _) => t!(
            "relay-gc-locked",
            path = path,
            command = command,
            stop = STOP_RELAY,
            interval = span(settings.retention_interval)
        ),
        (Offline::Check, _) => t!(
            "relay-check-locked",
            command = command,
            stop = STOP_RELAY,
            health = "kith-relay healthcheck"
        ),
    };
    anyhow::anyhow!(text)
}

/// Opens the store of an existing data dir, for `which`.
fn open_existing(settings: &Settings, which: Offline) -> anyhow::Result<SledStore> {
    let dir = &settings.data;
    SledStore::open(dir).map_err(|e| {
        if is_locked(&e) {
            locked_error(settings, which)
        } else {
            open_error(dir, &e)
        }
    })
}

fn open_store(settings: &Settings, which: Offline) -> anyhow::Result<SledStore> {
    if !settings.data.exists() {
        anyhow::bail!(t!(
            "relay-data-dir-missing",
            path = settings.data.display().to_string()
        ));
    }
    open_existing(settings, which)
}

/// What a data directory holds, in totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Groups.
    pub groups: u64,
    /// Stored messages.
    pub messages: u64,
    /// Stored payload bytes.
    pub bytes: u64,
    /// Invite slots (any state).
    pub invite_slots: u64,
    /// Invite slots already expired (deleted by the next retention run).
    pub expired_invite_slots: u64,
    /// Blobs (sealed file chunks).
    pub blobs: u64,
    /// Stored blob bytes.
    pub blob_bytes: u64,
}

/// Counts what `store` holds.
pub fn totals(store: &dyn Store, now: u64) -> anyhow::Result<Totals> {
    let mut t = Totals::default();
    for (_, meta) in store.groups()? {
        t.groups += 1;
        t.messages += meta.messages;
        t.bytes += meta.bytes;
        t.blobs += meta.blobs;
        t.blob_bytes += meta.blob_bytes;
    }
    for (_, expires_at) in store.slot_expiries()? {
        t.invite_slots += 1;
        if now >= expires_at {
            t.expired_invite_slots += 1;
        }
    }
    Ok(t)
}

/// A span of time in words ("30 days", "1 hour"); one that is not whole seconds as
/// typed ("1s 500ms").
fn span(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() > 0 {
        kith_i18n::duration(d.as_secs())
    } else {
        humantime::format_duration(d).to_string()
    }
}

fn check(settings: &Settings) -> anyhow::Result<()> {
    let mut failures = 0u64;
    println!("{}", t!("relay-check-settings-ok"));
    let listen = settings.listen.to_string();
    match &settings.tls {
        Some(files) => match tls::load(files).and_then(|_| tls::load_certs(&files.cert)) {
            Ok(chain) => println!(
                "{}",
                t!(
                    "relay-check-tls-ok",
                    addr = &listen,
                    n = chain.len(),
                    cert = files.cert.display().to_string(),
                    key = files.key.display().to_string()
                )
            ),
            Err(e) => {
                failures += 1;
                println!("{}", t!("relay-check-tls-failed", error = format!("{e:#}")));
            }
        },
        None if settings.listen.ip().is_loopback() => {
            println!("{}", t!("relay-check-tls-off", addr = &listen))
        }
        None => println!("{}", t!("relay-check-tls-off-public", addr = &listen)),
    }
    match settings.metrics_listen {
        Some(a) if !a.ip().is_loopback() => {
            println!("{}", t!("relay-check-metrics-public", addr = a.to_string()))
        }
        Some(a) => println!("{}", t!("relay-check-metrics", addr = a.to_string())),
        None => println!("{}", t!("relay-check-metrics-off")),
    }
    if settings.creation_secret.is_some() {
        println!("{}", t!("relay-check-creation-restricted"));
    } else {
        println!("{}", t!("relay-check-creation-open"));
    }
    let path = settings.data.display().to_string();
    match check_data_dir(settings) {
        Ok(status) => println!(
            "{}",
            t!("relay-check-data-dir", path = &path, status = status)
        ),
        Err(e) => {
            failures += 1;
            println!(
                "{}",
                t!(
                    "relay-check-data-dir-failed",
                    path = &path,
                    error = format!("{e:#}")
                )
            );
        }
    }
    if failures > 0 {
        anyhow::bail!(t!("relay-check-failed", n = failures));
    }
    println!("{}", t!("relay-check-passed"));
    Ok(())
}

/// Opens the store (which fails if a relay holds it), reads it, and proves the
/// directory is writable with a probe file.
fn check_data_dir(settings: &Settings) -> anyhow::Result<String> {
    let dir = settings.data.as_path();
    if !dir.exists() {
        // Not an error: the relay creates it. Its parent must then be writable.
        let parent = dir
            .ancestors()
            .skip(1)
            .find(|p| p.as_os_str().is_empty() || p.exists())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        probe_writable(parent).map_err(|e| {
            anyhow::anyhow!(t!(
                "relay-check-data-dir-parent-failed",
                parent = parent.display().to_string(),
                error = format!("{e:#}")
            ))
        })?;
        return Ok(t!("relay-check-data-dir-will-be-created"));
    }
    if !dir.is_dir() {
        anyhow::bail!(t!("relay-check-data-dir-not-a-dir"));
    }
    let store = open_existing(settings, Offline::Check)?;
    let t = totals(&store, relay::now_secs())?;
    store.sync()?;
    drop(store);
    probe_writable(dir)?;
    Ok(t!("relay-check-data-dir-ok", groups = t.groups))
}

fn probe_writable(dir: &Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".kith-relay-check-{}", std::process::id()));
    let r = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(b"probe")?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    r.map_err(|e| anyhow::anyhow!(t!("relay-not-writable", error = e.to_string())))
}

fn stats(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings, Offline::Stats)?;
    let t = totals(&store, relay::now_secs())?;
    if json {
        println!(
            "{{\"groups\":{},\"messages\":{},\"bytes\":{},\"blobs\":{},\"blob_bytes\":{},\"invite_slots\":{},\"expired_invite_slots\":{}}}",
            t.groups,
            t.messages,
            t.bytes,
            t.blobs,
            t.blob_bytes,
            t.invite_slots,
            t.expired_invite_slots
        );
    } else {
        println!("{}", t!("relay-stats-groups", n = t.groups));
        println!("{}", t!("relay-stats-messages", n = t.messages));
        println!(
            "{}",
            t!(
                "relay-stats-bytes",
                n = t.bytes,
                size = kith_i18n::size(t.bytes)
            )
        );
        println!(
            "{}",
            t!(
                "relay-stats-blobs",
                n = t.blobs,
                size = kith_i18n::size(t.blob_bytes)
            )
        );
        println!(
            "{}",
            t!(
                "relay-stats-invite-slots",
                n = t.invite_slots,
                expired = t.expired_invite_slots
            )
        );
    }
    Ok(())
}

fn gc(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = Arc::new(open_store(settings, Offline::Gc)?);
    let now = relay::now_secs();
    let before = totals(store.as_ref(), now)?;
    let relay = Relay::new(
        store.clone(),
        Arc::new(Metrics::new()),
        Policy {
            retention: settings.retention,
            max_group_bytes: settings.max_group_bytes,
            max_group_messages: settings.max_group_messages,
            max_group_blob_bytes: settings.max_group_blob_bytes,
            max_invite_bytes: settings.max_invite_bytes,
            creation_secret: None,
        },
    )?;
    let (removed, slots) = relay.run_retention(now)?;
    // Offline, with no flusher: the removals are made durable here.
    store.sync()?;
    let (messages, blobs) = (removed.messages, removed.blobs);
    let after = totals(store.as_ref(), now)?;
    let bytes = before.bytes.saturating_sub(after.bytes);
    if json {
        println!(
            "{{\"removed_messages\":{messages},\"removed_bytes\":{bytes},\"removed_blobs\":{blobs},\"removed_blob_bytes\":{},\"removed_invite_slots\":{slots},\"retention_secs\":{}}}",
            removed.blob_bytes,
            settings.retention.as_secs()
        );
    } else {
        println!(
            "{}",
            t!(
                "relay-gc-removed",
                messages = messages,
                size = kith_i18n::size(bytes),
                blobs = blobs,
                blob_size = kith_i18n::size(removed.blob_bytes),
                retention = span(settings.retention),
                slots = slots
            )
        );
        println!(
            "{}",
            t!(
                "relay-gc-left",
                groups = after.groups,
                messages = after.messages,
                size = kith_i18n::size(after.bytes),
                slots = after.invite_slots
            )
        );
    }
    Ok(())
}

/// The address to probe for a listener bound to `listen`: loopback for a wildcard.
fn probe_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

async fn healthcheck(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let addr = probe_addr(settings.listen);
    let probe = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        if settings.tls.is_some() {
            let config = rustls::ClientConfig::builder_with_provider(tls::provider())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(probe::AnyCertificate::new()))
                .with_no_client_auth();
            let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            get_healthz(stream).await
        } else {
            get_healthz(tcp).await
        }
    };
    let status = tokio::time::timeout(timeout, probe)
        .await
        .map_err(|_| {
            anyhow::anyhow!(t!(
                "relay-healthcheck-no-answer",
                addr = addr.to_string(),
                timeout = span(timeout)
            ))
        })?
        .map_err(|e| {
            anyhow::anyhow!(t!(
                "relay-healthcheck-failed",
                addr = addr.to_string(),
                error = format!("{e:#}")
            ))
        })?;
    if status != 200 {
        anyhow::bail!(t!(
            "relay-healthcheck-status",
            addr = addr.to_string(),
            status = status
        ));
    }
    println!("{}", t!("relay-healthcheck-ok"));
    Ok(())
}

async fn get_healthz<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> anyhow::Result<u16> {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    s.flush().await?;
    let mut buf = Vec::new();
    // The answer is tiny; read a bounded amount. A peer that closes without a TLS
    // close_notify after answering still answered.
    if let Err(e) = (&mut s).take(4096).read_to_end(&mut buf).await
        && (e.kind() != std::io::ErrorKind::UnexpectedEof || buf.is_empty())
    {
        return Err(e.into());
    }
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!(t!("relay-healthcheck-not-http")))
}

mod probe {
    //! The health probe's certificate check: none. The probe talks to the relay's own
    //! listener on loopback and sends nothing secret; whether the certificate is valid
    //! for the public name is the operator's `check`, and the clients', business.
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{
        WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
    };
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

    /// Accepts any certificate, but still checks the handshake signatures.
    #[derive(Debug)]
    pub struct AnyCertificate(WebPkiSupportedAlgorithms);

    impl AnyCertificate {
        pub fn new() -> Self {
            Self(super::tls::provider().signature_verification_algorithms)
        }
    }

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        kith_i18n::set_lang(kith_i18n::Lang::En);
        assert_eq!(kith_i18n::size(0), "0 B");
        assert_eq!(kith_i18n::size(1536), "1.5 KiB");
        assert_eq!(kith_i18n::size(3 << 20), "3.0 MiB");
        assert_eq!(kith_i18n::size(3 << 30), "3.0 GiB");
        assert_eq!(kith_i18n::size(5 << 40), "5.0 TiB");
        assert_eq!(span(Duration::from_secs(30 * 86_400)), "30 days");
        assert_eq!(span(Duration::from_millis(1500)), "1s 500ms");
    }

    #[test]
    fn wildcard_listeners_are_probed_on_loopback() {
        assert_eq!(
            probe_addr("0.0.0.0:7878".parse().unwrap()),
            "127.0.0.1:7878".parse().unwrap()
        );
        assert_eq!(
            probe_addr("[::]:1".parse().unwrap()),
            "[::1]:1".parse().unwrap()
        );
        assert_eq!(
            probe_addr("10.0.0.1:2".parse().unwrap()),
            "10.0.0.1:2".parse().unwrap()
        );
    }

    #[test]
    fn a_locked_data_dir_is_explained() {
        kith_i18n::set_lang(kith_i18n::Lang::En);
        let dir = tempfile::tempdir().unwrap();
        let _held = SledStore::open(dir.path()).unwrap();
        let settings = Settings {
            data: dir.path().to_path_buf(),
            metrics_listen: Some("0.0.0.0:9464".parse().unwrap()),
            ..Settings::default()
        };
        let refusal = |which| match open_store(&settings, which) {
            Ok(_) => panic!("sled allowed a second open"),
            Err(e) => format!("{e:#}"),
        };
        let path = dir.path().display().to_string();
        // The relay itself, started on a held data dir.
        let err = match SledStore::open(dir.path()) {
            Ok(_) => panic!("sled allowed a second open"),
            Err(e) => open_error(dir.path(), &e).to_string(),
        };
        assert!(err.contains("is the relay running?"), "{err}");
        assert!(err.contains(&path), "{err}");
        // `stats`: the running relay's metrics have the totals.
        let err = refusal(Offline::Stats);
        assert!(err.contains("is the relay running?"), "{err}");
        assert!(err.contains(&path), "{err}");
        assert!(
            err.contains("curl -s http://127.0.0.1:9464/metrics"),
            "{err}"
        );
        assert!(err.contains("systemctl stop kith-relay"), "{err}");
        // Without metrics: stop the relay first.
        let no_metrics = Settings {
            metrics_listen: None,
            ..settings.clone()
        };
        let err = match open_store(&no_metrics, Offline::Stats) {
            Ok(_) => panic!("sled allowed a second open"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("is the relay running?") && !err.contains("curl"),
            "{err}"
        );
        // `gc`: the running relay does it by itself.
        let err = refusal(Offline::Gc);
        assert!(err.contains("every 1 hour"), "{err}");
        let err = refusal(Offline::Check);
        assert!(err.contains("kith-relay healthcheck"), "{err}");
        // In Russian, the same advice.
        let ru = kith_i18n::message_in(
            kith_i18n::Lang::Ru,
            "relay-stats-locked",
            &[
                ("path", kith_i18n::Arg::from("/var/lib/kith-relay")),
                ("command", kith_i18n::Arg::from("kith-relay stats")),
                ("stop", kith_i18n::Arg::from(STOP_RELAY)),
                ("metrics", kith_i18n::Arg::from("curl …")),
            ],
        );
        assert!(
            ru.contains("сервер") && ru.contains("curl …") && ru.contains(STOP_RELAY),
            "{ru}"
        );
    }
}
