//! One client connection: the HTTP head, the WebSocket upgrade, the `Hello`, then a loop
//! that answers requests, forwards pushes and enforces the per-connection limits.
//!
//! The loop is one task that owns the socket and all connection state, so there is no
//! locking here. It `select!`s over: shutdown, being cut off by the hub, answers that
//! waited for a flush, queued pushes, the next client frame, and the idle deadline.
//! Reading stops while [`MAX_IN_FLIGHT`] answers, or writes of [`MAX_IN_FLIGHT_BYTES`],
//! wait for a flush, which is the back-pressure for a client that pipelines posts or
//! blobs faster than the disk syncs (and bounds what one connection holds in memory).

use crate::coalesce::{self, Coalesce};
use crate::http::{self, Prefixed, Route};
use crate::hub::{self, Outbox};
use crate::relay::{Caller, GroupInfo, Pending, Relay};
use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use kith_protocol::frame::AdminPublicKey;
use kith_protocol::limits::{MAX_FRAME, NONCE_LEN};
use kith_protocol::{
    ClientFrame, Epoch, ErrorCode, GroupId, PROTOCOL_VERSION, RelayFrame, Request, RequestId,
    Response, WS_PATH, access,
};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;

/// Answers a connection may have waiting for a flush before the relay stops reading it.
pub const MAX_IN_FLIGHT: usize = 256;
/// Payload and blob bytes a connection may have waiting for a flush before the relay
/// stops reading it (checked before each read, so at most one frame more).
pub const MAX_IN_FLIGHT_BYTES: usize = 16 << 20;
/// Outstanding challenge nonces per connection; the oldest is forgotten first.
const MAX_NONCES: usize = 8;
/// (group, epoch) authorizations per connection.
const MAX_AUTHORIZATIONS: usize = 4096;
/// Groups one connection may be authorized for or subscribed to.
const MAX_GROUPS: usize = 64;
/// Groups and invites one connection may create.
const MAX_CREATES: u32 = 64;
/// Undecodable frames tolerated before the connection is closed.
const MAX_BAD_FRAMES: u32 = 16;
/// Invite lookups that find nothing, before the connection is closed: codes are not
/// guessable, so a client that misses this often is guessing.
const MAX_INVITE_MISSES: u32 = 16;
/// Rate-limited frames in a row: the answer to the last of them comes with the close.
const MAX_RATE_STRIKES: u32 = 64;

/// Per-connection settings.
#[derive(Clone, Debug)]
pub struct ConnConfig {
    /// Upgrade + Hello deadline.
    pub handshake_timeout: Duration,
    /// Idle deadline.
    pub idle_timeout: Duration,
    /// Per-write deadline.
    pub write_timeout: Duration,
    /// Sustained frames per second.
    pub rate: u32,
    /// Burst of frames.
    pub burst: u32,
    /// Push queue in bytes.
    pub outbox_bytes: usize,
}

/// Frames written before one flush when several are ready (pushes queued, answers
/// made durable by the same flush).
const MAX_WRITE_BATCH: usize = 64;

/// The WebSocket settings: messages and frames capped just above the largest legitimate
/// frame, a small read buffer (an idle connection holds it). The relay writes its data
/// frames itself ([`send_all`]); tungstenite writes only control frames, straight through
/// (write buffer 0) into the connection's [`Coalesce`], which gathers a batch into one
/// `send(2)` and frees its buffer at every flush.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(2 * MAX_FRAME)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: burst as f64,
            last: Instant::now(),
            rate: rate as f64,
            burst: burst as f64,
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// An answer that waits for a flush, with the bytes its write holds until then.
type Answer = Pin<Box<dyn Future<Output = (RelayFrame, usize)> + Send>>;

enum Reply {
    Now(RelayFrame),
    /// Answer once durable; the write holds this many bytes until then.
    Later(Answer, usize),
    /// Answer, then close the connection.
    Close(RelayFrame, CloseCode),
}

fn ok(id: RequestId, body: Response) -> Reply {
    Reply::Now(RelayFrame::Response { id, body })
}

