//! The baseline: a minimal in-memory tokio-tungstenite fan-out server speaking the same
//! frames as the relay (`kith-protocol`), so that one load generator drives both.
//!
//! No storage, no crypto (`Auth` is accepted unchecked), no limits: a post gets the next
//! sequence number of its group, is encoded once as a `Push`, cloned into every
//! subscriber's unbounded queue and answered at once. It keeps the last [`LOG`] messages
//! of each group in memory so that the catch-up scenario can `Fetch` from it.
//!
//! It is built to be the transport's limit, not a strawman: one reader and one writer
//! task per connection; answers and pushes share the connection's unbounded queue; the
//! writer `feed`s everything queued and flushes once; tungstenite's default buffers
//! (128 KiB read and write: the write buffer gathers many frames into one `send(2)`);
//! `TCP_NODELAY`. Measured against the earlier baseline (4 KiB buffers, an answer
//! flushed on its own) in BENCHMARKS.md.

use anyhow::Result;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use kith_protocol::limits::{MAX_FETCH_BYTES, MAX_FETCH_MESSAGES, MAX_FRAME};
use kith_protocol::{
    ClientFrame, GroupId, Message, MessageKind, PROTOCOL_VERSION, Push, RelayFrame, Request,
    Response,
};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The line the server prints when it is ready.
pub const READY_LINE: &str = "baseline listening on ";

/// Messages kept per group for `Fetch`.
pub const LOG: usize = 4096;

#[derive(Default)]
struct Group {
    next_seq: u64,
    subs: Vec<(u64, mpsc::UnboundedSender<Bytes>)>,
    log: VecDeque<Message>,
}

#[derive(Default)]
struct State {
    groups: Mutex<HashMap<GroupId, Group>>,
}

/// Runs the baseline server until killed.
pub async fn serve() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY_LINE}{}", listener.local_addr()?)?;
        out.flush()?;
    }
    let state = Arc::new(State::default());
    let ids = AtomicU64::new(1);
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let state = state.clone();
        let id = ids.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = connection(socket, id, &state).await;
        });
    }
}

/// tungstenite's defaults (128 KiB buffers); only the size limits are the relay's.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

async fn connection(socket: TcpStream, conn: u64, state: &State) -> Result<()> {
    let ws = tokio_tungstenite::accept_async_with_config(socket, Some(ws_config())).await?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            sink.feed(WsMessage::Binary(frame)).await?;
            while let Ok(frame) = rx.try_recv() {
                sink.feed(WsMessage::Binary(frame)).await?;
            }
            sink.flush().await?;
        }
        anyhow::Ok(())
    });
    let mut subscribed: Vec<GroupId> = Vec::new();
    while let Some(msg) = stream.next().await {
        let bytes = match msg {
            Ok(WsMessage::Binary(b)) => b,
            Ok(WsMessage::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let reply = match ClientFrame::decode(&bytes) {
            Ok(frame) => handle(frame, conn, state, &tx, &mut subscribed),
            Err(e) => RelayFrame::Error {
                id: 0,
                code: e.code(),
            },
        };
        if tx.send(reply.encode().into()).is_err() {
            break;
        }
    }
    drop(tx);
    let mut groups = state.groups.lock().expect("lock");
    for g in subscribed {
        if let Some(group) = groups.get_mut(&g) {
            group.subs.retain(|(c, _)| *c != conn);
        }
    }
    writer.abort();
    Ok(())
}

fn handle(
    frame: ClientFrame,
    conn: u64,
    state: &State,
    tx: &mpsc::UnboundedSender<Bytes>,
    subscribed: &mut Vec<GroupId>,
) -> RelayFrame {
    let id = frame.id;
    let ok = |body| RelayFrame::Response { id, body };
    let no_group = RelayFrame::Error {
        id,
        code: kith_protocol::ErrorCode::NoSuchGroup,
    };
    let mut groups = state.groups.lock().expect("lock");
    match frame.request {
        Request::Hello { version } => ok(Response::Hello {
            version: version.min(PROTOCOL_VERSION),
            max_frame: MAX_FRAME as u32,
        }),
        Request::Ping => ok(Response::Pong),
        Request::Challenge => ok(Response::Challenge { nonce: [7; 32] }),
        Request::CreateGroup { .. } => {
            let group = GroupId::random();
            groups.insert(
                group,
                Group {
                    next_seq: 1,
                    ..Group::default()
                },
            );
            ok(Response::GroupCreated { group })
        }
        Request::Auth { group, .. } => match groups.get(&group) {
            Some(g) => ok(Response::Authorized {
                current_epoch: 0,
                head: g.next_seq,
                retention_secs: 30 * 24 * 3600,
            }),
            None => no_group,
        },
        Request::Subscribe { group } => match groups.get_mut(&group) {
            Some(g) => {
                if !subscribed.contains(&group) {
                    subscribed.push(group);
                    g.subs.push((conn, tx.clone()));
                }
                ok(Response::Subscribed { head: g.next_seq })
            }
            None => no_group,
        },
        Request::Unsubscribe { group } => {
            if let Some(g) = groups.get_mut(&group) {
                g.subs.retain(|(c, _)| *c != conn);
            }
            subscribed.retain(|g| *g != group);
            ok(Response::Unsubscribed)
        }
        Request::Post {
            group,
            epoch,
            payload,
            ..
        } => match groups.get_mut(&group) {
            Some(g) => {
                let seq = g.next_seq;
                g.next_seq += 1;
                let message = Message {
                    seq,
                    epoch,
                    kind: MessageKind::Application,
                    stored_at: 0,
                    payload,
                };
                let push: Bytes = RelayFrame::Push(Push::Message {
                    group,
                    message: message.clone(),
                })
                .encode()
                .into();
                g.subs.retain(|(_, sub)| sub.send(push.clone()).is_ok());
                if g.log.len() == LOG {
                    g.log.pop_front();
                }
                g.log.push_back(message);
                ok(Response::Posted { seq })
            }
            None => no_group,
        },
        Request::Fetch { group, from, limit } => match groups.get(&group) {
            Some(g) => {
                let limit = limit.clamp(1, MAX_FETCH_MESSAGES) as usize;
                let mut messages = Vec::new();
                let mut bytes = 0;
                let mut next = from;
                for m in g.log.iter().filter(|m| m.seq >= from) {
                    if messages.len() >= limit
                        || (!messages.is_empty() && bytes + m.payload.len() > MAX_FETCH_BYTES)
                    {
                        break;
                    }
                    bytes += m.payload.len();
                    next = m.seq + 1;
                    messages.push(m.clone());
                }
                ok(Response::Messages {
                    messages,
                    next,
                    head: g.next_seq,
                    needs_epoch: None,
                })
            }
            None => no_group,
        },
        _ => RelayFrame::Error {
            id,
            code: kith_protocol::ErrorCode::BadRequest,
        },
    }
}
