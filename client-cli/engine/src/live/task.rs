//! The engine side of the chat: the one [`Client`] of the profile, driven by
//! [`Command`]s from the screen and reporting [`Event`]s back, so that the screen never
//! waits on the network or the store.
//!
//! It keeps one subscription per relay connection for every active group (pushes wake
//! it up; it then catches up from the store's cursor, so a lost push loses nothing),
//! reconnects with backoff when a connection dies, catches up every
//! [`KEEPALIVE`] as a safety net, and holds the outbox: messages typed while offline
//! wait here and go out, in order, once the relay is back.
//!
//! The store is the source of truth: after every change the group's whole history (and
//! its shared state: roles, board, settings, join requests) is read back from it and
//! sent to the screen as a [`GroupView`]. A view is read again when one of its messages
//! disappears (its timer ran out), so nothing expired stays on screen.
//!
//! A group is *on hold* when a member made a change they had no right to and no
//! admin's client has undone it yet: the engine then refuses to send to it. Messages
//! typed meanwhile are held here (not failed) and tried again after every catch-up
//! with the group, so they go out once an admin's client has repaired it.

use crate::engine::records::RecordKind;
use crate::engine::{Client, ClientError};
use crate::identity::IdentityKey;
use crate::relay::RelayError;
use kith_i18n::t;
use kith_protocol::{GroupId, Push};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc::{Receiver, UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

mod outbox;

use super::links::Links;
use super::messages::{Command, ConnState, Event, GroupView, OutState};

/// How often a connected chat catches up with every group even without pushes (also
/// notices a connection that died silently, and keeps the relay's idle timer fed).
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// How often pending joins (ours, waiting for an admin) are polled.
pub const JOIN_POLL: Duration = Duration::from_secs(3);
/// How often a group whose relay is down past the failover threshold tries again to go
/// on elsewhere, while nothing takes it.
pub const FAILOVER_RETRY: Duration = Duration::from_secs(15);

/// How often an admin's chat looks for answers to the group's open invites (joiners to
/// admit, join requests to show) besides the pushes and the keepalive.
pub const INVITE_POLL: Duration = Duration::from_secs(10);

/// Whether an error is about the network (worth reconnecting for) rather than the
/// request itself.
/// A send whose outcome is unknown counts too: the loop reconnects and the echo settles it.
pub fn transient(e: &ClientError) -> bool {
    e.is_passing() || matches!(e, ClientError::Unconfirmed(_))
}

/// Whether an error leaves the connection unusable although retrying at once will not
/// help (TLS or proxy set-up, plain ws:// refused, a relay breaking the protocol): told
/// to the user, and retried with backoff like a network failure.
fn connection_broken(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Relay(
            RelayError::Setup(_)
                | RelayError::Certificate(_)
                | RelayError::PlainWs(_)
                | RelayError::Protocol(_)
        )
    )
}

/// Whether a failed send certainly never reached the relay (so it may simply wait in
/// the queue): the connection could not even be opened.
fn never_posted(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Relay(
            RelayError::Connect(_)
                | RelayError::Setup(_)
                | RelayError::Certificate(_)
                | RelayError::PlainWs(_)
                | RelayError::Timeout("connect and hello")
        )
    )
}

/// Whether an engine refusal is the one for a group on hold (see
/// `Client::taint_text`).
pub fn on_hold(why: &str) -> bool {
    why.contains("is on hold")
}

struct Outgoing {
    /// The screen's id.
    id: u64,
    /// Its number in the store's outbox.
    stored: u64,
    group: GroupId,
    text: String,
    /// It was held before (so a hold found again does not start another catch-up).
    was_held: bool,
}

enum Wake {
    /// A push of a group arrived on relay `.0`'s connection generation `.1`.
    Push(String, u64, GroupId),
    /// The push channel of relay `.0`'s generation `.1` ended: that connection is gone.
    Lost(String, u64),
    /// What `kith doctor` found for relay `.0`, which went offline.
    Diagnosed(String, crate::doctor::Diagnosis),
}

