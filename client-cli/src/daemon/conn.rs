//! One connection to the daemon: lines in, each a JSON-RPC request, answered in order;
//! answers and the subscribed events out through a bounded queue. A line too long,
//! bad JSON or a wrong request gets an error answer; a peer that does not read its
//! answers and events until the queue is full is disconnected. Nothing here waits on
//! a peer while holding the engine.

use super::Shared;
use crate::args::Command;
use crate::cli::commands::{dispatch, join_not_yet, join_start, join_try};
use crate::cli::failure::Failure;
use crate::cli::out::{Item, Out};
use crate::engine::Client;
use crate::live::task::Job;
use crate::rpc;
use kith_i18n::Locale;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Lines (answers and events) waiting for a peer; beyond this it is not reading.
pub(crate) const QUEUE: usize = 1024;

/// How a connection sends lines, and closes.
#[derive(Clone)]
pub(crate) struct Peer {
    tx: mpsc::Sender<String>,
    /// Cancelled when the connection is to close (its queue overflowed, or it ended).
    pub(crate) gone: CancellationToken,
    /// The language and time zone its answers are in (`locale`): the daemon's until
    /// the peer says otherwise.
    locale: Arc<std::sync::Mutex<Locale>>,
}

impl Peer {
    fn locale(&self) -> Locale {
        self.locale
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether two handles are of the same connection.
    pub(crate) fn same_as(&self, other: &Peer) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Queues a line; a full queue closes the connection (the peer does not read).
    pub(crate) fn send(&self, line: String) -> bool {
        if self.tx.try_send(line).is_err() {
            self.gone.cancel();
            return false;
        }
        true
    }
}

/// Serves one connection until it closes, misbehaves or the daemon stops.
pub(crate) async fn serve(stream: UnixStream, shared: Arc<Shared>) {
    let (r, mut w) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    let peer = Peer {
        tx,
        gone: shared.stop.child_token(),
        locale: Arc::new(std::sync::Mutex::new(kith_i18n::locale())),
    };
    let gone = peer.gone.clone();
    let writer = tokio::spawn(async move {
        loop {
            // What is queued goes first (the answer to `shutdown` is queued before
            // the stop); a write the peer does not take ends with the connection.
            let line = tokio::select! {
                biased;
                l = rx.recv() => match l {
                    Some(l) => l,
                    None => break,
                },
                () = gone.cancelled() => break,
            };
            let write = async {
                w.write_all(line.as_bytes()).await?;
                w.write_all(b"\n").await
            };
            tokio::select! {
                biased;
                r = write => if r.is_err() { break },
                () = gone.cancelled() => break,
            }
        }
        let _ = w.shutdown().await;
    });
    let mut reader = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut reader).take(rpc::MAX_LINE as u64 + 1);
        let read = limited.read_until(b'\n', &mut buf);
        let n = tokio::select! {
            n = read => n,
            () = peer.gone.cancelled() => break,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > rpc::MAX_LINE {
            peer.send(error(
                &Value::Null,
                rpc::INVALID_REQUEST,
                &format!("a line longer than {} bytes; closing", rpc::MAX_LINE),
                None,
            ));
            break;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (answer, stop) = handle(&buf, &peer, &shared).await;
        if let Some(answer) = answer
            && !peer.send(answer)
        {
            break;
        }
        if stop {
            shared.stop.cancel();
        }
    }
    if shared.hub.remove(&peer) && shared.hub.no_chat() {
        kith_i18n::set_face(kith_i18n::Face::Cli);
        shared.command(crate::live::Command::Detach);
    }
    // Let the writer send what is queued, then close.
    drop(peer);
    let _ = writer.await;
}

/// An error answer.
fn error(id: &Value, code: i64, message: &str, output: Option<Vec<Item>>) -> String {
    let mut e = json!({"code": code, "message": message});
    if let Some(output) = output {
        e["data"] = json!({ "output": output });
    }
    json!({"jsonrpc": "2.0", "id": id, "error": e}).to_string()
}

fn answer(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// Handles one request: the line to answer with (none for a notification), and
/// whether the daemon is to stop (`shutdown`).
async fn handle(line: &[u8], peer: &Peer, shared: &Shared) -> (Option<String>, bool) {
    let v: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            let e = error(
                &Value::Null,
                rpc::PARSE_ERROR,
                &format!("not JSON: {e}"),
                None,
            );
            return (Some(e), false);
        }
    };
    let id = v.get("id").cloned();
    let valid_id = matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    );
    // An id that is not one is not echoed.
    let reply_id = id.clone().filter(|_| valid_id).unwrap_or(Value::Null);
    let method = v.get("method").and_then(Value::as_str);
    let (Some(method), true, Some("2.0")) =
        (method, valid_id, v.get("jsonrpc").and_then(Value::as_str))
    else {
        let why = if v.is_array() {
            "batches are not supported: one request a line"
        } else {
            "not a JSON-RPC 2.0 request (jsonrpc \"2.0\", a method, an id)"
        };
        return (
            Some(error(&reply_id, rpc::INVALID_REQUEST, why, None)),
            false,
        );
    };
    let params = v.get("params").cloned().unwrap_or(Value::Null);
    let result = call(method, params, peer, shared).await;
    let stop = method == "shutdown";
    // A notification (no id) gets no answer, not even an error.
    if id.is_none() {
        return (None, stop);
    }
    let line = match result {
        Ok(v) => answer(&reply_id, v),
        Err(CallError {
            code,
            message,
            output,
        }) => error(&reply_id, code, &message, output),
    };
    (Some(line), stop)
}