fn err(id: RequestId, code: ErrorCode) -> RelayFrame {
    RelayFrame::Error { id, code }
}

fn later<T: Send + 'static>(
    id: RequestId,
    pending: Pending<T>,
    body: impl FnOnce(T) -> Response + Send + 'static,
) -> Reply {
    later_sized(id, pending, 0, body)
}

/// [`later`] for a write that holds `bytes` until its flush.
fn later_sized<T: Send + 'static>(
    id: RequestId,
    pending: Pending<T>,
    bytes: usize,
    body: impl FnOnce(T) -> Response + Send + 'static,
) -> Reply {
    let answer = Box::pin(async move {
        let frame = match pending.done.await {
            Ok(Ok(())) => RelayFrame::Response {
                id,
                body: body(pending.value),
            },
            Ok(Err(code)) => err(id, code),
            Err(_) => err(id, ErrorCode::Internal),
        };
        (frame, bytes)
    });
    Reply::Later(answer, bytes)
}

/// The epochs of one group a connection proved, as of the group's `resets`-th repair:
/// a later repair voids them all.
#[derive(Default)]
struct GroupAuth {
    resets: u64,
    epochs: BTreeSet<Epoch>,
}

impl GroupAuth {
    fn allows(&self, epoch: Epoch, resets: u64) -> bool {
        self.resets == resets && self.epochs.contains(&epoch)
    }
}

struct Conn {
    id: u64,
    relay: Arc<Relay>,
    outbox: Outbox,
    nonces: VecDeque<[u8; NONCE_LEN]>,
    auth: HashMap<GroupId, GroupAuth>,
    authorizations: usize,
    /// Admin keys proved, by group.
    admin: HashMap<GroupId, AdminPublicKey>,
    subs: HashSet<GroupId>,
    creates: u32,
    invite_misses: u32,
}

/// Serves one accepted TCP (or TLS) stream until it closes.
pub async fn serve<S>(
    mut stream: S,
    conn_id: u64,
    relay: Arc<Relay>,
    cfg: Arc<ConnConfig>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
    let head = match tokio::time::timeout_at(deadline, http::read_head(&mut stream, WS_PATH)).await
    {
        Ok(Ok(head)) => head,
        _ => {
            relay.metrics.reject("handshake");
            return;
        }
    };
    let key = match head.route {
        Route::Upgrade(key) => key,
        Route::Health => {
            let (status, body): (u16, &[u8]) = if shutdown.is_cancelled() {
                (503, b"shutting down\n")
            } else {
                (200, b"ok\n")
            };
            let _ = tokio::time::timeout(
                cfg.write_timeout,
                http::respond(&mut stream, status, "text/plain", body),
            )
            .await;
            return;
        }
        Route::Metrics => {
            let _ = http::respond(&mut stream, 404, "text/plain", b"not here\n").await;
            return;
        }
        Route::Reject(status) => {
            relay.metrics.reject("http");
            let _ = tokio::time::timeout(
                cfg.write_timeout,
                http::respond(&mut stream, status, "text/plain", b"kith relay: use /v1\n"),
            )
            .await;
            return;
        }
    };
    if tokio::time::timeout_at(deadline, http::accept_upgrade(&mut stream, &key))
        .await
        .map_or(true, |r| r.is_err())
    {
        return;
    }
    let stream = Coalesce::new(Prefixed::new(head.rest, stream));
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config())).await;

    // The first frame must be Hello, within the same deadline.
    let hello = tokio::time::timeout_at(deadline, ws.next()).await;
    let first = match hello {
        Ok(Some(Ok(WsMessage::Binary(b)))) => ClientFrame::decode(&b).ok(),
        Ok(Some(Ok(_))) => None,
        Ok(None) => return,
        Ok(Some(Err(e))) => {
            use tokio_tungstenite::tungstenite::Error;
            relay.metrics.reject("handshake");
            let code = match e {
                Error::Capacity(_) => CloseCode::Size,
                _ => CloseCode::Protocol,
            };
            close(&mut ws, code, cfg.write_timeout).await;
            return;
        }
        Err(_) => {
            relay.metrics.reject("handshake");
            close(&mut ws, CloseCode::Policy, cfg.write_timeout).await;
            return;
        }
    };
    let reply = match first {
        Some(ClientFrame {
            id,
            request: Request::Hello { version },
        }) => {
            if version == PROTOCOL_VERSION {
                Ok(RelayFrame::Response {
                    id,
                    body: Response::Hello {
                        version,
                        max_frame: MAX_FRAME as u32,
                    },
                })
            } else {
                Err(err(id, ErrorCode::UnsupportedVersion))
            }
        }
        Some(frame) => Err(err(frame.id, ErrorCode::HelloFirst)),
        None => Err(err(0, ErrorCode::BadFrame)),
    };
    relay.metrics.frames_in.inc();
    match reply {
        Ok(frame) => {
            if send(&mut ws, &relay, &frame, cfg.write_timeout)
                .await
                .is_err()
            {
                return;
            }
        }
        Err(frame) => {
            if let RelayFrame::Error { code, .. } = &frame {
                relay.metrics.reject(code.slug());
            }
            let _ = send(&mut ws, &relay, &frame, cfg.write_timeout).await;
            close(&mut ws, CloseCode::Policy, cfg.write_timeout).await;
            return;
        }
    }

    let (outbox, outbox_rx) = hub::outbox(cfg.outbox_bytes);
    let mut conn = Conn {
        id: conn_id,
        relay: relay.clone(),
        outbox,
        nonces: VecDeque::new(),
        auth: HashMap::new(),
        authorizations: 0,
        admin: HashMap::new(),
        subs: HashSet::new(),
        creates: 0,
        invite_misses: 0,
    };
    tracing::debug!(conn = conn_id, "session started");
    conn.run(&mut ws, outbox_rx, &cfg, &shutdown).await;
    for group in &conn.subs {
        relay.hub.unsubscribe(group, conn_id);
    }
    tracing::debug!(conn = conn_id, "session ended");
}

