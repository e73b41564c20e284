//! The client's connection to a relay: one WebSocket, many requests in flight.
//!
//! Transport ([`ConnectOptions`]): `ws://` or `wss://` (rustls with the `ring` provider;
//! the web PKI roots plus an optional private CA, [`ConnectOptions::ca`]), directly or
//! through a SOCKS5 proxy such as Tor ([`ConnectOptions::proxy`]: names resolved by the
//! proxy, no direct fallback). A refused certificate is [`RelayError::Certificate`] and
//! unusable options are [`RelayError::Setup`]; neither is worth retrying. Plain `ws://`
//! is refused ([`RelayError::PlainWs`], before anything is sent) unless the host is on
//! this machine or a Tor onion service ([`plain_ws_stays_private`]), or the caller set
//! [`ConnectOptions::allow_plain_ws`].
//!
//! [`RelayConnection::connect`] opens the WebSocket, sends `Hello` and checks the answer.
//! After that two background tasks own the socket: a writer that sends the frames queued
//! by [`RelayConnection::request`], and a reader that hands each response to the request
//! that asked for it (by request id) and each [`Push`] to the channel returned by
//! [`RelayConnection::take_pushes`].
//!
//! The relay is treated as hostile. Every frame is decoded with the bounded
//! [`RelayFrame::decode`]; a frame that does not decode, a text message, an answer to a
//! request id that was never asked (or was already answered), or an answer of the wrong
//! kind for its request fails the whole connection with [`RelayError::Protocol`], and
//! every request in flight fails with it. Nothing the relay sends can make this module
//! panic. Errors the relay cannot attribute to a request (`Error { id: 0, .. }`) are
//! counted ([`RelayConnection::unattributed_errors`]) and logged, nothing more.
//!
//! Pushes: the push channel holds [`ConnectOptions::push_queue`] pushes (1024 by
//! default). If the consumer falls that far behind, the connection is **failed** with
//! [`RelayError::PushOverflow`] rather than dropping pushes: a dropped push would be a
//! silent gap, while a failed connection makes the consumer reconnect and fetch from its
//! cursor, which loses nothing. Pushes that arrive after the receiver was dropped (or
//! before it was taken, once the queue is full) follow the same rule: a dropped receiver
//! discards pushes, an untaken one fills up.

use answers::{expected_answer, response_name};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use kith_i18n::t;
use kith_protocol::access::{AccessKey, AdminKey};
use kith_protocol::frame::{AccessPublicKey, AdminPublicKey, blob_id};
use kith_protocol::limits::{MAX_FETCH_MESSAGES, MAX_FRAME};
use kith_protocol::{
    BlobId, ClientFrame, Epoch, ErrorCode, GroupId, Message, PROTOCOL_VERSION, PostKind, Push,
    RelayFrame, Request, RequestId, Response, Seq,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_socks::TargetAddr;
use tokio_socks::tcp::Socks5Stream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// How long [`RelayConnection::connect`] waits for the WebSocket and the `Hello` answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for its answer by default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many unread pushes are buffered before the connection is failed.
pub const PUSH_QUEUE: usize = 1024;

/// How many outgoing frames may wait for the writer task.
const OUTGOING_QUEUE: usize = 256;

/// How many ids of abandoned requests (timed out or cancelled) are remembered, so that
/// their late answers are ignored instead of failing the connection.
const ABANDONED_MEMORY: usize = 4096;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Tunables of a [`RelayConnection`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Deadline for the WebSocket handshake plus the `Hello` exchange.
    pub connect_timeout: Duration,
    /// Deadline for each request's answer.
    pub request_timeout: Duration,
    /// Capacity of the push channel (see the module docs for what happens when full).
    pub push_queue: usize,
    /// A SOCKS5 proxy to reach the relay through (Tor: `socks5://127.0.0.1:9050`).
    /// `socks5h://` means the same; `user:password@` may precede the host (Tor uses it to
    /// isolate circuits). The relay's host name is sent to the proxy to resolve, never
    /// looked up locally, and a failing proxy fails the connection: there is no direct
    /// fallback.
    pub proxy: Option<String>,
    /// A PEM file of CA certificates that `wss://` trusts in addition to the built-in web
    /// PKI roots (a relay with a certificate from a private CA).
    pub ca: Option<PathBuf>,
    /// Connect over plain `ws://` to any host. Without it, plain `ws://` is refused
    /// unless the host is loopback or a `.onion` name ([`plain_ws_stays_private`]).
    pub allow_plain_ws: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            push_queue: PUSH_QUEUE,
            proxy: None,
            ca: None,
            allow_plain_ws: false,
        }
    }
}

/// A parsed `socks5://[user:password@]host:port` proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SocksProxy {
    /// `host:port` of the proxy.
    pub addr: String,
    /// User name and password, if given.
    pub auth: Option<(String, String)>,
}

impl std::fmt::Debug for SocksProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("SocksProxy")
            .field("addr", &self.addr)
            .field("auth", &self.auth.as_ref().map(|_| "…"))
            .finish()
    }
}

impl std::str::FromStr for SocksProxy {
    type Err = RelayError;

