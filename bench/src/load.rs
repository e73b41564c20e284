//! The load generator: simulated members over loopback WebSockets, speaking
//! `kith-protocol` frames, the same against the relay and the baseline.
//!
//! Every member is one connection that said `Hello`, proved access to its group's epoch
//! (`Challenge` + `Auth`, signed with the group's access key) and subscribed. Member 0 of
//! each group also posts. One sender per group means the relay numbers a group's posts in
//! the order they were written, so the `k`-th post since setup gets sequence number
//! `base + k`: receivers find the time it was written from the sequence number in the
//! push, without touching the (encrypted) payload.
//!
//! - **Saturation** is closed-loop on delivery: each group keeps `window` messages in
//!   flight (posted but not yet received by all its members), pipelined on the sender's
//!   connection; deliveries (pushes received, the sender's own included) are counted over
//!   a fixed interval after a warm-up.
//! - **Latency** is open-loop: each group's sender posts on a fixed schedule whatever the
//!   answers, at a total offered load given in deliveries/s; the latency of a delivery
//!   runs from the moment the post was written to the socket to the moment the push was
//!   read, for every member.

use crate::procs::cpu_secs;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use kith_protocol::access::AccessKey;
use kith_protocol::limits::MAX_FRAME;
use kith_protocol::{
    ClientFrame, GroupId, PROTOCOL_VERSION, PostKind, RelayFrame, Request, Response, Seq,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;
type Sink = SplitSink<Ws, WsMessage>;
type Source = SplitStream<Ws>;

/// Connections set up at the same time.
const SETUP_CONCURRENCY: usize = 64;
/// Groups one connection creates (the relay allows 64 per connection).
const CREATES_PER_CONN: usize = 64;

/// Groups × members.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub groups: usize,
    pub members: usize,
}

impl Scenario {
    pub fn name(&self) -> String {
        format!("{}x{}", self.groups, self.members)
    }
}

/// Opens a WebSocket to `addr` and says `Hello`. `buf` is the client's read buffer.
pub async fn connect(addr: SocketAddr, buf: usize) -> Result<Ws> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let cfg = WebSocketConfig::default()
        .read_buffer_size(buf)
        .write_buffer_size(buf)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let url = format!("ws://{addr}{}", kith_protocol::WS_PATH);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(cfg)).await?;
    request(
        &mut ws,
        1,
        Request::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await?;
    Ok(ws)
}

/// Sends one request and waits for its answer (skipping pushes and other answers).
pub async fn request(ws: &mut Ws, id: u32, request: Request) -> Result<Response> {
    ws.send(WsMessage::Binary(
        ClientFrame { id, request }.encode().into(),
    ))
    .await?;
    answer(ws, id).await
}

async fn answer(ws: &mut Ws, id: u32) -> Result<Response> {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(b))) => match RelayFrame::decode(&b)? {
                RelayFrame::Response { id: i, body } if i == id => return Ok(body),
                RelayFrame::Error { id: i, code } if i == id || i == 0 => {
                    bail!("request {id}: {}", code.slug())
                }
                _ => continue,
            },
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection closed"),
        }
    }
}

/// Authorizes `ws` for epoch 0 of `group`.
pub async fn authorize(ws: &mut Ws, group: GroupId, key: &AccessKey) -> Result<()> {
    let Response::Challenge { nonce } = request(ws, 2, Request::Challenge).await? else {
        bail!("expected a challenge");
    };
    let signature = key.sign_auth(&nonce, &group, 0);
    match request(
        ws,
        3,
        Request::Auth {
            group,
            epoch: 0,
            nonce,
            signature,
        },
    )
    .await?
    {
        Response::Authorized { .. } => Ok(()),
        other => bail!("expected Authorized, got {other:?}"),
    }
}

/// A member: connected, authorized, subscribed. Returns the head it was told.
pub async fn join(
    addr: SocketAddr,
    group: GroupId,
    key: &AccessKey,
    buf: usize,
) -> Result<(Ws, Seq)> {
    let mut ws = connect(addr, buf).await?;
    authorize(&mut ws, group, key).await?;
    match request(&mut ws, 4, Request::Subscribe { group }).await? {
        Response::Subscribed { head } => Ok((ws, head)),
        other => bail!("expected Subscribed, got {other:?}"),
    }
}