/// Writes one frame and flushes, within `timeout`.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<Coalesce<S>>,
    relay: &Relay,
    frame: &RelayFrame,
    timeout: Duration,
) -> Result<(), ()> {
    send_all(
        ws,
        relay,
        &mut vec![coalesce::binary_frame(&frame.encode())],
        timeout,
    )
    .await
}

/// Writes `frames` (whole WebSocket frames from [`coalesce::binary_frame`]) and flushes
/// once, all within `timeout`.
///
/// Data frames bypass tungstenite's writer: a push is framed once for every subscriber,
/// and tungstenite's write buffer, which keeps the capacity of the largest frame it ever
/// held, never holds a fetch answer. tungstenite still writes the control frames (pong,
/// close); those and ours reach [`Coalesce`] as whole frames, so they never interleave.
async fn send_all<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<Coalesce<S>>,
    relay: &Relay,
    frames: &mut Vec<Bytes>,
    timeout: Duration,
) -> Result<(), ()> {
    let n = frames.len() as u64;
    let write = async {
        for frame in frames.drain(..) {
            ws.get_mut().write_all(&frame).await.map_err(|_| ())?;
        }
        ws.flush().await.map_err(|_| ())
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(Ok(())) => {
            relay.metrics.frames_out.inc_by(n);
            Ok(())
        }
        _ => Err(()),
    }
}

