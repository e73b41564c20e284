//! The live loop's events as JSON-RPC notifications (docs/RPC.md, "Events"), sent to
//! the connections that subscribed. The loop reports whole group views; what is new in
//! each (a message, a change of members or join requests) is worked out here.

use super::Shared;
use super::conn::Peer;
use crate::cli::commands::record_item;
use crate::cli::out::Item;
use crate::engine::names::Roster;
use crate::identity::IdentityKey;
use crate::live::{ConnState, Event};
use kith_protocol::GroupId;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

/// The subscribed connections, each with the group it follows (`None`: all).
#[derive(Default)]
pub(crate) struct Hub {
    subs: Mutex<Vec<(Peer, Option<GroupId>)>>,
    /// Attached chats: they get the loop's events as they are (`chat.event`).
    chats: Mutex<Vec<Peer>>,
}

impl Hub {
    /// Subscribes a connection (again: the new filter replaces the old).
    pub(crate) fn add(&self, peer: Peer, group: Option<GroupId>) {
        if let Ok(mut subs) = self.subs.lock() {
            subs.retain(|(p, _)| !p.gone.is_cancelled() && !p.same_as(&peer));
            subs.push((peer, group));
        }
    }

    /// Attaches a chat.
    pub(crate) fn add_chat(&self, peer: Peer) {
        if let Ok(mut chats) = self.chats.lock() {
            chats.retain(|p| !p.same_as(&peer));
            chats.push(peer);
        }
    }

    /// Ends a connection's subscription (and attachment); whether it was a chat's.
    pub(crate) fn remove(&self, peer: &Peer) -> bool {
        if let Ok(mut subs) = self.subs.lock() {
            subs.retain(|(p, _)| !p.gone.is_cancelled() && !p.same_as(peer));
        }
        let Ok(mut chats) = self.chats.lock() else {
            return false;
        };
        let before = chats.len();
        chats.retain(|p| !p.same_as(peer));
        chats.len() != before
    }

    /// Whether a connection is an attached chat's.
    pub(crate) fn is_chat(&self, peer: &Peer) -> bool {
        self.chats
            .lock()
            .is_ok_and(|chats| chats.iter().any(|p| p.same_as(peer)))
    }

    /// Whether no chat is attached.
    pub(crate) fn no_chat(&self) -> bool {
        self.chats.lock().is_ok_and(|chats| chats.is_empty())
    }

    /// Sends one of the loop's events to every attached chat.
    fn to_chats(&self, event: &Event) {
        let Ok(mut chats) = self.chats.lock() else {
            return;
        };
        if chats.is_empty() {
            return;
        }
        let Ok(params) = serde_json::to_value(event) else {
            return;
        };
        let line = json!({"jsonrpc": "2.0", "method": "chat.event", "params": params}).to_string();
        chats.retain(|peer| peer.send(line.clone()));
    }

    /// Sends a notification to every subscriber of `group` (or of all groups, for
    /// `None`); a subscriber that does not keep up is dropped (and disconnected).
    fn notify(&self, method: &str, group: Option<&GroupId>, params: Value) {
        let line = json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
        if let Ok(mut subs) = self.subs.lock() {
            subs.retain(|(peer, filter)| {
                let wanted = match (filter, group) {
                    (None, _) | (Some(_), None) => true,
                    (Some(f), Some(g)) => f == g,
                };
                !wanted || peer.send(line.clone())
            });
        }
    }
}

