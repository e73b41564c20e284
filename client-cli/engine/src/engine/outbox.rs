//! The outbox: texts the user sent that the relay has not stored yet, kept in the
//! encrypted store so that neither a relay outage nor quitting (nor a crash) loses
//! them. `kith send` puts its text here before trying, and so does the chat; whatever
//! could not go out then goes with the next `kith send`, `kith sync` or chat, in the
//! order it was written. `kith outbox` lists it.
//!
//! Never twice: an attempt to send an entry notes, in the same commit as its ratchet
//! step and its [`Unconfirmed`](super::records::Unconfirmed) entry, which entry it
//! is (`outbox-attempts`, by the posted bytes' key). The relay's answer removes the
//! entry with that note; if the answer was lost (a crash, a dropped connection), the
//! echo met by a later sync removes it the same way ([`Client::settle_attempt`]). Only
//! when that `Unconfirmed` entry is dropped as never stored (a day later, after a
//! catch-up read the whole log) does the entry become sendable again. A live process
//! that sees the answer lost drops the entry and says so, as `kith send` always did:
//! the user decides whether to send it again.

use super::records::{NS_OUTBOX, NS_OUTBOX_ATTEMPTS, NS_OUTBOX_NEXT};
use super::*;
use crate::payload::Body;
use serde::{Deserialize, Serialize};

/// An entry as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    group: GroupId,
    text: String,
    created: u64,
}

/// A message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// Its number in the outbox (never reused).
    pub id: u64,
    /// The group (our id).
    pub group: GroupId,
    /// The text.
    pub text: String,
    /// When it was written, Unix seconds.
    pub created: u64,
    /// An attempt was handed to the relay and its answer never came: it leaves the
    /// outbox when the relay's copy is met, or becomes sendable again a day later if
    /// none is.
    pub pending: bool,
}

/// A queued message that did not go out.
#[derive(Debug)]
pub struct NotSent {
    /// Why.
    pub error: ClientError,
    /// It is still in the outbox (the relay could not be reached, the group is on hold):
    /// it goes out with the next send, sync or chat. Otherwise it was dropped from it
    /// (refused for good, or its fate is unknown and a resend could double it).
    pub kept: bool,
}

fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

impl Client {
    /// Puts a text in the outbox (durably) and returns its number; it is checked as a
    /// send would check it, so a text that could never go is refused here.
    pub fn queue_text(&self, group: &GroupId, text: &str) -> Result<u64> {
        text_body(text)?;
        let g = self.load_group(group)?;
        // Not a member any more: nothing to wait for. (A group on hold may be repaired:
        // its messages wait.)
        if g.status != GroupStatus::Active {
            return Err(ClientError::NotMember(self.status_text(&g)));
        }
        let id = self.get::<u64>(NS_OUTBOX_NEXT, b"next")?.unwrap_or(1);
        let created = now_secs();
        let entry = Entry {
            group: *group,
            text: text.to_owned(),
            created,
        };
        let bytes =
            postcard::to_stdvec(&entry).map_err(|_| StoreError::Corrupt("unencodable record"))?;
        // The plaintext goes when the message would have, under a disappearing timer.
        match g.state.disappear_secs {
            0 => self.db().put_raw(NS_OUTBOX, &id_key(id), &bytes)?,
            secs => self.db().put_raw_expiring(
                NS_OUTBOX,
                &id_key(id),
                &bytes,
                created.saturating_add(secs),
            )?,
        }
        self.put(NS_OUTBOX_NEXT, b"next", &(id + 1))?;
        self.db().commit()?;
        Ok(id)
    }

    /// The outbox, oldest first.
    pub fn outbox(&self) -> Result<Vec<Queued>> {
        let pending: HashSet<u64> = self
            .scan::<u64>(NS_OUTBOX_ATTEMPTS)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let mut out = Vec::new();
        for (key, e) in self.scan::<Entry>(NS_OUTBOX)? {
            let Ok(k) = <[u8; 8]>::try_from(key.as_slice()) else {
                continue;
            };
            let id = u64::from_be_bytes(k);
            out.push(Queued {
                id,
                group: e.group,
                text: e.text,
                created: e.created,
                pending: pending.contains(&id),
            });
        }
        Ok(out)
    }

    /// Drops a message from the outbox (not committed); whether it was there.
    fn unqueue_uncommitted(&self, id: u64) -> Result<bool> {
        let there = self.db().get_raw(NS_OUTBOX, &id_key(id))?.is_some();
        self.db().delete(NS_OUTBOX, &id_key(id))?;
        for (key, of) in self.scan::<u64>(NS_OUTBOX_ATTEMPTS)? {
            if of == id {
                self.db().delete(NS_OUTBOX_ATTEMPTS, &key)?;
            }
        }
        Ok(there)
    }

