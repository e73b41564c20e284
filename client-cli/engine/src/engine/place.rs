//! Where a group lives, and how it outlives a relay.
//!
//! A group has a *home*: the relay every member reads and posts at while it answers
//! (`GroupState::home` once the group has fallbacks or has moved; before that, the relay
//! it was made on). Its state may name up to four *fallback* relays. Each client keeps
//! its *place*: the relay it reads and posts the group at now (`GroupRecord::relay`) and
//! the group's id there ([`Placement::id`]).
//!
//! * **A planned move** is an admin's commit that names a new home (`move_group`). Every
//!   member that processes it switches there (`follow_home`); the new home's log starts
//!   at a sequence number the commit names, above every number of the old one, so that
//!   records keyed by sequence numbers never meet. The copy left behind is deleted by an
//!   admin's client once every member was seen at the new home, or its relay's retention
//!   has passed ([`MovedFrom`]).
//! * **A failover**: a client whose place has not answered for
//!   [`Client::failover_after`] goes to the first of home and fallbacks that answers
//!   (`failover.rs`). A fallback's copy of the group is set up by the first member that
//!   comes, at the epoch it is in, under an id derived from the group's copy key, the
//!   relay and that epoch ([`copy_id`]): every member of the epoch derives the same id,
//!   and nobody outside the group can take it first.
//! * **No silent split.** The home wins while it answers: a client on a fallback looks
//!   at the home every [`Client::look_every`], and goes back as soon as the home takes
//!   it at its epoch; a client at home looks at the fallbacks as often, and tells its
//!   user of a copy there that others are writing to (members who cannot reach the
//!   home). Each client posts again, where it goes, its own messages that the copy it
//!   left has and the new one lacks (`reposts.rs`); receivers drop those they have.

use super::records::*;
use super::state::RelayPlace;
use super::{Client, ClientError, Result};
use crate::identity::IdentityKey;
use crate::relay::RelayError;
use kith_protocol::ErrorCode;
use kith_protocol::{GroupId, Seq};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Namespace of placements, by the group's id here.
pub const NS_PLACES: &str = "places";

/// Where a group is for this client, and what it knows of the group's other copies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The group's id at the relay this client reads and posts it at.
    pub id: GroupId,
    /// When that relay first failed to answer (or to know the group), Unix seconds; 0
    /// while it does.
    pub unreachable_since: u64,
    /// When this client last looked at the group's other relays, Unix seconds.
    pub last_look: u64,
    /// Copies this client read and left, by relay URL: the group's id there and the
    /// next sequence number to read, to go on from if it comes back.
    pub left: BTreeMap<String, (GroupId, Seq)>,
    /// Copies on fallback relays that others wrote to while this client was at home
    /// (a split), by relay URL: the head seen there, so that each is told once per
    /// growth.
    pub seen: BTreeMap<String, Seq>,
    /// The copy a planned move left behind, until it is deleted.
    pub moved_from: Option<MovedFrom>,
    /// This client came to this copy and has not said so there yet (its name, which
    /// tells an admin's client that one more member followed a move).
    pub announce: bool,
    /// This client failed over or came back home, and has not yet posted again here
    /// what it wrote at the copy it left (`reposts.rs`).
    pub repost: bool,
}

impl Placement {
    /// The placement of a group at the relay it was first known at, under its first id.
    pub fn at(id: GroupId) -> Self {
        Self {
            id,
            unreachable_since: 0,
            last_look: 0,
            left: BTreeMap::new(),
            seen: BTreeMap::new(),
            moved_from: None,
            announce: false,
            repost: false,
        }
    }
}

impl Default for Placement {
    /// Only a stand-in for `serde(skip)`: [`Client`] fills the real one in.
    fn default() -> Self {
        Self::at(GroupId([0; 16]))
    }
}

/// A copy of the group that a planned move left behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedFrom {
    /// The old home's URL.
    pub url: String,
    /// The group's id there.
    pub id: GroupId,
    /// When the move was processed here, Unix seconds.
    pub at: u64,
    /// After this (Unix seconds) the old relay has dropped everything a member could
    /// still need from it (its retention since the move): the copy goes even if some
    /// member never came.
    pub keep_until: u64,
    /// Members not yet seen at the new home.
    pub waiting: BTreeSet<IdentityKey>,
}

