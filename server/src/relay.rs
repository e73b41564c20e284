//! The relay's logic, independent of sockets: groups, epochs, the ordered log, invite
//! slots, quotas and retention, over a [`Store`].
//!
//! Invariants:
//! - Per group, one writer at a time (a per-group mutex, never held across an await):
//!   sequence numbers are assigned without gaps, and a commit is accepted only for the
//!   current epoch, so of two racing commits exactly one wins.
//! - Nothing is acknowledged, pushed or served by `fetch` before the store has made it
//!   durable ([`Flusher`]): a client never sees a message that a crash could take back
//!   and whose sequence number could then be reused.
//! - The group's stored log never exceeds its quotas: a post that would exceed them
//!   removes the oldest messages in the same atomic write. Blobs are never dropped to make
//!   room: a blob over the group's blob quota is refused.
//! - Every message and blob gets its expiry when stored: the group's retention then (its
//!   own, if it set a shorter one, else the relay's). Retention deletes it at that expiry,
//!   or earlier if the group's retention has since become shorter; the store's shredding
//!   makes it unreadable on disk within a period of its expiry.

mod delete;
mod knock;
mod repair;

pub use repair::Caller;

use crate::hub::{Hub, PushItem};
use crate::metrics::Metrics;
use crate::store::shred::{Expiry, period_for};
use crate::store::{BlobInfo, GroupMeta, Slot, SlotKey, Store, StoreError};
use kith_protocol::frame::AdminPublicKey;
use kith_protocol::frame::{AccessPublicKey, blob_id};
use kith_protocol::limits::{
    MAX_ADMIN_KEYS, MAX_BLOB, MAX_FETCH_BYTES, MAX_FETCH_MESSAGES, MAX_FIRST_SEQ,
    MAX_INVITE_TTL_SECS, MIN_RETENTION_SECS,
};
use kith_protocol::padding::is_bucket;
use kith_protocol::{
    BlobId, Epoch, ErrorCode, GroupId, Message, MessageKind, PostKind, Push, RelayFrame, Response,
    Seq, SlotId, access,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

/// Limits the relay logic enforces.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Age after which messages are deleted.
    pub retention: Duration,
    /// Per-group byte quota.
    pub max_group_bytes: u64,
    /// Per-group message quota.
    pub max_group_messages: u64,
    /// Per-group blob byte quota (refused beyond, never dropped).
    pub max_group_blob_bytes: u64,
    /// Relay-wide cap on what invite slots hold (invitations, answers, welcomes):
    /// without it, anyone could fill the disk with slots that need no group.
    pub max_invite_bytes: u64,
    /// Creation secret, if creation is restricted.
    pub creation_secret: Option<Vec<u8>>,
}

struct GroupState {
    meta: GroupMeta,
    /// Messages below this sequence number are durable and may be served.
    durable_next: Seq,
    /// The group was deleted ([`Relay::delete_group`]) while this state was held: a
    /// request that took it before then finds no group (the id may have a new group by
    /// now, with a state of its own).
    deleted: bool,
}

/// Locks a group's state, unless the group was deleted meanwhile (`no_such_group`).
fn live(state: &Mutex<GroupState>) -> Result<MutexGuard<'_, GroupState>, ErrorCode> {
    let st = state.lock().expect("group lock poisoned");
    if st.deleted {
        return Err(ErrorCode::NoSuchGroup);
    }
    Ok(st)
}

/// Something made durable by the next flush: a future answer waits on `done`.
pub struct Pending<T> {
    /// The value to answer with once durable.
    pub value: T,
    /// Fires with `Ok` once durable, or with the error to answer if the write was
    /// dropped (the store could not make it durable: nothing of it was kept).
    pub done: oneshot::Receiver<Result<(), ErrorCode>>,
}

struct Waiter {
    publish: Option<(Arc<PushItem>, Arc<Mutex<GroupState>>)>,
    /// A deleted group and the hub's [`Hub::stamp`] when it was deleted: once the
    /// deletion is durable, its subscriptions made before then are dropped.
    forget: Option<(GroupId, u64)>,
    done: oneshot::Sender<Result<(), ErrorCode>>,
    /// The store's [`Store::write_mark`] after the write: a sync that failed refuses
    /// only the writes past what earlier syncs made durable. (A writer's waiter can be
    /// queued after the sync that covered its write took its batch.)
    mark: u64,
}

/// How many idle groups the relay keeps in memory before it forgets the idle ones (they
/// are read from the store again when next used).
const MAX_CACHED_GROUPS: usize = 10_000;
/// How long the flusher waits at most for a backlogged store's checkpoints per sync (they
/// are working, but slowly: a disk much slower than the writers).
const BACKLOG_WAIT: Duration = Duration::from_secs(30);
/// How often an idle flusher retries a checkpoint that is due (one that failed, say).
const CHECKPOINT_RETRY: Duration = Duration::from_secs(1);