    fn from_str(s: &str) -> Result<Self, RelayError> {
        let bad = |why: String| {
            RelayError::Setup(t!(
                "net-proxy-bad",
                why = why,
                example = "socks5://127.0.0.1:9050"
            ))
        };
        let rest = s
            .strip_prefix("socks5://")
            .or_else(|| s.strip_prefix("socks5h://"))
            .ok_or_else(|| bad(t!("net-proxy-not-socks5")))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (auth, addr) = match rest.rsplit_once('@') {
            Some((userinfo, addr)) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (Some((user.to_owned(), pass.to_owned())), addr)
            }
            None => (None, rest),
        };
        let port = addr
            .rsplit_once(':')
            .and_then(|(host, port)| (!host.is_empty()).then_some(port))
            .ok_or_else(|| bad(t!("net-proxy-no-host-port")))?;
        if port.parse::<u16>().is_err() || addr.contains('/') {
            return Err(bad(t!("net-proxy-no-host-port")));
        }
        Ok(SocksProxy {
            addr: addr.to_owned(),
            auth,
        })
    }
}

/// The TLS configuration for `wss://`: rustls (`ring`), the web PKI roots, plus the
/// certificates of `ca` if given. A `ca` file that cannot be read or holds no certificate
/// is an error, never silently ignored.
pub fn tls_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, RelayError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca {
        let fail = |why: String| {
            RelayError::Setup(t!(
                "net-ca-file-bad",
                path = path.display().to_string(),
                why = why
            ))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail(t!("net-ca-file-no-certificate")));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| RelayError::Setup(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Opens the TCP stream to `host:port`, directly or through the SOCKS5 proxy.
async fn open_tcp(host: &str, port: u16, proxy: Option<&str>) -> Result<TcpStream, RelayError> {
    if proxy.is_none() && is_onion(host) {
        // Looking it up would tell the local resolver (and whoever watches it) which
        // onion service this machine wants; only Tor can reach it anyway.
        return Err(RelayError::Setup(t!(
            "net-onion-needs-proxy",
            host = host,
            var = "KITH_PROXY"
        )));
    }
    let tcp = match proxy {
        None => TcpStream::connect((host, port))
            .await
            .map_err(|e| RelayError::Connect(format!("{host}:{port}: {e}")))?,
        Some(proxy) => {
            let proxy: SocksProxy = proxy.parse()?;
            // An address stays an address; a name goes to the proxy unresolved.
            let target = match host.parse::<IpAddr>() {
                Ok(ip) => TargetAddr::Ip((ip, port).into()),
                Err(_) => TargetAddr::Domain(host.into(), port),
            };
            let stream = match &proxy.auth {
                None => Socks5Stream::connect(proxy.addr.as_str(), target).await,
                Some((user, pass)) => {
                    Socks5Stream::connect_with_password(proxy.addr.as_str(), target, user, pass)
                        .await
                }
            };
            stream
                .map_err(|e| {
                    RelayError::Connect(t!(
                        "net-through-proxy",
                        proxy = &proxy.addr,
                        why = e.to_string()
                    ))
                })?
                .into_inner()
        }
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Whether `host` is a Tor onion service name (reached only through a proxy, never
/// looked up).
pub fn is_onion(host: &str) -> bool {
    host.to_ascii_lowercase()
        .trim_end_matches('.')
        .ends_with(".onion")
}

/// Whether plain `ws://` to `host` keeps the traffic away from the network path: a
/// loopback address (`127.0.0.0/8`, `::1`, also written as `::ffff:127.x.y.z`) or the
/// name `localhost` never leaves the machine, and a `.onion` name is reached only through
/// Tor, which encrypts up to the onion service. Every other host — a public name, a
/// private address such as `10.x` or `192.168.x` — is read and changed by whoever is on
/// the path, and needs [`ConnectOptions::allow_plain_ws`]. Case does not matter; `[v6]`
/// brackets may be present. Names are taken as written: nothing is resolved.
pub fn plain_ws_stays_private(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.to_canonical().is_loopback();
    }
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host
            .strip_suffix(".onion")
            .is_some_and(|name| !name.is_empty() && !name.ends_with('.'))
}

/// Where a relay URL points.
struct Target {
    /// The WebSocket request.
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
    /// `wss://` (true) or `ws://`.
    tls: bool,
    /// The host, without `[]`.
    host: String,
    port: u16,
}

fn target_of(url: &str) -> Result<Target, RelayError> {
    let request = url
        .into_client_request()
        .map_err(|e| RelayError::Setup(format!("{url}: {e}")))?;
    let uri = request.uri();
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(RelayError::Setup(t!("net-url-bad-scheme", url = url)));
        }
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .ok_or_else(|| RelayError::Setup(t!("net-url-no-host", url = url)))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Target {
        request,
        tls,
        host,
        port,
    })
}

/// Refuses a plain `ws://` URL to a host outside this machine (and not `.onion`) unless
/// `allow_plain_ws` ([`plain_ws_stays_private`] is the rule). [`RelayConnection`] checks
/// every URL it connects to; the command line checks the URLs it is given before it
/// asks for the passphrase. A URL that does not parse is left to the connection to
/// report.
pub fn check_plain_ws(url: &str, allow_plain_ws: bool) -> Result<(), RelayError> {
    match target_of(url) {
        Ok(target) => refuse_plain_ws(url, &target, allow_plain_ws),
        Err(_) => Ok(()),
    }
}

fn refuse_plain_ws(url: &str, target: &Target, allow: bool) -> Result<(), RelayError> {
    if target.tls || allow || plain_ws_stays_private(&target.host) {
        Ok(())
    } else {
        Err(RelayError::PlainWs(url.to_owned()))
    }
}

/// Opens the WebSocket for `url` (`ws://` or `wss://`) as `options` say. Plain `ws://`
/// to a host that is not private ([`plain_ws_stays_private`]) is refused before any
/// connection is attempted, unless `options.allow_plain_ws`.
async fn open_ws(
    url: &str,
    options: &ConnectOptions,
    config: WebSocketConfig,
) -> Result<Ws, RelayError> {
    let target = target_of(url)?;
    refuse_plain_ws(url, &target, options.allow_plain_ws)?;
    let tcp = open_tcp(&target.host, target.port, options.proxy.as_deref()).await?;
    let connector = if target.tls {
        Connector::Rustls(Arc::new(tls_config(options.ca.as_deref())?))
    } else {
        Connector::Plain
    };
    let (ws, _response) = tokio_tungstenite::client_async_tls_with_config(
        target.request,
        tcp,
        Some(config),
        Some(connector),
    )
    .await
    .map_err(|e| handshake_error(&e))?;
    Ok(ws)
}

/// Classifies a failed WebSocket handshake: a refused certificate is
/// [`RelayError::Certificate`]; an answer to `wss://` that is not TLS at all (a plain
/// `ws://` relay or web server answers the TLS hello with plain HTTP) is
/// [`RelayError::Setup`], which says so plainly (rustls's own words are logged at debug
/// level); anything else [`RelayError::Connect`].
fn handshake_error(e: &tokio_tungstenite::tungstenite::Error) -> RelayError {
    use tokio_tungstenite::tungstenite::Error as WsError;
    if let WsError::Io(io) = e
        && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
    {
        match tls {
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                return RelayError::Certificate(tls.to_string());
            }
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                tracing::debug!(error = %tls, "the relay answered the TLS hello without TLS");
                return RelayError::Setup(t!("net-not-tls"));
            }
            _ => {}
        }
    }
    RelayError::Connect(e.to_string())
}

