//! The loop's side of the outbox (`engine/outbox.rs` keeps it in the store): what the
//! screen typed goes to the store first, then out in order once its relay is
//! connected; what an earlier run (or a `kith send` through the daemon) left unsent is
//! shown and sent the same way.

use super::{Engine, Outgoing, never_posted, transient};
use crate::engine::{ClientError, NotSent};
use crate::live::messages::{Event, OutState};
use kith_i18n::t;
use kith_protocol::GroupId;

/// Screen ids of messages the loop found in the store rather than got from the screen:
/// the store's number with the top bit set, apart from the ids a screen picks.
const STORED: u64 = 1 << 63;

impl Engine<'_> {
    /// A text the screen sent: into the store's outbox, then the queue.
    pub(super) fn queue(&mut self, id: u64, group: GroupId, text: String) {
        let stored = match self.client.queue_text(&group, &text) {
            Ok(n) => n,
            Err(e @ ClientError::Store(_)) => return self.store_failed(e),
            Err(e) => {
                return self.emit(Event::Outbox {
                    id,
                    state: OutState::Failed(e.to_string()),
                });
            }
        };
        self.outbox.push_back(Outgoing {
            id,
            stored,
            group,
            text,
            was_held: false,
        });
        if !self.reachable(&group) {
            self.emit(Event::Outbox {
                id,
                state: OutState::Queued,
            });
        }
    }

    /// Takes up what the store's outbox holds that the queue does not (left by an
    /// earlier run, or by a command that could not send), and lets go of what left the
    /// store meanwhile (a command sent or dropped it).
    pub(super) fn load_outbox(&mut self) {
        let stored = match self.client.outbox() {
            Ok(q) => q,
            Err(e) => return self.store_failed(e),
        };
        let here = |n: u64| stored.iter().any(|q| q.id == n && !q.pending);
        for queue in [&mut self.outbox, &mut self.held] {
            let gone: Vec<u64> = queue
                .iter()
                .filter(|o| !here(o.stored))
                .map(|o| o.id)
                .collect();
            queue.retain(|o| here(o.stored));
            for id in gone {
                let _ = self.events.send(Event::Outbox {
                    id,
                    state: OutState::Sent,
                });
            }
        }
        for q in stored {
            let known = self
                .outbox
                .iter()
                .chain(self.held.iter())
                .any(|o| o.stored == q.id);
            if q.pending || known {
                continue;
            }
            let o = Outgoing {
                id: STORED | q.id,
                stored: q.id,
                group: q.group,
                text: q.text,
                was_held: false,
            };
            self.tell_unsent(&o, q.created);
            self.outbox.push_back(o);
        }
    }

    /// Tells the screen of a queued message it may not know (a screen that attached
    /// later, or one found in the store).
    fn tell_unsent(&self, o: &Outgoing, created: u64) {
        self.emit(Event::Unsent {
            id: o.id,
            group: o.group,
            text: o.text.clone(),
            time: created,
        });
    }

    /// Tells a screen that attached to a running loop of everything queued or held.
    pub(super) fn tell_outbox(&self) {
        let now = crate::engine::now_secs();
        for o in self.outbox.iter().chain(self.held.iter()) {
            self.tell_unsent(o, now);
        }
    }

    /// Drops the queued and held messages of `group` (left, discarded), from the store
    /// too; `held_only` keeps those merely waiting for the connection.
    pub(super) fn drop_queued(&mut self, group: &GroupId, held_only: bool) -> usize {
        let mut dropped = Vec::new();
        for queue in [&mut self.held, &mut self.outbox] {
            let (out, keep) = queue.drain(..).partition(|o| o.group == *group);
            *queue = keep;
            dropped.extend(out);
            if held_only {
                break;
            }
        }
        for o in &dropped {
            if let Err(e) = self.client.unqueue(o.stored) {
                self.store_failed(e);
                break;
            }
        }
        dropped.len()
    }

    /// Drops every queued message: there is no group to send to any more.
    pub(super) fn fail_all_queued(&mut self, why: String) {
        for o in std::mem::take(&mut self.outbox) {
            if let Err(e) = self.client.unqueue(o.stored) {
                return self.store_failed(e);
            }
            self.emit(Event::Outbox {
                id: o.id,
                state: OutState::Failed(why.clone()),
            });
        }
    }

    pub(super) async fn send_next(&mut self, i: usize) {
        let Some(o) = self.outbox.remove(i) else {
            return;
        };
        if self.held.iter().any(|h| h.group == o.group) {
            // Behind held messages of its group: it waits with them, in order; a
            // catch-up now tries them all again (the hold may be over).
            self.emit(Event::Outbox {
                id: o.id,
                state: OutState::Held,
            });
            if !o.was_held {
                self.dirty.insert(o.group);
            }
            self.held.push_back(Outgoing {
                was_held: true,
                ..o
            });
            return;
        }
        self.emit(Event::Outbox {
            id: o.id,
            state: OutState::Sending,
        });
        match self.client.send_queued(o.stored).await {
            Ok(_) => {
                self.on_hold.remove(&o.group);
                self.publish_group(&o.group);
                if self.viewing == Some(o.group) {
                    self.mark_read(&o.group);
                }
                self.publish_groups();
                self.emit(Event::Outbox {
                    id: o.id,
                    state: OutState::Sent,
                });
            }
            Err(NotSent {
                error: e @ ClientError::Store(_),
                ..
            }) => self.store_failed(e),
            Err(NotSent {
                error: ClientError::Usage(why),
                kept: true,
            }) if self.held_back(&o.group, &why) => {
                // Refused before anything was encrypted: it waits for the repair.
                self.emit(Event::Outbox {
                    id: o.id,
                    state: OutState::Held,
                });
                let group = o.group;
                self.held.push_back(Outgoing {
                    was_held: true,
                    ..o
                });
                self.set_on_hold(&group, why);
            }
            Err(NotSent { error, kept: true }) => {
                // Nothing reached the relay: back where it was in the queue, waiting
                // for the connection.
                let relay = self.relay_of(&o.group);
                let group = o.group;
                self.emit(Event::Outbox {
                    id: o.id,
                    state: OutState::Queued,
                });
                self.outbox.insert(i, o);
                match relay {
                    Some(r) if never_posted(&error) => self.lost(&r),
                    _ => self.failed_in(Some(&group), &t!("net-live-sending"), error),
                }
            }
            Err(NotSent { error, kept: false }) => {
                let why = if let ClientError::Unconfirmed(_) = error {
                    // Not sent again: a second copy would show twice to everyone.
                    t!("net-live-send-unconfirmed")
                } else if transient(&error) {
                    t!("net-live-send-unknown")
                } else {
                    error.to_string()
                };
                self.emit(Event::Outbox {
                    id: o.id,
                    state: OutState::Failed(why),
                });
                self.publish_group(&o.group);
                self.failed_in(Some(&o.group), &t!("net-live-sending"), error);
            }
        }
    }
}