    /// Drops a message from the outbox (the user's choice); whether it was there.
    pub fn unqueue(&self, id: u64) -> Result<bool> {
        let there = self.unqueue_uncommitted(id)?;
        self.db().commit()?;
        Ok(there)
    }

    /// Sends one message of the outbox. Sent, it leaves the outbox; not sent, it stays
    /// when a later try can send it ([`NotSent::kept`]) and is dropped otherwise.
    pub async fn send_queued(&mut self, id: u64) -> std::result::Result<Seq, NotSent> {
        let kept = |error| NotSent { error, kept: true };
        let entry = match self.get::<Entry>(NS_OUTBOX, &id_key(id)) {
            Ok(Some(e)) => e,
            Ok(None) => {
                return Err(NotSent {
                    error: ClientError::Usage(t!("engine-outbox-gone", id = id)),
                    kept: false,
                });
            }
            Err(e) => return Err(kept(e)),
        };
        let body = text_body(&entry.text).map_err(kept)?;
        match self.send_body_from(&entry.group, body, Some(id)).await {
            Ok(seq) => Ok(seq),
            Err(error) => {
                let stays = match &error {
                    ClientError::Store(_) => true,
                    ClientError::Unconfirmed(_) => false,
                    ClientError::Relay(RelayError::Setup(_) | RelayError::Certificate(_)) => true,
                    ClientError::Relay(RelayError::PlainWs(_) | RelayError::Protocol(_)) => true,
                    e if e.is_passing() => true,
                    ClientError::Usage(_) => self.on_hold(&entry.group).ok().flatten().is_some(),
                    _ => false,
                };
                if !stays {
                    let dropped = self.unqueue(id);
                    if let Err(e) = dropped {
                        return Err(kept(e));
                    }
                }
                Err(NotSent { error, kept: stays })
            }
        }
    }

    /// Sends what the outbox holds, oldest first. A group whose message stays stops
    /// there (its order is kept), and so do the other groups of a relay that could not
    /// be reached; entries whose last attempt is unsettled wait (see the module's doc).
    pub async fn flush_outbox(
        &mut self,
    ) -> Result<Vec<(Queued, std::result::Result<Seq, NotSent>)>> {
        let mut done = Vec::new();
        let mut stopped_groups: HashSet<GroupId> = HashSet::new();
        let mut down_relays: HashSet<String> = HashSet::new();
        for q in self.outbox()? {
            if q.pending || stopped_groups.contains(&q.group) {
                continue;
            }
            let relay = self.load_group(&q.group).ok().map(|g| g.relay);
            if relay.as_ref().is_some_and(|r| down_relays.contains(r)) {
                continue;
            }
            let r = self.send_queued(q.id).await;
            if let Err(n) = &r {
                if n.kept {
                    stopped_groups.insert(q.group);
                }
                if let (Some(relay), ClientError::Relay(RelayError::Connect(_))) = (relay, &n.error)
                {
                    down_relays.insert(relay);
                }
                if matches!(n.error, ClientError::Store(_)) {
                    done.push((q, r));
                    break;
                }
            }
            done.push((q, r));
        }
        Ok(done)
    }

    /// The relay stored the attempt `key` (its answer, or its echo met in the log):
    /// the outbox entry it was made for leaves. Not committed.
    pub(crate) fn settle_attempt(&self, key: &[u8; 32]) -> Result<()> {
        if let Some(id) = self.get::<u64>(NS_OUTBOX_ATTEMPTS, key)? {
            self.db().delete(NS_OUTBOX, &id_key(id))?;
            self.db().delete(NS_OUTBOX_ATTEMPTS, key)?;
        }
        Ok(())
    }

    /// The attempt `key` was certainly not stored: its entry may be sent again. Not
    /// committed.
    pub(crate) fn forget_attempt(&self, key: &[u8; 32]) -> Result<()> {
        self.db().delete(NS_OUTBOX_ATTEMPTS, key)?;
        Ok(())
    }

    /// Notes (uncommitted) that the attempt `key` is sent for outbox entry `id`.
    pub(crate) fn note_attempt(&self, key: &[u8; 32], id: u64) -> Result<()> {
        self.put(NS_OUTBOX_ATTEMPTS, key, &id)
    }
}

/// The body of a text message, refused as a send refuses it (too long, empty).
pub(crate) fn text_body(text: &str) -> Result<Body> {
    if let Some((over, total)) = crate::payload::chars_over_limit(text) {
        return Err(ClientError::Usage(t!(
            "engine-send-too-long",
            over = over,
            total = total
        )));
    }
    if text.trim().is_empty() {
        return Err(ClientError::Usage(t!("engine-send-nothing")));
    }
    Ok(Body::Text {
        text: text.to_owned(),
        sent_at: now_secs(),
    })
}
