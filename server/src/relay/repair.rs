//! The group's admin capability at the relay: admin keys, and the repairs only they may
//! ask for — voiding a commit that the members' clients cannot process, replacing an
//! epoch's access key that a commit named wrongly, and setting the group's retention.
//!
//! Why at the relay: the relay cannot judge a PrivateMessage commit, so a member with a
//! patched client can make garbage (or a commit with a wrong next-epoch key) the epoch's
//! commit, and every honest client is stuck behind it. Clients can refuse the effect of a
//! well-formed commit (hold and repair), but not undo a commit nobody can process or a
//! key nobody else holds. The admins' keys (Ed25519, one per admin and group, derived
//! from a secret of that admin: the relay cannot link them across groups) are what lets
//! the relay tell an admin's repair from a member's attack without learning who anyone is.
//!
//! A repair bumps the group's `resets`: every authorization proved before it is void,
//! so a connection authorized for a voided epoch (or under a replaced key) must prove
//! access again, and cannot. It also locks commits to admin connections for a while, so
//! that the attacker cannot slip the same commit in again before the admin's own.

use super::{Pending, Relay, internal, live, now_secs};
use crate::hub::PushItem;
use crate::store::shred::Expiry;
use kith_protocol::frame::{AccessPublicKey, AdminPublicKey};
use kith_protocol::limits::{MAX_ADMIN_KEYS, MAX_COMMIT_LOCK_SECS};
use kith_protocol::padding::pad;
use kith_protocol::{
    Epoch, ErrorCode, GroupId, Message, MessageKind, Push, RelayFrame, RepairRecord, Seq,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// What a connection holds for a group when it asks for an admin request.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The admin key the connection proved, if any.
    pub admin: Option<&'a AdminPublicKey>,
    /// Whether the connection is authorized for `(epoch, resets)`.
    pub authorized: &'a dyn Fn(Epoch, u64) -> bool,
}

impl Relay {
    /// The group's admin keys.
    pub fn admin_keys(&self, group: &GroupId) -> Result<Vec<AdminPublicKey>, ErrorCode> {
        self.exists(group)?;
        self.store.admin_keys(group).map_err(internal)
    }

    /// Whether `key` is one of the group's admin keys.
    pub(super) fn has_admin_key(
        &self,
        group: &GroupId,
        key: &AdminPublicKey,
    ) -> Result<bool, ErrorCode> {
        Ok(self
            .store
            .admin_keys(group)
            .map_err(internal)?
            .contains(key))
    }

    /// Whether `caller` may use the group's admin requests: it proved a key that is
    /// still one of the group's, or the group has no admin keys yet (made before they
    /// existed) and it holds the current epoch, as every member of such a group does.
    fn admits(
        &self,
        group: &GroupId,
        meta: &crate::store::GroupMeta,
        caller: Caller<'_>,
    ) -> Result<bool, ErrorCode> {
        let keys = self.store.admin_keys(group).map_err(internal)?;
        Ok(match caller.admin {
            Some(k) if keys.contains(k) => true,
            _ => keys.is_empty() && (caller.authorized)(meta.epoch, meta.resets),
        })
    }