/// Creates `n` groups, each with a fresh access key.
pub async fn create_groups(addr: SocketAddr, n: usize) -> Result<Vec<(GroupId, Arc<AccessKey>)>> {
    let mut set = JoinSet::new();
    for chunk in 0..n.div_ceil(CREATES_PER_CONN) {
        let count = CREATES_PER_CONN.min(n - chunk * CREATES_PER_CONN);
        set.spawn(async move {
            let mut ws = connect(addr, 16 * 1024).await?;
            let keys: Vec<AccessKey> = (0..count).map(|_| AccessKey::random()).collect();
            for (i, key) in keys.iter().enumerate() {
                let frame = ClientFrame {
                    id: 100 + i as u32,
                    request: Request::CreateGroup {
                        access_key: key.public(),
                        creation_secret: Vec::new(),
                        admin_key: [0; 32],
                    },
                };
                ws.feed(WsMessage::Binary(frame.encode().into())).await?;
            }
            ws.flush().await?;
            let mut out = Vec::with_capacity(count);
            for (i, key) in keys.into_iter().enumerate() {
                match answer(&mut ws, 100 + i as u32).await? {
                    Response::GroupCreated { group } => out.push((group, Arc::new(key))),
                    other => bail!("expected GroupCreated, got {other:?}"),
                }
            }
            let _ = ws.close(None).await;
            Ok::<_, anyhow::Error>(out)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    Ok(all)
}

/// The sequence number of an encoded `RelayFrame::Push(Push::Message{..})`, read from its
/// first bytes without decoding (or copying) the payload: variant 2, variant 0, the
/// 16-byte group, then the message's `seq` as a varint.
pub fn push_seq(b: &[u8]) -> Option<Seq> {
    if b.len() < 19 || b[0] != 2 || b[1] != 0 {
        return None;
    }
    let mut seq = 0u64;
    for (i, byte) in b[18..].iter().take(10).enumerate() {
        seq |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(seq);
        }
    }
    None
}

/// Shared counters and the monotonic clock (nanoseconds since the generator started).
pub struct Shared {
    start: Instant,
    /// Pushes received.
    pub deliveries: AtomicU64,
    /// Error frames received.
    pub errors: AtomicU64,
    /// Member connections that ended.
    pub closed: AtomicU64,
    rec_from: AtomicU64,
    rec_until: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            deliveries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            rec_from: AtomicU64::new(u64::MAX),
            rec_until: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_nanos() as u64
    }
}

/// Per group: when each in-flight message was written and how many members still have to
/// receive it.
pub struct Track {
    members: u32,
    base: AtomicU64,
    sent: Box<[AtomicU64]>,
    remaining: Box<[AtomicU32]>,
    posted: AtomicU64,
    completed: AtomicU64,
    notify: Notify,
}

impl Track {
    fn new(members: usize, ring: usize) -> Self {
        Self {
            members: members as u32,
            base: AtomicU64::new(0),
            sent: (0..ring).map(|_| AtomicU64::new(0)).collect(),
            remaining: (0..ring).map(|_| AtomicU32::new(0)).collect(),
            posted: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            notify: Notify::new(),
        }
    }

    fn ring(&self) -> u64 {
        self.sent.len() as u64
    }

    /// Posted and not yet received by every member.
    pub fn in_flight(&self) -> u64 {
        self.posted.load(Ordering::Acquire) - self.completed.load(Ordering::Acquire)
    }

    /// The sequence number the relay will give the next post.
    pub fn head(&self) -> Seq {
        self.base.load(Ordering::Acquire) + self.posted.load(Ordering::Acquire)
    }

    /// Records the next post as written at `now` (only the group's sender calls this).
    fn post(&self, now: u64) {
        let k = self.posted.load(Ordering::Relaxed);
        let i = (k % self.ring()) as usize;
        self.sent[i].store(now, Ordering::Relaxed);
        self.remaining[i].store(self.members, Ordering::Relaxed);
        self.posted.store(k + 1, Ordering::Release);
    }

    /// A member received `seq`: when it was written, if it is one of ours.
    fn delivered(&self, seq: Seq) -> Option<u64> {
        let k = seq.checked_sub(self.base.load(Ordering::Relaxed))?;
        if k >= self.posted.load(Ordering::Acquire) {
            return None;
        }
        let i = (k % self.ring()) as usize;
        let sent = self.sent[i].load(Ordering::Relaxed);
        if self.remaining[i].fetch_sub(1, Ordering::AcqRel) == 1 {
            self.completed.fetch_add(1, Ordering::AcqRel);
            self.notify.notify_one();
        }
        Some(sent)
    }
}

/// A group of the world.
pub struct Group {
    pub id: GroupId,
    pub key: Arc<AccessKey>,
    pub track: Arc<Track>,
}

/// Latency figures of one open-loop run, in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// CPU the server used during the measurement, in cores.
    pub server_cores: f64,
    /// CPU the load generator used, in cores.
    pub generator_cores: f64,
    pub offered: f64,
    pub achieved: f64,
    pub samples: usize,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// Posts skipped because too many were in flight (the server was past its knee).
    pub skipped: u64,
    /// Messages not delivered to everyone within the drain timeout.
    pub undelivered: u64,
}

