//! Live delivery: which connections subscribed to which group, and each connection's
//! bounded queue of pushes (its outbox).
//!
//! Publishing never waits: a push that does not fit in a subscriber's outbox (by count or
//! by bytes) cuts that subscriber off instead of slowing the publisher, so one slow reader
//! cannot stall delivery to anyone else. The cut-off client reconnects and catches up from
//! its cursor; nothing is lost because every pushed message is already stored.

use bytes::Bytes;
use kith_protocol::{Epoch, GroupId, Seq};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// One stored message, encoded once as a `Push` frame and shared by every subscriber.
#[derive(Debug)]
pub struct PushItem {
    /// The group.
    pub group: GroupId,
    /// The message's epoch: delivered only to connections authorized for it.
    pub epoch: Epoch,
    /// The group's repair count when it was stored: delivered only to connections
    /// authorized since (see `relay::repair`). `None`: to every subscriber (a repair
    /// record, which holds no secret).
    pub resets: Option<u64>,
    /// The message's sequence number.
    pub seq: Seq,
    /// The encoded `RelayFrame::Push` inside its WebSocket frame
    /// (`coalesce::binary_frame`): written to each subscriber as it is.
    pub frame: Bytes,
}

/// The sending half of a connection's push queue.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Arc<PushItem>>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
    dead: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

/// The receiving half, owned by the connection task: the queue, and the signal that the
/// hub cut the connection off (separate, so that a `select!` can wait on both).
pub struct OutboxRx {
    /// Queued pushes.
    pub items: OutboxItems,
    /// Fires when the connection is cut off.
    pub cut: CutOff,
}

/// Queued pushes of one connection.
pub struct OutboxItems {
    rx: mpsc::Receiver<Arc<PushItem>>,
    queued: Arc<AtomicUsize>,
}

/// The cut-off signal of one connection.
pub struct CutOff {
    dead: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

/// Most pushes queued per connection, whatever their size.
const OUTBOX_ITEMS: usize = 4096;

/// A new outbox holding at most `max_bytes` of frames.
pub fn outbox(max_bytes: usize) -> (Outbox, OutboxRx) {
    let (tx, rx) = mpsc::channel(OUTBOX_ITEMS);
    let queued = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let cut = Arc::new(Notify::new());
    (
        Outbox {
            tx,
            queued: queued.clone(),
            max_bytes,
            dead: dead.clone(),
            cut: cut.clone(),
        },
        OutboxRx {
            items: OutboxItems { rx, queued },
            cut: CutOff { dead, cut },
        },
    )
}

impl Outbox {
    /// Queues `item`; false (and the connection is cut off) if it does not fit.
    pub fn try_push(&self, item: Arc<PushItem>) -> bool {
        if self.dead.load(Ordering::Relaxed) {
            return false;
        }
        let len = item.frame.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > self.max_bytes {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            self.cut_off();
            return false;
        }
        if self.tx.try_send(item).is_err() {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            self.cut_off();
            return false;
        }
        true
    }

    fn cut_off(&self) {
        self.dead.store(true, Ordering::Relaxed);
        // `notify_one` stores a permit if the connection is not waiting right now.
        self.cut.notify_one();
    }
}

impl OutboxItems {
    /// The next queued push.
    pub async fn recv(&mut self) -> Option<Arc<PushItem>> {
        let item = self.rx.recv().await?;
        self.queued.fetch_sub(item.frame.len(), Ordering::AcqRel);
        Some(item)
    }

    /// Pushes queued now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no push is queued now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The next queued push if there is one now (to write several with one flush).
    pub fn try_recv(&mut self) -> Option<Arc<PushItem>> {
        let item = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(item.frame.len(), Ordering::AcqRel);
        Some(item)
    }
}

impl CutOff {
    /// Resolves when the hub cut this connection off for not keeping up.
    pub async fn cut_off(&self) {
        if self.dead.load(Ordering::Relaxed) {
            return;
        }
        self.cut.notified().await;
    }
}

/// One subscription: the connection, its outbox, and its [`Hub::stamp`].
type Subscriber = (u64, Outbox, u64);

/// Subscriptions of all connections.
#[derive(Default)]
pub struct Hub {
    subs: Mutex<HashMap<GroupId, Vec<Subscriber>>>,
    /// Counts subscriptions made, so that a deleted group's can be told from those to a
    /// new group under the same id ([`Hub::unsubscribe_all`]).
    stamps: AtomicU64,
}

impl Hub {
    /// Adds connection `conn` as a subscriber of `group`.
    pub fn subscribe(&self, group: GroupId, conn: u64, outbox: Outbox) {
        let mut subs = self.subs.lock().expect("hub lock poisoned");
        let list = subs.entry(group).or_default();
        if !list.iter().any(|(c, _, _)| *c == conn) {
            let stamp = self.stamps.fetch_add(1, Ordering::Relaxed);
            list.push((conn, outbox, stamp));
        }
    }