/// Why a request or the connection failed. Its words ([`std::fmt::Display`]) are in
/// the reader's language; the texts some variants carry were put in it when made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// The WebSocket could not be opened.
    Connect(String),
    /// The connection options cannot work (a malformed proxy URL, an unreadable CA
    /// file, `wss://` to a relay that does not speak TLS): retrying does not help.
    Setup(String),
    /// The relay's TLS certificate was refused (unknown issuer, wrong name, expired).
    /// Retrying does not help, and it may be an attack: it is never ignored.
    Certificate(String),
    /// The URL (here) is plain `ws://` to a host on the network, and plain `ws://` was
    /// not allowed ([`ConnectOptions::allow_plain_ws`]): nothing was sent.
    PlainWs(String),
    /// The relay answered the request with an error code.
    Relay(ErrorCode),
    /// The relay broke the protocol; the connection is failed.
    Protocol(String),
    /// No answer in time (`"connect and hello"` or `"request"`: what was waited for).
    Timeout(&'static str),
    /// The connection is closed (by either side, or by a transport error).
    Closed(String),
    /// The request does not fit in one frame, or a field is over its protocol limit;
    /// it was not sent.
    TooLarge(usize),
    /// The push channel was full; the connection was failed so that no push is lost
    /// silently.
    PushOverflow,
    /// The relay answered `GetBlob` with bytes that are not the blob asked for (their
    /// SHA-256 is not its id): altered on the relay or on the way. Not worth retrying.
    BlobMismatch,
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            RelayError::Connect(why) => t!("net-error-connect", why = why),
            RelayError::Setup(why) => t!("net-error-setup", why = why),
            RelayError::Certificate(why) => t!("net-error-certificate", why = why),
            RelayError::PlainWs(url) => t!(
                "net-error-plain-ws",
                url = url,
                var = "KITH_ALLOW_PLAIN_WS=1"
            ),
            RelayError::Relay(code) => t!(
                "net-error-refused",
                why = error_code_text(*code),
                code = code.slug()
            ),
            RelayError::Protocol(why) => t!("net-error-protocol", why = why),
            RelayError::Timeout(what) => {
                let what = match *what {
                    "connect and hello" => t!("net-waited-for-hello"),
                    "request" => t!("net-waited-for-answer"),
                    other => other.to_owned(),
                };
                t!("net-error-timeout", what = what)
            }
            RelayError::Closed(why) => t!("net-error-closed", why = why),
            RelayError::TooLarge(n) => {
                t!("net-error-too-large", size = kith_i18n::size(*n as u64))
            }
            RelayError::PushOverflow => t!("net-error-push-overflow"),
            RelayError::BlobMismatch => t!("net-error-blob-mismatch"),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for RelayError {}

/// What a relay's error code means, in the reader's language (the relay sends only the
/// code, never words of its own: see [`ErrorCode`]).
pub fn error_code_text(code: ErrorCode) -> String {
    match code {
        ErrorCode::BadFrame => t!("net-code-bad-frame"),
        ErrorCode::UnsupportedVersion => t!("net-code-unsupported-version"),
        ErrorCode::HelloFirst => t!("net-code-hello-first"),
        ErrorCode::TooLarge => t!("net-code-too-large"),
        ErrorCode::RateLimited => t!("net-code-rate-limited"),
        ErrorCode::NoSuchGroup => t!("net-code-no-such-group"),
        ErrorCode::Unauthorized => t!("net-code-unauthorized"),
        ErrorCode::AuthFailed => t!("net-code-auth-failed"),
        ErrorCode::BadNonce => t!("net-code-bad-nonce"),
        ErrorCode::StaleEpoch => t!("net-code-stale-epoch"),
        ErrorCode::BadPadding => t!("net-code-bad-padding"),
        ErrorCode::QuotaExceeded => t!("net-code-quota-exceeded"),
        ErrorCode::CreationForbidden => t!("net-code-creation-forbidden"),
        ErrorCode::SlotExists => t!("net-code-slot-exists"),
        ErrorCode::NoSuchInvite => t!("net-code-no-such-invite"),
        ErrorCode::InviteExpired => t!("net-code-invite-expired"),
        ErrorCode::AlreadyUsed => t!("net-code-already-used"),
        ErrorCode::NotAnswered => t!("net-code-not-answered"),
        ErrorCode::Forbidden => t!("net-code-forbidden"),
        ErrorCode::TooMany => t!("net-code-too-many"),
        ErrorCode::BadRequest => t!("net-code-bad-request"),
        ErrorCode::Internal => t!("net-code-internal"),
        ErrorCode::ShuttingDown => t!("net-code-shutting-down"),
        ErrorCode::NoSuchBlob => t!("net-code-no-such-blob"),
        ErrorCode::StorageUnavailable => t!("net-code-storage-unavailable"),
        ErrorCode::CommitLocked => t!("net-code-commit-locked"),
        ErrorCode::InvitesFull => t!("net-code-invites-full"),
        ErrorCode::KnocksFull => t!("net-code-knocks-full"),
        ErrorCode::GroupExists => t!("net-code-group-exists"),
        ErrorCode::Unknown(_) => t!("net-code-unknown"),
        // A code added to the protocol since: its English words.
        other => other.description().to_owned(),
    }
}

/// The answer to `Auth`, as [`RelayConnection::auth_info`] returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthInfo {
    /// The group's current epoch on the relay.
    pub current_epoch: Epoch,
    /// The sequence number the next stored message will get.
    pub head: Seq,
    /// How long the relay keeps the group's messages and blobs, seconds.
    pub retention_secs: u64,
}