/// The id of the group's copy on the fallback relay `url`, set up at `epoch`: derived
/// from the group's copy key, so that only members know it. With the epoch in it, two
/// members who fail over at different epochs (one missed a commit that only the lost
/// relay held) make two copies, each usable by the members of its epoch, instead of one
/// copy the other cannot enter.
pub fn copy_id(copy_key: &[u8; 32], url: &str, epoch: u64) -> GroupId {
    use hkdf::Hkdf;
    use sha2::Sha256;
    let hk = Hkdf::<Sha256>::new(Some(b"kith copy id v1"), copy_key);
    let mut info = Vec::with_capacity(url.len() + 8);
    info.extend_from_slice(url.as_bytes());
    info.extend_from_slice(&epoch.to_be_bytes());
    let mut id = [0u8; 16];
    hk.expand(&info, &mut id)
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    GroupId(id)
}

/// The sequence number a new copy's log starts at, for a group whose last number read
/// is `last` and which starts the copy at `epoch`: the next block of 2^40 above `last`,
/// with the epoch's low 20 bits inside it. Clients key their history by sequence number,
/// so numbers must only grow from one copy to the next; members of one epoch in the same
/// block derive the same start, and a copy made at a later epoch starts higher.
pub fn first_seq_after(last: Seq, epoch: u64) -> Seq {
    (((last >> 40) + 1) << 40) | ((epoch & 0xF_FFFF) << 20)
}

/// Where a state says home is: the named home, or `(relay, id)` when it names none (a
/// group that never had fallbacks nor moved lives where it was made).
pub fn home_of(state: &super::GroupState, relay: &str, id: GroupId) -> RelayPlace {
    state.home.clone().unwrap_or(RelayPlace {
        url: relay.to_owned(),
        id,
        first_seq: 0,
    })
}

impl Client {
    /// Fills a group record's placement from the store (the group's first id and relay
    /// when it never moved).
    pub(crate) fn with_place(&self, mut g: GroupRecord) -> Result<GroupRecord> {
        g.place = self
            .get::<Placement>(NS_PLACES, &g.relay_group.0)?
            .unwrap_or_else(|| Placement::at(g.relay_group));
        Ok(g)
    }

    /// The group's home, as its state names it.
    pub(crate) fn home_place(&self, g: &GroupRecord) -> RelayPlace {
        home_of(&g.state, &g.relay, g.place.id)
    }

    /// Whether this client is on a copy other than the group's home (a fallback).
    pub(crate) fn away_from_home(&self, g: &GroupRecord) -> bool {
        let home = self.home_place(g);
        home.url != g.relay || home.id != g.place.id
    }

    /// Moves this client's place to `(url, id)`, not committed. Reading goes on where it
    /// stopped if this client read that copy before, else from `start` (the copy's first
    /// sequence number, when known). Records of the place left that lie above where
    /// reading goes on are filed just before it, so that the history stays in order.
    /// `mid_epoch`: the new copy's log of our epoch is not the one our view of the log
    /// hashed (a failover, a return home), so the view claims nothing more this epoch; a
    /// move's new home starts with the epoch, and needs no such care.
    pub(crate) fn switch_place(
        &self,
        g: &mut GroupRecord,
        url: &str,
        id: GroupId,
        start: Seq,
        mid_epoch: bool,
    ) -> Result<()> {
        let epoch = self.mls_group(g)?.epoch().as_u64();
        g.place.left.insert(g.relay.clone(), (g.place.id, g.cursor));
        let resume = match g.place.left.remove(url) {
            Some((was, seq)) if was == id => seq,
            _ => g.cursor.max(start),
        };
        if resume < g.cursor {
            self.refile_above(g, resume)?;
            g.read_upto = g.read_upto.min(resume);
        }
        g.cursor = resume;
        g.relay = url.to_owned();
        g.place.id = id;
        g.place.unreachable_since = 0;
        g.place.last_look = 0;
        if mid_epoch {
            self.view_hole(g, epoch)?;
        }
        self.save_group(g)
    }

