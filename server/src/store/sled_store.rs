//! [`Store`] on sled 0.34: one tree, records keyed by a one-byte kind and big-endian
//! numbers so that a group's log is one ordered range.
//!
//! | key | value |
//! |---|---|
//! | `G` group(16) | [`GroupMeta`] (postcard) |
//! | `K` group(16) epoch(8) | access public key (32 bytes) |
//! | `M` group(16) seq(8) | [`Message`] (postcard) |
//! | `S` sha256(slot id)(32) | [`Slot`] (postcard) |
//!
//! Durability: sled's `flush()` writes the log with `sync_file_range(2)`, which pushes the
//! pages to the device but neither flushes the device's write cache nor commits the file's
//! metadata (its grown length). [`SledStore::sync`] therefore also calls `fdatasync(2)`
//! (`File::sync_data`) on sled's log file, so that a flushed write survives power loss
//! too, on a device that honours flushes.

use super::shred::KeyRing;
use super::{GroupMeta, Result, Slot, SlotKey, Store, StoreError};
use kith_protocol::frame::AccessPublicKey;
use kith_protocol::{Epoch, GroupId, Message, Seq};
use std::fs::File;
use std::ops::{ControlFlow, Range};
use std::path::Path;
use std::time::Duration;

const GROUP: u8 = b'G';
const KEY: u8 = b'K';
const MESSAGE: u8 = b'M';
const SLOT: u8 = b'S';

/// The sled engine.
pub struct SledStore {
    db: sled::Db,
    log_file: Option<File>,
    ring: KeyRing,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}

fn group_key(g: &GroupId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = GROUP;
    k[1..].copy_from_slice(&g.0);
    k
}

fn numbered_key(kind: u8, g: &GroupId, n: u64) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = kind;
    k[1..17].copy_from_slice(&g.0);
    k[17..].copy_from_slice(&n.to_be_bytes());
    k
}

fn slot_key(key: &SlotKey) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = SLOT;
    k[1..].copy_from_slice(key);
    k
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encoding into a Vec is infallible")
}

fn decode<'a, T: serde::Deserialize<'a>>(b: &'a [u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|_| StoreError::Corrupt)
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, with hour-long shredding periods.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Duration::from_secs(3600))
    }

    /// Opens (or creates) the store in `dir`; payloads are sealed under keys of periods
    /// of `shred_period` (the granularity at which expired ciphertext becomes unreadable).
    pub fn open_with(dir: &Path, shred_period: Duration) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .open()?;
        let log_file = File::open(dir.join("db")).ok();
        let ring = KeyRing::open(dir, shred_period)?;
        Ok(Self { db, log_file, ring })
    }

    /// The stored form of a message: its payload sealed under its period's key.
    fn seal(&self, group: &GroupId, message: &Message) -> Result<Vec<u8>> {
        let sealed = Message {
            payload: self
                .ring
                .seal(message.stored_at, group, message.seq, &message.payload)?,
            ..message.clone()
        };
        Ok(encode(&sealed))
    }

    /// The message back, or `None` if its period's key was shredded.
    fn unseal(&self, group: &GroupId, bytes: &[u8]) -> Result<Option<Message>> {
        let mut m: Message = decode(bytes)?;
        match self.ring.unseal(m.stored_at, group, m.seq, &m.payload)? {
            Some(p) => {
                m.payload = p;
                Ok(Some(m))
            }
            None => Ok(None),
        }
    }

    fn remove_range(batch: &mut sled::Batch, kind: u8, g: &GroupId, range: Range<u64>) {
        for n in range {
            batch.remove(&numbered_key(kind, g, n)[..]);
        }
    }
}

