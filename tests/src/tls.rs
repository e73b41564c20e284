//! TLS helpers for the end-to-end tests: a throwaway certificate authority ([`TestCa`],
//! made with rcgen), server certificates it issues for `localhost` and `127.0.0.1`
//! ([`Issued`]), and [`served_certificate`], which reads the certificate a TLS server
//! presents (to tell which certificate a relay serves after a reload).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A certificate authority that exists only for one test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A server certificate and its key, as PEM, plus the certificate's DER bytes.
pub struct Issued {
    /// The certificate (PEM), followed by nothing else: the CA is the trust anchor.
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The certificate's DER encoding, to compare with what a server presents.
    pub der: Vec<u8>,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// Writes the CA certificate (PEM) to `path`.
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.pem()).expect("write CA file");
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses) with the given
    /// serial number.
    pub fn issue(&self, names: &[&str], serial: u64) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<String>>())
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("kith"));
        params.serial_number = Some(SerialNumber::from(serial));
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign server certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A rustls client configuration that trusts only this CA.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der()).expect("CA is a valid trust anchor");
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
    }
}

impl Issued {
    /// Writes certificate and key to `cert` and `key`, each atomically (a temporary file
    /// renamed over the old one), so that a relay reloading at that moment never reads a
    /// half-written file.
    pub fn write(&self, cert: &Path, key: &Path) {
        write_atomic(cert, self.cert_pem.as_bytes());
        write_atomic(key, self.key_pem.as_bytes());
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, bytes).expect("write temporary file");
    std::fs::rename(&tmp, path).expect("rename over the old file");
}

/// Connects to `addr` with TLS for `name`, trusting only `ca`, and returns the DER of the
/// end-entity certificate the server presented.
pub async fn served_certificate(addr: SocketAddr, ca: &TestCa, name: &str) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(ca.client_config()));
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let fut = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = connector.connect(name, tcp).await?;
        let (_, conn) = tls.get_ref();
        Ok::<_, std::io::Error>(
            conn.peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
                .unwrap_or_default(),
        )
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("TLS handshake with {addr} timed out"))
        .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"))
}