/// The answer to `AdminAuth`, as [`RelayConnection::admin_auth`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminInfo {
    /// The group's admin keys.
    pub keys: Vec<AdminPublicKey>,
    /// Until when commits are accepted only from admin connections (Unix seconds).
    pub commit_lock_until: u64,
    /// The retention the group asked for, as the relay stores it (0: its default).
    pub retention_asked: u64,
}

/// One page of a group's log, as answered to [`RelayConnection::fetch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPage {
    /// The messages, in increasing sequence order.
    pub messages: Vec<Message>,
    /// Where the next fetch should start.
    pub next: Seq,
    /// The sequence number the next stored message will get.
    pub head: Seq,
    /// Set when the message at `next` was withheld because this connection is not
    /// authorized for its epoch.
    pub needs_epoch: Option<Epoch>,
}

/// A live connection to a relay. Cheap to share behind an `Arc`: every method takes
/// `&self`, and requests from many tasks are pipelined on the one socket.
pub struct RelayConnection {
    shared: Arc<Shared>,
    out_tx: mpsc::Sender<Outgoing>,
    pushes: Mutex<Option<mpsc::Receiver<Push>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    request_timeout: Duration,
    max_out: usize,
}

enum Outgoing {
    Frame(Vec<u8>),
}

struct Shared {
    state: Mutex<State>,
    next_id: AtomicU32,
    unattributed: AtomicU64,
    last_unattributed: Mutex<Option<ErrorCode>>,
    dead: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    pending: HashMap<RequestId, Pending>,
    abandoned: BTreeSet<RequestId>,
    failure: Option<RelayError>,
}

struct Pending {
    expect: fn(&Response) -> bool,
    tx: oneshot::Sender<Result<Response, RelayError>>,
}

