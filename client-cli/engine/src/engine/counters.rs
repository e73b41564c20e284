//! Each member's messages are counted, inside the encryption (`AppMessage::V2`), so that
//! a message of a sender that did not reach us shows as a gap with who and how many,
//! even when the relay renumbers the log to hide it. The relay's sequence numbers prove
//! nothing about what it left out; a sender's signed count does.

use super::records::GroupRecord;
use super::{Client, Result};
use crate::identity::IdentityKey;
use kith_protocol::GroupId;

/// The namespace of a group's counters: ours under [`OWN`], each sender's last one seen
/// under their identity key.
pub fn ns_counters(group: &GroupId) -> String {
    format!("counters/{}", group.to_hex())
}

const OWN: &[u8] = b"own";

/// The namespace of each sender's counters that did not reach us (a gap), by their
/// identity key: a message posted again after a relay was lost fills its place.
pub fn ns_missing(group: &GroupId) -> String {
    format!("missing/{}", group.to_hex())
}

/// The most missing counters remembered per sender (the latest).
const MAX_MISSING: u64 = 1024;

/// The namespace of the counters our messages in flight carry, by unconfirmed key.
pub fn ns_counted(group: &GroupId) -> String {
    format!("counted/{}", group.to_hex())
}

/// What a sender's counter says about the messages before it.
#[derive(Debug, PartialEq, Eq)]
pub enum Gap {
    /// The next one, or the first we see of them.
    None,
    /// This many of theirs did not reach us.
    Missing(u64),
    /// It comes after a later one of theirs, or again.
    Behind,
}

impl Client {
    /// The counter for our next message to `g`: one more than the last the relay is
    /// known to have stored. A message that never left (a crash before posting, a
    /// refusal) takes none, so that nobody sees a gap for it.
    pub(crate) fn next_own_counter(&self, g: &GroupRecord) -> Result<u64> {
        Ok(self
            .get::<u64>(&ns_counters(&g.relay_group), OWN)?
            .unwrap_or(0)
            + 1)
    }

    /// Notes (uncommitted) that the message about to be posted as the bytes with
    /// unconfirmed key `key` carries `counter`.
    pub(crate) fn note_counted(&self, g: &GroupRecord, key: &[u8; 32], counter: u64) -> Result<()> {
        self.put(&ns_counted(&g.relay_group), key, &counter)
    }

    /// The relay has the message with unconfirmed key `key` (it answered, or the
    /// message was met in the log): its counter is used up.
    pub(crate) fn confirm_counted(&self, g: &GroupRecord, key: &[u8; 32]) -> Result<()> {
        let counted = ns_counted(&g.relay_group);
        let Some(c) = self.get::<u64>(&counted, key)? else {
            return Ok(());
        };
        self.db().delete(&counted, key)?;
        let ns = ns_counters(&g.relay_group);
        if self.get::<u64>(&ns, OWN)?.is_none_or(|own| c > own) {
            self.put(&ns, OWN, &c)?;
        }
        Ok(())
    }

    /// The message with unconfirmed key `key` was not stored: its counter is free.
    pub(crate) fn drop_counted(&self, g: &GroupRecord, key: &[u8; 32]) -> Result<()> {
        self.db().delete(&ns_counted(&g.relay_group), key)?;
        Ok(())
    }

    /// Forgets the counters of members who joined, came back or left: a member who
    /// comes back counts from 1 again.
    pub(crate) fn forget_counters<'a>(
        &self,
        g: &GroupRecord,
        members: impl IntoIterator<Item = &'a IdentityKey>,
    ) -> Result<()> {
        let ns = ns_counters(&g.relay_group);
        let missing = ns_missing(&g.relay_group);
        for m in members {
            self.db().delete(&ns, m)?;
            self.db().delete(&missing, m)?;
        }
        Ok(())
    }

    /// Notes `sender`'s counter on a message they posted again (`AppMessage::Again`):
    /// whether it is new to us (above their last, or one that did not reach us), so
    /// that only those are shown.
    pub(crate) fn note_again(
        &self,
        g: &GroupRecord,
        sender: &IdentityKey,
        counter: u64,
    ) -> Result<bool> {
        let last = self.get::<u64>(&ns_counters(&g.relay_group), sender)?;
        if last.is_none_or(|l| counter > l) {
            self.note_counter(g, sender, counter)?;
            return Ok(true);
        }
        let ns = ns_missing(&g.relay_group);
        let mut missing = self
            .get::<std::collections::BTreeSet<u64>>(&ns, sender)?
            .unwrap_or_default();
        if !missing.remove(&counter) {
            return Ok(false);
        }
        self.put(&ns, sender, &missing)?;
        Ok(true)
    }

    /// Notes `sender`'s counter on a message of theirs and says what it shows.
    pub(crate) fn note_counter(
        &self,
        g: &GroupRecord,
        sender: &IdentityKey,
        counter: u64,
    ) -> Result<Gap> {
        let ns = ns_counters(&g.relay_group);
        let last = self.get::<u64>(&ns, sender)?;
        let gap = match last {
            None => Gap::None,
            Some(last) if counter == last + 1 => Gap::None,
            Some(last) if counter > last => Gap::Missing(counter - last - 1),
            Some(_) => Gap::Behind,
        };
        if last.is_none_or(|l| counter > l) {
            self.put(&ns, sender, &counter)?;
        }
        if let (Gap::Missing(n), Some(last)) = (&gap, last) {
            // Remembered, so that the sender's posting them again fills the gap.
            let ns = ns_missing(&g.relay_group);
            let mut missing = self
                .get::<std::collections::BTreeSet<u64>>(&ns, sender)?
                .unwrap_or_default();
            missing.extend((last + 1 + n.saturating_sub(MAX_MISSING))..counter);
            while missing.len() as u64 > MAX_MISSING {
                missing.pop_first();
            }
            self.put(&ns, sender, &missing)?;
        }
        Ok(gap)
    }
}