    /// Refiles every record of the group at `seq` or above just before `seq`, in order
    /// (sub-indices from 10 000 on: above the notices and alerts filed there).
    fn refile_above(&self, g: &GroupRecord, seq: Seq) -> Result<()> {
        let ns = ns_msgs(&g.relay_group);
        let mut later: Vec<MessageRecord> = self
            .scan::<MessageRecord>(&ns)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.seq >= seq)
            .collect();
        later.sort_by_key(|r| (r.seq, r.sub));
        let at = seq.saturating_sub(1);
        for (i, mut r) in later.into_iter().enumerate() {
            let Ok(sub) = u16::try_from(10_000 + i) else {
                // Past 55 000 records the rest stay where they are: out of order, not lost.
                break;
            };
            self.db().delete(&ns, &msg_key(r.seq, r.sub))?;
            r.seq = at;
            r.sub = sub;
            self.add_record(g, r)?;
        }
        Ok(())
    }
}

impl Client {
    /// A commit (at `seq`) changed the group's home from what `old` named: this client
    /// goes to the new one, and remembers the copy left behind for deletion. Not
    /// committed: the commit's processing carries it. Returns whether it moved.
    pub(crate) fn follow_home(
        &mut self,
        g: &mut GroupRecord,
        old: &super::GroupState,
        members: &BTreeSet<IdentityKey>,
    ) -> Result<bool> {
        let Some(new) = g.state.home.clone() else {
            return Ok(false);
        };
        let before = home_of(old, &g.relay, g.place.id);
        if before.url == new.url && before.id == new.id {
            return Ok(false);
        }
        let kept = self
            .relay_retention(&g.relay_group)
            .unwrap_or(kith_protocol::limits::DEFAULT_RETENTION_SECS);
        let now = super::now_secs();
        g.place.moved_from = Some(MovedFrom {
            url: before.url,
            id: before.id,
            at: now,
            keep_until: now.saturating_add(kept),
            waiting: members
                .iter()
                .filter(|m| **m != self.identity())
                .copied()
                .collect(),
        });
        self.switch_place(g, &new.url, new.id, new.first_seq, false)?;
        g.place.announce = true;
        self.save_group(g)?;
        Ok(true)
    }

    /// The relay does not know the group at our place. If the place is the home the
    /// group's state names (a move's new home not set up yet, or a home relay that lost
    /// its data), any member of the current epoch sets it up there, as the epoch's keys
    /// allow; returns whether it did (or someone just had). Anywhere else, nothing.
    pub(crate) async fn set_up_home(
        &mut self,
        g: &GroupRecord,
        m: &openmls::group::MlsGroup,
    ) -> Result<bool> {
        let Some(home) = g.state.home.clone() else {
            return Ok(false);
        };
        if home.url != g.relay || home.id != g.place.id {
            return Ok(false);
        }
        self.set_up_copy(g, m, &home.url, home.id, home.first_seq.max(1))
            .await?;
        Ok(true)
    }