/// Locks a mutex, ignoring poisoning (no lock here is held across code that can panic,
/// and a panic elsewhere must not turn into a panic here).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Fails the connection: records the first failure, fails every request in flight
    /// with it, and tells both tasks to stop.
    fn fail(&self, err: RelayError) {
        let pending = {
            let mut st = lock(&self.state);
            if st.failure.is_none() {
                st.failure = Some(err);
            }
            st.abandoned.clear();
            std::mem::take(&mut st.pending)
        };
        let failure = self.failure();
        for (_, p) in pending {
            let _ = p.tx.send(Err(failure.clone()));
        }
        self.dead.send_replace(true);
    }

    fn failure(&self) -> RelayError {
        lock(&self.state)
            .failure
            .clone()
            .unwrap_or_else(|| RelayError::Closed(t!("net-closed-ended")))
    }

    /// Hands an answer to the request that asked for it.
    fn complete(
        &self,
        id: RequestId,
        answer: Result<Response, RelayError>,
    ) -> Result<(), RelayError> {
        let pending = {
            let mut st = lock(&self.state);
            match st.pending.remove(&id) {
                Some(p) => p,
                None if st.abandoned.remove(&id) => return Ok(()),
                None => {
                    return Err(RelayError::Protocol(t!("net-protocol-unasked", id = id)));
                }
            }
        };
        if let Ok(body) = &answer
            && !(pending.expect)(body)
        {
            let err = RelayError::Protocol(t!(
                "net-protocol-wrong-kind",
                id = id,
                answer = response_name(body)
            ));
            let _ = pending.tx.send(Err(err.clone()));
            return Err(err);
        }
        let _ = pending.tx.send(answer);
        Ok(())
    }
}

/// Removes a request from the pending map when its future ends or is dropped; a request
/// that was (possibly) sent but not answered is remembered as abandoned.
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: RequestId,
    sent: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        if st.pending.remove(&self.id).is_some() && self.sent && st.failure.is_none() {
            st.abandoned.insert(self.id);
            while st.abandoned.len() > ABANDONED_MEMORY {
                st.abandoned.pop_first();
            }
        }
    }
}

impl RelayConnection {
    /// Connects to the relay at `url` (`ws://host:port/v1` or `wss://host[:port]/v1`),
    /// sends `Hello` and checks the relay's answer, all within [`CONNECT_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Self, RelayError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// [`RelayConnection::connect`] with explicit options (timeouts, SOCKS5 proxy, CA).
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<Self, RelayError> {
        let deadline = options.connect_timeout;
        match tokio::time::timeout(deadline, Self::connect_inner(url, options)).await {
            Ok(result) => result,
            Err(_) => Err(RelayError::Timeout("connect and hello")),
        }
    }