    /// Replaces the group's admin keys.
    pub fn set_admins(
        &self,
        group: &GroupId,
        keys: Vec<AdminPublicKey>,
        caller: Caller<'_>,
    ) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        let mut keys = keys;
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() || keys.len() > MAX_ADMIN_KEYS {
            return Err(ErrorCode::BadRequest);
        }
        let state = self.state(group)?;
        let st = live(&state)?;
        if !self.admits(group, &st.meta, caller)? {
            return Err(ErrorCode::Forbidden);
        }
        self.store.set_admin_keys(group, &keys).map_err(internal)?;
        drop(st);
        Ok(self.durable((), None))
    }

    /// Sets the group's retention (0: the relay's default) for an admin; answers the
    /// effective value once durable.
    pub fn set_retention(
        &self,
        group: &GroupId,
        secs: u64,
        caller: Caller<'_>,
    ) -> Result<Pending<u64>, ErrorCode> {
        let _writing = self.writing()?;
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if !self.admits(group, &st.meta, caller)? {
            return Err(ErrorCode::Forbidden);
        }
        let mut meta = st.meta.clone();
        // Kept as asked: an operator who raises the limit later gives it effect.
        meta.retention_secs = secs;
        self.store.set_meta(group, &meta).map_err(internal)?;
        st.meta = meta;
        let effective = self.retention_of(&st.meta);
        let meta = st.meta.clone();
        drop(st);
        self.note_short_retention(group, &meta);
        Ok(self.durable(effective, None))
    }

    /// Voids the commit at `seq` and every message after it, puts the group back in
    /// that commit's epoch, and records it; answers the record's sequence number.
    pub fn void_from(
        &self,
        group: &GroupId,
        seq: Seq,
        lock_secs: u64,
        by: &AdminPublicKey,
    ) -> Result<Pending<Seq>, ErrorCode> {
        let _writing = self.writing()?;
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if !self.has_admin_key(group, by)? {
            return Err(ErrorCode::Forbidden);
        }
        let commit = match self.store.message(group, seq).map_err(internal)? {
            Some(m) if m.kind == MessageKind::Commit && seq < st.durable_next => m,
            _ => return Err(ErrorCode::BadRequest),
        };
        let mut meta = st.meta.clone();
        let end = meta.next_seq;
        self.store
            .scan_info(group, seq, &mut |r| {
                meta.messages -= 1;
                meta.bytes = meta.bytes.saturating_sub(r.len);
                ControlFlow::Continue(())
            })
            .map_err(internal)?;
        meta.epoch = commit.epoch;
        let record = self.repair_record(
            &mut meta,
            lock_secs,
            RepairRecord::Voided { from: seq, by: *by },
        );
        let retention = self.retention_of(&meta);
        self.store
            .void(
                group,
                &meta,
                &record,
                Expiry::after(record.stored_at, retention),
                seq..end,
            )
            .map_err(internal)?;
        st.meta = meta;
        Ok(self.publish_repair(group, record, &state))
    }

    /// Replaces the access key of the group's current epoch, and records it; answers the
    /// record's sequence number.
    pub fn reset_access_key(
        &self,
        group: &GroupId,
        epoch: Epoch,
        key: AccessPublicKey,
        lock_secs: u64,
        by: &AdminPublicKey,
    ) -> Result<Pending<Seq>, ErrorCode> {
        let _writing = self.writing()?;
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if !self.has_admin_key(group, by)? {
            return Err(ErrorCode::Forbidden);
        }
        if epoch != st.meta.epoch {
            return Err(ErrorCode::StaleEpoch);
        }
        let mut meta = st.meta.clone();
        let record = self.repair_record(&mut meta, lock_secs, RepairRecord::KeyReset { by: *by });
        let retention = self.retention_of(&meta);
        self.store
            .append(
                group,
                &meta,
                &record,
                Expiry::after(record.stored_at, retention),
                Some(&key),
                meta.first_seq..meta.first_seq,
            )
            .map_err(internal)?;
        st.meta = meta;
        Ok(self.publish_repair(group, record, &state))
    }

    /// The log record of a repair, numbered next; `meta` is updated for it (one more
    /// message, authorizations void, commits locked to admins).
    fn repair_record(
        &self,
        meta: &mut crate::store::GroupMeta,
        lock_secs: u64,
        what: RepairRecord,
    ) -> Message {
        let now = now_secs();
        let payload = pad(&what.encode()).expect("a repair record fits the smallest bucket");
        let record = Message {
            seq: meta.next_seq,
            epoch: meta.epoch,
            kind: MessageKind::Repair,
            stored_at: now,
            payload,
        };
        meta.next_seq += 1;
        meta.messages += 1;
        meta.bytes += record.payload.len() as u64;
        meta.resets += 1;
        meta.commit_lock_until = now.saturating_add(lock_secs.min(MAX_COMMIT_LOCK_SECS));
        record
    }

    /// Queues the repair record's answer and push (to every subscriber of the group,
    /// whatever it proved: the record holds no secret, and tells a connection whose
    /// authorizations it voided to prove again).
    fn publish_repair(
        &self,
        group: &GroupId,
        record: Message,
        state: &Arc<std::sync::Mutex<super::GroupState>>,
    ) -> Pending<Seq> {
        let seq = record.seq;
        let item = Arc::new(PushItem {
            group: *group,
            epoch: record.epoch,
            resets: None,
            seq,
            frame: crate::coalesce::binary_frame(
                &RelayFrame::Push(Push::Message {
                    group: *group,
                    message: record,
                })
                .encode(),
            ),
        });
        self.durable(seq, Some((item, state.clone())))
    }
}