/// A saturation run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Saturation {
    /// Deliveries/s.
    pub rate: f64,
    /// CPU the server used, in cores.
    pub server_cores: f64,
    /// CPU the load generator used, in cores.
    pub generator_cores: f64,
}

/// A catch-up burst: members reconnect at once and fetch their backlog.
#[derive(Clone, Debug, Default)]
pub struct CatchUp {
    pub members: usize,
    pub backlog: u64,
    pub messages: u64,
    pub secs: f64,
}

/// A scenario set up on one server: every member connected and subscribed.
pub struct World {
    pub addr: SocketAddr,
    /// The server's process id (for its CPU time).
    pub pid: u32,
    pub scenario: Scenario,
    pub groups: Vec<Group>,
    senders: Vec<Option<Sink>>,
    idle_sinks: Vec<Sink>,
    receivers: Vec<tokio::task::JoinHandle<()>>,
    samples: Vec<Arc<Mutex<Vec<u64>>>>,
    pub shared: Arc<Shared>,
    pool: Arc<Vec<Bytes>>,
}

/// Ring entries across all groups: bounds how far an open-loop run may fall behind.
const RING_TOTAL: usize = 1 << 20;

impl World {
    /// Creates the groups and connects every member.
    pub async fn setup(
        addr: SocketAddr,
        pid: u32,
        scenario: Scenario,
        pool: Arc<Vec<Bytes>>,
    ) -> Result<Self> {
        let created = create_groups(addr, scenario.groups).await?;
        let ring = (RING_TOTAL / scenario.groups).max(1024);
        let groups: Vec<Group> = created
            .into_iter()
            .map(|(id, key)| Group {
                id,
                key,
                track: Arc::new(Track::new(scenario.members, ring)),
            })
            .collect();
        let limit = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut set = JoinSet::new();
        for (g, group) in groups.iter().enumerate() {
            for m in 0..scenario.members {
                let (id, key, limit) = (group.id, group.key.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await?;
                    let (ws, head) = join(addr, id, &key, 64 * 1024)
                        .await
                        .with_context(|| format!("member {m} of group {g}"))?;
                    Ok::<_, anyhow::Error>((g, m, ws, head))
                });
            }
        }
        let shared = Arc::new(Shared::new());
        let mut world = World {
            addr,
            pid,
            scenario,
            senders: (0..groups.len()).map(|_| None).collect(),
            groups,
            idle_sinks: Vec::new(),
            receivers: Vec::new(),
            samples: Vec::new(),
            shared,
            pool,
        };
        while let Some(r) = set.join_next().await {
            let (g, m, ws, head) = r??;
            let track = world.groups[g].track.clone();
            track.base.fetch_max(head, Ordering::AcqRel);
            let (sink, source) = ws.split();
            if m == 0 {
                world.senders[g] = Some(sink);
            } else {
                world.idle_sinks.push(sink);
            }
            let samples = Arc::new(Mutex::new(Vec::new()));
            world.samples.push(samples.clone());
            world.receivers.push(tokio::spawn(receive(
                source,
                track,
                world.shared.clone(),
                samples,
            )));
        }
        Ok(world)
    }

    fn check(&self) -> Result<()> {
        let closed = self.shared.closed.load(Ordering::Relaxed);
        let errors = self.shared.errors.load(Ordering::Relaxed);
        if closed > 0 || errors > 0 {
            bail!("{closed} member connections closed, {errors} error frames");
        }
        Ok(())
    }

    /// Waits until every posted message reached every member; false on timeout.
    pub async fn drain(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.groups.iter().all(|g| g.track.in_flight() == 0) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Deliveries/s with `window` messages in flight per group.
    pub async fn saturate(
        &mut self,
        window: u64,
        warm: Duration,
        measure: Duration,
    ) -> Result<Saturation> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let sink = self.senders[g].take().context("sender in use")?;
            handles.push(tokio::spawn(saturate_sender(
                sink,
                group.id,
                group.track.clone(),
                window.min(group.track.ring() - 1),
                stop.clone(),
                self.pool.clone(),
                self.shared.clone(),
            )));
        }
        tokio::time::sleep(warm).await;
        let (c0, t0) = (
            self.shared.deliveries.load(Ordering::Relaxed),
            Instant::now(),
        );
        let (s0, g0) = (cpu_secs(self.pid), cpu_secs(0));
        tokio::time::sleep(measure).await;
        let (c1, t1) = (
            self.shared.deliveries.load(Ordering::Relaxed),
            Instant::now(),
        );
        let (s1, g1) = (cpu_secs(self.pid), cpu_secs(0));
        stop.store(true, Ordering::Relaxed);
        for (g, h) in handles.into_iter().enumerate() {
            self.senders[g] = Some(h.await??);
        }
        if !self.drain(Duration::from_secs(20)).await {
            bail!("saturation run did not drain");
        }
        self.check()?;
        let secs = (t1 - t0).as_secs_f64();
        Ok(Saturation {
            rate: (c1 - c0) as f64 / secs,
            server_cores: (s1 - s0) / secs,
            generator_cores: (g1 - g0) / secs,
        })
    }

    /// Open-loop run at `deliveries_per_s`, recording latencies of posts written during
    /// `measure` after `warm`.
    pub async fn open_loop(
        &mut self,
        deliveries_per_s: f64,
        warm: Duration,
        measure: Duration,
    ) -> Result<Latency> {
        for s in &self.samples {
            s.lock().expect("samples").clear();
        }
        let groups = self.groups.len();
        let per_group = deliveries_per_s / (self.scenario.members * groups) as f64;
        let interval = Duration::from_secs_f64(1.0 / per_group);
        let start = Instant::now() + Duration::from_millis(50);
        let (from, until) = (start + warm, start + warm + measure);
        self.shared
            .rec_from
            .store(self.shared.at(from), Ordering::Release);
        self.shared
            .rec_until
            .store(self.shared.at(until), Ordering::Release);
        let mut handles = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let sink = self.senders[g].take().context("sender in use")?;
            // Spread the groups' schedules evenly over one interval.
            let first = start + interval.mul_f64(g as f64 / groups as f64);
            handles.push(tokio::spawn(open_loop_sender(
                sink,
                group.id,
                group.track.clone(),
                first,
                interval,
                until,
                self.pool.clone(),
                self.shared.clone(),
            )));
        }
        let (c0, s0, g0) = {
            tokio::time::sleep_until(from.into()).await;
            let c = self.shared.deliveries.load(Ordering::Relaxed);
            (c, cpu_secs(self.pid), cpu_secs(0))
        };
        tokio::time::sleep_until(until.into()).await;
        let c1 = self.shared.deliveries.load(Ordering::Relaxed);
        let (s1, g1) = (cpu_secs(self.pid), cpu_secs(0));
        let mut skipped = 0;
        for (g, h) in handles.into_iter().enumerate() {
            let (sink, s) = h.await??;
            self.senders[g] = Some(sink);
            skipped += s;
        }
        self.drain(Duration::from_secs(10)).await;
        let undelivered = self.groups.iter().map(|g| g.track.in_flight()).sum();
        self.shared.rec_from.store(u64::MAX, Ordering::Release);
        let mut all: Vec<u64> = Vec::new();
        for s in &self.samples {
            all.append(&mut s.lock().expect("samples"));
        }
        self.check()?;
        all.sort_unstable();
        let pct = |p: f64| -> u64 {
            if all.is_empty() {
                0
            } else {
                all[((all.len() - 1) as f64 * p).round() as usize]
            }
        };
        Ok(Latency {
            server_cores: (s1 - s0) / measure.as_secs_f64(),
            generator_cores: (g1 - g0) / measure.as_secs_f64(),
            offered: deliveries_per_s,
            achieved: (c1 - c0) as f64 / measure.as_secs_f64(),
            samples: all.len(),
            p50: pct(0.5),
            p99: pct(0.99),
            p999: pct(0.999),
            max: all.last().copied().unwrap_or(0),
            skipped,
            undelivered,
        })
    }

    /// Every member reconnects at once (new connections, as after being offline) and
    /// fetches the last `backlog` messages of its group.
    pub async fn catch_up(&self, backlog: u64) -> Result<CatchUp> {
        let started = Instant::now();
        let mut set = JoinSet::new();
        for group in &self.groups {
            let head = group.track.head();
            let from = head
                .saturating_sub(backlog)
                .max(group.track.base.load(Ordering::Relaxed));
            for _ in 0..self.scenario.members {
                let (id, key, addr) = (group.id, group.key.clone(), self.addr);
                set.spawn(async move {
                    let mut ws = connect(addr, 64 * 1024).await?;
                    authorize(&mut ws, id, &key).await?;
                    let mut from = from;
                    let mut got = 0u64;
                    let mut req = 10;
                    while from < head {
                        req += 1;
                        match request(
                            &mut ws,
                            req,
                            Request::Fetch {
                                group: id,
                                from,
                                limit: 256,
                            },
                        )
                        .await?
                        {
                            Response::Messages { messages, next, .. } => {
                                if messages.is_empty() {
                                    bail!("fetch returned nothing below the head");
                                }
                                got += messages.len() as u64;
                                from = next;
                            }
                            other => bail!("expected Messages, got {other:?}"),
                        }
                    }
                    let _ = ws.close(None).await;
                    Ok::<_, anyhow::Error>(got)
                });
            }
        }
        let mut messages = 0;
        while let Some(r) = set.join_next().await {
            messages += r??;
        }
        Ok(CatchUp {
            members: self.groups.len() * self.scenario.members,
            backlog,
            messages,
            secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Closes every connection.
    pub async fn close(mut self) {
        for s in self.senders.iter_mut().flatten() {
            let _ = s.close().await;
        }
        for s in &mut self.idle_sinks {
            let _ = s.close().await;
        }
        for r in self.receivers {
            r.abort();
        }
    }
}

fn post_frame(group: GroupId, id: u32, payload: &Bytes) -> WsMessage {
    let frame = ClientFrame {
        id,
        request: Request::Post {
            group,
            epoch: 0,
            kind: PostKind::Application,
            payload: payload.to_vec(),
        },
    };
    WsMessage::Binary(frame.encode().into())
}

async fn saturate_sender(
    mut sink: Sink,
    group: GroupId,
    track: Arc<Track>,
    window: u64,
    stop: Arc<AtomicBool>,
    pool: Arc<Vec<Bytes>>,
    shared: Arc<Shared>,
) -> Result<Sink> {
    let mut id = 100u32;
    while !stop.load(Ordering::Relaxed) {
        let mut fed = false;
        while track.in_flight() < window {
            id = id.wrapping_add(1).max(100);
            let frame = post_frame(group, id, &pool[id as usize % pool.len()]);
            track.post(shared.now());
            sink.feed(frame).await?;
            fed = true;
        }
        if fed {
            sink.flush().await?;
        }
        let _ = tokio::time::timeout(Duration::from_millis(20), track.notify.notified()).await;
    }
    Ok(sink)
}

#[allow(clippy::too_many_arguments)]
async fn open_loop_sender(
    mut sink: Sink,
    group: GroupId,
    track: Arc<Track>,
    first: Instant,
    interval: Duration,
    until: Instant,
    pool: Arc<Vec<Bytes>>,
    shared: Arc<Shared>,
) -> Result<(Sink, u64)> {
    let mut id = 100u32;
    let mut k = 0u64;
    let mut skipped = 0;
    let cap = track.ring() - 1;
    loop {
        let due = first + interval.mul_f64(k as f64);
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let now = Instant::now();
        let mut fed = false;
        loop {
            let due = first + interval.mul_f64(k as f64);
            if due > now || due >= until {
                break;
            }
            k += 1;
            if track.in_flight() >= cap {
                skipped += 1;
                continue;
            }
            id = id.wrapping_add(1).max(100);
            let frame = post_frame(group, id, &pool[id as usize % pool.len()]);
            track.post(shared.now());
            sink.feed(frame).await?;
            fed = true;
        }
        if fed {
            sink.flush().await?;
        }
    }
    Ok((sink, skipped))
}

async fn receive(
    mut source: Source,
    track: Arc<Track>,
    shared: Arc<Shared>,
    samples: Arc<Mutex<Vec<u64>>>,
) {
    while let Some(msg) = source.next().await {
        let b = match msg {
            Ok(WsMessage::Binary(b)) => b,
            Ok(WsMessage::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if let Some(seq) = push_seq(&b) {
            let now = shared.now();
            shared.deliveries.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = track.delivered(seq)
                && sent >= shared.rec_from.load(Ordering::Relaxed)
                && sent < shared.rec_until.load(Ordering::Relaxed)
            {
                samples
                    .lock()
                    .expect("samples")
                    .push(now.saturating_sub(sent));
            }
        } else if b.first() == Some(&1) {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    shared.closed.fetch_add(1, Ordering::Relaxed);
}

/// Connects `conns` idle members over `groups` new groups, for the memory measurement.
/// Returns the connections (kept open by the caller) and one group key per group.
pub async fn idle_members(
    addr: SocketAddr,
    conns: usize,
    groups: usize,
) -> Result<(Vec<Ws>, Vec<(GroupId, Arc<AccessKey>)>)> {
    let created = create_groups(addr, groups).await?;
    let limit = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut set = JoinSet::new();
    for i in 0..conns {
        let (id, key) = created[i % groups].clone();
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let (ws, _) = join(addr, id, &key, 4096).await?;
            Ok::<_, anyhow::Error>(ws)
        });
    }
    let mut out = Vec::with_capacity(conns);
    while let Some(r) = set.join_next().await {
        out.push(r?.map_err(|e| anyhow!("idle member: {e:#}"))?);
    }
    Ok((out, created))
}

/// Posts one message to `group` on `ws` (already authorized) and waits for `Posted`.
pub async fn post_one(ws: &mut Ws, group: GroupId, payload: &Bytes) -> Result<()> {
    match request(
        ws,
        9,
        Request::Post {
            group,
            epoch: 0,
            kind: PostKind::Application,
            payload: payload.to_vec(),
        },
    )
    .await?
    {
        Response::Posted { .. } => Ok(()),
        other => bail!("expected Posted, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::{Message, MessageKind, Push};

    #[test]
    fn push_seq_reads_the_encoding() {
        for seq in [1u64, 127, 128, 300, 1 << 40] {
            let frame = RelayFrame::Push(Push::Message {
                group: GroupId([9; 16]),
                message: Message {
                    seq,
                    epoch: 3,
                    kind: MessageKind::Application,
                    stored_at: 5,
                    payload: vec![1; 1024],
                },
            });
            assert_eq!(push_seq(&frame.encode()), Some(seq));
        }
        let answer = RelayFrame::Response {
            id: 1,
            body: Response::Posted { seq: 4 },
        };
        assert_eq!(push_seq(&answer.encode()), None);
    }
}