    async fn connect_inner(url: &str, options: ConnectOptions) -> Result<Self, RelayError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let ws = open_ws(url, &options, config).await?;
        let mut conn = Self::start(ws, &options);
        let hello = conn
            .request(Request::Hello {
                version: PROTOCOL_VERSION,
            })
            .await;
        match hello {
            Ok(Response::Hello { version, max_frame }) => {
                if version != PROTOCOL_VERSION {
                    let err =
                        RelayError::Protocol(t!("net-protocol-hello-version", version = version));
                    conn.shared.fail(err.clone());
                    return Err(err);
                }
                conn.max_out = (max_frame as usize).min(MAX_FRAME);
                Ok(conn)
            }
            Ok(other) => {
                // Unreachable in practice: the reader checks the answer's kind.
                let err = RelayError::Protocol(t!(
                    "net-protocol-hello-answer",
                    answer = response_name(&other)
                ));
                conn.shared.fail(err.clone());
                Err(err)
            }
            Err(e) => {
                conn.shared.fail(e.clone());
                Err(e)
            }
        }
    }

    /// Spawns the reader and writer tasks on an open WebSocket.
    fn start(ws: Ws, options: &ConnectOptions) -> Self {
        let (dead, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            next_id: AtomicU32::new(1),
            unattributed: AtomicU64::new(0),
            last_unattributed: Mutex::new(None),
            dead,
        });
        let (sink, stream) = ws.split();
        let (out_tx, out_rx) = mpsc::channel(OUTGOING_QUEUE);
        let (push_tx, push_rx) = mpsc::channel(options.push_queue.max(1));
        let writer = tokio::spawn(write_loop(sink, out_rx, shared.clone()));
        let reader = tokio::spawn(read_loop(stream, shared.clone(), push_tx));
        Self {
            shared,
            out_tx,
            pushes: Mutex::new(Some(push_rx)),
            tasks: Mutex::new(vec![writer, reader]),
            request_timeout: options.request_timeout,
            max_out: MAX_FRAME,
        }
    }

    /// Sends one request and waits for its answer. Many requests may be in flight at
    /// once; each gets the next request id (1, 2, …; never 0). An `Error` frame for the
    /// request becomes [`RelayError::Relay`].
    pub async fn request(&self, request: Request) -> Result<Response, RelayError> {
        let (tx, rx) = oneshot::channel();
        let expect = expected_answer(&request);
        let id = {
            let mut st = lock(&self.shared.state);
            if let Some(f) = &st.failure {
                return Err(f.clone());
            }
            let id = loop {
                let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
                if id != 0 && !st.pending.contains_key(&id) && !st.abandoned.contains(&id) {
                    break id;
                }
            };
            st.pending.insert(id, Pending { expect, tx });
            id
        };
        let mut guard = PendingGuard {
            shared: &self.shared,
            id,
            sent: false,
        };
        let frame = ClientFrame { id, request };
        let bytes = frame.encode();
        // Never send what the relay must refuse: a frame over its limit, or a field over
        // the protocol's (the relay could not even tell which request it refused).
        if bytes.len() > self.max_out || frame.validate().is_err() {
            return Err(RelayError::TooLarge(bytes.len()));
        }
        // From here on the frame may reach the relay, so a late answer must be expected.
        guard.sent = true;
        if self.out_tx.send(Outgoing::Frame(bytes)).await.is_err() {
            return Err(self.shared.failure());
        }
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(self.shared.failure()),
            Err(_) => Err(RelayError::Timeout("request")),
        }
    }

    /// Takes the receiver of pushes (new messages of subscribed groups). Returns `None`
    /// if it was already taken. The channel ends when the connection fails or closes.
    pub fn take_pushes(&self) -> Option<mpsc::Receiver<Push>> {
        lock(&self.pushes).take()
    }

    /// Sends `Ping` and waits for `Pong`.
    pub async fn ping(&self) -> Result<(), RelayError> {
        match self.request(Request::Ping).await? {
            Response::Pong => Ok(()),
            other => Err(self.wrong(&other)),
        }
    }

    /// Proves access to `(group, epoch)` with `key`: asks for a challenge, signs it, and
    /// sends `Auth`. Returns the group's current epoch and head on the relay.
    pub async fn auth(
        &self,
        group: GroupId,
        epoch: Epoch,
        key: &AccessKey,
    ) -> Result<(Epoch, Seq), RelayError> {
        self.auth_info(group, epoch, key)
            .await
            .map(|a| (a.current_epoch, a.head))
    }

    /// [`RelayConnection::auth`], returning everything the relay answered, including the
    /// group's retention.
    pub async fn auth_info(
        &self,
        group: GroupId,
        epoch: Epoch,
        key: &AccessKey,
    ) -> Result<AuthInfo, RelayError> {
        let nonce = match self.request(Request::Challenge).await? {
            Response::Challenge { nonce } => nonce,
            other => return Err(self.wrong(&other)),
        };
        let signature = key.sign_auth(&nonce, &group, epoch);
        match self
            .request(Request::Auth {
                group,
                epoch,
                nonce,
                signature,
            })
            .await?
        {
            Response::Authorized {
                current_epoch,
                head,
                retention_secs,
            } => Ok(AuthInfo {
                current_epoch,
                head,
                retention_secs,
            }),
            other => Err(self.wrong(&other)),
        }
    }

    /// Creates a group whose epoch-0 access key is `access_key`. Does not authorize the
    /// connection for it: call [`RelayConnection::auth`] next.
    pub async fn create_group(
        &self,
        access_key: AccessPublicKey,
        creation_secret: &[u8],
        admin_key: AdminPublicKey,
    ) -> Result<GroupId, RelayError> {
        match self
            .request(Request::CreateGroup {
                access_key,
                creation_secret: creation_secret.to_vec(),
                admin_key,
            })
            .await?
        {
            Response::GroupCreated { group } => Ok(group),
            other => Err(self.wrong(&other)),
        }
    }

    /// Sets a group up under the id `group` at `epoch`, whose access key is `access_key`,
    /// with the group's admin keys and retention and an empty log whose first message
    /// will get `first_seq`: a group that moves here from another relay. Returns the id
    /// (the relay must name the one asked for: another fails the connection). Does not
    /// authorize the connection for it: call [`RelayConnection::auth`] next.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_group_at(
        &self,
        group: GroupId,
        epoch: Epoch,
        first_seq: Seq,
        access_key: AccessPublicKey,
        creation_secret: &[u8],
        admin_keys: &[AdminPublicKey],
        retention_secs: u64,
    ) -> Result<GroupId, RelayError> {
        match self
            .request(Request::CreateGroupAt {
                group,
                epoch,
                first_seq,
                access_key,
                creation_secret: creation_secret.to_vec(),
                admin_keys: admin_keys.to_vec(),
                retention_secs,
            })
            .await?
        {
            Response::GroupCreated { group: made } if made == group => Ok(made),
            Response::GroupCreated { .. } => {
                let err = RelayError::Protocol(t!("net-protocol-other-group"));
                self.shared.fail(err.clone());
                Err(err)
            }
            other => Err(self.wrong(&other)),
        }
    }

    /// Deletes `group`'s copy on this relay, everything of it (admin connection: see
    /// [`RelayConnection::admin_auth`]); returns once the relay made it durable.
    pub async fn delete_group(&self, group: GroupId) -> Result<(), RelayError> {
        match self.request(Request::DeleteGroup { group }).await? {
            Response::GroupDeleted => Ok(()),
            other => Err(self.wrong(&other)),
        }
    }

    /// Posts a padded payload; returns its sequence number once the relay stored it.
    pub async fn post(
        &self,
        group: GroupId,
        epoch: Epoch,
        kind: PostKind,
        payload: Vec<u8>,
    ) -> Result<Seq, RelayError> {
        match self
            .request(Request::Post {
                group,
                epoch,
                kind,
                payload,
            })
            .await?
        {
            Response::Posted { seq } => Ok(seq),
            other => Err(self.wrong(&other)),
        }
    }

    /// Fetches up to `limit` messages from `from` on, and checks that the page is
    /// coherent (increasing sequence numbers from `from` on, no more than asked, a
    /// `next` past them); an incoherent page fails the connection.
    pub async fn fetch(
        &self,
        group: GroupId,
        from: Seq,
        limit: u32,
    ) -> Result<FetchPage, RelayError> {
        let page = match self.request(Request::Fetch { group, from, limit }).await? {
            Response::Messages {
                messages,
                next,
                head,
                needs_epoch,
            } => FetchPage {
                messages,
                next,
                head,
                needs_epoch,
            },
            other => return Err(self.wrong(&other)),
        };
        let cap = limit.clamp(1, MAX_FETCH_MESSAGES) as usize;
        let mut last: Option<Seq> = None;
        let mut ok = page.messages.len() <= cap && page.next >= from && page.next <= page.head;
        for m in &page.messages {
            ok &= m.seq >= from && last.is_none_or(|l| m.seq > l) && m.seq < page.head;
            last = Some(m.seq);
        }
        if let Some(l) = last {
            ok &= page.next > l;
        }
        if !ok {
            let err = RelayError::Protocol(t!("net-protocol-incoherent-page"));
            self.shared.fail(err.clone());
            return Err(err);
        }
        Ok(page)
    }

    /// Stores a blob in `group` (the connection must be authorized for its current
    /// epoch); returns its id once the relay has made it durable. The id is SHA-256 of
    /// `data`: a relay that names another fails the connection.
    pub async fn put_blob(&self, group: GroupId, data: Vec<u8>) -> Result<BlobId, RelayError> {
        let want = blob_id(&data);
        match self.request(Request::PutBlob { group, data }).await? {
            Response::BlobPut { id } if id == want => Ok(id),
            Response::BlobPut { .. } => {
                let err = RelayError::Protocol(t!("net-protocol-wrong-blob-id"));
                self.shared.fail(err.clone());
                Err(err)
            }
            other => Err(self.wrong(&other)),
        }
    }

    /// Reads a blob of `group` (the connection must be authorized for its current
    /// epoch). Returns it only if its SHA-256 is `id`: anything else is
    /// [`RelayError::BlobMismatch`].
    pub async fn get_blob(&self, group: GroupId, id: BlobId) -> Result<Vec<u8>, RelayError> {
        match self.request(Request::GetBlob { group, id }).await? {
            Response::Blob { data } if blob_id(&data) == id => Ok(data),
            Response::Blob { .. } => Err(RelayError::BlobMismatch),
            other => Err(self.wrong(&other)),
        }
    }

    /// Sets how long the relay keeps `group`'s messages and blobs (0: the relay's
    /// default); returns the effective value (never more than the relay's limit).
    pub async fn set_retention(&self, group: GroupId, secs: u64) -> Result<u64, RelayError> {
        match self.request(Request::SetRetention { group, secs }).await? {
            Response::RetentionSet { secs } => Ok(secs),
            other => Err(self.wrong(&other)),
        }
    }

    /// Proves one of the group's admin keys on this connection.
    pub async fn admin_auth(
        &self,
        group: GroupId,
        key: &AdminKey,
    ) -> Result<AdminInfo, RelayError> {
        let nonce = match self.request(Request::Challenge).await? {
            Response::Challenge { nonce } => nonce,
            other => return Err(self.wrong(&other)),
        };
        let signature = key.sign_auth(&nonce, &group);
        match self
            .request(Request::AdminAuth {
                group,
                key: key.public(),
                nonce,
                signature,
            })
            .await?
        {
            Response::AdminAuthorized {
                keys,
                commit_lock_until,
                retention_asked,
            } => Ok(AdminInfo {
                keys,
                commit_lock_until,
                retention_asked,
            }),
            other => Err(self.wrong(&other)),
        }
    }

    /// Replaces the group's admin keys (admin connection).
    pub async fn set_admins(
        &self,
        group: GroupId,
        keys: Vec<AdminPublicKey>,
    ) -> Result<(), RelayError> {
        match self.request(Request::SetAdmins { group, keys }).await? {
            Response::AdminsSet => Ok(()),
            other => Err(self.wrong(&other)),
        }
    }

    /// Voids the commit at `seq` and everything after it (admin connection); returns the
    /// repair record's sequence number.
    pub async fn void_from(
        &self,
        group: GroupId,
        seq: Seq,
        lock_secs: u64,
    ) -> Result<Seq, RelayError> {
        match self
            .request(Request::VoidFrom {
                group,
                seq,
                lock_secs,
            })
            .await?
        {
            Response::Voided { seq } => Ok(seq),
            other => Err(self.wrong(&other)),
        }
    }

    /// Replaces the access key of the current epoch (admin connection); returns the
    /// repair record's sequence number.
    pub async fn reset_access_key(
        &self,
        group: GroupId,
        epoch: Epoch,
        access_key: AccessPublicKey,
        lock_secs: u64,
    ) -> Result<Seq, RelayError> {
        match self
            .request(Request::ResetAccessKey {
                group,
                epoch,
                access_key,
                lock_secs,
            })
            .await?
        {
            Response::AccessKeyReset { seq } => Ok(seq),
            other => Err(self.wrong(&other)),
        }
    }

    /// Subscribes to new messages of `group`; returns the head, where pushes start.
    pub async fn subscribe(&self, group: GroupId) -> Result<Seq, RelayError> {
        match self.request(Request::Subscribe { group }).await? {
            Response::Subscribed { head } => Ok(head),
            other => Err(self.wrong(&other)),
        }
    }

    /// Closes the connection: fails whatever is in flight with [`RelayError::Closed`],
    /// sends a WebSocket close and waits (briefly) for both tasks to end.
    pub async fn close(&self) {
        self.shared
            .fail(RelayError::Closed(t!("net-closed-by-client")));
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::debug!("relay connection task did not end in time");
            }
        }
    }

    /// The failure that ended this connection, if it has ended.
    pub fn failure(&self) -> Option<RelayError> {
        lock(&self.shared.state).failure.clone()
    }

    /// Whether the connection has ended (failed or closed).
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).failure.is_some()
    }

    /// How many `Error` frames with id 0 (not attributable to a request) the relay sent.
    pub fn unattributed_errors(&self) -> u64 {
        self.shared.unattributed.load(Ordering::Relaxed)
    }

    /// The code of the last `Error` frame with id 0, if any.
    pub fn last_unattributed_error(&self) -> Option<ErrorCode> {
        *lock(&self.shared.last_unattributed)
    }

    /// The largest frame this connection will send (the relay's limit, at most
    /// [`MAX_FRAME`]).
    pub fn max_frame(&self) -> usize {
        self.max_out
    }

    /// An answer of the right kind for its request but not what a helper expected
    /// (cannot happen with a checked answer; kept so that no path panics).
    fn wrong(&self, answer: &Response) -> RelayError {
        let err = RelayError::Protocol(t!(
            "net-protocol-unexpected-answer",
            answer = response_name(answer)
        ));
        self.shared.fail(err.clone());
        err
    }
}