async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    code: CloseCode,
    timeout: Duration,
) {
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(timeout, async {
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        // Read on until the client's close answer: closing a socket with unread bytes
        // makes the kernel reset the connection, and the client would lose the close
        // code and the answers just sent.
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

impl Conn {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut WebSocketStream<Coalesce<S>>,
        outbox_rx: hub::OutboxRx,
        cfg: &ConnConfig,
        shutdown: &CancellationToken,
    ) {
        let relay = self.relay.clone();
        let hub::OutboxRx {
            items: mut outbox_items,
            cut,
        } = outbox_rx;
        let mut pending: FuturesUnordered<Answer> = FuturesUnordered::new();
        let mut pending_bytes = 0usize;
        let mut bucket = TokenBucket::new(cfg.rate, cfg.burst);
        let mut bad_frames = 0u32;
        let mut rate_strikes = 0u32;
        let idle = tokio::time::sleep(cfg.idle_timeout);
        tokio::pin!(idle);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // Answers already made durable still go out.
                    while let Some((frame, _)) = pending.next().await {
                        if send(ws, &relay, &frame, cfg.write_timeout).await.is_err() {
                            return;
                        }
                    }
                    close(ws, CloseCode::Away, cfg.write_timeout).await;
                    return;
                }
                () = cut.cut_off() => {
                    relay.metrics.reject("slow_consumer");
                    close(ws, CloseCode::Policy, cfg.write_timeout).await;
                    return;
                }
                Some((frame, n)) = pending.next(), if !pending.is_empty() => {
                    // Answers made durable by the same flush are ready together.
                    pending_bytes -= n;
                    let mut batch: Vec<Bytes> = vec![coalesce::binary_frame(&frame.encode())];
                    while batch.len() < MAX_WRITE_BATCH
                        && let Some(Some((frame, n))) = pending.next().now_or_never()
                    {
                        pending_bytes -= n;
                        batch.push(coalesce::binary_frame(&frame.encode()));
                    }
                    if send_all(ws, &relay, &mut batch, cfg.write_timeout).await.is_err() {
                        return;
                    }
                }
                Some(item) = outbox_items.recv() => {
                    // Pushes queued meanwhile go out with this one. (A local vector: a
                    // kept one would hold its capacity on every idle connection. Sized
                    // at once: growing it was a tenth of the relay's allocations.)
                    let mut batch: Vec<Bytes> =
                        Vec::with_capacity((outbox_items.len() + 1).min(MAX_WRITE_BATCH));
                    let mut next = Some(item);
                    while let Some(item) = next.take() {
                        if self.subs.contains(&item.group)
                            && match item.resets {
                                None => true,
                                Some(r) => self.auth.get(&item.group).is_some_and(|a| a.allows(item.epoch, r)),
                            }
                        {
                            batch.push(item.frame.clone());
                        }
                        if batch.len() < MAX_WRITE_BATCH {
                            next = outbox_items.try_recv();
                        }
                    }
                    if !batch.is_empty()
                        && send_all(ws, &relay, &mut batch, cfg.write_timeout).await.is_err()
                    {
                        return;
                    }
                }
                msg = ws.next(), if pending.len() < MAX_IN_FLIGHT
                    && pending_bytes < MAX_IN_FLIGHT_BYTES => {
                    idle.as_mut().reset(tokio::time::Instant::now() + cfg.idle_timeout);
                    let bytes = match msg {
                        None => return,
                        Some(Err(e)) => {
                            use tokio_tungstenite::tungstenite::Error;
                            if matches!(e, Error::Capacity(_)) {
                                relay.metrics.reject("too_large");
                                close(ws, CloseCode::Size, cfg.write_timeout).await;
                            } else {
                                relay.metrics.reject("protocol");
                                close(ws, CloseCode::Protocol, cfg.write_timeout).await;
                            }
                            return;
                        }
                        Some(Ok(WsMessage::Binary(b))) => Some(b),
                        Some(Ok(WsMessage::Text(_))) => None,
                        Some(Ok(WsMessage::Close(_))) => return,
                        // Pings are answered by tungstenite; they count as activity.
                        Some(Ok(_)) => continue,
                    };
                    relay.metrics.frames_in.inc();
                    let frame = bytes.as_deref().map(ClientFrame::decode);
                    let reply = if !bucket.take() {
                        rate_strikes += 1;
                        relay.metrics.reject(ErrorCode::RateLimited.slug());
                        let id = match &frame { Some(Ok(f)) => f.id, _ => 0 };
                        if rate_strikes >= MAX_RATE_STRIKES {
                            Reply::Close(err(id, ErrorCode::RateLimited), CloseCode::Policy)
                        } else {
                            Reply::Now(err(id, ErrorCode::RateLimited))
                        }
                    } else {
                        rate_strikes = 0;
                        match frame {
                            Some(Ok(frame)) => self.handle(frame),
                            Some(Err(e)) => {
                                bad_frames += 1;
                                relay.metrics.reject(e.code().slug());
                                // A frame that parsed but broke a limit names its request.
                                let id = match e {
                                    kith_protocol::DecodeError::OverLimit(id) => id,
                                    _ => 0,
                                };
                                if bad_frames >= MAX_BAD_FRAMES {
                                    Reply::Close(err(id, e.code()), CloseCode::Policy)
                                } else {
                                    Reply::Now(err(id, e.code()))
                                }
                            }
                            None => {
                                bad_frames += 1;
                                relay.metrics.reject(ErrorCode::BadFrame.slug());
                                if bad_frames >= MAX_BAD_FRAMES {
                                    Reply::Close(err(0, ErrorCode::BadFrame), CloseCode::Unsupported)
                                } else {
                                    Reply::Now(err(0, ErrorCode::BadFrame))
                                }
                            }
                        }
                    };
                    match reply {
                        Reply::Now(frame) => {
                            if send(ws, &relay, &frame, cfg.write_timeout).await.is_err() {
                                return;
                            }
                        }
                        Reply::Later(answer, n) => {
                            pending_bytes += n;
                            pending.push(answer);
                        }
                        Reply::Close(frame, code) => {
                            // Answers already made durable go out before the last word.
                            while let Some((answer, _)) = pending.next().await {
                                if send(ws, &relay, &answer, cfg.write_timeout).await.is_err() {
                                    return;
                                }
                            }
                            let _ = send(ws, &relay, &frame, cfg.write_timeout).await;
                            close(ws, code, cfg.write_timeout).await;
                            return;
                        }
                    }
                }
                () = &mut idle => {
                    close(ws, CloseCode::Away, cfg.write_timeout).await;
                    return;
                }
            }
        }
    }

    /// Whether this connection holds the current epoch of some group: the bar for
    /// leaving invitations on the relay.
    fn is_member_somewhere(&self) -> bool {
        self.auth.iter().any(|(g, a)| {
            self.relay
                .group_info(g)
                .is_ok_and(|i| a.allows(i.epoch, i.resets))
        })
    }

    fn authorized_answer(&self, id: RequestId, info: &GroupInfo) -> Reply {
        ok(
            id,
            Response::Authorized {
                current_epoch: info.epoch,
                head: info.head,
                retention_secs: info.retention_secs,
            },
        )
    }

    /// Spends `nonce` (whatever happens next: one signature, one try).
    fn spend_nonce(&mut self, nonce: &[u8; NONCE_LEN]) -> bool {
        match self.nonces.iter().position(|n| n == nonce) {
            Some(pos) => {
                self.nonces.remove(pos);
                true
            }
            None => false,
        }
    }

    /// A request that creates something here (a group, an invite slot, a knock): at most
    /// [`MAX_CREATES`] per connection, counted when the relay took it.
    fn create<T: Send + 'static>(
        &mut self,
        id: RequestId,
        make: impl FnOnce() -> Result<Pending<T>, ErrorCode>,
        body: impl FnOnce(T) -> Response + Send + 'static,
    ) -> Reply {
        if self.creates >= MAX_CREATES {
            return self.reject(id, ErrorCode::TooMany);
        }
        match make() {
            Ok(p) => {
                self.creates += 1;
                later(id, p, body)
            }
            Err(code) => self.reject(id, code),
        }
    }

    fn reject(&self, id: RequestId, code: ErrorCode) -> Reply {
        self.relay.metrics.reject(code.slug());
        Reply::Now(err(id, code))
    }

    /// [`Conn::reject`] for a request that needs an authorization (or admin key) of
    /// `group` this connection holds. `no_such_group` means the group was deleted since
    /// it was proved: the connection forgets what it held of it, and answers as for any
    /// group it never proved, `instead` (`unauthorized`, or `forbidden` for admin
    /// requests), so that a deletion looks like nothing new to a client.
    fn refused(
        &mut self,
        id: RequestId,
        group: &GroupId,
        code: ErrorCode,
        instead: ErrorCode,
    ) -> Reply {
        if code != ErrorCode::NoSuchGroup {
            return self.reject(id, code);
        }
        self.auth.remove(group);
        self.admin.remove(group);
        if self.subs.remove(group) {
            self.relay.hub.unsubscribe(group, self.id);
        }
        self.reject(id, instead)
    }

    fn invite_miss(&mut self, id: RequestId, code: ErrorCode) -> Reply {
        self.relay.metrics.reject(code.slug());
        if code == ErrorCode::NoSuchInvite {
            self.invite_misses += 1;
            if self.invite_misses >= MAX_INVITE_MISSES {
                return Reply::Close(err(id, code), CloseCode::Policy);
            }
        }
        Reply::Now(err(id, code))
    }

    fn handle(&mut self, frame: ClientFrame) -> Reply {
        let id = frame.id;
        let relay = self.relay.clone();
        match frame.request {
            Request::Hello { .. } => self.reject(id, ErrorCode::HelloFirst),
            Request::Ping => ok(id, Response::Pong),
            Request::Challenge => {
                let nonce: [u8; NONCE_LEN] = rand::random();
                if self.nonces.len() == MAX_NONCES {
                    self.nonces.pop_front();
                }
                self.nonces.push_back(nonce);
                ok(id, Response::Challenge { nonce })
            }
            Request::CreateGroup {
                access_key,
                creation_secret,
                admin_key,
            } => self.create(
                id,
                || relay.create_group(access_key, &creation_secret, admin_key),
                |group| Response::GroupCreated { group },
            ),
            Request::CreateGroupAt {
                group,
                epoch,
                first_seq,
                access_key,
                creation_secret,
                admin_keys,
                retention_secs,
            } => self.create(
                id,
                || {
                    relay.create_group_at(
                        group,
                        epoch,
                        first_seq,
                        access_key,
                        &creation_secret,
                        &admin_keys,
                        retention_secs,
                    )
                },
                |group| Response::GroupCreated { group },
            ),
            Request::Auth {
                group,
                epoch,
                nonce,
                signature,
            } => {
                if !self.spend_nonce(&nonce) {
                    return self.reject(id, ErrorCode::BadNonce);
                }
                let info = match relay.group_info(&group) {
                    Ok(info) => info,
                    Err(code) => return self.reject(id, code),
                };
                // The signature is checked even when the connection already holds this
                // authorization: an answer is a statement that this proof was good.
                let key = match relay.access_key(&group, epoch) {
                    Ok(Some(key)) => key,
                    Ok(None) => return self.reject(id, ErrorCode::Unauthorized),
                    Err(code) => return self.reject(id, code),
                };
                if !access::verify_auth(&key, &nonce, &group, epoch, &signature) {
                    return self.reject(id, ErrorCode::AuthFailed);
                }
                if self
                    .auth
                    .get(&group)
                    .is_some_and(|a| a.allows(epoch, info.resets))
                {
                    return self.authorized_answer(id, &info);
                }
                if self.authorizations >= MAX_AUTHORIZATIONS
                    || (!self.auth.contains_key(&group) && self.auth.len() >= MAX_GROUPS)
                {
                    return self.reject(id, ErrorCode::TooMany);
                }
                let entry = self.auth.entry(group).or_default();
                if entry.resets != info.resets {
                    // Proved before a repair: void.
                    entry.resets = info.resets;
                    entry.epochs.clear();
                }
                entry.epochs.insert(epoch);
                self.authorizations += 1;
                self.authorized_answer(id, &info)
            }
            Request::AdminAuth {
                group,
                key,
                nonce,
                signature,
            } => {
                if !self.spend_nonce(&nonce) {
                    return self.reject(id, ErrorCode::BadNonce);
                }
                if !self.admin.contains_key(&group) && self.admin.len() >= MAX_GROUPS {
                    return self.reject(id, ErrorCode::TooMany);
                }
                let keys = match relay.admin_keys(&group) {
                    Ok(keys) => keys,
                    Err(code) => return self.reject(id, code),
                };
                if !keys.contains(&key) {
                    return self.reject(id, ErrorCode::Forbidden);
                }
                if !access::verify_admin_auth(&key, &nonce, &group, &signature) {
                    return self.reject(id, ErrorCode::AuthFailed);
                }
                let info = match relay.group_info(&group) {
                    Ok(info) => info,
                    Err(code) => return self.reject(id, code),
                };
                self.admin.insert(group, key);
                ok(
                    id,
                    Response::AdminAuthorized {
                        keys,
                        commit_lock_until: info.commit_lock_until,
                        retention_asked: info.retention_asked,
                    },
                )
            }
            Request::SetAdmins { group, keys } => {
                let auth = self.auth.get(&group);
                let authorized = |e: Epoch, r: u64| auth.is_some_and(|a| a.allows(e, r));
                let caller = Caller {
                    admin: self.admin.get(&group),
                    authorized: &authorized,
                };
                match relay.set_admins(&group, keys, caller) {
                    Ok(p) => later(id, p, |()| Response::AdminsSet),
                    Err(code) => self.reject(id, code),
                }
            }
            Request::VoidFrom {
                group,
                seq,
                lock_secs,
            } => {
                let Some(key) = self.admin.get(&group) else {
                    return self.reject(id, ErrorCode::Forbidden);
                };
                match relay.void_from(&group, seq, lock_secs, key) {
                    Ok(p) => later(id, p, |seq| Response::Voided { seq }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Forbidden),
                }
            }
            Request::ResetAccessKey {
                group,
                epoch,
                access_key,
                lock_secs,
            } => {
                let Some(key) = self.admin.get(&group) else {
                    return self.reject(id, ErrorCode::Forbidden);
                };
                match relay.reset_access_key(&group, epoch, access_key, lock_secs, key) {
                    Ok(p) => later(id, p, |seq| Response::AccessKeyReset { seq }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Forbidden),
                }
            }
            Request::DeleteGroup { group } => {
                let Some(key) = self.admin.get(&group) else {
                    return self.reject(id, ErrorCode::Forbidden);
                };
                match relay.delete_group(&group, key) {
                    Ok(p) => later(id, p, |()| Response::GroupDeleted),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Forbidden),
                }
            }
            Request::Post {
                group,
                epoch,
                kind,
                payload,
            } => {
                let Some(auth) = self.auth.get(&group).filter(|a| a.epochs.contains(&epoch)) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                let n = payload.len();
                match relay.post(
                    &group,
                    epoch,
                    auth.resets,
                    self.admin.get(&group),
                    kind,
                    payload,
                ) {
                    Ok(p) => later_sized(id, p, n, |seq| Response::Posted { seq }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            // Blobs and retention need the group's current epoch: a connection that
            // proved only older ones gets `stale_epoch` (the relay checks under the
            // group's lock), one that proved none `unauthorized`.
            Request::PutBlob { group, data } => {
                let Some(auth) = self.auth.get(&group) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                let n = data.len();
                match relay.put_blob(&group, data, &|e, r| auth.allows(e, r)) {
                    Ok(p) => later_sized(id, p, n, |id| Response::BlobPut { id }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            Request::GetBlob { group, id: blob } => {
                let Some(auth) = self.auth.get(&group) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                match relay.get_blob(&group, &blob, &|e, r| auth.allows(e, r)) {
                    Ok(data) => ok(id, Response::Blob { data }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            Request::SetRetention { group, secs } => {
                let auth = self.auth.get(&group);
                let authorized = |e: Epoch, r: u64| auth.is_some_and(|a| a.allows(e, r));
                let caller = Caller {
                    admin: self.admin.get(&group),
                    authorized: &authorized,
                };
                match relay.set_retention(&group, secs, caller) {
                    Ok(p) => later(id, p, |secs| Response::RetentionSet { secs }),
                    Err(code) => self.reject(id, code),
                }
            }
            Request::Fetch { group, from, limit } => {
                let Some(auth) = self.auth.get(&group) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                match relay.fetch(&group, from, limit, &|e, r| auth.allows(e, r)) {
                    Ok(body) => ok(id, body),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            Request::Subscribe { group } => {
                if !self.auth.contains_key(&group) {
                    return self.reject(id, ErrorCode::Unauthorized);
                }
                if !self.subs.contains(&group) && self.subs.len() >= MAX_GROUPS {
                    return self.reject(id, ErrorCode::TooMany);
                }
                // Subscribe first, then read the head: a message is either below the
                // head (fetch it) or published after the subscription (pushed).
                relay.hub.subscribe(group, self.id, self.outbox.clone());
                self.subs.insert(group);
                match relay.head(&group) {
                    Ok((_, head)) => ok(id, Response::Subscribed { head }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            Request::Unsubscribe { group } => {
                relay.hub.unsubscribe(&group, self.id);
                self.subs.remove(&group);
                ok(id, Response::Unsubscribed)
            }
            Request::PutInvite {
                slot,
                manage_hash,
                ttl_secs,
                invitation,
            } => {
                if !self.is_member_somewhere() {
                    return self.reject(id, ErrorCode::Unauthorized);
                }
                self.create(
                    id,
                    || relay.put_invite(&slot, manage_hash, ttl_secs, invitation),
                    |expires_at| Response::InvitePut { expires_at },
                )
            }
            Request::GetInvite { slot } => match relay.get_invite(&slot) {
                Ok(body) => ok(id, body),
                Err(code) => self.invite_miss(id, code),
            },
            Request::AnswerInvite { slot, answer } => match relay.answer_invite(&slot, answer) {
                Ok(p) => later(id, p, |()| Response::Answered),
                Err(code) => self.invite_miss(id, code),
            },
            Request::GetAnswer { slot, manage_token } => {
                match relay.get_answer(&slot, &manage_token) {
                    Ok(body) => ok(id, body),
                    Err(code) => self.invite_miss(id, code),
                }
            }
            Request::PutWelcome {
                slot,
                manage_token,
                welcome,
            } => match relay.put_welcome(&slot, &manage_token, welcome) {
                Ok(p) => later(id, p, |()| Response::WelcomePut),
                Err(code) => self.invite_miss(id, code),
            },
            Request::GetWelcome { slot } => match relay.get_welcome(&slot) {
                Ok(body) => ok(id, body),
                Err(code) => self.invite_miss(id, code),
            },
            Request::DeleteInvite { slot, manage_token } => {
                match relay.delete_invite(&slot, &manage_token) {
                    Ok(p) => later(id, p, |()| Response::InviteDeleted),
                    Err(code) => self.invite_miss(id, code),
                }
            }
            Request::Knock {
                group,
                slot,
                manage_hash,
                knock,
            } => {
                // No authorization: the knocker's epoch is the one the relay forgot.
                self.create(
                    id,
                    || relay.knock(&group, &slot, manage_hash, knock),
                    |expires_at| Response::Knocked { expires_at },
                )
            }
            Request::GetKnocks { group } => {
                let Some(auth) = self.auth.get(&group) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                match relay.get_knocks(&group, &|e, r| auth.allows(e, r)) {
                    Ok(knocks) => ok(id, Response::Knocks { knocks }),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
            Request::DeleteKnock { group, key } => {
                let Some(auth) = self.auth.get(&group) else {
                    return self.reject(id, ErrorCode::Unauthorized);
                };
                match relay.delete_knock(&group, &key, &|e, r| auth.allows(e, r)) {
                    Ok(p) => later(id, p, |()| Response::KnockDeleted),
                    Err(code) => self.refused(id, &group, code, ErrorCode::Unauthorized),
                }
            }
        }
    }
}