/// The relay's shared state.
pub struct Relay {
    store: Arc<dyn Store>,
    groups: Mutex<HashMap<GroupId, Arc<Mutex<GroupState>>>>,
    /// Held (shared) by every write from its first read of a group's state until its
    /// waiter is queued; held exclusively when a sync failed, to drop every write that is
    /// not durable and reload what the relay keeps in memory, with no write in between.
    /// Never held across an await.
    write_gate: RwLock<()>,
    /// Whether the store refused the last write (for logging the change only).
    refusing: std::sync::atomic::AtomicBool,
    flush_tx: mpsc::UnboundedSender<Waiter>,
    flush_rx: Mutex<Option<mpsc::UnboundedReceiver<Waiter>>>,
    /// Live subscriptions.
    pub hub: Hub,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    policy: Policy,
    /// Groups that keep things shorter than the relay's limit, with their retention:
    /// retention visits them between full sweeps, as often as their keys turn over.
    short: Mutex<HashMap<GroupId, u64>>,
    /// Woken when a group changes its retention, so that the retention task can plan
    /// its next run again.
    pub retention_changed: tokio::sync::Notify,
    /// What the stored invite slots hold ([`Slot::stored_bytes`]), counted against
    /// [`Policy::max_invite_bytes`]: grown before a write, given back if it fails.
    invite_bytes: AtomicU64,
    /// Every group's knock box (see [`knock`]).
    knocks: Mutex<knock::Boxes>,
}

/// A group's state as a connection sees it ([`Relay::group_info`]).
#[derive(Clone, Copy, Debug)]
pub struct GroupInfo {
    /// The current epoch.
    pub epoch: Epoch,
    /// The durable head: the sequence number the next message will get.
    pub head: Seq,
    /// The effective retention, seconds.
    pub retention_secs: u64,
    /// The retention the group asked for, as stored (0: the relay's default).
    pub retention_asked: u64,
    /// How many repairs voided authorizations (see [`repair`]).
    pub resets: u64,
    /// Until when commits are accepted only from admin connections.
    pub commit_lock_until: u64,
}

/// What one retention pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Messages.
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Blobs.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
}

impl std::ops::AddAssign for Removed {
    fn add_assign(&mut self, o: Self) {
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.blobs += o.blobs;
        self.blob_bytes += o.blob_bytes;
    }
}