    /// Removes connection `conn` from `group`.
    pub fn unsubscribe(&self, group: &GroupId, conn: u64) {
        let mut subs = self.subs.lock().expect("hub lock poisoned");
        if let Some(list) = subs.get_mut(group) {
            list.retain(|(c, _, _)| *c != conn);
            if list.is_empty() {
                subs.remove(group);
            }
        }
    }

    /// The stamp the next subscription gets: those made before now have a lower one.
    pub fn stamp(&self) -> u64 {
        // Under the lock, so that no subscription is being made with a stamp taken
        // before this one and added after.
        let _subs = self.subs.lock().expect("hub lock poisoned");
        self.stamps.load(Ordering::Relaxed)
    }

    /// Removes every subscription to `group` made before `stamp` (a deleted group's:
    /// those made since are to a new group under the same id).
    pub fn unsubscribe_all(&self, group: &GroupId, stamp: u64) {
        let mut subs = self.subs.lock().expect("hub lock poisoned");
        if let Some(list) = subs.get_mut(group) {
            list.retain(|(_, _, s)| *s >= stamp);
            if list.is_empty() {
                subs.remove(group);
            }
        }
    }

    /// Delivers `item` to every subscriber of its group, dropping those that cannot
    /// take it. Returns how many were dropped.
    pub fn publish(&self, item: &Arc<PushItem>) -> usize {
        let mut subs = self.subs.lock().expect("hub lock poisoned");
        let Some(list) = subs.get_mut(&item.group) else {
            return 0;
        };
        let before = list.len();
        list.retain(|(_, outbox, _)| outbox.try_push(item.clone()));
        let dropped = before - list.len();
        if list.is_empty() {
            subs.remove(&item.group);
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(group: GroupId, seq: Seq, len: usize) -> Arc<PushItem> {
        Arc::new(PushItem {
            group,
            epoch: 0,
            resets: Some(0),
            seq,
            frame: Bytes::from(vec![0; len]),
        })
    }

    #[tokio::test]
    async fn slow_subscriber_is_cut_off_and_others_keep_receiving() {
        let hub = Hub::default();
        let g = GroupId([1; 16]);
        let (slow, slow_rx) = outbox(1000);
        let (fast, fast_rx) = outbox(1000);
        let mut fast_rx = fast_rx.items;
        hub.subscribe(g, 1, slow);
        hub.subscribe(g, 2, fast);
        for seq in 1..=3 {
            assert_eq!(
                hub.publish(&item(g, seq, 400)),
                if seq == 3 { 1 } else { 0 }
            );
            assert_eq!(fast_rx.recv().await.unwrap().seq, seq);
        }
        // The slow one was told.
        tokio::time::timeout(std::time::Duration::from_secs(1), slow_rx.cut.cut_off())
            .await
            .unwrap();
        assert_eq!(hub.publish(&item(g, 4, 400)), 0);
        assert_eq!(fast_rx.recv().await.unwrap().seq, 4);
    }

    #[tokio::test]
    async fn a_deleted_groups_subscriptions_go_and_later_ones_stay() {
        let hub = Hub::default();
        let (g, other) = (GroupId([1; 16]), GroupId([2; 16]));
        let (before, mut before_rx) = outbox(1000);
        let (after, mut after_rx) = outbox(1000);
        hub.subscribe(g, 1, before.clone());
        hub.subscribe(other, 1, before);
        let stamp = hub.stamp();
        hub.subscribe(g, 2, after);
        hub.unsubscribe_all(&g, stamp);
        hub.publish(&item(g, 1, 10));
        hub.publish(&item(other, 1, 10));
        assert_eq!(after_rx.items.recv().await.unwrap().group, g);
        assert_eq!(before_rx.items.recv().await.unwrap().group, other);
        assert!(before_rx.items.try_recv().is_none());
    }
}
