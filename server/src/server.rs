//! Listeners, the accept loop, background tasks and graceful shutdown.
//!
//! Shutdown order: stop accepting; tell every connection to finish (answers already made
//! durable still go out, then a close frame); wait for them (bounded); then stop the
//! flusher, which drains its queue and syncs the store one last time.

use crate::config::Settings;
use crate::connection::{self, ConnConfig};
use crate::http::{self, Route};
use crate::metrics::Metrics;
use crate::relay::{self, Policy, Relay};
use crate::store::sled_store::SledStore;
use crate::tls::{self, Tls};
use kith_i18n::t;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for connections to finish before it stops anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running relay.
pub struct Running {
    /// The WebSocket / health address actually bound.
    pub addr: SocketAddr,
    /// The metrics address actually bound, if any.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Starts a graceful shutdown.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the relay has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await?
    }
}

/// Opens the store, loads the TLS files if any, binds the listeners and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let tls = match &settings.tls {
        Some(files) => Some(Arc::new(Tls::new(files.clone())?)),
        None => None,
    };
    let store = SledStore::open(&settings.data)
        .map_err(|e| crate::admin::open_error(&settings.data, &e))?;
    let metrics = Arc::new(Metrics::new());
    let relay = Arc::new(Relay::new(
        Arc::new(store),
        metrics.clone(),
        Policy {
            retention: settings.retention,
            max_group_bytes: settings.max_group_bytes,
            max_group_messages: settings.max_group_messages,
            max_group_blob_bytes: settings.max_group_blob_bytes,
            max_invite_bytes: settings.max_invite_bytes,
            creation_secret: settings.creation_secret.clone(),
        },
    )?);
    let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
        anyhow::anyhow!(t!(
            "relay-cannot-listen",
            addr = settings.listen.to_string(),
            error = e.to_string()
        ))
    })?;
    let addr = listener.local_addr()?;
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "plain ws:// on a non-loopback address: put a TLS reverse proxy in front, \
             or use --tls-cert and --tls-key"
        );
    }
    let metrics_listener = match settings.metrics_listen {
        Some(a) => Some(TcpListener::bind(a).await.map_err(|e| {
            anyhow::anyhow!(t!(
                "relay-cannot-listen-metrics",
                addr = a.to_string(),
                error = e.to_string()
            ))
        })?),
        None => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;

    let shutdown = CancellationToken::new();
    let stop_flusher = CancellationToken::new();
    let flusher = tokio::spawn(relay.clone().run_flusher({
        let t = stop_flusher.clone();
        async move { t.cancelled().await }
    }));
    let retention = tokio::spawn(run_retention(
        relay.clone(),
        settings.retention_interval,
        shutdown.clone(),
    ));
    tls::reload_on_sighup(tls.clone(), shutdown.clone());
    if let Some(l) = metrics_listener {
        tokio::spawn(serve_metrics(l, metrics.clone(), shutdown.clone()));
    }
    let cfg = Arc::new(ConnConfig {
        handshake_timeout: settings.handshake_timeout,
        idle_timeout: settings.idle_timeout,
        write_timeout: settings.write_timeout,
        rate: settings.rate,
        burst: settings.burst,
        outbox_bytes: settings.outbox_bytes,
    });
    let max_connections = settings.max_connections;
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        let tracker = TaskTracker::new();
        accept_loop(listener, relay, cfg, tls, max_connections, &tracker, &token).await;
        tracker.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections did not finish in time; stopping anyway");
        }
        let _ = retention.await;
        stop_flusher.cancel();
        flusher.await?;
        tracing::info!("stopped; all acknowledged writes are flushed");
        Ok(())
    });
    Ok(Running {
        addr,
        metrics_addr,
        shutdown,
        task,
    })
}

async fn accept_loop(
    listener: TcpListener,
    relay: Arc<Relay>,
    cfg: Arc<ConnConfig>,
    tls: Option<Arc<Tls>>,
    max_connections: usize,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(max_connections));
    let next_id = AtomicU64::new(1);
    loop {
        // Wait for a free slot before accepting: beyond the cap, new connections wait
        // in the kernel's backlog instead of costing memory here.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = shutdown.cancelled() => return,
        };
        let socket = tokio::select! {
            r = listener.accept() => r,
            () = shutdown.cancelled() => return,
        };
        // The peer address is dropped here: the relay never stores or logs it.
        let socket: TcpStream = match socket {
            Ok((s, _peer)) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let relay = relay.clone();
        let cfg = cfg.clone();
        let token = shutdown.clone();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tracker.spawn(async move {
            relay.metrics.connections.inc();
            relay.metrics.connections_total.inc();
            match acceptor {
                None => connection::serve(socket, id, relay.clone(), cfg, token).await,
                Some(acceptor) => serve_tls(acceptor, socket, id, &relay, cfg, token).await,
            }
            relay.metrics.connections.dec();
            drop(permit);
        });
    }
}