/// Whether a record stored at `stored_at`, given `expires_at` then, is expired at `now`
/// for a group that now keeps things `retention` seconds.
fn expired(stored_at: u64, expires_at: Option<u64>, retention: u64, now: u64) -> bool {
    expires_at.is_some_and(|e| e <= now) || stored_at.saturating_add(retention) <= now
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn internal(e: StoreError) -> ErrorCode {
    // No ids in the message: the error text comes from the engine.
    tracing::error!(error = %e, "storage failure");
    ErrorCode::Internal
}

/// Stops the relay at once (no destructor runs, nothing more is written) after a sync
/// whose outcome is unknown: the disk may or may not have the last writes, and after a
/// failed `fdatasync` Linux may report later ones as done when they are not. Only the
/// next start's replay of the log can tell what is durable, as PostgreSQL does on such a
/// failure. Answers already given stay true: they were durable before.
fn fail_stop(error: &str) -> ! {
    tracing::error!(error, "storage failed to confirm a write; stopping");
    eprintln!(
        "kith-relay: {}",
        kith_i18n::t!("relay-disk-failed", error = error)
    );
    std::process::exit(74)
}

fn slot_key(slot: &SlotId) -> SlotKey {
    access::slot_key(slot)
}

impl Relay {
    /// A relay over `store`. Call [`Relay::run_flusher`] once, on a task, before use.
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        policy: Policy,
    ) -> anyhow::Result<Self> {
        let groups = store.groups()?;
        let max = policy.retention.as_secs().max(1);
        let short = groups
            .iter()
            .filter(|(_, m)| m.retention_secs != 0 && m.retention_secs < max)
            .map(|(id, m)| (*id, m.retention_secs))
            .collect();
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        let relay = Self {
            store,
            groups: Mutex::new(HashMap::new()),
            write_gate: RwLock::new(()),
            refusing: std::sync::atomic::AtomicBool::new(false),
            flush_tx,
            flush_rx: Mutex::new(Some(flush_rx)),
            hub: Hub::default(),
            metrics,
            policy,
            short: Mutex::new(short),
            retention_changed: tokio::sync::Notify::new(),
            invite_bytes: AtomicU64::new(0),
            knocks: Mutex::new(knock::Boxes::new()),
        };
        relay.set_gauges(&groups);
        relay.recount_slots()?;
        Ok(relay)
    }

    /// The relay's retention limit, seconds.
    pub fn max_retention(&self) -> u64 {
        self.policy.retention.as_secs().max(1)
    }

    /// A group's effective retention, seconds: its own if shorter, else the relay's, and
    /// never below the floor ([`MIN_RETENTION_SECS`]) unless the relay's own limit is.
    /// Keeps the list of groups whose retention is shorter than the relay's (the short
    /// sweeps' work) right after `meta`'s retention was set, and wakes the sweeper.
    fn note_short_retention(&self, group: &GroupId, meta: &GroupMeta) {
        let effective = self.retention_of(meta);
        {
            let mut short = self.short.lock().expect("retention lock poisoned");
            if effective < self.max_retention() {
                short.insert(*group, effective);
            } else {
                short.remove(group);
            }
        }
        self.retention_changed.notify_one();
    }

    fn retention_of(&self, meta: &GroupMeta) -> u64 {
        let floor = crate::crash::tunable("MIN_RETENTION_SECS", MIN_RETENTION_SECS as usize) as u64;
        match meta.retention_secs {
            0 => self.max_retention(),
            r => r.max(floor).min(self.max_retention()),
        }
    }

    /// Makes writes durable in batches: takes every waiter queued so far, syncs the store
    /// once for all of them, then (in queue order) publishes their messages and answers
    /// them. Writers queue while the previous sync runs, so under load one sync covers
    /// many writes. Returns when `stop` resolves and the queue is drained.
    ///
    /// A sync that failed cleanly ([`StoreError::NotDurable`]: a full disk) drops every
    /// write that is not durable and answers all of them
    /// [`ErrorCode::StorageUnavailable`]: nothing of them is kept, so nothing appears
    /// later unpushed and a client's retry makes no duplicate. A sync whose outcome is
    /// unknown ([`StoreError::Failed`]) stops the process: only the next open's replay
    /// can tell what reached the disk.
    pub async fn run_flusher(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let mut rx = self
            .flush_rx
            .lock()
            .expect("flusher lock poisoned")
            .take()
            .expect("run_flusher is called once");
        tokio::pin!(stop);
        let mut stopping = false;
        let mut retry = tokio::time::interval(CHECKPOINT_RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = if stopping {
                match rx.try_recv() {
                    Ok(w) => w,
                    Err(_) => break,
                }
            } else {
                tokio::select! {
                    w = rx.recv() => match w { Some(w) => w, None => break },
                    () = &mut stop => { stopping = true; continue; }
                    _ = retry.tick() => { self.maybe_checkpoint(); continue; }
                }
            };
            let mut batch = vec![first];
            while let Ok(w) = rx.try_recv() {
                batch.push(w);
            }
            // The durability tests widen the window in which writes reach the store
            // before this sync takes them but queue their waiters after this batch.
            let pause = crate::crash::tunable("FLUSH_PAUSE_MS", 0) as u64;
            if pause > 0 {
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let store = self.store.clone();
            let started = Instant::now();
            let result = match tokio::task::spawn_blocking(move || store.sync()).await {
                Ok(r) => r,
                Err(e) => Err(StoreError::Failed(format!("sync task: {e}"))),
            };
            self.metrics
                .flush_seconds
                .observe(started.elapsed().as_secs_f64());
            self.metrics.flush_batch.observe(batch.len() as f64);
            let durable_upto = match result {
                Ok(()) => {
                    self.maybe_checkpoint();
                    self.wait_for_checkpoints().await;
                    u64::MAX
                }
                Err(StoreError::Failed(e)) => fail_stop(&e),
                Err(e) => {
                    tracing::error!(error = %e, "storage could not make writes durable; they were refused");
                    self.roll_back(&mut rx, &mut batch);
                    let upto = self.store.synced_mark();
                    let refused = batch.iter().filter(|w| w.mark > upto).count();
                    self.metrics.writes_refused.inc_by(refused as u64);
                    upto
                }
            };
            for w in batch {
                let answer = if w.mark <= durable_upto {
                    Ok(())
                } else {
                    Err(ErrorCode::StorageUnavailable)
                };
                if answer.is_ok()
                    && let Some((item, state)) = w.publish
                {
                    let deleted = {
                        let mut st = state.lock().expect("group lock poisoned");
                        st.durable_next = st.durable_next.max(item.seq + 1);
                        st.deleted
                    };
                    // A group deleted since this write pushes nothing more.
                    if !deleted {
                        let dropped = self.hub.publish(&item);
                        self.metrics.slow_consumers.inc_by(dropped as u64);
                    }
                }
                if answer.is_ok()
                    && let Some((group, stamp)) = w.forget
                {
                    self.hub.unsubscribe_all(&group, stamp);
                }
                let _ = w.done.send(answer);
            }
        }
        match self.store.sync() {
            Ok(()) => {}
            Err(StoreError::Failed(e)) => fail_stop(&e),
            Err(e) => {
                internal(e);
            }
        }
    }

    /// Backpressure: while the store is backlogged (and its checkpoints work), waits (up
    /// to [`BACKLOG_WAIT`]) for them to catch up before the next sync, so that writers see
    /// latency and their connections stop being read. If checkpoints fail, it does not
    /// wait, and the store refuses writes (`Store::admit`).
    async fn wait_for_checkpoints(&self) {
        let started = Instant::now();
        while self.store.backlogged() && started.elapsed() < BACKLOG_WAIT {
            self.maybe_checkpoint();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Starts a checkpoint off the path of every post, if one is due.
    fn maybe_checkpoint(&self) {
        if self.store.wants_checkpoint() {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || match store.checkpoint() {
                Ok(()) => {}
                // Waits for free space; the log keeps everything meanwhile.
                Err(StoreError::Refused(e)) => tracing::debug!(error = %e, "checkpoint waits"),
                Err(StoreError::Failed(e)) => fail_stop(&e),
                Err(e) => {
                    internal(e);
                }
            });
        }
    }

    /// After a clean sync failure: with no write in progress, drops every write the store
    /// has not made durable, fails every waiter (each waits for one of those writes), and
    /// reloads what the relay keeps in memory from what is durable.
    fn roll_back(&self, rx: &mut mpsc::UnboundedReceiver<Waiter>, batch: &mut Vec<Waiter>) {
        let _gate = self.write_gate.write().expect("write gate poisoned");
        self.store.discard_unsynced();
        while let Ok(w) = rx.try_recv() {
            batch.push(w);
        }
        let mut groups = self.groups.lock().expect("groups lock poisoned");
        groups.retain(|id, state| {
            let mut st = state.lock().expect("group lock poisoned");
            match self.store.group(id) {
                Ok(Some(meta)) => {
                    st.meta = meta;
                    true
                }
                _ => false,
            }
        });
        drop(groups);
        let _ = self.recount_slots();
        if let Ok(all) = self.store.groups() {
            self.set_gauges(&all);
            let max = self.max_retention();
            *self.short.lock().expect("retention lock poisoned") = all
                .iter()
                .filter(|(_, m)| m.retention_secs != 0 && m.retention_secs < max)
                .map(|(id, m)| (*id, m.retention_secs))
                .collect();
        }
    }

    /// Counts what the stored slots hold and rebuilds the knock boxes, from the store.
    fn recount_slots(&self) -> Result<(), StoreError> {
        let mut total = 0;
        let mut boxes = knock::Boxes::new();
        for (key, _) in self.store.slot_expiries()? {
            let Some(slot) = self.store.slot(&key)? else {
                continue;
            };
            total += slot.stored_bytes();
            if let Some(group) = slot.knock_of() {
                boxes.entry(group).or_default().insert(key, true);
            }
        }
        self.invite_bytes.store(total, Ordering::Relaxed);
        *self.knocks.lock().expect("knock lock poisoned") = boxes;
        Ok(())
    }

    /// Swaps a slot ([`Store::swap_slot`]) within the relay-wide invite cap.
    fn swap_slot(
        &self,
        key: &SlotKey,
        old: Option<&Slot>,
        new: Option<&Slot>,
    ) -> Result<bool, ErrorCode> {
        let before = old.map_or(0, Slot::stored_bytes);
        let after = new.map_or(0, Slot::stored_bytes);
        let grow = after.saturating_sub(before);
        if grow > 0 {
            let cap = self.policy.max_invite_bytes;
            self.invite_bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    n.checked_add(grow).filter(|&t| t <= cap)
                })
                .map_err(|_| ErrorCode::InvitesFull)?;
        }
        let swapped = self.store.swap_slot(key, old, new);
        let give_back = match swapped {
            Ok(true) => before.saturating_sub(after),
            _ => grow,
        };
        self.release_invite_bytes(give_back);
        swapped.map_err(internal)
    }

    fn release_invite_bytes(&self, n: u64) {
        // Saturating: a roll-back may have recounted meanwhile.
        let _ = self
            .invite_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(n))
            });
    }

    fn set_gauges(&self, groups: &[(GroupId, GroupMeta)]) {
        let m = &self.metrics;
        m.groups.set(groups.len() as i64);
        let sum = |f: fn(&GroupMeta) -> u64| groups.iter().map(|(_, g)| f(g) as i64).sum();
        m.messages_stored.set(sum(|g| g.messages));
        m.bytes_stored.set(sum(|g| g.bytes));
        m.blobs_stored.set(sum(|g| g.blobs));
        m.blob_bytes_stored.set(sum(|g| g.blob_bytes));
    }

    /// Shared hold of the write gate, taken by every write before it reads state.
    fn writing(&self) -> Result<RwLockReadGuard<'_, ()>, ErrorCode> {
        use std::sync::atomic::Ordering;
        match self.store.admit() {
            Ok(()) => {
                if self.refusing.swap(false, Ordering::Relaxed) {
                    tracing::info!("storage takes writes again");
                }
            }
            Err(e) => {
                // Once per spell, not once per write.
                if !self.refusing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "storage refuses writes for now");
                }
                self.metrics.writes_refused.inc();
                return Err(ErrorCode::StorageUnavailable);
            }
        }
        Ok(self.write_gate.read().expect("write gate poisoned"))
    }

    /// Waits until every write made so far is durable (retention's removals).
    pub async fn flush(&self) -> Result<(), ErrorCode> {
        let (done, rx) = oneshot::channel();
        let _ = self.flush_tx.send(Waiter {
            publish: None,
            forget: None,
            done,
            mark: self.store.write_mark(),
        });
        rx.await.unwrap_or(Err(ErrorCode::ShuttingDown))
    }

    fn durable<T>(
        &self,
        value: T,
        publish: Option<(Arc<PushItem>, Arc<Mutex<GroupState>>)>,
    ) -> Pending<T> {
        self.queue(value, publish, None)
    }

    /// Queues a waiter for the next flush; see [`Waiter`] for `publish` and `forget`.
    fn queue<T>(
        &self,
        value: T,
        publish: Option<(Arc<PushItem>, Arc<Mutex<GroupState>>)>,
        forget: Option<(GroupId, u64)>,
    ) -> Pending<T> {
        let (done, rx) = oneshot::channel();
        // The flusher only stops after every connection has; a send error then means
        // the answer is never needed.
        let mark = self.store.write_mark();
        let _ = self.flush_tx.send(Waiter {
            publish,
            forget,
            done,
            mark,
        });
        Pending { value, done: rx }
    }

    fn state(&self, group: &GroupId) -> Result<Arc<Mutex<GroupState>>, ErrorCode> {
        let mut groups = self.groups.lock().expect("groups lock poisoned");
        if let Some(s) = groups.get(group) {
            return Ok(s.clone());
        }
        let meta = self
            .store
            .group(group)
            .map_err(internal)?
            .ok_or(ErrorCode::NoSuchGroup)?;
        let state = Arc::new(Mutex::new(GroupState {
            durable_next: meta.next_seq,
            meta,
            deleted: false,
        }));
        if groups.len() >= MAX_CACHED_GROUPS {
            // Forget the groups nobody holds: no write of theirs waits for a flush, so
            // what the store says of them is what is durable.
            groups.retain(|_, s| Arc::strong_count(s) > 1);
        }
        groups.insert(*group, state.clone());
        Ok(state)
    }

    /// `no_such_group` unless the group exists (and was not deleted since it was read).
    fn exists(&self, group: &GroupId) -> Result<(), ErrorCode> {
        let state = self.state(group)?;
        live(&state).map(drop)
    }

    /// Creates a group whose epoch-0 access key is `key` and first admin key `admin`.
    pub fn create_group(
        &self,
        key: AccessPublicKey,
        secret: &[u8],
        admin: AdminPublicKey,
    ) -> Result<Pending<GroupId>, ErrorCode> {
        let _writing = self.writing()?;
        self.check_creation_secret(secret)?;
        let meta = GroupMeta::new();
        loop {
            let id = GroupId::random();
            if self
                .store
                .create_group(&id, &meta, &key, std::slice::from_ref(&admin))
                .map_err(internal)?
            {
                self.metrics.groups.inc();
                return Ok(self.durable(id, None));
            }
        }
    }

    /// Creates a group under `id` at `epoch` whose log starts at `first_seq` (a group
    /// that moves here): `group_exists` if the id is taken, `bad_request` for a
    /// `first_seq` outside `1..=MAX_FIRST_SEQ`.
    // One argument per field of the request.
    #[allow(clippy::too_many_arguments)]
    pub fn create_group_at(
        &self,
        id: GroupId,
        epoch: Epoch,
        first_seq: Seq,
        key: AccessPublicKey,
        secret: &[u8],
        admins: &[AdminPublicKey],
        retention_secs: u64,
    ) -> Result<Pending<GroupId>, ErrorCode> {
        let _writing = self.writing()?;
        self.check_creation_secret(secret)?;
        if !(1..=MAX_FIRST_SEQ).contains(&first_seq) || admins.len() > MAX_ADMIN_KEYS {
            return Err(ErrorCode::BadRequest);
        }
        let meta = GroupMeta {
            epoch,
            next_seq: first_seq,
            first_seq,
            // The id may have been a deleted group's, whose authorizations connections
            // still hold with the repair count they were proved under. A random count
            // (below 2^62, so that repairs never overflow it) matches none of them but by
            // chance, and so voids them as a repair would: every connection proves access
            // to this group anew.
            resets: rand::random::<u64>() >> 2,
            // What the group asked of the relay it left, kept as asked (as `SetRetention`
            // does): a copy set up by a member who is no admin keeps the agreed
            // retention from the start, not the relay's default.
            retention_secs,
            ..GroupMeta::new()
        };
        if !self
            .store
            .create_group(&id, &meta, &key, admins)
            .map_err(internal)?
        {
            return Err(ErrorCode::GroupExists);
        }
        self.metrics.groups.inc();
        self.note_short_retention(&id, &meta);
        Ok(self.durable(id, None))
    }

    fn check_creation_secret(&self, secret: &[u8]) -> Result<(), ErrorCode> {
        if let Some(required) = &self.policy.creation_secret {
            // Hash both sides so that the comparison is constant-time whatever the
            // lengths.
            let want = Sha256::digest(required);
            let got = Sha256::digest(secret);
            if !bool::from(want.ct_eq(&got)) {
                return Err(ErrorCode::CreationForbidden);
            }
        }
        Ok(())
    }

    /// The access key of `(group, epoch)`.
    pub fn access_key(
        &self,
        group: &GroupId,
        epoch: Epoch,
    ) -> Result<Option<AccessPublicKey>, ErrorCode> {
        self.exists(group)?;
        self.store.access_key(group, epoch).map_err(internal)
    }

    /// The group's current epoch and durable head.
    pub fn head(&self, group: &GroupId) -> Result<(Epoch, Seq), ErrorCode> {
        let info = self.group_info(group)?;
        Ok((info.epoch, info.head))
    }

    /// What a connection needs to know of a group right now.
    pub fn group_info(&self, group: &GroupId) -> Result<GroupInfo, ErrorCode> {
        let state = self.state(group)?;
        let st = live(&state)?;
        Ok(GroupInfo {
            epoch: st.meta.epoch,
            head: st.durable_next,
            retention_secs: self.retention_of(&st.meta),
            retention_asked: st.meta.retention_secs,
            resets: st.meta.resets,
            commit_lock_until: st.meta.commit_lock_until,
        })
    }

    /// Stores a blob for a connection `authorized` for the group's current epoch;
    /// answers its id once durable. Putting stored bytes again stores nothing new.
    pub fn put_blob(
        &self,
        group: &GroupId,
        data: Vec<u8>,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<Pending<BlobId>, ErrorCode> {
        let _writing = self.writing()?;
        if data.len() > MAX_BLOB {
            return Err(ErrorCode::TooLarge);
        }
        if !is_bucket(data.len()) {
            return Err(ErrorCode::BadPadding);
        }
        let id = blob_id(&data);
        let len = data.len() as u64;
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if !authorized(st.meta.epoch, st.meta.resets) {
            return Err(ErrorCode::StaleEpoch);
        }
        let now = now_secs();
        let retention = self.retention_of(&st.meta);
        let mut meta = st.meta.clone();
        let mut replaced = None;
        if let Some(old) = self.store.blob_info(group, &id).map_err(internal)? {
            if !expired(old.stored_at, Some(old.expires_at), retention, now) {
                // The same bytes again (a retry): same id, nothing new. Answered after
                // the next flush, which also covers the first put if it is still queued.
                return Ok(self.durable(id, None));
            }
            // Expired but not removed yet: store it afresh.
            meta.blobs -= 1;
            meta.blob_bytes -= old.len;
            replaced = Some(old);
        }
        if meta.blob_bytes.saturating_add(len) > self.policy.max_group_blob_bytes {
            return Err(ErrorCode::QuotaExceeded);
        }
        if let Some(old) = &replaced {
            self.store
                .remove_blobs(group, &meta, std::slice::from_ref(old))
                .map_err(internal)?;
        }
        meta.blobs += 1;
        meta.blob_bytes += len;
        self.store
            .put_blob(group, &meta, &id, &data, now, Expiry::after(now, retention))
            .map_err(internal)?;
        st.meta = meta;
        drop(st);
        if let Some(old) = replaced {
            self.metrics.blobs_stored.dec();
            self.metrics.blob_bytes_stored.dec_by(old.len as i64);
        }
        self.metrics.blobs_stored.inc();
        self.metrics.blob_bytes_stored.inc_by(len as i64);
        Ok(self.durable(id, None))
    }

    /// A blob of the group, for a connection `authorized` for its current epoch.
    pub fn get_blob(
        &self,
        group: &GroupId,
        id: &BlobId,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<Vec<u8>, ErrorCode> {
        let retention = {
            let state = self.state(group)?;
            let st = live(&state)?;
            if !authorized(st.meta.epoch, st.meta.resets) {
                return Err(ErrorCode::StaleEpoch);
            }
            self.retention_of(&st.meta)
        };
        let info = self
            .store
            .blob_info(group, id)
            .map_err(internal)?
            .ok_or(ErrorCode::NoSuchBlob)?;
        if expired(info.stored_at, Some(info.expires_at), retention, now_secs()) {
            return Err(ErrorCode::NoSuchBlob);
        }
        self.store
            .blob(group, id)
            .map_err(internal)?
            .ok_or(ErrorCode::NoSuchBlob)
    }

    /// Stores a message for `epoch`, which the caller checked the connection is
    /// authorized for (as of the group's `resets`-th repair); `admin` is the admin key
    /// it proved, if any (commits need one while they are locked after a repair).
    pub fn post(
        &self,
        group: &GroupId,
        epoch: Epoch,
        resets: u64,
        admin: Option<&AdminPublicKey>,
        kind: PostKind,
        payload: Vec<u8>,
    ) -> Result<Pending<Seq>, ErrorCode> {
        let _writing = self.writing()?;
        if !is_bucket(payload.len()) {
            return Err(ErrorCode::BadPadding);
        }
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if epoch < st.meta.epoch {
            return Err(ErrorCode::StaleEpoch);
        }
        if epoch > st.meta.epoch || resets != st.meta.resets {
            return Err(ErrorCode::Unauthorized);
        }
        if matches!(kind, PostKind::Commit { .. })
            && now_secs() < st.meta.commit_lock_until
            && !admin.is_some_and(|k| self.has_admin_key(group, k).unwrap_or(false))
        {
            return Err(ErrorCode::CommitLocked);
        }
        let mut meta = st.meta.clone();
        let len = payload.len() as u64;
        // Make room: the quota is a ring, oldest out first.
        let mut freed_bytes = 0u64;
        let policy = &self.policy;
        let full = |m: &GroupMeta| {
            m.messages > 0
                && (m.messages + 1 > policy.max_group_messages
                    || m.bytes + len > policy.max_group_bytes)
        };
        if full(&meta) {
            self.store
                .scan_info(group, meta.first_seq, &mut |r| {
                    if !full(&meta) {
                        return ControlFlow::Break(());
                    }
                    meta.first_seq = r.seq + 1;
                    meta.messages -= 1;
                    meta.bytes = meta.bytes.saturating_sub(r.len);
                    freed_bytes += r.len;
                    ControlFlow::Continue(())
                })
                .map_err(internal)?;
        }
        let removed = st.meta.first_seq..meta.first_seq;
        let retention = self.retention_of(&meta);
        let (message_kind, next_key) = match kind {
            PostKind::Application => (MessageKind::Application, None),
            PostKind::Commit { next_access_key } => {
                meta.epoch += 1;
                (MessageKind::Commit, Some(next_access_key))
            }
        };
        let stored_at = now_secs();
        let message = Message {
            seq: meta.next_seq,
            epoch,
            kind: message_kind,
            stored_at,
            payload,
        };
        meta.next_seq += 1;
        meta.messages += 1;
        meta.bytes += len;
        self.store
            .append(
                group,
                &meta,
                &message,
                Expiry::after(stored_at, retention),
                next_key.as_ref(),
                removed.clone(),
            )
            .map_err(internal)?;
        st.meta = meta;
        let seq = message.seq;
        let frame = RelayFrame::Push(Push::Message {
            group: *group,
            message,
        })
        .encode();
        let item = Arc::new(PushItem {
            group: *group,
            epoch,
            resets: Some(st.meta.resets),
            seq,
            frame: crate::coalesce::binary_frame(&frame),
        });
        // Queued under the group's lock: the flusher answers and pushes in queue order,
        // so a later sequence number of this group can never be queued (and pushed)
        // before an earlier one.
        let pending = self.durable(seq, Some((item, state.clone())));
        drop(st);
        self.metrics
            .messages_stored
            .inc_by(1 - (removed.end - removed.start) as i64);
        self.metrics
            .bytes_stored
            .inc_by(len as i64 - freed_bytes as i64);
        Ok(pending)
    }

    /// Reads durable messages from `from` on, as far as `authorized` allows.
    pub fn fetch(
        &self,
        group: &GroupId,
        from: Seq,
        limit: u32,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<Response, ErrorCode> {
        let info = self.group_info(group)?;
        let head = info.head;
        let limit = limit.clamp(1, MAX_FETCH_MESSAGES) as usize;
        let mut messages: Vec<Message> = Vec::new();
        let mut bytes = 0usize;
        let mut needs_epoch = None;
        let mut next = from;
        self.store
            .scan(group, from, &mut |m| {
                if m.seq >= head || messages.len() >= limit {
                    return ControlFlow::Break(());
                }
                if !authorized(m.epoch, info.resets) {
                    needs_epoch = Some(m.epoch);
                    next = m.seq;
                    return ControlFlow::Break(());
                }
                if !messages.is_empty() && bytes + m.payload.len() > MAX_FETCH_BYTES {
                    return ControlFlow::Break(());
                }
                bytes += m.payload.len();
                next = m.seq + 1;
                messages.push(m);
                ControlFlow::Continue(())
            })
            .map_err(internal)?;
        Ok(Response::Messages {
            messages,
            next,
            head,
            needs_epoch,
        })
    }

    /// Leaves a sealed invitation in a new slot.
    pub fn put_invite(
        &self,
        slot: &SlotId,
        manage_hash: [u8; 32],
        ttl_secs: u64,
        invitation: Vec<u8>,
    ) -> Result<Pending<u64>, ErrorCode> {
        let _writing = self.writing()?;
        if ttl_secs == 0 || ttl_secs > MAX_INVITE_TTL_SECS {
            return Err(ErrorCode::BadRequest);
        }
        if !is_bucket(invitation.len()) {
            return Err(ErrorCode::BadPadding);
        }
        let expires_at = now_secs().saturating_add(ttl_secs);
        let new = Slot {
            expires_at,
            manage_hash,
            invitation,
            answer: None,
            welcome: None,
        };
        self.create_slot(&slot_key(slot), &new)?;
        Ok(self.durable(expires_at, None))
    }

    /// Stores a new slot: `slot_exists` if one is there, whether or not there is room.
    fn create_slot(&self, key: &SlotKey, new: &Slot) -> Result<(), ErrorCode> {
        let swapped = match self.swap_slot(key, None, Some(new)) {
            Err(ErrorCode::InvitesFull) if self.store.slot(key).map_err(internal)?.is_some() => {
                false
            }
            r => r?,
        };
        if swapped {
            Ok(())
        } else {
            Err(ErrorCode::SlotExists)
        }
    }

    fn live_slot(&self, key: &SlotKey) -> Result<Slot, ErrorCode> {
        let slot = self
            .store
            .slot(key)
            .map_err(internal)?
            .ok_or(ErrorCode::NoSuchInvite)?;
        if now_secs() >= slot.expires_at {
            return Err(ErrorCode::InviteExpired);
        }
        Ok(slot)
    }

    fn managed_slot(&self, key: &SlotKey, token: &[u8; 32]) -> Result<Slot, ErrorCode> {
        let slot = self.live_slot(key)?;
        if !access::manage_token_matches(token, &slot.manage_hash) {
            return Err(ErrorCode::Forbidden);
        }
        Ok(slot)
    }

    /// Applies `change` to a slot atomically, retrying if another writer got there
    /// first.
    fn update_slot(
        &self,
        key: &SlotKey,
        mut change: impl FnMut(&Slot) -> Result<Option<Slot>, ErrorCode>,
        mut load: impl FnMut(&Self) -> Result<Slot, ErrorCode>,
    ) -> Result<(), ErrorCode> {
        loop {
            let old = load(self)?;
            let new = change(&old)?;
            if self.swap_slot(key, Some(&old), new.as_ref())? {
                return Ok(());
            }
        }
    }

    /// The sealed invitation of a slot that is still open.
    pub fn get_invite(&self, slot: &SlotId) -> Result<Response, ErrorCode> {
        let s = self.live_slot(&slot_key(slot))?;
        if s.answer.is_some() {
            return Err(ErrorCode::AlreadyUsed);
        }
        Ok(Response::Invite {
            invitation: s.invitation,
            expires_at: s.expires_at,
        })
    }

    /// Answers a slot; exactly one answer ever wins.
    pub fn answer_invite(&self, slot: &SlotId, answer: Vec<u8>) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        if !is_bucket(answer.len()) {
            return Err(ErrorCode::BadPadding);
        }
        let key = slot_key(slot);
        self.update_slot(
            &key,
            |old| {
                if old.answer.is_some() {
                    return Err(ErrorCode::AlreadyUsed);
                }
                Ok(Some(Slot {
                    answer: Some(answer.clone()),
                    ..old.clone()
                }))
            },
            |r| r.live_slot(&key),
        )?;
        Ok(self.durable((), None))
    }

    /// The answer of a slot, for its admins.
    pub fn get_answer(&self, slot: &SlotId, token: &[u8; 32]) -> Result<Response, ErrorCode> {
        let s = self.managed_slot(&slot_key(slot), token)?;
        Ok(Response::Answer {
            welcomed: s.welcome.is_some(),
            answer: s.answer,
        })
    }

    /// Leaves the welcome for the joiner, once.
    pub fn put_welcome(
        &self,
        slot: &SlotId,
        token: &[u8; 32],
        welcome: Vec<u8>,
    ) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        if !is_bucket(welcome.len()) {
            return Err(ErrorCode::BadPadding);
        }
        let key = slot_key(slot);
        self.update_slot(
            &key,
            |old| {
                if old.answer.is_none() {
                    return Err(ErrorCode::NotAnswered);
                }
                if old.welcome.is_some() {
                    return Err(ErrorCode::AlreadyUsed);
                }
                Ok(Some(Slot {
                    welcome: Some(welcome.clone()),
                    ..old.clone()
                }))
            },
            |r| r.managed_slot(&key, token),
        )?;
        Ok(self.durable((), None))
    }

    /// The welcome of a slot, if put.
    pub fn get_welcome(&self, slot: &SlotId) -> Result<Response, ErrorCode> {
        let s = self.live_slot(&slot_key(slot))?;
        Ok(Response::Welcome { welcome: s.welcome })
    }

    /// Removes a slot (an admin revoking the invite).
    pub fn delete_invite(&self, slot: &SlotId, token: &[u8; 32]) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        let key = slot_key(slot);
        let mut knock_of = None;
        self.update_slot(
            &key,
            |old| {
                knock_of = old.knock_of();
                Ok(None)
            },
            |r| r.managed_slot(&key, token),
        )?;
        self.forget_knock(knock_of, &key);
        Ok(self.durable((), None))
    }

    /// Deletes what retention says must go from one group: expired messages (and the
    /// access keys of epochs that no longer have messages, except the current one) and
    /// expired blobs.
    fn trim_group(&self, id: &GroupId, now: u64) -> Result<Removed, StoreError> {
        let _writing = self.write_gate.read().expect("write gate poisoned");
        // A group deleted meanwhile (its id still in the sweep's list) has nothing left.
        let Ok(state) = self.state(id) else {
            return Ok(Removed::default());
        };
        let Ok(mut st) = live(&state) else {
            return Ok(Removed::default());
        };
        let retention = self.retention_of(&st.meta);
        let mut meta = st.meta.clone();
        let mut oldest_epoch = meta.epoch;
        let mut removed = Removed::default();
        let durable_next = st.durable_next;
        self.store.scan_info(id, meta.first_seq, &mut |m| {
            // Only durable messages: a message still waiting for its flush is new.
            if m.seq >= durable_next || !expired(m.stored_at, m.expires_at, retention, now) {
                oldest_epoch = m.epoch;
                return ControlFlow::Break(());
            }
            removed.messages += 1;
            removed.bytes += m.len;
            meta.first_seq = m.seq + 1;
            ControlFlow::Continue(())
        })?;
        let gone = st.meta.first_seq..meta.first_seq;
        let dead: Vec<BlobInfo> = if st.meta.blobs > 0 {
            self.store
                .blob_infos(id)?
                .into_iter()
                .filter(|b| expired(b.stored_at, Some(b.expires_at), retention, now))
                .collect()
        } else {
            Vec::new()
        };
        removed.blobs = dead.len() as u64;
        removed.blob_bytes = dead.iter().map(|b| b.len).sum();
        meta.messages = meta.messages.saturating_sub(gone.end - gone.start);
        meta.bytes = meta.bytes.saturating_sub(removed.bytes);
        meta.blobs = meta.blobs.saturating_sub(removed.blobs);
        meta.blob_bytes = meta.blob_bytes.saturating_sub(removed.blob_bytes);
        if gone.is_empty() && dead.is_empty() {
            // Every epoch before the current one ends with a commit, so an epoch's
            // key goes exactly when its last message does: nothing to do here.
            return Ok(removed);
        }
        if !gone.is_empty() {
            self.store.trim(id, &meta, gone, oldest_epoch)?;
        }
        if !dead.is_empty() {
            self.store.remove_blobs(id, &meta, &dead)?;
        }
        st.meta = meta;
        drop(st);
        self.metrics.messages_stored.dec_by(removed.messages as i64);
        self.metrics.bytes_stored.dec_by(removed.bytes as i64);
        self.metrics.blobs_stored.dec_by(removed.blobs as i64);
        self.metrics
            .blob_bytes_stored
            .dec_by(removed.blob_bytes as i64);
        Ok(removed)
    }

    /// Deletes what retention says must go, everywhere: expired messages and blobs of
    /// every group, expired invite slots, and the shredding keys of whatever expired (so
    /// that what lingers in the engine's files becomes unreadable). Returns what it
    /// removed and how many invite slots. The removals are durable after the next flush
    /// ([`Relay::flush`]).
    pub fn run_retention(&self, now: u64) -> Result<(Removed, u64), StoreError> {
        let mut removed = Removed::default();
        for (id, _) in self.store.groups()? {
            removed += self.trim_group(&id, now)?;
        }
        self.store.shred(now, self.max_retention())?;

        let mut removed_slots = 0;
        for (key, expires_at) in self.store.slot_expiries()? {
            let _writing = self.write_gate.read().expect("write gate poisoned");
            if now >= expires_at
                && let Some(slot) = self.store.slot(&key)?
                && self.store.swap_slot(&key, Some(&slot), None)?
            {
                self.release_invite_bytes(slot.stored_bytes());
                self.forget_knock(slot.knock_of(), &key);
                removed_slots += 1;
            }
        }
        Ok((removed, removed_slots))
    }

    /// Between full runs: trims the groups that keep things shorter than the relay's
    /// limit and destroys the shredding keys that expired. The removals are durable after
    /// the next flush ([`Relay::flush`]).
    pub fn run_short_retention(&self, now: u64) -> Result<Removed, StoreError> {
        let ids: Vec<GroupId> = self
            .short
            .lock()
            .expect("retention lock poisoned")
            .keys()
            .copied()
            .collect();
        let mut removed = Removed::default();
        for id in ids {
            removed += self.trim_group(&id, now)?;
        }
        self.store.shred(now, self.max_retention())?;
        Ok(removed)
    }

    /// How long the retention task may sleep from `now` before something expires: until
    /// the next shredding key is due, and no longer than the shortest period of a group
    /// with a short retention (whose next records get keys of that period). `None`: only
    /// the full runs matter.
    pub fn retention_due_in(&self, now: u64) -> Result<Option<Duration>, StoreError> {
        let next_key = self
            .store
            .next_shred(self.max_retention())?
            .map(|t| Duration::from_secs(t.saturating_sub(now)));
        let shortest = self
            .short
            .lock()
            .expect("retention lock poisoned")
            .values()
            .map(|r| Duration::from_secs(period_for(*r)))
            .min();
        Ok(match (next_key, shortest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}