/// What the pump remembers to tell what is new.
#[derive(Default)]
struct Seen {
    /// Until the loop's first connection state: the views of what was stored at start
    /// (nothing in them is news).
    started: bool,
    me: IdentityKey,
    names: HashMap<GroupId, String>,
    /// Each record as it was told: its place and its kind, so that a message deleted
    /// for everyone (same place, kind `deleted`) is told again.
    records: HashMap<GroupId, HashSet<(u64, u16, &'static str)>>,
    members: HashMap<GroupId, Value>,
    requests: HashMap<GroupId, Value>,
    state: HashMap<GroupId, Value>,
    groups: Value,
}

/// Turns the loop's events into notifications until the loop ends.
pub(crate) async fn pump(
    mut events: UnboundedReceiver<Event>,
    shared: Arc<Shared>,
    fatal: Arc<AtomicBool>,
) {
    let mut seen = Seen::default();
    while let Some(event) = events.recv().await {
        on_event(event, &mut seen, &shared, &fatal);
    }
}

fn on_event(event: Event, seen: &mut Seen, shared: &Shared, fatal: &AtomicBool) {
    let hub = &shared.hub;
    hub.to_chats(&event);
    match event {
        Event::Me { identity, .. } => seen.me = identity,
        Event::Groups { groups, joining } => {
            for g in &groups {
                if let Some(id) = GroupId::from_hex(&g.id) {
                    seen.names.insert(id, g.name.clone());
                }
            }
            let v = json!({"groups": groups, "joining": joining});
            if seen.groups != v {
                if seen.started {
                    hub.notify("groups", None, v.clone());
                }
                seen.groups = v;
            }
        }
        Event::Group { id, view } => {
            let roster = Roster::from_parts(
                view.names.clone(),
                view.colliding.iter().copied(),
                view.verified.iter().copied(),
                seen.me,
            );
            let name = seen.names.get(&id).cloned().unwrap_or_default();
            let known = seen.records.entry(id).or_default();
            for r in &view.records {
                if !known.insert((r.seq, r.sub, kind_of(&r.kind))) || !seen.started {
                    continue;
                }
                if let Item::Record { json, text } = record_item(&roster, r) {
                    hub.notify(
                        "message",
                        Some(&id),
                        json!({"group": id.to_hex(), "group_name": name, "record": json, "text": text}),
                    );
                }
            }
            let members = serde_json::to_value(&view.members).unwrap_or_default();
            if seen.members.get(&id) != Some(&members) {
                if seen.started {
                    hub.notify(
                        "members",
                        Some(&id),
                        json!({"group": id.to_hex(), "group_name": name, "members": members}),
                    );
                }
                seen.members.insert(id, members);
            }
            let board: Vec<Value> = view
                .board
                .iter()
                .map(|e| {
                    json!({"id": e.id, "title": e.title, "text": e.text,
                        "by": roster.label(&e.by), "at": e.at})
                })
                .collect();
            let state = json!({
                "admin": view.admin,
                "board": board,
                "disappear_secs": view.disappear_secs,
                "history": view.history,
                "open_invites": view.open_invites,
                "on_hold": view.on_hold,
                "relay": view.home,
                "fallbacks": view.fallbacks,
            });
            if seen.state.get(&id) != Some(&state) {
                if seen.started {
                    let mut params = state.clone();
                    params["group"] = json!(id.to_hex());
                    params["group_name"] = json!(name);
                    hub.notify("state", Some(&id), params);
                }
                seen.state.insert(id, state);
            }
            let requests = serde_json::to_value(&view.requests).unwrap_or_default();
            if seen.requests.get(&id) != Some(&requests) {
                if seen.started {
                    hub.notify(
                        "requests",
                        Some(&id),
                        json!({"group": id.to_hex(), "group_name": name, "requests": requests}),
                    );
                }
                seen.requests.insert(id, requests);
            }
        }
        Event::Connection(state) => {
            seen.started = true;
            hub.notify("connection", None, json!({"state": conn_state(&state)}));
        }
        Event::Relays(relays) => {
            let relays: Vec<Value> = relays
                .iter()
                .map(|(url, s)| json!({"relay": url, "state": conn_state(s)}))
                .collect();
            hub.notify("relays", None, json!({ "relays": relays }));
        }
        Event::Info(text) => hub.notify("notice", None, json!({"level": "info", "text": text})),
        Event::Error(text) => hub.notify("notice", None, json!({"level": "error", "text": text})),
        Event::Fatal(text) => {
            hub.notify("notice", None, json!({"level": "fatal", "text": text}));
            eprintln!(
                "{}",
                kith_i18n::t!("cli-daemon-fatal", text = text.as_str())
            );
            fatal.store(true, Ordering::SeqCst);
            shared.stop.cancel();
        }
        // Answers to an attached chat's own commands (sent to it above).
        Event::Outbox { .. }
        | Event::Unsent { .. }
        | Event::Invite { .. }
        | Event::SafetyNumber { .. } => {}
    }
}

/// A record's kind, as `read --json` names it.
fn kind_of(kind: &crate::engine::records::RecordKind) -> &'static str {
    use crate::engine::records::RecordKind;
    match kind {
        RecordKind::Text(_) => "text",
        RecordKind::Notice(_) => "notice",
        RecordKind::Alert(_) => "alert",
        RecordKind::File(_) => "file",
        RecordKind::Deleted { .. } => "deleted",
    }
}

/// A connection state in words, with the seconds to the next attempt.
fn conn_state(s: &ConnState) -> Value {
    let secs = |at: &tokio::time::Instant| {
        at.saturating_duration_since(tokio::time::Instant::now())
            .as_secs()
    };
    match s {
        ConnState::Connecting => json!({"state": "connecting"}),
        ConnState::Connected => json!({"state": "connected"}),
        ConnState::Reconnecting { attempt, retry_at } => {
            json!({"state": "reconnecting", "attempt": attempt, "retry_in_secs": secs(retry_at)})
        }
        ConnState::Offline { retry_at } => {
            json!({"state": "offline", "retry_in_secs": secs(retry_at)})
        }
        ConnState::Idle => json!({"state": "idle"}),
    }
}