struct CallError {
    code: i64,
    message: String,
    output: Option<Vec<Item>>,
}

impl CallError {
    fn new(code: i64, message: impl Into<String>) -> CallError {
        CallError {
            code,
            message: message.into(),
            output: None,
        }
    }

    fn failed(f: Failure, output: Vec<Item>) -> CallError {
        CallError {
            code: if f.code == 2 { rpc::USAGE } else { rpc::FAILED },
            message: f.message,
            output: Some(output),
        }
    }
}

async fn call(
    method: &str,
    params: Value,
    peer: &Peer,
    shared: &Shared,
) -> Result<Value, CallError> {
    match method {
        "version" => Ok(json!({
            "protocol": rpc::PROTOCOL_VERSION,
            "kith": crate::args::VERSION,
            "connection": shared.connection,
        })),
        // The stop itself comes after the answer is queued (`serve`).
        "shutdown" => Ok(json!({})),
        "locale" => set_locale(params, peer),
        "subscribe" => subscribe(params, peer, shared).await,
        "chat.attach" => attach(params, peer, shared).await,
        "chat.command" => {
            if !shared.hub.is_chat(peer) {
                return Err(CallError::new(
                    rpc::INVALID_REQUEST,
                    "chat.command comes from an attached chat: call chat.attach first",
                ));
            }
            let c: crate::live::Command = serde_json::from_value(params).map_err(|e| {
                CallError::new(rpc::INVALID_PARAMS, format!("not a chat command: {e}"))
            })?;
            if !shared.command(c) {
                return Err(CallError::new(rpc::FAILED, "the daemon is stopping"));
            }
            Ok(json!({}))
        }
        "unsubscribe" => {
            if shared.hub.remove(peer) && shared.hub.no_chat() {
                kith_i18n::set_face(kith_i18n::Face::Cli);
                shared.command(crate::live::Command::Detach);
            }
            Ok(json!({}))
        }
        _ => {
            let command = rpc::from_call(method, params).map_err(|e| match e {
                None => CallError::new(
                    rpc::METHOD_NOT_FOUND,
                    format!("no method {method:?} (docs/RPC.md lists them)"),
                ),
                Some(why) => CallError::new(rpc::INVALID_PARAMS, why),
            })?;
            match command {
                Command::Read { follow: true, .. } => Err(CallError::new(
                    rpc::INVALID_PARAMS,
                    "`follow` is a subscription here: call `subscribe`, then `read`",
                )),
                Command::Join {
                    invite,
                    relay,
                    wait,
                } => {
                    let invite = crate::args::full_invite(&invite, relay.as_deref())
                        .map_err(|e| CallError::new(rpc::USAGE, e))?;
                    join(shared, peer, invite, wait).await
                }
                command => {
                    let (r, output) = run_job(shared, peer, move |c, out| {
                        Box::pin(async move { dispatch(c, command, out).await })
                    })
                    .await?;
                    finish(r, output)
                }
            }
        }
    }
}

/// A finished command as an answer: its exit code, records and output.
fn finish(r: Result<u8, Failure>, output: Vec<Item>) -> Result<Value, CallError> {
    match r {
        Ok(exit) => {
            let records: Vec<&Value> = output
                .iter()
                .filter_map(|i| match i {
                    Item::Record { json, .. } => Some(json),
                    _ => None,
                })
                .collect();
            Ok(json!({"exit": exit, "records": records, "output": output}))
        }
        Err(f) => Err(CallError::failed(f, output)),
    }
}

type Step<T> = Box<
    dyn for<'c> FnOnce(&'c mut Client, &'c mut Out) -> Pin<Box<dyn Future<Output = T> + 'c>> + Send,
>;

/// Runs `f` on the live loop's client with kept output, in the peer's language and
/// time zone; its result and the output.
async fn run_job<T: Send + 'static>(
    shared: &Shared,
    peer: &Peer,
    f: impl for<'c> FnOnce(&'c mut Client, &'c mut Out) -> Pin<Box<dyn Future<Output = T> + 'c>>
    + Send
    + 'static,
) -> Result<(T, Vec<Item>), CallError> {
    let f: Step<T> = Box::new(f);
    let (tx, rx) = oneshot::channel();
    let locale = peer.locale();
    let job: Job = Box::new(move |client: &mut Client| {
        Box::pin(async move {
            // Jobs run one at a time on the live loop's task, which is where the
            // engine's words are made: the caller's locale holds for this job only.
            let speaking = kith_i18n::speaking(&locale, kith_i18n::Face::Cli);
            let mut out = Out::kept();
            let r = f(client, &mut out).await;
            drop(speaking);
            let _ = tx.send((r, out.take()));
        })
    });
    if shared.jobs.send(job).is_err() {
        return Err(CallError::new(rpc::FAILED, "the daemon is stopping"));
    }
    rx.await
        .map_err(|_| CallError::new(rpc::FAILED, "the daemon is stopping"))
}

