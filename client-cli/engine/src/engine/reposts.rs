//! Our own messages, posted again where the group went on (`AppMessage::Again`): when a
//! client fails over, or comes back home, the copy it goes to lacks what it wrote at the
//! one it left, which some members could not read (the relay was lost before they
//! fetched, or they were on the other side of a split). So each client keeps, for a
//! while, what it sent and where, and posts it again with its first counter; receivers
//! keep only what they lack (`counters.rs`: `note_again`).
//!
//! Texts, deletions and hidings go again. Files do not: their chunks are blobs at the
//! relay they were sent to, which a client that fails over cannot reach.

use super::records::*;
use super::{Client, ClientError, Result, now_secs};
use crate::payload::{AppMessage, Body};
use crate::relay::RelayError;
use kith_protocol::{ErrorCode, GroupId, PostKind};
use serde::{Deserialize, Serialize};

/// The namespace of the messages we sent to a group, by counter (8 bytes, big-endian).
pub fn ns_sent(group: &GroupId) -> String {
    format!("sent/{}", group.to_hex())
}

/// How long a message of ours is kept for posting again: a week.
pub const REPOST_WINDOW_SECS: u64 = 7 * 24 * 3600;

/// How many of our latest messages (by counter) are kept for posting again per group.
pub const MAX_SENT: u64 = 256;

/// A message we sent, and the copies of the group known to have it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sent {
    body: Body,
    /// When it was sent, Unix seconds.
    at: u64,
    /// (relay URL, the group's id there) of every copy it was posted at.
    places: Vec<(String, GroupId)>,
}

impl Client {
    /// Keeps a message we just posted (not committed: the post's commit carries it), if
    /// it is of a kind that goes again. It holds the plaintext, so it goes when the
    /// message would have, and after a week in any case.
    pub(crate) fn note_sent(&self, g: &GroupRecord, counter: u64, body: &Body) -> Result<()> {
        if !matches!(
            body,
            Body::Text { .. } | Body::Delete { .. } | Body::HideFrom { .. }
        ) {
            return Ok(());
        }
        let now = now_secs();
        let sent = Sent {
            body: body.clone(),
            at: now,
            places: vec![(g.relay.clone(), g.place.id)],
        };
        self.put_sent(g, counter, &sent)?;
        // Bounded by counters, which grow by one per message of ours: the one that falls
        // out of the last MAX_SENT goes (without reading the others on every send).
        if let Some(old) = counter.checked_sub(MAX_SENT) {
            self.db()
                .delete(&ns_sent(&g.relay_group), &old.to_be_bytes())?;
        }
        Ok(())
    }

    fn put_sent(&self, g: &GroupRecord, counter: u64, sent: &Sent) -> Result<()> {
        let bytes = postcard::to_stdvec(sent)
            .map_err(|_| crate::store::StoreError::Corrupt("unencodable record"))?;
        let mut until = sent.at.saturating_add(REPOST_WINDOW_SECS);
        if g.state.disappear_secs > 0 {
            until = until.min(sent.at.saturating_add(g.state.disappear_secs));
        }
        self.db().put_raw_expiring(
            &ns_sent(&g.relay_group),
            &counter.to_be_bytes(),
            &bytes,
            until,
        )?;
        Ok(())
    }

    /// Posts again, at our place, every message we sent in the window that the copy
    /// here is not known to have, oldest first. Returns how many went.
    pub(crate) async fn repost_own(&mut self, group: &GroupId) -> Result<usize> {
        let g = self.load_group(group)?;
        let here = (g.relay.clone(), g.place.id);
        let mut due: Vec<(u64, Sent)> = Vec::new();
        for (key, sent) in self.scan::<Sent>(&ns_sent(group))? {
            let Ok(counter) = <[u8; 8]>::try_from(key.as_slice()) else {
                continue;
            };
            if !sent.places.contains(&here) {
                due.push((u64::from_be_bytes(counter), sent));
            }
        }
        due.sort_by_key(|(c, _)| *c);
        let mut posted = 0;
        for (counter, mut sent) in due {
            self.post_again(group, counter, sent.body.clone()).await?;
            let g = self.load_group(group)?;
            sent.places.push(here.clone());
            self.put_sent(&g, counter, &sent)?;
            self.db().commit()?;
            posted += 1;
        }
        Ok(posted)
    }

    /// Encrypts and posts one message of ours again, with its first counter, at our
    /// place. No record and no counter of ours change: we have the message already. A
    /// lost answer is not retried: a copy too many is dropped by every receiver.
    async fn post_again(&mut self, group: &GroupId, counter: u64, body: Body) -> Result<()> {
        let padded = AppMessage::Again { counter, body }
            .to_padded()
            .map_err(|e| ClientError::Usage(e.to_string()))?;
        for _ in 0..8 {
            self.sync_group_inner(group).await?;
            let g = self.load_group(group)?;
            self.may_send(&g)?;
            let mut m = self.mls_group(&g)?;
            let epoch = m.epoch().as_u64();
            let payload = self.encrypt_app(&mut m, &padded)?;
            // The ratchet step first, as for every message.
            self.db().commit()?;
            let conn = self.ensure_auth(&g, &m).await?;
            match conn
                .post(g.place.id, epoch, PostKind::Application, payload)
                .await
            {
                Ok(_) => return Ok(()),
                Err(RelayError::Relay(ErrorCode::StaleEpoch)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ClientError::Relay(RelayError::Relay(ErrorCode::StaleEpoch)))
    }
}
