//! The relay's storage, behind one narrow trait ([`Store`]) so that the engine can change
//! without touching the relay's logic. [`sled_store::SledStore`] is the engine in use.
//!
//! The trait is deliberately dumb: it stores and returns records and applies each call
//! atomically. Ordering, epochs, quotas and access checks live in [`crate::relay`], which
//! serializes writers per group. Durability is explicit: a write is durable only after a
//! later [`Store::sync`] returns.

pub mod index;
pub mod packs;
pub mod shred;
pub mod sled_store;
pub mod values;
pub mod wal;

use kith_protocol::frame::{AccessPublicKey, AdminPublicKey};
use kith_protocol::{BlobId, Epoch, GroupId, Message, Seq};
use serde::{Deserialize, Serialize};
use shred::Expiry;
use std::ops::{ControlFlow, Range};

/// A storage failure. Callers answer it with `ErrorCode::Internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (I/O, corruption).
    #[error("storage engine: {0}")]
    Engine(String),
    /// A stored record did not decode.
    #[error("corrupt record")]
    Corrupt,
    /// A sync could not make the writes since the last sync durable (the disk is full,
    /// or a write failed), and none of them is in the log. The caller drops them
    /// ([`Store::discard_unsynced`]) and refuses them; the store goes on.
    #[error("writes not made durable: {0}")]
    NotDurable(String),
    /// The store takes no new writes for now: its disk is nearly full, or too much
    /// waits to be moved from the write-ahead log into the main store (checkpoints fail
    /// or lag). Nothing was written; it passes when space returns or they catch up.
    #[error("storage refuses writes for now: {0}")]
    Refused(String),
    /// Whether the last writes reached the disk is unknown, and no later sync can be
    /// trusted: the process must stop, and the next open's replay decides.
    #[error("storage failed: {0}")]
    Failed(String),
}

/// The result of store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What the relay keeps about a group, besides its log and access keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMeta {
    /// The current epoch: posts are accepted only for it.
    pub epoch: Epoch,
    /// The sequence number of the next stored message.
    pub next_seq: Seq,
    /// The sequence number of the oldest stored message (== `next_seq` when empty).
    pub first_seq: Seq,
    /// How many messages are stored.
    pub messages: u64,
    /// How many payload bytes are stored.
    pub bytes: u64,
    /// How long the group asked the relay to keep its messages and blobs, in seconds
    /// (0: the relay's default). Never more than the relay's limit.
    pub retention_secs: u64,
    /// How many blobs are stored.
    pub blobs: u64,
    /// How many blob bytes are stored.
    pub blob_bytes: u64,
    /// How many times an admin voided commits or reset an access key: every
    /// authorization proved before the last one is void (connections prove again).
    pub resets: u64,
    /// Until when (Unix seconds) commits are accepted only from admin connections.
    pub commit_lock_until: u64,
}

impl GroupMeta {
    /// A new, empty group at epoch 0.
    pub fn new() -> Self {
        Self {
            epoch: 0,
            next_seq: 1,
            first_seq: 1,
            messages: 0,
            bytes: 0,
            retention_secs: 0,
            blobs: 0,
            blob_bytes: 0,
            resets: 0,
            commit_lock_until: 0,
        }
    }

    /// Decodes a stored record, including those written before retention and blobs
    /// existed (five fields) and before admin repairs (eight).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct V1 {
            epoch: Epoch,
            next_seq: Seq,
            first_seq: Seq,
            messages: u64,
            bytes: u64,
            retention_secs: u64,
            blobs: u64,
            blob_bytes: u64,
        }
        #[derive(Deserialize)]
        struct V0 {
            epoch: Epoch,
            next_seq: Seq,
            first_seq: Seq,
            messages: u64,
            bytes: u64,
        }
        if let Ok((meta, [])) = postcard::take_from_bytes::<GroupMeta>(bytes) {
            return Ok(meta);
        }
        if let Ok((v1, [])) = postcard::take_from_bytes::<V1>(bytes) {
            return Ok(Self {
                epoch: v1.epoch,
                next_seq: v1.next_seq,
                first_seq: v1.first_seq,
                messages: v1.messages,
                bytes: v1.bytes,
                retention_secs: v1.retention_secs,
                blobs: v1.blobs,
                blob_bytes: v1.blob_bytes,
                ..Self::new()
            });
        }
        match postcard::take_from_bytes::<V0>(bytes) {
            Ok((v0, [])) => Ok(Self {
                epoch: v0.epoch,
                next_seq: v0.next_seq,
                first_seq: v0.first_seq,
                messages: v0.messages,
                bytes: v0.bytes,
                ..Self::new()
            }),
            _ => Err(StoreError::Corrupt),
        }
    }
}

