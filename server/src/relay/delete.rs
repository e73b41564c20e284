//! Deleting a group's copy (`DeleteGroup`): an admin removes what this relay keeps of a
//! group that has moved to another relay (or failed over to one), once its members are
//! there.
//!
//! Everything of the group goes in one atomic store write ([`Store::delete_group`]):
//! messages, access keys, blobs, admin keys, the group's record, and every knock slot
//! of its box. Invite slots stay: the relay does not know which group an invite is for,
//! and they expire. The deletion is answered once durable, like every write; a sync
//! that fails drops it whole (the flusher's roll-back reloads what the relay keeps in
//! memory, the knock index and the invite byte count included).
//!
//! What was held in memory goes at once: the group's state is marked deleted (a request
//! that took it before finds no group), the cache, the knock index and the short
//! retention list forget it, and the gauges go down. Subscriptions go once the deletion
//! is durable (those made before it: a new group under the same id keeps its own), and
//! nothing more is pushed for it. Connections keep the authorizations they proved: the
//! requests that need one find no group and answer `unauthorized` (the connection
//! forgets it), and a new group under the same id starts at a repair count that voids
//! them ([`Relay::create_group_at`]).
//!
//! [`Store::delete_group`]: crate::store::Store::delete_group

use super::{Pending, Relay, internal, live};
use crate::store::SlotKey;
use kith_protocol::frame::AdminPublicKey;
use kith_protocol::{ErrorCode, GroupId};
use std::sync::Arc;

impl Relay {
    /// Deletes everything of `group` for a connection that proved the admin key `by`
    /// (`forbidden` unless it is still one of the group's); answers once durable.
    pub fn delete_group(
        &self,
        group: &GroupId,
        by: &AdminPublicKey,
    ) -> Result<Pending<()>, ErrorCode> {
        let _writing = self.writing()?;
        let state = self.state(group)?;
        let mut st = live(&state)?;
        if !self.has_admin_key(group, by)? {
            return Err(ErrorCode::Forbidden);
        }
        // The knock index's lock after the group's, as `knock` takes them: no knock of
        // this group gets in between the index read here and the deletion.
        let mut boxes = self.knocks.lock().expect("knock lock poisoned");
        let knocks: Vec<SlotKey> = boxes
            .get(group)
            .map(|keys| keys.keys().copied().collect())
            .unwrap_or_default();
        let freed = self
            .store
            .delete_group(group, &st.meta, &knocks)
            .map_err(internal)?;
        boxes.remove(group);
        drop(boxes);
        crate::crash::point("delete.recorded");
        st.deleted = true;
        let meta = st.meta.clone();
        // Queued under the group's lock, after every write of the group before it: their
        // pushes (if any still wait) see it deleted and are not sent.
        let pending = self.queue((), None, Some((*group, self.hub.stamp())));
        drop(st);
        {
            let mut groups = self.groups.lock().expect("groups lock poisoned");
            if groups.get(group).is_some_and(|s| Arc::ptr_eq(s, &state)) {
                groups.remove(group);
            }
        }
        self.short
            .lock()
            .expect("retention lock poisoned")
            .remove(group);
        self.release_invite_bytes(freed);
        let m = &self.metrics;
        m.groups.dec();
        m.messages_stored.dec_by(meta.messages as i64);
        m.bytes_stored.dec_by(meta.bytes as i64);
        m.blobs_stored.dec_by(meta.blobs as i64);
        m.blob_bytes_stored.dec_by(meta.blob_bytes as i64);
        Ok(pending)
    }
}