/// `join`: answers the invite, then looks for the admission every half second until
/// `wait` is over, each look a job of its own so that other calls go on meanwhile.
async fn join(shared: &Shared, peer: &Peer, invite: String, wait: u64) -> Result<Value, CallError> {
    let (slot, mut output) = run_job(shared, peer, move |c, out| {
        Box::pin(async move { join_start(c, &invite, out).await })
    })
    .await?;
    let slot = match slot {
        Ok(s) => s,
        Err(f) => return Err(CallError::failed(f, output)),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let (done, more) = run_job(shared, peer, move |c, out| {
            Box::pin(async move { join_try(c, &slot, out).await })
        })
        .await?;
        output.extend(more);
        match done {
            Ok(true) => return finish(Ok(0), output),
            Ok(false) => {}
            Err(f) => return Err(CallError::failed(f, output)),
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = shared.stop.cancelled() => break,
        }
    }
    let mut out = Out::kept();
    let code = {
        let _speaking = kith_i18n::speaking(&peer.locale(), kith_i18n::Face::Cli);
        join_not_yet(wait, &mut out)
    };
    output.extend(out.take());
    finish(Ok(code), output)
}

/// `chat.attach`: the live loop's own events from now on (`chat.event`), starting
/// with everything it knows; the group named (if any) is the one to open first.
async fn attach(params: Value, peer: &Peer, shared: &Shared) -> Result<Value, CallError> {
    let id = group_param(&params, peer, shared).await?;
    shared.hub.add_chat(peer.clone());
    // What the engine says by itself from now on (notices, hints) is for the person at
    // this chat: in their language, naming chat commands.
    kith_i18n::set_locale(&peer.locale());
    kith_i18n::set_face(kith_i18n::Face::Chat);
    if !shared.command(crate::live::Command::Refresh) {
        return Err(CallError::new(rpc::FAILED, "the daemon is stopping"));
    }
    Ok(json!({"group": id.map(|g| g.to_hex())}))
}

/// `subscribe`: events from now on, of one group (by name or id prefix) or of all.
async fn subscribe(params: Value, peer: &Peer, shared: &Shared) -> Result<Value, CallError> {
    let id = group_param(&params, peer, shared).await?;
    shared.hub.add(peer.clone(), id);
    Ok(json!({"group": id.map(|g| g.to_hex())}))
}

/// The group a `group` parameter names (by name or id prefix), if any.
async fn group_param(
    params: &Value,
    peer: &Peer,
    shared: &Shared,
) -> Result<Option<kith_protocol::GroupId>, CallError> {
    let group = match params.get("group") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => Some(g.clone()),
        Some(_) => {
            return Err(CallError::new(
                rpc::INVALID_PARAMS,
                "group is a group's name or id prefix",
            ));
        }
    };
    let id = match group {
        None => None,
        Some(g) => {
            let (found, _) = run_job(shared, peer, move |c, _| {
                Box::pin(async move { c.find_group(&g).map_err(Failure::from) })
            })
            .await?;
            Some(found.map_err(|f| CallError::failed(f, Vec::new()))?)
        }
    };
    Ok(id)
}

/// `locale`: the language (`lang`), UTC or not (`utc`) and time zone (`zone`, an IANA
/// name) of this connection's answers from now on. Each is optional; an unknown zone
/// keeps the daemon's, and the answer says which zone holds.
fn set_locale(params: Value, peer: &Peer) -> Result<Value, CallError> {
    let mut locale = peer.locale();
    match params.get("lang") {
        None | Some(Value::Null) => {}
        Some(Value::String(code)) => {
            locale.lang = kith_i18n::Lang::parse(code)
                .ok_or_else(|| CallError::new(rpc::INVALID_PARAMS, "lang is one of: en, ru"))?;
        }
        Some(_) => return Err(CallError::new(rpc::INVALID_PARAMS, "lang is a string")),
    }
    match params.get("utc") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(utc)) => locale.utc = *utc,
        Some(_) => return Err(CallError::new(rpc::INVALID_PARAMS, "utc is true or false")),
    }
    match params.get("zone") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if kith_i18n::zone_known(name) => {
            locale.zone = Some(name.clone())
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(CallError::new(rpc::INVALID_PARAMS, "zone is an IANA name")),
    }
    let answer = json!({"lang": locale.lang.code(), "utc": locale.utc, "zone": locale.zone});
    *peer.locale.lock().unwrap_or_else(|e| e.into_inner()) = locale;
    Ok(answer)
}