struct Engine<'a> {
    client: &'a mut Client,
    events: UnboundedSender<Event>,
    /// Each relay's connection, on its own (see [`Links`]).
    links: Links,
    /// What the screen was last told of the connections.
    told: (ConnState, Vec<(String, ConnState)>),
    wake_tx: UnboundedSender<Wake>,
    next_keepalive: Instant,
    next_join_poll: Instant,
    outbox: VecDeque<Outgoing>,
    viewing: Option<GroupId>,
    dirty: BTreeSet<GroupId>,
    subscribed: HashSet<GroupId>,
    /// Our id of each subscribed group by its relay and its id there (what pushes name:
    /// a group that moved or failed over has another id there than here).
    ids: HashMap<(String, GroupId), GroupId>,
    /// Groups whose relay is down, and when to try going on elsewhere (the engine's
    /// failover threshold; then every [`FAILOVER_RETRY`] while nothing takes them).
    failover: HashMap<GroupId, Instant>,
    fatal: bool,
    /// Messages refused because their group is on hold, in order.
    held: VecDeque<Outgoing>,
    /// Groups on hold, with the engine's words for it.
    on_hold: HashMap<GroupId, String>,
    /// Groups with open invites where we are an admin (polled every [`INVITE_POLL`]).
    inviting: HashSet<GroupId>,
    next_invite_poll: Instant,
    /// When (Unix seconds) the next message of each group disappears.
    expiry: HashMap<GroupId, u64>,
}

/// Work a face hands to the loop (the daemon: one `kith` command of another process):
/// it runs on the loop's [`Client`] between the loop's own steps, so the loop and the
/// job never touch the store at once. Afterwards the loop looks again at what the job
/// may have changed (new groups and relays, new messages).
pub type Job =
    Box<dyn for<'c> FnOnce(&'c mut Client) -> Pin<Box<dyn Future<Output = ()> + 'c>> + Send>;

/// Runs the engine until the screen drops its command sender.
pub async fn run(
    client: &mut Client,
    commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
    first: Option<GroupId>,
) {
    run_with_jobs(client, commands, events, first, None).await
}

/// [`run`], also taking [`Job`]s; it ends when `commands` closes.
pub async fn run_with_jobs(
    client: &mut Client,
    mut commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
    first: Option<GroupId>,
    mut jobs: Option<UnboundedReceiver<Job>>,
) {
    let (wake_tx, mut wake_rx) = unbounded_channel();
    let mut e = Engine {
        client,
        events,
        links: Links::default(),
        told: (ConnState::Connecting, Vec::new()),
        wake_tx,
        next_keepalive: Instant::now() + KEEPALIVE,
        next_join_poll: Instant::now() + JOIN_POLL,
        outbox: VecDeque::new(),
        viewing: first,
        dirty: BTreeSet::new(),
        subscribed: HashSet::new(),
        ids: HashMap::new(),
        failover: HashMap::new(),
        fatal: false,
        held: VecDeque::new(),
        on_hold: HashMap::new(),
        inviting: HashSet::new(),
        next_invite_poll: Instant::now() + INVITE_POLL,
        expiry: HashMap::new(),
    };
    e.emit(Event::Me {
        name: e.client.name().to_owned(),
        identity: e.client.identity(),
    });
    // What is stored shows at once, before any network.
    e.publish_all();
    e.load_outbox();
    if let Some(g) = first {
        e.mark_read(&g);
    }
    e.emit(Event::Connection(ConnState::Connecting));
    e.refresh_links();
    loop {
        if e.fatal {
            break;
        }
        // Messages whose timer ran out leave the screen (the store no longer returns
        // them), with or without a connection.
        let now_secs = crate::engine::now_secs();
        let expired: Vec<GroupId> = e
            .expiry
            .iter()
            .filter(|(_, at)| **at <= now_secs)
            .map(|(g, _)| *g)
            .collect();
        if !expired.is_empty() {
            for g in expired {
                e.expiry.remove(&g);
                e.publish_group(&g);
            }
            e.publish_groups();
            continue;
        }
        if let Some(relay) = e.links.due(Instant::now()) {
            e.connect(&relay).await;
            continue;
        }
        if let Some(g) = e.next_failover() {
            // Its relay has been down long enough: the engine goes on elsewhere if it can.
            e.failover.insert(g, Instant::now() + FAILOVER_RETRY);
            e.sync(&g).await;
            continue;
        }
        // Without any group there is no relay, but pending joins are still polled.
        if e.links.any_connected() || e.links.is_empty() {
            if let Some(g) = e.next_dirty() {
                e.sync(&g).await;
                continue;
            }
            if let Some(i) = e.next_sendable() {
                e.send_next(i).await;
                continue;
            }
            let now = Instant::now();
            if now >= e.next_keepalive {
                e.next_keepalive = now + KEEPALIVE;
                e.keepalive().await;
                continue;
            }
            if now >= e.next_join_poll {
                e.next_join_poll = now + JOIN_POLL;
                e.poll_joins().await;
                continue;
            }
            if now >= e.next_invite_poll {
                e.next_invite_poll = now + INVITE_POLL;
                let groups: Vec<GroupId> = e.inviting.iter().copied().collect();
                e.dirty.extend(groups);
                continue;
            }
        }
        let wake_at = e.next_wake();
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(cmd) => e.command(cmd).await,
                None => break,
            },
            job = next_job(&mut jobs) => match job {
                Some(job) => {
                    job(&mut *e.client).await;
                    e.after_job().await;
                }
                None => jobs = None,
            },
            wake = wake_rx.recv() => match wake {
                Some(Wake::Push(relay, generation, group))
                    if e.links.generation(&relay) == Some(generation) =>
                {
                    if let Some(ours) = e.ids.get(&(relay, group)) {
                        e.dirty.insert(*ours);
                    }
                }
                Some(Wake::Lost(relay, generation))
                    if e.links.generation(&relay) == Some(generation) =>
                {
                    e.lost(&relay)
                }
                Some(Wake::Diagnosed(relay, d)) if !e.links.connected(&relay) => {
                    e.emit(Event::Error(t!(
                        "net-live-relay-offline",
                        relay = &relay,
                        verdict = &d.verdict
                    )));
                }
                _ => {}
            },
            () = tokio::time::sleep_until(wake_at) => {}
        }
    }
    e.client.close().await;
}

