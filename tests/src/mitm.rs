//! A hostile relay, made of the real relay and a man in the middle.
//!
//! [`Mitm`] listens on loopback, accepts WebSocket clients, and connects each one to the
//! real relay. Every frame in either direction passes through a [`Rule`] that may pass it,
//! drop it, replace it, or add frames — so a test can make the relay (or the network)
//! lie in any way a seized relay could: flip bits, replay, reorder, withhold, inject,
//! substitute. Clients are pointed at [`Mitm::ws_url`] instead of the relay.

use futures_util::{SinkExt, StreamExt};
use kith_protocol::{ClientFrame, RelayFrame};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Which way a frame travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From a client to the relay.
    ToRelay,
    /// From the relay to a client.
    ToClient,
}

/// Decides what happens to one binary frame of connection `conn` travelling `dir`: the
/// frames returned are sent in its place, each to the side it names (none: dropped;
/// the same frame the same way: passed; a frame back the other way: the man in the
/// middle answers in the relay's (or the client's) name).
pub type Rule = Arc<dyn Fn(u64, Dir, Vec<u8>) -> Vec<(Dir, Vec<u8>)> + Send + Sync>;

/// The rule that forwards everything unchanged.
pub fn pass() -> Rule {
    Arc::new(|_, dir, frame| vec![(dir, frame)])
}

/// A rule that only rewrites decodable relay frames to clients; everything else passes.
pub fn on_relay_frames(
    f: impl Fn(u64, RelayFrame) -> Vec<RelayFrame> + Send + Sync + 'static,
) -> Rule {
    Arc::new(move |conn, dir, frame| {
        if dir == Dir::ToClient
            && let Ok(decoded) = RelayFrame::decode(&frame)
        {
            return f(conn, decoded)
                .iter()
                .map(|r| (Dir::ToClient, r.encode()))
                .collect();
        }
        vec![(dir, frame)]
    })
}

/// A rule that only rewrites decodable client frames to the relay; everything else passes.
pub fn on_client_frames(
    f: impl Fn(u64, ClientFrame) -> Vec<ClientFrame> + Send + Sync + 'static,
) -> Rule {
    Arc::new(move |conn, dir, frame| {
        if dir == Dir::ToRelay
            && let Ok(decoded) = ClientFrame::decode(&frame)
        {
            return f(conn, decoded)
                .iter()
                .map(|c| (Dir::ToRelay, c.encode()))
                .collect();
        }
        vec![(dir, frame)]
    })
}

/// The man in the middle.
pub struct Mitm {
    addr: SocketAddr,
    rule: Arc<Mutex<Rule>>,
    task: tokio::task::JoinHandle<()>,
}

fn ws_config() -> WebSocketConfig {
    let max = kith_protocol::limits::MAX_FRAME;
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

impl Mitm {
    /// Starts a proxy in front of the relay at `upstream` (`ws://…/v1`).
    pub async fn start(upstream: String) -> Mitm {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mitm");
        let addr = listener.local_addr().expect("mitm addr");
        let rule: Arc<Mutex<Rule>> = Arc::new(Mutex::new(pass()));
        let next = Arc::new(AtomicU64::new(1));
        let shared = rule.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let rule = shared.clone();
                let conn = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let Ok(client) =
                        tokio_tungstenite::accept_async_with_config(socket, Some(ws_config()))
                            .await
                    else {
                        return;
                    };
                    let Ok((relay, _)) = tokio_tungstenite::connect_async_with_config(
                        &upstream,
                        Some(ws_config()),
                        true,
                    )
                    .await
                    else {
                        return;
                    };
                    let (mut c_tx, mut c_rx) = client.split();
                    let (mut r_tx, mut r_rx) = relay.split();
                    // One writer per side; both readers may send to either.
                    let (to_client, mut client_q) =
                        tokio::sync::mpsc::unbounded_channel::<Message>();
                    let (to_relay, mut relay_q) = tokio::sync::mpsc::unbounded_channel::<Message>();
                    let route = move |rule: &Arc<Mutex<Rule>>, dir: Dir, m: Message| {
                        let out: Vec<(Dir, Message)> = match m {
                            Message::Binary(b) => {
                                let f = rule.lock().expect("rule lock").clone();
                                f(conn, dir, b.to_vec())
                                    .into_iter()
                                    .map(|(d, v)| (d, Message::Binary(v.into())))
                                    .collect()
                            }
                            other => vec![(dir, other)],
                        };
                        out
                    };
                    let (rule_up, to_client_up, to_relay_up) =
                        (rule.clone(), to_client.clone(), to_relay.clone());
                    let up = async move {
                        while let Some(Ok(m)) = c_rx.next().await {
                            if matches!(m, Message::Close(_)) {
                                break;
                            }
                            for (d, m) in route(&rule_up, Dir::ToRelay, m) {
                                let q = if d == Dir::ToRelay {
                                    &to_relay_up
                                } else {
                                    &to_client_up
                                };
                                let _ = q.send(m);
                            }
                        }
                    };
                    let down = async move {
                        while let Some(Ok(m)) = r_rx.next().await {
                            if matches!(m, Message::Close(_)) {
                                break;
                            }
                            for (d, m) in route(&rule, Dir::ToClient, m) {
                                let q = if d == Dir::ToRelay {
                                    &to_relay
                                } else {
                                    &to_client
                                };
                                let _ = q.send(m);
                            }
                        }
                    };
                    let write_client = async move {
                        while let Some(m) = client_q.recv().await {
                            if c_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                    };
                    let write_relay = async move {
                        while let Some(m) = relay_q.recv().await {
                            if r_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::select! {
                        () = up => {}
                        () = down => {}
                        () = write_client => {}
                        () = write_relay => {}
                    }
                });
            }
        });
        Mitm { addr, rule, task }
    }

    /// The URL clients use instead of the relay's.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }

    /// The `host:port` part, as invite strings carry it.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the rule (for connections open now and later).
    pub fn set_rule(&self, rule: Rule) {
        *self.rule.lock().expect("rule lock") = rule;
    }
}

impl Drop for Mitm {
    fn drop(&mut self) {
        self.task.abort();
    }
}