/// Does the TLS handshake, then serves the connection. The handshake counts against the
/// connection's handshake timeout: what it used is taken off the time left for the HTTP
/// upgrade and `Hello`.
async fn serve_tls(
    acceptor: tokio_rustls::TlsAcceptor,
    socket: TcpStream,
    id: u64,
    relay: &Arc<Relay>,
    cfg: Arc<ConnConfig>,
    token: CancellationToken,
) {
    let started = tokio::time::Instant::now();
    let mut stream = tokio::select! {
        r = tokio::time::timeout(cfg.handshake_timeout, acceptor.accept(socket)) => match r {
            Ok(Ok(s)) => s,
            // Failed handshakes are routine on a public port (scanners, wrong names):
            // count them, log nothing.
            _ => {
                relay.metrics.reject("tls");
                return;
            }
        },
        () = token.cancelled() => return,
    };
    let left = cfg.handshake_timeout.saturating_sub(started.elapsed());
    let write_timeout = cfg.write_timeout;
    let cfg = Arc::new(ConnConfig {
        handshake_timeout: left,
        ..(*cfg).clone()
    });
    connection::serve(&mut stream, id, relay.clone(), cfg, token).await;
    // End TLS properly (close_notify), so that clients can tell a complete answer (such
    // as /healthz) from a truncated one.
    let _ = tokio::time::timeout(write_timeout, stream.shutdown()).await;
}

/// The retention task: a full run every `every` (all groups, invite slots), and in
/// between short runs whenever a shredding key falls due or a group with a short retention
/// may have something expired (at most as far apart as that group's shredding period), so
/// that a group keeping messages for 10 s has them deleted and unreadable within about a
/// second of their expiry.
async fn run_retention(relay: Arc<Relay>, every: Duration, shutdown: CancellationToken) {
    // Never busier than this, whatever the keys say.
    const MIN_GAP: Duration = Duration::from_millis(250);
    // A full run at start: a relay that was down may have much to delete.
    let mut next_full = tokio::time::Instant::now();
    loop {
        let r = relay.clone();
        let due = tokio::task::spawn_blocking(move || r.retention_due_in(relay::now_secs()))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let wake = match due {
            // Key periods end on whole seconds: wake just after the second turns.
            Some(d) => (tokio::time::Instant::now() + d.max(MIN_GAP)).min(next_full),
            None => next_full,
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = relay.retention_changed.notified() => continue,
            () = shutdown.cancelled() => return,
        }
        let full = tokio::time::Instant::now() >= next_full;
        if full {
            next_full = tokio::time::Instant::now() + every;
        }
        let r = relay.clone();
        let run = tokio::task::spawn_blocking(move || {
            let now = relay::now_secs();
            if full {
                r.run_retention(now)
            } else {
                r.run_short_retention(now).map(|removed| (removed, 0))
            }
        })
        .await;
        // The removals, durable (the flusher syncs them with the writes of the moment).
        let run = match run {
            Ok(Ok(done)) => Ok(relay.flush().await.map(|()| done).map_err(|e| {
                crate::store::StoreError::Engine(format!("flush after retention: {e}"))
            })),
            other => other,
        };
        match run {
            Ok(Ok((removed, slots))) if removed.messages + removed.blobs + slots > 0 => {
                tracing::info!(
                    messages = removed.messages,
                    blobs = removed.blobs,
                    invites = slots,
                    "retention removed expired data"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}

async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        let (mut socket, _) = tokio::select! {
            r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
            () = shutdown.cancelled() => return,
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let work = async {
                let head = http::read_head(&mut socket, "/none").await?;
                match head.route {
                    Route::Metrics => {
                        let body = metrics.render();
                        http::respond(
                            &mut socket,
                            200,
                            "text/plain; version=0.0.4; charset=utf-8",
                            body.as_bytes(),
                        )
                        .await
                    }
                    Route::Health => http::respond(&mut socket, 200, "text/plain", b"ok\n").await,
                    _ => http::respond(&mut socket, 404, "text/plain", b"not found\n").await,
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
        });
    }
}