/// The next job; never, once there is no job channel.
async fn next_job(jobs: &mut Option<UnboundedReceiver<Job>>) -> Option<Job> {
    match jobs {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Engine<'_> {
    /// Looks again at everything after a [`Job`]: a group made or joined (its relay
    /// is connected, or becomes a link), one that moved (subscribed afresh), messages
    /// sent or read (the views).
    async fn after_job(&mut self) {
        self.refresh_links();
        let groups = match self.active_groups() {
            Ok(g) => g,
            Err(e) => return self.store_failed(e),
        };
        for g in groups {
            let place = self.client.group_place(&g).ok();
            let stale = self.subscribed.contains(&g)
                && place.as_ref().is_some_and(|p| !self.ids.contains_key(p));
            if stale {
                self.subscribed.remove(&g);
            }
            if self.reachable(&g)
                && !self.subscribed.contains(&g)
                && let Err(e) = self.subscribe(&g).await
            {
                self.failed_in(Some(&g), &t!("net-live-subscribing"), e);
            }
        }
        self.publish_all();
        self.load_outbox();
    }

    fn emit(&self, event: Event) {
        // The screen is gone when this fails; the loop ends on the closed command
        // channel right after.
        let _ = self.events.send(event);
    }

    fn next_wake(&self) -> Instant {
        let mut at = Instant::now() + KEEPALIVE;
        if let Some(a) = self.links.next_attempt() {
            at = at.min(a);
        }
        if self.links.any_connected() || self.links.is_empty() {
            at = at.min(self.next_keepalive);
            if self.has_pending_joins() {
                at = at.min(self.next_join_poll);
            }
            if !self.inviting.is_empty() {
                at = at.min(self.next_invite_poll);
            }
        }
        if let Some(a) = self.failover.values().min() {
            at = at.min(*a);
        }
        if let Some(secs) = self.expiry.values().min() {
            let wait = secs.saturating_sub(crate::engine::now_secs());
            at = at.min(Instant::now() + Duration::from_secs(wait));
        }
        at
    }

    fn has_pending_joins(&self) -> bool {
        self.client
            .pending_joins()
            .map(|j| !j.is_empty())
            .unwrap_or(false)
    }

    /// Tells the screen what changed of the connections.
    fn tell_links(&mut self) {
        let summary = self.links.summary();
        let states = self.links.states();
        if self.told.0 != summary {
            self.emit(Event::Connection(summary.clone()));
        }
        if self.told.1 != states {
            self.emit(Event::Relays(states.clone()));
        }
        self.told = (summary, states);
    }

    /// The relay of a group (`None` if the store no longer has it).
    fn relay_of(&self, group: &GroupId) -> Option<String> {
        self.client.group_relay(group).ok()
    }

    /// Whether a group's relay is connected.
    fn reachable(&self, group: &GroupId) -> bool {
        self.relay_of(group)
            .is_some_and(|r| self.links.connected(&r))
    }

    /// A group whose relay is down and whose time to go elsewhere has come.
    fn next_failover(&self) -> Option<GroupId> {
        let now = Instant::now();
        self.failover
            .iter()
            .filter(|(g, at)| **at <= now && !self.reachable(g))
            .map(|(g, _)| *g)
            .next()
    }

    /// The next group to catch up with whose relay is connected (the others wait).
    fn next_dirty(&mut self) -> Option<GroupId> {
        let g = *self.dirty.iter().find(|g| self.reachable(g))?;
        self.dirty.remove(&g);
        Some(g)
    }

    /// The first message of the outbox whose group's relay is connected (a group's
    /// messages share its relay, so each group's stay in order).
    fn next_sendable(&self) -> Option<usize> {
        self.outbox.iter().position(|o| self.reachable(&o.group))
    }

    /// Makes the links the relays of the active groups; with none (and no join
    /// waiting) the chat is idle and the outbox has nowhere to go.
    fn refresh_links(&mut self) {
        let groups = match self.active_groups() {
            Ok(g) => g,
            Err(e) => return self.store_failed(e),
        };
        let relays: Vec<String> = groups.iter().filter_map(|g| self.relay_of(g)).collect();
        self.links.set_relays(relays);
        if self.links.is_empty() && !self.has_pending_joins() {
            if self.told.0 != ConnState::Idle {
                self.told.0 = ConnState::Idle;
                self.emit(Event::Connection(ConnState::Idle));
            }
            self.fail_all_queued(t!("net-live-no-group"));
            return;
        }
        self.tell_links();
    }

    /// A store failure: nothing sensible can follow.
    fn store_failed(&mut self, e: ClientError) {
        self.fatal = true;
        self.emit(Event::Fatal(e.to_string()));
    }

    /// Handles an engine error: network errors start reconnecting (the relay of
    /// `group`, or those whose connection closed), store errors end the chat, the rest
    /// is told to the user.
    fn failed_in(&mut self, group: Option<&GroupId>, context: &str, e: ClientError) {
        if matches!(e, ClientError::Store(_)) {
            return self.store_failed(e);
        }
        let network = transient(&e) || connection_broken(&e);
        if !transient(&e) {
            self.emit(Event::Error(t!(
                "net-live-failed",
                context = context,
                why = e.to_string()
            )));
        }
        if network {
            let relays: Vec<String> = match group.and_then(|g| self.relay_of(g)) {
                Some(r) => vec![r],
                None => self
                    .links
                    .relays()
                    .filter(|r| !self.client.relay_open(r))
                    .cloned()
                    .collect(),
            };
            for r in relays {
                self.lost(&r);
            }
        }
    }

    /// [`Engine::failed_in`] for no group in particular.
    fn failed(&mut self, context: &str, e: ClientError) {
        self.failed_in(None, context, e)
    }

    /// `relay`'s connection is gone (or an attempt failed): schedule its next attempt.
    /// The other relays' groups go on.
    fn lost(&mut self, relay: &str) {
        let was_offline = matches!(self.links.state(relay), Some(ConnState::Offline { .. }));
        self.links.lost(relay);
        if !was_offline && matches!(self.links.state(relay), Some(ConnState::Offline { .. })) {
            // Newly offline: say why, as `kith doctor` would (off the loop: it takes a
            // while to find out).
            let (tx, url) = (self.wake_tx.clone(), relay.to_owned());
            let options = self.client.connect_options.clone();
            tokio::spawn(async move {
                let d = crate::doctor::diagnose(&url, &options).await;
                if !d.ok {
                    let _ = tx.send(Wake::Diagnosed(url, d));
                }
            });
        }
        let gone: Vec<GroupId> = self
            .subscribed
            .iter()
            .filter(|g| self.relay_of(g).is_none_or(|r| r == relay))
            .copied()
            .collect();
        for g in gone {
            self.subscribed.remove(&g);
        }
        // Its groups go on elsewhere if it stays down past the engine's threshold.
        for g in self.active_groups().unwrap_or_default() {
            if self.relay_of(&g).as_deref() != Some(relay) || self.failover.contains_key(&g) {
                continue;
            }
            if let Err(e) = self.client.note_unreachable(&g) {
                return self.store_failed(e);
            }
            if let Ok(Some(at)) = self.client.failover_at(&g) {
                let wait = at.saturating_sub(crate::engine::now_secs());
                self.failover
                    .insert(g, Instant::now() + Duration::from_secs(wait));
            }
        }
        self.tell_links();
        for o in &self.outbox {
            if self.relay_of(&o.group).is_none_or(|r| r == relay) {
                self.emit(Event::Outbox {
                    id: o.id,
                    state: OutState::Queued,
                });
            }
        }
    }

    fn active_groups(&self) -> Result<Vec<GroupId>, ClientError> {
        let mut out = Vec::new();
        for g in self.client.groups()? {
            if g.status == "active"
                && let Some(id) = GroupId::from_hex(&g.id)
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// (Re)connects to one relay: subscribes each of its active groups, then catches
    /// up with each (pushes of what arrives meanwhile are not lost: the subscription
    /// came first).
    async fn connect(&mut self, relay: &str) {
        self.links.begin(relay);
        self.client.close_relay(relay).await;
        let groups = match self.active_groups() {
            Ok(g) => g,
            Err(e) => return self.store_failed(e),
        };
        let groups: Vec<GroupId> = groups
            .into_iter()
            .filter(|g| self.relay_of(g).as_deref() == Some(relay))
            .collect();
        for g in &groups {
            self.subscribed.remove(g);
        }
        for g in &groups {
            if let Err(e) = self.subscribe(g).await {
                if matches!(e, ClientError::Store(_)) {
                    return self.store_failed(e);
                }
                if transient(&e) || connection_broken(&e) {
                    if connection_broken(&e) {
                        self.emit(Event::Error(t!(
                            "net-live-failed",
                            context = t!("net-live-connecting"),
                            why = e.to_string()
                        )));
                    }
                    return self.lost(relay);
                }
                // This group alone is unusable (removed, refused): say so, go on.
                self.emit(Event::Error(t!(
                    "net-live-failed",
                    context = self.group_name(g),
                    why = e.to_string()
                )));
            }
        }
        self.links.up(relay);
        self.tell_links();
        self.next_keepalive = Instant::now() + KEEPALIVE;
        self.poll_joins().await;
        self.dirty.extend(groups);
    }

    async fn subscribe(&mut self, group: &GroupId) -> Result<(), ClientError> {
        if self.subscribed.contains(group) {
            return Ok(());
        }
        let (relay, id) = self.client.group_place(group)?;
        for rx in self.client.subscribe_groups(&[*group]).await? {
            self.forward(rx, &relay);
        }
        self.ids.insert((relay, id), *group);
        self.subscribed.insert(*group);
        Ok(())
    }

    /// Turns a connection's push channel into wakes of the engine loop.
    fn forward(&self, mut rx: Receiver<Push>, relay: &str) {
        let generation = self.links.generation(relay).unwrap_or_default();
        let tx = self.wake_tx.clone();
        let relay = relay.to_owned();
        tokio::spawn(async move {
            while let Some(push) = rx.recv().await {
                let Push::Message { group, .. } = push;
                if tx
                    .send(Wake::Push(relay.clone(), generation, group))
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx.send(Wake::Lost(relay, generation));
        });
    }

    fn group_name(&self, g: &GroupId) -> String {
        self.client
            .group_name(g)
            .unwrap_or_else(|_| g.to_hex()[..8].to_owned())
    }

    /// Catches up with one group (with admin work: this client admits joiners and
    /// commits leave requests while the chat is open).
    async fn sync(&mut self, group: &GroupId) {
        match self.client.sync_group(group, true).await {
            Ok(report) => {
                self.failover.remove(group);
                if report.moved {
                    // Moved, failed over or back home: its pushes come from elsewhere now.
                    self.subscribed.remove(group);
                    self.refresh_links();
                    if let Ok(relay) = self.client.group_relay(group) {
                        self.emit(Event::Info(t!(
                            "net-live-goes-on-at",
                            group = self.group_name(group),
                            relay = &relay
                        )));
                    }
                    if self.reachable(group)
                        && let Err(e) = self.subscribe(group).await
                    {
                        self.failed_in(Some(group), &t!("net-live-subscribing"), e);
                    }
                    self.publish_group(group);
                    self.publish_groups();
                }
                // A member's client tried something only admins may: say so at once
                // (the alert itself is in the conversation).
                if let Some(alert) = report.new.iter().rev().find_map(|r| match &r.kind {
                    RecordKind::Alert(t) if crate::engine::records::is_refusal(t) => {
                        Some(t.clone())
                    }
                    _ => None,
                }) {
                    self.emit(Event::Error(t!(
                        "net-live-failed",
                        context = self.group_name(group),
                        why = alert
                    )));
                }
                if !report.new.is_empty() || report.joined {
                    self.publish_group(group);
                    if self.viewing == Some(*group) {
                        self.mark_read(group);
                    }
                    self.publish_groups();
                }
                self.release_held(group);
            }
            Err(e) => {
                let name = self.group_name(group);
                // Whatever did get processed before the failure is in the store.
                self.publish_group(group);
                self.publish_groups();
                self.failed_in(Some(group), &name, e);
            }
        }
    }

    async fn keepalive(&mut self) {
        self.refresh_links();
        match self.active_groups() {
            Ok(groups) => self.dirty.extend(groups),
            Err(e) => self.store_failed(e),
        }
    }

    async fn poll_joins(&mut self) {
        if !self.has_pending_joins() {
            return;
        }
        match self.client.poll_joins().await {
            Ok(outcomes) => {
                for o in outcomes {
                    let group = match (o.group, o.result) {
                        (Some(group), Ok(_)) => group,
                        (_, Err(e)) => {
                            self.failed(&t!("net-live-joining-group", group = &o.name), e);
                            continue;
                        }
                        (None, Ok(_)) => continue,
                    };
                    self.emit(Event::Info(t!(
                        "net-live-joined",
                        group = self.group_name(&group)
                    )));
                    // Its relay may be new to the chat.
                    self.refresh_links();
                    if let Err(e) = self.subscribe(&group).await {
                        self.failed(&t!("net-live-subscribing"), e);
                    }
                    self.dirty.insert(group);
                    self.publish_group(&group);
                }
                self.publish_groups();
            }
            Err(e) => self.failed(&t!("net-live-joining"), e),
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Refresh => {
                self.emit(Event::Me {
                    name: self.client.name().to_owned(),
                    identity: self.client.identity(),
                });
                self.publish_all();
                let (summary, states) = self.told.clone();
                self.emit(Event::Connection(summary));
                self.emit(Event::Relays(states));
                self.tell_outbox();
            }
            Command::Detach => self.viewing = None,
            Command::Select(g) => {
                self.viewing = Some(g);
                self.mark_read(&g);
                self.publish_groups();
            }
            Command::Send { id, group, text } => self.queue(id, group, text),
            Command::Reconnect => self.links.retry_now(),
            Command::Invite {
                group,
                ttl,
                approval,
            } => {
                let r = self.client.invite(&group, ttl, approval).await;
                if let Some(invite) = self.done(&group, &t!("net-live-no-invite"), r) {
                    let group = self.group_name(&group);
                    self.emit(Event::Invite {
                        group,
                        invite,
                        ttl,
                        approval,
                    });
                }
            }
            Command::Remove {
                group,
                member,
                hide,
            } => {
                let who = match self.client.find_member(&group, &member) {
                    Ok(w) => w,
                    Err(e) => return self.failed(&t!("net-live-nobody-removed"), e),
                };
                let name = self.client.display_name(&group, &who);
                let r = self.client.remove_member(&group, &who, hide).await;
                if self
                    .done(&group, &t!("net-live-not-removed", name = &name), r)
                    .is_some()
                {
                    self.emit(Event::Info(if hide {
                        t!("net-live-removed-hidden", name = &name)
                    } else {
                        t!("net-live-removed", name = &name)
                    }));
                }
            }
            Command::BoardAdd { group, title, text } => {
                let r = self.client.board_add(&group, &title, &text).await;
                if let Some(id) = self.done(&group, &t!("net-live-nothing-pinned"), r) {
                    self.emit(Event::Info(t!("net-live-pinned", id = id, title = &title)));
                }
            }
            Command::BoardEdit {
                group,
                id,
                title,
                text,
            } => {
                let r = self
                    .client
                    .board_edit(&group, id, title.as_deref(), text.as_deref())
                    .await;
                if self
                    .done(&group, &t!("net-live-entry-not-changed", id = id), r)
                    .is_some()
                {
                    self.emit(Event::Info(t!("net-live-entry-edited", id = id)));
                }
            }
            Command::BoardRm { group, id } => {
                let r = self.client.board_rm(&group, id).await;
                if self
                    .done(&group, &t!("net-live-entry-not-removed", id = id), r)
                    .is_some()
                {
                    self.emit(Event::Info(t!("net-live-entry-removed", id = id)));
                }
            }
            Command::SendFile { group, path } => {
                let r = self.client.send_file(&group, &path).await;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if self
                    .done(&group, &t!("net-live-file-not-sent", name = &name), r)
                    .is_some()
                {
                    self.emit(Event::Info(t!("net-live-file-sent", name = &name)));
                }
            }
            Command::ListFiles(group) => match self.client.files(&group) {
                Ok(files) if files.is_empty() => {
                    self.emit(Event::Info(t!("net-live-no-files")));
                }
                Ok(files) => {
                    let list: Vec<String> = files
                        .iter()
                        .map(|f| {
                            t!(
                                "net-live-file-item",
                                number = f.number,
                                name = &f.name,
                                size = kith_i18n::size(f.size),
                                sender = &f.sender
                            )
                        })
                        .collect();
                    self.emit(Event::Info(t!("net-live-files", list = list.join(" · "))));
                }
                Err(e) => self.failed(&t!("net-live-files-failed"), e),
            },
            Command::GetFile { group, which, out } => {
                let r = self
                    .client
                    .get_file(&group, &which, out.as_deref(), false)
                    .await;
                if let Some(saved) = self.done(&group, &t!("net-live-nothing-saved"), r) {
                    self.emit(Event::Info(t!(
                        "net-live-file-saved",
                        name = &saved.name,
                        size = kith_i18n::size(saved.size),
                        path = saved.path.display().to_string()
                    )));
                }
            }
            Command::Promote { group, member } => {
                let who = match self.client.find_member(&group, &member) {
                    Ok(w) => w,
                    Err(e) => return self.failed(&t!("net-live-nobody-promoted"), e),
                };
                let name = self.client.display_name(&group, &who);
                let r = self.client.promote(&group, &who).await;
                if self
                    .done(&group, &t!("net-live-not-promoted", name = &name), r)
                    .is_some()
                {
                    self.emit(Event::Info(t!("net-live-promoted", name = &name)));
                }
            }
            Command::Demote { group, member } => {
                let who = match self.client.find_member(&group, &member) {
                    Ok(w) => w,
                    Err(e) => return self.failed(&t!("net-live-nobody-demoted"), e),
                };
                let name = self.client.display_name(&group, &who);
                let r = self.client.demote(&group, &who).await;
                if self
                    .done(&group, &t!("net-live-not-demoted", name = &name), r)
                    .is_some()
                {
                    self.emit(Event::Info(t!("net-live-demoted", name = &name)));
                }
            }
            Command::Requests(group) => {
                if self.reachable(&group) {
                    self.sync(&group).await;
                }
                self.publish_group(&group);
                self.publish_groups();
            }
            Command::Approve { group, request } => {
                let r = self.client.approve(&group, &request).await;
                if let Some(name) = self.done(&group, &t!("net-live-nobody-approved"), r) {
                    self.emit(Event::Info(t!("net-live-approved", name = &name)));
                }
            }
            Command::Deny { group, request } => {
                let r = self.client.deny(&group, &request).await;
                if let Some(name) = self.done(&group, &t!("net-live-nobody-denied"), r) {
                    self.emit(Event::Info(t!("net-live-denied", name = &name)));
                }
            }
            Command::Delete { group, seq } => {
                let r = self.client.delete_message(&group, seq).await;
                if self.done(&group, &t!("net-live-not-deleted"), r).is_some() {
                    self.emit(Event::Info(t!("net-live-deleted")));
                }
            }
            Command::Settings {
                group,
                disappear,
                history,
            } => {
                let r = self
                    .client
                    .set_settings(&group, disappear, history, None)
                    .await;
                if self
                    .done(&group, &t!("net-live-settings-unchanged"), r)
                    .is_some()
                {
                    let mut said = Vec::new();
                    match disappear {
                        Some(0) => said.push(t!("net-live-disappear-off")),
                        Some(d) => {
                            said.push(t!("net-live-disappear-on", after = kith_i18n::duration(d)))
                        }
                        None => {}
                    }
                    match history {
                        Some(0) => said.push(t!("net-live-history-off")),
                        Some(n) => said.push(t!("net-live-history-on", n = n)),
                        None => {}
                    }
                    self.emit(Event::Info(said.join(" ")));
                }
            }
            Command::Discard(group) => {
                let n = self.drop_queued(&group, true);
                if n > 0 {
                    self.emit(Event::Info(t!("net-live-dropped-held", n = n)));
                }
            }
            Command::Verify { group, member } => match self.client.find_member(&group, &member) {
                Ok(who) => {
                    let name = self.client.display_name(&group, &who);
                    let number = self.client.safety_number(&who);
                    self.emit(Event::SafetyNumber {
                        group,
                        member: who,
                        name,
                        number,
                    });
                }
                Err(e) => self.failed(&t!("net-live-verify"), e),
            },
            Command::ConfirmVerified {
                group,
                member,
                name,
            } => match self.client.confirm_verified(&member, &name) {
                Ok(()) => {
                    self.emit(Event::Info(t!("net-live-marked-verified", name = &name)));
                    self.publish_group(&group);
                }
                Err(e) => self.failed(&t!("net-live-verify"), e),
            },
            Command::Leave(group) => {
                match self.client.leave(&group).await {
                    Ok(()) => self.emit(Event::Info(t!("net-live-left"))),
                    Err(e) => self.failed(&t!("net-live-leave"), e),
                }
                self.drop_queued(&group, false);
                self.publish_group(&group);
                self.publish_groups();
            }
        }
    }

    /// The outcome of a command that changes a group: the group is read back either
    /// way; a failure is told in words (`what` says what did not happen), a group on
    /// hold is marked so, a network failure starts reconnecting.
    fn done<T>(&mut self, group: &GroupId, what: &str, r: Result<T, ClientError>) -> Option<T> {
        let out = match r {
            Ok(v) => {
                self.on_hold.remove(group);
                Some(v)
            }
            Err(ClientError::Usage(why)) if self.held_back(group, &why) => {
                self.emit(Event::Error(t!(
                    "net-live-failed",
                    context = what,
                    why = &why
                )));
                self.on_hold.insert(*group, why);
                None
            }
            Err(e) if transient(&e) => {
                self.emit(Event::Error(t!(
                    "net-live-no-answer",
                    context = what,
                    why = e.to_string()
                )));
                self.failed_in(Some(group), what, e);
                None
            }
            Err(e) => {
                self.failed_in(Some(group), what, e);
                None
            }
        };
        self.publish_group(group);
        self.publish_groups();
        out
    }

    /// Whether a refusal to change `group` is the one for a group on hold: the engine's
    /// words for its hold, in whatever language they were said (or the English ones).
    fn held_back(&self, group: &GroupId, why: &str) -> bool {
        on_hold(why)
            || self
                .client
                .on_hold(group)
                .ok()
                .flatten()
                .is_some_and(|hold| hold == why)
    }

    /// Marks a group on hold and says why, once.
    fn set_on_hold(&mut self, group: &GroupId, why: String) {
        if self.on_hold.get(group) != Some(&why) {
            self.emit(Event::Error(t!("net-live-held", why = &why)));
            self.on_hold.insert(*group, why);
            self.publish_group(group);
        }
    }

    /// After a catch-up with a group: its held messages go back to the head of the
    /// queue (the group may have been repaired meanwhile; if not, they are held again).
    fn release_held(&mut self, group: &GroupId) {
        if !self.held.iter().any(|o| o.group == *group) {
            return;
        }
        let (mine, rest): (VecDeque<_>, VecDeque<_>) =
            self.held.drain(..).partition(|o| o.group == *group);
        self.held = rest;
        for o in mine.into_iter().rev() {
            self.outbox.push_front(o);
        }
    }

    fn mark_read(&mut self, group: &GroupId) {
        if let Err(e) = self.client.take_unread(group, false)
            && matches!(e, ClientError::Store(_))
        {
            self.store_failed(e);
        }
    }

    fn publish_groups(&mut self) {
        let groups = match self.client.groups() {
            Ok(g) => g,
            Err(e) => return self.store_failed(e),
        };
        let joining = self.client.pending_joins().unwrap_or_default();
        self.emit(Event::Groups { groups, joining });
    }

    fn publish_all(&mut self) {
        self.publish_groups();
        let ids: Vec<GroupId> = match self.client.groups() {
            Ok(g) => g.iter().filter_map(|g| GroupId::from_hex(&g.id)).collect(),
            Err(e) => return self.store_failed(e),
        };
        for id in ids {
            self.publish_group(&id);
        }
    }

    fn publish_group(&mut self, id: &GroupId) {
        match self.view(id) {
            Ok(view) => {
                match view.next_expiry() {
                    Some(at) => self.expiry.insert(*id, at),
                    None => self.expiry.remove(id),
                };
                if view.admin && view.open_invites > 0 && !view.members.is_empty() {
                    self.inviting.insert(*id);
                } else {
                    self.inviting.remove(id);
                }
                self.emit(Event::Group {
                    id: *id,
                    view: Box::new(view),
                })
            }
            Err(e) => self.failed(&t!("net-live-reading-history"), e),
        }
    }

    /// Reads a group's view from the store.
    fn view(&self, id: &GroupId) -> Result<GroupView, ClientError> {
        let records = self.client.messages(id)?;
        // Once we are out of the group its MLS state is gone: no member list.
        let members = self.client.members(id).unwrap_or_default();
        let state = self.client.group_state(id)?;
        let mut view = GroupView {
            names: HashMap::new(),
            verified: HashSet::new(),
            colliding: HashSet::new(),
            records,
            members,
            admin: state.is_admin(&self.client.identity()),
            // The engine's cleaned copy: entries come from other members' commits.
            board: self.client.board(id).unwrap_or_default(),
            disappear_secs: state.disappear_secs,
            history: state.history,
            open_invites: state.invites.len(),
            requests: self.client.requests(id).unwrap_or_default(),
            // The engine knows when a repair lifted the hold, even with nothing held.
            on_hold: self.client.on_hold(id).ok().flatten(),
            fallbacks: state.fallbacks.clone(),
            home: self.client.group_home(id).unwrap_or_default(),
        };
        for m in &view.members {
            let mut key = [0u8; 32];
            if kith_protocol::ids::unhex(&m.identity, &mut key) {
                view.names.insert(key, m.name.clone());
                if m.verified {
                    view.verified.insert(key);
                }
            }
        }
        let mut people: Vec<IdentityKey> = Vec::new();
        for r in &view.records {
            people.extend(r.sender);
            people.extend(r.shared_by);
            if let RecordKind::Deleted { by } = &r.kind {
                people.push(*by);
            }
        }
        people.extend(view.board.iter().map(|e| e.by));
        for s in people {
            view.names
                .entry(s)
                .or_insert_with(|| self.client.display_name(id, &s));
        }
        let roster = self.client.roster(id)?;
        view.colliding = view
            .names
            .keys()
            .filter(|k| roster.collides(k))
            .copied()
            .collect();
        Ok(view)
    }
}