impl Drop for RelayConnection {
    fn drop(&mut self) {
        self.shared.dead.send_replace(true);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for RelayConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConnection")
            .field("failure", &self.failure())
            .finish_non_exhaustive()
    }
}

/// Resolves once the connection is marked dead (or the marker is gone).
async fn died(dead: &mut watch::Receiver<bool>) {
    let _ = dead.wait_for(|d| *d).await.is_ok();
}

async fn write_loop(
    mut sink: SplitSink<Ws, WsMessage>,
    mut out_rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut dead = shared.dead.subscribe();
    loop {
        tokio::select! {
            biased;
            _ = died(&mut dead) => break,
            cmd = out_rx.recv() => match cmd {
                Some(Outgoing::Frame(bytes)) => {
                    if let Err(e) = sink.send(WsMessage::binary(bytes)).await {
                        shared.fail(RelayError::Closed(e.to_string()));
                        break;
                    }
                }
                None => break,
            },
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
}

async fn read_loop(mut stream: SplitStream<Ws>, shared: Arc<Shared>, push_tx: mpsc::Sender<Push>) {
    let mut dead = shared.dead.subscribe();
    loop {
        let msg = tokio::select! {
            biased;
            _ = died(&mut dead) => return,
            msg = stream.next() => msg,
        };
        let result = match msg {
            None => Err(RelayError::Closed(t!("net-closed-by-relay"))),
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(e))) => Err(
                RelayError::Protocol(t!("net-protocol-over-limit", why = e.to_string())),
            ),
            Some(Err(e)) => Err(RelayError::Closed(e.to_string())),
            Some(Ok(WsMessage::Binary(bytes))) => handle_frame(&shared, &push_tx, &bytes),
            Some(Ok(WsMessage::Text(_))) => Err(RelayError::Protocol(t!("net-protocol-text"))),
            Some(Ok(WsMessage::Close(_))) => Err(RelayError::Closed(t!("net-closed-by-relay"))),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => Ok(()),
        };
        if let Err(err) = result {
            shared.fail(err);
            return;
        }
    }
}

fn handle_frame(
    shared: &Shared,
    push_tx: &mpsc::Sender<Push>,
    bytes: &[u8],
) -> Result<(), RelayError> {
    let frame = RelayFrame::decode(bytes)
        .map_err(|e| RelayError::Protocol(t!("net-protocol-undecodable", why = e.to_string())))?;
    match frame {
        RelayFrame::Response { id, body } => shared.complete(id, Ok(body)),
        RelayFrame::Error { id: 0, code } => {
            shared.unattributed.fetch_add(1, Ordering::Relaxed);
            *lock(&shared.last_unattributed) = Some(code);
            tracing::warn!(code = code.slug(), "relay reported an error for no request");
            Ok(())
        }
        RelayFrame::Error { id, code } => shared.complete(id, Err(RelayError::Relay(code))),
        RelayFrame::Push(push) => match push_tx.try_send(push) {
            Ok(()) => Ok(()),
            // Nobody listens any more: pushes are not wanted.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(RelayError::PushOverflow),
        },
    }
}

mod answers;
#[cfg(test)]
mod tests;