/// What retention and quotas need to know of a stored message, read without opening it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// Its sequence number.
    pub seq: Seq,
    /// The epoch it was posted in.
    pub epoch: Epoch,
    /// When it was stored, Unix seconds.
    pub stored_at: u64,
    /// When it expires (fixed when stored); `None` for records stored before expiries
    /// were recorded, which expire by age alone.
    pub expires_at: Option<u64>,
    /// Its payload's length.
    pub len: u64,
}

/// A stored blob's bookkeeping (no content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its id (SHA-256 of the content).
    pub id: BlobId,
    /// When it was stored, Unix seconds.
    pub stored_at: u64,
    /// When it expires (fixed when stored).
    pub expires_at: u64,
    /// Its length.
    pub len: u64,
}

impl Default for GroupMeta {
    fn default() -> Self {
        Self::new()
    }
}

/// An invite slot as stored: keyed by a hash of the slot id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Unix seconds after which the slot is expired.
    pub expires_at: u64,
    /// Hash of the admins' management token.
    pub manage_hash: [u8; 32],
    /// The sealed invitation.
    #[serde(with = "serde_bytes")]
    pub invitation: Vec<u8>,
    /// The sealed join request, once answered.
    #[serde(with = "serde_bytes")]
    pub answer: Option<Vec<u8>>,
    /// The sealed welcome, once an admin put it.
    #[serde(with = "serde_bytes")]
    pub welcome: Option<Vec<u8>>,
}

/// What a knock's slot holds in place of an invitation: this mark, then the group's id.
/// Invitations are padded to a bucket (256 bytes at least), so the two never meet, and
/// the stored format of slots stays what it was.
const KNOCK_MARK: &[u8] = b"kith knock\0";

impl Slot {
    /// The `invitation` of a knock's slot for `group`.
    pub fn knock_mark(group: &GroupId) -> Vec<u8> {
        [KNOCK_MARK, &group.0].concat()
    }

    /// The group whose knock box this slot is in, if it is a knock.
    pub fn knock_of(&self) -> Option<GroupId> {
        let id = self.invitation.strip_prefix(KNOCK_MARK)?;
        Some(GroupId(id.try_into().ok()?))
    }

    /// The bytes it holds that a client chose (what the relay-wide invite cap counts).
    pub fn stored_bytes(&self) -> u64 {
        (self.invitation.len()
            + self.answer.as_ref().map_or(0, Vec::len)
            + self.welcome.as_ref().map_or(0, Vec::len)) as u64
    }
}

/// The key a slot is stored under: a hash of its id, so that the data dir does not hold
/// the id an invitee presents.
pub type SlotKey = [u8; 32];

