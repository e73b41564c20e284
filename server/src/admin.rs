//! Admin subcommands of `kith-relay`: `check`, `stats`, `gc` and `healthcheck`.
//!
//! `check`, `stats` and `gc` open the data directory directly. sled locks it, so they
//! refuse (with a clear message) to run while a relay is running on it; stop the relay
//! first. They print totals only, never a group id, slot id or anything else that names
//! a group or an invite.
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

/// Turns a failure to open the store into a message an operator can act on: a locked
/// data dir means a relay (or another admin command) is running on it.
pub fn open_error(dir: &Path, e: &StoreError) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("could not acquire lock") {
        anyhow::anyhow!(
            "data dir {} is in use by another process (is the relay running? stop it first, \
             e.g. `systemctl stop kith-relay`)",
            dir.display()
        )
    } else {
        anyhow::anyhow!("cannot open data dir {}: {text}", dir.display())
    }
}

fn open_store(dir: &Path) -> anyhow::Result<SledStore> {
    if !dir.exists() {
        anyhow::bail!(
            "data dir {} does not exist (check --data; the relay creates it on first start)",
            dir.display()
        );
    }
    SledStore::open(dir).map_err(|e| open_error(dir, &e))
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

/// `1536` → `1.5 KiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn check(settings: &Settings) -> anyhow::Result<()> {
    let mut failures = 0;
    println!("settings: ok");
    match &settings.tls {
        Some(files) => match tls::load(files).and_then(|_| tls::load_certs(&files.cert)) {
            Ok(chain) => println!(
                "tls: ok (wss:// on {}; {} certificate(s) from {}; key {})",
                settings.listen,
                chain.len(),
                files.cert.display(),
                files.key.display()
            ),
            Err(e) => {
                failures += 1;
                println!("tls: FAILED: {e:#}");
            }
        },
        None if settings.listen.ip().is_loopback() => println!(
            "tls: off (plain ws:// on {}; put a TLS reverse proxy in front)",
            settings.listen
        ),
        None => println!(
            "tls: off, WARNING: plain ws:// on non-loopback {} (clients need TLS: use \
             --tls-cert/--tls-key or a reverse proxy on this host)",
            settings.listen
        ),
    }
    match settings.metrics_listen {
        Some(a) if !a.ip().is_loopback() => {
            println!("metrics: WARNING: {a} is not loopback; keep /metrics private (firewall it)")
        }
        Some(a) => println!("metrics: {a}"),
        None => println!("metrics: off"),
    }
    println!(
        "group creation: {}",
        if settings.creation_secret.is_some() {
            "restricted to holders of the creation secret"
        } else {
            "open to anyone who can connect (set creation_secret_file to restrict it)"
        }
    );
    match check_data_dir(&settings.data) {
        Ok(msg) => println!("data dir {}: {msg}", settings.data.display()),
        Err(e) => {
            failures += 1;
            println!("data dir {}: FAILED: {e:#}", settings.data.display());
        }
    }
    if failures > 0 {
        anyhow::bail!("check failed ({failures} problem(s) above)");
    }
    println!("all checks passed");
    Ok(())
}

/// Opens the store (which fails if a relay holds it), reads it, and proves the
/// directory is writable with a probe file.
fn check_data_dir(dir: &Path) -> anyhow::Result<String> {
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
        probe_writable(parent)
            .map_err(|e| anyhow::anyhow!("does not exist, and {}: {e}", parent.display()))?;
        return Ok("does not exist yet; the relay will create it (parent is writable)".into());
    }
    if !dir.is_dir() {
        anyhow::bail!("not a directory");
    }
    let store = SledStore::open(dir).map_err(|e| open_error(dir, &e))?;
    let t = totals(&store, relay::now_secs())?;
    store.sync()?;
    drop(store);
    probe_writable(dir)?;
    Ok(format!("ok, writable ({} groups)", t.groups))
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
    r.map_err(|e| anyhow::anyhow!("not writable: {e}"))
}

fn stats(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = open_store(&settings.data)?;
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
        println!("groups:        {}", t.groups);
        println!("messages:      {}", t.messages);
        println!("bytes:         {} ({})", t.bytes, human_bytes(t.bytes));
        println!("blobs:         {} ({})", t.blobs, human_bytes(t.blob_bytes));
        println!(
            "invite slots:  {} ({} expired, deleted by the next retention run)",
            t.invite_slots, t.expired_invite_slots
        );
    }
    Ok(())
}

fn gc(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = Arc::new(open_store(&settings.data)?);
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
            "removed {messages} message(s) ({}) and {blobs} blob(s) ({}) older than {} and \
             {slots} expired invite slot(s)",
            human_bytes(bytes),
            human_bytes(removed.blob_bytes),
            humantime::format_duration(settings.retention)
        );
        println!(
            "left: {} group(s), {} message(s), {}, {} invite slot(s)",
            after.groups,
            after.messages,
            human_bytes(after.bytes),
            after.invite_slots
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
        .map_err(|_| anyhow::anyhow!("no answer from {addr} within {timeout:?}"))?
        .map_err(|e| anyhow::anyhow!("GET /healthz on {addr}: {e:#}"))?;
    if status != 200 {
        anyhow::bail!("GET /healthz on {addr}: status {status}");
    }
    println!("ok");
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
        .ok_or_else(|| anyhow::anyhow!("not an HTTP answer"))
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
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
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
        let dir = tempfile::tempdir().unwrap();
        let _held = SledStore::open(dir.path()).unwrap();
        let err = match SledStore::open(dir.path()) {
            Ok(_) => panic!("sled allowed a second open"),
            Err(e) => open_error(dir.path(), &e).to_string(),
        };
        assert!(err.contains("relay running"), "{err}");
    }
}
