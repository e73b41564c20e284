//! The knock box: where a member whose copy of a group no longer gets in (away longer
//! than the group keeps its epochs' keys) asks to be let back in.
//!
//! A knock is a slot like an invite's, made by the knocker instead of an admin: it holds
//! the sealed request as its answer from the start, and the mark of its group in place of
//! an invitation ([`Slot::knock_mark`]). Members' clients list a group's box
//! (`GetKnocks`) and answer a knock with `PutWelcome` (its token is inside the sealed
//! request, which only the group's admins can open); the knocker reads the welcome with
//! `GetWelcome`, as a joiner does.
//!
//! Why anyone may knock: the knocker cannot prove anything the relay could check — the
//! relay forgot the keys of its epoch, which is why it knocks. So the box is small
//! ([`MAX_KNOCKS`] unanswered knocks per group), a knock expires ([`KNOCK_TTL_SECS`]),
//! knocks count against the per-connection slot limit and the relay-wide invite cap like
//! invites, and members' clients delete knocks nobody can open. Someone who keeps the box
//! full delays a member's way back by this route; the way by a new invite code stays.
//!
//! The index of boxes lives in memory: rebuilt from the slots at start and after a
//! failed sync ([`Relay::recount_slots`]). It names every knock slot of a group that is
//! still stored, answered and expired ones included, because deleting a group
//! (`DeleteGroup`) deletes all of them; slots leave it when they are removed (pruned as
//! the box is read, and by the sweep and `DeleteInvite`).

use super::{Pending, Relay, internal, live, now_secs, slot_key};
use crate::store::{Slot, SlotKey};
use kith_protocol::limits::{KNOCK_TTL_SECS, MAX_KNOCKS};
use kith_protocol::padding::is_bucket;
use kith_protocol::{Epoch, ErrorCode, GroupId, KnockEntry, SlotId};
use std::collections::{BTreeMap, HashMap};

/// Every group's knock box: the keys of its knocks' slots, each with whether it may
/// still wait for an answer (false once it was seen answered or expired: not read again).
pub(super) type Boxes = HashMap<GroupId, BTreeMap<SlotKey, bool>>;

impl Relay {
    /// Leaves a knock in `group`'s box, in the new slot `slot`; answers with its expiry.
    pub fn knock(
        &self,
        group: &GroupId,
        slot: &SlotId,
        manage_hash: [u8; 32],
        knock: Vec<u8>,
    ) -> Result<Pending<u64>, ErrorCode> {
        let _writing = self.writing()?;
        if !is_bucket(knock.len()) {
            return Err(ErrorCode::BadPadding);
        }
        // The group's lock, so that it is not deleted before the knock is in the index
        // (its deletion removes the knocks the index names); the index's lock, so that
        // two knocks cannot both take the box's last place.
        let state = self.state(group)?;
        let _group = live(&state)?;
        let mut boxes = self.knocks.lock().expect("knock lock poisoned");
        if self.waiting_knocks(group, &mut boxes)?.len() >= MAX_KNOCKS {
            return Err(ErrorCode::KnocksFull);
        }
        let expires_at = now_secs().saturating_add(KNOCK_TTL_SECS);
        let new = Slot {
            expires_at,
            manage_hash,
            invitation: Slot::knock_mark(group),
            answer: Some(knock),
            welcome: None,
        };
        let key = slot_key(slot);
        self.create_slot(&key, &new)?;
        boxes.entry(*group).or_default().insert(key, true);
        Ok(self.durable(expires_at, None))
    }

    /// The knocks of `group` still waiting for an answer, for a connection `authorized`
    /// for its current epoch; oldest first.
    pub fn get_knocks(
        &self,
        group: &GroupId,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<Vec<KnockEntry>, ErrorCode> {
        self.check_current(group, authorized)?;
        let mut boxes = self.knocks.lock().expect("knock lock poisoned");
        self.waiting_knocks(group, &mut boxes)
    }

    /// Removes the knock `key` from `group`'s box, for a connection `authorized` for its
    /// current epoch. A key that names no knock of this group is `no_such_invite`: a
    /// member of one group cannot remove another group's slots.
    pub fn delete_knock(
        &self,
        group: &GroupId,
        key: &SlotKey,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        self.check_current(group, authorized)?;
        let mut boxes = self.knocks.lock().expect("knock lock poisoned");
        loop {
            let slot = self
                .store
                .slot(key)
                .map_err(internal)?
                .filter(|s| s.knock_of() == Some(*group))
                .ok_or(ErrorCode::NoSuchInvite)?;
            if self.swap_slot(key, Some(&slot), None)? {
                break;
            }
        }
        if let Some(keys) = boxes.get_mut(group) {
            keys.remove(key);
        }
        Ok(self.durable((), None))
    }

    fn check_current(
        &self,
        group: &GroupId,
        authorized: &dyn Fn(Epoch, u64) -> bool,
    ) -> Result<(), ErrorCode> {
        let state = self.state(group)?;
        let st = live(&state)?;
        if authorized(st.meta.epoch, st.meta.resets) {
            Ok(())
        } else {
            Err(ErrorCode::StaleEpoch)
        }
    }

    /// The knocks of `group` that wait for an answer, oldest first. The index forgets
    /// the slots that are gone, and marks those that no longer wait.
    fn waiting_knocks(
        &self,
        group: &GroupId,
        boxes: &mut Boxes,
    ) -> Result<Vec<KnockEntry>, ErrorCode> {
        let Some(keys) = boxes.get_mut(group) else {
            return Ok(Vec::new());
        };
        let now = now_secs();
        let mut waiting = Vec::new();
        let mut gone = Vec::new();
        for (key, may_wait) in keys.iter_mut().filter(|(_, w)| **w) {
            match self.store.slot(key).map_err(internal)? {
                Some(slot) if slot.knock_of() != Some(*group) => gone.push(*key),
                None => gone.push(*key),
                Some(Slot {
                    expires_at,
                    answer: Some(knock),
                    welcome: None,
                    ..
                }) if now < expires_at => waiting.push(KnockEntry {
                    key: *key,
                    knock,
                    expires_at,
                }),
                Some(_) => *may_wait = false,
            }
        }
        for key in gone {
            keys.remove(&key);
        }
        if keys.is_empty() {
            boxes.remove(group);
        }
        waiting.sort_by_key(|k| (k.expires_at, k.key));
        Ok(waiting)
    }

    /// Takes a removed slot out of the index, if it was a knock (of the group `knock_of`).
    pub(super) fn forget_knock(&self, knock_of: Option<GroupId>, key: &SlotKey) {
        let Some(group) = knock_of else { return };
        let mut boxes = self.knocks.lock().expect("knock lock poisoned");
        if let Some(keys) = boxes.get_mut(&group) {
            keys.remove(key);
            if keys.is_empty() {
                boxes.remove(&group);
            }
        }
    }
}
