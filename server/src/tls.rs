//! Built-in TLS: a certificate chain and private key from PEM files (`--tls-cert`,
//! `--tls-key`), served with rustls (`ring` provider, TLS 1.2 and 1.3 with rustls's safe
//! defaults), and reloaded on SIGHUP.
//!
//! A reload that fails (a file missing, unreadable, malformed, or a key that does not
//! match the certificate) keeps the certificate in use and logs a warning. Error messages
//! name the files and what is wrong with them, never their contents.
//!
//! The relay without these flags speaks plain WebSocket; that is meant for loopback behind
//! a reverse proxy that terminates TLS (`deploy/Caddyfile`, `deploy/nginx.conf`).

use kith_i18n::t;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Where the certificate chain and the private key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file with the certificate chain, leaf first (e.g. Let's Encrypt's
    /// `fullchain.pem`).
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The crypto provider of every TLS configuration of the relay: rustls's `ring`.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Describes a PEM error without quoting the file's contents (a key file's lines are
/// secret).
fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::Io(e) => e.to_string(),
        pem::Error::NoItemsFound => t!("relay-pem-no-block"),
        _ => t!("relay-pem-malformed"),
    }
}

/// Reads the certificate chain of `path`: every `CERTIFICATE` block, in order.
pub fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            anyhow::anyhow!(t!(
                "relay-tls-cert-file-bad",
                path = path.display().to_string(),
                error = pem_error(&e)
            ))
        })?;
    if certs.is_empty() {
        anyhow::bail!(t!(
            "relay-tls-cert-file-empty",
            path = path.display().to_string()
        ));
    }
    Ok(certs)
}

/// Reads the first private key of `path`.
fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        anyhow::anyhow!(t!(
            "relay-tls-key-file-bad",
            path = path.display().to_string(),
            error = pem_error(&e)
        ))
    })
}

/// Loads both files and builds the server configuration. Fails if either file is
/// unusable or the key does not belong to the certificate.
pub fn load(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!(t!("relay-tls-config-failed", error = e.to_string())))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow::anyhow!(t!(
                "relay-tls-pair-bad",
                cert = files.cert.display().to_string(),
                key = files.key.display().to_string(),
                error = e.to_string()
            ))
        })?;
    // WebSocket runs over HTTP/1.1; a client that offers ALPN gets it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The relay's TLS state: the files and the acceptor currently in use.
pub struct Tls {
    files: TlsFiles,
    acceptor: RwLock<TlsAcceptor>,
}

impl Tls {
    /// Loads the files; fails if they are unusable.
    pub fn new(files: TlsFiles) -> anyhow::Result<Self> {
        let config = load(&files)?;
        Ok(Self {
            files,
            acceptor: RwLock::new(TlsAcceptor::from(config)),
        })
    }

    /// The acceptor for a new connection. Connections keep the configuration they
    /// started with; a reload affects only later ones.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Loads the files again. On success later connections get the new certificate; on
    /// failure the one in use stays and the error is returned.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = load(&self.files)?;
        *self.acceptor.write().unwrap_or_else(|e| e.into_inner()) = TlsAcceptor::from(config);
        Ok(())
    }
}

/// Handles SIGHUP until `shutdown`: reloads the TLS files if TLS is on, otherwise only
/// notes the signal. The handler is installed before this returns (so a SIGHUP right
/// after start cannot hit the default action, which would terminate the process), and it
/// keeps SIGHUP (systemd's `ExecReload`) from terminating a relay without TLS.
pub fn reload_on_sighup(tls: Option<Arc<Tls>>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP; TLS reload is unavailable");
                return;
            }
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = hup.recv() => if r.is_none() { return },
                    () = shutdown.cancelled() => return,
                }
                match &tls {
                    None => tracing::info!("SIGHUP: no TLS configured, nothing to reload"),
                    Some(tls) => {
                        let t = tls.clone();
                        match tokio::task::spawn_blocking(move || t.reload()).await {
                            Ok(Ok(())) => tracing::info!("TLS certificate and key reloaded"),
                            Ok(Err(e)) => tracing::warn!(
                                error = %format!("{e:#}"),
                                "TLS reload failed; keeping the certificate in use"
                            ),
                            Err(e) => tracing::warn!(error = %e, "TLS reload task failed"),
                        }
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    {
        let _ = (tls, shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
        TlsFiles { cert, key }
    }

    #[test]
    fn loads_a_pair_and_refuses_mismatches_and_junk() {
        kith_i18n::set_lang(kith_i18n::Lang::En);
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a");
        let b = write_pair(dir.path(), "b");
        load(&a).unwrap();

        let mixed = TlsFiles {
            cert: a.cert.clone(),
            key: b.key.clone(),
        };
        let err = format!("{:#}", load(&mixed).unwrap_err());
        assert!(err.contains("a.crt"), "{err}");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "-----BEGIN PRIVATE KEY-----\nnot base64!\n").unwrap();
        let err = format!(
            "{:#}",
            load(&TlsFiles {
                cert: a.cert.clone(),
                key: junk.clone()
            })
            .unwrap_err()
        );
        assert!(
            err.contains("junk.pem") && !err.contains("not base64"),
            "{err}"
        );

        let err = format!(
            "{:#}",
            load(&TlsFiles {
                cert: junk,
                key: a.key.clone()
            })
            .unwrap_err()
        );
        assert!(err.contains("certificate"), "{err}");

        let missing = TlsFiles {
            cert: dir.path().join("nope.crt"),
            key: a.key.clone(),
        };
        assert!(format!("{:#}", load(&missing).unwrap_err()).contains("nope.crt"));
    }

    #[test]
    fn a_failed_reload_keeps_the_old_config() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a");
        let tls = Tls::new(a.clone()).unwrap();
        let before = Arc::as_ptr(tls.acceptor().config());
        std::fs::write(&a.key, "garbage").unwrap();
        assert!(tls.reload().is_err());
        assert_eq!(Arc::as_ptr(tls.acceptor().config()), before);
        let b = write_pair(dir.path(), "b");
        std::fs::copy(&b.key, &a.key).unwrap();
        std::fs::copy(&b.cert, &a.cert).unwrap();
        tls.reload().unwrap();
        assert_ne!(Arc::as_ptr(tls.acceptor().config()), before);
    }
}