    /// Sets the group up at `url` under `id`, at our epoch, with the state's admin keys
    /// and retention, its log starting at `first_seq`. `Ok` also when the id exists there
    /// (another member was first; whether it is really ours, `Auth` tells).
    pub(crate) async fn set_up_copy(
        &mut self,
        g: &GroupRecord,
        m: &openmls::group::MlsGroup,
        url: &str,
        id: GroupId,
        first_seq: Seq,
    ) -> Result<()> {
        let conn = self.conn(url).await?;
        let access = self.access_key(m)?.public();
        let admins = g.state.relay_admin_keys();
        // The relay's own, if the group carries one (a member who is no admin has no
        // other); else the profile's.
        let secret = g
            .state
            .creation_secrets
            .get(url)
            .map(|s| s.0.clone())
            .unwrap_or_else(|| self.creation_secret.clone());
        match conn
            .create_group_at(
                id,
                m.epoch().as_u64(),
                first_seq,
                access,
                &secret,
                &admins,
                g.state.disappear_secs,
            )
            .await
        {
            Ok(_) | Err(RelayError::Relay(ErrorCode::GroupExists)) => Ok(()),
            Err(RelayError::Relay(ErrorCode::CreationForbidden)) => Err(ClientError::Usage(
                kith_i18n::t!("engine-place-creation-forbidden", relay = url),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A member was seen at the group's new home (a message or commit of theirs was
    /// read there): one fewer the old copy waits for. Not committed.
    pub(crate) fn seen_after_move(&self, g: &mut GroupRecord, who: &IdentityKey) -> Result<()> {
        if let Some(moved) = &mut g.place.moved_from
            && moved.waiting.remove(who)
        {
            self.save_group(g)?;
        }
        Ok(())
    }

    /// After a switch of place: posts again what the copy here lacks (after a failover or
    /// a return home); after a move, says our name at the new home (so that admins'
    /// clients see who followed), and, as an admin, deletes the copy left behind once every member was
    /// seen here or the old relay's retention has passed since the move. Best effort:
    /// what fails is tried again at the next sync.
    pub(crate) async fn after_move(&mut self, group: &GroupId) -> Result<()> {
        let mut g = self.load_group(group)?;
        if g.status != GroupStatus::Active {
            return Ok(());
        }
        if g.place.repost {
            g.place.repost = false;
            self.save_group(&g)?;
            self.db().commit()?;
            if let Err(e) = self.repost_own(group).await {
                let mut g = self.load_group(group)?;
                g.place.repost = true;
                self.save_group(&g)?;
                self.db().commit()?;
                return Err(e);
            }
            g = self.load_group(group)?;
        }
        if g.place.announce {
            g.place.announce = false;
            self.save_group(&g)?;
            self.db().commit()?;
            let name = self.name().to_owned();
            if let Err(e) = self
                .send_body(group, crate::payload::Body::Profile { name })
                .await
            {
                let mut g = self.load_group(group)?;
                g.place.announce = true;
                self.save_group(&g)?;
                self.db().commit()?;
                return Err(e);
            }
            g = self.load_group(group)?;
        }
        let Some(moved) = g.place.moved_from.clone() else {
            return Ok(());
        };
        let everyone = moved.waiting.is_empty();
        let expired = super::now_secs() >= moved.keep_until;
        if !everyone && !expired {
            return Ok(());
        }
        if self.relay_admin(&g) {
            let key = self.admin_key(&g.mls_group_id);
            let deleted: Result<()> = async {
                let conn = self.conn(&moved.url).await?;
                conn.admin_auth(moved.id, &key).await?;
                conn.delete_group(moved.id).await?;
                Ok(())
            }
            .await;
            match deleted {
                Ok(()) | Err(ClientError::Relay(RelayError::Relay(ErrorCode::NoSuchGroup))) => {
                    let text = if everyone {
                        kith_i18n::t!("engine-place-old-copy-deleted", relay = &moved.url)
                    } else {
                        kith_i18n::t!("engine-place-old-copy-expired", relay = &moved.url)
                    };
                    self.record_now(
                        group,
                        RecordKind::Notice(text),
                        &mut super::SyncReport::default(),
                    )?;
                }
                Err(e @ ClientError::Store(_)) => return Err(e),
                Err(e) if !expired => {
                    tracing::debug!(error = %e, "deleting the old copy failed; tried again later");
                    return Ok(());
                }
                // The old relay is gone, or the copy is no longer ours to delete (another
                // admin changed the keys there): its retention has emptied it anyway.
                Err(_) => {}
            }
        }
        let mut g = self.load_group(group)?;
        g.place.moved_from = None;
        self.save_group(&g)?;
        self.db().commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ids_differ_by_key_relay_and_epoch_and_are_stable() {
        let key = [7u8; 32];
        let a = copy_id(&key, "wss://spare.example/v1", 5);
        assert_eq!(a, copy_id(&key, "wss://spare.example/v1", 5));
        for other in [
            copy_id(&[8; 32], "wss://spare.example/v1", 5),
            copy_id(&key, "wss://other.example/v1", 5),
            copy_id(&key, "wss://spare.example/v1", 6),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn a_new_copy_starts_above_everything_read_and_later_epochs_start_higher() {
        let last = 41_000;
        let start = first_seq_after(last, 3);
        assert!(start > last);
        assert_eq!(
            start,
            first_seq_after(last + 500, 3),
            "one block, one start"
        );
        assert!(first_seq_after(last, 4) > start);
        // From a copy that started a block, the next starts the next block.
        assert!(first_seq_after(start + 10, 3) > start + 10);
        assert!(first_seq_after(start + 10, 3) >> 40 == 2);
        // Within what the relay takes (2^62), for any epoch, for 2^21 moves.
        assert!(first_seq_after((1 << 61) - 1, u64::MAX) <= 1 << 62);
    }
}