impl Store for SledStore {
    fn groups(&self) -> Result<Vec<(GroupId, GroupMeta)>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix([GROUP]) {
            let (k, v) = kv?;
            let id: [u8; 16] = k[1..].try_into().map_err(|_| StoreError::Corrupt)?;
            out.push((GroupId(id), decode(&v)?));
        }
        Ok(out)
    }

    fn group(&self, group: &GroupId) -> Result<Option<GroupMeta>> {
        self.db
            .get(group_key(group))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn create_group(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        key: &AccessPublicKey,
    ) -> Result<bool> {
        // The relay picks ids at random and serializes creation per id, so a plain check
        // suffices; the CAS makes a collision harmless anyway.
        let created = self
            .db
            .compare_and_swap(group_key(group), None as Option<&[u8]>, Some(encode(meta)))?
            .is_ok();
        if created {
            self.db
                .insert(numbered_key(KEY, group, meta.epoch), &key[..])?;
        }
        Ok(created)
    }

    fn access_key(&self, group: &GroupId, epoch: Epoch) -> Result<Option<AccessPublicKey>> {
        match self.db.get(numbered_key(KEY, group, epoch))? {
            None => Ok(None),
            Some(v) => Ok(Some(
                v.as_ref().try_into().map_err(|_| StoreError::Corrupt)?,
            )),
        }
    }

    fn append(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        message: &Message,
        next_key: Option<&AccessPublicKey>,
        remove: Range<Seq>,
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        batch.insert(
            &numbered_key(MESSAGE, group, message.seq)[..],
            self.seal(group, message)?,
        );
        if let Some(key) = next_key {
            batch.insert(&numbered_key(KEY, group, meta.epoch)[..], &key[..]);
        }
        Self::remove_range(&mut batch, MESSAGE, group, remove);
        batch.insert(&group_key(group)[..], encode(meta));
        self.db.apply_batch(batch)?;
        Ok(())
    }

    fn message(&self, group: &GroupId, seq: Seq) -> Result<Option<Message>> {
        match self.db.get(numbered_key(MESSAGE, group, seq))? {
            Some(v) => self.unseal(group, &v),
            None => Ok(None),
        }
    }

    fn scan(
        &self,
        group: &GroupId,
        from: Seq,
        visit: &mut dyn FnMut(Message) -> ControlFlow<()>,
    ) -> Result<()> {
        let start = numbered_key(MESSAGE, group, from);
        let end = numbered_key(MESSAGE, group, u64::MAX);
        for kv in self.db.range(start..=end) {
            let (_, v) = kv?;
            // A message whose key was shredded is expired: retention deletes it next.
            let Some(m) = self.unseal(group, &v)? else {
                continue;
            };
            if visit(m).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn trim(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        remove: Range<Seq>,
        keys_before: Epoch,
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        Self::remove_range(&mut batch, MESSAGE, group, remove);
        let start = numbered_key(KEY, group, 0);
        let end = numbered_key(KEY, group, keys_before);
        for kv in self.db.range(start..end) {
            batch.remove(kv?.0);
        }
        batch.insert(&group_key(group)[..], encode(meta));
        self.db.apply_batch(batch)?;
        Ok(())
    }

    fn slot(&self, key: &SlotKey) -> Result<Option<Slot>> {
        self.db.get(slot_key(key))?.map(|v| decode(&v)).transpose()
    }

    fn swap_slot(&self, key: &SlotKey, old: Option<&Slot>, new: Option<&Slot>) -> Result<bool> {
        let old = old.map(encode);
        let new = new.map(encode);
        Ok(self.db.compare_and_swap(slot_key(key), old, new)?.is_ok())
    }

    fn slot_expiries(&self) -> Result<Vec<(SlotKey, u64)>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix([SLOT]) {
            let (k, v) = kv?;
            let key: SlotKey = k[1..].try_into().map_err(|_| StoreError::Corrupt)?;
            let slot: Slot = decode(&v)?;
            out.push((key, slot.expires_at));
        }
        Ok(out)
    }

    fn shred_before(&self, cutoff: u64) -> Result<()> {
        self.ring.forget_before(cutoff).map(|_| ())
    }

    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        if let Some(f) = &self.log_file {
            f.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::MessageKind;

    fn msg(seq: Seq, epoch: Epoch) -> Message {
        Message {
            seq,
            epoch,
            kind: MessageKind::Application,
            stored_at: 1,
            payload: vec![seq as u8; 256],
        }
    }

    #[test]
    fn append_scan_trim_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let g = GroupId([3; 16]);
        {
            let s = SledStore::open(dir.path()).unwrap();
            let mut meta = GroupMeta::new();
            assert!(s.create_group(&g, &meta, &[1; 32]).unwrap());
            assert!(!s.create_group(&g, &meta, &[1; 32]).unwrap());
            for seq in 1..=5 {
                meta.next_seq = seq + 1;
                meta.messages += 1;
                let next = (seq == 3).then_some(&[2u8; 32]);
                if next.is_some() {
                    meta.epoch = 1;
                }
                s.append(&g, &meta, &msg(seq, meta.epoch), next, 0..0)
                    .unwrap();
            }
            s.sync().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        let meta = s.group(&g).unwrap().unwrap();
        assert_eq!(meta.next_seq, 6);
        assert_eq!(s.access_key(&g, 1).unwrap(), Some([2; 32]));
        let mut seen = vec![];
        s.scan(&g, 2, &mut |m| {
            seen.push(m.seq);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, vec![2, 3, 4, 5]);

        let mut trimmed = meta.clone();
        trimmed.first_seq = 4;
        s.trim(&g, &trimmed, 1..4, 1).unwrap();
        assert_eq!(s.message(&g, 3).unwrap(), None);
        assert!(s.message(&g, 4).unwrap().is_some());
        assert_eq!(s.access_key(&g, 0).unwrap(), None);
        assert_eq!(s.access_key(&g, 1).unwrap(), Some([2; 32]));
        assert_eq!(s.groups().unwrap().len(), 1);
    }

    #[test]
    fn slot_swap_is_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let key = [9u8; 32];
        let open = Slot {
            expires_at: 10,
            manage_hash: [0; 32],
            invitation: vec![1; 256],
            answer: None,
            welcome: None,
        };
        assert!(s.swap_slot(&key, None, Some(&open)).unwrap());
        assert!(!s.swap_slot(&key, None, Some(&open)).unwrap());
        let answered = Slot {
            answer: Some(vec![2; 256]),
            ..open.clone()
        };
        assert!(s.swap_slot(&key, Some(&open), Some(&answered)).unwrap());
        assert!(!s.swap_slot(&key, Some(&open), Some(&answered)).unwrap());
        assert_eq!(s.slot(&key).unwrap(), Some(answered.clone()));
        assert_eq!(s.slot_expiries().unwrap(), vec![(key, 10)]);
        assert!(s.swap_slot(&key, Some(&answered), None).unwrap());
        assert_eq!(s.slot(&key).unwrap(), None);
    }
}