/// Everything the relay stores. Implementations must make each call atomic, and make
/// every write before a `sync` call durable when `sync` returns.
pub trait Store: Send + Sync + 'static {
    /// All groups and their metadata (startup statistics, retention).
    fn groups(&self) -> Result<Vec<(GroupId, GroupMeta)>>;
    /// One group's metadata.
    fn group(&self, group: &GroupId) -> Result<Option<GroupMeta>>;
    /// Creates a group with its metadata, the access key of its epoch (`meta.epoch`) and
    /// its admin keys (none, as for a group made before admin keys: the first member's
    /// `SetAdmins` gives them). False if it exists.
    fn create_group(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        key: &AccessPublicKey,
        admins: &[AdminPublicKey],
    ) -> Result<bool>;
    /// Atomically deletes every record of `group`: its messages (`meta.first_seq` to
    /// `meta.next_seq`, `meta` being its metadata as stored), access keys, blobs and
    /// their index, admin keys and metadata, and of the slots `knocks` those that are
    /// still knocks of `group` ([`Slot::knock_of`]; checked in the same atomic step, as a
    /// compare-and-swap would). Returns the bytes those slots held
    /// ([`Slot::stored_bytes`]). Afterwards the id is free for [`Store::create_group`].
    /// The caller holds the group's lock, so nothing else writes the group meanwhile.
    fn delete_group(&self, group: &GroupId, meta: &GroupMeta, knocks: &[SlotKey]) -> Result<u64>;
    /// The group's admin keys (none for a group made before admin keys existed).
    fn admin_keys(&self, group: &GroupId) -> Result<Vec<AdminPublicKey>>;
    /// Replaces the group's admin keys.
    fn set_admin_keys(&self, group: &GroupId, keys: &[AdminPublicKey]) -> Result<()>;
    /// Atomically: deletes the messages in `remove` and the access keys of every epoch
    /// after `meta.epoch`, stores `record` to expire at `expiry`, and writes `meta` (an
    /// admin's void).
    fn void(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        record: &Message,
        expiry: Expiry,
        remove: Range<Seq>,
    ) -> Result<()>;
    /// The access public key of one epoch, if kept.
    fn access_key(&self, group: &GroupId, epoch: Epoch) -> Result<Option<AccessPublicKey>>;
    /// Atomically: stores `message` to expire at `expiry`, deletes the messages in
    /// `remove`, stores `next_key` as the key of `meta.epoch` if given, and writes `meta`.
    fn append(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        message: &Message,
        expiry: Expiry,
        next_key: Option<&AccessPublicKey>,
        remove: Range<Seq>,
    ) -> Result<()>;
    /// One stored message.
    fn message(&self, group: &GroupId, seq: Seq) -> Result<Option<Message>>;
    /// Visits stored messages from `from` on, in order, until `visit` breaks. Messages
    /// whose shredding key is gone are skipped.
    fn scan(
        &self,
        group: &GroupId,
        from: Seq,
        visit: &mut dyn FnMut(Message) -> ControlFlow<()>,
    ) -> Result<()>;
    /// Visits the bookkeeping of stored messages from `from` on, in order, until `visit`
    /// breaks, without opening them (shredded ones included).
    fn scan_info(
        &self,
        group: &GroupId,
        from: Seq,
        visit: &mut dyn FnMut(RecordInfo) -> ControlFlow<()>,
    ) -> Result<()>;
    /// Writes a group's metadata.
    fn set_meta(&self, group: &GroupId, meta: &GroupMeta) -> Result<()>;
    /// Atomically: stores a blob under `id`, stored at `stored_at`, to expire at
    /// `expiry`, and writes `meta`.
    fn put_blob(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        id: &BlobId,
        data: &[u8],
        stored_at: u64,
        expiry: Expiry,
    ) -> Result<()>;
    /// A blob's bookkeeping, if stored (shredded or not).
    fn blob_info(&self, group: &GroupId, id: &BlobId) -> Result<Option<BlobInfo>>;
    /// A blob's content; `None` if absent or shredded.
    fn blob(&self, group: &GroupId, id: &BlobId) -> Result<Option<Vec<u8>>>;
    /// The bookkeeping of every blob of a group, oldest first.
    fn blob_infos(&self, group: &GroupId) -> Result<Vec<BlobInfo>>;
    /// Atomically: deletes these blobs and writes `meta`.
    fn remove_blobs(&self, group: &GroupId, meta: &GroupMeta, blobs: &[BlobInfo]) -> Result<()>;
    /// Atomically: deletes the messages in `remove` and the access keys of epochs before
    /// `keys_before`, and writes `meta`.
    fn trim(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        remove: Range<Seq>,
        keys_before: Epoch,
    ) -> Result<()>;
    /// One slot.
    fn slot(&self, key: &SlotKey) -> Result<Option<Slot>>;
    /// Compare-and-swap of a slot: succeeds (true) only if the stored slot equals `old`.
    /// `None` means absent, on either side.
    fn swap_slot(&self, key: &SlotKey, old: Option<&Slot>, new: Option<&Slot>) -> Result<bool>;
    /// Every slot key with its expiry (retention).
    fn slot_expiries(&self) -> Result<Vec<(SlotKey, u64)>>;
    /// Makes stored payloads and blobs that expired by `now` (their own expiry, or older
    /// than `max_retention`, the relay's limit) unreadable for good, even where their
    /// bytes linger on disk (see [`shred`]). Returns how many keys it destroyed.
    fn shred(&self, now: u64, max_retention: u64) -> Result<usize>;
    /// When [`Store::shred`] will next have something to do (Unix seconds), if ever.
    fn next_shred(&self, max_retention: u64) -> Result<Option<u64>>;
    /// Makes every earlier write durable. On [`StoreError::NotDurable`] the writes stay
    /// visible until [`Store::discard_unsynced`]; on [`StoreError::Failed`] nothing more
    /// may be acknowledged.
    fn sync(&self) -> Result<()>;
    /// Drops every write not yet made durable by a sync (after a failed sync, with no
    /// write in progress).
    fn discard_unsynced(&self) {}
    /// A mark taken after a write: the write is durable once [`Store::synced_mark`]
    /// reaches it. (A store without marks: never, so a failed sync refuses all.)
    fn write_mark(&self) -> u64 {
        u64::MAX
    }
    /// How far the syncs that succeeded reach, in [`Store::write_mark`]s.
    fn synced_mark(&self) -> u64 {
        0
    }
    /// Whether so much waits for a checkpoint that the flusher should wait for one
    /// before its next sync (backpressure: latency for writers, not errors).
    fn backlogged(&self) -> bool {
        false
    }
    /// Whether a new write may start now; [`StoreError::Refused`] when the store cannot
    /// take more for now (a nearly full disk, a checkpoint backlog).
    fn admit(&self) -> Result<()> {
        Ok(())
    }
    /// Whether enough synced writes wait to be moved into the main store that
    /// [`Store::checkpoint`] should run (an engine with a write-ahead log).
    fn wants_checkpoint(&self) -> bool {
        false
    }
    /// Moves synced writes from the write-ahead log into the main store. Blocking; runs
    /// beside syncs, not between a post and its answer.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }
}
